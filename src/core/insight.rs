//! History as advice: folds the history log into who blocked whom — grouped by the blocker's
//! origin and the project ("rust-analyzer (IDE) blocked your terminal builds in ~/src/app 14
//! times, 23m in all") — and says how to end recurring contention for good. Pure: the daemon
//! streams events in, `history`, the menu and JSON read the result.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::catalog::{self, LockKind};
use super::model::{GitFetch, LeftBy, Origin, ProcName, StaleReason};
use super::netwait::NetSettings;
use super::origin;
use super::policy::{HistoryEvent, Party, ProcId};
use super::text::{self, duration, tilde, upper_first};
use super::words::short_command;
use super::yield_ide::is_background_check;

/// One "who blocked whom" row: a blocker (by origin and command), whom it blocked, where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockRow {
    /// The blocker as a person names it: `rust-analyzer`, `cargo build`.
    pub blocker: String,
    /// Where the blocker came from, when recorded.
    #[serde(default)]
    pub blocker_origin: Option<Origin>,
    /// Whose the blocker was, when another user's (`blocker` then ends with ` (NAME's)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocker_user: Option<String>,
    /// The IDE (or file watcher) an IDE's blocker ran under, as `blocker` names it
    /// (`rust-analyzer`, for its checks and for `rust-analyzer's cargo metadata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocker_via: Option<String>,
    /// Whom it blocked: `your terminal builds`, `your editor's checks`, `cargo test`.
    pub waiter: String,
    /// Where the blocked processes came from, when recorded.
    #[serde(default)]
    pub waiter_origin: Option<Origin>,
    /// Whose the waiters were, when another user's (a daemon run as root sees everyone's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiter_user: Option<String>,
    /// The project the waits were about, when known.
    #[serde(default)]
    #[serde(serialize_with = "crate::core::text::lossy_path::opt")]
    pub project: Option<PathBuf>,
    /// The lock (the first one seen for this row).
    #[serde(serialize_with = "crate::core::text::lossy_path::path")]
    pub lock: PathBuf,
    /// What the lock guards, when the path says.
    #[serde(default)]
    pub lock_kind: Option<LockKind>,
    /// The lock in the words the (first) waiting cargo printed: cargo ≤ 1.95 calls one
    /// `.cargo-lock` the "artifact directory" in a build and the "build directory" in a check.
    /// Empty when the path does not say what the lock is.
    #[serde(default)]
    pub lock_description: String,
    /// How many waits these blockers held up: a process that waited behind several of them in
    /// turn (one let go, the next took the lock first) counts once.
    pub times: u32,
    /// Total seconds waited behind these blockers.
    pub total_wait_secs: f64,
    /// The longest one process waited behind these blockers in one wait: its whole wait for the
    /// lock when it waited behind no one else.
    pub longest_wait_secs: f64,
    /// Some of these waits began before the daemon looked: the total is a lower bound.
    #[serde(default)]
    pub total_wait_at_least: bool,
    /// The longest began before the daemon looked: it lasted at least that long.
    #[serde(default)]
    pub longest_wait_at_least: bool,
    /// The blocker built into a target dir of its own (`--target-dir`, as rust-analyzer's
    /// `cargo.targetDir` passes it), so what it shared with the waiter was a build directory
    /// (`build.build-dir`), not the target dir.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blocker_own_target_dir: bool,
    /// The blocker was a background check (`cargo check`, `cargo clippy`): what `yield_ide`
    /// stops for a terminal build. An IDE's other commands (`cargo metadata` when a project
    /// opens, a test it runs) have rows of their own, named after the command (review W, W1).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blocker_check: bool,
    /// The project the blocker built, when another than `project`: the two shared a target
    /// (or build) directory outside the waiter's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "crate::core::text::lossy_path::opt")]
    pub blocker_project: Option<PathBuf>,
}

/// What the advice is about (stable, for JSON readers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topic {
    /// The IDE's checks and terminal builds share a build directory.
    IdeTargetDir,
    /// The IDE's checks hold the package cache while terminal builds wait.
    YieldIde,
    /// A cargo hung on the network.
    Network,
    /// A build suspended with Ctrl-Z kept its lock.
    Suspended,
    /// A build script left a process holding cargo's output pipe open.
    LeftoverProcess,
    /// A build script ran a nested cargo on the target dir its own build holds.
    NestedCargo,
    /// Cargos waited for each other's locks in a circle (a deadlock without a nested cargo).
    LockCycle,
    /// Builds of different projects share a target (or build) dir and wait for each other.
    SharedTargetDir,
}

/// One piece of advice that ends a recurring kind of contention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advice {
    /// What it is about.
    pub topic: Topic,
    /// What to do, in words (may span lines; snippets are indented).
    pub text: String,
}

/// What `history` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Start of the period (Unix time).
    pub since: f64,
    /// Processes that took a lock in the period (one per cargo run, however many locks it
    /// took: the shared package cache and nightly's per-unit locks are not counted).
    pub holds: u32,
    /// Seconds held within the period by the holds that ended in it (a hold that began
    /// before the period counts from its start).
    pub total_held_secs: f64,
    /// Longest hold that ended in the period, whole: (holder name, seconds, lock).
    #[serde(serialize_with = "longest_hold_lossy")]
    pub longest_hold: Option<(ProcName, f64, PathBuf)>,
    /// The longest hold began before the daemon looked: it lasted at least that long.
    pub longest_hold_at_least: bool,
    /// Completed waits: each waiting process once per wait for a lock, however many holders
    /// it waited behind in turn.
    pub waits: u32,
    /// Total seconds waited.
    pub total_wait_secs: f64,
    /// Some waits began before the daemon looked: the total is a lower bound.
    #[serde(default)]
    pub total_wait_at_least: bool,
    /// Who blocked whom, most total waiting first.
    pub blocked: Vec<BlockRow>,
    /// Blockers that looked stale (each counted once, however often its verdict changed).
    pub stale: u32,
    /// Who they were: by name, with why, most first.
    #[serde(default)]
    pub stale_blockers: Vec<StaleRow>,
    /// Of those, blockers hung on the network that held someone up (one nobody waited for is
    /// stale, but no reason to change a Cargo home's settings).
    #[serde(default)]
    pub network_stalls: u32,
    /// The Cargo homes whose package cache those held (where the advice's settings go).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(serialize_with = "crate::core::text::lossy_path::list")]
    pub network_cargo_homes: Vec<PathBuf>,
    /// Of those stalls, the git fetches, one per stall, whether or not a timeout ended them
    /// (review AB, AB1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_git_fetches: Vec<GitFetch>,
    /// Each of those stalls' git fetch (none for a registry), Cargo home and settings: each
    /// piece of advice names only the homes of its own stalls (review AA, AA4) and what they
    /// ran with (review AB, AB1).
    #[serde(skip)]
    pub network_stall_kinds: Vec<StallKind>,
    /// Of those, blockers suspended (Ctrl-Z).
    #[serde(default)]
    pub suspended: u32,
    /// Of those, cargos stuck because a build script left a process holding their output pipe
    /// open, and the projects they built.
    #[serde(default)]
    pub leftover_processes: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(serialize_with = "crate::core::text::lossy_path::list")]
    pub leftover_projects: Vec<PathBuf>,
    /// The packages whose build scripts left them, when their environment said.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftover_packages: Vec<LeftBy>,
    /// Of those, deadlocks of a build script's nested cargo, and the projects they built.
    #[serde(default)]
    pub nested_deadlocks: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(serialize_with = "crate::core::text::lossy_path::list")]
    pub deadlocked_projects: Vec<PathBuf>,
    /// Of those, deadlocks of cargos waiting for each other's locks in a circle, the projects
    /// they built, and whether per-unit build locks (nightly `-Zfine-grain-locking`) were in it.
    #[serde(default)]
    pub lock_cycles: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(serialize_with = "crate::core::text::lossy_path::list")]
    pub cycle_projects: Vec<PathBuf>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cycle_on_unit_locks: bool,
    /// IDE checks stopped so a terminal build could run (`policy.yield_ide`).
    #[serde(default)]
    pub yielded: u32,
    /// Holders terminated by the user.
    pub killed: u32,
    /// How to end what recurs.
    #[serde(default)]
    pub advice: Vec<Advice>,
    /// The Cargo home of whoever reads it, when known: a row about another home's package
    /// cache names that home (review N, P5). Not part of the document.
    #[serde(skip)]
    pub reader_home: Option<PathBuf>,
    /// Lines that could not be read.
    pub unreadable_lines: usize,
    /// Bytes of older history not read (a file over the read bound).
    #[serde(default)]
    pub skipped_bytes: u64,
    /// Of the unreadable lines, those over the longest a history line may be (a corrupt or
    /// hand-edited file): passed over, never held, and the events around them read.
    #[serde(default)]
    pub oversized_lines: usize,
    /// The bytes of those oversized lines.
    #[serde(default)]
    pub oversized_bytes: u64,
}

/// Stale blockers of one name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaleRow {
    /// Process name (`cargo`, `build-script-build`).
    pub name: ProcName,
    /// How many such blockers looked stale.
    pub blockers: u32,
    /// Why, each reason once (the first reason each blocker was stale for).
    pub reasons: Vec<StaleReason>,
}

/// Summarises events at or after `since`.
pub fn summarize(events: &[HistoryEvent], since: f64, unreadable_lines: usize) -> Summary {
    let mut s = Summarizer::new(since);
    events.iter().for_each(|e| s.add(e));
    s.finish(unreadable_lines)
}

/// A `history` row: blocker, its origin, waiter, project, the Cargo home of a package cache,
/// and the blocker's project when it is another one (a shared target dir).
type RowKey = (
    String,
    Option<Origin>,
    String,
    Option<PathBuf>,
    Option<PathBuf>,
    Option<PathBuf>,
);

/// What one wait still going on has spent behind each row's blockers so far: seconds, and
/// whether that is a lower bound.
type OpenWait = BTreeMap<RowKey, (f64, bool)>;

/// The key of a row: waits on two Cargo homes' package caches are two rows (review O, Q1); so
/// are a project's waits for its own builds and for another project's in a shared target dir
/// (review T, T3).
fn row_key(row: &BlockRow) -> RowKey {
    let home = (row.lock_kind).and_then(|k| catalog::cargo_home_of(&row.lock, k));
    (
        row.blocker.clone(),
        row.blocker_origin,
        row.waiter.clone(),
        row.project.clone(),
        home,
        row.blocker_project.clone(),
    )
}

/// Folds events one at a time into a [`Summary`], so a summary never needs the whole log in
/// memory.
#[derive(Debug)]
pub struct Summarizer {
    s: Summary,
    rows: BTreeMap<RowKey, BlockRow>,
    /// Waits whose part behind one holder ended but that went on behind another (`goes_on`),
    /// by (waiter, lock inode): counted once, when the wait ends.
    open: BTreeMap<(ProcId, u64), OpenWait>,
    stale: BTreeMap<ProcId, (ProcName, Option<StaleReason>)>,
    network: BTreeMap<ProcId, NetworkStall>,
    /// The holders (pid, name) wait lines say someone waited for.
    waited_for: BTreeSet<(u32, ProcName)>,
    suspended: BTreeSet<ProcId>,
    /// The project of each hold going on (by holder: the lock it took, its project), for
    /// the advice on what went stale while held.
    projects: BTreeMap<ProcId, (PathBuf, PathBuf)>,
    /// Blockers stuck on a leftover process, and deadlocked ones: (holder, its project).
    leftover: BTreeMap<ProcId, Option<PathBuf>>,
    /// The packages whose build scripts left those processes, when known.
    leftover_by: BTreeSet<LeftBy>,
    deadlocked: BTreeMap<ProcId, Option<PathBuf>>,
    /// Blockers in a wait cycle: (holder, its project).
    cycles: BTreeMap<ProcId, Option<PathBuf>>,
    /// The first origin told of each blocker (pid, name): one whose shell exits turns orphan
    /// or unknown, and its later waits stay in the row it began in.
    blocker_origins: BTreeMap<(u32, String), Origin>,
    /// The processes counted in `holds`.
    holders: BTreeSet<ProcId>,
}

impl Summarizer {
    /// An empty summary of the period starting at `since`.
    pub fn new(since: f64) -> Summarizer {
        Summarizer {
            s: Summary {
                since,
                holds: 0,
                total_held_secs: 0.0,
                longest_hold: None,
                longest_hold_at_least: false,
                total_wait_at_least: false,
                waits: 0,
                total_wait_secs: 0.0,
                blocked: Vec::new(),
                stale: 0,
                stale_blockers: Vec::new(),
                network_stalls: 0,
                network_cargo_homes: Vec::new(),
                network_git_fetches: Vec::new(),
                network_stall_kinds: Vec::new(),
                suspended: 0,
                leftover_processes: 0,
                leftover_projects: Vec::new(),
                leftover_packages: Vec::new(),
                nested_deadlocks: 0,
                deadlocked_projects: Vec::new(),
                lock_cycles: 0,
                cycle_projects: Vec::new(),
                cycle_on_unit_locks: false,
                yielded: 0,
                killed: 0,
                advice: Vec::new(),
                reader_home: None,
                unreadable_lines: 0,
                skipped_bytes: 0,
                oversized_lines: 0,
                oversized_bytes: 0,
            },
            rows: BTreeMap::new(),
            open: BTreeMap::new(),
            stale: BTreeMap::new(),
            network: BTreeMap::new(),
            waited_for: BTreeSet::new(),
            suspended: BTreeSet::new(),
            projects: BTreeMap::new(),
            leftover: BTreeMap::new(),
            leftover_by: BTreeSet::new(),
            deadlocked: BTreeMap::new(),
            cycles: BTreeMap::new(),
            blocker_origins: BTreeMap::new(),
            holders: BTreeSet::new(),
        }
    }

    /// The origin a blocker's rows use: the first one told of it (see `blocker_origins`), for
    /// a single blocker; else what this event says.
    fn blocker_origin(
        &mut self,
        blocked_by: &[(ProcName, u32)],
        told: Option<Origin>,
    ) -> Option<Origin> {
        let [(name, pid)] = blocked_by else {
            return told;
        };
        let key = (*pid, name.raw().to_string());
        match told {
            Some(o) if !matches!(o, Origin::Unknown | Origin::Orphan) => {
                Some(*self.blocker_origins.entry(key).or_insert(o))
            }
            _ => self.blocker_origins.get(&key).copied().or(told),
        }
    }

    /// Takes one event (ignored when before the period).
    pub fn add(&mut self, e: &HistoryEvent) {
        let at = super::policy::event_time(e);
        if at < self.s.since || at.is_nan() {
            return;
        }
        match e {
            HistoryEvent::Acquired { .. } => self.hold_began(e),
            HistoryEvent::Released { .. } => self.hold_ended(e),
            HistoryEvent::WaitEnded { blocked_by, .. } => {
                self.note_waited_for(blocked_by);
                self.wait_part_ended(e);
            }
            HistoryEvent::Stale { .. } => self.went_stale(e),
            HistoryEvent::Killed { .. } => self.s.killed += 1,
            HistoryEvent::Yielded { .. } => self.s.yielded += 1,
            HistoryEvent::WaitStarted { blocked_by, .. } => self.note_waited_for(blocked_by),
        }
    }

    /// Takes an `acquired` line: one more hold, and the project it was taken for.
    fn hold_began(&mut self, e: &HistoryEvent) {
        let HistoryEvent::Acquired {
            holder,
            path,
            party,
            ..
        } = e
        else {
            return;
        };
        if counts_as_a_hold(path) && self.holders.insert(*holder) {
            self.s.holds += 1;
        }
        if let Some(project) = &party.project {
            self.projects
                .insert(*holder, (path.clone(), project.clone()));
        }
    }

    /// Takes a `released` line: its time held, a network stall it tells, and the end of the
    /// project it was taken for.
    fn hold_ended(&mut self, e: &HistoryEvent) {
        let HistoryEvent::Released {
            at,
            held_secs,
            name,
            path,
            since_known,
            holder,
            network_silent_secs,
            ..
        } = e
        else {
            return;
        };
        if network_silent_secs.is_some_and(|s| s >= super::netwait::HUNG_SECS) {
            self.network_stall(*holder, name, path, false);
        }
        if self.projects.get(holder).is_some_and(|(p, _)| p == path) {
            self.projects.remove(holder);
        }
        if !counts_as_a_hold(path) {
            return;
        }
        let s = &mut self.s;
        // Only its part within the period.
        s.total_held_secs += held_secs.min(at - s.since).max(0.0);
        if s.longest_hold
            .as_ref()
            .is_none_or(|(_, l, _)| held_secs > l)
        {
            s.longest_hold = Some((name.clone(), *held_secs, path.clone()));
            s.longest_hold_at_least = !since_known;
        }
    }

    /// Takes a `wait-ended` line: its time in the period's total and in its row, counting the
    /// wait once it ends.
    fn wait_part_ended(&mut self, e: &HistoryEvent) {
        let HistoryEvent::WaitEnded {
            at,
            waited_secs,
            blocked_by,
            since_known,
            waiter,
            ino,
            goes_on,
            ..
        } = e
        else {
            return;
        };
        // The period's total counts only its part within the period, as holds do
        // (review M, N3); a row tells each wait that ended in it whole.
        let within = waited_secs.min(at - self.s.since).max(0.0);
        self.s.total_wait_secs += within;
        self.s.total_wait_at_least |= !since_known;
        // The waiting side of a deadlock (a build script's nested cargo) was not
        // blocked by another build: the advice on nested cargos tells it, not a row
        // (review P, R9).
        let deadlocked =
            |pid: u32| (self.deadlocked.keys().chain(self.cycles.keys())).any(|d| d.pid == pid);
        if (blocked_by.iter()).any(|(_, pid)| deadlocked(*pid)) {
            if !goes_on {
                match self.open.remove(&(*waiter, *ino)) {
                    Some(wait) => self.wait_ended(wait),
                    None => self.s.waits += 1,
                }
            }
            return;
        }
        let Some(row) = self.block_row(e) else {
            return;
        };
        let key = row_key(&row);
        let row = self.rows.entry(key.clone()).or_insert(row);
        row.total_wait_secs += waited_secs;
        row.total_wait_at_least |= !since_known;
        // One wait behind several holders in turn is one wait: its parts add up, and
        // it is counted when it ends.
        let open = self.open.entry((*waiter, *ino)).or_default();
        let part = open.entry(key).or_insert((0.0, false));
        part.0 += waited_secs;
        part.1 |= !since_known;
        if !goes_on && let Some(wait) = self.open.remove(&(*waiter, *ino)) {
            self.wait_ended(wait);
        }
    }

    /// The row a `wait-ended` line belongs in, with nothing counted yet (`None` for other
    /// lines).
    fn block_row(&mut self, e: &HistoryEvent) -> Option<BlockRow> {
        let HistoryEvent::WaitEnded {
            name,
            blocked_by,
            blocked_by_cmd,
            cmd,
            path,
            party,
            blocker,
            lock_description,
            ..
        } = e
        else {
            return None;
        };
        let blocker_origin = self.blocker_origin(blocked_by, blocker.origin);
        Some(BlockRow {
            blocker: blocker_label(blocked_by, blocked_by_cmd, blocker),
            blocker_origin,
            blocker_user: blocker.user.clone(),
            blocker_via: ide_via(blocker).cloned(),
            waiter: waiter_label(party, cmd, name),
            waiter_origin: party.origin,
            waiter_user: party.user.clone(),
            project: party.project.clone().or_else(|| blocker.project.clone()),
            lock: path.clone(),
            lock_kind: catalog::classify(path),
            // As the daemon heard them; lines of older versions: from the command.
            lock_description: match lock_description.as_str() {
                "" => (catalog::classify(path)).map_or("", |k| k.cargo_words_for(cmd)),
                said => said,
            }
            .to_string(),
            times: 0,
            total_wait_secs: 0.0,
            longest_wait_secs: 0.0,
            total_wait_at_least: false,
            longest_wait_at_least: false,
            blocker_project: (blocker.project.clone())
                .filter(|b| party.project.as_ref().is_some_and(|w| w != b)),
            blocker_own_target_dir: blocked_by_cmd
                .iter()
                .flatten()
                .any(|a| a == "--target-dir" || a.starts_with("--target-dir=")),
            blocker_check: (blocked_by_cmd.first()).is_some_and(|c| is_background_check(c)),
        })
    }

    /// Takes a `stale` line: the blocker counted once, and under each kind of trouble it tells.
    fn went_stale(&mut self, e: &HistoryEvent) {
        let HistoryEvent::Stale {
            holder,
            reasons,
            name,
            path,
            left_by,
            cycle,
            blocked,
            git,
            net,
            ..
        } = e
        else {
            return;
        };
        (self.stale.entry(*holder)).or_insert((name.clone(), reasons.first().copied()));
        if reasons.contains(&StaleReason::NetworkSilent) {
            self.network_stall(*holder, name, path, !blocked.is_empty());
            if let Some(stall) = self.network.get_mut(holder) {
                stall.git = stall.git.take().or_else(|| git.clone());
                stall.settings = stall.settings.or(*net);
            }
        }
        if reasons.contains(&StaleReason::Stopped) {
            self.suspended.insert(*holder);
        }
        // The project its hold was taken for; else the one its lock file lies in.
        let project = || {
            (self.projects.get(holder).map(|(_, p)| p.clone()))
                .or_else(|| catalog::classify(path).and_then(|k| catalog::project_dir_of(path, k)))
        };
        if reasons.contains(&StaleReason::PipeHeldOpen) {
            self.leftover.insert(*holder, project());
            self.leftover_by.extend(left_by.clone());
        }
        if reasons.contains(&StaleReason::Deadlock) {
            if *cycle {
                self.cycles.insert(*holder, project());
                self.s.cycle_on_unit_locks |=
                    catalog::classify(path).is_some_and(|k| k == LockKind::UnitBuild);
            } else {
                self.deadlocked.insert(*holder, project());
            }
        }
    }

    /// Counts `holder` (`name`), which held the lock at `path`, as hung on the network (once
    /// however many times it is said), and as holding someone up when a line says it `blocked`
    /// someone then.
    fn network_stall(&mut self, holder: ProcId, name: &ProcName, path: &Path, blocked: bool) {
        let stall = self.network.entry(holder).or_insert_with(|| NetworkStall {
            name: name.clone(),
            home: catalog::classify(path).and_then(|k| catalog::cargo_home_of(path, k)),
            blocked: false,
            git: None,
            settings: None,
        });
        stall.blocked |= blocked;
    }

    /// Notes the holders a wait line says the waiter waited for.
    fn note_waited_for(&mut self, blocked_by: &[(ProcName, u32)]) {
        let holders = blocked_by.iter().map(|(name, pid)| (*pid, name.clone()));
        self.waited_for.extend(holders);
    }

    /// The network stalls that held someone up (their stale line says whom, or a wait line
    /// names them), and the Cargo homes whose package cache they held.
    fn stalls_that_held_someone_up(&self) -> Vec<&NetworkStall> {
        (self.network.iter())
            .filter(|(id, s)| s.blocked || self.waited_for.contains(&(id.pid, s.name.clone())))
            .map(|(_, s)| s)
            .collect()
    }

    /// Counts a wait that ended, in each row it spent time in.
    fn wait_ended(&mut self, wait: OpenWait) {
        self.s.waits += 1;
        for (key, (secs, at_least)) in wait {
            let Some(row) = self.rows.get_mut(&key) else {
                continue;
            };
            row.times += 1;
            if secs > row.longest_wait_secs {
                row.longest_wait_secs = secs;
                row.longest_wait_at_least = at_least;
            }
        }
    }

    /// The summary, with the number of unreadable lines met.
    pub fn finish(mut self, unreadable_lines: usize) -> Summary {
        // Waits still going on when the log ends (or whose end was never written) count too.
        for wait in std::mem::take(&mut self.open).into_values() {
            self.wait_ended(wait);
        }
        let held_up = self.stalls_that_held_someone_up();
        let homes: BTreeSet<PathBuf> = held_up.iter().filter_map(|s| s.home.clone()).collect();
        let network = (
            held_up.len() as u32,
            homes.into_iter().collect(),
            held_up.iter().filter_map(|s| s.git.clone()).collect(),
        );
        let stall_kinds: Vec<StallKind> = (held_up.iter())
            .map(|s| StallKind {
                git: s.git.clone(),
                home: s.home.clone(),
                settings: s.settings,
            })
            .collect();
        let mut s = self.s;
        s.unreadable_lines = unreadable_lines;
        s.stale = self.stale.len() as u32;
        s.stale_blockers = stale_rows(self.stale.into_values());
        (
            s.network_stalls,
            s.network_cargo_homes,
            s.network_git_fetches,
        ) = network;
        s.network_stall_kinds = stall_kinds;
        s.suspended = self.suspended.len() as u32;
        (s.leftover_processes, s.leftover_projects) = counted_in(self.leftover);
        s.leftover_packages = self.leftover_by.into_iter().collect();
        (s.nested_deadlocks, s.deadlocked_projects) = counted_in(self.deadlocked);
        (s.lock_cycles, s.cycle_projects) = counted_in(self.cycles);
        s.blocked = self.rows.into_values().collect();
        s.blocked
            .sort_by(|a, b| b.total_wait_secs.total_cmp(&a.total_wait_secs));
        s.advice = advise(&s);
        s
    }
}

/// A cargo hung on the network: by what name, the Cargo home whose package cache it held, and
/// whether its stale line said it blocked someone.
#[derive(Debug)]
struct NetworkStall {
    name: ProcName,
    home: Option<PathBuf>,
    blocked: bool,
    /// The git repository it was fetching, when it was one.
    git: Option<GitFetch>,
    /// The network settings it ran with, when its stale line says.
    settings: Option<NetSettings>,
}

/// One network stall that held someone up, as its advice needs it: the git repository it was
/// fetching (none for a registry), the Cargo home whose package cache it held (where the
/// settings go), and the settings it ran with when known (review AA, AA4; AB, AB1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StallKind {
    pub git: Option<GitFetch>,
    pub home: Option<PathBuf>,
    pub settings: Option<NetSettings>,
}

impl StallKind {
    /// A git fetch nothing made give up: no timeout applied to it (none set, git's own fetch
    /// without its low-speed limit, or over ssh). A stall whose settings were never read is
    /// judged with Cargo's defaults, as the daemon judged it (lines before review AB name only
    /// these fetches).
    pub fn endless_git(&self) -> Option<&GitFetch> {
        let settings = self.settings.unwrap_or_default();
        (self.git.as_ref()).filter(|g| !super::gitfetch::gives_up(g, &settings))
    }
}

/// How many blockers, and the projects they built (each once).
fn counted_in(blockers: BTreeMap<ProcId, Option<PathBuf>>) -> (u32, Vec<PathBuf>) {
    let n = blockers.len() as u32;
    let projects: BTreeSet<PathBuf> = blockers.into_values().flatten().collect();
    (n, projects.into_iter().collect())
}

/// Stale blockers grouped by name, most first.
fn stale_rows(blockers: impl Iterator<Item = (ProcName, Option<StaleReason>)>) -> Vec<StaleRow> {
    let mut rows: BTreeMap<ProcName, StaleRow> = BTreeMap::new();
    for (name, reason) in blockers {
        let row = rows.entry(name.clone()).or_insert(StaleRow {
            name,
            blockers: 0,
            reasons: Vec::new(),
        });
        row.blockers += 1;
        if let Some(r) = reason.filter(|r| !row.reasons.contains(r)) {
            row.reasons.push(r);
        }
    }
    let mut out: Vec<StaleRow> = rows.into_values().collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.blockers));
    out
}

/// A few words for why a blocker looked stale, for the summary's one line.
fn reason_words(r: StaleReason) -> &'static str {
    match r {
        StaleReason::Stopped => "stopped",
        StaleReason::LockerDead => "locker gone",
        StaleReason::Orphan => "orphaned",
        StaleReason::DeletedLockFile => "lock file deleted",
        StaleReason::Zombie => "zombie",
        StaleReason::Idle => "idle",
        StaleReason::Deadlock => "deadlocked",
        StaleReason::PipeHeldOpen => "output pipe held open",
        StaleReason::NetworkSilent => "network silent",
    }
}

/// The blocker as a person names it: the IDE's language server for an IDE's check, else the
/// command (`cargo build`); old lines without command lines give the names. Another user's is
/// said to be theirs (`cargo build (bob's)`).
fn blocker_label(blocked_by: &[(ProcName, u32)], cmds: &[Vec<String>], party: &Party) -> String {
    let label = blocker_words(blocked_by, cmds, party);
    match &party.user {
        Some(user) => format!("{label} ({user}'s)"),
        None => label,
    }
}

/// [`blocker_label`] without whose it is: an IDE's check is the IDE's (`rust-analyzer`), its
/// other commands are said (`rust-analyzer's cargo metadata`).
fn blocker_words(blocked_by: &[(ProcName, u32)], cmds: &[Vec<String>], party: &Party) -> String {
    if let Some(via) = ide_via(party) {
        return match (blocked_by, cmds.first()) {
            ([(name, _)], Some(cmd)) if !is_background_check(cmd) => {
                format!("{via}{IDE_COMMAND}{}", short_command(cmd, name))
            }
            _ => via.clone(),
        };
    }
    match (blocked_by, cmds.first()) {
        ([], _) => "an unseen holder".into(),
        ([(name, _)], Some(cmd)) => short_command(cmd, name),
        (many, _) => {
            let mut names: Vec<String> = many.iter().map(|(n, _)| n.to_string()).collect();
            names.dedup();
            names.join(" and ")
        }
    }
}

/// Whom a row's waits blocked, grouped by origin where it is known, and by user when they
/// were another user's.
fn waiter_label(party: &Party, cmd: &[String], name: &ProcName) -> String {
    let whose = party
        .user
        .as_ref()
        .map_or("your".into(), |u| format!("{u}'s"));
    // Another user's command says whose it is, whatever its origin (review N, P10).
    let command = || match &party.user {
        Some(u) => format!("{u}'s {}", short_command(cmd, name)),
        None => short_command(cmd, name),
    };
    match party.origin {
        _ if name.raw() != "cargo" => command(),
        Some(Origin::Terminal) => format!("{whose} terminal builds"),
        // A file watcher is no editor: its checks are named by it (review Z, Z8).
        Some(Origin::Ide) => match party.via.as_deref() {
            Some(w) if origin::is_watcher_name(w) => format!("{whose} {w} checks"),
            _ => format!("{whose} editor's checks"),
        },
        _ => command(),
    }
}

/// Between an IDE's name and a command of its own in a row's blocker.
const IDE_COMMAND: &str = "'s ";

/// The IDE (or file watcher) a blocker ran under, when it was an IDE's.
fn ide_via(party: &Party) -> Option<&String> {
    party
        .via
        .as_ref()
        .filter(|_| party.origin == Some(Origin::Ide))
}

/// The IDE (or file watcher) of an IDE's row: the one its blocker ran under, else the
/// blocker as the row names it (review 14, C6: never read back out of that label).
fn ide_of(r: &BlockRow) -> &str {
    r.blocker_via.as_deref().unwrap_or(&r.blocker)
}

/// The waits one IDE (or file watcher, by the name its rows give it) made terminal builds
/// wait: (times, seconds) on build locks, and behind its background checks on any lock.
#[derive(Debug, Default)]
struct IdeWaits {
    name: String,
    /// Whose it was, when another user's: counted apart from yours, and given no advice (the
    /// settings it gives are your editor's, and `yield_ide` stops only your own checks).
    user: Option<String>,
    build: (u32, f64),
    /// Behind its checks, which `yield_ide` stops (not behind its `cargo metadata`).
    checks: (u32, f64),
    /// Some of its build waits were for a build directory its own target dir does not move:
    /// it already built into a target dir of its own (`--target-dir`), or the lock lies
    /// outside the project's `target` (a configured `build.build-dir`, or a target dir shared
    /// by several projects).
    shares_outside: bool,
    /// The projects of its build waits: the advice sums them, where each `history` row is one
    /// project's (review Q, S8).
    build_projects: Vec<PathBuf>,
}

impl IdeWaits {
    /// How its build waits add up: `3 times (39s in all)`, and `, across 2 projects` when
    /// they are more than one project's.
    fn build_sum(&self) -> String {
        let (t, secs) = self.build;
        match self.build_projects.len() {
            0 | 1 => format!("{} ({} in all)", times(t), duration(secs)),
            n => format!(
                "{} ({} in all, across {n} projects)",
                times(t),
                duration(secs)
            ),
        }
    }
}

/// Each IDE's and file watcher's waits over terminal builds, most waiting first: a setting
/// of rust-analyzer's does nothing for bacon, so each gets its own advice.
fn ide_over_terminal(s: &Summary) -> Vec<IdeWaits> {
    let mut out: Vec<IdeWaits> = Vec::new();
    let rows = (s.blocked.iter()).filter(|r| {
        r.blocker_origin == Some(Origin::Ide)
            && r.waiter_origin == Some(Origin::Terminal)
            && r.waiter_user.is_none()
    });
    for r in rows {
        let ide = ide_of(r);
        let at = match (out.iter()).position(|w| w.name == ide && w.user == r.blocker_user) {
            Some(at) => at,
            None => {
                out.push(IdeWaits {
                    name: ide.to_string(),
                    user: r.blocker_user.clone(),
                    ..IdeWaits::default()
                });
                out.len() - 1
            }
        };
        let w = &mut out[at];
        let in_home = r.lock_kind.is_some_and(LockKind::in_cargo_home);
        if !in_home {
            w.build.0 += r.times;
            w.build.1 += r.total_wait_secs;
        }
        if r.blocker_check {
            w.checks.0 += r.times;
            w.checks.1 += r.total_wait_secs;
        }
        if let Some(p) = r
            .project
            .as_ref()
            .filter(|p| !in_home && !w.build_projects.contains(p))
        {
            w.build_projects.push(p.clone());
        }
        let outside = |p: &PathBuf| !r.lock.starts_with(p.join("target"));
        w.shares_outside |=
            !in_home && (r.blocker_own_target_dir || r.project.as_ref().is_some_and(outside));
    }
    out.sort_by(|a, b| (b.build.1 + b.checks.1).total_cmp(&(a.build.1 + a.checks.1)));
    out
}

/// Whether holding the lock at `path` is a hold as a person counts them (a cargo run). Not
/// the shared package cache, which every compile holds for its whole run, nor nightly's
/// per-unit locks (`-Zfine-grain-locking`), dozens of which one build takes: waits for them
/// still count.
fn counts_as_a_hold(path: &std::path::Path) -> bool {
    !matches!(
        catalog::classify(path),
        Some(LockKind::PackageCacheMutate | LockKind::UnitBuild)
    )
}

/// Whether contention of this size recurs enough to be worth a change of setup: at least
/// twice and half a minute in all, whatever else waited in the period (a long wait behind a
/// hung registry elsewhere does not make an IDE's daily contention any cheaper).
fn recurs(times: u32, secs: f64) -> bool {
    times >= 2 && secs >= 30.0
}

/// How to give `w` a build directory of its own: a watcher's environment, or
/// rust-analyzer's settings (its build dir too when the shared one lies outside the target).
fn ide_target_dir_advice(w: &IdeWaits) -> String {
    let (ide, sum) = (&w.name, w.build_sum());
    if origin::is_watcher_name(ide) {
        return watcher_advice(ide, &sum);
    }
    if w.shares_outside {
        return format!(
            "{ide}'s checks blocked your terminal builds {sum}: they share a \
             build directory outside the project's target dir (`build.build-dir` in a \
             Cargo config, or a target dir shared by projects), which a target dir of \
             {ide}'s own does not move alone. Give {ide} its own target and build \
             directories (a second build cache on disk):\n\
             \x20 VS Code, settings.json:\n\
             \x20   \"rust-analyzer.cargo.targetDir\": true,\n\
             \x20   \"rust-analyzer.cargo.extraEnv\":\n\
             \x20     {{ \"CARGO_BUILD_BUILD_DIR\": \"{{workspace-root}}/target/ra-build\" }}\n\
             \x20 Zed, Neovim: `targetDir = true` and that variable in\n\
             \x20   rust-analyzer's `cargo.extraEnv`."
        );
    }
    format!(
        "{ide}'s checks blocked your terminal builds {sum}: they share \
         one build directory. Give {ide} its own (a second build cache on disk) and \
         they stop waiting for each other:\n\
         \x20 VS Code, settings.json:\n\
         \x20   \"rust-analyzer.cargo.targetDir\": true\n\
         \x20 Zed, settings.json:\n\
         \x20   \"lsp\": {{ \"rust-analyzer\": {{ \"initialization_options\":\n\
         \x20            {{ \"cargo\": {{ \"targetDir\": true }} }} }} }}\n\
         \x20 Neovim with rustaceanvim, init.lua:\n\
         \x20   vim.g.rustaceanvim = {{ server = {{ default_settings =\n\
         \x20     {{ [\"rust-analyzer\"] = {{ cargo = {{ targetDir = true }} }} }} }} }}"
    )
}

/// A file watcher's checks that blocked terminal builds (`sum`: how often, how long): start it
/// with target and build directories of its own (cargo reads them from its environment).
fn watcher_advice(watcher: &str, sum: &str) -> String {
    let dir = format!("target/{watcher}");
    let run = match watcher {
        "cargo-watch" => "cargo watch".to_string(),
        // Its command line is the user's own (`watch -n 2 cargo check`).
        "watch" => "watch …".to_string(),
        w => w.to_string(),
    };
    format!(
        "{watcher}'s checks blocked your terminal builds {sum}: they share one build \
         directory. Start {watcher} with its own (a second build cache on disk) and they stop \
         waiting for each other:\n\
         \x20 CARGO_TARGET_DIR={dir} CARGO_BUILD_BUILD_DIR={dir} {run}"
    )
}

/// Drops advice the configuration already follows (`yield_ide` on).
pub fn drop_taken_advice(s: &mut Summary, config: &crate::config::Config) {
    if config.policy.yield_ide {
        s.advice.retain(|a| a.topic != Topic::YieldIde);
    }
}

/// How to end each kind of contention that recurs in the summary.
pub fn advise(s: &Summary) -> Vec<Advice> {
    let ides: Vec<IdeWaits> = (ide_over_terminal(s).into_iter())
        .filter(|w| w.user.is_none())
        .collect();
    let mut out: Vec<Advice> = (ides.iter())
        .filter(|w| recurs(w.build.0, w.build.1))
        .map(|w| Advice {
            topic: Topic::IdeTargetDir,
            text: ide_target_dir_advice(w),
        })
        .collect();
    for shared in shared_dirs(s).iter().filter(|d| recurs(d.times, d.secs)) {
        out.push(Advice {
            topic: Topic::SharedTargetDir,
            text: shared.advice(),
        });
    }
    out.extend(yield_ide_advice(&ides));
    out.extend(network_stall_advice(s));
    out.extend(suspended_advice(s));
    out.extend(leftover_process_advice(s));
    out.extend(nested_cargo_advice(s));
    out.extend(lock_cycle_advice(s));
    out
}

/// How to let a terminal build go first, when an IDE's (or file watcher's) checks kept
/// making one wait, on a build lock or on the package cache.
fn yield_ide_advice(ides: &[IdeWaits]) -> Option<Advice> {
    let yielding: Vec<&str> = (ides.iter())
        .filter(|w| recurs(w.checks.0, w.checks.1))
        .map(|w| w.name.as_str())
        .collect();
    if yielding.is_empty() {
        return None;
    }
    let ide = yielding.join("'s or ");
    // Each when it runs checks again: an editor on the next save, a watcher on a change or at
    // its interval (review 15, D12).
    let again: Vec<String> = (yielding.iter())
        .map(|one| format!("{one} runs it again {}", runs_again(one)))
        .collect();
    let again = again.join(", ");
    Some(Advice {
        topic: Topic::YieldIde,
        text: format!(
            "To let your build go first, set `yield_ide = true` under [policy] in the \
             config (`cargo lockwatch config` shows where) or tick \"Your build first\" in \
             the menu: when a terminal build waits behind {ide}'s check, lockwatch stops \
             the check; {again}."
        ),
    })
}

/// When `ide` runs a stopped check again: an editor on the next save, a file watcher on the
/// next change or (`watch`) at its next interval.
fn runs_again(ide: &str) -> &'static str {
    match origin::is_watcher_name(ide) {
        true => origin::watcher_runs_again(ide),
        false => "on the next save",
    }
}

/// How to make Cargo give up sooner, when a cargo hung on the network while others waited
/// for it: on a registry, on a git server whose fetch a timeout ends, on one nothing ends;
/// each with the settings its cargos ran with (review AB, AB1).
fn network_stall_advice(s: &Summary) -> Option<Advice> {
    let kinds = &s.network_stall_kinds;
    let registry: Vec<&StallKind> = kinds.iter().filter(|k| k.git.is_none()).collect();
    let endless: Vec<&StallKind> = (kinds.iter())
        .filter(|k| k.endless_git().is_some())
        .collect();
    let timed: Vec<&StallKind> = (kinds.iter())
        .filter(|k| k.git.is_some() && k.endless_git().is_none())
        .collect();
    let urls = |stalls: &[&StallKind]| {
        let mut urls: Vec<String> = (stalls.iter())
            .filter_map(|k| k.git.as_ref())
            .map(|g| text::printable(&g.url))
            .collect();
        urls.sort();
        urls.dedup();
        urls.join(", ")
    };
    let mut parts = Vec::new();
    if !registry.is_empty() {
        parts.push(format!(
            "A cargo others waited for hung on the network {} (nothing arrived for a long \
             while, across its retries). {}",
            times(registry.len() as u32),
            settings_advice(&registry)
        ));
    }
    if !endless.is_empty() {
        parts.push(format!(
            "A cargo others waited for hung fetching git repository {} {} (nothing arrived for a \
             long while; it would have waited for ever). {}",
            urls(&endless),
            times(endless.len() as u32),
            git_advice(&endless)
        ));
    }
    if !timed.is_empty() {
        parts.push(format!(
            "A cargo others waited for hung fetching git repository {} {} (nothing arrived for a \
             long while, across its retries). {}",
            urls(&timed),
            times(timed.len() as u32),
            settings_advice(&timed)
        ));
    }
    (!parts.is_empty()).then(|| Advice {
        topic: Topic::Network,
        text: parts.join("\n"),
    })
}

/// The advice for `stalls` that give up by themselves after their tries (a registry's, a git
/// fetch a timeout ends): one piece per kind of fetch and settings they ran with, naming the
/// Cargo homes of those stalls only (review AB, AB1).
fn settings_advice(stalls: &[&StallKind]) -> String {
    type Group<'a> = (Option<&'a GitFetch>, Option<NetSettings>, Vec<PathBuf>);
    let mut groups: Vec<Group> = Vec::new();
    for k in stalls {
        let by_git = k.git.as_ref().map(|g| g.with_git_cli);
        let same = |(g, s, _): &&mut Group| g.map(|g| g.with_git_cli) == by_git && *s == k.settings;
        let group = match groups.iter_mut().find(same) {
            Some(group) => group,
            None => {
                groups.push((k.git.as_ref(), k.settings, Vec::new()));
                groups.last_mut().expect("just pushed")
            }
        };
        group.2.extend(k.home.clone());
    }
    let texts: Vec<String> = (groups.into_iter())
        .map(|(fetch, settings, mut homes)| {
            homes.sort();
            homes.dedup();
            network_advice(&homes, fetch, settings.as_ref())
                .unwrap_or_else(|| short_enough_words(fetch, settings.as_ref()))
        })
        .collect();
    texts.join("\n")
}

/// The settings that end the git fetches of `stalls`, which nothing made give up: Cargo's own
/// (`http.timeout`), git's (for `net.git-fetch-with-cli`), or both when both kinds hung
/// (review 15, D8).
fn git_advice(stalls: &[&StallKind]) -> String {
    // One piece per kind of fetch (Cargo's or git's, over HTTP or ssh), naming the Cargo homes
    // of that kind's stalls only (review AA, AA2, AA4).
    let kind = |g: &GitFetch| (g.with_git_cli, super::gitfetch::over_ssh(&g.url));
    let git: Vec<&GitFetch> = stalls.iter().filter_map(|k| k.endless_git()).collect();
    let mut kinds: Vec<(bool, bool)> = git.iter().map(|g| kind(g)).collect();
    kinds.sort();
    kinds.dedup();
    let texts: Vec<String> = (kinds.into_iter())
        .filter_map(|k| {
            let fetch = git.iter().find(|g| kind(g) == k)?;
            let mut homes: Vec<PathBuf> = (stalls.iter())
                .filter(|s| s.endless_git().is_some_and(|g| kind(g) == k))
                .filter_map(|s| s.home.clone())
                .collect();
            homes.sort();
            homes.dedup();
            Some(git_fetch_advice(&homes, fetch))
        })
        .collect();
    texts.join("\n")
}

/// How to bring back a build suspended with its lock, when one was.
fn suspended_advice(s: &Summary) -> Option<Advice> {
    (s.suspended > 0).then(|| Advice {
        topic: Topic::Suspended,
        text: format!(
            "A build suspended with Ctrl-Z kept its lock {}. Bring it back with `fg` in \
             its terminal, or `cargo lockwatch resume` (also in the menu).",
            times(s.suspended)
        ),
    })
}

/// How a build script is to start a process, when one left a process holding cargo's
/// output open.
fn leftover_process_advice(s: &Summary) -> Option<Advice> {
    if s.leftover_processes == 0 {
        return None;
    }
    let which = match s.leftover_packages.as_slice() {
        [] => "A build script".to_string(),
        by => {
            let mut words = upper_first(
                &by.iter()
                    .map(LeftBy::words)
                    .collect::<Vec<_>>()
                    .join(" and "),
            );
            if by.last().is_some_and(LeftBy::is_dependency) {
                words.push(',');
            }
            words
        }
    };
    let fix = "start it with its output redirected (`Stdio::null()` for stdin, stdout and \
               stderr), or not leave it running";
    let dependencies: Vec<String> = (s.leftover_packages.iter())
        .filter(|l| l.is_dependency())
        .map(|l| crate::core::text::printable(&l.package))
        .collect();
    let to_do = if dependencies.is_empty() {
        format!("The build script should {fix}.")
    } else {
        format!(
            "The fix is in the build script of {} (report it upstream: it should {fix}), not \
             in yours; until then, `cargo lockwatch kill` the leftover when a build hangs on \
             it.",
            dependencies.join(" and ")
        )
    };
    Some(Advice {
        topic: Topic::LeftoverProcess,
        text: format!(
            "{which} left a process holding cargo's output open {}{}: cargo waits for it to \
             close, so every build there hangs the same way. {to_do}",
            times(s.leftover_processes),
            in_projects(&s.leftover_projects)
        ),
    })
}

/// How to give a nested cargo a target dir of its own, when one deadlocked its build.
fn nested_cargo_advice(s: &Summary) -> Option<Advice> {
    (s.nested_deadlocks > 0).then(|| Advice {
        topic: Topic::NestedCargo,
        text: format!(
            "A build script ran a nested cargo on the target dir its own build holds {}{}: \
             a deadlock. Give the nested cargo a target dir of its own: \
             `--target-dir` under `OUT_DIR`, or `CARGO_TARGET_DIR` in its environment.",
            times(s.nested_deadlocks),
            in_projects(&s.deadlocked_projects)
        ),
    })
}

/// What to do about cargos that deadlocked on each other's locks: no nested cargo to fix, but
/// builds that must not run at once (review Y, Y11).
fn lock_cycle_advice(s: &Summary) -> Option<Advice> {
    let why = if s.cycle_on_unit_locks {
        "Nightly's per-unit build locks (`-Zfine-grain-locking`) can be taken in different \
         orders by two builds of one workspace: run such builds one at a time, or without that \
         flag, and report it to Cargo."
    } else {
        "Cargo takes its locks in one order, so something took them in another (a script or \
         wrapper locking Cargo's files by hand?): run those builds one at a time."
    };
    (s.lock_cycles > 0).then(|| Advice {
        topic: Topic::LockCycle,
        text: format!(
            "Cargos deadlocked on each other's locks {}{}: each held a lock another waited \
             for, so none could go on until one was stopped. {why}",
            times(s.lock_cycles),
            in_projects(&s.cycle_projects)
        ),
    })
}

/// A target (or build) dir that builds of several projects shared, and how long they waited
/// for each other there.
#[derive(Debug, Default)]
struct SharedDir {
    dir: PathBuf,
    projects: Vec<PathBuf>,
    times: u32,
    secs: f64,
}

impl SharedDir {
    fn advice(&self) -> String {
        let names: Vec<String> = self.projects.iter().map(|p| tilde(p)).collect();
        format!(
            "{} build in the same directory {} and waited for each other there {}, {} in \
             all. Give each its own (`CARGO_TARGET_DIR`, or `build.target-dir` / \
             `build.build-dir` in its .cargo/config.toml), or build them one at a time.",
            names.join(" and "),
            tilde(&self.dir),
            times(self.times),
            duration(self.secs)
        )
    }
}

/// The directories where a build of one project waited for a build of another (not an
/// editor's check: see [`ide_over_terminal`]), most waited first (review P, R8).
fn shared_dirs(s: &Summary) -> Vec<SharedDir> {
    let mut out: Vec<SharedDir> = Vec::new();
    let rows = (s.blocked.iter()).filter(|r| {
        // Only a build directory: an install root's `.crates.toml` is no target dir to give
        // each its own of (review X, X9).
        r.blocker_origin != Some(Origin::Ide)
            && r.lock_kind.is_some_and(LockKind::in_build_dir)
            && r.blocker_project.is_some()
    });
    for r in rows {
        // `<dir>/<profile>/.cargo-lock`, and its kin.
        let Some(dir) = r.lock.parent().and_then(Path::parent) else {
            continue;
        };
        let at = match out.iter().position(|d| d.dir == dir) {
            Some(at) => at,
            None => {
                out.push(SharedDir {
                    dir: dir.to_path_buf(),
                    ..SharedDir::default()
                });
                out.len() - 1
            }
        };
        let d = &mut out[at];
        d.times += r.times;
        d.secs += r.total_wait_secs;
        for p in r.project.iter().chain(&r.blocker_project) {
            if !d.projects.contains(p) {
                d.projects.push(p.clone());
            }
        }
    }
    for d in &mut out {
        d.projects.sort();
    }
    out.sort_by(|a, b| b.secs.total_cmp(&a.secs));
    out
}

/// ` (in ~/src/app)`, ` (in ~/a, ~/b)`; nothing when no project is known.
fn in_projects(projects: &[PathBuf]) -> String {
    if projects.is_empty() {
        return String::new();
    }
    let names: Vec<String> = projects.iter().map(|p| tilde(p)).collect();
    format!(" (in {})", names.join(", "))
}

/// The Cargo config of `homes` where network settings go, in words.
fn config_place(homes: &[PathBuf]) -> String {
    let configs: Vec<String> = homes
        .iter()
        .map(|h| tilde(&h.join("config.toml")))
        .collect();
    match configs.as_slice() {
        [] => "$CARGO_HOME/config.toml (~/.cargo/config.toml by default)".to_string(),
        [one] => one.clone(),
        many => format!("each of {}", many.join(", ")),
    }
}

/// `http.timeout` the advice sets, in seconds.
const ADVISED_TIMEOUT_SECS: f64 = 10.0;
/// git's `http.lowSpeedTime` the advice sets for `net.git-fetch-with-cli`, in seconds.
const ADVISED_LOW_SPEED_SECS: f64 = 20.0;
/// `net.retry` the advice sets.
const ADVISED_RETRY: u32 = 1;

/// How to make a cargo hung on the network give up sooner instead of holding the package cache
/// of the Cargo homes `homes` (`$CARGO_HOME/config.toml` when none is known): `fetch` is the
/// git fetch it was (none for a registry), `settings` what it ran with (`None`: not read).
/// A git fetch nothing makes give up gets [`git_fetch_advice`]; one that gives up by itself
/// after its tries is told what it had — its defaults (`http.timeout` 30 s, `net.retry` 3,
/// over two minutes), or its own settings, never "its defaults" then — and the settings that
/// end it sooner: only those above the advised values (`http.timeout` 10 s, git's
/// `http.lowSpeedTime` 20 s, `net.retry` 1); `None` when none is, as nothing set would end it
/// much sooner (review AB, AB1).
pub fn network_advice(
    homes: &[PathBuf],
    fetch: Option<&GitFetch>,
    settings: Option<&NetSettings>,
) -> Option<String> {
    if let Some(g) =
        fetch.filter(|g| !super::gitfetch::gives_up(g, &settings.copied().unwrap_or_default()))
    {
        return Some(git_fetch_advice(homes, g));
    }
    let by_git = fetch.is_some_and(|g| g.with_git_cli);
    let as_run = |s: NetSettings| if by_git { s.for_git_cli() } else { s };
    let had = settings.copied().map(as_run);
    let base = had.unwrap_or_else(|| as_run(NetSettings::default()));
    let advised_try = match by_git {
        true => ADVISED_LOW_SPEED_SECS,
        false => ADVISED_TIMEOUT_SECS,
    };
    let (lower_try, lower_retry) = (base.timeout_secs > advised_try, base.retry > ADVISED_RETRY);
    if !lower_try && !lower_retry {
        return None;
    }
    let head = match fetch {
        None => "Make Cargo give up sooner instead of holding the package cache",
        Some(_) if by_git => {
            "Make git give up sooner on a server that sends nothing instead of holding the \
             package cache"
        }
        Some(_) => {
            "Make Cargo give up sooner on a git server that sends nothing instead of holding the \
             package cache"
        }
    };
    let place = config_place(homes);
    // Cargo's defaults (or settings never read): the advice as it always read.
    if fetch.is_none() && had.is_none_or(|s| s.is_default()) {
        let with = match had {
            Some(_) => "its defaults (http.timeout 30 s per try, net.retry 3)",
            None => {
                "Cargo's defaults (http.timeout 30 s per try, net.retry 3), unless its config or \
                 environment says otherwise,"
            }
        };
        return Some(format!(
            "{head}: {with} keep a request nobody answers going for over 2 minutes; with these, \
             about 20 s. In {place}:\n\
             \x20 [http]\n\x20 timeout = 10\n\x20 [net]\n\x20 retry = 1\n\
             or for one run: CARGO_HTTP_TIMEOUT=10 CARGO_NET_RETRY=1 cargo …"
        ));
    }
    let advised = NetSettings {
        timeout_secs: base.timeout_secs.min(advised_try),
        retry: base.retry.min(ADVISED_RETRY),
        ..base
    };
    let try_name = try_setting_name(by_git);
    let mut changes = Vec::new();
    let (mut config, mut env, mut vars) = (String::new(), Vec::new(), Vec::new());
    if lower_try {
        changes.push(format!("{try_name} {advised_try} s"));
        if by_git {
            env.push(format!(
                "GIT_HTTP_LOW_SPEED_LIMIT=1000 GIT_HTTP_LOW_SPEED_TIME={advised_try}"
            ));
        } else {
            config.push_str(&format!("\x20 [http]\n\x20 timeout = {advised_try}\n"));
            env.push(format!("CARGO_HTTP_TIMEOUT={advised_try}"));
            vars.push("`CARGO_HTTP_TIMEOUT`");
        }
    }
    if lower_retry {
        changes.push(format!("net.retry {ADVISED_RETRY}"));
        config.push_str(&format!("\x20 [net]\n\x20 retry = {ADVISED_RETRY}\n"));
        env.push(format!("CARGO_NET_RETRY={ADVISED_RETRY}"));
        vars.push("`CARGO_NET_RETRY`");
    }
    let env = env.join(" ");
    // git's low-speed time was read from its environment, which wins over git's config: only
    // the environment sets it lower.
    let how = if by_git && lower_try {
        format!(
            "Its environment sets git's time (`GIT_HTTP_LOW_SPEED_TIME`), which wins over git's \
             config: run it with {env} cargo …"
        )
    } else {
        format!(
            "In {place}:\n{config}or for one run: {env} cargo … (a {} in its environment wins \
             over the config)",
            vars.join(" or ")
        )
    };
    Some(format!(
        "{head}: it ran with {}, which keep a request nobody answers going for about {}; with \
         {}, about {}. {how}",
        had_words(&base),
        duration(base.give_up_secs()),
        changes.join(" and "),
        duration(advised.give_up_secs()),
    ))
}

/// The setting that ends each try: Cargo's `http.timeout`, or git's low-speed time for a fetch
/// by git.
fn try_setting_name(by_git: bool) -> &'static str {
    match by_git {
        true => "git's http.lowSpeedTime",
        false => "http.timeout",
    }
}

/// The settings `s` (as the fetch runs with them) in words: `http.timeout 90 s and net.retry 0`.
fn had_words(s: &NetSettings) -> String {
    format!(
        "{} {} s and net.retry {}",
        try_setting_name(s.git_cli),
        s.timeout_secs,
        s.retry
    )
}

/// What a stall whose settings already end a request nobody answers soon (nothing advised
/// would end it much sooner) is told: what it had, and where to look instead.
fn short_enough_words(fetch: Option<&GitFetch>, settings: Option<&NetSettings>) -> String {
    let by_git = fetch.is_some_and(|g| g.with_git_cli);
    let s = settings.copied().unwrap_or_default();
    let s = if by_git { s.for_git_cli() } else { s };
    format!(
        "It ran with {}, which end a request nobody answers in about {}: nothing to set lower; \
         if it happens often, check the network (a proxy, a VPN, the mirror) or the server.",
        had_words(&s),
        duration(s.give_up_secs())
    )
}

/// Settings that make a git fetch give up on a server that does not answer, which by default
/// it never does: `http.timeout` in the config of the Cargo home whose lock was held (`homes`)
/// for Cargo's own fetch; git's `http.lowSpeedLimit` and `http.lowSpeedTime` when Cargo runs
/// git (`with_git_cli`, `net.git-fetch-with-cli`).
pub fn git_fetch_advice(homes: &[PathBuf], fetch: &GitFetch) -> String {
    if super::gitfetch::over_ssh(&fetch.url) {
        return ssh_fetch_advice(homes, fetch.with_git_cli);
    }
    let with_git_cli = fetch.with_git_cli;
    // Cargo runs git again for each of its `net.retry` tries: both settings make the wait
    // short (review Z, Z3).
    if with_git_cli {
        return format!(
            "Make git give up on a server that sends nothing instead of holding the package \
             cache: Cargo fetches with git (`net.git-fetch-with-cli`), which by default waits \
             for ever. With these, each try gives up once less than 1 KB/s has arrived for \
             20 s, and Cargo tries once more: about 40 s in all.\n\
             \x20 git config --global http.lowSpeedLimit 1000\n\
             \x20 git config --global http.lowSpeedTime 20\n\
             and in {}:\n\
             \x20 [net]\n\x20 retry = 1\n\
             or for one run: GIT_HTTP_LOW_SPEED_LIMIT=1000 GIT_HTTP_LOW_SPEED_TIME=20 \
             CARGO_NET_RETRY=1 cargo …",
            config_place(homes)
        );
    }
    format!(
        "Make Cargo give up on a git server that sends nothing instead of holding the package \
         cache: without `http.timeout` it sets no timeout for git fetches and waits for ever; \
         with these it gives up after about 20 s. In {}:\n\
         \x20 [http]\n\x20 timeout = 10\n\x20 [net]\n\x20 retry = 1\n\
         or for one run: CARGO_HTTP_TIMEOUT=10 CARGO_NET_RETRY=1 cargo …",
        config_place(homes)
    )
}

/// Settings that make a fetch over ssh give up, which neither `http.timeout` nor git's
/// low-speed limit does: only ssh's own, and Cargo's own ssh (libssh2) reads none, so git must
/// run ssh (`net.git-fetch-with-cli`) (review AA, AA2).
fn ssh_fetch_advice(homes: &[PathBuf], with_git_cli: bool) -> String {
    let cli = match with_git_cli {
        true => "",
        false => "\x20 git-fetch-with-cli = true\n",
    };
    format!(
        "Make ssh give up on a git server that stops answering instead of holding the package \
         cache: no timeout of Cargo's or git's applies to a fetch over ssh. Let git run ssh, \
         and give ssh a timeout; in {}:\n\
         \x20 [net]\n{cli}\x20 retry = 1\n\
         and in ~/.ssh/config:\n\
         \x20 ConnectTimeout 10\n\x20 ServerAliveInterval 15\n\x20 ServerAliveCountMax 2",
        config_place(homes)
    )
}

fn times(n: u32) -> String {
    match n {
        1 => "once".into(),
        2 => "twice".into(),
        n => format!("{n} times"),
    }
}

/// A period as words: `day`, `7 days`, `hour`, `12 hours`, else humantime's `1h 30m`.
/// The period of a summary of the whole history (a `--since` reaching back before 1970).
pub const WHOLE_HISTORY: u64 = u64::MAX;

pub fn period_words(secs: u64) -> String {
    const DAY: u64 = 86_400;
    const HOUR: u64 = 3_600;
    // humantime's: `1y` is 365.25 days, `1M` 30.44 days.
    const YEAR: u64 = 31_557_600;
    const MONTH: u64 = 2_630_016;
    match secs {
        YEAR => "year".into(),
        s if s > 0 && s % YEAR == 0 => format!("{} years", s / YEAR),
        MONTH => "month".into(),
        s if s > 0 && s % MONTH == 0 => format!("{} months", s / MONTH),
        DAY => "day".into(),
        s if s > 0 && s % DAY == 0 => format!("{} days", s / DAY),
        HOUR => "hour".into(),
        s if s > 0 && s % HOUR == 0 => format!("{} hours", s / HOUR),
        s => {
            short_units(&humantime::format_duration(std::time::Duration::from_secs(s)).to_string())
        }
    }
}

/// humantime's text with its long unit words shortened as the rest of the output writes
/// units: `56years 10months 25days 20h` → `56y 10mo 25d 20h` (review P, R15).
fn short_units(text: &str) -> String {
    let short = |part: &str| {
        let number = part.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let unit = match &part[number.len()..] {
            "year" | "years" => "y",
            "month" | "months" => "mo",
            "day" | "days" => "d",
            other => other,
        };
        format!("{number}{unit}")
    };
    text.split(' ').map(short).collect::<Vec<_>>().join(" ")
}

/// "12.0 MiB", "512 kB", "40 B".
pub fn bytes(n: u64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    } else if n >= 1024 {
        format!("{} kB", n / 1024)
    } else {
        format!("{n} B")
    }
}

/// `≥ ` before a duration that is a lower bound (it began before the daemon looked).
fn or_more(secs: f64, lower_bound: bool) -> String {
    super::text::duration_known(secs, !lower_bound)
}

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// After a row's blocker: its origin, and its project when it is not the waiters'.
fn blocker_place(r: &BlockRow, place: impl Fn(&Path) -> String) -> String {
    let origin = origin_suffix(r.blocker_origin, &r.blocker);
    match &r.blocker_project {
        Some(p) => format!("{origin}{}", place(p)),
        None => origin.to_string(),
    }
}

fn origin_suffix(o: Option<Origin>, blocker: &str) -> &'static str {
    match o {
        Some(Origin::Ide) if origin::is_watcher_name(blocker) => " (file watcher)",
        Some(Origin::Ide) => " (IDE)",
        Some(Origin::Terminal) => " (terminal)",
        Some(Origin::Orphan) => " (orphan)",
        _ => "",
    }
}

/// What a row's lock is, in cargo's words (those the waiting cargo printed). A profile lock
/// outside the project's `target` is named with its directory: a target dir shared by
/// projects (`CARGO_TARGET_DIR`), or a configured build directory, which cargo calls the
/// "build directory" (rows of older versions, which did not record the words, say so). A
/// package cache of another Cargo home than the reader's (`reader_home`) is named with it.
fn lock_words(r: &BlockRow, reader_home: Option<&Path>) -> String {
    let cache = matches!(
        r.lock_kind,
        Some(LockKind::PackageCache | LockKind::PackageCacheMutate)
    );
    let other_home = (r.lock.parent()).filter(|h| cache && reader_home.is_some_and(|me| me != *h));
    if let (Some(home), Some(kind)) = (other_home, r.lock_kind) {
        let words = match r.lock_description.as_str() {
            "" => kind.cargo_words(),
            said => said,
        };
        return format!("{words} of {}", tilde(home));
    }
    let outside = |p: &PathBuf| !r.lock.starts_with(p.join("target"));
    let dir = || {
        r.lock
            .parent()
            .map_or_else(String::new, |d| format!(" {}", tilde(d)))
    };
    match r.lock_kind {
        Some(LockKind::ProfileDirectory) if r.project.as_ref().is_some_and(outside) => {
            // A blocker with a target dir of its own shared only the build directory.
            let words = match r.lock_description.as_str() {
                _ if r.blocker_own_target_dir => LockKind::BuildDirectory.cargo_words(),
                "" => LockKind::BuildDirectory.cargo_words(),
                said => said,
            };
            format!("{words}{}", dir())
        }
        Some(_) if !r.lock_description.is_empty() => r.lock_description.clone(),
        Some(k) => k.cargo_words().to_string(),
        None => tilde(&r.lock),
    }
}

/// How many "who blocked whom" rows `history` lists (the JSON has them all).
const MAX_BLOCKED_ROWS: usize = 10;

/// Renders a summary for people; `period_secs` is the `--since` span, `width` the terminal's
/// (`None`: a pipe, lines unwrapped).
pub fn render(s: &Summary, period_secs: u64, width: Option<usize>) -> String {
    let mut out = String::new();
    write_headline(&mut out, s, period_secs, width);
    write_blocked(&mut out, s, width);
    write_advice(&mut out, &s.advice, width);
    write_skipped(&mut out, s);
    out
}

/// `line` wrapped to `width` (at least 40), later lines indented; unwrapped without a width.
fn fill(line: String, width: Option<usize>) -> String {
    match width {
        Some(w) => textwrap::fill(
            &line,
            textwrap::Options::new(w.max(40))
                .subsequent_indent("  ")
                .word_separator(textwrap::WordSeparator::AsciiSpace),
        ),
        None => line,
    }
}

/// Writes the summary's first lines: the counts, the stale blockers, the builds that went
/// first and the longest hold.
fn write_headline(out: &mut String, s: &Summary, period_secs: u64, width: Option<usize>) {
    // Asked for more than there is: the whole of it, not an odd length (review V, V8).
    let period = match period_secs {
        WHOLE_HISTORY => "Whole history".to_string(),
        secs => format!("Last {}", period_words(secs)),
    };
    let header = format!(
        "{period}: {}, {} ({} waited, added up), {} stale, {} killed",
        plural(s.holds, "hold", "holds"),
        plural(s.waits, "wait", "waits"),
        or_more(s.total_wait_secs, s.total_wait_at_least),
        s.stale,
        s.killed
    );
    let _ = writeln!(out, "{}", fill(header, width));
    if !s.stale_blockers.is_empty() {
        let who: Vec<String> = (s.stale_blockers.iter())
            .map(|r| {
                let why: Vec<&str> = r.reasons.iter().map(|r| reason_words(*r)).collect();
                let many = if r.blockers > 1 {
                    format!(" ×{}", r.blockers)
                } else {
                    String::new()
                };
                format!("{}{many} ({})", r.name, why.join(", "))
            })
            .collect();
        let _ = writeln!(out, "{}", fill(format!("Stale: {}", who.join(", ")), width));
    }
    if s.yielded > 0 {
        let _ = writeln!(
            out,
            "Your build went first {}: editor or file-watcher checks stopped for it",
            times(s.yielded)
        );
    }
    // A hold under a second is no news (review P, R15).
    if let Some((name, secs, path)) = s.longest_hold.as_ref().filter(|(_, secs, _)| *secs >= 1.0) {
        let line = format!(
            "Longest hold that ended: {name} held {} for {}",
            tilde(path),
            or_more(*secs, s.longest_hold_at_least)
        );
        let _ = writeln!(out, "{}", fill(line, width));
    }
}

/// Writes the "Who blocked whom" rows, if any, wrapped to `width` as the advice is.
fn write_blocked(out: &mut String, s: &Summary, width: Option<usize>) {
    if s.blocked.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nWho blocked whom:");
    let listed = listed_rows(&s.blocked);
    let n = listed.len();
    let shortest = (listed.iter()).fold(f64::INFINITY, |m, r| m.min(r.total_wait_secs));
    let unlisted = |r: &&BlockRow| !listed.iter().any(|l| std::ptr::eq(*l, *r));
    let longer_left = (s.blocked.iter())
        .filter(unlisted)
        .any(|r| r.total_wait_secs > shortest);
    for r in listed {
        let _ = writeln!(out, "{}", blocked_row(r, s.reader_home.as_deref(), width));
    }
    let rest = s.blocked.len() - n;
    if rest > 0 {
        let which = if n < MAX_BLOCKED_ROWS {
            "each under a second in all"
        } else if longer_left {
            "shorter or single waits"
        } else {
            "shorter"
        };
        let line =
            format!("… and {rest} more, {which} (`cargo lockwatch history --json` lists them all)");
        // Wrapped as the rows are (review X, X3).
        let line = match width.map(|w| w.max(40)) {
            Some(w) => text::hanging(&line, w, "  ", "    "),
            None => format!("  {line}"),
        };
        let _ = writeln!(out, "{line}");
    }
}

/// One "Who blocked whom" row: who blocked whom and where, then how often and on what lock.
/// With a `width` (at least 40) each of its two lines wraps with a hanging indent under the
/// row's text, a place (`in ~/src/app`) kept whole on one line (review W, W9); without one the
/// row is as it always was.
fn blocked_row(r: &BlockRow, reader_home: Option<&Path>, width: Option<usize>) -> String {
    let keep = match width {
        Some(_) => text::KEEP.to_string(),
        None => " ".to_string(),
    };
    let place = |p: &Path| format!(" in{keep}{}", tilde(p).replace(' ', &keep));
    let who = format!(
        "{}{} blocked {}{}",
        r.blocker,
        blocker_place(r, place),
        r.waiter,
        r.project.as_deref().map(place).unwrap_or_default()
    );
    let how = format!(
        "{}, {} in all (longest {}) · {}",
        times(r.times),
        or_more(r.total_wait_secs, r.total_wait_at_least),
        or_more(r.longest_wait_secs, r.longest_wait_at_least),
        lock_words(r, reader_home)
    );
    match width.map(|w| w.max(40)) {
        Some(w) => format!(
            "{}\n{}",
            text::hanging(&who, w, "  ", "    "),
            text::hanging(&how, w, "      ", "        ")
        ),
        None => format!("  {who}\n      {how}"),
    }
}

/// The rows `history` lists, most waiting first: the top ones by time, then, for the second
/// half of the list, rows that recur before single waits, so one hung registry's victims in
/// five projects do not hide an editor's contention that comes back every few minutes
/// (review W, W2). Rows under a second in all are counted, not listed.
fn listed_rows(rows: &[BlockRow]) -> Vec<&BlockRow> {
    let shown: Vec<&BlockRow> = (rows.iter())
        .take_while(|r| r.total_wait_secs >= 1.0)
        .collect();
    if shown.len() <= MAX_BLOCKED_ROWS {
        return shown;
    }
    let by_time = MAX_BLOCKED_ROWS / 2;
    let rest = by_time..shown.len();
    let recurring = rest.clone().filter(|&i| shown[i].times >= 2);
    let single = rest.filter(|&i| shown[i].times < 2);
    let mut picked: Vec<usize> = (0..by_time)
        .chain(recurring.chain(single).take(MAX_BLOCKED_ROWS - by_time))
        .collect();
    picked.sort_unstable();
    picked.into_iter().map(|i| shown[i]).collect()
}

/// Writes the "To end it" advice, if any, wrapped to `width`.
fn write_advice(out: &mut String, advice: &[Advice], width: Option<usize>) {
    if advice.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nTo end it:");
    for a in advice {
        for (i, line) in a.text.lines().enumerate() {
            // Snippets (indented lines) stay whole so they can be copied.
            if line.starts_with(' ') {
                let _ = writeln!(out, "    {line}");
                continue;
            }
            let first = if i == 0 { "  • " } else { "    " };
            let Some(width) = width else {
                let _ = writeln!(out, "{first}{line}");
                continue;
            };
            let opts = textwrap::Options::new(width.max(40))
                .word_separator(textwrap::WordSeparator::AsciiSpace)
                .initial_indent(first)
                .subsequent_indent("    ");
            let _ = writeln!(out, "{}", textwrap::fill(line, opts));
        }
    }
}

/// Writes what of the history was not read: the bytes skipped, the oversized lines (with their
/// size: one huge line is a corrupt or hand-edited file, not a log over its bound), the other
/// lines unreadable.
fn write_skipped(out: &mut String, s: &Summary) {
    if s.skipped_bytes > 0 {
        let _ = writeln!(
            out,
            "\n(the oldest {} of history were not read: the log is over its size bound)",
            bytes(s.skipped_bytes)
        );
    }
    match s.oversized_lines {
        0 => {}
        1 => {
            let _ = writeln!(
                out,
                "\n(a {} line was skipped: too long to be an event)",
                bytes(s.oversized_bytes)
            );
        }
        n => {
            let _ = writeln!(
                out,
                "\n({n} lines too long to be events were skipped, {} in all)",
                bytes(s.oversized_bytes)
            );
        }
    }
    let others = s.unreadable_lines.saturating_sub(s.oversized_lines);
    if others > 0 {
        let _ = writeln!(
            out,
            "\n({others} {}unreadable line{} skipped)",
            if s.oversized_lines > 0 { "other " } else { "" },
            if others == 1 { "" } else { "s" }
        );
    }
}

/// [`Summary::longest_hold`] with its path as text even when it is not UTF-8.
fn longest_hold_lossy<S: serde::Serializer>(
    v: &Option<(ProcName, f64, PathBuf)>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let text = v
        .as_ref()
        .map(|(name, secs, path)| (name, secs, path.to_string_lossy()));
    serde::Serialize::serialize(&text, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(pid: u32) -> ProcId {
        ProcId {
            pid,
            start_token: 7,
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn party(origin: Origin, via: &str, project: &str) -> Party {
        Party {
            origin: Some(origin),
            via: Some(via.into()),
            project: Some(project.into()),
            user: None,
        }
    }

    /// A terminal `cargo build` in /src/app that waited `secs` for an IDE's `cargo check`.
    fn ide_blocked_terminal(at: f64, secs: f64, lock: &str) -> HistoryEvent {
        HistoryEvent::WaitEnded {
            at,
            path: lock.into(),
            ino: 9,
            waiter: id(at as u32),
            name: "cargo".into(),
            waited_secs: secs,
            since_known: true,
            blocked_by: vec![("cargo".into(), 10)],
            cmd: s(&["cargo", "build"]),
            blocked_by_cmd: vec![s(&["/usr/bin/cargo", "check", "--message-format=json"])],
            party: party(Origin::Terminal, "zsh", "/src/app"),
            blocker: party(Origin::Ide, "rust-analyzer", "/src/app"),
            lock_description: String::new(),
            goes_on: false,
        }
    }

    fn stale(at: f64, pid: u32, reasons: Vec<StaleReason>) -> HistoryEvent {
        HistoryEvent::Stale {
            at,
            path: "/h/.package-cache".into(),
            holder: id(pid),
            name: "cargo".into(),
            reasons,
            blocked: vec![],
            left_by: None,
            cycle: false,
            git: None,
            net: None,
        }
    }

    /// Cargo `pid`, holding the package cache of Cargo home `home`, said stale for a silent
    /// network while cargos `blocked` waited for it.
    fn network_stale(at: f64, pid: u32, home: &str, blocked: &[u32]) -> HistoryEvent {
        HistoryEvent::Stale {
            at,
            path: Path::new(home).join(".package-cache"),
            holder: id(pid),
            name: "cargo".into(),
            reasons: vec![StaleReason::NetworkSilent],
            blocked: blocked.iter().map(|b| ("cargo".into(), *b)).collect(),
            left_by: None,
            cycle: false,
            git: None,
            net: None,
        }
    }

    /// Cargo `pid` let go of the package cache of `home` after `silent` seconds with nothing
    /// arriving from the network.
    fn network_released(pid: u32, home: &str, silent: Option<f64>) -> HistoryEvent {
        HistoryEvent::Released {
            at: 200.0,
            path: Path::new(home).join(".package-cache"),
            ino: 1,
            holder: id(pid),
            name: "cargo".into(),
            held_secs: 130.0,
            cmd: vec!["cargo".into(), "fetch".into()],
            since_known: true,
            party: Party::default(),
            network_silent_secs: silent,
        }
    }

    /// A terminal `cargo build` in /src/app (pid `at`) that waited for the package cache of
    /// `home`, held by cargo `pid`.
    fn waited_for_cache(at: f64, home: &str, pid: u32) -> HistoryEvent {
        let lock = Path::new(home).join(".package-cache");
        let mut e = ide_blocked_terminal(at, 30.0, &lock.to_string_lossy());
        if let HistoryEvent::WaitEnded {
            blocked_by,
            blocked_by_cmd,
            blocker,
            ..
        } = &mut e
        {
            *blocked_by = vec![("cargo".into(), pid)];
            *blocked_by_cmd = vec![s(&["cargo", "generate-lockfile"])];
            *blocker = party(Origin::Terminal, "zsh", "/src/app");
        }
        e
    }

    const BUILD_LOCK: &str = "/src/app/target/debug/.cargo-lock";

    #[test]
    fn a_blocker_whose_shell_exited_keeps_its_first_origin_in_one_row() {
        let wait = |at: f64, origin: Origin| {
            let HistoryEvent::WaitEnded { mut blocker, .. } = ide_blocked_terminal(0.0, 0.0, "")
            else {
                unreachable!()
            };
            blocker.origin = Some(origin);
            HistoryEvent::WaitEnded {
                at,
                path: BUILD_LOCK.into(),
                ino: 9,
                waiter: id(at as u32),
                name: "cargo".into(),
                waited_secs: 30.0,
                since_known: true,
                blocked_by: vec![("flock".into(), 8995)],
                cmd: s(&["cargo", "build"]),
                blocked_by_cmd: vec![s(&["flock", "x", "sleep", "600"])],
                party: party(Origin::Terminal, "zsh", "/src/app"),
                blocker,
                lock_description: String::new(),
                goes_on: false,
            }
        };
        let events = [
            wait(100.0, Origin::Terminal),
            wait(200.0, Origin::Orphan),
            wait(300.0, Origin::Unknown),
        ];
        let sum = summarize(&events, 0.0, 0);
        assert_eq!(sum.blocked.len(), 1, "{:#?}", sum.blocked);
        assert_eq!(sum.blocked[0].blocker_origin, Some(Origin::Terminal));
        assert_eq!(sum.blocked[0].times, 3);
        // A blocker only ever told as an orphan stays one.
        let sum = summarize(&[wait(100.0, Origin::Orphan)], 0.0, 0);
        assert_eq!(sum.blocked[0].blocker_origin, Some(Origin::Orphan));
    }

    #[test]
    fn names_with_control_characters_are_escaped_in_the_text_and_real_in_json() {
        let odd = "lw\u{1b}[31m\nx";
        let mut blocked = ide_blocked_terminal(100.0, 100.0, BUILD_LOCK);
        if let HistoryEvent::WaitEnded {
            blocked_by,
            blocked_by_cmd,
            blocker,
            ..
        } = &mut blocked
        {
            *blocked_by = vec![(odd.into(), 10), ("cargo".into(), 11)];
            *blocked_by_cmd = vec![];
            *blocker = Party::default();
        }
        let mut stuck = stale(100.0, 10, vec![StaleReason::Stopped]);
        if let HistoryEvent::Stale { name, .. } = &mut stuck {
            *name = odd.into();
        }
        let held = HistoryEvent::Released {
            network_silent_secs: None,
            at: 100.0,
            path: BUILD_LOCK.into(),
            ino: 9,
            holder: id(10),
            name: odd.into(),
            held_secs: 100.0,
            cmd: vec![],
            since_known: true,
            party: Party::default(),
        };
        let sum = summarize(&[blocked, stuck, held], 50.0, 0);
        let text = render(&sum, 86_400, None);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("Stale: lw\\x1b[31m\\nx (stopped)"), "{text}");
        assert!(
            text.contains("Longest hold that ended: lw\\x1b[31m\\nx held"),
            "{text}"
        );
        assert!(text.contains("lw\\x1b[31m\\nx and cargo"), "{text}");
        let json = serde_json::to_value(&sum).unwrap();
        assert_eq!(json["stale_blockers"][0]["name"], odd);
        assert_eq!(json["longest_hold"][0], odd);
    }

    /// A longest hold under a second is left out; one of a second or more is said (review P,
    /// R15).
    #[test]
    fn a_longest_hold_under_a_second_is_not_said() {
        let held = |secs: f64| HistoryEvent::Released {
            network_silent_secs: None,
            at: 100.0,
            path: BUILD_LOCK.into(),
            ino: 9,
            holder: id(10),
            name: "cargo".into(),
            held_secs: secs,
            cmd: vec![],
            since_known: true,
            party: Party::default(),
        };
        let text = render(&summarize(&[held(0.4)], 50.0, 0), 3600, None);
        assert!(text.starts_with("Last hour:"), "{text}");
        assert!(!text.contains("Longest hold"), "{text}");
        let text = render(&summarize(&[held(1.0)], 50.0, 0), 3600, None);
        assert!(
            text.contains(&format!(
                "Longest hold that ended: cargo held {BUILD_LOCK} for 1s"
            )),
            "{text}"
        );
    }

    #[test]
    fn another_user_s_waits_are_theirs_not_yours_and_get_no_advice_for_you() {
        let events: Vec<HistoryEvent> = (0..6)
            .map(|i| {
                let mut e = ide_blocked_terminal(100.0 + f64::from(i), 100.0, BUILD_LOCK);
                if let HistoryEvent::WaitEnded { party, .. } = &mut e {
                    party.user = Some("lwtest".into());
                }
                e
            })
            .collect();
        let sum = summarize(&events, 50.0, 0);
        assert_eq!(sum.blocked[0].waiter, "lwtest's terminal builds");
        assert_eq!(sum.blocked[0].waiter_user.as_deref(), Some("lwtest"));
        // Of no known origin, the command is still theirs (review N, P10).
        let mut unknown = events[0].clone();
        if let HistoryEvent::WaitEnded { party, .. } = &mut unknown {
            party.origin = Some(Origin::Unknown);
        }
        let theirs = summarize(&[unknown], 50.0, 0);
        assert_eq!(theirs.blocked[0].waiter, "lwtest's cargo build");
        assert!(
            !sum.advice.iter().any(|a| a.topic == Topic::IdeTargetDir),
            "{:#?}",
            sum.advice
        );
    }

    #[test]
    fn waits_that_began_before_the_daemon_looked_are_at_least_that_long() {
        let wait = |at: f64, secs: f64, since_known: bool| {
            let mut e = ide_blocked_terminal(at, secs, BUILD_LOCK);
            if let HistoryEvent::WaitEnded { since_known: k, .. } = &mut e {
                *k = since_known;
            }
            e
        };
        let sum = summarize(&[wait(150.0, 65.0, false), wait(200.0, 5.0, true)], 50.0, 0);
        assert!(sum.total_wait_at_least);
        let row = &sum.blocked[0];
        assert!(
            row.total_wait_at_least && row.longest_wait_at_least,
            "{row:?}"
        );
        let text = render(&sum, 86_400, None);
        assert!(text.contains("(≥ 1m10s waited, added up)"), "{text}");
        assert!(
            text.contains("twice, ≥ 1m10s in all (longest ≥ 1m05s)"),
            "{text}"
        );

        let sum = summarize(&[wait(150.0, 65.0, true), wait(200.0, 5.0, false)], 50.0, 0);
        let text = render(&sum, 86_400, None);
        assert!(text.contains("≥ 1m10s in all (longest 1m05s)"), "{text}");
        let sum = summarize(&[wait(150.0, 65.0, true)], 50.0, 0);
        let text = render(&sum, 86_400, None);
        assert!(text.contains("(1m05s waited, added up)"), "{text}");
        assert!(!text.contains('≥'), "{text}");
    }

    #[test]
    fn who_blocked_whom_lists_the_top_rows_and_counts_the_rest() {
        let mut sum = summarize(&[ide_blocked_terminal(100.0, 30.0, BUILD_LOCK)], 50.0, 0);
        let row = sum.blocked[0].clone();
        sum.blocked = (0..15)
            .map(|i| BlockRow {
                blocker: format!("blocker-{i}"),
                total_wait_secs: if i < 12 { 100.0 - i as f64 } else { 0.2 },
                ..row.clone()
            })
            .collect();
        let text = render(&sum, 86_400, None);
        assert!(
            text.contains("blocker-9 ") && !text.contains("blocker-10 "),
            "{text}"
        );
        assert!(text.contains("… and 5 more, shorter"), "{text}");
        sum.blocked.drain(..12);
        let text = render(&sum, 86_400, None);
        assert!(!text.contains("blocker-12 "), "{text}");
        assert!(
            text.contains("… and 3 more, each under a second in all"),
            "{text}"
        );
    }

    /// Seven single long waits behind one hung hold do not hide a row that recurs: the
    /// second half of the list goes to recurring rows first (review W, W2).
    #[test]
    fn recurring_rows_are_listed_before_single_long_waits() {
        let mut sum = summarize(&[ide_blocked_terminal(100.0, 30.0, BUILD_LOCK)], 50.0, 0);
        let row = sum.blocked[0].clone();
        let mut rows: Vec<BlockRow> = (0..12)
            .map(|i| BlockRow {
                blocker: format!("hung-{i}"),
                total_wait_secs: 130.0 - f64::from(i),
                times: 1,
                ..row.clone()
            })
            .collect();
        rows.push(BlockRow {
            blocker: "bacon".into(),
            total_wait_secs: 18.0,
            times: 5,
            ..row.clone()
        });
        sum.blocked = rows;
        let text = render(&sum, 86_400, None);
        assert!(text.contains("  bacon "), "{text}");
        assert!(
            text.contains("hung-8 ") && !text.contains("hung-9 "),
            "{text}"
        );
        assert!(
            text.contains("… and 3 more, shorter or single waits"),
            "{text}"
        );
        // At 80 columns the count under the rows wraps as they do (review X, X3).
        let text = render(&sum, 86_400, Some(80));
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
        assert!(
            text.contains(
                "  … and 3 more, shorter or single waits (`cargo lockwatch history --json` lists\n    them all)"
            ),
            "{text}"
        );
    }

    /// A part of pid 11's wait on the build lock behind a terminal `cargo build` (pid
    /// `blocker`), or behind rust-analyzer's check when `ide`.
    fn part(at: f64, secs: f64, blocker: u32, ide: bool, goes_on: bool) -> HistoryEvent {
        let mut e = ide_blocked_terminal(at, secs, BUILD_LOCK);
        if let HistoryEvent::WaitEnded {
            waiter,
            blocked_by,
            blocked_by_cmd,
            blocker: b,
            goes_on: g,
            ..
        } = &mut e
        {
            *waiter = id(11);
            *blocked_by = vec![("cargo".into(), blocker)];
            *g = goes_on;
            if !ide {
                *blocked_by_cmd = vec![s(&["cargo", "build"])];
                *b = party(Origin::Terminal, "zsh", "/src/app");
            }
        }
        e
    }

    #[test]
    fn one_cargo_behind_three_holders_in_turn_is_one_wait_as_long_as_all_of_it() {
        let events = vec![
            part(140.0, 40.0, 10, false, true),
            part(190.0, 50.0, 12, false, true),
            part(300.0, 110.0, 13, false, false),
            // Another build waited once, behind one holder.
            ide_blocked_terminal(400.0, 30.0, BUILD_LOCK),
        ];
        let sum = summarize(&events[..3], 0.0, 0);
        assert_eq!(sum.waits, 1);
        let row = &sum.blocked[0];
        assert_eq!(row.blocker, "cargo build");
        assert_eq!(
            (row.times, row.total_wait_secs, row.longest_wait_secs),
            (1, 200.0, 200.0),
            "one waiting process; its whole wait is the longest"
        );
        let text = render(&sum, 86_400, None);
        assert!(text.contains("1 wait (3m20s waited"), "{text}");
        assert!(
            text.contains("once, 3m20s in all (longest 3m20s)"),
            "{text}"
        );
        let sum = summarize(&events, 0.0, 0);
        assert_eq!(sum.waits, 2);
    }

    #[test]
    fn a_wait_behind_an_ide_check_then_a_build_counts_once_in_each_row() {
        let events = vec![
            part(110.0, 10.0, 10, true, true),
            part(160.0, 50.0, 12, false, false),
        ];
        let sum = summarize(&events, 0.0, 0);
        assert_eq!(sum.waits, 1);
        assert_eq!(sum.total_wait_secs, 60.0);
        let rows: Vec<(&str, u32, f64, f64)> = (sum.blocked.iter())
            .map(|r| {
                let (t, total, longest) = (r.times, r.total_wait_secs, r.longest_wait_secs);
                (r.blocker.as_str(), t, total, longest)
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("cargo build", 1, 50.0, 50.0),
                ("rust-analyzer", 1, 10.0, 10.0)
            ],
            "each row says the time behind its own blockers"
        );
    }

    #[test]
    fn a_wait_still_going_on_when_the_log_ends_counts() {
        let events = vec![part(140.0, 40.0, 10, false, true)];
        let sum = summarize(&events, 0.0, 0);
        assert_eq!((sum.waits, sum.blocked[0].times), (1, 1));
        assert_eq!(sum.blocked[0].longest_wait_secs, 40.0);
    }

    #[test]
    fn history_lines_of_older_versions_read_as_whole_waits() {
        let line = r#"{"event":"wait-ended","at":5.0,"path":"/h/.package-cache","ino":9,"waiter":{"pid":11,"start_token":2},"name":"cargo","waited_secs":4.0,"blocked_by":[["cargo",10]]}"#;
        let e: HistoryEvent = serde_json::from_str(line).unwrap();
        assert!(matches!(
            e,
            HistoryEvent::WaitEnded {
                ref lock_description,
                goes_on: false,
                since_known: true,
                ..
            } if lock_description.is_empty()
        ));
        let sum = summarize(&[e.clone(), e], 0.0, 0);
        assert_eq!((sum.waits, sum.blocked[0].times), (2, 2));
        let line = r#"{"event":"wait-started","at":1.0,"path":"/h/.package-cache","ino":9,"waiter":{"pid":11,"start_token":2},"name":"cargo","cmd":[],"blocked_by":[]}"#;
        let e: HistoryEvent = serde_json::from_str(line).unwrap();
        assert!(matches!(
            e,
            HistoryEvent::WaitStarted {
                began: None,
                began_known: true,
                ..
            }
        ));
    }

    #[test]
    fn a_longest_hold_that_began_before_the_daemon_looked_is_at_least_that_long() {
        let released = |at: f64, secs: f64, since_known: bool| HistoryEvent::Released {
            network_silent_secs: None,
            at,
            path: BUILD_LOCK.into(),
            ino: 9,
            holder: id(at as u32),
            name: "cargo".into(),
            held_secs: secs,
            cmd: vec![],
            since_known,
            party: Party::default(),
        };
        let sum = summarize(
            &[released(100.0, 18.0, false), released(200.0, 5.0, true)],
            50.0,
            0,
        );
        assert!(sum.longest_hold_at_least);
        let text = render(&sum, 86_400, None);
        assert!(text.contains("for ≥ 18s"), "{text}");
        let sum = summarize(&[released(100.0, 18.0, true)], 50.0, 0);
        assert!(render(&sum, 86_400, None).contains("for 18s"));
    }

    #[test]
    fn a_lock_is_named_as_the_waiting_cargo_named_it() {
        // cargo <= 1.95 calls `target/debug/.cargo-lock` the "build directory" in a check.
        let mut e = ide_blocked_terminal(100.0, 30.0, BUILD_LOCK);
        if let HistoryEvent::WaitEnded { cmd, .. } = &mut e {
            *cmd = s(&["cargo", "check", "--message-format=json"]);
        }
        let sum = summarize(&[e], 50.0, 0);
        assert_eq!(sum.blocked[0].lock_description, "build directory");
        let text = render(&sum, 86_400, None);
        assert!(text.contains("· build directory"), "{text}");
        // An older daemon's row (no words): the lock kind's.
        let mut old = sum.clone();
        old.blocked[0].lock_description.clear();
        assert!(render(&old, 86_400, None).contains("· artifact directory"));
        // The daemon's words win over the command's: a build waiting in a configured build
        // dir printed "build directory".
        let mut e = ide_blocked_terminal(100.0, 30.0, "/b/debug/.cargo-lock");
        if let HistoryEvent::WaitEnded {
            lock_description, ..
        } = &mut e
        {
            *lock_description = "build directory".into();
        }
        let text = render(&summarize(&[e], 50.0, 0), 86_400, None);
        assert!(text.contains("· build directory /b/debug"), "{text}");
    }

    #[test]
    fn groups_by_blocker_origin_and_project() {
        let mut events: Vec<HistoryEvent> = (0..14)
            .map(|i| ide_blocked_terminal(200.0 + f64::from(i), 100.0, BUILD_LOCK))
            .collect();
        // An old line without origins: grouped by names, as before.
        events.push(HistoryEvent::WaitEnded {
            at: 200.0,
            path: "/h/.package-cache".into(),
            ino: 3,
            waiter: id(50),
            name: "cargo".into(),
            waited_secs: 5.0,
            since_known: true,
            blocked_by: vec![("cargo".into(), 51)],
            cmd: vec![],
            blocked_by_cmd: vec![],
            party: Party::default(),
            blocker: Party::default(),
            lock_description: String::new(),
            goes_on: false,
        });
        events.push(ide_blocked_terminal(10.0, 999.0, BUILD_LOCK)); // before the period
        let sum = summarize(&events, 50.0, 0);
        assert_eq!(sum.waits, 15);
        assert_eq!(sum.blocked.len(), 2, "{:#?}", sum.blocked);
        let top = &sum.blocked[0];
        assert_eq!(top.blocker, "rust-analyzer");
        assert_eq!(top.blocker_origin, Some(Origin::Ide));
        assert_eq!(top.waiter, "your terminal builds");
        assert_eq!(
            top.project.as_deref(),
            Some(std::path::Path::new("/src/app"))
        );
        assert_eq!((top.times, top.total_wait_secs), (14, 1400.0));
        assert_eq!(sum.blocked[1].blocker, "cargo");

        let text = render(&sum, 7 * 86_400, None);
        assert!(text.starts_with("Last 7 days: 0 holds, 15 waits"), "{text}");
        assert!(
            text.contains(
                "  rust-analyzer (IDE) blocked your terminal builds in /src/app\n      \
                 14 times, 23m20s in all (longest 1m40s) · artifact directory"
            ),
            "{text}"
        );
    }

    #[test]
    fn ide_contention_on_the_build_directory_advises_a_target_dir_with_snippets() {
        let events: Vec<HistoryEvent> = (0..3)
            .map(|i| ide_blocked_terminal(100.0 + f64::from(i), 40.0, BUILD_LOCK))
            .collect();
        let sum = summarize(&events, 0.0, 0);
        let topics: Vec<Topic> = sum.advice.iter().map(|a| a.topic).collect();
        assert_eq!(topics, [Topic::IdeTargetDir, Topic::YieldIde]);
        let text = render(&sum, 86_400, Some(80));
        for snippet in [
            "\"rust-analyzer.cargo.targetDir\": true",
            "{ \"cargo\": { \"targetDir\": true } } } }",
            "{ [\"rust-analyzer\"] = { cargo = { targetDir = true } } } } }",
            "yield_ide = true",
        ] {
            assert!(text.contains(snippet), "{snippet}:\n{text}");
        }
        insta::assert_snapshot!("history_80_ide_advice", text);
        // Prose wraps at the width; snippet lines stay whole, and fit.
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line:?}");
        }
    }

    #[test]
    fn who_blocked_whom_rows_wrap_at_the_width_with_their_places_whole() {
        // A terminal build in one project blocked one in another, both with long paths
        // (review W, W9): each row line wraps at 80 with a hanging indent, and a place
        // ("in /tmp/…", a space in it too) stays whole on one line.
        let waiter = "/tmp/review-w/projects/a-workspace-with-a-long-name/member crate";
        let holder = "/tmp/review-w/projects/networked-build-two";
        let events: Vec<HistoryEvent> = (0..2)
            .map(|i| {
                let mut e = ide_blocked_terminal(100.0 + f64::from(i), 65.0, "/h/.package-cache");
                if let HistoryEvent::WaitEnded {
                    party: p,
                    blocker,
                    blocked_by_cmd,
                    ..
                } = &mut e
                {
                    *p = party(Origin::Terminal, "zsh", waiter);
                    *blocker = party(Origin::Terminal, "bash", holder);
                    *blocked_by_cmd = vec![s(&["cargo", "build"])];
                }
                e
            })
            .collect();
        let sum = summarize(&events, 0.0, 0);
        let text = render(&sum, 3600, Some(80));
        let rows: Vec<&str> = (text.lines())
            .skip_while(|l| *l != "Who blocked whom:")
            .skip(1)
            .take_while(|l| !l.is_empty())
            .collect();
        assert_eq!(
            rows,
            [
                "  cargo build (terminal) in /tmp/review-w/projects/networked-build-two",
                "    blocked your terminal builds",
                "    in /tmp/review-w/projects/a-workspace-with-a-long-name/member crate",
                "      twice, 2m10s in all (longest 1m05s) · package cache",
            ],
            "{text}"
        );
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line:?}\n{text}");
        }
        // A narrow terminal: the place overflows rather than breaks.
        let narrow = render(&sum, 3600, Some(40));
        assert!(narrow.contains(&format!("\n    in {waiter}\n")), "{narrow}");
        // Off a terminal: one line each, as before.
        assert!(
            render(&sum, 3600, None).contains(&format!(
                "\n  cargo build (terminal) in {holder} blocked your terminal builds in \
                 {waiter}\n      twice, 2m10s in all (longest 1m05s) · package cache\n"
            )),
            "{}",
            render(&sum, 3600, None)
        );
    }

    #[test]
    fn an_ide_sharing_a_build_dir_outside_the_target_dir_is_advised_one_of_its_own() {
        // The shared lock lies outside the project's target (a configured build-dir): a plain
        // check, and one with rust-analyzer's own target dir, are both told to move the
        // build dir too; a lock in the project's target gets the target dir advice alone.
        let waits = |lock: &str, own_target: bool| -> Vec<HistoryEvent> {
            (0..3)
                .map(|i| {
                    let mut e = ide_blocked_terminal(100.0 + f64::from(i), 40.0, lock);
                    if let HistoryEvent::WaitEnded { blocked_by_cmd, .. } = &mut e
                        && own_target
                    {
                        blocked_by_cmd[0]
                            .extend(s(&["--target-dir", "/src/app/target/rust-analyzer"]));
                    }
                    e
                })
                .collect()
        };
        for own_target in [false, true] {
            let sum = summarize(&waits("/b/debug/.cargo-lock", own_target), 0.0, 0);
            assert_eq!(sum.blocked[0].blocker_own_target_dir, own_target);
            let text = render(&sum, 86_400, Some(80));
            // Outside the project's target: a shared target dir or a configured build dir,
            // which the history cannot tell apart: the waiting build's words, unless the
            // blocker had a target dir of its own (then only the build dir was shared).
            let words = match own_target {
                true => "build directory",
                false => "artifact directory",
            };
            assert!(
                text.contains(&format!("(longest 40s) · {words} /b/debug\n")),
                "{text}"
            );
            assert!(
                text.contains("they share a build directory outside the project's target dir")
                    && text.contains("\"rust-analyzer.cargo.targetDir\": true,")
                    && text.contains(
                        "{ \"CARGO_BUILD_BUILD_DIR\": \"{workspace-root}/target/ra-build\" }"
                    ),
                "{text}"
            );
            for line in text.lines() {
                assert!(line.chars().count() <= 80, "{line:?}");
            }
        }
        let text = render(
            &summarize(&waits(BUILD_LOCK, false), 0.0, 0),
            86_400,
            Some(80),
        );
        assert!(!text.contains("CARGO_BUILD_BUILD_DIR"), "{text}");
    }

    #[test]
    fn another_user_s_blocker_is_named_as_theirs() {
        let mut e = ide_blocked_terminal(100.0, 40.0, BUILD_LOCK);
        if let HistoryEvent::WaitEnded { blocker, .. } = &mut e {
            blocker.user = Some("bob".into());
        }
        let sum = summarize(&[e], 0.0, 0);
        assert_eq!(sum.blocked[0].blocker, "rust-analyzer (bob's)");
        // A script groups by user without reading the label.
        let json = serde_json::to_value(&sum.blocked[0]).unwrap();
        assert_eq!(json["blocker_user"], "bob");
        let mine = summarize(&[ide_blocked_terminal(100.0, 40.0, BUILD_LOCK)], 0.0, 0);
        assert!(
            serde_json::to_value(&mine.blocked[0])
                .unwrap()
                .get("blocker_user")
                .is_none()
        );
    }

    /// Another user's IDE is not yours: its waits are not counted under your IDE of the same
    /// name, nor advised on (review 14, C6).
    #[test]
    fn another_user_s_ide_waits_are_not_counted_under_yours() {
        let bob_s = |at: f64| {
            let mut e = ide_blocked_terminal(at, 40.0, BUILD_LOCK);
            if let HistoryEvent::WaitEnded { blocker, .. } = &mut e {
                blocker.user = Some("bob".into());
            }
            e
        };
        let events = [
            ide_blocked_terminal(100.0, 40.0, BUILD_LOCK),
            bob_s(200.0),
            bob_s(300.0),
        ];
        let sum = summarize(&events, 0.0, 0);
        let ides = ide_over_terminal(&sum);
        let counted: Vec<(Option<&str>, u32)> = (ides.iter())
            .map(|w| (w.user.as_deref(), w.build.0))
            .collect();
        assert_eq!(counted, [(Some("bob"), 2), (None, 1)]);
        assert!(sum.advice.is_empty(), "{:#?}", sum.advice);
    }

    /// An IDE is known by the name it ran under, never read back out of a row's label: a
    /// name with "'s " in it is whole (review 14, C6).
    #[test]
    fn an_ide_is_known_by_its_name_not_by_its_row_s_label() {
        let metadata = |at: f64| {
            let mut e = ide_blocked_terminal(at, 40.0, BUILD_LOCK);
            if let HistoryEvent::WaitEnded {
                blocker,
                blocked_by_cmd,
                ..
            } = &mut e
            {
                blocker.via = Some("Bob's IDE".into());
                *blocked_by_cmd = vec![s(&["cargo", "metadata"])];
            }
            e
        };
        let sum = summarize(&[metadata(100.0), metadata(200.0)], 0.0, 0);
        assert_eq!(sum.blocked[0].blocker, "Bob's IDE's cargo metadata");
        let json = serde_json::to_value(&sum.blocked[0]).unwrap();
        assert_eq!(json["blocker_via"], "Bob's IDE");
        let names: Vec<String> = (ide_over_terminal(&sum).into_iter())
            .map(|w| w.name)
            .collect();
        assert_eq!(names, ["Bob's IDE"]);
        assert!(
            sum.advice[0].text.starts_with("Bob's IDE's checks blocked"),
            "{:#?}",
            sum.advice
        );
    }

    #[test]
    fn advice_already_followed_is_not_given() {
        let events: Vec<HistoryEvent> = (0..3)
            .map(|i| ide_blocked_terminal(100.0 + f64::from(i), 40.0, BUILD_LOCK))
            .collect();
        let mut sum = summarize(&events, 0.0, 0);
        let mut config = crate::config::Config::defaults();
        config.policy.yield_ide = true;
        drop_taken_advice(&mut sum, &config);
        let topics: Vec<Topic> = sum.advice.iter().map(|a| a.topic).collect();
        assert_eq!(topics, [Topic::IdeTargetDir]);
    }

    #[test]
    fn ide_contention_on_the_package_cache_suggests_yielding_only() {
        let events: Vec<HistoryEvent> = (0..3)
            .map(|i| ide_blocked_terminal(100.0 + f64::from(i), 40.0, "/h/.package-cache"))
            .collect();
        let topics: Vec<Topic> = summarize(&events, 0.0, 0)
            .advice
            .iter()
            .map(|a| a.topic)
            .collect();
        assert_eq!(topics, [Topic::YieldIde], "a target dir does not help here");
    }

    /// rust-analyzer's `cargo metadata` (run when a project opens) is no check: `yield_ide`
    /// never stops it, so its waits get no advice to turn it on, and its row says what it
    /// was (review W, W1).
    #[test]
    fn an_ide_s_cargo_metadata_is_named_and_gets_no_yield_advice() {
        let metadata = |at: f64| {
            let mut e = ide_blocked_terminal(at, 120.0, "/h/.package-cache");
            if let HistoryEvent::WaitEnded { blocked_by_cmd, .. } = &mut e {
                *blocked_by_cmd = vec![s(&["cargo", "metadata", "--format-version", "1"])];
            }
            e
        };
        let sum = summarize(&[metadata(100.0), metadata(400.0)], 0.0, 0);
        assert_eq!(sum.blocked.len(), 1, "{:#?}", sum.blocked);
        let row = &sum.blocked[0];
        assert_eq!(row.blocker, "rust-analyzer's cargo metadata");
        assert!(!row.blocker_check);
        assert!(sum.advice.is_empty(), "{:#?}", sum.advice);
        // Its checks beside it are rust-analyzer's, and recurring, they get the advice.
        let mut events = vec![metadata(100.0)];
        events.extend(
            (0..3).map(|i| ide_blocked_terminal(200.0 + f64::from(i), 40.0, "/h/.package-cache")),
        );
        let sum = summarize(&events, 0.0, 0);
        let blockers: Vec<&str> = sum.blocked.iter().map(|r| r.blocker.as_str()).collect();
        assert_eq!(
            blockers,
            ["rust-analyzer", "rust-analyzer's cargo metadata"]
        );
        let advice: Vec<(Topic, &str)> = (sum.advice.iter())
            .map(|a| (a.topic, a.text.as_str()))
            .collect();
        assert!(
            matches!(advice[..], [(Topic::YieldIde, text)] if text.contains("behind rust-analyzer's check,")),
            "{advice:#?}"
        );
    }

    /// Builds of two projects that share a target dir and keep waiting for each other get
    /// advice naming both and the dir; once is no pattern (review P, R8).
    #[test]
    fn two_projects_waiting_for_each_other_in_a_shared_target_dir_get_advice() {
        let wait_on = |lock: &str, at: f64, waiter: &str, blocker: &str| {
            let mut e = ide_blocked_terminal(at, 20.0, lock);
            if let HistoryEvent::WaitEnded {
                party,
                blocker: b,
                blocked_by_cmd,
                ..
            } = &mut e
            {
                *party = super::tests::party(Origin::Terminal, "zsh", waiter);
                *b = super::tests::party(Origin::Terminal, "zsh", blocker);
                *blocked_by_cmd = vec![s(&["cargo", "build"])];
            }
            e
        };
        let wait = |at: f64, waiter: &str, blocker: &str| {
            wait_on("/shared/debug/.cargo-lock", at, waiter, blocker)
        };
        let once = summarize(&[wait(1.0, "/src/d", "/src/b")], 0.0, 0);
        assert!(
            !once
                .advice
                .iter()
                .any(|a| a.topic == Topic::SharedTargetDir),
            "{:?}",
            once.advice
        );
        let events = [
            wait(1.0, "/src/d", "/src/b"),
            wait(50.0, "/src/b", "/src/d"),
        ];
        let sum = summarize(&events, 0.0, 0);
        let advice = (sum.advice.iter())
            .find(|a| a.topic == Topic::SharedTargetDir)
            .unwrap_or_else(|| panic!("{:#?}", sum.advice));
        assert!(
            advice.text.starts_with(
                "/src/b and /src/d build in the same directory /shared and waited for each other \
                 there twice, 40s in all."
            ),
            "{}",
            advice.text
        );
        assert!(advice.text.contains("build.target-dir"), "{}", advice.text);
        let json = serde_json::to_value(&sum).unwrap();
        assert_eq!(json["advice"][0]["topic"], "shared-target-dir");
        // Installs waiting for one install root's `.crates.toml`: no target dir to give each
        // its own of (review X, X9).
        let installs = [
            wait_on("/iroot/.crates.toml", 1.0, "/src/d", "/src/b"),
            wait_on("/iroot/.crates.toml", 50.0, "/src/b", "/src/d"),
        ];
        let sum = summarize(&installs, 0.0, 0);
        assert!(
            !sum.advice.iter().any(|a| a.topic == Topic::SharedTargetDir),
            "{:#?}",
            sum.advice
        );
    }

    #[test]
    fn a_leftover_process_and_a_nested_cargo_deadlock_get_advice_naming_their_projects() {
        let on = |at: f64, pid: u32, reason: StaleReason, path: &str| HistoryEvent::Stale {
            at,
            path: path.into(),
            holder: id(pid),
            name: "cargo".into(),
            reasons: vec![reason],
            blocked: vec![],
            left_by: None,
            cycle: false,
            git: None,
            net: None,
        };
        // The projects are found by their manifests.
        let tmp = tempfile::tempdir().unwrap();
        let (app, outer) = (tmp.path().join("app"), tmp.path().join("outer"));
        for p in [&app, &outer] {
            std::fs::create_dir_all(p.join("target/debug")).unwrap();
            std::fs::write(p.join("Cargo.toml"), "[package]\n").unwrap();
        }
        let lock = |p: &PathBuf| p.join("target/debug/.cargo-lock").display().to_string();
        let (app_lock, outer_lock) = (lock(&app), lock(&outer));
        let events = vec![
            on(1.0, 7, StaleReason::PipeHeldOpen, &app_lock),
            on(2.0, 7, StaleReason::PipeHeldOpen, &app_lock),
            on(3.0, 8, StaleReason::PipeHeldOpen, &app_lock),
            on(4.0, 9, StaleReason::Deadlock, &outer_lock),
        ];
        let mut nested_wait = ide_blocked_terminal(5.0, 4.0, &outer_lock);
        if let HistoryEvent::WaitEnded { blocked_by, .. } = &mut nested_wait {
            *blocked_by = vec![("cargo".into(), 9)];
        }
        let events = [events, vec![nested_wait]].concat();
        let sum = summarize(&events, 0.0, 0);
        assert_eq!((sum.leftover_processes, sum.nested_deadlocks), (2, 1));
        // The nested cargo's wait is a wait, not a row of who blocked whom (review P, R9).
        assert_eq!((sum.waits, sum.blocked.len()), (1, 0), "{:#?}", sum.blocked);
        let topics: Vec<Topic> = sum.advice.iter().map(|a| a.topic).collect();
        assert_eq!(topics, [Topic::LeftoverProcess, Topic::NestedCargo]);
        let text = render(&sum, 3600, None);
        let text = text.replace('\n', " ");
        let expected = format!(
            "A build script left a process holding cargo's output open twice (in {})",
            app.display()
        );
        assert!(text.contains(&expected), "{text}");
        assert!(text.contains("Stdio::null()"), "{text}");
        let expected = format!(
            "nested cargo on the target dir its own build holds once (in {})",
            outer.display()
        );
        assert!(text.contains(&expected), "{text}");
        let json = serde_json::to_value(&sum).unwrap();
        assert_eq!(json["advice"][0]["topic"], "leftover-process");
        assert_eq!(json["advice"][1]["topic"], "nested-cargo");
    }

    /// A stall fetching a git repository gets the git advice: no "defaults keep it going for
    /// over 2 minutes" when nothing makes it give up (review X, X7).
    #[test]
    fn a_hung_git_fetch_gets_the_git_advice() {
        let fetch = |cli: bool| HistoryEvent::Stale {
            at: 1.0,
            path: "/h/.package-cache".into(),
            holder: id(if cli { 8 } else { 7 }),
            name: "cargo".into(),
            reasons: vec![StaleReason::NetworkSilent],
            blocked: vec![("cargo".into(), 99)],
            left_by: None,
            cycle: false,
            git: Some(GitFetch {
                url: "http://127.0.0.1:9/x.git".into(),
                with_git_cli: cli,
            }),
            net: None,
        };
        let sum = summarize(&[fetch(false)], 0.0, 0);
        assert_eq!(sum.network_stalls, 1);
        let text = &sum.advice[0].text;
        assert!(
            text.starts_with(
                "A cargo others waited for hung fetching git repository \
                 http://127.0.0.1:9/x.git once"
            ),
            "{text}"
        );
        assert!(
            text.contains("without `http.timeout` it sets no timeout"),
            "{text}"
        );
        assert!(!text.contains("over 2 minutes"), "{text}");
        let sum = summarize(&[fetch(true)], 0.0, 0);
        assert!(
            sum.advice[0].text.contains("http.lowSpeedLimit"),
            "{:?}",
            sum.advice
        );
    }

    /// The review's stalls: a git fetch run with `CARGO_HTTP_TIMEOUT=90 CARGO_NET_RETRY=0` is
    /// counted and worded as a git fetch, a registry's with `CARGO_HTTP_TIMEOUT=45` is told its
    /// settings, neither "its defaults" (review AB, AB1).
    #[test]
    fn a_git_fetch_a_timeout_ends_is_a_git_fetch_told_its_own_settings() {
        let own = |timeout_secs: f64, retry: u32| NetSettings {
            timeout_secs,
            retry,
            timeout_set: true,
            ..NetSettings::default()
        };
        let stall = |pid: u32, home: &str, git: Option<GitFetch>, net: Option<NetSettings>| {
            HistoryEvent::Stale {
                at: 1.0,
                path: format!("{home}/.package-cache").into(),
                holder: id(pid),
                name: "cargo".into(),
                reasons: vec![StaleReason::NetworkSilent],
                blocked: vec![("cargo".into(), 99)],
                left_by: None,
                cycle: false,
                git,
                net,
            }
        };
        let fetch = GitFetch {
            url: "http://127.0.0.1:19501/x.git".into(),
            with_git_cli: false,
        };
        let events = [
            stall(7, "/h8", Some(fetch.clone()), Some(own(90.0, 0))),
            stall(8, "/h2", None, Some(own(45.0, 3))),
        ];
        let sum = summarize(&events, 0.0, 0);
        assert_eq!(sum.network_stalls, 2);
        assert_eq!(sum.network_git_fetches, std::slice::from_ref(&fetch));
        assert_eq!(
            sum.advice[0].text,
            "A cargo others waited for hung on the network once (nothing arrived for a long \
             while, across its retries). Make Cargo give up sooner instead of holding the \
             package cache: it ran with http.timeout 45 s and net.retry 3, which keep a request \
             nobody answers going for about 3m12s; with http.timeout 10 s and net.retry 1, \
             about 21s. In /h2/config.toml:\n\
             \x20 [http]\n\x20 timeout = 10\n\x20 [net]\n\x20 retry = 1\n\
             or for one run: CARGO_HTTP_TIMEOUT=10 CARGO_NET_RETRY=1 cargo … (a \
             `CARGO_HTTP_TIMEOUT` or `CARGO_NET_RETRY` in its environment wins over the config)\n\
             A cargo others waited for hung fetching git repository http://127.0.0.1:19501/x.git \
             once (nothing arrived for a long while, across its retries). Make Cargo give up \
             sooner on a git server that sends nothing instead of holding the package cache: it \
             ran with http.timeout 90 s and net.retry 0, which keep a request nobody answers \
             going for about 1m30s; with http.timeout 10 s, about 10s. In /h8/config.toml:\n\
             \x20 [http]\n\x20 timeout = 10\n\
             or for one run: CARGO_HTTP_TIMEOUT=10 cargo … (a `CARGO_HTTP_TIMEOUT` in its \
             environment wins over the config)"
        );
        let json = serde_json::to_value(&sum).unwrap();
        assert_eq!(
            json["network_git_fetches"],
            serde_json::json!([{"url": "http://127.0.0.1:19501/x.git", "with_git_cli": false}])
        );
        // Without a timeout (a line of before review AB names only these), for ever.
        let sum = summarize(&[stall(7, "/h8", Some(fetch.clone()), None)], 0.0, 0);
        assert!(
            sum.advice[0].text.contains("it would have waited for ever"),
            "{}",
            sum.advice[0].text
        );
        // Settings that end it in 10 s already: nothing to set lower.
        let sum = summarize(&[stall(7, "/h8", Some(fetch), Some(own(10.0, 0)))], 0.0, 0);
        assert_eq!(
            sum.advice[0].text,
            "A cargo others waited for hung fetching git repository http://127.0.0.1:19501/x.git \
             once (nothing arrived for a long while, across its retries). It ran with \
             http.timeout 10 s and net.retry 0, which end a request nobody answers in about \
             10s: nothing to set lower; if it happens often, check the network (a proxy, a VPN, \
             the mirror) or the server."
        );
    }

    /// The settings advice says what the cargo had: its defaults, settings never read (said as
    /// Cargo's defaults, not its own), or git's low-speed time from its environment (review AB,
    /// AB1).
    #[test]
    fn the_network_advice_says_what_the_cargo_had() {
        let homes = [PathBuf::from("/h")];
        let defaults = NetSettings::default();
        assert_eq!(
            network_advice(&homes, None, Some(&defaults)).as_deref(),
            Some(
                "Make Cargo give up sooner instead of holding the package cache: its defaults \
                 (http.timeout 30 s per try, net.retry 3) keep a request nobody answers going \
                 for over 2 minutes; with these, about 20 s. In /h/config.toml:\n\
                 \x20 [http]\n\x20 timeout = 10\n\x20 [net]\n\x20 retry = 1\n\
                 or for one run: CARGO_HTTP_TIMEOUT=10 CARGO_NET_RETRY=1 cargo …"
            )
        );
        let unknown = network_advice(&homes, None, None).expect("advice");
        assert!(
            unknown.starts_with(
                "Make Cargo give up sooner instead of holding the package cache: Cargo's \
                 defaults (http.timeout 30 s per try, net.retry 3), unless its config or \
                 environment says otherwise, keep a request nobody answers going for over 2 \
                 minutes;"
            ),
            "{unknown}"
        );
        // Only what is above the advised values is lowered.
        let short_tries = NetSettings {
            timeout_secs: 4.0,
            timeout_set: true,
            ..defaults
        };
        let text = network_advice(&homes, None, Some(&short_tries)).expect("advice");
        assert!(
            text.contains(
                "it ran with http.timeout 4 s and net.retry 3, which keep a request nobody \
                 answers going for about 28s; with net.retry 1, about 9s. In /h/config.toml:\n\
                 \x20 [net]\n\x20 retry = 1\n\
                 or for one run: CARGO_NET_RETRY=1 cargo …"
            ),
            "{text}"
        );
        // git's fetch with git's low-speed time in its environment.
        let by_git = GitFetch {
            url: "http://127.0.0.1:9/x.git".into(),
            with_git_cli: true,
        };
        let low_speed = NetSettings {
            git_low_speed_secs: Some(60.0),
            ..defaults
        };
        assert_eq!(
            network_advice(&homes, Some(&by_git), Some(&low_speed)).as_deref(),
            Some(
                "Make git give up sooner on a server that sends nothing instead of holding the \
                 package cache: it ran with git's http.lowSpeedTime 60 s and net.retry 3, which \
                 keep a request nobody answers going for about 4m12s; with git's \
                 http.lowSpeedTime 20 s and net.retry 1, about 41s. Its environment sets git's \
                 time (`GIT_HTTP_LOW_SPEED_TIME`), which wins over git's config: run it with \
                 GIT_HTTP_LOW_SPEED_LIMIT=1000 GIT_HTTP_LOW_SPEED_TIME=20 CARGO_NET_RETRY=1 \
                 cargo …"
            )
        );
        // Without it, git's fetch never gives up: the git advice.
        let endless = network_advice(&homes, Some(&by_git), Some(&defaults)).expect("advice");
        assert!(
            endless.contains("which by default waits for ever"),
            "{endless}"
        );
    }

    /// Several IDEs and watchers yielding: each said with when it runs its check again (review
    /// 15, D12).
    #[test]
    fn each_yielding_ide_says_when_it_checks_again() {
        let waits = |name: &str| IdeWaits {
            name: name.into(),
            user: None,
            build: (0, 0.0),
            checks: (3, 90.0),
            shares_outside: false,
            build_projects: Default::default(),
        };
        let advice = yield_ide_advice(&[waits("rust-analyzer"), waits("watch")]).expect("advice");
        assert!(
            advice.text.ends_with(
                "rust-analyzer runs it again on the next save, watch runs it again at its \
                 next interval."
            ),
            "{}",
            advice.text
        );
    }

    /// A registry stall and a git one in two Cargo homes: each piece of advice names only the
    /// home of its own stall (review AA, AA4).
    #[test]
    fn each_network_advice_names_the_homes_of_its_own_stalls() {
        let stall = |pid: u32, home: &str, git: Option<GitFetch>| HistoryEvent::Stale {
            at: 1.0,
            path: format!("{home}/.package-cache").into(),
            holder: id(pid),
            name: "cargo".into(),
            reasons: vec![StaleReason::NetworkSilent],
            blocked: vec![("cargo".into(), 99)],
            left_by: None,
            cycle: false,
            git,
            net: None,
        };
        let git = GitFetch {
            url: "http://127.0.0.1:9/x.git".into(),
            with_git_cli: true,
        };
        let sum = summarize(&[stall(7, "/ha", None), stall(8, "/hb", Some(git))], 0.0, 0);
        let text = &sum.advice[0].text;
        let (registry, git) = text.split_once("hung fetching git").expect("both parts");
        assert!(
            registry.contains("/ha/config.toml") && !registry.contains("/hb"),
            "{text}"
        );
        assert!(
            git.contains("/hb/config.toml") && !git.contains("/ha"),
            "{text}"
        );
    }

    /// Two cargos that waited for each other's per-unit locks: a cycle, not a build script's
    /// nested cargo; no nested-cargo advice (review Y, Y11).
    #[test]
    fn a_wait_cycle_is_not_a_nested_cargo() {
        let unit_lock = "/nowhere/ws/target/debug/build/na/59553f4465d78fef/.lock";
        let cycle = HistoryEvent::Stale {
            at: 1.0,
            path: unit_lock.into(),
            holder: id(12043),
            name: "cargo".into(),
            reasons: vec![StaleReason::Deadlock],
            blocked: vec![("cargo".into(), 11940)],
            left_by: None,
            cycle: true,
            git: None,
            net: None,
        };
        let sum = summarize(&[cycle], 0.0, 0);
        assert_eq!((sum.nested_deadlocks, sum.lock_cycles), (0, 1));
        assert!(sum.cycle_on_unit_locks);
        let topics: Vec<Topic> = sum.advice.iter().map(|a| a.topic).collect();
        assert_eq!(topics, [Topic::LockCycle]);
        let text = &sum.advice[0].text;
        assert!(
            text.starts_with("Cargos deadlocked on each other's locks once:"),
            "{text}"
        );
        assert!(text.contains("`-Zfine-grain-locking`"), "{text}");
        let json = serde_json::to_value(&sum).unwrap();
        assert_eq!(json["advice"][0]["topic"], "lock-cycle");
    }

    /// A dependency's build script left it: the package is named and the fix sent upstream,
    /// not to the user's own build script (review X, X8).
    #[test]
    fn a_leftover_from_a_dependency_s_build_script_is_fixed_upstream() {
        let stale = |pid: u32, left_by: LeftBy| HistoryEvent::Stale {
            at: 1.0,
            path: "/nowhere/p/target/debug/.cargo-lock".into(),
            holder: id(pid),
            name: "cargo".into(),
            reasons: vec![StaleReason::PipeHeldOpen],
            blocked: vec![],
            left_by: Some(left_by),
            cycle: false,
            git: None,
            net: None,
        };
        let gdep = LeftBy::from_env("gdep", "/h/git/checkouts/gdep-1a2b/33b173c", &[]);
        let sum = summarize(&[stale(7, gdep.clone())], 0.0, 0);
        assert_eq!(sum.leftover_packages, [gdep]);
        let text = sum.advice[0].text.replace('\n', " ");
        assert!(
            text.starts_with(
                "The build script of gdep, a git dependency, left a process holding cargo's \
                 output open once: cargo waits for it to close"
            ),
            "{text}"
        );
        assert!(
            text.contains("The fix is in the build script of gdep (report it upstream"),
            "{text}"
        );
        // One's own package: the build script to fix is the user's.
        let own = LeftBy::from_env("app", "/src/app", &[]);
        let sum = summarize(&[stale(8, own)], 0.0, 0);
        let text = &sum.advice[0].text;
        assert!(
            text.starts_with("The build script of app left a process"),
            "{text}"
        );
        assert!(text.contains("The build script should start it"), "{text}");
        let mut by_rustc = LeftBy::from_env("gdep", "/h/git/checkouts/gdep-1a2b/33b173c", &[]);
        by_rustc.build_script = false;
        assert_eq!(by_rustc.words(), "the build of gdep, a git dependency");
        let from = LeftBy::from_env(
            "itoa",
            "/h/registry/src/index.crates.io-1949cf8c6b5b557f/x-1.0.0",
            &[],
        );
        assert_eq!(
            from.words(),
            "the build script of itoa, a registry dependency"
        );
        // With the Cargo home known, a project of one's own under a `registry/src` is one's
        // own (review 15, D9).
        let homes = [PathBuf::from("/h")];
        let own = LeftBy::from_env("mine", "/work/registry/src/mine", &homes);
        assert_eq!(own.words(), "the build script of mine");
        let dep = LeftBy::from_env("itoa", "/h/registry/src/i/itoa-1.0.0", &homes);
        assert!(dep.is_dependency());
    }

    #[test]
    fn a_file_watcher_s_checks_are_advised_a_target_dir_of_their_own() {
        let events: Vec<HistoryEvent> = (0..3)
            .map(|i| {
                let mut e = ide_blocked_terminal(100.0 + f64::from(i), 15.0, BUILD_LOCK);
                if let HistoryEvent::WaitEnded { blocker, .. } = &mut e {
                    blocker.via = Some("bacon".into());
                }
                e
            })
            .collect();
        let sum = summarize(&events, 0.0, 0);
        let text = render(&sum, 86_400, None);
        assert!(
            text.contains("bacon (file watcher) blocked your terminal builds"),
            "{text}"
        );
        assert!(
            text.contains("CARGO_TARGET_DIR=target/bacon CARGO_BUILD_BUILD_DIR=target/bacon bacon"),
            "{text}"
        );
        assert!(!text.contains("rust-analyzer.cargo.targetDir"), "{text}");
        assert!(text.contains("yield_ide = true"), "{text}");

        // Beside rust-analyzer's own waits, each gets its advice with its own counts.
        let mut both = events.clone();
        both.extend((0..2).map(|i| ide_blocked_terminal(200.0 + f64::from(i), 20.0, BUILD_LOCK)));
        let sum = summarize(&both, 0.0, 0);
        let text = render(&sum, 86_400, None);
        assert!(
            text.contains("bacon's checks blocked your terminal builds 3 times (45s in all)"),
            "{text}"
        );
        assert!(
            text.contains("rust-analyzer's checks blocked your terminal builds twice (40s in all)"),
            "{text}"
        );
        assert!(
            text.contains("\"rust-analyzer.cargo.targetDir\": true"),
            "{text}"
        );
        assert!(
            text.contains("behind bacon's or rust-analyzer's check"),
            "{text}"
        );
    }

    /// A watcher's checks that waited are named by the watcher, not "your editor's checks"
    /// (review Z, Z8).
    #[test]
    fn a_watcher_s_waiting_checks_are_named_by_it() {
        let party = |via: &str| Party {
            origin: Some(Origin::Ide),
            via: Some(via.into()),
            ..Party::default()
        };
        let cmd = ["cargo", "check"].map(String::from);
        let label = |via: &str| waiter_label(&party(via), &cmd, &"cargo".into());
        assert_eq!(label("watch"), "your watch checks");
        assert_eq!(label("rust-analyzer"), "your editor's checks");
    }

    #[test]
    fn checks_watch_1_reruns_are_advised_as_a_file_watcher_s() {
        // `watch -n 2 cargo check` blocking terminal builds (review Y, Y2).
        let events: Vec<HistoryEvent> = (0..3)
            .map(|i| {
                let mut e = ide_blocked_terminal(100.0 + f64::from(i), 15.0, BUILD_LOCK);
                if let HistoryEvent::WaitEnded { blocker, .. } = &mut e {
                    blocker.via = Some("watch".into());
                }
                e
            })
            .collect();
        let text = render(&summarize(&events, 0.0, 0), 86_400, None);
        assert!(
            text.contains("watch (file watcher) blocked your terminal builds"),
            "{text}"
        );
        assert!(
            text.contains(
                "CARGO_TARGET_DIR=target/watch CARGO_BUILD_BUILD_DIR=target/watch watch …"
            ),
            "{text}"
        );
        assert!(
            text.contains("the check; watch runs it again at its next interval."),
            "{text}"
        );
    }

    #[test]
    fn advice_summing_several_projects_says_so() {
        // Each history row is one project's; the advice adds them up (review Q, S8).
        let mut events = vec![ide_blocked_terminal(100.0, 20.0, BUILD_LOCK)];
        events.push(ide_blocked_terminal(110.0, 25.0, BUILD_LOCK));
        let mut other = ide_blocked_terminal(120.0, 30.0, "/src/lib/target/debug/.cargo-lock");
        if let HistoryEvent::WaitEnded {
            party: waiter,
            blocker,
            ..
        } = &mut other
        {
            *waiter = party(Origin::Terminal, "zsh", "/src/lib");
            *blocker = party(Origin::Ide, "rust-analyzer", "/src/lib");
        }
        events.push(other);
        let text = render(&summarize(&events, 0.0, 0), 86_400, None);
        assert!(
            text.contains("blocked your terminal builds 3 times (1m15s in all, across 2 projects)"),
            "{text}"
        );
        let one = render(&summarize(&events[..2], 0.0, 0), 86_400, None);
        assert!(one.contains("twice (45s in all):"), "{one}");
    }

    #[test]
    fn a_target_dir_shared_by_projects_names_the_blocker_s_project_and_the_dir() {
        // CARGO_TARGET_DIR=/t for both: a build of /src/lib held it, one of /src/app waited.
        let mut e = ide_blocked_terminal(100.0, 30.0, "/t/debug/.cargo-lock");
        if let HistoryEvent::WaitEnded {
            blocker,
            blocked_by_cmd,
            ..
        } = &mut e
        {
            *blocker = party(Origin::Terminal, "bash", "/src/lib");
            *blocked_by_cmd = vec![s(&["cargo", "build"])];
        }
        let sum = summarize(&[e], 0.0, 0);
        let row = &sum.blocked[0];
        assert_eq!(
            row.blocker_project.as_deref(),
            Some(std::path::Path::new("/src/lib"))
        );
        let text = render(&sum, 86_400, None);
        assert!(
            text.contains(
                "cargo build (terminal) in /src/lib blocked your terminal builds in /src/app\n      \
                 once, 30s in all (longest 30s) · artifact directory /t/debug"
            ),
            "{text}"
        );
    }

    /// A project's waits for its own builds and for another project's in a shared target dir
    /// are two rows, and the shared dir is advised on whatever came first (review T, T3).
    #[test]
    fn waits_for_a_shared_target_dir_keep_their_row_beside_the_project_s_own() {
        let terminal_build = |at: f64, lock: &str, blocker_project: &str| {
            let mut e = ide_blocked_terminal(at, 12.0, lock);
            if let HistoryEvent::WaitEnded {
                blocker,
                blocked_by_cmd,
                ..
            } = &mut e
            {
                *blocker = party(Origin::Terminal, "bash", blocker_project);
                *blocked_by_cmd = vec![s(&["cargo", "build"])];
            }
            e
        };
        let mut events: Vec<HistoryEvent> = (0..3)
            .map(|i| terminal_build(100.0 + f64::from(i), BUILD_LOCK, "/src/app"))
            .collect();
        events.extend(
            (0..4)
                .map(|i| terminal_build(200.0 + f64::from(i), "/t/debug/.cargo-lock", "/src/lib")),
        );
        let sum = summarize(&events, 0.0, 0);
        assert_eq!(sum.blocked.len(), 2, "{:#?}", sum.blocked);
        let text = render(&sum, 86_400, None);
        assert!(
            text.contains(
                "cargo build (terminal) in /src/lib blocked your terminal builds in /src/app"
            ),
            "{text}"
        );
        let json = serde_json::to_value(&sum).unwrap();
        let topics: Vec<&str> = (json["advice"].as_array().into_iter().flatten())
            .filter_map(|a| a["topic"].as_str())
            .collect();
        assert!(topics.contains(&"shared-target-dir"), "{topics:?}\n{text}");
    }

    /// A row about another Cargo home's package cache names that home; the reader's own is
    /// just "package cache" (review N, P5).
    #[test]
    fn another_home_s_package_cache_is_named_in_its_row() {
        let wait = |home: &str| {
            let mut e = ide_blocked_terminal(100.0, 30.0, &format!("{home}/.package-cache"));
            if let HistoryEvent::WaitEnded {
                blocked_by_cmd,
                blocker,
                ..
            } = &mut e
                && home == "/h2"
            {
                // Another blocker: a row of its own.
                *blocked_by_cmd = vec![s(&["cargo", "fetch"])];
                *blocker = party(Origin::Terminal, "zsh", "/src/app");
            }
            e
        };
        let mut sum = summarize(&[wait("/h"), wait("/h2")], 0.0, 0);
        sum.reader_home = Some("/h".into());
        let text = render(&sum, 3600, None);
        assert!(text.contains("· package cache of /h2"), "{text}");
        // In the words the waiter printed: `cargo clean gc` asked for the mutation lock
        // exclusively (review W, W10).
        let mut gc = ide_blocked_terminal(100.0, 30.0, "/h2/.package-cache-mutate");
        if let HistoryEvent::WaitEnded {
            lock_description, ..
        } = &mut gc
        {
            *lock_description = "package cache mutation".into();
        }
        let mut gc_sum = summarize(&[gc], 0.0, 0);
        gc_sum.reader_home = Some("/h".into());
        let gc_text = render(&gc_sum, 3600, None);
        assert!(
            gc_text.contains("· package cache mutation of /h2\n"),
            "{gc_text}"
        );
        assert!(text.contains("· package cache\n"), "{text}");
        sum.reader_home = None;
        assert!(!render(&sum, 3600, None).contains("package cache of"));
        // The same blocker and waiters on two homes' caches: two rows, not one named after
        // the first home (review O, Q1).
        let same =
            |home: &str, at: f64| ide_blocked_terminal(at, 30.0, &format!("{home}/.package-cache"));
        let sum = summarize(&[same("/h", 100.0), same("/h2", 200.0)], 0.0, 0);
        assert_eq!(sum.blocked.len(), 2, "{:#?}", sum.blocked);
        assert!(sum.blocked.iter().all(|r| r.times == 1));
    }

    #[test]
    fn the_period_s_wait_total_counts_only_its_part_within_it_a_row_the_whole_wait() {
        // A 4-minute wait that ended 10 s into a 30-s period (review M, N3): the period's
        // total has its last 10 s, its row the whole wait that ended in it.
        let sum = summarize(
            &[ide_blocked_terminal(1_010.0, 240.0, BUILD_LOCK)],
            1_000.0,
            0,
        );
        assert_eq!(sum.waits, 1);
        assert_eq!(sum.total_wait_secs, 10.0);
        let row = &sum.blocked[0];
        assert_eq!((row.total_wait_secs, row.longest_wait_secs), (240.0, 240.0));
    }

    #[test]
    fn a_long_wait_elsewhere_does_not_silence_the_ide_advice() {
        let mut events: Vec<HistoryEvent> = (0..3)
            .map(|i| ide_blocked_terminal(100.0 + f64::from(i), 10.0, BUILD_LOCK))
            .collect();
        // A build in another project waited 10 minutes behind a hung registry.
        let mut hung = ide_blocked_terminal(700.0, 600.0, "/h/.package-cache");
        if let HistoryEvent::WaitEnded { blocker, party, .. } = &mut hung {
            *blocker = party.clone();
            *party = Party::default();
        }
        events.push(hung);
        let sum = summarize(&events, 0.0, 0);
        assert!(sum.total_wait_secs > 600.0);
        let topics: Vec<Topic> = sum.advice.iter().map(|a| a.topic).collect();
        assert!(topics.contains(&Topic::IdeTargetDir), "{topics:?}");
    }

    #[test]
    fn nightly_per_unit_locks_are_not_counted_as_holds() {
        let hold = |path: &str, kind: LockKind, at: f64| {
            let acquired = HistoryEvent::Acquired {
                at,
                path: path.into(),
                kind,
                dev: 1,
                ino: at as u64,
                holder: id(10),
                name: "cargo".into(),
                cmd: s(&["cargo", "build", "-Zfine-grain-locking"]),
                mode: crate::core::model::LockMode::Exclusive,
                since_known: true,
                party: Party::default(),
            };
            let released = HistoryEvent::Released {
                network_silent_secs: None,
                at: at + 50.0,
                path: path.into(),
                ino: at as u64,
                holder: id(10),
                name: "cargo".into(),
                held_secs: 50.0,
                cmd: vec![],
                since_known: true,
                party: Party::default(),
            };
            [acquired, released]
        };
        let mut events: Vec<HistoryEvent> = hold(
            "/src/app/target/debug/.cargo-build-lock",
            LockKind::BuildDirectory,
            100.0,
        )
        .into();
        for i in 0..18 {
            let unit = format!("/src/app/target/debug/build/c{i}/0123456789abcdef/.lock");
            events.extend(hold(&unit, LockKind::UnitBuild, 101.0 + f64::from(i)));
        }
        // The same run's artifact lock is no second hold either.
        events.extend(hold(
            "/src/app/target/debug/.cargo-artifact-lock",
            LockKind::ArtifactDirectory,
            100.5,
        ));
        let sum = summarize(&events, 0.0, 0);
        assert_eq!(sum.holds, 1, "one cargo run");
        assert_eq!(sum.total_held_secs, 100.0);
        // Seen from a period that began half-way through them, only that half is held in it.
        let sum = summarize(&events, 125.0, 0);
        assert_eq!(sum.total_held_secs, 25.0 + 25.5);
        assert_eq!(sum.longest_hold.map(|(_, secs, _)| secs), Some(50.0));
    }

    #[test]
    fn rare_or_minor_contention_gives_no_advice() {
        let once = vec![ide_blocked_terminal(1.0, 500.0, BUILD_LOCK)];
        assert!(summarize(&once, 0.0, 0).advice.is_empty());
        let short: Vec<_> = (0..5)
            .map(|i| ide_blocked_terminal(f64::from(i), 2.0, BUILD_LOCK))
            .collect();
        assert!(summarize(&short, 0.0, 0).advice.is_empty());
    }

    #[test]
    fn stale_blockers_count_once_and_hung_networks_get_timeout_advice() {
        let events = vec![
            network_stale(1.0, 7, "/h", &[12]),
            stale(2.0, 7, vec![StaleReason::NetworkSilent, StaleReason::Idle]),
            stale(3.0, 8, vec![StaleReason::Stopped]),
        ];
        let sum = summarize(&events, 0.0, 0);
        assert_eq!((sum.stale, sum.network_stalls, sum.suspended), (2, 1, 1));
        let text = render(&sum, 3600, None);
        assert!(text.starts_with("Last hour:"), "{text}");
        assert!(text.contains("2 stale"), "{text}");
        assert!(
            text.contains("Stale: cargo ×2 (network silent, stopped)"),
            "the blockers are named, with why: {text}"
        );
        // Settings that change something (30 s is Cargo's default timeout), in the config of
        // the Cargo home whose lock was held.
        assert!(
            text.contains("timeout = 10")
                && text.contains("CARGO_HTTP_TIMEOUT=10 CARGO_NET_RETRY=1"),
            "{text}"
        );
        assert!(!text.contains("timeout = 30"), "{text}");
        assert!(text.contains("In /h/config.toml:"), "{text}");
        assert_eq!(sum.network_cargo_homes, vec![PathBuf::from("/h")]);
        assert!(text.contains("`cargo lockwatch resume`"), "{text}");
    }

    #[test]
    fn a_cargo_that_gave_up_on_the_network_before_looking_stale_is_a_network_stall() {
        // Cargo with its defaults gives up after about 2m10s, near the stale verdict (review
        // L, M9): a hold that ended after a minute of silence counts; a short one does not.
        let events = vec![
            waited_for_cache(100.0, "/h", 7),
            waited_for_cache(101.0, "/h", 8),
            waited_for_cache(102.0, "/h", 9),
            network_released(7, "/h", Some(125.0)),
            network_released(8, "/h", Some(20.0)),
            network_released(9, "/h", None),
        ];
        let sum = summarize(&events, 0.0, 0);
        assert_eq!((sum.stale, sum.network_stalls), (0, 1));
        assert_eq!(sum.network_cargo_homes, vec![PathBuf::from("/h")]);
        let text = render(&sum, 3600, None);
        assert!(
            text.contains("A cargo others waited for hung on the network once")
                && text.contains("timeout = 10"),
            "{text}"
        );
        // Said stale too, it is one stall.
        let mut both = events.clone();
        both.push(stale(150.0, 7, vec![StaleReason::NetworkSilent]));
        assert_eq!(summarize(&both, 0.0, 0).network_stalls, 1);
    }

    #[test]
    fn a_network_stall_nobody_waited_for_gets_no_advice() {
        // Another session's cargo, of another Cargo home, hung with nobody waiting (review Y,
        // Y4): stale, but no reason to edit that home's config.
        let events = vec![
            network_stale(100.0, 20, "/tmp/lwx/home", &[]),
            network_released(21, "/tmp/lwx/home", Some(125.0)),
        ];
        let sum = summarize(&events, 0.0, 0);
        assert_eq!((sum.stale, sum.network_stalls), (1, 0));
        assert!(sum.network_cargo_homes.is_empty());
        assert!(sum.advice.is_empty(), "{:?}", sum.advice);
    }

    #[test]
    fn network_advice_names_the_cargo_homes_of_stalls_that_held_someone_up() {
        // Mine blocked my builds (said by its stale line, or by the waits behind it); the other
        // home's blocked nobody (review Y, Y4).
        let events = vec![
            network_stale(100.0, 20, "/tmp/lwx/home", &[]),
            network_stale(110.0, 30, "/tmp/ry/home", &[31]),
            waited_for_cache(120.0, "/tmp/ry/home2", 40),
            network_stale(130.0, 40, "/tmp/ry/home2", &[]),
        ];
        let sum = summarize(&events, 0.0, 0);
        assert_eq!((sum.stale, sum.network_stalls), (3, 2));
        assert_eq!(
            sum.network_cargo_homes,
            [
                PathBuf::from("/tmp/ry/home"),
                PathBuf::from("/tmp/ry/home2")
            ]
        );
        let text = render(&sum, 3600, None);
        assert!(
            text.contains("A cargo others waited for hung on the network twice"),
            "{text}"
        );
        assert!(
            text.contains("In each of /tmp/ry/home/config.toml, /tmp/ry/home2/config.toml:"),
            "{text}"
        );
        assert!(!text.contains("/tmp/lwx/home"), "{text}");
    }

    #[test]
    fn a_period_reaching_before_1970_is_the_whole_history() {
        let s = summarize(&[], 0.0, 0);
        assert!(render(&s, WHOLE_HISTORY, None).starts_with("Whole history: 0 holds"));
        assert!(render(&s, 86_400, None).starts_with("Last day: 0 holds"));
    }

    #[test]
    fn periods_read_as_words() {
        assert_eq!(period_words(86_400), "day");
        assert_eq!(period_words(7 * 86_400), "7 days");
        assert_eq!(period_words(3_600), "hour");
        assert_eq!(period_words(2 * 3_600), "2 hours");
        assert_eq!(period_words(90 * 60), "1h 30m");
        let since = |t: &str| humantime::parse_duration(t).unwrap().as_secs();
        assert_eq!(period_words(since("1y")), "year");
        assert_eq!(period_words(since("2y")), "2 years");
        assert_eq!(period_words(since("1M")), "month");
        assert_eq!(period_words(since("30d")), "30 days");
        // Spans of mixed units, as long as `--since 10000y` reaching back to 1970, are written
        // in short units like the rest (review P, R15).
        assert_eq!(period_words(since("1y 2d 5s")), "1y 2d 5s");
        assert_eq!(period_words(1_794_000_000), "56y 10mo 5d 11h 44m");
    }
}
