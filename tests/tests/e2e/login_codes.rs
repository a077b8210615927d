//! Login codes, the one-time codes an admin gives a user: made, listed and revoked from the
//! command line and the console, emailed when allowed, and redeemed over real HTTP — once, case-
//! and hyphen-insensitively, never when expired, disabled or wrong, and limited per client.

use crossterm::event::KeyCode;
use latchkey_daemon::idm::Actor;
use latchkey_tests::TestDaemon;
use latchkey_tests::audit::{audit_detail, audit_events};
use latchkey_tests::http::{
    browser, create_user, get, location, login_code, post_code, set_cookies, sets_session,
};
use latchkey_tests::mail::{link_in, use_smtp};
use latchkey_tests::redact::console_uids;
use latchkey_tests::smtp::SmtpServer;
use latchkey_tui::console::Driver;
use latchkey_tui::console::app::{Modal, Screen};
use reqwest::StatusCode;

use super::console::{redacted, seed};

const W: u16 = 100;
const H: u16 = 30;

/// Also hides a login code, which is random.
fn redacted_code() -> insta::Settings {
    let mut settings = redacted();
    settings.add_filter(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){2,}", "[code]");
    settings.add_filter(r"/lc/\S+", "/lc/[code]");
    settings.add_filter(r"id=[0-9a-f]+", "id=[code id]");
    settings
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
async fn login_code_create_json_list_and_revoke() {
    let t = TestDaemon::start().await;
    seed(&t).await;
    let out = t
        .cli(&[
            "login-code",
            "create",
            "grace.hopper",
            "--expires",
            "1h",
            "--json",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let doc = out.json();
    let url = doc["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/lc/", t.base_url)), "{url}");
    assert!(doc["code"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(doc["expires_at"], "2026-11-23T09:00:00Z");

    let human = t
        .cli(&["login-code", "create", "grace.hopper", "--expires", "3d"])
        .await;
    assert_eq!(human.code, 0, "{human:?}");
    assert!(human.stdout.contains("link:"), "{}", human.stdout);
    assert!(
        human.stdout.contains("2026-11-26 08:00:00 UTC"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("████"), "a QR code: {}", human.stdout);

    let list = t
        .cli(&["login-code", "list", "grace.hopper", "--json"])
        .await
        .json();
    let codes = list["codes"].as_array().unwrap();
    assert_eq!(codes.len(), 2);
    assert!(
        codes.iter().all(|c| c.get("code").is_none()),
        "codes are never listed"
    );
    let id = doc["id"].as_str().unwrap();
    let revoked = t.cli(&["login-code", "revoke", "grace.hopper", id]).await;
    assert_eq!(revoked.code, 0, "{revoked:?}");
    let list = t
        .cli(&["login-code", "list", "grace.hopper", "--json"])
        .await
        .json();
    assert_eq!(list["codes"].as_array().map(Vec::len), Some(1));

    let too_long = t
        .cli(&["login-code", "create", "grace.hopper", "--expires", "32d"])
        .await;
    assert_eq!(too_long.code, 2, "{too_long:?}");
    let nobody = t.cli(&["login-code", "create", "nobody", "--json"]).await;
    assert_eq!(nobody.code, 1, "{nobody:?}");
}

#[tokio::test]
async fn the_console_makes_shows_lists_and_revokes_a_login_code() {
    let t = TestDaemon::start().await;
    seed(&t).await;
    let mut driver = Driver::start(t.socket(), W, H).await;
    driver.key(KeyCode::Char('/')).await;
    driver.type_text("grace").await;
    driver.key(KeyCode::Enter).await;
    driver.key(KeyCode::Enter).await;
    assert!(matches!(driver.app.screen(), Screen::UserDetail { .. }));
    driver.key(KeyCode::Char('l')).await;
    driver.key(KeyCode::Down).await; // 12 hours
    driver.key(KeyCode::Enter).await;
    let Some(Modal::LoginCode(shown)) = driver.app.modal() else {
        panic!("no code shown:\n{}", driver.screen());
    };
    assert!(shown.code.url.starts_with(&t.base_url));
    let screen = driver.screen();
    assert!(
        screen.contains("2026-11-23 20:00:00 UTC (12 hours)"),
        "{screen}"
    );
    // The code and its QR code are random, so this screen is checked by
    // content here and by snapshot in the console's own tests.
    assert!(screen.contains(&shown.code.url), "{screen}");
    assert!(screen.contains(&shown.code.code), "{screen}");

    driver.key(KeyCode::Esc).await;
    let screen = driver.screen();
    assert!(screen.contains("Login codes (1)"), "{screen}");
    assert!(screen.contains("login_code_created"), "{screen}");
    redacted_code()
        .bind(|| insta::assert_snapshot!("console_user_detail_access", console_uids(&screen)));

    // The code is the only item (no passkeys or sessions yet): revoke it.
    driver.key(KeyCode::Char('x')).await;
    assert!(matches!(driver.app.modal(), Some(Modal::Confirm(_))));
    driver.key(KeyCode::Char('y')).await;
    let screen = driver.screen();
    assert!(screen.contains("Login codes (0)"), "{screen}");
    let list = t
        .cli(&["login-code", "list", "grace.hopper", "--json"])
        .await
        .json();
    assert_eq!(list["codes"], serde_json::json!([]));
}

#[tokio::test]
async fn admins_can_email_login_codes_when_allowed() {
    let smtp = SmtpServer::start();
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");

    let out = t
        .cli(&["login-code", "create", "alice", "--email", "--json"])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("email.admin_login_codes"), "{out:?}");

    t.config_set("email.admin_login_codes", "true").await;
    let out = t.cli(&["login-code", "create", "alice", "--email"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("SMTP is not configured"), "{out:?}");
    use_smtp(&t, smtp.port).await;
    let out = t
        .cli(&["login-code", "create", "alice", "--email", "--json"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let created = out.json();
    assert_eq!(created["emailed"], true);
    let code = created["code"].as_str().unwrap().to_owned();

    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.rcpt, vec!["alice@example.com"]);
    assert_eq!(mail.subject, "Your login code for Latchkey");
    let text = mail.text.unwrap();
    assert!(text.contains(&code));
    assert!(link_in(&text, "/lc/").ends_with(&code));

    let client = browser();
    let (status, headers, _) = post_code(&t, &client, &code, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(sets_session(&headers));

    // A user without an address: a clear refusal, and no code is left behind.
    t.daemon
        .idm()
        .create_user(
            &Actor::system(),
            latchkey_protocol::NewUser {
                email: None,
                ..latchkey_tests::http::new_user("bob")
            },
        )
        .unwrap();
    let out = t.cli(&["login-code", "create", "bob", "--email"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("no email address"), "{out:?}");
    let out = t.cli(&["login-code", "list", "bob", "--json"]).await;
    assert_eq!(out.json()["codes"].as_array().unwrap().len(), 0);
}
