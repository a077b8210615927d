//! `latchkeyd import`: loads an export bundle (`latchkey export`) into an empty database, the
//! embedded file of a data directory or a PostgreSQL database.
//!
//! Decisions:
//! - Into an empty database only, in one transaction (`store::bundle`): a bundle that is
//!   damaged, cut short or refused leaves the target as it was. A database file this command
//!   made for the import is removed again when the import fails, so a retry finds no leftover.
//! - A database file a daemon holds is refused (redb's lock); a PostgreSQL database a replica
//!   uses is not empty, so it is refused too.
//! - After the commit the target is exported again, into a hash only, and compared with the
//!   bundle file: the output's last line is the proof that every entry went in as it was.
//! - The target is `--database-url`, else `--data-dir`, else `LATCHKEY_DATABASE_URL`, else
//!   `LATCHKEY_DATA_DIR`, else `./data`, as the daemon would choose; nothing else of the
//!   configuration is read. The URL is shown with its password masked (`DatabaseUrl`).
//! - The encryption key is not in the bundle: the output names the key the data needs.

use std::fmt;
use std::io::BufReader;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use crate::config::{DB_FILE, DatabaseUrl, ImportArgs, Key};
use crate::private_files::{self, PrivateFileError};
use crate::store::{BundleError, ImportSummary, Store, StoreError};

/// Why `latchkeyd import` did not load the bundle (or could not confirm it did).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Usage(String),
    #[error("no bundle at {}: check --from", .0.display())]
    NoBundle(PathBuf),
    #[error("cannot read {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{0} is in use by another process (a running latchkeyd?): stop the daemon first — \
         import loads into a database at rest"
    )]
    InUse(String),
    #[error("cannot open {target}: {error}")]
    Open {
        target: String,
        error: Box<StoreError>,
    },
    #[error(transparent)]
    DataDirectory(#[from] PrivateFileError),
    #[error("nothing was imported into {target}: {error}")]
    Import {
        target: String,
        error: Box<BundleError>,
    },
    #[error(
        "the data imported into {target} does not export back as the bundle (SHA-256 \
         {exported} instead of {bundle}); it was committed, so empty the target and import again"
    )]
    Mismatch {
        target: String,
        exported: String,
        bundle: String,
    },
    #[error("cannot read the import back from {target}: {error}")]
    Verify {
        target: String,
        error: Box<BundleError>,
    },
}

impl ImportError {
    /// The process's exit status: 2 for a command line that cannot be used, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            ImportError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// Where the bundle goes.
enum Target {
    File { data_dir: PathBuf },
    Postgres(DatabaseUrl),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::File { data_dir } => {
                write!(f, "the file {}", data_dir.join(DB_FILE).display())
            }
            Target::Postgres(url) => write!(f, "PostgreSQL {url}"),
        }
    }
}

/// What was imported.
#[derive(Debug)]
pub struct Report {
    from: PathBuf,
    to: String,
    summary: ImportSummary,
    sha256: String,
}

impl Report {
    pub fn summary(&self) -> &ImportSummary {
        &self.summary
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "from: {}", self.from.display())?;
        writeln!(f, "to:   {}", self.to)?;
        writeln!(
            f,
            "imported {} entries at schema version {}:",
            self.summary.entries, self.summary.schema_version
        )?;
        for (table, rows) in &self.summary.tables {
            writeln!(f, "  {table:<32} {rows:>10}")?;
        }
        writeln!(
            f,
            "verified: the target exports back as the bundle (SHA-256 {})",
            self.sha256
        )?;
        match &self.summary.encryption_key_id {
            Some(id) => writeln!(
                f,
                "encryption key: the secrets in this data are sealed with key id {id}, which is \
                 not in the bundle; start latchkeyd with that key (the exporting daemon's key \
                 file, as encryption_key_file or <data_dir>/secret.key, or its \
                 LATCHKEY_ENCRYPTION_KEY). latchkeyd refuses to start with any other key."
            ),
            None => writeln!(
                f,
                "encryption key: none recorded (no secret in this data is sealed yet); the \
                 first start makes one"
            ),
        }
    }
}

/// Loads the bundle `args` names into the empty database it names. `env` is the process
/// environment (for `LATCHKEY_DATABASE_URL` and `LATCHKEY_DATA_DIR`).
pub fn run(args: &ImportArgs, env: &[(String, String)]) -> Result<Report, ImportError> {
    let target = target(args, env)?;
    if !args.from.is_file() {
        return Err(ImportError::NoBundle(args.from.clone()));
    }
    let bundle = std::fs::File::open(&args.from).map_err(|error| ImportError::Read {
        path: args.from.clone(),
        error,
    })?;
    let (store, made) = open(&target)?;
    let imported = store.write(|tx| tx.import_bundle(BufReader::new(bundle)));
    let summary = match imported {
        Ok(summary) => summary,
        Err(error) => {
            if let Some(file) = made {
                // Nothing was committed: the empty file this command made goes too.
                drop(store);
                let _ = std::fs::remove_file(file);
            }
            return Err(ImportError::Import {
                target: target.to_string(),
                error: Box::new(error),
            });
        }
    };

    // The bundle's hash was taken as it was read: the file is not read twice.
    let bundle = summary.sha256.clone();
    let mut exported = Sha256::new();
    store
        .export_to(&mut exported)
        .map_err(|error| ImportError::Verify {
            target: target.to_string(),
            error: Box::new(error),
        })?;
    let exported = hex::encode(exported.finalize());
    if exported != bundle {
        return Err(ImportError::Mismatch {
            target: target.to_string(),
            exported,
            bundle,
        });
    }
    Ok(Report {
        from: args.from.clone(),
        to: target.to_string(),
        summary,
        sha256: bundle,
    })
}

fn target(args: &ImportArgs, env: &[(String, String)]) -> Result<Target, ImportError> {
    let from_env = |key: Key| {
        env.iter()
            .rev()
            .find(|(name, _)| name == key.env())
            .map(|(_, value)| value.clone())
    };
    let url = |raw: &str, what: &str| {
        raw.parse()
            .map(Target::Postgres)
            .map_err(|e| ImportError::Usage(format!("{what}: {e}")))
    };
    if let Some(raw) = &args.database_url {
        return url(raw.expose(), "--database-url");
    }
    if let Some(dir) = &args.data_dir {
        return Ok(Target::File {
            data_dir: dir.clone(),
        });
    }
    if let Some(raw) = from_env(Key::DatabaseUrl) {
        return url(&raw, Key::DatabaseUrl.env());
    }
    Ok(Target::File {
        data_dir: from_env(Key::DataDir).map_or_else(|| PathBuf::from("./data"), PathBuf::from),
    })
}

/// The target store, and the database file when this opening made it.
fn open(target: &Target) -> Result<(Store, Option<PathBuf>), ImportError> {
    let opened = |error: StoreError| match error {
        StoreError::AlreadyOpen { .. } => ImportError::InUse(target.to_string()),
        error => ImportError::Open {
            target: target.to_string(),
            error: Box::new(error),
        },
    };
    match target {
        Target::File { data_dir } => {
            private_files::ensure_dir(data_dir)?;
            let path = data_dir.join(DB_FILE);
            let made = (!path.exists()).then(|| path.clone());
            let store = Store::open(&path).map_err(opened)?;
            Ok((store, made))
        }
        Target::Postgres(url) => Ok((Store::open_postgres(url.expose()).map_err(opened)?, None)),
    }
}
