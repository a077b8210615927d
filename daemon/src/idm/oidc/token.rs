//! The token endpoint's grants: `authorization_code` (PKCE), `client_credentials`
//! (confidential clients only) and, in `refresh.rs`, `refresh_token`; and the tokens
//! themselves.
//!
//! - Access tokens are RFC 9068 JWTs (`typ: at+jwt`): `iss`, `sub`, `aud` (= `client_id`),
//!   `client_id`, `exp`, `iat`, `jti`, `scope`, and for user grants `sid`, `auth_time` and
//!   the private claims `gid` (grant id) and `gen` (the grant's revocation epoch) that
//!   userinfo and introspection check against the revocation lists. They are not stored.
//! - ID tokens: `iss`, `sub` (the user id), `aud`, `exp`, `iat`, `auth_time`, `nonce` (when
//!   sent; kept in refreshed ID tokens), `at_hash`, `amr`, `sid`, `azp`, and the claims of the
//!   granted scopes. They live as long as the access token.
//! - Refresh tokens: opaque (32 random bytes), stored as SHA-256, issued only when the grant
//!   includes `offline_access` (OpenID Connect semantics; a relying party that wants one asks
//!   for it). Decision: that keeps the code exchange free of writes for everyone else, which
//!   the throughput target needs. Each use rotates: the old token is marked used and a new
//!   one issued; presenting a used token again is reuse, which revokes the whole family and
//!   the grant (`refresh_token_reuse`). A refreshed token lives the client's refresh lifetime
//!   from its issue.
//! - `client_credentials` writes nothing: the token's `sub` is the client id, it carries no
//!   user scopes (asking for `openid`, `profile`, … is `invalid_scope`; unknown scopes are
//!   ignored).
//!
//! A failed exchange issues nothing: tokens are signed only after every check passed, and a
//! refresh token is written in the same transaction that checks and rotates the old one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha512};

use super::Oidc;
use super::clients::Client;
use super::error::{OAuthError, OAuthErrorCode};
use super::grants::{Grant, Redeemed, grant_id_text, grant_selector};
use super::keys::Alg;
use super::liveness::{GrantRef, Refusal, grant_refusal};
use crate::idm::audit::{self, Subject, detail};
use crate::idm::{Actor, IdmError, UserId, secrets};
use crate::store::{RefreshTokenRecord, WriteTx};

/// How a client presented itself at the token, introspection or revocation endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    /// `None`: no secret (a public client).
    pub secret: Option<String>,
    /// Whether they came in an `Authorization: Basic` header (then `invalid_client` is
    /// answered with `WWW-Authenticate`).
    pub basic: bool,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("basic", &self.basic)
            .finish()
    }
}

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

/// The parameters of a token request that the grants read.
#[derive(Clone, Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .finish_non_exhaustive()
    }
}

/// `at_hash`: the left half of the hash the ID token's `alg` uses, of the access token.
pub fn at_hash(alg: Alg, access_token: &str) -> String {
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

/// Scopes that only make sense with a user.
const USER_SCOPES: &[&str] = &["openid", "profile", "email", "groups", "offline_access"];

impl Oidc {
    /// Authenticates the client (`client_secret_basic`, `client_secret_post`, or none for a
    /// public client). Every failure is the same `invalid_client`.
    pub fn authenticate(&self, credentials: &ClientCredentials) -> Result<Client, OAuthError> {
        let client = match &credentials.secret {
            Some(secret) => self.authenticate_client(&credentials.client_id, secret)?,
            None => self
                .client(&credentials.client_id)?
                .filter(|client| client.public),
        };
        client.ok_or_else(OAuthError::invalid_client)
    }

    /// Whether answering `request` may write to the store: refresh rotation, a refresh token
    /// for an `offline_access` code, revoking a replayed code's grant. The web layer runs the
    /// requests that do not inline. A forecast, not a promise: a code redeemed by another
    /// request in between is a replay, and is revoked wherever it is found.
    pub fn token_may_write(&self, request: &TokenRequest) -> bool {
        match (request.grant_type.as_deref(), request.code.as_deref()) {
            (Some("authorization_code"), Some(code)) => self.codes().redeem_may_write(code),
            (Some("refresh_token"), _) => true,
            // client_credentials, and requests refused before any work.
            _ => false,
        }
    }

    /// `POST /token`, after client authentication.
    pub fn token(
        &self,
        actor: &Actor,
        client: &Client,
        request: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        match request.grant_type.as_deref() {
            None => Err(OAuthError::invalid_request("grant_type is missing")),
            Some("authorization_code") => self.exchange_code(actor, client, request),
            Some("refresh_token") => self.refresh(actor, client, request),
            Some("client_credentials") => self.client_credentials(client, request),
            Some(_) => Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                "grant_type must be authorization_code, refresh_token or client_credentials",
            )),
        }
    }

    fn exchange_code(
        &self,
        actor: &Actor,
        client: &Client,
        request: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let code = request
            .code
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
        let redirect_uri = request
            .redirect_uri
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("redirect_uri is missing"))?;
        let now = self.idm.now();
        let redeemed = self.codes().redeem(now, code);
        let pending = match redeemed {
            Redeemed::Fresh(pending) => pending,
            Redeemed::Unknown => {
                return Err(OAuthError::invalid_grant(
                    "the code is invalid, expired or already used",
                ));
            }
            Redeemed::Replayed {
                grant_id,
                client_id,
                user_id,
            } => {
                self.revoke_replayed(actor, grant_id, &client_id, user_id)?;
                return Err(OAuthError::invalid_grant(
                    "the code is invalid, expired or already used",
                ));
            }
        };
        // Burned whatever happens next: a code is good for one attempt.
        if pending.grant.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(
                "the code was issued to another client",
            ));
        }
        if pending.redirect_uri != redirect_uri {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        match (&pending.challenge, request.code_verifier.as_deref()) {
            (Some(challenge), Some(verifier)) => {
                if !challenge.verify(verifier) {
                    return Err(OAuthError::invalid_grant(
                        "code_verifier does not match the code_challenge",
                    ));
                }
            }
            (Some(_), None) => {
                return Err(OAuthError::invalid_grant("code_verifier is missing"));
            }
            (None, Some(_)) => {
                return Err(OAuthError::invalid_grant(
                    "code_verifier was sent but the authorization request had no code_challenge",
                ));
            }
            (None, None) => {}
        }
        let grant = pending.grant;
        self.check_grant_live(&grant)?;
        self.issue(client, &grant, now, None)
    }

    /// A code used twice: revoke what its first use issued.
    fn revoke_replayed(
        &self,
        actor: &Actor,
        grant_id: [u8; 16],
        client_id: &str,
        user_id: UserId,
    ) -> Result<(), IdmError> {
        let now = self.idm.now();
        let until = self
            .client(client_id)?
            .map_or(0, |c| secs(c.access_ttl().max(c.refresh_ttl())));
        self.idm.store().write(|tx| {
            revoke_grant_family(tx, grant_id, now.saturating_add(until))?;
            let username = tx.user(user_id)?.map(|u| u.username);
            let subject = username
                .as_deref()
                .map(|name| Subject::linked(name, user_id));
            let details = vec![
                detail("client_id", client_id),
                detail("grant", grant_id_text(&grant_id)),
            ];
            audit::append(tx, now, actor, "oidc_code_replay", subject, details)?;
            Ok(())
        })
    }

    /// The grant may still be used (see `liveness`): a code is refused when its user was
    /// disabled, left the client's groups, or its grant was revoked since it was issued.
    fn check_grant_live(&self, grant: &Grant) -> Result<(), OAuthError> {
        let tx = self.idm.store().read().map_err(IdmError::from)?;
        let gid = grant.id_text();
        let refusal = grant_refusal(
            &tx,
            GrantRef {
                user_id: grant.user_id,
                client_id: &grant.client_id,
                gid: &gid,
                sid: grant.sid.as_deref(),
                epoch: grant.epoch,
            },
        )?;
        match refusal {
            None => Ok(()),
            Some(refusal) => Err(refused_grant(refusal)),
        }
    }

    /// Signs the access token (and ID token with `openid`); writes a refresh token when the
    /// grant has `offline_access` (or, on refresh, hands back the one `rotated` wrote).
    pub(super) fn issue(
        &self,
        client: &Client,
        grant: &Grant,
        now: i64,
        rotated: Option<String>,
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
        let id_token = if grant.has_scope("openid") {
            let entry = self.idm.get_user(&grant.user_id.to_string())?;
            let mut claims = self.scope_claims(&entry.user, &entry.groups, &grant.scopes)?;
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

    fn client_credentials(
        &self,
        client: &Client,
        request: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        if client.public {
            return Err(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "public clients cannot use client_credentials",
            ));
        }
        let asked = request.scope.as_deref().unwrap_or_default();
        if asked.split(' ').any(|s| USER_SCOPES.contains(&s)) {
            return Err(OAuthError::invalid_scope(
                "client_credentials tokens carry no user scopes",
            ));
        }
        let now = self.idm.now();
        let ttl = secs(client.access_ttl());
        let claims = json!({
            "iss": self.issuer(),
            "sub": client.client_id,
            "aud": client.client_id,
            "client_id": client.client_id,
            "exp": now.saturating_add(ttl),
            "iat": now,
            "jti": secrets::random_token::<16>()?,
            "scope": "",
        });
        let access_token = self.keys().sign_jwt(Some("at+jwt"), &claims)?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: client.access_ttl().as_secs(),
            scope: String::new(),
            id_token: None,
            refresh_token: None,
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

/// The `invalid_grant` a client gets for a grant that can no longer be used.
pub(super) fn refused_grant(refusal: Refusal) -> OAuthError {
    OAuthError::invalid_grant(match refusal {
        Refusal::UserGone | Refusal::UserDisabled => "the user can no longer sign in",
        Refusal::ClientGone => "the client no longer exists",
        Refusal::NotInGroup => "the user may no longer use this application",
        Refusal::Revoked => "the authorization was revoked",
        Refusal::ChainLimit => {
            "the refresh token chain reached its time limit: the user must sign in again"
        }
    })
}

/// Revokes one grant: its refresh tokens go, and its access tokens fail the revocation check
/// until `until`.
pub(crate) fn revoke_grant_family(
    tx: &mut WriteTx<'_>,
    grant_id: [u8; 16],
    until: i64,
) -> Result<(), IdmError> {
    tx.remove_grant_refresh_tokens(grant_id)?;
    tx.revoke_grant(&grant_selector(&grant_id_text(&grant_id)), until)?;
    Ok(())
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

    #[test]
    fn debug_hides_secrets() {
        let c = ClientCredentials {
            client_id: "id".into(),
            secret: Some("s3cret".into()),
            basic: true,
        };
        assert!(!format!("{c:?}").contains("s3cret"));
        let r = TokenRequest {
            code: Some("thecode".into()),
            ..TokenRequest::default()
        };
        assert!(!format!("{r:?}").contains("thecode"));
    }
}
