//! Turns one pass (sightings, process facts, the blocking graph, what each blocker does) into
//! the [`Report`] every surface shows: incidents first — who is blocked, by whom, doing what,
//! the verdict and the one command to run — and the locks as the kernel shows them.
//!
//! Pure: times and stale verdicts come in as data, so a one-shot scan (instantaneous reasons
//! only) and the daemon (policy over time) share this code.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::catalog::{self, LockKind};
use super::doing;
use super::free_locks::{FreeLocks, free_lock};
use super::gitfetch::GitSource;
use super::graph::{Graph, Incident};
use super::model::{
    Action, Activity, BlockedReport, Deadlock, Doing, FileKey, GitFetch, HiddenHolder,
    HolderReport, IncidentLock, IncidentReport, IncidentState, LeftBy, LockMode, LockReport,
    LockSighting, LockState, NetSilence, Origin, Participant, Peer, ProcState, ProcessFacts,
    ProcessReport, Report, Role, SCHEMA_VERSION, Source, StaleReason, WaiterReport,
};
use super::netwait::NetSettings;
use super::origin;
use super::policy;

/// What the caller knows beyond one pass: when holds and waits began, and which blockers the
/// policy judged stale.
#[derive(Debug, Default, Clone)]
pub struct Knowledge {
    /// Unix time each hold was first seen, by (lock file, pid).
    pub hold_since: HashMap<(FileKey, u32), f64>,
    /// Unix time each wait was first seen, by (lock file, pid).
    pub wait_since: HashMap<(FileKey, u32), f64>,
    /// Unix time each waiter began being blocked, by (lock file, pid), where that was before
    /// its wait for this lock (it waited for another one just before).
    pub blocked_since: HashMap<(FileKey, u32), f64>,
    /// Holds and waits, by (lock file, pid), that were already there when the daemon first
    /// looked: their times are lower bounds.
    pub since_unknown: std::collections::HashSet<(FileKey, u32)>,
    /// Stale verdicts on root blockers from the policy, by pid; when `None`, instantaneous
    /// reasons are used.
    pub stale: Option<HashMap<u32, Vec<StaleReason>>>,
    /// Process names never called stale (configuration).
    pub ignore_names: Vec<String>,
    /// How long silence on the network makes a one-off scan call a blocker stale (the
    /// configured `stale_after`); `None` never does.
    pub network_silence: Option<f64>,
    /// How long a one-off scan lets a blocker (or a process of its build) stay stopped before
    /// calling it stale (the configured `stopped_grace`). A scan cannot tell when it stopped,
    /// only that it cannot have been stopped longer than it has lived.
    pub stopped_grace: f64,
    /// Which directories hold a manifest, remembered across the daemon's passes.
    pub manifests: Option<std::sync::Arc<catalog::Manifests>>,
    /// Root blockers' network waits followed across connections and the pauses between
    /// Cargo's tries (the daemon's), by pid: (peer, silence).
    pub net_waits: HashMap<u32, (String, NetSilence)>,
    /// Configured build directories (`build.build-dir`, other than the target dir) of the
    /// projects whose cargos contend for a profile lock (see `scan::configured_build_dirs`):
    /// a `.cargo-lock` below one is that build directory, whatever the waiting cargo runs.
    pub build_dirs: Vec<PathBuf>,
    /// The settings each blocker on the network runs with (`http.timeout`, `net.retry`), by
    /// pid, when known (see `scan::net_settings`); Cargo's defaults otherwise.
    pub net_settings: HashMap<u32, NetSettings>,
    /// The git dependencies of the workspace of each blocker that waits on the network, with
    /// their servers' addresses, by pid (see `scan::git_sources`): a connection to one is a
    /// git fetch.
    pub git_sources: HashMap<u32, Vec<GitSource>>,
    /// The package whose build script started each culprit (a process holding a blocker's
    /// output pipe), by the culprit's pid, when its environment says (see
    /// `scan::leftover_packages`).
    pub left_by: HashMap<u32, LeftBy>,
    /// The `stale.stale_after` in force, when known: the verdicts say when a silence turns
    /// stale with it (review Z, Z9).
    pub stale_after: Option<f64>,
    /// Cargos that let go lately after a long silence from their registry (the daemon's).
    pub gave_up: Vec<super::netwait::GaveUp>,
}

impl Knowledge {
    /// How long `pid` has held (`since` = `hold_since`) or waited for (`wait_since`) `key`, and
    /// whether that counts from the real start.
    fn timed(
        &self,
        since: &HashMap<(FileKey, u32), f64>,
        key: FileKey,
        pid: u32,
        facts: Option<&ProcessFacts>,
        now: f64,
    ) -> (Option<f64>, bool) {
        let Some(t) = since.get(&(key, pid)) else {
            return (None, false);
        };
        let secs = (now - t).max(0.0);
        let known = !self.since_unknown.contains(&(key, pid))
            || facts.is_some_and(|f| policy::began_when_seen(*t, f.started_at));
        (Some(secs), known)
    }
}

/// Everything one pass saw.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// Locks held or waited on.
    pub sightings: &'a [LockSighting],
    /// Facts of every holder and waiter that still existed.
    pub facts: &'a HashMap<u32, ProcessFacts>,
    /// What each root blocker is doing.
    pub activity: &'a HashMap<u32, Activity>,
    /// Who blocks whom.
    pub graph: &'a Graph,
    /// Known lock files that exist and are free.
    pub free: &'a [(PathBuf, LockKind)],
    /// Other users' Cargo processes holding locks this user cannot name.
    pub hidden: &'a [HiddenHolder],
}

/// An orphan counts as stale at a glance only when its tree averaged less than this share of
/// one CPU over its life: a `nohup cargo build` that is compiling is busy, a fetch hung on the
/// network is not. (The daemon judges orphans by the idle window instead.)
const ORPHAN_BUSY_SHARE: f64 = 0.01;

/// How long a wrapper must have run before a one-off scan calls its idle tree idle.
const IDLE_HINT_SECS: f64 = 60.0;

/// Whether a blocker that waits for a child has used almost no CPU over a minute or more of
/// life (a `flock` around a `sleep`): a one-off scan cannot judge it over time as the daemon
/// does, but it should not call it busy either.
fn idle_so_far(b: &ProcessReport) -> bool {
    b.running_for_secs >= IDLE_HINT_SECS && b.tree_cpu_secs < ORPHAN_BUSY_SHARE * b.running_for_secs
}

/// The signals about a root blocker that one pass can see, shared by the one-off verdict and
/// the daemon's policy samples.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signals {
    /// It holds one of the incident's locks through a descriptor inherited from a dead locker.
    pub locker_dead: bool,
    /// One of the incident's locks was deleted under it.
    pub deleted_lock: bool,
    /// The incident is a deadlock.
    pub deadlock: bool,
    /// It waits for a process outside its tree to close its output pipe.
    pub pipe_held_open: bool,
    /// It does nothing but wait on the network, and nothing has arrived on any of its
    /// connections for this long (the kernel's count; `None` when unknown or not so).
    pub network_silent_secs: Option<f64>,
    /// A process of its build is suspended: the blocker waits for it, so it is as stuck as if it
    /// were stopped itself.
    pub child_stopped: bool,
    /// Its descriptors cannot be read (another user's process): an idle tree may be a network
    /// wait this user cannot see, so idleness proves nothing.
    pub unseen: bool,
}

/// Reads the [`Signals`] of an incident's blocker.
pub fn signals(obs: &Observed, incident: &Incident) -> Signals {
    let Some(pid) = incident.blocker else {
        return Signals::default();
    };
    let locks: Vec<&LockSighting> = obs
        .sightings
        .iter()
        .filter(|s| incident.locks.contains(&s.key))
        .collect();
    let inherited = |s: &LockSighting| s.holders.iter().any(|h| h.pid == pid && h.inherited);
    Signals {
        locker_dead: locks.iter().any(|s| s.locker_gone && inherited(s)),
        deleted_lock: locks.iter().any(|s| s.deleted),
        deadlock: incident.deadlock.is_some(),
        pipe_held_open: obs
            .activity
            .get(&pid)
            .is_some_and(|a| doing::culprit(a).is_some()),
        network_silent_secs: obs.activity.get(&pid).and_then(network_silence),
        child_stopped: obs
            .activity
            .get(&pid)
            .is_some_and(|a| a.descendants.iter().any(|c| c.stopped)),
        unseen: obs.activity.get(&pid).is_some_and(|a| a.unseen),
    }
}

/// How long nothing has arrived on any of the connections of a process that only waits on the
/// network (see [`doing::network_only`]).
fn network_silence(a: &Activity) -> Option<f64> {
    if !doing::network_only(a) || a.peers.is_empty() {
        return None;
    }
    a.peers
        .iter()
        .map(|p| p.idle_for_secs)
        .collect::<Option<Vec<f64>>>()?
        .into_iter()
        .reduce(f64::min)
}

/// Reasons a blocker looks stale that need no history.
pub fn instant_reasons(
    facts: &ProcessFacts,
    signals: Signals,
    network_silence: Option<f64>,
    now: f64,
) -> Vec<StaleReason> {
    let mut reasons = Vec::new();
    match facts.state {
        ProcState::Stopped => reasons.push(StaleReason::Stopped),
        ProcState::Zombie => reasons.push(StaleReason::Zombie),
        _ if signals.child_stopped => reasons.push(StaleReason::Stopped),
        _ => {}
    }
    let lifetime = (now - facts.started_at).max(1.0);
    if origin::classify(facts).0 == Origin::Orphan
        && facts.tree_cpu_secs < ORPHAN_BUSY_SHARE * lifetime
    {
        reasons.push(StaleReason::Orphan);
    }
    // Stopped, it reads nothing: the silence is its being stopped.
    let silent = facts.state != ProcState::Stopped
        && signals
            .network_silent_secs
            .zip(network_silence)
            .is_some_and(|(silent, limit)| silent >= limit);
    for (on, reason) in [
        (signals.locker_dead, StaleReason::LockerDead),
        (signals.deadlock, StaleReason::Deadlock),
        (signals.pipe_held_open, StaleReason::PipeHeldOpen),
        (silent, StaleReason::NetworkSilent),
    ] {
        if on {
            reasons.push(reason);
        }
    }
    reasons.sort();
    reasons
}

/// The policy's verdict, without what no longer holds this instant: a blocker resumed since
/// the policy last judged it (or whose stopped child was) is not "stopped", whatever the
/// hysteresis still says.
fn still_true(
    reasons: &[StaleReason],
    facts: &ProcessFacts,
    child_stopped: bool,
) -> Vec<StaleReason> {
    reasons
        .iter()
        .copied()
        .filter(|r| match r {
            StaleReason::Stopped => facts.state == ProcState::Stopped || child_stopped,
            StaleReason::Zombie => facts.state == ProcState::Zombie,
            _ => true,
        })
        .collect()
}

/// Builds the report.
pub fn build(
    source: Source,
    now: f64,
    cargo_homes: Vec<PathBuf>,
    obs: &Observed,
    knowledge: &Knowledge,
) -> Report {
    let mut incidents: Vec<IncidentReport> = obs
        .graph
        .incidents
        .iter()
        .map(|i| incident(obs, knowledge, now, i))
        .collect();
    incidents.sort_by(|a, b| {
        b.state
            .cmp(&a.state)
            .then(b.blocked.len().cmp(&a.blocked.len()))
            .then(
                b.held_for_secs()
                    .unwrap_or(0.0)
                    .total_cmp(&a.held_for_secs().unwrap_or(0.0)),
            )
            .then(a.id.cmp(&b.id))
    });
    let mut locks: Vec<LockReport> = obs
        .sightings
        .iter()
        .filter_map(|s| lock(obs, knowledge, &incidents, now, s))
        .collect();
    // Worst first, then by path, so the eye lands on what matters; the free ones follow.
    locks.sort_by(|a, b| b.state.cmp(&a.state).then_with(|| a.path.cmp(&b.path)));
    let mut fresh = HashMap::new();
    let mut guard = knowledge.manifests.as_deref().map(catalog::Manifests::seen);
    let seen = guard.as_deref_mut().unwrap_or(&mut fresh);
    project_dirs(&mut incidents, &mut locks, seen);
    name_build_dirs(obs, &knowledge.build_dirs, &mut incidents, &mut locks);
    point_to_racing_builds(&mut incidents);
    let suspended = suspended_waiters(&locks, obs);
    if !obs.free.is_empty() {
        FreeLocks::new(obs.free, seen).append_unlisted(&mut locks);
    }
    Report {
        schema_version: SCHEMA_VERSION,
        source,
        daemon: None,
        observed_at: now,
        cargo_homes,
        incidents,
        locks,
        hidden_holders: obs.hidden.to_vec(),
        suspended,
    }
}

/// Whether the process of `facts`, which came from `origin`, is a job of its terminal, where
/// `fg` resumes it.
fn in_terminal(facts: Option<&ProcessFacts>, origin: Origin) -> bool {
    origin == Origin::Terminal && facts.is_some_and(|f| f.has_tty)
}

/// The waiters of free locks: suspended in their request (see [`SuspendedWaiter`]).
fn suspended_waiters(locks: &[LockReport], obs: &Observed) -> Vec<super::model::SuspendedWaiter> {
    (locks.iter().filter(|l| l.state == LockState::Free))
        .flat_map(|l| {
            l.waiters.iter().map(|w| super::model::SuspendedWaiter {
                pid: w.pid,
                name: w.name.clone(),
                cmd: w.cmd.clone(),
                cwd: w.cwd.clone(),
                origin: w.origin,
                in_terminal: in_terminal(obs.facts.get(&w.pid), w.origin),
                lock: l.path.clone(),
                kind: l.kind,
                // In its own cargo's words: a check's, or those of the mode it asked for
                // (review W, W8, W10).
                lock_description: l.kind.waiting_words(w.mode, &w.cmd).to_string(),
                action: format!("cargo lockwatch resume {}", w.pid),
            })
        })
        .collect()
}

fn process(f: &ProcessFacts, now: f64) -> ProcessReport {
    let (origin, origin_via) = origin::classify(f);
    ProcessReport {
        pid: f.pid,
        start_token: f.start_token,
        name: f.name.clone(),
        cmd: f.cmd.clone(),
        cwd: f.cwd.clone(),
        uid: f.uid,
        user: f.user.clone(),
        process_state: f.state,
        in_terminal: in_terminal(Some(f), origin),
        origin,
        origin_via,
        running_for_secs: (now - f.started_at).max(0.0),
        tree_cpu_secs: f.tree_cpu_secs,
        sigterm: f.sigterm,
    }
}

fn sighting<'a>(obs: &'a Observed, key: FileKey) -> Option<&'a LockSighting> {
    obs.sightings.iter().find(|s| s.key == key)
}

fn incident(obs: &Observed, k: &Knowledge, now: f64, i: &Incident) -> IncidentReport {
    let blocker_facts = i.blocker.and_then(|p| obs.facts.get(&p));
    let blocker = blocker_facts.map(|f| process(f, now));
    let activity = i.blocker.and_then(|p| obs.activity.get(&p));
    let blocked: Vec<BlockedReport> = i
        .blocked
        .iter()
        .filter_map(|pid| blocked_report(obs, k, now, *pid))
        .collect();
    let mut locks: Vec<IncidentLock> = i
        .locks
        .iter()
        .filter_map(|key| incident_lock(obs, k, now, i.blocker, *key))
        .collect();
    // The lock most of the blocked wait for first, one the blocker holds exclusively before a
    // shared one: it names the incident.
    let waiting = |l: &IncidentLock| blocked.iter().filter(|b| b.lock == l.path).count();
    locks.sort_by_key(|l| (std::cmp::Reverse(waiting(l)), l.mode != LockMode::Exclusive));
    let doing = match (blocker_facts, activity) {
        (Some(f), Some(a)) => doing::classify(f, a, i.deadlock.is_some()),
        (Some(f), None) => doing::classify(f, &Activity::default(), i.deadlock.is_some()),
        (None, _) => Doing::Unknown,
    };
    let doing = followed(
        doing,
        i.blocker.and_then(|p| k.net_waits.get(&p)),
        i.blocker.and_then(|p| k.git_sources.get(&p)),
        activity.map_or(&[], |a| a.peers.as_slice()),
    );
    let culprit = activity.and_then(doing::culprit).map(|f| process(f, now));
    let culprit_left_by = (culprit.as_ref()).and_then(|c| k.left_by.get(&c.pid).cloned());
    let more_culprits = (activity
        .map(doing::culprits)
        .unwrap_or_default()
        .iter()
        .skip(1))
    .map(|f| process(f, now))
    .collect();
    let stale_reasons = blocker_facts.map_or_else(Vec::new, |f| stale_reasons(obs, k, now, i, f));
    let state = if !stale_reasons.is_empty() {
        IncidentState::Stale
    } else if i.blocked.is_empty() {
        IncidentState::Holding
    } else {
        IncidentState::Blocking
    };
    let mut report = IncidentReport {
        id: match (i.blocker, blocker_facts) {
            (Some(pid), Some(f)) => format!("{pid}/{}", f.start_token),
            _ => format!("unseen/{}", i.locks.first().map_or(0, |k| k.ino)),
        },
        state,
        blocker,
        blocked,
        chain: i.chain.clone(),
        locks,
        doing,
        culprit,
        more_culprits,
        culprit_left_by,
        deadlock: i.deadlock.clone(),
        stale_reasons,
        verdict: String::new(),
        action: None,
        ignored: blocker_facts.is_some_and(|f| k.ignore_names.iter().any(|n| *n == f.name)),
        advice: None,
        typical_hold: None,
    };
    conclude(&mut report, obs, k, now, i);
    report
}

/// Fills in what follows from the facts of `report`: the action, the advice and the verdict.
fn conclude(report: &mut IncidentReport, obs: &Observed, k: &Knowledge, now: f64, i: &Incident) {
    // A fetch by git gives up by git's settings, not Cargo's `http.timeout` (review Z, Z3).
    let by_git = matches!(&report.doing, Doing::Network { git: Some(g), .. } if g.with_git_cli);
    let settings = (report.blocker.as_ref())
        .and_then(|b| k.net_settings.get(&b.pid))
        .map(|s| if by_git { s.for_git_cli() } else { *s });
    let settings = settings.as_ref();
    let stopped_on = (report.blocker.as_ref()).and_then(|b| k.net_waits.get(&b.pid));
    let stopped_in_silence = stopped_in_silence(report, stopped_on, settings);
    report.action = action(report, stopped_in_silence);
    // Stopped, it shows no connection: the server its wait was on says whether it was a git
    // fetch (review 15, D11), whatever its timeout (review AB, AB1).
    let stopped_fetch = (stopped_on.zip(report.blocker.as_ref()))
        .filter(|_| stopped_in_silence)
        .and_then(|((peer, _), b)| super::gitfetch::source_of(peer, k.git_sources.get(&b.pid)?))
        .map(|s| GitFetch {
            url: s.url.clone(),
            with_git_cli: false,
        });
    report.advice = advice(report, settings, stopped_in_silence, stopped_fetch.as_ref());
    // One that never gives up by itself is not told that another "most likely gave up" and that
    // it "will likely do the same" (review Z, Z1).
    let gave_up = gave_up_before(report, &k.gave_up)
        .filter(|_| !matches!(&report.doing, Doing::Network { git: Some(_), .. }));
    let sig = signals(obs, i);
    report.verdict = verdict(report, &sig, settings, gave_up.is_some(), k.stale_after)
        + &stopped_on_network_clause(report, stopped_on)
        + &deleted_clause(report, &sig)
        + &sharers_clause(report)
        + &gave_up.map_or(String::new(), |g| gave_up_words(report, g, now));
}

/// Why the blocker `f` of `i` looks stale: the daemon's verdicts while they still hold, else
/// what one look shows (nothing for an ignored name; a stop within the grace is not stale).
fn stale_reasons(
    obs: &Observed,
    k: &Knowledge,
    now: f64,
    i: &Incident,
    f: &ProcessFacts,
) -> Vec<StaleReason> {
    if let Some(map) = &k.stale {
        let judged = map.get(&f.pid).map_or(&[][..], Vec::as_slice);
        return still_true(judged, f, signals(obs, i).child_stopped);
    }
    if k.ignore_names.iter().any(|n| *n == f.name) {
        return Vec::new();
    }
    let mut reasons = instant_reasons(f, signals(obs, i), k.network_silence, now);
    if now - f.started_at < k.stopped_grace {
        reasons.retain(|r| *r != StaleReason::Stopped);
    }
    reasons
}

/// What a blocker does, with its network wait followed across connections when the daemon
/// follows it: a pause between Cargo's tries (no connection open) is still a wait on the
/// network, not "no child, no network connection".
fn followed(
    doing: Doing,
    wait: Option<&(String, NetSilence)>,
    git_sources: Option<&Vec<GitSource>>,
    peers: &[Peer],
) -> Doing {
    let (mut peer, mut idle_for_secs, seen_git) = match (doing, wait) {
        (
            Doing::Network {
                peer,
                idle_for_secs,
                git,
                ..
            },
            _,
        ) => (peer, idle_for_secs, git),
        (Doing::Unknown, Some((peer, _))) => (peer.clone(), None, None),
        (doing, _) => return doing,
    };
    let fetched = |peer: &str| {
        let source = super::gitfetch::source_of(peer, git_sources?)?;
        Some(GitFetch {
            url: source.url.clone(),
            with_git_cli: false,
        })
    };
    // Any of its connections may be the git fetch, not only the first listed (a registry's
    // idle keep-alive may come first: review 15, D6); that one is the wait's peer then.
    let on_git = (peers.iter()).find_map(|p| Some((p, fetched(&p.remote)?)));
    let git = match (seen_git, on_git) {
        (Some(g), _) => Some(g),
        (None, Some((p, g))) => {
            (peer, idle_for_secs) = (p.remote.clone(), p.idle_for_secs);
            Some(g)
        }
        (None, None) => fetched(&peer),
    };
    Doing::Network {
        peer,
        idle_for_secs,
        silence: wait.map(|(_, s)| s.clone()),
        git,
    }
}

/// How to keep it from happening again: a cargo hung on the network is told how to make Cargo
/// give up sooner, in the config of the Cargo home whose lock it holds — once it looks stale,
/// or as soon as a whole try went unanswered while others wait (they would ask the same
/// registry next) (review M, N8).
fn advice(
    i: &IncidentReport,
    settings: Option<&NetSettings>,
    stopped_in_silence: bool,
    stopped_fetch: Option<&GitFetch>,
) -> Option<super::insight::Advice> {
    if !i.stale_reasons.contains(&StaleReason::NetworkSilent)
        && !unanswered(i, settings)
        && !stopped_in_silence
    {
        return None;
    }
    let home = i
        .locks
        .iter()
        .find_map(|l| catalog::cargo_home_of(&l.path, l.kind));
    // A git fetch is told the git advice when nothing ends it, else what its settings were and
    // what ends it sooner, as a registry's wait is; nothing when none would (review AB, AB1).
    let fetch = match &i.doing {
        Doing::Network { git: Some(g), .. } => Some(g),
        _ => stopped_fetch,
    };
    let text = super::insight::network_advice(home.as_slice(), fetch, settings)?;
    Some(super::insight::Advice {
        topic: super::insight::Topic::Network,
        text,
    })
}

fn blocked_report(obs: &Observed, k: &Knowledge, now: f64, pid: u32) -> Option<BlockedReport> {
    let f = obs.facts.get(&pid)?;
    let own = obs.graph.waits.iter().find(|w| w.pid == pid);
    let via_child = own
        .is_none()
        .then(|| obs.graph.waits_on_child(pid))
        .flatten();
    let waiter = via_child.unwrap_or(pid);
    let wait = own.or_else(|| obs.graph.waits.iter().find(|w| w.pid == waiter))?;
    let s = sighting(obs, wait.lock)?;
    let (waiting_for_secs, waiting_since_known) = k.timed(
        &k.wait_since,
        wait.lock,
        waiter,
        obs.facts.get(&waiter),
        now,
    );
    Some(BlockedReport {
        process: process(f, now),
        lock: s.path.clone(),
        // What the waiting cargo printed, which depends on the mode it asked for (review W, W10).
        lock_description: s
            .kind
            .waiting_words(
                wait.mode,
                obs.facts.get(&waiter).map_or(&[], |w| w.cmd.as_slice()),
            )
            .to_string(),
        mode: wait.mode,
        waits_for: obs.graph.waits_for(pid),
        waiting_for_secs,
        waiting_since_known,
        blocked_for_secs: (k.blocked_since.get(&(wait.lock, waiter)))
            .map(|t| (now - t).max(0.0))
            .filter(|all| waiting_for_secs.is_some_and(|w| *all >= w + 1.0)),
        via_child,
    })
}

fn incident_lock(
    obs: &Observed,
    k: &Knowledge,
    now: f64,
    blocker: Option<u32>,
    key: FileKey,
) -> Option<IncidentLock> {
    let s = sighting(obs, key)?;
    let mine = blocker.and_then(|p| s.holders.iter().find(|h| h.pid == p));
    let (held_for_secs, held_since_known) = match blocker {
        Some(p) => k.timed(&k.hold_since, key, p, obs.facts.get(&p), now),
        None => (None, false),
    };
    // In the blocker's own words: a `cargo check` holds the "build directory", `cargo clean
    // gc` the "package cache mutation".
    let cmd = blocker
        .and_then(|p| obs.facts.get(&p))
        .map_or(&[][..], |f| f.cmd.as_slice());
    let description = match mine {
        Some(h) => s.kind.waiting_words(h.mode, cmd),
        None => s.kind.cargo_words_for(cmd),
    };
    Some(IncidentLock {
        path: s.path.clone(),
        kind: s.kind,
        description: description.to_string(),
        mode: mine.map_or(LockMode::Exclusive, |h| h.mode),
        contended: !s.waiters.is_empty(),
        deleted: s.deleted,
        // Filled in by `project_dirs` once the report is built.
        project_dir: None,
        cargo_home: catalog::cargo_home_of(&s.path, s.kind),
        held_for_secs,
        held_since_known,
        shared_with: match mine {
            Some(m) if m.mode == LockMode::Exclusive => s
                .holders
                .iter()
                .filter(|h| h.mode == LockMode::Exclusive && h.pid != m.pid)
                .map(|h| h.pid)
                .collect(),
            _ => Vec::new(),
        },
    })
}

/// The one thing to do about a stale incident: stop the culprit when there is one, else resume
/// a stopped blocker or stop it (a deadlock's blocker is the one chosen to stop). A stopped
/// blocker is offered its resume even before the policy calls it stale. One that ignores
/// SIGTERM is stopped with `kill --force`.
/// Whether `i`'s blocker is stopped in a network wait that had gone unanswered a whole try
/// (`wait`, as the daemon followed it): resuming puts it back into that wait, so stopping it is
/// the action, and the network advice applies (review X, X14).
fn stopped_in_silence(
    i: &IncidentReport,
    wait: Option<&(String, NetSilence)>,
    settings: Option<&NetSettings>,
) -> bool {
    let settings = settings.copied().unwrap_or_default();
    i.doing == Doing::Stopped
        && !i.blocked.is_empty()
        && wait.is_some_and(|(_, s)| super::netwait::a_try_went_unanswered(s, &settings))
}

/// The one thing to run, when there is one: resume a stopped blocker, else stop the culprit or
/// the blocker; `stop_stopped`: stop even a stopped one (resuming would not help).
fn action(i: &IncidentReport, stop_stopped: bool) -> Option<Action> {
    if i.state != IncidentState::Stale && !i.doing.is_suspended() {
        return None;
    }
    if let Some(c) = &i.culprit {
        return Some(Action {
            pid: c.pid,
            start_token: c.start_token,
            name: c.name.clone(),
            resume: false,
            force: c.sigterm.futile(),
            command: super::model::kill_command(c.pid, c.sigterm.futile()),
        });
    }
    let b = i.blocker.as_ref()?;
    let resume = (b.process_state == ProcState::Stopped
        || matches!(i.doing, Doing::ChildStopped { .. }))
        && i.deadlock.is_none()
        && !stop_stopped;
    // Never offered for termination: a resume is no termination.
    if i.ignored && !resume {
        return None;
    }
    let force = b.sigterm.futile();
    Some(Action {
        pid: b.pid,
        start_token: b.start_token,
        name: b.name.clone(),
        resume,
        force,
        command: if resume {
            format!("cargo lockwatch resume {}", b.pid)
        } else {
            super::model::kill_command(b.pid, force)
        },
    })
}

fn who(p: &ProcessReport) -> String {
    format!("{} {}", p.name, p.pid)
}

fn waiting_clause(n: usize) -> String {
    match n {
        0 => "nobody waits".to_string(),
        1 => "1 process waits".to_string(),
        n => format!("{n} processes wait"),
    }
}

/// [`waiting_clause`] for `i`'s waiters, saying which are suspended (Ctrl-Z): stopping the
/// blocker for them frees a lock nobody takes until they are resumed (review U, U9).
fn waiting_words(i: &IncidentReport) -> String {
    let waiting = waiting_clause(i.blocked.len());
    let stopped: Vec<u32> = (i.blocked.iter())
        .filter(|b| b.process.process_state == ProcState::Stopped)
        .map(|b| b.process.pid)
        .collect();
    match stopped.as_slice() {
        [] => waiting,
        [one] if i.blocked.len() == 1 => format!(
            "{waiting}, but it is suspended (Ctrl-Z): `cargo lockwatch resume {one}` lets it go on"
        ),
        _ => format!("{waiting}, {} of them suspended (Ctrl-Z)", stopped.len()),
    }
}

/// Whether `i`'s blocker, which others wait for, has had a whole try go unanswered by its
/// registry (see [`super::netwait::a_try_went_unanswered`]).
fn unanswered(i: &IncidentReport, settings: Option<&NetSettings>) -> bool {
    let Doing::Network {
        silence: Some(s), ..
    } = &i.doing
    else {
        return false;
    };
    let settings = settings.copied().unwrap_or_default();
    !i.blocked.is_empty() && super::netwait::a_try_went_unanswered(s, &settings)
}

/// What a lock file deleted under its holder (`cargo clean` during a build) means: no staleness
/// (the build goes on and may finish well), but a build started now will not wait for it, and
/// a waiter queued on the deleted file builds beside such a new one once it gets it (review V,
/// V2).
fn deleted_clause(i: &IncidentReport, sig: &Signals) -> String {
    if !sig.deleted_lock {
        return String::new();
    }
    let mut out = " Its lock file was deleted (cargo clean or rm -rf target?): a build started \
                   now will not wait for it and may write the same directory at once; let it \
                   finish before building again."
        .to_string();
    let on_deleted: Vec<u32> = (i.blocked.iter())
        .filter(|b| i.locks.iter().any(|l| l.path == b.lock && l.deleted))
        .map(|b| b.process.pid)
        .collect();
    // `kill` never stops a waiter: the way to stop one is where it runs (review Y, Y10).
    let stop = match on_deleted.as_slice() {
        [] => return out,
        [pid] => format!(
            "The waiting build waits on that deleted file: once it has it, it builds beside any \
             new build. Stop it (Ctrl-C in its terminal, or `kill -INT {pid}`) and run it again \
             once this one is done."
        ),
        pids => format!(
            "The {} waiting builds wait on that deleted file: once they have it, they build \
             beside any new build. Stop them (Ctrl-C in their terminals, or `kill -INT {}`) and \
             run them again once this one is done.",
            pids.len(),
            pids.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        ),
    };
    out.push(' ');
    out.push_str(&stop);
    out
}

/// The one-line verdict. It names the blocker, never a waiter, as the one holding things up;
/// `heir`: it holds a lock through a descriptor its exited locker left it.
fn verdict(
    i: &IncidentReport,
    sig: &Signals,
    settings: Option<&NetSettings>,
    registry_gave_up: bool,
    stale_after: Option<f64>,
) -> String {
    let heir = sig.locker_dead;
    let waiting = waiting_words(i);
    let Some(b) = &i.blocker else {
        return format!(
            "held by a process this user cannot inspect; {waiting}. It may belong to another user."
        );
    };
    if let Some(d) = &i.deadlock {
        return deadlock_verdict(i, b, d);
    }
    if let Some(c) = &i.culprit {
        return culprit_verdict(i, b, c, &waiting);
    }
    let resume = resume_words(i, b);
    match (i.state, &i.doing) {
        (_, doing @ Doing::ChildStopped { .. }) => format!(
            "{} cannot go on: {} (SIGSTOP, or reading the terminal from the background); \
             {waiting}. Resume it with `cargo lockwatch resume {}`, or stop the build.",
            who(b),
            doing::describe(doing).trim_start_matches("stuck: "),
            b.pid
        ),
        (IncidentState::Stale, doing) => stale_verdict(i, b, doing, &waiting, &resume, settings),
        (_, Doing::Stopped) => format!(
            "{} is stopped (suspended with Ctrl-Z?); {waiting}.{resume}",
            who(b)
        ),
        (_, Doing::Unseen) => format!(
            "{} holds it; it belongs to another user, so its connections and pipes cannot be \
             seen from here and whether it is busy cannot be told; {waiting}. Its owner (or \
             root) sees more with `cargo lockwatch status`.",
            who(b)
        ),
        (_, Doing::Unknown) => no_activity_verdict(b, heir, &waiting),
        (IncidentState::Blocking, doing @ Doing::RunningChild { .. })
            if idle_so_far(b) && !sig.unseen =>
        {
            idle_child_verdict(b, doing, &waiting)
        }
        (IncidentState::Blocking, doing) => busy_verdict(
            i,
            b,
            doing,
            settings,
            registry_gave_up,
            stale_after,
            &waiting,
        ),
        // Another user's waiter suspended with Ctrl-Z is not in the kernel's table, and its
        // stopped call cannot be read from here (review U, U4).
        (IncidentState::Holding, doing) if sig.unseen => format!(
            "{} holds it: {}; none of your processes waits for it.",
            who(b),
            doing::describe_short(doing)
        ),
        (IncidentState::Holding, doing) => format!(
            "{} holds it: {}; nobody waits.",
            who(b),
            doing::describe_short(doing)
        ),
    }
}

/// How to get a stopped blocker `b` going or out of the way: `fg` only where there is a
/// terminal to type it in; stopping it first when resuming would put it back into a silent
/// network wait (its action is then `kill`: review X, X14).
fn resume_words(i: &IncidentReport, b: &ProcessReport) -> String {
    let resume_how = match b.in_terminal {
        true => "`fg` in its terminal".to_string(),
        false => format!("`cargo lockwatch resume {}`", b.pid),
    };
    match &i.action {
        Some(a) if !a.resume && i.doing == Doing::Stopped => {
            format!(" Stop it (`{}`), or resume it ({resume_how}).", a.command)
        }
        _ => format!(" Resume it ({resume_how}), or stop it."),
    }
}

/// The verdict on `b`, at work while others wait: behind a network wait with nothing back yet,
/// when Cargo stops trying by itself (never, for a git fetch without a timeout), before the
/// stale verdict says it (the waiters would meet the same server); else waiting is right.
fn busy_verdict(
    i: &IncidentReport,
    b: &ProcessReport,
    doing: &Doing,
    settings: Option<&NetSettings>,
    registry_gave_up: bool,
    stale_after: Option<f64>,
    waiting: &str,
) -> String {
    if let Some(g) = endless_git_fetch(doing, settings).filter(|_| nothing_back(doing)) {
        return git_busy_verdict(i, b, g, settings, stale_after, waiting);
    }
    match doing {
        Doing::Network {
            silence: Some(s), ..
        } if s.nothing_received => {
            let next = unanswered_words(i, b, settings, registry_gave_up);
            format!(
                "{} is busy: {}; {waiting}. Nothing has arrived yet: Cargo gives up by itself \
                 after its retries{}. {next}",
                who(b),
                doing::describe_short(doing),
                give_up_words(Some(s), settings),
            )
        }
        // A trickle is no download: it may take hours (review AA, AA6).
        Doing::Network {
            silence: Some(s), ..
        } if s.first_try_secs >= SLOW_AFTER_SECS
            && s.bytes_per_sec.is_some_and(|r| r < SLOW_BYTES_PER_SEC) =>
        {
            format!(
                "{} is busy: {}; {waiting}. Data comes at only {}: at that pace it may take \
                 hours. If it does not speed up, stop it: `{}`.",
                who(b),
                doing::describe_short(doing),
                super::text::rate(s.bytes_per_sec.unwrap_or_default()),
                super::model::kill_command(b.pid, b.sigterm.futile())
            )
        }
        _ => format!(
            "{} is busy: {}; {waiting}. Waiting is usually right.",
            who(b),
            doing::describe_short(doing)
        ),
    }
}

/// Data slower than this, on a connection open [`SLOW_AFTER_SECS`], is a trickle.
const SLOW_BYTES_PER_SEC: f64 = 1024.0;
const SLOW_AFTER_SECS: f64 = 30.0;

/// The git fetch `doing` is, when nothing makes it give up: git's own command line (unless its
/// `http.lowSpeedLimit` is set), or Cargo's libgit2 transport without `http.timeout` (review
/// X, X7 and X15).
fn endless_git_fetch<'a>(doing: &'a Doing, settings: Option<&NetSettings>) -> Option<&'a GitFetch> {
    match doing {
        // Over ssh no timeout applies, Cargo's nor git's (review AA, AA2).
        Doing::Network { git: Some(g), .. }
            if !settings.is_some_and(|s| s.timeout_set) || super::gitfetch::over_ssh(&g.url) =>
        {
            Some(g)
        }
        _ => None,
    }
}

/// Whether nothing has come back on the network wait `doing`: across its tries as the daemon
/// follows it, else, in one look, nothing for a while on its connection (a fetch at full speed
/// has just received something: review 15, D2).
fn nothing_back(doing: &Doing) -> bool {
    match doing {
        Doing::Network {
            silence: Some(s), ..
        } => s.nothing_received,
        Doing::Network { idle_for_secs, .. } => {
            idle_for_secs.is_some_and(|idle| idle >= ONE_LOOK_SILENT_SECS)
        }
        _ => false,
    }
}

/// How long one look must see nothing arriving on a git fetch's connection to call it silent.
const ONE_LOOK_SILENT_SECS: f64 = 5.0;

/// Why the git fetch `g` may never end.
fn no_timeout_words(g: &GitFetch) -> &'static str {
    if super::gitfetch::over_ssh(&g.url) {
        return match g.with_git_cli {
            true => {
                "ssh sets no timeout for a server that stops answering unless its \
                     `ConnectTimeout` and `ServerAliveInterval` are set, so it may wait for ever"
            }
            false => {
                "Cargo sets no timeout for a git fetch over ssh (`http.timeout` is for \
                      HTTP), so it may wait for ever"
            }
        };
    }
    if g.with_git_cli {
        "git (Cargo's `net.git-fetch-with-cli`) sets no timeout unless its `http.lowSpeedLimit` \
         is set, so it may wait for ever"
    } else {
        "Cargo sets no timeout for a git fetch unless `http.timeout` is set, so it may wait for \
         ever"
    }
}

/// The verdict on `b` fetching a git repository that has sent nothing yet and that nothing
/// makes it give up on: no "Cargo gives up by itself", and the way out once a try's time went
/// by with nothing.
fn git_busy_verdict(
    i: &IncidentReport,
    b: &ProcessReport,
    g: &GitFetch,
    settings: Option<&NetSettings>,
    stale_after: Option<f64>,
    waiting: &str,
) -> String {
    let next = if unanswered(i, settings) {
        format!(
            "A waiting build that needs this repository would wait on it too, and one that \
             needs nothing from it goes on once this one lets go: `{}` ends the wait now.",
            super::model::kill_command(b.pid, b.sigterm.futile())
        )
    } else {
        match stale_after {
            Some(secs) => format!(
                "If nothing arrives for {} (`stale.stale_after`), it is called stale.",
                super::text::duration(secs)
            ),
            None => "If nothing arrives, it is called stale once `stale.stale_after` (2m by \
                     default) has passed."
                .to_string(),
        }
    };
    let nothing = match &i.doing {
        Doing::Network {
            silence: None,
            idle_for_secs: Some(idle),
            ..
        } => format!("Nothing has arrived for {}", super::text::duration(*idle)),
        _ => "Nothing has arrived yet".to_string(),
    };
    format!(
        "{} is busy: {}; {waiting}. {nothing}, and {}. {next}",
        who(b),
        doing::describe_short(&i.doing),
        no_timeout_words(g),
    )
}

/// What waiting behind `b`, from whose registry nothing has arrived, does for the waiters.
/// Every build takes the package cache for a moment, also one that needs nothing from the
/// registry and goes on as soon as the holder lets go (review W, W7).
fn unanswered_words(
    i: &IncidentReport,
    b: &ProcessReport,
    settings: Option<&NetSettings>,
    registry_gave_up: bool,
) -> String {
    // A git fetch's server is a repository's, not a registry (review Z, Z4).
    let (server, it) = match &i.doing {
        Doing::Network { git: Some(_), .. } => ("git server", "this repository"),
        _ => ("registry", "this registry"),
    };
    if registry_gave_up {
        return format!(
            "A waiting build that needs {it} gets nothing either until it answers; one that \
             needs nothing from it goes on as soon as this one lets go."
        );
    }
    if !unanswered(i, settings) {
        return "Waiting is usually right.".to_string();
    }
    format!(
        "Its {server} has not answered a whole try: a waiting build that needs it would meet \
         the same silence (check the network: a proxy, a VPN, the mirror; or make Cargo give up \
         sooner, see the advice), and one that needs nothing from it goes on once this one \
         lets go: `{}` ends the wait now.",
        super::model::kill_command(b.pid, b.sigterm.futile())
    )
}

/// The verdict on a blocker `b` that shows no child or network activity (`heir`: it holds
/// the lock through a descriptor its exited locker left it).
fn no_activity_verdict(b: &ProcessReport, heir: bool, waiting: &str) -> String {
    if heir {
        return format!(
            "{} holds it through a descriptor inherited from a process that has exited, and \
             shows no child or network activity; {waiting}. If that lasts, it may be stuck.",
            who(b)
        );
    }
    // One look can fall in Cargo's pause before a retry (review N, P3).
    let pause = if b.name.raw() == "cargo" {
        " A cargo shows none while it pauses between a registry's tries (up to 10 s): look \
         again."
    } else {
        ""
    };
    format!(
        "{} holds it and shows no child or network activity right now; {waiting}.{pause} If \
         that lasts, it may be stuck.",
        who(b),
    )
}

/// The verdict on a blocker `b` that runs a child but has used little CPU so far: idle
/// rather than busy, not stale yet.
fn idle_child_verdict(b: &ProcessReport, doing: &Doing, waiting: &str) -> String {
    format!(
        "{} is {}, but its processes have used {:.1}s of CPU in {}: idle rather than busy; \
         {waiting}. If that lasts, it may be stuck: see what it waits for, or stop it: `{} \
         --yes`.",
        who(b),
        doing::describe(doing),
        b.tree_cpu_secs,
        super::text::duration(b.running_for_secs),
        // Not stale: `kill` would ask first (waiting may still be right).
        super::model::kill_command(b.pid, b.sigterm.futile())
    )
}

/// The verdict on a blocker `b` that looks stale (its build script not stopped): the network
/// gone silent, a whole process tree idle while it says it works, or the reasons as they are;
/// `resume` is how to resume it, said when it is stopped.
fn stale_verdict(
    i: &IncidentReport,
    b: &ProcessReport,
    doing: &Doing,
    waiting: &str,
    resume: &str,
    settings: Option<&NetSettings>,
) -> String {
    if i.stale_reasons.contains(&StaleReason::NetworkSilent) {
        return network_verdict(b, doing, &i.stale_reasons, waiting, settings);
    }
    let working = matches!(
        doing,
        Doing::BuildScript { .. } | Doing::RunningChild { .. } | Doing::Compiling { .. }
    );
    if working && i.stale_reasons == [StaleReason::Idle] {
        return format!(
            "{} looks stale: {}, yet its whole process tree has used no CPU, received nothing \
             and written nothing for a long while; {waiting}. It may be waiting on something \
             outside it (a container, a service, another process's download): see what before \
             stopping it.",
            who(b),
            doing::describe(doing)
        );
    }
    let why: Vec<&str> = i.stale_reasons.iter().map(|r| r.describe()).collect();
    let mut v = format!("{} looks stale: {}; {waiting}.", who(b), why.join("; "));
    if i.stale_reasons.contains(&StaleReason::Stopped) {
        v.push_str(resume);
    }
    v
}

/// The verdict on a blocker `b` stuck on culprit `c`, a process its build script left holding
/// its output pipe: `c` (and those holding the pipe with it) is the one to stop, not `b`.
fn culprit_verdict(
    i: &IncidentReport,
    b: &ProcessReport,
    c: &ProcessReport,
    waiting: &str,
) -> String {
    let also = match i.more_culprits.as_slice() {
        [] => String::new(),
        more => {
            let names: Vec<String> = more.iter().map(who).collect();
            format!(
                " (and {}, which hold{} it open too: stopping {} stops them with it)",
                names.join(", "),
                if more.len() == 1 { "s" } else { "" },
                c.pid
            )
        }
    };
    // Before the daemon's samples make it stale there is no action line: the verdict
    // says what to run if it lasts (review J, K9).
    let stop = if i.state == IncidentState::Stale {
        format!("Stop {}{also}, not {}.", who(c), b.name)
    } else {
        format!(
            "If it does not exit soon, stop {}{also}, not {}: `cargo lockwatch kill {}`.",
            who(c),
            b.name,
            c.pid
        )
    };
    let by = (i.culprit_left_by.as_ref()).map_or_else(|| "a build script".into(), |l| l.words());
    let upstream = match &i.culprit_left_by {
        Some(l) if l.is_dependency() => format!(
            " The fix is in {}{} (report it upstream), not in yours.",
            super::text::printable(&l.package),
            if l.build_script {
                "'s build script"
            } else {
                ""
            }
        ),
        _ => String::new(),
    };
    format!(
        "{} waits for {} to close its output pipe (a process left behind by {by}); {waiting}. \
         {stop}{upstream}",
        who(b),
        who(c),
    )
}

/// The verdict on a cargo hung on the network, the same from a one-off scan and from the
/// daemon: which peer, how long nothing has arrived, that Cargo gives up by itself after its
/// retries (and roughly when, if its settings are the defaults), and how to stop waiting.
/// Idleness is not repeated: waiting on the network is why it is idle.
fn network_verdict(
    b: &ProcessReport,
    doing: &Doing,
    reasons: &[StaleReason],
    waiting: &str,
    settings: Option<&NetSettings>,
) -> String {
    let (peer, silence) = match doing {
        Doing::Network { peer, silence, .. } => (peer.as_str(), silence.as_ref()),
        _ => ("its registry", None),
    };
    let quiet = match (doing, silence) {
        (_, Some(s)) => doing::silence_words(s),
        (
            Doing::Network {
                idle_for_secs: Some(idle),
                ..
            },
            None,
        ) => format!("nothing received for {}", super::text::duration(*idle)),
        _ => "nothing received for a long time".into(),
    };
    let others: Vec<&str> = reasons
        .iter()
        .filter(|r| !matches!(r, StaleReason::NetworkSilent | StaleReason::Idle))
        .map(|r| r.describe())
        .collect();
    let also = if others.is_empty() {
        String::new()
    } else {
        format!(" Also: {}.", others.join("; "))
    };
    let Doing::Network { git: Some(g), .. } = doing else {
        return format!(
            "{} looks stale: it waits on the network ({peer}: {quiet}), a registry that does \
             not answer; {waiting}. Cargo gives up by itself after its retries{}. To free the \
             lock now, stop it.{also}",
            who(b),
            give_up_words(silence, settings)
        );
    };
    let ends = match endless_git_fetch(doing, settings) {
        Some(g) => super::text::upper_first(no_timeout_words(g)),
        None => format!(
            "Cargo gives up by itself after its retries{}",
            give_up_words(silence, settings)
        ),
    };
    super::text::printable(&format!(
        "{} looks stale: it fetches git repository {} ({peer}: {quiet}), a git server that does \
         not answer; {waiting}. {ends}. To free the lock now, stop it.{also}",
        who(b),
        g.url
    ))
}

/// When Cargo will give up by itself, as far as can be told: with the settings it runs with
/// when they were read (`settings`), else with Cargo's defaults.
fn give_up_words(silence: Option<&NetSilence>, settings: Option<&NetSettings>) -> String {
    let (with, set) = match settings {
        Some(s) if s.git_cli => (
            format!(
                "its settings (git's http.lowSpeedTime {} s, net.retry {})",
                s.timeout_secs, s.retry
            ),
            *s,
        ),
        Some(s) if !s.is_default() => (
            format!(
                "its settings (http.timeout {} s, net.retry {})",
                s.timeout_secs, s.retry
            ),
            *s,
        ),
        Some(s) => (
            "Cargo's defaults (http.timeout 30 s, net.retry 3)".into(),
            *s,
        ),
        None => (
            "Cargo's defaults (http.timeout 30 s, net.retry 3), unless its config or \
             environment says otherwise"
                .into(),
            NetSettings::default(),
        ),
    };
    match silence.map(|s| (s, super::netwait::give_up_in(s, &set))) {
        Some((_, Some(left))) => {
            format!(" — with {with}, in about {}", super::text::duration(left))
        }
        Some((s, None)) => format!(
            " — with {with} it would have by now ({} since its first try): it waits longer \
             than they say",
            super::text::duration(s.first_try_secs)
        ),
        None => format!(
            " — with {with}, about {} after its first try",
            super::text::duration(set.give_up_secs())
        ),
    }
}

/// The cargo that let go lately after a long silence from the registry `i`'s blocker waits on,
/// with nothing from it yet either: this one will most likely give up too (review M, N8).
fn gave_up_before<'a>(
    i: &IncidentReport,
    gave_up: &'a [super::netwait::GaveUp],
) -> Option<&'a super::netwait::GaveUp> {
    let Doing::Network {
        peer,
        silence: Some(s),
        ..
    } = &i.doing
    else {
        return None;
    };
    let me = i.blocker.as_ref().map(|b| b.pid);
    let candidates = || {
        (gave_up.iter().rev())
            .filter(|_| s.nothing_received)
            .filter(move |g| g.peer == *peer && Some(g.pid) != me)
    };
    // One on this incident's Cargo home first: the cache the waiters wait for (review O, Q4).
    let home = incident_home(i);
    candidates()
        .find(|g| g.home.is_some() && g.home == home)
        .or_else(|| candidates().next())
}

/// The Cargo home whose package cache `i` is about, if any.
fn incident_home(i: &IncidentReport) -> Option<PathBuf> {
    (i.locks.iter()).find_map(|l| catalog::cargo_home_of(&l.path, l.kind))
}

/// ` cargo 31097 let go of its lock 40s ago after 2m10s with nothing from …`, saying whose
/// package cache it held when that is another home's than `i`'s.
fn gave_up_words(i: &IncidentReport, g: &super::netwait::GaveUp, now: f64) -> String {
    let lock = match &g.home {
        Some(h) if Some(h) != incident_home(i).as_ref() => {
            format!("of {}'s package cache", super::text::tilde(h))
        }
        _ => "of its lock".to_string(),
    };
    format!(
        " {} let go {lock} {} ago after {} with nothing from {} (it most likely gave up): \
         this one will likely do the same; check the network, or the registry.",
        g.who,
        super::text::duration((now - g.at).max(0.0)),
        super::text::duration(g.silent_secs),
        g.peer
    )
}

/// What a blocker suspended while nothing came from its registry goes back to when resumed:
/// that wait, which stopping it ends (review X, X14).
fn stopped_on_network_clause(i: &IncidentReport, wait: Option<&(String, NetSilence)>) -> String {
    let Some((peer, s)) = wait.filter(|(_, s)| s.nothing_received && s.first_try_secs >= 10.0)
    else {
        return String::new();
    };
    if i.doing != Doing::Stopped {
        return String::new();
    }
    format!(
        " Before it was stopped it was getting nothing from {peer} (its first try was {} \
         ago): resumed, it goes back to that wait; stopped, it lets the waiting builds go now.",
        super::text::duration(s.first_try_secs)
    )
}

/// Who shares the blocker's descriptor, when anyone does: stopping the blocker alone frees
/// nothing.
fn sharers_clause(i: &IncidentReport) -> String {
    let mut pids: Vec<u32> = i.locks.iter().flat_map(|l| l.shared_with.clone()).collect();
    pids.sort_unstable();
    pids.dedup();
    match pids.as_slice() {
        [] => String::new(),
        [p] => format!(
            " Process {p} holds the same lock through the same descriptor: both must stop \
             (`kill` stops both)."
        ),
        ps => {
            let list: Vec<String> = ps.iter().map(u32::to_string).collect();
            format!(
                " Processes {} hold the same lock through the same descriptor: all must stop \
                 (`kill` stops them all).",
                list.join(", ")
            )
        }
    }
}

fn deadlock_verdict(i: &IncidentReport, b: &ProcessReport, d: &Deadlock) -> String {
    let name = |pid: u32| {
        i.blocked
            .iter()
            .map(|x| &x.process)
            .chain(std::iter::once(b))
            .find(|p| p.pid == pid)
            .map_or_else(|| format!("process {pid}"), who)
    };
    match d {
        Deadlock::SelfWait { waiter, holder } if waiter == holder => format!(
            "deadlock: {} waits for a lock it holds itself. It never ends on its own: stop it.",
            name(*waiter)
        ),
        Deadlock::SelfWait { waiter, holder } => format!(
            "deadlock: {} (started by {}'s build) waits for a lock {} holds, and {} waits for \
             it to finish. It never ends on its own: stop {}.",
            name(*waiter),
            name(*holder),
            name(*holder),
            name(*holder),
            who(b)
        ),
        Deadlock::Cycle { pids } => {
            let names: Vec<String> = pids.iter().map(|p| name(*p)).collect();
            format!(
                "deadlock: {} wait for each other's locks. It never ends on its own: stop {} \
                 (started last).",
                names.join(" and "),
                who(b)
            )
        }
    }
}

/// The report of one lock sighting: its holders and waiters as this user sees them, its state
/// and verdict (`None` when nothing of it is left to show).
fn lock(
    obs: &Observed,
    k: &Knowledge,
    incidents: &[IncidentReport],
    now: f64,
    s: &LockSighting,
) -> Option<LockReport> {
    let holders: Vec<HolderReport> = (s.holders.iter())
        .filter_map(|h| holder_report(obs, k, incidents, now, s, h))
        .collect();
    let waiters: Vec<WaiterReport> = (s.waiters.iter())
        .filter_map(|w| waiter_report(obs, k, now, s, w))
        .collect();
    // Held by nobody this user can see: the kernel's mode, else the holders' as listed.
    let hidden = s.unseen.or_else(|| s.holders.first().map(|h| h.mode));
    let hidden = if holders.is_empty() { hidden } else { None };
    if holders.is_empty() && waiters.is_empty() && hidden.is_none() {
        return None;
    }
    let state = lock_state(&holders, &waiters, hidden);
    let stop_command = holders
        .iter()
        .filter(|h| h.stale)
        .find_map(|h| incident_blocked_by(incidents, h.pid))
        .and_then(|i| i.action.as_ref())
        .map(|a| a.command.clone());
    // In its holder's words, as the incident says it: a `check` holds the "build directory"
    // (review W, W8); a free lock in its kind's.
    let holder = (holders.iter().find(|h| h.mode == LockMode::Exclusive)).or(holders.first());
    let description = match holder {
        Some(h) => s.kind.waiting_words(h.mode, &h.cmd),
        None => s.kind.cargo_words(),
    };
    Some(LockReport {
        path: s.path.clone(),
        kind: s.kind,
        description: description.to_string(),
        verdict: lock_verdict(state, &holders, &waiters),
        state,
        deleted: s.deleted,
        // Filled in by `project_dirs` once the report is built.
        project_dir: None,
        cargo_home: catalog::cargo_home_of(&s.path, s.kind),
        holders,
        waiters,
        stop_command,
    })
}

/// The incident whose root blocker is `pid`.
fn incident_blocked_by(incidents: &[IncidentReport], pid: u32) -> Option<&IncidentReport> {
    (incidents.iter()).find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == pid))
}

/// A lock's state from its holders, its waiters and the mode of a holder this user cannot see.
fn lock_state(
    holders: &[HolderReport],
    waiters: &[WaiterReport],
    hidden: Option<LockMode>,
) -> LockState {
    if holders.iter().any(|h| h.stale) {
        LockState::Stale
    } else if holders.is_empty() && hidden.is_none() {
        // Only a waiter stopped (Ctrl-Z) in its request: the lock itself is free.
        LockState::Free
    } else if !waiters.is_empty() {
        LockState::Contended
    } else if hidden == Some(LockMode::Shared)
        || (!holders.is_empty() && holders.iter().all(|h| h.mode == LockMode::Shared))
    {
        LockState::Background
    } else {
        LockState::Held
    }
}

/// One holder of the lock `s`, stale only when it is the root blocker of an incident that
/// includes this lock.
fn holder_report(
    obs: &Observed,
    k: &Knowledge,
    incidents: &[IncidentReport],
    now: f64,
    s: &LockSighting,
    h: &Participant,
) -> Option<HolderReport> {
    let f = obs.facts.get(&h.pid)?;
    let role = obs.graph.role(h.pid).unwrap_or(Role::Background);
    // A blocker's verdict marks only the locks of its incident: a shared lock nobody waits
    // for stays background even when its holder is stuck elsewhere.
    let reasons = (incident_blocked_by(incidents, h.pid))
        .filter(|_| role == Role::Blocker)
        .filter(|i| (i.locks.iter()).any(|l| l.path == s.path && l.deleted == s.deleted))
        .map(|i| i.stale_reasons.clone())
        .unwrap_or_default();
    let (origin, origin_via) = origin::classify(f);
    let (held_for_secs, held_since_known) = k.timed(&k.hold_since, s.key, h.pid, Some(f), now);
    Some(HolderReport {
        pid: h.pid,
        role,
        mode: h.mode,
        name: f.name.clone(),
        cmd: f.cmd.clone(),
        cwd: f.cwd.clone(),
        process_state: f.state,
        origin,
        origin_via,
        inherited: h.inherited,
        held_for_secs,
        held_since_known,
        running_for_secs: Some((now - f.started_at).max(0.0)),
        tree_cpu_secs: f.tree_cpu_secs,
        ppid: f.ppid,
        ancestors: f.ancestors.clone(),
        start_token: f.start_token,
        stale: !reasons.is_empty(),
        stale_reasons: reasons,
    })
}

/// One waiter of the lock `s`, with how long it has waited when known.
fn waiter_report(
    obs: &Observed,
    k: &Knowledge,
    now: f64,
    s: &LockSighting,
    w: &Participant,
) -> Option<WaiterReport> {
    let f = obs.facts.get(&w.pid)?;
    Some(WaiterReport {
        pid: w.pid,
        mode: w.mode,
        name: f.name.clone(),
        cmd: f.cmd.clone(),
        cwd: f.cwd.clone(),
        origin: origin::classify(f).0,
        waiting_for_secs: (k.wait_since.get(&(s.key, w.pid))).map(|t| (now - t).max(0.0)),
    })
}

/// Adds what a daemon's report does not know of this caller's roots (`--cargo-home`,
/// `--project`, the project here): their Cargo homes, and their lock files that are free. Held
/// ones are in the report already: the daemon sees every lock on the machine.
pub fn add_roots(report: &mut Report, known: &[(PathBuf, LockKind)], homes: &[PathBuf]) {
    use super::text::{lossy_path::text, same_path};
    for h in homes {
        if !report.cargo_homes.iter().any(|c| same_path(c, h)) {
            report.cargo_homes.push(h.clone());
        }
    }
    // As text: the daemon sends bytes that are not UTF-8 as `\xff`.
    let mut listed: HashSet<String> = (report.locks.iter())
        .map(|l| text(&l.path).into_owned())
        .collect();
    for (path, kind) in known {
        if listed.insert(text(path).into_owned()) {
            report.locks.push(free_lock(path, *kind));
        }
    }
}

/// A build holding a lock file whose old one was deleted under another build still running
/// (`cargo clean` mid-build): both write the same directory now, and the new one's verdict
/// says so (the old one's already does) (review J, K16).
fn point_to_racing_builds(incidents: &mut [IncidentReport]) {
    let deleted: Vec<(PathBuf, String)> = (incidents.iter())
        .filter_map(|i| Some((i, who(i.blocker.as_ref()?))))
        .flat_map(|(i, old)| {
            (i.locks.iter())
                .filter(|l| l.deleted)
                .map(move |l| (l.path.clone(), old.clone()))
        })
        .collect();
    for i in incidents.iter_mut() {
        let racing = (i.locks.iter())
            .filter(|l| !l.deleted)
            .find_map(|l| deleted.iter().find(|(p, _)| *p == l.path));
        if let Some((_, old)) = racing {
            i.verdict.push_str(&format!(
                " {old} still runs on this directory's old lock file (deleted): both write \
                 here at once."
            ));
        }
    }
}

/// The project of every build lock, each directory looked at once for a manifest (a hundred
/// locks of one tree made a thousand lookups).
fn project_dirs(
    incidents: &mut [IncidentReport],
    locks: &mut [LockReport],
    seen: &mut HashMap<PathBuf, bool>,
) {
    for l in locks.iter_mut() {
        l.project_dir = catalog::project_dir_seen(&l.path, l.kind, seen);
    }
    for l in incidents.iter_mut().flat_map(|i| i.locks.iter_mut()) {
        l.project_dir = catalog::project_dir_seen(&l.path, l.kind, seen);
    }
}

/// A cargo (1.87 to 1.95) whose `build.build-dir` is not its target dir takes two profile
/// locks: its target dir's ("artifact directory") and its build dir's, which cargo calls the
/// "build directory". The one outside its project's `target` that lies in a `configured`
/// build dir, or is held or awaited by a process that holds one in a project's `target`, is
/// that build directory: it is named so, as the waiting cargo prints it.
fn name_build_dirs(
    obs: &Observed,
    configured: &[PathBuf],
    incidents: &mut [IncidentReport],
    locks: &mut [LockReport],
) {
    // Profile locks in a project's `target` (a build dir elsewhere, even inside the project,
    // is not one).
    let in_project: HashSet<&Path> = (locks.iter())
        .filter(|l| l.kind == LockKind::ProfileDirectory)
        .filter(|l| (l.project_dir.as_ref()).is_some_and(|p| l.path.starts_with(p.join("target"))))
        .map(|l| l.path.as_path())
        .collect();
    let holds_one_in_project = |pid: u32| {
        (obs.sightings.iter()).any(|s| {
            in_project.contains(s.path.as_path()) && s.holders.iter().any(|h| h.pid == pid)
        })
    };
    // Its holders, or a cargo waiting for it while it holds its project's (a `cargo build`
    // behind a `cargo check`, which takes only the build dir's).
    let build_dirs: HashSet<PathBuf> = (obs.sightings.iter())
        .filter(|s| s.kind == LockKind::ProfileDirectory && !in_project.contains(s.path.as_path()))
        .filter(|s| {
            configured.iter().any(|d| s.path.starts_with(d))
                || (s.holders.iter().chain(&s.waiters)).any(|p| holds_one_in_project(p.pid))
        })
        .map(|s| s.path.clone())
        .collect();
    if build_dirs.is_empty() {
        return;
    }
    let words = LockKind::BuildDirectory.cargo_words();
    for l in locks.iter_mut().filter(|l| build_dirs.contains(&l.path)) {
        l.description = words.to_string();
    }
    for i in incidents.iter_mut() {
        for l in i.locks.iter_mut().filter(|l| build_dirs.contains(&l.path)) {
            l.description = words.to_string();
        }
        for b in i
            .blocked
            .iter_mut()
            .filter(|b| build_dirs.contains(&b.lock))
        {
            b.lock_description = words.to_string();
        }
    }
}

/// A lock's own one-liner. Holders that are themselves waiting are said to be waiting.
fn lock_verdict(state: LockState, holders: &[HolderReport], waiters: &[WaiterReport]) -> String {
    let waiting = waiting_clause(waiters.len());
    let names = |role: Role| -> Vec<String> {
        holders
            .iter()
            .filter(|h| h.role == role)
            .map(|h| format!("{} {}", h.name, h.pid))
            .collect()
    };
    let (blockers, blocked) = (names(Role::Blocker), names(Role::Blocked));
    match state {
        LockState::Free if !waiters.is_empty() => {
            let names: Vec<String> = (waiters.iter())
                .map(|w| format!("{} {}", w.name, w.pid))
                .collect();
            format!(
                "free; {} {} STOPPED (Ctrl-Z?) while waiting for it and take{} it once resumed",
                names.join(", "),
                if names.len() == 1 { "is" } else { "are" },
                if names.len() == 1 { "s" } else { "" }
            )
        }
        LockState::Free => "free".to_string(),
        LockState::Background if holders.is_empty() => {
            "shared by a process this user cannot inspect; nobody waits".to_string()
        }
        LockState::Background => format!(
            "shared by {} process{}; nobody waits (normal while compiling)",
            holders.len(),
            if holders.len() == 1 { "" } else { "es" }
        ),
        LockState::Stale => {
            let h = holders.iter().find(|h| h.stale).expect("a stale holder");
            let why: Vec<&str> = h.stale_reasons.iter().map(|r| r.describe()).collect();
            format!(
                "{} {} looks stale: {}; {waiting}",
                h.name,
                h.pid,
                why.join("; ")
            )
        }
        LockState::Held | LockState::Contended if holders.is_empty() => {
            format!("held by a process this user cannot inspect; {waiting}")
        }
        LockState::Held | LockState::Contended if blockers.is_empty() && !blocked.is_empty() => {
            format!(
                "held by {}, itself waiting for another lock; {waiting}",
                blocked.join(", ")
            )
        }
        LockState::Held | LockState::Contended => {
            let mut all = blockers;
            all.extend(names(Role::Background));
            format!("held by {}; {waiting}", all.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{Ancestor, ChildProcess, Participant};

    const NOW: f64 = 2000.0;
    const CACHE: FileKey = FileKey { dev: 1, ino: 42 };
    const MUTATE: FileKey = FileKey { dev: 1, ino: 43 };

    fn facts(pid: u32, state: ProcState, ppid: u32) -> ProcessFacts {
        ProcessFacts {
            pid,
            ppid,
            pgid: pid,
            uid: 1000,
            user: None,
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
            sigterm: Default::default(),
        }
    }

    /// `fg` is offered only for a terminal's job, whichever list the process is in (review
    /// 14, C8: one test for the process list and the suspended waiters).
    #[test]
    fn only_a_process_a_terminal_controls_is_in_its_terminal() {
        let tty = facts(10, ProcState::Stopped, 1);
        let mut no_tty = tty.clone();
        no_tty.has_tty = false;
        assert!(in_terminal(Some(&tty), Origin::Terminal));
        assert!(!in_terminal(Some(&no_tty), Origin::Terminal));
        assert!(!in_terminal(Some(&tty), Origin::Ide));
        assert!(!in_terminal(None, Origin::Terminal));
    }

    fn part(pid: u32, mode: LockMode) -> Participant {
        Participant {
            pid,
            mode,
            inherited: false,
        }
    }

    fn sighting(
        key: FileKey,
        holders: Vec<Participant>,
        waiters: Vec<Participant>,
    ) -> LockSighting {
        let (path, kind) = if key == MUTATE {
            (
                "/h/.cargo/.package-cache-mutate",
                LockKind::PackageCacheMutate,
            )
        } else {
            ("/h/.cargo/.package-cache", LockKind::PackageCache)
        };
        LockSighting {
            path: PathBuf::from(path),
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

    struct Case {
        sightings: Vec<LockSighting>,
        facts: HashMap<u32, ProcessFacts>,
        activity: HashMap<u32, Activity>,
    }

    impl Case {
        fn new(sightings: Vec<LockSighting>, facts: Vec<ProcessFacts>) -> Case {
            Case {
                sightings,
                facts: facts.into_iter().map(|f| (f.pid, f)).collect(),
                activity: HashMap::new(),
            }
        }

        fn report(&self, k: &Knowledge) -> Report {
            let graph = Graph::build(&self.sightings, &self.facts);
            let obs = Observed {
                sightings: &self.sightings,
                facts: &self.facts,
                activity: &self.activity,
                graph: &graph,
                free: &[],
                hidden: &[],
            };
            build(Source::Scan, NOW, vec![], &obs, k)
        }
    }

    /// Two builds: 10 holds the package cache, 11 waits; both hold mutate shared.
    fn two_builds(holder_state: ProcState) -> Case {
        Case::new(
            vec![
                sighting(
                    CACHE,
                    vec![part(10, LockMode::Exclusive)],
                    vec![part(11, LockMode::Exclusive)],
                ),
                sighting(
                    MUTATE,
                    vec![part(10, LockMode::Shared), part(11, LockMode::Shared)],
                    vec![],
                ),
            ],
            vec![
                facts(10, holder_state, 5),
                facts(11, ProcState::Sleeping, 5),
            ],
        )
    }

    #[test]
    fn a_waiter_s_words_for_the_mutation_lock_follow_the_mode_it_asked_for() {
        // cargo clean gc asks for `.package-cache-mutate` exclusively while a build holds it
        // shared: cargo prints "package cache mutation", and so does every view of the wait
        // (review W, W10); a build waiting shared behind gc prints "shared package cache".
        let nightly = "/home/u/.rustup/toolchains/nightly-x86_64-unknown-linux-gnu/bin/cargo";
        let mut gc = facts(12, ProcState::Sleeping, 5);
        gc.cmd = [nightly, "clean", "gc", "-Zgc"].map(String::from).to_vec();
        // The mutation lock with one holder and one waiter: build 10 and gc 12.
        let report = |holder, waiter| {
            let lock = sighting(MUTATE, vec![holder], vec![waiter]);
            let procs = vec![facts(10, ProcState::Sleeping, 5), gc.clone()];
            Case::new(vec![lock], procs).report(&Knowledge::default())
        };
        let r = report(part(10, LockMode::Shared), part(12, LockMode::Exclusive));
        let b = &r.incidents[0].blocked[0];
        assert_eq!(b.lock_description, "package cache mutation");
        assert_eq!(r.incidents[0].locks[0].description, "shared package cache");
        assert_eq!(
            crate::core::words::locks(&r.incidents[0]),
            "package cache mutation"
        );
        assert_eq!(
            crate::core::words::blocked(b, 0.0),
            "cargo +nightly clean gc in /src/app (terminal: bash, pid 12) waits for the package \
             cache mutation"
        );
        // The other way round: gc holds it, a build waits shared.
        let r = report(part(12, LockMode::Exclusive), part(10, LockMode::Shared));
        assert_eq!(
            r.incidents[0].blocked[0].lock_description,
            "shared package cache"
        );
        assert_eq!(
            r.incidents[0].locks[0].description,
            "package cache mutation"
        );
    }

    #[test]
    fn an_heir_not_yet_judged_stale_is_said_to_hold_an_exited_locker_s_descriptor() {
        let mut case = two_builds(ProcState::Sleeping);
        case.sightings[0].holders[0].inherited = true;
        case.sightings[0].locker_gone = true;
        // The daemon's policy has not called it stale yet (hysteresis).
        let k = Knowledge {
            stale: Some(HashMap::new()),
            ..Knowledge::default()
        };
        let r = case.report(&k);
        let i = &r.incidents[0];
        assert_ne!(i.state, IncidentState::Stale);
        assert!(
            i.verdict.starts_with(
                "cargo 10 holds it through a descriptor inherited from a process that has exited"
            ),
            "{}",
            i.verdict
        );
    }

    #[test]
    fn a_shared_build_dir_outside_the_project_is_named_the_build_directory_with_its_path() {
        // cargo 10 (build-dir ≠ target dir) holds its target dir's lock and the shared build
        // dir's; cargo 11, of another project, waits for the build dir's.
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        std::fs::create_dir_all(project.join("target/debug")).unwrap();
        std::fs::write(project.join("Cargo.toml"), "[package]\n").unwrap();
        let shared = dir.path().join("shared-bdir/debug");
        let lock = |path: PathBuf, ino: u64, waiters: Vec<Participant>| LockSighting {
            path,
            key: FileKey { dev: 1, ino },
            kind: LockKind::ProfileDirectory,
            deleted: false,
            holders: vec![part(10, LockMode::Exclusive)],
            waiters,
            dead_locker: None,
            locker_gone: false,
            unseen: None,
        };
        let case = Case::new(
            vec![
                lock(project.join("target/debug/.cargo-lock"), 21, vec![]),
                lock(
                    shared.join(".cargo-lock"),
                    22,
                    vec![part(11, LockMode::Exclusive)],
                ),
            ],
            vec![
                facts(10, ProcState::Sleeping, 5),
                facts(11, ProcState::Sleeping, 5),
            ],
        );
        let r = case.report(&Knowledge::default());
        let i = &r.incidents[0];
        assert_eq!(i.blocked[0].lock_description, "build directory");
        let words = |p: &Path| {
            r.locks
                .iter()
                .find(|l| l.path == p)
                .unwrap()
                .description
                .clone()
        };
        assert_eq!(words(&shared.join(".cargo-lock")), "build directory");
        assert_eq!(
            words(&project.join("target/debug/.cargo-lock")),
            "artifact directory"
        );
        assert_eq!(
            crate::core::words::locks(i),
            format!("build directory {}", shared.display())
        );
        // A `cargo check` (10) takes only the shared build dir's lock; the `cargo build` (11)
        // waiting for it holds its project's.
        let mut case = case;
        case.sightings[0].holders = vec![part(11, LockMode::Exclusive)];
        let r = case.report(&Knowledge::default());
        let i = &r.incidents[0];
        assert_eq!(i.blocked[0].lock_description, "build directory", "{i:#?}");
        // A build dir inside the project (`build-dir = "bd"`), beside its `target`.
        let inside = project.join("bd/debug/.cargo-lock");
        case.sightings[1].path = inside.clone();
        let r = case.report(&Knowledge::default());
        let l = r.locks.iter().find(|l| l.path == inside).unwrap();
        assert_eq!(l.description, "build directory", "{r:#?}");
    }

    /// A `cargo check` holding a project's `.cargo-lock`: the incident and the list of every
    /// lock name it in the same words, the check's "build directory" (review W, W8).
    #[test]
    fn a_lock_is_named_in_its_holder_s_words_everywhere() {
        let path = PathBuf::from("/p/target/debug/.cargo-lock");
        let sighting = LockSighting {
            path: path.clone(),
            key: FileKey { dev: 1, ino: 31 },
            kind: LockKind::ProfileDirectory,
            deleted: false,
            holders: vec![part(10, LockMode::Exclusive)],
            waiters: vec![part(11, LockMode::Exclusive)],
            dead_locker: None,
            locker_gone: false,
            unseen: None,
        };
        let mut check = facts(10, ProcState::Running, 5);
        check.cmd = vec!["cargo".into(), "check".into()];
        let case = Case::new(
            vec![sighting],
            vec![check, facts(11, ProcState::Sleeping, 5)],
        );
        let r = case.report(&Knowledge::default());
        assert_eq!(r.incidents[0].locks[0].description, "build directory");
        assert_eq!(r.locks[0].description, "build directory");
        // The waiting `cargo build` says its own words for it.
        assert_eq!(
            r.incidents[0].blocked[0].lock_description,
            "artifact directory"
        );
    }

    /// A waiter suspended with Ctrl-Z is said so in the verdict, which `kill`'s question at a
    /// terminal repeats: stopping the blocker for it frees a lock nobody takes (review U, U9).
    #[test]
    fn a_suspended_waiter_is_said_in_the_verdict() {
        let mut case = two_builds(ProcState::Sleeping);
        case.facts.insert(11, facts(11, ProcState::Stopped, 5));
        let i = &case.report(&Knowledge::default()).incidents[0];
        assert!(
            i.verdict.contains(
                "1 process waits, but it is suspended (Ctrl-Z): `cargo lockwatch resume 11` lets \
                 it go on"
            ),
            "{}",
            i.verdict
        );
    }

    /// Another user's holder at work, nobody seen waiting: their suspended waiter would not be
    /// seen from here, so only "none of yours" is said (review U, U4).
    #[test]
    fn another_user_s_busy_holder_is_not_said_to_have_nobody_waiting() {
        let mut case = two_builds(ProcState::Sleeping);
        case.sightings[0].waiters.clear();
        case.activity.insert(
            10,
            Activity {
                unseen: true,
                descendants: vec![ChildProcess {
                    pid: 12,
                    name: "sleep".into(),
                    cmd: vec!["sleep".into(), "60".into()],
                    stopped: false,
                }],
                ..Activity::default()
            },
        );
        let i = &case.report(&Knowledge::default()).incidents[0];
        assert_eq!(i.state, IncidentState::Holding);
        assert!(
            i.verdict
                .ends_with("; none of your processes waits for it."),
            "{}",
            i.verdict
        );
        case.activity.get_mut(&10).unwrap().unseen = false;
        let i = &case.report(&Knowledge::default()).incidents[0];
        assert!(i.verdict.ends_with("; nobody waits."), "{}", i.verdict);
    }

    #[test]
    fn another_user_s_blocker_is_not_said_to_have_no_network_connection() {
        let mut case = two_builds(ProcState::Sleeping);
        case.activity.insert(
            10,
            Activity {
                unseen: true,
                ..Activity::default()
            },
        );
        let r = case.report(&Knowledge::default());
        let i = &r.incidents[0];
        assert_eq!(i.doing, Doing::Unseen);
        assert_eq!(
            doing::describe(&i.doing),
            "no child; another user's process, whose connections cannot be seen"
        );
        assert!(
            i.verdict
                .starts_with("cargo 10 holds it; it belongs to another user")
                && !i.verdict.contains("stuck"),
            "{}",
            i.verdict
        );
    }

    #[test]
    fn busy_contended_lock_is_one_blocking_incident_and_mutate_is_background() {
        let r = two_builds(ProcState::Sleeping).report(&Knowledge::default());
        assert_eq!(r.incidents.len(), 1);
        let i = &r.incidents[0];
        assert_eq!(i.state, IncidentState::Blocking);
        assert_eq!(i.blocker.as_ref().unwrap().pid, 10);
        assert_eq!(i.blocked.len(), 1);
        assert_eq!(i.blocked[0].process.pid, 11);
        assert_eq!(i.blocked[0].waits_for, vec![10]);
        assert_eq!(i.chain, vec![11, 10]);
        assert_eq!(i.action, None);
        assert!(
            i.verdict
                .starts_with("cargo 10 holds it and shows no child or network activity right now"),
            "{}",
            i.verdict
        );
        // One look may fall between a registry's tries (review N, P3).
        assert!(
            i.verdict.contains("pauses between a registry's tries"),
            "{}",
            i.verdict
        );
        assert!(!r.any_stale());
        let mutate = r
            .locks
            .iter()
            .find(|l| l.kind == LockKind::PackageCacheMutate)
            .unwrap();
        assert_eq!(mutate.state, LockState::Background);
        let waiter_as_holder = mutate.holders.iter().find(|h| h.pid == 11).unwrap();
        assert_eq!(waiter_as_holder.role, Role::Blocked);
        assert!(!waiter_as_holder.stale);
        let cache = r
            .locks
            .iter()
            .find(|l| l.kind == LockKind::PackageCache)
            .unwrap();
        assert_eq!(cache.state, LockState::Contended);
        assert_eq!(cache.verdict, "held by cargo 10; 1 process waits");
    }

    #[test]
    fn a_one_off_scan_gives_a_process_younger_than_the_grace_its_ctrl_z() {
        let mut case = two_builds(ProcState::Stopped);
        let young = case.facts.get_mut(&10).unwrap();
        young.started_at = NOW - 3.0;
        let k = Knowledge {
            stopped_grace: 10.0,
            ..Knowledge::default()
        };
        let r = case.report(&k);
        let i = &r.incidents[0];
        assert_eq!(i.state, IncidentState::Blocking, "stopped 3s at most");
        assert!(i.stale_reasons.is_empty());
        assert_eq!(i.doing, Doing::Stopped);
        assert_eq!(crate::core::words::badge(i), "STOPPED");
        assert!(!r.any_stale());
        // Older than the grace: it may have been stopped that long, as a scan cannot tell.
        let r = two_builds(ProcState::Stopped).report(&k);
        assert_eq!(r.incidents[0].stale_reasons, vec![StaleReason::Stopped]);
        assert_eq!(crate::core::words::badge(&r.incidents[0]), "STALE");
    }

    #[test]
    fn stopped_blocker_is_stale_with_resume_as_the_action() {
        let r = two_builds(ProcState::Stopped).report(&Knowledge::default());
        let i = &r.incidents[0];
        assert_eq!(i.state, IncidentState::Stale);
        assert_eq!(i.stale_reasons, vec![StaleReason::Stopped]);
        assert_eq!(i.doing, Doing::Stopped);
        let a = i.action.as_ref().unwrap();
        assert_eq!(
            (a.pid, a.resume, a.command.as_str()),
            (10, true, "cargo lockwatch resume 10")
        );
        assert!(
            i.verdict.contains("Resume it (`fg` in its terminal)"),
            "{}",
            i.verdict
        );
        assert!(r.any_stale());
        // With no terminal to type `fg` in, the command that resumes it.
        let mut c = two_builds(ProcState::Stopped);
        let blocker = c.facts.get_mut(&10).unwrap();
        blocker.has_tty = false;
        blocker.ancestors[0].name = "python3".into();
        let r = c.report(&Knowledge::default());
        let v = &r.incidents[0].verdict;
        assert!(
            v.contains("Resume it (`cargo lockwatch resume 10`)") && !v.contains("fg"),
            "{v}"
        );
        // Started from a shell but with `setsid`: no terminal controls it, `fg` reaches it
        // not (review W, W4).
        let mut c = two_builds(ProcState::Stopped);
        c.facts.get_mut(&10).unwrap().has_tty = false;
        let r = c.report(&Knowledge::default());
        assert_eq!(
            r.incidents[0].blocker.as_ref().unwrap().origin,
            Origin::Terminal
        );
        let v = &r.incidents[0].verdict;
        assert!(!v.contains("fg"), "{v}");
        let cache = r
            .locks
            .iter()
            .find(|l| l.kind == LockKind::PackageCache)
            .unwrap();
        assert_eq!(cache.state, LockState::Stale);
        assert_eq!(
            cache.stop_command.as_deref(),
            Some("cargo lockwatch resume 10")
        );
    }

    #[test]
    fn a_stopped_or_orphaned_waiter_is_never_stale() {
        let mut c = two_builds(ProcState::Running);
        c.facts.insert(11, facts(11, ProcState::Stopped, 1));
        let r = c.report(&Knowledge::default());
        assert!(!r.any_stale(), "{:#?}", r.incidents);
        for l in &r.locks {
            for h in &l.holders {
                if h.pid == 11 {
                    assert!(!h.stale && h.role == Role::Blocked);
                }
            }
        }
    }

    #[test]
    fn a_lone_shared_holder_that_is_stopped_is_background_not_stale() {
        let c = Case::new(
            vec![sighting(MUTATE, vec![part(10, LockMode::Shared)], vec![])],
            vec![facts(10, ProcState::Stopped, 5)],
        );
        let r = c.report(&Knowledge::default());
        assert!(r.incidents.is_empty());
        assert_eq!(r.locks[0].state, LockState::Background);
        assert!(!r.locks[0].holders[0].stale);
    }

    #[test]
    fn a_resumed_blocker_is_not_called_stopped_while_the_policy_catches_up() {
        let k = Knowledge {
            stale: Some(HashMap::from([(10, vec![StaleReason::Stopped])])),
            ..Knowledge::default()
        };
        let r = two_builds(ProcState::Running).report(&k);
        let i = &r.incidents[0];
        assert_eq!(i.state, IncidentState::Blocking, "{}", i.verdict);
        assert!(i.stale_reasons.is_empty());
        assert_eq!(i.action, None);
    }

    #[test]
    fn a_stopped_blocker_gets_resume_before_the_policy_calls_it_stale() {
        let k = Knowledge {
            stale: Some(HashMap::new()),
            ..Knowledge::default()
        };
        let r = two_builds(ProcState::Stopped).report(&k);
        let i = &r.incidents[0];
        assert_eq!(i.state, IncidentState::Blocking);
        assert_eq!(
            i.action.as_ref().unwrap().command,
            "cargo lockwatch resume 10"
        );
        assert!(
            i.verdict.starts_with("cargo 10 is stopped"),
            "{}",
            i.verdict
        );
        assert!(!i.verdict.contains("Waiting is usually right"));
    }

    /// `two_builds` with its blocker talking to one silent peer, nothing received for `idle`.
    fn on_the_network(idle: f64) -> Case {
        use crate::core::model::Peer;
        let mut c = two_builds(ProcState::Sleeping);
        c.activity.insert(
            10,
            Activity {
                peers: vec![Peer {
                    remote: "127.0.0.1:1".into(),
                    idle_for_secs: Some(idle),
                    socket: Some(7),
                    received_bytes: Some(0),
                }],
                ..Activity::default()
            },
        );
        c
    }

    #[test]
    fn a_scan_calls_a_long_network_silence_stale() {
        let c = on_the_network(150.0);
        let k = Knowledge {
            network_silence: Some(120.0),
            ..Knowledge::default()
        };
        let i = c.report(&k).incidents.remove(0);
        assert_eq!(i.stale_reasons, vec![StaleReason::NetworkSilent]);
        assert_eq!(i.action.unwrap().command, "cargo lockwatch kill 10");
        assert!(
            i.verdict.starts_with(
                "cargo 10 looks stale: it waits on the network (127.0.0.1:1: nothing received \
                 for 2m30s)"
            ),
            "{}",
            i.verdict
        );
        assert!(
            i.verdict
                .contains("Cargo gives up by itself after its retries"),
            "{}",
            i.verdict
        );
        let quiet = Knowledge {
            network_silence: Some(300.0),
            ..Knowledge::default()
        };
        assert!(c.report(&quiet).incidents[0].stale_reasons.is_empty());
    }

    /// The daemon's wait on 127.0.0.1:1, followed across `connections` connections.
    /// Makes `k`'s silent peer of pid 10 (127.0.0.1:1) the server of a git dependency of its
    /// workspace, `http://127.0.0.1:1/x.git`: its network wait is a git fetch.
    fn with_git_server(k: &mut Knowledge) {
        k.git_sources.insert(
            10,
            vec![GitSource {
                url: "http://127.0.0.1:1/x.git".into(),
                addrs: vec!["127.0.0.1:1".parse().unwrap()],
            }],
        );
    }

    fn followed_wait(silent: f64, connections: u32, open: bool) -> Knowledge {
        let s = NetSilence {
            silent_for_secs: silent,
            nothing_received: true,
            since_hold_began: true,
            first_try_secs: silent,
            connections,
            open,
            bytes_per_sec: None,
        };
        Knowledge {
            stale: Some(HashMap::new()),
            net_waits: HashMap::from([(10, ("127.0.0.1:1".to_string(), s))]),
            net_settings: HashMap::from([(10, NetSettings::default())]),
            ..Knowledge::default()
        }
    }

    /// Suspended with Ctrl-Z after its registry went silent: resuming it goes back to that
    /// wait, and the verdict says so (review X, X14).
    #[test]
    fn a_holder_stopped_in_a_silent_network_wait_says_what_resuming_it_does() {
        let r = two_builds(ProcState::Stopped).report(&followed_wait(45.0, 2, false));
        let i = &r.incidents[0];
        assert_eq!(i.doing, Doing::Stopped);
        assert!(
            i.verdict.contains(
                "Before it was stopped it was getting nothing from 127.0.0.1:1 (its first try \
                 was 45s ago): resumed, it goes back to that wait; stopped, it lets the waiting \
                 builds go now."
            ),
            "{}",
            i.verdict
        );
        // A whole try had gone unanswered: resuming it puts it back into that wait, so the
        // action is to stop it, said first, with the network advice (review X, X14).
        let a = i.action.as_ref().expect("an action");
        assert_eq!(
            (a.resume, a.command.as_str()),
            (false, "cargo lockwatch kill 10")
        );
        assert!(
            i.verdict.contains(
                "Stop it (`cargo lockwatch kill 10`), or resume it (`fg` in its terminal)."
            ),
            "{}",
            i.verdict
        );
        let advice = i.advice.as_ref().expect("the network advice");
        assert_eq!(advice.topic, super::super::insight::Topic::Network);
        // Its wait was a git fetch's: the git advice (review 15, D11).
        let mut k = followed_wait(45.0, 2, false);
        with_git_server(&mut k);
        let r = two_builds(ProcState::Stopped).report(&k);
        let text = &r.incidents[0].advice.as_ref().expect("advice").text;
        assert!(text.contains("sets no timeout for git fetches"), "{text}");
        // Stopped early in its first try: resuming is still the action.
        let r = two_builds(ProcState::Stopped).report(&followed_wait(12.0, 1, true));
        let i = &r.incidents[0];
        assert!(i.action.as_ref().is_some_and(|a| a.resume), "{i:#?}");
        assert_eq!(i.advice, None);
        // A stopped holder with no network wait is not told so.
        let r = two_builds(ProcState::Stopped).report(&Knowledge::default());
        assert!(!r.incidents[0].verdict.contains("getting nothing"));
    }

    /// A silent peer that is the server of a git dependency of the blocker's workspace: a git
    /// fetch, which without `http.timeout` never gives up (review X, X7).
    #[test]
    fn a_silent_git_server_is_a_fetch_that_may_wait_for_ever() {
        let mut k = followed_wait(69.0, 1, true);
        with_git_server(&mut k);
        let r = two_builds(ProcState::Sleeping).report(&k);
        let i = &r.incidents[0];
        assert_eq!(
            crate::core::doing::describe(&i.doing),
            "fetching git repository http://127.0.0.1:1/x.git (127.0.0.1:1: nothing received \
             since the hold began 1m09s ago)"
        );
        assert_eq!(
            i.verdict,
            "cargo 10 is busy: fetching git repository http://127.0.0.1:1/x.git; 1 process \
             waits. Nothing has arrived yet, and Cargo sets no timeout for a git fetch unless \
             `http.timeout` is set, so it may wait for ever. A waiting build that needs this \
             repository would wait on it too, and one that needs nothing from it goes on once \
             this one lets go: `cargo lockwatch kill 10` ends the wait now."
        );
        let advice = &i.advice.as_ref().expect("the advice").text;
        assert!(advice.contains("[http]\n  timeout = 10"), "{advice}");
        // Young, it is called stale after the `stale_after` in force (review Z, Z9).
        let mut young = followed_wait(12.0, 1, true);
        young.git_sources = k.git_sources.clone();
        young.stale_after = Some(30.0);
        let v = two_builds(ProcState::Sleeping).report(&young).incidents[0]
            .verdict
            .clone();
        assert!(
            v.ends_with("If nothing arrives for 30s (`stale.stale_after`), it is called stale."),
            "{v}"
        );
        // Stale: a git server, not a registry, and no "gives up by itself".
        k.stale = Some(HashMap::from([(10, vec![StaleReason::NetworkSilent])]));
        let v = two_builds(ProcState::Sleeping).report(&k).incidents[0]
            .verdict
            .clone();
        assert!(
            v.starts_with(
                "cargo 10 looks stale: it fetches git repository http://127.0.0.1:1/x.git \
                 (127.0.0.1:1: nothing received since the hold began 1m09s ago), a git server \
                 that does not answer; 1 process waits. Cargo sets no timeout"
            ),
            "{v}"
        );
        // A registry's idle keep-alive listed first does not hide the git fetch (review 15,
        // D6): the git server's connection is the wait's peer.
        let peer = |remote: &str, idle: f64| Peer {
            remote: remote.into(),
            idle_for_secs: Some(idle),
            socket: None,
            received_bytes: Some(0),
        };
        let mut c = two_builds(ProcState::Sleeping);
        c.activity.insert(
            10,
            Activity {
                peers: vec![peer("18.160.0.1:443", 100.0), peer("127.0.0.1:1", 69.0)],
                ..Activity::default()
            },
        );
        let i = &c.report(&k).incidents[0];
        let Doing::Network {
            peer: seen, git, ..
        } = &i.doing
        else {
            panic!("{i:#?}");
        };
        assert_eq!(seen, "127.0.0.1:1");
        assert_eq!(
            git.as_ref().map(|g| g.url.as_str()),
            Some("http://127.0.0.1:1/x.git")
        );
        // A fetch by git with git's low-speed limit in its environment gives up after its
        // tries, said with git's setting (review Z, Z3).
        let mut c = two_builds(ProcState::Sleeping);
        c.activity.insert(
            10,
            Activity {
                descendants: vec![crate::core::model::ChildProcess {
                    pid: 12,
                    name: "git".into(),
                    cmd: [
                        "git",
                        "fetch",
                        "--force",
                        "http://127.0.0.1:1/x.git",
                        "+HEAD:x",
                    ]
                    .map(String::from)
                    .to_vec(),
                    stopped: false,
                }],
                peers: vec![peer("127.0.0.1:1", 69.0)],
                ..Activity::default()
            },
        );
        let mut low_speed = k.clone();
        low_speed.net_settings.insert(
            10,
            NetSettings {
                git_low_speed_secs: Some(20.0),
                ..NetSettings::default()
            },
        );
        let v = c.report(&low_speed).incidents[0].verdict.clone();
        assert!(
            v.contains("git's http.lowSpeedTime 20 s, net.retry 3"),
            "{v}"
        );
        assert!(!v.contains("wait for ever"), "{v}");
        // Another cargo let go after a long silence: a git fetch that never gives up is not
        // told it "will likely do the same" (review Z, Z1).
        let mut with_gave_up = k.clone();
        with_gave_up.gave_up = vec![crate::core::netwait::GaveUp {
            peer: "127.0.0.1:1".into(),
            who: "cargo 31097".into(),
            pid: 31097,
            at: NOW - 100.0,
            silent_secs: 130.0,
            home: None,
        }];
        let v = two_builds(ProcState::Sleeping)
            .report(&with_gave_up)
            .incidents[0]
            .verdict
            .clone();
        assert!(!v.contains("gave up"), "{v}");
        // With `http.timeout` set, Cargo's transport gives up like a registry's.
        k.net_settings.insert(
            10,
            NetSettings {
                timeout_set: true,
                ..NetSettings::default()
            },
        );
        let v = two_builds(ProcState::Sleeping).report(&k).incidents[0]
            .verdict
            .clone();
        assert!(
            v.contains("Cargo gives up by itself after its retries"),
            "{v}"
        );
        assert!(!v.contains("wait for ever"), "{v}");
    }

    /// A cargo that ran with its own settings is told them, not "its defaults", and what ends
    /// it sooner: a git fetch `http.timeout` ends as a registry's wait, nothing when its
    /// settings end it soon already (review AB, AB1).
    #[test]
    fn the_network_advice_says_the_settings_the_cargo_ran_with() {
        let stale = |settings: NetSettings, git: bool| {
            let mut k = followed_wait(35.0, 1, true);
            k.stale = Some(HashMap::from([(10, vec![StaleReason::NetworkSilent])]));
            k.net_settings.insert(10, settings);
            if git {
                with_git_server(&mut k);
            }
            two_builds(ProcState::Sleeping)
                .report(&k)
                .incidents
                .remove(0)
        };
        let own = |timeout_secs: f64, retry: u32| NetSettings {
            timeout_secs,
            retry,
            timeout_set: true,
            ..NetSettings::default()
        };
        // The review's `CARGO_HTTP_TIMEOUT=90 CARGO_NET_RETRY=0` git fetch.
        let i = stale(own(90.0, 0), true);
        assert!(
            i.verdict.contains(
                "it fetches git repository http://127.0.0.1:1/x.git (127.0.0.1:1: nothing \
                 received since the hold began 35s ago), a git server that does not answer; 1 \
                 process waits. Cargo gives up by itself after its retries — with its settings \
                 (http.timeout 90 s, net.retry 0), in about 55s."
            ),
            "{}",
            i.verdict
        );
        assert_eq!(
            i.advice.expect("advice").text,
            "Make Cargo give up sooner on a git server that sends nothing instead of holding the \
             package cache: it ran with http.timeout 90 s and net.retry 0, which keep a request \
             nobody answers going for about 1m30s; with http.timeout 10 s, about 10s. In \
             /h/.cargo/config.toml:\n\
             \x20 [http]\n\x20 timeout = 10\n\
             or for one run: CARGO_HTTP_TIMEOUT=10 cargo … (a `CARGO_HTTP_TIMEOUT` in its \
             environment wins over the config)"
        );
        // A registry with `CARGO_HTTP_TIMEOUT=45`: its settings, both lowered.
        let text = stale(own(45.0, 3), false).advice.expect("advice").text;
        assert!(
            text.starts_with(
                "Make Cargo give up sooner instead of holding the package cache: it ran with \
                 http.timeout 45 s and net.retry 3, which keep a request nobody answers going \
                 for about 3m12s; with http.timeout 10 s and net.retry 1, about 21s."
            ),
            "{text}"
        );
        // Cargo's defaults are its defaults.
        let text = stale(NetSettings::default(), false)
            .advice
            .expect("advice")
            .text;
        assert!(
            text.contains("its defaults (http.timeout 30 s per try, net.retry 3) keep"),
            "{text}"
        );
        // Settings that end it in 10 s: nothing to set lower, no advice.
        assert_eq!(stale(own(10.0, 0), false).advice, None);
        assert_eq!(stale(own(5.0, 1), true).advice, None);
        // Without `http.timeout` a git fetch gets the git advice, whatever its retries.
        let text = stale(
            NetSettings {
                retry: 0,
                ..NetSettings::default()
            },
            true,
        )
        .advice
        .expect("advice")
        .text;
        assert!(
            text.contains("without `http.timeout` it sets no timeout for git fetches"),
            "{text}"
        );
    }

    /// Data trickling at 4 B/s for a minute: not "waiting is usually right", and the pace is
    /// said (review AA, AA6).
    #[test]
    fn a_trickle_is_said_with_its_pace() {
        let mut k = followed_wait(0.5, 1, true);
        if let Some((_, s)) = k.net_waits.get_mut(&10) {
            s.nothing_received = false;
            s.first_try_secs = 60.0;
            s.bytes_per_sec = Some(4.0);
        }
        let i = &two_builds(ProcState::Sleeping).report(&k).incidents[0];
        assert_eq!(
            crate::core::doing::describe(&i.doing),
            "downloading from 127.0.0.1:1 (data arriving at 4 B/s)"
        );
        assert!(
            i.verdict
                .contains("Data comes at only 4 B/s: at that pace it may take hours.")
                && i.verdict.contains("`cargo lockwatch kill 10`"),
            "{}",
            i.verdict
        );
        // A download at speed is one.
        if let Some((_, s)) = k.net_waits.get_mut(&10) {
            s.bytes_per_sec = Some(2.0e6);
        }
        let v = two_builds(ProcState::Sleeping).report(&k).incidents[0]
            .verdict
            .clone();
        assert!(v.ends_with("Waiting is usually right."), "{v}");
    }

    #[test]
    fn a_pause_between_cargo_s_tries_is_still_a_wait_on_the_network() {
        // No connection open this instant (Cargo sleeps before a retry), but the daemon has
        // followed the wait: not "no child, no network connection", not "may be stuck".
        let r = two_builds(ProcState::Sleeping).report(&followed_wait(69.0, 3, false));
        let i = &r.incidents[0];
        assert_eq!(
            crate::core::doing::describe(&i.doing),
            "waiting on the network (127.0.0.1:1: nothing received since the hold began \
             1m09s ago, 3 connections, none open now: pausing before a retry)"
        );
        // The verdict names the wait; the doing line above it has the details (review H, I8).
        // Nothing has come back: when Cargo stops trying by itself, before it is stale (review
        // J, K3).
        // Three tries unanswered: the waiter will ask the same registry next, so waiting is
        // not "usually right" any more, and the advice comes before the stale verdict (review
        // M, N8).
        assert_eq!(
            i.verdict,
            "cargo 10 is busy: waiting on the network (127.0.0.1:1); 1 process waits. Nothing \
             has arrived yet: Cargo gives up by itself after its retries — with Cargo's \
             defaults (http.timeout 30 s, net.retry 3), in about 1m03s. Its registry has not \
             answered a whole try: a waiting build that needs it would meet the same silence \
             (check the network: a proxy, a VPN, the mirror; or make Cargo give up sooner, see \
             the advice), and one that needs nothing from it goes on once this one lets go: \
             `cargo lockwatch kill 10` ends the wait now."
        );
        assert_eq!(i.action.as_ref(), None, "not stale: `kill` would ask");
        let advice = i.advice.as_ref().expect("the advice");
        assert_eq!(advice.topic, super::super::insight::Topic::Network);
        // Within its first try, waiting is right and there is no advice yet.
        let r = two_builds(ProcState::Sleeping).report(&followed_wait(12.0, 1, true));
        let i = &r.incidents[0];
        assert!(
            i.verdict.ends_with("Waiting is usually right."),
            "{}",
            i.verdict
        );
        assert_eq!(i.advice.as_ref(), None);
        // Another cargo let go after a long silence from this registry lately: this one will
        // likely do the same (review M, N8); its own earlier give-up is not news.
        let mut k = followed_wait(12.0, 1, true);
        k.gave_up = vec![crate::core::netwait::GaveUp {
            peer: "127.0.0.1:1".into(),
            who: "cargo 31097".into(),
            pid: 31097,
            at: NOW - 100.0,
            silent_secs: 130.0,
            home: None,
        }];
        let r = two_builds(ProcState::Sleeping).report(&k);
        let v = &r.incidents[0].verdict;
        assert!(
            v.ends_with(
                "cargo 31097 let go of its lock 1m40s ago after 2m10s with nothing from \
                 127.0.0.1:1 (it most likely gave up): this one will likely do the same; check \
                 the network, or the registry."
            ),
            "{v}"
        );
        // One that held another home's cache on that registry says so; one on this incident's
        // home is preferred (review O, Q4).
        let home = incident_home(&r.incidents[0]);
        k.gave_up[0].home = Some("/other".into());
        let r = two_builds(ProcState::Sleeping).report(&k);
        assert!(
            r.incidents[0]
                .verdict
                .contains("cargo 31097 let go of /other's package cache"),
            "{}",
            r.incidents[0].verdict
        );
        let mut same = k.gave_up[0].clone();
        (same.who, same.pid, same.home) = ("cargo 31000".into(), 31000, home);
        k.gave_up.insert(0, same);
        let r = two_builds(ProcState::Sleeping).report(&k);
        assert!(
            r.incidents[0].verdict.contains("cargo 31000 let go"),
            "{}",
            r.incidents[0].verdict
        );
        k.gave_up.truncate(1);
        k.gave_up[0].pid = 10;
        let r = two_builds(ProcState::Sleeping).report(&k);
        assert!(!r.incidents[0].verdict.contains("let go of its lock"));
        // With the settings it runs with, when they are not the defaults (review M, N13);
        // unknown, the defaults are said as such.
        let mut k = followed_wait(10.0, 1, true);
        k.net_settings.insert(
            10,
            NetSettings {
                timeout_secs: 15.0,
                retry: 0,
                timeout_set: true,
                ..NetSettings::default()
            },
        );
        let r = two_builds(ProcState::Sleeping).report(&k);
        assert!(
            r.incidents[0]
                .verdict
                .contains("with its settings (http.timeout 15 s, net.retry 0), in about 5s."),
            "{}",
            r.incidents[0].verdict
        );
        k.net_settings.clear();
        let r = two_builds(ProcState::Sleeping).report(&k);
        assert!(
            r.incidents[0]
                .verdict
                .contains("net.retry 3), unless its config or environment says otherwise, in"),
            "{}",
            r.incidents[0].verdict
        );
    }

    #[test]
    fn the_daemon_s_network_verdict_names_the_peer_the_time_left_and_the_advice() {
        let mut k = followed_wait(125.0, 4, true);
        k.stale = Some(HashMap::from([(
            10,
            vec![StaleReason::Idle, StaleReason::NetworkSilent],
        )]));
        let r = on_the_network(20.0).report(&k);
        let i = &r.incidents[0];
        assert_eq!(i.state, IncidentState::Stale);
        assert_eq!(
            i.verdict,
            "cargo 10 looks stale: it waits on the network (127.0.0.1:1: nothing received since \
             the hold began 2m05s ago, 4 connections), a registry that does not answer; 1 \
             process waits. Cargo gives up by itself after its retries — with Cargo's defaults \
             (http.timeout 30 s, net.retry 3), in about 7s. To free the lock now, stop it."
        );
        assert!(!i.verdict.contains("idle"), "idleness is why, not news");
        assert_eq!(
            i.action.as_ref().unwrap().command,
            "cargo lockwatch kill 10"
        );
        let advice = i.advice.as_ref().expect("advice in status");
        assert_eq!(advice.topic, crate::core::insight::Topic::Network);
        // The Cargo home whose package cache is held, not ~/.cargo; values that change something.
        assert!(
            advice.text.contains("In /h/.cargo/config.toml:"),
            "{}",
            advice.text
        );
        assert!(
            advice
                .text
                .contains("CARGO_HTTP_TIMEOUT=10 CARGO_NET_RETRY=1"),
            "{}",
            advice.text
        );
        // Past the defaults' budget: its settings wait longer; said, not guessed.
        let mut late = k.clone();
        late.net_waits.get_mut(&10).unwrap().1.first_try_secs = 400.0;
        let v = on_the_network(20.0)
            .report(&late)
            .incidents
            .remove(0)
            .verdict;
        assert!(
            v.contains("it would have by now (6m40s since its first try)"),
            "{v}"
        );
    }

    #[test]
    fn a_build_on_a_directory_whose_old_lock_another_build_holds_says_they_race() {
        use crate::ui::demo::{Stage, snapshot};
        let mut new = snapshot(Stage::Contended, 1000.0)
            .report
            .incidents
            .remove(0);
        let mut old = new.clone();
        old.blocker.as_mut().unwrap().pid = 4242;
        old.locks[0].deleted = true;
        let mut incidents = vec![old, new.clone()];
        point_to_racing_builds(&mut incidents);
        assert!(
            incidents[1].verdict.ends_with(
                "cargo 4242 still runs on this directory's old lock file (deleted): both write \
                 here at once."
            ),
            "{}",
            incidents[1].verdict
        );
        assert!(
            !incidents[0].verdict.contains("still runs"),
            "the old one says it already"
        );
        // Alone, nothing is said.
        let before = new.verdict.clone();
        point_to_racing_builds(std::slice::from_mut(&mut new));
        assert_eq!(new.verdict, before);
    }

    #[test]
    fn a_culprit_holding_the_pipe_is_the_action_target() {
        let mut c = two_builds(ProcState::Sleeping);
        let mut sleep = facts(77, ProcState::Sleeping, 1);
        sleep.name = "sleep".into();
        c.activity.insert(
            10,
            Activity {
                pipe_writers: vec![sleep],
                ..Activity::default()
            },
        );
        let r = c.report(&Knowledge::default());
        let i = &r.incidents[0];
        assert_eq!(i.state, IncidentState::Stale);
        assert_eq!(i.stale_reasons, vec![StaleReason::PipeHeldOpen]);
        assert_eq!(i.culprit.as_ref().unwrap().pid, 77);
        assert_eq!(
            i.action.as_ref().unwrap().command,
            "cargo lockwatch kill 77"
        );
        assert!(
            i.verdict.contains("Stop sleep 77, not cargo"),
            "{}",
            i.verdict
        );
        // Before the daemon's samples say stale, the verdict gives the command itself.
        let k = Knowledge {
            stale: Some(HashMap::new()),
            ..Knowledge::default()
        };
        let i = c.report(&k).incidents.remove(0);
        assert_ne!(i.state, IncidentState::Stale);
        assert!(i.action.is_none());
        assert!(
            i.verdict.contains(
                "If it does not exit soon, stop sleep 77, not cargo: `cargo lockwatch kill 77`."
            ),
            "{}",
            i.verdict
        );
    }

    /// The blocker (10) of `c` runs one child, pid 30.
    fn with_child(c: &mut Case, name: &str, cmd: &[&str]) {
        c.activity.insert(
            10,
            Activity {
                descendants: vec![ChildProcess {
                    pid: 30,
                    name: name.into(),
                    cmd: cmd.iter().map(|w| w.to_string()).collect(),
                    stopped: false,
                }],
                ..Activity::default()
            },
        );
    }

    #[test]
    fn compiling_blocker_says_what_it_compiles() {
        let mut c = two_builds(ProcState::Sleeping);
        with_child(&mut c, "rustc", &["rustc", "--crate-name", "serde"]);
        let r = c.report(&Knowledge::default());
        assert_eq!(
            r.incidents[0].verdict,
            "cargo 10 is busy: compiling serde; 1 process waits. Waiting is usually right."
        );
    }

    #[test]
    fn a_wrapper_whose_tree_used_almost_no_cpu_is_called_idle_not_busy() {
        // `flock` around a `sleep`, up 1,000 s, 3.5 s of CPU: a one-off scan cannot judge it
        // stale, but "busy … Waiting is usually right" would mislead.
        let mut c = two_builds(ProcState::Sleeping);
        with_child(&mut c, "sleep", &["sleep", "600"]);
        let r = c.report(&Knowledge::default());
        let v = &r.incidents[0].verdict;
        assert!(
            v.starts_with("cargo 10 is running sleep 30, but its processes have used 3.5s of CPU")
                && v.contains("idle rather than busy")
                && v.contains("or stop it: `cargo lockwatch kill 10 --yes`.")
                && !v.contains("Waiting is usually right"),
            "{v}"
        );
        // A tree that works is busy.
        c.facts.get_mut(&10).unwrap().tree_cpu_secs = 400.0;
        let r = c.report(&Knowledge::default());
        assert!(
            r.incidents[0].verdict.contains("is busy: running sleep 30"),
            "{}",
            r.incidents[0].verdict
        );
    }

    #[test]
    fn daemon_knowledge_overrides_instant_reasons_and_gives_times() {
        let mut k = Knowledge::default();
        k.hold_since.insert((CACHE, 10), 1900.0);
        k.wait_since.insert((CACHE, 11), 1950.0);
        k.stale = Some(HashMap::new());
        let r = two_builds(ProcState::Stopped).report(&k);
        let i = &r.incidents[0];
        assert_eq!(
            i.state,
            IncidentState::Blocking,
            "the policy has not called it stale yet"
        );
        assert_eq!(i.held_for_secs(), Some(100.0));
        assert_eq!(i.blocked[0].waiting_for_secs, Some(50.0));
    }

    /// 10 holds the package cache and 11, 12, 13 wait for it; all four hold mutate shared, and
    /// `flock` 20 waits for mutate exclusively (`cargo clean gc`). 10 held mutate shared for
    /// 81 s (it waited for the cache meanwhile), the cache for 3.4 s.
    fn three_waiters_and_a_gc() -> (Case, Knowledge) {
        let shared = |pid| part(pid, LockMode::Shared);
        let mut gc = facts(20, ProcState::Sleeping, 5);
        gc.name = "flock".into();
        let c = Case::new(
            vec![
                sighting(
                    CACHE,
                    vec![part(10, LockMode::Exclusive)],
                    (11..=13).map(|p| part(p, LockMode::Exclusive)).collect(),
                ),
                sighting(
                    MUTATE,
                    (10..=13).map(shared).collect(),
                    vec![part(20, LockMode::Exclusive)],
                ),
            ],
            (10..=13)
                .map(|p| facts(p, ProcState::Sleeping, 5))
                .chain([gc])
                .collect(),
        );
        let mut k = Knowledge::default();
        k.hold_since.insert((MUTATE, 10), NOW - 81.0);
        k.hold_since.insert((CACHE, 10), NOW - 3.4);
        for p in 11..=13 {
            k.wait_since.insert((CACHE, p), NOW - 40.0 + f64::from(p));
        }
        k.wait_since.insert((MUTATE, 20), NOW - 2.0);
        k.stale = Some(HashMap::new());
        (c, k)
    }

    #[test]
    fn an_incident_is_held_as_long_as_the_lock_it_is_about_not_a_background_shared_one() {
        let (c, k) = three_waiters_and_a_gc();
        let r = c.report(&k);
        let i = &r.incidents[0];
        assert_eq!(i.blocked.len(), 4, "{i:#?}");
        assert!((i.held_for_secs().unwrap() - 3.4).abs() < 1e-9, "{i:#?}");
        assert!(i.held_since_known());
        assert!((i.build_hold().unwrap().0 - 3.4).abs() < 1e-9);
        assert_eq!(
            i.locks[0].path,
            PathBuf::from("/h/.cargo/.package-cache"),
            "three of the four wait for it: it names the incident"
        );
        // The gc asked for the mutation lock exclusively: cargo printed "package cache
        // mutation" (review W, W10).
        assert_eq!(
            crate::core::words::locks(i),
            "package cache and package cache mutation"
        );
        assert_eq!(
            crate::core::words::headline(i, Some(0.0)),
            "cargo build 10 blocks 4 processes (longest wait 29s) · package cache and package cache mutation"
        );
        assert_eq!(crate::core::words::held(i, 0.0).unwrap(), "held 3s");

        // One waiter each: the lock held exclusively names it.
        let (mut c, k) = three_waiters_and_a_gc();
        c.sightings[0].waiters.truncate(1);
        c.sightings[1].holders.truncate(2);
        c.facts.retain(|p, _| ![12, 13].contains(p));
        let r = c.report(&k);
        let i = &r.incidents[0];
        assert_eq!(i.blocked.len(), 2, "{i:#?}");
        assert_eq!(i.locks[0].path, PathBuf::from("/h/.cargo/.package-cache"));

        // Only the gc waits (for the shared lock): the hold is still the exclusive one's, as
        // the daemon's stale verdict counts it.
        let (mut c, k) = three_waiters_and_a_gc();
        c.sightings[0].waiters.clear();
        c.sightings[1].holders.truncate(1);
        c.facts.retain(|p, _| ![11, 12, 13].contains(p));
        let r = c.report(&k);
        let i = &r.incidents[0];
        assert_eq!(i.blocked.len(), 1, "{i:#?}");
        assert!((i.held_for_secs().unwrap() - 3.4).abs() < 1e-9, "{i:#?}");
    }

    #[test]
    fn a_hold_or_wait_found_under_way_is_exact_for_a_process_no_older() {
        let (c, mut k) = three_waiters_and_a_gc();
        // The daemon first looked at NOW - 3.4 (the cache's hold) and NOW - 29 (11's wait).
        k.since_unknown
            .extend([(CACHE, 10), (CACHE, 11), (MUTATE, 10)]);
        let r = c.report(&k);
        let i = &r.incidents[0];
        assert!(
            !i.held_since_known(),
            "10 is 1000 s old: it may have held it longer"
        );
        let w = i.blocked.iter().find(|b| b.process.pid == 11).unwrap();
        assert!(!w.waiting_since_known);
        let mut c = c;
        for f in c.facts.values_mut() {
            f.started_at = NOW - 29.5;
        }
        c.facts.get_mut(&10).unwrap().started_at = NOW - 4.0;
        let r = c.report(&k);
        let i = &r.incidents[0];
        assert!(
            i.held_since_known(),
            "10 started 0.6 s before the hold was seen"
        );
        assert_eq!(crate::core::words::held(i, 0.0).unwrap(), "held 3s");
        let w = i.blocked.iter().find(|b| b.process.pid == 11).unwrap();
        assert!(w.waiting_since_known, "{w:#?}");
        let lock = r
            .locks
            .iter()
            .find(|l| l.path.ends_with(".package-cache"))
            .unwrap();
        assert!(lock.holders[0].held_since_known);
        // Two seconds older than the hold: a lower bound still.
        c.facts.get_mut(&10).unwrap().started_at = NOW - 5.0;
        let i = c.report(&k).incidents[0].clone();
        assert!(!i.held_since_known());
        assert_eq!(
            crate::core::words::held(&i, 0.0).unwrap(),
            "held ≥ 3s, up 5s"
        );
    }

    #[test]
    fn a_nested_cargo_deadlock_names_the_outer_cargo_to_stop() {
        let mut nested = facts(12, ProcState::Sleeping, 11);
        nested.ancestors = vec![
            Ancestor {
                pid: 11,
                name: "build-script-bu".into(),
            },
            Ancestor {
                pid: 10,
                name: "cargo".into(),
            },
        ];
        let c = Case::new(
            vec![sighting(
                CACHE,
                vec![part(10, LockMode::Exclusive)],
                vec![part(12, LockMode::Exclusive)],
            )],
            vec![facts(10, ProcState::Sleeping, 5), nested],
        );
        let r = c.report(&Knowledge::default());
        let i = &r.incidents[0];
        assert_eq!(i.state, IncidentState::Stale);
        assert_eq!(i.doing, Doing::Deadlocked);
        assert_eq!(i.stale_reasons, vec![StaleReason::Deadlock]);
        assert_eq!(
            i.action.as_ref().unwrap().command,
            "cargo lockwatch kill 10"
        );
        assert!(i.verdict.starts_with("deadlock: cargo 12"), "{}", i.verdict);
        assert!(i.verdict.ends_with("stop cargo 10."), "{}", i.verdict);
    }

    #[test]
    fn unseen_holder_is_held_never_free() {
        let c = Case::new(
            vec![sighting(
                CACHE,
                vec![part(10, LockMode::Exclusive)],
                vec![part(11, LockMode::Exclusive)],
            )],
            vec![facts(11, ProcState::Sleeping, 5)],
        );
        let r = c.report(&Knowledge::default());
        assert_eq!(r.incidents.len(), 1);
        assert!(r.incidents[0].blocker.is_none());
        assert_eq!(r.incidents[0].state, IncidentState::Blocking);
        assert!(r.incidents[0].verdict.contains("cannot inspect"));
        assert_eq!(r.locks[0].state, LockState::Contended);
    }

    #[test]
    fn a_lock_the_kernel_says_is_held_by_someone_unseen_is_held_never_free() {
        let mut s = sighting(CACHE, vec![], vec![]);
        s.unseen = Some(LockMode::Exclusive);
        let r = Case::new(vec![s], vec![]).report(&Knowledge::default());
        assert_eq!(r.locks.len(), 1);
        assert_eq!(r.locks[0].state, LockState::Held);
        assert!(
            r.locks[0].verdict.contains("cannot inspect"),
            "{}",
            r.locks[0].verdict
        );
        assert_eq!(r.incidents.len(), 1);
        assert_eq!(r.incidents[0].state, IncidentState::Holding);
        assert!(r.incidents[0].blocker.is_none());
    }

    #[test]
    fn busy_orphan_and_ignored_names_are_not_stale_at_a_glance() {
        let mut busy = facts(10, ProcState::Running, 1);
        busy.tree_cpu_secs = 500.0; // half a CPU over its 1000 s life: compiling
        let c = Case::new(
            vec![sighting(CACHE, vec![part(10, LockMode::Exclusive)], vec![])],
            vec![busy],
        );
        assert!(!c.report(&Knowledge::default()).any_stale());
        let c = Case::new(
            vec![sighting(CACHE, vec![part(10, LockMode::Exclusive)], vec![])],
            vec![facts(10, ProcState::Stopped, 5)],
        );
        let k = Knowledge {
            ignore_names: vec!["cargo".into()],
            ..Knowledge::default()
        };
        assert!(!c.report(&k).any_stale());
        assert_eq!(c.report(&k).incidents[0].state, IncidentState::Holding);
        // Never offered for termination: a stopped one is offered a resume only.
        let i = &c.report(&k).incidents[0];
        assert!(i.ignored);
        assert!(
            i.action.as_ref().is_some_and(|a| a.resume),
            "{:?}",
            i.action
        );
        let c = Case::new(
            vec![sighting(
                CACHE,
                vec![part(10, LockMode::Exclusive)],
                vec![part(11, LockMode::Exclusive)],
            )],
            vec![
                facts(10, ProcState::Sleeping, 5000),
                facts(11, ProcState::Sleeping, 1),
            ],
        );
        let i = &c.report(&k).incidents[0];
        assert!(i.ignored && i.action.is_none(), "{i:?}");
    }

    #[test]
    fn inherited_descriptor_of_a_dead_locker_and_deleted_file_are_reasons() {
        let mut s = sighting(CACHE, vec![part(10, LockMode::Exclusive)], vec![]);
        s.holders[0].inherited = true;
        s.dead_locker = Some(9);
        s.locker_gone = true;
        s.deleted = true;
        let c = Case::new(vec![s], vec![facts(10, ProcState::Sleeping, 1)]);
        let r = c.report(&Knowledge::default());
        assert_eq!(
            r.incidents[0].stale_reasons,
            vec![StaleReason::LockerDead, StaleReason::Orphan]
        );
        // A deleted lock file is no staleness: the verdict says what it means (review V, V2).
        assert!(
            r.incidents[0].verdict.contains("Its lock file was deleted"),
            "{}",
            r.incidents[0].verdict
        );
    }
}
