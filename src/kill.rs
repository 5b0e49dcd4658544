//! Acting on a stuck incident safely: terminating a root blocker (or the culprit that keeps it
//! stuck, or a deadlock's chosen victim), or resuming a stopped one. The target is checked
//! against a fresh blocking graph, of the same user, pid-reuse proof (see [`crate::signal`]);
//! SIGTERM first (SIGKILL only when asked), the blocker's descendants too; never a waiter,
//! never a process group, never a lock file deleted. Shared by the CLI, the daemon and the tray.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::core::model::{
    FileKey, LockMode, LockSighting, Participant, ProcName, ProcState, ProcessFacts, Sigterm,
    Source,
};
use crate::core::report::Knowledge;
use crate::core::{doing, words};
use crate::probe::Probe;
use crate::scan::{self, Pass, WatchRoots};
use crate::signal::{self, NotSent};

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "reason", content = "detail")]
pub enum Refusal {
    /// The pid is waiting for a lock: stopping it frees nothing. The root blocker is named.
    Waiter {
        /// The root blocker to act on instead, when one is visible.
        blocker: Option<u32>,
        /// Its name.
        blocker_name: Option<ProcName>,
        /// What that blocker does and the one command to run, as `status` says it.
        detail: String,
        /// It waits in a deadlock (a nested cargo waiting for its ancestor's lock): stopping
        /// it would end the deadlock by failing the build; the blocker is the one to stop.
        #[serde(default)]
        deadlocked: bool,
        /// It also holds a lock others wait for (the middle of a chain): stopping it would
        /// free that lock, but its build is only waiting behind the root blocker.
        #[serde(default)]
        holds_others_up: bool,
    },
    /// The pid holds no watched Cargo lock and keeps no blocker stuck.
    NotAHolder,
    /// The pid is a child of a blocker (its rustc or build script): act on the blocker, which
    /// takes its children with it.
    PartOf {
        /// The blocker.
        parent: u32,
        /// Its name.
        parent_name: ProcName,
    },
    /// Owned by another user.
    OtherUser {
        /// Their uid.
        uid: u32,
        /// Their name, when known.
        user: Option<String>,
        /// It holds and waits for no lock this user can see, but a lock is held by a process
        /// this user cannot inspect, which may be this one.
        #[serde(default)]
        maybe_unseen_holder: bool,
    },
    /// The pid now belongs to a different process than the one the caller saw.
    PidReused,
    /// The process is gone already.
    Gone,
    /// Refusing to signal ourselves or init.
    Protected,
    /// `resume` of a process that is not stopped.
    NotStopped,
    /// `kill` without `--force` of a process that ignores or blocks SIGTERM (the kernel says so
    /// up front): SIGTERM would do nothing, so nothing was signalled; `--force` (SIGKILL) is what
    /// stops it.
    IgnoresSigterm {
        /// It blocks SIGTERM (its signal mask) rather than ignoring it.
        #[serde(default)]
        blocked: bool,
    },
    /// `kill`, not at a terminal and without `--yes`, of a holder nobody waits for that does
    /// not look stuck: stopping it helps nobody (a mistyped pid, or a build that is only slow).
    NotNeeded {
        /// What it holds, in Cargo's words ("artifact directory").
        locks: Vec<String>,
    },
    /// `kill`, not at a terminal and without `--yes`, of a blocker others wait for that looks
    /// busy, not stuck: its verdict says waiting is usually right.
    Busy {
        /// The verdict, as `status` says it.
        verdict: String,
    },
    /// `kill`, not at a terminal and without `--yes`, of a blocker whose name is in
    /// `watch.ignore_process_names`: the configuration says never to offer it for termination.
    Ignored {
        /// Its name.
        name: ProcName,
    },
    /// `kill`, not at a terminal and without `--yes`, of a blocker that another process keeps
    /// stuck (a build script's leftover holding its output open): stopping that one lets the
    /// build finish; stopping the blocker loses it.
    NotTheCulprit {
        /// The process to stop instead.
        culprit: u32,
        /// Its name.
        culprit_name: ProcName,
    },
}

/// What was asked: the words of a refusal depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// `kill`.
    Kill,
    /// `resume`.
    Resume,
}

impl Refusal {
    /// What to tell the user who asked to `act` on `pid`.
    pub fn explain(&self, pid: u32, act: Act) -> String {
        let (doing, effect) = match act {
            Act::Kill => ("stopping", "frees nothing"),
            Act::Resume => ("resuming", "does nothing"),
        };
        match self {
            Refusal::Waiter {
                detail,
                deadlocked: true,
                blocker,
                ..
            } => deadlocked_waiter(pid, detail, *blocker),
            Refusal::Waiter {
                detail,
                holds_others_up: true,
                ..
            } => format!(
                "refusing: {pid} holds a lock others wait for, but is itself WAITING behind \
                 another process; {doing} it only moves the wait. {detail}"
            ),
            Refusal::Waiter { detail, .. } => format!(
                "refusing: {pid} is WAITING for a lock, not holding anyone up; {doing} it \
                 {effect}. {detail}"
            ),
            Refusal::NotAHolder => format!(
                "refusing: {pid} does not hold any watched Cargo lock (run `cargo lockwatch \
                 status` to see who does)"
            ),
            Refusal::PartOf {
                parent,
                parent_name,
            } => {
                let verb = match act {
                    Act::Kill => "kill",
                    Act::Resume => "resume",
                };
                format!(
                    "refusing: {pid} is part of {parent_name} {parent}'s build, which holds the \
                     lock; act on that one (it takes its children with it): `cargo lockwatch \
                     {verb} {parent}`"
                )
            }
            Refusal::OtherUser {
                uid,
                user,
                maybe_unseen_holder,
            } => {
                let who = match user {
                    Some(name) => format!("{name} (uid {uid})"),
                    None => format!("uid {uid}"),
                };
                other_users(pid, &who, *maybe_unseen_holder)
            }
            Refusal::PidReused => format!(
                "refusing: pid {pid} now belongs to a different process than the one you saw \
                 (it exited and the pid was reused)"
            ),
            Refusal::Gone => format!("there is no process {pid} (it may have exited)"),
            Refusal::Protected if pid <= 1 => {
                format!("refusing: {pid} is not a process lockwatch will ever signal")
            }
            Refusal::Protected => {
                format!("refusing: {pid} is cargo-lockwatch itself (the daemon or this command)")
            }
            Refusal::NotStopped => {
                format!("refusing: {pid} is not stopped; there is nothing to resume")
            }
            Refusal::IgnoresSigterm { blocked } => {
                let (verb, why) = if *blocked {
                    ("blocks", "it would stay pending")
                } else {
                    ("ignores", "it would do nothing")
                };
                format!(
                    "refusing: {pid} {verb} SIGTERM (the kernel says so), so {why}; nothing was \
                     signalled. `cargo lockwatch kill --force {pid}` sends SIGKILL, which it \
                     cannot ignore (it gets no chance to clean up)"
                )
            }
            Refusal::Busy { verdict } => format!(
                "refusing: {verdict} Nothing was signalled. To stop it anyway: `cargo lockwatch \
                 kill {pid} --yes`"
            ),
            Refusal::NotTheCulprit {
                culprit,
                culprit_name,
            } => format!(
                "refusing: {culprit_name} {culprit} keeps {pid} stuck; stop that one (`cargo \
                 lockwatch kill {culprit}`) and {pid} finishes its build. Nothing was signalled. \
                 To stop {pid} anyway, losing its build: `cargo lockwatch kill {pid} --yes`"
            ),
            Refusal::Ignored { name } => format!(
                "refusing: {name} {pid} is in `watch.ignore_process_names`, so it is never \
                 offered for termination; nothing was signalled. To stop it anyway: `cargo \
                 lockwatch kill {pid} --yes`"
            ),
            Refusal::NotNeeded { locks } => format!(
                "refusing: {pid} holds the {}, nobody waits for it and it does not look stuck \
                 (a mistyped pid, or a build that is only slow); nothing was signalled. To stop \
                 it anyway: `cargo lockwatch kill {pid} --yes`",
                locks.join(" and the ")
            ),
        }
    }
}

/// [`Refusal::explain`] of the waiting side of a deadlock: its blocker is the one to stop.
fn deadlocked_waiter(pid: u32, detail: &str, blocker: Option<u32>) -> String {
    // The detail names the command already when the blocker's incident has one.
    let instead = blocker
        .filter(|b| !detail.contains(&format!("cargo lockwatch kill {b}`")))
        .map_or_else(String::new, |b| {
            format!(" Stop {b} instead (it takes {pid} with it): `cargo lockwatch kill {b}`.")
        });
    format!(
        "refusing: {pid} is the waiting side of a deadlock, and a waiter is never stopped: the \
         deadlock ends when its holder, the cargo above it, stops (the build fails either \
         way). {detail}{instead}"
    )
}

/// [`Refusal::explain`] of another user's process.
fn other_users(pid: u32, who: &str, maybe_unseen_holder: bool) -> String {
    if maybe_unseen_holder {
        format!(
            "refusing: {pid} belongs to {who}, not to you, and holds no Cargo lock you can \
             see; if it holds one `cargo lockwatch status` shows held by a process you cannot \
             inspect, run this as that user"
        )
    } else {
        format!("refusing: {pid} belongs to {who}, not to you; run this as that user")
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
        /// The target.
        pid: u32,
        /// Its name.
        name: ProcName,
        /// `SIGTERM` or `SIGKILL`.
        signal: String,
        /// Descendants signalled too.
        descendants: Vec<u32>,
        /// Processes sharing its lock's descriptor, signalled too (the lock is free only once
        /// they all let go).
        #[serde(default)]
        sharing: Vec<u32>,
        /// Lock files others were waiting for (or that it held).
        #[serde(serialize_with = "crate::core::text::lossy_path::list")]
        locks: Vec<std::path::PathBuf>,
        /// The blocker this culprit kept stuck (the target held its output pipe open).
        #[serde(default)]
        culprit_of: Option<u32>,
        /// Those locks are no longer held by the target (or the culprit is gone and the
        /// blocker can go on).
        released: bool,
        /// A former waiter that got the lock in the grace period (none for a culprit: its
        /// blocker going on is `culprit_of` with `released`).
        waiter_proceeded: Option<u32>,
        /// Other processes holding those locks too (shared) that the waiters still wait for:
        /// the target let go, but the locks others waited for are not free.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        still_held_by_others: Vec<u32>,
        /// Human sentence.
        message: String,
    },
    /// A stopped blocker was continued (SIGCONT).
    Resumed {
        /// The blocker.
        pid: u32,
        /// Its name.
        name: ProcName,
        /// Stopped descendants continued too.
        descendants: Vec<u32>,
        /// Human sentence.
        message: String,
    },
}

impl KillReport {
    /// Whether the action did what it was for.
    pub fn succeeded(&self) -> bool {
        match self {
            KillReport::Signalled {
                released,
                still_held_by_others,
                ..
            } => *released && still_held_by_others.is_empty(),
            KillReport::Resumed { .. } => true,
            KillReport::Refused { .. } => false,
        }
    }

    /// The human sentence.
    pub fn message(&self) -> &str {
        match self {
            KillReport::Refused { message, .. }
            | KillReport::Signalled { message, .. }
            | KillReport::Resumed { message, .. } => message,
        }
    }
}

/// A kill request.
#[derive(Debug, Clone, Copy)]
pub struct KillRequest {
    /// The target.
    pub pid: u32,
    /// Start token the caller saw (pid-reuse guard); None means "whatever it is now".
    pub start_token: Option<u64>,
    /// SIGKILL instead of SIGTERM.
    pub force: bool,
    /// How long to wait for the lock to be released.
    pub grace: Duration,
}

fn refused(pid: u32, refusal: Refusal) -> KillReport {
    refused_to(pid, refusal, Act::Kill)
}

fn refused_to(pid: u32, refusal: Refusal, act: Act) -> KillReport {
    let message = refusal.explain(pid, act);
    KillReport::Refused {
        pid,
        refusal,
        message,
    }
}

/// What the target is in the blocking graph.
#[derive(Debug, Clone)]
enum Target {
    /// Holds locks: those that matter, and who waited for them.
    Holder {
        keys: Vec<FileKey>,
        waiters: Vec<u32>,
        /// Other processes holding one of `keys` exclusively, as it does: an exclusive flock
        /// has one open file description, so they share its descriptor (two children that
        /// inherited it) and the lock is free only once they all let go.
        sharers: Vec<u32>,
    },
    /// Holds the output pipe of this blocker open, with `others` (which must let go too).
    Culprit { blocker: u32, others: Vec<u32> },
}

/// Whether `pid` holds a lock exclusively that someone waits for.
fn holds_others_up(pass: &Pass, pid: u32) -> bool {
    pass.sightings.iter().any(|s| {
        !s.waiters.is_empty()
            && (s.holders.iter()).any(|h| h.pid == pid && h.mode == LockMode::Exclusive)
    })
}

/// The lock `pid` waits for while nobody holds it: it was stopped (Ctrl-Z) in its request,
/// and resumed it takes the lock at once (review T, T1).
fn parked_on(pass: &Pass, pid: u32) -> Option<&LockSighting> {
    pass.sightings.iter().find(|s| {
        s.holders.is_empty() && s.unseen.is_none() && s.waiters.iter().any(|w| w.pid == pid)
    })
}

/// Classifies `pid` in a fresh pass, or says why it must not be touched.
fn target(pass: &Pass, pid: u32, known: &Knowledge) -> Result<Target, Refusal> {
    if let Some(culprit) = culprit_target(pass, pid) {
        return Ok(culprit);
    }
    let g = &pass.graph;
    let victim = g.incident_of(pid).is_some_and(|i| i.deadlock.is_some());
    if g.is_blocked(pid) && !victim {
        return Err(waiter_refusal(pass, pid, known));
    }
    let held: Vec<&LockSighting> = pass
        .sightings
        .iter()
        .filter(|s| s.holders.iter().any(|h| h.pid == pid))
        .collect();
    if held.is_empty() {
        return Err(part_of_a_blocker(pass, pid).unwrap_or(Refusal::NotAHolder));
    }
    let (keys, waiters) = locks_that_matter(pass, pid, &held);
    let sharers = sharers(&held, pid, &keys);
    Ok(Target::Holder {
        keys,
        waiters,
        sharers,
    })
}

/// `pid` as the culprit keeping some incident's blocker stuck, with its fellow culprits.
fn culprit_target(pass: &Pass, pid: u32) -> Option<Target> {
    for i in &pass.graph.incidents {
        let Some(b) = i.blocker else { continue };
        let culprits = pass
            .activity
            .get(&b)
            .map(doing::culprits)
            .unwrap_or_default();
        if culprits.iter().any(|c| c.pid == pid) {
            let others = (culprits.iter().map(|c| c.pid))
                .filter(|p| *p != pid)
                .collect();
            return Some(Target::Culprit { blocker: b, others });
        }
    }
    None
}

/// The refusal for `pid`, which waits for a lock: its root blocker and what to do instead.
fn waiter_refusal(pass: &Pass, pid: u32, known: &Knowledge) -> Refusal {
    let blocking = pass.graph.incidents_blocking(pid);
    let root = blocking.iter().find_map(|i| i.blocker);
    let deadlocked = blocking.iter().any(|i| i.deadlock.is_some());
    let on_deleted =
        || (pass.sightings.iter()).find(|s| s.deleted && s.waiters.iter().any(|w| w.pid == pid));
    let detail = match (parked_on(pass, pid), on_deleted()) {
        (Some(lock), _) => format!(
            "It is STOPPED (Ctrl-Z?) while waiting for {}, which is free now: `cargo \
             lockwatch resume {pid}` (or `fg` in its terminal) lets it take it.",
            crate::core::text::tilde(&lock.path)
        ),
        (None, Some(lock)) => {
            // The one holding the deleted file, not the root of a chain behind it (review 15,
            // D4).
            let holder = (lock.holders.iter().find(|h| h.pid != pid)).map(|h| {
                match pass.facts.get(&h.pid) {
                    Some(f) => format!("{} {}", f.name, h.pid),
                    None => format!("process {}", h.pid),
                }
            });
            deleted_lock_waiter(pid, holder, lock)
        }
        (None, None) => what_to_do_instead(pass, root, known),
    };
    Refusal::Waiter {
        blocker: root,
        blocker_name: root
            .and_then(|r| pass.facts.get(&r))
            .map(|f| f.name.clone()),
        detail,
        deadlocked,
        holds_others_up: holds_others_up(pass, pid),
    }
}

/// What to do about `pid`, which waits on `lock`, a lock file deleted under its `holder`
/// (`cargo clean` during a build): it would build beside any new build once it has it, so
/// stopping it makes sense, but not through `kill`, which never stops a waiter (review Y, Y10).
fn deleted_lock_waiter(pid: u32, holder: Option<String>, lock: &LockSighting) -> String {
    let holder = holder.unwrap_or_else(|| "its holder".to_string());
    format!(
        "It waits on {}, a lock file deleted under {holder} (cargo clean?): once it has it, it \
         builds beside any new build. `cargo lockwatch kill` never stops a waiter; to stop it, \
         press Ctrl-C in its terminal (or run `kill -INT {pid}`), and build again once {holder} \
         is done.",
        crate::core::text::tilde(&lock.path)
    )
}

/// Whether `i`'s blocker waits on a server that sends nothing: a registry that has not
/// answered a whole try (the incident carries the network advice), or a git fetch with nothing
/// received, which Cargo may never give up.
fn silent_server(i: &crate::core::model::IncidentReport) -> bool {
    let advised =
        (i.advice.as_ref()).is_some_and(|a| a.topic == crate::core::insight::Topic::Network);
    match &i.doing {
        crate::core::model::Doing::Network {
            git: Some(_),
            silence,
            ..
        } => advised || silence.as_ref().is_some_and(|s| s.nothing_received),
        crate::core::model::Doing::Network { .. } => advised,
        _ => false,
    }
}

/// The locks of `held` whose release matters and the waiters that should then proceed.
///
/// The locks that matter: those someone waits for; else those it holds exclusively; else
/// all it holds. Shared co-holders make a kill "fail" only when a waiter still waits
/// for them once it let go (see `in_the_way`).
fn locks_that_matter(pass: &Pass, pid: u32, held: &[&LockSighting]) -> (Vec<FileKey>, Vec<u32>) {
    let Some(i) = pass.graph.incident_of(pid) else {
        return (held.iter().map(|s| s.key).collect(), Vec::new());
    };
    let contended: Vec<FileKey> = i
        .locks
        .iter()
        .copied()
        .filter(|k| held.iter().any(|s| s.key == *k && !s.waiters.is_empty()))
        .collect();
    let keys = if contended.is_empty() {
        i.locks.clone()
    } else {
        contended
    };
    // Its own nested processes die with it: they never "proceed".
    let descendant = |w: &u32| {
        pass.facts
            .get(w)
            .is_some_and(|f| f.ancestors.iter().any(|a| a.pid == pid))
    };
    let waiters = i.blocked.iter().copied().filter(|w| !descendant(w));
    (keys, waiters.collect())
}

/// The other processes holding one of `keys` exclusively where `pid` holds it exclusively too.
fn sharers(held: &[&LockSighting], pid: u32, keys: &[FileKey]) -> Vec<u32> {
    let exclusive = |h: &&Participant| h.mode == LockMode::Exclusive;
    let mut out: Vec<u32> = held
        .iter()
        .filter(|s| keys.contains(&s.key))
        .filter(|s| s.holders.iter().filter(exclusive).any(|h| h.pid == pid))
        .flat_map(|s| s.holders.iter().filter(exclusive).map(|h| h.pid))
        .filter(|p| *p != pid)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// What `status` would advise about the incident rooted at `root`: what it does and the command
/// to run, or that waiting is right.
fn what_to_do_instead(pass: &Pass, root: Option<u32>, known: &Knowledge) -> String {
    let Some(root) = root else {
        return "It waits for a process this user cannot inspect (another user's?).".into();
    };
    let source = match known.stale {
        Some(_) => Source::Daemon,
        None => Source::Scan,
    };
    let report = scan::report(pass, &WatchRoots::default(), source, known, scan::now());
    let Some(i) = report
        .incidents
        .iter()
        .find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == root))
    else {
        return format!("It waits for process {root}; see `cargo lockwatch status`.");
    };
    let who = i
        .blocker
        .as_ref()
        .map(crate::core::words::who)
        .unwrap_or_default();
    let what = crate::core::words::doing(i);
    match &i.action {
        Some(a) => format!("It waits for {who}: {what}. Run `{}`.", a.command),
        // Nothing back from a server that may never answer: not "looks alive" (review Z, Z5).
        None if silent_server(i) => format!(
            "It waits for {who}: {what}. Nothing has come back, and that may not end by itself: \
             if it goes on, `{}` ends the wait.",
            i.blocker.as_ref().map_or_else(String::new, |b| {
                crate::core::model::kill_command(b.pid, b.sigterm.futile())
            })
        ),
        None => format!(
            "It waits for {who}: {what}. That looks alive: waiting is usually right \
             (`cargo lockwatch wait` returns when it is done)."
        ),
    }
}

/// The blocker `pid` descends from, when it is one of a blocker's children.
fn part_of_a_blocker(pass: &Pass, pid: u32) -> Option<Refusal> {
    let mut probe_facts = None;
    for i in &pass.graph.incidents {
        let Some(b) = i.blocker else { continue };
        let kids = pass.activity.get(&b).map(|a| &a.descendants);
        if kids.is_some_and(|k| k.iter().any(|c| c.pid == pid)) {
            probe_facts = pass.facts.get(&b).map(|f| (b, f.name.clone()));
            break;
        }
    }
    let (parent, parent_name) = probe_facts?;
    Some(Refusal::PartOf {
        parent,
        parent_name,
    })
}

/// Facts about the target as this pass saw it.
fn target_facts(pass: &Pass, probe: &mut dyn Probe, pid: u32) -> Option<ProcessFacts> {
    pass.facts
        .get(&pid)
        .cloned()
        .or_else(|| probe.process(pid).ok())
}

/// The checks every action shares: not protected, still there, same user, same process.
fn checked(
    probe: &mut dyn Probe,
    roots: &WatchRoots,
    pid: u32,
    start_token: Option<u64>,
) -> Result<(Pass, ProcessFacts), Box<KillReport>> {
    // SAFETY: getpid/geteuid have no preconditions and cannot fail.
    let (me, my_uid) = unsafe { (libc::getpid() as u32, libc::geteuid()) };
    if pid <= 1 || pid == me {
        return Err(Box::new(refused(pid, Refusal::Protected)));
    }
    probe.look_for_waiter(pid);
    let pass = scan::pass(probe, roots, true).map_err(|e| {
        Box::new(KillReport::Refused {
            pid,
            refusal: Refusal::NotAHolder,
            message: format!("cannot see locks: {e}"),
        })
    })?;
    let Some(facts) = target_facts(&pass, probe, pid) else {
        return Err(Box::new(refused(pid, Refusal::Gone)));
    };
    if let Err(refusal) = ours(&pass, &facts, my_uid) {
        return Err(Box::new(refused(pid, refusal)));
    }
    if start_token.is_some_and(|t| t != facts.start_token) {
        return Err(Box::new(refused(pid, Refusal::PidReused)));
    }
    Ok((pass, facts))
}

/// Whether the process is this user's to act on. Another user's waiter is refused as a waiter.
/// Another user's process that plays no part
/// in any Cargo lock (holds none, waits for none, keeps no blocker stuck) is told that first:
/// "run this as that user" would send someone to become root for a process that holds nothing.
/// Any other process of another user is refused as theirs, and so is one that might hold a
/// lock whose holder this user cannot inspect (said so).
fn ours(pass: &Pass, facts: &ProcessFacts, my_uid: u32) -> Result<(), Refusal> {
    if facts.uid == my_uid {
        return Ok(());
    }
    let unseen_holder = pass.sightings.iter().any(|s| s.unseen.is_some());
    // A Cargo lock whose file this user cannot name is still theirs to act on, not "none".
    let holds_hidden = pass.hidden.iter().any(|h| h.pid == facts.pid);
    let role = target(pass, facts.pid, &Knowledge::default());
    // A waiter is refused to anybody: that reason first, not "run this as that user", which
    // would be refused again (review Q, S4).
    if let Err(waiter @ Refusal::Waiter { .. }) = role {
        return Err(waiter);
    }
    let plays_no_part = !holds_hidden && matches!(role, Err(Refusal::NotAHolder));
    if plays_no_part && !unseen_holder {
        return Err(Refusal::NotAHolder);
    }
    Err(Refusal::OtherUser {
        uid: facts.uid,
        user: facts.user.clone(),
        maybe_unseen_holder: plays_no_part,
    })
}

/// Live descendants of `pid` owned by this user, with their start tokens.
fn descendants(probe: &mut dyn Probe, pid: u32, uid: u32) -> Vec<(u32, u64, ProcState)> {
    probe
        .descendants(pid)
        .into_iter()
        .filter_map(|p| {
            let f = probe.process(p).ok().filter(|f| f.uid == uid)?;
            Some((p, f.start_token, f.state))
        })
        .collect()
}

/// How often a kill looks again for the release and the waiter going on: a waiter that got the
/// lock may finish and exit within tens of milliseconds, and one that has gone cannot be
/// seen to have proceeded.
const RECHECK: Duration = Duration::from_millis(10);

/// Checks, signals and waits. Every check is repeated right before each signal. `known` is
/// what the caller knows beyond this pass (the daemon's hold times, network waits and stale
/// verdicts; a one-off run's settings), so a refusal advises what `status` does.
pub fn kill(
    probe: &mut dyn Probe,
    roots: &WatchRoots,
    req: KillRequest,
    known: &Knowledge,
) -> KillReport {
    let (pass, facts) = match checked(probe, roots, req.pid, req.start_token) {
        Ok(x) => x,
        Err(report) => return *report,
    };
    let target = match target(&pass, req.pid, known) {
        Ok(t) => t,
        Err(refusal) => return refused(req.pid, refusal),
    };
    if let Some(refusal) = last_refusal(probe, &req, &target, &facts) {
        return refused(req.pid, refusal);
    }
    let token = facts.start_token;
    let kids = descendants(probe, req.pid, facts.uid);
    let (signal, signal_name) = if req.force {
        (libc::SIGKILL, "SIGKILL")
    } else {
        (libc::SIGTERM, "SIGTERM")
    };
    match send(probe, req.pid, token, signal) {
        Ok(()) => {}
        Err(NotSent::Reused) => return refused(req.pid, Refusal::PidReused),
        Err(NotSent::Gone) => return refused(req.pid, Refusal::Gone),
    }
    let signalled: Vec<u32> = kids
        .iter()
        .filter(|(p, t, _)| send(probe, *p, *t, signal).is_ok())
        .map(|(p, _, _)| *p)
        .collect();
    let sharing = signal_others(probe, &pass, &facts, &target, signal);
    let outcome = await_outcome(probe, roots, &req, token, &target, &signalled);
    let locks = lock_paths(&pass, &target);
    let culprit_of = match target {
        Target::Culprit { blocker, .. } => Some(blocker),
        Target::Holder { .. } => None,
    };
    let who = who_with(&facts, &sharing, culprit_of.is_some());
    let got_it: Vec<u32> = (signalled.iter().copied())
        .chain(sharing.iter().map(|(p, _)| *p))
        .collect();
    let mut message = kill_message(&who, req, signal_name, &outcome, (culprit_of, &got_it));
    if culprit_of.is_none()
        && let Some(note) = leftover_note(&pass, req.pid)
    {
        message.push_str(&note);
    }
    KillReport::Signalled {
        pid: req.pid,
        name: facts.name,
        signal: signal_name.to_string(),
        descendants: signalled,
        sharing: sharing.into_iter().map(|(p, _)| p).collect(),
        locks,
        culprit_of,
        released: outcome.released,
        // A culprit's blocker going on is `culprit_of` + `released`, not a waiter that
        // proceeded (review M, N9).
        waiter_proceeded: outcome.proceeded.filter(|_| culprit_of.is_none()),
        still_held_by_others: outcome.others.iter().map(|(p, _)| *p).collect(),
        message,
    }
}

/// Why not to signal after all, checked right before the signal: a holder that no longer
/// holds, or a SIGTERM the target ignores or blocks (it would only wait out its grace).
fn last_refusal(
    probe: &mut dyn Probe,
    req: &KillRequest,
    target: &Target,
    facts: &ProcessFacts,
) -> Option<Refusal> {
    if let Target::Holder { keys, .. } = target
        && !keys
            .iter()
            .any(|k| probe.holds(req.pid, *k).unwrap_or(false))
    {
        return Some(Refusal::NotAHolder);
    }
    if !req.force && facts.sigterm.futile() {
        let blocked = facts.sigterm == Sigterm::Blocked;
        return Some(Refusal::IgnoresSigterm { blocked });
    }
    None
}

/// Signals the processes that must go with the target: a holder's sharers of its descriptor,
/// a culprit's fellows holding the same pipe open. Returns them with "name pid".
fn signal_others(
    probe: &mut dyn Probe,
    pass: &Pass,
    facts: &ProcessFacts,
    target: &Target,
    signal: libc::c_int,
) -> Vec<(u32, String)> {
    match target {
        Target::Holder { sharers, .. } => {
            let seen = sharers.iter().filter_map(|p| pass.facts.get(p)).collect();
            signal_sharers(probe, pass, facts, seen, signal)
        }
        Target::Culprit { blocker, others } => {
            let culprits = pass.activity.get(blocker).map(doing::culprits);
            let seen = (culprits.unwrap_or_default().iter())
                .filter(|c| others.contains(&c.pid))
                .collect();
            signal_sharers(probe, pass, facts, seen, signal)
        }
    }
}

/// Waits out the grace for what the kill was for: the locks released (and a waiter going on),
/// or a culprit's blocker going on.
fn await_outcome(
    probe: &mut dyn Probe,
    roots: &WatchRoots,
    req: &KillRequest,
    token: u64,
    target: &Target,
    signalled: &[u32],
) -> Outcome {
    match target {
        Target::Holder {
            keys,
            waiters,
            sharers,
        } => {
            // Its sharers count, signalled or not (another user's keeps the lock too).
            let ours: Vec<u32> = signalled.iter().chain(sharers).copied().collect();
            wait_for_release(probe, roots, req, token, keys, waiters, &ours)
        }
        Target::Culprit { blocker, .. } => wait_for_culprit(probe, roots, req, token, *blocker),
    }
}

/// The paths of the locks the kill was for: the holder's, or those of the culprit's blocker.
fn lock_paths(pass: &Pass, target: &Target) -> Vec<std::path::PathBuf> {
    let path_of = |k: &FileKey| pass.sightings.iter().find(|s| s.key == *k);
    match target {
        Target::Holder { keys, .. } => (pass.sightings.iter())
            .filter(|s| keys.contains(&s.key))
            .map(|s| s.path.clone())
            .collect(),
        Target::Culprit { blocker, .. } => (pass.graph.incident_of(*blocker).into_iter())
            .flat_map(|i| &i.locks)
            .filter_map(path_of)
            .map(|s| s.path.clone())
            .collect(),
    }
}

/// "cargo 12", with the processes signalled along with it.
fn who_with(facts: &ProcessFacts, sharing: &[(u32, String)], culprit: bool) -> String {
    let who = format!("{} {}", facts.name, facts.pid);
    if sharing.is_empty() {
        return who;
    }
    let names: Vec<&str> = sharing.iter().map(|(_, n)| n.as_str()).collect();
    let what = if culprit {
        "holding the same pipe open"
    } else {
        "sharing its descriptor"
    };
    format!("{who} (with {}, {what})", names.join(", "))
}

/// Killing a cargo stuck on a leftover daemon frees its lock; the daemon lives on, harmless
/// now (its pipe has no reader), but the build script that started it hangs the next build
/// the same way. It holds no lock, so `cargo lockwatch kill` would refuse it: say what does.
fn leftover_note(pass: &Pass, pid: u32) -> Option<String> {
    let c = pass.activity.get(&pid).and_then(doing::culprit)?;
    Some(format!(
        ". Note: {} {}, started by its build script, still runs; it blocks nothing now \
         (stop it with `kill {}` if it is not wanted), but a build script that leaves a \
         process attached to cargo's output hangs every build this way: it should start \
         it with its output redirected",
        c.name, c.pid, c.pid
    ))
}

/// Signals the processes sharing the target's descriptor (or, for a culprit, holding the same
/// pipe open) that are not among its descendants (signalled with it), with the same checks as
/// the target: this user's, the very process seen (its start token), and never one waiting
/// for a lock (it is counted as still holding instead).
/// Returns them with "name pid".
fn signal_sharers(
    probe: &mut dyn Probe,
    pass: &Pass,
    target: &ProcessFacts,
    sharers: Vec<&ProcessFacts>,
    signal: libc::c_int,
) -> Vec<(u32, String)> {
    let descendant = |f: &ProcessFacts| f.ancestors.iter().any(|a| a.pid == target.pid);
    let mut out = Vec::new();
    for f in sharers {
        let p = f.pid;
        if f.uid == target.uid
            && !pass.graph.is_blocked(p)
            && !descendant(f)
            && send(probe, p, f.start_token, signal).is_ok()
        {
            out.push((p, format!("{} {p}", f.name)));
        }
    }
    out
}

/// Sends `signal`, and wakes a stopped process so a SIGTERM is not left pending.
fn send(probe: &mut dyn Probe, pid: u32, token: u64, sig: libc::c_int) -> Result<(), NotSent> {
    signal::send_verified(probe, pid, token, sig)?;
    if sig == libc::SIGTERM {
        let _ = signal::send_verified(probe, pid, token, libc::SIGCONT);
    }
    Ok(())
}

/// How a kill ended within its grace period.
#[derive(Debug, Clone, Default)]
struct Outcome {
    /// The target let go (holder gone, or no longer holding).
    target_done: bool,
    /// What the kill was for happened.
    released: bool,
    /// Still holding the locks, besides former waiters and unrelated co-holders.
    still_held_by: Vec<u32>,
    /// A former waiter (or the blocker of a culprit) that went on.
    proceeded: Option<u32>,
    /// Processes holding the locks too (shared, unrelated to the target) that a waiter still
    /// waits for, with that waiter ("name pid" each): the target let go in vain.
    others: Vec<(u32, String)>,
    still_waiting: Option<String>,
    /// The waiters left, all stopped (Ctrl-Z): none takes the lock until resumed (review U,
    /// U9).
    stopped_waiters: Vec<u32>,
}

/// Whether `pid` is still the process with `token` and not a zombie.
fn alive(probe: &mut dyn Probe, pid: u32, token: u64) -> bool {
    matches!(probe.process(pid), Ok(f) if f.start_token == token && f.state != ProcState::Zombie)
}

fn wait_for_release(
    probe: &mut dyn Probe,
    roots: &WatchRoots,
    req: &KillRequest,
    token: u64,
    keys: &[FileKey],
    waiters: &[u32],
    ours: &[u32],
) -> Outcome {
    let deadline = Instant::now() + req.grace;
    let mut out = Outcome::default();
    // The waiters still waiting when the target let go (one gone before that gave up).
    let mut waiting: Vec<u32> = waiters
        .iter()
        .copied()
        .filter(|w| !ours.contains(w))
        .collect();
    loop {
        out.target_done = !alive(probe, req.pid, token)
            || !keys
                .iter()
                .any(|k| probe.holds(req.pid, *k).unwrap_or(true));
        if !out.target_done {
            waiting.retain(|w| is_live(probe, *w));
        } else if let Ok(after) = scan::pass(probe, roots, true) {
            out.still_held_by = still_held_by(&after, req.pid, keys, ours);
            out.released = out.still_held_by.is_empty();
            let live: Vec<u32> = waiting
                .iter()
                .copied()
                .filter(|w| is_live(probe, *w))
                .collect();
            let others_hold = held_by_others(&after, keys, req.pid, ours, &waiting);
            out.proceeded = went_on(&after, keys, (&live, &waiting), out.released, others_hold);
            if out.released && out.proceeded.is_none() {
                (out.others, out.still_waiting) = in_the_way(&after, keys, &live, req.pid, ours);
                out.stopped_waiters = all_stopped(probe, &live);
            }
            let done = out.proceeded.is_some()
                || live.is_empty()
                || !out.others.is_empty()
                || !out.stopped_waiters.is_empty();
            if out.released && done {
                break;
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(RECHECK);
    }
    out
}

/// `pids` when every one of them is stopped (none can take a lock until resumed), else none.
fn all_stopped(probe: &mut dyn Probe, pids: &[u32]) -> Vec<u32> {
    let stopped = |p: &u32| matches!(probe.process(*p), Ok(f) if f.state == ProcState::Stopped);
    if !pids.is_empty() && pids.iter().all(stopped) {
        pids.to_vec()
    } else {
        Vec::new()
    }
}

/// Alive and not a zombie.
fn is_live(probe: &mut dyn Probe, pid: u32) -> bool {
    matches!(probe.process(pid), Ok(f) if f.state != ProcState::Zombie)
}

/// What the kill should have freed and is still held: by the target, `ours` (its children and
/// the processes sharing its descriptor), or whoever inherited its descriptor. Other holders
/// (former waiters, unrelated shared co-holders) do not count against it.
fn still_held_by(after: &Pass, target: u32, keys: &[FileKey], ours: &[u32]) -> Vec<u32> {
    let locks = after.sightings.iter().filter(|s| keys.contains(&s.key));
    locks
        .flat_map(|s| {
            s.holders.iter().filter(|h| {
                h.pid == target
                    || ours.contains(&h.pid)
                    || (h.inherited && s.dead_locker == Some(target))
            })
        })
        .map(|h| h.pid)
        .collect()
}

/// The other holders of `keys` (not the target, not `ours`) that one of the `live` waiters
/// still waits for, and that waiter, each as "name pid": a lock held shared by two builds is
/// free for a `cargo clean` only when both let go.
fn in_the_way(
    after: &Pass,
    keys: &[FileKey],
    live: &[u32],
    target: u32,
    ours: &[u32],
) -> (Vec<(u32, String)>, Option<String>) {
    let holds = |p: u32| {
        (after.sightings.iter())
            .filter(|s| keys.contains(&s.key))
            .any(|s| s.holders.iter().any(|h| h.pid == p))
    };
    let named = |p: u32| {
        let name = (after.facts.get(&p))
            .map_or("process".into(), |f| words::short_command(&f.cmd, &f.name));
        (p, format!("{name} {p}"))
    };
    for &w in live {
        let mut others: Vec<u32> = (after.graph.waits_for(w).into_iter())
            .filter(|p| *p != target && !ours.contains(p) && holds(*p))
            .collect();
        others.sort_unstable();
        others.dedup();
        if !others.is_empty() {
            return (others.into_iter().map(named).collect(), Some(named(w).1));
        }
    }
    (Vec::new(), None)
}

/// Whether someone other than the target, `ours` and the `waiting` still holds one of `keys`
/// (a shared co-holder).
fn held_by_others(
    after: &Pass,
    keys: &[FileKey],
    target: u32,
    ours: &[u32],
    waiting: &[u32],
) -> bool {
    let other = |p: u32| p != target && !ours.contains(&p) && !waiting.contains(&p);
    (after.sightings.iter())
        .filter(|s| keys.contains(&s.key))
        .any(|s| s.holders.iter().any(|h| other(h.pid)))
}

/// The waiter that went on: one holding the lock now; or, the lock being free, one alive and
/// no longer waiting; or one that waited until the target let go and has exited since (it got
/// the lock and finished: a cargo with little left to do takes milliseconds). One that died
/// with the target (its nested cargo) was signalled, so it is not among `waiting`. While
/// others still hold the lock (shared), a waiter not seen waiting is not taken to have gone
/// on: the kernel woke it and it is about to wait again behind them.
fn went_on(
    after: &Pass,
    keys: &[FileKey],
    (live, waiting): (&[u32], &[u32]),
    released: bool,
    others_hold: bool,
) -> Option<u32> {
    let ours: Vec<&LockSighting> = after
        .sightings
        .iter()
        .filter(|s| keys.contains(&s.key))
        .collect();
    let holds = |w: u32| ours.iter().any(|s| s.holders.iter().any(|h| h.pid == w));
    let unblocked = |w: &u32| released && !others_hold && !after.graph.is_blocked(*w);
    let finished = |w: &u32| released && !live.contains(w);
    let live_ones = || live.iter().copied();
    live_ones()
        .find(|w| holds(*w))
        .or_else(|| live_ones().find(unblocked))
        .or_else(|| waiting.iter().copied().find(finished))
}

fn wait_for_culprit(
    probe: &mut dyn Probe,
    roots: &WatchRoots,
    req: &KillRequest,
    token: u64,
    blocker: u32,
) -> Outcome {
    let deadline = Instant::now() + req.grace;
    let mut out = Outcome::default();
    loop {
        out.target_done = !alive(probe, req.pid, token);
        if out.target_done
            && let Ok(after) = scan::pass(probe, roots, true)
        {
            let stuck = after
                .activity
                .get(&blocker)
                .and_then(doing::culprit)
                .is_some();
            out.released = !stuck;
            out.proceeded = out.released.then_some(blocker);
            if out.released {
                break;
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(RECHECK);
    }
    out
}

fn kill_message(
    who: &str,
    req: KillRequest,
    signal_name: &str,
    out: &Outcome,
    (culprit_of, signalled): (Option<u32>, &[u32]),
) -> String {
    let grace = humantime::format_duration(req.grace);
    match (out.released, out.proceeded, culprit_of) {
        (true, Some(b), Some(_)) => {
            format!("{who} got {signal_name} and exited; blocker {b} can go on")
        }
        (true, Some(w), None) => {
            format!("{who} got {signal_name} and released its lock; waiter {w} proceeded")
        }
        (true, None, _) if !out.others.is_empty() => {
            let others: Vec<&str> = out.others.iter().map(|(_, n)| n.as_str()).collect();
            let waiter = out.still_waiting.as_deref().unwrap_or("a waiter");
            format!(
                "{who} got {signal_name} and released its lock, but {waiter} still waits: {} \
                 holds it too (shared); see `cargo lockwatch status`",
                others.join(" and ")
            )
        }
        (true, None, _) if !out.stopped_waiters.is_empty() => {
            let (first, n) = (out.stopped_waiters[0], out.stopped_waiters.len());
            let whom = match n {
                1 => format!("its waiter {first} is"),
                n => format!("its {n} waiters are"),
            };
            format!(
                "{who} got {signal_name} and released its lock, but {whom} suspended (Ctrl-Z): \
                 `cargo lockwatch resume {first}` (or `fg` in its terminal) lets it take the lock"
            )
        }
        (true, None, _) => format!("{who} got {signal_name} and released its lock"),
        (false, _, Some(b)) if out.target_done => format!(
            "{who} got {signal_name} and exited, but blocker {b} still waits for its output \
             pipe; see `cargo lockwatch status`"
        ),
        (false, _, _) if out.target_done => {
            let others: Vec<String> = out.still_held_by.iter().map(u32::to_string).collect();
            // They got the same SIGTERM and did not exit: only SIGKILL ends them. The lowest
            // pid is the eldest (the others are usually its children, which go with it).
            let all_signalled = out.still_held_by.iter().all(|p| signalled.contains(p));
            let next = match out.still_held_by.iter().min() {
                Some(first) if !req.force && all_signalled => format!(
                    ", which did not exit on SIGTERM within {grace}: `cargo lockwatch kill \
                     --force {first}` sends SIGKILL"
                ),
                _ => "; see `cargo lockwatch status`".into(),
            };
            format!(
                "{who} got {signal_name} and let go, but the lock is still held by {} (sharing \
                 its descriptor){next}",
                others.join(", ")
            )
        }
        (false, _, _) if req.force => {
            format!("{who} got SIGKILL but is still there after {grace}")
        }
        (false, _, _) => format!(
            "{who} got SIGTERM but is still there after {grace}; `cargo lockwatch kill --force {}` \
             sends SIGKILL",
            req.pid
        ),
    }
}

/// What ends the hold of `pid` when resuming it cannot (it is not stopped) but its incident
/// looks stuck: `; it is deadlocked: `cargo lockwatch kill 12033` ends it` (review Q, S7).
fn what_ends_it(pass: &Pass, roots: &WatchRoots, known: &Knowledge, pid: u32) -> Option<String> {
    let report = scan::report(pass, roots, Source::Scan, known, scan::now());
    let i = (report.incidents.iter()).find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == pid))?;
    let a = i.action.as_ref().filter(|a| !a.resume)?;
    let why = match (&i.deadlock, &i.culprit) {
        (Some(_), _) => "it is deadlocked".to_string(),
        (None, Some(c)) => format!("{} {} keeps it stuck", c.name, c.pid),
        (None, None) => "it looks stale".to_string(),
    };
    Some(format!("; {why}: `{}` ends it", a.command))
}

/// Continues a stopped blocker (SIGCONT) and its stopped descendants.
pub fn resume(
    probe: &mut dyn Probe,
    roots: &WatchRoots,
    pid: u32,
    start_token: Option<u64>,
    known: &Knowledge,
) -> KillReport {
    let (pass, facts) = match checked(probe, roots, pid, start_token) {
        Ok(x) => x,
        Err(report) => return *report,
    };
    // A waiter stopped in its request is resumed (it goes back to waiting, or takes a lock
    // that is free now: review T, T5); any other waiter is not to be touched.
    let waiter = match target(&pass, pid, known) {
        Err(Refusal::Waiter { .. }) if facts.state == ProcState::Stopped => true,
        Err(refusal) => return refused_to(pid, refusal, Act::Resume),
        Ok(_) => false,
    };
    let kids = descendants(probe, pid, facts.uid);
    let stopped_kid = kids
        .iter()
        .any(|(_, _, state)| *state == ProcState::Stopped);
    if facts.state != ProcState::Stopped && !stopped_kid {
        return not_stopped(&pass, roots, known, pid);
    }
    // The blocker itself when it is stopped; a stopped build script under a running cargo is
    // continued alone.
    if facts.state == ProcState::Stopped
        && let Err(e) = signal::send_verified(probe, pid, facts.start_token, libc::SIGCONT)
    {
        let refusal = match e {
            NotSent::Reused => Refusal::PidReused,
            NotSent::Gone => Refusal::Gone,
        };
        return refused(pid, refusal);
    }
    let resumed: Vec<u32> = kids
        .iter()
        .filter(|(_, _, state)| *state == ProcState::Stopped)
        .filter(|(p, t, _)| signal::send_verified(probe, *p, *t, libc::SIGCONT).is_ok())
        .map(|(p, _, _)| *p)
        .collect();
    let then = what_a_resumed_waiter_does(&pass, pid, waiter);
    let message = resumed_message(&facts, pid, &resumed, then);
    KillReport::Resumed {
        pid,
        name: facts.name.clone(),
        descendants: resumed,
        message,
    }
}

/// The refusal to resume `pid`, which is not stopped, with what ends its hold when it is stuck.
fn not_stopped(pass: &Pass, roots: &WatchRoots, known: &Knowledge, pid: u32) -> KillReport {
    let mut report = refused_to(pid, Refusal::NotStopped, Act::Resume);
    if let (KillReport::Refused { message, .. }, Some(next)) =
        (&mut report, what_ends_it(pass, roots, known, pid))
    {
        message.push_str(&next);
    }
    report
}

/// What a resumed `pid` does next, when it is a `waiter`: takes its lock or waits again.
fn what_a_resumed_waiter_does(pass: &Pass, pid: u32, waiter: bool) -> &'static str {
    match (waiter, parked_on(pass, pid)) {
        (false, _) => "",
        (true, Some(_)) => "; it takes the lock it waited for, free now",
        (true, None) => "; it waits for its lock again (`cargo lockwatch status` says behind whom)",
    }
}

/// What `resume` says it did to `pid` (`facts`) and its stopped children `resumed`; `then` ends
/// the line when the process itself was stopped.
fn resumed_message(facts: &ProcessFacts, pid: u32, resumed: &[u32], then: &str) -> String {
    if facts.state == ProcState::Stopped {
        let children = match resumed.len() {
            0 => String::new(),
            1 => " and 1 stopped child".to_string(),
            n => format!(" and {n} stopped children"),
        };
        format!("{} {pid}{children} resumed (SIGCONT){then}", facts.name)
    } else {
        let children = match resumed {
            [] => "none of its stopped children could be".to_string(),
            [one] => format!("its stopped child {one}"),
            many => format!("its {} stopped children", many.len()),
        };
        format!(
            "{} {pid} was running; {children} resumed (SIGCONT)",
            facts.name
        )
    }
}

#[cfg(test)]
mod tests {
    //! The refusals' order, on a made-up machine: every pid is far above any real `pid_max`, so
    //! a check that let one through could signal nothing.

    use std::collections::HashMap;

    use super::*;

    /// A waiter behind a git fetch that got nothing is not told its holder "looks alive"
    /// (review Z, Z5).
    #[test]
    fn a_git_fetch_with_nothing_back_is_a_silent_server() {
        use crate::core::model::{Doing, GitFetch, NetSilence};
        use crate::ui::demo::{self, Stage};
        let mut i = demo::snapshot(Stage::Contended, 1_000.0).report.incidents[0].clone();
        assert!(!silent_server(&i), "compiling");
        let silence = NetSilence {
            silent_for_secs: 20.0,
            nothing_received: true,
            since_hold_began: true,
            first_try_secs: 20.0,
            connections: 1,
            open: true,
            bytes_per_sec: None,
        };
        i.doing = Doing::Network {
            peer: "127.0.0.1:9".into(),
            idle_for_secs: Some(20.0),
            silence: Some(silence),
            git: Some(GitFetch {
                url: "http://127.0.0.1:9/x.git".into(),
                with_git_cli: false,
            }),
        };
        assert!(silent_server(&i));
    }
    use crate::core::catalog::LockKind;
    use crate::core::model::Ancestor;
    use crate::probe::{ProbeError, Targets};

    const CACHE: FileKey = FileKey { dev: 1, ino: 100 };
    /// Holds the package cache; another cargo waits for it.
    const HOLDER: u32 = 999_999_001;
    const WAITER: u32 = 999_999_002;
    /// Holds nothing, waits for nothing (a kernel thread, a shell).
    const BYSTANDER: u32 = 999_999_003;

    /// A machine as a probe sees it.
    struct FakeProbe {
        sightings: Vec<LockSighting>,
        processes: HashMap<u32, ProcessFacts>,
    }

    impl Probe for FakeProbe {
        fn sightings(&mut self, _targets: &Targets) -> Result<Vec<LockSighting>, ProbeError> {
            Ok(self.sightings.clone())
        }
        fn process(&mut self, pid: u32) -> Result<ProcessFacts, ProbeError> {
            (self.processes.get(&pid).cloned()).ok_or(ProbeError::NoSuchProcess(pid))
        }
        fn descendants(&mut self, _pid: u32) -> Vec<u32> {
            Vec::new()
        }
        fn holds(&mut self, pid: u32, key: FileKey) -> Result<bool, ProbeError> {
            let held = |s: &LockSighting| s.key == key && s.holders.iter().any(|h| h.pid == pid);
            Ok(self.sightings.iter().any(held))
        }
    }

    fn facts(pid: u32, uid: u32, name: &str) -> ProcessFacts {
        ProcessFacts {
            pid,
            ppid: 1,
            pgid: pid,
            uid,
            user: Some(format!("user{uid}")),
            name: name.into(),
            cmd: vec![name.into()],
            cwd: None,
            start_token: u64::from(pid),
            started_at: 0.0,
            state: ProcState::Sleeping,
            tree_cpu_secs: 1.0,
            has_tty: true,
            ancestors: vec![Ancestor {
                pid: 1,
                name: "init".into(),
            }],
            sigterm: Default::default(),
        }
    }

    /// This user's uid, and another one.
    fn uids() -> (u32, u32) {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        (me, me.wrapping_add(1))
    }

    /// The holder, the waiter and the bystander, owned by `holder`, `waiter` and `bystander`.
    fn machine(holder: u32, waiter: u32, bystander: u32) -> FakeProbe {
        let part = |pid| Participant {
            pid,
            mode: LockMode::Exclusive,
            inherited: false,
        };
        let cache = LockSighting {
            path: "/nonexistent/cargo-home/.package-cache".into(),
            key: CACHE,
            kind: LockKind::PackageCache,
            deleted: false,
            holders: vec![part(HOLDER)],
            waiters: vec![part(WAITER)],
            dead_locker: None,
            locker_gone: false,
            unseen: None,
        };
        FakeProbe {
            sightings: vec![cache],
            processes: HashMap::from([
                (HOLDER, facts(HOLDER, holder, "cargo")),
                (WAITER, facts(WAITER, waiter, "cargo")),
                (BYSTANDER, facts(BYSTANDER, bystander, "kthreadd")),
            ]),
        }
    }

    fn refusal(report: &KillReport) -> &Refusal {
        match report {
            KillReport::Refused { refusal, .. } => refusal,
            other => panic!("not refused: {other:?}"),
        }
    }

    /// A kill of `pid` as `status` showed it (the fake start token is the pid).
    fn request(pid: u32) -> KillRequest {
        KillRequest {
            pid,
            start_token: Some(u64::from(pid)),
            force: false,
            grace: Duration::ZERO,
        }
    }

    fn kill_it(probe: &mut FakeProbe, pid: u32) -> KillReport {
        kill(
            probe,
            &WatchRoots::default(),
            request(pid),
            &Knowledge::default(),
        )
    }

    fn resume_it(probe: &mut FakeProbe, pid: u32) -> KillReport {
        resume(
            probe,
            &WatchRoots::default(),
            pid,
            Some(u64::from(pid)),
            &Knowledge::default(),
        )
    }

    #[test]
    fn another_users_process_that_holds_nothing_is_told_it_holds_nothing() {
        let (me, other) = uids();
        let mut probe = machine(me, me, other);
        for report in [
            kill_it(&mut probe, BYSTANDER),
            resume_it(&mut probe, BYSTANDER),
        ] {
            assert_eq!(refusal(&report), &Refusal::NotAHolder, "{report:?}");
            let message = report.message();
            assert!(
                message.contains("does not hold any watched Cargo lock")
                    && !message.contains("run this as that user"),
                "{message}"
            );
        }
    }

    /// Another user's holder is refused as theirs; their waiter as a waiter, the reason that
    /// holds whoever asks (review Q, S4).
    #[test]
    fn another_users_holder_is_refused_as_theirs_and_their_waiter_as_a_waiter() {
        let (me, other) = uids();
        let mut probe = machine(other, other, me);
        let theirs = Refusal::OtherUser {
            uid: other,
            user: Some(format!("user{other}")),
            maybe_unseen_holder: false,
        };
        assert_eq!(refusal(&kill_it(&mut probe, HOLDER)), &theirs);
        assert_eq!(refusal(&resume_it(&mut probe, HOLDER)), &theirs);
        for report in [kill_it(&mut probe, WAITER), resume_it(&mut probe, WAITER)] {
            assert!(
                matches!(refusal(&report), Refusal::Waiter { .. }),
                "{report:?}"
            );
        }
        // This user's own bystander and waiter are refused as before.
        let mut probe = machine(other, me, me);
        assert_eq!(
            refusal(&kill_it(&mut probe, BYSTANDER)),
            &Refusal::NotAHolder
        );
        assert!(matches!(
            refusal(&kill_it(&mut probe, WAITER)),
            Refusal::Waiter {
                blocker: Some(HOLDER),
                ..
            }
        ));
    }

    #[test]
    fn a_waiter_refused_is_told_what_status_says_of_its_blocker() {
        let (me, _) = uids();
        let mut probe = machine(me, me, me);
        let req = request(WAITER);
        // The daemon judged the holder not stale: waiting is right.
        let fine = Knowledge {
            stale: Some(HashMap::new()),
            ..Knowledge::default()
        };
        let alive = kill(&mut probe, &WatchRoots::default(), req, &fine);
        assert!(
            alive.message().contains("That looks alive"),
            "{}",
            alive.message()
        );
        // The daemon judged it stale (review J, K15): the refusal says so, and what to run.
        let daemon = Knowledge {
            stale: Some(HashMap::from([(
                HOLDER,
                vec![crate::core::model::StaleReason::NetworkSilent],
            )])),
            ..Knowledge::default()
        };
        let told = kill(&mut probe, &WatchRoots::default(), req, &daemon);
        let message = told.message();
        assert!(!message.contains("looks alive"), "{message}");
        assert!(
            message.contains(&format!("cargo lockwatch kill {HOLDER}")),
            "{message}"
        );
    }

    #[test]
    fn the_middle_of_a_chain_is_refused_as_waiting_behind_another_not_as_holding_nobody_up() {
        let (me, _) = uids();
        let mut probe = machine(me, me, me);
        // WAITER holds a project's build directory, which another cargo waits for, while it
        // waits for the package cache HOLDER holds.
        const NEXT: u32 = 4_000_004;
        let part = |pid| Participant {
            pid,
            mode: LockMode::Exclusive,
            inherited: false,
        };
        probe.sightings.push(LockSighting {
            path: "/nonexistent/app/target/debug/.cargo-lock".into(),
            key: FileKey { dev: 1, ino: 77 },
            kind: LockKind::ProfileDirectory,
            deleted: false,
            holders: vec![part(WAITER)],
            waiters: vec![part(NEXT)],
            dead_locker: None,
            locker_gone: false,
            unseen: None,
        });
        probe.processes.insert(NEXT, facts(NEXT, me, "cargo"));
        for report in [kill_it(&mut probe, WAITER), resume_it(&mut probe, WAITER)] {
            assert!(
                matches!(
                    refusal(&report),
                    Refusal::Waiter {
                        blocker: Some(HOLDER),
                        holds_others_up: true,
                        ..
                    }
                ),
                "{report:?}"
            );
            let message = report.message();
            assert!(
                message.contains("holds a lock others wait for, but is itself WAITING")
                    && !message.contains("not holding anyone up"),
                "{message}"
            );
        }
        // The last in the chain holds nobody up.
        assert!(
            kill_it(&mut probe, NEXT)
                .message()
                .contains("not holding anyone up")
        );
    }

    #[test]
    fn another_users_process_may_hold_a_lock_whose_holder_cannot_be_inspected() {
        let (me, other) = uids();
        let mut probe = machine(me, me, other);
        // The kernel says the package cache is held; its holder is hidden from this user.
        probe.sightings[0].holders.clear();
        probe.sightings[0].waiters.clear();
        probe.sightings[0].unseen = Some(LockMode::Exclusive);
        let report = kill_it(&mut probe, BYSTANDER);
        assert!(
            matches!(
                refusal(&report),
                Refusal::OtherUser {
                    maybe_unseen_holder: true,
                    ..
                }
            ),
            "{report:?}"
        );
        assert!(
            report
                .message()
                .contains("holds no Cargo lock you can see; if it holds one"),
            "{}",
            report.message()
        );
    }

    #[test]
    fn a_reused_pid_is_refused_before_anything_else_of_this_user() {
        let (me, _) = uids();
        let mut probe = machine(me, me, me);
        let req = KillRequest {
            pid: HOLDER,
            start_token: Some(7),
            force: false,
            grace: Duration::ZERO,
        };
        let report = kill(
            &mut probe,
            &WatchRoots::default(),
            req,
            &Knowledge::default(),
        );
        assert_eq!(refusal(&report), &Refusal::PidReused);
    }

    #[test]
    fn a_refusal_names_the_blocker_escaped_and_its_json_the_real_name() {
        let (me, _) = uids();
        let mut probe = machine(me, me, me);
        probe.processes.get_mut(&HOLDER).unwrap().name = "lw\u{1b}[31m\nx".into();
        let report = kill_it(&mut probe, WAITER);
        let message = report.message();
        assert!(!message.chars().any(char::is_control), "{message}");
        assert!(
            message.contains(&format!("lw\\x1b[31m\\nx {HOLDER}")),
            "{message}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["refusal"]["detail"]["blocker_name"], "lw\u{1b}[31m\nx");
    }

    #[test]
    fn a_holder_that_ignores_sigterm_is_told_to_use_force_after_every_other_check() {
        let (me, _) = uids();
        let mut probe = machine(me, me, me);
        for pid in [HOLDER, WAITER] {
            probe.processes.get_mut(&pid).unwrap().sigterm = Sigterm::Ignored;
        }
        let report = kill_it(&mut probe, HOLDER);
        assert_eq!(
            refusal(&report),
            &Refusal::IgnoresSigterm { blocked: false }
        );
        let message = report.message();
        assert!(
            message.contains("ignores SIGTERM")
                && message.contains(&format!("`cargo lockwatch kill --force {HOLDER}`")),
            "{message}"
        );
        // Never a waiter, whatever it ignores; a reused pid is still a reused pid.
        assert!(matches!(
            refusal(&kill_it(&mut probe, WAITER)),
            Refusal::Waiter { .. }
        ));
        let req = KillRequest {
            pid: HOLDER,
            start_token: Some(7),
            force: false,
            grace: Duration::ZERO,
        };
        let reused = kill(
            &mut probe,
            &WatchRoots::default(),
            req,
            &Knowledge::default(),
        );
        assert_eq!(refusal(&reused), &Refusal::PidReused);
        // With --force it goes on to the signal (this made-up pid exists nowhere: gone).
        let req = KillRequest { force: true, ..req };
        let forced = kill(
            &mut probe,
            &WatchRoots::default(),
            KillRequest {
                start_token: Some(u64::from(HOLDER)),
                ..req
            },
            &Knowledge::default(),
        );
        assert_eq!(refusal(&forced), &Refusal::Gone);
        // Blocked says so.
        probe.processes.get_mut(&HOLDER).unwrap().sigterm = Sigterm::Blocked;
        let blocked = kill_it(&mut probe, HOLDER);
        assert_eq!(
            refusal(&blocked),
            &Refusal::IgnoresSigterm { blocked: true }
        );
        assert!(blocked.message().contains("blocks SIGTERM"));
    }
}
