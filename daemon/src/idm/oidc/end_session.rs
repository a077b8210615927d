//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
//!
//! `id_token_hint` is checked by signature and issuer only (an expired ID token is a fine
//! hint). With a valid hint the browser session is signed out, and that client's grants made
//! in the hint's session are revoked (refresh tokens removed, access tokens listed under
//! `s:<sid>:<client>`), then the browser goes to `post_logout_redirect_uri` when it is
//! registered for the hint's client. Without a valid hint the web layer asks for
//! confirmation first.

use serde_json::Value;

use super::Oidc;
use super::authorize::str_claim;
use super::clients::{ACCESS_TOKEN_SECS_RANGE, Client};
use super::grants::{session_client_selector, session_selector};
use crate::idm::{IdmError, UserId};

/// What a valid `id_token_hint` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutHint {
    pub client: Client,
    pub user_id: UserId,
    pub sid: Option<String>,
}

impl Oidc {
    /// The hint's client, user and session, if it is an ID token we issued to a client that
    /// still exists.
    pub fn logout_hint(&self, id_token: &str) -> Result<Option<LogoutHint>, IdmError> {
        let Ok(claims) = self.keys().verify_jwt(id_token) else {
            return Ok(None);
        };
        if str_claim(&claims, "iss") != Some(self.issuer()) {
            return Ok(None);
        }
        let client_id = match claims.get("aud") {
            Some(Value::String(aud)) => aud.clone(),
            Some(Value::Array(auds)) => match auds.first().and_then(Value::as_str) {
                Some(aud) => aud.to_owned(),
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        let Some(user_id) = str_claim(&claims, "sub").and_then(|s| s.parse::<UserId>().ok()) else {
            return Ok(None);
        };
        let Some(client) = self.client(&client_id)? else {
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
