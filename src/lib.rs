//! cargo-lockwatch: names the process holding every Cargo lock, the ones waiting behind it, and
//! whether the holder looks stale; a daemon and menu-bar UI watch continuously, a CLI answers
//! once. `main.rs` only parses arguments and maps errors to exit codes; everything lives here.

pub mod cargo_dirs;
pub mod cli;
pub mod config;
pub mod core;
pub mod daemon;
pub mod exit;
pub mod kill;
pub mod probe;
pub mod scan;
pub mod service;
pub mod signal;
pub mod ui;
