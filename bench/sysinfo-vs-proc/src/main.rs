//! Side-by-side timings of the per-process facts `status` needs, read by our Linux probe
//! (`/proc/PID/{stat,status,cmdline,cwd}` plus ancestors and the tree's CPU) and by sysinfo
//! 0.37 refreshing only the pids that matter (`ProcessesToUpdate::Some`, only the
//! `ProcessRefreshKind` parts needed: command line, cwd, user), cold (a fresh `System`, as a
//! one-off `status` would have) and warm (a kept `System`, as the daemon would).
//!
//! The processes looked at are real: `sleep` children started here, each with its own cwd and
//! arguments, and their ancestors (this process, its shell …).

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

/// Median and 90th percentile of `runs` timings of `f`, in microseconds.
fn time(runs: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..runs / 10 + 1 {
        f();
    }
    let mut t: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    t.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (us(t[t.len() / 2]), us(t[t.len() * 9 / 10]))
}

/// The facts sysinfo gives for one process, touched so nothing is optimised away.
fn touch(p: &sysinfo::Process) -> usize {
    p.name().len()
        + p.cmd().len()
        + p.cwd().map_or(0, |c| c.as_os_str().len())
        + p.parent().map_or(0, |x| x.as_u32() as usize)
        + p.start_time() as usize
        + p.user_id().map_or(0, |u| **u as usize)
}

fn refresh_kind() -> ProcessRefreshKind {
    ProcessRefreshKind::nothing()
        .with_cmd(UpdateKind::Always)
        .with_cwd(UpdateKind::Always)
        .with_user(UpdateKind::Always)
}

/// sysinfo: the pids, then their ancestors level by level (each level is one more refresh,
/// since a parent is only known once its child has been read).
fn sysinfo_facts(sys: &mut System, pids: &[Pid], ancestors: bool) -> usize {
    sys.refresh_processes_specifics(ProcessesToUpdate::Some(pids), true, refresh_kind());
    let mut sum = 0;
    let mut frontier: Vec<Pid> = pids.to_vec();
    for p in pids {
        sum += sys.process(*p).map_or(0, touch);
    }
    while ancestors && !frontier.is_empty() {
        let mut parents: Vec<Pid> = frontier
            .iter()
            .filter_map(|p| sys.process(*p).and_then(|p| p.parent()))
            .filter(|p| p.as_u32() > 0)
            .collect();
        // Siblings share their parent: read it once.
        parents.sort();
        parents.dedup();
        if parents.is_empty() {
            break;
        }
        sys.refresh_processes_specifics(ProcessesToUpdate::Some(&parents), false, refresh_kind());
        for p in &parents {
            sum += sys.process(*p).map_or(0, touch);
        }
        frontier = parents.into_iter().filter(|p| p.as_u32() != 1).collect();
    }
    sum
}

/// The plain reads sysinfo would replace in our probe (stat stays: it gives the state and
/// the CPU ticks sysinfo's Linux path does not make cheaper): status for the uid, cmdline,
/// the cwd link.
fn replaced_reads(pids: &[u32]) -> usize {
    let mut sum = 0;
    for pid in pids {
        let dir = Path::new("/proc").join(pid.to_string());
        sum += std::fs::read(dir.join("status")).map_or(0, |b| b.len());
        sum += std::fs::read(dir.join("cmdline")).map_or(0, |b| b.len());
        sum += std::fs::read_link(dir.join("cwd")).map_or(0, |p| p.as_os_str().len());
    }
    sum
}

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2000);
    let base = std::env::temp_dir().join(format!("sysinfo-vs-proc-{}", std::process::id()));
    let mut children: Vec<Child> = Vec::new();
    let counts = [1usize, 4, 16];
    for i in 0..*counts.iter().max().unwrap() {
        let cwd = base.join(format!("project-{i}"));
        std::fs::create_dir_all(&cwd).expect("temp dir");
        children.push(
            Command::new("sleep")
                .arg("600")
                .current_dir(&cwd)
                .spawn()
                .expect("spawn sleep"),
        );
    }
    std::thread::sleep(Duration::from_millis(100));
    let mut probe = lockwatch::probe::platform().expect("a probe for this OS");
    let depth = probe
        .process(children[0].id())
        .map(|f| f.ancestors.len())
        .unwrap_or(0);

    println!(
        "per-process facts for N live processes ({runs} runs each; ancestors: {depth} per process)"
    );
    println!(
        "{:>3}  {:>22}  {:>22}  {:>22}  {:>22}  {:>22}",
        "N",
        "ours: process() μs",
        "replaced reads μs",
        "sysinfo cold μs",
        "sysinfo cold+anc μs",
        "sysinfo warm+anc μs"
    );
    println!(
        "{:>3}  {:>22}  {:>22}  {:>22}  {:>22}  {:>22}",
        "", "median / p90", "median / p90", "median / p90", "median / p90", "median / p90"
    );
    let mut sink = 0usize;
    for n in counts {
        let pids: Vec<u32> = children[..n].iter().map(Child::id).collect();
        let spids: Vec<Pid> = pids.iter().map(|p| Pid::from_u32(*p)).collect();
        // A one-off status creates its probe once and asks about each process.
        let ours = time(runs, || {
            let mut probe = lockwatch::probe::platform().expect("probe");
            for p in &pids {
                sink += probe.process(*p).map_or(0, |f| f.cmd.len());
            }
        });
        let replaced = time(runs, || sink += replaced_reads(&pids));
        let cold = time(runs, || {
            let mut sys = System::new();
            sink += sysinfo_facts(&mut sys, &spids, false);
        });
        let cold_anc = time(runs, || {
            let mut sys = System::new();
            sink += sysinfo_facts(&mut sys, &spids, true);
        });
        let mut sys = System::new();
        let warm = time(runs, || sink += sysinfo_facts(&mut sys, &spids, true));
        let cell = |(m, p): (f64, f64)| format!("{m:8.1} / {p:8.1}");
        println!(
            "{n:>3}  {:>22}  {:>22}  {:>22}  {:>22}  {:>22}",
            cell(ours),
            cell(replaced),
            cell(cold),
            cell(cold_anc),
            cell(warm)
        );
    }
    let first = time(50, || {
        let mut sys = System::new();
        sink += sysinfo_facts(&mut sys, &[Pid::from_u32(children[0].id())], true);
    });
    println!(
        "(checksum {sink}; one cold sysinfo pass for 1 pid with ancestors: {:.1} μs median)",
        first.0
    );
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = std::fs::remove_dir_all(&base);
}
