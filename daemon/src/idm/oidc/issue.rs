//! What the tokens say, and issuing them once a grant has passed its checks.
//!
//! - Access tokens are RFC 9068 JWTs (`typ: at+jwt`): `iss`, `sub`, `aud` (= `client_id`),
//!   `client_id`, `exp`, `iat`, `jti`, `scope`, and for user grants `sid`, `auth_time` and
//!   the private claims `gid` (grant id) and `gen` (the grant's revocation epoch) that
//!   userinfo and introspection check against the revocation lists. They are not stored.
//! - ID tokens: `iss`, `sub` (the user id), `aud`, `exp`, `iat`, `auth_time`, `nonce` (when
//!   sent; kept in refreshed ID tokens), `at_hash`, `amr`, `sid`, `azp`, and the claims of the
//!   granted scopes. They live as long as the access token.
//! - Refresh tokens: opaque (32 random bytes), stored as SHA-256. Each use rotates: the old
//!   token is marked used and a new one issued; presenting a used token again is reuse, which
//!   revokes the whole family and the grant (`refresh_token_reuse`). A refreshed token lives
//!   the client's refresh lifetime from its issue.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha512};

use super::Oidc;
use super::clients::Client;
use super::error::OAuthError;
use super::grants::Grant;
use super::keys::Alg;
use crate::idm::users::group_names;
use crate::idm::{IdmError, User, secrets};
use crate::store::{Access, RefreshTokenRecord, Tables};

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// `at_hash`: the left half of the hash the ID token's `alg` uses, of the access token.
fn at_hash(alg: Alg, access_token: &str) -> String {
    match alg {
        Alg::RS256 | Alg::ES256 => {
            let digest = Sha256::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default())
        }
        Alg::EdDSA => {
            let digest = Sha512::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(digest.get(..32).unwrap_or_default())
        }
    }
}

pub(super) fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The user an ID token describes, read by the caller in the snapshot it checked the grant
/// in (one read transaction for the whole exchange).
#[derive(Debug)]
pub(super) struct Holder {
    user: User,
    groups: Vec<String>,
}

impl Holder {
    /// Reads `grant`'s user, when its tokens need them (an ID token: the `openid` scope).
    pub(super) fn of<A: Access>(tx: &Tables<A>, grant: &Grant) -> Result<Option<Holder>, IdmError> {
        if !grant.has_scope("openid") {
            return Ok(None);
        }
        let record = tx
            .user(grant.user_id)?
            .ok_or_else(|| IdmError::user_not_found(&grant.user_id.to_string()))?;
        Ok(Some(Holder {
            groups: group_names(tx, record.id)?,
            user: User::from_record(record)?,
        }))
    }
}

impl Oidc {
    /// Signs the access token (and ID token with `openid`); writes a refresh token when the
    /// grant has `offline_access` (or, on refresh, hands back the one `rotated` wrote).
    pub(super) fn issue(
        &self,
        client: &Client,
        grant: &Grant,
        now: i64,
        rotated: Option<String>,
        holder: Option<Holder>,
    ) -> Result<TokenResponse, OAuthError> {
        let access_ttl = secs(client.access_ttl());
        let exp = now.saturating_add(access_ttl);
        let scope = grant.scopes.join(" ");
        let jti = secrets::random_token::<16>()?;
        let gid = grant.id_text();
        let mut access = json!({
            "iss": self.issuer(),
            "sub": grant.user_id.to_string(),
            "aud": client.client_id,
            "client_id": client.client_id,
            "exp": exp,
            "iat": now,
            "jti": jti,
            "scope": scope,
            "auth_time": grant.auth_time,
            "gid": gid,
            "gen": grant.epoch,
        });
        if let (Some(sid), Some(map)) = (&grant.sid, access.as_object_mut()) {
            map.insert("sid".to_owned(), Value::from(sid.as_str()));
        }
        let alg = self.keys().active_alg();
        let access_token = self.keys().sign_jwt(Some("at+jwt"), &access)?;
        let id_token = if let Some(holder) = holder {
            let mut claims = self.scope_claims(&holder.user, &holder.groups, &grant.scopes)?;
            claims.insert("iss".into(), self.issuer().into());
            claims.insert("sub".into(), grant.user_id.to_string().into());
            claims.insert("aud".into(), client.client_id.as_str().into());
            claims.insert("azp".into(), client.client_id.as_str().into());
            claims.insert("exp".into(), exp.into());
            claims.insert("iat".into(), now.into());
            claims.insert("auth_time".into(), grant.auth_time.into());
            if let Some(nonce) = &grant.nonce {
                claims.insert("nonce".into(), nonce.as_str().into());
            }
            claims.insert("at_hash".into(), at_hash(alg, &access_token).into());
            if !grant.amr.is_empty() {
                claims.insert("amr".into(), grant.amr.clone().into());
            }
            if let Some(sid) = &grant.sid {
                claims.insert("sid".into(), sid.as_str().into());
            }
            Some(self.keys().sign_jwt(Some("JWT"), &Value::Object(claims))?)
        } else {
            None
        };
        let refresh_token = match rotated {
            Some(token) => Some(token),
            None if grant.has_scope("offline_access") => {
                let token = secrets::random_token::<32>()?;
                let record = refresh_record(grant, now, now, client);
                self.idm
                    .store()
                    .write(|tx| tx.put_refresh_token(&secrets::sha256(token.as_bytes()), &record))
                    .map_err(IdmError::from)?;
                Some(token)
            }
            None => None,
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: client.access_ttl().as_secs(),
            scope,
            id_token,
            refresh_token,
        })
    }

    /// The claims the granted scopes release about `user` (in `groups`): `profile` → names,
    /// `preferred_username`, `updated_at` and the custom claims; `email` → `email` and
    /// `email_verified`; `groups` → `groups`.
    ///
    /// `email_verified` is the stored truth (`idm::email_verification`): an address typed at
    /// signup is false until proven, so a relying app that links accounts by verified
    /// address cannot be handed someone else's.
    pub fn scope_claims(
        &self,
        user: &crate::idm::User,
        groups: &[String],
        scopes: &[String],
    ) -> Result<Map<String, Value>, IdmError> {
        let has = |s: &str| scopes.iter().any(|x| x == s);
        let mut out = Map::new();
        if has("profile") {
            out = self.custom_claims(user, groups)?;
            // An empty name is left out rather than sent as "": relying parties take a
            // present claim as the value to show or store (OpenID Connect Core §5.3.2).
            for (claim, value) in [
                ("name", &user.display_name),
                ("given_name", &user.first_name),
                ("family_name", &user.last_name),
            ] {
                if !value.trim().is_empty() {
                    out.insert(claim.into(), value.as_str().into());
                }
            }
            out.insert("preferred_username".into(), user.username.as_str().into());
            out.insert("updated_at".into(), user.updated_at.unix_timestamp().into());
        }
        if has("email")
            && let Some(email) = &user.email
        {
            out.insert("email".into(), email.as_str().into());
            out.insert("email_verified".into(), user.email_verified.into());
        }
        if has("groups") {
            out.insert("groups".into(), groups.to_vec().into());
        }
        Ok(out)
    }
}

/// A refresh token of `grant`'s family, issued `now`. It lives the client's refresh lifetime,
/// but never past the family's absolute limit (`refresh_max`, counted from
/// `family_started_at`), so an expired chain is pruned like any expired token.
pub(super) fn refresh_record(
    grant: &Grant,
    now: i64,
    family_started_at: i64,
    client: &Client,
) -> RefreshTokenRecord {
    let lifetime_end = now.saturating_add(secs(client.refresh_ttl()));
    let chain_end = family_started_at.saturating_add(secs(client.refresh_max()));
    RefreshTokenRecord {
        grant_id: grant.id,
        user_id: grant.user_id,
        client_id: grant.client_id.clone(),
        sid: grant.sid.clone(),
        scopes: grant.scopes.clone(),
        auth_time: grant.auth_time,
        amr: grant.amr.clone(),
        nonce: grant.nonce.clone(),
        epoch: grant.epoch,
        family_started_at,
        issued_at: now,
        expires_at: lifetime_end.min(chain_end),
        used: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_algs_hash() {
        // OpenID Connect Core A.3's example.
        assert_eq!(
            at_hash(Alg::RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(at_hash(Alg::ES256, "x"), at_hash(Alg::RS256, "x"));
        assert_eq!(at_hash(Alg::EdDSA, "x").len(), 43);
    }
}
