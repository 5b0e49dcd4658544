//! The tray menu as plain data: what it says and what each item does, built from a
//! [`UiSnapshot`]'s incidents and the current time. One row per incident (who blocks whom),
//! with a submenu of actions on the one process worth acting on: the blocker, or the culprit
//! that keeps it stuck, or a deadlock's chosen victim. Waiters get no action. Keeping it pure
//! means the wording, the force-kill confirmation and the mapping of a click to a
//! [`UiCommand`] are unit-tested without a GUI; the tray only mirrors the model into native
//! menu items.
//!
//! Item ids are stable across refreshes: an action's id encodes what it acts on (pid and start
//! token), so a click on an item built from an older snapshot still reaches the right process,
//! and the tray can update labels in place while the menu is open.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use super::icons::IconState;
use super::{SnoozeFor, UiCommand, UiSnapshot};
use crate::core::model::{Doing, IncidentReport, IncidentState, LockState, ProcessReport, Report};
use crate::core::text::{duration, tilde};
use crate::core::words;

/// How long a "Really force kill …?" item waits for its confirming click.
pub const FORCE_KILL_CONFIRM_SECS: f64 = 10.0;

/// Waiters listed per incident before the rest are summed up.
const MAX_WAITERS_LISTED: usize = 5;

/// How long an incident that left the report can still be copied or revealed from an old menu.
const FORGET_AFTER_SECS: f64 = 60.0;

/// Longest label, in characters, before it is shortened with `…`.
const MAX_LABEL_CHARS: usize = 90;
/// Width of a wrapped sentence's rows (narrower than the clip: the menu stays compact).
const WRAP_CHARS: usize = 70;
/// Rows a wrapped sentence may take.
const MAX_WRAPPED_ROWS: usize = 4;

/// One menu entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A line of text: an action when enabled, information when not.
    Item {
        /// Stable id (see [`Action::id`]).
        id: String,
        /// What it says.
        label: String,
        /// Clickable.
        enabled: bool,
    },
    /// A checkbox item.
    Check {
        /// Stable id.
        id: String,
        /// What it says.
        label: String,
        /// Ticked.
        checked: bool,
    },
    /// A separator line.
    Separator,
    /// A nested menu.
    Submenu {
        /// Stable id.
        id: String,
        /// What it says.
        label: String,
        /// Its entries.
        entries: Vec<Entry>,
    },
}

impl Entry {
    /// What the entry is, without what it says: two entries with the same key are the same
    /// native item, whose label and state can change in place.
    pub fn key(&self) -> String {
        match self {
            Entry::Item { id, .. } => format!("item {id}"),
            Entry::Check { id, .. } => format!("check {id}"),
            Entry::Separator => "separator".into(),
            Entry::Submenu { id, .. } => format!("submenu {id}"),
        }
    }
}

/// Everything the tray shows for one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuModel {
    /// The one-line verdict at the top of the menu.
    pub title: String,
    /// Hover text for the icon.
    pub tooltip: String,
    /// Which icon to show.
    pub icon: IconState,
    /// The menu, title line first.
    pub entries: Vec<Entry>,
}

impl MenuModel {
    /// The menu's structure without its texts: two models with the same shape differ only in
    /// labels, enabled and checked states, so the tray can update items in place.
    pub fn shape(&self) -> Vec<String> {
        fn walk(entries: &[Entry], out: &mut Vec<String>) {
            for e in entries {
                out.push(e.key());
                if let Entry::Submenu { entries, .. } = e {
                    walk(entries, out);
                    out.push("end".into());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.entries, &mut out);
        out
    }

    /// Finds an entry by id, anywhere in the menu.
    pub fn find(&self, id: &str) -> Option<&Entry> {
        fn walk<'a>(entries: &'a [Entry], id: &str) -> Option<&'a Entry> {
            entries.iter().find_map(|e| match e {
                Entry::Item { id: i, .. } | Entry::Check { id: i, .. } if i == id => Some(e),
                Entry::Submenu {
                    id: i, entries: es, ..
                } => {
                    if i == id {
                        Some(e)
                    } else {
                        walk(es, id)
                    }
                }
                _ => None,
            })
        }
        walk(&self.entries, id)
    }
}

/// What clicking an item means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// SIGCONT this stopped blocker.
    Resume {
        /// Blocker pid.
        pid: u32,
        /// Its start token.
        start_token: u64,
    },
    /// SIGTERM this blocker (or culprit).
    Terminate {
        /// Holder pid.
        pid: u32,
        /// Its start token.
        start_token: u64,
    },
    /// First step of terminating a holder that is busy and nobody waits for: ask for
    /// confirmation (the CLI asks too, or wants `--yes`).
    ArmTerminate {
        /// Holder pid.
        pid: u32,
        /// Its start token.
        start_token: u64,
    },
    /// Second step: the user confirmed terminating a busy holder.
    ConfirmTerminate {
        /// Holder pid.
        pid: u32,
        /// Its start token.
        start_token: u64,
    },
    /// First step of a force kill: ask for confirmation.
    ArmForceKill {
        /// Holder pid.
        pid: u32,
        /// Its start token.
        start_token: u64,
    },
    /// Second step: the user confirmed the force kill.
    ConfirmForceKill {
        /// Holder pid.
        pid: u32,
        /// Its start token.
        start_token: u64,
    },
    /// Copy a bug-report text about this holder to the clipboard.
    CopyDiagnostics {
        /// Holder pid.
        pid: u32,
        /// Its start token.
        start_token: u64,
    },
    /// Open the holder's project folder.
    RevealProject {
        /// Holder pid.
        pid: u32,
        /// Its start token.
        start_token: u64,
    },
    /// Snooze notifications (or cancel a snooze).
    Snooze(SnoozeFor),
    /// Pause or resume watching.
    TogglePaused,
    /// Show the history summary.
    OpenHistory,
    /// Install or remove the login agent.
    ToggleLaunchAtLogin,
    /// Turn "Your build first" (`policy.yield_ide`) on or off.
    ToggleYieldIde,
    /// Quit the daemon.
    Quit,
}

impl Action {
    /// The menu id for this action; [`Action::parse`] reads it back.
    pub fn id(self) -> String {
        let holder = |verb: &str, pid: u32, token: u64| format!("{verb}/{pid}/{token}");
        match self {
            Action::Resume { pid, start_token } => holder("resume", pid, start_token),
            Action::Terminate { pid, start_token } => holder("terminate", pid, start_token),
            Action::ArmTerminate { pid, start_token } => holder("terminate-arm", pid, start_token),
            Action::ConfirmTerminate { pid, start_token } => {
                holder("terminate-confirm", pid, start_token)
            }
            Action::ArmForceKill { pid, start_token } => holder("force-kill", pid, start_token),
            Action::ConfirmForceKill { pid, start_token } => {
                holder("force-kill-confirm", pid, start_token)
            }
            Action::CopyDiagnostics { pid, start_token } => holder("copy", pid, start_token),
            Action::RevealProject { pid, start_token } => holder("reveal", pid, start_token),
            Action::Snooze(SnoozeFor::Minutes15) => "snooze/15m".into(),
            Action::Snooze(SnoozeFor::Hour1) => "snooze/1h".into(),
            Action::Snooze(SnoozeFor::UntilTomorrow) => "snooze/tomorrow".into(),
            Action::Snooze(SnoozeFor::Off) => "snooze/off".into(),
            Action::TogglePaused => "pause".into(),
            Action::OpenHistory => "history".into(),
            Action::ToggleLaunchAtLogin => "launch-at-login".into(),
            Action::ToggleYieldIde => "yield-ide".into(),
            Action::Quit => "quit".into(),
        }
    }

    /// Reads an id made by [`Action::id`]; informational items and unknown ids give `None`.
    pub fn parse(id: &str) -> Option<Action> {
        let mut parts = id.split('/');
        let verb = parts.next()?;
        let rest: Vec<&str> = parts.collect();
        let holder = || -> Option<(u32, u64)> {
            match rest.as_slice() {
                [pid, token] => Some((pid.parse().ok()?, token.parse().ok()?)),
                _ => None,
            }
        };
        let simple = |a: Action| rest.is_empty().then_some(a);
        match verb {
            "resume" => holder().map(|(pid, start_token)| Action::Resume { pid, start_token }),
            "terminate" => {
                holder().map(|(pid, start_token)| Action::Terminate { pid, start_token })
            }
            "terminate-arm" => {
                holder().map(|(pid, start_token)| Action::ArmTerminate { pid, start_token })
            }
            "terminate-confirm" => {
                holder().map(|(pid, start_token)| Action::ConfirmTerminate { pid, start_token })
            }
            "force-kill" => {
                holder().map(|(pid, start_token)| Action::ArmForceKill { pid, start_token })
            }
            "force-kill-confirm" => {
                holder().map(|(pid, start_token)| Action::ConfirmForceKill { pid, start_token })
            }
            "copy" => {
                holder().map(|(pid, start_token)| Action::CopyDiagnostics { pid, start_token })
            }
            "reveal" => {
                holder().map(|(pid, start_token)| Action::RevealProject { pid, start_token })
            }
            "snooze" => match rest.as_slice() {
                ["15m"] => Some(Action::Snooze(SnoozeFor::Minutes15)),
                ["1h"] => Some(Action::Snooze(SnoozeFor::Hour1)),
                ["tomorrow"] => Some(Action::Snooze(SnoozeFor::UntilTomorrow)),
                ["off"] => Some(Action::Snooze(SnoozeFor::Off)),
                _ => None,
            },
            "pause" => simple(Action::TogglePaused),
            "history" => simple(Action::OpenHistory),
            "launch-at-login" => simple(Action::ToggleLaunchAtLogin),
            "yield-ide" => simple(Action::ToggleYieldIde),
            "quit" => simple(Action::Quit),
            _ => None,
        }
    }
}

/// What the tray must do after a click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send this command to the daemon.
    Send(UiCommand),
    /// Put this text on the clipboard.
    Copy(String),
    /// The menu changed without a new snapshot (a confirmation armed or expired): rebuild it.
    Redraw,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Armed {
    pid: u32,
    start_token: u64,
    until: f64,
    /// A force kill (else a terminate of a busy holder).
    force: bool,
}

/// What an action item needs after its snapshot is gone: its incident, to write diagnostics and
/// find the project.
#[derive(Debug, Clone)]
struct Known {
    incident: IncidentReport,
}

/// The menu's own state across snapshots: the armed force-kill confirmation, the last
/// toggles, and the incidents recent menus showed (so a late click still resolves).
#[derive(Debug, Clone, Default)]
pub struct MenuState {
    armed: Option<Armed>,
    paused: bool,
    launch_at_login: bool,
    yield_ide: bool,
    known: HashMap<(u32, u64), Known>,
    /// Action targets that left the report, with the time they left.
    gone: HashMap<(u32, u64), (Known, f64)>,
}

impl MenuState {
    /// A fresh state: nothing armed, nothing known.
    pub fn new() -> MenuState {
        MenuState::default()
    }

    /// Builds the menu for `snapshot` at Unix time `now` (times in the report are advanced from
    /// the report's `observed_at` to `now`, so they tick between snapshots).
    pub fn build(&mut self, snapshot: &UiSnapshot, now: f64) -> MenuModel {
        if self.armed.is_some_and(|a| now > a.until) {
            self.armed = None;
        }
        self.paused = snapshot.paused;
        self.launch_at_login = snapshot.launch_at_login;
        self.yield_ide = snapshot.yield_ide;

        let report = &snapshot.report;
        let elapsed = (now - report.observed_at).max(0.0);
        self.remember_targets(report, now);

        let own = &report.cargo_homes;
        let incidents = in_menu_order(&report.incidents, own);
        let title = title(snapshot, &incidents, elapsed);
        let mut entries = vec![Entry::Item {
            id: "title".into(),
            label: clip(&title),
            enabled: false,
        }];
        if !incidents.is_empty() {
            entries.push(Entry::Separator);
        }
        for i in &incidents {
            entries.push(self.incident_row(i, elapsed, own));
        }
        entries.extend(settings_entries(snapshot, now));

        MenuModel {
            tooltip: format!("cargo-lockwatch: {title}"),
            title,
            icon: IconState::of(snapshot),
            entries,
        }
    }

    /// Notes the action targets `report` shows (blockers, culprits) with their incidents, and
    /// keeps those that left it for a minute, so a late click still resolves.
    fn remember_targets(&mut self, report: &Report, now: f64) {
        let mut known = HashMap::new();
        for i in &report.incidents {
            for p in i.blocker.iter().chain(i.culprit.iter()) {
                known.insert(
                    (p.pid, p.start_token),
                    Known {
                        incident: i.clone(),
                    },
                );
            }
        }
        for (key, old) in std::mem::replace(&mut self.known, known) {
            if !self.known.contains_key(&key) {
                self.gone.entry(key).or_insert((old, now));
            }
        }
        let known = &self.known;
        self.gone
            .retain(|key, (_, left)| !known.contains_key(key) && now - *left <= FORGET_AFTER_SECS);
    }

    /// One row per incident: what it is at a glance, and a submenu with the actions on the
    /// process worth acting on, then who waits, what the blocker does and the verdict.
    fn incident_row(&self, i: &IncidentReport, elapsed: f64, own: &[PathBuf]) -> Entry {
        let info = |suffix: &str, label: String| Entry::Item {
            id: format!("info/{}/{suffix}", i.id),
            label: clip(&label),
            enabled: false,
        };
        let mut entries = Vec::new();
        for b in i.blocked.iter().take(MAX_WAITERS_LISTED) {
            let key = format!("waiter/{}", b.process.pid);
            entries.push(info(&key, words::blocked_short(b, elapsed)));
        }
        if i.blocked.len() > MAX_WAITERS_LISTED {
            let more = i.blocked.len() - MAX_WAITERS_LISTED;
            entries.push(info("waiters-more", format!("… and {more} more waiting")));
        }
        match &i.blocker {
            Some(b) => entries.push(info("blocker", blocker_line(i, b, elapsed))),
            None => entries.push(info(
                "unseen",
                "held by a process you cannot inspect".into(),
            )),
        }
        entries.push(info("doing", format!("doing: {}", words::doing(i))));
        if let Some(t) = words::typical(i, elapsed) {
            entries.push(info("typical", t));
        }
        if let Some(p) = words::project(i) {
            entries.push(info("project", format!("in {}", tilde(&p))));
        }
        if !i.stale_reasons.is_empty() || i.culprit.is_some() {
            // The verdict is the sentence to read whole: wrapped, not clipped.
            for (n, line) in wrap(&i.verdict).into_iter().enumerate() {
                entries.push(info(&format!("verdict/{n}"), line));
            }
        }
        // The actions lead: rows that come and go above them (a waiter, a verdict's second line)
        // would move them under the pointer of a menu held open.
        let mut actions = self.actions(i);
        if !actions.is_empty() {
            actions.push(Entry::Separator);
        }
        actions.extend(entries);
        let entries = actions;
        Entry::Submenu {
            id: format!("incident/{}", i.id),
            label: clip(&format!(
                "{} · {}",
                words::badge(i),
                words::headline_for(i, None, own)
            )),
            entries,
        }
    }

    /// Resume (when stopped), Terminate (unless it ignores SIGTERM: that is said instead), Force
    /// kill… with confirmation, Copy diagnostics, Reveal project: on the culprit when there is
    /// one, else on the blocker. None while watching is paused: the rows are what was seen
    /// before, and acting on them would act on an old picture.
    fn actions(&self, i: &IncidentReport) -> Vec<Entry> {
        let Some(target) = i.culprit.as_ref().or(i.blocker.as_ref()) else {
            return Vec::new();
        };
        if self.paused {
            return vec![Entry::Item {
                id: format!("info/{}/paused", i.id),
                label: "Watching is paused: as seen before; untick Pause watching to act".into(),
                enabled: false,
            }];
        }
        let (pid, start_token) = (target.pid, target.start_token);
        let name = &target.name;
        let mut out = Vec::new();
        if i.culprit.is_none() && i.doing.is_suspended() {
            out.push(item(
                Action::Resume { pid, start_token },
                &format!("Resume {name} {pid}"),
            ));
        }
        // SIGTERM would do nothing: say so where Terminate would be, and leave Force kill.
        match target.sigterm.words() {
            Some(words) => out.push(Entry::Item {
                id: format!("info/{}/sigterm", i.id),
                label: clip(&format!("{name} {pid}: {words}; only Force kill stops it")),
                enabled: false,
            }),
            None if i.looks_busy() || i.ignored => out.push(self.two_step(
                (pid, start_token),
                false,
                &format!("Terminate {name} {pid}…"),
                &match (i.ignored, i.blocked.is_empty()) {
                    (true, _) => format!("Really terminate {pid}? Your config ignores {name}"),
                    (false, true) => format!("Really terminate {pid}? It is busy and nobody waits"),
                    (false, false) => {
                        format!("Really terminate {pid}? It is busy: waiting is usually right")
                    }
                },
            )),
            None => out.push(item(
                Action::Terminate { pid, start_token },
                &format!("Terminate {name} {pid}"),
            )),
        }
        out.push(self.two_step(
            (pid, start_token),
            true,
            &format!("Force kill {name} {pid}…"),
            &format!("Really force kill {pid}?"),
        ));
        out.push(item(
            Action::CopyDiagnostics { pid, start_token },
            "Copy diagnostics",
        ));
        if words::project(i).is_some() {
            out.push(item(
                Action::RevealProject { pid, start_token },
                "Reveal project folder",
            ));
        }
        out
    }

    /// An action that takes two clicks (`force`: a force kill, else a terminate): `arm` until
    /// it is armed, then `really` with the time left to confirm.
    fn two_step(
        &self,
        (pid, start_token): (u32, u64),
        force: bool,
        arm: &str,
        really: &str,
    ) -> Entry {
        let (arm_action, confirm) = if force {
            (
                Action::ArmForceKill { pid, start_token },
                Action::ConfirmForceKill { pid, start_token },
            )
        } else {
            (
                Action::ArmTerminate { pid, start_token },
                Action::ConfirmTerminate { pid, start_token },
            )
        };
        if self.is_armed(pid, start_token, force) {
            let secs = FORCE_KILL_CONFIRM_SECS as u64;
            item(confirm, &format!("{really} (click within {secs}s)"))
        } else {
            item(arm_action, arm)
        }
    }

    /// Handles a click on the item with this id at Unix time `now`.
    pub fn click(&mut self, id: &str, now: f64) -> Vec<Effect> {
        let Some(action) = Action::parse(id) else {
            return Vec::new();
        };
        let send = |c: UiCommand| vec![Effect::Send(c)];
        match action {
            Action::Resume { pid, start_token } => send(UiCommand::Resume { pid, start_token }),
            Action::Terminate { pid, start_token } => {
                send(UiCommand::Terminate { pid, start_token })
            }
            Action::ArmTerminate { pid, start_token } => self.arm(pid, start_token, false, now),
            Action::ArmForceKill { pid, start_token } => self.arm(pid, start_token, true, now),
            Action::ConfirmTerminate { pid, start_token } => self.confirm(
                pid,
                start_token,
                false,
                now,
                UiCommand::Terminate { pid, start_token },
            ),
            Action::ConfirmForceKill { pid, start_token } => self.confirm(
                pid,
                start_token,
                true,
                now,
                UiCommand::ForceKill { pid, start_token },
            ),
            Action::CopyDiagnostics { pid, start_token } => self
                .lookup(pid, start_token)
                .map(|k| vec![Effect::Copy(diagnostics(&k.incident))])
                .unwrap_or_default(),
            Action::RevealProject { pid, start_token } => self
                .lookup(pid, start_token)
                .and_then(|k| words::project(&k.incident))
                .map(|p| send(UiCommand::RevealProject(p)))
                .unwrap_or_default(),
            Action::Snooze(s) => send(UiCommand::Snooze(s)),
            Action::TogglePaused => send(UiCommand::SetPaused(!self.paused)),
            Action::OpenHistory => send(UiCommand::OpenHistory),
            Action::ToggleLaunchAtLogin => send(UiCommand::SetLaunchAtLogin(!self.launch_at_login)),
            Action::ToggleYieldIde => send(UiCommand::SetYieldIde(!self.yield_ide)),
            Action::Quit => send(UiCommand::Quit),
        }
    }

    /// Arms the confirmation of a terminate (`force`: a force kill) of this process.
    fn arm(&mut self, pid: u32, start_token: u64, force: bool, now: f64) -> Vec<Effect> {
        self.armed = Some(Armed {
            pid,
            start_token,
            until: now + FORCE_KILL_CONFIRM_SECS,
            force,
        });
        vec![Effect::Redraw]
    }

    /// Sends `command` when the confirmation clicked is the one armed, in time.
    fn confirm(
        &mut self,
        pid: u32,
        start_token: u64,
        force: bool,
        now: f64,
        command: UiCommand,
    ) -> Vec<Effect> {
        match self.armed.take() {
            Some(a)
                if a.pid == pid
                    && a.start_token == start_token
                    && a.force == force
                    && now <= a.until =>
            {
                vec![Effect::Send(command), Effect::Redraw]
            }
            _ => vec![Effect::Redraw],
        }
    }

    /// Whether a confirmation of this kind (`force`) is armed for this process.
    fn is_armed(&self, pid: u32, start_token: u64, force: bool) -> bool {
        self.armed
            .is_some_and(|a| a.pid == pid && a.start_token == start_token && a.force == force)
    }

    /// When the armed force-kill confirmation expires (so the tray can ask for a redraw then).
    pub fn armed_until(&self) -> Option<f64> {
        self.armed.map(|a| a.until)
    }

    fn lookup(&self, pid: u32, start_token: u64) -> Option<&Known> {
        self.known
            .get(&(pid, start_token))
            .or_else(|| self.gone.get(&(pid, start_token)).map(|(k, _)| k))
    }
}

fn item(action: Action, label: &str) -> Entry {
    Entry::Item {
        id: action.id(),
        label: clip(label),
        enabled: true,
    }
}

/// The menu's fixed tail, after a separator: snooze, the toggles, history, and quit.
fn settings_entries(snapshot: &UiSnapshot, now: f64) -> Vec<Entry> {
    vec![
        Entry::Separator,
        snooze_menu(snapshot.snoozed_until, now),
        Entry::Check {
            id: Action::TogglePaused.id(),
            label: "Pause watching".into(),
            checked: snapshot.paused,
        },
        Entry::Check {
            id: Action::ToggleYieldIde.id(),
            label: "Your build first (stop IDE checks blocking it)".into(),
            checked: snapshot.yield_ide,
        },
        item(Action::OpenHistory, "Open history"),
        Entry::Check {
            id: Action::ToggleLaunchAtLogin.id(),
            label: "Launch at login".into(),
            checked: snapshot.launch_at_login,
        },
        Entry::Separator,
        item(Action::Quit, "Quit cargo-lockwatch"),
    ]
}

/// Whether terminating `i`'s blocker needs a second click: it holds locks nobody waits for and
/// does not look stuck (the CLI asks too, or wants `--yes`). A slip of the pointer must not end
/// a 20-minute release build.
fn snooze_menu(snoozed_until: Option<f64>, now: f64) -> Entry {
    let left = snoozed_until.map(|u| u - now).filter(|l| *l > 0.0);
    let mut entries = vec![
        item(Action::Snooze(SnoozeFor::Minutes15), "For 15 minutes"),
        item(Action::Snooze(SnoozeFor::Hour1), "For 1 hour"),
        item(Action::Snooze(SnoozeFor::UntilTomorrow), "Until tomorrow"),
    ];
    let label = match left {
        Some(left) => {
            entries.push(Entry::Separator);
            entries.push(item(Action::Snooze(SnoozeFor::Off), "Resume notifications"));
            format!("Notifications snoozed ({} left)", duration(left))
        }
        None => "Snooze notifications".to_string(),
    };
    Entry::Submenu {
        id: "snooze".into(),
        label,
        entries,
    }
}

/// `cargo 4242 · terminal: zsh · held 3m35s · STOPPED`.
fn blocker_line(i: &IncidentReport, b: &ProcessReport, elapsed: f64) -> String {
    let mut parts = vec![
        words::who(b),
        words::origin(b.origin, b.origin_via.as_deref()),
    ];
    parts.extend(words::held(i, elapsed));
    if i.doing == Doing::Stopped {
        parts.push("STOPPED".into());
    }
    if let Doing::ChildStopped { pid, .. } = &i.doing {
        parts.push(format!("CHILD {pid} STOPPED"));
    }
    parts.join(" · ")
}

/// The verdict line: "All Cargo locks free", the worst incident's headline, "STALE: …".
/// The incidents in the report's order (the worst first), the reader's own before another
/// Cargo home's within each state: another home's stale package cache (a test suite's, a
/// colleague's) does not take the title from the user's own.
fn in_menu_order<'a>(incidents: &'a [IncidentReport], own: &[PathBuf]) -> Vec<&'a IncidentReport> {
    let mut out: Vec<&IncidentReport> = incidents.iter().collect();
    let rank = |s: IncidentState| match s {
        IncidentState::Stale => 0,
        IncidentState::Blocking => 1,
        IncidentState::Holding => 2,
    };
    out.sort_by_key(|i| (rank(i.state), words::is_foreign(i, own)));
    out
}

fn title(snapshot: &UiSnapshot, incidents: &[&IncidentReport], elapsed: f64) -> String {
    if snapshot.paused {
        return "Watching paused".into();
    }
    let report = &snapshot.report;
    let Some(worst) = incidents.first() else {
        let shared = report
            .locks
            .iter()
            .filter(|l| l.state == LockState::Background)
            .count();
        return match shared {
            0 => "All Cargo locks free".into(),
            n => format!("Nothing blocked ({n} shared lock{} in use)", plural(n)),
        };
    };
    let mut t = String::new();
    if worst.state == crate::core::model::IncidentState::Stale {
        t.push_str("STALE: ");
    }
    t.push_str(&words::headline_for(
        worst,
        Some(elapsed),
        &report.cargo_homes,
    ));
    if incidents.len() > 1 {
        let _ = write!(t, " (+{} more)", incidents.len() - 1);
    }
    t
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `text` in rows of at most [`WRAP_CHARS`], at most [`MAX_WRAPPED_ROWS`] of them (the last
/// clipped).
fn wrap(text: &str) -> Vec<String> {
    let mut rows: Vec<String> = textwrap::wrap(text, WRAP_CHARS)
        .into_iter()
        .map(|r| r.into_owned())
        .collect();
    if rows.len() > MAX_WRAPPED_ROWS {
        let rest = rows.split_off(MAX_WRAPPED_ROWS - 1).join(" ");
        rows.push(clip_to(&rest, WRAP_CHARS));
    }
    rows
}

fn clip(label: &str) -> String {
    clip_to(label, MAX_LABEL_CHARS)
}

fn clip_to(label: &str, chars: usize) -> String {
    if label.chars().count() <= chars {
        return label.to_string();
    }
    let mut s: String = label.chars().take(chars - 1).collect();
    s.push('…');
    s
}

/// A plain-text report about one incident, for pasting into a bug report: the verdict and the
/// incident exactly as the daemon reported it (JSON).
pub fn diagnostics(incident: &IncidentReport) -> String {
    let json = serde_json::to_string_pretty(incident)
        .unwrap_or_else(|e| format!("(the incident could not be written as JSON: {e})"));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cargo-lockwatch {} diagnostics",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "os: {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    let _ = writeln!(out, "state: {:?}", incident.state);
    let _ = writeln!(out, "verdict: {}", incident.verdict);
    let _ = writeln!(out, "doing: {}", words::doing(incident));
    if let Some(p) = words::project(incident) {
        let _ = writeln!(out, "project: {}", p.display());
    }
    let _ = writeln!(out, "blocked: {}", incident.blocked.len());
    for b in &incident.blocked {
        let p = &b.process;
        // Pasted somewhere (a terminal, a bug report): a command line's control characters
        // escaped, as the name's are.
        let cmd = crate::core::text::printable(&p.cmd.join(" "));
        let _ = writeln!(out, "  {} {} {cmd}", p.pid, p.name);
    }
    let _ = writeln!(out, "incident:\n{json}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::demo::{self, Stage};

    const T0: f64 = 1_700_000_000.0;

    fn menu_ids(m: &MenuModel) -> Vec<String> {
        fn walk(es: &[Entry], out: &mut Vec<String>) {
            for e in es {
                match e {
                    Entry::Item { id, .. } | Entry::Check { id, .. } => out.push(id.clone()),
                    Entry::Submenu { entries, .. } => walk(entries, out),
                    Entry::Separator => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&m.entries, &mut out);
        out
    }

    fn labels(m: &MenuModel) -> Vec<String> {
        fn walk(es: &[Entry], out: &mut Vec<String>) {
            for e in es {
                match e {
                    Entry::Item { label, .. } | Entry::Check { label, .. } => {
                        out.push(label.clone())
                    }
                    Entry::Separator => out.push("---".into()),
                    Entry::Submenu { label, entries, .. } => {
                        out.push(format!("{label} >"));
                        walk(entries, out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&m.entries, &mut out);
        out
    }

    fn enabled(m: &MenuModel, id: &str) -> bool {
        matches!(m.find(id), Some(Entry::Item { enabled: true, .. }))
    }

    #[test]
    fn idle_menu_says_all_free_and_has_the_global_items() {
        let mut st = MenuState::new();
        let m = st.build(&demo::snapshot(Stage::Idle, T0), T0);
        assert_eq!(m.title, "All Cargo locks free");
        assert_eq!(m.icon, IconState::Idle);
        assert_eq!(
            labels(&m),
            [
                "All Cargo locks free",
                "---",
                "Snooze notifications >",
                "For 15 minutes",
                "For 1 hour",
                "Until tomorrow",
                "Pause watching",
                "Your build first (stop IDE checks blocking it)",
                "Open history",
                "Launch at login",
                "---",
                "Quit cargo-lockwatch",
            ]
        );
        assert!(matches!(
            m.find("launch-at-login"),
            Some(Entry::Check { checked: true, .. })
        ));
    }

    #[test]
    fn held_title_and_times_tick_from_observed_at() {
        let mut st = MenuState::new();
        let snap = demo::snapshot(Stage::Held, T0);
        let m = st.build(&snap, T0);
        assert_eq!(
            m.title,
            "cargo build 4242 holds the package cache, held 3m12s"
        );
        let later = st.build(&snap, T0 + 10.0);
        assert_eq!(
            later.title,
            "cargo build 4242 holds the package cache, held 3m22s"
        );
        assert_eq!(
            m.shape(),
            later.shape(),
            "ticking must not change the shape"
        );
    }

    #[test]
    fn one_row_per_incident_naming_blocked_and_blocker_and_no_action_for_the_waiter() {
        let mut st = MenuState::new();
        let m = st.build(&demo::snapshot(Stage::Contended, T0), T0);
        assert_eq!(
            m.title,
            "cargo build 4242 blocks cargo check 12s · package cache"
        );
        assert_eq!(m.icon, IconState::Contended);
        let l = labels(&m);
        let home = tilde(&demo::project_dir());
        let rows: Vec<&String> = l.iter().filter(|s| s.ends_with(" >")).collect();
        assert_eq!(
            rows,
            [
                "WAITING · cargo build 4242 blocks cargo check · package cache >",
                "Snooze notifications >"
            ],
            "one row for the incident, none for the shared mutation lock: {l:#?}"
        );
        assert!(
            l.contains(
                &"cargo check 4250 waits 12s for the package cache · IDE: rust-analyzer"
                    .to_string()
            ),
            "{l:#?}"
        );
        assert!(
            l.contains(&"cargo 4242 · terminal: zsh · held 3m35s".to_string()),
            "{l:#?}"
        );
        assert!(
            l.contains(&"doing: compiling serde, tokio".to_string()),
            "{l:#?}"
        );
        assert!(l.contains(&format!("in {home}")), "{l:#?}");
        // Busy, not stale: waiting is usually right, so Terminate takes a second click.
        assert!(l.contains(&"Terminate cargo 4242…".to_string()), "{l:#?}");
        assert!(l.contains(&"Force kill cargo 4242…".to_string()));
        assert!(!l.iter().any(|s| s.starts_with("Resume")), "not stopped");
        assert!(enabled(&m, "terminate-arm/4242/777"));
        assert!(enabled(&m, "copy/4242/777"));
        assert!(enabled(&m, "reveal/4242/777"));
        assert!(!enabled(&m, "title"));
        let waiter_actions: Vec<String> = m
            .shape()
            .into_iter()
            .filter(|s| s.contains("/4250/") && !s.contains("info/"))
            .collect();
        assert!(waiter_actions.is_empty(), "{waiter_actions:?}");
    }

    #[test]
    fn stale_row_offers_resume_first_and_says_why() {
        let mut st = MenuState::new();
        let m = st.build(&demo::snapshot(Stage::Stale, T0), T0);
        assert_eq!(
            m.title,
            "STALE: cargo build 4242 (stopped) blocks cargo check 45s · package cache"
        );
        assert_eq!(m.icon, IconState::Stale);
        let l = labels(&m);
        assert!(
            l.iter()
                .any(|s| s.starts_with("STALE · cargo build 4242 (stopped)")),
            "{l:#?}"
        );
        assert!(l.iter().any(|s| s.ends_with("· STOPPED")), "{l:#?}");
        assert!(l.iter().any(|s| s.contains("looks stale")), "{l:#?}");
        let resume = l
            .iter()
            .position(|s| s == "Resume cargo 4242")
            .expect("resume");
        let terminate = l
            .iter()
            .position(|s| s == "Terminate cargo 4242")
            .expect("terminate");
        assert!(resume < terminate);
        // The actions lead the incident's submenu; who waits and why follow the separator, so
        // rows coming and going never move an action under the pointer.
        let row = l
            .iter()
            .position(|s| s.starts_with("STALE · cargo build 4242"));
        let row = row.expect("incident row");
        assert_eq!(resume, row + 1, "{l:#?}");
        let sep = row + l[row..].iter().position(|s| s == "---").expect("separator");
        assert!(sep > terminate && l[sep + 1].contains("waits"), "{l:#?}");
        assert_eq!(
            st.click("resume/4242/777", T0),
            [Effect::Send(UiCommand::Resume {
                pid: 4242,
                start_token: 777
            })]
        );
    }

    #[test]
    fn worst_incident_wins_the_title_and_others_are_counted() {
        let mut snap = demo::snapshot(Stage::Stale, T0);
        let mut held = demo::snapshot(Stage::Held, T0).report.incidents.remove(0);
        held.id = "9/9".into();
        snap.report.incidents.push(held);
        let m = MenuState::new().build(&snap, T0);
        assert_eq!(
            m.title,
            "STALE: cargo build 4242 (stopped) blocks cargo check 45s · package cache (+1 more)"
        );
    }

    #[test]
    fn another_cargo_home_s_incident_is_named_by_its_home_and_comes_after_the_users_own() {
        let mut snap = demo::snapshot(Stage::Stale, T0);
        let mut foreign = snap.report.incidents[0].clone();
        foreign.id = "9/9".into();
        let other = PathBuf::from("/tmp/other-home/.package-cache");
        foreign.locks[0].path = other.clone();
        for b in &mut foreign.blocked {
            b.lock = other.clone();
        }
        snap.report.incidents.insert(0, foreign);
        let m = MenuState::new().build(&snap, T0);
        assert_eq!(
            m.title,
            "STALE: cargo build 4242 (stopped) blocks cargo check 45s · package cache (+1 more)"
        );
        let rows: Vec<String> = (labels(&m).into_iter())
            .filter(|l| l.starts_with("STALE · "))
            .collect();
        assert_eq!(rows.len(), 2, "{rows:#?}");
        assert!(rows[0].ends_with("· package cache >"), "{rows:#?}");
        assert!(
            rows[1].contains("package cache of /tmp/other-home"),
            "{rows:#?}"
        );
    }

    #[test]
    fn a_culprit_is_the_target_of_every_action() {
        let mut snap = demo::snapshot(Stage::Stale, T0);
        let i = &mut snap.report.incidents[0];
        let mut culprit = i.blocker.clone().unwrap();
        (culprit.pid, culprit.start_token, culprit.name) = (5000, 55, "sleep".into());
        i.culprit = Some(culprit);
        let m = MenuState::new().build(&snap, T0);
        let l = labels(&m);
        assert!(l.contains(&"Terminate sleep 5000".to_string()), "{l:#?}");
        assert!(!l.iter().any(|s| s.starts_with("Resume")));
        assert!(m.find("terminate/4242/777").is_none());
    }

    #[test]
    fn terminating_a_busy_holder_takes_a_second_click() {
        let mut st = MenuState::new();
        let held = demo::snapshot(Stage::Held, T0);
        let m = st.build(&held, T0);
        assert!(
            m.find("terminate/4242/777").is_none(),
            "no one-click Terminate"
        );
        assert!(labels(&m).contains(&"Terminate cargo 4242…".to_string()));
        assert_eq!(st.click("terminate-arm/4242/777", T0), [Effect::Redraw]);
        let m = st.build(&held, T0 + 1.0);
        assert!(
            labels(&m).contains(
                &"Really terminate 4242? It is busy and nobody waits (click within 10s)"
                    .to_string()
            ),
            "{:#?}",
            labels(&m)
        );
        assert_eq!(
            st.click("terminate-confirm/4242/777", T0 + 2.0),
            [
                Effect::Send(UiCommand::Terminate {
                    pid: 4242,
                    start_token: 777
                }),
                Effect::Redraw
            ]
        );
        // Too late, or a force kill's confirmation, or never armed: nothing is sent.
        st.click("terminate-arm/4242/777", T0);
        assert_eq!(
            st.click("terminate-confirm/4242/777", T0 + 11.0),
            [Effect::Redraw]
        );
        st.click("force-kill/4242/777", T0);
        assert_eq!(
            st.click("terminate-confirm/4242/777", T0 + 1.0),
            [Effect::Redraw]
        );
        // Busy while someone waits: two clicks too; stale: one click, as the CLI.
        let m = MenuState::new().build(&demo::snapshot(Stage::Contended, T0), T0);
        assert!(m.find("terminate-arm/4242/777").is_some());
        let m = MenuState::new().build(&demo::snapshot(Stage::Stale, T0), T0);
        assert!(m.find("terminate/4242/777").is_some());
    }

    #[test]
    fn paused_shows_paused_and_toggle_resumes() {
        let mut st = MenuState::new();
        let mut snap = demo::snapshot(Stage::Held, T0);
        snap.paused = true;
        let m = st.build(&snap, T0);
        assert_eq!(m.title, "Watching paused");
        // The rows are an old picture: nothing to act on until watching resumes.
        let ids: Vec<String> = menu_ids(&m);
        assert!(
            !ids.iter()
                .any(|id| id.starts_with("terminate") || id.starts_with("force-kill")),
            "{ids:#?}"
        );
        assert_eq!(m.icon, IconState::Paused);
        assert!(matches!(
            m.find("pause"),
            Some(Entry::Check { checked: true, .. })
        ));
        assert_eq!(
            st.click("pause", T0),
            [Effect::Send(UiCommand::SetPaused(false))]
        );
        snap.paused = false;
        st.build(&snap, T0);
        assert_eq!(
            st.click("pause", T0),
            [Effect::Send(UiCommand::SetPaused(true))]
        );
        assert_eq!(
            st.click("launch-at-login", T0),
            [Effect::Send(UiCommand::SetLaunchAtLogin(false))]
        );
    }

    #[test]
    fn your_build_first_is_a_toggle() {
        let mut st = MenuState::new();
        let mut snap = demo::snapshot(Stage::Idle, T0);
        let m = st.build(&snap, T0);
        assert!(matches!(
            m.find("yield-ide"),
            Some(Entry::Check { checked: false, label, .. }) if label.starts_with("Your build first")
        ));
        assert_eq!(
            st.click("yield-ide", T0),
            [Effect::Send(UiCommand::SetYieldIde(true))]
        );
        snap.yield_ide = true;
        let m = st.build(&snap, T0);
        assert!(matches!(
            m.find("yield-ide"),
            Some(Entry::Check { checked: true, .. })
        ));
        assert_eq!(
            st.click("yield-ide", T0),
            [Effect::Send(UiCommand::SetYieldIde(false))]
        );
    }

    #[test]
    fn snooze_submenu_offers_resume_while_snoozed() {
        let mut st = MenuState::new();
        let mut snap = demo::snapshot(Stage::Idle, T0);
        snap.snoozed_until = Some(T0 + 600.0);
        let m = st.build(&snap, T0);
        assert!(labels(&m).contains(&"Notifications snoozed (10m00s left) >".to_string()));
        assert!(enabled(&m, "snooze/off"));
        assert_eq!(
            st.click("snooze/off", T0),
            [Effect::Send(UiCommand::Snooze(SnoozeFor::Off))]
        );
        assert_eq!(
            st.click("snooze/tomorrow", T0),
            [Effect::Send(UiCommand::Snooze(SnoozeFor::UntilTomorrow))]
        );
        // An expired snooze is not shown.
        let m = st.build(&snap, T0 + 601.0);
        assert!(m.find("snooze/off").is_none());
    }

    #[test]
    fn force_kill_needs_a_second_click_within_the_window() {
        let mut st = MenuState::new();
        let snap = demo::snapshot(Stage::Stale, T0);
        st.build(&snap, T0);
        assert_eq!(st.click("force-kill/4242/777", T0), [Effect::Redraw]);
        let m = st.build(&snap, T0 + 1.0);
        assert!(m.find("force-kill/4242/777").is_none());
        assert!(labels(&m).contains(&"Really force kill 4242? (click within 10s)".to_string()));
        assert_eq!(
            st.click("force-kill-confirm/4242/777", T0 + 5.0),
            [
                Effect::Send(UiCommand::ForceKill {
                    pid: 4242,
                    start_token: 777
                }),
                Effect::Redraw
            ]
        );
        // Back to the unarmed item.
        let m = st.build(&snap, T0 + 6.0);
        assert!(m.find("force-kill/4242/777").is_some());
    }

    #[test]
    fn a_blocker_that_ignores_sigterm_offers_force_kill_and_says_why_not_terminate() {
        let mut st = MenuState::new();
        let snap = demo::stale_ignoring_sigterm(T0);
        let m = st.build(&snap, T0);
        assert!(m.find("terminate/4242/777").is_none());
        let l = labels(&m);
        assert!(
            l.contains(&"cargo 4242: it ignores SIGTERM; only Force kill stops it".to_string()),
            "{l:?}"
        );
        assert!(enabled(&m, "force-kill/4242/777"));
        // A blocker SIGTERM stops keeps its Terminate.
        let m = st.build(&demo::snapshot(Stage::Stale, T0), T0);
        assert!(enabled(&m, "terminate/4242/777"));
    }

    #[test]
    fn a_name_with_control_characters_is_escaped_in_every_label_and_the_diagnostics() {
        let mut st = MenuState::new();
        let snap = demo::snapshot_named(Stage::Stale, T0, "lw\u{1b}[31m\nx");
        let m = st.build(&snap, T0);
        let l = labels(&m);
        let control = |s: &String| s.chars().any(char::is_control);
        assert!(!l.iter().any(control), "{l:?}");
        assert!(!control(&m.title) && !control(&m.tooltip), "{}", m.title);
        assert!(
            l.contains(&"Terminate lw\\x1b[31m\\nx 4242".to_string()),
            "{l:?}"
        );
        let text = diagnostics(&snap.report.incidents[0]);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains(r#""name": "lw\u001b[31m\nx""#), "{text}");
    }

    #[test]
    fn late_or_foreign_confirmation_does_not_kill() {
        let mut st = MenuState::new();
        let snap = demo::snapshot(Stage::Stale, T0);
        st.build(&snap, T0);
        st.click("force-kill/4242/777", T0);
        assert_eq!(
            st.click(
                "force-kill-confirm/4242/777",
                T0 + FORCE_KILL_CONFIRM_SECS + 0.1
            ),
            [Effect::Redraw]
        );
        // Confirming without arming, or for another start token, does nothing.
        assert_eq!(
            st.click("force-kill-confirm/4242/777", T0),
            [Effect::Redraw]
        );
        st.click("force-kill/4242/777", T0);
        assert_eq!(
            st.click("force-kill-confirm/4242/778", T0),
            [Effect::Redraw]
        );
        // The arm expires on rebuild too.
        st.click("force-kill/4242/777", T0);
        let m = st.build(&snap, T0 + 11.0);
        assert!(m.find("force-kill/4242/777").is_some());
        assert_eq!(st.armed_until(), None);
    }

    #[test]
    fn clicks_from_an_older_menu_still_reach_the_right_process() {
        let mut st = MenuState::new();
        st.build(&demo::snapshot(Stage::Stale, T0), T0);
        // The holder is gone in the next snapshot...
        st.build(&demo::snapshot(Stage::Idle, T0 + 1.0), T0 + 1.0);
        // ...but a click on the old menu's items still maps to pid + start token.
        assert_eq!(
            st.click("terminate/4242/777", T0 + 1.0),
            [Effect::Send(UiCommand::Terminate {
                pid: 4242,
                start_token: 777
            })]
        );
        assert_eq!(
            st.click("reveal/4242/777", T0 + 1.0),
            [Effect::Send(UiCommand::RevealProject(demo::project_dir()))]
        );
        match st.click("copy/4242/777", T0 + 1.0).as_slice() {
            [Effect::Copy(text)] => {
                assert!(text.contains("\"pid\": 4242"), "{text}");
                assert!(text.contains("\"start_token\": 777"), "{text}");
                assert!(text.contains("verdict: cargo 4242 looks stale"), "{text}");
                assert!(
                    text.contains("blocked: 1\n  4250 cargo cargo check"),
                    "{text}"
                );
            }
            other => panic!("expected a copy, got {other:?}"),
        }
        // Still there a few snapshots later...
        st.build(&demo::snapshot(Stage::Idle, T0 + 2.0), T0 + 2.0);
        st.build(&demo::snapshot(Stage::Idle, T0 + 3.0), T0 + 3.0);
        assert_eq!(st.click("copy/4242/777", T0 + 3.0).len(), 1);
        // ...forgotten a minute after it left.
        st.build(&demo::snapshot(Stage::Idle, T0 + 62.0), T0 + 62.0);
        assert_eq!(st.click("copy/4242/777", T0 + 62.0), []);
        // A process with the same pid but another start token is never confused with it.
        assert_eq!(st.click("copy/4242/1", T0 + 62.0), []);
    }

    #[test]
    fn ids_round_trip_and_garbage_is_ignored() {
        let actions = [
            Action::Resume {
                pid: 11,
                start_token: 12,
            },
            Action::Terminate {
                pid: 1,
                start_token: 2,
            },
            Action::ArmForceKill {
                pid: 3,
                start_token: u64::MAX,
            },
            Action::ConfirmForceKill {
                pid: 5,
                start_token: 6,
            },
            Action::CopyDiagnostics {
                pid: 7,
                start_token: 8,
            },
            Action::RevealProject {
                pid: 9,
                start_token: 10,
            },
            Action::Snooze(SnoozeFor::Minutes15),
            Action::Snooze(SnoozeFor::Hour1),
            Action::Snooze(SnoozeFor::UntilTomorrow),
            Action::Snooze(SnoozeFor::Off),
            Action::TogglePaused,
            Action::OpenHistory,
            Action::ToggleLaunchAtLogin,
            Action::ToggleYieldIde,
            Action::Quit,
        ];
        for a in actions {
            assert_eq!(Action::parse(&a.id()), Some(a), "{}", a.id());
        }
        for bad in [
            "",
            "title",
            "info/x/header",
            "terminate/abc/1",
            "terminate/1",
            "terminate/1/2/3",
            "quit/now",
            "snooze/forever",
            "terminate/-1/2",
        ] {
            assert_eq!(Action::parse(bad), None, "{bad}");
            assert_eq!(MenuState::new().click(bad, T0), [], "{bad}");
        }
    }

    #[test]
    fn ids_are_unique_within_a_menu() {
        let mut snap = demo::snapshot(Stage::Stale, T0);
        let mut other = snap.report.incidents[0].clone();
        other.id = "5000/1".into();
        snap.report.incidents.push(other);
        let m = MenuState::new().build(&snap, T0);
        let ids: Vec<String> = m
            .shape()
            .into_iter()
            .filter(|s| s.starts_with("item ") && !s.contains("/4242/777"))
            .collect();
        let mut dedup = ids.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(ids.len(), dedup.len(), "{ids:#?}");
    }

    #[test]
    fn long_paths_are_clipped() {
        let mut snap = demo::snapshot(Stage::Held, T0);
        let long = std::path::PathBuf::from(format!("/{}", "x".repeat(300)));
        snap.report.incidents[0].locks[0].project_dir = Some(long);
        let m = MenuState::new().build(&snap, T0);
        let l = labels(&m);
        assert!(l.iter().all(|s| s.chars().count() <= MAX_LABEL_CHARS + 2));
        assert!(l.iter().any(|s| s.ends_with('…')));
    }

    #[test]
    fn a_long_verdict_is_wrapped_whole_not_clipped() {
        let mut snap = demo::snapshot(Stage::Stale, T0);
        let verdict = "cargo build 4242 looks stale: its whole process tree has been idle, \
                       with no file activity, for 2m 10s while a build script runs; it may be \
                       waiting on something outside it. Stop it: cargo lockwatch kill 4242";
        snap.report.incidents[0].verdict = verdict.into();
        let m = MenuState::new().build(&snap, T0);
        let l = labels(&m);
        let first = l
            .iter()
            .position(|s| s.starts_with("cargo build 4242 looks stale"));
        let first = first.unwrap_or_else(|| panic!("no verdict row: {l:#?}"));
        let rows: Vec<&String> = l[first..].iter().take_while(|s| !s.is_empty()).collect();
        let rows = &rows[..rows.iter().position(|s| s.ends_with("kill 4242")).unwrap() + 1];
        assert!(rows.len() > 1 && rows.iter().all(|r| r.chars().count() <= WRAP_CHARS));
        let joined: Vec<&str> = rows.iter().map(|r| r.as_str()).collect();
        assert_eq!(joined.join(" "), verdict);
        // An endless one takes four rows, the last cut.
        let endless = wrap(&"word ".repeat(200));
        assert_eq!(endless.len(), MAX_WRAPPED_ROWS);
        assert!(endless[3].ends_with('…') && endless[3].chars().count() == WRAP_CHARS);
    }

    #[test]
    fn diagnostics_contain_the_incident_json_and_verdict() {
        let snap = demo::snapshot(Stage::Stale, T0);
        let incident = &snap.report.incidents[0];
        let text = diagnostics(incident);
        assert!(text.starts_with("cargo-lockwatch "));
        assert!(text.contains("state: Stale"));
        assert!(text.contains("blocked: 1\n  4250 cargo cargo check --message-format=json"));
        let json_start = text.find("incident:\n").unwrap() + "incident:\n".len();
        let back: IncidentReport = serde_json::from_str(text[json_start..].trim()).unwrap();
        assert_eq!(&back, incident);
    }
}
