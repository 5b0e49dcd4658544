//! Real-binary tests of `install`, `uninstall` and `doctor`: each runs the built
//! `cargo-lockwatch` with a cleared environment — a temp `HOME`, a temp `LOCKWATCH_SERVICE_DIR`
//! and a `PATH` holding at most a fake `systemctl`/`launchctl` — so they never touch the real
//! `~/.config`, `~/Library` or service manager, and do not need a user systemd manager.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One test's sandbox.
struct Sandbox {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    /// The binary to run (the built one, or a copy at an awkward path).
    binary: PathBuf,
    /// The only directory on `PATH`.
    bin: PathBuf,
    /// `LOCKWATCH_SERVICE_DIR`.
    units: PathBuf,
    /// `LOCKWATCH_RUNTIME_DIR`.
    runtime: PathBuf,
    /// Extra variables.
    env: Vec<(String, String)>,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(tmp.path()).unwrap();
        for d in ["home", "bin", "config", "data", "run"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        // Private, as a real runtime dir is (a shared one gets a per-user subdirectory).
        fs::set_permissions(root.join("run"), fs::Permissions::from_mode(0o700)).unwrap();
        Sandbox {
            binary: PathBuf::from(env!("CARGO_BIN_EXE_cargo-lockwatch")),
            bin: root.join("bin"),
            units: root.join("units"),
            runtime: root.join("run"),
            root,
            _tmp: tmp,
            env: Vec::new(),
        }
    }

    /// Runs a copy of the binary from `rel` (under the sandbox), so its path has to be escaped.
    fn copy_binary_to(&mut self, rel: &str) {
        let dest = self.root.join(rel);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::copy(&self.binary, &dest).unwrap();
        self.binary = dest;
    }

    /// Puts a fake program on `PATH` that logs its arguments to `<name>.log` and runs `body`.
    fn fake(&self, name: &str, body: &str) {
        let log = self.root.join(format!("{name}.log"));
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\n{body}\nexit 0\n",
            log.display()
        );
        let path = self.bin.join(name);
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn calls(&self, name: &str) -> Vec<String> {
        fs::read_to_string(self.root.join(format!("{name}.log")))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.binary);
        cmd.args(args)
            .env_clear()
            .env("HOME", self.root.join("home"))
            .env("PATH", &self.bin)
            .env("LOCKWATCH_SERVICE_DIR", &self.units)
            .env("LOCKWATCH_CONFIG_DIR", self.root.join("config"))
            .env("LOCKWATCH_DATA_DIR", self.root.join("data"))
            .env("LOCKWATCH_RUNTIME_DIR", &self.runtime);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // A copied binary can be briefly "busy" while a parallel test's fork still holds the
        // copy's write descriptor; retry that case only.
        for _ in 0..50 {
            match cmd.output() {
                Ok(out) => return out,
                Err(e) if e.raw_os_error() == Some(libc_etxtbsy()) => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(e) => panic!("cannot run {}: {e}", self.binary.display()),
            }
        }
        panic!("{} stayed busy", self.binary.display());
    }
}

/// A daemon started by a test; killed (by its pid) if the test ends without stopping it.
#[cfg(target_os = "linux")]
struct Daemon(std::process::Child);

#[cfg(target_os = "linux")]
impl Daemon {
    /// Waits up to 10 s for it to exit after `daemon --stop`.
    fn wait(mut self) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < until {
            if self.0.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the daemon did not exit after `daemon --stop`");
    }
}

#[cfg(target_os = "linux")]
impl Drop for Daemon {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[cfg(target_os = "linux")]
impl Sandbox {
    /// Starts `daemon --headless` in the sandbox and waits for its socket.
    fn start_daemon(&self) -> Daemon {
        let mut cmd = Command::new(&self.binary);
        cmd.args(["daemon", "--headless"])
            .env_clear()
            .env("HOME", self.root.join("home"))
            .env("PATH", &self.bin)
            .env("LOCKWATCH_CONFIG_DIR", self.root.join("config"))
            .env("LOCKWATCH_DATA_DIR", self.root.join("data"))
            .env("LOCKWATCH_RUNTIME_DIR", &self.runtime)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let daemon = Daemon(cmd.spawn().unwrap());
        let socket = self.runtime.join("lockwatch.sock");
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        // The socket file appears at bind(); wait until the daemon also answers on it.
        while !socket.exists() || self.run(&["daemon", "--check"]).status.code() != Some(0) {
            assert!(
                std::time::Instant::now() < until,
                "the daemon did not answer on {}",
                socket.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        daemon
    }
}

fn libc_etxtbsy() -> i32 {
    26 // ETXTBSY on Linux and macOS.
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) -> (String, String) {
    let (so, se) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stdout:\n{so}\nstderr:\n{se}");
    (so, se)
}

/// The output of a run that exited 2 (an error, or a problem found).
#[cfg(target_os = "linux")]
fn failed(out: &Output) -> (String, String) {
    let (so, se) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "stdout:\n{so}\nstderr:\n{se}");
    (so, se)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use lockwatch::service::systemd;

    const UNIT: &str = "cargo-lockwatch.service";

    fn setting<'a>(unit: &'a str, key: &str) -> Option<&'a str> {
        unit.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
    }

    #[test]
    fn dry_run_and_print_change_nothing() {
        let sb = Sandbox::new();
        let (stdout, stderr) = ok(&sb.run(&["install", "--dry-run"]));
        assert!(
            stdout.contains(&format!("would write {}", sb.units.join(UNIT).display())),
            "{stdout}"
        );
        assert!(
            stdout.contains(
                "systemctl is not installed: the systemd user unit would be written, but nothing \
                 would start the daemon at login."
            ) && stdout.contains("\n  systemctl --user enable --now cargo-lockwatch.service\n"),
            "{stdout}"
        );
        // The built binary is a dev build when the target dir is called `target` (the default).
        let exe = fs::canonicalize(&sb.binary).unwrap();
        let dev = lockwatch::service::is_dev_build(&exe);
        assert_eq!(stderr.contains("development build"), dev, "{stderr}");
        assert_eq!(stderr.contains("cargo install --path ."), dev, "{stderr}");
        assert!(!sb.units.exists());

        let (stdout, _) = ok(&sb.run(&["install", "--print"]));
        assert_eq!(systemd::program(&stdout).unwrap(), exe);
        assert_eq!(setting(&stdout, "Restart"), Some("on-failure"));
        assert!(!sb.units.exists());

        let (stdout, _) = ok(&sb.run(&["uninstall", "--dry-run"]));
        assert!(stdout.contains("no unit file at"), "{stdout}");
    }

    #[test]
    fn install_escapes_an_awkward_path_and_reinstall_replaces() {
        let mut sb = Sandbox::new();
        sb.copy_binary_to("Zoë & <co>/100% tools/cargo-lockwatch");
        let cargo_home = sb.root.join("cargo home ü");
        sb.env.push((
            "CARGO_HOME".into(),
            cargo_home.to_string_lossy().into_owned(),
        ));

        // No systemctl: the unit is written, but that starts nothing at login (exit 2).
        let (stdout, stderr) = failed(&sb.run(&["install"]));
        assert!(!stderr.contains("development build"), "{stderr}");
        assert!(stdout.starts_with("wrote "), "{stdout}");
        assert!(
            stderr.contains(
                "systemctl is not installed, so nothing will start the daemon at login yet"
            ),
            "{stderr}"
        );
        assert!(
            stderr.contains("  systemctl --user enable --now cargo-lockwatch.service"),
            "{stderr}"
        );
        let file = sb.units.join(UNIT);
        let unit = fs::read_to_string(&file).unwrap();
        assert_eq!(systemd::program(&unit).unwrap(), sb.binary);
        assert!(
            setting(&unit, "ExecStart")
                .unwrap()
                .contains("Zoë & <co>/100%% tools/cargo-lockwatch\" daemon"),
            "{unit}"
        );
        assert_eq!(
            setting(&unit, "Environment").unwrap(),
            format!("\"CARGO_HOME={}\"", cargo_home.display())
        );
        // The sandbox's own directories go along, so the daemon and this shell meet.
        let runtime = format!("LOCKWATCH_RUNTIME_DIR={}", sb.runtime.display());
        let data = format!("LOCKWATCH_DATA_DIR={}", sb.root.join("data").display());
        for var in [&runtime, &data] {
            assert!(
                unit.lines().any(|l| l == format!("Environment=\"{var}\"")),
                "{unit}"
            );
            assert!(stdout.contains(var.as_str()), "{stdout}");
        }
        assert!(
            stdout.contains("the daemon gets this shell's CARGO_HOME="),
            "{stdout}"
        );

        failed(&sb.run(&["install"]));
        assert_eq!(fs::read_to_string(&file).unwrap(), unit);
        assert_eq!(listing(&sb.units), [UNIT]);

        let (stdout, _) = ok(&sb.run(&["uninstall"]));
        assert!(
            stdout.contains("systemctl is not installed; nothing to stop"),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("removed {}", file.display())),
            "{stdout}"
        );
        assert!(listing(&sb.units).is_empty());

        let (stdout, _) = ok(&sb.run(&["uninstall"]));
        assert!(stdout.contains("nothing to remove"), "{stdout}");
    }

    #[test]
    fn a_user_manager_that_does_not_answer_gets_instructions() {
        let sb = Sandbox::new();
        sb.fake(
            "systemctl",
            "echo 'Failed to connect to bus: No medium found' >&2; exit 1",
        );
        let (stdout, stderr) = failed(&sb.run(&["install"]));
        assert!(stdout.starts_with("wrote "), "{stdout}");
        for expected in [
            "no systemd user instance answered",
            "No medium found",
            "nothing will start the daemon at login yet",
            "start the daemon yourself with `cargo lockwatch daemon`",
        ] {
            assert!(stderr.contains(expected), "{expected}:\n{stderr}");
        }
        assert!(!stdout.contains("installed"), "{stdout}");
        assert_eq!(sb.calls("systemctl"), ["--user show-environment"]);
        assert!(sb.units.join(UNIT).is_file());
    }

    #[test]
    fn with_a_user_manager_install_enables_and_uninstall_disables() {
        let sb = Sandbox::new();
        sb.fake(
            "systemctl",
            r#"case "$2" in
  is-active) echo inactive; exit 3 ;;
esac"#,
        );
        let (stdout, _) = ok(&sb.run(&["install"]));
        assert!(stdout.contains("installed: "), "{stdout}");
        assert_eq!(
            sb.calls("systemctl"),
            [
                "--user show-environment",
                "--user is-active cargo-lockwatch.service",
                "--user daemon-reload",
                "--user enable --now cargo-lockwatch.service",
            ]
        );
        fs::remove_file(sb.root.join("systemctl.log")).unwrap();
        let (stdout, _) = ok(&sb.run(&["uninstall"]));
        assert!(
            stdout.contains("ran: systemctl --user disable --now"),
            "{stdout}"
        );
        assert_eq!(
            sb.calls("systemctl"),
            [
                "--user show-environment",
                "--user disable --now cargo-lockwatch.service",
                "--user daemon-reload",
            ]
        );
        assert!(!sb.units.join(UNIT).exists());
    }

    #[test]
    fn doctor_lists_problems_then_all_is_well() {
        let mut sb = Sandbox::new();
        // A fresh headless machine without systemctl: nothing is wrong, but nothing can start
        // the daemon at login, so `install` is not the advice and all is not well.
        let out = sb.run(&["doctor"]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        for expected in [
            "info    service file   not installed",
            "warn    service        systemctl is not installed: nothing can start the daemon at \
             login from here",
            "→ start the daemon yourself with `cargo lockwatch daemon`",
            "info    daemon socket",
            "info    notifications  no desktop session here",
        ] {
            assert!(stdout.contains(expected), "{expected}:\n{stdout}");
        }
        assert!(
            !stdout.contains("to start it at login, run `cargo lockwatch install`"),
            "{stdout}"
        );
        assert!(!stdout.ends_with("all is well\n"), "{stdout}");
        // A desktop session without its session bus: notifications cannot go out.
        sb.env.push(("DISPLAY".into(), ":99".into()));
        let out = sb.run(&["doctor"]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{stdout}");
        for expected in [
            "PROBLEM notifications",
            "DBUS_SESSION_BUS_ADDRESS is not set",
        ] {
            assert!(stdout.contains(expected), "{expected}:\n{stdout}");
        }
        let out = sb.run(&["doctor", "--json"]);
        assert_eq!(out.status.code(), Some(2));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["ok"], false);
        let names: Vec<&str> = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"binary") && names.contains(&"lock table"),
            "{names:?}"
        );

        // A fresh machine with a session bus and a user manager: nothing is wrong, only not
        // set up yet. (An installed copy of the binary: a development build would warn.)
        sb.env.push((
            "DBUS_SESSION_BUS_ADDRESS".into(),
            "unix:path=/dev/null".into(),
        ));
        sb.copy_binary_to("installed/cargo-lockwatch");
        sb.fake(
            "systemctl",
            r#"case "$2" in
  is-enabled) echo not-found; exit 1 ;;
  is-active) echo inactive; exit 3 ;;
esac"#,
        );
        let (stdout, _) = ok(&sb.run(&["doctor"]));
        assert!(
            stdout.contains("→ to start it at login, run `cargo lockwatch install`"),
            "{stdout}"
        );
        assert!(stdout.ends_with("all is well\n"), "{stdout}");

        // Installed, loaded, running, socket present, session bus known: all is well.
        sb.fake(
            "systemctl",
            r#"case "$2" in
  is-enabled) echo enabled ;;
  is-active) echo active ;;
esac"#,
        );
        ok(&sb.run(&["install"]));
        let daemon = sb.start_daemon();
        let (stdout, _) = ok(&sb.run(&["doctor"]));
        assert!(stdout.ends_with("all is well\n"), "{stdout}");
        assert!(stdout.contains("starts this binary"), "{stdout}");
        assert!(stdout.contains("enabled, active"), "{stdout}");
        assert!(
            stdout.contains(&format!("the daemon answers (pid {})", daemon.0.id())),
            "{stdout}"
        );
        ok(&sb.run(&["daemon", "--stop"]));
        daemon.wait();
    }

    #[test]
    fn build_app_script_assembles_a_bundle() {
        let sb = Sandbox::new();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/macos/build-app.sh");
        let out_dir = sb.root.join("dist");
        let out = Command::new("bash")
            .arg(&script)
            .arg("--binary")
            .arg(&sb.binary)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap();
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        let app = out_dir.join("Lockwatch.app/Contents");
        assert!(app.join("MacOS/cargo-lockwatch").is_file());
        let info = plist::Value::from_file(app.join("Info.plist")).unwrap();
        let info = info.as_dictionary().unwrap();
        assert_eq!(info["LSUIElement"].as_boolean(), Some(true));
        assert_eq!(
            info["CFBundleIdentifier"].as_string(),
            Some(lockwatch::service::LABEL)
        );
        assert_eq!(
            info["CFBundleShortVersionString"].as_string(),
            Some(env!("CARGO_PKG_VERSION"))
        );
        let icon = app.join("Resources/app.icns");
        assert_eq!(
            icon.is_file(),
            !stdout.contains("no app icon") && !stderr.contains("no app icon"),
            "{stdout}\n{stderr}"
        );
        // Not macOS: no LaunchServices to register with, and the script says so.
        assert!(
            stdout.contains("not registered with LaunchServices: this is not macOS"),
            "{stdout}"
        );

        // Where a registration tool exists (a fake one here), the built bundle is registered.
        sb.fake("lsregister", "");
        let out = Command::new("bash")
            .arg(&script)
            .arg("--binary")
            .arg(&sb.binary)
            .arg("--out")
            .arg(&out_dir)
            .env("LSREGISTER", sb.bin.join("lsregister"))
            .output()
            .unwrap();
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        assert!(
            stdout.contains("registered with LaunchServices"),
            "{stdout}"
        );
        assert_eq!(
            sb.calls("lsregister"),
            [format!("-f {}", out_dir.join("Lockwatch.app").display())]
        );
    }
}

#[cfg(target_os = "macos")]
mod macos {
    use super::*;
    use lockwatch::service::{LABEL, launchd};

    #[test]
    fn install_bootstraps_and_uninstall_boots_out_with_a_fake_launchctl() {
        let mut sb = Sandbox::new();
        sb.copy_binary_to("Zoë & <co>/cargo-lockwatch");
        sb.fake(
            "launchctl",
            r#"case "$1" in
  bootout) [ -f "$0.loaded" ] || { echo 'Boot-out failed: 3: No such process' >&2; exit 3; }; rm -f "$0.loaded" ;;
  bootstrap) touch "$0.loaded" ;;
esac"#,
        );
        let (stdout, _) = ok(&sb.run(&["install"]));
        assert!(stdout.contains("(it was not loaded)"), "{stdout}");
        let file = sb.units.join(format!("{LABEL}.plist"));
        let text = fs::read_to_string(&file).unwrap();
        assert_eq!(launchd::program(&text).unwrap(), sb.binary);
        assert!(sb.root.join("home/Library/Logs/cargo-lockwatch").is_dir());

        let (stdout, _) = ok(&sb.run(&["install"]));
        assert!(stdout.contains("unloaded the previous agent"), "{stdout}");
        assert_eq!(listing(&sb.units), [format!("{LABEL}.plist")]);

        let (stdout, _) = ok(&sb.run(&["uninstall"]));
        assert!(stdout.contains("stopped and unloaded"), "{stdout}");
        assert!(!file.exists());
        let (stdout, _) = ok(&sb.run(&["uninstall"]));
        assert!(stdout.contains("nothing to remove"), "{stdout}");
        let calls = sb.calls("launchctl");
        assert_eq!(calls.len(), 6, "{calls:?}");
        assert!(calls[1].starts_with("bootstrap gui/"), "{calls:?}");
    }
}
