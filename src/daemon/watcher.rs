//! Filesystem events that make the daemon react at once instead of waiting for its poll:
//! opens and closes of watched lock files (inotify on Linux; on macOS FSEvents only sees
//! creation and deletion, and kqueue fills the gap) wake a rescan, and writes under a held
//! lock's domain (registry, target dir) count as progress for the stale policy.
//!
//! The event side classifies at the boundary: noise is dropped there, and only two kinds of
//! message reach the engine. On Linux the kernel is asked only for what is used (no opens of
//! directories, whose reads by anyone — an IDE, `ls`, another daemon — would wake this one).
//!
//! Event paths may not be spelled as the watched paths were: FSEvents reports canonical paths
//! (`/private/var/…` for `/var/…`, `/private/tmp/…` for `/tmp/…`, a symlinked home or target dir
//! resolved), so each watched path is canonicalized once when it is added and an event under
//! the canonical form is mapped back to the watched form ([`Aliases`]).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use crate::core::model::FileKey;
#[cfg(any(not(target_os = "linux"), test))]
use notify::EventKind;

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
    /// The lock files last wanted (cut to the budget).
    #[cfg(target_os = "macos")]
    files: Vec<PathBuf>,
    /// Those of them without a live watch: not watchable last time, or whose watch ended.
    #[cfg(target_os = "macos")]
    unwatched: HashSet<PathBuf>,
    #[cfg(target_os = "macos")]
    pids: HashSet<u32>,
    /// How many lock files kqueue may watch: each holds a descriptor open.
    #[cfg(target_os = "macos")]
    budget: usize,
    /// Whether the log said that some lock files are polled instead.
    #[cfg(target_os = "macos")]
    said_over_budget: bool,
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
        let soft = super::open_files::current().map_or(256, |(soft, _)| soft);
        PlatformWakes {
            kqueue: kqueue.ok(),
            files: Vec::new(),
            unwatched: HashSet::new(),
            pids: HashSet::new(),
            budget: super::open_files::kqueue_budget(soft),
            said_over_budget: false,
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
        if files.len() > self.budget && !self.said_over_budget {
            self.said_over_budget = true;
            tracing::warn!(
                "{} lock files are watched; the open-file limit lets kqueue follow {} of them \
                 (the others' unlocks are seen by the periodic pass)",
                files.len(),
                self.budget
            );
        }
        let files = &files[..files.len().min(self.budget)];
        // A deleted, renamed or revoked file ended its watch: watch it again (once it exists).
        self.unwatched.extend(kq.take_ended());
        let diff = file_watch_diff(&self.files, files, &self.unwatched);
        for gone in &diff.remove {
            kq.unwatch_file(gone);
            self.unwatched.remove(gone);
        }
        for new in diff.add {
            if kq.watch_file(&new).is_ok() {
                self.unwatched.remove(&new);
            } else {
                self.unwatched.insert(new);
            }
        }
        if self.files != files {
            self.files = files.to_vec();
        }
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

/// What to change in the lock files' kqueue watches between two updates.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct FileWatchDiff {
    /// To watch: newly wanted, or wanted and without a live watch.
    pub add: Vec<PathBuf>,
    /// To stop watching: no longer wanted.
    pub remove: Vec<PathBuf>,
}

/// The watches to add and remove to go from the files wanted `before` to those wanted `now`,
/// when `unwatched` are the files of `before` that have no live watch (they could not be
/// watched, or their watch ended). An unchanged list costs one comparison and touches only
/// the unwatched ones, however many files there are.
#[cfg_attr(
    all(not(target_os = "macos"), not(test)),
    allow(
        dead_code,
        reason = "only kqueue (macOS) watches files one by one this way"
    )
)]
pub(super) fn file_watch_diff(
    before: &[PathBuf],
    now: &[PathBuf],
    unwatched: &HashSet<PathBuf>,
) -> FileWatchDiff {
    if before == now {
        let mut add: Vec<PathBuf> = unwatched.iter().cloned().collect();
        add.sort();
        return FileWatchDiff {
            add,
            remove: Vec::new(),
        };
    }
    let was: HashSet<&PathBuf> = before.iter().collect();
    let wanted: HashSet<&PathBuf> = now.iter().collect();
    let mut seen = HashSet::new();
    let add = (now.iter())
        .filter(|p| !was.contains(p) || unwatched.contains(*p))
        .filter(|p| seen.insert(*p))
        .cloned()
        .collect();
    let mut seen = HashSet::new();
    let remove = (before.iter())
        .filter(|p| !wanted.contains(p))
        .filter(|p| seen.insert(*p))
        .cloned()
        .collect();
    FileWatchDiff { add, remove }
}

/// Watched paths whose canonical form differs from the form they were given in, so events
/// reported under either form reach the same route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    /// Canonical root → the form it was given in. An event path is looked up ancestor by
    /// ancestor, nearest first, so the most specific root wins and a lookup costs the depth
    /// of the path, however many roots there are.
    given: HashMap<PathBuf, PathBuf>,
}

impl Aliases {
    /// From (given, canonical) pairs; pairs that are the same path are dropped. When two given
    /// paths have the same canonical form, the one that sorts first is kept.
    pub fn new(pairs: impl IntoIterator<Item = (PathBuf, PathBuf)>) -> Aliases {
        let mut given: HashMap<PathBuf, PathBuf> = HashMap::new();
        for (g, canonical) in pairs.into_iter().filter(|(g, c)| g != c) {
            match given.get_mut(&canonical) {
                Some(kept) if *kept <= g => {}
                Some(kept) => *kept = g,
                None => {
                    given.insert(canonical, g);
                }
            }
        }
        Aliases { given }
    }

    /// The event path in the form the watched paths were given in: the same path when it is
    /// not under a canonical form that differs (Linux inotify reports watched paths as given),
    /// else the given root joined with the rest of the path.
    pub fn to_given<'a>(&self, event: &'a Path) -> std::borrow::Cow<'a, Path> {
        match self.lookup(event) {
            Some((_, given)) => std::borrow::Cow::Owned(given),
            None => std::borrow::Cow::Borrowed(event),
        }
    }

    /// The event path in the given form, with the number of components of the canonical root
    /// it lies under (the most specific root wins), when it lies under one.
    fn lookup(&self, event: &Path) -> Option<(usize, PathBuf)> {
        if self.given.is_empty() {
            return None;
        }
        let (canonical, given) = event
            .ancestors()
            .find_map(|a| self.given.get(a).map(|g| (a, g)))?;
        let rest = event.strip_prefix(canonical).ok()?;
        let depth = canonical.components().count();
        Some(if rest.as_os_str().is_empty() {
            (depth, given.clone())
        } else {
            (depth, given.join(rest))
        })
    }
}

/// The routes of the lock files alone: shared by every [`Routes`] made while their list is the
/// same, so a hold starting or ending copies none of thousands of watched projects' paths.
#[derive(Debug, Default)]
pub(super) struct FileRoutes {
    pub lock_files: HashSet<PathBuf>,
    /// Lock files that do not exist yet (a new Cargo home): their creation in a watched parent
    /// directory wakes a pass, as an open of a watched one does.
    pub expected: HashSet<PathBuf>,
    /// Canonical forms of the lock files and their watched parents (FSEvents reports those).
    pub aliases: Aliases,
}

/// Where an event on a watched path leads.
#[derive(Debug, Default)]
pub(super) struct Routes {
    /// The lock files' half.
    pub files: Arc<FileRoutes>,
    /// Directory → locks whose domain it belongs to.
    pub domains: HashMap<PathBuf, Vec<FileKey>>,
    /// Canonical forms of the domains' directories.
    #[cfg_attr(
        all(target_os = "linux", not(test)),
        allow(
            dead_code,
            reason = "inotify reports paths as watched; FSEvents (macOS) does not"
        )
    )]
    pub domain_aliases: Aliases,
}

impl Routes {
    /// Whether `path` is a watched lock file.
    pub fn is_lock_file(&self, path: &Path) -> bool {
        self.files.lock_files.contains(path)
    }

    /// Whether `path` is a lock file awaited in a watched directory.
    pub fn is_expected(&self, path: &Path) -> bool {
        self.files.expected.contains(path)
    }

    /// [`Aliases::to_given`] over the lock files' and the domains' aliases together.
    #[cfg(any(not(target_os = "linux"), test))]
    pub fn to_given<'a>(&self, event: &'a Path) -> std::borrow::Cow<'a, Path> {
        let found = match (
            self.files.aliases.lookup(event),
            self.domain_aliases.lookup(event),
        ) {
            (Some(f), Some(d)) => Some(if d.0 > f.0 { d } else { f }),
            (f, d) => f.or(d),
        };
        match found {
            Some((_, given)) => std::borrow::Cow::Owned(given),
            None => std::borrow::Cow::Borrowed(event),
        }
    }
}

/// Where one event goes, before rate limiting.
#[cfg(any(not(target_os = "linux"), test))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Routed {
    /// A watched lock file (as it was given) changed.
    LockFile(PathBuf),
    /// Something was written in the domain of these locks.
    Activity(Vec<FileKey>),
}

#[cfg(any(not(target_os = "linux"), test))]
/// Classifies one `notify` event against the routes (pure: no I/O, no clock). Linux's
/// inotify side classifies its own events; this one serves FSEvents.
pub(super) fn route(routes: &Routes, kind: &EventKind, paths: &[PathBuf]) -> Vec<Routed> {
    let mut out = Vec::new();
    for raw in paths {
        let path = routes.to_given(raw);
        if routes.is_expected(&path) {
            if matches!(kind, EventKind::Create(_) | EventKind::Modify(_)) {
                out.push(Routed::LockFile(path.into_owned()));
            }
            continue;
        }
        if routes.is_lock_file(&path) {
            if matches!(
                kind,
                EventKind::Access(_)
                    | EventKind::Create(_)
                    | EventKind::Remove(_)
                    | EventKind::Modify(_)
            ) {
                out.push(Routed::LockFile(path.into_owned()));
            }
            continue;
        }
        let is_write = matches!(
            kind,
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
        let dir = if routes.domains.contains_key(path.as_ref()) {
            Some(path.as_ref())
        } else {
            path.parent()
        };
        if let Some(keys) = dir.and_then(|d| routes.domains.get(d)) {
            out.push(Routed::Activity(keys.clone()));
        }
    }
    out
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

/// The routes and watches the lock files alone ask for, kept while their list is the same: a
/// hold starting or ending changes only the domains, and thousands of watched projects would
/// otherwise be thousands of `stat`s, copies and hash lookups on every lock event.
#[derive(Debug)]
struct FilesPart {
    list: Vec<PathBuf>,
    routes: Arc<FileRoutes>,
    /// Watched path → what for: each existing lock file, and the directory of each one not
    /// made yet.
    want: HashMap<PathBuf, Role>,
    /// Lock files that did not exist (a fresh Cargo home has no `.package-cache-mutate` yet),
    /// and missing directories of theirs awaited (a Cargo home not made yet): their
    /// appearance is worth a new watch set.
    awaited: Vec<PathBuf>,
    /// Watched path → its canonical form, worked out once when it was first watched.
    canonical: HashMap<PathBuf, PathBuf>,
}

impl FilesPart {
    /// Existing lock files are watched themselves; one not made yet through its directory.
    /// Canonical forms already worked out in `previous` are kept.
    fn of(list: &[PathBuf], previous: Option<FilesPart>) -> FilesPart {
        let mut files = FileRoutes::default();
        let mut want = HashMap::new();
        let mut awaited = Vec::new();
        for f in list {
            if f.exists() {
                files.lock_files.insert(f.clone());
                want.insert(f.clone(), Role::LockFile);
                continue;
            }
            awaited.push(f.clone());
            // Its directory may not exist either (a configured Cargo home no cargo has used
            // yet): the first missing one is awaited in the nearest that exists (review T, T6).
            if let Some((dir, entry)) = awaited_entry(f) {
                files.expected.insert(entry.clone());
                want.entry(dir).or_insert(Role::Domain);
                if entry != *f {
                    awaited.push(entry);
                }
            }
        }
        let mut canonical = previous.map(|p| p.canonical).unwrap_or_default();
        canonicalize(&mut canonical, want.keys());
        files.aliases = aliases_of(&canonical);
        FilesPart {
            list: list.to_vec(),
            routes: Arc::new(files),
            want,
            awaited,
            canonical,
        }
    }
}

/// Where the appearance of missing lock file `f` shows first: its directory, or when that is
/// missing too (a Cargo home not made yet), the one above, with the entry awaited in it.
/// No higher: a project never built lacks `target/debug`, and watching the project itself
/// would wake on every save (its first build is seen through the package cache's locks).
fn awaited_entry(f: &Path) -> Option<(PathBuf, PathBuf)> {
    let parent = f.parent()?;
    if parent.is_dir() {
        return Some((parent.to_path_buf(), f.to_path_buf()));
    }
    let above = parent.parent().filter(|a| a.is_dir())?;
    Some((above.to_path_buf(), parent.to_path_buf()))
}

/// Keeps `canonical` to exactly `paths`, working out the form of those it lacks.
fn canonicalize<'a>(
    canonical: &mut HashMap<PathBuf, PathBuf>,
    paths: impl Iterator<Item = &'a PathBuf> + Clone,
) {
    let wanted: HashSet<&PathBuf> = paths.clone().collect();
    canonical.retain(|p, _| wanted.contains(p));
    for p in paths {
        if !canonical.contains_key(p)
            && let Ok(c) = p.canonicalize()
        {
            canonical.insert(p.clone(), c);
        }
    }
}

/// The aliases of the paths whose canonical form differs.
fn aliases_of(canonical: &HashMap<PathBuf, PathBuf>) -> Aliases {
    Aliases::new(
        canonical
            .iter()
            .map(|(given, canonical)| (given.clone(), canonical.clone())),
    )
}

/// Keeps the OS watcher alive and its watch set in line with what is held.
pub struct FsWatcher {
    backend: imp::Backend,
    routes: Arc<Mutex<Routes>>,
    /// Watched path → what for.
    watched: HashMap<PathBuf, Role>,
    /// The lock files' part of the last update.
    files: Option<FilesPart>,
    /// How many times the lock files' part was worked out (for tests and benchmarks).
    files_built: u64,
    /// The domains of the last update.
    domains: Vec<(FileKey, PathBuf)>,
    /// The directories those domains asked to watch beyond the lock files' part.
    domain_want: HashSet<PathBuf>,
    /// Canonical forms of `domain_want`.
    domain_canonical: HashMap<PathBuf, PathBuf>,
    /// Whether the last update watched all it wanted: if not, the next one tries everything
    /// again (a path that could not be watched may be watchable now).
    settled: bool,
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
            files: None,
            files_built: 0,
            domains: Vec::new(),
            domain_want: HashSet::new(),
            domain_canonical: HashMap::new(),
            settled: false,
            dirs_of: HashMap::new(),
            lost,
        })
    }

    /// Sets the watch set: lock files (those not made yet through their directory) and activity
    /// directories of held locks.
    /// Returns the paths that could not be watched (the poll still covers them). Does nothing
    /// when nothing changed since the last call; when only the domains changed, touches only
    /// their watches.
    pub fn update(
        &mut self,
        lock_files: &[PathBuf],
        domains: &[(FileKey, PathBuf)],
    ) -> Vec<(PathBuf, String)> {
        let lost = std::mem::take(&mut *self.lost.lock().unwrap_or_else(|p| p.into_inner()));
        for path in &lost {
            self.watched.remove(path);
        }
        // A lock file missing now is looked for again on each update (one `stat` each), and
        // everything is worked out again once it appears.
        let appeared = (self.files.iter()).any(|f| f.awaited.iter().any(|a| a.exists()));
        let same_files = lost.is_empty()
            && !appeared
            && self.files.as_ref().is_some_and(|f| f.list == lock_files);
        if same_files && self.settled && self.domains == domains {
            return Vec::new();
        }
        if !same_files {
            self.files = Some(FilesPart::of(lock_files, self.files.take()));
            self.files_built += 1;
        }
        let (domain_routes, domain_want) = self.domain_part(domains);
        canonicalize(&mut self.domain_canonical, domain_want.iter());
        let failed = if same_files && self.settled {
            self.watch_domains(&domain_want)
        } else {
            self.watch_all(&domain_want)
        };
        let files = self.files.as_ref().map(|f| Arc::clone(&f.routes));
        *self.routes.lock().unwrap_or_else(|p| p.into_inner()) = Routes {
            files: files.unwrap_or_default(),
            domains: domain_routes,
            domain_aliases: aliases_of(&self.domain_canonical),
        };
        self.domain_want = domain_want;
        self.domains = domains.to_vec();
        self.settled = failed.is_empty();
        failed
    }

    /// The domains' routes, and the directories they ask to watch that the lock files' part
    /// does not.
    fn domain_part(
        &mut self,
        domains: &[(FileKey, PathBuf)],
    ) -> (HashMap<PathBuf, Vec<FileKey>>, HashSet<PathBuf>) {
        let files_want = self.files.as_ref().map(|f| &f.want);
        let mut routes: HashMap<PathBuf, Vec<FileKey>> = HashMap::new();
        let mut want = HashSet::new();
        self.dirs_of
            .retain(|dir, _| domains.iter().any(|(_, d)| d == dir));
        for (key, dir) in domains {
            let dirs = self
                .dirs_of
                .entry(dir.clone())
                .or_insert_with(|| domain_dirs(dir));
            for d in dirs.iter() {
                routes.entry(d.clone()).or_default().push(*key);
                if !files_want.is_some_and(|w| w.contains_key(d)) {
                    want.insert(d.clone());
                }
            }
        }
        (routes, want)
    }

    /// Watches exactly the lock files' part and `domain_want`; returns what could not be
    /// watched.
    fn watch_all(&mut self, domain_want: &HashSet<PathBuf>) -> Vec<(PathBuf, String)> {
        let empty = HashMap::new();
        let files_want = self.files.as_ref().map_or(&empty, |f| &f.want);
        let wants = |p: &PathBuf| {
            (files_want.get(p).copied()).or_else(|| domain_want.contains(p).then_some(Role::Domain))
        };
        let gone: Vec<PathBuf> = (self.watched.iter())
            .filter(|(p, role)| wants(p) != Some(**role))
            .map(|(p, _)| p.clone())
            .collect();
        for path in gone {
            self.backend.unwatch(&path);
            self.watched.remove(&path);
        }
        let domains = domain_want.iter().map(|p| (p, &Role::Domain));
        let mut failed = Vec::new();
        for (path, role) in files_want.iter().chain(domains) {
            if !self.watched.contains_key(path) {
                watch(
                    &mut self.backend,
                    &mut self.watched,
                    path,
                    *role,
                    &mut failed,
                );
            }
        }
        failed
    }

    /// Moves the domains' watches from the last update's to `domain_want`, leaving the lock
    /// files' part as it is.
    fn watch_domains(&mut self, domain_want: &HashSet<PathBuf>) -> Vec<(PathBuf, String)> {
        for gone in self.domain_want.difference(domain_want) {
            if self.watched.get(gone) == Some(&Role::Domain) {
                self.backend.unwatch(gone);
                self.watched.remove(gone);
            }
        }
        let mut failed = Vec::new();
        for path in domain_want.difference(&self.domain_want) {
            if !self.watched.contains_key(path) {
                let (backend, watched) = (&mut self.backend, &mut self.watched);
                watch(backend, watched, path, Role::Domain, &mut failed);
            }
        }
        failed
    }

    /// Whether a lock file is watched: its opens wake the daemon at once, so a hold seen on it
    /// began just before.
    pub fn watches_lock_file(&self, path: &Path) -> bool {
        self.watched.get(path) == Some(&Role::LockFile)
    }

    /// How many paths are watched (for the log and benchmarks).
    pub fn watched(&self) -> usize {
        self.watched.len()
    }

    /// How many times the lock files' part of the watch set was worked out.
    pub fn files_built(&self) -> u64 {
        self.files_built
    }
}

/// Watches one path, noting it in `watched`, or its failure in `failed`.
fn watch(
    backend: &mut imp::Backend,
    watched: &mut HashMap<PathBuf, Role>,
    path: &Path,
    role: Role,
    failed: &mut Vec<(PathBuf, String)>,
) {
    match backend.watch(path, role) {
        Ok(()) => {
            watched.insert(path.to_path_buf(), role);
        }
        Err(e) => failed.push((path.to_path_buf(), e)),
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

    #[test]
    fn canonical_event_paths_map_back_to_the_watched_form() {
        let a = Aliases::new([
            (
                "/var/folders/x/T/p".into(),
                "/private/var/folders/x/T/p".into(),
            ),
            ("/tmp/lock".into(), "/private/tmp/lock".into()),
            ("/same".into(), "/same".into()),
            // A watched dir inside another one: the more specific root wins.
            (
                "/var/folders/x/T/p/target/debug".into(),
                "/Volumes/fast/target/debug".into(),
            ),
        ]);
        let given = |p: &str| a.to_given(Path::new(p)).into_owned();
        assert_eq!(given("/private/tmp/lock"), Path::new("/tmp/lock"));
        assert_eq!(
            given("/private/var/folders/x/T/p/registry/cache/a.crate"),
            Path::new("/var/folders/x/T/p/registry/cache/a.crate")
        );
        assert_eq!(
            given("/Volumes/fast/target/debug/deps/x.rmeta"),
            Path::new("/var/folders/x/T/p/target/debug/deps/x.rmeta")
        );
        // Already in the watched form (inotify), or unrelated: unchanged, not copied.
        assert!(matches!(
            a.to_given(Path::new("/tmp/lock")),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(given("/same/x"), Path::new("/same/x"));
        // A path that merely shares a prefix string is not under the root.
        assert_eq!(
            given("/private/tmp/lockfile"),
            Path::new("/private/tmp/lockfile")
        );
    }

    #[test]
    fn kqueue_watches_change_only_where_the_wanted_files_do() {
        let files = |r: std::ops::Range<usize>| -> Vec<PathBuf> {
            r.map(|i| PathBuf::from(format!("/p/{i}/target/debug/.cargo-lock")))
                .collect()
        };
        let none = HashSet::new();
        // The first update watches everything.
        let first = file_watch_diff(&[], &files(0..3000), &none);
        assert_eq!((first.add.len(), first.remove.len()), (3000, 0));
        // The same list again: nothing to do, not thousands of re-adds.
        assert_eq!(
            file_watch_diff(&files(0..3000), &files(0..3000), &none),
            FileWatchDiff::default()
        );
        // A watch ended (the file was deleted and made again), another could not be made:
        // only those two are watched again.
        let ended = HashSet::from([files(7..8)[0].clone(), files(2999..3000)[0].clone()]);
        let again = file_watch_diff(&files(0..3000), &files(0..3000), &ended);
        assert_eq!(again.add, [files(2999..3000), files(7..8)].concat());
        assert!(again.remove.is_empty());
        // The list moves: the new ones are added, the gone ones removed, the rest untouched;
        // an unwatched file no longer wanted is not added again.
        let moved = file_watch_diff(&files(0..3000), &files(10..3010), &ended);
        assert_eq!(moved.add, [files(2999..3000), files(3000..3010)].concat());
        assert_eq!(moved.remove, files(0..10));
        // Duplicates in a list are one watch.
        let twice = [files(0..1), files(0..1)].concat();
        assert_eq!(file_watch_diff(&[], &twice, &none).add, files(0..1));
        assert_eq!(file_watch_diff(&twice, &[], &none).remove, files(0..1));
    }

    #[test]
    fn thousands_of_roots_map_each_event_to_its_most_specific_one() {
        // 3,000 projects linked from the watched form into /Volumes/src, and each one's
        // target dir linked again elsewhere (a root inside another).
        let mut pairs: Vec<(PathBuf, PathBuf)> = Vec::new();
        for i in 0..3000 {
            let given = PathBuf::from(format!("/Users/me/src/p{i}"));
            pairs.push((given.clone(), PathBuf::from(format!("/Volumes/src/p{i}"))));
            pairs.push((
                given.join("target"),
                PathBuf::from(format!("/Volumes/fast/t{i}")),
            ));
        }
        // Two given forms of one canonical root: the one that sorts first, in any order.
        pairs.push(("/b/dup".into(), "/Volumes/src/dup".into()));
        pairs.push(("/a/dup".into(), "/Volumes/src/dup".into()));
        let a = Aliases::new(pairs.iter().rev().cloned());
        assert_eq!(a, Aliases::new(pairs));
        let given = |p: &str| a.to_given(Path::new(p)).into_owned();
        for i in [0, 1, 10, 1234, 2999] {
            assert_eq!(
                given(&format!("/Volumes/src/p{i}/src/lib.rs")),
                PathBuf::from(format!("/Users/me/src/p{i}/src/lib.rs"))
            );
            assert_eq!(
                given(&format!("/Volumes/fast/t{i}/debug/.cargo-lock")),
                PathBuf::from(format!("/Users/me/src/p{i}/target/debug/.cargo-lock"))
            );
            assert_eq!(
                given(&format!("/Volumes/src/p{i}")),
                PathBuf::from(format!("/Users/me/src/p{i}"))
            );
        }
        // A nested root's own canonical form: its given form, and its depth.
        assert_eq!(
            a.lookup(Path::new("/Volumes/fast/t7/debug")),
            Some((4, PathBuf::from("/Users/me/src/p7/target/debug")))
        );
        assert_eq!(given("/Volumes/src/dup/x"), Path::new("/a/dup/x"));
        assert_eq!(
            given("/Volumes/src/p30000/x"),
            Path::new("/Volumes/src/p30000/x")
        );
        assert!(matches!(
            a.to_given(Path::new("relative/p1")),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn an_unchanged_watch_set_is_kept_until_an_awaited_lock_file_appears() {
        let dir = tempfile::tempdir().unwrap();
        let (made, later) = (
            dir.path().join(".package-cache"),
            dir.path().join(".package-cache-mutate"),
        );
        std::fs::write(&made, "").unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _in_runtime = rt.enter();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let mut w = FsWatcher::new(tx).unwrap();
        let files = [made.clone(), later.clone()];
        assert!(w.update(&files, &[]).is_empty());
        assert!(w.watches_lock_file(&made) && !w.watches_lock_file(&later));
        let awaited = |w: &FsWatcher| w.files.as_ref().unwrap().awaited.clone();
        assert_eq!(awaited(&w), std::slice::from_ref(&later));
        // Nothing changed: the same update is not worked out again.
        w.watched.clear();
        w.update(&files, &[]);
        assert!(w.watched.is_empty(), "kept as it was, not recomputed");
        assert_eq!(w.files_built(), 1);
        // The awaited file appears: the set is worked out again and watches it.
        std::fs::write(&later, "").unwrap();
        w.update(&files, &[]);
        assert!(w.watches_lock_file(&later) && awaited(&w).is_empty());
        assert_eq!(w.files_built(), 2);
    }

    #[tokio::test]
    async fn a_hold_starting_or_ending_touches_only_its_domain() {
        // Many free lock files; one of them is taken and let go again.
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (0..50)
            .map(|i| {
                let target = dir.path().join(format!("p{i}/target/debug"));
                std::fs::create_dir_all(target.join("deps")).unwrap();
                std::fs::write(target.join(".cargo-lock"), "").unwrap();
                target.join(".cargo-lock")
            })
            .collect();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let mut w = FsWatcher::new(tx).unwrap();
        assert!(w.update(&files, &[]).is_empty());
        let shared = Arc::clone(&w.routes.lock().unwrap().files);
        let held = files[7].parent().unwrap().to_path_buf();
        let domains = [(FileKey { dev: 1, ino: 2 }, held.clone())];
        // The files' watches and routes stay as they are: only the domain's are touched.
        w.watched.remove(&files[3]);
        assert!(w.update(&files, &domains).is_empty());
        assert!(!w.watched.contains_key(&files[3]), "not re-applied");
        assert_eq!(w.watched.get(&held.join("deps")), Some(&Role::Domain));
        let routes = w.routes.lock().unwrap();
        assert!(Arc::ptr_eq(&routes.files, &shared), "shared, not copied");
        assert!(routes.domains.contains_key(&held) && routes.is_lock_file(&files[49]));
        drop(routes);
        assert!(w.update(&files, &[]).is_empty());
        assert!(!w.watched.contains_key(&held.join("deps")));
        assert!(!w.watched.contains_key(&held) && w.routes.lock().unwrap().domains.is_empty());
        assert_eq!(w.files_built(), 1);
        // A new list is worked out again, watching everything it wants.
        assert!(w.update(&files[..49], &[]).is_empty());
        assert_eq!(w.files_built(), 2);
        assert!(w.watches_lock_file(&files[3]) && !w.watches_lock_file(&files[49]));
    }

    #[test]
    fn events_under_a_symlinked_dir_reach_the_routes_in_both_forms() {
        // A symlinked Cargo home (a symlinked $HOME does the same): watched through the link,
        // reported by FSEvents through the real directory.
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real-home");
        std::fs::create_dir_all(real.join("registry/cache")).unwrap();
        std::fs::write(real.join(".package-cache"), "").unwrap();
        let link = dir.path().join("home");
        std::os::unix::fs::symlink(&real, &link).unwrap();

        let lock = link.join(".package-cache");
        let registry = link.join("registry");
        let key = FileKey { dev: 1, ino: 2 };
        let watched = [lock.clone(), registry.clone(), registry.join("cache")];
        let files = |expected: HashSet<PathBuf>, aliases| {
            Arc::new(FileRoutes {
                lock_files: HashSet::from([lock.clone()]),
                expected,
                aliases,
            })
        };
        let mut routes = Routes {
            files: files(HashSet::new(), Aliases::default()),
            domain_aliases: Aliases::new(
                watched
                    .iter()
                    .map(|p| (p.clone(), p.canonicalize().unwrap())),
            ),
            ..Routes::default()
        };
        routes.domains.insert(registry.clone(), vec![key]);
        routes.domains.insert(registry.join("cache"), vec![key]);
        let canonical_lock = lock.canonicalize().unwrap();
        assert_ne!(canonical_lock, lock);

        let open = EventKind::Access(notify::event::AccessKind::Open(
            notify::event::AccessMode::Any,
        ));
        for seen in [&canonical_lock, &lock] {
            assert_eq!(
                route(&routes, &open, std::slice::from_ref(seen)),
                vec![Routed::LockFile(lock.clone())],
                "{}",
                seen.display()
            );
        }
        let write = EventKind::Create(notify::event::CreateKind::File);
        let canonical_crate = real.canonicalize().unwrap().join("registry/cache/x.crate");
        assert_eq!(
            route(&routes, &write, &[canonical_crate]),
            vec![Routed::Activity(vec![key])]
        );
        assert_eq!(
            route(&routes, &write, &[registry.join("cache/y.crate")]),
            vec![Routed::Activity(vec![key])]
        );
        // Outside every route: nothing.
        assert!(route(&routes, &write, &[dir.path().join("elsewhere")]).is_empty());
        // A lock file that does not exist yet: its creation is a lock-file event.
        // (watched through its home, whose canonical form is known too).
        routes.files = files(
            HashSet::from([link.join(".package-cache-mutate")]),
            Aliases::new([(link.clone(), link.canonicalize().unwrap())]),
        );
        assert_eq!(
            route(
                &routes,
                &write,
                &[real.canonicalize().unwrap().join(".package-cache-mutate")]
            ),
            vec![Routed::LockFile(link.join(".package-cache-mutate"))]
        );
        // Reads in a domain are not progress.
        assert!(route(&routes, &open, &[registry.join("cache/z.crate")]).is_empty());
    }

    /// A configured Cargo home no cargo has made yet: its making wakes a pass, and the watch
    /// set then awaits the lock file in it (review T, T6).
    #[tokio::test]
    async fn real_inotify_sees_a_missing_cargo_home_made() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home8");
        let lock = home.join(".package-cache");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut w = FsWatcher::new(tx).unwrap();
        assert!(w.update(std::slice::from_ref(&lock), &[]).is_empty());
        std::fs::create_dir(&home).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, Wake::LockFile(home.clone()));
        // The next pass's update works the set out again: the lock file is awaited in the
        // home now, and its making wakes a pass too.
        w.update(std::slice::from_ref(&lock), &[]);
        assert_eq!(w.files_built(), 2);
        std::fs::write(&lock, "").unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, Wake::LockFile(lock.clone()));
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
    async fn a_lock_file_made_in_a_watched_home_wakes_a_pass() {
        // A new Cargo home: the first cargo makes its lock files.
        let home = tempfile::tempdir().unwrap();
        let lock = home.path().join(".package-cache-mutate");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut w = FsWatcher::new(tx).unwrap();
        assert!(w.update(std::slice::from_ref(&lock), &[]).is_empty());
        assert!(!w.watches_lock_file(&lock));
        std::fs::write(home.path().join("unrelated"), "").unwrap();
        std::fs::write(&lock, "").unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            got,
            Wake::LockFile(lock.clone()),
            "only the lock file's creation"
        );
        // Once it exists it is watched itself, and the home no longer.
        w.update(std::slice::from_ref(&lock), &[]);
        assert!(w.watches_lock_file(&lock));
        assert_eq!(w.watched(), 1);
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
