//! Layered configuration: built-in defaults → config file → `LOCKWATCH_*` environment → flags,
//! remembering where every value came from so `cargo lockwatch config` can say so.
//!
//! A broken file never stops the daemon: it is reported with its line and the defaults are used.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::core::policy::StaleConfig;
use crate::scan::WatchRoots;

/// The default config file, also shipped as `assets/config.toml`.
pub const DEFAULT_TOML: &str = include_str!("../assets/config.toml");

/// The most clients `daemon.max_clients` may allow (each costs a descriptor).
pub const MAX_CLIENTS_LIMIT: usize = 512;
/// The smallest history or log size bound.
pub const MIN_FILE_BYTES: u64 = 4096;
/// The largest history or log size bound (1 GiB): past it rotation would never come.
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// The most consecutive samples `stale.samples` may ask for before a verdict changes.
pub const MAX_SAMPLES: u32 = 100;
/// The largest `stale.idle_cpu_secs`: an hour of CPU (more would call every holder idle).
pub const MAX_IDLE_CPU_SECS: f64 = 3600.0;
/// The shortest `stale.stale_after`, `stale.idle_window` and `stale.idle_child_after`: `"0s"`
/// (or a unit forgotten: `"500ms"` for `"500s"`) would call every holder stale at once, and
/// `kill` would stop a cargo a moment into its download without asking (review P, R14). A
/// few seconds are a deliberate choice (demos, tests); a stopped holder may be called stale
/// at once (`stopped_grace = "0s"`): stopped is no guess.
pub const MIN_STALE_DURATION: Duration = Duration::from_secs(1);

/// What to watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// Cargo homes watched besides `$CARGO_HOME` (or `~/.cargo`): absolute paths, a leading
    /// `~` / `$HOME` expanded when loaded.
    #[serde(serialize_with = "crate::core::text::lossy_path::list")]
    pub cargo_homes: Vec<PathBuf>,
    /// Project roots (or target dirs) whose build locks are listed up front; others are
    /// discovered when a cargo locks them. Written as `cargo_homes` are.
    #[serde(serialize_with = "crate::core::text::lossy_path::list")]
    pub projects: Vec<PathBuf>,
    /// How often processes are sampled while an incident is open (someone waits, or a blocker
    /// looks suspect).
    #[serde(with = "crate::core::text::duration_serde")]
    pub poll_interval: Duration,
    /// The safety-net poll of the kernel's lock table otherwise: nothing held, or a quiet hold
    /// (locks of unlisted projects are discovered within this time; known lock files wake the
    /// daemon at once through file events).
    #[serde(with = "crate::core::text::duration_serde")]
    pub idle_poll_interval: Duration,
    /// Process names never reported as stale nor offered for termination (a stopped one is
    /// offered a resume; `kill` of one asks first).
    pub ignore_process_names: Vec<String>,
}

/// Desktop notifications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Send notifications at all.
    pub enabled: bool,
    /// At most one notification per holder within this time.
    #[serde(with = "crate::core::text::duration_serde")]
    pub cooldown: Duration,
    /// Notify about a stale holder even when nobody waits, once it has been stale this long.
    #[serde(with = "crate::core::text::duration_serde")]
    pub stale_without_waiters_after: Duration,
}

/// What the daemon does on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Stop an IDE's background check when a terminal build waits behind it.
    pub yield_ide: bool,
    /// How long the terminal build waits first (for the lock, whoever held it: a check that
    /// takes the lock ahead of it does not restart the count).
    #[serde(with = "crate::core::text::duration_serde")]
    pub yield_after: Duration,
}

/// The daemon's own limits: connections, request time, log and history sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// Clients served at once (CLI calls, subscribers); more get a polite refusal.
    pub max_clients: usize,
    /// A request must arrive whole within this time (a hello within this time of connecting).
    #[serde(with = "crate::core::text::duration_serde")]
    pub request_timeout: Duration,
    /// The history file rotates past this size (one older file is kept).
    pub history_max_bytes: u64,
    /// When stdout or stderr is a file (launchd's log, a `>>` redirect), it is cut to its newest
    /// half past this size.
    pub log_max_bytes: u64,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// What to watch.
    pub watch: WatchConfig,
    /// The stale policy.
    pub stale: StaleConfig,
    /// Notifications.
    pub notify: NotifyConfig,
    /// What the daemon does on its own.
    pub policy: PolicyConfig,
    /// The daemon's limits.
    pub daemon: DaemonConfig,
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "detail")]
pub enum Provenance {
    /// Built in.
    Default,
    /// The config file (path).
    File(PathBuf),
    /// An environment variable (name).
    Env(String),
    /// A command-line flag.
    Flag(String),
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provenance::Default => write!(f, "default"),
            Provenance::File(p) => write!(f, "file {}", p.display()),
            Provenance::Env(v) => write!(f, "env {v}"),
            Provenance::Flag(v) => write!(f, "flag {v}"),
        }
    }
}

/// A configuration plus where each value came from and what went wrong on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Effective values.
    pub config: Config,
    /// Dotted key → origin.
    pub provenance: BTreeMap<String, Provenance>,
    /// Keys whose value was out of range, with where that value came from: the default is
    /// used instead (the listing says so beside the value).
    pub rejected: BTreeMap<String, Provenance>,
    /// Problems that were worked around (bad file, bad env value); shown to the user.
    pub warnings: Vec<String>,
    /// The file that was (or would be) read.
    pub file: PathBuf,
    /// Why the file was not used at all (unreadable, not TOML): a reload keeps the settings in
    /// use instead of falling back to the defaults.
    pub file_unusable: Option<String>,
    /// Of `warnings`, those about directories to watch that are not there (yet) or are not
    /// directories: worth knowing, not a broken configuration.
    pub missing_dirs: Vec<String>,
    /// Dotted keys (or sections) of the file refused as they are written (a wrong type, an
    /// unknown name): the default is used, and a reload keeps the value in use instead.
    pub refused: Vec<String>,
    /// The warnings (of `warnings`) about one key whose value was not taken, refused or out of
    /// range, so a reload can say what it does instead: keep the running value.
    pub defaulted: Vec<Defaulted>,
}

/// The config file a daemon read its settings from, and how it was then (modified time and
/// length; `None` when it did not exist): `config` tells a file changed since, which the
/// daemon runs without until SIGHUP (review T, T2).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConfigFile {
    /// Its path.
    #[serde(serialize_with = "crate::core::text::lossy_path::path")]
    pub path: PathBuf,
    /// (seconds, nanoseconds) of its modification time and its length.
    pub stamp: Option<(u64, u32, u64)>,
    /// `key = value` of each setting the daemon kept from before the last reload, the file's
    /// value being wrong (review X, X5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
    /// The daemon could not use the file as it is (a FIFO, a directory, broken TOML) and
    /// keeps every setting it had (review X, X11).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refused: bool,
}

impl ConfigFile {
    /// `path` as it is now.
    pub fn of(path: &Path) -> ConfigFile {
        let stamp = std::fs::metadata(path).ok().map(|m| {
            let modified = (m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .unwrap_or_default();
            (modified.as_secs(), modified.subsec_nanos(), m.len())
        });
        ConfigFile {
            path: path.to_path_buf(),
            stamp,
            kept: Vec::new(),
            refused: false,
        }
    }

    /// What `config` adds when a running daemon (pid `daemon_pid`, which read `self`) does
    /// not run with `now`, the file as it is.
    pub fn differs_from(&self, now: &ConfigFile, daemon_pid: u32) -> Option<String> {
        if !crate::core::text::same_path(&self.path, &now.path) {
            return Some(format!(
                "the running daemon (pid {daemon_pid}) reads its settings from {}, not this file",
                self.path.display()
            ));
        }
        if self.stamp != now.stamp {
            return Some(format!(
                "this file changed after the running daemon (pid {daemon_pid}) read it, which \
                 runs with what it read: `kill -HUP {daemon_pid}` makes it read the file again"
            ));
        }
        if self.refused {
            return Some(format!(
                "the running daemon (pid {daemon_pid}) could not use this file as it is and \
                 keeps the settings it had: fix the file, then `kill -HUP {daemon_pid}`"
            ));
        }
        (!self.kept.is_empty()).then(|| {
            format!(
                "the running daemon (pid {daemon_pid}) keeps its earlier {}, not the default \
                 shown: the file's value is wrong; fix it, then `kill -HUP {daemon_pid}`",
                self.kept.join(", ")
            )
        })
    }
}

/// A warning about one key whose value was not taken: one-off commands end it with "the
/// default is used", a reload with the running value it keeps (review P, R2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaulted {
    /// The dotted key, or a section's name.
    pub key: String,
    /// What is wrong and where, without what is done about it.
    pub problem: String,
    /// The whole warning, as `warnings` holds it.
    pub warning: String,
}

/// Per-user directories, overridable for tests and unusual setups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    /// Holds `config.toml`.
    pub config: PathBuf,
    /// Holds the history log.
    pub data: PathBuf,
    /// Holds the socket and the instance lock (mode 0700).
    pub runtime: PathBuf,
}

impl Dirs {
    /// The platform's directories, each overridable with `LOCKWATCH_CONFIG_DIR`,
    /// `LOCKWATCH_DATA_DIR`, `LOCKWATCH_RUNTIME_DIR`.
    pub fn from_env() -> Dirs {
        Dirs::from_env_warned().0
    }

    /// [`Dirs::from_env`], with a warning for each `LOCKWATCH_*_DIR` that was relative and
    /// made absolute ([`absolute_dir`]).
    pub fn from_env_warned() -> (Dirs, Vec<String>) {
        let proj = directories::ProjectDirs::from("", "", "cargo-lockwatch");
        let cwd = std::env::current_dir().ok();
        let mut warnings = Vec::new();
        let mut env = |k: &str| {
            let value = std::env::var_os(k).filter(|v| !v.is_empty())?;
            let (dir, warning) = absolute_dir(k, PathBuf::from(value), cwd.as_deref());
            warnings.extend(warning);
            dir
        };
        let home = directories::BaseDirs::new()
            .map(|b| b.home_dir().to_path_buf())
            .unwrap_or_else(std::env::temp_dir);
        let config = env("LOCKWATCH_CONFIG_DIR")
            .or_else(|| proj.as_ref().map(|p| p.config_dir().to_path_buf()))
            .unwrap_or_else(|| home.join(".config/cargo-lockwatch"));
        let data = env("LOCKWATCH_DATA_DIR")
            .or_else(|| proj.as_ref().map(|p| p.data_dir().to_path_buf()))
            .unwrap_or_else(|| home.join(".local/share/cargo-lockwatch"));
        // SAFETY: getuid cannot fail and has no preconditions.
        let uid = unsafe { libc::getuid() };
        let runtime = runtime_dir(&RuntimeSources {
            explicit: env("LOCKWATCH_RUNTIME_DIR"),
            darwin_user_temp: if cfg!(target_os = "macos") {
                darwin_user_temp_dir()
            } else {
                None
            },
            xdg_runtime: std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
            temp_dir: std::env::temp_dir(),
            uid,
        });
        let dirs = Dirs {
            config,
            data,
            runtime,
        };
        (dirs, warnings)
    }

    /// What keeps the data directory from holding the history: it, or the nearest of its
    /// parents that exists, is not a directory (review Y, Y8).
    pub fn data_dir_problem(&self) -> Option<DataDirNotDir> {
        let found = not_a_directory(&self.data)?;
        Some(DataDirNotDir {
            data: self.data.clone(),
            found,
            from_variable: std::env::var_os("LOCKWATCH_DATA_DIR").is_some_and(|v| !v.is_empty()),
        })
    }

    /// The config file.
    pub fn config_file(&self) -> PathBuf {
        std::env::var_os("LOCKWATCH_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.config.join("config.toml"))
    }
}

/// What stands where `dir` should be, or would be made, when it is not a directory: `dir`
/// itself, or the nearest of its parents that exists. `None` when `dir` is a directory (or a
/// link to one) or can be made.
pub fn not_a_directory(dir: &Path) -> Option<PathBuf> {
    let there = (dir.ancestors()).find(|p| std::fs::symlink_metadata(p).is_ok())?;
    let is_dir = std::fs::metadata(there).is_ok_and(|m| m.is_dir());
    (!is_dir).then(|| there.to_path_buf())
}

/// A data directory that is not one, or lies under something that is not one: no history can
/// be written there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", self.problem(), self.fix())]
pub struct DataDirNotDir {
    /// The data directory.
    pub data: PathBuf,
    /// What is not a directory: `data`, or the nearest of its parents that exists.
    pub found: PathBuf,
    /// `LOCKWATCH_DATA_DIR` named it (else it is the platform's default).
    pub from_variable: bool,
}

impl DataDirNotDir {
    /// What is wrong, naming the variable when it set the directory.
    pub fn problem(&self) -> String {
        let data = if self.from_variable {
            format!("LOCKWATCH_DATA_DIR={}", self.data.display())
        } else {
            format!("the data directory {}", self.data.display())
        };
        if self.found == self.data {
            format!("{data} is not a directory")
        } else {
            format!(
                "{data} cannot be made, as {} is not a directory",
                self.found.display()
            )
        }
    }

    /// What to do about it.
    pub fn fix(&self) -> String {
        format!(
            "move {} aside, or set LOCKWATCH_DATA_DIR to a directory of your own",
            self.found.display()
        )
    }
}

/// The directory a `LOCKWATCH_*_DIR` `variable` names: a relative `value` is made absolute
/// from `cwd`, as `install` writes it into the login service, with a warning (the daemon and
/// every command would otherwise each take it from their own working directory, and miss each
/// other's socket); without a `cwd` it is ignored with a warning, as the XDG rule ignores a
/// relative `XDG_*` value (review Y, Y9).
pub fn absolute_dir(
    variable: &str,
    value: PathBuf,
    cwd: Option<&Path>,
) -> (Option<PathBuf>, Option<String>) {
    if value.is_absolute() {
        return (Some(value), None);
    }
    let given = value.display();
    let Some(cwd) = cwd else {
        let warning = format!(
            "{variable}={given} is a relative path and the current directory cannot be read: \
             it is ignored and the default is used; set {variable} to an absolute path"
        );
        return (None, Some(warning));
    };
    let dir = cwd.join(&value);
    let warning = format!(
        "{variable}={given} is a relative path: {} is used (from the current directory; a \
         command run from another directory would use another one); set {variable} to an \
         absolute path",
        dir.display()
    );
    (Some(dir), Some(warning))
}

/// What the runtime directory is chosen from (see [`runtime_dir`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeSources {
    /// `LOCKWATCH_RUNTIME_DIR`, when set and not empty.
    pub explicit: Option<PathBuf>,
    /// macOS: the per-user temporary directory the OS assigns
    /// (`confstr(_CS_DARWIN_USER_TEMP_DIR)`, `/var/folders/…/T/`); `None` elsewhere.
    pub darwin_user_temp: Option<PathBuf>,
    /// `XDG_RUNTIME_DIR`, when set (a relative or empty value is ignored).
    pub xdg_runtime: Option<PathBuf>,
    /// The process's temporary directory (`$TMPDIR`, else `/tmp`).
    pub temp_dir: PathBuf,
    /// The real user id.
    pub uid: u32,
}

/// Where the socket and instance lock live. Sockets want short paths (104 bytes on macOS).
///
/// `LOCKWATCH_RUNTIME_DIR` wins. On macOS the OS's per-user temporary directory comes next:
/// it is the same for the launchd agent and every shell of the user, while `$TMPDIR` may be
/// unset or different in one of them, and then the CLI would not find the daemon's socket.
/// Then `XDG_RUNTIME_DIR` when absolute (the XDG rule ignores a relative one), then a per-user
/// directory under the temporary directory.
pub fn runtime_dir(s: &RuntimeSources) -> PathBuf {
    if let Some(dir) = &s.explicit {
        return dir.clone();
    }
    if let Some(dir) = &s.darwin_user_temp {
        return dir.join("cargo-lockwatch");
    }
    if let Some(dir) = s.xdg_runtime.as_ref().filter(|d| d.is_absolute()) {
        return dir.join("cargo-lockwatch");
    }
    s.temp_dir.join(format!("cargo-lockwatch-{}", s.uid))
}

/// The text `confstr(name)` answers, `None` when the name is unknown or has no value.
#[cfg(not(target_os = "android"))]
pub fn confstr(name: libc::c_int) -> Option<std::ffi::OsString> {
    use std::os::unix::ffi::OsStringExt;
    let mut buf = vec![0u8; 1024];
    for _ in 0..2 {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes; confstr writes at most that
        // many (NUL included) and returns the size the whole value needs.
        let needed = unsafe { libc::confstr(name, buf.as_mut_ptr().cast(), buf.len()) };
        match confstr_value(&buf, needed) {
            ConfstrValue::Text(len) => {
                buf.truncate(len);
                return Some(std::ffi::OsString::from_vec(buf));
            }
            ConfstrValue::Missing => return None,
            ConfstrValue::Larger(size) => buf = vec![0u8; size],
        }
    }
    None
}

/// What a `confstr` call answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfstrValue {
    /// The value is the first this many bytes of the buffer.
    Text(usize),
    /// No value (0: unknown name, or no value defined).
    Missing,
    /// The buffer was too small: this many bytes are needed (NUL included).
    Larger(usize),
}

/// Reads `confstr`'s return value `needed` for a buffer `buf` it wrote into.
pub fn confstr_value(buf: &[u8], needed: usize) -> ConfstrValue {
    if needed == 0 {
        return ConfstrValue::Missing;
    }
    if needed > buf.len() {
        return ConfstrValue::Larger(needed);
    }
    // `needed` counts the terminating NUL.
    let len = buf[..needed]
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(needed - 1);
    if len == 0 {
        ConfstrValue::Missing
    } else {
        ConfstrValue::Text(len)
    }
}

/// macOS: the per-user temporary directory (`/var/folders/…/T/`), the same for the launchd
/// agent and the user's shells; the OS creates it private to the user.
#[cfg(target_os = "macos")]
fn darwin_user_temp_dir() -> Option<PathBuf> {
    confstr(libc::_CS_DARWIN_USER_TEMP_DIR)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

#[cfg(not(target_os = "macos"))]
fn darwin_user_temp_dir() -> Option<PathBuf> {
    None
}

/// Flags that override config values (from the command line).
#[derive(Debug, Clone, Default)]
pub struct FlagOverrides {
    /// `--cargo-home`, repeatable.
    pub cargo_homes: Vec<PathBuf>,
    /// `--project`, repeatable.
    pub projects: Vec<PathBuf>,
}

/// The Cargo home Cargo itself would use: `$CARGO_HOME` (a relative one from the working
/// directory, as Cargo takes it), else `~/.cargo`.
pub fn default_cargo_home() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("CARGO_HOME").filter(|v| !v.is_empty()) {
        let h = PathBuf::from(h);
        return Some(std::path::absolute(&h).unwrap_or(h));
    }
    directories::BaseDirs::new().map(|b| b.home_dir().join(".cargo"))
}

/// The line (1-based) where `dotted` (`stale.samples`) is set in a config file's text, when a
/// plain `[section]` / `key = …` layout says it.
fn key_line(text: &str, dotted: &str) -> Option<usize> {
    let (section, key) = dotted.split_once('.')?;
    let mut inside = false;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix('[') {
            inside = name.trim_end_matches(']').trim() == section;
        } else if inside && t.split('=').next().map(str::trim) == Some(key) {
            return Some(n + 1);
        }
    }
    None
}

/// Where the value of `key` was set, as a warning names it: ` (FILE, line N)`, ` (env NAME)`,
/// or nothing for a default.
fn place_of(key: &str, from: &Provenance, file_text: Option<&str>) -> String {
    match (from, file_text.and_then(|t| key_line(t, key))) {
        (Provenance::File(p), Some(line)) => format!(" ({}, line {line})", p.display()),
        (Provenance::Default, _) => String::new(),
        (other, _) => format!(" ({other})"),
    }
}

/// The user's home as `~` and `$HOME` in a watched directory mean it: `$HOME`, when it is set
/// to an absolute path.
fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
}

/// `entry` with a leading `~`, `$HOME` or `${HOME}` replaced by `home`, as a shell would have
/// written it; `Err` says why it cannot be watched: it is relative (to what? the daemon's
/// working directory is not the user's), or names a home that is not known.
fn expand_home(entry: &Path, home: Option<&Path>) -> Result<PathBuf, String> {
    let mut parts = entry.components();
    let first = parts.next().map(|c| c.as_os_str().to_string_lossy());
    let path = match first.as_deref() {
        Some(word @ ("~" | "$HOME" | "${HOME}")) => {
            let Some(home) = home else {
                return Err(format!(
                    "starts with {word}, but HOME is not set to an absolute path: write an \
                     absolute path"
                ));
            };
            let rest = parts.as_path();
            if rest.as_os_str().is_empty() {
                home.to_path_buf()
            } else {
                home.join(rest)
            }
        }
        // `~user` (another user's home, or a typo): a shell expands it, lockwatch does not.
        Some(word) if word.starts_with('~') => {
            return Err(format!(
                "starts with `{word}`, which is not expanded (only `~/` and `$HOME` are): \
                 write an absolute path"
            ));
        }
        _ => entry.to_path_buf(),
    };
    if !path.is_absolute() {
        return Err(
            "is a relative path: write an absolute path (`~` and `$HOME` at its start are \
             expanded)"
                .into(),
        );
    }
    Ok(path)
}

/// The warning for an entry of a watched-directory list that is dropped: its key, the entry,
/// where it was set (`place`) and why; an empty entry is named as such (review P, R15).
fn dropped_entry_warning(key: &str, entry: &str, place: &str, why: &str) -> String {
    if entry.is_empty() {
        return format!(
            "an empty entry in {key}{place}; ignored: remove it, or write the absolute path you \
             meant"
        );
    }
    format!("{key} entry {entry}{place} {why}; ignored")
}

/// Expands `~` and `$HOME` in the `watch.cargo_homes` and `watch.projects` entries and drops
/// those that still are not absolute: one (key, entry, why) each for a warning.
fn expand_watched_dirs(
    watch: &mut WatchConfig,
    home: Option<&Path>,
) -> Vec<(&'static str, String, String)> {
    let mut dropped = Vec::new();
    let lists = [
        ("watch.cargo_homes", &mut watch.cargo_homes),
        ("watch.projects", &mut watch.projects),
    ];
    for (key, list) in lists {
        *list = std::mem::take(list)
            .into_iter()
            .filter_map(|entry| match expand_home(&entry, home) {
                Ok(path) => Some(path),
                Err(why) => {
                    dropped.push((key, entry.display().to_string(), why));
                    None
                }
            })
            .collect();
    }
    dropped
}

/// A configuration on its way through the layers (defaults, file, environment): the merged
/// table, where each key came from, and what went wrong so far.
struct Layers {
    table: toml::Table,
    provenance: BTreeMap<String, Provenance>,
    warnings: Vec<String>,
    file_unusable: Option<String>,
    refused: Vec<String>,
    defaulted: Vec<Defaulted>,
}

impl Layers {
    /// The built-in defaults.
    fn defaults() -> Layers {
        let table: toml::Table =
            toml::from_str(DEFAULT_TOML).expect("built-in default config parses");
        let mut provenance = BTreeMap::new();
        for (key, _) in leaves(&table) {
            provenance.insert(key, Provenance::Default);
        }
        Layers {
            table,
            provenance,
            warnings: Vec::new(),
            file_unusable: None,
            refused: Vec::new(),
            defaulted: Vec::new(),
        }
    }

    /// Lays the config file's `text` over the layers: all of it when it is valid, else the
    /// values that are, one by one; nothing when it is not TOML.
    fn lay_file(&mut self, text: &str, file: &Path) {
        match toml::from_str::<toml::Table>(text) {
            Ok(user) => {
                let mut merged = self.table.clone();
                let keys = overlay(&mut merged, &user);
                if merged.clone().try_into::<Config>().is_ok() {
                    self.table = merged;
                    for k in keys {
                        self.provenance
                            .insert(k, Provenance::File(file.to_path_buf()));
                    }
                } else {
                    // Some value is wrong: take the others, one by one, and say which
                    // are ignored (a typo must not turn every other setting off).
                    self.lay_file_each(&user, text, file);
                }
            }
            Err(e) => {
                let e = first_syntax_error(text, e);
                let why = format!("{}{}", file.display(), syntax_error(text, &e));
                self.warnings.push(format!(
                    "{why}; the whole file is ignored and the defaults are used until you \
                     fix it (a running daemon keeps its settings until SIGHUP finds the file \
                     valid)"
                ));
                self.file_unusable = Some(why);
            }
        }
    }

    /// Lays the values of the file (`user`, parsed from `text`) over the layers one by one,
    /// refusing those that are wrong.
    /// Refusals are said in the file's order (review T, T8).
    fn lay_file_each(&mut self, user: &toml::Table, text: &str, file: &Path) {
        let mut refused = Vec::new();
        for (key, why) in apply_each(&mut self.table, user) {
            match why {
                None => {
                    self.provenance
                        .insert(key, Provenance::File(file.to_path_buf()));
                }
                Some(why) => refused.push((locate(text, &why), key, why)),
            }
        }
        // Unplaced ones last.
        refused.sort_by_key(|(at, _, _)| at.map_or((usize::MAX, 0), |a| a));
        for (_, key, why) in refused {
            self.refuse(key, &why, text, file);
        }
    }

    /// Records that the file's value of `key` is refused for `why`: the default is used.
    fn refuse(&mut self, key: String, why: &str, text: &str, file: &Path) {
        let place = match locate(text, why) {
            Some((line, column)) => format!(", line {line}, column {column}"),
            None => String::new(),
        };
        let problem = format!("{}{place}: {why}", file.display());
        // An unknown name has no default: it is only ignored (review AB, AB6).
        let warning = match unknown_name_hint(why) {
            Some(hint) => format!("{problem}; ignored{hint}"),
            None => format!("{problem}; ignored, the default is used"),
        };
        self.warnings.push(warning.clone());
        self.defaulted.push(Defaulted {
            key: key.clone(),
            problem,
            warning,
        });
        self.refused.push(key);
    }

    /// Lays the environment variable `name`=`value` over the layers, when it names a config
    /// key (`LOCKWATCH_SECTION_KEY`) and its value is valid there.
    fn lay_env(&mut self, name: String, value: String) {
        let Some(rest) = name.strip_prefix("LOCKWATCH_") else {
            return;
        };
        let (section, key) = rest
            .to_ascii_lowercase()
            .split_once('_')
            .map(|(s, k)| (s.to_string(), k.to_string()))
            .unwrap_or_default();
        let dotted = format!("{section}.{key}");
        let Some(current) = (self.table.get(&section).and_then(|s| s.get(&key))).cloned() else {
            // LOCKWATCH_CONFIG_DIR and friends are not config keys; anything else is a typo.
            self.warnings.extend(unknown_variable(&name, &self.table));
            return;
        };
        let trial = env_value(&current, &value).and_then(|v| self.with_value(&section, &key, v));
        match trial {
            Some(table) => {
                self.table = table;
                self.provenance.insert(dotted, Provenance::Env(name));
            }
            None => self.warnings.push(format!(
                "{name}={value} is not a valid {dotted} (expected {}); ignored",
                expected_form(&current)
            )),
        }
    }

    /// The table with `section.key` set to `value`, when that is a valid configuration.
    fn with_value(&self, section: &str, key: &str, value: toml::Value) -> Option<toml::Table> {
        let mut trial = self.table.clone();
        trial[section]
            .as_table_mut()
            .expect("sections are tables")
            .insert(key.to_string(), value);
        trial.clone().try_into::<Config>().is_ok().then_some(trial)
    }

    /// The configuration the layers make, read from `file`.
    fn into_loaded(self, file: &Path) -> Loaded {
        Loaded {
            config: self.table.try_into().expect("validated layers deserialize"),
            provenance: self.provenance,
            rejected: BTreeMap::new(),
            warnings: self.warnings,
            file: file.to_path_buf(),
            file_unusable: self.file_unusable,
            missing_dirs: Vec::new(),
            refused: self.refused,
            defaulted: self.defaulted,
        }
    }
}

impl Loaded {
    /// Loads defaults, the file, the environment and flags, in that order.
    pub fn load(dirs: &Dirs, flags: &FlagOverrides) -> Loaded {
        let file = dirs.config_file();
        let mut loaded = match read_config(&file) {
            Ok(Some(t)) => Self::from_sources(Some(&t), &file, env_pairs(), flags),
            Ok(None) => {
                let mut l = Self::from_sources(None, &file, env_pairs(), flags);
                // Named on purpose, a missing file is a typo more often than not: every
                // setting would quietly be the default (review M, N12).
                if std::env::var_os("LOCKWATCH_CONFIG").is_some_and(|v| !v.is_empty()) {
                    l.warnings.insert(
                        0,
                        format!(
                            "LOCKWATCH_CONFIG={} does not exist: defaults apply; fix the path, \
                             create the file, or unset LOCKWATCH_CONFIG",
                            file.display()
                        ),
                    );
                }
                l
            }
            Err(why) => {
                let mut l = Self::from_sources(None, &file, env_pairs(), flags);
                l.warnings.insert(
                    0,
                    format!(
                        "{why}; defaults apply (a running daemon keeps its settings until SIGHUP \
                         finds the file valid)"
                    ),
                );
                l.file_unusable = Some(why);
                l
            }
        };
        loaded.missing_dirs = missing_flag_dirs(flags);
        loaded
            .missing_dirs
            .extend(missing_configured_dirs(&loaded.config, flags));
        loaded.warnings.extend(loaded.missing_dirs.clone());
        loaded
    }

    /// Layers the given sources (pure but for `$HOME`, which `~` in a watched directory
    /// means; for tests).
    pub fn from_sources(
        file_text: Option<&str>,
        file: &Path,
        env: Vec<(String, String)>,
        flags: &FlagOverrides,
    ) -> Loaded {
        let mut layers = Layers::defaults();
        if let Some(text) = file_text {
            layers.lay_file(text, file);
        }
        for (name, value) in env {
            layers.lay_env(name, value);
        }
        let mut loaded = layers.into_loaded(file);
        loaded.drop_unwatchable_dirs(file_text);
        loaded.add_flag_dirs(flags);
        loaded.reset_out_of_range(file_text);
        loaded
    }

    /// Drops the watched directories that cannot be watched as written (relative, `~user`),
    /// with a warning each; expands `~` and `$HOME` in the others.
    fn drop_unwatchable_dirs(&mut self, file_text: Option<&str>) {
        for (key, entry, why) in expand_watched_dirs(&mut self.config.watch, home_dir().as_deref())
        {
            let from = (self.provenance.get(key).cloned()).unwrap_or(Provenance::Default);
            let place = place_of(key, &from, file_text);
            self.warnings
                .push(dropped_entry_warning(key, &entry, &place, &why));
        }
    }

    /// Adds the directories to watch given by `--cargo-home` and `--project`.
    fn add_flag_dirs(&mut self, flags: &FlagOverrides) {
        if !flags.cargo_homes.is_empty() {
            self.config
                .watch
                .cargo_homes
                .extend(flags.cargo_homes.iter().cloned());
            self.provenance.insert(
                "watch.cargo_homes".into(),
                Provenance::Flag("--cargo-home".into()),
            );
        }
        if !flags.projects.is_empty() {
            self.config
                .watch
                .projects
                .extend(flags.projects.iter().cloned());
            self.provenance.insert(
                "watch.projects".into(),
                Provenance::Flag("--project".into()),
            );
        }
    }

    /// Puts every value out of range back to its default, with a warning naming where it was
    /// set.
    fn reset_out_of_range(&mut self, file_text: Option<&str>) {
        for (key, why) in self.config.problems() {
            let from = (self.provenance.get(key).cloned()).unwrap_or(Provenance::Default);
            let place = place_of(key, &from, file_text);
            let problem = format!("{why}{place}");
            let warning = format!("{problem}; using the default for it");
            self.warnings.push(warning.clone());
            self.defaulted.push(Defaulted {
                key: key.to_string(),
                problem,
                warning,
            });
            self.config.reset(key);
            self.provenance.insert(key.to_string(), Provenance::Default);
            self.rejected.insert(key.to_string(), from);
        }
    }

    /// `warnings` as a reload says them: a key whose value is not taken keeps the value in use
    /// (`running`'s), so its line ends `; kept "30s"`, not "the default is used" (review P, R2).
    pub fn reload_warnings(&self, running: &Config) -> Vec<String> {
        let values: BTreeMap<String, String> = running.flatten().into_iter().collect();
        let sections = toml::Table::try_from(running).unwrap_or_default();
        self.warnings
            .iter()
            .map(|w| match self.defaulted.iter().find(|d| &d.warning == w) {
                Some(d) => {
                    let kept = match values.get(&d.key) {
                        Some(value) => format!("kept {value}"),
                        None if sections.contains_key(&d.key) => {
                            "the values in use are kept".to_string()
                        }
                        // An unknown key: nothing in use to keep.
                        None => "ignored".to_string(),
                    };
                    format!("{}; {kept}", d.problem)
                }
                None => w.clone(),
            })
            .collect()
    }

    /// The keys a reload keeps the running value of: those the file gets wrong, and those out
    /// of range (review O, Q2).
    pub fn keys_to_keep(&self) -> Vec<String> {
        let mut keys = self.refused.clone();
        keys.extend(self.rejected.keys().cloned());
        keys.sort();
        keys.dedup();
        keys
    }

    /// The roots to watch: `$CARGO_HOME` (or `~/.cargo`) plus configured ones.
    pub fn roots(&self) -> WatchRoots {
        let mut cargo_homes: Vec<PathBuf> = default_cargo_home().into_iter().collect();
        for h in &self.config.watch.cargo_homes {
            // One home reached two ways (a symlink) is listed once, as the first way.
            if !cargo_homes.iter().any(|c| same_place(c, h)) {
                cargo_homes.push(h.clone());
            }
        }
        WatchRoots {
            cargo_homes,
            projects: self.config.watch.projects.clone(),
        }
    }
}

/// `new` with the values of `keys` (dotted, or a whole section) taken from `old`: a reload keeps
/// the running value of a key the file now gets wrong, rather than its default (review O, Q2).
/// `new` as it is when the result would not be a valid configuration.
pub fn keep_values(new: Config, old: &Config, keys: &[String]) -> Config {
    let (Ok(mut table), Ok(before)) = (toml::Table::try_from(&new), toml::Table::try_from(old))
    else {
        return new;
    };
    for key in keys {
        match key.split_once('.') {
            Some((section, field)) => {
                let value = before.get(section).and_then(|s| s.get(field)).cloned();
                if let (Some(toml::Value::Table(t)), Some(v)) = (table.get_mut(section), value) {
                    t.insert(field.to_string(), v);
                }
            }
            None => {
                if let Some(v) = before.get(key.as_str()) {
                    table.insert(key.clone(), v.clone());
                }
            }
        }
    }
    table.try_into().unwrap_or(new)
}

/// Whether two paths name one place: the same text, or the same directory once resolved.
pub fn same_place(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

impl Config {
    /// Built-in defaults.
    pub fn defaults() -> Config {
        toml::from_str(DEFAULT_TOML).expect("built-in default config parses")
    }

    /// Every value out of its range, as (dotted key, what is wrong); empty when all are fine.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut bad = |key: &'static str, ok: bool, why: String| {
            if !ok {
                out.push((key, format!("{key} {why}")));
            }
        };
        bad(
            "stale.samples",
            (1..=MAX_SAMPLES).contains(&self.stale.samples),
            format!("must be between 1 and {MAX_SAMPLES}"),
        );
        bad(
            "watch.poll_interval",
            self.watch.poll_interval >= Duration::from_millis(50),
            "must be at least 50ms".into(),
        );
        bad(
            "stale.sample_interval",
            self.stale.sample_interval >= Duration::from_millis(100),
            "must be at least 100ms".into(),
        );
        bad(
            "stale.idle_cpu_secs",
            // NaN and infinity fail this too.
            (0.0..=MAX_IDLE_CPU_SECS).contains(&self.stale.idle_cpu_secs),
            format!("must be between 0 and {MAX_IDLE_CPU_SECS}"),
        );
        bad(
            "daemon.max_clients",
            (1..=MAX_CLIENTS_LIMIT).contains(&self.daemon.max_clients),
            format!("must be between 1 and {MAX_CLIENTS_LIMIT}"),
        );
        bad(
            "daemon.request_timeout",
            self.daemon.request_timeout >= Duration::from_millis(100),
            "must be at least 100ms".into(),
        );
        bad(
            "daemon.history_max_bytes",
            (MIN_FILE_BYTES..=MAX_FILE_BYTES).contains(&self.daemon.history_max_bytes),
            format!("must be between {MIN_FILE_BYTES} and {MAX_FILE_BYTES} (1 GiB)"),
        );
        bad(
            "daemon.log_max_bytes",
            (MIN_FILE_BYTES..=MAX_FILE_BYTES).contains(&self.daemon.log_max_bytes),
            format!("must be between {MIN_FILE_BYTES} and {MAX_FILE_BYTES} (1 GiB)"),
        );
        for (key, d) in self.stale_floors() {
            let min = humantime::format_duration(MIN_STALE_DURATION);
            bad(
                key,
                d >= MIN_STALE_DURATION,
                format!("must be at least {min}"),
            );
        }
        let day = Duration::from_secs(86_400);
        for (name, d) in self.durations() {
            bad(name, d <= day, "must be at most one day".into());
        }
        out
    }

    /// The `stale` durations bounded below by [`MIN_STALE_DURATION`], with their value:
    /// below it, holders would look stale (and `kill` stop them unasked) at once.
    fn stale_floors(&self) -> [(&'static str, Duration); 3] {
        let s = &self.stale;
        [
            ("stale.stale_after", s.stale_after),
            ("stale.idle_window", s.idle_window),
            ("stale.idle_child_after", s.idle_child_after),
        ]
    }

    /// The problems as one message, or `Ok` (for callers that only need a yes or no).
    pub fn check(&self) -> Result<(), String> {
        let problems = self.problems();
        if problems.is_empty() {
            return Ok(());
        }
        Err(problems
            .into_iter()
            .map(|(_, why)| why)
            .collect::<Vec<_>>()
            .join("; "))
    }

    /// Sets the value at dotted `key` back to its default.
    fn reset(&mut self, key: &str) {
        let Some((section, name)) = key.split_once('.') else {
            return;
        };
        let defaults = toml::Table::try_from(Config::defaults()).expect("defaults serialize");
        let Some(default) = defaults.get(section).and_then(|t| t.get(name)) else {
            return;
        };
        let mut table = toml::Table::try_from(&*self).expect("config serializes");
        if let Some(toml::Value::Table(t)) = table.get_mut(section) {
            t.insert(name.to_string(), default.clone());
        }
        if let Ok(fixed) = table.try_into() {
            *self = fixed;
        }
    }

    /// Every duration setting, by name.
    fn durations(&self) -> [(&'static str, Duration); 10] {
        [
            ("watch.poll_interval", self.watch.poll_interval),
            ("watch.idle_poll_interval", self.watch.idle_poll_interval),
            ("stale.stopped_grace", self.stale.stopped_grace),
            ("stale.stale_after", self.stale.stale_after),
            ("stale.idle_child_after", self.stale.idle_child_after),
            ("stale.idle_window", self.stale.idle_window),
            ("stale.sample_interval", self.stale.sample_interval),
            ("notify.cooldown", self.notify.cooldown),
            (
                "notify.stale_without_waiters_after",
                self.notify.stale_without_waiters_after,
            ),
            ("daemon.request_timeout", self.daemon.request_timeout),
        ]
    }

    /// Dotted key → displayed value, for `cargo lockwatch config`.
    pub fn flatten(&self) -> Vec<(String, String)> {
        let table = toml::Table::try_from(self).expect("config serializes");
        leaves(&table)
            .into_iter()
            .map(|(k, v)| (k, shown(&v)))
            .collect()
    }
}

/// A value as `config` shows it: as TOML, but a long list (hundreds of watched projects) as its
/// first entries and how many more (`config --json` has them all).
fn shown(v: &toml::Value) -> String {
    const FIRST: usize = 3;
    match v.as_array() {
        Some(items) if items.len() > 2 * FIRST => {
            let first: Vec<String> = items[..FIRST].iter().map(|i| i.to_string()).collect();
            format!("[{}, … {} more]", first.join(", "), items.len() - FIRST)
        }
        _ => v.to_string(),
    }
}

/// The config file's text: `None` when there is none, `Err` with what is wrong when it cannot
/// be used (unreadable, not UTF-8, a symlink to nothing: a dotfiles link whose target moved must
/// not drop the settings silently).
/// The largest config file read: a real one is a few hundred bytes; a device (`/dev/zero`)
/// or a runaway file must not eat the memory of every command.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Reads a config file that must be a regular file of at most [`MAX_CONFIG_BYTES`]: opened
/// without blocking (a FIFO in its place would otherwise hang every command and the daemon's
/// reload until someone writes to it), checked, then read.
fn read_regular(file: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(file)?;
    let meta = f.metadata()?;
    let kind = meta.file_type();
    let not_a_file = |what: &str| Error::other(format!("it is {what}, not a file"));
    if kind.is_fifo() {
        return Err(not_a_file("a FIFO"));
    } else if kind.is_char_device() || kind.is_block_device() {
        return Err(not_a_file("a device"));
    } else if kind.is_socket() {
        return Err(not_a_file("a socket"));
    } else if kind.is_dir() {
        return Err(Error::new(ErrorKind::IsADirectory, "it is a directory"));
    }
    let mut bytes = Vec::new();
    f.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(Error::other(format!(
            "it is larger than {} KiB; a config file is a few lines",
            MAX_CONFIG_BYTES / 1024
        )));
    }
    Ok(bytes)
}

fn read_config(file: &Path) -> Result<Option<String>, String> {
    let bytes = match read_regular(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match std::fs::read_link(file) {
                Ok(target) => Err(format!(
                    "{} is a symlink to {}, which does not exist",
                    file.display(),
                    target.display()
                )),
                Err(_) => Ok(None),
            };
        }
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    String::from_utf8(bytes).map(Some).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let (line, column) = line_column(&String::from_utf8_lossy(&bytes[..valid]), valid);
        format!(
            "cannot read {}: not UTF-8 at line {line}, column {column} (byte {valid}); save it \
             as UTF-8",
            file.display()
        )
    })
}

/// `LOCKWATCH_*` variables. Any bytes are accepted (`std::env::vars` panics on non-UTF-8,
/// e.g. a Latin-1 `$PWD`): names that are not UTF-8 cannot be ours, and a value that is not
/// is passed on lossily, so it fails to parse with a warning naming the variable.
fn env_pairs() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            k.starts_with("LOCKWATCH_")
                .then(|| (k, v.to_string_lossy().into_owned()))
        })
        .collect()
}

/// The `LOCKWATCH_*` variables read besides the configuration's keys.
pub const OTHER_VARIABLES: &[&str] = &[
    "LOCKWATCH_CONFIG",
    "LOCKWATCH_CONFIG_DIR",
    "LOCKWATCH_DATA_DIR",
    "LOCKWATCH_RUNTIME_DIR",
    "LOCKWATCH_LOG",
    crate::service::SERVICE_DIR_ENV,
    "LOCKWATCH_APPS_DIR",
];

/// The warning for a `LOCKWATCH_*` variable that is neither a key of `table` nor one of
/// [`OTHER_VARIABLES`], with the closest valid name when one is close; `None` for those.
fn unknown_variable(name: &str, table: &toml::Table) -> Option<String> {
    if OTHER_VARIABLES.contains(&name) {
        return None;
    }
    let keys = leaves(table)
        .into_iter()
        .map(|(k, _)| format!("LOCKWATCH_{}", k.replacen('.', "_", 1).to_ascii_uppercase()));
    let valid: Vec<String> = keys
        .chain(OTHER_VARIABLES.iter().map(|v| v.to_string()))
        .collect();
    let hint = closest(name, &valid)
        .map(|c| format!(" (did you mean {c}?)"))
        .unwrap_or_default();
    Some(format!(
        "{name} is set, but it is no setting or variable of cargo-lockwatch; ignored{hint}"
    ))
}

/// The name in `valid` nearest to `name` (letters compared case-blind), if it is near enough to
/// be a typo of it: a few letters off, more for a longer name.
fn closest<'a>(name: &str, valid: &'a [String]) -> Option<&'a str> {
    let name = name.to_ascii_uppercase();
    let rest = name.strip_prefix("LOCKWATCH_").unwrap_or(&name);
    let near_enough = (rest.chars().count() / 4).max(2);
    (valid.iter())
        .map(|v| (edit_distance(&name, v), v.as_str()))
        .filter(|(d, _)| *d <= near_enough)
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

/// For the error `why` about an unknown key or section (`unknown field `x`, expected one of
/// `a`, `b` in `stale``), the hint after "ignored": the expected name nearest to it when one
/// is close (` (did you mean `stale_after`?)`), else none; `None` for any other error.
fn unknown_name_hint(why: &str) -> Option<String> {
    let after = |marker: &str| {
        let rest = &why[why.find(marker)? + marker.len()..];
        rest.find('`').map(|end| rest[..end].to_string())
    };
    let unknown = after("unknown field `").or_else(|| after("unknown section `"))?;
    let expected = why.split_once("expected ").map_or("", |(_, e)| e);
    let expected = expected.split(" in `").next().unwrap_or_default();
    let names: Vec<String> = (expected.split('`').skip(1).step_by(2))
        .map(str::to_ascii_uppercase)
        .collect();
    let hint = closest(&unknown, &names).map(|c| {
        let c = c.to_ascii_lowercase();
        format!(" (did you mean `{c}`?)")
    });
    Some(hint.unwrap_or_default())
}

/// Levenshtein distance: the fewest one-character insertions, deletions and substitutions
/// that turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let replaced = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = replaced.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// Converts an environment string to the type the default has.
fn env_value(current: &toml::Value, raw: &str) -> Option<toml::Value> {
    Some(match current {
        toml::Value::Boolean(_) => toml::Value::Boolean(match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => return None,
        }),
        toml::Value::Integer(_) => toml::Value::Integer(raw.trim().parse().ok()?),
        toml::Value::Float(_) => toml::Value::Float(raw.trim().parse().ok()?),
        toml::Value::Array(_) => toml::Value::Array(
            std::env::split_paths(raw)
                .map(|p| toml::Value::String(p.to_string_lossy().into_owned()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_string()),
    })
}

/// Sets `section.key` in the config file's text, keeping every other line (comments included):
/// the key's line is replaced, or added under the section's header, or the section is added.
/// `None` when the result would not read back with that value (an unusual layout, such as an
/// inline table): the caller says to edit the file by hand.
pub fn set_value(text: &str, section: &str, key: &str, value: &toml::Value) -> Option<String> {
    let line = format!("{key} = {value}");
    let mut out: Vec<String> = Vec::new();
    let (mut current, mut header, mut done) = (String::new(), None, false);
    for l in text.lines() {
        let t = l.trim();
        if t.starts_with('[') && !t.starts_with("[[") {
            current = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            if current == section {
                header = Some(out.len());
            }
        } else if !done
            && current == section
            && t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            let indent = &l[..l.len() - l.trim_start().len()];
            out.push(format!("{indent}{line}"));
            done = true;
            continue;
        }
        out.push(l.to_string());
    }
    match (done, header) {
        (true, _) => {}
        (false, Some(h)) => out.insert(h + 1, line),
        (false, None) => {
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push(String::new());
            }
            out.push(format!("[{section}]"));
            out.push(line);
        }
    }
    let new = out.join("\n") + "\n";
    let table: toml::Table = toml::from_str(&new).ok()?;
    (table.get(section)?.get(key)? == value).then_some(new)
}

/// Writes `section.key = value` into the user's config file (created when missing), atomically;
/// the running daemon applies it itself, other readers on their next load.
pub fn persist(
    dirs: &Dirs,
    section: &str,
    key: &str,
    value: toml::Value,
) -> Result<PathBuf, String> {
    let file = dirs.config_file();
    let text = read_config(&file)?.unwrap_or_default();
    let Some(new) = set_value(&text, section, key, &value) else {
        return Err(format!(
            "cannot set {section}.{key} in {}: edit it there by hand",
            file.display()
        ));
    };
    let dir = file.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(".config.toml.new");
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&tmp, new))
        .and_then(|()| std::fs::rename(&tmp, &file))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(file)
}

/// `--cargo-home` / `--project` directories that do not exist or are not directories, and
/// `--project` directories that hold neither a Cargo project nor a build (a typo shows nothing,
/// silently).
fn missing_flag_dirs(flags: &FlagOverrides) -> Vec<String> {
    let homes = flags.cargo_homes.iter().map(|p| ("--cargo-home", p));
    let projects = flags.projects.iter().map(|p| ("--project", p));
    let not_built = (flags.projects.iter())
        .filter(|p| looks_unbuilt(p))
        .map(|p| format!("--project {} {NOT_A_PROJECT}", p.display()));
    dir_warnings(homes.chain(projects))
        .chain(not_built)
        .chain(missing_cargo_home())
        .collect()
}

/// `watch.cargo_homes` / `watch.projects` entries of the file or the environment that do not
/// exist or are not directories (the flags' own are [`missing_flag_dirs`]'s).
fn missing_configured_dirs(config: &Config, flags: &FlagOverrides) -> Vec<String> {
    let homes = (config.watch.cargo_homes.iter())
        .filter(|p| !flags.cargo_homes.contains(p))
        .map(|p| ("watch.cargo_homes entry", p));
    let projects = (config.watch.projects.iter())
        .filter(|p| !flags.projects.contains(p))
        .map(|p| ("watch.projects entry", p));
    dir_warnings(homes.chain(projects)).collect()
}

/// The directory a `--project DIR` flag means: `DIR` itself, or when `DIR` has nothing of
/// Cargo's in it but lies inside a Cargo project (its `src`, say), that project's workspace
/// root, whose build dirs hold the locks (as `wait --project` finds them).
pub fn project_flag_dir(dir: PathBuf) -> PathBuf {
    if !looks_unbuilt(&dir) {
        return dir;
    }
    crate::cargo_dirs::workspace_root(&dir).unwrap_or(dir)
}

/// What a `--project` that exists is told when nothing in it is Cargo's.
const NOT_A_PROJECT: &str = "has no Cargo.toml and no build output (CACHEDIR.TAG, debug/, \
    release/): is it the project or target dir you meant? Its locks are looked for there in case \
    a build writes them";

/// One warning per directory that cannot be watched, named as `what` names it.
fn dir_warnings<'a>(
    dirs: impl Iterator<Item = (&'a str, &'a PathBuf)>,
) -> impl Iterator<Item = String> {
    dirs.filter_map(|(what, p)| {
        let why = match dir_problem(p)? {
            DirProblem::Missing => "does not exist; it is watched in case it appears",
            other => other.words(),
        };
        Some(format!("{what} {} {why}", p.display()))
    })
}

/// Whether `p` is a directory with nothing of Cargo's in it: no manifest (a project) and no
/// build output (a target or build dir). A missing `p` is [`dir_problem`]'s to say.
fn looks_unbuilt(p: &Path) -> bool {
    let cargos = [
        "Cargo.toml",
        "CACHEDIR.TAG",
        ".rustc_info.json",
        "debug",
        "release",
    ];
    p.is_dir() && !cargos.iter().any(|c| p.join(c).exists())
}

/// Why a directory to watch cannot be watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DirProblem {
    Missing,
    NotADirectory,
    Unreadable,
}

impl DirProblem {
    fn words(self) -> &'static str {
        match self {
            DirProblem::Missing => "does not exist",
            DirProblem::NotADirectory => "is not a directory; nothing is watched there",
            DirProblem::Unreadable => {
                "cannot be read by you (permission denied): only locks your own processes hold \
                 there are seen; run as its owner or fix its permissions"
            }
        }
    }
}

/// What keeps `p` from being watched, if anything.
fn dir_problem(p: &Path) -> Option<DirProblem> {
    let denied = |e: &std::io::Error| e.kind() == std::io::ErrorKind::PermissionDenied;
    match std::fs::metadata(p) {
        Ok(m) if !m.is_dir() => Some(DirProblem::NotADirectory),
        Ok(_) => match std::fs::read_dir(p) {
            Err(e) if denied(&e) => Some(DirProblem::Unreadable),
            _ => None,
        },
        Err(e) if denied(&e) => Some(DirProblem::Unreadable),
        Err(_) => Some(DirProblem::Missing),
    }
}

/// `CARGO_HOME` naming a directory that is not there (a typo, or no cargo has run with it), or
/// something that is not a directory.
fn missing_cargo_home() -> Option<String> {
    let home = std::env::var_os("CARGO_HOME").filter(|h| !h.is_empty())?;
    let path = Path::new(&home);
    let why = match dir_problem(path)? {
        DirProblem::Missing => {
            "does not exist (no cargo has run with it yet); it is watched in case it appears"
        }
        other => other.words(),
    };
    Some(format!("CARGO_HOME={} {why}", path.display()))
}

/// What a value like `current` looks like in an environment variable, for error messages.
fn expected_form(current: &toml::Value) -> &'static str {
    match current {
        toml::Value::Boolean(_) => "true or false",
        toml::Value::Integer(_) => "a whole number",
        toml::Value::Float(_) => "a number",
        toml::Value::Array(_) => "a list separated by ':'",
        _ => "a duration such as 30s, 5m or 1h",
    }
}

/// Overlays `user`'s values onto `base` one at a time, keeping each that still makes a valid
/// configuration: (dotted key, `None` when taken or why it was not).
fn apply_each(base: &mut toml::Table, user: &toml::Table) -> Vec<(String, Option<String>)> {
    let try_one = |base: &toml::Table, section: &str, value: toml::Value| {
        let mut trial = base.clone();
        let one = toml::Table::from_iter([(section.to_string(), value)]);
        overlay(&mut trial, &one);
        match trial.clone().try_into::<Config>() {
            Ok(_) => Ok(trial),
            Err(e) => Err(one_line(&e.to_string())),
        }
    };
    let mut out = Vec::new();
    for (section, value) in user {
        let singles: Vec<(String, toml::Value)> = match value {
            // An empty section is tried whole: an unknown one is said (review N).
            toml::Value::Table(t) if t.is_empty() => vec![(section.clone(), value.clone())],
            toml::Value::Table(t) => t
                .iter()
                .map(|(k, v)| {
                    let one = toml::Table::from_iter([(k.clone(), v.clone())]);
                    (format!("{section}.{k}"), toml::Value::Table(one))
                })
                .collect(),
            // A value where a section belongs: tried as it is, and refused.
            other => vec![(section.clone(), other.clone())],
        };
        for (key, single) in singles {
            match try_one(base, section, single) {
                Ok(trial) => {
                    *base = trial;
                    out.push((key, None));
                }
                Err(why) => out.push((key, Some(why))),
            }
        }
    }
    out
}

/// Overlays `user` onto `base`, returning the dotted keys it set.
fn overlay(base: &mut toml::Table, user: &toml::Table) -> Vec<String> {
    let mut keys = Vec::new();
    for (section, value) in user {
        match (base.get_mut(section), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(u)) => {
                for (k, v) in u {
                    b.insert(k.clone(), v.clone());
                    keys.push(format!("{section}.{k}"));
                }
            }
            _ => {
                base.insert(section.clone(), value.clone());
                keys.push(section.clone());
            }
        }
    }
    keys
}

fn leaves(table: &toml::Table) -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    for (section, v) in table {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    out.push((format!("{section}.{k}"), v.clone()));
                }
            }
            other => out.push((section.clone(), other.clone())),
        }
    }
    out
}

/// Where in `text` the key a deserialization error names is (1-based line and column): the
/// error of a merged table knows the key (`… in `stale.samples``, `unknown field `x``) but not
/// the place, the spanned parse of the user's own text does.
fn locate(text: &str, error: &str) -> Option<(usize, usize)> {
    let quoted = |marker: &str| {
        let rest = &error[error.find(marker)? + marker.len()..];
        rest.find('`').map(|end| rest[..end].to_string())
    };
    let mut path: Vec<String> = quoted(" in `")
        .map(|p| p.split('.').map(str::to_string).collect())
        .unwrap_or_default();
    let unknown = quoted("unknown field `").or_else(|| quoted("unknown section `"));
    let unknown_key = unknown.is_some();
    path.extend(unknown);
    let doc = toml::de::DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut at = None;
    for part in &path {
        let (key, value) = table.iter().find(|(k, _)| k.get_ref() == part)?;
        match value.get_ref() {
            toml::de::DeValue::Table(t) => {
                at = Some(key.span().start);
                table = t;
            }
            // A wrong value points at the value; an unknown key at the key.
            _ if unknown_key => {
                at = Some(key.span().start);
                break;
            }
            _ => {
                at = Some(value.span().start);
                break;
            }
        }
    }
    Some(line_column(text, at?))
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The first of `text`'s syntax errors, by place: toml's parser goes on after an error and
/// may report a later one (an unclosed string on line 2 read as an unclosed table on line
/// 3: review AB, AB5). `error` is what parsing reported.
fn first_syntax_error(text: &str, error: toml::de::Error) -> toml::de::Error {
    let at = |e: &toml::de::Error| e.span().map_or(usize::MAX, |s| s.start);
    let (_, errors) = toml::de::DeTable::parse_recoverable(text);
    (errors.into_iter())
        .chain(std::iter::once(error))
        .min_by_key(at)
        .expect("at least the error given")
}

/// A TOML syntax error as one readable phrase to follow the file's path:
/// `, line 3, column 7: not valid TOML: unclosed table, expected `]``. toml's own `Display`
/// draws the line with a caret over several lines, which turns into noise once on one line.
fn syntax_error(text: &str, error: &toml::de::Error) -> String {
    let place = match error.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            format!(", line {line}, column {column}")
        }
        None => String::new(),
    };
    if let Some(header) = duplicate_section(text, error) {
        return format!("{place}: not valid TOML: section {header} appears twice; merge them");
    }
    format!("{place}: not valid TOML: {}", one_line(error.message()))
}

/// The `[section]` header a "duplicate key" error points into, when it is one: toml says
/// "duplicate key" of a section given twice (review T, T8).
fn duplicate_section(text: &str, error: &toml::de::Error) -> Option<String> {
    if !error.message().starts_with("duplicate key") {
        return None;
    }
    let start = error.span()?.start;
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |n| n + 1);
    let line = text.get(line_start..)?.lines().next()?.trim();
    (line.starts_with('[') && line.ends_with(']')).then(|| format!("`{line}`"))
}

fn one_line(s: &str) -> String {
    readable(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// serde's words for a config mistake in the file's words: a section is a `[table]`, not a
/// Rust struct or field (review M, N14).
fn readable(error: &str) -> String {
    let mut out = error.to_string();
    // `expected struct WatchConfig in `watch``: a table is expected there.
    if let Some(at) = out.find("expected struct ") {
        let rest = &out[at + "expected struct ".len()..];
        let name_end = rest
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(rest.len());
        out.replace_range(
            at..at + "expected struct ".len() + name_end,
            "expected a section",
        );
    }
    // An unknown top-level key (no ` in `…`` after it) is an unknown section.
    if out.starts_with("unknown field `") && !out.contains(" in `") {
        out = out.replacen("unknown field", "unknown section", 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One Cargo home reached through a symlink is one place (review M, N14).
    #[test]
    fn a_home_and_a_link_to_it_are_one_place() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home2");
        std::fs::create_dir(&home).unwrap();
        let link = dir.path().join("h2link");
        std::os::unix::fs::symlink(&home, &link).unwrap();
        assert!(same_place(&home, &link));
        assert!(same_place(Path::new("/nowhere/a"), Path::new("/nowhere/a")));
        assert!(!same_place(&home, dir.path()));
    }

    /// A reload keeps the running value of each key the file now gets wrong (review O, Q2).
    #[test]
    fn a_reload_keeps_the_running_value_of_a_key_the_file_gets_wrong() {
        let running = load(
            Some("[stale]\nstale_after = \"30s\"\n[watch]\ncargo_homes = [\"/h2\"]\n"),
            &[],
        );
        assert!(running.warnings.is_empty(), "{:?}", running.warnings);
        let broken = load(
            Some("[stale]\nstale_after = 5\n[watch]\ncargo_homes = \"/h2\"\n"),
            &[],
        );
        let keys = broken.keys_to_keep();
        assert_eq!(
            keys,
            ["stale.stale_after", "watch.cargo_homes"],
            "{:?}",
            broken.warnings
        );
        assert_ne!(broken.config, running.config, "the defaults");
        let kept = keep_values(broken.config.clone(), &running.config, &keys);
        assert_eq!(kept, running.config);
        // Nothing to take from a section the running one does not have.
        let odd = keep_values(broken.config.clone(), &running.config, &["bogus".into()]);
        assert_eq!(odd, broken.config);
    }

    /// One-off commands say a refused or out-of-range key gets its default; a reload, which
    /// keeps the running value, says that value instead (review P, R2).
    #[test]
    fn a_reload_says_the_running_value_is_kept_where_a_one_off_says_the_default() {
        let running = load(
            Some("[stale]\nstale_after = \"30s\"\n[watch]\ncargo_homes = [\"/h2\"]\n"),
            &[],
        );
        let broken = load(
            Some(
                "[watch]\ncargo_homes = \"/h3\"\n[stale]\nstale_after = \"5x\"\nsamples = 0\n\
                 bogus = 1\n[notify]\nenabled = false\n",
            ),
            &[],
        );
        let one_off = broken.warnings.join("\n");
        assert!(
            one_off.contains("; ignored, the default is used"),
            "{one_off}"
        );
        assert!(one_off.contains("; using the default for it"), "{one_off}");
        let reload = broken.reload_warnings(&running.config);
        assert_eq!(reload.len(), broken.warnings.len(), "{reload:?}");
        let said = reload.join("\n");
        assert!(!said.contains("default"), "{said}");
        let line = |key: &str| reload.iter().find(|w| w.contains(key)).unwrap().clone();
        assert!(
            line("stale.stale_after").ends_with("`stale.stale_after`; kept \"30s\""),
            "{said}"
        );
        assert!(
            line("watch.cargo_homes").ends_with("; kept [\"/h2\"]"),
            "{said}"
        );
        assert!(
            line("stale.samples")
                .ends_with("must be between 1 and 100 (/cfg/config.toml, line 5); kept 3"),
            "{said}"
        );
        // An unknown key has no value in use: it is only ignored.
        assert!(line("bogus").ends_with("; ignored"), "{said}");
    }

    #[test]
    fn an_unknown_name_is_ignored_with_the_nearest_known_one_not_defaulted() {
        let l = load(
            Some("[stale]\nstale_afer = \"30s\"\n[nosuch]\nx = 1\n[watch]\nbogus = 1\n"),
            &[],
        );
        let said = l.warnings.join("\n");
        let line = |what: &str| (l.warnings.iter()).find(|w| w.contains(what)).unwrap();
        assert!(
            line("unknown field `stale_afer`").ends_with("; ignored (did you mean `stale_after`?)"),
            "{said}"
        );
        assert!(
            line("unknown section `nosuch`").ends_with("; ignored"),
            "{said}"
        );
        assert!(
            line("unknown field `bogus`").ends_with("; ignored"),
            "{said}"
        );
        assert!(!said.contains("the default is used"), "{said}");
    }

    #[test]
    fn an_empty_unknown_section_is_said_an_empty_known_one_is_fine() {
        let l = load(Some("[bogus]\n"), &[]);
        assert!(
            l.warnings
                .iter()
                .any(|w| w.contains("unknown section `bogus`")),
            "{:?}",
            l.warnings
        );
        assert!(load(Some("[watch]\n"), &[]).warnings.is_empty());
    }

    #[test]
    fn serde_s_words_become_the_file_s() {
        assert_eq!(
            readable("invalid type: integer `5`, expected struct WatchConfig in `watch`"),
            "invalid type: integer `5`, expected a section in `watch`"
        );
        assert_eq!(
            readable("unknown field `bogus`, expected one of `watch`, `stale`"),
            "unknown section `bogus`, expected one of `watch`, `stale`"
        );
        let nested = "unknown field `x`, expected one of `a` in `stale`";
        assert_eq!(readable(nested), nested);
    }

    #[test]
    fn config_shows_a_long_list_as_its_first_entries_and_how_many_more() {
        let mut c = Config::defaults();
        c.watch.projects = (0..500).map(|i| PathBuf::from(format!("/p{i}"))).collect();
        let flat = c.flatten();
        let (_, shown) = flat.iter().find(|(k, _)| k == "watch.projects").unwrap();
        assert_eq!(shown, r#"["/p0", "/p1", "/p2", … 497 more]"#);
        c.watch.projects.truncate(2);
        let flat = c.flatten();
        let (_, shown) = flat.iter().find(|(k, _)| k == "watch.projects").unwrap();
        assert_eq!(shown, r#"["/p0", "/p1"]"#);
    }

    #[test]
    fn a_value_out_of_range_says_where_it_was_set_and_is_marked_rejected() {
        let l = load(
            Some("[watch]\npoll_interval = \"1s\"\n\n[stale]\nsamples = 0\n"),
            &[],
        );
        assert_eq!(l.config.stale.samples, Config::defaults().stale.samples);
        let w = l.warnings.join("\n");
        assert!(
            w.contains("stale.samples must be between 1 and") && w.contains("config.toml, line 5)"),
            "{w}"
        );
        assert!(matches!(
            l.rejected.get("stale.samples"),
            Some(Provenance::File(_))
        ));
        let l = load(None, &[("LOCKWATCH_STALE_SAMPLES", "0")]);
        let w = l.warnings.join("\n");
        assert!(w.contains("(env LOCKWATCH_STALE_SAMPLES)"), "{w}");
    }

    fn load(file: Option<&str>, env: &[(&str, &str)]) -> Loaded {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Loaded::from_sources(
            file,
            Path::new("/cfg/config.toml"),
            env,
            &FlagOverrides::default(),
        )
    }

    #[test]
    fn defaults_are_sane() {
        let l = load(None, &[]);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(l.config, Config::defaults());
        assert!(l.config.check().is_ok());
        assert_eq!(l.provenance["stale.stale_after"], Provenance::Default);
    }

    #[test]
    fn layers_file_then_env_then_flags_with_provenance() {
        let flags = FlagOverrides {
            cargo_homes: vec!["/extra".into()],
            projects: vec![],
        };
        let l = Loaded::from_sources(
            Some("[stale]\nstale_after = \"7m\"\nsamples = 5\n"),
            Path::new("/cfg/config.toml"),
            vec![
                ("LOCKWATCH_STALE_SAMPLES".into(), "4".into()),
                ("LOCKWATCH_NOTIFY_ENABLED".into(), "no".into()),
            ],
            &flags,
        );
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(l.config.stale.stale_after, Duration::from_secs(420));
        assert_eq!(l.config.stale.samples, 4);
        assert!(!l.config.notify.enabled);
        assert_eq!(l.config.watch.cargo_homes, vec![PathBuf::from("/extra")]);
        assert_eq!(
            l.provenance["stale.stale_after"],
            Provenance::File("/cfg/config.toml".into())
        );
        assert_eq!(
            l.provenance["stale.samples"],
            Provenance::Env("LOCKWATCH_STALE_SAMPLES".into())
        );
        assert_eq!(
            l.provenance["watch.cargo_homes"],
            Provenance::Flag("--cargo-home".into())
        );
    }

    #[test]
    fn a_setting_is_written_keeping_the_rest_of_the_file() {
        let on = toml::Value::Boolean(true);
        // Missing file: the section is created.
        assert_eq!(
            set_value("", "policy", "yield_ide", &on).unwrap(),
            "[policy]\nyield_ide = true\n"
        );
        // Existing key: replaced in place, comments and order kept.
        let text = "# mine\n[policy]\n  yield_ide = false # no\nyield_after = \"5s\"\n";
        assert_eq!(
            set_value(text, "policy", "yield_ide", &on).unwrap(),
            "# mine\n[policy]\n  yield_ide = true\nyield_after = \"5s\"\n"
        );
        // A section without the key: added under the header, not in another section.
        let text = "[policy]\nyield_after = \"5s\"\n[notify]\nenabled = false\n";
        let new = set_value(text, "policy", "yield_ide", &on).unwrap();
        assert_eq!(
            new,
            "[policy]\nyield_ide = true\nyield_after = \"5s\"\n[notify]\nenabled = false\n"
        );
        let l = load(Some(&new), &[]);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert!(l.config.policy.yield_ide && !l.config.notify.enabled);
        // Another section only: appended.
        let new = set_value("[notify]\nenabled = false", "policy", "yield_ide", &on).unwrap();
        assert_eq!(
            new,
            "[notify]\nenabled = false\n\n[policy]\nyield_ide = true\n"
        );
        // A layout it cannot edit safely is refused, not broken.
        assert_eq!(
            set_value(
                "policy = { yield_ide = false }\n",
                "policy",
                "yield_ide",
                &on
            ),
            None
        );
    }

    #[test]
    fn persisting_a_setting_creates_or_edits_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = Dirs {
            config: dir.path().join("cfg"),
            ..Dirs::from_env()
        };
        let file = persist(&dirs, "policy", "yield_ide", toml::Value::Boolean(true)).unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "[policy]\nyield_ide = true\n"
        );
        persist(&dirs, "policy", "yield_ide", toml::Value::Boolean(false)).unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "[policy]\nyield_ide = false\n"
        );
    }

    /// `~` and `$HOME` at the start of a watched directory are the user's home, as a shell
    /// would have it; anything still relative cannot be watched (review K, L9).
    #[test]
    fn a_watched_directory_s_tilde_and_home_are_expanded() {
        let home = Path::new("/home/me");
        let expand = |entry: &str| expand_home(Path::new(entry), Some(home));
        assert_eq!(expand("~"), Ok(PathBuf::from("/home/me")));
        assert_eq!(expand("~/.cargo"), Ok(PathBuf::from("/home/me/.cargo")));
        assert_eq!(
            expand("$HOME/src/app"),
            Ok(PathBuf::from("/home/me/src/app"))
        );
        assert_eq!(expand("${HOME}/src"), Ok(PathBuf::from("/home/me/src")));
        assert_eq!(expand("$HOME"), Ok(PathBuf::from("/home/me")));
        assert_eq!(expand("/srv/~/x"), Ok(PathBuf::from("/srv/~/x")));
        for relative in ["relative/home", "$HOMEDIR/x", "./src"] {
            let why = expand(relative).unwrap_err();
            assert!(
                why.starts_with("is a relative path: write an absolute path"),
                "{relative}: {why}"
            );
        }
        // `~user` is not a relative path: it is not expanded (review L, M11).
        for (entry, word) in [("~other/.cargo", "~other"), ("~.cargo", "~.cargo")] {
            assert_eq!(
                expand(entry).unwrap_err(),
                format!(
                    "starts with `{word}`, which is not expanded (only `~/` and `$HOME` are): \
                     write an absolute path"
                )
            );
        }
        let why = expand_home(Path::new("~/.cargo"), None).unwrap_err();
        assert!(
            why.contains("starts with ~, but HOME is not set") && why.contains("absolute path"),
            "{why}"
        );

        let mut watch = Config::defaults().watch;
        watch.cargo_homes = vec!["~/.cargo".into(), "relative/home".into()];
        watch.projects = vec!["$HOME/src".into(), "/abs".into()];
        let dropped = expand_watched_dirs(&mut watch, Some(home));
        assert_eq!(watch.cargo_homes, [PathBuf::from("/home/me/.cargo")]);
        assert_eq!(
            watch.projects,
            [PathBuf::from("/home/me/src"), PathBuf::from("/abs")]
        );
        assert_eq!(dropped.len(), 1, "{dropped:?}");
        assert_eq!(
            (dropped[0].0, dropped[0].1.as_str()),
            ("watch.cargo_homes", "relative/home")
        );
    }

    /// A `~user` entry is said to be not expanded, not "a relative path" (review L, M11).
    #[test]
    fn a_tilde_user_entry_is_said_not_to_be_expanded() {
        let l = load(Some("[watch]\nprojects = [\"~lwtest/x\", \"/p\"]\n"), &[]);
        assert_eq!(l.config.watch.projects, [PathBuf::from("/p")]);
        assert_eq!(
            l.warnings,
            [
                "watch.projects entry ~lwtest/x (/cfg/config.toml, line 2) starts with `~lwtest`, \
              which is not expanded (only `~/` and `$HOME` are): write an absolute path; ignored"
            ]
        );
    }

    /// A relative entry is a config problem named with where it was written, and ignored.
    #[test]
    fn a_relative_watched_directory_is_warned_about_and_ignored() {
        let l = load(
            Some("[watch]\ncargo_homes = [\"relative/home\", \"/h\"]\nprojects = [\"src\"]\n"),
            &[],
        );
        assert_eq!(l.config.watch.cargo_homes, [PathBuf::from("/h")]);
        assert!(l.config.watch.projects.is_empty());
        assert_eq!(
            l.warnings,
            [
                "watch.cargo_homes entry relative/home (/cfg/config.toml, line 2) is a relative \
                 path: write an absolute path (`~` and `$HOME` at its start are expanded); ignored",
                "watch.projects entry src (/cfg/config.toml, line 3) is a relative path: write an \
                 absolute path (`~` and `$HOME` at its start are expanded); ignored",
            ]
        );
        // An empty entry is said to be one, not shown as a blank (review P, R15).
        let l = load(Some("[watch]\ncargo_homes = [\"/h\", \"\"]\n"), &[]);
        assert_eq!(l.config.watch.cargo_homes, [PathBuf::from("/h")]);
        assert_eq!(
            l.warnings,
            [
                "an empty entry in watch.cargo_homes (/cfg/config.toml, line 2); ignored: remove \
              it, or write the absolute path you meant"
            ]
        );
        let l = load(None, &[("LOCKWATCH_WATCH_PROJECTS", "/p:rel")]);
        assert_eq!(l.config.watch.projects, [PathBuf::from("/p")]);
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        assert!(
            l.warnings[0].starts_with("watch.projects entry rel (env LOCKWATCH_WATCH_PROJECTS)"),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn flag_directories_that_do_not_exist_are_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let flags = FlagOverrides {
            cargo_homes: vec![dir.path().to_path_buf(), dir.path().join("typo")],
            projects: vec![dir.path().join("nope")],
        };
        let w = missing_flag_dirs(&flags);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("--cargo-home ") && w[0].contains("typo does not exist"));
        assert!(w[1].starts_with("--project ") && w[1].contains("nope"));
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let project = dir.path().join("app");
        std::fs::create_dir(&project).unwrap();
        std::fs::write(project.join("Cargo.toml"), "").unwrap();
        let flags = FlagOverrides {
            cargo_homes: vec![file],
            projects: vec![project],
        };
        let w = missing_flag_dirs(&flags);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].ends_with("a-file is not a directory; nothing is watched there"));
    }

    #[test]
    fn a_project_flag_naming_a_directory_with_nothing_of_cargos_is_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let (empty, target) = (dir.path().join("empty"), dir.path().join("target"));
        std::fs::create_dir(&empty).unwrap();
        std::fs::create_dir_all(target.join("debug")).unwrap();
        let flags = FlagOverrides {
            cargo_homes: vec![],
            projects: vec![empty.clone(), target],
        };
        let w = missing_flag_dirs(&flags);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with(&format!("--project {} has no Cargo.toml", empty.display())),
            "{w:?}"
        );
    }

    #[test]
    fn a_project_flag_inside_a_project_means_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("pp");
        std::fs::create_dir_all(project.join("src")).unwrap();
        std::fs::write(project.join("Cargo.toml"), "[package]\nname = \"pp\"\n").unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert_eq!(project_flag_dir(project.join("src")), project);
        assert_eq!(project_flag_dir(project.clone()), project);
        // Nothing of Cargo's above it either: left as named (and warned about).
        assert_eq!(project_flag_dir(empty.clone()), empty);
        let gone = dir.path().join("gone");
        assert_eq!(project_flag_dir(gone.clone()), gone);
        let flags = FlagOverrides {
            cargo_homes: vec![],
            projects: vec![project_flag_dir(project.join("src"))],
        };
        let w = missing_flag_dirs(&flags);
        assert!(!w.iter().any(|w| w.contains("--project")), "{w:?}");
    }

    #[test]
    fn configured_directories_that_do_not_exist_are_warned_about_once() {
        let dir = tempfile::tempdir().unwrap();
        let (gone, flagged) = (dir.path().join("gone"), dir.path().join("flagged"));
        let mut config = Config::defaults();
        config.watch.projects = vec![gone.clone(), flagged.clone()];
        config.watch.cargo_homes = vec![dir.path().join("no-home"), dir.path().to_path_buf()];
        // `flagged` came from --project: the flag's own warning says it.
        let flags = FlagOverrides {
            cargo_homes: vec![],
            projects: vec![flagged],
        };
        let w = missing_configured_dirs(&config, &flags);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("watch.cargo_homes entry ") && w[0].contains("no-home does not exist"),
            "{w:?}"
        );
        assert_eq!(
            w[1],
            format!(
                "watch.projects entry {} does not exist; it is watched in case it appears",
                gone.display()
            )
        );
    }

    #[test]
    fn a_broken_file_is_reported_with_line_and_column() {
        let l = load(Some("[stale]\nstale_after = \n"), &[]);
        assert_eq!(l.config, Config::defaults());
        assert_eq!(l.warnings.len(), 1);
        assert!(
            l.warnings[0].contains("not valid TOML") && l.warnings[0].contains("line 2"),
            "{}",
            l.warnings[0]
        );

        let l = load(Some("[stale]\nstale_after = \"soon\"\n"), &[]);
        assert_eq!(l.config, Config::defaults());
        assert!(l.warnings[0].contains("soon"), "{}", l.warnings[0]);
        assert!(
            l.warnings[0].contains("config.toml, line 2, column 15:"),
            "the value: {}",
            l.warnings[0]
        );

        let l = load(Some("[stale]\nbogus = 1\n"), &[]);
        assert!(l.warnings[0].contains("bogus"), "{}", l.warnings[0]);
        assert!(
            l.warnings[0].contains("line 2, column 1"),
            "{}",
            l.warnings[0]
        );

        // A type error names its line and column too; the file's good values are kept.
        let l = load(
            Some("# mine\n[notify]\nenabled = false\n[stale]\n  samples = \"x\"\n"),
            &[],
        );
        assert!(!l.config.notify.enabled, "the good value is kept");
        assert_eq!(l.config.stale.samples, Config::defaults().stale.samples);
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        assert!(
            l.warnings[0].contains("line 5, column 13") && l.warnings[0].contains("stale.samples"),
            "{}",
            l.warnings[0]
        );
        assert_eq!(
            l.provenance["notify.enabled"],
            Provenance::File("/cfg/config.toml".into())
        );
        assert_eq!(l.provenance["stale.samples"], Provenance::Default);
    }

    /// Refused values are said in the file's order, and a section given twice is said so,
    /// not "duplicate key" (review T, T8).
    #[test]
    fn refusals_come_in_the_file_s_order_and_a_repeated_section_is_named() {
        let l = load(
            Some("[stale]\nstale_aftr = \"3m\"\n[bogus]\nx = 1\n[notify]\nenabled = 3\n"),
            &[],
        );
        let lines: Vec<&str> = (l.warnings.iter())
            .filter_map(|w| w.split(", line ").nth(1))
            .filter_map(|rest| rest.split(',').next())
            .collect();
        assert_eq!(lines, ["2", "3", "6"], "{:?}", l.warnings);
        let l = load(
            Some("[stale]\nstale_after = \"3m\"\n[stale]\nidle_window = \"1m\"\n"),
            &[],
        );
        assert!(
            l.warnings[0].contains("section `[stale]` appears twice; merge them"),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn a_syntax_error_reads_as_one_sentence_with_its_place_and_what_to_do() {
        let l = load(Some("# mine\n\n[stale\nx=1\n"), &[]);
        assert_eq!(l.config, Config::defaults());
        assert_eq!(
            l.file_unusable.as_deref(),
            Some(
                "/cfg/config.toml, line 3, column 7: not valid TOML: unclosed table, expected `]`"
            )
        );
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        let w = &l.warnings[0];
        assert!(
            !w.contains('|') && !w.contains('\n'),
            "no caret drawing: {w}"
        );
        assert!(w.contains("until you fix it"), "{w}");
        assert!(w.contains("a running daemon keeps its settings"), "{w}");
        // Columns count characters, not bytes.
        let l = load(Some("# é\n[stale]\nk = \"é\" x\n"), &[]);
        let why = l.file_unusable.expect("not TOML");
        assert!(why.contains(", line 3, column 9: "), "{why}");
        // Of two errors, the first is said (review AB, AB5).
        let l = load(
            Some("[stale]\nstale_after = \"30s\n[watch\nprojects = 5\n"),
            &[],
        );
        let why = l.file_unusable.expect("not TOML");
        assert!(why.contains(", line 2, column "), "{why}");
    }

    #[test]
    fn a_typo_turns_off_nothing_else() {
        let l = load(
            Some(
                "[policy]\nyield_ide = true\n[watch]\npol_interval = \"1s\"\nprojects = [\"/p\"]\n",
            ),
            &[],
        );
        assert!(l.config.policy.yield_ide);
        assert_eq!(l.config.watch.projects, [PathBuf::from("/p")]);
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        assert!(
            l.warnings[0].contains("pol_interval") && l.warnings[0].contains("line 4, column 1"),
            "{}",
            l.warnings[0]
        );
        // A value where a section belongs.
        let l = load(Some("stale = 3\n[notify]\nenabled = false\n"), &[]);
        assert!(!l.config.notify.enabled);
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    }

    #[test]
    fn every_out_of_range_value_is_named_and_shown_as_the_default() {
        let l = load(
            Some("[stale]\nsamples = 0\nsample_interval = \"0s\"\n[daemon]\nmax_clients = 0\n"),
            &[],
        );
        assert_eq!(l.warnings.len(), 3, "{:?}", l.warnings);
        assert_eq!(l.config, Config::defaults());
        for key in [
            "stale.samples",
            "stale.sample_interval",
            "daemon.max_clients",
        ] {
            assert_eq!(l.provenance[key], Provenance::Default, "{key}");
            assert!(l.warnings.iter().any(|w| w.contains(key)), "{key}");
        }
    }

    /// `stale_after = "0s"` and the other `stale` durations that would make a holder stale at
    /// once are out of range: warned, the default used, and a reload keeps the running value
    /// (review P, R14).
    #[test]
    fn stale_durations_below_their_floor_are_out_of_range() {
        let text = "[stale]\nstale_after = \"0s\"\nidle_window = \"500ms\"\n\
                    idle_child_after = \"0s\"\n";
        let l = load(Some(text), &[]);
        assert_eq!(l.config, Config::defaults(), "{:?}", l.warnings);
        assert_eq!(l.warnings.len(), 3, "{:?}", l.warnings);
        assert!(
            l.warnings.contains(
                &"stale.stale_after must be at least 1s (/cfg/config.toml, line 2); using the \
                  default for it"
                    .to_string()
            ),
            "{:?}",
            l.warnings
        );
        for (key, floor) in [
            ("stale.idle_window", "at least 1s"),
            ("stale.idle_child_after", "at least 1s"),
        ] {
            assert!(
                l.warnings
                    .iter()
                    .any(|w| w.contains(key) && w.contains(floor)),
                "{key}: {:?}",
                l.warnings
            );
        }
        assert_eq!(
            l.keys_to_keep(),
            [
                "stale.idle_child_after",
                "stale.idle_window",
                "stale.stale_after"
            ]
        );
        // The bound itself is fine, and a stopped holder may be stale at once.
        let l = load(
            Some("[stale]\nstale_after = \"1s\"\nstopped_grace = \"0s\"\nidle_window = \"1s\"\n"),
            &[],
        );
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    }

    #[test]
    fn a_fifo_a_device_or_a_huge_file_in_place_of_the_config_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = Dirs {
            config: dir.path().to_path_buf(),
            ..Dirs::from_env()
        };
        let file = dir.path().join("config.toml");
        let fifo = std::ffi::CString::new(file.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path; nothing else.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        // Nobody writes to it: a blocking open would never return.
        let l = Loaded::load(&dirs, &FlagOverrides::default());
        assert_eq!(l.config, Config::defaults());
        let w = l.warnings.first().unwrap();
        assert!(
            w.contains("it is a FIFO, not a file") && w.contains("defaults apply"),
            "{w}"
        );
        let persisted = persist(&dirs, "policy", "yield_ide", toml::Value::Boolean(true));
        assert!(persisted.is_err_and(|e| e.contains("FIFO")));

        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &file).unwrap();
        let l = Loaded::load(&dirs, &FlagOverrides::default());
        assert!(
            l.warnings[0].contains("it is a device, not a file"),
            "{:?}",
            l.warnings
        );

        std::fs::remove_file(&file).unwrap();
        let comment = format!("# {}\n", "x".repeat(1 << 20));
        std::fs::write(&file, comment).unwrap();
        let l = Loaded::load(&dirs, &FlagOverrides::default());
        assert!(
            l.warnings[0].contains("larger than 1024 KiB"),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn a_dangling_symlink_or_a_file_not_in_utf8_is_said_not_taken_for_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = Dirs {
            config: dir.path().to_path_buf(),
            ..Dirs::from_env()
        };
        let file = dir.path().join("config.toml");
        std::os::unix::fs::symlink("/nonexistent/x", &file).unwrap();
        let l = Loaded::load(&dirs, &FlagOverrides::default());
        assert_eq!(l.config, Config::defaults());
        let said = format!(
            "{} is a symlink to /nonexistent/x, which does not exist; defaults apply (a running \
             daemon keeps its settings until SIGHUP finds the file valid)",
            file.display()
        );
        assert_eq!(l.warnings.first(), Some(&said), "{:?}", l.warnings);
        assert!(
            l.file_unusable.is_some(),
            "a reload keeps the settings in use"
        );

        std::fs::remove_file(&file).unwrap();
        std::fs::write(&file, b"[stale]\nsamples = 4 # caf\xe9\n").unwrap();
        let l = Loaded::load(&dirs, &FlagOverrides::default());
        let w = l.warnings.first().unwrap();
        assert!(
            w.contains("not UTF-8 at line 2, column 18 (byte 25)") && w.contains("save it as"),
            "{w}"
        );

        std::fs::remove_file(&file).unwrap();
        let l = Loaded::load(&dirs, &FlagOverrides::default());
        assert!(l.file_unusable.is_none() && !l.warnings.iter().any(|w| w.contains("config.toml")));
    }

    #[test]
    fn values_past_their_upper_bound_fall_back_to_the_default() {
        let l = load(
            Some(
                "[stale]\nsamples = 4294967295\nidle_cpu_secs = 1e308\n\
                 [daemon]\nhistory_max_bytes = 9223372036854775807\nlog_max_bytes = 1073741825\n",
            ),
            &[],
        );
        assert_eq!(l.config, Config::defaults(), "{:?}", l.warnings);
        assert_eq!(l.warnings.len(), 4, "{:?}", l.warnings);
        for (key, bound) in [
            ("stale.samples", "between 1 and 100"),
            ("stale.idle_cpu_secs", "between 0 and 3600"),
            ("daemon.history_max_bytes", "between 4096 and 1073741824"),
            ("daemon.log_max_bytes", "between 4096 and 1073741824"),
        ] {
            assert_eq!(l.provenance[key], Provenance::Default, "{key}");
            assert!(
                l.warnings
                    .iter()
                    .any(|w| w.contains(key) && w.contains(bound) && w.contains("default")),
                "{key}: {:?}",
                l.warnings
            );
        }
        // Infinity and NaN are no numbers of seconds either; the bounds themselves are fine.
        for bad in ["inf", "nan"] {
            let l = load(None, &[("LOCKWATCH_STALE_IDLE_CPU_SECS", bad)]);
            assert_eq!(l.config.stale.idle_cpu_secs, 0.2, "{bad}: {:?}", l.warnings);
            assert_eq!(l.warnings.len(), 1, "{bad}: {:?}", l.warnings);
        }
        let l = load(
            Some(
                "[stale]\nsamples = 100\nidle_cpu_secs = 3600.0\n\
                 [daemon]\nhistory_max_bytes = 1073741824\n",
            ),
            &[],
        );
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(l.config.stale.samples, 100);
        assert_eq!(l.config.daemon.history_max_bytes, MAX_FILE_BYTES);
    }

    #[test]
    fn the_runtime_dir_comes_from_the_override_then_the_os_then_xdg_then_tmp() {
        let all = RuntimeSources {
            explicit: Some("/mine".into()),
            darwin_user_temp: Some("/var/folders/ab/xyz/T/".into()),
            xdg_runtime: Some("/run/user/501".into()),
            temp_dir: "/tmp/shell-only".into(),
            uid: 501,
        };
        assert_eq!(runtime_dir(&all), Path::new("/mine"));
        // macOS: the OS's per-user temp dir, whatever $TMPDIR or XDG_RUNTIME_DIR say, so the
        // launchd agent and a shell agree.
        let mac = RuntimeSources {
            explicit: None,
            ..all.clone()
        };
        assert_eq!(
            runtime_dir(&mac),
            Path::new("/var/folders/ab/xyz/T/cargo-lockwatch")
        );
        let mut agent = mac.clone();
        agent.temp_dir = "/private/tmp".into();
        agent.xdg_runtime = None;
        assert_eq!(runtime_dir(&agent), runtime_dir(&mac));
        // Linux: XDG_RUNTIME_DIR, else a per-user directory in the temp dir.
        let linux = RuntimeSources {
            darwin_user_temp: None,
            ..mac.clone()
        };
        assert_eq!(
            runtime_dir(&linux),
            Path::new("/run/user/501/cargo-lockwatch")
        );
        let bare = RuntimeSources {
            xdg_runtime: None,
            ..linux
        };
        assert_eq!(
            runtime_dir(&bare),
            Path::new("/tmp/shell-only/cargo-lockwatch-501")
        );
    }

    /// A relative LOCKWATCH_*_DIR is made absolute as `install` writes it, with a warning; a
    /// relative XDG_RUNTIME_DIR is ignored, as the XDG rule says (review Y, Y9).
    #[test]
    fn relative_dir_variables_are_made_absolute_with_a_warning() {
        let cwd = Path::new("/home/me/p");
        let (dir, warning) = absolute_dir("LOCKWATCH_RUNTIME_DIR", "rel".into(), Some(cwd));
        assert_eq!(dir.as_deref(), Some(Path::new("/home/me/p/rel")));
        assert_eq!(
            warning.as_deref(),
            Some(
                "LOCKWATCH_RUNTIME_DIR=rel is a relative path: /home/me/p/rel is used (from the \
                 current directory; a command run from another directory would use another \
                 one); set LOCKWATCH_RUNTIME_DIR to an absolute path"
            )
        );
        let (dir, warning) = absolute_dir("LOCKWATCH_DATA_DIR", "/abs".into(), Some(cwd));
        assert_eq!((dir.as_deref(), warning), (Some(Path::new("/abs")), None));
        let (dir, warning) = absolute_dir("LOCKWATCH_DATA_DIR", "d".into(), None);
        assert_eq!(dir, None);
        assert!(
            warning.is_some_and(|w| w.starts_with("LOCKWATCH_DATA_DIR=d is a relative path")
                && w.contains("ignored and the default is used"))
        );
        let relative_xdg = RuntimeSources {
            xdg_runtime: Some("run/user".into()),
            temp_dir: "/tmp".into(),
            uid: 501,
            ..RuntimeSources::default()
        };
        assert_eq!(
            runtime_dir(&relative_xdg),
            Path::new("/tmp/cargo-lockwatch-501")
        );
    }

    /// A data directory that is a file, or lies under one, is said with the variable and what
    /// to do (review Y, Y8).
    #[test]
    fn a_data_directory_that_is_not_one_is_named_with_its_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("afile");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(not_a_directory(tmp.path()), None);
        assert_eq!(not_a_directory(&tmp.path().join("new/data")), None);
        assert_eq!(not_a_directory(&file), Some(file.clone()));
        assert_eq!(not_a_directory(&file.join("data")), Some(file.clone()));
        let named = DataDirNotDir {
            data: "/tmp/afile".into(),
            found: "/tmp/afile".into(),
            from_variable: true,
        };
        assert_eq!(
            named.to_string(),
            "LOCKWATCH_DATA_DIR=/tmp/afile is not a directory: move /tmp/afile aside, or set \
             LOCKWATCH_DATA_DIR to a directory of your own"
        );
        let default_under_a_file = DataDirNotDir {
            data: "/h/.local/share/cargo-lockwatch".into(),
            found: "/h/.local".into(),
            from_variable: false,
        };
        assert_eq!(
            default_under_a_file.problem(),
            "the data directory /h/.local/share/cargo-lockwatch cannot be made, as /h/.local is \
             not a directory"
        );
    }

    #[test]
    fn confstr_answers_are_read_with_their_nul_and_sizes() {
        assert_eq!(confstr_value(b"/var/x/T/\0junk", 10), ConfstrValue::Text(9));
        assert_eq!(confstr_value(b"abc", 0), ConfstrValue::Missing);
        assert_eq!(confstr_value(b"\0", 1), ConfstrValue::Missing);
        assert_eq!(confstr_value(b"ab", 40), ConfstrValue::Larger(40));
        // The real call, with a name every libc defines: the default PATH.
        let path = confstr(libc::_CS_PATH).expect("_CS_PATH has a value");
        assert!(path.to_string_lossy().contains("/bin"), "{path:?}");
        assert_eq!(confstr(-12345), None);
    }

    #[test]
    fn bad_env_and_nonsense_values_are_reported_not_fatal() {
        let l = load(
            None,
            &[
                ("LOCKWATCH_STALE_SAMPLES", "many"),
                ("LOCKWATCH_RUNTIME_DIR", "/x"),
            ],
        );
        assert_eq!(l.config, Config::defaults());
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        assert!(
            l.warnings[0].contains("(expected a whole number)"),
            "{:?}",
            l.warnings
        );
        let l = load(Some("[stale]\nsamples = 0\n"), &[]);
        assert_eq!(l.config.stale.samples, Config::defaults().stale.samples);
        assert!(l.warnings[0].contains("samples"));
    }

    #[test]
    fn an_unknown_lockwatch_variable_is_named_with_the_closest_key() {
        let other: Vec<(&str, &str)> = OTHER_VARIABLES.iter().map(|v| (*v, "/x")).collect();
        let l = load(None, &other);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        for (typo, meant) in [
            (
                "LOCKWATCH_STALE_STALE_AFTERR",
                "LOCKWATCH_STALE_STALE_AFTER",
            ),
            ("LOCKWATCH_POLCY_YIELD_IDE", "LOCKWATCH_POLICY_YIELD_IDE"),
            ("LOCKWATCH_RUNTIME_DIRS", "LOCKWATCH_RUNTIME_DIR"),
            ("LOCKWATCH_log", "LOCKWATCH_LOG"),
        ] {
            let l = load(None, &[(typo, "true")]);
            assert_eq!(l.config, Config::defaults());
            assert_eq!(
                l.warnings,
                [format!(
                    "{typo} is set, but it is no setting or variable of cargo-lockwatch; \
                     ignored (did you mean {meant}?)"
                )]
            );
        }
        // Nothing near: no guess.
        let l = load(None, &[("LOCKWATCH_FROBNICATE", "1"), ("LOCKWATCH_", "1")]);
        assert_eq!(l.warnings.len(), 2, "{:?}", l.warnings);
        assert!(
            l.warnings.iter().all(|w| w.ends_with("; ignored")),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("POLCY", "POLICY"), 1);
        assert_eq!(edit_distance("é", "e"), 1);
    }

    #[test]
    fn absurd_durations_fall_back_instead_of_overflowing() {
        let l = load(None, &[("LOCKWATCH_WATCH_POLL_INTERVAL", "500000000000y")]);
        assert_eq!(
            l.config.watch.poll_interval,
            Config::defaults().watch.poll_interval
        );
        assert!(
            l.warnings.iter().any(|w| w.contains("poll_interval")),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn flatten_lists_every_key() {
        let keys: Vec<String> = Config::defaults()
            .flatten()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert!(keys.contains(&"stale.idle_window".to_string()));
        assert!(keys.contains(&"notify.cooldown".to_string()));
    }
}
