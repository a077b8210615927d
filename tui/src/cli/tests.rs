//! Command-line tests: parsing, the request each command sends, output
//! shapes, and whole runs against a fake daemon on a real socket.

use std::ffi::OsString;
use std::path::Path;

use clap::Parser;
use latchkey_protocol::{NewUser, Request, UserPatch, UserQuery};
use serde_json::Value;

use super::args::Cli;
use super::{plan, run_cli};
use crate::testing::{FakeDirectory, serve};

fn parse(line: &str) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("latchkey").chain(line.split_whitespace()))
}

fn request(line: &str) -> Request {
    plan(parse(line).unwrap().command.unwrap()).request
}

#[test]
fn user_commands_map_to_requests() {
    assert_eq!(
        request("user list --filter ada --offset 200 --limit 50"),
        Request::ListUsers {
            query: UserQuery {
                filter: "ada".into(),
                offset: 200,
                limit: 50
            }
        }
    );
    assert_eq!(
        request("user create --username ada --email a@x.org --first-name Ada --admin"),
        Request::CreateUser {
            user: NewUser {
                username: "ada".into(),
                email: Some("a@x.org".into()),
                first_name: "Ada".into(),
                last_name: String::new(),
                display_name: None,
                is_admin: true,
            }
        }
    );
    assert_eq!(
        request("user update ada --no-email --admin false"),
        Request::UpdateUser {
            user: "ada".into(),
            patch: UserPatch {
                email: Some(None),
                is_admin: Some(false),
                ..UserPatch::default()
            }
        }
    );
    assert_eq!(
        request("user disable ada"),
        Request::SetUserDisabled {
            user: "ada".into(),
            disabled: true
        }
    );
    assert_eq!(
        request("--json group add-member staff ada"),
        Request::AddGroupMember {
            group: "staff".into(),
            user: "ada".into()
        }
    );
}

#[test]
fn global_flags_go_anywhere() {
    let cli = parse("user show ada --json --socket /tmp/x.sock").unwrap();
    assert!(cli.json);
    assert_eq!(cli.socket.as_deref(), Some(Path::new("/tmp/x.sock")));
}

#[test]
fn usage_errors_are_refused_by_the_parser() {
    // An update with nothing to change, and contradictory email flags.
    assert!(parse("user update ada").is_err());
    assert!(parse("user update ada --email a@x.org --no-email").is_err());
    assert!(parse("user update ada --admin maybe").is_err());
    assert!(parse("user create --email a@x.org").is_err());
    assert!(parse("group frobnicate").is_err());
}

#[test]
fn no_subcommand_means_console() {
    let args = ["latchkey", "--socket", "/s"].map(OsString::from);
    assert_eq!(
        super::console_requested(args),
        Some(Some(Path::new("/s").to_path_buf()))
    );
    let args = ["latchkey", "user", "list"].map(OsString::from);
    assert_eq!(super::console_requested(args), None);
}

struct Run {
    code: i32,
    out: String,
    err: String,
}

async fn run(socket: &Path, line: &str) -> Run {
    let mut args: Vec<OsString> = vec!["latchkey".into(), "--socket".into(), socket.into()];
    args.extend(line.split_whitespace().map(OsString::from));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_cli(args, &mut out, &mut err).await;
    Run {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not one JSON document ({e}): {text}"))
}

#[tokio::test]
async fn user_list_json_is_one_document_with_users_and_total() {
    let (_dir, socket, _) = serve(FakeDirectory::many(250)).await;
    let run = run(&socket, "user list --offset 100 --limit 2 --json").await;
    assert_eq!(run.code, 0, "{}", run.err);
    let doc = json(&run.out);
    assert_eq!(doc["total"], 250);
    assert_eq!(doc["offset"], 100);
    assert_eq!(doc["users"][0]["username"], "user000101");
    assert_eq!(doc["users"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn user_create_and_show_print_the_user_object() {
    let (_dir, socket, _) = serve(FakeDirectory::small()).await;
    let created = run(
        &socket,
        "user create --username zoe --email zoe@x.org --json",
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.err);
    let doc = json(&created.out);
    assert_eq!(doc["username"], "zoe");
    assert_eq!(doc["email"], "zoe@x.org");
    assert_eq!(doc["is_admin"], false);
    assert_eq!(doc["source"], "local");

    let shown = run(&socket, "user show zoe@x.org --json").await;
    assert_eq!(json(&shown.out)["id"], doc["id"]);

    let human = run(&socket, "user show ada.lovelace").await;
    insta::assert_snapshot!("cli_user_show", human.out);
}

#[tokio::test]
async fn delete_prints_ok_and_group_list_prints_groups() {
    let (_dir, socket, _) = serve(FakeDirectory::small()).await;
    let deleted = run(&socket, "user delete linus --json").await;
    assert_eq!(json(&deleted.out), serde_json::json!({ "ok": true }));
    let human = run(&socket, "user delete bob.builder").await;
    assert_eq!(human.out, "Deleted user bob.builder.\n");

    let groups = run(&socket, "group list --json").await;
    let doc = json(&groups.out);
    assert_eq!(doc["groups"][0]["name"], "admins");
    assert_eq!(doc["groups"][0]["member_count"], 2);
}

#[tokio::test]
async fn human_tables_are_aligned() {
    let (_dir, socket, _) = serve(FakeDirectory::small()).await;
    let users = run(&socket, "user list").await;
    insta::assert_snapshot!("cli_user_list", users.out);
    let groups = run(&socket, "group list").await;
    insta::assert_snapshot!("cli_group_list", groups.out);
    let audit = run(&socket, "audit list --limit 5").await;
    insta::assert_snapshot!("cli_audit_list", audit.out);
}

#[tokio::test]
async fn api_errors_exit_1_with_a_readable_line_or_json() {
    let (_dir, socket, _) = serve(FakeDirectory::small()).await;
    let human = run(&socket, "user create --username ada.lovelace").await;
    assert_eq!(human.code, 1);
    assert_eq!(human.out, "");
    assert_eq!(human.err, "latchkey: username: that username is taken\n");

    let machine = run(&socket, "user show nobody --json").await;
    assert_eq!(machine.code, 1);
    assert_eq!(machine.out, "");
    let doc = json(&machine.err);
    assert_eq!(doc["error"]["code"], "not_found");
    assert_eq!(doc["error"]["message"], "no user nobody");
    assert_eq!(doc["error"]["field"], Value::Null);
}

#[tokio::test]
async fn an_absent_daemon_exits_3_and_names_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nothing.sock");
    let human = run(&socket, "user list").await;
    assert_eq!(human.code, 3);
    assert!(
        human.err.contains("cannot reach latchkeyd at"),
        "{}",
        human.err
    );
    assert!(human.err.contains("nothing.sock"), "{}", human.err);
    assert!(human.err.contains("latchkeyd"), "{}", human.err);

    let machine = run(&socket, "user list --json").await;
    assert_eq!(machine.code, 3);
    assert_eq!(json(&machine.err)["error"]["code"], "unreachable");
}

#[tokio::test]
async fn usage_errors_exit_2_and_help_exits_0() {
    let socket = Path::new("/nonexistent.sock");
    let bad = run(socket, "user update ada").await;
    assert_eq!(bad.code, 2);
    assert!(bad.err.contains("Usage"), "{}", bad.err);
    let none = run(socket, "").await;
    assert_eq!(none.code, 2);
    let help = run(socket, "user --help").await;
    assert_eq!(help.code, 0);
    assert!(help.out.contains("create"));
}
