//! `cargo lockwatch install`: makes the daemon start at login — a launchd agent on macOS, a
//! `systemd --user` unit on Linux — pointing at the binary that runs this command.

use super::Context;
use crate::exit;
use crate::service::{self, Outcome, Setup, SystemRunner};

/// Arguments of `install`.
#[derive(Debug, clap::Args, Default)]
pub struct Args {
    /// Say what would be written and run; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the agent/unit file that would be installed to stdout; change nothing.
    #[arg(long)]
    pub print: bool,
}

/// Runs `install`.
pub fn run(_ctx: &Context, args: Args) -> i32 {
    let setup = match Setup::from_env() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if service::is_dev_build(&setup.binary) {
        eprintln!(
            "cargo-lockwatch: warning: {} is a development build (it lives under a target/ \
             directory, which `cargo clean` deletes); install it with `cargo install --path .` \
             and run `cargo lockwatch install` from the installed binary",
            setup.binary.display()
        );
    }
    if args.print {
        let text = match setup.render() {
            Ok(t) => t,
            Err(e) => return fail(&e),
        };
        if super::print(&text).is_err() {
            return exit::ERROR;
        }
        if !args.dry_run {
            return exit::OK;
        }
    }
    match service::install(&setup, &mut SystemRunner, args.dry_run || args.print) {
        Ok(outcome) => {
            let mut text = describe(&outcome);
            if !args.dry_run && !args.print {
                text.push_str(&match outcome.next {
                    None => format!(
                        "installed: {} starts at login ({})\n",
                        setup.binary.display(),
                        setup.manager.file_kind()
                    ),
                    Some(_) => "installed the file; the commands above start it\n".to_string(),
                });
            }
            emit(&text, args.print)
        }
        Err(e) => fail(&e),
    }
}

/// The lines of an outcome, then the commands left for the user.
pub(crate) fn describe(outcome: &Outcome) -> String {
    let mut text = String::new();
    for step in &outcome.steps {
        text.push_str(step);
        text.push('\n');
    }
    if let Some(next) = &outcome.next {
        text.push_str(&format!("{}; to finish, run:\n", next.why));
        for c in &next.commands {
            text.push_str(&format!("  {c}\n"));
        }
    }
    text
}

/// Writes human output to stdout, or to stderr when stdout carries a printed file.
pub(crate) fn emit(text: &str, to_stderr: bool) -> i32 {
    if to_stderr {
        eprint!("{text}");
        exit::OK
    } else {
        match super::print(text) {
            Ok(()) => exit::OK,
            Err(_) => exit::ERROR,
        }
    }
}

/// Reports an error and returns the exit code for it.
pub(crate) fn fail(e: &service::ServiceError) -> i32 {
    eprintln!("cargo-lockwatch: error: {e}");
    exit::ERROR
}
