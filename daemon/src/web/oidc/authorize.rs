//! `GET|POST /authorize` and the consent form.
//!
//! `POST /authorize` (a relying party's form) is answered with a 303 to the same request as a
//! GET: a cross-site POST carries no `SameSite=Lax` session cookie, the GET does, and so
//! everything is handled in one place. A user who must sign in goes to
//! `/login?next=/authorize?…` and comes back; the request is rebuilt from its parameters
//! (`prompt=login`, `select_account` and `max_age` dropped, being satisfied by that sign-in).
//! The consent form carries the whole request (re-validated on POST) and is CSRF-protected.

use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::super::auth::{SignedIn, current, session_token};
use super::super::client_ip::Client as Peer;
use super::super::csrf::CsrfToken;
use super::super::error::WebError;
use super::super::headers::FormActionOrigin;
use super::super::pages::{self, Chrome};
use super::super::redirect::{login_with_next, percent_encode};
use super::super::{WebState, blocking, quick_read};
use super::{OidcQuery, encode_pairs, origin_of, pairs};
use crate::idm::oidc::ConsentGiven;
use crate::idm::oidc::authorize::{
    AuthorizationResponse, AuthorizeError, AuthorizeRequest, Decision, PreparedCode, Refusal,
    check, decide, params_after_sign_in, single,
};
use crate::idm::oidc::error::{OAuthError, OAuthErrorCode};
use crate::idm::oidc::par::PushedRequest;
use crate::idm::{IdmError, Oidc, SessionPeek, SessionToken, Snapshot};

#[derive(Template, Debug)]
#[template(path = "oidc/consent.html")]
pub struct ConsentPage {
    pub chrome: Chrome,
    pub client_name: String,
    pub username: String,
    pub scopes: Vec<&'static str>,
    /// The authorization request, form-encoded.
    pub request: String,
}

#[derive(Template, Debug)]
#[template(path = "oidc/form_post.html")]
pub struct FormPostPage {
    pub chrome: Chrome,
    pub client_name: String,
    pub action: String,
    pub fields: Vec<(String, String)>,
}

#[derive(Template, Debug)]
#[template(path = "oidc/denied.html")]
pub struct DeniedPage {
    pub chrome: Chrome,
    pub client_name: String,
    pub username: String,
}

/// The response to the client: a redirect, or the auto-submitting form (whose page may post
/// to the client's origin).
pub async fn deliver(
    state: &WebState,
    client_name: &str,
    response: AuthorizationResponse,
) -> Response {
    match response {
        AuthorizationResponse::Redirect(url) => Redirect::to(&url).into_response(),
        AuthorizationResponse::FormPost { action, fields } => {
            let origin = origin_of(&action);
            let page = FormPostPage {
                chrome: Chrome::bare(&state.app_name().await),
                client_name: client_name.to_owned(),
                action,
                fields,
            };
            let mut response = pages::render(StatusCode::OK, &page);
            if let Some(origin) = origin {
                response.extensions_mut().insert(FormActionOrigin(origin));
            }
            response
        }
    }
}

fn page_error(message: impl Into<String>) -> WebError {
    WebError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
}

/// Looks the client up in `snapshot` and validates the request (`pushed`: the pushed
/// request its parameters came from).
fn lookup_and_validate(
    oidc: &Oidc,
    snapshot: &Snapshot,
    params: &[(String, String)],
    pushed: Option<&PushedRequest>,
) -> Result<Result<AuthorizeRequest, AuthorizeError>, IdmError> {
    let client = match single(params, "client_id") {
        Ok(Some(id)) => oidc.client_in(snapshot, id)?,
        _ => None,
    };
    Ok(match check(params, client, pushed.is_some()) {
        Ok(mut request) => {
            request.pushed = pushed.cloned();
            Ok(request)
        }
        Err(Refusal::Page(message)) => Err(AuthorizeError::Page(message)),
        Err(Refusal::Back(target, error)) => Err(AuthorizeError::Redirect(
            target.error(oidc.issuer(), &error),
        )),
    })
}

/// A request's parameters at `/authorize` (`front`, as the browser brought them) and, for a
/// `request_uri`, the pushed request's, which stand in for them.
struct Parameters {
    front: Vec<(String, String)>,
    pushed: Option<(Vec<(String, String)>, PushedRequest)>,
}

impl Parameters {
    fn of(oidc: &Oidc, front: Vec<(String, String)>) -> Result<Parameters, WebError> {
        let pushed = match oidc.unpushed(&front).map_err(page_error)? {
            (params, Some(request)) => Some((params.into_owned(), request)),
            (_, None) => None,
        };
        Ok(Parameters { front, pushed })
    }

    /// The parameters the request stands for.
    fn effective(&self) -> &[(String, String)] {
        self.pushed
            .as_ref()
            .map_or(&self.front, |(params, _)| params)
    }

    fn pushed(&self) -> Option<&PushedRequest> {
        self.pushed.as_ref().map(|(_, request)| request)
    }
}

/// What `GET /authorize` found. Its reads (the client, the group rule, the consent, the
/// grant epoch) take microseconds each on redb and run inline there, all in one go
/// (`quick_read`): a trip to the blocking pool per step cost more than the steps (measured
/// with `scripts/bench-oidc`'s code flow). The code's
/// audit event, its one write, is recorded by [`AuditBatch`](super::super::audit_batch).
enum Found {
    Refused(AuthorizeError),
    /// A code to hand out once its audit event is recorded.
    Issue(Box<(AuthorizeRequest, PreparedCode)>),
    /// A skip-consent client's first sign-in for this user (or for more scopes): record the
    /// implied consent (a write, on the blocking pool), then issue.
    ImpliedConsent(Box<AuthorizeRequest>, Box<SignedIn>),
    Decided(Box<Decided>),
}

/// A request that needs the user (sign-in, consent) or is refused for them.
struct Decided {
    request: AuthorizeRequest,
    signed_in: Option<SignedIn>,
    decision: Result<Decision, OAuthError>,
}

/// The browser's session (from its cookie's `token`) and then [`find`], in one snapshot;
/// `None` when the session's `last_seen` is due its refresh, a write this must not do.
fn find_for_browser(
    oidc: &Oidc,
    token: Option<SessionToken>,
    params: &[(String, String)],
    pushed: Option<&PushedRequest>,
    peer: &Peer,
) -> Result<Option<Found>, IdmError> {
    let idm = oidc.idm();
    let snapshot = idm.snapshot()?;
    let signed_in = match token {
        None => None,
        Some(token) => {
            let next_client = single(params, "client_id").ok().flatten();
            match idm.peek_session_in(&snapshot, &token, next_client)? {
                SessionPeek::None => None,
                SessionPeek::Live(session, user) => Some(SignedIn {
                    user,
                    session,
                    token,
                }),
                SessionPeek::TouchDue => return Ok(None),
            }
        }
    };
    find(oidc, &snapshot, params, pushed, signed_in, peer).map(Some)
}

fn find(
    oidc: &Oidc,
    snapshot: &Snapshot,
    params: &[(String, String)],
    pushed: Option<&PushedRequest>,
    signed_in: Option<SignedIn>,
    peer: &Peer,
) -> Result<Found, IdmError> {
    let request = match lookup_and_validate(oidc, snapshot, params, pushed)? {
        Ok(request) => request,
        Err(refused) => return Ok(Found::Refused(refused)),
    };
    let standing = match &signed_in {
        None => None,
        Some(s) => Some(oidc.standing_in(snapshot, &request.client, &s.user)?),
    };
    let (allowed, consented) = match &standing {
        None => (true, None),
        Some(standing) => (standing.allowed, standing.consented()),
    };
    let now = oidc.idm().clock().now().unix_timestamp();
    let auth_time = signed_in
        .as_ref()
        .map(|s| s.session.created_at.unix_timestamp());
    let decision = decide(&request, now, auth_time, allowed, consented);
    match (decision, signed_in, standing) {
        (Ok(Decision::Issue), Some(s), Some(standing)) => {
            if request.client.skip_consent && standing.implied_consent_due(&request.scopes) {
                return Ok(Found::ImpliedConsent(Box::new(request), Box::new(s)));
            }
            let actor = s.actor(peer);
            let prepared =
                oidc.prepare_code(&actor, &request, &s.user, &s.session, standing.epoch)?;
            Ok(Found::Issue(Box::new((request, prepared))))
        }
        (decision, signed_in, _) => Ok(Found::Decided(Box::new(Decided {
            request,
            signed_in,
            decision,
        }))),
    }
}

/// `GET /authorize`
pub async fn authorize_get(
    State(state): State<WebState>,
    csrf: CsrfToken,
    peer: Peer,
    headers: HeaderMap,
    OidcQuery { oidc, params }: OidcQuery,
) -> Result<Response, WebError> {
    let token = session_token(&headers, &state);
    let parameters = Parameters::of(&oidc, params)?;
    let first = {
        let (oidc, params, pushed, peer) = (
            oidc.clone(),
            parameters.effective().to_vec(),
            parameters.pushed().cloned(),
            peer.clone(),
        );
        quick_read(&state, move || {
            find_for_browser(&oidc, token, &params, pushed.as_ref(), &peer)
        })
        .await?
    };
    let found = match first {
        Some(found) => found,
        None => {
            // The session's `last_seen` is due its refresh: `current` writes it.
            let signed_in = current(&headers, &state).await?;
            let (oidc, params, pushed, peer) = (
                oidc.clone(),
                parameters.effective().to_vec(),
                parameters.pushed().cloned(),
                peer.clone(),
            );
            quick_read(&state, move || {
                let snapshot = oidc.idm().snapshot()?;
                find(&oidc, &snapshot, &params, pushed.as_ref(), signed_in, &peer)
            })
            .await?
        }
    };
    let (request, signed_in, decision) = match found {
        Found::Refused(AuthorizeError::Page(message)) => return Err(page_error(message)),
        Found::Refused(AuthorizeError::Redirect(response)) => {
            return Ok(deliver(&state, "the application", response).await);
        }
        Found::Issue(issue) => {
            let (request, prepared) = *issue;
            return hand_out(&state, &oidc, &request, prepared).await;
        }
        Found::ImpliedConsent(request, signed_in) => {
            let given = ConsentGiven::Implied;
            return consent_and_hand_out(&state, &oidc, &request, &signed_in, &peer, given).await;
        }
        Found::Decided(decided) => (decided.request, decided.signed_in, decided.decision),
    };
    let client_name = request.client.name.clone();
    let error_back = |error: OAuthError| request.target.error(oidc.issuer(), &error);
    match (decision, signed_in) {
        (Err(error), _) => Ok(deliver(&state, &client_name, error_back(error)).await),
        (Ok(Decision::SignIn), _) => {
            // A pushed request comes back as it came: its `request_uri`.
            let next = format!(
                "/authorize?{}",
                encode_pairs(&params_after_sign_in(&parameters.front))
            );
            if next.len() > 2000 {
                return Err(page_error(
                    "The sign-in request is too long to continue after signing in.",
                ));
            }
            let mut login = login_with_next(&next);
            // The app's hint (pushed or not) suggests the account on the sign-in page.
            if let Ok(Some(hint)) = single(parameters.effective(), "login_hint") {
                login.push(if login.contains('?') { '&' } else { '?' });
                login.push_str("login_hint=");
                login.push_str(&percent_encode(hint));
            }
            Ok(Redirect::to(&login).into_response())
        }
        (Ok(Decision::Denied), Some(signed_in)) => {
            denied(&state, &oidc, &request, &signed_in, &peer).await
        }
        (Ok(Decision::Consent), Some(signed_in)) => {
            let page = ConsentPage {
                chrome: Chrome::new(&state.app_name().await, &csrf),
                client_name,
                username: signed_in.user.username.clone(),
                scopes: Oidc::describe_scopes(&request.scopes),
                request: encode_pairs(&parameters.front),
            };
            let mut response = (csrf, pages::render(StatusCode::OK, &page)).into_response();
            if let Some(origin) = origin_of(&request.target.redirect_uri) {
                response.extensions_mut().insert(FormActionOrigin(origin));
            }
            Ok(response)
        }
        // `decide` asks for sign-in whenever nobody is signed in, and `find` issues the
        // code itself.
        (Ok(Decision::Denied | Decision::Consent | Decision::Issue), _) => {
            Err(WebError::internal())
        }
    }
}

async fn denied(
    state: &WebState,
    oidc: &Oidc,
    request: &AuthorizeRequest,
    signed_in: &SignedIn,
    peer: &Peer,
) -> Result<Response, WebError> {
    let actor = signed_in.actor(peer);
    let (oidc2, client, user) = (oidc.clone(), request.client.clone(), signed_in.user.clone());
    blocking(move || oidc2.record_access_denied(&actor, &client, &user)).await?;
    let page = DeniedPage {
        chrome: Chrome::bare(&state.app_name().await),
        client_name: request.client.name.clone(),
        username: signed_in.user.username.clone(),
    };
    Ok(pages::render(StatusCode::FORBIDDEN, &page))
}

/// Records the code's `oidc_authorized` event (durably, with concurrent ones), then stores
/// the code and sends the response that carries it.
async fn hand_out(
    state: &WebState,
    oidc: &Oidc,
    request: &AuthorizeRequest,
    prepared: PreparedCode,
) -> Result<Response, WebError> {
    if let Some(pushed) = request.pushed.clone() {
        let oidc = oidc.clone();
        if !blocking(move || oidc.spend_pushed(&pushed)).await? {
            return Err(page_error(
                "This sign-in request was used already. Go back to the application and start \
                 again.",
            ));
        }
    }
    state.audit.record(prepared.event).await?;
    let response = oidc.hand_out_code(request, prepared.pending)?;
    Ok(deliver(state, &request.client.name, response).await)
}

/// `POST /authorize`: the same request as a GET (see the module docs).
pub async fn authorize_post(body: Bytes) -> Response {
    let params = pairs(&body);
    Redirect::to(&format!("/authorize?{}", encode_pairs(&params))).into_response()
}

#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    request: String,
    #[serde(default)]
    decision: String,
}

/// `POST /authorize/consent`: allow (remember the scopes, issue a code) or deny
/// (`access_denied` back to the client).
pub async fn consent_post(
    State(state): State<WebState>,
    peer: Peer,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Result<Response, WebError> {
    let oidc = state.oidc()?;
    let parameters = Parameters::of(&oidc, pairs(form.request.as_bytes()))?;
    let request = match lookup_and_validate(
        &oidc,
        &oidc.idm().snapshot()?,
        parameters.effective(),
        parameters.pushed(),
    )? {
        Ok(request) => request,
        Err(AuthorizeError::Page(message)) => return Err(page_error(message)),
        Err(AuthorizeError::Redirect(response)) => {
            return Ok(deliver(&state, "the application", response).await);
        }
    };
    let Some(signed_in) = current(&headers, &state).await? else {
        let next = format!("/authorize?{}", encode_pairs(&parameters.front));
        return Ok(Redirect::to(&login_with_next(&next)).into_response());
    };
    let client_name = request.client.name.clone();
    if form.decision != "allow" {
        let error = OAuthError::new(OAuthErrorCode::AccessDenied, "the user denied the request");
        let response = request.target.error(oidc.issuer(), &error);
        return Ok(deliver(&state, &client_name, response).await);
    }
    if !oidc.user_allowed(&request.client, &signed_in.user)? {
        return denied(&state, &oidc, &request, &signed_in, &peer).await;
    }
    let given = ConsentGiven::Asked;
    consent_and_hand_out(&state, &oidc, &request, &signed_in, &peer, given).await
}

/// Records the consent, then issues the code.
async fn consent_and_hand_out(
    state: &WebState,
    oidc: &Oidc,
    request: &AuthorizeRequest,
    signed_in: &SignedIn,
    peer: &Peer,
    given: ConsentGiven,
) -> Result<Response, WebError> {
    let actor = signed_in.actor(peer);
    let (oidc2, user_id, client_id, scopes) = (
        oidc.clone(),
        signed_in.user.id,
        request.client.client_id.clone(),
        request.scopes.clone(),
    );
    blocking(move || oidc2.grant_consent(&actor, user_id, &client_id, &scopes, given)).await?;
    let actor = signed_in.actor(peer);
    let epoch = oidc.grant_epoch(&signed_in.user, &request.client)?;
    let prepared =
        oidc.prepare_code(&actor, request, &signed_in.user, &signed_in.session, epoch)?;
    hand_out(state, oidc, request, prepared).await
}
