//! The local IPC protocol: one request/response enum shared by the CLI, the daemon and the UI,
//! as newline-delimited JSON, with a protocol version in the first message.

use serde::{Deserialize, Serialize};

use super::history::Summary;
use crate::kill::KillReport;
use crate::ui::UiSnapshot;

/// Bumped on any incompatible change; a mismatch gets an error that says to restart the daemon.
pub const PROTOCOL_VERSION: u32 = 2;

/// The largest request line the daemon reads; longer ones get an error reply and the
/// connection is closed.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The longest grace period a client may ask a kill to wait.
pub const MAX_GRACE_MS: u64 = 60_000;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Request {
    /// Must be the first message.
    Hello {
        /// The client's protocol version.
        version: u32,
        /// Who is asking (for the log).
        client: String,
    },
    /// The current report.
    Status,
    /// A stream of snapshots: one now, then one per change.
    Subscribe,
    /// Terminate a root blocker (or its culprit, or a deadlock's victim).
    Kill {
        /// Target pid.
        pid: u32,
        /// Start token seen by the client, if any (guards against pid reuse).
        start_token: Option<u64>,
        /// SIGKILL instead of SIGTERM.
        force: bool,
        /// How long to wait for the release, in milliseconds (the daemon's default when
        /// absent; at most [`MAX_GRACE_MS`]).
        #[serde(default)]
        grace_ms: Option<u64>,
    },
    /// Continue a stopped blocker (SIGCONT).
    Resume {
        /// Blocker pid.
        pid: u32,
        /// Start token seen by the client, if any.
        start_token: Option<u64>,
    },
    /// Snooze notifications until a Unix time (None cancels).
    Snooze {
        /// Until when.
        until: Option<f64>,
    },
    /// Pause or resume watching.
    Pause {
        /// Paused or not.
        paused: bool,
    },
    /// A history summary since a Unix time.
    History {
        /// Start of the period.
        since: f64,
    },
    /// Ask the daemon to exit cleanly.
    Shutdown,
}

/// What the daemon answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Response {
    /// Reply to Hello.
    Hello {
        /// The daemon's protocol version.
        version: u32,
        /// The daemon's pid.
        daemon_pid: u32,
        /// The daemon's crate version.
        daemon_version: String,
    },
    /// A snapshot (reply to Status, and each item of a Subscribe stream).
    Snapshot(Box<UiSnapshot>),
    /// Reply to Kill and Resume.
    Kill(KillReport),
    /// Reply to History.
    History(Box<Summary>),
    /// The request was done.
    Ok,
    /// The request could not be done; the message says why and what to do.
    Error {
        /// Human-readable message.
        message: String,
        /// Set when the connection was refused because the daemon serves its maximum of
        /// clients: it runs, it is busy (absent from older daemons and every other error).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        busy: Option<Busy>,
    },
}

impl Response {
    /// An error reply with a message that says why and what to do.
    pub fn error(message: impl Into<String>) -> Response {
        Response::Error {
            message: message.into(),
            busy: None,
        }
    }
}

/// Why a connection was refused for want of a free slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Busy {
    /// `daemon.max_clients` in effect.
    pub max_clients: usize,
    /// The daemon's pid.
    pub daemon_pid: u32,
    /// The config file the daemon reads (where to raise the limit).
    pub config_file: String,
}

/// One frame cut from the byte stream a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line (without its newline), at most [`MAX_REQUEST_BYTES`] long.
    Line(Vec<u8>),
    /// The line grew past [`MAX_REQUEST_BYTES`]: the connection is answered and closed.
    TooLong,
}

/// Cuts a byte stream into request lines, never buffering more than [`MAX_REQUEST_BYTES`] (the
/// daemon's decoder, kept free of I/O so it can be fuzzed).
#[derive(Debug, Default)]
pub struct LineFramer {
    buf: Vec<u8>,
    started: bool,
}

impl LineFramer {
    /// Feeds bytes; returns how many were consumed and the frame they completed, if any.
    /// Bytes after a complete frame are not consumed: feed them again.
    pub fn feed(&mut self, bytes: &[u8]) -> (usize, Option<Frame>) {
        if bytes.is_empty() {
            return (0, None);
        }
        self.started = true;
        let (take, complete) = match bytes.iter().position(|b| *b == b'\n') {
            Some(pos) => (pos, true),
            None => (bytes.len(), false),
        };
        if self.buf.len() + take > MAX_REQUEST_BYTES {
            self.reset();
            return (take + usize::from(complete), Some(Frame::TooLong));
        }
        self.buf.extend_from_slice(&bytes[..take]);
        if !complete {
            return (take, None);
        }
        let line = std::mem::take(&mut self.buf);
        self.reset();
        (take + 1, Some(Frame::Line(line)))
    }

    /// At the end of the stream: the unterminated last line, if any.
    pub fn finish(&mut self) -> Option<Frame> {
        let had = self.started && !self.buf.is_empty();
        let line = std::mem::take(&mut self.buf);
        self.reset();
        had.then_some(Frame::Line(line))
    }

    /// Whether part of a line has arrived (a request is half-sent).
    pub fn partial(&self) -> bool {
        self.started
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.started = false;
    }
}

/// Decodes one request line: `Ok(None)` for a blank line, `Err` with a message for the client
/// when it is not a request. Never panics, whatever the bytes.
pub fn decode_request(line: &[u8]) -> Result<Option<Request>, String> {
    let text = String::from_utf8_lossy(line);
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str::<Request>(&text)
        .map(Some)
        .map_err(|e| format!("malformed request ({e}); expected one JSON object per line"))
}

/// Encodes one message as a JSON line. A message that cannot be encoded (nothing known should
/// fail: paths are encoded lossily) becomes an error message, so the connection stays usable.
pub fn encode<T: Serialize>(msg: &T) -> String {
    let mut s = serde_json::to_string(msg).unwrap_or_else(|e| {
        tracing::error!("cannot encode a message: {e}");
        let error = Response::error(format!("the daemon could not encode its answer ({e})"));
        serde_json::to_string(&error).unwrap_or_else(|_| {
            r#"{"type":"error","message":"the daemon could not encode its answer"}"#.into()
        })
    });
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let all = vec![
            Request::Hello {
                version: PROTOCOL_VERSION,
                client: "cli".into(),
            },
            Request::Status,
            Request::Subscribe,
            Request::Kill {
                pid: 42,
                start_token: Some(7),
                force: false,
                grace_ms: Some(2500),
            },
            Request::Resume {
                pid: 42,
                start_token: None,
            },
            Request::Snooze { until: Some(1.5) },
            Request::Pause { paused: true },
            Request::History { since: 0.0 },
            Request::Shutdown,
        ];
        for r in all {
            let line = encode(&r);
            assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
            assert_eq!(serde_json::from_str::<Request>(&line).unwrap(), r);
        }
    }

    #[test]
    fn a_kill_without_grace_from_an_older_client_still_parses() {
        let r: Request =
            serde_json::from_str(r#"{"type":"kill","pid":5,"start_token":null,"force":true}"#)
                .unwrap();
        assert!(matches!(
            r,
            Request::Kill {
                grace_ms: None,
                force: true,
                ..
            }
        ));
    }

    #[test]
    fn the_framer_cuts_lines_and_bounds_them() {
        let mut f = LineFramer::default();
        assert_eq!(f.feed(b"ab"), (2, None));
        assert!(f.partial());
        assert_eq!(f.feed(b"c\nde"), (2, Some(Frame::Line(b"abc".to_vec()))));
        assert!(!f.partial());
        assert_eq!(f.feed(b"de"), (2, None));
        assert_eq!(f.finish(), Some(Frame::Line(b"de".to_vec())));
        assert_eq!(f.finish(), None);
        let big = vec![b'x'; MAX_REQUEST_BYTES + 1];
        assert_eq!(f.feed(&big).1, Some(Frame::TooLong));
        assert!(!f.partial());
        assert_eq!(decode_request(b"  "), Ok(None));
        assert!(decode_request(b"nope").unwrap_err().contains("malformed"));
        assert_eq!(
            decode_request(br#"{"type":"status"}"#),
            Ok(Some(Request::Status))
        );
    }

    #[test]
    fn responses_round_trip_and_are_tagged() {
        let r = Response::error("nope");
        let line = encode(&r);
        assert_eq!(line, "{\"type\":\"error\",\"message\":\"nope\"}\n");
        assert_eq!(serde_json::from_str::<Response>(&line).unwrap(), r);
        // A busy refusal: older clients see an error with a message, newer ones the facts.
        let busy = Response::Error {
            message: "busy".into(),
            busy: Some(Busy {
                max_clients: 64,
                daemon_pid: 9,
                config_file: "/c/config.toml".into(),
            }),
        };
        let line = encode(&busy);
        assert!(line.contains("\"max_clients\":64"), "{line}");
        assert_eq!(serde_json::from_str::<Response>(&line).unwrap(), busy);
        let hello = Response::Hello {
            version: 1,
            daemon_pid: 9,
            daemon_version: "0.1.0".into(),
        };
        assert_eq!(
            serde_json::from_str::<Response>(&encode(&hello)).unwrap(),
            hello
        );
    }
}
