//! Filesystem events that make the daemon react at once instead of waiting for its poll:
//! opens and closes of watched lock files (inotify on Linux; on macOS FSEvents only sees
//! creation and deletion, and kqueue fills the gap) wake a rescan, and writes under a held
//! lock's domain (registry, target dir) count as progress for the stale policy.
//!
//! The event side classifies at the boundary: noise is dropped there, and only two kinds of
//! message reach the engine. On Linux the kernel is asked only for what is used (no opens of
//! directories, whose reads by anyone — an IDE, `ls`, another daemon — would wake this one).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use crate::core::model::FileKey;

/// At most one activity message per lock in this time.
const ACTIVITY_EVERY: Duration = Duration::from_millis(500);

#[cfg(target_os = "linux")]
#[path = "watcher_inotify.rs"]
mod imp;

#[cfg(not(target_os = "linux"))]
#[path = "watcher_notify.rs"]
mod imp;

/// What the watcher tells the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// A watched lock file was opened, closed, created or removed: rescan now.
    LockFile(PathBuf),
    /// Something was written under the activity domain of this lock.
    Activity(FileKey),
    /// A watched holder exited (macOS kqueue `NOTE_EXIT`): rescan now.
    ProcessExited(u32),
    /// The OS watcher failed (e.g. too many inotify watches); polling continues.
    Failed(String),
    /// Events were lost (the kernel's queue overflowed): rescan now.
    Overflow,
}

/// Event sources beyond `notify`: on macOS a kqueue thread reporting flock unlocks on watched
/// lock files (`NOTE_FUNLOCK`, which FSEvents cannot see) and holder exits (`NOTE_EXIT`);
/// elsewhere nothing, because inotify already reports every open and close.
pub struct PlatformWakes {
    #[cfg(target_os = "macos")]
    kqueue: Option<crate::probe::macos_events::KqueueWatcher>,
    #[cfg(target_os = "macos")]
    files: HashSet<PathBuf>,
    #[cfg(target_os = "macos")]
    pids: HashSet<u32>,
}

impl PlatformWakes {
    /// Starts the platform's extra event source, if it has one.
    #[cfg(target_os = "macos")]
    pub fn new(tx: UnboundedSender<Wake>) -> PlatformWakes {
        use crate::probe::macos_records::KqueueEvent;
        let kqueue = crate::probe::macos_events::KqueueWatcher::spawn(Box::new(move |e| {
            let _ = tx.send(match e {
                KqueueEvent::LockFileChanged(p) => Wake::LockFile(p),
                KqueueEvent::ProcessExited(pid) => Wake::ProcessExited(pid),
            });
        }));
        if let Err(e) = &kqueue {
            tracing::warn!("kqueue unavailable ({e}); polling only");
        }
        PlatformWakes {
            kqueue: kqueue.ok(),
            files: HashSet::new(),
            pids: HashSet::new(),
        }
    }

    /// Starts the platform's extra event source, if it has one.
    #[cfg(not(target_os = "macos"))]
    pub fn new(tx: UnboundedSender<Wake>) -> PlatformWakes {
        drop(tx);
        PlatformWakes {}
    }

    /// Watches exactly these lock files and holder pids.
    #[cfg(target_os = "macos")]
    pub fn update(&mut self, files: &[PathBuf], pids: &[u32]) {
        let Some(kq) = &self.kqueue else { return };
        let want: HashSet<PathBuf> = files.iter().cloned().collect();
        for gone in self.files.difference(&want) {
            kq.unwatch_file(gone);
        }
        // A deleted or renamed file ends its watch: re-add every wanted file each time (the
        // watcher ignores duplicates of a live watch).
        self.files = want
            .iter()
            .filter(|f| kq.watch_file(f).is_ok())
            .cloned()
            .collect();
        let want: HashSet<u32> = pids.iter().copied().collect();
        for gone in self.pids.difference(&want) {
            kq.unwatch_pid(*gone);
        }
        self.pids = want
            .into_iter()
            .filter(|p| self.pids.contains(p) || kq.watch_pid(*p).is_ok())
            .collect();
    }

    /// Watches exactly these lock files and holder pids.
    #[cfg(not(target_os = "macos"))]
    pub fn update(&mut self, files: &[PathBuf], pids: &[u32]) {
        let _ = (files, pids);
    }
}

/// Where an event on a watched path leads.
#[derive(Default)]
pub(super) struct Routes {
    pub lock_files: HashSet<PathBuf>,
    /// Directory → locks whose domain it belongs to.
    pub domains: HashMap<PathBuf, Vec<FileKey>>,
}

/// Forwards writes under a domain as activity of its locks. A build writes thousands of files;
/// the policy needs to know only that something was written recently, so each lock's activity
/// is forwarded at most once per [`ACTIVITY_EVERY`].
#[derive(Default)]
pub(super) struct Throttle(HashMap<FileKey, Instant>);

impl Throttle {
    /// Sends the activity of `keys` that was not sent lately.
    pub fn activity(&mut self, keys: &[FileKey], tx: &UnboundedSender<Wake>) {
        let now = Instant::now();
        for k in keys {
            if self
                .0
                .get(k)
                .is_none_or(|t| now.duration_since(*t) >= ACTIVITY_EVERY)
            {
                self.0.insert(*k, now);
                let _ = tx.send(Wake::Activity(*k));
            }
        }
        if self.0.len() > 1024 {
            self.0
                .retain(|_, t| now.duration_since(*t) < ACTIVITY_EVERY);
        }
    }
}

/// What a watch is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// A lock file: opens, closes and removal wake a pass.
    LockFile,
    /// A directory of a held lock's domain: writes in it are progress.
    Domain,
}

/// What the watch set was made from: lock files and (lock, activity domain) pairs.
type Inputs = (Vec<PathBuf>, Vec<(FileKey, PathBuf)>);

/// Keeps the OS watcher alive and its watch set in line with what is held.
pub struct FsWatcher {
    backend: imp::Backend,
    routes: Arc<Mutex<Routes>>,
    /// Watched path → what for.
    watched: HashMap<PathBuf, Role>,
    /// The last update's inputs: an update with the same ones touches nothing.
    last: Option<Inputs>,
    /// Each domain's directories, read once when the domain appears: reading a watched
    /// directory on every pass made the watcher report its own reads.
    dirs_of: HashMap<PathBuf, Vec<PathBuf>>,
    /// Watched paths the OS stopped watching (deleted or moved), to watch again.
    lost: Arc<Mutex<HashSet<PathBuf>>>,
}

impl FsWatcher {
    /// Starts the OS watcher; events go to `tx`. On Linux it must be made inside the runtime.
    pub fn new(tx: UnboundedSender<Wake>) -> std::io::Result<FsWatcher> {
        let routes = Arc::new(Mutex::new(Routes::default()));
        let lost = Arc::new(Mutex::new(HashSet::new()));
        let backend = imp::Backend::start(tx, Arc::clone(&routes), Arc::clone(&lost))?;
        Ok(FsWatcher {
            backend,
            routes,
            watched: HashMap::new(),
            last: None,
            dirs_of: HashMap::new(),
            lost,
        })
    }

    /// Sets the watch set: lock files (always) and activity directories of held locks.
    /// Returns the paths that could not be watched (the poll still covers them). Does nothing
    /// when nothing changed since the last call.
    pub fn update(
        &mut self,
        lock_files: &[PathBuf],
        domains: &[(FileKey, PathBuf)],
    ) -> Vec<(PathBuf, String)> {
        let lost = std::mem::take(&mut *self.lost.lock().unwrap_or_else(|p| p.into_inner()));
        let inputs = (lock_files.to_vec(), domains.to_vec());
        if lost.is_empty() && self.last.as_ref() == Some(&inputs) {
            return Vec::new();
        }
        for path in &lost {
            self.watched.remove(path);
        }
        let (routes, want) = self.routes_for(lock_files, domains);
        *self.routes.lock().unwrap_or_else(|p| p.into_inner()) = routes;
        let failed = self.apply(&want);
        // A lock file missing now (or not watchable) is looked for again next time.
        let complete = failed.is_empty() && lock_files.iter().all(|f| want.contains_key(f));
        self.last = complete.then_some(inputs);
        failed
    }

    /// The routes for the event side and the paths to watch.
    fn routes_for(
        &mut self,
        lock_files: &[PathBuf],
        domains: &[(FileKey, PathBuf)],
    ) -> (Routes, HashMap<PathBuf, Role>) {
        let mut routes = Routes::default();
        let mut want: HashMap<PathBuf, Role> = HashMap::new();
        for f in lock_files {
            if f.exists() {
                routes.lock_files.insert(f.clone());
                want.insert(f.clone(), Role::LockFile);
            }
        }
        self.dirs_of
            .retain(|dir, _| domains.iter().any(|(_, d)| d == dir));
        for (key, dir) in domains {
            let dirs = self
                .dirs_of
                .entry(dir.clone())
                .or_insert_with(|| domain_dirs(dir));
            for d in dirs.iter() {
                routes.domains.entry(d.clone()).or_default().push(*key);
                want.entry(d.clone()).or_insert(Role::Domain);
            }
        }
        (routes, want)
    }

    /// Watches exactly `want`; returns what could not be watched.
    fn apply(&mut self, want: &HashMap<PathBuf, Role>) -> Vec<(PathBuf, String)> {
        let gone: Vec<PathBuf> = self
            .watched
            .iter()
            .filter(|(p, role)| want.get(*p) != Some(role))
            .map(|(p, _)| p.clone())
            .collect();
        for path in gone {
            self.backend.unwatch(&path);
            self.watched.remove(&path);
        }
        let mut failed = Vec::new();
        for (path, role) in want {
            if self.watched.contains_key(path) {
                continue;
            }
            match self.backend.watch(path, *role) {
                Ok(()) => {
                    self.watched.insert(path.clone(), *role);
                }
                Err(e) => failed.push((path.clone(), e)),
            }
        }
        failed
    }

    /// How many paths are watched (for the log and benchmarks).
    pub fn watched(&self) -> usize {
        self.watched.len()
    }
}

/// The directories whose writes show progress for a domain: the directory itself and its
/// immediate subdirectories (`deps/`, `build/`, `registry/cache/<index>/` …), not deeper, so a
/// big target dir costs a handful of watches.
pub fn domain_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    if !dir.is_dir() {
        return out;
    }
    out.push(dir.to_path_buf());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten().take(64) {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let p = e.path();
                // registry/{cache,src,index}/<name>/ is where downloads land.
                if matches!(
                    p.file_name().and_then(|n| n.to_str()),
                    Some("cache" | "src" | "index")
                ) && let Ok(inner) = std::fs::read_dir(&p)
                {
                    out.extend(
                        inner
                            .flatten()
                            .filter(|i| i.file_type().is_ok_and(|t| t.is_dir()))
                            .map(|i| i.path())
                            .take(16),
                    );
                }
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn domain_dirs_cover_one_level_and_registry_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let reg = dir.path().join("registry");
        std::fs::create_dir_all(reg.join("cache/index.crates.io-1")).unwrap();
        std::fs::create_dir_all(reg.join("src/index.crates.io-1/serde-1.0/src")).unwrap();
        let dirs = domain_dirs(&reg);
        assert!(dirs.contains(&reg.join("cache/index.crates.io-1")));
        assert!(dirs.contains(&reg.join("src")));
        assert!(!dirs.iter().any(|d| d.ends_with("serde-1.0/src")));
        assert!(domain_dirs(&dir.path().join("missing")).is_empty());
    }

    #[tokio::test]
    async fn real_inotify_reports_lock_opens_and_domain_writes() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(".package-cache");
        let registry = dir.path().join("registry");
        std::fs::create_dir_all(registry.join("cache")).unwrap();
        std::fs::write(&lock, "").unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut w = FsWatcher::new(tx).unwrap();
        let key = FileKey { dev: 1, ino: 2 };
        assert!(
            w.update(std::slice::from_ref(&lock), &[(key, registry.clone())])
                .is_empty()
        );

        let _f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&lock)
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, Wake::LockFile(lock.clone()));

        std::fs::write(registry.join("cache/x.crate"), "data").unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let got = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .unwrap()
                .unwrap();
            if got == Wake::Activity(key) {
                break;
            }
        }
    }

    #[tokio::test]
    async fn an_unchanged_watch_set_reads_no_directory_again() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(".package-cache");
        let registry = dir.path().join("registry");
        std::fs::create_dir_all(registry.join("cache")).unwrap();
        std::fs::write(&lock, "").unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let mut w = FsWatcher::new(tx).unwrap();
        let domains = [(FileKey { dev: 1, ino: 2 }, registry.clone())];
        assert!(w.update(std::slice::from_ref(&lock), &domains).is_empty());
        assert_eq!(w.watched(), 3, "the lock, registry/ and registry/cache/");
        // A directory made since is not seen: the same inputs read nothing again...
        std::fs::create_dir_all(registry.join("src")).unwrap();
        assert!(w.update(std::slice::from_ref(&lock), &domains).is_empty());
        assert_eq!(w.watched(), 3);
        // ...while a new domain is read when it appears.
        let other = [(FileKey { dev: 1, ino: 3 }, registry.clone())];
        w.update(std::slice::from_ref(&lock), &other);
        assert_eq!(w.watched(), 3, "same directory, read once");
    }

    #[tokio::test]
    async fn a_lock_file_deleted_and_made_again_is_watched_again() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(".package-cache");
        std::fs::write(&lock, "").unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut w = FsWatcher::new(tx).unwrap();
        let files = std::slice::from_ref(&lock);
        assert!(w.update(files, &[]).is_empty());
        std::fs::remove_file(&lock).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !w.lost.lock().unwrap().contains(&lock) {
            let _ = tokio::time::timeout_at(deadline, rx.recv()).await.unwrap();
        }
        std::fs::write(&lock, "").unwrap();
        w.update(files, &[]);
        while rx.try_recv().is_ok() {}
        let _f = std::fs::File::open(&lock).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, Wake::LockFile(lock.clone()));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn listing_a_watched_directory_wakes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(".cargo-lock");
        std::fs::write(&lock, "").unwrap();
        std::fs::write(dir.path().join("readme"), "").unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut w = FsWatcher::new(tx).unwrap();
        let domains = [(FileKey { dev: 1, ino: 2 }, dir.path().to_path_buf())];
        assert!(w.update(std::slice::from_ref(&lock), &domains).is_empty());
        // Someone lists the target directory and reads a file in it, then a cargo opens the
        // lock: the kernel reports the open only, as the first and only event.
        let before = w.backend.events();
        let _ = std::fs::read(dir.path().join("readme")).unwrap();
        let _ = std::fs::read_dir(dir.path()).unwrap().count();
        let _f = std::fs::File::open(&lock).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, Wake::LockFile(lock.clone()));
        assert_eq!(w.backend.events() - before, 1);
    }
}
