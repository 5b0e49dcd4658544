//! Real cargo, real daemon: an IDE's `cargo check` (started by a program named
//! `rust-analyzer`) beside a terminal `cargo build` (started from bash) on one project. The
//! history groups the waits by blocker origin and project and advises; "your build first"
//! stops the IDE's check so the terminal build runs; typical hold times come from real holds.
#![cfg(target_os = "linux")]

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

use lockwatch::core::model::{Origin, Report};
use util::daemon::Daemon;
use util::{Dir, Proc, serial, started_file, touch, wait_file};

/// A copy of bash named `rust-analyzer`: what it starts has an IDE for an ancestor.
fn fake_ide(dir: &Dir) -> PathBuf {
    let ide = dir.path("bin/rust-analyzer");
    std::fs::create_dir_all(ide.parent().unwrap()).unwrap();
    std::fs::copy("/bin/bash", &ide).expect("copy bash");
    ide
}

/// `shell -c "cargo <args>; true"` in `project`: the shell stays cargo's parent, as an
/// editor or a terminal does, with the environment of the test's cargo. With `inner`, `shell`
/// runs `inner -c "cargo <args>; true"` instead (a shell in an editor's terminal).
fn cargo_under(
    dir: &Dir,
    name: &str,
    shell: &Path,
    project: &Path,
    args: &str,
    inner: Option<&Path>,
) -> Proc {
    let template = dir.cargo(project);
    let mut cmd = Command::new(shell);
    for (k, v) in template.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let cargo = template.get_program().to_owned();
    let command = format!("\"$THE_CARGO\" {args}; true");
    let command = match inner {
        Some(inner) => format!("{} -c '{command}'; true", inner.display()),
        None => command,
    };
    cmd.env("THE_CARGO", cargo)
        .arg("-c")
        .arg(command)
        .current_dir(project);
    dir.spawn(name, &mut cmd)
}

/// The incident on a lock under `root` whose blocker is an IDE's process and which blocks a
/// terminal process (the daemon sees every lock on the machine).
fn ide_over_terminal(r: &Report, root: &Path) -> Option<(u32, u32)> {
    r.incidents.iter().find_map(|i| {
        i.locks.iter().find(|l| l.path.starts_with(root))?;
        let b = i.blocker.as_ref().filter(|b| b.origin == Origin::Ide)?;
        let w = i
            .blocked
            .iter()
            .find(|w| w.process.origin == Origin::Terminal)?;
        Some((b.pid, w.process.pid))
    })
}

fn history(d: &Daemon, dir: &Dir, args: &[&str]) -> String {
    let (code, out) = d.cli(dir, args);
    assert_eq!(code, 0, "{out}");
    out
}

/// Starts the IDE's check (it holds the build directory in its build script) and a terminal
/// build behind it; returns both and the (check, build) cargo pids the daemon sees.
fn contention(dir: &Dir, d: &Daemon, project: &Path, marker: &Path) -> (Proc, Proc, u32, u32) {
    let ide = fake_ide(dir);
    let check = cargo_under(dir, "ide", &ide, project, "check --offline", None);
    wait_file(&started_file(marker), &[&check]);
    let build = cargo_under(
        dir,
        "terminal",
        Path::new("/bin/bash"),
        project,
        "build --offline",
        None,
    );
    let r = d.wait_for("the IDE's check blocking the terminal build", |r| {
        ide_over_terminal(r, &dir.root).is_some()
    });
    let (c, b) = ide_over_terminal(&r, &dir.root).unwrap();
    (check, build, c, b)
}

#[test]
fn history_names_the_ide_blocking_terminal_builds_and_advises() {
    let _serial = serial();
    let dir = Dir::new("insight");
    let marker = dir.path("marker");
    let project = util::sleepy_project(&dir, "app", &marker);
    let d = Daemon::start(&dir, "daemon");
    let (mut check, mut build, _, _) = contention(&dir, &d, &project, &marker);
    // Long enough a wait to be worth advice; then everyone finishes.
    std::thread::sleep(std::time::Duration::from_secs(2));
    touch(&marker);
    assert_eq!(check.wait_exit(), 0, "{}", check.describe());
    assert_eq!(build.wait_exit(), 0, "{}", build.describe());
    d.wait_for("everything released", |r| {
        ide_over_terminal(r, &dir.root).is_none()
    });

    let text = history(&d, &dir, &["history", "--since", "1h"]);
    let line = format!(
        "rust-analyzer (IDE) blocked your terminal builds in {}",
        project.display()
    );
    assert!(text.contains(&line), "{line}\n{text}");
    let json: serde_json::Value =
        serde_json::from_str(&history(&d, &dir, &["history", "--json", "--since", "1h"])).unwrap();
    let row = json["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["blocker"] == "rust-analyzer")
        .unwrap_or_else(|| panic!("{json:#}"));
    assert_eq!(row["blocker_origin"], "ide");
    assert_eq!(row["waiter_origin"], "terminal");
    assert!(row["total_wait_secs"].as_f64().unwrap() >= 1.5, "{row}");
    assert_eq!(json["yielded"], 0);
}

/// A daemon with "your build first" on, yielding after 1 s.
fn yielding_daemon(dir: &Dir) -> Daemon {
    Daemon::start_with(
        dir,
        "daemon",
        &[
            ("LOCKWATCH_POLICY_YIELD_IDE", "true"),
            ("LOCKWATCH_POLICY_YIELD_AFTER", "1s"),
        ],
    )
}

#[test]
fn your_build_first_stops_the_ide_check_and_the_terminal_build_runs() {
    let _serial = serial();
    let dir = Dir::new("yield");
    let marker = dir.path("marker");
    let project = util::sleepy_project(&dir, "app", &marker);
    let d = yielding_daemon(&dir);
    assert!(d.snapshot().yield_ide, "the menu shows it on");
    let (_check, mut build, check_pid, build_pid) = contention(&dir, &d, &project, &marker);
    // The daemon stops the IDE's check; the terminal build takes the lock and runs its build
    // script, which finishes once the marker is there.
    d.wait_for("the terminal build no longer blocked", |r| {
        !r.incidents
            .iter()
            .any(|i| i.blocked.iter().any(|b| b.process.pid == build_pid))
    });
    assert!(
        !matches!(util::proc_state(check_pid), Some('R' | 'S' | 'D' | 'T')),
        "the IDE's cargo check {check_pid} was stopped"
    );
    touch(&marker);
    assert_eq!(build.wait_exit(), 0, "{}", build.describe());

    let log = d.proc.output();
    assert!(
        log.contains(&format!(
            "yielded   stopped rust-analyzer's cargo check {check_pid}"
        )),
        "{log}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&history(&d, &dir, &["history", "--json", "--since", "1h"])).unwrap();
    assert_eq!(json["yielded"], 1, "{json:#}");
    let text = history(&d, &dir, &["history", "--since", "1h"]);
    assert!(text.contains("Your build went first once"), "{text}");
}

#[test]
fn a_cargo_typed_in_an_editor_s_terminal_is_never_stopped_for_a_build() {
    let _serial = serial();
    let dir = Dir::new("editor-terminal");
    let marker = dir.path("marker");
    let project = util::sleepy_project(&dir, "app", &marker);
    let d = yielding_daemon(&dir);
    // VS Code's integrated terminal: a shell under the editor's pty host (`code`).
    let editor = dir.path("bin/code");
    std::fs::create_dir_all(editor.parent().unwrap()).unwrap();
    std::fs::copy("/bin/bash", &editor).expect("copy bash");
    let typed = cargo_under(
        &dir,
        "typed",
        &editor,
        &project,
        "check --offline",
        Some(Path::new("/bin/bash")),
    );
    wait_file(&started_file(&marker), &[&typed]);
    let mut build = cargo_under(
        &dir,
        "terminal",
        Path::new("/bin/bash"),
        &project,
        "build --offline",
        None,
    );
    // This test's incident only: the daemon sees every lock on the machine.
    let blocker_of_build = |r: &Report| {
        r.incidents.iter().find_map(|i| {
            let b = i.blocker.as_ref()?;
            let ours = i.locks.iter().any(|l| l.path.starts_with(&dir.root));
            (ours && !i.blocked.is_empty()).then_some((b.pid, b.origin))
        })
    };
    let r = d.wait_for("the typed check blocking the build", |r| {
        blocker_of_build(r).is_some()
    });
    let (check_pid, origin) = blocker_of_build(&r).unwrap();
    assert_eq!(origin, Origin::Terminal, "typed in a shell: the user's own");
    // Well past yield_after: the daemon would have stopped an IDE's check by now.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(
        matches!(util::proc_state(check_pid), Some('R' | 'S' | 'D')),
        "the typed cargo {check_pid} was left alone"
    );
    assert!(!d.proc.output().contains("yielded"), "{}", d.proc.output());
    touch(&marker);
    let mut typed = typed;
    assert_eq!(typed.wait_exit(), 0, "{}", typed.describe());
    assert_eq!(build.wait_exit(), 0, "{}", build.describe());
}

/// A project whose build script sleeps `SLEEP_MS` and runs again whenever `RUN` changes: each
/// build holds the build directory for a known time.
fn timed_project(dir: &Dir) -> PathBuf {
    dir.write(
        "timed/Cargo.toml",
        "[package]\nname = \"timed\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    dir.write("timed/src/main.rs", "fn main() {}\n");
    dir.write(
        "timed/build.rs",
        "fn main() {\n    println!(\"cargo:rerun-if-env-changed=RUN\");\n    \
         println!(\"cargo:rerun-if-env-changed=SLEEP_MS\");\n    \
         let ms: u64 = std::env::var(\"SLEEP_MS\").ok().and_then(|v| v.parse().ok()).unwrap_or(0);\n    \
         std::thread::sleep(std::time::Duration::from_millis(ms));\n}\n",
    );
    dir.path("timed")
}

#[test]
fn a_busy_build_shows_how_long_it_usually_takes_here() {
    let _serial = serial();
    let dir = Dir::new("eta");
    let project = timed_project(&dir);
    let d = Daemon::start(&dir, "daemon");
    // The first build compiles the build script too; whether the daemon saw it begin depends on
    // how soon it found the new project, so the three timed builds come after it.
    let mut warm = dir.cargo(&project);
    warm.args(["build", "--offline"]);
    let mut p = dir.spawn("warm-up", &mut warm);
    assert_eq!(p.wait_exit(), 0, "{}", p.describe());
    for run in 0..3 {
        let mut b = dir.cargo(&project);
        b.args(["build", "--offline"])
            .env("RUN", run.to_string())
            .env("SLEEP_MS", "1500");
        let mut p = dir.spawn(&format!("build{run}"), &mut b);
        assert_eq!(p.wait_exit(), 0, "{}", p.describe());
    }
    let mut b = dir.cargo(&project);
    b.args(["build", "--offline"])
        .env("RUN", "busy")
        .env("SLEEP_MS", "6000");
    let busy = dir.spawn("busy", &mut b);
    let r = d.wait_for("the busy build with its typical time", |r| {
        r.incidents.iter().any(|i| {
            i.blocker.as_ref().is_some_and(|b| b.pid == busy.pid) && i.typical_hold.is_some()
        })
    });
    let i = r
        .incidents
        .iter()
        .find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == busy.pid))
        .unwrap();
    let t = i.typical_hold.unwrap();
    assert!((3..=4).contains(&t.holds), "the three timed builds: {t:?}");
    assert!(
        (1.0..10.0).contains(&t.median_secs),
        "three holds of about 1.5 s: {t:?}"
    );
    let (_, text) = d.cli(&dir, &["status", "--all"]);
    assert!(
        text.contains("usually takes")
            && text.contains(&format!("(median of the last {} holds)", t.holds)),
        "{text}"
    );
}
