//! The LDAP id indexes: the directory's stable unique id of an entry → the
//! user or group a sync made for it, written by the sync in the same write
//! transaction as the record; and how the last sync went (`LDAP_SYNC_STATE`).

use std::collections::HashMap;

use super::kv::ReadableTable;

use super::StoreError;
use super::error::db;
use super::index;
use super::records::{GroupId, LdapSyncStateRecord, UserId, decode, encode};
use super::tx::{Access, Tables, WriteTx};

const LDAP_SYNC_STATE_KEY: &str = "last";

impl<A: Access> Tables<A> {
    /// Every directory user id → user id.
    pub fn ldap_user_ids(&self) -> Result<HashMap<String, UserId>, StoreError> {
        let mut out = HashMap::new();
        for entry in self
            .t
            .ldap_id_to_user_id()?
            .iter()
            .map_err(db("reading the LDAP user id index"))?
        {
            let (key, id) = entry.map_err(db("reading the LDAP user id index"))?;
            out.insert(key.value().to_owned(), UserId::from_bytes(id.value()));
        }
        Ok(out)
    }

    /// Every directory group id → group id.
    pub fn ldap_group_ids(&self) -> Result<HashMap<String, GroupId>, StoreError> {
        let mut out = HashMap::new();
        for entry in self
            .t
            .ldap_id_to_group_id()?
            .iter()
            .map_err(db("reading the LDAP group id index"))?
        {
            let (key, id) = entry.map_err(db("reading the LDAP group id index"))?;
            out.insert(key.value().to_owned(), GroupId::from_bytes(id.value()));
        }
        Ok(out)
    }

    pub fn user_id_by_ldap_id(&self, ldap_id: &str) -> Result<Option<UserId>, StoreError> {
        Ok(index::lookup(self.t.ldap_id_to_user_id()?, ldap_id)?.map(UserId::from_bytes))
    }

    /// How the last sync went, whichever replica ran it (default: none ran yet).
    pub fn ldap_sync_state(&self) -> Result<LdapSyncStateRecord, StoreError> {
        Ok(self
            .t
            .ldap_sync_state()?
            .get(LDAP_SYNC_STATE_KEY)
            .map_err(db("reading the LDAP sync state"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()?
            .unwrap_or_default())
    }
}

impl WriteTx<'_> {
    /// Points a directory id at a user (replacing what it pointed at).
    pub fn set_ldap_user_id(&mut self, ldap_id: &str, user: UserId) -> Result<(), StoreError> {
        self.t
            .ldap_id_to_user_id_mut()?
            .insert(ldap_id, user.to_bytes())
            .map_err(db("writing the LDAP user id index"))?;
        Ok(())
    }

    pub fn remove_ldap_user_id(&mut self, ldap_id: &str) -> Result<(), StoreError> {
        self.t
            .ldap_id_to_user_id_mut()?
            .remove(ldap_id)
            .map_err(db("writing the LDAP user id index"))?;
        Ok(())
    }

    pub fn set_ldap_group_id(&mut self, ldap_id: &str, group: GroupId) -> Result<(), StoreError> {
        self.t
            .ldap_id_to_group_id_mut()?
            .insert(ldap_id, group.to_bytes())
            .map_err(db("writing the LDAP group id index"))?;
        Ok(())
    }

    pub fn remove_ldap_group_id(&mut self, ldap_id: &str) -> Result<(), StoreError> {
        self.t
            .ldap_id_to_group_id_mut()?
            .remove(ldap_id)
            .map_err(db("writing the LDAP group id index"))?;
        Ok(())
    }

    pub fn put_ldap_sync_state(&mut self, state: &LdapSyncStateRecord) -> Result<(), StoreError> {
        self.t
            .ldap_sync_state_mut()?
            .insert(LDAP_SYNC_STATE_KEY, encode(state)?.as_slice())
            .map_err(db("writing the LDAP sync state"))?;
        Ok(())
    }
}
