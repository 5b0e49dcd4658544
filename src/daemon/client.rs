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
    /// It answered something unexpected or not at all.
    #[error("the lockwatch daemon at {path} is unreachable or needs a restart: {why}")]
    Unreachable {
        /// Socket path.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
}

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
        match client.request(&Request::Hello {
            version: PROTOCOL_VERSION,
            client: "cli".into(),
        })? {
            Response::Hello { daemon_pid, .. } => client.daemon_pid = daemon_pid,
            Response::Error { message } => return Err(unreachable(socket, message)),
            other => return Err(unreachable(socket, format!("unexpected reply {other:?}"))),
        }
        Ok(client)
    }

    /// Sends one request and reads one response.
    pub fn request(&mut self, req: &Request) -> Result<Response, ClientError> {
        self.writer
            .write_all(protocol::encode(req).as_bytes())
            .map_err(|e| unreachable(&self.path, e.to_string()))?;
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
