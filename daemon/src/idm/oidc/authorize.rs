//! The authorization endpoint's rules: validating a request ([`validate`]), deciding what the
//! user must do ([`decide`]), issuing a code ([`Oidc::prepare_code`], then
//! [`Oidc::hand_out_code`] once its audit event is durable) and shaping the answer
//! ([`ResponseTarget::respond`]) for each `response_mode`, always with the RFC 9207 `iss`.
//!
//! Until the client and redirect URI are known to be registered, errors are shown on a
//! Latchkey page ([`AuthorizeError::Page`]), never redirected: a redirect to an unvalidated
//! URI would make us an open redirector. After that, errors go back to the client.
//!
//! Decisions where the specs leave room:
//! - Unknown scopes are ignored (dropped from the grant and from the token's `scope`), so a
//!   relying party asking for something extra still works; the token response always says
//!   which scopes were granted.
//! - Unknown `prompt` values are ignored; `none` with any other value is `invalid_request`.
//!   `select_account` behaves like `login` (one account per browser).
//! - `request` and `request_uri` are refused (`request_not_supported`,
//!   `request_uri_not_supported`), as discovery says.
//! - A repeated parameter is `invalid_request` (RFC 6749 §3.1).

use std::borrow::Cow;

use serde_json::Value;

use super::Oidc;
use super::amr::amr_for;
use super::clients::Client;
use super::discovery::SCOPES;
use super::error::{OAuthError, OAuthErrorCode};
use super::grants::{ChallengeMethod, CodeChallenge, Grant, PendingCode, pkce_syntax_ok};
use crate::idm::audit::{self, Subject, detail};
use crate::idm::{Actor, IdmError, PendingAuditEvent, Session, User};

/// Longest `state` and `nonce` we carry, in bytes.
pub const MAX_STATE: usize = 2048;
pub const MAX_NONCE: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

impl Prompt {
    fn parse(value: Option<&str>) -> Result<Prompt, &'static str> {
        let mut prompt = Prompt::default();
        let mut count = 0;
        for word in value
            .unwrap_or_default()
            .split(' ')
            .filter(|w| !w.is_empty())
        {
            count += 1;
            match word {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                "select_account" => prompt.select_account = true,
                _ => {}
            }
        }
        if prompt.none && count > 1 {
            return Err("prompt=none cannot be combined with other prompt values");
        }
        Ok(prompt)
    }
}

/// Where the authorization response goes, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseTarget {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
}

/// The authorization response: a redirect, or (form_post) a page that posts `fields` to
/// `action`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizationResponse {
    Redirect(String),
    FormPost {
        action: String,
        fields: Vec<(String, String)>,
    },
}

impl ResponseTarget {
    /// The response carrying `params`, then `state` and `iss`.
    pub fn respond(&self, issuer: &str, params: Vec<(&str, String)>) -> AuthorizationResponse {
        let mut fields: Vec<(String, String)> =
            params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        if let Some(state) = &self.state {
            fields.push(("state".to_owned(), state.clone()));
        }
        fields.push(("iss".to_owned(), issuer.to_owned()));
        match self.mode {
            ResponseMode::FormPost => AuthorizationResponse::FormPost {
                action: self.redirect_uri.clone(),
                fields,
            },
            ResponseMode::Query | ResponseMode::Fragment => {
                let mut encoded = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in &fields {
                    encoded.append_pair(k, v);
                }
                let encoded = encoded.finish();
                let separator = match self.mode {
                    ResponseMode::Fragment => '#',
                    _ if self.redirect_uri.contains('?') => '&',
                    _ => '?',
                };
                AuthorizationResponse::Redirect(format!(
                    "{}{separator}{encoded}",
                    self.redirect_uri
                ))
            }
        }
    }

    pub fn error(&self, issuer: &str, error: &OAuthError) -> AuthorizationResponse {
        self.respond(
            issuer,
            vec![
                ("error", error.code.as_str().to_owned()),
                ("error_description", error.description.to_string()),
            ],
        )
    }
}

/// A code about to be issued: the pending code, and its `oidc_authorized` event to record
/// first.
#[derive(Debug)]
pub struct PreparedCode {
    pub pending: PendingCode,
    pub event: PendingAuditEvent,
}

/// A validated authorization request.
#[derive(Clone, Debug)]
pub struct AuthorizeRequest {
    pub client: Client,
    pub target: ResponseTarget,
    /// Known scopes, in the order asked, without repeats.
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub challenge: Option<CodeChallenge>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
}

/// Why a request was refused, and where the refusal goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Shown on our own page: the client or redirect URI cannot be trusted.
    Page(Cow<'static, str>),
    /// Sent back to the client.
    Redirect(AuthorizationResponse),
}

/// The single value of a parameter; `Err` when it is repeated. Empty values count as absent
/// (OpenID Connect Core §3.1.2.1 via OAuth 2.0).
pub fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut found = None;
    for (k, v) in params {
        if k == name {
            if found.is_some() {
                return Err(format!("the parameter {name} was given more than once"));
            }
            found = Some(v.as_str());
        }
    }
    Ok(found.filter(|v| !v.is_empty()))
}

/// Splits a `scope` value: known scopes, in order, without repeats.
pub fn known_scopes(scope: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in scope.unwrap_or_default().split(' ') {
        if SCOPES.contains(&word) && !out.iter().any(|s| s == word) {
            out.push(word.to_owned());
        }
    }
    out
}

/// Validates a request whose client is `client` (looked up by the caller from `client_id`;
/// `None` when unknown).
pub fn validate(
    issuer: &str,
    params: &[(String, String)],
    client: Option<Client>,
) -> Result<AuthorizeRequest, AuthorizeError> {
    let page = |m: &'static str| AuthorizeError::Page(Cow::Borrowed(m));
    let client_id = single(params, "client_id")
        .map_err(|e| AuthorizeError::Page(e.into()))?
        .ok_or_else(|| page("The application did not say who it is (client_id is missing)."))?;
    let client = match client {
        Some(c) if c.client_id == client_id => c,
        _ => {
            return Err(page(
                "This application is not registered here (unknown client_id).",
            ));
        }
    };
    let redirect_uri = single(params, "redirect_uri")
        .map_err(|e| AuthorizeError::Page(e.into()))?
        .ok_or_else(|| {
            page("The application did not say where to return (redirect_uri is missing).")
        })?;
    if !client.redirect_uri_allowed(redirect_uri) {
        return Err(page(
            "The application asked to return to an address that is not registered for it \
             (redirect_uri mismatch).",
        ));
    }
    // From here on, errors go back to the client. A bad response_mode falls back to query.
    let state = single(params, "state").ok().flatten().map(str::to_owned);
    let mode_value = single(params, "response_mode");
    let mode = match mode_value {
        Ok(None) => Ok(ResponseMode::Query),
        Ok(Some("query")) => Ok(ResponseMode::Query),
        Ok(Some("fragment")) => Ok(ResponseMode::Fragment),
        Ok(Some("form_post")) => Ok(ResponseMode::FormPost),
        Ok(Some(_)) => {
            Err("unsupported response_mode (use query, fragment or form_post)".to_owned())
        }
        Err(e) => Err(e),
    };
    let target = ResponseTarget {
        redirect_uri: redirect_uri.to_owned(),
        mode: *mode.as_ref().unwrap_or(&ResponseMode::Query),
        state: state.clone(),
    };
    let fail = |error: OAuthError| AuthorizeError::Redirect(target.error(issuer, &error));
    let bad = |message: String| fail(OAuthError::invalid_request(message));
    mode.map_err(bad)?;
    single(params, "state").map_err(bad)?;
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(bad(format!("state is longer than {MAX_STATE} bytes")));
    }
    if single(params, "request").map_err(bad)?.is_some() {
        return Err(fail(OAuthError::new(
            OAuthErrorCode::RequestNotSupported,
            "request objects are not supported",
        )));
    }
    if single(params, "request_uri").map_err(bad)?.is_some() {
        return Err(fail(OAuthError::new(
            OAuthErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        )));
    }
    match single(params, "response_type").map_err(bad)? {
        None => return Err(bad("response_type is missing".to_owned())),
        Some("code") => {}
        Some(_) => {
            return Err(fail(OAuthError::new(
                OAuthErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            )));
        }
    }
    let scopes = known_scopes(single(params, "scope").map_err(bad)?);
    let nonce = single(params, "nonce").map_err(bad)?.map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
        return Err(bad(format!("nonce is longer than {MAX_NONCE} bytes")));
    }
    let prompt =
        Prompt::parse(single(params, "prompt").map_err(bad)?).map_err(|m| bad(m.to_owned()))?;
    let max_age = match single(params, "max_age").map_err(bad)? {
        None => None,
        Some(v) => Some(
            v.parse::<u32>()
                .map_err(|_| bad("max_age must be a whole number of seconds".to_owned()))?,
        ),
    };
    let challenge = match single(params, "code_challenge").map_err(bad)? {
        None => {
            if single(params, "code_challenge_method")
                .map_err(bad)?
                .is_some()
            {
                return Err(bad(
                    "code_challenge_method was given without code_challenge".to_owned(),
                ));
            }
            None
        }
        Some(challenge) => {
            let method =
                ChallengeMethod::parse(single(params, "code_challenge_method").map_err(bad)?)
                    .map_err(|message| bad(message.to_owned()))?;
            if !pkce_syntax_ok(challenge) {
                return Err(bad(
                    "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~".to_owned(),
                ));
            }
            Some(CodeChallenge {
                method,
                challenge: challenge.to_owned(),
            })
        }
    };
    if challenge.is_none() && client.pkce_required() {
        return Err(bad(
            "this client must use PKCE: code_challenge is required".to_owned()
        ));
    }
    Ok(AuthorizeRequest {
        client,
        target,
        scopes,
        nonce,
        challenge,
        prompt,
        max_age: max_age.map(i64::from),
    })
}

/// What the authorization endpoint does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send the user to sign in (again), then back.
    SignIn,
    /// The client is restricted to groups the user is in none of.
    Denied,
    /// Ask the user to allow the client these scopes.
    Consent,
    /// Issue a code.
    Issue,
}

/// The next step for `request`, given the browser's sign-in time (`None`: not signed in),
/// whether the user may use the client, and the scopes they consented to. With
/// `prompt=none` every step that needs the user is an error for the client instead.
pub fn decide(
    request: &AuthorizeRequest,
    now: i64,
    auth_time: Option<i64>,
    allowed: bool,
    consented: Option<&[String]>,
) -> Result<Decision, OAuthError> {
    let prompt = request.prompt;
    let too_old = match (auth_time, request.max_age) {
        (Some(at), Some(max_age)) => now.saturating_sub(at) > max_age,
        _ => false,
    };
    if auth_time.is_none() || prompt.login || prompt.select_account || too_old {
        if prompt.none {
            return Err(OAuthError::new(
                OAuthErrorCode::LoginRequired,
                "the user must sign in",
            ));
        }
        return Ok(Decision::SignIn);
    }
    if !allowed {
        if prompt.none {
            return Err(OAuthError::new(
                OAuthErrorCode::AccessDenied,
                "the user may not use this application",
            ));
        }
        return Ok(Decision::Denied);
    }
    let covered = consented.is_some_and(|granted| {
        request
            .scopes
            .iter()
            .all(|s| granted.iter().any(|g| g == s))
    });
    let needs_consent = !request.client.skip_consent && (prompt.consent || !covered);
    if needs_consent {
        if prompt.none {
            return Err(OAuthError::new(
                OAuthErrorCode::ConsentRequired,
                "the user must allow this application",
            ));
        }
        return Ok(Decision::Consent);
    }
    Ok(Decision::Issue)
}

/// The request's parameters to come back to after signing in: `prompt=login` /
/// `select_account` and `max_age` are dropped (they were just satisfied), so the user does
/// not loop. `auth_time` in the ID token still tells the client when they signed in.
pub fn params_after_sign_in(params: &[(String, String)]) -> Vec<(String, String)> {
    params
        .iter()
        .filter(|(k, _)| k != "max_age")
        .filter_map(|(k, v)| {
            if k != "prompt" {
                return Some((k.clone(), v.clone()));
            }
            let kept: Vec<&str> = v
                .split(' ')
                .filter(|w| !w.is_empty() && *w != "login" && *w != "select_account")
                .collect();
            (!kept.is_empty()).then(|| (k.clone(), kept.join(" ")))
        })
        .collect()
}

impl Oidc {
    /// Whether `user` may use `client`: always, unless the client is restricted to groups.
    pub fn user_allowed(&self, client: &Client, user: &User) -> Result<bool, IdmError> {
        if client.allowed_groups.is_empty() {
            return Ok(true);
        }
        let groups = self.idm.get_user(&user.id.to_string())?.groups;
        Ok(client
            .allowed_groups
            .iter()
            .any(|allowed| groups.iter().any(|g| g.eq_ignore_ascii_case(allowed))))
    }

    /// Records a refused sign-in to a group-restricted client (`oidc_access_denied`).
    pub fn record_access_denied(
        &self,
        actor: &Actor,
        client: &Client,
        user: &User,
    ) -> Result<(), IdmError> {
        let now = self.idm.now();
        self.idm.store().write(|tx| {
            let details = vec![
                detail("client_id", client.client_id.as_str()),
                detail("client", client.name.as_str()),
            ];
            let subject = Subject::linked(&user.username, user.id);
            audit::append(tx, now, actor, "oidc_access_denied", Some(subject), details)?;
            Ok(())
        })
    }

    /// The first half of issuing a code for `request` to the signed-in `user` in `session`:
    /// its grant, and the `oidc_authorized` event that must be durable before the code is
    /// handed out ([`Oidc::hand_out_code`]). The event is the authorization's only write, so
    /// the web layer commits it together with concurrent authorizations' events.
    pub fn prepare_code(
        &self,
        actor: &Actor,
        request: &AuthorizeRequest,
        user: &User,
        session: &Session,
    ) -> Result<PreparedCode, IdmError> {
        let now = self.idm.now();
        let client = &request.client;
        let epoch = self
            .idm
            .store()
            .read()?
            .grant_epoch(user.id, &client.client_id)?;
        let grant = Grant {
            id: Grant::new_id()?,
            user_id: user.id,
            client_id: client.client_id.clone(),
            sid: Some(session.public_id.clone()),
            scopes: request.scopes.clone(),
            auth_time: session.created_at.unix_timestamp(),
            amr: amr_for(session),
            nonce: request.nonce.clone(),
            epoch,
        };
        let details = vec![
            detail("client_id", client.client_id.as_str()),
            detail("client", client.name.as_str()),
            detail("scopes", request.scopes.join(" ")),
        ];
        let subject = Subject::linked(&user.username, user.id);
        let event = PendingAuditEvent::new(now, actor, "oidc_authorized", Some(subject), details);
        let ttl = i64::try_from(client.code_ttl().as_secs()).unwrap_or(600);
        let pending = PendingCode {
            grant,
            redirect_uri: request.target.redirect_uri.clone(),
            challenge: request.challenge.clone(),
            expires_at: now.saturating_add(ttl),
        };
        Ok(PreparedCode { pending, event })
    }

    /// The second half: stores the code (once its event is recorded) and returns the
    /// response that carries it.
    pub fn hand_out_code(
        &self,
        request: &AuthorizeRequest,
        pending: PendingCode,
    ) -> Result<AuthorizationResponse, IdmError> {
        let code = self.codes().insert(self.idm.now(), pending)?;
        Ok(request.target.respond(self.issuer(), vec![("code", code)]))
    }

    /// The consent screen's list: what each scope lets the client see.
    pub fn describe_scopes(scopes: &[String]) -> Vec<&'static str> {
        scopes
            .iter()
            .filter_map(|s| match s.as_str() {
                "openid" => Some("Know who you are (your account id)"),
                "profile" => Some("Your name and username"),
                "email" => Some("Your email address"),
                "groups" => Some("The groups you belong to"),
                "offline_access" => Some("Stay connected when you are not signed in"),
                _ => None,
            })
            .collect()
    }
}

/// A JSON value's string, for claims.
pub(crate) fn str_claim<'a>(claims: &'a Value, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_protocol::TokenLifetimes;
    use time::OffsetDateTime;

    fn client() -> Client {
        Client {
            client_id: "app".into(),
            name: "App".into(),
            redirect_uris: vec![
                "https://rp.example/cb".into(),
                "https://rp.example/q?x=1".into(),
            ],
            logout_redirect_uris: vec![],
            public: false,
            require_pkce: false,
            skip_consent: false,
            allow_wildcard_redirects: false,
            allowed_groups: vec![],
            lifetimes: TokenLifetimes::default(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("client_id", "app"),
            ("redirect_uri", "https://rp.example/cb"),
            ("response_type", "code"),
            ("scope", "openid profile bogus openid"),
            ("state", "s1"),
        ]
    }

    const ISS: &str = "https://id.example";

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(String, String)> {
        let mut p = base();
        p.extend_from_slice(extra);
        params(&p)
    }

    fn redirect_of(e: AuthorizeError) -> String {
        match e {
            AuthorizeError::Redirect(AuthorizationResponse::Redirect(url)) => url,
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_validates_and_unknown_scopes_are_dropped() {
        let r = validate(ISS, &with(&[]), Some(client())).unwrap();
        assert_eq!(r.scopes, vec!["openid", "profile"]);
        assert_eq!(r.target.mode, ResponseMode::Query);
        assert_eq!(r.target.state.as_deref(), Some("s1"));
        assert!(r.challenge.is_none());
    }

    #[test]
    fn untrusted_clients_and_redirects_get_a_page_never_a_redirect() {
        assert!(matches!(
            validate(ISS, &with(&[]), None),
            Err(AuthorizeError::Page(_))
        ));
        let mut p = base();
        p[1] = ("redirect_uri", "https://evil.example/cb");
        assert!(matches!(
            validate(ISS, &params(&p), Some(client())),
            Err(AuthorizeError::Page(_))
        ));
        p.remove(1);
        assert!(matches!(
            validate(ISS, &params(&p), Some(client())),
            Err(AuthorizeError::Page(_))
        ));
        let p = with(&[("client_id", "app")]);
        assert!(matches!(
            validate(ISS, &p, Some(client())),
            Err(AuthorizeError::Page(_))
        ));
    }

    #[test]
    fn protocol_errors_redirect_with_state_and_iss() {
        let url = redirect_of(
            validate(
                ISS,
                &params(&[
                    ("client_id", "app"),
                    ("redirect_uri", "https://rp.example/cb"),
                    ("response_type", "token"),
                    ("state", "s 1"),
                ]),
                Some(client()),
            )
            .unwrap_err(),
        );
        assert_eq!(
            url,
            "https://rp.example/cb?error=unsupported_response_type&error_description=only+response_type%3Dcode+is+supported&state=s+1&iss=https%3A%2F%2Fid.example"
        );
        for (extra, code) in [
            (vec![("prompt", "none login")], "invalid_request"),
            (vec![("max_age", "-1")], "invalid_request"),
            (vec![("code_challenge", "short")], "invalid_request"),
            (vec![("code_challenge_method", "S256")], "invalid_request"),
            (
                vec![
                    (
                        "code_challenge",
                        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                    ),
                    ("code_challenge_method", "plain"),
                ],
                "invalid_request",
            ),
            (
                vec![(
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                )],
                "invalid_request",
            ),
            (vec![("response_mode", "jwt")], "invalid_request"),
            (vec![("request", "x")], "request_not_supported"),
            (vec![("request_uri", "x")], "request_uri_not_supported"),
            (vec![("state", "again")], "invalid_request"),
        ] {
            let url = redirect_of(validate(ISS, &with(&extra), Some(client())).unwrap_err());
            assert!(url.contains(&format!("error={code}&")), "{extra:?}: {url}");
            assert!(url.ends_with("&iss=https%3A%2F%2Fid.example"), "{url}");
        }
        let mut p = base();
        p.retain(|(k, _)| *k != "response_type");
        let url = redirect_of(validate(ISS, &params(&p), Some(client())).unwrap_err());
        assert!(url.contains("error=invalid_request"), "{url}");
    }

    #[test]
    fn public_and_pkce_clients_must_send_a_challenge() {
        let mut c = client();
        c.public = true;
        let url = redirect_of(validate(ISS, &with(&[]), Some(c.clone())).unwrap_err());
        assert!(url.contains("code_challenge+is+required"), "{url}");
        let r = validate(
            ISS,
            &with(&[
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
            ]),
            Some(c),
        )
        .unwrap();
        assert_eq!(r.challenge.unwrap().method, ChallengeMethod::S256);
    }

    #[test]
    fn responses_for_each_mode_carry_iss() {
        let target = |uri: &str, mode| ResponseTarget {
            redirect_uri: uri.into(),
            mode,
            state: Some("xyz".into()),
        };
        let code = || vec![("code", "abc".to_owned())];
        assert_eq!(
            target("https://rp.example/cb", ResponseMode::Query).respond(ISS, code()),
            AuthorizationResponse::Redirect(
                "https://rp.example/cb?code=abc&state=xyz&iss=https%3A%2F%2Fid.example".into()
            )
        );
        assert_eq!(
            target("https://rp.example/q?x=1", ResponseMode::Query).respond(ISS, code()),
            AuthorizationResponse::Redirect(
                "https://rp.example/q?x=1&code=abc&state=xyz&iss=https%3A%2F%2Fid.example".into()
            )
        );
        assert_eq!(
            target("https://rp.example/cb", ResponseMode::Fragment).respond(ISS, code()),
            AuthorizationResponse::Redirect(
                "https://rp.example/cb#code=abc&state=xyz&iss=https%3A%2F%2Fid.example".into()
            )
        );
        assert_eq!(
            target("https://rp.example/cb", ResponseMode::FormPost).respond(ISS, code()),
            AuthorizationResponse::FormPost {
                action: "https://rp.example/cb".into(),
                fields: vec![
                    ("code".into(), "abc".into()),
                    ("state".into(), "xyz".into()),
                    ("iss".into(), ISS.into()),
                ]
            }
        );
    }

    #[test]
    fn decisions_follow_prompt_max_age_groups_and_consent() {
        let req = |extra: &[(&'static str, &'static str)]| {
            validate(ISS, &with(extra), Some(client())).unwrap()
        };
        let granted = vec!["openid".to_owned(), "profile".to_owned()];
        let some = Some(granted.as_slice());
        let r = req(&[]);
        assert_eq!(decide(&r, 100, None, true, some), Ok(Decision::SignIn));
        assert_eq!(decide(&r, 100, Some(50), true, some), Ok(Decision::Issue));
        assert_eq!(decide(&r, 100, Some(50), false, some), Ok(Decision::Denied));
        assert_eq!(decide(&r, 100, Some(50), true, None), Ok(Decision::Consent));
        let fewer = vec!["openid".to_owned()];
        assert_eq!(
            decide(&r, 100, Some(50), true, Some(fewer.as_slice())),
            Ok(Decision::Consent)
        );
        let r = req(&[("prompt", "login")]);
        assert_eq!(decide(&r, 100, Some(99), true, some), Ok(Decision::SignIn));
        let r = req(&[("prompt", "select_account")]);
        assert_eq!(decide(&r, 100, Some(99), true, some), Ok(Decision::SignIn));
        let r = req(&[("prompt", "consent")]);
        assert_eq!(decide(&r, 100, Some(99), true, some), Ok(Decision::Consent));
        let r = req(&[("max_age", "30")]);
        assert_eq!(decide(&r, 100, Some(70), true, some), Ok(Decision::Issue));
        assert_eq!(decide(&r, 100, Some(69), true, some), Ok(Decision::SignIn));
        let r = req(&[("prompt", "none")]);
        let code = |d: Result<Decision, OAuthError>| d.unwrap_err().code;
        assert_eq!(
            code(decide(&r, 100, None, true, some)),
            OAuthErrorCode::LoginRequired
        );
        assert_eq!(
            code(decide(&r, 100, Some(1), true, None)),
            OAuthErrorCode::ConsentRequired
        );
        assert_eq!(
            code(decide(&r, 100, Some(1), false, some)),
            OAuthErrorCode::AccessDenied
        );
        assert_eq!(decide(&r, 100, Some(1), true, some), Ok(Decision::Issue));
        let mut skip = client();
        skip.skip_consent = true;
        let r = validate(ISS, &with(&[("prompt", "consent")]), Some(skip)).unwrap();
        assert_eq!(decide(&r, 100, Some(1), true, None), Ok(Decision::Issue));
    }

    #[test]
    fn coming_back_from_sign_in_does_not_loop() {
        let p = with(&[("prompt", "login consent"), ("max_age", "0")]);
        let after = params_after_sign_in(&p);
        assert!(after.contains(&("prompt".into(), "consent".into())));
        assert!(!after.iter().any(|(k, _)| k == "max_age"));
        let after = params_after_sign_in(&with(&[("prompt", "select_account")]));
        assert!(!after.iter().any(|(k, _)| k == "prompt"));
    }
}
