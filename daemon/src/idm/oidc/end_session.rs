//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
//!
//! `id_token_hint` must be an ID token this issuer signed (an expired one is a fine hint, as
//! the specification allows): signed by a published key, `iss` ours, the header's `typ`
//! `JWT`, `aud` one registered client with `azp` the same, and none of the access token's
//! claims (`scope`, `client_id`, `jti`). An access token is signed by the same key, so the
//! signature alone does not make a hint: it has `typ: at+jwt` and those claims. A hint that
//! fails any check is refused with an error page (it was forged, is from another issuer, or is
//! not an ID token) instead of being taken for no hint. With a valid hint the browser session
//! is signed out, and that client's grants made in the hint's session are revoked (refresh
//! tokens removed, access tokens listed under `s:<sid>:<client>`), then the browser goes to
//! `post_logout_redirect_uri` when it is registered for the hint's client. Without a hint the
//! web layer asks for confirmation first, and so it does for a valid hint about another user
//! than the browser's: that is not the browser's user asking to sign out, and the hint's user
//! keeps their sessions and grants. A `client_id` other than the hint's audience, or a
//! `post_logout_redirect_uri` registered only for another client, is refused with an error
//! page and ends nothing.

use serde_json::Value;

use super::Oidc;
use super::clients::Client;
use super::grants::{session_client_selector, session_selector};
use super::jwt::{self, str_claim};
use super::lifetimes::ACCESS_TOKEN_SECS_RANGE;
use crate::idm::{IdmError, UserId};

/// What a valid `id_token_hint` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutHint {
    pub client: Client,
    pub user_id: UserId,
    pub sid: Option<String>,
}

/// Claims only our access tokens carry; an ID token never does (they are reserved, so no
/// custom claim can add them either).
const ACCESS_TOKEN_CLAIMS: &[&str] = &["scope", "client_id", "jti"];

impl Oidc {
    /// The hint's client, user and session if it is an ID token this issuer made for a client
    /// that still exists; `None` if it is not one.
    pub fn logout_hint(&self, id_token: &str) -> Result<Option<LogoutHint>, IdmError> {
        let Ok(parts) = jwt::split(id_token) else {
            return Ok(None);
        };
        if !parts
            .header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("JWT"))
        {
            return Ok(None);
        }
        let Ok(claims) = self.keys().verify_jwt(id_token) else {
            return Ok(None);
        };
        if str_claim(&claims, "iss") != Some(self.issuer()) {
            return Ok(None);
        }
        if ACCESS_TOKEN_CLAIMS
            .iter()
            .any(|name| claims.get(name).is_some())
        {
            return Ok(None);
        }
        // We issue ID tokens with a single audience, the client, and `azp` naming it.
        let Some(Value::String(client_id)) = claims.get("aud") else {
            return Ok(None);
        };
        if str_claim(&claims, "azp") != Some(client_id.as_str()) {
            return Ok(None);
        }
        let Some(user_id) = str_claim(&claims, "sub").and_then(|s| s.parse::<UserId>().ok()) else {
            return Ok(None);
        };
        let Some(client) = self.client(client_id)? else {
            return Ok(None);
        };
        Ok(Some(LogoutHint {
            client,
            user_id,
            sid: str_claim(&claims, "sid").map(str::to_owned),
        }))
    }

    /// Ends the grants of browser session `sid` for `client` (or for every client when
    /// `None`): the user's matching refresh tokens go, and access tokens fail their check.
    pub fn revoke_session_grants(
        &self,
        user_id: UserId,
        sid: &str,
        client: Option<&Client>,
    ) -> Result<(), IdmError> {
        let now = self.idm.now();
        let (selector, lifetime) = match client {
            Some(c) => (
                session_client_selector(sid, &c.client_id),
                c.access_ttl().max(c.code_ttl()).as_secs(),
            ),
            None => (session_selector(sid), ACCESS_TOKEN_SECS_RANGE.1),
        };
        let until = now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
        let client_id = client.map(|c| c.client_id.clone());
        self.idm.store().write(|tx| {
            tx.revoke_grant(&selector, until)?;
            tx.remove_user_refresh_tokens_where(user_id, |t| {
                t.sid.as_deref() == Some(sid)
                    && client_id.as_ref().is_none_or(|c| *c == t.client_id)
            })?;
            Ok(())
        })
    }
}
