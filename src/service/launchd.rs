//! The macOS LaunchAgent: renders `launchd/com.cargo-lockwatch.agent.plist` with the binary
//! path and home (XML-escaped), and loads or unloads it with `launchctl bootstrap` / `bootout` in
//! the `gui/$UID` domain. Rendering is pure and tested everywhere; the `launchctl` calls go
//! through [`Runner`] so the flows are tested with a fake.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    Cmd, Label, Outcome, Ran, Runner, ServiceError, ServiceState, Setup, fill, means_not_loaded,
    path_text, remove_file, write_file,
};

/// The agent template, embedded.
pub const TEMPLATE: &str = include_str!("../../launchd/com.cargo-lockwatch.agent.plist");

const FORMAT: &str = "launchd agent";

/// How long to wait between `bootstrap` attempts while a `bootout` is still finishing.
const RETRY_DELAY: Duration = Duration::from_millis(if cfg!(test) { 5 } else { 400 });
const ATTEMPTS: usize = 5;

/// What the agent file is made of.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    /// The agent's label.
    pub label: &'a Label,
    /// The daemon binary (absolute).
    pub binary: &'a Path,
    /// The user's home (logs go under `~/Library/Logs/cargo-lockwatch`).
    pub home: &'a Path,
    /// The variables to pass on (`CARGO_HOME` …), as set at install time.
    pub environment: &'a [(&'static str, PathBuf)],
}

/// `~/Library/LaunchAgents`.
pub fn default_dir(home: &Path) -> PathBuf {
    home.join("Library/LaunchAgents")
}

/// `~/Library/Logs/cargo-lockwatch`, where the agent's stdout and stderr go.
pub fn log_dir(home: &Path) -> PathBuf {
    home.join("Library/Logs/cargo-lockwatch")
}

/// `<label>.plist`.
pub fn file_name(label: &Label) -> String {
    format!("{label}.plist")
}

/// Escapes text for an XML element or attribute.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The agent plist.
pub fn render(p: &Params<'_>) -> Result<String, ServiceError> {
    let binary = path_text(p.binary, FORMAT)?;
    let logs = log_dir(p.home);
    let logs = path_text(&logs, FORMAT)?;
    let mut entries = String::new();
    for (k, v) in p.environment {
        let value = xml_escape(path_text(v, FORMAT)?);
        entries.push_str(&format!(
            "\t\t<key>{k}</key>\n\t\t<string>{value}</string>\n"
        ));
    }
    let environment = if entries.is_empty() {
        entries
    } else {
        format!("\t<key>EnvironmentVariables</key>\n\t<dict>\n{entries}\t</dict>\n")
    };
    Ok(fill(
        TEMPLATE,
        &[
            ("LABEL", &xml_escape(p.label.as_str())),
            ("BINARY", &xml_escape(binary)),
            ("LOG_DIR", &xml_escape(logs)),
            ("ENVIRONMENT", &environment),
        ],
    ))
}

/// The program an agent plist starts (`ProgramArguments[0]`), if it parses.
pub fn program(text: &str) -> Option<PathBuf> {
    let value = plist::Value::from_reader_xml(text.as_bytes()).ok()?;
    let first = value
        .as_dictionary()?
        .get("ProgramArguments")?
        .as_array()?
        .first()?
        .as_string()?;
    Some(PathBuf::from(first))
}

/// The `CFBundleIdentifier` of the `.app` bundle `binary` runs from
/// (`X.app/Contents/MacOS/binary`), or `None` when it is not in a bundle.
pub fn app_bundle_id(binary: &Path) -> Option<String> {
    let macos = binary.parent()?;
    let contents = macos.parent()?;
    let app = contents.parent()?;
    let is_bundle = macos.file_name()? == "MacOS"
        && contents.file_name()? == "Contents"
        && app.extension()? == "app";
    if !is_bundle {
        return None;
    }
    let info = plist::Value::from_file(contents.join("Info.plist")).ok()?;
    info.as_dictionary()?
        .get("CFBundleIdentifier")?
        .as_string()
        .map(str::to_string)
}

fn domain(uid: u32) -> String {
    format!("gui/{uid}")
}

fn service_target(uid: u32, label: &Label) -> String {
    format!("gui/{uid}/{label}")
}

fn not_runnable(cmd: &Cmd, e: &std::io::Error) -> ServiceError {
    ServiceError::Manager {
        command: cmd.to_string(),
        detail: if e.kind() == std::io::ErrorKind::NotFound {
            "launchctl is not on PATH".to_string()
        } else {
            e.to_string()
        },
        hint: "; the agent file is in place and loads at your next login".to_string(),
    }
}

/// Wraps the binary in our app bundle (unless it already runs from one), writes the agent
/// pointing at the bundled executable, unloads any running copy, loads the new one.
pub(super) fn install(
    setup: &Setup,
    runner: &mut dyn Runner,
    dry_run: bool,
) -> Result<Outcome, ServiceError> {
    let mut out = Outcome::default();
    let mut setup = setup.clone();
    if !super::bundle::is_bundled(&setup.binary) {
        wrap_in_bundle(&mut setup, runner, dry_run, &mut out);
    }
    let text = &setup.render()?;
    let setup = &setup;
    let file = setup.service_file();
    let logs = log_dir(&setup.home);
    let file_text = path_text(&file, FORMAT)?;
    let bootout = Cmd::new(
        "launchctl",
        &["bootout", &service_target(setup.uid, &setup.label)],
    );
    let bootstrap = Cmd::new("launchctl", &["bootstrap", &domain(setup.uid), file_text]);
    if dry_run {
        out.step(format!("would create {}", logs.display()));
        out.step(format!("would write {}", file.display()));
        out.ran(true, &bootout, " (\"not loaded\" is fine)");
        out.ran(true, &bootstrap, "");
        return Ok(out);
    }

    // launchd opens the log files but does not create their directory.
    std::fs::create_dir_all(&logs).map_err(|source| ServiceError::Io {
        what: "create the log directory",
        path: logs.clone(),
        source,
    })?;
    write_file(&file, text)?;
    out.step(format!("wrote {}", file.display()));
    unload_previous(runner, &bootout, &mut out)?;
    load(runner, &bootstrap, &mut out)?;
    Ok(out)
}

/// Wraps `setup`'s binary in our app bundle and points `setup` at the bundled executable (or
/// says it would); without a bundle the agent runs the binary as it is.
fn wrap_in_bundle(setup: &mut Setup, runner: &mut dyn Runner, dry_run: bool, out: &mut Outcome) {
    let app = setup.app();
    if dry_run {
        out.step(format!("would wrap the binary in {}", app.display()));
        return;
    }
    match super::bundle::create(&app, &setup.binary, &setup.label, runner, out) {
        Ok(exe) => setup.binary = exe,
        Err(e) => out.step(format!(
            "no app bundle ({e}); the agent runs the binary as it is, and macOS shows \
             its notifications as Terminal's"
        )),
    }
}

/// Unloads a running copy of the agent with `bootout`; only `launchctl` not running is an
/// error (a failed unload is said, and the new agent loaded anyway).
fn unload_previous(
    runner: &mut dyn Runner,
    bootout: &Cmd,
    out: &mut Outcome,
) -> Result<(), ServiceError> {
    match runner.run(bootout) {
        Err(e) => return Err(not_runnable(bootout, &e)),
        Ok(r) if r.success() => out.ran(false, bootout, " (unloaded the previous agent)"),
        Ok(r) if means_not_loaded(&r) => out.ran(false, bootout, " (it was not loaded)"),
        Ok(r) => out.step(format!(
            "ran: {bootout} (failed: {}; loading the new agent anyway)",
            r.detail()
        )),
    }
    Ok(())
}

/// Loads the agent with `bootstrap`, trying again while an earlier `bootout` is finishing.
fn load(runner: &mut dyn Runner, bootstrap: &Cmd, out: &mut Outcome) -> Result<(), ServiceError> {
    // `bootout` returns before the old job is fully gone; `bootstrap` then fails with
    // "5: Input/output error" for a moment.
    let mut last: Option<Ran> = None;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(RETRY_DELAY);
        }
        let r = runner
            .run(bootstrap)
            .map_err(|e| not_runnable(bootstrap, &e))?;
        if r.success() {
            out.ran(
                false,
                bootstrap,
                " (the daemon runs now and at every login)",
            );
            return Ok(());
        }
        let transient =
            matches!(r.code, Some(5) | Some(37)) || r.detail().contains("Input/output error");
        last = Some(r);
        if !transient {
            break;
        }
    }
    Err(ServiceError::Manager {
        command: bootstrap.to_string(),
        detail: last.map(|r| r.detail()).unwrap_or_default(),
        hint: "; the agent file is in place and loads at your next login. Over SSH there is no \
               GUI session to load it into: run `cargo lockwatch install` again from Terminal \
               on the Mac's desktop"
            .to_string(),
    })
}

/// Removes the agent's file (and our app bundle), then unloads the agent — last, because
/// unloading stops the daemon, which may be this very process (unticking "Launch at login" in
/// the menu): then it is not unloaded at all, and simply will not start at the next login.
pub(super) fn uninstall(
    setup: &Setup,
    runner: &mut dyn Runner,
    dry_run: bool,
) -> Result<Outcome, ServiceError> {
    let mut out = Outcome::default();
    let file = setup.service_file();
    let bootout = Cmd::new(
        "launchctl",
        &["bootout", &service_target(setup.uid, &setup.label)],
    );
    if dry_run {
        if file.exists() {
            out.step(format!("would remove {}", file.display()));
        } else {
            out.step(format!("no agent file at {}", file.display()));
        }
        out.ran(true, &bootout, " (\"not loaded\" is fine)");
        return Ok(out);
    }
    if remove_file(&file)? {
        out.step(format!("removed {}", file.display()));
    } else {
        out.step(format!(
            "no agent file at {} (nothing to remove)",
            file.display()
        ));
    }
    if setup.under_our_agent {
        out.step(
            "the running daemon is this agent: it stays until you quit it, and will not start \
             at the next login",
        );
        return Ok(out);
    }
    super::bundle::remove(&setup.app(), &setup.label, &mut out)?;
    match runner.run(&bootout) {
        Ok(r) if r.success() => out.ran(false, &bootout, " (stopped and unloaded the agent)"),
        Ok(r) if means_not_loaded(&r) => out.step("the agent was not loaded"),
        Ok(r) => out.step(format!(
            "{bootout} failed: {}; the file is removed anyway, so it will not start at the \
             next login",
            r.detail()
        )),
        Err(e) => out.step(format!(
            "could not run {bootout}: {e}; the file is removed anyway, so it will not start at \
             the next login"
        )),
    }
    Ok(out)
}

/// Asks `launchctl print` whether the agent is loaded and running.
pub(super) fn state(setup: &Setup, runner: &mut dyn Runner) -> ServiceState {
    let print = Cmd::new(
        "launchctl",
        &["print", &service_target(setup.uid, &setup.label)],
    );
    match runner.run(&print) {
        Err(e) => ServiceState {
            loaded: None,
            running: None,
            detail: format!("cannot run `{print}`: {e}"),
        },
        Ok(r) if r.success() => {
            let field = |name: &str| {
                r.stdout
                    .lines()
                    .map(str::trim)
                    .find_map(|l| l.strip_prefix(name)?.trim().strip_prefix('='))
                    .map(|v| v.trim().to_string())
            };
            let state = field("state");
            let running = state.as_deref() == Some("running");
            let mut detail = format!("state = {}", state.as_deref().unwrap_or("unknown"));
            if let Some(pid) = field("pid") {
                detail.push_str(&format!(", pid {pid}"));
            }
            if let Some(code) = field("last exit code").filter(|_| !running) {
                detail.push_str(&format!(", last exit code {code}"));
            }
            ServiceState {
                loaded: Some(true),
                running: Some(running),
                detail,
            }
        }
        Ok(r) if means_not_loaded(&r) => ServiceState {
            loaded: Some(false),
            running: Some(false),
            detail: "not loaded".to_string(),
        },
        Ok(r) => ServiceState {
            loaded: None,
            running: None,
            detail: format!("`{print}` failed: {}", r.detail()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{FakeRunner, exited, setup};
    use super::super::{LABEL, Manager, install as install_any, label, uninstall as uninstall_any};
    use super::*;
    use plist::Value;

    fn dict(text: &str) -> plist::Dictionary {
        Value::from_reader_xml(text.as_bytes())
            .unwrap_or_else(|e| panic!("not a plist ({e}):\n{text}"))
            .into_dictionary()
            .expect("top level is a dict")
    }

    fn s<'a>(d: &'a plist::Dictionary, k: &str) -> &'a str {
        d.get(k)
            .and_then(Value::as_string)
            .unwrap_or_else(|| panic!("{k} missing"))
    }

    fn render_with(binary: &str, home: &str, cargo_home: Option<&str>) -> String {
        let environment: Vec<(&str, PathBuf)> = cargo_home
            .map(|h| ("CARGO_HOME", h.into()))
            .into_iter()
            .collect();
        render(&Params {
            label: &label(),
            binary: Path::new(binary),
            home: Path::new(home),
            environment: &environment,
        })
        .unwrap()
    }

    #[test]
    fn renders_every_key() {
        let text = render_with(
            "/Users/me/.cargo/bin/cargo-lockwatch",
            "/Users/me",
            Some("/Users/me/.cargo"),
        );
        assert!(!text.contains("{{"), "{text}");
        let d = dict(&text);
        assert_eq!(s(&d, "Label"), LABEL);
        let args: Vec<&str> = d["ProgramArguments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_string().unwrap())
            .collect();
        assert_eq!(args, ["/Users/me/.cargo/bin/cargo-lockwatch", "daemon"]);
        assert_eq!(d["RunAtLoad"].as_boolean(), Some(true));
        let keep = d["KeepAlive"].as_dictionary().unwrap();
        assert_eq!(keep.len(), 1);
        assert_eq!(keep["SuccessfulExit"].as_boolean(), Some(false));
        assert_eq!(s(&d, "ProcessType"), "Interactive");
        assert_eq!(s(&d, "LimitLoadToSessionType"), "Aqua");
        assert_eq!(
            s(&d, "StandardOutPath"),
            "/Users/me/Library/Logs/cargo-lockwatch/daemon.out.log"
        );
        assert_eq!(
            s(&d, "StandardErrorPath"),
            "/Users/me/Library/Logs/cargo-lockwatch/daemon.err.log"
        );
        let env = d["EnvironmentVariables"].as_dictionary().unwrap();
        assert_eq!(env.len(), 1);
        assert_eq!(s(env, "CARGO_HOME"), "/Users/me/.cargo");
        let mut keys: Vec<&str> = d.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "EnvironmentVariables",
                "KeepAlive",
                "Label",
                "LimitLoadToSessionType",
                "ProcessType",
                "ProgramArguments",
                "RunAtLoad",
                "StandardErrorPath",
                "StandardOutPath",
            ]
        );
    }

    #[test]
    fn no_environment_without_cargo_home() {
        let d = dict(&render_with("/b/cargo-lockwatch", "/Users/me", None));
        assert!(!d.contains_key("EnvironmentVariables"));
    }

    #[test]
    fn escapes_spaces_markup_and_non_ascii() {
        let binary = "/Users/Zoë & <Åsa>/My \"Apps\"/it's/cargo-lockwatch";
        let home = "/Users/Zoë & <Åsa>";
        let cargo = "/Users/Zoë & <Åsa>/.cargo {{LABEL}}";
        let text = render_with(binary, home, Some(cargo));
        assert!(text.contains("Zoë &amp; &lt;Åsa&gt;"), "{text}");
        let d = dict(&text);
        assert_eq!(program(&text).unwrap(), Path::new(binary));
        assert_eq!(
            s(&d, "StandardOutPath"),
            format!("{home}/Library/Logs/cargo-lockwatch/daemon.out.log")
        );
        let env = d["EnvironmentVariables"].as_dictionary().unwrap();
        assert_eq!(s(env, "CARGO_HOME"), cargo);
        assert_eq!(s(&d, "Label"), LABEL);
    }

    #[test]
    fn refuses_paths_xml_cannot_hold() {
        let e = render(&Params {
            label: &label(),
            binary: Path::new("/a\u{1}b/cargo-lockwatch"),
            home: Path::new("/Users/me"),
            environment: &[],
        })
        .unwrap_err();
        assert!(e.to_string().contains("control character"), "{e}");
    }

    #[test]
    fn program_of_garbage_is_none() {
        assert_eq!(program("not a plist"), None);
        assert_eq!(program("<plist version=\"1.0\"><dict/></plist>"), None);
    }

    #[test]
    fn app_info_plist_matches_the_agent() {
        let text = include_str!("../../packaging/macos/Info.plist")
            .replace("{{VERSION}}", env!("CARGO_PKG_VERSION"));
        assert!(!text.contains("{{"));
        let d = dict(&text);
        assert_eq!(d["LSUIElement"].as_boolean(), Some(true));
        assert_eq!(s(&d, "CFBundleIdentifier"), LABEL);
        assert!(Label::parse(s(&d, "CFBundleIdentifier")).is_ok());
        assert_eq!(s(&d, "CFBundleExecutable"), env!("CARGO_PKG_NAME"));
        assert_eq!(s(&d, "CFBundleIconFile"), "app");
        assert_eq!(s(&d, "CFBundlePackageType"), "APPL");
        assert_eq!(
            s(&d, "CFBundleShortVersionString"),
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(s(&d, "CFBundleVersion"), env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn finds_the_bundle_id_of_an_app() {
        let dir = tempfile::tempdir().unwrap();
        let macos = dir.path().join("Lock watch.app/Contents/MacOS");
        std::fs::create_dir_all(&macos).unwrap();
        let binary = macos.join("cargo-lockwatch");
        assert_eq!(app_bundle_id(&binary), None, "no Info.plist yet");
        std::fs::write(
            macos.parent().unwrap().join("Info.plist"),
            include_str!("../../packaging/macos/Info.plist"),
        )
        .unwrap();
        assert_eq!(app_bundle_id(&binary).as_deref(), Some(LABEL));
        assert_eq!(
            app_bundle_id(Path::new("/usr/local/bin/cargo-lockwatch")),
            None
        );
        assert_eq!(app_bundle_id(Path::new("cargo-lockwatch")), None);
    }

    /// A setup whose binary exists, so install can wrap it in the app bundle.
    fn setup_with_binary(root: &Path) -> Setup {
        let setup = setup(Manager::Launchd, root);
        std::fs::create_dir_all(setup.binary.parent().unwrap()).unwrap();
        std::fs::write(&setup.binary, b"binary").unwrap();
        setup
    }

    #[test]
    fn install_wraps_the_binary_in_the_bundle_writes_boots_out_and_bootstraps() {
        let dir = tempfile::tempdir().unwrap();
        let setup = setup_with_binary(dir.path());
        let mut fake = FakeRunner::default();
        fake.answer(
            "launchctl bootout",
            exited(3, "", "Boot-out failed: 3: No such process"),
        );
        let out = install_any(&setup, &mut fake, false).unwrap();
        let file = dir.path().join(format!("agents/{LABEL}.plist"));
        assert_eq!(setup.service_file(), file);
        let text = std::fs::read_to_string(&file).unwrap();
        let exe = super::super::bundle::executable(&setup.app());
        assert_eq!(
            program(&text).unwrap(),
            exe,
            "the agent runs the bundled copy"
        );
        assert_eq!(std::fs::read(&exe).unwrap(), b"binary");
        assert!(log_dir(&setup.home).is_dir());
        assert_eq!(
            fake.log,
            [
                super::super::shell_quote(super::super::bundle::LSREGISTER)
                    + " -f "
                    + &super::super::shell_quote(setup.app().to_str().unwrap()),
                format!("launchctl bootout gui/501/{LABEL}"),
                format!(
                    "launchctl bootstrap gui/501 {}",
                    super::super::shell_quote(file.to_str().unwrap())
                ),
            ]
        );
        assert!(
            out.steps.iter().any(|l| l.contains("not loaded")),
            "{out:?}"
        );
        assert!(out.unmanaged.is_none());

        // Again: the loaded agent is booted out and the file replaced, not duplicated.
        let mut fake = FakeRunner::default();
        fake.answer(
            "launchctl bootstrap",
            exited(5, "", "Bootstrap failed: 5: Input/output error"),
        )
        .answer("launchctl bootstrap", exited(0, "", ""));
        let out = install_any(&setup, &mut fake, false).unwrap();
        assert_eq!(fake.log.len(), 4, "{:?}", fake.log);
        assert!(
            out.steps
                .iter()
                .any(|l| l.contains("unloaded the previous agent")),
            "{out:?}"
        );
        assert_eq!(
            std::fs::read_dir(file.parent().unwrap()).unwrap().count(),
            1
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    }

    #[test]
    fn unticking_launch_at_login_in_the_agents_own_daemon_does_not_stop_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut setup = setup_with_binary(dir.path());
        install_any(&setup, &mut FakeRunner::default(), false).unwrap();
        setup.under_our_agent = true;
        let mut fake = FakeRunner::default();
        let out = uninstall_any(&setup, &mut fake, false).unwrap();
        assert!(fake.log.is_empty(), "no bootout: {:?}", fake.log);
        assert!(!setup.service_file().exists(), "the file is gone first");
        assert!(
            out.steps
                .iter()
                .any(|l| l.contains("stays until you quit it")),
            "{out:?}"
        );
    }

    #[test]
    fn install_failure_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let setup = setup(Manager::Launchd, dir.path());
        let mut fake = FakeRunner::default();
        fake.answer(
            "launchctl bootstrap",
            exited(
                125,
                "",
                "Bootstrap failed: 125: Domain does not support specified action",
            ),
        );
        let e = install_any(&setup, &mut fake, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("125") && e.contains("next login"), "{e}");
        assert_eq!(fake.log.len(), 2, "no retry for a permanent error");
        assert!(setup.service_file().is_file());
    }

    #[test]
    fn dry_run_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let setup = setup(Manager::Launchd, dir.path());
        let mut fake = FakeRunner::default();
        let out = install_any(&setup, &mut fake, true).unwrap();
        assert!(fake.log.is_empty());
        assert!(!setup.service_file().exists());
        assert!(!log_dir(&setup.home).exists());
        assert!(
            out.steps
                .iter()
                .any(|l| l.starts_with("would run: launchctl bootstrap"))
        );
        let out = uninstall_any(&setup, &mut fake, true).unwrap();
        assert!(fake.log.is_empty());
        assert!(out.steps.iter().any(|l| l.contains("no agent file")));
    }

    #[test]
    fn uninstall_removes_then_unloads_and_tolerates_nothing_installed() {
        let dir = tempfile::tempdir().unwrap();
        let setup = setup_with_binary(dir.path());
        install_any(&setup, &mut FakeRunner::default(), false).unwrap();
        assert!(setup.app().is_dir());
        let mut fake = FakeRunner::default();
        let out = uninstall_any(&setup, &mut fake, false).unwrap();
        assert_eq!(fake.log, [format!("launchctl bootout gui/501/{LABEL}")]);
        assert!(!setup.service_file().exists());
        assert!(!setup.app().exists(), "the bundle goes too");
        assert!(
            out.steps.iter().any(|l| l.starts_with("removed ")),
            "{out:?}"
        );

        let mut fake = FakeRunner::default();
        fake.answer(
            "launchctl bootout",
            exited(113, "", "Could not find specified service"),
        );
        let out = uninstall_any(&setup, &mut fake, false).unwrap();
        assert_eq!(
            out.steps,
            [
                format!(
                    "no agent file at {} (nothing to remove)",
                    setup.service_file().display()
                ),
                "the agent was not loaded".to_string(),
            ]
        );
    }

    #[test]
    fn state_reads_launchctl_print() {
        let dir = tempfile::tempdir().unwrap();
        let setup = setup(Manager::Launchd, dir.path());
        let mut fake = FakeRunner::default();
        fake.answer(
            "launchctl print",
            exited(
                0,
                "gui/501/com.cargo-lockwatch.agent = {\n\tactive count = 1\n\tstate = running\n\tpid = 4242\n}",
                "",
            ),
        );
        let st = state(&setup, &mut fake);
        assert_eq!((st.loaded, st.running), (Some(true), Some(true)));
        assert_eq!(st.detail, "state = running, pid 4242");

        let mut fake = FakeRunner::default();
        fake.answer(
            "launchctl print",
            exited(113, "", "Could not find service \"x\" in domain for port"),
        );
        let st = state(&setup, &mut fake);
        assert_eq!((st.loaded, st.running), (Some(false), Some(false)));

        let mut fake = FakeRunner::default();
        fake.answer("launchctl print", None);
        assert_eq!(state(&setup, &mut fake).loaded, None);
    }

    #[test]
    fn the_lockwatch_directories_are_passed_on_as_cargo_home_is() {
        let environment: Vec<(&str, PathBuf)> = vec![
            ("LOCKWATCH_CONFIG_DIR", "/c & d".into()),
            ("LOCKWATCH_DATA_DIR", "/d".into()),
            ("LOCKWATCH_RUNTIME_DIR", "/r".into()),
            ("LOCKWATCH_CONFIG", "/c/x.toml".into()),
        ];
        let text = render(&Params {
            label: &label(),
            binary: Path::new("/b/cargo-lockwatch"),
            home: Path::new("/Users/me"),
            environment: &environment,
        })
        .unwrap();
        let d = dict(&text);
        let env = d["EnvironmentVariables"].as_dictionary().unwrap();
        assert_eq!(env.len(), 4);
        for (k, v) in &environment {
            assert_eq!(s(env, k), v.to_str().unwrap(), "{k}");
        }
    }
}
