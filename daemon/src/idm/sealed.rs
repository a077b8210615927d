//! Which stored values are secret, and sealing them with the key kept outside the database
//! (`crate::sealing`): the private part of every signing key, and every write-only setting
//! (`Kind::Secret` in the settings registry: `smtp.password`, `ldap.bind_password`). Each is
//! sealed under a label naming it (`setting smtp.password`, `signing key <kid>`), so a
//! ciphertext copied into another field does not open. The store only ever sees the sealed
//! bytes.

use super::settings;
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
    match settings::value_of(tx, key)? {
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
    for name in settings::secret_keys() {
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
                for name in settings::secret_keys() {
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
        for name in settings::secret_keys() {
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
mod tests {
    use std::sync::Arc;

    use latchkey_protocol::AuditQuery;
    use time::macros::datetime;

    use super::*;
    use crate::clock::ManualClock;
    use crate::idm::Actor;
    use crate::idm::oidc::Oidc;
    use crate::store::{KeyAlg, KeyState, SettingRecord, SigningKeyRecord, Store};

    fn idm_on(store: Store, sealer: Sealer) -> Idm {
        let clock = ManualClock::new(datetime!(2026-03-01 09:30:00 UTC));
        Idm::with_sealer(store, Arc::new(clock), sealer)
    }

    fn stored(idm: &Idm, key: &str) -> SettingValue {
        idm.store()
            .read()
            .unwrap()
            .setting(key)
            .unwrap()
            .unwrap()
            .value
    }

    fn set(idm: &Idm, key: &str, value: &str) {
        idm.set_setting(&Actor::admin_socket(1000), key, value)
            .unwrap();
    }

    fn setting_events(idm: &Idm) -> usize {
        idm.list_audit(&AuditQuery::default())
            .unwrap()
            .iter()
            .filter(|e| e.event == "setting_changed")
            .count()
    }

    #[test]
    fn write_only_settings_are_stored_sealed_and_read_back_in_the_clear() {
        let idm = idm_on(Store::memory().unwrap(), Sealer::ephemeral());
        set(&idm, "smtp.host", "mail.example.com");
        set(&idm, "smtp.from", "id@example.com");
        set(&idm, "smtp.username", "mailer");
        set(&idm, "smtp.password", " right horse");
        set(&idm, "ldap.bind_password", "battery staple");

        let SettingValue::Sealed(sealed) = stored(&idm, "smtp.password") else {
            panic!("smtp.password is stored sealed");
        };
        assert!(!sealed.windows(5).any(|w| w == b"horse"));
        assert!(matches!(
            stored(&idm, "ldap.bind_password"),
            SettingValue::Sealed(_)
        ));
        let smtp = idm.smtp_settings().unwrap().unwrap();
        assert_eq!(smtp.password.as_deref(), Some(" right horse"));
        assert_eq!(
            idm.ldap_settings().unwrap().bind_password.as_deref(),
            Some("battery staple")
        );
        let shown = idm.setting_entries().unwrap();
        let password = shown.iter().find(|e| e.key == "smtp.password").unwrap();
        assert_eq!(password.value, serde_json::json!("set"));

        // The same password again changes nothing (no event); another one does; clearing works.
        let events = setting_events(&idm);
        set(&idm, "smtp.password", " right horse");
        assert_eq!(setting_events(&idm), events);
        set(&idm, "smtp.password", "correct horse");
        assert_eq!(setting_events(&idm), events + 1);
        assert_eq!(
            idm.smtp_settings().unwrap().unwrap().password.as_deref(),
            Some("correct horse")
        );
        set(&idm, "smtp.password", "");
        assert_eq!(idm.smtp_settings().unwrap().unwrap().password, None);
    }

    #[test]
    fn a_ciphertext_moved_to_another_setting_does_not_open() {
        let idm = idm_on(Store::memory().unwrap(), Sealer::ephemeral());
        set(&idm, "smtp.host", "mail.example.com");
        set(&idm, "smtp.from", "id@example.com");
        set(&idm, "ldap.bind_password", "directory secret");
        let moved = stored(&idm, "ldap.bind_password");
        idm.store()
            .write(|tx| {
                tx.put_setting(
                    "smtp.password",
                    &SettingRecord {
                        value: moved,
                        updated_at: 0,
                    },
                )
            })
            .unwrap();
        let err = idm.smtp_settings().unwrap_err();
        assert!(
            matches!(err, IdmError::Sealed(SealError::DoesNotOpen { ref label }) if label == "setting smtp.password"),
            "{err}"
        );
        // The start-up check logs it rather than refusing; setting it again repairs it.
        idm.seal_secrets_at_rest().unwrap();
        set(&idm, "smtp.password", "new one");
        assert_eq!(
            idm.smtp_settings().unwrap().unwrap().password.as_deref(),
            Some("new one")
        );
    }

    #[test]
    fn plaintext_from_an_earlier_release_is_sealed_once_and_the_key_recorded() {
        let store = Store::memory().unwrap();
        // What a release before encryption at rest wrote: a V1 key and plain settings.
        let pkey = openssl::pkey::PKey::generate_ed25519().unwrap();
        let der = pkey.private_key_to_pkcs8().unwrap();
        store
            .write(|tx| {
                tx.put_signing_key(&SigningKeyRecord {
                    kid: "old-kid".into(),
                    alg: KeyAlg::EdDsa,
                    private_key: StoredSecret::Plain(der.clone()),
                    state: KeyState::Active,
                    created_at: 1_700_000_000,
                    retire_at: None,
                })?;
                for (key, value) in [
                    ("smtp.password", "plain smtp"),
                    ("ldap.bind_password", "plain ldap"),
                ] {
                    let record = SettingRecord {
                        value: SettingValue::Text(value.into()),
                        updated_at: 5,
                    };
                    tx.put_setting(key, &record)?;
                }
                Ok::<_, crate::store::StoreError>(())
            })
            .unwrap();
        assert_eq!(store.encryption_key_id().unwrap(), None);

        let sealer = Sealer::ephemeral();
        let idm = idm_on(store.clone(), sealer.clone());
        let report = idm.seal_secrets_at_rest().unwrap();
        assert_eq!(
            report,
            SealReport {
                sealed: 3,
                recorded_key: true
            }
        );
        assert_eq!(
            store.encryption_key_id().unwrap(),
            Some(sealer.key_id().to_bytes())
        );
        let key = &store.read().unwrap().signing_keys().unwrap()[0];
        assert!(matches!(key.private_key, StoredSecret::Sealed(_)));
        assert_eq!(
            open_private_key(&sealer, "old-kid", &key.private_key).unwrap(),
            der
        );
        let SettingValue::Sealed(_) = stored(&idm, "smtp.password") else {
            panic!("sealed");
        };
        assert_eq!(
            idm.ldap_settings().unwrap().bind_password.as_deref(),
            Some("plain ldap")
        );
        // The key still signs, under its old kid.
        let oidc = Oidc::new(idm.clone(), "https://id.example.com").unwrap();
        assert_eq!(oidc.keys().active_kid().as_deref(), Some("old-kid"));

        // Idempotent: nothing left to do.
        let before = stored(&idm, "smtp.password");
        assert_eq!(idm.seal_secrets_at_rest().unwrap(), SealReport::default());
        assert_eq!(stored(&idm, "smtp.password"), before);

        // Another key is refused before anything is written.
        let other = idm_on(store.clone(), Sealer::ephemeral());
        let err = other.seal_secrets_at_rest().unwrap_err();
        assert!(
            matches!(err, IdmError::Sealed(SealError::OtherKey { .. })),
            "{err}"
        );
        assert_eq!(stored(&idm, "smtp.password"), before);
    }
}
