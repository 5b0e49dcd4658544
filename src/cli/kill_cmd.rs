//! `cargo lockwatch kill PID`: terminate a stuck lock holder safely — through the daemon when it
//! runs, by a fresh scan otherwise. Refuses waiters, non-holders, other users and reused pids.

use std::io::IsTerminal;
use std::time::Duration;

use super::Context;
use crate::daemon::{
    self,
    client::Client,
    protocol::{Request, Response},
};
use crate::exit;
use crate::kill::{self, KillReport, KillRequest};

/// Arguments of `kill`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The holder's pid (see `cargo lockwatch status`).
    pub pid: u32,
    /// Send SIGKILL instead of SIGTERM.
    #[arg(long)]
    pub force: bool,
    /// How long to wait for the lock to be released.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub grace: Duration,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

fn attempt(ctx: &Context, req: KillRequest) -> KillReport {
    let socket = daemon::socket_path(&ctx.dirs);
    if let Ok(mut c) = Client::connect(&socket, Duration::from_secs(2)) {
        c.set_timeout(Some(req.grace + Duration::from_secs(10)));
        match c.request(&Request::Kill {
            pid: req.pid,
            start_token: req.start_token,
            force: req.force,
        }) {
            Ok(Response::Kill(r)) => return r,
            other => tracing::warn!("daemon kill failed ({other:?}); scanning directly"),
        }
    }
    match crate::probe::platform() {
        Ok(mut p) => kill::kill(p.as_mut(), &super::status::roots_here(ctx), req),
        Err(e) => KillReport::Refused {
            pid: req.pid,
            refusal: kill::Refusal::NotAHolder,
            message: e.to_string(),
        },
    }
}

/// Runs `kill`.
pub fn run(ctx: &Context, args: Args) -> i32 {
    let mut req = KillRequest {
        pid: args.pid,
        start_token: None,
        force: args.force,
        grace: args.grace,
    };
    let mut report = attempt(ctx, req);
    // SIGTERM was not enough: offer SIGKILL, but only to a person at a terminal who says yes.
    if let KillReport::Signalled {
        released: false, ..
    } = &report
        && !args.force
        && !args.json
        && std::io::stdin().is_terminal()
    {
        println!("{}", message(&report));
        print!("Send SIGKILL to {}? [y/N] ", args.pid);
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_ok()
            && answer.trim().eq_ignore_ascii_case("y")
        {
            req.force = true;
            report = attempt(ctx, req);
        }
    }
    let text = if args.json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&report).expect("report serializes")
        )
    } else {
        format!("{}\n", message(&report))
    };
    let _ = super::print(&text);
    match &report {
        KillReport::Refused { .. } => exit::REFUSED,
        KillReport::Signalled { released: true, .. } => exit::OK,
        KillReport::Signalled { .. } => exit::ERROR,
    }
}

fn message(r: &KillReport) -> String {
    match r {
        KillReport::Refused { message, .. } | KillReport::Signalled { message, .. } => {
            message.clone()
        }
    }
}
