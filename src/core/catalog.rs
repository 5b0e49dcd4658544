//! The catalogue of every lock file Cargo takes, in Cargo's own words.
//!
//! Classification is by path alone (file name plus, where the name is generic, its place), so
//! the same table serves discovery on every platform. The facts come from Cargo's source and are
//! written up in `docs/cargo-locks.md`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::LockMode;

/// What a lock file guards, named after the phrase Cargo prints when it blocks on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockKind {
    /// `$CARGO_HOME/.package-cache`: resolution, downloads, index and git fetches.
    PackageCache,
    /// `$CARGO_HOME/.package-cache-mutate`: shared by every compile, exclusive for `cargo clean gc`.
    /// Cargo names it by the request: "shared package cache" or "package cache mutation" (see
    /// [`LockKind::waiting_words`]).
    PackageCacheMutate,
    /// `<build-dir>/<profile>/.cargo-build-lock` (cargo 1.96+).
    BuildDirectory,
    /// `<target>/<profile>/.cargo-lock`: the profile directory lock of every cargo since 1.9.
    ProfileDirectory,
    /// `<target>/<profile>/.cargo-artifact-lock` (cargo 1.96+).
    ArtifactDirectory,
    /// `<build-dir>/<profile>/build/<pkg>/<hash>/.lock` (nightly `-Zfine-grain-locking`).
    UnitBuild,
    /// A project's `Cargo.lock` (the only lock file Cargo writes into).
    CargoLockFile,
    /// `.crates.toml` / `.crates2.json` in the install root.
    CrateMetadata,
    /// `$CARGO_HOME/credentials.toml`.
    Credentials,
    /// `<build-dir>/.future-incompat-report.json`.
    FutureIncompatReport,
    /// `$CARGO_HOME/registry/index/<registry>/.cargo-index-lock` (cargo before 1.36).
    LegacyRegistryIndex,
    /// `$CARGO_HOME/git/db/.cargo-lock-<ident>` (cargo before 1.36).
    LegacyGitDatabase,
    /// `$CARGO_HOME/git/checkouts/<ident>/.cargo-lock-<ident>-<ref>` (cargo before 1.36).
    LegacyGitCheckout,
    /// `$CARGO_HOME/git/.cargo-lock-git` (cargo 1.12 to 1.35).
    LegacyGitCheckouts,
}

impl LockKind {
    /// Every kind, in the order the catalogue documents them.
    pub const ALL: [LockKind; 14] = [
        LockKind::PackageCache,
        LockKind::PackageCacheMutate,
        LockKind::BuildDirectory,
        LockKind::ProfileDirectory,
        LockKind::ArtifactDirectory,
        LockKind::UnitBuild,
        LockKind::CargoLockFile,
        LockKind::CrateMetadata,
        LockKind::Credentials,
        LockKind::FutureIncompatReport,
        LockKind::LegacyRegistryIndex,
        LockKind::LegacyGitDatabase,
        LockKind::LegacyGitCheckout,
        LockKind::LegacyGitCheckouts,
    ];

    /// The words Cargo prints after `Blocking waiting for file lock on`, for the request most
    /// cargos make: for `.package-cache-mutate` a shared one (every compile), "shared package
    /// cache"; a waiter's own words, which depend on its mode there, are
    /// [`LockKind::waiting_words`].
    pub fn cargo_words(self) -> &'static str {
        match self {
            LockKind::PackageCache => "package cache",
            LockKind::PackageCacheMutate => "shared package cache",
            LockKind::BuildDirectory => "build directory",
            // cargo ≤ 1.95 prints "artifact directory" for a build and "build directory" for
            // `check`; the build is the common case.
            LockKind::ProfileDirectory => "artifact directory",
            LockKind::ArtifactDirectory => "artifact directory",
            LockKind::UnitBuild => "a unit's build directory",
            LockKind::CargoLockFile => "Cargo.lock file",
            LockKind::CrateMetadata => "crate metadata",
            LockKind::Credentials => "credentials' config file",
            LockKind::FutureIncompatReport => "future-incompat report",
            LockKind::LegacyRegistryIndex => "the registry index",
            LockKind::LegacyGitDatabase => "the git database",
            LockKind::LegacyGitCheckout => "the git checkout",
            LockKind::LegacyGitCheckouts => "the git checkouts",
        }
    }

    /// The words a cargo running `cmd` prints while it waits for this lock, when its mode is not
    /// known: cargo ≤ 1.95 says "build directory" for a `.cargo-lock` when it only checks
    /// (`check`, `clippy`).
    pub fn cargo_words_for(self, cmd: &[String]) -> &'static str {
        match (self, cargo_subcommand(cmd)) {
            (LockKind::ProfileDirectory, Some("check" | "clippy")) => "build directory",
            _ => self.cargo_words(),
        }
    }

    /// The words a cargo running `cmd` prints while it waits for this lock in `mode` (what it
    /// asked the kernel for): [`LockKind::cargo_words_for`], except where cargo's words depend
    /// on the request.
    pub fn waiting_words(self, mode: LockMode, cmd: &[String]) -> &'static str {
        self.words_in_mode(mode)
            .unwrap_or_else(|| self.cargo_words_for(cmd))
    }

    /// The words cargo prints for a request in `mode` where they depend on it, else `None`.
    ///
    /// Only `.package-cache-mutate` has two names. Cargo's `src/cargo/util/cache_lock.rs`
    /// passes each request's description to the `Blocking` message: a shared request
    /// (`CacheLockMode::Shared`, every compile) is `SHARED_DESCR`, "shared package cache"; an
    /// exclusive one (`CacheLockMode::MutateExclusive`, `cargo clean gc`) is
    /// `MUTATE_EXCLUSIVE_DESCR`, "package cache mutation". `.package-cache` is only ever locked
    /// exclusively and always as `DOWNLOAD_EXCLUSIVE_DESCR`, "package cache", also when a
    /// `MutateExclusive` cargo takes it after the mutate lock. (On a read-only Cargo home an
    /// exclusive mutate request falls back to a shared flock and still says "package cache
    /// mutation": that one reads here as shared.)
    pub fn words_in_mode(self, mode: LockMode) -> Option<&'static str> {
        match (self, mode) {
            (LockKind::PackageCacheMutate, LockMode::Exclusive) => Some("package cache mutation"),
            _ => None,
        }
    }

    /// One sentence saying what holding this lock means, for a user deciding whether to wait.
    pub fn explanation(self) -> &'static str {
        match self {
            LockKind::PackageCache => {
                "Cargo's download/resolution lock: held while a cargo resolves dependencies, updates the index or downloads crates"
            }
            LockKind::PackageCacheMutate => {
                "held shared by every compile so `cargo clean gc` cannot delete sources in use; exclusive only for gc"
            }
            LockKind::BuildDirectory => "one cargo at a time compiles into this build directory",
            LockKind::ProfileDirectory => {
                "the profile directory lock (cargo up to 1.95 says `artifact directory`, or `build directory` for check; shared from 1.96)"
            }
            LockKind::ArtifactDirectory => {
                "one cargo at a time writes final artifacts into this target directory"
            }
            LockKind::UnitBuild => "nightly fine-grained lock on one compilation unit",
            LockKind::CargoLockFile => "a cargo is reading or rewriting this project's Cargo.lock",
            LockKind::CrateMetadata => "`cargo install` is updating its list of installed crates",
            LockKind::Credentials => "a cargo is reading or writing registry credentials",
            LockKind::FutureIncompatReport => {
                "a cargo is writing the future-incompatibility report"
            }
            LockKind::LegacyRegistryIndex => {
                "an old cargo (before 1.36) is updating the registry index"
            }
            LockKind::LegacyGitDatabase => {
                "an old cargo (before 1.36) is fetching a git dependency"
            }
            LockKind::LegacyGitCheckout => {
                "an old cargo (before 1.36) is checking out a git dependency"
            }
            LockKind::LegacyGitCheckouts => {
                "an old cargo (1.12 to 1.35) is checking out git dependencies"
            }
        }
    }

    /// Whether this lock guards a target or build directory (builds sharing that directory wait
    /// for each other on it), as opposed to a Cargo home, an install root or a project file.
    pub fn in_build_dir(self) -> bool {
        matches!(
            self,
            LockKind::BuildDirectory
                | LockKind::ProfileDirectory
                | LockKind::ArtifactDirectory
                | LockKind::UnitBuild
        )
    }

    /// Whether this lock lives under a Cargo home (as opposed to a project or build directory).
    pub fn in_cargo_home(self) -> bool {
        matches!(
            self,
            LockKind::PackageCache
                | LockKind::PackageCacheMutate
                | LockKind::Credentials
                | LockKind::LegacyRegistryIndex
                | LockKind::LegacyGitDatabase
                | LockKind::LegacyGitCheckout
                | LockKind::LegacyGitCheckouts
        )
    }
}

/// The Cargo home a lock lives in, for the locks that sit at its top (the package cache and
/// its mutation lock, the credentials): where that Cargo's `config.toml` is read.
pub fn cargo_home_of(path: &Path, kind: LockKind) -> Option<PathBuf> {
    match kind {
        LockKind::PackageCache | LockKind::PackageCacheMutate | LockKind::Credentials => {
            path.parent().map(Path::to_path_buf)
        }
        _ => None,
    }
}

/// Lock files that sit at fixed places under a Cargo home; their paths are known up front.
pub fn fixed_cargo_home_locks(cargo_home: &Path) -> Vec<(PathBuf, LockKind)> {
    vec![
        (cargo_home.join(".package-cache"), LockKind::PackageCache),
        (
            cargo_home.join(".package-cache-mutate"),
            LockKind::PackageCacheMutate,
        ),
        (
            cargo_home.join("git").join(".cargo-lock-git"),
            LockKind::LegacyGitCheckouts,
        ),
    ]
}

/// Classifies a path as one of Cargo's lock files, or `None` when it is not one.
///
/// Generic names (`.lock`, `.crates.toml`) are only accepted in the place Cargo puts them, so an
/// unrelated program's lock file is never mistaken for Cargo's.
pub fn classify(path: &Path) -> Option<LockKind> {
    let name = path.file_name()?.to_str()?;
    let parent_name = |n: usize| -> Option<&str> {
        let mut p = path.parent();
        for _ in 0..n {
            p = p?.parent();
        }
        p?.file_name()?.to_str()
    };
    match name {
        ".package-cache" => Some(LockKind::PackageCache),
        ".package-cache-mutate" => Some(LockKind::PackageCacheMutate),
        ".cargo-build-lock" => Some(LockKind::BuildDirectory),
        ".cargo-lock" => Some(LockKind::ProfileDirectory),
        ".cargo-artifact-lock" => Some(LockKind::ArtifactDirectory),
        ".cargo-index-lock" => Some(LockKind::LegacyRegistryIndex),
        ".cargo-lock-git" => Some(LockKind::LegacyGitCheckouts),
        "Cargo.lock" => Some(LockKind::CargoLockFile),
        ".crates.toml" | ".crates2.json" => Some(LockKind::CrateMetadata),
        "credentials.toml" | "credentials" => Some(LockKind::Credentials),
        ".future-incompat-report.json" => Some(LockKind::FutureIncompatReport),
        // <build-dir>/<profile>/build/<pkg>/<hash>/.lock
        ".lock" if parent_name(2) == Some("build") => Some(LockKind::UnitBuild),
        n if n.starts_with(".cargo-lock-") => match (parent_name(0), parent_name(1)) {
            (Some("db"), Some("git")) => Some(LockKind::LegacyGitDatabase),
            (_, Some("checkouts")) => Some(LockKind::LegacyGitCheckout),
            _ => None,
        },
        _ => None,
    }
}

/// Whether a file name could be a Cargo lock file, before its place is known.
///
/// Cheap enough to run on every descriptor of a process during discovery.
pub fn could_be_lock_name(name: &str) -> bool {
    matches!(
        name,
        ".package-cache"
            | ".package-cache-mutate"
            | ".cargo-build-lock"
            | ".cargo-lock"
            | ".cargo-artifact-lock"
            | ".cargo-index-lock"
            | ".cargo-lock-git"
            | "Cargo.lock"
            | ".crates.toml"
            | ".crates2.json"
            | "credentials.toml"
            | "credentials"
            | ".future-incompat-report.json"
            | ".lock"
    ) || name.starts_with(".cargo-lock-")
}

/// The directory a user thinks of as "the project" for a build lock: the nearest ancestor of
/// the lock file that holds a `Cargo.toml`. `None` when none does (a target dir on tmpfs or
/// shared between projects): a guess would send the user to the wrong project.
pub fn project_dir_of(path: &Path, kind: LockKind) -> Option<PathBuf> {
    project_dir_seen(path, kind, &mut HashMap::new())
}

/// Which directories hold a `Cargo.toml`, remembered across reports by the daemon (which
/// forgets them whenever it lists lock files again): thousands of watched projects would be
/// thousands of `stat`s on every pass otherwise.
#[derive(Debug, Default)]
pub struct Manifests(std::sync::Mutex<HashMap<PathBuf, bool>>);

impl Manifests {
    /// Forgets what was seen (a manifest may have appeared or gone since).
    pub fn clear(&self) {
        self.seen().clear();
    }

    /// The remembered answers, to pass to [`project_dir_seen`].
    pub fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, bool>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// [`project_dir_of`], remembering in `seen` which directories hold a manifest, so that the
/// locks of one report look at each directory once.
pub fn project_dir_seen(
    path: &Path,
    kind: LockKind,
    seen: &mut HashMap<PathBuf, bool>,
) -> Option<PathBuf> {
    if kind.in_cargo_home() {
        return None;
    }
    path.ancestors()
        .skip(1)
        .find(|dir| match seen.get(*dir) {
            Some(has) => *has,
            None => {
                let has = dir.join("Cargo.toml").is_file();
                seen.insert(dir.to_path_buf(), has);
                has
            }
        })
        .map(Path::to_path_buf)
}

/// The directory whose writes show that the holder of this lock is making progress.
pub fn activity_domain(path: &Path, kind: LockKind) -> Option<PathBuf> {
    match kind {
        LockKind::PackageCache | LockKind::PackageCacheMutate => {
            path.parent().map(|home| home.join("registry"))
        }
        LockKind::BuildDirectory
        | LockKind::ProfileDirectory
        | LockKind::ArtifactDirectory
        | LockKind::UnitBuild => path.parent().map(Path::to_path_buf),
        _ => path.parent().map(Path::to_path_buf),
    }
}

/// The subcommand of a cargo command line (`build` in `cargo -v --color never build`): the
/// first word after the program that is not a flag, a toolchain (`+nightly`) or the value of a
/// flag that takes one (`--color`, `--config`, `-Z`, `-C`, `-p` …).
pub fn cargo_subcommand(cmd: &[String]) -> Option<&str> {
    cargo_positionals(cmd).next().map(|(_, a)| a)
}

/// Where [`cargo_subcommand`] is in `cmd`.
pub fn cargo_subcommand_at(cmd: &[String]) -> Option<usize> {
    cargo_positionals(cmd).next().map(|(at, _)| at)
}

/// Subcommands of a subcommand, which say what that cargo does: `cargo clean gc` (nightly
/// `-Zgc`) collects the Cargo home's caches and takes `.package-cache-mutate` exclusively,
/// where `cargo clean` empties a target dir; `cargo report future-incompatibilities` (alias
/// `future-incompat`) reads the future-incompat report under its lock.
const SUB_SUBCOMMANDS: [(&str, &str); 3] = [
    ("clean", "gc"),
    ("report", "future-incompatibilities"),
    ("report", "future-incompat"),
];

/// The known subcommand of a cargo's subcommand (`gc` in `cargo +nightly clean gc -Zgc`, see
/// [`SUB_SUBCOMMANDS`]); `None` for any other positional argument (a package name, a test
/// filter), which says nothing a person needs.
pub fn cargo_sub_subcommand(cmd: &[String]) -> Option<&str> {
    let mut words = cargo_positionals(cmd).map(|(_, a)| a);
    let (sub, next) = (words.next()?, words.next()?);
    SUB_SUBCOMMANDS.contains(&(sub, next)).then_some(next)
}

/// The words of a cargo command line after the program that are neither flags, a toolchain
/// (`+nightly`), nor the value of a flag that takes the next argument as one, with where each
/// is in `cmd`; they end at `--`.
fn cargo_positionals(cmd: &[String]) -> impl Iterator<Item = (usize, &str)> {
    const TAKES_VALUE: [&str; 11] = [
        "--color",
        "--config",
        "-Z",
        "-C",
        "-p",
        "--package",
        "--manifest-path",
        "--target",
        "--target-dir",
        "--profile",
        "--lockfile-path",
    ];
    let mut args =
        (cmd.iter().map(String::as_str).enumerate().skip(1)).take_while(|(_, a)| *a != "--");
    std::iter::from_fn(move || {
        while let Some((at, a)) = args.next() {
            match a {
                a if TAKES_VALUE.contains(&a) => {
                    args.next();
                }
                a if a.starts_with('-') || a.starts_with('+') => {}
                a => return Some((at, a)),
            }
        }
        None
    })
}

/// The unit a per-unit build lock belongs to (`build/na/59553f4465d78fef/.lock`: `na`, the
/// crate's directory in nightly's new build-dir layout); `None` for any other lock.
pub fn unit_of(path: &Path) -> Option<String> {
    if classify(path)? != LockKind::UnitBuild {
        return None;
    }
    let unit = path.parent()?.parent()?.file_name()?;
    Some(unit.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subcommand_comes_after_global_flags_and_their_values() {
        let cmd = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(cargo_subcommand(&cmd(&["cargo", "build"])), Some("build"));
        assert_eq!(
            cargo_subcommand(&cmd(&["cargo", "-v", "build"])),
            Some("build")
        );
        assert_eq!(
            cargo_subcommand(&cmd(&["cargo", "--offline", "--color", "never", "check"])),
            Some("check")
        );
        assert_eq!(
            cargo_subcommand(&cmd(&[
                "cargo",
                "+nightly",
                "-Z",
                "unstable-options",
                "test"
            ])),
            Some("test")
        );
        assert_eq!(
            cargo_subcommand(&cmd(&["cargo", "--config=a.toml", "clippy"])),
            Some("clippy")
        );
        assert_eq!(cargo_subcommand(&cmd(&["cargo", "--version"])), None);
        let check = cmd(&["cargo", "--color", "never", "check"]);
        assert_eq!(
            LockKind::ProfileDirectory.cargo_words_for(&check),
            "build directory"
        );
        assert_eq!(
            crate::core::words::short_command(
                &cmd(&["/bin/cargo", "-v", "build"]),
                &"cargo".into()
            ),
            "cargo build"
        );
    }

    #[test]
    fn the_mutation_lock_is_named_by_the_mode_a_cargo_asks_for() {
        // cargo's cache_lock.rs: SHARED_DESCR, MUTATE_EXCLUSIVE_DESCR, DOWNLOAD_EXCLUSIVE_DESCR
        // (review W, W10).
        let cmd = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let gc = cmd(&["cargo", "clean", "gc", "-Zgc"]);
        let build = cmd(&["cargo", "build"]);
        let m = LockKind::PackageCacheMutate;
        assert_eq!(
            m.waiting_words(LockMode::Exclusive, &gc),
            "package cache mutation"
        );
        assert_eq!(
            m.waiting_words(LockMode::Shared, &build),
            "shared package cache"
        );
        assert_eq!(m.cargo_words(), "shared package cache");
        for mode in [LockMode::Shared, LockMode::Exclusive] {
            assert_eq!(
                LockKind::PackageCache.waiting_words(mode, &gc),
                "package cache"
            );
        }
        // Other kinds keep their words by command.
        let check = cmd(&["cargo", "check"]);
        assert_eq!(
            LockKind::ProfileDirectory.waiting_words(LockMode::Exclusive, &check),
            "build directory"
        );
        assert_eq!(
            LockKind::ProfileDirectory.words_in_mode(LockMode::Shared),
            None
        );
    }

    #[test]
    fn only_a_known_subcommand_of_the_subcommand_is_taken() {
        let cmd = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let sub2 = |v: &[&str]| cargo_sub_subcommand(&cmd(v)).map(str::to_string);
        assert_eq!(
            sub2(&["cargo", "clean", "gc", "-Zgc"]).as_deref(),
            Some("gc")
        );
        assert_eq!(
            sub2(&["cargo", "-Zgc", "clean", "--dry-run", "gc"]).as_deref(),
            Some("gc")
        );
        assert_eq!(
            sub2(&["cargo", "report", "future-incompat", "--id", "1"]).as_deref(),
            Some("future-incompat")
        );
        // A flag's value, a package name, a test filter, what follows `--`: not one.
        assert_eq!(sub2(&["cargo", "clean", "-p", "gc"]), None);
        assert_eq!(sub2(&["cargo", "clean", "-Z", "gc"]), None);
        assert_eq!(sub2(&["cargo", "clean"]), None);
        assert_eq!(sub2(&["cargo", "test", "gc"]), None);
        assert_eq!(sub2(&["cargo", "run", "--", "gc"]), None);
        assert_eq!(sub2(&["cargo", "clean", "--", "gc"]), None);
        assert_eq!(cargo_subcommand(&cmd(&["cargo", "--", "build"])), None);
    }

    #[test]
    fn a_check_waits_for_the_build_directory_in_cargos_words() {
        let cmd = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let k = LockKind::ProfileDirectory;
        assert_eq!(
            k.cargo_words_for(&cmd(&["cargo", "build"])),
            "artifact directory"
        );
        assert_eq!(
            k.cargo_words_for(&cmd(&["cargo", "+1.90", "check"])),
            "build directory"
        );
        assert_eq!(
            k.cargo_words_for(&cmd(&["/x/cargo", "clippy", "--all"])),
            "build directory"
        );
        assert_eq!(
            LockKind::PackageCache.cargo_words_for(&cmd(&["cargo", "check"])),
            "package cache"
        );
    }

    fn kind(p: &str) -> Option<LockKind> {
        classify(Path::new(p))
    }

    #[test]
    fn classifies_every_lock_in_the_catalogue() {
        assert_eq!(
            kind("/h/.cargo/.package-cache"),
            Some(LockKind::PackageCache)
        );
        assert_eq!(
            kind("/h/.cargo/.package-cache-mutate"),
            Some(LockKind::PackageCacheMutate)
        );
        assert_eq!(
            kind("/p/target/debug/.cargo-build-lock"),
            Some(LockKind::BuildDirectory)
        );
        assert_eq!(
            kind("/p/target/release/.cargo-lock"),
            Some(LockKind::ProfileDirectory)
        );
        assert_eq!(
            kind("/p/target/x86_64-unknown-linux-gnu/debug/.cargo-artifact-lock"),
            Some(LockKind::ArtifactDirectory)
        );
        assert_eq!(
            kind("/p/target/debug/build/serde/0123abcd/.lock"),
            Some(LockKind::UnitBuild)
        );
        assert_eq!(kind("/p/Cargo.lock"), Some(LockKind::CargoLockFile));
        assert_eq!(
            kind("/h/.cargo/.crates.toml"),
            Some(LockKind::CrateMetadata)
        );
        assert_eq!(
            kind("/h/.cargo/.crates2.json"),
            Some(LockKind::CrateMetadata)
        );
        assert_eq!(
            kind("/h/.cargo/credentials.toml"),
            Some(LockKind::Credentials)
        );
        assert_eq!(
            kind("/p/target/.future-incompat-report.json"),
            Some(LockKind::FutureIncompatReport)
        );
        assert_eq!(
            kind("/h/.cargo/registry/index/github.com-1ecc6299db9ec823/.cargo-index-lock"),
            Some(LockKind::LegacyRegistryIndex)
        );
        assert_eq!(
            kind("/h/.cargo/git/db/.cargo-lock-serde-abc123"),
            Some(LockKind::LegacyGitDatabase)
        );
        assert_eq!(
            kind("/h/.cargo/git/checkouts/serde-abc123/.cargo-lock-serde-abc123-master"),
            Some(LockKind::LegacyGitCheckout)
        );
        assert_eq!(
            kind("/h/.cargo/git/.cargo-lock-git"),
            Some(LockKind::LegacyGitCheckouts)
        );
    }

    #[test]
    fn generic_names_need_cargo_places() {
        assert_eq!(kind("/var/lib/dpkg/.lock"), None);
        assert_eq!(kind("/tmp/.cargo-lock-foo"), None);
        assert_eq!(kind("/tmp/lockfile"), None);
        assert!(could_be_lock_name(".lock"));
        assert!(!could_be_lock_name("lock"));
    }

    #[test]
    fn every_kind_has_cargo_words() {
        for k in LockKind::ALL {
            assert!(!k.cargo_words().is_empty());
            assert!(!k.explanation().is_empty());
        }
        assert_eq!(LockKind::PackageCache.cargo_words(), "package cache");
        assert_eq!(
            LockKind::LegacyRegistryIndex.cargo_words(),
            "the registry index"
        );
    }

    #[test]
    fn project_dir_only_where_a_manifest_shows_it() {
        let p = Path::new("/nonexistent/proj/target/debug/.cargo-lock");
        assert_eq!(
            project_dir_of(p, LockKind::ProfileDirectory),
            None,
            "no guessing"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("app/target/debug")).unwrap();
        std::fs::write(dir.path().join("app/Cargo.toml"), "").unwrap();
        let lock = dir.path().join("app/target/debug/.cargo-lock");
        assert_eq!(
            project_dir_of(&lock, LockKind::ProfileDirectory),
            Some(dir.path().join("app"))
        );
        assert_eq!(
            project_dir_of(Path::new("/h/.package-cache"), LockKind::PackageCache),
            None
        );
    }
}
