//! How incidents are put into words, shared by the terminal, the tray, notifications and logs,
//! so "cargo build in ~/src/app waits 1m32s for cargo 2594, stopped" reads the same everywhere.
//!
//! `elapsed` arguments advance a report's times to now (a menu redrawn between snapshots).

use std::path::{Path, PathBuf};

use super::catalog::LockKind;
use super::doing;
use super::model::{
    BlockedReport, Doing, IncidentLock, IncidentReport, IncidentState, Origin, ProcName,
    ProcessReport,
};
use super::place::workplace;
use super::text::{duration, duration_if_told, tilde};

/// Where a process came from: `terminal: zsh`, `IDE: rust-analyzer`, `orphan`, `origin unknown`.
pub fn origin(origin: Origin, via: Option<&str>) -> String {
    match (origin, via) {
        (Origin::Terminal, Some(v)) => format!("terminal: {v}"),
        (Origin::Terminal, None) => "terminal".into(),
        (Origin::Ide, Some(v)) if super::origin::is_watcher_name(v) => format!("file watcher: {v}"),
        (Origin::Ide, Some(v)) => format!("IDE: {v}"),
        (Origin::Ide, None) => "IDE".into(),
        (Origin::Orphan, _) => "orphan".into(),
        (Origin::Unknown, Some(v)) => format!("run by {v}"),
        (Origin::Unknown, None) => "origin unknown".into(),
    }
}

/// The command as a person would say it: `cargo build` rather than
/// `/home/u/.rustup/toolchains/…/bin/cargo build --release --message-format=json`, with a
/// known subcommand of the subcommand (`cargo +nightly clean gc`, review W, W10) but no other
/// argument. Control characters are escaped: a command line is anyone's to choose, as a name
/// is.
pub fn short_command(cmd: &[String], name: &ProcName) -> String {
    let Some(first) = cmd.first() else {
        return name.to_string();
    };
    let base = Path::new(first)
        .file_name()
        .map_or_else(|| first.clone(), |b| b.to_string_lossy().into_owned());
    let cargo = base.starts_with("cargo");
    let sub = if cargo {
        crate::core::catalog::cargo_subcommand(cmd)
    } else {
        cmd.get(1)
            .map(String::as_str)
            .filter(|a| !a.starts_with('-'))
    };
    // A nightly and a stable build of one project wait for each other: say which is which
    // (review U, U6).
    let base = match toolchain_of(first).filter(|_| base == "cargo") {
        Some(tc) => format!("{base} +{tc}"),
        None => base,
    };
    // A subcommand's own subcommand comes from a fixed list: never a package name.
    let then = cargo
        .then(|| crate::core::catalog::cargo_sub_subcommand(cmd))
        .flatten();
    let said = match (sub, then) {
        (Some(sub), Some(then)) if sub.len() <= 24 => format!("{base} {sub} {then}"),
        (Some(sub), None) if sub.len() <= 24 => format!("{base} {sub}"),
        _ => base,
    };
    super::text::printable(&said)
}

/// The rustup toolchain a program runs from, when not a stable one: `nightly` for
/// `~/.rustup/toolchains/nightly-x86_64-unknown-linux-gnu/bin/cargo`, `1.80.0` for a pinned
/// one; `None` for stable, and for a program outside rustup's toolchains.
pub fn toolchain_of(program: &str) -> Option<String> {
    let (_, rest) = program.split_once("/toolchains/")?;
    let dir = rest.split('/').next()?;
    const ARCHES: [&str; 9] = [
        "x86_64",
        "aarch64",
        "i686",
        "arm",
        "armv7",
        "riscv64gc",
        "powerpc64le",
        "s390x",
        "loongarch64",
    ];
    let parts: Vec<&str> = dir.split('-').collect();
    let host = parts
        .iter()
        .position(|p| ARCHES.contains(p))
        .unwrap_or(parts.len());
    let name = parts[..host].join("-");
    (!name.is_empty() && !name.starts_with("stable")).then_some(name)
}

/// [`short_command`] with what tells one build from another of the same project: `cargo build
/// -p wb --release`, where two waiting builds of a workspace would both read `cargo build`
/// (review P, R4). Only the package, target, profile and platform options are kept, each
/// value cut to 24 characters.
pub fn telling_command(cmd: &[String], name: &ProcName) -> String {
    let mut said = short_command(cmd, name);
    if !said.starts_with("cargo") {
        return said;
    }
    const WITH_VALUE: [&str; 9] = [
        "-p",
        "--package",
        "--bin",
        "--example",
        "--test",
        "--bench",
        "--profile",
        "--target",
        "--features",
    ];
    const ALONE: [&str; 5] = [
        "--lib",
        "--bins",
        "--release",
        "--workspace",
        "--all-targets",
    ];
    let cut = |v: &str| v.chars().take(24).collect::<String>();
    let mut args = cmd.iter().skip(1).map(String::as_str);
    while let Some(a) = args.next() {
        let kept = match a.split_once('=') {
            _ if a == "--" => break,
            Some((flag, v)) if WITH_VALUE.contains(&flag) => Some(format!("{flag} {}", cut(v))),
            _ if WITH_VALUE.contains(&a) => args.next().map(|v| format!("{a} {}", cut(v))),
            _ if ALONE.contains(&a) => Some(a.to_string()),
            _ => None,
        };
        if let Some(kept) = kept {
            said.push(' ');
            said.push_str(&super::text::printable(&kept));
        }
    }
    said
}

/// `cargo 4242`.
pub fn who(p: &ProcessReport) -> String {
    format!("{} {}", p.name, p.pid)
}

/// `cargo check 4242`: a cargo with its subcommand, so that the blocker of a headline is told
/// from the cargo it blocks at a glance; any other process as [`who`] says it.
pub fn who_with_command(p: &ProcessReport) -> String {
    if p.name.raw() != "cargo" {
        return who(p);
    }
    format!("{} {}", short_command(&p.cmd, &p.name), p.pid)
}

/// `user root (uid 0)`: whose process it is, for one that is not the reader's.
pub fn owner(p: &ProcessReport) -> String {
    match &p.user {
        Some(name) => format!("user {name} (uid {})", p.uid),
        None => format!("uid {}", p.uid),
    }
}

/// The project an incident is about: its first build lock's project, else where the blocker
/// works (see [`workplace`]).
pub fn project(i: &IncidentReport) -> Option<PathBuf> {
    i.locks
        .iter()
        .find_map(|l| l.project_dir.as_deref())
        .map(Path::to_path_buf)
        .or_else(|| {
            let b = i.blocker.as_ref()?;
            workplace(&b.cmd, b.cwd.as_deref())
        })
}

/// One blocked process: `cargo check in ~/src/app (IDE: rust-analyzer) waits 12s for the
/// package cache`.
pub fn blocked(b: &BlockedReport, elapsed: f64) -> String {
    blocked_seen_by(b, elapsed, None)
}

/// [`blocked`] as user `viewer` reads it: another user's process says whose it is, as its
/// blocker's line does (`(user bob, origin unknown, pid 26984)`) (review M, N14).
pub fn blocked_seen_by(b: &BlockedReport, elapsed: f64, viewer: Option<u32>) -> String {
    let p = &b.process;
    let mut s = telling_command(&p.cmd, &p.name);
    if let Some(place) = workplace(&p.cmd, p.cwd.as_deref()) {
        s.push_str(&format!(" in {}", tilde(&place)));
    }
    let whose = match (&p.user, viewer) {
        (_, Some(me)) if me == p.uid => String::new(),
        (_, None) => String::new(),
        (Some(name), Some(_)) => format!("user {name}, "),
        (None, Some(_)) => format!("uid {}, ", p.uid),
    };
    s.push_str(&format!(
        " ({whose}{}, pid {}) waits{}",
        origin(p.origin, p.origin_via.as_deref()),
        p.pid,
        waits_for(b, elapsed)
    ));
    // Suspended while it waited: it takes the lock only once resumed (review Q, S12).
    // `fg` only where there is a terminal to type it in (review V, V5).
    if p.process_state == super::model::ProcState::Stopped {
        let fg = if p.in_terminal {
            "`fg` in its terminal or "
        } else {
            ""
        };
        s.push_str(&format!(
            ", but is STOPPED (Ctrl-Z?): {fg}`cargo lockwatch resume {}`",
            p.pid
        ));
    }
    s
}

/// [`blocked`] within its incident: a wait for a lock the incident's header does not name (in
/// a chain, a cargo waiting for another cargo that waits itself) names that lock's directory
/// and whom it waits for: `… waits 3s for the artifact directory ~/b/target/debug, held by
/// cargo build 22730`.
pub fn blocked_in(
    i: &IncidentReport,
    b: &BlockedReport,
    elapsed: f64,
    viewer: Option<u32>,
) -> String {
    let line = blocked_seen_by(b, elapsed, viewer);
    if b.via_child.is_some() || i.locks.iter().any(|l| l.path == b.lock) {
        return line;
    }
    let dir = b
        .lock
        .parent()
        .map(|d| format!(" {}", tilde(d)))
        .unwrap_or_default();
    let name = |pid: &u32| {
        let other = i.blocked.iter().find(|o| o.process.pid == *pid);
        other.map_or_else(
            || pid.to_string(),
            |o| format!("{} {pid}", short_command(&o.process.cmd, &o.process.name)),
        )
    };
    let holders: Vec<String> = b.waits_for.iter().map(name).collect();
    match holders.is_empty() {
        true => format!("{line}{dir}"),
        false => format!("{line}{dir}, held by {}", holders.join(" and ")),
    }
}

/// [`blocked`] for a menu row, the essentials first so a clipped row keeps them: `cargo check
/// 4250 waits 12s for the package cache · IDE: rust-analyzer` (the project has a row of its own).
pub fn blocked_short(b: &BlockedReport, elapsed: f64) -> String {
    let p = &b.process;
    format!(
        "{} {} waits{} · {}",
        short_command(&p.cmd, &p.name),
        p.pid,
        waits_for(b, elapsed),
        origin(p.origin, p.origin_via.as_deref())
    )
}

/// What follows "waits": ` 12s for the package cache`, or ` 12s for its nested process 4251,
/// which waits for the package cache`.
fn waits_for(b: &BlockedReport, elapsed: f64) -> String {
    let time = (b.waiting_for_secs)
        .and_then(|w| duration_if_told(w + elapsed, b.waiting_since_known))
        .map(|t| format!(" {t}"))
        .unwrap_or_default();
    // Blocked longer, for another lock before this one: said, so the holder of this one is
    // not taken for the whole wait (review X, X2).
    let in_all = (b.blocked_for_secs)
        .map(|all| format!(" ({} in all)", duration(all + elapsed)))
        .unwrap_or_default();
    match b.via_child {
        Some(child) => format!(
            "{time} for its nested process {child}, which waits for {}{in_all}",
            lock_words(b)
        ),
        None => format!("{time} for {}{in_all}", lock_words(b)),
    }
}

/// The lock a waiter waits for, with its article: "the package cache", "the registry index",
/// and for nightly's per-unit locks the unit: "a unit's build directory (na)" (review Y, Y7).
fn lock_words(b: &BlockedReport) -> String {
    let d = &b.lock_description;
    let unit = (super::catalog::unit_of(&b.lock))
        .map(|u| format!(" ({})", super::text::printable(&u)))
        .unwrap_or_default();
    if d.starts_with("a ") || d.starts_with("the ") {
        format!("{d}{unit}")
    } else {
        format!("the {d}{unit}")
    }
}

/// How long the blocker has held the incident's locks: `held 3m12s`; `held ≥ 1m19s, up 5m` when
/// it was already held when the daemon first looked; `up 5m` (an upper bound) when nobody
/// watched, or the daemon found the hold less than a second ago.
pub fn held(i: &IncidentReport, elapsed: f64) -> Option<String> {
    let up =
        || (i.blocker.as_ref()).map(|b| format!("up {}", duration(b.running_for_secs + elapsed)));
    let Some(h) = i.held_for_secs() else {
        return up();
    };
    match duration_if_told(h + elapsed, i.held_since_known()) {
        Some(held) if i.held_since_known() => Some(format!("held {held}")),
        Some(held) => Some(match up() {
            Some(up) => format!("held {held}, {up}"),
            None => format!("held {held}"),
        }),
        None => up(),
    }
}

/// What the history says of the blocker's command here: `usually takes 3m10s here (median of
/// the last 12 holds); 1m40s so far`.
pub fn typical(i: &IncidentReport, elapsed: f64) -> Option<String> {
    let t = i.typical_hold?;
    // Typical holds are learned from build locks: compare like with like.
    let hold = i.build_hold().map(|(h, known)| (h + elapsed, known));
    let held = hold.map(|(h, _)| h);
    let so_far = match hold {
        Some((h, true)) => format!("; {} so far", duration(h)),
        Some((h, false)) => (duration_if_told(h, false))
            .map(|t| format!("; {t} so far"))
            .unwrap_or_default(),
        None => String::new(),
    };
    let longer = match held {
        Some(h) if h > 2.0 * t.median_secs && h - t.median_secs > 30.0 => ", longer than usual",
        _ => "",
    };
    Some(format!(
        "usually takes {} here (median of the last {} holds){so_far}{longer}",
        duration(t.median_secs),
        t.holds
    ))
}

/// For an IDE's check that blocks a terminal build: how to stop it happening. `yield_after`
/// is the policy's delay when `yield_ide` is on (`None`: off); only the daemon acts on it, so
/// a report from a direct scan (`from_daemon` false) says to start one.
pub fn ide_tip(i: &IncidentReport, yield_after: Option<f64>, from_daemon: bool) -> Option<String> {
    let b = i.blocker.as_ref().filter(|b| b.origin == Origin::Ide)?;
    let blocks_terminal = (i.blocked.iter()).any(|w| w.process.origin == Origin::Terminal);
    // Only a check is stopped for a build: an editor's `cargo metadata` (what rust-analyzer
    // runs at start and on each Cargo.toml change) is not, so no tip promises it (review Q, S9).
    if !blocks_terminal || !super::yield_ide::is_background_check(&b.cmd) {
        return None;
    }
    let ide = b.origin_via.as_deref().unwrap_or("the IDE");
    // A file watcher runs its check again when a file changes, an editor when one is saved
    // (review Q, S2).
    let again = match super::origin::is_watcher_name(ide) {
        true => format!(
            "{ide} checks again {}",
            super::origin::watcher_runs_again(ide)
        ),
        false => "the IDE checks again on the next save".to_string(),
    };
    let history = "`cargo lockwatch history` says how often this happens and how to end it";
    Some(match yield_after {
        None => format!(
            "{ide}'s check holds up your build: `yield_ide = true` under [policy] lets your \
             build go first; {history}"
        ),
        Some(after) if from_daemon => format!(
            "{ide}'s check holds up your build: yield_ide is on, so the daemon stops it once \
             your build has waited {} ({again}); {history}",
            duration(after)
        ),
        Some(_) => format!(
            "{ide}'s check holds up your build: yield_ide is on, but only the daemon acts on \
             it and none answered: start one with `cargo lockwatch daemon`; {history}"
        ),
    })
}

/// The short badge of an incident: its state, or `STOPPED` for a suspended blocker that does
/// not look stale yet (a Ctrl-Z about to be `fg`-ed is neither busy nor stuck).
pub fn badge(i: &IncidentReport) -> &'static str {
    match i.state {
        IncidentState::Stale => "STALE",
        _ if i.doing.is_suspended() => "STOPPED",
        IncidentState::Blocking => "WAITING",
        IncidentState::Holding => "BUSY",
    }
}

/// What the incident is about: `package cache`, or `build directory of ~/src/app`; the lock
/// most of the blocked wait for first, and a second one when others wait for it (`artifact
/// directory of ~/src/app and shared package cache`). No Cargo home is named: see [`locks_for`].
pub fn locks(i: &IncidentReport) -> String {
    locks_for(i, &[])
}

/// What the lock at `path` is called in the words a cargo waiting for it printed (`build
/// directory` for a check, `artifact directory` for a build, on one file), so a line matches
/// that cargo's terminal; `described` (the lock's own description) when nobody waits.
pub fn cargo_words(incidents: &[IncidentReport], path: &Path, described: &str) -> String {
    (incidents.iter().flat_map(|i| &i.blocked))
        .find(|b| b.lock == path)
        .map_or_else(|| described.to_string(), |b| b.lock_description.clone())
}

/// [`locks`] for a reader whose own Cargo homes are `own` (`$CARGO_HOME` or `~/.cargo`, as given
/// and as resolved): a package cache elsewhere is named by its home (`package cache of
/// /tmp/x/home`), as a build lock is by its project. With `own` empty no home is named.
pub fn locks_for(i: &IncidentReport, own: &[PathBuf]) -> String {
    let home = |l: &IncidentLock| foreign_home(&l.path, l.kind, own);
    let words = |l: &IncidentLock| cargo_words(std::slice::from_ref(i), &l.path, &l.description);
    // A build lock outside the project's `target` (`--target-dir`, a configured build dir) is
    // named by its directory: "of the project" would read as the project's own `target`.
    let outside = |l: &IncidentLock, p: &Path| {
        !l.kind.in_cargo_home() && !l.path.starts_with(p.join("target"))
    };
    let name = |l: &IncidentLock| match (&l.project_dir, home(l)) {
        (Some(p), _) if outside(l, p) => match l.path.parent() {
            Some(dir) => format!("{} {}", words(l), tilde(dir)),
            None => words(l),
        },
        (Some(p), _) => format!("{} of {}", words(l), tilde(p)),
        (None, Some(h)) => format!("{} of {}", words(l), tilde(&h)),
        // A build lock outside any project (a shared `build.build-dir`): its directory.
        (None, None) if !l.kind.in_cargo_home() => match l.path.parent() {
            Some(dir) => format!("{} {}", words(l), tilde(dir)),
            None => words(l),
        },
        (None, None) => words(l),
    };
    let waited = |l: &&IncidentLock| i.blocked.iter().any(|b| b.lock == l.path);
    let mut waited_for = i.locks.iter().filter(waited);
    match (waited_for.next(), waited_for.next()) {
        // Two locks of one other Cargo home: the home once, at the end.
        (Some(a), Some(b))
            if a.project_dir.is_none() && home(a).is_some() && home(a) == home(b) =>
        {
            let h = home(a).unwrap_or_default();
            format!("{} and {} of {}", words(a), words(b), tilde(&h))
        }
        (Some(a), Some(b)) if words(a) != words(b) || a.project_dir != b.project_dir => {
            format!("{} and {}", name(a), name(b))
        }
        (Some(a), _) => name(a),
        (None, _) => i.locks.first().map_or_else(|| "a Cargo lock".into(), name),
    }
}

/// Whether every lock of `i` is at the top of a Cargo home other than `own` (another home's
/// package cache): the reader's own incidents come before such ones.
pub fn is_foreign(i: &IncidentReport, own: &[PathBuf]) -> bool {
    !i.locks.is_empty() && (i.locks.iter()).all(|l| foreign_home(&l.path, l.kind, own).is_some())
}

/// The Cargo home of a lock at a Cargo home's top (the package cache …) when it is none of
/// `own`; `None` for the reader's own, for other locks, and when `own` is unknown (empty).
pub fn foreign_home(path: &Path, kind: LockKind, own: &[PathBuf]) -> Option<PathBuf> {
    if own.is_empty() {
        return None;
    }
    crate::core::catalog::cargo_home_of(path, kind)
        .filter(|h| !own.iter().any(|o| super::text::same_path(o, h)))
}

/// One line naming blocked and blocker: `cargo 4242 (stopped) blocks cargo check 45s · package
/// cache`, `cargo 4242 holds the package cache, held 3m12s`. With `elapsed` `None` the times are
/// left out (a label that must not change every second).
pub fn headline(i: &IncidentReport, elapsed: Option<f64>) -> String {
    headline_for(i, elapsed, &[])
}

/// [`headline`] for a reader whose own Cargo homes are `own` (see [`locks_for`]).
pub fn headline_for(i: &IncidentReport, elapsed: Option<f64>, own: &[PathBuf]) -> String {
    let what = locks_for(i, own);
    let Some(b) = &i.blocker else {
        return format!(
            "{what}: held by a process you cannot inspect, {}",
            waiting_count(i.blocked.len())
        );
    };
    let state = match &i.doing {
        Doing::Stopped => " (stopped)".to_string(),
        Doing::ChildStopped { .. } => " (a child is stopped)".to_string(),
        Doing::Deadlocked => " (deadlocked)".to_string(),
        Doing::WaitingForPipe { culprit_name, .. } => format!(" (stuck on {culprit_name})"),
        _ => String::new(),
    };
    let time = elapsed
        .and_then(|e| held(i, e))
        .map(|h| format!(", {h}"))
        .unwrap_or_default();
    let blocker = who_with_command(b);
    match i.blocked.as_slice() {
        [] => format!("{blocker}{state} holds the {what}{time}"),
        [one] => {
            let waited = one
                .waiting_for_secs
                .zip(elapsed)
                .and_then(|(w, e)| duration_if_told(w + e, one.waiting_since_known))
                .map(|t| format!(" {t}"))
                .unwrap_or_default();
            let p = &one.process;
            format!(
                "{blocker}{state} blocks {}{waited} · {what}",
                telling_command(&p.cmd, &p.name)
            )
        }
        many => {
            // The longest wait: the one the person waiting longest sees in their terminal.
            let longest = (many.iter())
                .filter_map(|w| Some((w.waiting_for_secs?, w.waiting_since_known)))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            let waited = longest
                .zip(elapsed)
                .and_then(|((w, known), e)| duration_if_told(w + e, known))
                .map(|t| format!(" (longest wait {t})"))
                .unwrap_or_default();
            let n = many.len();
            format!("{blocker}{state} blocks {n} processes{waited} · {what}")
        }
    }
}

/// What the blocker does, in words.
pub fn doing(i: &IncidentReport) -> String {
    doing::describe(&i.doing)
}

fn waiting_count(n: usize) -> String {
    match n {
        1 => "1 waiting".into(),
        n => format!("{n} waiting"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn telling_commands_keep_what_tells_builds_apart() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let cargo = ProcName::from("cargo");
        assert_eq!(
            telling_command(
                &s(&[
                    "/r/bin/cargo",
                    "build",
                    "-p",
                    "wb",
                    "--release",
                    "--message-format=json"
                ]),
                &cargo
            ),
            "cargo build -p wb --release"
        );
        assert_eq!(
            telling_command(
                &s(&["cargo", "test", "--package=wc", "--", "-p", "x"]),
                &cargo
            ),
            "cargo test --package wc"
        );
        assert_eq!(
            telling_command(
                &s(&["cargo", "check", "--workspace", "--all-targets"]),
                &cargo
            ),
            "cargo check --workspace --all-targets"
        );
        assert_eq!(
            telling_command(&s(&["cargo", "build", "-p"]), &cargo),
            "cargo build"
        );
        assert_eq!(
            telling_command(&s(&["python3", "-p", "x"]), &"python3".into()),
            "python3"
        );
        let long = "a".repeat(40);
        assert_eq!(
            telling_command(&s(&["cargo", "build", "--bin", &long]), &cargo),
            format!("cargo build --bin {}", "a".repeat(24))
        );
    }

    #[test]
    fn a_toolchain_other_than_stable_is_named() {
        let tc = "/root/.rustup/toolchains";
        assert_eq!(
            toolchain_of(&format!("{tc}/nightly-x86_64-unknown-linux-gnu/bin/cargo")).as_deref(),
            Some("nightly")
        );
        assert_eq!(
            toolchain_of(&format!(
                "{tc}/nightly-2026-05-15-aarch64-apple-darwin/bin/cargo"
            ))
            .as_deref(),
            Some("nightly-2026-05-15")
        );
        assert_eq!(
            toolchain_of(&format!("{tc}/1.80.0-x86_64-unknown-linux-gnu/bin/cargo")).as_deref(),
            Some("1.80.0")
        );
        assert_eq!(
            toolchain_of(&format!("{tc}/stable-x86_64-unknown-linux-gnu/bin/cargo")),
            None
        );
        assert_eq!(toolchain_of("/usr/bin/cargo"), None);
        let nightly = s(&[
            &format!("{tc}/nightly-x86_64-unknown-linux-gnu/bin/cargo"),
            "build",
        ]);
        assert_eq!(
            short_command(&nightly, &"cargo".into()),
            "cargo +nightly build"
        );
        let stable = s(&[
            &format!("{tc}/stable-x86_64-unknown-linux-gnu/bin/cargo"),
            "build",
        ]);
        assert_eq!(short_command(&stable, &"cargo".into()), "cargo build");
    }

    #[test]
    fn short_commands_keep_the_subcommand_only() {
        assert_eq!(
            short_command(&s(&["/r/bin/cargo", "build", "--release"]), &"cargo".into()),
            "cargo build"
        );
        assert_eq!(
            short_command(&s(&["cargo", "--offline", "build"]), &"c".into()),
            "cargo build",
            "global flags come before the subcommand"
        );
        assert_eq!(
            short_command(&s(&["python3", "-c", "x"]), &"python3".into()),
            "python3"
        );
        assert_eq!(short_command(&[], &"kworker".into()), "kworker");
        // A known subcommand of the subcommand stays (review W, W10); other arguments do not.
        let nightly = "/u/.rustup/toolchains/nightly-x86_64-unknown-linux-gnu/bin/cargo";
        assert_eq!(
            short_command(&s(&[nightly, "clean", "gc", "-Zgc"]), &"cargo".into()),
            "cargo +nightly clean gc"
        );
        assert_eq!(
            telling_command(&s(&["cargo", "clean", "gc", "-Zgc"]), &"cargo".into()),
            "cargo clean gc"
        );
        assert_eq!(
            short_command(&s(&["cargo", "clean", "-p", "gc"]), &"cargo".into()),
            "cargo clean"
        );
        assert_eq!(
            short_command(&s(&["cargo", "test", "some_filter"]), &"cargo".into()),
            "cargo test"
        );
        assert_eq!(
            short_command(&s(&["cargo", "add", "serde"]), &"cargo".into()),
            "cargo add"
        );
        // A command line is anyone's to choose, as a name is: shown escaped.
        assert_eq!(
            short_command(&s(&["/bin/x\u{1b}[2J", "a\nb"]), &"c".into()),
            "x\\x1b[2J a\\nb"
        );
        assert_eq!(short_command(&[], &"k\u{1b}[2J".into()), "k\\x1b[2J");
    }

    #[test]
    fn typical_hold_times_read_with_the_time_so_far() {
        use crate::core::model::TypicalHold;
        use crate::ui::demo::{Stage, snapshot};
        let mut i = snapshot(Stage::Stale, 1000.0).report.incidents[0].clone();
        assert_eq!(typical(&i, 0.0), None);
        i.typical_hold = Some(TypicalHold {
            median_secs: 190.0,
            holds: 12,
        });
        i.locks[0].held_for_secs = Some(100.0);
        i.locks[0].held_since_known = true;
        assert_eq!(
            typical(&i, 0.0).unwrap(),
            "usually takes 3m10s here (median of the last 12 holds); 1m40s so far"
        );
        i.locks[0].held_since_known = false;
        assert!(typical(&i, 0.0).unwrap().ends_with("; ≥ 1m40s so far"));
        i.locks[0].held_since_known = true;
        assert!(
            typical(&i, 300.0)
                .unwrap()
                .ends_with("; 6m40s so far, longer than usual"),
            "{:?}",
            typical(&i, 300.0)
        );
    }

    #[test]
    fn a_hold_or_wait_found_a_moment_ago_never_reads_at_least_0s() {
        use crate::ui::demo::{Stage, snapshot};
        let mut i = snapshot(Stage::Contended, 1000.0).report.incidents[0].clone();
        for l in &mut i.locks {
            l.held_for_secs = Some(0.4);
            l.held_since_known = false;
        }
        for b in &mut i.blocked {
            b.waiting_for_secs = Some(0.3);
            b.waiting_since_known = false;
        }
        let up = i.blocker.as_ref().unwrap().running_for_secs;
        assert_eq!(held(&i, 0.0).unwrap(), format!("up {}", duration(up)));
        let line = headline(&i, Some(0.0));
        assert!(!line.contains("≥ 0s"), "{line}");
        assert!(!waits_for(&i.blocked[0], 0.0).contains('≥'));
        // A second later the bound says something.
        assert!(held(&i, 1.0).unwrap().starts_with("held ≥ 1s, up "));
        assert!(waits_for(&i.blocked[0], 1.0).starts_with(" ≥ 1s for the "));
    }

    /// A lock whose words carry their own article is not "the a unit's …", and a per-unit
    /// lock names its unit (review Y, Y7).
    #[test]
    fn a_wait_for_a_unit_s_lock_names_the_unit_with_one_article() {
        use crate::ui::demo::{self, Stage};
        let mut i = demo::snapshot(Stage::Contended, 1000.0).report.incidents[0].clone();
        let b = &mut i.blocked[0];
        (b.waiting_for_secs, b.waiting_since_known) = (Some(21.0), true);
        b.lock = "/ws/target/debug/build/na/59553f4465d78fef/.lock".into();
        b.lock_description = LockKind::UnitBuild.cargo_words().into();
        assert_eq!(waits_for(b, 0.0), " 21s for a unit's build directory (na)");
        b.lock = "/h/registry/index/x/.cargo-index-lock".into();
        b.lock_description = LockKind::LegacyRegistryIndex.cargo_words().into();
        assert_eq!(waits_for(b, 0.0), " 21s for the registry index");
    }

    /// Blocked longer than it has waited for this lock (the package cache before it): both
    /// times are said (review X, X2).
    #[test]
    fn a_wait_that_began_on_another_lock_says_its_whole_time() {
        use crate::ui::demo::{self, Stage};
        let mut i = demo::snapshot(Stage::Contended, 1000.0).report.incidents[0].clone();
        let b = &mut i.blocked[0];
        (b.waiting_for_secs, b.waiting_since_known) = (Some(17.0), true);
        b.blocked_for_secs = Some(161.0);
        assert_eq!(
            waits_for(b, 0.0),
            format!(" 17s for the {} (2m41s in all)", b.lock_description)
        );
    }

    #[test]
    fn another_cargo_homes_package_cache_is_named_by_its_home() {
        use crate::ui::demo::{self, Stage};
        let i = demo::snapshot(Stage::Contended, 1000.0).report.incidents[0].clone();
        let home = demo::cargo_home();
        let tilde_home = tilde(&home);
        // The reader's own home, or an unknown reader: the short name, as before.
        assert_eq!(locks_for(&i, std::slice::from_ref(&home)), "package cache");
        assert_eq!(locks_for(&i, &[]), "package cache");
        assert_eq!(locks(&i), "package cache");
        // Someone else's: named, in the headline too.
        let mine = [PathBuf::from("/elsewhere/.cargo")];
        assert_eq!(
            locks_for(&i, &mine),
            format!("package cache of {tilde_home}")
        );
        let head = headline_for(&i, Some(0.0), &mine);
        assert!(
            head.ends_with(&format!("· package cache of {tilde_home}")),
            "{head}"
        );
        assert!(!headline(&i, Some(0.0)).contains(" of "));
    }

    #[test]
    fn a_lock_is_named_in_the_words_its_waiting_cargo_printed() {
        use crate::ui::demo::{self, Stage};
        let mut i = demo::snapshot(Stage::Contended, 1000.0).report.incidents[0].clone();
        // cargo ≤ 1.95: a build says "artifact directory", a waiting check "build directory".
        i.locks[0].description = "artifact directory".into();
        i.blocked[0].lock_description = "build directory".into();
        assert!(locks(&i).starts_with("build directory"), "{}", locks(&i));
        // `wait` names it so too, from any incident a cargo waits for it in.
        let path = i.locks[0].path.clone();
        let other = i.locks[0].path.with_file_name("elsewhere");
        let both = [i.clone()];
        assert_eq!(
            cargo_words(&both, &path, "artifact directory"),
            "build directory"
        );
        assert_eq!(cargo_words(&both, &other, "package cache"), "package cache");
        i.blocked.clear();
        assert!(locks(&i).starts_with("artifact directory"), "{}", locks(&i));
        assert_eq!(
            cargo_words(&[i], &path, "artifact directory"),
            "artifact directory"
        );
    }

    #[test]
    fn a_wait_for_another_lock_in_a_chain_names_it_and_its_holder() {
        use crate::ui::demo::{self, Stage};
        let mut i = demo::snapshot(Stage::Contended, 1000.0).report.incidents[0].clone();
        let first = i.blocked[0].clone();
        let mut behind = first.clone();
        behind.process.pid = first.process.pid + 100;
        behind.lock = "/src/b/target/debug/.cargo-lock".into();
        behind.waits_for = vec![first.process.pid];
        i.blocked.push(behind.clone());
        let line = blocked_in(&i, &behind, 0.0, None);
        let holder = short_command(&first.process.cmd, &first.process.name);
        assert!(
            line.ends_with(&format!(
                "/src/b/target/debug, held by {holder} {}",
                first.process.pid
            )),
            "{line}"
        );
        // A wait for the incident's own lock reads as before.
        assert_eq!(blocked_in(&i, &first, 0.0, None), blocked(&first, 0.0));
    }

    #[test]
    fn a_build_lock_outside_the_project_s_target_is_named_by_its_directory() {
        use crate::ui::demo::{self, Stage};
        let mut i = demo::snapshot(Stage::Held, 1000.0).report.incidents[0].clone();
        i.locks[0].kind = LockKind::ProfileDirectory;
        i.locks[0].description = "build directory".into();
        i.locks[0].project_dir = Some(PathBuf::from("/src/app"));
        i.locks[0].path = PathBuf::from("/src/app/target/debug/.cargo-lock");
        assert_eq!(locks(&i), "build directory of /src/app");
        // `cargo check --target-dir /src/app/tcheck`: not the project's own target.
        i.locks[0].path = PathBuf::from("/src/app/tcheck/debug/.cargo-lock");
        assert_eq!(locks(&i), "build directory /src/app/tcheck/debug");
    }

    #[test]
    fn two_locks_of_another_home_name_it_once() {
        use crate::ui::demo::{self, Stage};
        let mut i = demo::snapshot(Stage::Contended, 1000.0).report.incidents[0].clone();
        let home = demo::cargo_home();
        let mut mutate = i.locks[0].clone();
        mutate.path = home.join(".package-cache-mutate");
        mutate.kind = LockKind::PackageCacheMutate;
        mutate.description = LockKind::PackageCacheMutate.cargo_words().into();
        i.locks.push(mutate.clone());
        let mut second = i.blocked[0].clone();
        second.lock = mutate.path.clone();
        second.lock_description = mutate.description.clone();
        i.blocked.push(second);
        let mine = [PathBuf::from("/elsewhere/.cargo")];
        assert_eq!(
            locks_for(&i, &mine),
            format!("package cache and shared package cache of {}", tilde(&home))
        );
        assert_eq!(
            locks_for(&i, &[home]),
            "package cache and shared package cache"
        );
    }

    #[test]
    fn only_locks_at_a_cargo_homes_top_have_a_foreign_home() {
        let mine = [PathBuf::from("/me/.cargo")];
        let theirs = Path::new("/tmp/x/home/.package-cache");
        assert_eq!(
            foreign_home(theirs, LockKind::PackageCache, &mine),
            Some(PathBuf::from("/tmp/x/home"))
        );
        assert_eq!(foreign_home(theirs, LockKind::PackageCache, &[]), None);
        let own = Path::new("/me/.cargo/.package-cache");
        assert_eq!(foreign_home(own, LockKind::PackageCache, &mine), None);
        let build = Path::new("/tmp/x/target/debug/.cargo-lock");
        assert_eq!(foreign_home(build, LockKind::ProfileDirectory, &mine), None);
    }

    #[test]
    fn a_wait_found_under_way_reads_as_at_least_in_the_headline() {
        use crate::ui::demo::{Stage, snapshot};
        let mut i = snapshot(Stage::Stale, 1000.0).report.incidents[0].clone();
        i.blocked.truncate(1);
        i.blocked[0].waiting_for_secs = Some(45.0);
        i.blocked[0].waiting_since_known = true;
        assert!(
            headline(&i, Some(0.0)).contains(" 45s · "),
            "{}",
            headline(&i, Some(0.0))
        );
        i.blocked[0].waiting_since_known = false;
        assert!(
            headline(&i, Some(0.0)).contains(" ≥ 45s · "),
            "{}",
            headline(&i, Some(0.0))
        );
    }

    #[test]
    fn origins_read_the_same_everywhere() {
        assert_eq!(origin(Origin::Terminal, Some("zsh")), "terminal: zsh");
        assert_eq!(origin(Origin::Terminal, None), "terminal");
        assert_eq!(
            origin(Origin::Ide, Some("rust-analyzer")),
            "IDE: rust-analyzer"
        );
        assert_eq!(origin(Origin::Unknown, None), "origin unknown");
    }
}
