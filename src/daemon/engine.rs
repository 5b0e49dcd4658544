//! The daemon's loop: a probe pass when woken (file event, command) or when the poll falls due,
//! the policy fed with samples, and its effects performed — history appended, log lines written,
//! notifications handed to the notifier, the snapshot published to the UI and IPC subscribers.
//!
//! The daemon sleeps when nothing changes: file events (inotify on Linux, FSEvents and kqueue on
//! macOS) wake it for lock files and progress, a status request reads afresh, and processes are
//! sampled at the poll interval only while an incident is open (someone waits, or a blocker is
//! suspect). Otherwise a pass runs once per idle interval: the safety net for lock files nobody
//! listed, and enough samples of a quiet hold to see it go stale.
//!
//! History is never silently dropped: events that cannot be written (a full disk) are kept in a
//! bounded queue and retried every pass, and the failure is published in the snapshot, so
//! `status` and `doctor` say so. SIGHUP reloads the configuration in place.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::alarm::Alarm;
use super::history::{History, Rotation};
use super::known::{KnownLocks, WatchList};
use super::quick_check::{self, QuickCheck};
use super::watcher::{FsWatcher, PlatformWakes, Wake};
use crate::config::{Config, DaemonConfig, Loaded};
use crate::core::catalog;
use crate::core::eta::HoldTimes;
use crate::core::model::{FileKey, Report, Source};
use crate::core::policy::{
    self, BlockerSample, Effect, Event, HistoryEvent, HolderSample, LockSample, Party, ProcId,
    WaiterSample,
};
use crate::core::report::{self as core_report, Knowledge};
use crate::core::words;
use crate::core::yield_ide::{self, Yield};
use crate::kill::{KillReport, KillRequest};
use crate::probe::Probe;
use crate::scan::{self, WatchRoots};
use crate::ui::{UiSnapshot, WatchedProjects};

/// How often the list of known lock files is refreshed (a few `read_dir`s per watched project),
/// while nothing is held: reading a watched directory would wake the watcher for nothing. Only
/// by a scheduled pass, never by one a lock event or a client asked for, which then costs what
/// its locks cost however many projects are watched.
const KNOWN_REFRESH: Duration = Duration::from_secs(15);
/// Passes after a file event. Not at once: `open` precedes `flock` by a moment, the kernel
/// reports a `close` just before it drops the lock, and reading `/proc/locks` holds off every
/// `flock` on the machine while it runs (a pass started at once kept the lock it came to see
/// from being taken, and saw it free). A fifth of a millisecond later the lock has moved; the
/// later passes catch a slow one, and events in a burst share their passes.
const FOLLOW_UPS: [Duration; 3] = [
    Duration::from_micros(200),
    Duration::from_millis(15),
    Duration::from_millis(120),
];
/// Full passes after a cheap look saw a cargo start (macOS): by then it has usually taken its
/// locks, which a pass finds through its descriptors even where no look went this tick.
const CARGO_FOLLOW_UPS: [Duration; 2] = [Duration::from_millis(300), Duration::from_millis(1500)];
/// How long a yielding IDE check gets to let go after SIGTERM before it is reported as not.
const YIELD_GRACE: Duration = Duration::from_secs(5);
/// How often freed heap memory is handed back to the OS, at most.
const HEAP_TRIM_EVERY: Duration = Duration::from_secs(60);
/// How many lock files outside the known roots stay watched after their holds end.
const MAX_RECENT_LOCK_FILES: usize = 256;
/// History events kept in memory while the file cannot be written; past this the oldest go,
/// and how many is said.
pub const MAX_PENDING_HISTORY: usize = 10_000;

/// A finished kill and the requester waiting for its report.
type KillDone = (KillReport, oneshot::Sender<KillReport>);

/// Commands from IPC clients and the UI.
#[derive(Debug)]
pub enum Command {
    /// Terminate a blocker (or its culprit) and report.
    Kill(KillRequest, oneshot::Sender<KillReport>),
    /// Continue a stopped blocker and report.
    Resume(u32, Option<u64>, oneshot::Sender<KillReport>),
    /// Snooze notifications until (None: cancel).
    Snooze(Option<f64>),
    /// Pause or resume watching.
    Pause(bool),
    /// The login agent was installed or removed.
    SetLaunchAtLogin(bool),
    /// "Your build first" was turned on or off (already written to the config file).
    SetYieldIde(bool),
    /// A reloaded configuration (SIGHUP) and the roots it implies.
    Reload(Box<Loaded>, WatchRoots),
    /// Read afresh and publish, then answer (a status request: times and states are of now,
    /// not of the last pass).
    Refresh(oneshot::Sender<()>),
    /// Exit cleanly.
    Shutdown,
}

/// Decides on and shows notifications from the published snapshots (see `ui_bridge`).
pub trait Notifier: Send {
    /// Called with every published snapshot at Unix time `now`.
    fn snapshot(&mut self, snapshot: &UiSnapshot, now: f64);
    /// New settings after a config reload.
    fn reconfigure(&mut self, _config: &crate::config::NotifyConfig) {}
}

/// History events waiting to be written, and why they are waiting.
#[derive(Debug, Default)]
struct PendingHistory {
    events: VecDeque<HistoryEvent>,
    /// The last write error, while writes fail.
    failing: Option<String>,
    /// Events dropped because the queue was full.
    lost: u64,
    /// What to do about the write error, when it is not the usual (disk space, permissions).
    advice: Option<String>,
    /// Why the log cannot rotate (`history.1.jsonl` is not a regular file), while it cannot.
    unrotated: Option<String>,
}

/// When the loop's follow-up passes and next cheap look fall due (the next sample aside).
struct Due {
    /// Whether the probe is asked cheaply between passes.
    quick: bool,
    /// Passes due after file events, or after a cheap look saw a cargo start.
    follow_ups: Vec<tokio::time::Instant>,
    /// When the next cheap look is due.
    next_quick: tokio::time::Instant,
}

impl Due {
    /// When the loop is to wake next, with the next sample due at `next_sample`.
    fn deadline(&self, next_sample: tokio::time::Instant) -> tokio::time::Instant {
        let next_follow = self.follow_ups.iter().min().copied();
        let deadline = next_follow.map_or(next_sample, |f| f.min(next_sample));
        if self.quick {
            deadline.min(self.next_quick)
        } else {
            deadline
        }
    }

    /// Adds passes due each of `after` from `now`.
    fn follow_up(&mut self, after: &[Duration], now: tokio::time::Instant) {
        self.follow_ups.extend(after.iter().map(|d| now + *d));
    }
}

/// Everything the loop owns.
pub struct Engine {
    probe: Box<dyn Probe>,
    config: Config,
    /// The config file `config` was read from, as it was then (for `config`'s comparison).
    config_file: Option<crate::config::ConfigFile>,
    roots: WatchRoots,
    /// `roots.projects`, shared with every snapshot.
    watched_projects: WatchedProjects,
    policy: policy::State,
    history: History,
    notifier: Box<dyn Notifier>,
    log_lines: bool,
    paused: bool,
    snoozed_until: Option<f64>,
    launch_at_login: bool,
    /// Why the last pass could not read the locks (the view is the last pass that could).
    probe_failing: Option<String>,
    snapshot_tx: watch::Sender<UiSnapshot>,
    known: KnownLocks,
    /// The lock files the watcher was last given.
    watch_list: WatchList,
    /// Lock files seen held lately outside the known roots (other projects' build dirs), newest
    /// last: watched, so the next build there is seen the moment it opens its lock.
    recent: Vec<PathBuf>,
    /// When the known lock files were last listed (`None`: list them on the next pass).
    known_at: Option<std::time::Instant>,
    /// The roots' directories as last listed, read again only when they change.
    listings: crate::listing::Listings,
    /// Which directories hold a manifest (the project of each lock), forgotten whenever the
    /// known lock files are listed again.
    manifests: std::sync::Arc<crate::core::catalog::Manifests>,
    /// The network settings of each cargo waiting on a registry, read once in its life.
    net_settings: scan::PerProcess<Option<crate::core::netwait::NetSettings>>,
    /// The git dependencies of each network-waiting cargo's workspace, read once in its life
    /// (their servers' addresses are resolved by `crate::resolve`, which keeps them).
    git_sources: scan::PerProcess<Vec<String>>,
    /// The package whose build script started each leftover process, read once in its life.
    left_by: scan::PerProcess<Option<crate::core::model::LeftBy>>,
    /// The configured build dir of each cargo contending for a profile lock, read once.
    build_dirs: scan::PerProcess<Option<PathBuf>>,
    watcher: Option<FsWatcher>,
    platform_wakes: Option<PlatformWakes>,
    /// Whether the probe is asked cheaply between passes (its file events miss acquisitions:
    /// macOS), and which files it is asked about, how often.
    quick_enabled: bool,
    quick: QuickCheck,
    last_report: Option<Report>,
    pending: PendingHistory,
    limits: Option<watch::Sender<DaemonConfig>>,
    runtime_dir: Option<PathBuf>,
    hold_times: HoldTimes,
    /// Where kills run aside report back (set when the loop starts).
    done: Option<mpsc::UnboundedSender<KillDone>>,
    /// IDE checks stopped for a terminal build (never twice the same), and those in flight.
    yielded: HashSet<ProcId>,
    yielding: HashMap<u32, Yield>,
    /// When the last pass ran (the next sample is due a cadence later).
    last_pass: tokio::time::Instant,
    /// When freed heap memory was last handed back to the OS.
    last_trim: std::time::Instant,
    /// What the last pass knew beyond itself (hold times, network waits, stale verdicts):
    /// a kill or resume refused judges the blocker as the last report did.
    last_known: Knowledge,
}

/// Knobs that are not configuration.
pub struct EngineOptions {
    /// Print state changes as plain lines on stdout (headless).
    pub log_lines: bool,
    /// The login agent is installed (shown in the menu).
    pub launch_at_login: bool,
    /// Where the server's limits are published, so a reload reaches it.
    pub limits: Option<watch::Sender<DaemonConfig>>,
    /// The runtime directory, where the blockers named in the menu and notifications are
    /// noted for a later `kill PID` ([`crate::shown`]).
    pub runtime_dir: Option<PathBuf>,
    /// The config file the settings were read from, as it was then.
    pub config_file: Option<crate::config::ConfigFile>,
}

/// The policy state with the holds and waits still open in `history`, and the hold times it
/// records: read once, streamed, so a huge log costs no memory at start.
fn recover(history: &History, config: &Config) -> (policy::State, HoldTimes) {
    let mut policy = policy::State::new(config.stale.clone());
    let mut episodes = super::history::EpisodeTracker::default();
    let mut hold_times = HoldTimes::default();
    history.scan(|e| {
        episodes.add(&e);
        hold_times.add(&e);
    });
    let (holds, waits) = episodes.finish();
    policy::apply(&mut policy, Event::Recovered { holds, waits });
    (policy, hold_times)
}

/// What the menu shows before the first pass: no locks yet, not paused, the settings as given.
fn empty_snapshot(config: &Config, roots: &WatchRoots, opts: &EngineOptions) -> UiSnapshot {
    UiSnapshot {
        report: Report::empty(Source::Daemon, scan::now(), roots.cargo_homes.clone()),
        paused: false,
        snoozed_until: None,
        launch_at_login: opts.launch_at_login,
        yield_ide: config.policy.yield_ide,
        problems: Vec::new(),
        free_locks: None,
        watched_projects: None,
        config_file: opts.config_file.clone(),
    }
}

impl Engine {
    /// Builds the engine, recovering open holds from the history log.
    pub fn new(
        probe: Box<dyn Probe>,
        config: Config,
        roots: WatchRoots,
        history: History,
        notifier: Box<dyn Notifier>,
        opts: EngineOptions,
    ) -> (Engine, watch::Receiver<UiSnapshot>) {
        let (policy, hold_times) = recover(&history, &config);
        let empty = empty_snapshot(&config, &roots, &opts);
        let (snapshot_tx, snapshot_rx) = watch::channel(empty);
        (
            Engine {
                probe,
                config,
                watched_projects: WatchedProjects(std::sync::Arc::new(roots.projects.clone())),
                roots,
                policy,
                history,
                notifier,
                log_lines: opts.log_lines,
                paused: false,
                snoozed_until: None,
                launch_at_login: opts.launch_at_login,
                probe_failing: None,
                snapshot_tx,
                known: KnownLocks::default(),
                watch_list: WatchList::default(),
                recent: Vec::new(),
                known_at: None,
                listings: Default::default(),
                manifests: Default::default(),
                net_settings: Default::default(),
                git_sources: Default::default(),
                left_by: Default::default(),
                build_dirs: Default::default(),
                watcher: None,
                platform_wakes: None,
                quick_enabled: false,
                quick: QuickCheck::default(),
                last_report: None,
                pending: PendingHistory::default(),
                limits: opts.limits,
                runtime_dir: opts.runtime_dir,
                config_file: opts.config_file,
                hold_times,
                done: None,
                yielded: HashSet::new(),
                yielding: HashMap::new(),
                last_pass: tokio::time::Instant::now(),
                last_trim: std::time::Instant::now(),
                last_known: Knowledge::default(),
            },
            snapshot_rx,
        )
    }

    /// Runs until a Shutdown command arrives or the command channel closes.
    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let (wake_tx, mut wake_rx) = mpsc::unbounded_channel();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<KillDone>();
        self.done = Some(done_tx.clone());
        self.start_watching(&wake_tx);
        let mut alarm = Alarm::new();
        let quick = self.probe.quick_looks(&[]).is_some();
        self.quick_enabled = quick;
        self.pass();
        let mut due = Due {
            quick,
            follow_ups: Vec::new(),
            next_quick: tokio::time::Instant::now() + self.quick_interval(),
        };
        loop {
            let next_sample = self.next_sample();
            let deadline = due.deadline(next_sample);
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    None | Some(Command::Shutdown) => break,
                    Some(cmd) => self.command(cmd, &done_tx),
                },
                finished = done_rx.recv() => if let Some((report, reply)) = finished {
                    self.kill_done(report, reply);
                },
                wake = wake_rx.recv() => self.woken(wake, &mut due),
                _ = alarm.until(deadline) => self.fell_due(next_sample, &mut due),
            }
        }
        for line in self.policy.held_lines() {
            self.log(&line);
        }
        self.say_stopped();
    }

    /// Starts the file watcher (polling only when it cannot) and the platform's other wakes,
    /// both sending to `wake_tx`.
    fn start_watching(&mut self, wake_tx: &mpsc::UnboundedSender<Wake>) {
        match FsWatcher::new(wake_tx.clone()) {
            Ok(w) => self.watcher = Some(w),
            Err(e) => tracing::warn!("file events unavailable ({e}); polling only"),
        }
        self.platform_wakes = Some(PlatformWakes::new(wake_tx.clone()));
    }

    /// Handles a wake from the watcher: follow-up passes after a lock file's event or a
    /// process's exit, the policy told of activity, a watcher failure logged.
    fn woken(&mut self, wake: Option<Wake>, due: &mut Due) {
        if due.quick
            && let Some(w) = &wake
        {
            self.quick_event(w);
            let soon = tokio::time::Instant::now() + quick_check::LIVELY;
            due.next_quick = due.next_quick.min(soon);
        }
        match wake {
            Some(Wake::LockFile(path)) if !self.knows(&path) => {
                // A lock file made since the list was read (a new Cargo home).
                self.known_at = None;
                due.follow_up(&FOLLOW_UPS, tokio::time::Instant::now());
            }
            Some(Wake::LockFile(_) | Wake::ProcessExited(_) | Wake::Overflow) => {
                due.follow_up(&FOLLOW_UPS, tokio::time::Instant::now());
            }
            Some(Wake::Activity(key)) => {
                let event = Event::Activity {
                    now: scan::now(),
                    key,
                };
                policy::apply(&mut self.policy, event);
            }
            Some(Wake::Failed(e)) => {
                tracing::warn!("file watcher: {e}; polling continues");
            }
            None => {}
        }
    }

    /// Runs what fell due: a full pass (after listing the known lock files again, when a sample
    /// was due), or only a cheap look when nothing but that was due.
    fn fell_due(&mut self, next_sample: tokio::time::Instant, due: &mut Due) {
        let now = tokio::time::Instant::now();
        let follow_up_due = due.follow_ups.iter().any(|t| *t <= now);
        due.follow_ups.retain(|t| *t > now);
        if now >= next_sample {
            self.relist_if_due();
        }
        if due.quick && now >= due.next_quick && now < next_sample && !follow_up_due {
            self.quick_look_due(now, due);
            return;
        }
        self.pass();
        if due.quick {
            // A pass is a look at every file: the next cheap one is a cadence on.
            due.next_quick = tokio::time::Instant::now() + self.quick_interval();
        }
    }

    /// Only the cheap look: a full pass when a looked-at file changed, more soon after when a
    /// cargo started.
    fn quick_look_due(&mut self, now: tokio::time::Instant, due: &mut Due) {
        if !self.paused {
            let (changed, cargo_started) = self.quick_look();
            if cargo_started {
                due.follow_up(&CARGO_FOLLOW_UPS, now);
            }
            if changed {
                self.pass();
            }
        }
        due.next_quick = tokio::time::Instant::now() + self.quick_interval();
    }

    /// Logs the end of watching: last chance for events still queued, and how many are lost
    /// if the disk still refuses.
    fn say_stopped(&mut self) {
        self.flush_history();
        if !self.pending.events.is_empty() {
            self.log(&format!(
                "history   {} event{} could not be written before exit: {}",
                self.pending.events.len(),
                if self.pending.events.len() == 1 {
                    ""
                } else {
                    "s"
                },
                self.pending.failing.as_deref().unwrap_or("unknown error")
            ));
        }
        self.log("stopped   watching ends (the daemon was asked to stop)");
    }

    /// When the next pass is due without any event: a poll interval after the last pass while
    /// an incident is open, an idle interval after it otherwise; and while nothing is held,
    /// when the known lock files are to be listed again (lock events may keep the idle
    /// interval from ever passing).
    fn next_sample(&self) -> tokio::time::Instant {
        let watch = &self.config.watch;
        let every = if self.policy.incident_open() {
            watch.poll_interval
        } else {
            watch.idle_poll_interval.max(watch.poll_interval)
        };
        let sample = self.last_pass + every;
        match self.known_at {
            Some(t) if !self.policy.busy() && !self.paused => {
                sample.min(tokio::time::Instant::from_std(t + KNOWN_REFRESH))
            }
            _ => sample,
        }
    }

    /// Lists the known lock files again when that is due and nothing is held (a scheduled
    /// pass's first step).
    fn relist_if_due(&mut self) {
        let due = self.known_at.is_some_and(|t| t.elapsed() >= KNOWN_REFRESH);
        if due && !self.paused && !self.policy.busy() {
            self.relist();
        }
    }

    /// Lists the known lock files, forgetting which directories hold a manifest (one may have
    /// appeared or gone since), and forgets lock files seen elsewhere that are gone.
    fn relist(&mut self) {
        self.manifests.clear();
        let list = scan::known_locks_listed(&self.roots, &mut self.listings);
        self.known.relist(list, &mut self.manifests.seen());
        self.known_at = Some(std::time::Instant::now());
        if self.quick_enabled {
            let roots: Vec<PathBuf> = (self.roots.cargo_homes.iter())
                .chain(&self.roots.projects)
                .cloned()
                .collect();
            self.quick.set_known(self.known.list(), &roots);
        }
        self.recent.retain(|p| p.exists());
    }

    fn command(&mut self, cmd: Command, done: &mpsc::UnboundedSender<KillDone>) {
        match cmd {
            Command::Kill(req, reply) => {
                // The kill waits up to its grace period for the release: run it aside so the
                // loop keeps sampling, publishing and answering meanwhile.
                let (roots, known) = (self.roots.clone(), self.last_known.clone());
                aside(req.pid, done, reply, move |p| {
                    crate::kill::kill(p, &roots, req, &known)
                });
            }
            Command::Resume(pid, token, reply) => {
                let (roots, known) = (self.roots.clone(), self.last_known.clone());
                aside(pid, done, reply, move |p| {
                    crate::kill::resume(p, &roots, pid, token, &known)
                });
            }
            Command::Snooze(until) => {
                self.snoozed_until = until;
                self.publish();
            }
            Command::Pause(p) => {
                self.paused = p;
                self.log(if p {
                    "paused    watching paused by the user"
                } else {
                    "resumed   watching"
                });
                self.pass();
                self.publish();
            }
            Command::SetLaunchAtLogin(on) => {
                self.launch_at_login = on;
                self.publish();
            }
            Command::SetYieldIde(on) => {
                self.config.policy.yield_ide = on;
                self.log(if on {
                    "policy    your build first: IDE checks that block a terminal build are stopped"
                } else {
                    "policy    your build first: off"
                });
                self.publish();
            }
            Command::Reload(loaded, roots) => self.reload(*loaded, roots),
            Command::Refresh(reply) => {
                self.pass();
                let _ = reply.send(());
            }
            Command::Shutdown => {}
        }
    }

    /// Records a finished kill or resume, answers its requester and rescans.
    fn kill_done(&mut self, report: KillReport, reply: oneshot::Sender<KillReport>) {
        if let Some(y) = self.yielding.remove(&report_pid(&report)) {
            self.yield_done(y, &report);
            self.pass();
            return;
        }
        if let KillReport::Resumed { message, .. } = &report {
            self.log(&format!("resumed   {message}"));
        }
        if let KillReport::Signalled {
            pid,
            name,
            signal,
            locks,
            message,
            ..
        } = &report
        {
            let token = self.last_token(*pid).unwrap_or(0);
            self.policy.note_signalled(*pid);
            self.record(vec![HistoryEvent::Killed {
                at: scan::now(),
                holder: ProcId {
                    pid: *pid,
                    start_token: token,
                },
                name: name.clone(),
                signal: signal.clone(),
                paths: locks.clone(),
            }]);
            self.log(&format!("killed    {message}"));
        }
        let _ = reply.send(report);
        self.pass();
    }

    /// One cheap look at the files the planner picks; returns whether one of them changed
    /// since its last look (a full pass is due) and whether a cargo started.
    fn quick_look(&mut self) -> (bool, bool) {
        let now = std::time::Instant::now();
        let plan = self.quick.plan(now);
        let (checked, paths): (Vec<usize>, Vec<&std::path::Path>) = (plan.iter())
            .filter_map(|i| Some((*i, self.quick.path(*i)?)))
            .unzip();
        let Some(answer) = self.probe.quick_looks(&paths) else {
            return (false, false);
        };
        let changed = self.quick.observe(&checked, &answer.looks, now);
        if answer.cargo_started {
            self.quick.note_event(None, now);
        }
        (changed, answer.cargo_started)
    }

    /// How long until the next cheap look (see [`QuickCheck::interval`]).
    fn quick_interval(&self) -> Duration {
        let now = std::time::Instant::now();
        (self.quick).interval(self.policy.incident_open(), self.policy.busy(), now)
    }

    /// Tells the planner about a wake: lock-file events make their root hot, and every event
    /// makes the pace lively for a while.
    fn quick_event(&mut self, wake: &Wake) {
        let now = std::time::Instant::now();
        match wake {
            Wake::LockFile(path) => self.quick.note_event(Some(path), now),
            Wake::Activity(_) | Wake::ProcessExited(_) | Wake::Overflow => {
                self.quick.note_event(None, now)
            }
            Wake::Failed(_) => {}
        }
    }

    fn last_token(&self, pid: u32) -> Option<u64> {
        let report = self.last_report.as_ref()?;
        let from_incidents = report.incidents.iter().find_map(|i| {
            let people = i.blocker.iter().chain(i.culprit.iter());
            people.clone().find(|p| p.pid == pid).map(|p| p.start_token)
        });
        from_incidents.or_else(|| {
            let holders = report.locks.iter().flat_map(|l| &l.holders);
            holders
                .clone()
                .find(|h| h.pid == pid)
                .map(|h| h.start_token)
        })
    }

    /// Keeps in `loaded` the value in use (`in_use`: the running config, flattened) of each
    /// key the file now gets wrong, not its default (review O, Q2); an unknown key has no
    /// value in use to keep (review X, X6). Returns them as `key = value`, for `config` and
    /// `doctor` to say (review X, X5).
    fn keep_values_in_use(
        &self,
        in_use: &BTreeMap<String, String>,
        loaded: &mut Loaded,
        roots: &mut WatchRoots,
    ) -> Vec<String> {
        let known = |k: &String| {
            let section = format!("{k}.");
            in_use.contains_key(k) || in_use.keys().any(|key| key.starts_with(&section))
        };
        let kept: Vec<String> = loaded.keys_to_keep().into_iter().filter(known).collect();
        if kept.is_empty() {
            return kept;
        }
        loaded.config = crate::config::keep_values(loaded.config.clone(), &self.config, &kept);
        *roots = loaded.roots();
        self.log(&format!(
            "config    keeping the value in use of {} (fix the file and send SIGHUP again)",
            kept.join(", ")
        ));
        (kept.iter())
            .map(|k| match in_use.get(k) {
                Some(v) => format!("{k} = {v}"),
                None => format!("[{k}]"),
            })
            .collect()
    }

    /// Applies a reloaded configuration in place: thresholds, roots, notifications, limits.
    /// Holds, waits and verdicts carry on.
    fn reload(&mut self, mut loaded: Loaded, mut roots: WatchRoots) {
        if let Some(why) = &loaded.file_unusable {
            self.log(&format!(
                "config    {why}; keeping the settings in use (fix the file and send SIGHUP again)"
            ));
            // `config` and `doctor` say so, not "send SIGHUP" again (review X, X11).
            self.config_file = Some(crate::config::ConfigFile {
                refused: true,
                ..crate::config::ConfigFile::of(&loaded.file)
            });
            self.publish();
            return;
        }
        let old: BTreeMap<String, String> = self.config.flatten().into_iter().collect();
        let kept = self.keep_values_in_use(&old, &mut loaded, &mut roots);
        let changed: Vec<String> = loaded
            .config
            .flatten()
            .into_iter()
            .filter(|(k, v)| old.get(k) != Some(v))
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        // Said as a reload does it: a refused key keeps the value in use (review P, R2).
        for w in loaded.reload_warnings(&self.config) {
            self.log(&format!("config    {w}"));
        }
        self.history.configure(&loaded);
        let config = loaded.config;
        self.policy.set_config(config.stale.clone());
        self.notifier.reconfigure(&config.notify);
        super::logcap::set_max(config.daemon.log_max_bytes);
        if let Some(l) = &self.limits {
            l.send_replace(config.daemon.clone());
        }
        let roots_changed =
            roots.cargo_homes != self.roots.cargo_homes || roots.projects != self.roots.projects;
        self.watched_projects = WatchedProjects(std::sync::Arc::new(roots.projects.clone()));
        self.roots = roots;
        self.known_at = None;
        self.config = config;
        self.config_file = Some(crate::config::ConfigFile {
            kept,
            ..crate::config::ConfigFile::of(&loaded.file)
        });
        self.log(&format!(
            "reloaded  {}: {}",
            loaded.file.display(),
            if changed.is_empty() && !roots_changed {
                "nothing changed".to_string()
            } else if changed.is_empty() {
                "watched roots changed".to_string()
            } else {
                changed.join(", ")
            }
        ));
        self.pass();
        self.publish();
    }

    /// What the daemon cannot do right now, for the status footer and `doctor`.
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(e) = &self.pending.failing {
            let mut text = format!(
                "cannot write the history {}: {e}; {} event{} kept in memory and retried every pass",
                self.history.path().display(),
                self.pending.events.len(),
                if self.pending.events.len() == 1 {
                    ""
                } else {
                    "s"
                }
            );
            if self.pending.lost > 0 {
                text.push_str(&format!(
                    " ({} older event{} lost: the queue holds {MAX_PENDING_HISTORY})",
                    self.pending.lost,
                    if self.pending.lost == 1 { "" } else { "s" }
                ));
            }
            match &self.pending.advice {
                // The error already says what to do.
                Some(_) => {}
                None => {
                    let path = self.history.path();
                    let what = match path.parent() {
                        Some(dir) if !path.exists() => format!("{}'s", dir.display()),
                        _ => "the file's".to_string(),
                    };
                    text.push_str(&format!(". Free disk space or fix {what} permissions"));
                }
            }
            out.push(text);
        }
        if let Some(why) = &self.pending.unrotated {
            out.push(format!("history {why}"));
        }
        if let Some(e) = &self.probe_failing {
            out.push(format!(
                "cannot read the locks ({e}): the view is the last pass that could, retried every pass"
            ));
        }
        out
    }

    /// Writes queued history events; on failure keeps them (bounded) and says so once.
    fn flush_history(&mut self) {
        if self.pending.events.is_empty() {
            return;
        }
        let batch = self.pending.events.make_contiguous();
        match self.history.append(batch) {
            Ok(rotation) => {
                let n = self.pending.events.len();
                self.pending.events.clear();
                self.rotated(rotation);
                if self.pending.failing.take().is_some() {
                    self.log(&format!(
                        "history   writing {} again ({n} queued event{} written)",
                        self.history.path().display(),
                        if n == 1 { "" } else { "s" }
                    ));
                    self.pending.lost = 0;
                    self.publish();
                }
            }
            Err(e) => {
                self.pending.events.drain(..e.written);
                let first = self.pending.failing.is_none();
                self.pending.failing = Some(e.error.to_string());
                self.pending.advice =
                    super::history::as_not_regular(&e.error).map(|n| n.to_string());
                if first {
                    self.log(&format!(
                        "history   cannot write {}: {}; keeping events in memory and retrying",
                        self.history.path().display(),
                        e.error
                    ));
                    tracing::warn!(
                        "cannot write history {}: {}",
                        self.history.path().display(),
                        e.error
                    );
                }
                self.publish();
            }
        }
    }

    /// Logs what a rotation did: every move (with the sizes, so what was replaced is on
    /// record), and a refusal once until it changes.
    fn rotated(&mut self, rotation: Option<Rotation>) {
        match rotation {
            None => {}
            Some(refused @ Rotation::Refused(_)) => {
                let why = refused.to_string();
                if self.pending.unrotated.as_deref() != Some(why.as_str()) {
                    self.log(&format!("history   {why}"));
                    tracing::warn!("history {why}");
                    self.pending.unrotated = Some(why);
                    self.publish();
                }
            }
            Some(moved) => {
                self.log(&format!(
                    "history   {}: {moved}",
                    self.history.path().display()
                ));
                if self.pending.unrotated.take().is_some() {
                    self.publish();
                }
            }
        }
    }

    /// One probe pass, policy update and publication.
    pub fn pass(&mut self) {
        self.flush_history();
        self.trim_heap();
        self.last_pass = tokio::time::Instant::now();
        if self.paused {
            return;
        }
        if self.known_at.is_none() {
            self.relist();
        }
        let Some(pass) = self.read_locks() else {
            return;
        };
        let now = scan::now();
        let (effects, knowledge) = self.observe(&pass, now);
        // The free lock files are shared, not made again: see `publish`.
        let observed = core_report::Observed {
            free: &[],
            ..pass.observed()
        };
        let homes = self.roots.cargo_homes.clone();
        let report = core_report::build(Source::Daemon, now, homes, &observed, &knowledge);
        self.last_known = knowledge;
        self.passed(&pass);
        self.perform(effects);
        self.adopt_report(report, now);
    }

    /// The probe's pass over the known lock files, or `None` when it cannot read the locks
    /// (said once while it lasts, and published beside the commands' state).
    fn read_locks(&mut self) -> Option<scan::Pass> {
        let deep = true;
        let known = std::sync::Arc::clone(self.known.list());
        let pass = match scan::pass_with_known(self.probe.as_mut(), known, deep) {
            Ok(p) => p,
            Err(e) => {
                let e = e.to_string();
                if self.probe_failing.as_ref() != Some(&e) {
                    tracing::error!("cannot read the locks: {e}");
                }
                self.probe_failing = Some(e);
                // Commands (snooze, pause) still show, beside the failure.
                self.publish();
                return None;
            }
        };
        if self.probe_failing.take().is_some() {
            self.log("probe     reading the locks again");
        }
        Some(pass)
    }

    /// Feeds the policy what `pass` saw at `now`: its effects, and what the report knows
    /// beyond the pass.
    fn observe(&mut self, pass: &scan::Pass, now: f64) -> (Vec<Effect>, Knowledge) {
        let left_by = scan::leftover_packages(pass, &mut self.left_by);
        let home = self.roots.cargo_homes.first().map(PathBuf::as_path);
        let build_dirs = scan::configured_build_dirs(pass, home, &mut self.build_dirs);
        let net_settings = scan::net_settings(pass, home, &mut self.net_settings);
        let git_sources = scan::git_sources(pass, &mut self.git_sources);
        let git_fetches = self.git_fetches(pass, &git_sources);
        let blockers = self.blocker_samples(pass, &left_by, &git_fetches, &net_settings);
        let locks = lock_samples(pass, &build_dirs, |p| {
            self.watcher
                .as_ref()
                .is_some_and(|w| w.watches_lock_file(p))
        });
        let stopped_waiters = self.stopped_waiters(&locks);
        let effects = policy::apply(
            &mut self.policy,
            Event::Observed {
                now,
                locks,
                blockers,
                stopped_waiters,
            },
        );
        let mut knowledge = self.knowledge(build_dirs, net_settings, git_sources);
        knowledge.left_by = left_by;
        (effects, knowledge)
    }

    /// What the policy knows beyond a pass (hold and wait times, network waits, stale
    /// verdicts), with the pass's `build_dirs`, `net_settings` and `git_sources`.
    fn knowledge(
        &self,
        build_dirs: Vec<PathBuf>,
        net_settings: HashMap<u32, crate::core::netwait::NetSettings>,
        git_sources: HashMap<u32, Vec<crate::core::gitfetch::GitSource>>,
    ) -> Knowledge {
        Knowledge {
            hold_since: self.policy.hold_since(),
            wait_since: self.policy.wait_since(),
            blocked_since: self.policy.blocked_since(),
            since_unknown: self.policy.since_unknown(),
            network_silence: None,
            stale_after: Some(self.config.stale.stale_after.as_secs_f64()),
            stopped_grace: 0.0,
            manifests: Some(std::sync::Arc::clone(&self.manifests)),
            net_waits: self.policy.net_waits(),
            stale: Some(self.policy.verdicts()),
            ignore_names: self.config.watch.ignore_process_names.clone(),
            build_dirs,
            net_settings,
            git_sources,
            left_by: HashMap::new(),
            gave_up: self.policy.gave_up(),
        }
    }

    /// Tells the cheap looks which files `pass` saw held, and the watchers what to watch now.
    fn passed(&mut self, pass: &scan::Pass) {
        if self.quick_enabled {
            let held = (pass.sightings.iter())
                .filter(|s| !s.holders.is_empty() || s.unseen.is_some())
                .map(|s| s.path.as_path());
            self.quick.passed(held, std::time::Instant::now());
        }
        self.update_watches(pass);
    }

    /// Performs the policy's effects: log lines written, history events recorded.
    fn perform(&mut self, effects: Vec<Effect>) {
        let mut history = Vec::new();
        for e in effects {
            match e {
                Effect::Log(line) => self.log(&line),
                Effect::RecordHistory(h) => history.push(h),
                Effect::UpdateUi => {}
            }
        }
        self.record(history);
    }

    /// Makes `report`, with typical hold times, the last one (IDE checks yielded to the
    /// terminal builds it shows waiting), and shows it: published, its incidents remembered
    /// for a later `kill PID`, the notifier told.
    fn adopt_report(&mut self, mut report: Report, now: f64) {
        self.hold_times.annotate(&mut report);
        if self.config.policy.yield_ide {
            self.yield_to_terminal(&report);
        }
        self.last_report = Some(report);
        // Publish every pass while something is held (times tick), otherwise only on change.
        self.publish();
        if let (Some(dir), Some(report)) = (&self.runtime_dir, &self.last_report) {
            crate::shown::remember_incidents(dir, report);
        }
        if self.config.notify.enabled {
            let snapshot = self.snapshot_tx.borrow().clone();
            self.notifier.snapshot(&snapshot, now);
        }
    }

    /// "Your build first": stops the IDE checks a terminal build has waited behind long enough,
    /// through the same verified path as a user's kill.
    fn yield_to_terminal(&mut self, report: &Report) {
        let Some(done) = self.done.clone() else {
            return;
        };
        // SAFETY: getuid cannot fail and has no preconditions.
        let uid = unsafe { libc::getuid() };
        let after = self.config.policy.yield_after.as_secs_f64();
        for y in yield_ide::decide(report, uid, after, &self.yielded) {
            let (pid, start_token) = (y.check.pid, y.check.start_token);
            self.yielded.insert(ProcId { pid, start_token });
            self.yielding.insert(pid, y);
            let req = KillRequest {
                pid,
                start_token: Some(start_token),
                force: false,
                grace: YIELD_GRACE,
            };
            let (roots, known) = (self.roots.clone(), self.last_known.clone());
            let (reply, _) = oneshot::channel();
            aside(pid, &done, reply, move |p| {
                crate::kill::kill(p, &roots, req, &known)
            });
        }
        // Forget checks that are gone, so the set stays small.
        let live: HashSet<ProcId> = report
            .incidents
            .iter()
            .filter_map(|i| i.blocker.as_ref())
            .map(|b| ProcId {
                pid: b.pid,
                start_token: b.start_token,
            })
            .collect();
        let yielding = &self.yielding;
        self.yielded
            .retain(|id| live.contains(id) || yielding.contains_key(&id.pid));
    }

    /// Logs and records an IDE check stopped for a terminal build.
    fn yield_done(&mut self, y: Yield, report: &KillReport) {
        let check = words::short_command(&y.check.cmd, &y.check.name);
        let build = words::short_command(&y.for_waiter.cmd, &y.for_waiter.name);
        let via = y.check.origin_via.as_deref().unwrap_or("the IDE");
        let KillReport::Signalled { locks, .. } = report else {
            self.log(&format!(
                "yield     could not stop {via}'s {check} {} for {build} {}: {}",
                y.check.pid,
                y.for_waiter.pid,
                report_message(report)
            ));
            return;
        };
        self.log(&format!(
            "yielded   stopped {via}'s {check} {} so {build} {} could run (it waited {})",
            y.check.pid,
            y.for_waiter.pid,
            y.waited_words()
        ));
        self.record(vec![HistoryEvent::Yielded {
            at: scan::now(),
            holder: ProcId {
                pid: y.check.pid,
                start_token: y.check.start_token,
            },
            name: y.check.name.clone(),
            cmd: y.check.cmd.clone(),
            party: Party {
                origin: Some(y.check.origin),
                via: y.check.origin_via.clone(),
                project: crate::core::place::workplace(&y.check.cmd, y.check.cwd.as_deref()),
                user: None,
            },
            for_waiter: (y.for_waiter.name.clone(), y.for_waiter.pid),
            paths: locks.clone(),
        }]);
    }

    /// The root blockers of this pass, with what one pass can see about them.
    /// The policy's waiters that no longer wait because they are stopped (one stat each, only
    /// for waiters this pass does not show waiting).
    fn stopped_waiters(&mut self, locks: &[LockSample]) -> Vec<ProcId> {
        let waiting = |id: &ProcId| locks.iter().any(|l| l.waiters.iter().any(|w| w.id == *id));
        let gone: Vec<ProcId> = (self.policy.waiters().into_iter())
            .filter(|id| !waiting(id))
            .collect();
        gone.into_iter()
            .filter(|id| {
                self.probe.process(id.pid).is_ok_and(|f| {
                    f.start_token == id.start_token
                        && f.state == crate::core::model::ProcState::Stopped
                })
            })
            .collect()
    }

    /// The git fetch each blocker waits in, by pid (see [`crate::core::gitfetch::fetch_of`]):
    /// for the log's words and the history's advice, whatever its timeout (review AB, AB1).
    fn git_fetches(
        &self,
        pass: &scan::Pass,
        git_sources: &HashMap<u32, Vec<crate::core::gitfetch::GitSource>>,
    ) -> HashMap<u32, crate::core::model::GitFetch> {
        let last_peers = self.policy.net_waits();
        (pass.activity.iter())
            .filter_map(|(pid, a)| {
                let fetch = crate::core::gitfetch::fetch_of(
                    a,
                    git_sources.get(pid).map_or(&[], Vec::as_slice),
                    last_peers.get(pid).map(|(peer, _)| peer.as_str()),
                )?;
                Some((*pid, fetch))
            })
            .collect()
    }

    fn blocker_samples(
        &self,
        pass: &scan::Pass,
        left_by: &HashMap<u32, crate::core::model::LeftBy>,
        git_fetches: &HashMap<u32, crate::core::model::GitFetch>,
        net_settings: &HashMap<u32, crate::core::netwait::NetSettings>,
    ) -> Vec<BlockerSample> {
        let ignore = &self.config.watch.ignore_process_names;
        let obs = pass.observed();
        let name = |pid: &u32| pass.facts.get(pid).map(|f| (f.name.clone(), *pid));
        pass.graph
            .incidents
            .iter()
            .filter_map(|i| {
                let f = pass.facts.get(&i.blocker?)?;
                let signals = core_report::signals(&obs, i);
                let paths = i
                    .locks
                    .iter()
                    .filter_map(|k| pass.sightings.iter().find(|s| s.key == *k))
                    .map(|s| s.path.clone())
                    .collect();
                Some(BlockerSample {
                    id: ProcId {
                        pid: f.pid,
                        start_token: f.start_token,
                    },
                    name: f.name.clone(),
                    paths,
                    locks: i.locks.clone(),
                    blocked: i.blocked.iter().filter_map(name).collect(),
                    // A stopped build script holds its cargo as surely as a stopped cargo.
                    state: if signals.child_stopped {
                        crate::core::model::ProcState::Stopped
                    } else {
                        f.state
                    },
                    started_at: f.started_at,
                    tree_cpu_secs: f.tree_cpu_secs,
                    origin: crate::core::origin::classify(f).0,
                    locker_dead: signals.locker_dead,
                    deleted_lock: signals.deleted_lock,
                    deadlock: signals.deadlock,
                    deadlock_cycle: matches!(
                        i.deadlock,
                        Some(crate::core::model::Deadlock::Cycle { .. })
                    ),
                    pipe_held_open: signals.pipe_held_open,
                    network_silent_secs: signals.network_silent_secs,
                    network: obs
                        .activity
                        .get(&f.pid)
                        .filter(|a| crate::core::doing::network_only(a))
                        .map(|a| a.peers.clone()),
                    runs_child: (obs.activity.get(&f.pid))
                        .is_some_and(|a| !a.descendants.is_empty()),
                    tree_received_bytes: (obs.activity.get(&f.pid))
                        .and_then(|a| a.tree_received_bytes),
                    ignored: ignore.iter().any(|n| n == &f.name),
                    unseen: signals.unseen,
                    left_by: (obs.activity.get(&f.pid))
                        .and_then(crate::core::doing::culprit)
                        .and_then(|c| left_by.get(&c.pid).cloned()),
                    git_fetch: git_fetches.get(&f.pid).cloned(),
                    net_settings: net_settings.get(&f.pid).copied(),
                })
            })
            .collect()
    }

    fn update_watches(&mut self, pass: &scan::Pass) {
        self.remember_lock_files(pass);
        let extras = self.watch_extras(pass);
        let files = self.watch_list.update(&self.known, extras);
        let mut domains: Vec<(FileKey, PathBuf)> = Vec::new();
        let mut pids: Vec<u32> = Vec::new();
        for s in &pass.sightings {
            if !s.holders.is_empty()
                && let Some(d) = catalog::activity_domain(&s.path, s.kind)
            {
                domains.push((s.key, d));
            }
            pids.extend(s.holders.iter().map(|h| h.pid));
        }
        pids.sort_unstable();
        pids.dedup();
        if let Some(w) = self.watcher.as_mut() {
            for (path, err) in w.update(files, &domains) {
                tracing::debug!("cannot watch {}: {err}", path.display());
            }
        }
        if let Some(p) = self.platform_wakes.as_mut() {
            p.update(files, &pids);
        }
    }

    /// The lock files to watch beyond the known ones, each once: the Cargo homes' own even
    /// before they exist (watched through the home), those seen lately elsewhere, and those
    /// seen now.
    fn watch_extras(&self, pass: &scan::Pass) -> Vec<PathBuf> {
        let fixed = self.roots.cargo_homes.iter().flat_map(|h| {
            catalog::fixed_cargo_home_locks(h)
                .into_iter()
                .filter(|(_, kind)| *kind != catalog::LockKind::LegacyGitCheckouts)
                .map(|(p, _)| p)
        });
        let seen_now = pass
            .sightings
            .iter()
            .filter(|s| !s.deleted)
            .map(|s| s.path.clone());
        let mut unique = HashSet::new();
        fixed
            .chain(self.recent.iter().cloned())
            .chain(seen_now)
            .filter(|p| !self.known.contains(p) && unique.insert(p.clone()))
            .collect()
    }

    /// Whether a lock file is in the known list or was seen lately.
    fn knows(&self, path: &PathBuf) -> bool {
        self.known.contains(path) || self.recent.contains(path)
    }

    /// Remembers lock files seen outside the known roots, the newest [`MAX_RECENT_LOCK_FILES`].
    fn remember_lock_files(&mut self, pass: &scan::Pass) {
        let mut seen: HashSet<&PathBuf> = self.recent.iter().collect();
        let new: Vec<PathBuf> = pass
            .sightings
            .iter()
            .filter(|s| !s.deleted && !self.known.contains(&s.path) && seen.insert(&s.path))
            .map(|s| s.path.clone())
            .collect();
        self.recent.extend(new);
        let extra = self.recent.len().saturating_sub(MAX_RECENT_LOCK_FILES);
        self.recent.drain(..extra);
    }

    /// Hands freed heap memory back to the OS, at most once a minute: a pass that read a
    /// machine's thousands of processes (a dead locker's heir search) leaves the heap at its
    /// high-water mark, which glibc keeps unless asked.
    fn trim_heap(&mut self) {
        if self.last_trim.elapsed() < HEAP_TRIM_EVERY {
            return;
        }
        self.last_trim = std::time::Instant::now();
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only releases free memory of the allocator's own heaps.
        unsafe {
            libc::malloc_trim(0);
        }
    }

    fn publish(&mut self) {
        let Some(report) = self.last_report.clone() else {
            return;
        };
        let snap = UiSnapshot {
            report,
            paused: self.paused,
            snoozed_until: self.snoozed_until.filter(|t| *t > scan::now()),
            launch_at_login: self.launch_at_login,
            yield_ide: self.config.policy.yield_ide,
            problems: self.problems(),
            free_locks: Some(std::sync::Arc::clone(self.known.free())),
            watched_projects: Some(self.watched_projects.clone()),
            config_file: self.config_file.clone(),
        };
        let busy = self.policy.busy();
        self.snapshot_tx.send_if_modified(|old| {
            let same_free = match (&old.free_locks, &snap.free_locks) {
                (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
                (a, b) => a.is_none() && b.is_none(),
            };
            let changed = old.report.locks != snap.report.locks
                || !same_free
                || old.report.incidents != snap.report.incidents
                || old.paused != snap.paused
                || old.yield_ide != snap.yield_ide
                || old.snoozed_until != snap.snoozed_until
                || old.problems != snap.problems
                || busy;
            *old = snap;
            changed
        });
    }

    fn record(&mut self, events: Vec<HistoryEvent>) {
        if events.is_empty() {
            return;
        }
        // Typical hold times learn from every line, kills and yields too (review N, P11).
        for e in &events {
            self.hold_times.add(e);
        }
        self.pending.events.extend(events);
        while self.pending.events.len() > MAX_PENDING_HISTORY {
            self.pending.events.pop_front();
            self.pending.lost += 1;
        }
        self.flush_history();
    }

    fn log(&self, line: &str) {
        if self.log_lines {
            super::logcap::println(line);
        }
        tracing::info!("{line}");
    }
}

/// The pid a kill or resume report is about.
fn report_pid(r: &KillReport) -> u32 {
    match r {
        KillReport::Signalled { pid, .. }
        | KillReport::Refused { pid, .. }
        | KillReport::Resumed { pid, .. } => *pid,
    }
}

/// The words of a kill or resume report.
fn report_message(r: &KillReport) -> &str {
    match r {
        KillReport::Signalled { message, .. }
        | KillReport::Refused { message, .. }
        | KillReport::Resumed { message, .. } => message,
    }
}

/// Runs a kill or resume on a blocking thread with its own probe, and hands the report back to
/// the loop (which records it and answers `reply`).
fn aside(
    pid: u32,
    done: &mpsc::UnboundedSender<KillDone>,
    reply: oneshot::Sender<KillReport>,
    act: impl FnOnce(&mut dyn Probe) -> KillReport + Send + 'static,
) {
    let done = done.clone();
    tokio::spawn(async move {
        let failed = move |message: String| KillReport::Refused {
            pid,
            refusal: crate::kill::Refusal::NotAHolder,
            message,
        };
        let report = tokio::task::spawn_blocking(move || match crate::probe::platform() {
            Ok(mut p) => act(p.as_mut()),
            Err(e) => failed(e.to_string()),
        })
        .await
        .unwrap_or_else(|e| failed(format!("internal error: {e}")));
        let _ = done.send((report, reply));
    });
}

/// The user a process belongs to, when it is not the daemon's own (its name, else `uid N`).
fn someone_else(f: &crate::core::model::ProcessFacts) -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    (f.uid != me).then(|| f.user.clone().unwrap_or_else(|| format!("uid {}", f.uid)))
}

/// Every lock of the pass with its holders and waiters; each waiter names its root blockers,
/// and the lock in its words (a profile lock in one of the `build_dirs` configured for the
/// projects is the "build directory" to everyone).
fn lock_samples(
    pass: &scan::Pass,
    build_dirs: &[PathBuf],
    watched: impl Fn(&std::path::Path) -> bool,
) -> Vec<LockSample> {
    pass.sightings
        .iter()
        .map(|s| (s, catalog::project_dir_of(&s.path, s.kind)))
        .map(|(s, project)| LockSample {
            key: s.key,
            path: s.path.clone(),
            kind: s.kind,
            watched: watched(&s.path),
            holders: holder_samples(pass, s, &project),
            waiters: waiter_samples(pass, s, &project, build_dirs),
        })
        .collect()
}

/// The holders of `s` in the pass, in the lock's `project`.
fn holder_samples(
    pass: &scan::Pass,
    s: &crate::core::model::LockSighting,
    project: &Option<PathBuf>,
) -> Vec<HolderSample> {
    // A child sharing its parent's descriptor is the parent's hold, not one of its own.
    s.holders
        .iter()
        .filter(|h| !pass.graph.part_of_parent(h.pid, s.key, &pass.facts))
        .filter_map(|h| {
            let f = pass.facts.get(&h.pid)?;
            Some(HolderSample {
                id: proc_id(f),
                name: f.name.clone(),
                cmd: f.cmd.clone(),
                started_at: f.started_at,
                inherited: h.inherited,
                mode: h.mode,
                party: party_of(f, project),
            })
        })
        .collect()
}

/// The waiters for `s` in the pass, in the lock's `project`, each with its root blockers.
fn waiter_samples(
    pass: &scan::Pass,
    s: &crate::core::model::LockSighting,
    project: &Option<PathBuf>,
    build_dirs: &[PathBuf],
) -> Vec<WaiterSample> {
    // A waiter stopped in its request (Ctrl-Z) is blocked by nobody while stopped: to
    // the policy it is a stopped waiter, whose wait goes on when it blocks again
    // (review T, T1; review U, U1).
    (s.waiters.iter())
        .filter_map(|w| {
            let f = pass.facts.get(&w.pid)?;
            if f.state == crate::core::model::ProcState::Stopped {
                return None;
            }
            let roots = root_blockers(pass, w.pid, s);
            Some(WaiterSample {
                id: proc_id(f),
                name: f.name.clone(),
                started_at: f.started_at,
                cmd: f.cmd.clone(),
                blocked_by: roots.iter().map(|r| (r.name.clone(), r.pid)).collect(),
                blocked_by_cmd: roots.iter().map(|r| r.cmd.clone()).collect(),
                party: party_of(f, project),
                blocker: roots
                    .first()
                    .map(|r| party_of(r, project))
                    .unwrap_or_default(),
                lock_description: waiter_words(s, w.mode, build_dirs, &f.cmd).to_string(),
            })
        })
        .collect()
}

/// The process `f` is.
fn proc_id(f: &crate::core::model::ProcessFacts) -> ProcId {
    ProcId {
        pid: f.pid,
        start_token: f.start_token,
    }
}

/// The root blockers of the incidents `pid` waits in, else the holders of `s`, the lock it
/// waits for.
fn root_blockers<'a>(
    pass: &'a scan::Pass,
    pid: u32,
    s: &crate::core::model::LockSighting,
) -> Vec<&'a crate::core::model::ProcessFacts> {
    let incidents = pass.graph.incidents_blocking(pid).into_iter();
    let roots: Vec<_> = incidents
        .filter_map(|i| i.blocker.filter(|b| *b != pid))
        .filter_map(|b| pass.facts.get(&b))
        .collect();
    if !roots.is_empty() {
        return roots;
    }
    // In a wait cycle nobody is the root (or the waiter is the one named to stop): it waits
    // for the lock's holders, who are seen (review Y, Y12).
    (s.holders.iter())
        .filter(|h| h.pid != pid)
        .filter_map(|h| pass.facts.get(&h.pid))
        .collect()
}

/// Who `f` is on a lock of `project`: its origin, its project (the lock's, else where it
/// works) and its user when not the daemon's.
fn party_of(f: &crate::core::model::ProcessFacts, project: &Option<PathBuf>) -> Party {
    let (origin, via) = crate::core::origin::classify(f);
    Party {
        origin: Some(origin),
        via,
        project: (project.clone())
            .or_else(|| crate::core::place::workplace(&f.cmd, f.cwd.as_deref())),
        user: someone_else(f),
    }
}

/// The words a cargo running `cmd` prints while it waits for `s` in `mode` (see
/// [`lock_samples`]): `cargo clean gc` waits for the "package cache mutation" where a build
/// waits for the "shared package cache" (review W, W10).
fn waiter_words(
    s: &crate::core::model::LockSighting,
    mode: crate::core::model::LockMode,
    build_dirs: &[PathBuf],
    cmd: &[String],
) -> &'static str {
    let configured = || build_dirs.iter().any(|d| s.path.starts_with(d));
    match s.kind {
        catalog::LockKind::ProfileDirectory if configured() => {
            catalog::LockKind::BuildDirectory.cargo_words()
        }
        kind => kind.waiting_words(mode, cmd),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{LockSighting, ProcessFacts};
    use crate::probe::{ProbeError, QuickLook, QuickLooks, Targets};
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    /// What the fake probe was asked, and what it answers.
    #[derive(Default)]
    struct Seen {
        /// Full passes.
        passes: usize,
        /// Files asked about per cheap look (the first, empty question aside).
        looks: Vec<Vec<PathBuf>>,
        /// The file the kernel would say is held.
        held: Option<PathBuf>,
    }

    /// A probe whose cheap looks answer from `Seen` (`quick`: as macOS does; else as Linux).
    struct FakeProbe {
        seen: Arc<Mutex<Seen>>,
        quick: bool,
    }

    impl Probe for FakeProbe {
        fn sightings(&mut self, _: &Targets) -> Result<Vec<LockSighting>, ProbeError> {
            self.seen.lock().unwrap().passes += 1;
            Ok(Vec::new())
        }
        fn process(&mut self, pid: u32) -> Result<ProcessFacts, ProbeError> {
            Err(ProbeError::NoSuchProcess(pid))
        }
        fn descendants(&mut self, _: u32) -> Vec<u32> {
            Vec::new()
        }
        fn holds(&mut self, _: u32, _: FileKey) -> Result<bool, ProbeError> {
            Ok(false)
        }
        fn quick_looks(&mut self, files: &[&Path]) -> Option<QuickLooks> {
            let mut seen = self.seen.lock().unwrap();
            seen.looks
                .push(files.iter().map(|f| f.to_path_buf()).collect());
            let looks = (files.iter())
                .map(|f| match &seen.held {
                    Some(h) if h == f => QuickLook::Held {
                        ino: 1,
                        exclusive: true,
                    },
                    _ => QuickLook::Free { ino: 1 },
                })
                .collect();
            self.quick.then_some(QuickLooks {
                looks,
                cargo_started: false,
            })
        }
    }

    struct Silent;
    impl Notifier for Silent {
        fn snapshot(&mut self, _: &UiSnapshot, _: f64) {}
    }

    /// An engine over a Cargo home and `projects` projects with a build lock each.
    fn engine(dir: &Path, projects: usize, quick: bool) -> (Engine, Arc<Mutex<Seen>>) {
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join(".package-cache"), "").unwrap();
        let roots = WatchRoots {
            cargo_homes: vec![home],
            projects: (0..projects)
                .map(|i| {
                    let p = dir.join(format!("p{i:03}"));
                    std::fs::create_dir_all(p.join("debug")).unwrap();
                    std::fs::write(p.join("debug/.cargo-lock"), "").unwrap();
                    p
                })
                .collect(),
        };
        let seen = Arc::new(Mutex::new(Seen::default()));
        let probe = FakeProbe {
            seen: Arc::clone(&seen),
            quick,
        };
        let (engine, _) = Engine::new(
            Box::new(probe),
            Config::defaults(),
            roots,
            History::new(&dir.join("data")),
            Box::new(Silent),
            EngineOptions {
                log_lines: false,
                launch_at_login: false,
                limits: None,
                runtime_dir: None,
                config_file: None,
            },
        );
        (engine, seen)
    }

    /// Waits (real time: the loop's timer is the kernel's) until `pred` holds.
    async fn until(what: &str, within: Duration, pred: impl Fn() -> bool) {
        let start = std::time::Instant::now();
        while !pred() {
            assert!(start.elapsed() < within, "{what}: not within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[test]
    fn a_waiter_is_told_in_the_words_its_mode_makes_cargo_print() {
        // History and the daemon's lines say what the waiting cargo printed: "package cache
        // mutation" for `cargo clean gc`'s exclusive request (review W, W10).
        use crate::core::model::LockMode;
        use catalog::LockKind;
        let sighting = |path: &str, kind| LockSighting {
            path: path.into(),
            key: FileKey { dev: 1, ino: 2 },
            kind,
            deleted: false,
            holders: vec![],
            waiters: vec![],
            dead_locker: None,
            locker_gone: false,
            unseen: None,
        };
        let cmd = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let mutate = sighting("/h/.package-cache-mutate", LockKind::PackageCacheMutate);
        let gc = cmd(&["cargo", "clean", "gc", "-Zgc"]);
        assert_eq!(
            waiter_words(&mutate, LockMode::Exclusive, &[], &gc),
            "package cache mutation"
        );
        let build = cmd(&["cargo", "build"]);
        assert_eq!(
            waiter_words(&mutate, LockMode::Shared, &[], &build),
            "shared package cache"
        );
        // A configured build dir's profile lock is the build directory in either mode.
        let lock = sighting("/b/debug/.cargo-lock", LockKind::ProfileDirectory);
        assert_eq!(
            waiter_words(&lock, LockMode::Exclusive, &["/b".into()], &build),
            "build directory"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cheap_looks_go_slowly_over_slices_and_a_change_runs_a_pass() {
        let dir = tempfile::tempdir().unwrap();
        let (mac, seen) = engine(&dir.path().join("mac"), 100, true);
        let (linux, linux_seen) = engine(&dir.path().join("linux"), 100, false);
        let (mac_tx, mac_rx) = mpsc::unbounded_channel();
        let (linux_tx, linux_rx) = mpsc::unbounded_channel();
        let start = std::time::Instant::now();
        let mac_run = tokio::spawn(mac.run(mac_rx));
        let linux_run = tokio::spawn(linux.run(linux_rx));
        let looks = || seen.lock().unwrap().looks.len();
        // The first question (no file) only asks whether to look at all; then the first pass.
        until("the first pass", Duration::from_secs(5), || {
            seen.lock().unwrap().passes == 1
        })
        .await;
        // Idle: the next look comes at the slow interval, with at most 64 cold files besides
        // the package cache lock, and finds nothing to pass for.
        until("an idle look", Duration::from_secs(10), || looks() == 2).await;
        assert!(
            start.elapsed() >= quick_check::IDLE,
            "{:?}",
            start.elapsed()
        );
        {
            let s = seen.lock().unwrap();
            assert_eq!(s.looks[0].len(), 0);
            assert_eq!(s.looks[1].len(), 1 + quick_check::COLD_PER_TICK);
            assert_eq!(s.passes, 1, "nothing changed: no pass");
        }
        // A file of the next slice is taken: the next look sees it and a pass follows.
        let taken = dir.path().join("mac/p090/debug/.cargo-lock");
        assert!(!seen.lock().unwrap().looks[1].contains(&taken));
        seen.lock().unwrap().held = Some(taken.clone());
        until("the pass after the change", Duration::from_secs(10), || {
            seen.lock().unwrap().passes == 2
        })
        .await;
        {
            let s = seen.lock().unwrap();
            assert_eq!(s.looks.len(), 3);
            assert!(s.looks[2].contains(&taken));
            // The other 36 cold files, then round again: a slice is always full.
            assert_eq!(s.looks[2].len(), 1 + quick_check::COLD_PER_TICK);
            assert!(s.looks[2].contains(&dir.path().join("mac/p000/debug/.cargo-lock")));
        }
        // Something changed: the pace is lively, and the held file is looked at every time.
        until("a lively look", quick_check::LIVELY * 4, || looks() == 4).await;
        assert!(seen.lock().unwrap().looks[3].contains(&taken));
        assert_eq!(
            seen.lock().unwrap().passes,
            2,
            "a hold that stays is no change"
        );
        // A probe that answers None (Linux) was asked once, and never looked.
        assert_eq!(linux_seen.lock().unwrap().looks.len(), 1);
        assert_eq!(linux_seen.lock().unwrap().passes, 1);
        mac_tx.send(Command::Shutdown).unwrap();
        linux_tx.send(Command::Shutdown).unwrap();
        mac_run.await.unwrap();
        linux_run.await.unwrap();
    }
}
