//! The OpenID Connect endpoints: thin HTTP adapters over `idm::oidc`.
//!
//! - `discovery` — `/.well-known/openid-configuration` (also served as
//!   `/.well-known/oauth-authorization-server`) and `/.well-known/jwks.json`, from bytes
//!   rendered at start, with `Cache-Control: public, max-age`;
//! - `authorize` — `GET|POST /authorize`, the consent form (`POST /authorize/consent`), the
//!   group-restriction page and the `form_post` page;
//! - `token` — `POST /token`, `POST /introspect`, `POST /revoke` (client authentication);
//! - `userinfo` — `GET|POST /userinfo` (bearer token);
//! - `end_session` — `GET|POST /end-session` and its confirmation.
//!
//! Protocol errors are JSON `{"error", "error_description"}` with the RFC's status (or a
//! redirect back to the client from `/authorize`); errors that must not go back to a client
//! (unknown client, unregistered redirect URI) are our own error page.

pub mod authorize;
pub mod discovery;
pub mod end_session;
pub mod par;
pub mod token;
pub mod userinfo;

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::WebState;
use super::error::WebError;
use crate::idm::Oidc;
use crate::idm::oidc::error::{OAuthError, OAuthErrorCode};

/// Bodies larger than this are refused (no OIDC request is big).
pub const BODY_LIMIT: usize = 64 * 1024;

impl WebState {
    /// The provider, or the page saying it is not available.
    pub fn oidc(&self) -> Result<Oidc, WebError> {
        self.oidc.clone().ok_or_else(|| {
            WebError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "oidc_unavailable",
                "Single sign-on is not available on this server.",
            )
        })
    }
}

/// Runs blocking provider work on the blocking pool; a failed task is `server_error`.
pub async fn run<T, F>(f: F) -> Result<T, OAuthError>
where
    F: FnOnce() -> Result<T, OAuthError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        tracing::error!("a blocking OIDC task failed: {e}");
        Err(OAuthError::server_error())
    })
}

/// A JSON answer that must not be cached (tokens, errors).
pub fn json_no_store(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The RFC 6749 §5.2 error body.
pub fn error_body(error: &OAuthError) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "error": error.code.as_str(),
        "error_description": error.description,
    }))
    .unwrap_or_default()
}

/// A JSON protocol error with its status. `invalid_client` after Basic authentication gets
/// `WWW-Authenticate: Basic`.
pub fn oauth_error(error: &OAuthError, basic: bool) -> Response {
    let status = StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = json_no_store(status, error_body(error));
    if error.code == OAuthErrorCode::InvalidClient && basic {
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"latchkey\""),
        );
    }
    response
}

/// The pairs of a form body; `Err` when the content type is not a form.
pub fn form_pairs(headers: &HeaderMap, body: &Bytes) -> Result<Vec<(String, String)>, OAuthError> {
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Ok(pairs(body))
}

/// What the browser-facing endpoints start from: the provider (or the page saying it is not
/// available) and the decoded parameters of the query.
#[derive(Debug)]
pub struct OidcQuery {
    pub oidc: Oidc,
    pub params: Vec<(String, String)>,
}

impl FromRequestParts<WebState> for OidcQuery {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, WebError> {
        Ok(OidcQuery {
            oidc: state.oidc()?,
            params: pairs(parts.uri.query().unwrap_or_default().as_bytes()),
        })
    }
}

/// Decoded `k=v&…` pairs.
pub fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `k=v&…`, encoded.
pub fn encode_pairs(pairs: &[(String, String)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}

/// `scheme://host[:port]` of an absolute http(s) URL, for the page's `form-action`.
pub fn origin_of(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.origin().ascii_serialization())
}

/// When `next` (a local path a sign-in returns to) is an authorization request of a registered
/// client, the origin of its `redirect_uri`: the sign-in form's redirects end there, so its page
/// must allow it. The redirect URI must be one the client registered (the same rule
/// `/authorize` applies): `next` comes from the address bar, and an unchecked one would let any
/// link widen the page's `form-action` to a site of the link author's choosing.
pub fn form_action_for_next(oidc: &Oidc, next: &str) -> Option<String> {
    let query = next.strip_prefix("/authorize?")?;
    let params = pairs(query.as_bytes());
    let one = |name: &str| {
        let mut values = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        match (values.next(), values.next()) {
            (Some(value), None) => Some(value),
            _ => None,
        }
    };
    let (client_id, redirect_uri) = (one("client_id")?, one("redirect_uri")?);
    let client = match oidc.client(client_id) {
        Ok(client) => client?,
        Err(e) => {
            tracing::warn!("looking up the client of a sign-in's next page failed: {e}");
            return None;
        }
    };
    if !client.redirect_uri_allowed(redirect_uri) {
        return None;
    }
    origin_of(redirect_uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://rp.example:8443/cb?x=1").as_deref(),
            Some("https://rp.example:8443")
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
    }

    #[test]
    fn errors_are_json_with_the_rfc_status() {
        let r = oauth_error(&OAuthError::invalid_client(), true);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Basic realm=\"latchkey\"");
        assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
        let r = oauth_error(&OAuthError::invalid_client(), false);
        assert!(r.headers().get(WWW_AUTHENTICATE).is_none());
        let r = oauth_error(&OAuthError::invalid_grant("x"), false);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
}
