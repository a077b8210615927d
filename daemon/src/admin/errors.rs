//! The one mapping from domain errors to socket errors with stable codes.

use latchkey_protocol::{ApiError, ErrorCode};
use tracing::error;

use crate::idm::IdmError;

pub(super) fn api_error(err: IdmError) -> ApiError {
    let message = err.to_string();
    match err {
        IdmError::NotFound { .. } => ApiError::new(ErrorCode::NotFound, message),
        IdmError::Conflict { field, .. } => {
            ApiError::new(ErrorCode::Conflict, message).with_field(field)
        }
        IdmError::Invalid { field, .. } => {
            ApiError::new(ErrorCode::InvalidInput, message).with_field(field)
        }
        IdmError::ReadOnly { .. } => ApiError::new(ErrorCode::ReadOnly, message),
        // Another replica runs the job now; asking again there, or later, works.
        IdmError::LeaseLost { .. } => ApiError::new(ErrorCode::Conflict, message),
        // Browser flows; they do not reach the socket today, but if they
        // do they are the caller's input, not the daemon's fault.
        IdmError::SignInFailed { .. } | IdmError::CeremonyExpired | IdmError::Passkey(_) => {
            ApiError::new(ErrorCode::InvalidInput, message)
        }
        IdmError::Store(_)
        | IdmError::Random(_)
        | IdmError::Crypto(_)
        | IdmError::Encode(_)
        | IdmError::Sealed(_) => {
            error!("storage error: {message}");
            ApiError::new(ErrorCode::Internal, message)
        }
    }
}
