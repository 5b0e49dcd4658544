//! The background daemon: single instance per user, a tokio runtime built by hand on worker
//! threads (the main thread belongs to the tray), the engine loop, the IPC server, clean
//! shutdown (socket removed) on SIGINT/SIGTERM or a Quit, and a config reload on SIGHUP.

use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;

mod alarm;
pub mod client;
pub mod engine;
pub mod history;
pub mod instance;
mod known;
pub mod logcap;
mod open_files;
pub mod protocol;
pub mod quick_check;
pub mod server;
pub mod trust;
pub mod ui_bridge;
pub mod watcher;

use crate::config::{Config, Dirs, FlagOverrides, Loaded};
use crate::scan::WatchRoots;

/// File name of the socket in the runtime dir.
pub const SOCKET_NAME: &str = "lockwatch.sock";

/// How long the tray waits after a change before it redraws: too short for a person to see,
/// long enough for the socket's clients to be answered before the tray takes the main thread.
#[cfg(tray)]
const TRAY_REDRAW_DELAY: Duration = Duration::from_millis(5);

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// No UI: log state changes to stdout.
    pub headless: bool,
    /// Grace period a kill waits for the release.
    pub kill_grace: Duration,
    /// The command-line overrides, applied again when SIGHUP reloads the config.
    pub flags: FlagOverrides,
    /// `daemon.history_max_bytes` is a default standing in for a setting that could not be
    /// used ([`history::bound_in_doubt`]): rotate at no less than the previous generation.
    pub history_bound_in_doubt: bool,
}

/// Whether the daemon shows a menu-bar/tray icon, and why (or why not), for its first log
/// line and `doctor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiMode {
    /// The tray runs.
    pub tray: bool,
    /// Why, in a few words.
    pub why: &'static str,
}

/// Decides [`UiMode`] from plain facts: `--headless`, whether the tray is built in and whether
/// a graphical session is there.
pub fn ui_mode(headless_flag: bool, built_with_tray: bool, gui: bool) -> UiMode {
    let (tray, why) = if headless_flag {
        (false, "--headless was given")
    } else if !built_with_tray {
        (
            false,
            "this build has no menu bar (build with `--features tray` for one)",
        )
    } else if !gui && cfg!(target_os = "macos") {
        (false, "no menu bar to draw into over SSH")
    } else if !gui {
        (
            false,
            "no graphical session (DISPLAY and WAYLAND_DISPLAY are unset)",
        )
    } else {
        (true, "a graphical session is there")
    };
    UiMode { tray, why }
}

/// Whether a graphical session is available for a tray.
pub fn gui_available() -> bool {
    if cfg!(target_os = "macos") {
        // Under SSH there is no menu bar to draw into.
        return std::env::var_os("SSH_CONNECTION").is_none()
            || std::env::var_os("__CFBundleIdentifier").is_some();
    }
    std::env::var_os("DISPLAY").is_some_and(|v| !v.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty())
}

/// The size of `sockaddr_un.sun_path` on this platform: a socket's path and its terminating
/// NUL must fit in it (104 bytes on macOS and the BSDs, 108 elsewhere).
pub const SUN_PATH_BYTES: usize = if cfg!(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
)) {
    104
} else {
    108
};

/// Whether a socket path of `len` bytes fits a `sun_path` of `limit` bytes (with its NUL).
pub fn socket_path_fits(len: usize, limit: usize) -> bool {
    len < limit
}

/// A socket path too long for `bind`/`connect`: the daemon cannot listen there, nor a client
/// reach it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the socket path {} is {len} bytes long, but a Unix socket path can have at most {max} \
     bytes on {os} (sun_path holds {limit} with the terminating NUL); set \
     LOCKWATCH_RUNTIME_DIR=<a short directory of your own> for the daemon and your shells",
    .path.display(),
    max = .limit - 1,
    os = std::env::consts::OS
)]
pub struct SocketPathTooLong {
    /// The socket path.
    pub path: std::path::PathBuf,
    /// Its length in bytes.
    pub len: usize,
    /// This platform's `sun_path` size ([`SUN_PATH_BYTES`]).
    pub limit: usize,
}

/// Checks that `socket` fits this platform's `sun_path`.
pub fn check_socket_path(socket: &std::path::Path) -> Result<(), SocketPathTooLong> {
    let len = socket.as_os_str().len();
    if socket_path_fits(len, SUN_PATH_BYTES) {
        return Ok(());
    }
    Err(SocketPathTooLong {
        path: socket.to_path_buf(),
        len,
        limit: SUN_PATH_BYTES,
    })
}

/// The socket path for these directories: in the runtime directory, or in the private per-user
/// directory inside it when it is shared (nothing is created or changed to find out).
pub fn socket_path(dirs: &Dirs) -> std::path::PathBuf {
    trust::socket_dir(&dirs.runtime).join(SOCKET_NAME)
}

/// Runs the daemon until it is told to stop. Returns when it has shut down cleanly.
pub fn run(dirs: &Dirs, config: Config, roots: WatchRoots, opts: Options) -> anyhow::Result<()> {
    // Before anything is created: a socket path too long for `bind` is said with its fix.
    check_socket_path(&socket_path(dirs))?;
    // So is a data directory that is a file (or lies under one): no history could be written
    // there (review Y, Y8).
    if let Some(problem) = dirs.data_dir_problem() {
        return Err(problem.into());
    }
    // Before kqueue or a client takes any descriptor (launchd gives agents 256).
    open_files::raise();
    let mut instance = instance::InstanceLock::acquire(&dirs.runtime)?;
    let history_lock = lock_history(dirs)?;
    let runtime = worker_runtime()?;
    // Before the socket exists: from here on a signal ends (or reloads) the daemon cleanly
    // instead of killing it with its socket left behind.
    let signals = runtime.block_on(async { Signals::new() })?;
    logcap::set_max(config.daemon.log_max_bytes);

    let (history, history_problem) = open_history(dirs, &config, &opts);
    let probe = crate::probe::platform()?;
    let mode = ui_mode(opts.headless, cfg!(tray), gui_available());
    let (ui_tx, ui_rx) = mpsc::unbounded_channel();
    let (engine, snapshots, limits) = new_engine(
        dirs,
        probe,
        config,
        roots.clone(),
        &history,
        &ui_tx,
        mode.tray,
    );
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let socket = instance.dir().join(SOCKET_NAME);
    let (listener, guard, cleared) = runtime.block_on(async { server::bind(&socket) })?;
    instance.started();
    let shared = server::Shared {
        snapshots: snapshots.clone(),
        commands: cmd_tx.clone(),
        history,
        kill_grace: opts.kill_grace,
        limits,
        config_file: dirs.config_file(),
    };
    say_started(mode, &roots, &socket, history_problem, dirs);
    if let Some(removed) = cleared {
        logcap::println(&removed);
    }

    runtime.spawn(server::serve(listener, shared));
    runtime.spawn(signals.run(cmd_tx.clone(), dirs.clone(), opts.flags.clone()));
    runtime.spawn(ui_bridge::run_commands(
        ui_rx,
        cmd_tx.clone(),
        snapshots.clone(),
        dirs.clone(),
        opts.kill_grace,
    ));
    let engine_task = runtime.spawn(engine.run(cmd_rx));

    #[cfg(tray)]
    if mode.tray {
        run_tray(runtime, ui_tx, dirs, snapshots, engine_task, guard);
    }
    drop((snapshots, ui_tx));
    shut_down_after(runtime, engine_task, guard, history_lock, instance)
}

/// Waits for the engine to stop, then removes the socket, lets go of the locks and stops the
/// runtime; whether the engine stopped cleanly.
fn shut_down_after(
    runtime: tokio::runtime::Runtime,
    engine_task: tokio::task::JoinHandle<()>,
    guard: server::SocketGuard,
    history_lock: Option<instance::HistoryLock>,
    instance: instance::InstanceLock,
) -> anyhow::Result<()> {
    let outcome = runtime.block_on(engine_task);
    drop(guard);
    drop(history_lock);
    drop(instance);
    runtime.shutdown_timeout(Duration::from_secs(1));
    // A crash must not look like a Quit: launchd/systemd restart only on a non-zero exit.
    outcome.map_err(|e| anyhow::anyhow!("the daemon's engine failed: {e}"))
}

/// The lock on this user's history, so that no second daemon writes it (`None`: it cannot be
/// taken, and that is only warned about).
fn lock_history(dirs: &Dirs) -> anyhow::Result<Option<instance::HistoryLock>> {
    // A second daemon of this user with another runtime directory would write every event
    // into the same history twice.
    match instance::HistoryLock::acquire(&dirs.data, &dirs.runtime) {
        Ok(lock) => Ok(Some(lock)),
        Err(instance::HistoryLockError::Owned(owned)) => Err(owned.into()),
        Err(instance::HistoryLockError::Unavailable(why)) => {
            tracing::warn!("{why}; a second daemon writing this history would not be noticed");
            Ok(None)
        }
    }
}

/// The history the daemon writes, with what keeps it from being written as it should (a
/// file there that is not a regular one).
fn open_history(
    dirs: &Dirs,
    config: &Config,
    opts: &Options,
) -> (history::History, Option<history::NotRegular>) {
    let mut history = history::History::with_limit(&dirs.data, config.daemon.history_max_bytes);
    history.set_bound_in_doubt(opts.history_bound_in_doubt);
    let history_problem = history.check().err();
    (history, history_problem)
}

/// The tokio runtime the daemon's tasks run on: worker threads of its own, so the main thread
/// stays free for the tray.
fn worker_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("lockwatch-worker")
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The engine, with its published snapshots and the daemon settings it publishes on a reload;
/// its notifications offer a button (sent to `ui_tx`) when a press can reach the daemon.
fn new_engine(
    dirs: &Dirs,
    probe: Box<dyn crate::probe::Probe>,
    config: Config,
    roots: WatchRoots,
    history: &history::History,
    ui_tx: &mpsc::UnboundedSender<crate::ui::UiCommand>,
    tray: bool,
) -> (
    engine::Engine,
    tokio::sync::watch::Receiver<crate::ui::UiSnapshot>,
    tokio::sync::watch::Receiver<crate::config::DaemonConfig>,
) {
    let (limits_tx, limits) = tokio::sync::watch::channel(config.daemon.clone());
    let notifier = ui_bridge::DesktopNotifier::new(
        config.notify.clone(),
        ui_bridge::buttons_deliverable(tray, cfg!(target_os = "macos")).then(|| ui_tx.clone()),
    );
    let (engine, snapshots) = engine::Engine::new(
        probe,
        config,
        roots,
        history.clone(),
        Box::new(notifier),
        engine::EngineOptions {
            // Always: under launchd/systemd stdout is the log file.
            log_lines: true,
            launch_at_login: crate::service::is_installed(),
            limits: Some(limits_tx),
            runtime_dir: Some(dirs.runtime.clone()),
            config_file: Some(crate::config::ConfigFile::of(&dirs.config_file())),
        },
    );
    (engine, snapshots, limits)
}

/// Writes the daemon's first log line, and what keeps its history from being written as it
/// should.
fn say_started(
    mode: UiMode,
    roots: &WatchRoots,
    socket: &std::path::Path,
    history_problem: Option<history::NotRegular>,
    dirs: &Dirs,
) {
    let homes: Vec<String> = roots
        .cargo_homes
        .iter()
        .map(|h| h.display().to_string())
        .collect();
    logcap::println(&format!(
        "cargo-lockwatch daemon {} ({}: {}, pid {}) watching {}; socket {}",
        env!("CARGO_PKG_VERSION"),
        if mode.tray { "menu bar" } else { "headless" },
        mode.why,
        std::process::id(),
        homes.join(", "),
        socket.display()
    ));
    if let Some(e) = history_problem {
        let meanwhile = if e.path == dirs.data.join("history.jsonl") {
            "events are kept in memory and retried until then"
        } else {
            "history.jsonl is not rotated until then"
        };
        logcap::println(&format!("history   {e}; {meanwhile}"));
        tracing::warn!("{e}; {meanwhile}");
    }
}

/// Gives the main thread to the tray's event loop, which shows each snapshot the engine
/// publishes.
#[cfg(tray)]
fn run_tray(
    runtime: tokio::runtime::Runtime,
    ui_tx: mpsc::UnboundedSender<crate::ui::UiCommand>,
    dirs: &Dirs,
    snapshots: tokio::sync::watch::Receiver<crate::ui::UiSnapshot>,
    engine_task: tokio::task::JoinHandle<()>,
    guard: server::SocketGuard,
) -> ! {
    // The main thread becomes the tray's event loop and never returns: the process ends
    // through the UI handle once the engine has stopped and the socket is removed.
    let runtime = Box::leak(Box::new(runtime));
    let icon_dir = dirs.runtime.join("tray-icons");
    crate::ui::tray::run(ui_tx, Some(icon_dir), move |handle| {
        let mut rx = snapshots;
        let show = handle.clone();
        runtime.spawn(async move {
            loop {
                let snap = rx.borrow_and_update().clone();
                if show.show(snap).is_err() || rx.changed().await.is_err() {
                    break;
                }
                // Redrawing the tray costs milliseconds of the main thread (an icon written
                // out, a menu rebuilt): clients waiting on the socket (`wait`, `status`)
                // are answered first, and a burst of passes redraws once.
                tokio::time::sleep(TRAY_REDRAW_DELAY).await;
            }
        });
        runtime.spawn(async move {
            let code = match engine_task.await {
                Ok(()) => 0,
                Err(e) => {
                    crate::say!("cargo-lockwatch: the daemon's engine failed: {e}");
                    crate::exit::ERROR
                }
            };
            drop(guard);
            let _ = handle.exit(code);
        });
    })
}

/// The signals the daemon handles, registered before the socket is bound.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let get = |kind: SignalKind, name: &str| {
            signal(kind).with_context(|| format!("cannot handle {name}"))
        };
        Ok(Signals {
            int: get(SignalKind::interrupt(), "SIGINT")?,
            term: get(SignalKind::terminate(), "SIGTERM")?,
            hup: get(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    /// SIGINT/SIGTERM: a clean shutdown. SIGHUP: reload the config file and environment.
    async fn run(
        mut self,
        commands: mpsc::UnboundedSender<engine::Command>,
        dirs: Dirs,
        flags: FlagOverrides,
    ) {
        loop {
            tokio::select! {
                _ = self.int.recv() => break,
                _ = self.term.recv() => break,
                _ = self.hup.recv() => {
                    let (dirs, flags) = (dirs.clone(), flags.clone());
                    let loaded = tokio::task::spawn_blocking(move || Loaded::load(&dirs, &flags)).await;
                    if let Ok(loaded) = loaded {
                        let roots = loaded.roots();
                        let _ = commands.send(engine::Command::Reload(Box::new(loaded), roots));
                    }
                }
            }
        }
        let _ = commands.send(engine::Command::Shutdown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_paths_must_leave_room_for_the_nul() {
        assert!(socket_path_fits(107, 108));
        assert!(!socket_path_fits(108, 108));
        assert!(socket_path_fits(103, 104) && !socket_path_fits(104, 104));
        // The limit is this platform's own `sun_path`.
        // SAFETY: an all-zero sockaddr_un is a valid value.
        let addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        assert_eq!(addr.sun_path.len(), SUN_PATH_BYTES);
        let long = std::path::PathBuf::from(format!("/{}/lockwatch.sock", "d".repeat(200)));
        let e = check_socket_path(&long).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(&format!("is {} bytes long", long.as_os_str().len()))
                && text.contains(&format!("at most {} bytes", SUN_PATH_BYTES - 1))
                && text.contains("LOCKWATCH_RUNTIME_DIR=<a short directory of your own>"),
            "{text}"
        );
        check_socket_path(std::path::Path::new(
            "/run/user/1000/cargo-lockwatch/lockwatch.sock",
        ))
        .unwrap();
    }

    #[test]
    fn ui_mode_says_why() {
        assert_eq!(
            ui_mode(true, true, true),
            UiMode {
                tray: false,
                why: "--headless was given"
            }
        );
        assert!(ui_mode(false, false, true).why.contains("--features tray"));
        let no_gui = ui_mode(false, true, false);
        assert!(!no_gui.tray);
        assert!(no_gui.why.contains(if cfg!(target_os = "macos") {
            "SSH"
        } else {
            "DISPLAY"
        }));
        assert!(ui_mode(false, true, true).tray);
    }
}
