//! The watcher's OS side where there is no inotify (macOS: FSEvents through `notify`). FSEvents
//! reports creation, removal and writes; kqueue ([`super::PlatformWakes`]) adds unlocks.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc::UnboundedSender;

use super::{Role, Routed, Routes, Throttle, Wake};

/// The `notify` watcher and its callback.
pub(super) struct Backend {
    watcher: notify::RecommendedWatcher,
}

impl Backend {
    /// Starts the watcher; events are routed through `routes`, removed paths noted in `lost`.
    pub fn start(
        tx: UnboundedSender<Wake>,
        routes: Arc<Mutex<Routes>>,
        lost: Arc<Mutex<HashSet<PathBuf>>>,
    ) -> std::io::Result<Backend> {
        let mut throttle = Throttle::default();
        let watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
                Ok(event) => route(&event, &routes, &lost, &mut throttle, &tx),
                Err(e) => {
                    let _ = tx.send(Wake::Failed(e.to_string()));
                }
            })
            .map_err(std::io::Error::other)?;
        Ok(Backend { watcher })
    }

    /// Watches one path.
    pub fn watch(&mut self, path: &Path, _role: Role) -> Result<(), String> {
        self.watcher
            .watch(path, RecursiveMode::NonRecursive)
            .map_err(|e| e.to_string())
    }

    /// Stops watching one path.
    pub fn unwatch(&mut self, path: &Path) {
        let _ = self.watcher.unwatch(path);
    }
}

/// Sends what one event means: a lock file's wakes a pass, a write under a domain is activity.
/// Paths are mapped back to the form they were watched in (FSEvents reports canonical ones).
fn route(
    event: &notify::Event,
    routes: &Mutex<Routes>,
    lost: &Mutex<HashSet<PathBuf>>,
    throttle: &mut Throttle,
    tx: &UnboundedSender<Wake>,
) {
    let routes = routes.lock().unwrap_or_else(|p| p.into_inner());
    if matches!(event.kind, EventKind::Remove(_)) {
        let mut lost = lost.lock().unwrap_or_else(|p| p.into_inner());
        lost.extend(event.paths.iter().map(|p| routes.to_given(p).into_owned()));
    }
    for routed in super::route(&routes, &event.kind, &event.paths) {
        match routed {
            Routed::LockFile(path) => {
                let _ = tx.send(Wake::LockFile(path));
            }
            Routed::Activity(keys) => throttle.activity(&keys, tx),
        }
    }
}
