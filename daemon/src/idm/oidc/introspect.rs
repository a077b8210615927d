//! Token introspection (RFC 7662). The caller has authenticated the client; a client sees
//! only its own tokens: anything else, and anything not live, is `{"active": false}`.

use serde_json::{Value, json};

use super::Oidc;
use super::clients::Client;
use super::refresh::refresh_refusal;
use crate::idm::{IdmError, secrets};

fn inactive() -> Value {
    json!({"active": false})
}

/// A JWT has two dots; our refresh tokens are base64url without any.
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

impl Oidc {
    /// The RFC 7662 answer for `token`, as `client` may see it.
    pub fn introspect(&self, client: &Client, token: &str) -> Result<Value, IdmError> {
        if looks_like_jwt(token) {
            let Ok(access) = self.verify_access_token(token) else {
                return Ok(inactive());
            };
            if access.client_id != client.client_id {
                return Ok(inactive());
            }
            let mut out = json!({
                "active": true,
                "token_type": "Bearer",
                "scope": access.scopes.join(" "),
                "client_id": access.client_id,
                "exp": access.exp,
            });
            if let Some(map) = out.as_object_mut() {
                for name in ["iat", "sub", "aud", "iss", "jti", "sid", "auth_time"] {
                    if let Some(value) = access.claims.get(name) {
                        map.insert(name.to_owned(), value.clone());
                    }
                }
                if let Some(user_id) = access.user_id
                    && let Some(user) = self.idm.store().read()?.user(user_id)?
                {
                    map.insert("username".to_owned(), user.username.into());
                }
            }
            return Ok(out);
        }
        let now = self.idm.now();
        let tx = self.idm.store().read()?;
        let Some(record) = tx.refresh_token(&secrets::sha256(token.as_bytes()))? else {
            return Ok(inactive());
        };
        let user = tx.user(record.user_id)?;
        let live = record.client_id == client.client_id
            && !record.used
            && record.expires_at > now
            && refresh_refusal(&tx, &record, client, now)?.is_none();
        if !live {
            return Ok(inactive());
        }
        let mut out = json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": record.scopes.join(" "),
            "client_id": record.client_id,
            "exp": record.expires_at,
            "iat": record.issued_at,
            "sub": record.user_id.to_string(),
            "aud": record.client_id,
            "iss": self.issuer(),
        });
        if let (Some(map), Some(user)) = (out.as_object_mut(), user) {
            map.insert("username".to_owned(), user.username.into());
        }
        Ok(out)
    }
}
