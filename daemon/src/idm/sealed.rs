//! Which stored values are secret, and sealing them with the key kept outside the database
//! (`crate::sealing`): the private part of every signing key, and every write-only setting
//! (`Kind::Secret` in `setting_registry`: `smtp.password`, `ldap.bind_password`). Each is
//! sealed under a label naming it (`setting smtp.password`, `signing key <kid>`), so a
//! ciphertext copied into another field does not open. The store only ever sees the sealed
//! bytes.

use super::setting_registry::secret_keys;
use super::setting_values::value_of;
use super::{Idm, IdmError};
use crate::sealing::{KeyId, SealError, Sealer};
use crate::store::{Access, SettingValue, StoredSecret, Tables};

fn setting_label(key: &str) -> String {
    format!("setting {key}")
}

fn signing_key_label(kid: &str) -> String {
    format!("signing key {kid}")
}

/// A write-only setting's new value, sealed.
pub(crate) fn seal_setting(
    sealer: &Sealer,
    key: &str,
    value: &str,
) -> Result<SettingValue, IdmError> {
    Ok(SettingValue::Sealed(
        sealer.seal(&setting_label(key), value.as_bytes())?,
    ))
}

/// The form a setting's value is stored in: sealed when `secret` (the sealer) is given, that is
/// for a write-only setting.
pub(crate) fn stored_form(
    secret: Option<&Sealer>,
    key: &str,
    value: &SettingValue,
) -> Result<SettingValue, IdmError> {
    match (secret, value) {
        (Some(sealer), SettingValue::Text(text)) => seal_setting(sealer, key, text),
        _ => Ok(value.clone()),
    }
}

/// Whether storing `new` changes a setting stored as `before`. A write-only value is compared
/// opened (sealing the same value twice gives different bytes); one that no longer opens is
/// replaced.
pub(crate) fn changes(
    secret: Option<&Sealer>,
    key: &str,
    before: Option<&SettingValue>,
    new: Option<&SettingValue>,
) -> bool {
    match (secret, before, new) {
        (Some(sealer), Some(stored), Some(SettingValue::Text(new))) => {
            open_setting(sealer, key, stored).ok().flatten().as_ref() != Some(new)
        }
        _ => before != new,
    }
}

/// A write-only setting's value in the clear: sealed, or as a release before encryption at
/// rest stored it (until the next start seals it).
pub(crate) fn open_setting(
    sealer: &Sealer,
    key: &str,
    value: &SettingValue,
) -> Result<Option<String>, IdmError> {
    match value {
        SettingValue::Sealed(sealed) => {
            let label = setting_label(key);
            let bytes = sealer.open(&label, sealed)?;
            // Only text is ever sealed here; anything else is damage.
            String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| SealError::Malformed { label }.into())
        }
        SettingValue::Text(text) => Ok(Some(text.clone())),
        _ => Ok(None),
    }
}

/// The value of the write-only setting `key`, opened; `None` when unset.
pub(crate) fn secret_setting<A: Access>(
    tx: &Tables<A>,
    sealer: &Sealer,
    key: &str,
) -> Result<Option<String>, IdmError> {
    match value_of(tx, key)? {
        Some(value) => open_setting(sealer, key, &value),
        None => Ok(None),
    }
}

/// A signing key's private part (PKCS#8 DER), sealed.
pub(crate) fn seal_private_key(
    sealer: &Sealer,
    kid: &str,
    der: &[u8],
) -> Result<StoredSecret, IdmError> {
    Ok(StoredSecret::Sealed(
        sealer.seal(&signing_key_label(kid), der)?,
    ))
}

/// A signing key's private part in the clear.
pub(crate) fn open_private_key(
    sealer: &Sealer,
    kid: &str,
    secret: &StoredSecret,
) -> Result<Vec<u8>, IdmError> {
    match secret {
        StoredSecret::Sealed(sealed) => Ok(sealer.open(&signing_key_label(kid), sealed)?),
        StoredSecret::Plain(der) => Ok(der.clone()),
    }
}

/// What [`Idm::seal_secrets_at_rest`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SealReport {
    /// Secrets found in the clear and sealed.
    pub sealed: u32,
    /// Whether this start recorded the key's id (the first start with a key).
    pub recorded_key: bool,
}

/// Refuses a database whose secrets another key sealed.
fn check_recorded(recorded: Option<[u8; 8]>, ours: KeyId) -> Result<(), IdmError> {
    match recorded.map(KeyId::from_bytes) {
        Some(found) if found != ours => Err(SealError::OtherKey {
            label: "the database".to_owned(),
            found,
            ours,
        }
        .into()),
        _ => Ok(()),
    }
}

fn has_plaintext<A: Access>(tx: &Tables<A>) -> Result<bool, IdmError> {
    if tx
        .signing_keys()?
        .iter()
        .any(|key| matches!(key.private_key, StoredSecret::Plain(_)))
    {
        return Ok(true);
    }
    for name in secret_keys() {
        if let Some(record) = tx.setting(name)?
            && matches!(record.value, SettingValue::Text(_))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Idm {
    /// Brings the database in line with the key, once per start: records the key's id (the
    /// first start with a key) and seals what a release before encryption at rest stored in
    /// the clear, all in one write transaction that runs only when there is something to do
    /// (so running it again changes nothing). Then checks that every sealed secret opens: a
    /// signing key that does not is an error (nothing could be signed); a setting that does
    /// not is logged with the command that replaces it.
    pub fn seal_secrets_at_rest(&self) -> Result<SealReport, IdmError> {
        let sealer = self.sealer();
        let ours = sealer.key_id();
        let needs_write = {
            let tx = self.store.read()?;
            let recorded = tx.encryption_key_id()?;
            check_recorded(recorded, ours)?;
            recorded.is_none() || has_plaintext(&tx)?
        };
        let mut report = SealReport::default();
        if needs_write {
            report = self.store.write(|tx| {
                let recorded = tx.encryption_key_id()?;
                check_recorded(recorded, ours)?;
                let mut report = SealReport::default();
                if recorded.is_none() {
                    tx.set_encryption_key_id(ours.to_bytes())?;
                    report.recorded_key = true;
                }
                for mut key in tx.signing_keys()? {
                    if let StoredSecret::Plain(der) = &key.private_key {
                        key.private_key = seal_private_key(sealer, &key.kid, der)?;
                        tx.put_signing_key(&key)?;
                        report.sealed = report.sealed.saturating_add(1);
                    }
                }
                for name in secret_keys() {
                    if let Some(mut record) = tx.setting(name)?
                        && let SettingValue::Text(text) = &record.value
                    {
                        record.value = seal_setting(sealer, name, text)?;
                        tx.put_setting(name, &record)?;
                        report.sealed = report.sealed.saturating_add(1);
                    }
                }
                Ok::<_, IdmError>(report)
            })?;
        }
        let tx = self.store.read()?;
        for key in tx.signing_keys()? {
            open_private_key(sealer, &key.kid, &key.private_key)?;
        }
        for name in secret_keys() {
            if let Some(record) = tx.setting(name)?
                && let Err(e) = open_setting(sealer, name, &record.value)
            {
                tracing::error!("{e}; set it again: latchkey config set {name} …");
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests;
