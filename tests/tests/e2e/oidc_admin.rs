//! OpenID Connect administration from the command line against the real
//! daemon: clients (the secret shown only at creation and rotation), signing
//! keys, custom claims and authorizations, and how bad input is refused.

use latchkey_tests::TestDaemon;
use serde_json::{Value, json};

use super::console::seed;

async fn create_client(t: &TestDaemon, extra: &[&str]) -> Value {
    let mut args = vec![
        "client",
        "create",
        "--name",
        "Grafana",
        "--redirect-uri",
        "https://grafana.example.com/login/generic_oauth",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = t.cli(&args).await;
    assert_eq!(out.code, 0, "{out:?}");
    out.json()
}

#[tokio::test]
async fn client_create_prints_id_and_secret_once_and_list_show_never_do() {
    let t = TestDaemon::start().await;
    let created = create_client(&t, &[]).await;
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 24);
    assert_eq!(secret.len(), 43);
    assert_eq!(created["name"], "Grafana");
    assert_eq!(created["public"], false);

    let list = t.cli(&["client", "list", "--json"]).await;
    assert_eq!(list.code, 0, "{list:?}");
    assert_eq!(list.json()["clients"][0]["client_id"], id.as_str());
    let show = t.cli(&["client", "show", &id, "--json"]).await;
    assert_eq!(show.code, 0, "{show:?}");
    assert!(show.json().get("client_secret").is_none());
    for out in [
        &list,
        &show,
        &t.cli(&["client", "list"]).await,
        &t.cli(&["client", "show", &id]).await,
    ] {
        assert!(!out.stdout.contains(&secret), "{}", out.stdout);
        assert!(!out.stdout.contains("client_secret"), "{}", out.stdout);
    }
    let human = t.cli(&["client", "list"]).await;
    assert!(human.stdout.contains("Grafana"), "{}", human.stdout);
    assert!(human.stdout.contains("confidential"), "{}", human.stdout);

    // The secret authenticates the client; nothing else does.
    let oidc = t.daemon.oidc();
    assert!(oidc.authenticate_client(&id, &secret).unwrap().is_some());
    assert!(oidc.authenticate_client(&id, "guess").unwrap().is_none());
}

#[tokio::test]
async fn rotate_secret_changes_it_and_delete_removes_the_client() {
    let t = TestDaemon::start().await;
    let created = create_client(&t, &[]).await;
    let id = created["client_id"].as_str().unwrap();
    let old = created["client_secret"].as_str().unwrap();

    let rotated = t.cli(&["client", "rotate-secret", id, "--json"]).await;
    assert_eq!(rotated.code, 0, "{rotated:?}");
    let new = rotated.json()["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let oidc = t.daemon.oidc();
    assert!(oidc.authenticate_client(id, old).unwrap().is_none());
    assert!(oidc.authenticate_client(id, &new).unwrap().is_some());

    let human = t.cli(&["client", "rotate-secret", id]).await;
    assert!(human.stdout.contains("not shown again"), "{}", human.stdout);
    assert!(human.stdout.contains("client secret:"), "{}", human.stdout);

    let deleted = t.cli(&["client", "delete", id]).await;
    assert_eq!(deleted.code, 0, "{deleted:?}");
    assert!(
        deleted.stdout.starts_with("Deleted client"),
        "{}",
        deleted.stdout
    );
    let gone = t.cli(&["client", "show", id, "--json"]).await;
    assert_eq!(gone.code, 1);
    let doc: Value = serde_json::from_str(&gone.stderr).unwrap();
    assert_eq!(doc["error"]["code"], "not_found");
    let list = t.cli(&["client", "list", "--json"]).await;
    assert_eq!(list.json(), json!({ "clients": [] }));

    let audit = t.cli(&["audit", "list", "--json"]).await;
    let events: Vec<String> = audit.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    for event in ["client_created", "client_secret_rotated", "client_deleted"] {
        assert!(events.contains(&event.to_owned()), "{event}: {events:?}");
    }
}

#[tokio::test]
async fn public_clients_update_and_group_restrictions() {
    let t = TestDaemon::start().await;
    seed(&t).await;
    let created = create_client(
        &t,
        &[
            "--public",
            "--group",
            "navy",
            "--access-token-lifetime",
            "5m",
        ],
    )
    .await;
    assert_eq!(created["client_secret"], Value::Null);
    assert_eq!(created["allowed_groups"], json!(["navy"]));
    assert_eq!(created["lifetimes"], json!({ "access_token_secs": 300 }));
    let id = created["client_id"].as_str().unwrap();
    let rotate = t.cli(&["client", "rotate-secret", id]).await;
    assert_eq!(rotate.code, 1);
    assert!(rotate.stderr.contains("public client"), "{}", rotate.stderr);

    let updated = t
        .cli(&[
            "client",
            "update",
            id,
            "--name",
            "Grafana 2",
            "--skip-consent",
            "true",
            "--all-users",
            "--code-lifetime",
            "2m",
            "--json",
        ])
        .await;
    assert_eq!(updated.code, 0, "{updated:?}");
    let doc = updated.json();
    assert_eq!(doc["name"], "Grafana 2");
    assert_eq!(doc["skip_consent"], true);
    assert_eq!(doc["allowed_groups"], json!([]));
    assert_eq!(
        doc["lifetimes"],
        json!({ "code_secs": 120, "access_token_secs": 300 })
    );
}

#[tokio::test]
async fn bad_client_input_is_refused_with_the_field() {
    let t = TestDaemon::start().await;
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["--redirect-uri", "http://grafana.example.com/cb"],
            "redirect_uris",
            "must use https",
        ),
        (
            &["--redirect-uri", "https://grafana.example.com/cb#x"],
            "redirect_uris",
            "fragment",
        ),
        (
            &["--redirect-uri", "https://*.example.com/cb"],
            "redirect_uris",
            "wildcard",
        ),
        (
            &[
                "--redirect-uri",
                "https://a.example.com/cb",
                "--group",
                "nosuch",
            ],
            "allowed_groups",
            "does not exist",
        ),
        (
            &[
                "--redirect-uri",
                "https://a.example.com/cb",
                "--code-lifetime",
                "2h",
            ],
            "code_lifetime",
            "between 1 minute and 1 hour",
        ),
        (
            &[
                "--redirect-uri",
                "https://a.example.com/cb",
                "--refresh-token-lifetime",
                "400d",
            ],
            "refresh_token_lifetime",
            "365 days",
        ),
    ];
    for (extra, field, text) in cases {
        let mut args = vec!["client", "create", "--name", "X"];
        args.extend_from_slice(extra);
        let out = t.cli(&args).await;
        assert_eq!(out.code, 1, "{args:?}: {out:?}");
        assert!(
            out.stderr.starts_with(&format!("latchkey: {field}: ")),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(text), "{args:?}: {}", out.stderr);
    }
    // Wildcards work where allowed.
    let ok = t
        .cli(&[
            "client",
            "create",
            "--name",
            "Previews",
            "--redirect-uri",
            "https://*.preview.example.com/cb",
            "--allow-wildcard-redirects",
        ])
        .await;
    assert_eq!(ok.code, 0, "{ok:?}");
    let list = t.cli(&["client", "list", "--json"]).await;
    assert_eq!(list.json()["clients"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn key_rotate_keeps_the_previous_key_published() {
    let t = TestDaemon::start().await;
    let before = t.cli(&["key", "list", "--json"]).await;
    assert_eq!(before.code, 0, "{before:?}");
    let keys = before.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["state"], "active");
    let token = t
        .daemon
        .oidc()
        .keys()
        .sign_jwt(None, &json!({ "sub": "x" }))
        .unwrap();

    let rotated = t.cli(&["key", "rotate", "--alg", "ES256", "--json"]).await;
    assert_eq!(rotated.code, 0, "{rotated:?}");
    let keys = rotated.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["alg"], "ES256");
    assert_eq!(keys[0]["state"], "active");
    assert_eq!(keys[1]["state"], "previous");
    assert!(keys[1]["retire_at"].is_string());

    let keys_set = t.daemon.oidc().keys();
    let jwks: Value = serde_json::from_slice(&keys_set.jwks_json()).unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        kids,
        [
            keys[0]["kid"].as_str().unwrap(),
            keys[1]["kid"].as_str().unwrap()
        ]
    );
    // A token signed before the rotation still verifies.
    assert_eq!(keys_set.verify_jwt(&token).unwrap()["sub"], "x");

    let human = t.cli(&["key", "list"]).await;
    assert!(human.stdout.contains("ES256"), "{}", human.stdout);
    assert!(human.stdout.contains("previous"), "{}", human.stdout);
    let bad = t.cli(&["key", "rotate", "--alg", "HS256"]).await;
    assert_eq!(bad.code, 2, "{bad:?}");
}

#[tokio::test]
async fn claims_set_and_show_and_reserved_names_refused() {
    let t = TestDaemon::start().await;
    seed(&t).await;
    let set = t
        .cli(&[
            "claims",
            "set",
            "user",
            "ada.lovelace",
            "team=analytics",
            "level=3",
            r#"tags=["a","b"]"#,
            "--json",
        ])
        .await;
    assert_eq!(set.code, 0, "{set:?}");
    let expected = json!({ "claims": { "team": "analytics", "level": 3, "tags": ["a", "b"] } });
    assert_eq!(set.json(), expected);
    let show = t
        .cli(&["claims", "show", "user", "ada.lovelace", "--json"])
        .await;
    assert_eq!(show.json(), expected);
    let human = t.cli(&["claims", "show", "user", "ada.lovelace"]).await;
    assert_eq!(
        human.stdout,
        "team=\"analytics\"\nlevel=3\ntags=[\"a\",\"b\"]\n"
    );

    let group = t.cli(&["claims", "set", "group", "navy", "dept=eng"]).await;
    assert_eq!(group.code, 0, "{group:?}");
    let reserved = t
        .cli(&["claims", "set", "user", "ada.lovelace", "sub=x"])
        .await;
    assert_eq!(reserved.code, 1);
    assert!(
        reserved.stderr.starts_with("latchkey: claims: ") && reserved.stderr.contains("reserved"),
        "{}",
        reserved.stderr
    );
    let missing = t.cli(&["claims", "show", "group", "nosuch"]).await;
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("nosuch"), "{}", missing.stderr);
    // Setting nothing clears them.
    let cleared = t.cli(&["claims", "set", "user", "ada.lovelace"]).await;
    assert_eq!(cleared.code, 0, "{cleared:?}");
    let show = t.cli(&["claims", "show", "user", "ada.lovelace"]).await;
    assert_eq!(show.stdout, "No custom claims.\n");
}

#[tokio::test]
async fn user_authorizations_list_and_revoke() {
    let t = TestDaemon::start().await;
    seed(&t).await;
    let created = create_client(&t, &[]).await;
    let id = created["client_id"].as_str().unwrap();
    let oidc = t.daemon.oidc();
    let user = t.daemon.idm().get_user("ada.lovelace").unwrap().user;
    let scopes = vec!["openid".to_owned(), "profile".to_owned()];
    oidc.grant_consent(
        &latchkey_daemon::idm::Actor::system(),
        user.id,
        id,
        &scopes,
        latchkey_daemon::idm::oidc::ConsentGiven::Asked,
    )
    .unwrap();

    let list = t
        .cli(&["user", "authorizations", "ada.lovelace", "--json"])
        .await;
    assert_eq!(list.code, 0, "{list:?}");
    let doc = list.json();
    assert_eq!(doc["authorizations"][0]["client_id"], id);
    assert_eq!(doc["authorizations"][0]["client_name"], "Grafana");
    assert_eq!(
        doc["authorizations"][0]["scopes"],
        json!(["openid", "profile"])
    );
    let human = t.cli(&["user", "authorizations", "ada.lovelace"]).await;
    assert!(human.stdout.contains("openid profile"), "{}", human.stdout);

    let revoke = t
        .cli(&["user", "revoke-authorization", "ada.lovelace", id])
        .await;
    assert_eq!(revoke.code, 0, "{revoke:?}");
    assert_eq!(oidc.consent(user.id, id).unwrap(), None);
    let again = t
        .cli(&["user", "revoke-authorization", "ada.lovelace", id])
        .await;
    assert_eq!(again.code, 1);
    let empty = t.cli(&["user", "authorizations", "ada.lovelace"]).await;
    assert_eq!(empty.stdout, "No authorized apps.\n");
}

// --- the console's Clients tab ---

mod console {
    use crossterm::event::KeyCode;
    use latchkey_tests::TestDaemon;
    use latchkey_tui::console::Driver;
    use latchkey_tui::console::app::{Modal, Screen};

    use super::super::console::redacted;

    const W: u16 = 100;
    const H: u16 = 30;

    /// Also hides client ids, secrets, key ids and times, which are random
    /// or moving.
    fn redacted_oidc() -> insta::Settings {
        let mut settings = redacted();
        settings.add_filter(r"\b[a-z2-7]{24}\b", "[client id]");
        // Not `\b`: a base64url secret may start or end with `-`, which is no word character.
        settings.add_filter(
            r"(^|[^A-Za-z0-9_-])[A-Za-z0-9_-]{43}([^A-Za-z0-9_-]|$)",
            "${1}[secret or kid]${2}",
        );
        settings.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "[time]");
        settings.add_filter(r"kid [A-Za-z0-9_-]{12}…", "kid [kid]…");
        settings
    }

    async fn open_clients(t: &TestDaemon) -> Driver {
        let mut driver = Driver::start(t.socket(), W, H).await;
        for _ in 0..3 {
            driver.key(KeyCode::Tab).await;
        }
        assert_eq!(driver.app.screen(), &Screen::Clients);
        driver
    }

    #[tokio::test]
    async fn require_pushed_requests_from_the_console() {
        let t = TestDaemon::start().await;
        let created = t
            .cli(&[
                "client",
                "create",
                "--name",
                "Wiki",
                "--redirect-uri",
                "https://wiki.example.com/cb",
                "--json",
            ])
            .await;
        assert_eq!(created.code, 0, "{created:?}");
        let client_id = created.json()["client_id"].as_str().unwrap().to_owned();
        let mut driver = open_clients(&t).await;
        driver.key(KeyCode::Char('e')).await;
        // Name, redirect URIs, logout URIs, Require PKCE, then Require PAR.
        for _ in 0..4 {
            driver.key(KeyCode::Tab).await;
        }
        let form = driver.screen();
        assert!(form.contains("Require PAR"), "{form}");
        driver.key(KeyCode::Char(' ')).await;
        driver.key(KeyCode::Enter).await;
        assert!(driver.app.modal().is_none(), "{}", driver.screen());
        let shown = t.cli(&["client", "show", &client_id, "--json"]).await;
        assert_eq!(shown.json()["require_par"], true, "{shown:?}");
        assert_eq!(shown.json()["require_pkce"], false, "{shown:?}");
    }

    #[tokio::test]
    async fn create_a_client_see_its_secret_once_then_rotate_and_delete() {
        let t = TestDaemon::start().await;
        let mut driver = open_clients(&t).await;
        let empty = driver.screen();
        assert!(empty.contains("No clients yet"), "{empty}");
        assert!(empty.contains("RS256"), "{empty}");

        driver.key(KeyCode::Char('n')).await;
        driver.type_text("Grafana").await;
        driver.key(KeyCode::Tab).await;
        // A bad redirect URI comes back under its field.
        driver.type_text("http://grafana.example.com/cb").await;
        driver.key(KeyCode::Enter).await;
        let Some(Modal::Form(form)) = driver.app.modal() else {
            panic!("the form closed:\n{}", driver.screen());
        };
        assert!(
            form.error
                .as_ref()
                .is_some_and(|e| e.message.contains("https")),
            "{}",
            driver.screen()
        );
        for _ in 0.."http://grafana.example.com/cb".len() {
            driver.key(KeyCode::Backspace).await;
        }
        driver
            .type_text("https://grafana.example.com/login/generic_oauth")
            .await;
        driver.key(KeyCode::Enter).await;
        let Some(Modal::Secret(shown)) = driver.app.modal() else {
            panic!("no secret shown:\n{}", driver.screen());
        };
        let secret = shown.secret.clone().unwrap();
        let client_id = shown.client_id.clone();
        let dialog = driver.screen();
        assert!(dialog.contains(&secret), "{dialog}");
        assert!(dialog.contains("never shown again"), "{dialog}");
        redacted_oidc().bind(|| insta::assert_snapshot!("console_client_secret", dialog));

        // A stray key does not close it; Enter does, and the secret is gone.
        driver.key(KeyCode::Char('x')).await;
        assert!(matches!(driver.app.modal(), Some(Modal::Secret(_))));
        driver.key(KeyCode::Enter).await;
        assert!(driver.app.modal().is_none());
        let list = driver.screen();
        assert!(!list.contains(&secret), "{list}");
        assert!(list.contains(&client_id), "{list}");
        redacted_oidc().bind(|| insta::assert_snapshot!("console_clients", list));

        // Rotate: confirm, then the new secret, which works.
        driver.key(KeyCode::Char('s')).await;
        assert!(matches!(driver.app.modal(), Some(Modal::Confirm(_))));
        driver.key(KeyCode::Char('y')).await;
        let Some(Modal::Secret(rotated)) = driver.app.modal() else {
            panic!("no new secret:\n{}", driver.screen());
        };
        let new = rotated.secret.clone().unwrap();
        assert_ne!(new, secret);
        let oidc = t.daemon.oidc();
        assert!(
            oidc.authenticate_client(&client_id, &new)
                .unwrap()
                .is_some()
        );
        assert!(
            oidc.authenticate_client(&client_id, &secret)
                .unwrap()
                .is_none()
        );
        driver.key(KeyCode::Esc).await;

        // Delete needs the name typed exactly.
        driver.key(KeyCode::Char('D')).await;
        driver.type_text("grafana").await;
        driver.key(KeyCode::Enter).await;
        assert!(matches!(driver.app.modal(), Some(Modal::Form(_))));
        assert!(oidc.client(&client_id).unwrap().is_some());
        for _ in 0..7 {
            driver.key(KeyCode::Backspace).await;
        }
        driver.type_text("Grafana").await;
        driver.key(KeyCode::Enter).await;
        assert!(driver.app.modal().is_none(), "{}", driver.screen());
        assert!(oidc.client(&client_id).unwrap().is_none());
        assert!(driver.screen().contains("No clients yet"));
    }

    #[tokio::test]
    async fn rotate_the_signing_key_from_the_console() {
        let t = TestDaemon::start().await;
        let mut driver = open_clients(&t).await;
        driver.key(KeyCode::Char('K')).await;
        for _ in 0.."RS256".len() {
            driver.key(KeyCode::Backspace).await;
        }
        driver.type_text("EdDSA").await;
        driver.key(KeyCode::Enter).await;
        assert!(driver.app.modal().is_none(), "{}", driver.screen());
        let screen = driver.screen();
        assert!(screen.contains("EdDSA  active"), "{screen}");
        assert!(screen.contains("RS256  previous"), "{screen}");
        let keys = t.daemon.oidc().list_signing_keys().unwrap();
        assert_eq!(keys.len(), 2);
    }
}
