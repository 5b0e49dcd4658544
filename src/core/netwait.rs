//! A network wait followed across connections. Cargo opens a new connection for each try of a
//! request (`http.timeout` 30 s, `net.retry` 3 by default) and pauses between tries, so the
//! kernel's per-socket "nothing received for" restarts with every try and a pause shows no
//! connection at all: a registry that never answers would never look hung. This keeps, per
//! blocker, since when anything arrived and how many connections it opened, so the silence
//! counts from the first try — while bytes that keep arriving (a download) are never silence.
//!
//! Pure: the policy feeds it each pass's connections and reads a [`NetSilence`].

use super::model::{NetSilence, Peer};

/// The longest pause between two tries that still counts as one wait: Cargo sleeps at most
/// 10 s before a retry.
pub const MAX_PAUSE_SECS: f64 = 15.0;
/// Data within this long of a connection's start is its handshake (TLS), not an answer.
const HANDSHAKE_SECS: f64 = 3.0;
/// More than this many bytes on one connection is more than a handshake: an answer.
const HANDSHAKE_BYTES: u64 = 16 * 1024;
/// A first try this close to the hold's start came with the hold.
const HOLD_START_SLACK_SECS: f64 = 5.0;
/// A connection's rate is said once it has been open this long.
const RATE_AFTER_SECS: f64 = 10.0;
/// Connections remembered, at most (their count goes on).
const MAX_CONNS: usize = 64;

/// One connection as first and last seen.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Conn {
    socket: Option<u64>,
    /// When it connected (the first sight when the kernel does not say).
    connected_at: f64,
    /// Bytes received at the last sight, when known.
    bytes: Option<u64>,
    /// The kernel has told its clock at least once (a pass it did not is a pass with no news,
    /// not a blind connection).
    clocked: bool,
}

/// What is known about one blocker's network wait.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetTrack {
    conns: Vec<Conn>,
    connections: u32,
    first_try: Option<f64>,
    last_data: Option<f64>,
    peer: String,
    open: bool,
    pause_since: Option<f64>,
}

impl NetTrack {
    /// Takes one pass. `peers` is `None` when the blocker has children (it works, the wait is
    /// over and forgotten), else its connections open now (none: a pause between tries).
    pub fn observe(&mut self, now: f64, hold_since: f64, peers: Option<&[Peer]>) {
        let Some(peers) = peers else {
            *self = NetTrack::default();
            return;
        };
        let Some(first) = peers.first() else {
            self.pause(now);
            return;
        };
        self.pause_since = None;
        self.open = true;
        self.peer = first.remote.clone();
        for p in peers {
            self.connection(now, hold_since, p);
        }
    }

    /// No connection open: a pause between tries, until it lasts too long to be one.
    fn pause(&mut self, now: f64) {
        if self.first_try.is_none() {
            return;
        }
        self.open = false;
        let since = *self.pause_since.get_or_insert(now);
        if now - since > MAX_PAUSE_SECS {
            *self = NetTrack::default();
        }
    }

    /// One open connection: counted when new, and what arrived on it since the last sight.
    fn connection(&mut self, now: f64, hold_since: f64, p: &Peer) {
        let idle = p
            .idle_for_secs
            .map(|i| i.clamp(0.0, (now - hold_since).max(0.0)));
        let known = self.conns.iter().position(|c| c.socket == p.socket);
        let prev = known.map(|i| self.conns[i]);
        let conn = Conn {
            socket: p.socket,
            connected_at: match (prev, p.received_bytes, idle) {
                (Some(c), _, _) => c.connected_at,
                // Nothing received yet: the kernel's clock started when it connected.
                (None, Some(0), Some(i)) => now - i,
                _ => now,
            },
            bytes: p.received_bytes.or(prev.and_then(|c| c.bytes)),
            clocked: idle.is_some() || prev.is_some_and(|c| c.clocked),
        };
        self.first_try = Some(
            self.first_try
                .map_or(conn.connected_at, |t| t.min(conn.connected_at)),
        );
        match known {
            Some(i) => self.conns[i] = conn,
            None => {
                self.connections = self.connections.saturating_add(1);
                if self.conns.len() >= MAX_CONNS {
                    self.conns.remove(0);
                }
                self.conns.push(conn);
            }
        }
        // One sock_diag dump that missed a known connection (a loaded machine) is no news.
        if idle.is_none() && prev.is_some_and(|c| c.clocked) {
            return;
        }
        if let Some(at) = answer_at(now, idle, prev, &conn) {
            self.last_data = Some(self.last_data.map_or(at, |t| t.max(at)));
        }
    }

    /// Bytes a second on the connection open now since it connected, once it has been open
    /// [`RATE_AFTER_SECS`] and the kernel counts its bytes.
    fn rate(&self, now: f64) -> Option<f64> {
        let conn = self.conns.last().filter(|_| self.open)?;
        let open_for = now - conn.connected_at;
        (open_for >= RATE_AFTER_SECS).then(|| conn.bytes.map(|b| b as f64 / open_for))?
    }

    /// The wait at `now`, when there is one: nothing arriving (or a pause between tries) after
    /// a first try. `progress_at`: the last sign of work elsewhere (a write under the lock's
    /// domain), which ends the silence as surely as bytes do.
    pub fn silence(
        &self,
        now: f64,
        hold_since: f64,
        progress_at: Option<f64>,
    ) -> Option<(String, NetSilence)> {
        let first_try = self.first_try?;
        let last = [self.last_data, progress_at.filter(|t| *t >= first_try)]
            .into_iter()
            .flatten()
            .reduce(f64::max);
        let nothing_received = last.is_none();
        let silent = NetSilence {
            silent_for_secs: (now - last.unwrap_or(first_try)).max(0.0),
            nothing_received,
            since_hold_began: nothing_received && first_try - hold_since <= HOLD_START_SLACK_SECS,
            first_try_secs: (now - first_try).max(0.0),
            connections: self.connections.max(1),
            open: self.open,
            bytes_per_sec: self.rate(now),
        };
        Some((self.peer.clone(), silent))
    }
}

/// When an answer (not a handshake) arrived on `conn`, if one did: bytes the kernel cannot
/// count, more than a handshake's worth, or data well after it connected. A connection with
/// no clock at all counts as busy: no false alarm from missing facts.
fn answer_at(now: f64, idle: Option<f64>, prev: Option<Conn>, conn: &Conn) -> Option<f64> {
    let Some(idle) = idle else {
        return Some(now);
    };
    let at = now - idle;
    match conn.bytes {
        None => Some(at),
        Some(0) => None,
        Some(b) if b > HANDSHAKE_BYTES => Some(at),
        Some(_) if prev.is_some() && at - conn.connected_at >= HANDSHAKE_SECS => Some(at),
        Some(_) => None,
    }
}

/// The settings that decide when a cargo gives up on a registry that does not answer:
/// `http.timeout` (each try) and `net.retry` (tries after the first), from its environment
/// (`CARGO_HTTP_TIMEOUT`, `CARGO_NET_RETRY`) or Cargo configs. Kept in the history's `stale`
/// line of a cargo hung on the network, for the advice to say what it had (review AB, AB1).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct NetSettings {
    /// Seconds a try waits with nothing arriving.
    pub timeout_secs: f64,
    /// Tries after the first.
    pub retry: u32,
    /// `http.timeout` is set (config or `CARGO_HTTP_TIMEOUT`): only then does Cargo fetch git
    /// repositories over HTTP with a transport that gives up; without it a git fetch has no
    /// timeout at all (libgit2's own transport).
    pub timeout_set: bool,
    /// git's `GIT_HTTP_LOW_SPEED_TIME` in its environment, when `GIT_HTTP_LOW_SPEED_LIMIT` is
    /// set too: each try of a `net.git-fetch-with-cli` fetch gives up after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_low_speed_secs: Option<f64>,
    /// These are the settings of a fetch by git (see [`NetSettings::for_git_cli`]).
    #[serde(skip)]
    pub git_cli: bool,
}

impl Default for NetSettings {
    fn default() -> NetSettings {
        NetSettings {
            timeout_secs: 30.0,
            retry: 3,
            timeout_set: false,
            git_low_speed_secs: None,
            git_cli: false,
        }
    }
}

impl NetSettings {
    /// The settings a `net.git-fetch-with-cli` fetch runs with: git's low-speed time per try
    /// (no timeout without it), Cargo's `net.retry` tries (review Z, Z3).
    pub fn for_git_cli(&self) -> NetSettings {
        NetSettings {
            timeout_secs: self.git_low_speed_secs.unwrap_or(self.timeout_secs),
            timeout_set: self.git_low_speed_secs.is_some(),
            git_cli: true,
            ..*self
        }
    }

    /// Cargo's own defaults.
    pub fn is_default(&self) -> bool {
        *self == NetSettings::default()
    }

    /// How long after its first try a request nobody answers fails: every try, and Cargo's
    /// pauses between them (about 1 s before the first retry, then 3.5 s more each time, at
    /// most 10 s).
    pub fn give_up_secs(&self) -> f64 {
        let tries = f64::from(self.retry) + 1.0;
        let pauses: f64 = (1..=self.retry)
            .map(|k| {
                if k == 1 {
                    1.0
                } else {
                    (3.5 * f64::from(k - 1)).min(10.0)
                }
            })
            .sum();
        tries * self.timeout_secs + pauses
    }
}

/// A blocker that let go after this long with nothing arriving from the network, across its
/// tries, was hung there: two of Cargo's tries (`http.timeout` 30 s each) went unanswered.
pub const HUNG_SECS: f64 = 60.0;

/// A cargo that let go of its lock with nothing from `peer` across its tries (see
/// [`gave_up_on`]): it most likely gave up, and the next cargo asking that registry will meet
/// the same silence.
#[derive(Debug, Clone, PartialEq)]
pub struct GaveUp {
    /// `host:port`.
    pub peer: String,
    /// `cargo 31097`.
    pub who: String,
    /// Its pid.
    pub pid: u32,
    /// When it let go (Unix time).
    pub at: f64,
    /// How long nothing had arrived by then.
    pub silent_secs: f64,
    /// The Cargo home whose package cache it held, when it held one.
    pub home: Option<std::path::PathBuf>,
}

/// Whether a cargo that lets go with this silence most likely gave up on its registry: nothing
/// arrived since its first try, and a try went unanswered (it opened another connection) or the
/// silence lasted [`HUNG_SECS`].
pub fn gave_up_on(s: &NetSilence) -> bool {
    s.nothing_received && (s.connections >= 2 || s.silent_for_secs >= HUNG_SECS)
}

/// How long a [`GaveUp`] is told to the next cargo on that registry.
pub const GAVE_UP_KEPT_SECS: f64 = 600.0;

/// Whether a whole try went unanswered: nothing has arrived since the first connection, and
/// a second was opened or the first outlived `http.timeout`. A registry that slow is not
/// answering, and a cargo waiting for the lock that needs it will meet the same silence.
pub fn a_try_went_unanswered(s: &NetSilence, settings: &NetSettings) -> bool {
    s.nothing_received && (s.connections >= 2 || s.first_try_secs >= settings.timeout_secs)
}

/// Roughly how long Cargo still has before it gives up with `settings`; `None` when that time
/// has passed (they are not what it runs with).
pub fn give_up_in(s: &NetSilence, settings: &NetSettings) -> Option<f64> {
    let left = settings.give_up_secs() - s.first_try_secs;
    (left > 0.0).then_some(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(socket: u64, idle: f64, bytes: u64) -> Peer {
        Peer {
            remote: "127.0.0.1:18765".into(),
            idle_for_secs: Some(idle),
            socket: Some(socket),
            received_bytes: Some(bytes),
        }
    }

    /// Feeds `passes` (time, connections open) to a fresh track of a hold that began at 0.
    fn run(passes: &[(f64, Vec<Peer>)]) -> NetTrack {
        let mut t = NetTrack::default();
        for (now, peers) in passes {
            t.observe(*now, 0.0, Some(peers));
        }
        t
    }

    /// A server trickling 4 bytes a second: data arrives, at a pace that is said (review AA,
    /// AA6).
    #[test]
    fn a_trickle_s_pace_is_known() {
        let passes: Vec<(f64, Vec<Peer>)> = (1..=41)
            .map(|t| (f64::from(t), vec![peer(7, 0.5, 4 * u64::from(t as u32))]))
            .collect();
        let t = run(&passes);
        let (_, s) = t.silence(41.0, 0.0, None).expect("a wait");
        assert!(!s.nothing_received, "{s:?}");
        let rate = s.bytes_per_sec.expect("a rate");
        assert!((rate - 4.1).abs() < 0.01, "{rate}");
        // Too young a connection has no pace yet.
        let (_, s) = run(&passes[..5]).silence(5.0, 0.0, None).expect("a wait");
        assert_eq!(s.bytes_per_sec, None);
    }

    #[test]
    fn a_registry_that_never_answers_is_silent_across_tries_and_pauses() {
        // Cargo's defaults: a try of 30 s, a pause of a second, the next try on a new socket.
        let t = run(&[
            (1.0, vec![peer(7, 1.0, 0)]),
            (29.0, vec![peer(7, 29.0, 0)]),
            (31.0, vec![]),
            (33.0, vec![peer(8, 1.0, 0)]),
            (60.0, vec![peer(8, 28.0, 0)]),
            (66.0, vec![]),
            (69.0, vec![peer(9, 0.5, 0)]),
        ]);
        let (peer, s) = t.silence(69.0, 0.0, None).expect("a wait");
        assert_eq!(peer, "127.0.0.1:18765");
        assert_eq!(s.silent_for_secs, 69.0);
        assert!(s.nothing_received && s.since_hold_began && s.open);
        assert_eq!(s.connections, 3);
        // In a pause, still waiting on the network, the silence still growing.
        let mut paused = t.clone();
        paused.observe(99.0, 0.0, Some(&[]));
        let (_, s) = paused
            .silence(99.0, 0.0, None)
            .expect("a pause is still a wait");
        assert!(!s.open);
        assert_eq!(s.silent_for_secs, 99.0);
        // A pause longer than any of Cargo's is not one.
        paused.observe(99.0 + MAX_PAUSE_SECS + 1.0, 0.0, Some(&[]));
        assert_eq!(paused.silence(120.0, 0.0, None), None);
    }

    #[test]
    fn bytes_that_keep_arriving_are_never_silence() {
        // A download: one connection, a few MB, data a moment ago at every pass.
        let t = run(&[
            (10.0, vec![peer(7, 0.1, 40_000)]),
            (100.0, vec![peer(7, 0.2, 9_000_000)]),
            (200.0, vec![peer(7, 0.0, 20_000_000)]),
        ]);
        let (_, s) = t.silence(200.0, 0.0, None).unwrap();
        assert!(s.silent_for_secs <= 0.2 && !s.nothing_received, "{s:?}");
        // A slow answer, small but well after the connection began, is an answer too.
        let t = run(&[
            (5.0, vec![peer(7, 5.0, 0)]),
            (60.0, vec![peer(7, 1.0, 900)]),
        ]);
        assert_eq!(t.silence(60.0, 0.0, None).unwrap().1.silent_for_secs, 1.0);
    }

    #[test]
    fn a_handshake_is_not_an_answer() {
        // HTTPS to a registry that accepts, shakes hands and never answers.
        let t = run(&[
            (1.0, vec![peer(7, 1.0, 0)]),
            (2.0, vec![peer(7, 1.8, 4_000)]),
            (40.0, vec![peer(8, 39.0, 4_000)]),
        ]);
        let (_, s) = t.silence(40.0, 0.0, None).unwrap();
        assert!(s.nothing_received, "{s:?}");
        assert_eq!((s.silent_for_secs, s.connections), (40.0, 2));
    }

    #[test]
    fn work_elsewhere_or_children_end_the_silence() {
        let t = run(&[(50.0, vec![peer(7, 50.0, 0)])]);
        // A write under the registry 10 s ago: not hung.
        let (_, s) = t.silence(50.0, 0.0, Some(40.0)).unwrap();
        assert_eq!(s.silent_for_secs, 10.0);
        assert!(!s.nothing_received && !s.since_hold_began);
        // Writes before the first try say nothing about it.
        assert!(t.silence(50.0, 0.0, Some(-5.0)).unwrap().1.nothing_received);
        let mut t = t;
        t.observe(51.0, 0.0, None);
        assert_eq!(
            t.silence(51.0, 0.0, None),
            None,
            "compiling: no network wait"
        );
    }

    #[test]
    fn missing_facts_never_make_silence() {
        // No clock from the kernel (another namespace): busy as far as anyone can tell.
        let blind = Peer {
            idle_for_secs: None,
            ..peer(7, 0.0, 0)
        };
        let t = run(&[(30.0, vec![blind.clone()]), (90.0, vec![blind.clone()])]);
        assert_eq!(t.silence(90.0, 0.0, None).unwrap().1.silent_for_secs, 0.0);
        // A known connection the kernel missed once (a dump that timed out) is no news: the
        // silence goes on.
        let t = run(&[(10.0, vec![peer(7, 10.0, 0)]), (20.0, vec![blind])]);
        let (_, s) = t.silence(20.0, 0.0, None).unwrap();
        assert!(s.nothing_received && s.silent_for_secs == 20.0, "{s:?}");
        // An old kernel without byte counts: silence per connection, as the kernel counts it.
        let old = Peer {
            received_bytes: None,
            ..peer(7, 20.0, 0)
        };
        let t = run(&[(90.0, vec![old])]);
        assert_eq!(t.silence(90.0, 0.0, None).unwrap().1.silent_for_secs, 20.0);
        // Nothing seen yet: no wait, however long the pauses.
        assert_eq!(run(&[(5.0, vec![])]).silence(5.0, 0.0, None), None);
    }

    #[test]
    fn a_first_try_long_after_the_hold_began_is_said_as_such() {
        let t = run(&[(60.0, vec![peer(7, 2.0, 0)])]);
        let (_, s) = t.silence(60.0, 0.0, None).unwrap();
        assert!(s.nothing_received && !s.since_hold_began);
        assert_eq!(s.first_try_secs, 2.0);
        let defaults = NetSettings::default();
        // Four tries of 30 s and 11.5 s of pauses.
        assert_eq!(defaults.give_up_secs(), 131.5);
        assert_eq!(give_up_in(&s, &defaults), Some(129.5));
        let late = NetSilence {
            first_try_secs: 200.0,
            ..s
        };
        assert_eq!(give_up_in(&late, &defaults), None);
        // `timeout = 15`, `retry = 0`: one try of 15 s (review M, N13).
        let short = NetSettings {
            timeout_secs: 15.0,
            retry: 0,
            timeout_set: true,
            ..NetSettings::default()
        };
        assert_eq!(short.give_up_secs(), 15.0);
        assert_eq!(give_up_in(&s, &short), Some(13.0));
    }
}
