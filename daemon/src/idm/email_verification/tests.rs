use std::sync::Arc;
use std::time::Duration;

use latchkey_protocol::{AuditQuery, NewUser, UserPatch};
use time::macros::datetime;

use super::*;
use crate::clock::ManualClock;
use crate::idm::{EmailBinding, EmailProof, SignupForm, SignupOutcome, SignupVia};
use crate::store::Store;

const URL: &str = "https://id.example.com";

fn idm() -> (Idm, ManualClock) {
    let clock = ManualClock::new(datetime!(2026-03-01 09:30:00 UTC));
    (
        Idm::new(Store::memory().unwrap(), Arc::new(clock.clone())),
        clock,
    )
}

fn admin() -> Actor {
    Actor::admin_socket(1000)
}

fn visitor() -> Actor {
    Actor::anonymous(Some("192.0.2.7".into()), Some("test".into()))
}

fn set(idm: &Idm, key: &str, value: &str) {
    idm.set_setting(&admin(), key, value).unwrap();
}

fn with_smtp(idm: &Idm) {
    set(idm, "smtp.host", "127.0.0.1");
    set(idm, "smtp.from", "id@example.com");
}

fn signup(idm: &Idm, username: &str) -> UserId {
    set(idm, "signups.mode", "open");
    let form = SignupForm {
        username: username.into(),
        email: format!("{username}@example.com"),
        first_name: "Sam".into(),
        last_name: "Ple".into(),
    };
    match idm
        .sign_up(&visitor(), SignupVia::Open, &form, URL, None)
        .unwrap()
    {
        SignupOutcome::Created { user, .. } => user.id,
        other => panic!("{other:?}"),
    }
}

fn verified(idm: &Idm, user: &str) -> bool {
    idm.get_user(user).unwrap().user.email_verified
}

/// The texts of queued mails of `kind`, oldest first.
fn mails(idm: &Idm, kind: &str) -> Vec<String> {
    let tx = idm.store.read().unwrap();
    tx.outbox()
        .unwrap()
        .into_iter()
        .filter(|(_, m)| m.kind == kind)
        .map(|(_, m)| m.text)
        .collect()
}

/// The path segment after `marker` in the newest mail of `kind`.
fn token_in(idm: &Idm, kind: &str, marker: &str) -> String {
    let text = mails(idm, kind).pop().expect("a mail");
    let start = text.find(marker).expect("the link") + marker.len();
    text[start..].split_whitespace().next().unwrap().to_owned()
}

fn events(idm: &Idm, name: &str) -> Vec<crate::idm::AuditEvent> {
    idm.list_audit(&AuditQuery {
        limit: 500,
        ..AuditQuery::default()
    })
    .unwrap()
    .into_iter()
    .filter(|e| e.event == name)
    .collect()
}

#[test]
fn a_signed_up_address_is_unverified_until_its_link_is_used_once() {
    let (idm, _) = idm();
    with_smtp(&idm);
    signup(&idm, "sam");
    assert!(!verified(&idm, "sam"));
    let token = token_in(&idm, "email_verification", "/email/verify/");
    assert_eq!(token.len(), 43, "256 bits");
    assert_eq!(events(&idm, "email_verification_sent").len(), 1);

    let done = idm.verify_email(&visitor(), &token).unwrap();
    assert_eq!(
        done,
        EmailVerification::Verified {
            username: "sam".into(),
            address: "sam@example.com".into()
        }
    );
    assert!(verified(&idm, "sam"));
    let proven = events(&idm, "email_verified");
    assert_eq!(proven.len(), 1);
    assert_eq!(proven[0].details, [("via".to_owned(), "link".to_owned())]);
    // Single use, and garbage is simply unknown.
    assert_eq!(
        idm.verify_email(&visitor(), &token).unwrap(),
        EmailVerification::Unknown
    );
    assert_eq!(
        idm.verify_email(&visitor(), "nope").unwrap(),
        EmailVerification::Unknown
    );
}

#[test]
fn without_smtp_signup_sends_nothing_and_resending_says_so() {
    let (idm, _) = idm();
    let sam = signup(&idm, "sam");
    assert!(!verified(&idm, "sam"));
    assert!(mails(&idm, "email_verification").is_empty());
    assert_eq!(
        idm.send_email_verification(&visitor(), sam, URL).unwrap(),
        VerificationMail::NotConfigured
    );
}

#[test]
fn a_link_for_an_old_address_or_past_its_day_is_refused() {
    let (idm, clock) = idm();
    with_smtp(&idm);
    signup(&idm, "sam");
    let first = token_in(&idm, "email_verification", "/email/verify/");
    let patch = UserPatch {
        email: Some(Some("new@example.com".into())),
        ..UserPatch::default()
    };
    idm.update_user(&admin(), "sam", patch).unwrap();
    // The admin's new address counts as verified (trust is on by default)…
    assert!(verified(&idm, "sam"));
    assert_eq!(
        idm.verify_email(&visitor(), &first).unwrap(),
        EmailVerification::AddressChanged
    );
    // …and with trust off, a changed address is unverified again.
    set(&idm, EMAIL_TRUST_ADMIN_ADDRESSES, "false");
    let patch = UserPatch {
        email: Some(Some("other@example.com".into())),
        ..UserPatch::default()
    };
    idm.update_user(&admin(), "sam", patch).unwrap();
    assert!(!verified(&idm, "sam"));
    let sam = idm.get_user("sam").unwrap().user.id;
    assert_eq!(
        idm.send_email_verification(&visitor(), sam, URL).unwrap(),
        VerificationMail::Queued
    );
    let late = token_in(&idm, "email_verification", "/email/verify/");
    clock.advance(time::Duration::hours(EMAIL_VERIFICATION_HOURS));
    assert_eq!(
        idm.verify_email(&visitor(), &late).unwrap(),
        EmailVerification::Expired
    );
    assert!(!verified(&idm, "sam"));
    // Swept once expired.
    idm.sweep_expired().unwrap();
    assert_eq!(
        idm.verify_email(&visitor(), &late).unwrap(),
        EmailVerification::Unknown
    );
}

#[test]
fn resending_is_limited_per_user_per_hour() {
    let (idm, clock) = idm();
    with_smtp(&idm);
    let sam = signup(&idm, "sam");
    for _ in 1..VERIFICATION_MAILS_PER_HOUR {
        assert_eq!(
            idm.send_email_verification(&visitor(), sam, URL).unwrap(),
            VerificationMail::Queued
        );
    }
    clock.advance(time::Duration::minutes(10));
    let VerificationMail::TooMany { retry_after_secs } =
        idm.send_email_verification(&visitor(), sam, URL).unwrap()
    else {
        panic!("the fourth in an hour is refused");
    };
    assert_eq!(retry_after_secs, 50 * 60);
    clock.advance(time::Duration::minutes(50));
    assert_eq!(
        idm.send_email_verification(&visitor(), sam, URL).unwrap(),
        VerificationMail::Queued
    );
    assert_eq!(mails(&idm, "email_verification").len(), 4);
}

#[test]
fn admin_and_setup_addresses_follow_the_trust_setting() {
    let (idm, _) = idm();
    let input = |name: &str| NewUser {
        username: name.into(),
        email: Some(format!("{name}@example.com")),
        ..NewUser::default()
    };
    idm.create_user(&admin(), input("ada")).unwrap();
    assert!(verified(&idm, "ada"));
    let created = events(&idm, "user_created");
    assert!(
        created[0]
            .details
            .contains(&("email_verified".to_owned(), "true".to_owned()))
    );
    set(&idm, EMAIL_TRUST_ADMIN_ADDRESSES, "false");
    idm.create_user(&admin(), input("bea")).unwrap();
    assert!(!verified(&idm, "bea"));
    // No address, nothing verified.
    idm.create_user(
        &admin(),
        NewUser {
            email: None,
            ..input("cy")
        },
    )
    .unwrap();
    assert!(!verified(&idm, "cy"));
}

#[test]
fn an_emailed_sign_in_link_proves_the_address_it_went_to() {
    let (idm, _) = idm();
    with_smtp(&idm);
    signup(&idm, "sam");
    set(&idm, "email.one_time_access", "true");
    let binding = EmailBinding::generate().unwrap();
    idm.request_email_link(&visitor(), "sam@example.com", &binding, URL)
        .unwrap();
    let token = token_in(&idm, "email_link", "/login/email/");
    let (user, _, _) = idm
        .sign_in_with_email_link(&visitor(), Some(&binding), &EmailProof::Link(token), None)
        .unwrap();
    assert!(user.email_verified);
    assert!(verified(&idm, "sam"));
    let proven = events(&idm, "email_verified");
    assert_eq!(
        proven[0].details,
        [("via".to_owned(), "email_link".to_owned())]
    );
}

#[test]
fn only_a_login_code_sent_to_the_current_address_proves_it() {
    let (idm, _) = idm();
    with_smtp(&idm);
    set(&idm, "email.admin_login_codes", "true");
    signup(&idm, "sam");
    let hour = Duration::from_secs(3600);
    // Handed over, not mailed: proves nothing.
    let (_, plain) = idm.create_login_code(&admin(), "sam", hour).unwrap();
    idm.sign_in_with_login_code(&visitor(), &plain.code, None)
        .unwrap();
    assert!(!verified(&idm, "sam"));
    // Mailed, but the address changed since (trust off, so it stays unverified).
    set(&idm, EMAIL_TRUST_ADMIN_ADDRESSES, "false");
    let (_, stale) = idm
        .create_login_code_emailed(&admin(), "sam", hour, URL)
        .unwrap();
    let patch = UserPatch {
        email: Some(Some("sam2@example.com".into())),
        ..UserPatch::default()
    };
    idm.update_user(&admin(), "sam", patch).unwrap();
    idm.sign_in_with_login_code(&visitor(), &stale.code, None)
        .unwrap();
    assert!(!verified(&idm, "sam"));
    // Mailed to the current address: proven.
    let (_, mailed) = idm
        .create_login_code_emailed(&admin(), "sam", hour, URL)
        .unwrap();
    let (user, _, _) = idm
        .sign_in_with_login_code(&visitor(), &mailed.code, None)
        .unwrap();
    assert!(user.email_verified);
    let proven = events(&idm, "email_verified");
    assert_eq!(proven.len(), 1);
    assert_eq!(
        proven[0].details,
        [("via".to_owned(), "login_code".to_owned())]
    );
}

#[test]
fn deleting_a_user_removes_their_links() {
    let (idm, _) = idm();
    with_smtp(&idm);
    let sam = signup(&idm, "sam");
    let token = token_in(&idm, "email_verification", "/email/verify/");
    idm.delete_user(&admin(), "sam").unwrap();
    assert!(
        idm.store
            .read()
            .unwrap()
            .user_email_verifications(sam)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        idm.verify_email(&visitor(), &token).unwrap(),
        EmailVerification::Unknown
    );
}
