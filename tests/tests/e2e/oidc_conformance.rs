//! Protocol details a security review found wrong, over real HTTP: PKCE is S256 only,
//! `id_token_hint` must be an ID token of this issuer, `amr` says what the sign-in really
//! proved, empty names are left out, discovery advertises only what is true; and the audit
//! log keeps events only as long as `audit.retention_days`.

use latchkey_daemon::idm::Actor;
use latchkey_protocol::NewUser;
use latchkey_tests::TestDaemon;
use latchkey_tests::authenticator::SoftAuthenticator;
use reqwest::header::LOCATION;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use latchkey_tests::audit::audit_events;
use latchkey_tests::http::{browser, create_user, csrf_of, login_code, post_code};
use latchkey_tests::oidc::{
    BYE, CB, Rp, authorize, authorize_url, claims, create_client, exchange, param, setup, sign_in,
    userinfo,
};

fn redirect_to(res: &reqwest::Response) -> String {
    res.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// An authorization in `b` (signing in as alice by login code if needed), exchanged.
async fn tokens(t: &TestDaemon, b: &Client, rp: &Rp, scope: &str) -> Value {
    let back = authorize(t, b, &authorize_url(t, rp, &[("scope", scope)])).await;
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let (status, tokens) = exchange(t, rp, &code).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

fn text<'a>(tokens: &'a Value, name: &str) -> &'a str {
    tokens[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {tokens}"))
}

#[tokio::test]
async fn pkce_accepts_only_s256_and_discovery_says_so() {
    let (t, _) = setup().await;
    let public = create_client(&t, &["--public", "--skip-consent"]).await;
    let b = browser();
    sign_in(&t, &b, "alice", "/account").await;
    let challenge = latchkey_tests::oidc::VERIFIER;
    for (method, expect) in [("plain", "plain is not supported"), ("", "is required")] {
        let url = authorize_url(
            &t,
            &public,
            &[
                ("code_challenge", challenge),
                ("code_challenge_method", method),
            ],
        );
        let res = b.get(url).send().await.unwrap();
        let to = redirect_to(&res);
        assert!(to.starts_with(CB), "{to}");
        assert_eq!(
            param(&to, "error").as_deref(),
            Some("invalid_request"),
            "{to}"
        );
        let why = param(&to, "error_description").unwrap_or_default();
        assert!(why.contains(expect), "{method:?}: {why}");
        assert!(param(&to, "code").is_none());
    }
    let doc: Value = Client::new()
        .get(format!("{}/.well-known/openid-configuration", t.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert!(
        doc.get("userinfo_signing_alg_values_supported").is_none(),
        "{doc}"
    );
}

/// `GET /end-session` with `id_token_hint` (and the registered post-logout URI).
async fn end_session(t: &TestDaemon, b: &Client, hint: &str) -> reqwest::Response {
    b.get(format!("{}/end-session", t.base_url))
        .query(&[("id_token_hint", hint), ("post_logout_redirect_uri", BYE)])
        .send()
        .await
        .unwrap()
}

async fn still_signed_in(t: &TestDaemon, b: &Client) -> bool {
    let res = b
        .get(format!("{}/account", t.base_url))
        .send()
        .await
        .unwrap();
    res.status() == StatusCode::OK
}

#[tokio::test]
async fn id_token_hint_must_be_an_id_token_of_this_issuer() {
    let (t, rp) = setup().await;
    let b = browser();
    let issued = tokens(&t, &b, &rp, "openid profile").await;
    // An access token is signed by the same key, but it is not an ID token.
    let res = end_session(&t, &b, text(&issued, "access_token")).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("id_token_hint"));
    assert!(still_signed_in(&t, &b).await);
    // A tampered signature.
    let id_token = text(&issued, "id_token");
    let (head, sig) = id_token.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let forged = format!("{head}.{flipped}{}", &sig[1..]);
    assert_eq!(end_session(&t, &b, &forged).await.status(), 400);
    // An ID token from another issuer (another Latchkey, its own keys).
    let (other, other_rp) = setup().await;
    let foreign = tokens(&other, &browser(), &other_rp, "openid").await;
    assert_eq!(
        end_session(&t, &b, text(&foreign, "id_token"))
            .await
            .status(),
        400
    );
    assert!(still_signed_in(&t, &b).await);
    // Our own ID token, long expired, is still a good hint (RP-Initiated Logout §2).
    t.clock.advance(time::Duration::hours(5));
    let res = end_session(&t, &b, id_token).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(redirect_to(&res), BYE);
    assert!(!still_signed_in(&t, &b).await);
}

#[tokio::test]
async fn signup_and_login_code_sessions_claim_what_they_proved() {
    let (t, rp) = setup().await;
    // A login code is a one-time password.
    let b = browser();
    let issued = tokens(&t, &b, &rp, "openid").await;
    assert_eq!(claims(text(&issued, "id_token"))["amr"], json!(["otp"]));
    // A signup session proved nothing yet: no `otp`, no amr at all.
    t.daemon
        .idm()
        .set_setting(&Actor::system(), "signups.mode", "open")
        .unwrap();
    let newcomer = browser();
    let page = newcomer
        .get(format!("{}/signup", t.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = newcomer
        .post(format!("{}/signup", t.base_url))
        .form(&[
            ("_csrf", csrf_of(&page).as_str()),
            ("username", "newbie"),
            ("email", "newbie@example.com"),
            ("first_name", "New"),
            ("last_name", "Person"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let issued = tokens(&t, &newcomer, &rp, "openid profile").await;
    let id = claims(text(&issued, "id_token"));
    assert_eq!(id["preferred_username"], "newbie", "{id}");
    assert!(id.get("amr").is_none(), "{id}");
}

/// POSTs JSON to `/api/…` with the page's CSRF token; expects 200.
async fn api(t: &TestDaemon, b: &Client, csrf: &str, path: &str, body: Value) -> Value {
    let res = b
        .post(format!("{}{path}", t.base_url))
        .header("x-csrf-token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.json().await.unwrap()
}

async fn page_csrf(t: &TestDaemon, b: &Client, path: &str) -> String {
    let res = b.get(format!("{}{path}", t.base_url)).send().await.unwrap();
    csrf_of(&res.text().await.unwrap())
}

/// A browser that registered a passkey on `auth` for `username` (signed in by login code),
/// then a fresh browser signed in with it.
async fn passkey_browser(t: &TestDaemon, username: &str, auth: &mut SoftAuthenticator) -> Client {
    let enrol = browser();
    let (status, _, _) = post_code(t, &enrol, &login_code(t.daemon.idm(), username), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let csrf = page_csrf(t, &enrol, "/account").await;
    let start = api(t, &enrol, &csrf, "/api/passkey/register/start", json!({})).await;
    let credential = auth.register(&t.base_url, &start["options"]).unwrap();
    let body = json!({"ceremony": start["ceremony"], "credential": credential});
    api(t, &enrol, &csrf, "/api/passkey/register/finish", body).await;
    let b = browser();
    let csrf = page_csrf(t, &b, "/login").await;
    let start = api(t, &b, &csrf, "/api/passkey/login/start", json!({})).await;
    let assertion = auth.sign_in(&t.base_url, &start["options"]).unwrap();
    let body = json!({"ceremony": start["ceremony"], "credential": assertion});
    api(t, &b, &csrf, "/api/passkey/login/finish", body).await;
    b
}

#[tokio::test]
async fn passkey_amr_says_hwk_only_for_a_device_bound_key() {
    let (t, rp) = setup().await;
    create_user(t.daemon.idm(), "bob");
    let mut device_bound = SoftAuthenticator::new();
    let b = passkey_browser(&t, "alice", &mut device_bound).await;
    let issued = tokens(&t, &b, &rp, "openid").await;
    assert_eq!(
        claims(text(&issued, "id_token"))["amr"],
        json!(["hwk", "mfa", "pin", "user"])
    );
    let mut synced = SoftAuthenticator::new().with_backup(true, true);
    let b = passkey_browser(&t, "bob", &mut synced).await;
    let issued = tokens(&t, &b, &rp, "openid").await;
    assert_eq!(
        claims(text(&issued, "id_token"))["amr"],
        json!(["mfa", "pin", "swk", "user"])
    );
}

#[tokio::test]
async fn empty_names_are_left_out_of_id_tokens_and_userinfo() {
    let (t, rp) = setup().await;
    t.daemon
        .idm()
        .create_user(
            &Actor::system(),
            NewUser {
                username: "mono".into(),
                email: Some("mono@example.com".into()),
                first_name: String::new(),
                last_name: String::new(),
                display_name: None,
                is_admin: false,
            },
        )
        .unwrap();
    let b = browser();
    sign_in(&t, &b, "mono", "/account").await;
    let issued = tokens(&t, &b, &rp, "openid profile").await;
    let info: Value = userinfo(&t, text(&issued, "access_token"))
        .await
        .json()
        .await
        .unwrap();
    for doc in [claims(text(&issued, "id_token")), info] {
        assert!(doc.get("given_name").is_none(), "{doc}");
        assert!(doc.get("family_name").is_none(), "{doc}");
        assert_eq!(doc["preferred_username"], "mono", "{doc}");
        assert_eq!(
            doc["name"], "mono",
            "the display name falls back to the username"
        );
    }
}

#[tokio::test]
async fn audit_events_past_retention_are_swept_in_batches_newer_ones_kept() {
    let t = TestDaemon::start().await;
    let idm = t.daemon.idm();
    let shown = t.cli(&["config", "show", "--json"]).await.json();
    assert_eq!(shown["audit"]["retention_days"], 365, "a year by default");
    // More old events than one batch deletes.
    let users = (0..2_500).map(|i| latchkey_tests::http::new_user(&format!("old{i}")));
    idm.create_users_bulk(&Actor::system(), users, 500).unwrap();
    let out = t
        .cli(&["config", "set", "audit.retention_days", "30"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    t.clock.advance(time::Duration::days(29));
    create_user(idm, "recent");
    t.clock.advance(time::Duration::days(2));
    assert_eq!(
        idm.sweep_audit_log().unwrap(),
        2_501,
        "old users and the setting change"
    );
    let events = audit_events(&t).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["subject"], "recent");
    // 0 keeps everything, however old.
    let out = t.cli(&["config", "set", "audit.retention_days", "0"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    t.clock.advance(time::Duration::days(4000));
    assert_eq!(idm.sweep_audit_log().unwrap(), 0);
    assert_eq!(audit_events(&t).await.len(), 2);
}
