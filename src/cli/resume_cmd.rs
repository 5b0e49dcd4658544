//! `cargo lockwatch resume PID`: continue a blocker that was stopped (Ctrl-Z and forgotten),
//! and its stopped children — the gentle fix before terminating it. Through the daemon when it
//! runs, by a fresh scan otherwise; refuses waiters, other users and reused pids.

use std::time::Duration;

use super::Context;
use super::kill_cmd::{finish, verified_token, via_daemon};
use crate::daemon::protocol::Request;
use crate::kill::{self, KillReport, Refusal};

/// Arguments of `resume`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The stopped blocker's pid (see `cargo lockwatch status`).
    #[arg(value_parser = super::pid_arg)]
    pub pid: u32,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
    /// Act on a direct scan even if the daemon is running (a daemon that seems wedged).
    #[arg(long)]
    pub no_daemon: bool,
    /// Where else to recognise the lock the pid holds.
    #[command(flatten)]
    pub roots: super::ActRootArgs,
}

/// Runs `resume`.
pub fn run(ctx: &Context, args: Args) -> i32 {
    let report = match verified_token(ctx, args.pid) {
        Err(r) => *r,
        Ok(token) => {
            let request = Request::Resume {
                pid: args.pid,
                start_token: Some(token),
            };
            via_daemon(ctx, &request, Duration::ZERO).unwrap_or_else(
                || match crate::probe::platform() {
                    Ok(mut p) => kill::resume(
                        p.as_mut(),
                        &super::status::roots_here(ctx),
                        args.pid,
                        Some(token),
                        &super::status::scan_knowledge(ctx),
                    ),
                    Err(e) => KillReport::Refused {
                        pid: args.pid,
                        refusal: Refusal::NotAHolder,
                        message: e.to_string(),
                    },
                },
            )
        }
    };
    finish(&report, args.json)
}
