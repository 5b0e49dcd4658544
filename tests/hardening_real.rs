//! The daemon under abuse, one test per defect of issue 10, each with a real daemon: an
//! impostor daemon run by another local user, a planted symlink and a shared runtime dir,
//! subscribers that leave, a connection flood and half-sent requests, a torn history line, a
//! full disk, a huge history file, a chatty log, SIGHUP, and two daemons racing to start.
//!
//! A second user is needed for the impostor: `.ci/test` creates `lockwatch-other` when it can;
//! without it a bare uid is used (the messages then name only the uid). Running a process as
//! another user needs root, as CI has.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lockwatch::daemon::client::Client;
use lockwatch::daemon::protocol::{PROTOCOL_VERSION, Request, Response};
use util::daemon::{Daemon, daemon_env, flock_holder, holder_of};
use util::{Dir, POLL_TIMEOUT, Proc, eventually};

/// The other local user's uid: `lockwatch-other` when `.ci/test` created it, else a bare uid.
fn other_uid() -> u32 {
    let out = Command::new("id").args(["-u", "lockwatch-other"]).output();
    out.ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(64_123)
}

fn assert_root() {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    assert_eq!(
        me, 0,
        "this test runs a process as another user, which needs root (CI runs as root)"
    );
}

/// Runs the CLI with `env` (and extra variables); (exit code, stdout, stderr).
fn cli(dir: &Dir, env: &[(String, String)], args: &[&str]) -> (i32, String, String) {
    cli_in(dir, &dir.root, env, args)
}

/// [`cli`] run from `cwd`.
fn cli_in(dir: &Dir, cwd: &Path, env: &[(String, String)], args: &[&str]) -> (i32, String, String) {
    let out = dir
        .command(env!("CARGO_BIN_EXE_cargo-lockwatch"))
        .current_dir(cwd)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run cli");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A daemon started in `dir` with `env` that must refuse to start (an error exit, not a
/// hang): what it said.
fn refused_daemon(dir: &Dir, env: &[(String, String)]) -> String {
    let mut refused = daemon_in(dir, "refused", &dir.root, env);
    assert_eq!(
        refused.wait_exit(),
        lockwatch::exit::ERROR,
        "{}",
        refused.describe()
    );
    refused.output()
}

/// A headless daemon with `env`, started in `cwd`.
fn daemon_in(dir: &Dir, name: &str, cwd: &Path, env: &[(String, String)]) -> Proc {
    let mut cmd = dir.command(env!("CARGO_BIN_EXE_cargo-lockwatch"));
    cmd.current_dir(cwd)
        .args(["daemon", "--headless"])
        .envs(env.iter().map(|(k, v)| (k, v)));
    dir.spawn(name, &mut cmd)
}

/// `env` with `key` set to `value` instead.
fn with_var(env: &[(String, String)], key: &str, value: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env.iter().filter(|(k, _)| k != key).cloned().collect();
    env.push((key.into(), value.into()));
    env
}

/// The environment with the runtime dir moved to `run`.
fn with_runtime(env: &[(String, String)], run: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| k != "LOCKWATCH_RUNTIME_DIR")
        .cloned()
        .collect();
    env.push(("LOCKWATCH_RUNTIME_DIR".into(), run.display().to_string()));
    env
}

/// Descriptors the process has open.
fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A `/proc/PID/status` figure in kB (`VmHWM`, `VmRSS`).
fn status_kb(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim_start_matches(':').split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A greeted raw connection for protocol-level tests.
fn greeted(socket: &Path) -> BufReader<UnixStream> {
    let mut s = UnixStream::connect(socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let hello =
        format!("{{\"type\":\"hello\",\"version\":{PROTOCOL_VERSION},\"client\":\"test\"}}\n");
    s.write_all(hello.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("\"hello\""), "{line}");
    r
}

/// A directory of the other user's own in this test's directory, which it can reach.
fn their_corner(dir: &Dir, uid: u32) -> PathBuf {
    std::fs::set_permissions(&dir.root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let theirs = dir.path("other");
    std::fs::create_dir_all(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(uid), Some(uid)).unwrap();
    theirs
}

/// The lockwatch binary where another user can run it (a copy when ours is out of its reach).
fn binary_for(dir: &Dir, uid: u32) -> PathBuf {
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_cargo-lockwatch"));
    let can_run = Command::new("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups")
        .arg(&ours)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if can_run {
        return ours;
    }
    let copy = dir.path("other-bin/cargo-lockwatch");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&ours, &copy).unwrap();
    std::fs::set_permissions(
        copy.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    copy
}

/// Defect 1: another user serves a socket where the CLI looks; the CLI names the path and the
/// owner, does not talk to it, and scans directly. The peer check alone catches a socket and
/// directory that look like ours but are served by someone else.
#[test]
fn an_impostor_daemon_of_another_user_is_never_trusted() {
    assert_root();
    let dir = Dir::new("impostor");
    let uid = other_uid();
    let theirs = their_corner(&dir, uid);
    let lock = dir.write("cargo-home/.package-cache", "");
    let holder = flock_holder(&dir, "holder", &lock);

    let their_run = theirs.join("run");
    let mut env = daemon_env(&dir);
    for (k, sub) in [
        ("LOCKWATCH_RUNTIME_DIR", "run"),
        ("LOCKWATCH_DATA_DIR", "data"),
        ("LOCKWATCH_CONFIG_DIR", "config"),
    ] {
        env.retain(|(key, _)| key != k);
        env.push((k.into(), theirs.join(sub).display().to_string()));
    }
    env.push(("HOME".into(), theirs.display().to_string()));
    let bin = binary_for(&dir, uid);
    let mut cmd = dir.command("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups")
        .arg(&bin)
        .args(["daemon", "--headless"])
        .envs(env.iter().map(|(k, v)| (k, v)));
    let impostor = dir.spawn("impostor", &mut cmd);
    let their_socket = their_run.join("lockwatch.sock");
    eventually("the impostor's socket", || their_socket.exists());

    // The CLI pointed at their directory: a warning naming path and owner, then a scan.
    let ours = with_runtime(&daemon_env(&dir), &their_run);
    let (_, out, err) = cli(&dir, &ours, &["status", "--json"]);
    assert!(err.contains("not trusting the daemon socket"), "{err}");
    assert!(err.contains(&their_run.display().to_string()), "{err}");
    assert!(
        err.contains(&format!("uid {uid}")),
        "names the owner: {err}"
    );
    assert!(err.contains("scanning directly"), "{err}");
    let report: lockwatch::core::model::Report = serde_json::from_str(&out).expect(&out);
    assert_eq!(report.source, lockwatch::core::model::Source::Scan);
    assert!(
        holder_of(&report, &lock).is_some_and(|l| l.holders.iter().any(|h| h.pid == holder.pid)),
        "the scan shows the real holder: {out}"
    );
    let (code, _, err) = cli(&dir, &ours, &["daemon", "--check"]);
    assert_eq!(code, lockwatch::exit::ERROR, "{err}");
    assert!(err.contains("not trusting"), "{err}");
    let (_, out, err) = cli(
        &dir,
        &ours,
        &["kill", &holder.pid.to_string(), "--json", "--yes"],
    );
    assert!(
        err.contains("not trusting") && err.contains("direct scan"),
        "kill never asks the impostor: {err}{out}"
    );

    // A directory and socket of ours, but the process answering is theirs: the peer check.
    let run = dir.path("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = run.join("lockwatch.sock");
    std::fs::rename(&their_socket, &socket).unwrap();
    std::os::unix::fs::lchown(&socket, Some(0), Some(0)).unwrap();
    let err = match Client::connect(&socket, Duration::from_secs(2)) {
        Ok(_) => panic!("connected to another user's daemon"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("runs as") && err.contains(&format!("uid {uid}")),
        "{err}"
    );
    drop(impostor);
}

/// Defect 2: a shared runtime dir (1777) is never chmodded (a private subdirectory is used), a
/// symlink planted there is refused and its target untouched, and another user's directory is
/// refused by name.
#[test]
fn the_runtime_dir_is_never_chmodded_and_symlinks_are_refused() {
    let dir = Dir::new("rundir");
    let shared = dir.path("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let env = with_runtime(&daemon_env(&dir), &shared);
    let mut cmd = dir.command(env!("CARGO_BIN_EXE_cargo-lockwatch"));
    cmd.args(["daemon", "--headless"])
        .envs(env.iter().map(|(k, v)| (k, v)));
    let daemon = dir.spawn("daemon", &mut cmd);
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let private = shared.join(format!("cargo-lockwatch-{me}"));
    eventually("the socket in the private subdirectory", || {
        private.join("lockwatch.sock").exists()
    });
    let mode = std::fs::metadata(&shared).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o1777, "the shared directory keeps its mode");
    assert_eq!(std::fs::metadata(&private).unwrap().mode() & 0o777, 0o700);
    let (code, out, err) = cli(&dir, &env, &["daemon", "--check"]);
    assert_eq!(
        code, 0,
        "the CLI finds the daemon in the subdirectory: {out}{err}"
    );
    drop(daemon);

    // A symlink planted by another user, pointing at a directory of ours.
    let target = dir.path("mine");
    std::fs::create_dir(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    let link = dir.path("planted");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(other_uid()), None).unwrap();
    let env = with_runtime(&daemon_env(&dir), &link);
    let (code, out, err) = cli(&dir, &env, &["daemon", "--headless"]);
    assert_eq!(code, lockwatch::exit::ERROR, "{out}{err}");
    assert!(
        err.contains("symbolic link") && err.contains(&link.display().to_string()),
        "{err}"
    );
    assert_eq!(std::fs::metadata(&target).unwrap().mode() & 0o777, 0o755);
    assert_eq!(
        std::fs::read_dir(&target).unwrap().count(),
        0,
        "nothing written there"
    );

    // Another user's directory.
    let foreign = dir.path("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&foreign, Some(other_uid()), None).unwrap();
    let env = with_runtime(&daemon_env(&dir), &foreign);
    let (code, out, err) = cli(&dir, &env, &["daemon", "--headless"]);
    assert_eq!(code, lockwatch::exit::ERROR, "{out}{err}");
    assert!(
        err.contains(&format!("uid {}", other_uid())) && err.contains("not to you"),
        "{err}"
    );
}

/// Defect 3: subscribers that disconnect are reaped while nothing changes; a flood past the cap
/// gets a polite refusal; half-sent and silent connections time out.
#[test]
fn leaving_subscribers_are_reaped_and_connections_are_bounded() {
    let dir = Dir::new("conns");
    let d = Daemon::start_with(
        &dir,
        "daemon",
        &[
            ("LOCKWATCH_DAEMON_MAX_CLIENTS", "16"),
            ("LOCKWATCH_DAEMON_REQUEST_TIMEOUT", "1s"),
        ],
    );
    let pid = d.proc.pid;
    let before = fd_count(pid);
    // A status-bar widget polling through subscribe: connect, subscribe, read one, leave.
    for _ in 0..300 {
        let mut r = greeted(&d.socket);
        r.get_mut()
            .write_all(b"{\"type\":\"subscribe\"}\n")
            .unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(line.contains("\"snapshot\""), "{line}");
    }
    eventually("the subscribers' descriptors to be closed", || {
        fd_count(pid) <= before + 2
    });

    // The cap: 16 held connections, the 17th is refused politely, and one freed slot serves.
    let mut held: Vec<_> = (0..16).map(|_| greeted(&d.socket)).collect();
    let mut refused = String::new();
    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.read_to_string(&mut refused).unwrap();
    assert!(
        refused.contains("already serving 16 connections") && refused.contains("try again"),
        "{refused}"
    );
    held.pop();
    eventually("a slot to free up", || {
        Client::connect(&d.socket, Duration::from_secs(2))
            .and_then(|mut c| c.request(&Request::Status))
            .is_ok()
    });
    drop(held);
    eventually("the held connections to be closed", || {
        fd_count(pid) <= before + 2
    });

    // Half a request, then silence: an error and the connection closed within the timeout.
    for (payload, said) in [
        (&b"{\"type\":\"hel"[..], "half a request"),
        (&b""[..], "no request"),
    ] {
        // A connection just closed gives its slot back a moment later: busy, try again.
        let deadline = Instant::now() + POLL_TIMEOUT;
        let (start, mut r, reply) = loop {
            assert!(Instant::now() < deadline, "never a free slot");
            let start = Instant::now();
            let mut s = UnixStream::connect(&d.socket).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(payload).unwrap();
            let mut r = BufReader::new(s);
            let mut reply = String::new();
            r.read_line(&mut reply).unwrap();
            if !reply.contains("already serving") {
                break (start, r, reply);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(reply.contains(said) && reply.contains("closing"), "{reply}");
        let mut rest = String::new();
        assert_eq!(r.read_line(&mut rest).unwrap_or(0), 0, "closed: {rest}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
    assert!(d.report().source == lockwatch::core::model::Source::Daemon);
}

/// Defect 4a: a torn last history line (crash mid-write) does not swallow the next event.
#[test]
fn a_torn_history_line_never_swallows_the_next_event() {
    let dir = Dir::new("torn");
    let lock = dir.write("cargo-home/.package-cache", "");
    dir.write(
        "lockwatch/data/history.jsonl",
        "{\"event\":\"released\",\"at\":1.0,\"pa",
    );
    let d = Daemon::start(&dir, "daemon");
    let holder = flock_holder(&dir, "holder", &lock);
    d.wait_for("the hold", |r| {
        holder_of(r, &lock).is_some_and(|l| l.holders.iter().any(|h| h.pid == holder.pid))
    });
    // Other cargos on the machine add events too: look for this holder's own.
    let log = dir.path("lockwatch/data/history.jsonl");
    let ours = |line: &str| {
        serde_json::from_str::<serde_json::Value>(line)
            .is_ok_and(|v| v["event"] == "acquired" && v["holder"]["pid"] == u64::from(holder.pid))
    };
    eventually("this hold's event, readable, in the history", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().any(ours))
    });
    let text = std::fs::read_to_string(&log).unwrap();
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_err())
        .collect();
    assert_eq!(
        bad,
        ["{\"event\":\"released\",\"at\":1.0,\"pa"],
        "only the fragment is lost"
    );
    let (_, out, _) = cli(&dir, &d.env, &["history", "--json", "--since", "1h"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["unreadable_lines"], 1, "{out}");
    assert!(v["holds"].as_u64() >= Some(1), "{out}");
}

/// A data directory the daemon cannot make (in /proc, where nothing can be created, not even by
/// root; one under a file keeps the daemon from starting since review Y, Y8): `history` says
/// the daemon cannot write it and how many events wait, never "nothing has happened", and the
/// advice names the directory, not a file that is not there (review M, N6).
#[test]
fn history_says_what_the_daemon_could_not_write() {
    let dir = Dir::new("nodata");
    let lock = dir.write("cargo-home/.package-cache", "");
    let data = PathBuf::from("/proc/lockwatch-nodata");
    let data_text = data.display().to_string();
    let d = Daemon::start_with(&dir, "daemon", &[("LOCKWATCH_DATA_DIR", &data_text)]);
    let holder = flock_holder(&dir, "holder", &lock);
    d.wait_for("the hold", |r| {
        holder_of(r, &lock).is_some_and(|l| l.holders.iter().any(|h| h.pid == holder.pid))
    });
    eventually("the problem in the snapshot", || {
        !d.snapshot().problems.is_empty()
    });
    let (code, out, err) = cli(&dir, &d.env, &["history"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("the daemon cannot write the history")
            && out.contains("kept in memory")
            && !out.contains("nothing has happened"),
        "{out}"
    );
    assert!(
        out.contains(&format!("fix {data_text}'s permissions")),
        "{out}"
    );
}

/// Defect 4b: on a full disk events are kept and retried, and `status` and `doctor` say so;
/// once the disk takes writes again the queued events land in the file.
#[test]
fn a_full_disk_is_shown_in_status_and_doctor_and_nothing_is_lost() {
    let dir = Dir::new("full");
    let lock = dir.write("cargo-home/.package-cache", "");
    let data = dir.path("lockwatch/data");
    std::fs::create_dir_all(&data).unwrap();
    let log = data.join("history.jsonl");
    // /dev/full: every write fails with "No space left on device".
    std::os::unix::fs::symlink("/dev/full", &log).unwrap();
    let d = Daemon::start(&dir, "daemon");
    let holder = flock_holder(&dir, "holder", &lock);
    d.wait_for("the hold", |r| {
        holder_of(r, &lock).is_some_and(|l| l.holders.iter().any(|h| h.pid == holder.pid))
    });
    eventually("the problem in the snapshot", || {
        !d.snapshot().problems.is_empty()
    });
    let (_, out, _) = cli(&dir, &d.env, &["status"]);
    assert!(
        out.contains("the daemon cannot write the history")
            && out.contains("No space left on device")
            && out.contains("retried"),
        "{out}"
    );
    let (code, out, _) = cli(&dir, &d.env, &["doctor"]);
    assert_eq!(code, lockwatch::exit::ERROR);
    assert!(
        out.contains("cannot write the history") && out.contains(&log.display().to_string()),
        "{out}"
    );
    assert!(
        d.proc.output().contains("cannot write"),
        "{}",
        d.proc.describe()
    );

    // Space again: the queued events are written, the problem clears.
    std::fs::remove_file(&log).unwrap();
    eventually("the problem to clear", || d.snapshot().problems.is_empty());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("\"acquired\"") && text.contains(&holder.pid.to_string()),
        "{text}"
    );
    assert!(d.proc.output().contains("again"), "{}", d.proc.describe());
}

/// Defect 5: a huge history file costs bounded memory at start and per `history` request, and
/// the daemon's stdout log stays under its cap.
#[test]
fn huge_history_and_chatty_logs_stay_bounded() {
    let dir = Dir::new("bounded");
    let data = dir.path("lockwatch/data");
    std::fs::create_dir_all(&data).unwrap();
    {
        // 64 MB: one endless line, then real events.
        let mut f = std::fs::File::create(data.join("history.jsonl")).unwrap();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"\n").unwrap();
        for i in 0..100 {
            writeln!(
                f,
                "{{\"event\":\"stale\",\"at\":{}.0,\"path\":\"/x\",\"holder\":{{\"pid\":{i},\"start_token\":1}},\"name\":\"cargo\",\"reasons\":[]}}",
                4_000_000_000u64 + i
            )
            .unwrap();
        }
    }
    let d = Daemon::start_with(
        &dir,
        "daemon",
        &[("LOCKWATCH_DAEMON_LOG_MAX_BYTES", "8192")],
    );
    let pid = d.proc.pid;
    // Three history requests at once.
    let socket = d.socket.clone();
    let askers: Vec<_> = (0..3)
        .map(|_| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&socket, Duration::from_secs(30)).unwrap();
                match c.request(&Request::History { since: 0.0 }).unwrap() {
                    Response::History(s) => s,
                    other => panic!("{other:?}"),
                }
            })
        })
        .collect();
    let history = data.join("history.jsonl");
    for a in askers {
        let s = a.join().unwrap();
        // The daemon sees every lock on the machine: another program's locks add events (and
        // one appended may rotate the file, dropping the huge line before it is read).
        assert!(s.stale >= 100, "the newest events are read: {s:?}");
        let rotated = std::fs::metadata(&history).is_ok_and(|m| m.len() < 1 << 20);
        assert!(s.skipped_bytes > 0 || rotated, "{s:?}");
    }
    let peak_kb = status_kb(pid, "VmHWM");
    assert!(peak_kb > 0 && peak_kb < 48 * 1024, "peak RSS {peak_kb} kB");

    // A chatty log: every pause and resume is a line; the file stays near its 8 kB cap.
    let mut c = d.client();
    for i in 0..400 {
        let r = c.request(&Request::Pause { paused: i % 2 == 0 }).unwrap();
        assert_eq!(r, Response::Ok);
    }
    // The engine logs them as it gets to them: wait for the last one.
    eventually("the last resume in the log, after a cut", || {
        let out = d.proc.output();
        out.contains("cut to its newest")
            && out
                .lines()
                .rev()
                .take(5)
                .any(|l| l.contains("resumed   watching"))
    });
    let out = d.proc.output();
    assert!(out.len() < 8192 + 2048, "log is {} bytes", out.len());
}

/// Review P, R18: the runtime directory opened (755) under a running daemon. Clients then look
/// for the socket in a private subdirectory; `status` says once which daemon is left out and
/// the chmod that fixes it, `doctor` too instead of "no daemon runs … start one", and after
/// the chmod the daemon answers again.
#[test]
fn a_runtime_dir_opened_under_a_running_daemon_is_said_with_its_chmod() {
    let dir = Dir::new("run-755");
    let d = Daemon::start(&dir, "daemon");
    let run = dir.path("lockwatch/run");
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    let fix = format!("`chmod 700 {}`", run.display());

    let (_, out, err) = cli(&dir, &d.env, &["status", "--json"]);
    assert_eq!(err.matches("no longer private").count(), 1, "{err}");
    assert!(
        err.contains(&format!("the lockwatch daemon (pid {})", d.proc.pid))
            && err.contains("(mode 755)")
            && err.contains(&fix),
        "{err}"
    );
    let report: lockwatch::core::model::Report = serde_json::from_str(&out).expect(&out);
    assert_eq!(report.source, lockwatch::core::model::Source::Scan);

    let (_, out, err) = cli(&dir, &d.env, &["doctor"]);
    let said = format!("{out}{err}");
    assert!(
        said.contains("no longer private") && said.contains(&fix),
        "{said}"
    );
    assert!(!said.contains("no daemon runs"), "{said}");

    // The health check says it runs but is not used, with its own code; starting another
    // says the same, not "stop it" (review Q, S1).
    let (code, out, _) = cli(&dir, &d.env, &["daemon", "--check"]);
    assert_eq!(code, lockwatch::exit::DAEMON_UNUSED, "{out}");
    assert!(
        out.contains("running but not used") && out.contains(&fix),
        "{out}"
    );
    let (code, out, err) = cli(&dir, &d.env, &["daemon", "--headless"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&fix) && !out.contains("--stop"), "{out}");

    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    let (_, out, err) = cli(&dir, &d.env, &["status", "--json"]);
    assert!(!err.contains("no longer private"), "{err}");
    let report: lockwatch::core::model::Report = serde_json::from_str(&out).expect(&out);
    assert_eq!(
        report.source,
        lockwatch::core::model::Source::Daemon,
        "{err}"
    );
}

/// `config` shows the file; when the running daemon has not read the file's last change, it
/// says so and how to make it (review T, T2).
#[test]
fn config_says_when_the_running_daemon_has_not_read_the_file_s_change() {
    let dir = Dir::new("config-unread");
    dir.write(
        "lockwatch/config/config.toml",
        "[policy]\nyield_ide = true\n",
    );
    let d = Daemon::start(&dir, "daemon");
    let (_, out) = d.cli(&dir, &["config"]);
    assert!(!out.contains("note:"), "{out}");
    dir.write(
        "lockwatch/config/config.toml",
        "[policy]\nyield_ide = false\n",
    );
    let (code, out) = d.cli(&dir, &["config"]);
    assert_eq!(code, 0, "a note, not a problem: {out}");
    let said = format!(
        "note: this file changed after the running daemon (pid {}) read it",
        d.proc.pid
    );
    assert!(out.contains(&said), "{out}");
    assert!(
        out.contains(&format!("`kill -HUP {}`", d.proc.pid)),
        "{out}"
    );
    // SAFETY: kill only sends a signal, to the daemon this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(d.proc.pid as i32, libc::SIGHUP) }, 0);
    eventually("the reload line", || d.proc.output().contains("reloaded"));
    let (_, out) = d.cli(&dir, &["config"]);
    assert!(!out.contains("note:"), "read again: {out}");
}

/// Defect 6a: SIGHUP reloads the config (the daemon stays, its socket too); SIGTERM then stops
/// it cleanly with the socket removed.
#[test]
fn sighup_reloads_the_config_and_sigterm_removes_the_socket() {
    let dir = Dir::new("hup");
    let mut d = Daemon::start(&dir, "daemon");
    dir.write(
        "lockwatch/config/config.toml",
        "[stale]\nidle_cpu_secs = 0.5\n",
    );
    // SAFETY: kill only sends a signal, to the daemon this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(d.proc.pid as i32, libc::SIGHUP) }, 0);
    eventually("the reload line", || d.proc.output().contains("reloaded"));
    let out = d.proc.output();
    assert!(out.contains("stale.idle_cpu_secs = 0.5"), "{out}");
    assert!(d.socket.exists());
    // A broken file on the next reload keeps the settings in use, not the defaults.
    dir.write(
        "lockwatch/config/config.toml",
        "[stale\nidle_cpu_secs = 0.7\n",
    );
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(d.proc.pid as i32, libc::SIGHUP) }, 0);
    eventually("the refusal", || {
        d.proc.output().contains("keeping the settings in use")
    });
    // `config` says the daemon kept them, not to send SIGHUP again (review X, X11).
    let note = daemon_note(&dir, &d.env);
    assert!(note.contains("could not use this file as it is"), "{note}");
    dir.write(
        "lockwatch/config/config.toml",
        "[stale]\nidle_cpu_secs = 0.5\n",
    );
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(d.proc.pid as i32, libc::SIGHUP) }, 0);
    eventually("the second reload", || {
        d.proc.output().matches("reloaded").count() == 2
    });
    let out = d.proc.output();
    // Other lines may follow (the daemon watches every lock on the machine): its last reload.
    assert!(
        (out.lines().rev())
            .find(|l| l.contains("reloaded"))
            .is_some_and(|l| l.ends_with("nothing changed")),
        "the broken file changed nothing: {out}"
    );
    // A wrong value for one key keeps that key's value in use, not its default, and the
    // other keys are taken (review O, Q2).
    dir.write(
        "lockwatch/config/config.toml",
        "[stale]\nidle_cpu_secs = \"much\"\nstale_afer = \"30s\"\n[policy]\nyield_after = \"45s\"\n",
    );
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(d.proc.pid as i32, libc::SIGHUP) }, 0);
    eventually("the third reload", || {
        d.proc.output().matches("reloaded").count() == 3
    });
    let out = d.proc.output();
    assert!(
        out.contains("keeping the value in use of stale.idle_cpu_secs"),
        "{out}"
    );
    // Its own line says the value in use is kept, not the default (review P, R2).
    let refused = (out.lines()).find(|l| l.contains("`stale.idle_cpu_secs`"));
    assert!(refused.is_some_and(|l| l.ends_with("; kept 0.5")), "{out}");
    assert!(!out.contains("the default is used"), "{out}");
    let last = (out.lines().rev()).find(|l| l.contains("reloaded"));
    assert!(
        last.is_some_and(|l| l.contains("policy.yield_after") && !l.contains("idle_cpu_secs")),
        "{out}"
    );
    // An unknown key has no value in use to keep (review X, X6).
    assert!(!out.contains("value in use of stale.stale_afer"), "{out}");
    // `config` and `doctor` say what the daemon kept, not only "the default is used" (review
    // X, X5, X11).
    let note = daemon_note(&dir, &d.env);
    assert!(
        note.contains("keeps its earlier stale.idle_cpu_secs = 0.5"),
        "{note}"
    );
    let (_, doctor, _) = cli(&dir, &d.env, &["doctor"]);
    assert!(
        doctor.contains("keeps its earlier stale.idle_cpu_secs = 0.5"),
        "{doctor}"
    );
    let (code, _, _) = cli(&dir, &d.env, &["daemon", "--check"]);
    assert_eq!(code, 0, "still running after SIGHUP");
    d.report();

    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(d.proc.pid as i32, libc::SIGTERM) }, 0);
    assert_eq!(d.proc.wait_exit(), 0);
    assert!(!d.socket.exists(), "the socket is removed on a clean stop");
}

/// What `config --json` says of the running daemon's settings (`daemon_note`; empty if none).
fn daemon_note(dir: &Dir, env: &[(String, String)]) -> String {
    let (_, json, _) = cli(dir, env, &["config", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).expect(&json);
    doc["daemon_note"].as_str().unwrap_or_default().to_string()
}

/// Defect 6b: two daemons started at once: one runs, the other exits 0 naming its pid and
/// socket (a service manager restarting on failure does not loop).
#[test]
fn a_second_daemon_exits_0_and_says_where_the_first_runs() {
    let dir = Dir::new("race");
    let env = daemon_env(&dir);
    for round in 0..3 {
        let start = |name: String| {
            let mut cmd = dir.command(env!("CARGO_BIN_EXE_cargo-lockwatch"));
            cmd.args(["daemon", "--headless"])
                .envs(env.iter().map(|(k, v)| (k, v)));
            dir.spawn(&name, &mut cmd)
        };
        let mut a = start(format!("a{round}"));
        let mut b = start(format!("b{round}"));
        let exited = |p: &Proc| util::proc_state(p.pid) == Some('Z');
        eventually("one of the two to exit", || exited(&a) || exited(&b));
        let (loser, winner) = if exited(&a) {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        assert_eq!(loser.wait_exit(), 0, "{}", loser.describe());
        let said = loser.output();
        assert!(
            said.contains("already running")
                && said.contains(&format!("pid {}", winner.pid))
                && said.contains("lockwatch.sock"),
            "{said}"
        );
        let (code, _, _) = cli(&dir, &env, &["daemon", "--stop"]);
        assert_eq!(code, 0);
        assert_eq!(winner.wait_exit(), 0, "{}", winner.describe());
    }
}

/// A daemon serving its `daemon.max_clients` (here 3, from the config file) is busy, not dead:
/// every refusal reaches the client, `--check` says it runs, `status` scans with a note that
/// says busy, `doctor` warns instead of advising a restart, and `--stop` still stops it.
#[test]
fn a_daemon_at_max_clients_is_busy_not_dead() {
    let dir = Dir::new("busy");
    let config = dir.write(
        "lockwatch/config/config.toml",
        "[daemon]\nmax_clients = 3\n",
    );
    let mut d = Daemon::start(&dir, "daemon");
    // Subscribers that never read: they keep their slots.
    let held: Vec<_> = (0..3)
        .map(|_| {
            let mut r = greeted(&d.socket);
            r.get_mut()
                .write_all(b"{\"type\":\"subscribe\"}\n")
                .unwrap();
            r
        })
        .collect();
    let busy = format!(
        "the lockwatch daemon (pid {}) is busy: 3 clients are connected (daemon.max_clients); \
         try again, or raise max_clients in {}",
        d.proc.pid,
        config.display()
    );
    // The refusal races with the client's hello; it must win every time.
    for _ in 0..20 {
        let (code, out, err) = cli(&dir, &d.env, &["daemon", "--check"]);
        assert_eq!(code, 0, "it runs: {out}{err}");
        assert_eq!(out.trim(), format!("running, but busy: {busy}"), "{err}");
    }
    let (_, out, err) = cli(&dir, &d.env, &["status", "--json"]);
    assert_eq!(
        err.trim(),
        format!("cargo-lockwatch: note: {busy}; scanning directly meanwhile")
    );
    let report: lockwatch::core::model::Report = serde_json::from_str(&out).expect(&out);
    assert_eq!(report.source, lockwatch::core::model::Source::Scan);
    let (_, out, _) = cli(&dir, &d.env, &["doctor"]);
    let line = out
        .lines()
        .find(|l| l.contains("daemon socket"))
        .expect(&out);
    assert!(
        line.starts_with("warn") && line.contains("is busy"),
        "{out}"
    );
    assert!(
        !out.contains("restart the daemon") && !out.contains("no daemon answers"),
        "{out}"
    );

    let (code, out, err) = cli(&dir, &d.env, &["daemon", "--stop"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("the daemon (pid {})", d.proc.pid)) && out.contains("SIGTERM"),
        "{out}"
    );
    assert_eq!(d.proc.wait_exit(), 0, "{}", d.proc.describe());
    assert!(!d.socket.exists(), "a clean stop removes the socket");
    drop(held);
}

/// A runtime directory so deep the socket path does not fit `sun_path`: the daemon, every client
/// and `doctor` name the length, the limit and LOCKWATCH_RUNTIME_DIR; nothing is created. A
/// runtime directory behind a file is reported by `doctor` the same way.
#[test]
fn a_socket_path_too_long_for_sun_path_is_said_with_the_fix() {
    let dir = Dir::new("sunpath");
    let deep = dir.path(&format!("{}/{}", "d".repeat(60), "e".repeat(60)));
    let env = with_runtime(&daemon_env(&dir), &deep);
    let socket = deep.join("lockwatch.sock");
    let len = socket.as_os_str().len();
    let said = format!(
        "the socket path {} is {len} bytes long, but a Unix socket path can have at most {} bytes",
        socket.display(),
        lockwatch::daemon::SUN_PATH_BYTES - 1
    );
    let fix = "LOCKWATCH_RUNTIME_DIR=<a short directory of your own>";
    let (code, out, err) = cli(&dir, &env, &["daemon", "--headless"]);
    assert_eq!(code, lockwatch::exit::ERROR, "{out}{err}");
    assert!(err.contains(&said) && err.contains(fix), "{err}");
    assert!(!deep.exists(), "nothing created");
    let (code, out, err) = cli(&dir, &env, &["daemon", "--check"]);
    assert_eq!(code, lockwatch::exit::NOT_RUNNING, "{out}{err}");
    assert!(out.contains(&said) && out.contains(fix), "{out}");
    let (_, _, err) = cli(&dir, &env, &["status", "--json"]);
    assert!(
        err.contains(&said) && err.contains("scanning directly"),
        "{err}"
    );
    let (code, out, _) = cli(&dir, &env, &["doctor"]);
    assert_eq!(code, lockwatch::exit::ERROR, "{out}");
    let line = out.lines().find(|l| l.contains("daemon socket")).unwrap();
    assert!(line.starts_with("PROBLEM") && line.contains(&said), "{out}");
    assert!(out.contains(&format!("→ set {fix}")), "{out}");

    // A file where the runtime directory should go.
    let file = dir.write("a-file", "");
    let env = with_runtime(&daemon_env(&dir), &file.join("run"));
    let (_, out, _) = cli(&dir, &env, &["doctor"]);
    let line = out.lines().find(|l| l.contains("daemon socket")).unwrap();
    assert!(
        line.starts_with("PROBLEM")
            && line.contains(&format!("{} is not a directory", file.display())),
        "{out}"
    );
    assert!(!out.contains("start one with"), "{out}");
}

/// A config file that is a symlink to nothing (a dotfiles link whose target moved) is said, not
/// taken for no file: `config` exits 2, `status` warns, `doctor` says how to repoint it.
#[test]
fn a_config_symlink_to_nothing_is_a_warning_everywhere() {
    let dir = Dir::new("dangling");
    let env = daemon_env(&dir);
    let file = dir.path("lockwatch/config/config.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("/nonexistent/x", &file).unwrap();
    let said = format!(
        "{} is a symlink to /nonexistent/x, which does not exist; defaults apply",
        file.display()
    );
    let (code, out, _) = cli(&dir, &env, &["config"]);
    assert_eq!(code, lockwatch::exit::ERROR, "{out}");
    assert!(out.contains(&said) && !out.contains("not present"), "{out}");
    let (_, _, err) = cli(&dir, &env, &["status", "--json"]);
    assert!(err.contains(&said), "{err}");
    let (_, out, _) = cli(&dir, &env, &["doctor"]);
    assert!(out.contains(&said) && out.contains("ln -sf"), "{out}");
}

/// launchd starts agents with a soft limit of 256 open files, and on macOS kqueue holds one per
/// watched lock file: the daemon raises its soft limit at start, as far as the hard limit allows
/// (to 10,240 at most, macOS's `OPEN_MAX`).
#[test]
fn a_daemon_started_with_256_open_files_raises_its_limit() {
    let dir = Dir::new("nofile");
    let env = daemon_env(&dir);
    let mut cmd = dir.command("sh");
    cmd.args([
        "-c",
        "ulimit -Sn 256 && exec \"$0\" daemon --headless",
        env!("CARGO_BIN_EXE_cargo-lockwatch"),
    ])
    .envs(env.iter().map(|(k, v)| (k, v)));
    let mut d = dir.spawn("daemon", &mut cmd);
    eventually("the daemon to answer", || {
        cli(&dir, &env, &["daemon", "--check"]).0 == 0
    });
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", d.pid)).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let words: Vec<&str> = line.split_whitespace().collect();
    let (soft, hard): (u64, u64) = (
        words[3].parse().unwrap(),
        words[4].parse().unwrap_or(u64::MAX),
    );
    assert_eq!(soft, hard.min(10_240), "{line}");
    let (code, _, _) = cli(&dir, &env, &["daemon", "--stop"]);
    assert_eq!(code, 0);
    assert_eq!(d.wait_exit(), 0, "{}", d.describe());
}

/// Seen by another user, a blocker's descriptors cannot be read: what it does is "unseen", not
/// "no child, no network connection", and nothing calls it stuck (it may be waiting on a
/// registry this user cannot see it talk to).
#[test]
fn another_user_s_blocker_is_unseen_not_idle() {
    assert_root();
    let dir = Dir::new("unseen");
    let uid = other_uid();
    let theirs = their_corner(&dir, uid);
    let lock = dir.write("cargo-home/.package-cache", "");
    std::fs::set_permissions(
        lock.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    // It holds the lock itself, with no child (a cargo waiting on a registry looks so).
    let mut cmd = dir.command("python3");
    cmd.args([
        "-c",
        "import fcntl, sys, time\nf = open(sys.argv[1], 'a')\nfcntl.flock(f, fcntl.LOCK_EX)\ntime.sleep(600)",
    ])
    .arg(&lock);
    let holder = dir.spawn("holder", &mut cmd);
    util::wait_holder(&dir, &lock, holder.pid, &[&holder]);
    let (_waiter, _) = util::waiter_behind(&dir, &lock, &holder);
    let mut cmd = dir.command("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups")
        .arg(binary_for(&dir, uid))
        .args(["status", "--json", "--no-daemon"])
        .env("HOME", &theirs)
        .env("LOCKWATCH_CONFIG_DIR", theirs.join("config"))
        .env("LOCKWATCH_DATA_DIR", theirs.join("data"))
        .env("LOCKWATCH_RUNTIME_DIR", theirs.join("run"))
        .stdin(std::process::Stdio::null());
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let report: lockwatch::core::model::Report = serde_json::from_str(&text).expect(&text);
    let incident = (report.incidents.iter())
        .find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == holder.pid))
        .unwrap_or_else(|| panic!("the incident: {text}"));
    assert_eq!(
        incident.doing,
        lockwatch::core::model::Doing::Unseen,
        "{text}"
    );
    assert!(
        incident.verdict.contains("belongs to another user") && !incident.verdict.contains("stuck"),
        "{}",
        incident.verdict
    );
}

/// Review Y, Y6: at the socket path, a file with something in it is kept and the daemon does
/// not start (leaving no pid file); an empty one is removed and said in the log; a socket left
/// by a daemon that died is replaced without a word.
#[test]
fn only_a_stale_socket_is_replaced_without_a_word() {
    let dir = Dir::new("sockfile");
    let env = daemon_env(&dir);
    let run = dir.path("lockwatch/run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = run.join("lockwatch.sock");
    std::fs::write(&socket, "my notes\n").unwrap();
    // Spawned, so that a daemon which does start fails the test instead of hanging it.
    let err = refused_daemon(&dir, &env);
    assert!(
        err.contains(&format!(
            "{} is a regular file (9 bytes), not a socket, and the daemon does not delete it: \
             move it aside (or remove it), then start the daemon again",
            socket.display()
        )),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&socket).unwrap(), "my notes\n");
    assert!(
        !run.join("daemon.pid").exists(),
        "a daemon that did not start leaves no pid"
    );

    std::fs::write(&socket, "").unwrap();
    let mut d = daemon_in(&dir, "emptied", &dir.root, &env);
    eventually("the daemon to answer", || {
        Client::connect(&socket, Duration::from_secs(2)).is_ok()
    });
    let (code, _, _) = cli(&dir, &env, &["daemon", "--stop"]);
    assert_eq!((code, d.wait_exit()), (0, 0), "{}", d.describe());
    let removed = format!(
        "removed {}: an empty regular file, not a socket",
        socket.display()
    );
    assert!(d.output().contains(&removed), "{}", d.describe());

    // A socket nobody listens on, as a daemon that died leaves it.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let mut d = daemon_in(&dir, "stale", &dir.root, &env);
    eventually("the daemon to answer", || {
        Client::connect(&socket, Duration::from_secs(2)).is_ok()
    });
    let (code, _, _) = cli(&dir, &env, &["daemon", "--stop"]);
    assert_eq!((code, d.wait_exit()), (0, 0), "{}", d.describe());
    assert!(!d.output().contains("removed"), "{}", d.describe());
}

/// Review Y, Y6: a second daemon refused because another one writes the same history leaves no
/// pid file in its own runtime directory.
#[test]
fn a_daemon_refused_for_another_s_history_leaves_no_pid_file() {
    let dir = Dir::new("refusedpid");
    let d = Daemon::start(&dir, "daemon");
    let run2 = dir.path("run2");
    let env = with_runtime(&d.env, &run2);
    let mut refused = daemon_in(&dir, "refused", &dir.root, &env);
    assert_eq!(refused.wait_exit(), 0, "{}", refused.describe());
    let out = refused.output();
    assert!(
        out.contains("already writes this history") && out.contains(&format!("pid {}", d.proc.pid)),
        "{out}"
    );
    assert!(
        !run2.join("daemon.pid").exists(),
        "no pid of a daemon that did not run"
    );
}

/// Review Y, Y8: a data directory that is a file keeps the daemon from starting (nothing is
/// created), and `doctor` and `history` say the same, with the variable and what to do.
#[test]
fn a_data_dir_that_is_a_file_is_said_with_its_fix() {
    let dir = Dir::new("datafile");
    let file = dir.write("afile", "x\n");
    let env = with_var(
        &daemon_env(&dir),
        "LOCKWATCH_DATA_DIR",
        &file.display().to_string(),
    );
    let problem = format!("LOCKWATCH_DATA_DIR={} is not a directory", file.display());
    let fix = format!(
        "move {} aside, or set LOCKWATCH_DATA_DIR to a directory of your own",
        file.display()
    );
    let err = refused_daemon(&dir, &env);
    assert!(err.contains(&format!("{problem}: {fix}")), "{err}");
    assert!(!dir.path("lockwatch/run").exists(), "nothing created");
    let (_, out, _) = cli(&dir, &env, &["doctor"]);
    let line = out.lines().find(|l| l.contains(&problem)).expect(&out);
    assert!(line.starts_with("PROBLEM history"), "{out}");
    assert!(out.contains(&format!("→ {fix}")), "{out}");
    assert!(!out.contains("Free disk space"), "{out}");
    let (code, out, err) = cli(&dir, &env, &["history"]);
    assert_eq!(code, lockwatch::exit::ERROR, "{out}{err}");
    assert_eq!(err.trim(), format!("cargo-lockwatch: {problem}: {fix}"));
}

/// Review Y, Y9: a relative LOCKWATCH_RUNTIME_DIR is made absolute, with a warning, by the
/// daemon and the CLI alike: the daemon's log names the absolute socket, which the CLI run from
/// the same directory finds.
#[test]
fn a_relative_runtime_dir_is_made_absolute_with_a_warning() {
    let dir = Dir::new("relrun");
    let here = dir.path("here");
    std::fs::create_dir(&here).unwrap();
    let env = with_var(&daemon_env(&dir), "LOCKWATCH_RUNTIME_DIR", "rel");
    let socket = here.join("rel/lockwatch.sock");
    let warning = format!(
        "LOCKWATCH_RUNTIME_DIR=rel is a relative path: {} is used",
        here.join("rel").display()
    );
    let mut d = daemon_in(&dir, "daemon", &here, &env);
    eventually("the daemon to answer", || {
        Client::connect(&socket, Duration::from_secs(2)).is_ok()
    });
    let log = d.output();
    assert!(
        log.contains(&warning) && log.contains(&format!("; socket {}", socket.display())),
        "{log}"
    );
    let (code, out, err) = cli_in(&dir, &here, &env, &["daemon", "--check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("socket {}", socket.display())) && err.contains(&warning),
        "{out}{err}"
    );
    let (code, _, _) = cli_in(&dir, &here, &env, &["daemon", "--stop"]);
    assert_eq!((code, d.wait_exit()), (0, 0), "{}", d.describe());
}
