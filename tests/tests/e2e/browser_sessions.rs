//! Browser sessions over real HTTP: where a sign-in lands (`next`, only ever a local path),
//! signing out (this browser, or everywhere), and JSON endpoints that need a session.

use latchkey_tests::TestDaemon;
use latchkey_tests::http::{
    browser, create_user, csrf_of, get, location, login_code, post_code, set_cookies,
};
use reqwest::StatusCode;

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
