//! The Linux probe's view of `/proc` for one pass: each process's stat, children, command line
//! and descriptor table are read at most once, and each descriptor's link and fdinfo at most
//! once, so lockers, holders, waiters, inheritors and culprits are all answered from one read.
//!
//! Reads go through one open descriptor on the procfs root with raw `openat`/`readlinkat`/
//! `getdents64`: opening a `/proc` file costs a few microseconds on its own, and the extra
//! `statx` and the final empty `read` of the standard library's helpers added a third to it.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::ffi::CString;
use std::io;
use std::ops::RangeInclusive;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::linux_parse::{self, FdInfo, KernelLock, Stat};
use crate::core::catalog;

/// How many descendants are followed from one process (a huge build has a few dozen).
pub(super) const MAX_DESCENDANTS: usize = 4096;

/// How many `/proc/PID/fd` directories a pass keeps open, so that links are read relative to
/// them (a path walk through `/proc/PID` for each link cost as much as the link itself).
const MAX_OPEN_DIRS: usize = 64;

/// A procfs mount, read relative to one open directory descriptor.
pub(super) struct Procfs {
    root: PathBuf,
    dir: OwnedFd,
    /// Buffers reused across reads: zeroing fresh ones for each process cost more than the
    /// reads themselves.
    scratch: RefCell<Scratch>,
}

struct Scratch {
    dirents: Vec<u8>,
    link: Vec<u8>,
}

/// How a read of a file ends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// One record (`stat`, `status`, `fdinfo`, `cmdline`): a read shorter than the buffer is
    /// the whole file, so the final empty read is skipped.
    Record,
    /// A table handed out a page at a time (`locks`, `children`): read until end of file.
    Table,
}

fn c_path(rel: &str) -> io::Result<CString> {
    CString::new(rel).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

impl Procfs {
    /// Opens the procfs mounted at `root`.
    pub fn open(root: PathBuf) -> io::Result<Procfs> {
        use std::os::unix::ffi::OsStrExt;
        let path = CString::new(root.as_os_str().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: `path` is NUL-terminated; the flags are plain constants.
        let fd = unsafe { libc::open(path.as_ptr(), flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let dir = unsafe { OwnedFd::from_raw_fd(fd) };
        let scratch = RefCell::new(Scratch {
            dirents: vec![0; 32 * 1024],
            link: vec![0; 4096],
        });
        Ok(Procfs { root, dir, scratch })
    }

    /// The mount point.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn open_at(&self, rel: &str, flags: libc::c_int) -> io::Result<OwnedFd> {
        let path = c_path(rel)?;
        // SAFETY: `self.dir` is an open directory descriptor and `path` is NUL-terminated.
        let fd = unsafe { libc::openat(self.dir.as_raw_fd(), path.as_ptr(), flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// The bytes of a file below the root.
    pub fn read(&self, rel: &str, shape: Shape) -> io::Result<Vec<u8>> {
        let fd = self.open_at(rel, libc::O_RDONLY | libc::O_CLOEXEC)?;
        let mut out: Vec<u8> = Vec::with_capacity(4096);
        loop {
            if out.capacity() - out.len() < 1024 {
                out.reserve(out.capacity());
            }
            let room = out.capacity() - out.len();
            // SAFETY: the spare capacity is writable for `room` bytes; `len` is raised below by
            // exactly what `read` wrote.
            let n =
                unsafe { libc::read(fd.as_raw_fd(), out.as_mut_ptr().add(out.len()).cast(), room) };
            let Ok(n) = usize::try_from(n) else {
                return Err(io::Error::last_os_error());
            };
            // SAFETY: `read` initialised `n <= room` bytes after the current length.
            unsafe { out.set_len(out.len() + n) };
            if n == 0 || (shape == Shape::Record && n < room) {
                return Ok(out);
            }
        }
    }

    /// The target of a symbolic link below the root.
    pub fn read_link(&self, rel: &str) -> io::Result<Vec<u8>> {
        self.read_link_at(self.dir.as_raw_fd(), rel)
    }

    /// The target of the symbolic link `rel` in the open directory `dir`.
    fn read_link_at(&self, dir: libc::c_int, rel: &str) -> io::Result<Vec<u8>> {
        let path = c_path(rel)?;
        let mut scratch = self.scratch.borrow_mut();
        let buf = &mut scratch.link;
        // SAFETY: `dir` is an open directory, `path` NUL-terminated, `buf` writable.
        let n = unsafe { libc::readlinkat(dir, path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        Ok(buf[..n.min(buf.len())].to_vec())
    }

    /// How many descriptors `pid` has open, by one `stat` of its `fd` directory (Linux 6.2
    /// and later; 0 before): 0 too for a process whose table this user cannot read (another
    /// user's: the kernel counts them for anyone), which no search here could read further.
    pub fn fd_count(&self, pid: u32) -> u64 {
        // SAFETY: geteuid cannot fail and has no preconditions.
        let me = unsafe { libc::geteuid() };
        self.stat_at(&format!("{pid}/fd"))
            .ok()
            .filter(|st| me == 0 || st.st_uid == me)
            .map_or(0, |st| u64::try_from(st.st_size).unwrap_or(0))
    }

    /// `stat` of an entry below the root.
    fn stat_at(&self, rel: &str) -> io::Result<libc::stat> {
        let path = c_path(rel)?;
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `self.dir` is an open directory, `path` NUL-terminated, `st` writable; it is
        // read only after `fstatat` succeeded and filled it.
        let rc = unsafe { libc::fstatat(self.dir.as_raw_fd(), path.as_ptr(), st.as_mut_ptr(), 0) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: filled by the successful call above.
        Ok(unsafe { st.assume_init() })
    }

    /// Opens a directory below the root.
    pub fn open_dir(&self, rel: &str) -> io::Result<OwnedFd> {
        self.open_at(rel, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC)
    }

    /// The numeric entries of a directory below the root (pids of `/proc`, threads of
    /// `/proc/PID/task`), in directory order.
    pub fn numbers(&self, rel: &str) -> io::Result<Vec<u32>> {
        self.list(&self.open_dir(rel)?)
    }

    /// The numeric entries of the open directory `dir`.
    pub fn list(&self, dir: &OwnedFd) -> io::Result<Vec<u32>> {
        let mut scratch = self.scratch.borrow_mut();
        let buf = &mut scratch.dirents;
        let mut out = Vec::new();
        loop {
            let got = getdents(dir, buf)?;
            dirent_numbers(&buf[..got.min(buf.len())], &mut out);
            // Every filesystem here fills the buffer while entries remain: a half-empty one
            // was the last.
            if got == 0 || got < buf.len() / 2 {
                return Ok(out);
            }
        }
    }
}

/// Where the listing of `/proc` reaches pid 0: procfs numbers a process's entry
/// `FIRST_PROCESS_ENTRY` (256) + 2 + pid (`TGID_OFFSET` in the kernel's fs/proc/base.c), so a
/// seek there lists processes from a pid on, without the ones below it.
const TGID_OFFSET: u32 = 258;

/// Bytes of a `linux_dirent64` record named by a pid (19 + up to 7 digits and a NUL, aligned).
const PID_DIRENT: usize = 32;

/// Processes read per `getdents64` by [`Procfs::pids_in`].
const PIDS_PER_READ: usize = 32;

impl Procfs {
    /// Up to `max` processes with pids in `range`, ascending, reading only their part of the
    /// `/proc` listing (see [`TGID_OFFSET`]; where entries are numbered otherwise, as in a
    /// directory standing in for procfs, from the whole listing).
    pub fn pids_in(&self, range: RangeInclusive<u32>, max: usize) -> io::Result<Vec<u32>> {
        if let Some(out) = self.pids_from_seek(&range, max)? {
            return Ok(out);
        }
        let mut out = self.numbers(".")?;
        out.retain(|p| range.contains(p));
        out.sort_unstable();
        out.truncate(max);
        Ok(out)
    }

    /// [`Procfs::pids_in`] by a seek; `None` when the listing is not numbered by pid.
    fn pids_from_seek(
        &self,
        range: &RangeInclusive<u32>,
        max: usize,
    ) -> io::Result<Option<Vec<u32>>> {
        let dir = self.open_dir(".")?;
        let at = libc::off_t::from(TGID_OFFSET) + libc::off_t::from(*range.start());
        // SAFETY: `dir` is an open directory; seeking it only moves where the listing resumes.
        if unsafe { libc::lseek(dir.as_raw_fd(), at, libc::SEEK_SET) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut scratch = self.scratch.borrow_mut();
        // A few records at a time: the listing stops at the first pid past the range, and
        // the kernel fills whatever room it is given.
        let len = max.clamp(1, PIDS_PER_READ) * PID_DIRENT;
        let buf = &mut scratch.dirents[..len];
        let mut out = Vec::new();
        loop {
            let got = getdents(&dir, buf)?;
            let mut chunk = Vec::new();
            dirents(&buf[..got.min(buf.len())], |off, pid| {
                chunk.push((off, pid))
            });
            if !numbered_by_pid(&chunk) {
                return Ok(None);
            }
            let before = out.len();
            out.extend(chunk.iter().map(|(_, pid)| *pid));
            let past_end = out[before..].iter().any(|p| p > range.end());
            out.retain(|p| range.contains(p));
            if got == 0 || past_end || out.len() >= max {
                out.truncate(max);
                return Ok(Some(out));
            }
        }
    }
}

/// Whether `(d_off, pid)` records are procfs's: each one's `d_off` is where the listing
/// resumes, the position of the next pid (see [`TGID_OFFSET`]).
fn numbered_by_pid(chunk: &[(i64, u32)]) -> bool {
    let at = |pid: u32| i64::from(TGID_OFFSET) + i64::from(pid);
    chunk.iter().all(|(off, pid)| *off > at(*pid)) && chunk.windows(2).all(|w| w[0].0 == at(w[1].1))
}

/// Reads the next `linux_dirent64` records of the open directory `dir` into `buf`; 0 at the
/// end.
fn getdents(dir: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `dir` is an open directory and `buf` is writable for its whole length.
    let got = unsafe {
        libc::syscall(
            libc::SYS_getdents64,
            dir.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    usize::try_from(got).map_err(|_| io::Error::last_os_error())
}

/// Appends the numeric names among `linux_dirent64` records.
fn dirent_numbers(buf: &[u8], out: &mut Vec<u32>) {
    dirents(buf, |_, n| out.push(n));
}

/// Calls `f(d_off, number)` for each numerically named `linux_dirent64` record in `buf`.
fn dirents(mut buf: &[u8], mut f: impl FnMut(i64, u32)) {
    // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
    while buf.len() >= 19 {
        let reclen = usize::from(u16::from_ne_bytes([buf[16], buf[17]]));
        if reclen < 19 || reclen > buf.len() {
            return;
        }
        let off = i64::from_ne_bytes(buf[8..16].try_into().unwrap_or_default());
        let name = &buf[19..reclen];
        let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())];
        if let Some(n) = std::str::from_utf8(name).ok().and_then(|s| s.parse().ok()) {
            f(off, n);
        }
        buf = &buf[reclen..];
    }
}

/// Which of a process's descriptors may be the lock being looked for, judged by link alone.
#[derive(Debug, Clone, Copy)]
pub(super) enum Pick<'a> {
    /// Files with exactly this name (the lock file's own).
    Named(&'a str),
    /// Files whose name may be a Cargo lock's (the file is not known yet).
    LockNames,
    /// Any file (a lock file reached through a symlink to it has another name).
    AnyFile,
}

impl Pick<'_> {
    fn takes(&self, link: &[u8]) -> bool {
        if link.first() != Some(&b'/') {
            return false;
        }
        let link = link.strip_suffix(b" (deleted)").unwrap_or(link);
        let name = link.rsplit(|b| *b == b'/').next().unwrap_or_default();
        match self {
            Pick::Named(n) => name == n.as_bytes(),
            Pick::LockNames => std::str::from_utf8(name).is_ok_and(catalog::could_be_lock_name),
            Pick::AnyFile => true,
        }
    }
}

/// Whether a process's descriptors could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// Listed.
    Open,
    /// Another user's process: `/proc/PID/fd` is not readable.
    Denied,
    /// Gone (or never there).
    Gone,
}

/// One descriptor, with what has been read of it.
struct Fd {
    num: u32,
    link: Option<Option<Vec<u8>>>,
    info: Option<FdInfo>,
}

/// A process's descriptor table.
struct Table {
    access: Access,
    fds: Vec<Fd>,
    /// `/proc/PID/fd`, while open (see [`MAX_OPEN_DIRS`]).
    dir: Option<OwnedFd>,
}

impl Table {
    fn read(fs: &Procfs, pid: u32) -> Table {
        let listed = fs
            .open_dir(&format!("{pid}/fd"))
            .and_then(|dir| Ok((fs.list(&dir)?, dir)));
        let (access, nums, dir) = match listed {
            Ok((nums, dir)) => (Access::Open, nums, Some(dir)),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                (Access::Denied, Vec::new(), None)
            }
            Err(_) => (Access::Gone, Vec::new(), None),
        };
        let fds = nums
            .into_iter()
            .map(|num| Fd {
                num,
                link: None,
                info: None,
            })
            .collect();
        Table { access, fds, dir }
    }
}

/// What one pass has read about one process.
#[derive(Default)]
struct Entry {
    stat: Option<Option<Stat>>,
    children: Option<Vec<u32>>,
    cmdline: Option<Vec<String>>,
    table: Option<Table>,
    fd_count: Option<u64>,
}

/// What one pass has read, by process; dropped (or cleared) when the pass ends.
#[derive(Default)]
pub(super) struct Index {
    procs: HashMap<u32, Entry>,
    pids: Option<Vec<u32>>,
    /// Processes whose table keeps its directory open, oldest first.
    open: VecDeque<u32>,
}

impl Index {
    /// Forgets everything: the next question reads afresh.
    pub fn clear(&mut self) {
        self.procs.clear();
        self.pids = None;
        self.open.clear();
    }
}

/// A descriptor on the inode asked about, as found by [`View::on_inode`].
#[derive(Debug, Clone)]
pub(super) struct OnInode {
    /// Its place in the table (for [`View::link`]).
    pub i: usize,
    /// Descriptor number.
    pub fd: u32,
    /// The granted flock it holds on the inode, if any.
    pub lock: Option<KernelLock>,
}

/// Questions about processes, answered from the pass's index (reading what is missing).
pub(super) struct View<'a> {
    pub fs: &'a Procfs,
    pub idx: &'a mut Index,
}

impl View<'_> {
    fn entry(&mut self, pid: u32) -> &mut Entry {
        self.idx.procs.entry(pid).or_default()
    }

    /// `/proc/PID/stat`, `None` when the process is gone.
    pub fn stat(&mut self, pid: u32) -> Option<Stat> {
        let fs = self.fs;
        let e = self.entry(pid);
        e.stat
            .get_or_insert_with(|| {
                let text = fs.read(&format!("{pid}/stat"), Shape::Record).ok()?;
                linux_parse::parse_stat(&String::from_utf8_lossy(&text))
            })
            .clone()
    }

    /// The process (thread group) a pid belongs to: itself, or the process of which it is a
    /// thread; `None` when it is gone.
    pub fn process_of(&self, pid: u32) -> Option<u32> {
        let text = self.fs.read(&format!("{pid}/status"), Shape::Record).ok()?;
        linux_parse::parse_status_tgid(&String::from_utf8_lossy(&text))
    }

    /// The pid the kernel handed out last in this pid namespace (`/proc/loadavg`).
    pub fn last_pid(&self) -> Option<u32> {
        let text = self.fs.read("loadavg", Shape::Record).ok()?;
        linux_parse::parse_loadavg_last_pid(&String::from_utf8_lossy(&text))
    }

    /// Up to `max` processes with pids in `range`, ascending: from the pass's listing of every
    /// process when it has one, else by reading only that part of `/proc`.
    pub fn pids_in(&mut self, range: RangeInclusive<u32>, max: usize) -> Vec<u32> {
        if let Some(all) = &self.idx.pids {
            let mut out: Vec<u32> = all.iter().copied().filter(|p| range.contains(p)).collect();
            out.sort_unstable();
            out.truncate(max);
            return out;
        }
        self.fs.pids_in(range, max).unwrap_or_default()
    }

    /// The highest pid the kernel hands out (`/proc/sys/kernel/pid_max`; its limit when
    /// unreadable).
    pub fn pid_max(&self) -> u32 {
        const PID_MAX_LIMIT: u32 = 4 * 1024 * 1024;
        self.fs
            .read("sys/kernel/pid_max", Shape::Record)
            .ok()
            .and_then(|b| String::from_utf8_lossy(&b).trim().parse().ok())
            .unwrap_or(PID_MAX_LIMIT)
    }

    /// `pid`'s stat if this pass has read it already (never reads).
    pub fn stat_read(&self, pid: u32) -> Option<&Stat> {
        self.idx.procs.get(&pid)?.stat.as_ref()?.as_ref()
    }

    /// Whether `pid` has a descriptor table (exists and is not a zombie).
    pub fn has_descriptors(&mut self, pid: u32) -> bool {
        self.stat(pid)
            .is_some_and(|s| s.state != crate::core::model::ProcState::Zombie)
    }

    /// Direct children of every thread of `pid`.
    pub fn children(&mut self, pid: u32) -> Vec<u32> {
        let fs = self.fs;
        let e = self.entry(pid);
        e.children
            .get_or_insert_with(|| read_children(fs, pid))
            .clone()
    }

    /// Live descendants of `pid`, children before grandchildren.
    pub fn descendants(&mut self, pid: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut queue = std::collections::VecDeque::from(self.children(pid));
        while let Some(p) = queue.pop_front() {
            if out.len() >= MAX_DESCENDANTS || !seen.insert(p) {
                continue;
            }
            out.push(p);
            queue.extend(self.children(p));
        }
        out
    }

    /// The command line of `pid` (empty for kernel threads and the gone).
    pub fn cmdline(&mut self, pid: u32) -> Vec<String> {
        let fs = self.fs;
        let e = self.entry(pid);
        e.cmdline
            .get_or_insert_with(|| {
                fs.read(&format!("{pid}/cmdline"), Shape::Record)
                    .map(|b| linux_parse::parse_cmdline(&b))
                    .unwrap_or_default()
            })
            .clone()
    }

    /// Every visible process id, in `/proc` order (ascending).
    pub fn pids(&mut self) -> Vec<u32> {
        let fs = self.fs;
        self.idx
            .pids
            .get_or_insert_with(|| fs.numbers(".").unwrap_or_default())
            .clone()
    }

    fn table(&mut self, pid: u32) -> &mut Table {
        if self.idx.procs.get(&pid).is_none_or(|e| e.table.is_none()) {
            let table = Table::read(self.fs, pid);
            if table.dir.is_some() {
                self.keep_open(pid);
            }
            self.entry(pid).table = Some(table);
        }
        self.entry(pid).table.get_or_insert_with(|| Table {
            access: Access::Gone,
            fds: Vec::new(),
            dir: None,
        })
    }

    /// Notes that `pid`'s table holds its directory open, closing the oldest beyond the cap.
    fn keep_open(&mut self, pid: u32) {
        self.idx.open.push_back(pid);
        if self.idx.open.len() > MAX_OPEN_DIRS
            && let Some(old) = self.idx.open.pop_front()
            && let Some(t) = self.idx.procs.get_mut(&old).and_then(|e| e.table.as_mut())
        {
            t.dir = None;
        }
    }

    /// Whether `pid`'s descriptors can be read, and how many it has.
    pub fn access(&mut self, pid: u32) -> (Access, usize) {
        let t = self.table(pid);
        (t.access, t.fds.len())
    }

    /// The link of the `i`th descriptor of `pid` (`None` if it closed meanwhile).
    pub fn link(&mut self, pid: u32, i: usize) -> Option<&[u8]> {
        let fs = self.fs;
        let table = self.table(pid);
        let dir = table.dir.as_ref().map(AsRawFd::as_raw_fd);
        let fd = table.fds.get_mut(i)?;
        let num = fd.num;
        fd.link
            .get_or_insert_with(|| {
                match dir {
                    Some(dir) => fs.read_link_at(dir, &num.to_string()),
                    None => fs.read_link(&format!("{pid}/fd/{num}")),
                }
                .ok()
            })
            .as_deref()
    }

    /// The number and fdinfo of the `i`th descriptor of `pid`.
    pub fn info(&mut self, pid: u32, i: usize) -> Option<(u32, &FdInfo)> {
        let fs = self.fs;
        let fd = self.table(pid).fds.get_mut(i)?;
        let num = fd.num;
        let info = fd.info.get_or_insert_with(|| {
            fs.read(&format!("{pid}/fdinfo/{num}"), Shape::Record)
                .map(|t| linux_parse::parse_fdinfo(&String::from_utf8_lossy(&t)))
                .unwrap_or_default()
        });
        Some((num, info))
    }

    /// `pid`'s descriptors on inode `ino` among those `pick` takes: descriptor number and the
    /// flock it holds on that inode, if any. Links are read one by one and fdinfo only of
    /// picked descriptors, and the reading stops at the first one holding a lock there.
    pub fn on_inode(&mut self, pid: u32, ino: u64, pick: Pick) -> Vec<OnInode> {
        let mut out = Vec::new();
        let (_, n) = self.access(pid);
        for i in 0..n {
            if !self.link(pid, i).is_some_and(|l| pick.takes(l)) {
                continue;
            }
            let Some((num, info)) = self.info(pid, i) else {
                continue;
            };
            if info.ino != Some(ino) {
                continue;
            }
            let lock = info.locks.iter().find(|l| l.ino == ino).cloned();
            let held = lock.is_some();
            out.push(OnInode { i, fd: num, lock });
            if held {
                break;
            }
        }
        out
    }

    /// The granted flock `pid` holds on inode `ino` through a descriptor `pick` takes.
    pub fn find_lock(&mut self, pid: u32, ino: u64, pick: Pick) -> Option<KernelLock> {
        self.on_inode(pid, ino, pick)
            .into_iter()
            .find_map(|o| o.lock)
    }

    /// Device of the file open as descriptor `fd` of `pid` (follows the link: only asked of a
    /// descriptor already known to hold the lock).
    pub fn fd_dev(&self, pid: u32, fd: u32) -> Option<u64> {
        let path = self.fs.root().join(format!("{pid}/fd/{fd}"));
        std::fs::metadata(path)
            .ok()
            .map(|m| std::os::unix::fs::MetadataExt::dev(&m))
    }
}

/// Below this many processes a scan runs on the calling thread: starting workers would cost
/// more than it saves.
const PARALLEL_FROM: usize = 64;

/// The cores this process may run on, asked once: the standard library reads the cgroup's
/// quota files on every call, a dozen files per search that scans in runs.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

impl View<'_> {
    /// `ask` of each of `pids`, in their order, read on every core at once when there are
    /// many: a scan of thousands of processes is bound by system calls, which run in parallel.
    /// Each worker reads through its own procfs descriptor into its own index, which is
    /// dropped: what is asked here must be all that is kept (few are asked again).
    pub fn par_map<T: Send>(
        &mut self,
        pids: &[u32],
        ask: impl Fn(&mut View, u32) -> T + Sync,
    ) -> Vec<T> {
        let cores = cores();
        let workers = cores.min(pids.len() / PARALLEL_FROM).max(1);
        if workers == 1 {
            return pids.iter().map(|p| ask(self, *p)).collect();
        }
        let root = self.fs.root();
        let chunks: Vec<&[u32]> = pids.chunks(pids.len().div_ceil(workers)).collect();
        let answers: Vec<Option<Vec<T>>> = std::thread::scope(|s| {
            let ask = &ask;
            let running: Vec<_> = (chunks.iter())
                .map(|chunk| s.spawn(move || ask_apart(root, chunk, ask)))
                .collect();
            running
                .into_iter()
                .map(|w| w.join().ok().flatten())
                .collect()
        });
        let mut out = Vec::with_capacity(pids.len());
        for (chunk, answer) in chunks.iter().zip(answers) {
            // A worker that could not open procfs (or failed) leaves its share to this thread.
            match answer {
                Some(answer) => out.extend(answer),
                None => out.extend(chunk.iter().map(|p| ask(self, *p))),
            }
        }
        out
    }

    /// `ask` of `pids` in their order until one answers, for a search where any answer will
    /// do: the pids of a run that answer, with their answers, in the order of `pids`; and how
    /// many of `pids`, from the first, were asked (every run a thread takes is asked whole, and
    /// runs are taken in order). Every core takes short runs of the list from a shared cursor
    /// and stops once any run has answered, so the reading ends a run or so past the first
    /// answer however far down the list it is (a holder half-way through 2,000 processes costs
    /// half of them).
    pub fn par_find<T: Send>(
        &mut self,
        pids: &[u32],
        ask: impl Fn(&mut View, u32) -> Option<T> + Sync,
    ) -> (Vec<(u32, T)>, usize) {
        let cores = cores();
        let helpers = cores.min(pids.len() / PARALLEL_FROM).saturating_sub(1);
        let hunt = Hunt::new(pids);
        let root = self.fs.root().to_path_buf();
        let mut found = std::thread::scope(|s| {
            let (ask, hunt, root) = (&ask, &hunt, &root);
            let running: Vec<_> = (0..helpers)
                .map(|_| s.spawn(move || hunt_apart(root, hunt, ask)))
                .collect();
            // This thread hunts too: a helper that cannot open procfs leaves the list to it.
            let mut found = hunt.run(self, ask);
            for h in running {
                found.extend(h.join().unwrap_or_default());
            }
            found
        });
        found.sort_by_key(|(at, _, _)| *at);
        let asked = hunt.next.into_inner().min(pids.len());
        (
            found.into_iter().map(|(_, pid, t)| (pid, t)).collect(),
            asked,
        )
    }

    /// How many descriptors each of `pids` holds, in their order (see [`Procfs::fd_count`]: a
    /// third of the cost of reading a process's stat), on every core when there are many,
    /// kept for the pass. 0 for a process gone, not this user's to read, or a kernel thread,
    /// and for everyone before Linux 6.2.
    pub fn fd_counts(&mut self, pids: &[u32]) -> Vec<u64> {
        let unread: Vec<u32> = (pids.iter().copied())
            .filter(|p| self.idx.procs.get(p).is_none_or(|e| e.fd_count.is_none()))
            .collect();
        let counts = self.par_map(&unread, |w, p| w.fs.fd_count(p));
        for (pid, count) in unread.into_iter().zip(counts) {
            self.entry(pid).fd_count = Some(count);
        }
        (pids.iter())
            .map(|p| self.idx.procs.get(p).and_then(|e| e.fd_count).unwrap_or(0))
            .collect()
    }

    /// Reads the stat of each of `pids` not read yet, on every core when there are many.
    pub fn read_stats(&mut self, pids: &[u32]) {
        let unread: Vec<u32> = (pids.iter().copied())
            .filter(|p| self.idx.procs.get(p).is_none_or(|e| e.stat.is_none()))
            .collect();
        let stats = self.par_map(&unread, |w, pid| w.stat(pid));
        for (pid, stat) in unread.into_iter().zip(stats) {
            self.entry(pid).stat = Some(stat);
        }
    }
}

/// A list of pids shared by the threads of [`View::par_find`].
struct Hunt<'a> {
    pids: &'a [u32],
    /// The start of the next run nobody has taken.
    next: std::sync::atomic::AtomicUsize,
    /// Whether some run has answered.
    done: std::sync::atomic::AtomicBool,
}

impl<'a> Hunt<'a> {
    /// Pids a thread takes at once: short, so that the others stop soon after an answer.
    const RUN: usize = 8;

    fn new(pids: &'a [u32]) -> Self {
        Hunt {
            pids,
            next: 0.into(),
            done: false.into(),
        }
    }

    /// Takes runs until the list ends or some thread has an answer: (place in the list, pid,
    /// answer) of each pid that answered.
    fn run<T>(
        &self,
        v: &mut View,
        ask: &impl Fn(&mut View, u32) -> Option<T>,
    ) -> Vec<(usize, u32, T)> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut found = Vec::new();
        while !self.done.load(Relaxed) {
            let start = self.next.fetch_add(Self::RUN, Relaxed);
            let Some(run) = self
                .pids
                .get(start..(start + Self::RUN).min(self.pids.len()))
            else {
                break;
            };
            for (i, pid) in run.iter().enumerate() {
                found.extend(ask(v, *pid).map(|t| (start + i, *pid, t)));
            }
            if !found.is_empty() {
                self.done.store(true, Relaxed);
            }
        }
        found
    }
}

/// One helper of [`View::par_find`]; nothing when procfs cannot be opened again.
fn hunt_apart<T>(
    root: &Path,
    hunt: &Hunt,
    ask: &impl Fn(&mut View, u32) -> Option<T>,
) -> Vec<(usize, u32, T)> {
    let Ok(fs) = Procfs::open(root.to_path_buf()) else {
        return Vec::new();
    };
    let mut idx = Index::default();
    let mut v = View {
        fs: &fs,
        idx: &mut idx,
    };
    hunt.run(&mut v, ask)
}

/// One worker of [`View::par_map`]; `None` when procfs cannot be opened again.
fn ask_apart<T>(root: &Path, pids: &[u32], ask: &impl Fn(&mut View, u32) -> T) -> Option<Vec<T>> {
    let fs = Procfs::open(root.to_path_buf()).ok()?;
    let mut idx = Index::default();
    let mut v = View {
        fs: &fs,
        idx: &mut idx,
    };
    Some(pids.iter().map(|p| ask(&mut v, *p)).collect())
}

fn read_children(fs: &Procfs, pid: u32) -> Vec<u32> {
    let mut kids = Vec::new();
    for tid in fs.numbers(&format!("{pid}/task")).unwrap_or_default() {
        if let Ok(text) = fs.read(&format!("{pid}/task/{tid}/children"), Shape::Table) {
            kids.extend(
                String::from_utf8_lossy(&text)
                    .split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    kids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_proc_lists_a_range_of_pids_by_seeking_and_names_a_thread_s_process() {
        let fs = Procfs::open(PathBuf::from("/proc")).unwrap();
        let mut kids: Vec<std::process::Child> = (0..3)
            .map(|_| {
                std::process::Command::new("sleep")
                    .arg("30")
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut pids: Vec<u32> = kids.iter().map(std::process::Child::id).collect();
        pids.sort_unstable();
        let (lo, hi) = (pids[0], pids[2]);
        let listed = fs.pids_from_seek(&(lo..=hi), usize::MAX).unwrap();
        let listed = listed.expect("procfs numbers its listing by pid");
        assert!(
            pids.iter().all(|p| listed.contains(p)),
            "{listed:?} {pids:?}"
        );
        assert!(listed.is_sorted() && listed.iter().all(|p| (lo..=hi).contains(p)));
        assert_eq!(fs.pids_in(lo..=hi, 1).unwrap(), [lo]);
        assert_eq!(fs.pids_in(hi..=hi, 5).unwrap(), [hi]);
        assert!(fs.pids_in(hi + 1..=hi, 5).unwrap().is_empty());
        // A thread's id opens its process's directory; `process_of` names the process.
        let mut idx = Index::default();
        let v = View {
            fs: &fs,
            idx: &mut idx,
        };
        let me = std::process::id();
        let (tid, process) = std::thread::scope(|s| {
            let (tid_tx, tid_rx) = std::sync::mpsc::channel();
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            s.spawn(move || {
                // SAFETY: gettid has no preconditions.
                tid_tx
                    .send(unsafe { libc::gettid() }.cast_unsigned())
                    .unwrap();
                let _ = done_rx.recv();
            });
            let tid = tid_rx.recv().unwrap();
            let process = v.process_of(tid);
            done_tx.send(()).unwrap();
            (tid, process)
        });
        assert_ne!(tid, me);
        assert_eq!(process, Some(me), "thread {tid} belongs to {me}");
        assert_eq!(v.process_of(me), Some(me));
        assert!(v.last_pid().is_some_and(|l| l > 0));
        for k in &mut kids {
            k.kill().unwrap();
            k.wait().unwrap();
        }
    }

    #[test]
    fn a_hunt_stops_soon_after_the_first_answer_and_reads_the_whole_list_when_none_does() {
        let fs = Procfs::open(PathBuf::from("/proc")).unwrap();
        let mut idx = Index::default();
        let mut v = View {
            fs: &fs,
            idx: &mut idx,
        };
        let pids: Vec<u32> = (1..=4_000).collect();
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let ask = |target: u32| {
            let asked = &asked;
            move |_: &mut View, pid: u32| {
                asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (pid % 1_000 == target).then_some(pid * 2)
            }
        };
        // 500 is answered first; 1,500 and later are never reached.
        let (found, _) = v.par_find(&pids, ask(500));
        let reads = asked.swap(0, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(found.first(), Some(&(500, 1_000)), "{found:?}");
        assert!(found.iter().all(|(pid, _)| *pid < 1_500), "{found:?}");
        assert!(reads < 1_000, "{reads} of 4,000 read for an answer at 500");
        // Nothing answers: every pid is asked once.
        assert!(v.par_find(&pids, ask(5_000)).0.is_empty());
        assert_eq!(asked.load(std::sync::atomic::Ordering::Relaxed), 4_000);
        assert!(v.par_find(&[], ask(0)).0.is_empty());
        // The count says how many were asked, from the first.
        asked.store(0, std::sync::atomic::Ordering::Relaxed);
        let (found, counted) = v.par_find(&pids, ask(500));
        let reads = asked.swap(0, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(found.first(), Some(&(500, 1_000)));
        assert_eq!(counted, reads, "every pid asked is counted, once");
        assert!(counted > 500);
    }

    #[test]
    fn only_a_listing_numbered_by_pid_is_seeked() {
        // procfs: each record says where the listing resumes, the next pid's position.
        let at = |pid: i64| i64::from(TGID_OFFSET) + pid;
        assert!(numbered_by_pid(&[
            (at(107), 100),
            (at(230), 107),
            (at(231), 230)
        ]));
        assert!(numbered_by_pid(&[]));
        // A plain directory (tmpfs, ext4) numbers its records otherwise.
        assert!(!numbered_by_pid(&[(3, 100), (4, 107)]));
        assert!(!numbered_by_pid(&[
            (at(107), 100),
            (at(300), 107),
            (at(231), 230)
        ]));
    }

    #[test]
    fn real_proc_lists_this_process_and_its_descriptors_once() {
        let fs = Procfs::open(PathBuf::from("/proc")).unwrap();
        let me = std::process::id();
        let mut idx = Index::default();
        let mut v = View {
            fs: &fs,
            idx: &mut idx,
        };
        assert!(v.pids().contains(&me));
        let file = tempfile::NamedTempFile::new().unwrap();
        let name = file
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let ino = std::os::unix::fs::MetadataExt::ino(&file.as_file().metadata().unwrap());
        let on = v.on_inode(me, ino, Pick::Named(&name));
        assert_eq!(on.len(), 1, "the temp file is open once");
        assert!(on[0].lock.is_none(), "not locked");
        assert!(!v.stat(me).unwrap().comm.is_empty());
        // A file opened after the table was read is not in this pass's answer.
        let later = tempfile::NamedTempFile::new().unwrap();
        let later_name = later
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let later_ino = std::os::unix::fs::MetadataExt::ino(&later.as_file().metadata().unwrap());
        assert!(
            v.on_inode(me, later_ino, Pick::Named(&later_name))
                .is_empty()
        );
        v.idx.clear();
        assert_eq!(v.on_inode(me, later_ino, Pick::Named(&later_name)).len(), 1);
    }

    #[test]
    fn dirents_yield_numbers_only() {
        let mut buf = Vec::new();
        for name in ["1", "self", "42", "."] {
            let mut rec = vec![0u8; 19];
            rec.extend_from_slice(name.as_bytes());
            rec.push(0);
            while !rec.len().is_multiple_of(8) {
                rec.push(0);
            }
            let len = u16::try_from(rec.len()).unwrap().to_ne_bytes();
            rec[16] = len[0];
            rec[17] = len[1];
            buf.extend_from_slice(&rec);
        }
        let mut out = Vec::new();
        dirent_numbers(&buf, &mut out);
        assert_eq!(out, [1, 42]);
    }

    #[test]
    fn picks_judge_links_by_file_name() {
        let lock = b"/h/.cargo/.package-cache".as_slice();
        assert!(Pick::Named(".package-cache").takes(lock));
        assert!(Pick::Named(".package-cache").takes(b"/h/.package-cache (deleted)"));
        assert!(!Pick::Named(".package-cache").takes(b"/h/.package-cache-mutate"));
        assert!(Pick::LockNames.takes(b"/p/target/debug/.cargo-lock"));
        assert!(!Pick::LockNames.takes(b"/usr/lib/libc.so.6"));
        assert!(Pick::AnyFile.takes(b"/dev/null"));
        assert!(!Pick::AnyFile.takes(b"pipe:[123]"));
    }
}
