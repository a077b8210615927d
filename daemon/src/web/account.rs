//! The account page and what it posts: passkey rename and delete, sign out, sign out
//! everywhere.
//!
//! After a change the handler redirects (303) to `/account?done=<what>`, and the page shows a
//! fixed message for that word, so nothing from the URL is echoed into the page.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::auth::{SignedIn, current};
use super::client_ip::Client;
use super::csrf::CsrfToken;
use super::error::WebError;
use super::pages::{self, AccountPage, AppRow, Chrome, PasskeyDeletePage, PasskeyRow};
use super::{WebState, blocking};
use crate::idm::PasskeyInfo;

#[derive(Debug, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "added" => Some("Passkey added. You can now sign in with it."),
        "renamed" => Some("Passkey renamed."),
        "removed" => Some("Passkey removed."),
        "welcome" => Some("Your administrator account is ready. Add a passkey to it now."),
        "app_revoked" => Some("Access removed. The app will have to ask you again."),
        "verification_sent" => {
            Some("We sent a confirmation link to your email address. Open it within 24 hours.")
        }
        "verification_unavailable" => Some(
            "This server cannot send email yet, so your address cannot be confirmed now. Ask \
             your administrator to set up email.",
        ),
        "email_verified" => Some("Your email address is confirmed."),
        "email_link" => Some(
            "You signed in with a link from your email. Add a passkey now, so you do not need \
             email next time.",
        ),
        _ => None,
    }
}

async fn passkeys_of(state: &WebState, signed_in: &SignedIn) -> Result<Vec<PasskeyInfo>, WebError> {
    let idm = state.idm.clone();
    let user_ref = signed_in.user.id.to_string();
    blocking(move || idm.list_passkeys(&user_ref)).await
}

/// `GET /account`
pub async fn account_get(
    State(state): State<WebState>,
    signed_in: SignedIn,
    csrf: CsrfToken,
    Query(query): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let passkeys = passkeys_of(&state, &signed_in).await?;
    let apps = match state.oidc.clone() {
        Some(oidc) => {
            let user_ref = signed_in.user.id.to_string();
            blocking(move || oidc.list_authorizations(&user_ref)).await?
        }
        None => Vec::new(),
    };
    let user = &signed_in.user;
    let full_name = format!("{} {}", user.first_name, user.last_name)
        .trim()
        .to_owned();
    let page = AccountPage {
        chrome: Chrome::new(&state.app_name().await, &csrf).wide(),
        display_name: user.display_name.clone(),
        username: user.username.clone(),
        email: user.email.clone(),
        email_verified: user.email_verified,
        full_name: if full_name.is_empty() {
            "—".to_owned()
        } else {
            full_name
        },
        is_admin: user.is_admin,
        session_expires: pages::format_time(signed_in.session.expires_at),
        passkeys: passkeys
            .into_iter()
            .map(|p| PasskeyRow {
                id: p.id,
                name: p.name,
                created: pages::format_time(p.created_at),
                last_used: p
                    .last_used_at
                    .map_or_else(|| "never".to_owned(), pages::format_time),
                synced: p.synced,
            })
            .collect(),
        notice: notice(query.done.as_deref()),
        apps: apps
            .into_iter()
            .map(|a| AppRow {
                id: super::redirect::percent_encode(&a.client_id),
                name: a.client_name,
                scopes: a.scopes.join(", "),
                granted: pages::format_time(a.granted_at),
            })
            .collect(),
    };
    Ok((csrf, pages::render(StatusCode::OK, &page)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    name: String,
}

/// `POST /account/passkeys/{id}/rename`
pub async fn passkey_rename_post(
    State(state): State<WebState>,
    signed_in: SignedIn,
    client: Client,
    Path(id): Path<String>,
    Form(form): Form<RenameForm>,
) -> Result<Redirect, WebError> {
    let actor = signed_in.actor(&client);
    let idm = state.idm.clone();
    let user_id = signed_in.user.id;
    let name = form.name.trim().to_owned();
    blocking(move || idm.rename_passkey(&actor, user_id, &id, &name)).await?;
    Ok(Redirect::to("/account?done=renamed"))
}

/// `GET /account/passkeys/{id}/delete`: the confirm step, warning before the last one.
pub async fn passkey_delete_get(
    State(state): State<WebState>,
    signed_in: SignedIn,
    csrf: CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let passkeys = passkeys_of(&state, &signed_in).await?;
    let is_last = passkeys.len() == 1;
    let Some(passkey) = passkeys.into_iter().find(|p| p.id == id) else {
        return Err(WebError::not_found("You have no passkey with that id."));
    };
    let page = PasskeyDeletePage {
        chrome: Chrome::new(&state.app_name().await, &csrf),
        id: passkey.id,
        name: passkey.name,
        is_last,
    };
    Ok((csrf, pages::render(StatusCode::OK, &page)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    confirm: Option<String>,
}

/// `POST /account/passkeys/{id}/delete`: only with `confirm=yes` (from the confirm page);
/// otherwise back to the confirm page.
pub async fn passkey_delete_post(
    State(state): State<WebState>,
    signed_in: SignedIn,
    client: Client,
    Path(id): Path<String>,
    Form(form): Form<DeleteForm>,
) -> Result<Redirect, WebError> {
    if form.confirm.as_deref() != Some("yes") {
        let id = super::redirect::percent_encode(&id);
        return Ok(Redirect::to(&format!("/account/passkeys/{id}/delete")));
    }
    let actor = signed_in.actor(&client);
    let idm = state.idm.clone();
    let user_ref = signed_in.user.id.to_string();
    blocking(move || idm.remove_passkey(&actor, &user_ref, &id)).await?;
    Ok(Redirect::to("/account?done=removed"))
}

/// `POST /logout`: ends this session (if it is still live) and forgets the cookie.
pub async fn logout_post(
    State(state): State<WebState>,
    client: Client,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    if let Some(signed_in) = current(&headers, &state).await? {
        let actor = signed_in.actor(&client);
        let idm = state.idm.clone();
        blocking(move || idm.end_session(&actor, &signed_in.token)).await?;
    }
    Ok(signed_out(&state, "/login?done=signed_out"))
}

/// `POST /logout/all`: ends every session of this user.
pub async fn logout_all_post(
    State(state): State<WebState>,
    signed_in: SignedIn,
    client: Client,
) -> Result<Response, WebError> {
    let actor = signed_in.actor(&client);
    let idm = state.idm.clone();
    let user_id = signed_in.user.id;
    blocking(move || idm.end_all_sessions(&actor, user_id)).await?;
    Ok(signed_out(&state, "/login?done=signed_out_all"))
}

fn signed_out(state: &WebState, to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    if let Some(clear) = state.cookies.clear_session() {
        response.headers_mut().append(SET_COOKIE, clear);
    }
    response
}

/// `POST /account/apps/{client_id}/revoke`: forget the consent and end the app's tokens.
pub async fn app_revoke_post(
    State(state): State<WebState>,
    signed_in: SignedIn,
    client: Client,
    Path(client_id): Path<String>,
) -> Result<Redirect, WebError> {
    let oidc = state.oidc()?;
    let actor = signed_in.actor(&client);
    let user_ref = signed_in.user.id.to_string();
    blocking(move || oidc.revoke_authorization(&actor, &user_ref, &client_id)).await?;
    Ok(Redirect::to("/account?done=app_revoked"))
}
