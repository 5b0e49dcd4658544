//! `cargo lockwatch status` against real processes: real cargos blocked on a hung loopback
//! registry and on each other's build directory, a suspended holder, a descriptor inherited from
//! an exited locker, a lock file deleted under its holder, and nothing held at all.
//!
//! Every process is started by the test, in its own process group, and killed and reaped when
//! its guard drops. Every cargo runs `--offline` (or against a loopback registry) with a Cargo
//! home inside the test's temp dir. Linux only: it reads the kernel's lock table.

#![cfg(target_os = "linux")]

mod util;

use std::fs;
use std::path::Path;
use std::time::Duration;

use lockwatch::core::catalog::LockKind;
use lockwatch::core::model::{
    Doing, LockMode, LockReport, LockState, ProcState, Report, Role, StaleReason,
};

use util::{
    BUILD_KINDS, Dir, HangServer, Proc, Status, hung_project, serial, start_hung_cargo, touch,
    wait_holder, wait_output, wait_status,
};

/// What `status` must exit with for this report: 1 if any lock on the machine looks stale
/// but one only about another Cargo home's package cache, else 0 (other cargos may run on
/// this machine; the test's own locks are checked separately).
fn expected_exit(report: &Report) -> i32 {
    let counts = |i: &&lockwatch::core::model::IncidentReport| {
        i.state == lockwatch::core::model::IncidentState::Stale
            && !lockwatch::core::words::is_foreign(i, &report.cargo_homes)
    };
    if report.incidents.iter().any(|i| counts(&i)) {
        1
    } else {
        0
    }
}

/// The build lock under `target` that `pid` holds, if status shows one.
fn build_lock_held_by<'a>(s: &'a Status, target: &Path, pid: u32) -> Option<&'a LockReport> {
    s.locks_under(target).into_iter().find(|l| {
        BUILD_KINDS.contains(&l.kind) && !l.deleted && l.holders.iter().any(|h| h.pid == pid)
    })
}

// a. A cargo hung on a registry that never answers holds the package cache; a second waits.
#[test]
fn hung_fetch_holds_package_cache_and_second_cargo_waits() {
    let _serial = serial();
    let dir = Dir::new("hung");
    let server = HangServer::start();
    let project = hung_project(&dir, &server);
    let cache = dir.cargo_home.join(".package-cache");

    let first = start_hung_cargo(&dir, &project, "cargo-1");
    let second = dir.spawn("cargo-2", dir.cargo(&project).arg("generate-lockfile"));
    let s = wait_status(&dir, "second cargo waiting", &[&first, &second], |s| {
        s.waits(&cache, second.pid)
    });
    // Cargo's own words for what it waits on match the lock's description.
    wait_output(&second, "Blocking waiting for file lock on package cache");

    let lock = s.lock(&cache).expect("package cache listed");
    assert_eq!(lock.kind, LockKind::PackageCache, "{}", s.pretty());
    assert_eq!(lock.description, "package cache");
    assert_eq!(lock.state, LockState::Contended, "{}", s.pretty());
    assert!(!lock.deleted);
    assert_eq!(lock.project_dir, None);
    assert_eq!(lock.holders.len(), 1, "{}", s.pretty());
    let h = &lock.holders[0];
    assert_eq!(h.pid, first.pid);
    assert_eq!(h.mode, LockMode::Exclusive);
    assert_eq!(h.name, "cargo");
    assert!(
        h.cmd.iter().any(|a| a == "generate-lockfile"),
        "{:?}",
        h.cmd
    );
    assert_eq!(h.cwd.as_deref(), Some(project.as_path()));
    assert!(!h.inherited);
    assert_eq!(h.process_state, ProcState::Sleeping, "{}", s.pretty());
    assert!(!h.stale && h.stale_reasons.is_empty(), "{}", s.pretty());
    assert_eq!(lock.waiters.len(), 1, "{}", s.pretty());
    assert_eq!(lock.waiters[0].pid, second.pid);
    assert_eq!(lock.waiters[0].mode, LockMode::Exclusive);
    assert!(
        lock.verdict
            .contains(&format!("held by cargo {}", first.pid)),
        "{}",
        lock.verdict
    );
    assert_eq!(lock.stop_command, None);
    assert_eq!(s.code(), expected_exit(&s.report), "{}", s.pretty());
    // What the blocker does: it waits on the registry, and the kernel says for how long
    // nothing has arrived.
    let i = s.incident_of(first.pid).expect("an incident");
    match &i.doing {
        Doing::Network {
            peer,
            idle_for_secs: Some(idle),
            ..
        } => {
            assert_eq!(peer, &format!("127.0.0.1:{}", server.port));
            assert!(*idle >= 0.0 && *idle < 600.0, "{idle}");
        }
        other => panic!("expected the network, got {other:?}\n{}", s.pretty()),
    }
    assert!(
        i.verdict.contains("waiting on the network (127.0.0.1:"),
        "{}",
        i.verdict
    );

    // Cross-check with the kernel's own table.
    let ino = util::inode(&cache);
    let table = fs::read_to_string("/proc/locks").unwrap();
    let line = |needle: &str| table.lines().any(|l| l.contains(needle));
    assert!(
        line(&format!("FLOCK  ADVISORY  WRITE {} ", first.pid)) && line(&format!(":{ino} ")),
        "{table}"
    );
    drop((first, second, server));
}

// b. Two builds of one project: the first holds the build directory, the second waits.
#[test]
fn two_builds_contend_for_the_build_directory() {
    let _serial = serial();
    let dir = Dir::new("builds");
    let marker = dir.path("marker");
    let project = util::sleepy_project(&dir, "sleepy", &marker);
    let target = project.join("target");
    let build = |name: &str| {
        let mut cmd = dir.cargo(&project);
        cmd.args(["build", "--offline"])
            .env("CARGO_TARGET_DIR", &target);
        dir.spawn(name, &mut cmd)
    };

    let first = build("build-1");
    wait_status(&dir, "first build holding a build lock", &[&first], |s| {
        build_lock_held_by(s, &target, first.pid).is_some()
    });
    let second = build("build-2");
    wait_output(&second, "Blocking waiting for file lock on");
    let s = wait_status(&dir, "second build waiting", &[&first, &second], |s| {
        s.locks_under(&target)
            .iter()
            .any(|l| l.waiters.iter().any(|w| w.pid == second.pid))
    });

    let lock = build_lock_held_by(&s, &target, first.pid).expect("build lock");
    assert!(BUILD_KINDS.contains(&lock.kind), "{}", s.pretty());
    assert_eq!(lock.state, LockState::Contended, "{}", s.pretty());
    assert_eq!(lock.project_dir.as_deref(), Some(project.as_path()));
    assert!(
        ["build directory", "artifact directory"].contains(&lock.description.as_str()),
        "{}",
        lock.description
    );
    assert_eq!(lock.holders.len(), 1, "{}", s.pretty());
    assert_eq!(lock.holders[0].mode, LockMode::Exclusive);
    assert!(!lock.holders[0].stale, "{}", s.pretty());
    assert_eq!(lock.waiters.len(), 1, "{}", s.pretty());
    assert_eq!(lock.waiters[0].pid, second.pid);
    assert_eq!(lock.waiters[0].mode, LockMode::Exclusive);
    // The kernel agrees: the holder's line and the waiter's `->` line on the same inode.
    let ino = util::inode(&lock.path);
    let table = fs::read_to_string("/proc/locks").unwrap();
    assert!(
        table.lines().any(
            |l| l.contains(&format!("FLOCK  ADVISORY  WRITE {} ", first.pid))
                && l.contains(&format!(":{ino} "))
        ),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l.contains("->")
            && l.contains(&format!(" {} ", second.pid))
            && l.contains(&format!(":{ino} "))),
        "{table}"
    );

    // Both compiles hold the package-cache mutation lock shared (cargo 1.75+), which is normal:
    // background, and the waiting build is a waiter there too, never a blocker.
    let mutate = dir.cargo_home.join(".package-cache-mutate");
    let m = s.lock(&mutate).expect("shared package cache listed");
    assert_eq!(m.kind, LockKind::PackageCacheMutate);
    assert_eq!(m.state, LockState::Background, "{}", s.pretty());
    let role = |pid: u32| m.holders.iter().find(|h| h.pid == pid).map(|h| h.role);
    assert_eq!(role(first.pid), Some(Role::Blocker), "{}", s.pretty());
    assert_eq!(role(second.pid), Some(Role::Blocked), "{}", s.pretty());
    let mut pids: Vec<u32> = m.holders.iter().map(|h| h.pid).collect();
    pids.sort_unstable();
    let mut want = vec![first.pid, second.pid];
    want.sort_unstable();
    assert_eq!(pids, want, "{}", s.pretty());
    assert!(
        m.holders
            .iter()
            .all(|h| h.mode == LockMode::Shared && !h.stale)
    );
    assert!(m.waiters.is_empty());
    assert_eq!(s.code(), expected_exit(&s.report), "{}", s.pretty());

    // End the build script: both builds finish and every lock of this test is free again.
    touch(&marker);
    let s = wait_status(&dir, "builds finished", &[&first, &second], |s| {
        let mine = s.locks_under(&dir.root);
        !mine.is_empty() && mine.iter().all(|l| l.state == LockState::Free)
    });
    assert!(!s.pids().contains(&first.pid) && !s.pids().contains(&second.pid));
}

// c. A suspended holder is stale, with exit code 1; resumed, it is busy again. Younger than
// `stopped_grace` it cannot have been stopped that long: STOPPED, not yet stale.
#[test]
fn stopped_holder_is_stale() {
    let _serial = serial();
    let dir = Dir::new("stopped");
    let server = HangServer::start();
    let project = hung_project(&dir, &server);
    let cache = dir.cargo_home.join(".package-cache");
    let cargo = start_hung_cargo(&dir, &project, "cargo");

    cargo.stop();
    let young = dir
        .lockwatch()
        .env("LOCKWATCH_STALE_STOPPED_GRACE", "1h")
        .run_raw(&[]);
    let headline = (young.stdout.lines())
        .find(|l| l.contains(&format!(" {} (stopped)", cargo.pid)) && !l.starts_with(' '))
        .unwrap_or_else(|| panic!("no incident of {}: {young:?}", cargo.pid));
    assert!(headline.starts_with("STOPPED "), "{}", young.stdout);
    let s = wait_status(&dir, "holder stopped", &[&cargo], |s| {
        s.lock(&cache).is_some_and(|l| l.state == LockState::Stale)
    });
    let lock = s.lock(&cache).unwrap();
    let h = &lock.holders[0];
    assert_eq!(h.pid, cargo.pid);
    assert_eq!(h.process_state, ProcState::Stopped, "{}", s.pretty());
    assert!(h.stale);
    assert!(
        h.stale_reasons.contains(&StaleReason::Stopped),
        "{}",
        s.pretty()
    );
    assert_eq!(
        lock.stop_command.as_deref(),
        Some(format!("cargo lockwatch resume {}", cargo.pid).as_str())
    );
    let i = s.incident_of(cargo.pid).expect("an incident");
    assert!(i.verdict.contains("Resume it"), "{}", i.verdict);
    assert_eq!(s.code(), 1, "{}", s.pretty());

    // The human view says the same, with the same exit code.
    let text = dir.lockwatch().run_raw(&[]);
    assert_eq!(text.code, 1, "{text:?}");
    assert!(text.stdout.contains("STALE"), "{}", text.stdout);
    assert!(text.stdout.contains("STOPPED"), "{}", text.stdout);

    cargo.resume();
    let s = wait_status(&dir, "holder resumed", &[&cargo], |s| {
        s.lock(&cache)
            .is_some_and(|l| l.state == LockState::Held && l.holders[0].pid == cargo.pid)
    });
    assert!(!s.lock(&cache).unwrap().holders[0].stale, "{}", s.pretty());
    drop((cargo, server));
}

/// Reads a pid a shell wrote into a file, waiting for it to appear.
fn read_pid(path: &Path) -> u32 {
    let start = std::time::Instant::now();
    loop {
        if let Some(pid) = fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            return pid;
        }
        assert!(start.elapsed() < util::POLL_TIMEOUT, "no pid in {path:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_inherited_holder(s: &Status, lock_path: &Path, pid: u32) {
    let lock = s
        .report
        .locks
        .iter()
        .find(|l| l.path == lock_path)
        .unwrap_or_else(|| panic!("{} not listed\n{}", lock_path.display(), s.pretty()));
    assert_eq!(lock.holders.len(), 1, "{}", s.pretty());
    let h = &lock.holders[0];
    assert_eq!(h.pid, pid);
    assert_eq!(h.name, "sleep");
    assert_eq!(h.mode, LockMode::Exclusive);
    assert!(h.inherited, "{}", s.pretty());
    assert!(h.stale);
    assert!(
        h.stale_reasons.contains(&StaleReason::LockerDead),
        "{}",
        s.pretty()
    );
    assert_eq!(lock.state, LockState::Stale);
    assert_eq!(s.code(), 1, "{}", s.pretty());
}

/// The pid the kernel's lock table names as the locker of `lock`.
fn kernel_locker(lock: &Path) -> u32 {
    let table = fs::read_to_string("/proc/locks").unwrap();
    let ino = util::inode(lock);
    table
        .lines()
        .find(|l| l.contains(&format!(":{ino} ")) && !l.contains("->"))
        .and_then(|l| l.split_whitespace().nth(4)?.parse().ok())
        .expect("lock line")
}

/// A shell that opens `lock` as fd 9, has `flock` (which then exits) lock it, leaves a
/// background `sleep` with the descriptor and exits; returns the shell and the sleep's pid.
fn hand_lock_to_background_child(dir: &Dir, lock: &Path) -> (Proc, u32) {
    let pid_file = dir.path("sleep.pid");
    let mut cmd = dir.command("bash");
    cmd.args([
        "-c",
        r#"exec 9>"$LOCK"; flock -x 9; sleep 300 & echo $! > "$PIDFILE"; exit"#,
    ])
    .env("LOCK", lock)
    .env("PIDFILE", &pid_file);
    let shell = dir.spawn("bash", &mut cmd);
    let sleeper = read_pid(&pid_file);
    (shell, sleeper)
}

// d. The process that took the lock exited; a background child kept the descriptor.
#[test]
fn inherited_descriptor_of_an_exited_locker() {
    let _serial = serial();
    let dir = Dir::new("inherited");
    let lock = dir.cargo_home.join(".package-cache");
    let (shell, sleeper) = hand_lock_to_background_child(&dir, &lock);

    let s = wait_holder(&dir, &lock, sleeper, &[&shell]);
    assert_inherited_holder(&s, &lock, sleeper);
    // The kernel still names the `flock` that took the lock, and it is gone.
    let locker = kernel_locker(&lock);
    assert_ne!(locker, sleeper);
    assert!(
        util::proc_state(locker).is_none(),
        "locker {locker} still exists"
    );
    // `kill` of the pid the kernel (and `lslocks`) names: nothing to signal, and it says who
    // holds the lock now (review AB, AB3).
    let out = dir.lockwatch().run(&["kill", &locker.to_string()]);
    assert_eq!(out.code, 4, "{out:?}");
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains(&format!(
            "there is no process {locker}: it took the package cache"
        )) && said.contains(&format!("sleep {sleeper} inherited its descriptor"))
            && said.contains(&format!("`cargo lockwatch kill {sleeper}`")),
        "{said}"
    );
    assert!(util::proc_state(sleeper).is_some(), "nothing was signalled");
    drop(shell); // kills the whole group, the background sleep included
}

// d'. Same on a build lock nobody listed up front: it is discovered through the process that
// kept the descriptor, since the locker's own descriptors are gone.
#[test]
fn inherited_build_lock_of_an_exited_locker_is_discovered() {
    let _serial = serial();
    let dir = Dir::new("inherited-build");
    dir.write(
        "proj/Cargo.toml",
        "[package]\nname = \"proj\"\nversion = \"0.1.0\"\n",
    );
    let lock = dir.write("proj/target/debug/.cargo-lock", "");
    let (shell, sleeper) = hand_lock_to_background_child(&dir, &lock);
    let s = wait_holder(&dir, &lock, sleeper, &[&shell]);
    assert_inherited_holder(&s, &lock, sleeper);
    let l = s.lock(&lock).unwrap();
    assert_eq!(l.kind, LockKind::ProfileDirectory);
    assert_eq!(l.project_dir.as_deref(), Some(dir.path("proj").as_path()));
    drop(shell);
}

// d''. Same, but the locker is an unreaped zombie: a zombie holds no descriptors, so the child
// that kept the descriptor is the holder, not the zombie.
#[test]
fn inherited_descriptor_of_a_zombie_locker() {
    let _serial = serial();
    let dir = Dir::new("zombie");
    let lock = dir.cargo_home.join(".package-cache");
    let pid_file = dir.path("sleep.pid");
    // flock(1) takes the lock, runs the command (which leaves `sleep` with the descriptor) and
    // exits; this test does not reap it until the end, so it stays a zombie.
    let mut cmd = dir.command("flock");
    cmd.arg("-x")
        .arg(&lock)
        .args(["-c", r#"sleep 300 & echo $! > "$PIDFILE""#])
        .env("PIDFILE", &pid_file);
    let locker = dir.spawn("flock", &mut cmd);
    let sleeper = read_pid(&pid_file);
    let start = std::time::Instant::now();
    while locker.state() != 'Z' {
        assert!(
            start.elapsed() < util::POLL_TIMEOUT,
            "{}",
            locker.describe()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = wait_holder(&dir, &lock, sleeper, &[&locker]);
    assert_inherited_holder(&s, &lock, sleeper);
    assert!(!s.pids().contains(&locker.pid), "{}", s.pretty());
    drop(locker);
}

/// What the last run wrote down of who holds `lock` after its locker died (holder pids).
fn remembered_heirs(dir: &Dir, lock: &Path) -> Option<Vec<u64>> {
    let text = fs::read_to_string(dir.path("lockwatch/run/heirs.json")).ok()?;
    let all: serde_json::Value = serde_json::from_str(&text).expect("heirs.json is JSON");
    let ino = util::inode(lock);
    let entry = all.as_array()?.iter().find(|h| h["ino"] == ino)?;
    Some(
        entry["holders"]
            .as_array()?
            .iter()
            .filter_map(|p| p.as_u64())
            .collect(),
    )
}

// d'''. Finding who inherited a dead locker's descriptor may read every process on the machine,
// so a run writes down the heir it found and the next checks it first; a wrong note costs a
// search, never a wrong answer; a lock that is free again is forgotten.
#[test]
fn the_next_run_checks_the_heir_the_last_one_found() {
    let _serial = serial();
    let dir = Dir::new("heir-memo");
    let lock = dir.cargo_home.join(".package-cache");
    let (shell, sleeper) = hand_lock_to_background_child(&dir, &lock);
    let s = wait_holder(&dir, &lock, sleeper, &[&shell]);
    assert_inherited_holder(&s, &lock, sleeper);
    assert_eq!(
        remembered_heirs(&dir, &lock),
        Some(vec![u64::from(sleeper)])
    );
    assert_inherited_holder(&dir.lockwatch().status(), &lock, sleeper);

    // A note naming a process that holds nothing (this test) is checked and replaced.
    let memo = dir.path("lockwatch/run/heirs.json");
    let wrong = format!(
        "[{{\"ino\":{},\"dead\":[{}],\"holders\":[{}]}}]",
        util::inode(&lock),
        kernel_locker(&lock),
        std::process::id()
    );
    fs::write(&memo, &wrong).unwrap();
    assert_inherited_holder(&dir.lockwatch().status(), &lock, sleeper);
    assert_eq!(
        remembered_heirs(&dir, &lock),
        Some(vec![u64::from(sleeper)])
    );

    // A note that is not understood is no note.
    fs::write(&memo, "\u{0}not json").unwrap();
    assert_inherited_holder(&dir.lockwatch().status(), &lock, sleeper);

    drop(shell); // kills the whole group, the background sleep included
    let s = wait_status(&dir, "lock free again", &[], |s| {
        s.lock(&lock).is_none_or(|l| l.holders.is_empty())
    });
    assert_eq!(remembered_heirs(&dir, &lock), None, "{}", s.pretty());
}

// d''''. Two children inherited the descriptor: the lock is free only once both let go. They
// are one blocker (one incident, rooted at one, naming the other), and `kill` of either stops
// both; the waiting real cargo then finishes.
#[test]
fn two_heirs_of_one_descriptor_are_named_together_and_stopped_together() {
    let _serial = serial();
    let dir = Dir::new("two-heirs");
    let lock = dir.cargo_home.join(".package-cache");
    let (first_file, second_file) = (dir.path("first.pid"), dir.path("second.pid"));
    let mut cmd = dir.command("bash");
    cmd.args([
        "-c",
        r#"exec 9>"$LOCK"; flock -x 9; sleep 300 & echo $! > "$FIRST"; sleep 300 & echo $! > "$SECOND"; exit"#,
    ])
    .env("LOCK", &lock)
    .env("FIRST", &first_file)
    .env("SECOND", &second_file);
    let shell = dir.spawn("bash", &mut cmd);
    let (first, second) = (read_pid(&first_file), read_pid(&second_file));
    let project = dir.path("app");
    fs::create_dir_all(project.join("src")).unwrap();
    fs::write(
        project.join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    fs::write(project.join("src/lib.rs"), "").unwrap();
    let mut cargo = dir.spawn(
        "cargo",
        dir.cargo(&project).args(["generate-lockfile", "--offline"]),
    );
    let s = wait_status(
        &dir,
        "cargo waiting behind both heirs",
        &[&shell, &cargo],
        |s| {
            s.waits(&lock, cargo.pid)
                && [first, second]
                    .iter()
                    .any(|p| s.incident_of(*p).is_some_and(|i| !i.locks.is_empty()))
        },
    );
    let ours: Vec<u32> = [first, second]
        .into_iter()
        .filter(|p| s.incident_of(*p).is_some())
        .collect();
    assert_eq!(ours, [first.min(second)], "one incident: {}", s.pretty());
    let (me, other) = (first.min(second), first.max(second));
    let i = s.incident_of(me).unwrap();
    assert_eq!(i.locks[0].shared_with, [other], "{}", s.pretty());
    assert!(
        i.blocked.iter().any(|b| b.process.pid == cargo.pid),
        "{}",
        s.pretty()
    );
    assert!(
        i.verdict.contains(&format!(
            "Process {other} holds the same lock through the same descriptor"
        )),
        "{}",
        s.pretty()
    );

    // The one the incident does not name first: it stops the pair all the same.
    let out = dir.lockwatch().run(&["kill", &other.to_string()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains(&format!("(with sleep {me}, sharing its descriptor)"))
            && out.stdout.contains("released its lock")
            && out
                .stdout
                .contains(&format!("waiter {} proceeded", cargo.pid)),
        "{out:?}"
    );
    for p in [first, second] {
        assert!(
            matches!(util::proc_state(p), None | Some('Z')),
            "{p} still runs"
        );
    }
    assert_eq!(cargo.wait_exit(), 0, "{}", cargo.describe());
    drop(shell);
}

// e. `cargo clean` under a running build: the holder keeps a deleted lock file.
#[test]
fn cargo_clean_under_a_running_build_leaves_a_deleted_lock() {
    let _serial = serial();
    let dir = Dir::new("clean");
    let marker = dir.path("marker");
    let project = util::sleepy_project(&dir, "sleepy", &marker);
    let target = project.join("target");
    let mut cmd = dir.cargo(&project);
    cmd.args(["build", "--offline"])
        .env("CARGO_TARGET_DIR", &target);
    let build = dir.spawn("build", &mut cmd);
    let s = wait_status(&dir, "build holding a build lock", &[&build], |s| {
        build_lock_held_by(s, &target, build.pid).is_some()
    });
    let held = build_lock_held_by(&s, &target, build.pid)
        .unwrap()
        .path
        .clone();
    // Clean only once the build script runs: cleaning while rustc compiles it fails the build.
    util::wait_file(&util::started_file(&marker), &[&build]);
    // A second build waits for that lock file, and keeps waiting on it once it is deleted.
    let mut cmd = dir.cargo(&project);
    cmd.args(["build", "--offline"])
        .env("CARGO_TARGET_DIR", &target);
    let waiter = dir.spawn("waiter", &mut cmd);
    wait_status(&dir, "the second build waiting", &[&build, &waiter], |s| {
        (s.report.locks.iter())
            .any(|l| l.path == held && l.waiters.iter().any(|w| w.pid == waiter.pid))
    });

    let mut cmd = dir.cargo(&project);
    cmd.args(["clean", "--offline"])
        .env("CARGO_TARGET_DIR", &target);
    let clean = dir.spawn("clean", &mut cmd);
    let s = wait_status(&dir, "lock file deleted", &[&build, &clean], |s| {
        s.report
            .locks
            .iter()
            .any(|l| l.path == held && l.deleted && l.holders.iter().any(|h| h.pid == build.pid))
    });
    assert!(!held.exists(), "cargo clean removed {}", held.display());
    let lock = s
        .report
        .locks
        .iter()
        .find(|l| l.path == held && l.deleted)
        .unwrap();
    // A working build is no stale one for its lock file being deleted: the verdict says what
    // that means, and no `run` line offers to kill it (review V, V2). The second build waits.
    assert_eq!(lock.state, LockState::Contended, "{}", s.pretty());
    assert_eq!(lock.project_dir.as_deref(), Some(project.as_path()));
    let h = &lock.holders[0];
    assert_eq!(h.pid, build.pid);
    assert!(!h.stale && h.stale_reasons.is_empty(), "{}", s.pretty());
    let i = (s.report.incidents.iter())
        .find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == build.pid))
        .expect("its incident");
    assert!(
        i.verdict.contains("Its lock file was deleted") && i.action.is_none(),
        "{}",
        s.pretty()
    );
    // Its shared package-cache lock was not deleted and is not stale.
    let m = s
        .lock(&dir.cargo_home.join(".package-cache-mutate"))
        .expect("shared package cache");
    assert!(
        !m.deleted && m.state == LockState::Background,
        "{}",
        s.pretty()
    );
    let text = dir.lockwatch().run_raw(&[]);
    assert!(text.stdout.contains("(deleted)"), "{}", text.stdout);
    assert!(
        text.stdout.contains("let it finish before building again")
            && !text
                .stdout
                .contains(&format!("cargo lockwatch kill {}", build.pid)),
        "{}",
        text.stdout
    );
    // `wait` here waits for that build: it still writes the directory, and a build started
    // now would not wait for it (review M, N15).
    let out = dir
        .lockwatch()
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", &target)
        .run(&["wait", "--json", "--timeout", "500ms"]);
    assert_eq!(out.code, lockwatch::exit::TIMEOUT, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["held_by"]["pid"], build.pid, "{v}");
    // It says why a build started now would go straight through (review Y, Y5).
    assert_eq!(v["held_by"]["deleted_lock"], true, "{v}");
    assert!(out.stderr.contains("its lock file was DELETED"), "{out:?}");
    assert_the_waiter_on_the_deleted_file_is_told_how_to_stop(&dir, i, waiter.pid, build.pid);
    touch(&marker);
    drop((build, clean, waiter));
}

/// The waiter queued on the deleted lock file would build beside any new build: the verdict
/// says how to stop it, and `kill`, which never stops a waiter, says the same instead of
/// "waiting is usually right" (review Y, Y10).
fn assert_the_waiter_on_the_deleted_file_is_told_how_to_stop(
    dir: &Dir,
    i: &lockwatch::core::model::IncidentReport,
    waiter: u32,
    holder: u32,
) {
    let stop = format!("Stop it (Ctrl-C in its terminal, or `kill -INT {waiter}`)");
    assert!(i.verdict.contains(&stop), "{}", i.verdict);
    let out = dir.lockwatch().run(&["kill", &waiter.to_string(), "--yes"]);
    assert_eq!(out.code, lockwatch::exit::REFUSED, "{out:?}");
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("`cargo lockwatch kill` never stops a waiter; to stop it, press Ctrl-C"),
        "{said}"
    );
    assert!(!said.contains("waiting is usually right"), "{said}");
    assert!(
        said.contains(&format!("deleted under cargo {holder} ")),
        "{said}"
    );
}

// f. Nothing held: the test's lock files are listed free; exit 0 unless some other process on
// this machine looks stale.
/// A process that named itself with an escape sequence and a newline (anyone may, through
/// `/proc/self/comm` or `prctl(PR_SET_NAME)`) holds the package cache and another waits:
/// `status` shows the name escaped on one line, `status --json` and `wait --json` give the real
/// name, `wait`'s line shows it escaped.
#[test]
fn a_name_with_control_characters_is_escaped_in_text_and_real_in_json() {
    let _serial = serial();
    let dir = Dir::new("odd-name");
    let lock = dir.write("cargo-home/.package-cache", "");
    let odd = "lw\u{1b}[31m\nx";
    // perl takes the lock, then renames itself (the holder is the process with the odd name).
    let script = r#"use Fcntl ":flock"; open(my $f, ">>", $ARGV[0]) or die "open: $!";
        flock($f, LOCK_EX) or die "flock: $!";
        open(my $c, ">", "/proc/self/comm") or die "comm: $!";
        print $c "lw\e[31m\nx"; close($c) or die "comm: $!"; sleep 600"#;
    let mut cmd = dir.command("perl");
    cmd.args(["-e", script]).arg(&lock);
    let holder = dir.spawn("holder", &mut cmd);
    wait_status(&dir, "the renamed holder", &[&holder], |s| {
        s.lock(&lock).is_some_and(|l| {
            l.holders
                .iter()
                .any(|h| h.pid == holder.pid && h.name == odd)
        })
    });
    let (_waiter, s) = util::waiter_behind(&dir, &lock, &holder);
    let i = s.incident_of(holder.pid).expect("an incident");
    assert_eq!(i.blocker.as_ref().unwrap().name, odd, "{}", s.pretty());
    assert!(
        s.raw.stdout.contains(r#""name": "lw\u001b[31m\nx""#),
        "{}",
        s.raw.stdout
    );

    let text = dir.lockwatch().run_raw(&["--all"]).stdout;
    assert!(!text.contains('\u{1b}'), "{text}");
    let shown = format!("lw\\x1b[31m\\nx {}", holder.pid);
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(&shown)).collect();
    // The headline, the blocker line, the verdict and the lock's holder line, each whole.
    assert!(lines.len() >= 3, "{text}");
    assert!(text.contains(&format!("    blocker  {shown} · ")), "{text}");
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("x ")),
        "a name's newline broke a line: {text}"
    );

    // `wait` says who holds it: escaped on its line, real in its JSON.
    let lock_arg = lock.display().to_string();
    let out = dir
        .lockwatch()
        .run(&["wait", "--json", "--timeout", "300ms", &lock_arg]);
    assert_eq!(out.code, 3, "{out:?}");
    let doc: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect(&out.stdout);
    assert_eq!(doc["held_by"]["name"], odd, "{doc}");
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
    assert!(out.stderr.contains(&shown), "{:?}", out.stderr);
}

/// Holds `lock` exclusively in a perl process until killed.
fn perl_holder(dir: &Dir, name: &str, lock: &Path) -> Proc {
    let script = r#"use Fcntl ":flock"; open(my $f, ">>", $ARGV[0]) or die "open: $!";
        flock($f, LOCK_EX) or die "flock: $!"; sleep 600"#;
    let mut cmd = dir.command("perl");
    cmd.args(["-e", script]).arg(lock);
    dir.spawn(name, &mut cmd)
}

// F5: another Cargo home's package cache is named by its home, and the reader's own comes first.
#[test]
fn another_homes_package_cache_is_named_and_comes_after_the_readers_own() {
    let _serial = serial();
    let dir = Dir::new("two-homes");
    let theirs = dir.path("their-home");
    let their_lock = dir.write("their-home/.package-cache", "");
    let own_lock = dir.write("cargo-home/.package-cache", "");
    // Theirs is taken first, so it would come first in the report's own order.
    let them = perl_holder(&dir, "theirs", &their_lock);
    wait_holder(&dir, &their_lock, them.pid, &[&them]);
    let me = perl_holder(&dir, "mine", &own_lock);
    wait_holder(&dir, &own_lock, me.pid, &[&them, &me]);

    let their_arg = theirs.display().to_string();
    let out = dir
        .lockwatch()
        .run_raw(&["--no-daemon", "--cargo-home", &their_arg]);
    let head = |pid: u32| {
        let pid = format!(" {pid} holds the ");
        out.stdout.lines().position(|l| l.contains(&pid))
    };
    let (mine_at, theirs_at) = (head(me.pid), head(them.pid));
    assert!(mine_at.is_some() && theirs_at.is_some(), "{}", out.stdout);
    assert!(mine_at < theirs_at, "{}", out.stdout);
    // The headline ends with how long it has been held: `…, up 0s`.
    let what = |at: Option<usize>| {
        let line = out.stdout.lines().nth(at.unwrap_or_default());
        line.and_then(|l| l.split(',').next()).unwrap_or_default()
    };
    assert!(
        what(mine_at).ends_with("holds the package cache"),
        "{}",
        out.stdout
    );
    assert!(
        what(theirs_at).ends_with(&format!("holds the package cache of {their_arg}")),
        "{}",
        out.stdout
    );

    // JSON names each lock's Cargo home.
    let s = dir
        .lockwatch()
        .env("LOCKWATCH_WATCH_CARGO_HOMES", &theirs)
        .status();
    let home = |p: &Path| s.lock(p).and_then(|l| l.cargo_home.clone());
    assert_eq!(home(&their_lock), Some(theirs.clone()), "{}", s.pretty());
    assert_eq!(
        home(&own_lock),
        Some(dir.cargo_home.clone()),
        "{}",
        s.pretty()
    );
}

#[test]
fn nothing_held_lists_free_locks() {
    let _serial = serial();
    let dir = Dir::new("free");
    dir.write("cargo-home/.package-cache", "");
    dir.write("cargo-home/.package-cache-mutate", "");
    let s = dir.lockwatch().status();
    let mine = s.locks_under(&dir.root);
    let kinds: Vec<LockKind> = mine.iter().map(|l| l.kind).collect();
    assert_eq!(
        kinds,
        [LockKind::PackageCache, LockKind::PackageCacheMutate],
        "{}",
        s.pretty()
    );
    for l in mine {
        assert_eq!(l.state, LockState::Free);
        assert!(l.holders.is_empty() && l.waiters.is_empty());
        assert_eq!(l.verdict, "free");
    }
    assert_eq!(s.report.cargo_homes, std::slice::from_ref(&dir.cargo_home));
    assert_eq!(s.code(), expected_exit(&s.report), "{}", s.pretty());
    assert!(s.raw.stderr.is_empty(), "{}", s.raw.stderr);

    let text = dir.lockwatch().run_raw(&["--all"]);
    assert_eq!(text.code, s.code(), "{text:?}");
    assert!(text.stdout.contains("free"), "{}", text.stdout);
    assert!(
        text.stdout
            .contains(&format!("Cargo home {}", dir.cargo_home.display())),
        "{}",
        text.stdout
    );
}

#[test]
fn missing_cargo_home_is_not_an_error() {
    let _serial = serial();
    let dir = Dir::new("missing");
    let missing = dir.path("no-such-cargo-home");
    let s = dir.lockwatch().cargo_home(&missing).status();
    assert_eq!(s.report.cargo_homes, std::slice::from_ref(&missing));
    assert!(s.locks_under(&dir.root).is_empty(), "{}", s.pretty());
    assert_eq!(s.code(), expected_exit(&s.report), "{}", s.pretty());
    assert!(!s.raw.stderr.contains("panicked"), "{}", s.raw.stderr);
    let text = dir.lockwatch().cargo_home(&missing).run_raw(&[]);
    assert_eq!(text.code, s.code(), "{text:?}");
    assert!(!text.stderr.contains("panicked"), "{}", text.stderr);
    assert!(
        text.stdout
            .contains(&format!("Cargo home {}", missing.display())),
        "{}",
        text.stdout
    );
    assert!(!missing.exists(), "status must not create the Cargo home");
}

// g. The JSON shape of a contended lock, pinned with pids, times and paths redacted.
#[test]
fn json_shape_snapshot() {
    let _serial = serial();
    let dir = Dir::new("snapshot");
    let cache = dir.cargo_home.join(".package-cache");
    dir.write("cargo-home/.package-cache-mutate", "");
    let flock = |name: &str| {
        let mut cmd = dir.command("flock");
        // -o: the lock stays with flock itself, not with the sleep it runs.
        cmd.arg("-x").arg("-o").arg(&cache).args(["sleep", "300"]);
        dir.spawn(name, &mut cmd)
    };
    let holder = flock("holder");
    wait_holder(&dir, &cache, holder.pid, &[&holder]);
    let waiter = flock("waiter");
    let s = wait_status(&dir, "waiter", &[&holder, &waiter], |s| {
        s.waits(&cache, waiter.pid)
    });

    // Keep this test's locks only, and make paths and pids stable.
    let mut json = s.json.clone();
    json["locks"].as_array_mut().unwrap().retain(|l| {
        l["path"]
            .as_str()
            .is_some_and(|p| p.starts_with(dir.root.to_str().unwrap()))
    });
    json["incidents"]
        .as_array_mut()
        .unwrap()
        .retain(|i| i["blocker"]["pid"] == holder.pid);
    assert_eq!(json["schema_version"], 2);
    let root = dir.root.to_str().unwrap().to_string();
    // The holder's child (`sleep`, named in what it is doing) is a pid too.
    let child = json["incidents"][0]["doing"]["pid"].as_u64().unwrap_or(0) as u32;
    let pids = [holder.pid, waiter.pid, child];
    normalize(&mut json, &root, &pids);
    insta::assert_json_snapshot!("contended_package_cache", json, {
        ".observed_at" => "[time]",
        ".incidents[].id" => "[id]",
        ".incidents[].chain[]" => "[pid]",
        ".incidents[].blocker.pid" => "[pid]",
        ".incidents[].blocker.start_token" => "[token]",
        ".incidents[].blocker.uid" => "[uid]",
        ".incidents[].blocker.user" => "[user]",
        ".incidents[].blocker.running_for_secs" => "[secs]",
        ".incidents[].blocker.tree_cpu_secs" => "[secs]",
        ".incidents[].blocker.origin" => "[origin]",
        ".incidents[].blocker.origin_via" => "[origin]",
        ".incidents[].blocked[].process.pid" => "[pid]",
        ".incidents[].blocked[].process.start_token" => "[token]",
        ".incidents[].blocked[].process.uid" => "[uid]",
        ".incidents[].blocked[].process.user" => "[user]",
        ".incidents[].blocked[].process.running_for_secs" => "[secs]",
        ".incidents[].blocked[].process.tree_cpu_secs" => "[secs]",
        ".incidents[].blocked[].process.origin" => "[origin]",
        ".incidents[].blocked[].process.origin_via" => "[origin]",
        ".incidents[].blocked[].waits_for[]" => "[pid]",
        ".incidents[].doing.pid" => "[pid]",
        ".locks[].holders[].pid" => "[pid]",
        ".locks[].holders[].ppid" => "[pid]",
        ".locks[].holders[].start_token" => "[token]",
        ".locks[].holders[].running_for_secs" => "[secs]",
        ".locks[].holders[].tree_cpu_secs" => "[secs]",
        // Ancestry and origin depend on how the tests were started (terminal, CI, IDE).
        ".locks[].holders[].ancestors" => "[ancestors]",
        ".locks[].holders[].origin" => "[origin]",
        ".locks[].holders[].origin_via" => "[origin]",
        ".locks[].waiters[].pid" => "[pid]",
        ".locks[].waiters[].origin" => "[origin]",
    });
    drop((holder, waiter));
}

/// Replaces the temp root in every string with `[ROOT]` and every whole-number pid in a string
/// with `[PID]`.
fn normalize(v: &mut serde_json::Value, root: &str, pids: &[u32]) {
    match v {
        serde_json::Value::String(s) => {
            let replaced = s.replace(root, "[ROOT]");
            let mut out = String::new();
            let mut digits = String::new();
            let flush = |digits: &mut String, out: &mut String| {
                if digits.parse::<u32>().is_ok_and(|n| pids.contains(&n)) {
                    out.push_str("[PID]");
                } else {
                    out.push_str(digits);
                }
                digits.clear();
            };
            for c in replaced.chars() {
                if c.is_ascii_digit() {
                    digits.push(c);
                } else {
                    flush(&mut digits, &mut out);
                    out.push(c);
                }
            }
            flush(&mut digits, &mut out);
            *s = out;
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| normalize(x, root, pids)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| normalize(x, root, pids)),
        _ => {}
    }
}

/// Two projects share one `build.build-dir` (cargo 1.87+): the second build waits for the
/// shared dir's lock, which cargo calls the "build directory" and so does status, with its
/// directory, since no project owns it.
#[test]
fn two_projects_sharing_a_build_dir_wait_for_the_build_directory() {
    let _serial = serial();
    let dir = Dir::new("shared-build-dir");
    let daemon = util::daemon::Daemon::start(&dir, "daemon");
    let marker = dir.path("marker");
    let shared = dir.path("shared-bdir");
    let config = format!("[build]\nbuild-dir = {:?}\n", shared.display().to_string());
    let projects: Vec<std::path::PathBuf> = ["pp", "qq"]
        .iter()
        .map(|name| {
            let p = util::sleepy_project(&dir, name, &marker);
            dir.write(&format!("{name}/.cargo/config.toml"), &config);
            p
        })
        .collect();
    let build = |p: &Path, name: &str| {
        let mut cmd = dir.cargo(p);
        cmd.args(["build", "--offline"])
            .env_remove("CARGO_TARGET_DIR");
        dir.spawn(name, &mut cmd)
    };
    let first = build(&projects[0], "build-pp");
    let shared_lock = shared.join("debug/.cargo-lock");
    wait_status(&dir, "pp holding the shared build dir", &[&first], |s| {
        s.lock(&shared_lock)
            .is_some_and(|l| l.holders.iter().any(|h| h.pid == first.pid))
    });
    let second = build(&projects[1], "build-qq");
    wait_output(&second, "Blocking waiting for file lock on build directory");
    let s = wait_status(&dir, "qq waiting", &[&first, &second], |s| {
        s.lock(&shared_lock)
            .is_some_and(|l| l.waiters.iter().any(|w| w.pid == second.pid))
    });
    let lock = s.lock(&shared_lock).unwrap();
    assert_eq!(lock.description, "build directory", "{}", s.pretty());
    let incident = (s.report.incidents.iter())
        .find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == first.pid))
        .unwrap_or_else(|| panic!("{}", s.pretty()));
    let waiter = (incident.blocked.iter())
        .find(|b| b.process.pid == second.pid)
        .unwrap_or_else(|| panic!("{}", s.pretty()));
    assert_eq!(waiter.lock_description, "build directory");
    let text = dir.lockwatch().run_raw(&["--no-daemon"]).stdout;
    assert!(
        text.contains(&format!(
            "· build directory {}",
            shared.join("debug").display()
        )),
        "{text}"
    );
    touch(&marker);
    wait_status(&dir, "builds finished", &[&first, &second], |s| {
        s.locks_under(&dir.root)
            .iter()
            .all(|l| l.state == LockState::Free)
    });
    // The history row says the blocker built another project: what the advice on a shared
    // dir is made of (review P, R8).
    let start = std::time::Instant::now();
    let row = loop {
        let (code, out) = daemon.cli(&dir, &["history", "--json"]);
        assert_eq!(code, 0, "{out}");
        let summary: serde_json::Value = serde_json::from_str(&out).expect(&out);
        let row = (summary["blocked"].as_array().into_iter().flatten())
            .find(|r| r["lock"] == shared_lock.display().to_string())
            .cloned();
        match row {
            Some(row) => break row,
            None if start.elapsed() > Duration::from_secs(20) => panic!("no row: {summary:#}"),
            None => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    assert_eq!(row["project"], projects[1].display().to_string(), "{row:#}");
    assert_eq!(
        row["blocker_project"],
        projects[0].display().to_string(),
        "{row:#}"
    );
}

/// A project with its own `build.build-dir`: its `cargo check` takes only the build dir's lock
/// and a `cargo build` then waits for it, printing "build directory" (cargo ≤ 1.95; before it
/// takes its target dir's): status names the lock so for the waiter too, read from the
/// project's Cargo config (the waiting build holds nothing in its target dir yet), and so
/// does the daemon's history.
#[test]
fn a_build_waiting_behind_a_check_for_a_configured_build_dir_says_build_directory() {
    let _serial = serial();
    let dir = Dir::new("check-build-dir");
    let daemon = util::daemon::Daemon::start(&dir, "daemon");
    let marker = dir.path("marker");
    let bdir = dir.path("bdir");
    let project = util::sleepy_project(&dir, "rr", &marker);
    let config = format!("[build]\nbuild-dir = {:?}\n", bdir.display().to_string());
    dir.write("rr/.cargo/config.toml", &config);
    let cargo = |sub: &str, name: &str| {
        let mut cmd = dir.cargo(&project);
        cmd.args([sub, "--offline"]).env_remove("CARGO_TARGET_DIR");
        dir.spawn(name, &mut cmd)
    };
    let check = cargo("check", "check-rr");
    let lock = bdir.join("debug/.cargo-lock");
    wait_status(&dir, "the check holding the build dir", &[&check], |s| {
        s.lock(&lock)
            .is_some_and(|l| l.holders.iter().any(|h| h.pid == check.pid))
    });
    let build = cargo("build", "build-rr");
    wait_output(&build, "Blocking waiting for file lock on build directory");
    let s = wait_status(&dir, "the build waiting", &[&check, &build], |s| {
        s.lock(&lock)
            .is_some_and(|l| l.waiters.iter().any(|w| w.pid == build.pid))
    });
    assert_eq!(s.lock(&lock).unwrap().description, "build directory");
    let waiter = (s.report.incidents.iter())
        .flat_map(|i| &i.blocked)
        .find(|b| b.process.pid == build.pid)
        .unwrap_or_else(|| panic!("{}", s.pretty()));
    assert_eq!(waiter.lock_description, "build directory", "{}", s.pretty());
    touch(&marker);
    wait_status(&dir, "both finished", &[&check, &build], |s| {
        s.locks_under(&dir.root)
            .iter()
            .all(|l| l.state == LockState::Free)
    });
    // The daemon writes the wait down once it sees it end.
    let row_of = |summary: &serde_json::Value| {
        (summary["blocked"].as_array().into_iter().flatten())
            .find(|r| r["lock"] == lock.display().to_string())
            .cloned()
    };
    let start = std::time::Instant::now();
    let row = loop {
        let (code, out) = daemon.cli(&dir, &["history", "--json"]);
        assert_eq!(code, 0, "{out}");
        let summary: serde_json::Value = serde_json::from_str(&out).expect(&out);
        match row_of(&summary) {
            Some(row) => break row,
            None if start.elapsed() > Duration::from_secs(20) => {
                panic!("no row for {}: {summary:#}", lock.display())
            }
            None => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    assert_eq!(row["lock_description"], "build directory", "{row:#}");
}
