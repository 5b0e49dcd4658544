//! Runs the real tray with a scripted sequence of snapshots — idle, held, contended, stale —
//! without the daemon, so the icon, menu and notifications can be checked by eye or under Xvfb
//! (see LINUX-DESKTOP-TESTING.md). Menu clicks and notification actions are printed on stdout
//! as `command: <UiCommand as Debug>` lines and acted out (pause, snooze, terminate → idle,
//! quit).
//!
//! ```text
//! cargo run --example tray_demo --features tray -- [--step SECS] [--stage idle|held|contended|stale]
//! ```
//! `--step` is how long each stage shows (default 4 s); `--stage` shows one stage only.

use std::time::Duration;

use lockwatch::config::Config;
use lockwatch::ui::demo::{self, Stage};
use lockwatch::ui::notify::{self, Notifier};
use lockwatch::ui::tray::{self, UiHandle};
use lockwatch::ui::{SnoozeFor, UiCommand};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

struct Options {
    step: Duration,
    only: Option<Stage>,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        step: Duration::from_secs(4),
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--step" => {
                let v = args.next().ok_or("--step needs seconds")?;
                let secs: f64 = v.parse().map_err(|_| format!("--step {v}: not a number"))?;
                opts.step = Duration::try_from_secs_f64(secs)
                    .map_err(|_| format!("--step {v}: not a duration"))?;
            }
            "--stage" => {
                let v = args.next().ok_or("--stage needs a name")?;
                opts.only = Some(match v.as_str() {
                    "idle" => Stage::Idle,
                    "held" => Stage::Held,
                    "contended" => Stage::Contended,
                    "stale" => Stage::Stale,
                    _ => return Err(format!("--stage {v}: idle, held, contended or stale")),
                });
            }
            "-h" | "--help" => {
                return Err(
                    "usage: tray_demo [--step SECS] [--stage idle|held|contended|stale]".into(),
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(opts)
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let (commands_tx, commands_rx) = tokio::sync::mpsc::unbounded_channel();
    let notify_tx = commands_tx.clone();
    tray::run(commands_tx, None, move |ui| {
        let spawned = std::thread::Builder::new()
            .name("demo-runtime".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        eprintln!("cannot start the demo runtime: {e}");
                        let _ = ui.exit(1);
                        return;
                    }
                };
                rt.block_on(script(opts, ui, commands_rx, notify_tx));
            });
        if let Err(e) = spawned {
            eprintln!("cannot start the demo thread: {e}");
            std::process::exit(1);
        }
    })
}

async fn script(
    opts: Options,
    ui: UiHandle,
    mut commands: UnboundedReceiver<UiCommand>,
    notify_tx: UnboundedSender<UiCommand>,
) {
    let sequence: Vec<Stage> = match opts.only {
        Some(s) => vec![s],
        None => Stage::SEQUENCE.to_vec(),
    };
    let mut index = 0;
    let mut scripted = true;
    let mut stage_start = lockwatch::scan::now();
    let mut paused = false;
    let mut snoozed_until = None;
    let mut launch_at_login = true;
    let mut yield_ide = false;
    let mut notifier = Notifier::new(Config::defaults().notify);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return };
                println!("command: {cmd:?}");
                match cmd {
                    UiCommand::SetPaused(p) => paused = p,
                    UiCommand::SetLaunchAtLogin(b) => launch_at_login = b,
                    UiCommand::SetYieldIde(b) => yield_ide = b,
                    UiCommand::Snooze(s) => {
                        let now = lockwatch::scan::now();
                        snoozed_until = match s {
                            SnoozeFor::Minutes15 => Some(now + 900.0),
                            SnoozeFor::Hour1 => Some(now + 3600.0),
                            SnoozeFor::UntilTomorrow => Some(now + 12.0 * 3600.0),
                            SnoozeFor::Off => None,
                        };
                    }
                    UiCommand::Terminate { .. }
                    | UiCommand::TerminateIfStale { .. }
                    | UiCommand::ForceKill { .. }
                    | UiCommand::Resume { .. } => {
                        // Pretend it worked: the lock is free and the script stops.
                        scripted = false;
                        index = usize::MAX;
                    }
                    UiCommand::Quit => {
                        let _ = ui.exit(0);
                        return;
                    }
                    UiCommand::OpenHistory | UiCommand::RevealProject(_) => {}
                }
            }
        }
        let now = lockwatch::scan::now();
        if scripted && index + 1 < sequence.len() && now - stage_start >= opts.step.as_secs_f64() {
            index += 1;
            stage_start = now;
        }
        let stage = sequence.get(index).copied().unwrap_or(Stage::Idle);
        let mut snapshot = demo::snapshot(stage, stage_start);
        snapshot.paused = paused;
        snapshot.snoozed_until = snoozed_until;
        snapshot.yield_ide = yield_ide;
        snapshot.launch_at_login = launch_at_login;
        if let Some(notice) = notifier.observe(&snapshot, now) {
            eprintln!("notify: {} — {}", notice.summary, notice.body);
            if let Err(e) = notify::show(notice, Some(notify_tx.clone())) {
                eprintln!("cannot show a notification: {e}");
            }
        }
        if ui.show(snapshot).is_err() {
            return;
        }
    }
}
