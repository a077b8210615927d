//! An online backup of the embedded database: one read snapshot copied, table by table, into
//! a new database file (`copy_all`), while writes go on (redb's readers never block writers;
//! the copy holds only what was committed when the snapshot began).
//!
//! The copy is a database latchkeyd opens as it is (`latchkeyd restore` puts it in place). On
//! PostgreSQL there is nothing to do here: the operator's PostgreSQL tools (pg_dump,
//! continuous archiving) back up the shared database, consistently across replicas.

use std::path::{Path, PathBuf};

use super::{Backend, CopyError, Store, StoreError, copy_all};

/// Why no backup was made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "the data is in PostgreSQL: back it up with PostgreSQL's tools, for example \
         `pg_dump --format=custom --file=latchkey.dump DATABASE` (see the README, Backup and \
         restore); `latchkey backup` copies the embedded database file only"
    )]
    Shared,
    #[error("{} exists already: a backup never writes over a file", .0.display())]
    Exists(PathBuf),
    #[error(transparent)]
    Copy(#[from] CopyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Writes a consistent copy of this database to the new file `path` (made 0600) and
    /// returns its schema version. A failure removes what was written.
    pub fn back_up_to(&self, path: &Path) -> Result<u64, BackupError> {
        if !matches!(&*self.backend, Backend::Redb(_)) {
            return Err(BackupError::Shared);
        }
        if path.exists() {
            return Err(BackupError::Exists(path.to_owned()));
        }
        let copied = (|| {
            let snapshot = self.read()?;
            let version = snapshot.schema_version()?;
            let target = Store::open(path)?;
            target.write(|tx| copy_all(&snapshot, tx))?;
            Ok::<u64, BackupError>(version)
        })();
        if copied.is_err() {
            // Half a copy is no backup.
            let _ = std::fs::remove_file(path);
        }
        copied
    }
}
