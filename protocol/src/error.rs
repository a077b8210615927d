//! Errors as they cross the socket: a stable machine-readable code plus a
//! message written for the admin who reads it.

use serde::{Deserialize, Serialize};

/// Stable error codes. Scripts match on these; add, never rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The named user, group or other object does not exist.
    NotFound,
    /// The request would break a uniqueness rule (username, email, group name).
    Conflict,
    /// A field failed validation; `field` names it.
    InvalidInput,
    /// The object is managed elsewhere (for example by LDAP) and is read-only here.
    ReadOnly,
    /// The peer is not allowed to use this socket.
    PermissionDenied,
    /// Client and daemon speak different protocol versions.
    VersionMismatch,
    /// A frame could not be parsed or was too large.
    BadFrame,
    /// Something failed inside the daemon; the message says what.
    Internal,
}

/// An error answer to one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// The input field the error is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}
