//! Single-use tokens that carry their own state (sealed), spent once: the record of a use
//! is all the store keeps of them.

use super::StoreError;
use super::error::db;
use super::kv::ReadableTable;
use super::schema::TokenHash;
use super::tx::WriteTx;

impl WriteTx<'_> {
    /// Records the use of the token whose hash is `hash`, good until `until`; `false` when it
    /// was used before (a replay), in which case nothing changes.
    pub fn spend_token(&mut self, hash: TokenHash, until: i64) -> Result<bool, StoreError> {
        let table = self.t.spent_tokens_mut()?;
        if table
            .get(hash)
            .map_err(db("reading spent tokens"))?
            .is_some()
        {
            return Ok(false);
        }
        table
            .insert(hash, until)
            .map_err(db("recording a spent token"))?;
        Ok(true)
    }

    /// Forgets uses of tokens that expired before `now` (they are refused as expired anyway).
    pub fn prune_spent_tokens(&mut self, now: i64) -> Result<(), StoreError> {
        self.t
            .spent_tokens_mut()?
            .retain(|_, until| until >= now)
            .map_err(db("pruning spent tokens"))
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;

    #[test]
    fn a_token_is_spent_once_and_forgotten_once_expired() {
        let store = Store::memory().unwrap();
        let hash = [7; 32];
        assert!(store.write(|tx| tx.spend_token(hash, 100)).unwrap());
        assert!(!store.write(|tx| tx.spend_token(hash, 100)).unwrap());
        store.write(|tx| tx.prune_spent_tokens(100)).unwrap();
        assert!(!store.write(|tx| tx.spend_token(hash, 100)).unwrap());
        store.write(|tx| tx.prune_spent_tokens(101)).unwrap();
        assert!(store.write(|tx| tx.spend_token(hash, 200)).unwrap());
    }
}
