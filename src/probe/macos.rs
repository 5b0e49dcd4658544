//! macOS probe: `fcntl(F_GETLK)` says whether each Cargo lock file is held, and the libproc
//! calls (`proc_pidinfo`, `proc_pidfdinfo`) say by whom, through the `FWASLOCKED` flag of each
//! process's descriptors.
//!
//! macOS has no `/proc/locks`. XNU keeps `flock` locks in the same per-vnode list as `fcntl`
//! locks, so a whole-file `F_GETLK` from a read-only descriptor answers free / held shared /
//! held exclusive without disturbing anyone (it names no pid for flock locks). The holders are
//! then found by matching `(dev, ino)` in the descriptor tables of Cargo-like processes first and
//! of every same-user process only when that finds nobody. Every decision is made by
//! [`super::macos_records`] over plain records; this file only fills them in.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ffi::{c_int, c_void};
use std::fs::{File, OpenOptions};
use std::io;
use std::mem::size_of;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::macos_records::{self as rec, DiscoveredLock, FdRecord, LockAnswer, ProcRecord};
use super::{Probe, ProbeError, Targets};
use crate::core::catalog::LockKind;
use crate::core::model::{Activity, Ancestor, ChildProcess, FileKey, LockSighting, ProcessFacts};

/// How far up a parent chain is followed.
const MAX_ANCESTORS: usize = 64;
/// How many descendants are visited (a huge build has a few dozen).
const MAX_DESCENDANTS: usize = 4096;
/// Discovered lock files remembered between passes before the cache is reset.
const MAX_DISCOVERED: usize = 4096;

// ---------------------------------------------------------------------------------------------
// Declarations the `libc` crate lacks, transcribed from XNU `bsd/sys/proc_info.h`.
// ---------------------------------------------------------------------------------------------

/// `struct proc_fileinfo`: the open-file part of every `proc_pidfdinfo` answer.
#[allow(
    dead_code,
    reason = "mirrors the kernel's layout; only fi_openflags is read"
)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct ProcFileInfo {
    /// The open file's `fg_flag` (`FREAD`, `FWRITE`, `O_EVTONLY`, `FWASLOCKED` …).
    fi_openflags: u32,
    /// `PROC_FP_*` bits.
    fi_status: u32,
    /// Current offset.
    fi_offset: libc::off_t,
    /// `DTYPE_*` of the file.
    fi_type: i32,
    /// `PROC_FI_GUARD_*` bits.
    fi_guardflags: u32,
}

/// `struct vnode_fdinfowithpath`: the answer to `PROC_PIDFDVNODEPATHINFO`.
#[repr(C)]
#[derive(Clone, Copy)]
struct VnodeFdInfoWithPath {
    pfi: ProcFileInfo,
    pvip: libc::vnode_info_path,
}

/// `proc_pidfdinfo` flavor returning [`VnodeFdInfoWithPath`].
const PROC_PIDFDVNODEPATHINFO: c_int = 2;

/// `struct pipe_info`: one end of a pipe.
#[allow(
    dead_code,
    reason = "mirrors the kernel's layout; only the handles are read"
)]
#[repr(C)]
#[derive(Clone, Copy)]
struct PipeInfo {
    pipe_stat: libc::vinfo_stat,
    /// This end (an obfuscated kernel address, the same in every process).
    pipe_handle: u64,
    /// The other end.
    pipe_peerhandle: u64,
    pipe_status: c_int,
    rfu_1: c_int,
}

/// `struct pipe_fdinfo`: the answer to `PROC_PIDFDPIPEINFO`.
#[repr(C)]
#[derive(Clone, Copy)]
struct PipeFdInfo {
    pfi: ProcFileInfo,
    pipeinfo: PipeInfo,
}

/// `proc_pidfdinfo` flavor returning [`PipeFdInfo`].
const PROC_PIDFDPIPEINFO: c_int = 6;

/// `struct mach_timebase_info` (`mach/mach_time.h`); `libc`'s copy is deprecated.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct MachTimebaseInfo {
    numer: u32,
    denom: u32,
}

// SAFETY: `mach_timebase_info` is exported by libSystem with exactly this signature
// (`kern_return_t mach_timebase_info(mach_timebase_info_t info)`, `kern_return_t` being `int`).
unsafe extern "C" {
    fn mach_timebase_info(info: *mut MachTimebaseInfo) -> c_int;
}

// Sizes computed from the XNU headers (LP64; identical on x86_64 and arm64):
// proc_fileinfo = u32 + u32 + off_t(8, at 8) + i32 + u32 = 24.
const _: () = assert!(size_of::<ProcFileInfo>() == 24);
// vinfo_stat = u32 + u16 + u16 + u64 + uid + gid + 8 × i64 + off_t + i64 + i32 + 3 × u32
//            + 2 × i64 = 136.
const _: () = assert!(size_of::<libc::vinfo_stat>() == 136);
// vnode_info = vinfo_stat + int + int + fsid_t(2 × i32) = 152.
const _: () = assert!(size_of::<libc::vnode_info>() == 152);
// vnode_info_path = vnode_info + char[MAXPATHLEN = 1024] = 1176.
const _: () = assert!(size_of::<libc::vnode_info_path>() == 1176);
// vnode_fdinfowithpath = proc_fileinfo + vnode_info_path = 1200.
const _: () = assert!(size_of::<VnodeFdInfoWithPath>() == 1200);
// pipe_info = vinfo_stat + 2 × u64 + 2 × int = 160; pipe_fdinfo = proc_fileinfo + that = 184.
const _: () = assert!(size_of::<PipeInfo>() == 160);
const _: () = assert!(size_of::<PipeFdInfo>() == 184);
// proc_vnodepathinfo = 2 × vnode_info_path = 2352.
const _: () = assert!(size_of::<libc::proc_vnodepathinfo>() == 2352);
// proc_bsdinfo = 12 × u32 + char[16] + char[32] + 6 × u32 + 2 × u64 = 136.
const _: () = assert!(size_of::<libc::proc_bsdinfo>() == 136);
// proc_bsdshortinfo = 4 × u32 + char[16] + 8 × u32 = 64.
const _: () = assert!(size_of::<libc::proc_bsdshortinfo>() == 64);
// proc_taskinfo = 6 × u64 + 12 × i32 = 96.
const _: () = assert!(size_of::<libc::proc_taskinfo>() == 96);
// proc_fdinfo = i32 + u32 = 8.
const _: () = assert!(size_of::<libc::proc_fdinfo>() == 8);
// rusage_info_v2 (bsd/sys/resource.h) = u8[16] + 18 × u64 = 160.
const _: () = assert!(size_of::<libc::rusage_info_v2>() == 160);
// struct flock = off_t + off_t + pid_t + short + short = 24.
const _: () = assert!(size_of::<libc::flock>() == 24);

// The pure module spells out XNU constants so it compiles on Linux; they must agree with libc.
const _: () = assert!(rec::F_RDLCK == libc::F_RDLCK);
const _: () = assert!(rec::F_UNLCK == libc::F_UNLCK);
const _: () = assert!(rec::F_WRLCK == libc::F_WRLCK);
const _: () = assert!(rec::O_EVTONLY == libc::O_EVTONLY as u32);
const _: () = assert!(rec::pstat::SIDL == libc::SIDL);
const _: () = assert!(rec::pstat::SRUN == libc::SRUN);
const _: () = assert!(rec::pstat::SSLEEP == libc::SSLEEP);
const _: () = assert!(rec::pstat::SSTOP == libc::SSTOP);
const _: () = assert!(rec::pstat::SZOMB == libc::SZOMB);

pub(super) fn new_probe() -> Result<Box<dyn Probe>, ProbeError> {
    Ok(Box::new(MacProbe::new()?))
}

/// The macOS probe. It remembers lock files discovered through descriptors between passes, so
/// a build directory whose cargo has exited is still checked while an inherited descriptor
/// keeps it locked.
pub struct MacProbe {
    self_pid: u32,
    euid: u32,
    uid: u32,
    timebase: MachTimebaseInfo,
    /// sysinfo, for command lines only (refreshed one pid at a time).
    sysinfo: std::cell::RefCell<sysinfo::System>,
    discovered: HashMap<FileKey, DiscoveredLock>,
    /// blocker pid → (its start token, when its pipe writers were last searched, what was
    /// found): the search reads every same-user process's descriptors, so it is not repeated
    /// every pass.
    culprits: HashMap<u32, (u64, std::time::Instant, Vec<u32>)>,
    users: super::UserNames,
    /// Which processes the cheap looks between passes have seen, to tell a cargo that started.
    cargo_starts: rec::CargoStarts,
}

/// How long the answer to "who holds this blocker's pipes open" is trusted.
const CULPRIT_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// A lock file examined in one pass.
struct Watched {
    path: PathBuf,
    kind: LockKind,
    key: FileKey,
    deleted: bool,
}

impl MacProbe {
    /// A probe for the current user.
    pub fn new() -> Result<Self, ProbeError> {
        let mut timebase = MachTimebaseInfo::default();
        // SAFETY: `timebase` is a valid, writable `mach_timebase_info` for the call's duration.
        let kr = unsafe { mach_timebase_info(&mut timebase) };
        if kr != 0 || timebase.denom == 0 {
            timebase = MachTimebaseInfo { numer: 1, denom: 1 };
        }
        // Under Rosetta mach_timebase_info answers for Intel while the kernel's task times
        // count native ticks: take the native rate then.
        let translated = sysctl_u64(c"sysctl.proc_translated").is_some_and(|v| v == 1);
        let (numer, denom) = rec::task_timebase(
            (timebase.numer, timebase.denom),
            translated,
            sysctl_u64(c"hw.tbfrequency"),
        );
        timebase = MachTimebaseInfo { numer, denom };
        Ok(MacProbe {
            self_pid: std::process::id(),
            // SAFETY: geteuid and getuid cannot fail and have no preconditions.
            euid: unsafe { libc::geteuid() },
            // SAFETY: as above.
            uid: unsafe { libc::getuid() },
            timebase,
            sysinfo: std::cell::RefCell::new(sysinfo::System::new()),
            discovered: HashMap::new(),
            culprits: HashMap::new(),
            users: super::UserNames::default(),
            cargo_starts: rec::CargoStarts::default(),
        })
    }

    /// Same-user processes outside `pid`'s tree holding the write end of a pipe `pid` reads.
    fn pipe_writers(&mut self, pid: u32, tree: &[u32]) -> Vec<ProcessFacts> {
        let wanted = rec::awaited_write_ends(&pipe_ends(pid));
        let Ok(me) = bsd_info(pid) else {
            return Vec::new();
        };
        if wanted.is_empty() {
            self.culprits.remove(&pid);
            return Vec::new();
        }
        let cached = self.culprits.get(&pid).filter(|(token, at, found)| {
            *token == me.start_token()
                && at.elapsed() < CULPRIT_TTL
                && found.iter().all(|p| pid_exists(*p))
        });
        let found = match cached {
            Some((_, _, found)) => found.clone(),
            None => {
                let mut exclude = tree.to_vec();
                exclude.extend([pid, self.self_pid]);
                let ends: Vec<rec::PipeEnd> = list_all_pids()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|p| !exclude.contains(p))
                    .filter(|p| bsd_info(*p).is_ok_and(|r| r.ruid == me.ruid))
                    .flat_map(pipe_ends)
                    .collect();
                let found = rec::pipe_writers(&ends, &wanted, &exclude);
                if self.culprits.len() > 256 {
                    self.culprits.clear();
                }
                let entry = (me.start_token(), std::time::Instant::now(), found.clone());
                self.culprits.insert(pid, entry);
                found
            }
        };
        found
            .into_iter()
            .filter_map(|p| self.process(p).ok())
            .collect()
    }

    fn secs(&self, ticks: u64) -> f64 {
        rec::mach_to_secs(ticks, self.timebase.numer, self.timebase.denom)
    }

    /// CPU seconds of one process plus those of its reaped children.
    fn own_cpu_secs(&self, pid: u32) -> f64 {
        let live = task_info(pid)
            .map(|t| t.pti_total_user.saturating_add(t.pti_total_system))
            .unwrap_or(0);
        let reaped = rusage(pid)
            .map(|r| r.ri_child_user_time.saturating_add(r.ri_child_system_time))
            .unwrap_or(0);
        self.secs(live.saturating_add(reaped))
    }

    /// The command line, through sysinfo's `KERN_PROCARGS2` reading (code that runs on Macs
    /// every day); empty for a process this user cannot inspect.
    fn cmdline(&self, pid: u32) -> Vec<String> {
        use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, UpdateKind};
        let pid = Pid::from_u32(pid);
        let mut sys = self.sysinfo.borrow_mut();
        let only_cmd = ProcessRefreshKind::nothing().with_cmd(UpdateKind::Always);
        sys.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), true, only_cmd);
        sys.process(pid)
            .map(|p| {
                p.cmd()
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The lock files to ask about this pass: known ones that exist, and discovered ones.
    fn watch_set(&mut self, targets: &Targets, fds: &[FdRecord]) -> Vec<Watched> {
        let mut out: BTreeMap<FileKey, Watched> = BTreeMap::new();
        for (path, kind) in targets.known.iter() {
            if let Some(key) = super::file_key(path) {
                out.insert(
                    key,
                    Watched {
                        path: path.clone(),
                        kind: *kind,
                        key,
                        deleted: false,
                    },
                );
            }
        }
        if self.discovered.len() > MAX_DISCOVERED {
            self.discovered.clear();
        }
        for d in rec::discover_locks(fds) {
            self.discovered.insert(d.key, d);
        }
        let open_keys: HashSet<FileKey> = fds.iter().map(FdRecord::key).collect();
        // Forget discoveries that no descriptor shows any more and whose path now names
        // another file (or none): nobody can hold them.
        self.discovered.retain(|key, d| {
            open_keys.contains(key) || rec::path_still_names(super::file_key(&d.path), *key)
        });
        for (key, d) in &self.discovered {
            let known_same = out.keys().any(|k| rec::path_still_names(Some(*k), *key));
            if known_same {
                continue;
            }
            out.insert(
                *key,
                Watched {
                    path: d.path.clone(),
                    kind: d.kind,
                    key: *key,
                    deleted: d.deleted,
                },
            );
        }
        out.into_values().collect()
    }
}

impl Probe for MacProbe {
    fn sightings(&mut self, targets: &Targets) -> Result<Vec<LockSighting>, ProbeError> {
        let pids = list_all_pids().map_err(|source| ProbeError::Os {
            what: "proc_listallpids".into(),
            cause: source,
        })?;
        let procs: HashMap<u32, ProcRecord> = pids
            .iter()
            .filter_map(|pid| bsd_info(*pid).ok().map(|r| (*pid, r)))
            .collect();
        // Processes whose descriptors this user may read (root may read everyone's), other
        // than this one (its own F_GETLK descriptor is no participant).
        let (self_pid, euid, uid) = (self.self_pid, self.euid, self.uid);
        let scannable = move |p: &ProcRecord| {
            p.pid != self_pid && !p.is_gone() && (euid == 0 || p.uid == euid || p.ruid == uid)
        };

        // Cargo-like processes first: their descriptors both name holders and discover the
        // build directories in use.
        let mut scanned: HashSet<u32> = HashSet::new();
        let mut fds: Vec<FdRecord> = Vec::new();
        for p in procs.values() {
            if scannable(p) && rec::is_candidate(p.short_name()) {
                scanned.insert(p.pid);
                fds.extend(fd_records(p.pid).into_iter().filter(|f| {
                    f.path
                        .as_deref()
                        .and_then(rec::file_name_str)
                        .is_some_and(crate::core::catalog::could_be_lock_name)
                }));
            }
        }

        let watched = self.watch_set(targets, &fds);
        let watched_keys: Vec<FileKey> = watched.iter().map(|w| w.key).collect();
        let mut wide_scan_done = false;
        let mut out = Vec::new();
        for w in watched {
            let (answer, deleted) = ask_kernel(&w.path, w.key, w.deleted);
            let mut roles = rec::choose_roles(answer, w.key, w.kind, &fds, &procs, self.self_pid);
            if !wide_scan_done && rec::needs_wide_scan(answer, &roles, targets.deep_on_contention) {
                wide_scan_done = true;
                for p in procs.values() {
                    if scannable(p) && !scanned.contains(&p.pid) {
                        fds.extend(
                            fd_records(p.pid)
                                .into_iter()
                                .filter(|f| watched_keys.iter().any(|k| f.refers_to(*k))),
                        );
                    }
                }
                roles = rec::choose_roles(answer, w.key, w.kind, &fds, &procs, self.self_pid);
            }
            let unseen = rec::unseen_holder(answer, &roles);
            if roles.holders.is_empty() && roles.waiters.is_empty() && unseen.is_none() {
                continue;
            }
            // XNU does not record which process took a flock lock; when every holder holds an
            // inherited descriptor, the one that took it is gone.
            let locker_gone =
                !roles.holders.is_empty() && roles.holders.iter().all(|h| h.inherited);
            out.push(LockSighting {
                path: w.path,
                key: w.key,
                kind: w.kind,
                deleted,
                holders: roles.holders,
                waiters: roles.waiters,
                locker_gone,
                dead_locker: None,
                unseen,
            });
        }
        Ok(out)
    }

    fn process(&mut self, pid: u32) -> Result<ProcessFacts, ProbeError> {
        let record = bsd_info(pid).map_err(|source| process_error(pid, source))?;
        let running_threads = task_info(pid).map(|t| t.pti_numrunning);

        let mut ancestors = Vec::new();
        let mut parent_has_tty = false;
        let mut next = record.ppid;
        while next > 0 && ancestors.len() < MAX_ANCESTORS {
            // The short record answers for every user's processes (PROC_PIDTBSDINFO only for
            // one's own), so the chain does not stop at `login` under Terminal.
            let Ok(parent) = bsd_info(next).or_else(|_| bsd_short_info(next)) else {
                break;
            };
            if ancestors.is_empty() {
                parent_has_tty = parent.has_tty();
            }
            ancestors.push(Ancestor {
                pid: next,
                name: parent.short_name().into(),
            });
            if next == 1 || parent.ppid == next {
                break;
            }
            next = parent.ppid;
        }

        let mut tree_cpu_secs = self.own_cpu_secs(pid);
        for child in self.descendants(pid) {
            tree_cpu_secs += self.own_cpu_secs(child);
        }

        let user = self.users.get(record.ruid);
        let mut facts = rec::facts_from(
            &record,
            rec::FactsExtras {
                cmd: self.cmdline(pid),
                cwd: cwd(pid),
                running_threads,
                tree_cpu_secs,
                ancestors,
                parent_has_tty,
            },
        );
        facts.user = user;
        Ok(facts)
    }

    fn descendants(&mut self, pid: u32) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        let mut seen: HashSet<u32> = HashSet::from([pid]);
        let mut queue = VecDeque::from(child_pids(pid));
        while let Some(p) = queue.pop_front() {
            if out.len() >= MAX_DESCENDANTS {
                break;
            }
            if !seen.insert(p) {
                continue;
            }
            out.push(p);
            queue.extend(child_pids(p));
        }
        out
    }

    fn activity(&mut self, pid: u32) -> Activity {
        let tree = self.descendants(pid);
        let descendants: Vec<ChildProcess> = tree
            .iter()
            .filter_map(|p| self.process(*p).ok())
            .filter(|f| f.state != crate::core::model::ProcState::Zombie)
            .map(|f| ChildProcess {
                pid: f.pid,
                stopped: f.state == crate::core::model::ProcState::Stopped,
                name: f.name,
                cmd: f.cmd,
            })
            .collect();
        // Another user's descriptors are not ours to list: what it waits on is unknown.
        let unseen = list_fds(pid).is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied);
        if !descendants.is_empty() {
            return Activity {
                descendants,
                unseen,
                ..Activity::default()
            };
        }
        // Stopped, it reads nothing: who holds its pipes open does not matter until it runs.
        if self
            .process(pid)
            .is_ok_and(|f| f.state == crate::core::model::ProcState::Stopped)
        {
            return Activity {
                descendants,
                unseen,
                ..Activity::default()
            };
        }
        // Network peers need PROC_PIDFDSOCKETINFO, which this probe does not read yet.
        Activity {
            descendants,
            peers: Vec::new(),
            pipe_writers: self.pipe_writers(pid, &tree),
            unseen,
            tree_received_bytes: None,
        }
    }

    fn quick_looks(&mut self, files: &[&Path]) -> Option<super::QuickLooks> {
        let looks = (files.iter())
            .map(|path| rec::quick_look(getlk(path).map_err(|e| e.kind())))
            .collect();
        let cargo_started = match list_all_pids() {
            Ok(pids) => self.cargo_starts.update(&pids, |pid| {
                bsd_short_info(pid).ok().map(|r| r.short_name().to_owned())
            }),
            Err(e) => {
                tracing::debug!(error = %e, "proc_listallpids failed: cargo starts unseen");
                false
            }
        };
        Some(super::QuickLooks {
            looks,
            cargo_started,
        })
    }

    fn holds(&mut self, pid: u32, key: FileKey) -> Result<bool, ProbeError> {
        match bsd_info(pid) {
            Ok(r) if !r.is_gone() => {}
            Ok(_) => return Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(false),
            Err(source) => {
                return Err(ProbeError::Os {
                    what: format!("proc_pidinfo(PROC_PIDTBSDINFO) for pid {pid}"),
                    cause: source,
                });
            }
        }
        let fds: Vec<FdRecord> = list_fds(pid)
            .map_err(|source| ProbeError::Os {
                what: format!("proc_pidinfo(PROC_PIDLISTFDS) for pid {pid}"),
                cause: source,
            })?
            .into_iter()
            .filter(|f| f.proc_fdtype == libc::PROX_FDTYPE_VNODE as u32)
            .filter_map(|f| vnode_fd(pid, f.proc_fd).ok())
            .filter(|f| f.refers_to(key))
            .collect();
        let Some(path) = fds.iter().find_map(|f| f.path.clone()) else {
            return Ok(false);
        };
        let deleted = fds.iter().any(|f| f.nlink == 0);
        let (answer, _) = ask_kernel(&path, key, deleted);
        Ok(rec::descriptor_holds(answer, key, &fds))
    }
}

/// `F_GETLK` on the watched file, through a fresh read-only descriptor on its path. When the
/// path names another file now (or nothing), the watched inode was deleted while open and can
/// no longer be asked: the answer is [`LockAnswer::Unverifiable`] and the file counts as deleted.
fn ask_kernel(path: &Path, key: FileKey, deleted: bool) -> (LockAnswer, bool) {
    if deleted {
        return (LockAnswer::Unverifiable, true);
    }
    match getlk(path) {
        Ok((answer, now)) if rec::path_still_names(Some(now), key) => (answer, false),
        Ok(_) => (LockAnswer::Unverifiable, true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => (LockAnswer::Unverifiable, true),
        // EPERM/EACCES: privacy protection (TCC) in ~/Documents, ~/Desktop, iCloud Drive or
        // on another volume. Descriptors still tell who holds and who waits.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            tracing::debug!(path = %path.display(), error = %e, "F_GETLK open refused");
            (LockAnswer::Denied, false)
        }
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "F_GETLK failed");
            (LockAnswer::Unverifiable, false)
        }
    }
}

/// Opens `path` read-only (never creating it, never blocking on a FIFO) and asks whether a
/// whole-file write lock could be taken; returns the answer and the opened file's identity.
fn getlk(path: &Path) -> io::Result<(LockAnswer, FileKey)> {
    // O_EVTONLY: an event-only descriptor, so this very open never makes the file look in use
    // (and never keeps a volume from unmounting); F_GETLK works through it.
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_EVTONLY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "lock path is not a regular file",
        ));
    }
    let key = FileKey {
        dev: super::normalize_dev(meta.dev()),
        ino: meta.ino(),
    };
    let mut fl = libc::flock {
        l_start: 0,
        l_len: 0,
        l_pid: 0,
        l_type: libc::F_WRLCK,
        l_whence: libc::SEEK_SET as libc::c_short,
    };
    // SAFETY: `file` is an open descriptor owned by this function; F_GETLK reads and writes
    // exactly one `struct flock`, and `fl` is a valid, writable one for the call's duration.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut fl as *mut libc::flock) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    let answer = rec::decode_getlk(fl.l_type, fl.l_pid).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("F_GETLK returned unknown l_type {}", fl.l_type),
        )
    })?;
    Ok((answer, key))
}

/// Maps a failed `proc_pidinfo` for one process to the probe's error.
fn process_error(pid: u32, source: io::Error) -> ProbeError {
    if source.raw_os_error() == Some(libc::ESRCH) || !pid_exists(pid) {
        ProbeError::NoSuchProcess(pid)
    } else {
        ProbeError::Os {
            what: format!("proc_pidinfo(PROC_PIDTBSDINFO) for pid {pid}"),
            cause: source,
        }
    }
}

fn pid_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 performs only the existence and permission checks; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn c_pid(pid: u32) -> io::Result<c_int> {
    c_int::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))
}

/// Calls `proc_pidinfo` for a fixed-size flavor into `out`, failing unless the kernel filled it.
///
/// # Safety
/// `T` must be the plain-data struct the kernel writes for `flavor`, valid for any bit pattern.
unsafe fn pidinfo_into<T>(pid: u32, flavor: c_int, out: &mut T) -> io::Result<()> {
    let pid = c_pid(pid)?;
    let size = size_of::<T>() as c_int;
    // SAFETY: `out` points to `size` writable bytes; the caller guarantees `T` matches `flavor`.
    let n = unsafe { libc::proc_pidinfo(pid, flavor, 0, (out as *mut T).cast::<c_void>(), size) };
    if n == size {
        Ok(())
    } else if n <= 0 {
        Err(io::Error::last_os_error())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("proc_pidinfo flavor {flavor} returned {n} of {size} bytes"),
        ))
    }
}

/// `proc_pidinfo(PROC_PIDTBSDINFO)` as a [`ProcRecord`].
fn bsd_info(pid: u32) -> io::Result<ProcRecord> {
    // SAFETY: proc_bsdinfo is plain integers and byte arrays; all zeroes is a valid value.
    let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
    // SAFETY: proc_bsdinfo is the struct PROC_PIDTBSDINFO fills.
    unsafe { pidinfo_into(pid, libc::PROC_PIDTBSDINFO, &mut info)? };
    Ok(ProcRecord {
        pid: info.pbi_pid,
        ppid: info.pbi_ppid,
        pgid: info.pbi_pgid,
        uid: info.pbi_uid,
        ruid: info.pbi_ruid,
        status: info.pbi_status,
        flags: info.pbi_flags,
        comm: rec::c_buf_to_string(&c_chars(&info.pbi_comm)),
        name: rec::c_buf_to_string(&c_chars(&info.pbi_name)),
        start_sec: info.pbi_start_tvsec,
        start_usec: info.pbi_start_tvusec,
        tty_dev: info.e_tdev,
    })
}

/// `proc_pidinfo(PROC_PIDT_SHORTBSDINFO)`: what any user may learn of any process (no start
/// time, name cut at 16 bytes, no terminal), as a [`ProcRecord`] with those fields empty.
fn bsd_short_info(pid: u32) -> io::Result<ProcRecord> {
    // SAFETY: proc_bsdshortinfo is plain integers and a byte array; all zeroes is valid.
    let mut info: libc::proc_bsdshortinfo = unsafe { std::mem::zeroed() };
    // SAFETY: proc_bsdshortinfo is the struct PROC_PIDT_SHORTBSDINFO fills.
    unsafe { pidinfo_into(pid, libc::PROC_PIDT_SHORTBSDINFO, &mut info)? };
    Ok(ProcRecord {
        pid: info.pbsi_pid,
        ppid: info.pbsi_ppid,
        pgid: info.pbsi_pgid,
        uid: info.pbsi_uid,
        ruid: info.pbsi_ruid,
        status: info.pbsi_status,
        flags: info.pbsi_flags,
        comm: rec::c_buf_to_string(&c_chars(&info.pbsi_comm)),
        name: String::new(),
        start_sec: 0,
        start_usec: 0,
        tty_dev: rec::NODEV,
    })
}

/// `proc_pidinfo(PROC_PIDTASKINFO)`; `None` for processes this user may not inspect.
fn task_info(pid: u32) -> Option<libc::proc_taskinfo> {
    // SAFETY: proc_taskinfo is plain integers; all zeroes is a valid value.
    let mut info: libc::proc_taskinfo = unsafe { std::mem::zeroed() };
    // SAFETY: proc_taskinfo is the struct PROC_PIDTASKINFO fills.
    unsafe { pidinfo_into(pid, libc::PROC_PIDTASKINFO, &mut info) }.ok()?;
    Some(info)
}

/// `proc_pid_rusage(RUSAGE_INFO_V2)`: the reaped-children CPU times live here.
fn rusage(pid: u32) -> Option<libc::rusage_info_v2> {
    let pid = c_pid(pid).ok()?;
    // SAFETY: rusage_info_v2 is plain integers; all zeroes is a valid value.
    let mut info: libc::rusage_info_v2 = unsafe { std::mem::zeroed() };
    // SAFETY: for RUSAGE_INFO_V2 the kernel writes one rusage_info_v2 at the buffer address;
    // libc types the parameter as `rusage_info_t *` although it is that struct's address.
    let rc = unsafe {
        libc::proc_pid_rusage(
            pid,
            libc::RUSAGE_INFO_V2,
            (&mut info as *mut libc::rusage_info_v2).cast::<libc::rusage_info_t>(),
        )
    };
    (rc == 0).then_some(info)
}

/// Working directory from `proc_pidinfo(PROC_PIDVNODEPATHINFO)`.
fn cwd(pid: u32) -> Option<PathBuf> {
    // SAFETY: proc_vnodepathinfo is plain integers and byte arrays; all zeroes is valid.
    let mut info: libc::proc_vnodepathinfo = unsafe { std::mem::zeroed() };
    // SAFETY: proc_vnodepathinfo is the struct PROC_PIDVNODEPATHINFO fills.
    unsafe { pidinfo_into(pid, libc::PROC_PIDVNODEPATHINFO, &mut info) }.ok()?;
    rec::c_buf_to_path(&path_bytes(&info.pvi_cdir))
}

/// Every pid on the system.
fn list_all_pids() -> io::Result<Vec<u32>> {
    // SAFETY: a null buffer of size 0 asks only for the number of pids.
    let estimate = unsafe { libc::proc_listallpids(std::ptr::null_mut(), 0) };
    if estimate <= 0 {
        return Err(io::Error::last_os_error());
    }
    let mut capacity = usize::try_from(estimate).unwrap_or(0) + 64;
    for _ in 0..4 {
        let mut buf: Vec<c_int> = vec![0; capacity];
        let bytes = c_int::try_from(capacity * size_of::<c_int>()).unwrap_or(c_int::MAX);
        // SAFETY: `buf` has room for `bytes` bytes of pids.
        let n = unsafe { libc::proc_listallpids(buf.as_mut_ptr().cast::<c_void>(), bytes) };
        if n <= 0 {
            return Err(io::Error::last_os_error());
        }
        let n = usize::try_from(n).unwrap_or(0).min(capacity);
        if n < capacity {
            buf.truncate(n);
            return Ok(buf
                .into_iter()
                .filter_map(|p| u32::try_from(p).ok())
                .filter(|p| *p > 0)
                .collect());
        }
        capacity *= 2;
    }
    Err(io::Error::other(
        "the process table kept growing while it was listed",
    ))
}

/// Direct children of `pid`.
fn child_pids(pid: u32) -> Vec<u32> {
    let Ok(cpid) = libc::pid_t::try_from(pid) else {
        return Vec::new();
    };
    let mut capacity = 64usize;
    for _ in 0..6 {
        let mut buf: Vec<libc::pid_t> = vec![0; capacity];
        let bytes = c_int::try_from(capacity * size_of::<libc::pid_t>()).unwrap_or(c_int::MAX);
        // SAFETY: `buf` has room for `bytes` bytes of pids.
        let n = unsafe { libc::proc_listchildpids(cpid, buf.as_mut_ptr().cast::<c_void>(), bytes) };
        let Ok(n) = usize::try_from(n) else {
            return Vec::new();
        };
        if n < capacity {
            buf.truncate(n);
            return buf
                .into_iter()
                .filter_map(|p| u32::try_from(p).ok())
                .filter(|p| *p > 0 && *p != pid)
                .collect();
        }
        capacity *= 4;
    }
    Vec::new()
}

/// The descriptor table of `pid`.
fn list_fds(pid: u32) -> io::Result<Vec<libc::proc_fdinfo>> {
    let cpid = c_pid(pid)?;
    // SAFETY: a null buffer of size 0 asks only for the size the table needs.
    let needed =
        unsafe { libc::proc_pidinfo(cpid, libc::PROC_PIDLISTFDS, 0, std::ptr::null_mut(), 0) };
    if needed <= 0 {
        return Err(io::Error::last_os_error());
    }
    let entry = size_of::<libc::proc_fdinfo>();
    // Room for descriptors opened between the two calls.
    let capacity = usize::try_from(needed).unwrap_or(0) / entry + 32;
    let empty = libc::proc_fdinfo {
        proc_fd: -1,
        proc_fdtype: 0,
    };
    let mut buf = vec![empty; capacity];
    let bytes = c_int::try_from(capacity * entry).unwrap_or(c_int::MAX);
    // SAFETY: `buf` has room for `bytes` bytes of proc_fdinfo, the struct PROC_PIDLISTFDS fills.
    let n = unsafe {
        libc::proc_pidinfo(
            cpid,
            libc::PROC_PIDLISTFDS,
            0,
            buf.as_mut_ptr().cast::<c_void>(),
            bytes,
        )
    };
    if n <= 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(usize::try_from(n).unwrap_or(0) / entry);
    Ok(buf)
}

/// `proc_pidfdinfo(PROC_PIDFDVNODEPATHINFO)` for one descriptor, as an [`FdRecord`].
fn vnode_fd(pid: u32, fd: i32) -> io::Result<FdRecord> {
    let cpid = c_pid(pid)?;
    // SAFETY: VnodeFdInfoWithPath is plain integers and byte arrays; all zeroes is valid.
    let mut info: VnodeFdInfoWithPath = unsafe { std::mem::zeroed() };
    let size = size_of::<VnodeFdInfoWithPath>() as c_int;
    // SAFETY: `info` is `size` writable bytes laid out as XNU's vnode_fdinfowithpath, the
    // struct PROC_PIDFDVNODEPATHINFO fills.
    let n = unsafe {
        libc::proc_pidfdinfo(
            cpid,
            fd,
            PROC_PIDFDVNODEPATHINFO,
            (&mut info as *mut VnodeFdInfoWithPath).cast::<c_void>(),
            size,
        )
    };
    if n != size {
        return Err(if n <= 0 {
            io::Error::last_os_error()
        } else {
            io::Error::new(io::ErrorKind::InvalidData, "short vnode_fdinfowithpath")
        });
    }
    let stat = &info.pvip.vip_vi.vi_stat;
    Ok(FdRecord {
        pid,
        fd,
        dev: stat.vst_dev,
        ino: stat.vst_ino,
        nlink: stat.vst_nlink,
        path: rec::c_buf_to_path(&path_bytes(&info.pvip)),
        open_flags: info.pfi.fi_openflags,
    })
}

/// `proc_pidfdinfo(PROC_PIDFDPIPEINFO)` for one descriptor, as a [`rec::PipeEnd`].
fn pipe_fd(pid: u32, fd: i32) -> io::Result<rec::PipeEnd> {
    let cpid = c_pid(pid)?;
    // SAFETY: PipeFdInfo is plain integers; all zeroes is valid.
    let mut info: PipeFdInfo = unsafe { std::mem::zeroed() };
    let size = size_of::<PipeFdInfo>() as c_int;
    // SAFETY: `info` is `size` writable bytes laid out as XNU's pipe_fdinfo, the struct
    // PROC_PIDFDPIPEINFO fills.
    let n = unsafe {
        libc::proc_pidfdinfo(
            cpid,
            fd,
            PROC_PIDFDPIPEINFO,
            (&mut info as *mut PipeFdInfo).cast::<c_void>(),
            size,
        )
    };
    if n != size {
        return Err(if n <= 0 {
            io::Error::last_os_error()
        } else {
            io::Error::new(io::ErrorKind::InvalidData, "short pipe_fdinfo")
        });
    }
    Ok(rec::PipeEnd {
        pid,
        fd,
        handle: info.pipeinfo.pipe_handle,
        peer: info.pipeinfo.pipe_peerhandle,
        open_flags: info.pfi.fi_openflags,
    })
}

/// Pipe descriptors of `pid`; empty when it exited or may not be inspected.
fn pipe_ends(pid: u32) -> Vec<rec::PipeEnd> {
    let Ok(fds) = list_fds(pid) else {
        return Vec::new();
    };
    fds.into_iter()
        .filter(|f| f.proc_fdtype == libc::PROX_FDTYPE_PIPE as u32)
        .filter_map(|f| pipe_fd(pid, f.proc_fd).ok())
        .collect()
}

/// Vnode descriptors of `pid`; empty when it exited or may not be inspected.
fn fd_records(pid: u32) -> Vec<FdRecord> {
    let Ok(fds) = list_fds(pid) else {
        return Vec::new();
    };
    fds.into_iter()
        .filter(|f| f.proc_fdtype == libc::PROX_FDTYPE_VNODE as u32)
        .filter_map(|f| vnode_fd(pid, f.proc_fd).ok())
        .collect()
}

/// An integer sysctl by name (4 or 8 bytes); `None` when it does not exist (`ENOENT`, e.g.
/// `sysctl.proc_translated` on Intel) or is not an integer.
fn sysctl_u64(name: &std::ffi::CStr) -> Option<u64> {
    let mut buf = [0u8; 8];
    let mut len = buf.len();
    // SAFETY: `name` is NUL-terminated; `buf`/`len` describe 8 writable bytes and the kernel
    // stores the size it wrote back into `len`.
    let rc = unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            buf.as_mut_ptr().cast::<c_void>(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    match (rc, len) {
        (0, 4) => Some(u64::from(u32::from_ne_bytes([
            buf[0], buf[1], buf[2], buf[3],
        ]))),
        (0, 8) => Some(u64::from_ne_bytes(buf)),
        _ => None,
    }
}

/// A `c_char` array as bytes (`c_char` is signed on x86_64 and unsigned on arm64).
fn c_chars(chars: &[libc::c_char]) -> Vec<u8> {
    chars.iter().map(|c| *c as u8).collect()
}

/// `vip_path` as bytes (`libc` declares it as 32 × 32 chars rather than 1024).
fn path_bytes(vip: &libc::vnode_info_path) -> Vec<u8> {
    vip.vip_path.iter().flatten().map(|c| *c as u8).collect()
}
