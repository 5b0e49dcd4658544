//! What a root blocker is doing, in words a tired developer decides on at a glance: compiling
//! which crates, running whose build script, waiting on which network peer, stopped, deadlocked,
//! or stuck behind a process that holds its output pipe open (the culprit to stop instead).
//!
//! Pure: it reads the [`Activity`] a probe gathered.

use std::path::Path;

use super::model::{
    Activity, ChildProcess, Doing, GitFetch, NetSilence, Peer, ProcState, ProcessFacts,
};

/// Classifies what `facts`'s process is doing from its `activity`.
pub fn classify(facts: &ProcessFacts, activity: &Activity, deadlocked: bool) -> Doing {
    match facts.state {
        ProcState::Stopped => return Doing::Stopped,
        ProcState::Zombie => return Doing::Exited,
        _ => {}
    }
    if deadlocked {
        return Doing::Deadlocked;
    }
    if let Some(c) = activity.descendants.iter().find(|c| c.stopped) {
        return Doing::ChildStopped {
            pid: c.pid,
            name: c.name.clone(),
            crate_name: build_script_crate(c),
        };
    }
    if let Some(c) = culprit(activity) {
        return Doing::WaitingForPipe {
            culprit: c.pid,
            culprit_name: c.name.clone(),
        };
    }
    let mut crates: Vec<String> = activity
        .descendants
        .iter()
        .filter_map(rustc_crate_name)
        .collect();
    crates.sort();
    crates.dedup();
    let scripts: Vec<String> = activity
        .descendants
        .iter()
        .filter_map(build_script_crate)
        .collect();
    if crates.is_empty()
        && let Some(crate_name) = scripts.into_iter().next()
    {
        return Doing::BuildScript { crate_name };
    }
    if !crates.is_empty() {
        return Doing::Compiling { crates };
    }
    let git = super::gitfetch::by_git_child(&activity.descendants);
    if let (Some(git), Some(peer)) = (&git, activity.peers.first()) {
        return network(peer, Some(git.clone()));
    }
    if let Some(child) = activity.descendants.first() {
        return Doing::RunningChild {
            pid: child.pid,
            name: child.name.clone(),
        };
    }
    if let Some(peer) = activity.peers.first() {
        return network(peer, None);
    }
    if activity.unseen {
        return Doing::Unseen;
    }
    Doing::Unknown
}

/// Waiting on `peer`, as one look sees it (the daemon follows the wait across connections).
fn network(peer: &Peer, git: Option<GitFetch>) -> Doing {
    Doing::Network {
        peer: peer.remote.clone(),
        idle_for_secs: peer.idle_for_secs,
        silence: None,
        git,
    }
}

/// Whether all a process does is wait on the network, when it does: it has no child, or
/// only the `git fetch` Cargo runs with `net.git-fetch-with-cli`, whose connections are its
/// own (the probe gathers them).
pub fn network_only(activity: &Activity) -> bool {
    activity.descendants.is_empty()
        || super::gitfetch::by_git_child(&activity.descendants).is_some()
}

/// [`describe`] without a network wait's running details (the doing line has them), for a
/// sentence that names what the blocker does in passing, such as a busy verdict.
pub fn describe_short(d: &Doing) -> String {
    match d {
        Doing::Network { git: Some(g), .. } => super::text::printable(&network_words(Some(g))),
        Doing::Network { peer, .. } if data_arriving(d) => format!("downloading from {peer}"),
        Doing::Network { peer, .. } => format!("waiting on the network ({peer})"),
        other => describe(other),
    }
}

/// A network wait's words before its details: a git fetch names its repository (its URL comes
/// from a manifest or a command line: the caller escapes it).
fn network_words(git: Option<&GitFetch>) -> String {
    match git {
        Some(g) => format!("fetching git repository {}", g.url),
        None => "waiting on the network".into(),
    }
}

/// Whether data arrived from the peer of a network wait moments ago: a download going on.
/// Only a wait followed across passes knows that something was received at all: one look's
/// "nothing received for 0s" is as true of a connection just opened to a silent registry.
fn data_arriving(d: &Doing) -> bool {
    match d {
        Doing::Network {
            silence: Some(s), ..
        } => !s.nothing_received && s.silent_for_secs < ARRIVING_SECS,
        _ => false,
    }
}

/// What a blocker is doing, in a few words ("compiling serde, tokio"). Crate names come from
/// command lines, which anyone may fill with escape sequences: control characters are escaped
/// (names escape themselves).
pub fn describe(doing: &Doing) -> String {
    super::text::printable(&describe_as_read(doing))
}

fn describe_as_read(doing: &Doing) -> String {
    match doing {
        Doing::Stopped => "stopped (suspended with Ctrl-Z?)".into(),
        Doing::Deadlocked => "deadlocked".into(),
        Doing::ChildStopped {
            pid,
            name,
            crate_name,
        } => match crate_name {
            Some(c) => format!("stuck: the build script of {c} ({pid}) is stopped"),
            None => format!("stuck: its child {name} {pid} is stopped"),
        },
        Doing::WaitingForPipe {
            culprit,
            culprit_name,
        } => format!("waiting for {culprit_name} {culprit} to close its output pipe"),
        Doing::BuildScript { crate_name } => format!("running the build script of {crate_name}"),
        Doing::Compiling { crates } => {
            const SHOWN: usize = 3;
            let mut s = format!("compiling {}", crates[..crates.len().min(SHOWN)].join(", "));
            if crates.len() > SHOWN {
                s.push_str(&format!(" and {} more", crates.len() - SHOWN));
            }
            s
        }
        // Data arriving: a download, however slow, is no wait (review V, V7).
        Doing::Network {
            peer, git: None, ..
        } if data_arriving(doing) => {
            format!("downloading from {peer} ({})", arriving_words(doing))
        }
        Doing::Network {
            peer, git: Some(g), ..
        } if data_arriving(doing) => {
            format!(
                "fetching git repository {} from {peer} ({})",
                g.url,
                arriving_words(doing)
            )
        }
        Doing::Network {
            peer,
            silence: Some(s),
            git,
            ..
        } => format!(
            "{} ({peer}: {})",
            network_words(git.as_ref()),
            silence_words(s)
        ),
        Doing::Network {
            peer,
            idle_for_secs: Some(idle),
            git,
            ..
        } => format!(
            "{} ({peer}, nothing received for {})",
            network_words(git.as_ref()),
            super::text::duration(*idle)
        ),
        Doing::Network { peer, git, .. } => {
            format!("{} ({peer})", network_words(git.as_ref()))
        }
        Doing::RunningChild { pid, name } => format!("running {name} {pid}"),
        Doing::Exited => "exited, not yet reaped".into(),
        Doing::Unseen => {
            "no child; another user's process, whose connections cannot be seen".into()
        }
        Doing::Unknown => "no child, no network connection".into(),
    }
}

/// "data arriving", with its pace when it is known: "data arriving at 4 B/s" (review AA,
/// AA6).
fn arriving_words(d: &Doing) -> String {
    match bytes_per_sec(d) {
        Some(rate) => format!("data arriving at {}", super::text::rate(rate)),
        None => "data arriving".to_string(),
    }
}

/// The pace data arrives at on a followed network wait, when known.
pub fn bytes_per_sec(d: &Doing) -> Option<f64> {
    match d {
        Doing::Network {
            silence: Some(s), ..
        } => s.bytes_per_sec,
        _ => None,
    }
}

/// Data that arrived this recently is a download going on, not a wait on the network.
const ARRIVING_SECS: f64 = 2.0;

/// A network wait followed across connections, in words: "nothing received since the hold
/// began 1m09s ago, 3 connections", and "none open now: pausing before a retry" between tries.
pub fn silence_words(s: &NetSilence) -> String {
    let quiet = super::text::duration(s.silent_for_secs);
    let mut parts = vec![match (s.nothing_received, s.since_hold_began) {
        (true, true) => format!("nothing received since the hold began {quiet} ago"),
        (true, false) => format!("nothing received since its first try {quiet} ago"),
        (false, _) => format!("nothing received for {quiet}"),
    }];
    if s.connections > 1 {
        parts.push(format!("{} connections", s.connections));
    }
    if !s.open {
        parts.push("none open now: pausing before a retry".into());
    }
    parts.join(", ")
}

/// The process to stop instead of the blocker: one that holds the write end of a pipe the
/// blocker reads from, while the blocker has no live child of its own that could be writing.
pub fn culprit(activity: &Activity) -> Option<&ProcessFacts> {
    culprits(activity).first()
}

/// Every process outside the blocker's tree holding its output pipe open, the culprit first:
/// all of them must let go before the blocker sees the end of its pipe.
pub fn culprits(activity: &Activity) -> &[ProcessFacts] {
    if !activity.descendants.is_empty() {
        return &[];
    }
    &activity.pipe_writers
}

/// The crate a `rustc` child compiles, from `--crate-name NAME` (or `--crate-name=NAME`).
pub fn rustc_crate_name(child: &ChildProcess) -> Option<String> {
    let args = &child.cmd;
    let is_rustc = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("rustc") || n == "clippy-driver")
        || child.name == "rustc";
    if !is_rustc {
        return None;
    }
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--crate-name" {
            return it.next().cloned();
        }
        if let Some(v) = a.strip_prefix("--crate-name=") {
            return Some(v.to_string());
        }
    }
    None
}

/// The package whose build script `child` is: the executable lives in
/// `<build-dir>/<profile>/build/<pkg>-<hash>/build-script-build` (or `…/build/<pkg>/<hash>/…`),
/// or with nightly's new build-dir layout in `…/build/<pkg>/<hash>/out/build_script_build`.
pub fn build_script_crate(child: &ChildProcess) -> Option<String> {
    let exe = Path::new(child.cmd.first()?);
    let name = exe.file_name()?.to_str()?;
    if !name.starts_with("build-script-") && !name.starts_with("build_script_") {
        return None;
    }
    let dir = exe.parent()?;
    let dir = match dir.file_name() {
        Some(out) if out == "out" => dir.parent()?,
        _ => dir,
    };
    let dir_name = dir.file_name()?.to_str()?;
    if is_hash(dir_name) {
        return Some(dir.parent()?.file_name()?.to_str()?.to_string());
    }
    match dir_name.rsplit_once('-') {
        Some((pkg, hash)) if is_hash(hash) => Some(pkg.to_string()),
        _ => Some(dir_name.to_string()),
    }
}

fn is_hash(s: &str) -> bool {
    s.len() >= 8 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::Peer;

    fn facts(state: ProcState) -> ProcessFacts {
        ProcessFacts {
            pid: 10,
            ppid: 5,
            pgid: 10,
            uid: 1000,
            user: None,
            name: "cargo".into(),
            cmd: vec!["cargo".into(), "build".into()],
            cwd: None,
            start_token: 1,
            started_at: 0.0,
            state,
            tree_cpu_secs: 0.0,
            has_tty: true,
            ancestors: vec![],
            sigterm: Default::default(),
        }
    }

    fn child(cmd: &[&str]) -> ChildProcess {
        ChildProcess {
            pid: 20,
            name: Path::new(cmd[0])
                .file_name()
                .unwrap()
                .to_string_lossy()
                .chars()
                .take(15)
                .collect::<String>()
                .into(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            stopped: false,
        }
    }

    const SCRIPT: &str =
        "/src/app/target/debug/build/openssl-sys-3f2a9c1d0e4b5a67/build-script-build";

    #[test]
    fn compiling_names_the_crates_from_rustc_children() {
        let a = Activity {
            descendants: vec![
                child(&["/t/bin/rustc", "--crate-name", "serde", "--edition=2021"]),
                child(&["rustc", "--crate-name=tokio"]),
                child(&[SCRIPT]),
            ],
            ..Activity::default()
        };
        assert_eq!(
            classify(&facts(ProcState::Running), &a, false),
            Doing::Compiling {
                crates: vec!["serde".into(), "tokio".into()]
            }
        );
    }

    #[test]
    fn what_it_does_is_said_with_names_and_crate_names_escaped() {
        let a = Activity {
            descendants: vec![child(&["rustc", "--crate-name", "x\u{1b}[2J"])],
            ..Activity::default()
        };
        let doing = classify(&facts(ProcState::Running), &a, false);
        assert_eq!(describe(&doing), "compiling x\\x1b[2J");
        let child = Doing::RunningChild {
            pid: 7,
            name: "w\nx".into(),
        };
        assert_eq!(describe(&child), "running w\\nx 7");
    }

    #[test]
    fn a_lone_build_script_names_its_package() {
        let a = Activity {
            descendants: vec![child(&[SCRIPT])],
            ..Activity::default()
        };
        assert_eq!(
            classify(&facts(ProcState::Sleeping), &a, false),
            Doing::BuildScript {
                crate_name: "openssl-sys".into()
            }
        );
        let nested = child(&["/b/debug/build/ring/0123456789abcdef/build-script-build"]);
        assert_eq!(build_script_crate(&nested).as_deref(), Some("ring"));
        // Nightly's new build-dir layout (`-Zfine-grain-locking` uses it).
        let nightly = child(&["/t/debug/build/c2/e64ad9c404c4d9ea/out/build_script_build"]);
        assert_eq!(build_script_crate(&nightly).as_deref(), Some("c2"));
        let not_one = child(&["/t/debug/build/c2/e64ad9c404c4d9ea/out/c2"]);
        assert_eq!(build_script_crate(&not_one), None);
    }

    #[test]
    fn a_stopped_build_script_is_what_holds_the_build_up() {
        let mut script = child(&["/t/debug/build/x-1f2e3d4c5b6a7980/build-script-build"]);
        script.stopped = true;
        let a = Activity {
            descendants: vec![child(&["rustc", "--crate-name", "y"]), script],
            ..Activity::default()
        };
        let doing = classify(&facts(ProcState::Sleeping), &a, false);
        assert_eq!(
            doing,
            Doing::ChildStopped {
                pid: 20,
                name: "build-script-bu".into(),
                crate_name: Some("x".into())
            }
        );
        assert!(doing.is_suspended());
        assert_eq!(
            describe(&doing),
            "stuck: the build script of x (20) is stopped"
        );
        // A deadlock still says deadlock.
        assert_eq!(
            classify(&facts(ProcState::Sleeping), &a, true),
            Doing::Deadlocked
        );
    }

    #[test]
    fn stopped_and_deadlocked_win_over_everything() {
        let a = Activity {
            descendants: vec![child(&["rustc", "--crate-name", "x"])],
            ..Activity::default()
        };
        assert_eq!(
            classify(&facts(ProcState::Stopped), &a, true),
            Doing::Stopped
        );
        assert_eq!(
            classify(&facts(ProcState::Running), &a, true),
            Doing::Deadlocked
        );
        assert_eq!(
            classify(&facts(ProcState::Zombie), &a, false),
            Doing::Exited
        );
    }

    #[test]
    fn a_pipe_writer_outside_the_tree_is_the_culprit_only_without_live_children() {
        let mut sleeper = facts(ProcState::Sleeping);
        sleeper.pid = 77;
        sleeper.name = "sleep".into();
        let mut a = Activity {
            pipe_writers: vec![sleeper],
            ..Activity::default()
        };
        assert_eq!(
            classify(&facts(ProcState::Sleeping), &a, false),
            Doing::WaitingForPipe {
                culprit: 77,
                culprit_name: "sleep".into()
            }
        );
        a.descendants.push(child(&[SCRIPT]));
        assert_eq!(
            culprit(&a),
            None,
            "a running build script may be the writer"
        );
    }

    #[test]
    fn descriptions_read_at_a_glance() {
        let crates = |n: usize| Doing::Compiling {
            crates: (0..n).map(|i| format!("c{i}")).collect(),
        };
        assert_eq!(describe(&crates(2)), "compiling c0, c1");
        assert_eq!(describe(&crates(5)), "compiling c0, c1, c2 and 2 more");
        assert_eq!(
            describe(&Doing::Network {
                peer: "10.0.0.1:443".into(),
                idle_for_secs: Some(90.0),
                silence: None,
                git: None,
            }),
            "waiting on the network (10.0.0.1:443, nothing received for 1m30s)"
        );
        assert_eq!(
            describe(&Doing::WaitingForPipe {
                culprit: 7,
                culprit_name: "sleep".into()
            }),
            "waiting for sleep 7 to close its output pipe"
        );
    }

    #[test]
    fn network_only_without_children() {
        let a = Activity {
            peers: vec![Peer {
                remote: "127.0.0.1:8080".into(),
                idle_for_secs: Some(42.0),
                socket: Some(7),
                received_bytes: Some(0),
            }],
            ..Activity::default()
        };
        assert_eq!(
            classify(&facts(ProcState::Sleeping), &a, false),
            Doing::Network {
                peer: "127.0.0.1:8080".into(),
                idle_for_secs: Some(42.0),
                silence: None,
                git: None,
            }
        );
        assert_eq!(
            classify(&facts(ProcState::Sleeping), &Activity::default(), false),
            Doing::Unknown
        );
    }

    #[test]
    fn a_wait_followed_across_tries_says_since_when_and_how_many_connections() {
        let s = NetSilence {
            silent_for_secs: 69.0,
            nothing_received: true,
            since_hold_began: true,
            first_try_secs: 69.0,
            connections: 3,
            open: true,
            bytes_per_sec: None,
        };
        let network = |s: &NetSilence| Doing::Network {
            peer: "127.0.0.1:18765".into(),
            idle_for_secs: Some(4.0),
            silence: Some(s.clone()),
            git: None,
        };
        assert_eq!(
            describe(&network(&s)),
            "waiting on the network (127.0.0.1:18765: nothing received since the hold began \
             1m09s ago, 3 connections)"
        );
        let paused = NetSilence {
            open: false,
            ..s.clone()
        };
        assert_eq!(
            describe(&network(&paused)),
            "waiting on the network (127.0.0.1:18765: nothing received since the hold began \
             1m09s ago, 3 connections, none open now: pausing before a retry)"
        );
        let late = NetSilence {
            since_hold_began: false,
            connections: 1,
            ..s.clone()
        };
        assert_eq!(
            silence_words(&late),
            "nothing received since its first try 1m09s ago"
        );
        let answered = NetSilence {
            nothing_received: false,
            since_hold_began: false,
            silent_for_secs: 20.0,
            ..s
        };
        assert_eq!(
            silence_words(&answered),
            "nothing received for 20s, 3 connections"
        );
        // Data arriving a moment ago: a download, however slow (review V, V7).
        let trickle = NetSilence {
            silent_for_secs: 0.3,
            ..answered
        };
        assert_eq!(
            describe(&network(&trickle)),
            "downloading from 127.0.0.1:18765 (data arriving)"
        );
        assert_eq!(
            describe_short(&network(&trickle)),
            "downloading from 127.0.0.1:18765"
        );
    }
}
