//! Every way a passkey sign-in must fail, over real HTTP with a [`SoftAuthenticator`]: revoked,
//! replayed, tampered, another site's, cloned, disabled, expired or reused ceremony, missing
//! CSRF, malformed bodies — each with a `sign_in_failed` audit event (where it reached the
//! ceremony) and no session.

use latchkey_tests::TestDaemon;
use latchkey_tests::authenticator::{
    SoftAuthenticator, tamper_client_data, tamper_signature, with_user_handle,
};
use reqwest::StatusCode;
use serde_json::json;

use latchkey_tests::audit::{audit_detail, audit_events};
use latchkey_tests::http::sets_session;
use latchkey_tests::passkeys::{
    Browser, Reply, alice_with_a_passkey, assert_not_signed_in, assert_sign_in_failed,
    assert_signed_in, count_events, create_user, passkeys_of, register, register_finish,
    register_start, reply, sign_in, sign_in_finish, sign_in_start, signed_in_with_code,
};

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
            (
                "application/json",
                r#"{"ceremony": "nope", "credential": {}}"#,
            ),
            ("application/json", r#"{"nothing": true}"#),
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
    assert!(options["publicKey"]["challenge"].is_string(), "{options}");
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
