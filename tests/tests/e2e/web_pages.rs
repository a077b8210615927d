//! What every page does, over real HTTP: security headers, the app name, static files with a long
//! cache, error pages, and the CSRF check on every state-changing request.

use latchkey_daemon::idm::Actor;
use latchkey_tests::TestDaemon;
use reqwest::StatusCode;

use latchkey_tests::http::{
    browser, create_user, csrf_of, get, location, login_code, set_cookies, split,
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
