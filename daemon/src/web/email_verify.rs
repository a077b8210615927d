//! Confirming an email address (`idm::email_verification`).
//!
//! The mailed link (`GET /email/verify/{token}`) shows a button and consumes
//! nothing: mail scanners fetch links. `POST /email/verify` (CSRF-protected
//! like every form) uses the token: it needs no session, since the link may
//! be opened on another device, and its 256 random bits are the proof.
//! `POST /account/email/verify` mails the signed-in user a new link; it is
//! limited per user (stored, [`VERIFICATION_MAILS_PER_HOUR`]) and per client
//! IP (the budget of mail-sending requests that `POST /login/email` uses).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::auth::SignedIn;
use super::client_ip::Client;
use super::csrf::CsrfToken;
use super::error::WebError;
use super::pages::{self, Chrome, EmailVerifiedPage, EmailVerifyPage};
use super::rate_limit::{Action, Key};
use super::{WebState, blocking};
use crate::idm::{Actor, EmailVerification, VERIFICATION_MAILS_PER_HOUR, VerificationMail};

const TOKEN_MAX: usize = 128;

/// `GET /email/verify/{token}`: the button. Consumes nothing.
pub async fn link_get(
    State(state): State<WebState>,
    csrf: CsrfToken,
    Path(token): Path<String>,
) -> Response {
    let page = EmailVerifyPage {
        chrome: Chrome::new(&state.app_name().await, &csrf),
        token: token.chars().take(TOKEN_MAX).collect(),
    };
    (csrf, pages::render(StatusCode::OK, &page)).into_response()
}

#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    token: String,
}

/// `POST /email/verify`: uses the link's token.
pub async fn verify_post(
    State(state): State<WebState>,
    csrf: CsrfToken,
    client: Client,
    Form(form): Form<VerifyForm>,
) -> Result<Response, WebError> {
    let actor = Actor::anonymous(Some(client.ip.to_string()), client.user_agent.clone());
    let token: String = form.token.chars().take(TOKEN_MAX).collect();
    let idm = state.idm.clone();
    let outcome = blocking(move || idm.verify_email(&actor, &token)).await?;
    match outcome {
        EmailVerification::Verified { username, address } => {
            let page = EmailVerifiedPage {
                chrome: Chrome::new(&state.app_name().await, &csrf),
                username,
                address,
            };
            Ok((csrf, pages::render(StatusCode::OK, &page)).into_response())
        }
        EmailVerification::Unknown => Err(WebError::new(
            StatusCode::GONE,
            "email_verification_unknown",
            "This confirmation link has already been used or is not valid. If your address is \
             still unconfirmed, send a new link from your account page.",
        )),
        EmailVerification::Expired => Err(WebError::new(
            StatusCode::GONE,
            "email_verification_expired",
            "This confirmation link has expired. Send a new one from your account page.",
        )),
        EmailVerification::AddressChanged => Err(WebError::new(
            StatusCode::CONFLICT,
            "email_verification_address_changed",
            "This confirmation link was sent to an address that is no longer the address of the \
             account, so it cannot confirm it. If the account's current address is unconfirmed, \
             send a new link from the account page.",
        )),
    }
}

/// `POST /account/email/verify`: mail the signed-in user a new link.
pub async fn resend_post(
    State(state): State<WebState>,
    signed_in: SignedIn,
    client: Client,
) -> Result<Redirect, WebError> {
    if let Err(retry) = state
        .limiter
        .check(Action::EmailLinkRequest, Key::client(client.ip))
    {
        return Err(WebError::rate_limited(retry.0));
    }
    let actor = signed_in.actor(&client);
    let idm = state.idm.clone();
    let user_id = signed_in.user.id;
    let public_url = state.public_url.clone();
    let outcome =
        blocking(move || idm.send_email_verification(&actor, user_id, &public_url)).await?;
    match outcome {
        VerificationMail::Queued => Ok(Redirect::to("/account?done=verification_sent")),
        VerificationMail::AlreadyVerified => Ok(Redirect::to("/account?done=email_verified")),
        VerificationMail::NotConfigured => {
            Ok(Redirect::to("/account?done=verification_unavailable"))
        }
        VerificationMail::NoAddress => Err(WebError::bad_request(
            "Your account has no email address to confirm. Ask your administrator to add one.",
        )),
        VerificationMail::TooMany { retry_after_secs } => {
            let mut error = WebError::rate_limited(retry_after_secs);
            error.message = format!(
                "{VERIFICATION_MAILS_PER_HOUR} confirmation links were sent in the last hour. \
                 Use the newest one, or try again in {} minutes.",
                retry_after_secs.div_ceil(60)
            );
            Err(error)
        }
    }
}
