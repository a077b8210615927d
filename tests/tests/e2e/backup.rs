//! Online backup and offline restore, with the real binaries: `latchkey backup` while users
//! are being created gives a whole file whose size and SHA-256 it prints, and leaves nothing
//! behind in the data directory; `latchkeyd restore` refuses a running daemon's directory, an
//! existing database without `--force`, and a file that is not a backup (touching nothing);
//! a daemon started on the restored database, with the key kept apart, serves the users and
//! clients of the backup: a login code signs alice in, and the client's secret still works;
//! a snapshot a crash left behind is removed when a daemon opens the directory.
//! With PostgreSQL, `latchkey backup` points to pg_dump.

use std::path::Path;

use latchkey_tests::TestDaemon;
use latchkey_tests::process::{self, DaemonProcess};
use reqwest::StatusCode;
use sha2::{Digest as _, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd-under-test");

fn restore(from: &Path, data_dir: &Path, force: bool) -> (i32, String, String) {
    let (from, dir) = (from.display().to_string(), data_dir.display().to_string());
    let mut args = vec![
        "restore",
        "--from",
        from.as_str(),
        "--data-dir",
        dir.as_str(),
    ];
    if force {
        args.push("--force");
    }
    let out = process::run(BIN.as_ref(), &args, &[]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_into_a_daemon_that_serves_its_users() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let daemon = DaemonProcess::start(BIN.as_ref(), &data).await;
    daemon.create_user("alice").await;
    let (id, secret) = daemon.create_client("Wiki").await;

    // Writes keep going while the backup is taken.
    let socket = daemon.socket();
    let writer = tokio::spawn(async move {
        let client = latchkey_protocol::Client::connect(&socket, "writer")
            .await
            .unwrap();
        for i in 0..30 {
            let user = latchkey_tests::http::new_user(&format!("during-{i}"));
            client
                .call(latchkey_protocol::Request::CreateUser { user })
                .await
                .unwrap();
        }
    });
    let file = dir.path().join("backups/latchkey.backup");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let out = daemon
        .cli(&["backup", "--out", &file.display().to_string(), "--json"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    writer.await.unwrap();
    let report = out.json();
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(report["bytes"], bytes.len() as u64);
    assert_eq!(report["sha256"], hex::encode(Sha256::digest(&bytes)));
    assert_eq!(
        report["schema_version"],
        latchkey_daemon::store::SCHEMA_VERSION
    );
    let key_id = report["encryption_key_id"].as_str().unwrap().to_owned();
    let leftovers: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".backup-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let human = daemon
        .cli(&[
            "backup",
            "--out",
            &dir.path().join("second").display().to_string(),
        ])
        .await;
    assert_eq!(human.code, 0, "{human:?}");
    assert!(
        human.stdout.contains("does not hold the encryption key"),
        "{human:?}"
    );

    // An --out that names no file is refused before anything is asked of the daemon.
    let nameless = daemon.cli(&["backup", "--out", "/"]).await;
    assert_eq!(nameless.code, 1, "{nameless:?}");
    assert!(
        nameless.stderr.contains("--out / names no file"),
        "{nameless:?}"
    );

    // Not over a running daemon's database.
    let (code, _, stderr) = restore(&file, &data, true);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("a latchkeyd is running on"), "{stderr}");

    // Into a fresh data directory, with the key kept apart.
    let restored = dir.path().join("restored");
    let (code, stdout, stderr) = restore(&file, &restored, false);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("encryption key {key_id}")),
        "{stdout}"
    );
    std::fs::copy(data.join("secret.key"), restored.join("secret.key")).unwrap();
    assert!(daemon.terminate());
    // What a backup cut short by a crash would leave: removed when a daemon opens the dir.
    let leftover = restored.join(".backup-0123456789abcdef.redb");
    std::fs::write(&leftover, b"half a snapshot").unwrap();
    let second = DaemonProcess::start(BIN.as_ref(), &restored).await;
    assert!(!leftover.exists());
    let users = second.cli(&["user", "list", "--json"]).await;
    assert!(users.stdout.contains("alice@example.com"), "{users:?}");
    second.signed_in_with_code("alice").await;
    assert_eq!(
        second.client_credentials(&id, &secret).await,
        StatusCode::OK
    );

    // Not over an existing database without --force, and never from a file that is not one.
    let (code, _, stderr) = restore(&file, &restored, false);
    assert_eq!(code, 1);
    assert!(stderr.contains("a latchkeyd is running on"), "{stderr}");
    assert!(second.terminate());
    let (code, _, stderr) = restore(&file, &restored, false);
    assert_eq!(code, 1);
    assert!(stderr.contains("already holds a database"), "{stderr}");
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"not a database").unwrap();
    // The database in place stays that file (a restore renames a new one over it).
    let inode = || {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(restored.join("latchkey.redb"))
            .unwrap()
            .ino()
    };
    let before = inode();
    let (code, _, stderr) = restore(&junk, &restored, true);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("is not a backup latchkeyd can restore"),
        "{stderr}"
    );
    assert_eq!(inode(), before, "the database in place was replaced");
    let names: Vec<_> = std::fs::read_dir(&restored)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(".restore-")),
        "{names:?}"
    );
    let (code, stdout, stderr) = restore(&file, &restored, true);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("replacing the database that was there"),
        "{stdout}"
    );
}

#[tokio::test]
async fn on_postgresql_backup_points_to_pg_dump() {
    let t = TestDaemon::start_on_postgres().await;
    let out = t
        .cli(&[
            "backup",
            "--out",
            &t.dir.path().join("b").display().to_string(),
        ])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("pg_dump"), "{out:?}");
    assert!(!t.dir.path().join("b").exists());
}
