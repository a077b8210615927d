//! Secrets at rest, against real redb files in temp dirs and the in-process daemon: the data
//! directory and every file in it private (made so when they were not); signing keys,
//! `smtp.password` and `ldap.bind_password` absent from the database's raw bytes; a restart with
//! the same key still signing with the same key and sending mail with the password (real SMTP
//! with authentication); a wrong or missing key refused with what to do; and a database from
//! before encryption at rest sealed on its first start.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use latchkey_daemon::clock::ManualClock;
use latchkey_daemon::config::{Cli, Config};
use latchkey_daemon::sealing::{EncryptionKey, Sealer};
use latchkey_daemon::store::{Store, StoredSecret};
use latchkey_tests::TestDaemon;
use latchkey_tests::smtp::{SmtpOptions, SmtpServer, SmtpTlsMode};
use p256::ecdsa::signature::Verifier;
use reqwest::Client;
use serde_json::Value;

const SMTP_PASSWORD: &str = "smtp-Tr0ub4dor&3-horse";
const LDAP_PASSWORD: &str = "ldap-c0rrect-battery-staple";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether any 32-byte run of `secret` (every 16 bytes, and its end) is in `file`: a stored key
/// would be found even if only part of it were written in one piece.
fn leaks(file: &[u8], secret: &[u8]) -> bool {
    let window = secret.len().min(32);
    (0..=secret.len() - window)
        .step_by(16)
        .chain(std::iter::once(secret.len() - window))
        .any(|at| contains(file, &secret[at..at + window]))
}

/// A configuration for `data_dir` with `env` as the environment (the real layering).
fn config_with_env(data_dir: &Path, port: u16, env: &[(&str, &str)]) -> Config {
    let cli = <Cli as clap::Parser>::parse_from([
        "latchkeyd".to_owned(),
        "--listen".to_owned(),
        format!("127.0.0.1:{port}"),
        "--public-url".to_owned(),
        format!("http://localhost:{port}"),
        "--data-dir".to_owned(),
        data_dir.display().to_string(),
    ]);
    let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    Config::load(&cli, env).unwrap()
}

/// Starts a daemon on the data directory of `dir` with `env`; the error if it refuses.
async fn try_start(
    dir: tempfile::TempDir,
    env: &[(&str, &str)],
) -> Result<TestDaemon, (tempfile::TempDir, String)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = config_with_env(&dir.path().join("data"), port, env);
    let clock = ManualClock::new(time::macros::datetime!(2026-11-23 08:00:00 UTC));
    match latchkey_daemon::start_on(&config, Arc::new(clock.clone()), listener).await {
        Ok(daemon) => Ok(TestDaemon {
            base_url: format!("http://localhost:{port}"),
            dir,
            config,
            clock,
            daemon,
        }),
        Err(e) => Err((dir, e.to_string())),
    }
}

async fn use_smtp(t: &TestDaemon, smtp: &SmtpServer) {
    t.config_set("smtp.host", "127.0.0.1").await;
    t.config_set("smtp.port", &smtp.port.to_string()).await;
    t.config_set("smtp.from", "Latchkey <id@example.com>").await;
    t.config_set("smtp.tls", "starttls").await;
    t.config_set("smtp.skip_cert_verify", "true").await;
    t.config_set("smtp.username", "mailer").await;
}

fn smtp_with_auth() -> SmtpServer {
    SmtpServer::start_with(SmtpOptions {
        tls: Some(SmtpTlsMode::StartTls),
        auth: Some(("mailer".into(), SMTP_PASSWORD.into())),
        port: None,
    })
}

async fn send_test_mail(t: &TestDaemon) {
    let out = t.cli(&["email", "test", "--to", "admin@example.com"]).await;
    assert_eq!(out.code, 0, "{out:?}");
}

struct Rp {
    id: String,
    secret: String,
}

async fn create_client(t: &TestDaemon) -> Rp {
    let out = t
        .cli(&[
            "client",
            "create",
            "--name",
            "Backend",
            "--redirect-uri",
            "http://localhost:9/cb",
            "--json",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    Rp {
        id: json["client_id"].as_str().unwrap().to_owned(),
        secret: json["client_secret"].as_str().unwrap().to_owned(),
    }
}

async fn client_token(t: &TestDaemon, rp: &Rp) -> String {
    let res = Client::new()
        .post(format!("{}/token", t.base_url))
        .basic_auth(&rp.id, Some(&rp.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn jwks(t: &TestDaemon) -> Value {
    reqwest::get(format!("{}/.well-known/jwks.json", t.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn b64url(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// Checks an ES256 token against the JWKS with p256 (not the daemon's code); returns its kid.
fn verify_es256(token: &str, jwks: &Value) -> String {
    let (input, signature) = token.rsplit_once('.').unwrap();
    let header: Value = serde_json::from_slice(&b64url(input.split('.').next().unwrap())).unwrap();
    assert_eq!(header["alg"], "ES256");
    let kid = header["kid"].as_str().unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} is not in the JWKS {jwks}"));
    let point = p256::EncodedPoint::from_affine_coordinates(
        p256::FieldBytes::from_slice(&b64url(jwk["x"].as_str().unwrap())),
        p256::FieldBytes::from_slice(&b64url(jwk["y"].as_str().unwrap())),
        false,
    );
    let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&b64url(signature)).unwrap();
    key.verify(input.as_bytes(), &signature)
        .expect("the token verifies against the JWKS");
    kid.to_owned()
}

/// The signing keys' private parts (PKCS#8 DER), opened with the key in `key_file`.
fn private_keys(db: &Path, key_file: &Path) -> Vec<Vec<u8>> {
    let key = EncryptionKey::from_bytes(std::fs::read(key_file).unwrap().try_into().unwrap());
    let sealer = Sealer::new(key);
    let store = Store::open(db).unwrap();
    let records = store.read().unwrap().signing_keys().unwrap();
    assert!(!records.is_empty());
    records
        .iter()
        .map(|record| match &record.private_key {
            StoredSecret::Sealed(sealed) => sealer
                .open(&format!("signing key {}", record.kid), sealed)
                .unwrap(),
            StoredSecret::Plain(_) => panic!("key {} is stored in the clear", record.kid),
        })
        .collect()
}

#[tokio::test]
async fn the_data_dir_and_its_files_are_private() {
    let t = TestDaemon::start().await;
    let data = t.config.data_dir.clone();
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&t.config.db_path()), 0o600);
    let key_file = data.join("secret.key");
    assert_eq!(t.config.encryption_key_file, key_file);
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(std::fs::read(&key_file).unwrap().len(), 32);
    assert_eq!(mode(&t.socket()), 0o600);
    // Nothing else (no temporary key file) is left in the directory.
    let mut names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["latchkey.redb", "latchkey.sock", "secret.key"]);
}

#[tokio::test]
async fn an_open_data_dir_database_and_key_file_are_made_private() {
    // A directory made beforehand the way systemd's StateDirectory= or a Docker volume is.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    chmod(&data, 0o755);
    let t = TestDaemon::start_in(dir).await;
    assert_eq!(mode(&data), 0o700);
    let dir = t.stop().await;

    let db = data.join("latchkey.redb");
    let key_file = data.join("secret.key");
    chmod(&data, 0o755);
    chmod(&db, 0o644);
    chmod(&key_file, 0o644);
    let t = TestDaemon::start_in(dir).await;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&key_file), 0o600);
    // The daemon works on the same data (the key was kept, not replaced).
    assert_eq!(t.cli(&["user", "list", "--json"]).await.code, 0);
}

#[tokio::test]
async fn secrets_are_not_in_the_database_file_and_a_restart_with_the_key_uses_them() {
    let smtp = smtp_with_auth();
    let t = TestDaemon::start().await;
    // Two keys: the first (RS256) stays published after rotating to ES256.
    let out = t.cli(&["key", "rotate", "--alg", "es256"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    use_smtp(&t, &smtp).await;
    t.config_set("smtp.password", SMTP_PASSWORD).await;
    t.config_set("ldap.bind_password", LDAP_PASSWORD).await;
    send_test_mail(&t).await;
    assert_eq!(smtp.wait_for(1).await.len(), 1);
    let rp = create_client(&t).await;
    let before = client_token(&t, &rp).await;
    let jwks_before = jwks(&t).await;
    let kid = verify_es256(&before, &jwks_before);

    let db = t.config.db_path();
    let key_file = t.config.encryption_key_file.clone();
    let dir = t.stop().await;
    let raw = std::fs::read(&db).unwrap();
    assert!(!contains(&raw, SMTP_PASSWORD.as_bytes()));
    assert!(!contains(&raw, LDAP_PASSWORD.as_bytes()));
    assert!(!contains(&raw, &std::fs::read(&key_file).unwrap()));
    let keys = private_keys(&db, &key_file);
    assert_eq!(keys.len(), 2);
    for der in &keys {
        assert!(
            !leaks(&raw, der),
            "a signing key is in the file in the clear"
        );
    }

    let t = TestDaemon::start_in(dir).await;
    assert_eq!(jwks(&t).await, jwks_before);
    // A token signed before the restart verifies with the JWKS served after it (the issuer is
    // not checked: a restarted test daemon has a new port); a new one has the same kid.
    let jwks_after = jwks(&t).await;
    assert_eq!(verify_es256(&before, &jwks_after), kid);
    let after = client_token(&t, &rp).await;
    assert_eq!(verify_es256(&after, &jwks_after), kid);
    // The password still opens: the server requires it.
    send_test_mail(&t).await;
    assert_eq!(smtp.wait_for(2).await.len(), 2);
    let shown = t.cli(&["config", "show", "--json"]).await;
    assert_eq!(shown.json()["smtp"]["password"], "set");
    assert_eq!(shown.json()["ldap"]["bind_password"], "set");
    assert!(!shown.stdout.contains(SMTP_PASSWORD));
}

#[tokio::test]
async fn a_wrong_or_missing_key_stops_the_start_with_what_to_do() {
    let t = TestDaemon::start().await;
    t.config_set("ldap.bind_password", LDAP_PASSWORD).await;
    let key_file = t.config.encryption_key_file.clone();
    let dir = t.stop().await;
    let right = STANDARD.encode(std::fs::read(&key_file).unwrap());

    // Another key in the environment.
    let wrong = EncryptionKey::generate().unwrap();
    let (dir, message) = try_start(dir, &[("LATCHKEY_ENCRYPTION_KEY", &wrong.to_base64())])
        .await
        .expect_err("a wrong key must not start");
    eprintln!("wrong key: {message}");
    assert!(
        message.contains("the encryption key from LATCHKEY_ENCRYPTION_KEY")
            && message.contains(&format!("(key id {})", wrong.id()))
            && message.contains("is not the key this database's secrets were encrypted with")
            && message.contains("restore the key file"),
        "{message}"
    );
    // The right key in the environment (base64 of the file's bytes) works.
    let t = try_start(dir, &[("LATCHKEY_ENCRYPTION_KEY", &right)])
        .await
        .unwrap_or_else(|(_, e)| panic!("{e}"));
    let dir = t.stop().await;

    // The key file gone: refused, and no new key is made over the encrypted data.
    std::fs::rename(&key_file, dir.path().join("saved.key")).unwrap();
    let (dir, message) = try_start(dir, &[]).await.expect_err("no key, no start");
    eprintln!("missing key: {message}");
    assert!(
        message.contains(&format!(
            "the encryption key file {} does not exist",
            key_file.display()
        )) && message.contains("Restore that file")
            && message.contains("LATCHKEY_ENCRYPTION_KEY"),
        "{message}"
    );
    assert!(!key_file.exists());
    // A different key file in its place is the wrong key.
    std::fs::write(&key_file, wrong.to_base64()).unwrap();
    let (dir, message) = try_start(dir, &[]).await.expect_err("wrong key file");
    assert!(
        message.contains(&format!("the key file {}", key_file.display())),
        "{message}"
    );
    // The original back: the daemon starts and the password is there.
    std::fs::rename(dir.path().join("saved.key"), &key_file).unwrap();
    let t = try_start(dir, &[])
        .await
        .unwrap_or_else(|(_, e)| panic!("{e}"));
    assert_eq!(
        t.daemon
            .idm()
            .ldap_settings()
            .unwrap()
            .bind_password
            .as_deref(),
        Some(LDAP_PASSWORD)
    );
}

// --- a database from before encryption at rest ---

/// The stored shapes of the release before encryption at rest, written here by hand so the
/// test does not depend on the daemon's current types.
mod old {
    use serde::Serialize;

    #[derive(Serialize)]
    pub enum KeyAlg {
        // Never written here, but it holds index 0, so Es256 encodes as postcard's 1.
        #[allow(dead_code)]
        Rs256,
        Es256,
    }

    #[derive(Serialize)]
    pub enum KeyState {
        Active,
    }

    #[derive(Serialize)]
    pub struct SigningKeyV1 {
        pub kid: String,
        pub alg: KeyAlg,
        pub private_der: Vec<u8>,
        pub state: KeyState,
        pub created_at: i64,
        pub retire_at: Option<i64>,
    }

    #[derive(Serialize)]
    pub enum StoredSigningKey {
        V1(SigningKeyV1),
    }

    #[derive(Serialize)]
    pub enum SettingValue {
        Text(String),
        Integer(i64),
        Bool(bool),
    }

    #[derive(Serialize)]
    pub struct SettingV1 {
        pub value: SettingValue,
        pub updated_at: i64,
    }

    #[derive(Serialize)]
    pub enum StoredSetting {
        V1(SettingV1),
    }
}

const META: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
const SETTINGS: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("settings_v1");
const SIGNING_KEYS: redb::TableDefinition<&str, &[u8]> =
    redb::TableDefinition::new("signing_keys_v1");

/// Writes a schema-3 database (the last one before encryption at rest) holding an ES256 key,
/// SMTP settings with a password and an LDAP bind password, all in the clear.
fn write_old_database(path: &Path, private_der: &[u8], smtp_port: u16) {
    let db = redb::Database::create(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut meta = txn.open_table(META).unwrap();
        meta.insert("schema_version", 3u64.to_le_bytes().as_slice())
            .unwrap();
        let mut keys = txn.open_table(SIGNING_KEYS).unwrap();
        let key = old::StoredSigningKey::V1(old::SigningKeyV1 {
            kid: "legacy-es256".into(),
            alg: old::KeyAlg::Es256,
            private_der: private_der.to_vec(),
            state: old::KeyState::Active,
            created_at: 1_790_000_000,
            retire_at: None,
        });
        keys.insert(
            "legacy-es256",
            postcard::to_stdvec(&key).unwrap().as_slice(),
        )
        .unwrap();
        let mut settings = txn.open_table(SETTINGS).unwrap();
        let text = |s: &str| old::SettingValue::Text(s.to_owned());
        for (name, value) in [
            ("smtp.host", text("127.0.0.1")),
            (
                "smtp.port",
                old::SettingValue::Integer(i64::from(smtp_port)),
            ),
            ("smtp.from", text("Latchkey <id@example.com>")),
            ("smtp.tls", text("starttls")),
            ("smtp.skip_cert_verify", old::SettingValue::Bool(true)),
            ("smtp.username", text("mailer")),
            ("smtp.password", text(SMTP_PASSWORD)),
            ("ldap.bind_password", text(LDAP_PASSWORD)),
        ] {
            let record = old::StoredSetting::V1(old::SettingV1 {
                value,
                updated_at: 1_790_000_000,
            });
            settings
                .insert(name, postcard::to_stdvec(&record).unwrap().as_slice())
                .unwrap();
        }
    }
    txn.commit().unwrap();
}

#[tokio::test]
async fn a_database_from_before_encryption_at_rest_is_sealed_on_its_first_start() {
    let smtp = smtp_with_auth();
    let secret = p256::SecretKey::from_slice(&rand::random::<[u8; 32]>()).unwrap();
    let der = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&secret).unwrap();
    let der = der.as_bytes().to_vec();
    let scalar = secret.to_bytes().to_vec();

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let db = data.join("latchkey.redb");
    write_old_database(&db, &der, smtp.port);
    // The search finds secrets stored in the clear (so it would catch the old storage).
    let raw = std::fs::read(&db).unwrap();
    assert!(contains(&raw, SMTP_PASSWORD.as_bytes()) && contains(&raw, LDAP_PASSWORD.as_bytes()));
    assert!(leaks(&raw, &der) && contains(&raw, &scalar));

    let t = TestDaemon::start_in(dir).await;
    let key_file = t.config.encryption_key_file.clone();
    assert_eq!(mode(&key_file), 0o600);
    // Nothing left in the clear, not even in the pages the sealing freed.
    let raw = std::fs::read(&db).unwrap();
    assert!(
        !contains(&raw, SMTP_PASSWORD.as_bytes()),
        "smtp.password left in the file"
    );
    assert!(
        !contains(&raw, LDAP_PASSWORD.as_bytes()),
        "ldap.bind_password left in the file"
    );
    assert!(
        !leaks(&raw, &der) && !contains(&raw, &scalar),
        "the signing key left in the file"
    );
    // The old key still signs, under its kid, verifiable with the JWKS.
    let jwks_now = jwks(&t).await;
    let rp = create_client(&t).await;
    let token = client_token(&t, &rp).await;
    assert_eq!(verify_es256(&token, &jwks_now), "legacy-es256");
    // The migrated password still authenticates to the SMTP server.
    send_test_mail(&t).await;
    assert_eq!(smtp.wait_for(1).await.len(), 1);
    let dir = t.stop().await;

    let raw = std::fs::read(&db).unwrap();
    assert!(!contains(&raw, SMTP_PASSWORD.as_bytes()) && !contains(&raw, LDAP_PASSWORD.as_bytes()));
    assert!(!leaks(&raw, &der) && !contains(&raw, &scalar));
    assert_eq!(private_keys(&db, &key_file), vec![der]);

    // Starting again changes nothing and still works.
    let t = TestDaemon::start_in(dir).await;
    assert_eq!(jwks(&t).await, jwks_now);
    assert_eq!(
        t.daemon
            .idm()
            .ldap_settings()
            .unwrap()
            .bind_password
            .as_deref(),
        Some(LDAP_PASSWORD)
    );
}

// --- a data directory the daemon may not change ---

/// Set for the child run of [`refused_start_as_another_user`] (the data directory to try).
const CHILD_DATA_DIR: &str = "LATCHKEY_TEST_REFUSED_DATA_DIR";

/// The message a start on `data_dir` fails with.
async fn refused_start(data_dir: &Path) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = config_with_env(data_dir, port, &[]);
    let clock = ManualClock::new(time::macros::datetime!(2026-11-23 08:00:00 UTC));
    match latchkey_daemon::start_on(&config, Arc::new(clock), listener).await {
        Ok(_) => panic!("the daemon started on {}", data_dir.display()),
        Err(e) => e.to_string(),
    }
}

/// Not a test on its own: [`a_data_dir_open_to_others_that_is_not_ours_is_refused_with_the_fix`]
/// runs this test binary again as `nobody` with [`CHILD_DATA_DIR`] set, and this prints what the
/// start said. Without the variable there is nothing to do.
#[tokio::test]
#[ignore = "run by a_data_dir_open_to_others_that_is_not_ours_is_refused_with_the_fix"]
async fn refused_start_as_another_user() {
    if let Some(dir) = std::env::var_os(CHILD_DATA_DIR) {
        println!("REFUSED: {}", refused_start(Path::new(&dir)).await);
    }
}

#[tokio::test]
async fn a_data_dir_open_to_others_that_is_not_ours_is_refused_with_the_fix() {
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let (message, data) = if root {
        // Root may change any mode, so the daemon runs as nobody on a directory root owns.
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        chmod(&data, 0o755);
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "secrets_at_rest::refused_start_as_another_user",
                "--ignored",
                "--nocapture",
            ])
            .env(CHILD_DATA_DIR, &data)
            .output()
            .expect("run setpriv (util-linux)");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("REFUSED: "))
            .unwrap_or_else(|| panic!("no answer from the child: {stdout}"))
            .to_owned();
        assert_eq!(mode(&data), 0o755, "left as it was");
        assert_eq!(
            std::fs::read_dir(&data).unwrap().count(),
            0,
            "nothing written"
        );
        (line, data)
    } else {
        // Not root: `/` is open to others and not ours (nothing can be written there either).
        (
            refused_start(Path::new("/")).await,
            Path::new("/").to_path_buf(),
        )
    };
    eprintln!("{message}");
    let shown = data.display();
    assert!(
        message.contains(&format!(
            "{shown} can be opened by other users (mode 0755, owner uid 0)"
        )) && message.contains("latchkeyd will not start")
            && message.contains(&format!("&& chmod 700 {shown}`")),
        "{message}"
    );
    if root {
        assert!(
            message.contains(&format!("`chown 65534 {shown}")),
            "{message}"
        );
    }
}
