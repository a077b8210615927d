//! Signing in without a session: `/`, `/login`, `/login/alternative`, and login codes at
//! `/lc`.
//!
//! A login code is never consumed on GET (mail scanners and link previews fetch links):
//! `GET /lc/{code}` shows the form filled in, and only `POST /lc` signs in. Wrong, expired and
//! used codes all get the same message; the audit log records which it was. Failed codes are
//! limited per client network (`rate_limit`): a valid code costs nothing, and a network whose
//! budget is spent cannot try again, not even with a valid code, until a cell refills.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::auth::{current, session_cookie};
use super::client_ip::Client;
use super::csrf::CsrfToken;
use super::device::BrowserDevice;
use super::error::WebError;
use super::pages::{self, AlternativePage, Chrome, LoginCodePage, LoginPage};
use super::rate_limit::{Action, Key};
use super::redirect::{after_sign_in, next_param, page_with_next};
use super::{WebState, blocking_raw};
use crate::idm::{Actor, IdmError};

/// What every failed code attempt is told.
pub const CODE_FAILED: &str = "This code is invalid or has expired.";

/// Longest code input echoed back into the form.
const CODE_INPUT_MAX: usize = 64;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    done: Option<String>,
    /// An app's `login_hint`, passed on by `/authorize`: the account to suggest.
    login_hint: Option<String>,
}

/// The longest `login_hint` put in the username field, in characters.
const LOGIN_HINT_MAX: usize = 256;

/// `GET /`: to the account page when signed in, else to sign-in.
pub async fn root_get(
    State(state): State<WebState>,
    headers: HeaderMap,
) -> Result<Redirect, WebError> {
    Ok(match current(&headers, &state).await? {
        Some(_) => Redirect::to("/account"),
        None => Redirect::to("/login"),
    })
}

/// `GET /login`
pub async fn login_get(
    State(state): State<WebState>,
    csrf: CsrfToken,
    Query(query): Query<LoginQuery>,
) -> Response {
    let notice = match query.done.as_deref() {
        Some("signed_out") => Some("You have signed out."),
        Some("signed_out_all") => Some("You have signed out of all your sessions."),
        _ => None,
    };
    // A hint is a suggestion to show, never trusted: printable, bounded.
    let login_hint: String = query
        .login_hint
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(LOGIN_HINT_MAX)
        .collect();
    let page = |chrome, next, alternative_href| LoginPage {
        chrome,
        next,
        alternative_href,
        notice,
        login_hint,
    };
    sign_in_page(&state, csrf, &query, "/login/alternative", page).await
}

/// `GET /login/alternative`
pub async fn alternative_get(
    State(state): State<WebState>,
    csrf: CsrfToken,
    Query(query): Query<LoginQuery>,
) -> Response {
    let idm = state.idm.clone();
    let email_link = super::blocking(move || idm.email_settings())
        .await
        .is_ok_and(|email| email.one_time_access);
    let page = |chrome, next, login_href| AlternativePage {
        chrome,
        next,
        login_href,
        email_link,
    };
    sign_in_page(&state, csrf, &query, "/login", page).await
}

/// A page that signs in one way and links to the other (`other`): `page` gets the chrome,
/// the safe `next` and the link to `other`, which keeps `next`.
async fn sign_in_page<P: Template>(
    state: &WebState,
    csrf: CsrfToken,
    query: &LoginQuery,
    other: &str,
    page: impl FnOnce(Chrome, String, String) -> P,
) -> Response {
    let next = next_param(query.next.as_deref());
    let other_href = page_with_next(other, &next);
    let page = page(
        Chrome::new(&state.app_name().await, &csrf),
        next,
        other_href,
    );
    (csrf, pages::render(StatusCode::OK, &page)).into_response()
}

/// `GET /lc`: the empty form.
pub async fn lc_get(
    State(state): State<WebState>,
    csrf: CsrfToken,
    Query(query): Query<LoginQuery>,
) -> Response {
    let next = next_param(query.next.as_deref());
    code_form(&state, csrf, StatusCode::OK, String::new(), next, None).await
}

/// `GET /lc/{code}`: the form, filled in. Does not consume the code.
pub async fn lc_code_get(
    State(state): State<WebState>,
    csrf: CsrfToken,
    Path(code): Path<String>,
) -> Response {
    let code = bounded(&code);
    code_form(&state, csrf, StatusCode::OK, code, String::new(), None).await
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    next: Option<String>,
}

/// `POST /lc`: consume the code, start a session, go to the account page (or `next`).
pub async fn lc_post(
    State(state): State<WebState>,
    csrf: CsrfToken,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let next = next_param(form.next.as_deref());
    let code = bounded(&form.code);
    let attempt = match state
        .limiter
        .begin(Action::LoginCode, Key::client(client.ip))
    {
        Ok(attempt) => attempt,
        Err(retry) => return refused(&state, csrf, code, next, retry.0).await,
    };
    let actor = Actor::anonymous(Some(client.ip.to_string()), client.user_agent.clone());
    let idm = state.idm.clone();
    let submitted = form.code.clone();
    let device = BrowserDevice::of(&state, &headers);
    let token = device.token();
    let result =
        blocking_raw(move || idm.sign_in_with_login_code(&actor, &submitted, token.as_ref())).await;
    match result {
        Ok(Ok((_user, token, session))) => {
            attempt.succeeded();
            let mut response = Redirect::to(&after_sign_in(Some(&next))).into_response();
            if let Some(cookie) = session_cookie(&state, &token, &session) {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            device.set_cookie(&state, &mut response);
            response
        }
        // Every other outcome keeps the attempt's cell spent.
        Ok(Err(error @ (IdmError::SignInFailed { .. } | IdmError::Invalid { .. }))) => {
            let status = match error {
                IdmError::Invalid { .. } => StatusCode::BAD_REQUEST,
                _ => StatusCode::UNAUTHORIZED,
            };
            code_form(
                &state,
                csrf,
                status,
                code,
                next,
                Some(CODE_FAILED.to_owned()),
            )
            .await
        }
        Ok(Err(other)) => WebError::from(other).into_response(),
        Err(error) => error.into_response(),
    }
}

/// The form again with a 429 and `Retry-After`.
async fn refused(
    state: &WebState,
    csrf: CsrfToken,
    code: String,
    next: String,
    retry_after: u64,
) -> Response {
    let error = WebError::rate_limited(retry_after);
    let mut response = code_form(
        state,
        csrf,
        StatusCode::TOO_MANY_REQUESTS,
        code,
        next,
        Some(error.message),
    )
    .await;
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

async fn code_form(
    state: &WebState,
    csrf: CsrfToken,
    status: StatusCode,
    code: String,
    next: String,
    error: Option<String>,
) -> Response {
    // Signing in on the way to an app ends in a redirect to the app: allow it.
    let form_action = state
        .oidc
        .as_ref()
        .and_then(|oidc| super::oidc::form_action_for_next(oidc, &next));
    let page = LoginCodePage {
        chrome: Chrome::new(&state.app_name().await, &csrf),
        code,
        next,
        error,
    };
    let mut response = (csrf, pages::render(status, &page)).into_response();
    if let Some(origin) = form_action {
        response
            .extensions_mut()
            .insert(super::headers::FormActionOrigin(origin));
    }
    response
}

/// The input trimmed to a length worth echoing back.
fn bounded(code: &str) -> String {
    code.trim().chars().take(CODE_INPUT_MAX).collect()
}
