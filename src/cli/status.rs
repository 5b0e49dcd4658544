//! `cargo lockwatch status`: every held Cargo lock, its holder and waiters, and a verdict — from
//! the daemon when it runs (real hold times), otherwise from a one-off scan.

use std::path::PathBuf;
use std::time::Duration;

use super::{Context, render};
use crate::core::model::{Report, Source};
use crate::core::report::Knowledge;
use crate::daemon::client::{Client, ClientError};
use crate::daemon::protocol::{Request, Response};
use crate::exit;
use crate::scan::{self, WatchRoots};

/// Arguments of `status`.
#[derive(Debug, clap::Args, Default)]
pub struct Args {
    /// Print JSON (one document; with --watch, one line per refresh).
    #[arg(long)]
    pub json: bool,
    /// Refresh in place until interrupted.
    #[arg(long)]
    pub watch: bool,
    /// Refresh interval for --watch.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// List free lock files too.
    #[arg(long)]
    pub all: bool,
    /// Scan directly even if the daemon is running.
    #[arg(long)]
    pub no_daemon: bool,
}

/// The roots for a command run from a terminal: configured ones plus the project the user is in
/// (and `CARGO_TARGET_DIR`), so its free build locks show too.
pub fn roots_here(ctx: &Context) -> WatchRoots {
    let mut roots = ctx.loaded.roots();
    let mut extra: Vec<PathBuf> = Vec::new();
    if let Some(project) = std::env::current_dir().ok().and_then(|c| project_root(&c)) {
        extra.push(project);
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        extra.push(PathBuf::from(t));
    }
    for p in extra {
        if !roots.projects.contains(&p) {
            roots.projects.push(p);
        }
    }
    roots
}

/// The directory whose `target/` Cargo builds into from `dir`: the workspace root (the nearest
/// ancestor whose `Cargo.toml` has a `[workspace]` table) or else the nearest package.
pub fn project_root(dir: &std::path::Path) -> Option<PathBuf> {
    let nearest = dir.ancestors().find(|d| d.join("Cargo.toml").is_file())?;
    let workspace = nearest.ancestors().find(|d| {
        std::fs::read_to_string(d.join("Cargo.toml"))
            .is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"))
    });
    Some(workspace.unwrap_or(nearest).to_path_buf())
}

/// Whether this run already said why the daemon was not asked.
static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// One report: from the daemon if reachable (unless `no_daemon`), else a direct scan.
///
/// The daemon knows when each hold began; a scan cannot. The daemon's view is merged with the
/// project the user is in, whose free build locks a scan lists too.
pub fn fetch(ctx: &Context, roots: &WatchRoots, no_daemon: bool) -> anyhow::Result<Report> {
    fetch_with_problems(ctx, roots, no_daemon).map(|(r, _)| r)
}

/// [`fetch`], with what the daemon says it cannot do right now (for the footer).
pub fn fetch_with_problems(
    ctx: &Context,
    roots: &WatchRoots,
    no_daemon: bool,
) -> anyhow::Result<(Report, Vec<String>)> {
    if !no_daemon {
        let socket = crate::daemon::socket_path(&ctx.dirs);
        match Client::connect(&socket, Duration::from_secs(2)) {
            Ok(mut c) => match c.request(&Request::Status) {
                Ok(Response::Snapshot(snap)) => return Ok((snap.report, snap.problems)),
                other => tracing::warn!("daemon status failed ({other:?}); scanning directly"),
            },
            Err(ClientError::NotRunning(_)) => {}
            // Once per run: `--watch` and `wait` fetch again and again.
            Err(e) if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) => {
                eprintln!("cargo-lockwatch: warning: {e}; scanning directly")
            }
            Err(_) => {}
        }
    }
    let mut probe = crate::probe::platform()?;
    let pass = scan::pass(probe.as_mut(), roots, true)?;
    let report = scan::report(
        &pass,
        roots,
        Source::Scan,
        &Knowledge {
            ignore_names: ctx.loaded.config.watch.ignore_process_names.clone(),
            ..Knowledge::default()
        },
        scan::now(),
    );
    Ok((report, Vec::new()))
}

/// Runs `status`.
pub fn run(ctx: &Context, args: Args) -> i32 {
    let roots = roots_here(ctx);
    let style = render::Style {
        color: ctx.color && !args.json,
        all: args.all,
    };
    loop {
        let (report, problems) = match fetch_with_problems(ctx, &roots, args.no_daemon) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("cargo-lockwatch: error: {e:#}");
                return exit::ERROR;
            }
        };
        let text = if args.json && args.watch {
            format!(
                "{}\n",
                serde_json::to_string(&report).expect("report serializes")
            )
        } else if args.json {
            format!(
                "{}\n",
                serde_json::to_string_pretty(&report).expect("report serializes")
            )
        } else if args.watch {
            // Home + clear, then the view: refreshes in place without scrolling.
            format!("\x1b[H\x1b[2J{}", render::report(&report, &style))
        } else {
            render::report(&report, &style)
        };
        // The footer: what the daemon cannot do (JSON keeps stdout to the schema: stderr).
        let text = if problems.is_empty() {
            text
        } else if args.json {
            for p in &problems {
                eprintln!("cargo-lockwatch: warning: the daemon {p}");
            }
            text
        } else {
            let mut text = text;
            for p in &problems {
                text.push_str(&format!("daemon problem: {p}\n"));
            }
            text
        };
        if super::print(&text).is_err() {
            return exit::ERROR;
        }
        if !args.watch {
            return if report.any_stale() {
                exit::STALE
            } else {
                exit::OK
            };
        }
        std::thread::sleep(args.interval);
    }
}
