//! The client side of a connection: handshake, then concurrent requests
//! matched to responses by id, with pushed events on a channel.
//!
//! A background task owns the read half, so a caller that gives up waiting
//! (a `select!` in the console) never leaves a frame half-read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};

use crate::codec::{FrameError, read_frame, write_frame};
use crate::error::ApiError;
use crate::message::{
    ClientHello, ClientMessage, Event, Outcome, PROTOCOL_VERSION, Request, Response, ServerHello,
    ServerMessage,
};

/// Why a call did not produce a [`Response`].
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to the daemon at {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the daemon refused the connection: {0}")]
    Rejected(ApiError),
    /// The daemon answered the request with an error.
    #[error("{0}")]
    Api(ApiError),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("the daemon sent something unexpected: {0}")]
    Protocol(String),
    #[error("the connection to the daemon was lost")]
    Closed,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Outcome>>>>;

/// A connected, handshaken admin-socket client. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Client {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: Pending,
    next_id: AtomicU64,
    hello: ServerHello,
    events: Mutex<Option<mpsc::UnboundedReceiver<Event>>>,
}

impl Client {
    /// Connects to the socket at `path` and performs the version handshake.
    pub async fn connect(path: &Path, client_name: &str) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|source| ClientError::Connect {
                path: path.to_path_buf(),
                source,
            })?;
        let (mut reader, mut writer) = stream.into_split();
        let hello = ClientMessage::Hello(ClientHello {
            protocol: PROTOCOL_VERSION,
            client: client_name.to_owned(),
        });
        // A daemon that refuses this peer says why and closes at once, possibly before the
        // hello is written: its answer is still there to read, and it is the one worth showing
        // (not the broken pipe).
        let sent = write_frame(&mut writer, &hello).await;
        let answer = read_frame::<_, ServerMessage>(&mut reader).await;
        let hello = match (sent, answer) {
            (_, Ok(Some(ServerMessage::Rejected { error }))) => {
                return Err(ClientError::Rejected(error));
            }
            (Err(e), _) => return Err(e.into()),
            (Ok(()), answer) => match answer? {
                Some(ServerMessage::Hello(hello)) => hello,
                Some(other) => {
                    return Err(ClientError::Protocol(format!(
                        "expected a hello, got {other:?}"
                    )));
                }
                None => return Err(ClientError::Closed),
            },
        };
        let pending: Pending = Arc::default();
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        tokio::spawn(read_loop(reader, Arc::clone(&pending), event_tx));
        Ok(Client {
            writer: tokio::sync::Mutex::new(writer),
            pending,
            next_id: AtomicU64::new(1),
            hello,
            events: Mutex::new(Some(event_rx)),
        })
    }

    /// What the daemon said about itself in the handshake.
    pub fn server(&self) -> &ServerHello {
        &self.hello
    }

    /// Sends one request and waits for its response.
    pub async fn call(&self, request: Request) -> Result<Response, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        let sent = {
            let mut writer = self.writer.lock().await;
            write_frame(&mut *writer, &ClientMessage::Request { id, request }).await
        };
        if let Err(e) = sent {
            lock(&self.pending).remove(&id);
            return Err(e.into());
        }
        match rx.await {
            Ok(outcome) => Result::<Response, ApiError>::from(outcome).map_err(ClientError::Api),
            Err(_) => Err(ClientError::Closed),
        }
    }

    /// Takes the receiver of pushed events (after a [`Request::Subscribe`]).
    /// Returns `None` the second time. The channel closes when the
    /// connection is lost.
    pub fn take_events(&self) -> Option<mpsc::UnboundedReceiver<Event>> {
        lock(&self.events).take()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the map inconsistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn read_loop(
    mut reader: OwnedReadHalf,
    pending: Pending,
    events: mpsc::UnboundedSender<Event>,
) {
    loop {
        match read_frame::<_, ServerMessage>(&mut reader).await {
            Ok(Some(ServerMessage::Response { id, outcome })) => {
                if let Some(tx) = lock(&pending).remove(&id) {
                    let _ = tx.send(outcome);
                }
            }
            Ok(Some(ServerMessage::Event { event })) => {
                let _ = events.send(event);
            }
            Ok(Some(_)) => {}
            Err(e) if e.is_recoverable() => {}
            Ok(None) | Err(_) => break,
        }
    }
    // Dropping the senders wakes every waiting caller with `Closed`.
    lock(&pending).clear();
}
