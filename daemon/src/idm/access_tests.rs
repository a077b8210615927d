//! Tests of settings, sessions, login codes and stored passkeys against an
//! in-memory store and a manual clock.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use latchkey_protocol::{AuditQuery, NewUser, SignInMethod};
use time::Duration;
use time::macros::datetime;

use super::*;
use crate::clock::ManualClock;
use crate::store::PasskeyRecord;

fn idm() -> (Idm, ManualClock) {
    let clock = ManualClock::new(datetime!(2026-03-01 09:30:00 UTC));
    let idm = Idm::new(Store::memory().unwrap(), Arc::new(clock.clone()));
    (idm, clock)
}

fn admin() -> Actor {
    Actor::admin_socket(1000)
}

fn visitor() -> Actor {
    Actor::anonymous(Some("192.0.2.7".into()), Some("TestBrowser/1".into()))
}

fn user(idm: &Idm, username: &str) -> User {
    let input = NewUser {
        username: username.into(),
        ..NewUser::default()
    };
    idm.create_user(&admin(), input).unwrap().user
}

fn audit(idm: &Idm) -> Vec<AuditEvent> {
    idm.list_audit(&AuditQuery::default()).unwrap()
}

fn last_event(idm: &Idm) -> AuditEvent {
    audit(idm).into_iter().next().unwrap()
}

fn detail_of<'a>(event: &'a AuditEvent, key: &str) -> Option<&'a str> {
    event
        .details
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

const HOUR: StdDuration = StdDuration::from_secs(3600);

// ---- settings ------------------------------------------------------------

#[test]
fn settings_default_then_change_with_an_audit_event() {
    let (idm, _) = idm();
    let settings = idm.settings().unwrap();
    assert_eq!(settings.app_name, "Latchkey");
    assert_eq!(settings.session_minutes, 60);
    assert_eq!(settings.user_verification, UserVerification::Required);

    let entries = idm
        .set_setting(&admin(), "session.minutes", " 90 ")
        .unwrap();
    let minutes = entries.iter().find(|e| e.key == "session.minutes").unwrap();
    assert_eq!(minutes.value, serde_json::json!(90));
    assert_eq!(minutes.default, serde_json::json!(60));
    assert_eq!(idm.settings().unwrap().session_minutes, 90);
    let event = last_event(&idm);
    assert_eq!(event.event, "setting_changed");
    assert_eq!(detail_of(&event, "key"), Some("session.minutes"));
    assert_eq!(detail_of(&event, "value"), Some("90"));

    idm.set_setting(&admin(), "passkeys.user_verification", "preferred")
        .unwrap();
    idm.set_setting(&admin(), "app.name", "Acme ID").unwrap();
    let settings = idm.settings().unwrap();
    assert_eq!(settings.user_verification, UserVerification::Preferred);
    assert_eq!(settings.app_name, "Acme ID");

    // Setting the same value again records nothing.
    let before = audit(&idm).len();
    idm.set_setting(&admin(), "app.name", "Acme ID").unwrap();
    assert_eq!(audit(&idm).len(), before);
}

#[test]
fn bad_settings_are_refused_and_change_nothing() {
    let (idm, _) = idm();
    let before = idm.setting_entries().unwrap();
    let err = idm
        .set_setting(&admin(), "session.minutes", "abc")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "session.minutes: expected a whole number of minutes from 5 to 43200, got \"abc\""
    );
    let err = idm.set_setting(&admin(), "no.such", "1").unwrap_err();
    assert!(matches!(err, IdmError::Invalid { field: "key", .. }));
    assert!(idm.set_setting(&admin(), "app.name", "  ").is_err());
    assert_eq!(idm.settings().unwrap().session_minutes, 60);
    assert!(audit(&idm).is_empty());
    assert_eq!(idm.setting_entries().unwrap(), before);
}

// ---- sessions ------------------------------------------------------------

#[test]
fn sessions_start_look_up_and_expire_by_the_setting() {
    let (idm, clock) = idm();
    let alice = user(&idm, "alice");
    let (token, session) = idm
        .start_session(&visitor(), alice.id, SignInMethod::Setup)
        .unwrap();
    assert!(format!("{token:?}").contains("<redacted>"));
    assert_eq!(token.as_str().len(), 43);
    assert_eq!(session.method, SignInMethod::Setup);
    assert_eq!(session.ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(
        session.expires_at - session.created_at,
        Duration::minutes(60)
    );
    let event = last_event(&idm);
    assert_eq!(event.event, "setup_sign_in");
    assert_eq!(event.actor, "alice");

    let cookie = SessionToken::from_cookie(token.as_str()).unwrap();
    let (found, found_user) = idm.session_user(&cookie).unwrap().unwrap();
    assert_eq!(found, session);
    assert_eq!(found_user.id, alice.id);
    assert!(SessionToken::from_cookie("garbage").is_none());
    let other = SessionToken::from_cookie(&"A".repeat(43)).unwrap();
    assert!(idm.session_user(&other).unwrap().is_none());

    // last_seen moves only after five minutes; peeking never writes, and says when it is due.
    clock.advance(Duration::minutes(3));
    let (seen, _) = idm.session_user(&token).unwrap().unwrap();
    assert_eq!(seen.last_seen_at, session.created_at);
    assert!(matches!(idm.peek_session(&token).unwrap(), SessionPeek::Live(s, _) if s == seen));
    clock.advance(Duration::minutes(3));
    assert!(matches!(
        idm.peek_session(&token).unwrap(),
        SessionPeek::TouchDue
    ));
    assert!(matches!(
        idm.peek_session(&token).unwrap(),
        SessionPeek::TouchDue
    ));
    let (seen, _) = idm.session_user(&token).unwrap().unwrap();
    assert_eq!(seen.last_seen_at, session.created_at + Duration::minutes(6));
    assert!(matches!(idm.peek_session(&token).unwrap(), SessionPeek::Live(s, _) if s == seen));
    assert!(matches!(
        idm.peek_session(&other).unwrap(),
        SessionPeek::None
    ));
    assert_eq!(seen.expires_at, session.expires_at, "absolute, not sliding");

    clock.advance(Duration::minutes(54));
    assert!(idm.session_user(&token).unwrap().is_none());
    assert!(idm.list_sessions("alice").unwrap().is_empty());

    idm.set_setting(&admin(), "session.minutes", "5").unwrap();
    let (_, short) = idm
        .start_session(&visitor(), alice.id, SignInMethod::Setup)
        .unwrap();
    assert_eq!(short.expires_at - short.created_at, Duration::minutes(5));
}

#[test]
fn sessions_end_one_or_all_and_are_revocable_by_public_id() {
    let (idm, _) = idm();
    let alice = user(&idm, "alice");
    let bob = user(&idm, "bob");
    let (one, _) = idm
        .start_session(&visitor(), alice.id, SignInMethod::Setup)
        .unwrap();
    let (two, second) = idm
        .start_session(&visitor(), alice.id, SignInMethod::Signup)
        .unwrap();
    let (three, _) = idm
        .start_session(&visitor(), alice.id, SignInMethod::Signup)
        .unwrap();
    let (bobs, _) = idm
        .start_session(&visitor(), bob.id, SignInMethod::Setup)
        .unwrap();
    assert_eq!(idm.list_sessions("alice").unwrap().len(), 3);

    idm.end_session(&visitor(), &one).unwrap();
    assert!(idm.session_user(&one).unwrap().is_none());
    assert_eq!(last_event(&idm).event, "signed_out");
    // Ending it again is harmless.
    idm.end_session(&visitor(), &one).unwrap();

    let err = idm
        .revoke_session(&admin(), "bob", &second.public_id)
        .unwrap_err();
    assert!(matches!(
        err,
        IdmError::NotFound {
            what: "session",
            ..
        }
    ));
    idm.revoke_session(&admin(), "alice", &second.public_id)
        .unwrap();
    assert!(idm.session_user(&two).unwrap().is_none());
    assert_eq!(last_event(&idm).event, "session_revoked");

    let actor = Actor::user(alice.id, "alice");
    assert_eq!(idm.end_all_sessions(&actor, alice.id).unwrap(), 1);
    assert!(idm.session_user(&three).unwrap().is_none());
    assert!(idm.session_user(&bobs).unwrap().is_some());
}

#[test]
fn disabling_or_deleting_a_user_ends_their_sessions_and_codes() {
    let (idm, _) = idm();
    let alice = user(&idm, "alice");
    let (token, _) = idm
        .start_session(&visitor(), alice.id, SignInMethod::Setup)
        .unwrap();
    let (_, code) = idm.create_login_code(&admin(), "alice", HOUR).unwrap();
    idm.set_user_disabled(&admin(), "alice", true).unwrap();
    assert!(idm.session_user(&token).unwrap().is_none());
    assert!(idm.list_sessions("alice").unwrap().is_empty());
    assert!(idm.list_login_codes("alice").unwrap().is_empty());
    idm.set_user_disabled(&admin(), "alice", false).unwrap();
    let err = idm
        .sign_in_with_login_code(&visitor(), &code.code, None)
        .unwrap_err();
    assert!(matches!(err, IdmError::SignInFailed { .. }));

    let bob = user(&idm, "bob");
    let (token, _) = idm
        .start_session(&visitor(), bob.id, SignInMethod::Setup)
        .unwrap();
    let (_, code) = idm.create_login_code(&admin(), "bob", HOUR).unwrap();
    idm.delete_user(&admin(), "bob").unwrap();
    assert!(idm.session_user(&token).unwrap().is_none());
    assert!(
        idm.sign_in_with_login_code(&visitor(), &code.code, None)
            .is_err()
    );
    // Nothing is left behind in the tables.
    assert_eq!(idm.sweep_expired().unwrap(), 0);
}

#[test]
fn a_disabled_users_session_stops_working_even_if_still_stored() {
    let (idm, _) = idm();
    let alice = user(&idm, "alice");
    let (token, _) = idm
        .start_session(&visitor(), alice.id, SignInMethod::Setup)
        .unwrap();
    // Disable behind idm's back (as a future LDAP sync bug might).
    idm.store()
        .write(|tx| {
            let mut record = tx.user(alice.id)?.unwrap();
            record.disabled = true;
            tx.put_user(&record)
        })
        .unwrap();
    assert!(idm.session_user(&token).unwrap().is_none());
    assert!(matches!(
        idm.peek_session(&token).unwrap(),
        SessionPeek::None
    ));
    assert!(
        idm.start_session(&visitor(), alice.id, SignInMethod::Setup)
            .is_err()
    );
}

#[test]
fn the_sweep_removes_only_expired_sessions_and_codes() {
    let (idm, clock) = idm();
    let alice = user(&idm, "alice");
    idm.start_session(&visitor(), alice.id, SignInMethod::Setup)
        .unwrap();
    idm.create_login_code(&admin(), "alice", HOUR * 2).unwrap();
    idm.create_login_code(&admin(), "alice", HOUR / 2).unwrap();
    assert_eq!(idm.sweep_expired().unwrap(), 0);
    clock.advance(Duration::minutes(61));
    let (fresh, _) = idm
        .start_session(&visitor(), alice.id, SignInMethod::Setup)
        .unwrap();
    assert_eq!(idm.sweep_expired().unwrap(), 2);
    assert!(idm.session_user(&fresh).unwrap().is_some());
    assert_eq!(idm.list_login_codes("alice").unwrap().len(), 1);
    assert_eq!(idm.sweep_expired().unwrap(), 0);
}

// ---- login codes ---------------------------------------------------------

#[test]
fn a_login_code_signs_in_once() {
    let (idm, _) = idm();
    user(&idm, "alice");
    let (who, issued) = idm.create_login_code(&admin(), "Alice", HOUR).unwrap();
    assert_eq!(who.username, "alice");
    assert_eq!(issued.code.len(), 19);
    assert_eq!(
        issued.expires_at,
        datetime!(2026-03-01 10:30:00 UTC),
        "an hour from now"
    );
    let created = last_event(&idm);
    assert_eq!(created.event, "login_code_created");
    assert!(!format!("{created:?}").contains(&issued.code));

    let listed = idm.list_login_codes("alice").unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, issued.id);
    assert_eq!(listed[0].created_by, "admin-socket (uid 1000)");

    // Typed sloppily: lowercase, spaces instead of hyphens.
    let typed = issued.code.to_lowercase().replace('-', " ");
    let (user, token, session) = idm
        .sign_in_with_login_code(&visitor(), &typed, None)
        .unwrap();
    assert_eq!(user.username, "alice");
    assert_eq!(session.method, SignInMethod::LoginCode);
    assert!(idm.session_user(&token).unwrap().is_some());
    let events: Vec<String> = audit(&idm).into_iter().map(|e| e.event).collect();
    assert_eq!(events[0], "login_code_sign_in");
    assert_eq!(events[1], "login_code_used");
    assert!(idm.list_login_codes("alice").unwrap().is_empty());

    let err = idm
        .sign_in_with_login_code(&visitor(), &issued.code, None)
        .unwrap_err();
    assert!(matches!(
        err,
        IdmError::SignInFailed {
            reason: SignInFailure::UnknownCode
        }
    ));
    assert_eq!(err.to_string(), "sign-in failed");
    let failed = last_event(&idm);
    assert_eq!(failed.event, "sign_in_failed");
    assert_eq!(detail_of(&failed, "reason"), Some("unknown_code"));
    assert_eq!(failed.ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(failed.actor, "anonymous");
}

#[test]
fn an_expired_login_code_fails() {
    let (idm, clock) = idm();
    user(&idm, "alice");
    let (_, issued) = idm.create_login_code(&admin(), "alice", HOUR).unwrap();
    clock.advance(Duration::minutes(60));
    let err = idm
        .sign_in_with_login_code(&visitor(), &issued.code, None)
        .unwrap_err();
    assert!(matches!(
        err,
        IdmError::SignInFailed {
            reason: SignInFailure::ExpiredCode
        }
    ));
    let failed = last_event(&idm);
    assert_eq!(detail_of(&failed, "reason"), Some("expired_code"));
    assert_eq!(failed.subject.as_deref(), Some("alice"));
    // It is gone, so a retry is simply unknown.
    assert!(matches!(
        idm.sign_in_with_login_code(&visitor(), &issued.code, None),
        Err(IdmError::SignInFailed {
            reason: SignInFailure::UnknownCode
        })
    ));
}

#[test]
fn a_disabled_users_code_fails_and_none_can_be_made() {
    let (idm, _) = idm();
    let alice = user(&idm, "alice");
    let (_, issued) = idm.create_login_code(&admin(), "alice", HOUR).unwrap();
    idm.store()
        .write(|tx| {
            let mut record = tx.user(alice.id)?.unwrap();
            record.disabled = true;
            tx.put_user(&record)
        })
        .unwrap();
    assert!(matches!(
        idm.sign_in_with_login_code(&visitor(), &issued.code, None),
        Err(IdmError::SignInFailed {
            reason: SignInFailure::UserDisabled
        })
    ));
    assert_eq!(
        detail_of(&last_event(&idm), "reason"),
        Some("user_disabled")
    );
    let err = idm.create_login_code(&admin(), "alice", HOUR).unwrap_err();
    assert!(matches!(err, IdmError::Invalid { field: "user", .. }));
}

#[test]
fn login_code_expiry_is_bounded_and_codes_are_revocable() {
    let (idm, _) = idm();
    user(&idm, "alice");
    let zero = idm.create_login_code(&admin(), "alice", StdDuration::ZERO);
    assert!(matches!(
        zero,
        Err(IdmError::Invalid {
            field: "expires",
            ..
        })
    ));
    let long = idm.create_login_code(
        &admin(),
        "alice",
        latchkey_protocol::MAX_EXPIRY + StdDuration::from_secs(1),
    );
    assert!(matches!(
        long,
        Err(IdmError::Invalid {
            field: "expires",
            ..
        })
    ));
    idm.create_login_code(&admin(), "alice", latchkey_protocol::MAX_EXPIRY)
        .unwrap();
    assert!(matches!(
        idm.create_login_code(&admin(), "nobody", HOUR),
        Err(IdmError::NotFound { .. })
    ));

    let (_, issued) = idm.create_login_code(&admin(), "alice", HOUR).unwrap();
    assert!(matches!(
        idm.revoke_login_code(&admin(), "alice", "nope"),
        Err(IdmError::NotFound {
            what: "login code",
            ..
        })
    ));
    idm.revoke_login_code(&admin(), "alice", &issued.id)
        .unwrap();
    assert_eq!(last_event(&idm).event, "login_code_revoked");
    assert_eq!(idm.list_login_codes("alice").unwrap().len(), 1);
    assert!(
        idm.sign_in_with_login_code(&visitor(), &issued.code, None)
            .is_err()
    );
}

#[test]
fn garbage_codes_fail_cleanly() {
    let (idm, _) = idm();
    for junk in ["", "x", "🔑🔑🔑🔑", &"A".repeat(10_000)] {
        assert!(matches!(
            idm.sign_in_with_login_code(&visitor(), junk, None),
            Err(IdmError::SignInFailed {
                reason: SignInFailure::UnknownCode
            })
        ));
    }
}

// ---- stored passkeys -----------------------------------------------------

fn stored_passkey(idm: &Idm, user: &User, credential: &[u8], created_at: i64) {
    let record = PasskeyRecord {
        credential_id: credential.to_vec(),
        user_id: user.id,
        name: "Passkey".into(),
        aaguid: Some([0xab; 16]),
        backup_eligible: true,
        backup_state: true,
        created_at,
        last_used_at: None,
        credential_json: b"{}".to_vec(),
    };
    idm.store().write(|tx| tx.put_passkey(&record)).unwrap();
}

#[test]
fn passkeys_list_rename_and_remove() {
    let (idm, _) = idm();
    let alice = user(&idm, "alice");
    let bob = user(&idm, "bob");
    stored_passkey(&idm, &alice, b"cred-two", 1_700_000_100);
    stored_passkey(&idm, &alice, b"cred-one", 1_700_000_000);
    stored_passkey(&idm, &bob, b"cred-bob", 1_700_000_000);

    let list = idm.list_passkeys("alice").unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].id, secrets::b64url(b"cred-one"));
    assert!(list[0].synced);
    assert_eq!(
        list[0].aaguid.as_deref(),
        Some("abababab-abab-abab-abab-abababababab")
    );
    assert_eq!(idm.get_user("alice").unwrap().passkey_count, 2);

    let actor = Actor::user(alice.id, "alice");
    let renamed = idm
        .rename_passkey(&actor, alice.id, &list[0].id, "  Laptop  ")
        .unwrap();
    assert_eq!(renamed.name, "Laptop");
    assert_eq!(last_event(&idm).event, "passkey_renamed");
    assert!(
        idm.rename_passkey(&actor, alice.id, &list[0].id, "")
            .is_err()
    );
    assert!(
        idm.rename_passkey(&actor, alice.id, &list[0].id, &"x".repeat(65))
            .is_err()
    );
    // Not hers: bob's credential id under alice is not found.
    let bobs = secrets::b64url(b"cred-bob");
    assert!(matches!(
        idm.rename_passkey(&actor, alice.id, &bobs, "Mine"),
        Err(IdmError::NotFound {
            what: "passkey",
            ..
        })
    ));
    assert!(matches!(
        idm.remove_passkey(&admin(), "alice", &bobs),
        Err(IdmError::NotFound { .. })
    ));

    idm.remove_passkey(&admin(), "alice", &list[0].id).unwrap();
    assert_eq!(last_event(&idm).event, "passkey_removed");
    assert_eq!(idm.list_passkeys("alice").unwrap().len(), 1);
    let tx = idm.store().read().unwrap();
    assert!(tx.passkey_by_credential(b"cred-one").unwrap().is_none());
    assert!(tx.passkey_by_credential(b"cred-bob").unwrap().is_some());
    drop(tx);

    idm.delete_user(&admin(), "bob").unwrap();
    let tx = idm.store().read().unwrap();
    assert!(tx.passkey_by_credential(b"cred-bob").unwrap().is_none());
}

#[test]
fn a_credential_id_belongs_to_one_user_only() {
    let (idm, _) = idm();
    let alice = user(&idm, "alice");
    let bob = user(&idm, "bob");
    stored_passkey(&idm, &alice, b"shared", 0);
    let record = PasskeyRecord {
        credential_id: b"shared".to_vec(),
        user_id: bob.id,
        name: "Passkey".into(),
        aaguid: None,
        backup_eligible: false,
        backup_state: false,
        created_at: 0,
        last_used_at: None,
        credential_json: Vec::new(),
    };
    let err = idm.store().write(|tx| tx.put_passkey(&record)).unwrap_err();
    assert!(matches!(
        err,
        crate::store::StoreError::Conflict {
            field: "credential"
        }
    ));
}
