//! Why a command failed: the exit status that says so, and how the error
//! prints on stderr for people and for scripts.

use std::io::Write;

use latchkey_protocol::{ApiError, ClientError};
use serde_json::{Value, json};

use super::output::to_json;

/// Why a command failed, and the exit status that says so.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The daemon is not running or the socket is wrong (exit 3).
    #[error("cannot reach latchkeyd at {path}: {reason}")]
    Unreachable { path: String, reason: String },
    /// The daemon answered with an error (exit 1).
    #[error("{0}")]
    Api(ApiError),
    /// The daemon said something we cannot use (exit 1).
    #[error("{0}")]
    Daemon(String),
    /// Something on this side failed, such as writing a file (exit 1).
    #[error("{0}")]
    Local(String),
}

impl CliError {
    pub fn from_client(path: &std::path::Path, error: ClientError) -> CliError {
        match error {
            ClientError::Api(api) | ClientError::Rejected(api) => CliError::Api(api),
            ClientError::Connect { source, .. } => CliError::Unreachable {
                path: path.display().to_string(),
                reason: source.to_string(),
            },
            e @ (ClientError::Closed | ClientError::Frame(_)) => CliError::Unreachable {
                path: path.display().to_string(),
                reason: e.to_string(),
            },
            e @ ClientError::Protocol(_) => CliError::Daemon(e.to_string()),
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Unreachable { .. } => 3,
            CliError::Api(_) | CliError::Daemon(_) | CliError::Local(_) => 1,
        }
    }

    /// The `{"error":{…}}` document printed on stderr with `--json`.
    pub fn to_json(&self) -> Value {
        let (code, field) = match self {
            CliError::Unreachable { .. } => (json!("unreachable"), None),
            CliError::Api(api) => (to_json(&api.code), api.field.clone()),
            CliError::Daemon(_) => (json!("protocol"), None),
            CliError::Local(_) => (json!("local"), None),
        };
        let message = match self {
            CliError::Api(api) => api.message.clone(),
            other => other.to_string(),
        };
        json!({ "error": { "code": code, "message": message, "field": field } })
    }

    pub fn write(&self, err: &mut dyn Write, json: bool) -> std::io::Result<()> {
        if json {
            return writeln!(err, "{}", self.to_json());
        }
        match self {
            CliError::Api(ApiError {
                field: Some(field),
                message,
                ..
            }) => writeln!(err, "latchkey: {field}: {message}"),
            CliError::Unreachable { .. } => writeln!(
                err,
                "latchkey: {self}\n  Is the daemon running? Start it with `latchkeyd`, or point at \
                 its socket with --socket PATH or LATCHKEY_SOCKET."
            ),
            other => writeln!(err, "latchkey: {other}"),
        }
    }
}
