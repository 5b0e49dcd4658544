//! The Linux `systemd --user` unit: renders `packaging/systemd/cargo-lockwatch.service` with the
//! binary path (escaped for systemd's own quoting and `%` specifiers), and enables or disables it
//! with `systemctl --user` — only when a user manager answers; otherwise it says what to run.
//! Rendering is pure and tested everywhere; `systemctl` goes through [`Runner`].

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::{
    Cmd, Outcome, Runner, ServiceError, ServiceState, Setup, Unmanaged, fill, means_not_loaded,
    path_text, remove_file, write_file,
};

/// The unit template, embedded.
pub const TEMPLATE: &str = include_str!("../../packaging/systemd/cargo-lockwatch.service");

/// The unit's name (and file name).
pub const UNIT: &str = "cargo-lockwatch.service";

const FORMAT: &str = "systemd unit";

/// What the unit is made of.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    /// The daemon binary (absolute).
    pub binary: &'a Path,
    /// The variables to pass on (`CARGO_HOME` …), as set at install time.
    pub environment: &'a [(&'static str, PathBuf)],
    /// The binary has the tray: start with the graphical session, after it, so the desktop is
    /// there (started at `default.target` it could come up headless before the desktop).
    pub graphical: bool,
}

/// `$XDG_CONFIG_HOME/systemd/user`, or `~/.config/systemd/user` when it is unset or relative
/// (the XDG spec says to ignore relative values).
pub fn default_dir(home: &Path, xdg_config_home: Option<&OsStr>) -> PathBuf {
    xdg_config_home
        .map(Path::new)
        .filter(|p| p.is_absolute())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| home.join(".config"))
        .join("systemd/user")
}

/// Quotes one word of a unit file setting: wrapped in `"`, backslash and `"` escaped, and `%`
/// doubled so systemd does not read it as a specifier. (`$` is left alone: systemd does not
/// expand variables in the program path nor in `Environment=`.)
pub fn quote(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The first word of a unit file command line, unquoted and unescaped (the inverse of [`quote`],
/// and also reads unquoted words).
pub fn first_word(value: &str) -> Option<String> {
    let mut chars = value.trim_start().chars().peekable();
    let quote = match chars.peek() {
        Some('"') | Some('\'') => chars.next(),
        Some(_) => None,
        None => return None,
    };
    let mut word = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => word.push('\n'),
                't' => word.push('\t'),
                other => word.push(other),
            },
            c if Some(c) == quote => break,
            c if quote.is_none() && c.is_whitespace() => break,
            c => word.push(c),
        }
    }
    Some(word.replace("%%", "%"))
}

/// The unit file.
pub fn render(p: &Params<'_>) -> Result<String, ServiceError> {
    let binary = path_text(p.binary, FORMAT)?;
    let mut environment = String::new();
    for (k, v) in p.environment {
        let line = quote(&format!("{k}={}", path_text(v, FORMAT)?));
        environment.push_str(&format!("Environment={line}\n"));
    }
    let (ordering, wanted_by) = if p.graphical {
        (
            "After=graphical-session.target\nPartOf=graphical-session.target\n",
            "graphical-session.target",
        )
    } else {
        ("", "default.target")
    };
    let unit = fill(
        TEMPLATE,
        &[
            ("EXEC_START", &format!("{} daemon", quote(binary))),
            ("ENVIRONMENT", &environment),
            ("ORDERING", ordering),
            ("WANTED_BY", wanted_by),
        ],
    );
    Ok(installed_header(&unit))
}

/// The template's comment says how it is filled in; the installed unit says who wrote it.
fn installed_header(unit: &str) -> String {
    let body = unit.trim_start_matches(|c| c != '[');
    format!(
        "# Written by `cargo lockwatch install`; `cargo lockwatch uninstall` removes it.\n\
         # Restart=on-failure: a crash is restarted, \"Quit\" (exit 0) stays quit.\n{body}"
    )
}

/// The value of the first `key=` line of a unit file.
fn setting<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(key)?.trim_start().strip_prefix('='))
}

/// The program a unit starts (`ExecStart=`'s first word), if it has one.
pub fn program(text: &str) -> Option<PathBuf> {
    let value = setting(text, "ExecStart")?;
    // Strip systemd's special-executable prefixes (`-`, `@`, `:`, `+`, `!`).
    let value = value.trim_start_matches(['-', '@', ':', '+', '!']);
    first_word(value)
        .filter(|w| !w.is_empty())
        .map(PathBuf::from)
}

fn systemctl(args: &[&str]) -> Cmd {
    let mut all = vec!["--user"];
    all.extend_from_slice(args);
    Cmd::new("systemctl", &all)
}

/// `Ok` when `systemctl` exists and a user manager answers; otherwise why not.
fn probe(runner: &mut dyn Runner) -> Result<(), String> {
    let cmd = systemctl(&["show-environment"]);
    match runner.run(&cmd) {
        Ok(r) if r.success() => Ok(()),
        Ok(r) => Err(format!(
            "no systemd user instance answered (`{cmd}`: {})",
            r.detail()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err("systemctl is not installed".to_string())
        }
        Err(e) => Err(format!("cannot run `{cmd}`: {e}")),
    }
}

fn run_checked(runner: &mut dyn Runner, cmd: &Cmd, out: &mut Outcome) -> Result<(), ServiceError> {
    let failed = |detail: String| ServiceError::Manager {
        command: cmd.to_string(),
        detail,
        hint: format!(
            "; see `systemctl --user status {UNIT}` and `journalctl --user -u {UNIT}`, then run \
             the command again"
        ),
    };
    match runner.run(cmd) {
        Ok(r) if r.success() => {
            out.ran(false, cmd, "");
            Ok(())
        }
        Ok(r) => Err(failed(r.detail())),
        Err(e) => Err(failed(e.to_string())),
    }
}

fn is_active(runner: &mut dyn Runner) -> Option<String> {
    runner
        .run(&systemctl(&["is-active", UNIT]))
        .ok()
        .map(|r| r.stdout.trim().to_string())
}

/// Writes the unit; enables and (re)starts it when a user manager answers.
pub(super) fn install(
    setup: &Setup,
    text: &str,
    runner: &mut dyn Runner,
    dry_run: bool,
) -> Result<Outcome, ServiceError> {
    let mut out = Outcome::default();
    let file = setup.service_file();
    let reload = systemctl(&["daemon-reload"]);
    let enable = systemctl(&["enable", "--now", UNIT]);
    let restart = systemctl(&["restart", UNIT]);
    if dry_run {
        out.step(format!("would write {}", file.display()));
    } else {
        write_file(&file, text)?;
        out.step(format!("wrote {}", file.display()));
    }
    if let Err(why) = probe(runner) {
        out.unmanaged = Some(Unmanaged {
            why,
            enable_later: vec![reload.to_string(), enable.to_string()],
        });
        return Ok(out);
    }
    let was_active = is_active(runner).as_deref() == Some("active");
    if dry_run {
        out.ran(true, &reload, "");
        out.ran(true, &enable, "");
        if was_active {
            out.ran(
                true,
                &restart,
                " (it runs now; restart to use the new unit)",
            );
        }
        return Ok(out);
    }
    run_checked(runner, &reload, &mut out)?;
    run_checked(runner, &enable, &mut out)?;
    if was_active {
        // `enable --now` leaves a running daemon alone; restart it so the new binary is used.
        run_checked(runner, &restart, &mut out)?;
    }
    Ok(out)
}

/// Disables and stops the unit (when a user manager answers) and removes its file.
pub(super) fn uninstall(
    setup: &Setup,
    runner: &mut dyn Runner,
    dry_run: bool,
) -> Result<Outcome, ServiceError> {
    let mut out = Outcome::default();
    let file = setup.service_file();
    let disable = systemctl(&["disable", "--now", UNIT]);
    let reload = systemctl(&["daemon-reload"]);
    let manager = probe(runner);
    let present = file.exists();
    if dry_run {
        if manager.is_ok() {
            out.ran(true, &disable, " (\"not loaded\" is fine)");
        }
        if present {
            out.step(format!("would remove {}", file.display()));
            if manager.is_ok() {
                out.ran(true, &reload, "");
            }
        } else {
            out.step(format!("no unit file at {}", file.display()));
        }
        return Ok(out);
    }
    match &manager {
        Ok(()) => match runner.run(&disable) {
            Ok(r) if r.success() => out.ran(false, &disable, " (stopped and disabled)"),
            Ok(r) if means_not_loaded(&r) => out.step("the unit was not enabled or loaded"),
            Ok(r) => out.step(format!(
                "{disable} failed: {}; removing the unit file anyway",
                r.detail()
            )),
            Err(e) => out.step(format!(
                "could not run {disable}: {e}; removing the unit file anyway"
            )),
        },
        Err(why) => out.step(format!("{why}; nothing to stop")),
    }
    if remove_file(&file)? {
        out.step(format!("removed {}", file.display()));
        if manager.is_ok() {
            // The unit is gone; a failed reload only leaves a stale entry until the next login.
            match runner.run(&reload) {
                Ok(r) if r.success() => out.ran(false, &reload, ""),
                Ok(r) => out.step(format!("{reload} failed: {}", r.detail())),
                Err(e) => out.step(format!("could not run {reload}: {e}")),
            }
        }
    } else {
        out.step(format!(
            "no unit file at {} (nothing to remove)",
            file.display()
        ));
    }
    Ok(out)
}

/// Asks `systemctl --user` whether the unit is enabled and active.
pub(super) fn state(_setup: &Setup, runner: &mut dyn Runner) -> ServiceState {
    if let Err(why) = probe(runner) {
        return ServiceState {
            loaded: None,
            running: None,
            detail: why,
        };
    }
    let enabled = runner
        .run(&systemctl(&["is-enabled", UNIT]))
        .ok()
        .map(|r| r.stdout.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "not-found".to_string());
    let active = is_active(runner)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    ServiceState {
        loaded: Some(enabled == "enabled"),
        running: Some(active == "active"),
        detail: format!("{enabled}, {active}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{FakeRunner, exited, setup};
    use super::super::{Manager, install as install_any, uninstall as uninstall_any};
    use super::*;

    fn unit(binary: &str, cargo_home: Option<&str>) -> String {
        let environment: Vec<(&str, PathBuf)> = cargo_home
            .map(|h| ("CARGO_HOME", h.into()))
            .into_iter()
            .collect();
        render(&Params {
            binary: Path::new(binary),
            environment: &environment,
            graphical: false,
        })
        .unwrap()
    }

    #[test]
    fn the_installed_unit_is_clean_and_a_tray_build_starts_with_the_desktop() {
        let text = unit("/b/cargo-lockwatch", None);
        assert!(
            !text.contains("template") && !text.contains("placeholder"),
            "{text}"
        );
        assert!(
            text.starts_with("# Written by `cargo lockwatch install`"),
            "{text}"
        );
        assert_eq!(setting(&text, "After"), None);
        let tray = render(&Params {
            binary: Path::new("/b/cargo-lockwatch"),
            environment: &[],
            graphical: true,
        })
        .unwrap();
        assert_eq!(setting(&tray, "After"), Some("graphical-session.target"));
        assert_eq!(setting(&tray, "PartOf"), Some("graphical-session.target"));
        assert_eq!(setting(&tray, "WantedBy"), Some("graphical-session.target"));
        let after = tray.find("After=").unwrap();
        assert!(tray.find("[Unit]").unwrap() < after && after < tray.find("[Service]").unwrap());
    }

    #[test]
    fn renders_the_unit() {
        let text = unit("/home/me/.cargo/bin/cargo-lockwatch", None);
        assert!(!text.contains("{{"), "{text}");
        assert_eq!(
            setting(&text, "ExecStart"),
            Some("\"/home/me/.cargo/bin/cargo-lockwatch\" daemon")
        );
        assert_eq!(setting(&text, "Restart"), Some("on-failure"));
        assert_eq!(setting(&text, "WantedBy"), Some("default.target"));
        assert_eq!(setting(&text, "Type"), Some("simple"));
        assert_eq!(setting(&text, "Environment"), None);
        for section in ["[Unit]", "[Service]", "[Install]"] {
            assert_eq!(
                text.lines().filter(|l| *l == section).count(),
                1,
                "{section}"
            );
        }
        let text = unit("/b/cargo-lockwatch", Some("/home/me/cargo home"));
        assert_eq!(
            setting(&text, "Environment"),
            Some("\"CARGO_HOME=/home/me/cargo home\"")
        );
        // The environment line sits in [Service], before Restart=.
        let env = text.find("\nEnvironment=").unwrap();
        assert!(text.find("[Service]").unwrap() < env && env < text.find("\nRestart=").unwrap());
    }

    #[test]
    fn escapes_spaces_percent_quotes_backslashes_and_non_ascii() {
        let binary = r#"/home/Zoë Åsa/100% "real"\tools/$HOME/cargo-lockwatch"#;
        let text = unit(binary, Some("/home/Zoë Åsa/50%"));
        assert_eq!(
            setting(&text, "ExecStart"),
            Some(r#""/home/Zoë Åsa/100%% \"real\"\\tools/$HOME/cargo-lockwatch" daemon"#)
        );
        assert_eq!(program(&text).unwrap(), Path::new(binary));
        assert_eq!(
            setting(&text, "Environment"),
            Some("\"CARGO_HOME=/home/Zoë Åsa/50%%\"")
        );
    }

    #[test]
    fn first_word_reads_plain_and_quoted_words() {
        assert_eq!(first_word("/usr/bin/x daemon").unwrap(), "/usr/bin/x");
        assert_eq!(first_word("  'a b' c").unwrap(), "a b");
        assert_eq!(first_word(r#""a\"b\\c%%d" e"#).unwrap(), r#"a"b\c%d"#);
        assert_eq!(first_word(""), None);
        assert_eq!(
            program("[Service]\nExecStart=-/bin/x y\n").unwrap(),
            Path::new("/bin/x")
        );
        assert_eq!(program("[Service]\n"), None);
    }

    #[test]
    fn default_dir_follows_xdg() {
        let home = Path::new("/home/me");
        assert_eq!(
            default_dir(home, None),
            Path::new("/home/me/.config/systemd/user")
        );
        assert_eq!(
            default_dir(home, Some(OsStr::new("/xdg"))),
            Path::new("/xdg/systemd/user")
        );
        assert_eq!(
            default_dir(home, Some(OsStr::new("relative"))),
            Path::new("/home/me/.config/systemd/user")
        );
    }

    #[test]
    fn without_a_user_manager_it_says_what_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let setup = setup(Manager::Systemd, dir.path());
        let mut fake = FakeRunner::default();
        fake.answer(
            "systemctl --user show-environment",
            exited(1, "", "Failed to connect to bus: No medium found"),
        );
        let out = install_any(&setup, &mut fake, false).unwrap();
        assert_eq!(fake.log, ["systemctl --user show-environment"]);
        assert!(setup.service_file().is_file());
        let unmanaged = out.unmanaged.unwrap();
        assert!(
            unmanaged
                .why
                .starts_with("no systemd user instance answered")
                && unmanaged.why.contains("No medium found"),
            "{}",
            unmanaged.why
        );
        assert_eq!(
            unmanaged.enable_later,
            [
                "systemctl --user daemon-reload",
                "systemctl --user enable --now cargo-lockwatch.service"
            ]
        );

        let mut fake = FakeRunner::default();
        fake.answer("systemctl", None);
        let out = install_any(&setup, &mut fake, false).unwrap();
        assert_eq!(out.unmanaged.unwrap().why, "systemctl is not installed");
    }

    #[test]
    fn with_a_user_manager_it_enables_and_restarts_on_reinstall() {
        let dir = tempfile::tempdir().unwrap();
        let setup = setup(Manager::Systemd, dir.path());
        let mut fake = FakeRunner::default();
        fake.answer("systemctl --user is-active", exited(3, "inactive\n", ""));
        let out = install_any(&setup, &mut fake, false).unwrap();
        assert_eq!(
            fake.log,
            [
                "systemctl --user show-environment",
                "systemctl --user is-active cargo-lockwatch.service",
                "systemctl --user daemon-reload",
                "systemctl --user enable --now cargo-lockwatch.service",
            ]
        );
        assert!(out.unmanaged.is_none());
        let first = std::fs::read_to_string(setup.service_file()).unwrap();
        assert_eq!(program(&first).unwrap(), setup.binary);

        let mut fake = FakeRunner::default();
        fake.answer("systemctl --user is-active", exited(0, "active\n", ""));
        install_any(&setup, &mut fake, false).unwrap();
        assert_eq!(
            fake.log.last().unwrap(),
            "systemctl --user restart cargo-lockwatch.service"
        );
        assert_eq!(
            std::fs::read_to_string(setup.service_file()).unwrap(),
            first
        );
        assert_eq!(std::fs::read_dir(&setup.service_dir).unwrap().count(), 1);
    }

    #[test]
    fn enable_failure_is_an_error_with_a_next_step() {
        let dir = tempfile::tempdir().unwrap();
        let setup = setup(Manager::Systemd, dir.path());
        let mut fake = FakeRunner::default();
        fake.answer(
            "systemctl --user enable",
            exited(
                1,
                "",
                "Failed to enable unit: Unit file cargo-lockwatch.service does not exist.",
            ),
        );
        let e = install_any(&setup, &mut fake, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("does not exist") && e.contains("journalctl --user"),
            "{e}"
        );
    }

    #[test]
    fn uninstall_disables_removes_reloads_and_tolerates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let setup = setup(Manager::Systemd, dir.path());
        install_any(&setup, &mut FakeRunner::default(), false).unwrap();
        let mut fake = FakeRunner::default();
        uninstall_any(&setup, &mut fake, false).unwrap();
        assert_eq!(
            fake.log,
            [
                "systemctl --user show-environment",
                "systemctl --user disable --now cargo-lockwatch.service",
                "systemctl --user daemon-reload",
            ]
        );
        assert!(!setup.service_file().exists());

        let mut fake = FakeRunner::default();
        fake.answer(
            "systemctl --user disable",
            exited(
                1,
                "",
                "Failed to disable unit: Unit file cargo-lockwatch.service does not exist.",
            ),
        );
        let out = uninstall_any(&setup, &mut fake, false).unwrap();
        assert_eq!(out.steps[0], "the unit was not enabled or loaded");
        assert!(out.steps[1].contains("nothing to remove"), "{out:?}");
        assert_eq!(fake.log.len(), 2, "no reload when nothing was removed");

        let mut fake = FakeRunner::default();
        fake.answer("systemctl", None);
        let out = uninstall_any(&setup, &mut fake, false).unwrap();
        assert_eq!(out.steps[0], "systemctl is not installed; nothing to stop");
    }

    #[test]
    fn dry_runs_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let setup = setup(Manager::Systemd, dir.path());
        let mut fake = FakeRunner::default();
        let out = install_any(&setup, &mut fake, true).unwrap();
        assert!(!setup.service_file().exists());
        assert!(out.steps.iter().all(|l| l.starts_with("would ")), "{out:?}");
        assert!(
            fake.log
                .iter()
                .all(|c| c.contains("show-environment") || c.contains("is-active"))
        );
        let out = uninstall_any(&setup, &mut fake, true).unwrap();
        assert!(
            out.steps.iter().any(|l| l.starts_with("no unit file")),
            "{out:?}"
        );
    }

    #[test]
    fn state_reads_is_enabled_and_is_active() {
        let dir = tempfile::tempdir().unwrap();
        let setup = setup(Manager::Systemd, dir.path());
        let mut fake = FakeRunner::default();
        fake.answer("systemctl --user is-enabled", exited(0, "enabled\n", ""))
            .answer("systemctl --user is-active", exited(0, "active\n", ""));
        let st = state(&setup, &mut fake);
        assert_eq!((st.loaded, st.running), (Some(true), Some(true)));
        assert_eq!(st.detail, "enabled, active");

        let mut fake = FakeRunner::default();
        fake.answer("systemctl --user is-enabled", exited(1, "disabled\n", ""))
            .answer("systemctl --user is-active", exited(3, "inactive\n", ""));
        let st = state(&setup, &mut fake);
        assert_eq!((st.loaded, st.running), (Some(false), Some(false)));

        let mut fake = FakeRunner::default();
        fake.answer("systemctl", None);
        let st = state(&setup, &mut fake);
        assert_eq!((st.loaded, st.running), (None, None));
        assert_eq!(st.detail, "systemctl is not installed");
    }

    #[test]
    fn the_lockwatch_directories_are_passed_on_as_cargo_home_is() {
        let environment: Vec<(&str, PathBuf)> = vec![
            ("CARGO_HOME", "/h".into()),
            ("LOCKWATCH_CONFIG_DIR", "/c".into()),
            ("LOCKWATCH_DATA_DIR", "/d 100%".into()),
            ("LOCKWATCH_RUNTIME_DIR", "/r".into()),
            ("LOCKWATCH_CONFIG", "/c/other.toml".into()),
        ];
        let text = render(&Params {
            binary: Path::new("/b/cargo-lockwatch"),
            environment: &environment,
            graphical: false,
        })
        .unwrap();
        let lines: Vec<&str> = (text.lines())
            .filter_map(|l| l.strip_prefix("Environment="))
            .collect();
        assert_eq!(
            lines,
            [
                "\"CARGO_HOME=/h\"",
                "\"LOCKWATCH_CONFIG_DIR=/c\"",
                "\"LOCKWATCH_DATA_DIR=/d 100%%\"",
                "\"LOCKWATCH_RUNTIME_DIR=/r\"",
                "\"LOCKWATCH_CONFIG=/c/other.toml\"",
            ]
        );
        // All in [Service], before Restart=.
        let last = text.rfind("\nEnvironment=").unwrap();
        assert!(text.find("[Service]").unwrap() < text.find("\nEnvironment=").unwrap());
        assert!(last < text.find("\nRestart=").unwrap());
    }
}
