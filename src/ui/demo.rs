//! Realistic snapshots of the four situations (idle, held, blocking, stale), built by the real
//! core (blocking graph and report builder) from made-up kernel sightings, so the tray can be
//! shown and screenshotted without a daemon (`examples/tray_demo.rs`) and the menu and
//! notification code is tested against the same data a user would see.

use std::collections::HashMap;
use std::path::PathBuf;

use super::UiSnapshot;
use crate::core::catalog::LockKind;
use crate::core::graph::Graph;
use crate::core::model::{
    Activity, Ancestor, ChildProcess, FileKey, LockMode, LockSighting, Participant, ProcState,
    ProcessFacts, Sigterm, Source, StaleReason,
};
use crate::core::report::{self, Knowledge, Observed};

/// Which situation to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Every lock free.
    Idle,
    /// `cargo build` (pid 4242) holds the package cache, nobody waits.
    Held,
    /// ... and `cargo check` from rust-analyzer (pid 4250) waits for it.
    Contended,
    /// ... and the holder was suspended with Ctrl-Z and looks stale.
    Stale,
}

impl Stage {
    /// The scripted order the demo plays.
    pub const SEQUENCE: [Stage; 4] = [Stage::Idle, Stage::Held, Stage::Contended, Stage::Stale];
}

/// The blocker's pid and start token.
pub const BLOCKER: (u32, u64) = (4242, 777);
/// The waiter's pid.
pub const WAITER: u32 = 4250;

const CACHE: FileKey = FileKey { dev: 1, ino: 100 };
const MUTATE: FileKey = FileKey { dev: 1, ino: 101 };

/// The Cargo home the demo pretends to watch.
pub fn cargo_home() -> PathBuf {
    home().join(".cargo")
}

/// The project the demo's cargo builds.
pub fn project_dir() -> PathBuf {
    home().join("src/app")
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/home/dev"))
}

fn facts(pid: u32, token: u64, cmd: &[&str], parent: &str, age: f64, now: f64) -> ProcessFacts {
    ProcessFacts {
        pid,
        ppid: pid - 100,
        pgid: pid,
        uid: 501,
        user: None,
        name: "cargo".into(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        cwd: Some(project_dir()),
        start_token: token,
        started_at: now - age,
        state: ProcState::Running,
        tree_cpu_secs: 41.5,
        has_tty: parent == "zsh",
        ancestors: vec![Ancestor {
            pid: pid - 100,
            name: parent.into(),
        }],
        sigterm: Default::default(),
    }
}

fn sighting(key: FileKey, holders: Vec<Participant>, waiters: Vec<Participant>) -> LockSighting {
    let (name, kind) = if key == CACHE {
        (".package-cache", LockKind::PackageCache)
    } else {
        (".package-cache-mutate", LockKind::PackageCacheMutate)
    };
    LockSighting {
        path: cargo_home().join(name),
        key,
        kind,
        deleted: false,
        holders,
        waiters,
        dead_locker: None,
        locker_gone: false,
        unseen: None,
    }
}

fn part(pid: u32, mode: LockMode) -> Participant {
    Participant {
        pid,
        mode,
        inherited: false,
    }
}

/// A snapshot of `stage` observed at Unix time `now`.
pub fn snapshot(stage: Stage, now: f64) -> UiSnapshot {
    build(stage, now, false, None)
}

/// The stale stage with a blocker that is not stopped but idle, and ignores SIGTERM (as a
/// process started under `trap "" TERM` does): only `kill --force` stops it.
pub fn stale_ignoring_sigterm(now: f64) -> UiSnapshot {
    build(Stage::Stale, now, true, None)
}

/// `stage` with a blocker that named itself `name` (anyone may: escape sequences, newlines).
pub fn snapshot_named(stage: Stage, now: f64, name: &str) -> UiSnapshot {
    build(stage, now, false, Some(name))
}

fn build(stage: Stage, now: f64, ignores_sigterm: bool, name: Option<&str>) -> UiSnapshot {
    let (held, waited) = match stage {
        Stage::Idle | Stage::Held => (192.0, 0.0),
        Stage::Contended => (215.0, 12.0),
        Stage::Stale => (750.0, 45.0),
    };
    let (pid, token) = BLOCKER;
    let mut blocker = facts(
        pid,
        token,
        &["cargo", "build", "--release"],
        "zsh",
        held + 3.0,
        now,
    );
    if let Some(name) = name {
        blocker.name = name.into();
    }
    let waiter = facts(
        WAITER,
        778,
        &["cargo", "check", "--message-format=json"],
        "rust-analyzer",
        waited,
        now,
    );
    let mut sightings = Vec::new();
    let mut k = Knowledge {
        stale: Some(HashMap::new()),
        ..Knowledge::default()
    };
    if stage != Stage::Idle {
        let waiting = stage != Stage::Held;
        let waiters = if waiting {
            vec![part(WAITER, LockMode::Exclusive)]
        } else {
            vec![]
        };
        sightings.push(sighting(
            CACHE,
            vec![part(pid, LockMode::Exclusive)],
            waiters,
        ));
        let mut sharing = vec![part(pid, LockMode::Shared)];
        if waiting {
            sharing.push(part(WAITER, LockMode::Shared));
            k.wait_since.insert((CACHE, WAITER), now - waited);
        }
        sightings.push(sighting(MUTATE, sharing, vec![]));
        k.hold_since.insert((CACHE, pid), now - held);
        k.hold_since.insert((MUTATE, pid), now - held);
    }
    let mut activity = Activity {
        descendants: ["serde", "tokio"]
            .iter()
            .enumerate()
            .map(|(i, c)| ChildProcess {
                pid: 4300 + i as u32,
                name: "rustc".into(),
                cmd: vec!["rustc".into(), "--crate-name".into(), c.to_string()],
                stopped: false,
            })
            .collect(),
        ..Activity::default()
    };
    if stage == Stage::Stale && ignores_sigterm {
        blocker.sigterm = Sigterm::Ignored;
        blocker.state = ProcState::Sleeping;
        activity.descendants.clear();
        k.stale = Some(HashMap::from([(pid, vec![StaleReason::Idle])]));
    } else if stage == Stage::Stale {
        blocker.state = ProcState::Stopped;
        activity.descendants.clear();
        k.stale = Some(HashMap::from([(pid, vec![StaleReason::Stopped])]));
    }
    let facts = HashMap::from([(pid, blocker), (WAITER, waiter)]);
    let graph = Graph::build(&sightings, &facts);
    let obs = Observed {
        sightings: &sightings,
        facts: &facts,
        activity: &HashMap::from([(pid, activity)]),
        graph: &graph,
        free: &[(cargo_home().join(".package-cache"), LockKind::PackageCache)],
        hidden: &[],
    };
    UiSnapshot {
        report: report::build(Source::Daemon, now, vec![cargo_home()], &obs, &k),
        paused: false,
        snoozed_until: None,
        launch_at_login: true,
        yield_ide: false,
        problems: Vec::new(),
        free_locks: None,
        watched_projects: None,
        config_file: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{IncidentState, Role};
    use crate::ui::icons::IconState;

    #[test]
    fn stages_show_their_icon() {
        let icons: Vec<IconState> = Stage::SEQUENCE
            .iter()
            .map(|s| IconState::of(&snapshot(*s, 0.0)))
            .collect();
        assert_eq!(
            icons,
            [
                IconState::Idle,
                IconState::Held,
                IconState::Contended,
                IconState::Stale
            ]
        );
    }

    #[test]
    fn the_waiter_sharing_mutate_is_blocked_everywhere() {
        let r = snapshot(Stage::Stale, 0.0).report;
        assert_eq!(r.incidents.len(), 1);
        assert_eq!(r.incidents[0].state, IncidentState::Stale);
        let waiter_rows = r
            .locks
            .iter()
            .flat_map(|l| &l.holders)
            .filter(|h| h.pid == WAITER);
        for h in waiter_rows {
            assert_eq!(h.role, Role::Blocked);
            assert!(!h.stale);
        }
    }
}
