//! Checking our own access tokens ([`Oidc::verify_access_token`], shared with introspection)
//! and the UserInfo endpoint ([`Oidc::userinfo`]).
//!
//! An access token is live when its signature verifies with a published key, its header says
//! `at+jwt`, `iss` is ours, `exp` is in the future, its `jti` was not revoked, and (for a user
//! token) its grant is still live (`liveness`: not revoked by id, by session and client, or by
//! a newer (user, client) epoch; the client still exists and still admits the user; the user
//! exists and is enabled). A `client_credentials` token needs only its client to exist.

use serde_json::{Map, Value};

use super::Oidc;
use super::error::{OAuthError, OAuthErrorCode};
use super::jwt::{self, str_claim};
use super::liveness::{GrantRef, Refusal, read_grant_refusal};
use crate::idm::{IdmError, UserId};

/// The claims of a live access token that the endpoints use.
#[derive(Clone, Debug)]
pub struct AccessToken {
    pub claims: Map<String, Value>,
    pub client_id: String,
    /// `None` for a `client_credentials` token.
    pub user_id: Option<UserId>,
    pub scopes: Vec<String>,
    pub jti: String,
    pub exp: i64,
}

impl AccessToken {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

fn dead(reason: &'static str) -> OAuthError {
    OAuthError::invalid_token(reason)
}

impl Oidc {
    /// The token's claims if it is one of our live access tokens; else `invalid_token`.
    pub fn verify_access_token(&self, token: &str) -> Result<AccessToken, OAuthError> {
        let header = jwt::split(token)
            .map_err(|_| dead("the access token is malformed"))?
            .header;
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt"))
        {
            return Err(dead("this is not an access token"));
        }
        let claims = match self.keys().verify_jwt(token) {
            Ok(Value::Object(map)) => map,
            _ => return Err(dead("the access token is invalid")),
        };
        let value = Value::Object(claims);
        if str_claim(&value, "iss") != Some(self.issuer()) {
            return Err(dead("the access token was not issued here"));
        }
        let now = self.idm.now();
        let exp = value.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if exp <= now {
            return Err(dead("the access token has expired"));
        }
        let client_id = str_claim(&value, "client_id")
            .ok_or_else(|| dead("the access token is invalid"))?
            .to_owned();
        let jti = str_claim(&value, "jti")
            .ok_or_else(|| dead("the access token is invalid"))?
            .to_owned();
        let scopes: Vec<String> = str_claim(&value, "scope")
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let gid = str_claim(&value, "gid");
        let user_id = match gid {
            Some(_) => Some(
                str_claim(&value, "sub")
                    .and_then(|s| s.parse::<UserId>().ok())
                    .ok_or_else(|| dead("the access token is invalid"))?,
            ),
            None => None,
        };
        let tx = self.idm.store().read().map_err(IdmError::from)?;
        let revoked = dead("the access token was revoked");
        if tx.token_revoked(&jti).map_err(IdmError::from)? {
            return Err(revoked);
        }
        match (gid, user_id) {
            (Some(gid), Some(user_id)) => {
                let grant = GrantRef {
                    user_id,
                    client_id: &client_id,
                    gid,
                    sid: str_claim(&value, "sid"),
                    epoch: value.get("gen").and_then(Value::as_u64).unwrap_or(0),
                };
                if let Some(refusal) = read_grant_refusal(&tx, grant)? {
                    return Err(dead(match refusal {
                        Refusal::NotInGroup => "the user may no longer use this application",
                        Refusal::UserGone | Refusal::UserDisabled => {
                            "the user can no longer sign in"
                        }
                        _ => "the access token was revoked",
                    }));
                }
            }
            _ => {
                if tx.client(&client_id).map_err(IdmError::from)?.is_none() {
                    return Err(revoked);
                }
            }
        }
        let Value::Object(claims) = value else {
            return Err(dead("the access token is invalid"));
        };
        Ok(AccessToken {
            claims,
            client_id,
            user_id,
            scopes,
            jti,
            exp,
        })
    }

    /// `GET|POST /userinfo`: `sub` and the claims of the token's scopes. Needs a user token
    /// with `openid` (else `insufficient_scope`).
    pub fn userinfo(&self, token: &str) -> Result<Map<String, Value>, OAuthError> {
        let access = self.verify_access_token(token)?;
        let Some(user_id) = access.user_id else {
            return Err(OAuthError::new(
                OAuthErrorCode::InsufficientScope,
                "this token was not issued for a user",
            ));
        };
        if !access.has_scope("openid") {
            return Err(OAuthError::new(
                OAuthErrorCode::InsufficientScope,
                "the token lacks the openid scope",
            ));
        }
        let entry = self.idm.get_user(&user_id.to_string())?;
        let mut claims = self.scope_claims(&entry.user, &entry.groups, &access.scopes)?;
        claims.insert("sub".into(), user_id.to_string().into());
        Ok(claims)
    }
}
