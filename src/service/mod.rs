//! Starting the daemon at login: a launchd agent on macOS, a `systemd --user` unit on Linux,
//! both rendered from templates in the repository and embedded in the binary.
//!
//! Rendering is pure (paths in, text out) and lives in [`launchd`] and [`systemd`], which compile
//! and are tested on every platform. Talking to the service manager goes through the small
//! [`Runner`] trait so the install and uninstall flows are tested with a fake one; the real one
//! runs `launchctl` / `systemctl` found on `PATH`. The platform choice is made once, in
//! [`Manager::native`].

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;

use thiserror::Error;

pub mod bundle;
pub mod launchd;
pub mod systemd;

/// The launchd label of the agent, also the `CFBundleIdentifier` of `Lockwatch.app`.
pub const LABEL: &str = "com.cargo-lockwatch.agent";

/// Environment variable that overrides the directory the agent/unit file is written to
/// (for tests and unusual setups). systemd finds units by name only in its search path, so on
/// Linux `enable` succeeds only when this names one of those directories.
pub const SERVICE_DIR_ENV: &str = "LOCKWATCH_SERVICE_DIR";

/// Errors of installing, removing or inspecting the login service. Each says what to do next.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// A label that is not reverse-DNS (`com.example.agent`).
    #[error("`{label}` is not a valid reverse-DNS label: {reason}")]
    InvalidLabel {
        /// The rejected label.
        label: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A path that cannot be written into the agent/unit file.
    #[error(
        "{} cannot be used in the {format}: {reason}; move it to a plain absolute path and run \
         the command again",
        path.display()
    )]
    Path {
        /// The offending path.
        path: PathBuf,
        /// Which file format refused it.
        format: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A file operation failed.
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        /// What was attempted ("write", "remove" …).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The service manager refused a command.
    #[error("`{command}` failed: {detail}{hint}")]
    Manager {
        /// The command line, shell-quoted.
        command: String,
        /// Its error output (or exit status).
        detail: String,
        /// What the user can do; starts with "; " when present.
        hint: String,
    },
    /// The home directory is unknown.
    #[error("cannot find your home directory; set HOME and run the command again")]
    NoHome,
    /// The running binary cannot be located.
    #[error("cannot locate the running cargo-lockwatch binary: {0}")]
    NoBinary(#[source] std::io::Error),
    /// This OS has neither launchd nor systemd support here.
    #[error(
        "starting at login is not supported on {0}; run `cargo lockwatch daemon` from your \
         session's autostart instead"
    )]
    Unsupported(&'static str),
}

/// A launchd label / bundle identifier: reverse-DNS, ASCII letters, digits, `-` and `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label(String);

impl Label {
    /// Validates a reverse-DNS label: at least two non-empty dot-separated parts of ASCII
    /// letters, digits and `-` (not leading a part), at most 255 bytes.
    pub fn parse(text: &str) -> Result<Label, ServiceError> {
        let bad = |reason| {
            Err(ServiceError::InvalidLabel {
                label: text.to_string(),
                reason,
            })
        };
        if text.is_empty() || text.len() > 255 {
            return bad("it must be 1 to 255 characters long");
        }
        if let Some(c) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
        {
            return if c == '/' {
                bad("it must not contain `/`")
            } else {
                bad("only ASCII letters, digits, `-` and `.` are allowed")
            };
        }
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() < 2 {
            return bad("it needs at least two dot-separated parts, like `com.example`");
        }
        if parts.iter().any(|p| p.is_empty()) {
            return bad("it has an empty part (leading, trailing or doubled `.`)");
        }
        if parts.iter().any(|p| p.starts_with('-')) {
            return bad("a part must not start with `-`");
        }
        Ok(Label(text.to_string()))
    }

    /// The label text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The product's label, [`LABEL`].
pub fn label() -> Label {
    Label(LABEL.to_string())
}

/// Which service manager starts the daemon at login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    /// macOS: a LaunchAgent in the `gui/$UID` domain.
    Launchd,
    /// Linux: a `systemd --user` unit.
    Systemd,
}

impl Manager {
    /// The manager of the OS this binary was built for.
    pub fn native() -> Result<Manager, ServiceError> {
        if cfg!(target_os = "macos") {
            Ok(Manager::Launchd)
        } else if cfg!(target_os = "linux") {
            Ok(Manager::Systemd)
        } else {
            Err(ServiceError::Unsupported(std::env::consts::OS))
        }
    }

    /// What the installed file is called ("launchd agent", "systemd user unit").
    pub fn file_kind(self) -> &'static str {
        match self {
            Manager::Launchd => "launchd agent",
            Manager::Systemd => "systemd user unit",
        }
    }
}

/// Everything the install, uninstall and doctor flows take from the environment, gathered once
/// so the flows themselves are testable.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The service manager.
    pub manager: Manager,
    /// The launchd label (also names the plist file).
    pub label: Label,
    /// The daemon binary: the running executable, canonicalized.
    pub binary: PathBuf,
    /// The user's home directory.
    pub home: PathBuf,
    /// Where the agent/unit file goes.
    pub service_dir: PathBuf,
    /// The [`PASSED_ON`] variables set at install time (absolute), passed on to the daemon.
    pub environment: Vec<(&'static str, PathBuf)>,
    /// The user id (launchd's `gui/$UID` domain).
    pub uid: u32,
    /// Where the macOS app bundle goes (`~/Applications`, or `LOCKWATCH_APPS_DIR`).
    pub apps_dir: PathBuf,
    /// This process is the daemon launchd started under our label (`XPC_SERVICE_NAME`):
    /// booting the agent out would stop it.
    pub under_our_agent: bool,
}

/// The variables `install` passes on to the daemon when they are set: where Cargo keeps its
/// locks and where this program keeps its config, data and socket, so the daemon at login and
/// the commands in this shell meet.
pub const PASSED_ON: &[&str] = &[
    "CARGO_HOME",
    "LOCKWATCH_CONFIG_DIR",
    "LOCKWATCH_DATA_DIR",
    "LOCKWATCH_RUNTIME_DIR",
    "LOCKWATCH_CONFIG",
];

/// The [`PASSED_ON`] variables `env` has a value for, in that order, made absolute (the daemon
/// does not start in this directory).
pub fn passed_on(env: impl Fn(&str) -> Option<PathBuf>) -> Vec<(&'static str, PathBuf)> {
    (PASSED_ON.iter())
        .filter_map(|k| Some((*k, absolute(env(k)?))))
        .collect()
}

/// What `install` says of the environment it passed on; `None` when it passed none.
pub fn passed_on_words(environment: &[(&'static str, PathBuf)]) -> Option<String> {
    if environment.is_empty() {
        return None;
    }
    let vars: Vec<String> = (environment.iter())
        .map(|(k, v)| format!("{k}={}", v.display()))
        .collect();
    Some(format!(
        "the daemon gets this shell's {} (install again after changing them)",
        vars.join(", ")
    ))
}

impl Setup {
    /// Reads the running binary, `HOME`, the [`PASSED_ON`] variables, `XDG_CONFIG_HOME` and
    /// [`SERVICE_DIR_ENV`].
    pub fn from_env() -> Result<Setup, ServiceError> {
        let manager = Manager::native()?;
        let binary = std::env::current_exe()
            .and_then(std::fs::canonicalize)
            .map_err(ServiceError::NoBinary)?;
        let home = directories::BaseDirs::new()
            .map(|b| b.home_dir().to_path_buf())
            .ok_or(ServiceError::NoHome)?;
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let service_dir = match env(SERVICE_DIR_ENV) {
            Some(d) => absolute(PathBuf::from(d)),
            None => match manager {
                Manager::Launchd => launchd::default_dir(&home),
                Manager::Systemd => systemd::default_dir(&home, env("XDG_CONFIG_HOME").as_deref()),
            },
        };
        let environment = passed_on(|k| env(k).map(PathBuf::from));
        // SAFETY: getuid cannot fail and has no preconditions.
        let uid = unsafe { libc::getuid() };
        let label = label();
        let apps_dir = env("LOCKWATCH_APPS_DIR")
            .map(|d| absolute(PathBuf::from(d)))
            .unwrap_or_else(|| home.join("Applications"));
        let under_our_agent = env("XPC_SERVICE_NAME").is_some_and(|n| n == label.as_str());
        Ok(Setup {
            manager,
            label,
            binary,
            home,
            service_dir,
            environment,
            uid,
            apps_dir,
            under_our_agent,
        })
    }

    /// The agent/unit file.
    pub fn service_file(&self) -> PathBuf {
        self.service_dir.join(match self.manager {
            Manager::Launchd => launchd::file_name(&self.label),
            Manager::Systemd => systemd::UNIT.to_string(),
        })
    }

    /// The macOS app bundle `install` creates.
    pub fn app(&self) -> PathBuf {
        self.apps_dir.join(bundle::APP_NAME)
    }

    /// The agent/unit file's contents for this setup.
    pub fn render(&self) -> Result<String, ServiceError> {
        match self.manager {
            Manager::Launchd => launchd::render(&launchd::Params {
                label: &self.label,
                binary: &self.binary,
                home: &self.home,
                environment: &self.environment,
            }),
            Manager::Systemd => systemd::render(&systemd::Params {
                binary: &self.binary,
                environment: &self.environment,
                graphical: cfg!(tray),
            }),
        }
    }

    /// The binary an installed agent/unit file starts, if it can be read from `text`.
    pub fn installed_binary(&self, text: &str) -> Option<PathBuf> {
        match self.manager {
            Manager::Launchd => launchd::program(text),
            Manager::Systemd => systemd::program(text),
        }
    }
}

/// True when the login agent/unit file exists (for the menu's "Launch at login" tick).
pub fn is_installed() -> bool {
    Setup::from_env().is_ok_and(|s| s.service_file().is_file())
}

/// True when `binary` looks like a development build (it lives under a `target/` directory).
pub fn is_dev_build(binary: &Path) -> bool {
    binary
        .components()
        .any(|c| matches!(c, Component::Normal(n) if n == "target"))
}

/// A command for the service manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    /// The program, looked up on `PATH`.
    pub program: &'static str,
    /// Its arguments.
    pub args: Vec<String>,
}

impl Cmd {
    /// A command from a program and arguments.
    pub fn new(program: &'static str, args: &[&str]) -> Cmd {
        Cmd {
            program,
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }
}

impl fmt::Display for Cmd {
    /// Shell-quoted, ready to copy into a terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program)?;
        for a in &self.args {
            write!(f, " {}", shell_quote(a))?;
        }
        Ok(())
    }
}

/// Quotes `word` for a POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ran {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Ran {
    /// Exited 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The first line of the error output, or the exit status.
    pub fn detail(&self) -> String {
        let text = if self.stderr.trim().is_empty() {
            self.stdout.trim()
        } else {
            self.stderr.trim()
        };
        match (text.lines().next(), self.code) {
            (Some(line), _) => line.to_string(),
            (None, Some(c)) => format!("exit status {c}"),
            (None, None) => "killed by a signal".to_string(),
        }
    }
}

/// Runs service-manager commands. The real one is [`SystemRunner`]; tests use a fake.
pub trait Runner {
    /// Runs `cmd` to completion. `Err` with [`std::io::ErrorKind::NotFound`] when the program
    /// is not installed.
    fn run(&mut self, cmd: &Cmd) -> std::io::Result<Ran>;
}

/// Runs commands for real, looking programs up on `PATH`.
#[derive(Debug, Default)]
pub struct SystemRunner;

impl Runner for SystemRunner {
    fn run(&mut self, cmd: &Cmd) -> std::io::Result<Ran> {
        tracing::debug!(%cmd, "running");
        let out = std::process::Command::new(cmd.program)
            .args(&cmd.args)
            .stdin(Stdio::null())
            .output()?;
        Ok(Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// What an install or uninstall did, in the user's words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// What was done (or, in a dry run, what would be done), one line each.
    pub steps: Vec<String>,
    /// Set when no service manager answered: the file is written, but nothing starts the
    /// daemon at login.
    pub unmanaged: Option<Unmanaged>,
}

/// An install no service manager took up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmanaged {
    /// Why no manager answered (`systemctl` missing, no user instance on the bus …).
    pub why: String,
    /// The commands that enable the written file from a session where a manager runs, ready to
    /// copy.
    pub enable_later: Vec<String>,
}

/// How to run the daemon where no service manager starts it, for `install` and `doctor`.
pub const START_BY_HAND: &str = "start the daemon yourself with `cargo lockwatch daemon`, e.g. \
     from your desktop session's autostart or in the background from your shell profile (a \
     second one finds the first running and exits)";

impl Outcome {
    pub(crate) fn step(&mut self, line: impl Into<String>) {
        self.steps.push(line.into());
    }

    /// Records that `cmd` ran (or would run in a dry run).
    fn ran(&mut self, dry_run: bool, cmd: &Cmd, note: &str) {
        let verb = if dry_run { "would run" } else { "ran" };
        self.steps.push(format!("{verb}: {cmd}{note}"));
    }
}

/// Whether the service is known to the manager and running.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceState {
    /// Loaded (launchd) or enabled (systemd); `None` when the manager could not be asked.
    pub loaded: Option<bool>,
    /// Running; `None` when the manager could not be asked.
    pub running: Option<bool>,
    /// What the manager said, or why it could not be asked.
    pub detail: String,
}

/// Writes the agent/unit file and loads it (launchd) or enables and starts it (systemd when a
/// user manager answers). Running it again replaces the file and restarts the daemon.
pub fn install(
    setup: &Setup,
    runner: &mut dyn Runner,
    dry_run: bool,
) -> Result<Outcome, ServiceError> {
    match setup.manager {
        Manager::Launchd => launchd::install(setup, runner, dry_run),
        Manager::Systemd => systemd::install(setup, &setup.render()?, runner, dry_run),
    }
}

/// Stops the service and removes the agent/unit file; fine when nothing is installed.
pub fn uninstall(
    setup: &Setup,
    runner: &mut dyn Runner,
    dry_run: bool,
) -> Result<Outcome, ServiceError> {
    match setup.manager {
        Manager::Launchd => launchd::uninstall(setup, runner, dry_run),
        Manager::Systemd => systemd::uninstall(setup, runner, dry_run),
    }
}

/// Asks the service manager whether the daemon is loaded and running.
pub fn state(setup: &Setup, runner: &mut dyn Runner) -> ServiceState {
    match setup.manager {
        Manager::Launchd => launchd::state(setup, runner),
        Manager::Systemd => systemd::state(setup, runner),
    }
}

/// Writes `text` to `path` through a temporary file and a rename, so a crash never leaves a
/// half-written agent behind; creates the directory if needed.
pub(crate) fn write_file(path: &Path, text: &str) -> Result<(), ServiceError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| ServiceError::Io {
        what: "create the directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let io = |what, source| ServiceError::Io {
        what,
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, text).map_err(|e| io("write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("replace", e)
    })
}

/// Removes `path`; `Ok(false)` when it was not there.
pub(crate) fn remove_file(path: &Path) -> Result<bool, ServiceError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(ServiceError::Io {
            what: "remove",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The text of a path for a service file: UTF-8, absolute, no control characters.
pub(crate) fn path_text<'a>(path: &'a Path, format: &'static str) -> Result<&'a str, ServiceError> {
    let bad = |reason| ServiceError::Path {
        path: path.to_path_buf(),
        format,
        reason,
    };
    let text = path.to_str().ok_or_else(|| bad("it is not valid UTF-8"))?;
    if !path.is_absolute() {
        return Err(bad("it is not absolute"));
    }
    if text
        .chars()
        .any(|c| c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}')
    {
        return Err(bad("it contains a control character"));
    }
    Ok(text)
}

/// Replaces every `{{NAME}}` in `template` with its value in one pass (values are never
/// re-scanned, so a path containing `{{LABEL}}` stays as it is).
pub(crate) fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}").and_then(|end| {
            vars.iter()
                .find(|(k, _)| *k == &after[..end])
                .map(|v| (end, v.1))
        }) {
            Some((end, value)) => {
                out.push_str(value);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn absolute(p: PathBuf) -> PathBuf {
    std::path::absolute(&p).unwrap_or(p)
}

/// True when a failed `launchctl bootout` / `systemctl disable` only means "was not loaded".
pub(crate) fn means_not_loaded(ran: &Ran) -> bool {
    let text = format!("{}\n{}", ran.stderr, ran.stdout).to_ascii_lowercase();
    [
        "no such process",
        "could not find",
        "not loaded",
        "does not exist",
        "not found",
    ]
    .iter()
    .any(|s| text.contains(s))
}

#[cfg(test)]
pub(crate) mod testing {
    //! A fake service manager for the install/uninstall flow tests.

    use super::*;
    use std::collections::VecDeque;

    /// Answers commands from a script; records every command it was asked to run.
    #[derive(Default)]
    pub struct FakeRunner {
        /// `(command prefix, answer)`: the first entry whose prefix matches answers (and is
        /// consumed unless it is the last one for that prefix).
        pub answers: VecDeque<(String, Option<Ran>)>,
        /// Every command run, shell-quoted.
        pub log: Vec<String>,
    }

    impl FakeRunner {
        /// Adds an answer; `None` means "program not installed".
        pub fn answer(&mut self, prefix: &str, ran: Option<Ran>) -> &mut Self {
            self.answers.push_back((prefix.to_string(), ran));
            self
        }
    }

    /// A run that exited with `code` and printed `stderr`.
    pub fn exited(code: i32, stdout: &str, stderr: &str) -> Option<Ran> {
        Some(Ran {
            code: Some(code),
            stdout: stdout.into(),
            stderr: stderr.into(),
        })
    }

    impl Runner for FakeRunner {
        fn run(&mut self, cmd: &Cmd) -> std::io::Result<Ran> {
            let line = cmd.to_string();
            self.log.push(line.clone());
            let matching: Vec<usize> = self
                .answers
                .iter()
                .enumerate()
                .filter(|(_, (p, _))| line.starts_with(p.as_str()))
                .map(|(i, _)| i)
                .collect();
            let answer = match matching.as_slice() {
                [] => exited(0, "", "").expect("some"),
                [only] => match &self.answers[*only].1 {
                    Some(r) => r.clone(),
                    None => return Err(std::io::ErrorKind::NotFound.into()),
                },
                [first, ..] => match self.answers.remove(*first).expect("index exists").1 {
                    Some(r) => r,
                    None => return Err(std::io::ErrorKind::NotFound.into()),
                },
            };
            Ok(answer)
        }
    }

    /// A setup rooted in a temp dir.
    pub fn setup(manager: Manager, root: &Path) -> Setup {
        Setup {
            manager,
            label: label(),
            binary: root.join("bin dir/cargo-lockwatch"),
            home: root.join("home"),
            service_dir: root.join("agents"),
            environment: Vec::new(),
            uid: 501,
            apps_dir: root.join("Applications"),
            under_our_agent: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variables_set_are_passed_on_absolute_in_order() {
        let env = |k: &str| match k {
            "LOCKWATCH_RUNTIME_DIR" => Some(PathBuf::from("/run/lw")),
            "CARGO_HOME" => Some(PathBuf::from("rel/home")),
            _ => None,
        };
        let got = passed_on(env);
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            got,
            [
                ("CARGO_HOME", cwd.join("rel/home")),
                ("LOCKWATCH_RUNTIME_DIR", PathBuf::from("/run/lw")),
            ]
        );
        assert!(passed_on(|_| None).is_empty());
        assert_eq!(passed_on_words(&[]), None);
    }

    #[test]
    fn product_label_is_valid() {
        assert_eq!(Label::parse(LABEL).unwrap(), label());
    }

    #[test]
    fn labels_are_reverse_dns() {
        for good in [
            "com.example",
            "dev.cargo-lockwatch.agent",
            "a.b.c9",
            "io.x-y.Z",
        ] {
            assert!(Label::parse(good).is_ok(), "{good}");
        }
        let cases = [
            ("", "1 to 255"),
            ("single", "two dot-separated"),
            ("com..example", "empty part"),
            (".com.example", "empty part"),
            ("com.example.", "empty part"),
            ("com.-example", "start with `-`"),
            ("com.exa mple", "only ASCII"),
            ("com.exämple", "only ASCII"),
            ("com/example.x", "`/`"),
            ("com.ex&ample", "only ASCII"),
        ];
        for (bad, why) in cases {
            let e = Label::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        assert!(Label::parse(&format!("a.{}", "b".repeat(300))).is_err());
    }

    #[test]
    fn fill_is_single_pass_and_leaves_unknown_placeholders() {
        let out = fill(
            "<{{A}}|{{B}}|{{C}}|{{ open",
            &[("A", "{{B}}"), ("B", "x&y")],
        );
        assert_eq!(out, "<{{B}}|x&y|{{C}}|{{ open");
    }

    #[test]
    fn path_text_refuses_what_cannot_be_written() {
        assert_eq!(
            path_text(Path::new("/a b/ünï"), "plist").unwrap(),
            "/a b/ünï"
        );
        let e = path_text(Path::new("rel/x"), "plist")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not absolute") && e.contains("move it"), "{e}");
        let e = path_text(Path::new("/a\nb"), "plist")
            .unwrap_err()
            .to_string();
        assert!(e.contains("control character"), "{e}");
        use std::os::unix::ffi::OsStrExt;
        let raw = Path::new(std::ffi::OsStr::from_bytes(b"/a\xffb"));
        assert!(
            path_text(raw, "plist")
                .unwrap_err()
                .to_string()
                .contains("UTF-8")
        );
    }

    #[test]
    fn dev_builds_are_recognised() {
        assert!(is_dev_build(Path::new(
            "/src/p/target/debug/cargo-lockwatch"
        )));
        assert!(is_dev_build(Path::new("/t/target/release/cargo-lockwatch")));
        assert!(!is_dev_build(Path::new(
            "/home/u/.cargo/bin/cargo-lockwatch"
        )));
        assert!(!is_dev_build(Path::new("/opt/targets/cargo-lockwatch")));
    }

    #[test]
    fn commands_display_shell_quoted() {
        let c = Cmd::new("launchctl", &["bootstrap", "gui/501", "/a b/it's.plist"]);
        assert_eq!(
            c.to_string(),
            r"launchctl bootstrap gui/501 '/a b/it'\''s.plist'"
        );
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn write_file_replaces_and_remove_file_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("new dir/x.plist");
        write_file(&f, "one").unwrap();
        write_file(&f, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "two");
        assert_eq!(std::fs::read_dir(f.parent().unwrap()).unwrap().count(), 1);
        assert!(remove_file(&f).unwrap());
        assert!(!remove_file(&f).unwrap());
    }

    #[test]
    fn ran_detail_prefers_stderr() {
        let r = Ran {
            code: Some(5),
            stdout: "out".into(),
            stderr: "Bootstrap failed: 5: Input/output error\nmore".into(),
        };
        assert_eq!(r.detail(), "Bootstrap failed: 5: Input/output error");
        assert_eq!(
            Ran {
                code: Some(3),
                ..Ran::default()
            }
            .detail(),
            "exit status 3"
        );
    }
}
