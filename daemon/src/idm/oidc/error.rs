//! Protocol errors: the codes of RFC 6749 §4.1.2.1 / §5.2, OpenID Connect Core §3.1.2.6,
//! RFC 6750 §3.1 and RFC 7009 §2.2.1, with a description for the developer of the relying
//! party. The web layer turns them into a redirect (authorization endpoint) or JSON with the
//! status [`OAuthErrorCode::status`] (token, introspection, revocation, userinfo).

use std::borrow::Cow;

use crate::idm::IdmError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    /// Client authentication failed (401, with `WWW-Authenticate` when Basic was tried).
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    UnsupportedResponseType,
    AccessDenied,
    LoginRequired,
    ConsentRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    /// A bearer token that is malformed, expired, revoked or not ours (401).
    InvalidToken,
    InsufficientScope,
    UnsupportedTokenType,
    ServerError,
    /// The database cannot be reached for now (503): the client may retry.
    TemporarilyUnavailable,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::UnsupportedResponseType => "unsupported_response_type",
            OAuthErrorCode::AccessDenied => "access_denied",
            OAuthErrorCode::LoginRequired => "login_required",
            OAuthErrorCode::ConsentRequired => "consent_required",
            OAuthErrorCode::RequestNotSupported => "request_not_supported",
            OAuthErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            OAuthErrorCode::InvalidToken => "invalid_token",
            OAuthErrorCode::InsufficientScope => "insufficient_scope",
            OAuthErrorCode::UnsupportedTokenType => "unsupported_token_type",
            OAuthErrorCode::ServerError => "server_error",
            OAuthErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The HTTP status for a JSON error answer.
    pub fn status(self) -> u16 {
        match self {
            OAuthErrorCode::InvalidClient | OAuthErrorCode::InvalidToken => 401,
            OAuthErrorCode::InsufficientScope => 403,
            OAuthErrorCode::ServerError => 500,
            OAuthErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// A protocol error with a description (never a secret, never which check of a sign-in
/// failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: Cow<'static, str>,
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError {
            code,
            description: description.into(),
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(OAuthErrorCode::InvalidRequest, description)
    }

    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(OAuthErrorCode::InvalidGrant, description)
    }

    pub fn invalid_client() -> OAuthError {
        OAuthError::new(
            OAuthErrorCode::InvalidClient,
            "client authentication failed",
        )
    }

    pub fn invalid_token(description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(OAuthErrorCode::InvalidToken, description)
    }

    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(OAuthErrorCode::InvalidScope, description)
    }

    pub fn server_error() -> OAuthError {
        OAuthError::new(
            OAuthErrorCode::ServerError,
            "the server could not complete the request",
        )
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

/// A store or crypto failure is the server's fault; it is logged, and the client hears only
/// `server_error`.
impl From<IdmError> for OAuthError {
    fn from(error: IdmError) -> OAuthError {
        tracing::error!("an OpenID Connect request failed: {error}");
        match error {
            IdmError::Store(e) if e.is_unavailable() => OAuthError::new(
                OAuthErrorCode::TemporarilyUnavailable,
                "the server cannot reach its database right now; try again in a moment",
            ),
            _ => OAuthError::server_error(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_follow_the_rfcs() {
        assert_eq!(OAuthErrorCode::InvalidClient.status(), 401);
        assert_eq!(OAuthErrorCode::InvalidToken.status(), 401);
        assert_eq!(OAuthErrorCode::InvalidGrant.status(), 400);
        assert_eq!(OAuthErrorCode::UnsupportedGrantType.status(), 400);
        assert_eq!(OAuthErrorCode::InsufficientScope.status(), 403);
        assert_eq!(OAuthErrorCode::ServerError.status(), 500);
        assert_eq!(OAuthErrorCode::TemporarilyUnavailable.status(), 503);
        assert_eq!(
            OAuthErrorCode::UnsupportedResponseType.as_str(),
            "unsupported_response_type"
        );
        let e = OAuthError::invalid_grant("the code was already used");
        assert_eq!(e.to_string(), "invalid_grant: the code was already used");
        let e = OAuthError::from(IdmError::Random("x".into()));
        assert_eq!(e.code, OAuthErrorCode::ServerError);
    }
}
