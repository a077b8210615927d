//! Discovery and JWKS: bytes rendered when the provider starts (and, for the JWKS, when the
//! keys rotate), served without parsing or allocating per request beyond the response.

use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use super::super::WebState;
use super::super::error::WebError;

/// Browser apps (public clients) read both documents cross-origin.
fn public_json(bytes: std::sync::Arc<[u8]>, max_age: &'static str) -> Response {
    let mut response =
        axum::body::Body::from(axum::body::Bytes::from_owner(ArcBytes(bytes))).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(max_age));
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// Lets `Bytes` share the pre-rendered `Arc<[u8]>` without copying it.
struct ArcBytes(std::sync::Arc<[u8]>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// `GET /.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`.
pub async fn configuration_get(State(state): State<WebState>) -> Result<Response, WebError> {
    let oidc = state.oidc()?;
    Ok(public_json(oidc.discovery_json(), "public, max-age=3600"))
}

/// `GET /.well-known/jwks.json`. A short cache: after a rotation, clients must see the new
/// key soon (most also refetch on an unknown `kid`).
pub async fn jwks_get(State(state): State<WebState>) -> Result<Response, WebError> {
    let oidc = state.oidc()?;
    Ok(public_json(oidc.keys().jwks_json(), "public, max-age=300"))
}
