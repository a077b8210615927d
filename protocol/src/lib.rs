//! The admin-socket contract shared by `latchkeyd` and the `latchkey` console.
//!
//! A connection is a sequence of frames (a 4-byte big-endian length, then that
//! many bytes of JSON). The client opens with [`ClientMessage::Hello`]; the
//! daemon answers [`ServerMessage::Hello`] or, on a version mismatch, a
//! [`ServerMessage::Rejected`] and closes. After that every
//! [`ClientMessage::Request`] carries an id that its [`ServerMessage::Response`]
//! repeats; the daemon may push [`ServerMessage::Event`]s in between.

pub mod access;
pub mod backup;
pub mod client;
pub mod codec;
pub mod directory;
pub mod error;
pub mod expiry;
pub mod message;
pub mod oidc;
pub mod settings;
pub mod view;

pub use access::*;
pub use backup::{BACKUP_CHUNK_BYTES, BackupInfo};
pub use client::{Client, ClientError};
pub use codec::{FrameError, MAX_FRAME_BYTES, read_frame, write_frame};
pub use directory::*;
pub use error::{ApiError, ErrorCode};
pub use expiry::{EXPIRY_PRESETS, ExpiryError, MAX_EXPIRY, parse_expiry};
pub use message::{
    ClientHello, ClientMessage, Event, Outcome, PROTOCOL_VERSION, Request, Response, ServerHello,
    ServerMessage,
};
pub use oidc::*;
pub use settings::{SettingView, SettingsView};
pub use view::*;
