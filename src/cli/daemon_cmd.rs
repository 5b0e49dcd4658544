//! `cargo lockwatch daemon`: run the background daemon (tray when a GUI session exists,
//! headless log lines otherwise), or check on / stop a running one.

use std::time::Duration;

use super::Context;
use crate::daemon::{
    self,
    client::{Client, ClientError},
    protocol::{Request, Response},
};
use crate::exit;

/// Arguments of `daemon`.
#[derive(Debug, clap::Args, Default)]
pub struct Args {
    /// Run without tray or menu: log state changes to the terminal (automatic without a GUI).
    #[arg(long)]
    pub headless: bool,
    /// Do not run: say whether a daemon is running (exit 0), not (exit 5), stopped (exit 6), or
    /// running but not used because its runtime dir is no longer private (exit 8).
    #[arg(long, conflicts_with_all = ["stop", "headless"])]
    pub check: bool,
    /// Do not run: ask the running daemon to exit.
    #[arg(long, conflicts_with = "headless")]
    pub stop: bool,
    /// How long `kill` waits for a terminated holder to release its lock.
    #[arg(long, default_value = "5s", value_parser = super::duration_arg, allow_hyphen_values = true)]
    pub kill_grace: Duration,
    /// Where to look beyond the defaults.
    #[command(flatten)]
    pub roots: super::RootArgs,
}

/// Runs `daemon`.
pub fn run(ctx: &Context, args: Args) -> i32 {
    // A daemon runs, but its runtime dir was opened to others (`chmod 755`) since: commands
    // look for it elsewhere. Neither "start one" nor "stop it" is the fix (review Q, S1).
    if let Some(left) = daemon::trust::left_out(&ctx.dirs.runtime) {
        return running_but_unused(&left, &args);
    }
    if args.check || args.stop {
        return check_or_stop(ctx, &args);
    }
    start(ctx, args)
}

/// Says that a daemon runs but is `left` out by its runtime directory; the exit code for
/// `--check`, `--stop` or a start.
fn running_but_unused(left: &daemon::trust::LeftOut, args: &Args) -> i32 {
    crate::tell!("running but not used: {left}");
    match (args.check, args.stop) {
        (true, _) => exit::DAEMON_UNUSED,
        // Reached through its socket once the directory is private again.
        (_, true) => {
            crate::tell!("then `cargo lockwatch daemon --stop` reaches it");
            exit::ERROR
        }
        _ => exit::OK,
    }
}

/// `--check` or `--stop`: asks the daemon on this user's socket, or says why it cannot.
fn check_or_stop(ctx: &Context, args: &Args) -> i32 {
    let socket = daemon::socket_path(&ctx.dirs);
    match Client::connect(&socket, Duration::from_secs(2)) {
        Ok(c) if args.stop => ask_to_stop(c),
        Ok(c) => say_running(c, &socket),
        Err(e) => no_answer(ctx, args, e),
    }
}

/// `--stop` of a daemon that answers: asks it to exit.
fn ask_to_stop(mut c: Client) -> i32 {
    match c.request(&Request::Shutdown) {
        Ok(Response::Ok) => {
            crate::tell!("asked the daemon (pid {}) to exit", c.daemon_pid);
            exit::OK
        }
        other => {
            crate::say!("cargo-lockwatch: the daemon did not accept shutdown: {other:?}");
            exit::ERROR
        }
    }
}

/// `--check` of a daemon that answers: says it runs, and whether its watching is paused.
fn say_running(mut c: Client, socket: &std::path::Path) -> i32 {
    // Its first snapshot comes at once (no fresh pass): is its watching paused?
    let paused = c
        .request(&Request::Subscribe)
        .is_ok_and(|r| matches!(r, Response::Snapshot(s) if s.paused));
    let pause = if paused {
        ", but its watching is paused (menu → untick Pause watching): it sees nothing new \
         and `status` scans by itself"
    } else {
        ""
    };
    crate::tell!(
        "running: pid {}, socket {}{pause}",
        c.daemon_pid,
        socket.display()
    );
    exit::OK
}

/// `--check` or `--stop` when no daemon answers on the socket (`e` says why).
fn no_answer(ctx: &Context, args: &Args, e: ClientError) -> i32 {
    match e {
        // It runs: too busy to talk is no reason to start or restart it.
        ClientError::Busy(b) if args.check => {
            crate::tell!("running, but busy: {b}");
            exit::OK
        }
        // Its process is stopped: it answers nothing until continued, and says so.
        ClientError::Silent(s) if args.check && s.stopped => {
            crate::tell!("stopped: {s}; meanwhile every command scans by itself");
            exit::DAEMON_STOPPED
        }
        ClientError::Busy(b) => stop_unasked(&b.socket, &b.to_string(), "too busy"),
        ClientError::Silent(s) if args.stop && s.stopped => {
            stop_unasked(&s.socket, &s.to_string(), "stopped")
        }
        // No daemon can listen there: it does not run, and says why.
        e @ ClientError::PathTooLong(_) => {
            crate::tell!("not running: {e}");
            exit::NOT_RUNNING
        }
        ClientError::NotRunning(p) => not_listening(ctx, args, &p),
        e => {
            crate::say!("cargo-lockwatch: {e}");
            exit::ERROR
        }
    }
}

/// `--check` or `--stop` when no daemon listens on socket `p`.
fn not_listening(ctx: &Context, args: &Args, p: &std::path::Path) -> i32 {
    // Not here, but one started with another runtime directory writes this history:
    // it runs, and starting another would only say so.
    if let Some(owner) = daemon::instance::history_owner(&ctx.dirs.data)
        .filter(|o| o.runtime.as_ref() != Some(&ctx.dirs.runtime))
    {
        crate::tell!(
            "running elsewhere: no daemon listens on {}, but {owner}",
            p.display()
        );
        return if args.check {
            exit::OK
        } else {
            exit::NOT_RUNNING
        };
    }
    // Asked to stop one that does not run: nothing to do, and no advice to start it
    // (review T, T7).
    if args.stop {
        crate::tell!(
            "not running (no daemon listens on {}); nothing to stop",
            p.display()
        );
        return exit::NOT_RUNNING;
    }
    crate::tell!(
        "not running (no daemon listens on {}); start it with `cargo lockwatch daemon`",
        p.display()
    );
    exit::NOT_RUNNING
}

/// Starts the daemon and runs it until it stops; one already running is no failure.
fn start(ctx: &Context, args: Args) -> i32 {
    let roots = ctx.loaded.roots();
    let opts = daemon::Options {
        headless: args.headless,
        kill_grace: args.kill_grace,
        flags: ctx.flags.clone(),
        history_bound_in_doubt: daemon::history::bound_in_doubt(&ctx.loaded),
    };
    match daemon::run(&ctx.dirs, ctx.loaded.config.clone(), roots, opts) {
        Ok(()) => exit::OK,
        // Not a failure: a service manager restarting on failure must not loop.
        Err(e)
            if e.downcast_ref::<daemon::instance::AlreadyRunning>()
                .is_some()
                || e.downcast_ref::<daemon::instance::HistoryOwned>().is_some() =>
        {
            // Asked to watch more than the running one does: that is not done (review M, N11).
            let (homes, projects) = unwatched_by_running(ctx);
            if !homes.is_empty() || !projects.is_empty() {
                let pid =
                    (e.downcast_ref::<daemon::instance::AlreadyRunning>()).and_then(|a| a.pid);
                crate::say!("cargo-lockwatch: {}", not_watched(pid, &homes, &projects));
                return exit::ERROR;
            }
            crate::tell!("{e}");
            exit::OK
        }
        Err(e) => {
            crate::say!("cargo-lockwatch: {e:#}");
            exit::ERROR
        }
    }
}

/// What to say when the running daemon (`pid`) does not watch the `homes` and `projects` this
/// command named (review M, N11; review N, P7).
fn not_watched(
    pid: Option<u32>,
    homes: &[std::path::PathBuf],
    projects: &[std::path::PathBuf],
) -> String {
    let list = |ps: &[std::path::PathBuf]| {
        ps.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut add = Vec::new();
    if !homes.is_empty() {
        add.push(format!("{} to `[watch] cargo_homes`", list(homes)));
    }
    if !projects.is_empty() {
        add.push(format!("{} to `[watch] projects`", list(projects)));
    }
    let (running, hup) = match pid {
        Some(p) => (format!(" (pid {p})"), format!(" (`kill -HUP {p}`)")),
        None => (String::new(), String::new()),
    };
    let all: Vec<&std::path::PathBuf> = homes.iter().chain(projects).collect();
    let names: Vec<String> = all.iter().map(|p| p.display().to_string()).collect();
    format!(
        "a lockwatch daemon is already running{running} but does not watch {}: add {} in the \
         config (`cargo lockwatch config` shows where) and send it SIGHUP{hup}, or stop it \
         (`cargo lockwatch daemon --stop`) and start it again with these flags",
        names.join(", "),
        add.join(" and ")
    )
}

/// The `--cargo-home` and `--project` directories of this command that the running daemon
/// does not watch (none when it cannot be asked).
fn unwatched_by_running(ctx: &Context) -> (Vec<std::path::PathBuf>, Vec<std::path::PathBuf>) {
    use crate::core::text::same_path;
    use crate::daemon::client::Client;
    use crate::daemon::protocol::{Request, Response};
    let flags = &ctx.flags;
    if flags.cargo_homes.is_empty() && flags.projects.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let socket = daemon::socket_path(&ctx.dirs);
    let answer = Client::connect(&socket, Duration::from_secs(2))
        .and_then(|mut c| c.request(&Request::Status));
    let Ok(Response::Snapshot(snap)) = answer else {
        return (Vec::new(), Vec::new());
    };
    let homes = &snap.report.cargo_homes;
    let projects = snap
        .watched_projects
        .map(|w| w.0.to_vec())
        .unwrap_or_default();
    let watched =
        |p: &std::path::Path, among: &[std::path::PathBuf]| among.iter().any(|w| same_path(w, p));
    let homes = (flags.cargo_homes.iter()).filter(|h| !watched(h, homes));
    let projects = (flags.projects.iter()).filter(|p| !watched(p, &projects));
    (homes.cloned().collect(), projects.cloned().collect())
}

/// `--stop` for a daemon that cannot take the request (`why`: too busy, or stopped): a SIGTERM
/// (and a SIGCONT, so that a stopped one wakes to it) to the process that holds its instance
/// lock (never to a pid that merely sits in a file), then a wait for its socket to go.
fn stop_unasked(socket: &std::path::Path, problem: &str, why: &str) -> i32 {
    let dir = socket.parent().unwrap_or(std::path::Path::new("."));
    match daemon::instance::terminate(dir) {
        Ok(pid) => {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while socket.exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let outcome = if socket.exists() {
                "it has not exited yet (see its log)"
            } else {
                "it has exited"
            };
            crate::tell!(
                "the daemon (pid {pid}) was {why} for a request, so it was sent SIGTERM; {outcome}"
            );
            exit::OK
        }
        Err(cannot) => {
            crate::say!(
                "cargo-lockwatch: {problem}; it could not be stopped without the socket \
                 ({cannot}): end it with `kill PID` for the pid `cargo lockwatch daemon --check` \
                 names"
            );
            exit::ERROR
        }
    }
}
