//! The daemon's loop: a probe pass when woken (file event, command) or when the poll falls due,
//! the policy fed with samples, and its effects performed — history appended, log lines written,
//! notifications handed to the notifier, the snapshot published to the UI and IPC subscribers.
//!
//! The daemon sleeps when nothing changes: file events (inotify on Linux, FSEvents and kqueue on
//! macOS) wake it for lock files and progress, a status request reads afresh, and processes are
//! sampled at the poll interval only while an incident is open (someone waits, or a blocker is
//! suspect). Otherwise a pass runs once per idle interval: the safety net for lock files nobody
//! listed, and enough samples of a quiet hold to see it go stale.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::alarm::Alarm;
use super::history::{self, History};
use super::watcher::{FsWatcher, PlatformWakes, Wake};
use crate::config::Config;
use crate::core::catalog;
use crate::core::model::{FileKey, Report, Source};
use crate::core::policy::{
    self, BlockerSample, Effect, Event, HistoryEvent, HolderSample, LockSample, ProcId,
    WaiterSample,
};
use crate::core::report::{self as core_report, Knowledge};
use crate::kill::{KillReport, KillRequest};
use crate::probe::Probe;
use crate::scan::{self, WatchRoots};
use crate::ui::UiSnapshot;

/// How often the list of known lock files is refreshed (a few `read_dir`s), while nothing is
/// held: reading a watched directory would wake the watcher for nothing.
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
/// How often the cheap lock fingerprint is checked where file events miss acquisitions (macOS).
const QUICK_CHECK: Duration = Duration::from_millis(500);

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
}

/// Everything the loop owns.
pub struct Engine {
    probe: Box<dyn Probe>,
    config: Config,
    roots: WatchRoots,
    policy: policy::State,
    history: History,
    notifier: Box<dyn Notifier>,
    log_lines: bool,
    paused: bool,
    snoozed_until: Option<f64>,
    launch_at_login: bool,
    snapshot_tx: watch::Sender<UiSnapshot>,
    known: Vec<(PathBuf, catalog::LockKind)>,
    known_at: Option<std::time::Instant>,
    watcher: Option<FsWatcher>,
    platform_wakes: Option<PlatformWakes>,
    fingerprint: Option<u64>,
    last_report: Option<Report>,
    /// When the last pass ran (the next sample is due a cadence later).
    last_pass: tokio::time::Instant,
}

/// Knobs that are not configuration.
pub struct EngineOptions {
    /// Print state changes as plain lines on stdout (headless).
    pub log_lines: bool,
    /// The login agent is installed (shown in the menu).
    pub launch_at_login: bool,
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
        let mut policy = policy::State::new(config.stale.clone());
        let (events, _) = history.read();
        let (holds, waits) = history::open_episodes(&events);
        policy::apply(&mut policy, Event::Recovered { holds, waits });
        let empty = UiSnapshot {
            report: Report::empty(Source::Daemon, scan::now(), roots.cargo_homes.clone()),
            paused: false,
            snoozed_until: None,
            launch_at_login: opts.launch_at_login,
        };
        let (snapshot_tx, snapshot_rx) = watch::channel(empty);
        (
            Engine {
                probe,
                config,
                roots,
                policy,
                history,
                notifier,
                log_lines: opts.log_lines,
                paused: false,
                snoozed_until: None,
                launch_at_login: opts.launch_at_login,
                snapshot_tx,
                known: Vec::new(),
                known_at: None,
                watcher: None,
                platform_wakes: None,
                fingerprint: None,
                last_report: None,
                last_pass: tokio::time::Instant::now(),
            },
            snapshot_rx,
        )
    }

    /// Runs until a Shutdown command arrives or the command channel closes.
    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let (wake_tx, mut wake_rx) = mpsc::unbounded_channel();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<KillDone>();
        match FsWatcher::new(wake_tx.clone()) {
            Ok(w) => self.watcher = Some(w),
            Err(e) => tracing::warn!("file events unavailable ({e}); polling only"),
        }
        self.platform_wakes = Some(PlatformWakes::new(wake_tx.clone()));
        let mut follow_ups: Vec<tokio::time::Instant> = Vec::new();
        let mut alarm = Alarm::new();
        self.pass();
        let quick = self.probe.lock_fingerprint(&self.known).is_some();
        let mut next_quick = tokio::time::Instant::now() + QUICK_CHECK;
        loop {
            let next_sample = self.next_sample();
            let next_follow = follow_ups.iter().min().copied();
            let mut deadline = next_follow.map_or(next_sample, |f| f.min(next_sample));
            if quick {
                deadline = deadline.min(next_quick);
            }
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    None | Some(Command::Shutdown) => break,
                    Some(cmd) => self.command(cmd, &done_tx),
                },
                finished = done_rx.recv() => if let Some((report, reply)) = finished {
                    self.kill_done(report, reply);
                },
                wake = wake_rx.recv() => match wake {
                    Some(Wake::LockFile(_) | Wake::ProcessExited(_) | Wake::Overflow) => {
                        let now = tokio::time::Instant::now();
                        follow_ups.extend(FOLLOW_UPS.iter().map(|d| now + *d));
                    }
                    Some(Wake::Activity(key)) => {
                        policy::apply(&mut self.policy, Event::Activity { now: scan::now(), key });
                    }
                    Some(Wake::Failed(e)) => tracing::warn!("file watcher: {e}; polling continues"),
                    None => {}
                },
                _ = alarm.until(deadline) => {
                    let now = tokio::time::Instant::now();
                    let follow_up_due = follow_ups.iter().any(|t| *t <= now);
                    follow_ups.retain(|t| *t > now);
                    if quick && now >= next_quick && now < next_sample && !follow_up_due {
                        // Only the cheap check: a full pass when the held state changed.
                        next_quick = now + QUICK_CHECK;
                        if !self.paused && self.fingerprint_changed() {
                            self.pass();
                        }
                        continue;
                    }
                    self.pass();
                }
            }
        }
    }

    /// When the next pass is due without any event: a poll interval after the last pass while
    /// an incident is open, an idle interval after it otherwise.
    fn next_sample(&self) -> tokio::time::Instant {
        let watch = &self.config.watch;
        let every = if self.policy.incident_open() {
            watch.poll_interval
        } else {
            watch.idle_poll_interval.max(watch.poll_interval)
        };
        self.last_pass + every
    }

    fn command(&mut self, cmd: Command, done: &mpsc::UnboundedSender<KillDone>) {
        match cmd {
            Command::Kill(req, reply) => {
                // The kill waits up to its grace period for the release: run it aside so the
                // loop keeps sampling, publishing and answering meanwhile.
                let roots = self.roots.clone();
                aside(req.pid, done, reply, move |p| {
                    crate::kill::kill(p, &roots, req)
                });
            }
            Command::Resume(pid, token, reply) => {
                let roots = self.roots.clone();
                aside(pid, done, reply, move |p| {
                    crate::kill::resume(p, &roots, pid, token)
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
            Command::Refresh(reply) => {
                self.pass();
                let _ = reply.send(());
            }
            Command::Shutdown => {}
        }
    }

    /// Records a finished kill or resume, answers its requester and rescans.
    fn kill_done(&mut self, report: KillReport, reply: oneshot::Sender<KillReport>) {
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

    /// Whether the cheap lock fingerprint moved since the last look.
    fn fingerprint_changed(&mut self) -> bool {
        let now = self.probe.lock_fingerprint(&self.known);
        let changed = now != self.fingerprint;
        self.fingerprint = now;
        changed
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

    /// One probe pass, policy update and publication.
    pub fn pass(&mut self) {
        self.last_pass = tokio::time::Instant::now();
        if self.paused {
            return;
        }
        let due = self.known_at.is_none_or(|t| t.elapsed() >= KNOWN_REFRESH);
        if self.known_at.is_none() || (due && !self.policy.busy()) {
            self.known = scan::known_locks(&self.roots);
            self.known_at = Some(std::time::Instant::now());
        }
        let deep = true;
        let pass = match scan::pass_with_known(self.probe.as_mut(), self.known.clone(), deep) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("probe failed: {e}");
                return;
            }
        };
        let now = scan::now();
        let blockers = self.blocker_samples(&pass);
        let effects = policy::apply(
            &mut self.policy,
            Event::Observed {
                now,
                locks: lock_samples(&pass),
                blockers,
            },
        );
        let knowledge = Knowledge {
            hold_since: self.policy.hold_since(),
            wait_since: self.policy.wait_since(),
            since_unknown: self.policy.since_unknown(),
            network_silence: None,
            stale: Some(self.policy.verdicts()),
            ignore_names: self.config.watch.ignore_process_names.clone(),
        };
        let report = scan::report(&pass, &self.roots, Source::Daemon, &knowledge, now);
        self.update_watches(&pass);
        let mut history = Vec::new();
        for e in effects {
            match e {
                Effect::Log(line) => self.log(&line),
                Effect::RecordHistory(h) => history.push(h),
                Effect::UpdateUi => {}
            }
        }
        self.record(history);
        self.last_report = Some(report);
        // Publish every pass while something is held (times tick), otherwise only on change.
        self.publish();
        if self.config.notify.enabled {
            let snapshot = self.snapshot_tx.borrow().clone();
            self.notifier.snapshot(&snapshot, now);
        }
    }

    /// The root blockers of this pass, with what one pass can see about them.
    fn blocker_samples(&self, pass: &scan::Pass) -> Vec<BlockerSample> {
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
                    state: f.state,
                    tree_cpu_secs: f.tree_cpu_secs,
                    origin: crate::core::origin::classify(f).0,
                    locker_dead: signals.locker_dead,
                    deleted_lock: signals.deleted_lock,
                    deadlock: signals.deadlock,
                    pipe_held_open: signals.pipe_held_open,
                    network_silent_secs: signals.network_silent_secs,
                    ignored: ignore.iter().any(|n| n == &f.name),
                })
            })
            .collect()
    }

    fn update_watches(&mut self, pass: &scan::Pass) {
        let mut files: Vec<PathBuf> = self.known.iter().map(|(p, _)| p.clone()).collect();
        let mut domains: Vec<(FileKey, PathBuf)> = Vec::new();
        let mut pids: Vec<u32> = Vec::new();
        for s in &pass.sightings {
            if !s.deleted && !files.contains(&s.path) {
                files.push(s.path.clone());
            }
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
            for (path, err) in w.update(&files, &domains) {
                tracing::debug!("cannot watch {}: {err}", path.display());
            }
        }
        if let Some(p) = self.platform_wakes.as_mut() {
            p.update(&files, &pids);
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
        };
        let busy = self.policy.busy();
        self.snapshot_tx.send_if_modified(|old| {
            let changed = old.report.locks != snap.report.locks
                || old.report.incidents != snap.report.incidents
                || old.paused != snap.paused
                || old.snoozed_until != snap.snoozed_until
                || busy;
            *old = snap;
            changed
        });
    }

    fn record(&self, events: Vec<HistoryEvent>) {
        if let Err(e) = self.history.append(&events) {
            tracing::warn!(
                "cannot write history {}: {e}",
                self.history.path().display()
            );
        }
    }

    fn log(&self, line: &str) {
        if self.log_lines {
            let t = chrono_like_now();
            println!("{t}  {line}");
        }
        tracing::info!("{line}");
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

/// Every lock of the pass with its holders and waiters; each waiter names its root blockers.
fn lock_samples(pass: &scan::Pass) -> Vec<LockSample> {
    let id = |f: &crate::core::model::ProcessFacts| ProcId {
        pid: f.pid,
        start_token: f.start_token,
    };
    let root_blockers = |pid: u32| -> Vec<&crate::core::model::ProcessFacts> {
        let incidents = pass.graph.incidents_blocking(pid).into_iter();
        incidents
            .filter_map(|i| pass.facts.get(&i.blocker?))
            .collect()
    };
    pass.sightings
        .iter()
        .map(|s| LockSample {
            key: s.key,
            path: s.path.clone(),
            kind: s.kind,
            // A child sharing its parent's descriptor is the parent's hold, not one of its own.
            holders: s
                .holders
                .iter()
                .filter(|h| !pass.graph.part_of_parent(h.pid, s.key, &pass.facts))
                .filter_map(|h| {
                    let f = pass.facts.get(&h.pid)?;
                    Some(HolderSample {
                        id: id(f),
                        name: f.name.clone(),
                        cmd: f.cmd.clone(),
                        mode: h.mode,
                    })
                })
                .collect(),
            waiters: s
                .waiters
                .iter()
                .filter_map(|w| {
                    let f = pass.facts.get(&w.pid)?;
                    let roots = root_blockers(w.pid);
                    Some(WaiterSample {
                        id: id(f),
                        name: f.name.clone(),
                        cmd: f.cmd.clone(),
                        blocked_by: roots.iter().map(|r| (r.name.clone(), r.pid)).collect(),
                        blocked_by_cmd: roots.iter().map(|r| r.cmd.clone()).collect(),
                    })
                })
                .collect(),
        })
        .collect()
}

/// `HH:MM:SS` in local time without pulling in a date crate.
fn chrono_like_now() -> String {
    // SAFETY: time/localtime_r write only into the struct we pass.
    unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec)
    }
}
