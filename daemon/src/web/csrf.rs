//! CSRF protection: a double-submit cookie plus an `Origin` check.
//!
//! Every page gets a token: the `latchkey_csrf` cookie (32 random bytes from the OS, base64url;
//! `SameSite=Strict`, `HttpOnly`), and the same value in `<meta name="csrf-token">` and hidden
//! `_csrf` inputs. Every request other than GET/HEAD/OPTIONS must carry the value in the form
//! field `_csrf` or the header `X-CSRF-Token`, equal (constant-time) to the cookie; and when the
//! browser sends `Origin`, it must be the public URL's origin. The check is one middleware
//! ([`verify`]) in front of the whole router, so no handler can forget it. A failure is a 403
//! ("CSRF check failed"), nothing is audited (it is noise), and the handler never runs.

use std::fmt;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::{CONTENT_TYPE, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use subtle::ConstantTimeEq;

use super::error::WebError;
use super::{WebState, cookies};

/// Form bodies larger than this are refused before looking for `_csrf` (no form here is big).
const FORM_LIMIT: usize = 64 * 1024;

/// The header JSON requests carry the token in.
pub const HEADER: &str = "x-csrf-token";

/// The page's CSRF token. When the browser had none (or a malformed one), a new one is made and
/// used as a response part it sets the cookie.
#[derive(Clone)]
pub struct CsrfToken {
    value: String,
    set_cookie: Option<axum::http::HeaderValue>,
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfToken")
            .field("value", &"<redacted>")
            .field("new", &self.set_cookie.is_some())
            .finish()
    }
}

impl CsrfToken {
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The token in the request's cookie, or a fresh one.
    pub fn from_headers(headers: &HeaderMap, names: &cookies::CookieNames) -> CsrfToken {
        match cookies::get(headers, names.csrf).filter(|v| well_formed(v)) {
            Some(value) => CsrfToken {
                value: value.to_owned(),
                set_cookie: None,
            },
            None => {
                let value = fresh_token();
                CsrfToken {
                    set_cookie: names.set_csrf(&value),
                    value,
                }
            }
        }
    }
}

/// 32 bytes from the OS CSPRNG, base64url. If the OS cannot supply them the token is empty,
/// which no check accepts, so forms fail closed with a 403.
fn fresh_token() -> String {
    let mut bytes = [0u8; 32];
    match rand::rngs::OsRng.try_fill_bytes(&mut bytes) {
        Ok(()) => URL_SAFE_NO_PAD.encode(bytes),
        Err(e) => {
            tracing::error!("cannot make a CSRF token: {e}");
            String::new()
        }
    }
}

fn well_formed(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl FromRequestParts<WebState> for CsrfToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        Ok(CsrfToken::from_headers(&parts.headers, &state.cookies))
    }
}

impl IntoResponseParts for CsrfToken {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        if let Some(cookie) = self.set_cookie {
            res.headers_mut().append(SET_COOKIE, cookie);
        }
        Ok(res)
    }
}

/// Whether `submitted` matches the cookie, in constant time. An empty or missing value never
/// matches.
pub fn tokens_match(cookie: Option<&str>, submitted: Option<&str>) -> bool {
    match (cookie, submitted) {
        (Some(c), Some(s)) if well_formed(c) => bool::from(c.as_bytes().ct_eq(s.as_bytes())),
        _ => false,
    }
}

/// `Origin` absent, or equal to the public origin. `Origin: null` (sandboxed frames, some
/// redirects) is refused.
pub fn origin_allowed(headers: &HeaderMap, public_origin: &str) -> bool {
    match headers.get(ORIGIN) {
        None => true,
        Some(origin) => origin.as_bytes() == public_origin.as_bytes(),
    }
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

/// Endpoints exempt from the check. Relying parties call `/token`, `/par`, `/userinfo`,
/// `/introspect` and `/revoke` server to server and authenticate as clients (or with a bearer
/// token) instead of with cookies; `POST /authorize` and `POST /end-session` come from the
/// relying party's page and only redirect to the same request as a GET (no state changes
/// there). The consent form (`/authorize/consent`) and the end-session confirmation
/// (`/end-session/confirm`) are checked like every other form.
pub const EXEMPT: &[&str] = &[
    "/token",
    "/par",
    "/userinfo",
    "/introspect",
    "/revoke",
    "/authorize",
    "/end-session",
];

/// Middleware: checks every unsafe request before any handler runs.
pub async fn verify(State(state): State<WebState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) || EXEMPT.contains(&request.uri().path())
    {
        return next.run(request).await;
    }
    if !origin_allowed(request.headers(), &state.public_origin) {
        return WebError::csrf().into_response();
    }
    let cookie = cookies::get(request.headers(), state.cookies.csrf).map(str::to_owned);
    let header = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(header) = header {
        if tokens_match(cookie.as_deref(), Some(&header)) {
            return next.run(request).await;
        }
        return WebError::csrf().into_response();
    }
    // JSON endpoints take the token only in the header.
    if request.uri().path().starts_with("/api/") {
        return WebError::csrf().into_response();
    }
    let is_form = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return WebError::csrf().into_response();
    }
    // Read the form to find `_csrf`, then hand the handler an identical request.
    let (parts, body) = request.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return WebError::bad_request("the form is too large or could not be read")
                .into_response();
        }
    };
    let probe = Request::from_parts(parts.clone(), Body::from(bytes.clone()));
    let submitted = match axum::Form::<CsrfField>::from_request(probe, &()).await {
        Ok(axum::Form(field)) => field.csrf,
        Err(_) => None,
    };
    if !tokens_match(cookie.as_deref(), submitted.as_deref()) {
        return WebError::csrf().into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn fresh_tokens_are_well_formed_and_differ() {
        let a = fresh_token();
        let b = fresh_token();
        assert!(well_formed(&a), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn tokens_must_match_exactly() {
        let t = fresh_token();
        assert!(tokens_match(Some(&t), Some(&t)));
        assert!(!tokens_match(Some(&t), Some(&fresh_token())));
        assert!(!tokens_match(Some(&t), Some("")));
        assert!(!tokens_match(Some(&t), None));
        assert!(!tokens_match(None, Some(&t)));
        assert!(!tokens_match(Some(""), Some("")));
        assert!(!tokens_match(Some(&t), Some(&t[..42])));
    }

    #[test]
    fn origin_must_be_ours_when_present() {
        let ours = "http://localhost:1411";
        let mut h = HeaderMap::new();
        assert!(origin_allowed(&h, ours));
        h.insert(ORIGIN, HeaderValue::from_static("http://localhost:1411"));
        assert!(origin_allowed(&h, ours));
        h.insert(ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!origin_allowed(&h, ours));
        h.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(!origin_allowed(&h, ours));
    }

    #[test]
    fn a_missing_or_bad_cookie_gets_a_new_token_and_debug_hides_it() {
        let names = cookies::CookieNames::new(false);
        let fresh = CsrfToken::from_headers(&HeaderMap::new(), &names);
        assert!(fresh.set_cookie.is_some());
        assert!(!format!("{fresh:?}").contains(fresh.as_str()));
        let mut h = HeaderMap::new();
        let cookie = format!("latchkey_csrf={}", fresh.as_str());
        h.insert("cookie", HeaderValue::from_str(&cookie).unwrap());
        let same = CsrfToken::from_headers(&h, &names);
        assert_eq!(same.as_str(), fresh.as_str());
        assert!(same.set_cookie.is_none());
        h.insert("cookie", HeaderValue::from_static("latchkey_csrf=short"));
        assert!(CsrfToken::from_headers(&h, &names).set_cookie.is_some());
    }
}
