//! Passkeys over real HTTP against the real daemon, with the tests acting as the browser
//! (reqwest with a cookie jar) in front of a [`SoftAuthenticator`]: enrolment after a login code
//! (user verification and a discoverable credential required, the same authenticator never
//! twice), usernameless sign-in, and renaming and deleting from the account page.

use latchkey_tests::TestDaemon;
use latchkey_tests::authenticator::{AuthenticatorError, SoftAuthenticator};
use reqwest::StatusCode;
use serde_json::{Value, json};

use latchkey_tests::audit::{audit_detail, audit_events};
use latchkey_tests::http::{get, location};
use latchkey_tests::passkeys::{
    alice_with_a_passkey, assert_sign_in_failed, assert_signed_in, count_events, create_user,
    passkeys_of, register_finish, register_start, sign_in, sign_in_finish, sign_in_start,
    signed_in_with_code,
};

#[tokio::test]
async fn enrol_after_a_login_code_then_sign_in_usernameless_and_last_used_moves() {
    let t = TestDaemon::start().await;
    create_user(&t, "alice").await;
    let b = signed_in_with_code(&t, "alice").await;

    // The options ask for a discoverable credential with user verification, for this site.
    let (ceremony, options) = register_start(&b).await;
    let pk = &options["publicKey"];
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["requireResidentKey"], true);
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(pk["rp"]["id"], "localhost");
    assert_eq!(pk["user"]["name"], "alice");
    let excluded = &pk["excludeCredentials"];
    assert!(excluded.is_null() || excluded == &json!([]), "{excluded}");

    let mut auth = SoftAuthenticator::new();
    let credential = auth.register(&t.base_url, &options).unwrap();
    let done = register_finish(&b, &ceremony, &credential).await;
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
    let id = done.body["id"].as_str().unwrap().to_owned();
    assert_eq!(id, auth.credentials()[0].id_b64());
    assert_eq!(done.body["name"], "Passkey", "an unknown AAGUID");

    // The console sees it, never used; the account page lists it.
    let listed = passkeys_of(&t, "alice").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["name"], "Passkey");
    assert_eq!(listed[0]["synced"], false);
    assert_eq!(listed[0]["created_at"], "2026-11-23T08:00:00Z");
    assert_eq!(listed[0]["last_used_at"], Value::Null);
    let (_, _, account) = get(&b.client, &b.url("/account")).await;
    assert!(account.contains(r#"<span class="passkey-name">Passkey</span>"#));
    assert!(
        !account.contains("Add a passkey to this account"),
        "no banner"
    );
    let added = &audit_events(&t).await[0];
    assert_eq!(added["event"], "passkey_added");
    assert_eq!(added["actor"], "alice");
    assert_eq!(audit_detail(added, "id"), Some(id.as_str()));

    // Usernameless sign-in from a fresh browser: no user named anywhere.
    t.clock.advance(time::Duration::minutes(10));
    let (signed_in, done) = sign_in(&t, &mut auth).await;
    assert_signed_in(&signed_in, &done, "alice").await;
    let listed = passkeys_of(&t, "alice").await;
    assert_eq!(listed[0]["last_used_at"], "2026-11-23T08:10:00Z");
    let event = &audit_events(&t).await[0];
    assert_eq!(event["event"], "passkey_sign_in", "{event}");
    assert_eq!(event["subject"], "alice");
    assert_eq!(audit_detail(event, "passkey"), Some(id.as_str()));

    // Again later: last used moves on, and the counter the authenticator sent was accepted.
    t.clock.advance(time::Duration::minutes(30));
    let (again, done) = sign_in(&t, &mut auth).await;
    assert_signed_in(&again, &done, "alice").await;
    assert_eq!(auth.credentials()[0].counter(), 2);
    let listed = passkeys_of(&t, "alice").await;
    assert_eq!(listed[0]["last_used_at"], "2026-11-23T08:40:00Z");
}

#[tokio::test]
async fn registration_needs_user_verification_and_a_discoverable_credential() {
    let t = TestDaemon::start().await;
    create_user(&t, "alice").await;
    let b = signed_in_with_code(&t, "alice").await;

    // No UV flag in the authenticator data: refused.
    let (ceremony, options) = register_start(&b).await;
    let mut unverified = SoftAuthenticator::new().with_user_verification(false);
    let credential = unverified.register(&t.base_url, &options).unwrap();
    let done = register_finish(&b, &ceremony, &credential).await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST, "{done:?}");
    assert_eq!(done.body["error"], "passkey_rejected");
    assert!(
        done.body["message"].as_str().unwrap().contains("verify"),
        "{done:?}"
    );

    // The browser reports a non-discoverable credential (credProps.rk = false): refused.
    let (ceremony, options) = register_start(&b).await;
    let mut auth = SoftAuthenticator::new();
    let mut credential = auth.register(&t.base_url, &options).unwrap();
    credential["clientExtensionResults"] = json!({"credProps": {"rk": false}});
    let done = register_finish(&b, &ceremony, &credential).await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST, "{done:?}");
    assert_eq!(done.body["error"], "passkey_rejected");

    assert!(passkeys_of(&t, "alice").await.is_empty());
    assert_eq!(count_events(&t, "passkey_added").await, 0);
}

#[tokio::test]
async fn exclude_credentials_stops_enrolling_the_same_authenticator_twice() {
    let t = TestDaemon::start().await;
    create_user(&t, "alice").await;
    let b = signed_in_with_code(&t, "alice").await;
    let mut auth = SoftAuthenticator::new();
    let (ceremony, options) = register_start(&b).await;
    let first_credential = auth.register(&t.base_url, &options).unwrap();
    let first = register_finish(&b, &ceremony, &first_credential).await.body;

    let (ceremony, options) = register_start(&b).await;
    let excluded: Vec<&str> = options["publicKey"]["excludeCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(excluded, vec![first["id"].as_str().unwrap()]);
    let refused = auth.register(&t.base_url, &options);
    assert!(
        matches!(refused, Err(AuthenticatorError::Excluded(_))),
        "{refused:?}"
    );

    // Another authenticator may enrol, and gets a distinct default name; a chosen name wins.
    let mut laptop = SoftAuthenticator::new().with_backup(true, true);
    let credential = laptop.register(&t.base_url, &options).unwrap();
    let done = register_finish(&b, &ceremony, &credential).await;
    assert_eq!(done.body["name"], "Passkey 2", "{done:?}");
    let (ceremony, options) = register_start(&b).await;
    assert_eq!(
        options["publicKey"]["excludeCredentials"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let mut key = SoftAuthenticator::new();
    let credential = key.register(&t.base_url, &options).unwrap();
    let done = b
        .api(
            "/api/passkey/register/finish",
            &json!({"ceremony": ceremony, "credential": credential, "name": "  Desk key "}),
        )
        .await;
    assert_eq!(done.body["name"], "Desk key", "{done:?}");

    // Posting the first registration again, in a new ceremony, adds nothing; nor does a
    // response made for another ceremony's challenge.
    let (ceremony, _) = register_start(&b).await;
    let done = register_finish(&b, &ceremony, &first_credential).await;
    assert_eq!(done.body["error"], "passkey_rejected", "{done:?}");
    let (ceremony, _) = register_start(&b).await;
    let (_, options) = register_start(&b).await;
    let stale = SoftAuthenticator::new()
        .register(&t.base_url, &options)
        .unwrap();
    let done = register_finish(&b, &ceremony, &stale).await;
    assert_eq!(done.body["error"], "passkey_rejected", "{done:?}");
    assert_eq!(passkeys_of(&t, "alice").await.len(), 3);
    assert_eq!(count_events(&t, "passkey_added").await, 3);
}

#[tokio::test]
async fn passkeys_are_renamed_and_deleted_from_the_account_page() {
    let t = TestDaemon::start().await;
    let (mut auth, id) = alice_with_a_passkey(&t).await;
    let mut b = signed_in_with_code(&t, "alice").await;
    let rename = format!("/account/passkeys/{id}/rename");
    let delete = format!("/account/passkeys/{id}/delete");

    let (status, headers, _) = b
        .form(&rename, &[("_csrf", b.csrf.as_str()), ("name", " Phone ")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/account?done=renamed");
    assert_eq!(passkeys_of(&t, "alice").await[0]["name"], "Phone");
    let page = b.load("/account?done=renamed").await;
    assert!(page.contains(r#"<span class="passkey-name">Phone</span>"#));
    assert!(page.contains("Passkey renamed."));
    let event = &audit_events(&t).await[0];
    assert_eq!(event["event"], "passkey_renamed", "{event}");

    // Bad names are a 400 page and change nothing.
    let long = "x".repeat(65);
    for name in ["", "   ", long.as_str(), "tab\there"] {
        let (status, _, page) = b
            .form(&rename, &[("_csrf", b.csrf.as_str()), ("name", name)])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {page}");
        assert!(page.contains("<html"), "{name:?}: a page");
    }
    assert_eq!(passkeys_of(&t, "alice").await[0]["name"], "Phone");

    // Bob cannot touch alice's passkey.
    create_user(&t, "bob").await;
    let bob = signed_in_with_code(&t, "bob").await;
    let (status, _, _) = bob
        .form(&rename, &[("_csrf", bob.csrf.as_str()), ("name", "Mine")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = bob
        .form(&delete, &[("_csrf", bob.csrf.as_str()), ("confirm", "yes")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&bob.client, &bob.url(&delete)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(passkeys_of(&t, "alice").await.len(), 1);

    // Delete: the confirm page warns it is the last one; without confirm it goes back there.
    let page = b.load(&delete).await;
    assert!(page.contains("This is your only passkey."), "{page}");
    let (status, headers, _) = b.form(&delete, &[("_csrf", b.csrf.as_str())]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), delete);
    assert_eq!(passkeys_of(&t, "alice").await.len(), 1);
    let (status, headers, _) = b
        .form(&delete, &[("_csrf", b.csrf.as_str()), ("confirm", "yes")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/account?done=removed");
    assert!(passkeys_of(&t, "alice").await.is_empty());
    let event = &audit_events(&t).await[0];
    assert_eq!(event["event"], "passkey_removed", "{event}");
    let page = b.load("/account").await;
    assert!(
        page.contains("Add a passkey to this account"),
        "the banner is back"
    );

    // Gone for sign-in too.
    let (visitor, done) = sign_in(&t, &mut auth).await;
    assert_sign_in_failed(&visitor, &done, "unknown_credential").await;
}

/// `passkeys.user_verification` over a whole sign-in. Decision (the setting's registry warning,
/// `daemon/src/idm/ceremony.rs`): `preferred` changes what browsers are asked, and nothing
/// else; an assertion whose authenticator did not verify the user is refused under either
/// value, since a passkey is the account's only factor.
#[tokio::test]
async fn a_sign_in_without_user_verification_is_refused_under_required_and_preferred() {
    let t = TestDaemon::start().await;
    let (auth, _) = alice_with_a_passkey(&t).await;
    let mut unverified = auth.with_user_verification(false);
    for setting in ["preferred", "required"] {
        let out = t
            .cli(&["config", "set", "passkeys.user_verification", setting])
            .await;
        assert_eq!(out.code, 0, "{out:?}");
        let (b, ceremony, options) = sign_in_start(&t).await;
        assert_eq!(options["publicKey"]["userVerification"], setting);
        let assertion = unverified.sign_in(&t.base_url, &options).unwrap();
        let done = sign_in_finish(&b, &ceremony, &assertion).await;
        assert_sign_in_failed(&b, &done, "bad_assertion").await;
    }
    // The same passkey verifying the user signs in under `preferred`.
    let out = t
        .cli(&["config", "set", "passkeys.user_verification", "preferred"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let mut verified = unverified.with_user_verification(true);
    let (b, done) = sign_in(&t, &mut verified).await;
    assert_signed_in(&b, &done, "alice").await;
    assert_eq!(count_events(&t, "passkey_sign_in").await, 1);
}
