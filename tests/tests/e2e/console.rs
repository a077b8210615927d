//! The console against the real daemon: `console::Driver` runs the real
//! `App` over the real admin socket, and screens are read as text. Times
//! come from the fixture's manual clock; what is random (ids, the port)
//! is redacted in snapshots, and the uid of the test process is hidden
//! without moving the text around it (`latchkey_tests::redact`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use latchkey_daemon::clock::SystemClock;
use latchkey_daemon::idm::Actor;
use latchkey_daemon::store::{Store, copy_all};
use latchkey_protocol::NewUser;
use latchkey_tests::TestDaemon;
use latchkey_tests::postgres::TestPostgres;
use latchkey_tests::redact::console_uids;
use latchkey_tui::console::Driver;
use latchkey_tui::console::app::{Flash, Modal, Screen};

const W: u16 = 100;
const H: u16 = 30;

/// Snapshot settings that hide what differs between runs.
pub fn redacted() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"localhost:\d+", "localhost:[port]");
    settings.add_filter(r"latchkeyd \d+\.\d+\.\d+\S*", "latchkeyd [version]");
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[uuid]",
    );
    settings
}

/// A few users with variety, made through the command line.
pub async fn seed(t: &TestDaemon) {
    let runs: &[&[&str]] = &[
        &[
            "user",
            "create",
            "--username",
            "ada.lovelace",
            "--email",
            "ada@example.com",
            "--first-name",
            "Ada",
            "--last-name",
            "Lovelace",
            "--admin",
        ],
        &[
            "user",
            "create",
            "--username",
            "bob.builder",
            "--first-name",
            "Bob",
        ],
        &[
            "user",
            "create",
            "--username",
            "grace.hopper",
            "--email",
            "grace@example.com",
            "--first-name",
            "Grace",
            "--last-name",
            "Hopper",
        ],
        &["user", "create", "--username", "linus"],
        &["user", "disable", "bob.builder"],
        &[
            "group",
            "create",
            "admins",
            "--friendly-name",
            "Administrators",
        ],
        &["group", "create", "navy", "--friendly-name", "US Navy"],
        &["group", "add-member", "admins", "ada.lovelace"],
        &["group", "add-member", "navy", "grace.hopper"],
    ];
    for args in runs {
        let out = t.cli(args).await;
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
    }
}

async fn started() -> (TestDaemon, Driver) {
    let t = TestDaemon::start().await;
    seed(&t).await;
    let driver = Driver::start(t.socket(), W, H).await;
    (t, driver)
}

#[tokio::test]
async fn the_users_screen_lists_the_daemons_users() {
    let (_t, driver) = started().await;
    assert_eq!(driver.app.users().total(), Some(4));
    redacted().bind(|| insta::assert_snapshot!("console_users", console_uids(&driver.screen())));
}

#[tokio::test]
async fn filter_then_open_a_user_shows_groups_and_recent_activity() {
    let (_t, mut driver) = started().await;
    driver.key(KeyCode::Char('/')).await;
    driver.type_text("grace").await;
    assert_eq!(driver.app.users().total(), Some(1));
    driver.key(KeyCode::Enter).await;
    driver.key(KeyCode::Enter).await;
    assert!(matches!(
        driver.app.screen(),
        Screen::UserDetail { loading: false, .. }
    ));
    let screen = driver.screen();
    assert!(screen.contains("Groups        navy"), "{screen}");
    assert!(screen.contains("Recent activity"), "{screen}");
    assert!(screen.contains("group_member_added"), "{screen}");
    assert!(screen.contains("user_created"), "{screen}");
    driver.key(KeyCode::Esc).await;
    driver.key(KeyCode::Char('q')).await;
    assert!(driver.quit_requested());
}

#[tokio::test]
async fn a_refused_create_keeps_the_form_and_points_at_the_field() {
    let (t, mut driver) = started().await;
    driver.key(KeyCode::Char('n')).await;
    driver.type_text("zoe").await;
    driver.key(KeyCode::Tab).await;
    driver.type_text("not-an-email").await;
    driver.key(KeyCode::Enter).await;
    let Some(Modal::Form(form)) = driver.app.modal() else {
        panic!("the form should stay open:\n{}", driver.screen());
    };
    assert_eq!(form.text("username"), "zoe");
    assert_eq!(form.focus, 1, "focus moves to the email field");
    assert_eq!(form.error.as_ref().and_then(|e| e.field), Some(1));

    for _ in 0.."not-an-email".len() {
        driver.key(KeyCode::Backspace).await;
    }
    driver.type_text("zoe@example.com").await;
    driver.key(KeyCode::Enter).await;
    assert!(driver.app.modal().is_none(), "{}", driver.screen());
    assert_eq!(
        driver.app.flash(),
        Some(&Flash::Info("Created zoe.".into()))
    );
    assert_eq!(driver.app.users().total(), Some(5));
    let zoe = t.cli(&["user", "show", "zoe", "--json"]).await.json();
    assert_eq!(zoe["email"], "zoe@example.com");

    // The same username again: the daemon says so under the field.
    driver.key(KeyCode::Char('n')).await;
    driver.type_text("ZOE").await;
    driver.key(KeyCode::Enter).await;
    let screen = driver.screen();
    assert!(
        matches!(driver.app.modal(), Some(Modal::Form(f)) if f.error.as_ref().and_then(|e| e.field) == Some(0)),
        "{screen}"
    );
    redacted().bind(|| insta::assert_snapshot!("console_create_conflict", console_uids(&screen)));
}

#[tokio::test]
async fn d_toggles_disabled_and_delete_needs_a_typed_y() {
    let (t, mut driver) = started().await;
    driver.key(KeyCode::Down).await; // bob.builder, disabled
    driver.key(KeyCode::Char('d')).await;
    assert_eq!(
        driver.app.flash(),
        Some(&Flash::Info("Enabled bob.builder.".into()))
    );
    assert_eq!(
        t.cli(&["user", "show", "bob.builder", "--json"])
            .await
            .json()["disabled"],
        false
    );

    driver.key(KeyCode::Char('D')).await;
    driver.key(KeyCode::Enter).await;
    assert!(
        matches!(driver.app.modal(), Some(Modal::Confirm(_))),
        "Enter does not confirm"
    );
    driver.key(KeyCode::Char('y')).await;
    assert_eq!(driver.app.users().total(), Some(3));
    let gone = t.cli(&["user", "show", "bob.builder", "--json"]).await;
    assert_eq!(gone.code, 1);
}

#[tokio::test]
async fn groups_create_members_and_delete() {
    let (t, mut driver) = started().await;
    driver.key(KeyCode::Tab).await;
    assert_eq!(driver.app.screen(), &Screen::Groups);
    redacted().bind(|| insta::assert_snapshot!("console_groups", console_uids(&driver.screen())));

    driver.key(KeyCode::Char('n')).await;
    driver.type_text("admins").await;
    driver.key(KeyCode::Enter).await;
    assert!(
        matches!(driver.app.modal(), Some(Modal::Form(f)) if f.error.is_some()),
        "a duplicate name keeps the form open"
    );
    driver.type_text("2").await;
    driver.key(KeyCode::Enter).await;
    assert_eq!(driver.app.groups().groups.as_ref().map(Vec::len), Some(3));

    driver.key(KeyCode::Enter).await; // admins
    driver.key(KeyCode::Char('a')).await;
    driver.type_text("nobody").await;
    driver.key(KeyCode::Enter).await;
    assert!(matches!(driver.app.modal(), Some(Modal::Form(f)) if f.error.is_some()));
    driver.key(KeyCode::Esc).await;
    driver.key(KeyCode::Char('a')).await;
    driver.type_text("linus").await;
    driver.key(KeyCode::Enter).await;
    let members = |d: &Driver| d.app.groups().members.as_ref().map(|g| g.members.len());
    assert_eq!(members(&driver), Some(2));
    redacted()
        .bind(|| insta::assert_snapshot!("console_group_members", console_uids(&driver.screen())));
    driver.key(KeyCode::Char('x')).await;
    driver.key(KeyCode::Char('y')).await;
    assert_eq!(members(&driver), Some(1));
    driver.key(KeyCode::Esc).await;
    driver.key(KeyCode::Char('D')).await;
    driver.key(KeyCode::Char('y')).await;
    assert_eq!(driver.app.groups().groups.as_ref().map(Vec::len), Some(2));
    let list = t.cli(&["group", "list", "--json"]).await.json();
    assert_eq!(list["groups"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn the_audit_screen_follows_changes_made_elsewhere() {
    let (t, mut driver) = started().await;
    driver.key(KeyCode::Tab).await;
    driver.key(KeyCode::Tab).await;
    assert_eq!(driver.app.screen(), &Screen::Audit);
    let first = |d: &Driver| {
        d.app
            .audit()
            .events
            .as_ref()
            .and_then(|e| e.first())
            .map(|e| (e.event.clone(), e.subject.clone()))
    };
    assert_eq!(
        first(&driver),
        Some(("group_member_added".into(), Some("navy".into())))
    );
    redacted().bind(|| insta::assert_snapshot!("console_audit", console_uids(&driver.screen())));

    // Another admin creates a user; the screen shows it without a key.
    let out = t.cli(&["user", "create", "--username", "hedy"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while first(&driver) != Some(("user_created".into(), Some("hedy".into()))) {
        assert!(
            Instant::now() < deadline,
            "no live update:\n{}",
            driver.screen()
        );
        driver.wait_for_events(Duration::from_millis(200)).await;
    }
    // So does a login code made from the command line.
    let out = t.cli(&["login-code", "create", "hedy"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    while first(&driver) != Some(("login_code_created".into(), Some("hedy".into()))) {
        assert!(
            Instant::now() < deadline,
            "no live update:\n{}",
            driver.screen()
        );
        driver.wait_for_events(Duration::from_millis(200)).await;
    }

    // One user's events only.
    driver.key(KeyCode::Char('/')).await;
    driver.type_text("ada.lovelace").await;
    driver.key(KeyCode::Enter).await;
    let events = driver.app.audit().events.clone().unwrap_or_default();
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert!(names.contains(&"user_created"), "{}", driver.screen());
    assert!(!names.contains(&"group_created"), "{}", driver.screen());
    let filtered = events.len();
    driver.key(KeyCode::Esc).await;
    assert!(
        driver
            .app
            .audit()
            .events
            .as_ref()
            .is_some_and(|e| e.len() > filtered)
    );
}

#[tokio::test]
async fn without_a_daemon_the_unreachable_screen_names_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let driver = Driver::start(dir.path().join("latchkey.sock"), W, H).await;
    let screen = driver.screen();
    assert!(screen.contains("Cannot reach latchkeyd"), "{screen}");
    assert!(screen.contains("latchkey.sock"), "{screen}");
}

/// A daemon holding `user000001` … `user100000`, made in bulk (5,000 per transaction). On
/// PostgreSQL they are made in an in-memory database and copied across as `latchkeyd migrate`
/// copies (`store::copy_all`, 512 rows a statement): made there directly, each user's index
/// checks cost a round trip, four minutes of the suite for what this test is not about.
async fn with_a_hundred_thousand_users() -> TestDaemon {
    let users = (1..=100_000).map(|i| NewUser {
        username: format!("user{i:06}"),
        ..NewUser::default()
    });
    let bulk = |idm: &latchkey_daemon::idm::Idm, users| {
        let created = idm
            .create_users_bulk(&Actor::system(), users, 5_000)
            .unwrap();
        assert_eq!(created, 100_000);
    };
    if !latchkey_tests::on_postgres() {
        let t = TestDaemon::start().await;
        bulk(t.daemon.idm(), users);
        return t;
    }
    let memory = Store::memory().unwrap();
    bulk(
        &latchkey_daemon::idm::Idm::new(memory.clone(), Arc::new(SystemClock)),
        users,
    );
    let url = TestPostgres::shared().fresh_database();
    let shared = Store::open_postgres(&url).unwrap();
    let snapshot = memory.read().unwrap();
    shared.write(|tx| copy_all(&snapshot, tx)).unwrap();
    drop(shared);
    TestDaemon::start_with(|config| config.database_url = Some(url.parse().unwrap())).await
}

/// 100,000 users in the real daemon: the console pages through the socket
/// to the end and filters, and the time each takes is printed.
#[tokio::test]
async fn a_hundred_thousand_users_page_and_filter_over_the_socket() {
    let loading = Instant::now();
    let t = with_a_hundred_thousand_users().await;
    eprintln!("100k users: bulk load {:?}", loading.elapsed());

    let start = Instant::now();
    let mut driver = Driver::start(t.socket(), W, H).await;
    eprintln!("100k users: connect and first page {:?}", start.elapsed());
    assert_eq!(driver.app.users().total(), Some(100_000));

    let end = Instant::now();
    driver.key(KeyCode::End).await;
    eprintln!("100k users: End (last page) {:?}", end.elapsed());
    let screen = driver.screen();
    assert!(screen.contains("99,977–100,000 of 100,000"), "{screen}");
    assert!(screen.contains("▶ user100000"), "{screen}");
    assert!(screen.contains("user099977"), "{screen}");

    driver.key(KeyCode::Char('/')).await;
    driver.type_text("user0999").await;
    let filter = Instant::now();
    driver.key(KeyCode::Char('5')).await;
    eprintln!(
        "100k users: filtered page (one keystroke) {:?}",
        filter.elapsed()
    );
    assert_eq!(driver.app.users().total(), Some(10));
    driver.key(KeyCode::Enter).await;
    driver.key(KeyCode::End).await;
    let screen = driver.screen();
    assert!(screen.contains("1–10 of 10"), "{screen}");
    for i in 99_950..=99_959 {
        assert!(screen.contains(&format!("user{i:06}")), "{screen}");
    }
    assert!(!screen.contains("user099960"), "{screen}");
    assert!(screen.contains("▶ user099959"), "{screen}");
}
