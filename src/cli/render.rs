//! The human view of a [`Report`]: what a tired developer reads at a glance. One block per
//! incident — who waits, for whom, what the blocker is doing, the verdict and the one command to
//! run — then, with `--all`, every lock as the kernel shows it. Pure string building, so it is
//! snapshot-tested.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::core::catalog::{self, LockKind};
use crate::core::model::{
    Action, DaemonAnswer, IncidentReport, IncidentState, LockMode, LockReport, LockState, ProcName,
    ProcState, ProcessReport, Report, Role, Source, kill_command,
};
use crate::core::place::workplace;
use crate::core::text::KEEP;
use crate::core::{text, words};

/// What the reader calls theirs: their incidents come first, and another Cargo home's package
/// cache is named by its home.
#[derive(Debug, Clone, Default)]
pub struct Mine {
    /// `$CARGO_HOME` or `~/.cargo`, as given and as resolved; empty when unknown (no home is
    /// then named).
    pub cargo_homes: Vec<PathBuf>,
    /// The target and build directories of the project in the current directory.
    pub build_dirs: Vec<PathBuf>,
    /// That project's workspace root.
    pub project: Option<PathBuf>,
}

impl Mine {
    /// Whether the incident touches the reader's own Cargo home or the project they are in.
    pub fn touches(&self, i: &IncidentReport) -> bool {
        self.closeness(i) < Closeness::Elsewhere
    }

    /// How close the incident is to the reader: a process of it works in the project they are
    /// in, or waits for one of its build dirs (whatever target dir it was given: review Y,
    /// Y1); else one of its locks is in their Cargo home or project; else neither.
    pub fn closeness(&self, i: &IncidentReport) -> Closeness {
        let in_project = |cwd: &Option<PathBuf>| {
            (cwd.as_deref().zip(self.project.as_deref()))
                .is_some_and(|(c, p)| text::path_under(c, p))
        };
        let waited_here = (i.blocked.iter()).any(|b| {
            in_project(&b.process.cwd)
                || self.build_dirs.iter().any(|d| text::path_under(&b.lock, d))
        });
        if waited_here || i.blocker.as_ref().is_some_and(|b| in_project(&b.cwd)) {
            return Closeness::Project;
        }
        let mut locks = (i.locks.iter().map(|l| (l.path.as_path(), Some(l.kind))))
            .chain((i.blocked.iter()).map(|b| (b.lock.as_path(), catalog::classify(&b.lock))));
        if locks.any(|(p, kind)| self.touches_lock(p, kind)) {
            Closeness::Home
        } else {
            Closeness::Elsewhere
        }
    }

    /// Whether the lock at `p` is at the top of the reader's Cargo home or in their project.
    pub fn touches_lock(&self, p: &Path, kind: Option<LockKind>) -> bool {
        let home = kind.and_then(|k| catalog::cargo_home_of(p, k));
        home.is_some_and(|h| self.cargo_homes.iter().any(|o| text::same_path(o, &h)))
            || self.build_dirs.iter().any(|d| text::path_under(p, d))
    }
}

/// How close an incident is to the reader (see [`Mine::closeness`]), closest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Closeness {
    /// A process of it works in the reader's project, or waits for its build dirs.
    Project,
    /// One of its locks is in the reader's Cargo home (or project).
    Home,
    /// Neither.
    Elsewhere,
}

/// Presentation options.
#[derive(Debug, Clone, Default)]
pub struct Style {
    /// ANSI colours.
    pub color: bool,
    /// List background and free lock files one by one, and every waiter of an incident.
    pub all: bool,
    /// The user reading it: another user's process is marked with its owner.
    pub viewer_uid: Option<u32>,
    /// Terminal width to wrap at (with a hanging indent); `None` does not wrap (a pipe).
    pub width: Option<usize>,
    /// `policy.yield_after` in seconds when `policy.yield_ide` is on: the IDE tip says so.
    pub yield_after: Option<f64>,
    /// The reader's own Cargo home and project.
    pub mine: Mine,
}

/// The indent of a field's text (`    verdict  …`), and of its continuation lines.
const FIELD_INDENT: usize = 13;

/// Writes one field, `    label    text`, wrapped at the terminal's width with the text's
/// continuation lines under its first word; [`KEEP`] joins words that must not be split.
fn field(out: &mut String, style: &Style, label: &str, text: &str) {
    let first = format!("    {label:<8} ");
    let text = match style.width.filter(|w| *w > FIELD_INDENT + 20) {
        // Never at a hyphen: paths and crate names (`build-script-build`) stay whole.
        Some(width) => text::hanging(text, width, &first, &" ".repeat(FIELD_INDENT)),
        None => format!("{first}{text}").replace(KEEP, " "),
    };
    out.push_str(&text);
    out.push('\n');
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

pub use crate::core::text::{duration, tilde};

fn command_line(cmd: &[String], name: &ProcName) -> String {
    if cmd.is_empty() {
        return format!("[{name}]");
    }
    let mut parts: Vec<String> = cmd.to_vec();
    // A toolchain other than stable, as the user typed it: `cargo +nightly build` (review V,
    // V9).
    let toolchain = words::toolchain_of(&parts[0]);
    // Show `cargo build` rather than `/home/u/.rustup/toolchains/…/bin/cargo build`.
    if let Some(first) = parts.first_mut()
        && let Some(base) = Path::new(first.as_str())
            .file_name()
            .and_then(|b| b.to_str())
    {
        *first = base.to_string();
    }
    let mut subcommand =
        crate::core::catalog::cargo_subcommand_at(cmd).filter(|_| parts[0] == "cargo");
    if let Some(tc) = toolchain.filter(|_| parts[0] == "cargo") {
        parts.insert(1, format!("+{tc}"));
        subcommand = subcommand.map(|at| at + 1);
    }
    let line = joined(&parts);
    if line.chars().count() <= 100 {
        return line;
    }
    // The first word after the program and its toolchain.
    let first_flag = parts.len() - cmd.len() + 1;
    shortened(parts, first_flag, subcommand)
}

/// A command line quoted as a shell would need it, so it can be copied and run; control
/// characters escaped, so it stays one line and cannot drive the terminal.
fn joined(parts: &[String]) -> String {
    let quoted: Vec<String> = parts.iter().map(|a| shell_arg(a)).collect();
    crate::core::text::printable(&quoted.join(" "))
}

/// A command line too long to show whole, in 100 columns: long arguments are cut first, so
/// the subcommand after them (`cargo --config '…' generate-lockfile`) still shows (review V,
/// V5); if that is not enough, the global flags between `first_flag` and the `subcommand`
/// go, whole (review W, W6); then the end.
fn shortened(mut parts: Vec<String>, first_flag: usize, subcommand: Option<usize>) -> String {
    for a in parts.iter_mut().skip(1) {
        if a.chars().count() > 24 {
            *a = format!("{}…", a.chars().take(23).collect::<String>());
        }
    }
    let mut line = joined(&parts);
    if line.chars().count() > 100
        && let Some(at) = subcommand.filter(|at| *at > first_flag)
    {
        line = format!(
            "{} … {}",
            joined(&parts[..first_flag]),
            joined(&parts[at..])
        );
    }
    if line.chars().count() > 100 {
        format!("{}…", line.chars().take(99).collect::<String>())
    } else {
        line
    }
}

fn state_word(s: ProcState) -> &'static str {
    match s {
        ProcState::Running => "running",
        ProcState::Sleeping => "sleeping",
        ProcState::DiskSleep => "disk I/O",
        ProcState::Stopped => "STOPPED",
        ProcState::Zombie => "zombie",
        ProcState::Other => "?",
    }
}

fn mode_word(m: LockMode) -> &'static str {
    match m {
        LockMode::Exclusive => "exclusive",
        LockMode::Shared => "shared",
    }
}

/// The headline wrapped at the terminal's width, its continuation under its first word (after
/// the 9 columns of the state label).
fn headline_lines(text: &str, style: &Style) -> String {
    const LABEL: usize = 9;
    match style.width.filter(|w| *w > LABEL + 20) {
        Some(width) => {
            let opts = textwrap::Options::new(width - LABEL)
                .word_separator(textwrap::WordSeparator::AsciiSpace)
                .word_splitter(textwrap::WordSplitter::NoHyphenation)
                .break_words(false);
            textwrap::wrap(text, opts).join(&format!("\n{}", " ".repeat(LABEL)))
        }
        None => text.to_string(),
    }
}

/// One incident: its headline, who waits, the blocker, what it holds and does, the verdict and
/// what to run.
fn incident_block(out: &mut String, i: &IncidentReport, style: &Style, from_daemon: bool) {
    incident_headline(out, i, style);
    waiting_fields(out, i, style);
    match &i.blocker {
        Some(b) => blocker_fields(out, i, b, style),
        None => field(
            out,
            style,
            "blocker",
            "a process you cannot inspect (another user's?)",
        ),
    }
    held_locks_field(out, i, style);
    // What a process nobody here can inspect is doing is unknown: say nothing about it.
    if i.blocker.is_some() {
        field(out, style, "doing", &words::doing(i));
    }
    if let Some(t) = words::typical(i, 0.0) {
        field(out, style, "history", &t);
    }
    if let Some(tip) = words::ide_tip(i, style.yield_after, from_daemon) {
        field(out, style, "tip", &tip);
    }
    if let Some(c) = &i.culprit {
        culprit_fields(out, c, style);
    }
    field(out, style, "verdict", &i.verdict);
    if let Some(a) = &i.action {
        action_fields(out, i, a, style);
    }
    if let Some(a) = &i.advice {
        advice(out, style, &a.text);
    }
    out.push('\n');
}

/// The state badge and the headline, wrapped under its first word.
fn incident_headline(out: &mut String, i: &IncidentReport, style: &Style) {
    let label = words::badge(i);
    let code = match i.state {
        IncidentState::Stale => "1;31",
        IncidentState::Blocking => "1;33",
        IncidentState::Holding if label == "STOPPED" => "1;33",
        IncidentState::Holding => "1;32",
    };
    let headline = words::headline_for(i, Some(0.0), &style.mine.cargo_homes);
    let _ = writeln!(
        out,
        "{}  {}",
        style.paint(code, &format!("{label:<7}")),
        style.paint("1", &headline_lines(&headline, style))
    );
}

/// One "waiting" line per blocked process, and the chain when it is longer than one step.
fn waiting_fields(out: &mut String, i: &IncidentReport, style: &Style) {
    // Longest wait first, as the headline quotes it (review U, U7); unknown waits last.
    let mut blocked: Vec<_> = i.blocked.iter().collect();
    blocked.sort_by(|a, b| {
        let secs = |x: &crate::core::model::BlockedReport| x.waiting_for_secs.unwrap_or(-1.0);
        secs(b).total_cmp(&secs(a))
    });
    // Many waiters: the longest waits and any suspended one, then the rest counted, so the
    // blocker comes on the first screen (review W, W5). `--all` lists every one.
    let fold = blocked.len() > MAX_WAITERS_LISTED && !style.all;
    let (mut listed, mut rest): (Vec<_>, Vec<_>) =
        (blocked.into_iter().enumerate()).partition(|(n, b)| {
            !fold || *n < MAX_WAITERS_LISTED - 1 || b.process.process_state == ProcState::Stopped
        });
    // One left over is listed, not counted.
    if rest.len() == 1 {
        listed.append(&mut rest);
    }
    for (_, b) in listed {
        let line = words::blocked_in(i, b, 0.0, style.viewer_uid);
        field(out, style, "waiting", &line);
    }
    if !rest.is_empty() {
        let rest: Vec<_> = rest.into_iter().map(|(_, b)| b).collect();
        field(out, style, "waiting", &more_waiters(&rest));
    }
    if i.chain.len() > 2 {
        let chain: Vec<String> = i.chain.iter().map(u32::to_string).collect();
        let text = format!("{} (each waits for the next)", chain.join(" → "));
        field(out, style, "chain", &text);
    }
}

/// How many waiters an incident lists before it counts the rest.
const MAX_WAITERS_LISTED: usize = 5;

/// The waiters an incident does not list, counted: `… and 11 more, waiting 1s–3s (pids 16130
/// … 16189): --all lists them`.
fn more_waiters(rest: &[&crate::core::model::BlockedReport]) -> String {
    let secs: Vec<f64> = rest.iter().filter_map(|b| b.waiting_for_secs).collect();
    let waiting = match (
        secs.iter().copied().reduce(f64::min),
        secs.iter().copied().reduce(f64::max),
    ) {
        (Some(lo), Some(hi)) if duration(lo) == duration(hi) => {
            format!(", waiting {}", duration(hi))
        }
        (Some(lo), Some(hi)) => format!(", waiting {}–{}", duration(lo), duration(hi)),
        _ => String::new(),
    };
    let mut pids: Vec<u32> = rest.iter().map(|b| b.process.pid).collect();
    pids.sort_unstable();
    let pids = match pids.as_slice() {
        [one] => format!("pid {one}"),
        [a, b] => format!("pids {a}, {b}"),
        [first, .., last] => format!("pids {first} … {last}"),
        [] => String::new(),
    };
    format!(
        "… and {} more{waiting} ({pids}): --all lists them",
        rest.len()
    )
}

/// The blocker (or holder) with its facts, its command line and where it runs.
fn blocker_fields(out: &mut String, i: &IncidentReport, b: &ProcessReport, style: &Style) {
    let mut facts = vec![
        words::origin(b.origin, b.origin_via.as_deref()),
        state_word(b.process_state).to_string(),
    ];
    if style.viewer_uid.is_some_and(|me| me != b.uid) {
        facts.insert(0, words::owner(b));
    }
    // Said whether or not it looks stale: it decides how the blocker can be stopped.
    facts.extend((b.sigterm.words()).map(|w| w.trim_start_matches("it ").to_string()));
    facts.extend(words::held(i, 0.0));
    facts.push(format!("cpu {:.1}s", b.tree_cpu_secs));
    let who = words::who(b);
    let who = if i.state == IncidentState::Stale {
        style.paint("1;31", &who)
    } else {
        style.paint("1", &who)
    };
    let role = if i.blocked.is_empty() {
        "holder"
    } else {
        "blocker"
    };
    // Each fact stays whole when the line wraps ("cpu 0.4s", never "cpu" / "0.4s").
    let facts: Vec<String> = facts
        .iter()
        .map(|f| f.replace(' ', &KEEP.to_string()))
        .collect();
    field(out, style, role, &format!("{who} · {}", facts.join(" · ")));
    field(out, style, "", &command_line(&b.cmd, &b.name));
    if let Some(place) = workplace(&b.cmd, b.cwd.as_deref()) {
        field(out, style, "", &format!("in {}", tilde(&place)));
    }
}

/// The locks the blocker holds, each with its mode.
fn held_locks_field(out: &mut String, i: &IncidentReport, style: &Style) {
    let locks: Vec<String> = i
        .locks
        .iter()
        .map(|l| {
            let deleted = if l.deleted { " (deleted)" } else { "" };
            // A path with a space stays whole when the field wraps: copyable (review P, R15).
            let path = tilde(&l.path).replace(' ', &KEEP.to_string());
            format!("{} {path}{deleted}", mode_word(l.mode))
        })
        .collect();
    if !locks.is_empty() {
        field(out, style, "holds", &locks.join(", "));
    }
}

/// The leftover process that keeps the blocker waiting on its output pipe.
fn culprit_fields(out: &mut String, c: &ProcessReport, style: &Style) {
    let text = format!(
        "{} · holds its output pipe open · up {}",
        style.paint("1;31", &words::who(c)),
        duration(c.running_for_secs)
    );
    field(out, style, "culprit", &text);
    field(out, style, "", &command_line(&c.cmd, &c.name));
}

/// What to run, with what a user must know before running it.
fn action_fields(out: &mut String, i: &IncidentReport, a: &Action, style: &Style) {
    let target = (i.culprit.iter().chain(&i.blocker)).find(|p| p.pid == a.pid);
    field(out, style, "run", &style.paint("1", &a.command));
    if a.resume && !i.ignored {
        let also = format!("or stop it: {}", kill_command(a.pid, a.force));
        field(out, style, "", &also);
    }
    // Said up front: a plain `kill` would wait out its grace and then say this.
    if let Some(words) = target.and_then(|p| p.sigterm.words()).filter(|_| a.force) {
        let why = format!("({words}: only SIGKILL stops it, and it gets no chance to clean up)");
        field(out, style, "", &why);
    }
    if let Some(p) = target.filter(|p| style.viewer_uid.is_some_and(|me| me != p.uid)) {
        let whose = format!(
            "(it belongs to {}, not to you: run it as that user, or ask them)",
            words::owner(p)
        );
        field(out, style, "", &whose);
    }
    field(
        out,
        style,
        "",
        "(never delete the lock file: that breaks Cargo's locking and frees nothing)",
    );
}

/// Advice under its label: prose wrapped like any field, snippets (indented lines) kept whole so
/// they can be copied.
fn advice(out: &mut String, style: &Style, text: &str) {
    for (n, line) in text.lines().enumerate() {
        let label = if n == 0 { "advice" } else { "" };
        if line.starts_with(' ') {
            let _ = writeln!(out, "{}{line}", " ".repeat(FIELD_INDENT));
        } else {
            field(out, style, label, line);
        }
    }
}

fn lock_line(out: &mut String, l: &LockReport, style: &Style) {
    let (badge, code) = match l.state {
        LockState::Stale => ("stale", "1;31"),
        LockState::Contended => ("blocking", "1;33"),
        LockState::Held => ("held", "1;32"),
        LockState::Background => ("shared", "2"),
        LockState::Free => ("free", "2"),
    };
    let deleted = if l.deleted { " (deleted)" } else { "" };
    let description = match words::foreign_home(&l.path, l.kind, &style.mine.cargo_homes) {
        Some(h) => format!("{} of {}", l.description, tilde(&h)),
        None => l.description.clone(),
    };
    // Wrapped at the terminal's width as the incidents are (review Y, Y3); the badge is
    // painted once the line is laid out, so its colour codes take no columns.
    let badge_cell = format!("{badge:<8}  ");
    let head = wrapped(
        style,
        &badge_cell,
        10,
        &format!("{description}  {}{deleted}", tilde(&l.path)),
    );
    let painted = style.paint(code, &format!("{badge:<8}"));
    out.push_str(&head.replacen(&format!("{badge:<8}"), &painted, 1));
    for h in &l.holders {
        let role = match h.role {
            Role::Blocker => "",
            Role::Blocked => ", itself waiting",
            Role::Background => "",
        };
        let holder = format!(
            "{} {} {} ({}{role})",
            mode_word(h.mode),
            h.name,
            h.pid,
            words::origin(h.origin, h.origin_via.as_deref())
        );
        out.push_str(&wrapped(
            style,
            &" ".repeat(FIELD_INDENT),
            FIELD_INDENT,
            &holder,
        ));
    }
    for w in &l.waiters {
        let _ = writeln!(out, "             waiting: {} {}", w.name, w.pid);
    }
}

/// `text` after `first`, wrapped at the terminal's width with its continuation lines indented
/// by `indent`, ending with a newline; as it is when nothing is to be wrapped (a pipe).
fn wrapped(style: &Style, first: &str, indent: usize, text: &str) -> String {
    let mut lines = match style.width.filter(|w| *w > indent + 20) {
        Some(width) => text::hanging(text, width, first, &" ".repeat(indent)),
        None => format!("{first}{text}"),
    };
    lines.push('\n');
    lines
}

/// A waiter stopped (Ctrl-Z) in its request for a lock that is free now: it holds nobody up,
/// and resumed it takes the lock at once (review T, T1).
fn parked_block(out: &mut String, w: &crate::core::model::SuspendedWaiter, style: &Style) {
    let what = match words::foreign_home(&w.lock, w.kind, &style.mine.cargo_homes) {
        Some(h) => format!("{} of {}", w.lock_description, tilde(&h)),
        None => w.lock_description.clone(),
    };
    let head = format!(
        "{} {} is suspended while waiting for the {what}, which is free now",
        words::telling_command(&w.cmd, &w.name),
        w.pid
    );
    let _ = writeln!(out, "{} {head}", style.paint("1;33", "STOPPED "));
    field(out, style, "waiting", &command_line(&w.cmd, &w.name));
    if let Some(cwd) = &w.cwd {
        field(out, style, "", &format!("in {}", tilde(cwd)));
    }
    field(out, style, "lock", &tilde(&w.lock));
    let run = if w.in_terminal {
        format!(
            "{} (or `fg` in its terminal): it takes the lock then",
            w.action
        )
    } else {
        format!("{}: it takes the lock then", w.action)
    };
    field(out, style, "run", &run);
    out.push('\n');
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One argument as a shell needs it: as it is when every character is plain (`=` and `:`
/// included, so `--message-format=json` is not quoted), else quoted.
fn shell_arg(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_string()
    } else {
        shell_words::quote(arg).into_owned()
    }
}

/// Whether hidden holder `h` holds up one of `viewer`'s processes, or may (a waiter whose user
/// could not be read; or the viewer is not known).
fn holds_up(h: &crate::core::model::HiddenHolder, viewer: Option<u32>) -> bool {
    let unread = h.waiter_uids.len() < h.waiters;
    h.waiters > 0 && (unread || viewer.is_none_or(|me| h.waiter_uids.contains(&me)))
}

/// Other users' Cargo processes holding locks this user cannot name that one of this user's
/// processes waits for (or may): said first, a line each, never passed over.
fn waited_hidden_holders(out: &mut String, r: &Report, viewer: Option<u32>) {
    for h in r.hidden_holders.iter().filter(|h| holds_up(h, viewer)) {
        let n = h.waiters;
        let _ = writeln!(
            out,
            "{} holds a Cargo lock this user cannot name, and {n} process{} wait{} for it: its \
             descriptors are not readable from here; its owner (or root) sees it with `cargo \
             lockwatch status`.",
            hidden_name(h),
            if n == 1 { "" } else { "es" },
            if n == 1 { "s" } else { "" }
        );
    }
}

/// The others, which hold up none of this user's processes: one line after the reader's own
/// incidents, so another user's unrelated builds never push those down (review M, N4; review
/// N, P2).
fn idle_hidden_holders(out: &mut String, r: &Report, viewer: Option<u32>) {
    let idle: Vec<String> = (r.hidden_holders.iter())
        .filter(|h| !holds_up(h, viewer))
        .map(hidden_name)
        .collect();
    let line = match idle.as_slice() {
        [] => return,
        [one] => format!(
            "{one} holds a Cargo lock this user cannot name; none of this user's processes waits \
             for it. Its owner (or root) sees it with `cargo lockwatch status`."
        ),
        [first @ .., last] => format!(
            "{} and {last} hold Cargo locks this user cannot name; none of this user's processes \
             waits for them. Their owners (or root) see them with `cargo lockwatch status`.",
            first.join(", ")
        ),
    };
    let _ = writeln!(out, "{line}");
}

/// `cargo 4242 (root's)`.
fn hidden_name(h: &crate::core::model::HiddenHolder) -> String {
    let owner = match &h.user {
        Some(u) => format!("{u}'s"),
        None => format!("uid {}'s", h.uid),
    };
    format!("{} {} ({owner})", h.name, h.pid)
}

/// Renders the whole report.
pub fn report(r: &Report, style: &Style) -> String {
    let mut out = String::new();
    let count = |state: LockState| r.locks.iter().filter(|l| l.state == state).count();
    let (background, free) = (count(LockState::Background), count(LockState::Free));
    let waited_hidden = (r.hidden_holders.iter()).any(|h| holds_up(h, style.viewer_uid));
    if r.incidents.is_empty() && !waited_hidden {
        let quiet = background == 0 && r.hidden_holders.is_empty();
        let line = all_clear_line(quiet, r.suspended.len());
        let _ = writeln!(out, "{} {line}", style.paint("1;32", "✓"));
    }
    waited_hidden_holders(&mut out, r, style.viewer_uid);
    incident_blocks(&mut out, r, style);
    idle_hidden_holders(&mut out, r, style.viewer_uid);
    if style.all {
        every_lock(&mut out, r, style);
    } else {
        let mut hidden = Vec::new();
        if background > 0 {
            hidden.push(format!(
                "{background} lock{} shared by running builds",
                plural(background)
            ));
        }
        if free > 0 {
            hidden.push(format!("{free} lock file{} free", plural(free)));
        }
        if !hidden.is_empty() {
            let _ = writeln!(out, "{} (--all lists them).", hidden.join(", "));
        }
    }
    let _ = writeln!(out, "{}", style.paint("2", &footer(r, style.width)));
    out
}

/// The headline when nothing is blocked (`quiet`: nothing is held either), with the builds
/// suspended while they waited.
fn all_clear_line(quiet: bool, suspended: usize) -> String {
    match (quiet, suspended) {
        (true, 0) => "No Cargo lock is held.".to_string(),
        (false, 0) => "Nothing is blocked.".to_string(),
        // Not the whole story: a build sits suspended in its terminal (review V, V6).
        (_, 1) => "Nothing is blocked, but a build is suspended while waiting:".to_string(),
        (_, n) => format!("Nothing is blocked, but {n} builds are suspended while waiting:"),
    }
}

/// The incidents and the suspended waiters, the reader's own first; otherwise as the report
/// ranks them (worst first). A waiter suspended on a free lock comes after the incidents of
/// its side that need something, before those that need nothing (review U, U3; review V, V5).
fn incident_blocks(out: &mut String, r: &Report, style: &Style) {
    let from_daemon = r.source == Source::Daemon;
    let (my_parked, other_parked): (Vec<_>, Vec<_>) =
        (r.suspended.iter()).partition(|w| style.mine.touches_lock(&w.lock, Some(w.kind)));
    let (mut mine, others): (Vec<&IncidentReport>, Vec<&IncidentReport>) =
        (r.incidents.iter()).partition(|i| style.mine.touches(i));
    mine.sort_by_key(|i| style.mine.closeness(i));
    for (incidents, parked) in [(mine, my_parked), (others, other_parked)] {
        let (urgent, calm): (Vec<_>, Vec<_>) =
            (incidents.into_iter()).partition(|i| i.state != IncidentState::Holding);
        for i in urgent {
            incident_block(out, i, style, from_daemon);
        }
        for w in parked {
            parked_block(out, w, style);
        }
        for i in calm {
            incident_block(out, i, style, from_daemon);
        }
    }
}

/// `--all`: every lock, free ones last.
fn every_lock(out: &mut String, r: &Report, style: &Style) {
    let mut locks: Vec<&LockReport> = r.locks.iter().collect();
    locks.sort_by_key(|l| l.state == LockState::Free);
    if !locks.is_empty() {
        let _ = writeln!(out, "{}", style.paint("1", "Every lock:"));
    }
    for l in locks {
        lock_line(out, l, style);
    }
}

/// The last line: the Cargo homes and where the answer came from, wrapped at `width`.
fn footer(r: &Report, width: Option<usize>) -> String {
    let homes: Vec<String> = r.cargo_homes.iter().map(|h| tilde(h)).collect();
    let source = match r.source {
        Source::Daemon => "the lockwatch daemon".to_string(),
        // A daemon that runs but did not answer is said below the footer, with its fix.
        Source::Scan if r.daemon.is_some_and(DaemonAnswer::runs) => "a one-off scan".to_string(),
        // Bypassed on purpose: whether one runs is unknown, and starting one is not the point.
        Source::Scan if r.daemon == Some(DaemonAnswer::NotAsked) => {
            "a one-off scan (--no-daemon)".to_string()
        }
        Source::Scan => {
            "a one-off scan; hold times need the daemon: cargo lockwatch daemon".to_string()
        }
    };
    let footer = format!(
        "every Cargo lock here · Cargo home {} · from {source}",
        homes.join(", ")
    );
    match width {
        Some(w) => textwrap::fill(
            &footer,
            textwrap::Options::new(w).word_separator(textwrap::WordSeparator::AsciiSpace),
        ),
        None => footer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_arguments_a_shell_would_misread_are_quoted() {
        assert_eq!(shell_arg("--message-format=json"), "--message-format=json");
        assert_eq!(shell_arg("/src/app:x,y+z@1"), "/src/app:x,y+z@1");
        assert_eq!(shell_arg("two words"), "'two words'");
        assert_eq!(shell_arg("$HOME"), "'$HOME'");
        assert_eq!(shell_arg(""), "''");
    }

    /// Waiters come longest wait first, as the headline quotes the longest (review U, U7).
    #[test]
    fn waiters_are_listed_longest_wait_first() {
        use crate::ui::demo::{self, Stage};
        let mut r = demo::snapshot(Stage::Contended, 1_000.0).report;
        let i = &mut r.incidents[0];
        let mut second = i.blocked[0].clone();
        second.process.pid = 4251;
        second.waiting_for_secs = Some(300.0);
        i.blocked[0].waiting_for_secs = Some(5.0);
        i.blocked.push(second);
        let text = report(&r, &Style::default());
        let at = |pid: &str| text.find(&format!("pid {pid})")).unwrap_or(usize::MAX);
        assert!(
            at("4250") != usize::MAX && at("4251") < at("4250"),
            "{text}"
        );
    }

    /// Other users' locks this user cannot name: one someone waits for comes first (it may
    /// hold up a build of this user's), the idle ones after the reader's incidents in one line
    /// (review M, N4); with nothing of the user's, "Nothing is blocked", never "no lock".
    #[test]
    fn other_users_idle_locks_come_after_the_reader_s_incidents_in_one_line() {
        use crate::core::model::HiddenHolder;
        use crate::ui::demo::{self, Stage};
        let hidden = |pid: u32, waiters: usize| HiddenHolder {
            pid,
            name: "cargo".into(),
            uid: 0,
            user: Some("root".into()),
            waiters,
            waiter_uids: vec![1000; waiters],
        };
        let mut r = demo::snapshot(Stage::Contended, 1000.0).report;
        r.hidden_holders = vec![hidden(7001, 0), hidden(7002, 2), hidden(7003, 0)];
        let me = Style {
            viewer_uid: Some(1000),
            ..Style::default()
        };
        let text = report(&r, &me);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("cargo 7002 (root's) holds a Cargo lock this user cannot name, and 2 processes wait for it"),
            "{text}"
        );
        let incident = text.find("WAITING").expect(&text);
        let idle = text
            .find("cargo 7001 (root's) and cargo 7003 (root's) hold Cargo locks this user cannot name; none of this user's processes waits for them.")
            .expect(&text);
        assert!(incident < idle, "{text}");
        // Waited for by other users' processes only: not this user's business, in the footer
        // line too (review N, P2).
        let theirs = Style {
            viewer_uid: Some(1001),
            ..Style::default()
        };
        let text = report(&r, &theirs);
        assert!(
            text.contains("cargo 7001 (root's), cargo 7002 (root's) and cargo 7003 (root's) hold"),
            "{text}"
        );
        r.hidden_holders = vec![hidden(7001, 0)];
        r.incidents.clear();
        let text = report(&r, &me);
        assert!(text.starts_with("✓ Nothing is blocked."), "{text}");
        assert!(
            text.contains("cargo 7001 (root's) holds a Cargo lock this user cannot name; none of this user's processes waits for it."),
            "{text}"
        );
    }

    /// Fifteen builds waiting for one: the four longest waits, the rest counted, and the
    /// blocker on the first screen; `--all` lists them all; a suspended one is always listed
    /// (review W, W5).
    #[test]
    fn many_waiters_are_counted_after_the_longest_waits() {
        use crate::core::model::ProcState;
        use crate::ui::demo::{self, Stage};
        let mut r = demo::snapshot(Stage::Contended, 1000.0).report;
        let one = r.incidents[0].blocked[0].clone();
        r.incidents[0].blocked = (0..15)
            .map(|n| {
                let mut b = one.clone();
                b.process.pid = 16100 + n;
                b.waiting_for_secs = Some(f64::from(n));
                b
            })
            .collect();
        r.incidents[0].blocked[3].process.process_state = ProcState::Stopped;
        let text = report(&r, &Style::default());
        let waiting = text.lines().filter(|l| l.starts_with("    waiting  "));
        assert_eq!(waiting.count(), 6, "{text}");
        for pid in [16114, 16113, 16112, 16111, 16103] {
            assert!(text.contains(&format!("pid {pid})")), "{pid}: {text}");
        }
        assert!(
            text.contains("… and 10 more, waiting 0s–10s (pids 16100 … 16110): --all lists them"),
            "{text}"
        );
        let blocker = text.find("blocker ").expect(&text);
        assert!(text[..blocker].lines().count() < 12, "{text}");
        let all = Style {
            all: true,
            ..Style::default()
        };
        let text = report(&r, &all);
        let waiting = text.lines().filter(|l| l.starts_with("    waiting  "));
        assert_eq!(waiting.count(), 15, "{text}");
    }

    /// What a tired developer reads at 80 columns, for each stage of the demo (the wrapping,
    /// the hanging indent and the wording are all in the snapshot).
    #[test]
    fn a_long_headline_wraps_at_the_width_and_never_at_a_hyphen() {
        use crate::ui::demo::{self, Stage};
        let mut r = demo::snapshot(Stage::Contended, 1000.0).report;
        let deep = "/home/someone/src/a-rather-long-project-name/with-a-nested-crate-dir";
        for l in &mut r.incidents[0].locks {
            l.project_dir = Some(deep.into());
        }
        let style = Style {
            width: Some(80),
            ..Style::default()
        };
        let text = report(&r, &style);
        let head: Vec<&str> = text.lines().take(2).collect();
        assert!(
            !head[1].trim_start().starts_with("waiting"),
            "wrapped: {text}"
        );
        assert!(head.iter().all(|l| l.chars().count() <= 80), "{text}");
        assert!(head[1].starts_with("         ") && !head[1].starts_with("          "));
        assert!(
            text.contains("a-rather-long-project-name/with-a-nested-crate-dir"),
            "{text}"
        );
    }

    #[test]
    fn status_text_at_80_columns() {
        use crate::core::model::TypicalHold;
        use crate::ui::demo::{self, Stage};
        let style = Style {
            width: Some(80),
            ..Style::default()
        };
        for (name, stage) in [
            ("held", Stage::Held),
            ("contended", Stage::Contended),
            ("stale", Stage::Stale),
        ] {
            let mut r = demo::snapshot(stage, 1000.0).report;
            if stage == Stage::Contended {
                r.incidents[0].typical_hold = Some(TypicalHold {
                    median_secs: 190.0,
                    holds: 12,
                });
            }
            let text = report(&r, &style);
            for line in text.lines() {
                assert!(line.chars().count() <= 80, "{name}: {line:?}");
            }
            insta::assert_snapshot!(format!("status_80_{name}"), text);
        }
        // rust-analyzer's check holding up a terminal build gets the tip that ends it.
        let mut r = demo::snapshot(Stage::Contended, 1000.0).report;
        let i = &mut r.incidents[0];
        let b = i.blocker.as_mut().unwrap();
        b.origin = crate::core::model::Origin::Ide;
        b.origin_via = Some("rust-analyzer".into());
        b.cmd = vec!["cargo".into(), "check".into()];
        let w = &mut i.blocked[0].process;
        w.origin = crate::core::model::Origin::Terminal;
        w.origin_via = Some("zsh".into());
        w.cmd = vec!["cargo".into(), "build".into()];
        let text = report(&r, &style);
        assert!(
            text.contains("    tip      rust-analyzer's check holds up your build"),
            "{text}"
        );
        insta::assert_snapshot!("status_80_ide_blocks_terminal", text);
        // With yield_ide on, the tip says what the daemon will do, or that none runs.
        let on = Style {
            yield_after: Some(3.0),
            ..style
        };
        let from_report = |r: &Report, source| {
            let mut r = r.clone();
            r.source = source;
            let text = report(&r, &on);
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        let from = |source| from_report(&r, source);
        let daemon = from(crate::core::model::Source::Daemon);
        assert!(
            daemon.contains("the daemon stops it once your build has waited 3s"),
            "{daemon}"
        );
        assert!(!daemon.contains("`yield_ide = true`"), "{daemon}");
        let scan = from(crate::core::model::Source::Scan);
        assert!(
            scan.contains("start one with `cargo lockwatch daemon`"),
            "{scan}"
        );
        assert!(
            daemon.contains("(the IDE checks again on the next save)"),
            "{daemon}"
        );
        // A file watcher checks again when a file changes (review Q, S2).
        let mut r = r.clone();
        r.incidents[0].blocker.as_mut().unwrap().origin_via = Some("bacon".into());
        let watcher = from_report(&r, crate::core::model::Source::Daemon);
        assert!(
            watcher.contains("(bacon checks again on the next change)"),
            "{watcher}"
        );
        // An editor's `cargo metadata` is no check, and never stopped: no tip promises it
        // (review Q, S9).
        r.incidents[0].blocker.as_mut().unwrap().cmd = vec!["cargo".into(), "metadata".into()];
        let metadata = from_report(&r, crate::core::model::Source::Daemon);
        assert!(!metadata.contains("tip "), "{metadata}");
    }

    #[test]
    fn a_hung_registry_s_advice_is_in_status_with_its_snippet_whole() {
        use crate::core::insight::{Advice, Topic, network_advice};
        use crate::ui::demo::{self, Stage};
        let mut r = demo::snapshot(Stage::Stale, 1000.0).report;
        r.incidents[0].advice = Some(Advice {
            topic: Topic::Network,
            text: network_advice(
                &["/tmp/rva/home".into()],
                None,
                Some(&crate::core::netwait::NetSettings::default()),
            )
            .expect("advice for Cargo's defaults"),
        });
        let style = Style {
            width: Some(80),
            ..Style::default()
        };
        let text = report(&r, &style);
        assert!(
            text.contains("    advice   Make Cargo give up sooner"),
            "{text}"
        );
        assert!(text.contains(" /tmp/rva/home/config.toml:\n"), "{text}");
        assert!(
            text.contains("\n               [http]\n               timeout = 10\n"),
            "{text}"
        );
        assert!(
            text.contains("CARGO_HTTP_TIMEOUT=10 CARGO_NET_RETRY=1"),
            "{text}"
        );
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line:?}");
        }
    }

    #[test]
    fn command_lines_are_short() {
        let cmd = vec![
            "/home/u/.rustup/toolchains/stable/bin/cargo".to_string(),
            "build".to_string(),
        ];
        assert_eq!(command_line(&cmd, &"cargo".into()), "cargo build");
        assert_eq!(command_line(&[], &"kworker".into()), "[kworker]");
        let long = vec!["x".repeat(300)];
        assert_eq!(command_line(&long, &"x".into()).chars().count(), 100);
        // Three `--config` flags: they give way to the subcommand (review W, W6).
        let s = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let hang = "source.crates-io.replace-with=\"hang\"";
        let registry = "source.hang.registry=\"sparse+http://127.0.0.1:18999/\"";
        let h2 = "registries.h2.index=\"sparse+http://127.0.0.1:18999/\"";
        let cmd = s(&[
            "/r/toolchains/nightly-x86_64-unknown-linux-gnu/bin/cargo",
            "--config",
            hang,
            "--config",
            registry,
            "--config",
            h2,
            "publish",
            "--dry-run",
            "--registry",
            "h2",
        ]);
        assert_eq!(
            command_line(&cmd, &"cargo".into()),
            "cargo +nightly … publish --dry-run --registry h2"
        );
    }

    #[test]
    fn a_blocker_of_another_user_is_said_to_be_theirs_beside_the_command() {
        use crate::ui::demo::{self, Stage};
        let r = demo::snapshot(Stage::Stale, 1000.0).report;
        let b = r.incidents[0].blocker.as_ref().unwrap();
        let theirs = Style {
            viewer_uid: Some(b.uid + 1),
            ..Style::default()
        };
        let text = report(&r, &theirs);
        assert!(text.contains("run it as that user, or ask them"), "{text}");
        // The waiter (the demo's, same uid as its blocker) is another user's too: said so.
        let w = &r.incidents[0].blocked[0].process;
        let whose = match &w.user {
            Some(name) => format!("(user {name}, "),
            None => format!("(uid {}, ", w.uid),
        };
        assert!(text.contains(&whose), "{text}");
        let mine = Style {
            viewer_uid: Some(b.uid),
            ..Style::default()
        };
        assert!(!report(&r, &mine).contains("run it as that user"));
        assert!(!report(&r, &mine).contains("(user "));
    }

    #[test]
    fn a_stale_incident_names_the_waiter_first_then_the_blocker_and_the_command() {
        use crate::ui::demo::{self, Stage};
        let r = demo::snapshot(Stage::Stale, 1000.0).report;
        let text = report(&r, &Style::default());
        let home = tilde(&demo::project_dir());
        let cache = tilde(&demo::cargo_home().join(".package-cache"));
        let expected = format!(
            "STALE    cargo build 4242 (stopped) blocks cargo check 45s · package cache\n\
             \x20   waiting  cargo check in {home} (IDE: rust-analyzer, pid 4250) waits 45s for the package cache\n\
             \x20   blocker  cargo 4242 · terminal: zsh · STOPPED · held 12m30s · cpu 41.5s\n\
             \x20            cargo build --release\n\
             \x20            in {home}\n\
             \x20   holds    exclusive {cache}\n\
             \x20   doing    stopped (suspended with Ctrl-Z?)\n"
        );
        assert!(text.starts_with(&expected), "{text}");
        assert!(
            text.contains(
                "    run      cargo lockwatch resume 4242\n             or stop it: cargo lockwatch kill 4242\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("1 lock shared by running builds (--all lists them)."),
            "{text}"
        );
        let all = report(
            &r,
            &Style {
                all: true,
                ..Style::default()
            },
        );
        assert!(
            all.contains("shared cargo 4250 (IDE: rust-analyzer, itself waiting)"),
            "{all}"
        );
    }

    #[test]
    fn a_blocker_that_ignores_sigterm_is_offered_kill_force_up_front() {
        use crate::ui::demo::{self, Stage};
        let r = demo::stale_ignoring_sigterm(1000.0).report;
        let text = report(&r, &Style::default());
        assert!(
            text.contains(
                "    run      cargo lockwatch kill --force 4242\n             (it ignores \
                 SIGTERM: only SIGKILL stops it, and it gets no chance to clean up)\n"
            ),
            "{text}"
        );
        assert!(text.contains(" · ignores SIGTERM · "), "{text}");
        // Not yet stale (no advice to stop it), the blocker line still says it.
        let mut busy = r.clone();
        busy.incidents[0].action = None;
        assert!(
            report(&busy, &Style::default()).contains(" · ignores SIGTERM · "),
            "{text}"
        );
        // The JSON says it too: the command, the flag and the fact.
        let a = r.incidents[0].action.as_ref().unwrap();
        assert!(a.force && !a.resume, "{a:?}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["incidents"][0]["blocker"]["sigterm"], "ignored");
        assert_eq!(json["incidents"][0]["action"]["force"], true);
        let stale = (r.locks.iter())
            .find(|l| l.state == LockState::Stale)
            .unwrap();
        assert_eq!(
            stale.stop_command.as_deref(),
            Some("cargo lockwatch kill --force 4242")
        );
        // A stopped one offers its resume, and stopping it with --force when it ignores TERM.
        let mut r = demo::snapshot(Stage::Stale, 1000.0).report;
        let plain = report(&r, &Style::default());
        assert!(
            !plain.contains("--force") && !plain.contains("SIGTERM"),
            "{plain}"
        );
        let a = r.incidents[0].action.as_mut().unwrap();
        a.force = true;
        r.incidents[0].blocker.as_mut().unwrap().sigterm = crate::core::model::Sigterm::Blocked;
        let text = report(&r, &Style::default());
        assert!(
            text.contains(
                "    run      cargo lockwatch resume 4242\n             or stop it: cargo \
                 lockwatch kill --force 4242\n             (it blocks SIGTERM: only SIGKILL"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_name_with_control_characters_is_shown_escaped_and_kept_real_in_json() {
        use crate::ui::demo::{self, Stage};
        let odd = "lw\u{1b}[31m\nx";
        let all = Style {
            all: true,
            ..Style::default()
        };
        let plain = report(&demo::snapshot(Stage::Stale, 1000.0).report, &all);
        let r = demo::snapshot_named(Stage::Stale, 1000.0, odd).report;
        let text = report(&r, &all);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert_eq!(text.lines().count(), plain.lines().count(), "{text}");
        // The headline, the blocker line, the verdict, every lock's holder line.
        let shown = "lw\\x1b[31m\\nx 4242";
        assert!(
            text.starts_with(&format!("STALE    {shown} (stopped)")),
            "{text}"
        );
        assert!(text.contains(&format!("    blocker  {shown} · ")), "{text}");
        assert!(
            text.contains(&format!("    verdict  {shown} looks stale")),
            "{text}"
        );
        assert!(text.contains("exclusive lw\\x1b[31m\\nx 4242 ("), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["incidents"][0]["blocker"]["name"], odd);
        assert_eq!(json["incidents"][0]["action"]["name"], odd);
    }

    #[test]
    fn a_blocker_nobody_can_inspect_gets_no_doing_line() {
        use crate::ui::demo::{self, Stage};
        let mut r = demo::snapshot(Stage::Contended, 1000.0).report;
        let text = report(&r, &Style::default());
        assert!(text.contains("    doing    "), "{text}");
        r.incidents[0].blocker = None;
        let text = report(&r, &Style::default());
        assert!(text.contains("a process you cannot inspect"), "{text}");
        assert!(!text.contains("    doing    "), "{text}");
    }

    #[test]
    fn at_80_columns_fields_wrap_between_words_under_their_text() {
        use crate::ui::demo::{self, Stage};
        let r = demo::snapshot(Stage::Stale, 1000.0).report;
        let style = Style {
            width: Some(80),
            ..Style::default()
        };
        let text = report(&r, &style);
        for line in text.lines() {
            assert!(
                textwrap::core::display_width(line) <= 80,
                "longer than 80 columns: {line:?}"
            );
        }
        let verdict: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("    verdict  "))
            .take(3)
            .collect();
        assert!(verdict[1].starts_with("             ") && !verdict[1][13..].starts_with(' '));
        assert!(!text.contains("(suspended\n"), "no word cut: {text}");
        // A command with a space in an argument is quoted, ready to paste.
        let cmd = vec![
            "/usr/bin/cargo".to_string(),
            "build".into(),
            "my file".into(),
        ];
        assert_eq!(command_line(&cmd, &"cargo".into()), "cargo build 'my file'");
        // A lock path with a space stays whole on its line (review P, R15).
        let mut r = r;
        r.incidents[0].locks[0].path = "/tmp/rp/p/my proj/target/debug/.cargo-lock".into();
        let text = report(
            &r,
            &Style {
                width: Some(50),
                ..Style::default()
            },
        );
        assert!(
            text.contains("/tmp/rp/p/my proj/target/debug/.cargo-lock"),
            "{text}"
        );
    }

    /// The demo's incident moved to another Cargo home, as a second incident after the first.
    fn two_homes() -> Report {
        use crate::ui::demo::{self, Stage};
        let mut r = demo::snapshot(Stage::Stale, 1000.0).report;
        let mut other = r.incidents[0].clone();
        let theirs = PathBuf::from("/tmp/x/home/.package-cache");
        other.locks[0].path = theirs.clone();
        other.locks[0].cargo_home = Some("/tmp/x/home".into());
        for b in &mut other.blocked {
            b.lock = theirs.clone();
        }
        r.incidents.insert(0, other);
        let free = crate::core::free_locks::free_lock(&theirs, LockKind::PackageCache);
        r.locks.push(free);
        r
    }

    fn mine() -> Mine {
        Mine {
            cargo_homes: vec![crate::ui::demo::cargo_home()],
            build_dirs: vec![],
            project: None,
        }
    }

    #[test]
    fn the_readers_own_cargo_home_comes_first_and_another_is_named() {
        let r = two_homes();
        let style = Style {
            mine: mine(),
            ..Style::default()
        };
        let text = report(&r, &style);
        let heads: Vec<&str> = text.lines().filter(|l| l.starts_with("STALE")).collect();
        assert_eq!(heads.len(), 2, "{text}");
        assert!(heads[0].ends_with("· package cache"), "{text}");
        assert!(
            heads[1].ends_with("· package cache of /tmp/x/home"),
            "{text}"
        );
        // Nobody known as the reader: the report's order and short names, as before.
        let text = report(&r, &Style::default());
        let heads: Vec<&str> = text.lines().filter(|l| l.starts_with("STALE")).collect();
        assert!(
            heads.iter().all(|h| h.ends_with("· package cache")),
            "{text}"
        );
    }

    #[test]
    fn the_project_here_counts_as_the_readers_own() {
        let mut r = two_homes();
        let target = PathBuf::from("/w/app/target");
        r.incidents[1].locks[0].path = target.join("debug/.cargo-lock");
        r.incidents[1].locks[0].kind = LockKind::ProfileDirectory;
        let m = Mine {
            cargo_homes: vec!["/me/.cargo".into()],
            build_dirs: vec![target],
            project: None,
        };
        assert!(!m.touches(&r.incidents[0]));
        assert!(m.touches(&r.incidents[1]));
        // The waited-for lock alone is enough.
        r.incidents[0].blocked[0].lock = "/me/.cargo/.package-cache".into();
        assert!(m.touches(&r.incidents[0]));
    }

    /// `--all`'s lock rows wrap at the terminal's width as the incidents do (review Y, Y3).
    #[test]
    fn every_lock_row_wraps_at_the_width() {
        let mut r = two_homes();
        let long = "/tmp/ry/p/wsn/target/debug/build/na/75f87cd62ad74e1f/.lock";
        r.locks[0].path = long.into();
        r.locks[0].description = "a unit's build directory".into();
        let style = Style {
            all: true,
            width: Some(80),
            ..Style::default()
        };
        let text = report(&r, &style);
        let every = &text[text.find("Every lock:").expect("the lock list")..];
        assert!(every.lines().all(|l| l.chars().count() <= 80), "{every}");
        assert!(every.contains(&format!("\n          {long}")), "{every}");
    }

    /// A build here that waits in a target dir shared with others (`CARGO_TARGET_DIR`) is the
    /// reader's own before incidents that only touch their Cargo home (review Y, Y1).
    #[test]
    fn a_wait_of_a_build_here_comes_first_whatever_its_target_dir() {
        let mut r = two_homes();
        r.incidents[0].blocked[0].lock = "/me/.cargo/.package-cache".into();
        r.incidents[1].locks[0].path = "/shared/target/debug/.cargo-lock".into();
        r.incidents[1].locks[0].kind = LockKind::ProfileDirectory;
        r.incidents[1].blocked[0].lock = "/shared/target/debug/.cargo-lock".into();
        r.incidents[1].blocked[0].process.cwd = Some("/w/app/src".into());
        let m = Mine {
            cargo_homes: vec!["/me/.cargo".into()],
            build_dirs: vec!["/w/app/target".into()],
            project: Some("/w/app".into()),
        };
        assert_eq!(m.closeness(&r.incidents[0]), Closeness::Home);
        assert_eq!(m.closeness(&r.incidents[1]), Closeness::Project);
        let style = Style {
            mine: m,
            ..Style::default()
        };
        let text = report(&r, &style);
        let first = text
            .lines()
            .find(|l| !l.starts_with(' '))
            .unwrap_or_default();
        let pid = r.incidents[1].blocker.as_ref().unwrap().pid.to_string();
        assert!(first.contains(&pid), "{text}");
    }

    #[test]
    fn every_lock_names_another_homes_package_cache() {
        let r = two_homes();
        let style = Style {
            all: true,
            mine: mine(),
            ..Style::default()
        };
        let text = report(&r, &style);
        assert!(
            text.contains("package cache of /tmp/x/home  /tmp/x/home/.package-cache"),
            "{text}"
        );
    }

    #[test]
    fn a_scan_asked_for_does_not_tell_to_start_a_daemon() {
        use crate::ui::demo::{self, Stage};
        let mut r = demo::snapshot(Stage::Held, 1000.0).report;
        r.source = Source::Scan;
        let footer = |r: &Report| {
            report(r, &Style::default())
                .lines()
                .last()
                .unwrap()
                .to_string()
        };
        r.daemon = Some(DaemonAnswer::NotAsked);
        assert!(
            footer(&r).ends_with("from a one-off scan (--no-daemon)"),
            "{}",
            footer(&r)
        );
        r.daemon = Some(DaemonAnswer::NotRunning);
        assert!(
            footer(&r).ends_with("hold times need the daemon: cargo lockwatch daemon"),
            "{}",
            footer(&r)
        );
    }
}
