//! macOS privacy protection (TCC): places where a process needs the user's consent to read
//! files — `~/Documents`, `~/Desktop`, `~/Downloads`, iCloud Drive (`~/Library/Mobile
//! Documents`), cloud storage (`~/Library/CloudStorage`) and other volumes (`/Volumes/…`). A
//! launchd agent that opens a lock file there may make macOS ask the user, or get `EPERM`
//! without asking. Recognising them is pure and tested everywhere; `doctor` says which watched
//! projects and Cargo homes lie there, and the probe reports a lock there it may not ask about
//! as held by "a process you cannot inspect" rather than failing.

use std::path::{Component, Path};

/// A place macOS guards with a privacy consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protected {
    /// `~/Documents`.
    Documents,
    /// `~/Desktop`.
    Desktop,
    /// `~/Downloads`.
    Downloads,
    /// iCloud Drive: `~/Library/Mobile Documents`.
    ICloud,
    /// A file provider's folder (Dropbox, OneDrive, Google Drive …): `~/Library/CloudStorage`.
    CloudStorage,
    /// Another volume (external disk, network share, disk image): `/Volumes/<name>`.
    Volume(String),
}

impl Protected {
    /// The place in words, for `doctor`.
    pub fn describe(&self) -> String {
        match self {
            Protected::Documents => "your Documents folder".into(),
            Protected::Desktop => "your Desktop folder".into(),
            Protected::Downloads => "your Downloads folder".into(),
            Protected::ICloud => "iCloud Drive".into(),
            Protected::CloudStorage => "a cloud storage folder (~/Library/CloudStorage)".into(),
            Protected::Volume(name) => format!("the volume \"{name}\" (/Volumes/{name})"),
        }
    }
}

/// The protected place `path` lies in (or is), if any; `home` is the user's home. Give the
/// canonical path when it can be had (a symlink into `~/Documents` is protected as its target
/// is, and `/Volumes/Macintosh HD` leads to `/`, which is not); relative paths are never
/// protected.
pub fn protected_place(path: &Path, home: &Path) -> Option<Protected> {
    if !path.is_absolute() {
        return None;
    }
    if let Ok(rest) = path.strip_prefix(home) {
        let mut parts = rest.components().filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        });
        return match (parts.next(), parts.next()) {
            (Some("Documents"), _) => Some(Protected::Documents),
            (Some("Desktop"), _) => Some(Protected::Desktop),
            (Some("Downloads"), _) => Some(Protected::Downloads),
            (Some("Library"), Some("Mobile Documents")) => Some(Protected::ICloud),
            (Some("Library"), Some("CloudStorage")) => Some(Protected::CloudStorage),
            _ => None,
        };
    }
    let mut parts = path.components().skip(1);
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(v)), Some(Component::Normal(name))) if v == "Volumes" => {
            Some(Protected::Volume(name.to_string_lossy().into_owned()))
        }
        _ => None,
    }
}

/// The place of a path given as configured and, when it resolves, canonically: the canonical
/// form decides when there is one (that is where the files are).
pub fn protected_either(given: &Path, canonical: Option<&Path>, home: &Path) -> Option<Protected> {
    match canonical {
        Some(c) => protected_place(c, home),
        None => protected_place(given, home),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &str = "/Users/me";

    fn place(p: &str) -> Option<Protected> {
        protected_place(Path::new(p), Path::new(HOME))
    }

    #[test]
    fn the_guarded_folders_and_volumes_are_recognised() {
        assert_eq!(
            place("/Users/me/Documents/app/target/debug/.cargo-lock"),
            Some(Protected::Documents)
        );
        assert_eq!(place("/Users/me/Documents"), Some(Protected::Documents));
        assert_eq!(place("/Users/me/Desktop/x"), Some(Protected::Desktop));
        assert_eq!(place("/Users/me/Downloads/y"), Some(Protected::Downloads));
        assert_eq!(
            place("/Users/me/Library/Mobile Documents/com~apple~CloudDocs/app"),
            Some(Protected::ICloud)
        );
        assert_eq!(
            place("/Users/me/Library/CloudStorage/Dropbox/app"),
            Some(Protected::CloudStorage)
        );
        assert_eq!(
            place("/Volumes/Work SSD/src/app/target"),
            Some(Protected::Volume("Work SSD".into()))
        );
    }

    #[test]
    fn ordinary_places_are_not_guarded() {
        assert_eq!(place("/Users/me/.cargo/.package-cache"), None);
        assert_eq!(place("/Users/me/src/app"), None);
        assert_eq!(place("/Users/me/Library/Caches/x"), None);
        assert_eq!(place("/Users/me/DocumentsOld/x"), None);
        assert_eq!(place("/Users/other/Documents/x"), None);
        assert_eq!(place("/Volumes"), None);
        assert_eq!(place("/private/var/folders/x"), None);
        assert_eq!(place("Documents/x"), None);
    }

    #[test]
    fn the_canonical_form_decides() {
        let home = Path::new(HOME);
        // ~/code is a symlink into Documents: protected.
        assert_eq!(
            protected_either(
                Path::new("/Users/me/code/app"),
                Some(Path::new("/Users/me/Documents/code/app")),
                home
            ),
            Some(Protected::Documents)
        );
        // /Volumes/Macintosh HD is the startup disk itself.
        assert_eq!(
            protected_either(
                Path::new("/Volumes/Macintosh HD/Users/me/src"),
                Some(Path::new("/Users/me/src")),
                home
            ),
            None
        );
        // Not there (yet): judged as given.
        assert_eq!(
            protected_either(Path::new("/Users/me/Desktop/new"), None, home),
            Some(Protected::Desktop)
        );
        assert!(
            Protected::Volume("A".into())
                .describe()
                .contains("/Volumes/A")
        );
    }
}
