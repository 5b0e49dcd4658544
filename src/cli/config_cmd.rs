//! `cargo lockwatch config`: the effective configuration, where each value came from, and any
//! problem found in the file or environment.

use super::Context;
use crate::exit;

/// Arguments of `config`.
#[derive(Debug, clap::Args, Default)]
pub struct Args {
    /// Print the effective values as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print the default config file (a starting point for your own); with --json, the
    /// default values as JSON.
    #[arg(long)]
    pub default: bool,
    /// Which extra roots the shown configuration adds.
    #[command(flatten)]
    pub roots: super::ConfigRootArgs,
}

/// Runs `config`.
pub fn run(ctx: &Context, args: Args) -> i32 {
    if args.default {
        // As JSON when asked: piped into `jq`, TOML is a parse error (review Z, Z7).
        let text = match args.json {
            true => {
                let defaults = serde_json::to_value(crate::config::Config::defaults());
                super::json_line(&defaults.unwrap_or_default(), true)
            }
            false => crate::config::DEFAULT_TOML.to_string(),
        };
        return match super::print(&text) {
            Ok(()) => exit::OK,
            Err(_) => exit::ERROR,
        };
    }
    let l = &ctx.loaded;
    let daemon_note = running_daemon_note(ctx);
    let text = if args.json {
        config_json(ctx, daemon_note)
    } else {
        config_text(ctx, daemon_note)
    };
    match super::print(&text) {
        Ok(()) if has_problems(l) => exit::ERROR,
        Ok(()) => exit::OK,
        Err(_) => exit::ERROR,
    }
}

/// The configuration as one JSON document: paths, values with where each came from, warnings.
fn config_json(ctx: &Context, daemon_note: Option<String>) -> String {
    let l = &ctx.loaded;
    let doc = serde_json::json!({
        "file": l.file.to_string_lossy(),
        "config_dir": ctx.dirs.config.to_string_lossy(),
        "data_dir": ctx.dirs.data.to_string_lossy(),
        "runtime_dir": ctx.dirs.runtime.to_string_lossy(),
        "socket": crate::daemon::socket_path(&ctx.dirs).to_string_lossy(),
        "watched_cargo_homes": l.roots().cargo_homes.iter().map(|h| h.to_string_lossy()).collect::<Vec<_>>(),
        "values": json_values(l),
        "warnings": l.warnings,
        "daemon_note": daemon_note,
    });
    super::json_line(&doc, true)
}

/// Values as JSON values (durations as their text, "10s"), keyed `section.key`, each with the
/// place it came from.
fn json_values(l: &crate::config::Loaded) -> serde_json::Map<String, serde_json::Value> {
    let sections = serde_json::to_value(&l.config).unwrap_or_default();
    let mut values = serde_json::Map::new();
    for (section, keys) in sections.as_object().into_iter().flatten() {
        for (key, value) in keys.as_object().into_iter().flatten() {
            let dotted = format!("{section}.{key}");
            let from = l
                .provenance
                .get(&dotted)
                .map(|p| p.to_string())
                .unwrap_or_else(|| "default".into());
            values.insert(dotted, serde_json::json!({ "value": value, "from": from }));
        }
    }
    values
}

/// The configuration as text: the paths, then `key = value # from` lines, warnings and a note.
fn config_text(ctx: &Context, daemon_note: Option<String>) -> String {
    let l = &ctx.loaded;
    let mut out = paths_text(ctx);
    let flat = l.config.flatten();
    let width = flat.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in flat {
        let from = match (l.rejected.get(&k), l.provenance.get(&k)) {
            (Some(bad), _) => format!("default: the value from {bad} is out of range"),
            (None, Some(p)) => p.to_string(),
            (None, None) => "default".into(),
        };
        out.push_str(&format!("{k:<width$} = {v:<24} # {from}\n"));
    }
    for w in &l.warnings {
        out.push_str(&format!("\nwarning: {w}\n"));
    }
    if let Some(note) = &daemon_note {
        out.push_str(&format!("\nnote: {note}\n"));
    }
    out
}

/// The text's head: the config file (and whether it is used), the directories, the socket and
/// the watched Cargo homes, then a blank line.
fn paths_text(ctx: &Context) -> String {
    let l = &ctx.loaded;
    let mut out = String::new();
    let exists = if l.file_unusable.is_some() {
        " (not used: see the warning below)"
    } else if l.file.exists() {
        ""
    } else {
        " (not present: defaults apply)"
    };
    out.push_str(&format!("config file   {}{exists}\n", l.file.display()));
    out.push_str(&format!("data dir      {}\n", ctx.dirs.data.display()));
    out.push_str(&format!("runtime dir   {}\n", ctx.dirs.runtime.display()));
    let socket = crate::daemon::socket_path(&ctx.dirs);
    out.push_str(&format!("socket        {}\n", socket.display()));
    let homes: Vec<String> = l
        .roots()
        .cargo_homes
        .iter()
        .map(|h| h.display().to_string())
        .collect();
    out.push_str(&format!("cargo homes   {}\n\n", homes.join(", ")));
    out
}

/// When a daemon runs with settings other than those shown: read from another file, or from
/// this one before it changed (review T, T2). Nothing when none runs or it does not say.
pub(super) fn running_daemon_note(ctx: &Context) -> Option<String> {
    use crate::daemon::protocol::{Request, Response};
    let socket = crate::daemon::socket_path(&ctx.dirs);
    let mut c =
        crate::daemon::client::Client::connect(&socket, std::time::Duration::from_secs(1)).ok()?;
    let Ok(Response::Snapshot(snap)) = c.request(&Request::Status) else {
        return None;
    };
    let now = crate::config::ConfigFile::of(&ctx.loaded.file);
    snap.config_file?.differs_from(&now, c.daemon_pid)
}

/// Whether the file or the environment holds a mistake (`config && …` in a script then stops):
/// a directory to watch that is not there yet is worth a warning, not a broken configuration.
fn has_problems(l: &crate::config::Loaded) -> bool {
    l.file_unusable.is_some() || l.warnings.iter().any(|w| !l.missing_dirs.contains(w))
}
