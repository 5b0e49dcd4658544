//! The macOS probe against real processes, on any Mac: `cargo test --test macos_real` is the
//! whole check (see docs/macos.md). Linux CI type-checks this file only.
//!
//! Lock holders are this very test binary, re-run as a helper (`helper_process` below, selected
//! by `LOCKWATCH_HELPER`), so nothing beyond the OS is needed: a holder that takes an flock with
//! `std::fs::File::lock`, a waiter blocked behind it, shared holders, a holder that hands its
//! descriptor to a child and exits, a stopped holder; plus kqueue's `NOTE_FUNLOCK` waking on a
//! release, and a real `cargo` hung on a loopback registry. Every helper is started by the test
//! in its own process group and killed and reaped when its guard drops.

#![cfg(target_os = "macos")]

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lockwatch::core::catalog::LockKind;
use lockwatch::core::model::{LockMode, LockSighting, ProcState};
use lockwatch::probe::{self, Targets};
use util::{Dir, HangServer, POLL_TIMEOUT, Proc, hung_project};

/// Not a test of its own: when `LOCKWATCH_HELPER` is set, this process becomes a lock holder
/// or waiter for the tests below, and never returns.
#[test]
fn helper_process() {
    let Ok(role) = std::env::var("LOCKWATCH_HELPER") else {
        return;
    };
    let path = PathBuf::from(std::env::var_os("LOCKWATCH_HELPER_FILE").expect("helper file"));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .expect("open the lock file");
    match role.as_str() {
        "exclusive" => file.lock().expect("lock"),
        "shared" => file.lock_shared().expect("lock shared"),
        "hand-off" => {
            file.lock().expect("lock");
            // Let a child inherit the locked descriptor, then exit: the child keeps the lock.
            use std::os::fd::AsRawFd;
            // SAFETY: clears FD_CLOEXEC on a descriptor this process owns.
            unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFD, 0) };
            Command::new("/bin/sleep")
                .arg("600")
                .spawn()
                .expect("spawn sleep");
            std::process::exit(0);
        }
        other => panic!("unknown helper role {other}"),
    }
    std::thread::sleep(Duration::from_secs(600));
    std::process::exit(0);
}

/// Starts this test binary as a helper holding (or waiting for) `file`.
fn helper(dir: &Dir, name: &str, role: &str, file: &Path) -> Proc {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "helper_process",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("LOCKWATCH_HELPER", role)
    .env("LOCKWATCH_HELPER_FILE", file);
    dir.spawn(name, &mut cmd)
}

/// Asks the probe until `pred` holds for the sighting of `file`.
fn wait_sighting(
    what: &str,
    file: &Path,
    procs: &[&Proc],
    pred: impl Fn(&LockSighting) -> bool,
) -> LockSighting {
    let mut p = probe::platform().expect("the macOS probe");
    let targets = Targets {
        known: vec![(file.to_path_buf(), LockKind::PackageCache)].into(),
        deep_on_contention: true,
    };
    let start = Instant::now();
    loop {
        let found = p
            .sightings(&targets)
            .expect("sightings")
            .into_iter()
            .find(|s| s.path == file);
        if let Some(s) = found.filter(|s| pred(s)) {
            return s;
        }
        if start.elapsed() > POLL_TIMEOUT {
            let who: Vec<String> = procs.iter().map(|p| p.describe()).collect();
            panic!("timed out waiting for {what}\n{}", who.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn pids(s: &LockSighting) -> Vec<u32> {
    s.holders.iter().map(|h| h.pid).collect()
}

#[test]
fn an_exclusive_holder_and_a_blocked_waiter() {
    let _serial = util::serial();
    let dir = Dir::new("mac-excl");
    let file = dir.write("cargo-home/.package-cache", "");
    let holder = helper(&dir, "holder", "exclusive", &file);
    wait_sighting("the holder", &file, &[&holder], |s| pids(s) == [holder.pid]);
    let waiter = helper(&dir, "waiter", "exclusive", &file);
    let s = wait_sighting("the waiter", &file, &[&holder, &waiter], |s| {
        s.waiters.iter().any(|w| w.pid == waiter.pid)
    });
    assert_eq!(pids(&s), [holder.pid], "{s:?}");
    assert_eq!(s.holders[0].mode, LockMode::Exclusive);
    assert!(!s.holders[0].inherited && !s.locker_gone);
    assert_eq!(s.unseen, None);

    // The process facts: the command line through sysinfo, the rest through libproc (see
    // docs/macos.md): the command line as started, the cwd, the parent, a start time.
    let mut p = probe::platform().expect("the macOS probe");
    let facts = p.process(holder.pid).expect("the holder's facts");
    assert_eq!(
        facts.cmd[1..],
        [
            "--exact",
            "helper_process",
            "--nocapture",
            "--test-threads=1"
        ],
        "{facts:?}"
    );
    let exe = std::env::current_exe().unwrap();
    assert_eq!(
        Path::new(&facts.cmd[0]).file_name(),
        exe.file_name(),
        "{facts:?}"
    );
    assert_eq!(facts.ppid, std::process::id(), "{facts:?}");
    assert_eq!(
        facts.cwd.as_deref().map(|c| c.canonicalize().unwrap()),
        Some(std::env::current_dir().unwrap().canonicalize().unwrap()),
        "{facts:?}"
    );
    assert!(facts.start_token > 0 && facts.started_at > 0.0, "{facts:?}");
    // SAFETY: getuid has no preconditions.
    assert_eq!(facts.uid, unsafe { libc::getuid() }, "{facts:?}");
}

#[test]
fn shared_holders_are_all_named() {
    let _serial = util::serial();
    let dir = Dir::new("mac-shared");
    let file = dir.write("cargo-home/.package-cache", "");
    let a = helper(&dir, "a", "shared", &file);
    let b = helper(&dir, "b", "shared", &file);
    let s = wait_sighting("two shared holders", &file, &[&a, &b], |s| {
        s.holders.len() == 2
    });
    let mut got = pids(&s);
    got.sort_unstable();
    let mut want = vec![a.pid, b.pid];
    want.sort_unstable();
    assert_eq!(got, want);
    assert!(s.holders.iter().all(|h| h.mode == LockMode::Shared));
}

#[test]
fn a_descriptor_inherited_from_an_exited_locker() {
    let _serial = util::serial();
    let dir = Dir::new("mac-inherit");
    let file = dir.write("cargo-home/.package-cache", "");
    let locker = helper(&dir, "locker", "hand-off", &file);
    let s = wait_sighting(
        "the child holding the inherited lock",
        &file,
        &[&locker],
        |s| !s.holders.is_empty() && s.holders.iter().all(|h| h.pid != locker.pid),
    );
    // The sleep the helper left behind holds it; macOS does not say which process took the
    // lock, so "locker gone" cannot be told without a holding ancestor.
    let mut p = probe::platform().unwrap();
    let f = p.process(s.holders[0].pid).unwrap();
    assert_eq!(f.name, "sleep");
    assert!(p.holds(f.pid, s.key).unwrap());
    // The sleep is in the helper's process group: the guard kills it.
    drop(locker);
}

#[test]
fn a_stopped_holder_is_seen_stopped() {
    let _serial = util::serial();
    let dir = Dir::new("mac-stop");
    let file = dir.write("cargo-home/.package-cache", "");
    let holder = helper(&dir, "holder", "exclusive", &file);
    wait_sighting("the holder", &file, &[&holder], |s| pids(s) == [holder.pid]);
    holder.stop();
    let mut p = probe::platform().unwrap();
    let start = Instant::now();
    while p.process(holder.pid).unwrap().state != ProcState::Stopped {
        assert!(start.elapsed() < POLL_TIMEOUT, "never seen stopped");
        std::thread::sleep(Duration::from_millis(50));
    }
    holder.resume();
}

#[test]
fn a_holder_on_a_cold_file_among_many_is_seen_within_the_sweep() {
    use lockwatch::daemon::quick_check::{COLD_PER_TICK, QuickCheck};
    let _serial = util::serial();
    let dir = Dir::new("mac-sweep");
    // 300 watched projects with a build lock each, nobody holding any.
    let projects: usize = 300;
    let roots: Vec<PathBuf> = (0..projects)
        .map(|i| dir.path(&format!("p{i:03}")))
        .collect();
    let known: std::sync::Arc<[(PathBuf, LockKind)]> = (0..projects)
        .map(|i| {
            let file = dir.write(&format!("p{i:03}/target/debug/.cargo-lock"), "");
            (file, LockKind::ProfileDirectory)
        })
        .collect();
    let mut q = QuickCheck::default();
    q.set_known(&known, &roots);
    let mut p = probe::platform().expect("the macOS probe");
    // One tick as the daemon runs it: the plan, the kernel's answers, the comparison.
    let mut tick = |q: &mut QuickCheck| -> (Vec<usize>, bool) {
        let now = Instant::now();
        let plan = q.plan(now);
        let paths: Vec<&Path> = plan.iter().filter_map(|i| q.path(*i)).collect();
        assert_eq!(paths.len(), plan.len());
        let answer = p.quick_looks(&paths).expect("macOS answers cheap looks");
        assert_eq!(answer.looks.len(), plan.len());
        let changed = q.observe(&plan, &answer.looks, now);
        (plan, changed)
    };
    let sweep = projects.div_ceil(COLD_PER_TICK);
    for _ in 0..sweep * 2 {
        let (plan, changed) = tick(&mut q);
        assert!(
            plan.len() <= COLD_PER_TICK,
            "all cold: {} looked at",
            plan.len()
        );
        assert!(!changed, "nothing is held: no change");
    }
    // A holder takes a file deep in the list; the cheap looks see it within one sweep.
    let target = 211;
    let file = known[target].0.clone();
    let holder = helper(&dir, "holder", "exclusive", &file);
    wait_sighting("the holder", &file, &[&holder], |s| pids(s) == [holder.pid]);
    let seen_at = (1..=sweep).find(|_| tick(&mut q).1);
    assert!(seen_at.is_some(), "not seen within {sweep} ticks");
    // Held, it is looked at every tick, and a hold that stays is no change.
    for _ in 0..sweep {
        let (plan, changed) = tick(&mut q);
        assert!(plan.contains(&target) && !changed);
    }
    // Its release is seen at the next tick.
    drop(holder);
    let start = Instant::now();
    loop {
        let (plan, changed) = tick(&mut q);
        assert!(plan.contains(&target));
        if changed {
            break;
        }
        assert!(start.elapsed() < POLL_TIMEOUT, "the release was never seen");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn kqueue_wakes_on_release() {
    let _serial = util::serial();
    let dir = Dir::new("mac-kqueue");
    let file = dir.write("cargo-home/.package-cache", "");
    let holder = helper(&dir, "holder", "exclusive", &file);
    wait_sighting("the holder", &file, &[&holder], |s| pids(s) == [holder.pid]);
    let (tx, rx) = mpsc::channel();
    let watcher = lockwatch::probe::macos_events::KqueueWatcher::spawn(Box::new(move |e| {
        let _ = tx.send(e);
    }))
    .expect("kqueue");
    watcher.watch_file(&file).expect("watch the lock file");
    drop(holder);
    let event = rx
        .recv_timeout(POLL_TIMEOUT)
        .expect("a kqueue event on release");
    assert!(
        matches!(event, lockwatch::probe::macos_records::KqueueEvent::LockFileChanged(ref p) if p == &file),
        "{event:?}"
    );
}

#[test]
fn a_real_cargo_hung_on_a_loopback_registry_holds_the_package_cache() {
    let _serial = util::serial();
    let dir = Dir::new("mac-hung");
    let server = HangServer::start();
    let project = hung_project(&dir, &server);
    let cargo = dir.spawn("cargo", dir.cargo(&project).arg("generate-lockfile"));
    let cache = dir.cargo_home.join(".package-cache");
    let s = wait_sighting("cargo holding the package cache", &cache, &[&cargo], |s| {
        pids(s) == [cargo.pid]
    });
    assert_eq!(s.holders[0].mode, LockMode::Exclusive);
    let second = dir.spawn("cargo-2", dir.cargo(&project).arg("generate-lockfile"));
    let s = wait_sighting(
        "the second cargo waiting",
        &cache,
        &[&cargo, &second],
        |s| s.waiters.iter().any(|w| w.pid == second.pid),
    );
    assert_eq!(pids(&s), [cargo.pid]);
    let status = dir.lockwatch().status();
    let i = status
        .incident_of(cargo.pid)
        .expect("an incident rooted at the hung cargo");
    assert!(i.blocked.iter().any(|b| b.process.pid == second.pid));
    drop((cargo, second, server));
}
