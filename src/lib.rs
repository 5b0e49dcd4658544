//! cargo-lockwatch: names the process holding every Cargo lock, the ones waiting behind it, and
//! whether the holder looks stale; a daemon and menu-bar UI watch continuously, a CLI answers
//! once. `main.rs` only parses arguments and maps errors to exit codes; everything lives here.

/// `eprintln!` that never panics: a warning that cannot be written (a full disk behind
/// `2>>log`, a stderr pipe whose reader left) is lost, not the run.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `println!` that never panics: with stdout gone (a reader that left, a full disk) the line is
/// lost, not the run; the commands that must report a failed write use `cli::print`.
#[macro_export]
macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprint!` that never panics (see [`say!`]).
#[macro_export]
macro_rules! say_inline {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut err = std::io::stderr();
        let _ = write!(err, $($arg)*);
        let _ = err.flush();
    }};
}

pub mod cargo_dirs;
pub mod cli;
pub mod config;
pub mod core;
pub mod daemon;
pub mod exit;
pub mod kill;
pub mod listing;
pub mod local_time;
pub mod memo;
pub mod probe;
pub mod resolve;
pub mod scan;
pub mod service;
pub mod shown;
pub mod signal;
pub mod ui;
