//! Self-service signup over real HTTP and the real admin socket: signup tokens (atomic use
//! counting under concurrent requests, expiry by the test clock, revocation), every
//! `signups.mode`, `signups.require_email`, default groups, the per-IP rate limit, audit
//! events, the CLI's JSON and the console's Signup tokens screen.

use crossterm::event::KeyCode;
use latchkey_daemon::idm::{Actor, Idm};
use latchkey_protocol::NewGroup;
use latchkey_tests::TestDaemon;
use latchkey_tui::console::Driver;
use latchkey_tui::console::app::{Modal, Screen};
use reqwest::{Client, StatusCode};
use serde_json::Value;

use super::console::redacted;
use latchkey_tests::audit::{audit_detail, audit_events};
use latchkey_tests::http::{browser, create_user, csrf_of, get, location, sets_session, split};

fn set(idm: &Idm, key: &str, value: &str) {
    idm.set_setting(&Actor::system(), key, value).unwrap();
}

fn group(idm: &Idm, name: &str) {
    idm.create_group(
        &Actor::system(),
        NewGroup {
            name: name.to_owned(),
            friendly_name: None,
        },
    )
    .unwrap();
}

/// `latchkey signup-token create … --json`
async fn create_token(t: &TestDaemon, args: &[&str]) -> Value {
    let mut argv = vec!["signup-token", "create", "--json"];
    argv.extend_from_slice(args);
    let out = t.cli(&argv).await;
    assert_eq!(out.code, 0, "{out:?}");
    out.json()
}

/// The path of a signup link: `/st/<token>`.
fn path_of(url: &str, t: &TestDaemon) -> String {
    url.strip_prefix(&t.base_url).unwrap().to_owned()
}

fn fields(username: &str) -> Vec<(&'static str, String)> {
    vec![
        ("username", username.to_owned()),
        ("email", format!("{username}@example.com")),
        ("first_name", "New".to_owned()),
        ("last_name", "Person".to_owned()),
    ]
}

/// GETs the signup page (for the CSRF cookie) and posts `form` to it.
async fn sign_up(
    t: &TestDaemon,
    client: &Client,
    path: &str,
    form: &[(&'static str, String)],
    forwarded_for: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let url = format!("{}{path}", t.base_url);
    let (status, _, page) = get(client, &url).await;
    assert_eq!(status, 200, "{page}");
    let csrf = csrf_of(&page);
    let mut body: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    body.push(("_csrf", csrf.as_str()));
    let mut request = client.post(&url).form(&body);
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    split(request.send().await.unwrap()).await
}

fn user_count(t: &TestDaemon) -> u64 {
    t.daemon.idm().counts().unwrap().users
}

#[tokio::test]
async fn twenty_parallel_signups_on_a_limit_five_token_create_exactly_five_accounts() {
    // Act as 20 client IPs through a trusted proxy, so the per-IP limit does not interfere.
    let t = TestDaemon::start_with(|config| {
        config.trusted_proxies = vec![std::net::IpAddr::from([127, 0, 0, 1]).into()]
    })
    .await;
    set(t.daemon.idm(), "signups.mode", "token");
    let token = create_token(&t, &["--uses", "5", "--expires", "1d"]).await;
    let path = path_of(token["url"].as_str().unwrap(), &t);

    // Every browser loads the form first, then all 20 post at once.
    let mut ready = Vec::new();
    for i in 0..20 {
        let client = browser();
        let (_, _, page) = get(&client, &format!("{}{path}", t.base_url)).await;
        ready.push((i, client, csrf_of(&page)));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, client, csrf) in ready {
        let url = format!("{}{path}", t.base_url);
        tasks.spawn(async move {
            let username = format!("racer{i}");
            let email = format!("{username}@example.com");
            let res = client
                .post(&url)
                .header("x-forwarded-for", format!("10.0.0.{}", i + 1))
                .form(&[
                    ("username", username.as_str()),
                    ("email", email.as_str()),
                    ("_csrf", csrf.as_str()),
                ])
                .send()
                .await
                .unwrap();
            res.status()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap());
    }
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::SEE_OTHER)
        .count();
    let gone = statuses.iter().filter(|s| **s == StatusCode::GONE).count();
    assert_eq!((created, gone), (5, 15), "{statuses:?}");
    assert_eq!(user_count(&t), 5);
    let signed_up = audit_events(&t)
        .await
        .into_iter()
        .filter(|e| e["event"] == "user_signed_up")
        .count();
    assert_eq!(signed_up, 5);
    // Used up: gone from the list, and the link says so.
    let list = t.cli(&["signup-token", "list", "--json"]).await.json();
    assert_eq!(list["tokens"], serde_json::json!([]));
    let (status, _, page) = get(&browser(), &format!("{}{path}", t.base_url)).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("already been used"), "{page}");
}

#[tokio::test]
async fn a_token_signup_signs_in_goes_to_the_passkey_page_and_joins_the_token_groups() {
    let t = TestDaemon::start().await;
    let idm = t.daemon.idm();
    group(idm, "staff");
    set(idm, "signups.mode", "token");
    let token = create_token(&t, &["--uses", "2", "--group", "Staff"]).await;
    // The JSON shape scripts rely on.
    for key in ["id", "url", "expires_at", "usage_limit"] {
        assert!(!token[key].is_null(), "{key} in {token}");
    }
    assert_eq!(token["usage_limit"], 2);
    assert_eq!(token["groups"], serde_json::json!(["staff"]));
    let url = token["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/st/", t.base_url)), "{url}");
    assert_eq!(url.rsplit('/').next().unwrap().len(), 22, "128 bits");
    // Default expiry: one day from the test clock.
    assert_eq!(token["expires_at"], "2026-11-24T08:00:00Z");

    let client = browser();
    let path = path_of(url, &t);
    let (status, headers, _) = sign_up(&t, &client, &path, &fields("newbie"), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/signup/passkey");
    assert!(sets_session(&headers));
    let (status, _, page) = get(&client, &format!("{}/signup/passkey", t.base_url)).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"id="passkey-register""#), "{page}");
    assert!(page.contains("Skip for now"));
    assert!(page.contains("login code from an administrator"));
    let (status, _, account) = get(&client, &format!("{}/account", t.base_url)).await;
    assert_eq!(status, 200);
    assert!(account.contains("newbie@example.com"));

    let user = t.cli(&["user", "show", "newbie", "--json"]).await.json();
    assert_eq!(user["groups"], serde_json::json!(["staff"]));
    let sessions = t.cli(&["session", "list", "newbie", "--json"]).await.json();
    assert_eq!(sessions["sessions"][0]["method"], "signup");

    let list = t.cli(&["signup-token", "list", "--json"]).await.json();
    let listed = &list["tokens"][0];
    assert_eq!(listed["id"], token["id"]);
    assert_eq!(
        (listed["uses"].as_u64(), listed["usage_limit"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(url.contains(&format!("/st/{}", listed["prefix"].as_str().unwrap())));
    let human = t.cli(&["signup-token", "list"]).await;
    assert!(human.stdout.contains("1 / 2"), "{}", human.stdout);

    let events = audit_events(&t).await;
    let signed_up = events
        .iter()
        .find(|e| e["event"] == "user_signed_up")
        .expect("user_signed_up");
    assert_eq!(audit_detail(signed_up, "method"), Some("token"));
    assert_eq!(audit_detail(signed_up, "token"), token["id"].as_str());
    assert_eq!(audit_detail(signed_up, "groups"), Some("staff"));
    assert_eq!(signed_up["subject"], "newbie");
    assert!(events.iter().any(|e| e["event"] == "signup_token_created"));
    assert!(events.iter().any(|e| e["event"] == "signup_sign_in"));
}

#[tokio::test]
async fn failed_signups_do_not_use_the_token_and_say_which_field() {
    let t = TestDaemon::start().await;
    let idm = t.daemon.idm();
    create_user(idm, "Alice");
    set(idm, "signups.mode", "token");
    let token = create_token(&t, &["--uses", "1"]).await;
    let path = path_of(token["url"].as_str().unwrap(), &t);
    let client = browser();

    // Taken username, case-insensitively.
    let mut form = fields("ALICE");
    form[1].1 = "other@example.com".to_owned();
    let (status, _, page) = sign_up(&t, &client, &path, &form, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Username is already taken"), "{page}");
    assert!(
        page.contains(r#"value="ALICE""#),
        "the form keeps what was typed"
    );
    // Taken email.
    let mut form = fields("fresh");
    form[1].1 = "ALICE@example.com".to_owned();
    let (status, _, page) = sign_up(&t, &client, &path, &form, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("Email already belongs to an account"),
        "{page}"
    );
    // Bad formats, each under its field.
    let form = vec![
        ("username", "bad name!".to_owned()),
        ("email", "nope".to_owned()),
        ("first_name", String::new()),
        ("last_name", String::new()),
    ];
    let (status, _, page) = sign_up(&t, &client, &path, &form, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains(r#"id="username-error""#), "{page}");
    assert!(page.contains(r#"id="email-error""#), "{page}");
    assert!(page.contains("Email must contain an @"), "{page}");
    // Email is required by default.
    let mut form = fields("fresh");
    form[1].1 = String::new();
    let (status, _, page) = sign_up(&t, &client, &path, &form, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Email is required"), "{page}");

    assert_eq!(user_count(&t), 1);
    let list = t.cli(&["signup-token", "list", "--json"]).await.json();
    assert_eq!(
        list["tokens"][0]["uses"], 0,
        "failures did not use the token"
    );
    let (status, _, _) = sign_up(&t, &client, &path, &fields("fresh"), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(user_count(&t), 2);
}

#[tokio::test]
async fn expired_revoked_unknown_and_wrong_mode_links_get_clear_pages() {
    let t = TestDaemon::start().await;
    let idm = t.daemon.idm();
    let expiring = create_token(&t, &["--expires", "1h"]).await;
    let revoked = create_token(&t, &[]).await;
    let expiring_path = path_of(expiring["url"].as_str().unwrap(), &t);
    let revoked_path = path_of(revoked["url"].as_str().unwrap(), &t);
    let client = browser();

    // Disabled (the default): neither /st/ nor /signup.
    let (status, _, page) = get(&client, &format!("{}{expiring_path}", t.base_url)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("Signing up with a link is turned off"),
        "{page}"
    );
    let (status, _, page) = get(&client, &format!("{}/signup", t.base_url)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Signing up is not open"), "{page}");

    set(idm, "signups.mode", "token");
    let (status, _, page) = get(&client, &format!("{}{expiring_path}", t.base_url)).await;
    assert_eq!(status, 200, "{page}");
    let (status, _, _) = get(&client, &format!("{}/signup", t.base_url)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "open signup is off in token mode"
    );
    let (status, _, page) = get(
        &client,
        &format!("{}/st/AAAAAAAAAAAAAAAAAAAAAA", t.base_url),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("This signup link is not valid"), "{page}");
    let (status, _, _) = get(&client, &format!("{}/st/not-a-token", t.base_url)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Not even UTF-8: a 4xx page, never a 500.
    let (status, _, page) = get(&client, &format!("{}/st/%00%ff..", t.base_url)).await;
    assert!(status.is_client_error(), "{status}");
    assert!(page.contains("<html"), "{page}");

    // Revoked, with confirmation of what happened in the audit log.
    let id = revoked["id"].as_str().unwrap();
    let out = t.cli(&["signup-token", "revoke", id]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let (status, _, page) = get(&client, &format!("{}{revoked_path}", t.base_url)).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("withdrawn"), "{page}");
    let again = t.cli(&["signup-token", "revoke", id, "--json"]).await;
    assert_eq!(again.code, 1, "{again:?}");
    let events = audit_events(&t).await;
    let event = events
        .iter()
        .find(|e| e["event"] == "signup_token_revoked")
        .expect("signup_token_revoked");
    assert_eq!(audit_detail(event, "id"), Some(id));

    // A form loaded before expiry is refused after it: no sleeping, the clock moves.
    let (_, _, page) = get(&client, &format!("{}{expiring_path}", t.base_url)).await;
    let csrf = csrf_of(&page);
    t.clock.advance(time::Duration::minutes(61));
    let mut body: Vec<(&str, String)> = fields("late");
    body.push(("_csrf", csrf));
    let res = client
        .post(format!("{}{expiring_path}", t.base_url))
        .form(&body)
        .send()
        .await
        .unwrap();
    let (status, _, page) = split(res).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("expired"), "{page}");
    assert_eq!(user_count(&t), 0);
    let list = t.cli(&["signup-token", "list", "--json"]).await.json();
    assert_eq!(list["tokens"], serde_json::json!([]));

    // Turning signup off closes even a valid link.
    let live = create_token(&t, &[]).await;
    set(idm, "signups.mode", "disabled");
    let (status, _, _) = get(
        &client,
        &format!(
            "{}{}",
            t.base_url,
            path_of(live["url"].as_str().unwrap(), &t)
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn open_signup_uses_default_groups_and_may_make_email_optional() {
    let t = TestDaemon::start().await;
    let idm = t.daemon.idm();
    let out = t
        .cli(&["config", "set", "signups.default_groups", "members"])
        .await;
    assert_eq!(
        out.code, 1,
        "a group that does not exist is refused: {out:?}"
    );
    assert!(out.stderr.contains("no group"), "{out:?}");
    group(idm, "members");
    for (key, value) in [
        ("signups.mode", "open"),
        ("signups.default_groups", "members"),
    ] {
        let out = t.cli(&["config", "set", key, value]).await;
        assert_eq!(out.code, 0, "{out:?}");
    }
    let shown = t.cli(&["config", "show", "--json"]).await.json();
    assert_eq!(shown["signups"]["mode"], "open");
    assert_eq!(shown["signups"]["require_email"], true);
    assert_eq!(
        shown["signups"]["default_groups"],
        serde_json::json!(["members"])
    );

    let client = browser();
    let (_, _, page) = get(&client, &format!("{}/signup", t.base_url)).await;
    assert!(
        page.contains(r#"name="email" type="email" required"#),
        "{page}"
    );
    let (status, _, _) = get(
        &client,
        &format!("{}/st/AAAAAAAAAAAAAAAAAAAAAA", t.base_url),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "links are off in open mode");

    set(idm, "signups.require_email", "false");
    let (_, _, page) = get(&client, &format!("{}/signup", t.base_url)).await;
    assert!(page.contains("Optional"), "{page}");
    let mut form = fields("opener");
    form[1].1 = String::new();
    let (status, headers, page) = sign_up(&t, &client, "/signup", &form, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(location(&headers), "/signup/passkey");
    let user = t.cli(&["user", "show", "opener", "--json"]).await.json();
    assert_eq!(user["email"], Value::Null);
    assert_eq!(user["groups"], serde_json::json!(["members"]));
    let events = audit_events(&t).await;
    let signed_up = events
        .iter()
        .find(|e| e["event"] == "user_signed_up")
        .unwrap();
    assert_eq!(audit_detail(signed_up, "method"), Some("open"));
    assert_eq!(audit_detail(signed_up, "token"), None);
}

#[tokio::test]
async fn signups_are_rate_limited_per_ip_and_need_csrf() {
    let t = TestDaemon::start().await;
    set(t.daemon.idm(), "signups.mode", "open");
    let client = browser();
    // Missing CSRF token: 403, nothing made, nothing counted.
    let res = client
        .post(format!("{}/signup", t.base_url))
        .form(&[("username", "sneaky"), ("email", "s@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Ten attempts an hour per IP, failed or not.
    for i in 0..10 {
        let form = vec![("username", format!("bad name {i}"))];
        let (status, _, _) = sign_up(&t, &client, "/signup", &form, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, headers, page) = sign_up(&t, &client, "/signup", &fields("eleventh"), None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key("retry-after"));
    assert!(page.contains("Too many attempts"), "{page}");
    assert_eq!(user_count(&t), 0);
    // An hour later the window has passed.
    t.clock.advance(time::Duration::minutes(61));
    let (status, _, _) = sign_up(&t, &client, "/signup", &fields("patient"), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_cli_validates_and_prints_tokens() {
    let t = TestDaemon::start().await;
    for bad in [
        &["signup-token", "create", "--uses", "0"][..],
        &["signup-token", "create", "--uses", "101"],
        &["signup-token", "create", "--expires", "32d"],
    ] {
        assert_eq!(t.cli(bad).await.code, 2, "{bad:?}");
    }
    let out = t
        .cli(&["signup-token", "create", "--group", "ghosts"])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("ghosts"), "{out:?}");
    let human = t
        .cli(&["signup-token", "create", "--expires", "1w", "--uses", "3"])
        .await;
    assert_eq!(human.code, 0, "{human:?}");
    assert!(
        human.stdout.contains(&format!("{}/st/", t.base_url)),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("0 / 3"), "{}", human.stdout);
    assert!(
        human.stdout.contains('█') || human.stdout.contains('▀'),
        "a QR code"
    );
    let list = t.cli(&["signup-token", "list", "--json"]).await.json();
    let token = &list["tokens"][0];
    for key in [
        "id",
        "prefix",
        "uses",
        "usage_limit",
        "groups",
        "created_at",
        "expires_at",
    ] {
        assert!(!token[key].is_null(), "{key} in {token}");
    }
    assert_eq!(token["expires_at"], "2026-11-30T08:00:00Z");
    let out = t.cli(&["signup-token", "revoke", "nope"]).await;
    assert_eq!(out.code, 1);
}

/// Hides the random parts of a signup link.
fn redacted_token() -> insta::Settings {
    let mut settings = redacted();
    settings.add_filter(r"/st/[A-Za-z0-9_-]{22}", "/st/[token]");
    settings.add_filter(r"[A-Za-z0-9_-]{6}…", "[prefix]…");
    // The QR code changes with the link.
    settings.add_filter(r"█[█▀▄ ]{10,}█", "[qr]");
    settings
}

#[tokio::test]
async fn the_console_creates_lists_and_revokes_signup_tokens() {
    let t = TestDaemon::start().await;
    group(t.daemon.idm(), "staff");
    let mut driver = Driver::start(t.socket(), 110, 32).await;
    driver.key(KeyCode::BackTab).await;
    assert_eq!(driver.app.screen(), &Screen::Settings);
    driver.key(KeyCode::Char('t')).await;
    assert_eq!(driver.app.screen(), &Screen::SignupTokens);
    assert!(
        driver.screen().contains("No active signup tokens"),
        "{}",
        driver.screen()
    );

    driver.key(KeyCode::Char('n')).await;
    // 1 week, 3 uses, group staff.
    driver.key(KeyCode::Down).await;
    driver.key(KeyCode::Tab).await;
    driver
        .key_with(KeyCode::Char('u'), crossterm::event::KeyModifiers::CONTROL)
        .await;
    driver.type_text("300").await;
    driver.key(KeyCode::Tab).await;
    driver.type_text("staff").await;
    driver.key(KeyCode::Enter).await;
    // Refused in the dialog before anything is sent.
    let screen = driver.screen();
    assert!(
        screen.contains("Uses: a whole number from 1 to 100"),
        "{screen}"
    );
    redacted_token().bind(|| insta::assert_snapshot!("console_signup_token_dialog", screen));
    driver.key(KeyCode::Backspace).await;
    driver.key(KeyCode::Backspace).await;
    driver.key(KeyCode::Enter).await;
    driver.pump().await;
    let Some(Modal::SignupTokenShown(shown)) = driver.app.modal() else {
        panic!("expected the new link: {}", driver.screen());
    };
    let url = shown.token.url.clone();
    assert_eq!(shown.token.usage_limit, 3);
    assert_eq!(shown.token.groups, ["staff"]);
    assert!(!shown.qr.is_empty());
    let screen = driver.screen();
    assert!(screen.contains("/st/"), "{screen}");
    redacted_token().bind(|| insta::assert_snapshot!("console_signup_token_shown", screen));

    driver.key(KeyCode::Esc).await;
    let screen = driver.screen();
    assert!(screen.contains("0 / 3"), "{screen}");
    assert!(screen.contains("staff"), "{screen}");
    redacted_token().bind(|| insta::assert_snapshot!("console_signup_tokens", screen));
    let list = t.cli(&["signup-token", "list", "--json"]).await.json();
    let prefix = list["tokens"][0]["prefix"].as_str().unwrap();
    assert!(url.contains(&format!("/st/{prefix}")), "{url} {prefix}");

    // Revoke, with a confirmation first.
    driver.key(KeyCode::Char('x')).await;
    assert!(matches!(driver.app.modal(), Some(Modal::Confirm(_))));
    assert!(driver.screen().contains("Revoke the signup link"));
    driver.key(KeyCode::Char('y')).await;
    driver.pump().await;
    assert!(
        driver.screen().contains("No active signup tokens"),
        "{}",
        driver.screen()
    );
    let list = t.cli(&["signup-token", "list", "--json"]).await.json();
    assert_eq!(list["tokens"], serde_json::json!([]));
}
