//! The LDAP id indexes: the directory's stable unique id of an entry → the
//! user or group a sync made for it. Written by the sync in the same write
//! transaction as the record.

use std::collections::HashMap;

use super::kv::ReadableTable;

use super::StoreError;
use super::error::db;
use super::index;
use super::records::{GroupId, UserId};
use super::tx::{Access, Tables, WriteTx};

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
}
