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
    let empty_here = stats.events == 0 && stats.unreadable == 0;
    let socket = crate::daemon::socket_path(&ctx.dirs);
    // A daemon answering here may write its history in another data directory (one started
    // with another LOCKWATCH_DATA_DIR): its own summary then, said so (review J, K18).
    let theirs = empty_here
        .then(|| daemon_history(&socket, since))
        .flatten()
        .filter(|s| s.holds > 0 || s.waits > 0);
    let elsewhere = theirs.is_some();
    if let Some(s) = theirs {
        summary = s;
    }
    crate::core::insight::drop_taken_advice(&mut summary, &ctx.loaded.config);
    let text = if args.json {
        super::json_line(&summary, true)
    } else if elsewhere {
        crate::say!(
            "cargo-lockwatch: note: {} holds nothing; this is the history of the running \
             daemon, which writes it in another data directory (it was started with another \
             LOCKWATCH_DATA_DIR)",
            h.path().display()
        );
        history::render(&summary, args.since.as_secs(), super::terminal_width())
    } else if empty_here {
        let why = if h.path().exists() {
            format!("{} is empty", h.path().display())
        } else {
            format!("no {} yet", h.path().display())
        };
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

/// The running daemon's summary of its own history since `since`, if one answers here.
fn daemon_history(socket: &std::path::Path, since: f64) -> Option<crate::core::insight::Summary> {
    use crate::daemon::protocol::{Request, Response};
    let mut c = crate::daemon::client::Client::connect(socket, Duration::from_secs(1)).ok()?;
    c.set_timeout(Some(Duration::from_secs(10)));
    match c.request(&Request::History { since }) {
        Ok(Response::History(s)) => Some(s),
        _ => None,
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
