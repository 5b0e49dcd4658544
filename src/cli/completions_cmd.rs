//! `cargo lockwatch completions SHELL` and `cargo lockwatch man`: shell completions and the
//! man page, generated from the same clap definition the program parses with, so they never
//! drift from the real flags.

use clap::CommandFactory;

use super::Cli;
use crate::exit;

/// Arguments of `completions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to write completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {}

/// Writes the completion script for `shell` to stdout.
pub fn run(args: Args) -> i32 {
    // For the binary itself: `cargo lockwatch` goes through cargo, whose completion does not
    // delegate to subcommands.
    let mut cmd = Cli::command().bin_name("cargo-lockwatch");
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "cargo-lockwatch", &mut out);
    let text = String::from_utf8_lossy(&out);
    match super::print(&text) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("cargo-lockwatch: error: cannot write the completions: {e}");
            exit::ERROR
        }
    }
}

/// Writes the man page (roff) to stdout: `cargo lockwatch man > cargo-lockwatch.1`.
pub fn run_man(_: ManArgs) -> i32 {
    let mut out = Vec::new();
    let cmd = Cli::command().bin_name("cargo-lockwatch");
    if let Err(e) = clap_mangen::Man::new(cmd).render(&mut out) {
        eprintln!("cargo-lockwatch: error: cannot render the man page: {e}");
        return exit::ERROR;
    }
    match super::print(&String::from_utf8_lossy(&out)) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("cargo-lockwatch: error: cannot write the man page: {e}");
            exit::ERROR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_completions_naming_every_subcommand() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
            clap_complete::Shell::PowerShell,
            clap_complete::Shell::Elvish,
        ] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "cargo-lockwatch", &mut out);
            let text = String::from_utf8(out).unwrap();
            for sub in ["status", "kill", "resume", "wait", "daemon", "history"] {
                assert!(text.contains(sub), "{shell:?} lacks {sub}");
            }
        }
    }

    #[test]
    fn the_man_page_documents_the_commands() {
        let mut out = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(".ie \\n(.g .ds Aq"), "{}", &text[..40]);
        assert!(text.contains("cargo\\-lockwatch"), "{text}");
        assert!(text.contains("resume"));
    }
}
