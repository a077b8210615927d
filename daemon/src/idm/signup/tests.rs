use std::sync::Arc;

use latchkey_protocol::{AuditQuery, NewGroup, NewUser};
use time::macros::datetime;

use super::*;
use crate::clock::ManualClock;
use crate::store::Store;

fn idm() -> (Idm, ManualClock) {
    let clock = ManualClock::new(datetime!(2026-03-01 09:30:00 UTC));
    (
        Idm::new(Store::memory().unwrap(), Arc::new(clock.clone())),
        clock,
    )
}

/// Where verification links point.
const URL: &str = "https://id.example.com";

fn admin() -> Actor {
    Actor::admin_socket(1000)
}

fn visitor() -> Actor {
    Actor::anonymous(Some("192.0.2.7".into()), Some("test".into()))
}

fn form(username: &str) -> SignupForm {
    SignupForm {
        username: username.into(),
        email: format!("{username}@example.com"),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
    }
}

fn token(idm: &Idm, limit: u32, groups: &[&str]) -> SignupTokenIssued {
    idm.create_signup_token(
        &admin(),
        &NewSignupToken {
            expires_in_secs: 86_400,
            usage_limit: limit,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        },
    )
    .unwrap()
}

fn set(idm: &Idm, key: &str, value: &str) {
    idm.set_setting(&admin(), key, value).unwrap();
}

fn refused(outcome: SignupOutcome) -> SignupRefusal {
    match outcome {
        SignupOutcome::Refused(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn created(outcome: SignupOutcome) -> User {
    match outcome {
        SignupOutcome::Created { user, session, .. } => {
            assert_eq!(session.method, SignInMethod::Signup);
            *user
        }
        other => panic!("expected an account, got {other:?}"),
    }
}

#[test]
fn the_settings_default_to_disabled_with_email_required() {
    let (idm, _) = idm();
    let s = idm.signup_settings().unwrap();
    assert_eq!(s.mode, SignupMode::Disabled);
    assert!(s.require_email);
    assert!(s.default_groups.is_empty());
    let err = idm
        .set_setting(&admin(), SIGNUPS_DEFAULT_GROUPS, "nope")
        .unwrap_err();
    assert!(err.to_string().contains("no group \"nope\""), "{err}");
    idm.create_group(
        &admin(),
        NewGroup {
            name: "staff".into(),
            friendly_name: None,
        },
    )
    .unwrap();
    set(&idm, SIGNUPS_DEFAULT_GROUPS, "Staff, staff");
    assert_eq!(idm.signup_settings().unwrap().default_groups, ["staff"]);
    assert!(
        idm.set_setting(&admin(), SIGNUPS_MODE, "sometimes")
            .is_err()
    );
}

#[test]
fn tokens_are_128_bits_listed_by_prefix_and_hidden_from_debug() {
    let (idm, _) = idm();
    let issued = token(&idm, 3, &[]);
    assert_eq!(issued.token.len(), 22);
    assert!(!format!("{issued:?}").contains(&issued.token));
    let list = idm.list_signup_tokens().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, issued.id);
    assert!(issued.token.starts_with(&list[0].prefix));
    assert_eq!((list[0].uses, list[0].usage_limit), (0, 3));
    for (secs, limit, groups) in [
        (0, 1, vec![]),
        (31 * 86_400 + 1, 1, vec![]),
        (60, 0, vec![]),
        (60, 101, vec![]),
        (60, 1, vec!["ghosts".to_owned()]),
    ] {
        let input = NewSignupToken {
            expires_in_secs: secs,
            usage_limit: limit,
            groups,
        };
        assert!(
            matches!(
                idm.create_signup_token(&admin(), &input),
                Err(IdmError::Invalid { .. })
            ),
            "{input:?}"
        );
    }
}

#[test]
fn a_token_makes_at_most_its_limit_and_failures_do_not_use_it() {
    let (idm, _) = idm();
    set(&idm, SIGNUPS_MODE, "token");
    idm.create_user(
        &admin(),
        NewUser {
            username: "Taken".into(),
            email: Some("taken@example.com".into()),
            ..NewUser::default()
        },
    )
    .unwrap();
    let issued = token(&idm, 2, &[]);
    let via = SignupVia::Token(&issued.token);
    // Taken username (any case) and taken email: refused, token untouched.
    let SignupOutcome::Invalid(errors) = idm
        .sign_up(&visitor(), via, &form("taken"), URL, None)
        .unwrap()
    else {
        panic!("expected field errors");
    };
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].field, "username");
    assert_eq!(errors[1].field, "email");
    let SignupOutcome::Invalid(errors) = idm
        .sign_up(
            &visitor(),
            via,
            &SignupForm {
                email: "TAKEN@example.com".into(),
                ..form("fresh")
            },
            URL,
            None,
        )
        .unwrap()
    else {
        panic!("expected field errors");
    };
    assert_eq!(errors[0].field, "email");
    assert_eq!(idm.list_signup_tokens().unwrap()[0].uses, 0);

    created(
        idm.sign_up(&visitor(), via, &form("one"), URL, None)
            .unwrap(),
    );
    created(
        idm.sign_up(&visitor(), via, &form("two"), URL, None)
            .unwrap(),
    );
    assert_eq!(
        refused(
            idm.sign_up(&visitor(), via, &form("three"), URL, None)
                .unwrap()
        ),
        SignupRefusal::UsedUp
    );
    assert!(idm.list_signup_tokens().unwrap().is_empty());
    assert_eq!(idm.counts().unwrap().users, 3);
}

#[test]
fn concurrent_signups_never_overshoot_the_limit() {
    let (idm, _) = idm();
    set(&idm, SIGNUPS_MODE, "token");
    let issued = token(&idm, 5, &[]);
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let (idm, secret) = (idm.clone(), issued.token.clone());
            std::thread::spawn(move || {
                matches!(
                    idm.sign_up(
                        &visitor(),
                        SignupVia::Token(&secret),
                        &form(&format!("u{i}")),
                        URL,
                        None
                    )
                    .unwrap(),
                    SignupOutcome::Created { .. }
                )
            })
        })
        .collect();
    let made = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|ok| *ok)
        .count();
    assert_eq!(made, 5);
    assert_eq!(idm.counts().unwrap().users, 5);
}

#[test]
fn expired_revoked_unknown_and_wrong_mode_are_told_apart() {
    let (idm, clock) = idm();
    let issued = token(&idm, 5, &[]);
    let via = SignupVia::Token(&issued.token);
    // Disabled: nothing works.
    assert_eq!(
        idm.check_signup(via).unwrap(),
        Err(SignupRefusal::WrongMode)
    );
    assert_eq!(
        idm.check_signup(SignupVia::Open).unwrap(),
        Err(SignupRefusal::WrongMode)
    );
    set(&idm, SIGNUPS_MODE, "token");
    assert!(idm.check_signup(via).unwrap().is_ok());
    assert_eq!(
        idm.check_signup(SignupVia::Open).unwrap(),
        Err(SignupRefusal::WrongMode)
    );
    assert_eq!(
        idm.check_signup(SignupVia::Token("AAAAAAAAAAAAAAAAAAAAAA"))
            .unwrap(),
        Err(SignupRefusal::UnknownToken)
    );
    assert_eq!(
        idm.check_signup(SignupVia::Token("../x")).unwrap(),
        Err(SignupRefusal::UnknownToken)
    );
    clock.advance(time::Duration::days(1));
    assert_eq!(idm.check_signup(via).unwrap(), Err(SignupRefusal::Expired));
    assert_eq!(
        refused(
            idm.sign_up(&visitor(), via, &form("late"), URL, None)
                .unwrap()
        ),
        SignupRefusal::Expired
    );

    let second = token(&idm, 5, &[]);
    idm.revoke_signup_token(&admin(), &second.id).unwrap();
    assert_eq!(
        idm.check_signup(SignupVia::Token(&second.token)).unwrap(),
        Err(SignupRefusal::Revoked)
    );
    assert!(matches!(
        idm.revoke_signup_token(&admin(), &second.id),
        Err(IdmError::NotFound { .. })
    ));
    // Swept 30 days after expiry.
    clock.advance(time::Duration::days(31));
    idm.sweep_expired().unwrap();
    assert_eq!(
        idm.check_signup(via).unwrap(),
        Err(SignupRefusal::UnknownToken)
    );
}

#[test]
fn open_signup_joins_the_default_groups_and_may_skip_email() {
    let (idm, _) = idm();
    for name in ["staff", "beta"] {
        idm.create_group(
            &admin(),
            NewGroup {
                name: name.into(),
                friendly_name: None,
            },
        )
        .unwrap();
    }
    set(&idm, SIGNUPS_MODE, "open");
    set(&idm, SIGNUPS_DEFAULT_GROUPS, "staff");
    let no_email = SignupForm {
        email: String::new(),
        ..form("noemail")
    };
    let SignupOutcome::Invalid(errors) = idm
        .sign_up(&visitor(), SignupVia::Open, &no_email, URL, None)
        .unwrap()
    else {
        panic!("email is required by default");
    };
    assert_eq!(errors[0].field, "email");
    set(&idm, SIGNUPS_REQUIRE_EMAIL, "false");
    let user = created(
        idm.sign_up(&visitor(), SignupVia::Open, &no_email, URL, None)
            .unwrap(),
    );
    assert_eq!(user.email, None);
    assert_eq!(idm.get_user("noemail").unwrap().groups, ["staff"]);

    // A token's groups, not the defaults, for token signups.
    set(&idm, SIGNUPS_MODE, "token");
    let issued = token(&idm, 1, &["BETA"]);
    assert_eq!(issued.groups, ["beta"]);
    created(
        idm.sign_up(
            &visitor(),
            SignupVia::Token(&issued.token),
            &form("tokened"),
            URL,
            None,
        )
        .unwrap(),
    );
    assert_eq!(idm.get_user("tokened").unwrap().groups, ["beta"]);

    let events = idm.list_audit(&AuditQuery::default()).unwrap();
    let signed_up: Vec<_> = events
        .iter()
        .filter(|e| e.event == "user_signed_up")
        .collect();
    assert_eq!(signed_up.len(), 2);
    let detail_of = |e: &crate::idm::AuditEvent, k: &str| {
        e.details
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    // Newest first.
    assert_eq!(detail_of(signed_up[0], "method").as_deref(), Some("token"));
    assert_eq!(detail_of(signed_up[0], "token"), Some(issued.id.clone()));
    assert_eq!(detail_of(signed_up[1], "method").as_deref(), Some("open"));
    assert_eq!(detail_of(signed_up[1], "groups").as_deref(), Some("staff"));
    assert!(events.iter().any(|e| e.event == "signup_token_created"));
    assert!(events.iter().any(|e| e.event == "signup_sign_in"));
}

#[test]
fn bad_fields_are_each_reported() {
    let (idm, _) = idm();
    set(&idm, SIGNUPS_MODE, "open");
    let bad = SignupForm {
        username: "no spaces!".into(),
        email: "not-an-email".into(),
        first_name: "x".repeat(101),
        last_name: String::new(),
    };
    let SignupOutcome::Invalid(errors) = idm
        .sign_up(&visitor(), SignupVia::Open, &bad, URL, None)
        .unwrap()
    else {
        panic!("expected field errors");
    };
    let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
    assert_eq!(fields, ["username", "email", "first_name"]);
    assert_eq!(idm.counts().unwrap().users, 0);
}
