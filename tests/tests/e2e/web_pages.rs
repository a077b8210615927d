//! The browser-facing pages over real HTTP: CSRF, login codes, sessions and cookies, rate
//! limits, security headers, `next`, and first-admin setup. (Passkey ceremonies with a
//! software authenticator and the headless-browser tests live elsewhere.)

use latchkey_daemon::idm::Actor;
use latchkey_tests::TestDaemon;
use reqwest::{Client, StatusCode};

use latchkey_tests::audit::{audit_detail, audit_events};
use latchkey_tests::http::{
    browser, create_user, csrf_of, get, location, login_code, post_code, set_cookies, sets_session,
    split,
};

#[tokio::test]
async fn pages_carry_security_headers_the_app_name_and_a_strict_csrf_cookie() {
    let t = TestDaemon::start().await;
    let client = browser();
    let (status, headers, body) = get(&client, &format!("{}/login", t.base_url)).await;
    assert_eq!(status, 200);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(body.contains("<title>Sign in · Latchkey</title>"), "{body}");
    assert!(body.contains(r#"autocomplete="username webauthn""#));
    assert!(body.contains(r#"href="/login/alternative""#));
    assert!(!body.contains("<script>") && !body.contains("style="));
    let cookies = set_cookies(&headers);
    let csrf = cookies
        .iter()
        .find(|c| c.starts_with("latchkey_csrf="))
        .expect("a CSRF cookie");
    assert!(
        csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict"),
        "{csrf}"
    );

    // The app name comes from the settings.
    t.daemon
        .idm()
        .set_setting(&Actor::system(), "app.name", "Acme ID")
        .unwrap();
    let (_, _, body) = get(&client, &format!("{}/lc/ABCD", t.base_url)).await;
    assert!(body.contains("· Acme ID</title>"), "{body}");

    // The static files referenced by the page are served, with a long cache.
    let css = body
        .split('"')
        .find(|s| s.starts_with("/static/app.") && s.ends_with(".css"))
        .unwrap()
        .to_owned();
    let (status, headers, _) = get(&client, &format!("{}{css}", t.base_url)).await;
    assert_eq!(status, 200);
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    // Errors are pages with the same headers, not bare text.
    let (status, headers, body) = get(&client, &format!("{}/no/such/page", t.base_url)).await;
    assert_eq!(status, 404);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(headers.contains_key("content-security-policy"));
    assert!(body.contains("Acme ID"));
}

#[tokio::test]
async fn a_login_code_signs_in_once_and_the_account_page_shows_the_user() {
    let t = TestDaemon::start().await;
    let idm = t.daemon.idm();
    create_user(idm, "alice");
    let code = login_code(idm, "alice");

    // The link shows the form filled in and does not consume the code.
    let client = browser();
    let link = format!("{}/lc/{code}", t.base_url);
    let (status, _, page) = get(&client, &link).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!(r#"value="{code}""#)), "{page}");
    let (status, _, _) = get(&client, &link).await;
    assert_eq!(status, 200);

    // Lower case and without hyphens still works.
    let typed = code.replace('-', "").to_lowercase();
    let (status, headers, _) = post_code(&t, &client, &typed, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/account");
    let session = set_cookies(&headers)
        .into_iter()
        .find(|c| c.starts_with("latchkey_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(session.contains("Path=/"), "{session}");
    assert!(
        !session.contains("Secure"),
        "plain http on localhost: {session}"
    );

    let (status, _, account) = get(&client, &format!("{}/account", t.base_url)).await;
    assert_eq!(status, 200);
    assert!(account.contains("alice"), "{account}");
    assert!(account.contains("alice@example.com"));
    assert!(
        account.contains("Add a passkey to this account"),
        "the no-passkey banner"
    );
    assert!(account.contains(r#"id="passkey-register""#));

    // Pages read the session without writing; after five minutes one request records that
    // the session was seen (the lookup that writes), and the next reads again.
    let last_seen = || idm.list_sessions("alice").unwrap()[0].last_seen_at;
    let signed_in_at = last_seen();
    t.clock.advance(time::Duration::minutes(4));
    let (status, _, _) = get(&client, &format!("{}/account", t.base_url)).await;
    assert_eq!(status, 200);
    assert_eq!(last_seen(), signed_in_at);
    t.clock.advance(time::Duration::minutes(2));
    let (status, _, account) = get(&client, &format!("{}/account", t.base_url)).await;
    assert_eq!(status, 200);
    assert!(account.contains("alice@example.com"));
    assert_eq!(last_seen(), signed_in_at + time::Duration::minutes(6));

    // `/` now goes to the account page.
    let (status, headers, _) = get(&client, &format!("{}/", t.base_url)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/account");

    // The same code a second time, from another browser, fails with the generic message.
    let other = browser();
    let (status, headers, page) = post_code(&t, &other, &code, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        page.contains("This code is invalid or has expired."),
        "{page}"
    );
    assert!(!sets_session(&headers));
    let (status, headers, _) = get(&other, &format!("{}/account", t.base_url)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/login?next=/account");
    let events = audit_events(&t).await;
    assert_eq!(events[0]["event"], "sign_in_failed");
    assert_eq!(audit_detail(&events[0], "reason"), Some("unknown_code"));
    let used = events.iter().filter(|e| e["event"] == "login_code_used");
    assert_eq!(used.count(), 1, "{events:?}");
}

#[tokio::test]
async fn expired_disabled_wrong_and_malformed_codes_fail_alike() {
    let t = TestDaemon::start().await;
    let idm = t.daemon.idm();
    create_user(idm, "bob");
    create_user(idm, "carol");
    let expiring = login_code(idm, "bob");
    let carols = login_code(idm, "carol");

    // Disabling carol kills her outstanding code, so the audit log says "unknown_code", and
    // enabling her again does not bring it back.
    idm.set_user_disabled(&Actor::system(), "carol", true)
        .unwrap();
    assert_code_refused(&t, &carols, "unknown_code").await;
    idm.set_user_disabled(&Actor::system(), "carol", false)
        .unwrap();
    assert_code_refused(&t, &carols, "unknown_code").await;

    // An hour-long code two hours later (the clock moves; nothing sleeps).
    t.clock.advance(time::Duration::hours(2));
    assert_code_refused(&t, &expiring, "expired_code").await;
    // It is spent by that attempt.
    assert_code_refused(&t, &expiring, "unknown_code").await;

    for code in ["AAAA-BBBB-CCCC-DDDD", "not a code at all", ""] {
        assert_code_refused(&t, code, "unknown_code").await;
    }
}

/// Posts `code` from a fresh browser and checks the generic refusal, no session, and a
/// `sign_in_failed` audit event with `reason`.
async fn assert_code_refused(t: &TestDaemon, code: &str, reason: &str) {
    let client = browser();
    let (status, headers, page) = post_code(t, &client, code, None).await;
    assert!(
        status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST,
        "{code:?}: {status}"
    );
    assert!(
        page.contains("This code is invalid or has expired."),
        "{code:?}: {page}"
    );
    assert!(!sets_session(&headers), "{code:?}");
    let newest = &audit_events(t).await[0];
    assert_eq!(newest["event"], "sign_in_failed", "{code:?}: {newest}");
    assert_eq!(audit_detail(newest, "reason"), Some(reason), "{code:?}");
    assert_eq!(newest["ip"], "127.0.0.1");
}

#[tokio::test]
async fn csrf_failures_are_403_and_change_nothing() {
    let t = TestDaemon::start().await;
    let idm = t.daemon.idm();
    create_user(idm, "dave");
    let code = login_code(idm, "dave");
    let client = browser();
    let lc = format!("{}/lc", t.base_url);
    let (_, _, page) = get(&client, &lc).await;
    let token = csrf_of(&page);

    // No token.
    let res = client
        .post(&lc)
        .form(&[("code", code.as_str())])
        .send()
        .await
        .unwrap();
    let (status, _, body) = split(res).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("CSRF check failed"), "{body}");
    // A wrong token.
    let wrong = "A".repeat(43);
    let res = client
        .post(&lc)
        .form(&[("code", code.as_str()), ("_csrf", wrong.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The right token from another origin.
    let res = client
        .post(&lc)
        .header("origin", "http://evil.example")
        .form(&[("code", code.as_str()), ("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The right token without the cookie (another browser).
    let res = browser()
        .post(&lc)
        .form(&[("code", code.as_str()), ("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // JSON endpoints want the header, and answer JSON.
    let res = client
        .post(format!("{}/api/passkey/login/start", t.base_url))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "csrf_failed");
    // ... and not in a form field.
    let res = client
        .post(format!("{}/api/passkey/login/start", t.base_url))
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // None of that consumed the code.
    let res = client
        .post(&lc)
        .header("origin", t.base_url.as_str())
        .form(&[("code", code.as_str()), ("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/account");
}

#[tokio::test]
async fn login_code_attempts_are_rate_limited_per_ip() {
    let t = TestDaemon::start().await;
    let idm = t.daemon.idm();
    create_user(idm, "erin");
    let code = login_code(idm, "erin");
    let client = browser();
    for _ in 0..10 {
        let (status, _, _) = post_code(&t, &client, "AAAA-BBBB-CCCC-DDDD", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The eleventh, even with the right code, is refused and says when to retry: one try
    // refills every 90 seconds (ten per fifteen minutes).
    let (status, headers, page) = post_code(&t, &client, &code, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "90");
    assert!(page.contains("Try again in 2 minutes"), "{page}");
    // Once a try has refilled, the right code works (it was not consumed).
    t.clock.advance(time::Duration::seconds(90));
    let (status, headers, _) = post_code(&t, &client, &code, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{headers:?}");
}

#[tokio::test]
async fn next_is_followed_only_to_local_paths() {
    let t = TestDaemon::start().await;
    let idm = t.daemon.idm();
    create_user(idm, "frank");
    for (next, expected) in [
        ("//evil.example/x", "/account"),
        ("https://evil.example/", "/account"),
        ("/\\evil.example", "/account"),
        ("/account?tab=passkeys", "/account?tab=passkeys"),
    ] {
        let code = login_code(idm, "frank");
        let (status, headers, _) = post_code(&t, &browser(), &code, Some(next)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{next}");
        assert_eq!(location(&headers), expected, "{next}");
    }
    // The sign-in page does not carry a foreign `next` into its links.
    let (_, _, page) = get(
        &browser(),
        &format!("{}/login?next=https://evil.example/", t.base_url),
    )
    .await;
    assert!(!page.contains("evil.example"), "{page}");
    let (_, _, page) = get(&browser(), &format!("{}/login?next=/account", t.base_url)).await;
    assert!(page.contains(r#"data-next="/account""#));
    assert!(page.contains("/login/alternative?next=/account"));
}

#[tokio::test]
async fn sign_out_ends_the_session_and_json_needs_one() {
    let t = TestDaemon::start().await;
    let idm = t.daemon.idm();
    create_user(idm, "gina");
    let client = browser();
    let code = login_code(idm, "gina");
    let (status, _, _) = post_code(&t, &client, &code, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // Registration needs a session and the CSRF header.
    let (_, _, account) = get(&client, &format!("{}/account", t.base_url)).await;
    let token = csrf_of(&account);
    let res = client
        .post(format!("{}/api/passkey/register/start", t.base_url))
        .header("x-csrf-token", token.as_str())
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["ceremony"].is_string(), "{body}");
    assert!(
        body["options"]["publicKey"]["challenge"].is_string(),
        "{body}"
    );
    assert_eq!(
        body["options"]["publicKey"]["authenticatorSelection"]["residentKey"],
        "required"
    );

    let res = client
        .post(format!("{}/logout", t.base_url))
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/login?done=signed_out");
    assert!(
        set_cookies(res.headers())
            .iter()
            .any(|c| c.starts_with("latchkey_session=;"))
    );
    let (status, headers, _) = get(&client, &format!("{}/account", t.base_url)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/login?next=/account");

    let res = client
        .post(format!("{}/api/passkey/register/start", t.base_url))
        .header("x-csrf-token", token.as_str())
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"].is_string() && body["message"].is_string(),
        "{body}"
    );

    // "Sign out everywhere" ends other browsers' sessions too.
    let first = browser();
    let second = browser();
    for c in [&first, &second] {
        let code = login_code(idm, "gina");
        let (status, _, _) = post_code(&t, c, &code, None).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let (_, _, account) = get(&first, &format!("{}/account", t.base_url)).await;
    let res = first
        .post(format!("{}/logout/all", t.base_url))
        .form(&[("_csrf", csrf_of(&account))])
        .send()
        .await
        .unwrap();
    assert_eq!(location(res.headers()), "/login?done=signed_out_all");
    let (status, _, _) = get(&second, &format!("{}/account", t.base_url)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn passkey_sign_in_endpoints_refuse_garbage_with_json_4xx() {
    let t = TestDaemon::start().await;
    let client = browser();
    let (_, _, page) = get(&client, &format!("{}/login", t.base_url)).await;
    let token = csrf_of(&page);
    let res = client
        .post(format!("{}/api/passkey/login/start", t.base_url))
        .header("x-csrf-token", token.as_str())
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let start: serde_json::Value = res.json().await.unwrap();
    assert!(
        start["options"]["publicKey"]["challenge"].is_string(),
        "{start}"
    );
    non_json_is_a_json_error(&t, &client, &token).await;

    for body in [
        serde_json::json!({"ceremony": start["ceremony"], "credential": {"id": "x"}}),
        serde_json::json!({"ceremony": "nope", "credential": {}}),
        serde_json::json!({"nothing": true}),
    ] {
        let res = client
            .post(format!("{}/api/passkey/login/finish", t.base_url))
            .header("x-csrf-token", token.as_str())
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert!(status.is_client_error(), "{body}: {status}");
        let answer: serde_json::Value = res.json().await.unwrap();
        assert!(answer["error"].is_string(), "{body}: {answer}");
        assert!(answer["message"].is_string(), "{body}: {answer}");
    }
}

/// A body that is not JSON at all is a 4xx JSON error too.
async fn non_json_is_a_json_error(t: &TestDaemon, client: &Client, token: &str) {
    let res = client
        .post(format!("{}/api/passkey/login/finish", t.base_url))
        .header("x-csrf-token", token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn passkey_sign_in_finishes_are_rate_limited() {
    let t = TestDaemon::start().await;
    let client = browser();
    let (_, _, page) = get(&client, &format!("{}/login", t.base_url)).await;
    let token = csrf_of(&page);
    let finish = || {
        client
            .post(format!("{}/api/passkey/login/finish", t.base_url))
            .header("x-csrf-token", token.as_str())
            .json(&serde_json::json!({"ceremony": "x", "credential": {}}))
            .send()
    };
    for _ in 0..30 {
        assert_ne!(
            finish().await.unwrap().status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    let res = finish().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
}

#[tokio::test]
async fn the_setup_link_creates_the_first_admin_exactly_once() {
    let t = TestDaemon::start().await;
    let link = t
        .daemon
        .setup_link()
        .expect("no admin yet: a setup link")
        .to_owned();
    assert!(
        link.starts_with(&format!("{}/setup/", t.base_url)),
        "{link}"
    );

    // A wrong token is a 404 page.
    let (status, _, _) = get(&browser(), &format!("{}/setup/wrong", t.base_url)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let client = browser();
    let (status, _, page) = get(&client, &link).await;
    assert_eq!(status, 200);
    let token = csrf_of(&page);
    // Bad input shows the form again with a message.
    let res = client
        .post(&link)
        .form(&[("_csrf", token.as_str()), ("username", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("alert error"));

    let form = [
        ("_csrf", token.as_str()),
        ("username", "root"),
        ("email", "root@example.com"),
        ("first_name", "Ada"),
        ("last_name", "Admin"),
    ];
    let res = client.post(&link).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/account?done=welcome");
    let (status, _, account) = get(&client, &format!("{}/account", t.base_url)).await;
    assert_eq!(status, 200);
    assert!(account.contains("root@example.com") && account.contains("Administrator"));

    // The link is dead now.
    let res = client.post(&link).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (status, _, _) = get(&client, &link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(t.daemon.idm().counts().unwrap().admins, 1);
}
