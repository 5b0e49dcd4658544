//! `cargo lockwatch history`: who blocked whom, how often, and how long everyone waited, from
//! the daemon's append-only log.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Context, render};
use crate::daemon::history::{self, History, Summary};
use crate::exit;

/// Arguments of `history`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Period to summarise, e.g. `1h`, `1d`, `7d`.
    #[arg(long, default_value = "1d", value_parser = humantime::parse_duration)]
    pub since: Duration,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Renders a summary for people.
pub fn render_summary(s: &Summary, period: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Last {period}: {} hold{}, {} wait{} ({} waited in all), {} stale, {} killed",
        s.holds,
        if s.holds == 1 { "" } else { "s" },
        s.waits,
        if s.waits == 1 { "" } else { "s" },
        render::duration(s.total_wait_secs),
        s.stale,
        s.killed
    );
    if let Some((name, secs, path)) = &s.longest_hold {
        let _ = writeln!(
            out,
            "Longest hold: {name} held {} for {}",
            render::tilde(path),
            render::duration(*secs)
        );
    }
    if !s.blocked.is_empty() {
        let _ = writeln!(out, "\nWho blocked whom:");
        for r in &s.blocked {
            let _ = writeln!(
                out,
                "  {:<20} blocked {:<16} {:>3}× · {} in all (longest {}) on {}",
                r.holder,
                r.waiter,
                r.times,
                render::duration(r.total_wait_secs),
                render::duration(r.longest_wait_secs),
                render::tilde(&r.lock)
            );
        }
    }
    if s.unreadable_lines > 0 {
        let _ = writeln!(
            out,
            "\n({} unreadable line{} skipped)",
            s.unreadable_lines,
            if s.unreadable_lines == 1 { "" } else { "s" }
        );
    }
    out
}

/// Runs `history`.
pub fn run(ctx: &Context, args: Args) -> i32 {
    let h = History::new(&ctx.dirs.data);
    let (events, bad) = h.read();
    let since = crate::scan::now() - args.since.as_secs_f64();
    let summary = history::summarize(&events, since, bad);
    let text = if args.json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&summary).expect("summary serializes")
        )
    } else if events.is_empty() {
        format!(
            "No history yet ({} is empty); the daemon records it: cargo lockwatch daemon\n",
            h.path().display()
        )
    } else {
        render_summary(
            &summary,
            &humantime::format_duration(args.since).to_string(),
        )
    };
    match super::print(&text) {
        Ok(()) => exit::OK,
        Err(_) => exit::ERROR,
    }
}
