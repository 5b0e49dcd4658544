//! Who may be trusted with the daemon's socket. The runtime directory is created private (0700)
//! and never chmodded when it already exists; a symlink or another user's directory there is
//! refused, and a shared directory (like `/tmp`) gets a private per-user subdirectory instead.
//! The CLI trusts a socket only when it, its directory and the process answering on it belong to
//! this user, so another local user cannot impersonate the daemon.
//!
//! The decisions are pure functions over `lstat`-like facts, unit-tested on every platform; the
//! syscalls around them (`lstat`, `open(O_NOFOLLOW)`, `SO_PEERCRED` / `getpeereid`,
//! `getpwuid_r` via `probe::user_name`) are thin and `cfg`-gated.

use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// What a path is, as `lstat` sees it: a symlink is never followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A Unix socket.
    Socket,
    /// A symbolic link.
    Symlink,
    /// Anything else (regular file, fifo …).
    Other,
}

/// The facts the decisions need about one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// What it is.
    pub kind: Kind,
    /// Its owner.
    pub uid: u32,
    /// Its permission bits (including setuid/setgid/sticky).
    pub mode: u32,
}

impl Entry {
    /// The facts of `lstat` (or `fstat`) metadata.
    pub fn of(m: &fs::Metadata) -> Entry {
        let t = m.file_type();
        let kind = if t.is_symlink() {
            Kind::Symlink
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_socket() {
            Kind::Socket
        } else {
            Kind::Other
        };
        Entry {
            kind,
            uid: m.uid(),
            mode: m.mode() & 0o7777,
        }
    }
}

/// Why a path is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distrust {
    /// It is a symbolic link (never followed: another user may have planted it).
    Symlink,
    /// It should be a directory and is not.
    NotDir,
    /// It should be a socket and is not.
    NotSocket,
    /// It belongs to another user.
    Owner(u32),
    /// Other users can reach into it (mode).
    Open(u32),
    /// A shared directory others can write without the sticky bit (mode): a subdirectory in it
    /// could be renamed away and replaced.
    Unsticky(u32),
    /// The process answering on the socket runs as another user (None: it cannot be told).
    Peer(Option<u32>),
}

/// A directory the socket may live in: a real directory of ours that nobody else can enter.
pub fn judge_private_dir(e: Entry, me: u32) -> Result<(), Distrust> {
    match e.kind {
        Kind::Dir => {}
        Kind::Symlink => return Err(Distrust::Symlink),
        Kind::Socket | Kind::Other => return Err(Distrust::NotDir),
    }
    if e.uid != me {
        return Err(Distrust::Owner(e.uid));
    }
    if e.mode & 0o077 != 0 {
        return Err(Distrust::Open(e.mode));
    }
    Ok(())
}

/// A socket the CLI may talk to: a real socket of ours, closed to others.
pub fn judge_socket(e: Entry, me: u32) -> Result<(), Distrust> {
    match e.kind {
        Kind::Socket => {}
        Kind::Symlink => return Err(Distrust::Symlink),
        Kind::Dir | Kind::Other => return Err(Distrust::NotSocket),
    }
    if e.uid != me {
        return Err(Distrust::Owner(e.uid));
    }
    if e.mode & 0o077 != 0 {
        return Err(Distrust::Open(e.mode));
    }
    Ok(())
}

/// The process on the other end of the socket must be this user.
pub fn judge_peer(peer: Option<u32>, me: u32) -> Result<(), Distrust> {
    match peer {
        Some(uid) if uid == me => Ok(()),
        other => Err(Distrust::Peer(other)),
    }
}

/// What to do with the configured runtime directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// It does not exist: create it, 0700.
    Create,
    /// It is ours and private already: use it as it is.
    Use,
    /// It is shared (e.g. `/tmp`, or a directory of ours others can read): use a private
    /// per-user subdirectory inside it, never changing its mode.
    Subdir,
    /// It cannot be used safely.
    Refuse(Distrust),
}

/// Decides how to use the runtime directory `base` (None: it does not exist).
pub fn plan(base: Option<Entry>, me: u32) -> Plan {
    let Some(e) = base else {
        return Plan::Create;
    };
    match e.kind {
        Kind::Dir => {}
        Kind::Symlink => return Plan::Refuse(Distrust::Symlink),
        Kind::Socket | Kind::Other => return Plan::Refuse(Distrust::NotDir),
    }
    if judge_private_dir(e, me).is_ok() {
        return Plan::Use;
    }
    // Only this user or root may own a directory we nest in: its owner can always replace
    // what is inside.
    if e.uid != me && e.uid != 0 {
        return Plan::Refuse(Distrust::Owner(e.uid));
    }
    if e.mode & 0o022 != 0 && e.mode & 0o1000 == 0 {
        return Plan::Refuse(Distrust::Unsticky(e.mode));
    }
    Plan::Subdir
}

/// Whether runtime directory `base` leaves a daemon out: it is this user's directory, opened to
/// others after a daemon made it (`chmod 755`), so clients look in a private subdirectory
/// instead ([`Plan::Subdir`]), while a socket of this user's (`socket`) or a live daemon's pid
/// file is in `base` itself. Its mode, when so.
pub fn left_out_mode(
    base: Option<Entry>,
    socket: Option<Entry>,
    live_daemon: bool,
    me: u32,
) -> Option<u32> {
    let base = base?;
    let ours = |e: Entry| e.kind == Kind::Socket && e.uid == me;
    let shared_by_us = base.uid == me && plan(Some(base), me) == Plan::Subdir;
    (shared_by_us && (socket.is_some_and(ours) || live_daemon)).then_some(base.mode)
}

/// A daemon that clients no longer use because its runtime directory stopped being private
/// (review P, R18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// The runtime directory.
    pub dir: PathBuf,
    /// Its mode now.
    pub mode: u32,
    /// The daemon's socket in it.
    pub socket: PathBuf,
    /// The daemon's pid, when its pid file names a live daemon.
    pub pid: Option<u32>,
}

impl LeftOut {
    /// What is wrong, without the fix.
    pub fn problem(&self) -> String {
        let daemon = match self.pid {
            Some(pid) => format!("the lockwatch daemon (pid {pid}) has its socket at"),
            None => "a lockwatch daemon's socket is at".to_string(),
        };
        format!(
            "{daemon} {}, but {} is no longer private (mode {:o}), so it is not used",
            self.socket.display(),
            self.dir.display(),
            self.mode
        )
    }

    /// The command that fixes it (commands then use the running daemon again, no restart).
    pub fn fix(&self) -> String {
        format!("chmod 700 {}", self.dir.display())
    }
}

impl std::fmt::Display for LeftOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: `{}`", self.problem(), self.fix())
    }
}

/// A daemon left out by runtime directory `base` (see [`left_out_mode`]), looked up on disk
/// without changing anything.
pub fn left_out(base: &Path) -> Option<LeftOut> {
    let me = me();
    let entry = lstat(base).ok()??;
    // Only a directory of ours that clients now nest in is worth a look at what is inside.
    if entry.uid != me || plan(Some(entry), me) != Plan::Subdir {
        return None;
    }
    let socket = base.join(super::SOCKET_NAME);
    let pid = super::instance::live_pid(base);
    let socket_entry = lstat(&socket).ok().flatten();
    let mode = left_out_mode(Some(entry), socket_entry, pid.is_some(), me)?;
    Some(LeftOut {
        dir: base.to_path_buf(),
        mode,
        socket,
        pid,
    })
}

/// The private subdirectory made inside a shared runtime directory.
pub fn subdir_name(me: u32) -> String {
    format!("cargo-lockwatch-{me}")
}

/// A path that is not trusted, and a message that says why and what to do.
#[derive(Debug, Clone, Error)]
#[error("{message}")]
pub struct Untrusted {
    /// The path in question.
    pub path: PathBuf,
    /// Why.
    pub why: Distrust,
    /// For people: the path, its owner and what to do.
    pub message: String,
}

impl Untrusted {
    fn new(path: &Path, why: Distrust) -> Untrusted {
        Untrusted {
            path: path.to_path_buf(),
            why,
            message: explain(path, why),
        }
    }
}

/// The sentence for a distrusted path, naming its owner.
pub fn explain(path: &Path, why: Distrust) -> String {
    let p = path.display();
    let own = "set LOCKWATCH_RUNTIME_DIR to a directory of your own";
    match why {
        Distrust::Symlink => {
            // The caller's own link to their own directory: nobody planted it, and the
            // directory it points at is what to name (review M, N7).
            let own_link = fs::symlink_metadata(path).is_ok_and(|m| m.uid() == me());
            let own_dir = fs::metadata(path).is_ok_and(|m| m.is_dir() && m.uid() == me());
            if let (true, true, Ok(real)) = (own_link, own_dir, fs::canonicalize(path)) {
                return format!(
                    "{p} is a symbolic link to {}, both yours; lockwatch never follows a link \
                     there: set LOCKWATCH_RUNTIME_DIR={} instead",
                    real.display(),
                    real.display()
                );
            }
            let to = fs::read_link(path)
                .map(|t| format!(" (to {})", t.display()))
                .unwrap_or_default();
            let owner = fs::symlink_metadata(path)
                .map(|m| format!(", owned by {}", who(m.uid())))
                .unwrap_or_default();
            format!(
                "{p} is a symbolic link{to}{owner}; lockwatch never follows one there (it may \
                 have been planted by another user): remove it, or {own}"
            )
        }
        Distrust::NotDir => format!("{p} is not a directory: remove it, or {own}"),
        Distrust::NotSocket => format!("{p} is not a socket: remove it and start the daemon"),
        Distrust::Owner(uid) => format!(
            "{p} belongs to {}, not to you ({}): someone else may be posing as your daemon; \
             remove it (as its owner or root), or {own}",
            who(uid),
            who(me())
        ),
        Distrust::Open(mode) => format!(
            "{p} is open to other users (mode {mode:o}) and lockwatch will not change it: \
             `chmod 700` it yourself if it is yours, or {own}"
        ),
        Distrust::Unsticky(mode) => format!(
            "{p} is writable by other users without the sticky bit (mode {mode:o}), so a \
             private directory in it could be replaced: {own}"
        ),
        Distrust::Peer(Some(uid)) => format!(
            "the process answering on {p} runs as {}, not as you ({}): someone else may be \
             posing as your daemon; remove the socket, or {own}",
            who(uid),
            who(me())
        ),
        Distrust::Peer(None) => format!(
            "cannot tell which user answers on {p}, so it is not trusted; {own} and restart \
             the daemon"
        ),
    }
}

/// This process's effective user.
pub fn me() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// "uid 1001 (alice)", or "uid 1001" when the name is unknown.
pub fn who(uid: u32) -> String {
    match crate::probe::user_name(uid) {
        Some(name) => format!("uid {uid} ({name})"),
        None => format!("uid {uid}"),
    }
}

/// `lstat`: None when nothing is there.
pub fn lstat(path: &Path) -> io::Result<Option<Entry>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(Entry::of(&m))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Why the runtime directory could not be made ready.
#[derive(Debug, Error)]
pub enum RunDirError {
    /// It (or what is in it) is not safe to use.
    #[error(transparent)]
    Untrusted(#[from] Untrusted),
    /// A system call failed.
    #[error(
        "cannot prepare the runtime directory {path}: {error}; set LOCKWATCH_RUNTIME_DIR to a \
         directory of your own"
    )]
    Io {
        /// The path.
        path: PathBuf,
        /// The error (said in the message, so not a `source` an error chain would repeat).
        error: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RunDirError + '_ {
    move |error| RunDirError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Where the socket lives for runtime directory `base`, without creating or changing anything
/// (what the CLI uses). A refused `base` is returned as is: connecting then says why.
pub fn socket_dir(base: &Path) -> PathBuf {
    match lstat(base).map(|e| plan(e, me())) {
        Ok(Plan::Subdir) => base.join(subdir_name(me())),
        _ => base.to_path_buf(),
    }
}

/// Makes the private directory for `base` (the daemon's side): creates what is missing with
/// mode 0700, never chmods what exists, never follows a symlink; returns the directory the
/// socket and pid file go in.
pub fn ensure_private(base: &Path) -> Result<PathBuf, RunDirError> {
    let me = me();
    // Two tries: another process may create it between our look and our mkdir.
    for _ in 0..2 {
        let entry = lstat(base).map_err(io_err(base))?;
        let dir = match plan(entry, me) {
            Plan::Refuse(why) => return Err(Untrusted::new(base, why).into()),
            Plan::Use => base.to_path_buf(),
            Plan::Create => {
                if let Some(parent) = base.parent() {
                    fs::create_dir_all(parent).map_err(io_err(parent))?;
                }
                match mkdir_private(base) {
                    Ok(()) => base.to_path_buf(),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(io_err(base)(e)),
                }
            }
            Plan::Subdir => {
                let sub = base.join(subdir_name(me));
                match mkdir_private(&sub) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_err(&sub)(e)),
                }
                sub
            }
        };
        verify_private(&dir)?;
        return Ok(dir);
    }
    Err(io_err(base)(io::Error::other(
        "it keeps appearing and disappearing; is another process replacing it?",
    )))
}

/// What would keep a daemon from making its private directory in `base` and its files in
/// there, said as the daemon would say it; `None` when nothing would. Creates and changes
/// nothing (what `doctor` asks before it suggests starting a daemon).
pub fn preflight(base: &Path) -> Option<String> {
    let me = me();
    let entry = match lstat(base) {
        Ok(e) => e,
        // A file where a directory belongs on the way: found and named below.
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => None,
        Err(e) => return Some(io_err(base)(e).to_string()),
    };
    let writable_dir = match plan(entry, me) {
        Plan::Refuse(why) => return Some(explain(base, why)),
        Plan::Use => base.to_path_buf(),
        Plan::Subdir => {
            let sub = base.join(subdir_name(me));
            match lstat(&sub) {
                Ok(Some(e)) => match judge_private_dir(e, me) {
                    Ok(()) => sub,
                    Err(why) => return Some(explain(&sub, why)),
                },
                Ok(None) => base.to_path_buf(),
                Err(e) => return Some(io_err(&sub)(e).to_string()),
            }
        }
        // The nearest directory that exists is where the first mkdir happens.
        Plan::Create => {
            let mut at = base;
            loop {
                match at.parent() {
                    Some(p) if !p.as_os_str().is_empty() => at = p,
                    _ => break at.to_path_buf(),
                }
                match fs::metadata(at) {
                    Ok(m) if m.is_dir() => break at.to_path_buf(),
                    Ok(_) => {
                        let error =
                            io::Error::other(format!("{} is not a directory", at.display()));
                        return Some(io_err(base)(error).to_string());
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Some(io_err(base)(e).to_string()),
                }
            }
        }
    };
    match writable(&writable_dir) {
        Ok(()) => None,
        Err(e) => {
            let error = io::Error::new(
                e.kind(),
                format!("{} is not writable by you ({e})", writable_dir.display()),
            );
            Some(io_err(base)(error).to_string())
        }
    }
}

/// Whether this user may create entries in `dir` (`access(W_OK | X_OK)`; a read-only
/// filesystem says so even to root).
fn writable(dir: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: `c` is a NUL-terminated path that lives across the call; access reads it only.
    let rc = unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `mkdir(path, 0700)`: fails when anything (a symlink too) is already there.
fn mkdir_private(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new().mode(0o700).create(path)
}

/// Opens `dir` without following a symlink and checks the opened directory itself is ours and
/// private (no window between the check and the use of the name's target).
pub fn verify_private(dir: &Path) -> Result<(), RunDirError> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir);
    let file = match file {
        Ok(f) => f,
        // O_NOFOLLOW on a symlink: ELOOP; O_DIRECTORY on something else: ENOTDIR.
        Err(e) => {
            if let Ok(Some(entry)) = lstat(dir)
                && let Err(why) = judge_private_dir(entry, me())
            {
                return Err(Untrusted::new(dir, why).into());
            }
            return Err(io_err(dir)(e));
        }
    };
    let meta = file.metadata().map_err(io_err(dir))?;
    judge_private_dir(Entry::of(&meta), me()).map_err(|why| Untrusted::new(dir, why).into())
}

/// Checks a socket path before the CLI connects: its directory is ours and private and the
/// socket is ours. `Ok(false)` when there is no socket (no daemon).
pub fn check_socket(socket: &Path) -> Result<bool, Untrusted> {
    let me = me();
    let dir = socket.parent().unwrap_or(Path::new("."));
    match lstat(dir) {
        Ok(None) => return Ok(false),
        Ok(Some(e)) => judge_private_dir(e, me).map_err(|why| Untrusted::new(dir, why))?,
        Err(e) => {
            return Err(Untrusted {
                path: dir.to_path_buf(),
                why: Distrust::NotDir,
                message: format!("cannot examine {}: {e}", dir.display()),
            });
        }
    }
    match lstat(socket) {
        Ok(None) => Ok(false),
        Ok(Some(e)) => judge_socket(e, me)
            .map(|()| true)
            .map_err(|why| Untrusted::new(socket, why)),
        Err(e) => Err(Untrusted {
            path: socket.to_path_buf(),
            why: Distrust::NotSocket,
            message: format!("cannot examine {}: {e}", socket.display()),
        }),
    }
}

/// Checks that the process on the other end of a connected socket is this user.
pub fn check_peer(stream: &impl AsRawFd, socket: &Path) -> Result<(), Untrusted> {
    let peer = peer_uid(stream.as_raw_fd()).ok();
    judge_peer(peer, me()).map_err(|why| Untrusted::new(socket, why))
}

/// The effective uid of the peer of a connected Unix socket (Linux: `SO_PEERCRED`).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn peer_uid(fd: std::os::fd::RawFd) -> io::Result<u32> {
    // SAFETY: an all-zero ucred is a valid value for getsockopt to overwrite.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the sizes given; `fd` is a socket the
    // caller owns for the duration of the call.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred.uid)
}

/// The effective uid of the peer of a connected Unix socket (macOS and BSDs: `getpeereid`).
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
))]
pub fn peer_uid(fd: std::os::fd::RawFd) -> io::Result<u32> {
    let mut uid: libc::uid_t = 0;
    let mut gid: libc::gid_t = 0;
    // SAFETY: `uid` and `gid` are valid for writes; `fd` is a socket the caller owns.
    let rc = unsafe { libc::getpeereid(fd, &mut uid, &mut gid) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(uid)
}

/// Elsewhere the peer cannot be told, so it is never trusted.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
)))]
pub fn peer_uid(_fd: std::os::fd::RawFd) -> io::Result<u32> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "peer credentials are not supported on this platform",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link of the caller's own to their own directory is still refused, but named as what
    /// it is, with the directory to set instead (review M, N7).
    #[test]
    fn the_caller_s_own_link_to_their_own_directory_names_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("run");
        fs::create_dir(&real).unwrap();
        let link = dir.path().join("rlink");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let said = explain(&link, Distrust::Symlink);
        let real = fs::canonicalize(&real).unwrap();
        assert!(
            said.contains("both yours")
                && said.contains(&format!("LOCKWATCH_RUNTIME_DIR={}", real.display()))
                && !said.contains("planted"),
            "{said}"
        );
        // A link to something else (a file) keeps the warning about a planted link.
        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        let odd = dir.path().join("odd");
        std::os::unix::fs::symlink(&file, &odd).unwrap();
        assert!(explain(&odd, Distrust::Symlink).contains("planted"));
    }

    /// A runtime directory of ours opened to others (755) with a daemon's socket or live pid
    /// in it leaves that daemon out; a private one, another's, a refused one (777) or an
    /// empty one does not (review P, R18).
    #[test]
    fn a_daemon_is_left_out_only_by_our_directory_opened_with_its_socket_in_it() {
        let me = 1000;
        let dir = |uid, mode| Entry {
            kind: Kind::Dir,
            uid,
            mode,
        };
        let sock = |uid| Entry {
            kind: Kind::Socket,
            uid,
            mode: 0o755,
        };
        let left = |base, socket, live| left_out_mode(Some(base), socket, live, me);
        assert_eq!(left(dir(me, 0o755), Some(sock(me)), false), Some(0o755));
        assert_eq!(
            left(dir(me, 0o750), None, true),
            Some(0o750),
            "a live pid file"
        );
        assert_eq!(
            left(dir(me, 0o700), Some(sock(me)), true),
            None,
            "private: used"
        );
        assert_eq!(left(dir(me, 0o755), None, false), None, "no daemon there");
        assert_eq!(
            left(dir(me, 0o755), Some(sock(1001)), false),
            None,
            "not ours"
        );
        assert_eq!(
            left(dir(0, 0o1777), Some(sock(me)), false),
            None,
            "root's /tmp"
        );
        assert_eq!(
            left(dir(me, 0o777), Some(sock(me)), true),
            None,
            "refused, said so"
        );
        assert_eq!(left_out_mode(None, None, false, me), None);
        let l = LeftOut {
            dir: "/tmp/rp/run".into(),
            mode: 0o755,
            socket: "/tmp/rp/run/lockwatch.sock".into(),
            pid: Some(31384),
        };
        assert_eq!(
            l.to_string(),
            "the lockwatch daemon (pid 31384) has its socket at /tmp/rp/run/lockwatch.sock, but \
             /tmp/rp/run is no longer private (mode 755), so it is not used: `chmod 700 \
             /tmp/rp/run`"
        );
    }

    #[test]
    fn preflight_says_what_the_daemon_would_hit_and_creates_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("a/b/run");
        assert_eq!(preflight(&fresh), None);
        assert!(!dir.path().join("a").exists(), "nothing created");
        assert_eq!(preflight(dir.path()), None, "a directory of ours");

        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        let under_file = preflight(&file.join("run")).expect("a file is in the way");
        assert!(
            under_file.contains(&format!("{} is not a directory", file.display()))
                && under_file.contains("LOCKWATCH_RUNTIME_DIR"),
            "{under_file}"
        );
        let not_dir = preflight(&file).expect("a file is no directory");
        assert!(not_dir.contains("is not a directory"), "{not_dir}");

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        assert!(preflight(&link).unwrap().contains("symbolic link"));

        // Permission bits stop everyone but root.
        let locked = dir.path().join("locked");
        fs::create_dir(&locked).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o500)).unwrap();
        let said = preflight(&locked.join("run"));
        if me() == 0 {
            assert_eq!(said, None, "root may write there");
        } else {
            let said = said.expect("not writable");
            assert!(said.contains("is not writable by you"), "{said}");
        }
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
    }

    const ME: u32 = 1000;

    fn e(kind: Kind, uid: u32, mode: u32) -> Entry {
        Entry { kind, uid, mode }
    }

    #[test]
    fn a_private_dir_is_ours_real_and_closed() {
        assert_eq!(judge_private_dir(e(Kind::Dir, ME, 0o700), ME), Ok(()));
        assert_eq!(
            judge_private_dir(e(Kind::Dir, 1001, 0o700), ME),
            Err(Distrust::Owner(1001))
        );
        assert_eq!(
            judge_private_dir(e(Kind::Dir, ME, 0o1777), ME),
            Err(Distrust::Open(0o1777))
        );
        assert_eq!(
            judge_private_dir(e(Kind::Symlink, ME, 0o777), ME),
            Err(Distrust::Symlink)
        );
        assert_eq!(
            judge_private_dir(e(Kind::Other, ME, 0o700), ME),
            Err(Distrust::NotDir)
        );
    }

    #[test]
    fn a_socket_is_trusted_only_when_ours() {
        assert_eq!(judge_socket(e(Kind::Socket, ME, 0o600), ME), Ok(()));
        assert_eq!(
            judge_socket(e(Kind::Socket, 0, 0o600), ME),
            Err(Distrust::Owner(0))
        );
        assert_eq!(
            judge_socket(e(Kind::Socket, ME, 0o666), ME),
            Err(Distrust::Open(0o666))
        );
        assert_eq!(
            judge_socket(e(Kind::Symlink, ME, 0o777), ME),
            Err(Distrust::Symlink)
        );
        assert_eq!(
            judge_socket(e(Kind::Other, ME, 0o600), ME),
            Err(Distrust::NotSocket)
        );
        assert_eq!(judge_peer(Some(ME), ME), Ok(()));
        assert_eq!(judge_peer(Some(0), ME), Err(Distrust::Peer(Some(0))));
        assert_eq!(judge_peer(None, ME), Err(Distrust::Peer(None)));
    }

    #[test]
    fn the_runtime_dir_plan_never_adopts_what_others_control() {
        assert_eq!(plan(None, ME), Plan::Create);
        assert_eq!(plan(Some(e(Kind::Dir, ME, 0o700)), ME), Plan::Use);
        // /tmp: root's, sticky, world-writable: a private subdirectory inside.
        assert_eq!(plan(Some(e(Kind::Dir, 0, 0o1777)), ME), Plan::Subdir);
        // Ours but readable by others: not chmodded, a subdirectory instead.
        assert_eq!(plan(Some(e(Kind::Dir, ME, 0o755)), ME), Plan::Subdir);
        assert_eq!(
            plan(Some(e(Kind::Dir, 1001, 0o777)), ME),
            Plan::Refuse(Distrust::Owner(1001))
        );
        assert_eq!(
            plan(Some(e(Kind::Dir, 0, 0o777)), ME),
            Plan::Refuse(Distrust::Unsticky(0o777))
        );
        assert_eq!(
            plan(Some(e(Kind::Symlink, ME, 0o777)), ME),
            Plan::Refuse(Distrust::Symlink)
        );
        assert_eq!(
            plan(Some(e(Kind::Other, ME, 0o600)), ME),
            Plan::Refuse(Distrust::NotDir)
        );
        // Root is "me" for root.
        assert_eq!(plan(Some(e(Kind::Dir, 0, 0o700)), 0), Plan::Use);
    }

    #[test]
    fn messages_name_the_path_and_the_owner() {
        let m = explain(Path::new("/tmp/x"), Distrust::Owner(0));
        assert!(m.contains("/tmp/x") && m.contains("uid 0"), "{m}");
        assert!(m.contains("LOCKWATCH_RUNTIME_DIR"), "{m}");
        let m = explain(Path::new("/tmp/x"), Distrust::Peer(None));
        assert!(m.contains("/tmp/x"), "{m}");
    }

    #[test]
    fn ensure_creates_private_and_nests_in_shared_dirs_without_chmod() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let fresh = tmp.path().join("a/run");
        assert_eq!(ensure_private(&fresh).unwrap(), fresh);
        let mode = fs::metadata(&fresh).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(socket_dir(&fresh), fresh);

        let shared = tmp.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
        let got = ensure_private(&shared).unwrap();
        assert_eq!(got, shared.join(subdir_name(me())));
        assert_eq!(socket_dir(&shared), got);
        let mode = fs::metadata(&shared).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o1777, "an existing directory is never chmodded");

        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        let err = ensure_private(&link).unwrap_err().to_string();
        assert!(
            err.contains("symbolic link") && err.contains("link"),
            "{err}"
        );
        assert!(!fresh.join("daemon.pid").exists());
    }

    #[test]
    fn a_socket_check_refuses_open_dirs_and_finds_missing_ones() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        assert!(!check_socket(&dir.join("s.sock")).unwrap());
        ensure_private(&dir).unwrap();
        assert!(!check_socket(&dir.join("s.sock")).unwrap());
        let sock = dir.join("s.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        fs::set_permissions(&sock, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(check_socket(&sock).unwrap());
        let client = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        check_peer(&client, &sock).unwrap();
        drop(listener);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let err = check_socket(&sock).unwrap_err();
        assert_eq!(err.why, Distrust::Open(0o755));
        assert!(err.message.contains(&dir.display().to_string()));
    }
}
