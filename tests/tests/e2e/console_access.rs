//! Login codes, passkeys, sessions and settings from the console and the
//! command line, against the real daemon.

use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use latchkey_tests::TestDaemon;
use latchkey_tests::redact::console_uids;
use latchkey_tui::console::Driver;
use latchkey_tui::console::app::{Modal, Screen};

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
async fn passkeys_and_sessions_of_a_new_user_are_empty() {
    let t = TestDaemon::start().await;
    seed(&t).await;
    for noun in ["passkey", "session"] {
        let out = t.cli(&[noun, "list", "linus", "--json"]).await;
        assert_eq!(out.code, 0, "{out:?}");
        let key = format!("{noun}s");
        assert_eq!(out.json()[key.as_str()], serde_json::json!([]));
        let human = t.cli(&[noun, "list", "linus"]).await;
        assert_eq!(human.code, 0, "{human:?}");
        let missing = t
            .cli(&[noun, "revoke", "linus", "no-such-id", "--json"])
            .await;
        assert_eq!(missing.code, 1, "{missing:?}");
        let err: serde_json::Value = serde_json::from_str(&missing.stderr).unwrap();
        assert_eq!(err["error"]["code"], "not_found");
    }
}

#[tokio::test]
async fn config_show_nested_and_set_checked() {
    let t = TestDaemon::start().await;
    let shown = t.cli(&["config", "show", "--json"]).await;
    assert_eq!(shown.code, 0, "{shown:?}");
    let doc = shown.json();
    assert_eq!(doc["app"]["name"], "Latchkey");
    assert_eq!(doc["session"]["minutes"], 60);
    assert_eq!(doc["passkeys"]["user_verification"], "required");

    let set = t.cli(&["config", "set", "session.minutes", "30"]).await;
    assert_eq!(set.code, 0, "{set:?}");
    assert_eq!(set.stdout, "Set session.minutes.\n");
    assert_eq!(
        t.cli(&["config", "show", "--json"]).await.json()["session"]["minutes"],
        30
    );

    let bad = t
        .cli(&[
            "config",
            "set",
            "passkeys.user_verification",
            "never",
            "--json",
        ])
        .await;
    assert_eq!(bad.code, 1, "{bad:?}");
    let err: serde_json::Value = serde_json::from_str(&bad.stderr).unwrap();
    assert_eq!(err["error"]["code"], "invalid_input");
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
async fn the_settings_screen_edits_with_errors_inline() {
    let t = TestDaemon::start().await;
    let mut driver = Driver::start(t.socket(), W, H).await;
    driver.key(KeyCode::BackTab).await;
    assert_eq!(driver.app.screen(), &Screen::Settings);
    let index = driver
        .app
        .settings()
        .list()
        .iter()
        .position(|s| s.key == "session.minutes")
        .expect("session.minutes is listed");
    for _ in 0..index {
        driver.key(KeyCode::Down).await;
    }
    driver.key(KeyCode::Enter).await;
    driver
        .key_with(KeyCode::Char('u'), crossterm::event::KeyModifiers::CONTROL)
        .await;
    driver.type_text("1").await;
    driver.key(KeyCode::Enter).await;
    let screen = driver.screen();
    assert!(
        matches!(driver.app.modal(), Some(Modal::Form(f)) if f.error.as_ref().and_then(|e| e.field) == Some(0)),
        "{screen}"
    );
    driver
        .key_with(KeyCode::Char('u'), crossterm::event::KeyModifiers::CONTROL)
        .await;
    driver.type_text("45").await;
    driver.key(KeyCode::Enter).await;
    assert!(driver.app.modal().is_none(), "{}", driver.screen());
    assert_eq!(
        t.cli(&["config", "show", "--json"]).await.json()["session"]["minutes"],
        45
    );
    redacted().bind(|| insta::assert_snapshot!("console_settings", console_uids(&driver.screen())));
}

#[tokio::test]
async fn the_audit_screen_shows_a_login_code_event_pushed_live() {
    let t = TestDaemon::start().await;
    seed(&t).await;
    let mut driver = Driver::start(t.socket(), W, H).await;
    driver.key(KeyCode::Tab).await;
    driver.key(KeyCode::Tab).await;
    let out = t.cli(&["login-code", "create", "linus"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let top = driver
            .app
            .audit()
            .events
            .as_ref()
            .and_then(|e| e.first())
            .map(|e| e.event.clone());
        if top.as_deref() == Some("login_code_created") {
            break;
        }
        assert!(Instant::now() < deadline, "not shown:\n{}", driver.screen());
        driver.wait_for_events(Duration::from_millis(200)).await;
    }
}
