//! Tells where a process came from (terminal, IDE, orphan) from its parent chain, so the user
//! knows whether the holder is their own `cargo build`, rust-analyzer's background check, or a
//! leftover nobody owns.

use super::model::{Origin, ProcessFacts};

/// Names (as `comm` or `pbi_name` shows them; Linux truncates to 15 bytes) of editors and IDEs
/// that run cargo in the background.
const IDE_NAMES: &[&str] = &[
    "rust-analyzer",
    "rust-analyzer-p", // rust-analyzer-proc-macro-srv, truncated
    "code",
    "code-oss",
    "codium",
    "Code Helper",
    "Code Helper (Pl",
    "Code Helper (Plugin)",
    "Electron",
    "cursor",
    "Cursor Helper",
    "zed",
    "zed-editor",
    "Zed",
    "rustrover",
    "rustrover.sh",
    "RustRover",
    "idea",
    "idea.sh",
    "clion",
    "clion.sh",
    "CLion",
    "java", // JetBrains IDEs on Linux run as java; only counted above a cargo, see below
    "nvim",
    "vim",
    "emacs",
    "Emacs",
    "hx",
    "helix",
    "kak",
    "sublime_text",
    "lapce",
    "fleet",
];

/// File watchers that run cargo again on every save: background checks as an editor's are,
/// so they count as the `Ide` origin (yielding to a terminal build, the same advice) and are
/// named as watchers. Some run cargo through `sh -c`. `watch`(1) (`watch -n 2 cargo check`)
/// runs it again every few seconds instead, through `sh -c` unless given `-x` (review Y, Y2).
const WATCHER_NAMES: &[&str] = &["bacon", "cargo-watch", "watchexec", "cargo-limit", "watch"];

/// Shells, multiplexers and terminal emulators: a cargo below one of them was started by hand.
const TERMINAL_NAMES: &[&str] = &[
    "bash",
    "zsh",
    "fish",
    "sh",
    "dash",
    "nu",
    "elvish",
    "xonsh",
    "tcsh",
    "ksh",
    "tmux",
    "tmux: server",
    "screen",
    "sshd",
    "login",
    "Terminal",
    "iTerm2",
    "alacritty",
    "kitty",
    "wezterm-gui",
    "gnome-terminal-",
    "konsole",
    "xterm",
    "foot",
    "ghostty",
    "warp",
];

/// Real inits and reapers that adopt orphans: init, launchd, the systemd (user) manager, and the
/// minimal inits of containers. A shell that happens to be pid 1 (a container's `bash`,
/// `unshare --pid … bash`) is not one: the processes under it were started from it.
const REAPER_NAMES: &[&str] = &[
    "init",
    "systemd",
    "launchd",
    "tini",
    "tini-static",
    "dumb-init",
    "catatonit",
    "docker-init",
    "s6-svscan",
    "runit",
    "openrc-init",
];

/// Classifies a process's origin; returns the origin and the ancestor name that decided it.
///
/// "Orphan" means reparented to a real init (see [`REAPER_NAMES`]), never merely "parent is
/// pid 1": in a container or a PID namespace whose pid 1 is a shell, everything has ppid 1.
pub fn classify(facts: &ProcessFacts) -> (Origin, Option<String>) {
    if let Some(parent) = facts.ancestors.first()
        && REAPER_NAMES.contains(&parent.name.raw())
    {
        // A name from the lists here: nothing to escape.
        return (Origin::Orphan, Some(parent.name.raw().to_string()));
    }
    // The nearest editor or shell decides: a cargo typed into an editor's own terminal runs
    // under a shell under the editor, and is the user's (never an IDE check to stop for a
    // build); rust-analyzer runs its checks directly, or under an editor in a terminal.
    for (n, a) in facts.ancestors.iter().enumerate() {
        // A cargo a build script runs (a nested build) is the build's, not the terminal's
        // that started the outer cargo. (`comm` cuts `build-script-build` to 15 bytes.)
        if a.name.raw().starts_with("build-script-") {
            return (Origin::Unknown, Some(format!("build script {}", a.pid)));
        }
        if a.name == "java" {
            // Only a JetBrains IDE runs cargo from a JVM in practice.
            return (Origin::Ide, Some("JetBrains IDE".to_string()));
        }
        if IDE_NAMES.contains(&a.name.raw()) || is_watcher_name(a.name.raw()) {
            return (Origin::Ide, Some(a.name.raw().to_string()));
        }
        // `sh -c` of a watcher's is the watcher's, not a terminal's.
        if let Some(w) = (facts.ancestors.get(n + 1)).filter(|w| is_watcher_name(w.name.raw()))
            && matches!(a.name.raw(), "sh" | "dash" | "bash")
        {
            return (Origin::Ide, Some(w.name.raw().to_string()));
        }
        if TERMINAL_NAMES.contains(&a.name.raw()) {
            return (Origin::Terminal, Some(a.name.raw().to_string()));
        }
    }
    if facts.has_tty {
        return (Origin::Terminal, Some("tty".to_string()));
    }
    (Origin::Unknown, None)
}

/// Whether a process of this name is an editor or IDE that runs cargo in the background
/// (`java` included: the JetBrains IDEs on Linux).
pub fn is_ide_name(name: &str) -> bool {
    IDE_NAMES.contains(&name)
}

/// Whether a process of this name is a file watcher that runs cargo on every save (`bacon`,
/// `cargo-watch`): counted with the IDEs, named as a watcher.
pub fn is_watcher_name(name: &str) -> bool {
    WATCHER_NAMES.contains(&name)
}

/// When a file watcher runs its check again: `watch`(1) after its interval, whatever changed;
/// the others on the next change.
pub fn watcher_runs_again(watcher: &str) -> &'static str {
    match watcher {
        "watch" => "at its next interval",
        _ => "on the next change",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{Ancestor, ProcState};

    #[test]
    fn ide_names_are_known_by_name() {
        assert!(is_ide_name("rust-analyzer"));
        assert!(is_ide_name("java"));
        assert!(!is_ide_name("bash"));
    }

    fn facts(ppid: u32, tty: bool, chain: &[&str]) -> ProcessFacts {
        ProcessFacts {
            pid: 100,
            ppid,
            pgid: 100,
            uid: 1000,
            user: None,
            name: "cargo".into(),
            cmd: vec!["cargo".into(), "build".into()],
            cwd: None,
            start_token: 1,
            started_at: 0.0,
            state: ProcState::Sleeping,
            tree_cpu_secs: 0.0,
            has_tty: tty,
            ancestors: chain
                .iter()
                .enumerate()
                .map(|(i, n)| Ancestor {
                    pid: if i == 0 { ppid } else { 50 - i as u32 },
                    name: (*n).into(),
                })
                .collect(),
            sigterm: Default::default(),
        }
    }

    #[test]
    fn orphan_when_reparented_to_init_or_a_reaper() {
        assert_eq!(classify(&facts(1, false, &["launchd"])).0, Origin::Orphan);
        assert_eq!(classify(&facts(1, false, &["tini"])).0, Origin::Orphan);
        assert_eq!(
            classify(&facts(1500, false, &["systemd", "systemd"])).0,
            Origin::Orphan
        );
    }

    #[test]
    fn a_shell_or_sandbox_agent_as_pid_1_is_not_an_init() {
        // `unshare --pid --fork --mount-proc bash`, or a container whose pid 1 is a shell.
        assert_eq!(
            classify(&facts(1, false, &["bash"])),
            (Origin::Terminal, Some("bash".into()))
        );
        assert_eq!(
            classify(&facts(1, false, &["process_api"])).0,
            Origin::Unknown
        );
        assert_eq!(classify(&facts(1, false, &[])).0, Origin::Unknown);
    }

    #[test]
    fn a_file_watcher_s_check_is_a_background_check_named_as_the_watcher() {
        // bash -> bacon -> cargo check: not the terminal's, though a terminal started bacon.
        assert_eq!(
            classify(&facts(40, true, &["bacon", "bash", "tmux: server"])),
            (Origin::Ide, Some("bacon".into()))
        );
        // watchexec and cargo-watch run it through `sh -c`.
        assert_eq!(
            classify(&facts(40, true, &["sh", "watchexec", "zsh"])),
            (Origin::Ide, Some("watchexec".into()))
        );
        // A shell under a terminal stays the terminal's.
        assert_eq!(
            classify(&facts(40, true, &["sh", "zsh"])).0,
            Origin::Terminal
        );
        assert_eq!(
            crate::core::words::origin(Origin::Ide, Some("bacon")),
            "file watcher: bacon"
        );
    }

    #[test]
    fn a_check_watch_1_runs_again_is_a_file_watcher_s() {
        // `watch -n 2 'cargo check'`: cargo ← sh -c ← watch ← bash (review Y, Y2).
        assert_eq!(
            classify(&facts(40, true, &["sh", "watch", "bash", "tmux: server"])),
            (Origin::Ide, Some("watch".into()))
        );
        // `watch -x cargo check` runs it directly.
        assert_eq!(
            classify(&facts(40, true, &["watch", "zsh"])),
            (Origin::Ide, Some("watch".into()))
        );
        assert_eq!(
            crate::core::words::origin(Origin::Ide, Some("watch")),
            "file watcher: watch"
        );
        assert_eq!(watcher_runs_again("watch"), "at its next interval");
        // A cargo typed into a plain shell, even a `sh` one, is no watcher's.
        assert_eq!(
            classify(&facts(40, true, &["sh", "bash", "tmux: server"])),
            (Origin::Terminal, Some("sh".into()))
        );
        assert_eq!(
            classify(&facts(40, true, &["bash", "tmux: server"])),
            (Origin::Terminal, Some("bash".into()))
        );
    }

    #[test]
    fn a_cargo_a_build_script_runs_is_the_build_s_not_the_terminal_s() {
        // cargo ← build-script-build (cut to 15 bytes) ← cargo ← bash: a nested build.
        let (o, via) = classify(&facts(300, true, &["build-script-bu", "cargo", "bash"]));
        assert_eq!(
            (o, via.as_deref()),
            (Origin::Unknown, Some("build script 300"))
        );
        assert_eq!(
            crate::core::words::origin(o, via.as_deref()),
            "run by build script 300"
        );
    }

    #[test]
    fn ide_beats_terminal() {
        let (o, via) = classify(&facts(300, true, &["rust-analyzer", "code", "bash"]));
        assert_eq!(o, Origin::Ide);
        assert_eq!(via.as_deref(), Some("rust-analyzer"));
        assert_eq!(
            classify(&facts(300, false, &["java", "bash"])).1.as_deref(),
            Some("JetBrains IDE")
        );
    }

    #[test]
    fn a_command_typed_in_an_editor_s_terminal_is_the_user_s() {
        // VS Code's integrated terminal: bash under its pty host (`code`).
        assert_eq!(
            classify(&facts(300, true, &["bash", "code", "code"])),
            (Origin::Terminal, Some("bash".into()))
        );
        // `:!cargo build` in vim runs through a shell; vim's language server does not.
        assert_eq!(
            classify(&facts(300, true, &["sh", "vim", "zsh"])).0,
            Origin::Terminal
        );
        assert_eq!(
            classify(&facts(300, true, &["rust-analyzer", "nvim", "zsh"])).0,
            Origin::Ide
        );
    }

    #[test]
    fn terminal_from_tty_or_shell() {
        assert_eq!(
            classify(&facts(300, true, &["zsh", "login"])),
            (Origin::Terminal, Some("zsh".into()))
        );
        assert_eq!(
            classify(&facts(300, false, &["bash", "sshd"])).0,
            Origin::Terminal
        );
        assert_eq!(
            classify(&facts(300, false, &["make", "python3"])).0,
            Origin::Unknown
        );
        assert_eq!(classify(&facts(0, false, &[])).0, Origin::Unknown);
    }
}
