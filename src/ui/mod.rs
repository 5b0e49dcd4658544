//! The face of the product: menu-bar/tray icon, menu and desktop notifications. The menu model,
//! icon choice and notification text are pure; the tray itself is behind the `tray` feature.
//!
//! The daemon and the UI talk only through the two message types below: the daemon pushes a
//! [`UiSnapshot`] whenever something visible changes (and once a second while a lock is held, so
//! times tick), and the UI sends [`UiCommand`]s back. Every view reads the snapshot's incidents
//! (who blocks whom), never raw lock holders, so a waiter is never offered for termination.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::core::free_locks::FreeLocks;
use crate::core::model::Report;

pub mod demo;
pub mod icons;
pub mod menu;
pub mod notify;
#[cfg(all(tray, feature = "tray-sni", target_os = "linux"))]
mod sni_watchdog;
#[cfg(tray)]
pub mod tray;

/// Everything the tray needs to draw itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiSnapshot {
    /// The current report (source: daemon, with real hold times).
    pub report: Report,
    /// Watching is paused by the user.
    pub paused: bool,
    /// Notifications are snoozed until this Unix time.
    pub snoozed_until: Option<f64>,
    /// The login agent/unit is installed.
    pub launch_at_login: bool,
    /// "Your build first" (`policy.yield_ide`) is on.
    #[serde(default)]
    pub yield_ide: bool,
    /// What the daemon cannot do right now (e.g. write its history), each with what to do;
    /// shown in the `status` footer and by `doctor`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// The daemon's free lock files, shared between its snapshots while their list is the
    /// same: `report.locks` lists only the others until [`UiSnapshot::whole`] adds these.
    /// Never sent: a client is sent the whole report.
    #[serde(skip)]
    pub free_locks: Option<std::sync::Arc<FreeLocks>>,
    /// The project roots whose lock files the daemon lists, free ones too, so that a client
    /// lists only the roots the daemon does not watch (thousands of configured projects were
    /// most of a `status`). `None` from a daemon that does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watched_projects: Option<WatchedProjects>,
    /// The config file the daemon's settings come from, as it was when read. `None` from a
    /// daemon that does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_file: Option<crate::config::ConfigFile>,
}

/// A daemon's watched project roots, shared between its snapshots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchedProjects(pub std::sync::Arc<Vec<PathBuf>>);

impl Serialize for WatchedProjects {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::core::text::lossy_path::list(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for WatchedProjects {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<PathBuf>::deserialize(d).map(|v| WatchedProjects(std::sync::Arc::new(v)))
    }
}

impl UiSnapshot {
    /// The snapshot with its report whole: the free lock files listed after the others.
    pub fn whole(mut self) -> UiSnapshot {
        if let Some(free) = self.free_locks.take() {
            free.append_unlisted(&mut self.report.locks);
        }
        self
    }
}

/// How long to snooze notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnoozeFor {
    /// 15 minutes.
    Minutes15,
    /// One hour.
    Hour1,
    /// Until 8:00 tomorrow, local time.
    UntilTomorrow,
    /// Cancel a snooze.
    Off,
}

/// What the user asked for from the menu or a notification action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action", content = "value")]
pub enum UiCommand {
    /// SIGTERM the blocker or culprit (and its descendants), re-verified first.
    Terminate {
        /// Target pid.
        pid: u32,
        /// Start token from the report, guarding against pid reuse.
        start_token: u64,
    },
    /// SIGTERM the target of a stale incident, as a notification about it offered: only if it
    /// still looks stale now (a notification stays on screen after the blocker was resumed or
    /// recovered, and must not stop a build that runs again).
    TerminateIfStale {
        /// Target pid.
        pid: u32,
        /// Start token from the report the notification was made from.
        start_token: u64,
    },
    /// SIGKILL the holder (after the user confirmed).
    ForceKill {
        /// Holder pid.
        pid: u32,
        /// Start token from the report.
        start_token: u64,
    },
    /// SIGCONT a stopped blocker (and its stopped children), re-verified first.
    Resume {
        /// Blocker pid.
        pid: u32,
        /// Start token from the report.
        start_token: u64,
    },
    /// Snooze notifications.
    Snooze(SnoozeFor),
    /// Pause or resume watching.
    SetPaused(bool),
    /// Install or remove the login agent/unit.
    SetLaunchAtLogin(bool),
    /// Turn "Your build first" (`policy.yield_ide`) on or off, in the config file too.
    SetYieldIde(bool),
    /// Open the history summary (a terminal or text viewer).
    OpenHistory,
    /// Open the project folder in the file manager.
    RevealProject(PathBuf),
    /// Quit the daemon (exit 0, which the login agent does not restart).
    Quit,
}

#[cfg(test)]
mod contract_tests {
    use super::*;

    #[test]
    fn ui_commands_round_trip_as_json() {
        let all = vec![
            UiCommand::Terminate {
                pid: 1,
                start_token: 2,
            },
            UiCommand::ForceKill {
                pid: 1,
                start_token: 2,
            },
            UiCommand::TerminateIfStale {
                pid: 1,
                start_token: 2,
            },
            UiCommand::Resume {
                pid: 3,
                start_token: 4,
            },
            UiCommand::Snooze(SnoozeFor::UntilTomorrow),
            UiCommand::SetPaused(true),
            UiCommand::SetLaunchAtLogin(false),
            UiCommand::OpenHistory,
            UiCommand::RevealProject(PathBuf::from("/src/app")),
            UiCommand::Quit,
        ];
        for c in all {
            let json = serde_json::to_string(&c).expect("serializes");
            assert_eq!(
                serde_json::from_str::<UiCommand>(&json).expect("parses"),
                c,
                "{json}"
            );
        }
    }
}
