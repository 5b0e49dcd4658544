//! A daemon started for one test, with its own config, socket, data dir and CARGO_HOME, and
//! fast thresholds so stale verdicts come in seconds.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lockwatch::core::model::{LockState, Report};
use lockwatch::daemon::client::Client;
use lockwatch::daemon::protocol::{Request, Response};

use super::{Dir, POLL_TIMEOUT, Proc};

/// A daemon started for one test, with fast thresholds so stale verdicts come in seconds.
pub struct Daemon {
    /// The daemon process.
    pub proc: Proc,
    /// Its socket.
    pub socket: PathBuf,
    /// The environment it and its CLI get.
    pub env: Vec<(String, String)>,
}

/// The environment of a test daemon: private dirs, this test's CARGO_HOME, fast thresholds.
pub fn daemon_env(dir: &Dir) -> Vec<(String, String)> {
    let private = dir.root.join("lockwatch");
    [
        ("CARGO_HOME", dir.cargo_home.display().to_string()),
        (
            "LOCKWATCH_CONFIG_DIR",
            private.join("config").display().to_string(),
        ),
        (
            "LOCKWATCH_DATA_DIR",
            private.join("data").display().to_string(),
        ),
        (
            "LOCKWATCH_RUNTIME_DIR",
            private.join("run").display().to_string(),
        ),
        ("LOCKWATCH_WATCH_POLL_INTERVAL", "200ms".into()),
        ("LOCKWATCH_STALE_SAMPLE_INTERVAL", "200ms".into()),
        ("LOCKWATCH_STALE_SAMPLES", "2".into()),
        ("LOCKWATCH_STALE_STOPPED_GRACE", "1s".into()),
        ("LOCKWATCH_STALE_STALE_AFTER", "3s".into()),
        ("LOCKWATCH_STALE_IDLE_CHILD_AFTER", "3s".into()),
        ("LOCKWATCH_STALE_IDLE_WINDOW", "2s".into()),
        ("LOCKWATCH_NOTIFY_ENABLED", "false".into()),
        ("NO_COLOR", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

impl Daemon {
    /// Starts a headless daemon and waits until it answers.
    pub fn start(dir: &Dir, name: &str) -> Daemon {
        Daemon::start_with(dir, name, &[])
    }

    /// [`Daemon::start`] with extra environment (e.g. `LOCKWATCH_DAEMON_*` limits).
    pub fn start_with(dir: &Dir, name: &str, extra: &[(&str, &str)]) -> Daemon {
        let mut env = daemon_env(dir);
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut cmd = dir.command(env!("CARGO_BIN_EXE_cargo-lockwatch"));
        cmd.args(["daemon", "--headless", "--kill-grace", "5s"])
            .envs(env.iter().map(|(k, v)| (k, v)));
        let proc = dir.spawn(name, &mut cmd);
        let socket = dir.root.join("lockwatch/run/lockwatch.sock");
        let d = Daemon { proc, socket, env };
        d.client();
        d
    }

    /// A greeted connection (waits for the daemon to come up).
    pub fn client(&self) -> Client {
        let deadline = Instant::now() + POLL_TIMEOUT;
        loop {
            match Client::connect(&self.socket, Duration::from_secs(5)) {
                Ok(c) => return c,
                Err(e) if Instant::now() > deadline => {
                    panic!("daemon never answered: {e}\n{}", self.proc.describe())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// The daemon's current snapshot (what the tray draws).
    pub fn snapshot(&self) -> lockwatch::ui::UiSnapshot {
        match self.client().request(&Request::Status).expect("status") {
            Response::Snapshot(s) => *s,
            other => panic!("unexpected reply {other:?}"),
        }
    }

    /// The daemon's current report.
    pub fn report(&self) -> Report {
        match self.client().request(&Request::Status).expect("status") {
            Response::Snapshot(s) => s.report,
            other => panic!("unexpected reply {other:?}"),
        }
    }

    /// Polls the daemon's report until `pred` holds.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&Report) -> bool) -> Report {
        let deadline = Instant::now() + POLL_TIMEOUT;
        loop {
            let r = self.report();
            if pred(&r) {
                return r;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; last report:\n{}\n{}",
                    serde_json::to_string_pretty(&r).unwrap(),
                    self.proc.describe()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The CLI, talking to this daemon.
    pub fn cli(&self, dir: &Dir, args: &[&str]) -> (i32, String) {
        let out = dir
            .command(env!("CARGO_BIN_EXE_cargo-lockwatch"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run cli");
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

/// The held (not free) lock at `path`.
pub fn holder_of<'a>(r: &'a Report, path: &Path) -> Option<&'a lockwatch::core::model::LockReport> {
    r.locks
        .iter()
        .find(|l| l.path == path && l.state != LockState::Free)
}

/// `flock -x FILE sleep 600` started by the test.
pub fn flock_holder(dir: &Dir, name: &str, file: &Path) -> Proc {
    dir.spawn(
        name,
        dir.command("flock")
            .arg("-x")
            .arg(file)
            .args(["sleep", "600"]),
    )
}

/// `flock -x FILE true` started by the test: it waits while FILE is held, then exits.
pub fn flock_waiter(dir: &Dir, name: &str, file: &Path) -> Proc {
    dir.spawn(name, dir.command("flock").arg("-x").arg(file).arg("true"))
}

/// `flock -x FILE sleep 600` run by a bash that ignores SIGTERM (`trap '' TERM` survives
/// `exec`): a holder only SIGKILL stops.
pub fn flock_holder_ignoring_sigterm(dir: &Dir, name: &str, file: &Path) -> Proc {
    let mut cmd = dir.command("bash");
    cmd.args(["-c", r#"trap '' TERM; exec flock -x "$0" sleep 600"#])
        .arg(file);
    dir.spawn(name, &mut cmd)
}
