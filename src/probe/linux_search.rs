//! Where a dead locker's descriptor lives on, and who keeps a blocker's pipe open: the
//! processes most likely to be the answer are read first, and every other process only when
//! none of them is. Reading one process's descriptors costs tens of microseconds, so on a
//! machine with thousands of processes the order decides the cost.

use std::collections::{HashMap, HashSet};
use std::ops::RangeInclusive;

use super::linux_index::{Pick, View};
use super::linux_parse::{self, KernelLock};
use crate::core::origin;

/// What is known about a lock whose lockers are gone, to guess who inherited it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clues<'a> {
    /// The lockers of this lock that are gone.
    pub dead: &'a [u32],
    /// Its waiters.
    pub waiters: &'a [u32],
    /// Every live process named in the lock table: the cargos, rustcs and build scripts
    /// holding or waiting for some lock, whose children are likely inheritors.
    pub table: &'a [u32],
}

/// The tiers of candidates, likeliest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tier {
    /// Found by following process trees: descendants of the processes in the lock table,
    /// the waiters' sessions, and orphans adopted by pid 1 (where a dead locker's children go).
    Related,
    /// Found by pid alone: the first processes forked after the dead locker (its first
    /// children) and the newest (a process that hands its lock to a child and exits, as a
    /// daemon does, forks that child last).
    Ends,
    /// Found by counting every process's descriptors (a third of the cost of reading its
    /// stat): a process holding more than the processes forked just before and after it,
    /// which hold the same number. An heir that exec'd into the program its siblings run
    /// differs from them by the descriptor it inherited alone, and a fork that never exec'd
    /// (a daemon's fork-and-exit, a shell's `( … ) &`) holds its parent's descriptors.
    Unlike,
    /// Found by reading every process's stat: Cargo's tools, children of editors, the
    /// waiters' sessions (a reparented process keeps its session), the dead locker's
    /// process group or session (its children keep them), and daemons started since it (a
    /// child that left its parent's session: a server a build script started keeps the
    /// descriptors it was given).
    Named,
    /// Everyone else: pids above the dead locker first (its descendants), then below it.
    Rest,
}

const TIERS: [Tier; 5] = [
    Tier::Related,
    Tier::Ends,
    Tier::Unlike,
    Tier::Named,
    Tier::Rest,
];

/// How many processes at each end of the dead locker's range the `Ends` tier reads.
const ENDS: usize = 16;

/// Who holds inode `ino` now that its lockers are gone: the first tier of candidates that
/// holds it (with their parents and descendants, which may share the descriptor). What an
/// earlier pass found is the caller's to re-check first.
/// Returns (holder, its `lock:` line) by pid; empty when nobody visible holds it.
pub(super) fn inheritors(
    v: &mut View,
    ino: u64,
    pick: Pick,
    clues: &Clues,
) -> Vec<(u32, KernelLock)> {
    let mut checked: HashSet<u32> = clues.dead.iter().copied().collect();
    for tier in TIERS {
        let found = tier_holders(v, tier, ino, pick, clues, &mut checked);
        if !found.is_empty() {
            return with_relatives(v, ino, pick, found, &mut checked);
        }
    }
    Vec::new()
}

/// Every process among `pids` not yet checked with a descriptor holding a flock on `ino`.
pub(super) fn holders_among(
    v: &mut View,
    ino: u64,
    pick: Pick,
    pids: &[u32],
    checked: &mut HashSet<u32>,
) -> Vec<(u32, KernelLock)> {
    let unchecked = mark_checked(pids, checked);
    let locks = v.par_map(&unchecked, |w, pid| w.find_lock(pid, ino, pick));
    (unchecked.into_iter().zip(locks))
        .filter_map(|(pid, lock)| Some((pid, lock?)))
        .collect()
}

/// The first of `pids` found holding a flock on `ino` (with any read beside it): a tier's
/// search stops there, its relatives are [`with_relatives`]' to find. What was read counts as
/// checked: everyone when nobody holds it, else those up to where the search stopped.
fn first_holders_among(
    v: &mut View,
    ino: u64,
    pick: Pick,
    pids: &[u32],
    checked: &mut HashSet<u32>,
) -> Vec<(u32, KernelLock)> {
    let mut once = HashSet::new();
    let unchecked: Vec<u32> = (pids.iter().copied())
        .filter(|p| !checked.contains(p) && once.insert(*p))
        .collect();
    let (found, asked) = v.par_find(&unchecked, |w, pid| w.find_lock(pid, ino, pick));
    checked.extend(&unchecked[..asked]);
    found
}

/// Those of `pids` not in `checked`, now added to it.
fn mark_checked(pids: &[u32], checked: &mut HashSet<u32>) -> Vec<u32> {
    pids.iter()
        .copied()
        .filter(|p| checked.insert(*p))
        .collect()
}

/// `found`, plus their parents, siblings and descendants that hold the lock too: a locker
/// that forked several children before it died left its descriptor in each of them, all
/// adopted by the same parent and kept in its session. (A tier's search stopped at the first
/// holder it found; siblings in other sessions are left: a subreaper may have thousands.)
fn with_relatives(
    v: &mut View,
    ino: u64,
    pick: Pick,
    mut found: Vec<(u32, KernelLock)>,
    checked: &mut HashSet<u32>,
) -> Vec<(u32, KernelLock)> {
    let mut kin = Vec::new();
    for (pid, _) in &found {
        let Some(stat) = v.stat(*pid) else { continue };
        if stat.ppid > 1 {
            kin.push(stat.ppid);
        }
        kin.extend(siblings_in_session(v, *pid, stat.ppid, stat.session));
        kin.extend(v.descendants(*pid));
    }
    found.extend(holders_among(v, ino, pick, &kin, checked));
    found.sort_by_key(|(pid, _)| *pid);
    found.dedup_by_key(|(pid, _)| *pid);
    found
}

/// The children of `parent` in session `session`, other than `pid`, the [`SIBLINGS`] nearest
/// to it by pid (children a locker forked one after another have pids near each other): none
/// when `pid` leads that session (only its descendants can be in it), so a session leader
/// adopted by a parent of thousands costs no stat of theirs, and one of thousands in their
/// parent's session costs a few of their tables, not all.
fn siblings_in_session(v: &mut View, pid: u32, parent: u32, session: u32) -> Vec<u32> {
    if session == pid {
        return Vec::new();
    }
    let mut kids = v.children(parent);
    kids.retain(|k| *k != pid);
    kids.sort_by_key(|k| k.abs_diff(pid));
    kids.truncate(SIBLINGS);
    v.read_stats(&kids);
    kids.retain(|k| v.stat(*k).is_some_and(|s| s.session == session));
    kids
}

/// How many siblings of a dead locker's heir are read for its descriptor.
const SIBLINGS: usize = 64;

/// The first holders of `ino` that `tier`'s candidates include (not yet `checked`).
fn tier_holders(
    v: &mut View,
    tier: Tier,
    ino: u64,
    pick: Pick,
    clues: &Clues,
    checked: &mut HashSet<u32>,
) -> Vec<(u32, KernelLock)> {
    let pids = match tier {
        Tier::Related => related(v, clues),
        Tier::Ends => {
            let pids = ends(v, clues);
            let found = first_holders_among(v, ino, pick, &pids, checked);
            return by_process(v, found);
        }
        Tier::Unlike => return unlike_holders(v, ino, pick, clues, checked),
        Tier::Named => return named_holders(v, ino, pick, clues, checked),
        Tier::Rest => rest(v, clues),
    };
    first_holders_among(v, ino, pick, &pids, checked)
}

/// Descendants of the lock table's processes, the waiters' sessions (followed down from each
/// session leader), and the children of pid 1 and of the waiters' ancestors: an orphan is
/// adopted by pid 1 or by the nearest subreaper above it (a `systemd --user`), which is
/// usually above the waiters too.
fn related(v: &mut View, clues: &Clues) -> Vec<u32> {
    let mut out = Vec::new();
    for &p in clues.table {
        out.push(p);
        out.extend(v.descendants(p));
    }
    for sid in sessions(v, clues.waiters) {
        out.extend(session_tree(v, sid));
    }
    out.extend(v.children(1));
    for a in ancestors(v, clues.waiters) {
        out.extend(v.children(a));
    }
    out
}

/// The ancestors of `pids` below pid 1, nearest first, each once.
fn ancestors(v: &mut View, pids: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    for &p in pids {
        let mut next = v.stat(p).map_or(0, |s| s.ppid);
        while next > 1 && !out.contains(&next) && out.len() < 256 {
            out.push(next);
            next = v.stat(next).map_or(0, |s| s.ppid);
        }
    }
    out
}

/// The sessions of `pids`.
fn sessions(v: &mut View, pids: &[u32]) -> Vec<u32> {
    let mut out: Vec<u32> = pids
        .iter()
        .filter_map(|p| v.stat(*p))
        .map(|s| s.session)
        .filter(|s| *s > 1)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The session leader `sid` and its descendants that stayed in its session.
fn session_tree(v: &mut View, sid: u32) -> Vec<u32> {
    let mut out = vec![sid];
    let mut queue = std::collections::VecDeque::from([sid]);
    while let Some(p) = queue.pop_front() {
        for c in v.children(p) {
            if out.len() >= super::linux_index::MAX_DESCENDANTS {
                return out;
            }
            if v.stat(c).is_some_and(|s| s.session == sid) && !out.contains(&c) {
                out.push(c);
                queue.push_back(c);
            }
        }
    }
    out
}

/// The first `ENDS` processes forked after the first dead locker (pids ascend until they wrap)
/// and the `ENDS` newest, read from their parts of the `/proc` listing only: listing it whole
/// costs milliseconds among thousands of processes.
fn ends(v: &mut View, clues: &Clues) -> Vec<u32> {
    let floor = first_dead(clues).saturating_add(1);
    let mut out = v.pids_in(floor..=u32::MAX, ENDS);
    out.extend(newest(v, floor, ENDS));
    out.sort_unstable();
    out.dedup();
    out
}

/// The `n` living processes handed out last among the pids from `floor` on, newest first:
/// down from the last pid handed out, and past a wrap of the pid counter, from the highest
/// pid down to `floor`.
fn newest(v: &mut View, floor: u32, n: usize) -> Vec<u32> {
    let Some(last) = v.last_pid() else {
        return Vec::new();
    };
    let pid_max = if last >= floor { last } else { v.pid_max() };
    let mut out = Vec::new();
    for span in spans_after(floor, last, pid_max) {
        out.extend(newest_in(v, span, n));
    }
    out
}

/// The pids handed out after `floor - 1`, newest first as spans: `floor..=last`, or once the
/// counter wrapped (`last` below `floor`), `1..=last` and then `floor..=pid_max`.
fn spans_after(floor: u32, last: u32, pid_max: u32) -> Vec<RangeInclusive<u32>> {
    let floor = floor.max(1);
    if last >= floor {
        vec![floor..=last]
    } else {
        vec![1..=last, floor..=pid_max]
    }
}

/// `span`'s `n` living processes with the highest pids: listed in windows going down, narrow
/// where processes live, doubling across pids nobody uses any more (a busy build leaves
/// thousands).
fn newest_in(v: &mut View, span: RangeInclusive<u32>, n: usize) -> Vec<u32> {
    const NARROW: u32 = 64;
    let (mut out, mut end, mut width) = (Vec::new(), *span.end(), NARROW);
    while out.len() < n && end >= *span.start() {
        let start = end.saturating_sub(width - 1).max(*span.start());
        let window = v.pids_in(start..=end, usize::MAX);
        width = if window.is_empty() {
            width.saturating_mul(2)
        } else {
            NARROW
        };
        out.extend(window.into_iter().rev());
        let Some(below) = start.checked_sub(1) else {
            break;
        };
        end = below;
    }
    out.truncate(n);
    out
}

/// `found` by process: a pid tried directly may be one of a process's threads, which shares
/// its descriptors; the holder is the process (a pid whose status cannot be read stays).
fn by_process(v: &mut View, found: Vec<(u32, KernelLock)>) -> Vec<(u32, KernelLock)> {
    let mut out: Vec<(u32, KernelLock)> = found
        .into_iter()
        .map(|(pid, lock)| (v.process_of(pid).unwrap_or(pid), lock))
        .collect();
    out.sort_by_key(|(pid, _)| *pid);
    out.dedup_by_key(|(pid, _)| *pid);
    out
}

fn first_dead(clues: &Clues) -> u32 {
    clues.dead.iter().copied().min().unwrap_or(0)
}

/// How many processes' descriptors the unlike tier counts before it reads the tables of
/// those standing out among them.
const COUNT_RUN: usize = 256;

/// The unlike tier: every process's descriptor count, in runs of [`COUNT_RUN`] in the order
/// of [`from_pivot`]; after each run, the tables of those holding more descriptors than their
/// neighbours (see [`unlike_neighbours`]). The search stops at the first run with a holder;
/// it is not made when the kernel does not count descriptors (before Linux 6.2). When it
/// finds nobody, the named tier after it has paid about a third more than its own stats.
fn unlike_holders(
    v: &mut View,
    ino: u64,
    pick: Pick,
    clues: &Clues,
    checked: &mut HashSet<u32>,
) -> Vec<(u32, KernelLock)> {
    if v.fs.fd_count(std::process::id()) == 0 {
        return Vec::new();
    }
    let pids = from_pivot(v.pids(), Since::of(v, clues));
    let (mut counts, mut judged) = (Vec::with_capacity(pids.len()), 0);
    for run in pids.chunks(COUNT_RUN) {
        counts.extend(v.fd_counts(run));
        // The last processes of a run are judged with the next one's beside them.
        let until = if counts.len() == pids.len() {
            counts.len()
        } else {
            counts.len().saturating_sub(NEIGHBOURS)
        };
        let odd: Vec<u32> = (unlike_neighbours(&counts, judged..until).into_iter())
            .map(|i| pids[i])
            .collect();
        judged = until;
        let found = first_holders_among(v, ino, pick, &odd, checked);
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

/// How many processes on each side of one are its neighbours in [`unlike_neighbours`].
const NEIGHBOURS: usize = 8;

/// Those in `judge` of the processes whose descriptor counts are `counts` (in the order they
/// were forked) holding more descriptors than their [`NEIGHBOURS`] on each side, three
/// quarters or more of which hold the same number: lookalikes forked one after another. A
/// count of 0 (unreadable, a kernel thread, or a kernel that does not count) neither stands
/// out nor counts as a neighbour, and a process with fewer than [`NEIGHBOURS`] neighbours
/// counted is not judged: on a machine whose processes are all unlike, none stands out.
fn unlike_neighbours(counts: &[u64], judge: std::ops::Range<usize>) -> Vec<usize> {
    judge
        .filter(|&i| {
            let mut around = [0; 2 * NEIGHBOURS];
            let mut n = 0;
            let from = i.saturating_sub(NEIGHBOURS);
            let side = &counts[from..counts.len().min(i + NEIGHBOURS + 1)];
            for (j, count) in (from..).zip(side) {
                if j != i && *count > 0 {
                    around[n] = *count;
                    n += 1;
                }
            }
            let (usual, alike) = mode_of(&mut around[..n]);
            counts[i] > usual && n >= NEIGHBOURS && alike * 4 >= n * 3
        })
        .collect()
}

/// The most common of `values` (the smallest on a tie) and how many times it occurs; (0, 0)
/// for none. Sorts `values`: a neighbourhood's counts, judged without allocating.
fn mode_of(values: &mut [u64]) -> (u64, usize) {
    values.sort_unstable();
    let mut best = (0, 0);
    for run in values.chunk_by(|a, b| a == b) {
        if run.len() > best.1 {
            best = (run[0], run.len());
        }
    }
    best
}

/// How many processes' stats the named tier reads before it reads the descriptors of the
/// likely ones among them.
const NAMED_RUN: usize = 256;

/// The named tier: every process's stat, read in runs of [`NAMED_RUN`] from the dead locker's
/// pid up (it forked its descendants, and so its heirs, after it started) and then down from
/// it; after each run, the descriptors of its likely processes (see [`is_likely`]). The
/// search stops at the first run with a holder: a daemon the locker left is found after the
/// stats of the processes forked before it, not of all.
fn named_holders(
    v: &mut View,
    ino: u64,
    pick: Pick,
    clues: &Clues,
    checked: &mut HashSet<u32>,
) -> Vec<(u32, KernelLock)> {
    let sessions = sessions(v, clues.waiters);
    let since = Since::of(v, clues);
    let pids = v.pids();
    for run in from_pivot(pids, since).chunks(NAMED_RUN) {
        v.read_stats(run);
        let likely: Vec<u32> = (run.iter().copied())
            .filter(|p| !checked.contains(p) && is_likely(v, *p, clues, &sessions, since))
            .collect();
        let found = first_holders_among(v, ino, pick, &likely, checked);
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

/// Whether `pid`'s stat makes it a likely heir: one of Cargo's tools, a child of an editor, a
/// member of the waiters' `sessions`, or of a dead locker's process group or session (a child
/// keeps them when its parent dies: `flock F cmd &` in a shell leads its own job's group), a
/// daemon forked since the dead locker (see [`detached_since`]), or a process forked since it
/// that never exec'd: a descriptor outlives an exec only when whoever opened it left it
/// inheritable (Cargo opens its locks close-on-exec), so a lock's heir is most often a fork
/// that kept its parent's program (a daemon's fork-and-exit, a shell's `( … ) &`), and a
/// machine has few of those (see [`linux_parse::Stat::forked_without_exec`]).
fn is_likely(v: &mut View, pid: u32, clues: &Clues, sessions: &[u32], since: Since) -> bool {
    let Some(s) = v.stat(pid) else { return false };
    is_build_tool(&s.comm)
        || sessions.contains(&s.session)
        || clues.dead.contains(&s.pgrp)
        || clues.dead.contains(&s.session)
        || (since.includes(pid) && s.forked_without_exec)
        || v.stat(s.ppid).is_some_and(|p| origin::is_ide_name(&p.comm))
        || detached_since(v, pid, since)
}

/// Whether `pid`, forked since a dead locker, leads a session its parent is not in: a daemon
/// (`setsid` after a fork) keeps the descriptors it was given, and a locker that hands its
/// lock over this way is gone by the time anyone looks. Terminal shells and services started
/// since are such leaders too; they are few.
fn detached_since(v: &mut View, pid: u32, since: Since) -> bool {
    let Some(s) = v.stat(pid) else {
        return false;
    };
    since.includes(pid)
        && s.session == pid
        && (v.stat(s.ppid)).is_some_and(|parent| parent.session != s.session)
}

/// Every process but kernel threads (known as such from the named tier's stats: they have no
/// descriptors), in the order of [`from_pivot`], those with more descriptors than their
/// lookalikes first (see [`odd_ones_first`]).
fn rest(v: &mut View, clues: &Clues) -> Vec<u32> {
    let pids: Vec<u32> = v
        .pids()
        .into_iter()
        .filter(|p| !v.stat_read(*p).is_some_and(|s| s.kernel_thread))
        .collect();
    let ordered = from_pivot(pids, Since::of(v, clues));
    odd_ones_first(v, ordered)
}

/// `pids` with the [`odd_ones`] among them first.
fn odd_ones_first(v: &mut View, pids: Vec<u32>) -> Vec<u32> {
    let odd = odd_ones(v, &pids);
    let (mut first, rest): (Vec<u32>, Vec<u32>) = pids.into_iter().partition(|p| odd.contains(p));
    first.extend(rest);
    first
}

/// Those of `pids` holding more descriptors than most of their lookalikes among them (same
/// parent, session and name, [`LOOKALIKES`] or more of them): an heir that exec'd into the
/// program its siblings run differs from them only by the descriptor it inherited. A
/// descriptor count is one `stat` of `/proc/PID/fd`, a fifth of reading the table; before
/// Linux 6.2 every count reads 0 and none stands out.
fn odd_ones(v: &mut View, pids: &[u32]) -> HashSet<u32> {
    let mut groups: HashMap<(u32, u32, String), Vec<u32>> = HashMap::new();
    for &p in pids {
        if let Some(s) = v.stat_read(p) {
            groups
                .entry((s.ppid, s.session, s.comm.clone()))
                .or_default()
                .push(p);
        }
    }
    let members: Vec<u32> = (groups.values())
        .filter(|g| g.len() >= LOOKALIKES)
        .flatten()
        .copied()
        .collect();
    let counts: HashMap<u32, u64> = (members.iter().copied())
        .zip(v.fd_counts(&members))
        .collect();
    let mut odd: HashSet<u32> = HashSet::new();
    for g in groups.values().filter(|g| g.len() >= LOOKALIKES) {
        let (usual, _) = mode_of(&mut g.iter().map(|p| counts[p]).collect::<Vec<_>>());
        odd.extend(g.iter().copied().filter(|p| counts[p] > usual));
    }
    odd
}

/// How many processes alike make a group in which one with an extra descriptor stands out.
const LOOKALIKES: usize = 3;

/// The pids handed out since a dead locker's (`pivot`): those above it, and from 1 up to
/// `wrapped_to` when the pid counter wrapped since (the last pid handed out is below it). A
/// machine with the default `pid_max` of 32,768 wraps every few hours of builds, and the heir
/// of a locker started before a wrap has a pid below the locker's.
#[derive(Debug, Clone, Copy)]
struct Since {
    pivot: u32,
    wrapped_to: u32,
}

impl Since {
    fn of(v: &View, clues: &Clues) -> Since {
        let pivot = first_dead(clues);
        Since::after(pivot, v.last_pid())
    }

    /// Since `pivot`, the pid counter now at `last`.
    fn after(pivot: u32, last: Option<u32>) -> Since {
        let wrapped_to = last.filter(|l| *l < pivot).unwrap_or(0);
        Since { pivot, wrapped_to }
    }

    fn includes(self, pid: u32) -> bool {
        pid > self.pivot || pid <= self.wrapped_to
    }
}

/// `pids` in the order they were handed out since a dead locker (it forked its descendants,
/// and so its heirs, after it started): above it, then past a wrap; then the older ones,
/// nearest first.
fn from_pivot(pids: Vec<u32>, since: Since) -> Vec<u32> {
    let (mut after, mut older): (Vec<u32>, Vec<u32>) =
        pids.into_iter().partition(|p| since.includes(*p));
    after.sort_unstable_by_key(|p| (*p <= since.pivot, *p));
    older.sort_unstable_by(|a, b| b.cmp(a));
    after.extend(older);
    after
}

/// Names (`comm`, 15 bytes at most) of the processes a Cargo build runs.
pub(super) fn is_build_tool(comm: &str) -> bool {
    matches!(
        comm,
        "cargo" | "rustc" | "rustdoc" | "clippy-driver" | "sccache" | "rustup"
    ) || ["build-script-", "build_script_", "cargo-", "rust-analyzer"]
        .iter()
        .any(|p| comm.starts_with(p))
}

/// Pipes `pid` reads from (beyond its stdin, stdout and stderr) and has no write end of:
/// another process must close them before it sees end-of-file.
pub(super) fn pipes_read_only(v: &mut View, pid: u32) -> Vec<u64> {
    let (mut reads, mut writes) = (Vec::new(), Vec::new());
    let (_, n) = v.access(pid);
    for i in 0..n {
        let Some(ino) = v.link(pid, i).and_then(linux_parse::pipe_inode) else {
            continue;
        };
        let Some((fd, info)) = v.info(pid, i) else {
            continue;
        };
        if info.writes() {
            writes.push(ino);
        } else if fd > 2 {
            reads.push(ino);
        }
    }
    reads.retain(|i| !writes.contains(i));
    reads.sort_unstable();
    reads.dedup();
    reads
}

/// Whether `pid` holds the write end of one of `pipes` (stops at the first).
fn writes_to(v: &mut View, pid: u32, pipes: &[u64]) -> bool {
    let (_, n) = v.access(pid);
    (0..n).any(|i| {
        v.link(pid, i)
            .and_then(linux_parse::pipe_inode)
            .is_some_and(|ino| pipes.contains(&ino))
            && v.info(pid, i).is_some_and(|(_, info)| info.writes())
    })
}

/// The processes outside `exclude` holding the write end of one of `pipes`: those in `session`
/// first (a daemon left by a build script stays there), then everyone else if none is.
pub(super) fn pipe_writers(v: &mut View, pipes: &[u64], session: u32, exclude: &[u32]) -> Vec<u32> {
    let everyone: Vec<u32> = v
        .pids()
        .into_iter()
        .filter(|p| !exclude.contains(p))
        .collect();
    v.read_stats(&everyone);
    let (near, rest): (Vec<u32>, Vec<u32>) = everyone
        .into_iter()
        .partition(|p| v.stat(*p).is_some_and(|s| s.session == session));
    let found = writers_among(v, near, pipes);
    if !found.is_empty() {
        return found;
    }
    writers_among(v, rest, pipes)
}

fn writers_among(v: &mut View, pids: Vec<u32>, pipes: &[u64]) -> Vec<u32> {
    let writes = v.par_map(&pids, |w, p| writes_to(w, p, pipes));
    (pids.into_iter().zip(writes))
        .filter_map(|(p, w)| w.then_some(p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pids_after_a_dead_locker_run_up_to_the_last_or_wrap_around() {
        assert_eq!(spans_after(101, 900, 900), [101..=900]);
        assert_eq!(spans_after(101, 101, 101), [101..=101]);
        // The counter wrapped: 1..=40 came after everything from the locker on.
        assert_eq!(spans_after(30_001, 40, 32_768), [1..=40, 30_001..=32_768]);
        assert_eq!(spans_after(0, 5, 5), [1..=5]);
    }

    #[test]
    fn the_search_goes_up_from_the_dead_locker_then_down() {
        assert_eq!(
            from_pivot(vec![5, 300, 120, 99, 101, 7], Since::after(100, Some(300))),
            [101, 120, 300, 99, 7, 5]
        );
        assert_eq!(from_pivot(vec![3, 1, 2], Since::after(0, None)), [1, 2, 3]);
        // The counter wrapped since the locker (100) started and is at 7 now: 5 and 7 came
        // after 300, and 99 is the newest of those before it.
        assert_eq!(
            from_pivot(
                vec![5, 300, 120, 99, 101, 7, 50],
                Since::after(100, Some(7))
            ),
            [101, 120, 300, 5, 7, 99, 50]
        );
    }

    #[test]
    fn the_most_common_count_wins_and_the_smallest_on_a_tie() {
        assert_eq!(mode_of(&mut [3, 3, 4, 3]), (3, 3));
        assert_eq!(mode_of(&mut [5, 4]), (4, 1));
        assert_eq!(mode_of(&mut [9, 5, 9, 5]), (5, 2));
        assert_eq!(mode_of(&mut []), (0, 0));
    }

    #[test]
    fn one_with_more_descriptors_than_its_alike_neighbours_stands_out() {
        let mut counts = vec![3; 20];
        counts[10] = 4;
        assert_eq!(unlike_neighbours(&counts, 0..20), [10]);
        // Two heirs side by side (a locker that forked twice) both stand out.
        counts[11] = 4;
        assert_eq!(unlike_neighbours(&counts, 0..20), [10, 11]);
        // Only the range asked about is judged.
        assert_eq!(unlike_neighbours(&counts, 0..10), [] as [usize; 0]);
        // Fewer descriptors than the neighbours is nothing inherited.
        counts[11] = 2;
        assert_eq!(unlike_neighbours(&counts, 0..20), [10]);
    }

    #[test]
    fn among_unlike_neighbours_or_uncounted_ones_none_stands_out() {
        // A desktop's processes: all different, so no usual count to stand out from.
        let mixed = [
            3, 7, 12, 5, 9, 31, 4, 4, 6, 88, 3, 10, 17, 5, 64, 8, 3, 12, 9, 4,
        ];
        assert_eq!(unlike_neighbours(&mixed, 0..20), [] as [usize; 0]);
        // Kernel threads, other users' processes, or a kernel before 6.2: all read 0.
        let mut uncounted = [0; 20];
        uncounted[10] = 4;
        assert_eq!(unlike_neighbours(&uncounted, 0..20), [] as [usize; 0]);
        // Too few counted neighbours (a run of kernel threads beside a few processes).
        let few = [0, 0, 0, 0, 0, 3, 3, 3, 4, 3, 3, 3, 0, 0, 0, 0, 0];
        assert_eq!(unlike_neighbours(&few, 0..17), [] as [usize; 0]);
    }

    /// Sixteen `sleep`s of this process and, in the middle, one whose descriptor 9 holds a
    /// flock its locker (`flock -x 9`, gone) left it: the unlike tier reads that one and
    /// finds it (real processes, real `/proc`, real lock). A round in which other tests'
    /// processes took pids between the sleeps, or left a descriptor in one for a moment, is
    /// spawned again.
    #[test]
    fn the_unlike_tier_finds_a_lookalike_heir_among_sleeps() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".package-cache");
        std::fs::write(&file, "").unwrap();
        let ino = std::fs::metadata(&file).unwrap().ino();
        let fs = super::super::linux_index::Procfs::open("/proc".into()).unwrap();
        for _ in 0..10 {
            let half = 8;
            let mut kids = sleeps(&file, half, "exec 9>\"$0\" && flock -x 9 && exec sleep 60");
            let pids: Vec<u32> = kids.iter().map(|k| k.id()).collect();
            let heir = pids[half];
            let mut idx = super::super::linux_index::Index::default();
            let mut v = View {
                fs: &fs,
                idx: &mut idx,
            };
            let counts = v.fd_counts(&pids);
            let only_ours = v.pids_in(pids[0]..=pids[2 * half], usize::MAX) == pids;
            let pivot = [pids[0] - 1];
            let clues = Clues {
                dead: &pivot,
                waiters: &[],
                table: &[],
            };
            let found = unlike_holders(&mut v, ino, Pick::LockNames, &clues, &mut HashSet::new());
            for k in &mut kids {
                let _ = k.kill();
                let _ = k.wait();
            }
            if counts[0] == 0 {
                assert!(found.is_empty(), "no counts before Linux 6.2: {found:?}");
                return;
            }
            let found: Vec<u32> = found.iter().map(|(p, _)| *p).collect();
            let alike = (counts.iter().enumerate()).all(|(i, c)| i == half || *c == counts[0]);
            if only_ours && alike && counts[half] > counts[0] {
                assert_eq!(found, [heir], "{pids:?} with {counts:?} descriptors");
                return;
            }
        }
        panic!("the sleeps never came out alike and side by side");
    }

    /// Three `sleep`s of this process, the middle one with an extra descriptor (an inherited
    /// lock's, as `exec 9>file` leaves it): that one is read first (real processes, real
    /// `/proc`). Another test running at once may leave a descriptor of its own in a child for
    /// a moment, which makes the lookalikes unlike: such a round is spawned again.
    #[test]
    fn a_lookalike_with_an_extra_descriptor_is_read_first() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lock");
        let fs = super::super::linux_index::Procfs::open("/proc".into()).unwrap();
        for _ in 0..10 {
            let mut kids = sleeps(&file, 1, "exec 9>\"$0\"; exec sleep 60");
            let pids: Vec<u32> = kids.iter().map(|k| k.id()).collect();
            let counts: Vec<u64> = (pids.iter()).map(|p| fs.fd_count(*p)).collect();
            let mut idx = super::super::linux_index::Index::default();
            let mut v = View {
                fs: &fs,
                idx: &mut idx,
            };
            v.read_stats(&pids);
            let order = odd_ones_first(&mut v, pids.clone());
            for k in &mut kids {
                let _ = k.kill();
                let _ = k.wait();
            }
            if counts[0] == 0 {
                // Before Linux 6.2 every count reads 0: none stands out.
                assert_eq!(order, pids, "no counts: the order is kept");
                return;
            }
            let alike = counts[2] == counts[0];
            if alike && counts[1] > counts[0] {
                assert_eq!(
                    order[0], pids[1],
                    "{order:?} of {pids:?}, {counts:?} descriptors"
                );
                return;
            }
        }
        panic!("the plain sleeps never had the same descriptors");
    }

    /// `2 * half + 1` `sleep`s of this process, the middle one started by `heir` (`$0` is
    /// `file`), forked one after another.
    fn sleeps(file: &std::path::Path, half: usize, heir: &str) -> Vec<std::process::Child> {
        let spawn = |script: &str| {
            std::process::Command::new("sh")
                .args(["-c", script])
                .arg(file)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        };
        let kids: Vec<std::process::Child> = (0..=2 * half)
            .map(|i| spawn(if i == half { heir } else { "exec sleep 60" }))
            .collect();
        wait_for_sleeps(&kids);
        kids
    }

    fn wait_for_sleeps(kids: &[std::process::Child]) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while kids.iter().any(|k| {
            let comm = std::fs::read_to_string(format!("/proc/{}/comm", k.id()));
            comm.map_or(true, |c| c.trim() != "sleep")
        }) {
            assert!(
                std::time::Instant::now() < deadline,
                "the sleeps did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[test]
    fn cargo_tools_are_candidates_by_name() {
        for name in [
            "cargo",
            "rustc",
            "build-script-bu",
            "sccache",
            "cargo-clippy",
        ] {
            assert!(is_build_tool(name), "{name}");
        }
        for name in ["sleep", "bash", "python3", "cargox"] {
            assert!(!is_build_tool(name), "{name}");
        }
    }
}
