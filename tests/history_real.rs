//! The history and the daemon's start-up under the stress review's findings, each with a real
//! daemon: a big history is moved whole at rotation (never cut), a broken config never shrinks
//! the bound under a history grown with a raised one, a FIFO at the history's path hangs
//! nothing, two daemons of one user with different runtime directories never both write one
//! history, and a daemon whose stderr reader is gone keeps running.

mod util;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use lockwatch::daemon::client::Client;
use lockwatch::daemon::protocol::{Request, Response};
use util::daemon::{Daemon, daemon_env, flock_holder, holder_of};
use util::{Dir, eventually};

const BIN: &str = env!("CARGO_BIN_EXE_cargo-lockwatch");
const MIB: usize = 1024 * 1024;

/// Runs the CLI with `env` under `timeout` (a hang fails the test instead of stalling it);
/// (exit code, stdout, stderr).
fn cli(dir: &Dir, env: &[(String, String)], args: &[&str]) -> (i32, String, String) {
    let out = dir
        .command("timeout")
        .args(["60", BIN])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("run cli");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `env` with `key` set to `value` (replaced if there).
fn with(env: &[(String, String)], key: &str, value: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env.iter().filter(|(k, _)| k != key).cloned().collect();
    env.push((key.into(), value.display().to_string()));
    env
}

/// History lines (stale events, old times) adding up to at least `bytes`.
fn events(first_pid: u32, bytes: usize) -> String {
    let mut text = String::new();
    let mut pid = first_pid;
    while text.len() < bytes {
        text.push_str(&format!(
            "{{\"event\":\"stale\",\"at\":{pid}.0,\"path\":\"/x\",\"holder\":{{\"pid\":{pid},\"start_token\":1}},\"name\":\"cargo\",\"reasons\":[]}}\n"
        ));
        pid += 1;
    }
    text
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo reads a NUL-terminated path that lives for the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

fn data_dir(dir: &Dir) -> PathBuf {
    let data = dir.path("lockwatch/data");
    std::fs::create_dir_all(&data).unwrap();
    data
}

/// Finding 1: a 10 MiB history under a 1 MiB bound is renamed whole to history.1.jsonl, the
/// previous history.1.jsonl is the only thing replaced, and the log says so.
#[test]
fn a_big_history_is_moved_whole_at_rotation_never_cut() {
    let dir = Dir::new("rotate");
    let data = data_dir(&dir);
    let big = events(1_000_000, 10 * MIB);
    let older = events(1, 300 * 1024);
    std::fs::write(data.join("history.jsonl"), &big).unwrap();
    std::fs::write(data.join("history.1.jsonl"), &older).unwrap();
    let lock = dir.write("cargo-home/.package-cache", "");
    let d = Daemon::start_with(
        &dir,
        "daemon",
        &[("LOCKWATCH_DAEMON_HISTORY_MAX_BYTES", "1048576")],
    );
    let holder = flock_holder(&dir, "holder", &lock);
    d.wait_for("the hold", |r| holder_of(r, &lock).is_some());
    eventually("the hold in the new history.jsonl", || {
        std::fs::read_to_string(data.join("history.jsonl"))
            .is_ok_and(|t| t.contains(&format!("\"pid\":{}", holder.pid)))
    });
    let out = d.proc.output();
    assert!(
        out.contains(&format!(
            "{}: 10.0 MiB over the 1.0 MiB bound: moved to history.1.jsonl, replacing the previous one (300 kB)",
            data.join("history.jsonl").display()
        )),
        "{out}"
    );
    let moved = std::fs::read(data.join("history.1.jsonl")).unwrap();
    assert!(
        moved == big.as_bytes(),
        "the big file is moved whole, byte for byte"
    );
    let (code, text, _) = cli(&dir, &d.env, &["history", "--json", "--since", "100000d"]);
    assert_eq!(code, 0, "{text}");
}

/// Finding 1, the config side: while the config file is unusable the default bound (4 MiB)
/// does not rotate a 5 MiB history whose previous generation shows a bigger bound was in use.
#[test]
fn a_broken_config_never_shrinks_the_history_bound() {
    let dir = Dir::new("doubt");
    let data = data_dir(&dir);
    dir.write(
        "lockwatch/config/config.toml",
        "[daemon\nhistory_max_bytes = 8388608\n",
    );
    let previous = events(1, 6 * MIB);
    let current = events(1_000_000, 5 * MIB);
    std::fs::write(data.join("history.1.jsonl"), &previous).unwrap();
    std::fs::write(data.join("history.jsonl"), &current).unwrap();
    let lock = dir.write("cargo-home/.package-cache", "");
    let d = Daemon::start(&dir, "daemon");
    let holder = flock_holder(&dir, "holder", &lock);
    eventually("the hold appended to the 5 MiB file", || {
        std::fs::read_to_string(data.join("history.jsonl"))
            .is_ok_and(|t| t.contains(&format!("\"pid\":{}", holder.pid)))
    });
    let now = std::fs::read(data.join("history.jsonl")).unwrap();
    assert!(now.starts_with(current.as_bytes()), "appended, not rotated");
    let kept = std::fs::read(data.join("history.1.jsonl")).unwrap();
    assert!(
        kept == previous.as_bytes(),
        "the previous generation is kept"
    );
    let out = d.proc.output();
    assert!(!out.contains("moved to history.1.jsonl"), "{out}");
}

/// Finding 2: a FIFO at history.jsonl (or history.1.jsonl) hangs neither `history` nor the
/// daemon; both name it and say what to do, and the daemon's events land once it is moved.
#[test]
fn a_fifo_at_the_history_path_hangs_nothing() {
    let dir = Dir::new("fifo");
    let data = data_dir(&dir);
    let log = data.join("history.jsonl");
    mkfifo(&log);
    let env = daemon_env(&dir);
    let (code, _, err) = cli(&dir, &env, &["history"]);
    assert_eq!(code, 2, "{err}");
    let said = format!(
        "{} is not a regular file (a FIFO); move it aside",
        log.display()
    );
    assert!(err.contains(&said), "{err}");

    let lock = dir.write("cargo-home/.package-cache", "");
    let d = Daemon::start(&dir, "daemon");
    let (code, out, _) = cli(&dir, &d.env, &["daemon", "--check"]);
    assert_eq!(code, 0, "{out}");
    assert!(d.proc.output().contains(&said), "{}", d.proc.describe());
    let holder = flock_holder(&dir, "holder", &lock);
    eventually("the problem in the snapshot", || {
        d.snapshot().problems.iter().any(|p| p.contains(&said))
    });
    let (_, out, _) = cli(&dir, &d.env, &["status"]);
    assert!(out.contains("move it aside"), "{out}");

    // Moved aside: the events kept in memory are written.
    std::fs::remove_file(&log).unwrap();
    eventually("the problem to clear", || d.snapshot().problems.is_empty());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(&format!("\"pid\":{}", holder.pid)), "{text}");

    // The previous generation as a FIFO: `history` still refuses rather than hangs.
    let rotated = data.join("history.1.jsonl");
    mkfifo(&rotated);
    let (code, _, err) = cli(&dir, &d.env, &["history"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "{} is not a regular file (a FIFO)",
            rotated.display()
        )),
        "{err}"
    );
    let (code, _, _) = cli(&dir, &d.env, &["daemon", "--check"]);
    assert_eq!(code, 0);
}

/// Finding 3: a second daemon with another runtime directory but the same data directory
/// exits 0 naming the first (pid, runtime dir, how to stop it); once that one stops, it runs.
#[test]
fn two_runtime_dirs_one_history_one_daemon() {
    let dir = Dir::new("two");
    let mut a = Daemon::start(&dir, "a");
    let run_a = dir.path("lockwatch/run");
    let env_b = with(&a.env, "LOCKWATCH_RUNTIME_DIR", &dir.path("run-b"));
    let start_b = |name: &str| {
        let mut cmd = dir.command(BIN);
        cmd.args(["daemon", "--headless"])
            .envs(env_b.iter().map(|(k, v)| (k, v)));
        dir.spawn(name, &mut cmd)
    };
    let mut b = start_b("b");
    assert_eq!(b.wait_exit(), 0, "{}", b.describe());
    let said = b.output();
    let stop = format!(
        "LOCKWATCH_RUNTIME_DIR={} cargo lockwatch daemon --stop",
        run_a.display()
    );
    assert!(
        said.contains(&format!(
            "another lockwatch daemon (pid {}, runtime dir {})",
            a.proc.pid,
            run_a.display()
        )) && said.contains("already writes this history")
            && said.contains(&stop),
        "{said}"
    );
    // From the second runtime dir: it runs, elsewhere (not "start one", which would only exit).
    let (code, out, _) = cli(&dir, &env_b, &["daemon", "--check"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("running elsewhere") && out.contains(&stop),
        "{out}"
    );

    // The command it names stops the first; then the second may run.
    let (code, _, _) = cli(&dir, &a.env, &["daemon", "--stop"]);
    assert_eq!(code, 0);
    assert_eq!(a.proc.wait_exit(), 0, "{}", a.proc.describe());
    let mut b = start_b("b2");
    eventually("the second daemon to answer", || {
        cli(&dir, &env_b, &["daemon", "--check"]).0 == 0
    });
    let (code, _, _) = cli(&dir, &env_b, &["daemon", "--stop"]);
    assert_eq!(code, 0);
    assert_eq!(b.wait_exit(), 0, "{}", b.describe());
}

/// Finding 4: `daemon 2>&1 | head -2`: once the reader is gone the daemon's next warning (a
/// history on a full disk: it cannot be written) must not kill it; it keeps serving and stops
/// cleanly with exit 0. (A data dir that is a file, used here before, now keeps the daemon
/// from starting: review Y, Y8.)
#[test]
fn a_daemon_whose_stderr_reader_is_gone_keeps_running() {
    let dir = Dir::new("epipe");
    let data = dir.path("full-data");
    std::fs::create_dir_all(&data).unwrap();
    // /dev/full: every write fails with "No space left on device".
    std::os::unix::fs::symlink("/dev/full", data.join("history.jsonl")).unwrap();
    let env = with(&daemon_env(&dir), "LOCKWATCH_DATA_DIR", &data);
    let lock = dir.write("cargo-home/.package-cache", "");
    let (reader, writer) = std::io::pipe().unwrap();
    let mut cmd = dir.command(BIN);
    cmd.args(["daemon", "--headless"])
        .envs(env.iter().map(|(k, v)| (k, v)));
    let mut daemon = dir.spawn_to(
        "daemon",
        &mut cmd,
        Stdio::from(writer.try_clone().unwrap()),
        Stdio::from(writer),
    );
    drop(cmd);
    // `head`: the lines up to the banner, then the reader goes away. (How many lines come
    // before it depends on what else the machine holds: never wait for a fixed count.)
    let mut r = BufReader::new(reader);
    let mut head = String::new();
    while !head.contains("cargo-lockwatch daemon") {
        if r.read_line(&mut head).unwrap() == 0 {
            break;
        }
    }
    assert!(head.contains("cargo-lockwatch daemon"), "{head}");
    drop(r);

    // A hold makes an event; writing it fails and is warned about, into the broken pipe.
    let holder = flock_holder(&dir, "holder", &lock);
    let socket = dir.path("lockwatch/run/lockwatch.sock");
    let snapshot = || -> Option<lockwatch::ui::UiSnapshot> {
        let mut c = Client::connect(&socket, Duration::from_secs(5)).ok()?;
        match c.request(&Request::Status).ok()? {
            Response::Snapshot(s) => Some(*s),
            _ => None,
        }
    };
    eventually("the history problem after the warning", || {
        snapshot().is_some_and(|s| {
            holder_of(&s.report, &lock)
                .is_some_and(|l| l.holders.iter().any(|h| h.pid == holder.pid))
                && s.problems
                    .iter()
                    .any(|p| p.contains("cannot write the history"))
        })
    });
    std::thread::sleep(Duration::from_millis(500));
    let (code, out, _) = cli(&dir, &env, &["daemon", "--check"]);
    assert_eq!(
        code, 0,
        "still running after writing into a closed pipe: {out}"
    );
    assert!(snapshot().is_some(), "still serving status");
    let (code, _, _) = cli(&dir, &env, &["daemon", "--stop"]);
    assert_eq!(code, 0);
    assert_eq!(daemon.wait_exit(), 0, "no panic (101)");
}
