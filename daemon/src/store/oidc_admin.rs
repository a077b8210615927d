//! OpenID Connect administration data: clients, signing keys, consents and
//! custom claims. Each is one table (see `schema`); a client's consents are
//! found by scanning `CONSENTS` (deleting a client is rare and the table
//! holds one small row per user and app, so no second index is kept).

use super::kv::{KvTable as Table, ReadableTable};

use super::StoreError;
use super::error::db;
use super::records::{
    ClaimsRecord, ClientRecord, ConsentRecord, GroupId, SigningKeyRecord, UserId, decode, encode,
};
use super::schema::IdBytes;
use super::tx::{Access, Tables, WriteTx};

/// Whose custom claims, as the `CLAIMS` key holds it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClaimsOwner {
    User(UserId),
    Group(GroupId),
}

impl ClaimsOwner {
    fn key(self) -> (u8, IdBytes) {
        match self {
            ClaimsOwner::User(id) => (0, id.to_bytes()),
            ClaimsOwner::Group(id) => (1, id.to_bytes()),
        }
    }
}

fn consent_range(user: IdBytes) -> std::ops::RangeFrom<(IdBytes, &'static str)> {
    (user, "")..
}

impl<A: Access> Tables<A> {
    pub fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.t
            .clients()?
            .get(client_id)
            .map_err(db("reading an OIDC client"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()
    }

    /// Every client, in client id order.
    pub fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        let mut out = Vec::new();
        for entry in self
            .t
            .clients()?
            .iter()
            .map_err(db("listing OIDC clients"))?
        {
            let (_, bytes) = entry.map_err(db("listing OIDC clients"))?;
            out.push(decode(bytes.value())?);
        }
        Ok(out)
    }

    /// Every signing key (active, previous), in kid order.
    pub fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let mut out = Vec::new();
        for entry in self
            .t
            .signing_keys()?
            .iter()
            .map_err(db("reading signing keys"))?
        {
            let (_, bytes) = entry.map_err(db("reading signing keys"))?;
            out.push(decode(bytes.value())?);
        }
        Ok(out)
    }

    pub fn consent(
        &self,
        user: UserId,
        client_id: &str,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        self.t
            .consents()?
            .get((user.to_bytes(), client_id))
            .map_err(db("reading a consent"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()
    }

    /// The user's consents with their client ids, in client id order.
    pub fn user_consents(&self, user: UserId) -> Result<Vec<(String, ConsentRecord)>, StoreError> {
        let id = user.to_bytes();
        let mut out = Vec::new();
        for entry in self
            .t
            .consents()?
            .range(consent_range(id))
            .map_err(db("reading consents"))?
        {
            let (key, bytes) = entry.map_err(db("reading consents"))?;
            let (owner, client_id) = key.value();
            if owner != id {
                break;
            }
            out.push((client_id.to_owned(), decode(bytes.value())?));
        }
        Ok(out)
    }

    pub fn claims(&self, owner: ClaimsOwner) -> Result<Option<ClaimsRecord>, StoreError> {
        self.t
            .claims()?
            .get(owner.key())
            .map_err(db("reading custom claims"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()
    }
}

impl WriteTx<'_> {
    /// Inserts or replaces a client.
    pub fn put_client(&mut self, client: &ClientRecord) -> Result<(), StoreError> {
        self.t
            .clients_mut()?
            .insert(client.client_id.as_str(), encode(client)?.as_slice())
            .map_err(db("writing an OIDC client"))?;
        Ok(())
    }

    /// Deletes a client, every consent given to it, and (through
    /// [`WriteTx::revoke_client_tokens`]) every token issued to it.
    pub fn delete_client(&mut self, client_id: &str) -> Result<ClientRecord, StoreError> {
        let removed = self
            .t
            .clients_mut()?
            .remove(client_id)
            .map_err(db("deleting an OIDC client"))?
            .map(|bytes| decode::<ClientRecord>(bytes.value()))
            .transpose()?
            .ok_or(StoreError::NotFound)?;
        let mut doomed = Vec::new();
        for entry in self.t.consents()?.iter().map_err(db("scanning consents"))? {
            let (key, _) = entry.map_err(db("scanning consents"))?;
            let (user, client) = key.value();
            if client == client_id {
                doomed.push(user);
            }
        }
        for user in doomed {
            self.t
                .consents_mut()?
                .remove((user, client_id))
                .map_err(db("deleting a consent"))?;
        }
        self.revoke_client_tokens(client_id)?;
        Ok(removed)
    }

    /// Inserts or replaces a signing key.
    pub fn put_signing_key(&mut self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        self.t
            .signing_keys_mut()?
            .insert(key.kid.as_str(), encode(key)?.as_slice())
            .map_err(db("writing a signing key"))?;
        self.keys_changed = true;
        Ok(())
    }

    /// False if there was no such key.
    pub fn remove_signing_key(&mut self, kid: &str) -> Result<bool, StoreError> {
        let removed = self
            .t
            .signing_keys_mut()?
            .remove(kid)
            .map_err(db("removing a signing key"))?
            .is_some();
        self.keys_changed |= removed;
        Ok(removed)
    }

    pub fn put_consent(
        &mut self,
        user: UserId,
        client_id: &str,
        consent: &ConsentRecord,
    ) -> Result<(), StoreError> {
        self.t
            .consents_mut()?
            .insert((user.to_bytes(), client_id), encode(consent)?.as_slice())
            .map_err(db("writing a consent"))?;
        Ok(())
    }

    /// Removes one consent; `None` if there was none. The user's tokens for
    /// the client are revoked through [`WriteTx::revoke_user_client_tokens`].
    pub fn remove_consent(
        &mut self,
        user: UserId,
        client_id: &str,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        let removed = self
            .t
            .consents_mut()?
            .remove((user.to_bytes(), client_id))
            .map_err(db("removing a consent"))?
            .map(|bytes| decode::<ConsentRecord>(bytes.value()))
            .transpose()?;
        self.revoke_user_client_tokens(user, client_id)?;
        Ok(removed)
    }

    /// Replaces an owner's claims; an empty list removes the row.
    pub fn put_claims(
        &mut self,
        owner: ClaimsOwner,
        claims: &ClaimsRecord,
    ) -> Result<(), StoreError> {
        if claims.claims.is_empty() {
            self.t
                .claims_mut()?
                .remove(owner.key())
                .map_err(db("removing custom claims"))?;
        } else {
            self.t
                .claims_mut()?
                .insert(owner.key(), encode(claims)?.as_slice())
                .map_err(db("writing custom claims"))?;
        }
        Ok(())
    }

    /// What a deleted user leaves behind here: consents and custom claims.
    pub(super) fn remove_user_oidc_data(&mut self, user: UserId) -> Result<(), StoreError> {
        let id = user.to_bytes();
        let clients: Vec<String> = self
            .user_consents(user)?
            .into_iter()
            .map(|(client_id, _)| client_id)
            .collect();
        for client_id in clients {
            remove_key(self.t.consents_mut()?, (id, client_id.as_str()))?;
            self.revoke_user_client_tokens(user, &client_id)?;
        }
        // Families of clients without a consent (issued before every grant recorded one).
        self.remove_user_refresh_tokens_where(user, |_| true)?;
        self.t
            .claims_mut()?
            .remove(ClaimsOwner::User(user).key())
            .map_err(db("removing custom claims"))?;
        Ok(())
    }

    /// What a deleted group leaves behind here: its custom claims.
    pub(super) fn remove_group_oidc_data(&mut self, group: GroupId) -> Result<(), StoreError> {
        self.t
            .claims_mut()?
            .remove(ClaimsOwner::Group(group).key())
            .map_err(db("removing custom claims"))?;
        Ok(())
    }
}

fn remove_key(
    table: &mut Table<'_, (IdBytes, &'static str), &'static [u8]>,
    key: (IdBytes, &str),
) -> Result<(), StoreError> {
    table.remove(key).map_err(db("removing a consent"))?;
    Ok(())
}

// --- Token revocation when a client or a consent goes --------------------
//
// The refresh-token and revocation tables belong to the token flows. These
// run inside the same write transaction as the client deletion or consent
// revocation that calls them, so either everything is revoked or nothing
// changes.

impl WriteTx<'_> {
    /// Revokes every token and grant issued to `client_id` (the client is
    /// being deleted). Filled in by the token flows.
    /// Its refresh tokens go; its access tokens die with it (checks need the client to
    /// exist).
    pub fn revoke_client_tokens(&mut self, client_id: &str) -> Result<(), StoreError> {
        self.remove_client_refresh_tokens(client_id)?;
        Ok(())
    }

    /// Revokes every token and grant `user` holds for `client_id` (their
    /// consent was revoked, or they were deleted). Filled in by the token flows.
    pub fn revoke_user_client_tokens(
        &mut self,
        user: UserId,
        client_id: &str,
    ) -> Result<(), StoreError> {
        // A new epoch ends every grant made before, stored or not (access tokens carry it).
        self.bump_grant_epoch(user, client_id)?;
        self.remove_user_refresh_tokens_where(user, |t| t.client_id == client_id)?;
        Ok(())
    }
}
