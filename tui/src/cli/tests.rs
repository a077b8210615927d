//! Command-line tests: parsing, the request each command sends, output
//! shapes from plain data, and runs that end before connecting. Runs
//! against the daemon are end-to-end tests (`tests/tests/e2e/cli*.rs`).

use std::ffi::OsString;
use std::path::Path;

use clap::Parser;
use latchkey_protocol::{
    LoginCodeCreated, NewLoginCode, NewUser, Request, Response, SettingView, SettingsView,
    UserPatch, UserQuery,
};
use serde_json::{Value, json};
use time::macros::datetime;

use super::args::Cli;
use super::output::render;
use super::{plan, run_cli};

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

/// Runs the command line in-process. Only for runs that end before any
/// connection (usage errors, help): everything that talks to a daemon is
/// tested against the real one in `tests/tests/e2e/`.
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

#[test]
fn access_commands_map_to_requests() {
    assert_eq!(
        request("login-code create ada --expires 12h --email"),
        Request::CreateLoginCode {
            code: NewLoginCode {
                user: "ada".into(),
                expires_in_secs: 12 * 3600,
                send_email: true,
            }
        }
    );
    assert_eq!(
        request("login-code create ada"),
        Request::CreateLoginCode {
            code: NewLoginCode {
                user: "ada".into(),
                expires_in_secs: 3600,
                send_email: false,
            }
        }
    );
    assert_eq!(
        request("login-code revoke ada lc-1"),
        Request::RevokeLoginCode {
            user: "ada".into(),
            id: "lc-1".into()
        }
    );
    assert_eq!(
        request("passkey revoke ada cred-1"),
        Request::RevokePasskey {
            user: "ada".into(),
            id: "cred-1".into()
        }
    );
    assert_eq!(
        request("session list ada"),
        Request::ListSessions { user: "ada".into() }
    );
    assert_eq!(request("config show --json"), Request::GetSettings);
    assert_eq!(
        request("config set session.minutes 30"),
        Request::SetSetting {
            key: "session.minutes".into(),
            value: "30".into()
        }
    );
}

#[tokio::test]
async fn a_bad_expiry_is_a_usage_error_that_says_why() {
    let socket = Path::new("/nonexistent.sock");
    let bad = run(socket, "login-code create ada --expires 32d").await;
    assert_eq!(bad.code, 2);
    assert!(bad.err.contains("31 days"), "{}", bad.err);
    let bad = run(socket, "login-code create ada --expires soon").await;
    assert_eq!(bad.code, 2);
    assert!(bad.err.contains("90min"), "{}", bad.err);
}

#[test]
fn a_login_code_prints_link_code_expiry_and_a_qr_code() {
    let code = LoginCodeCreated {
        id: "lc-1".into(),
        url: "http://localhost:1411/lc/K7QD-M2XH-9PRT-WC4A".into(),
        code: "K7QD-M2XH-9PRT-WC4A".into(),
        expires_at: datetime!(2026-11-23 09:00:00 UTC),
        emailed: false,
    };
    let rendered = render(
        &Response::LoginCode { code },
        Some("Login code for ada:".into()),
    );
    assert_eq!(
        rendered.json,
        json!({
            "id": "lc-1",
            "url": "http://localhost:1411/lc/K7QD-M2XH-9PRT-WC4A",
            "code": "K7QD-M2XH-9PRT-WC4A",
            "expires_at": "2026-11-23T09:00:00Z",
            "emailed": false,
        })
    );
    insta::assert_snapshot!("cli_login_code", rendered.human);
}

#[test]
fn settings_print_secrets_as_set_or_unset_and_json_nested() {
    let setting = |key: &str, value: Value, write_only: bool| SettingView {
        key: key.into(),
        value,
        default: Value::Null,
        kind: "text".into(),
        description: format!("about {key}"),
        write_only,
        warning: None,
    };
    let mut uv = setting("passkeys.user_verification", json!("preferred"), false);
    uv.warning = Some("lowers security".into());
    let settings = SettingsView {
        settings: vec![
            setting("app.name", json!("Latchkey"), false),
            setting("session.minutes", json!(60), false),
            uv,
            setting("signups.default_groups", json!(["staff", "wiki"]), false),
            setting("smtp.password", json!("set"), true),
            setting("ldap.bind_password", Value::Null, true),
        ],
    };
    let rendered = render(&Response::Settings { settings }, None);
    assert_eq!(rendered.json["session"]["minutes"], 60);
    assert_eq!(rendered.json["app"]["name"], "Latchkey");
    insta::assert_snapshot!("cli_config_show", rendered.human);
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
