//! The local time of a Unix time, from the C library: the one place that knows the machine's
//! time zone (log lines, `--watch` frames, "until tomorrow 8:00").

/// `unix` (seconds since the epoch; NaN reads as the epoch) broken down in local time.
pub fn broken_down(unix: f64) -> libc::tm {
    let t = unix as libc::time_t;
    // SAFETY: localtime_r reads `t` and writes only into `tm`, both ours; a zeroed `tm` is a
    // valid value for it to fill (and is what is returned if it fails).
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_later_is_a_second_later_and_nan_is_no_panic() {
        let a = broken_down(1_700_000_000.0);
        let b = broken_down(1_700_000_001.0);
        assert_eq!((b.tm_sec - a.tm_sec + 60) % 60, 1);
        assert_eq!(broken_down(1_700_000_000.9).tm_sec, a.tm_sec);
        let _ = broken_down(f64::NAN);
    }
}
