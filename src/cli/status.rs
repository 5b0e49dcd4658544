//! `cargo lockwatch status`: every held Cargo lock, its holder and waiters, and a verdict — from
//! the daemon when it runs (real hold times), otherwise from a one-off scan.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Context, render};
use crate::core::catalog::LockKind;
use crate::core::model::{DaemonAnswer, Report, Source};
use crate::core::report::{self as core_report, Knowledge};
use crate::daemon::client::{Client, ClientError};
use crate::daemon::protocol::{Request, Response};
use crate::exit;
use crate::scan::{self, WatchRoots};

/// Arguments of `status`.
#[derive(Debug, clap::Args, Default)]
pub struct Args {
    /// Print JSON (one document; with --watch, one line per refresh).
    #[arg(long)]
    pub json: bool,
    /// Refresh in place until interrupted (into a pipe or file: one view after another, each
    /// after a `--- HH:MM:SS ---` line).
    #[arg(long)]
    pub watch: bool,
    /// Refresh interval for --watch.
    #[arg(long, default_value = "1s", value_parser = super::interval_arg, requires = "watch")]
    pub interval: Duration,
    /// List every lock file (free and shared ones too) and every waiter of an incident.
    #[arg(long)]
    pub all: bool,
    /// Scan directly even if the daemon is running.
    #[arg(long)]
    pub no_daemon: bool,
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t)]
    pub color: super::ColorWhen,
    /// Where to look beyond the defaults.
    #[command(flatten)]
    pub roots: super::RootArgs,
}

/// The roots for a command run from a terminal: configured ones plus the target and build
/// directories a cargo run here would use, so their free build locks show too.
pub fn roots_here(ctx: &Context) -> WatchRoots {
    let mut roots = ctx.loaded.roots();
    if let Some(dirs) = dirs_here(None) {
        for p in [dirs.target_dir, dirs.build_dir] {
            if !roots.projects.contains(&p) {
                roots.projects.push(p);
            }
        }
    }
    roots
}

/// Where a cargo started in the current directory would put its build locks (see
/// [`crate::cargo_dirs`]); `None` outside a Cargo project.
pub fn dirs_here(
    target_dir_flag: Option<&std::path::Path>,
) -> Option<crate::cargo_dirs::BuildDirs> {
    dirs_in(&std::env::current_dir().ok()?, target_dir_flag)
}

/// The build dirs a cargo run in `dir` would use (`None` outside a Cargo project).
pub fn dirs_in(
    dir: &std::path::Path,
    target_dir_flag: Option<&std::path::Path>,
) -> Option<crate::cargo_dirs::BuildDirs> {
    let cwd = std::path::absolute(dir).ok()?;
    let home = crate::config::default_cargo_home()?;
    // A relative directory typed on this command line, or set in this shell's environment, is
    // relative to where it was typed, as for the cargo run next to it (`wait --target-dir
    // shared p/c && cargo build --manifest-path p/c/Cargo.toml --target-dir shared`), not to
    // the project named (review P, R5).
    let typed = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let env = |k: &str| {
        let v = std::env::var_os(k)?;
        Some(match k {
            "CARGO_TARGET_DIR" | "CARGO_BUILD_TARGET_DIR" if !v.is_empty() => {
                typed(std::path::Path::new(&v)).into_os_string()
            }
            _ => v,
        })
    };
    let flag = target_dir_flag.map(typed);
    crate::cargo_dirs::resolve(&cwd, &home, flag.as_deref(), &env)
}

/// Whether this run already said why the daemon was not asked.
static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// One report: from the daemon if reachable (unless `no_daemon`), else a direct scan.
///
/// The daemon knows when each hold began; a scan cannot. The daemon's view is merged with the
/// project the user is in, whose free build locks a scan lists too.
pub fn fetch(ctx: &Context, roots: &WatchRoots, no_daemon: bool) -> anyhow::Result<Report> {
    fetch_with_problems(ctx, roots, no_daemon).map(|(r, _)| r)
}

/// The lock files in `known` that `report` does not list, compared as files: the daemon may
/// name one by its real path (a symlinked target dir), and sends bytes that are not UTF-8 as
/// `\xff` text. By name first (as text, as the daemon sends it), then the rest by file
/// (thousands of watched projects are thousands of entries on both sides).
fn not_listed(report: &Report, known: Vec<(PathBuf, LockKind)>) -> Vec<(PathBuf, LockKind)> {
    use crate::core::text::lossy_path::text;
    use std::os::unix::fs::MetadataExt;
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let names: HashSet<std::borrow::Cow<str>> =
        (report.locks.iter()).map(|l| text(&l.path)).collect();
    let unnamed: Vec<(PathBuf, LockKind)> = (known.into_iter())
        .filter(|(p, _)| !names.contains(&text(p)))
        .collect();
    if unnamed.is_empty() {
        return unnamed;
    }
    let files: HashSet<(u64, u64)> = report.locks.iter().filter_map(|l| id(&l.path)).collect();
    (unnamed.into_iter())
        .filter(|(p, _)| id(p).is_none_or(|f| !files.contains(&f)))
        .collect()
}

/// Whether `report` has a stale incident that counts toward the exit status: any but one only
/// about another Cargo home's package cache (a test suite's throwaway home, a colleague's),
/// which `status` shows but a script checking its own builds must not trip on.
fn stale_for(report: &Report, own: &[PathBuf]) -> bool {
    (report.incidents.iter()).any(|i| {
        i.state == crate::core::model::IncidentState::Stale
            && !crate::core::words::is_foreign(i, own)
    })
}

/// The footer's word on notifications snoozed from the menu, while they are: a stale blocker
/// then changes the icon but notifies nobody.
fn snoozed(until: Option<f64>, now: f64) -> Option<String> {
    let left = until? - now;
    (left > 0.0).then(|| {
        format!(
            "has notifications snoozed for {} more (menu → Notifications snoozed → Resume \
             notifications)",
            crate::core::text::duration(left)
        )
    })
}

/// [`fetch`], with what the daemon says it cannot do right now (for the footer). The report's
/// `daemon` says whether the daemon answered and, when not, why.
pub fn fetch_with_problems(
    ctx: &Context,
    roots: &WatchRoots,
    no_daemon: bool,
) -> anyhow::Result<(Report, Vec<String>)> {
    // Why a daemon that runs did not give this answer, for the footer.
    let mut why_not = Vec::new();
    let answer = if no_daemon {
        DaemonAnswer::NotAsked
    } else {
        match ask_daemon(ctx, roots, &mut why_not) {
            Asked::Report(report, problems) => return Ok((*report, problems)),
            Asked::Not(answer) => answer,
        }
    };
    let pass =
        super::run_probe::with_probe(&ctx.dirs.runtime, |probe| scan::pass(probe, roots, true))??;
    let mut report = scan::report(
        &pass,
        roots,
        Source::Scan,
        &scan_knowledge(ctx),
        scan::now(),
    );
    report.daemon = Some(answer);
    if !report.incidents.is_empty() {
        hold_times(ctx).annotate(&mut report);
    }
    Ok((report, why_not))
}

/// What asking the daemon gave: its report (with what it cannot do right now), or why it
/// gave none.
enum Asked {
    Report(Box<Report>, Vec<String>),
    Not(DaemonAnswer),
}

/// Whether this run says now why the daemon was not asked: once per run (`--watch` and
/// `wait` fetch again and again).
fn warn_once() -> bool {
    !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed)
}

/// The daemon's answer for `roots`, or why there is none (said once, and in `why_not` for
/// the footer when a daemon runs).
fn ask_daemon(ctx: &Context, roots: &WatchRoots, why_not: &mut Vec<String>) -> Asked {
    let socket = crate::daemon::socket_path(&ctx.dirs);
    let asked = Client::connect(&socket, Duration::from_secs(2))
        .and_then(|mut c| c.request(&Request::Status));
    match asked {
        // Paused, it answers with what it saw before: look now instead.
        Ok(Response::Snapshot(snap)) if snap.paused => {
            why_not.push("is paused (menu → untick Pause watching): this is a one-off scan".into());
            if warn_once() {
                crate::say!(
                    "cargo-lockwatch: note: the daemon's watching is paused (menu → \
                     untick Pause watching); scanning directly"
                );
            }
            Asked::Not(DaemonAnswer::Paused)
        }
        Ok(Response::Snapshot(snap)) => with_callers_roots(*snap, roots),
        Ok(_) => {
            crate::say!("cargo-lockwatch: warning: the daemon answered oddly; scanning directly");
            Asked::Not(DaemonAnswer::Unreachable)
        }
        Err(e) => Asked::Not(unanswered(ctx, e, why_not)),
    }
}

/// The daemon's report with this caller's roots it does not list added; none when one of
/// those is held, which only a direct look sees whole (review M, N5).
fn with_callers_roots(snap: crate::ui::UiSnapshot, roots: &WatchRoots) -> Asked {
    // The daemon lists its own roots: add this caller's others.
    let others = match &snap.watched_projects {
        Some(watched) => roots.without_projects(&watched.0),
        None => roots.clone(),
    };
    let known = not_listed(&snap.report, scan::known_locks(&others));
    // One of them held (by a build the daemon cannot see, in a project it never saw a lock
    // of) would be listed free: look directly.
    if taken(&known) {
        return Asked::Not(DaemonAnswer::Answered);
    }
    let mut report = snap.report;
    // A home the daemon watches under another path (a symlink) is listed once.
    let homes: Vec<PathBuf> = (roots.cargo_homes.iter())
        .filter(|h| !(report.cargo_homes.iter()).any(|c| crate::config::same_place(c, h)))
        .cloned()
        .collect();
    core_report::add_roots(&mut report, &known, &homes);
    report.daemon = Some(DaemonAnswer::Answered);
    let mut problems = snap.problems;
    problems.extend(snoozed(snap.snoozed_until, scan::now()));
    Asked::Report(Box::new(report), problems)
}

/// Why the daemon gave no answer, said once (with the fix when there is one) and, when it
/// runs, noted in `why_not` for the footer.
fn unanswered(ctx: &Context, e: ClientError, why_not: &mut Vec<String>) -> DaemonAnswer {
    match e {
        // Its directory opened to others under it, so its socket is not looked for there:
        // said once, with the fix (review P, R18).
        ClientError::NotRunning(_) => match crate::daemon::trust::left_out(&ctx.dirs.runtime) {
            Some(l) => {
                if warn_once() {
                    crate::say!("cargo-lockwatch: warning: {l}; scanning directly")
                }
                DaemonAnswer::Untrusted
            }
            None => DaemonAnswer::NotRunning,
        },
        // It runs, but has no slot free: say so once and scan (not "needs a restart").
        e @ ClientError::Busy(_) => {
            why_not.push("is busy (all its client slots are taken): this is a one-off scan".into());
            if warn_once() {
                crate::say!("cargo-lockwatch: note: {e}; scanning directly meanwhile")
            }
            e.answer()
        }
        // Stopped (SIGSTOP, Ctrl-Z): it will not answer until continued.
        ClientError::Silent(s) if s.stopped => {
            let cont = s
                .pid
                .map_or_else(String::new, |p| format!(": `kill -CONT {p}`"));
            why_not.push(format!(
                "is stopped (SIGSTOP or Ctrl-Z; continue it{cont}): this is a one-off scan"
            ));
            if warn_once() {
                crate::say!("cargo-lockwatch: warning: {s}; scanning directly")
            }
            DaemonAnswer::Stopped
        }
        e => {
            if warn_once() {
                crate::say!("cargo-lockwatch: warning: {e}; scanning directly")
            }
            e.answer()
        }
    }
}

/// Whether any of `known` (lock files the daemon does not watch) is held or waited for now,
/// as the kernel's lock table says (no process is read; where there is no such table the
/// daemon sees what a scan would).
fn taken(known: &[(PathBuf, LockKind)]) -> bool {
    let files: Vec<&Path> = known.iter().map(|(p, _)| p.as_path()).collect();
    !files.is_empty() && crate::probe::in_lock_table(&files).unwrap_or(false)
}

/// What the history says of typical hold times, read once per run (`wait` fetches repeatedly).
fn hold_times(ctx: &Context) -> &'static crate::core::eta::HoldTimes {
    static TIMES: std::sync::OnceLock<crate::core::eta::HoldTimes> = std::sync::OnceLock::new();
    TIMES.get_or_init(|| {
        let history = crate::daemon::history::History::for_config(&ctx.dirs.data, &ctx.loaded);
        let mut times = crate::core::eta::HoldTimes::default();
        history.scan(|e| times.add(&e));
        times
    })
}

/// The text's `tip` on an IDE check holding up a terminal build, as the incident's `advice`
/// (topic `yield-ide`) in the JSON, where it has none other (review J, K17).
fn ide_tips_as_advice(report: &mut Report, yield_after: Option<f64>) {
    use crate::core::insight::{Advice, Topic};
    let from_daemon = report.source == crate::core::model::Source::Daemon;
    for i in report.incidents.iter_mut().filter(|i| i.advice.is_none()) {
        if let Some(text) = crate::core::words::ide_tip(i, yield_after, from_daemon) {
            i.advice = Some(Advice {
                topic: Topic::YieldIde,
                text,
            });
        }
    }
}

/// What a one-off scan knows beyond its pass: the settings that judge a blocker at a glance.
pub fn scan_knowledge(ctx: &Context) -> Knowledge {
    let stale = &ctx.loaded.config.stale;
    Knowledge {
        ignore_names: ctx.loaded.config.watch.ignore_process_names.clone(),
        network_silence: Some(stale.stale_after.as_secs_f64()),
        stale_after: Some(stale.stale_after.as_secs_f64()),
        stopped_grace: stale.stopped_grace.as_secs_f64(),
        ..Knowledge::default()
    }
}

/// Every Cargo home of `roots` (`$CARGO_HOME`, `--cargo-home`, `[watch] cargo_homes`), as
/// given and as resolved: a stale blocker on any of them sets the exit status.
fn watched_homes(roots: &WatchRoots) -> Vec<PathBuf> {
    let resolved = (roots.cargo_homes.iter()).filter_map(|h| h.canonicalize().ok());
    let mut homes: Vec<PathBuf> = roots.cargo_homes.iter().cloned().chain(resolved).collect();
    homes.dedup();
    homes
}

/// The Cargo home a cargo run here would use: the first of `roots` (`$CARGO_HOME` or
/// `~/.cargo`; the others are watched, not used), as given and as resolved (the daemon names
/// locks by their real paths).
pub fn own_cargo_homes(roots: &WatchRoots) -> Vec<PathBuf> {
    let mut cargo_homes: Vec<PathBuf> = roots.cargo_homes.first().cloned().into_iter().collect();
    cargo_homes.extend(cargo_homes.first().and_then(|h| h.canonicalize().ok()));
    cargo_homes
}

/// The reader's own: their Cargo home (see [`own_cargo_homes`]) and the build dirs here.
pub fn mine(roots: &WatchRoots) -> render::Mine {
    let here = dirs_here(None);
    let project = here.as_ref().map(|d| d.workspace_root.clone());
    let build_dirs = here
        .map(|d| vec![d.target_dir, d.build_dir])
        .unwrap_or_default();
    render::Mine {
        cargo_homes: own_cargo_homes(roots),
        build_dirs,
        project,
    }
}

/// Runs `status`.
pub fn run(ctx: &Context, args: Args) -> i32 {
    let roots = roots_here(ctx);
    let style = style_for(ctx, &args, &roots);
    loop {
        let (mut report, problems) = match fetch_with_problems(ctx, &roots, args.no_daemon) {
            Ok(r) => r,
            Err(e) => {
                crate::say!("cargo-lockwatch: error: {e:#}");
                return exit::ERROR;
            }
        };
        // The reader's own first (their Cargo home, the project they are in), in JSON as in
        // the text: `incidents[0]` is what the person reads first.
        report.incidents.sort_by_key(|i| style.mine.closeness(i));
        if args.json {
            ide_tips_as_advice(&mut report, style.yield_after);
        }
        let Some(text) = report_text(&report, &style, &args) else {
            return exit::OK;
        };
        let text = with_problems(text, &problems, &report, args.json);
        crate::shown::remember(&ctx.dirs.runtime, &report);
        match super::print_to_reader(&text) {
            Ok(true) => {}
            Ok(false) => return exit::OK,
            Err(_) => return exit::ERROR,
        }
        if !args.watch {
            return if stale_for(&report, &watched_homes(&roots)) {
                exit::STALE
            } else {
                exit::OK
            };
        }
        if !sleep_unless_reader_leaves(args.interval) {
            return exit::OK;
        }
    }
}

/// How `status` draws for this reader: colour, free locks, their uid, width, IDE policy, and
/// what is theirs.
fn style_for(ctx: &Context, args: &Args, roots: &WatchRoots) -> render::Style {
    render::Style {
        color: ctx.color && !args.json,
        all: args.all,
        // SAFETY: geteuid cannot fail and has no preconditions.
        viewer_uid: Some(unsafe { libc::geteuid() }),
        width: super::terminal_width(),
        yield_after: (ctx.loaded.config.policy.yield_ide)
            .then_some(ctx.loaded.config.policy.yield_after.as_secs_f64()),
        mine: mine(roots),
    }
}

/// One view of `report` as `args` ask: JSON, a screen redrawn in place, a frame in a log, or
/// plain text; `None` when the terminal could not be cleared for a redraw.
fn report_text(report: &Report, style: &render::Style, args: &Args) -> Option<String> {
    let text = if args.json && args.watch {
        super::json_line(report, false)
    } else if args.json {
        super::json_line(report, true)
    } else if args.watch && std::io::stdout().is_terminal() {
        // Home + clear, then the view: refreshes in place without scrolling.
        super::clear_screen().ok()?;
        let view = render::report(report, style);
        let screen = super::terminal_rows().zip(super::terminal_width());
        fit_height(view, screen, &report.incidents)
    } else if args.watch {
        // Into a pipe or file: one view after another, no terminal escapes, each after a
        // line with its time, so a log tells the frames apart (review L, M13).
        let frame = render::report(report, style);
        format!("{}\n{frame}\n", frame_separator(report.observed_at))
    } else {
        render::report(report, style)
    };
    Some(text)
}

/// `text` with the footer: what the daemon cannot do (`json` keeps stdout to the schema: they
/// go to stderr then).
fn with_problems(text: String, problems: &[String], report: &Report, json: bool) -> String {
    if problems.is_empty() {
        text
    } else if json {
        // From a scan, they say why the daemon did not answer: stderr has said so already.
        if report.source == Source::Daemon {
            for p in problems {
                crate::say!("cargo-lockwatch: warning: the daemon {p}");
            }
        }
        text
    } else {
        let mut text = text;
        for p in problems {
            text.push_str(&format!("the daemon {p}\n"));
        }
        text
    }
}

/// `view` cut to a terminal `screen` (rows, columns) big: a view taller than the screen
/// scrolls its top (the reader's own incident, first) out of sight and leaves a copy in the
/// scrollback at every redraw (review N, P12). A line wider than the screen takes the rows it
/// wraps to (review P, R3). The last row names the `incidents` left out, or says how many
/// lines were (review O, Q5), cut to the width.
fn fit_height(
    view: String,
    screen: Option<(usize, usize)>,
    incidents: &[crate::core::model::IncidentReport],
) -> String {
    let Some((rows, cols)) = screen.filter(|(r, c)| *r >= 3 && *c >= 2) else {
        return view;
    };
    let lines: Vec<&str> = view.lines().collect();
    let rows_of = |line: &&str| strip_ansi(line).chars().count().div_ceil(cols).max(1);
    if lines.iter().map(rows_of).sum::<usize>() < rows {
        return view;
    }
    // One row for the note, one so the cursor after it does not scroll the screen.
    let budget = rows - 2;
    let keep = (lines.iter().scan(0, |used, l| {
        *used += rows_of(l);
        Some(*used)
    }))
    .take_while(|used| *used <= budget)
    .count();
    let shown = lines[..keep].iter().filter(|l| is_headline(l)).count();
    let left: Vec<String> = (incidents.iter().skip(shown))
        .map(|i| {
            let who = i.blocker.as_ref().map(|b| format!(" {} {}", b.name, b.pid));
            format!(
                "{}{}",
                crate::core::words::badge(i),
                who.unwrap_or_default()
            )
        })
        .collect();
    let note = match left.as_slice() {
        [] => format!(
            "… {} more lines (a taller window shows them)",
            lines.len() - keep
        ),
        [one] => format!("… and {one} (a taller window shows it)"),
        many => format!("… and {} more: {}", many.len(), many.join(", ")),
    };
    let note = match note.chars().count() < cols {
        true => note,
        false => note.chars().take(cols - 2).chain(['…']).collect(),
    };
    format!("{}\n{note}\n", lines[..keep].join("\n"))
}

/// Whether `line` of a rendered view heads an incident (`STALE    cargo build …`): not
/// indented, its first word a badge in capitals (colour codes aside).
fn is_headline(line: &str) -> bool {
    let plain: String = strip_ansi(line);
    let word = plain.split_whitespace().next().unwrap_or_default();
    !plain.starts_with(' ') && word.len() >= 4 && word.chars().all(|c| c.is_ascii_uppercase())
}

/// `text` without ANSI colour sequences (`ESC [ … m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            out.push(c);
        }
    }
    out
}

/// The line before each view of `--watch` into a pipe: `--- 01:20:18 ---`, the local time the
/// view was observed at (Unix time `observed_at`).
fn frame_separator(observed_at: f64) -> String {
    let tm = crate::local_time::broken_down(observed_at);
    format!(
        "--- {:02}:{:02}:{:02} ---",
        tm.tm_hour, tm.tm_min, tm.tm_sec
    )
}

/// Sleeps for `interval`, waking early when stdout's reader goes away (`--watch | head`):
/// false then. A pipe's writer end reports an error once its reader closed.
fn sleep_unless_reader_leaves(interval: Duration) -> bool {
    let mut out = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    };
    let ms = libc::c_int::try_from(interval.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `out` is one valid pollfd for the duration of the call.
    let ready = unsafe { libc::poll(&mut out, 1, ms) };
    if ready < 0 {
        // Interrupted or unsupported: sleep as before.
        std::thread::sleep(interval);
        return true;
    }
    out.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_taller_than_the_terminal_keeps_its_top_and_says_what_is_left_out() {
        let view: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let cut = fit_height(view.clone(), Some((20, 80)), &[]);
        let lines: Vec<&str> = cut.lines().collect();
        assert_eq!(lines.len(), 19, "{cut}");
        assert_eq!((lines[0], lines[17]), ("line 1", "line 18"));
        assert!(lines[18].starts_with("… 12 more lines"), "{cut}");
        assert_eq!(
            fit_height(view.clone(), Some((40, 80)), &[]),
            view,
            "it fits"
        );
        assert_eq!(fit_height(view.clone(), None, &[]), view, "not a terminal");
        // A line wider than the screen takes the rows it wraps to, and the note fits the width
        // (review P, R3).
        let wide = format!("{}\n{view}", "x".repeat(25));
        let cut = fit_height(wide, Some((20, 10)), &[]);
        let lines: Vec<&str> = cut.lines().collect();
        assert_eq!(lines.len(), 17, "3 rows for the wide line: {cut}");
        assert_eq!(lines[16], "… 15 mor…", "{cut}");
        // The incidents below the cut are named (review O, Q5).
        use crate::ui::demo::{self, Stage};
        let r = demo::snapshot(Stage::Stale, 1_000.0).report;
        let two = [r.incidents[0].clone(), r.incidents[0].clone()];
        let view = format!("\x1b[1;31mSTALE  \x1b[0m  x\n{}", "    detail\n".repeat(30));
        let cut = fit_height(view, Some((10, 80)), &two);
        assert!(
            cut.ends_with("… and STALE cargo 4242 (a taller window shows it)\n"),
            "{cut}"
        );
    }

    #[test]
    fn another_cargo_home_s_stale_package_cache_does_not_set_the_exit_status() {
        use crate::ui::demo::{self, Stage};
        let mut r = demo::snapshot(Stage::Stale, 1_000.0).report;
        let own = r.cargo_homes.clone();
        assert!(stale_for(&r, &own));
        let other = PathBuf::from("/tmp/other-home/.package-cache");
        r.incidents[0].locks[0].path = other;
        assert!(!stale_for(&r, &own), "another home's");
        assert!(
            stale_for(&r, &[]),
            "no home known: every stale incident counts"
        );
        // A home watched with --cargo-home or [watch] cargo_homes counts (review J, K14).
        let roots = WatchRoots {
            cargo_homes: vec![own[0].clone(), "/tmp/other-home".into()],
            projects: vec![],
        };
        assert!(stale_for(&r, &watched_homes(&roots)));
    }

    /// Only the first Cargo home is the one a cargo run here uses: the others are watched
    /// homes (`--cargo-home`, `[watch] cargo_homes`), not its own (review L, M1).
    #[test]
    fn the_own_cargo_home_is_the_first_of_the_roots_only() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().canonicalize().unwrap().join("home");
        std::fs::create_dir(&real).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let roots = WatchRoots {
            cargo_homes: vec![link.clone(), "/tmp/other-home".into()],
            projects: vec![],
        };
        assert_eq!(own_cargo_homes(&roots), [link, real]);
        assert!(own_cargo_homes(&WatchRoots::default()).is_empty());
    }

    #[test]
    fn an_ide_check_holding_up_a_terminal_build_has_the_tip_as_advice_in_json() {
        use crate::core::model::Origin;
        use crate::ui::demo::{self, Stage};
        let mut r = demo::snapshot(Stage::Contended, 1_000.0).report;
        ide_tips_as_advice(&mut r, None);
        assert!(
            r.incidents[0].advice.is_none(),
            "a terminal build blocks: no tip"
        );
        let i = &mut r.incidents[0];
        let b = i.blocker.as_mut().unwrap();
        b.origin = Origin::Ide;
        b.origin_via = Some("rust-analyzer".into());
        b.cmd = vec!["cargo".into(), "check".into()];
        i.blocked[0].process.origin = Origin::Terminal;
        ide_tips_as_advice(&mut r, None);
        let advice = serde_json::to_value(r.incidents[0].advice.as_ref().unwrap()).unwrap();
        assert_eq!(advice["topic"], "yield-ide");
        let text = advice["text"].as_str().unwrap();
        assert!(
            text.starts_with("rust-analyzer's check holds up your build"),
            "{text}"
        );
    }

    /// `--watch` into a pipe starts each view with its time (review L, M13).
    #[test]
    fn a_watch_frame_into_a_pipe_starts_with_its_time() {
        let line = frame_separator(1_700_000_000.0);
        let clock = line
            .strip_prefix("--- ")
            .and_then(|l| l.strip_suffix(" ---"))
            .unwrap_or_else(|| panic!("{line}"));
        let fields: Vec<&str> = clock.split(':').collect();
        assert_eq!(fields.len(), 3, "{line}");
        assert!(
            (fields.iter()).all(|f| f.len() == 2 && f.bytes().all(|b| b.is_ascii_digit())),
            "{line}"
        );
        // The same second reads the same; a second later another.
        assert_eq!(line, frame_separator(1_700_000_000.9));
        assert_ne!(line, frame_separator(1_700_000_001.0));
        assert!(frame_separator(f64::NAN).starts_with("--- "));
    }

    #[test]
    fn the_footer_says_notifications_are_snoozed_only_while_they_are() {
        let note = snoozed(Some(1_000.0 + 1_500.0), 1_000.0).unwrap();
        assert!(
            note.starts_with("has notifications snoozed for 25m"),
            "{note}"
        );
        assert!(note.contains("Resume notifications"), "{note}");
        assert_eq!(snoozed(Some(900.0), 1_000.0), None);
        assert_eq!(snoozed(None, 1_000.0), None);
    }
}
