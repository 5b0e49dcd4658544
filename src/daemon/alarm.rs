//! The engine's one timer, waking its loop once, when due. On Linux it is a timerfd, on macOS
//! a kqueue holding one `EVFILT_TIMER` (the kqueue itself is readable while its timer has
//! fired): one wakeup at the deadline. Tokio's timer wheel reaches a deadline seconds away
//! through coarser slots, waking the runtime two or three times on the way, which was most of
//! an idle daemon's wakeups. Elsewhere (and if the timer cannot be made) tokio's timer is used.

use tokio::time::Instant;

/// Wakes the loop at a deadline.
pub struct Alarm {
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    timer: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
    /// Whether the kernel timer is known to wake the loop. Until it has once, tokio's timer
    /// backs it up, [`PROOF_SLACK`] after the deadline, and takes over for good if it has to
    /// (a kqueue watched through the reactor has not run on a Mac yet; a timerfd has, so
    /// Linux starts proven).
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    proven: bool,
}

/// How late the kernel timer may be, on its first deadline, before tokio's takes over.
#[cfg(any(target_os = "linux", target_os = "macos"))]
const PROOF_SLACK: std::time::Duration = std::time::Duration::from_secs(2);

/// How the first wait on the kernel timer ended.
#[cfg(any(target_os = "linux", target_os = "macos"))]
enum Proof {
    Fired,
    Failed(String),
}

#[cfg(target_os = "linux")]
use linux as native;
#[cfg(target_os = "macos")]
use macos as native;

impl Alarm {
    /// An alarm; must be made inside the runtime.
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    pub fn new() -> Alarm {
        let timer = native::timer().and_then(native::register);
        if let Err(e) = &timer {
            tracing::debug!("no kernel timer ({e}); using tokio's timer");
        }
        Alarm {
            timer: timer.ok(),
            proven: cfg!(target_os = "linux"),
        }
    }

    /// An alarm; must be made inside the runtime.
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    pub fn new() -> Alarm {
        Alarm {}
    }

    /// Returns at `deadline` (at once if it has passed). Dropping the future before then is
    /// fine: the next call sets the timer again.
    pub async fn until(&mut self, deadline: Instant) {
        #[cfg(any(target_os = "linux", target_os = "macos"))]
        if let Some(timer) = &self.timer {
            if self.proven {
                if native::wait(timer, deadline).await.is_ok() {
                    return;
                }
            } else {
                let proof = tokio::select! {
                    fired = native::wait(timer, deadline) => match fired {
                        Ok(()) => Proof::Fired,
                        Err(e) => Proof::Failed(e.to_string()),
                    },
                    _ = tokio::time::sleep_until(deadline + PROOF_SLACK) => {
                        Proof::Failed(format!("it did not fire within {PROOF_SLACK:?}"))
                    }
                };
                match proof {
                    Proof::Fired => {
                        self.proven = true;
                        return;
                    }
                    Proof::Failed(why) => {
                        tracing::warn!(
                            "the kernel timer cannot wake the loop ({why}); using tokio's timer"
                        );
                        self.timer = None;
                    }
                }
            }
        }
        tokio::time::sleep_until(deadline).await;
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    use tokio::io::unix::AsyncFd;
    use tokio::time::Instant;

    /// A non-blocking monotonic timerfd.
    pub fn timer() -> io::Result<OwnedFd> {
        let flags = libc::TFD_NONBLOCK | libc::TFD_CLOEXEC;
        // SAFETY: timerfd_create takes plain constants and returns a new descriptor or -1.
        let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Registers the timer with the runtime's reactor.
    pub fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
        let interest = tokio::io::Interest::READABLE;
        // SAFETY: an `OwnedFd` is an open descriptor whose `as_raw_fd` never changes, and it
        // stays open until the `AsyncFd` owning it is dropped.
        unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(io::Error::from)
    }

    /// Arms `timer` for `deadline` and waits until it fires.
    pub async fn wait(timer: &AsyncFd<OwnedFd>, deadline: Instant) -> io::Result<()> {
        // Zero would disarm the timer: a deadline already past fires a nanosecond from now.
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(std::time::Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: left.as_secs().try_into().unwrap_or(libc::time_t::MAX),
                tv_nsec: left.subsec_nanos().into(),
            },
        };
        // SAFETY: the descriptor is a timerfd; `spec` is a valid itimerspec and the old value
        // is not asked for. Setting it also clears expirations not read yet.
        let rc =
            unsafe { libc::timerfd_settime(timer.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            let mut ready = timer.readable().await?;
            let mut count = [0u8; 8];
            // SAFETY: `count` is writable for its 8 bytes, what a timerfd read needs.
            let n = unsafe { libc::read(timer.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
            if n == 8 {
                return Ok(());
            }
            ready.clear_ready();
        }
    }
}

#[cfg(target_os = "macos")]
mod macos {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

    use tokio::io::unix::AsyncFd;
    use tokio::time::Instant;

    /// The ident of the one timer in the kqueue.
    const TIMER: usize = 1;

    /// A kqueue for the timer, closed on exec.
    pub fn timer() -> io::Result<OwnedFd> {
        // SAFETY: kqueue takes no arguments and returns a new descriptor or -1.
        let fd = unsafe { libc::kqueue() };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: F_SETFD with FD_CLOEXEC only sets a flag on a descriptor owned here.
        if unsafe { libc::fcntl(owned.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(owned)
    }

    /// Registers the kqueue with the runtime's reactor: it is readable while an event waits.
    pub fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
        let interest = tokio::io::Interest::READABLE;
        // SAFETY: an `OwnedFd` is an open descriptor whose `as_raw_fd` never changes, and it
        // stays open until the `AsyncFd` owning it is dropped.
        unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(io::Error::from)
    }

    /// Arms the timer for `deadline` and waits until it fires.
    pub async fn wait(timer: &AsyncFd<OwnedFd>, deadline: Instant) -> io::Result<()> {
        let kq = timer.as_raw_fd();
        // A firing left by an abandoned wait is not this deadline's.
        take_fired(kq)?;
        // A deadline already past fires a microsecond from now.
        arm(kq, deadline.saturating_duration_since(Instant::now()))?;
        loop {
            let mut ready = timer.readable().await?;
            if take_fired(kq)? {
                return Ok(());
            }
            ready.clear_ready();
        }
    }

    /// Sets the one timer to fire once, `left` from now (at least a microsecond).
    fn arm(kq: RawFd, left: std::time::Duration) -> io::Result<()> {
        let micros = left.as_micros().max(1);
        let ev = libc::kevent {
            ident: TIMER,
            filter: libc::EVFILT_TIMER,
            // Adding an existing timer again replaces its interval.
            flags: libc::EV_ADD | libc::EV_ONESHOT,
            fflags: libc::NOTE_USECONDS,
            data: libc::intptr_t::try_from(micros).unwrap_or(libc::intptr_t::MAX),
            udata: std::ptr::null_mut(),
        };
        // SAFETY: `ev` is one valid kevent read by the call; no events are returned (nevents
        // 0, null eventlist), and a null timeout is allowed.
        let rc = unsafe { libc::kevent(kq, &ev, 1, std::ptr::null_mut(), 0, std::ptr::null()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Takes the timer's firing from the kqueue without waiting; whether there was one.
    fn take_fired(kq: RawFd) -> io::Result<bool> {
        let mut out = libc::kevent {
            ident: 0,
            filter: 0,
            flags: 0,
            fflags: 0,
            data: 0,
            udata: std::ptr::null_mut(),
        };
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: no changes are passed; `out` has room for the one event asked for, and
        // `zero` is a valid timespec that makes the call return at once.
        let n = unsafe { libc::kevent(kq, std::ptr::null(), 0, &mut out, 1, &zero) };
        match n {
            n if n < 0 => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
            0 => Ok(false),
            _ => Ok(out.filter == libc::EVFILT_TIMER && out.flags & libc::EV_ERROR == 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn fires_at_its_deadline_and_again_after_an_abandoned_wait() {
        let mut alarm = Alarm::new();
        let start = Instant::now();
        alarm.until(start + Duration::from_millis(30)).await;
        assert!(start.elapsed() >= Duration::from_millis(30));
        // A wait given up (another branch of a select won) leaves the next one intact.
        tokio::select! {
            _ = alarm.until(Instant::now() + Duration::from_secs(60)) => panic!("too early"),
            _ = tokio::task::yield_now() => {}
        }
        let again = Instant::now();
        alarm.until(again + Duration::from_millis(10)).await;
        assert!(again.elapsed() >= Duration::from_millis(10));
        // A deadline in the past returns at once.
        alarm.until(start).await;
    }

    #[cfg(any(target_os = "linux", target_os = "macos"))]
    #[tokio::test]
    async fn the_kernel_timer_is_trusted_once_it_fired_and_replaced_if_it_fails() {
        use std::os::fd::{FromRawFd, OwnedFd};
        let mut alarm = Alarm::new();
        assert!(alarm.timer.is_some(), "the kernel timer is made");
        alarm.proven = false;
        let start = Instant::now();
        alarm.until(start + Duration::from_millis(20)).await;
        assert!(alarm.proven && alarm.timer.is_some(), "it fired: trusted");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        // A descriptor that is no timer: the first wait fails, tokio's timer takes over.
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both descriptors were just made and are owned by nobody else.
        let (read, _write) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let mut broken = Alarm {
            timer: Some(native::register(read).unwrap()),
            proven: false,
        };
        let start = Instant::now();
        broken.until(start + Duration::from_millis(20)).await;
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert!(
            broken.timer.is_none() && !broken.proven,
            "replaced for good"
        );
        broken
            .until(Instant::now() + Duration::from_millis(5))
            .await;
    }
}
