//! "Email me a sign-in link" on the alternative sign-in page.
//!
//! `POST /login/email` answers at once with the same page whether or not an
//! account has the address: the lookup, the link and the mail happen on a
//! background task the response never waits for, so neither the content nor
//! the timing tells an account exists. The request sets a random cookie
//! that binds the link to this browser (stored hashed with the link). The
//! mail's link (`GET /login/email/{token}`) shows a Continue button — links
//! are never consumed on GET, mail scanners fetch them — and
//! `POST /login/email/verify` signs in with the link's token or the short
//! code, only with that cookie. Requests are limited per client IP and per
//! address; uses per client IP.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::auth::session_cookie;
use super::client_ip::Client;
use super::csrf::CsrfToken;
use super::device::BrowserDevice;
use super::error::WebError;
use super::pages::{self, Chrome, EmailLinkPage, EmailSentPage};
use super::rate_limit::{Action, Key};
use super::{WebState, blocking, blocking_raw, cookies};
use crate::idm::{
    Actor, EMAIL_LINK_MINUTES, EmailBinding, EmailProof, IdmError, normalize_address,
};

/// What every failed link or code is told.
pub const EMAIL_LINK_FAILED: &str = "This link or code is invalid or has expired, or it was \
    opened in a different browser from the one where you asked for it. Ask for a new link \
    in this browser.";

const INPUT_MAX: usize = 320;

async fn enabled(state: &WebState) -> Result<bool, WebError> {
    let idm = state.idm.clone();
    Ok(blocking(move || idm.email_settings())
        .await?
        .one_time_access)
}

fn turned_off() -> WebError {
    WebError::not_found("Signing in by email is not turned on here.")
}

#[derive(Debug, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    email: String,
}

/// `POST /login/email`: the constant answer; the work goes on in the background.
pub async fn request_post(
    State(state): State<WebState>,
    csrf: CsrfToken,
    client: Client,
    Form(form): Form<RequestForm>,
) -> Result<Response, WebError> {
    if !enabled(&state).await? {
        return Err(turned_off());
    }
    let typed: String = form.email.trim().chars().take(INPUT_MAX).collect();
    let Some(address) = normalize_address(&typed) else {
        return Err(WebError::bad_request(
            "Enter the email address of your account, like name@example.com.",
        ));
    };
    // Both limits apply to every address, known or not: they tell nothing. Every request
    // counts, since each may send mail.
    if let Err(retry) = state
        .limiter
        .check(Action::EmailLinkRequest, Key::client(client.ip))
        .and_then(|()| {
            state
                .limiter
                .check(Action::EmailLinkAddress, Key::name(&address))
        })
    {
        return Err(WebError::rate_limited(retry.0));
    }
    let binding = EmailBinding::generate().map_err(WebError::from)?;
    let actor = Actor::anonymous(Some(client.ip.to_string()), client.user_agent.clone());
    let idm = state.idm.clone();
    let public_url = state.public_url.trim_end_matches('/').to_owned();
    let background = binding.clone();
    // Not awaited: the answer must not depend on what this finds. It starts
    // after a short random pause, once this answer has gone out, so the extra
    // work for a known address (rendering, queueing, the SMTP conversation)
    // does not compete with the answer for the CPU either.
    let pause = std::time::Duration::from_millis(rand::random_range(50..250));
    state.tasks.spawn(async move {
        tokio::time::sleep(pause).await;
        let outcome = tokio::task::spawn_blocking(move || {
            idm.request_email_link(&actor, &address, &background, &public_url)
        })
        .await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("an email sign-in link request failed: {e}"),
            Err(e) => tracing::warn!("an email sign-in link request stopped: {e}"),
        }
    });
    let page = EmailSentPage {
        chrome: Chrome::new(&state.app_name().await, &csrf),
        minutes: EMAIL_LINK_MINUTES,
        error: None,
    };
    let mut response = (csrf, pages::render(StatusCode::OK, &page)).into_response();
    if let Some(cookie) = state
        .cookies
        .set_email_link(binding.as_str(), EMAIL_LINK_MINUTES * 60)
    {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `GET /login/email/{token}`: the Continue button. Consumes nothing.
pub async fn link_get(
    State(state): State<WebState>,
    csrf: CsrfToken,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    if !enabled(&state).await? {
        return Err(turned_off());
    }
    let page = EmailLinkPage {
        chrome: Chrome::new(&state.app_name().await, &csrf),
        token: token.chars().take(INPUT_MAX).collect(),
    };
    Ok((csrf, pages::render(StatusCode::OK, &page)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    token: Option<String>,
    code: Option<String>,
}

/// `POST /login/email/verify`: sign in with the link's token or the code, in
/// the browser that asked; then to the account page to add a passkey.
pub async fn verify_post(
    State(state): State<WebState>,
    csrf: CsrfToken,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<VerifyForm>,
) -> Result<Response, WebError> {
    if !enabled(&state).await? {
        return Err(turned_off());
    }
    // Failed links and codes count per client network (and per link, in idm).
    let attempt = match state
        .limiter
        .begin(Action::EmailLinkUse, Key::client(client.ip))
    {
        Ok(attempt) => attempt,
        Err(retry) => {
            let mut response = sent_page(
                &state,
                csrf,
                StatusCode::TOO_MANY_REQUESTS,
                WebError::rate_limited(retry.0).message,
            )
            .await;
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry.0));
            return Ok(response);
        }
    };
    let proof = match (form.token, form.code) {
        (Some(token), _) if !token.trim().is_empty() => {
            EmailProof::Link(token.chars().take(INPUT_MAX).collect())
        }
        (_, Some(code)) => EmailProof::Code(code.chars().take(INPUT_MAX).collect()),
        _ => EmailProof::Code(String::new()),
    };
    let binding =
        cookies::get(&headers, state.cookies.email_link).and_then(EmailBinding::from_cookie);
    let actor = Actor::anonymous(Some(client.ip.to_string()), client.user_agent.clone());
    let idm = state.idm.clone();
    let device = BrowserDevice::of(&state, &headers);
    let token = device.token();
    let result = blocking_raw(move || {
        idm.sign_in_with_email_link(&actor, binding.as_ref(), &proof, token.as_ref())
    })
    .await?;
    match result {
        Ok((_user, token, session)) => {
            attempt.succeeded();
            let mut response = Redirect::to("/account?done=email_link").into_response();
            if let Some(cookie) = session_cookie(&state, &token, &session) {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            if let Some(clear) = state.cookies.clear_email_link() {
                response.headers_mut().append(SET_COOKIE, clear);
            }
            device.set_cookie(&state, &mut response);
            Ok(response)
        }
        Err(IdmError::SignInFailed { .. }) => Ok(sent_page(
            &state,
            csrf,
            StatusCode::UNAUTHORIZED,
            EMAIL_LINK_FAILED.to_owned(),
        )
        .await),
        Err(other) => Err(WebError::from(other)),
    }
}

async fn sent_page(
    state: &WebState,
    csrf: CsrfToken,
    status: StatusCode,
    error: String,
) -> Response {
    let page = EmailSentPage {
        chrome: Chrome::new(&state.app_name().await, &csrf),
        minutes: EMAIL_LINK_MINUTES,
        error: Some(error),
    };
    (csrf, pages::render(status, &page)).into_response()
}
