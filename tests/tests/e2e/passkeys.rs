//! Passkey ceremonies over real HTTP against the real daemon, with the tests acting as the
//! browser (reqwest with a cookie jar) in front of a [`SoftAuthenticator`]: enrolment after a
//! login code, usernameless sign-in, and every way a sign-in must fail — revoked, replayed,
//! tampered, another site's, cloned, disabled, expired or reused ceremony, missing CSRF,
//! malformed bodies — each with a `sign_in_failed` audit event and no session.

use latchkey_tests::TestDaemon;
use latchkey_tests::authenticator::{
    AuthenticatorError, SoftAuthenticator, tamper_client_data, tamper_signature, with_user_handle,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use latchkey_tests::audit::{audit_detail, audit_events};
use latchkey_tests::http::{get, location, sets_session};
use latchkey_tests::passkeys::{
    Browser, Reply, alice_with_a_passkey, assert_not_signed_in, assert_sign_in_failed,
    assert_signed_in, count_events, create_user, passkeys_of, register, register_finish,
    register_start, reply, sign_in, sign_in_finish, sign_in_start, signed_in_with_code,
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
async fn a_revoked_passkey_cannot_sign_in() {
    let t = TestDaemon::start().await;
    let (mut auth, id) = alice_with_a_passkey(&t).await;
    let (b, done) = sign_in(&t, &mut auth).await;
    assert_signed_in(&b, &done, "alice").await;

    let out = t.cli(&["passkey", "revoke", "alice", &id]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(passkeys_of(&t, "alice").await.is_empty());

    let (b, done) = sign_in(&t, &mut auth).await;
    assert_sign_in_failed(&b, &done, "unknown_credential").await;
}

#[tokio::test]
async fn a_replayed_assertion_fails_in_its_own_ceremony_and_in_a_new_one() {
    let t = TestDaemon::start().await;
    let (mut auth, _) = alice_with_a_passkey(&t).await;
    let (b, ceremony, options) = sign_in_start(&t).await;
    let assertion = auth.sign_in(&t.base_url, &options).unwrap();
    let done = sign_in_finish(&b, &ceremony, &assertion).await;
    assert_signed_in(&b, &done, "alice").await;
    let sessions_before = count_events(&t, "passkey_sign_in").await;

    // The same request again (another browser that captured it): the ceremony is spent.
    let thief = Browser::open(&t, "/login").await;
    let again = sign_in_finish(&thief, &ceremony, &assertion).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{again:?}");
    assert_eq!(again.body["error"], "ceremony_expired");
    assert!(!sets_session(&again.headers));
    assert_not_signed_in(&thief).await;
    let newest = &audit_events(&t).await[0];
    assert_eq!(newest["event"], "sign_in_failed", "{newest}");
    assert_eq!(audit_detail(newest, "reason"), Some("expired_ceremony"));

    // The captured assertion in a ceremony of its own: the challenge does not match.
    let (thief, ceremony, _) = sign_in_start(&t).await;
    let replayed = auth.last_assertion().unwrap().clone();
    let done = sign_in_finish(&thief, &ceremony, &replayed).await;
    assert_sign_in_failed(&thief, &done, "bad_assertion").await;
    assert_eq!(count_events(&t, "passkey_sign_in").await, sessions_before);
}

#[tokio::test]
async fn forged_assertions_fail_bad_signature_wrong_origin_or_user_handle() {
    let t = TestDaemon::start().await;
    let (mut auth, _) = alice_with_a_passkey(&t).await;

    // A flipped bit in the signature.
    let (b, ceremony, options) = sign_in_start(&t).await;
    let assertion = auth.sign_in(&t.base_url, &options).unwrap();
    let done = sign_in_finish(&b, &ceremony, &tamper_signature(&assertion).unwrap()).await;
    assert_sign_in_failed(&b, &done, "bad_assertion").await;

    // The right signature over client data edited afterwards (the challenge of another
    // ceremony).
    let (b, ceremony, options) = sign_in_start(&t).await;
    let (_, _, other) = sign_in_start(&t).await;
    let assertion = auth.sign_in(&t.base_url, &options).unwrap();
    let other_challenge = other["publicKey"]["challenge"].clone();
    let forged = tamper_client_data(&assertion, |cd| cd["challenge"] = other_challenge).unwrap();
    let done = sign_in_finish(&b, &ceremony, &forged).await;
    assert_sign_in_failed(&b, &done, "bad_assertion").await;

    // Alice's credential presented with Bob's user handle.
    create_user(&t, "bob").await;
    let bob = signed_in_with_code(&t, "bob").await;
    let mut bobs = SoftAuthenticator::new();
    register(&bob, &mut bobs).await;
    let (b, ceremony, options) = sign_in_start(&t).await;
    let assertion = auth.sign_in(&t.base_url, &options).unwrap();
    let swapped = with_user_handle(&assertion, bobs.credentials()[0].user_handle()).unwrap();
    let done = sign_in_finish(&b, &ceremony, &swapped).await;
    assert_sign_in_failed(&b, &done, "unknown_credential").await;
}

#[tokio::test]
async fn a_passkey_for_another_site_fails() {
    let t = TestDaemon::start().await;
    let (mut auth, _) = alice_with_a_passkey(&t).await;
    let handle = auth.credentials()[0].user_handle().to_vec();

    // A credential made for rp id "evil.example", even carrying alice's user handle.
    let foreign = auth.add_credential("evil.example", &handle, "alice");
    let (b, ceremony, options) = sign_in_start(&t).await;
    let assertion = auth.sign_in_with(&foreign, &t.base_url, &options).unwrap();
    let done = sign_in_finish(&b, &ceremony, &assertion).await;
    assert_sign_in_failed(&b, &done, "unknown_credential").await;

    // Alice's real passkey, but the browser was on another origin (a phishing page relaying
    // our challenge).
    let real = auth.credentials()[0].id().to_vec();
    let (b, ceremony, options) = sign_in_start(&t).await;
    let assertion = auth
        .sign_in_with(&real, "http://evil.example", &options)
        .unwrap();
    let done = sign_in_finish(&b, &ceremony, &assertion).await;
    assert_sign_in_failed(&b, &done, "bad_assertion").await;

    // A passkey enrolled on another Latchkey (same rp id "localhost", another origin).
    let other = TestDaemon::start().await;
    create_user(&other, "alice").await;
    let elsewhere = signed_in_with_code(&other, "alice").await;
    let mut theirs = SoftAuthenticator::new();
    register(&elsewhere, &mut theirs).await;
    let (b, done) = sign_in(&t, &mut theirs).await;
    assert_sign_in_failed(&b, &done, "unknown_credential").await;

    // Registration refuses a response made for another site too.
    let b = signed_in_with_code(&t, "alice").await;
    let (ceremony, mut options) = register_start(&b).await;
    options["publicKey"]["rp"]["id"] = json!("evil.example");
    let credential = SoftAuthenticator::new()
        .register(&t.base_url, &options)
        .unwrap();
    let done = register_finish(&b, &ceremony, &credential).await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST, "{done:?}");
    assert_eq!(done.body["error"], "passkey_rejected");
    let (ceremony, options) = register_start(&b).await;
    let credential = SoftAuthenticator::new()
        .register("http://evil.example", &options)
        .unwrap();
    let done = register_finish(&b, &ceremony, &credential).await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST, "{done:?}");
    assert_eq!(passkeys_of(&t, "alice").await.len(), 1);

    // And the real passkey still works.
    let (b, done) = sign_in(&t, &mut auth).await;
    assert_signed_in(&b, &done, "alice").await;
}

#[tokio::test]
async fn a_cloned_authenticator_whose_counter_goes_back_fails() {
    let t = TestDaemon::start().await;
    let (mut auth, _) = alice_with_a_passkey(&t).await;
    let (b, done) = sign_in(&t, &mut auth).await;
    assert_signed_in(&b, &done, "alice").await;
    // The clone is taken at counter 1; the original moves on to 3.
    let mut clone = auth.clone();
    for _ in 0..2 {
        let (b, done) = sign_in(&t, &mut auth).await;
        assert_signed_in(&b, &done, "alice").await;
    }
    let (b, done) = sign_in(&t, &mut clone).await;
    assert_eq!(clone.credentials()[0].counter(), 2);
    assert_sign_in_failed(&b, &done, "counter_regression").await;

    // An explicit step back on the original.
    let id = auth.credentials()[0].id().to_vec();
    auth.set_counter(&id, 0).unwrap();
    let (b, done) = sign_in(&t, &mut auth).await;
    assert_sign_in_failed(&b, &done, "counter_regression").await;

    // Synced passkeys keep their counter at 0; that is not a regression.
    let b = signed_in_with_code(&t, "alice").await;
    let mut synced = SoftAuthenticator::new()
        .with_zero_counter()
        .with_backup(true, true);
    register(&b, &mut synced).await;
    for _ in 0..2 {
        let (b, done) = sign_in(&t, &mut synced).await;
        assert_signed_in(&b, &done, "alice").await;
    }
    let listed = passkeys_of(&t, "alice").await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().filter(|p| p["synced"] == true).count(), 1);
}

#[tokio::test]
async fn a_disabled_users_passkey_fails_until_they_are_enabled() {
    let t = TestDaemon::start().await;
    let (mut auth, _) = alice_with_a_passkey(&t).await;
    let out = t.cli(&["user", "disable", "alice"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let (b, done) = sign_in(&t, &mut auth).await;
    assert_sign_in_failed(&b, &done, "user_disabled").await;
    assert_eq!(audit_events(&t).await[0]["subject"], "alice");

    let out = t.cli(&["user", "enable", "alice"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let (b, done) = sign_in(&t, &mut auth).await;
    assert_signed_in(&b, &done, "alice").await;
}

#[tokio::test]
async fn ceremonies_expire_after_five_minutes_and_are_single_use() {
    let t = TestDaemon::start().await;
    let (mut auth, _) = alice_with_a_passkey(&t).await;

    // Just inside five minutes works.
    let (b, ceremony, options) = sign_in_start(&t).await;
    t.clock.advance(time::Duration::seconds(4 * 60 + 59));
    let assertion = auth.sign_in(&t.base_url, &options).unwrap();
    let done = sign_in_finish(&b, &ceremony, &assertion).await;
    assert_signed_in(&b, &done, "alice").await;

    // Past five minutes: expired, no session, audited.
    let (b, ceremony, options) = sign_in_start(&t).await;
    t.clock.advance(time::Duration::seconds(5 * 60 + 1));
    let assertion = auth.sign_in(&t.base_url, &options).unwrap();
    let done = sign_in_finish(&b, &ceremony, &assertion).await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST, "{done:?}");
    assert_eq!(done.body["error"], "ceremony_expired");
    assert!(!sets_session(&done.headers));
    assert_not_signed_in(&b).await;
    let newest = &audit_events(&t).await[0];
    assert_eq!(newest["event"], "sign_in_failed");
    assert_eq!(audit_detail(newest, "reason"), Some("expired_ceremony"));

    // A ceremony id used once (successfully) cannot be used again, even with a fresh
    // assertion over its challenge.
    let (b, ceremony, options) = sign_in_start(&t).await;
    let first = auth.sign_in(&t.base_url, &options).unwrap();
    let second = auth.sign_in(&t.base_url, &options).unwrap();
    assert_signed_in(&b, &sign_in_finish(&b, &ceremony, &first).await, "alice").await;
    let other = Browser::open(&t, "/login").await;
    let done = sign_in_finish(&other, &ceremony, &second).await;
    assert_eq!(done.body["error"], "ceremony_expired", "{done:?}");
    assert!(!sets_session(&done.headers));
    // A failed finish uses the ceremony up too.
    let (b, ceremony, options) = sign_in_start(&t).await;
    let good = auth.sign_in(&t.base_url, &options).unwrap();
    let done = sign_in_finish(&b, &ceremony, &tamper_signature(&good).unwrap()).await;
    assert_sign_in_failed(&b, &done, "bad_assertion").await;
    let done = sign_in_finish(&b, &ceremony, &good).await;
    assert_eq!(done.body["error"], "ceremony_expired", "{done:?}");
    assert_not_signed_in(&b).await;

    // An unknown ceremony id.
    let done = sign_in_finish(&b, "AAAAAAAAAAAAAAAAAAAAAA", &good).await;
    assert_eq!(done.body["error"], "ceremony_expired", "{done:?}");

    // Registration ceremonies expire and are single use as well.
    let account = signed_in_with_code(&t, "alice").await;
    let (ceremony, options) = register_start(&account).await;
    t.clock.advance(time::Duration::seconds(5 * 60 + 1));
    let mut late = SoftAuthenticator::new();
    let credential = late.register(&t.base_url, &options).unwrap();
    let done = register_finish(&account, &ceremony, &credential).await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST, "{done:?}");
    assert_eq!(done.body["error"], "ceremony_expired");
    let (ceremony, options) = register_start(&account).await;
    let mut auth2 = SoftAuthenticator::new();
    let credential = auth2.register(&t.base_url, &options).unwrap();
    assert_eq!(
        register_finish(&account, &ceremony, &credential)
            .await
            .status,
        StatusCode::OK
    );
    let done = register_finish(&account, &ceremony, &credential).await;
    assert_eq!(done.body["error"], "ceremony_expired", "{done:?}");
    // A sign-in ceremony id is not a registration one.
    let (_, sign_in_ceremony, _) = sign_in_start(&t).await;
    let done = register_finish(&account, &sign_in_ceremony, &credential).await;
    assert_eq!(done.body["error"], "ceremony_expired", "{done:?}");
    assert_eq!(passkeys_of(&t, "alice").await.len(), 2);
}

#[tokio::test]
async fn api_posts_without_the_right_csrf_token_are_403_and_change_nothing() {
    let t = TestDaemon::start().await;
    create_user(&t, "alice").await;
    let b = signed_in_with_code(&t, "alice").await;
    let wrong = "A".repeat(43);
    let csrf_failed = |r: &Reply| {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
        assert_eq!(r.body["error"], "csrf_failed", "{r:?}");
    };

    // Registration: no header, a wrong one, the right one from another origin.
    for token in [None, Some(wrong.as_str())] {
        csrf_failed(
            &b.api_with("/api/passkey/register/start", token, &json!({}))
                .await,
        );
    }
    let res = b
        .client
        .post(b.url("/api/passkey/register/start"))
        .header("x-csrf-token", b.csrf.as_str())
        .header("origin", "http://evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    csrf_failed(&reply(res).await);

    let (ceremony, options) = register_start(&b).await;
    let mut auth = SoftAuthenticator::new();
    let credential = auth.register(&t.base_url, &options).unwrap();
    let body = json!({"ceremony": ceremony, "credential": credential});
    for token in [None, Some(wrong.as_str())] {
        csrf_failed(
            &b.api_with("/api/passkey/register/finish", token, &body)
                .await,
        );
    }
    assert!(passkeys_of(&t, "alice").await.is_empty());
    // The ceremony was not even consumed.
    assert_eq!(
        register_finish(&b, &ceremony, &credential).await.status,
        StatusCode::OK
    );
    let id = passkeys_of(&t, "alice").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Sign-in: a good assertion without the token, or with another browser's token.
    let events_before = audit_events(&t).await.len();
    let (visitor, ceremony, options) = sign_in_start(&t).await;
    let assertion = auth.sign_in(&t.base_url, &options).unwrap();
    let body = json!({"ceremony": ceremony, "credential": assertion});
    for token in [None, Some(b.csrf.as_str())] {
        let r = visitor
            .api_with("/api/passkey/login/finish", token, &body)
            .await;
        csrf_failed(&r);
        assert!(!sets_session(&r.headers));
    }
    assert_not_signed_in(&visitor).await;
    assert_eq!(
        audit_events(&t).await.len(),
        events_before,
        "CSRF failures are not audited"
    );
    assert_signed_in(
        &visitor,
        &sign_in_finish(&visitor, &ceremony, &assertion).await,
        "alice",
    )
    .await;

    // The account forms: rename and delete without the token do nothing.
    let rename = format!("/account/passkeys/{id}/rename");
    let (status, _, page) = b.form(&rename, &[("name", "Stolen")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("CSRF check failed"), "{page}");
    let delete = format!("/account/passkeys/{id}/delete");
    let (status, _, _) = b
        .form(&delete, &[("_csrf", wrong.as_str()), ("confirm", "yes")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let listed = passkeys_of(&t, "alice").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "Passkey");
}

#[tokio::test]
async fn malformed_api_bodies_get_json_4xx_never_500() {
    let t = TestDaemon::start().await;
    create_user(&t, "alice").await;
    let b = signed_in_with_code(&t, "alice").await;
    let mut auth = SoftAuthenticator::new();
    let assert_json_4xx = |what: &str, r: &Reply| {
        assert!(r.status.is_client_error(), "{what}: {r:?}");
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{what}: {r:?}"
        );
        assert!(r.body["error"].is_string(), "{what}: {r:?}");
        assert!(r.body["message"].is_string(), "{what}: {r:?}");
        assert!(!sets_session(&r.headers), "{what}");
    };

    for path in ["/api/passkey/register/finish", "/api/passkey/login/finish"] {
        for (content_type, raw) in [
            ("application/json", "{not json"),
            ("application/json", ""),
            ("application/json", "null"),
            ("application/json", "[]"),
            ("application/json", r#"{"ceremony": 5, "credential": {}}"#),
            ("application/json", r#"{"credential": {}}"#),
            ("text/plain", r#"{"ceremony": "x", "credential": {}}"#),
        ] {
            let r = b.api_raw(path, content_type, raw).await;
            assert_json_4xx(&format!("{path} {content_type} {raw}"), &r);
        }
    }

    // Credentials of the wrong shape, inside live ceremonies.
    let (_, options) = register_start(&b).await;
    let good = auth.register(&t.base_url, &options).unwrap();
    let mut bad_b64 = good.clone();
    bad_b64["response"]["attestationObject"] = json!("!!!not base64!!!");
    let mut truncated = good.clone();
    truncated["response"]["attestationObject"] = json!("o2NmbXRkbm9uZQ");
    for credential in [
        json!(null),
        json!("a string"),
        json!({"id": 7}),
        json!({"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}),
        bad_b64,
        truncated,
    ] {
        let (ceremony, _) = register_start(&b).await;
        let r = register_finish(&b, &ceremony, &credential).await;
        assert_json_4xx(&format!("register {credential}"), &r);
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{credential}: {r:?}");
    }
    register(&b, &mut auth).await;
    let (_, _, options) = sign_in_start(&t).await;
    let good = auth.sign_in(&t.base_url, &options).unwrap();
    let mut short_handle = good.clone();
    short_handle["response"]["userHandle"] = json!("AAAA");
    let mut no_handle = good.clone();
    no_handle["response"]
        .as_object_mut()
        .unwrap()
        .remove("userHandle");
    let mut bad_auth_data = good.clone();
    bad_auth_data["response"]["authenticatorData"] = json!("AAAA");
    let mut bad_client_data = good.clone();
    bad_client_data["response"]["clientDataJSON"] = json!("bm90IGpzb24");
    for (credential, reason) in [
        (json!(null), "malformed_response"),
        (json!([1, 2, 3]), "malformed_response"),
        (json!({"id": "x"}), "malformed_response"),
        (short_handle, "unknown_credential"),
        (no_handle, "unknown_credential"),
        (bad_auth_data, "bad_assertion"),
        (bad_client_data, "bad_assertion"),
    ] {
        let failures = count_events(&t, "sign_in_failed").await;
        let (visitor, ceremony, _) = sign_in_start(&t).await;
        let r = sign_in_finish(&visitor, &ceremony, &credential).await;
        assert_json_4xx(&format!("sign in {credential}"), &r);
        assert_not_signed_in(&visitor).await;
        let newest = &audit_events(&t).await[0];
        assert_eq!(newest["event"], "sign_in_failed", "{credential}: {newest}");
        assert_eq!(audit_detail(newest, "reason"), Some(reason), "{credential}");
        assert_eq!(
            count_events(&t, "sign_in_failed").await,
            failures + 1,
            "{credential}"
        );
    }
    assert_eq!(passkeys_of(&t, "alice").await.len(), 1);
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
