//! Helpers for real-process tests, in the spirit of ripgrep's `tests/util.rs`: a unique temp
//! directory per test with its own Cargo home, a `TestCommand` that runs the built
//! `cargo-lockwatch status --json` and parses its answer, a `Proc` guard that kills and reaps
//! every process a test started, and polling helpers that wait for the kernel to show a state.
//!
//! Tests never touch the machine's `~/.cargo`: every cargo they start gets `CARGO_HOME` inside
//! the test's temp dir (rustup still finds its toolchain through `PATH` and `RUSTUP_HOME`).

#![allow(
    dead_code,
    reason = "shared by several test binaries; each uses a subset"
)]

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub mod daemon;

use lockwatch::core::catalog::LockKind;
use lockwatch::core::model::{IncidentReport, LockReport, Report};

/// How long a poll waits for the kernel to show a state before the test fails.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(30);

/// Polls `pred` until it holds; fails the test when [`POLL_TIMEOUT`] passes first.
pub fn eventually(what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + POLL_TIMEOUT;
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The build locks a cargo may hold on a target directory, across cargo versions.
pub const BUILD_KINDS: [LockKind; 3] = [
    LockKind::BuildDirectory,
    LockKind::ProfileDirectory,
    LockKind::ArtifactDirectory,
];

/// Real-process tests in one binary run one at a time: a stopped or stale holder started by one
/// test would otherwise change the exit code another test checks, and parallel cargo builds on a
/// small machine only make every test slower.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Environment variables that must not leak from the outer `cargo test` into a cargo or a
/// lockwatch the test starts (build configuration, jobserver, proxies, lockwatch config).
fn scrubbed(name: &str) -> bool {
    name.starts_with("CARGO")
        || name.starts_with("LOCKWATCH_")
        || name.starts_with("RUSTC")
        || matches!(
            name,
            "RUSTFLAGS"
                | "RUSTDOCFLAGS"
                | "MAKEFLAGS"
                | "MFLAGS"
                | "http_proxy"
                | "https_proxy"
                | "HTTP_PROXY"
                | "HTTPS_PROXY"
                | "all_proxy"
                | "ALL_PROXY"
                | "NO_COLOR"
        )
}

fn scrub_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_none_or(scrubbed) {
            cmd.env_remove(k);
        }
    }
}

/// A unique temp directory for one test, with a Cargo home inside it.
pub struct Dir {
    _tmp: tempfile::TempDir,
    /// Canonical root of the temp dir (lockwatch reports canonical paths).
    pub root: PathBuf,
    /// `$CARGO_HOME` for everything this test starts.
    pub cargo_home: PathBuf,
}

impl Dir {
    /// A fresh directory; `name` appears in it to tell tests apart when debugging.
    pub fn new(name: &str) -> Dir {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("lockwatch-{name}-"))
            .tempdir()
            .expect("create temp dir");
        let root = tmp.path().canonicalize().expect("canonical temp dir");
        let cargo_home = root.join("cargo-home");
        fs::create_dir_all(&cargo_home).expect("create CARGO_HOME");
        Dir {
            _tmp: tmp,
            root,
            cargo_home,
        }
    }

    /// A path inside the temp dir.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes a file (creating parent directories) inside the temp dir; returns its path.
    pub fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let p = self.root.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("create parent dir");
        }
        fs::write(&p, contents).expect("write file");
        p
    }

    /// A real `cargo` with this test's `CARGO_HOME`, run in `dir`.
    pub fn cargo(&self, dir: &Path) -> Command {
        // The toolchain's own cargo (cargo tells tests where it is), so the pid we start is the
        // pid that locks, with no rustup proxy in between.
        let bin = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let mut cmd = Command::new(bin);
        scrub_env(&mut cmd);
        cmd.env("CARGO_HOME", &self.cargo_home)
            .env("CARGO_TERM_COLOR", "never")
            .current_dir(dir);
        if let Some(rustup_home) = rustup_home() {
            cmd.env("RUSTUP_HOME", rustup_home);
        }
        cmd
    }

    /// Any other program, with the scrubbed environment and this test's `CARGO_HOME`.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        scrub_env(&mut cmd);
        cmd.env("CARGO_HOME", &self.cargo_home)
            .current_dir(&self.root);
        cmd
    }

    /// `cargo-lockwatch status --json` against this test's `CARGO_HOME`.
    pub fn lockwatch(&self) -> TestCommand {
        TestCommand::new(self, &self.cargo_home)
    }

    /// Starts a process in its own process group; it is killed and reaped when the guard drops.
    pub fn spawn(&self, name: &str, cmd: &mut Command) -> Proc {
        let log = self.root.join(format!("{name}.log"));
        let out = fs::File::create(&log).expect("create log");
        let err = out.try_clone().expect("clone log");
        self.spawn_to(name, cmd, Stdio::from(out), Stdio::from(err))
    }

    /// [`Dir::spawn`] with stdout and stderr going where the test says (a pipe it closes);
    /// `output()` then reads `NAME.log` only if the test writes one.
    pub fn spawn_to(&self, name: &str, cmd: &mut Command, out: Stdio, err: Stdio) -> Proc {
        let log = self.root.join(format!("{name}.log"));
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Proc {
            pid: child.id(),
            child: Some(child),
            name: name.to_string(),
            log,
        }
    }
}

fn rustup_home() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("RUSTUP_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(h));
    }
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty())?;
    let p = PathBuf::from(home).join(".rustup");
    p.is_dir().then_some(p)
}

/// A process a test started, leader of its own process group. Dropping it resumes, kills
/// (SIGKILL) and reaps the whole group: the process and anything it started (rustc, build
/// scripts, a background `sleep`), and nothing else.
pub struct Proc {
    /// Process id (also the process group id).
    pub pid: u32,
    child: Option<std::process::Child>,
    name: String,
    log: PathBuf,
}

impl Proc {
    fn signal_group(&self, sig: libc::c_int) {
        // The child is never reaped before drop (except by `wait_exit`, after which its group
        // is only signalled if members remain), so its pid (and group id) cannot be reused by
        // an unrelated process while this guard exists.
        // SAFETY: killpg only sends a signal; the group is the one this test created.
        unsafe {
            libc::killpg(self.pid as libc::pid_t, sig);
        }
    }

    /// Suspends the process (SIGSTOP), like Ctrl-Z.
    pub fn stop(&self) {
        // SAFETY: kill only sends a signal, to a child this test started and has not reaped.
        let rc = unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGSTOP) };
        assert_eq!(rc, 0, "SIGSTOP {}", self.pid);
    }

    /// Continues the process (SIGCONT), like `fg` after Ctrl-Z.
    pub fn cont(&self) {
        // SAFETY: kill only sends a signal, to a child this test started and has not reaped.
        let rc = unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGCONT) };
        assert_eq!(rc, 0, "SIGCONT {}", self.pid);
    }

    /// Suspends the whole process group (SIGSTOP), as Ctrl-Z does to a foreground job.
    pub fn stop_group(&self) {
        self.signal_group(libc::SIGSTOP);
    }

    /// Waits up to [`POLL_TIMEOUT`] for the process to exit; its exit code (-1 if killed by a
    /// signal). Panics, describing it, if it does not exit. The exited process is left
    /// unreaped (`WNOWAIT`), so its pid and group id stay reserved until the guard drops.
    pub fn wait_exit(&mut self) -> i32 {
        let start = Instant::now();
        loop {
            // SAFETY: `info` is a zeroed siginfo_t that waitid fills in; WNOWAIT leaves the
            // child waitable, so the guard still reaps it on drop.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let rc = unsafe {
                libc::waitid(
                    libc::P_PID,
                    self.pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                )
            };
            // SAFETY: si_pid/si_status are valid to read for a WEXITED report.
            if rc == 0 && unsafe { info.si_pid() } != 0 {
                return match info.si_code {
                    libc::CLD_EXITED => unsafe { info.si_status() },
                    _ => -1,
                };
            }
            assert!(
                start.elapsed() < POLL_TIMEOUT,
                "{} did not exit: {}",
                self.name,
                self.describe()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Resumes the process (SIGCONT).
    pub fn resume(&self) {
        // SAFETY: as in `stop`.
        let rc = unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGCONT) };
        assert_eq!(rc, 0, "SIGCONT {}", self.pid);
    }

    /// The scheduler state letter from `/proc/PID/stat` (`Z` once it exited, as it is not
    /// reaped before drop).
    pub fn state(&self) -> char {
        proc_state(self.pid).unwrap_or('?')
    }

    /// What the process printed so far (stdout and stderr), for failure messages.
    pub fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A one-line description for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "{} (pid {}, state {}): {}",
            self.name,
            self.pid,
            self.state(),
            self.output().trim()
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.signal_group(libc::SIGCONT);
        self.signal_group(libc::SIGKILL);
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The state letter of any process, from `/proc/PID/stat`.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().next()?.chars().next()
}

/// Whether a terminal controls `pid` (`tty_nr`, the 7th field of `/proc/PID/stat`, not 0).
pub fn has_controlling_tty(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let after = stat.rfind(')').map_or("", |at| &stat[at + 1..]);
    after
        .split_whitespace()
        .nth(4)
        .is_some_and(|tty| tty != "0")
}

/// Polls `/proc/locks` (raw, as a cross-check independent of lockwatch) until `pred` holds.
pub fn wait_proc_locks(what: &str, pred: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let text = fs::read_to_string("/proc/locks").expect("read /proc/locks");
        if pred(&text) {
            return text;
        }
        assert!(
            start.elapsed() < POLL_TIMEOUT,
            "timed out waiting for {what}; /proc/locks:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Inode of a file.
pub fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .ino()
}

/// Runs the built `cargo-lockwatch status --json` in the test's temp dir (not inside any
/// project), with the test's `CARGO_HOME` and a private lockwatch config dir.
pub struct TestCommand {
    cmd: Command,
}

impl TestCommand {
    fn new(dir: &Dir, cargo_home: &Path) -> TestCommand {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-lockwatch"));
        scrub_env(&mut cmd);
        let private = dir.root.join("lockwatch");
        cmd.env("CARGO_HOME", cargo_home)
            .env("LOCKWATCH_CONFIG_DIR", private.join("config"))
            .env("LOCKWATCH_DATA_DIR", private.join("data"))
            .env("LOCKWATCH_RUNTIME_DIR", private.join("run"))
            .env("NO_COLOR", "1")
            .current_dir(&dir.root)
            .stdin(Stdio::null());
        TestCommand { cmd }
    }

    /// Points `CARGO_HOME` somewhere else (e.g. a directory that does not exist).
    pub fn cargo_home(mut self, path: &Path) -> TestCommand {
        self.cmd.env("CARGO_HOME", path);
        self
    }

    /// Sets an environment variable for the run.
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> TestCommand {
        self.cmd.env(key, value);
        self
    }

    /// Runs in `dir` instead of the test's temp dir.
    pub fn current_dir(mut self, dir: &Path) -> TestCommand {
        self.cmd.current_dir(dir);
        self
    }

    /// Runs `status` with extra arguments and returns the raw output.
    pub fn run_raw(&mut self, args: &[&str]) -> RawOutput {
        self.cmd.arg("status");
        self.run(args)
    }

    /// Runs `cargo-lockwatch ARGS…` and returns the raw output.
    pub fn run(&mut self, args: &[&str]) -> RawOutput {
        let out = self.cmd.args(args).output().expect("run cargo-lockwatch");
        RawOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs `status --json` and parses the report.
    pub fn status(mut self) -> Status {
        let raw = self.run_raw(&["--json"]);
        let json: serde_json::Value = serde_json::from_str(&raw.stdout).unwrap_or_else(|e| {
            panic!(
                "status --json printed no JSON ({e}); exit {}\nstdout:\n{}\nstderr:\n{}",
                raw.code, raw.stdout, raw.stderr
            )
        });
        let report: Report = serde_json::from_value(json.clone())
            .unwrap_or_else(|e| panic!("status JSON does not match the model: {e}\n{json:#}"));
        Status { raw, json, report }
    }
}

/// What a lockwatch run printed.
#[derive(Debug, Clone)]
pub struct RawOutput {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// One parsed `status --json` answer.
#[derive(Debug, Clone)]
pub struct Status {
    /// The process output.
    pub raw: RawOutput,
    /// The JSON as printed.
    pub json: serde_json::Value,
    /// The JSON as the model reads it.
    pub report: Report,
}

impl Status {
    /// The exit code.
    pub fn code(&self) -> i32 {
        self.raw.code
    }

    /// Locks whose path lies under `dir` (the machine may have other cargos running).
    pub fn locks_under(&self, dir: &Path) -> Vec<&LockReport> {
        self.report
            .locks
            .iter()
            .filter(|l| l.path.starts_with(dir))
            .collect()
    }

    /// The live (not deleted) lock at exactly `path`.
    pub fn lock(&self, path: &Path) -> Option<&LockReport> {
        self.report
            .locks
            .iter()
            .find(|l| l.path == path && !l.deleted)
    }

    /// Whether `pid` is listed as a holder of the lock at `path`.
    pub fn holds(&self, path: &Path, pid: u32) -> bool {
        self.report
            .locks
            .iter()
            .any(|l| l.path == path && l.holders.iter().any(|h| h.pid == pid))
    }

    /// Whether `pid` is listed as waiting for the lock at `path`.
    pub fn waits(&self, path: &Path, pid: u32) -> bool {
        self.report
            .locks
            .iter()
            .any(|l| l.path == path && l.waiters.iter().any(|w| w.pid == pid))
    }

    /// The incident whose blocker is `pid`.
    pub fn incident_of(&self, pid: u32) -> Option<&IncidentReport> {
        self.report
            .incidents
            .iter()
            .find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == pid))
    }

    /// The pids of every holder and waiter in the report.
    pub fn pids(&self) -> HashSet<u32> {
        self.report
            .locks
            .iter()
            .flat_map(|l| {
                l.holders
                    .iter()
                    .map(|h| h.pid)
                    .chain(l.waiters.iter().map(|w| w.pid))
            })
            .collect()
    }

    /// Pretty JSON for failure messages.
    pub fn pretty(&self) -> String {
        format!(
            "exit {}\n{:#}\nstderr:\n{}",
            self.raw.code, self.json, self.raw.stderr
        )
    }
}

/// Runs `status --json` until `pred` holds, for up to [`POLL_TIMEOUT`]; returns that status.
/// `procs` are described in the failure message.
pub fn wait_status(
    dir: &Dir,
    what: &str,
    procs: &[&Proc],
    pred: impl Fn(&Status) -> bool,
) -> Status {
    let start = Instant::now();
    loop {
        let s = dir.lockwatch().status();
        if pred(&s) {
            return s;
        }
        if start.elapsed() > POLL_TIMEOUT {
            let who: Vec<String> = procs.iter().map(|p| p.describe()).collect();
            let locks = fs::read_to_string("/proc/locks").unwrap_or_default();
            panic!(
                "timed out after {POLL_TIMEOUT:?} waiting for {what}\nprocesses:\n{}\n\
                 /proc/locks:\n{locks}\nlast status:\n{}",
                who.join("\n"),
                s.pretty()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until status names `pid` as a holder of `path`.
pub fn wait_holder(dir: &Dir, path: &Path, pid: u32, procs: &[&Proc]) -> Status {
    wait_status(
        dir,
        &format!("pid {pid} holding {}", path.display()),
        procs,
        |s| s.holds(path, pid),
    )
}

/// A `flock -x PATH true` waiting behind `holder`, and the status that first sees it wait.
pub fn waiter_behind(dir: &Dir, path: &Path, holder: &Proc) -> (Proc, Status) {
    let mut cmd = dir.command("flock");
    cmd.arg("-x").arg(path).arg("true");
    let waiter = dir.spawn("waiter", &mut cmd);
    let s = wait_status(dir, "the waiter", &[holder, &waiter], |s| {
        s.waits(path, waiter.pid)
    });
    (waiter, s)
}

/// A loopback HTTP "registry" that accepts every connection and never answers, like a hung
/// network fetch. Nothing leaves 127.0.0.1.
pub struct HangServer {
    /// The port it listens on.
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HangServer {
    /// Starts listening on 127.0.0.1 with a free port.
    pub fn start() -> HangServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("hang-server".into())
            .spawn(move || {
                let mut held: Vec<TcpStream> = Vec::new();
                let mut sink = [0u8; 4096];
                while !flag.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((s, _)) => {
                            let _ = s.set_nonblocking(true);
                            held.push(s);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                    // Drain requests so clients never block on a full buffer; never reply.
                    for s in &mut held {
                        let _ = s.read(&mut sink);
                    }
                }
                drop(held);
            })
            .expect("spawn hang server");
        HangServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HangServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Writes a dependency-free binary project whose build script creates `<marker>.started`, then
/// sleeps until `marker` exists (at most 60 s); returns the project dir.
pub fn sleepy_project(dir: &Dir, name: &str, marker: &Path) -> PathBuf {
    let base = name.to_string();
    dir.write(
        &format!("{base}/Cargo.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"
        ),
    );
    dir.write(&format!("{base}/src/main.rs"), "fn main() {}\n");
    dir.write(
        &format!("{base}/build.rs"),
        &format!(
            "fn main() {{\n    \
             let marker = std::path::Path::new({marker:?});\n    \
             std::fs::write({started:?}, \"\").unwrap();\n    \
             for _ in 0..600 {{\n        \
             if marker.exists() {{ break; }}\n        \
             std::thread::sleep(std::time::Duration::from_millis(100));\n    \
             }}\n}}\n",
            started = started_file(marker),
        ),
    );
    dir.path(&base)
}

/// The file a sleepy build script creates when it starts running.
pub fn started_file(marker: &Path) -> PathBuf {
    let mut name = marker.as_os_str().to_owned();
    name.push(".started");
    PathBuf::from(name)
}

/// Waits until `path` exists.
pub fn wait_file(path: &Path, procs: &[&Proc]) {
    let start = Instant::now();
    while !path.exists() {
        if start.elapsed() > POLL_TIMEOUT {
            let who: Vec<String> = procs.iter().map(|p| p.describe()).collect();
            panic!(
                "timed out waiting for {}\n{}",
                path.display(),
                who.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Creates `path` (an empty file, like the markers that end build-script sleeps).
pub fn touch(path: &Path) {
    fs::write(path, "").expect("touch marker");
}

/// Writes `app`, a project without dependencies that `cargo generate-lockfile --offline` can
/// lock; returns its dir.
pub fn app_project(dir: &Dir) -> PathBuf {
    let manifest = dir.write(
        "app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    dir.write("app/src/main.rs", "fn main() {}\n");
    manifest.parent().unwrap().to_path_buf()
}

/// Starts `cargo generate-lockfile --offline` in `project`: it takes only the package cache,
/// so it waits (in cargo's "Blocking waiting for file lock") while that is held.
pub fn lockfile_cargo(dir: &Dir, project: &Path, name: &str) -> Proc {
    let mut cmd = dir.cargo(project);
    cmd.args(["generate-lockfile", "--offline"]);
    dir.spawn(name, &mut cmd)
}

/// A project that depends on one crate from the `hang` registry.
pub fn hung_project(dir: &Dir, server: &HangServer) -> std::path::PathBuf {
    dir.write(
        "cargo-home/config.toml",
        &format!(
            "[registries.hang]\nindex = \"sparse+http://127.0.0.1:{}/\"\n\n\
             [net]\nretry = 0\n\n[http]\ntimeout = 600\n",
            server.port
        ),
    );
    dir.write(
        "hung/Cargo.toml",
        "[package]\nname = \"hung\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nfoo = { version = \"1\", registry = \"hang\" }\n\n[workspace]\n",
    );
    dir.write("hung/src/main.rs", "fn main() {}\n");
    dir.path("hung")
}

/// Starts `cargo generate-lockfile` against the hung registry and waits until status names it
/// as the holder of `$CARGO_HOME/.package-cache`.
pub fn start_hung_cargo(dir: &Dir, project: &Path, name: &str) -> Proc {
    let cargo = dir.spawn(name, dir.cargo(project).arg("generate-lockfile"));
    wait_holder(
        dir,
        &dir.cargo_home.join(".package-cache"),
        cargo.pid,
        &[&cargo],
    );
    cargo
}

/// Waits until a process's output contains `text` (cargo's own account of what it does).
pub fn wait_output(p: &Proc, text: &str) {
    let start = std::time::Instant::now();
    while !p.output().contains(text) {
        assert!(
            start.elapsed() < POLL_TIMEOUT,
            "timed out waiting for {text:?} from {}",
            p.describe()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
