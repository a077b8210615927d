//! Email verification links: the record behind each link (keyed by the
//! SHA-256 of its token) and the per-user index that counts a user's
//! outstanding links and removes them with the user.

use super::kv::ReadableTable;

use super::StoreError;
use super::access::{expired_hashes, user_hashes};
use super::error::db;
use super::records::{EmailVerificationRecord, UserId, decode, encode};
use super::schema::TokenHash;
use super::tx::{Access, Tables, WriteTx};

impl<A: Access> Tables<A> {
    pub fn email_verification(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<EmailVerificationRecord>, StoreError> {
        self.t
            .email_verifications()?
            .get(hash)
            .map_err(db("reading an email verification link"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()
    }

    /// The user's outstanding verification links (expired ones included
    /// until the sweeper removes them).
    pub fn user_email_verifications(
        &self,
        user: UserId,
    ) -> Result<Vec<(TokenHash, EmailVerificationRecord)>, StoreError> {
        let mut out = Vec::new();
        for hash in user_hashes(self.t.user_email_verifications()?, user)? {
            let record = self.email_verification(&hash)?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "user {user} has a dangling email verification index entry"
                ))
            })?;
            out.push((hash, record));
        }
        Ok(out)
    }
}

impl WriteTx<'_> {
    /// Stores a new link; a token hash already present is a `Conflict`.
    pub fn put_email_verification(
        &mut self,
        hash: &TokenHash,
        record: &EmailVerificationRecord,
    ) -> Result<(), StoreError> {
        if self.email_verification(hash)?.is_some() {
            return Err(StoreError::Conflict { field: "token" });
        }
        self.t
            .email_verifications_mut()?
            .insert(hash, encode(record)?.as_slice())
            .map_err(db("writing an email verification link"))?;
        self.t
            .user_email_verifications_mut()?
            .insert((record.user_id.to_bytes(), *hash), ())
            .map_err(db("writing an email verification link"))?;
        Ok(())
    }

    /// Removes a link and its index entry; `None` if there was none.
    pub fn remove_email_verification(
        &mut self,
        hash: &TokenHash,
    ) -> Result<Option<EmailVerificationRecord>, StoreError> {
        let Some(record) = self.email_verification(hash)? else {
            return Ok(None);
        };
        self.t
            .email_verifications_mut()?
            .remove(hash)
            .map_err(db("removing an email verification link"))?;
        self.t
            .user_email_verifications_mut()?
            .remove((record.user_id.to_bytes(), *hash))
            .map_err(db("removing an email verification link"))?;
        Ok(Some(record))
    }

    /// Removes every link of the user; returns how many.
    pub fn remove_user_email_verifications(&mut self, user: UserId) -> Result<u64, StoreError> {
        let hashes = user_hashes(self.t.user_email_verifications()?, user)?;
        for hash in &hashes {
            self.remove_email_verification(hash)?;
        }
        Ok(hashes.len() as u64)
    }

    /// Removes links that expired at or before `now`; returns how many.
    pub fn remove_expired_email_verifications(&mut self, now: i64) -> Result<u64, StoreError> {
        let expired = expired_hashes::<_, EmailVerificationRecord>(
            self.t.email_verifications()?,
            |record| record.expires_at <= now,
        )?;
        for hash in &expired {
            self.remove_email_verification(hash)?;
        }
        Ok(expired.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{EmailVerificationRecord, Store, StoreError, UserId};

    fn link(user: UserId, expires_at: i64) -> EmailVerificationRecord {
        EmailVerificationRecord {
            user_id: user,
            address: "alice@example.com".into(),
            created_at: 0,
            expires_at,
        }
    }

    #[test]
    fn links_are_indexed_per_user_removed_once_and_swept_when_expired() {
        let store = Store::memory().unwrap();
        let (alice, bob) = (UserId::random(), UserId::random());
        store
            .write(|tx| {
                tx.put_email_verification(&[1; 32], &link(alice, 100))?;
                tx.put_email_verification(&[2; 32], &link(alice, 200))?;
                tx.put_email_verification(&[3; 32], &link(bob, 100))?;
                let again = tx.put_email_verification(&[3; 32], &link(bob, 100));
                assert!(matches!(again, Err(StoreError::Conflict { .. })));
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let tx = store.read().unwrap();
        assert_eq!(tx.user_email_verifications(alice).unwrap().len(), 2);
        drop(tx);
        store
            .write(|tx| {
                assert!(tx.remove_email_verification(&[1; 32])?.is_some());
                assert!(tx.remove_email_verification(&[1; 32])?.is_none());
                assert_eq!(tx.remove_expired_email_verifications(150)?, 1);
                assert_eq!(tx.remove_user_email_verifications(alice)?, 1);
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let tx = store.read().unwrap();
        assert!(tx.user_email_verifications(alice).unwrap().is_empty());
        assert!(tx.user_email_verifications(bob).unwrap().is_empty());
        assert!(tx.email_verification(&[2; 32]).unwrap().is_none());
    }
}
