//! The token endpoint's grants: `authorization_code` (PKCE), `client_credentials`
//! (confidential clients only) and, in `refresh.rs`, `refresh_token`. What the tokens say is
//! `issue.rs`.
//!
//! - Refresh tokens are issued only when the grant includes `offline_access` (OpenID Connect
//!   semantics; a relying party that wants one asks for it). Decision: that keeps the code
//!   exchange free of writes for everyone else, which the throughput target needs.
//! - `client_credentials` writes nothing: the token's `sub` is the client id, it carries no
//!   user scopes (asking for `openid`, `profile`, … is `invalid_scope`; unknown scopes are
//!   ignored).
//!
//! A failed exchange issues nothing: tokens are signed only after every check passed, and a
//! refresh token is written in the same transaction that checks and rotates the old one.

use serde_json::json;

use super::Oidc;
use super::clients::Client;
use super::error::{OAuthError, OAuthErrorCode};
use super::grants::{Grant, Redeemed, grant_id_text, grant_selector};
use super::issue::{Holder, secs};
use super::liveness::{GrantRef, Refusal, read_grant_refusal};
use crate::idm::audit::{self, Subject, detail};
use crate::idm::{Actor, IdmError, Snapshot, UserId, secrets};
use crate::store::WriteTx;

pub use super::issue::TokenResponse;

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
        let (redeemed, snapshot) = self.codes().redeem(&self.idm, now, code)?;
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
        let holder = self.live_holder(&grant, snapshot)?;
        self.issue(client, &grant, now, None, holder)
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

    /// Checks that the grant may still be used (see `liveness`): a code is refused when its
    /// user was disabled, left the client's groups, or its grant was revoked since it was
    /// issued. In the same snapshot (the one redeeming the code read it in, if any), reads
    /// the user its ID token describes.
    fn live_holder(
        &self,
        grant: &Grant,
        snapshot: Option<Snapshot>,
    ) -> Result<Option<Holder>, OAuthError> {
        let snapshot = match snapshot {
            Some(snapshot) => snapshot,
            None => self.idm.snapshot()?,
        };
        let tx = snapshot.tx();
        let gid = grant.id_text();
        let refusal = read_grant_refusal(
            tx,
            GrantRef {
                user_id: grant.user_id,
                client_id: &grant.client_id,
                gid: &gid,
                sid: grant.sid.as_deref(),
                epoch: grant.epoch,
            },
        )?;
        match refusal {
            None => Ok(Holder::of(tx, grant)?),
            Some(refusal) => Err(refused_grant(refusal)),
        }
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
