//! The daemon with real processes: a real flock holder and a real waiting `cargo`, the stale
//! verdict over time, `kill` through the socket, refusals, a busy holder that must not be called
//! stale, a restart mid-hold, and garbage on the socket. Each test runs its own daemon with a
//! temp config, socket, data dir and CARGO_HOME.

mod util;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use lockwatch::core::model::{
    IncidentReport, IncidentState, LockState, ProcState, Report, StaleReason,
};
use lockwatch::daemon::protocol::{Request, Response};
use lockwatch::kill::{KillReport, Refusal};
use util::daemon::{
    Daemon, daemon_env, flock_holder, flock_holder_ignoring_sigterm, flock_waiter, holder_of,
};
use util::{Dir, POLL_TIMEOUT};

#[test]
fn daemon_follows_a_hold_and_release_with_real_times() {
    let _serial = util::serial();
    let dir = Dir::new("follow");
    let lock = dir.write("cargo-home/.package-cache", "");
    let d = Daemon::start(&dir, "daemon");
    assert!(
        d.report()
            .locks
            .iter()
            .all(|l| l.path != lock || l.state == LockState::Free)
    );

    let holder = flock_holder(&dir, "holder", &lock);
    let r = d.wait_for("the hold", |r| {
        holder_of(r, &lock).is_some_and(|l| l.holders.iter().any(|h| h.pid == holder.pid))
    });
    let l = holder_of(&r, &lock).unwrap();
    assert_eq!(r.source, lockwatch::core::model::Source::Daemon);
    assert!(
        l.holders[0].held_for_secs.is_some(),
        "the daemon knows when the hold began"
    );
    std::thread::sleep(Duration::from_millis(1200));
    let r = d.report();
    let held = holder_of(&r, &lock).unwrap().holders[0]
        .held_for_secs
        .unwrap();
    assert!(held >= 1.0, "held_for_secs grows: {held}");

    // `status` (the CLI) answers from the daemon with the same hold time.
    let (code, out) = d.cli(&dir, &["status", "--json"]);
    let cli: Report = serde_json::from_str(&out).unwrap();
    assert_eq!(cli.source, lockwatch::core::model::Source::Daemon);
    // Exit 1 only if some lock on the machine looks stale (another user's or test's, not ours),
    // another Cargo home's package cache aside, as `status` counts it.
    let own = [dir.path("cargo-home")];
    let stale_here = (cli.incidents.iter())
        .any(|i| i.state == IncidentState::Stale && !lockwatch::core::words::is_foreign(i, &own));
    let expected = if stale_here {
        lockwatch::exit::STALE
    } else {
        lockwatch::exit::OK
    };
    assert_eq!(code, expected, "{out}");
    let ours = holder_of(&cli, &lock).expect("the CLI sees our hold");
    assert_eq!(ours.state, LockState::Held);
    assert!(ours.holders[0].held_for_secs.unwrap() >= 1.0);

    let holder_pid = holder.pid;
    drop(holder);
    d.wait_for("the release", |r| holder_of(r, &lock).is_none());
    // The log records this hold's acquisition and release with its duration (other cargos on
    // the machine may add their own lines; only ours are checked).
    let log = std::fs::read_to_string(dir.root.join("lockwatch/data/history.jsonl")).unwrap();
    let ours: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["path"] == lock.display().to_string() && e["holder"]["pid"] == holder_pid)
        .collect();
    assert_eq!(ours.len(), 2, "{ours:#?}");
    assert_eq!(ours[0]["event"], "acquired");
    assert_eq!(ours[1]["event"], "released");
    assert!(ours[1]["held_secs"].as_f64().unwrap() >= 1.0, "{ours:#?}");
    let (code, out) = d.cli(&dir, &["history", "--json"]);
    assert_eq!(code, 0, "{out}");
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(summary["holds"].as_u64().unwrap() >= 1, "{summary}");

    // A shell whose data directory is not the daemon's gets the daemon's history, said so,
    // not "nothing has happened since it started" (review J, K18).
    let elsewhere = dir.root.join("other-data");
    let history_here = |args: &[&str]| {
        let out = dir
            .command(env!("CARGO_BIN_EXE_cargo-lockwatch"))
            .args(args)
            .envs(d.env.iter().map(|(k, v)| (k, v)))
            .env("LOCKWATCH_DATA_DIR", &elsewhere)
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, out, err) = history_here(&["history"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        err.contains("this is the history of the running daemon"),
        "{err}"
    );
    assert!(!out.contains("No history yet"), "{out}");
    let (_, out, _) = history_here(&["history", "--json"]);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(summary["holds"].as_u64().unwrap() >= 1, "{summary}");
}

#[test]
fn suspended_holder_goes_stale_and_kill_lets_the_real_cargo_proceed() {
    let _serial = util::serial();
    let dir = Dir::new("stale-kill");
    let project = util::app_project(&dir);
    let (lock, d, holder) = daemon_seeing_a_held_cache(&dir);
    holder.stop();
    let cargo = util::lockfile_cargo(&dir, &project, "cargo");

    let r = d.wait_for("a stale holder with the cargo waiting", |r| {
        holder_of(r, &lock).is_some_and(|l| {
            l.state == LockState::Stale && l.waiters.iter().any(|w| w.pid == cargo.pid)
        })
    });
    let l = holder_of(&r, &lock).unwrap();
    let h = l
        .holders
        .iter()
        .find(|h| h.pid == holder.pid)
        .expect("the stopped flock is a holder");
    assert_eq!(h.stale_reasons, vec![StaleReason::Stopped]);
    assert!(l.waiters[0].waiting_for_secs.is_some());

    // Refusals first: the waiter, a process that holds nothing, and a reused pid.
    let (code, out) = d.cli(&dir, &["kill", &cargo.pid.to_string()]);
    assert_eq!(code, lockwatch::exit::REFUSED, "{out}");
    assert!(out.contains("WAITING"), "{out}");
    let bystander = dir.spawn("bystander", dir.command("sleep").arg("600"));
    let (code, out) = d.cli(&dir, &["kill", &bystander.pid.to_string()]);
    assert_eq!(code, lockwatch::exit::REFUSED, "{out}");
    assert!(out.contains("does not hold"), "{out}");
    let reused = d
        .client()
        .request(&Request::Kill {
            pid: holder.pid,
            start_token: Some(h.start_token + 1),
            force: false,
            grace_ms: None,
        })
        .unwrap();
    assert!(
        matches!(
            reused,
            Response::Kill(KillReport::Refused {
                refusal: Refusal::PidReused,
                ..
            })
        ),
        "{reused:?}"
    );
    assert_eq!(
        util::proc_state(holder.pid),
        Some('T'),
        "refusals signal nothing"
    );
    assert_eq!(util::proc_state(bystander.pid), Some('S'));

    // Now the real thing, through the CLI and the daemon.
    let (code, out) = d.cli(&dir, &["kill", &holder.pid.to_string()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("released its lock"), "{out}");
    assert!(
        out.contains(&format!("waiter {} proceeded", cargo.pid)),
        "{out}"
    );
    let deadline = Instant::now() + POLL_TIMEOUT;
    while !project.join("Cargo.lock").exists() {
        assert!(
            Instant::now() < deadline,
            "cargo never finished: {}",
            cargo.describe()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, out) = d.cli(&dir, &["history", "--json"]);
    assert_eq!(code, 0);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["killed"], 1, "{summary}");
    assert!(summary["stale"].as_u64().unwrap() >= 1, "{summary}");
}

/// A waiting cargo suspended (Ctrl-Z) and continued has waited since its first "Blocking": the
/// kernel drops a stopped process's lock request, and cargo's flock blocks anew when continued.
/// While stopped it is still a waiter, said stopped, though it holds no lock at all (a cargo
/// waiting for the package cache holds nothing else: review T, T4).
#[test]
fn a_waiter_suspended_and_continued_waits_since_its_first_blocking() {
    let _serial = util::serial();
    let dir = Dir::new("ctrl-z-waiter");
    let project = util::app_project(&dir);
    let (lock, d, holder) = daemon_seeing_a_held_cache(&dir);
    let cargo = util::lockfile_cargo(&dir, &project, "cargo");
    let waits = |r: &Report| {
        holder_of(r, &lock)
            .and_then(|l| l.waiters.iter().find(|w| w.pid == cargo.pid))
            .and_then(|w| w.waiting_for_secs)
    };
    d.wait_for("the cargo waiting", |r| waits(r).is_some());
    let first_seen = Instant::now();
    cargo.stop();
    let r = d.wait_for("the cargo said stopped while it waits", |r| {
        (r.incidents.iter().flat_map(|i| &i.blocked))
            .any(|b| b.process.pid == cargo.pid && b.process.process_state == ProcState::Stopped)
    });
    let i = (r.incidents.iter())
        .find(|i| i.blocked.iter().any(|b| b.process.pid == cargo.pid))
        .unwrap();
    assert_eq!(
        i.blocker.as_ref().map(|b| b.pid),
        Some(holder.pid),
        "{i:#?}"
    );
    // Longer than a waiter may be lost between two waits without being stopped.
    std::thread::sleep(Duration::from_secs(8));
    cargo.cont();
    let r = d.wait_for("the cargo waiting again", |r| waits(r).is_some());
    let waited = waits(&r).unwrap();
    assert!(
        waited + 0.5 >= first_seen.elapsed().as_secs_f64(),
        "waits {waited}s, though its first Blocking was {:?} ago",
        first_seen.elapsed()
    );
}

/// A waiting cargo suspended (Ctrl-Z) whose holder then lets go: the daemon shows it stopped on
/// a free lock, never as a holder, and its wait is the holder's in the history, not an
/// "unseen holder"'s (review T, T1).
#[test]
fn a_suspended_waiter_on_a_freed_lock_is_shown_and_its_wait_kept() {
    let _serial = util::serial();
    let dir = Dir::new("freed-under-ctrl-z");
    let project = util::app_project(&dir);
    let (lock, d, holder) = daemon_seeing_a_held_cache(&dir);
    let mut cargo = util::lockfile_cargo(&dir, &project, "cargo");
    let waits = |r: &Report| {
        (r.locks.iter())
            .find(|l| l.path == lock)
            .is_some_and(|l| l.waiters.iter().any(|w| w.pid == cargo.pid))
    };
    d.wait_for("the cargo waiting", waits);
    cargo.stop();
    drop(holder);
    let r = d.wait_for("the lock free, the stopped cargo still its waiter", |r| {
        waits(r)
            && r.locks
                .iter()
                .any(|l| l.path == lock && l.state == LockState::Free)
    });
    assert!(
        !(r.incidents.iter()).any(|i| i.blocker.as_ref().is_some_and(|b| b.pid == cargo.pid)),
        "{:#?}",
        r.incidents
    );
    cargo.cont();
    assert_eq!(cargo.wait_exit(), 0, "{}", cargo.describe());
    let (_, out) = d.cli(&dir, &["history", "--json"]);
    assert!(!out.contains("unseen holder"), "{out}");
    let summary: serde_json::Value = serde_json::from_str(&out).expect(&out);
    let rows = summary["blocked"].as_array().cloned().unwrap_or_default();
    assert!(
        rows.iter()
            .any(|r| r["blocker"] == "flock" && r["lock"] == lock.to_str().unwrap()),
        "the wait is the flock holder's: {out}"
    );
}

/// The test's package cache, a daemon watching it, and a `flock` holding it that the daemon
/// has seen: (package cache, daemon, holder).
fn daemon_seeing_a_held_cache(dir: &Dir) -> (std::path::PathBuf, Daemon, util::Proc) {
    let lock = dir.write("cargo-home/.package-cache", "");
    let d = Daemon::start(dir, "daemon");
    let holder = flock_holder(dir, "holder", &lock);
    d.wait_for("the hold", |r| holder_of(r, &lock).is_some());
    (lock, d, holder)
}

#[test]
fn busy_holder_over_the_same_window_is_not_stale() {
    let _serial = util::serial();
    let dir = Dir::new("busy");
    let lock = dir.write("cargo-home/.package-cache", "");
    let d = Daemon::start(&dir, "daemon");
    // flock waits for its child, which burns CPU: the tree is busy though the locker sleeps.
    let busy = dir.spawn(
        "busy",
        dir.command("flock")
            .arg("-x")
            .arg(&lock)
            .args(["sh", "-c", "while :; do :; done"]),
    );
    d.wait_for("the hold", |r| holder_of(r, &lock).is_some());
    // stale_after 3s, idle window 2s: an idle holder would be stale after ~4s.
    std::thread::sleep(Duration::from_secs(7));
    let r = d.report();
    let l = holder_of(&r, &lock).expect("still held");
    assert_eq!(l.state, LockState::Held, "{l:#?}");
    let h = l.holders.iter().find(|h| h.pid == busy.pid).unwrap();
    assert!(!h.stale && h.tree_cpu_secs > 2.0, "{h:#?}");
}

/// A loopback server that sends each client one byte every 200 ms while `flowing` is set,
/// and keeps the connection open (sending nothing) while it is not: a slow download.
struct Trickle {
    port: u16,
    flowing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Trickle {
    fn start() -> Trickle {
        use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let flowing = std::sync::Arc::new(AtomicBool::new(true));
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (f, s) = (flowing.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut clients = Vec::new();
            while !s.load(Relaxed) {
                if let Ok((c, _)) = listener.accept() {
                    clients.push(c);
                }
                if f.load(Relaxed) {
                    clients.retain_mut(|c| c.write_all(b"x").is_ok());
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Trickle {
            port,
            flowing,
            stop,
        }
    }
}

impl Drop for Trickle {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A project whose build script reads from `port` until `marker` exists: a build script
/// downloading something slowly (as a `-sys` crate fetching a prebuilt library does).
fn downloading_project(dir: &Dir, port: u16, marker: &std::path::Path) -> std::path::PathBuf {
    dir.write(
        "dl/Cargo.toml",
        "[package]\nname = \"dl\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    dir.write("dl/src/main.rs", "fn main() {}\n");
    dir.write(
        "dl/build.rs",
        &format!(
            "use std::io::Read;\nfn main() {{\n    \
             let mut s = std::net::TcpStream::connect((\"127.0.0.1\", {port})).unwrap();\n    \
             s.set_read_timeout(Some(std::time::Duration::from_millis(100))).unwrap();\n    \
             std::fs::write({started:?}, \"\").unwrap();\n    \
             let mut buf = [0u8; 64];\n    \
             while !std::path::Path::new({marker:?}).exists() {{ let _ = s.read(&mut buf); }}\n}}\n",
            started = util::started_file(marker),
        ),
    );
    dir.path("dl")
}

/// The incident in which `blocker` blocks `waiter`.
fn blocking(r: &Report, blocker: u32, waiter: u32) -> Option<&IncidentReport> {
    (r.incidents.iter()).find(|i| {
        i.blocker.as_ref().is_some_and(|b| b.pid == blocker)
            && i.blocked.iter().any(|w| w.process.pid == waiter)
    })
}

/// A build script receiving a slow download uses no CPU and writes nothing, yet works: never
/// stale. Once the bytes stop, its quiet tree looks stale only after `idle_child_after` (not
/// `stale_after`), with a verdict that says what it may be waiting on.
#[test]
fn a_build_script_s_download_is_work_and_its_silence_gets_idle_child_after() {
    let _serial = util::serial();
    let dir = Dir::new("download");
    let trickle = Trickle::start();
    let marker = dir.path("marker");
    let project = downloading_project(&dir, trickle.port, &marker);
    let d = Daemon::start_with(
        &dir,
        "daemon",
        &[("LOCKWATCH_STALE_IDLE_CHILD_AFTER", "6s")],
    );
    let mut build = dir.spawn("build", dir.cargo(&project).args(["build", "--offline"]));
    util::wait_file(&util::started_file(&marker), &[&build]);
    let mut waiter = dir.spawn("waiter", dir.cargo(&project).args(["build", "--offline"]));
    let (b, w) = (build.pid, waiter.pid);
    let blocks = |r: &Report| blocking(r, b, w).cloned();
    d.wait_for("the build blocking the waiter", |r| blocks(r).is_some());
    // stale_after 3s and idle_window 2s: an idle blocker would be stale within ~4 s; this
    // one receives a byte every 200 ms for 9 s.
    let flowing_until = Instant::now() + Duration::from_secs(9);
    while Instant::now() < flowing_until {
        let r = d.report();
        let i = blocks(&r).expect("still blocking");
        assert_ne!(i.state, IncidentState::Stale, "{}", i.verdict);
        std::thread::sleep(Duration::from_millis(200));
    }
    // The bytes stop; the connection stays open.
    trickle
        .flowing
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let quiet_since = Instant::now();
    let r = d.wait_for("the quiet build script to look stale", |r| {
        blocks(r).is_some_and(|i| i.state == IncidentState::Stale)
    });
    assert!(
        quiet_since.elapsed() >= Duration::from_secs(6),
        "stale after {:?} of quiet: before idle_child_after (6s)",
        quiet_since.elapsed()
    );
    let i = blocks(&r).unwrap();
    assert!(
        i.verdict
            .contains("running the build script of dl, yet its whole process tree"),
        "{}",
        i.verdict
    );
    std::fs::write(&marker, "").unwrap();
    assert_eq!(build.wait_exit(), 0, "{}", build.describe());
    assert_eq!(waiter.wait_exit(), 0, "{}", waiter.describe());
    drop((trickle, d));
}

#[test]
fn idle_holder_goes_stale_and_restart_keeps_the_hold_start() {
    let _serial = util::serial();
    let dir = Dir::new("restart");
    let lock = dir.write("cargo-home/.package-cache", "");
    let d = Daemon::start(&dir, "daemon");
    let holder = flock_holder(&dir, "holder", &lock);
    let r = d.wait_for("an idle holder to look stale", |r| {
        holder_of(r, &lock).is_some_and(|l| l.state == LockState::Stale)
    });
    let reasons = &holder_of(&r, &lock).unwrap().holders[0].stale_reasons;
    assert!(reasons.contains(&StaleReason::Idle), "{reasons:?}");
    let before = holder_of(&r, &lock).unwrap().holders[0]
        .held_for_secs
        .unwrap();

    // Stop the daemon (SIGTERM, clean shutdown) and start another one.
    let (code, out) = d.cli(&dir, &["daemon", "--stop"]);
    assert_eq!(code, 0, "{out}");
    let deadline = Instant::now() + POLL_TIMEOUT;
    while util::proc_state(d.proc.pid).is_some_and(|s| s != 'Z') {
        assert!(Instant::now() < deadline, "daemon did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!d.socket.exists(), "the socket is removed on exit");
    let d2 = Daemon::start(&dir, "daemon2");
    let r = d2.wait_for("the hold after restart", |r| holder_of(r, &lock).is_some());
    let after = holder_of(&r, &lock).unwrap().holders[0]
        .held_for_secs
        .unwrap();
    assert!(
        after >= before,
        "hold start survives a restart: {after} < {before}"
    );
    drop(holder);
}

#[test]
fn second_instance_is_refused_and_garbage_never_kills_the_daemon() {
    let _serial = util::serial();
    let dir = Dir::new("garbage");
    let d = Daemon::start(&dir, "daemon");
    let (code, out) = d.cli(&dir, &["daemon", "--headless"]);
    assert_eq!(
        code,
        lockwatch::exit::OK,
        "nothing to do is not a failure: {out}"
    );
    assert!(
        out.contains("already running") && out.contains(&d.proc.pid.to_string()),
        "{out}"
    );
    // Asked to watch a Cargo home the running one does not: not "nothing to do" (review M,
    // N11); one it watches already is.
    let other = dir.path("other-home");
    std::fs::create_dir_all(&other).unwrap();
    let other = other.display().to_string();
    let (code, out) = d.cli(&dir, &["daemon", "--headless", "--cargo-home", &other]);
    assert_eq!(code, lockwatch::exit::ERROR, "{out}");
    assert!(
        out.contains(&format!("does not watch {other}"))
            && out.contains("`[watch] cargo_homes`")
            && out.contains("SIGHUP")
            && !out.contains("nothing to do"),
        "{out}"
    );
    let own = dir.cargo_home.display().to_string();
    let (code, out) = d.cli(&dir, &["daemon", "--headless", "--cargo-home", &own]);
    assert_eq!(code, lockwatch::exit::OK, "{out}");

    let ask = |payload: &[u8]| -> String {
        let mut s = UnixStream::connect(&d.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(payload);
        let mut line = String::new();
        let _ = BufReader::new(s).read_line(&mut line);
        line
    };
    assert!(ask(b"this is not json\n").contains("malformed request"));
    assert!(ask(b"{\"type\":\"status\"}\n").contains("first message must be a hello"));
    assert!(
        ask(b"{\"type\":\"hello\",\"version\":999,\"client\":\"x\"}\n")
            .contains("version mismatch")
    );
    let mut big = vec![b'x'; 200 * 1024];
    big.push(b'\n');
    assert!(ask(&big).contains("longer than"));
    assert!(ask(&[0xff, 0xfe, 0x00, b'\n']).contains("error"));
    // Still alive and answering.
    let report = d.report();
    assert_eq!(report.source, lockwatch::core::model::Source::Daemon);
    assert!(
        report
            .locks
            .iter()
            .filter(|l| l.path.starts_with(&dir.root))
            .all(|l| l.state == LockState::Free)
    );
    let (code, _) = d.cli(&dir, &["daemon", "--check"]);
    assert_eq!(code, 0);
    let mode = std::fs::metadata(&d.socket)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .unwrap();
    assert_eq!(mode, 0o600);
}

#[test]
fn check_says_not_running_without_a_daemon() {
    let dir = Dir::new("norun");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-lockwatch"));
    cmd.args(["daemon", "--check"]).envs(daemon_env(&dir));
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(lockwatch::exit::NOT_RUNNING));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not running"));
}

#[test]
fn wait_times_out_while_held_and_returns_when_freed() {
    let _serial = util::serial();
    let dir = Dir::new("wait");
    let lock = dir.write("cargo-home/.package-cache", "");
    let env = daemon_env(&dir);
    let run_wait = |timeout: &str| {
        dir.command(env!("CARGO_BIN_EXE_cargo-lockwatch"))
            .args(["wait", "--timeout", timeout])
            .arg(&lock)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run wait")
    };
    let free = run_wait("5s");
    assert_eq!(
        free.status.code(),
        Some(lockwatch::exit::OK),
        "free lock: no wait"
    );

    let holder = flock_holder(&dir, "holder", &lock);
    util::wait_proc_locks("the flock holder", |t| {
        t.contains(&format!(" {} ", holder.pid))
    });
    let timed_out = run_wait("600ms");
    assert_eq!(timed_out.status.code(), Some(lockwatch::exit::TIMEOUT));
    let err = String::from_utf8_lossy(&timed_out.stderr);
    assert!(
        err.contains("package cache") && err.contains(&holder.pid.to_string()),
        "{err}"
    );

    let mut waiting = dir
        .command(env!("CARGO_BIN_EXE_cargo-lockwatch"))
        .args(["wait", "--timeout", "30s"])
        .arg(&lock)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn wait");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "still waiting while held"
    );
    drop(holder);
    let status = waiting.wait().unwrap();
    assert_eq!(status.code(), Some(lockwatch::exit::OK));
}

/// `--cargo-home` and `--project` add to what the daemon reports: their Cargo homes and their
/// free lock files (held ones the daemon sees anyway).
#[test]
fn extra_roots_are_added_to_the_daemons_report() {
    let _serial = util::serial();
    let dir = Dir::new("extra-roots");
    let d = Daemon::start(&dir, "daemon");
    let other_home = dir.path("other-home");
    let lock = dir.write("other-home/.package-cache", "");
    let home_arg = other_home.display().to_string();
    let (code, out) = d.cli(&dir, &["--json", "--all", "--cargo-home", &home_arg]);
    // 1 when a process elsewhere on this machine looks stale: status sees every lock.
    assert!(matches!(code, 0 | 1), "{code}: {out}");
    let r: lockwatch::core::model::Report = serde_json::from_str(&out).unwrap();
    assert_eq!(r.source, lockwatch::core::model::Source::Daemon);
    assert!(r.cargo_homes.contains(&other_home), "{:?}", r.cargo_homes);
    let l = r
        .locks
        .iter()
        .find(|l| l.path == lock)
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(l.state, LockState::Free);
    let (_, text) = d.cli(&dir, &["--cargo-home", &home_arg]);
    assert!(
        text.contains(&format!("Cargo home {}", dir.cargo_home.display())),
        "{text}"
    );
    assert!(text.contains(&home_arg), "the footer names it: {text}");
}

/// Paused ("Pause watching" in the menu), the daemon still answers with what it saw before:
/// `wait` and `status` look for themselves instead, and say why, so a held lock is never "free".
#[test]
fn a_paused_daemon_never_makes_a_held_lock_look_free() {
    let _serial = util::serial();
    let dir = Dir::new("paused");
    let lock = dir.write("cargo-home/.package-cache", "");
    let d = Daemon::start(&dir, "daemon");
    d.snapshot();
    d.client()
        .request(&Request::Pause { paused: true })
        .expect("pause");
    let deadline = Instant::now() + POLL_TIMEOUT;
    while !d.snapshot().paused {
        assert!(Instant::now() < deadline, "never paused");
        std::thread::sleep(Duration::from_millis(50));
    }
    let holder = flock_holder(&dir, "holder", &lock);
    util::wait_proc_locks("the flock holder", |t| {
        t.contains(&format!(" {} ", holder.pid))
    });
    let lock_arg = lock.display().to_string();
    let (code, out) = d.cli(&dir, &["wait", "--timeout", "600ms", &lock_arg]);
    assert_eq!(code, lockwatch::exit::TIMEOUT, "{out}");
    assert!(
        out.contains("paused") && out.contains(&holder.pid.to_string()),
        "{out}"
    );
    let (_, out) = d.cli(&dir, &["status", "--json"]);
    let json = &out[out.find('{').expect(&out)..];
    let report: Report = serde_json::Deserializer::from_str(json)
        .into_iter()
        .next()
        .expect(&out)
        .expect(&out);
    assert_eq!(report.source, lockwatch::core::model::Source::Scan, "{out}");
    assert_eq!(
        report.daemon,
        Some(lockwatch::core::model::DaemonAnswer::Paused),
        "{out}"
    );
    let (_, text) = d.cli(&dir, &["status"]);
    assert!(text.contains("the daemon is paused"), "{text}");
    // It runs (exit 0), and says its watching is paused; doctor warns.
    let (code, check) = d.cli(&dir, &["daemon", "--check"]);
    assert_eq!(code, lockwatch::exit::OK, "{check}");
    assert!(check.contains("its watching is paused"), "{check}");
    let doctor = doctor_socket_check(&d, &dir);
    assert_eq!(doctor["status"], "warn", "{doctor:#}");
    assert!(
        doctor["detail"]
            .as_str()
            .is_some_and(|t| t.contains("its watching is paused")),
        "{doctor:#}"
    );
    assert!(
        holder_of(&report, &lock).is_some_and(|l| l.holders.iter().any(|h| h.pid == holder.pid)),
        "{out}"
    );
}

/// Notifications snoozed from the menu: `status` says so under the view while they are (a stale
/// blocker would change the icon and notify nobody), and stops saying it once resumed.
#[test]
fn status_says_while_notifications_are_snoozed() {
    let _serial = util::serial();
    let dir = Dir::new("snoozed");
    dir.write("cargo-home/.package-cache", "");
    let d = Daemon::start(&dir, "daemon");
    d.snapshot();
    let until = lockwatch::scan::now() + 3_600.0;
    d.client()
        .request(&Request::Snooze { until: Some(until) })
        .expect("snooze");
    wait_for_snooze(&d, Some(until));
    let (_, text) = d.cli(&dir, &["status"]);
    assert!(
        text.contains("the daemon has notifications snoozed for 59m")
            || text.contains("the daemon has notifications snoozed for 1h"),
        "{text}"
    );
    d.client()
        .request(&Request::Snooze { until: None })
        .expect("resume notifications");
    wait_for_snooze(&d, None);
    let (_, text) = d.cli(&dir, &["status"]);
    assert!(!text.contains("notifications snoozed"), "{text}");
}

/// Waits until the daemon's snapshot carries `until` (the engine takes a command in its loop).
/// Compared to the millisecond: a float through JSON may come back one unit in the last place
/// off (serde_json's parser does not round-trip every float), which failed 1 run in 5.
fn wait_for_snooze(d: &Daemon, until: Option<f64>) {
    let deadline = Instant::now() + POLL_TIMEOUT;
    let same = |got: Option<f64>| match (got, until) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-3,
        (a, b) => a.is_none() && b.is_none(),
    };
    while !same(d.snapshot().snoozed_until) {
        assert!(
            Instant::now() < deadline,
            "the snooze never showed: {:?}\n{}",
            d.snapshot().problems,
            d.proc.describe()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first JSON document in a command's output (warnings on stderr may follow it).
fn first_json(out: &str) -> serde_json::Value {
    let json = &out[out.find('{').expect(out)..];
    serde_json::Deserializer::from_str(json)
        .into_iter()
        .next()
        .expect(out)
        .expect(out)
}

/// `doctor --json`'s check of the daemon socket.
fn doctor_socket_check(d: &Daemon, dir: &Dir) -> serde_json::Value {
    let (_, out) = d.cli(dir, &["doctor", "--json"]);
    let doc = first_json(&out);
    (doc["checks"].as_array().expect(&out).iter())
        .find(|c| c["name"] == "daemon socket")
        .unwrap_or_else(|| panic!("no daemon socket check: {out}"))
        .clone()
}

/// A daemon stopped with SIGSTOP takes connections but answers nothing: `status` scans directly
/// after its timeout and says it is stopped and how to continue it (the footer, stderr, and
/// `daemon` in the JSON), `daemon --check` exits 6 with the fix, `doctor` warns; continued, all
/// three recover.
#[test]
fn a_stopped_daemon_is_said_to_be_stopped_with_how_to_continue_it() {
    let _serial = util::serial();
    let dir = Dir::new("silent");
    let d = Daemon::start(&dir, "daemon");
    d.snapshot();
    let pid = d.proc.pid;
    let cont = format!("kill -CONT {pid}");
    stop_and_wait(&d.proc);
    let (code, out) = d.cli(&dir, &["status", "--json"]);
    let (text_code, text) = d.cli(&dir, &["status"]);
    let (check_code, check) = d.cli(&dir, &["daemon", "--check"]);
    let doctor = doctor_socket_check(&d, &dir);
    d.proc.resume();
    assert!(matches!(code, 0 | 1), "{out}");
    let doc = first_json(&out);
    assert_eq!(doc["source"], "scan", "{out}");
    assert_eq!(doc["daemon"], "stopped", "{out}");
    assert!(
        out.contains(&format!("(pid {pid}) is stopped")) && out.contains(&cont),
        "{out}"
    );
    assert!(!out.contains("needs a restart"), "{out}");
    assert!(matches!(text_code, 0 | 1), "{text}");
    assert!(
        text.contains(&format!(
            "the daemon is stopped (SIGSTOP or Ctrl-Z; continue it: `{cont}`)"
        )) && text.contains("from a one-off scan\n")
            && !text.contains("hold times need the daemon"),
        "{text}"
    );
    assert_eq!(check_code, lockwatch::exit::DAEMON_STOPPED, "{check}");
    assert!(
        check.starts_with("stopped: ") && check.contains(&cont),
        "{check}"
    );
    assert_eq!(doctor["status"], "warn", "{doctor:#}");
    assert_eq!(
        doctor["fix"],
        format!("continue it: `{cont}`"),
        "{doctor:#}"
    );

    // Continued, it answers again, everywhere.
    d.snapshot();
    let (_, out) = d.cli(&dir, &["status", "--json"]);
    let doc = first_json(&out);
    assert_eq!(
        (&doc["source"], &doc["daemon"]),
        (&"daemon".into(), &"answered".into()),
        "{out}"
    );
    let (code, check) = d.cli(&dir, &["daemon", "--check"]);
    assert_eq!(code, lockwatch::exit::OK, "{check}");
    assert!(
        check.starts_with(&format!("running: pid {pid}")) && !check.contains("paused"),
        "{check}"
    );
    let doctor = doctor_socket_check(&d, &dir);
    assert_eq!(doctor["status"], "ok", "{doctor:#}");
    // Not asked: said so.
    let (_, out) = d.cli(&dir, &["status", "--json", "--no-daemon"]);
    assert_eq!(first_json(&out)["daemon"], "not-asked", "{out}");

    // Stopped again, `--stop` still ends it (SIGTERM, then SIGCONT to act on it).
    let mut d = d;
    stop_and_wait(&d.proc);
    let (code, said) = d.cli(&dir, &["daemon", "--stop"]);
    assert_eq!(code, lockwatch::exit::OK, "{said}");
    assert!(said.contains("stopped for a request"), "{said}");
    assert_eq!(d.proc.wait_exit(), 0, "{}", d.proc.describe());
}

/// Stops `p` (SIGSTOP) and waits until the kernel says it is stopped.
fn stop_and_wait(p: &util::Proc) {
    p.stop();
    let deadline = Instant::now() + POLL_TIMEOUT;
    while util::proc_state(p.pid) != Some('T') {
        assert!(Instant::now() < deadline, "never stopped");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The incident whose blocker is `pid`, as `status --json` printed it (warnings may precede it).
fn incident_json(out: &str, pid: u32) -> serde_json::Value {
    let doc = first_json(out);
    let incidents = doc["incidents"].as_array().expect(out);
    (incidents.iter())
        .find(|i| i["blocker"]["pid"] == pid)
        .unwrap_or_else(|| panic!("no incident of {pid}: {out}"))
        .clone()
}

/// A holder that ignores SIGTERM itself (`trap '' TERM` survives `exec`): once it looks stale,
/// `status` offers `kill --force` and says why; `kill` says so at once and signals nothing
/// (after the same checks: a waiter is still refused as a waiter); `kill --force` lets the
/// waiter go on. An ordinary stale holder is offered the plain `kill`.
#[test]
fn a_holder_that_ignores_sigterm_is_offered_kill_force_up_front() {
    let _serial = util::serial();
    let dir = Dir::new("ignores-term");
    let lock = dir.write("cargo-home/.package-cache", "");
    let d = Daemon::start(&dir, "daemon");
    let holder = flock_holder_ignoring_sigterm(&dir, "holder", &lock);
    d.wait_for("the hold", |r| {
        holder_of(r, &lock).is_some_and(|l| l.holders.iter().any(|h| h.pid == holder.pid))
    });
    let waiter = flock_waiter(&dir, "waiter", &lock);
    d.wait_for("the stale holder with its waiter", |r| {
        holder_of(r, &lock).is_some_and(|l| {
            l.state == LockState::Stale && l.waiters.iter().any(|w| w.pid == waiter.pid)
        })
    });
    let pid = holder.pid;
    let (_, out) = d.cli(&dir, &["status", "--json"]);
    let i = incident_json(&out, pid);
    assert_eq!(i["blocker"]["sigterm"], "ignored", "{i:#}");
    assert_eq!(i["action"]["force"], true, "{i:#}");
    assert_eq!(
        i["action"]["command"],
        format!("cargo lockwatch kill --force {pid}"),
        "{i:#}"
    );
    let (_, text) = d.cli(&dir, &["status"]);
    assert!(
        text.contains(&format!(
            "    run      cargo lockwatch kill --force {pid}\n"
        )) && text.contains("(it ignores SIGTERM: only SIGKILL stops it"),
        "{text}"
    );

    // `kill` without --force: said at once, nothing signalled; the waiter is still a waiter.
    let (code, out) = d.cli(&dir, &["kill", &pid.to_string()]);
    assert_eq!(code, lockwatch::exit::REFUSED, "{out}");
    assert!(
        out.contains(&format!("refusing: {pid} ignores SIGTERM"))
            && out.contains(&format!("`cargo lockwatch kill --force {pid}`")),
        "{out}"
    );
    assert!(util::proc_state(pid).is_some_and(|s| s != 'Z'), "spared");
    let (code, out) = d.cli(&dir, &["kill", "--force", &waiter.pid.to_string()]);
    assert_eq!(code, lockwatch::exit::REFUSED, "{out}");
    assert!(out.contains("WAITING"), "{out}");
    let (code, out) = d.cli(&dir, &["kill", "--force", &pid.to_string()]);
    assert_eq!(code, lockwatch::exit::OK, "{out}");
    assert!(out.contains("SIGKILL"), "{out}");
    drop(holder);
    drop(waiter);

    // An ordinary holder: the plain `kill`.
    let plain = flock_holder(&dir, "plain", &lock);
    // Held before the waiter starts: else the waiter may take the lock first and be gone.
    d.wait_for("the plain hold", |r| {
        holder_of(r, &lock).is_some_and(|l| l.holders.iter().any(|h| h.pid == plain.pid))
    });
    let waiter = flock_waiter(&dir, "waiter2", &lock);
    d.wait_for("the ordinary stale holder with its waiter", |r| {
        holder_of(r, &lock).is_some_and(|l| {
            l.state == LockState::Stale
                && l.holders.iter().any(|h| h.pid == plain.pid)
                && l.waiters.iter().any(|w| w.pid == waiter.pid)
        })
    });
    let (_, out) = d.cli(&dir, &["status", "--json"]);
    let i = incident_json(&out, plain.pid);
    assert_eq!(i["blocker"]["sigterm"], "delivered", "{i:#}");
    assert_eq!(i["action"]["force"], false, "{i:#}");
    assert_eq!(
        i["action"]["command"],
        format!("cargo lockwatch kill {}", plain.pid),
        "{i:#}"
    );
    let (_, text) = d.cli(&dir, &["status"]);
    assert!(
        text.contains(&format!(
            "    run      cargo lockwatch kill {}\n",
            plain.pid
        )),
        "{text}"
    );
}

/// The free lock files of the watched projects are shared between the daemon's passes, and a
/// client still gets them all: each once, free after the held ones, a held one listed only as
/// held, each with its project; `status --all` lists and counts them.
#[test]
fn watched_projects_free_lock_files_reach_every_client_once() {
    let _serial = util::serial();
    let dir = Dir::new("free-projects");
    let projects: Vec<std::path::PathBuf> = (0..3)
        .map(|i| {
            dir.write(&format!("p{i}/Cargo.toml"), "[package]\n");
            dir.write(&format!("p{i}/target/debug/.cargo-lock"), "");
            dir.path(&format!("p{i}"))
        })
        .collect();
    let listed: Vec<String> = projects.iter().map(|p| format!("{p:?}")).collect();
    dir.write(
        "lockwatch/config/config.toml",
        &format!("[watch]\nprojects = [{}]\n", listed.join(", ")),
    );
    let lock = |i: usize| projects[i].join("target/debug/.cargo-lock");
    let d = Daemon::start(&dir, "daemon");
    let ours = |r: &Report| -> Vec<(std::path::PathBuf, LockState)> {
        (r.locks.iter())
            .filter(|l| projects.iter().any(|p| l.path.starts_with(p)))
            .map(|l| (l.path.clone(), l.state))
            .collect()
    };
    let free = |i: usize| (lock(i), LockState::Free);
    assert_eq!(ours(&d.report()), [free(0), free(1), free(2)]);

    let holder = flock_holder(&dir, "holder", &lock(1));
    let r = d.wait_for("the hold", |r| {
        holder_of(r, &lock(1)).is_some_and(|l| l.holders.iter().any(|h| h.pid == holder.pid))
    });
    assert_eq!(
        ours(&r),
        [(lock(1), LockState::Held), free(0), free(2)],
        "held first, then the others free; the held one not also free"
    );
    let (_, out) = d.cli(&dir, &["status", "--json"]);
    let cli: Report = serde_json::from_str(&out).unwrap();
    assert_eq!(ours(&cli), ours(&r));
    let projects_of: Vec<Option<std::path::PathBuf>> = (cli.locks.iter())
        .filter(|l| projects.iter().any(|p| l.path.starts_with(p)))
        .map(|l| l.project_dir.clone())
        .collect();
    assert_eq!(
        projects_of,
        [&projects[1], &projects[0], &projects[2]].map(|p| Some(p.clone()))
    );
    // The daemon says which roots it lists; the client lists only its own others.
    let snap = d.snapshot();
    let watched = snap
        .watched_projects
        .expect("the daemon names its watched projects");
    assert_eq!(*watched.0, projects);
    dir.write("extra/Cargo.toml", "[package]\n");
    dir.write("extra/target/release/.cargo-lock", "");
    let extra = dir.path("extra/target/release/.cargo-lock");
    let extra_root = dir.path("extra").display().to_string();
    let (_, out) = d.cli(&dir, &["status", "--json", "--project", &extra_root]);
    let cli: Report = serde_json::from_str(&out).unwrap();
    assert_eq!(ours(&cli), ours(&r), "each watched lock once");
    let listed = cli.locks.iter().filter(|l| l.path == extra).count();
    assert_eq!(listed, 1, "the caller's own project: {out}");
    let (_, text) = d.cli(&dir, &["status", "--all"]);
    assert!(text.contains(&lock(2).display().to_string()), "{text}");
    let (_, text) = d.cli(&dir, &["status"]);
    assert!(!text.contains(&lock(2).display().to_string()), "{text}");
    assert!(text.contains("free (--all lists them)."), "{text}");

    drop(holder);
    d.wait_for("the release", |r| ours(r) == [free(0), free(1), free(2)]);
}

/// The daemon notes the blockers its menu and notifications name, so that `kill PID` typed
/// from a notification acts on that very process: a pid that names another process since is
/// refused (the memo's token is made another process's here).
#[test]
fn the_daemon_notes_the_blockers_it_names_for_a_later_kill() {
    let _serial = util::serial();
    let dir = Dir::new("daemon-shown");
    let lock = dir.write("cargo-home/.package-cache", "");
    let d = Daemon::start(&dir, "daemon");
    let holder = flock_holder(&dir, "holder", &lock);
    util::wait_holder(&dir, &lock, holder.pid, &[&holder]);
    let waiter = flock_waiter(&dir, "waiter", &lock);
    d.wait_for("the incident", |r| {
        (r.incidents.iter()).any(|i| i.blocker.as_ref().is_some_and(|b| b.pid == holder.pid))
    });
    let memo = dir.path("lockwatch/run/shown.json");
    let noted = || {
        let text = std::fs::read_to_string(&memo).unwrap_or_default();
        serde_json::from_str::<Vec<serde_json::Value>>(&text).unwrap_or_default()
    };
    util::eventually("the blocker noted", || {
        noted().iter().any(|e| e["pid"] == holder.pid)
    });
    let mut shown = noted();
    for e in shown.iter_mut().filter(|e| e["pid"] == holder.pid) {
        e["start_token"] = (e["start_token"].as_u64().unwrap() + 1).into();
    }
    std::fs::write(&memo, serde_json::to_vec(&shown).unwrap()).unwrap();
    let (code, out) = d.cli(&dir, &["kill", &holder.pid.to_string()]);
    assert_eq!(code, lockwatch::exit::REFUSED, "{out}");
    assert!(out.contains("is no longer the flock shown"), "{out}");
    assert_eq!(holder.state(), 'S', "nothing was signalled");
    drop(waiter);
}

/// What `status` showed the user stays the reference for `kill PID` while the daemon notes the
/// process that holds that pid now: the daemon's record never replaces the terminal's (review
/// H, I1: a new build took the pid of the one `status` showed, the daemon noted the new one,
/// and `kill PID` typed from `status` stopped it). The pid's reuse is simulated by giving the
/// terminal's record another token.
#[test]
fn the_daemon_s_notes_never_replace_what_status_showed() {
    let _serial = util::serial();
    let dir = Dir::new("shown-apart");
    let lock = dir.write("cargo-home/.package-cache", "");
    let holder = flock_holder(&dir, "holder", &lock);
    util::wait_holder(&dir, &lock, holder.pid, &[&holder]);
    let waiter = flock_waiter(&dir, "waiter", &lock);
    let memo = dir.path("lockwatch/run/shown.json");
    let noted = || {
        let text = std::fs::read_to_string(&memo).unwrap_or_default();
        serde_json::from_str::<Vec<serde_json::Value>>(&text).unwrap_or_default()
    };
    // The user reads `status` (no daemon yet); as if what it showed had been another process.
    let mut status = dir.command(env!("CARGO_BIN_EXE_cargo-lockwatch"));
    status
        .args(["status", "--no-daemon"])
        .envs(daemon_env(&dir));
    assert!(status.output().unwrap().status.code().is_some());
    let mut shown = noted();
    let entry = (shown.iter_mut()).find(|e| e["pid"] == holder.pid);
    let entry = entry.expect("status noted the holder");
    entry["start_token"] = (entry["start_token"].as_u64().unwrap() + 1).into();
    std::fs::write(&memo, serde_json::to_vec(&shown).unwrap()).unwrap();
    // The daemon starts and notes the blocker it names: the process that has the pid now.
    let d = Daemon::start(&dir, "daemon");
    util::eventually("the daemon's note", || {
        noted()
            .iter()
            .any(|e| e["pid"] == holder.pid && e["by"] == "daemon")
    });
    let (code, out) = d.cli(&dir, &["kill", &holder.pid.to_string()]);
    assert_eq!(code, lockwatch::exit::REFUSED, "{out}");
    assert!(out.contains("is no longer the flock shown"), "{out}");
    assert_eq!(holder.state(), 'S', "nothing was signalled");
    drop(waiter);
}
