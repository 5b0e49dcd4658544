//! `cargo lockwatch uninstall`: stops the login service and removes the agent/unit file. Safe to
//! run when nothing is installed; it says what it found.

use super::Context;
use super::install::{describe, emit, fail};
use crate::service::{self, Setup, SystemRunner};

/// Arguments of `uninstall`.
#[derive(Debug, clap::Args, Default)]
pub struct Args {
    /// Say what would be stopped and removed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `uninstall`.
pub fn run(_ctx: &Context, args: Args) -> i32 {
    let setup = match Setup::from_env() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    match service::uninstall(&setup, &mut SystemRunner, args.dry_run) {
        Ok(outcome) => emit(&describe(&outcome), false),
        Err(e) => fail(&e),
    }
}
