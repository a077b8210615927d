//! `StoreError`: everything that can go wrong below the business rules.

use std::path::PathBuf;

/// An error from the storage layer. Messages are written for the admin who
/// reads them in a log or on the console.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the database {} is already open in another process — is another latchkeyd running on this data directory?",
        path.display()
    )]
    AlreadyOpen { path: PathBuf },

    #[error(
        "the database was written by a newer latchkeyd (schema version {found}; this binary understands up to {supported}) — upgrade latchkeyd, or restore a backup made by this version"
    )]
    NewerSchema { found: u64, supported: u64 },

    #[error(
        "the database {} is not writable by this user: {source} — check the owner and mode of the data directory",
        path.display()
    )]
    NotWritable {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot open the database {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The database file is open to other users and cannot be made private.
    #[error(transparent)]
    NotPrivate(#[from] crate::private_files::PrivateFileError),

    #[error("the database holds a record that cannot be read: {0}")]
    Corrupt(String),

    #[error("database error while {context}: {source}")]
    Backend {
        context: &'static str,
        source: super::kv::KvError,
    },

    /// A unique index already maps this key to another record.
    #[error("{field} is already taken")]
    Conflict { field: &'static str },

    #[error("record not found")]
    NotFound,
}

impl StoreError {
    /// Whether the database could not be reached: the request may succeed when it is back.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Backend { source, .. } if source.is_unavailable())
    }
}

/// Short form for the many table calls that can only fail with I/O, an unreachable
/// database or corruption: `table.get(k).map_err(db("reading a user"))?`.
pub(crate) fn db<E: Into<super::kv::KvError>>(
    context: &'static str,
) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Backend {
        context,
        source: e.into(),
    }
}
