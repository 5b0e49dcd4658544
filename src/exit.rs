//! Exit codes are API: scripts branch on them, so they are named and documented here.

/// Nothing stale (`status`), the lock is free (`wait`), the action succeeded.
pub const OK: i32 = 0;
/// `status`: at least one holder looks stale.
pub const STALE: i32 = 1;
/// Something went wrong (unreadable `/proc`, bad arguments, unreachable daemon …).
pub const ERROR: i32 = 2;
/// `wait`: the timeout passed while a lock was still held.
pub const TIMEOUT: i32 = 3;
/// `kill`: refused (not a holder, a waiter, another user's process, pid reused …).
pub const REFUSED: i32 = 4;
/// `daemon status`: the daemon is not running.
pub const NOT_RUNNING: i32 = 5;
/// `daemon --check`: the daemon's process is stopped (SIGSTOP, Ctrl-Z): it answers nothing until
/// continued with `kill -CONT PID`.
pub const DAEMON_STOPPED: i32 = 6;
/// `daemon --check`: a daemon runs, but commands do not use it: its runtime directory is no
/// longer private (`chmod 700` it).
pub const DAEMON_UNUSED: i32 = 8;
/// `wait`: stopped because the holder is deadlocked (a build script's cargo waits for its own
/// parent, or cargos wait for each other's locks): no wait would end.
pub const DEADLOCKED: i32 = 7;
/// `wait`: ended by Ctrl-C (SIGINT) while a lock was still held, as shells number it (128 +
/// the signal: SIGTERM ends it with 143, SIGHUP with 129).
pub const INTERRUPTED: i32 = 130;
