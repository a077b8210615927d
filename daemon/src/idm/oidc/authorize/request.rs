//! Validating an authorization request: the client and its redirect URI first (until both
//! are known, errors are shown on our page), then every other parameter (errors go back to
//! the client).

use std::borrow::Cow;

use super::super::clients::Client;
use super::super::discovery::SCOPES;
use super::super::error::{OAuthError, OAuthErrorCode};
use super::super::grants::{ChallengeMethod, CodeChallenge, pkce_syntax_ok};
use super::super::par::PushedRequest;
use super::response::{AuthorizationResponse, ResponseMode, ResponseTarget};

/// Longest `state` and `nonce` we carry, in bytes.
pub const MAX_STATE: usize = 2048;
pub const MAX_NONCE: usize = 512;

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
    /// The pushed request (`/par`) this one came from: used once, when its code is issued.
    pub pushed: Option<PushedRequest>,
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

/// Why [`check`] refused a request: on our page, or back to the client at `target`.
#[derive(Clone, Debug)]
pub enum Refusal {
    Page(Cow<'static, str>),
    Back(Box<ResponseTarget>, OAuthError),
}

/// Validates a request that came straight to `/authorize` (not pushed), whose client is
/// `client` (looked up by the caller from `client_id`; `None` when unknown).
pub fn validate(
    issuer: &str,
    params: &[(String, String)],
    client: Option<Client>,
) -> Result<AuthorizeRequest, AuthorizeError> {
    check(params, client, false).map_err(|refusal| match refusal {
        Refusal::Page(message) => AuthorizeError::Page(message),
        Refusal::Back(target, error) => AuthorizeError::Redirect(target.error(issuer, &error)),
    })
}

/// Validates a request; `pushed` when its parameters were pushed to `/par` first (a client
/// that must push is refused otherwise).
pub fn check(
    params: &[(String, String)],
    client: Option<Client>,
    pushed: bool,
) -> Result<AuthorizeRequest, Refusal> {
    let page = |m: &'static str| Refusal::Page(Cow::Borrowed(m));
    let client_id = single(params, "client_id")
        .map_err(|e| Refusal::Page(e.into()))?
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
        .map_err(|e| Refusal::Page(e.into()))?
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
    let fail = |error: OAuthError| Refusal::Back(Box::new(target.clone()), error);
    let bad = |message: String| fail(OAuthError::invalid_request(message));
    mode.map_err(bad)?;
    if client.require_par && !pushed {
        return Err(bad(
            "this client must push its authorization requests to the pushed authorization \
             request endpoint (/par) first"
                .to_owned(),
        ));
    }
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
        pushed: None,
    })
}
