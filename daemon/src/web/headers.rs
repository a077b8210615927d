//! Security headers on every response.

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::Response;

use super::WebState;

/// No inline script or style, nothing from elsewhere, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'";

/// `Referrer-Policy: same-origin`, not `no-referrer`: with `no-referrer` browsers send
/// `Origin: null` on same-origin form posts (Fetch spec, "serializing a request origin"), which
/// the CSRF origin check must refuse. `same-origin` still sends nothing to other sites, so a
/// login code in `/lc/{code}` never leaks through a referrer.
pub const REFERRER: &str = "same-origin";

/// Sent when the public URL is https (browsers ignore it over plain http, so a TLS-terminating
/// proxy in front passes it on unchanged). One year, without `includeSubDomains`: Latchkey
/// usually lives on one host of a domain whose other hosts it does not speak for, and
/// `preload` is a decision for the domain's owner, not for the identity provider.
pub const HSTS: &str = "max-age=31536000";

/// The pages need WebAuthn and nothing else a browser can grant: every other powerful
/// feature is off, for these pages and anything they could ever embed.
pub const PERMISSIONS_POLICY: &str = "publickey-credentials-get=(self), \
    publickey-credentials-create=(self), camera=(), microphone=(), geolocation=(), \
    payment=(), usb=(), serial=(), hid=(), bluetooth=(), midi=(), display-capture=(), \
    clipboard-read=(), accelerometer=(), gyroscope=(), magnetometer=(), browsing-topics=()";

/// A response extension: one more origin the page's forms may be sent to (and redirected to
/// after submission: browsers apply `form-action` to the redirects that follow a form). The
/// consent page, the `form_post` response page and the sign-out confirmation end at a relying
/// party's address.
#[derive(Debug, Clone)]
pub struct FormActionOrigin(pub String);

/// Middleware: adds the CSP and friends; pages and JSON get `Cache-Control: no-store` unless a
/// handler (the static files) chose otherwise.
pub async fn security_headers(
    State(state): State<WebState>,
    request: Request,
    next: Next,
) -> Response {
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
        "permissions-policy",
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    if state.cookies.secure {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
