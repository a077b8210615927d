//! Accepting admin connections: peer check, version handshake, then one
//! request at a time per connection, many connections at once.

use std::future::pending;

use latchkey_protocol::{
    ApiError, ClientMessage, ErrorCode, Event, FrameError, Outcome, PROTOCOL_VERSION, Request,
    ServerHello, ServerMessage, read_frame, write_frame,
};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::backup::{Backups, Snapshot};
use super::context::ConnectionContext;
use super::handlers;
use super::socket::BoundSocket;
use crate::idm::Actor;

#[derive(Debug)]
pub struct AdminServer {
    socket: BoundSocket,
    ctx: ConnectionContext,
}

impl AdminServer {
    pub fn new(socket: BoundSocket, ctx: ConnectionContext) -> AdminServer {
        AdminServer { socket, ctx }
    }

    /// Accepts connections until `shutdown`, then removes the socket file.
    /// Connection tasks are spawned on `tracker` so the caller can wait for
    /// in-flight requests to finish.
    pub async fn run(self, shutdown: CancellationToken, tracker: TaskTracker) {
        let AdminServer { socket, ctx } = self;
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = socket.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, _)) => {
                    let ctx = ctx.clone();
                    let shutdown = shutdown.clone();
                    let owner = Owners {
                        uid: socket.owner_uid,
                        admin_gid: socket.admin_gid,
                    };
                    tracker.spawn(async move {
                        if let Err(e) = serve_connection(stream, owner, ctx, shutdown).await {
                            debug!("admin connection ended: {e}");
                        }
                    });
                }
                // Out of file descriptors and the like: keep serving the
                // clients we have rather than exit.
                Err(e) => {
                    warn!("admin socket accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
        if let Err(e) = std::fs::remove_file(&socket.path) {
            warn!(
                "could not remove the admin socket {}: {e}",
                socket.path.display()
            );
        }
    }
}

async fn send(writer: &mut OwnedWriteHalf, message: &ServerMessage) -> Result<(), FrameError> {
    write_frame(writer, message).await
}

/// Who may administer the daemon besides root.
#[derive(Debug, Clone, Copy)]
struct Owners {
    /// The user that owns the socket (the daemon's own).
    uid: u32,
    /// `admin_group`'s gid, whose members may too.
    admin_gid: Option<u32>,
}

/// Who may administer the daemon: the user that owns the socket (the daemon's own), and root.
fn peer_allowed(peer_uid: u32, owner_uid: u32) -> bool {
    peer_uid == owner_uid || peer_uid == 0
}

/// [`peer_allowed`], or a member of `admin_group`. The socket's mode (0660) already kept
/// others from connecting; asking the user database again means a socket whose mode was
/// loosened by hand still admits nobody else.
async fn admitted(peer_uid: u32, owners: Owners) -> bool {
    if peer_allowed(peer_uid, owners.uid) {
        return true;
    }
    let Some(gid) = owners.admin_gid else {
        return false;
    };
    tokio::task::spawn_blocking(move || super::socket::is_member(peer_uid, gid))
        .await
        .unwrap_or(false)
}

async fn serve_connection(
    stream: UnixStream,
    owners: Owners,
    ctx: ConnectionContext,
    shutdown: CancellationToken,
) -> Result<(), FrameError> {
    let peer_uid = stream.peer_cred().map(|cred| cred.uid());
    let (mut reader, mut writer) = stream.into_split();
    let allowed = match peer_uid {
        Ok(uid) => admitted(uid, owners).await,
        Err(_) => false,
    };
    let uid = match peer_uid {
        Ok(uid) if allowed => uid,
        other => {
            let owner_uid = owners.uid;
            let who = other.map_or_else(|e| format!("unknown ({e})"), |uid| uid.to_string());
            warn!("refused an admin connection from uid {who}");
            let group = owners.admin_gid.map_or(String::new(), |gid| {
                format!(", a member of admin_group (gid {gid})")
            });
            let error = ApiError::new(
                ErrorCode::PermissionDenied,
                format!(
                    "uid {who} may not use this socket; run latchkey as the user that runs latchkeyd (uid {owner_uid}){group} or as root"
                ),
            );
            return send(&mut writer, &ServerMessage::Rejected { error }).await;
        }
    };

    let hello = match read_frame::<_, ClientMessage>(&mut reader).await {
        Ok(Some(ClientMessage::Hello(hello))) => hello,
        Ok(None) => return Ok(()),
        Ok(Some(_)) | Err(_) => {
            let error = ApiError::new(
                ErrorCode::BadFrame,
                "the first frame must be a hello with the protocol version",
            );
            return send(&mut writer, &ServerMessage::Rejected { error }).await;
        }
    };
    if hello.protocol != PROTOCOL_VERSION {
        let error = ApiError::new(
            ErrorCode::VersionMismatch,
            format!(
                "this latchkeyd ({}) speaks admin protocol {PROTOCOL_VERSION}, but {} speaks {}; use a console of the same release",
                ctx.info.version, hello.client, hello.protocol
            ),
        );
        return send(&mut writer, &ServerMessage::Rejected { error }).await;
    }
    debug!("admin connection from uid {uid}: {}", hello.client);
    let server_hello = ServerHello {
        protocol: PROTOCOL_VERSION,
        daemon_version: ctx.info.version.to_owned(),
        public_url: ctx.info.public_url.clone(),
    };
    send(&mut writer, &ServerMessage::Hello(server_hello)).await?;

    let actor = Actor::admin_socket(uid);
    let mut events: Option<broadcast::Receiver<Event>> = None;
    // Removed when this connection ends, however it ends.
    let mut backups = Backups::default();
    loop {
        let frame = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            event = next_event(&mut events) => {
                if let Some(event) = event {
                    send(&mut writer, &ServerMessage::Event { event }).await?;
                }
                continue;
            }
            frame = read_frame::<_, ClientMessage>(&mut reader) => frame,
        };
        let (id, request) = match frame {
            Ok(Some(ClientMessage::Request { id, request })) => (id, request),
            Ok(Some(ClientMessage::Hello(_))) => {
                let error = ApiError::new(ErrorCode::BadFrame, "hello sent twice");
                let event = Event::FrameRejected { error };
                send(&mut writer, &ServerMessage::Event { event }).await?;
                continue;
            }
            Ok(None) => return Ok(()),
            Err(e) => {
                let recoverable = e.is_recoverable();
                let error = ApiError::new(ErrorCode::BadFrame, e.to_string());
                let event = Event::FrameRejected { error };
                send(&mut writer, &ServerMessage::Event { event }).await?;
                if recoverable {
                    continue;
                }
                return Err(e);
            }
        };
        if matches!(request, Request::Subscribe) {
            events = Some(ctx.events.subscribe());
        }
        let backup = match &request {
            Request::BackupBegin => Some(backups.begin(&ctx, &actor, Snapshot::Backup).await),
            Request::ExportBegin => Some(backups.begin(&ctx, &actor, Snapshot::Export).await),
            Request::BackupChunk { backup, offset } => Some(backups.chunk(backup, *offset).await),
            Request::BackupEnd { backup } => Some(backups.end(backup)),
            _ => None,
        };
        if let Some(result) = backup {
            let outcome = result.into();
            send(&mut writer, &ServerMessage::Response { id, outcome }).await?;
            continue;
        }
        let mutates = handlers::mutates(&request);
        // Events keep flowing while a request runs: a console that asked
        // for an LDAP sync watches its progress on this connection.
        let outcome = {
            let request = run_request(&ctx, &actor, request);
            tokio::pin!(request);
            loop {
                tokio::select! {
                    outcome = &mut request => break outcome,
                    event = next_event(&mut events) => {
                        if let Some(event) = event {
                            send(&mut writer, &ServerMessage::Event { event }).await?;
                        }
                    }
                }
            }
        };
        if mutates && matches!(outcome, Outcome::Ok { .. }) {
            // Nobody listening is fine.
            let _ = ctx.events.send(Event::DirectoryChanged);
            // Nor on the other replicas (none on a single node).
            ctx.idm.tell_replicas_directory_changed();
        }
        send(&mut writer, &ServerMessage::Response { id, outcome }).await?;
    }
}

/// redb commits fsync, so requests run on the blocking pool.
async fn run_request(ctx: &ConnectionContext, actor: &Actor, request: Request) -> Outcome {
    if matches!(request, Request::LdapSync) {
        return handlers::ldap_sync(ctx, actor).await.into();
    }
    let ctx = ctx.clone();
    let actor = actor.clone();
    let joined = tokio::task::spawn_blocking(move || handlers::handle(&ctx, &actor, request)).await;
    match joined {
        Ok(result) => result.into(),
        Err(e) => {
            warn!("admin request handler failed: {e}");
            Outcome::Err {
                error: ApiError::new(ErrorCode::Internal, format!("request failed: {e}")),
            }
        }
    }
}

async fn next_event(events: &mut Option<broadcast::Receiver<Event>>) -> Option<Event> {
    let Some(rx) = events else {
        return pending().await;
    };
    match rx.recv().await {
        Ok(event) => Some(event),
        // A slow console missed some; one "changed" makes it reload.
        Err(broadcast::error::RecvError::Lagged(_)) => Some(Event::DirectoryChanged),
        Err(broadcast::error::RecvError::Closed) => {
            *events = None;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::peer_allowed;

    #[test]
    fn only_the_owner_and_root_may_connect() {
        assert!(peer_allowed(1000, 1000));
        assert!(peer_allowed(0, 1000));
        assert!(peer_allowed(0, 0));
        assert!(!peer_allowed(1001, 1000));
        assert!(!peer_allowed(65534, 0));
        assert!(!peer_allowed(1000, 0));
    }
}
