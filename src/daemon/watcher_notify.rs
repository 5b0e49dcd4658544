//! The watcher's OS side where there is no inotify (macOS: FSEvents through `notify`). FSEvents
//! reports creation, removal and writes; kqueue ([`super::PlatformWakes`]) adds unlocks.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc::UnboundedSender;

use super::{Role, Routes, Throttle, Wake};

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

/// Classifies one event: a lock file's wakes a pass, a write under a domain is activity.
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
        lost.extend(event.paths.iter().cloned());
    }
    for path in &event.paths {
        if routes.lock_files.contains(path) {
            if matches!(
                event.kind,
                EventKind::Access(_)
                    | EventKind::Create(_)
                    | EventKind::Remove(_)
                    | EventKind::Modify(_)
            ) {
                let _ = tx.send(Wake::LockFile(path.clone()));
            }
            continue;
        }
        let is_write = matches!(
            event.kind,
            EventKind::Create(_)
                | EventKind::Modify(_)
                | EventKind::Remove(_)
                | EventKind::Access(notify::event::AccessKind::Close(
                    notify::event::AccessMode::Write
                ))
        );
        if !is_write {
            continue;
        }
        let dir = if routes.domains.contains_key(path) {
            Some(path.as_path())
        } else {
            path.parent()
        };
        if let Some(keys) = dir.and_then(|d| routes.domains.get(d)) {
            throttle.activity(keys, tx);
        }
    }
}
