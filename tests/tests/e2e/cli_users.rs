//! The scriptable `latchkey user|group|audit|passkey|session` commands against a live daemon.

use latchkey_tests::TestDaemon;

#[tokio::test]
async fn create_then_list_shows_the_user() {
    let t = TestDaemon::start().await;
    let created = t
        .cli(&[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--json",
        ])
        .await;
    assert_eq!(created.code, 0, "{created:?}");
    let alice = created.json();
    assert_eq!(alice["username"], "alice");
    assert_eq!(alice["email"], "alice@example.com");
    assert_eq!(alice["is_admin"], false);
    assert_eq!(alice["disabled"], false);
    assert_eq!(alice["source"], "local");
    assert!(alice["id"].as_str().is_some_and(|id| id.len() == 36));

    let listed = t.cli(&["user", "list", "--json"]).await;
    assert_eq!(listed.code, 0, "{listed:?}");
    let listed = listed.json();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["users"][0]["username"], "alice");
    assert_eq!(listed["users"][0]["id"], alice["id"]);

    // USER may be a username, an email or an id.
    for key in ["ALICE", "Alice@Example.com", alice["id"].as_str().unwrap()] {
        let shown = t.cli(&["user", "show", key, "--json"]).await;
        assert_eq!(shown.code, 0, "{shown:?}");
        assert_eq!(shown.json()["id"], alice["id"]);
    }
}

#[tokio::test]
async fn a_username_differing_only_in_case_is_refused_and_nothing_is_written() {
    let t = TestDaemon::start().await;
    let first = t
        .cli(&["user", "create", "--username", "Alice", "--json"])
        .await;
    assert_eq!(first.code, 0, "{first:?}");
    let second = t
        .cli(&[
            "user",
            "create",
            "--username",
            "aLICE",
            "--email",
            "x@example.com",
            "--json",
        ])
        .await;
    assert_eq!(second.code, 1, "{second:?}");
    let err: serde_json::Value = serde_json::from_str(&second.stderr).unwrap();
    assert_eq!(err["error"]["code"], "conflict");
    assert_eq!(err["error"]["field"], "username");
    // The failed create left neither a user nor its email index behind.
    let listed = t.cli(&["user", "list", "--json"]).await.json();
    assert_eq!(listed["total"], 1);
    let other = t
        .cli(&[
            "user",
            "create",
            "--username",
            "bob",
            "--email",
            "x@example.com",
            "--json",
        ])
        .await;
    assert_eq!(other.code, 0, "{other:?}");
}

#[tokio::test]
async fn invalid_input_names_the_field() {
    let t = TestDaemon::start().await;
    let cases: &[(&[&str], &str)] = &[
        (&["--username", ".alice"], "username"),
        (&["--username", "al ice"], "username"),
        (&["--username", &"a".repeat(51)], "username"),
        (
            &["--username", "alice", "--email", "not-an-address"],
            "email",
        ),
        (&["--username", "alice", "--email", "a@b"], "email"),
    ];
    for (args, field) in cases {
        let mut argv = vec!["user", "create", "--json"];
        argv.extend_from_slice(args);
        let out = t.cli(&argv).await;
        assert_eq!(out.code, 1, "{args:?}: {out:?}");
        let err: serde_json::Value = serde_json::from_str(&out.stderr).unwrap();
        assert_eq!(err["error"]["code"], "invalid_input", "{args:?}");
        assert_eq!(err["error"]["field"], *field, "{args:?}");
    }
    assert_eq!(t.cli(&["user", "list", "--json"]).await.json()["total"], 0);
}

#[tokio::test]
async fn missing_users_are_not_found() {
    let t = TestDaemon::start().await;
    for argv in [
        &["user", "show", "ghost", "--json"][..],
        &["user", "update", "ghost", "--first-name", "G", "--json"],
        &["user", "disable", "ghost", "--json"],
        &["user", "delete", "ghost", "--json"],
    ] {
        let out = t.cli(argv).await;
        assert_eq!(out.code, 1, "{argv:?}: {out:?}");
        let err: serde_json::Value = serde_json::from_str(&out.stderr).unwrap();
        assert_eq!(err["error"]["code"], "not_found", "{argv:?}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains("ghost"),
            "{argv:?}: {err}"
        );
    }
}

#[tokio::test]
async fn update_disable_enable_delete_and_the_audit_trail() {
    let t = TestDaemon::start().await;
    t.cli(&["user", "create", "--username", "carol", "--json"])
        .await;
    let updated = t
        .cli(&[
            "user",
            "update",
            "carol",
            "--first-name",
            "Carol",
            "--last-name",
            "Danvers",
            "--admin",
            "true",
            "--json",
        ])
        .await;
    assert_eq!(updated.code, 0, "{updated:?}");
    let carol = updated.json();
    assert_eq!(carol["display_name"], "Carol Danvers");
    assert_eq!(carol["is_admin"], true);

    let disabled = t.cli(&["user", "disable", "carol", "--json"]).await.json();
    assert_eq!(disabled["disabled"], true);
    let enabled = t.cli(&["user", "enable", "carol", "--json"]).await.json();
    assert_eq!(enabled["disabled"], false);

    let audit = t.cli(&["audit", "list", "--user", "carol", "--json"]).await;
    assert_eq!(audit.code, 0, "{audit:?}");
    let events: Vec<String> = audit.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        events,
        [
            "user_enabled",
            "user_disabled",
            "user_updated",
            "user_created"
        ]
    );

    let deleted = t.cli(&["user", "delete", "carol", "--json"]).await;
    assert_eq!(deleted.code, 0, "{deleted:?}");
    assert_eq!(t.cli(&["user", "list", "--json"]).await.json()["total"], 0);
}

#[tokio::test]
async fn groups_and_members() {
    let t = TestDaemon::start().await;
    t.cli(&["user", "create", "--username", "dave", "--json"])
        .await;
    let created = t
        .cli(&[
            "group",
            "create",
            "staff",
            "--friendly-name",
            "Staff",
            "--json",
        ])
        .await;
    assert_eq!(created.code, 0, "{created:?}");
    let added = t
        .cli(&["group", "add-member", "staff", "dave", "--json"])
        .await;
    assert_eq!(added.code, 0, "{added:?}");
    assert_eq!(added.json()["members"][0]["username"], "dave");
    let dave = t.cli(&["user", "show", "dave", "--json"]).await.json();
    assert_eq!(dave["groups"], serde_json::json!(["staff"]));

    let dup = t.cli(&["group", "create", "staff", "--json"]).await;
    assert_eq!(dup.code, 1, "{dup:?}");

    let list = t.cli(&["group", "list", "--json"]).await.json();
    assert_eq!(list["groups"][0]["member_count"], 1);

    // Deleting a user takes them out of their groups.
    t.cli(&["user", "delete", "dave", "--json"]).await;
    let list = t.cli(&["group", "list", "--json"]).await.json();
    assert_eq!(list["groups"][0]["member_count"], 0);
    let gone = t.cli(&["group", "delete", "staff", "--json"]).await;
    assert_eq!(gone.code, 0, "{gone:?}");
}

#[tokio::test]
async fn passkeys_and_sessions_of_a_new_user_are_empty() {
    let t = TestDaemon::start().await;
    t.cli(&["user", "create", "--username", "linus"]).await;
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
