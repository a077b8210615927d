//! What `META` holds besides the schema version: the id of the key that sealed this
//! database's secrets (see `crate::sealing`), so a start with another key, or without the key
//! file, is recognised before anything is read or written.

use super::kv::ReadableTable;

use super::StoreError;
use super::error::db;
use super::tx::{Access, Tables, WriteTx};

const ENCRYPTION_KEY_ID: &str = "encryption_key_id";

/// A key id is 8 bytes.
pub type KeyIdBytes = [u8; 8];

impl<A: Access> Tables<A> {
    /// The id of the key the secrets are sealed with; `None` before the first start with one.
    pub fn encryption_key_id(&self) -> Result<Option<KeyIdBytes>, StoreError> {
        let Some(bytes) = self
            .t
            .meta()?
            .get(ENCRYPTION_KEY_ID)
            .map_err(db("reading the encryption key id"))?
        else {
            return Ok(None);
        };
        let id = bytes
            .value()
            .try_into()
            .map_err(|_| StoreError::Corrupt("the encryption key id is not 8 bytes".to_owned()))?;
        Ok(Some(id))
    }
}

impl WriteTx<'_> {
    pub fn set_encryption_key_id(&mut self, id: KeyIdBytes) -> Result<(), StoreError> {
        self.t
            .meta_mut()?
            .insert(ENCRYPTION_KEY_ID, id.as_slice())
            .map_err(db("writing the encryption key id"))?;
        Ok(())
    }
}
