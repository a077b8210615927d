//! `/setup/{token}`: creating the first administrator from the link the daemon logs while no
//! admin exists. The form creates an admin, signs them in (method `setup`) and sends them to
//! the account page to add a passkey. The token works once and dies when any admin exists.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_protocol::NewUser;

use super::auth::session_cookie;
use super::client_ip::Client;
use super::csrf::CsrfToken;
use super::device::BrowserDevice;
use super::error::WebError;
use super::pages::{self, Chrome, SetupPage};
use super::person_form::PersonForm;
use super::rate_limit::{Action, Key};
use super::{WebState, blocking, blocking_raw};
use crate::idm::{Actor, IdmError};

fn invalid_link() -> WebError {
    WebError::not_found(
        "This setup link is invalid or has already been used. If no administrator exists yet, \
         restart latchkeyd and use the new link it prints.",
    )
}

/// `GET /setup/{token}`
pub async fn setup_get(
    State(state): State<WebState>,
    csrf: CsrfToken,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let (idm, gate, check) = (state.idm.clone(), state.setup.clone(), token.clone());
    if !blocking(move || gate.check(&idm, &check)).await? {
        return Err(invalid_link());
    }
    let page = SetupPage {
        chrome: Chrome::new(&state.app_name().await, &csrf),
        token,
        username: String::new(),
        email: String::new(),
        first_name: String::new(),
        last_name: String::new(),
        error: None,
    };
    Ok((csrf, pages::render(StatusCode::OK, &page)).into_response())
}

/// `POST /setup/{token}`
pub async fn setup_post(
    State(state): State<WebState>,
    csrf: CsrfToken,
    client: Client,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<PersonForm>,
) -> Result<Response, WebError> {
    // Wrong tokens count per client network; a form error after the right token does not.
    let counted = state
        .limiter
        .begin(Action::Setup, Key::client(client.ip))
        .map_err(|retry| WebError::rate_limited(retry.0))?;
    let email = form.email.trim();
    let new_user = NewUser {
        username: form.username.trim().to_owned(),
        email: (!email.is_empty()).then(|| email.to_owned()),
        first_name: form.first_name.trim().to_owned(),
        last_name: form.last_name.trim().to_owned(),
        display_name: None,
        is_admin: true,
    };
    let actor = Actor::anonymous(Some(client.ip.to_string()), client.user_agent.clone());
    let (idm, gate, attempt) = (state.idm.clone(), state.setup.clone(), token.clone());
    let device = BrowserDevice::of(&state, &headers);
    let browser = device.token();
    let result = blocking_raw(move || {
        gate.create_first_admin(&idm, &actor, &attempt, new_user, browser.as_ref())
    })
    .await?;
    match result {
        Ok((_user, session_token, session)) => {
            counted.succeeded();
            let mut response = Redirect::to("/account?done=welcome").into_response();
            if let Some(cookie) = session_cookie(&state, &session_token, &session) {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            device.set_cookie(&state, &mut response);
            Ok(response)
        }
        Err(error @ (IdmError::Invalid { .. } | IdmError::Conflict { .. })) => {
            counted.not_counted();
            let message = WebError::from(error).message;
            let page = SetupPage {
                chrome: Chrome::new(&state.app_name().await, &csrf),
                token,
                username: form.username,
                email: form.email,
                first_name: form.first_name,
                last_name: form.last_name,
                error: Some(message),
            };
            Ok((csrf, pages::render(StatusCode::BAD_REQUEST, &page)).into_response())
        }
        Err(IdmError::SignInFailed { .. } | IdmError::NotFound { .. }) => Err(invalid_link()),
        Err(other) => Err(WebError::from(other)),
    }
}
