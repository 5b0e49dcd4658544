//! Plain data shared by probes, the policy, the CLI, the daemon and the UI.
//!
//! A probe produces [`LockSighting`]s and [`ProcessFacts`]; the report builder turns them into a
//! [`Report`], which is also the `--json` output and the IPC payload, so every surface tells the
//! same story.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::catalog::LockKind;

/// Identity of a lock file: device and inode. Paths lie (a lock file can be deleted and
/// recreated); inodes do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileKey {
    /// Device number as `stat` reports it (0 when only the inode is known).
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

/// Shared (`READ`) or exclusive (`WRITE`) flock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    /// `LOCK_EX`: nobody else may hold it.
    Exclusive,
    /// `LOCK_SH`: other shared holders are normal.
    Shared,
}

/// One process's part in a lock, as the kernel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// Process id.
    pub pid: u32,
    /// Shared or exclusive.
    pub mode: LockMode,
    /// The process holds the lock through a descriptor it inherited: it is not the process that
    /// took the lock (that one may be dead).
    pub inherited: bool,
}

/// A lock file that some process holds or waits for, as one probe pass saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockSighting {
    /// Best known path of the lock file (without the kernel's ` (deleted)` suffix).
    pub path: PathBuf,
    /// Device and inode of the locked file.
    pub key: FileKey,
    /// What it guards.
    pub kind: LockKind,
    /// The locked inode no longer has this path (e.g. `cargo clean` removed the target dir).
    pub deleted: bool,
    /// Processes holding it.
    pub holders: Vec<Participant>,
    /// Processes blocked waiting for it.
    pub waiters: Vec<Participant>,
    /// Pid the kernel names as having taken the lock, when it differs from every holder
    /// (it exited and a child kept the descriptor). Linux knows it; macOS does not.
    pub dead_locker: Option<u32>,
    /// The process that took the lock no longer holds it: every holder holds through an
    /// inherited descriptor (set with or without knowing the locker's pid).
    pub locker_gone: bool,
    /// The kernel says the lock is held (in this mode) but no holder could be identified: a
    /// process of another user, or one hidden from this user (`hidepid`, another PID
    /// namespace). Such a lock is held, never free.
    pub unseen: Option<LockMode>,
}

/// Scheduler state of a process, in the words `ps` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProcState {
    /// On a CPU or ready to run.
    Running,
    /// Sleeping (waiting for I/O, a child, the network or a lock).
    Sleeping,
    /// In uninterruptible disk sleep.
    DiskSleep,
    /// Stopped by a signal (Ctrl-Z) or a debugger.
    Stopped,
    /// Exited, not yet reaped by its parent.
    Zombie,
    /// Anything else the kernel reports.
    Other,
}

/// Where a process came from, judged from its ancestors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Started from a shell in a terminal.
    Terminal,
    /// Started by an editor or IDE (rust-analyzer, VS Code, Zed, RustRover, vim, emacs …).
    Ide,
    /// Its parent died and it was reparented to init / launchd / a subreaper.
    Orphan,
    /// None of the above could be told.
    Unknown,
}

/// A process's short name exactly as the kernel gives it (`comm` on Linux, `pbi_name` on macOS).
/// Anyone may name a process anything, escape sequences and newlines included, so shown it is
/// escaped: its `Display` writes control characters as `\n`, `\u{1b}` (see
/// [`printable`](super::text::printable)), and every terminal line, log line, notification and
/// menu label that formats it gets that. JSON carries the real name (serde escapes control
/// characters itself). The raw text is reached only through [`ProcName::raw`], for comparing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProcName(String);

impl ProcName {
    /// The name as the kernel gave it: compare it, never show it (show the name itself).
    pub fn raw(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProcName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&super::text::printable(&self.0))
    }
}

impl From<&str> for ProcName {
    fn from(s: &str) -> ProcName {
        ProcName(s.to_string())
    }
}

impl From<String> for ProcName {
    fn from(s: String) -> ProcName {
        ProcName(s)
    }
}

impl PartialEq<str> for ProcName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<ProcName> for String {
    fn eq(&self, other: &ProcName) -> bool {
        *self == other.0
    }
}

impl PartialEq<&str> for ProcName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// One ancestor in a parent chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ancestor {
    /// Process id.
    pub pid: u32,
    /// Short process name.
    pub name: ProcName,
}

/// Everything the product needs to know about one process, read once per pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessFacts {
    /// Process id.
    pub pid: u32,
    /// Parent pid (0 when unknown).
    pub ppid: u32,
    /// Process group id.
    pub pgid: u32,
    /// Real user id of the owner.
    pub uid: u32,
    /// The owner's user name, when the system knows it.
    #[serde(default)]
    pub user: Option<String>,
    /// Short name (`comm` on Linux, `pbi_name` on macOS).
    pub name: ProcName,
    /// Full command line.
    pub cmd: Vec<String>,
    /// Working directory, when readable.
    #[serde(serialize_with = "crate::core::text::lossy_path::opt")]
    pub cwd: Option<PathBuf>,
    /// Opaque start-time token that, with the pid, identifies this process across pid reuse.
    pub start_token: u64,
    /// Start time as seconds since the Unix epoch.
    pub started_at: f64,
    /// Scheduler state.
    pub state: ProcState,
    /// CPU seconds used by the process and all its live descendants (and their reaped children).
    pub tree_cpu_secs: f64,
    /// Whether the process has a controlling terminal.
    pub has_tty: bool,
    /// Parents, nearest first, up to init.
    pub ancestors: Vec<Ancestor>,
    /// What a SIGTERM would do to it, as the kernel says up front.
    #[serde(default)]
    pub sigterm: Sigterm,
}

/// What a SIGTERM would do to a process, read from its signal disposition and mask (Linux:
/// `SigIgn` and `SigBlk` in `/proc/PID/status`). `kill` sends SIGTERM first: a process that
/// ignores or blocks it stays, and only SIGKILL (`kill --force`) stops it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sigterm {
    /// Not known (macOS, an unreadable status, a thread mask that differs between threads):
    /// nothing is claimed.
    #[default]
    Unknown,
    /// Delivered: it ends the process, or runs the handler the process installed.
    Delivered,
    /// Ignored (`SIG_IGN`, which survives `exec`): a SIGTERM does nothing.
    Ignored,
    /// Blocked by its signal mask: a SIGTERM stays pending and does nothing for now.
    Blocked,
}

impl Sigterm {
    /// SIGTERM would not stop it: only SIGKILL does.
    pub fn futile(self) -> bool {
        matches!(self, Sigterm::Ignored | Sigterm::Blocked)
    }

    /// What to say about it, when SIGTERM is futile ("it ignores SIGTERM").
    pub fn words(self) -> Option<&'static str> {
        match self {
            Sigterm::Ignored => Some("it ignores SIGTERM"),
            Sigterm::Blocked => Some("it blocks SIGTERM"),
            Sigterm::Unknown | Sigterm::Delivered => None,
        }
    }
}

/// The command that stops `pid`: `cargo lockwatch kill PID`, or with `--force` (SIGKILL) when
/// SIGTERM would not stop it.
pub fn kill_command(pid: u32, force: bool) -> String {
    if force {
        format!("cargo lockwatch kill --force {pid}")
    } else {
        format!("cargo lockwatch kill {pid}")
    }
}

/// A holder, enriched for display and JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HolderReport {
    /// Process id.
    pub pid: u32,
    /// Its part in the blocking graph: a holder that is itself blocked on another lock is a
    /// waiter everywhere.
    pub role: Role,
    /// Shared or exclusive.
    pub mode: LockMode,
    /// Short name.
    pub name: ProcName,
    /// Full command line.
    pub cmd: Vec<String>,
    /// Working directory.
    #[serde(serialize_with = "crate::core::text::lossy_path::opt")]
    pub cwd: Option<PathBuf>,
    /// Scheduler state.
    pub process_state: ProcState,
    /// Where it came from.
    pub origin: Origin,
    /// What made it that origin (`rust-analyzer`, `code`, `bash` …), when known.
    pub origin_via: Option<String>,
    /// Holds the lock through an inherited descriptor.
    pub inherited: bool,
    /// Seconds the lock is known to have been held (null when nobody was watching).
    pub held_for_secs: Option<f64>,
    /// `held_for_secs` counts from the hold's real start; false when it was already held when
    /// the daemon first looked (the hold is at least that long).
    #[serde(default)]
    pub held_since_known: bool,
    /// Seconds since the process started (an upper bound for the hold).
    pub running_for_secs: Option<f64>,
    /// CPU seconds of the whole process tree.
    pub tree_cpu_secs: f64,
    /// Parent pid.
    pub ppid: u32,
    /// Parent chain, nearest first.
    pub ancestors: Vec<Ancestor>,
    /// Start-time token for pid-reuse checks.
    pub start_token: u64,
    /// Whether it looks stale (only a blocker can).
    pub stale: bool,
    /// Why it looks stale.
    pub stale_reasons: Vec<StaleReason>,
}

/// A process's part in the blocking graph, derived once per pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Holds a lock that someone waits for (or holds one exclusively): the one to look at.
    Blocker,
    /// Waits for a lock. Never a kill target, never stale because it is idle, whatever shared
    /// locks it also holds.
    Blocked,
    /// Holds only shared locks that nobody waits for: normal, never a verdict.
    Background,
}

/// A waiter, enriched for display and JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaiterReport {
    /// Process id.
    pub pid: u32,
    /// The mode it asked for.
    pub mode: LockMode,
    /// Short name.
    pub name: ProcName,
    /// Full command line.
    pub cmd: Vec<String>,
    /// Working directory.
    #[serde(serialize_with = "crate::core::text::lossy_path::opt")]
    pub cwd: Option<PathBuf>,
    /// Where it came from.
    pub origin: Origin,
    /// Seconds it is known to have been waiting (null when nobody was watching).
    pub waiting_for_secs: Option<f64>,
}

/// Why a holder looks stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StaleReason {
    /// Stopped by a signal (Ctrl-Z and forgotten).
    Stopped,
    /// The process that took the lock is gone; another process kept its descriptor.
    LockerDead,
    /// Reparented to init/launchd: nobody is waiting for its result.
    Orphan,
    /// The lock file was deleted under it: new cargos lock a new file and build beside it.
    DeletedLockFile,
    /// A zombie or otherwise finished process still listed as holder.
    Zombie,
    /// Its whole process tree used no CPU and wrote nothing for the idle window.
    Idle,
    /// It waits for a lock that its own ancestor holds, or it is part of a wait cycle: it can
    /// never proceed.
    Deadlock,
    /// It waits for another process to close an output pipe (a daemon left by a build script).
    PipeHeldOpen,
    /// It only waits on the network, and nothing has arrived for longer than `stale_after`.
    NetworkSilent,
}

impl StaleReason {
    /// Short phrase for humans.
    pub fn describe(self) -> &'static str {
        match self {
            StaleReason::Stopped => "it is stopped (suspended with Ctrl-Z?)",
            StaleReason::LockerDead => {
                "the process that took the lock has exited; this one inherited its descriptor"
            }
            StaleReason::Orphan => {
                "its parent is gone (orphaned); nobody is waiting for its result"
            }
            StaleReason::DeletedLockFile => {
                "its lock file was deleted (cargo clean or rm -rf target?): a new build no \
                 longer waits for it and may write the same directory at the same time; let it \
                 finish before building again, or stop it"
            }
            StaleReason::Zombie => "it has exited but was not reaped",
            StaleReason::Idle => "its whole process tree has been idle, with no file activity",
            StaleReason::Deadlock => "it is deadlocked: it can never proceed on its own",
            StaleReason::PipeHeldOpen => {
                "it waits for another process to close its output pipe (a leftover daemon)"
            }
            StaleReason::NetworkSilent => {
                "it waits on the network and nothing has arrived for a long time, across its \
                 retries (a hung registry?)"
            }
        }
    }
}

/// The state of one lock, from the user's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockState {
    /// Nobody holds it.
    Free,
    /// Held shared and nobody waits (every compile holds the package-cache mutation lock this
    /// way): normal, hidden unless asked for.
    Background,
    /// Held, nobody waits.
    Held,
    /// Held and someone waits.
    Contended,
    /// A holder looks stale.
    Stale,
}

/// One lock as every surface shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockReport {
    /// Path of the lock file.
    #[serde(serialize_with = "crate::core::text::lossy_path::path")]
    pub path: PathBuf,
    /// What it guards.
    pub kind: LockKind,
    /// Cargo's words for it (`package cache`, `build directory` …).
    pub description: String,
    /// Free / held / contended / stale.
    pub state: LockState,
    /// The locked inode was deleted.
    pub deleted: bool,
    /// Project directory for build locks.
    #[serde(serialize_with = "crate::core::text::lossy_path::opt")]
    pub project_dir: Option<PathBuf>,
    /// The Cargo home, for the locks at its top (the package cache, its mutation lock, the
    /// credentials); null for other locks.
    #[serde(default, serialize_with = "crate::core::text::lossy_path::opt")]
    pub cargo_home: Option<PathBuf>,
    /// Holders.
    pub holders: Vec<HolderReport>,
    /// Waiters.
    pub waiters: Vec<WaiterReport>,
    /// One-line verdict.
    pub verdict: String,
    /// The command that stops the stuck holder, when one looks stale.
    pub stop_command: Option<String>,
}

/// Where the answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A one-shot scan by this command: hold times are unknown.
    Scan,
    /// The running daemon, which has been watching: hold times are real.
    Daemon,
}

/// Whether the daemon gave the answer and, when it did not, why (`status` sets it; the daemon's
/// own snapshots leave it out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DaemonAnswer {
    /// The daemon answered: the report is its.
    Answered,
    /// It was not asked (`--no-daemon`).
    NotAsked,
    /// None runs for this runtime directory.
    NotRunning,
    /// It answers, but its watching is paused (menu → Pause watching): it has seen nothing new.
    Paused,
    /// Its process is stopped (SIGSTOP, Ctrl-Z): it takes connections and answers none until
    /// continued (`kill -CONT PID`).
    Stopped,
    /// It took the connection but answered nothing in time, and is not stopped: stuck or
    /// overloaded.
    Silent,
    /// It serves as many clients as `daemon.max_clients` allows.
    Busy,
    /// Its socket, the socket's directory or the process answering is not this user's.
    Untrusted,
    /// Anything else: an odd answer, a socket path too long, another protocol version.
    Unreachable,
}

impl DaemonAnswer {
    /// Whether a daemon runs (it answered, or runs but did not answer): not `NotRunning` or
    /// `NotAsked` (whether one runs is then unknown).
    pub fn runs(self) -> bool {
        !matches!(self, DaemonAnswer::NotRunning | DaemonAnswer::NotAsked)
    }
}

/// The version of the JSON document (`status --json`, IPC snapshots); bumped on any
/// incompatible change. See `docs/json.md`.
pub const SCHEMA_VERSION: u32 = 2;

/// Everything known about Cargo's locks at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`] of this document.
    pub schema_version: u32,
    /// Where this answer came from.
    pub source: Source,
    /// Whether the daemon gave it and, when not, why (set by `status`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon: Option<DaemonAnswer>,
    /// Unix time of the observation.
    pub observed_at: f64,
    /// Cargo homes that were watched.
    #[serde(serialize_with = "crate::core::text::lossy_path::list")]
    pub cargo_homes: Vec<PathBuf>,
    /// Who blocks whom: one entry per root blocker, worst first. Every view reads these.
    pub incidents: Vec<IncidentReport>,
    /// Every known lock (free and background ones included), as the kernel shows it.
    pub locks: Vec<LockReport>,
    /// Other users' Cargo processes holding locks this user cannot name (their descriptors are
    /// not readable): not in `locks`, but never "no lock is held" while they hold one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden_holders: Vec<HiddenHolder>,
    /// Waiters suspended (Ctrl-Z) in their request for a lock nobody holds: no incident (they
    /// hold nobody up), but each sits in its terminal until resumed (review V, V6).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspended: Vec<SuspendedWaiter>,
}

/// A waiter suspended in its request for a lock that is free now: resumed, it takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuspendedWaiter {
    /// Process id.
    pub pid: u32,
    /// Short name.
    pub name: ProcName,
    /// Full command line.
    pub cmd: Vec<String>,
    /// Working directory.
    #[serde(serialize_with = "crate::core::text::lossy_path::opt")]
    pub cwd: Option<PathBuf>,
    /// Where it came from.
    pub origin: Origin,
    /// A terminal controls it: `fg` there resumes it too (a build started with `setsid`, or
    /// with no terminal at all, is no job of one: review W, W4).
    #[serde(default)]
    pub in_terminal: bool,
    /// The lock it waits for.
    #[serde(serialize_with = "crate::core::text::lossy_path::path")]
    pub lock: PathBuf,
    /// What that lock guards.
    pub kind: LockKind,
    /// Cargo's words for that lock.
    pub lock_description: String,
    /// The command that lets it go on: `cargo lockwatch resume PID`.
    pub action: String,
}

/// Another user's Cargo process holding a lock whose file this user cannot name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiddenHolder {
    /// Process id.
    pub pid: u32,
    /// Its name.
    pub name: ProcName,
    /// Its owner's uid.
    pub uid: u32,
    /// Its owner's name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// How many processes wait for that lock.
    pub waiters: usize,
    /// Their users' uids (one per waiter whose process could be read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiter_uids: Vec<u32>,
}

impl Report {
    /// A report of nothing at all (before the first pass).
    pub fn empty(source: Source, observed_at: f64, cargo_homes: Vec<PathBuf>) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            source,
            daemon: None,
            observed_at,
            cargo_homes,
            incidents: Vec::new(),
            locks: Vec::new(),
            hidden_holders: Vec::new(),
            suspended: Vec::new(),
        }
    }

    /// Whether any blocker looks stale (or is deadlocked).
    pub fn any_stale(&self) -> bool {
        self.incidents
            .iter()
            .any(|i| i.state == IncidentState::Stale)
    }

    /// The worst incident state; `None` when nothing blocks or is held exclusively.
    pub fn overall(&self) -> Option<IncidentState> {
        self.incidents.iter().map(|i| i.state).max()
    }
}

/// How bad an incident is, in increasing order of alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentState {
    /// The blocker holds a lock exclusively and nobody waits yet.
    Holding,
    /// Someone waits and the blocker looks alive: waiting is usually right.
    Blocking,
    /// The blocker looks stale or is deadlocked: something must be done.
    Stale,
}

/// A process as an incident names it: enough to recognise it at a glance and to act on it
/// safely (pid plus start token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessReport {
    /// Process id.
    pub pid: u32,
    /// Start-time token for pid-reuse checks.
    pub start_token: u64,
    /// Short name.
    pub name: ProcName,
    /// Full command line.
    pub cmd: Vec<String>,
    /// Working directory.
    #[serde(serialize_with = "crate::core::text::lossy_path::opt")]
    pub cwd: Option<PathBuf>,
    /// Owner's user id.
    pub uid: u32,
    /// Owner's user name, when known.
    pub user: Option<String>,
    /// Scheduler state.
    pub process_state: ProcState,
    /// Where it came from.
    pub origin: Origin,
    /// What made it that origin (`rust-analyzer`, `code`, `bash` …), when known.
    pub origin_via: Option<String>,
    /// A terminal controls it (one of its shell's jobs): `fg` there resumes it. Not so for a
    /// build a shell started with `setsid`, or with no terminal (review W, W4).
    #[serde(default)]
    pub in_terminal: bool,
    /// Seconds since the process started.
    pub running_for_secs: f64,
    /// CPU seconds of its whole process tree.
    pub tree_cpu_secs: f64,
    /// What a SIGTERM would do to it (`kill` without `--force` sends one).
    #[serde(default)]
    pub sigterm: Sigterm,
}

/// A process blocked in an incident, and what it waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockedReport {
    /// The waiting process.
    pub process: ProcessReport,
    /// The lock it waits for.
    #[serde(serialize_with = "crate::core::text::lossy_path::path")]
    pub lock: PathBuf,
    /// Cargo's words for that lock (what the waiting cargo printed).
    pub lock_description: String,
    /// The mode it asked for.
    pub mode: LockMode,
    /// Whom it waits for directly (the holders of that lock that conflict with it); the root
    /// blocker is at the end of the incident's `chain`.
    pub waits_for: Vec<u32>,
    /// Seconds it is known to have been waiting (null when nobody was watching).
    pub waiting_for_secs: Option<f64>,
    /// `waiting_for_secs` counts from the wait's real start; false when it was already waiting
    /// when the daemon first looked.
    #[serde(default)]
    pub waiting_since_known: bool,
    /// Seconds it has been blocked in all, when that is more than `waiting_for_secs`: it
    /// waited for another lock just before this one (the package cache, then the build
    /// directory), as its terminal shows it (review X, X2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_for_secs: Option<f64>,
    /// It waits for no lock itself but for this descendant (a build script's nested cargo),
    /// which waits for `lock`.
    #[serde(default)]
    pub via_child: Option<u32>,
}

/// A lock the blocker holds in an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentLock {
    /// Path of the lock file.
    #[serde(serialize_with = "crate::core::text::lossy_path::path")]
    pub path: PathBuf,
    /// What it guards.
    pub kind: LockKind,
    /// Cargo's words for it.
    pub description: String,
    /// The blocker's mode.
    pub mode: LockMode,
    /// Someone waits for it.
    pub contended: bool,
    /// The locked inode was deleted.
    pub deleted: bool,
    /// Project directory for build locks.
    #[serde(serialize_with = "crate::core::text::lossy_path::opt")]
    pub project_dir: Option<PathBuf>,
    /// The Cargo home, for the locks at its top (the package cache, its mutation lock, the
    /// credentials); null for other locks.
    #[serde(default, serialize_with = "crate::core::text::lossy_path::opt")]
    pub cargo_home: Option<PathBuf>,
    /// Seconds the blocker is known to have held it (null when nobody was watching).
    pub held_for_secs: Option<f64>,
    /// `held_for_secs` counts from the hold's real start; false when it was already held when
    /// the daemon first looked.
    #[serde(default)]
    pub held_since_known: bool,
    /// Other processes holding it exclusively as the blocker does: an exclusive flock has one
    /// open file description, so they share the blocker's descriptor (children that inherited
    /// it) and it is free only once they all let go.
    #[serde(default)]
    pub shared_with: Vec<u32>,
}

/// Why an incident can never end on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Deadlock {
    /// A process waits for a lock its own ancestor holds (a build script running a nested
    /// `cargo build` on the same target dir): the ancestor waits for it to finish.
    SelfWait {
        /// The waiting process.
        waiter: u32,
        /// Its ancestor (or itself) holding the lock.
        holder: u32,
    },
    /// Processes wait for each other's locks in a circle.
    Cycle {
        /// The processes in the cycle.
        pids: Vec<u32>,
    },
}

/// What a blocker is doing, so the user can decide at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Doing {
    /// Suspended (Ctrl-Z or a debugger).
    Stopped,
    /// Deadlocked: it can never proceed.
    Deadlocked,
    /// Waiting for another process to close the write end of its output pipe.
    WaitingForPipe {
        /// The process holding the pipe open.
        culprit: u32,
        /// Its name.
        culprit_name: ProcName,
    },
    /// A process of its build is suspended (a build script stopped by SIGSTOP, or by SIGTTIN
    /// reading the terminal from the background): the build waits for it forever.
    ChildStopped {
        /// The stopped process.
        pid: u32,
        /// Its name.
        name: ProcName,
        /// The package, when it is a build script.
        crate_name: Option<String>,
    },
    /// Running crate X's build script.
    BuildScript {
        /// The package whose build script runs.
        crate_name: String,
    },
    /// Compiling these crates (from its rustc children's `--crate-name`).
    Compiling {
        /// Crate names.
        crates: Vec<String>,
    },
    /// Waiting for a child that is neither rustc nor a build script (a wrapper's command).
    RunningChild {
        /// The child's pid.
        pid: u32,
        /// Its name.
        name: ProcName,
    },
    /// Talking to the network and nothing else (or pausing between tries of a request that
    /// got no answer).
    Network {
        /// Remote `host:port`.
        peer: String,
        /// Seconds since data last arrived on the connection open now, where the kernel says it.
        idle_for_secs: Option<f64>,
        /// The wait followed across connections and the pauses between them (the daemon's
        /// count); absent from a one-off scan.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        silence: Option<NetSilence>,
        /// The git repository it fetches, when the peer is a git dependency's server rather
        /// than a registry: Cargo sets no timeout for a git fetch unless `http.timeout` is set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        git: Option<GitFetch>,
    },
    /// Exited, not yet reaped.
    Exited,
    /// Another user's process with no child: its connections and pipes cannot be read, so
    /// whether it waits on the network or on nothing cannot be told.
    Unseen,
    /// Nothing more specific could be told.
    Unknown,
}

/// The facts a probe gathers about what a blocker does: its live descendants, its network
/// peers and the processes outside its tree that hold its output pipes open. Plain data;
/// [`crate::core::doing`] reads it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Live descendants (not zombies), children first.
    pub descendants: Vec<ChildProcess>,
    /// Network connections of the process (established or connecting).
    pub peers: Vec<Peer>,
    /// Processes outside its tree holding the write end of a pipe it reads from.
    pub pipe_writers: Vec<ProcessFacts>,
    /// Its descriptors could not be read (another user's process): its connections and pipes
    /// are unknown, not absent.
    #[serde(default)]
    pub unseen: bool,
    /// Bytes received so far on the connections of its descendants other than compilers (a
    /// build script's download); `None` when they have none (or it is not known).
    #[serde(default)]
    pub tree_received_bytes: Option<u64>,
}

/// A live descendant of a blocker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildProcess {
    /// Process id.
    pub pid: u32,
    /// Short name.
    pub name: ProcName,
    /// Full command line.
    pub cmd: Vec<String>,
    /// Suspended (SIGSTOP, or SIGTTIN/SIGTTOU: a background job touching the terminal).
    #[serde(default)]
    pub stopped: bool,
}

impl Doing {
    /// Stopped itself, or held up by a stopped process of its build: `resume` is the fix.
    pub fn is_suspended(&self) -> bool {
        matches!(self, Doing::Stopped | Doing::ChildStopped { .. })
    }
}

/// The package whose build script started a process left behind, read from that process's
/// environment (`CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`, inherited from the build script): the
/// fix is in that build script, which may be a dependency's rather than the user's (review X,
/// X8).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LeftBy {
    /// The package (`gdep`).
    pub package: String,
    /// Where it comes from.
    pub from: PackageFrom,
    /// Started by the package's build script (its environment has the `HOST` Cargo gives
    /// build scripts only); else by another process of its build, such as a proc macro or a
    /// compiler wrapper, which inherit the package's variables too (review 15, D9).
    #[serde(default = "yes")]
    pub build_script: bool,
}

fn yes() -> bool {
    true
}

/// Where a package comes from, as its manifest directory shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageFrom {
    /// The user's own (a workspace member, a path dependency).
    Local,
    /// A git dependency (`$CARGO_HOME/git/checkouts/…`).
    Git,
    /// A registry dependency (`$CARGO_HOME/registry/src/…`).
    Registry,
}

impl LeftBy {
    /// From a leftover process's `CARGO_PKG_NAME` and `CARGO_MANIFEST_DIR`, a dependency's
    /// when it lies in the checkouts or sources of a Cargo home (in one of `homes` when any is
    /// known: a project of one's own under a `registry/src` is one's own, review 15, D9).
    pub fn from_env(package: &str, manifest_dir: &str, homes: &[PathBuf]) -> LeftBy {
        let dir = std::path::Path::new(manifest_dir);
        let under = |part: &str| match homes {
            [] => manifest_dir.contains(&format!("/{part}/")),
            _ => homes.iter().any(|h| dir.starts_with(h.join(part))),
        };
        let from = if under("git/checkouts") {
            PackageFrom::Git
        } else if under("registry/src") {
            PackageFrom::Registry
        } else {
            PackageFrom::Local
        };
        LeftBy {
            package: package.to_string(),
            from,
            build_script: true,
        }
    }

    /// "the build script of gdep, a git dependency"; "the build of gdep" for a process of its
    /// build that is not its build script's.
    pub fn words(&self) -> String {
        let pkg = super::text::printable(&self.package);
        let what = match self.build_script {
            true => format!("the build script of {pkg}"),
            false => format!("the build of {pkg}"),
        };
        match self.from {
            PackageFrom::Local => what,
            PackageFrom::Git => format!("{what}, a git dependency"),
            PackageFrom::Registry => format!("{what}, a registry dependency"),
        }
    }

    /// A dependency's: the fix is upstream.
    pub fn is_dependency(&self) -> bool {
        self.from != PackageFrom::Local
    }
}

/// A git repository a cargo fetches (a git dependency, or a git index), told from a registry
/// download by its server's address or by the `git fetch` child that fetches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitFetch {
    /// The repository's URL as the manifest, the lockfile or the `git` command line names it.
    pub url: String,
    /// Fetched by a `git` child (`net.git-fetch-with-cli`): git's own settings
    /// (`http.lowSpeedLimit`), not Cargo's, decide when it gives up.
    pub with_git_cli: bool,
}

/// One network connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Peer {
    /// Remote `host:port`.
    pub remote: String,
    /// Seconds since data last arrived on it, when the kernel says.
    pub idle_for_secs: Option<f64>,
    /// The socket's inode: tells one connection from the next to the same peer.
    #[serde(default)]
    pub socket: Option<u64>,
    /// Bytes received on it so far, when the kernel says (`tcpi_bytes_received`).
    #[serde(default)]
    pub received_bytes: Option<u64>,
}

/// How long a blocker has waited on the network with nothing arriving, followed across the
/// connections it opened (Cargo opens a new one for each try) and the pauses between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetSilence {
    /// Seconds since anything arrived (or, when nothing did, since its first connection).
    pub silent_for_secs: f64,
    /// Nothing has arrived at all since the first connection of the wait.
    pub nothing_received: bool,
    /// And that first connection came with the hold: silence is as old as the hold.
    pub since_hold_began: bool,
    /// Seconds since the first connection of the wait (its first try).
    pub first_try_secs: f64,
    /// Connections opened during the wait.
    pub connections: u32,
    /// A connection is open now; false between tries (Cargo's pause before a retry).
    pub open: bool,
    /// Bytes a second received on the connection open now, on average since it opened, when
    /// the kernel counts them and it has been open a while: a server trickling a few bytes a
    /// second is told from a download (review AA, AA6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_sec: Option<f64>,
}

/// One incident: a root blocker and everyone transitively blocked by it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentReport {
    /// Stable id (`<pid>/<start token>` of the blocker, or `unseen/<inode>`).
    pub id: String,
    /// Holding, blocking or stale.
    pub state: IncidentState,
    /// The root blocker; null when the lock is held by a process this user cannot see.
    pub blocker: Option<ProcessReport>,
    /// Everyone blocked by it, nearest first.
    pub blocked: Vec<BlockedReport>,
    /// The longest wait chain: blocked first, root blocker last.
    pub chain: Vec<u32>,
    /// The locks the blocker holds that matter here (contended ones first).
    pub locks: Vec<IncidentLock>,
    /// What the blocker is doing.
    pub doing: Doing,
    /// A process outside the lock table that keeps the blocker stuck (it holds the blocker's
    /// output pipe open); when set, it is the process to stop.
    pub culprit: Option<ProcessReport>,
    /// Other processes holding that same output pipe open (a server's workers, a second
    /// helper): stopping the culprit stops them too, or the blocker would still wait.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_culprits: Vec<ProcessReport>,
    /// The package whose build script started the culprit, when its environment says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub culprit_left_by: Option<LeftBy>,
    /// Why this never ends on its own, when it cannot.
    pub deadlock: Option<Deadlock>,
    /// Why the blocker looks stale (empty when it looks alive).
    pub stale_reasons: Vec<StaleReason>,
    /// One-line verdict in plain words.
    pub verdict: String,
    /// What to do, when something should be done.
    pub action: Option<Action>,
    /// The blocker's name is in `watch.ignore_process_names`: never called stale nor offered
    /// for termination (a stopped one is offered a resume; `kill` asks first).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignored: bool,
    /// How to keep this from happening again, when there is a setting for it (a hung
    /// registry: make Cargo give up sooner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<super::insight::Advice>,
    /// How long the blocker's command usually holds its locks in this project (from the
    /// history), when it has run here often enough to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typical_hold: Option<TypicalHold>,
}

/// "usually takes 3m10s here": the median of the last holds of a command in a project.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TypicalHold {
    /// The median hold, in seconds.
    pub median_secs: f64,
    /// How many holds it is the median of.
    pub holds: u32,
}

impl IncidentReport {
    /// Its blocker looks alive and running (not stale, not suspended): stopping it is worth a
    /// second thought, as waiting is usually right.
    pub fn looks_busy(&self) -> bool {
        self.state != IncidentState::Stale && !self.doing.is_suspended()
    }

    /// The locks the incident is about: those someone in it waits for that the blocker holds
    /// exclusively; else those it holds exclusively; else those someone in it waits for; else
    /// all. A lock the blocker also holds shared in the background (every cargo holds the
    /// package cache's mutation lock so from its start, even while it waited for a build
    /// directory) is not what its hold is timed by, even when someone (a gc) waits for it:
    /// the daemon's stale verdict counts from its exclusive holds too.
    pub fn main_locks(&self) -> Vec<&IncidentLock> {
        let waited = |l: &IncidentLock| self.blocked.iter().any(|b| b.lock == l.path);
        let exclusive = |l: &IncidentLock| l.mode == LockMode::Exclusive;
        let pick = |keep: &dyn Fn(&IncidentLock) -> bool| -> Vec<&IncidentLock> {
            self.locks.iter().filter(|l| keep(l)).collect()
        };
        let both = |l: &IncidentLock| waited(l) && exclusive(l);
        [pick(&both), pick(&exclusive), pick(&waited)]
            .into_iter()
            .find(|v| !v.is_empty())
            .unwrap_or_else(|| self.locks.iter().collect())
    }

    /// How long the blocker is known to have held the incident's [main
    /// locks](Self::main_locks) (the longest of them).
    pub fn held_for_secs(&self) -> Option<f64> {
        longest_hold(self.main_locks()).map(|(h, _)| h)
    }

    /// Whether [`Self::held_for_secs`] is the real hold time (not a lower bound).
    pub fn held_since_known(&self) -> bool {
        longest_hold(self.main_locks()).is_none_or(|(_, known)| known)
    }

    /// How long the blocker is known to have held its build locks (those a typical hold is
    /// learned from), and whether that is the real hold time; else as
    /// [`Self::held_for_secs`].
    pub fn build_hold(&self) -> Option<(f64, bool)> {
        let build = self.locks.iter().filter(|l| !l.kind.in_cargo_home());
        longest_hold(build).or_else(|| longest_hold(self.main_locks()))
    }
}

/// The longest known hold of these locks, and whether it is the real hold time (every lock
/// held that long was timed from its start).
fn longest_hold<'a>(locks: impl IntoIterator<Item = &'a IncidentLock>) -> Option<(f64, bool)> {
    let timed: Vec<(f64, bool)> = (locks.into_iter())
        .filter_map(|l| Some((l.held_for_secs?, l.held_since_known)))
        .collect();
    let longest = timed.iter().map(|(h, _)| *h).reduce(f64::max)?;
    let known = timed.iter().filter(|(h, _)| *h == longest).all(|(_, k)| *k);
    Some((longest, known))
}

/// The one thing to do about an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// The process to act on (the blocker, its culprit, or a deadlock's victim).
    pub pid: u32,
    /// Its start token (the pid-reuse guard).
    pub start_token: u64,
    /// Its name.
    pub name: ProcName,
    /// It is stopped: resuming it is the gentle fix.
    pub resume: bool,
    /// It ignores or blocks SIGTERM: stopping it takes SIGKILL (`kill --force`), which the
    /// command (or, for a resume, the way to stop it instead) says.
    #[serde(default)]
    pub force: bool,
    /// The command that does it (`cargo lockwatch resume N`, `cargo lockwatch kill N`, or
    /// `cargo lockwatch kill --force N` when `force`).
    pub command: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name anyone could give a process: a colour escape, an OSC title, a newline.
    const ODD: &str = "lw\u{1b}[31m\u{1b}]0;X\u{7}\nx";

    #[test]
    fn a_name_is_shown_escaped_and_kept_real_in_json() {
        let name = ProcName::from(ODD);
        let shown = name.to_string();
        assert_eq!(shown, "lw\\x1b[31m\\x1b]0;X\\x07\\nx");
        assert!(!shown.chars().any(char::is_control));
        assert_eq!(format!("{name:<35}|"), format!("{shown:<35}|"));
        assert!(
            format!("{name:<35}|").ends_with(" |"),
            "padded by the shown width"
        );
        assert_eq!(name.raw(), ODD);
        let config_name = String::from(ODD);
        assert!(name == ODD && config_name == name);
        // JSON carries the real name, its control characters as JSON escapes.
        let json = serde_json::to_string(&name).unwrap();
        assert_eq!(json, r#""lw\u001b[31m\u001b]0;X\u0007\nx""#);
        assert_eq!(serde_json::from_str::<ProcName>(&json).unwrap(), name);
        // Debug (logs with LOCKWATCH_LOG=debug) escapes too.
        assert!(!format!("{name:?}").chars().any(char::is_control));
    }
}
