//! `GET|POST /end-session` (RP-initiated logout) and its confirmation.
//!
//! An `id_token_hint` that is not an ID token of this issuer is refused with an error page.
//! With a valid `id_token_hint` for the browser's user (or with no browser session at all),
//! the session is signed out and that client's grants made in it are revoked at once, then
//! the browser goes to `post_logout_redirect_uri` (with `state`) if it is registered for the
//! client, else to the sign-in page. Without a valid hint, a signed-in user is asked first
//! ("Sign out of <app>?", a CSRF-protected form). An unregistered
//! `post_logout_redirect_uri` is an error page, never a redirect. `POST /end-session` is
//! answered with a 303 to the same request as a GET (the session cookie is `SameSite=Lax`).

use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::super::auth::{SignedIn, current};
use super::super::client_ip::Client as Peer;
use super::super::csrf::CsrfToken;
use super::super::error::WebError;
use super::super::headers::FormActionOrigin;
use super::super::pages::{self, Chrome};
use super::super::{WebState, blocking};
use super::{OidcQuery, encode_pairs, origin_of, pairs};
use crate::idm::oidc::Client;
use crate::idm::oidc::authorize::single;
use crate::idm::oidc::end_session::LogoutHint;
use crate::idm::{Oidc, UserId};

#[derive(Template, Debug)]
#[template(path = "oidc/end_session.html")]
pub struct EndSessionPage {
    pub chrome: Chrome,
    pub username: String,
    pub client_name: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
}

fn bad(message: &str) -> WebError {
    WebError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
}

/// Where to send the browser afterwards: the registered URI with `state`, or the sign-in page.
fn destination(redirect_uri: Option<&str>, state: Option<&str>) -> String {
    match redirect_uri {
        Some(uri) => match state {
            Some(state) => {
                let sep = if uri.contains('?') { '&' } else { '?' };
                let encoded = encode_pairs(&[("state".to_owned(), state.to_owned())]);
                format!("{uri}{sep}{encoded}")
            }
            None => uri.to_owned(),
        },
        None => "/login?done=signed_out".to_owned(),
    }
}

/// Signs the browser out (if `signed_in`) and revokes the session's grants for `client`.
async fn sign_out(
    state: &WebState,
    oidc: &Oidc,
    peer: &Peer,
    signed_in: Option<SignedIn>,
    extra_session: Option<(UserId, String)>,
    client: Option<Client>,
    to: String,
) -> Result<Response, WebError> {
    let mut sessions: Vec<(UserId, String)> = Vec::new();
    if let Some(s) = &signed_in {
        sessions.push((s.user.id, s.session.public_id.clone()));
    }
    if let Some(extra) = extra_session
        && !sessions.contains(&extra)
    {
        sessions.push(extra);
    }
    let oidc2 = oidc.clone();
    blocking(move || {
        for (user, sid) in &sessions {
            oidc2.revoke_session_grants(*user, sid, client.as_ref())?;
        }
        Ok(())
    })
    .await?;
    let mut response = Redirect::to(&to).into_response();
    if let Some(s) = signed_in {
        let actor = s.actor(peer);
        let idm = state.idm.clone();
        blocking(move || idm.end_session(&actor, &s.token)).await?;
        if let Some(clear) = state.cookies.clear_session() {
            response.headers_mut().append(SET_COOKIE, clear);
        }
    }
    if let Some(origin) = origin_of(&to) {
        response.extensions_mut().insert(FormActionOrigin(origin));
    }
    Ok(response)
}

/// `GET /end-session`
pub async fn end_session_get(
    State(state): State<WebState>,
    csrf: CsrfToken,
    peer: Peer,
    headers: HeaderMap,
    OidcQuery { oidc, params }: OidcQuery,
) -> Result<Response, WebError> {
    let param = |name: &str| {
        single(&params, name)
            .map(|v| v.map(str::to_owned))
            .map_err(|e| bad(&e))
    };
    let hint_text = param("id_token_hint")?;
    let client_id = param("client_id")?;
    let redirect_uri = param("post_logout_redirect_uri")?;
    let logout_state = param("state")?;
    let hint: Option<LogoutHint> = match hint_text {
        Some(text) => {
            let oidc2 = oidc.clone();
            let hint = blocking(move || oidc2.logout_hint(&text)).await?;
            if hint.is_none() {
                return Err(bad(
                    "The sign-out request carries an id_token_hint that is not an ID token \
                     issued by this server for a registered application.",
                ));
            }
            hint
        }
        None => None,
    };
    if let (Some(hint), Some(id)) = (&hint, &client_id)
        && hint.client.client_id != *id
    {
        return Err(bad("client_id does not match the id_token_hint."));
    }
    let client = match (&hint, &client_id) {
        (Some(hint), _) => Some(hint.client.clone()),
        (None, Some(id)) => {
            let (oidc2, id) = (oidc.clone(), id.clone());
            blocking(move || oidc2.client(&id)).await?
        }
        (None, None) => None,
    };
    if let Some(uri) = &redirect_uri {
        let registered = client.as_ref().is_some_and(|c| c.logout_uri_allowed(uri));
        if !registered {
            return Err(bad(
                "The application asked to return to an address that is not registered for \
                 it after signing out (post_logout_redirect_uri).",
            ));
        }
    }
    let to = destination(redirect_uri.as_deref(), logout_state.as_deref());
    let signed_in = current(&headers, &state).await?;
    match (hint, signed_in) {
        (Some(hint), signed_in) if signed_in.as_ref().is_none_or(|s| s.user.id == hint.user_id) => {
            let extra = hint.sid.clone().map(|sid| (hint.user_id, sid));
            sign_out(&state, &oidc, &peer, signed_in, extra, client, to).await
        }
        (_, None) => Ok(Redirect::to(&to).into_response()),
        (_, Some(signed_in)) => {
            let page = EndSessionPage {
                chrome: Chrome::new(&state.app_name().await, &csrf),
                username: signed_in.user.username.clone(),
                client_name: client.as_ref().map(|c| c.name.clone()),
                client_id: client.as_ref().map(|c| c.client_id.clone()),
                redirect_uri: redirect_uri.clone(),
                state: logout_state,
            };
            let mut response = (csrf, pages::render(StatusCode::OK, &page)).into_response();
            if let Some(origin) = redirect_uri.as_deref().and_then(origin_of) {
                response.extensions_mut().insert(FormActionOrigin(origin));
            }
            Ok(response)
        }
    }
}

/// `POST /end-session`: the same request as a GET.
pub async fn end_session_post(body: Bytes) -> Response {
    let params = pairs(&body);
    Redirect::to(&format!("/end-session?{}", encode_pairs(&params))).into_response()
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// `POST /end-session/confirm` (CSRF-protected): sign out, revoke this session's grants (for
/// the named client, or every client), and go on.
pub async fn confirm_post(
    State(state): State<WebState>,
    peer: Peer,
    headers: HeaderMap,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, WebError> {
    let oidc = state.oidc()?;
    let client = match form.client_id.filter(|c| !c.is_empty()) {
        Some(id) => {
            let oidc2 = oidc.clone();
            blocking(move || oidc2.client(&id)).await?
        }
        None => None,
    };
    let redirect_uri = form
        .post_logout_redirect_uri
        .filter(|u| client.as_ref().is_some_and(|c| c.logout_uri_allowed(u)));
    let to = destination(
        redirect_uri.as_deref(),
        form.state.as_deref().filter(|s| !s.is_empty()),
    );
    let signed_in = current(&headers, &state).await?;
    sign_out(&state, &oidc, &peer, signed_in, None, client, to).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_carry_state() {
        assert_eq!(
            destination(Some("https://rp.example/bye"), Some("a b")),
            "https://rp.example/bye?state=a+b"
        );
        assert_eq!(
            destination(Some("https://rp.example/bye?x=1"), None),
            "https://rp.example/bye?x=1"
        );
        assert_eq!(destination(None, Some("s")), "/login?done=signed_out");
    }
}
