//! Stored passkeys: listing, renaming and removing them. The WebAuthn
//! ceremonies that add and use them are in `ceremony`. Admins may list and
//! revoke passkeys, never add one: users enrol their own.

use time::OffsetDateTime;

use super::audit::{self, Subject, detail};
use super::users::resolve_user;
use super::{Actor, Idm, IdmError, UserId, secrets, to_time};
use crate::store::PasskeyRecord;

/// Longest passkey name, in characters.
pub const PASSKEY_NAME_MAX: usize = 64;

/// A passkey as lists show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyInfo {
    /// The credential id, base64url without padding.
    pub id: String,
    pub name: String,
    /// The authenticator's AAGUID (hyphenated), when it told us.
    pub aaguid: Option<String>,
    /// Backup eligible: may be synced between devices.
    pub synced: bool,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

impl PasskeyInfo {
    pub(crate) fn from_record(record: &PasskeyRecord) -> Result<PasskeyInfo, IdmError> {
        Ok(PasskeyInfo {
            id: secrets::b64url(&record.credential_id),
            name: record.name.clone(),
            aaguid: record
                .aaguid
                .filter(|a| a.iter().any(|&b| b != 0))
                .map(|a| uuid::Uuid::from_bytes(a).hyphenated().to_string()),
            synced: record.backup_eligible,
            created_at: to_time(record.created_at)?,
            last_used_at: record.last_used_at.map(to_time).transpose()?,
        })
    }
}

/// A passkey name as it will be stored: trimmed, 1–64 characters, no
/// control characters.
pub(crate) fn validate_name(input: &str) -> Result<String, IdmError> {
    let name = input.trim();
    let count = name.chars().count();
    if count == 0 || count > PASSKEY_NAME_MAX {
        return Err(IdmError::invalid(
            "name",
            format!("must be 1 to {PASSKEY_NAME_MAX} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(IdmError::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

fn passkey_not_found(id: &str) -> IdmError {
    IdmError::NotFound {
        what: "passkey",
        key: id.to_owned(),
    }
}

impl Idm {
    /// The user's passkeys, oldest first.
    pub fn list_passkeys(&self, user_ref: &str) -> Result<Vec<PasskeyInfo>, IdmError> {
        let tx = self.store.read()?;
        let user = resolve_user(&tx, user_ref)?;
        let mut passkeys = tx
            .user_passkeys(user.id)?
            .iter()
            .map(PasskeyInfo::from_record)
            .collect::<Result<Vec<_>, _>>()?;
        passkeys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(passkeys)
    }

    /// Renames one of the user's passkeys (`passkey_renamed`).
    pub fn rename_passkey(
        &self,
        actor: &Actor,
        user_id: UserId,
        id: &str,
        name: &str,
    ) -> Result<PasskeyInfo, IdmError> {
        let name = validate_name(name)?;
        let credential = secrets::from_b64url(id).ok_or_else(|| passkey_not_found(id))?;
        let now = self.now();
        self.store.write(|tx| {
            let user = tx
                .user(user_id)?
                .ok_or_else(|| IdmError::user_not_found(&user_id.to_string()))?;
            let mut record = tx
                .user_passkeys(user_id)?
                .into_iter()
                .find(|p| p.credential_id == credential)
                .ok_or_else(|| passkey_not_found(id))?;
            if record.name != name {
                let previous = std::mem::replace(&mut record.name, name.clone());
                tx.put_passkey(&record)?;
                let subject = Subject::linked(&user.username, user.id);
                let details = vec![
                    detail("id", secrets::b64url(&record.credential_id)),
                    detail("name", name),
                    detail("previous_name", previous),
                ];
                audit::append(tx, now, actor, "passkey_renamed", Some(subject), details)?;
            }
            PasskeyInfo::from_record(&record)
        })
    }

    /// Removes one of the user's passkeys (`passkey_removed`): an admin's
    /// revoke and a user's own delete alike. It can never sign in again.
    pub fn remove_passkey(&self, actor: &Actor, user_ref: &str, id: &str) -> Result<(), IdmError> {
        let credential = secrets::from_b64url(id).ok_or_else(|| passkey_not_found(id))?;
        let now = self.now();
        self.store.write(|tx| {
            let user = resolve_user(tx, user_ref)?;
            let removed = tx
                .remove_passkey(user.id, &credential)?
                .ok_or_else(|| passkey_not_found(id))?;
            let subject = Subject::linked(&user.username, user.id);
            let details = vec![
                detail("id", secrets::b64url(&removed.credential_id)),
                detail("name", removed.name),
            ];
            audit::append(tx, now, actor, "passkey_removed", Some(subject), details)?;
            Ok(())
        })
    }
}
