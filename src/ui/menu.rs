//! The tray menu as plain data: what it says and what each item does, built from a
//! [`UiSnapshot`] and the current time. Keeping it pure means the wording, the force-kill
//! confirmation and the mapping of a click to a [`UiCommand`] are unit-tested without a GUI; the
//! tray only mirrors the model into native menu items.
//!
//! Item ids are stable across refreshes: an action's id encodes what it acts on (pid and start
//! token), so a click on an item built from an older snapshot still reaches the right process,
//! and the tray can update labels in place while the menu is open.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use super::icons::IconState;
use super::{SnoozeFor, UiCommand, UiSnapshot};
use crate::core::model::{HolderReport, LockMode, LockReport, LockState, Origin, ProcState};
use crate::core::text::{duration, tilde};

/// How long a "Really force kill …?" item waits for its confirming click.
pub const FORCE_KILL_CONFIRM_SECS: f64 = 10.0;

/// Waiters listed per lock before the rest are summed up.
const MAX_WAITERS_LISTED: usize = 5;

/// How long a holder that left the report can still be copied or revealed from an old menu.
const FORGET_AFTER_SECS: f64 = 60.0;

/// Longest label, in characters, before it is shortened with `…`.
const MAX_LABEL_CHARS: usize = 90;

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
                match e {
                    Entry::Item { id, .. } => out.push(format!("item {id}")),
                    Entry::Check { id, .. } => out.push(format!("check {id}")),
                    Entry::Separator => out.push("separator".into()),
                    Entry::Submenu { id, entries, .. } => {
                        out.push(format!("submenu {id}"));
                        walk(entries, out);
                        out.push("end".into());
                    }
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
    /// SIGTERM this holder.
    Terminate {
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
    /// Quit the daemon.
    Quit,
}

impl Action {
    /// The menu id for this action; [`Action::parse`] reads it back.
    pub fn id(self) -> String {
        let holder = |verb: &str, pid: u32, token: u64| format!("{verb}/{pid}/{token}");
        match self {
            Action::Terminate { pid, start_token } => holder("terminate", pid, start_token),
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
            "terminate" => {
                holder().map(|(pid, start_token)| Action::Terminate { pid, start_token })
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
}

/// What a holder item needs after its snapshot is gone: the lock it held, to write diagnostics
/// and find its project.
#[derive(Debug, Clone)]
struct Known {
    lock: LockReport,
}

/// The menu's own state across snapshots: the armed force-kill confirmation, the last
/// toggles, and the holders recent menus showed (so a late click still resolves).
#[derive(Debug, Clone, Default)]
pub struct MenuState {
    armed: Option<Armed>,
    paused: bool,
    launch_at_login: bool,
    known: HashMap<(u32, u64), Known>,
    /// Holders that left the report, with the time they left.
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

        let report = &snapshot.report;
        let elapsed = (now - report.observed_at).max(0.0);
        let active: Vec<&LockReport> = report
            .locks
            .iter()
            .filter(|l| l.state != LockState::Free)
            .collect();

        let mut known = HashMap::new();
        for lock in &active {
            for h in &lock.holders {
                known.insert(
                    (h.pid, h.start_token),
                    Known {
                        lock: (*lock).clone(),
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

        let title = title(snapshot, &active, elapsed);
        let mut entries = vec![Entry::Item {
            id: "title".into(),
            label: clip(&title),
            enabled: false,
        }];
        for lock in &active {
            entries.push(Entry::Separator);
            self.lock_section(lock, elapsed, &mut entries);
        }
        entries.push(Entry::Separator);
        entries.push(snooze_menu(snapshot.snoozed_until, now));
        entries.push(Entry::Check {
            id: Action::TogglePaused.id(),
            label: "Pause watching".into(),
            checked: snapshot.paused,
        });
        entries.push(item(Action::OpenHistory, "Open history"));
        entries.push(Entry::Check {
            id: Action::ToggleLaunchAtLogin.id(),
            label: "Launch at login".into(),
            checked: snapshot.launch_at_login,
        });
        entries.push(Entry::Separator);
        entries.push(item(Action::Quit, "Quit cargo-lockwatch"));

        MenuModel {
            tooltip: format!("cargo-lockwatch: {title}"),
            title,
            icon: IconState::of(snapshot),
            entries,
        }
    }

    fn lock_section(&self, lock: &LockReport, elapsed: f64, out: &mut Vec<Entry>) {
        let key = lock.path.to_string_lossy();
        let info = |suffix: &str, label: String| Entry::Item {
            id: format!("info/{key}/{suffix}"),
            label: clip(&label),
            enabled: false,
        };
        let badge = match lock.state {
            LockState::Stale => "STALE",
            LockState::Contended => "WAITING",
            LockState::Held => "BUSY",
            LockState::Free => "free",
        };
        let deleted = if lock.deleted { " (deleted)" } else { "" };
        out.push(info(
            "header",
            format!(
                "{badge} · {} · {}{deleted}",
                lock.description,
                tilde(&lock.path)
            ),
        ));
        if let Some(p) = &lock.project_dir {
            out.push(info("project", format!("project {}", tilde(p))));
        }
        if lock.holders.is_empty() {
            out.push(info(
                "unseen",
                "held by a process this user cannot see".into(),
            ));
        }
        for h in &lock.holders {
            let hk = format!("holder/{}/{}", h.pid, h.start_token);
            out.push(info(&format!("{hk}/who"), holder_line(h, elapsed)));
            if let Some(cwd) = &h.cwd
                && lock.project_dir.as_deref() != Some(cwd.as_path())
            {
                out.push(info(&format!("{hk}/cwd"), format!("in {}", tilde(cwd))));
            }
            if h.stale && !h.stale_reasons.is_empty() {
                let why: Vec<&str> = h.stale_reasons.iter().map(|r| r.describe()).collect();
                out.push(info(
                    &format!("{hk}/why"),
                    format!("looks stale: {}", why.join("; ")),
                ));
            }
        }
        for w in lock.waiters.iter().take(MAX_WAITERS_LISTED) {
            let since = w
                .waiting_for_secs
                .map(|s| format!(" · {}", duration(s + elapsed)))
                .unwrap_or_default();
            out.push(info(
                &format!("waiter/{}", w.pid),
                format!(
                    "waiting: {} {} ({}){since}",
                    w.name,
                    w.pid,
                    origin_word(w.origin, None)
                ),
            ));
        }
        if lock.waiters.len() > MAX_WAITERS_LISTED {
            out.push(info(
                "waiters-more",
                format!(
                    "… and {} more waiting",
                    lock.waiters.len() - MAX_WAITERS_LISTED
                ),
            ));
        }
        for h in &lock.holders {
            let (pid, start_token) = (h.pid, h.start_token);
            out.push(item(
                Action::Terminate { pid, start_token },
                &format!("Terminate {} {pid}", h.name),
            ));
            let armed = self
                .armed
                .is_some_and(|a| a.pid == pid && a.start_token == start_token);
            out.push(if armed {
                item(
                    Action::ConfirmForceKill { pid, start_token },
                    &format!(
                        "Really force kill {pid}? (click within {}s)",
                        FORCE_KILL_CONFIRM_SECS as u64
                    ),
                )
            } else {
                item(
                    Action::ArmForceKill { pid, start_token },
                    &format!("Force kill {} {pid}…", h.name),
                )
            });
            out.push(item(
                Action::CopyDiagnostics { pid, start_token },
                "Copy diagnostics",
            ));
            if project_of(lock, h).is_some() {
                out.push(item(
                    Action::RevealProject { pid, start_token },
                    "Reveal project folder",
                ));
            }
        }
    }

    /// Handles a click on the item with this id at Unix time `now`.
    pub fn click(&mut self, id: &str, now: f64) -> Vec<Effect> {
        let Some(action) = Action::parse(id) else {
            return Vec::new();
        };
        let send = |c: UiCommand| vec![Effect::Send(c)];
        match action {
            Action::Terminate { pid, start_token } => {
                send(UiCommand::Terminate { pid, start_token })
            }
            Action::ArmForceKill { pid, start_token } => {
                self.armed = Some(Armed {
                    pid,
                    start_token,
                    until: now + FORCE_KILL_CONFIRM_SECS,
                });
                vec![Effect::Redraw]
            }
            Action::ConfirmForceKill { pid, start_token } => {
                let armed = self.armed.take();
                match armed {
                    Some(a) if a.pid == pid && a.start_token == start_token && now <= a.until => {
                        vec![
                            Effect::Send(UiCommand::ForceKill { pid, start_token }),
                            Effect::Redraw,
                        ]
                    }
                    _ => vec![Effect::Redraw],
                }
            }
            Action::CopyDiagnostics { pid, start_token } => self
                .lookup(pid, start_token)
                .and_then(|k| {
                    let h = k.lock.holders.iter().find(|h| h.pid == pid)?;
                    Some(vec![Effect::Copy(diagnostics(&k.lock, h))])
                })
                .unwrap_or_default(),
            Action::RevealProject { pid, start_token } => self
                .lookup(pid, start_token)
                .and_then(|k| {
                    let h = k.lock.holders.iter().find(|h| h.pid == pid)?;
                    project_of(&k.lock, h).map(|p| send(UiCommand::RevealProject(p.to_path_buf())))
                })
                .unwrap_or_default(),
            Action::Snooze(s) => send(UiCommand::Snooze(s)),
            Action::TogglePaused => send(UiCommand::SetPaused(!self.paused)),
            Action::OpenHistory => send(UiCommand::OpenHistory),
            Action::ToggleLaunchAtLogin => send(UiCommand::SetLaunchAtLogin(!self.launch_at_login)),
            Action::Quit => send(UiCommand::Quit),
        }
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

/// The project a holder works on: the lock's project, else the holder's working directory.
pub(crate) fn project_of<'a>(lock: &'a LockReport, h: &'a HolderReport) -> Option<&'a Path> {
    lock.project_dir.as_deref().or(h.cwd.as_deref())
}

pub(crate) fn origin_word(origin: Origin, via: Option<&str>) -> String {
    match (origin, via) {
        (Origin::Terminal, Some(v)) => format!("terminal: {v}"),
        (Origin::Terminal, None) => "terminal".into(),
        (Origin::Ide, Some(v)) => v.to_string(),
        (Origin::Ide, None) => "IDE".into(),
        (Origin::Orphan, _) => "orphan".into(),
        (Origin::Unknown, _) => "origin unknown".into(),
    }
}

pub(crate) fn held_for(h: &HolderReport, elapsed: f64) -> Option<String> {
    h.held_for_secs.map(|s| duration(s + elapsed))
}

fn holder_line(h: &HolderReport, elapsed: f64) -> String {
    let mut parts = vec![
        format!("{} {}", h.name, h.pid),
        origin_word(h.origin, h.origin_via.as_deref()),
    ];
    match held_for(h, elapsed) {
        Some(d) => parts.push(format!("held {d}")),
        None => {
            if let Some(up) = h.running_for_secs {
                parts.push(format!("up {}", duration(up + elapsed)));
            }
        }
    }
    if h.mode == LockMode::Shared {
        parts.push("shared".into());
    }
    match h.process_state {
        ProcState::Stopped => parts.push("STOPPED".into()),
        ProcState::Zombie => parts.push("zombie".into()),
        _ => {}
    }
    parts.join(" · ")
}

/// The verdict line: "All Cargo locks free", "package cache: cargo 4242 holds it (3m12s),
/// 1 waiting", "STALE: …".
fn title(snapshot: &UiSnapshot, active: &[&LockReport], elapsed: f64) -> String {
    if snapshot.paused {
        return "Watching paused".into();
    }
    let Some(worst) = active.iter().copied().max_by(|a, b| {
        a.state.cmp(&b.state).then_with(|| {
            longest_hold(a)
                .partial_cmp(&longest_hold(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    }) else {
        return "All Cargo locks free".into();
    };
    let mut t = String::new();
    if worst.state == LockState::Stale {
        t.push_str("STALE: ");
    }
    let _ = write!(t, "{}: ", worst.description);
    let shown = worst
        .holders
        .iter()
        .find(|h| h.stale)
        .or_else(|| worst.holders.first());
    match (shown, worst.holders.len()) {
        (None, _) => t.push_str("held by a process you cannot see"),
        (Some(h), n) => {
            let _ = write!(t, "{} {} holds it", h.name, h.pid);
            if let Some(d) = held_for(h, elapsed) {
                let _ = write!(t, " ({d})");
            }
            if n > 1 {
                let _ = write!(t, " with {} others", n - 1);
            }
        }
    }
    if !worst.waiters.is_empty() {
        let _ = write!(t, ", {} waiting", worst.waiters.len());
    }
    if active.len() > 1 {
        let _ = write!(t, " (+{} more)", active.len() - 1);
    }
    t
}

fn longest_hold(l: &LockReport) -> f64 {
    l.holders
        .iter()
        .filter_map(|h| h.held_for_secs)
        .fold(0.0, f64::max)
}

fn clip(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        return label.to_string();
    }
    let mut s: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
    s.push('…');
    s
}

/// A plain-text report about one holder, for pasting into a bug report: the verdict, the lock
/// and the holder exactly as the daemon reported it (JSON).
pub fn diagnostics(lock: &LockReport, holder: &HolderReport) -> String {
    let json = serde_json::to_string_pretty(holder)
        .unwrap_or_else(|e| format!("(the holder could not be written as JSON: {e})"));
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
    let _ = writeln!(out, "lock: {} ({})", lock.description, lock.path.display());
    let _ = writeln!(out, "state: {:?}", lock.state);
    let _ = writeln!(out, "verdict: {}", lock.verdict);
    if let Some(p) = &lock.project_dir {
        let _ = writeln!(out, "project: {}", p.display());
    }
    let _ = writeln!(out, "waiters: {}", lock.waiters.len());
    for w in &lock.waiters {
        let _ = writeln!(out, "  {} {} {}", w.pid, w.name, w.cmd.join(" "));
    }
    let _ = writeln!(out, "holder:\n{json}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::StaleReason;
    use crate::ui::demo::{self, Stage};

    const T0: f64 = 1_700_000_000.0;

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
        assert_eq!(m.title, "package cache: cargo 4242 holds it (3m12s)");
        let later = st.build(&snap, T0 + 10.0);
        assert_eq!(later.title, "package cache: cargo 4242 holds it (3m22s)");
        assert_eq!(
            m.shape(),
            later.shape(),
            "ticking must not change the shape"
        );
    }

    #[test]
    fn contended_section_names_holder_origin_project_and_waiter() {
        let mut st = MenuState::new();
        let m = st.build(&demo::snapshot(Stage::Contended, T0), T0);
        assert_eq!(
            m.title,
            "package cache: cargo 4242 holds it (3m35s), 1 waiting"
        );
        assert_eq!(m.icon, IconState::Contended);
        let l = labels(&m);
        let home = tilde(&demo::project_dir());
        assert!(
            l.contains(&"cargo 4242 · terminal: zsh · held 3m35s".to_string()),
            "{l:#?}"
        );
        assert!(l.contains(&format!("in {home}")), "{l:#?}");
        assert!(
            l.contains(&"waiting: cargo 4250 (IDE) · 12s".to_string()),
            "{l:#?}"
        );
        assert!(l.contains(&"Terminate cargo 4242".to_string()));
        assert!(l.contains(&"Force kill cargo 4242…".to_string()));
        assert!(enabled(&m, "terminate/4242/777"));
        assert!(enabled(&m, "copy/4242/777"));
        assert!(enabled(&m, "reveal/4242/777"));
        assert!(!enabled(&m, "title"));
    }

    #[test]
    fn stale_title_and_reason() {
        let mut st = MenuState::new();
        let m = st.build(&demo::snapshot(Stage::Stale, T0), T0);
        assert_eq!(
            m.title,
            "STALE: package cache: cargo 4242 holds it (12m30s), 1 waiting"
        );
        assert_eq!(m.icon, IconState::Stale);
        let l = labels(&m);
        assert!(l.iter().any(|s| s.starts_with("STALE · package cache · ")));
        assert!(l.contains(&format!("looks stale: {}", StaleReason::Stopped.describe())));
        assert!(l.iter().any(|s| s.ends_with("· STOPPED")), "{l:#?}");
    }

    #[test]
    fn worst_lock_wins_the_title_and_others_are_counted() {
        let mut snap = demo::snapshot(Stage::Held, T0);
        let mut stale = demo::snapshot(Stage::Stale, T0).report.locks.remove(0);
        stale.description = "build directory".into();
        stale.path = "/p/target/debug/.cargo-lock".into();
        snap.report.locks.push(stale);
        let m = MenuState::new().build(&snap, T0);
        assert_eq!(
            m.title,
            "STALE: build directory: cargo 4242 holds it (12m30s), 1 waiting (+1 more)"
        );
    }

    #[test]
    fn paused_shows_paused_and_toggle_resumes() {
        let mut st = MenuState::new();
        let mut snap = demo::snapshot(Stage::Held, T0);
        snap.paused = true;
        let m = st.build(&snap, T0);
        assert_eq!(m.title, "Watching paused");
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
        let mut other = snap.report.locks[0].clone();
        other.path = "/p/target/debug/.cargo-lock".into();
        snap.report.locks.push(other);
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
        snap.report.locks[0].path = std::path::PathBuf::from(format!("/{}", "x".repeat(300)));
        let m = MenuState::new().build(&snap, T0);
        let l = labels(&m);
        assert!(l.iter().all(|s| s.chars().count() <= MAX_LABEL_CHARS + 2));
        assert!(l.iter().any(|s| s.ends_with('…')));
    }

    #[test]
    fn diagnostics_contain_the_holder_json_and_verdict() {
        let snap = demo::snapshot(Stage::Stale, T0);
        let lock = &snap.report.locks[0];
        let text = diagnostics(lock, &lock.holders[0]);
        assert!(text.starts_with("cargo-lockwatch "));
        assert!(text.contains("state: Stale"));
        assert!(text.contains("waiters: 1\n  4250 cargo cargo check --message-format=json"));
        let json_start = text.find("holder:\n").unwrap() + "holder:\n".len();
        let holder: HolderReport = serde_json::from_str(text[json_start..].trim()).unwrap();
        assert_eq!(holder, lock.holders[0]);
    }
}
