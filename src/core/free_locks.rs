//! The free part of a report: every known lock file as a free [`LockReport`], sorted by path,
//! with its project.
//!
//! Thousands of watched projects are thousands of these entries, and they change only when the
//! list of lock files does: the daemon makes them once per list and shares them between its
//! passes and snapshots (a lock event then costs what its own lock costs), and fills them in
//! only when a client asks for the whole document. A report lists them after its held locks,
//! leaving out the files that are listed as held.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::catalog::{self, LockKind};
use super::model::{LockReport, LockState};

/// Every known lock file as a free lock, by path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FreeLocks {
    locks: Vec<LockReport>,
}

impl FreeLocks {
    /// The free locks of `known`, each file once; `seen` remembers which directories hold a
    /// manifest (see [`catalog::project_dir_seen`]).
    pub fn new(known: &[(PathBuf, LockKind)], seen: &mut HashMap<PathBuf, bool>) -> FreeLocks {
        let mut locks: Vec<LockReport> = known
            .iter()
            .map(|(path, kind)| free_lock(path, *kind))
            .collect();
        locks.sort_by(|a, b| a.path.cmp(&b.path));
        locks.dedup_by(|a, b| a.path == b.path);
        for l in &mut locks {
            l.project_dir = catalog::project_dir_seen(&l.path, l.kind, seen);
        }
        FreeLocks { locks }
    }

    /// How many lock files there are.
    pub fn len(&self) -> usize {
        self.locks.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.locks.is_empty()
    }

    /// Appends to `locks` (a report's, worst first) the files it does not list: a file listed
    /// as held (and not deleted) is that entry, not a free one.
    pub fn append_unlisted(&self, locks: &mut Vec<LockReport>) {
        let listed: HashSet<&Path> = (locks.iter())
            .filter(|l| !l.deleted)
            .map(|l| l.path.as_path())
            .collect();
        let unlisted: Vec<LockReport> = (self.locks.iter())
            .filter(|l| !listed.contains(l.path.as_path()))
            .cloned()
            .collect();
        locks.extend(unlisted);
    }
}

/// A lock file nobody holds.
pub fn free_lock(path: &Path, kind: LockKind) -> LockReport {
    LockReport {
        path: path.to_path_buf(),
        kind,
        description: kind.cargo_words().to_string(),
        state: LockState::Free,
        deleted: false,
        project_dir: None,
        cargo_home: crate::core::catalog::cargo_home_of(path, kind),
        holders: Vec::new(),
        waiters: Vec::new(),
        verdict: "free".to_string(),
        stop_command: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(path: &str, deleted: bool) -> LockReport {
        LockReport {
            state: LockState::Held,
            deleted,
            verdict: "held".into(),
            ..free_lock(Path::new(path), LockKind::ProfileDirectory)
        }
    }

    #[test]
    fn free_locks_come_after_the_held_ones_by_path_each_file_once() {
        let known = [
            ("/p/b/target/debug/.cargo-lock", LockKind::ProfileDirectory),
            ("/h/.package-cache", LockKind::PackageCache),
            ("/p/a/target/debug/.cargo-lock", LockKind::ProfileDirectory),
            ("/h/.package-cache", LockKind::PackageCache),
        ]
        .map(|(p, k)| (PathBuf::from(p), k));
        let free = FreeLocks::new(&known, &mut HashMap::new());
        assert_eq!(free.len(), 3);
        // One held, one deleted and held again under the same name: the held file is not
        // listed free, the deleted one's name is.
        let mut locks = vec![
            held("/p/b/target/debug/.cargo-lock", false),
            held("/p/a/target/debug/.cargo-lock", true),
        ];
        free.append_unlisted(&mut locks);
        let listed: Vec<(&str, LockState)> = (locks.iter())
            .map(|l| (l.path.to_str().unwrap(), l.state))
            .collect();
        assert_eq!(
            listed,
            [
                ("/p/b/target/debug/.cargo-lock", LockState::Held),
                ("/p/a/target/debug/.cargo-lock", LockState::Held),
                ("/h/.package-cache", LockState::Free),
                ("/p/a/target/debug/.cargo-lock", LockState::Free),
            ]
        );
    }

    #[test]
    fn each_free_lock_names_its_project() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        std::fs::create_dir_all(app.join("target/debug")).unwrap();
        std::fs::write(app.join("Cargo.toml"), "").unwrap();
        let lock = app.join("target/debug/.cargo-lock");
        let home = dir.path().join("home/.package-cache");
        let known = [
            (lock.clone(), LockKind::ProfileDirectory),
            (home.clone(), LockKind::PackageCache),
        ];
        let mut locks = Vec::new();
        FreeLocks::new(&known, &mut HashMap::new()).append_unlisted(&mut locks);
        let project = |p: &Path| {
            locks
                .iter()
                .find(|l| l.path == p)
                .unwrap()
                .project_dir
                .clone()
        };
        assert_eq!(project(&lock), Some(app));
        assert_eq!(project(&home), None);
    }
}
