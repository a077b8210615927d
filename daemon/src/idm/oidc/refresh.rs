//! The `refresh_token` grant: rotation, reuse detection, and the checks a refresh must pass
//! every time, because a refresh token outlives the sign-in that made it.
//!
//! Each use rotates: the old token is marked used and a new one issued in the same write
//! transaction; presenting a used token again is reuse, which revokes the whole family and
//! the grant (`refresh_token_reuse`). Before rotating, the grant must still be live
//! (`liveness`: user enabled, client there and still admitting the user, nothing revoked),
//! and the family must be younger than the client's absolute limit (`refresh_max`, default
//! 90 days from the code exchange, whatever the rotations: the lifetime alone slides with
//! every use). A refresh refused for any of these reasons ends the family at once, with an
//! `oidc_refresh_refused` audit event naming why, and answers `invalid_grant`: the user must
//! sign in again.

use super::Oidc;
use super::authorize::known_scopes;
use super::clients::Client;
use super::error::OAuthError;
use super::grants::{Grant, grant_id_text};
use super::issue::{Holder, TokenResponse, refresh_record, secs};
use super::liveness::{GrantRef, Refusal, grant_refusal};
use super::token::{TokenRequest, refused_grant, revoke_grant_family};
use crate::idm::audit::{self, Subject, detail};
use crate::idm::{Actor, IdmError, secrets};
use crate::store::{Access, RefreshTokenRecord, Tables};

/// Why `record` may not be refreshed at `now` for `client`, if it may not. Also what
/// introspection reports as inactive.
pub(crate) fn refresh_refusal<A: Access>(
    tx: &Tables<A>,
    record: &RefreshTokenRecord,
    client: &Client,
    now: i64,
) -> Result<Option<Refusal>, IdmError> {
    let gid = grant_id_text(&record.grant_id);
    let refusal = grant_refusal(
        tx,
        GrantRef {
            user_id: record.user_id,
            client_id: &record.client_id,
            gid: &gid,
            sid: record.sid.as_deref(),
            epoch: record.epoch,
        },
    )?;
    if refusal.is_some() {
        return Ok(refusal);
    }
    let chain_end = record
        .family_started_at
        .saturating_add(secs(client.refresh_max()));
    Ok((now >= chain_end).then_some(Refusal::ChainLimit))
}

impl Oidc {
    pub(super) fn refresh(
        &self,
        actor: &Actor,
        client: &Client,
        request: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = request
            .refresh_token
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
        let now = self.idm.now();
        let hash = secrets::sha256(presented.as_bytes());
        let new_token = secrets::random_token::<32>()?;
        let new_hash = secrets::sha256(new_token.as_bytes());
        let asked = request.scope.as_deref().map(|s| known_scopes(Some(s)));
        let bad = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
        // One transaction: check, then rotate, or end the family (reuse, a grant that is no
        // longer live). Ending must commit, so the closure returns the outcome instead of
        // failing.
        enum Outcome {
            Rotated(Grant),
            Ended(Refusal),
            Refused(OAuthError),
        }
        let outcome = self.idm.store().write(|tx| {
            let Some(mut record) = tx.refresh_token(&hash)? else {
                return Ok::<_, IdmError>(Outcome::Refused(bad()));
            };
            if record.client_id != client.client_id {
                return Ok(Outcome::Refused(bad()));
            }
            let subject_name = tx.user(record.user_id)?.map(|u| u.username);
            let subject = subject_name
                .as_deref()
                .map(|name| Subject::linked(name, record.user_id));
            let mut details = vec![
                detail("client_id", client.client_id.as_str()),
                detail("grant", grant_id_text(&record.grant_id)),
            ];
            let until = record
                .expires_at
                .max(now.saturating_add(secs(client.access_ttl())));
            if record.used {
                revoke_grant_family(tx, record.grant_id, until)?;
                audit::append(tx, now, actor, "refresh_token_reuse", subject, details)?;
                return Ok(Outcome::Refused(bad()));
            }
            // Before the expiry check: a chain's last token expires when the chain ends (see
            // `refresh_record`), and the client should hear why.
            match refresh_refusal(tx, &record, client, now)? {
                None => {}
                // Already ended by whatever revoked it.
                Some(Refusal::Revoked) => return Ok(Outcome::Refused(bad())),
                Some(refusal) => {
                    revoke_grant_family(tx, record.grant_id, until)?;
                    details.push(detail("reason", refusal.as_str()));
                    audit::append(tx, now, actor, "oidc_refresh_refused", subject, details)?;
                    return Ok(Outcome::Ended(refusal));
                }
            }
            if record.expires_at <= now {
                return Ok(Outcome::Refused(bad()));
            }
            let scopes = match &asked {
                None => record.scopes.clone(),
                Some(asked) => {
                    if asked.iter().any(|s| !record.scopes.contains(s)) {
                        return Ok(Outcome::Refused(OAuthError::invalid_scope(
                            "a refresh cannot add scopes the user did not grant",
                        )));
                    }
                    asked.clone()
                }
            };
            record.used = true;
            tx.put_refresh_token(&hash, &record)?;
            let grant = Grant {
                id: record.grant_id,
                user_id: record.user_id,
                client_id: record.client_id.clone(),
                sid: record.sid.clone(),
                scopes,
                auth_time: record.auth_time,
                amr: record.amr.clone(),
                nonce: record.nonce.clone(),
                epoch: record.epoch,
            };
            // The new token keeps the family's full scope set, whatever this refresh asked,
            // and the family's start.
            let mut next = refresh_record(&grant, now, record.family_started_at, client);
            next.scopes = record.scopes.clone();
            tx.put_refresh_token(&new_hash, &next)?;
            Ok(Outcome::Rotated(grant))
        })?;
        match outcome {
            Outcome::Rotated(grant) => {
                let tx = self.idm.store().read().map_err(IdmError::from)?;
                let holder = Holder::of(&tx, &grant)?;
                drop(tx);
                self.issue(client, &grant, now, Some(new_token), holder)
            }
            Outcome::Ended(refusal) => Err(refused_grant(refusal)),
            Outcome::Refused(error) => Err(error),
        }
    }
}
