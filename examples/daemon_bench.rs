//! Benchmark of the running daemon, printing figures (no assertions): detection latency from a
//! lock's acquisition/release to the state visible over IPC, and the daemon's idle cost (CPU
//! seconds per idle hour from schedstat nanoseconds, wakeups per second, RSS). Run by `bench/daemon.sh`, which builds in release and passes the
//! binary path; with `--tray` the daemon runs with its tray (needs a display).

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lockwatch::core::model::LockState;
use lockwatch::daemon::client::Client;
use lockwatch::daemon::protocol::{Request, Response};

/// CPU seconds (from the scheduler's nanoseconds, not 10 ms clock ticks) and wakeups
/// (voluntary context switches: each one is a sleep) of every thread of `pid`, and its RSS in
/// KiB.
fn cost(pid: u32) -> (f64, u64, u64) {
    let mut ns = 0u64;
    let mut wakeups = 0u64;
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    for task in tasks.flatten() {
        let sched = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        ns += sched
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        wakeups += field(&status, "voluntary_ctxt_switches:");
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    (ns as f64 / 1e9, wakeups, field(&status, "VmRSS:"))
}

/// The number after `name` in a `/proc/PID/status` text.
fn field(status: &str, name: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .expect("usage: daemon_bench BINARY [--tray] [--idle SECS] [--rounds N]");
    let tray = args.iter().any(|a| a == "--tray");
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let idle_secs = arg("--idle", 180);
    let rounds = arg("--rounds", 40) as usize;

    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    let lock = home.join(".package-cache");
    std::fs::write(&lock, "").unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("daemon")
        .env("CARGO_HOME", &home)
        .env("LOCKWATCH_CONFIG_DIR", dir.path().join("cfg"))
        .env("LOCKWATCH_DATA_DIR", dir.path().join("data"))
        .env("LOCKWATCH_RUNTIME_DIR", dir.path().join("run"))
        .env("LOCKWATCH_NOTIFY_ENABLED", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if !tray {
        cmd.arg("--headless");
    }
    let mut daemon = cmd.spawn().expect("start daemon");
    let socket = dir.path().join("run/lockwatch.sock");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sub = loop {
        if let Ok(c) = Client::connect(&socket, Duration::from_secs(5)) {
            break c;
        }
        assert!(Instant::now() < deadline, "daemon did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    sub.set_timeout(Some(Duration::from_secs(10)));
    assert!(matches!(
        sub.request(&Request::Subscribe),
        Ok(Response::Snapshot(_))
    ));
    let held = |sub: &mut Client, want: bool| loop {
        match sub.read_response() {
            Ok(Response::Snapshot(s)) => {
                let is_held = s
                    .report
                    .locks
                    .iter()
                    .any(|l| l.path == lock && l.state != LockState::Free);
                if is_held == want {
                    return;
                }
            }
            other => panic!("subscription broke: {other:?}"),
        }
    };

    let (mut acq, mut rel) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        std::thread::sleep(Duration::from_millis(150));
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&lock)
            .unwrap();
        let t = Instant::now();
        // SAFETY: flock on a descriptor this program owns.
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        held(&mut sub, true);
        acq.push(t.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(150));
        let t = Instant::now();
        drop(f);
        held(&mut sub, false);
        rel.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    drop(sub);

    let (cpu0, wake0, _) = cost(daemon.id());
    std::thread::sleep(Duration::from_secs(idle_secs));
    let (cpu1, wake1, rss) = cost(daemon.id());
    let per_hour = (cpu1 - cpu0) * 3600.0 / idle_secs as f64;
    let wakeups = (wake1 - wake0) as f64 / idle_secs as f64;

    println!(
        "daemon benchmark ({}; {rounds} rounds; idle window {idle_secs}s)",
        if tray { "tray" } else { "headless" }
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10}",
        "measure", "p50", "p95", "max"
    );
    println!(
        "{:<34} {:>8.1}ms {:>8.1}ms {:>8.1}ms",
        "acquire -> visible over IPC",
        percentile(&mut acq, 0.5),
        percentile(&mut acq, 0.95),
        percentile(&mut acq, 1.0)
    );
    println!(
        "{:<34} {:>8.1}ms {:>8.1}ms {:>8.1}ms",
        "release -> visible over IPC",
        percentile(&mut rel, 0.5),
        percentile(&mut rel, 0.95),
        percentile(&mut rel, 1.0)
    );
    println!(
        "{:<34} {:>10.2} (target <= 1.0)",
        "idle CPU seconds per hour", per_hour
    );
    println!(
        "{:<34} {:>10.2} (target <= 0.2)",
        "idle wakeups per second", wakeups
    );
    println!(
        "{:<34} {:>8.1}MB (target <= 20)",
        "RSS",
        rss as f64 / 1024.0
    );
    // SAFETY: the daemon is our child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let _ = daemon.wait();
}
