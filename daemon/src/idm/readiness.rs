//! Whether this process should be sent traffic (`/readyz`): the database answers a read, and
//! its schema is the one this binary speaks. During a rolling upgrade on PostgreSQL, a newer
//! replica may migrate the shared schema past this binary's; this one then says it is not
//! ready (and why), so the load balancer sends the traffic to the new replicas.

use super::{Idm, IdmError};
use crate::store::SCHEMA_VERSION;

/// Why the process is not ready.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("the database does not answer: {0}")]
    Database(#[from] IdmError),
    #[error(
        "the database schema is version {found}, and this latchkeyd speaks version \
         {SCHEMA_VERSION}: upgrade this replica"
    )]
    Schema { found: u64 },
}

impl Idm {
    /// The PostgreSQL database's size on disk; `None` on the embedded file (whose size the
    /// caller reads from the file).
    pub fn database_size_bytes(&self) -> Result<Option<u64>, IdmError> {
        Ok(self.store.shared_size_bytes()?)
    }

    /// The schema version, when the process is ready to serve.
    pub fn readiness(&self) -> Result<u64, NotReady> {
        let found = self
            .store
            .read()
            .map_err(IdmError::from)?
            .schema_version()
            .map_err(IdmError::from)?;
        if found == SCHEMA_VERSION {
            Ok(found)
        } else {
            Err(NotReady::Schema { found })
        }
    }
}
