//! The admin socket: a local Unix socket over which the `latchkey` console
//! and scripts call the same `idm` functions that the web side uses.

mod backup;
mod context;
mod errors;
mod handlers;
mod mail;
mod server;
mod socket;
mod views;

pub use context::ConnectionContext;
pub use server::AdminServer;
pub use socket::{SocketError, bind_admin_socket};
pub use views::audit_event as audit_event_view;
