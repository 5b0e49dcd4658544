//! Linux probe: `/proc/locks` for who took each flock and who waits, `/proc/PID/fdinfo` for who
//! really holds it when the locker is gone, `/proc/PID/{stat,cmdline,cwd}` for process facts.
//!
//! The cheap path is one read of `/proc/locks` (about a millisecond) plus `stat` of the known lock
//! files. Descriptor reads cost far more, so they run only when the answer depends on them: an
//! unknown inode (discovery), a dead locker, or a contended lock; and within a pass each process
//! is read at most once ([`linux_index`](super::linux_index)).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::linux_index::{Access, Index, Pick, Procfs, Shape, View};
use super::linux_parse::{self, KernelLock};
use super::linux_search::{self, Clues};
use super::{Heirs, Probe, ProbeError, Targets, UserNames};
use crate::core::catalog::{self, LockKind};
use crate::core::model::{
    Activity, Ancestor, ChildProcess, FileKey, LockMode, LockSighting, Participant, Peer,
    ProcState, ProcessFacts,
};

/// How far up a parent chain is followed.
const MAX_ANCESTORS: usize = 64;

/// How long the answer to "who holds this blocker's pipes open" is trusted.
const CULPRIT_TTL: Duration = Duration::from_secs(10);

/// How long "nobody visible holds this dead locker's lock" is trusted before searching again.
const NOBODY_RETRY: Duration = Duration::from_secs(30);

pub(super) fn new_probe() -> Result<Box<dyn Probe>, ProbeError> {
    Ok(Box::new(LinuxProbe::new(PathBuf::from("/proc"))?))
}

/// A lock file found through some process's descriptor.
#[derive(Debug, Clone)]
struct Discovered {
    path: PathBuf,
    kind: LockKind,
    deleted: bool,
    /// The device of the file open there (0 when unknown): the lock keeps its identity once
    /// its path is gone (`cargo clean` under a build), and with it its hold times.
    dev: u64,
}

/// The holders of a dead locker's lock as last found.
#[derive(Debug, Clone)]
struct Learned {
    /// The dead lockers they were found for.
    dead: Vec<u32>,
    /// The holders' pids (empty: nobody visible).
    holders: Vec<u32>,
    /// When they were found.
    at: Instant,
}

/// What the probe learns and keeps between passes, so a daemon pays for each discovery once.
#[derive(Debug, Default)]
struct Memory {
    /// inode → lock file discovered through a descriptor (build directories of any project).
    discovered: HashMap<u64, Discovered>,
    /// (inode, locker pid) pairs already resolved to "not a Cargo lock".
    not_cargo: HashSet<(u64, u32)>,
    /// (inode, pid) → start time of a locker whose own descriptor was seen holding the lock, so
    /// the check is paid once per hold, not once per pass.
    verified: HashMap<(u64, u32), u64>,
    /// inode → who holds it now that its lockers are dead, re-checked each pass instead of
    /// searched again.
    inheritors: HashMap<u64, Learned>,
    /// blocker pid → (its start time, when its pipe writers were last searched, what was found).
    culprits: HashMap<u32, (u64, Instant, Vec<u32>)>,
    /// The known lock files by inode, kept while the list is the same.
    known: KnownFiles,
    /// The locks the last pass could not name, held by other users' Cargo processes.
    hidden: Vec<super::HiddenLock>,
    /// Who waited at the last pass: stopped since, it is no longer in the lock table.
    waiters: Vec<u32>,
    /// Package cache inode → when it was last searched for a waiter stopped in its request.
    cache_searched: HashMap<u64, Instant>,
    /// Whether a pass has been made: a lock held since is one this probe saw begin.
    looked: bool,
}

/// How long the known lock files' inodes are trusted when the lock table holds an inode none
/// of them has (most such locks are not Cargo's at all): then every file is looked at again,
/// in case one was replaced.
const KNOWN_FILES_FRESH: std::time::Duration = std::time::Duration::from_secs(15);

/// The known lock files by inode, `stat`ed once per list rather than once per pass: a daemon
/// watching thousands of projects would otherwise `stat` thousands of files every second an
/// incident is open.
#[derive(Debug, Default)]
struct KnownFiles {
    list: std::sync::Arc<[(PathBuf, LockKind)]>,
    by_ino: Known,
    built: Option<Instant>,
    /// Locked inodes that were no known file's when the files were last looked at (another
    /// program's locks, most likely), while they stay locked: they are no reason to look again.
    foreign: HashSet<u64>,
}

impl KnownFiles {
    /// The known files by inode for a pass whose lock table holds `locked`: looked at again
    /// when the list changed, when a locked one is no longer the file it was, or when an
    /// inode no known file had is locked (not one seen at the last look) and that look is old.
    /// Taken for the pass (and put back after it).
    fn for_pass(&mut self, list: &std::sync::Arc<[(PathBuf, LockKind)]>, locked: &[u64]) -> Known {
        let locked: HashSet<u64> = locked.iter().copied().collect();
        self.foreign.retain(|ino| locked.contains(ino));
        let changed = (locked.iter())
            .filter_map(|ino| self.by_ino.get(ino))
            .any(|(p, _, key)| super::file_key(p) != Some(*key));
        let unknown = (locked.iter())
            .any(|ino| !self.by_ino.contains_key(ino) && !self.foreign.contains(ino));
        let old = self.built.is_none_or(|t| t.elapsed() >= KNOWN_FILES_FRESH);
        let same_list = std::sync::Arc::ptr_eq(&self.list, list) || self.list == *list;
        if !same_list || changed || (unknown && old) {
            self.list = std::sync::Arc::clone(list);
            self.by_ino = known_by_inode(list);
            self.built = Some(Instant::now());
            self.foreign = (locked.into_iter())
                .filter(|ino| !self.by_ino.contains_key(ino))
                .collect();
        }
        std::mem::take(&mut self.by_ino)
    }
}

/// The Linux probe.
pub struct LinuxProbe {
    fs: Procfs,
    clock: Clock,
    /// What the current pass has read (cleared before each question outside a pass).
    index: Index,
    in_pass: bool,
    mem: Memory,
    users: UserNames,
}

/// Converts the kernel's clock ticks since boot.
#[derive(Debug, Clone, Copy)]
struct Clock {
    boot_time: f64,
    ticks_per_sec: f64,
}

/// What a locker's own descriptors say about a lock line that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LockerCheck {
    /// It has a descriptor on this very file with the lock.
    Holds,
    /// It is alive but its descriptors cannot be read (another user's process): the kernel's
    /// word that it holds the lock is taken.
    Uninspectable,
    /// It holds a lock on another file with the same inode number (another filesystem).
    Foreign,
    /// It holds nothing there: it exited (and the pid may have been reused), or it is a zombie.
    Gone,
}

impl LinuxProbe {
    /// A probe reading the given procfs mount.
    pub fn new(proc_root: PathBuf) -> Result<Self, ProbeError> {
        let table_error = |source| ProbeError::LockTable {
            path: proc_root.join("stat"),
            cause: source,
        };
        let fs = Procfs::open(proc_root.clone()).map_err(table_error)?;
        let stat = fs.read("stat", Shape::Table).map_err(table_error)?;
        let boot_time = String::from_utf8_lossy(&stat)
            .lines()
            .find_map(|l| l.strip_prefix("btime ").map(str::to_owned))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        // SAFETY: sysconf has no preconditions; it only reads a constant.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let ticks_per_sec = if ticks > 0 { ticks as f64 } else { 100.0 };
        Ok(LinuxProbe {
            fs,
            clock: Clock {
                boot_time,
                ticks_per_sec,
            },
            index: Index::default(),
            in_pass: false,
            mem: Memory::default(),
            users: UserNames::default(),
        })
    }

    /// The pass's index (a fresh one outside a pass), what the probe remembers, user names.
    fn split(&mut self) -> (View<'_>, &mut Memory, &mut UserNames) {
        if !self.in_pass {
            self.index.clear();
        }
        let view = View {
            fs: &self.fs,
            idx: &mut self.index,
        };
        (view, &mut self.mem, &mut self.users)
    }

    /// The flock lines of `/proc/locks`, read twice and merged when the table spans pages (see
    /// [`linux_parse::merge_reads`]).
    fn lock_table(&self) -> Result<Vec<KernelLock>, ProbeError> {
        let read = || {
            self.fs
                .read("locks", Shape::Table)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|source| ProbeError::LockTable {
                    path: self.fs.root().join("locks"),
                    cause: source,
                })
        };
        let first = read()?;
        // SAFETY: sysconf has no preconditions; it only reads a constant.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let lines = linux_parse::parse_proc_locks(&first);
        if first.len() < page {
            return Ok(lines);
        }
        let second = linux_parse::parse_proc_locks(&read()?);
        Ok(linux_parse::merge_reads(lines, second))
    }
}

/// Waiters the lock table does not show: a process stopped (Ctrl-Z) while blocked in `flock`
/// has its request withdrawn until it is continued (the kernel restarts the call on SIGCONT),
/// and only `/proc/PID/syscall` still says `flock(fd, LOCK_EX)`. Looked for among the stopped
/// processes holding a lock shared (every compiling cargo holds the package cache's mutation
/// lock so, a waiting one too; an exclusive holder that is stopped is a stopped blocker, said
/// as such) and among those this probe saw waiting at its last pass (`waited_before`: a cargo
/// waiting for the package cache holds nothing else). When someone holds the inode its
/// descriptor is, a blocked request on it, so it stays a waiter everywhere (review Q, S12:
/// `kill` stopped it); when nobody does, it is [`Parked`] on a free lock, still a waiter, not
/// a holder (review T, T1, T4).
fn stopped_waiters(
    v: &mut View,
    lines: &[KernelLock],
    waited_before: &[u32],
) -> (Vec<KernelLock>, Vec<Parked>) {
    let mut pids: Vec<u32> = (lines.iter())
        .filter(|l| l.is_granted() && l.mode == LockMode::Shared)
        .map(|l| l.pid)
        .chain(waited_before.iter().copied())
        .collect();
    pids.sort_unstable();
    pids.dedup();
    let in_table = |pid: u32| lines.iter().any(|l| l.pid == pid && !l.is_granted());
    let (mut blocked, mut parked) = (Vec::new(), Vec::new());
    for pid in pids.into_iter().filter(|p| !in_table(*p)) {
        let Some((fd, mode)) = flock_of_stopped(v, pid) else {
            continue;
        };
        let fd_path = v.fs.root().join(format!("{pid}/fd/{fd}"));
        let Ok(meta) = std::fs::metadata(&fd_path) else {
            continue;
        };
        let ino = std::os::unix::fs::MetadataExt::ino(&meta);
        let held = (lines.iter()).find(|l| l.ino == ino && l.is_granted() && l.pid != pid);
        if let Some(h) = held {
            blocked.push(KernelLock {
                wait_depth: 1,
                mode,
                pid,
                ..h.clone()
            });
        } else if let Some(p) = Parked::of(pid, mode, &fd_path, &meta) {
            parked.push(p);
        }
    }
    (blocked, parked)
}

/// How often a package cache held with nobody waiting is searched for a waiter stopped in its
/// request (one `stat` per process).
const CACHE_WAITER_SEARCH_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Waiters stopped (Ctrl-Z) in their request for a package cache held exclusively that nobody
/// visibly waits for: such a cargo holds no lock at all, so only a look at every stopped
/// process finds it (review T, T4). Done at most every [`CACHE_WAITER_SEARCH_EVERY`] per
/// lock (`searched`); a daemon then follows what it found through the last pass's waiters.
/// A hold that began since an earlier pass (`looked`) is first searched that long after it
/// began: most last under a second (a build resolving its dependencies), and the search
/// reads every process's stat, which would delay the news that it began.
fn stopped_cache_waiters(
    v: &mut View,
    lines: &[KernelLock],
    known: &Known,
    searched: &mut HashMap<u64, Instant>,
    looked: bool,
) -> Vec<KernelLock> {
    let waited = |ino: u64| lines.iter().any(|l| l.ino == ino && !l.is_granted());
    let held: Vec<&KernelLock> = (lines.iter())
        .filter(|l| l.is_granted() && l.mode == LockMode::Exclusive && !waited(l.ino))
        .filter(|l| {
            known
                .get(&l.ino)
                .is_some_and(|k| k.1 == LockKind::PackageCache)
        })
        .collect();
    searched.retain(|ino, _| held.iter().any(|l| l.ino == *ino));
    if looked {
        for l in &held {
            searched.entry(l.ino).or_insert_with(Instant::now);
        }
    }
    let due = |ino: &u64| {
        searched
            .get(ino)
            .is_none_or(|t| t.elapsed() >= CACHE_WAITER_SEARCH_EVERY)
    };
    let held: Vec<&KernelLock> = held.into_iter().filter(|l| due(&l.ino)).collect();
    if held.is_empty() {
        return Vec::new();
    }
    let pids = v.pids();
    v.read_stats(&pids);
    let stopped: Vec<u32> = (pids.into_iter())
        .filter(|p| {
            v.stat_read(*p)
                .is_some_and(|s| s.state == ProcState::Stopped)
        })
        .collect();
    let mut out = Vec::new();
    for pid in stopped {
        let Some((fd, mode)) = flock_of_stopped(v, pid) else {
            continue;
        };
        let fd_path = v.fs.root().join(format!("{pid}/fd/{fd}"));
        let meta = std::fs::metadata(&fd_path).ok();
        let Some(ino) = meta.map(|m| std::os::unix::fs::MetadataExt::ino(&m)) else {
            continue;
        };
        if let Some(h) = held.iter().find(|l| l.ino == ino && l.pid != pid) {
            out.push(KernelLock {
                wait_depth: 1,
                mode,
                pid,
                ..(*h).clone()
            });
        }
    }
    for l in held {
        searched.insert(l.ino, Instant::now());
    }
    out
}

/// The descriptor and mode of the blocking `flock` call `pid` is stopped in, if it is.
fn flock_of_stopped(v: &mut View, pid: u32) -> Option<(u32, LockMode)> {
    if v.stat(pid).is_none_or(|s| s.state != ProcState::Stopped) {
        return None;
    }
    let b = v.fs.read(&format!("{pid}/syscall"), Shape::Record).ok()?;
    linux_parse::parse_flock_syscall(&String::from_utf8_lossy(&b), libc::SYS_flock)
}

/// A process stopped in `flock` on a Cargo lock nobody holds: resumed, it takes the lock at
/// once. It holds nobody up, and is a waiter, never a holder, to `kill` (review T, T1).
struct Parked {
    pid: u32,
    mode: LockMode,
    path: PathBuf,
    key: FileKey,
    kind: LockKind,
    deleted: bool,
}

impl Parked {
    /// The lock behind descriptor link `fd_path` (whose target's metadata is `meta`), when
    /// it is a Cargo lock.
    fn of(pid: u32, mode: LockMode, fd_path: &Path, meta: &std::fs::Metadata) -> Option<Parked> {
        use std::os::unix::{ffi::OsStrExt, fs::MetadataExt};
        let link = std::fs::read_link(fd_path).ok()?;
        let (path, deleted) = link_path(link.as_os_str().as_bytes());
        let kind = crate::core::catalog::classify(&path)?;
        let key = FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
        };
        Some(Parked {
            pid,
            mode,
            path,
            key,
            kind,
            deleted,
        })
    }

    /// Its lock as a sighting: free, with this one waiter.
    fn sighting(self) -> LockSighting {
        LockSighting {
            path: self.path,
            key: self.key,
            kind: self.kind,
            deleted: self.deleted,
            holders: Vec::new(),
            waiters: vec![participant(self.pid, self.mode, false)],
            dead_locker: None,
            locker_gone: false,
            unseen: None,
        }
    }
}

/// Forgets discovered lock files that are gone: not in the lock table, and no file with that
/// inode at that path any more (a long-lived daemon sees many short-lived projects).
fn prune_discovered(discovered: &mut HashMap<u64, Discovered>, lines: &[KernelLock]) {
    let table: HashSet<u64> = lines.iter().map(|l| l.ino).collect();
    discovered.retain(|ino, d| {
        table.contains(ino) || super::file_key(&d.path).is_some_and(|k| k.ino == *ino)
    });
}

/// The known lock files by inode (the kernel's device number is the superblock's, which differs
/// from stat's on btrfs and overlayfs, so the inode is the key).
type Known = HashMap<u64, (PathBuf, LockKind, FileKey)>;

fn known_by_inode(known: &[(PathBuf, LockKind)]) -> Known {
    let mut out = Known::new();
    for (p, kind) in known {
        if let Some(key) = super::file_key(p) {
            out.insert(key.ino, (p.clone(), *kind, key));
        }
    }
    out
}

/// A descriptor's link as a path, and whether the file was deleted.
fn link_path(link: &[u8]) -> (PathBuf, bool) {
    use std::os::unix::ffi::OsStrExt;
    let (path, deleted) = match link.strip_suffix(b" (deleted)") {
        Some(p) => (p, true),
        None => (link, false),
    };
    (PathBuf::from(std::ffi::OsStr::from_bytes(path)), deleted)
}

/// One pass over the lock table: the pass's index and the probe's memory, borrowed together.
struct Lookup<'a> {
    v: View<'a>,
    mem: &'a mut Memory,
    /// Every pid in the lock table.
    table: Vec<u32>,
    /// Inodes whose lockers are dead this pass (their learned inheritors are kept).
    orphaned: Vec<u64>,
}

impl Lookup<'_> {
    /// The sighting of one inode's lock lines, `None` when it is not a Cargo lock (or nobody
    /// holds or waits for it).
    fn sighting(
        &mut self,
        ino: u64,
        locks: &[KernelLock],
        known: &Known,
        deep: bool,
    ) -> Option<LockSighting> {
        let granted: Vec<&KernelLock> = locks.iter().filter(|l| l.is_granted()).collect();
        let waiting: Vec<&KernelLock> = locks.iter().filter(|l| !l.is_granted()).collect();
        let Some((path, kind, key, deleted)) = self.identify(ino, &granted, &waiting, known) else {
            self.note_hidden(&granted, &waiting);
            return None;
        };
        // Trust a locker only if its own descriptor shows the lock on this file; a lock on a
        // same-numbered inode elsewhere is not ours at all.
        let (lockers, dead) = self.lockers(&granted, key, &path);
        if lockers.is_empty() && !granted.is_empty() {
            return None;
        }
        let mut holders: Vec<Participant> = lockers
            .iter()
            .filter(|(p, _)| !dead.contains(p))
            .map(|(pid, mode)| participant(*pid, *mode, false))
            .collect();
        let waiter_pids: Vec<u32> = waiting.iter().map(|l| l.pid).collect();
        let mut dead_locker = None;
        if !dead.is_empty() || (!waiting.is_empty() && deep) {
            let found = self.sharers(ino, &path, &lockers, &dead, &waiter_pids);
            dead_locker = add_found(&mut holders, found, &dead);
        }
        let waiters: Vec<Participant> = waiting
            .iter()
            .filter(|l| self.v.stat(l.pid).is_some())
            .map(|l| participant(l.pid, l.mode, false))
            .collect();
        // The kernel lists a granted lock only while some descriptor holds it: if nobody
        // could be named, the holder is hidden from this user, never absent.
        let unseen = holders
            .is_empty()
            .then(|| granted.first().map(|l| l.mode))
            .flatten();
        if holders.is_empty() && waiters.is_empty() && unseen.is_none() {
            return None;
        }
        Some(LockSighting {
            path,
            key,
            kind,
            deleted,
            holders,
            waiters,
            locker_gone: dead_locker.is_some() && unseen.is_none(),
            dead_locker,
            unseen,
        })
    }

    /// Who else holds the lock through a descriptor. A dead locker's descriptor lives on in
    /// whoever inherited it. A live locker shares its descriptor with the children it forked:
    /// those are the co-holders worth naming when others wait, and reading only that subtree
    /// keeps `status` on a contended lock as cheap as `lslocks`.
    fn sharers(
        &mut self,
        ino: u64,
        path: &Path,
        lockers: &[(u32, LockMode)],
        dead: &[u32],
        waiters: &[u32],
    ) -> Vec<(u32, KernelLock)> {
        let name = path.file_name().and_then(|n| n.to_str());
        let pick = name.map_or(Pick::LockNames, Pick::Named);
        if dead.is_empty() {
            self.co_holders(ino, pick, lockers)
        } else {
            self.inheritors_of(ino, dead, pick, waiters)
        }
    }

    /// Which file an inode is: a known one, one discovered earlier, or one discovered now
    /// through a process's descriptor. (path, kind, identity, deleted).
    fn identify(
        &mut self,
        ino: u64,
        granted: &[&KernelLock],
        waiting: &[&KernelLock],
        known: &Known,
    ) -> Option<(PathBuf, LockKind, FileKey, bool)> {
        if let Some((p, k, key)) = known.get(&ino) {
            return Some((p.clone(), *k, *key, false));
        }
        let d = match self.mem.discovered.get(&ino) {
            Some(d) => d.clone(),
            None => {
                let d = self.discover(ino, granted, waiting)?;
                if self.mem.discovered.len() > 4096 {
                    self.mem.discovered.clear();
                }
                self.mem.discovered.insert(ino, d.clone());
                d
            }
        };
        let now = super::looked_up(&d.path);
        let key = (now.as_ref().ok().copied())
            .filter(|k| k.ino == ino)
            .unwrap_or(FileKey { dev: d.dev, ino });
        // A discovered path whose file now has another inode (or none) was deleted; one in a
        // directory this user may not search was not.
        let gone = match &now {
            Ok(k) => k.ino != ino,
            Err(e) => super::is_gone(e),
        };
        Some((d.path, d.kind, key, d.deleted || gone))
    }

    /// Finds the Cargo lock file with inode `ino` through its lockers' or waiters' descriptors,
    /// or, when every locker is gone, through whoever inherited the descriptor. Remembered as
    /// "not Cargo's" when that fails, so a daemon pays once.
    fn discover(
        &mut self,
        ino: u64,
        granted: &[&KernelLock],
        waiting: &[&KernelLock],
    ) -> Option<Discovered> {
        for l in granted.iter().chain(waiting) {
            if self.mem.not_cargo.contains(&(ino, l.pid)) || !self.v.has_descriptors(l.pid) {
                continue;
            }
            match self.resolve_through(l.pid, ino) {
                Some(d) => return Some(d),
                None => {
                    self.mem.not_cargo.insert((ino, l.pid));
                }
            }
        }
        let orphaned: Vec<u32> = granted
            .iter()
            .map(|l| l.pid)
            .filter(|p| !self.v.has_descriptors(*p))
            .collect();
        if orphaned.is_empty()
            || orphaned
                .iter()
                .all(|p| self.mem.not_cargo.contains(&(ino, *p)))
        {
            return None;
        }
        // Heirs learned earlier (or handed on by an earlier run) are asked before any search.
        let learned = (self.mem.inheritors.get(&ino))
            .filter(|l| l.dead == orphaned)
            .map(|l| l.holders.clone())
            .unwrap_or_default();
        if let Some(found) = learned
            .iter()
            .find_map(|pid| self.resolve_through(*pid, ino))
        {
            return Some(found);
        }
        let waiters: Vec<u32> = waiting.iter().map(|l| l.pid).collect();
        let clues = Clues {
            dead: &orphaned,
            waiters: &waiters,
            table: &self.table,
        };
        let holders = linux_search::inheritors(&mut self.v, ino, Pick::LockNames, &clues);
        let found = holders
            .iter()
            .find_map(|(pid, _)| self.resolve_through(*pid, ino));
        match found {
            // The sighting's own search for this lock's inheritors re-checks these instead.
            Some(_) => self.learn(ino, &orphaned, &holders, Instant::now()),
            None => (self.mem.not_cargo).extend(orphaned.iter().map(|p| (ino, *p))),
        }
        found
    }

    /// The Cargo lock file with inode `ino` among `pid`'s descriptors.
    fn resolve_through(&mut self, pid: u32, ino: u64) -> Option<Discovered> {
        for hit in self.v.on_inode(pid, ino, Pick::LockNames) {
            let (path, deleted) = link_path(self.v.link(pid, hit.i)?);
            if let Some(kind) = catalog::classify(&path) {
                let dev = self.v.fd_dev(pid, hit.fd).unwrap_or(0);
                return Some(Discovered {
                    path,
                    kind,
                    deleted,
                    dev,
                });
            }
        }
        None
    }

    /// The lockers the kernel names that really hold the lock (or cannot be checked), and
    /// those of them that are gone.
    fn lockers(
        &mut self,
        granted: &[&KernelLock],
        key: FileKey,
        path: &Path,
    ) -> (Vec<(u32, LockMode)>, Vec<u32>) {
        let (mut lockers, mut dead) = (Vec::new(), Vec::new());
        for l in granted {
            match self.check_locker(l.pid, key, path) {
                LockerCheck::Holds | LockerCheck::Uninspectable => lockers.push((l.pid, l.mode)),
                LockerCheck::Gone => {
                    lockers.push((l.pid, l.mode));
                    dead.push(l.pid);
                }
                LockerCheck::Foreign => {}
            }
        }
        (lockers, dead)
    }

    /// Whether the process `/proc/locks` names as locker really holds the lock on `path`: the
    /// pid may have been reused by an unrelated process after the locker exited, and the inode
    /// number alone may belong to a file on another filesystem. A zombie has closed every
    /// descriptor, so it holds nothing: its lock lives on in a process that inherited it.
    ///
    /// Files are compared by identity (device and inode of the open file), never by path: a
    /// Cargo home reached through a symlink has another path than the one the kernel shows.
    fn check_locker(&mut self, pid: u32, key: FileKey, path: &Path) -> LockerCheck {
        let Some(stat) = self.v.stat(pid) else {
            return LockerCheck::Gone;
        };
        if stat.state == ProcState::Zombie {
            return LockerCheck::Gone;
        }
        if self.mem.verified.get(&(key.ino, pid)) == Some(&stat.starttime) {
            return LockerCheck::Holds;
        }
        match self.v.access(pid).0 {
            Access::Denied => return LockerCheck::Uninspectable,
            Access::Gone => return LockerCheck::Gone,
            Access::Open => {}
        }
        // Descriptors on a file of the same name first (the usual case), then every file (a
        // lock file reached through a symlink to it).
        let name = path.file_name().and_then(|n| n.to_str());
        let mut hits = name
            .map(|n| self.v.on_inode(pid, key.ino, Pick::Named(n)))
            .unwrap_or_default();
        if !hits.iter().any(|h| h.lock.is_some()) {
            hits = self.v.on_inode(pid, key.ino, Pick::AnyFile);
        }
        let mut foreign = false;
        for hit in hits.iter().filter(|h| h.lock.is_some()) {
            if key.dev == 0 || self.v.fd_dev(pid, hit.fd) == Some(key.dev) {
                if self.mem.verified.len() > 4096 {
                    self.mem.verified.clear();
                }
                self.mem.verified.insert((key.ino, pid), stat.starttime);
                return LockerCheck::Holds;
            }
            foreign = true;
        }
        if foreign {
            LockerCheck::Foreign
        } else {
            LockerCheck::Gone
        }
    }

    /// The live lockers' descendants sharing their descriptor (the lockers included).
    fn co_holders(
        &mut self,
        ino: u64,
        pick: Pick,
        lockers: &[(u32, LockMode)],
    ) -> Vec<(u32, KernelLock)> {
        let mut scope: Vec<u32> = Vec::new();
        for (pid, _) in lockers {
            scope.push(*pid);
            scope.extend(self.v.descendants(*pid));
        }
        scope.sort_unstable();
        scope.dedup();
        linux_search::holders_among(&mut self.v, ino, pick, &scope, &mut HashSet::new())
    }

    /// Who holds `ino` now that its lockers (`dead`) are gone: the holders found on an earlier
    /// pass and their descendants while one of them still holds it, else a search (nearest
    /// candidates first). "Nobody visible" is trusted for [`NOBODY_RETRY`].
    fn inheritors_of(
        &mut self,
        ino: u64,
        dead: &[u32],
        pick: Pick,
        waiters: &[u32],
    ) -> Vec<(u32, KernelLock)> {
        self.orphaned.push(ino);
        let learned = self.mem.inheritors.get(&ino).filter(|l| l.dead == dead);
        if let Some(learned) = learned.cloned() {
            if learned.holders.is_empty() && learned.at.elapsed() < NOBODY_RETRY {
                return Vec::new();
            }
            let again = self.recheck(ino, pick, &learned.holders);
            if !again.is_empty() {
                self.learn(ino, dead, &again, learned.at);
                return again;
            }
        }
        let clues = Clues {
            dead,
            waiters,
            table: &self.table,
        };
        let found = linux_search::inheritors(&mut self.v, ino, pick, &clues);
        self.learn(ino, dead, &found, Instant::now());
        found
    }

    /// Which of `holders` (and their descendants, which may have forked since) still hold `ino`.
    fn recheck(&mut self, ino: u64, pick: Pick, holders: &[u32]) -> Vec<(u32, KernelLock)> {
        let mut pids = Vec::new();
        for pid in holders {
            pids.push(*pid);
            pids.extend(self.v.descendants(*pid));
        }
        let mut found =
            linux_search::holders_among(&mut self.v, ino, pick, &pids, &mut HashSet::new());
        found.sort_by_key(|(pid, _)| *pid);
        found
    }

    fn learn(&mut self, ino: u64, dead: &[u32], holders: &[(u32, KernelLock)], at: Instant) {
        let learned = Learned {
            dead: dead.to_vec(),
            holders: holders.iter().map(|(pid, _)| *pid).collect(),
            at,
        };
        self.mem.inheritors.insert(ino, learned);
    }

    /// Notes a lock that could not be named when a Cargo process (by name) holds or waits for
    /// it and no process in its lines lets this user read its descriptors: another user's
    /// build, never to be passed over as "no lock held".
    fn note_hidden(&mut self, granted: &[&KernelLock], waiting: &[&KernelLock]) {
        let pids = || granted.iter().chain(waiting).map(|l| l.pid);
        let cargo = |s: &super::linux_parse::Stat| {
            matches!(
                s.comm.as_str(),
                "cargo" | "rustc" | "clippy-driver" | "rustdoc"
            ) || s.comm.starts_with("build-script-")
        };
        // A shared lock nobody waits for (the package cache's `-mutate`, which every build and
        // every waiting cargo holds) holds nobody up: not worth a line. Nor does an exclusive
        // one nobody waits for unless a cargo holds it: a rustc's is its incremental session's.
        let holds_up = !waiting.is_empty()
            || (granted.iter())
                .filter(|l| l.mode == LockMode::Exclusive)
                .any(|l| self.v.stat(l.pid).is_some_and(|s| s.comm == "cargo"));
        if !holds_up || !pids().any(|p| self.v.stat(p).is_some_and(|s| cargo(&s))) {
            return;
        }
        if pids().all(|p| self.v.access(p).0 == Access::Denied) {
            let list = |ls: &[&KernelLock]| ls.iter().map(|l| l.pid).collect();
            self.mem.hidden.push(super::HiddenLock {
                holders: list(granted),
                waiters: list(waiting),
            });
        }
    }

    /// Ends the pass: drops what no longer applies and bounds the caches.
    fn finish(self) {
        let orphaned = self.orphaned;
        self.mem.inheritors.retain(|ino, _| orphaned.contains(ino));
        if self.mem.not_cargo.len() > 4096 {
            self.mem.not_cargo.clear();
        }
    }
}

fn participant(pid: u32, mode: LockMode, inherited: bool) -> Participant {
    Participant {
        pid,
        mode,
        inherited,
    }
}

/// Adds the holders found by a descriptor search; returns the dead locker whose descriptor
/// they hold (or the first dead locker, when nobody could be named).
fn add_found(
    holders: &mut Vec<Participant>,
    found: Vec<(u32, KernelLock)>,
    dead: &[u32],
) -> Option<u32> {
    let mut dead_locker = None;
    for (pid, lock) in found {
        if holders.iter().any(|h| h.pid == pid) {
            continue;
        }
        holders.push(participant(pid, lock.mode, pid != lock.pid));
        if dead.contains(&lock.pid) {
            dead_locker = Some(lock.pid);
        }
    }
    dead_locker.or(dead.first().copied())
}

/// Facts about one process, from the pass's index.
fn facts(
    v: &mut View,
    users: &mut UserNames,
    clock: Clock,
    pid: u32,
) -> Result<ProcessFacts, ProbeError> {
    let stat = v.stat(pid).ok_or(ProbeError::NoSuchProcess(pid))?;
    let status = (v.fs.read(&format!("{pid}/status"), Shape::Record).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let uid = (status.as_deref())
        .and_then(linux_parse::parse_status_uid)
        .ok_or(ProbeError::NoSuchProcess(pid))?;
    let sigterm = status.as_deref().map(linux_parse::parse_status_sigterm);
    let cwd = v.fs.read_link(&format!("{pid}/cwd")).ok().map(|b| {
        use std::os::unix::ffi::OsStringExt;
        PathBuf::from(std::ffi::OsString::from_vec(b))
    });
    let (ancestors, has_tty) = ancestors(v, &stat);
    let mut cpu_ticks = stat.cpu_ticks;
    for child in v.descendants(pid) {
        cpu_ticks += v.stat(child).map_or(0, |s| s.cpu_ticks);
    }
    Ok(ProcessFacts {
        pid,
        ppid: stat.ppid,
        pgid: stat.pgrp,
        uid,
        user: users.get(uid),
        name: stat.comm.into(),
        cmd: v.cmdline(pid),
        cwd,
        start_token: stat.starttime,
        started_at: clock.boot_time + stat.starttime as f64 / clock.ticks_per_sec,
        state: stat.state,
        tree_cpu_secs: cpu_ticks as f64 / clock.ticks_per_sec,
        has_tty,
        ancestors,
        sigterm: sigterm.unwrap_or_default(),
    })
}

/// The parent chain up to pid 1, and whether the process or its parent has a terminal.
fn ancestors(v: &mut View, stat: &linux_parse::Stat) -> (Vec<Ancestor>, bool) {
    let mut ancestors = Vec::new();
    let mut has_tty = stat.tty_nr != 0;
    let mut next = stat.ppid;
    while next > 0 && ancestors.len() < MAX_ANCESTORS {
        let Some(s) = v.stat(next) else { break };
        has_tty |= s.tty_nr != 0 && ancestors.is_empty();
        ancestors.push(Ancestor {
            pid: next,
            name: s.comm.into(),
        });
        if next == 1 {
            break;
        }
        next = s.ppid;
    }
    (ancestors, has_tty)
}

/// Live (not zombie) descendants of `pid` with their command lines.
fn live_descendants(v: &mut View, pid: u32) -> Vec<ChildProcess> {
    v.descendants(pid)
        .into_iter()
        .filter_map(|p| {
            let st = v.stat(p).filter(|s| s.state != ProcState::Zombie)?;
            Some(ChildProcess {
                pid: p,
                stopped: st.state == ProcState::Stopped,
                name: st.comm.into(),
                cmd: v.cmdline(p),
            })
        })
        .collect()
}

/// The processes outside `pid`'s tree that keep its output pipes open. The answer is kept
/// for [`CULPRIT_TTL`] so a daemon does not search every pass.
fn culprits(v: &mut View, mem: &mut Memory, pid: u32, tree: &[u32]) -> Vec<u32> {
    let pipes = linux_search::pipes_read_only(v, pid);
    let Some(me) = v.stat(pid) else {
        return Vec::new();
    };
    if pipes.is_empty() {
        mem.culprits.remove(&pid);
        return Vec::new();
    }
    if let Some((token, at, found)) = mem.culprits.get(&pid)
        && *token == me.starttime
        && at.elapsed() < CULPRIT_TTL
        && found.iter().all(|p| v.has_descriptors(*p))
    {
        return found.clone();
    }
    let mut exclude = tree.to_vec();
    exclude.push(pid);
    let found = linux_search::pipe_writers(v, &pipes, me.session, &exclude);
    if mem.culprits.len() > 256 {
        mem.culprits.clear();
    }
    mem.culprits
        .insert(pid, (me.starttime, Instant::now(), found.clone()));
    found
}

/// Bytes received so far on the connections of `descendants` other than compilers (a build
/// script's download, or its `curl`'s); `None` when none of them has a connection.
fn children_received_bytes(v: &mut View, descendants: &[ChildProcess]) -> Option<u64> {
    let compiler =
        |c: &&ChildProcess| matches!(c.name.raw(), "rustc" | "rustdoc" | "clippy-driver");
    let mut total = None;
    for c in descendants.iter().filter(|c| !compiler(c)) {
        for p in peers(v, c.pid) {
            *total.get_or_insert(0) += p.received_bytes.unwrap_or(0);
        }
    }
    total
}

/// Established or connecting TCP connections of `pid`, with how long ago data last
/// arrived on each when the kernel says (sock_diag, for sockets in this network namespace).
fn peers(v: &mut View, pid: u32) -> Vec<Peer> {
    let (_, n) = v.access(pid);
    let sockets: Vec<u64> = (0..n)
        .filter_map(|i| v.link(pid, i).and_then(linux_parse::socket_inode))
        .collect();
    if sockets.is_empty() {
        return Vec::new();
    }
    let mut live = Vec::new();
    for table in ["tcp", "tcp6"] {
        let Ok(text) = v.fs.read(&format!("{pid}/net/{table}"), Shape::Table) else {
            continue;
        };
        live.extend(
            linux_parse::parse_net_tcp(&String::from_utf8_lossy(&text))
                .into_iter()
                .filter(|e| e.is_live() && sockets.contains(&e.inode)),
        );
    }
    if live.is_empty() {
        return Vec::new();
    }
    let inodes: Vec<u64> = live.iter().map(|e| e.inode).collect();
    let info = tcp_info(&inodes);
    live.into_iter()
        .map(|e| {
            let i = info.get(&e.inode);
            Peer {
                remote: e.remote.to_string(),
                idle_for_secs: i.map(|s| f64::from(s.last_data_recv_ms) / 1000.0),
                socket: Some(e.inode),
                received_bytes: i.and_then(|s| s.bytes_received),
            }
        })
        .collect()
}

/// Since when data last arrived, and how much did, on each of `inodes` (TCP sockets of this
/// network namespace), from one sock_diag dump per address family. Sockets the kernel does not
/// report (another namespace, closed meanwhile) are missing; any failure gives an empty answer.
fn tcp_info(inodes: &[u64]) -> HashMap<u64, linux_parse::sock_diag::Socket> {
    use linux_parse::sock_diag;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    let mut out = HashMap::new();
    // SAFETY: socket(2) with constant arguments; the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            sock_diag::NETLINK_SOCK_DIAG,
        )
    };
    if raw < 0 {
        return out;
    }
    // SAFETY: `raw` is a fresh descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: 200_000,
    };
    // SAFETY: `timeout` is a valid timeval and its size is passed along.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
    let mut buf = vec![0u8; 32 * 1024];
    for (seq, family) in [libc::AF_INET, libc::AF_INET6].into_iter().enumerate() {
        let req = sock_diag::request(family as u8, seq as u32 + 1);
        // SAFETY: a zeroed sockaddr_nl with only the family set addresses the kernel.
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `req` and `kernel` are valid for the lengths passed.
        let sent = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                req.as_ptr().cast(),
                req.len(),
                0,
                (&raw const kernel).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            continue;
        }
        // A dump of every TCP socket on a busy machine is a few datagrams; stop at a bound.
        for _ in 0..1024 {
            // SAFETY: `buf` is writable for its whole length.
            let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            let Ok(n) = usize::try_from(n) else { break };
            let chunk = sock_diag::parse(&buf[..n.min(buf.len())]);
            for s in chunk.sockets {
                if inodes.contains(&s.inode) {
                    out.insert(s.inode, s);
                }
            }
            if chunk.done || n == 0 {
                break;
            }
        }
    }
    out
}

impl Probe for LinuxProbe {
    fn begin_pass(&mut self) {
        self.index.clear();
        self.in_pass = true;
    }

    fn end_pass(&mut self) {
        self.in_pass = false;
        self.index.clear();
    }

    fn heirs(&self) -> Vec<Heirs> {
        let mut out: Vec<Heirs> = (self.mem.inheritors.iter())
            .filter(|(_, l)| !l.holders.is_empty())
            .map(|(ino, l)| Heirs {
                ino: *ino,
                dead: l.dead.clone(),
                holders: l.holders.clone(),
            })
            .collect();
        out.sort_by_key(|h| h.ino);
        out
    }

    fn recall_heirs(&mut self, heirs: Vec<Heirs>) {
        for h in heirs.into_iter().filter(|h| !h.holders.is_empty()) {
            let learned = Learned {
                dead: h.dead,
                holders: h.holders,
                at: Instant::now(),
            };
            self.mem.inheritors.entry(h.ino).or_insert(learned);
        }
    }

    fn sightings(&mut self, targets: &Targets) -> Result<Vec<LockSighting>, ProbeError> {
        let mut lines = self.lock_table()?;
        let (mut v, mem, _) = self.split();
        let (stopped, parked) = stopped_waiters(&mut v, &lines, &mem.waiters);
        lines.extend(stopped);
        prune_discovered(&mut mem.discovered, &lines);
        let locked: Vec<u64> = lines.iter().map(|l| l.ino).collect();
        let known = mem.known.for_pass(&targets.known, &locked);
        let cache_waiters =
            stopped_cache_waiters(&mut v, &lines, &known, &mut mem.cache_searched, mem.looked);
        mem.looked = true;
        lines.extend(cache_waiters);
        mem.waiters = (lines.iter().filter(|l| !l.is_granted()).map(|l| l.pid))
            .chain(parked.iter().map(|p| p.pid))
            .collect();
        let mut table: Vec<u32> = lines.iter().map(|l| l.pid).collect();
        table.sort_unstable();
        table.dedup();
        // Group lines by inode, keeping the kernel's order.
        let mut by_ino: BTreeMap<u64, Vec<KernelLock>> = BTreeMap::new();
        for l in lines {
            by_ino.entry(l.ino).or_default().push(l);
        }
        mem.hidden.clear();
        let mut lookup = Lookup {
            v,
            mem,
            table,
            orphaned: Vec::new(),
        };
        let mut out: Vec<LockSighting> = by_ino
            .iter()
            .filter_map(|(ino, locks)| {
                lookup.sighting(*ino, locks, &known, targets.deep_on_contention)
            })
            .collect();
        for p in parked {
            if !out.iter().any(|s| s.key.ino == p.key.ino) {
                out.push(p.sighting());
            }
        }
        lookup.finish();
        self.mem.known.by_ino = known;
        Ok(out)
    }

    fn look_for_waiter(&mut self, pid: u32) {
        self.mem.waiters.push(pid);
    }

    fn hidden_locks(&mut self) -> Vec<super::HiddenLock> {
        self.mem.hidden.clone()
    }

    fn process(&mut self, pid: u32) -> Result<ProcessFacts, ProbeError> {
        let clock = self.clock;
        let (mut v, _, users) = self.split();
        facts(&mut v, users, clock, pid)
    }

    fn descendants(&mut self, pid: u32) -> Vec<u32> {
        self.split().0.descendants(pid)
    }

    fn activity(&mut self, pid: u32) -> Activity {
        let clock = self.clock;
        let (mut v, mem, users) = self.split();
        let descendants = live_descendants(&mut v, pid);
        let unseen = v.access(pid).0 == Access::Denied;
        if crate::core::gitfetch::by_git_child(&descendants).is_some() {
            // Its `git fetch` child (`net.git-fetch-with-cli`) waits on the network for it:
            // their connections are its wait (review X, X15).
            let peers = descendants
                .iter()
                .flat_map(|c| peers(&mut v, c.pid))
                .collect();
            return Activity {
                descendants,
                peers,
                unseen,
                ..Activity::default()
            };
        }
        if !descendants.is_empty() {
            // At work through its children: no culprit to look for, no network to blame; but
            // a build script's download is work that takes no CPU.
            let tree_received_bytes = children_received_bytes(&mut v, &descendants);
            return Activity {
                descendants,
                unseen,
                tree_received_bytes,
                ..Activity::default()
            };
        }
        // Stopped, it reads nothing: its silent connections and unread pipes are its own
        // doing, and looking for who holds a pipe open would read every process for nothing.
        if v.stat(pid).is_some_and(|s| s.state == ProcState::Stopped) {
            return Activity {
                unseen,
                ..Activity::default()
            };
        }
        let tree = v.descendants(pid);
        let peers = peers(&mut v, pid);
        let writers = culprits(&mut v, mem, pid, &tree);
        let pipe_writers = writers
            .into_iter()
            .filter_map(|p| facts(&mut v, users, clock, p).ok())
            .collect();
        Activity {
            descendants,
            peers,
            pipe_writers,
            unseen,
            tree_received_bytes: None,
        }
    }

    fn holds(&mut self, pid: u32, key: FileKey) -> Result<bool, ProbeError> {
        let (mut v, _, _) = self.split();
        if !v.has_descriptors(pid) {
            return Ok(false);
        }
        // Only the process's own descriptors count: `/proc/locks` names whoever *took* the lock,
        // which may be a dead process whose pid now belongs to someone else.
        let hits = v.on_inode(pid, key.ino, Pick::AnyFile);
        // Same inode number on another filesystem is another file.
        Ok(hits
            .iter()
            .filter(|h| h.lock.is_some())
            .any(|h| key.dev == 0 || v.fd_dev(pid, h.fd).is_none_or(|d| d == key.dev)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::LockMode;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, symlink};

    #[test]
    fn known_files_are_looked_at_again_only_when_something_may_have_changed() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a/.cargo-lock");
        let b = dir.path().join("b/.cargo-lock");
        for p in [&a, &b] {
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "").unwrap();
        }
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        let list: std::sync::Arc<[_]> = vec![
            (a.clone(), LockKind::ProfileDirectory),
            (b.clone(), LockKind::ProfileDirectory),
        ]
        .into();
        let mut known = KnownFiles::default();
        let by_ino = known.for_pass(&list, &[ino(&a)]);
        assert_eq!(by_ino[&ino(&a)].0, a);
        known.by_ino = by_ino;
        let built = known.built;

        // Same list, nothing locked that it does not know: nothing is looked at again.
        known.by_ino = known.for_pass(&list, &[ino(&a)]);
        assert_eq!(known.built, built);

        // Another program's lock, found no known file's at a look: not looked for again while
        // it stays locked, even once that look is old.
        let foreign = u64::MAX;
        known.built = None;
        known.by_ino = known.for_pass(&list, &[ino(&a), foreign]);
        let built = known.built;
        assert!(built.is_some() && known.foreign.contains(&foreign));
        known.built = built.map(|t| t - KNOWN_FILES_FRESH);
        let built = known.built;
        known.by_ino = known.for_pass(&list, &[foreign]);
        assert_eq!(known.built, built, "not looked at again");
        // Let go, it is forgotten.
        known.by_ino = known.for_pass(&list, &[]);
        assert!(known.foreign.is_empty());

        // The locked file was replaced (`rm -rf target`, a new build): its new inode is found.
        let old = ino(&a);
        let fresh = dir.path().join("a/new");
        fs::write(&fresh, "").unwrap();
        fs::rename(&fresh, &a).unwrap();
        assert_ne!(ino(&a), old);
        let by_ino = known.for_pass(&list, &[old]);
        assert_eq!(by_ino.get(&ino(&a)).map(|k| &k.0), Some(&a));
        assert!(!by_ino.contains_key(&old));
        known.by_ino = by_ino;

        // A new list is read at once.
        let fewer: std::sync::Arc<[_]> = vec![list[1].clone()].into();
        let by_ino = known.for_pass(&fewer, &[]);
        assert_eq!(by_ino.len(), 1);
        assert_eq!(by_ino[&ino(&b)].0, b);
    }

    /// A fake procfs: `stat`, `locks`, and per-process `stat`, `fd/N` links and `fdinfo/N`.
    struct FakeProc {
        dir: tempfile::TempDir,
    }

    impl FakeProc {
        fn new(locks: &str) -> FakeProc {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join("stat"), "cpu 0 0 0 0\nbtime 1000\n").unwrap();
            fs::write(dir.path().join("locks"), locks).unwrap();
            FakeProc { dir }
        }

        fn root(&self) -> PathBuf {
            self.dir.path().to_path_buf()
        }

        fn process(&self, pid: u32, name: &str, state: char) -> PathBuf {
            let p = self.dir.path().join(pid.to_string());
            fs::create_dir_all(p.join("fd")).unwrap();
            fs::create_dir_all(p.join("fdinfo")).unwrap();
            fs::write(
                p.join("stat"),
                format!("{pid} ({name}) {state} 1 {pid} {pid} 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 500"),
            )
            .unwrap();
            p
        }

        /// Gives `pid` descriptor 9 on `target` holding the flock that `locker` took.
        fn holding_fd(&self, pid: u32, target: &str, ino: u64, locker: u32) {
            let p = self.dir.path().join(pid.to_string());
            symlink(target, p.join("fd/9")).unwrap();
            fs::write(
                p.join("fdinfo/9"),
                format!(
                    "pos:\t0\nflags:\t02100002\nmnt_id:\t27\nino:\t{ino}\n\
                     lock:\t1: FLOCK  ADVISORY  WRITE {locker} fe:00:{ino} 0 EOF\n"
                ),
            )
            .unwrap();
        }
    }

    impl FakeProc {
        /// A sleeping process `name` that took the flock on `target` (inode `ino`) itself, on
        /// its descriptor 9.
        fn locker(&self, pid: u32, name: &str, target: &Path, ino: u64) {
            self.process(pid, name, 'S');
            self.holding_fd(pid, target.to_str().unwrap(), ino, pid);
        }

        fn children(&self, pid: u32, kids: &[u32]) {
            let t = self.dir.path().join(format!("{pid}/task/{pid}"));
            fs::create_dir_all(&t).unwrap();
            let list: Vec<String> = kids.iter().map(u32::to_string).collect();
            fs::write(t.join("children"), list.join(" ")).unwrap();
        }

        /// Idle processes, each its own session, with no descriptor on any lock.
        fn idle(&self, pids: std::ops::RangeInclusive<u32>) {
            for pid in pids {
                self.process_in(pid, "sleep", 1, pid);
            }
        }

        /// A process with this parent and session.
        fn process_in(&self, pid: u32, name: &str, ppid: u32, session: u32) -> PathBuf {
            let p = self.process(pid, name, 'S');
            fs::write(
                p.join("stat"),
                format!(
                    "{pid} ({name}) S {ppid} {pid} {session} 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 500"
                ),
            )
            .unwrap();
            p
        }
    }

    fn real_file(dir: &Path, rel: &str) -> (PathBuf, u64) {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, "").unwrap();
        let ino = fs::metadata(&p).unwrap().ino();
        (p, ino)
    }

    #[test]
    fn zombie_locker_is_not_a_holder_the_inheritor_is() {
        let d = dead_locker();
        d.fake.process(100, "flock", 'Z');
        let mut probe = LinuxProbe::new(d.fake.root()).unwrap();
        let s = probe.sightings(&d.targets).unwrap();
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(
            s[0].holders,
            vec![Participant {
                pid: 200,
                mode: LockMode::Exclusive,
                inherited: true
            }]
        );
        assert_eq!(s[0].dead_locker, Some(100));
        assert!(
            !probe.holds(100, s[0].key).unwrap(),
            "a zombie holds nothing"
        );
        assert!(probe.holds(200, s[0].key).unwrap());
    }

    /// `/proc/locks` with one flock on inode `ino`: `holder` holds it, `waiters` wait for it.
    fn lock_table(ino: u64, holder: u32, waiters: &[u32]) -> String {
        let mut table = format!("1: FLOCK  ADVISORY  WRITE {holder} fe:00:{ino} 0 EOF\n");
        for w in waiters {
            table += &format!("1: -> FLOCK  ADVISORY  WRITE {w} fe:00:{ino} 0 EOF\n");
        }
        table
    }

    /// Targets that know `cache` as a package cache and scan descriptors on contention.
    fn package_cache_targets(cache: &Path) -> Targets {
        Targets {
            known: vec![(cache.to_path_buf(), LockKind::PackageCache)].into(),
            deep_on_contention: true,
        }
    }

    /// A real `.package-cache` file, locked in a fake procfs, with targets that know it.
    struct LockedCache {
        _files: tempfile::TempDir,
        fake: FakeProc,
        cache: PathBuf,
        ino: u64,
        targets: Targets,
    }

    /// `.package-cache` held by `holder` (no process set up for it) while `waiters` wait.
    fn locked_cache(holder: u32, waiters: &[u32]) -> LockedCache {
        let files = tempfile::tempdir().unwrap();
        let (cache, ino) = real_file(files.path(), "home/.package-cache");
        LockedCache {
            fake: FakeProc::new(&lock_table(ino, holder, waiters)),
            targets: package_cache_targets(&cache),
            _files: files,
            cache,
            ino,
        }
    }

    /// `.package-cache` locked by pid 100, which is gone; pid 200 inherited the descriptor.
    fn dead_locker() -> LockedCache {
        let d = locked_cache(100, &[]);
        d.fake.process(200, "sleep", 'S');
        d.fake
            .holding_fd(200, d.cache.to_str().unwrap(), d.ino, 100);
        d
    }

    /// A package cache held (by 100) with a cargo stopped in its request (200, Ctrl-Z'd:
    /// nothing of it in the lock table), and a probe that has looked before the hold began.
    fn cache_held_since_a_look_with_a_stopped_waiter() -> (LockedCache, LinuxProbe) {
        let d = locked_cache(100, &[]);
        let table = fs::read_to_string(d.fake.root().join("locks")).unwrap();
        fs::write(d.fake.root().join("locks"), "").unwrap();
        let mut probe = LinuxProbe::new(d.fake.root()).unwrap();
        let nothing_held = probe.sightings(&d.targets).unwrap();
        assert!(nothing_held.iter().all(|s| s.holders.is_empty()));
        fs::write(d.fake.root().join("locks"), table).unwrap();
        d.fake.locker(100, "cargo", &d.cache, d.ino);
        let waiter = d.fake.process(200, "cargo", 'T');
        symlink(&d.cache, waiter.join("fd/7")).unwrap();
        fs::write(
            waiter.join("syscall"),
            format!("{} 0x7 0x2 0x0", libc::SYS_flock),
        )
        .unwrap();
        (d, probe)
    }

    fn waiter_pids(s: &[LockSighting]) -> Vec<u32> {
        s[0].waiters.iter().map(|w| w.pid).collect()
    }

    #[test]
    fn a_hold_seen_to_begin_is_searched_for_stopped_waiters_only_once_it_lasts() {
        let (d, mut probe) = cache_held_since_a_look_with_a_stopped_waiter();
        // Most holds end within a second: the news that it began is not held up by a read
        // of every process's stat.
        assert_eq!(
            waiter_pids(&probe.sightings(&d.targets).unwrap()),
            [] as [u32; 0]
        );
        // Once it has lasted the search's interval, the stopped cargo is found.
        let long_ago = Instant::now() - CACHE_WAITER_SEARCH_EVERY;
        probe.mem.cache_searched.insert(d.ino, long_ago);
        assert_eq!(waiter_pids(&probe.sightings(&d.targets).unwrap()), [200]);
        // A probe's first look (a one-off `status`) searches a hold it did not see begin.
        let mut fresh = LinuxProbe::new(d.fake.root()).unwrap();
        assert_eq!(waiter_pids(&fresh.sightings(&d.targets).unwrap()), [200]);
    }

    #[test]
    fn reused_locker_pid_is_not_named_and_holds_nothing() {
        // The locker's pid 100 now belongs to an unrelated process with no descriptor on it.
        let d = dead_locker();
        d.fake.process(100, "vim", 'S');
        let mut probe = LinuxProbe::new(d.fake.root()).unwrap();
        let s = probe.sightings(&d.targets).unwrap();
        assert_eq!(s.len(), 1, "{s:?}");
        let pids: Vec<u32> = s[0].holders.iter().map(|h| h.pid).collect();
        assert_eq!(pids, vec![200], "the innocent pid 100 is not a holder");
        assert!(s[0].locker_gone);
        assert!(
            !probe.holds(100, s[0].key).unwrap(),
            "kill's re-check refuses pid 100"
        );
        assert!(probe.holds(200, s[0].key).unwrap());
    }

    #[test]
    fn inheritors_are_rechecked_not_rescanned_and_rescanned_when_they_let_go() {
        let d = dead_locker();
        let mut probe = LinuxProbe::new(d.fake.root()).unwrap();
        let first = probe.sightings(&d.targets).unwrap();
        assert_eq!(first[0].holders[0].pid, 200);
        assert!(
            probe.mem.inheritors.contains_key(&d.ino),
            "the full scan's answer is kept"
        );
        // 200 lets go and 201 turns out to hold it: the cached answer fails its re-check and
        // a full scan finds 201.
        fs::remove_file(d.fake.root().join("200/fd/9")).unwrap();
        fs::remove_file(d.fake.root().join("200/fdinfo/9")).unwrap();
        d.fake.process(201, "sccache", 'S');
        d.fake
            .holding_fd(201, d.cache.to_str().unwrap(), d.ino, 100);
        let second = probe.sightings(&d.targets).unwrap();
        let pids: Vec<u32> = second[0].holders.iter().map(|h| h.pid).collect();
        assert_eq!(pids, vec![201]);
    }

    #[test]
    fn same_inode_on_another_filesystem_is_not_our_lock() {
        let files = tempfile::tempdir().unwrap();
        let (cache, ino) = real_file(files.path(), "home/.package-cache");
        let fake = FakeProc::new(&format!(
            "1: FLOCK  ADVISORY  WRITE 100 fe:01:{ino} 0 EOF\n"
        ));
        fake.locker(100, "dockerd", Path::new("/mnt/other/some.lock"), ino);
        let mut probe = LinuxProbe::new(fake.root()).unwrap();
        let targets = package_cache_targets(&cache);
        assert!(probe.sightings(&targets).unwrap().is_empty());
    }

    #[test]
    fn unknown_build_lock_of_a_dead_locker_is_found_through_the_inheritor() {
        let files = tempfile::tempdir().unwrap();
        let (lock, ino) = real_file(files.path(), "proj/target/debug/.cargo-lock");
        let (other, other_ino) = real_file(files.path(), "var/some-daemon.lock");
        let fake = FakeProc::new(&format!(
            "1: FLOCK  ADVISORY  WRITE 100 fe:00:{ino} 0 EOF\n\
             2: FLOCK  ADVISORY  WRITE 101 fe:00:{other_ino} 0 EOF\n"
        ));
        // 100 and 101 exited (no /proc entry); 200 and 201 kept their descriptors.
        fake.process(200, "sleep", 'S');
        fake.holding_fd(200, lock.to_str().unwrap(), ino, 100);
        fake.process(201, "daemon", 'S');
        fake.holding_fd(201, other.to_str().unwrap(), other_ino, 101);
        let mut probe = LinuxProbe::new(fake.root()).unwrap();
        let s = probe.sightings(&Targets::default()).unwrap();
        assert_eq!(s.len(), 1, "only the Cargo lock is reported: {s:?}");
        assert_eq!(s[0].path, lock);
        assert_eq!(s[0].kind, LockKind::ProfileDirectory);
        assert!(!s[0].deleted);
        assert_eq!(s[0].holders.len(), 1);
        assert_eq!(s[0].holders[0].pid, 200);
        assert!(s[0].holders[0].inherited);
        assert_eq!(s[0].dead_locker, Some(100));
        // The unrelated lock is remembered, so a daemon does not rescan for it every tick.
        assert!(probe.mem.not_cargo.contains(&(other_ino, 101)));
    }

    #[test]
    fn contended_live_locker_names_the_children_sharing_its_descriptor() {
        let mut d = locked_cache(100, &[300]);
        let path = d.cache.to_str().unwrap();
        d.fake.locker(100, "flock", &d.cache, d.ino);
        d.fake.children(100, &[150]);
        d.fake.process(150, "sleep", 'S');
        d.fake.holding_fd(150, path, d.ino, 100);
        d.fake.process(300, "cargo", 'S');
        let mut probe = LinuxProbe::new(d.fake.root()).unwrap();
        let s = probe.sightings(&d.targets).unwrap();
        let pids: Vec<(u32, bool)> = s[0].holders.iter().map(|h| (h.pid, h.inherited)).collect();
        assert_eq!(pids, [(100, false), (150, true)]);
        assert_eq!(s[0].waiters[0].pid, 300);
        assert_eq!(s[0].dead_locker, None);
        d.targets.deep_on_contention = false;
        let s = probe.sightings(&d.targets).unwrap();
        assert_eq!(s[0].holders.len(), 1, "no descriptor scan unless asked");
    }

    /// `.package-cache` locked by 100, which is gone; cargo 300 (its own session) waits.
    fn dead_locker_with_a_waiter() -> LockedCache {
        let d = locked_cache(100, &[300]);
        d.fake.process_in(300, "cargo", 1, 300);
        d
    }

    fn holder_pids(s: &[LockSighting]) -> Vec<u32> {
        s[0].holders.iter().map(|h| h.pid).collect()
    }

    #[test]
    fn an_inheritor_in_the_waiters_session_is_found_before_everyone_else_is_read() {
        let d = dead_locker_with_a_waiter();
        let path = d.cache.to_str().unwrap();
        // 250 left the tree (its parent is 1) but kept the waiter's session; 150, another
        // session's process nearer the dead locker, shares the descriptor too but is not read
        // (nor is it among the first processes forked after the dead locker, 101 to 120).
        d.fake.idle(101..=120);
        d.fake.process_in(250, "sleep", 1, 300);
        d.fake.holding_fd(250, path, d.ino, 100);
        d.fake.process_in(150, "sleep", 1, 150);
        d.fake.holding_fd(150, path, d.ino, 100);
        let mut probe = LinuxProbe::new(d.fake.root()).unwrap();
        let s = probe.sightings(&d.targets).unwrap();
        assert_eq!(holder_pids(&s), [250]);
        assert_eq!(s[0].dead_locker, Some(100));
        // Once nobody likely holds it any more, everyone is read.
        fs::remove_file(d.fake.root().join("250/fd/9")).unwrap();
        let s = probe.sightings(&d.targets).unwrap();
        assert_eq!(holder_pids(&s), [150]);
    }

    #[test]
    fn an_inheritor_in_the_dead_locker_s_process_group_is_found_before_everyone_else_is_read() {
        let d = dead_locker_with_a_waiter();
        let path = d.cache.to_str().unwrap();
        // The locker led a shell job (process group 100); 240, adopted by pid 1 in another
        // session, kept the group. 150 shares the descriptor too but is read only after.
        fs::write(
            d.fake.root().join("loadavg"),
            "0.10 0.20 0.30 1/80 900
",
        )
        .unwrap();
        d.fake.idle(101..=120);
        d.fake.idle(241..=280);
        let p = d.fake.process_in(240, "python3", 1, 7);
        fs::write(
            p.join("stat"),
            "240 (python3) S 1 100 7 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 500",
        )
        .unwrap();
        d.fake.holding_fd(240, path, d.ino, 100);
        d.fake.process_in(150, "sleep", 1, 150);
        d.fake.holding_fd(150, path, d.ino, 100);
        let mut probe = LinuxProbe::new(d.fake.root()).unwrap();
        assert_eq!(holder_pids(&probe.sightings(&d.targets).unwrap()), [240]);
        fs::remove_file(d.fake.root().join("240/fd/9")).unwrap();
        assert_eq!(holder_pids(&probe.sightings(&d.targets).unwrap()), [150]);
    }

    #[test]
    fn an_inheritor_that_forked_and_never_exec_d_is_found_before_everyone_else_is_read() {
        let d = dead_locker_with_a_waiter();
        let path = d.cache.to_str().unwrap();
        fs::write(d.fake.root().join("loadavg"), "0.1 0.2 0.3 1/80 240\n").unwrap();
        // 200 (a Python daemon's fork, `PF_FORKNOEXEC`) stayed in its parent's session among
        // idle processes forked before and after it; 150, nearer the dead locker, exec'd and
        // shares the descriptor too, but nothing else makes it likely.
        d.fake.idle(101..=199);
        d.fake.idle(201..=240);
        d.fake.process_in(60, "python3", 1, 60);
        let p = d.fake.process_in(200, "python3", 60, 60);
        fs::write(
            p.join("stat"),
            "200 (python3) S 60 60 60 0 -1 4194368 0 0 0 0 1 1 0 0 20 0 1 0 500",
        )
        .unwrap();
        d.fake.holding_fd(200, path, d.ino, 100);
        d.fake.holding_fd(150, path, d.ino, 100);
        let mut probe = LinuxProbe::new(d.fake.root()).unwrap();
        assert_eq!(holder_pids(&probe.sightings(&d.targets).unwrap()), [200]);
        fs::remove_file(d.fake.root().join("200/fd/9")).unwrap();
        assert_eq!(holder_pids(&probe.sightings(&d.targets).unwrap()), [150]);
    }

    #[test]
    fn an_inheritor_adopted_by_the_waiters_subreaper_is_found_before_everyone_else_is_read() {
        let d = locked_cache(100, &[300]);
        let path = d.cache.to_str().unwrap();
        // systemd --user (50) adopted the orphan 260 (its own session); the waiter runs below
        // it too. 150 shares the descriptor but is nobody's likely heir.
        d.fake.process_in(50, "systemd", 1, 50);
        d.fake.children(50, &[300, 260]);
        d.fake.process_in(300, "cargo", 50, 300);
        d.fake.process_in(260, "sleep", 50, 260);
        d.fake.holding_fd(260, path, d.ino, 100);
        d.fake.process_in(150, "sleep", 1, 150);
        d.fake.holding_fd(150, path, d.ino, 100);
        let mut probe = LinuxProbe::new(d.fake.root()).unwrap();
        assert_eq!(holder_pids(&probe.sightings(&d.targets).unwrap()), [260]);
    }

    #[test]
    fn a_daemon_forked_since_the_dead_locker_is_found_before_everyone_else_is_read() {
        let d = dead_locker_with_a_waiter();
        let path = d.cache.to_str().unwrap();
        fs::write(d.fake.root().join("loadavg"), "0.10 0.20 0.30 1/80 900\n").unwrap();
        // A subreaper (50) runs 101 to 160 in its session. 140 left that session (a daemon's
        // setsid) and kept the dead locker's descriptor; 130, in the session, shares it too,
        // and so does 90, a daemon older than the locker: both are read only after 140.
        d.fake.process_in(50, "python3", 1, 50);
        for pid in 101..=160 {
            d.fake.process_in(pid, "sleep", 50, 50);
        }
        d.fake.process_in(140, "sleep", 50, 140);
        d.fake.holding_fd(140, path, d.ino, 100);
        d.fake.holding_fd(130, path, d.ino, 100);
        d.fake.process_in(90, "sleep", 50, 90);
        d.fake.holding_fd(90, path, d.ino, 100);
        let mut probe = LinuxProbe::new(d.fake.root()).unwrap();
        assert_eq!(holder_pids(&probe.sightings(&d.targets).unwrap()), [140]);
        fs::remove_file(d.fake.root().join("140/fd/9")).unwrap();
        assert_eq!(holder_pids(&probe.sightings(&d.targets).unwrap()), [130]);
    }

    #[test]
    fn the_newest_and_the_first_after_the_dead_locker_are_tried_before_build_tools_then_all() {
        let d = dead_locker_with_a_waiter();
        let path = d.cache.to_str().unwrap();
        // Pids 101 to 160 are idle; sccache 130 and sleep 140 share the descriptor but are
        // neither among the first 16 after the dead locker nor the 16 newest (the last pid
        // handed out is 900).
        fs::write(d.fake.root().join("loadavg"), "0.10 0.20 0.30 1/80 900\n").unwrap();
        d.fake.idle(101..=160);
        d.fake.process_in(130, "sccache", 1, 130);
        d.fake.holding_fd(130, path, d.ino, 100);
        d.fake.holding_fd(140, path, d.ino, 100);
        // 700, in a session of its own, is the newest process: a daemon forked it and left.
        d.fake.process_in(700, "python3", 1, 700);
        d.fake.holding_fd(700, path, d.ino, 100);
        let mut probe = LinuxProbe::new(d.fake.root()).unwrap();
        assert_eq!(holder_pids(&probe.sightings(&d.targets).unwrap()), [700]);
        // 700 lets go; 104, forked right after the dead locker, holds it too.
        fs::remove_file(d.fake.root().join("700/fd/9")).unwrap();
        d.fake.holding_fd(104, path, d.ino, 100);
        assert_eq!(holder_pids(&probe.sightings(&d.targets).unwrap()), [104]);
        // Once neither end holds it, the build tool is found by its name, before 140.
        fs::remove_file(d.fake.root().join("104/fd/9")).unwrap();
        assert_eq!(holder_pids(&probe.sightings(&d.targets).unwrap()), [130]);
        // Then everyone else is read.
        fs::remove_file(d.fake.root().join("130/fd/9")).unwrap();
        assert_eq!(holder_pids(&probe.sightings(&d.targets).unwrap()), [140]);
    }

    #[test]
    fn among_many_processes_the_scan_stops_at_a_holder_and_adds_its_siblings_sharing_it() {
        let d = dead_locker_with_a_waiter();
        let path = d.cache.to_str().unwrap();
        // 1,200 idle processes (enough for the scan to run on several threads where there are
        // several cores). The dead locker forked 333 and 1111 (far apart, neither at an end of
        // the range), adopted by the subreaper 50, in its session 90; 1250, unrelated, shares
        // it too, and so does 1260, a child of 50 in 1250's session.
        fs::write(d.fake.root().join("loadavg"), "0.10 0.20 0.30 1/80 1400\n").unwrap();
        d.fake.idle(101..=1300);
        d.fake.process_in(50, "systemd", 1, 50);
        d.fake.children(50, &[333, 1111, 1260]);
        for pid in [333, 1111] {
            d.fake.process_in(pid, "sleep", 50, 90);
        }
        d.fake.process_in(1260, "sleep", 50, 1250);
        for pid in [333, 1111, 1250, 1260] {
            d.fake.holding_fd(pid, path, d.ino, 100);
        }
        let mut probe = LinuxProbe::new(d.fake.root()).unwrap();
        // The scan (pids after the dead locker, ascending) stops at 333: 1250 and 1260 are
        // left unread.
        assert_eq!(
            holder_pids(&probe.sightings(&d.targets).unwrap()),
            [333, 1111]
        );
        // Once both siblings let go, the next pass finds 1250 (and 1260 when another core
        // was reading its run at the time).
        for pid in [333, 1111] {
            fs::remove_file(d.fake.root().join(format!("{pid}/fd/9"))).unwrap();
        }
        let next = holder_pids(&probe.sightings(&d.targets).unwrap());
        assert!(next.starts_with(&[1250]) && next.len() <= 2, "{next:?}");
        fs::remove_file(d.fake.root().join("1250/fd/9")).unwrap();
        assert_eq!(holder_pids(&probe.sightings(&d.targets).unwrap()), [1260]);
    }

    #[test]
    fn of_a_heir_s_many_siblings_in_its_session_only_the_nearest_are_read() {
        let d = dead_locker_with_a_waiter();
        let path = d.cache.to_str().unwrap();
        // The subreaper 50 has 299 children in its session 90 (300 is the waiting cargo); the
        // dead locker's descriptor lives on in 200, 230 (near it) and 360 (far from both, not among the newest).
        fs::write(d.fake.root().join("loadavg"), "0.10 0.20 0.30 1/80 1400\n").unwrap();
        d.fake.process_in(50, "systemd", 1, 50);
        let kids: Vec<u32> = (101..=400).filter(|p| *p != 300).collect();
        d.fake.children(50, &kids);
        for pid in kids {
            d.fake.process_in(pid, "sleep", 50, 90);
        }
        for pid in [200, 230, 360] {
            d.fake.holding_fd(pid, path, d.ino, 100);
        }
        let mut probe = LinuxProbe::new(d.fake.root()).unwrap();
        assert_eq!(
            holder_pids(&probe.sightings(&d.targets).unwrap()),
            [200, 230]
        );
        for pid in [200, 230] {
            fs::remove_file(d.fake.root().join(format!("{pid}/fd/9"))).unwrap();
        }
        assert_eq!(holder_pids(&probe.sightings(&d.targets).unwrap()), [360]);
    }

    #[test]
    fn a_pass_reads_each_process_once_and_questions_outside_a_pass_read_afresh() {
        let d = dead_locker();
        let mut probe = LinuxProbe::new(d.fake.root()).unwrap();
        probe.begin_pass();
        let s = probe.sightings(&d.targets).unwrap();
        assert_eq!(holder_pids(&s), [200]);
        // 200 lets go: within the pass the answer read once stands...
        fs::remove_file(d.fake.root().join("200/fdinfo/9")).unwrap();
        fs::write(d.fake.root().join("200/fdinfo/9"), "pos:\t0\nflags:\t02\n").unwrap();
        assert!(probe.holds(200, s[0].key).unwrap());
        probe.end_pass();
        // ...and a question after it (a kill's re-check) sees the release.
        assert!(!probe.holds(200, s[0].key).unwrap());
    }

    #[test]
    fn a_held_lock_file_deleted_under_its_holder_keeps_its_identity() {
        let files = tempfile::tempdir().unwrap();
        let (lock, ino) = real_file(files.path(), "app/target/debug/.cargo-lock");
        let fake = FakeProc::new(&lock_table(ino, 300, &[]));
        fake.locker(300, "cargo", &lock, ino);
        let mut probe = LinuxProbe::new(fake.root()).unwrap();
        let targets = Targets::default();
        let before = probe.sightings(&targets).unwrap();
        assert!(!before[0].deleted && before[0].key.dev != 0);
        // `cargo clean` removes the file; cargo still holds the inode.
        fs::remove_file(&lock).unwrap();
        let after = probe.sightings(&targets).unwrap();
        assert!(after[0].deleted);
        assert_eq!(
            after[0].key, before[0].key,
            "the same lock, so the same hold"
        );
    }

    #[test]
    fn discovered_lock_files_that_are_gone_are_forgotten() {
        let files = tempfile::tempdir().unwrap();
        let (lock, ino) = real_file(files.path(), "app/target/debug/.cargo-lock");
        let (kept, kept_ino) = real_file(files.path(), "other/target/debug/.cargo-lock");
        let fake = FakeProc::new(&format!(
            "1: FLOCK  ADVISORY  WRITE 300 fe:00:{ino} 0 EOF\n\
             2: FLOCK  ADVISORY  WRITE 301 fe:00:{kept_ino} 0 EOF\n"
        ));
        fake.locker(300, "cargo", &lock, ino);
        fake.locker(301, "cargo", &kept, kept_ino);
        let mut probe = LinuxProbe::new(fake.root()).unwrap();
        let targets = Targets::default();
        assert_eq!(probe.sightings(&targets).unwrap().len(), 2);
        assert_eq!(probe.mem.discovered.len(), 2);
        // Both released; one project deleted (`rm -rf` of a temp checkout).
        fs::write(fake.root().join("locks"), "").unwrap();
        fs::remove_file(&lock).unwrap();
        assert!(probe.sightings(&targets).unwrap().is_empty());
        assert!(
            !probe.mem.discovered.contains_key(&ino),
            "a deleted project is forgotten"
        );
        assert!(
            probe.mem.discovered.contains_key(&kept_ino),
            "an existing one is kept"
        );
    }
}
