//! Security headers on every response.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::Response;

/// No inline script or style, nothing from elsewhere, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'";

/// `Referrer-Policy: same-origin`, not `no-referrer`: with `no-referrer` browsers send
/// `Origin: null` on same-origin form posts (Fetch spec, "serializing a request origin"), which
/// the CSRF origin check must refuse. `same-origin` still sends nothing to other sites, so a
/// login code in `/lc/{code}` never leaks through a referrer.
pub const REFERRER: &str = "same-origin";

/// A response extension: one more origin the page's forms may be sent to (and redirected to
/// after submission: browsers apply `form-action` to the redirects that follow a form). The
/// consent page, the `form_post` response page and the sign-out confirmation end at a relying
/// party's address.
#[derive(Debug, Clone)]
pub struct FormActionOrigin(pub String);

/// Middleware: adds the CSP and friends; pages and JSON get `Cache-Control: no-store` unless a
/// handler (the static files) chose otherwise.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let extra = response
        .extensions()
        .get::<FormActionOrigin>()
        .and_then(|origin| {
            HeaderValue::from_str(&CSP.replace(
                "form-action 'self'",
                &format!("form-action 'self' {}", origin.0),
            ))
            .ok()
        });
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        extra.unwrap_or(HeaderValue::from_static(CSP)),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static(REFERRER));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
