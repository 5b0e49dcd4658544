//! "Your build first" (`policy.yield_ide`): when a terminal build waits behind an IDE's
//! background `cargo check`/`cargo clippy`, that check is the one to stop — the IDE runs it again
//! on the next save, while the person at the terminal is waiting now. This module only decides;
//! the daemon stops the check through the same pid-reuse-proof path as a user's kill.

use std::collections::HashSet;

use super::model::{IncidentReport, Origin, ProcessReport, Report};
use super::policy::ProcId;

/// An IDE's check to stop, and the terminal build it makes way for.
#[derive(Debug, Clone, PartialEq)]
pub struct Yield {
    /// The IDE's check.
    pub check: ProcessReport,
    /// The terminal build that waits for it.
    pub for_waiter: ProcessReport,
    /// How long that build has waited for the lock, whoever held it: a check that took the
    /// lock when the build's earlier blocker let go jumped the queue, and the build has waited
    /// all that time already.
    pub waited_secs: f64,
    /// `waited_secs` counts from the wait's real start; false when the build was already
    /// waiting when the daemon first looked (it has waited at least that long).
    pub waited_since_known: bool,
}

impl Yield {
    /// How long the build waited, as the log says it: `30s`, or `≥ 30s` for a lower bound.
    pub fn waited_words(&self) -> String {
        super::text::duration_known(self.waited_secs, self.waited_since_known)
    }
}

/// Whether `cmd` is a background check an IDE runs on save: `cargo check`, `cargo clippy`
/// (toolchain overrides and flags before the subcommand allowed).
pub fn is_background_check(cmd: &[String]) -> bool {
    let Some(program) = cmd.first() else {
        return false;
    };
    let base = std::path::Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if base != "cargo" {
        return false;
    }
    matches!(
        super::catalog::cargo_subcommand(cmd),
        Some("check" | "clippy")
    )
}

/// The checks to stop now: in each incident whose root blocker is an IDE's background check
/// owned by `uid`, a terminal process that has waited at least `after_secs` for the lock, since
/// it began waiting whoever held the lock then (the clock does not restart when the check
/// takes the lock ahead of it). Never a terminal build, never twice the same process (`done`).
pub fn decide(report: &Report, uid: u32, after_secs: f64, done: &HashSet<ProcId>) -> Vec<Yield> {
    report
        .incidents
        .iter()
        .filter_map(|i| one(i, uid, after_secs, done))
        .collect()
}

fn one(i: &IncidentReport, uid: u32, after_secs: f64, done: &HashSet<ProcId>) -> Option<Yield> {
    let check = i.blocker.as_ref()?;
    let id = ProcId {
        pid: check.pid,
        start_token: check.start_token,
    };
    if check.origin != Origin::Ide
        || check.uid != uid
        || !is_background_check(&check.cmd)
        || i.culprit.is_some()
        || done.contains(&id)
    {
        return None;
    }
    // A build suspended with Ctrl-Z would not take the lock: no check is stopped for it.
    let (waiter, waited) = i
        .blocked
        .iter()
        .filter(|b| b.process.origin == Origin::Terminal)
        .filter(|b| b.process.process_state != crate::core::model::ProcState::Stopped)
        .filter_map(|b| Some((b, b.waiting_for_secs?)))
        .find(|(_, w)| *w >= after_secs)?;
    Some(Yield {
        check: check.clone(),
        for_waiter: waiter.process.clone(),
        waited_secs: waited,
        waited_since_known: waiter.waiting_since_known,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::demo::{Stage, snapshot};

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    /// The demo's contended incident turned around: rust-analyzer's check (pid 4242) blocks a
    /// terminal `cargo build` (pid 4250) that has waited `waited` seconds.
    fn ide_blocks_terminal(waited: f64) -> Report {
        let mut r = snapshot(Stage::Contended, 1000.0).report;
        let i = &mut r.incidents[0];
        let b = i.blocker.as_mut().unwrap();
        b.origin = Origin::Ide;
        b.origin_via = Some("rust-analyzer".into());
        b.cmd = s(&[
            "/home/me/.cargo/bin/cargo",
            "check",
            "--message-format=json",
        ]);
        b.uid = 1000;
        let w = &mut i.blocked[0];
        w.process.origin = Origin::Terminal;
        w.process.cmd = s(&["cargo", "build"]);
        w.waiting_for_secs = Some(waited);
        r
    }

    #[test]
    fn a_terminal_build_waiting_behind_an_ide_check_makes_it_yield() {
        let r = ide_blocks_terminal(5.0);
        let y = decide(&r, 1000, 3.0, &HashSet::new());
        assert_eq!(y.len(), 1);
        assert_eq!(y[0].check.pid, r.incidents[0].blocker.as_ref().unwrap().pid);
        assert_eq!(y[0].for_waiter.cmd, s(&["cargo", "build"]));
        assert_eq!(y[0].waited_secs, 5.0);
    }

    #[test]
    fn a_check_that_took_the_lock_ahead_of_a_waiting_build_does_not_restart_its_clock() {
        // The build waited 20 s behind another terminal build; when that one finished, the
        // check took the lock first and has held it for one second. The build has waited long
        // enough: the check goes at once.
        let mut r = ide_blocks_terminal(20.0);
        let lock = r.incidents[0].blocked[0].lock.clone();
        for l in r.incidents[0].locks.iter_mut().filter(|l| l.path == lock) {
            l.held_for_secs = Some(1.0);
        }
        let y = decide(&r, 1000, 3.0, &HashSet::new());
        assert_eq!(y.len(), 1);
        assert_eq!(
            y[0].waited_secs, 20.0,
            "the whole wait, not behind the check"
        );
        // A build that began waiting a moment ago still gives the check its `yield_after`.
        let mut r = ide_blocks_terminal(1.0);
        for l in r.incidents[0].locks.iter_mut() {
            l.held_for_secs = Some(60.0);
        }
        assert!(decide(&r, 1000, 3.0, &HashSet::new()).is_empty());
    }

    #[test]
    fn a_wait_found_under_way_is_logged_as_a_lower_bound() {
        let mut r = ide_blocks_terminal(30.0);
        r.incidents[0].blocked[0].waiting_since_known = true;
        let y = decide(&r, 1000, 3.0, &HashSet::new());
        assert_eq!(y[0].waited_words(), "30s");
        // Already waiting when the daemon first looked: it waited at least that long.
        r.incidents[0].blocked[0].waiting_since_known = false;
        let y = decide(&r, 1000, 3.0, &HashSet::new());
        assert!(!y[0].waited_since_known);
        assert_eq!(y[0].waited_words(), "≥ 30s");
    }

    #[test]
    fn a_suspended_terminal_build_makes_no_check_yield() {
        let mut r = ide_blocks_terminal(30.0);
        r.incidents[0].blocked[0].process.process_state = crate::core::model::ProcState::Stopped;
        assert!(decide(&r, 1000, 3.0, &HashSet::new()).is_empty());
    }

    #[test]
    fn a_check_watch_1_reruns_yields_and_gets_the_tip_as_a_file_watcher_s() {
        // `watch -n 2 cargo check` re-running a check in front of a terminal build (review Y,
        // Y2): stopped for it, and the tip says when `watch` runs it again.
        let mut r = ide_blocks_terminal(5.0);
        r.incidents[0].blocker.as_mut().unwrap().origin_via = Some("watch".into());
        assert_eq!(decide(&r, 1000, 3.0, &HashSet::new()).len(), 1);
        let tip = crate::core::words::ide_tip(&r.incidents[0], None, true).unwrap();
        assert!(tip.starts_with("watch's check holds up your build: `yield_ide = true`"));
        let on = crate::core::words::ide_tip(&r.incidents[0], Some(3.0), true).unwrap();
        assert!(
            on.contains("(watch checks again at its next interval)"),
            "{on}"
        );
    }

    #[test]
    fn never_before_the_wait_is_long_enough_nor_twice() {
        assert!(decide(&ide_blocks_terminal(1.0), 1000, 3.0, &HashSet::new()).is_empty());
        let r = ide_blocks_terminal(5.0);
        let b = r.incidents[0].blocker.as_ref().unwrap();
        let done = HashSet::from([ProcId {
            pid: b.pid,
            start_token: b.start_token,
        }]);
        assert!(decide(&r, 1000, 3.0, &done).is_empty());
    }

    #[test]
    fn never_a_terminal_build_another_users_process_or_a_non_check() {
        let mut r = ide_blocks_terminal(60.0);
        r.incidents[0].blocker.as_mut().unwrap().origin = Origin::Terminal;
        assert!(
            decide(&r, 1000, 3.0, &HashSet::new()).is_empty(),
            "a terminal build"
        );

        assert!(
            decide(&ide_blocks_terminal(60.0), 0, 3.0, &HashSet::new()).is_empty(),
            "not this user's"
        );

        let mut r = ide_blocks_terminal(60.0);
        r.incidents[0].blocker.as_mut().unwrap().cmd = s(&["cargo", "metadata"]);
        assert!(
            decide(&r, 1000, 3.0, &HashSet::new()).is_empty(),
            "metadata"
        );

        let mut r = ide_blocks_terminal(60.0);
        r.incidents[0].blocked[0].process.origin = Origin::Ide;
        assert!(
            decide(&r, 1000, 3.0, &HashSet::new()).is_empty(),
            "only a terminal build is worth it"
        );
    }

    #[test]
    fn background_checks_are_recognised() {
        assert!(is_background_check(&s(&["cargo", "check"])));
        assert!(is_background_check(&s(&[
            "/x/cargo", "+nightly", "clippy", "--all"
        ])));
        assert!(is_background_check(&s(&["cargo", "--offline", "check"])));
        assert!(is_background_check(&s(&[
            "cargo", "--config", "x=1", "check"
        ])));
        assert!(!is_background_check(&s(&["cargo", "metadata"])));
        assert!(!is_background_check(&s(&["cargo", "build"])));
        assert!(!is_background_check(&s(&["rust-analyzer"])));
        assert!(!is_background_check(&[]));
    }
}
