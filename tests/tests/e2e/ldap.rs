//! LDAP sync against a real OpenLDAP: `latchkey_tests::slapd` starts
//! Debian's slapd on a loopback port, the daemon syncs from it over the
//! network with ldap3 (plain, ldaps:// and StartTLS), and the results are read back through the
//! CLI.

use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use latchkey_protocol::{Event, LdapSyncReport, Request, Response};
use latchkey_tests::TestDaemon;
use latchkey_tests::slapd::{ADMIN_DN, ADMIN_PASSWORD, BASE_DN, Slapd};
use latchkey_tui::console::Driver;
use serde_json::{Value, json};

use latchkey_tests::audit::audit_detail;

/// Points the daemon at `slapd` and turns LDAP on.
async fn configure(t: &TestDaemon, slapd: &Slapd) {
    t.config_set("ldap.url", &slapd.url()).await;
    t.config_set("ldap.bind_dn", ADMIN_DN).await;
    t.config_set("ldap.bind_password", ADMIN_PASSWORD).await;
    t.config_set("ldap.base_dn", BASE_DN).await;
    t.config_set("ldap.admin_group", "admins").await;
    t.config_set("ldap.enabled", "true").await;
}

/// alice (admin), bob and carol; `admins` = {alice}, `staff` = {alice, bob}.
async fn seed(slapd: &Slapd) {
    slapd
        .add_user("alice", "Alice", "Liddell", "alice@example.org")
        .await;
    slapd
        .add_user("bob", "Bob", "Builder", "bob@example.org")
        .await;
    slapd
        .add_user("carol", "Carol", "Danvers", "carol@example.org")
        .await;
    slapd.add_group("admins", &["alice"]).await;
    slapd.add_group("staff", &["alice", "bob"]).await;
}

async fn started() -> (TestDaemon, Slapd) {
    let slapd = Slapd::start().await;
    seed(&slapd).await;
    let t = TestDaemon::start().await;
    configure(&t, &slapd).await;
    (t, slapd)
}

/// `latchkey ldap sync --json`, which must succeed.
async fn sync(t: &TestDaemon) -> Value {
    let out = t.cli(&["ldap", "sync", "--json"]).await;
    assert_eq!(out.code, 0, "ldap sync: {out:?}");
    out.json()
}

/// The counts of a report, without the skipped list.
fn counts(report: &Value) -> [u64; 8] {
    [
        "created",
        "updated",
        "enabled",
        "disabled",
        "deleted",
        "groups_created",
        "groups_updated",
        "groups_deleted",
    ]
    .map(|key| {
        report[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {report}"))
    })
}

async fn user(t: &TestDaemon, name: &str) -> Value {
    let out = t.cli(&["user", "show", name, "--json"]).await;
    assert_eq!(out.code, 0, "user show {name}: {out:?}");
    out.json()
}

async fn members(t: &TestDaemon, group: &str) -> Vec<String> {
    let out = t.cli(&["group", "show", group, "--json"]).await;
    assert_eq!(out.code, 0, "group show {group}: {out:?}");
    let mut names: Vec<String> = out.json()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Everything a sync could change, as the CLI shows it.
async fn everything(t: &TestDaemon) -> Value {
    let users = t.cli(&["user", "list", "--json"]).await.json();
    let groups = t.cli(&["group", "list", "--json"]).await.json();
    let mut details = Vec::new();
    for g in groups["groups"].as_array().unwrap() {
        let name = g["name"].as_str().unwrap();
        details.push(t.cli(&["group", "show", name, "--json"]).await.json());
    }
    json!({ "users": users, "groups": groups, "details": details })
}

async fn audit_events(t: &TestDaemon) -> Vec<Value> {
    let out = t.cli(&["audit", "list", "--limit", "1000", "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    out.json()["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn first_sync_imports_users_groups_and_admins() {
    let (t, _slapd) = started().await;
    let report = sync(&t).await;
    assert_eq!(counts(&report), [3, 0, 0, 0, 0, 2, 0, 0], "{report}");
    assert_eq!(report["skipped"], json!([]));

    let alice = user(&t, "alice").await;
    assert_eq!(alice["source"], "ldap");
    assert_eq!(alice["email"], "alice@example.org");
    assert_eq!(alice["first_name"], "Alice");
    assert_eq!(alice["last_name"], "Liddell");
    assert_eq!(alice["display_name"], "Alice Liddell");
    assert_eq!(alice["is_admin"], true);
    assert_eq!(user(&t, "bob").await["is_admin"], false);
    assert_eq!(members(&t, "staff").await, vec!["alice", "bob"]);
    assert_eq!(members(&t, "admins").await, vec!["alice"]);
    let groups = t.cli(&["group", "list", "--json"]).await.json();
    assert!(
        groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["source"] == "ldap"),
        "{groups}"
    );

    // One audit event says what the sync did, with its counts.
    let events = audit_events(&t).await;
    let synced = events.iter().find(|e| e["event"] == "ldap_sync").unwrap();
    let details = synced["details"].to_string();
    assert!(details.contains("created"), "{synced}");
    assert_eq!(synced["actor"], "system");

    let status = t.cli(&["ldap", "status", "--json"]).await.json();
    assert_eq!(status["enabled"], true);
    assert_eq!(status["running"], false);
    assert_eq!(status["last_error"], Value::Null);
    assert_eq!(status["last_report"]["created"], 3);
    assert!(status["last_sync_at"].is_string());
}

#[tokio::test]
async fn a_second_sync_without_directory_changes_writes_nothing() {
    let (t, _slapd) = started().await;
    sync(&t).await;
    let before = everything(&t).await;
    let audit_before = audit_events(&t).await;
    t.clock.advance(time::Duration::hours(1));
    let report = sync(&t).await;
    assert_eq!(
        serde_json::from_value::<LdapSyncReport>(report).unwrap(),
        LdapSyncReport::default()
    );
    // Users and groups are untouched (updated_at included) …
    assert_eq!(everything(&t).await, before);
    // … and the only new audit event is the sync's own, with zero counts.
    let audit_after = audit_events(&t).await;
    assert_eq!(audit_after.len(), audit_before.len() + 1);
    let newest = &audit_after[0];
    assert_eq!(newest["event"], "ldap_sync");
    for (key, value) in newest["details"].as_array().unwrap().iter().map(|pair| {
        let pair = pair.as_array().unwrap();
        (pair[0].as_str().unwrap(), pair[1].as_str().unwrap())
    }) {
        if key != "trigger" {
            assert_eq!(value, "0", "{key} in {newest}");
        }
    }
}

#[tokio::test]
async fn a_changed_mail_is_updated() {
    let (t, slapd) = started().await;
    sync(&t).await;
    let updated_before = user(&t, "bob").await["updated_at"].clone();
    t.clock.advance(time::Duration::minutes(1));
    slapd
        .replace(&Slapd::user_dn("bob"), "mail", &["robert@example.org"])
        .await;
    let report = sync(&t).await;
    assert_eq!(counts(&report), [0, 1, 0, 0, 0, 0, 0, 0], "{report}");
    let bob = user(&t, "bob").await;
    assert_eq!(bob["email"], "robert@example.org");
    assert_ne!(bob["updated_at"], updated_before);
    // The old address no longer finds him; the new one does.
    assert_eq!(t.cli(&["user", "show", "bob@example.org"]).await.code, 1);
    assert_eq!(user(&t, "robert@example.org").await["username"], "bob");
}

#[tokio::test]
async fn a_removed_user_is_disabled_and_the_same_user_back_is_enabled() {
    let (t, slapd) = started().await;
    // Only members of staff are imported: leaving staff is leaving the
    // directory as Latchkey sees it, and coming back keeps the entryUUID.
    t.config_set(
        "ldap.user_filter",
        "(&(objectClass=inetOrgPerson)(memberOf=cn=staff,ou=groups,dc=example,dc=org))",
    )
    .await;
    let report = sync(&t).await;
    assert_eq!(report["created"], 2, "{report}");
    assert_eq!(t.cli(&["user", "show", "carol"]).await.code, 1);

    slapd
        .replace(
            &Slapd::group_dn("staff"),
            "member",
            &[&Slapd::user_dn("alice")],
        )
        .await;
    let report = sync(&t).await;
    assert_eq!(counts(&report), [0, 0, 0, 1, 0, 0, 1, 0], "{report}");
    assert_eq!(user(&t, "bob").await["disabled"], true);
    assert_eq!(members(&t, "staff").await, vec!["alice"]);

    slapd
        .replace(
            &Slapd::group_dn("staff"),
            "member",
            &[&Slapd::user_dn("alice"), &Slapd::user_dn("bob")],
        )
        .await;
    let report = sync(&t).await;
    assert_eq!(counts(&report), [0, 0, 1, 0, 0, 0, 1, 0], "{report}");
    let bob = user(&t, "bob").await;
    assert_eq!(bob["disabled"], false);
    assert_eq!(members(&t, "staff").await, vec!["alice", "bob"]);

    // An entry deleted outright is disabled the same way.
    slapd.delete(&Slapd::user_dn("alice")).await;
    let report = sync(&t).await;
    assert_eq!(report["disabled"], 1, "{report}");
    assert_eq!(user(&t, "alice").await["disabled"], true);
}

#[tokio::test]
async fn with_on_removed_delete_a_removed_user_is_deleted() {
    let (t, slapd) = started().await;
    t.config_set("ldap.on_removed", "delete").await;
    sync(&t).await;
    slapd.delete(&Slapd::user_dn("carol")).await;
    let report = sync(&t).await;
    assert_eq!(counts(&report), [0, 0, 0, 0, 1, 0, 0, 0], "{report}");
    assert_eq!(t.cli(&["user", "show", "carol"]).await.code, 1);
    let events = audit_events(&t).await;
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "user_deleted" && e["subject"] == "carol")
    );
}

#[tokio::test]
async fn memberships_and_the_admin_group_follow_the_directory() {
    let (t, slapd) = started().await;
    sync(&t).await;
    slapd
        .replace(
            &Slapd::group_dn("admins"),
            "member",
            &[&Slapd::user_dn("bob")],
        )
        .await;
    slapd
        .replace(
            &Slapd::group_dn("staff"),
            "member",
            &[&Slapd::user_dn("bob"), &Slapd::user_dn("carol")],
        )
        .await;
    slapd.add_group("ops", &["carol"]).await;
    let report = sync(&t).await;
    // alice and bob swap admin rights; two groups change; one appears.
    assert_eq!(counts(&report), [0, 2, 0, 0, 0, 1, 2, 0], "{report}");
    assert_eq!(user(&t, "alice").await["is_admin"], false);
    assert_eq!(user(&t, "bob").await["is_admin"], true);
    assert_eq!(members(&t, "admins").await, vec!["bob"]);
    assert_eq!(members(&t, "staff").await, vec!["bob", "carol"]);
    assert_eq!(members(&t, "ops").await, vec!["carol"]);
    assert_eq!(user(&t, "carol").await["groups"], json!(["ops", "staff"]));

    slapd.delete(&Slapd::group_dn("ops")).await;
    let report = sync(&t).await;
    assert_eq!(counts(&report), [0, 0, 0, 0, 0, 0, 0, 1], "{report}");
    assert_eq!(t.cli(&["group", "show", "ops"]).await.code, 1);
}

#[tokio::test]
async fn a_clash_with_a_local_user_is_skipped_with_the_reason() {
    let slapd = Slapd::start().await;
    seed(&slapd).await;
    let t = TestDaemon::start().await;
    let local = t
        .cli(&[
            "user",
            "create",
            "--username",
            "carol",
            "--email",
            "c@local.example",
        ])
        .await;
    assert_eq!(local.code, 0, "{local:?}");
    let other = t
        .cli(&[
            "user",
            "create",
            "--username",
            "robert",
            "--email",
            "bob@example.org",
        ])
        .await;
    assert_eq!(other.code, 0, "{other:?}");
    configure(&t, &slapd).await;
    let report = sync(&t).await;
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(
        report["skipped"],
        json!([
            {
                "entry": "uid=bob,ou=people,dc=example,dc=org",
                "reason": "email \"bob@example.org\" belongs to a local user; local and directory accounts are never merged"
            },
            {
                "entry": "uid=carol,ou=people,dc=example,dc=org",
                "reason": "username \"carol\" belongs to a local user; local and directory accounts are never merged"
            }
        ])
    );
    let carol = user(&t, "carol").await;
    assert_eq!(carol["source"], "local");
    assert_eq!(carol["email"], "c@local.example");
    assert_eq!(user(&t, "robert").await["source"], "local");
    // staff holds only the imported alice; the skipped bob is left out.
    assert_eq!(members(&t, "staff").await, vec!["alice"]);
    // The human output lists the skipped entries too.
    let human = t.cli(&["ldap", "sync"]).await;
    assert_eq!(human.code, 0, "{human:?}");
    assert!(
        human.stdout.contains(
            "uid=carol,ou=people,dc=example,dc=org: username \"carol\" belongs to a local user"
        ),
        "{}",
        human.stdout
    );
}

#[tokio::test]
async fn an_unreachable_directory_reports_the_exact_error_and_changes_nothing() {
    let (t, slapd) = started().await;
    sync(&t).await;
    let before = everything(&t).await;
    let port = slapd.port;
    drop(slapd);
    let out = t.cli(&["ldap", "sync", "--json"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    let message =
        format!("cannot connect to ldap://127.0.0.1:{port}: Connection refused (os error 111)");
    let error: Value = serde_json::from_str(&out.stderr).unwrap();
    assert_eq!(error["error"]["message"], message.as_str(), "{out:?}");
    assert_eq!(everything(&t).await, before);
    let status = t.cli(&["ldap", "status", "--json"]).await.json();
    assert_eq!(status["last_error"], message.as_str());
    // The last good report is still there to read.
    assert_eq!(status["last_report"]["created"], 3);
    let events = audit_events(&t).await;
    assert_eq!(events[0]["event"], "ldap_sync_failed");
}

#[tokio::test]
async fn a_wrong_bind_password_reports_the_exact_error_and_changes_nothing() {
    let (t, _slapd) = started().await;
    sync(&t).await;
    let before = everything(&t).await;
    t.config_set("ldap.bind_password", "not-the-password").await;
    let out = t.cli(&["ldap", "sync"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr,
        format!("latchkey: bind as {ADMIN_DN} failed: invalidCredentials (LDAP result code 49)\n")
    );
    assert_eq!(everything(&t).await, before);
}

#[tokio::test]
async fn member_uid_groups_resolve_bare_usernames() {
    let (t, slapd) = started().await;
    slapd
        .add_posix_group("developers", 5000, &["bob", "carol", "nobody"])
        .await;
    t.config_set("ldap.group_filter", "(objectClass=posixGroup)")
        .await;
    t.config_set("ldap.attr.group_member", "memberUid").await;
    let report = sync(&t).await;
    assert_eq!(counts(&report), [3, 0, 0, 0, 0, 1, 0, 0], "{report}");
    assert_eq!(members(&t, "developers").await, vec!["bob", "carol"]);
    // No admin group among the posix groups: nobody is an admin.
    assert_eq!(user(&t, "alice").await["is_admin"], false);
    slapd
        .replace(&Slapd::group_dn("developers"), "memberUid", &["alice"])
        .await;
    let report = sync(&t).await;
    assert_eq!(report["groups_updated"], 1, "{report}");
    assert_eq!(members(&t, "developers").await, vec!["alice"]);
}

#[tokio::test]
async fn directory_users_and_groups_are_read_only_in_the_cli_and_console() {
    let (t, _slapd) = started().await;
    sync(&t).await;
    let out = t
        .cli(&["user", "update", "alice", "--email", "x@example.org"])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr,
        "latchkey: user \"alice\" comes from LDAP and is read-only here\n"
    );
    for args in [
        vec!["user", "disable", "bob"],
        vec!["user", "delete", "bob"],
        vec!["group", "add-member", "staff", "carol"],
        vec!["group", "delete", "staff"],
    ] {
        let out = t.cli(&args).await;
        assert_eq!(out.code, 1, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("comes from LDAP and is read-only here"),
            "{out:?}"
        );
    }

    // The console marks them and refuses to edit them.
    let mut driver = Driver::start(t.socket(), 100, 30).await;
    driver.key(KeyCode::Char('/')).await;
    driver.type_text("alice").await;
    driver.key(KeyCode::Enter).await;
    driver.key(KeyCode::Enter).await;
    let screen = driver.screen();
    assert!(
        screen.contains("From LDAP: edit it in the directory."),
        "{screen}"
    );
    assert!(screen.contains("ldap"), "{screen}");
    driver.key(KeyCode::Char('e')).await;
    let screen = driver.screen();
    assert!(
        screen.contains("alice comes from LDAP and is read-only here"),
        "{screen}"
    );
}

#[tokio::test]
async fn progress_is_pushed_and_concurrent_syncs_take_turns() {
    let (t, _slapd) = started().await;
    let watcher = t.client().await;
    watcher.call(Request::Subscribe).await.unwrap();
    let mut events = watcher.take_events().unwrap();

    // Two syncs at once: they run one after the other, so the first
    // creates everything and the second finds nothing to do.
    let (a, b) = tokio::join!(
        async { t.client().await.call(Request::LdapSync).await },
        async { t.client().await.call(Request::LdapSync).await },
    );
    let created: Vec<u64> = [a, b]
        .into_iter()
        .map(|r| match r.unwrap() {
            Response::LdapSyncReport { report } => report.created,
            other => panic!("{other:?}"),
        })
        .collect();
    let mut sorted = created.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![0, 3], "{created:?}");

    let mut phases = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while phases.iter().filter(|p| *p == "done").count() < 2 && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Some(Event::LdapSyncProgress { progress })) => phases.push(progress.phase),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    for phase in ["connecting", "users", "groups", "applying", "done"] {
        assert!(phases.iter().any(|p| p == phase), "{phase} in {phases:?}");
    }
}

#[tokio::test]
async fn sync_refuses_while_ldap_is_disabled() {
    let t = TestDaemon::start().await;
    let out = t.cli(&["ldap", "sync"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr,
        "latchkey: ldap.enabled: LDAP sync is disabled; turn it on with `latchkey config set ldap.enabled true`\n"
    );
    // The password never shows.
    t.config_set("ldap.bind_password", "hunter2").await;
    let shown = t.cli(&["config", "show", "--json"]).await;
    assert!(!shown.stdout.contains("hunter2"), "{}", shown.stdout);
    assert_eq!(shown.json()["ldap"]["bind_password"], "set");
}

/// The benchmark: 10,000 users in slapd, one sync timed. Not a timed test;
/// run it with
/// `cargo test -p latchkey-tests --test e2e -- --ignored --nocapture bench_sync_10000_users`.
/// On the 2-core dev machine (dev profile, dependencies at opt-level 1):
/// first sync 4.6 s (10,000 created), second sync 1.9 s (no change).
#[tokio::test]
#[ignore = "benchmark: loads 10,000 entries into slapd"]
async fn bench_sync_10000_users() {
    let slapd = Slapd::start().await;
    let load = Instant::now();
    slapd
        .add_users((0..10_000).map(|i| (format!("user{i:05}"), format!("user{i:05}@example.org"))))
        .await;
    println!("loaded 10,000 users into slapd in {:?}", load.elapsed());
    let t = TestDaemon::start().await;
    configure(&t, &slapd).await;
    let first = Instant::now();
    let report = sync(&t).await;
    let first = first.elapsed();
    assert_eq!(report["created"], 10_000, "{}", report["skipped"]);
    let second = Instant::now();
    let report = sync(&t).await;
    let second = second.elapsed();
    assert_eq!(report["created"], 0);
    println!("first sync of 10,000 users (all created): {first:?}");
    println!("second sync of 10,000 users (no change): {second:?}");
}

#[tokio::test]
async fn the_console_ldap_screen_syncs_now_and_shows_the_last_result() {
    let (t, _slapd) = started().await;
    let mut driver = Driver::start(t.socket(), 100, 30).await;
    // Users → Groups → Audit → Clients → Settings.
    for _ in 0..4 {
        driver.key(KeyCode::Tab).await;
    }
    driver.key(KeyCode::Char('L')).await;
    let screen = driver.screen();
    assert!(screen.contains("LDAP sync"), "{screen}");
    assert!(
        screen.contains("never since the daemon started"),
        "{screen}"
    );
    assert!(screen.contains("sync now"), "{screen}");

    // Progress events arrive while the sync runs; the console shows them.
    driver
        .event(latchkey_tui::console::AppEvent::Key(
            crossterm::event::KeyEvent::from(KeyCode::Char('s')),
        ))
        .await;
    let screen = driver.screen();
    assert!(
        screen.contains("LDAP sync done: 3 created, 0 updated, 0 disabled, 0 skipped."),
        "{screen}"
    );
    assert!(
        screen.contains("created 3 · updated 0 · enabled 0 · disabled 0 · deleted 0"),
        "{screen}"
    );
    assert!(screen.contains("groups: created 2"), "{screen}");
    driver.key(KeyCode::Esc).await;
    assert_eq!(
        driver.app.screen(),
        &latchkey_tui::console::app::Screen::Settings
    );
}

/// The sync status, once no sync is running and one has finished.
async fn finished_status(t: &TestDaemon) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = t.cli(&["ldap", "status", "--json"]).await;
        assert_eq!(out.code, 0, "ldap status: {out:?}");
        let status = out.json();
        if status["running"] == false && status["last_sync_at"].is_string() {
            return status;
        }
        assert!(Instant::now() < deadline, "no sync finished: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `ldap_sync` audit events, oldest first, as `(trigger, created)`.
async fn sync_events(t: &TestDaemon) -> Vec<(String, String)> {
    let mut events: Vec<(String, String)> = audit_events(t)
        .await
        .iter()
        .filter(|e| e["event"] == "ldap_sync")
        .map(|e| {
            let detail = |key| audit_detail(e, key).unwrap().to_owned();
            (detail("trigger"), detail("created"))
        })
        .collect();
    events.reverse();
    events
}

#[tokio::test]
async fn syncs_at_start_up_and_then_on_the_schedule_by_the_daemons_clock() {
    let (t, slapd) = started().await;
    t.config_set("ldap.sync_interval_minutes", "30").await;
    // With LDAP on, a start syncs at once.
    let t = TestDaemon::start_in(t.stop().await).await;
    finished_status(&t).await;
    assert_eq!(sync_events(&t).await, [("start-up".into(), "3".into())]);

    // The directory changes; the schedule picks it up once the interval has
    // passed on the daemon's clock (no waiting for it in real time).
    slapd
        .add_user("dave", "Dave", "Bowman", "dave@example.org")
        .await;
    t.clock.advance(time::Duration::minutes(30));
    t.daemon.wake_ldap_sync();
    let deadline = Instant::now() + Duration::from_secs(15);
    while sync_events(&t).await.len() < 2 {
        assert!(Instant::now() < deadline, "no scheduled sync");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        sync_events(&t).await,
        [
            ("start-up".into(), "3".into()),
            ("schedule".into(), "1".into())
        ]
    );
    assert_eq!(user(&t, "dave").await["source"], "ldap");
}

/// A directory over TLS with a certificate nothing trusts: seeded, and a daemon pointed at it
/// by `url` (`start_tls` for StartTLS on ldap://), LDAP on.
async fn started_over_tls(url: impl Fn(&Slapd) -> String, start_tls: bool) -> (TestDaemon, Slapd) {
    let slapd = Slapd::start_with_tls().await;
    seed(&slapd).await;
    let t = TestDaemon::start().await;
    configure(&t, &slapd).await;
    t.config_set("ldap.url", &url(&slapd)).await;
    t.config_set("ldap.start_tls", &start_tls.to_string()).await;
    (t, slapd)
}

#[tokio::test]
async fn sync_over_ldaps_and_over_starttls_works_when_told_to_skip_verification() {
    for (what, start_tls) in [("ldaps", false), ("StartTLS", true)] {
        let (t, _slapd) = started_over_tls(
            |s| if start_tls { s.url() } else { s.ldaps_url() },
            start_tls,
        )
        .await;
        // The certificate is self-signed: verification must be skipped, as an admin would.
        t.config_set("ldap.skip_cert_verify", "true").await;
        let report = sync(&t).await;
        assert_eq!(
            counts(&report),
            [3, 0, 0, 0, 0, 2, 0, 0],
            "{what}: {report}"
        );
        assert_eq!(members(&t, "staff").await, ["alice", "bob"], "{what}");
    }
}

#[tokio::test]
async fn an_untrusted_certificate_fails_the_sync_with_a_certificate_error() {
    for (what, start_tls) in [("ldaps", false), ("StartTLS", true)] {
        let (t, slapd) = started_over_tls(
            |s| if start_tls { s.url() } else { s.ldaps_url() },
            start_tls,
        )
        .await;
        let url = if start_tls {
            slapd.url()
        } else {
            slapd.ldaps_url()
        };
        let before = everything(&t).await;
        let out = t.cli(&["ldap", "sync", "--json"]).await;
        assert_eq!(out.code, 1, "{what}: {out:?}");
        let error: Value = serde_json::from_str(&out.stderr).unwrap();
        let message = error["error"]["message"].as_str().unwrap().to_owned();
        eprintln!("{what}: {message}");
        assert!(
            message.starts_with(&format!("cannot connect to {url}: ")),
            "{what}: {message}"
        );
        // The TLS library's own words: an untrusted issuer, not a connection or bind failure.
        assert!(
            message.contains("invalid peer certificate: UnknownIssuer"),
            "{what}: {message}"
        );
        // Recorded as it was said, and nothing changed.
        let events = audit_events(&t).await;
        assert_eq!(events[0]["event"], "ldap_sync_failed", "{what}");
        let recorded = events[0]["details"]
            .as_array()
            .unwrap()
            .iter()
            .find(|pair| pair[0] == "error")
            .map(|pair| pair[1].clone());
        assert_eq!(recorded, Some(Value::from(message.as_str())), "{what}");
        assert_eq!(everything(&t).await, before, "{what}");
        let status = t.cli(&["ldap", "status", "--json"]).await.json();
        assert_eq!(status["last_error"], message.as_str(), "{what}");
    }
}
