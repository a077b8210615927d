//! The web layer's one error type.
//!
//! Handlers return [`WebError`]; it carries a status, a stable code and a message for people,
//! and is mapped from [`IdmError`] here, once. Its response carries the error for the
//! middleware in `error_page`, which renders it as a page or JSON.

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::idm::IdmError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebError {
    pub status: StatusCode,
    /// Stable, for scripts and tests: `csrf_failed`, `invalid_input`, `sign_in_failed`, …
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

/// The generic answer to a failed passkey sign-in (login codes and setup links have their own):
/// never says which check failed (the audit log does).
pub const SIGN_IN_FAILED: &str = "This passkey was not accepted. It may have been removed from \
    your account; an administrator can give you a login code to sign in.";

impl WebError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> WebError {
        WebError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn csrf() -> WebError {
        WebError::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "CSRF check failed. Reload the page and try again.",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    pub fn not_found(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unauthorized() -> WebError {
        WebError::new(
            StatusCode::UNAUTHORIZED,
            "sign_in_required",
            "You are not signed in, or your session has ended.",
        )
    }

    pub fn internal() -> WebError {
        WebError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side. Please try again.",
        )
    }

    /// The database cannot be reached (it is down or restarting); the request may succeed in a
    /// moment, so a load balancer or the user may retry.
    pub fn unavailable() -> WebError {
        WebError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The service cannot reach its database right now. Please try again in a moment.",
        )
    }

    pub fn rate_limited(retry_after: u64) -> WebError {
        let minutes = retry_after.div_ceil(60);
        let when = if retry_after < 60 {
            format!("{retry_after} seconds")
        } else if minutes == 1 {
            "a minute".to_owned()
        } else {
            format!("{minutes} minutes")
        };
        WebError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "rate_limited",
            message: format!("Too many attempts from your network. Try again in {when}."),
            retry_after: Some(retry_after.max(1)),
        }
    }
}

impl From<IdmError> for WebError {
    fn from(error: IdmError) -> WebError {
        match error {
            IdmError::NotFound { what, .. } => {
                WebError::not_found(format!("That {what} does not exist."))
            }
            IdmError::Conflict { field, value } => WebError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("The {field} {value:?} is already taken."),
            ),
            IdmError::Invalid { field, message } => {
                WebError::bad_request(format!("{field}: {message}"))
            }
            IdmError::ReadOnly { what, .. } => WebError::new(
                StatusCode::CONFLICT,
                "read_only",
                format!("This {what} is managed by the directory and cannot be changed here."),
            ),
            IdmError::SignInFailed { .. } => {
                WebError::new(StatusCode::UNAUTHORIZED, "sign_in_failed", SIGN_IN_FAILED)
            }
            IdmError::CeremonyExpired => WebError::new(
                StatusCode::BAD_REQUEST,
                "ceremony_expired",
                "This sign-in attempt expired. Please try again.",
            ),
            IdmError::Passkey(message) => {
                WebError::new(StatusCode::BAD_REQUEST, "passkey_rejected", message)
            }
            // Jobs' work; a page never asks for it.
            error @ (IdmError::Random(_)
            | IdmError::LeaseLost { .. }
            | IdmError::Crypto(_)
            | IdmError::Encode(_)
            | IdmError::Sealed(_)
            | IdmError::Store(_)) => {
                if let IdmError::Store(e) = &error
                    && e.is_unavailable()
                {
                    tracing::error!("web request failed: {error}");
                    return WebError::unavailable();
                }
                tracing::error!("web request failed: {error}");
                WebError::internal()
            }
        }
    }
}

/// Marks a response as carrying a [`WebError`] for the middleware that renders it
/// (`error_page::render_errors`).
#[derive(Debug, Clone)]
pub(super) struct Rendered(pub(super) WebError);

impl IntoResponse for WebError {
    /// A plain-text fallback; `error_page::render_errors` replaces it with the page or JSON.
    fn into_response(self) -> Response {
        let mut response = (self.status, self.message.clone()).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(Rendered(self));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_messages_say_when() {
        assert!(WebError::rate_limited(30).message.contains("30 seconds"));
        assert!(WebError::rate_limited(60).message.contains("a minute"));
        assert!(WebError::rate_limited(601).message.contains("11 minutes"));
        assert_eq!(WebError::rate_limited(0).retry_after, Some(1));
    }

    #[test]
    fn idm_errors_map_to_client_statuses() {
        let e = WebError::from(IdmError::Invalid {
            field: "name",
            message: "too long".into(),
        });
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = WebError::from(IdmError::NotFound {
            what: "passkey",
            key: "x".into(),
        });
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let e = WebError::from(IdmError::CeremonyExpired);
        assert_eq!(e.code, "ceremony_expired");
    }

    #[test]
    fn the_response_carries_retry_after() {
        let response = WebError::rate_limited(90).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers().get(RETRY_AFTER).unwrap(), "90");
    }
}
