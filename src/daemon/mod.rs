//! The background daemon: single instance per user, a tokio runtime built by hand on worker
//! threads (the main thread belongs to the tray), the engine loop, the IPC server, and clean
//! shutdown on SIGINT/SIGTERM or a Quit.

use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;

mod alarm;
pub mod client;
pub mod engine;
pub mod history;
pub mod instance;
pub mod protocol;
pub mod server;
pub mod ui_bridge;
pub mod watcher;

use crate::config::{Config, Dirs};
use crate::scan::WatchRoots;

/// File name of the socket in the runtime dir.
pub const SOCKET_NAME: &str = "lockwatch.sock";

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// No UI: log state changes to stdout.
    pub headless: bool,
    /// Grace period a kill waits for the release.
    pub kill_grace: Duration,
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

/// The socket path for these directories.
pub fn socket_path(dirs: &Dirs) -> std::path::PathBuf {
    dirs.runtime.join(SOCKET_NAME)
}

/// Runs the daemon until it is told to stop. Returns when it has shut down cleanly.
pub fn run(dirs: &Dirs, config: Config, roots: WatchRoots, opts: Options) -> anyhow::Result<()> {
    let _instance = instance::InstanceLock::acquire(&dirs.runtime)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("lockwatch-worker")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;

    let history = history::History::new(&dirs.data);
    let probe = crate::probe::platform()?;
    let tray = !opts.headless && cfg!(feature = "tray") && gui_available();
    let (ui_tx, ui_rx) = mpsc::unbounded_channel();
    let notifier =
        ui_bridge::DesktopNotifier::new(config.notify.clone(), tray.then(|| ui_tx.clone()));
    let (engine, snapshots) = engine::Engine::new(
        probe,
        config,
        roots.clone(),
        history.clone(),
        Box::new(notifier),
        engine::EngineOptions {
            // Always: under launchd/systemd stdout is the log file.
            log_lines: true,
            launch_at_login: crate::service::is_installed(),
        },
    );
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let socket = socket_path(dirs);
    let (listener, guard) = runtime.block_on(async { server::bind(&socket) })?;
    let shared = server::Shared {
        snapshots: snapshots.clone(),
        commands: cmd_tx.clone(),
        history,
        kill_grace: opts.kill_grace,
    };
    let homes: Vec<String> = roots
        .cargo_homes
        .iter()
        .map(|h| h.display().to_string())
        .collect();
    println!(
        "cargo-lockwatch daemon {} ({}, pid {}) watching {}; socket {}",
        env!("CARGO_PKG_VERSION"),
        if tray { "tray" } else { "headless" },
        std::process::id(),
        homes.join(", "),
        socket.display()
    );

    runtime.spawn(server::serve(listener, shared));
    let signals = cmd_tx.clone();
    runtime.spawn(async move {
        wait_for_signal().await;
        let _ = signals.send(engine::Command::Shutdown);
    });
    runtime.spawn(ui_bridge::run_commands(
        ui_rx,
        cmd_tx.clone(),
        dirs.data.clone(),
        opts.kill_grace,
    ));
    let engine_task = runtime.spawn(engine.run(cmd_rx));

    #[cfg(feature = "tray")]
    if tray {
        // The main thread becomes the tray's event loop and never returns: the process ends
        // through the UI handle once the engine has stopped and the socket is removed.
        let runtime = Box::leak(Box::new(runtime));
        crate::ui::tray::run(ui_tx, move |handle| {
            let mut rx = snapshots;
            let show = handle.clone();
            runtime.spawn(async move {
                loop {
                    let snap = rx.borrow_and_update().clone();
                    if show.show(snap).is_err() || rx.changed().await.is_err() {
                        break;
                    }
                }
            });
            runtime.spawn(async move {
                let code = match engine_task.await {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("cargo-lockwatch: the daemon's engine failed: {e}");
                        crate::exit::ERROR
                    }
                };
                drop(guard);
                let _ = handle.exit(code);
            });
        });
    }
    drop((snapshots, ui_tx));
    let outcome = runtime.block_on(engine_task);
    drop(guard);
    runtime.shutdown_timeout(Duration::from_secs(1));
    // A crash must not look like a Quit: launchd/systemd restart only on a non-zero exit.
    outcome.map_err(|e| anyhow::anyhow!("the daemon's engine failed: {e}"))
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = int.recv() => {},
        _ = term.recv() => {},
    }
}
