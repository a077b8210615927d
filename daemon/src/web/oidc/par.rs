//! `POST /par`: pushed authorization requests (RFC 9126). The client authenticates as at the
//! token endpoint; the answer is `201 Created` with the `request_uri` to send the browser to
//! `/authorize` with (see `idm::oidc::par`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::super::WebState;
use super::token::{authenticated, basic};
use super::{BODY_LIMIT, json_no_store, oauth_error};
use crate::idm::oidc::error::OAuthError;

/// `POST /par`
pub async fn par_post(State(state): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let basic = matches!(basic(&headers), Ok(Some(_)));
    if body.len() > BODY_LIMIT {
        return oauth_error(
            &OAuthError::invalid_request("the request is too large"),
            basic,
        );
    }
    let (oidc, client, params) = match authenticated(&state, &headers, &body, false).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match oidc.push(&client, &params) {
        Ok(pushed) => json_no_store(
            StatusCode::CREATED,
            serde_json::to_vec(&pushed).unwrap_or_default(),
        ),
        Err(error) => oauth_error(&error, basic),
    }
}
