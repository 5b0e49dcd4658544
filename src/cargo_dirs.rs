//! Where a cargo started in a given directory puts its build locks, resolved the way cargo
//! does: the workspace root, then the target dir from `--target-dir`, `CARGO_TARGET_DIR`,
//! `CARGO_BUILD_TARGET_DIR` or `build.target-dir`, and the build dir from
//! `CARGO_BUILD_BUILD_DIR` or `build.build-dir`, reading the `.cargo/config.toml` of the
//! directory and each ancestor (the nearest wins) and `$CARGO_HOME/config.toml`.
//!
//! `wait` uses it to know which locks a build here needs, and `status` to list the project's
//! free locks; a wrong answer makes `wait` say "free" while the build it guards is blocked.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The directories a cargo run here locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildDirs {
    /// The workspace root (or the package, outside any workspace).
    pub workspace_root: PathBuf,
    /// The artifact (target) directory.
    pub target_dir: PathBuf,
    /// The build directory (intermediate artifacts; the target dir unless configured). When
    /// its configured template has a part this program cannot compute
    /// (`{workspace-path-hash}`), this is the directory above that part.
    pub build_dir: PathBuf,
    /// `build_dir` stops above such a part: other workspaces build below it too.
    pub build_dir_partial: bool,
}

/// One `build.*` value and the directory relative paths in it are relative to.
#[derive(Debug, Clone)]
struct Setting {
    value: String,
    base: PathBuf,
}

/// Resolves the build dirs of a cargo run in `cwd` (absolute), with `cargo_home` and the
/// environment `env`; `target_dir_flag` is the `--target-dir` it would get. `None` when `cwd`
/// is not inside a Cargo project.
pub fn resolve(
    cwd: &Path,
    cargo_home: &Path,
    target_dir_flag: Option<&Path>,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Option<BuildDirs> {
    let workspace_root = workspace_root(cwd)?;
    let from_env = |name: &str| {
        env(name)
            .filter(|v| !v.is_empty())
            .map(|v| cwd.join(PathBuf::from(v)))
    };
    let configs = config_files(cwd, cargo_home);
    let target_dir = target_dir_flag
        .map(|p| cwd.join(p))
        .or_else(|| from_env("CARGO_TARGET_DIR"))
        .or_else(|| from_env("CARGO_BUILD_TARGET_DIR"))
        .or_else(|| {
            setting(&configs, "target-dir").map(|s| expand(&s, &workspace_root, cargo_home))
        })
        .unwrap_or_else(|| workspace_root.join("target"));
    let build_setting = env("CARGO_BUILD_BUILD_DIR")
        .filter(|v| !v.is_empty())
        .map(|v| Setting {
            value: v.to_string_lossy().into_owned(),
            base: cwd.to_path_buf(),
        })
        .or_else(|| setting(&configs, "build-dir"));
    let build_dir_partial = build_setting.as_ref().is_some_and(|s| {
        s.value.contains('{') && substitute(&s.value, &workspace_root, cargo_home).contains('{')
    });
    let build_dir = build_setting
        .map(|s| expand(&s, &workspace_root, cargo_home))
        .unwrap_or_else(|| target_dir.clone());
    Some(BuildDirs {
        workspace_root: normalize(&workspace_root),
        target_dir: normalize(&target_dir),
        build_dir: normalize(&build_dir),
        build_dir_partial,
    })
}

/// What a cargo run in `cwd` (when known) with `cargo_home` and the environment `env` gives a
/// registry before it gives up: `CARGO_HTTP_TIMEOUT` / `CARGO_NET_RETRY`, else `http.timeout`
/// / `net.retry` from the nearest Cargo config that sets them, else Cargo's defaults.
pub fn net_settings(
    cwd: Option<&Path>,
    cargo_home: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> crate::core::netwait::NetSettings {
    let configs = match cwd {
        Some(cwd) => config_files(cwd, cargo_home),
        None => (read_toml(&cargo_home.join("config.toml")))
            .map(|t| (cargo_home.join("config.toml"), t))
            .into_iter()
            .collect(),
    };
    let configured = |table: &str, key: &str| {
        (configs.iter()).find_map(|(_, t)| t.get(table)?.get(key)?.as_integer())
    };
    // A value that is not a count of seconds or tries is passed over, as if unset.
    let number = |var: &str, table: &str, key: &str| {
        env(var)
            .and_then(|v| v.trim().parse::<u32>().ok())
            .or_else(|| configured(table, key).and_then(|n| u32::try_from(n).ok()))
    };
    let defaults = crate::core::netwait::NetSettings::default();
    let timeout = number("CARGO_HTTP_TIMEOUT", "http", "timeout");
    let git_env = |var: &str| {
        env(var)
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|n| *n > 0)
    };
    let git_low_speed = git_env("GIT_HTTP_LOW_SPEED_LIMIT").and(git_env("GIT_HTTP_LOW_SPEED_TIME"));
    crate::core::netwait::NetSettings {
        timeout_secs: timeout.map_or(defaults.timeout_secs, f64::from),
        retry: number("CARGO_NET_RETRY", "net", "retry").unwrap_or(defaults.retry),
        timeout_set: timeout.is_some(),
        git_low_speed_secs: git_low_speed.map(f64::from),
        git_cli: false,
    }
}

/// The workspace root for `dir`: the nearest ancestor manifest that declares `[workspace]`
/// (and does not exclude the package), or the package itself.
pub fn workspace_root(dir: &Path) -> Option<PathBuf> {
    let package = dir.ancestors().find(|d| d.join("Cargo.toml").is_file())?;
    let manifest = read_toml(&package.join("Cargo.toml"));
    if manifest
        .as_ref()
        .is_some_and(|m| m.contains_key("workspace"))
    {
        return Some(package.to_path_buf());
    }
    // `package.workspace = "path"` names the root explicitly.
    if let Some(root) = manifest.as_ref().and_then(|m| {
        m.get("package")?
            .get("workspace")?
            .as_str()
            .map(str::to_owned)
    }) {
        return Some(normalize(&package.join(root)));
    }
    for ancestor in package.ancestors().skip(1) {
        let Some(m) = read_toml(&ancestor.join("Cargo.toml")) else {
            continue;
        };
        let Some(ws) = m.get("workspace") else {
            continue;
        };
        let rel = package.strip_prefix(ancestor).unwrap_or(package);
        let excluded = ws
            .get("exclude")
            .and_then(|e| e.as_array())
            .is_some_and(|ex| {
                ex.iter()
                    .filter_map(|e| e.as_str())
                    .any(|e| rel.starts_with(e))
            });
        return Some(if excluded { package } else { ancestor }.to_path_buf());
    }
    Some(package.to_path_buf())
}

/// The git repositories a cargo working in `dir` may fetch: those its workspace's `Cargo.lock`
/// names and those the manifests of the workspace root, its listed members and `dir`'s
/// package name (a dependency just added is in no lockfile yet). Empty outside a project.
pub fn git_urls(dir: &Path) -> Vec<String> {
    use crate::core::gitfetch;
    let Some(root) = workspace_root(dir) else {
        return Vec::new();
    };
    let mut urls = read_text(&root.join("Cargo.lock"))
        .map(|lock| gitfetch::locked_git_urls(&lock))
        .unwrap_or_default();
    let package = dir.ancestors().find(|d| d.join("Cargo.toml").is_file());
    let root_manifest = read_toml(&root.join("Cargo.toml"));
    let members = (root_manifest.as_ref()).map(|m| member_dirs(&root, m));
    let manifests = (members.into_iter().flatten())
        .chain(package.map(Path::to_path_buf))
        .filter_map(|d| read_toml(&d.join("Cargo.toml")))
        .chain(root_manifest);
    for m in manifests {
        urls.extend(gitfetch::manifest_git_urls(&m));
    }
    // Resolved and shown, never with a token in them (review 15, D14).
    let mut urls: Vec<String> = (urls.iter())
        .map(|u| gitfetch::without_credentials(u))
        .collect();
    urls.sort();
    urls.dedup();
    urls
}

/// The member directories the workspace manifest at `root` lists: each `members` entry, a
/// trailing `/*` standing for every directory in it (other globs are passed over).
fn member_dirs(root: &Path, manifest: &toml::Table) -> Vec<PathBuf> {
    let Some(members) = (manifest.get("workspace"))
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
    else {
        return Vec::new();
    };
    let mut dirs = Vec::new();
    for m in members.iter().filter_map(|m| m.as_str()) {
        match m.strip_suffix("/*") {
            Some(parent) => dirs.extend(
                (std::fs::read_dir(root.join(parent))
                    .into_iter()
                    .flatten()
                    .flatten())
                .map(|e| e.path()),
            ),
            None if !m.contains(['*', '?', '[']) => dirs.push(root.join(m)),
            None => {}
        }
    }
    dirs
}

/// Whether profile `name` exists for the workspace at `workspace_root`: one of Cargo's own
/// (dev, release, test, bench) or a `[profile.NAME]` of its manifest. `None` when the
/// manifest cannot be read (nothing to check against).
pub fn profile_defined(workspace_root: &Path, name: &str) -> Option<bool> {
    if matches!(name, "dev" | "release" | "test" | "bench") {
        return Some(true);
    }
    let manifest = read_toml(&workspace_root.join("Cargo.toml"))?;
    let profiles = manifest.get("profile").and_then(|p| p.as_table());
    Some(profiles.is_some_and(|p| p.contains_key(name)))
}

fn read_toml(path: &Path) -> Option<toml::Table> {
    toml::from_str(&read_text(path)?).ok()
}

/// A manifest, a lockfile or a config as text: never a FIFO (a read would block) or a file too
/// big to be one.
fn read_text(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_TOML_BYTES {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// The largest manifest or Cargo config read (a generated one with many members fits).
const MAX_TOML_BYTES: u64 = 4 << 20;

/// Config files in the order cargo gives them precedence: `cwd`'s and each ancestor's
/// `.cargo/config.toml` (or the legacy `.cargo/config`), nearest first, then the Cargo home's.
fn config_files(cwd: &Path, cargo_home: &Path) -> Vec<(PathBuf, toml::Table)> {
    let mut dirs: Vec<PathBuf> = cwd.ancestors().map(|d| d.join(".cargo")).collect();
    if !dirs.iter().any(|d| same_dir(d, cargo_home)) {
        dirs.push(cargo_home.to_path_buf());
    }
    let mut out = Vec::new();
    for dir in dirs {
        for name in ["config.toml", "config"] {
            let file = dir.join(name);
            if let Some(table) = read_toml(&file) {
                out.push((file, table));
                break;
            }
        }
    }
    out
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// `build.<key>` from the nearest config file that sets it; relative paths in it are relative
/// to the directory holding that file's `.cargo` (for the Cargo home's, the home's parent).
fn setting(configs: &[(PathBuf, toml::Table)], key: &str) -> Option<Setting> {
    configs.iter().find_map(|(file, table)| {
        let value = table.get("build")?.get(key)?.as_str()?.to_string();
        let base = file.parent()?.parent()?.to_path_buf();
        Some(Setting { value, base })
    })
}

/// Expands `{workspace-root}` and `{cargo-cache-home}`; a value with a part that cannot be
/// computed here (`{workspace-path-hash}`) stops at the directory above it.
fn expand(s: &Setting, workspace_root: &Path, cargo_home: &Path) -> PathBuf {
    let mut value = substitute(&s.value, workspace_root, cargo_home);
    if let Some(at) = value.find('{') {
        value.truncate(value[..at].rfind('/').map_or(0, |slash| slash + 1));
    }
    s.base.join(value)
}

/// The directory a build of a profile writes in its target and build dirs: `debug` for dev
/// (the default) and test, `release` for `--release`, release and bench, else the profile's
/// own name.
pub fn profile_dir(release: bool, profile: Option<&str>) -> String {
    match (release, profile) {
        (true, _) | (false, Some("release" | "bench")) => "release".into(),
        (false, None | Some("dev" | "test")) => "debug".into(),
        (false, Some(name)) => name.into(),
    }
}

/// `value` with `{workspace-root}` and `{cargo-cache-home}` replaced.
fn substitute(value: &str, workspace_root: &Path, cargo_home: &Path) -> String {
    value
        .replace("{workspace-root}", &workspace_root.to_string_lossy())
        .replace("{cargo-cache-home}", &cargo_home.to_string_lossy())
}

/// Removes `.` and `..` components without touching the file system (cargo does the same for
/// configured paths; symlinks are compared by identity elsewhere).
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::fs;

    struct World {
        dir: tempfile::TempDir,
        env: HashMap<String, OsString>,
    }

    impl World {
        fn new() -> World {
            let w = World {
                dir: tempfile::tempdir().unwrap(),
                env: HashMap::new(),
            };
            w.write("home/.keep", "");
            w
        }

        fn p(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }

        fn write(&self, rel: &str, text: &str) {
            let p = self.p(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }

        fn resolve(&self, cwd: &str, flag: Option<&str>) -> BuildDirs {
            let env = |k: &str| self.env.get(k).cloned();
            resolve(&self.p(cwd), &self.p("home"), flag.map(Path::new), &env).unwrap()
        }
    }

    const PKG: &str = "[package]\nname = \"x\"\nversion = \"0.1.0\"\n";

    #[test]
    fn default_is_the_workspace_roots_target() {
        let w = World::new();
        w.write("ws/Cargo.toml", "[workspace]\nmembers = [\"a\"]\n");
        w.write("ws/a/Cargo.toml", PKG);
        w.write("ws/a/src/main.rs", "");
        let d = w.resolve("ws/a/src", None);
        assert_eq!(d.workspace_root, w.p("ws"));
        assert_eq!(d.target_dir, w.p("ws/target"));
        assert_eq!(d.build_dir, w.p("ws/target"));
    }

    #[test]
    fn an_excluded_package_is_its_own_root() {
        let w = World::new();
        w.write("ws/Cargo.toml", "[workspace]\nexclude = [\"tools\"]\n");
        w.write("ws/tools/t/Cargo.toml", PKG);
        assert_eq!(
            w.resolve("ws/tools/t", None).workspace_root,
            w.p("ws/tools/t")
        );
    }

    #[test]
    fn flag_then_env_then_config_relative_to_their_own_bases() {
        let mut w = World::new();
        w.write("p/Cargo.toml", PKG);
        w.write("p/sub/.keep", "");
        w.write(
            "p/.cargo/config.toml",
            "[build]\ntarget-dir = \"../cfg-target\"\n",
        );
        assert_eq!(w.resolve("p/sub", None).target_dir, w.p("cfg-target"));
        w.env
            .insert("CARGO_BUILD_TARGET_DIR".into(), "../build-env".into());
        assert_eq!(w.resolve("p/sub", None).target_dir, w.p("p/build-env"));
        w.env
            .insert("CARGO_TARGET_DIR".into(), "../shared-target".into());
        assert_eq!(w.resolve("p/sub", None).target_dir, w.p("p/shared-target"));
        assert_eq!(
            w.resolve("p/sub", Some("flagged")).target_dir,
            w.p("p/sub/flagged")
        );
    }

    /// A git dependency just added to a member is in no lockfile yet: the members' manifests
    /// are read too, globs ending in `/*` included.
    #[test]
    fn git_urls_come_from_the_lockfile_and_every_member_s_manifest() {
        let w = World::new();
        w.write(
            "ws/Cargo.toml",
            "[workspace]\nmembers = [\"app\", \"crates/*\"]\n\
             [workspace.dependencies]\nw = { git = \"https://h/w\" }\n",
        );
        w.write(
            "ws/Cargo.lock",
            "[[package]]\nname = \"l\"\nsource = \"git+https://h/l#abc\"\n",
        );
        w.write("ws/app/Cargo.toml", PKG);
        w.write(
            "ws/crates/b/Cargo.toml",
            &format!("{PKG}[dependencies]\nb = {{ git = \"http://127.0.0.1:9/b.git\" }}\n"),
        );
        assert_eq!(
            git_urls(&w.p("ws/app")),
            ["http://127.0.0.1:9/b.git", "https://h/l", "https://h/w"]
        );
        assert!(git_urls(&w.p("nowhere")).is_empty());
    }

    /// What a cargo hung on a registry runs with: its environment, else the nearest config
    /// that sets it, else Cargo's defaults (review M, N13).
    #[test]
    fn network_settings_come_from_the_environment_then_the_configs() {
        use crate::core::netwait::NetSettings;
        let w = World::new();
        let home = w.p("home");
        let none = |_: &str| None;
        assert_eq!(net_settings(None, &home, &none), NetSettings::default());
        w.write(
            "home/config.toml",
            "[http]\ntimeout = 15\n[net]\nretry = 0\n",
        );
        let from_home = NetSettings {
            timeout_secs: 15.0,
            retry: 0,
            timeout_set: true,
            ..NetSettings::default()
        };
        assert_eq!(net_settings(None, &home, &none), from_home);
        w.write("p/Cargo.toml", PKG);
        assert_eq!(net_settings(Some(&w.p("p")), &home, &none), from_home);
        w.write("p/.cargo/config.toml", "[http]\ntimeout = 60\n");
        assert_eq!(
            net_settings(Some(&w.p("p")), &home, &none),
            NetSettings {
                timeout_secs: 60.0,
                retry: 0,
                timeout_set: true,
                ..NetSettings::default()
            }
        );
        let env = |k: &str| (k == "CARGO_NET_RETRY").then(|| "5".to_string());
        assert_eq!(
            net_settings(Some(&w.p("p")), &home, &env),
            NetSettings {
                timeout_secs: 60.0,
                retry: 5,
                timeout_set: true,
                ..NetSettings::default()
            }
        );
        // Nonsense is Cargo's default, never a panic.
        let odd = |k: &str| (k == "CARGO_HTTP_TIMEOUT").then(|| "-3".to_string());
        w.write("p/.cargo/config.toml", "[http]\ntimeout = \"soon\"\n");
        assert_eq!(
            net_settings(Some(&w.p("p")), &home, &odd).timeout_secs,
            15.0
        );
    }

    #[test]
    fn nearest_config_wins_and_the_cargo_homes_is_last() {
        let w = World::new();
        w.write("home/config.toml", "[build]\ntarget-dir = \"from-home\"\n");
        w.write("a/b/Cargo.toml", PKG);
        assert_eq!(w.resolve("a/b", None).target_dir, w.p("from-home"));
        w.write("a/.cargo/config", "[build]\ntarget-dir = \"legacy\"\n");
        assert_eq!(w.resolve("a/b", None).target_dir, w.p("a/legacy"));
        w.write("a/b/.cargo/config.toml", "[build]\ntarget-dir = \"near\"\n");
        assert_eq!(w.resolve("a/b", None).target_dir, w.p("a/b/near"));
    }

    #[test]
    fn build_dir_templates() {
        let mut w = World::new();
        w.write("p/Cargo.toml", PKG);
        w.write(
            "p/.cargo/config.toml",
            "[build]\nbuild-dir = \"{workspace-root}/build-dir\"\n",
        );
        let d = w.resolve("p", None);
        assert_eq!(d.build_dir, w.p("p/build-dir"));
        assert_eq!(d.target_dir, w.p("p/target"));
        assert!(!d.build_dir_partial);
        w.write(
            "p/.cargo/config.toml",
            "[build]\nbuild-dir = \"{cargo-cache-home}/build/{workspace-path-hash}\"\n",
        );
        let d = w.resolve("p", None);
        assert_eq!(d.build_dir, w.p("home/build"));
        assert!(d.build_dir_partial, "other workspaces build below it too");
        w.env.insert("CARGO_BUILD_BUILD_DIR".into(), "bd".into());
        let d = w.resolve("p", None);
        assert_eq!(d.build_dir, w.p("p/bd"));
        assert!(!d.build_dir_partial);
    }

    /// Cargo's own profiles and a manifest's `[profile.NAME]` exist; a typo does not; without
    /// a readable manifest nothing can be said (review Q, S5).
    #[test]
    fn a_profile_exists_when_cargo_or_the_manifest_defines_it() {
        let w = World::new();
        w.write(
            "p/Cargo.toml",
            &format!("{PKG}\n[profile.ci]\ninherits = \"release\"\n"),
        );
        for name in ["dev", "release", "test", "bench", "ci"] {
            assert_eq!(profile_defined(&w.p("p"), name), Some(true), "{name}");
        }
        assert_eq!(profile_defined(&w.p("p"), "relase"), Some(false));
        assert_eq!(profile_defined(&w.p("nowhere"), "relase"), None);
    }

    #[test]
    fn outside_a_project_there_is_nothing_to_resolve() {
        let w = World::new();
        let env = |_: &str| None;
        assert_eq!(resolve(&w.p("home"), &w.p("home"), None, &env), None);
    }

    #[test]
    fn garbage_configs_are_skipped() {
        let w = World::new();
        w.write("p/Cargo.toml", PKG);
        w.write("p/.cargo/config.toml", "[build\ntarget-dir = ");
        assert_eq!(w.resolve("p", None).target_dir, w.p("p/target"));
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }
}
