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
//!
//! Limits: `login/start` counts every start per client network, and idm keeps at most a few
//! hundred ceremonies per network, so a flood from one network evicts only its own. `login/finish`
//! counts failures per client network, and failed assertions per account when the response
//! names one; a successful sign-in costs nothing.

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{SignedIn, session_cookie};
use super::client_ip::Client;
use super::device::BrowserDevice;
use super::error::WebError;
use super::rate_limit::{Action, Attempt, Key, RateLimiter};
use super::redirect::after_sign_in;
use super::{WebState, blocking, blocking_raw};
use crate::idm::{Actor, CeremonyOwner, DeviceToken, IdmError, Passkeys, SignInFailure};

/// Whose ceremonies these are: the client's network, as the rate limits count it.
fn owner(client: &Client) -> CeremonyOwner {
    CeremonyOwner::new(super::rate_limit::network(client.ip))
}

/// `POST /api/passkey/login/start`
pub async fn login_start(
    State(state): State<WebState>,
    client: Client,
) -> Result<Json<Value>, WebError> {
    let passkeys = state.passkeys()?;
    state
        .limiter
        .check(Action::PasskeyStart, Key::client(client.ip))
        .map_err(|retry| WebError::rate_limited(retry.0))?;
    let owner = owner(&client);
    let (ceremony, options) = blocking(move || passkeys.start_sign_in(owner)).await?;
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
    let passkeys = state.passkeys()?;
    let attempt = state
        .limiter
        .begin(Action::PasskeySignIn, Key::client(client.ip))
        .map_err(|retry| WebError::rate_limited(retry.0))?;
    let actor = Actor::anonymous(Some(client.ip.to_string()), client.user_agent.clone());
    let LoginFinish {
        ceremony,
        credential,
        next,
    } = body;
    let limiter = state.limiter.clone();
    let device = BrowserDevice::of(&state, &headers);
    let browser = device.token();
    let outcome = blocking_raw(move || {
        Ok(finish_sign_in(
            &passkeys,
            &limiter,
            &actor,
            &ceremony,
            credential,
            browser.as_ref(),
        ))
    })
    .await?;
    let (_user, token, session) = outcome.map_err(WebError::from)??;
    attempt.succeeded();
    let mut response = Json(json!({"redirect": after_sign_in(next.as_deref())})).into_response();
    if let Some(cookie) = session_cookie(&state, &token, &session) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    device.set_cookie(&state, &mut response);
    Ok(response)
}

/// Finishes a sign-in within the account's budget: a response that names an account whose
/// budget is spent is refused before it is verified; a failed assertion for it is counted.
fn finish_sign_in(
    passkeys: &Passkeys,
    limiter: &RateLimiter,
    actor: &Actor,
    ceremony: &str,
    credential: Value,
    device: Option<&DeviceToken>,
) -> Result<
    (
        crate::idm::User,
        crate::idm::SessionToken,
        crate::idm::Session,
    ),
    WebError,
> {
    let account: Option<Attempt> = match passkeys.sign_in_account(&credential)? {
        Some(user) => Some(
            limiter
                .begin(Action::PasskeyAccount, Key::Account(user))
                .map_err(|retry| WebError::rate_limited(retry.0))?,
        ),
        None => None,
    };
    let result = passkeys.finish_sign_in(actor, ceremony, credential, device);
    if let Some(account) = account {
        match &result {
            // The account's key refused this response: the account's concern.
            Err(IdmError::SignInFailed {
                reason: SignInFailure::BadAssertion | SignInFailure::CounterRegression,
            }) => account.failed(),
            _ => account.not_counted(),
        }
    }
    Ok(result?)
}

/// `POST /api/passkey/register/start`
pub async fn register_start(
    State(state): State<WebState>,
    signed_in: SignedIn,
    client: Client,
) -> Result<Json<Value>, WebError> {
    let passkeys = state.passkeys()?;
    let user_id = signed_in.user.id;
    let owner = owner(&client);
    let (ceremony, options) = blocking(move || passkeys.start_registration(user_id, owner)).await?;
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
