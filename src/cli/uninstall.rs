//! `cargo lockwatch uninstall` (being written).

use super::Context;
use crate::exit;

/// Arguments of `uninstall`.
#[derive(Debug, clap::Args, Default)]
pub struct Args {}

/// Runs `uninstall`.
pub fn run(_ctx: &Context, _args: Args) -> i32 {
    eprintln!("cargo-lockwatch: 'uninstall' is not available in this build yet");
    exit::ERROR
}
