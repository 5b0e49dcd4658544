//! `cargo lockwatch doctor` (being written).

use super::Context;
use crate::exit;

/// Arguments of `doctor`.
#[derive(Debug, clap::Args, Default)]
pub struct Args {}

/// Runs `doctor`.
pub fn run(_ctx: &Context, _args: Args) -> i32 {
    eprintln!("cargo-lockwatch: 'doctor' is not available in this build yet");
    exit::ERROR
}
