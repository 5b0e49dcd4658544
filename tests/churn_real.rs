//! A lock held continuously for two minutes while other locks churn around it: the daemon must
//! record one acquisition and no release. (The kernel hands `/proc/locks` out a page at a time;
//! under churn a line could be skipped by one read, which once logged a spurious release and
//! re-acquire and reset the hold time.)
//!
//! The daemon reads the lock table every 200 ms throughout (its idle interval is shortened: a
//! quiet hold alone would be read once per 15 s), about 600 reads of a churning table.
//! `LOCKWATCH_SOAK_SECS` changes the two minutes; CI runs the full length.

#![cfg(target_os = "linux")]

mod util;

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use util::Dir;
use util::daemon::{Daemon, flock_holder, holder_of};

/// Locks `n` files in `dir` for as long as `stop` is unset: all held throughout (`steady`), or
/// locked and unlocked every 10 ms.
fn lock_files(
    dir: &std::path::Path,
    prefix: &str,
    n: usize,
    steady: bool,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let files: Vec<File> = (0..n)
        .map(|i| File::create(dir.join(format!("{prefix}-{i}"))).expect("create churn file"))
        .collect();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            for f in &files {
                f.lock().expect("lock churn file");
            }
            std::thread::sleep(Duration::from_millis(10));
            if steady {
                continue;
            }
            for f in &files {
                f.unlock().expect("unlock churn file");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })
}

#[test]
fn a_continuous_hold_under_churn_is_one_hold() {
    let _serial = util::serial();
    let secs: u64 = std::env::var("LOCKWATCH_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let dir = Dir::new("churn");
    let lock = dir.write("cargo-home/.package-cache", "");
    let d = Daemon::start_with(
        &dir,
        "daemon",
        &[("LOCKWATCH_WATCH_IDLE_POLL_INTERVAL", "200ms")],
    );
    let holder = flock_holder(&dir, "holder", &lock);
    d.wait_for("the hold", |r| holder_of(r, &lock).is_some());

    // Enough steady locks that the table spans pages, and newer ones churning in front.
    let churn_dir = dir.path("churn");
    std::fs::create_dir_all(&churn_dir).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let threads = [
        lock_files(&churn_dir, "steady", 120, true, Arc::clone(&stop)),
        lock_files(&churn_dir, "churn", 40, false, Arc::clone(&stop)),
    ];
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(5));
        assert_eq!(
            util::proc_state(holder.pid).map(|s| s != 'Z'),
            Some(true),
            "the holder must live throughout"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }

    let r = d.report();
    let held = holder_of(&r, &lock)
        .and_then(|l| l.holders.iter().find(|h| h.pid == holder.pid))
        .and_then(|h| h.held_for_secs)
        .expect("still held");
    assert!(
        held >= secs as f64,
        "the hold time was reset: {held} < {secs}"
    );
    let log = std::fs::read_to_string(dir.root.join("lockwatch/data/history.jsonl")).unwrap();
    let ours: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["path"] == lock.display().to_string() && e["holder"]["pid"] == holder.pid)
        .collect();
    let events: Vec<&str> = ours
        .iter()
        .filter_map(|e| e["event"].as_str())
        .filter(|e| matches!(*e, "acquired" | "released"))
        .collect();
    assert_eq!(events, ["acquired"], "one hold, no release: {ours:#?}");
}
