//! Who blocks whom, with real cargo processes: two builds on one project (the waiter also holds
//! the package-cache mutation lock shared), a stopped holder killed while another project's build
//! shares that lock, an orphaned waiter, a holder and a waiter inside a PID namespace whose init
//! is a shell, a build script that leaves a daemon on cargo's stdout, a build script running a
//! nested `cargo build` on the same target dir, and a build waiting behind successive holders.
//! Each is checked through `status --json` (a one-off scan), and where time matters through a
//! daemon with short thresholds and the menu model built from its snapshot.
//!
//! Every process is started by the test, in its own process group, and killed and reaped when
//! its guard drops; every cargo runs `--offline` with a Cargo home inside the test's temp dir.

#![cfg(target_os = "linux")]

mod util;

use std::path::{Path, PathBuf};
use std::time::Duration;

use lockwatch::core::model::{
    Deadlock, Doing, IncidentReport, IncidentState, LeftBy, PackageFrom, Report, Role, StaleReason,
};
use lockwatch::ui::menu::{Entry, MenuModel, MenuState};
use util::daemon::Daemon;
use util::{Dir, Proc, serial, touch, wait_file, wait_output, wait_status};

/// Every holder row of `pid` in the report is a waiter's row: blocked, never stale.
fn assert_waiter_everywhere(r: &Report, pid: u32) {
    for l in &r.locks {
        for h in l.holders.iter().filter(|h| h.pid == pid) {
            assert_eq!(
                h.role,
                Role::Blocked,
                "{pid} in {}: {h:#?}",
                l.path.display()
            );
            assert!(!h.stale, "{pid} called stale in {}", l.path.display());
        }
    }
    for i in &r.incidents {
        assert!(
            i.blocker.as_ref().is_none_or(|b| b.pid != pid),
            "{pid} named as a blocker: {i:#?}"
        );
        assert!(i.action.as_ref().is_none_or(|a| a.pid != pid), "{i:#?}");
        assert!(i.culprit.as_ref().is_none_or(|c| c.pid != pid), "{i:#?}");
    }
}

fn incident_of(r: &Report, pid: u32) -> Option<&IncidentReport> {
    r.incidents
        .iter()
        .find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == pid))
}

fn blocks(r: &Report, blocker: u32, waiter: u32) -> bool {
    incident_of(r, blocker).is_some_and(|i| i.blocked.iter().any(|b| b.process.pid == waiter))
}

/// Every item id of a menu, with its label.
fn menu_items(m: &MenuModel) -> Vec<(String, String)> {
    fn walk(es: &[Entry], out: &mut Vec<(String, String)>) {
        for e in es {
            match e {
                Entry::Item { id, label, .. } | Entry::Check { id, label, .. } => {
                    out.push((id.clone(), label.clone()))
                }
                Entry::Submenu { entries, .. } => walk(entries, out),
                Entry::Separator => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(&m.entries, &mut out);
    out
}

/// The action items (not information lines) that act on `pid`.
fn actions_on(m: &MenuModel, pid: u32) -> Vec<String> {
    let marker = format!("/{pid}/");
    menu_items(m)
        .into_iter()
        .filter(|(id, _)| !id.starts_with("info/") && id.contains(&marker))
        .map(|(id, _)| id)
        .collect()
}

/// A binary project whose build script writes `<marker>.started`, then waits for `marker`;
/// `busy` makes it spin on the CPU meanwhile (a build at work), otherwise it sleeps.
fn project(dir: &Dir, name: &str, marker: &Path, busy: bool) -> PathBuf {
    let pause = if busy {
        "std::hint::spin_loop();"
    } else {
        "std::thread::sleep(std::time::Duration::from_millis(100));"
    };
    dir.write(
        &format!("{name}/Cargo.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"
        ),
    );
    dir.write(&format!("{name}/src/main.rs"), "fn main() {}\n");
    dir.write(
        &format!("{name}/build.rs"),
        &format!(
            "fn main() {{\n    let marker = std::path::Path::new({marker:?});\n    \
             std::fs::write({started:?}, \"\").unwrap();\n    \
             let start = std::time::Instant::now();\n    \
             while !marker.exists() && start.elapsed().as_secs() < 120 {{ {pause} }}\n}}\n",
            started = util::started_file(marker),
        ),
    );
    dir.path(name)
}

/// `cargo build --offline` of `project` into `target`.
/// A project `app` with this build script.
fn app_with_build_script(dir: &Dir, build_rs: &str) -> PathBuf {
    dir.write(
        "app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    dir.write("app/src/main.rs", "fn main() {}\n");
    dir.write("app/build.rs", build_rs);
    dir.path("app")
}

fn build(dir: &Dir, name: &str, project: &Path, target: &Path) -> Proc {
    let mut cmd = dir.cargo(project);
    cmd.args(["build", "--offline"])
        .env("CARGO_TARGET_DIR", target);
    dir.spawn(name, &mut cmd)
}

// 1. Two real builds on one project: the second waits for the build directory and holds the
// package-cache mutation lock shared. It is a waiter everywhere, in the one-off status, in the
// daemon after the stale window, in `kill` and in the menu.
#[test]
fn two_builds_the_waiter_is_never_a_holder_never_stale_never_offered() {
    let _serial = serial();
    let dir = Dir::new("two-builds");
    let marker = dir.path("marker");
    let app = project(&dir, "app", &marker, true);
    let target = app.join("target");
    let first = build(&dir, "build-1", &app, &target);
    wait_file(&util::started_file(&marker), &[&first]);
    let second = build(&dir, "build-2", &app, &target);
    wait_output(&second, "Blocking waiting for file lock on");

    let s = wait_status(
        &dir,
        "second build blocked by the first",
        &[&first, &second],
        |s| blocks(&s.report, first.pid, second.pid),
    );
    let i = incident_of(&s.report, first.pid).unwrap();
    assert_eq!(i.state, IncidentState::Blocking, "{}", s.pretty());
    assert_eq!(i.chain, vec![second.pid, first.pid]);
    assert!(
        matches!(i.doing, Doing::BuildScript { ref crate_name } if crate_name == "app"),
        "{:?}",
        i.doing
    );
    assert!(
        i.verdict.starts_with(&format!(
            "cargo {} is busy: running the build script of app",
            first.pid
        )),
        "{}",
        i.verdict
    );
    assert_waiter_everywhere(&s.report, second.pid);
    let mutate = s
        .lock(&dir.cargo_home.join(".package-cache-mutate"))
        .expect("mutation lock listed");
    assert!(
        mutate.holders.iter().any(|h| h.pid == second.pid),
        "the waiter holds it shared"
    );
    let text = dir.lockwatch().run_raw(&[]).stdout;
    assert!(
        text.contains(&format!("cargo build in {} (", util_tilde(&app)))
            && text.contains(&format!("pid {}) waits", second.pid)),
        "{text}"
    );

    assert_eq!(s.report.source, lockwatch::core::model::Source::Scan);

    // The stale window passes (stale_after 3s, idle window 2s): the waiter, idle because it
    // waits, is never stale; the busy blocker is not either.
    let d = Daemon::start(&dir, "daemon");
    std::thread::sleep(Duration::from_secs(6));
    let r = d.wait_for("the daemon's view of both builds", |r| {
        blocks(r, first.pid, second.pid)
    });
    assert_waiter_everywhere(&r, second.pid);
    assert_eq!(
        incident_of(&r, first.pid).unwrap().state,
        IncidentState::Blocking
    );
    assert!(
        incident_of(&r, first.pid).unwrap().blocked[0]
            .waiting_for_secs
            .unwrap()
            >= 5.0,
        "the daemon times the wait"
    );

    // kill refuses the waiter, names the build it waits for and says waiting is right (that
    // build is busy); nothing is signalled.
    let (code, out) = d.cli(&dir, &["kill", &second.pid.to_string()]);
    assert_eq!(code, lockwatch::exit::REFUSED, "{out}");
    assert!(
        out.contains("WAITING")
            && out.contains(&format!("It waits for cargo {}", first.pid))
            && out.contains("waiting is usually right"),
        "{out}"
    );
    let (code, out) = d.cli(&dir, &["resume", &second.pid.to_string()]);
    assert_eq!(code, lockwatch::exit::REFUSED, "{out}");
    assert!(out.contains("resuming it does nothing"), "{out}");
    assert_ne!(util::proc_state(second.pid), Some('Z'));

    // The menu model, built from the daemon's snapshot, offers the waiter nothing.
    let snap = d.snapshot();
    let m = MenuState::new().build(&snap, snap.report.observed_at);
    assert!(
        actions_on(&m, second.pid).is_empty(),
        "{:#?}",
        menu_items(&m)
    );
    // The busy blocker is offered, behind a confirming click (waiting is usually right).
    assert!(
        actions_on(&m, first.pid)
            .iter()
            .any(|id| id.starts_with("terminate-arm/")),
        "{:#?}",
        menu_items(&m)
    );

    touch(&marker);
    let (mut first, mut second) = (first, second);
    assert_eq!(first.wait_exit(), 0, "{}", first.describe());
    assert_eq!(second.wait_exit(), 0, "{}", second.describe());
}

fn util_tilde(p: &Path) -> String {
    lockwatch::core::text::tilde(p)
}

// 2. A stopped holder is killed while another project's build holds the mutation lock shared:
// the kill succeeds (that shared co-holder is unrelated) and the waiter proceeds.
#[test]
fn killing_a_stopped_blocker_succeeds_beside_another_projects_shared_hold() {
    let _serial = serial();
    let dir = Dir::new("stopped-kill");
    let (other_marker, marker) = (dir.path("other-marker"), dir.path("marker"));
    let other = project(&dir, "other", &other_marker, false);
    let app = project(&dir, "app", &marker, false);
    let d = Daemon::start(&dir, "daemon");
    let bystander = build(&dir, "other-build", &other, &other.join("target"));
    wait_file(&util::started_file(&other_marker), &[&bystander]);

    let first = build(&dir, "build-1", &app, &app.join("target"));
    wait_file(&util::started_file(&marker), &[&first]);
    first.stop_group();
    std::fs::remove_file(util::started_file(&marker)).unwrap();
    let mut second = build(&dir, "build-2", &app, &app.join("target"));
    wait_output(&second, "Blocking waiting for file lock on");
    let r = d.wait_for(
        "a stale, stopped blocker with the second build waiting",
        |r| {
            blocks(r, first.pid, second.pid)
                && incident_of(r, first.pid).unwrap().state == IncidentState::Stale
        },
    );
    let i = incident_of(&r, first.pid).unwrap();
    assert_eq!(i.stale_reasons, vec![StaleReason::Stopped]);
    assert_eq!(i.doing, Doing::Stopped);
    let a = i.action.as_ref().unwrap();
    assert!(a.resume && a.command == format!("cargo lockwatch resume {}", first.pid));
    assert_waiter_everywhere(&r, second.pid);
    let mutate = dir.cargo_home.join(".package-cache-mutate");
    assert!(
        r.locks
            .iter()
            .any(|l| l.path == mutate && l.holders.iter().any(|h| h.pid == bystander.pid)),
        "the other project's build shares the mutation lock"
    );

    let (code, out) = d.cli(&dir, &["kill", &first.pid.to_string()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("released its lock"), "{out}");
    assert!(
        out.contains(&format!("waiter {} proceeded", second.pid)),
        "{out}"
    );
    wait_file(&util::started_file(&marker), &[&second]);
    touch(&marker);
    assert_eq!(second.wait_exit(), 0, "{}", second.describe());
    touch(&other_marker);
}

/// The build script a cargo is running (its child named `build-script-*`).
fn build_script_of(cargo: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
        let ppid: u32 = rest.split(' ').nth(1)?.parse().ok()?;
        (ppid == cargo && comm.starts_with("build-script")).then_some(pid)
    })
}

#[test]
fn a_stopped_build_script_is_named_and_resume_continues_it() {
    // Only the build script is stopped (a SIGTTIN from reading the terminal in the background
    // does this): cargo runs on, waiting for it, and holds the build directory meanwhile.
    let _serial = serial();
    let dir = Dir::new("stopped-script");
    let marker = dir.path("marker");
    let app = project(&dir, "app", &marker, false);
    let d = Daemon::start(&dir, "daemon");
    let mut first = build(&dir, "build-1", &app, &app.join("target"));
    wait_file(&util::started_file(&marker), &[&first]);
    let script = build_script_of(first.pid).expect("the build script runs");
    // SAFETY: kill only sends a signal, to a process of the build this test started.
    assert_eq!(unsafe { libc::kill(script as i32, libc::SIGSTOP) }, 0);
    let mut second = build(&dir, "build-2", &app, &app.join("target"));
    wait_output(&second, "Blocking waiting for file lock on");
    let r = d.wait_for("a stale blocker held up by its stopped build script", |r| {
        blocks(r, first.pid, second.pid)
            && incident_of(r, first.pid).unwrap().state == IncidentState::Stale
    });
    let i = incident_of(&r, first.pid).unwrap();
    assert_eq!(i.stale_reasons, vec![StaleReason::Stopped], "{i:#?}");
    assert!(
        matches!(&i.doing, Doing::ChildStopped { pid, crate_name: Some(c), .. } if *pid == script && c == "app"),
        "{:?}",
        i.doing
    );
    let a = i.action.as_ref().unwrap();
    assert!(
        a.resume && a.command == format!("cargo lockwatch resume {}", first.pid),
        "{a:?}"
    );
    assert!(i.verdict.contains("build script of app"), "{}", i.verdict);
    assert_waiter_everywhere(&r, second.pid);

    let (code, out) = d.cli(&dir, &["resume", &first.pid.to_string()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("its stopped child {script} resumed")),
        "{out}"
    );
    assert_ne!(util::proc_state(script), Some('T'), "the script runs again");
    touch(&marker);
    assert_eq!(first.wait_exit(), 0, "{}", first.describe());
    assert_eq!(second.wait_exit(), 0, "{}", second.describe());
}

// 3. A waiter whose shell exited (reparented to whatever adopts orphans here) is a waiter, not
// a stale orphan.
#[test]
fn an_orphaned_waiter_is_never_stale() {
    let _serial = serial();
    let dir = Dir::new("orphan");
    let marker = dir.path("marker");
    let app = project(&dir, "app", &marker, true);
    let holder = build(&dir, "holder", &app, &app.join("target"));
    wait_file(&util::started_file(&marker), &[&holder]);
    let pid_file = dir.path("waiter.pid");
    let log = dir.path("waiter.log");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let script = format!(
        "cd {app:?} && CARGO_TARGET_DIR={target:?} {cargo:?} build --offline >{log:?} 2>&1 & echo $! > {pid_file:?}",
        target = app.join("target"),
    );
    let mut shell = dir.spawn("shell", dir.command("sh").args(["-c", &script]));
    assert_eq!(
        shell.wait_exit(),
        0,
        "the shell exits at once, orphaning its cargo"
    );
    wait_file(&pid_file, &[&holder]);
    let waiter: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let s = wait_status(&dir, "the orphan blocked by the holder", &[&holder], |s| {
        blocks(&s.report, holder.pid, waiter)
    });
    let i = incident_of(&s.report, holder.pid).unwrap();
    assert_ne!(i.state, IncidentState::Stale, "{}", s.pretty());
    assert_eq!(i.blocked[0].process.pid, waiter);
    assert_waiter_everywhere(&s.report, waiter);
    touch(&marker);
    drop((holder, shell));
}

// 4. Inside `unshare --pid --fork --mount-proc bash`, every process has ppid 1, and pid 1 is a
// shell: nobody is an orphan, nobody is stale, the waiter is a waiter.
#[test]
fn inside_a_pid_namespace_whose_init_is_a_shell_nobody_is_stale() {
    let _serial = serial();
    let dir = Dir::new("pidns");
    let marker = dir.path("marker");
    let app = project(&dir, "app", &marker, false);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = util::started_file(&marker);
    let script = format!(
        "cd {app:?}; export CARGO_TARGET_DIR={target:?}\n\
         {cargo:?} build --offline > holder.log 2>&1 & echo $! > holder.pid\n\
         while [ ! -e {started:?} ]; do sleep 0.05; done\n\
         {cargo:?} build --offline > waiter.log 2>&1 & echo $! > waiter.pid\n\
         while ! grep -q Blocking waiter.log; do sleep 0.05; done\n\
         {lockwatch:?} status --json > status.json; echo $? > status.code\n\
         {lockwatch:?} > status.txt\n\
         touch {marker:?}; wait\n",
        target = app.join("target"),
        lockwatch = env!("CARGO_BIN_EXE_cargo-lockwatch"),
    );
    let mut unshare = dir.command("unshare");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        unshare.args(["--user", "--map-root-user"]);
    }
    unshare
        .args(["--pid", "--fork", "--mount-proc", "bash", "-c", &script])
        .env("LOCKWATCH_CONFIG_DIR", dir.path("lockwatch/config"))
        .env("LOCKWATCH_DATA_DIR", dir.path("lockwatch/data"))
        .env("LOCKWATCH_RUNTIME_DIR", dir.path("lockwatch/run"))
        .env("NO_COLOR", "1");
    if let Some(home) = std::env::var_os("RUSTUP_HOME") {
        unshare.env("RUSTUP_HOME", home);
    }
    let mut ns = dir.spawn("unshare", &mut unshare);
    assert_eq!(ns.wait_exit(), 0, "{}", ns.describe());
    let read = |f: &str| std::fs::read_to_string(app.join(f)).unwrap_or_default();
    let pid = |f: &str| -> u32 {
        read(f)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{f}: {}", ns.describe()))
    };
    let (holder, waiter) = (pid("holder.pid"), pid("waiter.pid"));
    let r: Report = serde_json::from_str(&read("status.json"))
        .unwrap_or_else(|e| panic!("status.json: {e}\n{}", read("status.json")));
    assert!(blocks(&r, holder, waiter), "{:#?}", r.incidents);
    let i = incident_of(&r, holder).unwrap();
    assert_eq!(i.state, IncidentState::Blocking, "{i:#?}");
    assert_eq!(
        i.blocker.as_ref().unwrap().origin_via.as_deref(),
        Some("bash")
    );
    assert_waiter_everywhere(&r, waiter);
    assert!(!r.any_stale(), "{:#?}", r.incidents);
    assert_eq!(read("status.code").trim(), "0");
    assert!(
        !read("status.txt").contains("STALE"),
        "{}",
        read("status.txt")
    );
}

// 5. A build script leaves `sleep 300` on cargo's stdout: cargo waits for the pipe forever,
// holding the build lock. The sleep is named as the culprit and offered as the kill target;
// killing it lets cargo finish.
#[test]
fn a_daemon_left_on_cargos_stdout_is_the_culprit_and_killing_it_lets_cargo_finish() {
    let _serial = serial();
    let dir = Dir::new("culprit");
    let app = app_with_build_script(
        &dir,
        "fn main() {\n    // Like a build script starting a server: it inherits cargo's pipes.\n    \
         std::process::Command::new(\"sleep\").arg(\"300\").spawn().unwrap();\n}\n",
    );
    let mut cargo = build(&dir, "build", &app, &app.join("target"));
    let s = wait_status(&dir, "cargo stuck on its pipe", &[&cargo], |s| {
        incident_of(&s.report, cargo.pid).is_some_and(|i| i.culprit.is_some())
    });
    let i = incident_of(&s.report, cargo.pid).unwrap();
    let culprit = i.culprit.as_ref().unwrap();
    assert_eq!(culprit.name, "sleep");
    assert_eq!(culprit.cmd, ["sleep", "300"]);
    assert_eq!(i.state, IncidentState::Stale, "{}", s.pretty());
    assert_eq!(i.stale_reasons, vec![StaleReason::PipeHeldOpen]);
    assert!(matches!(i.doing, Doing::WaitingForPipe { culprit: c, .. } if c == culprit.pid));
    assert_eq!(
        i.action.as_ref().unwrap().command,
        format!("cargo lockwatch kill {}", culprit.pid)
    );
    assert!(
        i.verdict
            .contains(&format!("Stop sleep {}, not cargo", culprit.pid)),
        "{}",
        i.verdict
    );
    assert_eq!(s.code(), 1);
    assert_eq!(s.report.source, lockwatch::core::model::Source::Scan);
    // Its own build script, as the leftover's environment says (review X, X8).
    assert_eq!(
        i.culprit_left_by,
        Some(LeftBy {
            package: "app".into(),
            from: PackageFrom::Local,
            build_script: true,
        })
    );
    // `wait` gives a script the process to stop and the command, not only cargo's pid
    // (review P, R1).
    let target = app.join("target").display().to_string();
    let out = dir
        .lockwatch()
        .run(&["wait", "--json", "--timeout", "300ms", &target]);
    assert_eq!(out.code, lockwatch::exit::TIMEOUT, "{out:?}");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect(&out.stdout);
    assert_eq!(json["held_by"]["pid"], cargo.pid, "{json}");
    assert_eq!(json["held_by"]["culprit"]["pid"], culprit.pid, "{json}");
    assert_eq!(json["held_by"]["culprit"]["name"], "sleep", "{json}");
    let kill = format!("cargo lockwatch kill {}", culprit.pid);
    assert_eq!(json["to_end"], kill.as_str(), "{json}");

    // The daemon and the menu agree: the culprit is the target, not cargo.
    let d = Daemon::start(&dir, "daemon");
    let r = d.wait_for("the daemon calls it stale, naming the culprit", |r| {
        incident_of(r, cargo.pid).is_some_and(|i| i.state == IncidentState::Stale)
    });
    let i = incident_of(&r, cargo.pid).unwrap();
    assert_eq!(i.culprit.as_ref().map(|c| c.pid), Some(culprit.pid));
    assert_eq!(i.stale_reasons, vec![StaleReason::PipeHeldOpen]);
    let snap = lockwatch::ui::UiSnapshot {
        report: r,
        paused: false,
        snoozed_until: None,
        launch_at_login: false,
        yield_ide: false,
        problems: Vec::new(),
        free_locks: None,
        watched_projects: None,
        config_file: None,
    };
    let m = MenuState::new().build(&snap, snap.report.observed_at);
    assert!(
        actions_on(&m, culprit.pid)
            .iter()
            .any(|id| id.starts_with("terminate/")),
        "{:#?}",
        menu_items(&m)
    );
    assert!(
        actions_on(&m, cargo.pid).is_empty(),
        "{:#?}",
        menu_items(&m)
    );

    let (code, out) = d.cli(&dir, &["kill", &culprit.pid.to_string()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("blocker {} can go on", cargo.pid)),
        "{out}"
    );
    assert_eq!(cargo.wait_exit(), 0, "{}", cargo.describe());
    // It hangs every build of `app` the same way: history says what to change, and where.
    assert_history_advice(&d, &dir, "leftover-process", &app);
}

/// The leftover comes from a git dependency's build script: it is named, as a dependency, in
/// the verdict, `wait` and the history's advice, which sends the fix upstream rather than to a
/// build script the user does not have (review X, X8).
#[test]
fn a_leftover_from_a_git_dependency_s_build_script_names_that_dependency() {
    let _serial = serial();
    let dir = Dir::new("gitleft");
    dir.write(
        "gdep/Cargo.toml",
        "[package]\nname = \"gdep\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    dir.write("gdep/src/lib.rs", "");
    dir.write(
        "gdep/build.rs",
        "fn main() {\n    std::process::Command::new(\"sleep\").arg(\"300\").spawn().unwrap();\n}\n",
    );
    let git = |args: &[&str]| {
        let out = (dir.command("git"))
            .args(["-c", "user.name=t", "-c", "user.email=t@t", "-C"])
            .arg(dir.path("gdep"))
            .args(args)
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "gdep"]);
    dir.write(
        "app/Cargo.toml",
        &format!(
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\ngdep = {{ git = \"file://{}\" }}\n\n[workspace]\n",
            dir.path("gdep").display()
        ),
    );
    dir.write("app/src/main.rs", "fn main() {}\n");
    let app = dir.path("app");
    let mut cargo = dir.spawn("app", dir.cargo(&app).arg("build"));
    let s = wait_status(&dir, "cargo stuck on gdep's leftover", &[&cargo], |s| {
        incident_of(&s.report, cargo.pid).is_some_and(|i| i.culprit_left_by.is_some())
    });
    let i = incident_of(&s.report, cargo.pid).unwrap();
    let culprit = i.culprit.as_ref().unwrap().pid;
    assert_eq!(
        i.culprit_left_by,
        Some(LeftBy {
            package: "gdep".into(),
            from: PackageFrom::Git,
            build_script: true,
        })
    );
    let v = &i.verdict;
    assert!(
        v.contains("(a process left behind by the build script of gdep, a git dependency)"),
        "{v}"
    );
    assert!(v.contains("report it upstream"), "{v}");
    let target = app.join("target").display().to_string();
    let out = dir
        .lockwatch()
        .run(&["wait", "--timeout", "300ms", &target]);
    assert!(
        out.stderr
            .contains("left by the build script of gdep, a git dependency"),
        "{out:?}"
    );
    let d = Daemon::start(&dir, "daemon");
    d.wait_for("the daemon calls it stale", |r| {
        incident_of(r, cargo.pid).is_some_and(|i| i.state == IncidentState::Stale)
    });
    let (code, out) = d.cli(&dir, &["kill", &culprit.to_string()]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(cargo.wait_exit(), 0, "{}", cargo.describe());
    let (_, text) = d.cli(&dir, &["history"]);
    assert!(
        text.contains("The build script of gdep, a git dependency, left a process"),
        "{text}"
    );
    assert!(
        text.contains("The fix is in the build script of gdep"),
        "{text}"
    );
}

/// A build script that leaves two processes on cargo's pipe (a server and its worker): both
/// are named, and stopping the culprit stops both, so cargo goes on at the first try.
#[test]
fn two_processes_left_on_cargos_pipe_are_both_named_and_both_stopped() {
    let _serial = serial();
    let dir = Dir::new("culprits");
    let app = app_with_build_script(
        &dir,
        "fn main() {\n    for s in [\"300\", \"301\"] {\n        \
         std::process::Command::new(\"sleep\").arg(s).spawn().unwrap();\n    }\n}\n",
    );
    let mut cargo = build(&dir, "build", &app, &app.join("target"));
    let s = wait_status(&dir, "cargo stuck on its pipe", &[&cargo], |s| {
        incident_of(&s.report, cargo.pid).is_some_and(|i| i.more_culprits.len() == 1)
    });
    let i = incident_of(&s.report, cargo.pid).unwrap();
    let (first, second) = (i.culprit.as_ref().unwrap(), &i.more_culprits[0]);
    assert_eq!((first.name.raw(), second.name.raw()), ("sleep", "sleep"));
    assert!(
        i.verdict.contains(&format!(
            "Stop sleep {} (and sleep {}, which holds it open too",
            first.pid, second.pid
        )),
        "{}",
        i.verdict
    );
    let (first, second) = (first.pid, second.pid);
    let out = dir.lockwatch().run(&["kill", "--json", &first.to_string()]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect(&out.stdout);
    let message = v["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("with sleep {second}, holding the same pipe open"))
            && message.contains(&format!("blocker {} can go on", cargo.pid)),
        "{v}"
    );
    // The blocker that goes on is the culprit's, not a waiter that proceeded (review M, N9).
    assert_eq!(
        (&v["culprit_of"], &v["released"], &v["waiter_proceeded"]),
        (
            &serde_json::json!(cargo.pid),
            &serde_json::json!(true),
            &serde_json::Value::Null
        ),
        "{v}"
    );
    assert_eq!(cargo.wait_exit(), 0, "{}", cargo.describe());
    for p in [first, second] {
        assert!(
            util::proc_state(p).is_none_or(|s| s == 'Z'),
            "{p} still runs"
        );
    }
}

/// `history --json` of `d` has advice on `topic` naming `project`.
fn assert_history_advice(d: &Daemon, dir: &Dir, topic: &str, project: &Path) {
    let (code, out) = d.cli(dir, &["history", "--json"]);
    assert_eq!(code, 0, "{out}");
    let summary: serde_json::Value = serde_json::from_str(&out).expect(&out);
    let advice = (summary["advice"].as_array())
        .and_then(|a| a.iter().find(|a| a["topic"] == topic))
        .unwrap_or_else(|| panic!("no {topic} advice: {summary:#}"));
    let text = advice["text"].as_str().unwrap();
    assert!(text.contains(&project.display().to_string()), "{text}");
}

/// Two processes each holding one build lock and waiting for the other's (as two nightly
/// `-Zfine-grain-locking` checks can): a cycle, said as such, and in `history` not counted as a
/// build script's nested cargo (review Y, Y11).
#[test]
fn a_wait_cycle_is_a_deadlock_that_history_does_not_call_a_nested_cargo() {
    let _serial = serial();
    let dir = Dir::new("cycle");
    let lock = |p: &str| {
        dir.write(&format!("{p}/Cargo.toml"), "[package]\nname = \"x\"\n");
        dir.write(&format!("{p}/target/debug/.cargo-lock"), "")
    };
    let (one, two) = (lock("one"), lock("two"));
    let d = Daemon::start(&dir, "daemon");
    let hold_then_wait = |name: &str, first: &Path, second: &Path| {
        let script = "import fcntl, sys, time\n\
                      a = open(sys.argv[1], 'a'); fcntl.flock(a, fcntl.LOCK_EX)\n\
                      time.sleep(1)\n\
                      b = open(sys.argv[2], 'a'); fcntl.flock(b, fcntl.LOCK_EX)\n\
                      time.sleep(600)\n";
        let mut cmd = dir.command("python3");
        cmd.args(["-c", script]).arg(first).arg(second);
        dir.spawn(name, &mut cmd)
    };
    let a = hold_then_wait("a", &one, &two);
    let b = hold_then_wait("b", &two, &one);
    let r = d.wait_for("the cycle, stale", |r| {
        r.incidents.iter().any(|i| {
            matches!(&i.deadlock, Some(Deadlock::Cycle { pids }) if pids.contains(&a.pid) && pids.contains(&b.pid))
                && i.state == IncidentState::Stale
        })
    });
    let ours = |i: &&lockwatch::core::model::IncidentReport| matches!(&i.deadlock, Some(Deadlock::Cycle { pids }) if pids.contains(&a.pid));
    let i = r.incidents.iter().find(ours).expect("the cycle");
    assert!(
        i.verdict.contains("wait for each other's locks"),
        "{}",
        i.verdict
    );
    // The daemon's log names whom each waits for, not "an unseen holder" (review Y, Y12).
    let log = d.proc.output();
    for (waiter, holder) in [(&a, &b), (&b, &a)] {
        let line = format!("python3 {} waits for python3 {}", waiter.pid, holder.pid);
        assert!(log.contains(&line), "{line}\n{log}");
    }
    // Only this test's processes: the daemon sees every lock on the machine.
    let unseen = (log.lines())
        .filter(|l| {
            l.contains(&format!("python3 {} ", a.pid)) || l.contains(&format!("python3 {} ", b.pid))
        })
        .find(|l| l.contains("an unseen holder"));
    assert_eq!(unseen, None, "{log}");
    drop((a, b));
    let (code, out) = d.cli(&dir, &["history", "--json"]);
    assert_eq!(code, 0, "{out}");
    let summary: serde_json::Value = serde_json::from_str(&out).expect(&out);
    assert_eq!(summary["nested_deadlocks"], 0, "{summary:#}");
    assert_eq!(summary["lock_cycles"], 1, "{summary:#}");
    let topics: Vec<&str> = (summary["advice"].as_array().into_iter().flatten())
        .filter_map(|a| a["topic"].as_str())
        .collect();
    assert!(topics.contains(&"lock-cycle"), "{topics:?}");
    assert!(!topics.contains(&"nested-cargo"), "{topics:?}");
}

// 6. A build script runs a nested `cargo build` on the same target dir: the nested cargo waits
// for the build directory its own ancestor holds. A deadlock, said at once, naming the outer
// cargo to stop.
#[test]
fn a_nested_cargo_on_the_same_target_dir_is_a_deadlock() {
    let _serial = serial();
    let dir = Dir::new("nested");
    dir.write(
        "inner/Cargo.toml",
        "[package]\nname = \"inner\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    dir.write("inner/src/lib.rs", "");
    dir.write(
        "outer/Cargo.toml",
        "[package]\nname = \"outer\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    dir.write("outer/src/main.rs", "fn main() {}\n");
    let inner = dir.path("inner/Cargo.toml");
    dir.write(
        "outer/build.rs",
        &format!(
            "fn main() {{\n    let cargo = std::env::var(\"CARGO\").unwrap();\n    \
             let status = std::process::Command::new(cargo)\n        \
             .args([\"build\", \"--offline\", \"--manifest-path\", {inner:?}])\n        \
             .status().unwrap();\n    assert!(status.success());\n}}\n"
        ),
    );
    let outer = dir.path("outer");
    let target = dir.path("shared-target");
    let mut cargo = build(&dir, "outer", &outer, &target);
    let s = wait_status(&dir, "the nested cargo blocked", &[&cargo], |s| {
        incident_of(&s.report, cargo.pid).is_some_and(|i| i.deadlock.is_some())
    });
    let i = incident_of(&s.report, cargo.pid).unwrap();
    let nested = i.blocked[0].process.pid;
    assert_eq!(
        i.deadlock,
        Some(Deadlock::SelfWait {
            waiter: nested,
            holder: cargo.pid
        })
    );
    assert_eq!(i.state, IncidentState::Stale);
    assert_eq!(i.doing, Doing::Deadlocked);
    assert_eq!(i.stale_reasons, vec![StaleReason::Deadlock]);
    assert_eq!(
        i.action.as_ref().unwrap().command,
        format!("cargo lockwatch kill {}", cargo.pid)
    );
    assert!(i.verdict.starts_with("deadlock:"), "{}", i.verdict);
    assert!(i.verdict.contains("never ends on its own"), "{}", i.verdict);
    assert_waiter_everywhere(&s.report, nested);
    // The nested cargo is the build script's, not the terminal's (review H, I9).
    let via = i.blocked[0]
        .process
        .origin_via
        .as_deref()
        .unwrap_or_default();
    assert!(
        via.starts_with("build script "),
        "{:?}",
        i.blocked[0].process
    );
    let text = dir.lockwatch().run_raw(&[]).stdout;
    assert!(
        text.contains("deadlock:") && text.contains("STALE"),
        "{text}"
    );
    assert!(text.contains("run by build script"), "{text}");
    // It runs in the outer package but builds the inner one: shown in the project it builds
    // (review L, M6).
    let inner_dir = dir.path("inner").display().to_string();
    assert!(
        text.contains(&format!("cargo build in {inner_dir} (run by build script")),
        "{text}"
    );

    assert_eq!(s.report.source, lockwatch::core::model::Source::Scan);
    assert_wait_stops_at_the_deadlock(
        dir.lockwatch().run(&[
            "wait",
            "--json",
            "--timeout",
            "60s",
            &target.display().to_string(),
        ]),
        cargo.pid,
    );

    // The daemon says so at once (no idle window), as a stale incident.
    let d = Daemon::start(&dir, "daemon");
    let r = d.wait_for("the daemon's deadlock", |r| {
        incident_of(r, cargo.pid).is_some_and(|i| i.state == IncidentState::Stale)
    });
    assert_eq!(
        incident_of(&r, cargo.pid).unwrap().stale_reasons,
        vec![StaleReason::Deadlock]
    );

    let target_arg = target.display().to_string();
    let (code, out) = d.cli(&dir, &["wait", "--timeout", "60s", &target_arg]);
    assert_eq!(code, lockwatch::exit::DEADLOCKED, "{out}");
    assert!(out.contains("DEADLOCKED"), "{out}");

    // The nested cargo is refused, as the deadlock's waiting side, naming the one to stop.
    let (code, out) = d.cli(&dir, &["kill", &nested.to_string()]);
    assert_eq!(code, lockwatch::exit::REFUSED, "{out}");
    assert!(
        out.contains("waiting side of a deadlock")
            && out.contains(&format!("cargo lockwatch kill {}", cargo.pid))
            && !out.contains("frees nothing"),
        "{out}"
    );

    // A resume cannot end it, and says what does (review Q, S7).
    let (code, out) = d.cli(&dir, &["resume", &cargo.pid.to_string()]);
    assert_eq!(code, lockwatch::exit::REFUSED, "{out}");
    assert!(
        out.contains(&format!(
            "it is deadlocked: `cargo lockwatch kill {}` ends it",
            cargo.pid
        )),
        "{out}"
    );

    let (code, out) = d.cli(&dir, &["kill", &cargo.pid.to_string()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("released its lock"), "{out}");
    assert_ne!(cargo.wait_exit(), 0, "the outer build was stopped");
    assert!(
        util::proc_state(nested).is_none_or(|s| s == 'Z'),
        "the nested cargo went too"
    );
    assert_history_advice(&d, &dir, "nested-cargo", &outer);
}

/// `wait` behind a deadlock stops (exit 7) instead of waiting for what never comes, and says
/// what ends it: stopping `outer`, the deadlock's blocker.
fn assert_wait_stops_at_the_deadlock(out: util::RawOutput, outer: u32) {
    assert_eq!(out.code, lockwatch::exit::DEADLOCKED, "{out:?}");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect(&out.stdout);
    assert_eq!(json["deadlocked"], true, "{json}");
    assert_eq!(json["free"], false, "{json}");
    let kill = format!("cargo lockwatch kill {outer}");
    assert_eq!(json["to_end"], kill.as_str(), "{json}");
    assert_eq!(json["held_by"]["pid"], outer, "{json}");
    assert!(
        out.stderr.contains("DEADLOCKED") && out.stderr.contains(&kill),
        "{}",
        out.stderr
    );
}

/// A project whose build script waits for the file named by `LW_GATE` (writing
/// `<gate>.started` first). It reruns whenever `LW_GATE` changes, so each build given its own
/// gate runs it again while holding the build directory.
fn gated_project(dir: &Dir, name: &str) -> PathBuf {
    dir.write(
        &format!("{name}/Cargo.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"
        ),
    );
    dir.write(&format!("{name}/src/main.rs"), "fn main() {}\n");
    dir.write(
        &format!("{name}/build.rs"),
        "fn main() {\n    println!(\"cargo:rerun-if-env-changed=LW_GATE\");\n    \
         let gate = std::env::var(\"LW_GATE\").unwrap();\n    \
         std::fs::write(format!(\"{gate}.started\"), \"\").unwrap();\n    \
         let start = std::time::Instant::now();\n    \
         while !std::path::Path::new(&gate).exists() && start.elapsed().as_secs() < 120 {\n        \
         std::thread::sleep(std::time::Duration::from_millis(100));\n    }\n}\n",
    );
    dir.path(name)
}

// 7. Two builds queue behind a third; when it finishes, one takes the lock and the other waits
// on behind it. The one still waiting has waited since it began, not since the lock changed
// hands; the new holder's hold is that of the build directory, not of the mutation lock it
// held shared all along (a `flock -x` on it stands in for `cargo clean gc`); and `history`
// counts each waiting build once, the longest as long as its whole wait.
#[test]
fn a_build_waiting_behind_successive_holders_keeps_its_whole_wait() {
    let _serial = serial();
    let dir = Dir::new("successive");
    let app = gated_project(&dir, "app");
    let target = app.join("target");
    let gate = |n: u32| dir.path(&format!("gate-{n}"));
    let build = |n: u32| {
        let mut cmd = dir.cargo(&app);
        cmd.args(["build", "--offline"])
            .env("CARGO_TARGET_DIR", &target)
            .env("LW_GATE", gate(n));
        dir.spawn(&format!("build-{n}"), &mut cmd)
    };
    let d = Daemon::start(&dir, "daemon");
    let first = build(1);
    wait_file(&util::started_file(&gate(1)), &[&first]);
    let (second, third) = (build(2), build(3));
    wait_output(&second, "Blocking waiting for file lock on");
    wait_output(&third, "Blocking waiting for file lock on");
    let r = d.wait_for("both builds blocked by the first", |r| {
        blocks(r, first.pid, second.pid) && blocks(r, first.pid, third.pid)
    });
    let i = incident_of(&r, first.pid).unwrap();
    assert!(
        lockwatch::core::words::headline(i, Some(0.0))
            .contains("blocks 2 processes (longest wait "),
        "{}",
        lockwatch::core::words::headline(i, Some(0.0))
    );
    std::thread::sleep(Duration::from_secs(4));

    touch(&gate(1));
    assert_eq!({ first }.wait_exit(), 0);
    // Whichever took the lock runs its build script; the other waits on behind it.
    let start = std::time::Instant::now();
    let (holder, waiter, holder_gate, waiter_gate) = loop {
        if util::started_file(&gate(2)).exists() {
            break (second, third, gate(2), gate(3));
        }
        if util::started_file(&gate(3)).exists() {
            break (third, second, gate(3), gate(2));
        }
        assert!(
            start.elapsed() < util::POLL_TIMEOUT,
            "neither build took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let gc = dir.spawn(
        "gc",
        dir.command("flock")
            .arg("-x")
            .arg(dir.cargo_home.join(".package-cache-mutate"))
            .arg("true"),
    );
    let r = d.wait_for("the other build waits behind the new holder, gc too", |r| {
        blocks(r, holder.pid, waiter.pid) && blocks(r, holder.pid, gc.pid)
    });
    let i = incident_of(&r, holder.pid).unwrap();
    let w = i
        .blocked
        .iter()
        .find(|b| b.process.pid == waiter.pid)
        .unwrap();
    let waited = w.waiting_for_secs.unwrap();
    assert!(
        waited >= 4.0 && w.waiting_since_known,
        "the wait counts from its start, whoever held the lock: {w:#?}"
    );
    assert!(
        util::BUILD_KINDS.contains(&i.locks[0].kind),
        "most of the blocked wait for the build directory: {i:#?}"
    );
    let mutate = r
        .locks
        .iter()
        .find(|l| l.path == dir.cargo_home.join(".package-cache-mutate"))
        .expect("mutation lock listed");
    let mutate_held = (mutate.holders.iter())
        .find(|h| h.pid == holder.pid)
        .and_then(|h| h.held_for_secs)
        .expect("the new holder holds mutate shared, timed");
    let held = i.held_for_secs().unwrap();
    assert!(
        held + 3.0 < mutate_held && i.held_since_known(),
        "the incident's hold is the build directory's ({held}), not mutate's ({mutate_held}): \
         {i:#?}"
    );
    // Our incident's block only: the daemon sees every process on the machine.
    let (_, text) = d.cli(&dir, &["status"]);
    let ours = text
        .split("\n\n")
        .find(|b| b.contains(&format!(" {} blocks 2 processes", holder.pid)))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        ours.contains("(longest wait ") && !ours.contains("held ≥"),
        "{ours}"
    );

    touch(&holder_gate);
    touch(&waiter_gate);
    let (mut holder, mut waiter, mut gc) = (holder, waiter, gc);
    assert_eq!(holder.wait_exit(), 0, "{}", holder.describe());
    assert_eq!(waiter.wait_exit(), 0, "{}", waiter.describe());
    assert_eq!(gc.wait_exit(), 0, "{}", gc.describe());
    d.wait_for("the waiter gone from every lock", |r| {
        r.locks.iter().all(|l| {
            l.holders.iter().all(|h| h.pid != waiter.pid)
                && l.waiters.iter().all(|x| x.pid != waiter.pid)
        })
    });

    // History: the waiter's wait on that lock is in parts, one behind each holder, all but the
    // last going on; `history` makes them one wait as long as all of them.
    let log = std::fs::read_to_string(dir.root.join("lockwatch/data/history.jsonl")).unwrap();
    let parts: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| {
            e["event"] == "wait-ended"
                && e["waiter"]["pid"] == waiter.pid
                && e["path"] == w.lock.display().to_string()
        })
        .collect();
    assert_eq!(parts.len(), 2, "{parts:#?}");
    assert_eq!(parts[0]["goes_on"], true, "{parts:#?}");
    assert!(parts[1].get("goes_on").is_none(), "{parts:#?}");
    let whole: f64 = parts
        .iter()
        .map(|p| p["waited_secs"].as_f64().unwrap())
        .sum();
    let (code, out) = d.cli(&dir, &["history", "--json"]);
    assert_eq!(code, 0, "{out}");
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows: Vec<&serde_json::Value> = summary["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["lock"] == w.lock.display().to_string())
        .collect();
    let times: u64 = rows.iter().map(|r| r["times"].as_u64().unwrap()).sum();
    let longest = rows
        .iter()
        .map(|r| r["longest_wait_secs"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(times, 2, "two builds waited for it, each once: {summary:#}");
    assert!(
        (longest - whole).abs() < 0.01 && longest >= waited,
        "the longest is the whole wait ({whole}): {summary:#}"
    );
}
