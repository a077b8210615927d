//! Moving a deployment between the embedded database file and PostgreSQL with the real
//! `latchkeyd migrate`: everything a daemon on the file made (users, a passkey, an OIDC client
//! and its signing key, a login code, audit events) works on PostgreSQL with the same key, and
//! a copy back into a new file is the original, byte for byte. Refusals: a source a daemon
//! holds, a PostgreSQL database replicas run on, a target with data. The database password
//! never shows.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_daemon::store::{Digest, Store};
use latchkey_tests::TestDaemon;
use latchkey_tests::oidc::{Rp, create_client};
use latchkey_tests::passkeys::{
    Browser, alice_with_a_passkey, assert_signed_in, create_user, login_code, passkeys_of, sign_in,
};
use latchkey_tests::postgres::TestPostgres;
use latchkey_tests::process::{self, DaemonProcess};
use reqwest::StatusCode;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd-under-test");

/// `latchkeyd migrate ARGS` with only `env`, checked never to print the database password.
fn migrate(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut full = vec!["migrate"];
    full.extend_from_slice(args);
    let out = process::run(BIN.as_ref(), &full, env);
    let password = TestPostgres::shared().password();
    for printed in [&out.stdout, &out.stderr] {
        let printed = String::from_utf8_lossy(printed);
        assert!(
            !printed.contains(password),
            "the password was printed:\n{printed}"
        );
    }
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn digest_of(data_dir: &Path) -> Digest {
    Store::open(&data_dir.join("latchkey.redb"))
        .unwrap()
        .digest()
        .unwrap()
}

/// Rows of `kv_<table>` in the database of `url`.
fn pg_rows(url: &str, table: &str) -> u64 {
    let sql = format!("SELECT count(*) FROM kv_{table}");
    TestPostgres::shared()
        .psql(url, &sql)
        .trim()
        .parse()
        .unwrap()
}

/// How many store tables the database of `url` has.
fn pg_tables(url: &str) -> u64 {
    let sql = "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'kv\\_%'";
    TestPostgres::shared()
        .psql(url, sql)
        .trim()
        .parse()
        .unwrap()
}

/// The `kid` of an access token from the client credentials grant.
async fn token_kid(base_url: &str, rp: &Rp) -> String {
    let http = reqwest::Client::new();
    let discovery: Value = http
        .get(format!("{base_url}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = http
        .post(discovery["token_endpoint"].as_str().unwrap())
        .basic_auth(&rp.id, Some(&rp.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_deployment_moves_to_postgres_with_its_key_and_back_unchanged() {
    let t = TestDaemon::start_on_file_in(tempfile::tempdir().unwrap()).await;
    let (mut auth, _) = alice_with_a_passkey(&t).await;
    create_user(&t, "bob").await;
    let code = login_code(&t, "bob").await;
    let rp = create_client(&t, &[]).await;
    let kid = token_kid(&t.base_url, &rp).await;
    let data = t.config.data_dir.clone();
    let data_arg = data.to_str().unwrap().to_owned();
    let url = TestPostgres::shared().fresh_database();

    // While the daemon runs, its file is refused and the target left alone.
    let out = migrate(
        &["--from-data-dir", &data_arg, "--to-database-url", &url],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let message = stderr(&out);
    assert!(
        message
            .contains("is in use by another process (a running latchkeyd?): stop the daemon first"),
        "{message}"
    );
    assert_eq!(pg_tables(&url), 0);

    let dir = t.stop().await;
    let original = digest_of(&data);
    assert!(
        original
            .tables
            .iter()
            .any(|t| t.name == "audit_log_v1" && t.rows > 0)
    );

    // File → PostgreSQL, the URL (and its password) as a flag.
    let out = migrate(
        &["--from-data-dir", &data_arg, "--to-database-url", &url],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report = stdout(&out);
    let key_file = data.join("secret.key");
    for expected in [
        format!("from: the file {}", data.join("latchkey.redb").display()),
        "to:   PostgreSQL postgres://latchkey:***@127.0.0.1:".to_owned(),
        format!("copied {} rows in ", original.rows()),
        "users_v1".to_owned(),
        "user_passkeys_v1".to_owned(),
        "clients_v1".to_owned(),
        "login_codes_v1".to_owned(),
        "audit_log_v1".to_owned(),
        format!(
            "verified: the target reads back the same as the source (sha256 {})",
            original.sha256_hex()
        ),
        "which was NOT copied".to_owned(),
        format!("the source's key file is {}", key_file.display()),
    ] {
        assert!(report.contains(&expected), "{expected:?} in\n{report}");
    }
    assert_eq!(pg_rows(&url, "users_v1"), 2);

    // Into a database with data: refused, exit 1, nothing changed.
    let out = migrate(
        &["--from-data-dir", &data_arg, "--to-database-url", &url],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let message = stderr(&out);
    assert!(
        message.starts_with(
            "latchkeyd migrate: nothing was copied into PostgreSQL postgres://latchkey:***@"
        ),
        "{message}"
    );
    assert!(
        message.contains("the target database is not empty (table meta holds 1 row)"),
        "{message}"
    );
    assert_eq!(pg_rows(&url, "users_v1"), 2);

    // PostgreSQL → a new file, the URL from the environment: the original, byte for byte.
    let back = tempfile::tempdir().unwrap();
    let back_data = back.path().join("data");
    let out = migrate(
        &["--to-data-dir", back_data.to_str().unwrap()],
        &[("LATCHKEY_DATABASE_URL", &url)],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout(&out).contains(&format!("(sha256 {})", original.sha256_hex())),
        "{}",
        stdout(&out)
    );
    assert_eq!(digest_of(&back_data), original);
    assert_eq!(digest_of(&data), original, "the source is unchanged");

    // A daemon on PostgreSQL with the same key file: the same users, passkey, login code,
    // client and signing key.
    let pg_url = url.parse().unwrap();
    let on_pg = TestDaemon::start_with(move |config| {
        config.database_url = Some(pg_url);
        config.encryption_key_file = key_file;
    })
    .await;
    assert_eq!(passkeys_of(&on_pg, "alice").await.len(), 1);
    let (b, done) = sign_in(&on_pg, &mut auth).await;
    assert_signed_in(&b, &done, "alice").await;
    let bob = Browser::open(&on_pg, &format!("/lc/{code}")).await;
    let (status, _, page) = bob
        .form(
            "/lc",
            &[("_csrf", bob.csrf.as_str()), ("code", code.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(token_kid(&on_pg.base_url, &rp).await, kid);
    on_pg.stop().await;
    drop(dir);
}

#[tokio::test]
async fn a_postgres_database_replicas_run_on_is_refused_until_they_stop() {
    let url = TestPostgres::shared().fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let replica = DaemonProcess::start_with_env(
        BIN.as_ref(),
        &dir.path().join("data"),
        &[("LATCHKEY_DATABASE_URL", &url)],
    )
    .await;
    // The replica takes the expiry sweep's lease as its jobs start.
    let deadline = Instant::now() + Duration::from_secs(30);
    while pg_rows(&url, "leases_v1") == 0 {
        assert!(
            Instant::now() < deadline,
            "no lease taken:\n{}",
            replica.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let target = dir.path().join("copy");
    let target_arg = target.to_str().unwrap();

    let out = migrate(
        &["--from-database-url", &url, "--to-data-dir", target_arg],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let message = stderr(&out);
    assert!(
        message.contains("latchkeyd is running on PostgreSQL postgres://latchkey:***@"),
        "{message}"
    );
    assert!(message.contains("Stop every replica first"), "{message}");
    assert!(!target.exists(), "nothing is made for a refused copy");

    // A clean stop gives the leases up; the copy goes through.
    assert!(replica.terminate());
    let out = migrate(
        &["--from-database-url", &url, "--to-data-dir", target_arg],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout(&out).contains("signing_keys_v1"), "{}", stdout(&out));
}
