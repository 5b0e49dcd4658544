//! Pure parsers for the Linux kernel's lock reports: `/proc/locks`, `/proc/PID/fdinfo/FD`,
//! `/proc/PID/stat` and `/proc/PID/status`.
//!
//! Kept free of I/O so they are unit-tested on every platform against lines captured from real
//! kernels.

use crate::core::model::{LockMode, ProcState, Sigterm};

/// The lock mechanism a `/proc/locks` line reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockClass {
    /// `flock(2)`: what Cargo uses.
    Flock,
    /// `fcntl` byte-range (`POSIX`) locks.
    Posix,
    /// Open-file-description locks (`OFDLCK`).
    Ofd,
    /// Leases, delegations and anything else.
    Other,
}

/// One line of `/proc/locks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelLock {
    /// The ordinal at the start of the line; a waiter carries its blocker's ordinal.
    pub ordinal: u32,
    /// 0 for a granted lock; 1 or more for a blocked request (`->`, nested deeper when it waits
    /// on another blocked request).
    pub wait_depth: u8,
    /// flock, POSIX …
    pub class: LockClass,
    /// READ (shared) or WRITE (exclusive).
    pub mode: LockMode,
    /// The pid the kernel recorded when the lock was requested (it may have exited since).
    pub pid: u32,
    /// Major device number of the superblock (may differ from `stat` on btrfs/overlayfs).
    pub major: u32,
    /// Minor device number of the superblock.
    pub minor: u32,
    /// Inode number.
    pub ino: u64,
}

/// `flock(2)`'s flags, as Linux numbers them on every architecture.
const LOCK_SH: i32 = 1;
const LOCK_EX: i32 = 2;
const LOCK_NB: i32 = 4;

/// The descriptor and mode of a blocking `flock(2)` call, from `/proc/PID/syscall` (`73 0x3
/// 0x2 …` on x86_64: the call's number, `flock_nr` on this architecture, then its arguments
/// in hex); `None` for any other call, a non-blocking one (`LOCK_NB`), an unlock, or a line
/// that says nothing (`running`).
pub fn parse_flock_syscall(line: &str, flock_nr: i64) -> Option<(u32, LockMode)> {
    let mut words = line.split_whitespace();
    let nr: i64 = words.next()?.parse().ok()?;
    if nr != flock_nr {
        return None;
    }
    let hex = |w: Option<&str>| u64::from_str_radix(w?.trim_start_matches("0x"), 16).ok();
    let fd = u32::try_from(hex(words.next())?).ok()?;
    let op = i32::try_from(hex(words.next())?).ok()?;
    match op {
        _ if op & LOCK_NB != 0 => None,
        LOCK_EX => Some((fd, LockMode::Exclusive)),
        LOCK_SH => Some((fd, LockMode::Shared)),
        _ => None,
    }
}

impl KernelLock {
    /// A granted lock, as opposed to a blocked request.
    pub fn is_granted(&self) -> bool {
        self.wait_depth == 0
    }
}

/// Parses one `/proc/locks` line; `None` for lines this product has no use for or cannot read
/// (a line it does not understand must not hide the others).
///
/// ```text
/// 1: FLOCK  ADVISORY  WRITE 11383 fe:00:10018881 0 EOF
/// 1: -> FLOCK  ADVISORY  WRITE 11387 fe:00:10018881 0 EOF
/// 1:  -> FLOCK  ADVISORY  READ 1883 fe:00:10010719 0 EOF
/// ```
pub fn parse_lock_line(line: &str) -> Option<KernelLock> {
    // fdinfo prefixes the same format with "lock:\t".
    let line = line.strip_prefix("lock:").unwrap_or(line).trim_start();
    let (ordinal, rest) = line.split_once(':')?;
    let ordinal = ordinal.trim().parse().ok()?;
    let mut fields = rest.split_whitespace().peekable();
    let mut wait_depth = 0u8;
    while fields.peek() == Some(&"->") {
        fields.next();
        wait_depth = wait_depth.saturating_add(1);
    }
    // Indentation before "->" encodes nesting: one extra space per level.
    if wait_depth > 0 {
        let before_arrow = rest.find("->").unwrap_or(0);
        let extra = rest[..before_arrow].chars().filter(|c| *c == ' ').count();
        wait_depth = wait_depth.saturating_add(extra.saturating_sub(1).min(250) as u8);
    }
    let class = match fields.next()? {
        "FLOCK" => LockClass::Flock,
        "POSIX" => LockClass::Posix,
        "OFDLCK" => LockClass::Ofd,
        _ => LockClass::Other,
    };
    let _advisory = fields.next()?;
    let mode = match fields.next()? {
        "WRITE" => LockMode::Exclusive,
        "READ" => LockMode::Shared,
        _ => return None,
    };
    let pid = fields.next()?.parse().ok()?;
    let mut dev = fields.next()?.split(':');
    let major = u32::from_str_radix(dev.next()?, 16).ok()?;
    let minor = u32::from_str_radix(dev.next()?, 16).ok()?;
    let ino = dev.next()?.parse().ok()?;
    Some(KernelLock {
        ordinal,
        wait_depth,
        class,
        mode,
        pid,
        major,
        minor,
        ino,
    })
}

/// Parses the whole of `/proc/locks`, keeping flock lines only (Cargo locks with `flock`).
pub fn parse_proc_locks(text: &str) -> Vec<KernelLock> {
    text.lines()
        .filter_map(parse_lock_line)
        .filter(|l| l.class == LockClass::Flock)
        .collect()
}

/// Merges two reads of `/proc/locks` taken one after the other: every line of the newer read,
/// plus the lines of the older read for (pid, inode) pairs the newer one lacks.
///
/// The kernel hands the table out one page per `read(2)` and resumes by position, so when it
/// spans pages, a lock released meanwhile shifts the rest and one line can be skipped (measured:
/// about one read in a thousand under churn): a lock held throughout would seem released for a
/// pass. Two reads rarely skip the same line; a lock really released between them stays one
/// more pass.
pub fn merge_reads(older: Vec<KernelLock>, newer: Vec<KernelLock>) -> Vec<KernelLock> {
    let mut out = newer;
    let seen: std::collections::HashSet<(u32, u64)> = out.iter().map(|l| (l.pid, l.ino)).collect();
    out.extend(
        older
            .into_iter()
            .filter(|l| !seen.contains(&(l.pid, l.ino))),
    );
    out
}

/// What `/proc/PID/fdinfo/FD` says about one descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FdInfo {
    /// Inode of the open file (`ino:`, Linux 5.14+).
    pub ino: Option<u64>,
    /// Granted flock locks on this open file description (`lock:` lines).
    pub locks: Vec<KernelLock>,
    /// The open flags (`flags:`, octal), whose low two bits are the access mode.
    pub flags: Option<u32>,
}

impl FdInfo {
    /// Opened for writing (`O_WRONLY` or `O_RDWR`).
    pub fn writes(&self) -> bool {
        self.flags.is_some_and(|f| f & 3 != 0)
    }
}

/// Parses an fdinfo file.
pub fn parse_fdinfo(text: &str) -> FdInfo {
    let mut info = FdInfo::default();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("ino:") {
            info.ino = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("flags:") {
            info.flags = u32::from_str_radix(v.trim(), 8).ok();
        } else if line.starts_with("lock:")
            && let Some(l) = parse_lock_line(line)
            && l.class == LockClass::Flock
            && l.is_granted()
        {
            info.locks.push(l);
        }
    }
    info
}

/// The fields of `/proc/PID/stat` this product uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// `comm`, without parentheses.
    pub comm: String,
    /// Scheduler state.
    pub state: ProcState,
    /// Parent pid.
    pub ppid: u32,
    /// Process group.
    pub pgrp: u32,
    /// Session id.
    pub session: u32,
    /// Controlling terminal device (0 when none).
    pub tty_nr: i64,
    /// User + system CPU of the process, plus that of its reaped children, in clock ticks.
    pub cpu_ticks: u64,
    /// Start time in clock ticks after boot.
    pub starttime: u64,
    /// A kernel thread (`PF_KTHREAD`): it has no descriptors.
    pub kernel_thread: bool,
    /// Forked and never exec'd since (`PF_FORKNOEXEC`): it still has every descriptor its
    /// parent had, close-on-exec ones included.
    pub forked_without_exec: bool,
}

/// `PF_KTHREAD` in the `flags` field of `/proc/PID/stat`.
const PF_KTHREAD: u64 = 0x0020_0000;
/// `PF_FORKNOEXEC` in the same field (`include/linux/sched.h`).
const PF_FORKNOEXEC: u64 = 0x0000_0040;

/// Parses `/proc/PID/stat`. The name may contain spaces and parentheses, so the fields after it
/// are found from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    // Kept as it is (anyone may name a process with escape sequences): `ProcName` escapes it
    // wherever it is shown.
    let comm = text.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // fields[0] is field 3 (state) of proc(5).
    let field = |n: usize| fields.get(n - 3).copied();
    let num = |n: usize| field(n).and_then(|f| f.parse::<u64>().ok());
    let state = match field(3)? {
        "R" => ProcState::Running,
        "S" | "I" => ProcState::Sleeping,
        "D" => ProcState::DiskSleep,
        "T" | "t" => ProcState::Stopped,
        "Z" | "X" | "x" => ProcState::Zombie,
        _ => ProcState::Other,
    };
    Some(Stat {
        comm,
        state,
        ppid: num(4)? as u32,
        pgrp: num(5)? as u32,
        session: num(6)? as u32,
        tty_nr: field(7)?.parse().ok()?,
        cpu_ticks: num(14)? + num(15)? + num(16)? + num(17)?,
        starttime: num(22)?,
        kernel_thread: num(9).is_some_and(|f| f & PF_KTHREAD != 0),
        forked_without_exec: num(9).is_some_and(|f| f & PF_FORKNOEXEC != 0),
    })
}

/// Real uid from `/proc/PID/status`.
pub fn parse_status_uid(text: &str) -> Option<u32> {
    let line = text.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// What a SIGTERM would do, from `/proc/PID/status`: `SigIgn` (the process's dispositions)
/// and `SigBlk` (the mask of the thread read, the main one), hexadecimal masks in which signal
/// N is bit N-1. A SIGTERM blocked by the main thread of a process with other threads may be
/// taken by one of them: that is not claimed (unknown).
pub fn parse_status_sigterm(text: &str) -> Sigterm {
    let field = |name: &str| {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line.get(name.len()..).map(str::trim)
    };
    let mask = |name: &str| u64::from_str_radix(field(name)?, 16).ok();
    let term = 1u64 << (libc::SIGTERM - 1);
    let (Some(ignored), Some(blocked)) = (mask("SigIgn:"), mask("SigBlk:")) else {
        return Sigterm::Unknown;
    };
    if ignored & term != 0 {
        return Sigterm::Ignored;
    }
    if blocked & term == 0 {
        return Sigterm::Delivered;
    }
    match field("Threads:").and_then(|t| t.parse::<u32>().ok()) {
        Some(1) => Sigterm::Blocked,
        _ => Sigterm::Unknown,
    }
}

/// Thread-group id (the process's pid) from `/proc/PID/status`.
pub fn parse_status_tgid(text: &str) -> Option<u32> {
    let line = text.lines().find(|l| l.starts_with("Tgid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The last pid handed out, the fifth field of `/proc/loadavg` ("0.57 0.99 1.18 1/2082 30177").
pub fn parse_loadavg_last_pid(text: &str) -> Option<u32> {
    text.split_whitespace().nth(4)?.parse().ok()
}

/// Splits a NUL-separated `/proc/PID/cmdline`.
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| crate::core::text::bytes_text(s).into_owned())
        .collect()
}

/// Splits a `readlink /proc/PID/fd/N` answer into the path and whether the file was deleted.
pub fn split_deleted(link: &str) -> (&str, bool) {
    match link.strip_suffix(" (deleted)") {
        Some(p) => (p, true),
        None => (link, false),
    }
}

/// The inode of a `pipe:[N]` descriptor link.
pub fn pipe_inode(link: &[u8]) -> Option<u64> {
    bracketed(link, b"pipe:[")
}

/// The inode of a `socket:[N]` descriptor link.
pub fn socket_inode(link: &[u8]) -> Option<u64> {
    bracketed(link, b"socket:[")
}

fn bracketed(link: &[u8], prefix: &[u8]) -> Option<u64> {
    let rest = link.strip_prefix(prefix)?.strip_suffix(b"]")?;
    std::str::from_utf8(rest).ok()?.parse().ok()
}

/// One connection from `/proc/PID/net/tcp` or `tcp6`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpEntry {
    /// The socket's inode (matches `socket:[N]` in the fd table).
    pub inode: u64,
    /// The remote end.
    pub remote: std::net::SocketAddr,
    /// The kernel's TCP state number (1 = established, 2 = SYN sent …).
    pub state: u8,
}

impl TcpEntry {
    /// Established, or still connecting: a process waiting on it waits on the network.
    pub fn is_live(&self) -> bool {
        matches!(self.state, 1 | 2)
    }
}

/// Parses `/proc/PID/net/tcp` (or `tcp6`): addresses are hex, each 32-bit word in host (little
/// endian on every platform this runs on) byte order; lines it cannot read are skipped.
pub fn parse_net_tcp(text: &str) -> Vec<TcpEntry> {
    text.lines().skip(1).filter_map(parse_tcp_line).collect()
}

fn parse_tcp_line(line: &str) -> Option<TcpEntry> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let remote = parse_hex_addr(f.get(2)?)?;
    let state = u8::from_str_radix(f.get(3)?, 16).ok()?;
    let inode = f.get(9)?.parse().ok()?;
    Some(TcpEntry {
        inode,
        remote,
        state,
    })
}

fn parse_hex_addr(text: &str) -> Option<std::net::SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..ip.len() / 8)
        .map(|i| {
            ip.get(i * 8..i * 8 + 8)
                .and_then(|w| u32::from_str_radix(w, 16).ok())
        })
        .collect::<Option<_>>()?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let ip: std::net::IpAddr = match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).into(),
        16 => {
            let v6 = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes.as_slice()).ok()?);
            v6.to_ipv4_mapped().map_or(v6.into(), Into::into)
        }
        _ => return None,
    };
    Some(std::net::SocketAddr::new(ip, port))
}

/// The kernel's `sock_diag` interface (linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h),
/// used to learn how long ago data last arrived on a TCP connection (`tcp_info`'s
/// `tcpi_last_data_recv`): the one number that tells a fetch hung on the network from a slow one.
pub mod sock_diag {
    /// `NETLINK_SOCK_DIAG`, the netlink protocol.
    pub const NETLINK_SOCK_DIAG: i32 = 4;
    /// `SOCK_DIAG_BY_FAMILY`, the request and reply message type.
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    /// `NLM_F_REQUEST | NLM_F_DUMP`.
    const FLAGS: u16 = 0x1 | 0x300;
    /// `NLMSG_ERROR` and `NLMSG_DONE`.
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    /// `INET_DIAG_INFO`: the attribute carrying `struct tcp_info`.
    const INET_DIAG_INFO: u16 = 2;
    /// `IPPROTO_TCP`.
    const IPPROTO_TCP: u8 = 6;
    /// TCP states asked for: `1 << TCP_ESTABLISHED | 1 << TCP_SYN_SENT`.
    const STATES: u32 = (1 << 1) | (1 << 2);
    /// `sizeof(struct nlmsghdr)`.
    const NLMSG_HDR: usize = 16;
    /// `sizeof(struct inet_diag_msg)`: family, state, timer, retrans (4), `inet_diag_sockid`
    /// (48), expires, rqueue, wqueue, uid, inode (20).
    const DIAG_MSG: usize = 72;
    /// Offset of `idiag_inode` in `struct inet_diag_msg`.
    const INODE_AT: usize = 68;
    /// Offset of `tcpi_last_data_recv` in `struct tcp_info` (8 bytes of `u8` fields, then
    /// `rto`, `ato`, `snd_mss`, `rcv_mss`, `unacked`, `sacked`, `lost`, `retrans`, `fackets`,
    /// `last_data_sent`, `last_ack_sent`).
    const LAST_DATA_RECV_AT: usize = 52;
    /// Offset of `tcpi_bytes_received` (a `u64`, Linux 4.1+): after the `u32` metrics up to
    /// `total_retrans` (100) come `pacing_rate`, `max_pacing_rate`, `bytes_acked`.
    const BYTES_RECEIVED_AT: usize = 128;

    /// The dump request for TCP sockets of `family` (`AF_INET` 2 or `AF_INET6` 10), asking for
    /// `tcp_info`: a `nlmsghdr` then an `inet_diag_req_v2`, in host byte order.
    pub fn request(family: u8, seq: u32) -> Vec<u8> {
        let len = (NLMSG_HDR + 56) as u32;
        let mut b = Vec::with_capacity(len as usize);
        b.extend_from_slice(&len.to_ne_bytes());
        b.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        b.extend_from_slice(&FLAGS.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        // inet_diag_req_v2: family, protocol, ext (1 << (INET_DIAG_INFO - 1)), pad, states.
        b.extend_from_slice(&[family, IPPROTO_TCP, 1 << (INET_DIAG_INFO - 1), 0]);
        b.extend_from_slice(&STATES.to_ne_bytes());
        b.resize(len as usize, 0); // inet_diag_sockid: all zero, match everything
        b
    }

    /// One socket of the dump.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Socket {
        /// Its inode.
        pub inode: u64,
        /// Milliseconds since data last arrived (since it connected, when none did).
        pub last_data_recv_ms: u32,
        /// Bytes received so far; `None` from kernels older than 4.1.
        pub bytes_received: Option<u64>,
    }

    /// What one datagram of the dump said.
    #[derive(Debug, Default, Clone, PartialEq, Eq)]
    pub struct Chunk {
        /// The sockets it described.
        pub sockets: Vec<Socket>,
        /// The dump is over (`NLMSG_DONE`, or an error the kernel reported).
        pub done: bool,
    }

    fn u16_at(b: &[u8], at: usize) -> Option<u16> {
        Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
    }

    fn u32_at(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
    }

    fn u64_at(b: &[u8], at: usize) -> Option<u64> {
        Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
    }

    /// Parses one datagram of replies; malformed messages end the dump instead of panicking.
    pub fn parse(buf: &[u8]) -> Chunk {
        let mut out = Chunk::default();
        let mut at = 0;
        while at + NLMSG_HDR <= buf.len() {
            let (Some(len), Some(kind)) = (u32_at(buf, at), u16_at(buf, at + 4)) else {
                break;
            };
            let len = len as usize;
            if len < NLMSG_HDR || at + len > buf.len() {
                out.done = true;
                break;
            }
            match kind {
                NLMSG_DONE | NLMSG_ERROR => {
                    out.done = true;
                    break;
                }
                SOCK_DIAG_BY_FAMILY => {
                    if let Some(s) = socket(&buf[at + NLMSG_HDR..at + len]) {
                        out.sockets.push(s);
                    }
                }
                _ => {}
            }
            at += (len + 3) & !3;
        }
        out
    }

    /// One `inet_diag_msg` and its attributes: the inode, `tcpi_last_data_recv` and
    /// `tcpi_bytes_received`.
    fn socket(msg: &[u8]) -> Option<Socket> {
        let inode = u64::from(u32_at(msg, INODE_AT)?);
        let mut at = DIAG_MSG;
        while at + 4 <= msg.len() {
            let len = usize::from(u16_at(msg, at)?);
            let kind = u16_at(msg, at + 2)?;
            if len < 4 || at + len > msg.len() {
                return None;
            }
            if kind == INET_DIAG_INFO {
                let info = &msg[at + 4..at + len];
                return Some(Socket {
                    inode,
                    last_data_recv_ms: u32_at(info, LAST_DATA_RECV_AT)?,
                    bytes_received: u64_at(info, BYTES_RECEIVED_AT),
                });
            }
            at += (len + 3) & !3;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process stopped in a blocking `flock` still shows the call (review Q, S12).
    #[test]
    fn a_blocking_flock_is_read_from_the_syscall_file() {
        // x86_64's number, as read on a real stopped waiter.
        let nr = 73;
        let line = |rest: &str| format!("{nr} {rest} 0x0 0x1b6 0x7ffe621c33a0 0x0 0x7ffe 0x7fdb");
        let parse = |l: &str| parse_flock_syscall(l, nr);
        assert_eq!(parse(&line("0x3 0x2")), Some((3, LockMode::Exclusive)));
        assert_eq!(parse(&line("0x1f 0x1")), Some((31, LockMode::Shared)));
        assert_eq!(parse(&line("0x3 0x6")), None, "LOCK_NB");
        assert_eq!(parse(&line("0x3 0x8")), None, "LOCK_UN");
        assert_eq!(parse("running"), None);
        assert_eq!(parse("-1 0x7ffe 0x7fdb"), None);
        assert_eq!(parse("0 0x3 0x2 0 0 0 0 0x0 0x0"), None, "read(2)");
    }

    // Captured from Linux 6.18 with two `flock -x` and one `flock -s` on one file, plus
    // unrelated POSIX locks.
    const CAPTURED: &str = "\
1: FLOCK  ADVISORY  WRITE 1877 fe:00:10010719 0 EOF
1: -> FLOCK  ADVISORY  WRITE 1880 fe:00:10010719 0 EOF
1:  -> FLOCK  ADVISORY  READ 1883 fe:00:10010719 0 EOF
2: POSIX  ADVISORY  WRITE 1859 fe:00:382078 0 EOF
3: POSIX  ADVISORY  WRITE 1859 fe:00:382079 0 EOF
4: OFDLCK ADVISORY  READ  -1 00:06:9217 128 128
5: FLOCK  ADVISORY  READ 11383 00:2f:10018881 0 EOF
6: FLOCK  ADVISORY  READ 11390 00:2f:10018881 0 EOF
7: DELEG  ACTIVE    READ 2141 08:01:1234 0 EOF
";

    #[test]
    fn parses_holders_and_nested_waiters() {
        let locks = parse_proc_locks(CAPTURED);
        assert_eq!(locks.len(), 5);
        assert_eq!(
            locks[0],
            KernelLock {
                ordinal: 1,
                wait_depth: 0,
                class: LockClass::Flock,
                mode: LockMode::Exclusive,
                pid: 1877,
                major: 0xfe,
                minor: 0,
                ino: 10010719
            }
        );
        assert_eq!(locks[1].wait_depth, 1);
        assert_eq!(locks[1].pid, 1880);
        assert_eq!(locks[2].wait_depth, 2);
        assert_eq!(locks[2].mode, LockMode::Shared);
        assert_eq!(locks[2].pid, 1883);
        assert!(locks[3].is_granted() && locks[4].is_granted());
        assert_eq!((locks[3].major, locks[3].minor), (0, 0x2f));
    }

    #[test]
    fn a_line_skipped_by_one_read_comes_from_the_other() {
        let older = parse_proc_locks(
            "1: FLOCK  ADVISORY  WRITE 10 fe:00:100 0 EOF\n\
             2: FLOCK  ADVISORY  WRITE 11 fe:00:200 0 EOF\n\
             2: -> FLOCK  ADVISORY  WRITE 12 fe:00:200 0 EOF\n",
        );
        // The newer read skipped 10's line, and 12 got the lock 11 released.
        let newer = parse_proc_locks("1: FLOCK  ADVISORY  WRITE 12 fe:00:200 0 EOF\n");
        let merged = merge_reads(older, newer);
        let mut seen: Vec<(u32, u64, bool)> = merged
            .iter()
            .map(|l| (l.pid, l.ino, l.is_granted()))
            .collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            [(10, 100, true), (11, 200, true), (12, 200, true)],
            "10 kept; 12 holds (not also waits); 11 stays one more pass"
        );
    }

    #[test]
    fn ignores_garbage_and_negative_pids() {
        assert_eq!(parse_lock_line(""), None);
        assert_eq!(parse_lock_line("garbage"), None);
        assert_eq!(parse_lock_line("1: FLOCK ADVISORY WRITE"), None);
        assert_eq!(
            parse_lock_line("4: OFDLCK ADVISORY  READ  -1 00:06:9217 128 128"),
            None
        );
        assert_eq!(
            parse_lock_line("1: FLOCK  ADVISORY  WRITE 12 zz:00:1 0 EOF"),
            None
        );
    }

    #[test]
    fn parses_fdinfo_with_lock_line() {
        let text = "pos:\t0\nflags:\t0100000\nmnt_id:\t27\nino:\t10010719\n\
                    lock:\t1: FLOCK  ADVISORY  WRITE 1877 fe:00:10010719 0 EOF\n";
        let info = parse_fdinfo(text);
        assert_eq!(info.ino, Some(10010719));
        assert_eq!(info.locks.len(), 1);
        assert_eq!(info.locks[0].pid, 1877);
        let plain = parse_fdinfo("pos:\t809\nflags:\t0100001\nmnt_id:\t27\nino:\t10010714\n");
        assert!(plain.locks.is_empty());
    }

    #[test]
    fn parses_tcp_tables_and_descriptor_links() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 20 4 30 10 -1\n\
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0\n\
   garbage\n";
        let t = parse_net_tcp(v4);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].inode, 123456);
        assert_eq!(t[0].remote.to_string(), "127.0.0.1:8080");
        assert!(t[0].is_live() && !t[1].is_live());
        let v6 = "  sl header\n\
   0: 00000000000000000000000001000000:A000 0000000000000000FFFF00000100007F:01BB 02 0:0 0:0 0 1000 0 77 1\n";
        let t = parse_net_tcp(v6);
        assert_eq!(
            t[0].remote.to_string(),
            "127.0.0.1:443",
            "v4-mapped shown as v4"
        );
        assert_eq!(t[0].state, 2);
        assert_eq!(pipe_inode(b"pipe:[4242]"), Some(4242));
        assert_eq!(socket_inode(b"socket:[7]"), Some(7));
        assert_eq!(pipe_inode(b"/dev/null"), None);
        assert_eq!(pipe_inode(b"pipe:[x]"), None);
    }

    /// A sock_diag reply: one socket (inode 4242, last data 1500 ms ago) whose `tcp_info` is
    /// `info_len` bytes long (older kernels send less), then NLMSG_DONE.
    fn diag_reply(info_len: usize, bytes_received: u64) -> Vec<u8> {
        let mut msg = vec![0u8; 72];
        msg[68..72].copy_from_slice(&4242u32.to_ne_bytes());
        let mut info = vec![0u8; info_len];
        info[52..56].copy_from_slice(&1500u32.to_ne_bytes());
        if info_len >= 136 {
            info[128..136].copy_from_slice(&bytes_received.to_ne_bytes());
        }
        let mut attr = Vec::new();
        attr.extend_from_slice(&((4 + info.len()) as u16).to_ne_bytes());
        attr.extend_from_slice(&2u16.to_ne_bytes());
        attr.extend_from_slice(&info);
        msg.extend_from_slice(&attr);
        let mut buf = Vec::new();
        for (kind, payload) in [(20u16, msg.as_slice()), (3u16, &[0u8; 4][..])] {
            buf.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
            buf.extend_from_slice(&kind.to_ne_bytes());
            buf.extend_from_slice(&[0; 10]);
            buf.extend_from_slice(payload);
        }
        buf
    }

    #[test]
    fn sock_diag_request_and_reply_round_trip() {
        let req = sock_diag::request(2, 7);
        assert_eq!(req.len(), 72);
        assert_eq!(u32::from_ne_bytes(req[0..4].try_into().unwrap()), 72);
        assert_eq!(&req[16..20], &[2, 6, 2, 0]);
        let socket = |bytes_received| sock_diag::Socket {
            inode: 4242,
            last_data_recv_ms: 1500,
            bytes_received,
        };
        // Linux 6.x: a 232-byte tcp_info with the bytes received.
        let chunk = sock_diag::parse(&diag_reply(232, 5120));
        assert_eq!(chunk.sockets, vec![socket(Some(5120))]);
        assert!(chunk.done);
        // An old kernel's short tcp_info: the count is unknown, not zero.
        let buf = diag_reply(104, 0);
        assert_eq!(sock_diag::parse(&buf).sockets, vec![socket(None)]);
        // Garbage and truncation end the dump quietly.
        assert!(sock_diag::parse(&[0xff; 40]).done);
        assert_eq!(sock_diag::parse(&buf[..30]).sockets, vec![]);
        assert_eq!(sock_diag::parse(&[]), sock_diag::Chunk::default());
    }

    #[test]
    fn fdinfo_flags_tell_readers_from_writers() {
        assert!(!parse_fdinfo("pos:\t0\nflags:\t02000000\n").writes());
        assert!(parse_fdinfo("pos:\t0\nflags:\t02000001\n").writes());
        assert!(parse_fdinfo("flags:\t0100002\n").writes());
        assert!(!parse_fdinfo("pos:\t0\n").writes());
    }

    #[test]
    fn parses_stat_with_awkward_names() {
        let text = "4242 (build-script (x) ) T 4200 4242 4200 34816 4242 4194560 100 0 0 0 \
                    150 50 7 3 20 0 1 0 987654 1000 100 18446744073709551615";
        let s = parse_stat(text).expect("stat parses");
        assert_eq!(s.comm, "build-script (x) ");
        assert_eq!(s.state, ProcState::Stopped);
        // A name made of escape sequences (OSC title, clear screen) is read as it is; shown,
        // it is escaped (`ProcName`), never obeyed.
        let odd = text.replace("build-script (x) ", "fl\u{1b}]0;PWNED\u{7}\n\u{1b}[2");
        let s = parse_stat(&odd).expect("stat parses");
        assert_eq!(s.comm, "fl\u{1b}]0;PWNED\u{7}\n\u{1b}[2");
        let shown = crate::core::model::ProcName::from(s.comm.as_str()).to_string();
        assert_eq!(shown, "fl\\x1b]0;PWNED\\x07\\n\\x1b[2");
        assert!(!shown.chars().any(char::is_control));
        assert_eq!(s.ppid, 4200);
        assert_eq!(s.pgrp, 4242);
        assert_eq!(s.session, 4200);
        assert_eq!(s.tty_nr, 34816);
        assert_eq!(s.cpu_ticks, 210);
        assert_eq!(s.starttime, 987654);
        assert!(!s.kernel_thread);
        assert!(!s.forked_without_exec);
        let forked = text.replace(" 4194560 ", " 4194624 ");
        assert!(
            parse_stat(&forked)
                .expect("stat parses")
                .forked_without_exec
        );
        assert_eq!(parse_stat("12 (x"), None);
        let kthread = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0";
        assert!(parse_stat(kthread).expect("stat parses").kernel_thread);
    }

    #[test]
    fn sigterm_ignored_or_blocked_is_read_from_the_status_masks() {
        // Captured from `bash -c 'trap "" TERM; exec sleep 600'`: SIGTERM (15) is bit 14.
        let status = |ign: &str, blk: &str, threads: u32| {
            format!(
                "Name:\tsleep\nThreads:\t{threads}\nSigQ:\t0/63432\nSigPnd:\t0000000000000000\n\
                 ShdPnd:\t0000000000000000\nSigBlk:\t{blk}\nSigIgn:\t{ign}\n\
                 SigCgt:\t0000000000000000\n"
            )
        };
        let none = "0000000000000000";
        let term = "0000000000004000";
        assert_eq!(
            parse_status_sigterm(&status("0000000000004004", none, 1)),
            Sigterm::Ignored
        );
        assert_eq!(
            parse_status_sigterm(&status(term, none, 8)),
            Sigterm::Ignored
        );
        assert_eq!(
            parse_status_sigterm(&status(none, term, 1)),
            Sigterm::Blocked
        );
        // Another thread may take it: not claimed.
        assert_eq!(
            parse_status_sigterm(&status(none, term, 4)),
            Sigterm::Unknown
        );
        // SIGINT and SIGQUIT ignored (a background job of a non-interactive shell), other
        // signals blocked: SIGTERM still ends it.
        assert_eq!(
            parse_status_sigterm(&status("0000000000000006", "fffffffffffe3fff", 1)),
            Sigterm::Delivered
        );
        assert_eq!(
            parse_status_sigterm(&status("0000000000000006", none, 1)),
            Sigterm::Delivered
        );
        assert_eq!(parse_status_sigterm("Name:\tx\n"), Sigterm::Unknown);
        assert_eq!(
            parse_status_sigterm("SigBlk:\tzz\nSigIgn:\t0\n"),
            Sigterm::Unknown
        );
    }

    #[test]
    fn reads_the_process_of_a_thread_and_the_last_pid() {
        let thread =
            "Name:\tcargo\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4100\nNgid:\t0\nPid:\t4107\n";
        assert_eq!(parse_status_tgid(thread), Some(4100));
        assert_eq!(parse_status_tgid("Name:\tcargo\n"), None);
        assert_eq!(
            parse_loadavg_last_pid("0.57 0.99 1.18 1/2082 30177\n"),
            Some(30177)
        );
        assert_eq!(parse_loadavg_last_pid("0.57 0.99"), None);
        assert_eq!(parse_loadavg_last_pid("0.57 0.99 1.18 1/2082 x"), None);
    }

    #[test]
    fn reads_uid_cmdline_and_deleted_suffix() {
        assert_eq!(
            parse_status_uid("Name:\tcargo\nUid:\t1000\t1000\t1000\t1000\n"),
            Some(1000)
        );
        assert_eq!(
            parse_cmdline(b"cargo\0build\0--release\0"),
            ["cargo", "build", "--release"]
        );
        // Bytes that are not UTF-8 read as the paths around them show them.
        assert_eq!(
            parse_cmdline(b"flock\0/h\xffome/x\0"),
            ["flock", r"/h\xffome/x"]
        );
        assert_eq!(
            split_deleted("/p/target/debug/.cargo-lock (deleted)"),
            ("/p/target/debug/.cargo-lock", true)
        );
        assert_eq!(split_deleted("/p/x"), ("/p/x", false));
    }
}
