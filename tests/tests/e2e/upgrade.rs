//! Upgrades: a database from every schema version Latchkey has shipped is kept under
//! `tests/fixtures/schema-v<N>/` (the database file, the test-only key that seals its secrets,
//! and `fixture.json`, what was put in it). Each is opened by the current binary, which brings
//! it to the current schema and serves what was in it: its users, and its client with the
//! client's secret. A schema bump without a fixture of the new version fails here, so every
//! version that ships stays tested. (A database from a newer release is refused: see the
//! store's tests and `postgres_schema.rs`.)
//!
//! `cargo test -p latchkey-tests --test e2e -- --ignored upgrade::make_fixture` writes the
//! fixture of the current version (run it when the schema version changes, before release).

use std::path::{Path, PathBuf};

use latchkey_daemon::store::SCHEMA_VERSION;
use latchkey_tests::process::DaemonProcess;
use reqwest::StatusCode;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd-under-test");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Copies `from`'s files into `to` (made 0700, as the daemon wants its data dir).
fn copy_dir(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        std::fs::copy(entry.path(), &target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_every_shipped_schema_version_opens_and_serves() {
    let mut versions: Vec<u64> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_prefix("schema-v")?.parse().ok()
        })
        .collect();
    versions.sort_unstable();
    assert!(
        versions.contains(&SCHEMA_VERSION),
        "no fixture of schema version {SCHEMA_VERSION}: run `cargo test -p latchkey-tests --test \
         e2e -- --ignored upgrade::make_fixture` and commit tests/fixtures/schema-v{SCHEMA_VERSION}"
    );
    for version in versions {
        let fixture = fixtures().join(format!("schema-v{version}"));
        let facts: Value =
            serde_json::from_slice(&std::fs::read(fixture.join("fixture.json")).unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        copy_dir(&fixture.join("data"), &data);
        let daemon = DaemonProcess::start(BIN.as_ref(), &data).await;

        let ready: Value = reqwest::get(format!("{}/readyz", daemon.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ready["schema"], SCHEMA_VERSION, "v{version}: {ready}");
        let users = daemon.cli(&["user", "list", "--json"]).await;
        for username in facts["users"].as_array().unwrap() {
            let username = username.as_str().unwrap();
            assert!(users.stdout.contains(username), "v{version}: {users:?}");
        }
        let group = daemon.cli(&["group", "show", "staff", "--json"]).await;
        assert!(group.stdout.contains("bob"), "v{version}: {group:?}");
        let token = reqwest::Client::new()
            .post(format!("{}/token", daemon.base_url()))
            .basic_auth(
                facts["client_id"].as_str().unwrap(),
                facts["client_secret"].as_str(),
            )
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(token.status(), StatusCode::OK, "v{version}");
        daemon.signed_in_with_code("alice").await;
        assert!(daemon.terminate(), "v{version}");
    }
}

/// Writes `tests/fixtures/schema-v<current>/`: a database made by this binary through its
/// CLI, the key that seals it, and what was put in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes the fixture of the current schema version; run it by hand"]
async fn make_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let daemon = DaemonProcess::start(BIN.as_ref(), &data).await;
    for args in [
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--admin",
        ][..],
        &[
            "user",
            "create",
            "--username",
            "bob",
            "--email",
            "bob@example.com",
        ],
        &["group", "create", "staff"],
        &["group", "add-member", "staff", "bob"],
    ] {
        let out = daemon.cli(args).await;
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
    }
    let (client_id, client_secret) = daemon.create_client("Fixture").await;
    assert!(daemon.terminate());
    let fixture = fixtures().join(format!("schema-v{SCHEMA_VERSION}"));
    let _ = std::fs::remove_dir_all(&fixture);
    std::fs::create_dir_all(fixture.join("data")).unwrap();
    for file in ["latchkey.redb", "secret.key"] {
        std::fs::copy(data.join(file), fixture.join("data").join(file)).unwrap();
    }
    let facts = json!({
        "schema_version": SCHEMA_VERSION,
        "made_by": format!("latchkeyd {}", env!("CARGO_PKG_VERSION")),
        "users": ["alice", "bob"],
        "groups": {"staff": ["bob"]},
        "client_id": client_id,
        "client_secret": client_secret,
        "note": "test data only; secret.key is this fixture's own key",
    });
    std::fs::write(
        fixture.join("fixture.json"),
        serde_json::to_string_pretty(&facts).unwrap() + "\n",
    )
    .unwrap();
}
