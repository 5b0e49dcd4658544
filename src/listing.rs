//! The Cargo lock files in a directory and the subdirectories to look in next, remembered by
//! the directory's modification time.
//!
//! The daemon lists its roots' lock files again every so often; with thousands of watched
//! projects that was thousands of directories opened and read each time, nearly all of them
//! unchanged. A directory whose modification time has not moved has the same entries, so it
//! costs one `stat`. A listing is remembered only when the directory was last modified well
//! before it was read: an entry made within the same clock tick as the modification before it
//! would leave the time as it was.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::core::catalog::{self, LockKind};

/// How long before a read a directory must have been modified last for its listing to be
/// remembered.
const SETTLED: Duration = Duration::from_secs(1);

/// What one directory holds for the listing of lock files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirLocks {
    /// Cargo's lock files in it (not `Cargo.lock`, which is a project's file).
    pub files: Vec<(PathBuf, LockKind)>,
    /// Its subdirectories, less the big artifact trees (profile directories hold the locks).
    pub subdirs: Vec<PathBuf>,
}

/// Reads what `dir` holds; `None` when it cannot be read.
pub fn read(dir: &Path) -> Option<DirLocks> {
    let mut out = DirLocks::default();
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_file() {
            if let Some(kind) = catalog::classify(&path)
                && kind != LockKind::CargoLockFile
            {
                out.files.push((path, kind));
            }
        } else if ft.is_dir()
            && !matches!(
                entry.file_name().to_str(),
                Some("deps" | "build" | "incremental" | ".fingerprint" | "examples")
            )
        {
            out.subdirs.push(path);
        }
    }
    Some(out)
}

/// Listings remembered between listings of the same roots.
#[derive(Debug, Default)]
pub struct Listings {
    /// Directory → its modification time when read, what it held, and the round it was last
    /// asked for in.
    dirs: HashMap<PathBuf, (SystemTime, DirLocks, u64)>,
    round: u64,
    /// How many directories were read (for tests and benchmarks).
    reads: u64,
    /// Remember nothing (a listing made once needs no `stat` of each directory).
    once: bool,
}

impl Listings {
    /// Listings for a listing made once: every directory is read, none is remembered.
    pub fn once() -> Listings {
        Listings {
            once: true,
            ..Listings::default()
        }
    }

    /// Starts a listing of the roots: directories not asked for until [`Listings::end`] are
    /// forgotten then.
    pub fn begin(&mut self) {
        self.round += 1;
    }

    /// Forgets the directories this round did not ask for.
    pub fn end(&mut self) {
        let round = self.round;
        self.dirs.retain(|_, (_, _, asked)| *asked == round);
    }

    /// What `dir` holds: remembered while its modification time is the same, else read.
    pub fn locks_in(&mut self, dir: &Path) -> Option<DirLocks> {
        if self.once {
            self.reads += 1;
            return read(dir);
        }
        let now = SystemTime::now();
        let modified = fs::metadata(dir).and_then(|m| m.modified()).ok();
        if let (Some(m), Some((at, locks, asked))) = (modified, self.dirs.get_mut(dir))
            && *at == m
        {
            *asked = self.round;
            return Some(locks.clone());
        }
        self.reads += 1;
        let locks = read(dir);
        match (&locks, modified) {
            (Some(l), Some(m)) if m + SETTLED <= now => {
                self.dirs
                    .insert(dir.to_path_buf(), (m, l.clone(), self.round));
            }
            _ => {
                self.dirs.remove(dir);
            }
        }
        locks
    }

    /// How many directories were read rather than remembered.
    pub fn reads(&self) -> u64 {
        self.reads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets a directory's modification time `secs` back.
    fn age(dir: &Path, secs: u64) {
        let when = SystemTime::now() - Duration::from_secs(secs);
        let f = fs::File::open(dir).unwrap();
        f.set_modified(when).unwrap();
    }

    #[test]
    fn an_unchanged_directory_is_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let debug = dir.path().join("target/debug");
        fs::create_dir_all(debug.join("deps")).unwrap();
        fs::write(debug.join(".cargo-lock"), "").unwrap();
        fs::write(debug.join("app"), "").unwrap();
        age(&debug, 10);
        let mut l = Listings::default();
        l.begin();
        let first = l.locks_in(&debug).unwrap();
        assert_eq!(
            first.files,
            [(debug.join(".cargo-lock"), LockKind::ProfileDirectory)]
        );
        assert!(first.subdirs.is_empty(), "deps/ is not looked in");
        assert_eq!(l.reads(), 1);
        l.end();
        l.begin();
        assert_eq!(l.locks_in(&debug), Some(first), "remembered");
        assert_eq!(l.reads(), 1);
        l.end();

        // A new lock file moves the time: read again, and while the change is that recent,
        // read every time.
        fs::write(debug.join(".cargo-build-lock"), "").unwrap();
        for reads in [2, 3] {
            assert_eq!(l.locks_in(&debug).unwrap().files.len(), 2);
            assert_eq!(l.reads(), reads);
        }
        age(&debug, 10);
        l.locks_in(&debug);
        l.locks_in(&debug);
        assert_eq!(l.reads(), 4);

        // A directory no round asks for is forgotten; one that is gone is not listed.
        l.begin();
        l.end();
        assert!(l.dirs.is_empty());
        assert_eq!(l.locks_in(&dir.path().join("nope")), None);
    }
}
