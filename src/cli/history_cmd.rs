//! `cargo lockwatch history`: who blocked whom, how often, and how long everyone waited, from
//! the daemon's append-only log.

use std::time::Duration;

use super::Context;
use crate::daemon::history::{self, History};
use crate::exit;

/// Arguments of `history`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Period to summarise, e.g. `1h`, `1d`, `7d`, `2w` (units: s, m, h, d, w, y).
    #[arg(long, default_value = "1d", value_parser = period_arg, allow_hyphen_values = true)]
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
    // No history can be there, whatever a daemon elsewhere writes (review Y, Y8).
    if let Some(not_dir) = ctx.dirs.data_dir_problem() {
        crate::say!("cargo-lockwatch: {not_dir}");
        return exit::ERROR;
    }
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
    let now = crate::scan::now();
    let since = since_time(now, args.since);
    let period = period_said(now, args.since);
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
    // Another home's package cache is named in the rows (review N, P5).
    summary.reader_home = ctx.loaded.roots().cargo_homes.first().cloned();
    let text = if args.json {
        super::json_line(&summary, true)
    } else if elsewhere {
        note_history_elsewhere(&h);
        history::render(&summary, period, super::terminal_width())
    } else if empty_here {
        no_history_yet(&h, &socket)
    } else {
        history::render(&summary, period, super::terminal_width())
    };
    match super::print(&text) {
        Ok(()) => exit::OK,
        Err(_) => exit::ERROR,
    }
}

/// The period the summary says ("Last 7 days"), in seconds: `since` as asked, unless it reaches
/// back before the epoch (`now`), which is said on stderr.
fn period_said(now: f64, since: Duration) -> u64 {
    if since.as_secs_f64() > now {
        crate::say!(
            "cargo-lockwatch: note: that --since reaches back before 1970: the whole history is \
             summarised"
        );
        return crate::core::insight::WHOLE_HISTORY;
    }
    since.as_secs()
}

/// Says on stderr that `h` holds nothing and the history shown is the running daemon's own.
fn note_history_elsewhere(h: &History) {
    crate::say!(
        "cargo-lockwatch: note: {} holds nothing; this is the history of the running \
         daemon, which writes it in another data directory (it was started with another \
         LOCKWATCH_DATA_DIR)",
        h.path().display()
    );
}

/// The text for an empty history `h`: why it is empty, and what the daemon at `socket` (if one
/// answers) does about it.
fn no_history_yet(h: &History, socket: &std::path::Path) -> String {
    let why = if h.path().exists() {
        format!("{} is empty", h.path().display())
    } else {
        format!("no {} yet", h.path().display())
    };
    let running = crate::daemon::client::Client::connect(socket, Duration::from_secs(1));
    if let Ok(mut daemon) = running {
        match unwritten(&mut daemon) {
            // It has events it cannot write: never "nothing has happened" (review M, N6).
            Some(problem) => format!("No history yet ({why}): the daemon {problem}\n"),
            None => format!(
                "No history yet ({why}): the daemon runs and records holds and waits as \
                 they happen; nothing has happened since it started\n"
            ),
        }
    } else {
        format!(
            "No history yet ({why}): the daemon records it; start it with `cargo lockwatch \
             daemon`\n"
        )
    }
}

/// What the running daemon says it cannot write of the history, if anything.
fn unwritten(daemon: &mut crate::daemon::client::Client) -> Option<String> {
    use crate::daemon::protocol::{Request, Response};
    match daemon.request(&Request::Status) {
        Ok(Response::Snapshot(snap)) => {
            (snap.problems.into_iter()).find(|p| p.starts_with("cannot write the history"))
        }
        _ => None,
    }
}

/// What `--since` accepts, and in a mistake's words: a number and a unit. humantime's own
/// word for `now` or `yesterday` ("without a sign") is not the mistake made there.
fn period_arg(text: &str) -> Result<Duration, String> {
    const FORM: &str = "write a number and a unit, like 30m, 2h, 1d";
    humantime::parse_duration(text.trim()).map_err(|e| {
        use humantime::DurationError as E;
        match e {
            _ if text.trim_start().starts_with(['-', '+']) => {
                format!("a period has no sign: {FORM}")
            }
            E::InvalidCharacter(_) | E::NumberExpected(_) => FORM.to_string(),
            e => format!("{}: {FORM}", crate::core::text::duration_error(&e)),
        }
    })
}

/// The Unix time a period back from `now` begins: never before the epoch, however long the
/// period (`--since 100000d`), so `since` in the JSON is never negative (review L, M10).
fn since_time(now: f64, period: Duration) -> f64 {
    (now - period.as_secs_f64()).max(0.0)
}

/// The running daemon's summary of its own history since `since`, if one answers here.
fn daemon_history(socket: &std::path::Path, since: f64) -> Option<crate::core::insight::Summary> {
    use crate::daemon::protocol::{Request, Response};
    let mut c = crate::daemon::client::Client::connect(socket, Duration::from_secs(1)).ok()?;
    c.set_timeout(Some(Duration::from_secs(10)));
    match c.request(&Request::History { since }) {
        Ok(Response::History(s)) => Some(*s),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A period longer than the history could hold begins at the epoch, not before it; one
    /// within it as asked (review L, M10).
    #[test]
    fn a_period_reaching_before_the_epoch_begins_at_it() {
        let now = 1_700_000_000.0;
        assert_eq!(since_time(now, Duration::from_secs(3_600)), now - 3_600.0);
        let absurd = period_arg("999999999999d").unwrap();
        assert_eq!(since_time(now, absurd), 0.0);
        assert_eq!(since_time(now, period_arg("100000d").unwrap()), 0.0);
        assert_eq!(since_time(now, Duration::ZERO), now);
    }

    /// A word is not a period, and the error says what is: not "without a sign" (review L,
    /// M10).
    #[test]
    fn a_word_for_a_period_is_answered_with_what_is_accepted() {
        for word in ["now", "yesterday", "today"] {
            let e = period_arg(word).unwrap_err();
            assert_eq!(e, "write a number and a unit, like 30m, 2h, 1d", "{word}");
        }
        let e = period_arg("-5m").unwrap_err();
        assert!(e.starts_with("a period has no sign: write a number"), "{e}");
        let e = period_arg("10").unwrap_err();
        assert!(
            e.starts_with("a unit is needed") && e.ends_with("like 30m, 2h, 1d"),
            "{e}"
        );
        assert_eq!(period_arg(" 1h 30m "), Ok(Duration::from_secs(5_400)));
        assert_eq!(period_arg("0"), Ok(Duration::ZERO));
    }
}
