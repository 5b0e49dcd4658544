//! The CLI side of the socket: check that the socket and whoever answers on it are this user's,
//! connect, greet, ask, read the answer. Blocking std I/O with timeouts, because a command-line
//! tool has no use for an async runtime.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

use super::protocol::{self, PROTOCOL_VERSION, Request, Response};
use super::trust;
use crate::core::model::DaemonAnswer;

/// Why the daemon could not be asked.
#[derive(Debug, Error)]
pub enum ClientError {
    /// No daemon listens (no socket, or connection refused).
    #[error("the lockwatch daemon is not running (no socket at {0})")]
    NotRunning(PathBuf),
    /// The socket, its directory or the process answering is not this user's: it is not
    /// talked to (the CLI scans directly instead).
    #[error("not trusting the daemon socket: {0}")]
    Untrusted(#[from] trust::Untrusted),
    /// It runs, but serves its maximum of clients and refused this one.
    #[error("{0}")]
    Busy(BusyDaemon),
    /// The socket path is too long for this platform: no daemon can listen there.
    #[error(transparent)]
    PathTooLong(#[from] super::SocketPathTooLong),
    /// It took the connection but said nothing in time: stopped (SIGSTOP), or stuck.
    #[error("{0}")]
    Silent(SilentDaemon),
    /// It answered something unexpected or not at all.
    #[error("the lockwatch daemon at {path} is unreachable or needs a restart: {why}")]
    Unreachable {
        /// Socket path.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
}

impl ClientError {
    /// Why the daemon gave no answer, in the words of `status --json`'s `daemon` field.
    pub fn answer(&self) -> DaemonAnswer {
        match self {
            ClientError::NotRunning(_) => DaemonAnswer::NotRunning,
            ClientError::Untrusted(_) => DaemonAnswer::Untrusted,
            ClientError::Busy(_) => DaemonAnswer::Busy,
            ClientError::Silent(s) if s.stopped => DaemonAnswer::Stopped,
            ClientError::Silent(_) => DaemonAnswer::Silent,
            ClientError::PathTooLong(_) | ClientError::Unreachable { .. } => {
                DaemonAnswer::Unreachable
            }
        }
    }
}

/// A daemon that took the connection but did not answer within the client's timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilentDaemon {
    /// Its socket.
    pub socket: PathBuf,
    /// Its pid, when known (its hello, or its pid file).
    pub pid: Option<u32>,
    /// How long it was given.
    pub after: Duration,
    /// Its process is stopped (SIGSTOP, Ctrl-Z): that is why, and `kill -CONT` the fix.
    pub stopped: bool,
}

impl std::fmt::Display for SilentDaemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let after = humantime::format_duration(self.after);
        match self.pid {
            Some(pid) if self.stopped => write!(
                f,
                "the lockwatch daemon (pid {pid}) is stopped (SIGSTOP or Ctrl-Z) and answers \
                 nothing: `kill -CONT {pid}` continues it"
            ),
            Some(pid) => write!(
                f,
                "the lockwatch daemon (pid {pid}) did not answer within {after}: if it is \
                 stopped, `kill -CONT {pid}` continues it; if it is stuck, `cargo lockwatch \
                 daemon --stop` (or `kill {pid}`) and start it again"
            ),
            None => write!(
                f,
                "the lockwatch daemon at {} did not answer within {after}: it may be stopped \
                 or stuck (`cargo lockwatch daemon --stop`, then start it again)",
                self.socket.display()
            ),
        }
    }
}

/// A daemon that runs but refused a connection: it serves `daemon.max_clients` already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyDaemon {
    /// Its socket.
    pub socket: PathBuf,
    /// Its pid, when it said it or its pid file does.
    pub pid: Option<u32>,
    /// The limit it is at, when known.
    pub max_clients: Option<usize>,
    /// The config file it reads, when it said so.
    pub config_file: Option<PathBuf>,
}

impl std::fmt::Display for BusyDaemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the lockwatch daemon")?;
        if let Some(pid) = self.pid {
            write!(f, " (pid {pid})")?;
        }
        write!(f, " is busy: ")?;
        match self.max_clients {
            Some(n) => write!(f, "{n} clients are connected (daemon.max_clients)")?,
            None => write!(f, "it serves as many clients as daemon.max_clients allows")?,
        }
        write!(f, "; try again, or raise max_clients in ")?;
        match &self.config_file {
            Some(p) => write!(f, "{}", p.display()),
            None => write!(f, "its config file (`cargo lockwatch config` shows where)"),
        }
    }
}

/// The start of an older daemon's busy refusal, which has no [`protocol::Busy`] facts.
const OLD_BUSY: &str = "the lockwatch daemon is already serving ";

/// Reads a refusal: a daemon at its limit is busy (with its facts, or for an older daemon its
/// message), anything else is unreachable with the daemon's words.
fn refusal(socket: &Path, message: String, busy: Option<protocol::Busy>) -> ClientError {
    let busy = match busy {
        Some(b) => BusyDaemon {
            socket: socket.to_path_buf(),
            pid: Some(b.daemon_pid),
            max_clients: Some(b.max_clients),
            config_file: Some(PathBuf::from(b.config_file)),
        },
        None => match message.strip_prefix(OLD_BUSY) {
            Some(rest) => BusyDaemon {
                socket: socket.to_path_buf(),
                pid: socket.parent().and_then(super::instance::read_pid),
                max_clients: rest.split(' ').next().and_then(|n| n.parse().ok()),
                config_file: None,
            },
            None => return unreachable(socket, message),
        },
    };
    ClientError::Busy(busy)
}

/// How long a greeting may go unanswered before the client looks whether the daemon is stopped
/// (a running daemon answers within a millisecond or two).
const QUICK_LOOK: Duration = Duration::from_millis(150);

/// A greeted connection.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    path: PathBuf,
    /// The daemon's pid (from the handshake).
    pub daemon_pid: u32,
}

impl Client {
    /// Checks the socket is this user's, connects, checks the peer is this user, and performs
    /// the handshake.
    pub fn connect(socket: &Path, timeout: Duration) -> Result<Client, ClientError> {
        super::check_socket_path(socket)?;
        if !trust::check_socket(socket)? {
            return Err(ClientError::NotRunning(socket.to_path_buf()));
        }
        let stream = match UnixStream::connect(socket) {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(ClientError::NotRunning(socket.to_path_buf()));
            }
            Err(e) => return Err(unreachable(socket, e.to_string())),
        };
        trust::check_peer(&stream, socket)?;
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_write_timeout(Some(timeout));
        let writer = stream
            .try_clone()
            .map_err(|e| unreachable(socket, e.to_string()))?;
        let mut client = Client {
            reader: BufReader::new(stream),
            writer,
            path: socket.to_path_buf(),
            daemon_pid: 0,
        };
        let hello = Request::Hello {
            version: PROTOCOL_VERSION,
            client: "cli".into(),
        };
        match client.greet(&hello, timeout)? {
            Response::Hello { daemon_pid, .. } => client.daemon_pid = daemon_pid,
            Response::Error { message, busy } => return Err(refusal(socket, message, busy)),
            other => return Err(unreachable(socket, format!("unexpected reply {other:?}"))),
        }
        Ok(client)
    }

    /// Sends the hello and reads its answer within `timeout`, looking after a moment whether
    /// the daemon is stopped (SIGSTOP, Ctrl-Z): then it never answers, and waiting out the whole
    /// timeout would only delay saying so.
    fn greet(&mut self, hello: &Request, timeout: Duration) -> Result<Response, ClientError> {
        let first = timeout.min(QUICK_LOOK);
        self.set_timeout(Some(first));
        let answer = match self.request(hello) {
            Err(ClientError::Silent(s)) if !s.stopped && timeout > first => {
                self.set_timeout(Some(timeout - first));
                self.read_response().map_err(|e| match e {
                    ClientError::Silent(s) => ClientError::Silent(SilentDaemon {
                        after: timeout,
                        ..s
                    }),
                    e => e,
                })
            }
            answer => answer,
        };
        self.set_timeout(Some(timeout));
        answer
    }

    /// Sends one request and reads one response.
    pub fn request(&mut self, req: &Request) -> Result<Response, ClientError> {
        if let Err(e) = self.writer.write_all(protocol::encode(req).as_bytes()) {
            // The daemon closed the connection: it may have said why first (a refusal written
            // before our hello arrived). Its end is closed, so this read cannot wait.
            if matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ) && let Ok(said) = self.read_response()
            {
                return Ok(said);
            }
            return Err(unreachable(&self.path, e.to_string()));
        }
        self.read_response()
    }

    /// Reads the next response (for subscriptions).
    pub fn read_response(&mut self) -> Result<Response, ClientError> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err(unreachable(
                &self.path,
                "the daemon closed the connection".into(),
            )),
            Ok(_) => serde_json::from_str(&line)
                .map_err(|e| unreachable(&self.path, format!("bad reply: {e}"))),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                let known = (self.daemon_pid != 0).then_some(self.daemon_pid);
                let dir = self.path.parent().unwrap_or(Path::new("."));
                let pid = known.or_else(|| super::instance::read_pid(dir));
                Err(ClientError::Silent(SilentDaemon {
                    socket: self.path.clone(),
                    pid,
                    after: (self.reader.get_ref().read_timeout().ok().flatten())
                        .unwrap_or_default(),
                    stopped: pid.is_some_and(|p| super::instance::is_stopped(dir, p)),
                }))
            }
            Err(e) => Err(unreachable(&self.path, e.to_string())),
        }
    }

    /// Sets the read timeout (None: wait forever, for subscriptions).
    pub fn set_timeout(&self, t: Option<Duration>) {
        let _ = self.reader.get_ref().set_read_timeout(t);
    }
}

fn unreachable(path: &Path, why: String) -> ClientError {
    ClientError::Unreachable {
        path: path.to_path_buf(),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_at_the_limit_is_busy_and_says_what_to_do() {
        let socket = Path::new("/nonexistent/run/lockwatch.sock");
        let facts = protocol::Busy {
            max_clients: 64,
            daemon_pid: 4242,
            config_file: "/home/me/.config/cargo-lockwatch/config.toml".into(),
        };
        let e = refusal(socket, "whatever".into(), Some(facts));
        assert_eq!(
            e.to_string(),
            "the lockwatch daemon (pid 4242) is busy: 64 clients are connected \
             (daemon.max_clients); try again, or raise max_clients in \
             /home/me/.config/cargo-lockwatch/config.toml"
        );
        // An older daemon's words: still busy, not "needs a restart".
        let old = "the lockwatch daemon is already serving 16 connections (daemon.max_clients); \
                   try again in a moment, or close the status-bar widgets that keep subscribing";
        match refusal(socket, old.into(), None) {
            ClientError::Busy(b) => {
                assert_eq!((b.pid, b.max_clients), (None, Some(16)));
                let text = b.to_string();
                assert!(
                    text.starts_with("the lockwatch daemon is busy: 16 clients"),
                    "{text}"
                );
                assert!(
                    text.contains("`cargo lockwatch config` shows where"),
                    "{text}"
                );
            }
            other => panic!("{other:?}"),
        }
        let other = refusal(socket, "protocol version mismatch".into(), None);
        assert!(
            matches!(other, ClientError::Unreachable { .. }),
            "{other:?}"
        );
    }
}
