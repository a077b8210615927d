//! `GET|POST /userinfo` (OpenID Connect Core §5.3): the bearer token from the
//! `Authorization` header, or (POST) the `access_token` form field, never both.
//! Errors follow RFC 6750 §3: 401 with `WWW-Authenticate: Bearer …`, 403 for
//! `insufficient_scope`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use super::super::WebState;
use super::{error_body, form_pairs, json_no_store, run};
use crate::idm::oidc::authorize::single;
use crate::idm::oidc::error::{OAuthError, OAuthErrorCode};

/// The bearer token in `Authorization`, if the header is a Bearer one.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn bearer_error(error: &OAuthError, with_code: bool) -> Response {
    let status = StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    let mut response = json_no_store(status, error_body(error));
    let challenge = if with_code {
        format!(
            "Bearer realm=\"latchkey\", error=\"{}\", error_description=\"{}\"",
            error.code.as_str(),
            error.description.replace(['"', '\\'], "'")
        )
    } else {
        "Bearer realm=\"latchkey\"".to_owned()
    };
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

async fn answer(state: WebState, token: Option<String>) -> Response {
    let oidc = match state.oidc() {
        Ok(oidc) => oidc,
        Err(_) => return bearer_error(&OAuthError::server_error(), false),
    };
    let Some(token) = token else {
        // RFC 6750 §3.1: no error code when the request had no token at all.
        let error = OAuthError::invalid_token("a bearer access token is required");
        return bearer_error(&error, false);
    };
    match run(move || oidc.userinfo(&token)).await {
        Ok(claims) => json_no_store(
            StatusCode::OK,
            serde_json::to_vec(&claims).unwrap_or_default(),
        ),
        Err(error) => bearer_error(&error, true),
    }
}

/// `GET /userinfo`
pub async fn userinfo_get(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let token = bearer(&headers);
    answer(state, token).await
}

/// `POST /userinfo`
pub async fn userinfo_post(
    State(state): State<WebState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header_token = bearer(&headers);
    let form_token = if body.is_empty() {
        None
    } else {
        match form_pairs(&headers, &body).and_then(|p| {
            single(&p, "access_token")
                .map(|t| t.map(str::to_owned))
                .map_err(OAuthError::invalid_request)
        }) {
            Ok(token) => token,
            Err(error) => return bearer_error(&error, true),
        }
    };
    let token = match (header_token, form_token) {
        (Some(_), Some(_)) => {
            let error = OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "send the access token in one place only",
            );
            return bearer_error(&error, true);
        }
        (Some(t), None) | (None, Some(t)) => Some(t),
        (None, None) => None,
    };
    answer(state, token).await
}
