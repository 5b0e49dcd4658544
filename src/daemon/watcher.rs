//! Filesystem events that make the daemon react at once instead of waiting for its poll:
//! opens and closes of watched lock files (inotify `OPEN`/`CLOSE_WRITE`; on macOS FSEvents only
//! sees creation and deletion, and kqueue fills the gap) wake a rescan, and writes under a held
//! lock's domain (registry, target dir) count as progress for the stale policy.
//!
//! The callback classifies at the boundary: noise is dropped there, and only two kinds of
//! message reach the engine.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc::UnboundedSender;

use crate::core::model::FileKey;

/// At most one activity message per lock in this time.
const ACTIVITY_EVERY: Duration = Duration::from_millis(500);

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

#[derive(Default)]
struct Routes {
    lock_files: HashSet<PathBuf>,
    /// Directory → locks whose domain it belongs to.
    domains: HashMap<PathBuf, Vec<FileKey>>,
}

/// What the watch set was made from: lock files and (lock, activity domain) pairs.
type Inputs = (Vec<PathBuf>, Vec<(FileKey, PathBuf)>);

/// Keeps the OS watcher alive and its watch set in line with what is held.
pub struct FsWatcher {
    watcher: notify::RecommendedWatcher,
    routes: Arc<Mutex<Routes>>,
    watched: HashSet<PathBuf>,
    /// The last update's inputs: an update with the same ones touches nothing.
    last: Option<Inputs>,
    /// Each domain's directories, read once when the domain appears: reading a watched
    /// directory on every pass made the watcher report its own reads.
    dirs_of: HashMap<PathBuf, Vec<PathBuf>>,
    /// Watched paths the OS stopped watching (deleted or moved), to watch again.
    lost: Arc<Mutex<HashSet<PathBuf>>>,
}

impl FsWatcher {
    /// Starts the OS watcher; events go to `tx`.
    pub fn new(tx: UnboundedSender<Wake>) -> notify::Result<FsWatcher> {
        let routes = Arc::new(Mutex::new(Routes::default()));
        let r = Arc::clone(&routes);
        let lost = Arc::new(Mutex::new(HashSet::new()));
        let lost_paths = Arc::clone(&lost);
        // A build writes thousands of files; the policy needs to know only that something was
        // written recently, so each lock's activity is forwarded at most once per interval.
        let mut last_sent: HashMap<FileKey, Instant> = HashMap::new();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let event = match res {
                Ok(e) => e,
                Err(e) => {
                    let _ = tx.send(Wake::Failed(e.to_string()));
                    return;
                }
            };
            let routes = r.lock().unwrap_or_else(|p| p.into_inner());
            if matches!(event.kind, EventKind::Remove(_)) {
                let mut lost = lost_paths.lock().unwrap_or_else(|p| p.into_inner());
                lost.extend(event.paths.iter().cloned());
            }
            for path in &event.paths {
                if routes.lock_files.contains(path) {
                    if matches!(
                        event.kind,
                        EventKind::Access(_)
                            | EventKind::Create(_)
                            | EventKind::Remove(_)
                            | EventKind::Modify(_)
                    ) {
                        let _ = tx.send(Wake::LockFile(path.clone()));
                    }
                    continue;
                }
                let is_write = matches!(
                    event.kind,
                    EventKind::Create(_)
                        | EventKind::Modify(_)
                        | EventKind::Remove(_)
                        | EventKind::Access(notify::event::AccessKind::Close(
                            notify::event::AccessMode::Write
                        ))
                );
                if !is_write {
                    continue;
                }
                let dir = if routes.domains.contains_key(path) {
                    Some(path.as_path())
                } else {
                    path.parent()
                };
                if let Some(keys) = dir.and_then(|d| routes.domains.get(d)) {
                    let now = Instant::now();
                    for k in keys {
                        if last_sent
                            .get(k)
                            .is_none_or(|t| now.duration_since(*t) >= ACTIVITY_EVERY)
                        {
                            last_sent.insert(*k, now);
                            let _ = tx.send(Wake::Activity(*k));
                        }
                    }
                    if last_sent.len() > 1024 {
                        last_sent.retain(|_, t| now.duration_since(*t) < ACTIVITY_EVERY);
                    }
                }
            }
        })?;
        Ok(FsWatcher {
            watcher,
            routes,
            watched: HashSet::new(),
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
        let complete = failed.is_empty() && lock_files.iter().all(|f| want.contains(f));
        self.last = complete.then_some(inputs);
        failed
    }

    /// The routes for the callback and the paths to watch.
    fn routes_for(
        &mut self,
        lock_files: &[PathBuf],
        domains: &[(FileKey, PathBuf)],
    ) -> (Routes, HashSet<PathBuf>) {
        let mut routes = Routes::default();
        let mut want: HashSet<PathBuf> = HashSet::new();
        for f in lock_files {
            if f.exists() {
                routes.lock_files.insert(f.clone());
                want.insert(f.clone());
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
                want.insert(d.clone());
            }
        }
        (routes, want)
    }

    /// Watches exactly `want`; returns what could not be watched.
    fn apply(&mut self, want: &HashSet<PathBuf>) -> Vec<(PathBuf, String)> {
        let mut failed = Vec::new();
        for gone in self.watched.difference(want).cloned().collect::<Vec<_>>() {
            let _ = self.watcher.unwatch(&gone);
            self.watched.remove(&gone);
        }
        for new in want
            .difference(&self.watched.clone())
            .cloned()
            .collect::<Vec<_>>()
        {
            match self.watcher.watch(&new, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(new);
                }
                Err(e) => failed.push((new, e.to_string())),
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
}
