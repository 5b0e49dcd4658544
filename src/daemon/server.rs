//! The daemon's Unix socket: in the private runtime directory (0700), socket 0600, peer uid
//! checked, a protocol version handshake, newline-delimited JSON. Malformed or oversized
//! messages get an error reply and never take the daemon down.
//!
//! Abuse is bounded: at most `daemon.max_clients` connections (more get a polite refusal), a
//! request must arrive whole within `daemon.request_timeout`, a subscriber is dropped the moment
//! it hangs up (its read side is polled, not only the next write) or stops reading, and an idle
//! greeted connection is closed after [`IDLE_TIMEOUT`]. The socket file is removed on drop.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::engine::Command;
use super::history::History;
use super::protocol::{
    self, Frame, LineFramer, MAX_REQUEST_BYTES, PROTOCOL_VERSION, Request, Response,
};
use crate::config::DaemonConfig;
use crate::kill::KillRequest;
use crate::ui::UiSnapshot;

/// A greeted connection that sends nothing for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Removes the socket file when the server goes away.
pub struct SocketGuard(PathBuf);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Binds the socket, replacing a stale one left by a crashed daemon without a word; with the
/// log line that says what else was removed from its path ([`clearing`]).
pub fn bind(path: &Path) -> anyhow::Result<(UnixListener, SocketGuard, Option<String>)> {
    super::check_socket_path(path)?;
    let found =
        at_socket_path(path).with_context(|| format!("cannot examine {}", path.display()))?;
    let said = match clearing(path, found) {
        Clearing::Nothing => None,
        Clearing::Remove(said) => {
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
            said
        }
        Clearing::Refuse(why) => anyhow::bail!(why),
    };
    let listener =
        UnixListener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot chmod 600 {}", path.display()))?;
    Ok((listener, SocketGuard(path.to_path_buf()), said))
}

/// What stands at the socket path before the daemon binds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtSocketPath {
    /// Nothing.
    Nothing,
    /// A socket.
    Socket,
    /// A regular file of this many bytes.
    File(u64),
    /// A directory.
    Directory,
    /// Anything else, said in a few words ("a symbolic link").
    Other(&'static str),
}

/// What the daemon does about what stands at its socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clearing {
    /// Nothing is there.
    Nothing,
    /// Remove it, and log this line when there is one.
    Remove(Option<String>),
    /// Do not start: this says what is there and what to do.
    Refuse(String),
}

/// What stands at `path` (never following a link).
pub fn at_socket_path(path: &Path) -> std::io::Result<AtSocketPath> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(AtSocketPath::Nothing),
        Err(e) => return Err(e),
    };
    let kind = meta.file_type();
    Ok(if kind.is_socket() {
        AtSocketPath::Socket
    } else if kind.is_file() {
        AtSocketPath::File(meta.len())
    } else if kind.is_dir() {
        AtSocketPath::Directory
    } else if kind.is_symlink() {
        AtSocketPath::Other("a symbolic link")
    } else if kind.is_fifo() {
        AtSocketPath::Other("a named pipe")
    } else {
        AtSocketPath::Other("a device")
    })
}

/// What to do about `found` at the socket path `path`. The instance lock is held, so no daemon
/// serves a socket there: one a daemon that died left is replaced without a word. Anything else
/// was put there by someone: a file with something in it is kept and the daemon does not start,
/// what holds nothing is removed and said (review Y, Y6).
pub fn clearing(path: &Path, found: AtSocketPath) -> Clearing {
    let p = path.display();
    let start_again = "then start the daemon again";
    match found {
        AtSocketPath::Nothing => Clearing::Nothing,
        AtSocketPath::Socket => Clearing::Remove(None),
        AtSocketPath::File(0) => Clearing::Remove(Some(format!(
            "removed {p}: an empty regular file, not a socket"
        ))),
        AtSocketPath::File(len) => Clearing::Refuse(format!(
            "{p} is a regular file ({len} byte{}), not a socket, and the daemon does not delete \
             it: move it aside (or remove it), {start_again}",
            if len == 1 { "" } else { "s" }
        )),
        AtSocketPath::Directory => Clearing::Refuse(format!(
            "{p} is a directory, not a socket: move it aside, {start_again}"
        )),
        AtSocketPath::Other(what) => {
            Clearing::Remove(Some(format!("removed {p}: {what}, not a socket")))
        }
    }
}

/// What every connection can reach.
#[derive(Clone)]
pub struct Shared {
    /// Latest snapshot.
    pub snapshots: watch::Receiver<UiSnapshot>,
    /// Commands to the engine.
    pub commands: mpsc::UnboundedSender<Command>,
    /// History log (read directly).
    pub history: History,
    /// Grace period for kills.
    pub kill_grace: Duration,
    /// Connection limits (follow a config reload).
    pub limits: watch::Receiver<DaemonConfig>,
    /// The config file the daemon reads (named when it is busy).
    pub config_file: PathBuf,
}

/// Counts a live connection; the count drops with it.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Takes a connection slot, or None when `max` are in use.
fn take_slot(active: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
    active
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| Slot(active.clone()))
}

/// The refusal a client gets when the daemon is full: a message for people (and older
/// clients) and the facts a client turns into "busy", never "needs a restart".
pub fn busy_reply(max: usize, config_file: &Path) -> Response {
    Response::Error {
        message: format!(
            "the lockwatch daemon is already serving {max} connections (daemon.max_clients); \
             try again in a moment, or raise max_clients in {}",
            config_file.display()
        ),
        busy: Some(protocol::Busy {
            max_clients: max,
            daemon_pid: std::process::id(),
            config_file: config_file.to_string_lossy().into_owned(),
        }),
    }
}

/// Writes a short reply and closes: refusals never hold a slot, a task or the accept loop.
///
/// The reply is written with one non-blocking `write(2)` straight away (not tokio's
/// `try_write`, which refuses until the reactor has seen the new socket writable): a fresh
/// connection's buffer has room for it, so it is in the client's queue before the close, and
/// a client whose hello then fails with EPIPE still reads it (see `client.rs`).
fn refuse(stream: UnixStream, reply: &Response) {
    use std::io::Write as _;
    let Ok(stream) = stream.into_std() else {
        return;
    };
    let _ = (&stream).write(protocol::encode(reply).as_bytes());
}

/// Accepts connections until the listener fails.
pub async fn serve(listener: UnixListener, shared: Shared) {
    let me = super::trust::me();
    let active = Arc::new(AtomicUsize::new(0));
    let mut accept_failures: u64 = 0;
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of descriptors, most likely: say so now and then, never spin.
                if accept_failures.is_multiple_of(100) {
                    tracing::warn!("accept failed ({accept_failures} times so far): {e}");
                }
                accept_failures += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let peer = stream.peer_cred().map(|c| c.uid());
        if peer.as_ref().map_or(true, |uid| *uid != me) {
            refuse(
                stream,
                &Response::error("refused: the lockwatch daemon only talks to its own user"),
            );
            continue;
        }
        let limits = shared.limits.borrow().clone();
        let Some(slot) = take_slot(&active, limits.max_clients) else {
            refuse(stream, &busy_reply(limits.max_clients, &shared.config_file));
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = connection(stream, shared, limits.request_timeout).await {
                tracing::debug!("client connection ended: {e}");
            }
        });
    }
}

/// Why reading a request stopped.
enum ReadEnd {
    /// The client closed its end.
    Closed,
    /// Nothing arrived in time (true: half a request had arrived).
    TimedOut { half: bool },
    /// A socket error.
    Io(std::io::Error),
}

/// The read side of a connection: frames with deadlines.
struct Reader {
    half: OwnedReadHalf,
    framer: LineFramer,
    pending: Vec<u8>,
    start: usize,
    line_started: Option<Instant>,
    request_timeout: Duration,
}

impl Reader {
    /// A reader of `half` with nothing read yet, whose requests must end within
    /// `request_timeout` of their beginning.
    fn new(half: OwnedReadHalf, request_timeout: Duration) -> Reader {
        Reader {
            half,
            framer: LineFramer::default(),
            pending: Vec::new(),
            start: 0,
            line_started: None,
            request_timeout,
        }
    }

    /// The next frame. `first_by` bounds the wait for a request to begin; once one has begun it
    /// must end within the request timeout.
    async fn next(&mut self, first_by: Instant) -> Result<Frame, ReadEnd> {
        let mut chunk = [0u8; 4096];
        loop {
            if self.start < self.pending.len() {
                let (n, frame) = self.framer.feed(&self.pending[self.start..]);
                self.start += n;
                if self.framer.partial() && self.line_started.is_none() {
                    self.line_started = Some(Instant::now());
                }
                if let Some(frame) = frame {
                    self.line_started = None;
                    return Ok(frame);
                }
                continue;
            }
            self.pending.clear();
            self.start = 0;
            let deadline = match self.line_started {
                Some(t) => t + self.request_timeout,
                None => first_by,
            };
            let read = tokio::time::timeout_at(deadline, self.half.read(&mut chunk)).await;
            match read {
                Err(_) => {
                    let half = self.line_started.is_some();
                    return Err(ReadEnd::TimedOut { half });
                }
                Ok(Err(e)) => return Err(ReadEnd::Io(e)),
                Ok(Ok(0)) => {
                    return self.framer.finish().ok_or(ReadEnd::Closed);
                }
                Ok(Ok(n)) => self.pending.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Resolves when the client hangs up (end of stream or an error); whatever it sends in the
    /// meantime is read and dropped, so it costs no memory.
    async fn hangup(&mut self) {
        let mut scratch = [0u8; 1024];
        loop {
            match self.half.read(&mut scratch).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

/// Writes one message, giving up on a client that does not read for `timeout`.
async fn send_to(
    write: &mut OwnedWriteHalf,
    msg: &Response,
    timeout: Duration,
) -> std::io::Result<()> {
    match tokio::time::timeout(timeout, write.write_all(protocol::encode(msg).as_bytes())).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the client stopped reading",
        )),
    }
}

/// Serves one connection: the hello first, then requests until the client goes or subscribes.
async fn connection(
    stream: UnixStream,
    shared: Shared,
    request_timeout: Duration,
) -> std::io::Result<()> {
    let connected = Instant::now();
    let (read, mut write) = stream.into_split();
    let mut reader = Reader::new(read, request_timeout);
    let mut greeted = false;
    loop {
        let first_by = if greeted {
            Instant::now() + IDLE_TIMEOUT
        } else {
            connected + request_timeout
        };
        let read = next_line(&mut reader, &mut write, first_by, greeted).await?;
        let Some(line) = read else {
            return Ok(());
        };
        let request = match protocol::decode_request(&line) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(message) => {
                send_to(&mut write, &Response::error(message), request_timeout).await?;
                continue;
            }
        };
        if !greeted {
            match greet(request, &mut write, request_timeout).await? {
                Greeting::Greeted => greeted = true,
                Greeting::NotYet => {}
                Greeting::Refused => return Ok(()),
            }
            continue;
        }
        match request {
            Request::Subscribe => {
                return subscribe(&mut reader, &mut write, &shared, request_timeout).await;
            }
            other => {
                let reply = respond(other, &shared).await;
                send_to(&mut write, &reply, request_timeout).await?;
            }
        }
    }
}

/// The next line from the client, or `None` when the connection is to close: the client
/// closed it, or sent no request in time or one too long (both said to it before closing).
/// `first_by` bounds the wait for a request to begin (see [`Reader::next`]).
async fn next_line(
    reader: &mut Reader,
    write: &mut OwnedWriteHalf,
    first_by: Instant,
    greeted: bool,
) -> std::io::Result<Option<Vec<u8>>> {
    let request_timeout = reader.request_timeout;
    let frame = match reader.next(first_by).await {
        Ok(f) => f,
        Err(ReadEnd::Closed) => return Ok(None),
        Err(ReadEnd::Io(e)) => return Err(e),
        Err(ReadEnd::TimedOut { half }) => {
            let msg = timed_out(half, greeted, request_timeout);
            let _ = send_to(write, &msg, request_timeout).await;
            return Ok(None);
        }
    };
    match frame {
        Frame::Line(l) => Ok(Some(l)),
        Frame::TooLong => {
            let msg = Response::error(format!(
                "message longer than {MAX_REQUEST_BYTES} bytes; closing"
            ));
            send_to(write, &msg, request_timeout).await?;
            Ok(None)
        }
    }
}

/// The reply to a client that sent nothing in time (`half`: half a request arrived).
fn timed_out(half: bool, greeted: bool, request_timeout: Duration) -> Response {
    let (what, limit) = match (half, greeted) {
        (true, _) => ("half a request", request_timeout),
        (false, true) => ("no request", IDLE_TIMEOUT),
        (false, false) => ("no request", request_timeout),
    };
    Response::error(format!(
        "{what} arrived within {}; closing (send whole lines promptly)",
        humantime::format_duration(limit)
    ))
}

/// What came of a connection's first requests.
enum Greeting {
    /// A hello in the daemon's protocol version: requests may follow.
    Greeted,
    /// Something else than a hello: a hello is still awaited.
    NotYet,
    /// A hello in another version: the connection closes.
    Refused,
}

/// Answers a request that came before the hello: the daemon's own hello to a hello in its
/// protocol version, otherwise an error.
async fn greet(
    request: Request,
    write: &mut OwnedWriteHalf,
    request_timeout: Duration,
) -> std::io::Result<Greeting> {
    match request {
        Request::Hello { version, .. } if version == PROTOCOL_VERSION => {
            let msg = Response::Hello {
                version: PROTOCOL_VERSION,
                daemon_pid: std::process::id(),
                daemon_version: env!("CARGO_PKG_VERSION").to_string(),
            };
            send_to(write, &msg, request_timeout).await?;
            Ok(Greeting::Greeted)
        }
        Request::Hello { version, .. } => {
            let msg = Response::error(format!(
                "protocol version mismatch: daemon speaks {PROTOCOL_VERSION}, client {version}; restart the daemon after upgrading (cargo lockwatch daemon --stop)"
            ));
            send_to(write, &msg, request_timeout).await?;
            Ok(Greeting::Refused)
        }
        _ => {
            let msg =
                Response::error("the first message must be a hello with the protocol version");
            send_to(write, &msg, request_timeout).await?;
            Ok(Greeting::NotYet)
        }
    }
}

/// Streams snapshots until the client hangs up, stops reading, or the daemon stops.
async fn subscribe(
    reader: &mut Reader,
    write: &mut OwnedWriteHalf,
    shared: &Shared,
    write_timeout: Duration,
) -> std::io::Result<()> {
    let mut rx = shared.snapshots.clone();
    loop {
        let snap = rx.borrow_and_update().clone();
        send_to(
            write,
            &Response::Snapshot(Box::new(snap.whole())),
            write_timeout,
        )
        .await?;
        tokio::select! {
            changed = rx.changed() => if changed.is_err() {
                return Ok(());
            },
            () = reader.hangup() => return Ok(()),
        }
    }
}

async fn respond(request: Request, shared: &Shared) -> Response {
    match request {
        Request::Hello { .. } => Response::error("already greeted"),
        Request::Status => {
            // A fresh pass: the daemon may have slept since its last one.
            let (tx, rx) = oneshot::channel();
            if shared.commands.send(Command::Refresh(tx)).is_ok() {
                let _ = rx.await;
            }
            let snap = shared.snapshots.borrow().clone();
            Response::Snapshot(Box::new(snap.whole()))
        }
        Request::Subscribe => Response::error("subscribe is answered by the connection loop"),
        Request::Kill {
            pid,
            start_token,
            force,
            grace_ms,
        } => {
            let (tx, rx) = oneshot::channel();
            let grace = grace_ms.map_or(shared.kill_grace, |ms| {
                Duration::from_millis(ms.min(protocol::MAX_GRACE_MS))
            });
            let req = KillRequest {
                pid,
                start_token,
                force,
                grace,
            };
            if shared.commands.send(Command::Kill(req, tx)).is_err() {
                return Response::error("the daemon is shutting down");
            }
            match rx.await {
                Ok(report) => Response::Kill(report),
                Err(_) => Response::error("the kill did not complete (daemon shutting down)"),
            }
        }
        Request::Resume { pid, start_token } => {
            let (tx, rx) = oneshot::channel();
            if shared
                .commands
                .send(Command::Resume(pid, start_token, tx))
                .is_err()
            {
                return Response::error("the daemon is shutting down");
            }
            match rx.await {
                Ok(report) => Response::Kill(report),
                Err(_) => Response::error("the resume did not complete (daemon shutting down)"),
            }
        }
        Request::Snooze { until } => send(shared, Command::Snooze(until)),
        Request::Pause { paused } => send(shared, Command::Pause(paused)),
        Request::History { since } => {
            let h = shared.history.clone();
            // Streams the file: memory stays bounded whatever its size.
            match tokio::task::spawn_blocking(move || h.summary(since).0).await {
                Ok(s) => Response::History(Box::new(s)),
                Err(e) => Response::error(format!("cannot read history: {e}")),
            }
        }
        Request::Shutdown => send(shared, Command::Shutdown),
    }
}

fn send(shared: &Shared, cmd: Command) -> Response {
    match shared.commands.send(cmd) {
        Ok(()) => Response::Ok,
        Err(_) => Response::error("the daemon is shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_and_given_back() {
        let active = Arc::new(AtomicUsize::new(0));
        let a = take_slot(&active, 2).unwrap();
        let _b = take_slot(&active, 2).unwrap();
        assert!(take_slot(&active, 2).is_none());
        drop(a);
        assert!(take_slot(&active, 2).is_some());
        match busy_reply(64, Path::new("/c/config.toml")) {
            Response::Error {
                message,
                busy: Some(b),
            } => {
                assert!(message.contains("64") && message.contains("/c/config.toml"));
                assert_eq!((b.max_clients, b.daemon_pid), (64, std::process::id()));
            }
            other => panic!("{other:?}"),
        }
    }

    /// A stale socket is replaced without a word; a file with something in it is kept and the
    /// daemon does not start; what holds nothing is removed and said (review Y, Y6).
    #[test]
    fn only_a_stale_socket_is_replaced_without_a_word() {
        let path = Path::new("/r/lockwatch.sock");
        assert_eq!(clearing(path, AtSocketPath::Nothing), Clearing::Nothing);
        assert_eq!(clearing(path, AtSocketPath::Socket), Clearing::Remove(None));
        assert_eq!(
            clearing(path, AtSocketPath::File(0)),
            Clearing::Remove(Some(
                "removed /r/lockwatch.sock: an empty regular file, not a socket".into()
            ))
        );
        assert_eq!(
            clearing(path, AtSocketPath::File(9)),
            Clearing::Refuse(
                "/r/lockwatch.sock is a regular file (9 bytes), not a socket, and the daemon \
                 does not delete it: move it aside (or remove it), then start the daemon again"
                    .into()
            )
        );
        let Clearing::Refuse(dir) = clearing(path, AtSocketPath::Directory) else {
            panic!("a directory is refused");
        };
        assert!(
            dir.contains("is a directory") && dir.contains("move it aside"),
            "{dir}"
        );
        assert_eq!(
            clearing(path, AtSocketPath::Other("a symbolic link")),
            Clearing::Remove(Some(
                "removed /r/lockwatch.sock: a symbolic link, not a socket".into()
            ))
        );
        // What stands there, read from the file system.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        assert_eq!(at_socket_path(&file).unwrap(), AtSocketPath::Nothing);
        std::fs::write(&file, "my notes\n").unwrap();
        assert_eq!(at_socket_path(&file).unwrap(), AtSocketPath::File(9));
        assert_eq!(at_socket_path(dir.path()).unwrap(), AtSocketPath::Directory);
        let sock = dir.path().join("s");
        drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        assert_eq!(at_socket_path(&sock).unwrap(), AtSocketPath::Socket);
        std::os::unix::fs::symlink(&file, dir.path().join("l")).unwrap();
        assert_eq!(
            at_socket_path(&dir.path().join("l")).unwrap(),
            AtSocketPath::Other("a symbolic link")
        );
    }
}
