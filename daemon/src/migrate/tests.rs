//! `latchkeyd migrate` between two database files (PostgreSQL: `tests/tests/e2e/backend_migration.rs`).

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::store::{RecordSource, UserId, UserRecord, WebauthnHandle};

fn user(name: &str) -> UserRecord {
    UserRecord {
        id: UserId::random(),
        username: name.to_owned(),
        email: None,
        first_name: String::new(),
        last_name: String::new(),
        display_name: name.to_owned(),
        is_admin: false,
        disabled: false,
        source: RecordSource::Local,
        webauthn_handle: WebauthnHandle(rand::random()),
        created_at: 0,
        updated_at: 0,
        email_verified: false,
    }
}

/// A data directory with a database holding a user and a key id, and a key file.
fn source(root: &Path) -> PathBuf {
    let dir = root.join("source");
    private_files::ensure_dir(&dir).unwrap();
    let store = Store::open(&dir.join(DB_FILE)).unwrap();
    store
        .write(|tx| {
            tx.put_user(&user("alice"))?;
            tx.set_encryption_key_id(*b"\x01\x02\x03\x04\x05\x06\x07\x08")
        })
        .unwrap();
    std::fs::write(dir.join(KEY_FILE), [7u8; 32]).unwrap();
    dir
}

fn files(from: &Path, to: &Path) -> MigrateArgs {
    MigrateArgs {
        from_data_dir: Some(from.to_path_buf()),
        to_data_dir: Some(to.to_path_buf()),
        ..MigrateArgs::default()
    }
}

#[test]
fn a_file_is_copied_whole_into_a_new_private_directory() {
    let root = tempfile::tempdir().unwrap();
    let from = source(root.path());
    let to = root.path().join("new");

    let report = run(&files(&from, &to), &[]).unwrap();

    let mode = std::fs::metadata(&to).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let original = Store::open(&from.join(DB_FILE)).unwrap().digest().unwrap();
    let copy = Store::open(&to.join(DB_FILE)).unwrap();
    assert_eq!(copy.digest().unwrap(), original);
    assert_eq!(report.digest(), &original);
    assert!(
        copy.read()
            .unwrap()
            .user_id_by_username("alice")
            .unwrap()
            .is_some()
    );

    let shown = report.to_string();
    for expected in [
        format!("from: the file {}", from.join(DB_FILE).display()),
        format!("to:   the file {}", to.join(DB_FILE).display()),
        format!("schema version {SCHEMA_VERSION}"),
        format!("sha256 {}", original.sha256_hex()),
        "users_v1".to_owned(),
        "key id 0102030405060708, which was NOT copied".to_owned(),
        format!("the source's key file is {}", from.join(KEY_FILE).display()),
        format!("copy that file to {}", to.join(KEY_FILE).display()),
    ] {
        assert!(shown.contains(&expected), "{expected:?} in\n{shown}");
    }
    // Only tables with rows are listed.
    assert!(!shown.contains("groups_v1"), "{shown}");
    // The key file is not copied.
    assert!(!to.join(KEY_FILE).exists());
}

#[test]
fn a_target_with_data_is_refused_and_left_as_it_was() {
    let root = tempfile::tempdir().unwrap();
    let from = source(root.path());
    let to = root.path().join("new");
    run(&files(&from, &to), &[]).unwrap();
    let before = Store::open(&to.join(DB_FILE)).unwrap().digest().unwrap();

    let err = run(&files(&from, &to), &[]).unwrap_err();

    assert_eq!(err.exit_code(), 1);
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "nothing was copied into the file {}: the target database is not empty (table meta",
            to.join(DB_FILE).display()
        )),
        "{message}"
    );
    let after = Store::open(&to.join(DB_FILE)).unwrap().digest().unwrap();
    assert_eq!(after, before);
}

#[test]
fn a_source_a_daemon_holds_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let from = source(root.path());
    let to = root.path().join("new");
    let running = Store::open(&from.join(DB_FILE)).unwrap();

    let err = run(&files(&from, &to), &[]).unwrap_err();

    assert!(matches!(err, MigrateError::InUse { .. }), "{err:?}");
    assert!(err.to_string().contains("stop the daemon first"), "{err}");
    assert!(!to.exists(), "nothing is made for a refused copy");
    drop(running);
}

#[test]
fn a_missing_source_or_the_same_directory_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = run(&files(&empty, &root.path().join("new")), &[]).unwrap_err();
    assert!(matches!(err, MigrateError::NoSource(_)), "{err:?}");
    assert!(!empty.join(DB_FILE).exists(), "the source is not created");

    let from = source(root.path());
    let err = run(&files(&from, &from.join(".")), &[]).unwrap_err();
    assert!(matches!(err, MigrateError::SameDirectory(_)), "{err:?}");
}

#[test]
fn the_postgres_side_comes_from_the_environment_and_its_password_never_shows() {
    let root = tempfile::tempdir().unwrap();
    let only_from = MigrateArgs {
        from_data_dir: Some(root.path().to_path_buf()),
        ..MigrateArgs::default()
    };
    let err = run(&only_from, &[]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert_eq!(
        err.to_string(),
        "the PostgreSQL side is missing: give --to-database-url or set LATCHKEY_DATABASE_URL"
    );

    let env = [(
        "LATCHKEY_DATABASE_URL".to_owned(),
        "postgres://latchkey:hunter2@db/x".to_owned(),
    )];
    let (from, to) = sides(&only_from, &env).unwrap();
    assert!(matches!(from, Side::File { .. }));
    assert_eq!(to.to_string(), "PostgreSQL postgres://latchkey:***@db/x");
    let only_to = MigrateArgs {
        to_data_dir: Some(root.path().to_path_buf()),
        ..MigrateArgs::default()
    };
    let (from, _) = sides(&only_to, &env).unwrap();
    assert_eq!(from.to_string(), "PostgreSQL postgres://latchkey:***@db/x");

    // A bad URL is explained without repeating it.
    let bad = [(
        "LATCHKEY_DATABASE_URL".to_owned(),
        "mysql://latchkey:hunter2@db/x".to_owned(),
    )];
    let err = run(&only_from, &bad).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .starts_with("LATCHKEY_DATABASE_URL: expected a postgres://"),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let flag = MigrateArgs {
        to_database_url: Some(Secret::new("postgres:hunter2".to_owned())),
        ..only_from.clone()
    };
    let err = run(&flag, &env).unwrap_err();
    assert!(err.to_string().starts_with("--to-database-url: "), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");

    // Neither side named.
    let err = run(&MigrateArgs::default(), &env).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().starts_with("name the source"), "{err}");
}
