//! One read snapshot that several idm reads share, so that a request which asks several
//! things (the authorization endpoint: the browser's session, then the user's standing with
//! the client) costs one read transaction, and its rows can be asked ahead together.

use super::{Idm, IdmError};
use crate::store::ReadTx;

/// A consistent view of the store, opaque outside idm.
#[derive(Debug)]
pub struct Snapshot(ReadTx);

impl Snapshot {
    pub(crate) fn new(tx: ReadTx) -> Snapshot {
        Snapshot(tx)
    }

    pub(crate) fn tx(&self) -> &ReadTx {
        &self.0
    }
}

impl Idm {
    /// A snapshot to pass to the `*_in` reads.
    pub fn snapshot(&self) -> Result<Snapshot, IdmError> {
        Ok(Snapshot(self.store.read()?))
    }
}
