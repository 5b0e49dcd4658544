//! The cheap look between passes where file events cannot see a lock being taken (macOS:
//! kqueue reports unlocks only and FSEvents no opens), decided here as pure functions so they
//! are tested on Linux: how often to look, and at which lock files.
//!
//! A look is one `open` + `F_GETLK` + `close` per file. Looking at every known file every
//! 500 ms kept an idle Mac awake twice a second forever, and cost 3,000 `F_GETLK`s per tick
//! with 3,000 watched projects. So:
//!
//! - **How often** ([`QuickCheck::interval`]): every [`LIVELY`] while something is going on (an
//!   incident is open, a lock-file or activity event or a change arrived in the last
//!   [`LIVELY_FOR`], a cargo started); every [`HOLDING`] while a lock is held and nothing moves;
//!   every [`IDLE`] otherwise. With the daemon's own pass every 15 s taking the place of one of
//!   them, that is at most 0.2 wakeups/s idle and 0.4/s during a quiet hold.
//! - **Which files** ([`QuickCheck::plan`]): the *hot* ones every time (the Cargo homes' package
//!   cache locks, files held at the last look, files under a root — a Cargo home or watched
//!   project — where a lock was held or an event arrived lately) and a round-robin slice of at
//!   most [`COLD_PER_TICK`] of the others, so every known file is looked at within
//!   `ceil(cold / COLD_PER_TICK)` ticks.
//! - **What changed** ([`QuickCheck::observe`]): each file's answer is kept and compared with
//!   its own previous one; any difference (or a file found held the first time it is looked
//!   at) asks for a full pass. Nothing else does, so a quiet machine runs no pass for it.
//!
//! The trade-off: a lock taken where nothing else happens (a cold file, no cargo started, no
//! event) is seen within one sweep of the cold files at the slow interval. Contention — a
//! second process wanting a lock — involves a held file, which is hot and looked at every tick.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::core::catalog::LockKind;
use crate::probe::QuickLook;

/// The interval while something is going on.
pub const LIVELY: Duration = Duration::from_millis(500);
/// The interval while a lock is held and nothing has moved for [`LIVELY_FOR`].
pub const HOLDING: Duration = Duration::from_millis(2500);
/// The interval while nothing is held and nothing happens.
pub const IDLE: Duration = Duration::from_secs(5);
/// How long an event (a lock-file event, writes in a held lock's domain, a look that changed,
/// a cargo that started) keeps the pace lively and its root hot.
pub const LIVELY_FOR: Duration = Duration::from_secs(60);
/// How many cold files are looked at per tick, at most.
pub const COLD_PER_TICK: usize = 64;

/// The known lock files as the planner indexes them: each file's root (the most specific
/// Cargo home or watched project it lies under) and each root's files, made once per listing.
#[derive(Debug, Default)]
struct Index {
    files: Arc<[(PathBuf, LockKind)]>,
    roots: Vec<PathBuf>,
    /// Root → its position in `roots`.
    root_of_path: HashMap<PathBuf, usize>,
    /// File → its position in `files`.
    position: HashMap<PathBuf, usize>,
    /// Each file's root (`None`: under none of them).
    root: Vec<Option<usize>>,
    /// Each root's files.
    members: Vec<Vec<usize>>,
    /// The Cargo homes' package cache locks: every build may take them.
    fixed: Vec<usize>,
}

impl Index {
    fn new(files: Arc<[(PathBuf, LockKind)]>, roots: &[PathBuf]) -> Index {
        let root_of_path: HashMap<PathBuf, usize> = (roots.iter().enumerate())
            .map(|(i, r)| (r.clone(), i))
            .collect();
        let mut members = vec![Vec::new(); roots.len()];
        let mut root = Vec::with_capacity(files.len());
        let mut fixed = Vec::new();
        for (i, (path, kind)) in files.iter().enumerate() {
            let r = root_under(&root_of_path, path);
            if let Some(r) = r {
                members[r].push(i);
            }
            root.push(r);
            if matches!(kind, LockKind::PackageCache | LockKind::PackageCacheMutate) {
                fixed.push(i);
            }
        }
        let position = (files.iter().enumerate())
            .map(|(i, (p, _))| (p.clone(), i))
            .collect();
        Index {
            files,
            roots: roots.to_vec(),
            root_of_path,
            position,
            root,
            members,
            fixed,
        }
    }
}

/// The most specific root `path` lies under: one hash lookup per ancestor.
fn root_under(roots: &HashMap<PathBuf, usize>, path: &Path) -> Option<usize> {
    path.ancestors().skip(1).find_map(|a| roots.get(a).copied())
}

/// What the planner remembers between ticks.
#[derive(Debug, Default)]
pub struct QuickCheck {
    index: Index,
    /// Each file's answer at its last look.
    looks: Vec<Option<QuickLook>>,
    /// Files whose last look found them held.
    held: HashSet<usize>,
    /// Files the last full pass found held.
    pass_held: HashSet<usize>,
    /// Root → until when it is hot.
    hot_until: HashMap<usize, Instant>,
    /// Until when the pace is lively.
    lively_until: Option<Instant>,
    /// Where the round-robin over cold files goes on.
    cursor: usize,
}

impl QuickCheck {
    /// Takes the known lock files and the roots they were listed from (Cargo homes, watched
    /// projects). Does nothing when both are as before; otherwise answers already known for a
    /// path are kept.
    pub fn set_known(&mut self, files: &Arc<[(PathBuf, LockKind)]>, roots: &[PathBuf]) {
        if Arc::ptr_eq(&self.index.files, files) && self.index.roots == roots {
            return;
        }
        let index = Index::new(Arc::clone(files), roots);
        let mut looks = vec![None; files.len()];
        for (old, look) in self.looks.iter().enumerate() {
            let path = self.index.files.get(old).map(|(p, _)| p);
            if let Some(new) = path.and_then(|p| index.position.get(p)) {
                looks[*new] = *look;
            }
        }
        let held = (looks.iter().enumerate())
            .filter(|(_, l)| l.is_some_and(|l| l.is_held()))
            .map(|(i, _)| i)
            .collect();
        let roots_of = |old: &Index, r: usize| index.root_of_path.get(&old.roots[r]).copied();
        self.hot_until = (self.hot_until.iter())
            .filter_map(|(r, t)| Some((roots_of(&self.index, *r)?, *t)))
            .collect();
        self.pass_held.clear();
        self.looks = looks;
        self.held = held;
        self.index = index;
        self.cursor = 0;
    }

    /// A lock-file event (kqueue, FSEvents) or a holder's exit: the pace is lively, and the
    /// root of `path` (when given and under one) is hot, for [`LIVELY_FOR`].
    pub fn note_event(&mut self, path: Option<&Path>, now: Instant) {
        self.lively_until = Some(now + LIVELY_FOR);
        if let Some(r) = path.and_then(|p| root_under(&self.index.root_of_path, p)) {
            self.hot_until.insert(r, now + LIVELY_FOR);
        }
    }

    /// What a full pass found held: those files are hot, and so are their roots.
    pub fn passed<'a>(&mut self, held: impl IntoIterator<Item = &'a Path>, now: Instant) {
        self.pass_held.clear();
        for path in held {
            if let Some(i) = self.index.position.get(path).copied() {
                self.pass_held.insert(i);
            }
            if let Some(r) = root_under(&self.index.root_of_path, path) {
                self.hot_until.insert(r, now + LIVELY_FOR);
            }
        }
    }

    /// How long until the next look: [`LIVELY`] during an incident or within [`LIVELY_FOR`]
    /// of an event, [`HOLDING`] while something is held, [`IDLE`] otherwise.
    pub fn interval(&self, incident_open: bool, held: bool, now: Instant) -> Duration {
        if incident_open || self.lively_until.is_some_and(|t| t > now) {
            LIVELY
        } else if held || !self.held.is_empty() || !self.pass_held.is_empty() {
            HOLDING
        } else {
            IDLE
        }
    }

    /// The files to look at now (positions in the known list): every hot one, then up to
    /// [`COLD_PER_TICK`] cold ones, going on where the last tick stopped.
    pub fn plan(&mut self, now: Instant) -> Vec<usize> {
        let hot = self.hot(now);
        let mut out: Vec<usize> = hot.iter().copied().collect();
        out.sort_unstable();
        let n = self.index.files.len();
        let mut taken = 0;
        let mut seen = 0;
        let mut i = self.cursor.min(n);
        while taken < COLD_PER_TICK && seen < n {
            if i >= n {
                i = 0;
            }
            if !hot.contains(&i) {
                out.push(i);
                taken += 1;
            }
            i += 1;
            seen += 1;
        }
        self.cursor = if i >= n { 0 } else { i };
        out
    }

    /// The hot files (positions in the known list): the package cache locks, the files held
    /// at the last look or pass, and the files of roots hot until after `now`.
    fn hot(&mut self, now: Instant) -> HashSet<usize> {
        self.hot_until.retain(|_, t| *t > now);
        let index = &self.index;
        let mut hot: HashSet<usize> = HashSet::new();
        hot.extend(index.fixed.iter().copied());
        hot.extend(self.held.iter().copied());
        hot.extend(self.pass_held.iter().copied());
        for r in self.hot_until.keys() {
            hot.extend(index.members[*r].iter().copied());
        }
        hot
    }

    /// The path of the file at `position` in the known list.
    pub fn path(&self, position: usize) -> Option<&Path> {
        self.index.files.get(position).map(|(p, _)| p.as_path())
    }

    /// Takes the answers for the files [`QuickCheck::plan`] chose (in its order); returns
    /// whether any of them differs from that file's previous answer, or was found held at its
    /// first look. A change makes the pace lively and the file's root hot.
    pub fn observe(&mut self, checked: &[usize], looks: &[QuickLook], now: Instant) -> bool {
        let mut changed = false;
        for (i, look) in checked.iter().zip(looks) {
            let Some(slot) = self.looks.get_mut(*i) else {
                continue;
            };
            let moved = match slot {
                Some(before) => before != look,
                None => look.is_held(),
            };
            *slot = Some(*look);
            if look.is_held() {
                self.held.insert(*i);
            } else {
                self.held.remove(i);
            }
            if moved {
                changed = true;
                if let Some(r) = self.index.root[*i] {
                    self.hot_until.insert(r, now + LIVELY_FOR);
                }
            }
        }
        if changed {
            self.lively_until = Some(now + LIVELY_FOR);
        }
        changed
    }

    /// How many known files there are.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.index.files.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(n_projects: usize) -> (Arc<[(PathBuf, LockKind)]>, Vec<PathBuf>) {
        let mut files = vec![
            (PathBuf::from("/h/.package-cache"), LockKind::PackageCache),
            (
                PathBuf::from("/h/.package-cache-mutate"),
                LockKind::PackageCacheMutate,
            ),
            (
                PathBuf::from("/h/registry/index/x/.cargo-index-lock"),
                LockKind::LegacyRegistryIndex,
            ),
        ];
        let mut roots = vec![PathBuf::from("/h")];
        for i in 0..n_projects {
            let root = PathBuf::from(format!("/p/{i:04}"));
            for f in ["target/debug/.cargo-lock", "target/release/.cargo-lock"] {
                files.push((root.join(f), LockKind::ProfileDirectory));
            }
            roots.push(root);
        }
        files.sort();
        (files.into(), roots)
    }

    fn free(ino: u64) -> QuickLook {
        QuickLook::Free { ino }
    }

    fn held(ino: u64) -> QuickLook {
        QuickLook::Held {
            ino,
            exclusive: true,
        }
    }

    /// One tick: plan, answer from `state` (position → look), observe.
    fn tick(
        q: &mut QuickCheck,
        now: Instant,
        state: &dyn Fn(usize) -> QuickLook,
    ) -> (Vec<usize>, bool) {
        let plan = q.plan(now);
        let looks: Vec<QuickLook> = plan.iter().map(|i| state(*i)).collect();
        let changed = q.observe(&plan, &looks, now);
        (plan, changed)
    }

    fn position(q: &QuickCheck, path: &str) -> usize {
        q.index.position[Path::new(path)]
    }

    #[test]
    fn the_pace_is_lively_after_events_holding_while_held_and_idle_otherwise() {
        let (files, roots) = known(3);
        let mut q = QuickCheck::default();
        q.set_known(&files, &roots);
        let t0 = Instant::now();
        assert_eq!(q.interval(false, false, t0), IDLE);
        assert_eq!(q.interval(true, false, t0), LIVELY, "an incident is open");
        assert_eq!(q.interval(false, true, t0), HOLDING, "the pass saw a hold");
        q.note_event(None, t0);
        assert_eq!(q.interval(false, false, t0 + LIVELY_FOR / 2), LIVELY);
        assert_eq!(q.interval(false, false, t0 + LIVELY_FOR), IDLE);
        // A look that finds a lock held: lively for a while, then a quiet hold.
        let cache = position(&q, "/h/.package-cache");
        let t1 = t0 + LIVELY_FOR * 2;
        let (_, changed) = tick(&mut q, t1, &|i| if i == cache { held(1) } else { free(9) });
        assert!(changed);
        assert_eq!(q.interval(false, false, t1 + LIVELY), LIVELY);
        assert_eq!(q.interval(false, false, t1 + LIVELY_FOR), HOLDING);
        // Released: idle once the liveliness passes.
        let t2 = t1 + LIVELY_FOR * 2;
        assert!(tick(&mut q, t2, &|_| free(9)).1, "the release is a change");
        assert_eq!(q.interval(false, false, t2 + LIVELY_FOR), IDLE);
        // The targets of the issue, with the daemon's own pass every 15 s taking a tick's place.
        let per_15s = |every: Duration| (15.0 / every.as_secs_f64()).ceil() / 15.0;
        assert!(per_15s(IDLE) <= 0.2, "{}", per_15s(IDLE));
        assert!(per_15s(HOLDING) <= 0.5, "{}", per_15s(HOLDING));
    }

    #[test]
    fn hot_files_every_tick_and_every_cold_one_within_the_sweep() {
        let (files, roots) = known(1500);
        let mut q = QuickCheck::default();
        q.set_known(&files, &roots);
        let n = q.len();
        assert_eq!(n, 3003);
        let now = Instant::now();
        let fixed = [
            position(&q, "/h/.package-cache"),
            position(&q, "/h/.package-cache-mutate"),
        ];
        let sweep = (n - fixed.len()).div_ceil(COLD_PER_TICK);
        assert_eq!(sweep, 47, "3,001 cold files, 64 a tick");
        let mut seen = vec![0usize; n];
        for t in 1..=sweep {
            let plan = q.plan(now);
            assert!(plan.len() <= fixed.len() + COLD_PER_TICK, "{}", plan.len());
            assert!(fixed.iter().all(|f| plan.contains(f)), "hot every tick");
            for i in plan {
                seen[i] += 1;
            }
            let cold = (seen.iter().enumerate()).filter(|(i, _)| !fixed.contains(i));
            if t < sweep {
                assert!(
                    cold.clone().all(|(_, s)| *s <= 1),
                    "no cold file twice before the sweep ends"
                );
            }
        }
        assert!(
            seen.iter().all(|s| *s >= 1),
            "every file within {sweep} ticks"
        );
    }

    #[test]
    fn a_held_file_and_its_project_are_hot_and_an_event_makes_a_root_hot() {
        let (files, roots) = known(500);
        let mut q = QuickCheck::default();
        q.set_known(&files, &roots);
        let now = Instant::now();
        let debug = position(&q, "/p/0321/target/debug/.cargo-lock");
        let release = position(&q, "/p/0321/target/release/.cargo-lock");
        assert!(!q.hot(now).contains(&debug), "cold before");
        // The pass found the debug lock held: it and its project's other lock are hot.
        q.passed([Path::new("/p/0321/target/debug/.cargo-lock")], now);
        let hot = q.hot(now);
        assert!(hot.contains(&debug) && hot.contains(&release));
        assert_eq!(
            hot.len(),
            4,
            "the package cache locks and the project's two"
        );
        assert!(q.plan(now).contains(&release));
        // Once the root's time is over and the pass saw it free, it is cold again.
        q.passed(std::iter::empty(), now);
        assert!(
            q.hot(now).contains(&release),
            "its project stays hot a while"
        );
        assert!(!q.hot(now + LIVELY_FOR).contains(&release));
        // A lock-file event in another project makes that project hot.
        let other = position(&q, "/p/0007/target/release/.cargo-lock");
        q.note_event(Some(Path::new("/p/0007/target/release/.cargo-lock")), now);
        assert!(q.hot(now + LIVELY).contains(&other));
        assert!(!q.hot(now + LIVELY_FOR * 2).contains(&other));
    }

    #[test]
    fn a_change_in_any_checked_file_and_nothing_else_asks_for_a_pass() {
        let (files, roots) = known(400);
        let mut q = QuickCheck::default();
        q.set_known(&files, &roots);
        let n = q.len();
        let sweep = n.div_ceil(COLD_PER_TICK);
        let mut now = Instant::now();
        // A full sweep of free files: nothing changed, however the slices fall.
        for _ in 0..sweep * 3 {
            now += IDLE;
            assert!(!tick(&mut q, now, &|_| free(1)).1);
        }
        // A cold file is taken: seen within one sweep, and only once.
        let target = position(&q, "/p/0250/target/debug/.cargo-lock");
        let taken = |i: usize| if i == target { held(2) } else { free(1) };
        let mut ticks = 0;
        loop {
            now += IDLE;
            ticks += 1;
            let (plan, changed) = tick(&mut q, now, &taken);
            if changed {
                assert!(plan.contains(&target));
                break;
            }
            assert!(ticks <= sweep, "not seen within the sweep of {sweep} ticks");
        }
        for _ in 0..sweep * 2 {
            now += LIVELY;
            assert!(
                !tick(&mut q, now, &taken).1,
                "a hold that stays is no change"
            );
        }
        // Now hot: its release is seen at the next tick.
        now += LIVELY;
        let (plan, changed) = tick(&mut q, now, &|_| free(1));
        assert!(changed && plan.contains(&target));
        // A file replaced (another inode) or gone counts as a change too.
        now += LIVELY;
        let fixed = position(&q, "/h/.package-cache");
        assert!(tick(&mut q, now, &|i| if i == fixed { free(3) } else { free(1) }).1);
        let gone = |i: usize| {
            if i == fixed {
                QuickLook::Failed(std::io::ErrorKind::NotFound)
            } else {
                free(1)
            }
        };
        assert!(tick(&mut q, now + LIVELY, &gone).1);
        assert!(!tick(&mut q, now + LIVELY * 2, &gone).1, "still gone: same");
    }

    #[test]
    fn a_file_first_looked_at_counts_as_a_change_only_when_held() {
        let (files, roots) = known(2);
        let mut q = QuickCheck::default();
        q.set_known(&files, &roots);
        let now = Instant::now();
        let plan = q.plan(now);
        assert_eq!(plan.len(), q.len(), "few files: all of them at once");
        let looks: Vec<QuickLook> = plan.iter().map(|_| free(1)).collect();
        assert!(!q.observe(&plan, &looks, now));
        // A new listing keeps the answers of the paths it still has.
        let (mut more, _) = known(3);
        let mut list = more.to_vec();
        list.retain(|(p, _)| !p.starts_with("/p/0001"));
        more = list.into();
        q.set_known(&more, &roots);
        let plan = q.plan(now);
        let fresh = position(&q, "/p/0002/target/debug/.cargo-lock");
        let looks: Vec<QuickLook> = (plan.iter())
            .map(|i| if *i == fresh { held(5) } else { free(1) })
            .collect();
        assert!(q.observe(&plan, &looks, now), "new and held: a pass");
        assert!(q.looks.iter().all(Option::is_some));
        // The same listing again: nothing is made again.
        let before = q.index.members.as_ptr();
        q.set_known(&more, &roots);
        assert_eq!(q.index.members.as_ptr(), before);
    }

    #[test]
    fn empty_and_odd_inputs_do_not_panic() {
        let mut q = QuickCheck::default();
        let now = Instant::now();
        assert!(q.plan(now).is_empty() && q.len() == 0);
        assert!(
            !q.observe(&[7], &[held(1)], now),
            "a position it does not know"
        );
        q.note_event(Some(Path::new("/nowhere")), now);
        q.passed([Path::new("/nowhere/.cargo-lock")], now);
        assert_eq!(q.path(0), None);
        assert_eq!(q.interval(false, false, now), LIVELY);
    }
}
