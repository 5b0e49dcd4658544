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

/// What to watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// Cargo homes watched besides `$CARGO_HOME` (or `~/.cargo`).
    pub cargo_homes: Vec<PathBuf>,
    /// Project roots (or target dirs) whose build locks are listed up front; others are
    /// discovered when a cargo locks them.
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
    /// Process names never reported as stale nor offered for termination.
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
    /// Problems that were worked around (bad file, bad env value); shown to the user.
    pub warnings: Vec<String>,
    /// The file that was (or would be) read.
    pub file: PathBuf,
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
        let proj = directories::ProjectDirs::from("", "", "cargo-lockwatch");
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
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
        // Sockets want short paths (104 bytes on macOS): XDG_RUNTIME_DIR on Linux, a per-user
        // directory under the temp dir otherwise.
        // SAFETY: getuid cannot fail and has no preconditions.
        let uid = unsafe { libc::getuid() };
        let runtime = env("LOCKWATCH_RUNTIME_DIR")
            .or_else(|| env("XDG_RUNTIME_DIR").map(|d| d.join("cargo-lockwatch")))
            .unwrap_or_else(|| std::env::temp_dir().join(format!("cargo-lockwatch-{uid}")));
        Dirs {
            config,
            data,
            runtime,
        }
    }

    /// The config file.
    pub fn config_file(&self) -> PathBuf {
        std::env::var_os("LOCKWATCH_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.config.join("config.toml"))
    }
}

/// Flags that override config values (from the command line).
#[derive(Debug, Clone, Default)]
pub struct FlagOverrides {
    /// `--cargo-home`, repeatable.
    pub cargo_homes: Vec<PathBuf>,
    /// `--project`, repeatable.
    pub projects: Vec<PathBuf>,
}

/// The Cargo home Cargo itself would use: `$CARGO_HOME`, else `~/.cargo`.
pub fn default_cargo_home() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("CARGO_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(h));
    }
    directories::BaseDirs::new().map(|b| b.home_dir().join(".cargo"))
}

impl Loaded {
    /// Loads defaults, the file, the environment and flags, in that order.
    pub fn load(dirs: &Dirs, flags: &FlagOverrides) -> Loaded {
        let file = dirs.config_file();
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                let mut l = Self::from_sources(None, &file, env_pairs(), flags);
                l.warnings.insert(
                    0,
                    format!("cannot read {}: {e}; using defaults", file.display()),
                );
                return l;
            }
        };
        Self::from_sources(text.as_deref(), &file, env_pairs(), flags)
    }

    /// Layers the given sources (pure, for tests).
    pub fn from_sources(
        file_text: Option<&str>,
        file: &Path,
        env: Vec<(String, String)>,
        flags: &FlagOverrides,
    ) -> Loaded {
        let mut warnings = Vec::new();
        let mut table: toml::Table =
            toml::from_str(DEFAULT_TOML).expect("built-in default config parses");
        let mut provenance = BTreeMap::new();
        for (key, _) in leaves(&table) {
            provenance.insert(key, Provenance::Default);
        }

        if let Some(text) = file_text {
            match toml::from_str::<toml::Table>(text) {
                Ok(user) => {
                    // Validate the file on its own so one bad value is reported, not silently merged.
                    let mut merged = table.clone();
                    let keys = overlay(&mut merged, &user);
                    match merged.clone().try_into::<Config>() {
                        Ok(_) => {
                            table = merged;
                            for k in keys {
                                provenance.insert(k, Provenance::File(file.to_path_buf()));
                            }
                        }
                        Err(e) => warnings.push(format!(
                            "{}: {}; ignoring the whole file and using defaults",
                            file.display(),
                            one_line(&e.to_string())
                        )),
                    }
                }
                Err(e) => warnings.push(format!(
                    "{} is not valid TOML ({}); ignoring it and using defaults",
                    file.display(),
                    one_line(&e.to_string())
                )),
            }
        }

        for (name, value) in env {
            let Some(rest) = name.strip_prefix("LOCKWATCH_") else {
                continue;
            };
            let Some((section, key)) = rest
                .to_ascii_lowercase()
                .split_once('_')
                .map(|(s, k)| (s.to_string(), k.to_string()))
            else {
                continue;
            };
            let dotted = format!("{section}.{key}");
            let Some(current) = table.get(&section).and_then(|s| s.get(&key)).cloned() else {
                continue; // LOCKWATCH_CONFIG_DIR and friends are not config keys.
            };
            match env_value(&current, &value) {
                Some(v) => {
                    let mut trial = table.clone();
                    trial[&section]
                        .as_table_mut()
                        .expect("sections are tables")
                        .insert(key.clone(), v);
                    if trial.clone().try_into::<Config>().is_ok() {
                        table = trial;
                        provenance.insert(dotted, Provenance::Env(name.clone()));
                    } else {
                        warnings.push(format!("{name}={value} is not a valid {dotted}; ignored"));
                    }
                }
                None => warnings.push(format!("{name}={value} is not a valid {dotted}; ignored")),
            }
        }

        let mut config: Config = table.try_into().expect("validated layers deserialize");
        if !flags.cargo_homes.is_empty() {
            config
                .watch
                .cargo_homes
                .extend(flags.cargo_homes.iter().cloned());
            provenance.insert(
                "watch.cargo_homes".into(),
                Provenance::Flag("--cargo-home".into()),
            );
        }
        if !flags.projects.is_empty() {
            config.watch.projects.extend(flags.projects.iter().cloned());
            provenance.insert(
                "watch.projects".into(),
                Provenance::Flag("--project".into()),
            );
        }
        if let Err(e) = config.check() {
            warnings.push(format!("{e}; using the default for it"));
            config.repair();
        }
        Loaded {
            config,
            provenance,
            warnings,
            file: file.to_path_buf(),
        }
    }

    /// The roots to watch: `$CARGO_HOME` (or `~/.cargo`) plus configured ones.
    pub fn roots(&self) -> WatchRoots {
        let mut cargo_homes: Vec<PathBuf> = default_cargo_home().into_iter().collect();
        for h in &self.config.watch.cargo_homes {
            if !cargo_homes.contains(h) {
                cargo_homes.push(h.clone());
            }
        }
        WatchRoots {
            cargo_homes,
            projects: self.config.watch.projects.clone(),
        }
    }
}

impl Config {
    /// Built-in defaults.
    pub fn defaults() -> Config {
        toml::from_str(DEFAULT_TOML).expect("built-in default config parses")
    }

    /// Checks values that parse but make no sense.
    pub fn check(&self) -> Result<(), String> {
        if self.stale.samples == 0 {
            return Err("stale.samples must be at least 1".into());
        }
        if self.watch.poll_interval < Duration::from_millis(50) {
            return Err("watch.poll_interval must be at least 50ms".into());
        }
        if self.stale.sample_interval < Duration::from_millis(100) {
            return Err("stale.sample_interval must be at least 100ms".into());
        }
        if self.stale.idle_cpu_secs.is_nan() || self.stale.idle_cpu_secs < 0.0 {
            return Err("stale.idle_cpu_secs must be zero or more".into());
        }
        let day = Duration::from_secs(86_400);
        for (name, d) in self.durations() {
            if d > day {
                return Err(format!("{name} must be at most one day"));
            }
        }
        Ok(())
    }

    /// Every duration setting, by name.
    fn durations(&self) -> [(&'static str, Duration); 8] {
        [
            ("watch.poll_interval", self.watch.poll_interval),
            ("watch.idle_poll_interval", self.watch.idle_poll_interval),
            ("stale.stopped_grace", self.stale.stopped_grace),
            ("stale.stale_after", self.stale.stale_after),
            ("stale.idle_window", self.stale.idle_window),
            ("stale.sample_interval", self.stale.sample_interval),
            ("notify.cooldown", self.notify.cooldown),
            (
                "notify.stale_without_waiters_after",
                self.notify.stale_without_waiters_after,
            ),
        ]
    }

    fn repair(&mut self) {
        let d = Config::defaults();
        let day = Duration::from_secs(86_400);
        let clamp = |v: &mut Duration, default: Duration| {
            if *v > day {
                *v = default;
            }
        };
        clamp(&mut self.watch.poll_interval, d.watch.poll_interval);
        clamp(
            &mut self.watch.idle_poll_interval,
            d.watch.idle_poll_interval,
        );
        clamp(&mut self.stale.stopped_grace, d.stale.stopped_grace);
        clamp(&mut self.stale.stale_after, d.stale.stale_after);
        clamp(&mut self.stale.idle_window, d.stale.idle_window);
        clamp(&mut self.stale.sample_interval, d.stale.sample_interval);
        clamp(&mut self.notify.cooldown, d.notify.cooldown);
        clamp(
            &mut self.notify.stale_without_waiters_after,
            d.notify.stale_without_waiters_after,
        );
        if self.stale.samples == 0 {
            self.stale.samples = d.stale.samples;
        }
        if self.watch.poll_interval < Duration::from_millis(50) {
            self.watch.poll_interval = d.watch.poll_interval;
        }
        if self.stale.sample_interval < Duration::from_millis(100) {
            self.stale.sample_interval = d.stale.sample_interval;
        }
        if self.stale.idle_cpu_secs.is_nan() || self.stale.idle_cpu_secs < 0.0 {
            self.stale.idle_cpu_secs = d.stale.idle_cpu_secs;
        }
    }

    /// Dotted key → displayed value, for `cargo lockwatch config`.
    pub fn flatten(&self) -> Vec<(String, String)> {
        let table = toml::Table::try_from(self).expect("config serializes");
        leaves(&table)
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect()
    }
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

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn broken_file_falls_back_to_defaults_with_line() {
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

        let l = load(Some("[stale]\nbogus = 1\n"), &[]);
        assert!(l.warnings[0].contains("bogus"), "{}", l.warnings[0]);
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
        let l = load(Some("[stale]\nsamples = 0\n"), &[]);
        assert_eq!(l.config.stale.samples, Config::defaults().stale.samples);
        assert!(l.warnings[0].contains("samples"));
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
