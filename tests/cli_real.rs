//! The command line as a user meets it, with the real binary: `status --watch` into a pipe that
//! closes (`| head -1`), the bare command taking status's flags, colour choices, completions and
//! the man page. Hermetic: a temp Cargo home and private lockwatch dirs.

mod util;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use util::Dir;

fn lockwatch(dir: &Dir) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-lockwatch"));
    let private = dir.root.join("lockwatch");
    cmd.env("CARGO_HOME", &dir.cargo_home)
        .env("LOCKWATCH_CONFIG_DIR", private.join("config"))
        .env("LOCKWATCH_DATA_DIR", private.join("data"))
        .env("LOCKWATCH_RUNTIME_DIR", private.join("run"))
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .current_dir(&dir.root);
    cmd
}

#[test]
fn watch_into_a_pipe_writes_no_escapes_and_stops_when_the_reader_leaves() {
    let dir = Dir::new("watch-pipe");
    let mut child = lockwatch(&dir)
        .args(["status", "--watch", "--interval", "100ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone (`| head -1`): the next write fails and the command ends, with 0.
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "--watch kept running"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    assert!(!first.contains('\u{1b}'), "escapes in a pipe: {first:?}");
}

#[test]
fn the_bare_command_takes_status_flags_and_colour_is_chosen_as_asked() {
    let dir = Dir::new("bare");
    let out = lockwatch(&dir).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["schema_version"], 2);
    let out = lockwatch(&dir).arg("--all").output().unwrap();
    assert!(out.status.success());
    let plain = String::from_utf8_lossy(&out.stdout);
    assert!(!plain.contains('\u{1b}'), "no colour into a pipe: {plain}");
    let out = lockwatch(&dir)
        .args(["--color", "always"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("\u{1b}["));
    let out = lockwatch(&dir)
        .args(["--color", "always"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\u{1b}["),
        "--color always wins over NO_COLOR"
    );
    let out = lockwatch(&dir).env("CLICOLOR_FORCE", "1").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("\u{1b}["));
}

#[test]
fn completions_and_the_man_page_come_from_the_binary() {
    let dir = Dir::new("completions");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = lockwatch(&dir)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("resume"),
            "{shell}"
        );
    }
    let out = lockwatch(&dir).arg("man").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH cargo-lockwatch 1"));
}

#[test]
fn config_json_has_typed_values_and_names_where_each_came_from() {
    let dir = Dir::new("config-json");
    dir.write(
        "lockwatch/config/config.toml",
        "[policy]\nyield_ide = true\n[stale]\nsamples = 0\n",
    );
    let out = lockwatch(&dir).args(["config", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let v = &doc["values"];
    assert_eq!(v["policy.yield_ide"]["value"], true);
    assert!(
        v["policy.yield_ide"]["from"]
            .as_str()
            .unwrap()
            .starts_with("file ")
    );
    assert_eq!(v["stale.samples"]["value"], 3, "the default replaces 0");
    assert_eq!(v["stale.samples"]["from"], "default");
    assert_eq!(v["stale.stale_after"]["value"], "2m");
    assert!(doc["socket"].as_str().unwrap().ends_with("lockwatch.sock"));
    let warnings = doc["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("stale.samples"))
    );
}
