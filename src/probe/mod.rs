//! The platform seam: one trait that answers "which Cargo locks are held, by whom, who waits"
//! and "what is this process", with one implementation per OS chosen here and nowhere else.
//!
//! Pure decision code (parsers, holder/waiter choice) lives in `*_parse` / `*_records` modules
//! that compile on every platform so they are unit-tested on Linux CI; the syscall shells around
//! them are `cfg`-gated.

use std::path::PathBuf;

use thiserror::Error;

use crate::core::catalog::LockKind;
use crate::core::model::{Activity, ChildProcess, FileKey, LockSighting, ProcState, ProcessFacts};

#[cfg(target_os = "linux")]
mod linux_index;
pub mod linux_parse;
#[cfg(target_os = "linux")]
mod linux_search;
#[cfg(target_os = "macos")]
pub mod macos_events;
pub mod macos_records;
pub mod tcc;

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod imp;

#[cfg(target_os = "macos")]
#[path = "macos.rs"]
mod imp;

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
#[path = "fallback.rs"]
mod imp;

/// What to look at in one pass.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// Lock files known up front (Cargo homes, configured projects, earlier discoveries).
    pub known: std::sync::Arc<[(PathBuf, LockKind)]>,
    /// On contention, look for every real holder of the lock: on Linux the live locker's own
    /// process subtree is read (a child may share its descriptor); a process outside that
    /// subtree sharing it is not seen, which keeps `status` as cheap as `lslocks`. A dead
    /// locker always triggers a search for whoever inherited its descriptor (likely processes
    /// first, every process only when none of them holds it).
    pub deep_on_contention: bool,
}

/// Who holds a lock's descriptor after every process that took it exited: a hint, always
/// checked against the process's descriptors before it is believed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Heirs {
    /// The lock file's inode.
    pub ino: u64,
    /// The dead lockers the kernel still names.
    pub dead: Vec<u32>,
    /// The processes found holding it.
    pub holders: Vec<u32>,
}

/// Errors a probe reports. Each says what the user can do about it.
#[derive(Debug, Error)]
pub enum ProbeError {
    /// This OS has no probe.
    #[error(
        "cargo-lockwatch cannot see file locks on this platform ({0}); it supports Linux and macOS"
    )]
    Unsupported(&'static str),
    /// The kernel's lock table could not be read.
    #[error("cannot read {path}: {cause}; {}", lock_table_hint(.cause))]
    LockTable {
        /// What was read.
        path: PathBuf,
        /// Why it failed (said in the message, so not a `source` said again after it).
        cause: std::io::Error,
    },
    /// The process is gone (or was never there).
    #[error("process {0} does not exist (it may just have exited)")]
    NoSuchProcess(u32),
    /// Another OS call failed.
    #[error("{what}: {cause}")]
    Os {
        /// What was attempted.
        what: String,
        /// Why it failed (said in the message, so not a `source` said again after it).
        cause: std::io::Error,
    },
}

/// What to do when the kernel's lock table cannot be read, by why: out of descriptors is this
/// process's limit (or the machine's), not a /proc problem.
fn lock_table_hint(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EMFILE) => "this process has too many files open: raise `ulimit -n`",
        Some(libc::ENFILE) => "the system has too many files open: try again in a moment",
        Some(libc::EACCES | libc::EPERM) => {
            "is /proc mounted with hidepid, or denied by a sandbox?"
        }
        _ => "is /proc mounted (and not hidden with hidepid)?",
    }
}

/// A lock in the kernel's table that this user cannot name (see [`Probe::hidden_locks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiddenLock {
    /// The processes holding it.
    pub holders: Vec<u32>,
    /// The processes waiting for it.
    pub waiters: Vec<u32>,
}

/// Sees locks and processes on one OS.
pub trait Probe: Send {
    /// Starts a pass: until [`Probe::end_pass`], what is read about a process is read once and
    /// reused by every question. Outside a pass every question reads afresh (a kill's re-check
    /// right before its signal must not see an old answer).
    fn begin_pass(&mut self) {}

    /// Ends the pass started by [`Probe::begin_pass`].
    fn end_pass(&mut self) {}

    /// Who inherited the descriptors of dead lockers, as learned by the passes so far (locks
    /// whose lockers are all gone, in the last pass). Finding them may read every process on
    /// the machine; checking a remembered one reads one, so one-off runs hand them on.
    fn heirs(&self) -> Vec<Heirs> {
        Vec::new()
    }

    /// Takes [`Probe::heirs`] learned by an earlier probe: each is checked before any search,
    /// and a search still runs when none of them holds the lock any more.
    fn recall_heirs(&mut self, heirs: Vec<Heirs>) {
        let _ = heirs;
    }

    /// Asks the next [`Probe::sightings`] to look at `pid` as a possible waiter stopped
    /// (Ctrl-Z) in its request, which the kernel's table no longer lists: `kill` and `resume`
    /// of a suspended cargo that holds no lock at all (review U, U2).
    fn look_for_waiter(&mut self, pid: u32) {
        let _ = pid;
    }

    /// Every Cargo lock that is held or waited on, plus nothing for free ones.
    fn sightings(&mut self, targets: &Targets) -> Result<Vec<LockSighting>, ProbeError>;

    /// The locks the last [`Probe::sightings`] saw in the kernel's table but could not name:
    /// held by another user's Cargo process whose descriptors this user cannot read.
    fn hidden_locks(&mut self) -> Vec<HiddenLock> {
        Vec::new()
    }

    /// Facts about one process (state, command, tree CPU, ancestors).
    fn process(&mut self, pid: u32) -> Result<ProcessFacts, ProbeError>;

    /// Live descendants of a process, children before grandchildren.
    fn descendants(&mut self, pid: u32) -> Vec<u32>;

    /// Whether `pid` holds a lock on the file right now (re-verified before any signal).
    fn holds(&mut self, pid: u32, key: FileKey) -> Result<bool, ProbeError>;

    /// What a root blocker is doing: its live descendants, its network peers and the processes
    /// outside its tree that hold its output pipes open. Called for root blockers only; the
    /// expensive part (looking for pipe writers) runs only when the blocker has no live child.
    ///
    /// The default knows descendants only; a platform that can see descriptors does more.
    fn activity(&mut self, pid: u32) -> Activity {
        let descendants = self
            .descendants(pid)
            .into_iter()
            .filter_map(|p| self.process(p).ok())
            .filter(|f| f.state != ProcState::Zombie)
            .map(|f| ChildProcess {
                pid: f.pid,
                stopped: f.state == ProcState::Stopped,
                name: f.name,
                cmd: f.cmd,
            })
            .collect();
        Activity {
            descendants,
            ..Activity::default()
        }
    }

    /// Device and inode of a path, without following or creating anything odd.
    fn file_key(&self, path: &std::path::Path) -> Option<FileKey> {
        file_key(path)
    }

    /// The kernel's answer for each of `files`, in order, asked cheaply between passes on
    /// platforms whose file events do not report acquisitions (macOS: one `F_GETLK` per file).
    /// `None` means file events already do (Linux inotify sees every open), so the daemon never
    /// asks; asking about no file tells which case this is.
    fn quick_looks(&mut self, files: &[&std::path::Path]) -> Option<QuickLooks> {
        let _ = files;
        None
    }
}

/// The answer to [`Probe::quick_looks`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuickLooks {
    /// One answer per file asked about, in the same order.
    pub looks: Vec<QuickLook>,
    /// Whether a cargo (or a cargo subcommand) started since the last question: it is about
    /// to take locks, possibly on files not looked at this time.
    pub cargo_started: bool,
}

/// What a cheap look says about one lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuickLook {
    /// Nobody holds the file with this inode.
    Free {
        /// The file's inode (a file replaced is a change).
        ino: u64,
    },
    /// Someone holds the file with this inode.
    Held {
        /// The file's inode.
        ino: u64,
        /// Held exclusively (else shared).
        exclusive: bool,
    },
    /// The file could not be asked (gone, refused …), for this reason.
    Failed(std::io::ErrorKind),
}

impl QuickLook {
    /// Whether the file was found held.
    pub fn is_held(&self) -> bool {
        matches!(self, QuickLook::Held { .. })
    }
}

/// The probe for this OS.
pub fn platform() -> Result<Box<dyn Probe>, ProbeError> {
    imp::new_probe()
}

/// The login name of `uid` from the password database (`getpwuid_r`), `None` when it has none.
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: passwd is plain data; all zeroes is a valid value for getpwuid_r to overwrite.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: `pw`, `buf` and `result` are valid for writing for the sizes given; on success
    // `pw.pw_name` points into `buf`, which outlives its use below.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || pw.pw_name.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded, so pw_name is a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// Remembers user names, so a pass asks the password database once per uid.
#[derive(Debug, Default)]
pub struct UserNames(std::collections::HashMap<u32, Option<String>>);

impl UserNames {
    /// The name of `uid`.
    pub fn get(&mut self, uid: u32) -> Option<String> {
        if self.0.len() > 1024 {
            self.0.clear();
        }
        self.0.entry(uid).or_insert_with(|| user_name(uid)).clone()
    }
}

/// Whether the kernel's lock table has a lock (or a request for one) on any of `files`, read
/// without looking at any process: `/proc/locks` on Linux, matched by inode (a match on another
/// file system only costs a closer look). `None` where the OS keeps no such table (macOS sees a
/// lock only through its holder's descriptors) or it cannot be read.
pub fn in_lock_table(files: &[&std::path::Path]) -> Option<bool> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let inodes: Vec<u64> = files
        .iter()
        .filter_map(|f| file_key(f))
        .map(|k| k.ino)
        .collect();
    if inodes.is_empty() {
        return Some(false);
    }
    let table = std::fs::read_to_string("/proc/locks").ok()?;
    let locks = linux_parse::parse_proc_locks(&table);
    Some(locks.iter().any(|l| inodes.contains(&l.ino)))
}

/// The values of `names` in `pid`'s environment as it started, when this user may read it
/// (the process's own user or root): Linux `/proc/PID/environ`, macOS `KERN_PROCARGS2`
/// through sysinfo; none elsewhere.
pub fn environment(pid: u32, names: &[&str]) -> Vec<(String, String)> {
    let entries = environment_entries(pid);
    (entries.split(|b| *b == 0))
        .filter_map(|entry| {
            let entry = std::str::from_utf8(entry).ok()?;
            let (k, v) = entry.split_once('=')?;
            names.contains(&k).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// `pid`'s environment as `NAME=value` entries, each ended by a NUL; empty when unreadable.
#[cfg(target_os = "linux")]
fn environment_entries(pid: u32) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default()
}

#[cfg(target_os = "macos")]
fn environment_entries(pid: u32) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};
    let pid = Pid::from_u32(pid);
    let mut sys = System::new();
    let only_env = ProcessRefreshKind::nothing().with_environ(UpdateKind::Always);
    sys.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), true, only_env);
    let mut out = Vec::new();
    for entry in sys.process(pid).map(|p| p.environ()).unwrap_or_default() {
        out.extend_from_slice(entry.as_bytes());
        out.push(0);
    }
    out
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn environment_entries(_pid: u32) -> Vec<u8> {
    Vec::new()
}

/// `stat` a path into a [`FileKey`]; `None` when it does not exist (or cannot be looked at).
pub fn file_key(path: &std::path::Path) -> Option<FileKey> {
    looked_up(path).ok()
}

/// `stat` a path into a [`FileKey`], with why it failed: a file that is gone is not one in a
/// directory this user may not search.
pub fn looked_up(path: &std::path::Path) -> std::io::Result<FileKey> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path)?;
    Ok(FileKey {
        dev: normalize_dev(m.dev()),
        ino: m.ino(),
    })
}

/// Whether a lookup failed because nothing is at the path (any more).
pub fn is_gone(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// macOS's `dev_t` is a signed 32-bit value that `MetadataExt::dev` sign-extends, while libproc
/// reports it unsigned: keep the low 32 bits there so both sources agree. Linux's is 64-bit.
pub fn normalize_dev(dev: u64) -> u64 {
    if cfg!(target_os = "macos") {
        dev & 0xffff_ffff
    } else {
        dev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cargo's own `CARGO_HTTP_TIMEOUT` is read from its environment (a child started here
    /// with it, ended here).
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    #[test]
    fn a_process_s_environment_gives_the_names_asked() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env("CARGO_HTTP_TIMEOUT", "7")
            .env_remove("CARGO_NET_RETRY")
            .spawn()
            .unwrap();
        // `spawn` returns once the exec began, maybe before the kernel has set up the new
        // program's environment: read until it has (a cargo is looked at much later).
        let names = ["CARGO_HTTP_TIMEOUT", "CARGO_NET_RETRY"];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut found = environment(child.id(), &names);
        while found.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            found = environment(child.id(), &names);
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            found,
            vec![("CARGO_HTTP_TIMEOUT".to_string(), "7".to_string())]
        );
        assert!(
            environment(u32::MAX, &["PATH"]).is_empty(),
            "no such process"
        );
    }

    #[test]
    fn an_unreadable_lock_table_says_what_to_do_by_why() {
        let said = |errno| {
            ProbeError::LockTable {
                path: "/proc/locks".into(),
                cause: std::io::Error::from_raw_os_error(errno),
            }
            .to_string()
        };
        assert!(said(libc::EMFILE).contains("raise `ulimit -n`"));
        assert!(!said(libc::EMFILE).contains("mounted"));
        assert!(said(libc::ENOENT).contains("is /proc mounted"));
        assert!(said(libc::EACCES).contains("hidepid"));
    }
}
