//! The stale policy: a pure state machine, `apply(&mut State, Event) -> Vec<Effect>`, with the
//! clock injected through events. It decides when a holder *looks stale* from a combination of
//! signals over several consecutive samples, so a busy 20-minute release build, several shared
//! holders or a short blip never cry wolf, and the verdict does not flap.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::catalog::LockKind;
use super::model::{
    FileKey, GitFetch, LeftBy, LockMode, NetSilence, Origin, Peer, ProcName, ProcState, StaleReason,
};
use super::netwait::{NetSettings, NetTrack};
use super::text;

/// Thresholds of the stale policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaleConfig {
    /// How long a holder may stay stopped (Ctrl-Z) before it looks stale.
    #[serde(with = "super::text::duration_serde")]
    pub stopped_grace: Duration,
    /// An idle holder must have held the lock at least this long to look stale.
    #[serde(with = "super::text::duration_serde")]
    pub stale_after: Duration,
    /// How long the tree must be idle when it runs a child (a build script, rustc), instead of
    /// `idle_window`: a build script may wait on something outside its tree (a container, a
    /// service, another process's download), and a build is not called stale for a quiet
    /// minute or two.
    #[serde(with = "super::text::duration_serde")]
    pub idle_child_after: Duration,
    /// How long the whole process tree must be idle (no CPU, no writes) to count as idle.
    #[serde(with = "super::text::duration_serde")]
    pub idle_window: Duration,
    /// CPU seconds the tree may use within the idle window and still count as idle.
    pub idle_cpu_secs: f64,
    /// Consecutive samples that must agree before the verdict changes (hysteresis).
    pub samples: u32,
    /// How often holders are sampled while a lock is held.
    #[serde(with = "super::text::duration_serde")]
    pub sample_interval: Duration,
}

/// A process identity that survives pid reuse: pid plus its start token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProcId {
    /// Process id.
    pub pid: u32,
    /// Start-time token.
    pub start_token: u64,
}

/// Who a process in the history was: where it came from and which project it worked on, so
/// `history` can say "rust-analyzer (IDE) blocked your terminal builds in ~/src/app" and
/// estimate how long a command usually holds a lock there. Empty in lines from older versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Terminal, IDE, orphan …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// What made it that origin (`rust-analyzer`, `zsh` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The project: the build lock's project, else the working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "crate::core::text::lossy_path::opt")]
    pub project: Option<PathBuf>,
    /// Whose process it was, when not the daemon's user's (a daemon run as root sees everyone's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl Party {
    /// Whether nothing is known (old history lines).
    pub fn is_empty(&self) -> bool {
        *self == Party::default()
    }
}

/// A hold or wait already under way when the daemon first looked is timed from then, a lower
/// bound; but a process no older than that (within this many seconds: its start time and the
/// pass's clock are read apart) began it then, and the time is exact.
pub const SAME_AGE_SECS: f64 = 1.0;

/// Whether a hold or wait first seen at `seen` (Unix seconds) by a process started at
/// `started_at` began then: it cannot be older than its process, so when the process is
/// younger than [`SAME_AGE_SECS`] the sight is its start, even on a file nobody watched.
pub fn began_when_seen(seen: f64, started_at: f64) -> bool {
    seen - started_at <= SAME_AGE_SECS
}

/// One holder of a lock as sampled in a pass (for hold times and history).
#[derive(Debug, Clone, PartialEq)]
pub struct HolderSample {
    /// Who.
    pub id: ProcId,
    /// Short name (for logs and history).
    pub name: ProcName,
    /// Command line (for history).
    pub cmd: Vec<String>,
    /// When it started (Unix seconds): a hold first seen then began then.
    pub started_at: f64,
    /// It holds through a descriptor inherited from a process that exited: it never took the
    /// lock.
    pub inherited: bool,
    /// Shared or exclusive.
    pub mode: LockMode,
    /// Origin and project (for history).
    pub party: Party,
}

/// One waiter as sampled in a pass.
#[derive(Debug, Clone, PartialEq)]
pub struct WaiterSample {
    /// Who.
    pub id: ProcId,
    /// Short name.
    pub name: ProcName,
    /// When it started (Unix seconds): a wait first seen then began then.
    pub started_at: f64,
    /// Command line.
    pub cmd: Vec<String>,
    /// Its root blockers (name, pid), from the blocking graph: whom it really waits for, not
    /// every shared co-holder of the lock.
    pub blocked_by: Vec<(ProcName, u32)>,
    /// Their command lines.
    pub blocked_by_cmd: Vec<Vec<String>>,
    /// Origin and project (for history).
    pub party: Party,
    /// The first root blocker's origin and project.
    pub blocker: Party,
    /// The lock in the words this waiter printed (`build directory`, `artifact directory` …).
    pub lock_description: String,
}

/// One lock as sampled in a pass.
#[derive(Debug, Clone, PartialEq)]
pub struct LockSample {
    /// Identity of the lock file.
    pub key: FileKey,
    /// Its path.
    pub path: PathBuf,
    /// What it guards.
    pub kind: LockKind,
    /// Holders.
    pub holders: Vec<HolderSample>,
    /// Waiters.
    pub waiters: Vec<WaiterSample>,
    /// Whether its file was watched before this pass (an open would have woken the daemon at
    /// once): a hold or wait first seen on a file nobody watched began at some unknown time
    /// before, found by a periodic pass.
    pub watched: bool,
}

/// A root blocker of an incident as sampled in a pass: the only processes the policy judges.
/// Waiters and background holders are never judged, so their idleness is never a signal.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockerSample {
    /// Who.
    pub id: ProcId,
    /// Short name.
    pub name: ProcName,
    /// The incident's lock paths (the first one names it in logs).
    pub paths: Vec<PathBuf>,
    /// The incident's locks (file activity under their domains counts as progress).
    pub locks: Vec<FileKey>,
    /// Who it blocks (name, pid).
    pub blocked: Vec<(ProcName, u32)>,
    /// Scheduler state.
    pub state: ProcState,
    /// When it started (Unix time): a blocker already stopped when the daemon first looks was
    /// stopped at some time since.
    pub started_at: f64,
    /// CPU seconds of its whole tree.
    pub tree_cpu_secs: f64,
    /// Where it came from.
    pub origin: Origin,
    /// Holds through an inherited descriptor whose locker died.
    pub locker_dead: bool,
    /// One of its locks was deleted under it.
    pub deleted_lock: bool,
    /// It is deadlocked (stale at once).
    pub deadlock: bool,
    /// It waits for a process outside its tree to close its output pipe.
    pub pipe_held_open: bool,
    /// It only waits on the network, and nothing has arrived for this long (the kernel says).
    pub network_silent_secs: Option<f64>,
    /// Its connections open now when it has no child (none: maybe a pause between tries);
    /// `None` when it has children. Followed across passes, so the silence of a registry that
    /// never answers spans Cargo's retries.
    pub network: Option<Vec<Peer>>,
    /// Its tree runs a child (a build script, rustc): idle, it looks stale only after
    /// [`StaleConfig::idle_child_after`].
    pub runs_child: bool,
    /// Bytes received so far on its children's connections (a build script's download), when
    /// it has any: bytes that keep arriving are activity, however little CPU they take.
    pub tree_received_bytes: Option<u64>,
    /// Ignored by configuration (never stale).
    pub ignored: bool,
    /// The package whose build script left the process holding its output pipe, when known.
    pub left_by: Option<LeftBy>,
    /// Its deadlock is a cycle (processes waiting for each other's locks), not a nested cargo.
    pub deadlock_cycle: bool,
    /// The git fetch it waits in, when it is one.
    pub git_fetch: Option<GitFetch>,
    /// The network settings it runs with (`http.timeout`, `net.retry`), when they were read.
    pub net_settings: Option<NetSettings>,
    /// Its descriptors cannot be read (another user's process): its idle tree may be a network
    /// wait this user cannot see, so it is never called stale for idleness.
    pub unseen: bool,
}

/// What the policy is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A probe pass at `now` (Unix seconds) saw these locks (locks not listed are free).
    Observed {
        /// When.
        now: f64,
        /// What was held or waited on.
        locks: Vec<LockSample>,
        /// The root blockers of this pass's incidents.
        blockers: Vec<BlockerSample>,
        /// Waiters of earlier passes that are stopped now (Ctrl-Z) instead of waiting: the
        /// kernel drops a stopped process's lock request, and it blocks again when continued.
        stopped_waiters: Vec<ProcId>,
    },
    /// Something was written under a lock's activity domain (registry, target dir).
    Activity {
        /// When.
        now: f64,
        /// The lock whose domain saw the write.
        key: FileKey,
    },
    /// Hold and wait start times recovered from the history log after a restart.
    Recovered {
        /// (lock, holder, hold start, whether that start is the real one).
        holds: Vec<Episode>,
        /// Each open wait: its part behind the holder it waited for last, when the waiter
        /// began being blocked, and when it began waiting for this lock.
        waits: Vec<WaitEpisode>,
    },
}

/// (lock, process, start time, whether the start is the real one) of a hold or wait: a hold
/// that was already there when the daemon first looked began some time before.
pub type Episode = (FileKey, ProcId, f64, bool);

/// An open wait: its current part (behind the holder it waits for now); when the waiter began
/// being blocked, with whether that start is the real one (see `Wait::began`); and when it
/// began waiting for this lock, whoever held it then (see `Wait::on_lock`).
pub type WaitEpisode = (Episode, f64, bool, f64);

/// A start time and whether it is the real one.
type Start = (f64, bool);

/// A wait that ended without its waiter getting the lock, kept while it may go on.
#[derive(Debug, Clone)]
struct Ended {
    /// When the waiter began being blocked (see `Wait::began`).
    began: Start,
    /// When it began waiting for this lock (see `Wait::on_lock`).
    on_lock: f64,
    /// When it ended.
    at: f64,
    /// The log line that says how it ended, held back while it may go on: written when it
    /// does not, with the words and times of its end; one that goes on is closed by its "now
    /// waits" line (review 14, C3).
    held_line: Option<String>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Something the shell should do.
// A few effects per pass, consumed at once: boxing the history event would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The visible state changed: redraw the tray, push to subscribers.
    UpdateUi,
    /// A line for the headless log.
    Log(String),
    /// Append to the history log.
    RecordHistory(HistoryEvent),
}

/// One line of the history log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum HistoryEvent {
    /// A hold began (first seen).
    Acquired {
        /// Unix time.
        at: f64,
        /// Lock path.
        #[serde(serialize_with = "crate::core::text::lossy_path::path")]
        path: PathBuf,
        /// Lock kind.
        kind: LockKind,
        /// Device of the lock file.
        #[serde(default)]
        dev: u64,
        /// Inode.
        ino: u64,
        /// Holder.
        holder: ProcId,
        /// Holder name.
        name: ProcName,
        /// Holder command line.
        cmd: Vec<String>,
        /// Mode.
        mode: LockMode,
        /// `at` is when the hold began; false when it was already held when the daemon first
        /// looked (it began earlier).
        #[serde(default = "yes")]
        since_known: bool,
        /// Origin and project.
        #[serde(default, skip_serializing_if = "Party::is_empty")]
        party: Party,
    },
    /// A hold ended.
    Released {
        /// Unix time.
        at: f64,
        /// Lock path.
        #[serde(serialize_with = "crate::core::text::lossy_path::path")]
        path: PathBuf,
        /// Inode.
        ino: u64,
        /// Holder.
        holder: ProcId,
        /// Holder name.
        name: ProcName,
        /// How long it was held (as observed).
        held_secs: f64,
        /// Holder command line.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cmd: Vec<String>,
        /// `held_secs` counts from the hold's real start.
        #[serde(default = "yes")]
        since_known: bool,
        /// Origin and project.
        #[serde(default, skip_serializing_if = "Party::is_empty")]
        party: Party,
        /// It blocked someone while it waited only on the network: for how long nothing had
        /// arrived, across its tries, at the last look before it let go. Cargo gives up by
        /// itself after its retries (over 2 minutes with its defaults), which may come before
        /// a stale verdict does; this still tells a hung request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        network_silent_secs: Option<f64>,
    },
    /// A process started waiting, or went on waiting behind another holder (`began` set).
    WaitStarted {
        /// Unix time.
        at: f64,
        /// Lock path.
        #[serde(serialize_with = "crate::core::text::lossy_path::path")]
        path: PathBuf,
        /// Device of the lock file.
        #[serde(default)]
        dev: u64,
        /// Inode.
        ino: u64,
        /// Waiter.
        waiter: ProcId,
        /// Waiter name.
        name: ProcName,
        /// Waiter command line.
        cmd: Vec<String>,
        /// Holders at that moment (name, pid).
        blocked_by: Vec<(ProcName, u32)>,
        /// Holder command lines.
        #[serde(default)]
        blocked_by_cmd: Vec<Vec<String>>,
        /// `at` is when the wait began; false when it was already waiting when the daemon
        /// first looked.
        #[serde(default = "yes")]
        since_known: bool,
        /// Origin and project.
        #[serde(default, skip_serializing_if = "Party::is_empty")]
        party: Party,
        /// The first root blocker's origin and project.
        #[serde(default, skip_serializing_if = "Party::is_empty")]
        blocker: Party,
        /// Set when the process was already waiting for this lock behind another holder (that
        /// one let go and a third process took the lock first): when that whole wait began.
        /// `at` is then when it began waiting behind `blocked_by`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        began: Option<f64>,
        /// `began` is the wait's real start; false when it was already waiting when the daemon
        /// first looked.
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        began_known: bool,
        /// Set with `began`: when the process began waiting for this lock, whoever held it
        /// (later than `began` when it waited for another lock just before: see
        /// `Wait::on_lock`). Absent in lines of older versions: `at` stands for it (review 14,
        /// C2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_lock: Option<f64>,
    },
    /// A wait ended (the waiter got the lock, gave up or died), or its part behind
    /// `blocked_by` did (`goes_on`).
    WaitEnded {
        /// Unix time.
        at: f64,
        /// Lock path.
        #[serde(serialize_with = "crate::core::text::lossy_path::path")]
        path: PathBuf,
        /// Inode.
        ino: u64,
        /// Waiter.
        waiter: ProcId,
        /// Waiter name.
        name: ProcName,
        /// How long it waited behind `blocked_by`: the whole wait unless an earlier part of it
        /// ended with `goes_on`.
        waited_secs: f64,
        /// `waited_secs` counts from the wait's real start; false when it was already waiting
        /// when the daemon first looked (a lower bound).
        #[serde(default = "yes")]
        since_known: bool,
        /// Whom it waited for (name, pid) — the holders while it waited.
        blocked_by: Vec<(ProcName, u32)>,
        /// Waiter command line.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cmd: Vec<String>,
        /// Its root blockers' command lines.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        blocked_by_cmd: Vec<Vec<String>>,
        /// Origin and project.
        #[serde(default, skip_serializing_if = "Party::is_empty")]
        party: Party,
        /// The first root blocker's origin and project.
        #[serde(default, skip_serializing_if = "Party::is_empty")]
        blocker: Party,
        /// The lock in the words the waiter printed (`build directory` for a check, or for
        /// anyone in a configured build dir); empty in lines of older versions.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        lock_description: String,
        /// The wait did not end: `blocked_by` let go, another process took the lock first and
        /// the waiter waits on behind it (a `wait-started` with `began` follows). This line is
        /// the part of the wait spent behind `blocked_by`; the line without `goes_on` ends it.
        #[serde(default, skip_serializing_if = "is_false")]
        goes_on: bool,
    },
    /// A blocker started to look stale.
    Stale {
        /// Unix time.
        at: f64,
        /// Lock path.
        #[serde(serialize_with = "crate::core::text::lossy_path::path")]
        path: PathBuf,
        /// The blocker.
        holder: ProcId,
        /// Its name.
        name: ProcName,
        /// Why.
        reasons: Vec<StaleReason>,
        /// Whom it blocked at that moment (name, pid).
        #[serde(default)]
        blocked: Vec<(ProcName, u32)>,
        /// The package whose build script left the process it waits for (a leftover).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        left_by: Option<LeftBy>,
        /// Its deadlock is a cycle of processes waiting for each other's locks, not a nested
        /// cargo waiting for its ancestor's (review Y, Y11).
        #[serde(default, skip_serializing_if = "is_false")]
        cycle: bool,
        /// Hung on the network fetching this git repository (review X, X7), whether or not a
        /// timeout ends the fetch; lines before review AB name it only when nothing does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        git: Option<GitFetch>,
        /// Hung on the network, the settings it ran with, when they were read: whether they
        /// end a git fetch, and what the advice says it had (review AB, AB1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        net: Option<NetSettings>,
    },
    /// The user had a blocker (or its culprit) terminated.
    Killed {
        /// Unix time.
        at: f64,
        /// Holder.
        holder: ProcId,
        /// Holder name.
        name: ProcName,
        /// Signal name.
        signal: String,
        /// Lock paths it held.
        #[serde(serialize_with = "crate::core::text::lossy_path::list")]
        paths: Vec<PathBuf>,
    },
    /// `policy.yield_ide`: an IDE's check was stopped so a terminal build could run.
    Yielded {
        /// Unix time.
        at: f64,
        /// The IDE's check that was stopped.
        holder: ProcId,
        /// Its name.
        name: ProcName,
        /// Its command line.
        cmd: Vec<String>,
        /// Its origin and project.
        #[serde(default, skip_serializing_if = "Party::is_empty")]
        party: Party,
        /// The terminal build it made way for (name, pid).
        for_waiter: (ProcName, u32),
        /// The locks it held.
        #[serde(serialize_with = "crate::core::text::lossy_path::list")]
        paths: Vec<PathBuf>,
    },
}

/// The time of an event.
pub fn event_time(e: &HistoryEvent) -> f64 {
    match e {
        HistoryEvent::Acquired { at, .. }
        | HistoryEvent::Released { at, .. }
        | HistoryEvent::WaitStarted { at, .. }
        | HistoryEvent::WaitEnded { at, .. }
        | HistoryEvent::Stale { at, .. }
        | HistoryEvent::Killed { at, .. }
        | HistoryEvent::Yielded { at, .. } => *at,
    }
}

#[derive(Debug, Clone)]
struct Hold {
    path: PathBuf,
    name: ProcName,
    cmd: Vec<String>,
    party: Party,
    mode: LockMode,
    since: f64,
    since_known: bool,
}

#[derive(Debug, Clone)]
struct Wait {
    path: PathBuf,
    name: ProcName,
    cmd: Vec<String>,
    /// When it began waiting behind `blocked_by` (history attributes the time to them).
    since: f64,
    since_known: bool,
    /// When it began being blocked, whoever held this lock, including a wait for another
    /// lock just before (a cargo that waited for the package cache, then for its build
    /// directory): the wait its terminal shows.
    began: f64,
    began_known: bool,
    /// When it began waiting for this lock, whoever held it (review X, X2).
    on_lock: f64,
    kind: LockKind,
    blocked_by: Vec<(ProcName, u32)>,
    blocked_by_cmd: Vec<Vec<String>>,
    party: Party,
    blocker: Party,
    lock_description: String,
}

/// The verdict on one root blocker, kept while it stays a blocker.
#[derive(Debug, Clone)]
struct Judge {
    /// When it was first seen as a blocker (the hold start is used when known).
    since: f64,
    /// (time, tree CPU) samples, oldest first, trimmed to a little more than the idle window.
    cpu: VecDeque<(f64, f64)>,
    stopped_since: Option<f64>,
    /// It was already stopped when the daemon first looked (just started or restarted), as a
    /// one-off `status` finds it: judged at once, as `status` judges it, not after the samples.
    stopped_before_looking: bool,
    /// Consecutive samples that agreed with the opposite of the current verdict.
    streak: u32,
    stale: bool,
    reasons: Vec<StaleReason>,
    /// When the last sample that counted toward the verdict was taken.
    last_sample: f64,
    /// Its network wait, followed across connections.
    net: NetTrack,
    /// That wait as of the last pass: (peer, silence).
    net_now: Option<(String, NetSilence)>,
    /// Bytes its children had received at the last pass, and when that count last moved.
    tree_bytes: Option<u64>,
    tree_bytes_moved: Option<f64>,
}

impl Judge {
    /// Its verdict may be about to change: the last samples disagree with it, or the
    /// blocker is stopped (the grace runs, or a resume must be noticed).
    fn pending(&self) -> bool {
        self.streak > 0 || self.stopped_since.is_some()
    }

    fn new(now: f64) -> Judge {
        Judge {
            since: now,
            cpu: VecDeque::new(),
            stopped_since: None,
            stopped_before_looking: false,
            streak: 0,
            stale: false,
            reasons: Vec::new(),
            last_sample: f64::NEG_INFINITY,
            net: NetTrack::default(),
            net_now: None,
            tree_bytes: None,
            tree_bytes_moved: None,
        }
    }

    /// Notes the bytes its children have received: a count that moved is activity (a
    /// connection that closed after its download moves it too).
    fn note_tree_bytes(&mut self, now: f64, bytes: Option<u64>) {
        if bytes.is_some() && bytes != self.tree_bytes {
            self.tree_bytes_moved = Some(now);
        }
        self.tree_bytes = bytes;
    }
}

/// Everything the policy remembers.
#[derive(Debug, Clone)]
pub struct State {
    cfg: StaleConfig,
    /// The thresholds in force before the last reload that changed them: a verdict that clears
    /// while these would still call the blocker stale cleared because of the reload, not
    /// because the blocker recovered (review P, R17).
    before_reload: Option<StaleConfig>,
    holds: HashMap<(FileKey, ProcId), Hold>,
    waits: HashMap<(FileKey, ProcId), Wait>,
    judges: HashMap<ProcId, Judge>,
    last_activity: HashMap<FileKey, f64>,
    recovered_holds: HashMap<(FileKey, ProcId), (f64, bool)>,
    /// (start of the part behind the last holder, start of the whole wait, start of the wait
    /// for this lock).
    recovered_waits: HashMap<(FileKey, ProcId), (Start, Start, f64)>,
    /// Waits that ended lately without their waiter getting the lock, with when the whole wait
    /// began and when it ended: all waiters wake when a holder lets go and the losers block
    /// again, so a pass may catch one between the two. Waiting again soon, it goes on.
    just_ended: HashMap<(FileKey, ProcId), Ended>,
    /// Waiters whose last wait ended lately (they got that lock, or gave up), with when their
    /// whole blocked time began and when that wait ended: one that blocks again within
    /// [`CHAIN_SECS`] on another lock (a cargo that got the package cache and now waits for its
    /// build directory) has been blocked since then, as its terminal shows it.
    last_waited: HashMap<ProcId, (Start, f64)>,
    /// Waits that ended because their waiter was stopped (Ctrl-Z), with when they began: kept
    /// while it stays stopped; continued, it blocks again at once and its wait goes on.
    stopped_waits: HashMap<(FileKey, ProcId), Ended>,
    /// Waits of continued waiters, with when they were stopped: blocking again, the part
    /// that follows began then (the time stopped was spent blocked, as the terminal shows it),
    /// or when the hold it blocks behind began, if later: time stopped while the lock was free,
    /// or held by someone else, is nobody's (review U, U1).
    resumed_from: HashMap<(FileKey, ProcId), f64>,
    /// No pass observed yet: what the first one sees began before the daemon looked.
    first_pass: bool,
    /// Every holder and waiter the passes of the last [`SEEN_FOR`] saw, with when: a hold or
    /// wait one of them starts now on a lock it was not seen on began since the last pass
    /// (every pass sees all of a Cargo's locks; between its wait for the package cache and
    /// its build directory a cargo may hold none a pass shows).
    last_seen: HashMap<ProcId, f64>,
    /// Blockers that let go lately with nothing from their registry for long (they most likely
    /// gave up), newest last, kept [`super::netwait::GAVE_UP_KEPT_SECS`].
    gave_up: Vec<super::netwait::GaveUp>,
    /// Blockers lockwatch signalled lately: one that lets go then was stopped, it did not give
    /// up (review Z, Z1).
    signalled: Vec<u32>,
}

impl State {
    /// A fresh policy with these thresholds.
    pub fn new(cfg: StaleConfig) -> State {
        State {
            cfg,
            before_reload: None,
            holds: HashMap::new(),
            waits: HashMap::new(),
            judges: HashMap::new(),
            last_activity: HashMap::new(),
            recovered_holds: HashMap::new(),
            recovered_waits: HashMap::new(),
            just_ended: HashMap::new(),
            last_waited: HashMap::new(),
            stopped_waits: HashMap::new(),
            resumed_from: HashMap::new(),
            first_pass: true,
            last_seen: HashMap::new(),
            gave_up: Vec::new(),
            signalled: Vec::new(),
        }
    }

    /// Holds and waits (lock, pid) whose start is a lower bound only: they were there when the
    /// daemon first looked.
    pub fn since_unknown(&self) -> std::collections::HashSet<(FileKey, u32)> {
        let holds = self.holds.iter().filter(|(_, h)| !h.since_known);
        let waits = self.waits.iter().filter(|(_, w)| !w.began_known);
        holds
            .map(|((k, id), _)| (*k, id.pid))
            .chain(waits.map(|((k, id), _)| (*k, id.pid)))
            .collect()
    }

    /// New thresholds (after a config reload); holds, waits and verdicts carry on. The old
    /// ones are remembered, so a verdict the change alone clears is said as such.
    pub fn set_config(&mut self, cfg: StaleConfig) {
        if cfg != self.cfg {
            self.before_reload = Some(std::mem::replace(&mut self.cfg, cfg));
        }
    }

    /// When each current hold began.
    pub fn hold_since(&self) -> HashMap<(FileKey, u32), f64> {
        self.holds
            .iter()
            .map(|((k, id), h)| ((*k, id.pid), h.since))
            .collect()
    }

    /// When each current wait began: when the process began waiting for that lock, whoever
    /// held it then (a wait goes on when the holder changes), a stopped waiter's too.
    pub fn wait_since(&self) -> HashMap<(FileKey, u32), f64> {
        let stopped = (self.stopped_waits.iter()).map(|((k, id), e)| ((*k, id.pid), e.on_lock));
        (self.waits.iter())
            .map(|((k, id), w)| ((*k, id.pid), w.on_lock))
            .chain(stopped)
            .collect()
    }

    /// When each current waiter began being blocked, where that was earlier than its wait for
    /// the lock: it waited for another lock just before (see `Wait::began`).
    pub fn blocked_since(&self) -> HashMap<(FileKey, u32), f64> {
        (self.waits.iter())
            .filter(|(_, w)| w.began < w.on_lock)
            .map(|((k, id), w)| ((*k, id.pid), w.began))
            .collect()
    }

    /// Who waited at the last pass or was stopped while waiting: whoever of them this pass
    /// does not see waiting may be stopped ([`Event::Observed`]'s `stopped_waiters`).
    pub fn waiters(&self) -> Vec<ProcId> {
        let mut ids: Vec<ProcId> = (self.waits.keys().chain(self.stopped_waits.keys()))
            .map(|(_, id)| *id)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Current verdicts on root blockers, by pid (empty reasons for blockers that look fine).
    pub fn verdicts(&self) -> HashMap<u32, Vec<StaleReason>> {
        self.judges
            .iter()
            .map(|(id, j)| {
                let reasons = if j.stale {
                    j.reasons.clone()
                } else {
                    Vec::new()
                };
                (id.pid, reasons)
            })
            .collect()
    }

    /// Whether anything is held or waited on (the daemon samples faster then).
    pub fn busy(&self) -> bool {
        !self.holds.is_empty() || !self.waits.is_empty()
    }

    /// The blockers that let go lately after a long silence from their registry (see
    /// [`super::netwait::GaveUp`]), oldest first.
    pub fn gave_up(&self) -> Vec<super::netwait::GaveUp> {
        self.gave_up.clone()
    }

    /// Notes that lockwatch signalled `pid` (a kill): when it lets go, it was stopped, and the
    /// next cargo on its server is not told it "most likely gave up".
    pub fn note_signalled(&mut self, pid: u32) {
        const KEPT: usize = 16;
        self.signalled.retain(|p| *p != pid);
        self.signalled.push(pid);
        let extra = self.signalled.len().saturating_sub(KEPT);
        self.signalled.drain(..extra);
        self.gave_up.retain(|g| g.pid != pid);
    }

    /// Each root blocker's network wait followed across its connections, by pid: (peer,
    /// silence), as of the last pass.
    pub fn net_waits(&self) -> HashMap<u32, (String, NetSilence)> {
        self.judges
            .iter()
            .filter_map(|(id, j)| Some((id.pid, j.net_now.clone()?)))
            .collect()
    }

    /// Whether an incident is open: someone waits, a wait that ended may go on (its closing
    /// line is held back until the passes tell), or a blocker is suspect (its verdict may be
    /// about to change). Only then does the daemon sample processes at its poll interval; a
    /// quiet hold is sampled at the idle interval, enough to see it go stale in time.
    pub fn incident_open(&self) -> bool {
        !self.waits.is_empty()
            || self.just_ended.values().any(|e| e.held_line.is_some())
            || self.judges.values().any(Judge::pending)
    }

    /// Whether the blocker is currently judged stale.
    pub fn is_stale(&self, id: ProcId) -> bool {
        self.judges.get(&id).is_some_and(|j| j.stale)
    }
}

/// Applies one event.
pub fn apply(state: &mut State, event: Event) -> Vec<Effect> {
    match event {
        Event::Activity { now, key } => {
            state.last_activity.insert(key, now);
            Vec::new()
        }
        Event::Recovered { holds, waits } => {
            for (k, id, t, known) in holds {
                state.recovered_holds.insert((k, id), (t, known));
            }
            for ((k, id, t, known), began, began_known, on_lock) in waits {
                let whole = (began.min(t), began_known);
                let on_lock = on_lock.clamp(whole.0, t);
                state
                    .recovered_waits
                    .insert((k, id), ((t, known), whole, on_lock));
            }
            Vec::new()
        }
        Event::Observed {
            now,
            locks,
            blockers,
            stopped_waiters,
        } => {
            let mut fx = Vec::new();
            let mut changed = track_holds(state, now, &locks, &mut fx);
            changed |= track_waits(state, now, &locks, &stopped_waiters, &mut fx);
            changed |= judge_blockers(state, now, &blockers, &mut fx);
            let live: Vec<FileKey> = locks.iter().map(|l| l.key).collect();
            state.last_activity.retain(|k, _| live.contains(k));
            state.first_pass = false;
            let seen = (locks.iter()).flat_map(|l| {
                (l.holders.iter().map(|h| h.id)).chain(l.waiters.iter().map(|w| w.id))
            });
            state.last_seen.extend(seen.map(|id| (id, now)));
            state.last_seen.retain(|_, at| now - *at <= SEEN_FOR);
            if changed {
                fx.push(Effect::UpdateUi);
            }
            fx
        }
    }
}

/// How long a holder or waiter is remembered as seen (see `State::last_seen`).
const SEEN_FOR: f64 = 600.0;

/// Whether a hold or wait first seen now on `lock` by `who`, started at `started_at`, began
/// now: the file was watched since an earlier pass (its open woke the daemon), the last pass
/// saw `who` hold or wait for another lock (a cargo that waited for the package cache, now
/// taking its build directory), or the process is as young as the sight.
fn seen_begin(state: &State, lock: &LockSample, who: ProcId, now: f64, started_at: f64) -> bool {
    (!state.first_pass && (lock.watched || state.last_seen.contains_key(&who)))
        || began_when_seen(now, started_at)
}

/// Starts and ends holds (with their history lines); returns whether anything changed.
fn track_holds(state: &mut State, now: f64, locks: &[LockSample], fx: &mut Vec<Effect>) -> bool {
    let mut changed = false;
    let mut seen = Vec::new();
    for lock in locks {
        for h in &lock.holders {
            let id = (lock.key, h.id);
            seen.push(id);
            if state.holds.contains_key(&id) {
                continue;
            }
            changed = true;
            hold_began(state, now, lock, h, fx);
        }
    }
    let mut ended: Vec<(FileKey, ProcId)> = state
        .holds
        .keys()
        .filter(|k| !seen.contains(k))
        .copied()
        .collect();
    ended.sort();
    for id in ended {
        let hold = state.holds.remove(&id).expect("key listed above");
        changed = true;
        hold_ended(state, now, id, hold, fx);
    }
    changed
}

/// Starts the hold of `h` on `lock`, first seen now, with its log line and, unless it was
/// recovered from the history, its history line.
fn hold_began(
    state: &mut State,
    now: f64,
    lock: &LockSample,
    h: &HolderSample,
    fx: &mut Vec<Effect>,
) {
    let words = lock.kind.cargo_words();
    let id = (lock.key, h.id);
    let recovered = state.recovered_holds.remove(&id);
    let (since, since_known) =
        recovered.unwrap_or((now, seen_begin(state, lock, h.id, now, h.started_at)));
    state.holds.insert(
        id,
        Hold {
            path: lock.path.clone(),
            name: h.name.clone(),
            cmd: h.cmd.clone(),
            party: h.party.clone(),
            mode: h.mode,
            since,
            since_known,
        },
    );
    let (who, path) = (
        format!("{} {}", h.name, h.id.pid),
        text::lossy_path::text(&lock.path),
    );
    if recovered.is_some() {
        fx.push(Effect::Log(format!(
            "holding   {words}  {path}  by {who} (since before restart)"
        )));
        return;
    }
    let mode = mode_word(h.mode);
    let verb = match (h.inherited, since_known) {
        (true, _) => "inherited",
        (false, true) => "acquired ",
        (false, false) => "holding  ",
    };
    fx.push(Effect::Log(format!(
        "{verb} {words}  {path}  by {who} ({mode})"
    )));
    fx.push(Effect::RecordHistory(acquired(now, lock, h, since_known)));
}

/// The history event of a hold of `h` on `lock` first seen at `now`.
fn acquired(now: f64, lock: &LockSample, h: &HolderSample, since_known: bool) -> HistoryEvent {
    HistoryEvent::Acquired {
        at: now,
        path: lock.path.clone(),
        kind: lock.kind,
        dev: lock.key.dev,
        ino: lock.key.ino,
        holder: h.id,
        name: h.name.clone(),
        cmd: h.cmd.clone(),
        mode: h.mode,
        since_known,
        party: h.party.clone(),
    }
}

/// Ends `hold` (no longer seen now), with its log and history lines.
fn hold_ended(
    state: &mut State,
    now: f64,
    id: (FileKey, ProcId),
    hold: Hold,
    fx: &mut Vec<Effect>,
) {
    let held = now - hold.since;
    let silent = network_silence_at_release(state, now, id.1, &hold);
    // Data arriving moments before it let go is no silence to report (review AA, AA6).
    let silence = (silent.filter(|s| *s >= 1.0)).map_or(String::new(), |s| {
        format!(" (nothing from the network for {})", text::duration(s))
    });
    fx.push(Effect::Log(format!(
        "released  {}  by {} {} {}{silence}",
        text::lossy_path::text(&hold.path),
        hold.name,
        id.1.pid,
        hold_length(held, hold.since_known)
    )));
    fx.push(Effect::RecordHistory(HistoryEvent::Released {
        at: now,
        path: hold.path,
        ino: id.0.ino,
        holder: id.1,
        name: hold.name,
        held_secs: held,
        cmd: hold.cmd,
        since_known: hold.since_known,
        party: hold.party,
        network_silent_secs: silent,
    }));
}

/// For how long nothing had come from the network to `holder`, as of the last pass, when it
/// let go of `hold` (`None`: it was not waiting on the network); one that most likely gave up
/// on its registry is noted in `State::gave_up`.
fn network_silence_at_release(
    state: &mut State,
    now: f64,
    holder: ProcId,
    hold: &Hold,
) -> Option<f64> {
    let net = (state.judges.get(&holder)).and_then(|j| j.net_now.as_ref());
    let silent = net.map(|(_, s)| s.silent_for_secs);
    let signalled = state.signalled.contains(&holder.pid);
    if let Some((peer, s)) = net.filter(|(_, s)| super::netwait::gave_up_on(s) && !signalled) {
        note_gave_up(
            &mut state.gave_up,
            super::netwait::GaveUp {
                peer: peer.clone(),
                who: format!("{} {}", hold.name, holder.pid),
                pid: holder.pid,
                at: now,
                silent_secs: s.silent_for_secs,
                home: super::catalog::classify(&hold.path)
                    .and_then(|k| super::catalog::cargo_home_of(&hold.path, k)),
            },
        );
    }
    silent
}

/// Adds `g` to `list`, dropping those older than [`super::netwait::GAVE_UP_KEPT_SECS`] and
/// keeping the newest few.
fn note_gave_up(list: &mut Vec<super::netwait::GaveUp>, g: super::netwait::GaveUp) {
    const KEPT: usize = 8;
    list.retain(|o| g.at - o.at < super::netwait::GAVE_UP_KEPT_SECS);
    list.push(g);
    let extra = list.len().saturating_sub(KEPT);
    list.drain(..extra);
}

/// How long a hold lasted, for the log: "after 5s", "after ≥ 5s" when it began before the
/// daemon saw it, and no figure when that lower bound is under a second ("≥ 0s" says nothing).
fn hold_length(held: f64, since_known: bool) -> String {
    match (since_known, held < 1.0) {
        (true, _) => format!("after {}", super::text::duration(held)),
        (false, false) => format!("after {}", super::text::duration_known(held, false)),
        (false, true) => "(held since before the daemon saw it)".to_string(),
    }
}

/// Starts and ends waits (with their history lines); returns whether anything changed.
fn track_waits(
    state: &mut State,
    now: f64,
    locks: &[LockSample],
    stopped: &[ProcId],
    fx: &mut Vec<Effect>,
) -> bool {
    let mut changed = false;
    let mut seen = Vec::new();
    age_ended_waits(state, now, stopped, fx);
    for lock in locks {
        for w in &lock.waiters {
            let id = (lock.key, w.id);
            seen.push(id);
            if waits_on_behind_the_same(state, id, w) {
                continue;
            }
            changed = true;
            let went_on = going_on_since(state, now, id, fx);
            wait_began(state, now, lock, w, went_on, fx);
        }
    }
    let mut ended: Vec<(FileKey, ProcId)> = state
        .waits
        .keys()
        .filter(|k| !seen.contains(k))
        .copied()
        .collect();
    ended.sort();
    for id in ended {
        changed = true;
        wait_gone(state, now, id, locks, stopped, fx);
    }
    changed
}

/// Forgets waits that ended too long ago to go on, writing the lines held back for them,
/// and readies those of waiters `stopped` no longer lists to go on if they block again.
impl State {
    /// The closing lines still held back (a wait that might have gone on), for a daemon that
    /// stops now: every "waiting" line it wrote is closed (review 15, D10).
    pub fn held_lines(&mut self) -> Vec<String> {
        let mut ended: Vec<Ended> = self.just_ended.drain().map(|(_, e)| e).collect();
        ended.sort_by(|a, b| a.at.total_cmp(&b.at));
        ended.into_iter().filter_map(|e| e.held_line).collect()
    }
}

fn age_ended_waits(state: &mut State, now: f64, stopped: &[ProcId], fx: &mut Vec<Effect>) {
    let mut over: Vec<_> = (state.just_ended.iter())
        .filter(|(_, e)| now - e.at > REBLOCK_SECS)
        .map(|(id, e)| (e.at, *id))
        .collect();
    over.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (_, id) in over {
        let ended = state.just_ended.remove(&id).expect("listed above");
        fx.extend(ended.held_line.map(Effect::Log));
    }
    // Continued (or gone): one that blocks again now goes on with its wait.
    let continued: Vec<_> = (state.stopped_waits.keys())
        .filter(|(_, who)| !stopped.contains(who))
        .copied()
        .collect();
    for id in continued {
        let ended = state.stopped_waits.remove(&id).expect("listed above");
        state.resumed_from.insert(id, ended.at);
        state.just_ended.insert(id, Ended { at: now, ..ended });
    }
    state
        .resumed_from
        .retain(|id, _| state.just_ended.contains_key(id));
    state
        .last_waited
        .retain(|_, (_, at)| now - *at <= CHAIN_SECS);
}

/// Whether the wait `id` goes on behind the blockers it waited for (any new ones among `w`'s
/// are added to them).
fn waits_on_behind_the_same(state: &mut State, id: (FileKey, ProcId), w: &WaiterSample) -> bool {
    let Some(wait) = state.waits.get_mut(&id) else {
        return false;
    };
    // Behind someone else now (the holder let go, another took the lock first): the
    // time so far is the old blocker's in the history, and a new part begins behind
    // the new one. The wait itself goes on: its start does not move.
    let moved_on =
        !w.blocked_by.is_empty() && !w.blocked_by.iter().any(|b| wait.blocked_by.contains(b));
    if moved_on {
        return false;
    }
    for b in &w.blocked_by {
        if !wait.blocked_by.contains(b) {
            wait.blocked_by.push(b.clone());
        }
    }
    true
}

/// When the whole wait `id` began, if it goes on: behind a new holder (its part behind the
/// old one ends, with its history line), or blocked again soon after it ended.
fn going_on_since(
    state: &mut State,
    now: f64,
    id: (FileKey, ProcId),
    fx: &mut Vec<Effect>,
) -> Option<(Start, f64)> {
    if let Some(old) = state.waits.remove(&id) {
        let began = ((old.began, old.began_known), old.on_lock);
        fx.push(Effect::RecordHistory(wait_ended(id, old, now, true)));
        Some(began)
    } else if let Some(ended) = state.just_ended.remove(&id) {
        // Its "now waits" line closes it: the line held back for its end is not written.
        Some((ended.began, ended.on_lock))
    } else {
        None
    }
}

/// Starts a wait (or its new part, when it `went_on` from an earlier one: when its waiter
/// began being blocked, and when it began waiting for this lock) of `w` on `lock`, with its
/// log line and, unless it was recovered from the history, its history line.
fn wait_began(
    state: &mut State,
    now: f64,
    lock: &LockSample,
    w: &WaiterSample,
    went_on: Option<(Start, f64)>,
    fx: &mut Vec<Effect>,
) {
    let id = (lock.key, w.id);
    let went_on_since = went_on.map(|(began, _)| began);
    let recovered = state.recovered_waits.remove(&id);
    let resumed = state.resumed_from.remove(&id);
    let ((since, since_known), (began, began_known), on_lock) = recovered.unwrap_or_else(|| {
        let part = match resumed {
            Some(stopped_at) => (stopped_at.max(held_since(state, lock)), true),
            None => (
                now,
                went_on.is_some() || seen_begin(state, lock, w.id, now, w.started_at),
            ),
        };
        let chained = state.last_waited.get(&w.id).map(|(began, _)| *began);
        let began = went_on_since.or(chained).unwrap_or(part);
        (part, began, went_on.map_or(part.0, |(_, on_lock)| on_lock))
    });
    state.waits.insert(
        id,
        Wait {
            path: lock.path.clone(),
            name: w.name.clone(),
            cmd: w.cmd.clone(),
            since,
            since_known,
            began,
            began_known,
            on_lock,
            kind: lock.kind,
            blocked_by: w.blocked_by.clone(),
            blocked_by_cmd: w.blocked_by_cmd.clone(),
            party: w.party.clone(),
            blocker: w.blocker.clone(),
            lock_description: w.lock_description.clone(),
        },
    );
    fx.push(Effect::Log(waiting_line(now, lock, w, went_on_since)));
    if recovered.is_none() {
        fx.push(Effect::RecordHistory(wait_started(
            now,
            lock,
            w,
            since_known,
            went_on,
        )));
    }
}

/// The log line of a wait (or its new part, when it `went_on`) of `w` on `lock` first seen at
/// `now`.
fn waiting_line(now: f64, lock: &LockSample, w: &WaiterSample, went_on: Option<Start>) -> String {
    let blockers = blockers_words(&w.blocked_by);
    let so_far = match went_on {
        Some((t, known)) => format!(
            " (waiting {} in all)",
            super::text::duration_known(now - t, known)
        ),
        None => String::new(),
    };
    format!(
        "waiting   {}  {}  {} {} {}waits for {blockers}{so_far}",
        lock_words(&w.lock_description, lock.kind),
        text::lossy_path::text(&lock.path),
        w.name,
        w.id.pid,
        if went_on.is_some() { "now " } else { "" }
    )
}

/// Whom a wait is behind, for the log: `cargo 10, cargo 12`, or `an unseen holder`.
fn blockers_words(blocked_by: &[(ProcName, u32)]) -> String {
    if blocked_by.is_empty() {
        return "an unseen holder".to_string();
    }
    let names: Vec<String> = (blocked_by.iter())
        .map(|(n, p)| format!("{n} {p}"))
        .collect();
    names.join(", ")
}

/// The lock in the log, in the words the waiting cargo printed (`description`), else its
/// kind's: a wait's opening and closing lines name it alike (review C7).
fn lock_words(description: &str, kind: LockKind) -> &str {
    match description {
        "" => kind.cargo_words(),
        words => words,
    }
}

/// The history event of a wait (or its new part, when it `went_on`: when the waiter began
/// being blocked, and when it began waiting for this lock) of `w` on `lock` first seen at
/// `now`.
fn wait_started(
    now: f64,
    lock: &LockSample,
    w: &WaiterSample,
    since_known: bool,
    went_on: Option<(Start, f64)>,
) -> HistoryEvent {
    HistoryEvent::WaitStarted {
        at: now,
        path: lock.path.clone(),
        dev: lock.key.dev,
        ino: lock.key.ino,
        waiter: w.id,
        name: w.name.clone(),
        cmd: w.cmd.clone(),
        blocked_by: w.blocked_by.clone(),
        blocked_by_cmd: w.blocked_by_cmd.clone(),
        since_known,
        party: w.party.clone(),
        blocker: w.blocker.clone(),
        began: went_on.map(|((t, _), _)| t),
        began_known: went_on.is_none_or(|((_, known), _)| known),
        on_lock: went_on.map(|(_, on_lock)| on_lock),
    }
}

/// Ends the wait `id`, no longer seen now, with its history line; it is remembered in case
/// it goes on: its waiter was stopped, or did not get the lock and may block again.
fn wait_gone(
    state: &mut State,
    now: f64,
    id: (FileKey, ProcId),
    locks: &[LockSample],
    stopped: &[ProcId],
    fx: &mut Vec<Effect>,
) {
    let wait = state.waits.remove(&id).expect("key listed above");
    let holds = |(key, who): (FileKey, ProcId)| {
        (locks.iter()).any(|l| l.key == key && l.holders.iter().any(|h| h.id == who))
    };
    state
        .last_waited
        .insert(id.1, ((wait.began, wait.began_known), now));
    let stopped_now = stopped.contains(&id.1);
    let ended = |held_line| Ended {
        began: (wait.began, wait.began_known),
        on_lock: wait.on_lock,
        at: now,
        held_line,
    };
    if stopped_now {
        let line = wait_over_line(now, id.1, &wait, &WaitOver::Suspended);
        fx.push(Effect::Log(line));
        state.stopped_waits.insert(id, ended(None));
    } else if !holds(id) {
        let over = left_without_the_lock(&wait, id, locks, &state.signalled);
        let line = wait_over_line(now, id.1, &wait, &over);
        state.just_ended.insert(id, ended(Some(line)));
    }
    fx.push(Effect::RecordHistory(wait_ended(
        id,
        wait,
        now,
        stopped_now,
    )));
}

/// How a wait ended that no hold of its waiter closes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum WaitOver {
    /// Suspended (Ctrl-Z): the kernel dropped its request.
    Suspended,
    /// It stopped waiting while one it waited for still held the lock: interrupted, killed,
    /// or it gave up.
    Left,
    /// Those it waited for let go, and these others took the lock before it did; it did not
    /// block again behind them where a look could see it: it took the lock after them (a build
    /// holds the package cache for a moment), as every waiter of a lock that came free does
    /// in turn (review Z, Z2).
    OthersTookIt(Vec<(ProcName, u32)>),
    /// Its holder let go and the lock is free: it took the lock for less than a look's time
    /// (a build with nothing to download holds the package cache for a moment), or it lost
    /// the race and blocks again (review X, X1).
    HolderLetGo,
}

/// How the wait `id`, which its waiter left without taking the lock, stands with the
/// lock's holders in `locks`: one it waited for (any, when it waited for an unseen one) still
/// holds it, others took it first, or it is free. A holder lockwatch has `signalled` is
/// letting go, whatever a look still shows (review AA, AA5).
fn left_without_the_lock(
    wait: &Wait,
    id: (FileKey, ProcId),
    locks: &[LockSample],
    signalled: &[u32],
) -> WaitOver {
    let others: Vec<&HolderSample> = (locks.iter().filter(|l| l.key == id.0))
        .flat_map(|l| &l.holders)
        .filter(|h| h.id != id.1 && !signalled.contains(&h.id.pid))
        .collect();
    let waited_for =
        |pid: u32| wait.blocked_by.is_empty() || wait.blocked_by.iter().any(|(_, p)| *p == pid);
    if others.iter().any(|h| waited_for(h.id.pid)) {
        WaitOver::Left
    } else if others.is_empty() {
        WaitOver::HolderLetGo
    } else {
        WaitOver::OthersTookIt(others.iter().map(|h| (h.name.clone(), h.id.pid)).collect())
    }
}

/// How long `wait` had waited for its lock at `now`, and behind whom: `4s for cargo 10`, or
/// `41s, the last 4s for cargo 10` when others held the lock before them.
fn waited_words(now: f64, wait: &Wait) -> String {
    let behind = blockers_words(&wait.blocked_by);
    let on_lock = text::duration_known(now - wait.on_lock, wait.began_known);
    if wait.since <= wait.on_lock {
        return format!("{on_lock} for {behind}");
    }
    let part = text::duration_known(now - wait.since, wait.since_known);
    format!("{on_lock}, the last {part} for {behind}")
}

/// The log line of `who`'s `wait` that ended at `now` without the daemon seeing it hold the
/// lock, so every "waiting" line is closed (review V, V4).
fn wait_over_line(now: f64, who: ProcId, wait: &Wait, over: &WaitOver) -> String {
    let behind = blockers_words(&wait.blocked_by);
    let waited = waited_words(now, wait);
    let (verb, what) = match over {
        WaitOver::Suspended => (
            "suspended",
            format!("is suspended (Ctrl-Z) while waiting (waited {waited})"),
        ),
        WaitOver::Left => (
            "ended    ",
            format!("no longer waits (waited {waited}, which still holds it)"),
        ),
        WaitOver::OthersTookIt(others) => (
            "went on  ",
            format!(
                "went on after {} as {behind} let go (waited {waited})",
                blockers_words(others)
            ),
        ),
        WaitOver::HolderLetGo => (
            "went on  ",
            format!(
                "went on as {behind} let go (waited {})",
                text::duration_known(now - wait.on_lock, wait.began_known)
            ),
        ),
    };
    format!(
        "{verb} {}  {}  {} {} {what}",
        lock_words(&wait.lock_description, wait.kind),
        text::lossy_path::text(&wait.path),
        wait.name,
        who.pid,
    )
}

/// When the latest of `lock`'s current holds began (`-inf` when none is known).
fn held_since(state: &State, lock: &LockSample) -> f64 {
    (lock.holders.iter())
        .filter_map(|h| state.holds.get(&(lock.key, h.id)).map(|hold| hold.since))
        .fold(f64::NEG_INFINITY, f64::max)
}

/// How soon a waiter that blocks again on the same lock goes on with its wait (see
/// `State::just_ended`).
const REBLOCK_SECS: f64 = 2.0;

/// How soon a waiter that blocks on another lock is still the same blocked build (see
/// `State::last_waited`).
const CHAIN_SECS: f64 = 5.0;

/// The history event of a wait that ended, or of its part behind one blocker (`goes_on`: it
/// waits on behind another).
fn wait_ended(id: (FileKey, ProcId), wait: Wait, now: f64, goes_on: bool) -> HistoryEvent {
    HistoryEvent::WaitEnded {
        at: now,
        path: wait.path,
        ino: id.0.ino,
        waiter: id.1,
        name: wait.name,
        waited_secs: now - wait.since,
        since_known: wait.since_known,
        blocked_by: wait.blocked_by,
        cmd: wait.cmd,
        blocked_by_cmd: wait.blocked_by_cmd,
        party: wait.party,
        blocker: wait.blocker,
        lock_description: wait.lock_description,
        goes_on,
    }
}

/// Since when `b` has held its incident's locks: its exclusive holds when it has any (a cargo
/// holds `.package-cache-mutate` shared from its start, through any time it spent waiting for
/// the build directory, and that wait must not count toward `stale_after`), else its shared
/// ones.
fn blocking_since(state: &State, b: &BlockerSample) -> Option<(f64, bool)> {
    let mine = (state.holds.iter()).filter(|((k, id), _)| *id == b.id && b.locks.contains(k));
    let earliest = |a: (f64, bool), b: (f64, bool)| if b.0 < a.0 { b } else { a };
    let exclusive = (mine.clone())
        .filter(|(_, h)| h.mode == LockMode::Exclusive)
        .map(|(_, h)| (h.since, h.since_known))
        .reduce(earliest);
    exclusive.or_else(|| mine.map(|(_, h)| (h.since, h.since_known)).reduce(earliest))
}

/// Samples every root blocker; a process that stopped being one (it finished, or it now waits
/// itself) is forgotten, so a waiter never carries a verdict. Returns whether a verdict changed.
fn judge_blockers(
    state: &mut State,
    now: f64,
    blockers: &[BlockerSample],
    fx: &mut Vec<Effect>,
) -> bool {
    let mut changed = false;
    let before_reload = state.before_reload.clone();
    let ids: Vec<ProcId> = blockers.iter().map(|b| b.id).collect();
    let before = state.judges.len();
    state.judges.retain(|id, _| ids.contains(id));
    changed |= state.judges.len() != before;
    for b in blockers {
        changed |= judge_blocker(state, now, b, before_reload.as_ref(), fx);
    }
    changed
}

/// Takes this pass's sample of the root blocker `b`, with the lines of a verdict it changed
/// (`before_reload`: the thresholds before a reload, when one came since the last pass).
/// Returns whether its verdict changed.
fn judge_blocker(
    state: &mut State,
    now: f64,
    b: &BlockerSample,
    before_reload: Option<&StaleConfig>,
    fx: &mut Vec<Effect>,
) -> bool {
    let held_since = blocking_since(state, b);
    let written = b
        .locks
        .iter()
        .filter_map(|k| state.last_activity.get(k).copied())
        .reduce(f64::max);
    let cfg = state.cfg.clone();
    let first_pass = state.first_pass;
    let judge = state.judges.entry(b.id).or_insert_with(|| Judge::new(now));
    let last_activity = look_at(judge, b, now, held_since, written, first_pass);
    let (became, cleared) = sample(&cfg, judge, b, now, last_activity);
    let path = b
        .paths
        .first()
        .map(|p| text::lossy_path::text(p).into_owned())
        .unwrap_or_default();
    if became {
        became_stale(judge, b, now, &path, fx);
    }
    if cleared {
        // Stale under the thresholds of before the reload: the reload cleared it.
        let by_reload =
            before_reload.filter(|old| !reasons_now(old, judge, b, now, last_activity).is_empty());
        fx.push(Effect::Log(no_longer_stale(b, &path, by_reload, &cfg)));
    }
    became || cleared
}

/// Tells `judge` what it needs beyond the sample of `b` (since when it has blocked, when it
/// stopped, its network and bytes received), given since when it has held its locks
/// (`held_since`) and when one was last `written` under. Returns when it last made progress.
fn look_at(
    judge: &mut Judge,
    b: &BlockerSample,
    now: f64,
    held_since: Option<(f64, bool)>,
    written: Option<f64>,
    first_pass: bool,
) -> Option<f64> {
    if let Some((t, _)) = held_since {
        judge.since = judge.since.min(t);
    }
    // Stopped before this daemon first looked (it just started, or restarted): stopped at
    // some time since it started, as a one-off `status` judges it, so a restart never
    // turns a STALE blocker back into a STOPPED one for the grace.
    if first_pass && b.state == ProcState::Stopped && judge.stopped_since.is_none() {
        judge.stopped_since = Some(b.started_at.min(now));
        judge.stopped_before_looking = true;
    }
    // A hold found late began at some unknown time before: the network wait is then timed
    // by the kernel's clocks alone, never cut at (nor said to begin with) the first sight.
    let net_since = match held_since {
        Some((_, true)) => judge.since,
        _ => f64::NEG_INFINITY,
    };
    judge.note_tree_bytes(now, b.tree_received_bytes);
    // Progress: a write under its locks' domains, or bytes arriving for its children.
    let last_activity = [written, judge.tree_bytes_moved]
        .into_iter()
        .flatten()
        .reduce(f64::max);
    // Stopped, it reads nothing and opens nothing: its network wait is kept as it was when it
    // stopped, neither a pause between tries nor more silence (review 15, D3).
    if b.state != ProcState::Stopped {
        judge.net.observe(now, net_since, b.network.as_deref());
        judge.net_now = judge.net.silence(now, net_since, last_activity);
    }
    last_activity
}

/// The log and history lines of `b`, on `path`, found stale now for `judge`'s reasons.
fn became_stale(judge: &Judge, b: &BlockerSample, now: f64, path: &str, fx: &mut Vec<Effect>) {
    // A git fetch's silence is a git server's, not a registry's (review Z, Z4).
    let why: Vec<String> = (judge.reasons.iter())
        .map(|r| match (r, &b.git_fetch) {
            (StaleReason::NetworkSilent, Some(g)) => format!(
                "it fetches git repository {} and nothing has arrived for a long time (a git \
                 server that does not answer?)",
                text::printable(&g.url)
            ),
            _ => r.describe().to_string(),
        })
        .collect();
    fx.push(Effect::Log(format!(
        "STALE     {path}  {} {}: {}",
        b.name,
        b.id.pid,
        why.join("; ")
    )));
    let hung_on_network = judge.reasons.contains(&StaleReason::NetworkSilent);
    fx.push(Effect::RecordHistory(HistoryEvent::Stale {
        at: now,
        path: b.paths.first().cloned().unwrap_or_default(),
        holder: b.id,
        name: b.name.clone(),
        reasons: judge.reasons.clone(),
        blocked: b.blocked.clone(),
        left_by: b.left_by.clone(),
        cycle: b.deadlock_cycle && judge.reasons.contains(&StaleReason::Deadlock),
        // A git fetch is one whatever its timeout: whether that ends it is the settings' to
        // say (review AB, AB1).
        git: (b.git_fetch.clone()).filter(|_| hung_on_network),
        net: b.net_settings.filter(|_| hung_on_network),
    }));
}

/// The log line of `b`, on `path`, no longer stale: under the thresholds `cfg` of a reload
/// when it was still stale under those of before it (`by_reload`), else recovered.
fn no_longer_stale(
    b: &BlockerSample,
    path: &str,
    by_reload: Option<&StaleConfig>,
    cfg: &StaleConfig,
) -> String {
    match by_reload {
        Some(old) => format!(
            "config    {path}  {} {} no longer counts as stale under {} (config reloaded)",
            b.name,
            b.id.pid,
            changed_settings(old, cfg).join(", ")
        ),
        None => format!(
            "recovered {path}  {} {} no longer looks stale",
            b.name, b.id.pid
        ),
    }
}

/// The `stale.*` settings `new` sets differently from `old`, as `stale.key = value` (the
/// value as the config file writes it).
fn changed_settings(old: &StaleConfig, new: &StaleConfig) -> Vec<String> {
    let (Ok(old), Ok(new)) = (toml::Table::try_from(old), toml::Table::try_from(new)) else {
        return Vec::new();
    };
    (new.iter())
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| format!("stale.{k} = {v}"))
        .collect()
}

/// The reasons a blocker looks stale in this sample (before hysteresis).
fn reasons_now(
    cfg: &StaleConfig,
    judge: &Judge,
    b: &BlockerSample,
    now: f64,
    last_activity: Option<f64>,
) -> Vec<StaleReason> {
    let mut reasons = Vec::new();
    if b.ignored {
        return reasons;
    }
    if judge
        .stopped_since
        .is_some_and(|t| now - t >= cfg.stopped_grace.as_secs_f64())
    {
        reasons.push(StaleReason::Stopped);
    }
    if b.state == ProcState::Zombie {
        reasons.push(StaleReason::Zombie);
    }
    // The silence across Cargo's retries, or one connection's as the kernel counts it. A
    // stopped process reads nothing: its silence is its being stopped, said as such.
    let across = judge.net_now.as_ref().map(|(_, s)| s.silent_for_secs);
    let silent = b.state != ProcState::Stopped
        && [b.network_silent_secs, across]
            .into_iter()
            .flatten()
            .any(|s| s >= cfg.stale_after.as_secs_f64());
    for (on, reason) in [
        (b.locker_dead, StaleReason::LockerDead),
        (b.deadlock, StaleReason::Deadlock),
        (b.pipe_held_open, StaleReason::PipeHeldOpen),
        (silent, StaleReason::NetworkSilent),
    ] {
        if on {
            reasons.push(reason);
        }
    }
    // A network wait is judged by its silence, not by the idle tree that waiting makes.
    let window = if b.runs_child {
        cfg.idle_window.max(cfg.idle_child_after)
    } else {
        cfg.idle_window
    };
    let idle = is_idle(cfg, judge, now, last_activity, window) && across.is_none() && !b.unseen;
    let orphan = idle && b.origin == Origin::Orphan;
    if orphan {
        reasons.push(StaleReason::Orphan);
    }
    // An orphan needs no minimum hold: nobody will ever use its result.
    let long_idle =
        idle && now - judge.since >= cfg.stale_after.as_secs_f64() && b.state != ProcState::Stopped;
    if orphan || long_idle {
        reasons.push(StaleReason::Idle);
    }
    reasons.sort();
    reasons.dedup();
    reasons
}

/// Takes one sample of a blocker; returns (became stale, stopped looking stale).
fn sample(
    cfg: &StaleConfig,
    judge: &mut Judge,
    b: &BlockerSample,
    now: f64,
    last_activity: Option<f64>,
) -> (bool, bool) {
    // Tree CPU samples over a little more than the longest idle window.
    let window = cfg.idle_window.max(cfg.idle_child_after).as_secs_f64();
    judge.cpu.push_back((now, b.tree_cpu_secs));
    while judge.cpu.len() > 2 && judge.cpu.get(1).is_some_and(|(t, _)| now - t >= window) {
        judge.cpu.pop_front();
    }
    judge.stopped_since = match (b.state, judge.stopped_since) {
        (ProcState::Stopped, Some(t)) => Some(t),
        (ProcState::Stopped, None) => Some(now),
        _ => None,
    };
    judge.stopped_before_looking &= judge.stopped_since.is_some();
    let reasons = reasons_now(cfg, judge, b, now, last_activity);
    let candidate = !reasons.is_empty();
    // A deadlock never ends on its own: say so at once.
    let stopped_long = judge.stopped_before_looking && reasons.contains(&StaleReason::Stopped);
    let at_once = (reasons.contains(&StaleReason::Deadlock) || stopped_long) && !judge.stale;
    // Extra passes woken by file events must not speed up the hysteresis: only samples at least
    // half a sample interval apart count toward a change of verdict.
    if !at_once && now - judge.last_sample < cfg.sample_interval.as_secs_f64() / 2.0 {
        return (false, false);
    }
    judge.last_sample = now;
    if candidate == judge.stale {
        judge.streak = 0;
        if judge.stale {
            judge.reasons = reasons;
        }
        return (false, false);
    }
    judge.streak += 1;
    if judge.streak < cfg.samples && !at_once {
        return (false, false);
    }
    judge.streak = 0;
    judge.stale = candidate;
    if candidate {
        judge.reasons = reasons;
        (true, false)
    } else {
        judge.reasons.clear();
        (false, true)
    }
}

/// Idle: the samples span `window`, the tree used at most `idle_cpu_secs` over it, and nothing
/// happened within it (a write under the locks' domains, bytes for its children).
fn is_idle(
    cfg: &StaleConfig,
    judge: &Judge,
    now: f64,
    last_activity: Option<f64>,
    window: Duration,
) -> bool {
    let window = window.as_secs_f64();
    let Some(&(_, c1)) = judge.cpu.back() else {
        return false;
    };
    // The oldest sample at least `window` old: the CPU used since it.
    let Some(&(_, c0)) = judge.cpu.iter().rev().find(|(t, _)| now - t >= window) else {
        return false;
    };
    let quiet = last_activity.is_none_or(|t| now - t >= window);
    quiet && (c1 - c0) <= cfg.idle_cpu_secs
}

fn mode_word(m: LockMode) -> &'static str {
    match m {
        LockMode::Exclusive => "exclusive",
        LockMode::Shared => "shared",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const KEY: FileKey = FileKey { dev: 1, ino: 99 };

    fn state() -> State {
        let c = Config::defaults();
        State::new(c.stale)
    }

    fn id(pid: u32) -> ProcId {
        ProcId {
            pid,
            start_token: 1,
        }
    }

    /// A root blocker holding `KEY`.
    fn holder(pid: u32, state: ProcState, cpu: f64) -> BlockerSample {
        BlockerSample {
            id: id(pid),
            name: "cargo".into(),
            paths: vec!["/h/.package-cache".into()],
            locks: vec![KEY],
            blocked: vec![],
            state,
            started_at: 0.0,
            tree_cpu_secs: cpu,
            origin: Origin::Terminal,
            locker_dead: false,
            deleted_lock: false,
            deadlock: false,
            pipe_held_open: false,
            network_silent_secs: None,
            network: None,
            runs_child: false,
            tree_received_bytes: None,
            ignored: false,
            unseen: false,
            left_by: None,
            deadlock_cycle: false,
            git_fetch: None,
            net_settings: None,
        }
    }

    type Obs = (Vec<LockSample>, Vec<BlockerSample>);

    /// A process start long before any test's clock.
    const LONG_AGO: f64 = -1.0e9;

    /// cargo 11 (the waiter of [`lock`]) holding another lock.
    fn cargo_11(mode: LockMode) -> HolderSample {
        HolderSample {
            id: ProcId {
                pid: 11,
                start_token: 2,
            },
            name: "cargo".into(),
            cmd: vec![],
            started_at: LONG_AGO,
            inherited: false,
            mode,
            party: Party::default(),
        }
    }

    /// `KEY` held by these blockers, with these waiters.
    fn lock(blockers: Vec<BlockerSample>, waiters: &[u32]) -> Obs {
        let l = LockSample {
            key: KEY,
            path: "/h/.package-cache".into(),
            kind: LockKind::PackageCache,
            watched: true,
            holders: blockers
                .iter()
                .map(|b| HolderSample {
                    id: b.id,
                    name: b.name.clone(),
                    cmd: vec!["cargo".into(), "build".into()],
                    started_at: LONG_AGO,
                    inherited: false,
                    mode: LockMode::Exclusive,
                    party: Party::default(),
                })
                .collect(),
            waiters: waiters
                .iter()
                .map(|&pid| WaiterSample {
                    id: ProcId {
                        pid,
                        start_token: 2,
                    },
                    name: "cargo".into(),
                    started_at: LONG_AGO,
                    cmd: vec![],
                    blocked_by: blockers
                        .iter()
                        .map(|b| (b.name.clone(), b.id.pid))
                        .collect(),
                    blocked_by_cmd: vec![],
                    party: Party::default(),
                    blocker: Party::default(),
                    lock_description: String::new(),
                })
                .collect(),
        };
        let mut blockers = blockers;
        for b in &mut blockers {
            b.blocked = waiters.iter().map(|p| ("cargo".into(), *p)).collect();
        }
        (vec![l], blockers)
    }

    /// `KEY` held by `pid`, running and idle (no CPU used), with these waiters.
    fn held_by(pid: u32, waiters: &[u32]) -> Obs {
        lock(vec![holder(pid, ProcState::Running, 0.0)], waiters)
    }

    fn observe(s: &mut State, now: f64, (locks, blockers): Obs) -> Vec<Effect> {
        apply(
            s,
            Event::Observed {
                now,
                locks,
                blockers,
                stopped_waiters: Vec::new(),
            },
        )
    }

    /// Runs observations every `step` seconds from `t0` to `t1`, returning all effects.
    fn run(
        s: &mut State,
        t0: f64,
        t1: f64,
        step: f64,
        mut f: impl FnMut(f64) -> Obs,
    ) -> Vec<Effect> {
        let mut fx = Vec::new();
        let mut t = t0;
        while t <= t1 {
            fx.extend(observe(s, t, f(t)));
            t += step;
        }
        fx
    }

    fn stale_now(s: &State, pid: u32) -> bool {
        s.is_stale(id(pid))
    }

    /// Stale episodes that began (each one is a history line; notifications are decided by
    /// the UI notifier from the verdicts).
    fn notices(fx: &[Effect]) -> usize {
        fx.iter()
            .filter(|e| matches!(e, Effect::RecordHistory(HistoryEvent::Stale { .. })))
            .count()
    }

    #[test]
    fn the_time_a_cargo_waited_holding_mutate_shared_does_not_count_toward_stale_after() {
        // Cargo 10 holds the package-cache mutation lock shared from t=0 while it waits for
        // the build directory (held by 20); at t=90 it takes the build directory and runs an
        // idle build script; meanwhile a gc waits for the mutation lock exclusively.
        const MUTATE: FileKey = FileKey { dev: 1, ino: 98 };
        let mut s = state();
        let mutate = |holders: &[(u32, LockMode)], waiters: &[u32]| {
            let mut l = lock(vec![], waiters).0.remove(0);
            l.key = MUTATE;
            l.path = "/h/.package-cache-mutate".into();
            l.kind = LockKind::PackageCacheMutate;
            l.holders = (lock(
                holders
                    .iter()
                    .map(|(p, _)| holder(*p, ProcState::Sleeping, 1.0))
                    .collect(),
                &[],
            )
            .0)
                .remove(0)
                .holders;
            for (h, (_, mode)) in l.holders.iter_mut().zip(holders) {
                h.mode = *mode;
            }
            l
        };
        let building = |t: f64| {
            let (mut locks, blockers) = if t < 90.0 {
                lock(vec![holder(20, ProcState::Running, t)], &[10])
            } else {
                let mut b = holder(10, ProcState::Sleeping, 1.0);
                b.locks = vec![MUTATE, KEY];
                lock(vec![b], &[])
            };
            let gc = if t >= 90.0 { vec![30] } else { vec![] };
            locks.push(mutate(&[(10, LockMode::Shared)], &gc));
            (locks, blockers)
        };
        run(&mut s, 0.0, 200.0, 1.0, building);
        assert!(
            !stale_now(&s, 10),
            "held the build dir 110s, under stale_after (120s), however long it waited before"
        );
        run(&mut s, 201.0, 260.0, 1.0, building);
        assert!(
            stale_now(&s, 10),
            "idle for longer than stale_after since it took it"
        );
    }

    #[test]
    fn a_waiter_caught_between_waking_and_blocking_again_goes_on_with_its_wait() {
        // 10 holds, 11 waits; 10 lets go, 12 takes the lock first, and a pass sees 11 in the
        // moment between waking and blocking again.
        let mut s = state();
        observe(
            &mut s,
            0.0,
            lock(vec![holder(10, ProcState::Sleeping, 1.0)], &[11]),
        );
        observe(
            &mut s,
            10.0,
            lock(vec![holder(12, ProcState::Running, 1.0)], &[]),
        );
        observe(
            &mut s,
            10.5,
            lock(vec![holder(12, ProcState::Running, 1.0)], &[11]),
        );
        let since = s.wait_since();
        assert_eq!(since.get(&(KEY, 11)), Some(&0.0), "{since:?}");
        // Blocking again much later is a new wait.
        observe(
            &mut s,
            11.0,
            lock(vec![holder(12, ProcState::Running, 1.0)], &[]),
        );
        observe(
            &mut s,
            20.0,
            lock(vec![holder(12, ProcState::Running, 1.0)], &[11]),
        );
        assert_eq!(s.wait_since().get(&(KEY, 11)), Some(&20.0));
    }

    #[test]
    fn an_incident_is_open_while_someone_waits_or_a_verdict_is_pending() {
        let mut s = state();
        observe(
            &mut s,
            0.0,
            lock(vec![holder(10, ProcState::Sleeping, 5.0)], &[]),
        );
        assert!(s.busy());
        assert!(!s.incident_open(), "a quiet hold nobody waits for");
        observe(
            &mut s,
            2.0,
            lock(vec![holder(10, ProcState::Sleeping, 5.0)], &[11]),
        );
        assert!(s.incident_open(), "someone waits");
        observe(
            &mut s,
            4.0,
            lock(vec![holder(10, ProcState::Stopped, 5.0)], &[]),
        );
        assert!(s.incident_open(), "a stopped blocker is suspect");
        let fx = run(&mut s, 6.0, 40.0, 2.0, |_| {
            lock(vec![holder(10, ProcState::Stopped, 5.0)], &[])
        });
        assert_eq!(notices(&fx), 1);
        observe(
            &mut s,
            42.0,
            lock(vec![holder(10, ProcState::Sleeping, 5.0)], &[]),
        );
        assert!(
            s.incident_open(),
            "resumed: the stale verdict is about to clear"
        );
        run(&mut s, 44.0, 60.0, 2.0, |_| {
            lock(vec![holder(10, ProcState::Sleeping, 5.0)], &[])
        });
        assert!(!stale_now(&s, 10));
        assert!(!s.incident_open(), "quiet again");
    }

    #[test]
    fn busy_twenty_minute_build_is_never_stale() {
        let mut s = state();
        // Burns CPU steadily, with a waiter the whole time.
        let fx = run(&mut s, 0.0, 1200.0, 2.0, |t| {
            lock(vec![holder(10, ProcState::Running, t * 0.9)], &[11])
        });
        assert!(!stale_now(&s, 10));
        assert_eq!(notices(&fx), 0);
    }

    #[test]
    fn another_user_s_idle_holder_is_never_stale_for_idleness_but_is_when_stopped() {
        let mut s = state();
        // Its descriptors cannot be read: its quiet tree may be a network wait.
        let unseen = |state: ProcState| BlockerSample {
            unseen: true,
            ..holder(10, state, 5.0)
        };
        let fx = run(&mut s, 0.0, 600.0, 2.0, |_| {
            lock(vec![unseen(ProcState::Sleeping)], &[11])
        });
        assert!(!stale_now(&s, 10), "{:?}", s.verdicts());
        assert_eq!(notices(&fx), 0);
        run(&mut s, 602.0, 700.0, 2.0, |_| {
            lock(vec![unseen(ProcState::Stopped)], &[11])
        });
        assert_eq!(s.verdicts()[&10], vec![StaleReason::Stopped]);
    }

    /// A blocker whose build script runs, its tree using no CPU; `bytes(t)`: what the build
    /// script's connections have received by `t`.
    fn running_build_script(bytes: Option<u64>) -> BlockerSample {
        let mut b = holder(10, ProcState::Sleeping, 5.0);
        b.runs_child = true;
        b.tree_received_bytes = bytes;
        b
    }

    #[test]
    fn a_build_script_receiving_a_download_is_never_idle() {
        let mut s = state();
        // 64 bytes a second for 20 minutes, no CPU, nothing written until the end.
        let fx = run(&mut s, 0.0, 1_200.0, 2.0, |t| {
            lock(vec![running_build_script(Some(64 * t as u64))], &[11])
        });
        assert!(!stale_now(&s, 10), "{:?}", s.verdicts());
        assert_eq!(notices(&fx), 0);
    }

    #[test]
    fn a_quiet_build_script_is_given_idle_child_after_not_stale_after() {
        let mut s = state();
        let child_after = s.cfg.idle_child_after.as_secs_f64();
        assert!(child_after > s.cfg.stale_after.as_secs_f64() * 2.0);
        // Its download ended at 30 s; it has been quiet since: held far longer than
        // stale_after, quiet for less than idle_child_after.
        let bytes = |t: f64| Some(64 * t.min(30.0) as u64);
        let fx = run(&mut s, 0.0, 30.0 + child_after - 10.0, 2.0, |t| {
            lock(vec![running_build_script(bytes(t))], &[11])
        });
        assert!(!stale_now(&s, 10), "quiet, but not for idle_child_after");
        assert_eq!(notices(&fx), 0);
        run(
            &mut s,
            30.0 + child_after - 8.0,
            30.0 + child_after + 20.0,
            2.0,
            |t| lock(vec![running_build_script(bytes(t))], &[11]),
        );
        assert_eq!(s.verdicts()[&10], vec![StaleReason::Idle]);
    }

    #[test]
    fn idle_holder_becomes_stale_only_after_stale_after_and_samples() {
        let mut s = state();
        let fx = run(&mut s, 0.0, 100.0, 2.0, |_| {
            lock(vec![holder(10, ProcState::Sleeping, 5.0)], &[11])
        });
        assert!(!stale_now(&s, 10), "held for less than stale_after (2m)");
        assert_eq!(notices(&fx), 0);
        let fx = run(&mut s, 102.0, 130.0, 2.0, |_| {
            lock(vec![holder(10, ProcState::Sleeping, 5.0)], &[11])
        });
        assert!(stale_now(&s, 10));
        assert_eq!(s.verdicts()[&10], vec![StaleReason::Idle]);
        assert_eq!(
            notices(&fx),
            1,
            "one history line for the episode, not one per sample"
        );
        let blocked = fx.iter().find_map(|e| match e {
            Effect::RecordHistory(HistoryEvent::Stale { blocked, .. }) => Some(blocked.clone()),
            _ => None,
        });
        assert_eq!(
            blocked,
            Some(vec![("cargo".into(), 11)]),
            "names whom it blocks"
        );
    }

    /// A reload that raises `stale_after` past a stale holder's hold clears its verdict; the
    /// log says the reload did it, not that the holder recovered; a real recovery after a
    /// reload is still "recovered" (review P, R17).
    #[test]
    fn a_verdict_the_reload_clears_is_not_said_recovered() {
        let idle = |_| lock(vec![holder(10, ProcState::Sleeping, 5.0)], &[11]);
        let mut s = state();
        run(&mut s, 0.0, 130.0, 2.0, idle);
        assert!(stale_now(&s, 10));
        let mut cfg = Config::defaults().stale;
        cfg.stale_after = Duration::from_secs(300);
        s.set_config(cfg);
        let fx = run(&mut s, 132.0, 150.0, 2.0, idle);
        assert!(!stale_now(&s, 10), "held 150s, under the new 5m");
        let logs: Vec<&String> = (fx.iter())
            .filter_map(|e| match e {
                Effect::Log(l) => Some(l),
                _ => None,
            })
            .collect();
        assert!(
            logs.iter().any(|l| l.ends_with(
                "cargo 10 no longer counts as stale under stale.stale_after = \"5m\" (config reloaded)"
            )),
            "{logs:?}"
        );
        assert!(!logs.iter().any(|l| l.starts_with("recovered")), "{logs:?}");

        // Stale again under the new threshold, then it writes: that is a recovery.
        run(&mut s, 152.0, 330.0, 2.0, idle);
        assert!(stale_now(&s, 10));
        let mut fx = Vec::new();
        for t in [332.0, 334.0, 336.0, 338.0] {
            fx.extend(apply(&mut s, Event::Activity { now: t, key: KEY }));
            fx.extend(observe(&mut s, t, idle(t)));
        }
        assert!(!stale_now(&s, 10));
        assert!(
            fx.iter().any(|e| matches!(e, Effect::Log(l)
                if l.starts_with("recovered") && l.ends_with("cargo 10 no longer looks stale"))),
            "{fx:?}"
        );
    }

    #[test]
    fn a_waiter_is_never_judged_however_long_it_idles() {
        // The waiter (11) holds the mutation lock shared and sleeps for ten minutes: it is not
        // a blocker, so the policy is never asked about it.
        let mut s = state();
        let fx = run(&mut s, 0.0, 600.0, 2.0, |t| {
            let (mut locks, blockers) = lock(vec![holder(10, ProcState::Running, t)], &[11]);
            locks.push(LockSample {
                key: FileKey { dev: 1, ino: 100 },
                path: "/h/.package-cache-mutate".into(),
                kind: LockKind::PackageCacheMutate,
                watched: true,
                holders: vec![cargo_11(LockMode::Shared)],
                waiters: vec![],
            });
            (locks, blockers)
        });
        assert_eq!(notices(&fx), 0);
        assert!(!s.verdicts().contains_key(&11));
    }

    #[test]
    fn a_blocker_that_starts_waiting_loses_its_verdict() {
        let mut s = state();
        run(&mut s, 0.0, 20.0, 2.0, |_| {
            lock(vec![holder(10, ProcState::Stopped, 1.0)], &[11])
        });
        assert!(stale_now(&s, 10));
        // Now 10 is a waiter in a chain: no longer in the blockers list.
        let fx = observe(&mut s, 22.0, lock(vec![], &[10]));
        assert!(!stale_now(&s, 10));
        assert!(s.verdicts().is_empty());
        assert!(fx.contains(&Effect::UpdateUi));
    }

    #[test]
    fn file_activity_keeps_a_quiet_cpu_holder_alive() {
        let mut s = state();
        let mut fx = Vec::new();
        let mut t = 0.0;
        while t <= 400.0 {
            fx.extend(apply(&mut s, Event::Activity { now: t, key: KEY }));
            fx.extend(observe(
                &mut s,
                t,
                lock(vec![holder(10, ProcState::Sleeping, 1.0)], &[11]),
            ));
            t += 2.0;
        }
        assert!(
            !stale_now(&s, 10),
            "downloads write under the registry: not stale"
        );
        assert_eq!(notices(&fx), 0);
    }

    #[test]
    fn stopped_holder_is_stale_after_grace_and_recovers_on_continue() {
        let mut s = state();
        run(&mut s, 0.0, 8.0, 2.0, |_| {
            lock(vec![holder(10, ProcState::Stopped, 1.0)], &[])
        });
        assert!(!stale_now(&s, 10), "within the 10s grace");
        let fx = run(&mut s, 10.0, 20.0, 2.0, |_| {
            lock(vec![holder(10, ProcState::Stopped, 1.0)], &[])
        });
        assert!(stale_now(&s, 10));
        assert_eq!(s.verdicts()[&10], vec![StaleReason::Stopped]);
        assert_eq!(notices(&fx), 1, "one stale episode begins");
        let fx = run(&mut s, 22.0, 22.0, 2.0, |_| {
            lock(vec![holder(10, ProcState::Stopped, 1.0)], &[11])
        });
        assert_eq!(notices(&fx), 0, "a waiter arriving is not a new episode");
        assert!(stale_now(&s, 10));
        // Resumed: one blip of "running" does not clear it, three samples do.
        let fx = run(&mut s, 24.0, 26.0, 2.0, |t| {
            lock(vec![holder(10, ProcState::Running, t)], &[11])
        });
        assert!(stale_now(&s, 10), "hysteresis: two samples are not enough");
        assert!(
            fx.iter()
                .all(|e| !matches!(e, Effect::Log(l) if l.starts_with("recovered")))
        );
        run(&mut s, 28.0, 30.0, 2.0, |t| {
            lock(vec![holder(10, ProcState::Running, t)], &[11])
        });
        assert!(!stale_now(&s, 10));
    }

    #[test]
    fn short_stop_blip_is_not_stale() {
        let mut s = state();
        let fx = run(&mut s, 0.0, 60.0, 2.0, |t| {
            let st = if (10.0..14.0).contains(&t) {
                ProcState::Stopped
            } else {
                ProcState::Running
            };
            lock(vec![holder(10, st, t)], &[11])
        });
        assert!(!stale_now(&s, 10));
        assert_eq!(notices(&fx), 0);
    }

    #[test]
    fn a_deadlock_is_stale_at_once() {
        let mut s = state();
        let mut h = holder(10, ProcState::Sleeping, 0.0);
        h.deadlock = true;
        let fx = observe(&mut s, 0.0, lock(vec![h.clone()], &[11]));
        assert!(stale_now(&s, 10));
        assert_eq!(s.verdicts()[&10], vec![StaleReason::Deadlock]);
        assert_eq!(notices(&fx), 1);
        // The history says which deadlock it was: a cycle is no nested cargo (review Y, Y11).
        let cycle = |fx: &[Effect]| {
            fx.iter().find_map(|e| match e {
                Effect::RecordHistory(HistoryEvent::Stale { cycle, .. }) => Some(*cycle),
                _ => None,
            })
        };
        assert_eq!(cycle(&fx), Some(false));
        let mut s = state();
        h.deadlock_cycle = true;
        let fx = observe(&mut s, 0.0, lock(vec![h], &[11]));
        assert_eq!(cycle(&fx), Some(true));
    }

    #[test]
    fn inherited_descriptor_deleted_file_and_held_pipe_are_stale_after_samples() {
        let mut s = state();
        let mut h = holder(10, ProcState::Sleeping, 0.0);
        h.locker_dead = true;
        run(&mut s, 0.0, 2.0, 2.0, |_| lock(vec![h.clone()], &[]));
        assert!(!stale_now(&s, 10));
        run(&mut s, 4.0, 4.0, 2.0, |_| lock(vec![h.clone()], &[]));
        assert!(stale_now(&s, 10));
        let mut d = holder(20, ProcState::Running, 0.0);
        d.deleted_lock = true;
        d.pipe_held_open = true;
        run(&mut s, 6.0, 10.0, 2.0, |_| lock(vec![d.clone()], &[]));
        // A deleted lock file is no staleness (review V, V2).
        assert_eq!(s.verdicts()[&20], vec![StaleReason::PipeHeldOpen]);
    }

    #[test]
    fn orphan_needs_idle_too() {
        let mut s = state();
        let mut busy = holder(10, ProcState::Running, 0.0);
        busy.origin = Origin::Orphan;
        run(&mut s, 0.0, 200.0, 2.0, |t| {
            busy.tree_cpu_secs = t;
            lock(vec![busy.clone()], &[])
        });
        assert!(!stale_now(&s, 10), "a busy orphan is finishing its work");
        let mut s = state();
        let mut idle = holder(10, ProcState::Sleeping, 3.0);
        idle.origin = Origin::Orphan;
        run(&mut s, 0.0, 70.0, 2.0, |_| lock(vec![idle.clone()], &[]));
        assert_eq!(
            s.verdicts()[&10],
            vec![StaleReason::Orphan, StaleReason::Idle]
        );
    }

    #[test]
    fn ignored_processes_are_never_stale() {
        let mut s = state();
        let mut h = holder(10, ProcState::Stopped, 0.0);
        h.ignored = true;
        run(&mut s, 0.0, 600.0, 2.0, |_| lock(vec![h.clone()], &[11]));
        assert!(!stale_now(&s, 10));
    }

    #[test]
    fn release_and_wait_end_are_recorded_with_durations() {
        let mut s = state();
        run(&mut s, 100.0, 110.0, 2.0, |_| held_by(10, &[11]));
        let fx = observe(&mut s, 130.0, (vec![], vec![]));
        let released = fx.iter().find_map(|e| match e {
            Effect::RecordHistory(HistoryEvent::Released { held_secs, .. }) => Some(*held_secs),
            _ => None,
        });
        assert_eq!(released, Some(30.0));
        let waited = fx.iter().find_map(|e| match e {
            Effect::RecordHistory(HistoryEvent::WaitEnded {
                waited_secs,
                blocked_by,
                ..
            }) => Some((*waited_secs, blocked_by.clone())),
            _ => None,
        });
        assert_eq!(waited, Some((30.0, vec![("cargo".into(), 10)])));
        assert!(fx.contains(&Effect::UpdateUi));
        assert!(!s.busy());
    }

    #[test]
    fn recovered_hold_keeps_its_start_and_is_not_recorded_twice() {
        let mut s = state();
        apply(
            &mut s,
            Event::Recovered {
                holds: vec![(KEY, id(10), 50.0, true)],
                waits: vec![],
            },
        );
        let fx = observe(&mut s, 100.0, held_by(10, &[]));
        assert_eq!(s.hold_since()[&(KEY, 10)], 50.0);
        assert!(
            !fx.iter()
                .any(|e| matches!(e, Effect::RecordHistory(HistoryEvent::Acquired { .. })))
        );
    }

    #[test]
    fn what_the_first_pass_finds_began_earlier_and_is_marked_so() {
        let mut s = state();
        let fx = observe(&mut s, 100.0, held_by(10, &[11]));
        assert_eq!(s.hold_since()[&(KEY, 10)], 100.0);
        let unknown = s.since_unknown();
        assert!(unknown.contains(&(KEY, 10)) && unknown.contains(&(KEY, 11)));
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::RecordHistory(HistoryEvent::Acquired {
                since_known: false,
                ..
            })
        )));
        // A hold that begins later is timed from its real start.
        let mut later = held_by(20, &[]);
        later.0[0].key = FileKey { dev: 1, ino: 7 };
        later.1[0].locks = vec![later.0[0].key];
        let mut both = held_by(10, &[11]);
        both.0.extend(later.0);
        both.1.extend(later.1);
        observe(&mut s, 105.0, both);
        assert!(
            !s.since_unknown()
                .contains(&(FileKey { dev: 1, ino: 7 }, 20))
        );
        assert!(s.since_unknown().contains(&(KEY, 10)));
    }

    #[test]
    fn a_wait_behind_a_new_blocker_is_credited_to_each_in_turn() {
        let mut s = state();
        observe(&mut s, 100.0, held_by(10, &[11]));
        let fx = observe(&mut s, 103.0, held_by(20, &[11]));
        let ended: Vec<(f64, Vec<u32>)> = fx
            .iter()
            .filter_map(|e| match e {
                Effect::RecordHistory(HistoryEvent::WaitEnded {
                    waited_secs,
                    blocked_by,
                    ..
                }) => Some((*waited_secs, blocked_by.iter().map(|b| b.1).collect())),
                _ => None,
            })
            .collect();
        assert_eq!(ended, [(3.0, vec![10])], "three seconds behind 10");
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::Log(l) if l.contains("now waits for")))
        );
        let fx = observe(&mut s, 117.0, (Vec::new(), Vec::new()));
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::RecordHistory(HistoryEvent::WaitEnded { waited_secs, blocked_by, .. })
                if *waited_secs == 14.0 && blocked_by.iter().map(|b| b.1).eq([20])
        )));
    }

    /// The waits of `pid` on `KEY`, as history lines, in order.
    fn wait_lines(fx: &[Effect], pid: u32) -> Vec<&HistoryEvent> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::RecordHistory(
                    h @ (HistoryEvent::WaitStarted { waiter, .. }
                    | HistoryEvent::WaitEnded { waiter, .. }),
                ) if waiter.pid == pid => Some(h),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_wait_goes_on_from_its_start_when_the_lock_passes_to_another_holder() {
        // 11 and 12 queue behind 10; 10 finishes, 12 takes the lock, 11 waits on behind 12,
        // then behind 13.
        let mut s = state();
        observe(&mut s, 0.0, (Vec::new(), Vec::new()));
        let mut fx = observe(&mut s, 100.0, held_by(10, &[11, 12]));
        fx.extend(observe(&mut s, 140.0, held_by(12, &[11])));
        assert_eq!(
            s.wait_since()[&(KEY, 11)],
            100.0,
            "the wait the user sees began when 11 began waiting for the lock"
        );
        assert!(!s.since_unknown().contains(&(KEY, 11)));
        assert!(
            fx.iter().any(|e| matches!(e, Effect::Log(l)
                if l.contains("cargo 11 now waits for cargo 12 (waiting 40s in all)"))),
            "{fx:?}"
        );
        fx.extend(observe(&mut s, 150.0, held_by(13, &[11])));
        assert_eq!(s.wait_since()[&(KEY, 11)], 100.0);
        fx.extend(observe(&mut s, 160.0, (Vec::new(), Vec::new())));
        // History: one part behind each holder, each but the last going on; the parts add up
        // to the whole wait, and each new part says when the wait began.
        let parts: Vec<(f64, u32, bool)> = wait_lines(&fx, 11)
            .into_iter()
            .filter_map(|e| match e {
                HistoryEvent::WaitEnded {
                    waited_secs,
                    blocked_by,
                    goes_on,
                    ..
                } => Some((*waited_secs, blocked_by[0].1, *goes_on)),
                _ => None,
            })
            .collect();
        assert_eq!(
            parts,
            [(40.0, 10, true), (10.0, 12, true), (10.0, 13, false)]
        );
        let began: Vec<Option<f64>> = wait_lines(&fx, 11)
            .into_iter()
            .filter_map(|e| match e {
                HistoryEvent::WaitStarted { began, .. } => Some(*began),
                _ => None,
            })
            .collect();
        assert_eq!(began, [None, Some(100.0), Some(100.0)]);
        // 12's wait ended when it took the lock: not a wait that goes on.
        assert!(wait_lines(&fx, 12).iter().any(|e| matches!(
            e,
            HistoryEvent::WaitEnded {
                goes_on: false,
                waited_secs: 40.0,
                ..
            }
        )));
    }

    #[test]
    fn a_wait_found_under_way_stays_a_lower_bound_behind_the_next_holder() {
        let mut s = state();
        observe(&mut s, 100.0, held_by(10, &[11]));
        let fx = observe(&mut s, 130.0, held_by(12, &[11]));
        assert_eq!(s.wait_since()[&(KEY, 11)], 100.0);
        assert!(
            s.since_unknown().contains(&(KEY, 11)),
            "it waited at least since 100"
        );
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::RecordHistory(HistoryEvent::WaitStarted {
                since_known: true,
                began: Some(100.0),
                began_known: false,
                ..
            })
        )));
    }

    #[test]
    fn a_waiter_stopped_with_ctrl_z_and_continued_goes_on_with_its_wait() {
        let cargo_11 = ProcId {
            pid: 11,
            start_token: 2,
        };
        let held = || held_by(10, &[11]);
        let held_alone = || held_by(10, &[]);
        let mut s = state();
        observe(&mut s, 100.0, held());
        assert_eq!(s.waiters(), [cargo_11]);
        // Stopped for a minute: the kernel dropped its request, so it is not waiting.
        let stopped = |s: &mut State, now: f64| {
            let (locks, blockers) = held_alone();
            apply(
                s,
                Event::Observed {
                    now,
                    locks,
                    blockers,
                    stopped_waiters: vec![cargo_11],
                },
            )
        };
        let mut history = stopped(&mut s, 110.0);
        assert_eq!(
            s.wait_since()[&(KEY, 11)],
            100.0,
            "shown waiting since it blocked"
        );
        assert_eq!(s.waiters(), [cargo_11], "still watched while stopped");
        history.extend(stopped(&mut s, 170.0));
        // Continued: a pass may catch it between the continue and its new request.
        history.extend(observe(&mut s, 171.0, held_alone()));
        history.extend(observe(&mut s, 172.0, held()));
        assert_eq!(s.wait_since()[&(KEY, 11)], 100.0);
        // Its history is one wait of 80 s (review I, J4): the part before the stop goes on,
        // and the part after it began when it was stopped.
        history.extend(observe(&mut s, 180.0, held_alone()));
        let events: Vec<HistoryEvent> = (history.into_iter())
            .filter_map(|e| match e {
                Effect::RecordHistory(h) => Some(h),
                _ => None,
            })
            .collect();
        let sum = crate::core::insight::summarize(&events, 0.0, 0);
        assert_eq!((sum.waits, sum.total_wait_secs), (1, 80.0), "{events:#?}");
        // One that was not stopped, back after the same minute, waits anew.
        let mut s = state();
        observe(&mut s, 100.0, held());
        observe(&mut s, 110.0, held_alone());
        observe(&mut s, 172.0, held());
        assert_eq!(s.wait_since()[&(KEY, 11)], 172.0);
    }

    /// Behind the same lock all along, whoever holds it: one wait, no separate whole time.
    #[test]
    fn a_wait_behind_another_holder_of_the_same_lock_goes_on() {
        let mut s = state();
        observe(&mut s, 99.0, (Vec::new(), Vec::new()));
        observe(
            &mut s,
            100.0,
            lock(vec![holder(12, ProcState::Running, 0.0)], &[11]),
        );
        observe(
            &mut s,
            120.0,
            lock(vec![holder(13, ProcState::Running, 0.0)], &[11]),
        );
        assert_eq!(s.wait_since()[&(KEY, 11)], 100.0);
        assert!(s.blocked_since().is_empty());
    }

    /// Every "waiting" line of the log is closed: by the waiter's hold, or by a line saying it
    /// was suspended or no longer waits (review V, V4: one ended with Ctrl-C left it open).
    #[test]
    fn a_wait_that_ends_without_the_lock_closes_its_log_line() {
        let cargo_11 = ProcId {
            pid: 11,
            start_token: 2,
        };
        let logs = |fx: Vec<Effect>| -> Vec<String> {
            (fx.into_iter())
                .filter_map(|e| match e {
                    Effect::Log(l) => Some(l),
                    _ => None,
                })
                .collect()
        };
        let held = |waiters: &[u32]| held_by(10, waiters);
        let mut s = state();
        observe(&mut s, 100.0, held(&[11]));
        let (locks, blockers) = held(&[]);
        let fx = apply(
            &mut s,
            Event::Observed {
                now: 104.0,
                locks,
                blockers,
                stopped_waiters: vec![cargo_11],
            },
        );
        assert_eq!(
            logs(fx),
            [
                "suspended package cache  /h/.package-cache  cargo 11 is suspended (Ctrl-Z) while waiting \
              (waited ≥ 4s for cargo 10)"
            ]
        );
        // Interrupted (Ctrl-C) while waiting: said once it is clear it does not block
        // again (review 14, C3), as things stood when it ended.
        let mut s = state();
        observe(&mut s, 100.0, held(&[11]));
        assert!(logs(observe(&mut s, 104.0, held(&[]))).is_empty());
        assert!(logs(observe(&mut s, 106.0, held(&[]))).is_empty());
        let over = logs(observe(&mut s, 107.0, held(&[])));
        assert_eq!(
            over,
            [
                "ended     package cache  /h/.package-cache  cargo 11 no longer waits (waited ≥ 4s for \
                 cargo 10, which still holds it)"
            ]
        );
        // Its holder let go and nobody is seen holding: it most likely took the lock for a
        // moment, as a build with nothing to download does (review X, X1).
        let mut s = state();
        observe(&mut s, 100.0, held(&[11]));
        let mut over = logs(observe(&mut s, 104.0, (Vec::new(), Vec::new())));
        over.extend(logs(observe(&mut s, 107.0, (Vec::new(), Vec::new()))));
        assert_eq!(
            over,
            [
                "released  /h/.package-cache  by cargo 10 after ≥ 4s",
                "went on   package cache  /h/.package-cache  cargo 11 went on as cargo 10 let go (waited ≥ 4s)"
            ]
        );
        // It got the lock: its "acquired" line closes the wait, with no other.
        let mut s = state();
        observe(&mut s, 100.0, held(&[11]));
        let mut got = held_by(11, &[]);
        got.0[0].holders[0].id = cargo_11;
        let lines = logs(observe(&mut s, 104.0, got));
        assert!(lines.iter().all(|l| !l.contains("waits")), "{lines:?}");
    }

    /// The log lines of `fx`, in order.
    fn log_lines(fx: &[Effect]) -> Vec<&str> {
        (fx.iter())
            .filter_map(|e| match e {
                Effect::Log(l) => Some(l.as_str()),
                _ => None,
            })
            .collect()
    }

    /// A wait's "waiting" line and the line that closes it name the lock alike, in the words
    /// the waiting cargo printed, else the kind's (review C7).
    #[test]
    fn a_wait_s_opening_and_closing_lines_name_the_lock_alike() {
        for (description, words) in [
            ("package cache mutation", "package cache mutation"),
            ("", "shared package cache"),
        ] {
            let mut held = held_by(10, &[11]);
            held.0[0].kind = LockKind::PackageCacheMutate;
            held.0[0].waiters[0].lock_description = description.into();
            let mut alone = held.clone();
            alone.0[0].waiters.clear();
            let mut s = state();
            let mut fx = observe(&mut s, 100.0, held);
            for now in [104.0, 105.0, 106.0, 107.0] {
                fx.extend(observe(&mut s, now, alone.clone()));
            }
            let lines: Vec<&str> = (log_lines(&fx).into_iter())
                .filter(|l| l.contains("cargo 11"))
                .collect();
            assert_eq!(lines.len(), 2, "{lines:?}");
            assert!(
                lines[0].starts_with(&format!("waiting   {words}  ")),
                "{lines:?}"
            );
            assert!(
                lines[1].starts_with(&format!("ended     {words}  ")),
                "{lines:?}"
            );
        }
    }

    #[test]
    fn the_blockers_of_a_wait_are_said_alike_in_every_log_line() {
        assert_eq!(blockers_words(&[]), "an unseen holder");
        let two = [("cargo".into(), 10), ("rustc".into(), 12)];
        assert_eq!(blockers_words(&two), "cargo 10, rustc 12");
    }

    /// A waiter that lost the race for the lock and blocks again has one wait in the log: no
    /// "ended" or "went on" line before its "now waits" line (review 14, C3).
    #[test]
    fn a_waiter_that_loses_the_race_is_not_said_to_have_ended_its_wait() {
        let mut s = state();
        observe(&mut s, 99.0, (Vec::new(), Vec::new()));
        let mut fx = observe(&mut s, 100.0, held_by(10, &[11]));
        fx.extend(observe(&mut s, 110.0, held_by(12, &[])));
        fx.extend(observe(&mut s, 111.0, held_by(12, &[11])));
        fx.extend(observe(&mut s, 115.0, held_by(12, &[11])));
        let lines: Vec<&str> = (log_lines(&fx).into_iter())
            .filter(|l| l.contains("cargo 11"))
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[1].ends_with("cargo 11 now waits for cargo 12 (waiting 11s in all)"),
            "{lines:?}"
        );
    }

    /// A waiter whose holder lockwatch just killed is not said to have left "which still holds
    /// it" when a look still shows the dying holder (review AA, AA5).
    #[test]
    fn a_waiter_behind_a_killed_holder_went_on() {
        let mut s = state();
        observe(&mut s, 99.0, (Vec::new(), Vec::new()));
        let mut fx = observe(&mut s, 100.0, held_by(10, &[11]));
        s.note_signalled(10);
        for now in [104.0, 105.0, 107.0] {
            fx.extend(observe(&mut s, now, held_by(10, &[])));
        }
        let lines = log_lines(&fx);
        let closing = lines
            .iter()
            .find(|l| l.contains("cargo 11 ") && !l.starts_with("waiting"));
        assert!(
            closing.is_some_and(|l| l.starts_with("went on ")),
            "{lines:?}"
        );
    }

    /// A daemon that stops while a closing line is held back still writes it (review 15, D10).
    #[test]
    fn a_held_back_closing_line_is_given_to_a_daemon_that_stops() {
        let mut s = state();
        observe(&mut s, 99.0, (Vec::new(), Vec::new()));
        let fx = [
            observe(&mut s, 100.0, held_by(10, &[11])),
            observe(&mut s, 104.0, held_by(10, &[])),
        ]
        .concat();
        assert!(
            !log_lines(&fx).iter().any(|l| l.starts_with("ended")),
            "held back"
        );
        let lines = s.held_lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("ended     "), "{lines:?}");
        assert!(s.held_lines().is_empty(), "said once");
    }

    /// Passes come at the poll interval while a wait's closing line is held back, so it is
    /// written in time (review 14, C3).
    #[test]
    fn the_incident_stays_open_while_a_wait_s_closing_line_is_held_back() {
        let mut s = state();
        observe(&mut s, 100.0, held_by(10, &[11]));
        observe(&mut s, 104.0, held_by(10, &[]));
        assert!(s.incident_open(), "the wait may go on");
        observe(&mut s, 107.0, held_by(10, &[]));
        assert!(!s.incident_open(), "its line is written");
    }

    /// One that left while another than those it waited for held the lock is not said to
    /// have left a holder that let go "which still holds it" (review 14, C3), nor to have
    /// ended its wait: it went on after the one that took the lock first (review Z, Z2).
    #[test]
    fn a_waiter_that_leaves_after_another_took_the_lock_says_who_took_it() {
        let mut s = state();
        observe(&mut s, 99.0, (Vec::new(), Vec::new()));
        let mut fx = observe(&mut s, 100.0, held_by(10, &[11]));
        for now in [110.0, 111.0, 113.0] {
            fx.extend(observe(&mut s, now, held_by(12, &[])));
        }
        assert_eq!(
            log_lines(&fx).last(),
            Some(
                &"went on   package cache  /h/.package-cache  cargo 11 went on after cargo 12 \
                  as cargo 10 let go (waited 10s for cargo 10)"
            )
        );
    }

    /// The closing line says how long the waiter waited for the lock and how much of that
    /// behind those it names (review 14, C3).
    #[test]
    fn a_wait_s_closing_line_times_its_last_holder_apart() {
        let mut s = state();
        observe(&mut s, 99.0, (Vec::new(), Vec::new()));
        let mut fx = observe(&mut s, 100.0, held_by(10, &[11]));
        fx.extend(observe(&mut s, 140.0, held_by(12, &[11])));
        for now in [144.0, 147.0] {
            fx.extend(observe(&mut s, now, held_by(12, &[])));
        }
        assert!(
            log_lines(&fx).last().unwrap().ends_with(
                "cargo 11 no longer waits (waited 44s, the last 4s for cargo 12, which still \
                 holds it)"
            ),
            "{fx:?}"
        );
    }

    /// Stopped while its holder let go and a later one took the lock: the time stopped on the
    /// free lock is nobody's, and the later holder is charged only from its own hold's start
    /// (review U, U1).
    #[test]
    fn a_stopped_waiter_is_charged_only_to_a_hold_it_was_stopped_behind() {
        let cargo_11 = ProcId {
            pid: 11,
            start_token: 2,
        };
        let stopped = |s: &mut State, now: f64, (locks, blockers): Obs| {
            apply(
                s,
                Event::Observed {
                    now,
                    locks,
                    blockers,
                    stopped_waiters: vec![cargo_11],
                },
            )
        };
        let mut s = state();
        let mut history = observe(&mut s, 100.0, held_by(10, &[11]));
        history.extend(stopped(&mut s, 110.0, held_by(10, &[])));
        history.extend(stopped(&mut s, 120.0, lock(vec![], &[])));
        history.extend(stopped(&mut s, 150.0, held_by(12, &[])));
        history.extend(observe(&mut s, 170.0, held_by(12, &[11])));
        history.extend(observe(&mut s, 175.0, lock(vec![], &[])));
        let events: Vec<HistoryEvent> = (history.into_iter())
            .filter_map(|e| match e {
                Effect::RecordHistory(h) => Some(h),
                _ => None,
            })
            .collect();
        let sum = crate::core::insight::summarize(&events, 0.0, 0);
        // 10 s behind 10 before the stop, 25 s behind 12 from its hold's start: not 75 s.
        assert_eq!((sum.waits, sum.total_wait_secs), (1, 35.0), "{events:#?}");
    }

    #[test]
    fn a_recovered_wait_keeps_its_whole_start_and_its_part() {
        let mut s = state();
        apply(
            &mut s,
            Event::Recovered {
                holds: vec![],
                waits: vec![(
                    (
                        KEY,
                        ProcId {
                            pid: 11,
                            start_token: 2,
                        },
                        80.0,
                        true,
                    ),
                    50.0,
                    true,
                    50.0,
                )],
            },
        );
        observe(&mut s, 100.0, held_by(10, &[11]));
        assert_eq!(s.wait_since()[&(KEY, 11)], 50.0);
        assert!(!s.since_unknown().contains(&(KEY, 11)));
        let fx = observe(&mut s, 110.0, (Vec::new(), Vec::new()));
        assert!(
            fx.iter().any(|e| matches!(
                e,
                Effect::RecordHistory(HistoryEvent::WaitEnded {
                    waited_secs: 30.0,
                    ..
                })
            )),
            "the last part is timed from its own start: {fx:?}"
        );
    }

    #[test]
    fn the_log_writes_path_bytes_that_are_not_utf8_as_the_other_views_do() {
        use std::os::unix::ffi::OsStrExt;
        let mut s = state();
        let mut held = held_by(10, &[11]);
        held.0[0].path = std::ffi::OsStr::from_bytes(b"/h\xff3/.package-cache").into();
        let mut fx = observe(&mut s, 100.0, held);
        fx.extend(observe(&mut s, 105.0, (Vec::new(), Vec::new())));
        let logs: Vec<&String> = (fx.iter())
            .filter_map(|e| match e {
                Effect::Log(l) => Some(l),
                _ => None,
            })
            .collect();
        assert!(logs.len() >= 2, "{logs:?}");
        for l in logs.iter().filter(|l| l.contains("/h")) {
            assert!(l.contains(r"/h\xff3/.package-cache"), "{l}");
        }
    }

    #[test]
    fn a_hold_first_seen_on_an_unwatched_file_began_earlier() {
        // A project's build lock that no watch covered is found by a periodic pass: its hold
        // and its wait began at some time before, not now.
        let mut s = state();
        observe(&mut s, 100.0, (Vec::new(), Vec::new()));
        let mut found = held_by(10, &[11]);
        found.0[0].watched = false;
        let fx = observe(&mut s, 115.0, found);
        let unknown = s.since_unknown();
        assert!(unknown.contains(&(KEY, 10)) && unknown.contains(&(KEY, 11)));
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::Log(l) if l.starts_with("holding")))
        );
        // Once watched, the next hold on it is timed from its start.
        let fx = observe(&mut s, 120.0, (Vec::new(), Vec::new()));
        assert!(hold_and_wait_ended(&fx, false), "{fx:?}");
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::Log(l) if l.contains("after ≥ 5s"))),
            "the log says it lasted at least that long: {fx:?}"
        );
        observe(&mut s, 121.0, held_by(20, &[]));
        assert!(!s.since_unknown().contains(&(KEY, 20)));
    }

    #[test]
    fn a_hold_first_seen_on_an_unwatched_file_by_a_young_process_began_then() {
        // The first build of a new project: cargo started half a second before the periodic
        // pass found its build lock, so the hold (and its waiter's wait) began at that pass.
        let mut s = state();
        observe(&mut s, 100.0, (Vec::new(), Vec::new()));
        let mut found = held_by(10, &[11]);
        found.0[0].watched = false;
        found.0[0].holders[0].started_at = 114.5;
        found.0[0].waiters[0].started_at = 114.8;
        let fx = observe(&mut s, 115.0, found);
        assert!(s.since_unknown().is_empty(), "{:?}", s.since_unknown());
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::Log(l) if l.starts_with("acquired"))),
            "{fx:?}"
        );
        let fx = observe(&mut s, 120.0, (Vec::new(), Vec::new()));
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::Log(l) if l.contains("after 5s"))),
            "the log says how long it lasted: {fx:?}"
        );
        assert!(hold_and_wait_ended(&fx, true), "{fx:?}");
    }

    #[test]
    fn a_cargo_that_got_the_package_cache_and_waits_for_its_build_dir_is_blocked_since_the_first() {
        // cargo 11 waits for the package cache from 100; gets it at 124; at 125 it waits
        // for its build directory, which cargo 12 took first: blocked since 100, as its
        // terminal has shown "Blocking" since then.
        let mut s = state();
        run(&mut s, 100.0, 122.0, 2.0, |_| {
            lock(vec![holder(10, ProcState::Sleeping, 5.0)], &[11])
        });
        let (mut got_it, _) = lock(Vec::new(), &[]);
        got_it[0].holders = vec![cargo_11(LockMode::Exclusive)];
        observe(&mut s, 124.0, (got_it, Vec::new()));
        let build_key = FileKey { dev: 1, ino: 300 };
        let mut build = lock(vec![holder(12, ProcState::Running, 5.0)], &[11]).0;
        build[0].key = build_key;
        build[0].path = "/p/target/debug/.cargo-lock".into();
        observe(&mut s, 125.0, (build.clone(), Vec::new()));
        // Its wait for the build directory began at 125: cargo 12 is not charged with the
        // wait for the package cache before it (review X, X2).
        assert_eq!(s.wait_since()[&(build_key, 11)], 125.0);
        assert_eq!(s.blocked_since()[&(build_key, 11)], 100.0);
        // Suspended (Ctrl-Z) and continued (`fg`): both times go on as they were.
        let mut s3 = s.clone();
        let cargo_11 = ProcId {
            pid: 11,
            start_token: 2,
        };
        let mut alone = build.clone();
        alone[0].waiters.clear();
        apply(
            &mut s3,
            Event::Observed {
                now: 130.0,
                locks: alone.clone(),
                blockers: Vec::new(),
                stopped_waiters: vec![cargo_11],
            },
        );
        assert_eq!(s3.wait_since()[&(build_key, 11)], 125.0, "while stopped");
        observe(&mut s3, 140.0, (alone, Vec::new()));
        observe(&mut s3, 141.0, (build.clone(), Vec::new()));
        assert_eq!(s3.wait_since()[&(build_key, 11)], 125.0, "continued");
        assert_eq!(s3.blocked_since()[&(build_key, 11)], 100.0);
        // Blocking again much later is another wait.
        let mut s2 = state();
        run(&mut s2, 100.0, 110.0, 2.0, |_| {
            lock(vec![holder(10, ProcState::Sleeping, 5.0)], &[11])
        });
        observe(&mut s2, 130.0, (Vec::new(), Vec::new()));
        observe(&mut s2, 140.0, (build, Vec::new()));
        assert_eq!(s2.wait_since()[&(build_key, 11)], 140.0);
        assert!(s2.blocked_since().is_empty());
    }

    /// A daemon restarted while a cargo waits for its build directory, behind another holder
    /// than the one it first waited for there, after a wait for the package cache: its wait
    /// for the build directory comes back from its own start (review 14, C2).
    #[test]
    fn a_chained_wait_that_went_on_keeps_its_start_on_the_lock_across_a_restart() {
        let mut s = state();
        let mut fx = run(&mut s, 100.0, 122.0, 2.0, |_| {
            lock(vec![holder(10, ProcState::Sleeping, 5.0)], &[11])
        });
        let (mut got_it, _) = lock(Vec::new(), &[]);
        got_it[0].holders = vec![cargo_11(LockMode::Exclusive)];
        fx.extend(observe(&mut s, 124.0, (got_it, Vec::new())));
        let build_key = FileKey { dev: 1, ino: 300 };
        let build = |holder_pid: u32| {
            let mut build = lock(vec![holder(holder_pid, ProcState::Running, 5.0)], &[11]);
            build.0[0].key = build_key;
            build.0[0].path = "/p/target/debug/.cargo-lock".into();
            build
        };
        fx.extend(observe(&mut s, 125.0, build(12)));
        fx.extend(observe(&mut s, 140.0, build(13)));
        let history: Vec<HistoryEvent> = (fx.into_iter())
            .filter_map(|e| match e {
                Effect::RecordHistory(h) => Some(h),
                _ => None,
            })
            .collect();
        let (holds, waits) = crate::daemon::history::open_episodes(&history);
        let mut restarted = state();
        apply(&mut restarted, Event::Recovered { holds, waits });
        observe(&mut restarted, 150.0, build(13));
        assert_eq!(restarted.wait_since()[&(build_key, 11)], 125.0);
        assert_eq!(restarted.blocked_since()[&(build_key, 11)], 100.0);
    }

    #[test]
    fn a_waiter_that_takes_an_unwatched_lock_took_it_since_the_last_pass() {
        // cargo 11 waited for the package cache; now it holds its new project's build lock,
        // a file no watch covered: the last pass saw 11 without it, so it took it since.
        let mut s = state();
        observe(&mut s, 100.0, held_by(10, &[11]));
        let build = LockSample {
            key: FileKey { dev: 1, ino: 200 },
            path: "/p/target/debug/.cargo-lock".into(),
            kind: LockKind::BuildDirectory,
            watched: false,
            holders: vec![cargo_11(LockMode::Exclusive)],
            waiters: vec![],
        };
        let fx = observe(&mut s, 102.0, (vec![build.clone()], Vec::new()));
        assert!(s.since_unknown().is_empty(), "{:?}", s.since_unknown());
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::Log(l) if l.starts_with("acquired"))),
            "{fx:?}"
        );
        // A pass between that shows it holding nothing (the package cache released, the
        // build directory not taken yet): it was still seen, and holds nothing older.
        let mut s = state();
        observe(&mut s, 100.0, held_by(10, &[11]));
        observe(&mut s, 101.0, (Vec::new(), Vec::new()));
        observe(&mut s, 102.0, (vec![build.clone()], Vec::new()));
        assert!(s.since_unknown().is_empty(), "{:?}", s.since_unknown());
        // A process no pass saw at all: its hold may be older.
        let mut s = state();
        observe(&mut s, 100.0, (Vec::new(), Vec::new()));
        observe(&mut s, 102.0, (vec![build], Vec::new()));
        assert_eq!(s.since_unknown().len(), 1);
    }

    #[test]
    fn a_dead_locker_s_heir_is_logged_as_inheriting_the_lock_not_acquiring_it() {
        let mut s = state();
        observe(&mut s, 100.0, (Vec::new(), Vec::new()));
        let mut found = lock(vec![holder(10, ProcState::Sleeping, 0.0)], &[]);
        found.0[0].holders[0].inherited = true;
        let fx = observe(&mut s, 101.0, found);
        assert!(
            fx.iter().any(|e| matches!(e, Effect::Log(l)
                if l.starts_with("inherited package cache") && l.contains("by cargo 10"))),
            "{fx:?}"
        );
    }

    #[test]
    fn a_hold_s_length_is_said_as_a_lower_bound_only_when_it_says_something() {
        assert_eq!(hold_length(5.0, true), "after 5s");
        assert_eq!(hold_length(0.2, true), "after 0s");
        assert_eq!(hold_length(65.0, false), "after ≥ 1m05s");
        assert_eq!(
            hold_length(0.4, false),
            "(held since before the daemon saw it)"
        );
    }

    /// Whether `fx` records a hold's and a wait's end, timed from their start (`known`) or
    /// from the daemon's first look.
    fn hold_and_wait_ended(fx: &[Effect], known: bool) -> bool {
        let released = fx.iter().any(|e| {
            matches!(e, Effect::RecordHistory(HistoryEvent::Released { since_known, .. }) if *since_known == known)
        });
        let wait_ended = fx.iter().any(|e| {
            matches!(e, Effect::RecordHistory(HistoryEvent::WaitEnded { since_known, .. }) if *since_known == known)
        });
        released && wait_ended
    }

    #[test]
    fn rapid_event_passes_do_not_shortcut_the_samples() {
        let mut s = state();
        let mut h = holder(10, ProcState::Sleeping, 0.0);
        h.locker_dead = true;
        run(&mut s, 0.0, 0.5, 0.01, |_| lock(vec![h.clone()], &[]));
        assert!(
            !stale_now(&s, 10),
            "fifty passes in half a second are one sample"
        );
    }

    #[test]
    fn a_reused_pid_is_a_new_hold() {
        let mut s = state();
        run(&mut s, 0.0, 4.0, 2.0, |_| held_by(10, &[]));
        let mut other = holder(10, ProcState::Running, 0.0);
        other.id.start_token = 999;
        let fx = observe(&mut s, 6.0, lock(vec![other], &[]));
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::RecordHistory(HistoryEvent::Released { .. })))
        );
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::RecordHistory(HistoryEvent::Acquired { .. })))
        );
    }

    /// A blocker talking to 127.0.0.1:18765 and nothing else: `open` is (socket, seconds since
    /// data last arrived, bytes received) of its connection; `None` in a pause between tries.
    fn on_the_network(open: Option<(u64, f64, u64)>) -> BlockerSample {
        let mut b = holder(10, ProcState::Sleeping, 5.0);
        let peers = open.map(|(socket, idle, bytes)| Peer {
            remote: "127.0.0.1:18765".into(),
            idle_for_secs: Some(idle),
            socket: Some(socket),
            received_bytes: Some(bytes),
        });
        b.network_silent_secs = peers.as_ref().and_then(|p| p.idle_for_secs);
        b.network = Some(peers.into_iter().collect());
        b
    }

    /// Cargo against a registry that never answers: tries of 30 s (`http.timeout`), each on a
    /// new connection, with pauses of 1.5 s between them.
    fn hung_registry(t: f64) -> BlockerSample {
        let k = (t / 31.5).floor();
        let into = t - k * 31.5;
        let open = (into < 30.0).then_some((100 + k as u64, into, 0));
        on_the_network(open)
    }

    #[test]
    fn a_network_wait_found_late_is_timed_by_the_kernel_not_by_the_first_sight() {
        // The first pass finds a hold whose start it cannot know, on a connection the kernel
        // says has received nothing for 16 s (review H, I4).
        let mut s = state();
        observe(
            &mut s,
            100.0,
            lock(vec![on_the_network(Some((7, 16.0, 0)))], &[11]),
        );
        observe(
            &mut s,
            110.0,
            lock(vec![on_the_network(Some((7, 26.0, 0)))], &[11]),
        );
        let (_, silence) = &s.net_waits()[&10];
        assert!(
            silence.nothing_received && !silence.since_hold_began,
            "{silence:?}"
        );
        assert_eq!(silence.silent_for_secs, 26.0);
    }

    /// A holder lockwatch killed after a long silence did not give up: the next cargo on that
    /// server is not told it will likely do the same (review Z, Z1).
    #[test]
    fn a_killed_holder_is_not_one_that_gave_up() {
        for killed in [false, true] {
            let mut s = state();
            observe(&mut s, -1.0, (Vec::new(), Vec::new()));
            run(&mut s, 0.0, 70.0, 1.0, |t| {
                lock(vec![hung_registry(t)], &[11])
            });
            if killed {
                s.note_signalled(10);
            }
            observe(&mut s, 71.0, (Vec::new(), Vec::new()));
            assert_eq!(s.gave_up().is_empty(), killed);
        }
    }

    /// Stopped with Ctrl-Z after two unanswered tries: the wait is kept as it was when it
    /// stopped, not reset as a long pause nor grown by the stop (review 15, D3).
    #[test]
    fn a_network_wait_is_kept_as_it_was_while_the_blocker_is_stopped() {
        let mut s = state();
        observe(&mut s, -1.0, (Vec::new(), Vec::new()));
        run(&mut s, 0.0, 62.0, 1.0, |t| {
            lock(vec![hung_registry(t)], &[11])
        });
        let before = s.net_waits()[&10].clone();
        assert!(before.1.connections >= 2, "{before:?}");
        run(&mut s, 63.0, 123.0, 1.0, |_| {
            let mut b = on_the_network(None);
            b.state = ProcState::Stopped;
            lock(vec![b], &[11])
        });
        assert_eq!(s.net_waits().get(&10), Some(&before));
    }

    #[test]
    fn a_registry_that_never_answers_goes_stale_across_cargo_s_retries() {
        let mut s = state();
        // The daemon watched before: the hold's start is known.
        observe(&mut s, -1.0, (Vec::new(), Vec::new()));
        let stale_after = s.cfg.stale_after.as_secs_f64();
        // No single connection is ever silent for `stale_after` (2 min): only the wait is.
        let fx = run(&mut s, 0.0, stale_after - 5.0, 1.0, |t| {
            lock(vec![hung_registry(t)], &[11])
        });
        assert_eq!(notices(&fx), 0);
        let waits = s.net_waits();
        let (peer, silence) = &waits[&10];
        assert_eq!(peer, "127.0.0.1:18765");
        assert!(silence.nothing_received && silence.since_hold_began);
        assert_eq!(silence.connections, 4);
        let fx = run(&mut s, stale_after - 4.0, 150.0, 1.0, |t| {
            lock(vec![hung_registry(t)], &[11])
        });
        assert_eq!(notices(&fx), 1);
        assert!(stale_now(&s, 10));
        let reasons = &s.verdicts()[&10];
        assert_eq!(
            reasons,
            &vec![StaleReason::NetworkSilent],
            "not idle: waiting"
        );
    }

    /// A git fetch that `http.timeout` ends is still a git fetch: its stale line names the
    /// repository, and the settings it ran with, for the history's advice (review AB, AB1).
    #[test]
    fn a_git_fetch_with_a_timeout_goes_in_the_history_as_a_git_fetch_with_its_settings() {
        let mut s = state();
        observe(&mut s, -1.0, (Vec::new(), Vec::new()));
        let settings = NetSettings {
            timeout_secs: 90.0,
            retry: 0,
            timeout_set: true,
            ..NetSettings::default()
        };
        let fetch = GitFetch {
            url: "http://127.0.0.1:19501/x.git".into(),
            with_git_cli: false,
        };
        let fx = run(&mut s, 0.0, 150.0, 1.0, |t| {
            let mut b = on_the_network(Some((7, t, 0)));
            b.git_fetch = Some(fetch.clone());
            b.net_settings = Some(settings);
            lock(vec![b], &[11])
        });
        let stale: Vec<_> = (fx.iter())
            .filter_map(|e| match e {
                Effect::RecordHistory(HistoryEvent::Stale {
                    reasons, git, net, ..
                }) => Some((reasons.clone(), git.clone(), *net)),
                _ => None,
            })
            .collect();
        assert_eq!(
            stale,
            [(
                vec![StaleReason::NetworkSilent],
                Some(fetch),
                Some(settings)
            )]
        );
        // As a history line, and read back.
        let line = (fx.iter())
            .find_map(|e| match e {
                Effect::RecordHistory(h @ HistoryEvent::Stale { .. }) => Some(h),
                _ => None,
            })
            .expect("a stale line");
        let json = serde_json::to_string(line).unwrap();
        assert!(
            json.contains(r#""net":{"timeout_secs":90.0,"retry":0,"timeout_set":true}"#),
            "{json}"
        );
        assert_eq!(&serde_json::from_str::<HistoryEvent>(&json).unwrap(), line);
        // In the log, a git server, as before.
        assert!(
            fx.iter().any(|e| matches!(e, Effect::Log(l) if l.contains(
                "it fetches git repository http://127.0.0.1:19501/x.git and nothing has arrived"
            ))),
            "{fx:#?}"
        );
    }

    #[test]
    fn a_cargo_that_gives_up_before_looking_stale_says_how_long_the_network_was_silent() {
        let mut s = state();
        observe(&mut s, -1.0, (Vec::new(), Vec::new()));
        let stale_after = s.cfg.stale_after.as_secs_f64();
        let fx = run(&mut s, 0.0, stale_after - 10.0, 1.0, |t| {
            lock(vec![hung_registry(t)], &[11])
        });
        assert_eq!(notices(&fx), 0);
        // Cargo gave up: the lock is free, the waiter goes on.
        let fx = observe(&mut s, stale_after - 9.0, (Vec::new(), Vec::new()));
        let silent = fx.iter().find_map(|e| match e {
            Effect::RecordHistory(HistoryEvent::Released {
                network_silent_secs,
                ..
            }) => Some(*network_silent_secs),
            _ => None,
        });
        assert_eq!(silent, Some(Some(stale_after - 10.0)));
        let log = fx.iter().find_map(|e| match e {
            Effect::Log(l) if l.starts_with("released") => Some(l.clone()),
            _ => None,
        });
        assert!(
            log.as_deref()
                .is_some_and(|l| l.ends_with("(nothing from the network for 1m50s)")),
            "{log:?}"
        );
        // Remembered for the next cargo on that registry (review M, N8).
        let gave_up = s.gave_up();
        assert_eq!(gave_up.len(), 1, "{gave_up:?}");
        assert_eq!(
            (
                gave_up[0].peer.as_str(),
                gave_up[0].pid,
                gave_up[0].silent_secs
            ),
            ("127.0.0.1:18765", 10, stale_after - 10.0)
        );
        // A holder that never waited on the network says nothing of it, nor is remembered.
        let mut s = state();
        observe(
            &mut s,
            0.0,
            lock(vec![holder(10, ProcState::Sleeping, 5.0)], &[11]),
        );
        let fx = observe(&mut s, 5.0, (Vec::new(), Vec::new()));
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::RecordHistory(HistoryEvent::Released {
                network_silent_secs: None,
                ..
            })
        )));
        assert!(s.gave_up().is_empty());
    }

    #[test]
    fn a_stopped_cargo_s_silent_connection_is_its_being_stopped_not_the_network() {
        let mut s = state();
        let stale_after = s.cfg.stale_after.as_secs_f64();
        let stopped = |t: f64| {
            let mut b = on_the_network(Some((7, stale_after + t, 0)));
            b.state = ProcState::Stopped;
            lock(vec![b], &[11])
        };
        // Within the grace a stopped blocker gets, nothing looks stale, whatever the silence.
        let grace = s.cfg.stopped_grace.as_secs_f64();
        run(&mut s, 0.0, grace - 1.0, 1.0, stopped);
        assert!(!stale_now(&s, 10));
        // Past it, it is stale for being stopped, and for that alone.
        run(&mut s, grace, grace + 10.0, 1.0, stopped);
        assert_eq!(s.verdicts()[&10], vec![StaleReason::Stopped]);
    }

    #[test]
    fn a_blocker_stopped_before_the_daemon_looked_is_judged_as_status_judges_it() {
        // A restarted daemon finds a build stopped (for all it knows) since long before: it
        // is stale at once, not after a grace that starts now.
        let mut s = state();
        let grace = s.cfg.stopped_grace.as_secs_f64();
        let interval = s.cfg.sample_interval.as_secs_f64();
        let long_stopped = |_| {
            let mut b = holder(10, ProcState::Stopped, 5.0);
            b.started_at = -10.0 * grace;
            lock(vec![b], &[11])
        };
        // At the first pass, as `status` says it: no samples to wait for.
        run(&mut s, 0.0, 0.0, interval, long_stopped);
        assert_eq!(s.verdicts()[&10], vec![StaleReason::Stopped]);
        run(&mut s, interval, 3.0 * interval, interval, long_stopped);
        assert_eq!(s.verdicts()[&10], vec![StaleReason::Stopped]);
        // One that started just now still gets its grace.
        let mut s = state();
        let fresh = |t: f64| {
            let mut b = holder(10, ProcState::Stopped, 5.0);
            b.started_at = t.min(0.0);
            lock(vec![b], &[11])
        };
        run(&mut s, 0.0, grace - 1.0, interval, fresh);
        assert!(!stale_now(&s, 10));
    }

    #[test]
    fn a_download_whose_bytes_keep_arriving_never_goes_stale() {
        let mut s = state();
        // Its tree's CPU stands still and nothing is written yet: only the bytes say it works.
        let fx = run(&mut s, 0.0, 600.0, 1.0, |t| {
            let bytes = 20_000 + (t as u64) * 50_000;
            lock(vec![on_the_network(Some((7, 0.1, bytes)))], &[11])
        });
        assert_eq!(notices(&fx), 0);
        assert!(!stale_now(&s, 10));
        assert!(s.net_waits()[&10].1.silent_for_secs < 1.0);
    }

    #[test]
    fn writes_under_the_registry_end_a_network_silence() {
        // Cargo writing what it fetched (a slow mirror answering on connections no pass saw):
        // work, whatever the sockets open now say.
        let mut s = state();
        let mut fx = Vec::new();
        for n in 0..400u32 {
            let t = f64::from(n);
            if n.is_multiple_of(20) {
                fx.extend(apply(&mut s, Event::Activity { now: t, key: KEY }));
            }
            fx.extend(observe(&mut s, t, lock(vec![hung_registry(t)], &[11])));
        }
        assert_eq!(notices(&fx), 0);
        assert!(s.net_waits()[&10].1.silent_for_secs < 20.0);
    }
}
