//! Consent: which scopes a user has allowed a client, remembered per user
//! and client, listed as the user's authorized apps and revocable (which
//! also revokes the user's tokens for that client).
//!
//! A client that skips consent still gets a record, marked `implied`, the first time a user
//! signs in to it (and when it asks for more scopes): otherwise the app would be missing from
//! the user's authorized apps and could not be revoked. An implied record never counts as the
//! user's answer: if the client stops skipping consent, the user is asked.

use time::OffsetDateTime;

use super::Oidc;
use super::clients::client_not_found;
use crate::idm::audit::{self, Subject, detail};
use crate::idm::users::resolve_user;
use crate::idm::{Actor, IdmError, UserId, to_time};
use crate::store::ConsentRecord;

/// An app the user has authorized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub client_id: String,
    /// The client's current name (its id if it has gone).
    pub client_name: String,
    /// Sorted.
    pub scopes: Vec<String>,
    pub granted_at: OffsetDateTime,
    /// Recorded without asking, because the client skips consent.
    pub implied: bool,
}

/// How a consent came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentGiven {
    /// The user answered the consent screen.
    Asked,
    /// The client skips consent: recorded so the app can be listed and revoked.
    Implied,
}

fn authorization_not_found(client_id: &str) -> IdmError {
    IdmError::NotFound {
        what: "authorization",
        key: client_id.to_owned(),
    }
}

impl Oidc {
    /// The consent screen's list: what each scope lets the client see.
    pub fn describe_scopes(scopes: &[String]) -> Vec<&'static str> {
        scopes
            .iter()
            .filter_map(|s| match s.as_str() {
                "openid" => Some("Know who you are (your account id)"),
                "profile" => Some("Your name and username"),
                "email" => Some("Your email address"),
                "groups" => Some("The groups you belong to"),
                "offline_access" => Some("Stay connected when you are not signed in"),
                _ => None,
            })
            .collect()
    }

    /// The scopes `user` has granted `client_id` when asked, if any (an implied record is
    /// not an answer).
    pub fn consent(&self, user: UserId, client_id: &str) -> Result<Option<Vec<String>>, IdmError> {
        Ok(self
            .idm
            .store()
            .read()?
            .consent(user, client_id)?
            .filter(|c| !c.implied)
            .map(|c| c.scopes))
    }

    /// Records that `user` allowed `client_id` these scopes, added to any granted before
    /// (`oidc_consent_granted`). An implied grant (a client that skips consent) is recorded
    /// with `implied`, and only when no record covers the scopes yet.
    pub fn grant_consent(
        &self,
        actor: &Actor,
        user: UserId,
        client_id: &str,
        scopes: &[String],
        given: ConsentGiven,
    ) -> Result<(), IdmError> {
        let implied = given == ConsentGiven::Implied;
        let now = self.idm.now();
        self.idm.store().write(|tx| {
            let user_record = tx
                .user(user)?
                .ok_or_else(|| IdmError::user_not_found(&user.to_string()))?;
            let client = tx
                .client(client_id)?
                .ok_or_else(|| client_not_found(client_id))?;
            let existing = tx.consent(user, client_id)?;
            if implied
                && existing
                    .as_ref()
                    .is_some_and(|c| scopes.iter().all(|s| c.scopes.contains(s)))
            {
                // Another sign-in recorded it first.
                return Ok(());
            }
            // The user's own answer stays theirs: an explicit record is never made implied.
            let implied = implied && existing.as_ref().is_none_or(|c| c.implied);
            let mut all: Vec<String> = existing.map(|c| c.scopes).unwrap_or_default();
            all.extend(scopes.iter().cloned());
            all.sort_unstable();
            all.dedup();
            tx.put_consent(
                user,
                client_id,
                &ConsentRecord {
                    scopes: all,
                    granted_at: now,
                    implied,
                },
            )?;
            let mut details = vec![
                detail("client_id", client_id),
                detail("client", client.name.as_str()),
                detail("scopes", scopes.join(" ")),
            ];
            if implied {
                details.push(detail("implied", "true"));
            }
            let subject = Subject::linked(&user_record.username, user);
            audit::append(
                tx,
                now,
                actor,
                "oidc_consent_granted",
                Some(subject),
                details,
            )?;
            Ok(())
        })
    }

    /// The apps a user (username, email or id) has authorized, by name.
    pub fn list_authorizations(&self, user_ref: &str) -> Result<Vec<Authorization>, IdmError> {
        let tx = self.idm.store().read()?;
        let user = resolve_user(&tx, user_ref)?;
        let mut out = Vec::new();
        for (client_id, consent) in tx.user_consents(user.id)? {
            let client_name = tx
                .client(&client_id)?
                .map_or_else(|| client_id.clone(), |c| c.name);
            out.push(Authorization {
                client_id,
                client_name,
                scopes: consent.scopes,
                granted_at: to_time(consent.granted_at)?,
                implied: consent.implied,
            });
        }
        out.sort_by_cached_key(|a| (a.client_name.to_lowercase(), a.client_id.clone()));
        Ok(out)
    }

    /// Forgets a user's consent to a client and revokes the user's tokens
    /// for it (`oidc_consent_revoked`). The next sign-in asks again.
    pub fn revoke_authorization(
        &self,
        actor: &Actor,
        user_ref: &str,
        client_id: &str,
    ) -> Result<(), IdmError> {
        let client_id = client_id.trim();
        let now = self.idm.now();
        self.idm.store().write(|tx| {
            let user = resolve_user(tx, user_ref)?;
            tx.remove_consent(user.id, client_id)?
                .ok_or_else(|| authorization_not_found(client_id))?;
            let client_name = tx
                .client(client_id)?
                .map_or_else(|| client_id.to_owned(), |c| c.name);
            let details = vec![
                detail("client_id", client_id),
                detail("client", client_name),
            ];
            let subject = Subject::linked(&user.username, user.id);
            audit::append(
                tx,
                now,
                actor,
                "oidc_consent_revoked",
                Some(subject),
                details,
            )?;
            Ok(())
        })
    }
}
