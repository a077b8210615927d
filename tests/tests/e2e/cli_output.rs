//! How the command line prints, against the real daemon: one JSON document per command (with
//! paging), the human tables and sentences, and errors and exit codes in both shapes.

use latchkey_daemon::idm::Actor;
use latchkey_protocol::NewUser;
use latchkey_tests::TestDaemon;
use latchkey_tests::redact::table_uids;

use super::console::{redacted, seed};

#[tokio::test]
async fn user_list_json_is_one_document_with_users_and_total() {
    let t = TestDaemon::start().await;
    let users = (1..=250).map(|i| NewUser {
        username: format!("user{i:06}"),
        ..NewUser::default()
    });
    t.daemon
        .idm()
        .create_users_bulk(&Actor::system(), users, 100)
        .unwrap();
    let out = t
        .cli(&["user", "list", "--offset", "100", "--limit", "2", "--json"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let doc = out.json();
    assert_eq!(doc["total"], 250);
    assert_eq!(doc["offset"], 100);
    assert_eq!(doc["users"][0]["username"], "user000101");
    assert_eq!(doc["users"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn human_output_of_show_and_the_tables() {
    let t = TestDaemon::start().await;
    seed(&t).await;
    let show = t.cli(&["user", "show", "ada.lovelace"]).await;
    assert_eq!(show.code, 0, "{show:?}");
    let users = t.cli(&["user", "list"]).await;
    let groups = t.cli(&["group", "list"]).await;
    let audit = t.cli(&["audit", "list", "--limit", "5"]).await;
    redacted().bind(|| {
        insta::assert_snapshot!("cli_user_show", show.stdout);
        insta::assert_snapshot!("cli_user_list", users.stdout);
        insta::assert_snapshot!("cli_group_list", groups.stdout);
        insta::assert_snapshot!("cli_audit_list", table_uids(&audit.stdout));
    });
}

#[tokio::test]
async fn delete_prints_a_sentence_or_ok() {
    let t = TestDaemon::start().await;
    seed(&t).await;
    let human = t.cli(&["user", "delete", "bob.builder"]).await;
    assert_eq!(human.stdout, "Deleted user bob.builder.\n");
    let machine = t.cli(&["user", "delete", "linus", "--json"]).await;
    assert_eq!(machine.json(), serde_json::json!({ "ok": true }));
}

#[tokio::test]
async fn api_errors_exit_1_with_a_readable_line_or_json() {
    let t = TestDaemon::start().await;
    seed(&t).await;
    let human = t
        .cli(&["user", "create", "--username", "ada.lovelace"])
        .await;
    assert_eq!(human.code, 1, "{human:?}");
    assert_eq!(human.stdout, "");
    assert!(
        human.stderr.starts_with("latchkey: username: "),
        "{}",
        human.stderr
    );
    assert_eq!(human.stderr.lines().count(), 1, "{}", human.stderr);

    let machine = t.cli(&["user", "show", "nobody", "--json"]).await;
    assert_eq!(machine.code, 1);
    assert_eq!(machine.stdout, "");
    let doc: serde_json::Value = serde_json::from_str(&machine.stderr).unwrap();
    assert_eq!(doc["error"]["code"], "not_found");
    assert!(doc["error"]["message"].as_str().unwrap().contains("nobody"));
    assert_eq!(doc["error"]["field"], serde_json::Value::Null);
}

#[tokio::test]
async fn an_absent_daemon_exits_3_in_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nothing.sock");
    let run = |json: bool| {
        let socket = socket.clone();
        async move {
            let mut args = vec![
                "latchkey".to_owned(),
                "--socket".to_owned(),
                socket.display().to_string(),
                "user".to_owned(),
                "list".to_owned(),
            ];
            if json {
                args.push("--json".to_owned());
            }
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let code = latchkey_tui::run_cli(
                args.into_iter().map(std::ffi::OsString::from),
                &mut out,
                &mut err,
            )
            .await;
            (code, String::from_utf8(err).unwrap())
        }
    };
    let (code, err) = run(false).await;
    assert_eq!(code, 3);
    assert!(err.contains("cannot reach latchkeyd at"), "{err}");
    assert!(err.contains(&socket.display().to_string()), "{err}");
    let (code, err) = run(true).await;
    assert_eq!(code, 3);
    let doc: serde_json::Value = serde_json::from_str(&err).unwrap();
    assert_eq!(doc["error"]["code"], "unreachable");
}
