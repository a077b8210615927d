//! Making, rotating and retiring signing keys, and their records: each private key is sealed
//! (`idm::sealed`) before the store sees it.
//!
//! Rotation makes a new key the active signer and keeps the old one
//! published (`previous`) until `retire_at`: now plus the longest access or
//! ID token lifetime of any client plus [`KEY_RETIRE_MARGIN_SECS`], so every
//! token it signed expires first. The periodic sweep then deletes it.

use time::OffsetDateTime;

use super::Oidc;
use super::key_set::KeySet;
use super::keys::{Alg, crypto, generate, kid_of};
use super::lifetimes::DEFAULT_ACCESS_TOKEN_SECS;
use crate::idm::audit::{self, Subject, detail};
use crate::idm::{Actor, Idm, IdmError, sealed, to_time};
use crate::sealing::Sealer;
use crate::store::{KeyState, SigningKeyRecord};

/// How long after the longest token lifetime a previous key stays published.
pub const KEY_RETIRE_MARGIN_SECS: i64 = 10 * 60;

/// A signing key as the console lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyInfo {
    pub kid: String,
    pub alg: Alg,
    /// `true` for the key that signs new tokens.
    pub active: bool,
    pub created_at: OffsetDateTime,
    pub retire_at: Option<OffsetDateTime>,
}

fn key_info(record: &SigningKeyRecord) -> Result<SigningKeyInfo, IdmError> {
    Ok(SigningKeyInfo {
        kid: record.kid.clone(),
        alg: Alg::from_stored(record.alg),
        active: record.state == KeyState::Active,
        created_at: to_time(record.created_at)?,
        retire_at: record.retire_at.map(to_time).transpose()?,
    })
}

/// A new record for a freshly generated key, its private part sealed.
fn new_record(alg: Alg, now: i64, sealer: &Sealer) -> Result<SigningKeyRecord, IdmError> {
    let pkey = generate(alg)?;
    let kid = kid_of(alg, &pkey)?;
    let der = pkey
        .private_key_to_pkcs8()
        .map_err(crypto("encoding a signing key"))?;
    Ok(SigningKeyRecord {
        private_key: sealed::seal_private_key(sealer, &kid, &der)?,
        kid,
        alg: alg.to_stored(),
        state: KeyState::Active,
        created_at: now,
        retire_at: None,
    })
}

/// Loads the keys, making an RS256 key first if there is no active one.
/// That first key is part of installing, not an admin's act: it is logged,
/// not audited.
pub(super) fn load_or_create(idm: &Idm) -> Result<KeySet, IdmError> {
    let now = idm.now();
    let records = idm.store().read()?.signing_keys()?;
    if records.iter().any(|r| r.state == KeyState::Active) {
        return KeySet::from_records(&records, now, idm.sealer());
    }
    let record = new_record(Alg::RS256, now, idm.sealer())?;
    let records = idm.store().write(|tx| {
        // Checked again inside the transaction: only one writer at a time.
        if !tx
            .signing_keys()?
            .iter()
            .any(|r| r.state == KeyState::Active)
        {
            tx.put_signing_key(&record)?;
            tracing::info!(kid = %record.kid, "made the first signing key (RS256)");
        }
        Ok::<_, IdmError>(tx.signing_keys()?)
    })?;
    KeySet::from_records(&records, now, idm.sealer())
}

impl Oidc {
    /// Every stored key: the active one first, then previous keys, newest first.
    pub fn list_signing_keys(&self) -> Result<Vec<SigningKeyInfo>, IdmError> {
        let mut keys = self
            .idm
            .store()
            .read()?
            .signing_keys()?
            .iter()
            .map(key_info)
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort_by(|a, b| {
            b.active
                .cmp(&a.active)
                .then(b.created_at.cmp(&a.created_at))
        });
        Ok(keys)
    }

    /// Makes a new key of `alg` (default: the active key's) the active
    /// signer; the old one stays published until every token it signed has
    /// expired (`signing_key_rotated`). Returns the keys afterwards.
    pub fn rotate_signing_key(
        &self,
        actor: &Actor,
        alg: Option<Alg>,
    ) -> Result<Vec<SigningKeyInfo>, IdmError> {
        let alg = alg.unwrap_or_else(|| self.keys.active_alg());
        let now = self.idm.now();
        let record = new_record(alg, now, self.idm.sealer())?;
        let records = self.idm.store().write(|tx| {
            let longest = tx
                .clients()?
                .iter()
                .filter_map(|c| c.access_token_secs)
                .fold(DEFAULT_ACCESS_TOKEN_SECS, u64::max);
            let retire_at = now
                .saturating_add(i64::try_from(longest).unwrap_or(i64::MAX))
                .saturating_add(KEY_RETIRE_MARGIN_SECS);
            let mut previous = Vec::new();
            for mut old in tx.signing_keys()? {
                if old.state == KeyState::Active {
                    old.state = KeyState::Previous;
                    old.retire_at = Some(retire_at);
                    previous.push(old.kid.clone());
                    tx.put_signing_key(&old)?;
                }
            }
            tx.put_signing_key(&record)?;
            let details = vec![
                detail("kid", record.kid.as_str()),
                detail("alg", alg.as_str()),
                detail("previous_kid", previous.join(",")),
            ];
            audit::append(
                tx,
                now,
                actor,
                "signing_key_rotated",
                Some(Subject::other(&record.kid)),
                details,
            )?;
            Ok::<_, IdmError>(tx.signing_keys()?)
        })?;
        self.keys.reload(&records, now, self.idm.sealer())?;
        self.list_signing_keys()
    }

    /// Loads the keys again from the database, after another replica changed them: the one
    /// it made active signs from now on, and the JWKS publishes what it publishes.
    pub fn reload_signing_keys(&self) -> Result<(), IdmError> {
        let records = self.idm.store().read()?.signing_keys()?;
        self.keys
            .reload(&records, self.idm.now(), self.idm.sealer())
    }

    /// Deletes previous keys whose `retire_at` has passed and drops them
    /// from the JWKS; returns how many.
    pub fn sweep_signing_keys(&self) -> Result<u64, IdmError> {
        let now = self.idm.now();
        let retired = |key: &SigningKeyRecord| {
            key.state == KeyState::Previous && key.retire_at.is_some_and(|at| at <= now)
        };
        // Most sweeps find nothing: look before taking the write lock.
        if !self.idm.store().read()?.signing_keys()?.iter().any(retired) {
            return Ok(0);
        }
        let (removed, records) = self.idm.store().write(|tx| {
            let mut removed = 0u64;
            for key in tx.signing_keys()? {
                if retired(&key) && tx.remove_signing_key(&key.kid)? {
                    removed = removed.saturating_add(1);
                }
            }
            Ok::<_, IdmError>((removed, tx.signing_keys()?))
        })?;
        if removed > 0 {
            self.keys.reload(&records, now, self.idm.sealer())?;
        }
        Ok(removed)
    }
}
