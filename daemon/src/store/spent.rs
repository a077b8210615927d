//! Single-use tokens that carry their own state (sealed), spent once: the record of a use
//! is all the store keeps of them.

use super::error::db;
use super::schema::TokenHash;
use super::tx::{ReadTx, WriteTx};
use super::{Backend, Store, StoreError, kv, schema};
use crate::idm::UserId;

impl Store {
    /// Records the use of the token whose hash is `hash`, good until `until`, in a
    /// transaction of its own; `false` when it was used before (a replay). On PostgreSQL this
    /// is one statement outside the write lock: spending is the hot write of every code
    /// exchange and passkey sign-in, and no writer reads this table to decide anything else.
    pub fn spend_token(&self, hash: TokenHash, until: i64) -> Result<bool, StoreError> {
        match &*self.backend {
            Backend::Postgres(database) => {
                kv::insert_once(database, schema::SPENT_TOKENS, &hash, &until)
                    .map_err(db("recording a spent token"))
            }
            Backend::Redb(_) => self.write(|tx| tx.spend_token(hash, until)),
        }
    }

    /// [`Store::spend_token`], then a snapshot taken after it, with the rows of checking a
    /// grant of `user` at `client_id` read ahead (`ReadTx::read_ahead_grant`): on PostgreSQL
    /// the spend and the reads share one round trip (the code exchange's two steps).
    pub fn spend_token_reading_grant(
        &self,
        hash: TokenHash,
        until: i64,
        user: UserId,
        client_id: &str,
        selectors: &[&str],
    ) -> Result<(bool, ReadTx), StoreError> {
        match &*self.backend {
            Backend::Postgres(database) => {
                let tx = self.read()?;
                let ahead = tx.grant_ahead(user, client_id, selectors)?;
                let spent =
                    kv::insert_once_then(database, schema::SPENT_TOKENS, &hash, &until, ahead)
                        .map_err(db("recording a spent token"))?;
                Ok((spent, tx))
            }
            Backend::Redb(_) => {
                let spent = self.spend_token(hash, until)?;
                Ok((spent, self.read()?))
            }
        }
    }
}

impl WriteTx<'_> {
    /// Records the use of the token whose hash is `hash`, good until `until`; `false` when it
    /// was used before (a replay), in which case nothing changes.
    pub fn spend_token(&mut self, hash: TokenHash, until: i64) -> Result<bool, StoreError> {
        self.t
            .spent_tokens_mut()?
            .insert_if_absent(hash, until)
            .map_err(db("recording a spent token"))
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
        assert!(store.spend_token(hash, 100).unwrap());
        assert!(!store.spend_token(hash, 100).unwrap());
        store.write(|tx| tx.prune_spent_tokens(100)).unwrap();
        assert!(!store.write(|tx| tx.spend_token(hash, 100)).unwrap());
        store.write(|tx| tx.prune_spent_tokens(101)).unwrap();
        assert!(store.write(|tx| tx.spend_token(hash, 200)).unwrap());
    }
}
