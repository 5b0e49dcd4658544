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
        crate::say!(
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
    let dry_run = args.dry_run || args.print;
    match service::install(&setup, &mut SystemRunner, dry_run) {
        Ok(outcome) => {
            let said = report(&outcome, &setup, dry_run);
            let printed = emit(&said.stdout, args.print);
            crate::say_inline!("{}", said.stderr);
            if printed == exit::OK {
                said.code
            } else {
                printed
            }
        }
        Err(e) => fail(&e),
    }
}

/// What `install` tells the user, and its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Report {
    /// What was done (stderr instead when stdout carries the printed file).
    pub stdout: String,
    /// Why the daemon will not start at login, when it will not.
    pub stderr: String,
    /// [`exit::OK`], or [`exit::ERROR`] when nothing will start the daemon at login.
    pub code: i32,
}

/// Judges an install's outcome: an install no service manager took up is said plainly, with
/// how to run the daemon without one, and is not a success (a dry run only reports it).
pub(crate) fn report(outcome: &Outcome, setup: &Setup, dry_run: bool) -> Report {
    let mut stdout = describe(outcome);
    if let Some(words) = service::passed_on_words(&setup.environment) {
        stdout.push_str(&format!("{words}\n"));
    }
    let kind = setup.manager.file_kind();
    match (&outcome.unmanaged, dry_run) {
        (None, true) => Report {
            stdout,
            stderr: String::new(),
            code: exit::OK,
        },
        (None, false) => {
            let binary = setup.binary.display();
            stdout.push_str(&format!("installed: {binary} starts at login ({kind})\n"));
            Report {
                stdout,
                stderr: String::new(),
                code: exit::OK,
            }
        }
        (Some(u), true) => {
            stdout.push_str(&format!(
                "{}: the {kind} would be written, but nothing would start the daemon at login.\n\
                 In a session where a systemd user instance runs, run:\n{}\
                 Without one, {}.\n",
                u.why,
                indented(&u.enable_later),
                service::START_BY_HAND
            ));
            Report {
                stdout,
                stderr: String::new(),
                code: exit::OK,
            }
        }
        (Some(u), false) => Report {
            stdout,
            stderr: format!(
                "cargo-lockwatch: {}, so nothing will start the daemon at login yet.\n\
                 The {kind} is written for a session where a systemd user instance runs; \
                 there, run:\n{}\
                 Until then, {}.\n",
                u.why,
                indented(&u.enable_later),
                service::START_BY_HAND
            ),
            code: exit::ERROR,
        },
    }
}

/// Commands to copy, one a line, indented.
fn indented(commands: &[String]) -> String {
    commands.iter().map(|c| format!("  {c}\n")).collect()
}

/// The lines of an outcome, one step each.
pub(crate) fn describe(outcome: &Outcome) -> String {
    let mut text = String::new();
    for step in &outcome.steps {
        text.push_str(step);
        text.push('\n');
    }
    text
}

/// Writes human output to stdout, or to stderr when stdout carries a printed file.
pub(crate) fn emit(text: &str, to_stderr: bool) -> i32 {
    if to_stderr {
        crate::say_inline!("{text}");
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
    crate::say!("cargo-lockwatch: error: {e}");
    exit::ERROR
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::testing::setup;
    use crate::service::{Manager, Unmanaged};

    fn unmanaged(dir: &std::path::Path) -> Outcome {
        Outcome {
            steps: vec![format!(
                "wrote {}/agents/cargo-lockwatch.service",
                dir.display()
            )],
            unmanaged: Some(Unmanaged {
                why: "no systemd user instance answered (`systemctl --user show-environment`: \
                      Failed to connect to bus: No medium found)"
                    .into(),
                enable_later: vec![
                    "systemctl --user daemon-reload".into(),
                    "systemctl --user enable --now cargo-lockwatch.service".into(),
                ],
            }),
        }
    }

    #[test]
    fn an_install_no_service_manager_takes_up_is_no_success_and_says_how_to_run_the_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let setup = setup(Manager::Systemd, dir.path());
        let said = report(&unmanaged(dir.path()), &setup, false);
        assert_eq!(said.code, exit::ERROR);
        assert!(said.stdout.starts_with("wrote "), "{}", said.stdout);
        assert!(!said.stdout.contains("installed"), "{}", said.stdout);
        for expected in [
            "no systemd user instance answered",
            "nothing will start the daemon at login yet",
            "is written for a session where a systemd user instance runs",
            "\n  systemctl --user enable --now cargo-lockwatch.service\n",
            "`cargo lockwatch daemon`, e.g. from your desktop session's autostart",
        ] {
            assert!(
                said.stderr.contains(expected),
                "{expected}: {}",
                said.stderr
            );
        }
        assert!(!said.stderr.contains("the commands above start it"));

        // A dry run reports the same, and succeeds: it was asked only to say.
        let said = report(&unmanaged(dir.path()), &setup, true);
        assert_eq!(said.code, exit::OK);
        assert!(said.stderr.is_empty());
        assert!(
            said.stdout
                .contains("nothing would start the daemon at login")
                && said.stdout.contains("cargo lockwatch daemon"),
            "{}",
            said.stdout
        );
    }

    #[test]
    fn an_install_a_service_manager_took_up_starts_at_login() {
        let dir = tempfile::tempdir().unwrap();
        let setup = setup(Manager::Systemd, dir.path());
        let outcome = Outcome {
            steps: vec!["ran: systemctl --user enable --now cargo-lockwatch.service".into()],
            unmanaged: None,
        };
        let said = report(&outcome, &setup, false);
        assert_eq!(said.code, exit::OK);
        assert!(said.stderr.is_empty());
        assert!(
            said.stdout
                .ends_with("starts at login (systemd user unit)\n"),
            "{}",
            said.stdout
        );
    }

    #[test]
    fn an_install_says_which_variables_the_daemon_gets() {
        let dir = tempfile::tempdir().unwrap();
        let mut setup = setup(Manager::Systemd, dir.path());
        let outcome = Outcome {
            steps: vec!["wrote: the unit".into()],
            unmanaged: None,
        };
        assert!(!report(&outcome, &setup, false).stdout.contains("gets"));
        setup.environment = vec![
            ("CARGO_HOME", "/h".into()),
            ("LOCKWATCH_RUNTIME_DIR", "/run/lw".into()),
        ];
        let said = report(&outcome, &setup, false);
        assert!(
            said.stdout.contains(
                "\nthe daemon gets this shell's CARGO_HOME=/h, LOCKWATCH_RUNTIME_DIR=/run/lw \
                 (install again after changing them)\n"
            ),
            "{}",
            said.stdout
        );
    }
}
