//! `latchkeyd migrate`: moves a deployment's data between the embedded database file and
//! PostgreSQL (either way; file to file and server to server work the same).
//!
//! Decisions, each for the operator who runs it once and must trust the result:
//! - The copy is `store::copy_all`: every table verbatim, in one write transaction on the
//!   target, into an empty target only. A failure leaves the target empty; running again is
//!   safe.
//! - The source must be at rest: a database file a daemon holds is refused (redb's lock), and
//!   so is a PostgreSQL database on which a replica holds a job lease (a running replica always
//!   holds the expiry sweep's; a clean stop gives it up). The leases are read once the store
//!   is open, so a PostgreSQL source older than this binary is migrated before the check can
//!   refuse it; every PostgreSQL database so far is at the version PostgreSQL support came
//!   with, so this matters only once a later version step exists.
//! - Both sides are opened as the daemon opens them, which brings each to this binary's
//!   schema version first; the output says when that changed the source.
//! - After the commit the target is read back and its digest compared with the source's
//!   snapshot: the output's digest line is the proof the copy is whole.
//! - The PostgreSQL side may come from `LATCHKEY_DATABASE_URL` when its flag is left out, since
//!   `ps` shows flags, password and all. No other setting is read: the two sides are all it
//!   needs, and reading a configuration file could point it at the wrong database.
//! - The URL is shown with its password masked (`DatabaseUrl`), in the output and in errors.
//! - The encryption key is not copied (it is kept apart from the data on purpose); the output
//!   says which key the data needs and where the source's key file is.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::{DB_FILE, DatabaseUrl, KEY_FILE, Key, MigrateArgs, Secret};
use crate::private_files::{self, PrivateFileError};
use crate::sealing::KeyId;
use crate::store::{CopyError, Digest, SCHEMA_VERSION, Store, StoreError, copy_all};

/// Why `latchkeyd migrate` did not copy (or could not confirm its copy).
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The command line does not name one source and one target.
    #[error("{0}")]
    Usage(String),
    #[error("no database to copy at {}: check --from-data-dir", .0.display())]
    NoSource(PathBuf),
    #[error(
        "the source and the target are the same data directory {}",
        .0.display()
    )]
    SameDirectory(PathBuf),
    #[error(
        "{side} is in use by another process (a running latchkeyd?): stop the daemon first — \
         migrate copies a deployment at rest"
    )]
    InUse { side: String },
    #[error(
        "latchkeyd is running on {side}: replica {holder} holds the {job} job lease for another \
         {seconds} s. Stop every replica first (one that was killed without a clean stop lets \
         go when its lease runs out)"
    )]
    ReplicaRunning {
        side: String,
        holder: String,
        job: String,
        seconds: i64,
    },
    #[error("cannot open {side}: {error}")]
    Open {
        side: String,
        error: Box<StoreError>,
    },
    #[error("cannot make the data directory: {0}")]
    DataDirectory(#[from] PrivateFileError),
    #[error("nothing was copied into {side}: {error}")]
    Copy { side: String, error: Box<CopyError> },
    #[error(
        "the copy in {side} does not read back as the source (tables {tables}); it was \
         committed, so empty the target (a new database, or delete the file) and run migrate again"
    )]
    Mismatch { side: String, tables: String },
    #[error("cannot read the copy back from {side}: {error}")]
    Verify {
        side: String,
        error: Box<StoreError>,
    },
}

impl MigrateError {
    /// The process's exit status: 2 for a command line that names no source or target (as
    /// clap's own usage errors), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            MigrateError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// One side of the copy.
#[derive(Debug, Clone)]
enum Side {
    File { data_dir: PathBuf },
    Postgres(DatabaseUrl),
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Side::File { data_dir } => write!(f, "the file {}", data_dir.join(DB_FILE).display()),
            Side::Postgres(url) => write!(f, "PostgreSQL {url}"),
        }
    }
}

/// What was copied, for the operator.
#[derive(Debug)]
pub struct Report {
    from: String,
    to: String,
    /// The source's schema version before opening it brought it up to date (0: new).
    source_version: u64,
    copied: Digest,
    elapsed: Duration,
    key_note: String,
}

impl Report {
    /// The digest of what was copied (the same as the target's, checked).
    pub fn digest(&self) -> &Digest {
        &self.copied
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "from: {}", self.from)?;
        if self.source_version < SCHEMA_VERSION {
            writeln!(
                f,
                "      brought from schema version {} up to {SCHEMA_VERSION} (this latchkeyd's) \
                 before copying",
                self.source_version
            )?;
        } else {
            writeln!(f, "      schema version {SCHEMA_VERSION}")?;
        }
        writeln!(f, "to:   {}", self.to)?;
        writeln!(
            f,
            "copied {} rows in {:.2} s:",
            self.copied.rows(),
            self.elapsed.as_secs_f64()
        )?;
        for table in self.copied.tables.iter().filter(|table| table.rows > 0) {
            writeln!(f, "  {:<32} {:>10}", table.name, table.rows)?;
        }
        writeln!(
            f,
            "verified: the target reads back the same as the source (sha256 {})",
            self.copied.sha256_hex()
        )?;
        writeln!(f, "{}", self.key_note)
    }
}

/// Copies the database `args` name as the source into the empty one it names as the target.
/// `env` is the process environment (for `LATCHKEY_DATABASE_URL`).
pub fn run(args: &MigrateArgs, env: &[(String, String)]) -> Result<Report, MigrateError> {
    let (from, to) = sides(args, env)?;
    let started = Instant::now();
    let source = open_source(&from)?;
    let target = open_target(&to, &from)?;

    let snapshot = source.read().map_err(|error| MigrateError::Open {
        side: from.to_string(),
        error: Box::new(error),
    })?;
    let copied = target
        .write(|tx| copy_all(&snapshot, tx))
        .map_err(|error| MigrateError::Copy {
            side: to.to_string(),
            error: Box::new(error),
        })?;
    let key_id = snapshot
        .encryption_key_id()
        .map_err(|error| MigrateError::Verify {
            side: from.to_string(),
            error: Box::new(error),
        })?;
    drop(snapshot);

    let read_back = target.digest().map_err(|error| MigrateError::Verify {
        side: to.to_string(),
        error: Box::new(error),
    })?;
    let differ = copied.differing_tables(&read_back);
    if !differ.is_empty() {
        return Err(MigrateError::Mismatch {
            side: to.to_string(),
            tables: differ.join(", "),
        });
    }
    Ok(Report {
        from: from.to_string(),
        to: to.to_string(),
        source_version: source.opened_at_version(),
        copied,
        elapsed: started.elapsed(),
        key_note: key_note(key_id.map(KeyId::from_bytes), &from, &to),
    })
}

/// The source and the target named by `args`, the PostgreSQL side from the environment when
/// its flag is left out.
fn sides(args: &MigrateArgs, env: &[(String, String)]) -> Result<(Side, Side), MigrateError> {
    let from = match (&args.from_data_dir, &args.from_database_url) {
        (Some(dir), _) => Some(Side::File {
            data_dir: dir.clone(),
        }),
        (None, Some(url)) => Some(Side::Postgres(parse_url(url, "--from-database-url")?)),
        (None, None) => None,
    };
    let to = match (&args.to_data_dir, &args.to_database_url) {
        (Some(dir), _) => Some(Side::File {
            data_dir: dir.clone(),
        }),
        (None, Some(url)) => Some(Side::Postgres(parse_url(url, "--to-database-url")?)),
        (None, None) => None,
    };
    match (from, to) {
        (Some(from), Some(to)) => Ok((from, to)),
        (Some(from @ Side::File { .. }), None) => Ok((from, env_url(env, "--to-database-url")?)),
        (None, Some(to @ Side::File { .. })) => Ok((env_url(env, "--from-database-url")?, to)),
        _ => Err(MigrateError::Usage(
            "name the source (--from-data-dir or --from-database-url) and the target \
             (--to-data-dir or --to-database-url); the PostgreSQL one may come from \
             LATCHKEY_DATABASE_URL instead"
                .to_owned(),
        )),
    }
}

fn parse_url(raw: &Secret<String>, flag: &str) -> Result<DatabaseUrl, MigrateError> {
    raw.expose()
        .parse()
        .map_err(|e| MigrateError::Usage(format!("{flag}: {e}")))
}

fn env_url(env: &[(String, String)], flag: &str) -> Result<Side, MigrateError> {
    let name = Key::DatabaseUrl.env();
    let Some((_, raw)) = env.iter().rev().find(|(key, _)| key == name) else {
        return Err(MigrateError::Usage(format!(
            "the PostgreSQL side is missing: give {flag} or set {name}"
        )));
    };
    raw.parse()
        .map(Side::Postgres)
        .map_err(|e| MigrateError::Usage(format!("{name}: {e}")))
}

fn open_source(side: &Side) -> Result<Store, MigrateError> {
    match side {
        Side::File { data_dir } => {
            let path = data_dir.join(DB_FILE);
            // Opening creates a missing file; a source must already be there.
            if !path.is_file() {
                return Err(MigrateError::NoSource(path));
            }
            let store = Store::open(&path).map_err(|error| open_error(side, error))?;
            Ok(store)
        }
        Side::Postgres(url) => {
            let store =
                Store::open_postgres(url.expose()).map_err(|error| open_error(side, error))?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| {
                    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
                });
            let held = store
                .read()
                .and_then(|tx| tx.leases_in_force(now))
                .map_err(|error| open_error(side, error))?;
            if let Some((job, lease)) = held.into_iter().next() {
                return Err(MigrateError::ReplicaRunning {
                    side: side.to_string(),
                    holder: lease.holder,
                    job,
                    seconds: lease.expires_at - now,
                });
            }
            Ok(store)
        }
    }
}

fn open_target(side: &Side, from: &Side) -> Result<Store, MigrateError> {
    match side {
        Side::File { data_dir } => {
            if let Side::File { data_dir: source } = from
                && same_directory(source, data_dir)
            {
                return Err(MigrateError::SameDirectory(data_dir.clone()));
            }
            private_files::ensure_dir(data_dir)?;
            Store::open(&data_dir.join(DB_FILE)).map_err(|error| open_error(side, error))
        }
        Side::Postgres(url) => {
            Store::open_postgres(url.expose()).map_err(|error| open_error(side, error))
        }
    }
}

fn same_directory(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        // A directory that does not exist yet is not the source, which does.
        _ => false,
    }
}

fn open_error(side: &Side, error: StoreError) -> MigrateError {
    match error {
        StoreError::AlreadyOpen { .. } => MigrateError::InUse {
            side: side.to_string(),
        },
        error => MigrateError::Open {
            side: side.to_string(),
            error: Box::new(error),
        },
    }
}

/// What the operator must do about the encryption key, which is not copied.
fn key_note(key_id: Option<KeyId>, from: &Side, to: &Side) -> String {
    let Some(key_id) = key_id else {
        return "encryption key: none recorded (no secret in this data is encrypted yet); the \
                first start on the target makes one"
            .to_owned();
    };
    let whence = match from {
        Side::File { data_dir } => {
            let file = data_dir.join(KEY_FILE);
            if file.is_file() {
                format!(
                    "the source's key file is {} (unless its daemon was given another \
                     encryption_key_file or LATCHKEY_ENCRYPTION_KEY)",
                    file.display()
                )
            } else {
                format!(
                    "there is no key file at {}: the source's daemon was given its key by \
                     encryption_key_file or LATCHKEY_ENCRYPTION_KEY",
                    file.display()
                )
            }
        }
        Side::Postgres(_) => "it is the key file of the replicas (encryption_key_file, by \
                              default <data_dir>/secret.key) or their LATCHKEY_ENCRYPTION_KEY"
            .to_owned(),
    };
    let give = match to {
        Side::File { data_dir } => format!(
            "copy that file to {} (or set encryption_key_file to it), or set \
             LATCHKEY_ENCRYPTION_KEY",
            data_dir.join(KEY_FILE).display()
        ),
        Side::Postgres(_) => "give every replica that file as encryption_key_file, or its \
                              contents as LATCHKEY_ENCRYPTION_KEY"
            .to_owned(),
    };
    format!(
        "encryption key: the secrets in this data are encrypted with key id {key_id}, which was \
         NOT copied; {whence}. Keep it with the data: {give}. latchkeyd refuses to start on the \
         target with any other key."
    )
}

#[cfg(test)]
mod tests;
