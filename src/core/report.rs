//! Turns raw sightings and process facts into the [`Report`] every surface shows: state, stale
//! reasons, verdict line and the command that stops a stuck holder.
//!
//! Pure: times and the stale verdict come in as data, so a one-shot scan (instantaneous reasons
//! only) and the daemon (policy over time) share this code.

use std::collections::HashMap;
use std::path::PathBuf;

use super::catalog::{self, LockKind};
use super::model::{
    FileKey, HolderReport, LockReport, LockSighting, LockState, ProcState, ProcessFacts, Report,
    Source, StaleReason, WaiterReport,
};
use super::origin;

/// What the caller knows beyond one pass: when holds and waits began, and which holders the
/// policy judged stale. Keys are (lock file, pid).
#[derive(Debug, Default, Clone)]
pub struct Knowledge {
    /// Unix time each hold was first seen.
    pub hold_since: HashMap<(FileKey, u32), f64>,
    /// Unix time each wait was first seen.
    pub wait_since: HashMap<(FileKey, u32), f64>,
    /// Stale verdicts from the policy; when `None`, instantaneous reasons are used.
    pub stale: Option<HashMap<(FileKey, u32), Vec<StaleReason>>>,
    /// Process names never called stale (configuration).
    pub ignore_names: Vec<String>,
}

/// An orphan counts as stale at a glance only when its tree averaged less than this share of
/// one CPU over its life: a `nohup cargo build` that is compiling is busy, a fetch hung on the
/// network is not. (The daemon judges orphans by the idle window instead.)
const ORPHAN_BUSY_SHARE: f64 = 0.01;

/// Reasons a holder looks stale that need no history.
pub fn instant_reasons(
    sighting: &LockSighting,
    holder_inherited: bool,
    facts: &ProcessFacts,
    now: f64,
) -> Vec<StaleReason> {
    let mut reasons = Vec::new();
    match facts.state {
        ProcState::Stopped => reasons.push(StaleReason::Stopped),
        ProcState::Zombie => reasons.push(StaleReason::Zombie),
        _ => {}
    }
    if holder_inherited && sighting.locker_gone {
        reasons.push(StaleReason::LockerDead);
    }
    let lifetime = (now - facts.started_at).max(1.0);
    if origin::classify(facts).0 == super::model::Origin::Orphan
        && facts.tree_cpu_secs < ORPHAN_BUSY_SHARE * lifetime
    {
        reasons.push(StaleReason::Orphan);
    }
    if sighting.deleted {
        reasons.push(StaleReason::DeletedLockFile);
    }
    reasons
}

/// Builds the report. `facts` maps pid → facts; a pid missing there vanished mid-pass and is
/// left out. `free` lists known lock files that exist and are not held.
pub fn build(
    source: Source,
    now: f64,
    cargo_homes: Vec<PathBuf>,
    sightings: &[LockSighting],
    facts: &HashMap<u32, ProcessFacts>,
    knowledge: &Knowledge,
    free: &[(PathBuf, LockKind)],
) -> Report {
    let mut locks = Vec::new();
    for s in sightings {
        let mut holders = Vec::new();
        for h in &s.holders {
            let Some(f) = facts.get(&h.pid) else { continue };
            let (origin, origin_via) = origin::classify(f);
            let reasons = match &knowledge.stale {
                Some(map) => map.get(&(s.key, h.pid)).cloned().unwrap_or_default(),
                None if knowledge.ignore_names.contains(&f.name) => Vec::new(),
                None => instant_reasons(s, h.inherited, f, now),
            };
            holders.push(HolderReport {
                pid: h.pid,
                mode: h.mode,
                name: f.name.clone(),
                cmd: f.cmd.clone(),
                cwd: f.cwd.clone(),
                process_state: f.state,
                origin,
                origin_via,
                inherited: h.inherited,
                held_for_secs: knowledge
                    .hold_since
                    .get(&(s.key, h.pid))
                    .map(|t| (now - t).max(0.0)),
                running_for_secs: Some((now - f.started_at).max(0.0)),
                tree_cpu_secs: f.tree_cpu_secs,
                ppid: f.ppid,
                ancestors: f.ancestors.clone(),
                start_token: f.start_token,
                stale: !reasons.is_empty(),
                stale_reasons: reasons,
            });
        }
        let waiters: Vec<WaiterReport> = s
            .waiters
            .iter()
            .filter_map(|w| {
                let f = facts.get(&w.pid)?;
                Some(WaiterReport {
                    pid: w.pid,
                    mode: w.mode,
                    name: f.name.clone(),
                    cmd: f.cmd.clone(),
                    cwd: f.cwd.clone(),
                    origin: origin::classify(f).0,
                    waiting_for_secs: knowledge
                        .wait_since
                        .get(&(s.key, w.pid))
                        .map(|t| (now - t).max(0.0)),
                })
            })
            .collect();
        if holders.is_empty() && waiters.is_empty() {
            continue;
        }
        let state = if holders.iter().any(|h| h.stale) {
            LockState::Stale
        } else if holders.is_empty() {
            // Waiters but no visible holder: the holder belongs to another user or vanished.
            LockState::Contended
        } else if !waiters.is_empty() {
            LockState::Contended
        } else {
            LockState::Held
        };
        let stale_holder = holders.iter().find(|h| h.stale);
        let stop_command = stale_holder.map(|h| format!("cargo lockwatch kill {}", h.pid));
        let verdict = verdict(state, &holders, &waiters);
        locks.push(LockReport {
            path: s.path.clone(),
            kind: s.kind,
            description: s.kind.cargo_words().to_string(),
            state,
            deleted: s.deleted,
            project_dir: catalog::project_dir_of(&s.path, s.kind),
            holders,
            waiters,
            verdict,
            stop_command,
        });
    }
    for (path, kind) in free {
        if locks.iter().any(|l| &l.path == path && !l.deleted) {
            continue;
        }
        locks.push(LockReport {
            path: path.clone(),
            kind: *kind,
            description: kind.cargo_words().to_string(),
            state: LockState::Free,
            deleted: false,
            project_dir: catalog::project_dir_of(path, *kind),
            holders: Vec::new(),
            waiters: Vec::new(),
            verdict: "free".to_string(),
            stop_command: None,
        });
    }
    // Worst first, then by path, so the eye lands on what matters.
    locks.sort_by(|a, b| b.state.cmp(&a.state).then_with(|| a.path.cmp(&b.path)));
    Report {
        source,
        observed_at: now,
        cargo_homes,
        locks,
    }
}

fn verdict(state: LockState, holders: &[HolderReport], waiters: &[WaiterReport]) -> String {
    let waiting = match waiters.len() {
        0 => String::new(),
        1 => "; 1 process is waiting".to_string(),
        n => format!("; {n} processes are waiting"),
    };
    match state {
        LockState::Free => "free".to_string(),
        LockState::Stale => {
            let h = holders
                .iter()
                .find(|h| h.stale)
                .expect("stale state has a stale holder");
            let why: Vec<&str> = h.stale_reasons.iter().map(|r| r.describe()).collect();
            let resume = if h.stale_reasons.contains(&StaleReason::Stopped) {
                format!(
                    " Resume it with `kill -CONT {}` (or `fg` in its terminal), or stop it.",
                    h.pid
                )
            } else {
                String::new()
            };
            format!(
                "{} {} looks stale: {}{waiting}.{resume}",
                h.name,
                h.pid,
                why.join("; ")
            )
        }
        LockState::Held | LockState::Contended if holders.is_empty() => {
            format!("held by a process this user cannot see{waiting}")
        }
        LockState::Held | LockState::Contended => {
            let h = &holders[0];
            let all_shared = holders
                .iter()
                .all(|h| h.mode == super::model::LockMode::Shared);
            let who = match holders.len() {
                1 => format!("{} {}", h.name, h.pid),
                n if all_shared => format!("{n} shared holders ({} {} …)", h.name, h.pid),
                n => format!("{} {} (+{} sharing its descriptor)", h.name, h.pid, n - 1),
            };
            format!("busy: held by {who}, which looks alive{waiting}. Waiting is usually right.")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{Ancestor, LockMode, Participant};

    fn facts(pid: u32, state: ProcState, ppid: u32) -> ProcessFacts {
        ProcessFacts {
            pid,
            ppid,
            pgid: pid,
            uid: 1000,
            name: "cargo".into(),
            cmd: vec!["cargo".into(), "build".into()],
            cwd: Some(PathBuf::from("/src/app")),
            start_token: 7,
            started_at: 1000.0,
            state,
            tree_cpu_secs: 3.5,
            has_tty: true,
            ancestors: vec![Ancestor {
                pid: ppid,
                name: if ppid == 1 {
                    "init".into()
                } else {
                    "bash".into()
                },
            }],
        }
    }

    fn sighting(holder: u32, waiter: Option<u32>) -> LockSighting {
        LockSighting {
            path: PathBuf::from("/h/.cargo/.package-cache"),
            key: FileKey { dev: 1, ino: 42 },
            kind: LockKind::PackageCache,
            deleted: false,
            holders: vec![Participant {
                pid: holder,
                mode: LockMode::Exclusive,
                inherited: false,
            }],
            waiters: waiter
                .map(|pid| {
                    vec![Participant {
                        pid,
                        mode: LockMode::Exclusive,
                        inherited: false,
                    }]
                })
                .unwrap_or_default(),
            dead_locker: None,
            locker_gone: false,
        }
    }

    fn one(s: LockSighting, f: Vec<ProcessFacts>, k: &Knowledge) -> LockReport {
        let facts = f.into_iter().map(|f| (f.pid, f)).collect();
        build(Source::Scan, 2000.0, vec![], &[s], &facts, k, &[])
            .locks
            .remove(0)
    }

    #[test]
    fn busy_contended_lock_is_not_stale() {
        let l = one(
            sighting(10, Some(11)),
            vec![
                facts(10, ProcState::Sleeping, 5),
                facts(11, ProcState::Sleeping, 5),
            ],
            &Knowledge::default(),
        );
        assert_eq!(l.state, LockState::Contended);
        assert!(!l.holders[0].stale);
        assert_eq!(l.holders[0].held_for_secs, None);
        assert_eq!(l.holders[0].running_for_secs, Some(1000.0));
        assert_eq!(l.waiters[0].pid, 11);
        assert!(
            l.verdict.starts_with("busy: held by cargo 10"),
            "{}",
            l.verdict
        );
        assert_eq!(l.stop_command, None);
    }

    #[test]
    fn stopped_holder_is_stale_with_resume_hint() {
        let l = one(
            sighting(10, None),
            vec![facts(10, ProcState::Stopped, 5)],
            &Knowledge::default(),
        );
        assert_eq!(l.state, LockState::Stale);
        assert_eq!(l.holders[0].stale_reasons, vec![StaleReason::Stopped]);
        assert!(l.verdict.contains("kill -CONT 10"), "{}", l.verdict);
        assert_eq!(l.stop_command.as_deref(), Some("cargo lockwatch kill 10"));
    }

    #[test]
    fn busy_orphan_and_ignored_names_are_not_stale_at_a_glance() {
        let mut busy = facts(10, ProcState::Running, 1);
        busy.tree_cpu_secs = 500.0; // half a CPU over its 1000 s life: compiling
        let l = one(sighting(10, None), vec![busy], &Knowledge::default());
        assert!(!l.holders[0].stale, "{:?}", l.holders[0].stale_reasons);
        let k = Knowledge {
            ignore_names: vec!["cargo".into()],
            ..Knowledge::default()
        };
        let l = one(
            sighting(10, None),
            vec![facts(10, ProcState::Stopped, 5)],
            &k,
        );
        assert!(!l.holders[0].stale);
    }

    #[test]
    fn inherited_descriptor_orphan_and_deleted_are_reasons() {
        let mut s = sighting(10, None);
        s.holders[0].inherited = true;
        s.dead_locker = Some(9);
        s.locker_gone = true;
        s.deleted = true;
        let l = one(
            s,
            vec![facts(10, ProcState::Sleeping, 1)],
            &Knowledge::default(),
        );
        assert_eq!(
            l.holders[0].stale_reasons,
            vec![
                StaleReason::LockerDead,
                StaleReason::Orphan,
                StaleReason::DeletedLockFile
            ]
        );
    }

    #[test]
    fn locker_gone_without_a_known_pid_is_locker_dead() {
        // macOS cannot name the process that took a flock; every holder being inherited is
        // enough.
        let mut s = sighting(10, None);
        s.holders[0].inherited = true;
        s.locker_gone = true;
        let l = one(
            s,
            vec![facts(10, ProcState::Sleeping, 5)],
            &Knowledge::default(),
        );
        assert_eq!(l.holders[0].stale_reasons, vec![StaleReason::LockerDead]);
        assert_eq!(l.state, LockState::Stale);
    }

    #[test]
    fn daemon_knowledge_overrides_instant_reasons_and_gives_times() {
        let key = (FileKey { dev: 1, ino: 42 }, 10);
        let mut k = Knowledge::default();
        k.hold_since.insert(key, 1900.0);
        k.wait_since.insert((key.0, 11), 1950.0);
        k.stale = Some(HashMap::new());
        let l = one(
            sighting(10, Some(11)),
            vec![
                facts(10, ProcState::Stopped, 5),
                facts(11, ProcState::Sleeping, 5),
            ],
            &k,
        );
        assert_eq!(
            l.state,
            LockState::Contended,
            "policy has not (yet) called it stale"
        );
        assert_eq!(l.holders[0].held_for_secs, Some(100.0));
        assert_eq!(l.waiters[0].waiting_for_secs, Some(50.0));
    }

    #[test]
    fn vanished_processes_are_left_out_and_free_locks_listed() {
        let facts = HashMap::new();
        let r = build(
            Source::Scan,
            0.0,
            vec![],
            &[sighting(10, None)],
            &facts,
            &Knowledge::default(),
            &[(
                PathBuf::from("/h/.cargo/.package-cache-mutate"),
                LockKind::PackageCacheMutate,
            )],
        );
        assert_eq!(r.locks.len(), 1);
        assert_eq!(r.locks[0].state, LockState::Free);
        assert_eq!(r.overall(), LockState::Free);
        assert!(!r.any_stale());
    }
}
