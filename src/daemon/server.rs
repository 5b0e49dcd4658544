//! The daemon's Unix socket: per-user directory (0700), socket (0600), peer uid checked, a
//! protocol version handshake, newline-delimited JSON. Malformed or oversized messages get an
//! error reply and never take the daemon down. The socket file is removed on drop.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};

use super::engine::Command;
use super::history::{self, History};
use super::protocol::{self, MAX_REQUEST_BYTES, PROTOCOL_VERSION, Request, Response};
use crate::kill::KillRequest;
use crate::ui::UiSnapshot;

/// Removes the socket file when the server goes away.
pub struct SocketGuard(PathBuf);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Binds the socket, replacing a stale one left by a crashed daemon.
pub fn bind(path: &Path) -> anyhow::Result<(UnixListener, SocketGuard)> {
    if path.exists() {
        // The instance lock is held, so nobody else serves it: it is stale.
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove stale socket {}", path.display()))?;
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot chmod 600 {}", path.display()))?;
    Ok((listener, SocketGuard(path.to_path_buf())))
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
    pub kill_grace: std::time::Duration,
}

/// Accepts connections until the listener fails.
pub async fn serve(listener: UnixListener, shared: Shared) {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let peer = stream.peer_cred().map(|c| c.uid());
            if peer.as_ref().map_or(true, |uid| *uid != me) {
                let mut stream = stream;
                let msg = Response::Error {
                    message: "refused: the lockwatch daemon only talks to its own user".into(),
                };
                let _ = stream.write_all(protocol::encode(&msg).as_bytes()).await;
                return;
            }
            if let Err(e) = connection(stream, shared).await {
                tracing::debug!("client connection ended: {e}");
            }
        });
    }
}

/// Reads one line of at most `MAX_REQUEST_BYTES`; `Ok(None)` on a clean end of stream.
async fn read_line(
    reader: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
) -> std::io::Result<Option<Result<String, ()>>> {
    let mut buf = Vec::new();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if buf.is_empty() {
                None
            } else {
                Some(Ok(String::from_utf8_lossy(&buf).into_owned()))
            });
        }
        if let Some(pos) = available.iter().position(|b| *b == b'\n') {
            buf.extend_from_slice(&available[..pos]);
            reader.consume(pos + 1);
            if buf.len() > MAX_REQUEST_BYTES {
                return Ok(Some(Err(())));
            }
            return Ok(Some(Ok(String::from_utf8_lossy(&buf).into_owned())));
        }
        let n = available.len();
        buf.extend_from_slice(available);
        reader.consume(n);
        if buf.len() > MAX_REQUEST_BYTES {
            return Ok(Some(Err(())));
        }
    }
}

async fn connection(stream: UnixStream, shared: Shared) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut greeted = false;
    while let Some(line) = read_line(&mut reader).await? {
        let Ok(line) = line else {
            let msg = Response::Error {
                message: format!("message longer than {MAX_REQUEST_BYTES} bytes; closing"),
            };
            write.write_all(protocol::encode(&msg).as_bytes()).await?;
            return Ok(());
        };
        if line.trim().is_empty() {
            continue;
        }
        let request = match serde_json::from_str::<Request>(&line) {
            Ok(r) => r,
            Err(e) => {
                let msg = Response::Error {
                    message: format!("malformed request ({e}); expected one JSON object per line"),
                };
                write.write_all(protocol::encode(&msg).as_bytes()).await?;
                continue;
            }
        };
        if !greeted {
            match request {
                Request::Hello { version, .. } if version == PROTOCOL_VERSION => {
                    greeted = true;
                    let msg = Response::Hello {
                        version: PROTOCOL_VERSION,
                        daemon_pid: std::process::id(),
                        daemon_version: env!("CARGO_PKG_VERSION").to_string(),
                    };
                    write.write_all(protocol::encode(&msg).as_bytes()).await?;
                }
                Request::Hello { version, .. } => {
                    let msg = Response::Error {
                        message: format!(
                            "protocol version mismatch: daemon speaks {PROTOCOL_VERSION}, client {version}; restart the daemon after upgrading (cargo lockwatch daemon --stop)"
                        ),
                    };
                    write.write_all(protocol::encode(&msg).as_bytes()).await?;
                    return Ok(());
                }
                _ => {
                    let msg = Response::Error {
                        message: "the first message must be a hello with the protocol version"
                            .into(),
                    };
                    write.write_all(protocol::encode(&msg).as_bytes()).await?;
                }
            }
            continue;
        }
        match request {
            Request::Subscribe => {
                let mut rx = shared.snapshots.clone();
                loop {
                    let snap = rx.borrow_and_update().clone();
                    write
                        .write_all(protocol::encode(&Response::Snapshot(Box::new(snap))).as_bytes())
                        .await?;
                    if rx.changed().await.is_err() {
                        return Ok(());
                    }
                }
            }
            other => {
                let reply = respond(other, &shared).await;
                write.write_all(protocol::encode(&reply).as_bytes()).await?;
            }
        }
    }
    Ok(())
}

async fn respond(request: Request, shared: &Shared) -> Response {
    match request {
        Request::Hello { .. } => Response::Error {
            message: "already greeted".into(),
        },
        Request::Status => {
            // A fresh pass: the daemon may have slept since its last one.
            let (tx, rx) = oneshot::channel();
            if shared.commands.send(Command::Refresh(tx)).is_ok() {
                let _ = rx.await;
            }
            Response::Snapshot(Box::new(shared.snapshots.borrow().clone()))
        }
        Request::Subscribe => unreachable!("handled by the connection loop"),
        Request::Kill {
            pid,
            start_token,
            force,
            grace_ms,
        } => {
            let (tx, rx) = oneshot::channel();
            let grace = grace_ms.map_or(shared.kill_grace, |ms| {
                std::time::Duration::from_millis(ms.min(protocol::MAX_GRACE_MS))
            });
            let req = KillRequest {
                pid,
                start_token,
                force,
                grace,
            };
            if shared.commands.send(Command::Kill(req, tx)).is_err() {
                return Response::Error {
                    message: "the daemon is shutting down".into(),
                };
            }
            match rx.await {
                Ok(report) => Response::Kill(report),
                Err(_) => Response::Error {
                    message: "the kill did not complete (daemon shutting down)".into(),
                },
            }
        }
        Request::Resume { pid, start_token } => {
            let (tx, rx) = oneshot::channel();
            if shared
                .commands
                .send(Command::Resume(pid, start_token, tx))
                .is_err()
            {
                return Response::Error {
                    message: "the daemon is shutting down".into(),
                };
            }
            match rx.await {
                Ok(report) => Response::Kill(report),
                Err(_) => Response::Error {
                    message: "the resume did not complete (daemon shutting down)".into(),
                },
            }
        }
        Request::Snooze { until } => send(shared, Command::Snooze(until)),
        Request::Pause { paused } => send(shared, Command::Pause(paused)),
        Request::History { since } => {
            let h = shared.history.clone();
            match tokio::task::spawn_blocking(move || {
                let (events, bad) = h.read();
                history::summarize(&events, since, bad)
            })
            .await
            {
                Ok(s) => Response::History(s),
                Err(e) => Response::Error {
                    message: format!("cannot read history: {e}"),
                },
            }
        }
        Request::Shutdown => send(shared, Command::Shutdown),
    }
}

fn send(shared: &Shared, cmd: Command) -> Response {
    match shared.commands.send(cmd) {
        Ok(()) => Response::Ok,
        Err(_) => Response::Error {
            message: "the daemon is shutting down".into(),
        },
    }
}
