//! OIDC token state that must survive a restart: refresh tokens (keyed by the SHA-256 of the
//! token, indexed per grant and per user in the same transaction) and the revocation lists
//! (`REVOKED_TOKENS`, `REVOKED_GRANTS`, `GRANT_EPOCHS`). Everything with an expiry is pruned
//! by [`WriteTx::prune_oidc`].

use super::kv::ReadableTable;

use super::StoreError;
use super::error::db;
use super::records::{RefreshTokenRecord, UserId, decode, encode};
use super::schema::TokenHash;
use super::tx::{Access, Tables, WriteTx};

fn grant_range(grant: [u8; 16]) -> std::ops::RangeInclusive<([u8; 16], TokenHash)> {
    (grant, [0; 32])..=(grant, [0xff; 32])
}

impl<A: Access> Tables<A> {
    pub fn refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        self.t
            .refresh_tokens()?
            .get(hash)
            .map_err(db("reading a refresh token"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()
    }

    /// A user's refresh tokens with their hashes (used and expired ones too).
    pub fn user_refresh_tokens(
        &self,
        user: UserId,
    ) -> Result<Vec<(TokenHash, RefreshTokenRecord)>, StoreError> {
        let id = user.to_bytes();
        let mut hashes = Vec::new();
        for entry in self
            .t
            .user_refresh_tokens()?
            .range((id, [0; 32])..=(id, [0xff; 32]))
            .map_err(db("reading a user's refresh tokens"))?
        {
            let (key, _) = entry.map_err(db("reading a user's refresh tokens"))?;
            hashes.push(key.value().1);
        }
        let mut out = Vec::with_capacity(hashes.len());
        for hash in hashes {
            if let Some(record) = self.refresh_token(&hash)? {
                out.push((hash, record));
            }
        }
        Ok(out)
    }

    /// Whether the access token with this `jti` was revoked.
    pub fn token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(self
            .t
            .revoked_tokens()?
            .get(jti)
            .map_err(db("reading revoked tokens"))?
            .is_some())
    }

    /// Whether any of these grant selectors (see `schema::REVOKED_GRANTS`) is revoked.
    pub fn any_grant_revoked(&self, selectors: &[&str]) -> Result<bool, StoreError> {
        self.t
            .revoked_grants()?
            .contains_any(selectors)
            .map_err(db("reading revoked grants"))
    }

    /// The revocation epoch of (user, client); 0 when never revoked.
    pub fn grant_epoch(&self, user: UserId, client_id: &str) -> Result<u64, StoreError> {
        Ok(self
            .t
            .grant_epochs()?
            .get((user.to_bytes(), client_id))
            .map_err(db("reading grant epochs"))?
            .map_or(0, |v| v.value()))
    }
}

impl WriteTx<'_> {
    /// Inserts or replaces a refresh token and its index entries.
    pub fn put_refresh_token(
        &mut self,
        hash: &TokenHash,
        token: &RefreshTokenRecord,
    ) -> Result<(), StoreError> {
        self.t
            .refresh_tokens_mut()?
            .insert(hash, encode(token)?.as_slice())
            .map_err(db("writing a refresh token"))?;
        self.t
            .grant_refresh_tokens_mut()?
            .insert((token.grant_id, *hash), ())
            .map_err(db("writing a refresh token"))?;
        self.t
            .user_refresh_tokens_mut()?
            .insert((token.user_id.to_bytes(), *hash), ())
            .map_err(db("writing a refresh token"))?;
        Ok(())
    }

    pub fn remove_refresh_token(
        &mut self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        let removed = self
            .t
            .refresh_tokens_mut()?
            .remove(hash)
            .map_err(db("removing a refresh token"))?
            .map(|bytes| decode::<RefreshTokenRecord>(bytes.value()))
            .transpose()?;
        if let Some(token) = &removed {
            self.t
                .grant_refresh_tokens_mut()?
                .remove((token.grant_id, *hash))
                .map_err(db("removing a refresh token"))?;
            self.t
                .user_refresh_tokens_mut()?
                .remove((token.user_id.to_bytes(), *hash))
                .map_err(db("removing a refresh token"))?;
        }
        Ok(removed)
    }

    /// Removes every refresh token of one grant (the rotation family); returns how many.
    pub fn remove_grant_refresh_tokens(&mut self, grant: [u8; 16]) -> Result<u32, StoreError> {
        let mut hashes = Vec::new();
        for entry in self
            .t
            .grant_refresh_tokens()?
            .range(grant_range(grant))
            .map_err(db("reading a refresh-token family"))?
        {
            let (key, _) = entry.map_err(db("reading a refresh-token family"))?;
            hashes.push(key.value().1);
        }
        let mut count = 0u32;
        for hash in hashes {
            if self.remove_refresh_token(&hash)?.is_some() {
                count = count.saturating_add(1);
            }
        }
        Ok(count)
    }

    /// Removes a user's refresh tokens that `matches` selects; returns how many families
    /// (grants) they belonged to.
    pub fn remove_user_refresh_tokens_where(
        &mut self,
        user: UserId,
        matches: impl Fn(&RefreshTokenRecord) -> bool,
    ) -> Result<u32, StoreError> {
        let mut families: Vec<[u8; 16]> = Vec::new();
        for (hash, token) in self.user_refresh_tokens(user)? {
            if matches(&token)
                && self.remove_refresh_token(&hash)?.is_some()
                && !families.contains(&token.grant_id)
            {
                families.push(token.grant_id);
            }
        }
        Ok(u32::try_from(families.len()).unwrap_or(u32::MAX))
    }

    /// Removes every refresh token issued to a client (the client is being deleted); returns
    /// how many. A full scan: clients are deleted rarely.
    pub fn remove_client_refresh_tokens(&mut self, client_id: &str) -> Result<u32, StoreError> {
        let mut hashes = Vec::new();
        for entry in self
            .t
            .refresh_tokens()?
            .iter()
            .map_err(db("scanning refresh tokens"))?
        {
            let (key, bytes) = entry.map_err(db("scanning refresh tokens"))?;
            if decode::<RefreshTokenRecord>(bytes.value())?.client_id == client_id {
                hashes.push(key.value());
            }
        }
        let mut count = 0u32;
        for hash in hashes {
            if self.remove_refresh_token(&hash)?.is_some() {
                count = count.saturating_add(1);
            }
        }
        Ok(count)
    }

    /// Records an access token as revoked until its `exp`.
    pub fn revoke_token(&mut self, jti: &str, exp: i64) -> Result<(), StoreError> {
        self.t
            .revoked_tokens_mut()?
            .insert(jti, exp)
            .map_err(db("writing revoked tokens"))?;
        Ok(())
    }

    /// Records a grant selector as revoked until `until` (keeping a later existing date).
    pub fn revoke_grant(&mut self, selector: &str, until: i64) -> Result<(), StoreError> {
        let existing = self
            .t
            .revoked_grants()?
            .get(selector)
            .map_err(db("reading revoked grants"))?
            .map(|v| v.value());
        let until = existing.map_or(until, |e| e.max(until));
        self.t
            .revoked_grants_mut()?
            .insert(selector, until)
            .map_err(db("writing revoked grants"))?;
        Ok(())
    }

    /// Bumps the (user, client) epoch, ending every grant made before; returns the new one.
    pub fn bump_grant_epoch(&mut self, user: UserId, client_id: &str) -> Result<u64, StoreError> {
        let next = self.grant_epoch(user, client_id)?.saturating_add(1);
        self.t
            .grant_epochs_mut()?
            .insert((user.to_bytes(), client_id), next)
            .map_err(db("writing grant epochs"))?;
        Ok(next)
    }

    /// Removes refresh tokens and revocation entries whose time has passed (at or before
    /// `now`); returns how many entries went.
    pub fn prune_oidc(&mut self, now: i64) -> Result<u64, StoreError> {
        let mut expired = Vec::new();
        for entry in self
            .t
            .refresh_tokens()?
            .iter()
            .map_err(db("scanning refresh tokens"))?
        {
            let (key, bytes) = entry.map_err(db("scanning refresh tokens"))?;
            if decode::<RefreshTokenRecord>(bytes.value())?.expires_at <= now {
                expired.push(key.value());
            }
        }
        let mut count = 0u64;
        for hash in &expired {
            if self.remove_refresh_token(hash)?.is_some() {
                count = count.saturating_add(1);
            }
        }
        let before = self
            .t
            .revoked_tokens()?
            .len()
            .map_err(db("counting revoked tokens"))?;
        self.t
            .revoked_tokens_mut()?
            .retain(|_, exp| exp > now)
            .map_err(db("pruning revoked tokens"))?;
        let after = self
            .t
            .revoked_tokens()?
            .len()
            .map_err(db("counting revoked tokens"))?;
        count = count.saturating_add(before.saturating_sub(after));
        let before = self
            .t
            .revoked_grants()?
            .len()
            .map_err(db("counting revoked grants"))?;
        self.t
            .revoked_grants_mut()?
            .retain(|_, until| until > now)
            .map_err(db("pruning revoked grants"))?;
        let after = self
            .t
            .revoked_grants()?
            .len()
            .map_err(db("counting revoked grants"))?;
        Ok(count.saturating_add(before.saturating_sub(after)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn token(grant: u8, user: UserId, client: &str, expires_at: i64) -> RefreshTokenRecord {
        RefreshTokenRecord {
            grant_id: [grant; 16],
            user_id: user,
            client_id: client.to_owned(),
            sid: Some("abcd".to_owned()),
            scopes: vec!["openid".to_owned(), "offline_access".to_owned()],
            auth_time: 10,
            amr: vec!["hwk".to_owned()],
            nonce: None,
            epoch: 0,
            family_started_at: 10,
            issued_at: 10,
            expires_at,
            used: false,
        }
    }

    #[test]
    fn families_users_and_clients_are_removed_with_their_indexes() {
        let store = Store::memory().unwrap();
        let alice = UserId::random();
        store
            .write(|tx| {
                tx.put_refresh_token(&[1; 32], &token(1, alice, "c1", 100))?;
                tx.put_refresh_token(&[2; 32], &token(1, alice, "c1", 100))?;
                tx.put_refresh_token(&[3; 32], &token(2, alice, "c2", 100))?;
                tx.put_refresh_token(&[4; 32], &token(3, alice, "c2", 100))?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let removed = store
            .write(|tx| tx.remove_grant_refresh_tokens([1; 16]))
            .unwrap();
        assert_eq!(removed, 2);
        let tx = store.read().unwrap();
        assert!(tx.refresh_token(&[1; 32]).unwrap().is_none());
        assert_eq!(tx.user_refresh_tokens(alice).unwrap().len(), 2);
        drop(tx);
        let removed = store
            .write(|tx| tx.remove_user_refresh_tokens_where(alice, |t| t.grant_id == [2; 16]))
            .unwrap();
        assert_eq!(removed, 1);
        let removed = store
            .write(|tx| tx.remove_client_refresh_tokens("c2"))
            .unwrap();
        assert_eq!(removed, 1);
        assert!(
            store
                .read()
                .unwrap()
                .user_refresh_tokens(alice)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn revocations_and_epochs_are_kept_until_pruned() {
        let store = Store::memory().unwrap();
        let alice = UserId::random();
        store
            .write(|tx| {
                tx.revoke_token("jti-1", 50)?;
                tx.revoke_token("jti-2", 500)?;
                tx.revoke_grant("g:x", 50)?;
                tx.revoke_grant("g:x", 40)?; // an earlier date does not shorten it
                tx.revoke_grant("s:y", 500)?;
                tx.put_refresh_token(&[1; 32], &token(1, alice, "c1", 50))?;
                tx.put_refresh_token(&[2; 32], &token(1, alice, "c1", 500))?;
                tx.bump_grant_epoch(alice, "c1")?;
                tx.bump_grant_epoch(alice, "c1")
            })
            .unwrap();
        let tx = store.read().unwrap();
        assert!(tx.token_revoked("jti-1").unwrap());
        assert!(!tx.token_revoked("jti-3").unwrap());
        assert!(tx.any_grant_revoked(&["g:nope", "g:x"]).unwrap());
        assert!(!tx.any_grant_revoked(&["g:nope"]).unwrap());
        assert_eq!(tx.grant_epoch(alice, "c1").unwrap(), 2);
        assert_eq!(tx.grant_epoch(alice, "c2").unwrap(), 0);
        drop(tx);
        assert_eq!(store.write(|tx| tx.prune_oidc(50)).unwrap(), 3);
        let tx = store.read().unwrap();
        assert!(!tx.token_revoked("jti-1").unwrap());
        assert!(tx.token_revoked("jti-2").unwrap());
        assert!(!tx.any_grant_revoked(&["g:x"]).unwrap());
        assert!(tx.any_grant_revoked(&["s:y"]).unwrap());
        assert!(tx.refresh_token(&[1; 32]).unwrap().is_none());
        assert!(tx.refresh_token(&[2; 32]).unwrap().is_some());
    }
}
