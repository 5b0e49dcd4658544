//! `cargo lockwatch history`: who blocked whom, how often, and how long everyone waited, from
//! the daemon's append-only log.

use std::time::Duration;

use super::Context;
use crate::daemon::history::{self, History};
use crate::exit;

/// Arguments of `history`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Period to summarise, e.g. `1h`, `1d`, `7d`.
    #[arg(long, default_value = "1d", value_parser = super::duration_arg, allow_hyphen_values = true)]
    pub since: Duration,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t)]
    pub color: super::ColorWhen,
}

/// Runs `history`.
pub fn run(ctx: &Context, args: Args) -> i32 {
    let h = History::for_config(&ctx.dirs.data, &ctx.loaded);
    // A FIFO or a directory in the log's place is never opened; say what to do instead of
    // summarising around it.
    if let Err(e) = h.check() {
        crate::daemon::logcap::eprintln(&format!("cargo-lockwatch: {e}"));
        return exit::ERROR;
    }
    if let Err(why) = readable(&h) {
        crate::say!("cargo-lockwatch: {why}");
        return exit::ERROR;
    }
    let since = crate::scan::now() - args.since.as_secs_f64();
    // Streamed: memory stays bounded whatever the file's size.
    let (mut summary, stats) = h.summary(since);
    crate::core::insight::drop_taken_advice(&mut summary, &ctx.loaded.config);
    let text = if args.json {
        super::json_line(&summary, true)
    } else if stats.events == 0 && stats.unreadable == 0 {
        let why = if h.path().exists() {
            format!("{} is empty", h.path().display())
        } else {
            format!("no {} yet", h.path().display())
        };
        let socket = crate::daemon::socket_path(&ctx.dirs);
        let running = crate::daemon::client::Client::connect(&socket, Duration::from_secs(1));
        if running.is_ok() {
            format!(
                "No history yet ({why}): the daemon runs and records holds and waits as they \
                 happen; nothing has happened since it started\n"
            )
        } else {
            format!(
                "No history yet ({why}): the daemon records it; start it with `cargo lockwatch \
                 daemon`\n"
            )
        }
    } else {
        history::render(&summary, args.since.as_secs(), super::terminal_width())
    };
    match super::print(&text) {
        Ok(()) => exit::OK,
        Err(_) => exit::ERROR,
    }
}

/// The history files that exist can be read: one this user may not read is an error to fix,
/// not an empty history.
fn readable(h: &History) -> Result<(), String> {
    for path in [h.path().to_path_buf(), h.rotated()] {
        match std::fs::File::open(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(format!(
                    "cannot read {}: {e}; it is the daemon's history: give yourself read access \
                     (`chmod u+r {}`) or run this as its owner",
                    path.display(),
                    path.display()
                ));
            }
            _ => {}
        }
    }
    Ok(())
}
