//! `cargo lockwatch kill PID`: terminate a stuck blocker (or the culprit keeping it stuck)
//! safely — through the daemon when it runs, by a fresh scan otherwise. Refuses waiters (naming
//! the blocker to stop instead), non-holders, other users and reused pids.

use std::io::IsTerminal;
use std::time::Duration;

use super::Context;
use crate::core::model::{HolderReport, LockReport, ProcState, ProcessFacts, Report, Role};
use crate::daemon::{
    self,
    client::Client,
    protocol::{Request, Response},
};
use crate::exit;
use crate::kill::{self, Act, KillReport, KillRequest, Refusal};

/// Arguments of `kill`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The blocker's pid (see `cargo lockwatch status`).
    #[arg(value_parser = super::pid_arg)]
    pub pid: u32,
    /// Send SIGKILL instead of SIGTERM.
    #[arg(long)]
    pub force: bool,
    /// Stop a blocker that does not look stuck (busy, or nobody waits for it), or one that
    /// `status` says another process keeps stuck, without asking (at a terminal you are
    /// asked; otherwise such a kill is refused without it).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How long to wait for the lock to be released (at most 60s).
    #[arg(long, default_value = "5s", value_parser = grace_arg, allow_hyphen_values = true)]
    pub grace: Duration,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
    /// Act on a direct scan even if the daemon is running (a daemon that seems wedged).
    #[arg(long)]
    pub no_daemon: bool,
    /// Where else to recognise the lock the pid holds.
    #[command(flatten)]
    pub roots: super::ActRootArgs,
}

/// A `--grace` of at most what the daemon grants ([`MAX_GRACE_MS`]): the same bound with or
/// without a daemon, said at once rather than cut silently.
///
/// [`MAX_GRACE_MS`]: crate::daemon::protocol::MAX_GRACE_MS
fn grace_arg(text: &str) -> Result<Duration, String> {
    let d = super::duration_arg(text)?;
    let max = Duration::from_millis(crate::daemon::protocol::MAX_GRACE_MS);
    if d > max {
        return Err(format!(
            "at most {} (then `--force` sends SIGKILL)",
            humantime::format_duration(max)
        ));
    }
    Ok(d)
}

/// The start token of `pid` as this command sees it now: the daemon acts on that very process
/// or refuses, so a pid reused between this check and the signal is never hit. A pid that
/// `status` showed as another process (within the last hour) is refused: the process the user
/// read about ended and a new one took its number.
pub(super) fn verified_token(ctx: &Context, pid: u32) -> Result<u64, Box<KillReport>> {
    verified(ctx, pid).map(|f| f.start_token)
}

/// The process `pid` as this command sees it now (see [`verified_token`]).
fn verified(ctx: &Context, pid: u32) -> Result<ProcessFacts, Box<KillReport>> {
    let target = running(pid).map_err(|mut refused| {
        if let KillReport::Refused {
            refusal: Refusal::Gone,
            message,
            ..
        } = refused.as_mut()
            && let Some(heirs) = dead_locker_heirs(ctx, pid)
        {
            *message = format!("there is no process {pid}: {heirs}");
        }
        refused
    })?;
    let at = crate::scan::now();
    let shown = crate::shown::load(&ctx.dirs.runtime);
    match crate::shown::reused(&shown, &target, at) {
        Some(was) => Err(Box::new(KillReport::Refused {
            pid,
            refusal: Refusal::PidReused,
            message: crate::shown::refusal_text(was, &target, at),
        })),
        None => Ok(target),
    }
}

/// For a `pid` that is gone but that the kernel's lock table still names as a lock's taker
/// (what `/proc/locks` and `lslocks` show when the locker exited and another process kept its
/// descriptor), who holds that lock now and the command that ends it (review AB, AB3).
fn dead_locker_heirs(ctx: &Context, pid: u32) -> Option<String> {
    let roots = super::status::roots_here(ctx);
    let pass = super::run_probe::with_probe(&ctx.dirs.runtime, |probe| {
        crate::scan::pass(probe, &roots, true)
    })
    .ok()?
    .ok()?;
    let lock = (pass.sightings.iter()).find(|s| s.dead_locker == Some(pid))?;
    let heirs: Vec<String> = (lock.holders.iter())
        .map(|h| match pass.facts.get(&h.pid) {
            Some(f) => format!("{} {}", crate::core::text::printable(f.name.raw()), h.pid),
            None => h.pid.to_string(),
        })
        .collect();
    let first = lock.holders.first()?.pid;
    Some(format!(
        "it took the {} ({}) and exited; {} inherited its descriptor and holds it: \
         `cargo lockwatch kill {first}`",
        lock.kind.cargo_words(),
        crate::core::text::printable(&crate::core::text::tilde(&lock.path)),
        heirs.join(" and ")
    ))
}

/// The process `pid` now, if there is one lockwatch may signal.
fn running(pid: u32) -> Result<ProcessFacts, Box<KillReport>> {
    let refused = |refusal: Refusal, message: String| {
        Box::new(KillReport::Refused {
            pid,
            refusal,
            message,
        })
    };
    if pid <= 1 {
        return Err(refused(
            Refusal::Protected,
            Refusal::Protected.explain(pid, Act::Kill),
        ));
    }
    let mut probe =
        crate::probe::platform().map_err(|e| refused(Refusal::NotAHolder, e.to_string()))?;
    probe
        .process(pid)
        .map_err(|_| refused(Refusal::Gone, Refusal::Gone.explain(pid, Act::Kill)))
}

/// Sends `request` to the daemon; `None` when no daemon answers it.
pub(super) fn via_daemon(ctx: &Context, request: &Request, wait: Duration) -> Option<KillReport> {
    if ctx.no_daemon {
        return None;
    }
    let socket = daemon::socket_path(&ctx.dirs);
    let mut c = match Client::connect(&socket, Duration::from_secs(2)) {
        Ok(c) => c,
        Err(
            e @ (crate::daemon::client::ClientError::Untrusted(_)
            | crate::daemon::client::ClientError::Busy(_)),
        ) => {
            crate::say!("cargo-lockwatch: warning: {e}; acting on a direct scan instead");
            return None;
        }
        Err(_) => return None,
    };
    c.set_timeout(Some(wait + Duration::from_secs(10)));
    match c.request(request) {
        Ok(Response::Kill(r)) => Some(r),
        Ok(_) => {
            crate::say!(
                "cargo-lockwatch: warning: the daemon answered oddly; acting on a direct scan"
            );
            None
        }
        Err(e) => {
            crate::say!(
                "cargo-lockwatch: warning: the daemon did not answer ({e}); acting on a direct scan"
            );
            None
        }
    }
}

fn attempt(ctx: &Context, req: KillRequest) -> KillReport {
    let request = Request::Kill {
        pid: req.pid,
        start_token: req.start_token,
        force: req.force,
        grace_ms: Some(u64::try_from(req.grace.as_millis()).unwrap_or(u64::MAX)),
    };
    if let Some(r) = via_daemon(ctx, &request, req.grace) {
        return r;
    }
    let roots = super::status::roots_here(ctx);
    let known = super::status::scan_knowledge(ctx);
    match super::run_probe::with_probe(&ctx.dirs.runtime, |p| kill::kill(p, &roots, req, &known)) {
        Ok(report) => report,
        Err(e) => KillReport::Refused {
            pid: req.pid,
            refusal: Refusal::NotAHolder,
            message: e.to_string(),
        },
    }
}

/// The locks `pid` holds when none of them has a waiter and it does not look stuck (not stale,
/// not stopped, not holding a dead locker's descriptor): stopping it then helps nobody (a
/// mistyped pid, or a build that is only slow). Empty otherwise, and for a waiter (which
/// `kill` refuses as such, naming its blocker).
fn held_unneeded(report: &Report, pid: u32) -> Vec<&str> {
    let held: Vec<&LockReport> = (report.locks.iter())
        .filter(|l| l.holders.iter().any(|h| h.pid == pid))
        .collect();
    let stuck = |h: &HolderReport| {
        h.pid == pid && (h.stale || h.inherited || h.process_state == ProcState::Stopped)
    };
    let waiter = (report.locks.iter()).any(|l| {
        l.waiters.iter().any(|w| w.pid == pid)
            || (l.holders.iter()).any(|h| h.pid == pid && h.role == Role::Blocked)
    });
    let needed = (held.iter()).any(|l| !l.waiters.is_empty() || l.holders.iter().any(stuck));
    if waiter || needed {
        return Vec::new();
    }
    held.iter().map(|l| l.description.as_str()).collect()
}

/// Whether a person is there to answer a question: stdin and stderr (where questions go, so
/// a redirected stdout never hides one) are a terminal.
fn can_ask() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks `question` on stderr and reads the answer; `true` for yes.
fn ask(question: &str) -> bool {
    crate::say_inline!("{} ", asked_at_width(question, super::stderr_width()));
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && answer.trim().eq_ignore_ascii_case("y")
}

/// The question with its `[y/N]`, wrapped at the terminal's `width` so no word is cut at its
/// edge (review Y, Y3); whole when the width is unknown.
fn asked_at_width(question: &str, width: Option<usize>) -> String {
    let text = format!("{question} [y/N]");
    match width.filter(|w| *w > 30) {
        Some(w) => crate::core::text::hanging(&text, w, "", ""),
        None => text,
    }
}

/// Why stopping `pid` deserves a second thought, from what `status` says of it: it holds locks
/// nobody waits for, others wait but it looks busy (waiting is usually right), or another
/// process keeps it stuck (stop that one instead). `None`: go on.
fn second_thought(report: &Report, pid: u32) -> Option<Refusal> {
    let own = (report.incidents.iter()).find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == pid));
    // Another process keeps it stuck, whether or not anyone waits: stopping that one lets it
    // finish, stopping it loses its build (review N, P4).
    if let Some(c) = own
        .and_then(|i| i.culprit.as_ref())
        .filter(|c| c.pid != pid)
    {
        return Some(Refusal::NotTheCulprit {
            culprit: c.pid,
            culprit_name: c.name.clone(),
        });
    }
    if let Some(i) = own.filter(|i| !i.blocked.is_empty()) {
        if let Some(b) = i.blocker.as_ref().filter(|_| i.ignored) {
            return Some(Refusal::Ignored {
                name: b.name.clone(),
            });
        }
        return i.looks_busy().then(|| Refusal::Busy {
            verdict: i.verdict.clone(),
        });
    }
    let locks = held_unneeded(report, pid);
    (!locks.is_empty()).then(|| Refusal::NotNeeded {
        locks: locks.iter().map(|l| l.to_string()).collect(),
    })
}

/// The question a person at a terminal is asked instead of the refusal.
fn question(refusal: &Refusal, pid: u32) -> String {
    match refusal {
        Refusal::Busy { verdict } => format!("{verdict} Terminate {pid} anyway?"),
        Refusal::Ignored { name } => format!(
            "Your config ignores {name} (`watch.ignore_process_names`). Terminate {pid} anyway?"
        ),
        Refusal::NotTheCulprit {
            culprit,
            culprit_name,
        } => format!(
            "{culprit_name} {culprit} keeps {pid} stuck: stopping it lets {pid} finish, stopping \
             {pid} loses its build. Terminate {pid} anyway?"
        ),
        Refusal::NotNeeded { locks } => format!(
            "{pid} holds the {}, nobody waits for it and it does not look stuck. Terminate it \
             anyway?",
            locks.join(" and the ")
        ),
        other => other.explain(pid, Act::Kill),
    }
}

/// Whether to go on with stopping `target`: yes unless [`second_thought`] finds a reason to
/// ask; then a person at a terminal is asked, and a script needs `--yes`. Another user's
/// process goes on to be refused as such.
fn confirmed(ctx: &Context, args: &Args, target: &ProcessFacts) -> Result<(), Box<KillReport>> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if args.yes || target.uid != unsafe { libc::geteuid() } {
        return Ok(());
    }
    let roots = super::status::roots_here(ctx);
    let Ok(report) = super::status::fetch(ctx, &roots, ctx.no_daemon) else {
        return Ok(());
    };
    let Some(refusal) = second_thought(&report, args.pid) else {
        return Ok(());
    };
    let asked = !args.json && can_ask();
    if asked && ask(&question(&refusal, args.pid)) {
        return Ok(());
    }
    // A person who said no is not told they were overruled.
    let message = match asked {
        true => format!("{} was not signalled.", args.pid),
        // A `--force` given, or needed, stays in the command it names (review X, X12).
        false if args.force || target.sigterm.futile() => {
            with_both_flags(&refusal.explain(args.pid, Act::Kill), args.pid)
        }
        false => refusal.explain(args.pid, Act::Kill),
    };
    Err(Box::new(KillReport::Refused {
        pid: args.pid,
        message,
        refusal,
    }))
}

/// Runs `kill`.
pub fn run(ctx: &Context, args: Args) -> i32 {
    let report = match verified(ctx, args.pid) {
        Err(r) => *r,
        Ok(target) if let Err(refused) = confirmed(ctx, &args, &target) => *refused,
        Ok(target) => {
            let mut req = KillRequest {
                pid: args.pid,
                start_token: Some(target.start_token),
                force: args.force,
                grace: args.grace,
            };
            let mut report = attempt(ctx, req);
            // `--yes` was needed to get this far: the `--force` hint says it too.
            if let KillReport::Refused {
                refusal: Refusal::IgnoresSigterm { .. },
                message,
                ..
            } = &mut report
                && args.yes
            {
                *message = with_both_flags(message, args.pid);
            }
            // SIGTERM was not enough, or would not be (the process ignores it): offer SIGKILL,
            // but only to a person at a terminal who says yes.
            let sigterm_failed = matches!(
                &report,
                KillReport::Signalled {
                    released: false,
                    ..
                } | KillReport::Refused {
                    refusal: Refusal::IgnoresSigterm { .. },
                    ..
                }
            );
            if sigterm_failed && !args.force && !args.json && can_ask() {
                crate::say!("{}", before_sigkill(&report, args.pid));
                if !ask(&format!("Send SIGKILL to {}?", args.pid)) {
                    // Said already: the answer is the outcome.
                    return exit_code(&report);
                }
                req.force = true;
                report = attempt(ctx, req);
            }
            report
        }
    };
    finish(&report, args.json)
}

/// `message` with every `kill` it names carrying both `--force` and `--yes`, for a target a
/// script can stop only so: one that ignores SIGTERM and needs a yes (review X, X12: the hints
/// went round, `--yes` → `--force` → `--yes`).
fn with_both_flags(message: &str, pid: u32) -> String {
    let both = format!("`cargo lockwatch kill --force {pid} --yes`");
    message
        .replace(&format!("`cargo lockwatch kill {pid} --yes`"), &both)
        .replace(&format!("`cargo lockwatch kill --force {pid}`"), &both)
}

/// What is said before SIGKILL is offered: what SIGTERM did, or why it is not sent.
fn before_sigkill(report: &KillReport, pid: u32) -> String {
    match report {
        KillReport::Refused {
            refusal: Refusal::IgnoresSigterm { .. },
            ..
        } => format!(
            "{pid} ignores SIGTERM (or blocks it), so only SIGKILL stops it; it gets no chance \
             to clean up, and Cargo's locks are freed by the kernel when it dies."
        ),
        _ => report.message().to_string(),
    }
}

/// Prints the outcome and maps it to the exit code.
pub(super) fn finish(report: &KillReport, json: bool) -> i32 {
    let text = if json {
        super::json_line(report, true)
    } else {
        format!("{}\n", report.message())
    };
    let _ = super::print(&text);
    exit_code(report)
}

/// The exit code of an outcome.
fn exit_code(report: &KillReport) -> i32 {
    match report {
        KillReport::Refused { .. } => exit::REFUSED,
        r if r.succeeded() => exit::OK,
        _ => exit::ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At a terminal the question wraps at its width, never cutting a word (review Y, Y3).
    #[test]
    fn the_question_wraps_at_the_terminal_s_width() {
        let q = "cargo 3780 is busy: running the build script of b; 1 process waits. Waiting is \
                 usually right. Terminate 3780 anyway?";
        let asked = asked_at_width(q, Some(80));
        assert!(asked.lines().all(|l| l.chars().count() <= 80), "{asked}");
        assert!(asked.contains("Waiting is\nusually right."), "{asked}");
        assert!(asked.ends_with("anyway? [y/N]"), "{asked}");
        assert_eq!(asked_at_width(q, None), format!("{q} [y/N]"));
    }
    use crate::core::model::ProcessReport;
    use crate::ui::demo::{self, Stage};

    fn report(stage: Stage) -> Report {
        demo::snapshot(stage, 1_000.0).report
    }

    #[test]
    fn a_busy_blocker_others_wait_for_deserves_a_second_thought() {
        let r = report(Stage::Contended);
        let Some(Refusal::Busy { verdict }) = second_thought(&r, 4242) else {
            panic!("{:?}", second_thought(&r, 4242));
        };
        assert_eq!(verdict, r.incidents[0].verdict);
        assert!(question(&Refusal::Busy { verdict }, 4242).ends_with("Terminate 4242 anyway?"));
    }

    #[test]
    fn a_stale_blocker_is_stopped_without_a_question() {
        assert_eq!(second_thought(&report(Stage::Stale), 4242), None);
    }

    #[test]
    fn a_blocker_the_config_ignores_is_never_stopped_without_a_yes() {
        let mut r = report(Stage::Stale);
        r.incidents[0].ignored = true;
        let refusal = second_thought(&r, 4242).expect("a second thought");
        let name = r.incidents[0].blocker.as_ref().unwrap().name.clone();
        assert_eq!(refusal, Refusal::Ignored { name });
        assert!(question(&refusal, 4242).contains("ignore_process_names"));
        let said = refusal.explain(4242, Act::Kill);
        assert!(said.contains("`cargo lockwatch kill 4242 --yes`"), "{said}");
    }

    #[test]
    fn a_holder_nobody_waits_for_is_not_needed() {
        let r = report(Stage::Held);
        assert!(
            matches!(second_thought(&r, 4242), Some(Refusal::NotNeeded { .. })),
            "{:?}",
            second_thought(&r, 4242)
        );
    }

    #[test]
    fn status_naming_a_culprit_makes_stopping_the_blocker_a_second_thought() {
        let mut r = report(Stage::Stale);
        let blocker = r.incidents[0].blocker.clone().unwrap();
        r.incidents[0].culprit = Some(ProcessReport {
            pid: 4300,
            name: "sleep".into(),
            ..blocker
        });
        let refusal = second_thought(&r, 4242).expect("a second thought");
        assert_eq!(
            refusal,
            Refusal::NotTheCulprit {
                culprit: 4300,
                culprit_name: "sleep".into()
            }
        );
        let said = refusal.explain(4242, Act::Kill);
        assert!(said.contains("`cargo lockwatch kill 4300`"), "{said}");
        assert!(said.contains("`cargo lockwatch kill 4242 --yes`"), "{said}");
        // Stopping the culprit itself: no question.
        assert_eq!(second_thought(&r, 4300), None);
        // Nobody waits: the culprit is still the one to stop (review N, P4).
        r.incidents[0].blocked.clear();
        assert!(matches!(
            second_thought(&r, 4242),
            Some(Refusal::NotTheCulprit { culprit: 4300, .. })
        ));
    }
}
