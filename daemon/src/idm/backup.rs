//! Online backups, for the admin socket: the store makes the copy (`store::backup`); this
//! records who took one.

use std::path::Path;

use super::audit::detail;
use super::{Actor, Idm};
use crate::store::BackupError;

impl Idm {
    /// Writes a consistent copy of the database to the new file `path`; returns its schema
    /// version and the id of the key its secrets are sealed with. Audited as `backup_taken`.
    pub fn back_up_to(&self, actor: &Actor, path: &Path) -> Result<(u64, String), BackupError> {
        let version = self.store.back_up_to(path)?;
        let key_id = self.sealer().key_id().to_string();
        if let Err(e) = self.record_audit(
            actor,
            "backup_taken",
            None,
            vec![detail("schema_version", version.to_string())],
        ) {
            tracing::warn!("a backup was taken but could not be audited: {e}");
        }
        Ok((version, key_id))
    }
}
