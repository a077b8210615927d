use std::sync::Arc;

use latchkey_protocol::NewUser;
use serde_json::json;
use time::Duration;
use time::macros::datetime;

use super::*;
use crate::clock::ManualClock;
use crate::store::Store;

/// The enrolling session's sign-in method.
const LC: SignInMethod = SignInMethod::LoginCode;

fn setup() -> (Passkeys, ManualClock, User) {
    let clock = ManualClock::new(datetime!(2026-03-01 09:30:00 UTC));
    let idm = Idm::new(Store::memory().unwrap(), Arc::new(clock.clone()));
    let input = NewUser {
        username: "alice".into(),
        ..NewUser::default()
    };
    let user = idm
        .create_user(&Actor::admin_socket(0), input)
        .unwrap()
        .user;
    let passkeys = Passkeys::new(idm, "http://localhost:1411/").unwrap();
    (passkeys, clock, user)
}

fn here() -> CeremonyOwner {
    CeremonyOwner::new(std::net::IpAddr::from([192, 0, 2, 9]))
}

fn visitor() -> Actor {
    Actor::anonymous(Some("192.0.2.9".into()), None)
}

#[test]
fn registration_asks_for_a_discoverable_credential_and_uv_per_setting() {
    let (passkeys, _, alice) = setup();
    let (id, options) = passkeys.start_registration(alice.id, here()).unwrap();
    assert_eq!(id.len(), 22, "128 bits of base64url");
    let selection = &options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], json!("required"));
    assert_eq!(selection["requireResidentKey"], json!(true));
    assert_eq!(selection["userVerification"], json!("required"));
    assert_eq!(options["publicKey"]["rp"]["id"], json!("localhost"));
    assert_eq!(options["publicKey"]["rp"]["name"], json!("Latchkey"));
    // The user handle is the random handle, not the user id.
    let handle = secrets::b64url(alice.webauthn_handle.as_bytes());
    assert_eq!(options["publicKey"]["user"]["id"], json!(handle));

    passkeys
        .idm
        .set_setting(
            &Actor::admin_socket(0),
            "passkeys.user_verification",
            "preferred",
        )
        .unwrap();
    passkeys
        .idm
        .set_setting(&Actor::admin_socket(0), "app.name", "Acme")
        .unwrap();
    let (_, options) = passkeys.start_registration(alice.id, here()).unwrap();
    let selection = &options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], json!("required"));
    assert_eq!(selection["userVerification"], json!("preferred"));
    assert_eq!(options["publicKey"]["rp"]["name"], json!("Acme"));
    let (_, sign_in) = passkeys.start_sign_in(here()).unwrap();
    assert_eq!(sign_in["publicKey"]["userVerification"], json!("preferred"));
}

#[test]
fn sign_in_options_are_usernameless() {
    let (passkeys, _, _) = setup();
    let (id, options) = passkeys.start_sign_in(here()).unwrap();
    assert_eq!(id.len(), 22);
    assert_eq!(options["publicKey"]["rpId"], json!("localhost"));
    assert_eq!(options["publicKey"]["userVerification"], json!("required"));
    let allow = &options["publicKey"]["allowCredentials"];
    assert!(allow.is_null() || allow == &json!([]), "{allow}");
    assert_eq!(options["mediation"], json!("conditional"));
}

#[test]
fn garbage_responses_are_clean_errors_and_use_up_the_ceremony() {
    let (passkeys, _, alice) = setup();
    let (id, _) = passkeys.start_sign_in(here()).unwrap();
    for junk in [json!(null), json!("x"), json!({"id": 1})] {
        let (id, _) = passkeys.start_sign_in(here()).unwrap();
        let err = passkeys
            .finish_sign_in(&visitor(), &id, junk, None)
            .unwrap_err();
        assert!(
            matches!(
                err,
                IdmError::Invalid {
                    field: "credential",
                    ..
                }
            ),
            "{err}"
        );
    }
    let err = passkeys
        .finish_sign_in(&visitor(), &id, json!({}), None)
        .unwrap_err();
    assert!(matches!(err, IdmError::Invalid { .. }));
    // Single use: the same id is gone now.
    let again = passkeys.finish_sign_in(&visitor(), &id, json!({}), None);
    assert!(matches!(again, Err(IdmError::CeremonyExpired)));

    let (id, _) = passkeys.start_registration(alice.id, here()).unwrap();
    let actor = Actor::user(alice.id, "alice");
    let err = passkeys
        .finish_registration(&actor, alice.id, &id, json!({"rawId": "!!"}), None, LC)
        .unwrap_err();
    assert!(matches!(
        err,
        IdmError::Invalid {
            field: "credential",
            ..
        }
    ));
    let again = passkeys.finish_registration(&actor, alice.id, &id, json!({}), None, LC);
    assert!(matches!(again, Err(IdmError::CeremonyExpired)));

    // Well-formed but bogus: refused by webauthn-rs, not a panic.
    let (id, _) = passkeys.start_registration(alice.id, here()).unwrap();
    let bogus = json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"}
    });
    let err = passkeys
        .finish_registration(&actor, alice.id, &id, bogus, None, LC)
        .unwrap_err();
    assert!(matches!(err, IdmError::Passkey(_)), "{err}");

    let (id, _) = passkeys.start_sign_in(here()).unwrap();
    let bogus = json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA",
                     "signature": "AAAA", "userHandle": "AAAAAAAAAAAAAAAAAAAAAA"}
    });
    let err = passkeys
        .finish_sign_in(&visitor(), &id, bogus, None)
        .unwrap_err();
    assert!(matches!(
        err,
        IdmError::SignInFailed {
            reason: SignInFailure::UnknownCredential
        }
    ));
    let events = passkeys
        .idm
        .list_audit(&latchkey_protocol::AuditQuery::default())
        .unwrap();
    assert_eq!(events[0].event, "sign_in_failed");
    assert_eq!(events[0].ip.as_deref(), Some("192.0.2.9"));
}

#[test]
fn ceremonies_expire_after_five_minutes_and_belong_to_one_user() {
    let (passkeys, clock, alice) = setup();
    let (id, _) = passkeys.start_sign_in(here()).unwrap();
    clock.advance(Duration::minutes(5));
    let late = passkeys.finish_sign_in(&visitor(), &id, json!({}), None);
    assert!(matches!(late, Err(IdmError::CeremonyExpired)));
    let events = passkeys
        .idm
        .list_audit(&latchkey_protocol::AuditQuery::default())
        .unwrap();
    assert_eq!(events[0].event, "sign_in_failed");
    let reason = ("reason".to_owned(), "expired_ceremony".to_owned());
    assert_eq!(events[0].details, vec![reason]);

    let (id, _) = passkeys.start_registration(alice.id, here()).unwrap();
    let actor = Actor::user(alice.id, "alice");
    // A registration ceremony is not a sign-in one, nor someone else's.
    let other = UserId::random();
    let wrong = passkeys.finish_registration(&actor, other, &id, json!({}), None, LC);
    assert!(matches!(wrong, Err(IdmError::CeremonyExpired)));
    let (id, _) = passkeys.start_registration(alice.id, here()).unwrap();
    let wrong = passkeys.finish_sign_in(&visitor(), &id, json!({}), None);
    assert!(matches!(wrong, Err(IdmError::CeremonyExpired)));
    let unknown = passkeys.finish_sign_in(&visitor(), "nonsense", json!({}), None);
    assert!(matches!(unknown, Err(IdmError::CeremonyExpired)));
}

#[test]
fn a_sign_in_names_its_account_before_it_is_verified() {
    let (passkeys, _, alice) = setup();
    let handle = secrets::b64url(alice.webauthn_handle.as_bytes());
    let named = json!({"response": {"userHandle": handle}});
    assert_eq!(passkeys.sign_in_account(&named).unwrap(), Some(alice.id));
    let unknown = json!({"response": {"userHandle": secrets::b64url(&[7; 16])}});
    assert_eq!(passkeys.sign_in_account(&unknown).unwrap(), None);
    for junk in [
        json!(null),
        json!({"response": {"userHandle": "!!"}}),
        json!({}),
    ] {
        assert_eq!(passkeys.sign_in_account(&junk).unwrap(), None);
    }
}

#[test]
fn an_ip_address_public_url_is_refused_with_advice() {
    let clock = ManualClock::new(datetime!(2026-03-01 09:30:00 UTC));
    let idm = Idm::new(Store::memory().unwrap(), Arc::new(clock));
    let err = Passkeys::new(idm.clone(), "http://127.0.0.1:1411").unwrap_err();
    assert!(err.to_string().contains("localhost"), "{err}");
    let ok = Passkeys::new(idm, "https://id.example.com/auth").unwrap();
    assert_eq!(ok.origin.as_str(), "https://id.example.com/");
    assert_eq!(ok.rp_id, "id.example.com");
}
