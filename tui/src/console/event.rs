//! What flows into the console's [`App`](super::app::App) and what it asks
//! the runner to do. The runner turns terminal input, daemon replies and the
//! clock into [`AppEvent`]s, and carries out the [`Command`]s `App` returns.

use std::time::Instant;

use crossterm::event::KeyEvent;
use latchkey_protocol::{ApiError, AuditEventView, Request, Response, ServerHello};

#[derive(Debug, Clone, PartialEq)]
pub enum AppEvent {
    Key(KeyEvent),
    Resize {
        width: u16,
        height: u16,
    },
    /// The clock, a few times a second: drives reconnect retries and the
    /// coalescing of change notifications.
    Tick {
        now: Instant,
    },
    /// The handshake succeeded.
    Connected {
        server: ServerHello,
    },
    /// A connection attempt failed; `error` says why, for the admin to read.
    ConnectFailed {
        error: String,
    },
    /// An established connection went away.
    ConnectionLost {
        error: String,
    },
    /// The daemon answered the request sent with this tag.
    Reply {
        tag: u64,
        result: Result<Response, ApiError>,
    },
    /// The daemon pushed a notice that users or groups changed.
    DirectoryChanged,
    /// The daemon pushed a new audit event.
    AuditAppended {
        event: AuditEventView,
    },
    /// A running LDAP sync moved on.
    LdapSyncProgress {
        progress: latchkey_protocol::LdapSyncProgress,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// (Re)connect to the daemon; answer with `Connected` or `ConnectFailed`.
    Connect,
    /// Send a request; answer with `Reply { tag, .. }` (or `ConnectionLost`).
    Send {
        tag: u64,
        request: Request,
    },
    Quit,
}
