//! kqueue wake-ups for the macOS daemon: a lock file was unlocked (`NOTE_FUNLOCK`) or removed,
//! or a holder process exited (`NOTE_EXIT`), so the daemon re-checks at once instead of waiting
//! for its next poll.
//!
//! FSEvents cannot see `flock`, and kqueue cannot see a lock being *taken*, so acquisition is
//! still found by the daemon's cheap `F_GETLK` poll; this only makes releases and exits
//! immediate. One named thread blocks in `kevent`; files are watched through `O_EVTONLY`
//! descriptors, which never lock and never keep a volume busy.

use std::collections::{HashMap, HashSet};
use std::ffi::c_void;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::macos_records::{KqueueEvent, note, vnode_watch_finished};

// The pure module spells out XNU's note flags so it compiles everywhere; they must agree.
const _: () = assert!(note::NOTE_DELETE == libc::NOTE_DELETE);
const _: () = assert!(note::NOTE_RENAME == libc::NOTE_RENAME);
const _: () = assert!(note::NOTE_REVOKE == libc::NOTE_REVOKE);
const _: () = assert!(note::NOTE_FUNLOCK == libc::NOTE_FUNLOCK);

/// Vnode events that make a watched lock file worth re-checking.
const VNODE_NOTES: u32 =
    note::NOTE_FUNLOCK | note::NOTE_DELETE | note::NOTE_RENAME | note::NOTE_REVOKE;
/// Ident of the user event that wakes the thread to stop.
const WAKE_IDENT: usize = 0;
/// Events read per `kevent` call.
const BATCH: usize = 32;

/// One watched file: its `O_EVTONLY` descriptor (closing it removes the kernel's watch) and
/// the path reported in events.
struct FileWatch {
    path: PathBuf,
    _fd: OwnedFd,
}

#[derive(Default)]
struct WatchState {
    /// Watch id (the event's `udata`) → watch. Ids are never reused, so an event that was
    /// already queued for a closed descriptor cannot be blamed on a newer watch.
    files: HashMap<usize, FileWatch>,
    /// Path → watch id.
    by_path: HashMap<PathBuf, usize>,
    /// Processes watched for exit.
    pids: HashSet<u32>,
    /// Paths whose watch ended (deleted, renamed, revoked) since [`KqueueWatcher::take_ended`]
    /// was last called. Bounded by the number of watches: a watch ends once, and only a live
    /// one (an unwatched path's events are no longer matched to it).
    ended: Vec<PathBuf>,
    next_id: usize,
    stopping: bool,
}

/// Watches lock files and holder processes with kqueue on a background thread, calling back
/// with a [`KqueueEvent`] for each change.
pub struct KqueueWatcher {
    kq: Arc<OwnedFd>,
    state: Arc<Mutex<WatchState>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for KqueueWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KqueueWatcher")
            .field("kq", &self.kq.as_raw_fd())
            .finish_non_exhaustive()
    }
}

impl KqueueWatcher {
    /// Creates the kqueue and starts the `lockwatch-kqueue` thread, which calls `on_event` for
    /// every change until the watcher is dropped. `on_event` runs on that thread and should
    /// only hand the event on (e.g. send it into a channel).
    pub fn spawn(on_event: Box<dyn Fn(KqueueEvent) + Send>) -> io::Result<Self> {
        // SAFETY: kqueue takes no arguments and returns a new descriptor or -1.
        let raw = unsafe { libc::kqueue() };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a freshly created descriptor that nothing else owns.
        let kq = Arc::new(unsafe { OwnedFd::from_raw_fd(raw) });
        change(
            kq.as_raw_fd(),
            kev(
                WAKE_IDENT,
                libc::EVFILT_USER,
                libc::EV_ADD | libc::EV_CLEAR,
                0,
                0,
            ),
        )?;
        let state = Arc::new(Mutex::new(WatchState::default()));
        let thread = std::thread::Builder::new()
            .name("lockwatch-kqueue".into())
            .spawn({
                let kq = Arc::clone(&kq);
                let state = Arc::clone(&state);
                move || run(&kq, &state, on_event.as_ref())
            })?;
        Ok(KqueueWatcher {
            kq,
            state,
            thread: Some(thread),
        })
    }

    /// Reports [`KqueueEvent::LockFileChanged`] when `path` is unlocked, deleted, renamed or
    /// revoked. After a deletion or rename the watch ends; watch the path again once a new file
    /// exists there. Watching a path twice is harmless. The file is opened `O_EVTONLY`, never
    /// created.
    pub fn watch_file(&self, path: &Path) -> io::Result<()> {
        let mut state = lock(&self.state);
        if state.by_path.contains_key(path) {
            return Ok(());
        }
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_EVTONLY | libc::O_NONBLOCK)
            .open(path)?;
        let fd: OwnedFd = file.into();
        let id = state.next_id;
        state.next_id += 1;
        let ident = usize::try_from(fd.as_raw_fd())
            .map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        change(
            self.kq.as_raw_fd(),
            kev(
                ident,
                libc::EVFILT_VNODE,
                libc::EV_ADD | libc::EV_CLEAR,
                VNODE_NOTES,
                id,
            ),
        )?;
        state.by_path.insert(path.to_path_buf(), id);
        state.files.insert(
            id,
            FileWatch {
                path: path.to_path_buf(),
                _fd: fd,
            },
        );
        Ok(())
    }

    /// The paths whose watch ended (the file was deleted, renamed or revoked) since the last
    /// call: to be watched again once a file exists there.
    pub fn take_ended(&self) -> Vec<PathBuf> {
        std::mem::take(&mut lock(&self.state).ended)
    }

    /// Stops watching `path` (nothing happens when it was not watched).
    pub fn unwatch_file(&self, path: &Path) {
        let mut state = lock(&self.state);
        if let Some(id) = state.by_path.remove(path) {
            // Closing the descriptor removes its kernel watch.
            state.files.remove(&id);
        }
    }

    /// Reports [`KqueueEvent::ProcessExited`] once when `pid` exits. Fails with
    /// [`io::ErrorKind::NotFound`] when the process has already gone.
    pub fn watch_pid(&self, pid: u32) -> io::Result<()> {
        let mut state = lock(&self.state);
        if state.pids.contains(&pid) {
            return Ok(());
        }
        let ident = usize::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
        match change(
            self.kq.as_raw_fd(),
            kev(
                ident,
                libc::EVFILT_PROC,
                libc::EV_ADD | libc::EV_ONESHOT,
                libc::NOTE_EXIT,
                0,
            ),
        ) {
            Ok(()) => {
                state.pids.insert(pid);
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("process {pid} has already exited"),
            )),
            Err(e) => Err(e),
        }
    }

    /// Stops watching `pid` (nothing happens when it was not watched or has exited).
    pub fn unwatch_pid(&self, pid: u32) {
        let mut state = lock(&self.state);
        if state.pids.remove(&pid)
            && let Ok(ident) = usize::try_from(pid)
        {
            // ENOENT/ESRCH here only mean the watch already ended.
            let _ = change(
                self.kq.as_raw_fd(),
                kev(ident, libc::EVFILT_PROC, libc::EV_DELETE, 0, 0),
            );
        }
    }
}

impl Drop for KqueueWatcher {
    fn drop(&mut self) {
        lock(&self.state).stopping = true;
        let woke = change(
            self.kq.as_raw_fd(),
            kev(WAKE_IDENT, libc::EVFILT_USER, 0, libc::NOTE_TRIGGER, 0),
        );
        if let Some(thread) = self.thread.take() {
            // Joining from the callback itself would wait forever; that thread stops on its
            // own once it sees `stopping`.
            if woke.is_ok() && thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

/// Locks the state, recovering it if a callback panicked while it was held.
fn lock(state: &Mutex<WatchState>) -> MutexGuard<'_, WatchState> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Builds one `struct kevent`.
fn kev(ident: usize, filter: i16, flags: u16, fflags: u32, udata: usize) -> libc::kevent {
    libc::kevent {
        ident,
        filter,
        flags,
        fflags,
        data: 0,
        udata: std::ptr::without_provenance_mut::<c_void>(udata),
    }
}

/// Applies one change to the kqueue, returning the registration error if any.
fn change(kq: RawFd, ev: libc::kevent) -> io::Result<()> {
    // SAFETY: `ev` is one valid kevent read by the call; no events are returned (nevents 0,
    // null eventlist), and a null timeout is allowed.
    let rc = unsafe { libc::kevent(kq, &ev, 1, std::ptr::null_mut(), 0, std::ptr::null()) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The watcher thread: waits for events and reports them until told to stop.
fn run(kq: &OwnedFd, state: &Mutex<WatchState>, on_event: &(dyn Fn(KqueueEvent) + Send)) {
    let mut events = [kev(0, 0, 0, 0, 0); BATCH];
    loop {
        // SAFETY: `events` has room for BATCH kevents; no changes are passed; a null timeout
        // blocks until an event arrives.
        let n = unsafe {
            libc::kevent(
                kq.as_raw_fd(),
                std::ptr::null(),
                0,
                events.as_mut_ptr(),
                BATCH as libc::c_int,
                std::ptr::null(),
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            tracing::error!(error = %err, "kevent failed; lock-file wake-ups stop");
            return;
        }
        let n = usize::try_from(n).unwrap_or(0).min(BATCH);
        for ev in &events[..n] {
            // Copy the fields out: `struct kevent` is packed, so they cannot be borrowed.
            let (ident, filter, flags, fflags, udata, data) =
                (ev.ident, ev.filter, ev.flags, ev.fflags, ev.udata, ev.data);
            if flags & libc::EV_ERROR != 0 {
                tracing::debug!(ident, filter, errno = data, "kqueue reported an error");
                continue;
            }
            let report = match filter {
                libc::EVFILT_USER => {
                    if lock(state).stopping {
                        return;
                    }
                    None
                }
                libc::EVFILT_VNODE => {
                    let mut st = lock(state);
                    let id = udata.addr();
                    let path = st.files.get(&id).map(|w| w.path.clone());
                    if let Some(p) = &path
                        && vnode_watch_finished(fflags)
                    {
                        st.by_path.remove(p);
                        st.files.remove(&id);
                        st.ended.push(p.clone());
                    }
                    path.map(KqueueEvent::LockFileChanged)
                }
                libc::EVFILT_PROC if fflags & libc::NOTE_EXIT != 0 => {
                    let pid = u32::try_from(ident).ok();
                    if let Some(pid) = pid {
                        lock(state).pids.remove(&pid);
                    }
                    pid.map(KqueueEvent::ProcessExited)
                }
                _ => None,
            };
            if let Some(event) = report {
                on_event(event);
            }
        }
        if lock(state).stopping {
            return;
        }
    }
}
