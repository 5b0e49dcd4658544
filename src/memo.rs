//! Small files one run of the CLI leaves in the private runtime directory for the next (who
//! inherited a dead locker's descriptor; which processes `status` showed): read with a size
//! bound and without following links, written whole or not at all.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::daemon::trust;

/// Where file `name` lives for runtime directory `base` (nothing is created).
pub fn path(base: &Path, name: &str) -> PathBuf {
    trust::socket_dir(base).join(name)
}

/// The bytes of `path`; `None` when it is missing, not a plain file, a link, or bigger than
/// `max` (such a file is not ours to trust).
pub fn read(path: &Path, max: u64) -> Option<Vec<u8>> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > max {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Writes `bytes` as file `name` of the private runtime directory `base` (made if missing),
/// atomically: through a temporary file renamed over it.
pub fn write(base: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = trust::ensure_private(base).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
    let written = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes));
    match written.and_then(|()| fs::rename(&tmp, dir.join(name))) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Removes file `name` of runtime directory `base`; a missing one is no error.
pub fn remove(base: &Path, name: &str) -> std::io::Result<()> {
    match fs::remove_file(path(base, name)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
