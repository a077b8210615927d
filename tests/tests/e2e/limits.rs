//! Rate limits and the passkey ceremony store over real HTTP: failures count, successes do not;
//! one client's failures do not lock out another behind the same proxy; a trusted proxy given as
//! a network; a flood of passkey starts from one network evicts only its own ceremonies.

use latchkey_daemon::config::parse_trusted_proxy;
use latchkey_tests::TestDaemon;
use latchkey_tests::authenticator::{SoftAuthenticator, tamper_signature};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use latchkey_tests::http::{create_user, csrf_of, get, login_code, post_code, split};

/// A daemon behind a reverse proxy on loopback, trusted as a network.
async fn behind_proxy() -> TestDaemon {
    TestDaemon::start_with(|config| {
        config.trusted_proxies = vec![parse_trusted_proxy("127.0.0.0/8").unwrap()];
    })
    .await
}

/// A browser whose requests the proxy forwards for `client` (`X-Forwarded-For`).
fn browser_at(client: &str) -> Client {
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", HeaderValue::from_str(client).unwrap());
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

fn plain_browser() -> Client {
    latchkey_tests::http::browser()
}

async fn colleagues_redeem_their_codes(t: &TestDaemon, browser: impl Fn() -> Client) {
    for i in 0..12 {
        let name = format!("colleague{i}");
        create_user(t.daemon.idm(), &name);
        let code = login_code(t.daemon.idm(), &name);
        let (status, headers, page) = post_code(t, &browser(), &code, None).await;
        assert_eq!(
            status,
            StatusCode::SEE_OTHER,
            "colleague {i}: {headers:?} {page}"
        );
    }
}

#[tokio::test]
async fn colleagues_behind_one_address_all_redeem_their_codes() {
    // From one plain address (an office NAT, no proxy).
    let t = TestDaemon::start().await;
    colleagues_redeem_their_codes(&t, plain_browser).await;
    // Through the proxy, all from the office's one public address.
    let t = behind_proxy().await;
    colleagues_redeem_their_codes(&t, || browser_at("203.0.113.50")).await;
}

#[tokio::test]
async fn wrong_codes_lock_only_the_address_that_sent_them() {
    let t = behind_proxy().await;
    create_user(t.daemon.idm(), "bob");
    let attacker = browser_at("198.51.100.1");
    for _ in 0..10 {
        let (status, _, _) = post_code(&t, &attacker, "AAAA-BBBB-CCCC-DDDD", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The attacker's address may not guess again, not even with a valid code.
    for _ in 0..3 {
        let (status, _, _) = post_code(&t, &attacker, "AAAA-BBBB-CCCC-EEEE", None).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    let code = login_code(t.daemon.idm(), "bob");
    let (status, headers, _) = post_code(&t, &attacker, &code, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "90");
    // Bob, through the same proxy from his own address, signs in with the same code.
    let (status, headers, page) = post_code(&t, &browser_at("198.51.100.2"), &code, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{headers:?} {page}");
    // An IPv6 attacker rotating inside its /64 is one address.
    let v6 = |i: u32| browser_at(&format!("2001:db8:7:7::{i:x}"));
    for i in 0..10 {
        let (status, _, _) = post_code(&t, &v6(i), "AAAA-BBBB-CCCC-DDDD", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _, _) = post_code(&t, &v6(99), "AAAA-BBBB-CCCC-DDDD", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // One try refills every 90 seconds.
    t.clock.advance(time::Duration::seconds(90));
    let (status, _, _) = post_code(&t, &attacker, "AAAA-BBBB-CCCC-DDDD", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = post_code(&t, &attacker, "AAAA-BBBB-CCCC-DDDD", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

/// A browser on `/login` (for its CSRF cookie and token) at `client`.
struct Page {
    client: Client,
    csrf: String,
    base: String,
}

impl Page {
    async fn open(t: &TestDaemon, client: Client, path: &str) -> Page {
        let (status, _, page) = get(&client, &format!("{}{path}", t.base_url)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        Page {
            client,
            csrf: csrf_of(&page),
            base: t.base_url.clone(),
        }
    }

    async fn api(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header("x-csrf-token", self.csrf.as_str())
            .json(body)
            .send()
            .await
            .unwrap();
        let (status, _, text) = split(res).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn start(&self) -> (StatusCode, String, Value) {
        let (status, body) = self.api("/api/passkey/login/start", &json!({})).await;
        let ceremony = body["ceremony"].as_str().unwrap_or_default().to_owned();
        (status, ceremony, body["options"].clone())
    }

    async fn finish(&self, ceremony: &str, credential: &Value) -> (StatusCode, Value) {
        self.api(
            "/api/passkey/login/finish",
            &json!({"ceremony": ceremony, "credential": credential}),
        )
        .await
    }
}

/// Alice, signed in with a login code at `client`, enrols a passkey on a fresh authenticator.
async fn alice_with_a_passkey(t: &TestDaemon, client: Client) -> SoftAuthenticator {
    create_user(t.daemon.idm(), "alice");
    let code = login_code(t.daemon.idm(), "alice");
    let (status, _, _) = post_code(t, &client, &code, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let page = Page::open(t, client, "/account").await;
    let (status, start) = page.api("/api/passkey/register/start", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{start}");
    let mut auth = SoftAuthenticator::new();
    let credential = auth.register(&t.base_url, &start["options"]).unwrap();
    let (status, done) = page
        .api(
            "/api/passkey/register/finish",
            &json!({"ceremony": start["ceremony"], "credential": credential}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    auth
}

async fn passkey_sign_in(
    t: &TestDaemon,
    client: Client,
    auth: &mut SoftAuthenticator,
) -> StatusCode {
    let page = Page::open(t, client, "/login").await;
    let (status, ceremony, options) = page.start().await;
    assert_eq!(status, StatusCode::OK);
    let assertion = auth.sign_in(&t.base_url, &options).unwrap();
    page.finish(&ceremony, &assertion).await.0
}

#[tokio::test]
async fn passkey_sign_ins_count_only_failures() {
    let t = TestDaemon::start().await;
    let mut auth = alice_with_a_passkey(&t, plain_browser()).await;
    // More successful sign-ins from one address than the failure budget (30 a minute).
    for i in 0..35 {
        let status = passkey_sign_in(&t, plain_browser(), &mut auth).await;
        assert_eq!(status, StatusCode::OK, "sign-in {i}");
    }
}

#[tokio::test]
async fn junk_sign_ins_from_one_client_do_not_stop_another() {
    let t = behind_proxy().await;
    let mut auth = alice_with_a_passkey(&t, browser_at("192.0.2.10")).await;
    let attacker = Page::open(&t, browser_at("198.51.100.66"), "/login").await;
    let mut refused = 0;
    for _ in 0..40 {
        let (status, _) = attacker
            .finish("junk", &json!({"id": "x", "response": {}}))
            .await;
        assert!(status.is_client_error(), "{status}");
        refused += usize::from(status == StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(refused, 10, "30 failures a minute, then refused");
    let status = passkey_sign_in(&t, browser_at("192.0.2.10"), &mut auth).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn failed_assertions_for_one_account_are_limited_across_addresses() {
    let t = behind_proxy().await;
    let mut auth = alice_with_a_passkey(&t, browser_at("192.0.2.10")).await;
    // Assertions that name alice's credential but are not signed by it, each from another
    // address: the per-address budgets never run out, the account's does.
    let mut statuses = Vec::new();
    for i in 0..22 {
        let page = Page::open(&t, browser_at(&format!("198.51.100.{i}")), "/login").await;
        let (_, ceremony, options) = page.start().await;
        let assertion = auth.sign_in(&t.base_url, &options).unwrap();
        let assertion = tamper_signature(&assertion).unwrap();
        statuses.push(page.finish(&ceremony, &assertion).await.0);
    }
    assert!(
        statuses[..20]
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert!(
        statuses[20..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // A cell refills after 45 seconds: alice's own assertion works again.
    t.clock.advance(time::Duration::seconds(45));
    let status = passkey_sign_in(&t, browser_at("192.0.2.10"), &mut auth).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_ceremony_flood_from_one_network_keeps_everyone_elses_ceremonies() {
    let t = behind_proxy().await;
    let mut auth = alice_with_a_passkey(&t, browser_at("192.0.2.10")).await;
    // Alice starts signing in…
    let alice = Page::open(&t, browser_at("192.0.2.10"), "/login").await;
    let (status, ceremony, options) = alice.start().await;
    assert_eq!(status, StatusCode::OK);
    // …while one network starts more ceremonies than the daemon keeps in all. The clock moves
    // so the per-network rate limit admits a few hundred: more than that network may hold.
    let flooder = Page::open(&t, browser_at("198.51.100.66"), "/login").await;
    let flooder = std::sync::Arc::new(flooder);
    let mut admitted = 0;
    let total = latchkey_daemon::idm::MAX_CEREMONIES + 100;
    let mut sent = 0;
    while sent < total {
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..50.min(total - sent) {
            let flooder = std::sync::Arc::clone(&flooder);
            batch.spawn(async move { flooder.start().await.0 });
        }
        sent += batch.len();
        for status in batch.join_all().await {
            admitted += usize::from(status == StatusCode::OK);
        }
        if sent <= 2_000 {
            t.clock.advance(time::Duration::seconds(3));
        }
    }
    assert!(
        admitted > latchkey_daemon::idm::MAX_CEREMONIES_PER_OWNER,
        "the flood filled its own share: {admitted}"
    );
    // Alice's ceremony is still there.
    let assertion = auth.sign_in(&t.base_url, &options).unwrap();
    let (status, body) = alice.finish(&ceremony, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn passkey_sign_in_finishes_are_rate_limited() {
    let t = TestDaemon::start().await;
    let client = plain_browser();
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
