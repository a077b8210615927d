//! Token revocation (RFC 7009). The caller has authenticated the client. Revoking an access
//! token lists its `jti` until it expires; revoking a refresh token ends its whole grant
//! (every refresh token of the family, and the grant's access tokens), as §2.1 suggests.
//! Unknown tokens, and tokens of other clients, are ignored: the answer is always 200.

use super::Oidc;
use super::clients::Client;
use super::introspect::looks_like_jwt;
use super::token::revoke_grant_family;
use crate::idm::{IdmError, secrets};

impl Oidc {
    pub fn revoke(&self, client: &Client, token: &str) -> Result<(), IdmError> {
        if looks_like_jwt(token) {
            let Ok(access) = self.verify_access_token(token) else {
                return Ok(());
            };
            if access.client_id != client.client_id {
                return Ok(());
            }
            return self
                .idm
                .store()
                .write(|tx| Ok(tx.revoke_token(&access.jti, access.exp)?));
        }
        let hash = secrets::sha256(token.as_bytes());
        let access_ttl = i64::try_from(client.access_ttl().as_secs()).unwrap_or(i64::MAX);
        let now = self.idm.now();
        self.idm.store().write(|tx| {
            let Some(record) = tx.refresh_token(&hash)? else {
                return Ok(());
            };
            if record.client_id != client.client_id {
                return Ok(());
            }
            revoke_grant_family(tx, record.grant_id, now.saturating_add(access_ttl))
        })
    }
}

impl Oidc {
    /// Removes expired refresh tokens and revocation entries; returns how many. The daemon
    /// calls it with its other sweeps.
    pub fn sweep_tokens(&self) -> Result<u64, IdmError> {
        let now = self.idm.now();
        Ok(self.idm.store().write(|tx| tx.prune_oidc(now))?)
    }
}
