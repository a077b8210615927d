//! The web layer's one error type and its rendering.
//!
//! Handlers return [`WebError`]; it carries a status, a stable code and a message for people.
//! [`render_errors`] (a middleware with access to the settings) turns it into a page or, under
//! `/api/`, into JSON `{"error": code, "message": text}`. The same middleware also reshapes
//! axum's own plain-text rejections (a malformed form or JSON body, an unknown route, a wrong
//! method) so that every error a browser sees is a page or JSON with a 4xx status, never a 500
//! for bad input.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::WebState;
use super::pages;
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
            error @ (IdmError::Random(_)
            | IdmError::Crypto(_)
            | IdmError::Sealed(_)
            | IdmError::Store(_)) => {
                tracing::error!("web request failed: {error}");
                WebError::internal()
            }
        }
    }
}

/// Marks a response as carrying a [`WebError`] for [`render_errors`].
#[derive(Debug, Clone)]
struct Rendered(WebError);

impl IntoResponse for WebError {
    /// A plain-text fallback; [`render_errors`] replaces it with the page or JSON.
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

/// Middleware: renders errors as pages or JSON (under `/api/`).
pub async fn render_errors(
    State(state): State<WebState>,
    request: Request,
    next: Next,
) -> Response {
    let json = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let error = match response.extensions().get::<Rendered>() {
        Some(Rendered(error)) => error.clone(),
        None => {
            let status = response.status();
            let typed = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/html") || v.starts_with("application/json"));
            if !(status.is_client_error() || status.is_server_error()) || typed {
                return response;
            }
            from_rejection(status)
        }
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(CONTENT_LENGTH);
    let body = if json {
        Json(json!({"error": error.code, "message": error.message})).into_response()
    } else {
        let app_name = state.app_name().await;
        Html(pages::error_page(&app_name, &error)).into_response()
    };
    let (body_parts, body) = body.into_parts();
    for (name, value) in &body_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

/// axum's own rejections, reworded for people.
fn from_rejection(status: StatusCode) -> WebError {
    match status {
        StatusCode::NOT_FOUND => WebError::not_found("There is no page at this address."),
        StatusCode::METHOD_NOT_ALLOWED => WebError::new(
            status,
            "method_not_allowed",
            "This address does not accept that kind of request.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            WebError::new(status, "too_large", "The request is too large.")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => WebError::new(
            status,
            "invalid_input",
            "The request body has the wrong content type.",
        ),
        s if s.is_client_error() => WebError::new(
            s,
            "invalid_input",
            "The request could not be understood. Check the form and try again.",
        ),
        _ => WebError::internal(),
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
