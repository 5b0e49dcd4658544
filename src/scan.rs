//! One pass of "what is locked": the list of lock files to watch, a probe pass, the process
//! facts of exactly the pids that matter, the blocking graph, what each root blocker is doing,
//! and the report. Shared by `status`, `kill` and the daemon.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::core::catalog::{self, LockKind};
use crate::core::gitfetch::GitSource;
use crate::core::graph::Graph;
use crate::core::model::{
    Activity, HiddenHolder, LeftBy, LockSighting, ProcessFacts, Report, Source,
};
use crate::core::netwait::NetSettings;
use crate::core::report::{self, Knowledge, Observed};
use crate::listing::Listings;
use crate::probe::{Probe, ProbeError, Targets};

/// Where to look: Cargo homes and project (or target) directories.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchRoots {
    /// Cargo homes (`$CARGO_HOME`, `~/.cargo`, extra ones).
    pub cargo_homes: Vec<PathBuf>,
    /// Project roots or target directories whose build locks are listed up front.
    pub projects: Vec<PathBuf>,
}

impl WatchRoots {
    /// These roots without the projects in `listed` (roots someone else lists already),
    /// compared as written: the same configuration names them the same way.
    pub fn without_projects(&self, listed: &[PathBuf]) -> WatchRoots {
        let listed: std::collections::HashSet<&Path> =
            listed.iter().map(PathBuf::as_path).collect();
        WatchRoots {
            cargo_homes: self.cargo_homes.clone(),
            projects: (self.projects.iter())
                .filter(|p| !listed.contains(p.as_path()))
                .cloned()
                .collect(),
        }
    }
}

/// Lock files that exist under the watch roots (free or not). Cheap: a few `read_dir`s.
pub fn known_locks(roots: &WatchRoots) -> Vec<(PathBuf, LockKind)> {
    known_locks_listed(roots, &mut Listings::once())
}

/// [`known_locks`], reading only the directories that changed since `listings` read them (the
/// daemon lists them again and again).
pub fn known_locks_listed(roots: &WatchRoots, listings: &mut Listings) -> Vec<(PathBuf, LockKind)> {
    listings.begin();
    let mut out = Vec::new();
    for home in &roots.cargo_homes {
        for (p, k) in catalog::fixed_cargo_home_locks(home) {
            if p.exists() {
                out.push((p, k));
            }
        }
        // Old cargo (before 1.36): one lock per registry index and per git db/checkout.
        for (sub, depth) in [("registry/index", 1), ("git/db", 0), ("git/checkouts", 1)] {
            collect_lock_files(&home.join(sub), depth, listings, &mut out);
        }
    }
    for project in &roots.projects {
        let target = if project.join("Cargo.toml").is_file() {
            project.join("target")
        } else {
            project.clone()
        };
        // <target>/<profile>/ and <target>/<triple>/<profile>/
        collect_lock_files(&target, 2, listings, &mut out);
    }
    listings.end();
    out.sort();
    out.dedup();
    out
}

/// Adds Cargo lock files found in `dir` and up to `depth` levels of subdirectories.
fn collect_lock_files(
    dir: &Path,
    depth: usize,
    listings: &mut Listings,
    out: &mut Vec<(PathBuf, LockKind)>,
) {
    let Some(found) = listings.locks_in(dir) else {
        return;
    };
    out.extend(found.files);
    if depth > 0 {
        for sub in &found.subdirs {
            collect_lock_files(sub, depth - 1, listings, out);
        }
    }
}

/// Raw result of one pass, kept by the daemon for its policy.
#[derive(Debug, Clone)]
pub struct Pass {
    /// What the probe saw.
    pub sightings: Vec<LockSighting>,
    /// Facts for every holder and waiter that still existed.
    pub facts: HashMap<u32, ProcessFacts>,
    /// Known lock files that exist.
    pub known: Arc<[(PathBuf, LockKind)]>,
    /// Who blocks whom.
    pub graph: Graph,
    /// What each root blocker is doing, by pid.
    pub activity: HashMap<u32, Activity>,
    /// Other users' Cargo processes holding locks this user cannot name.
    pub hidden: Vec<HiddenHolder>,
}

impl Pass {
    /// The pass as the report builder reads it.
    pub fn observed(&self) -> Observed<'_> {
        Observed {
            sightings: &self.sightings,
            facts: &self.facts,
            activity: &self.activity,
            graph: &self.graph,
            free: &self.known,
            hidden: &self.hidden,
        }
    }
}

/// Runs one probe pass and reads the facts of its holders and waiters only.
pub fn pass(
    probe: &mut dyn Probe,
    roots: &WatchRoots,
    deep_on_contention: bool,
) -> Result<Pass, ProbeError> {
    pass_with_known(probe, known_locks(roots).into(), deep_on_contention)
}

/// Like [`pass`], with the list of known lock files already made (the daemon refreshes it
/// only now and then).
pub fn pass_with_known(
    probe: &mut dyn Probe,
    known: Arc<[(PathBuf, LockKind)]>,
    deep_on_contention: bool,
) -> Result<Pass, ProbeError> {
    probe.begin_pass();
    let pass = read_pass(probe, known, deep_on_contention);
    probe.end_pass();
    pass
}

/// The body of [`pass_with_known`], inside the probe's pass.
fn read_pass(
    probe: &mut dyn Probe,
    known: Arc<[(PathBuf, LockKind)]>,
    deep_on_contention: bool,
) -> Result<Pass, ProbeError> {
    let targets = Targets {
        known: Arc::clone(&known),
        deep_on_contention,
    };
    let sightings = probe.sightings(&targets)?;
    let mut facts = HashMap::new();
    for s in &sightings {
        for pid in s.holders.iter().chain(s.waiters.iter()).map(|p| p.pid) {
            if facts.contains_key(&pid) {
                continue;
            }
            // A process that exited between the lock read and now is simply gone.
            if let Ok(f) = probe.process(pid) {
                facts.insert(pid, f);
            }
        }
    }
    facts.values_mut().for_each(clippy_as_typed);
    facts
        .values_mut()
        .for_each(|f| hide_credentials(&mut f.cmd));
    let graph = Graph::build(&sightings, &facts);
    let mut activity = HashMap::new();
    for pid in graph.incidents.iter().filter_map(|i| i.blocker) {
        let mut a = probe.activity(pid);
        a.descendants
            .iter_mut()
            .for_each(|c| hide_credentials(&mut c.cmd));
        a.pipe_writers
            .iter_mut()
            .for_each(|f| hide_credentials(&mut f.cmd));
        activity.insert(pid, a);
    }
    let hidden = hidden_holders(probe);
    Ok(Pass {
        sightings,
        facts,
        known,
        graph,
        activity,
        hidden,
    })
}

/// A command line without the tokens of the URLs in it (`cargo install --git
/// https://TOKEN@host/…`): every view shows it and the history keeps it (review AA, AA1).
fn hide_credentials(cmd: &mut [String]) {
    for arg in cmd {
        *arg = crate::core::gitfetch::arg_without_credentials(arg);
    }
}

/// Clippy runs `cargo check` under `cargo-clippy`, with clippy as rustc's wrapper: what the
/// user typed, and what holds the locks, is `cargo clippy`, said so in every view (review V,
/// V3).
fn clippy_as_typed(f: &mut ProcessFacts) {
    let under_clippy = (f.ancestors.first()).is_some_and(|a| a.name.raw() == "cargo-clippy");
    if f.name.raw() != "cargo" || !under_clippy {
        return;
    }
    let Some(sub) = crate::core::catalog::cargo_subcommand(&f.cmd) else {
        return;
    };
    if sub != "check" {
        return;
    }
    if let Some(at) = (f.cmd.iter().skip(1)).position(|a| a == "check") {
        f.cmd[at + 1] = "clippy".into();
    }
}

/// The holders of the locks the probe could not name, as far as this user may know them.
fn hidden_holders(probe: &mut dyn Probe) -> Vec<HiddenHolder> {
    let mut out: Vec<HiddenHolder> = Vec::new();
    let locks = probe.hidden_locks();
    // One that waits itself holds nobody up: the one it waits for is listed.
    let waiting: Vec<u32> = locks
        .iter()
        .flat_map(|l| l.waiters.iter().copied())
        .collect();
    for lock in locks {
        let waiter_uids: Vec<u32> = (lock.waiters.iter())
            .filter_map(|w| probe.process(*w).ok())
            .map(|f| f.uid)
            .collect();
        for pid in lock.holders.into_iter().filter(|p| !waiting.contains(p)) {
            let Ok(f) = probe.process(pid) else { continue };
            match out.iter_mut().find(|h| h.pid == pid) {
                Some(h) => {
                    h.waiters += lock.waiters.len();
                    h.waiter_uids.extend(&waiter_uids);
                }
                None => out.push(HiddenHolder {
                    pid,
                    name: f.name,
                    uid: f.uid,
                    user: f.user,
                    waiters: lock.waiters.len(),
                    waiter_uids: waiter_uids.clone(),
                }),
            }
        }
    }
    out
}

/// Builds a report from a pass (with the configured build dirs its cargos use).
pub fn report(
    pass: &Pass,
    roots: &WatchRoots,
    source: Source,
    knowledge: &Knowledge,
    now: f64,
) -> Report {
    let home = roots.cargo_homes.first().map(PathBuf::as_path);
    let knowledge = &Knowledge {
        build_dirs: configured_build_dirs(pass, home, &mut PerProcess::default()),
        net_settings: net_settings(pass, home, &mut PerProcess::default()),
        git_sources: git_sources(pass, &mut PerProcess::default()),
        left_by: leftover_packages(pass, &mut PerProcess::default()),
        ..knowledge.clone()
    };
    report::build(
        source,
        now,
        roots.cargo_homes.clone(),
        &pass.observed(),
        knowledge,
    )
}

/// The configured build directories (`build.build-dir` in a Cargo config, when not the target
/// dir) of the directories where the cargos contending for a profile lock run, read from
/// their Cargo configs and `cargo_home`'s: cargo ≤ 1.95 calls a `.cargo-lock` there the
/// "build directory" whatever it runs, and one in a target dir the "artifact directory" in a
/// build. Only contended profile locks are looked into, each cargo once in its life when
/// `memo` is kept from pass to pass.
pub fn configured_build_dirs(
    pass: &Pass,
    cargo_home: Option<&Path>,
    memo: &mut PerProcess<Option<PathBuf>>,
) -> Vec<PathBuf> {
    let Some(home) = cargo_home else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = (pass.sightings.iter())
        .filter(|s| s.kind == LockKind::ProfileDirectory && !s.waiters.is_empty())
        .flat_map(|s| s.holders.iter().chain(&s.waiters))
        .map(|p| p.pid)
        .collect();
    pids.sort_unstable();
    pids.dedup();
    let procs = (pids.iter()).filter_map(|p| pass.facts.get(p).map(|f| (*p, f.start_token)));
    let mut out: Vec<PathBuf> = (memo.recall_or_learn(procs, |pid| {
        let cwd = pass.facts.get(&pid).and_then(|f| f.cwd.as_deref());
        let dirs = cwd.and_then(|cwd| crate::cargo_dirs::resolve(cwd, home, None, &|_| None));
        Some(
            dirs.filter(|d| d.build_dir != d.target_dir)
                .map(|d| d.build_dir),
        )
    }))
    .into_iter()
    .filter_map(|(_, dir)| dir)
    .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// What was learned of each process (pid and start) that cannot change in its life, for the
/// daemon to keep between passes: a cargo reads its environment and Cargo configs once, when
/// it starts, so a long incident need not have them read again every pass.
#[derive(Debug)]
pub struct PerProcess<T>(HashMap<(u32, u64), T>);

impl<T> Default for PerProcess<T> {
    fn default() -> Self {
        PerProcess(HashMap::new())
    }
}

impl<T: Clone> PerProcess<T> {
    /// For each of `procs` (pid, start), what is known of it, else what `learn` says of its
    /// pid (kept; `None`: nothing to learn yet, asked again next time), by pid. Every process
    /// not among `procs` is forgotten.
    fn recall_or_learn(
        &mut self,
        procs: impl IntoIterator<Item = (u32, u64)>,
        mut learn: impl FnMut(u32) -> Option<T>,
    ) -> Vec<(u32, T)> {
        let procs: Vec<(u32, u64)> = procs.into_iter().collect();
        let now: std::collections::HashSet<&(u32, u64)> = procs.iter().collect();
        self.0.retain(|key, _| now.contains(key));
        let mut out = Vec::with_capacity(procs.len());
        for key in procs {
            let known = match self.0.get(&key) {
                Some(known) => known.clone(),
                None => {
                    let Some(learned) = learn(key.0) else {
                        continue;
                    };
                    self.0.insert(key, learned.clone());
                    learned
                }
            };
            out.push((key.0, known));
        }
        out
    }
}

/// The settings each process waiting on the network runs with (see
/// [`crate::cargo_dirs::net_settings`]), by pid: its own environment when readable, the Cargo
/// configs of its directory and of the Cargo home whose package cache it holds (else
/// `cargo_home`). Only processes with a connection open are looked into (review M, N13), each
/// once in its life when `memo` is kept from pass to pass, and kept through a pause between
/// tries: a cargo that goes stale in one is recorded with its settings (review AB, AB1).
pub fn net_settings(
    pass: &Pass,
    cargo_home: Option<&Path>,
    memo: &mut PerProcess<Option<NetSettings>>,
) -> HashMap<u32, NetSettings> {
    let procs =
        (pass.activity.keys()).filter_map(|pid| pass.facts.get(pid).map(|f| (*pid, f.start_token)));
    (memo
        .recall_or_learn(procs, |pid| {
            // Nothing to learn until it connects.
            let connected = pass.activity.get(&pid).is_some_and(|a| !a.peers.is_empty());
            connected.then(|| settings_of(pass, pid, cargo_home))
        })
        .into_iter())
    .filter_map(|(pid, settings)| Some((pid, settings?)))
    .collect()
}

/// The settings process `pid` runs with (see [`net_settings`]); `None` without a Cargo home.
fn settings_of(pass: &Pass, pid: u32, cargo_home: Option<&Path>) -> Option<NetSettings> {
    const VARS: [&str; 4] = [
        "CARGO_HTTP_TIMEOUT",
        "CARGO_NET_RETRY",
        "GIT_HTTP_LOW_SPEED_LIMIT",
        "GIT_HTTP_LOW_SPEED_TIME",
    ];
    let held_home = (pass.sightings.iter())
        .filter(|s| s.holders.iter().any(|h| h.pid == pid))
        .find_map(|s| catalog::cargo_home_of(&s.path, s.kind));
    let home = held_home.as_deref().or(cargo_home)?;
    let env = crate::probe::environment(pid, &VARS);
    let lookup = |name: &str| {
        (env.iter())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let cwd = pass.facts.get(&pid).and_then(|f| f.cwd.as_deref());
    Some(crate::cargo_dirs::net_settings(cwd, home, &lookup))
}

/// The git dependencies of the workspace each process that waits only on the network works on
/// (see [`crate::cargo_dirs::git_urls`]), with the addresses their servers resolve to, by pid:
/// a connection to one of them is a git fetch. Read when the process has a connection open,
/// once in its life when `memo` is kept from pass to pass (kept through a pause between tries).
pub fn git_sources(
    pass: &Pass,
    memo: &mut PerProcess<Vec<String>>,
) -> HashMap<u32, Vec<GitSource>> {
    let procs = (pass.activity.iter())
        .filter(|(_, activity)| activity.descendants.is_empty())
        .filter_map(|(pid, _)| pass.facts.get(pid).map(|f| (*pid, f.start_token)));
    let listed = memo.recall_or_learn(procs, |pid| {
        let facts = pass.facts.get(&pid)?;
        if pass.activity.get(&pid).is_none_or(|a| a.peers.is_empty()) {
            return None; // nothing to learn until it connects
        }
        let dir = crate::core::place::workplace(&facts.cmd, facts.cwd.as_deref());
        let mut urls: Vec<String> = dir
            .map(|d| crate::cargo_dirs::git_urls(&d))
            .unwrap_or_default();
        urls.extend(crate::core::gitfetch::command_line_url(&facts.cmd));
        Some(urls)
    });
    let urls: HashMap<u32, Vec<String>> = (listed.into_iter())
        .filter(|(_, u)| !u.is_empty())
        .collect();
    // One wait for the resolver for the whole pass (review 15, D5).
    let mut sources = crate::resolve::git_sources(&urls);
    sources.retain(|_, s| !s.is_empty());
    sources
}

/// The package whose build script started each culprit of the pass (a process holding a
/// blocker's output pipe), by the culprit's pid: its `CARGO_PKG_NAME` and `CARGO_MANIFEST_DIR`,
/// inherited from the build script. Read once in each culprit's life when `memo` is kept.
pub fn leftover_packages(
    pass: &Pass,
    memo: &mut PerProcess<Option<LeftBy>>,
) -> HashMap<u32, LeftBy> {
    // As the lock table names them and as they resolve: a Cargo home through a symbolic link
    // is the same home.
    let mut homes: Vec<PathBuf> = (pass.sightings.iter())
        .filter_map(|s| catalog::cargo_home_of(&s.path, s.kind))
        .flat_map(|h| [std::fs::canonicalize(&h).ok(), Some(h)])
        .flatten()
        .collect();
    homes.sort();
    homes.dedup();
    let culprits = (pass.activity.values())
        .flat_map(|a| &a.pipe_writers)
        .map(|c| (c.pid, c.start_token));
    (memo
        .recall_or_learn(culprits, |pid| Some(left_by(pid, &homes)))
        .into_iter())
    .filter_map(|(pid, left_by)| Some((pid, left_by?)))
    .collect()
}

/// The package whose build script started `pid` (see [`leftover_packages`]), from its
/// environment; `homes`: the pass's Cargo homes, as named and as they resolve.
fn left_by(pid: u32, homes: &[PathBuf]) -> Option<LeftBy> {
    const VARS: [&str; 3] = ["CARGO_PKG_NAME", "CARGO_MANIFEST_DIR", "HOST"];
    let env = crate::probe::environment(pid, &VARS);
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let dir = var("CARGO_MANIFEST_DIR")?;
    let real = std::fs::canonicalize(dir).ok();
    let dir = real.as_deref().and_then(Path::to_str).unwrap_or(dir);
    let mut left_by = LeftBy::from_env(var("CARGO_PKG_NAME")?, dir, homes);
    left_by.build_script = var("HOST").is_some();
    Some(left_by)
}

/// Current Unix time in seconds.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn what_a_process_is_known_by_is_learned_once_and_forgotten_when_it_goes() {
        let mut memo: PerProcess<String> = PerProcess::default();
        let mut asked = Vec::new();
        let mut learn = |pid: u32| {
            asked.push(pid);
            (pid != 3).then(|| format!("of {pid}"))
        };
        let first = memo.recall_or_learn([(1, 10), (2, 20), (3, 30)], &mut learn);
        assert_eq!(first, [(1, "of 1".into()), (2, "of 2".into())]);
        // 1 is known; 2 is gone; 3 had nothing to learn and is asked again; pid 4 is new.
        let next = memo.recall_or_learn([(1, 10), (3, 30), (4, 40)], &mut learn);
        assert_eq!(next, [(1, "of 1".into()), (4, "of 4".into())]);
        // Pid 1 reused by another process (another start): learned afresh. And 2, forgotten
        // when it was not among them, is learned again.
        memo.recall_or_learn([(1, 11), (2, 20)], &mut learn);
        assert_eq!(asked, [1, 2, 3, 3, 4, 1, 2]);
    }

    /// The `cargo check` clippy runs reads as `cargo clippy`; a plain check, or one under
    /// another parent, is left as it is (review V, V3).
    #[test]
    fn clippy_s_check_reads_as_the_clippy_the_user_typed() {
        let pass = pass_with_a_network_wait(7, 1, Path::new("/p"));
        let mut f = pass.facts[&7].clone();
        f.cmd = vec!["/r/bin/cargo".into(), "check".into(), "--quiet".into()];
        let plain = f.clone();
        f.ancestors = vec![crate::core::model::Ancestor {
            pid: 6,
            name: "cargo-clippy".into(),
        }];
        clippy_as_typed(&mut f);
        assert_eq!(f.cmd, ["/r/bin/cargo", "clippy", "--quiet"]);
        let mut g = plain.clone();
        clippy_as_typed(&mut g);
        assert_eq!(g.cmd, plain.cmd);
    }

    /// A pass in which process `pid` (started at `token`, in `cwd`) has a registry connection.
    fn pass_with_a_network_wait(pid: u32, token: u64, cwd: &Path) -> Pass {
        use crate::core::model::{Peer, ProcState};
        let facts = ProcessFacts {
            pid,
            ppid: 1,
            pgid: pid,
            uid: 0,
            user: None,
            name: "cargo".into(),
            cmd: vec!["cargo".into(), "fetch".into()],
            cwd: Some(cwd.to_path_buf()),
            start_token: token,
            started_at: 0.0,
            state: ProcState::Sleeping,
            tree_cpu_secs: 0.0,
            has_tty: false,
            ancestors: Vec::new(),
            sigterm: Default::default(),
        };
        let activity = Activity {
            peers: vec![Peer {
                remote: "127.0.0.1:9".into(),
                idle_for_secs: Some(1.0),
                socket: Some(1),
                received_bytes: None,
            }],
            ..Default::default()
        };
        Pass {
            sightings: Vec::new(),
            facts: HashMap::from([(pid, facts)]),
            known: Arc::from(Vec::new()),
            graph: Graph::default(),
            activity: HashMap::from([(pid, activity)]),
            hidden: Vec::new(),
        }
    }

    /// A cargo's network settings are read once in its life: it read its configs when it
    /// started, so an edit since changes nothing for it, but does for the next cargo with the
    /// same pid; one gone is forgotten.
    #[test]
    fn network_settings_are_read_once_per_process() {
        let dir = tempfile::tempdir().unwrap();
        let (home, project) = (dir.path().join("home"), dir.path().join("p"));
        fs::create_dir_all(project.join(".cargo")).unwrap();
        fs::create_dir_all(&home).unwrap();
        let config = project.join(".cargo/config.toml");
        fs::write(&config, "[http]\ntimeout = 15\n").unwrap();
        // A pid nobody has: no environment to read, the configs decide.
        let pid = u32::MAX - 7;
        let mut memo = PerProcess::default();
        let first = net_settings(
            &pass_with_a_network_wait(pid, 1, &project),
            Some(&home),
            &mut memo,
        );
        assert_eq!(first[&pid].timeout_secs, 15.0);
        fs::write(&config, "[http]\ntimeout = 40\n").unwrap();
        let same = net_settings(
            &pass_with_a_network_wait(pid, 1, &project),
            Some(&home),
            &mut memo,
        );
        assert_eq!(same[&pid].timeout_secs, 15.0);
        let next = net_settings(
            &pass_with_a_network_wait(pid, 2, &project),
            Some(&home),
            &mut memo,
        );
        assert_eq!(next[&pid].timeout_secs, 40.0);
        // In a pause between tries (no connection open) it is kept.
        let mut pause = pass_with_a_network_wait(pid, 2, &project);
        pause.activity.values_mut().for_each(|a| a.peers.clear());
        let kept = net_settings(&pause, Some(&home), &mut memo);
        assert_eq!(kept[&pid].timeout_secs, 40.0);
        // One never seen connected is not looked into.
        let mut unseen = pass_with_a_network_wait(pid, 3, &project);
        unseen.activity.values_mut().for_each(|a| a.peers.clear());
        assert!(net_settings(&unseen, Some(&home), &mut memo).is_empty());
        let mut quiet = pass_with_a_network_wait(pid, 2, &project);
        quiet.activity.clear();
        assert!(net_settings(&quiet, Some(&home), &mut memo).is_empty());
        assert!(memo.0.is_empty());
    }

    #[test]
    fn without_projects_keeps_homes_and_the_projects_not_listed() {
        let roots = WatchRoots {
            cargo_homes: vec!["/h".into()],
            projects: vec!["/a".into(), "/b".into(), "/c/target".into()],
        };
        let rest = roots.without_projects(&["/b".into(), "/c".into(), "/d".into()]);
        assert_eq!(rest.cargo_homes, roots.cargo_homes);
        assert_eq!(rest.projects, [PathBuf::from("/a"), "/c/target".into()]);
    }

    #[test]
    fn known_locks_lists_existing_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let proj = dir.path().join("proj");
        fs::create_dir_all(home.join("registry/index/crates.io-x")).unwrap();
        fs::write(home.join(".package-cache"), "").unwrap();
        fs::write(
            home.join("registry/index/crates.io-x/.cargo-index-lock"),
            "",
        )
        .unwrap();
        fs::create_dir_all(proj.join("target/debug/deps")).unwrap();
        fs::create_dir_all(proj.join("target/x86_64-unknown-linux-gnu/release")).unwrap();
        fs::write(proj.join("Cargo.toml"), "").unwrap();
        fs::write(proj.join("target/debug/.cargo-lock"), "").unwrap();
        fs::write(proj.join("target/debug/deps/.cargo-lock"), "").unwrap();
        fs::write(
            proj.join("target/x86_64-unknown-linux-gnu/release/.cargo-build-lock"),
            "",
        )
        .unwrap();
        let roots = WatchRoots {
            cargo_homes: vec![home.clone()],
            projects: vec![proj.clone()],
        };
        let kinds: Vec<LockKind> = known_locks(&roots).into_iter().map(|(_, k)| k).collect();
        assert_eq!(kinds.len(), 4, "{kinds:?}");
        assert!(kinds.contains(&LockKind::PackageCache));
        assert!(kinds.contains(&LockKind::LegacyRegistryIndex));
        assert!(kinds.contains(&LockKind::ProfileDirectory));
        assert!(kinds.contains(&LockKind::BuildDirectory));
    }
}
