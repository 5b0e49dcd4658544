//! Linux probe: `/proc/locks` for who took each flock and who waits, `/proc/PID/fdinfo` for who
//! really holds it when the locker is gone, `/proc/PID/{stat,cmdline,cwd}` for process facts.
//!
//! The cheap path is one read of `/proc/locks` (about a millisecond) plus `stat` of the known lock
//! files. Descriptor scans cost about a hundred times more, so they run only when the answer
//! depends on them: an unknown inode (discovery), a dead locker, or a contended lock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use super::linux_parse::{self, KernelLock};
use super::{Probe, ProbeError, Targets};
use crate::core::catalog::{self, LockKind};
use crate::core::model::{
    Activity, Ancestor, ChildProcess, FileKey, LockSighting, Participant, Peer, ProcessFacts,
};

/// How far up a parent chain is followed.
const MAX_ANCESTORS: usize = 64;
/// How many descendants are summed for tree CPU (a huge build has a few dozen).
const MAX_DESCENDANTS: usize = 4096;

pub(super) fn new_probe() -> Result<Box<dyn Probe>, ProbeError> {
    Ok(Box::new(LinuxProbe::new(PathBuf::from("/proc"))?))
}

/// A lock file found through some process's descriptor.
#[derive(Debug, Clone)]
struct Discovered {
    path: PathBuf,
    kind: LockKind,
    deleted: bool,
}

/// The Linux probe. It remembers discovered lock files between passes so a daemon pays for
/// discovery once per file, not once per tick.
pub struct LinuxProbe {
    proc_root: PathBuf,
    boot_time: f64,
    ticks_per_sec: f64,
    /// inode → lock file discovered through a descriptor (build directories of any project).
    discovered: HashMap<u64, Discovered>,
    /// (inode, locker pid) pairs already resolved to "not a Cargo lock".
    not_cargo: HashSet<(u64, u32)>,
    /// (inode, pid) → start time of a locker whose own descriptor was seen holding the lock, so
    /// the check is paid once per hold, not once per pass.
    verified: HashMap<(u64, u32), u64>,
    /// inode → (dead lockers, inheritors found, when every process was last scanned): a dead
    /// locker's lock is re-checked through its known inheritors, not a full scan per tick.
    inheritors: HashMap<u64, Inheritors>,
    /// blocker pid → (its start time, when its pipe writers were last searched, what was found).
    culprits: HashMap<u32, (u64, std::time::Instant, Vec<u32>)>,
    users: super::UserNames,
}

/// How long the answer to "who holds this blocker's pipes open" is trusted.
const CULPRIT_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// Inheritors of a dead locker's lock, as last found by a full scan.
type Inheritors = (Vec<u32>, Vec<(u32, KernelLock)>, std::time::Instant);

/// How long a full descriptor scan's answer about a dead locker's inheritors is trusted while
/// they all still hold the lock.
const FULL_RESCAN: std::time::Duration = std::time::Duration::from_secs(30);

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
        let stat_path = proc_root.join("stat");
        let stat = fs::read_to_string(&stat_path).map_err(|source| ProbeError::LockTable {
            path: stat_path,
            source,
        })?;
        let boot_time = stat
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        // SAFETY: sysconf has no preconditions; it only reads a constant.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let ticks_per_sec = if ticks > 0 { ticks as f64 } else { 100.0 };
        Ok(LinuxProbe {
            proc_root,
            boot_time,
            ticks_per_sec,
            discovered: HashMap::new(),
            not_cargo: HashSet::new(),
            verified: HashMap::new(),
            inheritors: HashMap::new(),
            culprits: HashMap::new(),
            users: super::UserNames::default(),
        })
    }

    /// Forgets discovered lock files that are gone: not in the lock table, and no file with
    /// that inode at that path any more (a long-lived daemon sees many short-lived projects).
    fn prune_discovered(&mut self, lines: &[KernelLock]) {
        let table: HashSet<u64> = lines.iter().map(|l| l.ino).collect();
        self.discovered.retain(|ino, d| {
            table.contains(ino) || super::file_key(&d.path).is_some_and(|k| k.ino == *ino)
        });
    }

    fn pid_dir(&self, pid: u32) -> PathBuf {
        self.proc_root.join(pid.to_string())
    }

    fn alive(&self, pid: u32) -> bool {
        self.pid_dir(pid).exists()
    }

    /// Whether `pid` still has a descriptor table. A zombie keeps its `/proc` entry until it is
    /// reaped but has closed every descriptor, so it holds no lock: a lock the kernel still
    /// credits to it lives on in a process that inherited the descriptor.
    /// Whether the process `/proc/locks` names as locker really holds the lock on `path`: the
    /// pid may have been reused by an unrelated process after the locker exited, and the inode
    /// number alone may belong to a file on another filesystem.
    ///
    /// Files are compared by identity (device and inode of the open file), never by path: a
    /// Cargo home reached through a symlink has another path than the one the kernel shows.
    fn check_locker(&mut self, pid: u32, key: FileKey, path: &Path) -> LockerCheck {
        let Some(stat) = self.read_stat(pid) else {
            return LockerCheck::Gone;
        };
        if stat.state == crate::core::model::ProcState::Zombie {
            return LockerCheck::Gone;
        }
        let ino = key.ino;
        if self.verified.get(&(ino, pid)) == Some(&stat.starttime) {
            return LockerCheck::Holds;
        }
        let links = match self.fd_links_raw(pid) {
            Ok(links) => links,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return LockerCheck::Uninspectable;
            }
            Err(_) => return LockerCheck::Gone,
        };
        // Descriptors whose file name matches first (the usual case, a handful of fdinfo
        // reads), then every descriptor (a lock file reached through a symlink to the file).
        let name = path.file_name().map(|n| n.as_encoded_bytes().to_vec());
        let named = |link: &[u8]| name.as_ref().is_some_and(|n| link.ends_with(n));
        let (first, rest): (Vec<_>, Vec<_>) = links.iter().partition(|(_, l)| named(l));
        let mut foreign = false;
        for (fd, _) in first.into_iter().chain(rest) {
            let info = fs::read_to_string(self.pid_dir(pid).join("fdinfo").join(fd))
                .map(|t| linux_parse::parse_fdinfo(&t))
                .unwrap_or_default();
            if info.ino != Some(ino) || !info.locks.iter().any(|l| l.ino == ino) {
                continue;
            }
            let dev = fs::metadata(self.pid_dir(pid).join("fd").join(fd))
                .map(|m| std::os::unix::fs::MetadataExt::dev(&m));
            if key.dev == 0 || dev.is_ok_and(|d| d == key.dev) {
                if self.verified.len() > 4096 {
                    self.verified.clear();
                }
                self.verified.insert((ino, pid), stat.starttime);
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

    fn has_descriptors(&self, pid: u32) -> bool {
        self.read_stat(pid)
            .is_some_and(|s| s.state != crate::core::model::ProcState::Zombie)
    }

    /// Readlinks of every descriptor of `pid`: (fd number, link target), absolute paths only.
    fn fd_links(&self, pid: u32) -> Vec<(String, String)> {
        self.fd_links_raw(pid)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, target)| target.first() == Some(&b'/'))
            .map(|(fd, target)| (fd, String::from_utf8_lossy(&target).into_owned()))
            .collect()
    }

    /// Readlinks of every descriptor of `pid`: (fd number, raw link target), pipes and sockets
    /// included.
    ///
    /// One open of `/proc/PID/fd` and one `readlinkat` per descriptor relative to it: the full
    /// scan calls this for every process, and resolving `/proc/PID/fd/N` from the root for
    /// each descriptor cost about a third of it.
    fn fd_links_raw(&self, pid: u32) -> std::io::Result<Vec<(String, Vec<u8>)>> {
        use std::ffi::{CStr, CString};
        use std::os::unix::ffi::OsStrExt;

        let mut out = Vec::new();
        let dir = self.pid_dir(pid).join("fd");
        let path = CString::new(dir.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        // SAFETY: `path` is a valid NUL-terminated string; the flags are plain constants.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is an open directory descriptor owned here; on success `fdopendir` takes
        // it over and `closedir` below closes both.
        let dirp = unsafe { libc::fdopendir(fd) };
        if dirp.is_null() {
            let err = std::io::Error::last_os_error();
            // SAFETY: `fd` is still owned here because fdopendir failed.
            unsafe { libc::close(fd) };
            return Err(err);
        }
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: `dirp` is a valid directory stream until `closedir` below.
            let ent = unsafe { libc::readdir(dirp) };
            if ent.is_null() {
                break;
            }
            // SAFETY: `d_name` of an entry returned by readdir is NUL-terminated and lives until
            // the next readdir call on this stream; it is copied before that.
            let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
            if name.to_bytes().first() == Some(&b'.') {
                continue;
            }
            // SAFETY: `fd` stays open while `dirp` is; `buf` is writable for its whole length.
            let n =
                unsafe { libc::readlinkat(fd, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(n) = usize::try_from(n) else { continue };
            out.push((
                name.to_string_lossy().into_owned(),
                buf[..n.min(buf.len())].to_vec(),
            ));
        }
        // SAFETY: `dirp` came from fdopendir and is closed exactly once.
        unsafe { libc::closedir(dirp) };
        Ok(out)
    }

    /// Finds the Cargo lock file with inode `ino` among `pid`'s descriptors.
    fn resolve_through(&self, pid: u32, ino: u64) -> Option<Discovered> {
        for (fd, link) in self.fd_links(pid) {
            let (path, deleted) = linux_parse::split_deleted(&link);
            let name = Path::new(path)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("");
            if !catalog::could_be_lock_name(name) {
                continue;
            }
            let Some(kind) = catalog::classify(Path::new(path)) else {
                continue;
            };
            if self.fd_inode(pid, &fd) == Some(ino) {
                return Some(Discovered {
                    path: PathBuf::from(path),
                    kind,
                    deleted,
                });
            }
        }
        None
    }

    fn fd_inode(&self, pid: u32, fd: &str) -> Option<u64> {
        let text = fs::read_to_string(self.pid_dir(pid).join("fdinfo").join(fd)).ok()?;
        linux_parse::parse_fdinfo(&text).ino
    }

    /// Every visible process id.
    fn all_pids(&self) -> Vec<u32> {
        let Ok(entries) = fs::read_dir(&self.proc_root) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
            .collect()
    }

    /// Every process among `pids` whose descriptor holds a granted flock on `ino`, with the
    /// mode. With every pid this is the expensive scan: it reads each process's descriptor table.
    fn real_holders(
        &self,
        ino: u64,
        name_hint: Option<&str>,
        pids: &[u32],
    ) -> Vec<(u32, KernelLock)> {
        let mut out = Vec::new();
        for &pid in pids {
            for (fd, link) in self.fd_links(pid) {
                let (path, _) = linux_parse::split_deleted(&link);
                let name = Path::new(path)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("");
                let plausible = match name_hint {
                    Some(hint) => name == hint,
                    None => catalog::could_be_lock_name(name),
                };
                if !plausible {
                    continue;
                }
                let Ok(text) = fs::read_to_string(self.pid_dir(pid).join("fdinfo").join(&fd))
                else {
                    continue;
                };
                let info = linux_parse::parse_fdinfo(&text);
                if info.ino != Some(ino) {
                    continue;
                }
                if let Some(lock) = info.locks.into_iter().find(|l| l.ino == ino) {
                    out.push((pid, lock));
                }
            }
        }
        out.sort_by_key(|(pid, _)| *pid);
        out.dedup_by_key(|(pid, _)| *pid);
        out
    }

    /// Who holds `ino` now that its lockers (`dead`) are gone: the inheritors found last time
    /// if they all still hold it and the answer is recent, else a scan of every process.
    fn inheritors_of(
        &mut self,
        ino: u64,
        dead: &[u32],
        hint: Option<&str>,
    ) -> Vec<(u32, KernelLock)> {
        if let Some((lockers, found, at)) = self.inheritors.get(&ino)
            && lockers == dead
            && !found.is_empty()
            && at.elapsed() < FULL_RESCAN
        {
            let pids: Vec<u32> = found.iter().map(|(p, _)| *p).collect();
            let again = self.real_holders(ino, hint, &pids);
            if again.len() == pids.len() {
                return again;
            }
        }
        let everyone = self.all_pids();
        let found = self.real_holders(ino, hint, &everyone);
        self.inheritors.insert(
            ino,
            (dead.to_vec(), found.clone(), std::time::Instant::now()),
        );
        found
    }

    /// The flock lines of `/proc/locks`, read twice and merged when the table spans pages (see
    /// [`linux_parse::merge_reads`]).
    fn lock_table(&self) -> Result<Vec<KernelLock>, ProbeError> {
        let path = self.proc_root.join("locks");
        let read = || {
            fs::read_to_string(&path).map_err(|source| ProbeError::LockTable {
                path: path.clone(),
                source,
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

    fn read_stat(&self, pid: u32) -> Option<linux_parse::Stat> {
        let text = fs::read_to_string(self.pid_dir(pid).join("stat")).ok()?;
        linux_parse::parse_stat(&text)
    }

    fn children(&self, pid: u32) -> Vec<u32> {
        let mut kids = Vec::new();
        let Ok(tasks) = fs::read_dir(self.pid_dir(pid).join("task")) else {
            return kids;
        };
        for task in tasks.flatten() {
            if let Ok(text) = fs::read_to_string(task.path().join("children")) {
                kids.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
        kids
    }
}

/// What a blocker does: live descendants, network peers, pipe writers outside its tree.
impl LinuxProbe {
    fn live_descendants(&mut self, pid: u32) -> Vec<ChildProcess> {
        let mut out = Vec::new();
        for p in self.descendants(pid) {
            let Some(st) = self.read_stat(p) else {
                continue;
            };
            if st.state == crate::core::model::ProcState::Zombie {
                continue;
            }
            let cmd = fs::read(self.pid_dir(p).join("cmdline"))
                .map(|b| linux_parse::parse_cmdline(&b))
                .unwrap_or_default();
            out.push(ChildProcess {
                pid: p,
                name: st.comm,
                cmd,
            });
        }
        out
    }

    /// Pipes `pid` reads from (beyond its stdin, stdout and stderr) and has no write end of:
    /// another process must close them before it sees end-of-file.
    fn pipes_read_only(&self, pid: u32) -> Vec<u64> {
        let (mut reads, mut writes) = (Vec::new(), Vec::new());
        for (fd, link) in self.fd_links_raw(pid).unwrap_or_default() {
            let Some(ino) = linux_parse::pipe_inode(&link) else {
                continue;
            };
            let info = fs::read_to_string(self.pid_dir(pid).join("fdinfo").join(&fd))
                .map(|t| linux_parse::parse_fdinfo(&t))
                .unwrap_or_default();
            if info.writes() {
                writes.push(ino);
            } else if !matches!(fd.as_str(), "0" | "1" | "2") {
                reads.push(ino);
            }
        }
        reads.retain(|i| !writes.contains(i));
        reads.sort_unstable();
        reads.dedup();
        reads
    }

    /// Processes among `pids` (other than `exclude`) holding the write end of one of `pipes`.
    fn pipe_writers_among(&self, pids: &[u32], pipes: &[u64], exclude: &[u32]) -> Vec<u32> {
        let writes = |p: u32| {
            self.fd_links_raw(p)
                .unwrap_or_default()
                .into_iter()
                .any(|(fd, link)| {
                    linux_parse::pipe_inode(&link).is_some_and(|i| pipes.contains(&i))
                        && fs::read_to_string(self.pid_dir(p).join("fdinfo").join(&fd))
                            .is_ok_and(|t| linux_parse::parse_fdinfo(&t).writes())
                })
        };
        pids.iter()
            .copied()
            .filter(|p| !exclude.contains(p) && writes(*p))
            .collect()
    }

    /// The processes outside `pid`'s tree that keep its output pipes open. Searched in its
    /// session first (a daemon left by a build script stays there), then everywhere; the
    /// answer is kept for [`CULPRIT_TTL`] so a daemon does not search every pass.
    fn pipe_writers(&mut self, pid: u32, tree: &[u32]) -> Vec<ProcessFacts> {
        let pipes = self.pipes_read_only(pid);
        let Some(me) = self.read_stat(pid) else {
            return Vec::new();
        };
        if pipes.is_empty() {
            self.culprits.remove(&pid);
            return Vec::new();
        }
        let cached = self.culprits.get(&pid).filter(|(token, at, found)| {
            *token == me.starttime
                && at.elapsed() < CULPRIT_TTL
                && found.iter().all(|p| self.has_descriptors(*p))
        });
        let found = match cached {
            Some((_, _, found)) => found.clone(),
            None => {
                let mut exclude = tree.to_vec();
                exclude.push(pid);
                let everyone = self.all_pids();
                let (session, rest): (Vec<u32>, Vec<u32>) = everyone
                    .into_iter()
                    .partition(|p| self.read_stat(*p).is_some_and(|s| s.session == me.session));
                let mut found = self.pipe_writers_among(&session, &pipes, &exclude);
                if found.is_empty() {
                    found = self.pipe_writers_among(&rest, &pipes, &exclude);
                }
                if self.culprits.len() > 256 {
                    self.culprits.clear();
                }
                let entry = (me.starttime, std::time::Instant::now(), found.clone());
                self.culprits.insert(pid, entry);
                found
            }
        };
        found
            .into_iter()
            .filter_map(|p| self.process(p).ok())
            .collect()
    }

    /// Established or connecting TCP connections of `pid`, with how long ago data last
    /// arrived on each when the kernel says (sock_diag, for sockets in this network namespace).
    fn peers(&self, pid: u32) -> Vec<Peer> {
        let sockets: Vec<u64> = self
            .fd_links_raw(pid)
            .unwrap_or_default()
            .iter()
            .filter_map(|(_, link)| linux_parse::socket_inode(link))
            .collect();
        if sockets.is_empty() {
            return Vec::new();
        }
        let mut live = Vec::new();
        for table in ["tcp", "tcp6"] {
            let Ok(text) = fs::read_to_string(self.pid_dir(pid).join("net").join(table)) else {
                continue;
            };
            live.extend(
                linux_parse::parse_net_tcp(&text)
                    .into_iter()
                    .filter(|e| e.is_live() && sockets.contains(&e.inode)),
            );
        }
        if live.is_empty() {
            return Vec::new();
        }
        let inodes: Vec<u64> = live.iter().map(|e| e.inode).collect();
        let idle = tcp_last_data_recv(&inodes);
        live.into_iter()
            .map(|e| Peer {
                remote: e.remote.to_string(),
                idle_for_secs: idle.get(&e.inode).map(|ms| f64::from(*ms) / 1000.0),
            })
            .collect()
    }
}

/// Milliseconds since data last arrived on each of `inodes` (TCP sockets of this network
/// namespace), from one sock_diag dump per address family. Sockets the kernel does not report
/// (another namespace, closed meanwhile) are missing; any failure gives an empty answer.
fn tcp_last_data_recv(inodes: &[u64]) -> HashMap<u64, u32> {
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
            for (inode, ms) in chunk.sockets {
                if inodes.contains(&inode) {
                    out.insert(inode, ms);
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
    fn sightings(&mut self, targets: &Targets) -> Result<Vec<LockSighting>, ProbeError> {
        let lines = self.lock_table()?;
        self.prune_discovered(&lines);
        if lines.is_empty() {
            return Ok(Vec::new());
        }

        // Known files by inode (the kernel's device number is the superblock's, which differs
        // from stat's on btrfs and overlayfs, so the inode is the key).
        let mut known: HashMap<u64, (PathBuf, LockKind, FileKey)> = HashMap::new();
        for (p, kind) in &targets.known {
            if let Some(key) = super::file_key(p) {
                known.insert(key.ino, (p.clone(), *kind, key));
            }
        }

        // Group lines by inode, keeping the kernel's order.
        let mut by_ino: BTreeMap<u64, Vec<KernelLock>> = BTreeMap::new();
        for l in lines {
            by_ino.entry(l.ino).or_default().push(l);
        }

        let mut out = Vec::new();
        let mut seen_inodes: Vec<u64> = Vec::new();
        for (ino, locks) in by_ino {
            let granted: Vec<&KernelLock> = locks.iter().filter(|l| l.is_granted()).collect();
            let waiting: Vec<&KernelLock> = locks.iter().filter(|l| !l.is_granted()).collect();

            // Which file is this?
            let (path, kind, key, mut deleted) = if let Some((p, k, key)) = known.get(&ino) {
                (p.clone(), *k, *key, false)
            } else if let Some(d) = self.discovered.get(&ino).cloned() {
                let key = FileKey { dev: 0, ino };
                (d.path, d.kind, key, d.deleted)
            } else {
                let mut found = None;
                for l in granted.iter().chain(waiting.iter()) {
                    if self.not_cargo.contains(&(ino, l.pid)) || !self.has_descriptors(l.pid) {
                        continue;
                    }
                    match self.resolve_through(l.pid, ino) {
                        Some(d) => {
                            found = Some(d);
                            break;
                        }
                        None => {
                            self.not_cargo.insert((ino, l.pid));
                        }
                    }
                }
                // Every locker is gone (exited, or a zombie) and nobody waits: only the process
                // that inherited the descriptor can say which file this is, and only the full
                // scan finds it. Remembered as "not Cargo's" when it fails, so a daemon pays once.
                let orphaned = granted.iter().filter(|l| !self.has_descriptors(l.pid));
                let orphaned: Vec<u32> = orphaned.map(|l| l.pid).collect();
                if found.is_none()
                    && !orphaned.is_empty()
                    && !orphaned.iter().all(|p| self.not_cargo.contains(&(ino, *p)))
                {
                    let everyone = self.all_pids();
                    found = self
                        .real_holders(ino, None, &everyone)
                        .into_iter()
                        .find_map(|(pid, _)| self.resolve_through(pid, ino));
                    if found.is_none() {
                        self.not_cargo.extend(orphaned.iter().map(|p| (ino, *p)));
                    }
                }
                let Some(d) = found else { continue };
                self.discovered.insert(ino, d.clone());
                (d.path, d.kind, FileKey { dev: 0, ino }, d.deleted)
            };
            let key = if key.dev == 0 {
                super::file_key(&path)
                    .filter(|k| k.ino == ino)
                    .unwrap_or(key)
            } else {
                key
            };
            // A discovered path whose file now has another inode (or none) was deleted.
            if !deleted && super::file_key(&path).is_none_or(|k| k.ino != ino) {
                deleted = true;
            }

            // Trust a locker only if its own descriptor shows the lock on this file; a lock on a
            // same-numbered inode elsewhere is not ours at all.
            let mut lockers: Vec<(u32, crate::core::model::LockMode)> = Vec::new();
            let mut dead: Vec<u32> = Vec::new();
            for l in &granted {
                match self.check_locker(l.pid, key, &path) {
                    LockerCheck::Holds | LockerCheck::Uninspectable => {
                        lockers.push((l.pid, l.mode));
                    }
                    LockerCheck::Gone => {
                        lockers.push((l.pid, l.mode));
                        dead.push(l.pid);
                    }
                    LockerCheck::Foreign => {}
                }
            }
            if lockers.is_empty() && !granted.is_empty() {
                continue;
            }
            let contended = !waiting.is_empty();
            let mut holders: Vec<Participant> = lockers
                .iter()
                .filter(|(p, _)| !dead.contains(p))
                .map(|(pid, mode)| Participant {
                    pid: *pid,
                    mode: *mode,
                    inherited: false,
                })
                .collect();
            let mut dead_locker = None;
            if !dead.is_empty() || (contended && targets.deep_on_contention) {
                // A dead locker's descriptor may live anywhere: scan every process. A live
                // locker shares its descriptor with the children it forked; those are the
                // co-holders worth naming when others wait, and scanning only that subtree
                // keeps `status` on a contended lock as cheap as `lslocks`.
                let hint = path.file_name().and_then(|n| n.to_str()).map(str::to_owned);
                let found = if dead.is_empty() {
                    let mut scope: Vec<u32> = Vec::new();
                    for (pid, _) in &lockers {
                        scope.push(*pid);
                        scope.extend(self.descendants(*pid));
                    }
                    scope.sort_unstable();
                    scope.dedup();
                    self.real_holders(ino, hint.as_deref(), &scope)
                } else {
                    self.inheritors_of(ino, &dead, hint.as_deref())
                };
                seen_inodes.push(ino);
                for (pid, lock) in found {
                    if holders.iter().any(|h| h.pid == pid) {
                        continue;
                    }
                    let locker_alive = !dead.contains(&lock.pid);
                    holders.push(Participant {
                        pid,
                        mode: lock.mode,
                        inherited: pid != lock.pid,
                    });
                    if !locker_alive {
                        dead_locker = Some(lock.pid);
                    }
                }
                if dead_locker.is_none() {
                    dead_locker = dead.first().copied();
                }
            }
            let waiters = waiting
                .iter()
                .filter(|l| self.alive(l.pid))
                .map(|l| Participant {
                    pid: l.pid,
                    mode: l.mode,
                    inherited: false,
                })
                .collect::<Vec<_>>();
            // The kernel lists a granted lock only while some descriptor holds it: if nobody
            // could be named, the holder is hidden from this user, never absent.
            let unseen = holders
                .is_empty()
                .then(|| granted.first().map(|l| l.mode))
                .flatten();
            if holders.is_empty() && waiters.is_empty() && unseen.is_none() {
                continue;
            }
            out.push(LockSighting {
                path,
                key,
                kind,
                deleted,
                holders,
                waiters,
                locker_gone: dead_locker.is_some() && unseen.is_none(),
                dead_locker,
                unseen,
            });
        }
        self.inheritors.retain(|ino, _| seen_inodes.contains(ino));
        // Forget discoveries whose inode no longer appears, so the cache stays small.
        if self.not_cargo.len() > 4096 {
            self.not_cargo.clear();
        }
        Ok(out)
    }

    fn process(&mut self, pid: u32) -> Result<ProcessFacts, ProbeError> {
        let dir = self.pid_dir(pid);
        let stat = self.read_stat(pid).ok_or(ProbeError::NoSuchProcess(pid))?;
        let uid = fs::read_to_string(dir.join("status"))
            .ok()
            .and_then(|s| linux_parse::parse_status_uid(&s))
            .ok_or(ProbeError::NoSuchProcess(pid))?;
        let cmd = fs::read(dir.join("cmdline"))
            .map(|b| linux_parse::parse_cmdline(&b))
            .unwrap_or_default();
        let cwd = fs::read_link(dir.join("cwd")).ok();

        let mut ancestors = Vec::new();
        let mut has_tty = stat.tty_nr != 0;
        let mut next = stat.ppid;
        while next > 0 && ancestors.len() < MAX_ANCESTORS {
            let Some(s) = self.read_stat(next) else { break };
            has_tty |= s.tty_nr != 0 && ancestors.is_empty();
            ancestors.push(Ancestor {
                pid: next,
                name: s.comm.clone(),
            });
            if next == 1 {
                break;
            }
            next = s.ppid;
        }

        let mut cpu_ticks = stat.cpu_ticks;
        for child in self.descendants(pid) {
            if let Some(s) = self.read_stat(child) {
                cpu_ticks += s.cpu_ticks;
            }
        }

        Ok(ProcessFacts {
            pid,
            ppid: stat.ppid,
            pgid: stat.pgrp,
            uid,
            user: self.users.get(uid),
            name: stat.comm,
            cmd,
            cwd,
            start_token: stat.starttime,
            started_at: self.boot_time + stat.starttime as f64 / self.ticks_per_sec,
            state: stat.state,
            tree_cpu_secs: cpu_ticks as f64 / self.ticks_per_sec,
            has_tty,
            ancestors,
        })
    }

    fn descendants(&mut self, pid: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut queue = std::collections::VecDeque::from(self.children(pid));
        while let Some(p) = queue.pop_front() {
            if out.len() >= MAX_DESCENDANTS || out.contains(&p) {
                continue;
            }
            out.push(p);
            queue.extend(self.children(p));
        }
        out
    }

    fn activity(&mut self, pid: u32) -> Activity {
        let descendants = self.live_descendants(pid);
        if !descendants.is_empty() {
            // At work through its children: no culprit to look for, no network to blame.
            return Activity {
                descendants,
                ..Activity::default()
            };
        }
        let tree: Vec<u32> = self.descendants(pid);
        Activity {
            descendants,
            peers: self.peers(pid),
            pipe_writers: self.pipe_writers(pid, &tree),
        }
    }

    fn holds(&mut self, pid: u32, key: FileKey) -> Result<bool, ProbeError> {
        if !self.has_descriptors(pid) {
            return Ok(false);
        }
        // Only the process's own descriptors count: `/proc/locks` names whoever *took* the lock,
        // which may be a dead process whose pid now belongs to someone else.
        for (fd, _) in self.fd_links(pid) {
            let Ok(text) = fs::read_to_string(self.pid_dir(pid).join("fdinfo").join(&fd)) else {
                continue;
            };
            let info = linux_parse::parse_fdinfo(&text);
            if info.ino != Some(key.ino) || !info.locks.iter().any(|l| l.ino == key.ino) {
                continue;
            }
            // Same inode number on another filesystem is another file.
            let same_dev = key.dev == 0
                || fs::metadata(self.pid_dir(pid).join("fd").join(&fd))
                    .map_or(true, |m| std::os::unix::fs::MetadataExt::dev(&m) == key.dev);
            if same_dev {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::LockMode;
    use std::os::unix::fs::{MetadataExt, symlink};

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
        fn children(&self, pid: u32, kids: &[u32]) {
            let t = self.dir.path().join(format!("{pid}/task/{pid}"));
            fs::create_dir_all(&t).unwrap();
            let list: Vec<String> = kids.iter().map(u32::to_string).collect();
            fs::write(t.join("children"), list.join(" ")).unwrap();
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
        let files = tempfile::tempdir().unwrap();
        let (cache, ino) = real_file(files.path(), "home/.package-cache");
        let fake = FakeProc::new(&format!(
            "1: FLOCK  ADVISORY  WRITE 100 fe:00:{ino} 0 EOF\n"
        ));
        fake.process(100, "flock", 'Z');
        fake.process(200, "sleep", 'S');
        fake.holding_fd(200, cache.to_str().unwrap(), ino, 100);
        let mut probe = LinuxProbe::new(fake.root()).unwrap();
        let targets = Targets {
            known: vec![(cache.clone(), LockKind::PackageCache)],
            deep_on_contention: true,
        };
        let s = probe.sightings(&targets).unwrap();
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

    /// `.package-cache` locked by pid 100, which is gone; pid 200 inherited the descriptor.
    struct DeadLocker {
        _files: tempfile::TempDir,
        fake: FakeProc,
        cache: PathBuf,
        ino: u64,
        targets: Targets,
    }

    fn dead_locker() -> DeadLocker {
        let files = tempfile::tempdir().unwrap();
        let (cache, ino) = real_file(files.path(), "home/.package-cache");
        let fake = FakeProc::new(&format!(
            "1: FLOCK  ADVISORY  WRITE 100 fe:00:{ino} 0 EOF\n"
        ));
        fake.process(200, "sleep", 'S');
        fake.holding_fd(200, cache.to_str().unwrap(), ino, 100);
        let targets = Targets {
            known: vec![(cache.clone(), LockKind::PackageCache)],
            deep_on_contention: true,
        };
        DeadLocker {
            _files: files,
            fake,
            cache,
            ino,
            targets,
        }
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
            probe.inheritors.contains_key(&d.ino),
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
        fake.process(100, "dockerd", 'S');
        fake.holding_fd(100, "/mnt/other/some.lock", ino, 100);
        let mut probe = LinuxProbe::new(fake.root()).unwrap();
        let targets = Targets {
            known: vec![(cache.clone(), LockKind::PackageCache)],
            deep_on_contention: true,
        };
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
        assert!(probe.not_cargo.contains(&(other_ino, 101)));
    }

    #[test]
    fn contended_live_locker_names_the_children_sharing_its_descriptor() {
        let files = tempfile::tempdir().unwrap();
        let (cache, ino) = real_file(files.path(), "home/.package-cache");
        let fake = FakeProc::new(&format!(
            "1: FLOCK  ADVISORY  WRITE 100 fe:00:{ino} 0 EOF\n\
             1: -> FLOCK  ADVISORY  WRITE 300 fe:00:{ino} 0 EOF\n"
        ));
        let path = cache.to_str().unwrap();
        fake.process(100, "flock", 'S');
        fake.holding_fd(100, path, ino, 100);
        fake.children(100, &[150]);
        fake.process(150, "sleep", 'S');
        fake.holding_fd(150, path, ino, 100);
        fake.process(300, "cargo", 'S');
        let mut probe = LinuxProbe::new(fake.root()).unwrap();
        let mut targets = Targets {
            known: vec![(cache.clone(), LockKind::PackageCache)],
            deep_on_contention: true,
        };
        let s = probe.sightings(&targets).unwrap();
        let pids: Vec<(u32, bool)> = s[0].holders.iter().map(|h| (h.pid, h.inherited)).collect();
        assert_eq!(pids, [(100, false), (150, true)]);
        assert_eq!(s[0].waiters[0].pid, 300);
        assert_eq!(s[0].dead_locker, None);
        targets.deep_on_contention = false;
        let s = probe.sightings(&targets).unwrap();
        assert_eq!(s[0].holders.len(), 1, "no descriptor scan unless asked");
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
        fake.process(300, "cargo", 'S');
        fake.holding_fd(300, lock.to_str().unwrap(), ino, 300);
        fake.process(301, "cargo", 'S');
        fake.holding_fd(301, kept.to_str().unwrap(), kept_ino, 301);
        let mut probe = LinuxProbe::new(fake.root()).unwrap();
        let targets = Targets::default();
        assert_eq!(probe.sightings(&targets).unwrap().len(), 2);
        assert_eq!(probe.discovered.len(), 2);
        // Both released; one project deleted (`rm -rf` of a temp checkout).
        fs::write(fake.root().join("locks"), "").unwrap();
        fs::remove_file(&lock).unwrap();
        assert!(probe.sightings(&targets).unwrap().is_empty());
        assert!(
            !probe.discovered.contains_key(&ino),
            "a deleted project is forgotten"
        );
        assert!(
            probe.discovered.contains_key(&kept_ino),
            "an existing one is kept"
        );
    }
}
