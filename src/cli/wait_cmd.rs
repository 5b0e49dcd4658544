//! `cargo lockwatch wait`: block until the locks a new build here would need are free, showing
//! who holds them on a live line — the safe version of "check before you build" scripts.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Context, render};
use crate::cargo_dirs::BuildDirs;
use crate::core::catalog::LockKind;
use crate::core::model::{
    Doing, HolderReport, IncidentReport, IncidentState, LockMode, LockReport, LockState, ProcName,
    ProcState, ProcessReport, Report, Role, StaleReason,
};
use crate::core::place::workplace;
use crate::core::words;
use crate::exit;

/// Arguments of `wait`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to wait for: lock files, projects (a directory or its Cargo.toml: the build locks a
    /// cargo run there would need, and the package cache of `$CARGO_HOME`, or ~/.cargo, and of
    /// each `--cargo-home`) or directories (any lock under them). Default: the
    /// package-cache locks, held exclusively, of the Cargo home a cargo run here would use
    /// (`$CARGO_HOME` or ~/.cargo; not the other watched homes: name a lock file to wait for
    /// one), and every build lock of the target and build directories it would use (a
    /// `.cargo-lock` held shared too: a build of cargo 1.95 or older needs it alone).
    pub paths: Vec<PathBuf>,
    /// The `--target-dir` the build you are about to start will get.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// The build you are about to start is a `--release` one: wait for the release profile's
    /// build locks, not the dev profile's (a dev build does not wait for a release one).
    #[arg(long, conflicts_with = "profile")]
    pub release: bool,
    /// The `--profile` of the build you are about to start (default: dev, as `cargo build`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Give up after this long (exit 3). Behind a deadlock it stops at once (exit 7): that
    /// never ends on its own.
    #[arg(long, value_parser = super::duration_arg, allow_hyphen_values = true)]
    pub timeout: Option<Duration>,
    /// How often to look.
    #[arg(long, default_value = "250ms", value_parser = super::interval_arg)]
    pub interval: Duration,
    /// Print how it ended as JSON on stdout (the live line stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// Scan directly even if the daemon is running.
    #[arg(long)]
    pub no_daemon: bool,
    /// What else to wait for.
    #[command(flatten)]
    pub roots: super::WaitRootArgs,
}

/// Where a build started here would need to take locks.
#[derive(Debug, Clone, Default)]
pub struct Here {
    /// The Cargo home this cargo would use (`$CARGO_HOME` or `~/.cargo`), as given and as
    /// resolved; not the other watched ones.
    pub cargo_homes: Vec<PathBuf>,
    /// Its workspace root, target and build directories, resolved as cargo does.
    pub dirs: Option<BuildDirs>,
    /// The directory its profile builds in (`debug`, `release` …): only the build locks there
    /// (or in a target triple's directory of that name) keep it waiting.
    pub profile_dir: String,
}

/// What `wait` was asked to wait for, when not the build here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Wanted {
    /// Lock files (any hold).
    pub files: Vec<PathBuf>,
    /// Directories: any hold of a lock under them.
    pub under: Vec<PathBuf>,
    /// The target and build directories of the projects named: holds of the build locks of
    /// the profile waited for.
    pub builds: Vec<PathBuf>,
    /// The `--cargo-home` dirs: with named paths too, their package caches count (as
    /// `$CARGO_HOME`'s does whenever a project is named: a build there takes it).
    pub homes: Vec<PathBuf>,
}

impl Wanted {
    /// Whether anything was named (else `wait` is about a build here).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.under.is_empty() && self.builds.is_empty()
    }

    /// Sorts the arguments: a lock file is waited for itself; a project (a directory in a Cargo
    /// project but not in its target or build dir, or a `Cargo.toml`) for the build dirs a
    /// cargo run there would use; any other directory for every lock under it. `--project`
    /// dirs count as arguments; `--target-dir` outside a project names a directory too.
    /// `dirs_in` resolves the build dirs of a cargo run in a directory.
    pub fn from_args(
        paths: &[PathBuf],
        projects: &[PathBuf],
        target_dir: Option<&Path>,
        here: bool,
        dirs_in: &dyn Fn(&Path) -> Option<BuildDirs>,
    ) -> Wanted {
        let mut w = Wanted::default();
        for p in paths.iter().chain(projects) {
            let is_manifest = p.file_name().is_some_and(|n| n == "Cargo.toml") && p.is_file();
            if !p.is_dir() && !is_manifest {
                w.files.push(p.clone());
                continue;
            }
            let dir = if is_manifest {
                p.parent()
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
            } else {
                p.clone()
            };
            let dir = std::path::absolute(&dir).unwrap_or(dir);
            match dirs_in(&dir) {
                Some(d) if !dir.starts_with(&d.target_dir) && !dir.starts_with(&d.build_dir) => {
                    w.builds.push(d.target_dir);
                    w.builds.push(d.build_dir);
                }
                _ => w.under.push(dir),
            }
        }
        if let Some(t) = target_dir.filter(|_| !here && w.is_empty()) {
            w.under
                .push(std::path::absolute(t).unwrap_or_else(|_| t.to_path_buf()));
        }
        w.under.dedup();
        w.builds.dedup();
        w
    }
}

/// The one line `wait` says at a terminal when nothing it waits for is held.
fn nothing_to_wait_for(named: &Wanted, here: &Here) -> String {
    let plain = named.builds.is_empty();
    let what = match (named.files.as_slice(), named.under.as_slice(), &here.dirs) {
        ([one], [], _) if plain => format!("{} is free", crate::core::text::tilde(one)),
        ([], [one], _) if plain => {
            format!("no lock under {} is held", crate::core::text::tilde(one))
        }
        ([], [], _) if !plain => format!(
            "the {} build locks of {} are free",
            here.profile_dir,
            list_tilde(&named.builds)
        ),
        ([], [], Some(d)) => format!(
            "the package cache and the {} build locks of {} are free",
            here.profile_dir,
            crate::core::text::tilde(&d.workspace_root)
        ),
        ([], [], None) => "the package cache is free".to_string(),
        _ => "none of those locks is held".to_string(),
    };
    format!("nothing to wait for: {what}")
}

/// What a directory a build here uses is to `wait`.
#[derive(Debug, Clone, Copy)]
enum Dir {
    /// The target dir (also the build dir unless one is configured): its own locks, not those
    /// of a target dir nested in it (an editor's).
    Target,
    /// A configured build dir: every lock in it.
    Build,
    /// The directory above a configured build dir's part only cargo computes (a workspace
    /// hash): the locks of builds of this workspace only.
    AboveBuild,
}

/// `paths` as a user reads them, joined with commas.
fn list_tilde(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| crate::core::text::tilde(p)).collect();
    shown.join(", ")
}

/// Whether lock `path`, under a target or build dir, belongs to a build of the profile that
/// builds in `profile_dir` (`debug` for dev and test, `release` for release and bench):
/// `<dir>/debug/.cargo-lock`, `<dir>/<target triple>/debug/…`, and below a build dir's
/// workspace hash `<dir>/5b/aa54…/debug/…`. A dev build goes ahead beside a release one.
fn in_profile(path: &Path, dir: &Path, profile_dir: &str) -> bool {
    let Ok(rest) = path.strip_prefix(dir) else {
        return false;
    };
    let parents = rest.parent().unwrap_or(Path::new(""));
    parents
        .components()
        .any(|c| c.as_os_str() == std::ffi::OsStr::new(profile_dir))
}

/// Whether a lock below a build dir that stops above a part only cargo computes (a workspace
/// hash) is this workspace's (`root`): a holder works in it, or no holder can be seen (another
/// user's build: it may be). Every other project's build sits there too (review P, R12).
fn held_for_workspace(l: &LockReport, root: &Path) -> bool {
    let root = real(root);
    l.holders.is_empty()
        || l.holders.iter().any(|h| {
            crate::core::place::workplace(&h.cmd, h.cwd.as_deref())
                .is_some_and(|w| real(&w).starts_with(&root))
        })
}

/// A path as the kernel knows it (symlinks resolved), or as given when it cannot be resolved;
/// bytes that are not UTF-8 written `\xff`, as the daemon's report carries them (a scan's
/// report has the bytes: both read the same here).
fn real(path: &Path) -> PathBuf {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    PathBuf::from(crate::core::text::lossy_path::text(&real).into_owned())
}

/// Whether the lock `path` under `dir` is one a build with that target or build dir takes:
/// not one inside a target dir nested in it (`--target-dir target/rust-analyzer`, as an
/// editor is advised to use), which cargo marks with `CACHEDIR.TAG` or `.rustc_info.json`.
fn taken_by_build_in(path: &Path, dir: &Path) -> bool {
    path.starts_with(dir)
        && !path
            .ancestors()
            .skip(1)
            .take_while(|a| *a != dir && a.starts_with(dir))
            .any(|a| a.join("CACHEDIR.TAG").exists() || a.join(".rustc_info.json").exists())
}

/// Whether a hold of `l` would keep a new build waiting: any hold but a shared one nobody
/// waits for (every compile holds the package cache's mutation lock so, and a build goes on
/// beside it), except on a `.cargo-lock`: cargo 1.96+ and nightly `-Zfine-grain-locking` hold
/// it shared, but a build of cargo ≤ 1.95 (still a default toolchain) needs it alone.
fn keeps_a_build_waiting(l: &LockReport) -> bool {
    match l.state {
        LockState::Free => false,
        LockState::Background => l.kind == LockKind::ProfileDirectory,
        LockState::Held | LockState::Contended | LockState::Stale => true,
    }
}

/// The locks in `report` that block: named files and directories (any hold that would keep a
/// build waiting: see [`keeps_a_build_waiting`]), else exclusive holds of this Cargo home's
/// package-cache locks and any such hold in the target or build directory (not in another
/// target dir nested there). Paths are compared as the kernel resolves them, so
/// symlinked homes and target dirs match.
pub fn blocking<'a>(report: &'a Report, named: &Wanted, here: &Here) -> Vec<&'a LockReport> {
    let wanted: Vec<PathBuf> = named.files.iter().map(|p| real(p)).collect();
    let under: Vec<PathBuf> = named.under.iter().map(|p| real(p)).collect();
    let builds: Vec<PathBuf> = named.builds.iter().map(|p| real(p)).collect();
    let profile = here.profile_dir.as_str();
    let homes: Vec<PathBuf> = here.cargo_homes.iter().map(|h| real(h)).collect();
    let flagged: Vec<PathBuf> = named.homes.iter().map(|h| real(h)).collect();
    // A separate build dir may stop above a part computed by cargo alone (a workspace hash):
    // every build dir below it counts.
    let dirs: Vec<(PathBuf, Dir)> = (here.dirs.iter())
        .flat_map(|d| {
            let build = match (d.build_dir == d.target_dir, d.build_dir_partial) {
                (true, _) => Dir::Target,
                (false, false) => Dir::Build,
                (false, true) => Dir::AboveBuild,
            };
            [
                (real(&d.target_dir), Dir::Target),
                (real(&d.build_dir), build),
            ]
        })
        .collect();
    let mut out: Vec<&LockReport> = report
        .locks
        .iter()
        // A build whose lock file was deleted (`cargo clean` under it) still writes the
        // directory: a build started now would not wait for it, which is what `wait` is for
        // (review M, N15).
        .filter(|l| keeps_a_build_waiting(l))
        .filter(|l| {
            let path = real(&l.path);
            let exclusive =
                l.holders.is_empty() || l.holders.iter().any(|h| h.mode == LockMode::Exclusive);
            let in_home = |homes: &[PathBuf]| {
                path.parent()
                    .is_some_and(|d| homes.contains(&d.to_path_buf()))
            };
            let cache = matches!(
                l.kind,
                LockKind::PackageCache | LockKind::PackageCacheMutate
            ) && exclusive;
            let home_lock = cache && in_home(&homes);
            // A named project's build takes the package cache first; a `--cargo-home` named
            // with paths is waited for too (review X, X4).
            if !named.is_empty() {
                return wanted.contains(&path)
                    || under.iter().any(|d| path.starts_with(d))
                    || builds.iter().any(|d| in_profile(&path, d, profile))
                    || (home_lock && !builds.is_empty())
                    || (cache && in_home(&flagged));
            }
            let ws = here.dirs.as_ref().map(|d| d.workspace_root.as_path());
            home_lock
                || (dirs.iter()).any(|(d, kind)| {
                    in_profile(&path, d, profile)
                        && match kind {
                            Dir::Target => taken_by_build_in(&path, d),
                            Dir::Build => true,
                            Dir::AboveBuild => ws.is_none_or(|ws| held_for_workspace(l, ws)),
                        }
                })
        })
        .collect();
    // The file at the path first: a build started now waits for its holder; one on a
    // deleted lock file is waited out too, but named after it (review V, V1).
    out.sort_by_key(|l| l.deleted);
    out
}

/// Runs `wait`.
pub fn run(ctx: &Context, args: Args) -> i32 {
    let (roots, named, here) = what_to_wait_for(ctx, &args);
    let checked = check_paths(&args.paths, &args.roots.project)
        .and_then(|()| check_profile(args.profile.as_deref(), &here));
    if let Err(message) = checked {
        return failed(args.json, &message);
    }
    let live = std::io::stderr().is_terminal();
    if args.json || !live {
        // A script reading how it ended gets its line on Ctrl-C, a CI cancel (SIGTERM) or a
        // closed session (SIGHUP) too (see `ENDED_BY`) (review M, N10).
        note_end_signals();
    } else {
        end_line_on_end_signals();
    }
    let mut watch = Watch::new(live);
    loop {
        let report = match super::status::fetch(ctx, &roots, ctx.no_daemon) {
            Ok(r) => r,
            Err(e) => return failed(args.json, &format!("{e:#}")),
        };
        if let Some(code) = watch.look(ctx, &args, &report, (&named, &here)) {
            return code;
        }
        let left = args
            .timeout
            .map(|t| t.saturating_sub(watch.start.elapsed()));
        std::thread::sleep(left.map_or(args.interval, |l| l.min(args.interval)));
    }
}

/// Says the error on stderr (and as JSON when asked); `wait`'s exit code for it.
fn failed(json: bool, message: &str) -> i32 {
    crate::say!("cargo-lockwatch: error: {message}");
    print_error(json, message);
    exit::ERROR
}

/// What `wait` remembers from one look to the next.
struct Watch {
    /// stderr is a terminal: one line rewritten in place.
    live: bool,
    start: Instant,
    /// A line was said already.
    printed: bool,
    /// Off a terminal a line is printed when the holder changes (pid and lock) or turns stale
    /// or stopped, not each time.
    last_said: Option<(Option<u32>, PathBuf, Note)>,
    /// The holder's registry was not answering when last seen: a build here may meet it next.
    last_registry: Option<String>,
    /// A deadlock seen on the last look too: a single look, taken while locks changed hands,
    /// could show one that is not there.
    deadlock_seen: bool,
}

impl Watch {
    fn new(live: bool) -> Watch {
        Watch {
            live,
            start: Instant::now(),
            printed: false,
            last_said: None,
            last_registry: None,
            deadlock_seen: false,
        }
    }

    /// One look at `report`: says who holds the lock a build here waits for, and returns the
    /// exit code once the wait is over (the lock free, a deadlock, a timeout or a signal).
    fn look(
        &mut self,
        ctx: &Context,
        args: &Args,
        report: &Report,
        (named, here): (&Wanted, &Here),
    ) -> Option<i32> {
        let blockers = blocking(report, named, here);
        let Some(l) = blockers.first().copied() else {
            say_free(
                self.live,
                self.printed.then_some(self.start),
                self.last_registry.as_deref(),
                || nothing_to_wait_for(named, here),
            );
            let registry = self.last_registry.as_deref();
            print_outcome(args.json, self.start, None, None, registry);
            return Some(exit::OK);
        };
        crate::shown::remember(&ctx.dirs.runtime, report);
        // Name the holder that is holding things up; one that is itself waiting says so.
        let holder = (l.holders.iter())
            .find(|h| h.role == Role::Blocker)
            .or(l.holders.first());
        // A holder that itself waits is a link of a chain: the root blocker behind it is the
        // one that holds everything up (review L, M3).
        let root = holder.and_then(|h| root_behind(h, &report.incidents));
        self.last_registry = (holder_incident(holder, root, &report.incidents))
            .and_then(|i| unanswered_registry(i, &root_id(holder, root)));
        // Live: one line rewritten in place, so it must fit the terminal (a wrapped line
        // would scroll). Piped: printed once, without a time that would always read 0s.
        let waited = self.live.then(|| self.start.elapsed().as_secs_f64());
        let mut parts = Line::of(l, holder, root, &report.incidents, waited);
        parts.note = editor_note(parts.note, holder, ctx.loaded.config.policy.yield_ide);
        self.say(l, holder, &parts);
        let deadlocked = parts.note == Note::Deadlock;
        let ending = Ending::of(
            ENDED_BY.load(std::sync::atomic::Ordering::Relaxed),
            deadlocked && self.deadlock_seen,
            (args.timeout).is_some_and(|t| self.start.elapsed() >= t),
        );
        self.deadlock_seen = deadlocked;
        let ending = ending?;
        if self.live {
            crate::say!();
        }
        let seen = Seen {
            lock: l,
            holder,
            root,
            incidents: &report.incidents,
            line: &parts,
        };
        Some(end_held(ending, &seen, args.json, self.start))
    }

    /// Says the line: rewritten in place on a terminal, else printed when it changed.
    fn say(&mut self, l: &LockReport, holder: Option<&HolderReport>, parts: &Line) {
        if self.live {
            crate::say_inline!("\r\x1b[2K{}", parts.fit(super::stderr_width()));
        } else {
            let now_said = (holder.map(|h| h.pid), l.path.clone(), parts.note.clone());
            if self.last_said.as_ref() != Some(&now_said) {
                let elapsed = render::duration(self.start.elapsed().as_secs_f64());
                match self.printed {
                    false => crate::say!("{}", parts.full()),
                    true => crate::say!("after {elapsed}: {}", parts.full()),
                }
                self.last_said = Some(now_said);
            }
        }
        self.printed = true;
    }
}

/// What the last look saw of the lock a wait ends on still held.
struct Seen<'a> {
    lock: &'a LockReport,
    holder: Option<&'a HolderReport>,
    root: Option<(&'a IncidentReport, &'a ProcessReport)>,
    incidents: &'a [IncidentReport],
    line: &'a Line,
}

/// Ends a wait that saw the lock still held: says how (and what ends the hold, when the
/// line's note did not), prints the `--json` outcome, and gives the exit code.
fn end_held(ending: Ending, seen: &Seen, json: bool, start: Instant) -> i32 {
    let line = seen.line;
    crate::say!("{}; still{}{}", ending.words(), line.held, line.note);
    let incident = holder_incident(seen.holder, seen.root, seen.incidents);
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let to_end = incident.and_then(|i| ToEnd::of(i, me));
    if let Some(said) = to_end.as_ref().and_then(|t| t.said(ending)) {
        crate::say!("cargo-lockwatch: {said}");
    }
    let held = seen.holder.map(|h| held_by(seen.lock, h, seen.incidents));
    let end = End { ending, to_end };
    print_outcome(json, start, Some((seen.lock, held)), Some(end), None);
    ending.code()
}

/// The roots to scan (with the build dirs and named places listed up front, so a hold is seen
/// even when its holder's descriptors cannot be read: another user's build), the paths named
/// on the command line, and what a build here uses.
fn what_to_wait_for(ctx: &Context, args: &Args) -> (crate::scan::WatchRoots, Wanted, Here) {
    let mut roots = super::status::roots_here(ctx);
    let dirs = super::status::dirs_here(args.target_dir.as_deref());
    let mut named = Wanted::from_args(
        &args.paths,
        &args.roots.project,
        args.target_dir.as_deref(),
        dirs.is_some(),
        &|d| super::status::dirs_in(d, args.target_dir.as_deref()),
    );
    named.homes = ctx.flags.cargo_homes.clone();
    let build_dirs = dirs.iter().flat_map(|d| [&d.target_dir, &d.build_dir]);
    let file_dirs: Vec<PathBuf> = (named.files.iter())
        .filter_map(|f| std::path::absolute(f).ok()?.parent().map(Path::to_path_buf))
        .collect();
    // Watched too: another user's holder cannot be asked which file it locked, so only a
    // lock file the scan knows under its roots is named (review W, W11).
    let named_dirs = (named.under.iter()).chain(&named.builds);
    for p in build_dirs.chain(named_dirs).chain(&file_dirs) {
        if !roots.projects.contains(p) {
            roots.projects.push(p.clone());
        }
    }
    // A cargo run here uses one Cargo home ($CARGO_HOME, else ~/.cargo): another watched
    // home's package cache holds up builds elsewhere, not this one (review L, M1). One named
    // with `--cargo-home` on this command line is waited for too (review M, N2).
    let here = Here {
        cargo_homes: homes_to_wait_for(&roots, &ctx.flags.cargo_homes),
        dirs,
        profile_dir: crate::cargo_dirs::profile_dir(args.release, args.profile.as_deref()),
    };
    (roots, named, here)
}

/// Says the wait is over: "free after 3s" (`waited_since` is set once a holder was named) with
/// any `warning`, or, at a terminal, that there was `nothing` to wait for (a script reads the
/// exit code, and gets no line).
fn say_free(
    live: bool,
    waited_since: Option<Instant>,
    warning: Option<&str>,
    nothing: impl FnOnce() -> String,
) {
    match waited_since {
        Some(start) => {
            if live {
                crate::say_inline!("\r\x1b[2K");
            }
            crate::say!(
                "free after {}",
                render::duration(start.elapsed().as_secs_f64())
            );
            if let Some(warning) = warning {
                crate::say!("cargo-lockwatch: note: {warning}");
            }
        }
        None if live => crate::say!("{}", nothing()),
        None => {}
    }
}

/// How `wait` ended, for `--json`.
#[derive(Debug, serde::Serialize)]
struct Outcome {
    /// Every lock waited for is free.
    free: bool,
    /// Seconds waited.
    waited_secs: f64,
    /// On a timeout: the lock still held.
    #[serde(serialize_with = "crate::core::text::lossy_path::opt")]
    lock: Option<PathBuf>,
    /// And who holds it (`null` when nobody can be inspected).
    held_by: Option<HeldBy>,
    /// Why it could not wait (exit 2): a path that is not there, locks that cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Ended by Ctrl-C (SIGINT), SIGTERM or SIGHUP while the lock was held (exit 128 + the
    /// signal: 130, 143, 129).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    interrupted: bool,
    /// Which of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    signal: Option<&'static str>,
    /// Stopped because the holder is deadlocked (exit 7): it never lets go on its own.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deadlocked: bool,
    /// The command that ends the hold, when it looks stuck (a deadlock's or a leftover's
    /// `kill`, a stopped holder's `resume`).
    #[serde(skip_serializing_if = "Option::is_none")]
    to_end: Option<String>,
    /// The user that process belongs to, when not the caller: only they (or root) can run it.
    #[serde(skip_serializing_if = "Option::is_none")]
    to_end_owner: Option<String>,
    /// Free, but what a build started now may meet: the holder let go while its registry
    /// answered nothing (it may have given up).
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

/// With `--json`, an error is a line too: a script reading how it ended gets one.
fn print_error(json: bool, message: &str) {
    let outcome = Outcome {
        free: false,
        waited_secs: 0.0,
        lock: None,
        held_by: None,
        error: Some(message.to_string()),
        interrupted: false,
        signal: None,
        deadlocked: false,
        to_end: None,
        to_end_owner: None,
        warning: None,
    };
    if json && let Ok(line) = serde_json::to_string(&outcome) {
        crate::tell!("{line}");
    }
}

/// Who holds the lock `wait` gave up on, for `--json`.
#[derive(Debug, serde::Serialize)]
struct HeldBy {
    pid: u32,
    name: ProcName,
    /// The lock's state, as `status --json` spells it (`held`, `contended`, `stale` …).
    state: LockState,
    /// Why the holder looks stale, as `status --json` says it; empty unless `state` is `stale`.
    stale_reasons: Vec<StaleReason>,
    /// The lock file was deleted under the holder (`cargo clean`): present, true, only then.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted_lock: bool,
    /// The holder's scheduler state (`stopped`: suspended, before it looks stale).
    process_state: ProcState,
    /// Where the holder came from (`ide` for an editor's or file watcher's check), and
    /// through what (`rust-analyzer`, `bacon`), as `status --json` says it (review T, T9).
    origin: crate::core::model::Origin,
    origin_via: Option<String>,
    /// When the holder itself waits (a chain): the root blocker behind it.
    #[serde(skip_serializing_if = "Option::is_none")]
    root: Option<RootBlocker>,
    /// The registry the holder (or that root) waits on, with nothing from it for
    /// `silent_secs` (review N, P8).
    #[serde(skip_serializing_if = "Option::is_none")]
    registry: Option<SilentRegistry>,
    /// The process that keeps the holder (or that root) stuck: one its build script left
    /// holding its output pipe (review P, R1).
    #[serde(skip_serializing_if = "Option::is_none")]
    culprit: Option<Named>,
    /// Its child (a build script) that is stopped: resuming the holder resumes it (review Q,
    /// S10).
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped_child: Option<StoppedChild>,
}

/// A holder's stopped child, for `--json`: the kernel's short name (`build-script-bu`) says
/// little, so a build script's package is given too (review T, T9).
#[derive(Debug, serde::Serialize)]
struct StoppedChild {
    pid: u32,
    name: ProcName,
    #[serde(skip_serializing_if = "Option::is_none")]
    build_script_of: Option<String>,
}

/// A process keeping a blocker stuck, for `--json`.
#[derive(Debug, serde::Serialize)]
struct Named {
    pid: u32,
    name: ProcName,
}

/// The root blocker of a chain behind the holder, for `--json`.
#[derive(Debug, serde::Serialize)]
struct RootBlocker {
    pid: u32,
    name: ProcName,
    /// The state of its lock that the chain waits for, spelled as `held_by.state`:
    /// `contended`, or `stale` when its incident is.
    state: LockState,
    /// Why it looks stale (its incident's `stale_reasons`); empty unless `state` is `stale`.
    stale_reasons: Vec<StaleReason>,
    /// Its scheduler state, as `held_by.process_state`: `stopped` before it looks stale
    /// (review M, N14).
    process_state: ProcState,
}

impl RootBlocker {
    /// The root blocker `b` of incident `i`.
    fn of(i: &IncidentReport, b: &ProcessReport) -> RootBlocker {
        let state = match i.state {
            IncidentState::Stale => LockState::Stale,
            IncidentState::Blocking => LockState::Contended,
            IncidentState::Holding => LockState::Held,
        };
        let stale_reasons = match state {
            LockState::Stale => i.stale_reasons.clone(),
            _ => Vec::new(),
        };
        RootBlocker {
            pid: b.pid,
            name: b.name.clone(),
            state,
            stale_reasons,
            process_state: b.process_state,
        }
    }
}

/// `holder` of `l` for `--json`, with the lock's state and, when stale, why: the holder's own
/// reasons, else those of the incident it is the blocker of; and when it itself waits, the
/// root blocker behind it.
fn held_by(l: &LockReport, holder: &HolderReport, incidents: &[IncidentReport]) -> HeldBy {
    let stale_reasons = match l.state {
        LockState::Stale if !holder.stale_reasons.is_empty() => holder.stale_reasons.clone(),
        LockState::Stale => (incidents.iter())
            .find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == holder.pid))
            .map(|i| i.stale_reasons.clone())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let incident = holder_incident(Some(holder), root_behind(holder, incidents), incidents);
    HeldBy {
        pid: holder.pid,
        name: holder.name.clone(),
        state: waited_for_state(l.state),
        stale_reasons,
        deleted_lock: l.deleted,
        process_state: holder.process_state,
        origin: holder.origin,
        origin_via: holder.origin_via.clone(),
        root: root_behind(holder, incidents).map(|(i, b)| RootBlocker::of(i, b)),
        registry: incident.and_then(silent_registry),
        culprit: (incident.and_then(|i| i.culprit.as_ref())).map(|c| Named {
            pid: c.pid,
            name: c.name.clone(),
        }),
        stopped_child: incident.and_then(|i| match &i.doing {
            Doing::ChildStopped {
                pid,
                name,
                crate_name,
            } => Some(StoppedChild {
                pid: *pid,
                name: name.clone(),
                build_script_of: crate_name.clone(),
            }),
            _ => None,
        }),
    }
}

/// Whose holder `h` is when it is another user's, as the blocker it is in `incidents` says:
/// `root's`, for `cargo 4242 (root's, held 3s)` (review W, W11).
fn owner(h: &HolderReport, incidents: &[IncidentReport]) -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let b = (incidents.iter())
        .filter_map(|i| i.blocker.as_ref())
        .find(|b| b.pid == h.pid && b.uid != me)?;
    Some(match &b.user {
        Some(u) => format!("{u}'s"),
        None => format!("uid {}'s", b.uid),
    })
}

/// The holder as the line names it: `cargo 4242 (held 3s)`; one that itself waits says so,
/// and names the root blocker behind it when the report knows it:
/// `cargo 4250 (held 15s, itself waiting) behind cargo 4242 (stopped)`.
fn holder_words(
    h: &HolderReport,
    root: Option<(&IncidentReport, &ProcessReport)>,
    owner: Option<String>,
) -> String {
    // Already held when the daemon first looked: a lower bound, left out when it says
    // nothing (under a second).
    let told =
        (h.held_for_secs).and_then(|s| crate::core::text::duration_if_told(s, h.held_since_known));
    // A hold found already going on has only bounds: the process's age is the one said, so
    // the line keeps one clock while it waits (not "up 4s", then "held ≥ 2s") (review P, R15).
    let held = match (h.held_since_known, told, h.running_for_secs) {
        (true, Some(told), _) => format!("held {told}"),
        (_, _, Some(up)) => format!("up {}", render::duration(up)),
        (_, Some(told), None) => format!("held {told}"),
        (_, None, None) => "held".into(),
    };
    let held = match owner {
        Some(o) => format!("{o}, {held}"),
        None => held,
    };
    match root {
        Some((i, b)) => format!(
            "{} {} ({held}, itself waiting) behind {} {}{}",
            h.name,
            h.pid,
            b.name,
            b.pid,
            doing_word(&i.doing)
        ),
        None if h.role == Role::Blocked => {
            format!(
                "{} {} ({held}, itself waiting for another lock)",
                h.name, h.pid
            )
        }
        None => format!("{} {} ({held})", h.name, h.pid),
    }
}

/// What a root blocker is stuck on, as `status`'s headline says it: ` (stopped)`; empty while
/// it looks at work.
fn doing_word(doing: &Doing) -> String {
    match doing {
        Doing::Stopped => " (stopped)".into(),
        Doing::ChildStopped { .. } => " (a child is stopped)".into(),
        Doing::Deadlocked => " (deadlocked)".into(),
        Doing::WaitingForPipe { culprit_name, .. } => format!(" (stuck on {culprit_name})"),
        _ => String::new(),
    }
}

/// When `holder` itself waits (a chain): the incident it is blocked in and that incident's
/// root blocker, the process that holds everything up.
fn root_behind<'a>(
    holder: &HolderReport,
    incidents: &'a [IncidentReport],
) -> Option<(&'a IncidentReport, &'a ProcessReport)> {
    let i = (incidents.iter()).find(|i| i.blocked.iter().any(|b| b.process.pid == holder.pid))?;
    let root = i.blocker.as_ref().filter(|b| b.pid != holder.pid)?;
    Some((i, root))
}

/// The Cargo homes whose package cache `wait` waits for by default: the one a cargo run here
/// uses and those `named` on the command line, each as given and as resolved (the daemon
/// names locks by their real paths).
fn homes_to_wait_for(roots: &crate::scan::WatchRoots, named: &[PathBuf]) -> Vec<PathBuf> {
    let mut homes = super::status::own_cargo_homes(roots);
    for h in named
        .iter()
        .flat_map(|h| [Some(h.clone()), h.canonicalize().ok()])
    {
        if let Some(h) = h.filter(|h| !homes.contains(h)) {
            homes.push(h);
        }
    }
    homes
}

/// The least that names `h`: `cargo 4242`, or behind a chain `cargo 4250 behind cargo 4242`.
fn holder_id(h: &HolderReport, root: Option<(&IncidentReport, &ProcessReport)>) -> String {
    match root {
        Some((_, b)) => format!("{} {} behind {} {}", h.name, h.pid, b.name, b.pid),
        None => format!("{} {}", h.name, h.pid),
    }
}

/// The incident of the blocker holding things up: behind a chain, the root blocker's, the one
/// the line names last; else the holder's own.
fn holder_incident<'a>(
    holder: Option<&HolderReport>,
    root: Option<(&'a IncidentReport, &ProcessReport)>,
    incidents: &'a [IncidentReport],
) -> Option<&'a IncidentReport> {
    let own = || {
        let h = holder?;
        incidents
            .iter()
            .find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == h.pid))
    };
    root.map(|(i, _)| i).or_else(own)
}

/// What the history says the blocker's command usually takes here (` · usually 2m here`):
/// behind a chain, the root blocker's, the one the line names last.
fn usually(
    holder: Option<&HolderReport>,
    root: Option<(&IncidentReport, &ProcessReport)>,
    incidents: &[IncidentReport],
) -> String {
    holder_incident(holder, root, incidents)
        .and_then(|i| i.typical_hold)
        .map(|t| format!(" · usually {} here", render::duration(t.median_secs)))
        .unwrap_or_default()
}

/// The registry `i`'s blocker waits on, with how long nothing has come from it: across its
/// tries as the daemon follows them, else on the connection open now.
fn silent_registry(i: &IncidentReport) -> Option<SilentRegistry> {
    let Doing::Network {
        peer,
        idle_for_secs,
        silence,
        git,
    } = &i.doing
    else {
        return None;
    };
    let silent_secs = match silence {
        Some(s) => s.nothing_received.then_some(s.silent_for_secs)?,
        None => (*idle_for_secs)?,
    };
    Some(SilentRegistry {
        peer: peer.clone(),
        silent_secs,
        git_url: git.as_ref().map(|g| g.url.clone()),
    })
}

/// What the holder waits on: a registry, or the server of a git repository it fetches.
fn server_words(git: bool) -> &'static str {
    if git { "git server" } else { "registry" }
}

/// A registry the holder waits on, for `--json` (`held_by.registry`).
#[derive(Debug, Clone, serde::Serialize)]
struct SilentRegistry {
    /// `host:port`.
    peer: String,
    /// Seconds with nothing from it.
    silent_secs: f64,
    /// The git repository it fetches there, when it is a git server rather than a registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    git_url: Option<String>,
}

/// Whether `i`'s blocker waits on a registry that is not answering: a whole try went
/// unanswered (the incident carries the network advice then).
fn registry_not_answering(i: &IncidentReport) -> bool {
    i.advice
        .as_ref()
        .is_some_and(|a| a.topic == crate::core::insight::Topic::Network)
        && matches!(i.doing, Doing::Network { .. })
}

/// Whether `i`'s blocker fetches a git repository that has sent nothing, which Cargo may never
/// give up on: the line says so at once (review Z, Z5).
fn silent_git_fetch(i: &IncidentReport) -> bool {
    matches!(
        &i.doing,
        Doing::Network { git: Some(_), silence: Some(s), .. } if s.nothing_received
    )
}

/// Silence from a registry this long, when the holder lets go, may mean it gave up (a cargo
/// with `http.timeout` 15 s and no retry gives up after one try).
const GAVE_UP_SILENT_SECS: f64 = 10.0;

/// What to say when the lock comes free after `i`'s blocker (`who`) let go while its registry
/// was not answering: it may have given up, and a build here would ask the same registry
/// (review M, N8; review N, P6).
fn unanswered_registry(i: &IncidentReport, who: &str) -> Option<String> {
    let r = silent_registry(i)?;
    (registry_not_answering(i) || r.silent_secs >= GAVE_UP_SILENT_SECS).then(|| {
        let (from, that) = match &r.git_url {
            Some(url) => (
                format!("{} ({})", crate::core::text::printable(url), r.peer),
                "that repository",
            ),
            None => (r.peer.clone(), "that registry"),
        };
        format!(
            "{who} was getting nothing from {from} when it let go: if it gave up, a build here \
             that needs {that} will likely meet the same silence, one that needs nothing from \
             it goes on (`cargo lockwatch history` has the advice)"
        )
    })
}

/// `cargo 4242`, the blocker a line names last: behind a chain, the root.
fn root_id(
    holder: Option<&HolderReport>,
    root: Option<(&IncidentReport, &ProcessReport)>,
) -> String {
    match (root, holder) {
        (Some((_, b)), _) => format!("{} {}", b.name, b.pid),
        (None, Some(h)) => format!("{} {}", h.name, h.pid),
        (None, None) => "a process you cannot inspect".into(),
    }
}

/// The state of a lock `wait` waits for, for `--json`: a `.cargo-lock` held shared that
/// nobody else waits for is `background` in the report, but this build waits for it, so it
/// is `held` here, a hold that keeps a build waiting (review L, M12).
fn waited_for_state(state: LockState) -> LockState {
    match state {
        LockState::Background => LockState::Held,
        other => other,
    }
}

/// What the waiting line adds about the holder: that it looks stale, or is stopped (Ctrl-Z, a
/// debugger) and will not let go until resumed; nothing while it looks alive. Behind a chain,
/// the incident of the root blocker (`root`) says so for it. Off a terminal a new line is
/// printed when this changes, so a log says it too.
fn holder_note(
    l: &LockReport,
    holder: Option<&HolderReport>,
    root: Option<&IncidentReport>,
) -> Note {
    let stale =
        l.state == LockState::Stale || root.is_some_and(|i| i.state == IncidentState::Stale);
    // The stopped one: the holder, or behind a chain the root blocker, or a child of it (a
    // build script), which resuming the blocker resumes (review Q, S10).
    let blocker_of = |i: &IncidentReport| i.blocker.as_ref().map(|b| b.pid);
    let stopped = (holder.filter(|h| h.process_state == ProcState::Stopped))
        .map(|h| (h.pid, None))
        .or_else(|| match root.map(|i| (i, &i.doing)) {
            Some((i, Doing::Stopped)) => blocker_of(i).map(|b| (b, None)),
            Some((i, Doing::ChildStopped { pid, .. })) => blocker_of(i).map(|b| (b, Some(*pid))),
            _ => None,
        });
    let culprit = root.and_then(|i| i.culprit.as_ref());
    if root.is_some_and(|i| i.deadlock.is_some()) {
        Note::Deadlock
    } else if let Some(c) = culprit {
        Note::Leftover {
            who: words::who(c),
            pid: c.pid,
            by: (root.and_then(|i| i.culprit_left_by.as_ref()))
                .map_or_else(|| "a build script".into(), |l| l.words()),
        }
    } else if let Some((pid, child)) = stopped {
        // Said before "stale": the way out is to resume it (review P, R11).
        let fg =
            (root.and_then(|i| i.blocker.as_ref())).is_some_and(|b| b.pid == pid && b.in_terminal);
        Note::Stopped {
            pid,
            child,
            stale,
            fg,
        }
    } else if stale {
        Note::Stale
    } else if let Some(i) = root.filter(|i| registry_not_answering(i) || silent_git_fetch(i)) {
        Note::Registry {
            git: matches!(i.doing, Doing::Network { git: Some(_), .. }),
        }
    } else if l.deleted {
        Note::DeletedLock
    } else {
        Note::Alive
    }
}

/// `note`, or for a live holder that is an editor's or file watcher's background check, a note
/// saying so, and whether a build started now would go first (`yield_ide`).
fn editor_note(note: Note, holder: Option<&HolderReport>, yield_ide: bool) -> Note {
    let editor_check = holder.is_some_and(|h| {
        h.origin == crate::core::model::Origin::Ide
            && crate::core::yield_ide::is_background_check(&h.cmd)
    });
    match note {
        Note::Alive if editor_check => Note::EditorCheck { yields: yield_ide },
        note => note,
    }
}

/// Whether the wait can end by itself, as the line says it (see [`holder_note`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Note {
    /// The holder looks alive: nothing is said.
    Alive,
    /// Process `pid` is stopped (Ctrl-Z, a debugger), or its `child` (a build script) is:
    /// resuming it is the way out; `stale` once it looks stale (a log gets a line for each).
    Stopped {
        pid: u32,
        child: Option<u32>,
        stale: bool,
        /// A terminal controls it: `fg` there resumes it too (review X, X13).
        fg: bool,
    },
    /// Looks stale.
    Stale,
    /// Its lock file was deleted under it (`cargo clean`): a build started now would not wait
    /// for it, but would write beside it; waiting for it is still right (review Y, Y5).
    DeletedLock,
    /// A deadlock (a build script's cargo waits for its own parent): it never ends on its own
    /// (review N, P9).
    Deadlock,
    /// Waits on a registry that has not answered a whole try (review N, P8).
    Registry {
        /// It is a git server (the holder fetches a git repository).
        git: bool,
    },
    /// Waits for process `pid` (`who`, as `status` names it: `sleep 4250`), which a build
    /// script (`by`: "the build script of gdep, a git dependency") left holding its output
    /// pipe, to end: that one is to stop (review O, Q3; review X, X8).
    Leftover { who: String, pid: u32, by: String },
    /// An editor's or file watcher's background check, alive: with `yield_ide` on (`yields`),
    /// a build started now goes first, and waiting it out is slower than starting (review Q,
    /// S11).
    EditorCheck { yields: bool },
}

impl Note {
    /// As the line ends: `— looks STALE: see `cargo lockwatch status``; empty while alive.
    fn said(&self) -> String {
        match self {
            Note::Alive => String::new(),
            Note::Stopped {
                pid,
                child: None,
                stale,
                fg,
            } => format!(
                " — {}STOPPED (Ctrl-Z?): `cargo lockwatch resume {pid}`{}",
                if *stale {
                    "looks STALE, it is "
                } else {
                    "it is "
                },
                if *fg { ", or `fg` in its terminal" } else { "" }
            ),
            Note::Stopped {
                pid,
                child: Some(child),
                stale,
                ..
            } => format!(
                " — {}its child {child} is STOPPED: `cargo lockwatch resume {pid}`",
                if *stale { "looks STALE, " } else { "" }
            ),
            Note::Stale => " — looks STALE: see `cargo lockwatch status`".into(),
            Note::DeletedLock => " — its lock file was DELETED (cargo clean?): a build started \
                now would not wait for it but would write beside it; wait for it to end"
                .into(),
            Note::Deadlock => {
                " — DEADLOCKED: it never ends on its own; see `cargo lockwatch status`".into()
            }
            Note::Registry { git } => format!(
                " — its {} is not answering: see `cargo lockwatch status`",
                server_words(*git)
            ),
            Note::Leftover { who, pid, by } => {
                format!(" — STUCK on {who}, left by {by}: `cargo lockwatch kill {pid}`")
            }
            Note::EditorCheck { yields: true } => " — an editor's check: a build started now \
                goes first (yield_ide), so start it rather than wait"
                .into(),
            Note::EditorCheck { yields: false } => {
                " — an editor's check: `yield_ide = true` lets your builds go first".into()
            }
        }
    }

    /// Shorter, then shortest, for a terminal too narrow for [`Note::said`].
    fn shorter(&self) -> [String; 2] {
        let [a, b] = match self {
            Note::Alive => ["", ""],
            Note::Stopped {
                pid, child, stale, ..
            } => {
                let state = match (child, stale) {
                    (Some(c), _) => format!("child {c} STOPPED"),
                    (None, true) => "STALE, STOPPED".into(),
                    (None, false) => "it is STOPPED".into(),
                };
                // A command that runs, or none (review U, U5).
                return [
                    format!(" — {state}: cargo lockwatch resume {pid}"),
                    " — STOPPED".to_string(),
                ];
            }
            Note::Stale => [" — looks STALE", " — STALE"],
            Note::DeletedLock => [" — its lock file was DELETED", " — DELETED"],
            Note::Deadlock => [" — DEADLOCKED, never ends", " — DEADLOCKED"],
            Note::Registry { git } => {
                return [
                    format!(" — its {} is not answering", server_words(*git)),
                    " — NO ANSWER".to_string(),
                ];
            }
            Note::Leftover { who, pid, .. } => {
                return [format!(" — STUCK on {who}"), format!(" — STUCK on {pid}")];
            }
            Note::EditorCheck { .. } => [" — an editor's check", " — IDE CHECK"],
        };
        [a.to_string(), b.to_string()]
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.said())
    }
}

/// The waiting line in its parts, so that a terminal too narrow for all of it keeps what says
/// how long the lock is held and whether the wait can end (review L, M4), and the holder's pid
/// whole (review M, N1).
struct Line {
    /// `waiting 3s for artifact directory`.
    head: String,
    /// `waiting 3s`: the head of the brief forms.
    waiting: String,
    /// `cargo 4242 (held 3m10s)`: the holder as `held` names it.
    who: String,
    /// ` of ~/p/other`: the lock's project, when it is not here.
    of: String,
    /// ` held by cargo 4242 (held 3m10s)`.
    held: String,
    /// ` in ~/p/other`: where its holder runs, when the lock has no project and it is not here.
    at: String,
    /// ` · usually 2m here`.
    usually: String,
    /// Stale, stopped, deadlocked, kept by a leftover process, or on a silent registry.
    note: Note,
    /// `cargo 4242`, or `cargo 4250 behind cargo 4242` behind a chain: the least that says
    /// whom to look at.
    id: String,
    /// `cargo 4242`: the one to act on, behind a chain its root: what the narrowest line keeps
    /// (review N, P1).
    root: String,
}

impl Line {
    /// The line for lock `l`, held by `holder` (behind it the `root` of a chain), with how long
    /// this wait has lasted when it is said live (`waited`).
    fn of(
        l: &LockReport,
        holder: Option<&HolderReport>,
        root: Option<(&IncidentReport, &ProcessReport)>,
        incidents: &[IncidentReport],
        waited: Option<f64>,
    ) -> Line {
        let waited = waited.map_or(String::new(), |w| format!(" {}", render::duration(w)));
        let who = holder
            .map(|h| holder_words(h, root, owner(h, incidents)))
            .unwrap_or_else(|| "a process you cannot inspect".into());
        // Where, when it is not here: a shared target dir, or a lock named from elsewhere.
        let here = std::env::current_dir().ok();
        let elsewhere = |p: &Option<PathBuf>| {
            p.clone()
                .filter(|p| Some(p) != here.as_ref())
                .map(|p| crate::core::text::tilde(&p))
        };
        let of = elsewhere(&l.project_dir).map_or_else(String::new, |p| format!(" of {p}"));
        let at = (holder.and_then(|h| elsewhere(&workplace(&h.cmd, h.cwd.as_deref()))))
            .filter(|_| l.project_dir.is_none())
            .map_or_else(String::new, |c| format!(" in {c}"));
        let what = words::cargo_words(incidents, &l.path, &l.description);
        // A shared hold of a `.cargo-lock` (a newer or nightly cargo's) holds up an older build.
        let shared = match holder.map(|h| h.mode) {
            Some(LockMode::Shared) => " shared",
            _ => "",
        };
        let note = holder_note(l, holder, holder_incident(holder, root, incidents));
        // What a build usually takes says nothing of one that cannot go on (review Q, S8).
        let usually = match &note {
            Note::Alive | Note::Registry { .. } => usually(holder, root, incidents),
            _ => String::new(),
        };
        Line {
            head: format!("waiting{waited} for {what}"),
            waiting: format!("waiting{waited}"),
            of,
            held: format!(" held{shared} by {who}"),
            who,
            at,
            usually,
            note,
            id: holder.map_or_else(
                || "a process you cannot inspect".into(),
                |h| holder_id(h, root),
            ),
            root: root_id(holder, root),
        }
    }

    /// All of it, as a script's log gets it.
    fn full(&self) -> String {
        self.tries()[0].clone()
    }

    /// The line whole, then without its optional parts one after another, widest first, then
    /// without the lock's and the holder's words: `waiting 3s · cargo 4242 — STALE`.
    fn tries(&self) -> [String; 11] {
        let Line {
            head,
            waiting,
            who,
            of,
            held,
            at,
            usually,
            note,
            id,
            root,
        } = self;
        let [brief, word] = note.shorter();
        [
            format!("{head}{of}{held}{at}{usually}{note}"),
            format!("{head}{held}{at}{usually}{note}"),
            format!("{head}{held}{usually}{note}"),
            format!("{head}{held}{note}"),
            format!("{head}{held}{brief}"),
            // A command to run goes before the lock's words (review U, U5).
            match brief.contains("cargo lockwatch") {
                true => format!("{waiting} · {who}{brief}"),
                false => format!("{head}{held}{word}"),
            },
            format!("{head}{held}{word}"),
            format!("{waiting} · {who}{word}"),
            format!("{waiting} · {id}{word}"),
            format!("{waiting} · {root}{word}"),
            format!("{root}{word}"),
        ]
    }

    /// The line for a terminal `width` columns wide (less one, as [`fit`]): when all of it does
    /// not fit, the optional parts go first (the lock's project, the holder's directory, the
    /// usual hold time, then the pointer to `status` and words of the note), so the hold time
    /// and STALE or STOPPED stay; then the lock's words and the hold time, then the chain's
    /// waiting link and the time waited, so the pid to act on stays whole (review N, P1); only
    /// a terminal narrower than that cuts it.
    fn fit(&self, width: Option<usize>) -> String {
        let Some(w) = width.filter(|w| *w > 1) else {
            return self.full();
        };
        if let Some(line) = (self.tries().into_iter()).find(|l| l.chars().count() < w) {
            return line;
        }
        // Narrower than `cargo 4242 — STALE`: what fits of it.
        let [_, word] = self.note.shorter();
        fit(&format!("{}{word}", self.root), width)
    }
}

/// Prints the outcome as one JSON line when `json`; `still` is the lock still held and who
/// holds it, `ended_by` the signal that ended the wait (SIGINT, SIGTERM, SIGHUP), and `warning`
/// what a build started now may meet (see [`unanswered_registry`]).
fn print_outcome(
    json: bool,
    start: Instant,
    still: Option<(&LockReport, Option<HeldBy>)>,
    end: Option<End>,
    warning: Option<&str>,
) {
    if !json {
        return;
    }
    let free = still.is_none();
    let (lock, held_by) = still.map_or((None, None), |(l, h)| (Some(l.path.clone()), h));
    let ended_by = match end.as_ref().map(|e| e.ending) {
        Some(Ending::Signal(sig)) => Some(sig),
        _ => None,
    };
    let deadlocked = end.as_ref().is_some_and(|e| e.ending == Ending::Deadlock);
    let outcome = Outcome {
        free,
        waited_secs: start.elapsed().as_secs_f64(),
        lock,
        held_by,
        error: None,
        interrupted: ended_by.is_some(),
        signal: ended_by.map(signal_name),
        deadlocked,
        to_end_owner: end.as_ref().and_then(|e| e.to_end.as_ref()?.owner.clone()),
        to_end: end.and_then(|e| e.to_end).map(|t| t.command),
        warning: warning.map(str::to_string),
    };
    if let Ok(line) = serde_json::to_string(&outcome) {
        crate::tell!("{line}");
    }
}

/// A `--profile` the workspace here does not define is a typo: cargo refuses it, and waiting
/// for its directory would say "free" whatever holds the real one (review Q, S5).
fn check_profile(profile: Option<&str>, here: &Here) -> Result<(), String> {
    let (Some(name), Some(d)) = (profile, &here.dirs) else {
        return Ok(());
    };
    match crate::cargo_dirs::profile_defined(&d.workspace_root, name) {
        Some(false) => Err(format!(
            "profile `{name}` is not defined in {} (built-in: dev, release, test, bench)",
            crate::core::text::tilde(&d.workspace_root.join("Cargo.toml"))
        )),
        _ => Ok(()),
    }
}

/// Notes the named paths that do not exist: a lock file a build has not made yet is free, but
/// a path whose directory does not exist either is a typo, not a free lock; so is a
/// `--project` that does not exist (`wait --project typo && cargo build` would go ahead).
fn check_paths(paths: &[PathBuf], projects: &[PathBuf]) -> Result<(), String> {
    if let Some(p) = projects.iter().find(|p| !p.exists()) {
        return Err(format!(
            "--project {} does not exist: check the path",
            p.display()
        ));
    }
    // A file that is not one of Cargo's lock files is never in a report: it would read as
    // free whoever holds it, and `wait FILE && cargo build` would go ahead.
    // A manifest names its project.
    let odd = |p: &&PathBuf| {
        // Any file but a directory: a device or a socket is never a lock file either.
        p.metadata().is_ok_and(|m| !m.is_dir())
            && p.file_name() != Some(std::ffi::OsStr::new("Cargo.toml"))
            && crate::core::catalog::classify(p).is_none()
    };
    if let Some(p) = paths.iter().find(odd) {
        return Err(format!(
            "{} is not one of Cargo's lock files, which are all lockwatch watches: name a lock \
             file (such as ~/.cargo/.package-cache or target/debug/.cargo-lock), a project or \
             a directory",
            p.display()
        ));
    }
    for p in paths.iter().filter(|p| !p.exists()) {
        // A missing path that is not a lock file is a typo (a project or directory that is
        // not there), which must not read as "free".
        if crate::core::catalog::classify(p).is_none() {
            return Err(format!(
                "{} does not exist: check the path (a lock file Cargo has not made yet, such \
                 as target/debug/.cargo-lock, may be named before it exists)",
                p.display()
            ));
        }
        // A lock file Cargo has not made yet is free: beside files that exist, or in a
        // project never built or cleaned since (its `target` is gone); elsewhere, a typo.
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let existing = abs.ancestors().skip(1).find(|a| a.is_dir());
        let made_later =
            existing.is_some_and(|d| Some(d) == abs.parent() || d.join("Cargo.toml").is_file());
        if !made_later {
            return Err(format!(
                "{} does not exist, nor does its directory or a project above it: check the \
                 path",
                p.display()
            ));
        }
        crate::say!(
            "cargo-lockwatch: note: {} does not exist yet, so nothing holds it",
            p.display()
        );
    }
    Ok(())
}

/// The signal that asked the wait to end (SIGINT, SIGTERM or SIGHUP), 0 while none has: the
/// loop then prints how the wait ended and exits 128 + it.
static ENDED_BY: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// The signals that end a wait: Ctrl-C, a CI job cancelled or timed out (`timeout`, `docker
/// stop`), a closed terminal.
const END_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// With `--json` or off a terminal, an ending signal is noted (see [`ENDED_BY`]) rather than
/// ending the process: the loop sees it within one interval.
fn note_end_signals() {
    extern "C" fn on_signal(sig: libc::c_int) {
        ENDED_BY.store(sig, std::sync::atomic::Ordering::Relaxed);
    }
    on_end_signals(on_signal);
}

/// An ending signal during the live line ends the line first, so the shell's prompt starts on
/// its own.
fn end_line_on_end_signals() {
    extern "C" fn on_signal(sig: libc::c_int) {
        // SAFETY: write(2) and _exit(2) are async-signal-safe; the buffer is a static.
        unsafe {
            libc::write(2, b"\n".as_ptr().cast(), 1);
            libc::_exit(128 + sig);
        }
    }
    on_end_signals(on_signal);
}

/// Installs `handler` for [`END_SIGNALS`]; it must make only async-signal-safe calls (both
/// above do).
fn on_end_signals(handler: extern "C" fn(libc::c_int)) {
    for sig in END_SIGNALS {
        // SAFETY: `action` is fully initialised (zeroed, then the handler and an empty mask
        // set) before sigaction reads it; the handler's own safety is the caller's (see above).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// `SIGTERM`, as the JSON names the signal that ended a wait.
fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

/// What the last line says of the signal that ended the wait.
/// Why `wait` stopped while a lock was still held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// SIGINT, SIGTERM or SIGHUP (exit 128 + the signal).
    Signal(i32),
    /// The holder is deadlocked (seen twice in a row): no wait ends that (exit 7).
    Deadlock,
    /// `--timeout` passed (exit 3).
    Timeout,
}

impl Ending {
    /// The ending, if any: a signal first, then a deadlock, then the timeout.
    fn of(sig: i32, deadlocked: bool, timed_out: bool) -> Option<Ending> {
        match (sig, deadlocked, timed_out) {
            (0, true, _) => Some(Ending::Deadlock),
            (0, false, true) => Some(Ending::Timeout),
            (0, false, false) => None,
            (sig, _, _) => Some(Ending::Signal(sig)),
        }
    }

    fn words(self) -> &'static str {
        match self {
            Ending::Signal(sig) => ended_words(sig),
            Ending::Deadlock => "stopped waiting",
            Ending::Timeout => "timed out",
        }
    }

    fn code(self) -> i32 {
        match self {
            Ending::Signal(sig) => 128 + sig,
            Ending::Deadlock => exit::DEADLOCKED,
            Ending::Timeout => exit::TIMEOUT,
        }
    }
}

/// `p`'s owner (`root`, or `uid 1001`), unless it is `me`.
fn owner_unless(p: &ProcessReport, me: u32) -> Option<String> {
    (p.uid != me).then(|| match &p.user {
        Some(name) => name.clone(),
        None => format!("uid {}", p.uid),
    })
}

/// How a wait that did not see the lock free ended, for `--json`.
struct End {
    ending: Ending,
    /// What ends the hold, when the incident says.
    to_end: Option<ToEnd>,
}

/// What ends a hold that looks stuck: the incident's action (a deadlock's or a leftover's
/// kill, a stopped holder's resume), and whose process that is when not the caller's.
#[derive(Debug, Clone, PartialEq)]
struct ToEnd {
    command: String,
    resume: bool,
    /// Its owner (`root`, or `uid 1001`), when not the caller (uid `me`).
    owner: Option<String>,
}

impl ToEnd {
    fn of(i: &IncidentReport, me: u32) -> Option<ToEnd> {
        let Some(a) = &i.action else {
            // A leftover keeps its cargo stuck before anyone waits for the verdict: the
            // command is the same (review Q, S8).
            let c = i.culprit.as_ref()?;
            return Some(ToEnd {
                command: crate::core::model::kill_command(c.pid, c.sigterm.futile()),
                resume: false,
                owner: owner_unless(c, me),
            });
        };
        let target = (i.culprit.iter().chain(&i.blocker)).find(|p| p.pid == a.pid);
        let owner = target.and_then(|p| owner_unless(p, me));
        Some(ToEnd {
            command: a.command.clone(),
            resume: a.resume,
            owner,
        })
    }

    /// The line after the wait's last, when it says more than the note did: always behind a
    /// deadlock, and whenever the process is another user's (review P, R16).
    fn said(&self, ending: Ending) -> Option<String> {
        let whose = self
            .owner
            .as_ref()
            .map(|o| format!("; it belongs to {o}, not to you: run it as that user, or ask them"));
        let what = match (ending, self.resume) {
            (Ending::Deadlock, _) => "ends the deadlock (the build it runs fails)",
            (_, true) => "lets it go on",
            (_, false) => "ends it",
        };
        (ending == Ending::Deadlock || whose.is_some())
            .then(|| format!("`{}` {what}{}", self.command, whose.unwrap_or_default()))
    }
}

fn ended_words(sig: i32) -> &'static str {
    match sig {
        libc::SIGTERM => "terminated",
        libc::SIGHUP => "hung up",
        _ => "interrupted",
    }
}

/// `line` cut to fit in `width` columns (less one, so the cursor stays on the line), with `…`.
fn fit(line: &str, width: Option<usize>) -> String {
    match width {
        Some(w) if w > 1 && line.chars().count() >= w => {
            let mut cut: String = line.chars().take(w - 2).collect();
            cut.push('…');
            cut
        }
        _ => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(path: &str, kind: &str, project: Option<&str>, mode: &str) -> serde_json::Value {
        serde_json::json!({
            "path": path, "kind": kind, "description": "x", "state": "held", "deleted": false,
            "project_dir": project, "verdict": "busy", "stop_command": null, "waiters": [],
            "holders": [{
                "pid": 10, "role": "blocker", "mode": mode, "name": "cargo", "cmd": [], "cwd": null,
                "process_state": "sleeping", "origin": "terminal", "origin_via": null,
                "inherited": false, "held_for_secs": null, "running_for_secs": 1.0,
                "tree_cpu_secs": 0.0, "ppid": 1, "ancestors": [], "start_token": 1,
                "stale": false, "stale_reasons": []
            }]
        })
    }

    /// Where `wait` runs: Cargo home `/h`, a workspace at `root` building into `target`.
    fn here_in(root: &str, target: &str) -> Here {
        Here {
            cargo_homes: vec!["/h".into()],
            dirs: Some(BuildDirs {
                workspace_root: root.into(),
                target_dir: target.into(),
                build_dir: target.into(),
                build_dir_partial: false,
            }),
            profile_dir: "debug".into(),
        }
    }

    #[test]
    fn blocks_on_this_home_and_this_workspace_only() {
        let report: Report = serde_json::from_value(serde_json::json!({
            "schema_version": 2, "incidents": [],
            "source": "scan", "observed_at": 0.0, "cargo_homes": ["/h"],
            "locks": [
                lock("/h/.package-cache", "package-cache", None, "exclusive"),
                lock("/other-home/.package-cache", "package-cache", None, "exclusive"),
                lock("/h/.package-cache-mutate", "package-cache-mutate", None, "shared"),
                lock("/ws/target/debug/.cargo-lock", "profile-directory", Some("/ws"), "exclusive"),
                lock("/elsewhere/target/debug/.cargo-lock", "profile-directory", Some("/elsewhere"), "exclusive"),
            ]
        }))
        .unwrap();
        let here = here_in("/ws", "/ws/target");
        let paths: Vec<&str> = blocking(&report, &Wanted::default(), &here)
            .iter()
            .map(|l| l.path.to_str().unwrap())
            .collect();
        assert_eq!(paths, ["/h/.package-cache", "/ws/target/debug/.cargo-lock"]);
        let file = Wanted {
            files: vec!["/elsewhere/target/debug/.cargo-lock".into()],
            under: vec![],
            builds: vec![],
            homes: vec![],
        };
        assert_eq!(blocking(&report, &file, &here).len(), 1);
        let dir = Wanted {
            files: vec![],
            under: vec!["/elsewhere/target".into()],
            builds: vec![],
            homes: vec![],
        };
        let named = blocking(&report, &dir, &here);
        assert_eq!(named.len(), 1);
        assert_eq!(
            named[0].path,
            Path::new("/elsewhere/target/debug/.cargo-lock")
        );
    }

    /// A named project is waited for as a build there waits: its build locks and the package
    /// cache of this Cargo home; a named lock file or directory only for itself, unless
    /// `--cargo-home` names a home (review X, X4).
    #[test]
    fn a_named_project_waits_for_the_package_cache_too() {
        let report: Report = serde_json::from_value(serde_json::json!({
            "schema_version": 2, "incidents": [],
            "source": "scan", "observed_at": 0.0, "cargo_homes": ["/h"],
            "locks": [lock("/h/.package-cache", "package-cache", None, "exclusive")]
        }))
        .unwrap();
        let here = here_in("/elsewhere", "/elsewhere/target");
        let project = Wanted {
            builds: vec!["/ws/target".into()],
            ..Wanted::default()
        };
        let held = blocking(&report, &project, &here);
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].path, Path::new("/h/.package-cache"));
        let dir = Wanted {
            under: vec!["/ws/target".into()],
            ..Wanted::default()
        };
        assert!(blocking(&report, &dir, &here).is_empty());
        let with_home = Wanted {
            homes: vec!["/h".into()],
            ..dir.clone()
        };
        assert_eq!(blocking(&report, &with_home, &here).len(), 1);
        // Another `--cargo-home` than this one: this one's package cache is not waited for.
        let other_home = Wanted {
            homes: vec!["/other".into()],
            ..dir
        };
        assert!(blocking(&report, &other_home, &here).is_empty());
    }

    /// After `cargo clean` under a build, a new build locks a new file at the path: `wait` names
    /// that one's holder first, the one a build started now waits for (review V, V1).
    #[test]
    fn the_lock_file_at_the_path_comes_before_a_deleted_one() {
        let mut old = lock(
            "/ws/target/debug/.cargo-lock",
            "profile-directory",
            Some("/ws"),
            "exclusive",
        );
        old["deleted"] = serde_json::json!(true);
        old["holders"][0]["pid"] = serde_json::json!(15201);
        let report: Report = serde_json::from_value(serde_json::json!({
            "schema_version": 2, "incidents": [],
            "source": "scan", "observed_at": 0.0, "cargo_homes": ["/h"],
            "locks": [
                old,
                lock("/ws/target/debug/.cargo-lock", "profile-directory", Some("/ws"), "exclusive"),
            ]
        }))
        .unwrap();
        let here = here_in("/ws", "/ws/target");
        let held = blocking(&report, &Wanted::default(), &here);
        assert_eq!(held.len(), 2, "both are waited out");
        assert!(!held[0].deleted && held[1].deleted);
    }

    /// A dev build goes ahead beside a release one: `wait` waits for the profile it is told
    /// (dev by default, as `cargo build`), in the target dir and a target triple's dir
    /// (review P, R10).
    #[test]
    fn a_wait_is_for_the_profile_of_the_build_about_to_start() {
        let report: Report = serde_json::from_value(serde_json::json!({
            "schema_version": 2, "incidents": [],
            "source": "scan", "observed_at": 0.0, "cargo_homes": ["/h"],
            "locks": [
                lock("/ws/target/release/.cargo-lock", "profile-directory", Some("/ws"), "exclusive"),
                lock("/ws/target/x86_64-unknown-linux-gnu/debug/.cargo-lock", "profile-directory", Some("/ws"), "exclusive"),
                lock("/ws/target/prof/.cargo-lock", "profile-directory", Some("/ws"), "exclusive"),
            ]
        }))
        .unwrap();
        let mut here = here_in("/ws", "/ws/target");
        let paths = |here: &Here, named: &Wanted| -> Vec<String> {
            (blocking(&report, named, here).iter())
                .map(|l| l.path.display().to_string())
                .collect()
        };
        let build_here = Wanted::default();
        assert_eq!(
            paths(&here, &build_here),
            ["/ws/target/x86_64-unknown-linux-gnu/debug/.cargo-lock"]
        );
        here.profile_dir = crate::cargo_dirs::profile_dir(true, None);
        assert_eq!(
            paths(&here, &build_here),
            ["/ws/target/release/.cargo-lock"]
        );
        here.profile_dir = crate::cargo_dirs::profile_dir(false, Some("prof"));
        assert_eq!(paths(&here, &build_here), ["/ws/target/prof/.cargo-lock"]);
        // A project named: its build dirs, for that profile too.
        let project = Wanted {
            builds: vec!["/ws/target".into()],
            ..Wanted::default()
        };
        assert_eq!(paths(&here, &project), ["/ws/target/prof/.cargo-lock"]);
    }

    #[test]
    fn profiles_build_in_their_own_directories() {
        use crate::cargo_dirs::profile_dir;
        assert_eq!(profile_dir(false, None), "debug");
        assert_eq!(profile_dir(false, Some("dev")), "debug");
        assert_eq!(profile_dir(false, Some("test")), "debug");
        assert_eq!(profile_dir(true, None), "release");
        assert_eq!(profile_dir(false, Some("bench")), "release");
        assert_eq!(profile_dir(false, Some("ci")), "ci");
    }

    /// A build dir templated with `{workspace-path-hash}` is resolved to the directory above
    /// the hash, where every project using the template builds: only this workspace's builds
    /// there keep a build here waiting, and one whose holder cannot be seen (review P, R12).
    #[test]
    fn above_a_hashed_build_dir_only_this_workspaces_builds_count() {
        let held_in = |path: &str, cwd: Option<&str>| {
            let mut l = lock(path, "build-directory", None, "exclusive");
            l["holders"][0]["cwd"] = cwd.into();
            l["holders"][0]["cmd"] = serde_json::json!(["cargo", "build"]);
            l
        };
        let mut hidden = lock(
            "/bd/cc/3333/debug/.cargo-build-lock",
            "build-directory",
            None,
            "exclusive",
        );
        hidden["holders"] = serde_json::json!([]);
        let report: Report = serde_json::from_value(serde_json::json!({
            "schema_version": 2, "incidents": [],
            "source": "scan", "observed_at": 0.0, "cargo_homes": ["/h"],
            "locks": [
                held_in("/bd/aa/1111/debug/.cargo-build-lock", Some("/ws/member")),
                held_in("/bd/bb/2222/debug/.cargo-build-lock", Some("/other")),
                hidden,
            ]
        }))
        .unwrap();
        let mut here = here_in("/ws", "/ws/target");
        let dirs = here.dirs.as_mut().unwrap();
        (dirs.build_dir, dirs.build_dir_partial) = ("/bd".into(), true);
        let paths: Vec<String> = (blocking(&report, &Wanted::default(), &here).iter())
            .map(|l| l.path.display().to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "/bd/aa/1111/debug/.cargo-build-lock",
                "/bd/cc/3333/debug/.cargo-build-lock"
            ]
        );
        // A build dir configured without such a part is the build dir itself: another
        // project's build there is in the way.
        here.dirs.as_mut().unwrap().build_dir_partial = false;
        assert_eq!(blocking(&report, &Wanted::default(), &here).len(), 3);
    }

    /// A `.cargo-lock` held shared (cargo 1.96+, nightly `-Zfine-grain-locking`) with nobody
    /// waiting yet is no free lock: a build of cargo ≤ 1.95 needs it alone and would block.
    /// Other shared holds nobody waits for are still background (review K, L5).
    #[test]
    fn a_cargo_lock_held_shared_is_not_free_but_other_shared_holds_are() {
        let background = |path, kind, project| {
            let mut l = lock(path, kind, project, "shared");
            l["state"] = "background".into();
            l["holders"][0]["role"] = "background".into();
            l
        };
        let report: Report = serde_json::from_value(serde_json::json!({
            "schema_version": 2, "incidents": [],
            "source": "scan", "observed_at": 0.0, "cargo_homes": ["/h"],
            "locks": [
                background("/h/.package-cache-mutate", "package-cache-mutate", None),
                background("/ws/target/debug/.cargo-build-lock", "build-directory", Some("/ws")),
                background("/ws/target/debug/.cargo-lock", "profile-directory", Some("/ws")),
            ]
        }))
        .unwrap();
        let here = here_in("/ws", "/ws/target");
        let held: Vec<&Path> = blocking(&report, &Wanted::default(), &here)
            .iter()
            .map(|l| l.path.as_path())
            .collect();
        assert_eq!(held, [Path::new("/ws/target/debug/.cargo-lock")]);
        let named = Wanted {
            files: vec![],
            under: vec!["/ws/target".into(), "/h".into()],
            builds: vec![],
            homes: vec![],
        };
        assert_eq!(blocking(&report, &named, &here).len(), 1);
        // `wait` waits for it: `held` in `--json`, not `background` (review L, M12).
        let l = blocking(&report, &Wanted::default(), &here)[0];
        let held = serde_json::to_value(held_by(l, &l.holders[0], &[])).unwrap();
        assert_eq!(held["state"], "held", "{held}");
    }

    #[test]
    fn a_home_whose_name_is_not_utf8_blocks_whether_the_report_came_from_the_daemon_or_a_scan() {
        use std::os::unix::ffi::OsStrExt;
        let home = PathBuf::from(std::ffi::OsStr::from_bytes(b"/h\xff3"));
        let file = home.join(".package-cache");
        // The daemon sends the bytes as `\xff` text; a scan's report has them as they are.
        let from_daemon: Report = serde_json::from_value(serde_json::json!({
            "schema_version": 2, "incidents": [],
            "source": "daemon", "observed_at": 0.0, "cargo_homes": [r"/h\xff3"],
            "locks": [lock(r"/h\xff3/.package-cache", "package-cache", None, "exclusive")]
        }))
        .unwrap();
        let mut from_scan = from_daemon.clone();
        from_scan.locks[0].path = file.clone();
        let here = Here {
            cargo_homes: vec![home.clone()],
            dirs: None,
            profile_dir: "debug".into(),
        };
        for report in [&from_daemon, &from_scan] {
            assert_eq!(blocking(report, &Wanted::default(), &here).len(), 1);
            let named = Wanted {
                files: vec![file.clone()],
                under: vec![],
                builds: vec![],
                homes: vec![],
            };
            assert_eq!(blocking(report, &named, &here).len(), 1);
            let under = Wanted {
                files: vec![],
                under: vec![home.clone()],
                builds: vec![],
                homes: vec![],
            };
            assert_eq!(blocking(report, &under, &here).len(), 1);
        }
    }

    #[test]
    fn a_build_into_another_target_dir_is_not_held_up_by_the_project_s_default_one() {
        let report: Report = serde_json::from_value(serde_json::json!({
            "schema_version": 2, "incidents": [],
            "source": "scan", "observed_at": 0.0, "cargo_homes": ["/h"],
            "locks": [
                lock("/ws/target/debug/.cargo-lock", "profile-directory", Some("/ws"), "exclusive"),
            ]
        }))
        .unwrap();
        // CARGO_TARGET_DIR=/env-target: the project is the same, the locks are not.
        let here = here_in("/ws", "/env-target");
        assert!(blocking(&report, &Wanted::default(), &here).is_empty());
    }

    #[test]
    fn a_target_dir_nested_in_the_build_s_own_is_another_build_s() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        let ours = target.join("debug/.cargo-lock");
        let editors = target.join("rust-analyzer/debug/.cargo-lock");
        let cross = target.join("x86_64-unknown-linux-gnu/debug/.cargo-lock");
        for f in [&ours, &editors, &cross] {
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "").unwrap();
        }
        std::fs::write(target.join("rust-analyzer/CACHEDIR.TAG"), "").unwrap();
        assert!(taken_by_build_in(&ours, &target));
        assert!(taken_by_build_in(&cross, &target));
        assert!(!taken_by_build_in(&editors, &target));
        assert!(taken_by_build_in(&editors, &target.join("rust-analyzer")));
    }

    #[test]
    fn a_missing_lock_file_is_free_but_a_missing_directory_is_a_typo() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(check_paths(&[tmp.path().join(".cargo-lock")], &[]).is_ok());
        let typo = tmp.path().join("nope/target/debug/.cargo-lock");
        let err = check_paths(&[typo], &[]).unwrap_err();
        assert!(err.contains("nor does its directory"), "{err}");
        let project = tmp.path().join("no-such-project");
        let err = check_paths(&[], &[project]).unwrap_err();
        assert!(err.contains("no-such-project does not exist"), "{err}");
        assert!(check_paths(&[], &[tmp.path().to_path_buf()]).is_ok());
    }

    #[test]
    fn a_project_a_manifest_or_a_target_dir_named_means_its_build_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("p");
        std::fs::create_dir_all(p.join("src")).unwrap();
        std::fs::create_dir_all(p.join("target/debug")).unwrap();
        std::fs::write(p.join("Cargo.toml"), "[package]\nname = \"p\"\n").unwrap();
        std::fs::write(p.join("target/debug/.cargo-lock"), "").unwrap();
        let target = p.join("target");
        // A Cargo home of its own and no environment: the machine's config is not read.
        let home = tmp.path().join("cargo-home");
        let dirs = |d: &Path| crate::cargo_dirs::resolve(d, &home, None, &|_| None);
        let project = Wanted {
            files: vec![],
            under: vec![],
            builds: vec![target.clone()],
            homes: vec![],
        };
        // A target dir named is a directory: any lock under it.
        let directory = Wanted {
            files: vec![],
            under: vec![target.clone()],
            builds: vec![],
            homes: vec![],
        };
        for named in [&p, &p.join("src"), &p.join("Cargo.toml")] {
            let w = Wanted::from_args(std::slice::from_ref(named), &[], None, false, &dirs);
            assert_eq!(w, project, "{}", named.display());
        }
        assert_eq!(
            Wanted::from_args(&[], std::slice::from_ref(&p), None, false, &dirs),
            project
        );
        assert_eq!(
            Wanted::from_args(std::slice::from_ref(&target), &[], None, false, &dirs),
            directory,
            "the target dir itself"
        );
        assert_eq!(
            Wanted::from_args(&[], &[], Some(&target), false, &dirs),
            directory
        );
        assert!(
            Wanted::from_args(&[], &[], Some(&target), true, &dirs).is_empty(),
            "a build here"
        );
        let lock = p.join("target/debug/.cargo-lock");
        let w = Wanted::from_args(std::slice::from_ref(&lock), &[], None, false, &dirs);
        assert_eq!(w.files, [lock]);
    }

    /// A holder that turns stopped or stale is said on the line (off a terminal, a new line),
    /// and `--json`'s `held_by` carries the lock's state and, stale, why, as `status --json`
    /// does (review K, L6).
    #[test]
    fn a_stopped_or_stale_holder_is_said_on_the_line_and_in_the_json() {
        let path = "/ws/target/debug/.cargo-lock";
        let mut l: LockReport =
            serde_json::from_value(lock(path, "profile-directory", Some("/ws"), "exclusive"))
                .unwrap();
        let mut h = l.holders[0].clone();
        assert_eq!(holder_note(&l, Some(&h), None), Note::Alive);
        assert_eq!(holder_note(&l, None, None), Note::Alive);
        assert_eq!(
            serde_json::to_value(held_by(&l, &h, &[])).unwrap(),
            serde_json::json!({
                "pid": 10, "name": "cargo", "state": "held", "stale_reasons": [],
                "process_state": "sleeping", "origin": "terminal", "origin_via": null
            })
        );
        h.process_state = ProcState::Stopped;
        let stopped = holder_note(&l, Some(&h), None).said();
        // No incident says a terminal controls it: `fg` is not offered (review X, X13).
        assert_eq!(
            stopped,
            " — it is STOPPED (Ctrl-Z?): `cargo lockwatch resume 10`"
        );
        l.state = LockState::Stale;
        h.stale_reasons = vec![StaleReason::Stopped];
        let stale = holder_note(&l, Some(&h), None).said();
        // Stale, it still says how to resume it (review P, R11).
        assert_eq!(
            stale,
            " — looks STALE, it is STOPPED (Ctrl-Z?): `cargo lockwatch resume 10`"
        );
        assert_ne!(stopped, stale, "a script's log gets a line for each");
        assert_eq!(
            serde_json::to_value(held_by(&l, &h, &[])).unwrap(),
            serde_json::json!({
                "pid": 10, "name": "cargo", "state": "stale", "stale_reasons": ["stopped"],
                "process_state": "stopped", "origin": "terminal", "origin_via": null
            })
        );
        // Stale and no longer stopped: stale.
        h.process_state = ProcState::Sleeping;
        let stale = holder_note(&l, Some(&h), None).said();
        assert_eq!(stale, " — looks STALE: see `cargo lockwatch status`");
        // Reasons only on the incident: taken from the incident the holder blocks in.
        let demo = crate::ui::demo::stale_ignoring_sigterm(0.0).report;
        let incident = demo.incidents[0].clone();
        let blocker = incident.blocker.as_ref().unwrap();
        assert!(!incident.stale_reasons.is_empty());
        h.pid = blocker.pid;
        h.stale_reasons.clear();
        let held = held_by(&l, &h, std::slice::from_ref(&incident));
        assert_eq!(held.stale_reasons, incident.stale_reasons);
        l.state = LockState::Contended;
        assert!(held_by(&l, &h, &[incident]).stale_reasons.is_empty());
    }

    /// A holder that itself waits is a link of a chain: the line names the root blocker
    /// behind it and says it looks stale, and `--json`'s `held_by` carries it as `root`
    /// (review L, M3).
    #[test]
    fn a_holder_that_itself_waits_names_the_stale_root_behind_it() {
        use crate::ui::demo::{self, Stage};
        // The demo's stopped, stale cargo 4242 blocks cargo 4250, which holds the lock here.
        let report = demo::snapshot(Stage::Stale, 1_000.0).report;
        let path = "/ws/target/debug/.cargo-lock";
        let mut l: LockReport =
            serde_json::from_value(lock(path, "profile-directory", Some("/ws"), "exclusive"))
                .unwrap();
        l.state = LockState::Contended;
        let mut h = l.holders[0].clone();
        h.pid = demo::WAITER;
        h.role = Role::Blocked;
        h.held_for_secs = Some(15.0);
        h.held_since_known = true;
        let root = root_behind(&h, &report.incidents);
        let (_, b) = root.unwrap();
        assert_eq!(b.pid, demo::BLOCKER.0);
        assert_eq!(
            holder_words(&h, root, None),
            "cargo 4250 (held 15s, itself waiting) behind cargo 4242 (stopped)"
        );
        assert_eq!(
            holder_note(&l, Some(&h), root.map(|(i, _)| i)),
            Note::Stopped {
                pid: demo::BLOCKER.0,
                child: None,
                stale: true,
                fg: true,
            }
        );
        // What the root's command usually takes, not the link's (it blocks nobody itself).
        let mut incidents = report.incidents.clone();
        incidents[0].typical_hold = Some(crate::core::model::TypicalHold {
            median_secs: 95.0,
            holds: 4,
        });
        let root = root_behind(&h, &incidents);
        assert_eq!(usually(Some(&h), root, &incidents), " · usually 1m35s here");
        assert_eq!(usually(Some(&h), None, &report.incidents), "");
        assert_eq!(
            serde_json::to_value(held_by(&l, &h, &report.incidents)).unwrap(),
            serde_json::json!({
                "pid": 4250, "name": "cargo", "state": "contended", "stale_reasons": [],
                "process_state": "sleeping", "origin": "terminal", "origin_via": null,
                "root": {
                    "pid": 4242, "name": "cargo", "state": "stale", "stale_reasons": ["stopped"],
                    "process_state": "stopped"
                }
            })
        );
        // Without an incident naming it, it still says it waits; no `root` in the JSON.
        assert!(root_behind(&h, &[]).is_none());
        assert_eq!(
            holder_words(&h, None, None),
            "cargo 4250 (held 15s, itself waiting for another lock)"
        );
        assert!(serde_json::to_value(held_by(&l, &h, &[])).unwrap()["root"].is_null());
        // The root blocker itself has nothing behind it.
        h.pid = demo::BLOCKER.0;
        assert!(root_behind(&h, &report.incidents).is_none());
    }

    #[test]
    fn the_live_line_fits_the_terminal() {
        let line =
            "waiting 0s for artifact directory held by cargo 15762 (held 3s) · usually 2s here";
        assert_eq!(line.chars().count(), 81);
        let cut = fit(line, Some(80));
        assert_eq!(cut.chars().count(), 79);
        assert!(cut.ends_with('…'));
        assert_eq!(fit("short", Some(80)), "short");
        assert_eq!(fit(line, None), line);
    }

    /// On an 80-column terminal the line drops the lock's project, the usual hold time and
    /// the pointer to `status` before it cuts anything, so the hold time and STALE stay; a
    /// line still too long is cut in the holder's part, not the note (review L, M4).
    #[test]
    fn a_narrow_terminal_drops_the_optional_parts_before_the_hold_time_and_the_note() {
        let stale = Line {
            head: "waiting 1s for artifact directory".into(),
            waiting: "waiting 1s".into(),
            of: " of /tmp/rl/p/stop1".into(),
            held: " held by cargo 12135 (held 14m05s)".into(),
            who: "cargo 12135 (held 14m05s)".into(),
            at: String::new(),
            usually: " · usually 12s here".into(),
            note: Note::Stale,
            id: "cargo 12135".into(),
            root: "cargo 12135".into(),
        };
        assert_eq!(
            stale.full(),
            "waiting 1s for artifact directory of /tmp/rl/p/stop1 held by cargo 12135 (held \
             14m05s) · usually 12s here — looks STALE: see `cargo lockwatch status`"
        );
        assert_eq!(
            stale.fit(Some(80)),
            "waiting 1s for artifact directory held by cargo 12135 (held 14m05s) — STALE"
        );
        assert_eq!(stale.fit(Some(200)), stale.full(), "wide enough: all of it");
        // Narrower: the lock's words go, then the hold time; never the pid (review M, N1).
        assert_eq!(
            stale.fit(Some(60)),
            "waiting 1s · cargo 12135 (held 14m05s) — STALE"
        );
        assert_eq!(stale.fit(Some(40)), "waiting 1s · cargo 12135 — STALE");
        assert_eq!(stale.fit(Some(35)), "waiting 1s · cargo 12135 — STALE");
        assert_eq!(stale.fit(Some(30)), "cargo 12135 — STALE");
        assert_eq!(stale.fit(None), stale.full());
        let alive = Line {
            note: Note::Alive,
            head: "waiting 3s for build directory".into(),
            waiting: "waiting 3s".into(),
            held: " held by cargo 4242 (held 3s)".into(),
            who: "cargo 4242 (held 3s)".into(),
            id: "cargo 4242".into(),
            root: "cargo 4242".into(),
            ..stale
        };
        assert_eq!(
            alive.fit(Some(80)),
            "waiting 3s for build directory held by cargo 4242 (held 3s) · usually 12s here"
        );
        let stopped = Line {
            note: Note::Stopped {
                pid: 4242,
                child: None,
                stale: false,
                fg: true,
            },
            of: String::new(),
            at: " in /tmp/rl/p/elsewhere".into(),
            ..alive
        };
        assert_eq!(
            stopped.fit(Some(100)),
            "waiting 3s · cargo 4242 (held 3s) — it is STOPPED: cargo lockwatch resume 4242"
        );
        let chain = Line {
            held: " held by cargo 22730 (held 15s, itself waiting) behind cargo 14816 (stopped)"
                .into(),
            who: "cargo 22730 (held 15s, itself waiting) behind cargo 14816 (stopped)".into(),
            id: "cargo 22730 behind cargo 14816".into(),
            root: "cargo 14816".into(),
            note: Note::Stale,
            ..stopped
        };
        assert_eq!(
            chain.fit(Some(80)),
            "waiting 3s · cargo 22730 behind cargo 14816 — STALE"
        );
        // Narrower, the root blocker alone: the one to act on (review N, P1).
        assert_eq!(chain.fit(Some(40)), "waiting 3s · cargo 14816 — STALE");
        assert_eq!(chain.fit(Some(30)), "cargo 14816 — STALE");
        for width in [2, 10, 20, 40] {
            assert!(chain.fit(Some(width)).chars().count() < width, "{width}");
        }
    }

    /// A holder whose build script is stopped cannot go on either: the line says which child,
    /// and that resuming the holder resumes it; no "usually" for it (review Q, S10, S8).
    #[test]
    fn a_holder_with_a_stopped_child_says_so_and_how_to_resume_it() {
        use crate::ui::demo::{self, Stage};
        let mut report = demo::snapshot(Stage::Contended, 1_000.0).report;
        let i = &mut report.incidents[0];
        i.doing = Doing::ChildStopped {
            pid: 4300,
            name: "build-script-build".into(),
            crate_name: Some("c".into()),
        };
        i.typical_hold = Some(crate::core::model::TypicalHold {
            median_secs: 12.0,
            holds: 4,
        });
        let blocker = i.blocker.as_ref().unwrap().pid;
        let path = "/ws/target/debug/.cargo-lock";
        let mut l: LockReport =
            serde_json::from_value(lock(path, "profile-directory", Some("/ws"), "exclusive"))
                .unwrap();
        l.holders[0].pid = blocker;
        let note = holder_note(&l, Some(&l.holders[0]), Some(&report.incidents[0]));
        assert_eq!(
            note.said(),
            format!(" — its child 4300 is STOPPED: `cargo lockwatch resume {blocker}`")
        );
        let line = Line::of(&l, Some(&l.holders[0]), None, &report.incidents, None);
        assert_eq!(line.usually, "", "{}", line.full());
        // `--json` names the build script's package, and the holder's origin (review T, T9).
        let v = serde_json::to_value(held_by(&l, &l.holders[0], &report.incidents)).unwrap();
        assert_eq!(v["stopped_child"]["pid"], 4300, "{v:#}");
        assert_eq!(v["stopped_child"]["build_script_of"], "c", "{v:#}");
        assert_eq!(
            v["origin"],
            serde_json::to_value(l.holders[0].origin).unwrap()
        );
    }

    /// An editor's check holding the lock is said; with yield_ide on, starting the build is
    /// quicker than waiting (review Q, S11).
    #[test]
    fn an_editor_s_check_is_said_with_what_yield_ide_does() {
        let path = "/ws/target/debug/.cargo-lock";
        let l: LockReport =
            serde_json::from_value(lock(path, "profile-directory", Some("/ws"), "exclusive"))
                .unwrap();
        let mut h = l.holders[0].clone();
        assert_eq!(
            editor_note(Note::Alive, Some(&h), true),
            Note::Alive,
            "a terminal's"
        );
        h.origin = crate::core::model::Origin::Ide;
        h.cmd = vec![
            "cargo".into(),
            "check".into(),
            "--message-format=json".into(),
        ];
        let on = editor_note(Note::Alive, Some(&h), true);
        assert!(on.said().contains("a build started now goes first"), "{on}");
        let off = editor_note(Note::Alive, Some(&h), false);
        assert!(off.said().contains("`yield_ide = true`"), "{off}");
        assert_eq!(editor_note(Note::Stale, Some(&h), true), Note::Stale);
        h.cmd = vec!["cargo".into(), "metadata".into()];
        assert_eq!(
            editor_note(Note::Alive, Some(&h), true),
            Note::Alive,
            "no check"
        );
    }

    /// What ends a stuck hold goes into `--json` whenever the incident has it; the line after
    /// the wait says it when the note did not: behind a deadlock, and for another user's
    /// process, whose owner it names (review P, R1, R16).
    #[test]
    fn what_ends_a_stuck_hold_is_said_with_whose_process_it_is() {
        use crate::ui::demo::{self, Stage};
        let report = demo::snapshot(Stage::Stale, 1_000.0).report;
        let i = &report.incidents[0];
        let b = i.blocker.as_ref().unwrap();
        let mine = ToEnd::of(i, b.uid).unwrap();
        let resume = format!("cargo lockwatch resume {}", b.pid);
        assert_eq!(
            (mine.command.as_str(), mine.resume),
            (resume.as_str(), true)
        );
        assert_eq!(mine.owner, None);
        assert_eq!(mine.said(Ending::Timeout), None, "the note said it");
        let theirs = ToEnd::of(i, b.uid + 1).unwrap();
        let said = theirs.said(Ending::Timeout).unwrap();
        assert!(
            said.starts_with(&format!("`{resume}` lets it go on; it belongs to ")),
            "{said}"
        );
        assert!(said.contains("not to you"), "{said}");
        let dead = mine.said(Ending::Deadlock).unwrap();
        assert!(dead.contains("ends the deadlock"), "{dead}");
        let mut quiet = i.clone();
        quiet.action = None;
        assert_eq!(ToEnd::of(&quiet, b.uid), None);
    }

    /// A signal ends the wait first (its exit code is what a shell expects), then a deadlock
    /// (no timeout would help), then the timeout.
    #[test]
    fn a_wait_ends_on_a_signal_then_a_deadlock_then_its_timeout() {
        assert_eq!(Ending::of(0, false, false), None);
        assert_eq!(Ending::of(0, false, true), Some(Ending::Timeout));
        assert_eq!(Ending::of(0, true, false), Some(Ending::Deadlock));
        assert_eq!(Ending::of(0, true, true), Some(Ending::Deadlock));
        let term = Ending::of(libc::SIGTERM, true, true);
        assert_eq!(term, Some(Ending::Signal(libc::SIGTERM)));
        assert_eq!(term.unwrap().code(), 143);
        assert_eq!(Ending::Deadlock.code(), exit::DEADLOCKED);
        assert_eq!(Ending::Timeout.code(), exit::TIMEOUT);
    }

    /// The line says why the wait may never end by itself: a deadlock, or a registry that has
    /// not answered a whole try; `--json` names the registry (review N, P8, P9).
    #[test]
    fn a_deadlock_or_a_silent_registry_is_said_on_the_line() {
        use crate::core::insight::{Advice, Topic};
        use crate::core::model::Deadlock;
        use crate::ui::demo::{self, Stage};
        let report = demo::snapshot(Stage::Contended, 1_000.0).report;
        let path = "/ws/target/debug/.cargo-lock";
        let l: LockReport =
            serde_json::from_value(lock(path, "profile-directory", Some("/ws"), "exclusive"))
                .unwrap();
        let mut h = l.holders[0].clone();
        h.pid = demo::BLOCKER.0;
        let mut i = report.incidents[0].clone();
        assert_eq!(holder_note(&l, Some(&h), Some(&i)), Note::Alive);
        i.deadlock = Some(Deadlock::SelfWait {
            waiter: 4250,
            holder: h.pid,
        });
        assert_eq!(holder_note(&l, Some(&h), Some(&i)), Note::Deadlock);
        assert!(Note::Deadlock.said().contains("never ends on its own"));
        i.deadlock = None;
        // Stuck on a process its build script left: that one is named, to stop (review O, Q3).
        let mut leftover = i.blocker.clone().unwrap();
        leftover.pid = 695;
        leftover.name = "sleep".into();
        i.culprit = Some(leftover);
        let note = holder_note(&l, Some(&h), Some(&i));
        let who = "sleep 695".to_string();
        let by = "a build script".to_string();
        assert_eq!(note, Note::Leftover { who, pid: 695, by });
        // Named as `status` names it (review Q, S8).
        assert!(
            note.said().contains("STUCK on sleep 695")
                && note.said().contains("`cargo lockwatch kill 695`"),
            "{}",
            note.said()
        );
        i.culprit = None;
        i.doing = Doing::Network {
            peer: "127.0.0.1:18994".into(),
            idle_for_secs: Some(46.0),
            silence: None,
            git: None,
        };
        assert_eq!(
            holder_note(&l, Some(&h), Some(&i)),
            Note::Alive,
            "within a try"
        );
        i.advice = Some(Advice {
            topic: Topic::Network,
            text: "x".into(),
        });
        assert_eq!(
            holder_note(&l, Some(&h), Some(&i)),
            Note::Registry { git: false }
        );
        let incidents = [i.clone()];
        let v = serde_json::to_value(held_by(&l, &h, &incidents)).unwrap();
        assert_eq!(
            v["registry"],
            serde_json::json!({"peer": "127.0.0.1:18994", "silent_secs": 46.0}),
            "{v}"
        );
        // A git fetch with nothing back is said at once, as a git server's (review Z, Z5).
        i.advice = None;
        i.doing = Doing::Network {
            peer: "127.0.0.1:18994".into(),
            idle_for_secs: Some(18.0),
            silence: Some(crate::core::model::NetSilence {
                silent_for_secs: 18.0,
                nothing_received: true,
                since_hold_began: true,
                first_try_secs: 18.0,
                connections: 1,
                open: true,
                bytes_per_sec: None,
            }),
            git: Some(crate::core::model::GitFetch {
                url: "http://127.0.0.1:18994/x.git".into(),
                with_git_cli: false,
            }),
        };
        let note = holder_note(&l, Some(&h), Some(&i));
        assert_eq!(note, Note::Registry { git: true });
        assert!(note.said().contains("its git server is not answering"));
    }

    /// A holder that let go while its registry answered nothing leaves a warning with the
    /// lock: a build started now asks the same registry (review M, N8).
    #[test]
    fn a_lock_freed_by_a_cargo_hung_on_the_network_warns_the_next_build() {
        use crate::core::insight::{Advice, Topic};
        use crate::ui::demo::{self, Stage};
        let mut i = demo::snapshot(Stage::Contended, 1_000.0).report.incidents[0].clone();
        assert_eq!(unanswered_registry(&i, "cargo 4242"), None, "compiling");
        let network = |idle: f64| Doing::Network {
            peer: "127.0.0.1:18993".into(),
            idle_for_secs: Some(idle),
            silence: None,
            git: None,
        };
        i.doing = network(5.0);
        assert_eq!(unanswered_registry(&i, "cargo 4242"), None, "a few seconds");
        // Ten seconds of nothing is enough to warn: a cargo with a short `http.timeout` and no
        // retry gives up within its one try (review N, P6).
        i.doing = network(14.0);
        assert!(unanswered_registry(&i, "cargo 4242").is_some());
        i.doing = network(5.0);
        i.advice = Some(Advice {
            topic: Topic::Network,
            text: "x".into(),
        });
        let said = unanswered_registry(&i, "cargo 4242").unwrap();
        assert!(
            said.starts_with("cargo 4242 was getting nothing from 127.0.0.1:18993 when it let go"),
            "{said}"
        );
    }

    #[test]
    fn nothing_to_wait_for_names_what_was_looked_at() {
        let file = Wanted {
            files: vec!["/w/app/target/debug/.cargo-lock".into()],
            under: vec![],
            builds: vec![],
            homes: vec![],
        };
        let none = Here::default();
        assert_eq!(
            nothing_to_wait_for(&file, &none),
            "nothing to wait for: /w/app/target/debug/.cargo-lock is free"
        );
        let dir = Wanted {
            files: vec![],
            under: vec!["/w/shared".into()],
            builds: vec![],
            homes: vec![],
        };
        assert_eq!(
            nothing_to_wait_for(&dir, &none),
            "nothing to wait for: no lock under /w/shared is held"
        );
        let here = here_in("/w/app", "/w/app/target");
        assert_eq!(
            nothing_to_wait_for(&Wanted::default(), &here),
            "nothing to wait for: the package cache and the debug build locks of /w/app are free"
        );
        assert_eq!(
            nothing_to_wait_for(&Wanted::default(), &none),
            "nothing to wait for: the package cache is free"
        );
        let two = Wanted {
            under: vec!["/a".into()],
            ..file
        };
        assert_eq!(
            nothing_to_wait_for(&two, &none),
            "nothing to wait for: none of those locks is held"
        );
    }

    #[test]
    fn a_missing_path_is_free_only_when_it_is_a_lock_file_cargo_has_not_made_yet() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        assert_eq!(check_paths(&[home.join(".package-cache")], &[]), Ok(()));
        let typo = check_paths(&[home.join("my-projct")], &[]).unwrap_err();
        assert!(typo.contains("does not exist: check the path"), "{typo}");
        let nowhere = check_paths(&[home.join("no/such/.cargo-lock")], &[]).unwrap_err();
        assert!(nowhere.contains("nor does its directory"), "{nowhere}");
        // A project never built (or cleaned): its target dir is made by the build.
        std::fs::write(home.join("Cargo.toml"), "").unwrap();
        let unbuilt = home.join("target/debug/.cargo-lock");
        assert_eq!(check_paths(&[unbuilt], &[]), Ok(()));
    }

    #[test]
    fn a_device_or_a_socket_is_not_a_lock_file_any_more_than_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s.sock");
        let _listening = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let plain = dir.path().join("notes.txt");
        std::fs::write(&plain, "").unwrap();
        for p in [PathBuf::from("/dev/null"), socket, plain] {
            let e = check_paths(std::slice::from_ref(&p), &[]).unwrap_err();
            assert!(e.contains("is not one of Cargo's lock files"), "{e}");
        }
        // A directory names the locks below it; a manifest its project.
        assert_eq!(check_paths(&[dir.path().to_path_buf()], &[]), Ok(()));
        std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();
        assert_eq!(check_paths(&[dir.path().join("Cargo.toml")], &[]), Ok(()));
    }
}
