//! Paths and visibility with real processes: a Cargo home reached through a symlink, target and
//! build directories resolved as a real cargo resolves them (compared with where it puts its
//! lock files), `wait` behind relative and symlinked target dirs, a lock held by another user's
//! cargo seen by an ordinary user, odd bytes in the environment, the working directory and
//! process names, hold times that began before the daemon looked, and `project_dir` only where
//! a manifest is.
//!
//! Every process is started by the test and killed and reaped when its guard drops; every cargo
//! runs `--offline` (or against a loopback registry) with a Cargo home inside the test's temp
//! dir. The other-user test runs as root and creates the ordinary user `lwtest` if missing
//! (`.ci/test` runs as root).

#![cfg(target_os = "linux")]

mod util;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lockwatch::core::model::{LockState, Report};
use util::daemon::{Daemon, holder_of};
use util::{
    Dir, HangServer, POLL_TIMEOUT, Proc, hung_project, serial, sleepy_project, touch, wait_file,
    wait_output,
};

fn blocks(r: &Report, blocker: u32, waiter: u32) -> bool {
    r.incidents.iter().any(|i| {
        i.blocker.as_ref().is_some_and(|b| b.pid == blocker)
            && i.blocked.iter().any(|b| b.process.pid == waiter)
    })
}

/// Polls `status --json` (run by `make`) until `pred` holds.
fn poll(
    what: &str,
    procs: &[&Proc],
    make: impl Fn() -> util::TestCommand,
    pred: impl Fn(&Report) -> bool,
) -> Report {
    let start = Instant::now();
    loop {
        let raw = make().run(&["status", "--json"]);
        if let Ok(r) = serde_json::from_str::<Report>(&raw.stdout)
            && pred(&r)
        {
            return r;
        }
        if start.elapsed() > POLL_TIMEOUT {
            let who: Vec<String> = procs.iter().map(|p| p.describe()).collect();
            panic!(
                "timed out waiting for {what}\n{}\nlast: {}\n{}",
                who.join("\n"),
                raw.stdout,
                raw.stderr
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// 1. A Cargo home reached through a symlink: the held package cache, with a real cargo waiting,
// is held (not free), shown under the path the user knows, and `wait` waits for it.
#[test]
fn a_symlinked_cargo_home_is_seen_held() {
    let _serial = serial();
    let dir = Dir::new("symlink-home");
    let link = dir.path("link-home");
    symlink(&dir.cargo_home, &link).unwrap();
    let server = HangServer::start();
    let project = hung_project(&dir, &server);
    let cargo = |name: &str| {
        let mut cmd = dir.cargo(&project);
        cmd.env("CARGO_HOME", &link).arg("generate-lockfile");
        dir.spawn(name, &mut cmd)
    };
    let first = cargo("cargo-1");
    std::thread::sleep(Duration::from_millis(500));
    let second = cargo("cargo-2");
    wait_output(&second, "Blocking waiting for file lock on package cache");
    let r = poll(
        "the blocked cargo",
        &[&first, &second],
        || dir.lockwatch().cargo_home(&link),
        |r| blocks(r, first.pid, second.pid),
    );
    let cache = link.join(".package-cache");
    let lock = r
        .locks
        .iter()
        .find(|l| l.path == cache)
        .unwrap_or_else(|| panic!("shown as {}: {:#?}", cache.display(), r.locks));
    assert_eq!(lock.state, LockState::Contended);
    let raw = dir
        .lockwatch()
        .cargo_home(&link)
        .current_dir(&project)
        .run(&["wait", "--timeout", "500ms"]);
    assert_eq!(raw.code, lockwatch::exit::TIMEOUT, "{raw:?}");
    assert!(
        raw.stderr.contains(&format!("cargo {}", first.pid)),
        "{raw:?}"
    );
}

/// Where a real cargo run in `cwd` put its `.cargo-lock` files, below `root`.
fn cargo_lock_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) && !p.ends_with("deps") {
                stack.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n == ".cargo-lock" || n == ".cargo-build-lock")
            {
                out.push(p);
            }
        }
    }
    out
}

// 2. For each way of moving the target or build dir, a real `cargo build` puts its lock files
// where `cargo_dirs::resolve` (what `wait` uses) says.
#[test]
fn build_dirs_resolve_where_a_real_cargo_puts_its_locks() {
    let _serial = serial();
    const PKG: &str = "[package]\nname = \"p\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
    struct Case {
        name: &'static str,
        files: &'static [(&'static str, &'static str)],
        cwd: &'static str,
        env: &'static [(&'static str, &'static str)],
        flag: Option<&'static str>,
    }
    let cases = [
        Case {
            name: "workspace member",
            files: &[
                (
                    "ws/Cargo.toml",
                    "[workspace]\nmembers = [\"a\"]\nresolver = \"2\"\n",
                ),
                ("ws/a/Cargo.toml", PKG),
            ],
            cwd: "ws/a",
            env: &[],
            flag: None,
        },
        Case {
            name: "relative CARGO_TARGET_DIR",
            files: &[("p/Cargo.toml", PKG)],
            cwd: "p",
            env: &[("CARGO_TARGET_DIR", "../shared-target")],
            flag: None,
        },
        Case {
            name: "relative CARGO_BUILD_TARGET_DIR",
            files: &[("p/Cargo.toml", PKG)],
            cwd: "p",
            env: &[("CARGO_BUILD_TARGET_DIR", "from-env")],
            flag: None,
        },
        Case {
            name: "project config",
            files: &[
                ("p/Cargo.toml", PKG),
                ("p/.cargo/config.toml", "[build]\ntarget-dir = \"../x\"\n"),
            ],
            cwd: "p",
            env: &[],
            flag: None,
        },
        Case {
            name: "ancestor config",
            files: &[
                ("a/b/Cargo.toml", PKG),
                ("a/.cargo/config.toml", "[build]\ntarget-dir = \"up\"\n"),
            ],
            cwd: "a/b",
            env: &[],
            flag: None,
        },
        Case {
            name: "Cargo home config",
            files: &[
                ("p/Cargo.toml", PKG),
                (
                    "cargo-home/config.toml",
                    "[build]\ntarget-dir = \"home-target\"\n",
                ),
            ],
            cwd: "p",
            env: &[],
            flag: None,
        },
        Case {
            name: "build-dir template",
            files: &[
                ("p/Cargo.toml", PKG),
                (
                    "p/.cargo/config.toml",
                    "[build]\nbuild-dir = \"{workspace-root}/bd\"\n",
                ),
            ],
            cwd: "p",
            env: &[],
            flag: None,
        },
        Case {
            name: "--target-dir",
            files: &[("p/Cargo.toml", PKG)],
            cwd: "p",
            env: &[],
            flag: Some("flagged"),
        },
    ];
    for case in cases {
        let dir = Dir::new("dirs");
        for (path, text) in case.files {
            dir.write(path, text);
        }
        // Every case runs in the package's own directory.
        dir.write(&format!("{}/src/main.rs", case.cwd), "fn main() {}\n");
        let cwd = dir.path(case.cwd);
        let mut cmd = dir.cargo(&cwd);
        cmd.args(["build", "--offline", "-q"])
            .envs(case.env.iter().copied());
        if let Some(flag) = case.flag {
            cmd.args(["--target-dir", flag]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            case.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let env = |k: &str| {
            case.env
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| std::ffi::OsString::from(v))
        };
        let d =
            lockwatch::cargo_dirs::resolve(&cwd, &dir.cargo_home, case.flag.map(Path::new), &env)
                .expect("a project");
        let locks = cargo_lock_files(&dir.root);
        assert!(!locks.is_empty(), "{}: no lock files", case.name);
        for l in &locks {
            assert!(
                l.starts_with(&d.target_dir) || l.starts_with(&d.build_dir),
                "{}: cargo locked {} but resolve says {:?}",
                case.name,
                l.display(),
                d
            );
        }
        assert!(
            locks.iter().any(|l| l.starts_with(&d.build_dir)),
            "{}: nothing in the build dir {:?}: {locks:?}",
            case.name,
            d.build_dir
        );
    }
}

// 3. `wait` behind a relative CARGO_TARGET_DIR and behind a symlinked target dir: blocked while
// a real build holds the lock, free once it is done.
#[test]
fn wait_waits_behind_relative_and_symlinked_target_dirs() {
    let _serial = serial();
    let dir = Dir::new("wait-dirs");
    let marker = dir.path("marker");
    let project = sleepy_project(&dir, "app", &marker);
    let mut build = dir.cargo(&project);
    build
        .args(["build", "--offline"])
        .env("CARGO_TARGET_DIR", "../shared-target");
    let first = dir.spawn("build", &mut build);
    wait_file(&util::started_file(&marker), &[&first]);
    let wait = |env: Option<(&str, &str)>| {
        let mut cmd = dir.lockwatch().current_dir(&project);
        if let Some((k, v)) = env {
            cmd = cmd.env(k, v);
        }
        cmd.run(&["wait", "--timeout", "500ms"])
    };
    let raw = wait(Some(("CARGO_TARGET_DIR", "../shared-target")));
    assert_eq!(raw.code, lockwatch::exit::TIMEOUT, "{raw:?}");
    // Named from elsewhere: the target dir itself, and with --target-dir outside a project.
    let shared = dir.path("shared-target");
    let shared = shared.to_str().unwrap();
    for args in [&[shared][..], &["--target-dir", shared]] {
        let mut all = vec!["wait", "--timeout", "500ms"];
        all.extend(args);
        let raw = dir.lockwatch().current_dir(&dir.root).run(&all);
        assert_eq!(raw.code, lockwatch::exit::TIMEOUT, "{all:?}: {raw:?}");
    }
    touch(&marker);
    let mut first = first;
    assert_eq!(first.wait_exit(), 0);
    let raw = wait(Some(("CARGO_TARGET_DIR", "../shared-target")));
    assert_eq!(raw.code, 0, "{raw:?}");

    // The project's target dir is a symlink to a directory elsewhere.
    fs::remove_file(&marker).unwrap();
    fs::remove_file(util::started_file(&marker)).unwrap();
    fs::create_dir_all(dir.path("elsewhere")).unwrap();
    symlink(dir.path("elsewhere"), project.join("target")).unwrap();
    let mut build = dir.cargo(&project);
    build.args(["build", "--offline"]);
    let mut second = dir.spawn("build-2", &mut build);
    wait_file(&util::started_file(&marker), &[&second]);
    let raw = wait(None);
    assert_eq!(raw.code, lockwatch::exit::TIMEOUT, "{raw:?}");
    // Named from elsewhere: the project, its manifest, --project, its (symlinked) target dir.
    let manifest = project.join("Cargo.toml");
    let target = project.join("target");
    let (p, m, t) = (
        project.to_str().unwrap(),
        manifest.to_str().unwrap(),
        target.to_str().unwrap(),
    );
    for args in [&[p][..], &[m], &["--project", p], &[t]] {
        let mut all = vec!["wait", "--timeout", "500ms"];
        all.extend(args);
        let raw = dir.lockwatch().current_dir(&dir.root).run(&all);
        assert_eq!(raw.code, lockwatch::exit::TIMEOUT, "{all:?}: {raw:?}");
    }
    touch(&marker);
    assert_eq!(second.wait_exit(), 0);
    let raw = dir
        .lockwatch()
        .current_dir(&dir.root)
        .run(&["wait", "--timeout", "5s", p]);
    assert_eq!(raw.code, 0, "free once the build is done: {raw:?}");
}

// 3b. `wait` is about the locks the build here takes: an editor's check in a target dir nested
// in the project's (`--target-dir target/rust-analyzer`, as `history` advises) does not hold a
// build here up, but does hold up a build into that dir; and an ordinary user naming the lock
// file root's check holds sees it held, though root's descriptors cannot be read.
#[test]
fn wait_waits_only_for_the_locks_the_build_here_takes() {
    let _serial = serial();
    ensure_lwtest();
    let dir = Dir::new("wait-scope");
    let marker = dir.path("marker");
    let project = sleepy_project(&dir, "app", &marker);
    let mut check = dir.cargo(&project);
    check.args([
        "check",
        "--offline",
        "--message-format=json",
        "--target-dir",
        "target/rust-analyzer",
    ]);
    let ide = dir.spawn("ide-check", &mut check);
    wait_file(&util::started_file(&marker), &[&ide]);
    let wait = |env: Option<(&str, &str)>, args: &[&str]| {
        let mut cmd = dir.lockwatch().current_dir(&project);
        if let Some((k, v)) = env {
            cmd = cmd.env(k, v);
        }
        let mut all = vec!["wait", "--timeout", "500ms"];
        all.extend(args);
        cmd.run(&all)
    };
    let here = wait(None, &[]);
    assert_eq!(
        here.code, 0,
        "a build into target/ is not held up: {here:?}"
    );
    for (env, args) in [
        (Some(("CARGO_TARGET_DIR", "target/rust-analyzer")), &[][..]),
        (None, &["--target-dir", "target/rust-analyzer"][..]),
    ] {
        let into = wait(env, args);
        assert_eq!(
            into.code,
            lockwatch::exit::TIMEOUT,
            "{env:?} {args:?}: {into:?}"
        );
    }

    let lock = project.join("target/rust-analyzer/debug/.cargo-lock");
    assert!(
        lock.exists(),
        "cargo 1.95 locks <target>/<profile>/.cargo-lock"
    );
    // --json says how it ended, on stdout.
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend(args);
        let raw = wait(None, &all);
        serde_json::from_str(&raw.stdout).unwrap_or_else(|e| panic!("{e}: {raw:?}"))
    };
    let v = json(&["--target-dir", "target/rust-analyzer"]);
    assert_eq!(v["free"], false, "{v}");
    assert_eq!(v["held_by"]["pid"], ide.pid, "{v}");
    let held = PathBuf::from(v["lock"].as_str().unwrap());
    assert_eq!(
        fs::canonicalize(held).unwrap(),
        fs::canonicalize(&lock).unwrap()
    );
    assert_eq!(json(&[])["free"], true);
    fs::set_permissions(&dir.root, fs::Permissions::from_mode(0o755)).unwrap();
    let (scratch, env) = lwtest_scratch(&dir);
    let lockwatch = Path::new(env!("CARGO_BIN_EXE_cargo-lockwatch"));
    let args = ["wait", "--timeout", "500ms", lock.to_str().unwrap()];
    let out = as_lwtest(lockwatch, &args, &scratch, &env)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(lockwatch::exit::TIMEOUT), "{err}");
    assert!(err.contains(&format!("cargo {}", ide.pid)), "{err}");
    // The same with the ordinary user's daemon running, which cannot see root's build nor
    // ever saw a lock in this project: held, not "free" (review M, N5).
    let mut daemon = as_lwtest(lockwatch, &["daemon", "--headless"], &scratch, &env);
    daemon
        .env("LOCKWATCH_NOTIFY_ENABLED", "false")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut daemon = daemon.spawn().unwrap();
    util::eventually("the ordinary user's daemon answers", || {
        let out = as_lwtest(lockwatch, &["status", "--json"], &scratch, &env)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("\"source\": \"daemon\"")
    });
    let out = as_lwtest(lockwatch, &args, &scratch, &env)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let stop = as_lwtest(lockwatch, &["daemon", "--stop"], &scratch, &env).output();
    let _ = daemon.wait();
    assert!(stop.is_ok_and(|o| o.status.success()));
    assert_eq!(out.status.code(), Some(lockwatch::exit::TIMEOUT), "{err}");
    assert!(err.contains(&format!("cargo {}", ide.pid)), "{err}");
    // Outside the projects it watches, the ordinary user cannot name root's lock file, but
    // `status` never says no lock is held while root's cargo holds one (review H, I3), and
    // `kill` says whose it is.
    let (doc, hidden) = hidden_seen_by_lwtest(&scratch, &env);
    let ours = hidden.iter().find(|h| h["pid"] == ide.pid);
    let ours = ours.unwrap_or_else(|| panic!("root's cargo {} not counted: {doc}", ide.pid));
    assert_eq!(
        (ours["name"].as_str(), ours["uid"].as_u64()),
        (Some("cargo"), Some(0))
    );
    let out = as_lwtest(lockwatch, &["status", "--no-daemon"], &scratch, &env)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // On one line with root's other cargos (a test run's own) when there are some.
    let line = (text.lines()).find(|l| l.contains(&format!("cargo {} (root's)", ide.pid)));
    assert!(
        line.is_some_and(|l| l.contains("this user cannot name")),
        "{text}"
    );
    let out = as_lwtest(lockwatch, &["kill", &ide.pid.to_string()], &scratch, &env)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(lockwatch::exit::REFUSED), "{said}");
    assert!(said.contains("belongs to"), "{said}");
    touch(&marker);
    let mut ide = ide;
    assert_eq!(ide.wait_exit(), 0);
}

/// Runs `program args…` as the ordinary user `lwtest` with a clean environment plus `env`.
/// A directory the ordinary user may write, for its own lockwatch state, and the environment
/// that puts everything there (HOME, CARGO_HOME, config and data; the runtime below it).
fn lwtest_scratch(dir: &Dir) -> (PathBuf, Vec<(&'static str, std::ffi::OsString)>) {
    let scratch = dir.path("lw");
    fs::create_dir_all(&scratch).unwrap();
    fs::set_permissions(&scratch, fs::Permissions::from_mode(0o777)).unwrap();
    let env = [
        "HOME",
        "CARGO_HOME",
        "LOCKWATCH_CONFIG_DIR",
        "LOCKWATCH_DATA_DIR",
    ]
    .into_iter()
    .map(|k| (k, scratch.clone().into_os_string()))
    .chain([(
        "LOCKWATCH_RUNTIME_DIR",
        scratch.join("run").into_os_string(),
    )])
    .collect();
    (scratch, env)
}

/// `status --json --no-daemon` run as lwtest: the document and its `hidden_holders`.
fn hidden_seen_by_lwtest(
    scratch: &Path,
    env: &[(&str, std::ffi::OsString)],
) -> (serde_json::Value, Vec<serde_json::Value>) {
    let lockwatch = Path::new(env!("CARGO_BIN_EXE_cargo-lockwatch"));
    let args = ["status", "--json", "--no-daemon"];
    let out = as_lwtest(lockwatch, &args, scratch, env).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let hidden = doc["hidden_holders"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (doc, hidden)
}

fn as_lwtest<V: AsRef<OsStr>>(
    program: &Path,
    args: &[&str],
    cwd: &Path,
    env: &[(&str, V)],
) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=lwtest", "--regid=lwtest", "--clear-groups", "--"])
        .arg(program)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A test directory root's processes work in and lwtest may read (0755), for a test run as
/// root that asks as the ordinary user lwtest.
fn root_dir_for_lwtest(name: &str) -> Dir {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "run as root: it starts root's processes and asks as an ordinary user"
    );
    ensure_lwtest();
    let dir = Dir::new(name);
    fs::set_permissions(&dir.root, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn ensure_lwtest() {
    if Command::new("id")
        .arg("lwtest")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs the ordinary user lwtest; run it as root (`bash .ci/test` creates it)"
    );
    let ok = Command::new("useradd")
        .args(["-M", "-s", "/usr/sbin/nologin", "lwtest"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "useradd lwtest failed");
}

// 4. Root's cargo, hung on a registry, holds a shared Cargo home's package cache; an ordinary
// user's cargo waits. The ordinary user's status names the holder's pid and user, wait waits,
// and kill refuses, saying whose process it is.
#[test]
fn another_users_lock_is_held_and_named() {
    let _serial = serial();
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "run as root: it starts root's cargo and an ordinary user's"
    );
    ensure_lwtest();
    let dir = Dir::new("other-user");
    let open =
        |p: &Path, mode: u32| fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    open(&dir.root, 0o755);
    let server = HangServer::start();
    let project = hung_project(&dir, &server);
    open(&dir.cargo_home, 0o777);
    let root_cargo = util::start_hung_cargo(&dir, &project, "root-cargo");
    open(&dir.cargo_home.join(".package-cache"), 0o666);
    if dir.cargo_home.join(".package-cache-mutate").exists() {
        open(&dir.cargo_home.join(".package-cache-mutate"), 0o666);
    }

    // The ordinary user's own copy of cargo (root's toolchain is not readable to it) and a
    // project of its own.
    let bin = dir.path("bin");
    fs::create_dir_all(&bin).unwrap();
    let toolchain_cargo =
        PathBuf::from(std::env::var_os("CARGO").expect("cargo tells tests where it is"));
    fs::copy(&toolchain_cargo, bin.join("cargo")).unwrap();
    open(&bin, 0o755);
    open(&bin.join("cargo"), 0o755);
    let mine = dir.write(
        "mine/Cargo.toml",
        "[package]\nname = \"mine\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    dir.write("mine/src/main.rs", "fn main() {}\n");
    let mine = mine.parent().unwrap().to_path_buf();
    let scratch = dir.path("lw");
    fs::create_dir_all(&scratch).unwrap();
    for p in [&mine, &mine.join("src"), &scratch] {
        open(p, 0o777);
    }
    let home = dir.cargo_home.clone();
    let env: Vec<(&str, &OsStr)> = vec![
        ("HOME", scratch.as_os_str()),
        ("CARGO_HOME", home.as_os_str()),
        ("LOCKWATCH_CONFIG_DIR", scratch.as_os_str()),
        ("LOCKWATCH_DATA_DIR", scratch.as_os_str()),
        (
            "LOCKWATCH_RUNTIME_DIR",
            OsStr::new("/tmp/lockwatch-lwtest-run"),
        ),
    ];
    let waiter = dir.spawn(
        "lwtest-cargo",
        &mut as_lwtest(
            &bin.join("cargo"),
            &["generate-lockfile", "--offline"],
            &mine,
            &env,
        ),
    );
    wait_output(&waiter, "Blocking waiting for file lock on package cache");
    let lockwatch = Path::new(env!("CARGO_BIN_EXE_cargo-lockwatch"));
    let run = |args: &[&str]| {
        let out = as_lwtest(lockwatch, args, &mine, &env).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let start = Instant::now();
    let report = loop {
        let (_, out, err) = run(&["status", "--json"]);
        let r: Report = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
        if r.incidents
            .iter()
            .any(|i| i.blocker.as_ref().is_some_and(|b| b.pid == root_cargo.pid))
        {
            break r;
        }
        assert!(
            start.elapsed() < POLL_TIMEOUT,
            "the ordinary user never saw root's cargo: {out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let i = report
        .incidents
        .iter()
        .find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == root_cargo.pid))
        .unwrap();
    let b = i.blocker.as_ref().unwrap();
    assert_eq!((b.uid, b.user.as_deref()), (0, Some("root")));
    let cache = home.join(".package-cache");
    assert!(
        report
            .locks
            .iter()
            .any(|l| l.path == cache && l.state != LockState::Free),
        "{:#?}",
        report.locks
    );
    let (_, text, _) = run(&["status"]);
    assert!(text.contains("user root (uid 0)"), "{text}");
    let (code, _, err) = run(&["wait", "--timeout", "500ms"]);
    assert_eq!(code, lockwatch::exit::TIMEOUT, "{err}");
    let (code, out, _) = run(&["kill", &root_cargo.pid.to_string()]);
    assert_eq!(code, lockwatch::exit::REFUSED, "{out}");
    assert!(out.contains("belongs to root (uid 0)"), "{out}");
    assert_ne!(
        util::proc_state(root_cargo.pid),
        Some('Z'),
        "nothing was signalled"
    );
    // Another user's waiter is refused as a waiter, the reason that holds for anybody, not
    // "run this as that user" (review Q, S4).
    let out = dir
        .lockwatch()
        .run(&["--no-daemon", "kill", &waiter.pid.to_string()]);
    assert_eq!(out.code, lockwatch::exit::REFUSED, "{out:?}");
    assert!(
        out.stdout.contains("is WAITING") && !out.stdout.contains("run this as that user"),
        "{out:?}"
    );
    // Root's cargo stopped: the ordinary user's `wait` names the resume, and whose process it
    // is (review P, R16).
    // SAFETY: kill(2) on the cargo this test started.
    unsafe { libc::kill(root_cargo.pid as i32, libc::SIGSTOP) };
    let resume = format!("cargo lockwatch resume {}", root_cargo.pid);
    let start = Instant::now();
    let (code, out, err) = loop {
        let (code, out, err) = run(&["wait", "--json", "--timeout", "300ms"]);
        if out.contains("to_end") || start.elapsed() > POLL_TIMEOUT {
            break (code, out, err);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // SAFETY: as above.
    unsafe { libc::kill(root_cargo.pid as i32, libc::SIGCONT) };
    assert_eq!(code, lockwatch::exit::TIMEOUT, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect(&out);
    assert_eq!(json["to_end"], resume.as_str(), "{json}");
    assert_eq!(json["to_end_owner"], "root", "{json}");
    assert!(
        err.contains(&format!(
            "`{resume}` lets it go on; it belongs to root, not to you"
        )),
        "{err}"
    );
    drop((waiter, root_cargo, server));
}

// 5. A Latin-1 `$PWD`, a non-UTF-8 LOCKWATCH_* value and a working directory whose name is not
// UTF-8: every command answers, none panics.
// Review J, K12: a rustc holds its incremental session's lock (exclusive, nobody waits for it)
// while it compiles; another user must not be told it "holds a Cargo lock". A cargo's
// exclusive hold is still said.
#[test]
fn another_user_s_rustc_holding_its_own_lock_is_not_a_cargo_lock() {
    let _serial = serial();
    let dir = root_dir_for_lwtest("other-rustc");
    // `flock` under the names rustc and cargo: the kernel names a process by its file.
    let bin = dir.path("bin");
    fs::create_dir_all(&bin).unwrap();
    let flock = Command::new("sh")
        .args(["-c", "command -v flock"])
        .output()
        .unwrap();
    let flock = PathBuf::from(String::from_utf8_lossy(&flock.stdout).trim());
    for name in ["rustc", "cargo"] {
        fs::copy(&flock, bin.join(name)).unwrap();
    }
    let session = dir.write("target/debug/incremental/app-1/s-abc.lock", "");
    let build = dir.write("target/debug/.cargo-lock", "");
    let rustc = dir.spawn(
        "rustc",
        dir.command(bin.join("rustc").to_str().unwrap())
            .arg("-x")
            .arg(&session)
            .args(["sleep", "600"]),
    );
    let cargo = dir.spawn(
        "cargo",
        dir.command(bin.join("cargo").to_str().unwrap())
            .arg("-x")
            .arg(&build)
            .args(["sleep", "600"]),
    );
    let (scratch, env) = lwtest_scratch(&dir);
    let start = Instant::now();
    let hidden = loop {
        let (doc, hidden) = hidden_seen_by_lwtest(&scratch, &env);
        if hidden.iter().any(|h| h["pid"] == cargo.pid) {
            break hidden;
        }
        assert!(
            start.elapsed() < POLL_TIMEOUT,
            "cargo {} never said: {doc}",
            cargo.pid
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        !hidden.iter().any(|h| h["pid"] == rustc.pid),
        "rustc {} holds its own lock, not Cargo's: {hidden:?}",
        rustc.pid
    );
}

/// Root's real cargo builds a project; an ordinary user's `wait PROJECT` and `wait
/// PROJECT/Cargo.toml`, run elsewhere, wait for its build directory as a `wait` in the
/// project does: another user's holder cannot be asked which file it locked, so the named
/// project's build dirs must be among the roots the scan knows (review W, W11).
#[test]
fn another_user_s_wait_for_a_named_project_sees_its_held_build_dir() {
    let _serial = serial();
    let dir = root_dir_for_lwtest("other-wait");
    let marker = dir.path("marker");
    let project = sleepy_project(&dir, "otherwait", &marker);
    let mut build = dir.cargo(&project);
    build.args(["build", "--offline"]);
    let build = dir.spawn("root-build", &mut build);
    wait_file(&util::started_file(&marker), &[&build]);
    let (scratch, env) = lwtest_scratch(&dir);
    let lockwatch = Path::new(env!("CARGO_BIN_EXE_cargo-lockwatch"));
    for named in [project.clone(), project.join("Cargo.toml")] {
        let args = [
            "wait",
            "--json",
            "--timeout",
            "500ms",
            named.to_str().unwrap(),
        ];
        let out = as_lwtest(lockwatch, &args, &scratch, &env)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        let json: serde_json::Value = serde_json::from_str(&said)
            .unwrap_or_else(|e| panic!("{e}: {said}{}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(
            out.status.code(),
            Some(lockwatch::exit::TIMEOUT),
            "{named:?}: {json}"
        );
        assert_eq!(json["free"], false, "{named:?}: {json}");
        // The text names whose it is (review W, W11).
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("cargo {} (root's, ", build.pid)),
            "{named:?}: {err}"
        );
    }
    touch(&marker);
    drop(build);
}

#[test]
fn odd_bytes_in_the_environment_and_paths_do_not_panic() {
    let _serial = serial();
    let dir = Dir::new("bytes");
    let odd = dir.root.join(OsStr::from_bytes(b"caf\xe9"));
    fs::create_dir_all(odd.join("src")).unwrap();
    fs::write(
        odd.join("Cargo.toml"),
        "[package]\nname = \"x\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["wait", "--timeout", "100ms"],
        &["config"],
    ] {
        let raw = dir
            .lockwatch()
            .current_dir(&odd)
            .env("PWD", OsStr::from_bytes(b"/tmp/\xe9t\xe9"))
            .env(
                "LOCKWATCH_WATCH_POLL_INTERVAL",
                OsStr::from_bytes(b"\xff\xfe"),
            )
            .env("LOCKWATCH_ODD_\u{e9}", OsStr::from_bytes(b"\x80"))
            .run(args);
        // `config` exits 2: it reports the value it could not use.
        assert!(
            matches!(raw.code, 0 | 1) || (args[0] == "config" && raw.code == 2),
            "{args:?} exited {}: {}{}",
            raw.code,
            raw.stdout,
            raw.stderr
        );
        assert!(!raw.stderr.contains("panicked"), "{args:?}: {}", raw.stderr);
        assert!(
            raw.stderr.contains("LOCKWATCH_WATCH_POLL_INTERVAL") || args[0] == "config",
            "{args:?}: {}",
            raw.stderr
        );
    }
}

#[test]
fn a_cargo_in_a_directory_with_odd_bytes_is_reported_and_recorded() {
    // The project directory's name is not UTF-8: it is the cargo's working directory, so every
    // report and history event carries it. Nothing may fail to encode.
    let _serial = serial();
    let dir = Dir::new("odd-cwd");
    let marker = dir.path("marker");
    let plain = sleepy_project(&dir, "oddcwd", &marker);
    let odd = dir.root.join(OsStr::from_bytes(b"bad\xffname"));
    fs::rename(&plain, &odd).unwrap();
    let d = Daemon::start(&dir, "daemon");
    let mut build = dir.cargo(&odd);
    build
        .args(["build", "--offline", "--target-dir"])
        .arg(dir.path("odd-target"));
    let mut cargo = dir.spawn("build", &mut build);
    wait_file(&util::started_file(&marker), &[&cargo]);
    d.wait_for("the odd cargo's hold", |r| {
        r.locks
            .iter()
            .any(|l| l.holders.iter().any(|h| h.pid == cargo.pid))
    });
    for args in [
        &["status", "--json"][..],
        &["status", "--json", "--no-daemon"],
    ] {
        let (code, out) = d.cli(&dir, args);
        assert!(matches!(code, 0 | 1), "{args:?} exited {code}: {out}");
        let r: Report = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        let h = r
            .locks
            .iter()
            .flat_map(|l| &l.holders)
            .find(|h| h.pid == cargo.pid)
            .unwrap_or_else(|| panic!("{args:?}: {out}"));
        assert_eq!(
            h.cwd.as_deref(),
            Some(dir.root.join("bad\\xffname").as_path()),
            "the odd byte written as \\xff, as the terminal shows it"
        );
    }
    // In text, a direct scan and the daemon's view alike show the byte itself, escaped
    // (review H, I5: the daemon's showed U+FFFD).
    for args in [&["status"][..], &["status", "--no-daemon"]] {
        let (_, text) = d.cli(&dir, args);
        assert!(
            text.contains("bad\\xffname") && !text.contains('\u{fffd}'),
            "{args:?}: {text}"
        );
    }
    touch(&marker);
    // Cargo 1.95 builds there and then fails on its own ("path … not utf-8"): only its locks
    // matter here.
    cargo.wait_exit();
    let history = dir.root.join("lockwatch/data/history.jsonl");
    let deadline = Instant::now() + POLL_TIMEOUT;
    loop {
        let text = fs::read_to_string(&history).unwrap_or_default();
        let ours = |event: &str| {
            text.lines().any(|l| {
                l.contains(&format!("\"event\":\"{event}\""))
                    && l.contains(&format!("\"pid\":{}", cargo.pid))
            })
        };
        if ours("acquired") && ours("released") {
            break;
        }
        assert!(Instant::now() < deadline, "not recorded: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        util::proc_state(d.proc.pid).is_some_and(|s| s != 'Z'),
        "the daemon kept serving"
    );
    d.report();
}

// 6. A hold that began before the daemon looked is marked (held ≥), one that began after is
// timed exactly.
#[test]
fn holds_before_the_daemon_started_are_lower_bounds() {
    let _serial = serial();
    let dir = Dir::new("before");
    let early_lock = dir.write("cargo-home/.package-cache", "");
    let early = util::daemon::flock_holder(&dir, "early", &early_lock);
    std::thread::sleep(Duration::from_millis(1500));
    let d = Daemon::start(&dir, "daemon");
    let r = d.wait_for("the early hold", |r| {
        util::daemon::holder_of(r, &early_lock).is_some()
    });
    let l = util::daemon::holder_of(&r, &early_lock).unwrap();
    let h = l.holders.iter().find(|h| h.pid == early.pid).unwrap();
    assert!(!h.held_since_known, "{h:#?}");
    let i = r
        .incidents
        .iter()
        .find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == early.pid))
        .unwrap();
    assert!(!i.held_since_known());
    // Under a second after the daemon found it the bound says nothing, and only the age shows
    // ("up 2s"); then "held ≥ 1s". Never an exact time, never "≥ 0s".
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        // Only this test's incident: `status` lists every lock on the machine.
        let (_, all) = d.cli(&dir, &["status"]);
        let mine = format!("flock {} holds", early.pid);
        let text = (all.split("\n\n"))
            .find(|block| block.contains(&mine))
            .unwrap_or_else(|| panic!("no incident of flock {}: {all}", early.pid))
            .to_string();
        assert!(!text.contains("≥ 0s"), "{text}");
        assert!(
            !text.contains("held 0s") && !text.contains("held 1s"),
            "{text}"
        );
        if text.contains("held ≥ ") {
            break;
        }
        assert!(text.contains(", up "), "{text}");
        assert!(
            std::time::Instant::now() < deadline,
            "no lower bound shown: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let late_lock = dir.write("cargo-home/.package-cache-mutate", "");
    let late = util::daemon::flock_holder(&dir, "late", &late_lock);
    let r = d.wait_for("the late hold", |r| {
        util::daemon::holder_of(r, &late_lock).is_some()
    });
    let l = util::daemon::holder_of(&r, &late_lock).unwrap();
    assert!(
        l.holders
            .iter()
            .find(|h| h.pid == late.pid)
            .unwrap()
            .held_since_known
    );
}

// 7. A target dir outside any project has no project_dir (no guess); the project's own target
// dir does.
#[test]
fn project_dir_only_where_a_manifest_shows_it() {
    let _serial = serial();
    let dir = Dir::new("project-dir");
    let marker = dir.path("marker");
    let project = sleepy_project(&dir, "app", &marker);
    let outside = dir.path("scratch-target");
    let mut build = dir.cargo(&project);
    build
        .args(["build", "--offline"])
        .env("CARGO_TARGET_DIR", &outside);
    let b = dir.spawn("build", &mut build);
    wait_file(&util::started_file(&marker), &[&b]);
    let s = util::wait_status(&dir, "the build's lock", &[&b], |s| {
        !s.locks_under(&outside).is_empty()
    });
    for l in s.locks_under(&outside) {
        assert_eq!(l.project_dir, None, "{}", l.path.display());
    }
    touch(&marker);
    let mut b = b;
    assert_eq!(b.wait_exit(), 0);
    fs::remove_file(&marker).unwrap();
    fs::remove_file(util::started_file(&marker)).unwrap();
    let mut build = dir.cargo(&project);
    build.args(["build", "--offline"]);
    let b = dir.spawn("build-2", &mut build);
    wait_file(&util::started_file(&marker), &[&b]);
    let s = util::wait_status(&dir, "the build's lock", &[&b], |s| {
        !s.locks_under(&project.join("target")).is_empty()
    });
    for l in s.locks_under(&project.join("target")) {
        assert_eq!(l.project_dir.as_deref(), Some(project.as_path()));
    }
    touch(&marker);
}

// 8. Asked of the daemon, a project named relatively (`--project app`) whose target dir is a
// symlink: the lock a real build holds there is listed once, held, under an absolute path (the
// caller's lock files are compared with the daemon's as files, not as spellings).
#[test]
fn a_lock_named_relatively_or_through_a_symlink_is_listed_once() {
    use std::os::unix::fs::MetadataExt;
    let _serial = serial();
    let dir = Dir::new("listed-once");
    let marker = dir.path("marker");
    let project = sleepy_project(&dir, "app", &marker);
    fs::create_dir_all(dir.path("elsewhere")).unwrap();
    symlink(dir.path("elsewhere"), project.join("target")).unwrap();
    let d = Daemon::start(&dir, "daemon");
    let mut build = dir.cargo(&project);
    build.args(["build", "--offline"]);
    let mut build = dir.spawn("build", &mut build);
    wait_file(&util::started_file(&marker), &[&build]);
    let lock = fs::canonicalize(dir.path("elsewhere"))
        .unwrap()
        .join("debug/.cargo-lock");
    d.wait_for("the build's lock", |r| holder_of(r, &lock).is_some());
    let out = dir
        .command(env!("CARGO_BIN_EXE_cargo-lockwatch"))
        .args(["status", "--json", "--all", "--project", "app"])
        .envs(d.env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let r: Report = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(
        r.locks.iter().all(|l| l.path.is_absolute()),
        "{:#?}",
        r.locks
    );
    let file = |p: &Path| fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let listed: Vec<_> = (r.locks.iter())
        .filter(|l| file(&l.path) == file(&lock))
        .map(|l| (l.path.clone(), l.state))
        .collect();
    assert_eq!(listed, [(lock.clone(), LockState::Held)]);
    touch(&marker);
    assert_eq!(build.wait_exit(), 0);
}

// 9. An ordinary user's lock in a Cargo home it may no longer search (mode 000): the lock is
// held, not "deleted", and its holder is not called stale for guarding nothing.
#[test]
fn a_lock_in_a_directory_nobody_may_search_is_not_deleted() {
    let _serial = serial();
    ensure_lwtest();
    let dir = Dir::new("unsearchable");
    fs::set_permissions(&dir.root, fs::Permissions::from_mode(0o755)).unwrap();
    let home = dir.path("home");
    fs::create_dir_all(&home).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o777)).unwrap();
    let cache = home.join(".package-cache");
    let env: Vec<(&str, &OsStr)> = vec![
        ("HOME", home.as_os_str()),
        ("CARGO_HOME", home.as_os_str()),
        ("LOCKWATCH_CONFIG_DIR", home.as_os_str()),
        ("LOCKWATCH_DATA_DIR", home.as_os_str()),
        ("LOCKWATCH_RUNTIME_DIR", OsStr::new("/nonexistent/run")),
    ];
    let args = ["-x", cache.to_str().unwrap(), "sleep", "600"];
    let flock = Path::new("/usr/bin/flock");
    let holder = dir.spawn("flock", &mut as_lwtest(flock, &args, &dir.root, &env));
    let start = Instant::now();
    while !fs::read_to_string("/proc/locks")
        .unwrap()
        .contains(&format!(" {} ", holder.pid))
    {
        assert!(start.elapsed() < POLL_TIMEOUT, "{}", holder.describe());
        std::thread::sleep(Duration::from_millis(50));
    }
    fs::set_permissions(&home, fs::Permissions::from_mode(0o000)).unwrap();
    let lockwatch = Path::new(env!("CARGO_BIN_EXE_cargo-lockwatch"));
    let args = ["status", "--json", "--no-daemon"];
    let out = as_lwtest(lockwatch, &args, &dir.root, &env)
        .output()
        .unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o777)).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let r: Report = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let i = r
        .incidents
        .iter()
        .find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == holder.pid))
        .unwrap_or_else(|| panic!("{text}"));
    let lock = i
        .locks
        .iter()
        .find(|l| l.path == cache)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(!lock.deleted, "{text}");
    assert!(!i.verdict.contains("deleted"), "{}", i.verdict);
    // And the user is told why nothing else there is seen.
    let err = String::from_utf8_lossy(&out.stderr);
    let told = format!("CARGO_HOME={} cannot be read by you", home.display());
    assert!(err.contains(&told), "{err}");
    drop(holder);
}

// 6. Anyone may name a process with escape sequences (a copied binary named so): `status` shows
// the name, escaped, and never writes the sequences to the terminal.
#[test]
fn a_process_named_with_escape_sequences_is_shown_not_obeyed() {
    let _serial = serial();
    let dir = Dir::new("escapes");
    let lock = dir.cargo_home.join(".package-cache");
    fs::write(&lock, "").unwrap();
    let odd = dir.root.join("fl\u{1b}]0;PWNED\u{7}\u{1b}[2Jx");
    fs::copy("/usr/bin/flock", &odd).unwrap();
    let mut cmd = dir.command(odd.to_str().unwrap());
    cmd.arg("-x").arg(&lock).args(["sleep", "300"]);
    let holder = dir.spawn("holder", &mut cmd);
    util::wait_holder(&dir, &lock, holder.pid, &[&holder]);
    let out = dir.lockwatch().run_raw(&[]);
    let line = (out.stdout.lines())
        .find(|l| l.contains(&format!(" {} ", holder.pid)) && !l.starts_with(' '))
        .unwrap_or_else(|| panic!("no headline names {}: {out:?}", holder.pid));
    assert!(line.contains("fl\\x1b]0;PWNED\\x07\\x1b[2"), "{line}");
    assert!(!out.stdout.contains('\u{1b}'), "{:?}", out.stdout);
    assert!(!out.stdout.contains('\u{7}'), "{:?}", out.stdout);
}

// 7. A history the user may not read is an error with what to do, not "No history yet".
#[test]
fn a_history_this_user_cannot_read_is_an_error_not_an_empty_history() {
    ensure_lwtest();
    let dir = Dir::new("history-unreadable");
    fs::set_permissions(&dir.root, fs::Permissions::from_mode(0o755)).unwrap();
    let scratch = dir.path("lw");
    let data = scratch.join("data");
    fs::create_dir_all(&data).unwrap();
    fs::set_permissions(&scratch, fs::Permissions::from_mode(0o777)).unwrap();
    fs::set_permissions(&data, fs::Permissions::from_mode(0o777)).unwrap();
    let log = data.join("history.jsonl");
    fs::write(&log, "").unwrap();
    fs::set_permissions(&log, fs::Permissions::from_mode(0o600)).unwrap(); // root's, not lwtest's
    let env: Vec<(&str, &OsStr)> = vec![
        ("HOME", scratch.as_os_str()),
        ("LOCKWATCH_CONFIG_DIR", scratch.as_os_str()),
        ("LOCKWATCH_DATA_DIR", data.as_os_str()),
        ("LOCKWATCH_RUNTIME_DIR", scratch.as_os_str()),
    ];
    let lockwatch = Path::new(env!("CARGO_BIN_EXE_cargo-lockwatch"));
    for args in [&["history"][..], &["history", "--json"]] {
        let out = as_lwtest(lockwatch, args, &scratch, &env).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(lockwatch::exit::ERROR),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("cannot read") && err.contains("chmod u+r"),
            "{args:?}: {err}"
        );
    }
}
