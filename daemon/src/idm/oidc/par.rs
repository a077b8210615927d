//! Pushed authorization requests (RFC 9126): a client posts its authorization request to
//! `/par` (authenticated as at the token endpoint) and sends the browser to `/authorize` with
//! only `client_id` and the `request_uri` it got back.
//!
//! Decisions:
//! - The `request_uri` is the request itself, sealed with the deployment's key (encrypted and
//!   authenticated, as codes are): every replica can open it, nothing is written when it is
//!   pushed, and what the browser carries reveals nothing of the request.
//! - It lives [`PUSHED_LIFETIME_SECS`] and is used once: spent (in the shared record of spent
//!   tokens) when its code is issued. Until then it may come back through a sign-in and the
//!   consent page, which carry it instead of the request's parameters.
//! - At `/authorize`, only the pushed parameters count; the front channel's other parameters
//!   are ignored (RFC 9126 §4). A client with `require_par` is refused without one.
//! - Validated when pushed, with errors in JSON; and again at `/authorize`, since the client
//!   may have changed in between.
//! - A request object (`request`) is refused in both places (`request_not_supported`), and a
//!   `request_uri` cannot itself be pushed.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::Oidc;
use super::authorize::{Refusal, check, single};
use super::clients::Client;
use super::error::OAuthError;
use crate::idm::IdmError;

/// What a pushed request's `request_uri` starts with (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How long a pushed request may be used, in seconds.
pub const PUSHED_LIFETIME_SECS: i64 = 60;

/// The label pushed requests are sealed under (no other token opens as one).
const LABEL: &str = "par";

/// A pushed request, as sealed into its `request_uri`.
#[derive(Serialize, Deserialize)]
struct SealedRequest {
    client_id: String,
    params: Vec<(String, String)>,
    expires_at: i64,
}

/// The answer to a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: i64,
}

/// An authorization request's parameters: the pushed ones, or its own.
pub type Unpushed<'p> = (Cow<'p, [(String, String)]>, Option<PushedRequest>);

/// The pushed request an authorization request came from, to spend when its code is issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedRequest {
    token: String,
    expires_at: i64,
}

impl PushedRequest {
    #[cfg(test)]
    pub(crate) fn pushed_at_for_tests(pushed_at: i64) -> PushedRequest {
        PushedRequest {
            token: String::new(),
            expires_at: pushed_at + PUSHED_LIFETIME_SECS,
        }
    }

    /// When it was pushed (unix seconds): a sign-in after that is one made for this request,
    /// which satisfies its `prompt=login` (its parameters cannot be changed on the way back
    /// from the sign-in page, as those of a request that was not pushed are).
    pub fn pushed_at(&self) -> i64 {
        self.expires_at.saturating_sub(PUSHED_LIFETIME_SECS)
    }
}

impl Oidc {
    /// Checks a pushed authorization request from the authenticated `client` and seals it
    /// into a `request_uri`.
    pub fn push(&self, client: &Client, params: &[(String, String)]) -> Result<Pushed, OAuthError> {
        if single(params, "request_uri")
            .map_err(OAuthError::invalid_request)?
            .is_some()
        {
            return Err(OAuthError::invalid_request(
                "a pushed request cannot itself name a request_uri",
            ));
        }
        // The authenticated client is the request's; a secret is never sealed into a URL.
        let mut request: Vec<(String, String)> = params
            .iter()
            .filter(|(name, _)| name != "client_id" && name != "client_secret")
            .cloned()
            .collect();
        request.push(("client_id".to_owned(), client.client_id.clone()));
        match check(&request, Some(client.clone()), true) {
            Ok(_) => {}
            Err(Refusal::Page(message)) => return Err(OAuthError::invalid_request(message)),
            Err(Refusal::Back(_, error)) => return Err(error),
        }
        let expires_at = self.idm().now().saturating_add(PUSHED_LIFETIME_SECS);
        let sealed = SealedRequest {
            client_id: client.client_id.clone(),
            params: request,
            expires_at,
        };
        let bytes = postcard::to_stdvec(&sealed).map_err(|_| OAuthError::server_error())?;
        let token = self
            .idm()
            .seal_token(LABEL, &bytes)
            .map_err(|_| OAuthError::server_error())?;
        Ok(Pushed {
            request_uri: format!("{REQUEST_URI_PREFIX}{token}"),
            expires_in: PUSHED_LIFETIME_SECS,
        })
    }

    /// The parameters an authorization request stands for: the pushed ones when it names a
    /// `request_uri`, else its own. `Err` is a message for our own page (the request cannot be
    /// trusted enough to send anything back to the client).
    pub fn unpushed<'p>(
        &self,
        params: &'p [(String, String)],
    ) -> Result<Unpushed<'p>, &'static str> {
        let uri = match single(params, "request_uri") {
            Err(_) => return Err("The request names more than one request_uri."),
            Ok(None) => return Ok((Cow::Borrowed(params), None)),
            Ok(Some(uri)) => uri,
        };
        let expired = "This sign-in request is not valid, or has expired or been used. Go back \
                       to the application and start again.";
        let token = uri.strip_prefix(REQUEST_URI_PREFIX).ok_or(expired)?;
        let sealed = self
            .idm()
            .open_token(LABEL, token)
            .and_then(|bytes| postcard::from_bytes::<SealedRequest>(&bytes).ok())
            .ok_or(expired)?;
        if sealed.expires_at <= self.idm().now() {
            return Err(expired);
        }
        match single(params, "client_id") {
            Ok(Some(id)) if id == sealed.client_id => {}
            Ok(None) => {
                return Err("The application did not say who it is (client_id is missing).");
            }
            _ => return Err("This sign-in request belongs to another application."),
        }
        let pushed = PushedRequest {
            token: token.to_owned(),
            expires_at: sealed.expires_at,
        };
        Ok((Cow::Owned(sealed.params), Some(pushed)))
    }

    /// Uses up a pushed request; `false` when it was used before.
    pub fn spend_pushed(&self, pushed: &PushedRequest) -> Result<bool, IdmError> {
        self.idm().spend_token(&pushed.token, pushed.expires_at)
    }
}
