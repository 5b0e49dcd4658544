//! `cargo lockwatch wait`: block until the locks a new build here would need are free, showing
//! who holds them on a live line — the safe version of "check before you build" scripts.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{Context, render};
use crate::core::catalog::LockKind;
use crate::core::model::{LockMode, LockReport, LockState, Report};
use crate::exit;

/// Arguments of `wait`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Lock files to wait for (default: the Cargo home's package-cache locks held exclusively,
    /// and every build lock of the project in the current directory).
    pub paths: Vec<PathBuf>,
    /// Give up after this long (exit 3).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
    /// How often to look.
    #[arg(long, default_value = "250ms", value_parser = humantime::parse_duration)]
    pub interval: Duration,
}

/// The locks in `report` that block: given paths (any hold), else exclusive Cargo-home holds and
/// any hold inside the current project.
pub fn blocking<'a>(
    report: &'a Report,
    paths: &[PathBuf],
    project: Option<&PathBuf>,
) -> Vec<&'a LockReport> {
    report
        .locks
        .iter()
        .filter(|l| l.state != LockState::Free && !l.deleted)
        .filter(|l| {
            if !paths.is_empty() {
                return paths
                    .iter()
                    .any(|p| p == &l.path || std::fs::canonicalize(p).is_ok_and(|c| c == l.path));
            }
            let exclusive = l.holders.iter().any(|h| h.mode == LockMode::Exclusive);
            let home_lock = matches!(
                l.kind,
                LockKind::PackageCache | LockKind::PackageCacheMutate
            ) && exclusive;
            let here = project.is_some_and(|p| l.project_dir.as_ref() == Some(p));
            home_lock || here
        })
        .collect()
}

/// Runs `wait`.
pub fn run(ctx: &Context, args: Args) -> i32 {
    let roots = super::status::roots_here(ctx);
    let project = std::env::current_dir().ok().and_then(|c| {
        c.ancestors()
            .find(|d| d.join("Cargo.toml").is_file())
            .map(|d| d.to_path_buf())
    });
    for p in args.paths.iter().filter(|p| !p.exists()) {
        eprintln!(
            "cargo-lockwatch: note: {} does not exist, so nothing holds it",
            p.display()
        );
    }
    let live = std::io::stderr().is_terminal();
    let start = Instant::now();
    let mut printed = false;
    loop {
        let report = match super::status::fetch(ctx, &roots, false) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("cargo-lockwatch: error: {e:#}");
                return exit::ERROR;
            }
        };
        let blockers = blocking(&report, &args.paths, project.as_ref());
        if blockers.is_empty() {
            if printed && live {
                eprint!("\r\x1b[2K");
            }
            if printed {
                eprintln!(
                    "free after {}",
                    render::duration(start.elapsed().as_secs_f64())
                );
            }
            return exit::OK;
        }
        let l = blockers[0];
        let who = l
            .holders
            .first()
            .map(|h| {
                let held = h
                    .held_for_secs
                    .or(h.running_for_secs)
                    .map(render::duration)
                    .unwrap_or_default();
                format!("{} {} ({held})", h.name, h.pid)
            })
            .unwrap_or_else(|| "a process you cannot see".into());
        let stale = if l.state == LockState::Stale {
            " — looks STALE: see `cargo lockwatch status`"
        } else {
            ""
        };
        let line = format!(
            "waiting {} for {} held by {who}{stale}",
            render::duration(start.elapsed().as_secs_f64()),
            l.description
        );
        if live {
            eprint!("\r\x1b[2K{line}");
        } else if !printed {
            eprintln!("{line}");
        }
        printed = true;
        if args.timeout.is_some_and(|t| start.elapsed() >= t) {
            if live {
                eprintln!();
            }
            eprintln!("timed out; still held by {who}");
            return exit::TIMEOUT;
        }
        std::thread::sleep(args.interval);
    }
}
