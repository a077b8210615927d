//! Users: creating, changing, disabling, deleting, finding and listing them.

use latchkey_protocol::{NewUser, Source, UserPatch, UserQuery};
use time::OffsetDateTime;

use super::audit::{self, Subject, detail};
use super::email_verification::{AddressFrom, verified_when_set};
use super::secrets;
use super::validate::{self, DISPLAY_NAME_MAX, FIRST_NAME_MAX, LAST_NAME_MAX};
use super::{Actor, Idm, IdmError, UserId, WebauthnHandle, source_of, to_time};
use crate::store::{Access, RecordSource, StoreError, Tables, UserRecord, WriteTx};

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// As the admin typed it; unique case-insensitively.
    pub username: String,
    pub email: Option<String>,
    /// What `email_verified` claims say (see `email_verification`).
    pub email_verified: bool,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub source: Source,
    /// Random per user (OS CSPRNG), never the id; `Debug` hides it.
    pub webauthn_handle: WebauthnHandle,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl User {
    pub(super) fn from_record(record: UserRecord) -> Result<User, IdmError> {
        Ok(User {
            id: record.id,
            username: record.username,
            email: record.email,
            email_verified: record.email_verified,
            first_name: record.first_name,
            last_name: record.last_name,
            display_name: record.display_name,
            is_admin: record.is_admin,
            disabled: record.disabled,
            source: source_of(record.source),
            webauthn_handle: record.webauthn_handle,
            created_at: to_time(record.created_at)?,
            updated_at: to_time(record.updated_at)?,
        })
    }
}

/// A user plus what lists and detail views show about them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserEntry {
    pub user: User,
    pub passkey_count: u32,
    /// Group names, sorted.
    pub groups: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPageResult {
    pub users: Vec<UserEntry>,
    /// How many users match the filter in all.
    pub total: u64,
    pub offset: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    pub users: u64,
    pub admins: u64,
    pub groups: u64,
}

/// Finds a user by id, then username, then email (all case-insensitive).
pub(crate) fn resolve_user<A: Access>(
    tx: &Tables<A>,
    user_ref: &str,
) -> Result<UserRecord, IdmError> {
    let key = user_ref.trim();
    let id = match key.parse::<UserId>() {
        Ok(id) if tx.user(id)?.is_some() => Some(id),
        _ => match tx.user_id_by_username(key)? {
            Some(id) => Some(id),
            None => tx.user_id_by_email(key)?,
        },
    };
    id.map(|id| tx.user(id))
        .transpose()?
        .flatten()
        .ok_or_else(|| IdmError::user_not_found(key))
}

/// The user with their passkey count and group names.
fn entry<A: Access>(tx: &Tables<A>, record: UserRecord) -> Result<UserEntry, IdmError> {
    let passkey_count = tx.passkey_count(record.id)?;
    let groups = group_names(tx, record.id)?;
    Ok(UserEntry {
        user: User::from_record(record)?,
        passkey_count,
        groups,
    })
}

/// The names of the groups `user` is in, sorted.
pub(crate) fn group_names<A: Access>(
    tx: &Tables<A>,
    user: UserId,
) -> Result<Vec<String>, IdmError> {
    let mut groups = Vec::new();
    for group_id in tx.user_group_ids(user)? {
        if let Some(group) = tx.group(group_id)? {
            groups.push(group.name);
        }
    }
    groups.sort_unstable();
    Ok(groups)
}

/// Refuses to change a user that LDAP owns.
fn require_local(record: &UserRecord) -> Result<(), IdmError> {
    match record.source {
        RecordSource::Local => Ok(()),
        RecordSource::Ldap => Err(IdmError::ReadOnly {
            what: "user",
            key: record.username.clone(),
        }),
    }
}

/// Writes the record, turning an index clash into a `Conflict` that names
/// the value the admin asked for.
fn put_user(tx: &mut WriteTx<'_>, record: &UserRecord) -> Result<(), IdmError> {
    tx.put_user(record).map_err(|e| match e {
        StoreError::Conflict { field: "username" } => IdmError::Conflict {
            field: "username",
            value: record.username.clone(),
        },
        StoreError::Conflict { field: "email" } => IdmError::Conflict {
            field: "email",
            value: record.email.clone().unwrap_or_default(),
        },
        other => IdmError::Store(other),
    })
}

fn random_webauthn_handle() -> Result<WebauthnHandle, IdmError> {
    Ok(WebauthnHandle(secrets::random_bytes()?))
}

/// Validates a new local user into the record that will be stored.
pub(super) fn new_record(input: NewUser, now: i64) -> Result<UserRecord, IdmError> {
    let username = validate::username(&input.username)?;
    let first_name = validate::name("first_name", &input.first_name, FIRST_NAME_MAX)?;
    let last_name = validate::name("last_name", &input.last_name, LAST_NAME_MAX)?;
    let display_name = validate::name(
        "display_name",
        input.display_name.as_deref().unwrap_or(""),
        DISPLAY_NAME_MAX,
    )?;
    let display_name = if display_name.is_empty() {
        validate::default_display_name(&first_name, &last_name, &username)
    } else {
        display_name
    };
    Ok(UserRecord {
        id: UserId::random(),
        email: validate::email(input.email.as_deref())?,
        username,
        first_name,
        last_name,
        display_name,
        is_admin: input.is_admin,
        disabled: false,
        source: RecordSource::Local,
        webauthn_handle: random_webauthn_handle()?,
        created_at: now,
        updated_at: now,
        // Decided by `insert_user`, which knows who typed the address.
        email_verified: false,
    })
}

/// Applies a patch; returns the names of the fields that really changed.
fn apply_patch(record: &mut UserRecord, patch: UserPatch) -> Result<Vec<&'static str>, IdmError> {
    let mut changed = Vec::new();
    // A display name nobody chose follows the names it was made from.
    let derived_display_name = record.display_name
        == validate::default_display_name(&record.first_name, &record.last_name, &record.username);
    if let Some(username) = patch.username {
        let username = validate::username(&username)?;
        if username != record.username {
            record.username = username;
            changed.push("username");
        }
    }
    if let Some(email) = patch.email {
        let email = validate::email(email.as_deref())?;
        if email != record.email {
            record.email = email;
            changed.push("email");
        }
    }
    for (field, value, max, slot) in [
        (
            "first_name",
            patch.first_name,
            FIRST_NAME_MAX,
            &mut record.first_name,
        ),
        (
            "last_name",
            patch.last_name,
            LAST_NAME_MAX,
            &mut record.last_name,
        ),
    ] {
        if let Some(value) = value {
            let value = validate::name(field, &value, max)?;
            if value != *slot {
                *slot = value;
                changed.push(field);
            }
        }
    }
    let display_name = match patch.display_name {
        Some(name) => Some(name),
        None if derived_display_name => Some(String::new()),
        None => None,
    };
    if let Some(display_name) = display_name {
        // An empty display name means "derive it again from the names".
        let value = match validate::name("display_name", &display_name, DISPLAY_NAME_MAX)? {
            v if v.is_empty() => validate::default_display_name(
                &record.first_name,
                &record.last_name,
                &record.username,
            ),
            v => v,
        };
        if value != record.display_name {
            record.display_name = value;
            changed.push("display_name");
        }
    }
    if let Some(is_admin) = patch.is_admin
        && is_admin != record.is_admin
    {
        record.is_admin = is_admin;
        changed.push("is_admin");
    }
    Ok(changed)
}

impl Idm {
    pub fn create_user(&self, actor: &Actor, input: NewUser) -> Result<UserEntry, IdmError> {
        let now = self.now();
        let mut record = new_record(input, now)?;
        self.store.write(|tx| {
            insert_user(tx, now, actor, &mut record, AddressFrom::Admin)?;
            entry(tx, record)
        })
    }

    /// Creates many users in few write transactions (`batch` per commit),
    /// with the same rules and audit events as `create_user`. For tests and
    /// imports; stops at the first refused user, keeping earlier batches.
    #[doc(hidden)]
    pub fn create_users_bulk(
        &self,
        actor: &Actor,
        inputs: impl IntoIterator<Item = NewUser>,
        batch: usize,
    ) -> Result<u64, IdmError> {
        let now = self.now();
        let mut inputs = inputs.into_iter().peekable();
        let mut created = 0u64;
        while inputs.peek().is_some() {
            let mut records = inputs
                .by_ref()
                .take(batch.max(1))
                .map(|input| new_record(input, now))
                .collect::<Result<Vec<_>, _>>()?;
            self.store.write(|tx| {
                records
                    .iter_mut()
                    .try_for_each(|record| insert_user(tx, now, actor, record, AddressFrom::Admin))
            })?;
            created += records.len() as u64;
        }
        Ok(created)
    }

    pub fn update_user(
        &self,
        actor: &Actor,
        user_ref: &str,
        patch: UserPatch,
    ) -> Result<UserEntry, IdmError> {
        let now = self.now();
        self.store.write(|tx| {
            let mut record = resolve_user(tx, user_ref)?;
            require_local(&record)?;
            let previous_username = record.username.clone();
            let changed = apply_patch(&mut record, patch)?;
            if !changed.is_empty() {
                record.updated_at = now;
                let mut details = vec![detail("changed", changed.join(","))];
                if changed.contains(&"username") {
                    details.push(detail("previous_username", previous_username));
                }
                if changed.contains(&"email") {
                    // A new address is only as verified as whoever set it.
                    let email = record.email.as_deref();
                    record.email_verified = verified_when_set(tx, AddressFrom::Admin, email)?;
                    details.push(detail("email_verified", record.email_verified.to_string()));
                }
                put_user(tx, &record)?;
                let subject = Subject::linked(&record.username, record.id);
                audit::append(tx, now, actor, "user_updated", Some(subject), details)?;
            }
            entry(tx, record)
        })
    }

    /// Disables or re-enables sign-in. Setting the current state is a no-op.
    pub fn set_user_disabled(
        &self,
        actor: &Actor,
        user_ref: &str,
        disabled: bool,
    ) -> Result<UserEntry, IdmError> {
        let now = self.now();
        self.store.write(|tx| {
            let mut record = resolve_user(tx, user_ref)?;
            require_local(&record)?;
            if record.disabled != disabled {
                record.disabled = disabled;
                record.updated_at = now;
                put_user(tx, &record)?;
                if disabled {
                    // A disabled user is signed out everywhere and their
                    // outstanding codes and OIDC grants die with the same commit.
                    tx.remove_user_sessions(record.id)?;
                    tx.remove_user_login_codes(record.id)?;
                    let owner = (record.id, record.username.as_str());
                    super::oidc::end_user_families(tx, now, actor, owner, "user_disabled")?;
                }
                let event = if disabled {
                    "user_disabled"
                } else {
                    "user_enabled"
                };
                let subject = Subject::linked(&record.username, record.id);
                audit::append(tx, now, actor, event, Some(subject), Vec::new())?;
            }
            entry(tx, record)
        })
    }

    /// Deletes the user with their group memberships, passkeys, sessions and
    /// login codes; their audit history stays.
    pub fn delete_user(&self, actor: &Actor, user_ref: &str) -> Result<User, IdmError> {
        let now = self.now();
        self.store.write(|tx| {
            let record = resolve_user(tx, user_ref)?;
            require_local(&record)?;
            let owner = (record.id, record.username.as_str());
            super::oidc::end_user_families(tx, now, actor, owner, "user_deleted")?;
            let record = tx.delete_user(record.id)?;
            let subject = Subject::linked(&record.username, record.id);
            let details = vec![detail("id", record.id.to_string())];
            audit::append(tx, now, actor, "user_deleted", Some(subject), details)?;
            User::from_record(record)
        })
    }

    pub fn get_user(&self, user_ref: &str) -> Result<UserEntry, IdmError> {
        let tx = self.store.read()?;
        let record = resolve_user(&tx, user_ref)?;
        entry(&tx, record)
    }

    /// A page of users ordered by lowercased username. `filter` (trimmed;
    /// empty for all) is a case-insensitive substring of username, email,
    /// first, last or display name. `limit` 0 means the default (100).
    pub fn list_users(&self, query: &UserQuery) -> Result<UserPageResult, IdmError> {
        let limit = match query.limit {
            0 => UserQuery::default().limit,
            n => n.min(UserQuery::MAX_LIMIT),
        };
        let tx = self.store.read()?;
        let listing = tx.list_users(query.filter.trim(), query.offset, limit as usize)?;
        let users = listing
            .users
            .into_iter()
            .map(|record| entry(&tx, record))
            .collect::<Result<_, _>>()?;
        Ok(UserPageResult {
            users,
            total: listing.total,
            offset: query.offset,
        })
    }

    pub fn counts(&self) -> Result<Counts, IdmError> {
        let tx = self.store.read()?;
        Ok(Counts {
            users: tx.user_count()?,
            admins: tx.admin_count()?,
            groups: tx.group_count()?,
        })
    }
}

/// Stores a new user and its `user_created` event; whether the address is
/// verified follows from who typed it (`from`).
pub(super) fn insert_user(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    record: &mut UserRecord,
    from: AddressFrom,
) -> Result<(), IdmError> {
    record.email_verified = verified_when_set(tx, from, record.email.as_deref())?;
    // `put_user` replaces by id; a fresh random id never exists, but check
    // so a clash can never overwrite someone.
    if tx.user(record.id)?.is_some() {
        return Err(IdmError::Conflict {
            field: "id",
            value: record.id.to_string(),
        });
    }
    put_user(tx, record)?;
    let subject = Subject::linked(&record.username, record.id);
    let details = vec![
        detail("is_admin", record.is_admin.to_string()),
        detail("email_verified", record.email_verified.to_string()),
    ];
    audit::append(tx, now, actor, "user_created", Some(subject), details)?;
    Ok(())
}
