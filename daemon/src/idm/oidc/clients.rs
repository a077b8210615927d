//! OIDC clients (relying parties): registering, changing, listing and
//! deleting them, and checking their secrets.
//!
//! A client id is 24 random lowercase base32 characters (120 bits): readable
//! and safe in URLs. A confidential client's secret is 32 random bytes,
//! base64url, shown exactly once (at creation and on rotation) and stored
//! only as its SHA-256: it is high-entropy, so a slow hash would buy nothing;
//! it is compared in constant time.

use std::time::Duration;

use latchkey_protocol::{ClientPatch, NewClient, TokenLifetimes};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::Oidc;
use super::lifetimes::{
    DEFAULT_ACCESS_TOKEN_SECS, DEFAULT_CODE_SECS, DEFAULT_REFRESH_MAX_SECS,
    DEFAULT_REFRESH_TOKEN_SECS, lifetime_details, merge_lifetimes, validate_lifetimes,
};
use super::redirect_uris;
use crate::idm::audit::{self, Subject, detail};
use crate::idm::validate;
use crate::idm::{Actor, GroupId, IdmError, Snapshot, secrets, to_time};
use crate::store::{Access, ClientRecord, Tables};

/// Longest client name, in characters.
pub const CLIENT_NAME_MAX: usize = 100;

/// A registered client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub require_pkce: bool,
    /// Authorization requests must come through `/par` (RFC 9126).
    pub require_par: bool,
    pub skip_consent: bool,
    pub allow_wildcard_redirects: bool,
    /// Group names; empty means every user may sign in.
    pub allowed_groups: Vec<String>,
    pub lifetimes: TokenLifetimes,
    pub created_at: OffsetDateTime,
}

impl Client {
    /// Whether `uri` is one of the registered redirect URIs (exactly, or by
    /// the client's wildcard: see `redirect_uris`).
    pub fn redirect_uri_allowed(&self, uri: &str) -> bool {
        redirect_uris::matches_any(&self.redirect_uris, uri, self.allow_wildcard_redirects)
    }

    /// Whether `uri` is a registered post-logout redirect URI.
    pub fn logout_uri_allowed(&self, uri: &str) -> bool {
        redirect_uris::matches_any(
            &self.logout_redirect_uris,
            uri,
            self.allow_wildcard_redirects,
        )
    }

    /// Public clients always need PKCE; confidential ones when configured.
    pub fn pkce_required(&self) -> bool {
        self.public || self.require_pkce
    }

    pub fn code_ttl(&self) -> Duration {
        Duration::from_secs(self.lifetimes.code_secs.unwrap_or(DEFAULT_CODE_SECS))
    }

    /// Also the ID token's lifetime.
    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(
            self.lifetimes
                .access_token_secs
                .unwrap_or(DEFAULT_ACCESS_TOKEN_SECS),
        )
    }

    pub fn refresh_ttl(&self) -> Duration {
        Duration::from_secs(
            self.lifetimes
                .refresh_token_secs
                .unwrap_or(DEFAULT_REFRESH_TOKEN_SECS),
        )
    }

    /// The absolute limit on a refresh-token chain, from its first token.
    pub fn refresh_max(&self) -> Duration {
        Duration::from_secs(
            self.lifetimes
                .refresh_max_secs
                .unwrap_or(DEFAULT_REFRESH_MAX_SECS),
        )
    }
}

fn client_from_record<A: Access>(tx: &Tables<A>, record: ClientRecord) -> Result<Client, IdmError> {
    let mut allowed_groups = Vec::with_capacity(record.allowed_groups.len());
    for id in &record.allowed_groups {
        // A deleted group simply no longer grants access.
        if let Some(group) = tx.group(*id)? {
            allowed_groups.push(group.name);
        }
    }
    allowed_groups.sort_unstable();
    Ok(Client {
        client_id: record.client_id,
        name: record.name,
        redirect_uris: record.redirect_uris,
        logout_redirect_uris: record.logout_redirect_uris,
        public: record.public,
        require_pkce: record.require_pkce,
        require_par: record.require_par,
        skip_consent: record.skip_consent,
        allow_wildcard_redirects: record.allow_wildcard_redirects,
        allowed_groups,
        lifetimes: TokenLifetimes {
            code_secs: record.code_secs,
            access_token_secs: record.access_token_secs,
            refresh_token_secs: record.refresh_token_secs,
            refresh_max_secs: record.refresh_max_secs,
        },
        created_at: to_time(record.created_at)?,
    })
}

pub(crate) fn client_not_found(client_id: &str) -> IdmError {
    IdmError::NotFound {
        what: "client",
        key: client_id.to_owned(),
    }
}

/// A client name as stored: trimmed, 1–100 characters, no control characters.
pub(crate) fn validate_client_name(input: &str) -> Result<String, IdmError> {
    let count = input.trim().chars().count();
    if count == 0 || count > CLIENT_NAME_MAX {
        return Err(IdmError::invalid(
            "name",
            format!("must be 1 to {CLIENT_NAME_MAX} characters"),
        ));
    }
    validate::name("name", input, CLIENT_NAME_MAX)
}

/// Group names to ids; every group must exist.
fn resolve_groups<A: Access>(tx: &Tables<A>, names: &[String]) -> Result<Vec<GroupId>, IdmError> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let key = name.trim().to_ascii_lowercase();
        let id = tx.group_id_by_name(&key)?.ok_or_else(|| {
            IdmError::invalid(
                "allowed_groups",
                format!("group {:?} does not exist", name.trim()),
            )
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// 24 lowercase base32 characters from 15 random bytes.
fn new_client_id() -> Result<String, IdmError> {
    let bytes = secrets::random_bytes::<15>()?;
    let mut out = String::with_capacity(24);
    for chunk in bytes.chunks(5) {
        let mut acc = 0u64;
        for b in chunk {
            acc = (acc << 8) | u64::from(*b);
        }
        for i in (0..8).rev() {
            let index = usize::try_from((acc >> (i * 5)) & 31).unwrap_or(0);
            out.push(char::from(BASE32.get(index).copied().unwrap_or(b'a')));
        }
    }
    Ok(out)
}

/// A new secret and the hash that is stored.
fn new_secret() -> Result<(String, [u8; 32]), IdmError> {
    let secret = secrets::random_token::<32>()?;
    let hash = secrets::sha256(secret.as_bytes());
    Ok((secret, hash))
}

impl Oidc {
    pub fn client(&self, client_id: &str) -> Result<Option<Client>, IdmError> {
        self.client_in(&self.idm.snapshot()?, client_id)
    }

    /// [`Oidc::client`] in `snapshot`.
    pub fn client_in(
        &self,
        snapshot: &Snapshot,
        client_id: &str,
    ) -> Result<Option<Client>, IdmError> {
        let tx = snapshot.tx();
        tx.client(client_id)?
            .map(|record| client_from_record(tx, record))
            .transpose()
    }

    /// Like [`Oidc::client`], but a missing client is `NotFound`.
    pub fn get_client(&self, client_id: &str) -> Result<Client, IdmError> {
        self.client(client_id.trim())?
            .ok_or_else(|| client_not_found(client_id.trim()))
    }

    /// Every client, by name (then id).
    pub fn list_clients(&self) -> Result<Vec<Client>, IdmError> {
        let tx = self.idm.store().read()?;
        let mut clients = tx
            .clients()?
            .into_iter()
            .map(|record| client_from_record(&tx, record))
            .collect::<Result<Vec<_>, _>>()?;
        clients.sort_by_cached_key(|c| (c.name.to_lowercase(), c.client_id.clone()));
        Ok(clients)
    }

    /// Checks a confidential client's secret (constant time); `Ok(None)`
    /// when the id is unknown, the client is public, or the secret is wrong.
    pub fn authenticate_client(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Option<Client>, IdmError> {
        let given = secrets::sha256(secret.as_bytes());
        let tx = self.idm.store().read()?;
        let Some(record) = tx.client(client_id)? else {
            return Ok(None);
        };
        let Some(stored) = record.secret_hash else {
            return Ok(None);
        };
        if !bool::from(stored.ct_eq(&given)) {
            return Ok(None);
        }
        client_from_record(&tx, record).map(Some)
    }

    /// Registers a client (`client_created`). Returns it with its secret
    /// (`None` for a public client): the only time the secret is shown,
    /// with [`Oidc::rotate_client_secret`].
    pub fn create_client(
        &self,
        actor: &Actor,
        input: NewClient,
    ) -> Result<(Client, Option<String>), IdmError> {
        let name = validate_client_name(&input.name)?;
        let wildcard = input.allow_wildcard_redirects;
        let redirect_uris =
            redirect_uris::validate_all("redirect_uris", &input.redirect_uris, wildcard, 1)?;
        let logout_redirect_uris = redirect_uris::validate_all(
            "logout_redirect_uris",
            &input.logout_redirect_uris,
            wildcard,
            0,
        )?;
        validate_lifetimes(&input.lifetimes)?;
        let (secret, secret_hash) = if input.public {
            (None, None)
        } else {
            let (secret, hash) = new_secret()?;
            (Some(secret), Some(hash))
        };
        let client_id = new_client_id()?;
        let now = self.idm.now();
        let client = self.idm.store().write(|tx| {
            if tx.client(&client_id)?.is_some() {
                return Err(IdmError::Conflict {
                    field: "client_id",
                    value: client_id.clone(),
                });
            }
            let record = ClientRecord {
                client_id: client_id.clone(),
                name,
                redirect_uris,
                logout_redirect_uris,
                public: input.public,
                require_pkce: input.require_pkce,
                require_par: input.require_par,
                skip_consent: input.skip_consent,
                allow_wildcard_redirects: wildcard,
                allowed_groups: resolve_groups(tx, &input.allowed_groups)?,
                code_secs: input.lifetimes.code_secs,
                access_token_secs: input.lifetimes.access_token_secs,
                refresh_token_secs: input.lifetimes.refresh_token_secs,
                refresh_max_secs: input.lifetimes.refresh_max_secs,
                secret_hash,
                created_at: now,
                updated_at: now,
            };
            tx.put_client(&record)?;
            let mut details = vec![
                detail("client_id", record.client_id.as_str()),
                detail("public", record.public.to_string()),
                detail("redirect_uris", record.redirect_uris.join(" ")),
            ];
            details.extend(lifetime_details(&input.lifetimes));
            let subject = Subject::other(&record.name);
            audit::append(tx, now, actor, "client_created", Some(subject), details)?;
            client_from_record(tx, record)
        })?;
        Ok((client, secret))
    }

    /// Changes the fields the patch names (`client_updated`, listing them).
    /// Lifetimes are patched one by one: an absent one is left alone and 0
    /// puts the default back.
    pub fn update_client(
        &self,
        actor: &Actor,
        client_id: &str,
        patch: ClientPatch,
    ) -> Result<Client, IdmError> {
        let client_id = client_id.trim();
        let name = patch
            .name
            .as_deref()
            .map(validate_client_name)
            .transpose()?;
        let now = self.idm.now();
        self.idm.store().write(|tx| {
            let mut record = tx
                .client(client_id)?
                .ok_or_else(|| client_not_found(client_id))?;
            let mut changed = Vec::new();
            if let Some(name) = name
                && name != record.name
            {
                record.name = name;
                changed.push(detail("name", record.name.as_str()));
            }
            if let Some(on) = patch.allow_wildcard_redirects
                && on != record.allow_wildcard_redirects
            {
                record.allow_wildcard_redirects = on;
                changed.push(detail("allow_wildcard_redirects", on.to_string()));
            }
            let wildcard = record.allow_wildcard_redirects;
            // Re-checked even when not patched: turning wildcards off must
            // not leave a wildcard URI behind.
            let uris = patch
                .redirect_uris
                .as_ref()
                .unwrap_or(&record.redirect_uris);
            let uris = redirect_uris::validate_all("redirect_uris", uris, wildcard, 1)?;
            if uris != record.redirect_uris {
                record.redirect_uris = uris;
                changed.push(detail("redirect_uris", record.redirect_uris.join(" ")));
            }
            let uris = patch
                .logout_redirect_uris
                .as_ref()
                .unwrap_or(&record.logout_redirect_uris);
            let uris = redirect_uris::validate_all("logout_redirect_uris", uris, wildcard, 0)?;
            if uris != record.logout_redirect_uris {
                record.logout_redirect_uris = uris;
                changed.push(detail(
                    "logout_redirect_uris",
                    record.logout_redirect_uris.join(" "),
                ));
            }
            for (key, new, field) in [
                ("require_pkce", patch.require_pkce, &mut record.require_pkce),
                ("require_par", patch.require_par, &mut record.require_par),
                ("skip_consent", patch.skip_consent, &mut record.skip_consent),
            ] {
                if let Some(on) = new
                    && on != *field
                {
                    *field = on;
                    changed.push(detail(key, on.to_string()));
                }
            }
            if let Some(groups) = &patch.allowed_groups {
                let ids = resolve_groups(tx, groups)?;
                if ids != record.allowed_groups {
                    record.allowed_groups = ids;
                    let mut names: Vec<String> = groups
                        .iter()
                        .map(|g| g.trim().to_ascii_lowercase())
                        .collect();
                    names.dedup();
                    changed.push(detail("allowed_groups", names.join(",")));
                }
            }
            if let Some(given) = patch.lifetimes {
                let old = TokenLifetimes {
                    code_secs: record.code_secs,
                    access_token_secs: record.access_token_secs,
                    refresh_token_secs: record.refresh_token_secs,
                    refresh_max_secs: record.refresh_max_secs,
                };
                let new = merge_lifetimes(old, given);
                validate_lifetimes(&new)?;
                if new != old {
                    record.code_secs = new.code_secs;
                    record.access_token_secs = new.access_token_secs;
                    record.refresh_token_secs = new.refresh_token_secs;
                    record.refresh_max_secs = new.refresh_max_secs;
                    changed.push(detail("lifetimes", "changed"));
                    changed.extend(lifetime_details(&new));
                }
            }
            if !changed.is_empty() {
                record.updated_at = now;
                tx.put_client(&record)?;
                let mut details = vec![detail("client_id", record.client_id.as_str())];
                details.extend(changed);
                let subject = Subject::other(&record.name);
                audit::append(tx, now, actor, "client_updated", Some(subject), details)?;
            }
            client_from_record(tx, record)
        })
    }

    /// A new secret for a confidential client (`client_secret_rotated`);
    /// the old one stops working at once. Returns the only copy.
    pub fn rotate_client_secret(
        &self,
        actor: &Actor,
        client_id: &str,
    ) -> Result<(Client, String), IdmError> {
        let client_id = client_id.trim();
        let (secret, hash) = new_secret()?;
        let now = self.idm.now();
        let client = self.idm.store().write(|tx| {
            let mut record = tx
                .client(client_id)?
                .ok_or_else(|| client_not_found(client_id))?;
            if record.public {
                return Err(IdmError::invalid(
                    "client_id",
                    format!("{client_id} is a public client and has no secret"),
                ));
            }
            record.secret_hash = Some(hash);
            record.updated_at = now;
            tx.put_client(&record)?;
            let details = vec![detail("client_id", record.client_id.as_str())];
            let subject = Subject::other(&record.name);
            audit::append(
                tx,
                now,
                actor,
                "client_secret_rotated",
                Some(subject),
                details,
            )?;
            client_from_record(tx, record)
        })?;
        Ok((client, secret))
    }

    /// Deletes a client with its consents and every token issued to it
    /// (`client_deleted`).
    pub fn delete_client(&self, actor: &Actor, client_id: &str) -> Result<Client, IdmError> {
        let client_id = client_id.trim();
        let now = self.idm.now();
        self.idm.store().write(|tx| {
            let record = tx
                .client(client_id)?
                .ok_or_else(|| client_not_found(client_id))?;
            let client = client_from_record(tx, record)?;
            tx.delete_client(client_id)?;
            let details = vec![detail("client_id", client_id)];
            let subject = Subject::other(&client.name);
            audit::append(tx, now, actor, "client_deleted", Some(subject), details)?;
            Ok(client)
        })
    }
}
