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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// One ancestor in a parent chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ancestor {
    /// Process id.
    pub pid: u32,
    /// Short process name.
    pub name: String,
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
    /// Short name (`comm` on Linux, `pbi_name` on macOS).
    pub name: String,
    /// Full command line.
    pub cmd: Vec<String>,
    /// Working directory, when readable.
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
}

/// A holder, enriched for display and JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HolderReport {
    /// Process id.
    pub pid: u32,
    /// Shared or exclusive.
    pub mode: LockMode,
    /// Short name.
    pub name: String,
    /// Full command line.
    pub cmd: Vec<String>,
    /// Working directory.
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
    /// Whether it looks stale.
    pub stale: bool,
    /// Why it looks stale.
    pub stale_reasons: Vec<StaleReason>,
}

/// A waiter, enriched for display and JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaiterReport {
    /// Process id.
    pub pid: u32,
    /// The mode it asked for.
    pub mode: LockMode,
    /// Short name.
    pub name: String,
    /// Full command line.
    pub cmd: Vec<String>,
    /// Working directory.
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
    /// The lock file was deleted under it: new cargos lock a new file, so it guards nothing.
    DeletedLockFile,
    /// A zombie or otherwise finished process still listed as holder.
    Zombie,
    /// Its whole process tree used no CPU and wrote nothing for the idle window.
    Idle,
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
                "the lock file was deleted (cargo clean?); it guards nothing any more"
            }
            StaleReason::Zombie => "it has exited but was not reaped",
            StaleReason::Idle => "its whole process tree has been idle, with no file activity",
        }
    }
}

/// The state of one lock, from the user's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockState {
    /// Nobody holds it.
    Free,
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
    pub project_dir: Option<PathBuf>,
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

/// Everything known about Cargo's locks at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Where this answer came from.
    pub source: Source,
    /// Unix time of the observation.
    pub observed_at: f64,
    /// Cargo homes that were watched.
    pub cargo_homes: Vec<PathBuf>,
    /// Every known lock (free ones included).
    pub locks: Vec<LockReport>,
}

impl Report {
    /// Whether any holder looks stale.
    pub fn any_stale(&self) -> bool {
        self.locks.iter().any(|l| l.state == LockState::Stale)
    }

    /// The worst state across all locks.
    pub fn overall(&self) -> LockState {
        self.locks
            .iter()
            .map(|l| l.state)
            .max()
            .unwrap_or(LockState::Free)
    }
}
