//! One daemon per user: an exclusive `flock` on a pid file in the runtime directory, held for
//! the daemon's life (released by the kernel even after a crash, so it is never stale).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The held instance lock; dropping it releases the lock.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    path: PathBuf,
}

/// Creates the runtime dir with mode 0700, or checks that an existing one is ours and private.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let meta = fs::metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        bail!(
            "{} belongs to uid {}, not to you; set LOCKWATCH_RUNTIME_DIR to a directory of your own",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private (chmod 700)", dir.display()))?;
    }
    Ok(())
}

impl InstanceLock {
    /// Takes the lock or says which daemon already runs.
    pub fn acquire(runtime_dir: &Path) -> anyhow::Result<InstanceLock> {
        private_dir(runtime_dir)?;
        let path = runtime_dir.join("daemon.pid");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: flock on a descriptor we own; LOCK_NB makes it return at once.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            bail!(
                "a lockwatch daemon is already running (pid {}, socket {}); stop it with `cargo lockwatch daemon --stop`",
                pid.trim(),
                runtime_dir.join(super::SOCKET_NAME).display()
            );
        }
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", std::process::id())?;
        Ok(InstanceLock { _file: file, path })
    }

    /// The pid file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_instance_is_refused_with_the_first_pid() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let first = InstanceLock::acquire(&run).unwrap();
        let err = InstanceLock::acquire(&run).unwrap_err().to_string();
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        assert!(err.contains("already running"));
        let mode = fs::metadata(&run).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        drop(first);
        InstanceLock::acquire(&run).unwrap();
    }
}
