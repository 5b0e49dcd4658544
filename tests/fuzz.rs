//! Bounded fuzzing of every parser that reads what someone else wrote: the IPC decoder (any
//! byte stream a local client sends), the history reader (a file torn by crashes or edited by
//! hand), the config loader (any file and environment) and the `/proc/locks` parser. Each runs
//! a fixed case budget as an ordinary test, so CI fuzzes on every run in a few seconds;
//! `PROPTEST_CASES=100000 cargo test --test fuzz` fuzzes longer.
//!
//! The properties: nothing panics, memory stays bounded (lines never exceed their cap), and what
//! a well-behaved writer produces is read back intact whatever garbage surrounds it.

use std::io::Write;
use std::path::Path;

use lockwatch::config::{Config, FlagOverrides, Loaded};
use lockwatch::core::catalog::LockKind;
use lockwatch::core::model::{LockMode, Origin};
use lockwatch::core::policy::{HistoryEvent, Party, ProcId};
use lockwatch::daemon::history::{self, History, Line};
use lockwatch::daemon::protocol::{
    self, Frame, LineFramer, MAX_REQUEST_BYTES, PROTOCOL_VERSION, Request,
};
use lockwatch::probe::linux_parse;
use proptest::prelude::*;

/// The case budget: fixed for CI, `PROPTEST_CASES` for a longer local run.
fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Exactly representable times, so JSON round trips compare equal.
fn time() -> impl Strategy<Value = f64> {
    (0u64..8_000_000_000).prop_map(|q| q as f64 / 4.0)
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (any::<u32>(), any::<String>())
            .prop_map(|(version, client)| Request::Hello { version, client }),
        Just(Request::Status),
        Just(Request::Subscribe),
        (
            any::<u32>(),
            proptest::option::of(any::<u64>()),
            any::<bool>(),
            proptest::option::of(any::<u64>())
        )
            .prop_map(|(pid, start_token, force, grace_ms)| Request::Kill {
                pid,
                start_token,
                force,
                grace_ms
            }),
        (any::<u32>(), proptest::option::of(any::<u64>()))
            .prop_map(|(pid, start_token)| Request::Resume { pid, start_token }),
        proptest::option::of(time()).prop_map(|until| Request::Snooze { until }),
        any::<bool>().prop_map(|paused| Request::Pause { paused }),
        time().prop_map(|since| Request::History { since }),
        Just(Request::Shutdown),
    ]
}

/// Feeds `bytes` to a framer in chunks cut at `cuts`; every frame it yields.
fn frames(bytes: &[u8], cuts: &[usize]) -> Vec<Frame> {
    let mut framer = LineFramer::default();
    let mut out = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(bytes.len());
    points.sort_unstable();
    let mut at = 0;
    for end in points {
        let mut chunk = &bytes[at..end.max(at)];
        while !chunk.is_empty() {
            let (n, frame) = framer.feed(chunk);
            assert!(n > 0 && n <= chunk.len(), "progress on every feed");
            chunk = &chunk[n..];
            out.extend(frame);
        }
        at = end.max(at);
    }
    out.extend(framer.finish());
    out
}

fn event() -> impl Strategy<Value = HistoryEvent> {
    let id =
        (any::<u32>(), any::<u64>()).prop_map(|(pid, start_token)| ProcId { pid, start_token });
    let words = proptest::collection::vec(any::<String>(), 0..6);
    prop_oneof![
        (
            time(),
            any::<String>(),
            any::<u64>(),
            id.clone(),
            words.clone()
        )
            .prop_map(|(at, name, ino, holder, cmd)| HistoryEvent::Acquired {
                at: at + 1e9,
                path: "/h/.package-cache".into(),
                kind: LockKind::PackageCache,
                dev: 1,
                ino,
                holder,
                name: name.into(),
                cmd,
                mode: LockMode::Exclusive,
                since_known: true,
                party: Party {
                    origin: Some(Origin::Ide),
                    via: Some("rust-analyzer".into()),
                    project: Some("/src/app".into()),
                    user: None,
                },
            }),
        (
            time(),
            any::<String>(),
            any::<u64>(),
            id,
            0u32..100_000,
            any::<Option<u16>>()
        )
            .prop_map(
                |(at, name, ino, holder, secs, silent)| HistoryEvent::Released {
                    at: at + 1e9,
                    path: "/t/debug/.cargo-lock".into(),
                    ino,
                    holder,
                    name: name.clone().into(),
                    held_secs: f64::from(secs) / 2.0,
                    cmd: vec![name, "build".into()],
                    since_known: true,
                    party: Party::default(),
                    network_silent_secs: silent.map(f64::from),
                }
            ),
    ]
}

proptest! {
    #![proptest_config(cases(2000))]

    /// Any byte stream, cut anywhere: frames never exceed the cap, decoding never panics.
    #[test]
    fn ipc_decoder_survives_any_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        for frame in frames(&bytes, &cuts) {
            if let Frame::Line(line) = frame {
                prop_assert!(line.len() <= MAX_REQUEST_BYTES);
                prop_assert!(!line.contains(&b'\n'));
                let _ = protocol::decode_request(&line);
            }
        }
    }

    /// Valid requests between garbage lines, cut anywhere, decode back to themselves.
    #[test]
    fn ipc_decoder_reads_back_every_request(
        reqs in proptest::collection::vec(request(), 1..6),
        junk in proptest::collection::vec("[^\n]{0,40}", 0..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut stream = Vec::new();
        for (i, r) in reqs.iter().enumerate() {
            if let Some(j) = junk.get(i) {
                stream.extend_from_slice(j.as_bytes());
                stream.push(b'\n');
            }
            stream.extend_from_slice(protocol::encode(r).as_bytes());
        }
        let decoded: Vec<Request> = frames(&stream, &cuts)
            .into_iter()
            .filter_map(|f| match f {
                Frame::Line(l) => protocol::decode_request(&l).ok().flatten(),
                Frame::TooLong => None,
            })
            .collect();
        // Junk that happens to be a valid request would show up too: compare our subsequence.
        let mut it = decoded.iter();
        for r in &reqs {
            prop_assert!(it.any(|d| d == r), "lost {r:?} from {decoded:?}");
        }
        let hello = Request::Hello { version: PROTOCOL_VERSION, client: "x".into() };
        prop_assert_eq!(protocol::decode_request(protocol::encode(&hello).trim_end().as_bytes()), Ok(Some(hello)));
    }

    /// `/proc/locks` text of any shape never panics the parser; valid lines parse exactly.
    #[test]
    fn proc_locks_parser_survives_any_text(
        noise in proptest::collection::vec(any::<String>(), 0..8),
        locks in proptest::collection::vec(
            (1u32..1000, 0u8..3, any::<bool>(), 1u32..4_000_000, 0u32..256, 0u32..256, any::<u64>()),
            0..8,
        ),
    ) {
        let mut text = String::new();
        for (i, (ord, depth, write, pid, major, minor, ino)) in locks.iter().enumerate() {
            if let Some(n) = noise.get(i) {
                text.push_str(n);
                text.push('\n');
            }
            let arrow = "-> ".repeat(usize::from(*depth));
            let mode = if *write { "WRITE" } else { "READ " };
            text.push_str(&format!(
                "{ord}: {arrow}FLOCK  ADVISORY  {mode} {pid} {major:02x}:{minor:02x}:{ino} 0 EOF\n"
            ));
        }
        let parsed = linux_parse::parse_proc_locks(&text);
        let mut it = parsed.iter();
        for (ord, depth, write, pid, major, minor, ino) in &locks {
            let found = it.any(|l| {
                l.ordinal == *ord
                    && l.wait_depth == *depth
                    && l.pid == *pid
                    && (l.major, l.minor, l.ino) == (*major, *minor, *ino)
                    && (l.mode == LockMode::Exclusive) == *write
            });
            prop_assert!(found, "lost a lock line in {text:?}: {parsed:?}");
        }
    }
}

proptest! {
    #![proptest_config(cases(300))]

    /// Any file and any environment: the loader never panics and always yields a config that
    /// passes its own check.
    #[test]
    fn config_loader_survives_any_file_and_env(
        file in proptest::option::of(prop_oneof![
            any::<String>(),
            "(\\[(watch|stale|notify|daemon)\\]\n([a-z_]{1,24} = (\"[0-9a-z ]{0,8}\"|-?[0-9]{1,20}|[0-9]\\.[0-9]|true|\\[\\])\n){0,6}){0,4}",
        ]),
        env in proptest::collection::vec(
            ("LOCKWATCH_(WATCH|STALE|NOTIFY|DAEMON)_[A-Z_]{1,24}", any::<String>()),
            0..6,
        ),
    ) {
        let loaded = Loaded::from_sources(
            file.as_deref(),
            Path::new("/cfg/config.toml"),
            env,
            &FlagOverrides::default(),
        );
        prop_assert!(loaded.config.check().is_ok(), "{:?}", loaded.config);
        let _ = loaded.config.flatten();
    }

    /// A history file of torn fragments and garbage between real appends: every appended event
    /// reads back, in order; nothing panics; lines stay bounded.
    #[test]
    fn history_reader_keeps_every_appended_event(
        batches in proptest::collection::vec(proptest::collection::vec(event(), 1..4), 1..5),
        junk in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..5),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        let mut written = Vec::new();
        for (i, batch) in batches.iter().enumerate() {
            if let Some(j) = junk.get(i) {
                // A torn write: bytes without (or with) a newline, as a crash leaves them.
                let mut f = std::fs::OpenOptions::new().create(true).append(true).open(h.path()).unwrap();
                f.write_all(j).unwrap();
            }
            h.append(batch).unwrap();
            written.extend(batch.iter().map(history::bounded_line));
        }
        let (events, _) = h.read();
        let read: Vec<String> = events
            .iter()
            .filter(|e| history::event_time(e) >= 1e9)
            .map(history::bounded_line)
            .collect();
        prop_assert_eq!(read, written);
    }

    /// The bounded line reader over any bytes: no line over the cap, none with a newline.
    #[test]
    fn history_lines_are_bounded(
        bytes in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b'\n')], 0..4096),
        max in 1usize..64,
    ) {
        let mut r = std::io::BufReader::with_capacity(7, &bytes[..]);
        let mut buf = Vec::new();
        let mut lines = 0;
        loop {
            match history::read_bounded_line(&mut r, &mut buf, max).unwrap() {
                Line::End => break,
                Line::Overlong => prop_assert!(buf.is_empty()),
                Line::Complete | Line::Unterminated => {
                    prop_assert!(buf.len() <= max && !buf.contains(&b'\n'));
                }
            }
            lines += 1;
            prop_assert!(lines <= bytes.len() + 1);
        }
    }
}

/// The defaults are what the fuzzed loader falls back to; they must pass on their own.
#[test]
fn defaults_pass_their_check() {
    assert!(Config::defaults().check().is_ok());
}
