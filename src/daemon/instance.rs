//! One daemon per user: an exclusive `flock` on a pid file in the private runtime directory,
//! held for the daemon's life (released by the kernel even after a crash, so it is never stale).
//! A second daemon is not an error: it says where the running one is and exits 0, so a service
//! manager that restarts on failure does not loop.
//!
//! The runtime directory can differ between two sessions of one user (a desktop's
//! `/run/user/UID` and a shell without `XDG_RUNTIME_DIR`) while the data directory is the same:
//! a second lock, [`HistoryLock`] on `history.lock` beside the history, keeps a second daemon
//! from writing every event into that history twice. It exits 0 the same way, saying which
//! daemon owns the history and how to stop it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use thiserror::Error;

use super::trust;

/// The pid file in the private runtime directory, locked for the daemon's life.
pub const PID_FILE: &str = "daemon.pid";

/// How long a second daemon waits for the first one to write its pid (they may start together).
const PID_WAIT: Duration = Duration::from_secs(2);

/// The held instance lock; dropping it releases the lock. A daemon that never started (refused
/// after taking it) removes its pid file then, leaving no pid of a process that did not run
/// behind (review Y, Y6); one that started leaves its pid file, as a crashed one would.
#[derive(Debug)]
pub struct InstanceLock {
    file: File,
    path: PathBuf,
    dir: PathBuf,
    started: bool,
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        // Still locked here: the file is unlinked before the lock goes with the descriptor.
        if !self.started && locks_the_file_at(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether `file` (opened, and locked, by us) is still the file at `path`: a daemon that gave up
/// may have removed the one we opened before we locked it.
fn locks_the_file_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(ours), Ok(there)) => ours.dev() == there.dev() && ours.ino() == there.ino(),
        _ => false,
    }
}

/// Another daemon already runs for this user: not a failure, nothing to do.
#[derive(Debug, Clone, Error)]
#[error(
    "a lockwatch daemon is already running ({}, socket {}); nothing to do. Stop it with `cargo lockwatch daemon --stop`",
    match .pid { Some(p) => format!("pid {p}"), None => "pid not written yet: it is starting".to_string() },
    .socket.display()
)]
pub struct AlreadyRunning {
    /// Its pid, when it has written it.
    pub pid: Option<u32>,
    /// Its socket.
    pub socket: PathBuf,
}

/// Reads a pid file's text: a pid, or None while it is empty (being written) or garbage.
pub fn parse_pid(text: &str) -> Option<u32> {
    text.trim().parse().ok().filter(|p| *p > 0)
}

/// Opens (creating it readable by this user only) a lock file of the daemon's own, never
/// through a symlink planted in its place, never inherited by a child; `flags` adds to that.
fn open_private(path: &Path, flags: libc::c_int) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | flags)
        .open(path)
}

impl InstanceLock {
    /// Makes the private runtime directory for `runtime_base` and takes the lock there, or
    /// says which daemon already runs ([`AlreadyRunning`] inside the error).
    pub fn acquire(runtime_base: &Path) -> anyhow::Result<InstanceLock> {
        let dir = trust::ensure_private(runtime_base)?;
        let path = dir.join(PID_FILE);
        // A daemon that gave up removes its pid file: the one we locked may be gone, so the
        // lock is taken again on the file there now (a few tries: it is not removed twice
        // without another daemon giving up each time).
        let mut tries = 0;
        let (mut file, rc) = loop {
            let file = open_private(&path, 0).map_err(|e| open_error(&path, &e))?;
            // SAFETY: flock on a descriptor we own; LOCK_NB makes it return at once.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            tries += 1;
            if rc != 0 || locks_the_file_at(&file, &path) || tries == 5 {
                break (file, rc);
            }
        };
        if rc != 0 {
            // The winner writes its pid right after locking: give it a moment. Until it has,
            // the file may still hold the pid of a daemon that ran before: only the pid of the
            // process holding the lock is the winner's.
            let deadline = Instant::now() + PID_WAIT;
            let pid = loop {
                if let Some(p) = live_pid(&dir) {
                    break Some(p);
                }
                if Instant::now() >= deadline {
                    let mut text = String::new();
                    let _ = file.rewind();
                    let _ = file.read_to_string(&mut text);
                    break parse_pid(&text);
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            return Err(AlreadyRunning {
                pid,
                socket: dir.join(super::SOCKET_NAME),
            }
            .into());
        }
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", std::process::id())?;
        Ok(InstanceLock {
            file,
            path,
            dir,
            started: false,
        })
    }

    /// The daemon started: its pid file stays when the lock is let go.
    pub fn started(&mut self) {
        self.started = true;
    }

    /// The pid file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The private directory the socket goes in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The pid written in the pid file in `dir` (the socket's directory), if any. A symlink there is
/// not followed.
pub fn read_pid(dir: &Path) -> Option<u32> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(dir.join(PID_FILE))
        .ok()?;
    let mut text = String::new();
    // A pid and a newline; anything longer is not a pid file.
    (&mut file).take(32).read_to_string(&mut text).ok()?;
    parse_pid(&text)
}

/// The pid in the pid file in `dir` when that process holds the file's lock, as the daemon
/// does for its whole life: a live daemon's pid, never a stale or reused one.
pub fn live_pid(dir: &Path) -> Option<u32> {
    let pid = read_pid(dir)?;
    let key = crate::probe::file_key(&dir.join(PID_FILE))?;
    let mut probe = crate::probe::platform().ok()?;
    probe.holds(pid, key).unwrap_or(false).then_some(pid)
}

/// Asks the daemon whose pid file is in `dir` to exit (SIGTERM: it removes its socket and
/// quits cleanly; then SIGCONT, which a stopped one needs to act on it) without a socket
/// request, for a daemon too busy to take one or stopped. The pid is
/// believed only while that process holds the pid file's lock, which the daemon holds for its
/// whole life; on Linux the signal goes through a pidfd opened before that check, so a pid
/// reused meanwhile never receives it (elsewhere the check runs right before `kill(2)`).
pub fn terminate(dir: &Path) -> Result<u32, String> {
    let path = dir.join(PID_FILE);
    let pid = read_pid(dir).ok_or_else(|| format!("no daemon pid in {}", path.display()))?;
    let key = crate::probe::file_key(&path)
        .ok_or_else(|| format!("cannot examine {}", path.display()))?;
    let mut probe = crate::probe::platform().map_err(|e| e.to_string())?;
    match crate::signal::send_if_holding(probe.as_mut(), pid, key, libc::SIGTERM) {
        Ok(()) => {
            // A stopped daemon (SIGSTOP, Ctrl-Z) keeps the SIGTERM pending until it continues.
            let _ = crate::signal::send_if_holding(probe.as_mut(), pid, key, libc::SIGCONT);
            Ok(pid)
        }
        Err(_) => Err(format!(
            "pid {pid} (from {}) does not hold the daemon's lock: it is not the daemon, so it \
             was not signalled",
            path.display()
        )),
    }
}

/// Whether `pid` is the daemon whose pid file is in `dir` (it holds that file's lock, as the
/// daemon does for its whole life) and is stopped (SIGSTOP, Ctrl-Z): it then takes connections
/// (the kernel queues them) and answers none until continued. A pid that merely sits in the
/// file is never said to be the daemon.
pub fn is_stopped(dir: &Path, pid: u32) -> bool {
    let Some(key) = crate::probe::file_key(&dir.join(PID_FILE)) else {
        return false;
    };
    let Ok(mut probe) = crate::probe::platform() else {
        return false;
    };
    probe.holds(pid, key).unwrap_or(false)
        && probe
            .process(pid)
            .is_ok_and(|f| f.state == crate::core::model::ProcState::Stopped)
}

/// The held history lock (`history.lock` in the data directory); dropping it releases it.
#[derive(Debug)]
pub struct HistoryLock {
    _file: File,
}

/// Another daemon, started with another runtime directory, already writes this history: not a
/// failure, nothing to do (as [`AlreadyRunning`]).
#[derive(Debug, Clone, Error)]
#[error(
    "another lockwatch daemon ({}, runtime dir {}) already writes this history ({}); nothing to do. Stop it with `{}`",
    match .pid { Some(p) => format!("pid {p}"), None => "pid not written yet: it is starting".to_string() },
    .runtime.as_ref().map_or("unknown".to_string(), |r| r.display().to_string()),
    .data.display(),
    stop_command(.runtime.as_deref())
)]
pub struct HistoryOwned {
    /// Its pid, when it has written it.
    pub pid: Option<u32>,
    /// Its runtime directory (`LOCKWATCH_RUNTIME_DIR` reaches it), when it has written it.
    pub runtime: Option<PathBuf>,
    /// The data directory both would write to.
    pub data: PathBuf,
}

/// The command that stops the daemon using `runtime`.
fn stop_command(runtime: Option<&Path>) -> String {
    match runtime {
        Some(r) => format!(
            "LOCKWATCH_RUNTIME_DIR={} cargo lockwatch daemon --stop",
            shell_words::quote(&r.to_string_lossy())
        ),
        None => "cargo lockwatch daemon --stop".to_string(),
    }
}

/// Why the history lock was not taken.
#[derive(Debug)]
pub enum HistoryLockError {
    /// Another daemon holds it.
    Owned(HistoryOwned),
    /// The lock file cannot be opened (the data directory is missing, a file, read-only): the
    /// daemon runs without the check; writing the history will fail and say so anyway.
    Unavailable(String),
}

/// What the history lock file holds: the owner's pid and runtime directory, one a line.
pub fn parse_owner(text: &str) -> (Option<u32>, Option<PathBuf>) {
    let mut lines = text.lines();
    let pid = lines.next().and_then(parse_pid);
    let runtime = lines
        .next()
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .filter(|_| pid.is_some());
    (pid, runtime)
}

/// The daemon that writes the history in `data_dir` now, if one does (whatever its runtime
/// directory): the lock is tried shared without waiting, and let go at once when free.
pub fn history_owner(data_dir: &Path) -> Option<HistoryOwned> {
    let path = data_dir.join("history.lock");
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(&path)
        .ok()?;
    // SAFETY: flock on a descriptor we own; LOCK_NB makes it return at once. A shared lock
    // taken here is dropped with the descriptor.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    if rc == 0 {
        return None;
    }
    let mut text = String::new();
    (&mut file).take(4096).read_to_string(&mut text).ok()?;
    let (pid, runtime) = parse_owner(&text);
    Some(HistoryOwned {
        pid,
        runtime,
        data: data_dir.to_path_buf(),
    })
}

impl HistoryLock {
    /// Takes `history.lock` in `data_dir` for the daemon whose runtime directory is `runtime`,
    /// or says which daemon holds it.
    pub fn acquire(data_dir: &Path, runtime: &Path) -> Result<HistoryLock, HistoryLockError> {
        let path = data_dir.join("history.lock");
        let unavailable = |e: std::io::Error| {
            HistoryLockError::Unavailable(format!("cannot open {}: {e}", path.display()))
        };
        super::history::create_private_dir(data_dir).map_err(unavailable)?;
        let mut file = open_private(&path, libc::O_NONBLOCK).map_err(unavailable)?;
        if !file.metadata().map_err(unavailable)?.is_file() {
            return Err(HistoryLockError::Unavailable(format!(
                "{} is not a regular file; move it aside",
                path.display()
            )));
        }
        // SAFETY: flock on a descriptor we own; LOCK_NB makes it return at once.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(unavailable(err));
            }
            // The winner writes its pid right after locking: give it a moment.
            let deadline = Instant::now() + PID_WAIT;
            let (pid, runtime) = loop {
                let mut text = String::new();
                let _ = file.rewind();
                let _ = file.read_to_string(&mut text);
                match parse_owner(&text) {
                    (Some(p), r) => break (Some(p), r),
                    _ if Instant::now() >= deadline => break (None, None),
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            };
            return Err(HistoryLockError::Owned(HistoryOwned {
                pid,
                runtime,
                data: data_dir.to_path_buf(),
            }));
        }
        let write = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.rewind()?;
            let text = format!("{}\n{}\n", std::process::id(), runtime.display());
            file.write_all(text.as_bytes())
        };
        // The lock is what counts; the text only helps the message of a second daemon.
        let _ = write(&mut file);
        Ok(HistoryLock { _file: file })
    }
}

/// Why the pid file could not be opened, and what to do about it.
fn open_error(path: &Path, e: &std::io::Error) -> anyhow::Error {
    let p = path.display();
    match e.raw_os_error() {
        Some(libc::ELOOP) => anyhow::anyhow!("{p} is a symbolic link, which is refused: remove it"),
        Some(libc::EACCES | libc::EROFS | libc::EPERM) => anyhow::anyhow!(
            "cannot open {p}: {e}; the runtime directory must be writable by you (set \
             LOCKWATCH_RUNTIME_DIR to a directory you own)"
        ),
        _ => anyhow::anyhow!("cannot open {p}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn second_instance_is_told_where_the_first_runs() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let first = InstanceLock::acquire(&run).unwrap();
        let err = InstanceLock::acquire(&run).unwrap_err();
        let running = err
            .downcast_ref::<AlreadyRunning>()
            .expect("AlreadyRunning");
        assert_eq!(running.pid, Some(std::process::id()));
        assert_eq!(running.socket, run.join(super::super::SOCKET_NAME));
        let text = err.to_string();
        assert!(
            text.contains("already running") && text.contains("socket"),
            "{text}"
        );
        let mode = std::fs::metadata(&run).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        drop(first);
        InstanceLock::acquire(&run).unwrap();
    }

    #[test]
    fn the_pid_file_is_read_and_a_process_without_its_lock_is_never_signalled() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let mut lock = InstanceLock::acquire(&run).unwrap();
        lock.started();
        assert_eq!(read_pid(lock.dir()), Some(std::process::id()));
        drop(lock);
        // The lock is gone: the pid written there (this test) is never signalled.
        let err = terminate(&run).unwrap_err();
        assert!(err.contains("does not hold the daemon's lock"), "{err}");
        assert_eq!(read_pid(&dir.path().join("nothing")), None);
        std::fs::write(run.join(PID_FILE), "garbage").unwrap();
        assert_eq!(read_pid(&run), None);
        assert!(terminate(&run).unwrap_err().contains("no daemon pid"));
    }

    #[test]
    fn only_the_process_holding_the_pid_file_s_lock_is_said_to_be_a_stopped_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        // A stopped child that holds nothing, named in the pid file: not the daemon.
        let mut child = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        let pid = child.id();
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join(PID_FILE), format!("{pid}\n")).unwrap();
        // SAFETY: signalling the child this test started and has not reaped.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| !s.contains(") T "))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!is_stopped(&run, pid));
        // This process holds the lock and runs: not stopped.
        let lock = InstanceLock::acquire(&run).unwrap();
        assert!(!is_stopped(&run, std::process::id()));
        assert!(!is_stopped(&dir.path().join("nothing"), std::process::id()));
        drop(lock);
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn a_second_daemon_for_the_same_history_is_told_who_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let run = dir.path().join("run one");
        let first = HistoryLock::acquire(&data, &run).unwrap();
        let Err(HistoryLockError::Owned(owned)) =
            HistoryLock::acquire(&data, &dir.path().join("run2"))
        else {
            panic!("the second lock must be refused");
        };
        assert_eq!(owned.pid, Some(std::process::id()));
        assert_eq!(owned.runtime.as_deref(), Some(run.as_path()));
        let text = owned.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id()))
                && text.contains("already writes this history")
                && text.contains(&format!(
                    "LOCKWATCH_RUNTIME_DIR='{}' cargo lockwatch daemon --stop",
                    run.display()
                )),
            "{text}"
        );
        drop(first);
        HistoryLock::acquire(&data, &run).unwrap();
        // A data "directory" that is a file: no lock, no refusal.
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(matches!(
            HistoryLock::acquire(&file, &run),
            Err(HistoryLockError::Unavailable(_))
        ));
        assert_eq!(
            parse_owner("12\n/run/x\n"),
            (Some(12), Some("/run/x".into()))
        );
        assert_eq!(parse_owner(""), (None, None));
    }

    /// A daemon refused after it took the lock (another one writes its history) leaves no pid
    /// file; one that started leaves it, as a crashed one would (review Y, Y6).
    #[test]
    fn only_a_daemon_that_started_leaves_its_pid_file() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let pid_file = run.join(PID_FILE);
        drop(InstanceLock::acquire(&run).unwrap());
        assert!(!pid_file.exists(), "a refused daemon's pid file is removed");
        // The next daemon makes a new one, and keeps it once started.
        let mut started = InstanceLock::acquire(&run).unwrap();
        assert!(locks_the_file_at(&started.file, &pid_file));
        started.started();
        drop(started);
        assert_eq!(read_pid(&run), Some(std::process::id()));
    }

    #[test]
    fn pid_text_is_parsed_strictly() {
        assert_eq!(parse_pid("42\n"), Some(42));
        assert_eq!(parse_pid(""), None);
        assert_eq!(parse_pid("0"), None);
        assert_eq!(parse_pid("4x"), None);
    }
}
