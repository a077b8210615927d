//! Users and their indexes: lookups, the paged and filtered user list, and
//! writes that keep every index in the same transaction as the record.

use super::kv::ReadableTable;

use super::StoreError;
use super::error::db;
use super::index::{self, fold};
use super::records::{GroupId, UserId, UserRecord, decode, encode};
use super::tx::{Access, Tables, WriteTx};

/// One page of the user list.
#[derive(Debug)]
pub struct UserListing {
    /// In username order (case-insensitive).
    pub users: Vec<UserRecord>,
    /// How many users match in all.
    pub total: u64,
}

/// What the list filter looks at, lowercased; `\n` separates the fields so a
/// needle cannot match across two of them (needles never contain `\n`).
fn search_text(user: &UserRecord) -> String {
    let email = user.email.as_deref().unwrap_or("");
    let mut text = String::with_capacity(
        user.username.len()
            + email.len()
            + user.first_name.len()
            + user.last_name.len()
            + user.display_name.len()
            + 4,
    );
    for (i, field) in [
        user.username.as_str(),
        email,
        &user.first_name,
        &user.last_name,
        &user.display_name,
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            text.push('\n');
        }
        text.push_str(field);
    }
    fold(&text)
}

impl<A: Access> Tables<A> {
    pub fn user(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        self.t
            .users()?
            .get(id.to_bytes())
            .map_err(db("reading a user"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()
    }

    /// By username, case-insensitively.
    pub fn user_id_by_username(&self, username: &str) -> Result<Option<UserId>, StoreError> {
        Ok(
            index::lookup(self.t.username_to_user_id()?, fold(username).as_str())?
                .map(UserId::from_bytes),
        )
    }

    /// By email, case-insensitively.
    pub fn user_id_by_email(&self, email: &str) -> Result<Option<UserId>, StoreError> {
        Ok(
            index::lookup(self.t.email_to_user_id()?, fold(email).as_str())?
                .map(UserId::from_bytes),
        )
    }

    pub fn user_id_by_webauthn_handle(
        &self,
        handle: &[u8; 16],
    ) -> Result<Option<UserId>, StoreError> {
        Ok(index::lookup(self.t.webauthn_handle_to_user_id()?, *handle)?.map(UserId::from_bytes))
    }

    pub fn user_count(&self) -> Result<u64, StoreError> {
        self.t.users()?.len().map_err(db("counting users"))
    }

    pub fn admin_count(&self) -> Result<u64, StoreError> {
        self.t
            .admin_user_ids()?
            .len()
            .map_err(db("counting admins"))
    }

    pub fn passkey_count(&self, id: UserId) -> Result<u32, StoreError> {
        let mut count = 0u32;
        self.for_each_passkey(id, |_| count = count.saturating_add(1))?;
        Ok(count)
    }

    /// The credential ids of a user's passkeys.
    pub fn passkey_ids(&self, id: UserId) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut ids = Vec::new();
        self.for_each_passkey(id, |credential| ids.push(credential.to_vec()))?;
        Ok(ids)
    }

    /// Calls `f` with each credential id of the user, in key order.
    fn for_each_passkey(&self, id: UserId, mut f: impl FnMut(&[u8])) -> Result<(), StoreError> {
        let id = id.to_bytes();
        let empty: &[u8] = &[];
        for entry in self
            .t
            .user_passkeys()?
            .range((id, empty)..)
            .map_err(db("reading passkeys"))?
        {
            let (key, _) = entry.map_err(db("reading passkeys"))?;
            let (owner, credential) = key.value();
            if owner != id {
                break;
            }
            f(credential);
        }
        Ok(())
    }

    pub fn user_group_ids(&self, id: UserId) -> Result<Vec<GroupId>, StoreError> {
        Ok(index::linked(self.t.user_groups()?, id.to_bytes())?
            .into_iter()
            .map(GroupId::from_bytes)
            .collect())
    }

    /// A page of users in username order. `filter` (empty for all) matches a
    /// case-insensitive substring of username, email, first, last or display
    /// name. Unfiltered pages walk the username index from `offset`; filtered
    /// ones scan the compact search index and decode only the page's records.
    pub fn list_users(
        &self,
        filter: &str,
        offset: u64,
        limit: usize,
    ) -> Result<UserListing, StoreError> {
        let needle = fold(filter);
        let mut users = Vec::with_capacity(limit.min(1024));
        if needle.is_empty() {
            let total = self.user_count()?;
            let iter = self
                .t
                .username_to_user_id()?
                .iter()
                .map_err(db("listing users"))?;
            for (position, entry) in (0u64..).zip(iter) {
                if users.len() >= limit {
                    break;
                }
                let (_, id) = entry.map_err(db("listing users"))?;
                if position >= offset {
                    users.push(self.user_for_index(id.value())?);
                }
            }
            return Ok(UserListing { users, total });
        }
        let mut total = 0u64;
        if !needle.contains('\n') {
            for entry in self
                .t
                .user_search_text()?
                .iter()
                .map_err(db("filtering users"))?
            {
                let (username, text) = entry.map_err(db("filtering users"))?;
                if !text.value().contains(needle.as_str()) {
                    continue;
                }
                if total >= offset && users.len() < limit {
                    let id = index::lookup(self.t.username_to_user_id()?, username.value())?
                        .ok_or_else(|| dangling("the search index", username.value()))?;
                    users.push(self.user_for_index(id)?);
                }
                total += 1;
            }
        }
        Ok(UserListing { users, total })
    }

    fn user_for_index(&self, id: [u8; 16]) -> Result<UserRecord, StoreError> {
        let id = UserId::from_bytes(id);
        self.user(id)?
            .ok_or_else(|| dangling("the username index", &id.to_string()))
    }
}

fn dangling(index: &str, key: &str) -> StoreError {
    StoreError::Corrupt(format!("{index} points at a missing user ({key})"))
}

impl WriteTx<'_> {
    /// Inserts or replaces a user, moving its index entries. Fails with
    /// `Conflict { field: "username" | "email" | "webauthn_handle" }`.
    pub fn put_user(&mut self, user: &UserRecord) -> Result<(), StoreError> {
        let id = user.id.to_bytes();
        let old = self.user(user.id)?;
        let old_username = old.as_ref().map(|u| fold(&u.username));
        let new_username = fold(&user.username);
        index::rekey(
            self.t.username_to_user_id_mut()?,
            old_username.as_deref(),
            Some(new_username.as_str()),
            id,
            "username",
        )?;
        let old_email = old.as_ref().and_then(|u| u.email.as_deref()).map(fold);
        let new_email = user.email.as_deref().map(fold);
        index::rekey(
            self.t.email_to_user_id_mut()?,
            old_email.as_deref(),
            new_email.as_deref(),
            id,
            "email",
        )?;
        index::rekey(
            self.t.webauthn_handle_to_user_id_mut()?,
            old.as_ref().map(|u| u.webauthn_handle.0),
            Some(user.webauthn_handle.0),
            id,
            "webauthn_handle",
        )?;
        if let Some(old_username) = &old_username
            && *old_username != new_username
        {
            self.t
                .user_search_text_mut()?
                .remove(old_username.as_str())
                .map_err(db("updating the user search index"))?;
        }
        self.t
            .user_search_text_mut()?
            .insert(new_username.as_str(), search_text(user).as_str())
            .map_err(db("updating the user search index"))?;
        if user.is_admin {
            self.t
                .admin_user_ids_mut()?
                .insert(id, ())
                .map_err(db("updating the admin index"))?;
        } else {
            self.t
                .admin_user_ids_mut()?
                .remove(id)
                .map_err(db("updating the admin index"))?;
        }
        self.t
            .users_mut()?
            .insert(id, encode(user)?.as_slice())
            .map_err(db("writing a user"))?;
        Ok(())
    }

    /// Removes a user with its index entries, group memberships, passkeys,
    /// sessions and login codes. Audit history is kept.
    pub fn delete_user(&mut self, id: UserId) -> Result<UserRecord, StoreError> {
        let user = self.user(id)?.ok_or(StoreError::NotFound)?;
        let bytes = id.to_bytes();
        let username = fold(&user.username);
        self.t
            .username_to_user_id_mut()?
            .remove(username.as_str())
            .map_err(db("deleting a user"))?;
        self.t
            .user_search_text_mut()?
            .remove(username.as_str())
            .map_err(db("deleting a user"))?;
        if let Some(email) = user.email.as_deref() {
            self.t
                .email_to_user_id_mut()?
                .remove(fold(email).as_str())
                .map_err(db("deleting a user"))?;
        }
        self.t
            .webauthn_handle_to_user_id_mut()?
            .remove(user.webauthn_handle.0)
            .map_err(db("deleting a user"))?;
        self.t
            .admin_user_ids_mut()?
            .remove(bytes)
            .map_err(db("deleting a user"))?;
        let (members, user_groups) = self.t.memberships_mut()?;
        index::Links {
            forward: user_groups,
            backward: members,
        }
        .unlink_all(bytes)?;
        for credential in self.passkey_ids(id)? {
            self.t
                .user_passkeys_mut()?
                .remove((bytes, credential.as_slice()))
                .map_err(db("deleting a user's passkeys"))?;
            self.t
                .credential_id_to_user_id_mut()?
                .remove(credential.as_slice())
                .map_err(db("deleting a user's passkeys"))?;
        }
        self.remove_user_sessions(id)?;
        self.remove_user_login_codes(id)?;
        self.remove_user_email_verifications(id)?;
        self.remove_user_oidc_data(id)?;
        self.t
            .users_mut()?
            .remove(bytes)
            .map_err(db("deleting a user"))?;
        Ok(user)
    }
}
