//! Export and import with the real binaries, across backends: `latchkey export` of a serving
//! daemon (on this pass's backend) writes a bundle whose size and SHA-256 it prints;
//! `latchkeyd import` loads it into an empty database of the other backend (the embedded file
//! when PostgreSQL is not installed), refuses a non-empty or running target and a cut-short
//! bundle (leaving no file behind); a daemon started on the import, with the key kept apart,
//! exports exactly the same bundle and serves the users, groups, claims and clients it holds.

use std::path::Path;

use latchkey_tests::postgres::TestPostgres;
use latchkey_tests::process::{self, DaemonProcess};
use reqwest::StatusCode;
use sha2::{Digest as _, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd-under-test");

/// Where a database lives: a data directory, and a PostgreSQL URL when it is there.
struct Place {
    data_dir: std::path::PathBuf,
    url: Option<String>,
}

impl Place {
    fn env(&self) -> Vec<(&str, &str)> {
        self.url
            .as_deref()
            .map(|url| vec![("LATCHKEY_DATABASE_URL", url)])
            .unwrap_or_default()
    }

    fn import_args(&self) -> Vec<String> {
        match &self.url {
            Some(url) => vec!["--database-url".to_owned(), url.clone()],
            None => vec!["--data-dir".to_owned(), self.data_dir.display().to_string()],
        }
    }
}

fn import(bundle: &Path, into: &Place) -> (i32, String, String) {
    let mut args = vec![
        "import".to_owned(),
        "--from".to_owned(),
        bundle.display().to_string(),
    ];
    args.extend(into.import_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = process::run(BIN.as_ref(), &args, &[]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn export(daemon: &DaemonProcess, to: &Path) -> Vec<u8> {
    let out = daemon
        .cli(&["export", "--out", &to.display().to_string(), "--json"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let bytes = std::fs::read(to).unwrap();
    let report = out.json();
    assert_eq!(report["bytes"], bytes.len() as u64);
    assert_eq!(report["sha256"], hex::encode(Sha256::digest(&bytes)));
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_imported_into_the_other_backend_exports_the_same_and_serves_its_users() {
    let dir = tempfile::tempdir().unwrap();
    let postgres = TestPostgres::installed().then(TestPostgres::shared);
    let source = Place {
        data_dir: dir.path().join("source"),
        url: latchkey_tests::on_postgres()
            .then(|| postgres.map(TestPostgres::fresh_database))
            .flatten(),
    };
    // The other backend; both are files when there is no PostgreSQL.
    let target = Place {
        data_dir: dir.path().join("target"),
        url: match (&source.url, postgres) {
            (None, Some(postgres)) => Some(postgres.fresh_database()),
            _ => None,
        },
    };

    let daemon = DaemonProcess::start_with_env(BIN.as_ref(), &source.data_dir, &source.env()).await;
    daemon.create_user("alice").await;
    for args in [
        &["user", "create", "--username", "bob", "--first-name", "Bob"][..],
        &["group", "create", "staff", "--friendly-name", "Staff ✓"],
        &["group", "add-member", "staff", "alice"],
        &["claims", "set", "user", "alice", "level=3", "team=ops"],
        &["signup-token", "create", "--uses", "2"],
        &["key", "rotate", "--alg", "ES256"],
    ] {
        daemon.cli_ok(args).await;
    }
    let (client_id, secret) = daemon.create_client("Wiki").await;
    daemon.signed_in_with_code("alice").await;

    let first = dir.path().join("first.jsonl");
    let bundle = export(&daemon, &first).await;
    let leftovers: Vec<_> = std::fs::read_dir(&source.data_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".export-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let text = String::from_utf8(bundle.clone()).unwrap();
    let header: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(header["format"], "latchkey-export");
    let key_id = header["encryption_key_id"].as_str().unwrap().to_owned();
    assert!(text.contains(r#""username":"alice""#));
    assert!(
        !text.contains(&secret),
        "the client secret is stored hashed only"
    );

    // Not into the running source.
    let (code, _, stderr) = import(&first, &source);
    assert_eq!(code, 1, "{stderr}");
    let refused = if source.url.is_some() {
        "is not empty"
    } else {
        "in use by another process"
    };
    assert!(stderr.contains(refused), "{stderr}");

    // A bundle cut short: refused, with nothing left behind.
    let short = dir.path().join("short.jsonl");
    std::fs::write(&short, &bundle[..bundle.len() - 40]).unwrap();
    let (code, _, stderr) = import(&short, &target);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    assert!(stderr.contains("cut short"), "{stderr}");
    assert!(!target.data_dir.join("latchkey.redb").exists());

    let (code, stdout, stderr) = import(&first, &target);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("verified: the target exports back as the bundle"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("key id {key_id}")), "{stdout}");
    if let Some(url) = &target.url {
        assert!(
            !stdout.contains(url.as_str()),
            "the password is masked: {stdout}"
        );
    }
    let (code, _, stderr) = import(&first, &target);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("is not empty"), "{stderr}");

    // The daemon on the import, with the key kept apart.
    std::fs::create_dir_all(&target.data_dir).unwrap();
    std::fs::copy(
        source.data_dir.join("secret.key"),
        target.data_dir.join("secret.key"),
    )
    .unwrap();
    assert!(daemon.terminate());
    // What an export cut short by a crash would leave: removed when a daemon opens the dir.
    let leftover = target.data_dir.join(".export-0123456789abcdef.jsonl");
    std::fs::write(&leftover, b"half a bundle").unwrap();
    let imported =
        DaemonProcess::start_with_env(BIN.as_ref(), &target.data_dir, &target.env()).await;
    assert!(!leftover.exists());
    let again = export(&imported, &dir.path().join("again.jsonl")).await;
    assert!(
        again == bundle,
        "a round trip changed the bundle:\n{}",
        first_difference(&bundle, &again)
    );

    imported.signed_in_with_code("alice").await;
    assert_eq!(
        imported.client_credentials(&client_id, &secret).await,
        StatusCode::OK
    );
    let group = imported.cli(&["group", "show", "staff", "--json"]).await;
    assert!(group.stdout.contains("alice"), "{group:?}");
    let claims = imported
        .cli(&["claims", "show", "user", "alice", "--json"])
        .await;
    assert!(claims.stdout.contains("ops"), "{claims:?}");
    let keys = imported.cli(&["key", "list", "--json"]).await;
    assert!(keys.stdout.contains("ES256"), "{keys:?}");
    assert!(imported.terminate());
}

/// The first line that differs, for a readable failure.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    for (n, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n- {x}\n+ {y}", n + 1);
        }
    }
    format!("{} lines against {}", a.lines().count(), b.lines().count())
}
