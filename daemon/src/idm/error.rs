//! `IdmError`: why a business operation was refused or failed.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IdmError {
    /// `what` is "user" or "group".
    #[error("{what} {key:?} does not exist")]
    NotFound { what: &'static str, key: String },

    #[error("{field} {value:?} is already taken")]
    Conflict { field: &'static str, value: String },

    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },

    #[error("{what} {key:?} comes from LDAP and is read-only here")]
    ReadOnly { what: &'static str, key: String },

    /// The operating system could not supply random bytes.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),

    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IdmError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> IdmError {
        IdmError::Invalid {
            field,
            message: message.into(),
        }
    }

    pub(crate) fn user_not_found(key: &str) -> IdmError {
        IdmError::NotFound {
            what: "user",
            key: key.to_owned(),
        }
    }

    pub(crate) fn group_not_found(key: &str) -> IdmError {
        IdmError::NotFound {
            what: "group",
            key: key.to_owned(),
        }
    }
}
