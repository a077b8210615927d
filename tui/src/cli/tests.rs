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

#[test]
fn client_commands_map_to_requests() {
    use latchkey_protocol::{ClientPatch, NewClient, TokenLifetimes};
    assert_eq!(
        request(
            "client create --name Grafana --redirect-uri https://g.example/cb https://g2.example/cb \
             --logout-uri https://g.example/bye --require-pkce --group staff --group ops \
             --code-lifetime 5m --access-token-lifetime 2h --refresh-token-lifetime 7d \
             --refresh-max-lifetime 60d --json"
        ),
        Request::CreateClient {
            client: NewClient {
                name: "Grafana".into(),
                redirect_uris: vec![
                    "https://g.example/cb".into(),
                    "https://g2.example/cb".into()
                ],
                logout_redirect_uris: vec!["https://g.example/bye".into()],
                public: false,
                require_pkce: true,
                require_par: false,
                skip_consent: false,
                allow_wildcard_redirects: false,
                allowed_groups: vec!["staff".into(), "ops".into()],
                lifetimes: TokenLifetimes {
                    code_secs: Some(300),
                    access_token_secs: Some(7200),
                    refresh_token_secs: Some(7 * 86_400),
                    refresh_max_secs: Some(60 * 86_400),
                },
            }
        }
    );
    assert_eq!(
        request(
            "client update abc --access-token-lifetime default --refresh-max-lifetime 30d \
             --all-users --no-logout-uris"
        ),
        Request::UpdateClient {
            client_id: "abc".into(),
            patch: ClientPatch {
                logout_redirect_uris: Some(vec![]),
                allowed_groups: Some(vec![]),
                lifetimes: Some(TokenLifetimes {
                    access_token_secs: Some(0),
                    refresh_max_secs: Some(30 * 86_400),
                    ..TokenLifetimes::default()
                }),
                ..ClientPatch::default()
            }
        }
    );
    assert_eq!(
        request("client rotate-secret abc"),
        Request::RotateClientSecret {
            client_id: "abc".into()
        }
    );
    assert_eq!(request("key list"), Request::ListSigningKeys);
    assert_eq!(
        request("key rotate --alg es256"),
        Request::RotateSigningKey {
            alg: Some("es256".into())
        }
    );
    assert_eq!(
        request("user revoke-authorization ada abc"),
        Request::RevokeAuthorization {
            user: "ada".into(),
            client_id: "abc".into()
        }
    );
    // Usage errors: no redirect URI, an update with nothing to change, a bad
    // duration or algorithm.
    assert!(parse("client create --name X").is_err());
    assert!(parse("client update abc").is_err());
    assert!(
        parse("client create --name X --redirect-uri https://a/ --code-lifetime soon").is_err()
    );
    assert!(parse("key rotate --alg HS256").is_err());
    assert!(parse("claims show robot alice").is_err());
}

#[test]
fn claims_take_json_or_bare_strings() {
    use latchkey_protocol::ClaimOwner;
    let Request::SetClaims { owner, claims } =
        request(r#"claims set group staff level=3 team=ops tags=["a","b"] flag=true x== empty="#)
    else {
        panic!("not SetClaims");
    };
    assert_eq!(owner, ClaimOwner::Group("staff".into()));
    assert_eq!(
        claims,
        vec![
            ("level".to_owned(), json!(3)),
            ("team".to_owned(), json!("ops")),
            ("tags".to_owned(), json!(["a", "b"])),
            ("flag".to_owned(), json!(true)),
            ("x".to_owned(), json!("=")),
            ("empty".to_owned(), json!("")),
        ]
    );
    assert!(parse("claims set user ada novalue").is_err());
    assert!(parse("claims set user ada =1").is_err());
    assert_eq!(
        request("claims show user ada"),
        Request::GetClaims {
            owner: ClaimOwner::User("ada".into())
        }
    );
}

#[test]
fn lifetimes_parse_with_units() {
    use super::args::lifetime;
    assert_eq!(lifetime("90"), Ok(90));
    assert_eq!(lifetime("90s"), Ok(90));
    assert_eq!(lifetime("10m"), Ok(600));
    assert_eq!(lifetime("10min"), Ok(600));
    assert_eq!(lifetime("2h"), Ok(7200));
    assert_eq!(lifetime("30d"), Ok(30 * 86_400));
    for bad in ["", "m", "1w", "1.5h", "-1h", "99999999999999999999d"] {
        assert!(lifetime(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_new_client_prints_its_secret_once_with_a_warning() {
    use latchkey_protocol::{ClientView, ClientWithSecret, TokenLifetimes};
    let client = ClientView {
        client_id: "abcdefghijklmnopqrstuvwx".into(),
        name: "Grafana".into(),
        redirect_uris: vec!["https://grafana.example.com/login/generic_oauth".into()],
        logout_redirect_uris: vec![],
        public: false,
        require_pkce: false,
        require_par: false,
        skip_consent: true,
        allow_wildcard_redirects: false,
        allowed_groups: vec!["staff".into()],
        lifetimes: TokenLifetimes {
            access_token_secs: Some(300),
            ..TokenLifetimes::default()
        },
        created_at: datetime!(2026-11-23 09:00:00 UTC),
    };
    let response = Response::ClientWithSecret {
        client: ClientWithSecret {
            client: client.clone(),
            client_secret: Some("s3cr3t-s3cr3t".into()),
        },
    };
    let note = plan(
        parse("client rotate-secret abcdefghijklmnopqrstuvwx")
            .unwrap()
            .command
            .unwrap(),
    )
    .note;
    let rendered = render(&response, note);
    // The sentence names the client asked about, and the details are that
    // client's.
    assert!(
        rendered
            .human
            .starts_with("New secret for client abcdefghijklmnopqrstuvwx."),
        "{}",
        rendered.human
    );
    assert_eq!(rendered.json["client_id"], "abcdefghijklmnopqrstuvwx");
    assert_eq!(rendered.json["client_secret"], "s3cr3t-s3cr3t");
    insta::assert_snapshot!("cli_client_secret", rendered.human);
    let shown = render(&Response::Client { client }, None);
    assert!(shown.json.get("client_secret").is_none());
    assert!(!shown.human.contains("s3cr3t"));
}

#[test]
fn the_mail_queue_reads_as_lines_for_people() {
    let status = latchkey_protocol::MailStatusView {
        configured: true,
        queued: 1200,
        retrying: 1,
        failed: 0,
        last_error: Some("Connection refused".into()),
        last_sent_at: None,
    };
    let rendered = render(&Response::MailStatus { status }, None);
    assert_eq!(rendered.json["queued"], 1200);
    assert_eq!(
        rendered.human,
        "configured: yes\nqueued:     1,200\nretrying:   1\nfailed:     0\nlast sent:  never\nlast error: Connection refused\n"
    );
}
