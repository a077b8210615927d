//! Run-time settings against the real daemon: shown nested and set (checked) from the command
//! line, and edited in the console's Settings screen with errors inline.

use crossterm::event::KeyCode;
use latchkey_tests::TestDaemon;
use latchkey_tests::redact::console_uids;
use latchkey_tui::console::Driver;
use latchkey_tui::console::app::{Modal, Screen};

use super::console::redacted;

const W: u16 = 100;
const H: u16 = 30;

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
