//! The command line as a user meets it, with the real binary: `status --watch` into a pipe that
//! closes (`| head -1`), the bare command taking status's flags, colour choices, completions and
//! the man page. Hermetic: a temp Cargo home and private lockwatch dirs.

mod util;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use util::Dir;

/// `cargo-lockwatch ARGS` (stdin closed: no question answered): its exit code and what it
/// printed.
fn run(dir: &Dir, args: &[&str]) -> (Option<i32>, String) {
    let out = lockwatch(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// [`run`] with `--no-daemon` first: the command scans and acts itself.
fn act(dir: &Dir, args: &[&str]) -> (Option<i32>, String) {
    run(dir, &[&["--no-daemon"], args].concat())
}

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
        .args(["status", "--watch", "--interval", "1h"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone (`| head -1`): the command ends, with 0, without waiting an hour for
    // the next refresh to find out.
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

/// `status --watch` into a pipe starts each view with a line with its time, so a log tells
/// the frames apart (review L, M13); `--json` lines carry `observed_at` and get none.
#[test]
fn watch_into_a_pipe_starts_each_frame_with_its_time() {
    let dir = Dir::new("watch-frames");
    let is_separator = |l: &str| {
        l.len() == "--- 00:00:00 ---".len() && l.starts_with("--- ") && l.ends_with(" ---")
    };
    // The lines of `status --watch` up to the one `enough` says ends it.
    let lines_until = |json: bool, enough: &dyn Fn(&[String]) -> bool| {
        let mut cmd = lockwatch(&dir);
        cmd.args(["status", "--watch", "--interval", "100ms"]);
        if json {
            cmd.arg("--json");
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut read = Vec::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            read.push(line.unwrap());
            if enough(&read) || read.len() > 500 {
                break;
            }
        }
        // The reader is gone: `--watch` ends by itself (see the test above).
        child.wait().unwrap();
        read
    };
    let text = lines_until(false, &|r| {
        r.iter().filter(|l| is_separator(l)).count() == 2
    });
    assert!(is_separator(&text[0]), "{text:#?}");
    assert!(
        is_separator(text.last().unwrap()),
        "a second frame has its line: {text:#?}"
    );
    let json = lines_until(true, &|r| r.len() == 2);
    assert!(json.iter().all(|l| l.starts_with('{')), "{json:#?}");
}

#[test]
fn the_bare_command_takes_status_flags_and_colour_is_chosen_as_asked() {
    let dir = Dir::new("bare");
    // 0 or 1: `status` sees every lock on the machine, and one elsewhere may look stale.
    let answered = |out: &std::process::Output| matches!(out.status.code(), Some(0 | 1));
    let out = lockwatch(&dir).arg("--json").output().unwrap();
    assert!(answered(&out), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["schema_version"], 2);
    let out = lockwatch(&dir).arg("--all").output().unwrap();
    assert!(answered(&out), "{}", String::from_utf8_lossy(&out.stderr));
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

/// What bash offers for `line` (completing its last word) with the binary's bash script
/// sourced, and a stand-in for cargo's own completion that offers `build`.
fn bash_completes(dir: &Dir, line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let script = format!(
        r#"_cargo() {{ COMPREPLY=(build); }}
source <("$BIN" completions bash)
COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}
spec=$(complete -p {cmd}); fn=${{spec#*-F }}; fn=${{fn%% *}}
"$fn" {cmd} "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD - 1]}}"
echo "${{COMPREPLY[*]}}""#,
        words = words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        cword = words.len() - 1,
        cmd = words[0],
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &script])
        .env("BIN", env!("CARGO_BIN_EXE_cargo-lockwatch"))
        .current_dir(&dir.root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn bash_completes_cargo_lockwatch_through_cargo_and_leaves_cargo_alone() {
    let dir = Dir::new("bash-completion");
    let offered = |line| bash_completes(&dir, line);
    assert!(
        offered("cargo lockwatch ki")
            .split(' ')
            .any(|w| w == "kill")
    );
    assert!(offered("cargo lockwatch kill --gr").contains("--grace"));
    assert!(
        offered("cargo +stable lockwatch ki")
            .split(' ')
            .any(|w| w == "kill")
    );
    assert!(
        offered("cargo-lockwatch res")
            .split(' ')
            .any(|w| w == "resume")
    );
    assert_eq!(
        offered("cargo bu"),
        "build",
        "cargo's own completion answers the rest"
    );
}

#[test]
fn config_json_has_typed_values_and_names_where_each_came_from() {
    // The defaults as JSON too, for `jq` (review Z, Z7).
    let defaults_dir = Dir::new("config-defaults");
    let out = (lockwatch(&defaults_dir))
        .args(["config", "--default", "--json"])
        .output()
        .unwrap();
    let defaults: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(defaults["stale"]["stale_after"], "2m", "{defaults}");

    let dir = Dir::new("config-json");
    dir.write(
        "lockwatch/config/config.toml",
        "[policy]\nyield_ide = true\n[stale]\nsamples = 0\n",
    );
    let out = lockwatch(&dir).args(["config", "--json"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a value replaced by its default is a mistake"
    );
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

#[test]
fn config_exits_2_on_a_broken_file_and_0_when_only_a_watched_directory_is_missing() {
    let dir = Dir::new("config-exit");
    let out = lockwatch(&dir)
        .args(["config", "--project", "/nonexistent/lockwatch-project"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("warning: --project /nonexistent/lockwatch-project does not exist"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    dir.write(
        "lockwatch/config/config.toml",
        "[policy\nyield_ide = true\n",
    );
    let out = lockwatch(&dir).arg("config").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("warning:"), "{text}");
    assert_eq!(out.status.code(), Some(2), "{text}");
}

// F8: a project that is not there, or holds nothing of Cargo's, is said on stderr, and so is a
// configured one; status still answers.
#[test]
fn a_missing_or_empty_project_is_warned_about_from_the_flag_and_the_file() {
    let dir = Dir::new("project-typo");
    let empty = dir.path("empty");
    std::fs::create_dir(&empty).unwrap();
    let gone = dir.path("gone");
    let out = lockwatch(&dir)
        .args(["status", "--no-daemon", "--project"])
        .arg(&empty)
        .arg("--project")
        .arg(&gone)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let said = |what: &str| err.contains(&format!("warning: {what}"));
    assert!(
        said(&format!("--project {} has no Cargo.toml", empty.display())),
        "{err}"
    );
    assert!(
        said(&format!("--project {} does not exist", gone.display())),
        "{err}"
    );
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    let file = format!("[watch]\nprojects = [{:?}]\n", gone.display().to_string());
    dir.write("lockwatch/config/config.toml", &file);
    let out = lockwatch(&dir)
        .args(["status", "--no-daemon"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "watch.projects entry {} does not exist",
            gone.display()
        )),
        "{err}"
    );
}

// F7: a misspelled variable is named with the key meant; `config` exits 2 for it as for an
// unknown key in the file, other commands go on.
#[test]
fn a_misspelled_lockwatch_variable_is_warned_about() {
    let dir = Dir::new("env-typo");
    let meant = "did you mean LOCKWATCH_STALE_STALE_AFTER?";
    let out = lockwatch(&dir)
        .env("LOCKWATCH_STALE_STALE_AFTERR", "5s")
        .arg("config")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("LOCKWATCH_STALE_STALE_AFTERR is set") && text.contains(meant),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    let out = lockwatch(&dir)
        .env("LOCKWATCH_STALE_STALE_AFTERR", "5s")
        .args(["status", "--no-daemon"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: LOCKWATCH_STALE_STALE_AFTERR is set") && err.contains(meant),
        "{err}"
    );
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
}

/// Runs `cargo-lockwatch ARGS` on a pseudo-terminal (`script` from util-linux), typing
/// `answer` once the question is on the screen; (exit code, what the terminal showed).
fn at_a_terminal(dir: &Dir, args: &str, answer: &str) -> (Option<i32>, String) {
    use std::io::Write;
    let line = format!("{} {args}", env!("CARGO_BIN_EXE_cargo-lockwatch"));
    let env = lockwatch(dir);
    let mut script = Command::new("script");
    script
        .args(["-qec", &line, "/dev/null"])
        .envs(env.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("NO_COLOR", "1")
        .current_dir(&dir.root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = script.spawn().expect("script(1) from util-linux");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut shown = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&shown).contains("[y/N]") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no question: {shown:?}"
        );
        match std::io::Read::read(&mut stdout, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => shown.extend_from_slice(&buf[..n]),
        }
    }
    let _ = stdin.write_all(answer.as_bytes());
    let _ = std::io::Read::read_to_end(&mut stdout, &mut shown);
    let code = child.wait().unwrap().code();
    drop(stdin);
    (code, String::from_utf8_lossy(&shown).into_owned())
}

// F11: `wait` with nothing to wait for says so at a terminal, and nothing into a pipe.
#[test]
fn wait_says_there_is_nothing_to_wait_for_only_at_a_terminal() {
    let dir = Dir::new("wait-free");
    let lock = package_cache(&dir);
    let args = format!("wait --timeout 5s {}", lock.display());
    let (code, out) = at_a_terminal(&dir, &args, "");
    assert_eq!(code, Some(0), "{out}");
    let said = format!("nothing to wait for: {} is free", lock.display());
    assert!(out.contains(&said), "{out}");
    let out = lockwatch(&dir)
        .args(["wait", "--timeout", "5s"])
        .arg(&lock)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
}

#[test]
fn kill_asks_at_a_terminal_before_stopping_a_holder_nobody_waits_for() {
    let dir = Dir::new("kill-asks");
    let (_, holder) = held_package_cache(&dir);

    let (code, out) = at_a_terminal(&dir, &format!("kill {}", holder.pid), "n\n");
    assert!(out.contains("nobody waits for it"), "{out}");
    // The answer is the outcome: not signalled, without a refusal that overrules it.
    assert!(
        out.contains(&format!("{} was not signalled", holder.pid)),
        "{out}"
    );
    assert!(!out.contains("refusing"), "{out}");
    assert_eq!(code, Some(4), "{out}");
    assert!(
        util::proc_state(holder.pid).is_some(),
        "the holder was spared"
    );

    // A redirected stdout never hides the question: it is asked on stderr.
    let (code, out) = at_a_terminal(&dir, &format!("kill {} > kill.out", holder.pid), "n\n");
    assert!(out.contains("Terminate it anyway? [y/N]"), "{out}");
    assert_eq!(code, Some(4), "{out}");

    // A script is not asked: it is refused, told about `--yes`, and its JSON says why.
    let pid = holder.pid.to_string();
    let (code, text) = run(&dir, &["kill", &pid]);
    assert_eq!(code, Some(4), "{text}");
    assert!(text.contains(&format!("kill {pid} --yes")), "{text}");
    let out = lockwatch(&dir)
        .args(["kill", &pid, "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["refusal"]["reason"], "not-needed", "{doc}");
    assert_eq!(
        util::proc_state(holder.pid).map(|s| s != 'Z'),
        Some(true),
        "still spared"
    );

    let (code, out) = at_a_terminal(&dir, &format!("kill {}", holder.pid), "y\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("SIGTERM"), "{out}");
}

#[test]
fn a_script_stops_a_holder_nobody_waits_for_only_with_yes() {
    let dir = Dir::new("kill-yes");
    let (_, holder) = held_package_cache(&dir);
    let pid = holder.pid.to_string();
    let (code, text) = run(&dir, &["kill", &pid, "--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("released its lock"), "{text}");
}

/// Two processes hold a lock shared (two fine-grained builds on one build directory) and a
/// third waits to take it exclusively (a `cargo clean`): stopping one of them frees nothing for
/// the waiter, and `kill` says so and fails, naming the other holder.
#[test]
fn kill_of_one_of_two_shared_holders_says_the_waiter_still_waits_for_the_other() {
    let dir = Dir::new("kill-shared");
    let lock = package_cache(&dir);
    let shared = |name: &str| {
        let mut cmd = dir.command("flock");
        cmd.arg("-s").arg(&lock).args(["sleep", "600"]);
        dir.spawn(name, &mut cmd)
    };
    let (first, second) = (shared("first"), shared("second"));
    util::wait_holder(&dir, &lock, first.pid, &[&first, &second]);
    util::wait_holder(&dir, &lock, second.pid, &[&first, &second]);
    let (waiter, _) = util::waiter_behind(&dir, &lock, &first);

    let out = lockwatch(&dir)
        .args(["kill", &first.pid.to_string(), "--yes", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(2), "{doc}");
    assert_eq!(doc["released"], true, "{doc}");
    assert_eq!(
        doc["still_held_by_others"],
        serde_json::json!([second.pid]),
        "{doc}"
    );
    let message = doc["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("flock {} still waits", waiter.pid))
            && message.contains(&format!("flock {} holds it too (shared)", second.pid)),
        "{message}"
    );
    assert!(
        util::proc_state(first.pid).is_none_or(|s| s == 'Z'),
        "{doc}"
    );
    assert!(
        util::proc_state(waiter.pid).is_some_and(|s| s != 'Z'),
        "still waiting"
    );
}

/// `watch.ignore_process_names` promises a name is never offered for termination: `status`
/// offers no kill and a script's `kill` is refused without `--yes`.
#[test]
fn a_blocker_the_config_ignores_is_not_offered_nor_killed_without_yes() {
    let dir = Dir::new("kill-ignored");
    let config = dir.root.join("lockwatch/config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        "[watch]\nignore_process_names = [\"flock\"]\n",
    )
    .unwrap();
    let (lock, holder) = held_package_cache(&dir);
    holder.stop();
    let (waiter, _) = util::waiter_behind(&dir, &lock, &holder);

    let out = lockwatch(&dir)
        .args(["status", "--json", "--no-daemon"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let incident = (doc["incidents"].as_array().unwrap().iter())
        .find(|i| i["blocker"]["pid"] == holder.pid)
        .expect("the incident");
    assert_eq!(incident["ignored"], true, "{incident}");
    assert_eq!(incident["action"]["resume"], true, "{incident}");
    let text = lockwatch(&dir)
        .args(["status", "--no-daemon"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        !text.contains(&format!("kill {}", holder.pid)),
        "kill offered: {text}"
    );

    let out = lockwatch(&dir)
        .args(["kill", &holder.pid.to_string(), "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(4), "{doc}");
    assert_eq!(doc["refusal"]["reason"], "ignored", "{doc}");
    assert_eq!(
        util::proc_state(holder.pid),
        Some('T'),
        "spared, still stopped"
    );
    assert!(util::proc_state(waiter.pid).is_some_and(|s| s != 'Z'));
}

/// A warning or a line that cannot be written (a full disk behind `2>>log`, a reader that left)
/// is lost, never a panic: the exit code still says what happened.
#[test]
fn a_full_disk_behind_stdout_or_stderr_is_never_a_panic() {
    let dir = Dir::new("dev-full");
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for args in [
        &["status"][..],
        &["wait", "--timeout", "100ms"],
        &["config"],
        &["daemon", "--check"],
    ] {
        let out = lockwatch(&dir)
            .args(args)
            .env("LOCKWATCH_STALE_SAMPLES", "x")
            .stdout(full())
            .stderr(full())
            .output()
            .unwrap();
        let code = out.status.code();
        assert!(
            matches!(code, Some(0..=5)),
            "{args:?} exited {code:?} (101 is a panic)"
        );
    }
}

/// A holder whose child ignores SIGTERM: `kill` says the child kept the lock and that only
/// `--force` (SIGKILL) ends it; with `--force` the waiter proceeds.
#[test]
fn a_child_that_ignores_sigterm_is_said_to_need_force() {
    let dir = Dir::new("ignores-term");
    let lock = package_cache(&dir);
    let mut cmd = dir.command("flock");
    cmd.arg("-x")
        .arg(&lock)
        .args(["bash", "-c", "trap '' TERM; sleep 300; true"]);
    let holder = dir.spawn("holder", &mut cmd);
    util::wait_holder(&dir, &lock, holder.pid, &[&holder]);
    let waiter = util::daemon::flock_waiter(&dir, "waiter", &lock);
    let pid = holder.pid.to_string();
    // Busy (its child runs) while someone waits: a script's kill is refused without --yes
    // (review H, I2), and nothing is signalled.
    let (code, text) = run(&dir, &["kill", &pid]);
    assert_eq!(code, Some(lockwatch::exit::REFUSED), "{text}");
    assert!(
        text.contains("Waiting is usually right") && text.contains(&format!("kill {pid} --yes")),
        "{text}"
    );
    assert_eq!(holder.state(), 'S', "nothing was signalled");
    let (code, text) = run(&dir, &["kill", &pid, "--grace", "1s", "--yes"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("did not exit on SIGTERM"), "{text}");
    let left: u32 = text
        .split("`cargo lockwatch kill --force ")
        .nth(1)
        .and_then(|t| t.split('`').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("says to use --force: {text}"));
    assert!(text.contains(&format!("still held by {left}")), "{text}");
    let left = left.to_string();
    let (code, text) = run(&dir, &["kill", &left, "--force", "--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("waiter {} proceeded", waiter.pid)),
        "{text}"
    );
}

/// The package cache held by a `flock` that ignores SIGTERM, and a `cargo` waiting behind it.
fn holder_ignoring_sigterm_with_waiter(dir: &Dir) -> (util::Proc, util::Proc) {
    let lock = package_cache(dir);
    let holder = util::daemon::flock_holder_ignoring_sigterm(dir, "holder", &lock);
    util::wait_holder(dir, &lock, holder.pid, &[&holder]);
    let (waiter, _) = util::waiter_behind(dir, &lock, &holder);
    (holder, waiter)
}

/// A holder that ignores SIGTERM itself: `kill` says so at once, without waiting out its
/// grace, and a person at a terminal is offered SIGKILL; saying yes lets the waiter go on.
#[test]
fn kill_of_a_holder_that_ignores_sigterm_says_so_at_once_and_offers_sigkill() {
    let dir = Dir::new("holder-ignores-term");
    let (holder, waiter) = holder_ignoring_sigterm_with_waiter(&dir);
    let pid = holder.pid;
    // No: said once, nothing signalled, refused.
    let (code, out) = at_a_terminal(&dir, &format!("kill {pid} --yes"), "n\n");
    assert_eq!(out.matches("ignores SIGTERM").count(), 1, "{out}");
    assert_eq!(code, Some(lockwatch::exit::REFUSED), "{out}");
    assert_eq!(holder.state(), 'S', "{out}");
    let (code, out) = at_a_terminal(&dir, &format!("kill {pid} --yes"), "y\n");
    assert!(
        out.contains(&format!(
            "{pid} ignores SIGTERM (or blocks it), so only SIGKILL"
        )) && out.contains(&format!("Send SIGKILL to {pid}? [y/N]"))
            && !out.contains("refusing"),
        "{out}"
    );
    assert!(!out.contains("did not exit on SIGTERM"), "{out}");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "got SIGKILL and released its lock; waiter {} proceeded",
            waiter.pid
        )),
        "{out}"
    );
}

/// Off a terminal, a script that runs the `kill` each refusal names stops a busy holder that
/// ignores SIGTERM within two tries: the hints never go round (`--yes` → `--force` → `--yes`,
/// review X, X12).
#[test]
fn kill_hints_for_a_holder_that_ignores_sigterm_lead_somewhere() {
    let dir = Dir::new("kill-hints-term");
    let (holder, waiter) = holder_ignoring_sigterm_with_waiter(&dir);
    let pid = holder.pid.to_string();
    let mut args: Vec<String> = vec!["kill".into(), pid.clone()];
    let mut said = Vec::new();
    for _ in 0..3 {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out) = act(&dir, &argv);
        said.push(out.clone());
        if code == Some(0) {
            break;
        }
        assert_eq!(code, Some(lockwatch::exit::REFUSED), "{out}");
        // The last `cargo lockwatch kill …` the refusal names.
        let hint = (out.split('`'))
            .rfind(|s| s.starts_with("cargo lockwatch kill ") && s.contains(&pid))
            .unwrap_or_else(|| panic!("no kill named: {out}"));
        args = hint
            .split_whitespace()
            .skip(2)
            .map(str::to_string)
            .collect();
    }
    assert!(
        said.len() <= 3 && said.last().unwrap().contains("got SIGKILL"),
        "{said:#?}"
    );
    assert!(
        said.last()
            .unwrap()
            .contains(&format!("waiter {} proceeded", waiter.pid)),
        "{said:#?}"
    );
}

/// `wait FILE` on a file that is not one of Cargo's lock files is an error: it would read as
/// free whoever holds it.
#[test]
fn wait_refuses_a_file_that_is_not_a_cargo_lock() {
    let dir = Dir::new("wait-not-a-lock");
    let file = dir.root.join("my.lock");
    std::fs::write(&file, "").unwrap();
    let out = lockwatch(&dir)
        .args(["wait", "--timeout", "1s"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is not one of Cargo's lock files"), "{err}");
}

/// `kill PID` typed from what `status` showed acts on that very process: when the pid names
/// another process since (the one shown ended; a new one took its number), it is refused and
/// nothing is signalled, until `status` has shown the new one.
#[test]
fn kill_refuses_a_pid_that_status_showed_as_another_process() {
    let dir = Dir::new("kill-shown");
    let (lock, holder) = held_package_cache(&dir);
    let (_waiter, _) = util::waiter_behind(&dir, &lock, &holder);
    let status = lockwatch(&dir)
        .args(["status", "--no-daemon"])
        .output()
        .unwrap();
    assert!(status.status.code().is_some());
    // As if the process shown under this pid had been another one: its token differs.
    let memo = dir.root.join("lockwatch/run/shown.json");
    let text = std::fs::read_to_string(&memo).expect("status notes what it showed");
    let mut shown: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let entry = (shown.iter_mut())
        .find(|e| e["pid"] == holder.pid)
        .expect("the holder was shown");
    entry["start_token"] = (entry["start_token"].as_u64().unwrap() + 1).into();
    std::fs::write(&memo, serde_json::to_vec(&shown).unwrap()).unwrap();
    let pid = holder.pid.to_string();
    let (code, said) = run(&dir, &["kill", &pid]);
    assert_eq!(code, Some(lockwatch::exit::REFUSED), "{said}");
    assert!(
        said.contains(&format!("pid {pid} is no longer the flock shown"))
            && said.contains("Run `cargo lockwatch status` again"),
        "{said}"
    );
    assert_eq!(holder.state(), 'S', "nothing was signalled");
    // Shown again, it is the process the user knows: stopped.
    lockwatch(&dir)
        .args(["status", "--no-daemon"])
        .output()
        .unwrap();
    let (code, said) = run(&dir, &["kill", &pid, "--yes"]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("released its lock"), "{said}");
}

/// Off a terminal (a script, CI), `wait` prints a line when the holder changes, not only the
/// first one: who held the lock for minutes is in the log (review H, I14).
#[test]
fn wait_in_a_script_says_when_another_process_takes_the_lock() {
    let dir = Dir::new("wait-handover");
    let lock = package_cache(&dir);
    let first = util::daemon::flock_holder(&dir, "first", &lock);
    util::wait_holder(&dir, &lock, first.pid, &[&first]);
    let mut cmd = dir.command("flock");
    cmd.arg("-x").arg(&lock).args(["sleep", "600"]);
    let second = dir.spawn("second", &mut cmd);
    let mut wait = lockwatch(&dir);
    wait.args(["wait", "--timeout", "60s", "--interval", "100ms"])
        .arg(&lock);
    let mut waiting = dir.spawn("wait", &mut wait);
    let log = || waiting.output();
    util::eventually("wait names the first holder", || {
        log().contains(&format!("held by flock {}", first.pid))
    });
    drop(first);
    util::eventually("wait names the second holder", || {
        log().contains(&format!("held by flock {}", second.pid))
    });
    drop(second);
    let code = waiting.wait_exit();
    let said = waiting.output();
    assert_eq!(code, 0, "{said}");
    let lines: Vec<&str> = said.lines().collect();
    assert!(lines.len() >= 3, "{said}");
    assert!(
        lines[1].starts_with("after ") && lines[1].contains("waiting for"),
        "{said}"
    );
    assert!(said.contains("free after"), "{said}");
}

/// `wait --json` answers with a line even when it cannot wait: a script reading how it ended
/// gets the error, with exit 2 (review H, J5).
#[test]
fn wait_json_says_why_it_could_not_wait() {
    let dir = Dir::new("wait-json-error");
    let out = lockwatch(&dir)
        .args(["wait", "--json"])
        .arg(dir.root.join("no-such-project"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["free"], false, "{doc}");
    let error = doc["error"].as_str().unwrap_or_default();
    assert!(error.contains("does not exist: check the path"), "{doc}");
}

/// `wait --json` interrupted with Ctrl-C (SIGINT) still prints how it ended, with exit 130
/// (review J, K13); so does one a CI job cancels (SIGTERM, exit 143) or whose session closes
/// (SIGHUP, exit 129), and without `--json` its last line says who still holds the lock
/// (review M, N10).
#[test]
fn wait_json_interrupted_says_so_on_stdout() {
    let dir = Dir::new("wait-json-interrupted");
    let (lock, holder) = held_package_cache(&dir);
    for (sig, name, json) in [
        (libc::SIGINT, "SIGINT", true),
        (libc::SIGTERM, "SIGTERM", true),
        (libc::SIGHUP, "SIGHUP", true),
        (libc::SIGTERM, "SIGTERM", false),
    ] {
        let mut wait = lockwatch(&dir);
        wait.args(["wait", "--timeout", "60s", "--interval", "100ms"])
            .args(json.then_some("--json"))
            .arg(&lock);
        let mut waiting = dir.spawn("wait", &mut wait);
        util::eventually("wait names the holder", || {
            waiting
                .output()
                .contains(&format!("held by flock {}", holder.pid))
        });
        // SAFETY: kill(2) on the `wait` this test started and still owns (not yet reaped).
        assert_eq!(unsafe { libc::kill(waiting.pid as i32, sig) }, 0);
        let code = waiting.wait_exit();
        let said = waiting.output();
        assert_eq!(code, 128 + sig, "{name}: {said}");
        assert!(
            said.contains(&format!("still held by flock {}", holder.pid)),
            "{name}: {said}"
        );
        if !json {
            continue;
        }
        let line = said
            .lines()
            .find(|l| l.starts_with('{'))
            .unwrap_or_else(|| panic!("{said}"));
        let doc: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(doc["interrupted"], true, "{doc}");
        assert_eq!(doc["signal"], name, "{doc}");
        assert_eq!(doc["free"], false, "{doc}");
        assert_eq!(doc["held_by"]["pid"], holder.pid, "{doc}");
    }
}

/// A holder stopped (SIGSTOP) while `wait` runs in a script: a new line says it looks stale,
/// and `--json`'s `held_by` carries the lock's state and why, as `status --json` does. No
/// daemon: the one-off scan judges a stopped holder at once with a grace of 0s (review K, L6).
#[test]
fn wait_in_a_script_says_when_the_holder_is_stopped() {
    let dir = Dir::new("wait-stopped");
    let (lock, holder) = held_package_cache(&dir);
    let mut wait = lockwatch(&dir);
    wait.args(["wait", "--json", "--timeout", "60s", "--interval", "100ms"])
        .env("LOCKWATCH_STALE_STOPPED_GRACE", "0s")
        .arg(&lock);
    let mut waiting = dir.spawn("wait", &mut wait);
    let held_by = format!("held by flock {}", holder.pid);
    util::eventually("wait names the holder", || {
        waiting.output().contains(&held_by)
    });
    assert!(!waiting.output().contains("STALE"), "{}", waiting.output());
    // The flock and the `sleep` it runs, both holding the lock: this test's own group.
    holder.stop_group();
    util::eventually("wait says the holder looks stale", || {
        waiting.output().contains("looks STALE")
    });
    // SAFETY: kill(2) on the `wait` this test started and still owns (not yet reaped).
    assert_eq!(unsafe { libc::kill(waiting.pid as i32, libc::SIGINT) }, 0);
    let code = waiting.wait_exit();
    let said = waiting.output();
    assert_eq!(code, lockwatch::exit::INTERRUPTED, "{said}");
    let stale_line = said
        .lines()
        .find(|l| l.contains("looks STALE"))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(
        stale_line.starts_with("after ") && stale_line.contains(&held_by),
        "{said}"
    );
    let line = said
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("{said}"));
    let doc: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(doc["held_by"]["pid"], holder.pid, "{doc}");
    assert_eq!(doc["held_by"]["state"], "stale", "{doc}");
    assert_eq!(doc["held_by"]["process_state"], "stopped", "{doc}");
    let reasons = doc["held_by"]["stale_reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|r| r == "stopped"), "{doc}");
}

/// `wait` with the default paths waits for the Cargo home a cargo run here would use, not for
/// another home in `[watch] cargo_homes` (a build here does not take its package cache); that
/// home's lock named is still waited for (review L, M1), and so is the home named with
/// `--cargo-home` on the command line, before or after `wait` (review M, N2).
#[test]
fn wait_does_not_wait_for_another_watched_home_s_package_cache_unless_named() {
    let dir = Dir::new("wait-other-home");
    let other = dir.path("other-home");
    std::fs::create_dir_all(&other).unwrap();
    let config = format!(
        "[watch]\ncargo_homes = [{:?}]\n",
        other.display().to_string()
    );
    dir.write("lockwatch/config/config.toml", &config);
    let lock = other.join(".package-cache");
    std::fs::write(&lock, "").unwrap();
    let holder = util::daemon::flock_holder(&dir, "holder", &lock);
    let wait_with = |before: &[&std::ffi::OsStr], after: &[&std::ffi::OsStr]| {
        let mut cmd = lockwatch(&dir);
        cmd.args(before);
        cmd.args(["wait", "--timeout", "1s", "--interval", "100ms"]);
        cmd.args(after);
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    util::eventually("wait sees the named lock held", || {
        wait_with(&[], &[lock.as_os_str()]).0 == Some(lockwatch::exit::TIMEOUT)
    });
    let (code, said) = wait_with(&[], &[]);
    assert_eq!(code, Some(0), "{said}");
    assert!(!said.contains(&holder.pid.to_string()), "{said}");
    let flag = std::ffi::OsStr::new("--cargo-home");
    for (before, after) in [
        (vec![], vec![flag, other.as_os_str()]),
        (vec![flag, other.as_os_str()], vec![]),
    ] {
        let (code, said) = wait_with(&before, &after);
        assert_eq!(code, Some(lockwatch::exit::TIMEOUT), "{said}");
        assert!(said.contains(&holder.pid.to_string()), "{said}");
    }
}

/// A chain: the lock `wait` waits for is held by a process that itself waits for the package
/// cache, held by a stopped `flock`. The line names that root blocker behind the holder and
/// says it looks stale; `--json`'s `held_by.root` carries it (review L, M3).
#[test]
fn wait_behind_a_chain_names_the_stale_root_blocker() {
    let dir = Dir::new("wait-chain");
    let (cache, root) = held_package_cache(&dir);
    let lock = dir.write("p/target/debug/.cargo-lock", "");
    // Holds the build lock, and its child (sharing that descriptor) waits for the cache.
    let mut cmd = dir.command("flock");
    cmd.arg("-x")
        .arg(&lock)
        .arg("flock")
        .arg("-x")
        .arg(&cache)
        .arg("true");
    let link = dir.spawn("link", &mut cmd);
    util::wait_holder(&dir, &lock, link.pid, &[&root, &link]);
    root.stop_group();
    let mut wait = lockwatch(&dir);
    wait.args(["wait", "--json", "--timeout", "1s", "--interval", "100ms"])
        .env("LOCKWATCH_STALE_STOPPED_GRACE", "0s")
        .arg(&lock);
    let out = wait.output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(lockwatch::exit::TIMEOUT), "{said}");
    let behind = format!("behind flock {}", root.pid);
    assert!(
        said.contains(&behind) && said.contains("looks STALE"),
        "{said}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let held_by = &doc["held_by"];
    assert_ne!(held_by["pid"], root.pid, "{doc}");
    assert_eq!(held_by["root"]["pid"], root.pid, "{doc}");
    assert_eq!(held_by["root"]["state"], "stale", "{doc}");
    let reasons = held_by["root"]["stale_reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|r| r == "stopped"), "{doc}");
}

/// `history --since` longer than the history could hold begins at the epoch: `since` is never
/// negative; a word is answered with what is accepted (review L, M10).
#[test]
fn history_since_is_clamped_to_the_epoch_and_a_word_is_refused_in_plain_words() {
    let dir = Dir::new("history-since");
    for period in ["999999999999d", "100000d"] {
        let out = lockwatch(&dir)
            .args(["history", "--json", "--since", period])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["since"], 0.0, "{period}: {doc}");
    }
    let out = lockwatch(&dir)
        .args(["history", "--since", "now"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("a number and a unit, like 30m, 2h, 1d") && !err.contains("sign"),
        "{err}"
    );
}

/// The test's package cache, an empty file (no cargo has run with this Cargo home yet).
fn package_cache(dir: &Dir) -> std::path::PathBuf {
    let lock = dir.cargo_home.join(".package-cache");
    std::fs::write(&lock, "").unwrap();
    lock
}

/// The test's package cache, held by a `flock` seen holding it.
fn held_package_cache(dir: &Dir) -> (std::path::PathBuf, util::Proc) {
    let lock = package_cache(dir);
    let holder = util::daemon::flock_holder(dir, "holder", &lock);
    util::wait_holder(dir, &lock, holder.pid, &[&holder]);
    (lock, holder)
}

/// `LOCKWATCH_CONFIG` naming a file that is not there is a typo more often than not: `config`
/// warns and exits 2, as for a misspelt variable, instead of quietly using the defaults; the
/// default config file missing is fine (review M, N12).
#[test]
fn a_missing_file_named_by_lockwatch_config_is_a_warning() {
    let dir = Dir::new("missing-config");
    let missing = dir.path("nonexist.toml");
    let out = lockwatch(&dir)
        .arg("config")
        .env("LOCKWATCH_CONFIG", &missing)
        .output()
        .unwrap();
    // `config` lists its warnings with the settings, on stdout.
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains(&format!(
            "LOCKWATCH_CONFIG={} does not exist",
            missing.display()
        )),
        "{said}"
    );
    let out = lockwatch(&dir).arg("config").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--no-daemon`, listed in the top-level help, works before or after `wait`, `kill` and
/// `resume`: they scan and act directly (review N, P13).
#[test]
fn no_daemon_is_taken_by_wait_kill_and_resume() {
    let dir = Dir::new("no-daemon-acts");
    let (lock, holder) = held_package_cache(&dir);
    let run = |args: &[&str]| {
        let out = lockwatch(&dir).args(args).output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        (out.status.code(), said)
    };
    let lock = lock.display().to_string();
    let (code, said) = run(&["--no-daemon", "wait", "--timeout", "300ms", &lock]);
    assert_eq!(code, Some(lockwatch::exit::TIMEOUT), "{said}");
    let pid = holder.pid.to_string();
    let (code, said) = run(&["resume", "--no-daemon", &pid]);
    assert_eq!(code, Some(lockwatch::exit::REFUSED), "{said}");
    assert!(said.contains("not stopped"), "{said}");
    let (code, said) = run(&["--no-daemon", "kill", "--yes", "--json", &pid]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("\"outcome\": \"signalled\""), "{said}");
}

/// A dev build goes ahead beside a release build of the same project: `wait` there (for a dev
/// build, as `cargo build`) has nothing to wait for, `wait --release` waits; a relative
/// `--target-dir` is relative to where it was typed, as for the cargo typed next to it, not to
/// the project named (review P, R10, R5).
#[test]
fn wait_is_for_the_profile_and_target_dir_of_the_build_about_to_start() {
    let dir = Dir::new("wait-profile");
    let marker = dir.path("marker");
    let project = util::sleepy_project(&dir, "app", &marker);
    let mut build = dir.cargo(&project);
    build
        .args(["build", "--offline", "--release"])
        .env_remove("CARGO_TARGET_DIR");
    let mut release = dir.spawn("release build", &mut build);
    util::wait_file(&util::started_file(&marker), &[&release]);
    let wait = |args: &[&str], at: &std::path::Path| {
        let out = lockwatch(&dir)
            .args(["--no-daemon", "wait", "--timeout", "300ms", "--json"])
            .args(args)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .current_dir(at)
            .output()
            .unwrap();
        let json = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), json)
    };
    let (code, json) = wait(&[], &project);
    assert_eq!(code, Some(0), "a dev build does not wait: {json}");
    let (code, json) = wait(&["--release"], &project);
    assert_eq!(code, Some(lockwatch::exit::TIMEOUT), "{json}");
    assert!(json.contains("release/.cargo-lock"), "{json}");
    let (code, json) = wait(&["--profile", "release", "app"], &dir.root);
    assert_eq!(code, Some(lockwatch::exit::TIMEOUT), "{json}");
    let typed = ["--release", "--target-dir", "app/target", "app"];
    let (code, json) = wait(&typed, &dir.root);
    assert_eq!(
        code,
        Some(lockwatch::exit::TIMEOUT),
        "app/target from here: {json}"
    );
    util::touch(&marker);
    assert_eq!(release.wait_exit(), 0);
}

/// A build of a sleepy `app` (its build script waits for `marker`) holding its build
/// directory, and a second build suspended (Ctrl-Z) while it waits for it: (holder, waiter).
fn build_with_a_suspended_waiter(dir: &Dir, marker: &std::path::Path) -> (util::Proc, util::Proc) {
    let project = util::sleepy_project(dir, "app", marker);
    let build = |name: &str| {
        let mut cmd = dir.cargo(&project);
        cmd.args(["build", "--offline"])
            .env_remove("CARGO_TARGET_DIR");
        dir.spawn(name, &mut cmd)
    };
    let holder = build("holder");
    util::wait_file(&util::started_file(marker), &[&holder]);
    let waiter = build("waiter");
    util::wait_output(&waiter, "Blocking waiting for file lock");
    waiter.stop();
    (holder, waiter)
}

/// A waiting build suspended with Ctrl-Z has its `flock` request withdrawn from the kernel's
/// lock table until it is continued: it is still a waiter (from `/proc/PID/syscall`), in
/// `status` and to `kill`, which refuses it; its holder is not "nobody waits" (review Q, S12).
#[test]
fn a_waiting_build_suspended_with_ctrl_z_is_still_a_waiter() {
    let dir = Dir::new("stopped-waiter");
    let marker = dir.path("marker");
    let (mut holder, mut waiter) = build_with_a_suspended_waiter(&dir, &marker);
    let status = || {
        let out = lockwatch(&dir)
            .args(["--no-daemon", "status", "--json"])
            .output()
            .unwrap();
        let json = String::from_utf8_lossy(&out.stdout).into_owned();
        serde_json::from_str::<serde_json::Value>(&json).expect(&json)
    };
    let blocked_by_holder = |r: &serde_json::Value| {
        (r["incidents"].as_array().into_iter().flatten())
            .find(|i| i["blocker"]["pid"] == holder.pid)
            .map(|i| i["blocked"].clone())
    };
    let start = Instant::now();
    let blocked = loop {
        let r = status();
        let blocked = blocked_by_holder(&r).unwrap_or_default();
        let listed =
            (blocked.as_array().into_iter().flatten()).any(|b| b["process"]["pid"] == waiter.pid);
        if listed || start.elapsed() > Duration::from_secs(20) {
            break blocked;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let me = (blocked.as_array().into_iter().flatten())
        .find(|b| b["process"]["pid"] == waiter.pid)
        .unwrap_or_else(|| panic!("the stopped waiter is not listed: {blocked:#}"));
    assert_eq!(me["process"]["process_state"], "stopped", "{me:#}");
    let text = lockwatch(&dir)
        .args(["--no-daemon", "status"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    // `fg` only when a terminal controls it (review W, W4): as this test runs, or not.
    let fg = if util::has_controlling_tty(waiter.pid) {
        "`fg` in its terminal or "
    } else {
        ""
    };
    assert!(
        text.contains(&format!(
            "but is STOPPED (Ctrl-Z?): {fg}`cargo lockwatch resume {}`",
            waiter.pid
        )),
        "{text}"
    );
    let (code, said) = act(&dir, &["kill", &waiter.pid.to_string()]);
    assert_eq!(code, Some(lockwatch::exit::REFUSED), "{said}");
    assert!(said.contains("WAITING"), "{said}");
    assert_eq!(
        util::proc_state(waiter.pid),
        Some('T'),
        "nothing was signalled"
    );
    // `resume`, which `status` offers, continues it: it waits again (review T, T5).
    let (code, said) = act(&dir, &["resume", &waiter.pid.to_string()]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("it waits for its lock again"), "{said}");
    assert_ne!(util::proc_state(waiter.pid), Some('T'), "{said}");
    waiter.stop();
    // The holder finishes while the waiter stays stopped: the lock is free, the waiter still a
    // waiter, said with the way out; `kill` refuses it, `resume` lets it take the lock
    // (review T, T1, T5).
    util::touch(&marker);
    assert_eq!(holder.wait_exit(), 0);
    let start = Instant::now();
    let text = loop {
        let out = lockwatch(&dir)
            .args(["--no-daemon", "status"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains("which is free now") || start.elapsed() > Duration::from_secs(20) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        text.contains(&format!(
            "STOPPED  cargo build {} is suspended while waiting for the artifact directory, which is free now",
            waiter.pid
        )) && text.contains(&format!("cargo lockwatch resume {}", waiter.pid)),
        "{text}"
    );
    let r = status();
    // Only this test's pids: `status` lists every lock on the machine.
    assert!(
        !(r["incidents"].as_array().into_iter().flatten())
            .any(|i| i["blocker"]["pid"] == waiter.pid),
        "a stopped waiter is no blocker: {r:#}"
    );
    let free = (r["locks"].as_array().into_iter().flatten())
        .find(|l| (l["waiters"].as_array().into_iter().flatten()).any(|w| w["pid"] == waiter.pid))
        .unwrap_or_else(|| panic!("no lock lists the stopped waiter: {r:#}"));
    assert_eq!(free["state"], "free", "{free:#}");
    // Listed at the top level too, with what to run (review V, V6).
    let suspended = (r["suspended"].as_array().into_iter().flatten())
        .find(|s| s["pid"] == waiter.pid)
        .unwrap_or_else(|| panic!("not in `suspended`: {r:#}"));
    assert_eq!(
        suspended["action"],
        format!("cargo lockwatch resume {}", waiter.pid)
    );
    let (code, said) = act(&dir, &["kill", &waiter.pid.to_string(), "--yes"]);
    assert_eq!(code, Some(lockwatch::exit::REFUSED), "{said}");
    assert!(said.contains("which is free now"), "{said}");
    assert_eq!(
        util::proc_state(waiter.pid),
        Some('T'),
        "nothing was signalled"
    );
    let (code, said) = act(&dir, &["resume", &waiter.pid.to_string()]);
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains("resumed (SIGCONT); it takes the lock"),
        "{said}"
    );
    assert_eq!(waiter.wait_exit(), 0);
}

/// A cargo waiting for the package cache holds no lock at all: suspended with Ctrl-Z, its
/// request leaves the kernel's table and nothing of it is left there. A one-off `status` still
/// finds it (a held package cache nobody waits for is searched for stopped `flock` callers),
/// lists it as a stopped waiter, and `kill` refuses it (review T, T4).
#[test]
fn a_suspended_package_cache_waiter_is_found_by_a_one_off_status() {
    let dir = Dir::new("stopped-cache-waiter");
    let lock = dir.write("cargo-home/.package-cache", "");
    let project = util::app_project(&dir);
    let holder = util::daemon::flock_holder(&dir, "holder", &lock);
    let waiter = util::lockfile_cargo(&dir, &project, "waiter");
    util::wait_output(&waiter, "Blocking waiting for file lock");
    waiter.stop();
    let stopped_waiter = |r: &serde_json::Value| {
        (r["incidents"].as_array().into_iter().flatten())
            .filter(|i| i["blocker"]["pid"] == holder.pid)
            .flat_map(|i| i["blocked"].as_array().cloned().unwrap_or_default())
            .find(|b| b["process"]["pid"] == waiter.pid)
    };
    let start = Instant::now();
    let found = loop {
        let out = lockwatch(&dir)
            .args(["--no-daemon", "status", "--json"])
            .output()
            .unwrap();
        let json = String::from_utf8_lossy(&out.stdout).into_owned();
        let r: serde_json::Value = serde_json::from_str(&json).expect(&json);
        if let Some(b) = stopped_waiter(&r) {
            break b;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the stopped waiter is not listed: {r:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(found["process"]["process_state"], "stopped", "{found:#}");
    let (code, said) = act(&dir, &["kill", &waiter.pid.to_string(), "--yes"]);
    assert_eq!(code, Some(lockwatch::exit::REFUSED), "{said}");
    assert!(said.contains("WAITING"), "{said}");
    assert_eq!(
        util::proc_state(waiter.pid),
        Some('T'),
        "nothing was signalled"
    );
    // Its holder gone, it holds no lock at all: `kill` still knows it for a waiter, and
    // `resume` lets it take the lock (review U, U2).
    drop(holder);
    let (code, said) = act(&dir, &["kill", &waiter.pid.to_string(), "--yes"]);
    assert_eq!(code, Some(lockwatch::exit::REFUSED), "{said}");
    assert!(said.contains("which is free now"), "{said}");
    let (code, said) = act(&dir, &["resume", &waiter.pid.to_string()]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("it takes the lock it waited for"), "{said}");
    let mut waiter = waiter;
    assert_eq!(waiter.wait_exit(), 0);
}

/// `kill` of a holder whose only waiter is suspended says so, and how to let it take the lock
/// (review U, U9).
#[test]
fn killing_a_holder_whose_waiter_is_suspended_says_how_to_resume_it() {
    let dir = Dir::new("kill-stopped-waiter");
    let marker = dir.path("marker");
    let (holder, mut waiter) = build_with_a_suspended_waiter(&dir, &marker);
    let (code, said) = act(&dir, &["kill", &holder.pid.to_string(), "--yes"]);
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains(&format!(
            "but its waiter {} is suspended (Ctrl-Z): `cargo lockwatch resume {}`",
            waiter.pid, waiter.pid
        )),
        "{said}"
    );
    assert_eq!(
        util::proc_state(waiter.pid),
        Some('T'),
        "the waiter untouched"
    );
    util::touch(&marker);
    waiter.cont();
    assert_eq!(waiter.wait_exit(), 0);
}
