//! Email (issue 6): new-device notices. Every successful sign-in passes its
//! response through [`remember`], which gives the browser a long-lived random
//! device cookie if it has none and tells idm the user signed in from it;
//! idm queues the notice mail when the browser is new for that user.

use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::response::Response;
use latchkey_protocol::SignInMethod;

use super::client_ip::Client;
use super::{WebState, blocking, cookies};
use crate::idm::{Actor, DeviceToken, User};

/// Notes the sign-in's browser and sets its device cookie on `response`.
/// Never fails the sign-in: problems are logged.
pub async fn remember(
    state: &WebState,
    headers: &HeaderMap,
    client: &Client,
    user: &User,
    method: SignInMethod,
    response: &mut Response,
) {
    let existing = cookies::get(headers, state.cookies.device).and_then(DeviceToken::from_cookie);
    let device = match existing {
        Some(device) => device,
        None => match DeviceToken::generate() {
            Ok(device) => {
                if let Some(cookie) = state.cookies.set_device(device.as_str()) {
                    response.headers_mut().append(SET_COOKIE, cookie);
                }
                device
            }
            Err(e) => {
                tracing::warn!("no device cookie for this sign-in: {e}");
                return;
            }
        },
    };
    let actor = Actor::anonymous(Some(client.ip.to_string()), client.user_agent.clone())
        .as_user(user.id, user.username.clone());
    let idm = state.idm.clone();
    let user = user.clone();
    if let Err(e) = blocking(move || idm.note_sign_in_device(&actor, &user, method, &device)).await
    {
        tracing::warn!("could not note the sign-in's browser: {}", e.message);
    }
}
