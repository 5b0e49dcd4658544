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
pub struct ManArgs {
    /// Write every page (the main one and one per subcommand, which it refers to) into this
    /// directory instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

/// Writes the completion script for `shell` to stdout.
pub fn run(args: Args) -> i32 {
    // For the binary itself: `cargo lockwatch` goes through cargo, whose completion does not
    // delegate to subcommands.
    let text = script(args.shell);
    match super::print(&text) {
        Ok(()) => exit::OK,
        Err(e) => {
            crate::say!("cargo-lockwatch: error: cannot write the completions: {e}");
            exit::ERROR
        }
    }
}

/// The completion script for `shell`.
pub fn script(shell: clap_complete::Shell) -> String {
    let mut cmd = Cli::command().bin_name("cargo-lockwatch");
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "cargo-lockwatch", &mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    match shell {
        // clap_complete's bash script names a hyphenated program's subcommands two ways
        // (`cargo__lockwatch__subcmd__kill` where it tracks the words typed,
        // `cargo__subcmd__lockwatch__subcmd__kill` in the option lists), so no subcommand's
        // options would ever complete: use the first spelling throughout.
        clap_complete::Shell::Bash => {
            text.replace("cargo__subcmd__lockwatch", "cargo__lockwatch") + THROUGH_CARGO
        }
        _ => text,
    }
}

/// Bash: `cargo lockwatch <TAB>`. Cargo's own completion (`_cargo`, loaded lazily by
/// bash-completion) does not hand a subcommand's words on, so `cargo` completes through this:
/// words after `cargo [+toolchain] lockwatch` as cargo-lockwatch's, everything else by `_cargo`
/// as before. A cargo completion sourced after this one replaces it (hence the README's order).
const THROUGH_CARGO: &str = r#"
_cargo_lockwatch_through_cargo() {
    local at=1
    [[ ${COMP_WORDS[1]-} == +* ]] && at=2 # cargo +toolchain lockwatch
    if [[ ${COMP_WORDS[at]-} == lockwatch && $COMP_CWORD -gt $at ]]; then
        local COMP_WORDS=(cargo-lockwatch "${COMP_WORDS[@]:at+1}")
        local COMP_CWORD=$((COMP_CWORD - at))
        _cargo__lockwatch cargo-lockwatch "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        return
    fi
    if ! declare -F _cargo >/dev/null && declare -F _completion_loader >/dev/null; then
        _completion_loader cargo >/dev/null 2>&1
        complete -F _cargo_lockwatch_through_cargo -o bashdefault -o default cargo
    fi
    if declare -F _cargo >/dev/null; then
        _cargo "$@"
    fi
}
complete -F _cargo_lockwatch_through_cargo -o bashdefault -o default cargo
"#;

/// The exit codes, as a man page section.
const EXIT_STATUS: &str = ".SH \"EXIT STATUS\"
.TP
0
nothing stale (status); the lock is free (wait); the action succeeded
.TP
1
status: a blocker looks stale
.TP
2
an error (unreadable /proc, bad arguments, an unreachable daemon); doctor: a problem
.TP
3
wait: the timeout passed while a lock was still held
.TP
4
kill, resume: refused (a waiter, not a holder, another user's process, a reused pid; kill
without \\-\\-force: it ignores SIGTERM)
.TP
5
daemon \\-\\-check, daemon \\-\\-stop: no daemon runs
.TP
6
daemon \\-\\-check: the daemon is stopped (SIGSTOP or Ctrl\\-Z): kill \\-CONT PID continues it
.TP
7
wait: the lock is held in a deadlock, which no wait would end (it stops at once)
.TP
8
daemon \\-\\-check: a daemon runs but is not used: its runtime directory is no longer private
(chmod 700 it)
.TP
129, 130, 143
wait: ended by SIGHUP, SIGINT (Ctrl\\-C) or SIGTERM while a lock was held
";

/// The main page (roff), with the exit codes.
pub fn main_page() -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let cmd = Cli::command().bin_name("cargo-lockwatch");
    clap_mangen::Man::new(cmd).render(&mut out)?;
    out.extend_from_slice(EXIT_STATUS.as_bytes());
    Ok(out)
}

/// Writes the main page and one page per subcommand (`cargo-lockwatch-kill.1` …) into `dir`;
/// returns the files written.
pub fn write_pages(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let main = dir.join("cargo-lockwatch.1");
    std::fs::write(&main, main_page()?)?;
    let mut written = vec![main];
    let mut cmd = Cli::command()
        .bin_name("cargo-lockwatch")
        .disable_help_subcommand(true);
    cmd.build();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        written.push(clap_mangen::Man::new(sub.clone()).generate_to(dir)?);
    }
    Ok(written)
}

/// `man`: prints the main page (`cargo lockwatch man > cargo-lockwatch.1`), or with `--dir`
/// writes every page.
pub fn run_man(args: ManArgs) -> i32 {
    if let Some(dir) = args.dir {
        return match write_pages(&dir) {
            Ok(files) => {
                for f in files {
                    crate::tell!("{}", f.display());
                }
                exit::OK
            }
            Err(e) => {
                crate::say!(
                    "cargo-lockwatch: error: cannot write the man pages into {}: {e}",
                    dir.display()
                );
                exit::ERROR
            }
        };
    }
    let page = match main_page() {
        Ok(p) => p,
        Err(e) => {
            crate::say!("cargo-lockwatch: error: cannot render the man page: {e}");
            return exit::ERROR;
        }
    };
    match super::print(&String::from_utf8_lossy(&page)) {
        Ok(()) => exit::OK,
        Err(e) => {
            crate::say!("cargo-lockwatch: error: cannot write the man page: {e}");
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
    fn bash_completes_every_subcommands_options() {
        let text = script(clap_complete::Shell::Bash);
        // Every state the word tracker can reach has its option list.
        let states: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("cmd=\""))
            .filter_map(|l| l.strip_suffix('"'))
            .filter(|s| !s.is_empty())
            .collect();
        assert!(
            states.contains(&"cargo__lockwatch__subcmd__history"),
            "{states:?}"
        );
        for state in states {
            assert!(
                text.lines().any(|l| l.trim() == format!("{state})")),
                "no options for {state}"
            );
        }
        assert!(text.contains("--since"), "history's options are listed");
    }

    #[test]
    fn every_page_the_main_page_refers_to_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pages(dir.path()).unwrap();
        let main = String::from_utf8(main_page().unwrap()).unwrap();
        assert!(main.contains("EXIT STATUS"), "{main}");
        for name in ["kill", "status", "history", "wait", "resume"] {
            let page = format!("cargo-lockwatch-{name}");
            let roff = page.replace('-', "\\-");
            assert!(main.contains(&roff), "the main page refers to {page}");
            let file = dir.path().join(format!("{page}.1"));
            assert!(files.contains(&file), "{files:?}");
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(text.contains(".SH OPTIONS"), "{page}: {text}");
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
