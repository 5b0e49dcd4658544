//! Real cargo, real daemon, a registry that accepts and never answers: the wait is followed
//! across Cargo's retries (a new connection per try, pauses between), so the doing line counts
//! the silence from the hold's start and the pauses still read as waiting on the network; the
//! blocker goes stale with the network verdict and status carries the advice for this Cargo
//! home.
#![cfg(target_os = "linux")]

mod util;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lockwatch::core::model::{Doing, IncidentReport, IncidentState, NetSilence, StaleReason};
use lockwatch::daemon::protocol::{Request, Response};
use util::daemon::Daemon;
use util::{Dir, HangServer, Proc, serial};

/// Each try gives up after this long with nothing received (`http.timeout`); 3 retries follow.
/// A stale verdict after 14 s of silence can only come from following the wait across
/// connections: no single one lives that long.
const TRY_SECS: u32 = 4;
const STALE_AFTER: &str = "14s";

/// A Cargo home whose crates.io is the hanging server (as a mirror would be), and two projects
/// that depend on `itoa`.
fn blackhole_registry(dir: &Dir, server: &HangServer) -> (PathBuf, PathBuf) {
    dir.write(
        "cargo-home/config.toml",
        &format!(
            "[source.crates-io]\nreplace-with = \"bh\"\n\n\
             [source.bh]\nregistry = \"sparse+http://127.0.0.1:{}/index/\"\n\n\
             [http]\ntimeout = {TRY_SECS}\n\n[net]\nretry = 3\n",
            server.port
        ),
    );
    let project = |name: &str| {
        dir.write(
            &format!("{name}/Cargo.toml"),
            &format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 [dependencies]\nitoa = \"1\"\n\n[workspace]\n"
            ),
        );
        dir.write(&format!("{name}/src/main.rs"), "fn main() {}\n");
        dir.path(name)
    };
    (project("first"), project("second"))
}

/// The incident whose blocker is `pid`, from the daemon's report; `None` too when one request
/// goes unanswered (a loaded machine: the next poll asks again).
fn incident_of(d: &Daemon, pid: u32) -> Option<IncidentReport> {
    let Ok(Response::Snapshot(s)) = d.client().request(&Request::Status) else {
        return None;
    };
    s.report
        .incidents
        .into_iter()
        .find(|i| i.blocker.as_ref().is_some_and(|b| b.pid == pid))
}

/// What the daemon said the blocker was doing, pass after pass, until it was called stale.
struct Watched {
    stale: IncidentReport,
    saw_pause: bool,
    unknown_after_network: Vec<String>,
    most_connections: u32,
}

fn watch_until_stale(d: &Daemon, cargo: &Proc) -> Watched {
    let deadline = Instant::now() + Duration::from_secs(50);
    let (mut saw_pause, mut seen_network, mut most_connections) = (false, false, 0);
    let mut unknown_after_network = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "never stale\n{}",
            cargo.describe()
        );
        let Some(i) = incident_of(d, cargo.pid) else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        match &i.doing {
            Doing::Network {
                silence: Some(s), ..
            } => {
                seen_network = true;
                saw_pause |= !s.open;
                most_connections = most_connections.max(s.connections);
            }
            Doing::Network { .. } => seen_network = true,
            Doing::Unknown if seen_network => unknown_after_network.push(i.verdict.clone()),
            _ => {}
        }
        if i.state == IncidentState::Stale {
            return Watched {
                stale: i,
                saw_pause,
                unknown_after_network,
                most_connections,
            };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn silence(i: &IncidentReport) -> &NetSilence {
    match &i.doing {
        Doing::Network {
            silence: Some(s), ..
        } => s,
        other => panic!("expected a followed network wait, got {other:?}"),
    }
}

#[test]
fn a_registry_that_never_answers_is_followed_across_cargo_s_retries() {
    let _serial = serial();
    let dir = Dir::new("netwait");
    let server = HangServer::start();
    let (first, second) = blackhole_registry(&dir, &server);
    let d = Daemon::start_with(
        &dir,
        "daemon",
        &[("LOCKWATCH_STALE_STALE_AFTER", STALE_AFTER)],
    );
    let cache = dir.cargo_home.join(".package-cache");
    let blocker = dir.spawn("first", dir.cargo(&first).arg("generate-lockfile"));
    d.wait_for("the first cargo holding the package cache", |r| {
        util::daemon::holder_of(r, &cache)
            .is_some_and(|l| l.holders.iter().any(|h| h.pid == blocker.pid))
    });
    let waiter = dir.spawn("second", dir.cargo(&second).arg("fetch"));

    let w = watch_until_stale(&d, &blocker);
    let i = &w.stale;
    let peer = format!("127.0.0.1:{}", server.port);
    // The doing line: silence since the hold began, across connections, never "no network".
    let s = silence(i);
    assert!(s.nothing_received && s.since_hold_began, "{s:?}");
    assert!(s.silent_for_secs >= 14.0, "{s:?}");
    assert!(w.most_connections >= 3, "{}", w.most_connections);
    assert!(w.saw_pause, "a pause between tries was never seen as one");
    assert!(
        w.unknown_after_network.is_empty(),
        "a pause read as no network: {:?}",
        w.unknown_after_network
    );
    // The verdict: the network, the peer, Cargo gives up by itself; not "idle".
    assert!(
        i.stale_reasons.contains(&StaleReason::NetworkSilent),
        "{i:?}"
    );
    let v = &i.verdict;
    assert!(
        v.contains(&format!(
            "looks stale: it waits on the network ({peer}: nothing received since the hold began"
        )),
        "{v}"
    );
    assert!(
        v.contains("Cargo gives up by itself after its retries"),
        "{v}"
    );
    // When, with the settings of the Cargo home it holds, not Cargo's defaults (review M, N13).
    assert!(
        v.contains(&format!(
            "with its settings (http.timeout {TRY_SECS} s, net.retry 3)"
        )),
        "{v}"
    );
    assert!(!v.contains("idle"), "{v}");
    assert!(v.contains("1 process waits"), "{v}");
    // The advice, in status, for this Cargo home.
    let config = dir.cargo_home.join("config.toml");
    let advice = i.advice.as_ref().expect("advice in the daemon's report");
    assert!(
        advice.text.contains(&format!("{}:", config.display())),
        "{}",
        advice.text
    );
    // What it ran with, not "its defaults", and only what ends it sooner (review AB, AB1).
    assert!(
        advice.text.contains(&format!(
            "it ran with http.timeout {TRY_SECS} s and net.retry 3, which keep"
        )),
        "{}",
        advice.text
    );
    assert!(
        advice
            .text
            .contains("or for one run: CARGO_NET_RETRY=1 cargo …"),
        "{}",
        advice.text
    );
    assert_status_text(&d, &dir, &config, blocker.pid);
    assert_stopped_is_not_the_network(&d, &dir, &blocker);
    assert_the_next_cargo_is_told(&d, &blocker, &waiter, &peer);
    drop((waiter, blocker, d, server));
}

/// The blocker gives up on its own after its tries; the waiter takes the lock and asks the same
/// registry: its verdict says the last cargo let go with nothing from it (review M, N8).
fn assert_the_next_cargo_is_told(d: &Daemon, blocker: &Proc, waiter: &Proc, peer: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let told = format!("cargo {} let go of its lock", blocker.pid);
    let mut last = None;
    loop {
        assert!(
            Instant::now() < deadline,
            "the next cargo was never told: {last:#?}\n{}",
            blocker.describe()
        );
        match incident_of(d, waiter.pid) {
            Some(i) if i.verdict.contains(&told) => {
                assert!(
                    i.verdict.contains(&format!("with nothing from {peer}")),
                    "{}",
                    i.verdict
                );
                return;
            }
            other => last = other.map(|i| i.verdict),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Suspended (Ctrl-Z) while it waits on the registry, the blocker is stopped: its connection
/// goes on being silent because it reads nothing, so it is not "stale on the network" but
/// stopped, from the daemon and from a one-off scan. Its tries had gone unanswered, so
/// resuming it only puts it back into that wait: stopping it is said first (review X, X14).
fn assert_stopped_is_not_the_network(d: &Daemon, dir: &Dir, blocker: &Proc) {
    blocker.stop();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    let i = loop {
        assert!(Instant::now() < deadline, "never seen stopped: {last:#?}");
        match incident_of(d, blocker.pid) {
            Some(i) if i.doing == Doing::Stopped && i.verdict.contains("or resume it") => break i,
            other => {
                last = other;
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    assert!(
        !i.stale_reasons.contains(&StaleReason::NetworkSilent),
        "{i:?}"
    );
    assert!(!i.verdict.contains("waits on the network"), "{}", i.verdict);
    let stop = format!("Stop it (`cargo lockwatch kill {}`)", blocker.pid);
    assert!(i.verdict.contains(&stop), "{}", i.verdict);
    assert!(i.action.as_ref().is_some_and(|a| !a.resume), "{i:#?}");
    let (_, json) = d.cli(dir, &["status", "--json", "--no-daemon"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("status --json");
    let scanned = v["incidents"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["blocker"]["pid"] == blocker.pid))
        .expect("the incident in JSON");
    assert_eq!(scanned["doing"]["kind"], "stopped", "{scanned}");
    assert_eq!(
        scanned["stale_reasons"],
        serde_json::json!(["stopped"]),
        "{scanned}"
    );
    blocker.resume();
}

/// `status` through the daemon: the advice, under its label, naming this Cargo home's config.
fn assert_status_text(d: &Daemon, dir: &Dir, config: &Path, pid: u32) {
    let (code, text) = d.cli(dir, &["status"]);
    assert_eq!(code, 1, "a stale incident exits 1: {text}");
    assert!(
        text.contains("    advice   Make Cargo give up sooner"),
        "{text}"
    );
    assert!(text.contains(&config.display().to_string()), "{text}");
    assert!(
        text.contains(&format!("cargo lockwatch kill {pid}")),
        "{text}"
    );
    let (_, json) = d.cli(dir, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("status --json");
    let stale = v["incidents"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["blocker"]["pid"] == pid))
        .expect("the incident in JSON");
    assert_eq!(stale["advice"]["topic"], "network", "{stale}");
    assert_eq!(stale["doing"]["kind"], "network", "{stale}");
    assert!(stale["doing"]["silence"]["connections"].as_u64() >= Some(1));
}

/// A project with one git dependency on `server` (which never answers), and one with none.
fn git_dependency_projects(dir: &Dir, server: &HangServer) -> (PathBuf, PathBuf) {
    dir.write(
        "fetcher/Cargo.toml",
        &format!(
            "[package]\nname = \"fetcher\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\ngx = {{ git = \"http://127.0.0.1:{}/x.git\" }}\n\n[workspace]\n",
            server.port
        ),
    );
    dir.write("fetcher/src/main.rs", "fn main() {}\n");
    dir.write(
        "plain/Cargo.toml",
        "[package]\nname = \"plain\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    dir.write("plain/src/main.rs", "fn main() {}\n");
    (dir.path("fetcher"), dir.path("plain"))
}

/// Starts `cargo fetch` in `fetcher` with `env` and, once it holds the package cache, a build
/// of `plain` behind it: the fetching cargo, the waiter, and the incident once it is stale.
fn fetch_until_stale(
    d: &Daemon,
    dir: &Dir,
    (fetcher, plain): (&Path, &Path),
    env: &[(&str, &str)],
) -> (Proc, Proc, IncidentReport) {
    let mut cmd = dir.cargo(fetcher);
    cmd.arg("fetch").envs(env.iter().copied());
    let blocker = dir.spawn("fetcher", &mut cmd);
    let cache = dir.cargo_home.join(".package-cache");
    d.wait_for("the fetching cargo holding the package cache", |r| {
        util::daemon::holder_of(r, &cache)
            .is_some_and(|l| l.holders.iter().any(|h| h.pid == blocker.pid))
    });
    let waiter = dir.spawn("plain", dir.cargo(plain).arg("build"));
    let stale = watch_until_stale(d, &blocker).stale;
    (blocker, waiter, stale)
}

/// A git dependency's server that never answers: the blocker is fetching that repository, not
/// waiting on "a registry" that "gives up by itself in about 2m" — Cargo sets no timeout for a
/// git fetch unless `http.timeout` is set, and git none unless `http.lowSpeedLimit` is (review
/// X, X7 and X15). Both ways Cargo fetches: its own (libgit2) and `net.git-fetch-with-cli`.
#[test]
fn a_git_server_that_never_answers_is_a_git_fetch_that_never_gives_up() {
    let _serial = serial();
    let dir = Dir::new("gitwait");
    let server = HangServer::start();
    let (fetcher, plain) = git_dependency_projects(&dir, &server);
    let d = Daemon::start_with(&dir, "daemon", &[("LOCKWATCH_STALE_STALE_AFTER", "6s")]);
    let url = format!("http://127.0.0.1:{}/x.git", server.port);
    for with_git_cli in [false, true] {
        let cli = with_git_cli.to_string();
        let env = [("CARGO_NET_GIT_FETCH_WITH_CLI", cli.as_str())];
        let (blocker, waiter, i) = fetch_until_stale(&d, &dir, (&fetcher, &plain), &env);
        let Doing::Network { git: Some(g), .. } = &i.doing else {
            panic!("not a git fetch: {i:#?}");
        };
        assert_eq!(
            (g.url.as_str(), g.with_git_cli),
            (url.as_str(), with_git_cli)
        );
        let v = &i.verdict;
        assert!(
            v.contains(&format!("it fetches git repository {url}")),
            "{v}"
        );
        assert!(v.contains("a git server that does not answer"), "{v}");
        assert!(v.contains("so it may wait for ever"), "{v}");
        assert!(!v.contains("gives up by itself"), "{v}");
        let advice = &i.advice.as_ref().expect("the git advice").text;
        let fix = if with_git_cli {
            "http.lowSpeedLimit"
        } else {
            "without `http.timeout` it sets no timeout for git fetches"
        };
        assert!(advice.contains(fix), "{advice}");
        let home = dir.cargo_home.to_str().expect("a UTF-8 temp path");
        let (_, json) = d.cli(
            &dir,
            &["wait", "--timeout", "1s", "--json", "--cargo-home", home],
        );
        let first = json.lines().next().unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(first).expect("wait --json");
        assert_eq!(v["held_by"]["registry"]["git_url"], url.as_str(), "{v}");
        drop((waiter, blocker));
    }
    // With `http.timeout` set it is a git fetch still, that gives up by itself: told the
    // settings it ran with, not "its defaults" (review AB, AB1).
    let env = [("CARGO_HTTP_TIMEOUT", "30"), ("CARGO_NET_RETRY", "0")];
    let (blocker, waiter, i) = fetch_until_stale(&d, &dir, (&fetcher, &plain), &env);
    assert!(
        matches!(&i.doing, Doing::Network { git: Some(g), .. } if g.url == url),
        "{i:#?}"
    );
    assert!(
        i.verdict
            .contains("Cargo gives up by itself after its retries"),
        "{}",
        i.verdict
    );
    let advice = &i.advice.as_ref().expect("the settings advice").text;
    assert!(
        advice.contains(
            "it ran with http.timeout 30 s and net.retry 0, which keep a request nobody answers \
             going for about 30s; with http.timeout 10 s, about 10s."
        ),
        "{advice}"
    );
    drop((waiter, blocker));
    // The daemon's log says a git server, not a registry (review Z, Z4).
    let log = d.proc.output();
    let stale = format!("it fetches git repository {url} and nothing has arrived");
    assert_eq!(log.matches(&stale).count(), 3, "{log}");
    // The history counts all three as git fetches; the advice for the two nothing ends is the
    // git one.
    let (_, json) = d.cli(&dir, &["history", "--json"]);
    let h: serde_json::Value = serde_json::from_str(&json).expect("history --json");
    let fetches = h["network_git_fetches"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(fetches.len(), 3, "{h:#}");
    let advice = (h["advice"].as_array().into_iter().flatten())
        .find(|a| a["topic"] == "network")
        .unwrap_or_else(|| panic!("no network advice: {h:#}"));
    let text = advice["text"].as_str().unwrap_or_default();
    assert!(
        text.contains(&format!("hung fetching git repository {url} twice")),
        "{text}"
    );
    // One of Cargo's own fetches and one of git's: the settings for each (review 15, D8).
    assert!(
        text.contains("[http]") && text.contains("http.lowSpeedLimit"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "hung fetching git repository {url} once (nothing arrived for a long while, across \
             its retries). Make Cargo give up sooner on a git server that sends nothing"
        )),
        "{text}"
    );
    assert!(!text.contains("its defaults"), "{text}");
    assert_an_install_from_git_keeps_no_token(&d, &dir, &server);
    assert_the_advice_ends_the_fetch(&dir, &fetcher);
    drop((d, server));
}

/// A git dependency over ssh whose server never answers: `http.timeout` does not end it (it
/// is for HTTP), so it may wait for ever, and the advice is ssh's own timeouts with git
/// running ssh, which, followed, does end it (review AA, AA2).
#[test]
fn a_git_fetch_over_ssh_is_not_ended_by_http_timeout() {
    let _serial = serial();
    let dir = Dir::new("sshwait");
    let server = HangServer::start();
    let (fetcher, plain) = git_dependency_projects(&dir, &server);
    let url = format!("ssh://git@127.0.0.1:{}/x.git", server.port);
    dir.write(
        "fetcher/Cargo.toml",
        &format!(
            "[package]\nname = \"fetcher\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\ngs = {{ git = \"{url}\" }}\n\n[workspace]\n"
        ),
    );
    dir.write("fetcher/src/main.rs", "fn main() {}\n");
    let d = Daemon::start_with(&dir, "daemon", &[("LOCKWATCH_STALE_STALE_AFTER", "6s")]);
    let env = [("CARGO_HTTP_TIMEOUT", "2"), ("CARGO_NET_RETRY", "0")];
    let (blocker, waiter, i) = fetch_until_stale(&d, &dir, (&fetcher, &plain), &env);
    assert!(
        matches!(&i.doing, Doing::Network { git: Some(g), .. } if g.url == url),
        "{i:#?}"
    );
    assert!(
        i.verdict.contains("no timeout for a git fetch over ssh"),
        "{}",
        i.verdict
    );
    let advice = &i.advice.as_ref().expect("the ssh advice").text;
    assert!(
        advice.contains("git-fetch-with-cli = true") && advice.contains("ServerAliveInterval"),
        "{advice}"
    );
    drop((waiter, blocker));
    // Followed: git runs ssh, whose timeout ends the fetch.
    let mut cmd = dir.cargo(&fetcher);
    cmd.arg("fetch")
        .env("CARGO_NET_GIT_FETCH_WITH_CLI", "true")
        .env("CARGO_NET_RETRY", "0")
        .env(
            "GIT_SSH_COMMAND",
            "ssh -o ConnectTimeout=2 -o BatchMode=yes -o StrictHostKeyChecking=no \
             -o UserKnownHostsFile=/dev/null",
        );
    let mut advised = dir.spawn("advised", &mut cmd);
    assert_ne!(advised.wait_exit(), 0, "{}", advised.output());
    drop((d, server));
}

/// `cargo install --git` of a URL with a token in it: the repository on its command line is
/// the fetch's (no manifest lists it: review AA, AA3), and the token is never shown nor kept
/// (review AA, AA1).
fn assert_an_install_from_git_keeps_no_token(d: &Daemon, dir: &Dir, server: &HangServer) {
    let secret = "SeCrEtToKeN";
    let url = format!("http://127.0.0.1:{}/x.git", server.port);
    let with_token = format!("http://user:{secret}@127.0.0.1:{}/x.git", server.port);
    let mut cmd = dir.cargo(&dir.root);
    cmd.args(["install", "--git", &with_token])
        .env("CARGO_INSTALL_ROOT", dir.path("install-root"));
    let install = dir.spawn("install", &mut cmd);
    let r = d.wait_for("the install fetching its repository", |r| {
        r.incidents.iter().any(|i| {
            i.blocker.as_ref().is_some_and(|b| b.pid == install.pid)
                && matches!(&i.doing, Doing::Network { git: Some(g), .. } if g.url == url)
        })
    });
    let json = serde_json::to_string(&r).expect("report");
    assert!(!json.contains(secret), "{json}");
    let (_, text) = d.cli(dir, &["status", "--all"]);
    assert!(!text.contains(secret), "{text}");
    // Marked, so the shown command is not taken for what `ps` shows (review AB, AB7).
    let masked = format!("install --git 'http://***@127.0.0.1:{}/x.git'", server.port);
    assert!(text.contains(&masked), "{text}");
    drop(install);
    let history =
        std::fs::read_to_string(dir.root.join("lockwatch/data/history.jsonl")).unwrap_or_default();
    assert!(
        history.contains("\"install\""),
        "the install's hold is in it: {history}"
    );
    assert!(!history.contains(secret), "{history}");
}

/// What the advice says to set makes the fetch give up: `http.timeout` for Cargo's own
/// fetch, git's low-speed limit for `net.git-fetch-with-cli`.
fn assert_the_advice_ends_the_fetch(dir: &Dir, fetcher: &Path) {
    let settings: [&[(&str, &str)]; 2] = [
        &[("CARGO_HTTP_TIMEOUT", "2")],
        &[
            ("CARGO_NET_GIT_FETCH_WITH_CLI", "true"),
            ("GIT_HTTP_LOW_SPEED_LIMIT", "1000"),
            ("GIT_HTTP_LOW_SPEED_TIME", "2"),
        ],
    ];
    for envs in settings {
        let mut cmd = dir.cargo(fetcher);
        cmd.arg("fetch")
            .env("CARGO_NET_RETRY", "0")
            .envs(envs.iter().copied());
        let mut fetch = dir.spawn("advised", &mut cmd);
        // It exits (a failure: nothing to fetch), or `wait_exit` says it never did.
        let code = fetch.wait_exit();
        assert_ne!(code, 0, "{envs:?}: {}", fetch.output());
    }
}
