//! Signup tokens: keyed by the SHA-256 of the token, with an index from the
//! public id (what the console lists and revokes by) to that hash. The use
//! count lives in the record and is raised in the same write transaction
//! that creates the account, so concurrent signups cannot overshoot it.

use super::kv::ReadableTable;

use super::StoreError;
use super::error::db;
use super::records::{SignupTokenRecord, decode, encode};
use super::schema::TokenHash;
use super::tx::{Access, Tables, WriteTx};

impl<A: Access> Tables<A> {
    pub fn signup_token(&self, hash: &TokenHash) -> Result<Option<SignupTokenRecord>, StoreError> {
        self.t
            .signup_tokens()?
            .get(hash)
            .map_err(db("reading a signup token"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()
    }

    /// The hash of the token with this public id.
    pub fn signup_token_hash(&self, id: &str) -> Result<Option<TokenHash>, StoreError> {
        Ok(self
            .t
            .signup_token_ids()?
            .get(id)
            .map_err(db("reading the signup token id index"))?
            .map(|hash| hash.value()))
    }

    /// Every stored signup token with its hash (spent and expired ones too).
    pub fn signup_tokens(&self) -> Result<Vec<(TokenHash, SignupTokenRecord)>, StoreError> {
        let mut out = Vec::new();
        for entry in self
            .t
            .signup_tokens()?
            .iter()
            .map_err(db("reading signup tokens"))?
        {
            let (key, bytes) = entry.map_err(db("reading signup tokens"))?;
            out.push((key.value(), decode(bytes.value())?));
        }
        Ok(out)
    }
}

impl WriteTx<'_> {
    /// Inserts or replaces a signup token and its id index entry. A new
    /// token whose hash or id is already stored is a `Conflict`.
    pub fn put_signup_token(
        &mut self,
        hash: &TokenHash,
        token: &SignupTokenRecord,
    ) -> Result<(), StoreError> {
        if let Some(existing) = self.signup_token_hash(&token.id)?
            && existing != *hash
        {
            return Err(StoreError::Conflict { field: "id" });
        }
        self.t
            .signup_tokens_mut()?
            .insert(hash, encode(token)?.as_slice())
            .map_err(db("writing a signup token"))?;
        self.t
            .signup_token_ids_mut()?
            .insert(token.id.as_str(), hash)
            .map_err(db("writing a signup token"))?;
        Ok(())
    }

    /// Removes tokens that expired at or before `before`; returns how many.
    pub fn remove_signup_tokens_expired_before(&mut self, before: i64) -> Result<u64, StoreError> {
        let old: Vec<(TokenHash, String)> = self
            .signup_tokens()?
            .into_iter()
            .filter(|(_, t)| t.expires_at <= before)
            .map(|(hash, t)| (hash, t.id))
            .collect();
        for (hash, id) in &old {
            self.t
                .signup_tokens_mut()?
                .remove(hash)
                .map_err(db("removing a signup token"))?;
            self.t
                .signup_token_ids_mut()?
                .remove(id.as_str())
                .map_err(db("removing a signup token"))?;
        }
        Ok(old.len() as u64)
    }
}
