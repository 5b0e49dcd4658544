//! `cargo lockwatch doctor`: checks everything the daemon needs — the binary, the login service,
//! the daemon's socket (and whether a daemon answers on it), the kernel's lock table, the config
//! and notifications — and says what to do about each problem. Facts are gathered once ([`Facts::gather`]); judging them is pure
//! ([`checks`]) so every verdict is unit-tested.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::Context;
use crate::exit;
use crate::service::{self, Manager, Runner, ServiceState, Setup, SystemRunner};

/// Arguments of `doctor`.
#[derive(Debug, clap::Args, Default)]
pub struct Args {
    /// Print JSON: `{"ok": bool, "checks": [{"name", "status", "detail", "fix"}]}`.
    #[arg(long)]
    pub json: bool,
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t)]
    pub color: super::ColorWhen,
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but worth knowing.
    Warn,
    /// Something the user has to fix; makes `doctor` exit non-zero.
    Problem,
    /// Neither good nor bad: how things are set up (e.g. not started at login).
    Info,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do about it.
    pub fix: Option<String>,
}

/// What a path in the runtime directory turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketFact {
    /// A Unix socket.
    Socket,
    /// Nothing there.
    Missing,
    /// Something else (a regular file, a directory …).
    NotSocket,
    /// It could not be examined.
    Error(String),
}

/// Everything `doctor` looks at, gathered once.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The service setup (binary, manager, file location), or why it could not be worked out.
    pub setup: Result<Setup, String>,
    /// The installed agent/unit file's text: `None` when absent, `Err` when unreadable.
    pub installed: Option<Result<String, String>>,
    /// What the service manager says, when it was asked.
    pub state: Option<ServiceState>,
    /// The daemon socket's path.
    pub socket_path: PathBuf,
    /// What is at the socket path.
    pub socket: SocketFact,
    /// When it is a socket: the pid of the daemon that answered the handshake, or why none did.
    pub daemon: Option<Result<u32, String>>,
    /// Why the socket, its directory or the process answering is not trusted (not this user's).
    pub untrusted: Option<String>,
    /// The daemon runs but refused the connection: it serves its maximum of clients.
    pub busy: Option<String>,
    /// A daemon whose runtime directory stopped being private (`chmod 755` under it), so
    /// clients no longer look for its socket there.
    pub left_out: Option<crate::daemon::trust::LeftOut>,
    /// A socket is there but nothing listens on it: left by a daemon that is gone (killed).
    pub stale_socket: bool,
    /// The daemon's pid when its process is stopped (SIGSTOP, Ctrl-Z): it answers nothing.
    pub stopped: Option<u32>,
    /// The daemon answers but its watching is paused (menu → Pause watching).
    pub paused: bool,
    /// What would stop a daemon from listening here (a socket path too long for `sun_path`, a
    /// runtime directory it cannot write), found before anything is started.
    pub runtime_problem: Option<String>,
    /// What the daemon says it cannot do right now (e.g. write its history).
    pub daemon_problems: Vec<String>,
    /// Whether `/proc/locks` is readable (Linux only).
    pub proc_locks: Option<Result<(), String>>,
    /// The history log's path, and why the daemon could not write it (`Err`), found before a
    /// daemon runs into it.
    pub history: (PathBuf, Result<(), String>),
    /// The data directory, when it is not one (or lies under something that is not one).
    pub data_dir: Option<crate::config::DataDirNotDir>,
    /// The config file and the warnings from loading it.
    pub config_file: PathBuf,
    /// Problems found while loading the config.
    pub config_warnings: Vec<String>,
    /// What the running daemon runs with instead of the file as shown (see `config`).
    pub daemon_config_note: Option<String>,
    /// Directories to watch that are not there (yet) or are not directories.
    pub missing_dirs: Vec<String>,
    /// Notifications are enabled in the config.
    pub notify_enabled: bool,
    /// Where `notify.enabled` was set (`env LOCKWATCH_NOTIFY_ENABLED`, `file …`).
    pub notify_enabled_from: String,
    /// Linux: `DBUS_SESSION_BUS_ADDRESS` is set.
    pub dbus: bool,
    /// macOS: the bundle identifier when running from an `.app` bundle.
    pub bundle_id: Option<String>,
    /// Other login agents that also start cargo-lockwatch (e.g. `brew services`).
    pub other_agents: Vec<PathBuf>,
    /// Whether a daemon started now would show the menu bar icon, and why.
    pub ui: crate::daemon::UiMode,
    /// A graphical session is there (`DISPLAY`/`WAYLAND_DISPLAY`; on macOS not over SSH).
    pub gui: bool,
    /// When the login agent starts an app bundle's copy of the binary: whether that copy is
    /// the same as this binary (`Err` when they could not be compared).
    pub bundle_copy_current: Option<Result<bool, String>>,
    /// macOS: watched Cargo homes and projects in places guarded by privacy consent (TCC).
    pub guarded: Vec<Guarded>,
}

/// A watched directory in a place macOS guards with a privacy consent (TCC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guarded {
    /// "project" or "Cargo home".
    pub what: &'static str,
    /// The directory as configured.
    pub path: PathBuf,
    /// Where it lies.
    pub place: crate::probe::tcc::Protected,
}

/// The watched directories (`(what, as configured, canonical if it resolves)`) that lie in
/// places macOS guards with a privacy consent.
pub fn guarded_roots(
    roots: &[(&'static str, PathBuf, Option<PathBuf>)],
    home: &Path,
) -> Vec<Guarded> {
    roots
        .iter()
        .filter_map(|(what, given, canonical)| {
            crate::probe::tcc::protected_either(given, canonical.as_deref(), home).map(|place| {
                Guarded {
                    what,
                    path: given.clone(),
                    place,
                }
            })
        })
        .collect()
}

/// What the daemon at the socket said when asked, or why it could not be asked.
#[derive(Debug, Default)]
struct Answer {
    /// The pid of the daemon that answered the handshake, or why none did.
    daemon: Option<Result<u32, String>>,
    /// Why the socket, its directory or the process answering is not trusted.
    untrusted: Option<String>,
    /// The daemon refused the connection: it serves its maximum of clients.
    busy: Option<String>,
    /// Nothing listens on the socket.
    stale_socket: bool,
    /// The daemon's pid when its process is stopped.
    stopped: Option<u32>,
    /// The daemon's watching is paused.
    paused: bool,
    /// What the daemon says it cannot do right now.
    problems: Vec<String>,
}

impl Facts {
    /// Looks at the system.
    pub fn gather(ctx: &Context, runner: &mut dyn Runner) -> Facts {
        let setup = Setup::from_env().map_err(|e| e.to_string());
        let installed = setup.as_ref().ok().and_then(read_service_file);
        let state = setup.as_ref().ok().map(|s| service::state(s, runner));
        let socket_path = crate::daemon::socket_path(&ctx.dirs);
        let socket = socket_fact(&socket_path);
        let runtime_problem = runtime_problem(&socket_path, &ctx.dirs.runtime);
        let answer = if socket == SocketFact::Socket {
            ask_daemon(&socket_path)
        } else {
            Answer::default()
        };
        let left_out = (socket == SocketFact::Missing)
            .then(|| crate::daemon::trust::left_out(&ctx.dirs.runtime))
            .flatten();
        let history_file = ctx.dirs.data.join("history.jsonl");
        let history = (history_file.clone(), writable(&history_file));
        let proc_locks = proc_locks();
        let bundle_id = setup
            .as_ref()
            .ok()
            .and_then(|s| service::launchd::app_bundle_id(&s.binary));
        let bundle_copy_current = bundle_copy_current(&setup, &installed);
        let other_agents = other_agents(&setup);
        let guarded = guarded(ctx);
        Facts {
            setup,
            installed,
            state,
            socket_path,
            socket,
            daemon: answer.daemon,
            untrusted: answer.untrusted,
            left_out,
            busy: answer.busy,
            stale_socket: answer.stale_socket,
            stopped: answer.stopped,
            paused: answer.paused,
            runtime_problem,
            daemon_problems: answer.problems,
            proc_locks,
            history,
            data_dir: ctx.dirs.data_dir_problem(),
            config_file: ctx.loaded.file.clone(),
            config_warnings: (ctx.loaded.warnings.iter())
                .filter(|w| !ctx.loaded.missing_dirs.contains(w))
                .cloned()
                .collect(),
            daemon_config_note: super::config_cmd::running_daemon_note(ctx),
            missing_dirs: ctx.loaded.missing_dirs.clone(),
            notify_enabled: ctx.loaded.config.notify.enabled,
            notify_enabled_from: disabled_by(ctx.loaded.provenance.get("notify.enabled")),
            dbus: std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty()),
            bundle_id,
            other_agents,
            ui: crate::daemon::ui_mode(false, cfg!(tray), crate::daemon::gui_available()),
            gui: crate::daemon::gui_available(),
            bundle_copy_current,
            guarded,
        }
    }
}

/// The installed agent/unit file's text: `None` when absent, `Err` when unreadable.
fn read_service_file(s: &Setup) -> Option<Result<String, String>> {
    match std::fs::read_to_string(s.service_file()) {
        Ok(t) => Some(Ok(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(e.to_string())),
    }
}

/// What would stop a daemon from listening at `socket_path` in `runtime`, found before
/// anything is started.
fn runtime_problem(socket_path: &Path, runtime: &Path) -> Option<String> {
    match crate::daemon::check_socket_path(socket_path) {
        Err(e) => Some(e.to_string()),
        Ok(()) => crate::daemon::trust::preflight(runtime),
    }
}

/// Whether `/proc/locks` is readable (Linux only).
fn proc_locks() -> Option<Result<(), String>> {
    cfg!(target_os = "linux").then(|| {
        std::fs::read_to_string("/proc/locks")
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

/// What the daemon answering on the socket at `socket_path` says: its pid, problems and
/// pause, or why it does not answer.
fn ask_daemon(socket_path: &Path) -> Answer {
    use crate::daemon::client::{Client, ClientError};
    use crate::daemon::protocol::{Request, Response};
    let mut answer = Answer::default();
    answer.daemon = match Client::connect(socket_path, Duration::from_secs(2)) {
        Ok(mut c) => {
            if let Ok(Response::Snapshot(snap)) = c.request(&Request::Status) {
                answer.problems = snap.problems;
                answer.paused = snap.paused;
            }
            Some(Ok(c.daemon_pid))
        }
        Err(ClientError::Silent(s)) if s.stopped => {
            answer.stopped = s.pid;
            Some(Err(s.to_string()))
        }
        Err(ClientError::Untrusted(u)) => {
            answer.untrusted = Some(u.message);
            None
        }
        Err(ClientError::Busy(b)) => {
            answer.busy = Some(b.to_string());
            None
        }
        Err(ClientError::NotRunning(_)) => {
            answer.stale_socket = true;
            None
        }
        Err(e) => Some(Err(e.to_string())),
    };
    answer
}

/// When the login agent starts an app bundle's copy of the binary: whether that copy is the
/// same as this binary (`Err` when they could not be compared).
fn bundle_copy_current(
    setup: &Result<Setup, String>,
    installed: &Option<Result<String, String>>,
) -> Option<Result<bool, String>> {
    match (setup, installed) {
        (Ok(s), Some(Ok(text))) => s
            .installed_binary(text)
            .filter(|p| *p != s.binary && service::bundle::is_bundled(p))
            .map(|copy| same_contents(&copy, &s.binary)),
        _ => None,
    }
}

/// Other login agents that also start cargo-lockwatch (e.g. `brew services`).
fn other_agents(setup: &Result<Setup, String>) -> Vec<PathBuf> {
    match setup {
        Ok(s) if s.manager == Manager::Launchd => {
            let brew =
                service::launchd::default_dir(&s.home).join("homebrew.mxcl.cargo-lockwatch.plist");
            vec![brew].into_iter().filter(|p| p.exists()).collect()
        }
        _ => Vec::new(),
    }
}

/// macOS: the watched Cargo homes and projects in places guarded by privacy consent (TCC).
fn guarded(ctx: &Context) -> Vec<Guarded> {
    match directories::BaseDirs::new() {
        Some(b) if cfg!(target_os = "macos") => {
            let roots = ctx.loaded.roots();
            let listed: Vec<(&'static str, PathBuf, Option<PathBuf>)> = roots
                .cargo_homes
                .iter()
                .map(|p| ("Cargo home", p))
                .chain(roots.projects.iter().map(|p| ("project", p)))
                .map(|(what, p)| (what, p.clone(), p.canonicalize().ok()))
                .collect();
            guarded_roots(&listed, b.home_dir())
        }
        _ => Vec::new(),
    }
}

/// Whether this user may write `file`: the file when it is there, else the nearest directory
/// above it that is (the daemon makes the ones missing in between).
fn writable(file: &Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let there = (file.ancestors()).find(|p| std::fs::symlink_metadata(p).is_ok());
    let Some(there) = there else {
        return Ok(());
    };
    let Ok(c) = std::ffi::CString::new(there.as_os_str().as_bytes()) else {
        return Ok(());
    };
    // SAFETY: `c` is a NUL-terminated path that outlives the call; access only reads it.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    Err(format!("cannot write {}: {e}", there.display()))
}

/// Whether two files have the same bytes.
fn same_contents(a: &Path, b: &Path) -> Result<bool, String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    Ok(read(a)? == read(b)?)
}

/// What is at `path`: a socket, nothing, or something else.
pub fn socket_fact(path: &Path) -> SocketFact {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => SocketFact::Socket,
        Ok(_) => SocketFact::NotSocket,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => SocketFact::Missing,
        Err(e) => SocketFact::Error(e.to_string()),
    }
}

fn check(name: &'static str, status: Status, detail: String, fix: Option<String>) -> Check {
    Check {
        name,
        status,
        detail,
        fix,
    }
}

/// The command that loads/starts an installed service, for fixes.
fn start_command(s: &Setup) -> String {
    match s.manager {
        Manager::Launchd => format!(
            "launchctl bootstrap gui/{} {}",
            s.uid,
            service::shell_quote(&s.service_file().to_string_lossy())
        ),
        Manager::Systemd => format!("systemctl --user enable --now {}", service::systemd::UNIT),
    }
}

fn logs_hint(s: &Setup) -> String {
    match s.manager {
        Manager::Launchd => format!(
            "look at the logs in {}",
            service::launchd::log_dir(&s.home).display()
        ),
        Manager::Systemd => format!("look at `journalctl --user -u {}`", service::systemd::UNIT),
    }
}

/// Why no service manager could be asked (none answered, or its program is missing), when so.
fn unmanaged(f: &Facts) -> Option<&str> {
    let st = f.state.as_ref()?;
    (st.loaded.is_none() || st.running.is_none()).then_some(st.detail.as_str())
}

/// Judges the facts: one check per line of the report.
pub fn checks(f: &Facts) -> Vec<Check> {
    let platform = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    let setup = match &f.setup {
        Ok(s) => s,
        Err(e) => {
            let out = vec![
                check("platform", Status::Problem, platform, None),
                check("service", Status::Problem, e.clone(), None),
            ];
            return finish(out, f);
        }
    };
    let mut out = vec![
        binary_check(setup),
        check(
            "platform",
            Status::Ok,
            format!("{platform} ({})", setup.manager.file_kind()),
            None,
        ),
        service_file_check(setup, f),
    ];
    if let Some(st) = &f.state {
        out.push(service_check(st, setup, f));
    }
    out.extend(f.other_agents.iter().map(|other| other_agent_check(other)));
    finish(out, f)
}

/// The check of the binary: an installed one, or a development build `cargo clean` deletes.
fn binary_check(setup: &Setup) -> Check {
    if service::is_dev_build(&setup.binary) {
        check(
            "binary",
            Status::Warn,
            format!("{} is a development build", setup.binary.display()),
            Some(
                "install it with `cargo install --path .` and run `cargo lockwatch install` \
                 from the installed binary; `cargo clean` would delete this one"
                    .into(),
            ),
        )
    } else {
        check(
            "binary",
            Status::Ok,
            setup.binary.display().to_string(),
            None,
        )
    }
}

/// The check of the service file: whether it is there, readable, and starts this binary.
fn service_file_check(setup: &Setup, f: &Facts) -> Check {
    let file = setup.service_file();
    match &f.installed {
        None => check(
            "service file",
            Status::Info,
            format!(
                "not installed (no {} at {}): the daemon does not start at login",
                setup.manager.file_kind(),
                file.display()
            ),
            // Without a service manager `install` cannot start it: the service line says
            // what can.
            unmanaged(f)
                .is_none()
                .then(|| "to start it at login, run `cargo lockwatch install`".into()),
        ),
        Some(Err(e)) => check(
            "service file",
            Status::Problem,
            format!("cannot read {}: {e}", file.display()),
            Some("fix its permissions or run `cargo lockwatch install` again".into()),
        ),
        Some(Ok(text)) => started_binary_check(&file, text, setup, f),
    }
}

/// The check of an installed service file's `text`: which program it starts.
fn started_binary_check(file: &Path, text: &str, setup: &Setup, f: &Facts) -> Check {
    match setup.installed_binary(text) {
        Some(p) if p == setup.binary => check(
            "service file",
            Status::Ok,
            format!("{} starts this binary", file.display()),
            None,
        ),
        Some(p) if f.bundle_copy_current.is_some() => bundle_copy_check(file, &p, setup, f),
        Some(p) => check(
            "service file",
            Status::Problem,
            format!(
                "{} starts {}, not this binary ({})",
                file.display(),
                p.display(),
                setup.binary.display()
            ),
            Some("run `cargo lockwatch install` with the binary that should run at login".into()),
        ),
        None => check(
            "service file",
            Status::Problem,
            format!("{} does not name a program to start", file.display()),
            Some("run `cargo lockwatch install` to rewrite it".into()),
        ),
    }
}

/// The check of the service as the service manager `st` describes it: loaded, running.
fn service_check(st: &ServiceState, setup: &Setup, f: &Facts) -> Check {
    let installed = f.installed.is_some();
    match (st.loaded, st.running) {
        (None, _) | (_, None) => unmanaged_service_check(st, installed, setup, f),
        (Some(_), Some(true)) => check("service", Status::Ok, st.detail.clone(), None),
        (Some(false), Some(false)) if !installed => check(
            "service",
            Status::Info,
            format!("not loaded ({})", st.detail),
            None,
        ),
        (Some(false), Some(false)) => check(
            "service",
            Status::Problem,
            format!("installed but not loaded ({})", st.detail),
            Some(format!("run `{}`", start_command(setup))),
        ),
        (Some(true), Some(false)) => check(
            "service",
            Status::Problem,
            format!("loaded but not running ({})", st.detail),
            Some(format!(
                "{}; a menu \"Quit\" stays quit until the next login, or run `{}`",
                logs_hint(setup),
                start_command(setup)
            )),
        ),
    }
}

/// The check of the service when no service manager could be asked: judged by whether a
/// daemon runs anyway, and whether a service file is `installed`.
fn unmanaged_service_check(st: &ServiceState, installed: bool, setup: &Setup, f: &Facts) -> Check {
    match &f.daemon {
        _ if f.busy.is_some() => check(
            "service",
            Status::Info,
            format!(
                "no service manager to ask: {}; the daemon runs (busy)",
                st.detail
            ),
            None,
        ),
        // An installed unit nobody takes up: this daemon was started by hand and
        // the next login starts none.
        Some(Ok(pid)) if installed => check(
            "service",
            Status::Warn,
            format!(
                "no service manager to ask: {}. The installed {} will not start the \
                 daemon at login; it runs now (pid {pid}), started some other way",
                st.detail,
                setup.manager.file_kind()
            ),
            Some(service::START_BY_HAND.into()),
        ),
        Some(Ok(pid)) => check(
            "service",
            Status::Info,
            format!(
                "no service manager to ask: {}; the daemon runs (pid {pid})",
                st.detail
            ),
            None,
        ),
        _ => check(
            "service",
            Status::Warn,
            format!(
                "{}: nothing can start the daemon at login from here",
                st.detail
            ),
            Some(service::START_BY_HAND.into()),
        ),
    }
}

/// The check of another login agent that also starts cargo-lockwatch.
fn other_agent_check(other: &Path) -> Check {
    check(
        "other agent",
        Status::Problem,
        format!("{} also starts cargo-lockwatch", other.display()),
        Some(
            "keep one: `brew services stop cargo-lockwatch` or `cargo lockwatch uninstall`".into(),
        ),
    )
}

/// The login agent starts the app bundle's copy of a binary: fine while it is this one.
fn bundle_copy_check(file: &Path, copy: &Path, setup: &Setup, f: &Facts) -> Check {
    match &f.bundle_copy_current {
        Some(Ok(true)) => check(
            "service file",
            Status::Ok,
            format!(
                "{} starts {}, the app bundle's copy of this binary",
                file.display(),
                copy.display()
            ),
            None,
        ),
        Some(Ok(false)) => check(
            "service file",
            Status::Warn,
            format!(
                "{} starts {}, an older copy than {}",
                file.display(),
                copy.display(),
                setup.binary.display()
            ),
            Some("run `cargo lockwatch install` again to refresh the app bundle".into()),
        ),
        Some(Err(e)) => check(
            "service file",
            Status::Warn,
            format!("{} starts {}: {e}", file.display(), copy.display()),
            Some("run `cargo lockwatch install` again to refresh the app bundle".into()),
        ),
        None => check(
            "service file",
            Status::Ok,
            format!("{} starts {}", file.display(), copy.display()),
            None,
        ),
    }
}

/// The check of the daemon socket: what is at the socket path, and who answers there.
fn socket_check(f: &Facts) -> Check {
    let sock = f.socket_path.display();
    // Not "no daemon runs … start one": starting one would be refused (review P, R18).
    if let Some(l) = &f.left_out {
        return check(
            "daemon socket",
            Status::Problem,
            format!("{}; every command scans directly", l.problem()),
            Some(format!(
                "`{}`: commands use the running daemon again at once, no restart needed",
                l.fix()
            )),
        );
    }
    if let Some(untrusted) = &f.untrusted {
        return untrusted_socket_check(untrusted);
    }
    if let Some(busy) = &f.busy {
        return busy_socket_check(busy);
    }
    match &f.socket {
        SocketFact::Socket => socket_there_check(f),
        _ if f.runtime_problem.is_some() => runtime_problem_check(f),
        SocketFact::Missing => missing_socket_check(f),
        SocketFact::NotSocket => check(
            "daemon socket",
            Status::Problem,
            format!("{sock} exists but is not a socket"),
            Some("remove it and start the daemon again".into()),
        ),
        SocketFact::Error(e) => check(
            "daemon socket",
            Status::Problem,
            format!("cannot examine {sock}: {e}"),
            Some("fix the permissions of the runtime directory (it should be yours, 0700)".into()),
        ),
    }
}

/// The check of a daemon socket (or its directory, or the process answering) that is not
/// this user's, `untrusted` saying why.
fn untrusted_socket_check(untrusted: &str) -> Check {
    check(
        "daemon socket",
        Status::Problem,
        untrusted.to_string(),
        Some(
            "until then every command scans directly; after removing it (or setting \
             LOCKWATCH_RUNTIME_DIR) start your daemon again"
                .into(),
        ),
    )
}

/// The check of a daemon that refused the connection because it serves its maximum of
/// clients, `busy` saying so.
fn busy_socket_check(busy: &str) -> Check {
    check(
        "daemon socket",
        Status::Warn,
        busy.to_string(),
        Some(
            "it runs, nothing to restart: try again in a moment; if it stays busy, close \
             the status-bar widgets or scripts that keep connections open, or raise \
             daemon.max_clients (`kill -HUP` the daemon to apply it)"
                .into(),
        ),
    )
}

/// The check of the daemon socket when a socket is there: who answers on it.
fn socket_there_check(f: &Facts) -> Check {
    let sock = f.socket_path.display();
    match &f.daemon {
        Some(Ok(pid)) if f.paused => check(
            "daemon socket",
            Status::Warn,
            format!(
                "{sock}: the daemon answers (pid {pid}), but its watching is paused: it sees \
                 nothing new, notifies nobody, and `status` scans by itself"
            ),
            Some("menu → untick Pause watching".into()),
        ),
        Some(Ok(pid)) => check(
            "daemon socket",
            Status::Ok,
            format!("{sock}: the daemon answers (pid {pid})"),
            None,
        ),
        // Stopped, not stuck: continuing it is the fix, not a restart.
        _ if f.stopped.is_some() => stopped_daemon_check(f),
        // Said before any advice to start a daemon, which would fail the same way.
        _ if f.runtime_problem.is_some() => runtime_problem_check(f),
        _ if f.stale_socket => check(
            "daemon socket",
            Status::Problem,
            format!("{sock} is left by a daemon that is gone (killed?): nothing listens on it"),
            Some(
                "start the daemon: `cargo lockwatch daemon` (it replaces the left-over socket)"
                    .into(),
            ),
        ),
        None => check("daemon socket", Status::Ok, sock.to_string(), None),
        Some(Err(e)) => check(
            "daemon socket",
            Status::Problem,
            format!("{sock} exists but no daemon answers: {e}"),
            Some(
                "restart the daemon: `cargo lockwatch daemon --stop`, then start it again \
                 (or log out and in when it runs at login)"
                    .into(),
            ),
        ),
    }
}

/// The check of the daemon socket when the daemon's process is stopped (SIGSTOP, Ctrl-Z).
fn stopped_daemon_check(f: &Facts) -> Check {
    let sock = f.socket_path.display();
    let pid = f.stopped.unwrap_or_default();
    check(
        "daemon socket",
        Status::Warn,
        format!(
            "{sock}: the daemon (pid {pid}) is stopped (SIGSTOP or Ctrl-Z): it watches \
             nothing and answers nothing, so every command waits for it, then scans by \
             itself"
        ),
        Some(format!("continue it: `kill -CONT {pid}`")),
    )
}

/// The check of the daemon socket when something would stop a daemon from listening here.
fn runtime_problem_check(f: &Facts) -> Check {
    check(
        "daemon socket",
        Status::Problem,
        format!(
            "no daemon can run here: {}",
            f.runtime_problem.clone().unwrap_or_default()
        ),
        Some(
            "set LOCKWATCH_RUNTIME_DIR=<a short directory of your own> where the daemon \
             starts and in your shells, then start it with `cargo lockwatch daemon`"
                .into(),
        ),
    )
}

/// The check of the daemon socket when nothing is at the socket path: no daemon runs.
fn missing_socket_check(f: &Facts) -> Check {
    let sock = f.socket_path.display();
    if f.installed.is_none() {
        return check(
            "daemon socket",
            Status::Info,
            format!(
                "no daemon runs for this runtime directory ({sock}): every command scans \
                 directly, and nothing notifies you of a stuck blocker"
            ),
            Some("start one with `cargo lockwatch daemon`".into()),
        );
    }
    check(
        "daemon socket",
        Status::Problem,
        format!("no socket at {sock}: the daemon is not running for this runtime directory"),
        Some(format!(
            "start it with `cargo lockwatch daemon`{}; if it runs, check that it sees the \
             same LOCKWATCH_RUNTIME_DIR / XDG_RUNTIME_DIR",
            match unmanaged(f) {
                None => " (or install the login service)",
                Some(_) => "",
            }
        )),
    )
}

/// The checks that do not depend on the service setup.
fn finish(mut out: Vec<Check>, f: &Facts) -> Vec<Check> {
    out.push(socket_check(f));
    out.extend(f.daemon_problems.iter().map(|p| daemon_problem_check(p)));
    out.extend(history_check(f));
    out.extend(lock_table_check(f));
    out.extend(config_checks(f));
    for w in &f.missing_dirs {
        let fix = missing_dir_fix(w);
        out.push(check("watched", Status::Warn, w.clone(), Some(fix.into())));
    }

    out.extend(f.guarded.iter().map(|g| privacy(g, f)));
    out.push(menu_bar(f));
    out.push(notifications(f));
    out
}

/// The check of something the daemon says it cannot do right now.
fn daemon_problem_check(problem: &str) -> Check {
    check(
        "daemon",
        Status::Problem,
        problem.to_string(),
        Some(
            "the daemon retries on its own and keeps the events meanwhile; this clears once a \
             write succeeds"
                .into(),
        ),
    )
}

/// The check of the history log, when a daemon could not write it and does not say so itself.
fn history_check(f: &Facts) -> Option<Check> {
    // Not a disk or permission matter: what stands there is said, with the variable (review
    // Y, Y8).
    if let Some(not_dir) = &f.data_dir {
        return Some(check(
            "history",
            Status::Problem,
            format!(
                "{}: no daemon can record holds and waits there",
                not_dir.problem()
            ),
            Some(not_dir.fix()),
        ));
    }
    // A daemon that runs into it says so itself (in the daemon problems).
    let said = (f.daemon_problems.iter()).any(|p| p.contains(&f.history.0.display().to_string()));
    let (file, Err(e)) = &f.history else {
        return None;
    };
    (!said).then(|| {
        check(
            "history",
            Status::Problem,
            format!(
                "{e}: the daemon could not record holds and waits in {}",
                file.display()
            ),
            Some(
                "make it writable for you, or point LOCKWATCH_DATA_DIR at a directory you can \
                 write"
                    .into(),
            ),
        )
    })
}

/// The check of the kernel's lock table, where there is one to read (Linux).
fn lock_table_check(f: &Facts) -> Option<Check> {
    match f.proc_locks.as_ref()? {
        Ok(()) => Some(check(
            "lock table",
            Status::Ok,
            "/proc/locks is readable".into(),
            None,
        )),
        Err(e) => Some(check(
            "lock table",
            Status::Problem,
            format!("cannot read /proc/locks: {e}"),
            Some("mount /proc (and do not hide it with hidepid) so locks can be seen".into()),
        )),
    }
}

/// The checks of the config: one that it is fine, or one per problem found loading it.
fn config_checks(f: &Facts) -> Vec<Check> {
    // What the daemon runs with, when not the file as it is (review X, X11).
    let daemon =
        (f.daemon_config_note.iter()).map(|note| check("config", Status::Warn, note.clone(), None));
    let file = f.config_file.display();
    if f.config_warnings.is_empty() {
        let detail = if f.config_file.exists() {
            format!("{file} is valid")
        } else {
            format!("defaults ({file} does not exist)")
        };
        return std::iter::once(check("config", Status::Ok, detail, None))
            .chain(daemon)
            .collect();
    }
    let fix = |w: &str| {
        if w.contains(" is a symlink to ") {
            format!(
                "point {file} at where the file is now (`ln -sf FILE {file}`), or remove the \
                 link to use the defaults"
            )
        } else {
            format!(
                "edit {file} or the LOCKWATCH_* variable named; `cargo lockwatch config` shows \
                 the effective values"
            )
        }
    };
    (f.config_warnings.iter())
        .map(|w| check("config", Status::Problem, w.clone(), Some(fix(w))))
        .chain(daemon)
        .collect()
}

/// What to do about a directory to watch that is not there (yet), by what the warning names:
/// a Cargo home appears once a cargo runs with it; a project does not.
fn missing_dir_fix(warning: &str) -> &'static str {
    let project = ["watch.projects entry ", "--project "];
    if project.iter().any(|p| warning.starts_with(p)) {
        "check the path for a typo and its permissions; name the project's root (where its \
         Cargo.toml is) or its target dir"
    } else {
        "check the path for a typo and its permissions; a Cargo home appears once a cargo runs \
         with it"
    }
}

/// A watched directory where macOS asks for consent before the login agent may open files, or
/// refuses them.
fn privacy(g: &Guarded, f: &Facts) -> Check {
    let app = match &f.setup {
        Ok(s) => crate::core::text::tilde(&s.app()),
        Err(_) => format!("~/Applications/{}", service::bundle::APP_NAME),
    };
    let elsewhere = match g.what {
        "Cargo home" => "set CARGO_HOME to a directory outside it",
        _ => "move the project out of it",
    };
    check(
        "privacy",
        Status::Warn,
        format!(
            "{} {} is in {}: macOS may ask before the login agent opens its lock files, or              refuse them (EPERM); its locks then show as held by a process you cannot inspect",
            g.what,
            crate::core::text::tilde(&g.path),
            g.place.describe()
        ),
        Some(format!(
            "grant Full Disk Access to {app} (System Settings → Privacy & Security → Full Disk              Access; `cargo lockwatch install` creates the app), or {elsewhere}"
        )),
    )
}

/// Where a setting that turned notifications off came from, in words.
fn disabled_by(from: Option<&crate::config::Provenance>) -> String {
    use crate::config::Provenance;
    match from {
        Some(Provenance::Env(name)) => format!("disabled by {name}"),
        Some(Provenance::Flag(flag)) => format!("disabled by {flag}"),
        Some(Provenance::File(path)) => format!("disabled in {}", crate::core::text::tilde(path)),
        _ => "disabled in the config".into(),
    }
}

fn notifications(f: &Facts) -> Check {
    if !f.notify_enabled {
        return check(
            "notifications",
            Status::Ok,
            f.notify_enabled_from.clone(),
            None,
        );
    }
    if cfg!(target_os = "macos") {
        macos_notifications(f)
    } else if f.dbus {
        check(
            "notifications",
            Status::Ok,
            "DBUS_SESSION_BUS_ADDRESS is set".into(),
            None,
        )
    } else if !f.gui {
        check(
            "notifications",
            Status::Info,
            "no desktop session here, so no desktop notifications; `status`, `wait` and the \
             history work as ever"
                .into(),
            None,
        )
    } else {
        check(
            "notifications",
            Status::Problem,
            "DBUS_SESSION_BUS_ADDRESS is not set: desktop notifications cannot be sent".into(),
            Some(
                "run inside a desktop session; for the systemd unit run `systemctl --user \
                 import-environment DBUS_SESSION_BUS_ADDRESS` from that session"
                    .into(),
            ),
        )
    }
}

/// macOS shows a notification as the app that sent it: the daemon needs a bundle.
fn macos_notifications(f: &Facts) -> Check {
    let agent_program = match (&f.setup, &f.installed) {
        (Ok(s), Some(Ok(text))) => s.installed_binary(text),
        _ => None,
    };
    if let Some(p) = agent_program.filter(|p| service::bundle::is_bundled(p)) {
        return check(
            "notifications",
            Status::Ok,
            format!("the login agent runs {} from an app bundle", p.display()),
            None,
        );
    }
    match &f.bundle_id {
        Some(id) => check(
            "notifications",
            Status::Ok,
            format!("running from an app bundle ({id})"),
            None,
        ),
        None => check(
            "notifications",
            Status::Warn,
            "this binary is not in an app bundle: a daemon started from it shows its \
             notifications as Terminal's, or macOS drops them"
                .into(),
            Some(
                "run `cargo lockwatch install`: it wraps the binary in \
                 ~/Applications/Cargo Lockwatch.app and starts that at login"
                    .into(),
            ),
        ),
    }
}

/// The menu bar icon: there or not, and why.
fn menu_bar(f: &Facts) -> Check {
    let (status, detail) = if f.ui.tray {
        (Status::Ok, format!("shown: {}", f.ui.why))
    } else {
        (
            Status::Info,
            format!("none, the daemon runs headless: {}", f.ui.why),
        )
    };
    check("menu bar", status, detail, None)
}

/// The width of `word   name           ` before a check's text.
const TEXT_INDENT: usize = 23;

/// `text` after a `lead` of [`TEXT_INDENT`] columns, wrapped at `width` under itself.
fn wrapped(lead: &str, text: &str, width: Option<usize>) -> String {
    let rest = " ".repeat(TEXT_INDENT);
    match width.filter(|w| *w > TEXT_INDENT + 20) {
        Some(w) => {
            let opts = textwrap::Options::new(w - TEXT_INDENT)
                .break_words(false)
                .word_separator(textwrap::WordSeparator::AsciiSpace);
            let lines = textwrap::wrap(text, opts);
            let mut out = String::new();
            for (i, l) in lines.iter().enumerate() {
                let _ = writeln!(out, "{}{l}", if i == 0 { lead } else { &rest });
            }
            out
        }
        None => format!("{lead}{text}\n"),
    }
}

/// The human report, wrapped at `width` (`None`: a pipe, unwrapped).
pub fn render(checks: &[Check], color: bool, width: Option<usize>) -> String {
    let mut s = String::new();
    for c in checks {
        let (word, code) = match c.status {
            Status::Ok => ("ok", "32"),
            Status::Warn => ("warn", "33"),
            Status::Problem => ("PROBLEM", "31;1"),
            Status::Info => ("info", "36"),
        };
        let word = format!("{word:<7}");
        let word = if color {
            format!("\x1b[{code}m{word}\x1b[0m")
        } else {
            word
        };
        s.push_str(&wrapped(
            &format!("{word} {:<14} ", c.name),
            &c.detail,
            width,
        ));
        if let Some(fix) = &c.fix {
            s.push_str(&wrapped(
                &" ".repeat(TEXT_INDENT),
                &format!("→ {fix}"),
                width,
            ));
        }
    }
    let _ = writeln!(s, "{}", summary(checks));
    s
}

/// The report's last line: "all is well" only when nothing is a problem or a warning.
fn summary(checks: &[Check]) -> String {
    let count = |status| checks.iter().filter(|c| c.status == status).count();
    let counted = |n: usize, one: &str| match n {
        1 => format!("1 {one}"),
        n => format!("{n} {one}s"),
    };
    match (count(Status::Problem), count(Status::Warn)) {
        (0, 0) => "all is well".into(),
        (0, w) => format!("no problem, {}", counted(w, "warning")),
        (p, 0) => counted(p, "problem"),
        (p, w) => format!("{}, {}", counted(p, "problem"), counted(w, "warning")),
    }
}

/// Runs `doctor`.
pub fn run(ctx: &Context, args: Args) -> i32 {
    let facts = Facts::gather(ctx, &mut SystemRunner);
    let checks = checks(&facts);
    let ok = checks.iter().all(|c| c.status != Status::Problem);
    let text = if args.json {
        #[derive(Serialize)]
        struct Doc<'a> {
            ok: bool,
            checks: &'a [Check],
        }
        match serde_json::to_string_pretty(&Doc {
            ok,
            checks: &checks,
        }) {
            Ok(j) => j + "\n",
            Err(e) => {
                crate::say!("cargo-lockwatch: error: cannot write JSON: {e}");
                return exit::ERROR;
            }
        }
    } else {
        render(&checks, ctx.color, super::terminal_width())
    };
    if super::print(&text).is_err() {
        return exit::ERROR;
    }
    if ok { exit::OK } else { exit::ERROR }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_turned_off_say_by_what() {
        use crate::config::Provenance;
        let env = Provenance::Env("LOCKWATCH_NOTIFY_ENABLED".into());
        assert_eq!(
            disabled_by(Some(&env)),
            "disabled by LOCKWATCH_NOTIFY_ENABLED"
        );
        let file = Provenance::File("/c/config.toml".into());
        assert_eq!(disabled_by(Some(&file)), "disabled in /c/config.toml");
        assert_eq!(disabled_by(None), "disabled in the config");
    }
    use crate::service::{LABEL, Label};

    fn setup(manager: Manager) -> Setup {
        Setup {
            manager,
            label: Label::parse(LABEL).unwrap(),
            binary: "/home/me/.cargo/bin/cargo-lockwatch".into(),
            home: "/home/me".into(),
            service_dir: "/home/me/agents".into(),
            environment: Vec::new(),
            uid: 1000,
            apps_dir: "/home/me/Applications".into(),
            under_our_agent: false,
        }
    }

    fn healthy(manager: Manager) -> Facts {
        let s = setup(manager);
        let installed = s.render().unwrap();
        Facts {
            setup: Ok(s),
            installed: Some(Ok(installed)),
            state: Some(ServiceState {
                loaded: Some(true),
                running: Some(true),
                detail: "enabled, active".into(),
            }),
            socket_path: "/run/user/1000/cargo-lockwatch/lockwatch.sock".into(),
            socket: SocketFact::Socket,
            daemon: Some(Ok(4242)),
            untrusted: None,
            busy: None,
            left_out: None,
            stale_socket: false,
            stopped: None,
            paused: false,
            runtime_problem: None,
            daemon_problems: vec![],
            proc_locks: Some(Ok(())),
            history: ("/d/history.jsonl".into(), Ok(())),
            data_dir: None,
            config_file: "/nonexistent/config.toml".into(),
            config_warnings: vec![],
            daemon_config_note: None,
            missing_dirs: vec![],
            notify_enabled: true,
            notify_enabled_from: String::new(),
            dbus: true,
            bundle_id: Some(LABEL.into()),
            other_agents: vec![],
            ui: crate::daemon::ui_mode(false, true, true),
            gui: true,
            bundle_copy_current: None,
            guarded: vec![],
        }
    }

    /// [`healthy`] under systemd, but with no service file and no unit loaded (a daemon still
    /// answers on the socket).
    fn not_installed() -> Facts {
        let mut f = healthy(Manager::Systemd);
        f.installed = None;
        f.state = Some(ServiceState {
            loaded: Some(false),
            running: Some(false),
            detail: "not-found, inactive".into(),
        });
        f
    }

    fn problems(checks: &[Check]) -> Vec<(&'static str, String)> {
        checks
            .iter()
            .filter(|c| c.status == Status::Problem)
            .map(|c| (c.name, c.detail.clone()))
            .collect()
    }

    #[test]
    fn healthy_setup_has_no_problem() {
        for m in [Manager::Systemd, Manager::Launchd] {
            let c = checks(&healthy(m));
            assert!(problems(&c).is_empty(), "{c:#?}");
            let names: Vec<_> = c.iter().map(|c| c.name).collect();
            assert_eq!(
                names,
                [
                    "binary",
                    "platform",
                    "service file",
                    "service",
                    "daemon socket",
                    "lock table",
                    "config",
                    "menu bar",
                    "notifications"
                ]
            );
            assert!(render(&c, false, None).ends_with("all is well\n"));
        }
    }

    /// A data directory the daemon could not write its history in is found before a daemon
    /// runs into it; once one has, its own problem says it (review M, N6).
    #[test]
    fn an_unwritable_data_directory_is_a_problem_before_the_daemon_finds_it() {
        let mut f = healthy(Manager::Systemd);
        f.history.1 = Err("cannot write /ro: Permission denied (os error 13)".into());
        let c = checks(&f);
        let p = problems(&c);
        assert_eq!(
            p.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            ["history"],
            "{c:#?}"
        );
        let h = c.iter().find(|c| c.name == "history").unwrap();
        assert!(
            h.detail.contains("cannot write /ro") && h.detail.contains("/d/history.jsonl"),
            "{h:?}"
        );
        assert!(
            h.fix
                .as_deref()
                .is_some_and(|f| f.contains("LOCKWATCH_DATA_DIR"))
        );
        f.daemon_problems = vec!["cannot write the history /d/history.jsonl: denied".into()];
        let c = checks(&f);
        assert!(!c.iter().any(|c| c.name == "history"), "{c:#?}");
        // Real directories: one this user may write, and a missing file under it.
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(writable(&dir.path().join("a/b/history.jsonl")), Ok(()));
    }

    /// A data directory that is a file is said with the variable and what to do, not as a
    /// disk or permission matter (review Y, Y8).
    #[test]
    fn a_data_directory_that_is_a_file_is_a_problem_with_its_fix() {
        let mut f = healthy(Manager::Systemd);
        f.data_dir = Some(crate::config::DataDirNotDir {
            data: "/tmp/afile".into(),
            found: "/tmp/afile".into(),
            from_variable: true,
        });
        let c = checks(&f);
        assert_eq!(
            problems(&c),
            [(
                "history",
                "LOCKWATCH_DATA_DIR=/tmp/afile is not a directory: no daemon can record holds \
                 and waits there"
                    .to_string()
            )]
        );
        let h = c.iter().find(|c| c.name == "history").unwrap();
        assert_eq!(
            h.fix.as_deref(),
            Some("move /tmp/afile aside, or set LOCKWATCH_DATA_DIR to a directory of your own")
        );
    }

    #[test]
    fn every_problem_says_what_to_do() {
        let mut f = not_installed();
        f.socket = SocketFact::Missing;
        f.proc_locks = Some(Err("Permission denied".into()));
        f.config_warnings = vec!["LOCKWATCH_STALE_SAMPLES=x is not a valid stale.samples".into()];
        f.missing_dirs =
            vec!["CARGO_HOME=/tmp/x does not exist (no cargo has run with it yet)".into()];
        f.dbus = false;
        f.bundle_id = None;
        let c = checks(&f);
        let p = problems(&c);
        let names: Vec<_> = p.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["lock table", "config", "notifications"], "{c:#?}");
        let watched = c.iter().find(|c| c.name == "watched").unwrap();
        assert_eq!(
            watched.status,
            Status::Warn,
            "a missing Cargo home is no problem"
        );
        assert!(watched.fix.as_deref().is_some_and(|f| f.contains("typo")));
        assert!(
            c.iter()
                .filter(|c| c.status == Status::Problem)
                .all(|c| c.fix.is_some())
        );
        let service = c.iter().find(|c| c.name == "service").unwrap();
        assert_eq!(
            service.status,
            Status::Info,
            "not installed and not loaded is consistent"
        );
        let text = render(&c, false, None);
        assert!(
            text.contains("→ to start it at login, run `cargo lockwatch install`"),
            "{text}"
        );
        assert!(text.ends_with("3 problems, 1 warning\n"), "{text}");
    }

    /// A missing project is not told that it appears once a cargo runs with it, as a Cargo
    /// home is (review K, L9).
    #[test]
    fn a_missing_project_and_a_missing_cargo_home_get_their_own_hints() {
        let mut f = healthy(Manager::Systemd);
        f.missing_dirs = vec![
            "watch.projects entry /src/app does not exist; it is watched in case it appears".into(),
            "--project /src/typo does not exist; it is watched in case it appears".into(),
            "watch.cargo_homes entry /h does not exist; it is watched in case it appears".into(),
        ];
        let fixes: Vec<String> = (checks(&f).into_iter())
            .filter(|c| c.name == "watched")
            .map(|c| c.fix.unwrap_or_default())
            .collect();
        assert_eq!(fixes.len(), 3, "{fixes:?}");
        for project in &fixes[..2] {
            assert!(!project.contains("Cargo home"), "{project}");
            assert!(project.contains("project's root"), "{project}");
        }
        assert!(fixes[2].contains("a Cargo home appears"), "{}", fixes[2]);
    }

    // The notifications line is platform-specific.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_fresh_machine_at_80_columns() {
        let mut f = not_installed();
        f.socket = SocketFact::Missing;
        f.daemon = None;
        f.ui = crate::daemon::ui_mode(false, false, true);
        let text = render(&checks(&f), false, Some(80));
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line:?}");
        }
        // The platform line names this machine's architecture: keep it out of the snapshot.
        let text = text.replace(std::env::consts::ARCH, "ARCH");
        insta::assert_snapshot!("doctor_80_fresh", text);
    }

    #[test]
    fn a_fresh_install_is_information_not_a_problem() {
        let mut f = not_installed();
        f.ui = crate::daemon::ui_mode(false, false, true);
        let c = checks(&f);
        assert!(problems(&c).is_empty(), "{c:#?}");
        let file = c.iter().find(|c| c.name == "service file").unwrap();
        assert_eq!(file.status, Status::Info);
        assert!(file.detail.starts_with("not installed"), "{file:?}");
        f.socket = SocketFact::Missing;
        f.daemon = None;
        let c = checks(&f);
        assert!(problems(&c).is_empty(), "{c:#?}");
        let sock = c.iter().find(|c| c.name == "daemon socket").unwrap();
        assert_eq!(sock.status, Status::Info, "{sock:?}");
        let bar = c.iter().find(|c| c.name == "menu bar").unwrap();
        assert_eq!(bar.status, Status::Info);
        assert!(bar.detail.contains("--features tray"), "{bar:?}");
        let text = render(&c, false, None);
        assert!(text.contains("info    service file"), "{text}");
        assert!(text.ends_with("all is well\n"), "{text}");
    }

    #[test]
    fn an_agent_running_the_app_bundle_copy_is_fine_while_current() {
        let mut f = healthy(Manager::Launchd);
        let mut bundled = setup(Manager::Launchd);
        bundled.binary = service::bundle::executable(&bundled.app());
        f.installed = Some(Ok(bundled.render().unwrap()));
        f.bundle_copy_current = Some(Ok(true));
        let c = checks(&f);
        assert!(problems(&c).is_empty(), "{c:#?}");
        let file = c.iter().find(|c| c.name == "service file").unwrap();
        assert_eq!(file.status, Status::Ok, "{file:?}");
        assert!(file.detail.contains("app bundle's copy"), "{file:?}");
        let note = macos_notifications(&Facts {
            bundle_id: None,
            ..f.clone()
        });
        assert_eq!(note.status, Status::Ok, "{note:?}");

        f.bundle_copy_current = Some(Ok(false));
        let file = checks(&f)
            .into_iter()
            .find(|c| c.name == "service file")
            .unwrap();
        assert_eq!(file.status, Status::Warn, "{file:?}");
        assert!(file.fix.unwrap().contains("install` again"));
    }

    #[test]
    fn watched_dirs_under_privacy_protection_warn_with_both_ways_out() {
        use crate::probe::tcc::Protected;
        let home = Path::new("/Users/me");
        let roots = [
            ("Cargo home", PathBuf::from("/Users/me/.cargo"), None),
            (
                "project",
                PathBuf::from("/Users/me/code/app"),
                Some(PathBuf::from("/Users/me/Documents/code/app")),
            ),
            ("project", PathBuf::from("/Volumes/Ext/app"), None),
            ("project", PathBuf::from("/Users/me/src/ok"), None),
        ];
        let g = guarded_roots(&roots, home);
        assert_eq!(
            g,
            vec![
                Guarded {
                    what: "project",
                    path: "/Users/me/code/app".into(),
                    place: Protected::Documents,
                },
                Guarded {
                    what: "project",
                    path: "/Volumes/Ext/app".into(),
                    place: Protected::Volume("Ext".into()),
                },
            ]
        );

        let mut f = healthy(Manager::Launchd);
        f.guarded = g;
        f.guarded.push(Guarded {
            what: "Cargo home",
            path: "/Users/me/Library/Mobile Documents/cargo".into(),
            place: Protected::ICloud,
        });
        let c = checks(&f);
        assert!(problems(&c).is_empty(), "a warning, not a problem: {c:#?}");
        let privacy: Vec<&Check> = c.iter().filter(|c| c.name == "privacy").collect();
        assert_eq!(privacy.len(), 3, "{c:#?}");
        assert!(privacy.iter().all(|c| c.status == Status::Warn));
        assert!(
            privacy[0].detail.contains("/Users/me/code/app")
                && privacy[0].detail.contains("Documents")
                && privacy[0].detail.contains("cannot inspect"),
            "{:?}",
            privacy[0]
        );
        let fix = privacy[0].fix.clone().unwrap();
        assert!(
            fix.contains("Full Disk Access")
                && fix.contains("Cargo Lockwatch.app")
                && fix.contains("move the project"),
            "{fix}"
        );
        assert!(privacy[2].fix.clone().unwrap().contains("CARGO_HOME"));
        assert!(privacy[2].detail.contains("iCloud Drive"));
    }

    #[test]
    fn macos_notifications_outside_a_bundle_warn_with_the_fix() {
        let mut f = healthy(Manager::Launchd);
        f.bundle_id = None;
        let note = macos_notifications(&f);
        assert_eq!(note.status, Status::Warn, "{note:?}");
        assert!(note.fix.unwrap().contains("Cargo Lockwatch.app"));
    }

    #[test]
    fn wrong_binary_and_stopped_service_are_problems() {
        let mut f = healthy(Manager::Systemd);
        let mut other = setup(Manager::Systemd);
        other.binary = "/src/p/target/debug/cargo-lockwatch".into();
        f.installed = Some(Ok(other.render().unwrap()));
        f.state = Some(ServiceState {
            loaded: Some(true),
            running: Some(false),
            detail: "enabled, failed".into(),
        });
        let c = checks(&f);
        let p = problems(&c);
        assert_eq!(p.len(), 2, "{c:#?}");
        assert!(p[0].1.contains("target/debug") && p[0].1.contains("not this binary"));
        assert!(p[1].1.contains("loaded but not running"));
        let fix = c[3].fix.as_deref().unwrap();
        assert!(
            fix.contains("journalctl --user -u cargo-lockwatch.service"),
            "{fix}"
        );

        f.state = Some(ServiceState {
            loaded: Some(false),
            running: Some(false),
            detail: "disabled, inactive".into(),
        });
        let c = checks(&f);
        assert_eq!(
            c[3].fix.as_deref(),
            Some("run `systemctl --user enable --now cargo-lockwatch.service`")
        );
    }

    #[test]
    fn dev_build_warns_and_no_manager_warns() {
        let mut f = healthy(Manager::Systemd);
        let mut s = setup(Manager::Systemd);
        s.binary = "/src/p/target/release/cargo-lockwatch".into();
        f.installed = Some(Ok(s.render().unwrap()));
        f.setup = Ok(s);
        f.state = Some(ServiceState {
            loaded: None,
            running: None,
            detail: "systemctl is not installed".into(),
        });
        let c = checks(&f);
        assert!(problems(&c).is_empty(), "{c:#?}");
        assert_eq!(c[0].status, Status::Warn);
        assert!(
            c[0].fix
                .as_deref()
                .unwrap()
                .contains("cargo install --path .")
        );
        // The daemon answers, but the installed unit starts nothing at the next login.
        assert_eq!(c[3].status, Status::Warn, "{:?}", c[3]);
        assert!(c[3].detail.contains("it runs now (pid 4242)"), "{:?}", c[3]);
        f.daemon = None;
        f.socket = SocketFact::Missing;
        let c = checks(&f);
        assert_eq!(c[3].status, Status::Warn);
        assert!(
            c[3].fix
                .as_deref()
                .unwrap()
                .contains("cargo lockwatch daemon")
        );
    }

    #[test]
    fn without_a_service_manager_install_is_not_the_advice_and_all_is_not_well() {
        // A container or a session without a systemd user instance, nothing set up yet.
        let mut f = healthy(Manager::Systemd);
        f.installed = None;
        f.state = Some(ServiceState {
            loaded: None,
            running: None,
            detail: "no systemd user instance answered (`systemctl --user show-environment`: \
                     Failed to connect to bus: No such file or directory)"
                .into(),
        });
        f.socket = SocketFact::Missing;
        f.daemon = None;
        let c = checks(&f);
        assert!(problems(&c).is_empty(), "{c:#?}");
        let file = c.iter().find(|c| c.name == "service file").unwrap();
        assert_eq!(file.fix, None, "install cannot start it here: {file:?}");
        let service = c.iter().find(|c| c.name == "service").unwrap();
        assert_eq!(service.status, Status::Warn, "{service:?}");
        assert!(
            service
                .detail
                .ends_with("nothing can start the daemon at login from here"),
            "{service:?}"
        );
        assert_eq!(service.fix.as_deref(), Some(service::START_BY_HAND));
        let text = render(&c, false, None);
        assert!(!text.contains("lockwatch install"), "{text}");
        assert!(text.ends_with("\nno problem, 1 warning\n"), "{text}");

        // The unit file is there but nobody takes it up: starting by hand is the advice.
        f.installed = Some(Ok(setup(Manager::Systemd).render().unwrap()));
        let c = checks(&f);
        let sock = c.iter().find(|c| c.name == "daemon socket").unwrap();
        assert_eq!(sock.status, Status::Problem);
        let fix = sock.fix.as_deref().unwrap();
        assert!(
            fix.contains("cargo lockwatch daemon") && !fix.contains("install"),
            "{fix}"
        );
        assert!(render(&c, false, None).ends_with("\n1 problem, 1 warning\n"));

        // A daemon started by hand runs now, but the unit starts nothing at the next login.
        f.socket = SocketFact::Socket;
        f.daemon = Some(Ok(77));
        let c = checks(&f);
        let service = c.iter().find(|c| c.name == "service").unwrap();
        assert_eq!(service.status, Status::Warn, "{service:?}");
        assert!(
            service
                .detail
                .contains("will not start the daemon at login")
                && service.detail.contains("it runs now (pid 77)"),
            "{service:?}"
        );
        assert_eq!(service.fix.as_deref(), Some(service::START_BY_HAND));
        assert!(render(&c, false, None).ends_with("\nno problem, 1 warning\n"));

        // Nothing installed and a daemon started by hand: nothing to do.
        f.installed = None;
        let c = checks(&f);
        assert!(
            render(&c, false, None).ends_with("\nall is well\n"),
            "{c:#?}"
        );
    }

    #[test]
    fn no_desktop_session_means_no_notifications_and_that_is_fine() {
        let mut f = healthy(Manager::Systemd);
        f.dbus = false;
        f.gui = false;
        let c = checks(&f);
        assert!(problems(&c).is_empty(), "{c:#?}");
        let n = c.iter().find(|c| c.name == "notifications").unwrap();
        assert_eq!(n.status, Status::Info, "{n:?}");
        f.gui = true;
        let c = checks(&f);
        let n = c.iter().find(|c| c.name == "notifications").unwrap();
        assert_eq!(
            n.status,
            Status::Problem,
            "a desktop without a session bus: {n:?}"
        );
    }

    #[test]
    fn a_socket_nobody_answers_on_is_a_problem() {
        let mut f = healthy(Manager::Systemd);
        f.daemon = Some(Err("the lockwatch daemon at x is unreachable".into()));
        let c = checks(&f);
        let p = problems(&c);
        assert_eq!(p.len(), 1, "{c:#?}");
        assert!(p[0].1.contains("no daemon answers"), "{p:?}");
        f.daemon = Some(Ok(7));
        let c = checks(&f);
        let sock = c.iter().find(|c| c.name == "daemon socket").unwrap();
        assert!(
            sock.detail.ends_with("the daemon answers (pid 7)"),
            "{sock:?}"
        );
    }

    #[test]
    fn a_stopped_or_paused_daemon_is_a_warning_with_its_fix_not_a_restart() {
        let mut f = healthy(Manager::Systemd);
        f.daemon = Some(Err("the lockwatch daemon (pid 7) is stopped".into()));
        f.stopped = Some(7);
        let c = checks(&f);
        assert!(problems(&c).is_empty(), "{c:#?}");
        let sock = c.iter().find(|c| c.name == "daemon socket").unwrap();
        assert_eq!(sock.status, Status::Warn, "{sock:?}");
        assert!(sock.detail.contains("(pid 7) is stopped"), "{sock:?}");
        assert_eq!(sock.fix.as_deref(), Some("continue it: `kill -CONT 7`"));
        let mut f = healthy(Manager::Systemd);
        f.paused = true;
        let c = checks(&f);
        assert!(problems(&c).is_empty(), "{c:#?}");
        let sock = c.iter().find(|c| c.name == "daemon socket").unwrap();
        assert_eq!(sock.status, Status::Warn, "{sock:?}");
        assert!(sock.detail.contains("its watching is paused"), "{sock:?}");
    }

    #[test]
    fn a_socket_nobody_listens_on_is_said_to_be_left_over() {
        let mut f = healthy(Manager::Systemd);
        f.daemon = None;
        f.stale_socket = true;
        let c = checks(&f);
        let p = problems(&c);
        assert_eq!(p.len(), 1, "{c:#?}");
        assert!(p[0].1.contains("left by a daemon that is gone"), "{p:?}");
        assert!(!p[0].1.contains("no socket"), "{p:?}");
    }

    #[test]
    fn an_impostor_socket_and_a_failing_history_are_problems() {
        let mut f = healthy(Manager::Systemd);
        f.daemon = None;
        f.untrusted = Some("/tmp/x belongs to uid 1001 (eve), not to you (uid 1000)".into());
        f.daemon_problems = vec!["cannot write the history /d/history.jsonl: disk full".into()];
        let c = checks(&f);
        let p = problems(&c);
        assert_eq!(p.len(), 2, "{c:#?}");
        assert!(p[0].1.contains("uid 1001 (eve)"), "{p:?}");
        assert_eq!(p[1].0, "daemon");
        assert!(p[1].1.contains("disk full"), "{p:?}");
    }

    /// A daemon left out by a runtime directory opened under it is named with the chmod that
    /// fixes it, not "no daemon runs … start one" (review P, R18).
    #[test]
    fn a_daemon_left_out_by_an_opened_runtime_dir_is_named_with_the_chmod() {
        let mut f = healthy(Manager::Systemd);
        f.daemon = None;
        f.socket = SocketFact::Missing;
        f.installed = None;
        f.left_out = Some(crate::daemon::trust::LeftOut {
            dir: "/tmp/rp/run".into(),
            mode: 0o755,
            socket: "/tmp/rp/run/lockwatch.sock".into(),
            pid: Some(31384),
        });
        let c = checks(&f);
        let sock = c.iter().find(|c| c.name == "daemon socket").unwrap();
        assert_eq!(sock.status, Status::Problem, "{c:#?}");
        assert!(
            sock.detail.contains("(pid 31384)") && sock.detail.contains("no longer private"),
            "{sock:?}"
        );
        assert!(!sock.detail.contains("no daemon runs"), "{sock:?}");
        let fix = sock.fix.as_deref().unwrap_or_default();
        assert!(fix.starts_with("`chmod 700 /tmp/rp/run`"), "{fix}");
    }

    #[test]
    fn a_busy_daemon_is_a_warning_not_a_restart() {
        let mut f = healthy(Manager::Systemd);
        f.daemon = None;
        f.busy = Some(
            "the lockwatch daemon (pid 7) is busy: 64 clients are connected \
             (daemon.max_clients); try again, or raise max_clients in /c/config.toml"
                .into(),
        );
        let c = checks(&f);
        assert!(problems(&c).is_empty(), "{c:#?}");
        let sock = c.iter().find(|c| c.name == "daemon socket").unwrap();
        assert_eq!(sock.status, Status::Warn, "{sock:?}");
        assert!(sock.detail.contains("is busy"), "{sock:?}");
        let fix = sock.fix.as_deref().unwrap();
        assert!(
            !fix.contains("--stop") && fix.contains("max_clients"),
            "{fix}"
        );
    }

    #[test]
    fn a_runtime_dir_no_daemon_can_use_is_a_problem_before_any_start_advice() {
        for installed in [false, true] {
            let mut f = healthy(Manager::Systemd);
            if !installed {
                f.installed = None;
            }
            f.socket = SocketFact::Missing;
            f.daemon = None;
            f.runtime_problem = Some(
                "the socket path /very/long/lockwatch.sock is 130 bytes long, but a Unix \
                 socket path must be shorter than 108 bytes on linux"
                    .into(),
            );
            let c = checks(&f);
            let sock = c.iter().find(|c| c.name == "daemon socket").unwrap();
            assert_eq!(sock.status, Status::Problem, "{sock:?}");
            assert!(sock.detail.contains("130 bytes"), "{sock:?}");
            let fix = sock.fix.as_deref().unwrap();
            assert!(
                fix.starts_with("set LOCKWATCH_RUNTIME_DIR=<a short directory of your own>"),
                "{fix}"
            );
        }
        // A daemon that answers shows the directory works, whatever was guessed.
        let mut f = healthy(Manager::Systemd);
        f.runtime_problem = Some("cannot prepare the runtime directory".into());
        assert!(problems(&checks(&f)).is_empty());
    }

    #[test]
    fn a_config_symlink_to_nothing_says_to_repoint_it() {
        let mut f = healthy(Manager::Systemd);
        f.config_file = "/home/me/.config/cargo-lockwatch/config.toml".into();
        f.config_warnings = vec![
            "/home/me/.config/cargo-lockwatch/config.toml is a symlink to /gone/x, which does \
             not exist; defaults apply"
                .into(),
        ];
        let c = checks(&f);
        let config = c.iter().find(|c| c.name == "config").unwrap();
        assert_eq!(config.status, Status::Problem, "{config:?}");
        assert!(config.detail.contains("/gone/x"), "{config:?}");
        assert!(
            config.fix.as_deref().unwrap().contains("ln -sf"),
            "{config:?}"
        );
    }

    #[test]
    fn socket_facts() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s.sock");
        assert_eq!(socket_fact(&sock), SocketFact::Missing);
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert_eq!(socket_fact(&sock), SocketFact::Socket);
        let file = dir.path().join("plain");
        std::fs::write(&file, "").unwrap();
        assert_eq!(socket_fact(&file), SocketFact::NotSocket);
    }

    #[test]
    fn unsupported_platform_is_a_problem() {
        let mut f = healthy(Manager::Systemd);
        f.setup = Err("starting at login is not supported on plan9".into());
        let c = checks(&f);
        assert_eq!(
            problems(&c)[1].1,
            "starting at login is not supported on plan9"
        );
    }
}
