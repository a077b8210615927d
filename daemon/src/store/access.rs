//! How users get in: browser sessions, login codes, passkeys, and the
//! run-time settings. Sessions and codes are keyed by the SHA-256 of their
//! secret and indexed per user, in the same transaction as the record.

use super::kv::{KvTable as Table, ReadableTable};

use super::StoreError;
use super::error::db;
use super::index;
use super::records::{
    LoginCodeRecord, PasskeyRecord, SessionRecord, SettingRecord, UserId, decode, encode,
};
use super::schema::{IdBytes, TokenHash};
use super::tx::{Access, Tables, WriteTx};

fn hash_range(user: IdBytes) -> std::ops::RangeInclusive<(IdBytes, TokenHash)> {
    (user, [0; 32])..=(user, [0xff; 32])
}

/// The hashes a user has in a `(user id, hash) → ()` index.
pub(super) fn user_hashes<T>(table: &T, user: UserId) -> Result<Vec<TokenHash>, StoreError>
where
    T: ReadableTable<(IdBytes, TokenHash), ()>,
{
    let mut out = Vec::new();
    for entry in table
        .range(hash_range(user.to_bytes()))
        .map_err(db("reading a per-user index"))?
    {
        let (key, _) = entry.map_err(db("reading a per-user index"))?;
        out.push(key.value().1);
    }
    Ok(out)
}

/// Every key of a hash-keyed table whose record `expired` says is done.
pub(super) fn expired_hashes<T, R>(
    table: &T,
    expired: impl Fn(&R) -> bool,
) -> Result<Vec<TokenHash>, StoreError>
where
    T: ReadableTable<TokenHash, &'static [u8]>,
    R: super::records::Versioned,
{
    let mut out = Vec::new();
    for entry in table.iter().map_err(db("scanning for expired records"))? {
        let (key, bytes) = entry.map_err(db("scanning for expired records"))?;
        if expired(&decode::<R>(bytes.value())?) {
            out.push(key.value());
        }
    }
    Ok(out)
}

impl<A: Access> Tables<A> {
    pub fn session(&self, hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        self.t
            .sessions()?
            .get(hash)
            .map_err(db("reading a session"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()
    }

    /// A user's sessions with their hashes, in hash order (expired ones too).
    pub fn user_sessions(
        &self,
        user: UserId,
    ) -> Result<Vec<(TokenHash, SessionRecord)>, StoreError> {
        let mut out = Vec::new();
        for hash in user_hashes(self.t.user_sessions()?, user)? {
            let session = self.session(&hash)?.ok_or_else(|| {
                StoreError::Corrupt(format!("user {user} has a dangling session index entry"))
            })?;
            out.push((hash, session));
        }
        Ok(out)
    }

    pub fn login_code(&self, hash: &TokenHash) -> Result<Option<LoginCodeRecord>, StoreError> {
        self.t
            .login_codes()?
            .get(hash)
            .map_err(db("reading a login code"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()
    }

    /// A user's login codes with their hashes (expired ones too).
    pub fn user_login_codes(
        &self,
        user: UserId,
    ) -> Result<Vec<(TokenHash, LoginCodeRecord)>, StoreError> {
        let mut out = Vec::new();
        for hash in user_hashes(self.t.user_login_codes()?, user)? {
            let code = self.login_code(&hash)?.ok_or_else(|| {
                StoreError::Corrupt(format!("user {user} has a dangling login code index entry"))
            })?;
            out.push((hash, code));
        }
        Ok(out)
    }

    /// The passkey with this credential id, whoever owns it.
    pub fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, StoreError> {
        let Some(owner) = index::lookup(self.t.credential_id_to_user_id()?, credential_id)? else {
            return Ok(None);
        };
        let record = self
            .t
            .user_passkeys()?
            .get((owner, credential_id))
            .map_err(db("reading a passkey"))?
            .map(|bytes| decode::<PasskeyRecord>(bytes.value()))
            .transpose()?;
        record.map(Some).ok_or_else(|| {
            StoreError::Corrupt("the credential id index points at a missing passkey".to_owned())
        })
    }

    /// A user's passkeys, in credential id order.
    pub fn user_passkeys(&self, user: UserId) -> Result<Vec<PasskeyRecord>, StoreError> {
        let id = user.to_bytes();
        let empty: &[u8] = &[];
        let mut out = Vec::new();
        for entry in self
            .t
            .user_passkeys()?
            .range((id, empty)..)
            .map_err(db("reading passkeys"))?
        {
            let (key, bytes) = entry.map_err(db("reading passkeys"))?;
            if key.value().0 != id {
                break;
            }
            out.push(decode(bytes.value())?);
        }
        Ok(out)
    }

    pub fn setting(&self, key: &str) -> Result<Option<SettingRecord>, StoreError> {
        self.t
            .settings()?
            .get(key)
            .map_err(db("reading a setting"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()
    }
}

/// Removes `hash` from a hash-keyed table and its per-user index.
fn remove_hashed<R: super::records::Versioned>(
    records: &mut Table<'_, TokenHash, &'static [u8]>,
    by_user: &mut Table<'_, (IdBytes, TokenHash), ()>,
    hash: &TokenHash,
    owner: impl Fn(&R) -> UserId,
) -> Result<Option<R>, StoreError> {
    let removed = records
        .remove(hash)
        .map_err(db("removing a record"))?
        .map(|bytes| decode::<R>(bytes.value()))
        .transpose()?;
    if let Some(record) = &removed {
        by_user
            .remove((owner(record).to_bytes(), *hash))
            .map_err(db("removing a per-user index entry"))?;
    }
    Ok(removed)
}

impl WriteTx<'_> {
    /// Inserts or replaces a session and its per-user index entry.
    pub fn put_session(
        &mut self,
        hash: &TokenHash,
        session: &SessionRecord,
    ) -> Result<(), StoreError> {
        self.t
            .sessions_mut()?
            .insert(hash, encode(session)?.as_slice())
            .map_err(db("writing a session"))?;
        self.t
            .user_sessions_mut()?
            .insert((session.user_id.to_bytes(), *hash), ())
            .map_err(db("writing a session"))?;
        Ok(())
    }

    pub fn remove_session(
        &mut self,
        hash: &TokenHash,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let (sessions, index) = self.t.sessions_with_index_mut()?;
        remove_hashed(sessions, index, hash, |s: &SessionRecord| s.user_id)
    }

    /// Ends every session of the user; returns how many there were.
    pub fn remove_user_sessions(&mut self, user: UserId) -> Result<u32, StoreError> {
        let mut count = 0u32;
        for hash in user_hashes(self.t.user_sessions()?, user)? {
            if self.remove_session(&hash)?.is_some() {
                count = count.saturating_add(1);
            }
        }
        Ok(count)
    }

    /// Removes sessions that expired at or before `now`; returns how many.
    pub fn remove_expired_sessions(&mut self, now: i64) -> Result<u64, StoreError> {
        let expired =
            expired_hashes::<_, SessionRecord>(self.t.sessions()?, |s| s.expires_at <= now)?;
        for hash in &expired {
            self.remove_session(hash)?;
        }
        Ok(expired.len() as u64)
    }

    pub fn put_login_code(
        &mut self,
        hash: &TokenHash,
        code: &LoginCodeRecord,
    ) -> Result<(), StoreError> {
        if self
            .t
            .login_codes()?
            .get(hash)
            .map_err(db("reading a login code"))?
            .is_some()
        {
            return Err(StoreError::Conflict { field: "code" });
        }
        self.t
            .login_codes_mut()?
            .insert(hash, encode(code)?.as_slice())
            .map_err(db("writing a login code"))?;
        self.t
            .user_login_codes_mut()?
            .insert((code.user_id.to_bytes(), *hash), ())
            .map_err(db("writing a login code"))?;
        Ok(())
    }

    pub fn remove_login_code(
        &mut self,
        hash: &TokenHash,
    ) -> Result<Option<LoginCodeRecord>, StoreError> {
        let (codes, index) = self.t.login_codes_with_index_mut()?;
        remove_hashed(codes, index, hash, |c: &LoginCodeRecord| c.user_id)
    }

    /// Removes every login code of the user; returns how many there were.
    pub fn remove_user_login_codes(&mut self, user: UserId) -> Result<u32, StoreError> {
        let mut count = 0u32;
        for hash in user_hashes(self.t.user_login_codes()?, user)? {
            if self.remove_login_code(&hash)?.is_some() {
                count = count.saturating_add(1);
            }
        }
        Ok(count)
    }

    /// Removes login codes that expired at or before `now`; returns how many.
    pub fn remove_expired_login_codes(&mut self, now: i64) -> Result<u64, StoreError> {
        let expired =
            expired_hashes::<_, LoginCodeRecord>(self.t.login_codes()?, |c| c.expires_at <= now)?;
        for hash in &expired {
            self.remove_login_code(hash)?;
        }
        Ok(expired.len() as u64)
    }

    /// Inserts or replaces a passkey. A credential id registered to another
    /// user fails with `Conflict { field: "credential" }`.
    pub fn put_passkey(&mut self, passkey: &PasskeyRecord) -> Result<(), StoreError> {
        let owner = passkey.user_id.to_bytes();
        index::claim(
            self.t.credential_id_to_user_id_mut()?,
            passkey.credential_id.as_slice(),
            owner,
            "credential",
        )?;
        self.t
            .user_passkeys_mut()?
            .insert(
                (owner, passkey.credential_id.as_slice()),
                encode(passkey)?.as_slice(),
            )
            .map_err(db("writing a passkey"))?;
        Ok(())
    }

    /// Removes one of the user's passkeys; `None` if they have no such one.
    pub fn remove_passkey(
        &mut self,
        user: UserId,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, StoreError> {
        let removed = self
            .t
            .user_passkeys_mut()?
            .remove((user.to_bytes(), credential_id))
            .map_err(db("removing a passkey"))?
            .map(|bytes| decode::<PasskeyRecord>(bytes.value()))
            .transpose()?;
        if removed.is_some() {
            self.t
                .credential_id_to_user_id_mut()?
                .remove(credential_id)
                .map_err(db("removing a passkey"))?;
        }
        Ok(removed)
    }

    pub fn put_setting(&mut self, key: &str, setting: &SettingRecord) -> Result<(), StoreError> {
        self.t
            .settings_mut()?
            .insert(key, encode(setting)?.as_slice())
            .map_err(db("writing a setting"))?;
        Ok(())
    }

    /// Back to the default; false if it was not set.
    pub fn remove_setting(&mut self, key: &str) -> Result<bool, StoreError> {
        Ok(self
            .t
            .settings_mut()?
            .remove(key)
            .map_err(db("removing a setting"))?
            .is_some())
    }
}
