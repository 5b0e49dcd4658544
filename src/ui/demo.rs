//! Realistic snapshots of the four lock situations (idle, held, contended, stale), so the tray
//! can be shown and screenshotted without a daemon (`examples/tray_demo.rs`) and the menu and
//! notification code is tested against the same data a user would see.

use std::path::PathBuf;

use super::UiSnapshot;
use crate::core::catalog::LockKind;
use crate::core::model::{
    HolderReport, LockMode, LockReport, LockState, Origin, ProcState, Report, Source, StaleReason,
    WaiterReport,
};

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

/// The demo's holder: `cargo build` (pid 4242, start token 777) in a terminal.
pub fn holder(held_for_secs: f64, stale: bool) -> HolderReport {
    HolderReport {
        pid: 4242,
        mode: LockMode::Exclusive,
        name: "cargo".into(),
        cmd: vec!["cargo".into(), "build".into(), "--release".into()],
        cwd: Some(project_dir()),
        process_state: if stale {
            ProcState::Stopped
        } else {
            ProcState::Running
        },
        origin: Origin::Terminal,
        origin_via: Some("zsh".into()),
        inherited: false,
        held_for_secs: Some(held_for_secs),
        running_for_secs: Some(held_for_secs + 3.0),
        tree_cpu_secs: 41.5,
        ppid: 4100,
        ancestors: vec![],
        start_token: 777,
        stale,
        stale_reasons: if stale {
            vec![StaleReason::Stopped]
        } else {
            vec![]
        },
    }
}

/// The demo's waiter: `cargo check` (pid 4250) started by rust-analyzer.
pub fn waiter(waiting_for_secs: f64) -> WaiterReport {
    WaiterReport {
        pid: 4250,
        mode: LockMode::Exclusive,
        name: "cargo".into(),
        cmd: vec![
            "cargo".into(),
            "check".into(),
            "--message-format=json".into(),
        ],
        cwd: Some(project_dir()),
        origin: Origin::Ide,
        waiting_for_secs: Some(waiting_for_secs),
    }
}

/// The package-cache lock in a given state.
pub fn package_cache(
    state: LockState,
    holders: Vec<HolderReport>,
    waiters: Vec<WaiterReport>,
) -> LockReport {
    let verdict = match state {
        LockState::Free => "free".to_string(),
        LockState::Stale => "cargo 4242 looks stale: it is stopped (suspended with Ctrl-Z?)".into(),
        _ => "busy: held by cargo 4242, which looks alive. Waiting is usually right.".into(),
    };
    LockReport {
        path: cargo_home().join(".package-cache"),
        kind: LockKind::PackageCache,
        description: LockKind::PackageCache.cargo_words().to_string(),
        state,
        deleted: false,
        project_dir: None,
        holders,
        waiters,
        verdict,
        stop_command: (state == LockState::Stale).then(|| "cargo lockwatch kill 4242".into()),
    }
}

/// A snapshot of `stage` observed at Unix time `now`.
pub fn snapshot(stage: Stage, now: f64) -> UiSnapshot {
    let lock = match stage {
        Stage::Idle => package_cache(LockState::Free, vec![], vec![]),
        Stage::Held => package_cache(LockState::Held, vec![holder(192.0, false)], vec![]),
        Stage::Contended => package_cache(
            LockState::Contended,
            vec![holder(215.0, false)],
            vec![waiter(12.0)],
        ),
        Stage::Stale => package_cache(
            LockState::Stale,
            vec![holder(750.0, true)],
            vec![waiter(45.0)],
        ),
    };
    UiSnapshot {
        report: Report {
            source: Source::Daemon,
            observed_at: now,
            cargo_homes: vec![cargo_home()],
            locks: vec![lock],
        },
        paused: false,
        snoozed_until: None,
        launch_at_login: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
