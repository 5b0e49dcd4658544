//! The human view of a [`Report`]: what a tired developer reads at a glance. Pure string
//! building, so it is snapshot-tested.

use std::fmt::Write as _;
use std::path::Path;

use crate::core::model::{
    HolderReport, LockMode, LockReport, LockState, Origin, ProcState, Report, Source, WaiterReport,
};

/// Presentation options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// ANSI colours.
    pub color: bool,
    /// List free lock files one by one.
    pub all: bool,
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

fn command_line(cmd: &[String], name: &str) -> String {
    if cmd.is_empty() {
        return format!("[{name}]");
    }
    let mut parts: Vec<String> = cmd.to_vec();
    // Show `cargo build` rather than `/home/u/.rustup/toolchains/…/bin/cargo build`.
    if let Some(first) = parts.first_mut()
        && let Some(base) = Path::new(first.as_str())
            .file_name()
            .and_then(|b| b.to_str())
    {
        *first = base.to_string();
    }
    let line = parts.join(" ");
    if line.chars().count() > 100 {
        format!("{}…", line.chars().take(99).collect::<String>())
    } else {
        line
    }
}

fn origin(origin: Origin, via: Option<&str>) -> String {
    match (origin, via) {
        (Origin::Ide, Some(v)) => format!("IDE: {v}"),
        (Origin::Terminal, Some(v)) => format!("terminal: {v}"),
        (Origin::Orphan, _) => "orphan".to_string(),
        (o, _) => format!("{o:?}").to_lowercase(),
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

fn holder_lines(out: &mut String, h: &HolderReport, style: &Style) {
    let held = match h.held_for_secs {
        Some(s) => format!("held {}", duration(s)),
        None => format!(
            "up {}",
            h.running_for_secs
                .map(duration)
                .unwrap_or_else(|| "?".into())
        ),
    };
    let mut facts = vec![
        mode_word(h.mode).to_string(),
        state_word(h.process_state).to_string(),
        held,
    ];
    facts.push(format!("cpu {:.1}s", h.tree_cpu_secs));
    if h.inherited {
        facts.push("inherited descriptor".into());
    }
    let who = format!("{} {}", h.name, h.pid);
    let who = if h.stale {
        style.paint("1;31", &who)
    } else {
        style.paint("1", &who)
    };
    let _ = writeln!(
        out,
        "    held by  {who} ({}) · {}",
        origin(h.origin, h.origin_via.as_deref()),
        facts.join(" · ")
    );
    let _ = writeln!(out, "             {}", command_line(&h.cmd, &h.name));
    if let Some(cwd) = &h.cwd {
        let _ = writeln!(out, "             in {}", tilde(cwd));
    }
}

fn waiter_line(out: &mut String, w: &WaiterReport) {
    let since = match w.waiting_for_secs {
        Some(s) => format!("waiting {}", duration(s)),
        None => "waiting".to_string(),
    };
    let place = w
        .cwd
        .as_deref()
        .map(|c| format!(" in {}", tilde(c)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "    waiting  {} {} ({}) · {} · {}{}",
        w.name,
        w.pid,
        origin(w.origin, None),
        mode_word(w.mode),
        since,
        place
    );
    let _ = writeln!(out, "             {}", command_line(&w.cmd, &w.name));
}

fn lock_block(out: &mut String, l: &LockReport, style: &Style) {
    let (badge, code) = match l.state {
        LockState::Stale => ("STALE", "1;31"),
        LockState::Contended => ("WAITING", "1;33"),
        LockState::Held => ("BUSY", "1;32"),
        LockState::Free => ("free", "2"),
    };
    let deleted = if l.deleted { " (deleted)" } else { "" };
    let _ = writeln!(
        out,
        "{}  {}  {}{deleted}",
        style.paint(code, &format!("{badge:<7}")),
        style.paint("1", &l.description),
        tilde(&l.path)
    );
    if let Some(p) = &l.project_dir {
        let _ = writeln!(out, "    project  {}", tilde(p));
    }
    for h in &l.holders {
        holder_lines(out, h, style);
    }
    for w in &l.waiters {
        waiter_line(out, w);
    }
    let _ = writeln!(out, "    verdict  {}", l.verdict);
    if let Some(cmd) = &l.stop_command {
        let _ = writeln!(out, "    stop it  {}", style.paint("1", cmd));
    }
    if l.holders.iter().any(|h| h.stale) {
        let _ = writeln!(
            out,
            "             (never delete the lock file: that breaks Cargo's locking and frees nothing)"
        );
    }
    out.push('\n');
}

/// Renders the whole report.
pub fn report(r: &Report, style: &Style) -> String {
    let mut out = String::new();
    let active: Vec<&LockReport> = r
        .locks
        .iter()
        .filter(|l| l.state != LockState::Free)
        .collect();
    let free: Vec<&LockReport> = r
        .locks
        .iter()
        .filter(|l| l.state == LockState::Free)
        .collect();
    if active.is_empty() {
        let _ = writeln!(out, "{} No Cargo lock is held.", style.paint("1;32", "✓"));
    }
    for l in &active {
        lock_block(&mut out, l, style);
    }
    if style.all {
        for l in &free {
            let _ = writeln!(
                out,
                "{}  {}  {}",
                style.paint("2", "free   "),
                l.description,
                tilde(&l.path)
            );
        }
    } else if !free.is_empty() {
        let _ = writeln!(
            out,
            "{} other lock file{} free (--all lists them).",
            free.len(),
            if free.len() == 1 { "" } else { "s" }
        );
    }
    let homes: Vec<String> = r.cargo_homes.iter().map(|h| tilde(h)).collect();
    let source = match r.source {
        Source::Daemon => "the lockwatch daemon".to_string(),
        Source::Scan => {
            "a one-off scan; hold times need the daemon: cargo lockwatch daemon".to_string()
        }
    };
    let _ = writeln!(
        out,
        "{}",
        style.paint(
            "2",
            &format!("watching {} · from {source}", homes.join(", "))
        )
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_short() {
        let cmd = vec![
            "/home/u/.rustup/toolchains/stable/bin/cargo".to_string(),
            "build".to_string(),
        ];
        assert_eq!(command_line(&cmd, "cargo"), "cargo build");
        assert_eq!(command_line(&[], "kworker"), "[kworker]");
        let long = vec!["x".repeat(300)];
        assert_eq!(command_line(&long, "x").chars().count(), 100);
    }
}
