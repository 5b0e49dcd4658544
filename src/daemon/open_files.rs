//! The daemon's open-file limit. launchd starts agents with a soft limit of 256 descriptors, and
//! on macOS every lock file kqueue watches holds one open (`O_EVTONLY`): a few hundred projects
//! would take them all and leave none to probe a lock (`F_GETLK` opens its file), to accept a
//! client or to write the history. So the daemon raises its soft limit at start, as far as the
//! hard limit allows, and kqueue watches at most half of what it got.

/// The soft limit the daemon asks for: room for thousands of kqueue watches beside everything
/// else, and no more than macOS's `OPEN_MAX` (its `setrlimit` refuses more than that).
pub const WANTED: u64 = 10_240;

/// Descriptors left to everything but kqueue within its half of the limit.
const RESERVE: u64 = 32;

/// The soft limit to set, given the current soft and hard limits: [`WANTED`] as far as the hard
/// limit allows; `None` when that is no raise.
pub fn soft_limit_to_set(soft: u64, hard: u64) -> Option<u64> {
    let want = WANTED.min(hard);
    (want > soft).then_some(want)
}

/// How many lock files kqueue may watch under a soft limit of `soft` descriptors.
pub fn kqueue_budget(soft: u64) -> usize {
    usize::try_from((soft / 2).saturating_sub(RESERVE)).unwrap_or(usize::MAX)
}

/// The soft and hard limits on open files now, `None` when they cannot be read.
pub fn current() -> Option<(u64, u64)> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid, writable rlimit for the call's duration.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) };
    (rc == 0).then_some((r.rlim_cur, r.rlim_max))
}

/// Raises the soft limit toward [`WANTED`]; returns the soft limit in force afterwards (logged
/// when it stays low), `None` when it cannot be read.
pub fn raise() -> Option<u64> {
    let (soft, hard) = current()?;
    let Some(want) = soft_limit_to_set(soft, hard) else {
        return Some(soft);
    };
    let r = libc::rlimit {
        rlim_cur: want,
        rlim_max: hard,
    };
    // SAFETY: `r` is a valid rlimit; setrlimit only reads it.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) } == 0 {
        return Some(want);
    }
    let err = std::io::Error::last_os_error();
    tracing::warn!(
        "cannot raise the open-file limit from {soft} to {want} ({err}); \
         at most {} lock files get instant unlock events, the rest are polled",
        kqueue_budget(soft)
    );
    Some(soft)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_rises_to_what_is_wanted_as_far_as_the_hard_limit_allows() {
        // launchd's default for agents, with an unlimited hard limit.
        assert_eq!(soft_limit_to_set(256, u64::MAX), Some(WANTED));
        assert_eq!(soft_limit_to_set(256, 4_096), Some(4_096));
        // Never lowered, never "raised" to itself.
        assert_eq!(soft_limit_to_set(65_536, u64::MAX), None);
        assert_eq!(soft_limit_to_set(WANTED, WANTED), None);
        assert_eq!(soft_limit_to_set(256, 256), None);
    }

    #[test]
    fn kqueue_watches_at_most_half_the_limit_less_a_reserve() {
        assert_eq!(kqueue_budget(256), 96);
        assert_eq!(kqueue_budget(WANTED), 5_088);
        assert_eq!(kqueue_budget(40), 0);
        assert_eq!(kqueue_budget(0), 0);
    }

    #[test]
    fn raising_never_lowers_this_process_s_limit() {
        let (before, _) = current().expect("getrlimit works");
        let after = raise().expect("getrlimit works");
        assert!(after >= before && after >= WANTED.min(current().unwrap().1));
        assert_eq!(current().unwrap().0, after);
    }
}
