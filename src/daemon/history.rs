//! The history log: an append-only, size-bounded JSON-lines file of holds, waits, stale verdicts
//! and kills, and the summary `cargo lockwatch history` prints from it — who blocked whom, how
//! often, and for how long. It also lets a restarted daemon remember when a hold began.
//!
//! Rotation and what it may discard: when `history.jsonl` reaches the bound it is renamed, whole,
//! to `history.1.jsonl`, replacing the previous `history.1.jsonl`. That previous generation is
//! the only history ever discarded; nothing is cut or truncated in place, whatever the file's
//! size (one grown under a bound since lowered, or by an older version, is moved whole). While
//! the bound in use is not the user's (the config file is unusable, or its
//! `daemon.history_max_bytes` was rejected), the log rotates at no less than the size of
//! `history.1.jsonl`, so a typo does not undo a raised bound.
//!
//! Only regular files are read (a FIFO would block `open(2)` forever, a device may read zeros
//! forever); symbolic links to regular files are followed. Every open is `O_NONBLOCK`, so a FIFO
//! put there between the check and the open cannot hang a reader either.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::config::{Loaded, Provenance};
pub use crate::core::insight::{Summarizer, Summary, bytes, render, summarize};
use crate::core::model::{FileKey, ProcName};
pub use crate::core::policy::{Episode, WaitEpisode, event_time};
use crate::core::policy::{HistoryEvent, ProcId};

/// The log rotates when it grows past this (unless configured otherwise); one rotated file is
/// kept, so the total stays under about twice this (once a file that was already bigger has
/// been replaced by the next rotation).
pub const MAX_BYTES: u64 = 4 * 1024 * 1024;

/// The longest line written or read. A writer shortens command lines to fit; a reader skips a
/// longer line (counted as unreadable, and as oversized with its size) without holding it in
/// memory.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// How many bytes of oversized lines (over [`MAX_LINE_BYTES`]: a corrupt or hand-edited file) a
/// reader passes over in one file on top of its read bound, to reach the events before them.
/// They are read through without being parsed or held, so they do not count against the bound,
/// which is there to keep the parsing (time) bounded; this allowance keeps the reading bounded
/// too: whatever a file holds, at most its newest `bound × 2` bytes of lines of sane size and
/// this much of oversized lines between them are read, so a file of gigabytes is never read
/// whole.
pub const OVERSIZED_READ_BYTES: u64 = 32 * 1024 * 1024;

/// The size of the chunks a reader reads a file's end in, walking back to where it starts.
const WALK_CHUNK: usize = 64 * 1024;

/// The append-only log.
#[derive(Debug, Clone)]
pub struct History {
    path: PathBuf,
    max_bytes: u64,
    /// The bound is the default standing in for a setting that could not be read: rotate at no
    /// less than what the previous generation shows was in use.
    bound_in_doubt: bool,
}

/// A history file that is not a regular file: it is never read (a FIFO would block `open(2)`
/// forever) nor appended to (what a FIFO takes is lost).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{} is not a regular file ({kind}); move it aside", path.display())]
pub struct NotRegular {
    /// The file.
    pub path: PathBuf,
    /// What it is instead ("a FIFO", "a directory" …).
    pub kind: &'static str,
}

/// What an append did besides appending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// `history.jsonl` was renamed, whole, to `history.1.jsonl`.
    Moved {
        /// The size of the file moved.
        size: u64,
        /// The bound it reached.
        bound: u64,
        /// The size of the previous `history.1.jsonl` it replaced, if there was one.
        replaced: Option<u64>,
    },
    /// `history.jsonl` is past its bound but `history.1.jsonl` is not a regular file: the log
    /// is not rotated (and grows) until it is moved aside.
    Refused(NotRegular),
}

impl std::fmt::Display for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rotation::Moved {
                size,
                bound,
                replaced,
            } => {
                write!(
                    f,
                    "{} over the {} bound: moved to history.1.jsonl",
                    bytes(*size),
                    bytes(*bound)
                )?;
                match replaced {
                    Some(old) => write!(f, ", replacing the previous one ({})", bytes(*old)),
                    None => Ok(()),
                }
            }
            Rotation::Refused(e) => write!(
                f,
                "cannot rotate: {e}; history.jsonl grows past its bound until then"
            ),
        }
    }
}

/// A batch that could not be written whole.
#[derive(Debug)]
pub struct AppendError {
    /// How many events of the batch, from its start, are safely in the file.
    pub written: usize,
    /// What went wrong.
    pub error: io::Error,
}

impl std::fmt::Display for AppendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)
    }
}

/// What reading the log met besides events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Events read.
    pub events: u64,
    /// Lines that could not be read (torn by a crash, overlong, hand-edited).
    pub unreadable: usize,
    /// Of those, lines over [`MAX_LINE_BYTES`], passed over without being held.
    pub oversized: usize,
    /// The bytes of those oversized lines, newlines included.
    pub oversized_bytes: u64,
    /// Bytes of older history not read because a file was over what is read of it (see
    /// [`History::scan`]).
    pub skipped_bytes: u64,
}

impl History {
    /// The log in `data_dir` (created on first write).
    pub fn new(data_dir: &Path) -> History {
        History::with_limit(data_dir, MAX_BYTES)
    }

    /// A log that rotates past `max_bytes` (`daemon.history_max_bytes`).
    pub fn with_limit(data_dir: &Path, max_bytes: u64) -> History {
        History {
            path: data_dir.join("history.jsonl"),
            max_bytes: max_bytes.max(1),
            bound_in_doubt: false,
        }
    }

    /// The log of `data_dir` with the bound of `loaded` (see [`bound_in_doubt`]).
    pub fn for_config(data_dir: &Path, loaded: &Loaded) -> History {
        let mut h = History::with_limit(data_dir, loaded.config.daemon.history_max_bytes);
        h.bound_in_doubt = bound_in_doubt(loaded);
        h
    }

    /// Changes the rotation size (after a config reload).
    pub fn set_limit(&mut self, max_bytes: u64) {
        self.max_bytes = max_bytes.max(1);
    }

    /// Marks the bound as a default standing in for a setting that could not be used (see
    /// [`bound_in_doubt`]).
    pub fn set_bound_in_doubt(&mut self, doubt: bool) {
        self.bound_in_doubt = doubt;
    }

    /// Takes the bound of a reloaded configuration (see [`bound_in_doubt`]).
    pub fn configure(&mut self, loaded: &Loaded) {
        self.set_limit(loaded.config.daemon.history_max_bytes);
        self.bound_in_doubt = bound_in_doubt(loaded);
    }

    /// The current file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The previous generation, `history.1.jsonl`.
    pub fn rotated(&self) -> PathBuf {
        self.path.with_extension("1.jsonl")
    }

    /// The size at which the log rotates: the configured bound, or, while that is in doubt, no
    /// less than the previous generation's size (the bound it was rotated at).
    pub fn bound(&self) -> u64 {
        if !self.bound_in_doubt {
            return self.max_bytes;
        }
        let previous =
            fs::metadata(self.rotated()).map_or(0, |m| if m.is_file() { m.len() } else { 0 });
        self.max_bytes.max(previous)
    }

    /// The most a reader parses of one file: its newest lines, adding up to twice the rotation
    /// size (oversized lines, never parsed, aside: see [`OVERSIZED_READ_BYTES`]).
    fn read_cap(&self) -> u64 {
        self.bound().saturating_mul(2)
    }

    /// Whether both files are regular files (or absent). The first that is not is named.
    pub fn check(&self) -> Result<(), NotRegular> {
        for path in [self.path.clone(), self.rotated()] {
            if let Ok(m) = fs::metadata(&path)
                && !m.is_file()
            {
                return Err(not_regular(&path, m.file_type()));
            }
        }
        Ok(())
    }

    /// Appends events, one whole line each, rotating first when the file is too big. When the
    /// file does not end with a newline (a write torn by a crash or a full disk) a new line is
    /// started, so the torn fragment never swallows the next event.
    ///
    /// Returns what rotation did, if anything, for the daemon's log. A file that is not a
    /// regular file (a FIFO, a socket, a directory) is an error naming it; a character device
    /// (`/dev/null`, to keep no history) is written to as it is.
    pub fn append(&self, events: &[HistoryEvent]) -> Result<Option<Rotation>, AppendError> {
        if events.is_empty() {
            return Ok(None);
        }
        let nothing = |error: io::Error| AppendError { written: 0, error };
        if let Some(dir) = self.path.parent() {
            create_private_dir(dir).map_err(nothing)?;
        }
        let rotation = self.rotate_if_full().map_err(nothing)?;
        let mut f = self.open_to_append().map_err(nothing)?;
        let torn = ends_torn(&f).map_err(nothing)?;
        let (text, ends) = lines_of(events, torn);
        write_batch(&mut f, &text, &ends)?;
        Ok(rotation)
    }

    /// Rotates the log when it is a regular file at or over the bound; what rotation did, if
    /// it ran.
    fn rotate_if_full(&self) -> io::Result<Option<Rotation>> {
        if let Ok(m) = fs::metadata(&self.path)
            && m.is_file()
        {
            let bound = self.bound();
            if m.len() >= bound {
                return self.rotate(m.len(), bound).map(Some);
            }
        }
        Ok(None)
    }

    /// The log opened (created when missing, this user's only) for appending.
    fn open_to_append(&self) -> io::Result<fs::File> {
        let f = open_log(
            &self.path,
            OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .mode(0o600),
            Access::Append,
        )?;
        keep_private(&f);
        Ok(f)
    }

    /// Renames the current file, whole, to `history.1.jsonl`, replacing the previous
    /// generation: the only history a rotation discards. Never cuts or copies a file, whatever
    /// its size. When `history.1.jsonl` is not a regular file it is left alone and the log is
    /// not rotated: it grows instead of losing anything.
    fn rotate(&self, size: u64, bound: u64) -> io::Result<Rotation> {
        let to = self.rotated();
        let replaced = match fs::symlink_metadata(&to) {
            Ok(m) if m.is_file() => Some(m.len()),
            // A symbolic link is replaced, not followed: what it leads to stays where it is.
            Ok(m) if m.file_type().is_symlink() => None,
            Ok(m) => return Ok(Rotation::Refused(not_regular(&to, m.file_type()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        fs::rename(&self.path, &to)?;
        Ok(Rotation::Moved {
            size,
            bound,
            replaced,
        })
    }

    /// Streams every event, oldest first, to `f`, reading at most the newest part of each file
    /// and never holding more than one line in memory. Unreadable lines are counted, never fatal.
    ///
    /// What is read of a file: its newest whole lines of sane size adding up to at most twice
    /// the rotation size (the read bound, which keeps parsing quick), and the oversized lines
    /// (over [`MAX_LINE_BYTES`]) among them, up to [`OVERSIZED_READ_BYTES`] in all: those are
    /// read through without being parsed or held, counted as unreadable and oversized, and do
    /// not hide the events before them. Only what is older than that is left unread, counted in
    /// [`ScanStats::skipped_bytes`] (the file itself is over what is read of it).
    pub fn scan(&self, mut f: impl FnMut(HistoryEvent)) -> ScanStats {
        let mut stats = ScanStats::default();
        // Once per scan: while the bound is in doubt it costs a stat.
        let cap = self.read_cap();
        for path in [self.rotated(), self.path.clone()] {
            let Some((file, start, len)) = open_newest_part(&path, cap, &mut stats) else {
                continue;
            };
            // The file may grow while it is read: never read more than its length then, and the
            // rest of a line being written.
            let budget = (len - start).saturating_add(MAX_LINE_BYTES as u64);
            let reader = BufReader::with_capacity(WALK_CHUNK, file.take(budget));
            read_events(Tally::new(reader), &mut stats, &mut f);
        }
        stats
    }

    /// Reads every event into memory, oldest first, with the number of unreadable lines (the
    /// read is bounded as in [`History::scan`]).
    pub fn read(&self) -> (Vec<HistoryEvent>, usize) {
        let mut events = Vec::new();
        let stats = self.scan(|e| events.push(e));
        (events, stats.unreadable)
    }

    /// The summary of events at or after `since`, streamed from the files.
    pub fn summary(&self, since: f64) -> (Summary, ScanStats) {
        let mut s = Summarizer::new(since);
        let mut workspaces = Workspaces::default();
        let stats = self.scan(|mut e| {
            workspaces.name_in(&mut e);
            s.add(&e)
        });
        let mut summary = s.finish(stats.unreadable);
        summary.skipped_bytes = stats.skipped_bytes;
        summary.oversized_lines = stats.oversized;
        summary.oversized_bytes = stats.oversized_bytes;
        (summary, stats)
    }

    /// Holds and waits still open when the log ends (see [`open_episodes`]), streamed.
    pub fn open_episodes(&self) -> (Vec<Episode>, Vec<WaitEpisode>) {
        let mut t = EpisodeTracker::default();
        self.scan(|e| t.add(&e));
        t.finish()
    }
}

/// The workspace each project directory belongs to, looked up once per directory.
#[derive(Default)]
struct Workspaces(HashMap<PathBuf, PathBuf>);

impl Workspaces {
    /// Names the workspace as the project of a wait for a Cargo home's lock: it was the
    /// waiter's working directory, where a build lock's project is its workspace's (the
    /// target dir's), so `cargo build` in a member and at the root were three projects
    /// (review W, W2). A directory that is gone, or in no workspace, stays as it is.
    fn name_in(&mut self, e: &mut HistoryEvent) {
        let HistoryEvent::WaitEnded {
            path,
            party,
            blocker,
            ..
        } = e
        else {
            return;
        };
        let in_home = crate::core::catalog::classify(path)
            .is_some_and(crate::core::catalog::LockKind::in_cargo_home);
        if !in_home {
            return;
        }
        for project in [&mut party.project, &mut blocker.project] {
            if let Some(dir) = project.as_mut() {
                *dir = self.of(dir);
            }
        }
    }

    /// The workspace root of `dir`, or `dir`.
    fn of(&mut self, dir: &Path) -> PathBuf {
        let root = self.0.entry(dir.to_path_buf()).or_insert_with(|| {
            crate::cargo_dirs::workspace_root(dir).unwrap_or_else(|| dir.to_path_buf())
        });
        root.clone()
    }
}

/// Whether the log `f` ends in the middle of a line (a write torn by a crash or a full disk).
fn ends_torn(f: &fs::File) -> io::Result<bool> {
    let len = f.metadata()?.len();
    let mut last = [0u8; 1];
    Ok(len > 0
        && f.read_at(&mut last, len - 1)
            .is_ok_and(|n| n == 1 && last[0] != b'\n'))
}

/// The events as lines to append (after a newline when the log is `torn`), with where each
/// event's line ends in them, to tell how many made it on a short write.
fn lines_of(events: &[HistoryEvent], torn: bool) -> (Vec<u8>, Vec<usize>) {
    let mut text = Vec::new();
    if torn {
        text.push(b'\n');
    }
    let mut ends = Vec::with_capacity(events.len());
    for e in events {
        text.extend_from_slice(bounded_line(e).as_bytes());
        text.push(b'\n');
        ends.push(text.len());
    }
    (text, ends)
}

/// Writes `text` to `f`, retrying short writes; on failure, how many events (their lines ending
/// at `ends`) were written whole.
fn write_batch(f: &mut fs::File, text: &[u8], ends: &[usize]) -> Result<(), AppendError> {
    // One write per batch where possible: lines from concurrent writers do not interleave.
    let mut done = 0;
    while done < text.len() {
        match f.write(&text[done..]) {
            Ok(0) => {
                let error = io::Error::new(io::ErrorKind::WriteZero, "the disk took nothing");
                return Err(AppendError {
                    written: ends.iter().take_while(|e| **e <= done).count(),
                    error,
                });
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => {
                return Err(AppendError {
                    written: ends.iter().take_while(|e| **e <= done).count(),
                    error,
                });
            }
        }
    }
    Ok(())
}

/// `path` opened for reading, positioned at the start of what is read of it (see
/// [`newest_start`]), with that start and the file's length. None when there is nothing to read;
/// `stats` count a failure and the bytes left unread.
fn open_newest_part(path: &Path, cap: u64, stats: &mut ScanStats) -> Option<(fs::File, u64, u64)> {
    // A FIFO (would block in open(2) forever), a directory, a device (/dev/full reads
    // zeros forever): not a log. Missing, or under a file (it cannot be there): nothing
    // to read.
    let mut file = match open_log(path, OpenOptions::new().read(true), Access::Read) {
        Ok(f) => f,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return None;
        }
        Err(_) => {
            stats.unreadable += 1;
            return None;
        }
    };
    let len = match file.metadata() {
        Ok(m) => m.len(),
        Err(_) => {
            stats.unreadable += 1;
            return None;
        }
    };
    let Ok(start) = newest_start(&file, len, cap) else {
        stats.unreadable += 1;
        return None;
    };
    if start > 0 && file.seek(SeekFrom::Start(start)).is_err() {
        stats.unreadable += 1;
        return None;
    }
    stats.skipped_bytes += start;
    Some((file, start, len))
}

/// Where reading a file of `len` bytes starts, always at a line's start: its newest lines of
/// sane size (at most [`MAX_LINE_BYTES`], newline aside) adding up to at most `cap` bytes, with
/// the oversized lines among them adding up to at most [`OVERSIZED_READ_BYTES`]. Found by
/// walking back from the end in chunks; what is looked at is bounded by those two sizes (and
/// one line of sane size), whatever the file holds. A file of at most `cap` bytes is read whole.
fn newest_start(file: &fs::File, len: u64, cap: u64) -> io::Result<u64> {
    if len <= cap {
        return Ok(0);
    }
    let mut back = Backwards::new(file);
    let mut last = [0u8];
    file.read_exact_at(&mut last, len - 1)?;
    // The line walked back over ends at `end` (its newline included); its content at
    // `content_end`.
    let mut end = len;
    let mut content_end = if last[0] == b'\n' { len - 1 } else { len };
    // Lines of sane size and oversized ones from `end` on, newlines included.
    let (mut counted, mut passed) = (0u64, 0u64);
    loop {
        // How far back this line may start: as an oversized line within the allowance left,
        // or as one of sane size.
        let reach = OVERSIZED_READ_BYTES
            .saturating_sub(passed)
            .max(MAX_LINE_BYTES as u64 + 1);
        let floor = content_end.saturating_sub(reach);
        let start = match back.newline_before(content_end, floor)? {
            Some(newline) => newline + 1,
            None if floor == 0 => 0,
            // Longer than what may still be passed over: neither it nor anything older is read.
            None => return Ok(end),
        };
        let size = end - start;
        if content_end - start > MAX_LINE_BYTES as u64 {
            if passed + size > OVERSIZED_READ_BYTES {
                return Ok(end);
            }
            passed += size;
        } else {
            if counted + size > cap {
                return Ok(end);
            }
            counted += size;
        }
        end = start;
        if start == 0 {
            return Ok(0);
        }
        content_end = start - 1;
    }
}

/// A file read backwards in chunks, to find line starts from its end.
struct Backwards<'a> {
    file: &'a fs::File,
    chunk: Vec<u8>,
    /// Where in the file `chunk` starts.
    from: u64,
}

impl<'a> Backwards<'a> {
    fn new(file: &'a fs::File) -> Backwards<'a> {
        Backwards {
            file,
            chunk: Vec::with_capacity(WALK_CHUNK),
            from: 0,
        }
    }

    /// Where the last newline before `pos` and at or after `floor` is, if there is one.
    fn newline_before(&mut self, mut pos: u64, floor: u64) -> io::Result<Option<u64>> {
        while pos > floor {
            let end = self.from + self.chunk.len() as u64;
            if !(self.from < pos && pos <= end) {
                let from = pos.saturating_sub(WALK_CHUNK as u64);
                self.chunk.resize((pos - from) as usize, 0);
                self.file.read_exact_at(&mut self.chunk, from)?;
                self.from = from;
            }
            let low = floor.max(self.from);
            let seen = &self.chunk[(low - self.from) as usize..(pos - self.from) as usize];
            if let Some(i) = seen.iter().rposition(|b| *b == b'\n') {
                return Ok(Some(low + i as u64));
            }
            pos = low;
        }
        Ok(None)
    }
}

/// A reader that counts the bytes consumed from it, to tell an overlong line's size.
struct Tally<R> {
    inner: R,
    consumed: u64,
}

impl<R> Tally<R> {
    fn new(inner: R) -> Tally<R> {
        Tally { inner, consumed: 0 }
    }
}

impl<R: BufRead> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Tally<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.consumed += amt as u64;
        self.inner.consume(amt);
    }
}

/// Streams the events of `reader`'s lines to `f`, counting the events, the lines that are not
/// one and the oversized ones in `stats`.
fn read_events<R: BufRead>(
    mut reader: Tally<R>,
    stats: &mut ScanStats,
    f: &mut impl FnMut(HistoryEvent),
) {
    let mut line = Vec::new();
    loop {
        let at = reader.consumed;
        match read_bounded_line(&mut reader, &mut line, MAX_LINE_BYTES) {
            Ok(Line::End) => break,
            Ok(Line::Overlong) => {
                stats.unreadable += 1;
                stats.oversized += 1;
                stats.oversized_bytes += reader.consumed - at;
            }
            Ok(Line::Complete | Line::Unterminated) => {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match serde_json::from_slice::<HistoryEvent>(&line) {
                    Ok(e) => {
                        stats.events += 1;
                        f(e);
                    }
                    Err(_) => stats.unreadable += 1,
                }
            }
            // A directory, EIO: it would repeat forever; stop reading this file.
            Err(_) => {
                stats.unreadable += 1;
                break;
            }
        }
    }
}

/// Whether the history bound of `loaded` is only the default standing in for a setting that
/// could not be used: the config file is unusable, or its (or the environment's)
/// `daemon.history_max_bytes` was rejected. The log then rotates at no less than its previous
/// generation's size, so a typo never shrinks a bound the user raised.
pub fn bound_in_doubt(loaded: &Loaded) -> bool {
    const KEY: &str = "daemon.history_max_bytes";
    let defaulted = loaded
        .provenance
        .get(KEY)
        .is_none_or(|p| *p == Provenance::Default);
    defaulted
        && (loaded.file_unusable.is_some()
            || loaded
                .warnings
                .iter()
                .any(|w| w.contains("history_max_bytes")))
}

/// What an opening is for: reading takes only a regular file; appending also takes a
/// character device (`/dev/null` to keep no history, `/dev/full` in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Append,
}

/// What a file type is, in words.
fn kind_of(t: fs::FileType) -> &'static str {
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    }
}

fn not_regular(path: &Path, t: fs::FileType) -> NotRegular {
    NotRegular {
        path: path.to_path_buf(),
        kind: kind_of(t),
    }
}

/// Makes `dir` and its missing parents, readable by this user only: the history names every
/// process that held or waited, their command lines and directories (every user's, under
/// root). A directory that exists keeps its mode.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// A history file others could read (made by an older version, or with a loose umask) is
/// made this user's only; a device (`/dev/null`) or another user's file is left as it is.
fn keep_private(f: &fs::File) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(m) = f.metadata() else { return };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if m.is_file() && m.uid() == me && m.mode() & 0o077 != 0 {
        let _ = f.set_permissions(fs::Permissions::from_mode(0o600));
    }
}

fn accepted(t: fs::FileType, access: Access) -> bool {
    t.is_file() || (access == Access::Append && t.is_char_device())
}

/// Opens a history file (following symbolic links) only when it is a file `access` takes: the
/// type is checked before opening, and the open is `O_NONBLOCK` so a FIFO swapped in meanwhile
/// cannot block it; the opened file is checked again.
fn open_log(path: &Path, opts: &mut OpenOptions, access: Access) -> io::Result<fs::File> {
    let refuse = |t| io::Error::other(not_regular(path, t));
    match fs::metadata(path) {
        Ok(m) if !accepted(m.file_type(), access) => return Err(refuse(m.file_type())),
        _ => {}
    }
    let file = opts
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    let t = file.metadata()?.file_type();
    if !accepted(t, access) {
        return Err(refuse(t));
    }
    Ok(file)
}

/// The [`NotRegular`] inside an I/O error from this module, if that is what it is.
pub fn as_not_regular(e: &io::Error) -> Option<&NotRegular> {
    e.get_ref().and_then(|r| r.downcast_ref::<NotRegular>())
}

/// How a bounded line read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// A line ending in a newline (not included).
    Complete,
    /// The last line, without a newline.
    Unterminated,
    /// Longer than the bound: skipped up to its newline; the buffer is empty.
    Overlong,
    /// Nothing more.
    End,
}

/// Reads one line of at most `max` bytes into `buf` (cleared first); an overlong line is read
/// past and dropped, so memory never exceeds `max` whatever the input.
pub fn read_bounded_line(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    let mut overlong = false;
    let mut any = false;
    loop {
        let available = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(match (any, overlong) {
                (false, _) => Line::End,
                (true, true) => Line::Overlong,
                (true, false) => Line::Unterminated,
            });
        }
        any = true;
        let (take, complete) = match available.iter().position(|b| *b == b'\n') {
            Some(pos) => (pos, true),
            None => (available.len(), false),
        };
        if !overlong {
            if buf.len() + take > max {
                overlong = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&available[..take]);
            }
        }
        r.consume(take + usize::from(complete));
        if complete {
            return Ok(if overlong {
                Line::Overlong
            } else {
                Line::Complete
            });
        }
    }
}

/// The event as one JSON line of at most [`MAX_LINE_BYTES`] (newline not included): command
/// lines and lists are shortened when needed, the event itself is never dropped.
pub fn bounded_line(e: &HistoryEvent) -> String {
    let fits = |s: &String| s.len() < MAX_LINE_BYTES;
    let line = serde_json::to_string(e).unwrap_or_default();
    if fits(&line) {
        return line;
    }
    for (items, chars) in [(16, 512), (4, 64), (0, 32)] {
        let mut short = e.clone();
        shorten(&mut short, items, chars);
        let line = serde_json::to_string(&short).unwrap_or_default();
        if fits(&line) {
            return line;
        }
    }
    // Only a path longer than any file system allows could get here.
    let mut short = e.clone();
    shorten(&mut short, 0, 32);
    strip_paths(&mut short);
    serde_json::to_string(&short).unwrap_or_default()
}

fn cut(s: &mut String, chars: usize) {
    if let Some((i, _)) = s.char_indices().nth(chars) {
        s.truncate(i);
        s.push('…');
    }
}

fn cut_name(name: &mut ProcName, chars: usize) {
    let mut s = name.raw().to_string();
    cut(&mut s, chars);
    *name = s.into();
}

fn cut_all(v: &mut Vec<String>, items: usize, chars: usize) {
    v.truncate(items);
    v.iter_mut().for_each(|s| cut(s, chars));
}

fn cut_pairs(v: &mut Vec<(ProcName, u32)>, items: usize, chars: usize) {
    v.truncate(items.max(1));
    v.iter_mut().for_each(|(s, _)| cut_name(s, chars));
}

/// Cuts the event's names and command lines to `chars` characters and its lists to `items`
/// (some lists keep one item at least).
fn shorten(e: &mut HistoryEvent, items: usize, chars: usize) {
    match e {
        HistoryEvent::Acquired { name, cmd, .. } | HistoryEvent::Released { name, cmd, .. } => {
            cut_name(name, chars);
            cut_all(cmd, items, chars);
        }
        HistoryEvent::WaitStarted {
            name,
            cmd,
            blocked_by,
            blocked_by_cmd,
            ..
        }
        | HistoryEvent::WaitEnded {
            name,
            cmd,
            blocked_by,
            blocked_by_cmd,
            ..
        } => {
            cut_name(name, chars);
            cut_all(cmd, items, chars);
            cut_blockers(blocked_by, blocked_by_cmd, items, chars);
        }
        HistoryEvent::Stale {
            name,
            reasons,
            blocked,
            ..
        } => {
            cut_name(name, chars);
            reasons.truncate(items.max(1));
            cut_pairs(blocked, items, chars);
        }
        HistoryEvent::Killed {
            name,
            signal,
            paths,
            ..
        } => {
            cut_name(name, chars);
            cut(signal, chars);
            paths.truncate(items.max(1));
        }
        HistoryEvent::Yielded {
            name,
            cmd,
            for_waiter,
            paths,
            ..
        } => {
            cut_name(name, chars);
            cut_all(cmd, items, chars);
            cut_name(&mut for_waiter.0, chars);
            paths.truncate(items.max(1));
        }
    }
}

/// Cuts a wait's blockers (name, pid) and their command lines to `items`, each to `chars`.
fn cut_blockers(
    blocked_by: &mut Vec<(ProcName, u32)>,
    blocked_by_cmd: &mut Vec<Vec<String>>,
    items: usize,
    chars: usize,
) {
    cut_pairs(blocked_by, items, chars);
    blocked_by_cmd.truncate(items);
    blocked_by_cmd
        .iter_mut()
        .for_each(|c| cut_all(c, items, chars));
}

fn strip_paths(e: &mut HistoryEvent) {
    let short = |p: &mut PathBuf| {
        let mut s = p.to_string_lossy().into_owned();
        cut(&mut s, 1024);
        *p = PathBuf::from(s);
    };
    match e {
        HistoryEvent::Acquired { path, .. }
        | HistoryEvent::Released { path, .. }
        | HistoryEvent::WaitStarted { path, .. }
        | HistoryEvent::WaitEnded { path, .. }
        | HistoryEvent::Stale { path, .. } => short(path),
        HistoryEvent::Killed { paths, .. } | HistoryEvent::Yielded { paths, .. } => {
            paths.iter_mut().for_each(short)
        }
    }
}

/// Holds and waits that were open when the log ends (the daemon stopped mid-hold), with their
/// start times, so a restarted daemon keeps counting from the real start.
pub fn open_episodes(events: &[HistoryEvent]) -> (Vec<Episode>, Vec<WaitEpisode>) {
    let mut t = EpisodeTracker::default();
    events.iter().for_each(|e| t.add(e));
    t.finish()
}

/// Folds events one at a time into the holds and waits still open (see [`open_episodes`]).
#[derive(Debug, Default)]
pub struct EpisodeTracker {
    holds: HashMap<(u64, ProcId), (FileKey, f64, bool)>,
    waits: HashMap<(u64, ProcId), WaitEpisode>,
}

impl EpisodeTracker {
    /// Takes one event.
    pub fn add(&mut self, e: &HistoryEvent) {
        match e {
            HistoryEvent::Acquired {
                at,
                dev,
                ino,
                holder,
                since_known,
                ..
            } => {
                let key = FileKey {
                    dev: *dev,
                    ino: *ino,
                };
                self.holds.insert((*ino, *holder), (key, *at, *since_known));
            }
            HistoryEvent::Released { ino, holder, .. } => {
                self.holds.remove(&(*ino, *holder));
            }
            HistoryEvent::WaitStarted {
                at,
                dev,
                ino,
                waiter,
                since_known,
                began,
                began_known,
                on_lock,
                ..
            } => {
                let key = FileKey {
                    dev: *dev,
                    ino: *ino,
                };
                let (began, began_known) = match began {
                    Some(t) => (*t, *began_known),
                    None => (*at, *since_known),
                };
                // Lines of older versions: this part's start, not `began`, which may be that
                // of a wait for another lock before (review 14, C2).
                let on_lock = on_lock.unwrap_or(*at);
                let open = (
                    (key, *waiter, *at, *since_known),
                    began,
                    began_known,
                    on_lock,
                );
                self.waits.insert((*ino, *waiter), open);
            }
            HistoryEvent::WaitEnded { ino, waiter, .. } => {
                self.waits.remove(&(*ino, *waiter));
            }
            _ => {}
        }
    }

    /// The open holds and waits, oldest first.
    pub fn finish(self) -> (Vec<Episode>, Vec<WaitEpisode>) {
        let mut holds: Vec<Episode> = (self.holds.into_iter())
            .map(|((_, id), (k, t, known))| (k, id, t, known))
            .collect();
        holds.sort_by(|a, b| a.2.total_cmp(&b.2));
        let mut waits: Vec<WaitEpisode> = self.waits.into_values().collect();
        waits.sort_by(|a, b| a.1.total_cmp(&b.1));
        (holds, waits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::catalog::LockKind;
    use crate::core::model::LockMode;
    use crate::core::policy::Party;

    fn id(pid: u32) -> ProcId {
        ProcId {
            pid,
            start_token: 7,
        }
    }

    fn acquired(at: f64, pid: u32) -> HistoryEvent {
        HistoryEvent::Acquired {
            at,
            path: "/h/.package-cache".into(),
            kind: LockKind::PackageCache,
            dev: 3,
            ino: 9,
            holder: id(pid),
            name: "cargo".into(),
            cmd: vec!["cargo".into(), "check".into()],
            mode: LockMode::Exclusive,
            since_known: true,
            party: Party::default(),
        }
    }

    fn wait_ended(at: f64, pid: u32, secs: f64) -> HistoryEvent {
        HistoryEvent::WaitEnded {
            at,
            path: "/h/.package-cache".into(),
            ino: 9,
            waiter: id(pid),
            name: "cargo".into(),
            waited_secs: secs,
            since_known: true,
            blocked_by: vec![("rust-analyzer".into(), 10)],
            cmd: vec![],
            blocked_by_cmd: vec![],
            party: Party::default(),
            blocker: Party::default(),
            lock_description: String::new(),
            goes_on: false,
        }
    }

    /// `cargo build` in a workspace's members and at its root waited for the package cache:
    /// one project, the workspace, as the build lock's rows have it (review W, W2).
    #[test]
    fn waits_for_the_package_cache_are_the_workspace_s() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        let member = ws.join("ma");
        fs::create_dir_all(member.join("src")).unwrap();
        fs::write(ws.join("Cargo.toml"), "[workspace]\nmembers = [\"ma\"]\n").unwrap();
        let package = "[package]\nname = \"ma\"\nversion = \"0.1.0\"\n";
        fs::write(member.join("Cargo.toml"), package).unwrap();
        let h = History::new(&dir.path().join("data"));
        let in_dir = |at: f64, pid: u32, cwd: &Path| {
            let mut e = wait_ended(at, pid, 40.0);
            if let HistoryEvent::WaitEnded { party, .. } = &mut e {
                party.origin = Some(crate::core::model::Origin::Terminal);
                party.project = Some(cwd.to_path_buf());
            }
            e
        };
        let gone = dir.path().join("gone");
        let events = [
            in_dir(1.0, 20, &ws),
            in_dir(2.0, 21, &member.join("src")),
            in_dir(3.0, 22, &member),
            in_dir(4.0, 23, &gone),
        ];
        h.append(&events).unwrap();
        let (summary, _) = h.summary(0.0);
        let rows: Vec<(Option<PathBuf>, u32)> = (summary.blocked.iter())
            .map(|r| (r.project.clone(), r.times))
            .collect();
        assert_eq!(rows, [(Some(ws), 3), (Some(gone), 1)], "{rows:?}");
    }

    #[test]
    fn appends_reads_and_skips_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        h.append(&[acquired(1.0, 10)]).unwrap();
        let mut f = OpenOptions::new().append(true).open(h.path()).unwrap();
        f.write_all(b"{\"event\":\"acquired\",\"at\":").unwrap();
        f.write_all(b"\nnot json\n").unwrap();
        h.append(&[wait_ended(5.0, 11, 4.0)]).unwrap();
        let (events, bad) = h.read();
        assert_eq!(events.len(), 2);
        assert_eq!(bad, 2);
    }

    #[test]
    fn the_history_and_its_directory_are_this_user_s_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("share/cargo-lockwatch");
        let h = History::new(&data);
        h.append(&[acquired(1.0, 10)]).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(h.path()), 0o600);
        // A file an older version left readable by all is made private at the next event.
        fs::set_permissions(h.path(), fs::Permissions::from_mode(0o644)).unwrap();
        h.append(&[acquired(2.0, 10)]).unwrap();
        assert_eq!(mode(h.path()), 0o600);
        assert_eq!(h.read().0.len(), 2);
    }

    #[test]
    fn a_torn_last_line_does_not_swallow_the_next_event() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        h.append(&[acquired(1.0, 10)]).unwrap();
        // A crash (or a full disk) mid-write: the last line has no newline.
        let mut f = OpenOptions::new().append(true).open(h.path()).unwrap();
        f.write_all(b"{\"event\":\"acquired\",\"at\":2").unwrap();
        h.append(&[wait_ended(5.0, 11, 4.0)]).unwrap();
        let (events, bad) = h.read();
        assert_eq!(events.len(), 2, "the event after the fragment is readable");
        assert_eq!(bad, 1, "only the fragment is lost");
        assert!(fs::read(h.path()).unwrap().ends_with(b"\n"));
    }

    #[test]
    fn overlong_lines_are_skipped_without_being_held() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        let mut text = vec![b'x'; 3 * MAX_LINE_BYTES];
        text.push(b'\n');
        fs::write(h.path(), &text).unwrap();
        h.append(&[acquired(1.0, 10)]).unwrap();
        let mut buf = Vec::new();
        let mut r = BufReader::new(fs::File::open(h.path()).unwrap());
        assert_eq!(
            read_bounded_line(&mut r, &mut buf, MAX_LINE_BYTES).unwrap(),
            Line::Overlong
        );
        assert!(buf.capacity() <= 2 * MAX_LINE_BYTES, "never held whole");
        let (events, bad) = h.read();
        assert_eq!((events.len(), bad), (1, 1));
    }

    #[test]
    fn reads_only_the_newest_part_of_a_huge_file_and_rotation_trims_it() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::with_limit(dir.path(), 4096);
        let mut text = String::new();
        for i in 0..2000 {
            text.push_str(&serde_json::to_string(&acquired(i as f64, i)).unwrap());
            text.push('\n');
        }
        fs::write(h.path(), &text).unwrap();
        let mut n = 0;
        let mut last = 0.0;
        let stats = h.scan(|e| {
            n += 1;
            last = event_time(&e);
        });
        assert_eq!(stats.unreadable, 0);
        assert!(
            stats.skipped_bytes > 0 && n < 2000 && n > 10,
            "{stats:?} {n}"
        );
        assert_eq!(last, 1999.0, "the newest events are read");
        let (summary, _) = h.summary(0.0);
        assert_eq!(summary.skipped_bytes, stats.skipped_bytes);
        assert!(render(&summary, 86_400, None).contains("were not read"));

        let rotation = h.append(&[acquired(5000.0, 1)]).unwrap();
        assert_eq!(
            rotation,
            Some(Rotation::Moved {
                size: text.len() as u64,
                bound: 4096,
                replaced: None
            })
        );
        assert_eq!(
            fs::read_to_string(h.rotated()).unwrap(),
            text,
            "a huge file is moved whole, never cut"
        );
        let (events, bad) = h.read();
        assert_eq!(bad, 0);
        assert_eq!(event_time(events.last().unwrap()), 5000.0);
    }

    fn lines(from: u32, n: u32) -> String {
        (from..from + n)
            .map(|i| serde_json::to_string(&acquired(i as f64, i)).unwrap() + "\n")
            .collect()
    }

    #[test]
    fn rotation_discards_only_the_previous_generation_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        // A file grown under a raised bound, then a small default bound: moved whole.
        let h = History::with_limit(dir.path(), 1024);
        let big = lines(0, 500);
        let older = lines(10_000, 20);
        fs::write(h.rotated(), &older).unwrap();
        fs::write(h.path(), &big).unwrap();
        let r = h.append(&[acquired(9000.0, 1)]).unwrap().expect("rotated");
        assert_eq!(
            r,
            Rotation::Moved {
                size: big.len() as u64,
                bound: 1024,
                replaced: Some(older.len() as u64)
            }
        );
        let said = r.to_string();
        assert!(
            said.contains("over the 1 kB bound: moved to history.1.jsonl")
                && said.contains("replacing the previous one"),
            "{said}"
        );
        assert_eq!(fs::read_to_string(h.rotated()).unwrap(), big);
        let now = fs::read_to_string(h.path()).unwrap();
        assert_eq!(now.lines().count(), 1, "{now}");
        // Under the bound: no rotation.
        assert_eq!(h.append(&[acquired(9001.0, 1)]).unwrap(), None);
    }

    #[test]
    fn a_bound_in_doubt_never_rotates_below_the_previous_generation() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::with_limit(dir.path(), 1024);
        let previous = lines(0, 300);
        let current = lines(1000, 200);
        fs::write(h.rotated(), &previous).unwrap();
        fs::write(h.path(), &current).unwrap();
        h.bound_in_doubt = true;
        assert_eq!(h.bound(), previous.len() as u64);
        assert_eq!(h.append(&[acquired(5000.0, 1)]).unwrap(), None);
        assert_eq!(fs::read_to_string(h.rotated()).unwrap(), previous);
        // Trusted again (the file fixed): the configured bound applies.
        h.bound_in_doubt = false;
        assert_eq!(h.bound(), 1024);
        assert!(matches!(
            h.append(&[acquired(5001.0, 1)]).unwrap(),
            Some(Rotation::Moved { .. })
        ));
    }

    #[test]
    fn the_bound_is_in_doubt_only_when_the_setting_could_not_be_used() {
        use crate::config::FlagOverrides;
        let file = Path::new("/cfg/config.toml");
        let load = |text: Option<&str>, env: &[(&str, &str)]| {
            let env = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Loaded::from_sources(text, file, env, &FlagOverrides::default())
        };
        assert!(!bound_in_doubt(&load(None, &[])));
        let raised = "[daemon]\nhistory_max_bytes = 314572800\n";
        assert!(!bound_in_doubt(&load(Some(raised), &[])));
        // A typo anywhere: the whole file is ignored.
        assert!(bound_in_doubt(&load(
            Some("[daemon\nhistory_max_bytes = 3\n"),
            &[]
        )));
        // One bad value of the bound itself.
        assert!(bound_in_doubt(&load(
            Some("[daemon]\nhistory_max_bytes = 3\n"),
            &[]
        )));
        assert!(bound_in_doubt(&load(
            Some("[daemon]\nhistory_max_bytes = \"big\"\n"),
            &[]
        )));
        assert!(bound_in_doubt(&load(
            None,
            &[("LOCKWATCH_DAEMON_HISTORY_MAX_BYTES", "lots")]
        )));
        // Another bad value leaves the bound alone.
        assert!(!bound_in_doubt(&load(
            Some("[daemon]\nhistory_max_bytes = 314572800\nmax_clients = 0\n"),
            &[]
        )));
        // A good environment value wins over a broken file.
        assert!(!bound_in_doubt(&load(
            Some("[daemon\n"),
            &[("LOCKWATCH_DAEMON_HISTORY_MAX_BYTES", "314572800")]
        )));
    }

    #[test]
    fn a_fifo_is_never_opened_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        for fifo in [h.path().to_path_buf(), h.rotated()] {
            let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: mkfifo reads a NUL-terminated path that lives for the call.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            let err = h.check().unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "{} is not a regular file (a FIFO); move it aside",
                    fifo.display()
                )
            );
            // Neither a reader nor a writer blocks.
            let (events, bad) = h.read();
            assert!(events.is_empty());
            assert_eq!(bad, 1);
            if fifo == h.path() {
                let e = h.append(&[acquired(1.0, 1)]).unwrap_err();
                assert_eq!(e.written, 0);
                assert_eq!(as_not_regular(&e.error), Some(&err));
            } else {
                // history.jsonl past its bound with a FIFO as history.1: not rotated, kept.
                let h = History::with_limit(dir.path(), 10);
                h.append(&[acquired(1.0, 1)]).unwrap();
                let r = h.append(&[acquired(2.0, 1)]).unwrap();
                assert_eq!(r, Some(Rotation::Refused(err.clone())));
                assert!(r.unwrap().to_string().contains("move it aside"));
                let kept = fs::read_to_string(h.path()).unwrap();
                assert_eq!(kept.lines().count(), 2, "{kept}");
            }
            fs::remove_file(&fifo).unwrap();
        }
        assert_eq!(h.check(), Ok(()));
    }

    #[test]
    fn huge_command_lines_are_shortened_never_dropped() {
        let mut e = acquired(1.0, 10);
        if let HistoryEvent::Acquired { cmd, .. } = &mut e {
            *cmd = vec!["--flag=".repeat(40); 10_000];
        }
        let line = bounded_line(&e);
        assert!(line.len() < MAX_LINE_BYTES, "{}", line.len());
        let back: HistoryEvent = serde_json::from_str(&line).unwrap();
        assert_eq!(event_time(&back), 1.0);
        assert_eq!(
            bounded_line(&acquired(2.0, 3)),
            serde_json::to_string(&acquired(2.0, 3)).unwrap()
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_is_an_error_with_nothing_written() {
        // /dev/full takes nothing: every write fails with ENOSPC, as on a full disk.
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        std::os::unix::fs::symlink("/dev/full", h.path()).unwrap();
        let err = h
            .append(&[acquired(1.0, 10), acquired(2.0, 11)])
            .unwrap_err();
        assert_eq!(err.written, 0);
        assert_eq!(err.error.raw_os_error(), Some(libc::ENOSPC));
    }

    #[test]
    fn a_directory_in_place_of_the_log_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        fs::create_dir_all(h.path()).unwrap();
        let (events, bad) = h.read();
        assert!(events.is_empty());
        assert_eq!(bad, 1);
        let e = h.append(&[acquired(1.0, 10)]).unwrap_err();
        assert!(
            e.error.to_string().contains("(a directory); move it aside"),
            "{e}"
        );
    }

    #[test]
    fn stays_bounded_by_rotating_once() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::with_limit(dir.path(), 2_000);
        for i in 0..200 {
            h.append(&[acquired(i as f64, i)]).unwrap();
        }
        let total: u64 = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.metadata().unwrap().len())
            .sum();
        assert!(total < 2 * 2_000 + 1_000, "{total} bytes");
        let (events, bad) = h.read();
        assert_eq!(bad, 0);
        assert!(events.len() < 200 && !events.is_empty());
        assert_eq!(event_time(events.last().unwrap()), 199.0, "newest kept");
    }

    #[test]
    fn open_episodes_survive_a_restart() {
        let events = vec![
            acquired(1.0, 10),
            acquired(2.0, 12),
            HistoryEvent::Released {
                network_silent_secs: None,
                at: 3.0,
                path: "/h/.package-cache".into(),
                ino: 9,
                holder: id(12),
                name: "cargo".into(),
                held_secs: 1.0,
                cmd: vec![],
                since_known: true,
                party: Party::default(),
            },
        ];
        let (holds, waits) = open_episodes(&events);
        assert_eq!(holds, vec![(FileKey { dev: 3, ino: 9 }, id(10), 1.0, true)]);
        assert!(waits.is_empty());
    }

    #[test]
    fn a_wait_that_went_on_behind_another_holder_is_recovered_from_its_whole_start() {
        let key = FileKey { dev: 3, ino: 9 };
        let started = |at: f64, began: Option<f64>, since_known: bool| HistoryEvent::WaitStarted {
            at,
            path: "/h/.package-cache".into(),
            dev: 3,
            ino: 9,
            waiter: id(11),
            name: "cargo".into(),
            cmd: vec![],
            blocked_by: vec![("cargo".into(), 10)],
            blocked_by_cmd: vec![],
            since_known,
            party: Party::default(),
            blocker: Party::default(),
            began,
            began_known: false,
            on_lock: began,
        };
        let mut part = wait_ended(40.0, 11, 30.0);
        if let HistoryEvent::WaitEnded { goes_on, .. } = &mut part {
            *goes_on = true;
        }
        // It was already waiting when the daemon looked at 10; behind another holder from 40.
        let events = vec![
            started(10.0, None, false),
            part,
            started(40.0, Some(10.0), true),
        ];
        let (_, waits) = open_episodes(&events);
        assert_eq!(waits, vec![((key, id(11), 40.0, true), 10.0, false, 10.0)]);
        // A line from before `began` existed is a whole wait.
        let (_, waits) = open_episodes(&[started(10.0, None, true)]);
        assert_eq!(waits, vec![((key, id(11), 10.0, true), 10.0, true, 10.0)]);
    }

    /// A wait for a build directory that went on behind another holder, by a cargo that
    /// waited for the package cache before it: its wait for this lock comes back from its own
    /// start, not from that of the wait before (review 14, C2).
    #[test]
    fn a_chained_wait_that_went_on_is_recovered_with_its_start_on_this_lock() {
        let key = FileKey { dev: 3, ino: 9 };
        let line = |on_lock: &str| {
            format!(
                r#"{{"event":"wait-started","at":140.0,"path":"/p/target/debug/.cargo-lock","dev":3,"ino":9,"waiter":{{"pid":11,"start_token":7}},"name":"cargo","cmd":[],"blocked_by":[["cargo",12]],"began":100.0{on_lock}}}"#
            )
        };
        let read = |on_lock: &str| -> Vec<WaitEpisode> {
            let e: HistoryEvent = serde_json::from_str(&line(on_lock)).unwrap();
            open_episodes(&[e]).1
        };
        let wait = |on_lock: f64| vec![((key, id(11), 140.0, true), 100.0, true, on_lock)];
        assert_eq!(read(r#","on_lock":125.0"#), wait(125.0));
        // Lines of older versions: from this part's start, not from `began`.
        assert_eq!(read(""), wait(140.0));
    }

    #[test]
    fn old_lines_without_since_known_read_as_known() {
        let line = r#"{"event":"acquired","at":1.0,"path":"/h/x","kind":"package-cache","ino":9,"holder":{"pid":1,"start_token":2},"name":"cargo","cmd":[],"mode":"exclusive"}"#;
        let e: HistoryEvent = serde_json::from_str(line).unwrap();
        assert!(matches!(
            e,
            HistoryEvent::Acquired {
                since_known: true,
                ..
            }
        ));
    }

    /// `n` events from `first`, one a second: holds of the package cache, and every third a
    /// wait for it.
    fn mixed(first: u32, n: u32) -> Vec<u8> {
        (first..first + n)
            .flat_map(|i| {
                let e = if i % 3 == 0 {
                    wait_ended(i as f64, i, 2.0)
                } else {
                    acquired(i as f64, i)
                };
                serde_json::to_string(&e)
                    .unwrap()
                    .into_bytes()
                    .into_iter()
                    .chain([b'\n'])
            })
            .collect()
    }

    /// A line of JSON, `len` bytes with its newline, as a hand edit or a corrupt write leaves.
    fn huge_line(len: usize) -> Vec<u8> {
        let mut line = b"{\"x\":\"".to_vec();
        line.resize(len - 3, b'A');
        line.extend_from_slice(b"\"}\n");
        line
    }

    /// The times of the events `h` reads, oldest first, and what the read met.
    fn times_read(h: &History) -> (Vec<f64>, ScanStats) {
        let mut times = Vec::new();
        let stats = h.scan(|e| times.push(event_time(&e)));
        (times, stats)
    }

    /// The summary and the open holds and waits of a history of `text` alone, to compare with.
    fn as_read_alone(text: &[u8]) -> (Summary, (Vec<Episode>, Vec<WaitEpisode>)) {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        fs::write(h.path(), text).unwrap();
        let (summary, stats) = h.summary(0.0);
        assert_eq!((stats.unreadable, stats.skipped_bytes), (0, 0));
        (summary, h.open_episodes())
    }

    /// Review AB, AB4: events, then a 20 MiB line (the review's case: `history` said 0 holds,
    /// "the oldest 12.1 MiB of history were not read"), then events: every event is read, the
    /// line is one unreadable, oversized line of its size, and no history is said unread.
    #[test]
    fn a_20_mib_line_hides_no_event_before_or_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        let before = mixed(1, 213);
        let after = mixed(1000, 20);
        let big = huge_line(20 << 20);
        let oversized = ScanStats {
            events: 213,
            unreadable: 1,
            oversized: 1,
            oversized_bytes: big.len() as u64,
            skipped_bytes: 0,
        };

        // The line last, as the review appended it.
        let mut text = [before.as_slice(), &big].concat();
        fs::write(h.path(), &text).unwrap();
        let (times, stats) = times_read(&h);
        assert_eq!(times, (1..=213).map(f64::from).collect::<Vec<_>>());
        assert_eq!(stats, oversized);

        // Then events after it.
        text.extend_from_slice(&after);
        fs::write(h.path(), &text).unwrap();
        let (times, stats) = times_read(&h);
        let want: Vec<f64> = (1..=213).chain(1000..1020).map(f64::from).collect();
        assert_eq!(times, want);
        assert_eq!(
            stats,
            ScanStats {
                events: 233,
                ..oversized
            }
        );

        // `history` says what it says of the events alone, and names the line.
        let (mut alone, episodes) = as_read_alone(&[before, after].concat());
        assert!(alone.waits > 0 && alone.total_wait_secs > 0.0, "{alone:?}");
        let (summary, _) = h.summary(0.0);
        alone.unreadable_lines = 1;
        alone.oversized_lines = 1;
        alone.oversized_bytes = big.len() as u64;
        assert_eq!(summary, alone);
        let shown = render(&summary, 86_400, None);
        assert!(
            shown.contains("(a 20.0 MiB line was skipped: too long to be an event)"),
            "{shown}"
        );
        assert!(
            !shown.contains("were not read") && !shown.contains("unreadable line"),
            "{shown}"
        );
        // A restarted daemon recovers the holds begun before the line.
        assert!(!episodes.0.is_empty());
        assert_eq!(h.open_episodes(), episodes);
    }

    /// Review AB, AB4: a 9 MiB line after line 50 of 213 cost `history` the 50 events before it
    /// (27 holds/15 waits instead of 39/18): all are read.
    #[test]
    fn a_9_mib_line_in_the_middle_hides_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        let (first, rest) = (mixed(1, 50), mixed(51, 163));
        let big = huge_line(9 << 20);
        fs::write(h.path(), [first.as_slice(), &big, &rest].concat()).unwrap();
        let (times, stats) = times_read(&h);
        assert_eq!(times, (1..=213).map(f64::from).collect::<Vec<_>>());
        assert_eq!(
            stats,
            ScanStats {
                events: 213,
                unreadable: 1,
                oversized: 1,
                oversized_bytes: big.len() as u64,
                skipped_bytes: 0,
            }
        );
        let (mut alone, episodes) = as_read_alone(&[first, rest].concat());
        let (summary, _) = h.summary(0.0);
        alone.unreadable_lines = 1;
        alone.oversized_lines = 1;
        alone.oversized_bytes = big.len() as u64;
        assert_eq!(summary, alone);
        assert_eq!(h.open_episodes(), episodes);

        // With garbage short lines too: those are said apart.
        let mut text = fs::read(h.path()).unwrap();
        text.extend_from_slice(b"not json\n\xff\xfe\n");
        fs::write(h.path(), &text).unwrap();
        let shown = render(&h.summary(0.0).0, 86_400, None);
        assert!(shown.contains("(a 9.0 MiB line was skipped"), "{shown}");
        assert!(
            shown.contains("(2 other unreadable lines skipped)"),
            "{shown}"
        );
    }

    /// The bound that keeps parsing quick counts lines of sane size only, and oversized lines
    /// are passed over up to their own allowance: past it the older history is left unread
    /// (and said so), however big the file, so a file of gigabytes is never read whole.
    #[test]
    fn what_is_read_stays_bounded_around_oversized_lines() {
        let dir = tempfile::tempdir().unwrap();
        // Bound 4096: the newest 8192 bytes of lines of sane size are parsed.
        let h = History::with_limit(dir.path(), 4096);
        let (old, new) = (lines(0, 200), lines(200, 10));
        let big = huge_line(1 << 20);
        let text = [old.as_bytes(), &big, new.as_bytes()].concat();
        fs::write(h.path(), &text).unwrap();
        // The old lines that fit beside the new ones, newest first.
        let mut room = 8192 - new.len();
        let fit = old
            .lines()
            .rev()
            .take_while(|l| {
                let fits = l.len() < room;
                room = room.saturating_sub(l.len() + 1);
                fits
            })
            .count();
        assert!(fit > 0 && fit < 200, "{fit}");
        let (times, stats) = times_read(&h);
        let want: Vec<f64> = (200 - fit as u32..210).map(f64::from).collect();
        assert_eq!(times, want);
        let unread: usize = old.lines().take(200 - fit).map(|l| l.len() + 1).sum();
        assert_eq!(
            stats,
            ScanStats {
                events: want.len() as u64,
                unreadable: 1,
                oversized: 1,
                oversized_bytes: big.len() as u64,
                skipped_bytes: unread as u64,
            }
        );

        // Oversized lines past their allowance: what is older is not read.
        let h = History::new(dir.path());
        let (old, new) = (mixed(1, 100), mixed(1000, 10));
        let past = huge_line(OVERSIZED_READ_BYTES as usize + 1);
        fs::write(h.path(), [old.as_slice(), &past, &new].concat()).unwrap();
        let (times, stats) = times_read(&h);
        assert_eq!(times, (1000..1010).map(f64::from).collect::<Vec<_>>());
        let skipped = (old.len() + past.len()) as u64;
        assert_eq!(
            stats,
            ScanStats {
                events: 10,
                unreadable: 0,
                oversized: 0,
                oversized_bytes: 0,
                skipped_bytes: skipped,
            }
        );
        let shown = render(&h.summary(0.0).0, 86_400, None);
        assert!(
            shown.contains(&format!(
                "the oldest {} of history were not read",
                bytes(skipped)
            )),
            "{shown}"
        );

        // Many of them: as many as the allowance holds are passed over, the rest not read.
        let one = huge_line(100 * 1024);
        let mut text = mixed(1, 10);
        for _ in 0..500 {
            text.extend_from_slice(&one);
        }
        text.extend_from_slice(&new);
        fs::write(h.path(), &text).unwrap();
        let (times, stats) = times_read(&h);
        assert_eq!(times, (1000..1010).map(f64::from).collect::<Vec<_>>());
        let passed = OVERSIZED_READ_BYTES as usize / one.len();
        assert_eq!((stats.oversized, stats.unreadable), (passed, passed));
        assert_eq!(stats.oversized_bytes, (passed * one.len()) as u64);
        assert_eq!(
            stats.skipped_bytes,
            (text.len() - new.len() - passed * one.len()) as u64
        );
        let shown = render(&h.summary(0.0).0, 86_400, None);
        assert!(
            shown.contains(&format!(
                "({passed} lines too long to be events were skipped"
            )),
            "{shown}"
        );
    }
}
