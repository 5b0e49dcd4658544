//! How long a command usually holds its build locks in a project, learned from the history, so
//! a busy blocker reads "usually takes 3m10s here (median of the last 12); 1m40s so far"
//! instead of an open-ended wait.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use super::catalog;
use super::model::{IncidentReport, ProcName, Report, TypicalHold};
use super::policy::{HistoryEvent, ProcId};
use super::words;

/// Holds remembered per command and project.
pub const KEEP: usize = 12;
/// Fewer holds than this say nothing typical.
pub const MIN_HOLDS: usize = 3;
/// Holds shorter than this (seconds) are not builds to wait for: a build that waited and then
/// found everything fresh holds its lock for a moment, and would pull the estimate down.
pub const MIN_HOLD_SECS: f64 = 1.0;

/// The command as the estimate tells commands apart: `cargo build` and `cargo build --release`
/// take very different times; other flags rarely matter.
pub fn command_key(cmd: &[String], name: &ProcName) -> String {
    let mut key = words::short_command(cmd, name);
    let profile = cmd.iter().enumerate().find_map(|(i, a)| {
        if a == "--release" || a == "-r" {
            Some("release".to_string())
        } else if let Some(p) = a.strip_prefix("--profile=") {
            Some(p.to_string())
        } else if a == "--profile" {
            cmd.get(i + 1).cloned()
        } else {
            None
        }
    });
    if let Some(p) = profile {
        key.push_str(&format!(" ({p})"));
    }
    key
}

/// The last holds of each (project, command), newest last.
#[derive(Debug, Clone, Default)]
pub struct HoldTimes {
    holds: HashMap<(PathBuf, String), VecDeque<(ProcId, f64)>>,
    /// Holders whose hold did not end as a build ends: they looked stale (stopped, hung),
    /// were killed, or were stopped for a terminal build. Their hold times say nothing of how
    /// long a build takes (review N, P11).
    cut_short: HashSet<ProcId>,
}

impl HoldTimes {
    /// Learns from one history event: a released build lock whose start was seen, unless its
    /// holder's hold was cut short.
    pub fn add(&mut self, e: &HistoryEvent) {
        if let HistoryEvent::Stale { holder, .. }
        | HistoryEvent::Killed { holder, .. }
        | HistoryEvent::Yielded { holder, .. } = e
        {
            self.cut_short.insert(*holder);
            // Killed after it let go (the kill's line comes last): forgotten too.
            for list in self.holds.values_mut() {
                list.retain(|(id, _)| id != holder);
            }
            return;
        }
        let HistoryEvent::Released {
            path,
            holder,
            name,
            held_secs,
            cmd,
            since_known: true,
            party,
            ..
        } = e
        else {
            return;
        };
        if *held_secs < MIN_HOLD_SECS || self.cut_short.contains(holder) {
            return;
        }
        let build_lock = catalog::classify(path).is_some_and(|k| !k.in_cargo_home());
        let Some(project) = party
            .project
            .clone()
            .filter(|_| build_lock && !cmd.is_empty())
        else {
            return;
        };
        let list = self
            .holds
            .entry((project, command_key(cmd, name)))
            .or_default();
        // One cargo releases several build locks at once: one hold, the longest.
        match list.back_mut() {
            Some((id, secs)) if id == holder => *secs = secs.max(*held_secs),
            _ => list.push_back((*holder, *held_secs)),
        }
        if list.len() > KEEP {
            list.pop_front();
        }
    }

    /// The median of the last holds of `cmd` in `project`, when there are enough.
    pub fn typical(&self, project: &Path, cmd: &[String], name: &ProcName) -> Option<TypicalHold> {
        let list = self
            .holds
            .get(&(project.to_path_buf(), command_key(cmd, name)))?;
        if list.len() < MIN_HOLDS {
            return None;
        }
        let mut secs: Vec<f64> = list.iter().map(|(_, s)| *s).collect();
        secs.sort_by(f64::total_cmp);
        let mid = secs.len() / 2;
        let median = if secs.len().is_multiple_of(2) {
            (secs[mid - 1] + secs[mid]) / 2.0
        } else {
            secs[mid]
        };
        Some(TypicalHold {
            median_secs: median,
            holds: secs.len() as u32,
        })
    }

    /// Fills in each incident's typical hold from its blocker's command and project.
    pub fn annotate(&self, report: &mut Report) {
        for i in &mut report.incidents {
            i.typical_hold = self.for_incident(i);
        }
    }

    fn for_incident(&self, i: &IncidentReport) -> Option<TypicalHold> {
        let b = i.blocker.as_ref()?;
        let project = i
            .locks
            .iter()
            .find_map(|l| l.project_dir.clone())
            .or_else(|| super::place::workplace(&b.cmd, b.cwd.as_deref()))?;
        self.typical(&project, &b.cmd, &b.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::Party;

    fn released(pid: u32, secs: f64, cmd: &[&str], path: &str, known: bool) -> HistoryEvent {
        HistoryEvent::Released {
            network_silent_secs: None,
            at: 1.0,
            path: path.into(),
            ino: 1,
            holder: ProcId {
                pid,
                start_token: 1,
            },
            name: "cargo".into(),
            held_secs: secs,
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            since_known: known,
            party: Party {
                origin: None,
                via: None,
                project: Some("/src/app".into()),
                user: None,
            },
        }
    }

    const LOCK: &str = "/src/app/target/debug/.cargo-lock";
    const BUILD: &[&str] = &["cargo", "build"];

    #[test]
    fn the_median_of_the_last_holds_of_a_command_in_a_project() {
        let mut t = HoldTimes::default();
        let p = Path::new("/src/app");
        t.add(&released(1, 100.0, BUILD, LOCK, true));
        t.add(&released(2, 200.0, BUILD, LOCK, true));
        assert_eq!(
            t.typical(p, &["cargo".into(), "build".into()], &"cargo".into()),
            None
        );
        t.add(&released(3, 400.0, BUILD, LOCK, true));
        let typical = t.typical(p, &["/x/cargo".into(), "build".into()], &"cargo".into());
        assert_eq!(
            typical,
            Some(TypicalHold {
                median_secs: 200.0,
                holds: 3
            })
        );
        // Only the last KEEP count.
        for pid in 10..30 {
            t.add(&released(pid, 50.0, BUILD, LOCK, true));
        }
        let typical = t.typical(p, &["cargo".into(), "build".into()], &"cargo".into());
        assert_eq!(typical.map(|t| (t.median_secs, t.holds)), Some((50.0, 12)));
    }

    /// A hold that looked stale (stopped with Ctrl-Z, hung), or was killed or yielded, says
    /// nothing of how long a build takes, whichever line comes first (review N, P11).
    #[test]
    fn holds_cut_short_do_not_count() {
        let id = |pid| ProcId {
            pid,
            start_token: 1,
        };
        let mut t = HoldTimes::default();
        let p = Path::new("/src/app");
        t.add(&HistoryEvent::Stale {
            at: 1.0,
            path: LOCK.into(),
            holder: id(1),
            name: "cargo".into(),
            reasons: vec![crate::core::model::StaleReason::Stopped],
            blocked: vec![],
            left_by: None,
            cycle: false,
            git: None,
            net: None,
        });
        t.add(&released(1, 174.0, BUILD, LOCK, true));
        t.add(&released(2, 27.0, BUILD, LOCK, true));
        t.add(&HistoryEvent::Killed {
            at: 2.0,
            holder: id(2),
            name: "cargo".into(),
            signal: "SIGTERM".into(),
            paths: vec![LOCK.into()],
        });
        for pid in 3..6 {
            t.add(&released(pid, 300.0, BUILD, LOCK, true));
        }
        let typical = t.typical(p, &["cargo".into(), "build".into()], &"cargo".into());
        assert_eq!(typical.map(|t| (t.median_secs, t.holds)), Some((300.0, 3)));
    }

    #[test]
    fn what_does_not_count() {
        let mut t = HoldTimes::default();
        let p = Path::new("/src/app");
        for pid in 0..5 {
            // A start nobody saw, the package cache, a build with nothing to do, another
            // profile.
            t.add(&released(pid, 9.0, BUILD, LOCK, false));
            t.add(&released(pid + 100, 0.3, BUILD, LOCK, true));
            t.add(&released(pid, 9.0, BUILD, "/h/.package-cache", true));
            t.add(&released(
                pid,
                9.0,
                &["cargo", "build", "--release"],
                LOCK,
                true,
            ));
        }
        assert_eq!(
            t.typical(p, &["cargo".into(), "build".into()], &"cargo".into()),
            None
        );
        let release = ["cargo".into(), "build".into(), "-r".into()];
        assert_eq!(
            t.typical(p, &release, &"cargo".into()).map(|t| t.holds),
            Some(5)
        );
    }

    #[test]
    fn one_cargo_releasing_two_build_locks_is_one_hold() {
        let mut t = HoldTimes::default();
        for pid in 0..3 {
            t.add(&released(pid, 10.0, BUILD, LOCK, true));
            t.add(&released(
                pid,
                12.0,
                BUILD,
                "/src/app/target/debug/.cargo-lock",
                true,
            ));
        }
        let typical = t.typical(
            Path::new("/src/app"),
            &["cargo".into(), "build".into()],
            &"c".into(),
        );
        assert_eq!(typical.map(|t| (t.median_secs, t.holds)), Some((12.0, 3)));
    }

    #[test]
    fn command_keys_tell_profiles_apart() {
        let k = |v: &[&str]| {
            command_key(
                &v.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                &"c".into(),
            )
        };
        assert_eq!(k(&["cargo", "build"]), "cargo build");
        assert_eq!(k(&["cargo", "build", "--release"]), "cargo build (release)");
        assert_eq!(
            k(&["cargo", "build", "--profile", "dist"]),
            "cargo build (dist)"
        );
        assert_eq!(k(&["cargo", "test", "--profile=ci"]), "cargo test (ci)");
    }
}
