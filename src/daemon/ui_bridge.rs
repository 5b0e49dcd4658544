//! Where the daemon meets the UI: desktop notifications driven by published snapshots, and the
//! tray's [`UiCommand`]s turned into engine commands (kill, snooze, pause), service changes
//! (launch at login) or a file manager opening a folder.

use std::ops::ControlFlow;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::engine::{Command, Notifier};
use crate::config::NotifyConfig;
use crate::core::model::{IncidentState, Report};
use crate::kill::{KillReport, KillRequest};
use crate::ui::{SnoozeFor, UiCommand, UiSnapshot, notify};

/// Shows desktop notifications (D-Bus on Linux, the notification center on macOS), decided by
/// the UI's pure notifier (edge-triggered, cooldown, snooze, coalescing).
pub struct DesktopNotifier {
    decider: notify::Notifier,
    /// Where a notification's "Terminate" button sends its command (None: no button).
    commands: Option<mpsc::UnboundedSender<UiCommand>>,
    /// Only log, never show (no notification service reachable).
    log_only: bool,
}

impl DesktopNotifier {
    /// A notifier; `commands` enables the Terminate action.
    pub fn new(
        config: NotifyConfig,
        commands: Option<mpsc::UnboundedSender<UiCommand>>,
    ) -> DesktopNotifier {
        // Without a session bus there is nobody to show a notification on Linux.
        let log_only = cfg!(not(target_os = "macos"))
            && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none();
        DesktopNotifier {
            decider: notify::Notifier::new(config),
            commands,
            log_only,
        }
    }
}

impl Notifier for DesktopNotifier {
    fn reconfigure(&mut self, config: &NotifyConfig) {
        self.decider.set_config(config.clone());
    }

    fn snapshot(&mut self, snapshot: &UiSnapshot, now: f64) {
        let Some(notice) = self.decider.observe(snapshot, now) else {
            return;
        };
        tracing::info!("notify: {} — {}", notice.summary, notice.body);
        if self.log_only {
            super::logcap::println(&format!(
                "notification (no notification service): {} — {}",
                notice.summary, notice.body
            ));
            return;
        }
        if let Err(e) = notify::show(notice, self.commands.clone()) {
            tracing::warn!("cannot show a notification: {e}");
        }
    }
}

/// Whether a notification's button press can reach the daemon: on macOS the answer comes
/// through the main run loop, which only the tray's event loop runs, so a headless daemon there
/// offers no button (its notifications name the command to run instead). On Linux the press
/// comes back over D-Bus to the thread that waits for it, tray or not.
pub fn buttons_deliverable(tray: bool, macos: bool) -> bool {
    tray || !macos
}

/// Seconds from now until the snooze ends.
fn snooze_until(s: SnoozeFor, now: f64) -> Option<f64> {
    match s {
        SnoozeFor::Minutes15 => Some(now + 15.0 * 60.0),
        SnoozeFor::Hour1 => Some(now + 3600.0),
        SnoozeFor::UntilTomorrow => Some(next_local_8am(now)),
        SnoozeFor::Off => None,
    }
}

/// 8:00 tomorrow, local time.
fn next_local_8am(now: f64) -> f64 {
    let mut tm = crate::local_time::broken_down(now);
    tm.tm_mday += 1;
    tm.tm_hour = 8;
    tm.tm_min = 0;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    // SAFETY: mktime only reads and writes the struct we pass.
    let when = unsafe { libc::mktime(&mut tm) };
    if when > 0 {
        when as f64
    } else {
        now + 12.0 * 3600.0
    }
}

/// Opens a folder or file with the desktop's default application.
fn open_path(path: &std::path::Path) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    match std::process::Command::new(opener).arg(path).spawn() {
        // Reaped on a thread of its own, so no zombie is left behind per click.
        Ok(mut child) => {
            let reaper = std::thread::Builder::new()
                .name("lockwatch-open".into())
                .spawn(move || child.wait());
            if let Err(e) = reaper {
                tracing::warn!("cannot wait for {opener}: {e}");
            }
        }
        Err(e) => tracing::warn!("cannot run {opener} {}: {e}", path.display()),
    }
}

/// Shows the outcome of a kill or resume the user asked for from the menu or a notification.
fn tell(report: Result<KillReport, &str>) {
    let text = match &report {
        Ok(r) => r.message().to_string(),
        Err(e) => e.to_string(),
    };
    tracing::info!("{text}");
    let n = notify::Notice {
        summary: "cargo-lockwatch".into(),
        body: text,
        terminate: None,
        resume: None,
        command: None,
        urgent: false,
    };
    let _ = notify::show(n, None);
}

/// Why a notification's Terminate must not go on: the stale incident it was about (its action
/// on `pid`, `start_token`) is not stale in `report` any more: the blocker was resumed, went
/// on by itself, or its hold ended. `None`: it still looks stale.
pub fn no_longer_stale(report: &Report, pid: u32, start_token: u64) -> Option<String> {
    let still = report.incidents.iter().any(|i| {
        i.state == IncidentState::Stale
            && (i.action.as_ref()).is_some_and(|a| a.pid == pid && a.start_token == start_token)
    });
    (!still).then(|| {
        format!(
            "{pid} no longer looks stale (it was resumed, went on by itself, or its hold ended): \
             nothing was signalled; the menu and `cargo lockwatch status` show it as it is now"
        )
    })
}

/// Translates tray commands until the channel closes. Returns when the user quits.
pub async fn run_commands(
    mut ui: mpsc::UnboundedReceiver<UiCommand>,
    engine: mpsc::UnboundedSender<Command>,
    snapshots: watch::Receiver<UiSnapshot>,
    dirs: crate::config::Dirs,
    kill_grace: Duration,
) {
    let bridge = Bridge {
        engine,
        snapshots,
        dirs,
        kill_grace,
    };
    while let Some(cmd) = ui.recv().await {
        if bridge.handle(cmd).await.is_break() {
            return;
        }
    }
}

/// What tray commands are carried out with: the engine, its published snapshots, the user's
/// directories and the grace a kill gives.
struct Bridge {
    engine: mpsc::UnboundedSender<Command>,
    snapshots: watch::Receiver<UiSnapshot>,
    dirs: crate::config::Dirs,
    kill_grace: Duration,
}

impl Bridge {
    /// Carries out one tray command; `Break` when the bridge is done: the user quit, or the
    /// engine is gone.
    async fn handle(&self, mut cmd: UiCommand) -> ControlFlow<()> {
        if let UiCommand::TerminateIfStale { pid, start_token } = cmd {
            // Judged on a pass made now, not on the notification's old report.
            let (tx, rx) = oneshot::channel();
            if self.engine.send(Command::Refresh(tx)).is_err() {
                return ControlFlow::Break(());
            }
            let _ = rx.await;
            if let Some(why) = no_longer_stale(&self.snapshots.borrow().report, pid, start_token) {
                tell(Err(&why));
                return ControlFlow::Continue(());
            }
            cmd = UiCommand::Terminate { pid, start_token };
        }
        match cmd {
            UiCommand::TerminateIfStale { .. } => {}
            UiCommand::Terminate { pid, start_token }
            | UiCommand::ForceKill { pid, start_token } => {
                let force = matches!(cmd, UiCommand::ForceKill { .. });
                return self.kill(pid, start_token, force).await;
            }
            UiCommand::Resume { pid, start_token } => return self.resume(pid, start_token).await,
            UiCommand::Snooze(s) => {
                let _ = self
                    .engine
                    .send(Command::Snooze(snooze_until(s, crate::scan::now())));
            }
            UiCommand::SetPaused(p) => {
                let _ = self.engine.send(Command::Pause(p));
            }
            UiCommand::SetYieldIde(on) => self.set_yield_ide(on).await,
            UiCommand::SetLaunchAtLogin(on) => self.set_launch_at_login(on).await,
            UiCommand::OpenHistory => self.open_history().await,
            UiCommand::RevealProject(path) => open_path(&path),
            UiCommand::Quit => {
                let _ = self.engine.send(Command::Shutdown);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    /// Terminates (or, `force`d, kills) `pid` and tells the user how that went; `Break` when
    /// the engine is gone.
    async fn kill(&self, pid: u32, start_token: u64, force: bool) -> ControlFlow<()> {
        let (tx, rx) = oneshot::channel();
        let req = KillRequest {
            pid,
            start_token: Some(start_token),
            force,
            grace: self.kill_grace,
        };
        if self.engine.send(Command::Kill(req, tx)).is_err() {
            return ControlFlow::Break(());
        }
        tell(rx.await.map_err(|_| "the kill did not complete"));
        ControlFlow::Continue(())
    }

    /// Resumes a stopped `pid` and tells the user how that went; `Break` when the engine is
    /// gone.
    async fn resume(&self, pid: u32, start_token: u64) -> ControlFlow<()> {
        let (tx, rx) = oneshot::channel();
        if self
            .engine
            .send(Command::Resume(pid, Some(start_token), tx))
            .is_err()
        {
            return ControlFlow::Break(());
        }
        tell(rx.await.map_err(|_| "the resume did not complete"));
        ControlFlow::Continue(())
    }

    /// Saves `policy.yield_ide` in the config file and applies it.
    async fn set_yield_ide(&self, on: bool) {
        let dirs = self.dirs.clone();
        let written = tokio::task::spawn_blocking(move || {
            crate::config::persist(&dirs, "policy", "yield_ide", toml::Value::Boolean(on))
        })
        .await;
        match written {
            Ok(Ok(file)) => tracing::info!("policy.yield_ide = {on} in {}", file.display()),
            // Still applied for this session; the file is the user's to fix.
            Ok(Err(e)) => tracing::warn!("{e}"),
            Err(e) => tracing::warn!("cannot save policy.yield_ide: {e}"),
        }
        let _ = self.engine.send(Command::SetYieldIde(on));
    }

    /// Installs (`on`) or uninstalls the login service, then tells the engine whether the
    /// daemon will start at login.
    async fn set_launch_at_login(&self, on: bool) {
        let result = tokio::task::spawn_blocking(move || {
            let setup = crate::service::Setup::from_env()?;
            let mut runner = crate::service::SystemRunner;
            if on {
                crate::service::install(&setup, &mut runner, false)
            } else {
                crate::service::uninstall(&setup, &mut runner, false)
            }
        })
        .await;
        // The tick says whether the daemon will start at login: a file no service
        // manager takes up is not that, and the user is told why.
        let will_start = match result {
            Ok(Ok(outcome)) => will_start_at_login(&outcome, on),
            Ok(Err(e)) => {
                tell(Err(&format!("Launch at login: {e}")));
                crate::service::is_installed()
            }
            Err(e) => {
                tracing::warn!("launch at login: {e}");
                crate::service::is_installed()
            }
        };
        let _ = self.engine.send(Command::SetLaunchAtLogin(will_start));
    }

    /// Writes the last week's history summary to a file and opens it.
    async fn open_history(&self) {
        let dir = self.dirs.data.clone();
        let dirs = self.dirs.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let h = super::history::History::new(&dir);
            let since = crate::scan::now() - 7.0 * 86400.0;
            let mut summary = h.summary(since).0;
            // The file as it is now (the menu's toggles write to it).
            let loaded = crate::config::Loaded::load(&dirs, &Default::default());
            crate::core::insight::drop_taken_advice(&mut summary, &loaded.config);
            let text = super::history::render(&summary, 7 * 86_400, Some(100));
            let file = dir.join("history-summary.txt");
            if std::fs::create_dir_all(&dir)
                .and_then(|_| std::fs::write(&file, text))
                .is_ok()
            {
                open_path(&file);
            }
        })
        .await;
    }
}

/// Whether the daemon will start at login after Launch at login was turned `on` or off with
/// `outcome`; the user is told when a service file was written but nothing takes it up.
fn will_start_at_login(outcome: &crate::service::Outcome, on: bool) -> bool {
    tracing::info!(
        "launch at login {}: {:?}",
        if on { "on" } else { "off" },
        outcome.steps
    );
    match &outcome.unmanaged {
        Some(u) if on => {
            let why = format!(
                "Launch at login: {}, so nothing will start the daemon at login; {}",
                u.why,
                crate::service::START_BY_HAND
            );
            tell(Err(&why));
            false
        }
        _ => crate::service::is_installed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::demo::{self, Stage};

    #[test]
    fn a_notification_s_terminate_goes_on_only_while_its_incident_looks_stale() {
        let stale = demo::snapshot(Stage::Stale, 1_700_000_000.0).report;
        assert_eq!(no_longer_stale(&stale, 4242, 777), None);
        // Another process under the same pid: not the one the notification was about.
        assert!(no_longer_stale(&stale, 4242, 778).is_some());
        // Resumed (busy again, someone waits) or done: refused, saying why.
        for stage in [Stage::Contended, Stage::Held, Stage::Idle] {
            let now = demo::snapshot(stage, 1_700_000_000.0).report;
            let why = no_longer_stale(&now, 4242, 777).expect("refused");
            assert!(
                why.contains("no longer looks stale") && why.contains("nothing was signalled"),
                "{why}"
            );
        }
    }

    #[test]
    fn headless_macos_offers_no_button_nothing_could_answer() {
        assert!(!buttons_deliverable(false, true));
        assert!(buttons_deliverable(true, true));
        assert!(buttons_deliverable(false, false));
        assert!(buttons_deliverable(true, false));
    }

    #[test]
    fn snoozes_end_when_expected() {
        assert_eq!(snooze_until(SnoozeFor::Minutes15, 1000.0), Some(1900.0));
        assert_eq!(snooze_until(SnoozeFor::Hour1, 1000.0), Some(4600.0));
        assert_eq!(snooze_until(SnoozeFor::Off, 1000.0), None);
        let now = 1_795_550_000.0;
        let tomorrow = snooze_until(SnoozeFor::UntilTomorrow, now).unwrap();
        assert!(
            tomorrow > now + 3600.0 && tomorrow < now + 2.0 * 86400.0,
            "{tomorrow}"
        );
    }
}
