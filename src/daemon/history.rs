//! The history log: an append-only, size-bounded JSON-lines file of holds, waits, stale verdicts
//! and kills, and the summary `cargo lockwatch history` prints from it — who blocked whom, how
//! often, and for how long. It also lets a restarted daemon remember when a hold began.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::model::FileKey;
pub use crate::core::policy::Episode;
use crate::core::policy::{HistoryEvent, ProcId};
use crate::core::text::{duration, tilde};

/// The log rotates when it grows past this; one rotated file is kept, so the total stays under
/// twice this.
pub const MAX_BYTES: u64 = 4 * 1024 * 1024;

/// The append-only log.
#[derive(Debug, Clone)]
pub struct History {
    path: PathBuf,
    max_bytes: u64,
}

impl History {
    /// The log in `data_dir` (created on first write).
    pub fn new(data_dir: &Path) -> History {
        History {
            path: data_dir.join("history.jsonl"),
            max_bytes: MAX_BYTES,
        }
    }

    /// A log with a custom size bound (tests).
    pub fn with_limit(data_dir: &Path, max_bytes: u64) -> History {
        History {
            path: data_dir.join("history.jsonl"),
            max_bytes,
        }
    }

    /// The current file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn rotated(&self) -> PathBuf {
        self.path.with_extension("1.jsonl")
    }

    /// Appends events, one line each, rotating first when the file is too big.
    pub fn append(&self, events: &[HistoryEvent]) -> std::io::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        if fs::metadata(&self.path).is_ok_and(|m| m.len() >= self.max_bytes) {
            fs::rename(&self.path, self.rotated())?;
        }
        let mut text = String::new();
        for e in events {
            text.push_str(&serde_json::to_string(e).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        // One write per batch: lines from concurrent writers do not interleave mid-line.
        f.write_all(text.as_bytes())
    }

    /// Reads every event, oldest first; returns them and how many lines could not be read
    /// (a torn last line after a crash, a hand edit) — those are skipped, never fatal.
    pub fn read(&self) -> (Vec<HistoryEvent>, usize) {
        let mut events = Vec::new();
        let mut bad = 0;
        for path in [self.rotated(), self.path.clone()] {
            let Ok(f) = fs::File::open(&path) else {
                continue;
            };
            for line in BufReader::new(f).lines() {
                let line = match line {
                    Ok(l) => l,
                    // Bad UTF-8 in one line: skip it. Any other error repeats forever (a
                    // directory, EIO): stop reading this file.
                    Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                        bad += 1;
                        continue;
                    }
                    Err(_) => {
                        bad += 1;
                        break;
                    }
                };
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<HistoryEvent>(&line) {
                    Ok(e) => events.push(e),
                    Err(_) => bad += 1,
                }
            }
        }
        (events, bad)
    }
}

/// The time of an event.
pub fn event_time(e: &HistoryEvent) -> f64 {
    match e {
        HistoryEvent::Acquired { at, .. }
        | HistoryEvent::Released { at, .. }
        | HistoryEvent::WaitStarted { at, .. }
        | HistoryEvent::WaitEnded { at, .. }
        | HistoryEvent::Stale { at, .. }
        | HistoryEvent::Killed { at, .. } => *at,
    }
}

/// Holds and waits that were open when the log ends (the daemon stopped mid-hold), with their
/// start times, so a restarted daemon keeps counting from the real start.
pub fn open_episodes(events: &[HistoryEvent]) -> (Vec<Episode>, Vec<Episode>) {
    let mut holds: HashMap<(u64, ProcId), (FileKey, f64, bool)> = HashMap::new();
    let mut waits: HashMap<(u64, ProcId), (FileKey, f64, bool)> = HashMap::new();
    for e in events {
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
                holds.insert((*ino, *holder), (key, *at, *since_known));
            }
            HistoryEvent::Released { ino, holder, .. } => {
                holds.remove(&(*ino, *holder));
            }
            HistoryEvent::WaitStarted {
                at,
                dev,
                ino,
                waiter,
                since_known,
                ..
            } => {
                let key = FileKey {
                    dev: *dev,
                    ino: *ino,
                };
                waits.insert((*ino, *waiter), (key, *at, *since_known));
            }
            HistoryEvent::WaitEnded { ino, waiter, .. } => {
                waits.remove(&(*ino, *waiter));
            }
            _ => {}
        }
    }
    let flat = |m: HashMap<(u64, ProcId), (FileKey, f64, bool)>| {
        let mut v: Vec<_> = m
            .into_iter()
            .map(|((_, id), (k, t, known))| (k, id, t, known))
            .collect();
        v.sort_by(|a, b| a.2.total_cmp(&b.2));
        v
    };
    (flat(holds), flat(waits))
}

/// One "who blocked whom" row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockRow {
    /// The holder's name.
    pub holder: String,
    /// The waiter's name.
    pub waiter: String,
    /// The lock (Cargo's words are in the path's kind; the path is shown).
    pub lock: PathBuf,
    /// How many waits.
    pub times: u32,
    /// Total seconds waited.
    pub total_wait_secs: f64,
    /// Longest single wait.
    pub longest_wait_secs: f64,
}

/// What `history` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Start of the period (Unix time).
    pub since: f64,
    /// Holds that began in the period.
    pub holds: u32,
    /// Total seconds held (released holds).
    pub total_held_secs: f64,
    /// Longest released hold: (holder name, seconds, lock).
    pub longest_hold: Option<(String, f64, PathBuf)>,
    /// Completed waits.
    pub waits: u32,
    /// Total seconds waited.
    pub total_wait_secs: f64,
    /// Who blocked whom, most total waiting first.
    pub blocked: Vec<BlockRow>,
    /// Stale verdicts.
    pub stale: u32,
    /// Holders terminated by the user.
    pub killed: u32,
    /// Lines that could not be read.
    pub unreadable_lines: usize,
}

/// Summarises events at or after `since`.
pub fn summarize(events: &[HistoryEvent], since: f64, unreadable_lines: usize) -> Summary {
    let mut s = Summary {
        since,
        holds: 0,
        total_held_secs: 0.0,
        longest_hold: None,
        waits: 0,
        total_wait_secs: 0.0,
        blocked: Vec::new(),
        stale: 0,
        killed: 0,
        unreadable_lines,
    };
    let mut rows: BTreeMap<(String, String, PathBuf), BlockRow> = BTreeMap::new();
    for e in events.iter().filter(|e| event_time(e) >= since) {
        match e {
            HistoryEvent::Acquired { .. } => s.holds += 1,
            HistoryEvent::Released {
                held_secs,
                name,
                path,
                ..
            } => {
                s.total_held_secs += held_secs;
                if s.longest_hold
                    .as_ref()
                    .is_none_or(|(_, l, _)| held_secs > l)
                {
                    s.longest_hold = Some((name.clone(), *held_secs, path.clone()));
                }
            }
            HistoryEvent::WaitEnded {
                name,
                waited_secs,
                blocked_by,
                path,
                ..
            } => {
                s.waits += 1;
                s.total_wait_secs += waited_secs;
                let holder = if blocked_by.is_empty() {
                    "(unseen holder)".to_string()
                } else {
                    blocked_by
                        .iter()
                        .map(|(n, _)| n.clone())
                        .collect::<Vec<_>>()
                        .join("+")
                };
                let row = rows
                    .entry((holder.clone(), name.clone(), path.clone()))
                    .or_insert(BlockRow {
                        holder,
                        waiter: name.clone(),
                        lock: path.clone(),
                        times: 0,
                        total_wait_secs: 0.0,
                        longest_wait_secs: 0.0,
                    });
                row.times += 1;
                row.total_wait_secs += waited_secs;
                row.longest_wait_secs = row.longest_wait_secs.max(*waited_secs);
            }
            HistoryEvent::Stale { .. } => s.stale += 1,
            HistoryEvent::Killed { .. } => s.killed += 1,
            HistoryEvent::WaitStarted { .. } => {}
        }
    }
    s.blocked = rows.into_values().collect();
    s.blocked
        .sort_by(|a, b| b.total_wait_secs.total_cmp(&a.total_wait_secs));
    s
}

/// Renders a summary for people.
pub fn render(s: &Summary, period: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Last {period}: {} hold{}, {} wait{} ({} waited in all), {} stale, {} killed",
        s.holds,
        if s.holds == 1 { "" } else { "s" },
        s.waits,
        if s.waits == 1 { "" } else { "s" },
        duration(s.total_wait_secs),
        s.stale,
        s.killed
    );
    if let Some((name, secs, path)) = &s.longest_hold {
        let _ = writeln!(
            out,
            "Longest hold: {name} held {} for {}",
            tilde(path),
            duration(*secs)
        );
    }
    if !s.blocked.is_empty() {
        let _ = writeln!(out, "\nWho blocked whom:");
        for r in &s.blocked {
            let _ = writeln!(
                out,
                "  {:<20} blocked {:<16} {:>3}× · {} in all (longest {}) on {}",
                r.holder,
                r.waiter,
                r.times,
                duration(r.total_wait_secs),
                duration(r.longest_wait_secs),
                tilde(&r.lock)
            );
        }
    }
    if s.unreadable_lines > 0 {
        let _ = writeln!(
            out,
            "\n({} unreadable line{} skipped)",
            s.unreadable_lines,
            if s.unreadable_lines == 1 { "" } else { "s" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::catalog::LockKind;
    use crate::core::model::LockMode;

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
            blocked_by: vec![("rust-analyzer".into(), 10)],
        }
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
    fn a_directory_in_place_of_the_log_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        fs::create_dir_all(h.path()).unwrap();
        let (events, bad) = h.read();
        assert!(events.is_empty());
        assert_eq!(bad, 1);
        assert!(h.append(&[acquired(1.0, 10)]).is_err());
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
                at: 3.0,
                path: "/h/.package-cache".into(),
                ino: 9,
                holder: id(12),
                name: "cargo".into(),
                held_secs: 1.0,
            },
        ];
        let (holds, waits) = open_episodes(&events);
        assert_eq!(holds, vec![(FileKey { dev: 3, ino: 9 }, id(10), 1.0, true)]);
        assert!(waits.is_empty());
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

    #[test]
    fn summary_says_who_blocked_whom() {
        let events = vec![
            acquired(100.0, 10),
            wait_ended(150.0, 11, 40.0),
            wait_ended(160.0, 13, 20.0),
            wait_ended(10.0, 14, 999.0), // before the period
            HistoryEvent::Released {
                at: 170.0,
                path: "/h/.package-cache".into(),
                ino: 9,
                holder: id(10),
                name: "rust-analyzer".into(),
                held_secs: 70.0,
            },
        ];
        let s = summarize(&events, 50.0, 0);
        assert_eq!((s.holds, s.waits), (1, 2));
        assert_eq!(s.total_wait_secs, 60.0);
        assert_eq!(s.blocked.len(), 1);
        assert_eq!(s.blocked[0].holder, "rust-analyzer");
        assert_eq!(
            (s.blocked[0].times, s.blocked[0].longest_wait_secs),
            (2, 40.0)
        );
        assert_eq!(
            s.longest_hold,
            Some(("rust-analyzer".into(), 70.0, "/h/.package-cache".into()))
        );
    }
}
