//! Export bundles, for the admin socket: the store writes the bundle (`store::bundle`); this
//! puts it in a new private file and records who took it.

use std::io::Write as _;
use std::path::Path;

use super::audit::detail;
use super::{Actor, Idm};
use crate::private_files;
use crate::store::{BundleError, ExportSummary};

impl Idm {
    /// Writes an export bundle of the whole database to the new file `path` (0600). A failure
    /// removes what was written. Audited as `export_taken`.
    pub fn export_to(&self, actor: &Actor, path: &Path) -> Result<ExportSummary, BundleError> {
        let written = (|| {
            let file = private_files::open_options()
                .create_new(true)
                .open(path)
                .map_err(BundleError::Write)?;
            let mut out = std::io::BufWriter::new(file);
            let summary = self.store.export_to(&mut out)?;
            out.flush().map_err(BundleError::Write)?;
            out.get_ref().sync_all().map_err(BundleError::Write)?;
            Ok::<_, BundleError>(summary)
        })();
        let summary = match written {
            Ok(summary) => summary,
            Err(e) => {
                let _ = std::fs::remove_file(path);
                return Err(e);
            }
        };
        if let Err(e) = self.record_audit(
            actor,
            "export_taken",
            None,
            vec![
                detail("schema_version", summary.schema_version.to_string()),
                detail("entries", summary.entries.to_string()),
            ],
        ) {
            tracing::warn!("an export was taken but could not be audited: {e}");
        }
        Ok(summary)
    }
}
