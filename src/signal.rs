//! Signals that can only reach the process the user was shown: the pid and its start token are
//! checked, and on Linux the signal travels through a pidfd opened *before* that check, so a pid
//! reused in between can never receive it. Elsewhere (macOS has no pidfd) the check runs right
//! before `kill(2)`, which leaves a window of microseconds.

use crate::probe::Probe;

/// Why a signal was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSent {
    /// The process is gone.
    Gone,
    /// The pid now belongs to another process.
    Reused,
}

/// Sends `signal` to `pid` if it is still the process with `start_token`.
pub fn send_verified(
    probe: &mut dyn Probe,
    pid: u32,
    start_token: u64,
    signal: libc::c_int,
) -> Result<(), NotSent> {
    let handle = imp::Handle::open(pid);
    match probe.process(pid) {
        Ok(f) if f.start_token == start_token => {}
        Ok(_) => return Err(NotSent::Reused),
        Err(_) => return Err(NotSent::Gone),
    }
    handle.send(pid, signal)
}

/// Sends `signal` to `pid` if it holds a lock on the file `key` right now (a daemon found
/// through its pid file: the lock, held for its whole life, proves the pid is still it).
pub fn send_if_holding(
    probe: &mut dyn Probe,
    pid: u32,
    key: crate::core::model::FileKey,
    signal: libc::c_int,
) -> Result<(), NotSent> {
    let handle = imp::Handle::open(pid);
    match probe.holds(pid, key) {
        Ok(true) => handle.send(pid, signal),
        Ok(false) => Err(NotSent::Reused),
        Err(_) => Err(NotSent::Gone),
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::NotSent;

    /// A pidfd when the kernel has them (5.3+), else nothing and plain `kill(2)`.
    pub struct Handle(Option<libc::c_int>);

    impl Handle {
        pub fn open(pid: u32) -> Handle {
            // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; it
            // touches no memory of ours.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
            Handle(libc::c_int::try_from(fd).ok().filter(|fd| *fd >= 0))
        }

        pub fn send(&self, pid: u32, signal: libc::c_int) -> Result<(), NotSent> {
            let rc = match self.0 {
                // SAFETY: `fd` is a pidfd owned by this handle; a null siginfo is allowed.
                Some(fd) => unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd,
                        signal,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                },
                // SAFETY: kill(2) with a positive pid signals exactly that process.
                None => libc::c_long::from(unsafe { libc::kill(pid as libc::pid_t, signal) }),
            };
            if rc == 0 { Ok(()) } else { Err(NotSent::Gone) }
        }
    }

    impl Drop for Handle {
        fn drop(&mut self) {
            if let Some(fd) = self.0 {
                // SAFETY: the descriptor is owned by this handle and closed once.
                unsafe { libc::close(fd) };
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::NotSent;

    /// No pidfd here: the start token was checked just before.
    pub struct Handle;

    impl Handle {
        pub fn open(_pid: u32) -> Handle {
            Handle
        }

        pub fn send(&self, pid: u32, signal: libc::c_int) -> Result<(), NotSent> {
            // SAFETY: kill(2) with a positive pid signals exactly that process.
            let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
            if rc == 0 { Ok(()) } else { Err(NotSent::Gone) }
        }
    }
}
