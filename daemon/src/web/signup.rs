//! Self-service signup: `/st/{token}` (setting `signups.mode = token`) and `/signup` (`open`)
//! show the form; posting it creates the account, signs the new user in (session method
//! `signup`) and sends them to `/signup/passkey` to add their first passkey, or skip.
//!
//! The form is checked on the server, field by field, and shown again with a message under each
//! field it refuses. An unknown token is a 404, an expired, revoked or used-up one a 410 and the
//! wrong mode a 403, each with a page saying so. Posts are limited per client IP (every attempt
//! counts, so the "username taken" answer cannot be used to list accounts quickly). A token is
//! never used up by a GET: only a successful post counts, in the transaction that makes the
//! account.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::auth::{SignedIn, session_cookie};
use super::client_ip::Client;
use super::csrf::CsrfToken;
use super::device::BrowserDevice;
use super::error::WebError;
use super::pages::{self, Chrome, SignupPage, SignupPasskeyPage};
use super::person_form::PersonForm;
use super::rate_limit::{Action, Key};
use super::{WebState, blocking};
use crate::idm::{Actor, FieldError, SignupForm, SignupOutcome, SignupRefusal, SignupVia};

/// Longest field value echoed back into the form.
const ECHO_MAX: usize = 256;

/// The page for a refused signup: why, and what to do.
pub fn refusal(refusal: SignupRefusal, via_token: bool) -> WebError {
    match refusal {
        SignupRefusal::WrongMode if via_token => WebError::new(
            StatusCode::FORBIDDEN,
            "signup_closed",
            "Signing up with a link is turned off on this server. Ask an administrator for an \
             account.",
        ),
        SignupRefusal::WrongMode => WebError::new(
            StatusCode::FORBIDDEN,
            "signup_closed",
            "Signing up is not open on this server. Ask an administrator for an account or a \
             signup link.",
        ),
        SignupRefusal::UnknownToken => WebError::new(
            StatusCode::NOT_FOUND,
            "signup_link_unknown",
            "This signup link is not valid. Check that you copied all of it, or ask for a new one.",
        ),
        SignupRefusal::Expired => WebError::new(
            StatusCode::GONE,
            "signup_link_expired",
            "This signup link has expired. Ask the person who sent it for a new one.",
        ),
        SignupRefusal::Revoked => WebError::new(
            StatusCode::GONE,
            "signup_link_revoked",
            "This signup link was withdrawn by an administrator. Ask for a new one.",
        ),
        SignupRefusal::UsedUp => WebError::new(
            StatusCode::GONE,
            "signup_link_used_up",
            "This signup link has already been used as many times as it allows. Ask for a new one.",
        ),
    }
}

fn clip(value: &str) -> String {
    value.chars().take(ECHO_MAX).collect()
}

fn action_of(via: &Via) -> String {
    match via {
        Via::Token(token) => format!("/st/{token}"),
        Via::Open => "/signup".to_owned(),
    }
}

/// An owned [`SignupVia`], to move into blocking tasks.
#[derive(Debug, Clone)]
enum Via {
    Token(String),
    Open,
}

impl Via {
    fn borrow(&self) -> SignupVia<'_> {
        match self {
            Via::Token(token) => SignupVia::Token(token),
            Via::Open => SignupVia::Open,
        }
    }
}

/// What the form shows besides its values.
struct Shown<'a> {
    via: &'a Via,
    require_email: bool,
    errors: &'a [FieldError],
    error: Option<String>,
}

async fn form_page(
    state: &WebState,
    csrf: CsrfToken,
    status: StatusCode,
    shown: Shown<'_>,
    fields: &PersonForm,
) -> Response {
    let Shown {
        via,
        require_email,
        errors,
        error,
    } = shown;
    let message = |field: &str| {
        errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
    };
    let page = SignupPage {
        chrome: Chrome::new(&state.app_name().await, &csrf),
        action: action_of(via),
        require_email,
        username: clip(&fields.username),
        email: clip(&fields.email),
        first_name: clip(&fields.first_name),
        last_name: clip(&fields.last_name),
        error,
        username_error: message("username"),
        email_error: message("email"),
        first_name_error: message("first_name"),
        last_name_error: message("last_name"),
    };
    (csrf, pages::render(status, &page)).into_response()
}

async fn show(state: WebState, csrf: CsrfToken, via: Via) -> Result<Response, WebError> {
    let (idm, check) = (state.idm.clone(), via.clone());
    let admitted = blocking(move || idm.check_signup(check.borrow())).await?;
    match admitted {
        Ok(settings) => {
            let shown = Shown {
                via: &via,
                require_email: settings.require_email,
                errors: &[],
                error: None,
            };
            Ok(form_page(&state, csrf, StatusCode::OK, shown, &PersonForm::default()).await)
        }
        Err(why) => Err(refusal(why, matches!(via, Via::Token(_)))),
    }
}

async fn submit(
    state: WebState,
    csrf: CsrfToken,
    client: Client,
    device: BrowserDevice,
    via: Via,
    fields: PersonForm,
) -> Result<Response, WebError> {
    // Open signup counts every attempt: each success makes an account, and a refused form says
    // whether a username is taken. A token signup counts refused tokens only: the token's own
    // use limit bounds the accounts, and colleagues behind one address share it.
    let key = Key::client(client.ip);
    let counted = match via {
        Via::Open => {
            state
                .limiter
                .check(Action::SignupOpen, key)
                .map_err(|retry| WebError::rate_limited(retry.0))?;
            None
        }
        Via::Token(_) => Some(
            state
                .limiter
                .begin(Action::SignupToken, key)
                .map_err(|retry| WebError::rate_limited(retry.0))?,
        ),
    };
    let actor = Actor::anonymous(Some(client.ip.to_string()), client.user_agent.clone());
    let form = SignupForm {
        username: fields.username.clone(),
        email: fields.email.clone(),
        first_name: fields.first_name.clone(),
        last_name: fields.last_name.clone(),
    };
    let (idm, attempt) = (state.idm.clone(), via.clone());
    let public_url = state.public_url.clone();
    let browser = device.token();
    let outcome = blocking(move || {
        let outcome = idm.sign_up(
            &actor,
            attempt.borrow(),
            &form,
            &public_url,
            browser.as_ref(),
        )?;
        // The form is shown again with the settings as they are now.
        let require_email = idm.signup_settings()?.require_email;
        Ok((outcome, require_email))
    })
    .await?;
    if let (Some(counted), SignupOutcome::Created { .. } | SignupOutcome::Invalid(_)) =
        (counted, &outcome.0)
    {
        counted.not_counted();
    }
    match outcome {
        (SignupOutcome::Created { token, session, .. }, _) => {
            let mut response = Redirect::to("/signup/passkey").into_response();
            if let Some(cookie) = session_cookie(&state, &token, &session) {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            device.set_cookie(&state, &mut response);
            Ok(response)
        }
        (SignupOutcome::Invalid(errors), require_email) => {
            let shown = Shown {
                via: &via,
                require_email,
                errors: &errors,
                error: Some("Please correct the fields marked below.".to_owned()),
            };
            Ok(form_page(&state, csrf, StatusCode::BAD_REQUEST, shown, &fields).await)
        }
        (SignupOutcome::Refused(why), _) => Err(refusal(why, matches!(via, Via::Token(_)))),
    }
}

/// `GET /signup`
pub async fn open_get(
    State(state): State<WebState>,
    csrf: CsrfToken,
) -> Result<Response, WebError> {
    show(state, csrf, Via::Open).await
}

/// `POST /signup`
pub async fn open_post(
    State(state): State<WebState>,
    csrf: CsrfToken,
    client: Client,
    headers: HeaderMap,
    Form(fields): Form<PersonForm>,
) -> Result<Response, WebError> {
    let device = BrowserDevice::of(&state, &headers);
    submit(state, csrf, client, device, Via::Open, fields).await
}

/// `GET /st/{token}`: the form; never uses the token up.
pub async fn token_get(
    State(state): State<WebState>,
    csrf: CsrfToken,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    show(state, csrf, Via::Token(clip(&token))).await
}

/// `POST /st/{token}`
pub async fn token_post(
    State(state): State<WebState>,
    csrf: CsrfToken,
    client: Client,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(fields): Form<PersonForm>,
) -> Result<Response, WebError> {
    let device = BrowserDevice::of(&state, &headers);
    submit(
        state,
        csrf,
        client,
        device,
        Via::Token(clip(&token)),
        fields,
    )
    .await
}

/// `GET /signup/passkey`: add the first passkey, or skip to the account page.
pub async fn passkey_get(
    State(state): State<WebState>,
    signed_in: SignedIn,
    csrf: CsrfToken,
) -> Response {
    let page = SignupPasskeyPage {
        chrome: Chrome::new(&state.app_name().await, &csrf),
        display_name: signed_in.user.display_name.clone(),
        username: signed_in.user.username.clone(),
    };
    (csrf, pages::render(StatusCode::OK, &page)).into_response()
}
