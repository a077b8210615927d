//! `IdmError`: why a business operation was refused or failed.

use crate::sealing::SealError;
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

    /// A sign-in attempt was refused. The message never says why (that
    /// would help an attacker); the audit log's `sign_in_failed` event has
    /// `reason`.
    #[error("sign-in failed")]
    SignInFailed { reason: SignInFailure },

    /// The WebAuthn ceremony id is unknown, expired or already used.
    #[error("this sign-in attempt expired; please try again")]
    CeremonyExpired,

    /// The WebAuthn library refused a registration or authentication, or
    /// passkeys cannot work with this configuration; the message is for the user.
    #[error("{0}")]
    Passkey(String),

    /// OpenSSL failed to make, load or use a signing key.
    #[error("signing key error: {0}")]
    Crypto(String),

    /// A value could not be encoded for storage or sealing (not expected: the types are ours).
    #[error("cannot encode {0}")]
    Encode(String),

    /// A secret could not be sealed or opened (see `crate::sealing`).
    #[error(transparent)]
    Sealed(#[from] SealError),

    /// This replica no longer holds the lease of the job whose work this
    /// was (another replica took the job over): nothing was written.
    #[error("another replica has taken over {job}; this one stopped")]
    LeaseLost { job: &'static str },

    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a sign-in failed, as the audit log records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInFailure {
    /// No such login code (wrong, already used, or revoked).
    UnknownCode,
    ExpiredCode,
    /// No passkey with this credential id, or it belongs to another user
    /// handle (revoked passkeys are deleted, so they end up here).
    UnknownCredential,
    UserDisabled,
    /// The signature, challenge, origin or flags did not verify.
    BadAssertion,
    /// The authenticator's signature counter went backwards: a cloned key
    /// or a replayed assertion.
    CounterRegression,
    /// A passkey sign-in named a ceremony that is unknown, expired or
    /// already finished (a replayed request looks like this).
    ExpiredCeremony,
    /// A passkey sign-in whose credential is not a WebAuthn response at all.
    MalformedResponse,
}

impl SignInFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInFailure::UnknownCode => "unknown_code",
            SignInFailure::ExpiredCode => "expired_code",
            SignInFailure::UnknownCredential => "unknown_credential",
            SignInFailure::UserDisabled => "user_disabled",
            SignInFailure::BadAssertion => "bad_assertion",
            SignInFailure::CounterRegression => "counter_regression",
            SignInFailure::ExpiredCeremony => "expired_ceremony",
            SignInFailure::MalformedResponse => "malformed_response",
        }
    }
}

impl std::fmt::Display for SignInFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
