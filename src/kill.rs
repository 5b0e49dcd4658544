//! Terminating a stuck holder safely: only a process seen holding a watched lock right now, of
//! the same user, re-verified (pid + start time + still holding) immediately before each signal;
//! SIGTERM first (SIGKILL only when asked), the holder's descendants too, never a waiter, never a
//! process group, never a lock file deleted. Shared by the CLI, the daemon and the tray.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::core::model::{FileKey, LockSighting};
use crate::probe::Probe;
use crate::scan::{self, WatchRoots};

/// Why a kill was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "reason", content = "detail")]
pub enum Refusal {
    /// The pid is waiting for a lock, not holding one: killing it frees nothing.
    Waiter,
    /// The pid holds no watched Cargo lock.
    NotAHolder,
    /// Owned by another user.
    OtherUser(u32),
    /// The pid now belongs to a different process than the one the caller saw.
    PidReused,
    /// The process is gone already.
    Gone,
    /// Refusing to signal ourselves or init.
    Protected,
}

impl Refusal {
    /// What to tell the user.
    pub fn explain(&self, pid: u32) -> String {
        match self {
            Refusal::Waiter => format!(
                "refusing: {pid} is WAITING for a lock, not holding it; killing it frees nothing. Run `cargo lockwatch status` to see the holder"
            ),
            Refusal::NotAHolder => {
                format!(
                    "refusing: {pid} does not hold any watched Cargo lock (run `cargo lockwatch status` to see who does)"
                )
            }
            Refusal::OtherUser(uid) => {
                format!("refusing: {pid} belongs to uid {uid}, not to you; stop it as that user")
            }
            Refusal::PidReused => format!(
                "refusing: pid {pid} now belongs to a different process than the one you saw (it exited and the pid was reused)"
            ),
            Refusal::Gone => format!("{pid} has already exited"),
            Refusal::Protected => format!("refusing to signal {pid}"),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum KillReport {
    /// Refused; nothing was signalled.
    Refused {
        /// The pid asked about.
        pid: u32,
        /// Why.
        refusal: Refusal,
        /// Human sentence.
        message: String,
    },
    /// Signals were sent.
    Signalled {
        /// The holder.
        pid: u32,
        /// Its name.
        name: String,
        /// `SIGTERM` or `SIGKILL`.
        signal: String,
        /// Descendants signalled too.
        descendants: Vec<u32>,
        /// Lock files it held.
        locks: Vec<std::path::PathBuf>,
        /// The lock was released within the grace period.
        released: bool,
        /// A former waiter that got the lock within the grace period.
        waiter_proceeded: Option<u32>,
        /// Human sentence.
        message: String,
    },
}

impl KillReport {
    /// Whether the holder let go.
    pub fn released(&self) -> bool {
        matches!(self, KillReport::Signalled { released: true, .. })
    }
}

/// A kill request.
#[derive(Debug, Clone, Copy)]
pub struct KillRequest {
    /// The holder.
    pub pid: u32,
    /// Start token the caller saw (pid-reuse guard); None means "whatever holds now".
    pub start_token: Option<u64>,
    /// SIGKILL instead of SIGTERM.
    pub force: bool,
    /// How long to wait for the lock to be released.
    pub grace: Duration,
}

fn refused(pid: u32, refusal: Refusal) -> KillReport {
    let message = refusal.explain(pid);
    KillReport::Refused {
        pid,
        refusal,
        message,
    }
}

/// Checks, signals and waits. Every check is repeated right before each signal.
pub fn kill(probe: &mut dyn Probe, roots: &WatchRoots, req: KillRequest) -> KillReport {
    // SAFETY: getpid/geteuid have no preconditions and cannot fail.
    let (me, my_uid) = unsafe { (libc::getpid() as u32, libc::geteuid()) };
    if req.pid <= 1 || req.pid == me {
        return refused(req.pid, Refusal::Protected);
    }
    let pass = match scan::pass(probe, roots, true) {
        Ok(p) => p,
        Err(e) => {
            return KillReport::Refused {
                pid: req.pid,
                refusal: Refusal::NotAHolder,
                message: format!("cannot see locks: {e}"),
            };
        }
    };
    let held: Vec<&LockSighting> = pass
        .sightings
        .iter()
        .filter(|s| s.holders.iter().any(|h| h.pid == req.pid))
        .collect();
    if held.is_empty() {
        let waiting = pass
            .sightings
            .iter()
            .any(|s| s.waiters.iter().any(|w| w.pid == req.pid));
        return refused(
            req.pid,
            if waiting {
                Refusal::Waiter
            } else {
                Refusal::NotAHolder
            },
        );
    }
    let keys: Vec<FileKey> = held.iter().map(|s| s.key).collect();
    let locks: Vec<std::path::PathBuf> = held.iter().map(|s| s.path.clone()).collect();
    let waiters_before: Vec<u32> = held
        .iter()
        .flat_map(|s| s.waiters.iter().map(|w| w.pid))
        .collect();
    let Some(facts) = pass.facts.get(&req.pid).cloned() else {
        return refused(req.pid, Refusal::Gone);
    };
    if facts.uid != my_uid {
        return refused(req.pid, Refusal::OtherUser(facts.uid));
    }
    if req.start_token.is_some_and(|t| t != facts.start_token) {
        return refused(req.pid, Refusal::PidReused);
    }
    let token = facts.start_token;

    // Descendants with their own start tokens, each re-verified before its signal.
    let descendants: Vec<(u32, u64)> = probe
        .descendants(req.pid)
        .into_iter()
        .filter_map(|p| {
            probe
                .process(p)
                .ok()
                .filter(|f| f.uid == my_uid)
                .map(|f| (p, f.start_token))
        })
        .collect();

    let signal = if req.force {
        libc::SIGKILL
    } else {
        libc::SIGTERM
    };
    let signal_name = if req.force { "SIGKILL" } else { "SIGTERM" };

    // Last check, then the signal: still the same process, still holding.
    match probe.process(req.pid) {
        Ok(f) if f.start_token == token => {}
        Ok(_) => return refused(req.pid, Refusal::PidReused),
        Err(_) => return refused(req.pid, Refusal::Gone),
    }
    if !keys
        .iter()
        .any(|k| probe.holds(req.pid, *k).unwrap_or(false))
    {
        return refused(req.pid, Refusal::NotAHolder);
    }
    send(req.pid, signal);
    let mut signalled = Vec::new();
    for (child, child_token) in descendants {
        if probe
            .process(child)
            .is_ok_and(|f| f.start_token == child_token)
        {
            send(child, signal);
            signalled.push(child);
        }
    }

    // Wait for the release and see whether a waiter got the lock. "Released" means a fresh
    // scan shows nobody but former waiters holding the lock, not merely that the pid is gone:
    // a descriptor it shared with another process keeps the lock alive.
    let deadline = Instant::now() + req.grace;
    let mut released = false;
    let mut holder_done;
    let mut still_held_by: Vec<u32> = Vec::new();
    let mut waiter_proceeded = None;
    loop {
        holder_done = match probe.process(req.pid) {
            Ok(f) if f.start_token == token && f.state != crate::core::model::ProcState::Zombie => {
                !keys
                    .iter()
                    .any(|k| probe.holds(req.pid, *k).unwrap_or(true))
            }
            _ => true,
        };
        if holder_done && let Ok(after) = scan::pass(probe, roots, true) {
            let ours: Vec<&LockSighting> = after
                .sightings
                .iter()
                .filter(|s| keys.contains(&s.key))
                .collect();
            still_held_by = ours
                .iter()
                .flat_map(|s| s.holders.iter().map(|h| h.pid))
                .filter(|p| !waiters_before.contains(p))
                .collect();
            released = still_held_by.is_empty();
            // A former waiter proceeded if it now holds the lock, or, the lock being free, is no
            // longer waiting for it (it got the lock and was already done with it).
            waiter_proceeded = waiters_before
                .iter()
                .copied()
                .find(|w| ours.iter().any(|s| s.holders.iter().any(|h| h.pid == *w)))
                .or_else(|| {
                    waiters_before.iter().copied().find(|w| {
                        released && !ours.iter().any(|s| s.waiters.iter().any(|x| x.pid == *w))
                    })
                });
            if released && (waiter_proceeded.is_some() || waiters_before.is_empty()) {
                break;
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let others = still_held_by
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let message = match (released, waiter_proceeded) {
        (true, Some(w)) => format!(
            "{} {} got {signal_name} and released its lock; waiter {w} proceeded",
            facts.name, req.pid
        ),
        (true, None) => format!(
            "{} {} got {signal_name} and released its lock",
            facts.name, req.pid
        ),
        (false, _) if holder_done => format!(
            "{} {} got {signal_name} and let go, but the lock is still held by {others} (a process that shares its descriptor); see `cargo lockwatch status`",
            facts.name, req.pid
        ),
        (false, _) if req.force => format!(
            "{} {} got SIGKILL but still holds the lock after {:?}",
            facts.name, req.pid, req.grace
        ),
        (false, _) => format!(
            "{} {} got SIGTERM but still holds the lock after {:?}; `cargo lockwatch kill --force {}` sends SIGKILL",
            facts.name, req.pid, req.grace, req.pid
        ),
    };
    KillReport::Signalled {
        pid: req.pid,
        name: facts.name,
        signal: signal_name.to_string(),
        descendants: signalled,
        locks,
        released,
        waiter_proceeded,
        message,
    }
}

fn send(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) with a positive pid signals exactly that process (never a group); the pid
    // and its start time were verified just before.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
        // A stopped process keeps SIGTERM pending until it runs again, so wake it.
        if signal == libc::SIGTERM {
            libc::kill(pid as libc::pid_t, libc::SIGCONT);
        }
    }
}
