//! The lock files the daemon lists up front (its Cargo homes' and configured projects'), and
//! what follows from their list alone: which paths they are, their free entries in the report,
//! and the list of lock files the watcher is given.
//!
//! Thousands of watched projects are thousands of such files, nearly all of them free. Their
//! parts are made when a new listing differs from the last and shared until then, so a pass
//! (a lock taken or let go, a waiter sampled) costs what its own locks cost, not what the
//! free ones would.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::core::catalog::LockKind;
use crate::core::free_locks::FreeLocks;

/// The known lock files and the parts made from their list.
#[derive(Debug, Default)]
pub struct KnownLocks {
    list: Arc<[(PathBuf, LockKind)]>,
    paths: HashSet<PathBuf>,
    free: Arc<FreeLocks>,
    /// How many different lists there have been.
    generation: u64,
}

impl KnownLocks {
    /// The lock files, sorted by path.
    pub fn list(&self) -> &Arc<[(PathBuf, LockKind)]> {
        &self.list
    }

    /// Whether `path` is one of them.
    pub fn contains(&self, path: &Path) -> bool {
        self.paths.contains(path)
    }

    /// Their free entries in the report.
    pub fn free(&self) -> &Arc<FreeLocks> {
        &self.free
    }

    /// How many different lists there have been: the parts were made that many times.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Takes a new listing; when it differs from the last, makes the parts again (`seen`
    /// remembers which directories hold a manifest). Returns whether it differed.
    pub fn relist(
        &mut self,
        list: Vec<(PathBuf, LockKind)>,
        seen: &mut HashMap<PathBuf, bool>,
    ) -> bool {
        if *self.list == *list {
            return false;
        }
        self.free = Arc::new(FreeLocks::new(&list, seen));
        self.paths = list.iter().map(|(p, _)| p.clone()).collect();
        self.list = list.into();
        self.generation += 1;
        true
    }
}

/// The lock files the watcher is given: the known ones, then the few others (the Cargo homes'
/// own before they exist, those seen lately elsewhere, those seen now), made again only when
/// either part changes.
#[derive(Debug, Default)]
pub struct WatchList {
    files: Vec<PathBuf>,
    /// The known list's generation `files` was made with.
    generation: u64,
    /// The others, each once and none of them known.
    extras: Vec<PathBuf>,
}

impl WatchList {
    /// The list for `known` and `extras` (each once, none of them known).
    pub fn update(&mut self, known: &KnownLocks, extras: Vec<PathBuf>) -> &[PathBuf] {
        if self.generation != known.generation() || self.extras != extras {
            self.files = (known.list().iter().map(|(p, _)| p.clone()))
                .chain(extras.iter().cloned())
                .collect();
            self.generation = known.generation();
            self.extras = extras;
        }
        &self.files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(paths: &[&str]) -> Vec<(PathBuf, LockKind)> {
        (paths.iter())
            .map(|p| (PathBuf::from(p), LockKind::ProfileDirectory))
            .collect()
    }

    #[test]
    fn an_unchanged_listing_keeps_every_part_as_it_was() {
        let mut known = KnownLocks::default();
        let mut seen = HashMap::new();
        let first = list(&[
            "/p/a/target/debug/.cargo-lock",
            "/p/b/target/debug/.cargo-lock",
        ]);
        assert!(known.relist(first.clone(), &mut seen));
        let (listed, free) = (Arc::clone(known.list()), Arc::clone(known.free()));
        assert_eq!(free.len(), 2);
        // The same files listed again: nothing is made again (no manifest looked up).
        seen.clear();
        assert!(!known.relist(first, &mut seen));
        assert!(seen.is_empty(), "no directory looked at");
        assert!(Arc::ptr_eq(known.list(), &listed) && Arc::ptr_eq(known.free(), &free));
        assert_eq!(known.generation(), 1);
        // One more file: the parts are made again.
        assert!(known.relist(
            list(&["/h/.package-cache", "/p/a/target/debug/.cargo-lock"]),
            &mut seen
        ));
        assert_eq!(known.generation(), 2);
        assert!(known.contains(Path::new("/h/.package-cache")));
        assert!(!known.contains(Path::new("/p/b/target/debug/.cargo-lock")));
        assert_eq!(known.free().len(), 2);
    }

    #[test]
    fn the_watch_list_is_made_again_only_when_a_part_changes() {
        let mut known = KnownLocks::default();
        known.relist(list(&["/k/1", "/k/2"]), &mut HashMap::new());
        let mut watch = WatchList::default();
        let extra = |p: &str| vec![PathBuf::from(p)];
        let made = watch.update(&known, extra("/x")).as_ptr();
        assert_eq!(
            watch.files,
            [Path::new("/k/1"), Path::new("/k/2"), Path::new("/x")]
        );
        assert_eq!(watch.update(&known, extra("/x")).as_ptr(), made, "kept");
        assert_eq!(watch.update(&known, extra("/y"))[2], Path::new("/y"));
        known.relist(list(&["/k/1"]), &mut HashMap::new());
        assert_eq!(
            watch.update(&known, extra("/y")),
            [Path::new("/k/1"), Path::new("/y")]
        );
    }
}
