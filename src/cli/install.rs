//! `cargo lockwatch install` (being written).

use super::Context;
use crate::exit;

/// Arguments of `install`.
#[derive(Debug, clap::Args, Default)]
pub struct Args {}

/// Runs `install`.
pub fn run(_ctx: &Context, _args: Args) -> i32 {
    eprintln!("cargo-lockwatch: 'install' is not available in this build yet");
    exit::ERROR
}
