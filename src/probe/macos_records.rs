//! Pure decisions for the macOS probe over plain records (descriptor flags, vnode identities,
//! process status), compiled everywhere so Linux CI tests them.
//!
//! The macOS shell (`macos.rs`) copies what `proc_pidinfo`, `proc_pidfdinfo` and `fcntl(F_GETLK)`
//! return into the records here and asks these functions what it means:
//! who holds a lock, who waits, which process is worth scanning, what state it is in. Nothing in
//! this module calls the OS, and the XNU constants it needs are spelled out here (with the header
//! they come from) because the `libc` crate only has them on Apple targets; `macos.rs` asserts at
//! compile time that they agree with `libc` there.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::QuickLook;
use crate::core::catalog::{self, LockKind};
use crate::core::model::{Ancestor, FileKey, LockMode, Participant, ProcState, ProcessFacts};

/// `fi_openflags` bit set on an open file once a `flock` (or `O_EXLOCK`/`O_SHLOCK` open)
/// succeeded on it; never cleared on unlock (XNU `bsd/sys/fcntl.h`: `FWASLOCKED`, formerly
/// `FHASLOCK`).
pub const FWASLOCKED: u32 = 0x0000_4000;
/// `fi_openflags` bit of a descriptor opened only to receive kqueue events (`O_EVTONLY`,
/// `bsd/sys/fcntl.h`); such a descriptor never takes a lock and never waits for one.
pub const O_EVTONLY: u32 = 0x0000_8000;

/// `l_type` of a shared lock on XNU (`bsd/sys/fcntl.h`; Linux uses other numbers).
pub const F_RDLCK: i16 = 1;
/// `l_type` meaning "no conflicting lock" in an `F_GETLK` answer on XNU.
pub const F_UNLCK: i16 = 2;
/// `l_type` of an exclusive lock on XNU.
pub const F_WRLCK: i16 = 3;

/// `p_stat` values (XNU `bsd/sys/proc.h`), reported in `pbi_status`.
pub mod pstat {
    /// Being created by fork.
    pub const SIDL: u32 = 1;
    /// Alive: XNU uses this for running *and* sleeping processes.
    pub const SRUN: u32 = 2;
    /// Defined, but XNU never sets it.
    pub const SSLEEP: u32 = 3;
    /// Stopped by a signal (Ctrl-Z) or a debugger.
    pub const SSTOP: u32 = 4;
    /// Exited, waiting for its parent to reap it.
    pub const SZOMB: u32 = 5;
}

/// `pbi_flags` bits (XNU `bsd/sys/proc_info.h`).
pub mod pflag {
    /// The process is working its way through `exit()`.
    pub const PROC_FLAG_INEXIT: u32 = 4;
    /// The process has a controlling terminal.
    pub const PROC_FLAG_CONTROLT: u32 = 0x80;
}

/// `e_tdev` when the process has no controlling terminal (`NODEV`, i.e. `(dev_t)-1`).
pub const NODEV: u32 = u32::MAX;

/// kqueue `EVFILT_VNODE` flags (XNU `bsd/sys/event.h`).
pub mod note {
    /// The file was unlinked.
    pub const NOTE_DELETE: u32 = 0x0000_0001;
    /// The file was renamed.
    pub const NOTE_RENAME: u32 = 0x0000_0020;
    /// Access to the file was revoked (its file system went away).
    pub const NOTE_REVOKE: u32 = 0x0000_0040;
    /// A `flock` on the file was released (explicit unlock, or close of a locked descriptor).
    pub const NOTE_FUNLOCK: u32 = 0x0000_0100;
}

/// What the kqueue watcher reports to whoever spawned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KqueueEvent {
    /// A watched lock file was unlocked, deleted, renamed or revoked: re-check it now.
    LockFileChanged(PathBuf),
    /// A watched process exited.
    ProcessExited(u32),
}

/// Whether a vnode event means the watched path no longer names the watched file, so its watch
/// is finished (the caller must watch the path again if a new file appears there).
pub fn vnode_watch_finished(fflags: u32) -> bool {
    fflags & (note::NOTE_DELETE | note::NOTE_RENAME | note::NOTE_REVOKE) != 0
}

/// The kernel's answer to "is this file locked?" for one lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockAnswer {
    /// `F_GETLK` found no conflicting lock: nobody holds it, whatever the descriptor flags say.
    Free,
    /// `F_GETLK` found a lock.
    Held {
        /// Shared or exclusive, from the blocking lock's `l_type`.
        mode: LockMode,
        /// Owner of a POSIX (`fcntl`) lock; `None` for a `flock` lock (`l_pid == -1`), which is
        /// what Cargo takes.
        posix_owner: Option<u32>,
    },
    /// The file could not be asked (deleted while open, or unreadable): only the descriptor
    /// flags are known.
    Unverifiable,
    /// Opening the file to ask was refused (`EPERM`/`EACCES`): macOS privacy protection (TCC)
    /// in `~/Documents`, `~/Desktop`, iCloud Drive or on another volume, see
    /// [`crate::probe::tcc`]. Descriptor flags name holders; a cargo waiting on the file with
    /// no inspectable holder means a holder this user cannot see.
    Denied,
}

/// Decodes the `l_type` and `l_pid` that `fcntl(F_GETLK)` wrote back; `None` when `l_type` is
/// not one XNU returns.
pub fn decode_getlk(l_type: i16, l_pid: i32) -> Option<LockAnswer> {
    let mode = match l_type {
        F_UNLCK => return Some(LockAnswer::Free),
        F_RDLCK => LockMode::Shared,
        F_WRLCK => LockMode::Exclusive,
        _ => return None,
    };
    let posix_owner = u32::try_from(l_pid).ok().filter(|p| *p > 0);
    Some(LockAnswer::Held { mode, posix_owner })
}

/// One vnode descriptor of one process, as `proc_pidfdinfo(PROC_PIDFDVNODEPATHINFO)` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdRecord {
    /// Process that has the descriptor.
    pub pid: u32,
    /// Descriptor number in that process.
    pub fd: i32,
    /// `vst_dev` of the file.
    pub dev: u32,
    /// `vst_ino` of the file.
    pub ino: u64,
    /// `vst_nlink`: 0 once the file was deleted while open.
    pub nlink: u16,
    /// Path the kernel has for the vnode (`vip_path`), when it has one.
    pub path: Option<PathBuf>,
    /// `pfi.fi_openflags`: the open file's `fg_flag`, including [`FWASLOCKED`].
    pub open_flags: u32,
}

impl FdRecord {
    /// A `flock` succeeded on this open file at some point (maybe released since).
    pub fn was_locked(&self) -> bool {
        self.open_flags & FWASLOCKED != 0
    }

    /// Opened with `O_EVTONLY`: a watcher, never a lock user.
    pub fn event_only(&self) -> bool {
        self.open_flags & O_EVTONLY != 0
    }

    /// Whether this descriptor refers to the file `key` names.
    pub fn refers_to(&self, key: FileKey) -> bool {
        same_file(key, self.dev, self.ino)
    }

    /// The file's identity as [`FileKey`].
    pub fn key(&self) -> FileKey {
        FileKey {
            dev: u64::from(self.dev),
            ino: self.ino,
        }
    }
}

/// Whether a `stat` identity and a vnode identity name the same file.
///
/// macOS `dev_t` is a signed 32-bit number that `MetadataExt::dev` sign-extends to 64 bits, while
/// `vst_dev` is unsigned 32-bit, so only the low 32 bits are compared.
pub fn same_file(key: FileKey, dev: u32, ino: u64) -> bool {
    key.ino == ino && (key.dev & 0xffff_ffff) == u64::from(dev)
}

/// One process as `proc_pidinfo(PROC_PIDTBSDINFO)` shows it (`struct proc_bsdinfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcRecord {
    /// `pbi_pid`.
    pub pid: u32,
    /// `pbi_ppid`.
    pub ppid: u32,
    /// `pbi_pgid`.
    pub pgid: u32,
    /// `pbi_uid` (effective).
    pub uid: u32,
    /// `pbi_ruid` (real).
    pub ruid: u32,
    /// `pbi_status`: one of [`pstat`].
    pub status: u32,
    /// `pbi_flags`: bits of [`pflag`].
    pub flags: u32,
    /// `pbi_comm`: executable name, at most 16 bytes.
    pub comm: String,
    /// `pbi_name`: longer name (up to 32 bytes), empty when none was registered.
    pub name: String,
    /// `pbi_start_tvsec`.
    pub start_sec: u64,
    /// `pbi_start_tvusec`.
    pub start_usec: u64,
    /// `e_tdev`: controlling terminal, [`NODEV`] when none.
    pub tty_dev: u32,
}

impl ProcRecord {
    /// The best short name: `pbi_name` when set (it is not cut at 16 bytes), else `pbi_comm`.
    pub fn short_name(&self) -> &str {
        if self.name.is_empty() {
            &self.comm
        } else {
            &self.name
        }
    }

    /// Exited but not reaped, or on its way out: it can hold no descriptor.
    pub fn is_gone(&self) -> bool {
        self.status == pstat::SZOMB
    }

    /// Start time as seconds since the Unix epoch.
    pub fn started_at(&self) -> f64 {
        self.start_sec as f64 + self.start_usec.min(999_999) as f64 / 1e6
    }

    /// Start time in microseconds since the epoch: with the pid, it tells a process from a
    /// later one that reused its pid.
    pub fn start_token(&self) -> u64 {
        self.start_sec
            .saturating_mul(1_000_000)
            .saturating_add(self.start_usec.min(999_999))
    }

    /// Whether the process has a controlling terminal.
    pub fn has_tty(&self) -> bool {
        self.tty_dev != NODEV || self.flags & pflag::PROC_FLAG_CONTROLT != 0
    }

    /// Scheduler state; see [`decode_state`].
    pub fn state(&self, running_threads: Option<i32>) -> ProcState {
        decode_state(self.status, self.flags, running_threads)
    }
}

/// Maps `pbi_status` to a [`ProcState`].
///
/// XNU never sets `SSLEEP`: every live process is `SRUN`, running or not. The number of running
/// threads (`pti_numrunning` from `PROC_PIDTASKINFO`), when known, tells the two apart, as `ps`
/// does from thread states; without it a live process is reported running.
pub fn decode_state(status: u32, flags: u32, running_threads: Option<i32>) -> ProcState {
    match status {
        pstat::SZOMB => ProcState::Zombie,
        pstat::SSTOP => ProcState::Stopped,
        _ if flags & pflag::PROC_FLAG_INEXIT != 0 => ProcState::Other,
        pstat::SRUN => match running_threads {
            Some(0) => ProcState::Sleeping,
            _ => ProcState::Running,
        },
        pstat::SSLEEP => ProcState::Sleeping,
        _ => ProcState::Other,
    }
}

/// Exact process names that may take or wait for a Cargo lock, or hold one through an
/// inherited descriptor.
const CANDIDATE_NAMES: &[&str] = &[
    "cargo",
    "rustc",
    "rustdoc",
    "rustup",
    "rust-analyzer",
    "clippy-driver",
    "sccache",
    "miri",
    "bacon",
];

/// Name prefixes of such processes: cargo subcommands (`cargo-clippy`, `cargo-nextest` …),
/// build scripts (`build-script-build`, `build_script_build-<hash>`), and the rust-analyzer
/// helpers (`rust-analyzer-proc-macro-srv`). `pbi_comm` is cut at 16 bytes, which these
/// prefixes survive.
const CANDIDATE_PREFIXES: &[&str] = &[
    "cargo-",
    "build-script-",
    "build_script_",
    "rust-analyzer",
    "rustc-",
];

/// Whether a process with this short name is scanned first for Cargo lock descriptors.
pub fn is_candidate(name: &str) -> bool {
    // This program is called `cargo-lockwatch`: its own descriptors on a lock file (the CLI's
    // or the daemon's F_GETLK) must never make it a waiter.
    name != "cargo-lockwatch"
        && (CANDIDATE_NAMES.contains(&name)
            || CANDIDATE_PREFIXES.iter().any(|p| name.starts_with(p)))
}

/// Whether a process with this short name takes Cargo's locks itself (cargo and its
/// subcommands), rather than running under one (rustc, build scripts) or serving for hours
/// (rust-analyzer, sccache, bacon), which start cargos of their own when they build.
pub fn takes_locks(name: &str) -> bool {
    is_candidate(name) && (name == "cargo" || name.starts_with("cargo-"))
}

/// The processes seen between passes, and which of them are cargos: a name is read once per
/// pid, so knowing that a cargo started costs one `proc_listallpids` and a lookup per new pid.
#[derive(Debug, Default)]
pub struct CargoStarts {
    /// pid → whether it takes locks, for the pids of the last list.
    seen: HashMap<u32, bool>,
    /// Whether a list was taken: the processes alive then were seen by the daemon's first
    /// pass, so they started nothing new.
    primed: bool,
}

impl CargoStarts {
    /// Takes the current pid list, reading the short name of each pid not in the last one
    /// with `name_of` (`None`: gone, or unreadable); returns whether one of them is a cargo.
    /// A pid reused between two lists keeps its old answer (macOS hands out pids in order up
    /// to 99,999, so a reuse within seconds is rare; the next pass sees that cargo anyway).
    pub fn update(&mut self, pids: &[u32], mut name_of: impl FnMut(u32) -> Option<String>) -> bool {
        let mut started = false;
        let mut next = HashMap::with_capacity(pids.len());
        for pid in pids {
            let cargo = match self.seen.get(pid) {
                Some(cargo) => *cargo,
                None => {
                    let cargo = name_of(*pid).is_some_and(|n| takes_locks(&n));
                    started |= cargo;
                    cargo
                }
            };
            next.insert(*pid, cargo);
        }
        self.seen = next;
        let first = !std::mem::replace(&mut self.primed, true);
        started && !first
    }
}

/// A cheap look's answer from `F_GETLK` on a fresh descriptor (the answer and the file opened),
/// or from the error that kept it from being asked.
pub fn quick_look(asked: Result<(LockAnswer, FileKey), std::io::ErrorKind>) -> QuickLook {
    match asked {
        Ok((LockAnswer::Free, key)) => QuickLook::Free { ino: key.ino },
        Ok((LockAnswer::Held { mode, .. }, key)) => QuickLook::Held {
            ino: key.ino,
            exclusive: mode == LockMode::Exclusive,
        },
        Ok((LockAnswer::Denied, _)) => QuickLook::Failed(std::io::ErrorKind::PermissionDenied),
        Ok((LockAnswer::Unverifiable, _)) => QuickLook::Failed(std::io::ErrorKind::Other),
        Err(kind) => QuickLook::Failed(kind),
    }
}

/// Text of a NUL-terminated fixed-size C buffer (`pbi_comm`, `pbi_name`), lossily decoded.
pub fn c_buf_to_string(buf: &[u8]) -> String {
    String::from_utf8_lossy(until_nul(buf)).into_owned()
}

/// Path in a NUL-terminated fixed-size C buffer (`vip_path`); `None` when empty. Bytes are kept
/// as they are (macOS paths are UTF-8, but nothing here needs them to be).
pub fn c_buf_to_path(buf: &[u8]) -> Option<PathBuf> {
    let bytes = until_nul(buf);
    if bytes.is_empty() {
        return None;
    }
    Some(PathBuf::from(OsStr::from_bytes(bytes)))
}

fn until_nul(buf: &[u8]) -> &[u8] {
    match buf.iter().position(|b| *b == 0) {
        Some(end) => &buf[..end],
        None => buf,
    }
}

/// The timebase to convert the kernel's task times with. `mach_timebase_info` is right for a
/// native process; under Rosetta it answers 1/1 (Intel's) while the kernel still counts native
/// ticks, which would make a busy build look about 42 times idler: then the native tick
/// frequency (`hw.tbfrequency`, 24 MHz on Apple silicon) decides, or 125/3 if unknown.
pub fn task_timebase(mach: (u32, u32), translated: bool, tb_frequency: Option<u64>) -> (u32, u32) {
    if !translated {
        return mach;
    }
    match tb_frequency.filter(|f| *f > 0) {
        Some(f) => {
            let (mut a, mut b) = (1_000_000_000u64, f);
            while b != 0 {
                (a, b) = (b, a % b);
            }
            let numer = u32::try_from(1_000_000_000 / a).unwrap_or(125);
            let denom = u32::try_from(f / a).unwrap_or(3);
            (numer, denom)
        }
        None => (125, 3),
    }
}

/// Converts Mach absolute-time units (what `pti_total_user`/`pti_total_system` and the
/// `rusage_info` times count in) to seconds, given `mach_timebase_info`'s `numer`/`denom`
/// (1/1 on Intel, 125/3 on Apple silicon).
pub fn mach_to_secs(ticks: u64, numer: u32, denom: u32) -> f64 {
    if denom == 0 {
        return ticks as f64 / 1e9;
    }
    let nanos = u128::from(ticks) * u128::from(numer) / u128::from(denom);
    nanos as f64 / 1e9
}

/// The mode a waiter most likely asked for. A shared request is granted at once while only
/// shared locks are held, so a waiter behind a shared holder wants an exclusive lock. Behind an
/// exclusive holder the kernel does not say; Cargo takes `.package-cache-mutate` shared for
/// every compile and the other files exclusively, so that is the guess.
pub fn waiter_mode(held: LockMode, kind: LockKind) -> LockMode {
    match (held, kind) {
        (LockMode::Shared, _) => LockMode::Exclusive,
        (LockMode::Exclusive, LockKind::PackageCacheMutate) => LockMode::Shared,
        (LockMode::Exclusive, _) => LockMode::Exclusive,
    }
}

/// Who holds and who waits for one lock file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Roles {
    /// Processes whose descriptor holds the lock.
    pub holders: Vec<Participant>,
    /// Cargo-like processes with the file open, not holding it, while it is held.
    pub waiters: Vec<Participant>,
    /// Processes whose descriptor carries [`FWASLOCKED`] although the file is free: they
    /// locked it once and released it (the flag is never cleared).
    pub stale_flags: Vec<u32>,
}

/// The mode of a lock the kernel says is held while no inspectable process holds it (another
/// user's process: `proc_pidfdinfo` answers for the same user only). Such a lock is held, not
/// free.
///
/// When the file could not be asked ([`LockAnswer::Denied`]), a cargo waiting on it with no
/// inspectable holder is the sign that someone holds it; the mode is then a guess (exclusive).
pub fn unseen_holder(answer: LockAnswer, roles: &Roles) -> Option<LockMode> {
    match answer {
        LockAnswer::Held { mode, .. } if roles.holders.is_empty() => Some(mode),
        LockAnswer::Denied if roles.holders.is_empty() && !roles.waiters.is_empty() => {
            Some(LockMode::Exclusive)
        }
        _ => None,
    }
}

/// Decides holders and waiters of the file `key` from the kernel's answer and the descriptor
/// records of the processes scanned.
///
/// * Free: nobody holds or waits, whatever the descriptor flags say.
/// * Held: a process with a [`FWASLOCKED`] descriptor on the file holds it, in the mode the
///   kernel reported; a candidate process (see [`is_candidate`]) with the file open without the
///   flag waits. Event-only descriptors, processes missing from `procs`, zombies and
///   `self_pid` (this program's own `F_GETLK` descriptor) are ignored.
/// * Unverifiable (the file was deleted while open): flagged descriptors are taken as holders of
///   an exclusive lock, since the mode cannot be asked.
/// * Denied (macOS would not let this process open the file to ask): flagged descriptors hold
///   it (exclusive, a guess) and candidates with it open wait, as if it were held; with no
///   flagged descriptor the waiters wait for a holder this user cannot see
///   ([`unseen_holder`]).
///
/// A holder whose ancestor also holds the lock got its descriptor by inheritance; its name
/// proves nothing (Nix runs cargo as `.cargo-wrapped`).
pub fn choose_roles(
    answer: LockAnswer,
    key: FileKey,
    kind: LockKind,
    fds: &[FdRecord],
    procs: &HashMap<u32, ProcRecord>,
    self_pid: u32,
) -> Roles {
    let per_pid = descriptors_by_pid(key, fds, procs, self_pid);
    let flagged: Vec<u32> = per_pid
        .iter()
        .filter(|(_, (flagged, _))| *flagged)
        .map(|(pid, _)| *pid)
        .collect();
    let Some(held_mode) = held_mode(answer, !flagged.is_empty()) else {
        // Not held: every flag is stale (there is none when the file could not be asked).
        return Roles {
            stale_flags: flagged,
            ..Roles::default()
        };
    };
    Roles {
        holders: holders(answer, held_mode, &flagged, procs),
        waiters: waiters(&per_pid, waiter_mode(held_mode, kind), procs),
        stale_flags: Vec::new(),
    }
}

/// Per process with a descriptor on the file `key` that counts (see [`choose_roles`]):
/// whether it has a flagged descriptor, and whether it has a plain non-watcher one.
fn descriptors_by_pid(
    key: FileKey,
    fds: &[FdRecord],
    procs: &HashMap<u32, ProcRecord>,
    self_pid: u32,
) -> BTreeMap<u32, (bool, bool)> {
    // pid → (has a flagged descriptor, has a plain non-watcher descriptor)
    let mut per_pid: BTreeMap<u32, (bool, bool)> = BTreeMap::new();
    for fd in fds.iter().filter(|f| f.refers_to(key)) {
        if fd.pid == self_pid || fd.event_only() {
            continue;
        }
        match procs.get(&fd.pid) {
            Some(p) if !p.is_gone() => {}
            _ => continue,
        }
        let entry = per_pid.entry(fd.pid).or_default();
        if fd.was_locked() {
            entry.0 = true;
        } else {
            entry.1 = true;
        }
    }
    per_pid
}

/// The mode the file is held in, from the kernel's `answer` and whether a descriptor on it is
/// `flagged`, or `None` when nobody holds it.
fn held_mode(answer: LockAnswer, flagged: bool) -> Option<LockMode> {
    match answer {
        LockAnswer::Free => None,
        LockAnswer::Held { mode, .. } => Some(mode),
        LockAnswer::Unverifiable => flagged.then_some(LockMode::Exclusive),
        LockAnswer::Denied => Some(LockMode::Exclusive),
    }
}

/// The holders of a file held in `held_mode`: the processes with a `flagged` descriptor on
/// it, and the owner of a POSIX lock the `answer` names.
fn holders(
    answer: LockAnswer,
    held_mode: LockMode,
    flagged: &[u32],
    procs: &HashMap<u32, ProcRecord>,
) -> Vec<Participant> {
    let mut holders: Vec<Participant> = flagged
        .iter()
        .map(|pid| Participant {
            pid: *pid,
            mode: held_mode,
            // Only a holding ancestor proves the descriptor was inherited (and, when every
            // holder inherited, that the locker is gone): a holder with another name may be
            // the locker itself (Nix's `.cargo-wrapped`, `flock`, an IDE's helper).
            inherited: has_ancestor_in(*pid, flagged, procs),
        })
        .collect();
    // A POSIX (fcntl) lock names its owner outright; Cargo never takes one, but a tool that
    // does still blocks Cargo's flock on the same file.
    if let LockAnswer::Held {
        posix_owner: Some(owner),
        ..
    } = answer
        && !flagged.contains(&owner)
        && procs.get(&owner).is_some_and(|p| !p.is_gone())
    {
        holders.push(Participant {
            pid: owner,
            mode: held_mode,
            inherited: false,
        });
    }
    holders
}

/// The waiters for a held file, in the mode they want: the candidates with a plain
/// descriptor on it and no flagged one.
fn waiters(
    per_pid: &BTreeMap<u32, (bool, bool)>,
    wanted: LockMode,
    procs: &HashMap<u32, ProcRecord>,
) -> Vec<Participant> {
    per_pid
        .iter()
        .filter(|(_, (flagged, plain))| !*flagged && *plain)
        .filter(|(pid, _)| procs.get(pid).is_some_and(|p| is_candidate(p.short_name())))
        .map(|(pid, _)| Participant {
            pid: *pid,
            mode: wanted,
            inherited: false,
        })
        .collect()
}

/// Whether one process holds the lock on `key`, from its own descriptors and the kernel's
/// answer for the file: it needs a [`FWASLOCKED`] descriptor on that file and the file must not
/// be free (the flag outlives the lock). For a file that can no longer be asked (deleted while
/// open) the flag alone decides.
pub fn descriptor_holds(answer: LockAnswer, key: FileKey, fds: &[FdRecord]) -> bool {
    let flagged = fds
        .iter()
        .any(|f| f.refers_to(key) && f.was_locked() && !f.event_only());
    match answer {
        LockAnswer::Free => false,
        LockAnswer::Held { .. } | LockAnswer::Unverifiable | LockAnswer::Denied => flagged,
    }
}

/// How far up a parent chain [`has_ancestor_in`] looks.
const MAX_ANCESTRY: usize = 64;

/// Whether some ancestor of `pid` (per `procs`' parent pids) is one of `set`.
fn has_ancestor_in(pid: u32, set: &[u32], procs: &HashMap<u32, ProcRecord>) -> bool {
    let mut cur = pid;
    for _ in 0..MAX_ANCESTRY {
        let Some(parent) = procs.get(&cur).map(|p| p.ppid) else {
            return false;
        };
        if parent == 0 || parent == cur {
            return false;
        }
        if set.contains(&parent) {
            return true;
        }
        cur = parent;
    }
    false
}

/// Whether the expensive scan of every same-user process is needed for a lock: it is held but
/// no scanned process holds it (the holder is not cargo-like, e.g. a daemon that inherited the
/// descriptor), or it is contended and the caller asked for all holders.
pub fn needs_wide_scan(answer: LockAnswer, roles: &Roles, deep_on_contention: bool) -> bool {
    match answer {
        LockAnswer::Held { .. } => {
            roles.holders.is_empty() || (deep_on_contention && !roles.waiters.is_empty())
        }
        // Someone waits and no cargo-like process holds it: look at every process.
        LockAnswer::Denied => roles.holders.is_empty() && !roles.waiters.is_empty(),
        LockAnswer::Free | LockAnswer::Unverifiable => false,
    }
}

/// A Cargo lock file seen through a process's descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredLock {
    /// Path the kernel gave for the vnode.
    pub path: PathBuf,
    /// What it guards.
    pub kind: LockKind,
    /// Identity of the open file.
    pub key: FileKey,
    /// The open file no longer has a name (`vst_nlink == 0`).
    pub deleted: bool,
}

/// Cargo lock files among descriptor records, one per file: the build directories of every
/// project a cargo-like process is working in.
pub fn discover_locks(fds: &[FdRecord]) -> Vec<DiscoveredLock> {
    let mut out: BTreeMap<FileKey, DiscoveredLock> = BTreeMap::new();
    for fd in fds {
        if fd.event_only() {
            continue;
        }
        let Some(path) = &fd.path else { continue };
        let Some(name) = path.file_name().and_then(OsStr::to_str) else {
            continue;
        };
        if !catalog::could_be_lock_name(name) {
            continue;
        }
        let Some(kind) = catalog::classify(path) else {
            continue;
        };
        out.entry(fd.key()).or_insert_with(|| DiscoveredLock {
            path: path.clone(),
            kind,
            key: fd.key(),
            deleted: fd.nlink == 0,
        });
    }
    out.into_values().collect()
}

/// What the probe measured about a process besides its `proc_bsdinfo`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FactsExtras {
    /// Command line (empty when unreadable).
    pub cmd: Vec<String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Running threads, from `pti_numrunning`.
    pub running_threads: Option<i32>,
    /// CPU seconds of the process, its live descendants and its reaped children.
    pub tree_cpu_secs: f64,
    /// Parent chain, nearest first.
    pub ancestors: Vec<Ancestor>,
    /// Whether the parent has a controlling terminal.
    pub parent_has_tty: bool,
}

/// Assembles the product's [`ProcessFacts`] from a process record and the extras.
pub fn facts_from(rec: &ProcRecord, extras: FactsExtras) -> ProcessFacts {
    ProcessFacts {
        pid: rec.pid,
        ppid: rec.ppid,
        pgid: rec.pgid,
        uid: rec.ruid,
        user: None,
        name: rec.short_name().into(),
        cmd: extras.cmd,
        cwd: extras.cwd,
        start_token: rec.start_token(),
        started_at: rec.started_at(),
        state: rec.state(extras.running_threads),
        tree_cpu_secs: extras.tree_cpu_secs,
        has_tty: rec.has_tty() || extras.parent_has_tty,
        ancestors: extras.ancestors,
        // Not read on macOS (proc_bsdinfo has no signal masks): unknown, never claimed.
        sigterm: crate::core::model::Sigterm::Unknown,
    }
}

/// Whether `path` still names the file `key` (given the key `stat` now reports for the path).
pub fn path_still_names(now: Option<FileKey>, key: FileKey) -> bool {
    now.is_some_and(|k| k.ino == key.ino && (k.dev & 0xffff_ffff) == (key.dev & 0xffff_ffff))
}

/// File name of a path as text, for quick filtering.
pub fn file_name_str(path: &Path) -> Option<&str> {
    path.file_name().and_then(OsStr::to_str)
}

/// `FREAD` (XNU `bsd/sys/fcntl.h`): the descriptor was opened for reading.
pub const FREAD: u32 = 0x0000_0001;
/// `FWRITE`: the descriptor was opened for writing.
pub const FWRITE: u32 = 0x0000_0002;

/// One end of a pipe in some process's descriptor table, from `PROC_PIDFDPIPEINFO`. XNU gives
/// each end its own handle (an obfuscated kernel address, the same in every process) and names
/// the other end's handle as the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeEnd {
    /// Process holding the descriptor.
    pub pid: u32,
    /// Descriptor number.
    pub fd: i32,
    /// `pipe_handle`: this end.
    pub handle: u64,
    /// `pipe_peerhandle`: the other end.
    pub peer: u64,
    /// `fi_openflags` (`FREAD`, `FWRITE` …).
    pub open_flags: u32,
}

/// The write ends a process waits on: pipes it reads from (beyond stdin, stdout and stderr)
/// whose write end it does not hold itself — someone else must close them for it to see EOF.
pub fn awaited_write_ends(mine: &[PipeEnd]) -> Vec<u64> {
    let held: Vec<u64> = mine.iter().map(|p| p.handle).collect();
    let mut out: Vec<u64> = mine
        .iter()
        .filter(|p| p.fd > 2 && p.open_flags & FREAD != 0 && p.open_flags & FWRITE == 0)
        .map(|p| p.peer)
        .filter(|w| *w != 0 && !held.contains(w))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The processes among `ends` (other than `exclude`) holding one of the `wanted` write ends.
pub fn pipe_writers(ends: &[PipeEnd], wanted: &[u64], exclude: &[u32]) -> Vec<u32> {
    let mut out: Vec<u32> = ends
        .iter()
        .filter(|e| wanted.contains(&e.handle) && !exclude.contains(&e.pid))
        .map(|e| e.pid)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cargo_started_since_the_last_list_and_only_then() {
        let names = |pid: u32| -> Option<String> {
            match pid {
                1 => Some("launchd".into()),
                10 | 30 => Some("cargo".into()),
                11 => Some("rust-analyzer".into()),
                12 => Some("rustc".into()),
                20 => Some("cargo-clippy".into()),
                21 => Some("cargo-lockwatch".into()),
                _ => None,
            }
        };
        let mut starts = CargoStarts::default();
        let mut asked = Vec::new();
        let update = |s: &mut CargoStarts, pids: &[u32], asked: &mut Vec<u32>| {
            s.update(pids, |p| {
                asked.push(p);
                names(p)
            })
        };
        // The first list only learns: its processes were there before the daemon looked.
        assert!(!update(&mut starts, &[1, 10, 11], &mut asked));
        // The same processes again: no name is read, nothing started.
        asked.clear();
        assert!(!update(&mut starts, &[1, 10, 11], &mut asked));
        assert!(asked.is_empty(), "names are read once per pid");
        // rustc and a gone pid are no cargo; rust-analyzer's long life is no news.
        assert!(!update(&mut starts, &[1, 10, 11, 12, 99], &mut asked));
        assert_eq!(asked, [12, 99]);
        // A cargo subcommand starts; this program's own name never counts.
        assert!(update(&mut starts, &[1, 11, 20], &mut asked));
        assert!(!update(&mut starts, &[1, 11, 20, 21], &mut asked));
        // A pid that left and came back is read again.
        assert!(update(&mut starts, &[1, 10], &mut asked));
        assert!(takes_locks("cargo") && takes_locks("cargo-nextest"));
        assert!(!takes_locks("rust-analyzer") && !takes_locks("build-script-build"));
    }

    #[test]
    fn quick_looks_keep_the_inode_and_the_mode() {
        let key = FileKey { dev: 1, ino: 7 };
        assert_eq!(
            quick_look(Ok((LockAnswer::Free, key))),
            QuickLook::Free { ino: 7 }
        );
        let held = |mode| LockAnswer::Held {
            mode,
            posix_owner: None,
        };
        assert_eq!(
            quick_look(Ok((held(LockMode::Shared), key))),
            QuickLook::Held {
                ino: 7,
                exclusive: false
            }
        );
        assert!(quick_look(Ok((held(LockMode::Exclusive), key))).is_held());
        let gone = quick_look(Err(std::io::ErrorKind::NotFound));
        assert_eq!(gone, QuickLook::Failed(std::io::ErrorKind::NotFound));
        assert_ne!(gone, quick_look(Ok((LockAnswer::Denied, key))));
    }

    const DEV: u32 = 0x0100_0010;
    const CACHE_INO: u64 = 4242;

    fn key() -> FileKey {
        FileKey {
            dev: u64::from(DEV),
            ino: CACHE_INO,
        }
    }

    fn fd(pid: u32, fd: i32, flags: u32) -> FdRecord {
        FdRecord {
            pid,
            fd,
            dev: DEV,
            ino: CACHE_INO,
            nlink: 1,
            path: Some(PathBuf::from("/Users/u/.cargo/.package-cache")),
            open_flags: flags,
        }
    }

    fn proc_(pid: u32, ppid: u32, name: &str) -> (u32, ProcRecord) {
        (
            pid,
            ProcRecord {
                pid,
                ppid,
                pgid: pid,
                uid: 501,
                ruid: 501,
                status: pstat::SRUN,
                comm: name.to_owned(),
                start_sec: 1_700_000_000,
                tty_dev: NODEV,
                ..ProcRecord::default()
            },
        )
    }

    const RW: u32 = 0x3; // FREAD | FWRITE
    const HELD_EX: LockAnswer = LockAnswer::Held {
        mode: LockMode::Exclusive,
        posix_owner: None,
    };
    const HELD_SH: LockAnswer = LockAnswer::Held {
        mode: LockMode::Shared,
        posix_owner: None,
    };

    fn pids(ps: &[Participant]) -> Vec<u32> {
        ps.iter().map(|p| p.pid).collect()
    }

    #[test]
    fn getlk_answers_decode_with_xnu_numbers() {
        assert_eq!(decode_getlk(F_UNLCK, 0), Some(LockAnswer::Free));
        assert_eq!(decode_getlk(F_WRLCK, -1), Some(HELD_EX));
        assert_eq!(decode_getlk(F_RDLCK, -1), Some(HELD_SH));
        assert_eq!(
            decode_getlk(F_WRLCK, 812),
            Some(LockAnswer::Held {
                mode: LockMode::Exclusive,
                posix_owner: Some(812)
            })
        );
        assert_eq!(decode_getlk(0, -1), None);
        assert_eq!(decode_getlk(9, -1), None);
    }

    #[test]
    fn flagged_descriptor_holds_and_plain_cargo_waits() {
        let procs: HashMap<_, _> = [proc_(100, 1, "cargo"), proc_(200, 1, "cargo")].into();
        let fds = [fd(100, 7, RW | FWASLOCKED), fd(200, 7, RW)];
        let r = choose_roles(HELD_EX, key(), LockKind::PackageCache, &fds, &procs, 1);
        assert_eq!(
            r.holders,
            vec![Participant {
                pid: 100,
                mode: LockMode::Exclusive,
                inherited: false
            }]
        );
        assert_eq!(
            r.waiters,
            vec![Participant {
                pid: 200,
                mode: LockMode::Exclusive,
                inherited: false
            }]
        );
        assert!(r.stale_flags.is_empty());
    }

    #[test]
    fn flag_left_after_unlock_is_stale_when_file_is_free() {
        let procs: HashMap<_, _> = [proc_(100, 1, "cargo"), proc_(200, 1, "cargo")].into();
        let fds = [fd(100, 7, RW | FWASLOCKED), fd(200, 9, RW)];
        let r = choose_roles(
            LockAnswer::Free,
            key(),
            LockKind::PackageCache,
            &fds,
            &procs,
            1,
        );
        assert!(r.holders.is_empty());
        assert!(r.waiters.is_empty());
        assert_eq!(r.stale_flags, vec![100]);
    }

    #[test]
    fn several_shared_holders_and_an_exclusive_waiter() {
        let procs: HashMap<_, _> = [
            proc_(10, 1, "cargo"),
            proc_(11, 1, "cargo"),
            proc_(12, 1, "cargo"),
        ]
        .into();
        let fds = [
            fd(10, 3, 0x1 | FWASLOCKED),
            fd(11, 3, 0x1 | FWASLOCKED),
            fd(12, 3, RW),
        ];
        let r = choose_roles(
            HELD_SH,
            key(),
            LockKind::PackageCacheMutate,
            &fds,
            &procs,
            1,
        );
        assert_eq!(pids(&r.holders), vec![10, 11]);
        assert!(r.holders.iter().all(|h| h.mode == LockMode::Shared));
        assert_eq!(pids(&r.waiters), vec![12]);
        assert_eq!(r.waiters[0].mode, LockMode::Exclusive);
    }

    #[test]
    fn multiple_waiters_and_mutate_waiters_want_shared() {
        let procs: HashMap<_, _> = [
            proc_(1, 0, "launchd"),
            proc_(50, 1, "cargo"),
            proc_(51, 1, "cargo"),
            proc_(52, 1, "rust-analyzer"),
        ]
        .into();
        let fds = [fd(50, 4, RW | FWASLOCKED), fd(51, 4, 0x1), fd(52, 5, 0x1)];
        let r = choose_roles(
            HELD_EX,
            key(),
            LockKind::PackageCacheMutate,
            &fds,
            &procs,
            9,
        );
        assert_eq!(pids(&r.holders), vec![50]);
        assert_eq!(pids(&r.waiters), vec![51, 52]);
        assert!(r.waiters.iter().all(|w| w.mode == LockMode::Shared));
    }

    #[test]
    fn watchers_self_and_non_cargo_openers_are_not_waiters() {
        let procs: HashMap<_, _> = [
            proc_(100, 1, "cargo"),
            proc_(300, 1, "Finder"),
            proc_(400, 1, "cargo-lockwatch"),
            proc_(500, 1, "vim"),
        ]
        .into();
        let fds = [
            fd(100, 7, RW | FWASLOCKED),
            fd(300, 12, O_EVTONLY),
            fd(400, 3, 0x1),
            fd(500, 6, 0x1),
        ];
        let r = choose_roles(HELD_EX, key(), LockKind::PackageCache, &fds, &procs, 400);
        assert_eq!(pids(&r.holders), vec![100]);
        assert!(r.waiters.is_empty(), "{:?}", r.waiters);
    }

    #[test]
    fn flagged_descriptor_of_any_process_holds_and_only_a_holding_ancestor_means_inherited() {
        // A daemon spawned by a build script kept the lock descriptor: not cargo-like, still
        // the holder. Its name alone does not prove the locker died: Nix runs cargo as
        // `.cargo-wrapped`, and that one took the lock itself.
        let procs: HashMap<_, _> = [
            proc_(700, 1, "some-daemon"),
            proc_(800, 1, ".cargo-wrapped"),
        ]
        .into();
        let fds = [fd(700, 3, RW | FWASLOCKED)];
        let r = choose_roles(HELD_EX, key(), LockKind::BuildDirectory, &fds, &procs, 1);
        assert_eq!(pids(&r.holders), vec![700]);
        assert!(!r.holders[0].inherited);
        let fds = [fd(800, 3, RW | FWASLOCKED)];
        let r = choose_roles(HELD_EX, key(), LockKind::BuildDirectory, &fds, &procs, 1);
        assert!(
            !r.holders[0].inherited,
            "a wrapped cargo is the locker, not an heir"
        );
    }

    #[test]
    fn child_sharing_the_locked_descriptor_is_inherited() {
        let procs: HashMap<_, _> = [
            proc_(100, 1, "cargo"),
            proc_(101, 100, "build-script-bui"),
            proc_(102, 101, "sccache"),
            proc_(103, 100, "cargo"),
        ]
        .into();
        let fds = [
            fd(100, 7, RW | FWASLOCKED),
            fd(102, 7, RW | FWASLOCKED),
            fd(103, 7, RW | FWASLOCKED),
        ];
        let r = choose_roles(HELD_EX, key(), LockKind::BuildDirectory, &fds, &procs, 1);
        assert_eq!(pids(&r.holders), vec![100, 102, 103]);
        assert!(!r.holders[0].inherited);
        assert!(r.holders[1].inherited);
        // A cargo-named child is judged by its ancestry alone.
        assert!(r.holders[2].inherited);
    }

    #[test]
    fn dead_and_zombie_processes_are_neither_holders_nor_waiters() {
        let mut procs: HashMap<_, _> = [proc_(100, 1, "cargo"), proc_(200, 1, "cargo")].into();
        procs.get_mut(&200).unwrap().status = pstat::SZOMB;
        // 300 has records but exited before its facts were read.
        let fds = [
            fd(100, 7, RW | FWASLOCKED),
            fd(200, 7, RW | FWASLOCKED),
            fd(300, 7, RW),
        ];
        let r = choose_roles(HELD_EX, key(), LockKind::PackageCache, &fds, &procs, 1);
        assert_eq!(pids(&r.holders), vec![100]);
        assert!(r.waiters.is_empty());
    }

    #[test]
    fn descriptors_on_other_files_are_ignored() {
        let procs: HashMap<_, _> = [proc_(100, 1, "cargo"), proc_(200, 1, "cargo")].into();
        let mut other = fd(200, 7, RW | FWASLOCKED);
        other.ino = CACHE_INO + 1;
        let mut other_dev = fd(200, 8, RW | FWASLOCKED);
        other_dev.dev = DEV + 1;
        let fds = [fd(100, 7, RW | FWASLOCKED), other, other_dev];
        let r = choose_roles(HELD_EX, key(), LockKind::PackageCache, &fds, &procs, 1);
        assert_eq!(pids(&r.holders), vec![100]);
        assert!(r.waiters.is_empty());
    }

    #[test]
    fn deleted_file_trusts_the_flag_only() {
        let procs: HashMap<_, _> = [proc_(100, 1, "cargo"), proc_(200, 1, "cargo")].into();
        let fds = [fd(100, 7, RW | FWASLOCKED), fd(200, 7, RW)];
        let r = choose_roles(
            LockAnswer::Unverifiable,
            key(),
            LockKind::ProfileDirectory,
            &fds,
            &procs,
            1,
        );
        assert_eq!(pids(&r.holders), vec![100]);
        assert_eq!(r.holders[0].mode, LockMode::Exclusive);
        assert_eq!(pids(&r.waiters), vec![200]);
        let unflagged = [fd(200, 7, RW)];
        assert_eq!(
            choose_roles(
                LockAnswer::Unverifiable,
                key(),
                LockKind::ProfileDirectory,
                &unflagged,
                &procs,
                1
            ),
            Roles::default()
        );
    }

    #[test]
    fn a_lock_macos_will_not_let_us_ask_about_degrades_to_unseen() {
        // TCC: the agent may not open ~/Documents/app/target/debug/.cargo-lock (EPERM).
        let procs: HashMap<_, _> = [
            proc_(100, 1, "cargo"),
            proc_(200, 1, "cargo"),
            proc_(300, 1, "mdworker_shared"),
        ]
        .into();
        let kind = LockKind::ProfileDirectory;
        // A flagged holder is still named, and a cargo with it open waits for it.
        let fds = [fd(100, 7, RW | FWASLOCKED), fd(200, 7, RW)];
        let r = choose_roles(LockAnswer::Denied, key(), kind, &fds, &procs, 1);
        assert_eq!(pids(&r.holders), vec![100]);
        assert_eq!(pids(&r.waiters), vec![200]);
        assert_eq!(unseen_holder(LockAnswer::Denied, &r), None);
        assert!(!needs_wide_scan(LockAnswer::Denied, &r, false));
        // Only a waiter: someone this user cannot inspect holds it; look wider first.
        let fds = [fd(200, 7, RW)];
        let r = choose_roles(LockAnswer::Denied, key(), kind, &fds, &procs, 1);
        assert!(r.holders.is_empty());
        assert_eq!(pids(&r.waiters), vec![200]);
        assert!(needs_wide_scan(LockAnswer::Denied, &r, false));
        assert_eq!(
            unseen_holder(LockAnswer::Denied, &r),
            Some(LockMode::Exclusive)
        );
        // Nobody has it open: nothing is known, nothing is reported (never "held" by guess).
        let r = choose_roles(LockAnswer::Denied, key(), kind, &[], &procs, 1);
        assert_eq!(r, Roles::default());
        assert_eq!(unseen_holder(LockAnswer::Denied, &r), None);
        assert!(!needs_wide_scan(LockAnswer::Denied, &r, true));
        // A non-cargo process with it open is not a waiter.
        let r = choose_roles(
            LockAnswer::Denied,
            key(),
            kind,
            &[fd(300, 7, RW)],
            &procs,
            1,
        );
        assert_eq!(unseen_holder(LockAnswer::Denied, &r), None);
        // Re-verifying a holder before a signal: the flag decides.
        assert!(descriptor_holds(
            LockAnswer::Denied,
            key(),
            &[fd(100, 7, RW | FWASLOCKED)]
        ));
        assert!(!descriptor_holds(
            LockAnswer::Denied,
            key(),
            &[fd(100, 7, RW)]
        ));
    }

    #[test]
    fn posix_lock_owner_is_named_by_the_kernel() {
        let procs: HashMap<_, _> = [proc_(100, 1, "sqlite-tool"), proc_(200, 1, "cargo")].into();
        let fds = [fd(200, 7, RW)];
        let answer = LockAnswer::Held {
            mode: LockMode::Exclusive,
            posix_owner: Some(100),
        };
        let r = choose_roles(answer, key(), LockKind::PackageCache, &fds, &procs, 1);
        assert_eq!(pids(&r.holders), vec![100]);
        assert_eq!(pids(&r.waiters), vec![200]);
    }

    #[test]
    fn one_process_holds_only_with_flag_and_kernel_agreeing() {
        let mine = [fd(100, 7, RW | FWASLOCKED)];
        let plain = [fd(100, 7, RW)];
        assert!(descriptor_holds(HELD_EX, key(), &mine));
        assert!(descriptor_holds(HELD_SH, key(), &mine));
        assert!(!descriptor_holds(LockAnswer::Free, key(), &mine));
        assert!(!descriptor_holds(HELD_EX, key(), &plain));
        assert!(descriptor_holds(LockAnswer::Unverifiable, key(), &mine));
        let other_file = FileKey {
            dev: u64::from(DEV),
            ino: 1,
        };
        assert!(!descriptor_holds(HELD_EX, other_file, &mine));
    }

    #[test]
    fn wide_scan_only_when_the_holder_is_unknown_or_asked_for() {
        let none = Roles::default();
        let held = Roles {
            holders: vec![Participant {
                pid: 1,
                mode: LockMode::Exclusive,
                inherited: false,
            }],
            ..Roles::default()
        };
        let contended = Roles {
            waiters: vec![Participant {
                pid: 2,
                mode: LockMode::Exclusive,
                inherited: false,
            }],
            ..held.clone()
        };
        assert!(needs_wide_scan(HELD_EX, &none, false));
        assert!(!needs_wide_scan(HELD_EX, &held, true));
        assert!(!needs_wide_scan(HELD_EX, &contended, false));
        assert!(needs_wide_scan(HELD_EX, &contended, true));
        assert!(!needs_wide_scan(LockAnswer::Free, &none, true));
        assert!(!needs_wide_scan(LockAnswer::Unverifiable, &none, true));
    }

    #[test]
    fn device_numbers_compare_on_32_bits() {
        // A negative dev_t sign-extended by MetadataExt::dev.
        let k = FileKey {
            dev: (-5i32) as i64 as u64,
            ino: 9,
        };
        assert!(same_file(k, (-5i32) as u32, 9));
        assert!(!same_file(k, (-5i32) as u32, 10));
        assert!(path_still_names(
            Some(FileKey {
                dev: 0xfffb,
                ino: 9
            }),
            FileKey {
                dev: 0xfffb,
                ino: 9
            }
        ));
        assert!(!path_still_names(None, k));
    }

    #[test]
    fn candidates_by_name() {
        for n in [
            "cargo",
            "rustc",
            "rustdoc",
            "rust-analyzer",
            "rust-analyzer-proc-macro-srv",
            "clippy-driver",
            "cargo-clippy",
            "cargo-nextest",
            "build-script-bui",
            "build_script_build-0123abcd",
            "sccache",
        ] {
            assert!(is_candidate(n), "{n}");
        }
        for n in ["cargo2", "Finder", "zsh", "rust", "launchd", ""] {
            assert!(!is_candidate(n), "{n}");
        }
    }

    #[test]
    fn process_status_decodes_like_ps() {
        assert_eq!(decode_state(pstat::SRUN, 0, Some(2)), ProcState::Running);
        assert_eq!(decode_state(pstat::SRUN, 0, Some(0)), ProcState::Sleeping);
        assert_eq!(decode_state(pstat::SRUN, 0, None), ProcState::Running);
        assert_eq!(decode_state(pstat::SSLEEP, 0, None), ProcState::Sleeping);
        assert_eq!(decode_state(pstat::SSTOP, 0, Some(0)), ProcState::Stopped);
        assert_eq!(decode_state(pstat::SZOMB, 0, None), ProcState::Zombie);
        assert_eq!(decode_state(pstat::SIDL, 0, None), ProcState::Other);
        assert_eq!(
            decode_state(pstat::SRUN, pflag::PROC_FLAG_INEXIT, Some(1)),
            ProcState::Other
        );
        assert_eq!(decode_state(77, 0, None), ProcState::Other);
    }

    #[test]
    fn start_time_and_token() {
        let r = ProcRecord {
            start_sec: 1_700_000_123,
            start_usec: 456_789,
            ..ProcRecord::default()
        };
        assert_eq!(r.start_token(), 1_700_000_123_456_789);
        assert!((r.started_at() - 1_700_000_123.456_789).abs() < 1e-6);
        let later = ProcRecord {
            start_usec: 456_790,
            ..r.clone()
        };
        assert_ne!(r.start_token(), later.start_token());
    }

    #[test]
    fn names_and_tty() {
        let mut r = ProcRecord {
            comm: "build-script-bui".into(),
            name: String::new(),
            tty_dev: NODEV,
            ..ProcRecord::default()
        };
        assert_eq!(r.short_name(), "build-script-bui");
        assert!(!r.has_tty());
        r.name = "build-script-build".into();
        assert_eq!(r.short_name(), "build-script-build");
        r.tty_dev = 0x1000_0003;
        assert!(r.has_tty());
        r.tty_dev = NODEV;
        r.flags = pflag::PROC_FLAG_CONTROLT;
        assert!(r.has_tty());
    }

    #[test]
    fn c_buffers_stop_at_nul_and_keep_non_ascii_bytes() {
        let mut buf = [0u8; 1024];
        let p = "/Users/zoë/プロジェクト/target/debug/.cargo-lock".as_bytes();
        buf[..p.len()].copy_from_slice(p);
        buf[p.len() + 1] = b'x'; // garbage after the terminator is ignored
        let path = c_buf_to_path(&buf).unwrap();
        assert_eq!(
            path,
            PathBuf::from("/Users/zoë/プロジェクト/target/debug/.cargo-lock")
        );
        assert_eq!(file_name_str(&path), Some(".cargo-lock"));

        // Not UTF-8: bytes are preserved in the path, replaced in text.
        let raw = [b'/', b't', 0xff, b'x', 0];
        assert_eq!(
            c_buf_to_path(&raw).unwrap().as_os_str().as_bytes(),
            b"/t\xffx"
        );
        assert_eq!(c_buf_to_string(&raw), "/t\u{fffd}x");

        assert_eq!(c_buf_to_path(&[0u8; 16]), None);
        // No terminator: the whole buffer.
        assert_eq!(c_buf_to_string(b"cargo"), "cargo");
        // A name is kept as it is (escaped where it is shown: see `ProcName`).
        assert_eq!(c_buf_to_string(b"x\x1b[2J\0"), "x\u{1b}[2J");
    }

    #[test]
    fn mach_ticks_to_seconds() {
        assert_eq!(mach_to_secs(2_000_000_000, 1, 1), 2.0);
        // Apple silicon: 24 MHz timebase, 125/3 ns per tick.
        assert!((mach_to_secs(24_000_000, 125, 3) - 1.0).abs() < 1e-9);
        assert_eq!(mach_to_secs(5_000_000_000, 1, 0), 5.0);
        assert!(mach_to_secs(u64::MAX, 125, 3).is_finite());
    }

    #[test]
    fn discovery_keeps_cargo_lock_files_once() {
        let mk = |pid, ino, path: &str, nlink| FdRecord {
            pid,
            fd: 5,
            dev: DEV,
            ino,
            nlink,
            path: Some(PathBuf::from(path)),
            open_flags: RW,
        };
        let fds = [
            mk(1, 10, "/p/target/debug/.cargo-build-lock", 1),
            mk(2, 10, "/p/target/debug/.cargo-build-lock", 1),
            mk(1, 11, "/p/target/release/.cargo-lock", 0),
            mk(1, 12, "/p/src/main.rs", 1),
            mk(1, 13, "/var/lib/dpkg/.lock", 1),
            FdRecord {
                open_flags: O_EVTONLY,
                ..mk(3, 14, "/p/target/debug/.cargo-artifact-lock", 1)
            },
        ];
        let found = discover_locks(&fds);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].kind, LockKind::BuildDirectory);
        assert!(!found[0].deleted);
        assert_eq!(found[1].kind, LockKind::ProfileDirectory);
        assert!(found[1].deleted);
    }

    #[test]
    fn waiter_modes() {
        assert_eq!(
            waiter_mode(LockMode::Shared, LockKind::PackageCacheMutate),
            LockMode::Exclusive
        );
        assert_eq!(
            waiter_mode(LockMode::Exclusive, LockKind::PackageCacheMutate),
            LockMode::Shared
        );
        assert_eq!(
            waiter_mode(LockMode::Exclusive, LockKind::BuildDirectory),
            LockMode::Exclusive
        );
    }

    #[test]
    fn vnode_events_that_end_a_watch() {
        assert!(!vnode_watch_finished(note::NOTE_FUNLOCK));
        assert!(vnode_watch_finished(note::NOTE_DELETE));
        assert!(vnode_watch_finished(note::NOTE_FUNLOCK | note::NOTE_RENAME));
        assert!(vnode_watch_finished(note::NOTE_REVOKE));
    }

    #[test]
    fn facts_combine_record_and_extras() {
        let (_, mut rec) = proc_(321, 300, "cargo");
        rec.ruid = 501;
        rec.uid = 0;
        rec.status = pstat::SSTOP;
        rec.start_usec = 5;
        let f = facts_from(
            &rec,
            FactsExtras {
                cmd: vec!["cargo".into(), "check".into()],
                cwd: Some(PathBuf::from("/p")),
                running_threads: Some(0),
                tree_cpu_secs: 1.5,
                ancestors: vec![Ancestor {
                    pid: 300,
                    name: "zsh".into(),
                }],
                parent_has_tty: true,
            },
        );
        assert_eq!(f.pid, 321);
        assert_eq!(f.ppid, 300);
        assert_eq!(f.uid, 501);
        assert_eq!(f.name, "cargo");
        assert_eq!(f.state, ProcState::Stopped);
        assert_eq!(f.start_token, 1_700_000_000_000_005);
        assert!(f.has_tty);
        assert_eq!(f.tree_cpu_secs, 1.5);
        assert_eq!(f.ancestors.len(), 1);
    }

    #[test]
    fn a_pipe_read_by_cargo_whose_write_end_lives_in_a_daemon_names_the_daemon() {
        let end = |pid, fd, handle, peer, open_flags| PipeEnd {
            pid,
            fd,
            handle,
            peer,
            open_flags,
        };
        // cargo (10): reads the build script's stdout (0xa0, writer 0xa1), holds both ends of
        // its jobserver pipe (0xb0/0xb1), and its own stdin is a pipe (fd 0).
        let cargo = [
            end(10, 0, 0xc0, 0xc1, FREAD),
            end(10, 7, 0xa0, 0xa1, FREAD),
            end(10, 8, 0xb0, 0xb1, FREAD),
            end(10, 9, 0xb1, 0xb0, FWRITE),
        ];
        let wanted = awaited_write_ends(&cargo);
        assert_eq!(wanted, vec![0xa1]);
        // sleep (30) kept the write end; the shell (20) writes cargo's stdin; the jobserver's
        // write end in the daemon does not count.
        let others = [
            end(30, 1, 0xa1, 0xa0, FWRITE),
            end(30, 4, 0xb1, 0xb0, FWRITE),
            end(20, 5, 0xc1, 0xc0, FWRITE),
            end(10, 7, 0xa0, 0xa1, FREAD),
        ];
        assert_eq!(pipe_writers(&others, &wanted, &[10]), vec![30]);
        assert_eq!(pipe_writers(&others, &wanted, &[10, 30]), Vec::<u32>::new());
    }

    #[test]
    fn a_lock_held_by_nobody_inspectable_is_held_by_an_unseen_process() {
        let held = LockAnswer::Held {
            mode: LockMode::Exclusive,
            posix_owner: None,
        };
        let nobody = Roles {
            holders: vec![],
            waiters: vec![],
            stale_flags: vec![],
        };
        assert_eq!(unseen_holder(held, &nobody), Some(LockMode::Exclusive));
        assert_eq!(unseen_holder(LockAnswer::Free, &nobody), None);
        let someone = Roles {
            holders: vec![Participant {
                pid: 5,
                mode: LockMode::Exclusive,
                inherited: false,
            }],
            ..nobody
        };
        assert_eq!(unseen_holder(held, &someone), None);
    }

    #[test]
    fn rosetta_uses_the_native_tick_rate() {
        assert_eq!(task_timebase((125, 3), false, Some(24_000_000)), (125, 3));
        assert_eq!(task_timebase((1, 1), false, None), (1, 1), "Intel, native");
        let (n, d) = task_timebase((1, 1), true, Some(24_000_000));
        assert_eq!((n, d), (125, 3));
        assert!((mach_to_secs(24_000_000, n, d) - 1.0).abs() < 1e-9);
        assert_eq!(task_timebase((1, 1), true, None), (125, 3));
        assert_eq!(task_timebase((1, 1), true, Some(1_000_000_000)), (1, 1));
    }

    #[test]
    fn this_program_is_never_a_candidate_waiter() {
        assert!(!is_candidate("cargo-lockwatch"));
        assert!(is_candidate("cargo-nextest"));
    }
}
