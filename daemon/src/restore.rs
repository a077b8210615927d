//! `latchkeyd restore`: puts a backup made by `latchkey backup` in place as a stopped daemon's
//! database.
//!
//! Decisions, for an operator restoring under pressure:
//! - Nothing is replaced until the backup has been checked: it is copied into the data
//!   directory under a temporary name and opened there as the daemon opens a database (which
//!   brings an older backup to this release's schema, and refuses a newer one). The backup
//!   file itself is never changed.
//! - It goes in with one rename: a failure leaves the data directory as it was.
//! - A database a daemon holds is refused (redb's lock), and an existing database is replaced
//!   only with `--force`.
//! - The encryption key is not in the backup: the report names the key the data needs.
//! - The data directory comes from `--data-dir`, else `LATCHKEY_DATA_DIR`, else `./data`, as
//!   for the daemon; nothing else of the configuration is read.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::{DB_FILE, KEY_FILE, RestoreArgs};
use crate::private_files::{self, PrivateFileError};
use crate::sealing::KeyId;
use crate::store::{Store, StoreError};

/// Why `latchkeyd restore` did not restore.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("no backup at {}: check --from", .0.display())]
    NoBackup(PathBuf),
    #[error(
        "a latchkeyd is running on {}: stop it first (restore replaces the database of a \
         stopped daemon)",
        .0.display()
    )]
    InUse(PathBuf),
    #[error(
        "{} already holds a database: restore replaces it only with --force (back it up first \
         if it may be needed)",
        .0.display()
    )]
    Exists(PathBuf),
    #[error("{} is not a backup latchkeyd can restore: {error}", from.display())]
    NotABackup {
        from: PathBuf,
        error: Box<StoreError>,
    },
    #[error(transparent)]
    DataDir(#[from] PrivateFileError),
    #[error("cannot write {}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// What was restored.
#[derive(Debug)]
pub struct Report {
    from: PathBuf,
    database: PathBuf,
    bytes: u64,
    schema_version: u64,
    users: u64,
    replaced: bool,
    key_id: Option<KeyId>,
    key_file: PathBuf,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "restored {} ({} bytes, schema version {}, {} users) to {}{}",
            self.from.display(),
            self.bytes,
            self.schema_version,
            self.users,
            self.database.display(),
            if self.replaced {
                ", replacing the database that was there"
            } else {
                ""
            }
        )?;
        match &self.key_id {
            Some(id) => writeln!(
                f,
                "its secrets are sealed with encryption key {id}: start latchkeyd with that key \
                 ({} or encryption_key_file, or LATCHKEY_ENCRYPTION_KEY)",
                self.key_file.display()
            ),
            None => writeln!(f, "it holds no sealed secrets yet"),
        }
    }
}

pub fn run(args: &RestoreArgs, env: &[(String, String)]) -> Result<Report, RestoreError> {
    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| {
            env.iter()
                .find(|(name, _)| name == "LATCHKEY_DATA_DIR")
                .map(|(_, dir)| PathBuf::from(dir))
        })
        .unwrap_or_else(|| PathBuf::from("./data"));
    if !args.from.is_file() {
        return Err(RestoreError::NoBackup(args.from.clone()));
    }
    private_files::ensure_dir(&data_dir)?;
    let database = data_dir.join(DB_FILE);
    let replaced = database.exists();
    if replaced {
        match Store::open(&database) {
            Err(StoreError::AlreadyOpen { .. }) => return Err(RestoreError::InUse(data_dir)),
            // Whatever is there (even a damaged file) may be replaced when asked to.
            _ if !args.force => return Err(RestoreError::Exists(database)),
            _ => {}
        }
    }
    let staged = data_dir.join(format!(
        ".restore-{}.redb",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    let result = stage(&args.from, &staged).and_then(|checked| {
        let io = |error| RestoreError::Io {
            path: database.clone(),
            error,
        };
        std::fs::rename(&staged, &database).map_err(io)?;
        std::fs::File::open(&data_dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io)?;
        Ok(checked)
    });
    let (bytes, schema_version, users, key_id) = match result {
        Ok(checked) => checked,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
    };
    Ok(Report {
        from: args.from.clone(),
        database,
        bytes,
        schema_version,
        users,
        replaced,
        key_id,
        key_file: data_dir.join(KEY_FILE),
    })
}

/// Copies the backup to `staged` and opens it as the daemon would; its size, schema version,
/// user count and key id.
fn stage(from: &Path, staged: &Path) -> Result<(u64, u64, u64, Option<KeyId>), RestoreError> {
    let bytes = std::fs::copy(from, staged).map_err(|error| RestoreError::Io {
        path: staged.to_owned(),
        error,
    })?;
    let not_a_backup = |error| RestoreError::NotABackup {
        from: from.to_owned(),
        error: Box::new(error),
    };
    let store = Store::open(staged).map_err(not_a_backup)?;
    let snapshot = store.read().map_err(not_a_backup)?;
    let schema_version = snapshot.schema_version().map_err(not_a_backup)?;
    let users = snapshot.user_count().map_err(not_a_backup)?;
    let key_id = snapshot
        .encryption_key_id()
        .map_err(not_a_backup)?
        .map(KeyId::from_bytes);
    drop(snapshot);
    drop(store);
    std::fs::File::open(staged)
        .and_then(|file| file.sync_all())
        .map_err(|error| RestoreError::Io {
            path: staged.to_owned(),
            error,
        })?;
    Ok((bytes, schema_version, users, key_id))
}
