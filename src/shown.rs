//! Which processes the user was last shown (by `status`, `wait`, or the daemon's menu and
//! notifications), so that `kill PID` or `resume PID` typed from what they said acts on that
//! very process: a pid the blocker left and another process took since (a new build got the
//! number) is refused, saying what the pid is now. The check at the moment of the signal
//! covers only the run of `kill` itself; this covers the person reading.

use serde::{Deserialize, Serialize};

use crate::core::model::{ProcessFacts, Report};
use crate::core::text;
use crate::memo;

/// The file in the runtime directory.
const FILE: &str = "shown.json";
/// A bigger file is not ours to trust.
const MAX_BYTES: u64 = 64 * 1024;
/// At most this many processes are remembered, the newest shown.
const MAX_SHOWN: usize = 64;
/// What was shown longer ago than this no longer vouches for a pid (nor against one).
pub const KEEP_SECS: f64 = 3600.0;

/// One process as `status` showed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    /// Its pid.
    pub pid: u32,
    /// Its start token: the pid and this name one process.
    pub start_token: u64,
    /// Its name, as shown.
    pub name: String,
    /// Its command, short (`cargo build`), as shown.
    #[serde(default)]
    pub what: String,
    /// When it was last shown (Unix time).
    pub at: f64,
    /// Who showed it. Each viewer keeps its own record of a pid, so the daemon noting a new
    /// process on a reused pid never replaces what `status` showed the user.
    #[serde(default)]
    pub by: Viewer,
}

/// Who showed a process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Viewer {
    /// `status` or `wait` in a terminal (also records written before viewers were told apart).
    #[default]
    Cli,
    /// The daemon's menu and notifications.
    Daemon,
}

/// The processes in `report` one could act on: blockers, culprits and (unless
/// `incidents_only`, as the daemon's menu and notifications offer only those) lock holders.
pub fn in_report(report: &Report, at: f64, by: Viewer) -> Vec<Shown> {
    let incidents_only = by == Viewer::Daemon;
    let incidents = report.incidents.iter().flat_map(|i| {
        let people = i.blocker.iter().chain(i.culprit.iter());
        people.map(|p| (p.pid, p.start_token, &p.name, p.cmd.as_slice()))
    });
    let holders = (report.locks.iter().filter(|_| !incidents_only))
        .flat_map(|l| &l.holders)
        .map(|h| (h.pid, h.start_token, &h.name, h.cmd.as_slice()));
    let mut out: Vec<Shown> = incidents
        .chain(holders)
        .map(|(pid, start_token, name, cmd)| Shown {
            pid,
            start_token,
            name: name.raw().to_string(),
            what: crate::core::words::short_command(cmd, name),
            at,
            by,
        })
        .collect();
    out.sort_by_key(|s| s.pid);
    out.dedup_by_key(|s| s.pid);
    out
}

/// `earlier` with `now` added: a pid shown again by the same viewer replaces what it showed
/// for it; entries older than [`KEEP_SECS`] go, and the newest [`MAX_SHOWN`] stay.
pub fn merged(mut earlier: Vec<Shown>, now: Vec<Shown>, at: f64) -> Vec<Shown> {
    let replaced = |e: &Shown| now.iter().any(|n| n.pid == e.pid && n.by == e.by);
    earlier.retain(|e| at - e.at <= KEEP_SECS && !replaced(e));
    earlier.extend(now);
    earlier.sort_by(|a, b| b.at.total_cmp(&a.at).then(a.pid.cmp(&b.pid)));
    earlier.truncate(MAX_SHOWN);
    earlier
}

/// What was shown as `pid` within [`KEEP_SECS`] of `at`, by any viewer, when it was another
/// process than `target` (whose token differs): the pid was reused since. What the user read
/// in a terminal counts even when the daemon has noted the new process since.
pub fn reused<'a>(shown: &'a [Shown], target: &ProcessFacts, at: f64) -> Option<&'a Shown> {
    (shown.iter()).find(|s| {
        s.pid == target.pid && s.start_token != target.start_token && at - s.at <= KEEP_SECS
    })
}

/// Why `kill`/`resume` of `target` is refused when its pid showed another process.
pub fn refusal_text(was: &Shown, target: &ProcessFacts, at: f64) -> String {
    let now_is = match &target.cwd {
        Some(dir) => format!("{} in {}", command_of(target), text::tilde(dir)),
        None => command_of(target),
    };
    let was_what = if was.what.is_empty() {
        text::printable(&was.name)
    } else {
        was.what.clone()
    };
    format!(
        "refusing: pid {pid} is no longer the {was_what} shown {ago} ago: that one ended, and \
         pid {pid} is now {now_is} (started {age} ago). Run `cargo lockwatch status` again.",
        pid = target.pid,
        ago = text::duration(at - was.at),
        age = text::duration(at - target.started_at),
    )
}

/// A process's command, short: its name and first argument (`cargo build`).
fn command_of(p: &ProcessFacts) -> String {
    let first = p.cmd.get(1).filter(|a| !a.starts_with('-'));
    match first {
        Some(a) => format!("{} {}", p.name, text::printable(a)),
        None => p.name.to_string(),
    }
}

/// What runs of `status` showed in runtime directory `base` (none when unreadable).
pub fn load(base: &std::path::Path) -> Vec<Shown> {
    let Some(bytes) = memo::read(&memo::path(base, FILE), MAX_BYTES) else {
        return Vec::new();
    };
    let mut shown: Vec<Shown> = serde_json::from_slice(&bytes).unwrap_or_default();
    shown.truncate(MAX_SHOWN);
    shown
}

/// What is shown again within this many seconds is not written again.
const RENOTE_SECS: f64 = 60.0;

/// Whether this run noted the same processes within [`RENOTE_SECS`] (`--watch` and `wait` show
/// them again and again: the file is then not even read).
fn noted_lately(now: &[Shown], at: f64) -> bool {
    use std::sync::{Mutex, PoisonError};
    /// The (pid, start token) pairs last noted, and when.
    type Noted = (Vec<(u32, u64)>, f64);
    static LAST: Mutex<Option<Noted>> = Mutex::new(None);
    let ids: Vec<(u32, u64)> = now.iter().map(|s| (s.pid, s.start_token)).collect();
    let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
    if last
        .as_ref()
        .is_some_and(|(l, t)| *l == ids && at - t < RENOTE_SECS)
    {
        return true;
    }
    *last = Some((ids, at));
    false
}

/// Notes what `report` shows, for a later `kill`/`resume`; written only when it adds something.
pub fn remember(base: &std::path::Path, report: &Report) {
    note(base, report, Viewer::Cli);
}

/// [`remember`] for the daemon: the blockers and culprits its menu and notifications name.
pub fn remember_incidents(base: &std::path::Path, report: &Report) {
    if !report.incidents.is_empty() {
        note(base, report, Viewer::Daemon);
    }
}

fn note(base: &std::path::Path, report: &Report, by: Viewer) {
    let at = crate::scan::now();
    let now = in_report(report, at, by);
    if now.is_empty() || noted_lately(&now, at) {
        return;
    }
    let earlier = load(base);
    let same = |n: &Shown| {
        (earlier.iter()).any(|e| {
            e.pid == n.pid
                && e.start_token == n.start_token
                && e.by == by
                && at - e.at < RENOTE_SECS
        })
    };
    if now.iter().all(same) {
        return;
    }
    let all = merged(earlier, now, at);
    let written = serde_json::to_vec(&all)
        .map_err(std::io::Error::other)
        .and_then(|bytes| memo::write(base, FILE, &bytes));
    if let Err(e) = written {
        let file = memo::path(base, FILE);
        let untrusted = (e.get_ref())
            .and_then(|inner| inner.downcast_ref::<crate::daemon::trust::RunDirError>())
            .is_some_and(|r| matches!(r, crate::daemon::trust::RunDirError::Untrusted(_)));
        // An untrusted runtime directory is explained where the socket is refused, and by
        // `doctor`: not again here, in the middle of a sentence (review M, N7).
        let (why, fix) = match e.kind() {
            _ if untrusted => (
                format!("{} is not trusted", base.display()),
                "; `cargo lockwatch doctor` says why".to_string(),
            ),
            // A directory that is not ours: the error says what to set.
            std::io::ErrorKind::PermissionDenied => (e.to_string(), String::new()),
            _ => (e.to_string(), format!("; move {} aside", file.display())),
        };
        crate::say!(
            "cargo-lockwatch: warning: cannot note the processes shown in {} ({why}), so a \
             later `kill`/`resume` cannot tell them from a process that takes their pid{fix}",
            file.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::ProcState;

    fn shown(pid: u32, start_token: u64, at: f64) -> Shown {
        Shown {
            pid,
            start_token,
            name: "cargo".into(),
            what: "cargo build".into(),
            at,
            by: Viewer::Cli,
        }
    }

    fn process(pid: u32, start_token: u64) -> ProcessFacts {
        ProcessFacts {
            pid,
            ppid: 1,
            pgid: pid,
            uid: 1000,
            user: None,
            name: "cargo".into(),
            cmd: vec!["cargo".into(), "build".into(), "--release".into()],
            cwd: Some("/src/other".into()),
            start_token,
            started_at: 9_995.0,
            state: ProcState::Running,
            tree_cpu_secs: 0.0,
            has_tty: true,
            ancestors: vec![],
            sigterm: Default::default(),
        }
    }

    #[test]
    fn a_pid_shown_as_another_process_within_the_hour_is_reused() {
        let list = [
            shown(4, 7, 9_880.0),
            shown(5, 8, 10_000.0 - KEEP_SECS - 1.0),
        ];
        let now = 10_000.0;
        assert_eq!(reused(&list, &process(4, 9), now), Some(&list[0]));
        assert_eq!(reused(&list, &process(4, 7), now), None, "the same process");
        assert_eq!(
            reused(&list, &process(5, 9), now),
            None,
            "shown too long ago"
        );
        assert_eq!(reused(&list, &process(6, 1), now), None, "never shown");
        let text = refusal_text(&list[0], &process(4, 9), now);
        assert_eq!(
            text,
            "refusing: pid 4 is no longer the cargo build shown 2m00s ago: that one ended, and \
             pid 4 is now cargo build in /src/other (started 5s ago). Run `cargo lockwatch \
             status` again."
        );
    }

    #[test]
    fn showing_a_pid_again_replaces_it_and_old_or_many_entries_go() {
        let earlier = vec![shown(4, 7, 100.0), shown(5, 8, 200.0), shown(6, 9, 10.0)];
        let at = 10.0 + KEEP_SECS + 1.0;
        let got = merged(earlier, vec![shown(4, 11, at)], at);
        assert_eq!(got, [shown(4, 11, at), shown(5, 8, 200.0)], "6 is too old");
        let many = (0..200).map(|p| shown(p, 1, 50.0)).collect();
        assert_eq!(merged(many, Vec::new(), 60.0).len(), MAX_SHOWN);
    }

    #[test]
    fn the_daemon_noting_a_reused_pid_never_replaces_what_status_showed() {
        // `status` showed cargo 4 (token 7); it ended, a new build took pid 4 (token 9) and the
        // daemon noted that one.
        let by_daemon = Shown {
            by: Viewer::Daemon,
            ..shown(4, 9, 9_990.0)
        };
        let list = merged(vec![shown(4, 7, 9_880.0)], vec![by_daemon.clone()], 9_990.0);
        assert_eq!(list.len(), 2, "{list:?}");
        assert_eq!(
            reused(&list, &process(4, 9), 10_000.0),
            Some(&shown(4, 7, 9_880.0))
        );
        // `status` again: what it shows now replaces what it showed before.
        let list = merged(list, vec![shown(4, 9, 10_000.0)], 10_000.0);
        assert_eq!(reused(&list, &process(4, 9), 10_010.0), None);
        // Records written before viewers were told apart are what `status` showed.
        let old: Shown = serde_json::from_str(
            r#"{"pid":4,"start_token":7,"name":"cargo","what":"cargo build","at":1.0}"#,
        )
        .unwrap();
        assert_eq!(old.by, Viewer::Cli);
    }

    #[test]
    fn a_missing_corrupt_or_linked_file_shows_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("run");
        assert!(load(&base).is_empty());
        std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .create(&base)
            .unwrap();
        let path = memo::path(&base, FILE);
        for bytes in [&b"{not json"[..], b"\xff\xfe", br#"[{"pid":-1}]"#] {
            std::fs::write(&path, bytes).unwrap();
            assert!(load(&base).is_empty());
        }
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &path).unwrap();
        assert!(load(&base).is_empty(), "a link is not followed");
    }
}
