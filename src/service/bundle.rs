//! The minimal app bundle macOS needs to show our notifications as ours: `cargo lockwatch
//! install` wraps the installed binary in `~/Applications/Cargo Lockwatch.app` (Info.plist with
//! `LSUIElement`, the bundle id equal to the launchd label, alert-style notifications),
//! registers it with LaunchServices and points the login agent at the bundled executable.
//! macOS only accepts a bundle id LaunchServices knows; outside a bundle notifications go out
//! as Terminal's, or not at all. Everything here is plain file work plus one `lsregister` run
//! through [`Runner`], so it is tested on any OS.

use std::path::{Path, PathBuf};

use super::{Cmd, Label, Outcome, Runner, ServiceError, fill, write_file};

/// The bundle's Info.plist template (also used by `packaging/macos/build-app.sh`).
pub const INFO_PLIST: &str = include_str!("../../packaging/macos/Info.plist");

/// The bundle's directory name.
pub const APP_NAME: &str = "Cargo Lockwatch.app";

/// Where LaunchServices' registration tool lives on every macOS.
pub const LSREGISTER: &str = "/System/Library/Frameworks/CoreServices.framework/Frameworks/\
                              LaunchServices.framework/Support/lsregister";

/// The executable inside a bundle at `app`.
pub fn executable(app: &Path) -> PathBuf {
    app.join("Contents/MacOS/cargo-lockwatch")
}

/// Whether `binary` already runs from inside an app bundle (`…/X.app/Contents/MacOS/…`).
pub fn is_bundled(binary: &Path) -> bool {
    binary
        .parent()
        .is_some_and(|p| p.ends_with("Contents/MacOS"))
        && binary
            .ancestors()
            .any(|a| a.extension().is_some_and(|e| e == "app"))
}

/// The Info.plist of our bundle: version filled in, bundle id = the launchd label.
pub fn info_plist(label: &Label) -> String {
    let text = fill(INFO_PLIST, &[("VERSION", env!("CARGO_PKG_VERSION"))]);
    text.replace(
        "<string>com.cargo-lockwatch.agent</string>",
        &format!(
            "<string>{}</string>",
            super::launchd::xml_escape(label.as_str())
        ),
    )
}

/// Whether the bundle at `app` is ours (its Info.plist names our bundle id), so it may be
/// replaced or removed; anything else at that path is left alone.
pub fn is_ours(app: &Path, label: &Label) -> bool {
    std::fs::read_to_string(app.join("Contents/Info.plist"))
        .is_ok_and(|t| t.contains(&format!("<string>{}</string>", label.as_str())))
}

/// Creates (or replaces) our bundle at `app` around a copy of `binary` and registers it;
/// returns the bundled executable for the login agent to run.
pub fn create(
    app: &Path,
    binary: &Path,
    label: &Label,
    runner: &mut dyn Runner,
    out: &mut Outcome,
) -> Result<PathBuf, ServiceError> {
    if app.exists() && !is_ours(app, label) {
        return Err(ServiceError::Io {
            what: "create the app bundle (something else is already there; move it away)",
            path: app.to_path_buf(),
            source: std::io::ErrorKind::AlreadyExists.into(),
        });
    }
    let exe = executable(app);
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| ServiceError::Io { what, path, source }
    };
    let macos = exe.parent().expect("the executable has a directory");
    std::fs::create_dir_all(macos).map_err(io("create the app bundle", macos))?;
    write_file(&app.join("Contents/Info.plist"), &info_plist(label))?;
    // A copy, not a link: macOS finds a process's bundle from its executable's real path.
    let staged = macos.join(".cargo-lockwatch.new");
    std::fs::copy(binary, &staged).map_err(io("copy the binary into the app bundle", &staged))?;
    std::fs::rename(&staged, &exe).map_err(io("put the binary into the app bundle", &exe))?;
    out.step(format!(
        "wrote {} (around a copy of {})",
        app.display(),
        binary.display()
    ));
    let register = Cmd::new(LSREGISTER, &["-f", &app.to_string_lossy()]);
    match runner.run(&register) {
        Ok(r) if r.success() => {
            out.step("registered it with LaunchServices (notifications show as Cargo Lockwatch)")
        }
        Ok(r) => out.step(format!(
            "{register} failed: {}; notifications may show as Terminal until the bundle is \
             opened once in Finder",
            r.detail()
        )),
        Err(e) => out.step(format!(
            "could not run lsregister ({e}); notifications may show as Terminal until the \
             bundle is opened once in Finder"
        )),
    }
    Ok(exe)
}

/// Removes our bundle at `app` (only ours); says what it did.
pub fn remove(app: &Path, label: &Label, out: &mut Outcome) -> Result<(), ServiceError> {
    if !app.exists() {
        return Ok(());
    }
    if !is_ours(app, label) {
        out.step(format!("left {} alone: it is not ours", app.display()));
        return Ok(());
    }
    std::fs::remove_dir_all(app).map_err(|source| ServiceError::Io {
        what: "remove the app bundle",
        path: app.to_path_buf(),
        source,
    })?;
    out.step(format!("removed {}", app.display()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{FakeRunner, exited};
    use super::*;

    #[test]
    fn the_bundle_wraps_a_copy_is_registered_and_is_removed_only_if_ours() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("cargo-lockwatch");
        std::fs::write(&binary, b"binary").unwrap();
        let app = dir.path().join("Applications").join(APP_NAME);
        let label = super::super::label();
        let mut runner = FakeRunner::default();
        runner.answer(LSREGISTER, exited(0, "", ""));
        let mut out = Outcome::default();
        let exe = create(&app, &binary, &label, &mut runner, &mut out).unwrap();
        assert_eq!(exe, app.join("Contents/MacOS/cargo-lockwatch"));
        assert_eq!(std::fs::read(&exe).unwrap(), b"binary");
        let plist = std::fs::read_to_string(app.join("Contents/Info.plist")).unwrap();
        assert!(plist.contains("<key>LSUIElement</key>"));
        assert!(plist.contains("<key>NSUserNotificationAlertStyle</key>"));
        assert!(plist.contains(&format!("<string>{}</string>", label.as_str())));
        assert!(!plist.contains("{{"), "{plist}");
        assert!(
            runner
                .log
                .iter()
                .any(|c| c.starts_with(LSREGISTER) && c.contains(" -f "))
        );
        assert!(is_bundled(&exe));
        assert!(!is_bundled(&binary));
        // Re-creating replaces it; removing removes it.
        create(&app, &binary, &label, &mut runner, &mut out).unwrap();
        remove(&app, &label, &mut out).unwrap();
        assert!(!app.exists());
        // Someone else's bundle at that path is never touched.
        std::fs::create_dir_all(app.join("Contents")).unwrap();
        std::fs::write(
            app.join("Contents/Info.plist"),
            "<string>org.other</string>",
        )
        .unwrap();
        assert!(create(&app, &binary, &label, &mut runner, &mut out).is_err());
        remove(&app, &label, &mut out).unwrap();
        assert!(app.exists());
    }
}
