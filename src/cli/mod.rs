//! Command-line surface: argument types and dispatch. One file per subcommand; each returns an
//! exit code from [`crate::exit`].

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Dirs, FlagOverrides, Loaded};
use crate::exit;

pub mod completions_cmd;
pub mod config_cmd;
pub mod daemon_cmd;
pub mod doctor;
pub mod history_cmd;
pub mod install;
pub mod kill_cmd;
pub mod render;
pub mod resume_cmd;
mod run_probe;
pub mod status;
pub mod uninstall;
pub mod wait_cmd;

/// Who blocks whom on Cargo's locks, and whether the blocker looks stale.
///
/// Without a command it runs `status`, and takes status's flags: `cargo lockwatch --json`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo-lockwatch",
    bin_name = "cargo lockwatch",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true,
    after_help = "Exit status (of the bare command, as of `status`): 0 nothing looks stale · \
                  1 a blocker looks stale · 2 error. Each command's --help gives its own."
)]
pub struct Cli {
    /// `status`'s flags, for the bare command.
    #[command(flatten)]
    pub status: status::Args,
    /// What to do (default: status).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Where to look beyond the defaults, for the commands that scan.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RootArgs {
    /// Also watch this Cargo home (repeatable; `$CARGO_HOME` or ~/.cargo is always watched).
    #[arg(long = "cargo-home", value_name = "DIR")]
    pub cargo_home: Vec<PathBuf>,
    /// Also list the build locks of this project or target dir, even while free (repeatable).
    #[arg(long = "project", value_name = "DIR")]
    pub project: Vec<PathBuf>,
}

/// `--cargo-home` / `--project` for `kill` and `resume`: where else to recognise the lock the pid
/// holds.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ActRootArgs {
    /// Also recognise the locks of this Cargo home as ones the pid may hold (repeatable;
    /// `$CARGO_HOME` or ~/.cargo always counts).
    ///
    /// Only a direct scan uses it: a running daemon acts on what it watches.
    #[arg(long = "cargo-home", value_name = "DIR")]
    pub cargo_home: Vec<PathBuf>,
    /// Also recognise the build locks of this project or target dir as ones the pid may hold
    /// (repeatable).
    ///
    /// A lock file listed this way is known by its inode even when the pid's descriptors
    /// cannot be read. Only a direct scan uses it: a running daemon acts on what it watches.
    #[arg(long = "project", value_name = "DIR")]
    pub project: Vec<PathBuf>,
}

/// `--cargo-home` / `--project` for `config`: which roots the shown configuration adds.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigRootArgs {
    /// Show the configuration with this Cargo home added to the watched ones, as the other
    /// commands' `--cargo-home` adds it (repeatable).
    #[arg(long = "cargo-home", value_name = "DIR")]
    pub cargo_home: Vec<PathBuf>,
    /// Show the configuration with this project or target dir added to `watch.projects`, as
    /// the other commands' `--project` adds it (repeatable).
    #[arg(long = "project", value_name = "DIR")]
    pub project: Vec<PathBuf>,
}

/// `--cargo-home` / `--project` for `wait`: what else to wait for (review T, T8).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WaitRootArgs {
    /// Also wait for this Cargo home's package cache (repeatable; the one a build here uses,
    /// `$CARGO_HOME` or ~/.cargo, always counts).
    #[arg(long = "cargo-home", value_name = "DIR")]
    pub cargo_home: Vec<PathBuf>,
    /// Also wait for the build locks of this project or target dir (repeatable).
    #[arg(long = "project", value_name = "DIR")]
    pub project: Vec<PathBuf>,
}

impl From<WaitRootArgs> for RootArgs {
    fn from(a: WaitRootArgs) -> RootArgs {
        RootArgs {
            cargo_home: a.cargo_home,
            project: a.project,
        }
    }
}

impl From<ActRootArgs> for RootArgs {
    fn from(a: ActRootArgs) -> RootArgs {
        RootArgs {
            cargo_home: a.cargo_home,
            project: a.project,
        }
    }
}

impl From<ConfigRootArgs> for RootArgs {
    fn from(a: ConfigRootArgs) -> RootArgs {
        RootArgs {
            cargo_home: a.cargo_home,
            project: a.project,
        }
    }
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set (`CLICOLOR_FORCE` forces it).
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl Command {
    /// The `--cargo-home` / `--project` flags of the commands that take them.
    fn roots(&self) -> RootArgs {
        match self {
            Command::Status(a) => a.roots.clone(),
            Command::Daemon(a) => a.roots.clone(),
            Command::Kill(a) => a.roots.clone().into(),
            Command::Resume(a) => a.roots.clone().into(),
            Command::Wait(a) => a.roots.clone().into(),
            Command::Config(a) => a.roots.clone().into(),
            _ => RootArgs::default(),
        }
    }

    /// Whether `--no-daemon` was given to a command that takes it.
    fn no_daemon(&self) -> bool {
        match self {
            Command::Status(a) => a.no_daemon,
            Command::Kill(a) => a.no_daemon,
            Command::Resume(a) => a.no_daemon,
            Command::Wait(a) => a.no_daemon,
            _ => false,
        }
    }

    /// The `--color` choice of the commands that take one.
    fn color(&self) -> ColorWhen {
        match self {
            Command::Status(a) => a.color,
            Command::History(a) => a.color,
            Command::Doctor(a) => a.color,
            _ => ColorWhen::Auto,
        }
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Who blocks whom: who waits, for which blocker, what it does, a verdict and what to run.
    #[command(
        after_help = "Exit status: 0 nothing looks stale · 1 a blocker looks stale (another \
                      Cargo home's package cache does not count) · 2 error"
    )]
    Status(status::Args),
    /// Run the background daemon (tray when there is a display, headless otherwise).
    #[command(
        after_help = "Exit status: 0 ran and stopped, or another daemon already runs · 2 error; \
                      --check: 0 running (or busy) · 5 not running · 6 stopped (SIGSTOP or Ctrl-Z: \
                      `kill -CONT PID` continues it) · 8 running but not used (its runtime dir \
                      is no longer private) · 2 unreachable; --stop: 0 stopped · 5 not running"
    )]
    Daemon(daemon_cmd::Args),
    /// Terminate a stuck blocker safely (SIGTERM; --force for SIGKILL). Never a waiter.
    #[command(
        after_help = "Exit status: 0 the locks others waited for are free · 4 refused (a waiter, \
                      not a holder, another user's, a reused pid, nobody waits and it does not \
                      look stuck without --yes, it ignores SIGTERM without --force, or no such \
                      process: it exited) · 2 still held, or error"
    )]
    Kill(kill_cmd::Args),
    /// Continue a stopped blocker (SIGCONT), e.g. one suspended with Ctrl-Z and forgotten.
    #[command(
        after_help = "Exit status: 0 resumed (a stopped waiter too: it waits again, or takes \
                      its lock if free) · 4 refused (not stopped, a running waiter, no such \
                      process …) · 2 error"
    )]
    Resume(resume_cmd::Args),
    /// Block until the locks a build here needs are free.
    #[command(
        after_help = "Exit status: 0 free · 3 the timeout passed while held · 7 deadlocked \
                            (stops at once: no wait would end) · 2 error · 130/143/129 ended by \
                            SIGINT/SIGTERM/SIGHUP while held"
    )]
    Wait(wait_cmd::Args),
    /// Who blocked whom, how often, and for how long.
    #[command(after_help = "Exit status: 0 · 2 the history cannot be read")]
    History(history_cmd::Args),
    /// Show the effective configuration and where each value came from (exit 2 when the file or
    /// a value is wrong).
    #[command(
        after_help = "Exit status: 0 · 2 the file or a value is wrong (a watched directory \
                            that does not exist yet is only a warning)"
    )]
    Config(config_cmd::Args),
    /// Start the daemon at login (launchd agent on macOS, systemd user unit on Linux).
    #[command(
        after_help = "Exit status: 0 installed (or, with --dry-run/--print, what would be) · 2 \
                      error, or no service manager answered (the file is written; start the \
                      daemon yourself)"
    )]
    Install(install::Args),
    /// Stop starting the daemon at login and remove the agent/unit file.
    #[command(after_help = "Exit status: 0 removed, or nothing was installed · 2 error")]
    Uninstall(uninstall::Args),
    /// Report what is installed and running, and any missing permission.
    #[command(after_help = "Exit status: 0 no problem (warnings may be shown) · 2 a problem")]
    Doctor(doctor::Args),
    /// Print shell completions (bash, zsh, fish, powershell, elvish) to stdout.
    Completions(completions_cmd::Args),
    /// Print the man page (roff) to stdout.
    Man(completions_cmd::ManArgs),
}

/// What every command gets: the loaded configuration and the per-user directories.
pub struct Context {
    /// Per-user directories.
    pub dirs: Dirs,
    /// Effective configuration.
    pub loaded: Loaded,
    /// Colours on stdout.
    pub color: bool,
    /// `--cargo-home` / `--project` (the daemon applies them again on a reload).
    pub flags: FlagOverrides,
    /// `--no-daemon`: the command scans and acts directly (review N, P13).
    pub no_daemon: bool,
}

/// Strips the `lockwatch` word cargo inserts when run as `cargo lockwatch …`, and moves a
/// command written after flags to the front (`cargo lockwatch --cargo-home X status`): the
/// bare command takes `status`'s flags, so clap alone would reject the command word there.
pub fn normalize_args(mut args: Vec<OsString>) -> Vec<OsString> {
    if args.get(1).is_some_and(|a| a == "lockwatch") {
        args.remove(1);
    }
    if let Some(i) = command_after_flags(&args) {
        let word = args.remove(i);
        args.insert(1, word);
    }
    args
}

/// Where the command word is when flags come before it (`None` when it is first, or absent).
fn command_after_flags(args: &[OsString]) -> Option<usize> {
    use clap::CommandFactory;
    let cli = Cli::command();
    let takes_value = |flag: &str| {
        cli.get_arguments().any(|a| {
            let named = match flag.strip_prefix("--") {
                Some(long) => a.get_long() == Some(long),
                None => flag.len() == 2 && a.get_short() == flag.chars().nth(1),
            };
            named && a.get_action().takes_values()
        })
    };
    let mut i = 1;
    while let Some(arg) = args.get(i) {
        let arg = arg.to_str()?;
        if arg == "--" {
            return None;
        }
        if !arg.starts_with('-') {
            let known = cli
                .get_subcommands()
                .any(|c| c.get_name() == arg || c.get_all_aliases().any(|a| a == arg));
            return (known && i > 1).then_some(i);
        }
        i += if !arg.contains('=') && takes_value(arg) {
            2
        } else {
            1
        };
    }
    None
}

/// Runs the program; returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let cli = match Cli::try_parse_from(normalize_args(args)) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    init_logging();
    let command = cli.command.unwrap_or(Command::Status(cli.status));
    let roots = command.roots();
    let (dirs, dir_warnings) = Dirs::from_env_warned();
    // Absolute: the daemon (which lists its own locks under its own working directory) and
    // the footer must name the same files the caller meant.
    let absolute = |ps: Vec<PathBuf>| -> Vec<PathBuf> {
        (ps.into_iter())
            .map(|p| std::path::absolute(&p).unwrap_or(p))
            .collect()
    };
    let flags = FlagOverrides {
        cargo_homes: absolute(roots.cargo_home),
        projects: (absolute(roots.project).into_iter())
            .map(crate::config::project_flag_dir)
            .collect(),
    };
    let mut loaded = Loaded::load(&dirs, &flags);
    // First: a relative LOCKWATCH_*_DIR decides where everything else is (review Y, Y9).
    loaded.warnings.splice(0..0, dir_warnings);
    let color = use_color(command.color());
    let ctx = Context {
        dirs,
        loaded,
        color,
        flags,
        no_daemon: command.no_daemon(),
    };
    // `config` and `doctor` show the warnings in their own report.
    if !matches!(command, Command::Config(_) | Command::Doctor(_)) {
        for w in &ctx.loaded.warnings {
            crate::say!("cargo-lockwatch: warning: {w}");
        }
    }
    match command {
        Command::Status(a) => status::run(&ctx, a),
        Command::Config(a) => config_cmd::run(&ctx, a),
        Command::Daemon(a) => daemon_cmd::run(&ctx, a),
        Command::Kill(a) => kill_cmd::run(&ctx, a),
        Command::Resume(a) => resume_cmd::run(&ctx, a),
        Command::Wait(a) => wait_cmd::run(&ctx, a),
        Command::History(a) => history_cmd::run(&ctx, a),
        Command::Install(a) => install::run(&ctx, a),
        Command::Uninstall(a) => uninstall::run(&ctx, a),
        Command::Doctor(a) => doctor::run(&ctx, a),
        Command::Completions(a) => completions_cmd::run(a),
        Command::Man(a) => completions_cmd::run_man(a),
    }
}

/// Logging is configured before anything else runs (`LOCKWATCH_LOG`, e.g. `debug`); it goes to
/// stderr so stdout stays clean for `--json` (in the daemon, counted toward its log bound).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOCKWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(crate::daemon::logcap::stderr)
        .try_init();
}

/// A duration argument (`30s`, `10m`, `1h 30m`, `7d`), with an error that shows the form.
pub fn duration_arg(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!(
            "{}: expected a duration such as 500ms, 30s, 10m, 1h or 7d",
            crate::core::text::duration_error(&e)
        )
    })
}

/// A process id argument (`kill`, `resume`), with an error that says what a pid is rather than
/// the range of a `u32`.
pub fn pid_arg(text: &str) -> Result<u32, String> {
    text.trim().parse().map_err(|_| {
        format!("{text} is not a pid: give the number `cargo lockwatch status` shows for it")
    })
}

/// A refresh interval: a duration of at least 100 ms (a smaller one would only burn CPU).
pub fn interval_arg(text: &str) -> Result<std::time::Duration, String> {
    let d = duration_arg(text)?;
    if d < std::time::Duration::from_millis(100) {
        return Err("the interval must be at least 100ms".into());
    }
    Ok(d)
}

/// Homes the cursor and clears a terminal (`--watch`), written past anstream, which would strip
/// these escapes along with colours under NO_COLOR.
pub fn clear_screen() -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(b"\x1b[H\x1b[2J")?;
    out.flush()
}

/// A value as JSON text and a newline (pretty for a person, one line for a stream). A value
/// that cannot be encoded becomes a JSON error object rather than a crash.
pub fn json_line<T: serde::Serialize>(value: &T, pretty: bool) -> String {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    let mut text = text.unwrap_or_else(|e| {
        serde_json::json!({ "error": format!("cannot encode the answer as JSON: {e}") }).to_string()
    });
    text.push('\n');
    text
}

/// Prints to stdout; a closed pipe (`| head`) is not an error.
pub fn print(text: &str) -> std::io::Result<()> {
    print_to_reader(text).map(drop)
}

/// The terminal's width when stdout is one (`COLUMNS` wins, as for other tools); `None` for a
/// pipe, which gets unwrapped lines.
pub fn terminal_width() -> Option<usize> {
    width_of(std::io::stdout())
}

/// The same for stderr, where `wait` draws its live line.
pub fn stderr_width() -> Option<usize> {
    width_of(std::io::stderr())
}

fn width_of(stream: impl IsTerminal + std::os::fd::AsFd) -> Option<usize> {
    if !stream.is_terminal() {
        return None;
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|c| *c > 0)
        .or_else(|| columns_of(stream.as_fd()))
}

/// The columns a terminal says it has, whatever its rows: one set up with only `stty cols 60`
/// says 0 rows, which is no reason to draw 100 columns on it (review M, N1).
fn columns_of(fd: std::os::fd::BorrowedFd) -> Option<usize> {
    let cols = winsize_of(fd)?.ws_col;
    (cols > 0).then_some(usize::from(cols))
}

/// The rows of the terminal on stdout (`LINES` wins), when it says: `status --watch` draws no
/// more than fit (review N, P12).
pub fn terminal_rows() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let from_env = std::env::var("LINES").ok().and_then(|c| c.parse().ok());
    let stdout = std::io::stdout();
    let said = winsize_of(std::os::fd::AsFd::as_fd(&stdout)).map(|w| usize::from(w.ws_row));
    from_env.or(said).filter(|r| *r > 0)
}

/// The window size a terminal reports for `fd`.
fn winsize_of(fd: std::os::fd::BorrowedFd) -> Option<libc::winsize> {
    use std::os::fd::AsRawFd;
    // SAFETY: all-zero bytes are a valid `winsize` (plain integers).
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which is valid and
    // exclusively borrowed for the call; `fd` is open for as long as it is borrowed.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
    (r == 0).then_some(size)
}

/// Decides colour once for the run, for anstream (which every print goes through) and for the
/// views that build styled text: `--color`, then `CLICOLOR_FORCE`, `NO_COLOR` and whether
/// stdout is a terminal.
fn use_color(when: ColorWhen) -> bool {
    let choice = match when {
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
        ColorWhen::Auto => anstream::ColorChoice::Auto,
    };
    choice.write_global();
    match anstream::AutoStream::choice(&std::io::stdout()) {
        anstream::ColorChoice::Never => false,
        anstream::ColorChoice::Auto => std::io::stdout().is_terminal(),
        _ => true,
    }
}

/// Prints to stdout; `Ok(false)` when the reader has gone (a closed pipe), so a command that
/// prints again and again can stop. Colour escapes are dropped when colour is off.
pub fn print_to_reader(text: &str) -> std::io::Result<bool> {
    use std::io::Write;
    let mut out = anstream::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn durations_and_intervals_say_what_they_expect() {
        assert_eq!(
            duration_arg("7d"),
            Ok(std::time::Duration::from_secs(7 * 86_400))
        );
        assert!(
            duration_arg("abc")
                .unwrap_err()
                .contains("such as 500ms, 30s")
        );
        assert_eq!(
            interval_arg("250ms"),
            Ok(std::time::Duration::from_millis(250))
        );
        assert!(interval_arg("0s").unwrap_err().contains("at least 100ms"));
    }

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_command_after_flags_moves_to_the_front() {
        let args = |v: &[&str]| -> Vec<OsString> {
            std::iter::once("cargo-lockwatch")
                .chain(v.iter().copied())
                .map(OsString::from)
                .collect()
        };
        for (given, wanted) in [
            (
                &["lockwatch", "--cargo-home", "/h", "status", "--json"][..],
                &["status", "--cargo-home", "/h", "--json"][..],
            ),
            (&["--project=/p", "wait"], &["wait", "--project=/p"]),
            (&["--json", "kill", "12"], &["kill", "--json", "12"]),
            // A flag's value named like a command stays a value.
            (&["--project", "status"], &["--project", "status"]),
            (
                &["--project", "status", "wait"],
                &["wait", "--project", "status"],
            ),
            (&["status", "--json"], &["status", "--json"]),
            (&["--json"], &["--json"]),
            (&["--", "status"], &["--", "status"]),
        ] {
            assert_eq!(normalize_args(args(given)), args(wanted), "{given:?}");
        }
        let parsed = Cli::try_parse_from(normalize_args(args(&["--cargo-home", "/h", "status"])))
            .expect("parses");
        assert!(matches!(parsed.command, Some(Command::Status(_))));
    }

    #[test]
    fn a_pid_that_is_not_a_number_is_said_to_be_no_pid() {
        assert_eq!(pid_arg("4242"), Ok(4242));
        for bad in ["-5", "abc", "4294967296", ""] {
            let e = pid_arg(bad).unwrap_err();
            assert!(e.starts_with(&format!("{bad} is not a pid: ")), "{e}");
        }
        for command in ["kill", "resume"] {
            let e = Cli::try_parse_from(["cargo-lockwatch", command, "--", "-5"]).unwrap_err();
            let text = e.to_string();
            assert!(text.contains("-5 is not a pid"), "{text}");
            assert!(!text.contains("4294967295"), "{text}");
        }
    }

    #[test]
    fn project_help_fits_each_command_and_the_flag_still_works() {
        let cli = Cli::command();
        let help = |command: &str, flag: &str| {
            let sub = cli.find_subcommand(command).expect(command);
            let arg = sub.get_arguments().find(|a| a.get_long() == Some(flag));
            let arg = arg.expect(flag);
            let short = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let long = arg
                .get_long_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            format!("{short}\n{long}")
        };
        for command in ["status", "daemon"] {
            assert!(
                help(command, "project").contains("even while free"),
                "{command}"
            );
        }
        // What `wait` does with them: it waits for them too (review T, T8).
        assert!(help("wait", "project").contains("Also wait for the build locks"));
        assert!(help("wait", "cargo-home").contains("Also wait for this Cargo home's"));
        for command in ["kill", "resume"] {
            let text = help(command, "project");
            assert!(
                !text.contains("even while free") && text.contains("the pid may hold"),
                "{command}: {text}"
            );
            assert!(help(command, "cargo-home").contains("the pid may hold"));
        }
        let text = help("config", "project");
        assert!(
            !text.contains("even while free") && text.contains("added to `watch.projects`"),
            "{text}"
        );
        assert!(help("config", "cargo-home").contains("added to the watched ones"));

        for argv in [
            &["cargo-lockwatch", "kill", "12", "--project", "/p"][..],
            &["cargo-lockwatch", "resume", "12", "--project", "/p"],
            &["cargo-lockwatch", "config", "--project", "/p"],
        ] {
            let parsed = Cli::try_parse_from(argv).expect("parses");
            let roots = parsed.command.expect("a command").roots();
            assert_eq!(roots.project, [PathBuf::from("/p")], "{argv:?}");
        }
    }

    #[test]
    fn cargo_subcommand_word_is_stripped() {
        let a: Vec<OsString> = ["cargo-lockwatch", "lockwatch", "status"]
            .iter()
            .map(OsString::from)
            .collect();
        let b: Vec<OsString> = ["cargo-lockwatch", "status"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(normalize_args(a), b.clone());
        assert_eq!(normalize_args(b.clone()), b);
    }
}
