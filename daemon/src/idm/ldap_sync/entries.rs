//! One directory entry, checked: a user validated into the fields a record
//! holds, whether its username or email belongs to another account, and
//! which fields of an account it changes; the names and DNs it is compared
//! by; and the report line for an entry that is skipped.

use latchkey_protocol::{LdapSyncReport, SkippedEntry};

use super::super::validate::{self, DISPLAY_NAME_MAX, FIRST_NAME_MAX, LAST_NAME_MAX};
use super::super::{IdmError, UserId};
use crate::ldap::DirectoryUser;
use crate::store::{Access, RecordSource, Tables, UserRecord};

/// A directory user, validated into the fields a record holds.
#[derive(Clone, Debug)]
pub(super) struct Wanted {
    pub dn: String,
    pub ldap_id: String,
    pub username: String,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
}

pub(super) fn skip(report: &mut LdapSyncReport, entry: &str, reason: impl Into<String>) {
    report.skipped.push(SkippedEntry {
        entry: entry.to_owned(),
        reason: reason.into(),
    });
}

pub(super) fn fold(text: &str) -> String {
    text.trim().to_lowercase()
}

/// A DN compared loosely: case and spaces after commas do not matter.
pub(super) fn fold_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.trim().to_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

/// A group name as Latchkey stores it: lowercase, spaces as dashes.
pub(super) fn group_name_from_directory(name: &str) -> String {
    name.trim().to_lowercase().replace(' ', "-")
}

/// Validates one directory user; `Err` is the reason to skip it.
pub(super) fn wanted(user: &DirectoryUser) -> Result<Wanted, String> {
    let username = validate::username(&user.username)
        .map_err(|e| format!("username {:?}: {}", user.username, message(e)))?;
    let email = validate::email(user.email.as_deref()).map_err(|e| {
        format!(
            "email {:?}: {}",
            user.email.as_deref().unwrap_or(""),
            message(e)
        )
    })?;
    let field = |name: &'static str, value: &str, max| {
        validate::name(name, value, max).map_err(|e| format!("{name}: {}", message(e)))
    };
    let first_name = field("first_name", &user.first_name, FIRST_NAME_MAX)?;
    let last_name = field("last_name", &user.last_name, LAST_NAME_MAX)?;
    let display_name = match field("display_name", &user.display_name, DISPLAY_NAME_MAX)? {
        name if name.is_empty() => {
            validate::default_display_name(&first_name, &last_name, &username)
        }
        name => name,
    };
    Ok(Wanted {
        dn: user.dn.clone(),
        ldap_id: user.unique_id.clone(),
        username,
        email,
        first_name,
        last_name,
        display_name,
    })
}

pub(super) fn message(error: IdmError) -> String {
    match error {
        IdmError::Invalid { message, .. } => message,
        other => other.to_string(),
    }
}

/// Why `username`/`email` cannot be used by the account `me` (None for a new
/// one), if another account holds either.
pub(super) fn clash<A: Access>(
    tx: &Tables<A>,
    me: Option<UserId>,
    username: &str,
    email: Option<&str>,
) -> Result<Option<String>, IdmError> {
    let holder = |id: Option<UserId>| -> Result<Option<UserRecord>, IdmError> {
        match id {
            Some(id) if Some(id) != me => Ok(tx.user(id)?),
            _ => Ok(None),
        }
    };
    let whose = |record: &UserRecord| match record.source {
        RecordSource::Local => "a local user".to_owned(),
        RecordSource::Ldap => format!("another directory user ({})", record.username),
    };
    if let Some(other) = holder(tx.user_id_by_username(username)?)? {
        return Ok(Some(format!(
            "username {username:?} belongs to {}; local and directory accounts are never merged",
            whose(&other)
        )));
    }
    if let Some(email) = email
        && let Some(other) = holder(tx.user_id_by_email(email)?)?
    {
        return Ok(Some(format!(
            "email {email:?} belongs to {}; local and directory accounts are never merged",
            whose(&other)
        )));
    }
    Ok(None)
}

/// The fields of `record` that differ from `want`, after copying them over.
/// A changed address is verified only while `email.trust_admin_addresses`
/// (`trusted`) is on.
pub(super) fn update_fields(
    record: &mut UserRecord,
    want: &Wanted,
    is_admin: bool,
    trusted: bool,
) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if record.username != want.username {
        record.username.clone_from(&want.username);
        changed.push("username");
    }
    if record.email != want.email {
        record.email.clone_from(&want.email);
        record.email_verified = trusted && record.email.is_some();
        changed.push("email");
    }
    for (field, slot, value) in [
        ("first_name", &mut record.first_name, &want.first_name),
        ("last_name", &mut record.last_name, &want.last_name),
        ("display_name", &mut record.display_name, &want.display_name),
    ] {
        if slot != value {
            slot.clone_from(value);
            changed.push(field);
        }
    }
    if record.is_admin != is_admin {
        record.is_admin = is_admin;
        changed.push("is_admin");
    }
    changed
}
