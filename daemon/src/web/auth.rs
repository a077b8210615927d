//! The signed-in user: session cookie → `idm.session_user`.
//!
//! As an extractor, [`SignedIn`] refuses requests without a live session: pages redirect to
//! `/login?next=<this page>` (and clear a stale cookie), `/api/` answers 401 JSON.

use axum::extract::FromRequestParts;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use time::OffsetDateTime;

use super::client_ip::Client;
use super::error::WebError;
use super::{WebState, blocking, cookies, redirect};
use crate::idm::{Actor, Session, SessionPeek, SessionToken, User};

/// A request from a signed-in user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub session: Session,
    pub token: SessionToken,
}

impl SignedIn {
    /// The user as the audit log records them, from this client.
    pub fn actor(&self, client: &Client) -> Actor {
        Actor::anonymous(Some(client.ip.to_string()), client.user_agent.clone())
            .as_user(self.user.id, self.user.username.clone())
    }
}

/// The session cookie's token, if the request has a well-formed one.
pub fn session_token(headers: &HeaderMap, state: &WebState) -> Option<SessionToken> {
    cookies::get(headers, state.cookies.session).and_then(SessionToken::from_cookie)
}

/// The signed-in user, if any. `Err` only when the store fails.
pub async fn current(headers: &HeaderMap, state: &WebState) -> Result<Option<SignedIn>, WebError> {
    let Some(token) = session_token(headers, state) else {
        return Ok(None);
    };
    // A quick read (inline on redb); only when `last_seen` is due its refresh (a write, once
    // in five minutes per session) does the lookup go to the blocking pool.
    let idm = state.idm.clone();
    let peeked = token.clone();
    let found = match super::quick_read(state, move || idm.peek_session(&peeked)).await? {
        SessionPeek::None => None,
        SessionPeek::Live(session, user) => Some((session, user)),
        SessionPeek::TouchDue => {
            let idm = state.idm.clone();
            let lookup = token.clone();
            blocking(move || idm.session_user(&lookup)).await?
        }
    };
    Ok(found.map(|(session, user)| SignedIn {
        user,
        session,
        token,
    }))
}

impl FromRequestParts<WebState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        match current(&parts.headers, state).await {
            Ok(Some(signed_in)) => Ok(signed_in),
            Ok(None) => {
                let stale = cookies::get(&parts.headers, state.cookies.session).is_some();
                let mut response = if parts.uri.path().starts_with("/api/") {
                    WebError::unauthorized().into_response()
                } else {
                    let here = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
                    Redirect::to(&redirect::login_with_next(here)).into_response()
                };
                if stale && let Some(clear) = state.cookies.clear_session() {
                    response.headers_mut().append(SET_COOKIE, clear);
                }
                Err(response)
            }
            Err(error) => Err(error.into_response()),
        }
    }
}

/// `Set-Cookie` for a new session, living as long as the server keeps it.
pub fn session_cookie(
    state: &WebState,
    token: &SessionToken,
    session: &Session,
) -> Option<HeaderValue> {
    let now: OffsetDateTime = state.idm.clock().now();
    let seconds = (session.expires_at - now).whole_seconds();
    state.cookies.set_session(token.as_str(), seconds)
}
