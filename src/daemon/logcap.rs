//! Keeps the daemon's own log bounded. Under launchd (or a `>> file` redirect) stdout is a plain
//! file nobody rotates, and a day of lock churn grows it by ~166 MB. When stdout or stderr is a
//! regular file past `daemon.log_max_bytes`, it is cut to its newest half (from a line start)
//! behind a note saying so. A pipe, a terminal or the journal is left alone: they have their
//! own bounds.
//!
//! This is what bounds the launchd agent's `StandardOutPath` / `StandardErrorPath`
//! (`~/Library/Logs/cargo-lockwatch/daemon.{out,err}.log`): launchd opens them
//! `O_WRONLY|O_APPEND|O_CREAT` as the daemon's stdout and stderr and never rotates them. A
//! write-only descriptor cannot be read back, so the newest half is read through a read-only
//! reopening of the same file (`/proc/self/fd` on Linux, `F_GETPATH` on macOS). Lines on stderr
//! (warnings through `tracing`) are counted like those on stdout. Only the daemon cuts: a CLI
//! run with `2>>file` never touches the user's file.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

use crate::config::Config;

struct State {
    max: u64,
    since_check: u64,
    /// Set by the daemon ([`set_max`]); until then nothing is counted or cut.
    active: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    max: 8 * 1024 * 1024,
    since_check: 0,
    active: false,
});

/// Sets the bound (at start and after a config reload) and checks the files at once. The
/// daemon calls it; from then on stdout and stderr are kept within the bound.
pub fn set_max(max: u64) {
    if let Ok(mut s) = STATE.lock() {
        s.max = max.max(1);
        s.since_check = 0;
        s.active = true;
    }
    check_now();
}

/// stderr for `tracing`, counted like the daemon's own lines so a stream of warnings cannot
/// grow the launchd agent's `StandardErrorPath` without bound.
pub fn stderr() -> CountedStderr {
    CountedStderr
}

/// What [`stderr`] returns: writes to stderr and accounts for the bytes.
///
/// A write that fails (the terminal was closed, `daemon 2>&1 | head` exited: EPIPE, EIO) is
/// taken as done: there is nowhere left to say anything, and an error here would make
/// `tracing-subscriber` fall back to `eprintln!`, which panics on the same broken pipe and
/// takes the daemon's engine (and its queued history) down with it.
#[derive(Debug, Clone, Copy)]
pub struct CountedStderr;

impl Write for CountedStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match io::stderr().write(buf) {
            Ok(n) => {
                wrote(n as u64);
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(_) => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        Ok(())
    }
}

/// Prints one line on stderr without panicking when stderr is gone (`eprintln!` panics on a
/// broken pipe). For lines written after the terminal may have been closed.
pub fn eprintln(line: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}

/// Prints one line on stdout (undated) without panicking when stdout is gone.
pub fn outln(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The bound of the default configuration.
pub fn default_max() -> u64 {
    Config::defaults().daemon.log_max_bytes
}

/// Prints one log line on stdout, dated, and keeps the files bounded.
pub fn println(line: &str) {
    let line = format!("{}  {}", now_text(), printable(line));
    {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    wrote(line.len() as u64 + 1);
}

/// One log line as it may be shown: control characters from paths and command lines (a newline
/// or an escape sequence in a directory name) are written escaped, so a `tail -f` of the log
/// shows them and is not driven by them.
fn printable(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.chars().any(crate::core::text::needs_escape) {
        return std::borrow::Cow::Borrowed(line);
    }
    std::borrow::Cow::Owned(crate::core::text::printable(line))
}

/// Accounts for `n` bytes written to stdout or stderr; the files are looked at every eighth of
/// the bound, so the cost is one `fstat` per many lines.
pub fn wrote(n: u64) {
    let due = match STATE.lock() {
        Ok(mut s) => account(&mut s, n),
        Err(_) => false,
    };
    if due {
        check_now();
    }
}

/// Adds `n` written bytes; true when the files are due to be looked at. Nothing counts until
/// the daemon has set a bound.
fn account(s: &mut State, n: u64) -> bool {
    if !s.active {
        return false;
    }
    s.since_check += n;
    s.since_check >= (s.max / 8).max(512)
}

/// Cuts stdout and stderr now when they are files over the bound.
pub fn check_now() {
    let max = match STATE.lock() {
        Ok(s) if !s.active => return,
        Ok(mut s) => {
            s.since_check = 0;
            s.max
        }
        Err(_) => return,
    };
    // Holding stdout's lock keeps our own lines from landing mid-cut.
    let out = io::stdout();
    let guard = out.lock();
    for fd in [out.as_fd(), io::stderr().as_fd()] {
        let Ok(owned) = fd.try_clone_to_owned() else {
            continue;
        };
        let file = File::from(owned);
        if let Err(e) = cap_file(&file, max, now_text()) {
            tracing::debug!("cannot bound the log: {e}");
        }
    }
    drop(guard);
}

/// Where to cut a file of `len` bytes with bound `max`: keep from this offset (moved on to the
/// next line start by [`line_start`]). None when it is within the bound.
pub fn keep_from(len: u64, max: u64) -> Option<u64> {
    (len > max).then(|| len - max / 2)
}

/// The offset of the first whole line in `tail` (after its first newline); 0 when it has none.
pub fn line_start(tail: &[u8]) -> usize {
    tail.iter().position(|b| *b == b'\n').map_or(0, |p| p + 1)
}

/// Cuts `file` (stdout or stderr, maybe write-only, maybe `O_APPEND`) to its newest half when
/// it is a regular file over `max`. Returns whether it was cut.
pub fn cap_file(file: &File, max: u64, when: String) -> io::Result<bool> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(false);
    }
    let len = meta.len();
    let Some(from) = keep_from(len, max) else {
        return Ok(false);
    };
    let mut tail = vec![0u8; usize::try_from(len - from).unwrap_or(0)];
    let kept = match read_at(file, &mut tail, from) {
        Ok(()) => &tail[line_start(&tail)..],
        // A write-only descriptor we cannot reopen: keep only the note.
        Err(_) => &[][..],
    };
    let note = format!(
        "{when}  log      cut to its newest {} (daemon.log_max_bytes is {})\n",
        super::history::bytes(kept.len() as u64),
        super::history::bytes(max)
    );
    let mut f = file;
    f.set_len(0)?;
    // Without O_APPEND the next write would land at the old offset, leaving a hole.
    f.seek(SeekFrom::Start(0))?;
    f.write_all(note.as_bytes())?;
    f.write_all(kept)?;
    Ok(true)
}

/// Reads at `offset` through the descriptor, or through a read-only reopening of it when it
/// was opened write-only, as launchd and shell redirects do.
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    match file.read_exact_at(buf, offset) {
        Ok(()) => Ok(()),
        Err(e) => reopen_read_at(file, buf, offset).map_err(|_| e),
    }
}

/// A file's identity: device and inode.
fn identity(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

/// Reads through `again`, a read-only opening of what should be the same file as `file`; a
/// name that now leads elsewhere (the log was renamed or replaced) is not read.
fn read_same_file_at(file: &File, again: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    if identity(&file.metadata()?) != identity(&again.metadata()?) {
        return Err(io::Error::other("the log's name leads to another file now"));
    }
    again.read_exact_at(buf, offset)
}

#[cfg(target_os = "linux")]
fn reopen_read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let again = File::open(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    read_same_file_at(file, &again, buf, offset)
}

/// macOS has no `/proc`: `F_GETPATH` names the file the descriptor is open on.
#[cfg(target_os = "macos")]
fn reopen_read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let mut path = vec![0u8; libc::MAXPATHLEN as usize];
    // SAFETY: F_GETPATH writes at most MAXPATHLEN bytes (NUL included) into the buffer, which
    // is that long and lives for the call; `file` is an open descriptor.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETPATH, path.as_mut_ptr()) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    let len = path.iter().position(|b| *b == 0).unwrap_or(path.len());
    let again = File::open(std::ffi::OsStr::from_bytes(&path[..len]))?;
    read_same_file_at(file, &again, buf, offset)
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn reopen_read_at(_file: &File, _buf: &mut [u8], _offset: u64) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "a write-only log cannot be reread here",
    ))
}

/// `YYYY-MM-DD HH:MM:SS` local time, as the daemon's log lines start.
pub fn now_text() -> String {
    date_time(&crate::local_time::broken_down(crate::scan::now()))
}

/// A broken-down time as `YYYY-MM-DD HH:MM:SS`.
fn date_time(tm: &libc::tm) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_a_line_are_escaped() {
        assert_eq!(printable("held  /p/ok"), "held  /p/ok");
        assert_eq!(
            printable("held  /p/odd\x1b[31mRED\nx\ty"),
            "held  /p/odd\\x1b[31mRED\\nx\\ty"
        );
    }
    use std::io::Read;

    #[test]
    fn log_lines_are_dated() {
        // SAFETY: an all-zero tm is a valid value to fill in.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        tm.tm_year = 126;
        tm.tm_mon = 10;
        tm.tm_mday = 25;
        tm.tm_hour = 9;
        tm.tm_min = 5;
        tm.tm_sec = 7;
        assert_eq!(date_time(&tm), "2026-11-25 09:05:07");
        let now = now_text();
        assert_eq!(now.len(), "2026-11-25 09:05:07".len(), "{now}");
        assert!(now.starts_with("20"), "{now}");
    }

    #[test]
    fn the_cut_keeps_the_newest_half_from_a_line_start() {
        assert_eq!(keep_from(100, 200), None);
        assert_eq!(keep_from(300, 200), Some(200));
        assert_eq!(line_start(b"tail\nwhole\n"), 5);
        assert_eq!(line_start(b"no newline"), 0);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let mut text = String::new();
        for i in 0..400 {
            text.push_str(&format!("line {i:04} of the log\n"));
        }
        std::fs::write(&path, &text).unwrap();
        // Write-only and not O_APPEND, like a shell's `>` or a test harness's log file.
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        assert!(cap_file(&f, 4096, "12:00:00".into()).unwrap());
        let mut after = String::new();
        std::fs::File::open(&path)
            .unwrap()
            .read_to_string(&mut after)
            .unwrap();
        assert!(after.len() <= 2048 + 200, "{}", after.len());
        assert!(
            after.starts_with("12:00:00  log      cut to its newest"),
            "{after}"
        );
        assert!(after.ends_with("line 0399 of the log\n"));
        let second = after.lines().nth(1).unwrap();
        assert!(second.starts_with("line "), "cut at a line start: {second}");
        // Within the bound: untouched.
        assert!(!cap_file(&f, 1 << 20, "x".into()).unwrap());
    }

    #[test]
    fn a_launchd_log_opened_write_only_for_appending_keeps_its_newest_lines() {
        // launchd opens StandardOutPath / StandardErrorPath O_WRONLY|O_APPEND|O_CREAT and
        // never rotates them: the cut reads the tail back through a read-only reopening and
        // the next line lands after what was kept.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.err.log");
        let text: String = (0..500).map(|i| format!("warning {i:04}\n")).collect();
        std::fs::write(&path, &text).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .unwrap();
        assert!(cap_file(&f, 2048, "d".into()).unwrap());
        writeln!(f, "after the cut").unwrap();
        let after = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = after.lines().collect();
        assert!(
            lines[0].starts_with("d  log      cut to its newest"),
            "{after}"
        );
        assert!(lines[1].starts_with("warning "), "{after}");
        assert_eq!(lines[lines.len() - 2], "warning 0499");
        assert_eq!(lines[lines.len() - 1], "after the cut");
        assert!(after.len() < 2048, "{}", after.len());

        // A reopening that leads to another file is never read from.
        let other = std::fs::File::open(dir.path()).unwrap();
        let mut buf = [0u8; 4];
        assert!(read_same_file_at(&f, &other, &mut buf, 0).is_err());
    }

    #[test]
    fn nothing_is_counted_before_the_daemon_sets_a_bound() {
        // The CLI shares this module through `tracing`'s writer; only the daemon activates it,
        // so a CLI run with `2>>file` never cuts the user's file.
        let mut s = State {
            max: 8192,
            since_check: 0,
            active: false,
        };
        assert!(!account(&mut s, 1 << 20));
        assert_eq!(s.since_check, 0);
        s.active = true;
        assert!(!account(&mut s, 1000));
        assert!(account(&mut s, 24), "due at an eighth of the bound");
    }
}
