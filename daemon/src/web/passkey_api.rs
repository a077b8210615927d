//! The WebAuthn JSON endpoints under `/api/passkey/`. Shapes (the browser script and the
//! browser tests depend on them):
//!
//! - `POST login/start` → `{"ceremony", "options": RequestChallengeResponse}`
//! - `POST login/finish` `{"ceremony", "credential", "next"?}` → `{"redirect"}` + session cookie
//! - `POST register/start` (signed in) → `{"ceremony", "options": CreationChallengeResponse}`
//! - `POST register/finish` `{"ceremony", "credential", "name"?}` → `{"id", "name"}`
//!
//! Errors are `{"error": code, "message": text}` with a 4xx status. All require the
//! `X-CSRF-Token` header (checked by the CSRF middleware).

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{SignedIn, session_cookie};
use super::client_ip::Client;
use super::error::WebError;
use super::rate_limit::Action;
use super::redirect::after_sign_in;
use super::{WebState, blocking};
use crate::idm::Actor;

/// `POST /api/passkey/login/start`
pub async fn login_start(State(state): State<WebState>) -> Result<Json<Value>, WebError> {
    let passkeys = state.passkeys()?;
    let (ceremony, options) = blocking(move || passkeys.start_sign_in()).await?;
    Ok(Json(json!({"ceremony": ceremony, "options": options})))
}

#[derive(Debug, Deserialize)]
pub struct LoginFinish {
    ceremony: String,
    credential: Value,
    /// Where to go afterwards (a local path); an addition to the contract, optional.
    #[serde(default)]
    next: Option<String>,
}

/// `POST /api/passkey/login/finish`
pub async fn login_finish(
    State(state): State<WebState>,
    client: Client,
    headers: axum::http::HeaderMap,
    Json(body): Json<LoginFinish>,
) -> Result<Response, WebError> {
    let now = state.idm.clock().now();
    if let Err(retry) = state.limiter.check(Action::PasskeySignIn, client.ip, now) {
        return Err(WebError::rate_limited(retry.0));
    }
    let actor = Actor::anonymous(Some(client.ip.to_string()), client.user_agent.clone());
    let passkeys = state.passkeys()?;
    let LoginFinish {
        ceremony,
        credential,
        next,
    } = body;
    let (user, token, session) =
        blocking(move || passkeys.finish_sign_in(&actor, &ceremony, credential)).await?;
    let mut response = Json(json!({"redirect": after_sign_in(next.as_deref())})).into_response();
    if let Some(cookie) = session_cookie(&state, &token, &session) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    // Email (issue 6): new-device notice.
    let method = latchkey_protocol::SignInMethod::Passkey;
    super::device::remember(&state, &headers, &client, &user, method, &mut response).await;
    Ok(response)
}

/// `POST /api/passkey/register/start`
pub async fn register_start(
    State(state): State<WebState>,
    signed_in: SignedIn,
) -> Result<Json<Value>, WebError> {
    let passkeys = state.passkeys()?;
    let user_id = signed_in.user.id;
    let (ceremony, options) = blocking(move || passkeys.start_registration(user_id)).await?;
    Ok(Json(json!({"ceremony": ceremony, "options": options})))
}

#[derive(Debug, Deserialize)]
pub struct RegisterFinish {
    ceremony: String,
    credential: Value,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /api/passkey/register/finish`
pub async fn register_finish(
    State(state): State<WebState>,
    signed_in: SignedIn,
    client: Client,
    Json(body): Json<RegisterFinish>,
) -> Result<Json<Value>, WebError> {
    let actor = signed_in.actor(&client);
    let passkeys = state.passkeys()?;
    let user_id = signed_in.user.id;
    let method = signed_in.session.method;
    let RegisterFinish {
        ceremony,
        credential,
        name,
    } = body;
    let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let info = blocking(move || {
        passkeys.finish_registration(
            &actor,
            user_id,
            &ceremony,
            credential,
            name.as_deref(),
            method,
        )
    })
    .await?;
    Ok(Json(json!({"id": info.id, "name": info.name})))
}
