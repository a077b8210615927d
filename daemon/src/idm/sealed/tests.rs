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
