//! Groups, their name index and memberships (kept in both directions).

use super::kv::ReadableTable;

use super::StoreError;
use super::error::db;
use super::index;
use super::records::{GroupId, GroupRecord, UserId, decode, encode};
use super::tx::{Access, Tables, WriteTx};

impl<A: Access> Tables<A> {
    pub fn group(&self, id: GroupId) -> Result<Option<GroupRecord>, StoreError> {
        self.t
            .groups()?
            .get(id.to_bytes())
            .map_err(db("reading a group"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()
    }

    /// By exact (lowercase) name.
    pub fn group_id_by_name(&self, name: &str) -> Result<Option<GroupId>, StoreError> {
        Ok(index::lookup(self.t.group_name_to_group_id()?, name)?.map(GroupId::from_bytes))
    }

    pub fn group_count(&self) -> Result<u64, StoreError> {
        self.t.groups()?.len().map_err(db("counting groups"))
    }

    /// Every group, ordered by name.
    pub fn groups_by_name(&self) -> Result<Vec<GroupRecord>, StoreError> {
        let mut out = Vec::new();
        for entry in self
            .t
            .group_name_to_group_id()?
            .iter()
            .map_err(db("listing groups"))?
        {
            let (name, id) = entry.map_err(db("listing groups"))?;
            let group = self
                .group(GroupId::from_bytes(id.value()))?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "the group name index points at a missing group ({})",
                        name.value()
                    ))
                })?;
            out.push(group);
        }
        Ok(out)
    }

    pub fn group_member_ids(&self, id: GroupId) -> Result<Vec<UserId>, StoreError> {
        Ok(index::linked(self.t.group_members()?, id.to_bytes())?
            .into_iter()
            .map(UserId::from_bytes)
            .collect())
    }

    pub fn group_member_count(&self, id: GroupId) -> Result<u64, StoreError> {
        index::count_linked(self.t.group_members()?, id.to_bytes())
    }
}

impl WriteTx<'_> {
    /// Inserts or replaces a group. Fails with `Conflict { field: "name" }`.
    pub fn put_group(&mut self, group: &GroupRecord) -> Result<(), StoreError> {
        let id = group.id.to_bytes();
        let old_name = self.group(group.id)?.map(|g| g.name);
        index::rekey(
            self.t.group_name_to_group_id_mut()?,
            old_name.as_deref(),
            Some(group.name.as_str()),
            id,
            "name",
        )?;
        self.t
            .groups_mut()?
            .insert(id, encode(group)?.as_slice())
            .map_err(db("writing a group"))?;
        Ok(())
    }

    /// Removes a group and every membership in it.
    pub fn delete_group(&mut self, id: GroupId) -> Result<GroupRecord, StoreError> {
        let group = self.group(id)?.ok_or(StoreError::NotFound)?;
        let bytes = id.to_bytes();
        self.t
            .group_name_to_group_id_mut()?
            .remove(group.name.as_str())
            .map_err(db("deleting a group"))?;
        let (members, user_groups) = self.t.memberships_mut()?;
        index::Links {
            forward: members,
            backward: user_groups,
        }
        .unlink_all(bytes)?;
        self.remove_group_oidc_data(id)?;
        self.t
            .groups_mut()?
            .remove(bytes)
            .map_err(db("deleting a group"))?;
        Ok(group)
    }

    /// Adds a member; false if they already were one. Both must exist.
    pub fn add_group_member(&mut self, group: GroupId, user: UserId) -> Result<bool, StoreError> {
        self.require_both(group, user)?;
        let (members, user_groups) = self.t.memberships_mut()?;
        index::Links {
            forward: members,
            backward: user_groups,
        }
        .link(group.to_bytes(), user.to_bytes())
    }

    /// Removes a member; false if they were not one.
    pub fn remove_group_member(
        &mut self,
        group: GroupId,
        user: UserId,
    ) -> Result<bool, StoreError> {
        let (members, user_groups) = self.t.memberships_mut()?;
        index::Links {
            forward: members,
            backward: user_groups,
        }
        .unlink(group.to_bytes(), user.to_bytes())
    }

    fn require_both(&self, group: GroupId, user: UserId) -> Result<(), StoreError> {
        let group_exists = self
            .t
            .groups()?
            .get(group.to_bytes())
            .map_err(db("reading a group"))?
            .is_some();
        let user_exists = self
            .t
            .users()?
            .get(user.to_bytes())
            .map_err(db("reading a user"))?
            .is_some();
        if group_exists && user_exists {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }
}
