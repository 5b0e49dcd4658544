//! The watcher's OS side on Linux: inotify, read by a task on the runtime's reactor (no thread
//! of its own), asking the kernel only for the events that are used: on a lock file its opens,
//! closes and removal; on a domain directory the writes in it. Not the opens of directories:
//! anyone listing a target directory (an IDE, `ls`, another daemon) would wake this one, and
//! not the reads of files, which a build does by the thousand.

use std::collections::{HashMap, HashSet};
use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc::UnboundedSender;

use super::{Role, Routes, Throttle, Wake};

/// On a lock file: opened (a locker or waiter arrives), closed (one leaves, also after reading
/// only), attributes changed or removed.
const LOCK_FILE_MASK: u32 = libc::IN_OPEN
    | libc::IN_CLOSE_WRITE
    | libc::IN_CLOSE_NOWRITE
    | libc::IN_ATTRIB
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF;

/// On a domain directory: what is written, made, moved or removed in it.
const DOMAIN_MASK: u32 = libc::IN_CREATE
    | libc::IN_MODIFY
    | libc::IN_CLOSE_WRITE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR
    | libc::IN_EXCL_UNLINK;

/// Watch descriptor → what it watches, shared with the reading task.
type Watches = Arc<Mutex<HashMap<i32, (PathBuf, Role)>>>;

/// An inotify instance and the task reading it.
pub(super) struct Backend {
    fd: Arc<AsyncFd<OwnedFd>>,
    wds: Watches,
    by_path: HashMap<PathBuf, i32>,
    reader: tokio::task::JoinHandle<()>,
    /// Raw events read so far (what the kernel woke the daemon for).
    #[cfg_attr(not(test), allow(dead_code, reason = "read by the tests only"))]
    events: Arc<AtomicU64>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Backend {
    /// Starts inotify and its reading task; events are routed through `routes`, watches the
    /// kernel dropped (file removed) noted in `lost`.
    pub fn start(
        tx: UnboundedSender<Wake>,
        routes: Arc<Mutex<Routes>>,
        lost: Arc<Mutex<HashSet<PathBuf>>>,
    ) -> io::Result<Backend> {
        // SAFETY: inotify_init1 takes plain flags and returns a new descriptor or -1.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` was just created and is owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        let interest = tokio::io::Interest::READABLE;
        // SAFETY: an `OwnedFd` is an open descriptor whose `as_raw_fd` never changes, and it
        // stays open until the `AsyncFd` owning it is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(owned, interest) }?;
        let fd = Arc::new(fd);
        let wds: Watches = Arc::default();
        let events = Arc::new(AtomicU64::new(0));
        let reading = Reader {
            fd: Arc::clone(&fd),
            wds: Arc::clone(&wds),
            routes,
            lost,
            tx,
            throttle: Throttle::default(),
            events: Arc::clone(&events),
        };
        let reader = tokio::spawn(reading.run());
        Ok(Backend {
            fd,
            wds,
            by_path: HashMap::new(),
            reader,
            events,
        })
    }

    /// Watches one path for what its role needs.
    pub fn watch(&mut self, path: &Path, role: Role) -> Result<(), String> {
        let mask = match role {
            Role::LockFile => LOCK_FILE_MASK,
            Role::Domain => DOMAIN_MASK,
        };
        let c = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: the descriptor is an inotify instance and `c` is NUL-terminated.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), mask) };
        if wd < 0 {
            let e = io::Error::last_os_error();
            return Err(if e.raw_os_error() == Some(libc::ENOSPC) {
                "too many inotify watches (raise fs.inotify.max_user_watches)".to_string()
            } else {
                e.to_string()
            });
        }
        let mut wds = self.wds.lock().unwrap_or_else(|p| p.into_inner());
        wds.insert(wd, (path.to_path_buf(), role));
        self.by_path.insert(path.to_path_buf(), wd);
        Ok(())
    }

    /// Stops watching one path.
    pub fn unwatch(&mut self, path: &Path) {
        let Some(wd) = self.by_path.remove(path) else {
            return;
        };
        self.wds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&wd);
        // SAFETY: the descriptor is an inotify instance; a stale `wd` only gets EINVAL.
        unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), wd) };
    }

    /// Raw events read so far.
    #[cfg(test)]
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }
}

/// The reading task's state.
struct Reader {
    fd: Arc<AsyncFd<OwnedFd>>,
    wds: Watches,
    routes: Arc<Mutex<Routes>>,
    lost: Arc<Mutex<HashSet<PathBuf>>>,
    tx: UnboundedSender<Wake>,
    throttle: Throttle,
    events: Arc<AtomicU64>,
}

impl Reader {
    async fn run(mut self) {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let Ok(mut ready) = self.fd.readable().await else {
                return;
            };
            // SAFETY: the descriptor is an inotify instance and `buf` is writable.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(n) = usize::try_from(n) else {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock {
                    ready.clear_ready();
                    continue;
                }
                let _ = self.tx.send(Wake::Failed(format!("inotify: {e}")));
                return;
            };
            for event in parse(&buf[..n.min(buf.len())]) {
                self.events.fetch_add(1, Ordering::Relaxed);
                self.route(&event);
            }
        }
    }

    /// A lock file's event wakes a pass; a write in a domain directory is its locks' activity.
    fn route(&mut self, e: &Event) {
        if e.mask & libc::IN_Q_OVERFLOW != 0 {
            let _ = self.tx.send(Wake::Overflow);
            return;
        }
        let mut wds = self.wds.lock().unwrap_or_else(|p| p.into_inner());
        let Some((path, role)) = wds.get(&e.wd).cloned() else {
            return;
        };
        if e.mask & libc::IN_IGNORED != 0 {
            // The kernel dropped the watch (the file or directory went away).
            wds.remove(&e.wd);
            drop(wds);
            let mut lost = self.lost.lock().unwrap_or_else(|p| p.into_inner());
            lost.insert(path);
            return;
        }
        drop(wds);
        match (role, &e.name) {
            (Role::LockFile, _) => {
                let _ = self.tx.send(Wake::LockFile(path));
            }
            (Role::Domain, Some(name)) => {
                let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
                let entry = path.join(name);
                if routes.is_expected(&entry) {
                    if e.mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 {
                        let _ = self.tx.send(Wake::LockFile(entry));
                    }
                    return;
                }
                // A lock file in its own domain speaks through its own watch.
                if routes.is_lock_file(&entry) {
                    return;
                }
                if let Some(keys) = routes.domains.get(&path) {
                    self.throttle.activity(keys, &self.tx);
                }
            }
            (Role::Domain, None) => {}
        }
    }
}

/// One `struct inotify_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    wd: i32,
    mask: u32,
    /// The entry of a watched directory the event is about.
    name: Option<OsString>,
}

/// Parses the events in one read of an inotify descriptor.
fn parse(mut buf: &[u8]) -> Vec<Event> {
    // struct inotify_event { int wd; uint32_t mask; uint32_t cookie; uint32_t len; char name[]; }
    let word = |b: &[u8], at: usize| -> [u8; 4] { [b[at], b[at + 1], b[at + 2], b[at + 3]] };
    let mut out = Vec::new();
    while buf.len() >= 16 {
        let wd = i32::from_ne_bytes(word(buf, 0));
        let mask = u32::from_ne_bytes(word(buf, 4));
        let len = u32::from_ne_bytes(word(buf, 12)) as usize;
        let Some(raw) = buf.get(16..16 + len) else {
            break;
        };
        let name = &raw[..raw.iter().position(|b| *b == 0).unwrap_or(raw.len())];
        out.push(Event {
            wd,
            mask,
            name: (!name.is_empty()).then(|| OsString::from_vec(name.to_vec())),
        });
        buf = &buf[16 + len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(wd: i32, mask: u32, name: &str) -> Vec<u8> {
        let mut name = name.as_bytes().to_vec();
        if !name.is_empty() {
            name.resize(name.len().next_multiple_of(16), 0);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&wd.to_ne_bytes());
        out.extend_from_slice(&mask.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&(name.len() as u32).to_ne_bytes());
        out.extend_from_slice(&name);
        out
    }

    #[test]
    fn parses_events_with_and_without_names() {
        let mut buf = raw(1, libc::IN_OPEN, "");
        buf.extend(raw(2, libc::IN_CREATE, "x.rlib"));
        buf.extend(raw(2, libc::IN_IGNORED, ""));
        let events = parse(&buf);
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].name, None);
        assert_eq!(events[1].name, Some(OsString::from("x.rlib")));
        assert_eq!(events[2].mask, libc::IN_IGNORED);
        assert!(parse(&buf[..20]).len() == 1, "a cut event is left out");
    }
}
