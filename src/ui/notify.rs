//! Desktop notifications about stale incidents: what they say (who is blocked, by whom, why it
//! looks stuck), when they are sent, and the thin layer that hands them to the OS.
//!
//! The words and the decision are pure and tested with an injected clock: a notification goes
//! out on the *edge* where a stale blocker starts to block someone (or has been stale for
//! `stale_without_waiters_after`), at most once per blocker per `cooldown`, never while
//! snoozed or paused, and several due at once are coalesced into one. Waiters and background
//! locks never notify. [`show`] sends it with notify-rust on its own thread and turns the
//! "Terminate" button into a [`UiCommand`] aimed at the incident's action target.
//!
//! Waiting for a button press parks a thread until the user acts (on macOS the answer comes
//! through the main run loop, which only the tray runs). So a button is offered only when a
//! command channel exists (the tray runs) and no other notification is already waiting
//! ([`MAX_WAITING_FOR_ACTION`]); otherwise the notification is plain and its body names the
//! command to run ([`delivery`]).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc::UnboundedSender;

use super::{UiCommand, UiSnapshot};
use crate::config::NotifyConfig;
use crate::core::model::{IncidentReport, IncidentState};
use crate::core::text::tilde;
use crate::core::words;

/// The action key of the notification's "Terminate" button.
pub const ACTION_TERMINATE: &str = "terminate";
/// The action key of the notification's "Resume" button (a stopped blocker).
pub const ACTION_RESUME: &str = "resume";

/// The macOS bundle identifier of the packaged agent (`cargo-lockwatch.app`).
pub const BUNDLE_ID: &str = crate::service::LABEL;

/// After one notification, others wait this long and are then coalesced into one.
pub const COALESCE_SECS: f64 = 30.0;

/// Incidents named one by one in a coalesced notification before the rest are counted.
const MAX_LISTED: usize = 4;

/// Notifications whose button may be waited for at once: each parks a thread until the user
/// acts, which may be never (an alert left in Notification Center).
pub const MAX_WAITING_FOR_ACTION: usize = 1;

/// A notification ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The headline.
    pub summary: String,
    /// The details.
    pub body: String,
    /// What the "Terminate" button does; only offered when the notice is about one incident.
    pub terminate: Option<UiCommand>,
    /// What the "Resume" button does (a stopped blocker), offered before Terminate.
    pub resume: Option<UiCommand>,
    /// The command line that does what the notice suggests (`cargo lockwatch kill 4242`),
    /// named in the body when no button is offered.
    pub command: Option<String>,
    /// About a stale incident: shown as critical (it stays until dismissed) with a warning
    /// icon; else (the outcome of an action) as an ordinary, passing one.
    pub urgent: bool,
}

/// How one notice goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Offer the "Terminate" button and wait (on a thread) for the user to press it.
    pub button: bool,
    /// The body to show.
    pub body: String,
}

/// Decides how `notice` is shown: with its button only when someone can receive the press
/// (`commands`: the tray runs; on macOS also what runs the main run loop the answer arrives
/// through) and fewer than [`MAX_WAITING_FOR_ACTION`] notifications are already waiting.
/// Without a button the body ends with the command to run instead.
pub fn delivery(notice: &Notice, commands: bool, waiting: usize) -> Delivery {
    let button = notice.terminate.is_some() && commands && waiting < MAX_WAITING_FOR_ACTION;
    let body = match (&notice.command, button) {
        (Some(cmd), false) => format!("{}\nRun: {cmd}", notice.body),
        _ => notice.body.clone(),
    };
    Delivery { button, body }
}

impl Notice {
    /// The command for an action key the notification server reported, if it is ours.
    pub fn command_for_action(&self, action: &str) -> Option<UiCommand> {
        match action {
            ACTION_TERMINATE => self.terminate.clone(),
            ACTION_RESUME => self.resume.clone(),
            _ => None,
        }
    }
}

/// The notice about one stale incident; `elapsed` advances the report's times to now.
pub fn notice_one(i: &IncidentReport, elapsed: f64, own: &[PathBuf]) -> Notice {
    let body = notice_body(i, elapsed);
    let what = if i.deadlock.is_some() {
        "Cargo deadlock"
    } else {
        "Stale Cargo lock"
    };
    Notice {
        summary: format!("{what}: {}", words::locks_for(i, own)),
        body: body.trim_start().to_string(),
        terminate: (i.action.as_ref().filter(|a| !a.force && !i.ignored)).map(|a| {
            UiCommand::TerminateIfStale {
                pid: a.pid,
                start_token: a.start_token,
            }
        }),
        resume: (i.action.as_ref().filter(|a| a.resume)).map(|a| UiCommand::Resume {
            pid: a.pid,
            start_token: a.start_token,
        }),
        command: i.action.as_ref().map(|a| a.command.clone()),
        urgent: true,
    }
}

/// The body of a notice about `i`, `elapsed` seconds after its report: who waits, for whom
/// and since when, and why it looks stuck.
fn notice_body(i: &IncidentReport, elapsed: f64) -> String {
    let mut body = String::new();
    match i.blocked.as_slice() {
        [] => {}
        [one] => {
            let _ = write!(body, "{}, ", words::blocked(one, elapsed));
        }
        many => {
            let _ = write!(body, "{} processes wait, ", many.len());
        }
    }
    if let Some(b) = &i.blocker {
        write_blocker(&mut body, i, b, elapsed);
    }
    write_why_stuck(&mut body, i);
    body
}

/// Appends who holds or blocks (`b`), where it comes from, for how long and in which project.
fn write_blocker(
    body: &mut String,
    i: &IncidentReport,
    b: &crate::core::model::ProcessReport,
    elapsed: f64,
) {
    let verb = if i.blocked.is_empty() {
        "held"
    } else {
        "blocked"
    };
    let _ = write!(
        body,
        "{verb} by {} ({})",
        words::who(b),
        words::origin(b.origin, b.origin_via.as_deref())
    );
    let held = (i.held_for_secs())
        .and_then(|h| crate::core::text::duration_if_told(h + elapsed, i.held_since_known()));
    if let Some(held) = held {
        let _ = write!(body, " for {held}");
    }
    if let Some(p) = words::project(i) {
        let _ = write!(body, " in {}", tilde(&p));
    }
    body.push('.');
}

/// Appends why `i` looks stuck: its verdict or stale reasons, and a target that ignores SIGTERM.
fn write_why_stuck(body: &mut String, i: &IncidentReport) {
    // Whom to stop, why it never ends, or when Cargo gives up by itself: the verdict says it.
    let hung = i
        .stale_reasons
        .contains(&crate::core::model::StaleReason::NetworkSilent);
    if i.culprit.is_some() || i.deadlock.is_some() || hung {
        let _ = write!(body, " {}", i.verdict);
    } else if !i.stale_reasons.is_empty() {
        let why: Vec<&str> = i.stale_reasons.iter().map(|r| r.describe()).collect();
        let _ = write!(body, " Looks stale: {}.", why.join("; "));
    }
    // A target that ignores SIGTERM: said, and no Terminate button (it would do nothing; the
    // body names `kill --force` instead, which the menu's confirmed Force kill also does).
    let target = (i.action.as_ref())
        .and_then(|a| (i.culprit.iter().chain(&i.blocker)).find(|p| p.pid == a.pid));
    if let Some((p, words)) = target.and_then(|p| Some((p, p.sigterm.words()?))) {
        let _ = write!(body, " {} {}: {words}.", p.name, p.pid);
    }
}

/// One notice about several stale incidents (no Terminate button: the menu has one each).
pub fn notice_many(items: &[&IncidentReport], elapsed: f64, own: &[PathBuf]) -> Notice {
    if let [one] = items {
        return notice_one(one, elapsed, own);
    }
    let mut body = String::new();
    for i in items.iter().take(MAX_LISTED) {
        if !body.is_empty() {
            body.push('\n');
        }
        let _ = write!(body, "{}", words::headline_for(i, Some(elapsed), own));
        if let Some(r) = i.stale_reasons.first() {
            let _ = write!(body, " — {}", r.describe());
        }
    }
    if items.len() > MAX_LISTED {
        let _ = write!(body, "\n… and {} more", items.len() - MAX_LISTED);
    }
    Notice {
        summary: format!("{} stale Cargo locks", items.len()),
        body,
        terminate: None,
        resume: None,
        command: Some("cargo lockwatch".into()),
        urgent: true,
    }
}

#[derive(Debug, Clone, Default)]
struct Track {
    /// When this blocker was first seen stale (in this stale episode).
    stale_since: Option<f64>,
    /// Whether the notify condition held at the last observation.
    was_due: bool,
    /// A rising edge not yet notified (held back by cooldown, snooze or coalescing).
    pending: bool,
    /// When this blocker was last notified.
    last_sent: Option<f64>,
}

/// Decides when to notify, from the stream of snapshots. Pure: time comes in as an argument.
#[derive(Debug, Clone)]
pub struct Notifier {
    config: NotifyConfig,
    tracks: HashMap<String, Track>,
    last_any: Option<f64>,
}

impl Notifier {
    /// A notifier with these settings and no history.
    pub fn new(config: NotifyConfig) -> Notifier {
        Notifier {
            config,
            tracks: HashMap::new(),
            last_any: None,
        }
    }

    /// Replaces the settings (after a config reload); history is kept.
    pub fn set_config(&mut self, config: NotifyConfig) {
        self.config = config;
    }

    /// Feeds one snapshot observed at Unix time `now`; returns the notification to show, if
    /// one is due. Call it for every snapshot (the daemon's once-a-second ticks while a lock is
    /// held are what release notices held back by the cooldown or a snooze).
    pub fn observe(&mut self, snapshot: &UiSnapshot, now: f64) -> Option<Notice> {
        let elapsed = (now - snapshot.report.observed_at).max(0.0);
        let without_waiters = self.config.stale_without_waiters_after.as_secs_f64();
        let seen: HashMap<&str, &IncidentReport> = snapshot
            .report
            .incidents
            .iter()
            .filter(|i| i.blocker.is_some())
            .map(|i| (i.id.as_str(), i))
            .collect();
        self.tracks.retain(|k, _| seen.contains_key(k.as_str()));
        for (key, i) in &seen {
            let t = self.tracks.entry(key.to_string()).or_default();
            let stale = i.state == IncidentState::Stale;
            t.stale_since = if stale {
                Some(t.stale_since.unwrap_or(now))
            } else {
                None
            };
            let stale_for = t.stale_since.map_or(0.0, |s| now - s);
            let due = stale && (!i.blocked.is_empty() || stale_for >= without_waiters);
            if due && !t.was_due {
                t.pending = true;
            }
            if !due {
                t.pending = false;
            }
            t.was_due = due;
        }

        if !self.config.enabled || snapshot.paused {
            // Nothing is owed for this time: do not release a burst when turned back on.
            self.tracks.values_mut().for_each(|t| t.pending = false);
            return None;
        }
        if snapshot.snoozed_until.is_some_and(|until| now < until) {
            return None;
        }
        if self.last_any.is_some_and(|t| now - t < COALESCE_SECS) {
            return None;
        }
        let cooldown = self.config.cooldown.as_secs_f64();
        let mut ready: Vec<&str> = self
            .tracks
            .iter()
            .filter(|(_, t)| t.pending && t.last_sent.is_none_or(|s| now - s >= cooldown))
            .map(|(k, _)| seen[k.as_str()].id.as_str())
            .collect();
        if ready.is_empty() {
            return None;
        }
        // Longest-held first, so the notice leads with the worst case; id breaks ties.
        ready.sort_by(|a, b| {
            let held = |k: &str| seen[k].held_for_secs().unwrap_or(0.0);
            held(b).total_cmp(&held(a)).then(a.cmp(b))
        });
        for k in &ready {
            if let Some(t) = self.tracks.get_mut(*k) {
                t.pending = false;
                t.last_sent = Some(now);
            }
        }
        self.last_any = Some(now);
        let items: Vec<&IncidentReport> = ready.iter().map(|k| seen[k]).collect();
        Some(notice_many(&items, elapsed, &snapshot.report.cargo_homes))
    }
}

/// The bundle identifier macOS notifications are sent under: the agent's own when running from
/// the `.app` bundle, else Terminal's (an unregistered identifier makes macOS drop them).
pub fn mac_bundle_id(exe: &Path) -> &'static str {
    let in_bundle = exe
        .ancestors()
        .any(|a| a.extension().is_some_and(|e| e == "app"))
        && exe.parent().is_some_and(|p| p.ends_with("Contents/MacOS"));
    if in_bundle {
        BUNDLE_ID
    } else {
        "com.apple.Terminal"
    }
}

#[cfg(target_os = "macos")]
fn prepare_platform() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let exe = std::env::current_exe().unwrap_or_default();
        let id = mac_bundle_id(&exe);
        if let Err(e) = notify_rust::set_application(id) {
            tracing::warn!("cannot send notifications as {id}: {e}");
        }
    });
}

#[cfg(not(target_os = "macos"))]
fn prepare_platform() {}

/// How many shown notifications are waiting for a button press right now.
static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Holds one of the [`MAX_WAITING_FOR_ACTION`] places while a thread waits.
struct WaitSlot;

impl WaitSlot {
    /// Takes a place if [`delivery`] allows a button now.
    fn take(notice: &Notice, commands: bool) -> (Delivery, Option<WaitSlot>) {
        use std::sync::atomic::Ordering;
        let mut waiting = WAITING.load(Ordering::Acquire);
        loop {
            let d = delivery(notice, commands, waiting);
            if !d.button {
                return (d, None);
            }
            match WAITING.compare_exchange(
                waiting,
                waiting + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return (d, Some(WaitSlot)),
                Err(now) => waiting = now,
            }
        }
    }
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Shows `notice` on a background thread. With `commands`, a "Terminate" button is offered
/// (when the notice has one and no other notification waits for a press) and pressing it
/// sends the command; otherwise the notice is plain and names the command to run. Failures to
/// reach the notification service are logged, not returned: the menu still shows everything.
///
/// On macOS the button's answer arrives through the main run loop, which the tray's event loop
/// runs; in headless mode pass `None` (nothing would ever answer, and the thread would wait
/// forever).
pub fn show(notice: Notice, commands: Option<UnboundedSender<UiCommand>>) -> std::io::Result<()> {
    let (delivery, slot) = WaitSlot::take(&notice, commands.is_some());
    std::thread::Builder::new()
        .name("lockwatch-notify".into())
        .spawn(move || {
            prepare_platform();
            let mut n = notify_rust::Notification::new();
            n.appname("cargo-lockwatch")
                .summary(&notice.summary)
                .body(&delivery.body);
            #[cfg(all(unix, not(target_os = "macos")))]
            if notice.urgent {
                n.icon("dialog-warning")
                    .urgency(notify_rust::Urgency::Critical);
            } else {
                n.icon("dialog-information");
            }
            if delivery.button {
                if notice.resume.is_some() {
                    n.action(ACTION_RESUME, "Resume");
                }
                n.action(ACTION_TERMINATE, "Terminate");
            }
            match n.show() {
                Ok(handle) => {
                    if let (Some(_slot), Some(tx)) = (slot, commands) {
                        handle.wait_for_action(|action| {
                            if let Some(cmd) = notice.command_for_action(action) {
                                tracing::info!("notification action {action}: {cmd:?}");
                                let _ = tx.send(cmd);
                            }
                        });
                    }
                }
                Err(e) => tracing::warn!("cannot show a notification: {e}"),
            }
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::core::model::StaleReason;
    use crate::ui::demo::{self, Stage};

    const T0: f64 = 1_700_000_000.0;

    fn config() -> NotifyConfig {
        NotifyConfig {
            enabled: true,
            cooldown: Duration::from_secs(600),
            stale_without_waiters_after: Duration::from_secs(600),
        }
    }

    /// The demo's stale snapshot, optionally without its waiter, observed at `at`.
    fn stale(at: f64, waiting: bool) -> UiSnapshot {
        let mut s = demo::snapshot(Stage::Stale, at);
        if !waiting {
            s.report.incidents[0].blocked.clear();
        }
        s
    }

    #[test]
    fn a_cargo_hung_on_the_network_is_told_with_when_cargo_gives_up_by_itself() {
        let mut i = demo::snapshot(Stage::Stale, T0).report.incidents[0].clone();
        i.stale_reasons = vec![StaleReason::NetworkSilent];
        i.verdict = "cargo 4242 looks stale: it waits on the network (…). Cargo gives up by \
                     itself after its retries — with Cargo's defaults, in about 6s."
            .into();
        let n = notice_one(&i, 0.0, &[]);
        assert!(n.body.ends_with(&i.verdict), "{}", n.body);
        assert!(!n.body.contains("Looks stale:"), "{}", n.body);
    }

    #[test]
    fn another_cargo_home_s_package_cache_is_named_by_its_home() {
        let s = demo::snapshot(Stage::Stale, T0);
        let mut i = s.report.incidents[0].clone();
        let own = s.report.cargo_homes.clone();
        assert_eq!(
            notice_one(&i, 0.0, &own).summary,
            "Stale Cargo lock: package cache"
        );
        let other = std::path::PathBuf::from("/tmp/other-home/.package-cache");
        i.locks[0].path = other.clone();
        for b in &mut i.blocked {
            b.lock = other.clone();
        }
        assert_eq!(
            notice_one(&i, 0.0, &own).summary,
            "Stale Cargo lock: package cache of /tmp/other-home"
        );
    }

    #[test]
    fn text_names_blocked_blocker_origin_project_time_and_reason() {
        let s = demo::snapshot(Stage::Stale, T0);
        let n = notice_one(&s.report.incidents[0], 5.0, &[]);
        assert_eq!(n.summary, "Stale Cargo lock: package cache");
        let home = tilde(&demo::project_dir());
        assert_eq!(
            n.body,
            format!(
                "cargo check in {home} (IDE: rust-analyzer, pid 4250) waits 50s for the package \
                 cache, blocked by cargo 4242 (terminal: zsh) for 12m35s in {home}. Looks \
                 stale: {}.",
                StaleReason::Stopped.describe()
            )
        );
        // Stopped: Resume first; Terminate only if it still looks stale when pressed.
        assert_eq!(
            n.command_for_action(ACTION_RESUME),
            Some(UiCommand::Resume {
                pid: 4242,
                start_token: 777
            })
        );
        assert_eq!(
            n.command_for_action(ACTION_TERMINATE),
            Some(UiCommand::TerminateIfStale {
                pid: 4242,
                start_token: 777
            })
        );
        assert_eq!(n.command_for_action("default"), None);
        assert_eq!(n.command_for_action("__closed"), None);
    }

    #[test]
    fn a_blocker_that_ignores_sigterm_gets_no_terminate_button_but_kill_force() {
        let s = demo::stale_ignoring_sigterm(T0);
        let n = notice_one(&s.report.incidents[0], 0.0, &[]);
        assert_eq!(n.terminate, None);
        assert!(
            n.body.ends_with(" cargo 4242: it ignores SIGTERM."),
            "{}",
            n.body
        );
        let d = delivery(&n, true, 0);
        assert!(!d.button);
        assert!(
            d.body.ends_with("\nRun: cargo lockwatch kill --force 4242"),
            "{}",
            d.body
        );
    }

    #[test]
    fn a_name_with_control_characters_is_escaped_in_the_notification() {
        let s = demo::snapshot_named(Stage::Stale, T0, "lw\u{1b}[31m\nx");
        let n = notice_one(&s.report.incidents[0], 0.0, &[]);
        let control = |t: &str| t.chars().any(char::is_control);
        assert!(!control(&n.summary) && !control(&n.body), "{n:?}");
        assert!(
            n.body.contains("blocked by lw\\x1b[31m\\nx 4242"),
            "{}",
            n.body
        );
        // Several: one line each.
        let many = notice_many(&[&s.report.incidents[0], &s.report.incidents[0]], 0.0, &[]);
        assert!(!many.body.contains('\u{1b}'), "{many:?}");
        assert_eq!(many.body.lines().count(), 2, "{many:?}");
    }

    #[test]
    fn a_button_only_where_a_press_can_arrive_and_one_waiter_at_a_time() {
        let s = demo::snapshot(Stage::Stale, T0);
        let one = notice_one(&s.report.incidents[0], 0.0, &[]);
        assert_eq!(one.command.as_deref(), Some("cargo lockwatch resume 4242"));

        // The tray runs and nothing else waits: the button, the body as it is.
        let d = delivery(&one, true, 0);
        assert!(d.button);
        assert_eq!(d.body, one.body);
        // Headless (macOS: nothing runs the main run loop the answer would come through):
        // plain, and the body says what to run.
        let d = delivery(&one, false, 0);
        assert!(!d.button);
        assert_eq!(
            d.body,
            format!("{}\nRun: cargo lockwatch resume 4242", one.body)
        );
        // Another notification already waits for a press: no second parked thread.
        let d = delivery(&one, true, MAX_WAITING_FOR_ACTION);
        assert!(!d.button);
        assert!(
            d.body.ends_with("Run: cargo lockwatch resume 4242"),
            "{}",
            d.body
        );

        // Several at once never have a button; they point at the full list.
        let items = [&s.report.incidents[0], &s.report.incidents[0]];
        let many = notice_many(&items, 0.0, &[]);
        let d = delivery(&many, true, 0);
        assert!(!d.button);
        assert!(d.body.ends_with("\nRun: cargo lockwatch"), "{}", d.body);

        // A notice with nothing to do (a kill's outcome) is shown as it is.
        let plain = Notice {
            summary: "cargo-lockwatch".into(),
            body: "done".into(),
            terminate: None,
            resume: None,
            command: None,
            urgent: false,
        };
        assert_eq!(
            delivery(&plain, false, 0),
            Delivery {
                button: false,
                body: "done".into()
            }
        );
    }

    #[test]
    fn wait_slots_are_bounded_and_given_back() {
        let s = demo::snapshot(Stage::Stale, T0);
        let one = notice_one(&s.report.incidents[0], 0.0, &[]);
        let before = WAITING.load(std::sync::atomic::Ordering::Acquire);
        // No notification thread runs in unit tests; a leftover place would be a leak.
        assert!(before < MAX_WAITING_FOR_ACTION, "{before} places taken");
        let (d, slot) = WaitSlot::take(&one, true);
        assert!(d.button && slot.is_some());
        let (d2, slot2) = WaitSlot::take(&one, true);
        assert!(!d2.button && slot2.is_none(), "a second waiter is refused");
        drop(slot);
        let (d3, slot3) = WaitSlot::take(&one, true);
        assert!(d3.button && slot3.is_some(), "the place is given back");
        drop(slot3);
        // Headless never takes a place.
        let (d4, slot4) = WaitSlot::take(&one, false);
        assert!(!d4.button && slot4.is_none());
        assert_eq!(WAITING.load(std::sync::atomic::Ordering::Acquire), before);
    }

    #[test]
    fn notifies_on_the_edge_when_someone_waits_then_not_again() {
        let mut n = Notifier::new(config());
        assert_eq!(n.observe(&demo::snapshot(Stage::Held, T0), T0), None);
        assert_eq!(
            n.observe(&demo::snapshot(Stage::Contended, T0 + 1.0), T0 + 1.0),
            None
        );
        let first = n
            .observe(&stale(T0 + 2.0, true), T0 + 2.0)
            .expect("notified");
        assert_eq!(first.summary, "Stale Cargo lock: package cache");
        // Still stale and waited on: no repeat, not even after the cooldown (no new edge).
        for t in 3..2000 {
            let at = T0 + f64::from(t);
            assert_eq!(n.observe(&stale(at, true), at), None, "at +{t}s");
        }
    }

    #[test]
    fn a_new_waiter_after_the_cooldown_is_a_new_edge() {
        let mut n = Notifier::new(config());
        assert!(n.observe(&stale(T0, true), T0).is_some());
        // The waiter gets tired and leaves; another comes within the cooldown: held back...
        assert_eq!(n.observe(&stale(T0 + 60.0, false), T0 + 60.0), None);
        assert_eq!(n.observe(&stale(T0 + 120.0, true), T0 + 120.0), None);
        assert_eq!(n.observe(&stale(T0 + 599.0, true), T0 + 599.0), None);
        // ...and released once the cooldown is over, while it still matters.
        assert!(n.observe(&stale(T0 + 600.0, true), T0 + 600.0).is_some());
        assert_eq!(n.observe(&stale(T0 + 601.0, true), T0 + 601.0), None);
    }

    #[test]
    fn a_held_back_edge_is_dropped_if_the_waiter_left() {
        let mut cfg = config();
        cfg.stale_without_waiters_after = Duration::from_secs(3600);
        let mut n = Notifier::new(cfg);
        assert!(n.observe(&stale(T0, true), T0).is_some());
        n.observe(&stale(T0 + 60.0, false), T0 + 60.0);
        n.observe(&stale(T0 + 120.0, true), T0 + 120.0);
        n.observe(&stale(T0 + 300.0, false), T0 + 300.0);
        assert_eq!(n.observe(&stale(T0 + 700.0, false), T0 + 700.0), None);
    }

    #[test]
    fn stale_without_waiters_notifies_after_the_configured_time() {
        let mut n = Notifier::new(config());
        assert_eq!(n.observe(&stale(T0, false), T0), None);
        assert_eq!(n.observe(&stale(T0 + 599.0, false), T0 + 599.0), None);
        let notice = n
            .observe(&stale(T0 + 600.0, false), T0 + 600.0)
            .expect("notified");
        assert!(!notice.body.contains("waiting"), "{}", notice.body);
        assert_eq!(n.observe(&stale(T0 + 601.0, false), T0 + 601.0), None);
    }

    #[test]
    fn recovering_resets_the_stale_clock() {
        let mut n = Notifier::new(config());
        n.observe(&stale(T0, false), T0);
        n.observe(&demo::snapshot(Stage::Held, T0 + 500.0), T0 + 500.0);
        assert_eq!(n.observe(&stale(T0 + 700.0, false), T0 + 700.0), None);
        assert!(n.observe(&stale(T0 + 1300.0, false), T0 + 1300.0).is_some());
    }

    #[test]
    fn snooze_holds_back_and_releases_once_after() {
        let mut n = Notifier::new(config());
        let mut s = stale(T0, true);
        s.snoozed_until = Some(T0 + 900.0);
        assert_eq!(n.observe(&s, T0), None);
        assert_eq!(n.observe(&s, T0 + 899.0), None);
        assert!(n.observe(&s, T0 + 900.0).is_some());
        assert_eq!(n.observe(&s, T0 + 901.0), None);
    }

    #[test]
    fn disabled_or_paused_sends_nothing_and_owes_nothing() {
        let mut cfg = config();
        cfg.enabled = false;
        let mut n = Notifier::new(cfg);
        assert_eq!(n.observe(&stale(T0, true), T0), None);
        n.set_config(config());
        assert_eq!(n.observe(&stale(T0 + 1.0, true), T0 + 1.0), None);

        let mut n = Notifier::new(config());
        let mut s = stale(T0, true);
        s.paused = true;
        assert_eq!(n.observe(&s, T0), None);
        s.paused = false;
        assert_eq!(n.observe(&s, T0 + 1.0), None);
    }

    /// Another stale incident like the demo's, blocked by `pid`, held for `held` seconds.
    fn another(s: &UiSnapshot, pid: u32, held: f64) -> IncidentReport {
        let mut i = s.report.incidents[0].clone();
        i.id = format!("{pid}/777");
        let b = i.blocker.as_mut().unwrap();
        b.pid = pid;
        i.locks[0].held_for_secs = Some(held);
        i.locks[0].description = "build directory".into();
        i.action.as_mut().unwrap().pid = pid;
        i
    }

    #[test]
    fn several_at_once_are_coalesced_and_bursts_are_spaced() {
        let mut s = stale(T0, true);
        let second = another(&s, 5000, 60.0);
        s.report.incidents.push(second);
        let mut n = Notifier::new(config());
        let notice = n.observe(&s, T0).expect("one notice for both");
        assert_eq!(notice.summary, "2 stale Cargo locks");
        let lines: Vec<&str> = notice.body.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0]
                .starts_with("cargo build 4242 (stopped) blocks cargo check 45s · package cache"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("cargo build 5000 (stopped) blocks"),
            "{lines:?}"
        );
        assert_eq!(notice.terminate, None);
        assert_eq!(notice.command_for_action(ACTION_TERMINATE), None);

        // A third going stale 5 s later waits for the coalescing window.
        let third = another(&s, 6000, 60.0);
        s.report.incidents.push(third);
        assert_eq!(n.observe(&s, T0 + 5.0), None);
        let later = n.observe(&s, T0 + COALESCE_SECS).expect("released");
        assert!(later.body.contains("cargo 6000"), "{}", later.body);
        assert_eq!(
            later.terminate,
            Some(UiCommand::TerminateIfStale {
                pid: 6000,
                start_token: 777
            })
        );
    }

    #[test]
    fn blocking_or_holding_incidents_never_notify() {
        let mut n = Notifier::new(config());
        for t in 0..2000 {
            let at = T0 + f64::from(t);
            assert_eq!(n.observe(&demo::snapshot(Stage::Contended, at), at), None);
        }
    }

    #[test]
    fn many_incidents_are_summed_up() {
        let s = stale(T0, true);
        let items: Vec<&IncidentReport> = (0..6).map(|_| &s.report.incidents[0]).collect();
        let n = notice_many(&items, 0.0, &[]);
        assert_eq!(n.summary, "6 stale Cargo locks");
        assert!(n.body.ends_with("… and 2 more"), "{}", n.body);
    }

    #[test]
    fn bundle_id_only_inside_the_app_bundle() {
        assert_eq!(
            mac_bundle_id(Path::new(
                "/Applications/cargo-lockwatch.app/Contents/MacOS/cargo-lockwatch"
            )),
            BUNDLE_ID
        );
        assert_eq!(
            mac_bundle_id(Path::new("/Users/me/.cargo/bin/cargo-lockwatch")),
            "com.apple.Terminal"
        );
        assert_eq!(mac_bundle_id(Path::new("")), "com.apple.Terminal");
    }
}
