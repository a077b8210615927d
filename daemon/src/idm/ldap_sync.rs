//! Applying a directory snapshot: the pure-ish half of an LDAP sync. The
//! `ldap` module reads the directory into a [`DirectorySnapshot`]; this
//! module diffs it against the store and writes the difference, with audit
//! events, in a few write transactions:
//!
//! - users are matched by the directory's unique id (`LDAP_ID_TO_USER_ID`),
//!   never by name, so renames in the directory follow the same account;
//! - new entries become users, changed ones are updated, users who left are
//!   disabled (or deleted with `ldap.on_removed = delete`) and users who
//!   came back are enabled again;
//! - an entry whose username or email belongs to another account (a local
//!   one above all) is skipped with the reason: accounts are never merged;
//! - groups and memberships follow the directory, and members of
//!   `ldap.admin_group` are admins;
//! - a snapshot that matches the store changes nothing: the only write is
//!   the `ldap_sync` audit event with zero counts.

use std::collections::{HashMap, HashSet};

use latchkey_protocol::{LdapSyncReport, SkippedEntry};

use super::audit::{self, Subject, detail};
use super::email_verification::trust_admin_addresses;
use super::secrets;
use super::validate::{self, DISPLAY_NAME_MAX, FIRST_NAME_MAX, LAST_NAME_MAX};
use super::{Actor, GroupId, Idm, IdmError, UserId, WebauthnHandle};
use crate::ldap::{DirectoryGroup, DirectorySnapshot, DirectoryUser, OnRemoved};
use crate::store::{
    Access, GroupRecord, ReadTx, RecordSource, StoreError, Tables, UserRecord, WriteTx,
};

/// How a snapshot is applied.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub on_removed: OnRemoved,
    /// The (stored, lowercase) name of the group whose members are admins.
    pub admin_group: Option<String>,
    /// What started the sync, for the `ldap_sync` audit event.
    pub trigger: String,
}

/// How many user changes one write transaction carries: big enough that a
/// first sync of 100,000 entries is a few dozen commits, small enough that
/// one transaction stays modest in memory.
const USERS_PER_TRANSACTION: usize = 2_000;

/// A directory user, validated into the fields a record holds.
#[derive(Clone, Debug)]
struct Wanted {
    dn: String,
    ldap_id: String,
    username: String,
    email: Option<String>,
    first_name: String,
    last_name: String,
    display_name: String,
}

#[derive(Debug)]
enum UserOp {
    Create {
        record: Box<UserRecord>,
        ldap_id: String,
        dn: String,
    },
    Update {
        record: Box<UserRecord>,
        changed: Vec<&'static str>,
        enabled: bool,
        dn: String,
    },
    Remove {
        id: UserId,
        ldap_id: String,
    },
    /// The id index points at a user that no longer exists.
    Forget {
        ldap_id: String,
    },
}

#[derive(Debug)]
enum GroupOp {
    Create {
        record: GroupRecord,
        ldap_id: String,
        members: Vec<UserId>,
    },
    Update {
        record: GroupRecord,
        renamed: bool,
        add: Vec<UserId>,
        remove: Vec<UserId>,
        dn: String,
    },
    Delete {
        id: GroupId,
        ldap_id: String,
    },
}

fn skip(report: &mut LdapSyncReport, entry: &str, reason: impl Into<String>) {
    report.skipped.push(SkippedEntry {
        entry: entry.to_owned(),
        reason: reason.into(),
    });
}

fn fold(text: &str) -> String {
    text.trim().to_lowercase()
}

/// A DN compared loosely: case and spaces after commas do not matter.
fn fold_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.trim().to_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

/// A group name as Latchkey stores it: lowercase, spaces as dashes.
pub(crate) fn group_name_from_directory(name: &str) -> String {
    name.trim().to_lowercase().replace(' ', "-")
}

/// Validates one directory user; `Err` is the reason to skip it.
fn wanted(user: &DirectoryUser) -> Result<Wanted, String> {
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

fn message(error: IdmError) -> String {
    match error {
        IdmError::Invalid { message, .. } => message,
        other => other.to_string(),
    }
}

/// Why `username`/`email` cannot be used by the account `me` (None for a new
/// one), if another account holds either.
fn clash<A: Access>(
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
fn update_fields(
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

/// The plan for one snapshot, computed on a read snapshot of the store.
#[derive(Debug, Default)]
struct Plan {
    users: Vec<UserOp>,
    groups: Vec<GroupOp>,
    report: LdapSyncReport,
}

impl Plan {
    fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }
}

fn plan(
    tx: &ReadTx,
    snapshot: &DirectorySnapshot,
    options: &ApplyOptions,
    now: i64,
) -> Result<Plan, IdmError> {
    let mut report = LdapSyncReport {
        skipped: snapshot.skipped.clone(),
        ..LdapSyncReport::default()
    };
    let user_ids = tx.ldap_user_ids()?;
    let group_ids = tx.ldap_group_ids()?;
    // The directory sets addresses as an admin does.
    let trusted = trust_admin_addresses(tx)?;

    // Users: validate, and refuse duplicates inside the directory itself.
    let mut wanted_users: Vec<Wanted> = Vec::with_capacity(snapshot.users.len());
    let mut seen_ids: HashMap<&str, &str> = HashMap::new();
    let mut seen_names: HashMap<String, &str> = HashMap::new();
    let mut seen_emails: HashMap<String, &str> = HashMap::new();
    for user in &snapshot.users {
        if let Some(first) = seen_ids.insert(user.unique_id.as_str(), user.dn.as_str()) {
            skip(
                &mut report,
                &user.dn,
                format!("unique id {:?} is also the id of {first}", user.unique_id),
            );
            continue;
        }
        let want = match wanted(user) {
            Ok(want) => want,
            Err(reason) => {
                skip(&mut report, &user.dn, reason);
                continue;
            }
        };
        if let Some(first) = seen_names.insert(fold(&want.username), user.dn.as_str()) {
            let reason = format!(
                "username {:?} is also the username of {first}",
                want.username
            );
            skip(&mut report, &user.dn, reason);
            continue;
        }
        if let Some(email) = &want.email
            && let Some(first) = seen_emails.insert(fold(email), user.dn.as_str())
        {
            skip(
                &mut report,
                &user.dn,
                format!("email {email:?} is also the email of {first}"),
            );
            continue;
        }
        wanted_users.push(want);
    }

    // Accounts: existing ones by directory id; new ones must not clash.
    let mut existing: HashMap<String, UserRecord> = HashMap::new();
    let mut kept: Vec<Wanted> = Vec::with_capacity(wanted_users.len());
    let mut present: HashSet<String> = HashSet::new();
    for want in wanted_users {
        present.insert(want.ldap_id.clone());
        let record = match user_ids.get(&want.ldap_id) {
            Some(id) => tx.user(*id)?,
            None => None,
        };
        let me = record.as_ref().map(|r| r.id);
        if let Some(reason) = clash(tx, me, &want.username, want.email.as_deref())? {
            skip(&mut report, &want.dn, reason);
            continue;
        }
        if let Some(record) = record {
            existing.insert(want.ldap_id.clone(), record);
        }
        kept.push(want);
    }

    // Who is who, for group members given as DNs or as usernames.
    let mut by_dn: HashMap<String, &str> = HashMap::new();
    let mut by_name: HashMap<String, &str> = HashMap::new();
    for want in &kept {
        by_dn.insert(fold_dn(&want.dn), want.ldap_id.as_str());
        by_name.insert(fold(&want.username), want.ldap_id.as_str());
    }

    // Groups: validate names, refuse clashes with local groups.
    struct WantedGroup<'a> {
        group: &'a DirectoryGroup,
        name: String,
        members: Vec<&'a str>,
    }
    let mut wanted_groups: Vec<WantedGroup<'_>> = Vec::new();
    let mut seen_group_ids: HashSet<&str> = HashSet::new();
    let mut seen_group_names: HashMap<String, &str> = HashMap::new();
    for group in &snapshot.groups {
        if !seen_group_ids.insert(group.unique_id.as_str()) {
            let reason = format!("unique id {:?} appears twice", group.unique_id);
            skip(&mut report, &group.dn, reason);
            continue;
        }
        let name = match validate::group_name(&group_name_from_directory(&group.name)) {
            Ok(name) => name,
            Err(e) => {
                let reason = format!("group name {:?}: {}", group.name, message(e));
                skip(&mut report, &group.dn, reason);
                continue;
            }
        };
        if let Some(first) = seen_group_names.insert(name.clone(), group.dn.as_str()) {
            let reason = format!("group name {name:?} is also the name of {first}");
            skip(&mut report, &group.dn, reason);
            continue;
        }
        let mine = group_ids.get(&group.unique_id).copied();
        if let Some(holder) = tx.group_id_by_name(&name)?
            && Some(holder) != mine
        {
            let source = tx.group(holder)?.map(|g| g.source);
            let whose = if source == Some(RecordSource::Local) {
                "a local group"
            } else {
                "another directory group"
            };
            let reason = format!("group name {name:?} belongs to {whose}; groups are never merged");
            skip(&mut report, &group.dn, reason);
            continue;
        }
        let mut members: Vec<&str> = group
            .members
            .iter()
            .filter_map(|member| {
                by_dn
                    .get(&fold_dn(member))
                    .or_else(|| by_name.get(&fold(member)))
                    .copied()
            })
            .collect();
        members.sort_unstable();
        members.dedup();
        wanted_groups.push(WantedGroup {
            group,
            name,
            members,
        });
    }

    // Admins: members of the admin group.
    let admins: HashSet<&str> = match &options.admin_group {
        Some(admin_group) => wanted_groups
            .iter()
            .filter(|g| &g.name == admin_group)
            .flat_map(|g| g.members.iter().copied())
            .collect(),
        None => HashSet::new(),
    };

    // User operations. Removals first, so a username freed by a deletion
    // can be taken by a new entry in the same sync.
    let mut ops: Vec<UserOp> = Vec::new();
    let mut removals: Vec<(&String, &UserId)> = user_ids
        .iter()
        .filter(|(ldap_id, _)| !present.contains(*ldap_id))
        .collect();
    removals.sort();
    for (ldap_id, id) in removals {
        match tx.user(*id)? {
            None => ops.push(UserOp::Forget {
                ldap_id: ldap_id.clone(),
            }),
            Some(record) => {
                let act = match options.on_removed {
                    OnRemoved::Delete => true,
                    OnRemoved::Disable => !record.disabled,
                };
                if act {
                    ops.push(UserOp::Remove {
                        id: *id,
                        ldap_id: ldap_id.clone(),
                    });
                }
            }
        }
    }
    let mut resolved: HashMap<&str, UserId> = HashMap::new();
    for want in &kept {
        let is_admin = admins.contains(want.ldap_id.as_str());
        match existing.get(&want.ldap_id) {
            Some(record) => {
                resolved.insert(want.ldap_id.as_str(), record.id);
                let mut updated = record.clone();
                let changed = update_fields(&mut updated, want, is_admin, trusted);
                let enabled = updated.disabled;
                if changed.is_empty() && !enabled {
                    continue;
                }
                updated.disabled = false;
                updated.updated_at = now;
                ops.push(UserOp::Update {
                    record: Box::new(updated),
                    changed,
                    enabled,
                    dn: want.dn.clone(),
                });
            }
            None => {
                let record = UserRecord {
                    id: UserId::random(),
                    username: want.username.clone(),
                    email: want.email.clone(),
                    first_name: want.first_name.clone(),
                    last_name: want.last_name.clone(),
                    display_name: want.display_name.clone(),
                    is_admin,
                    disabled: false,
                    source: RecordSource::Ldap,
                    webauthn_handle: WebauthnHandle(secrets::random_bytes()?),
                    created_at: now,
                    updated_at: now,
                    email_verified: trusted && want.email.is_some(),
                };
                resolved.insert(want.ldap_id.as_str(), record.id);
                ops.push(UserOp::Create {
                    record: Box::new(record),
                    ldap_id: want.ldap_id.clone(),
                    dn: want.dn.clone(),
                });
            }
        }
    }

    // Group operations.
    let mut group_ops: Vec<GroupOp> = Vec::new();
    let mut present_groups: HashSet<&str> = HashSet::new();
    for wanted in &wanted_groups {
        present_groups.insert(wanted.group.unique_id.as_str());
        let members: Vec<UserId> = wanted
            .members
            .iter()
            .filter_map(|ldap_id| resolved.get(ldap_id).copied())
            .collect();
        let friendly_name = wanted.group.name.trim().to_owned();
        let current = match group_ids.get(&wanted.group.unique_id) {
            Some(id) => tx.group(*id)?,
            None => None,
        };
        match current {
            None => group_ops.push(GroupOp::Create {
                record: GroupRecord {
                    id: GroupId::random(),
                    name: wanted.name.clone(),
                    friendly_name,
                    source: RecordSource::Ldap,
                    created_at: now,
                },
                ldap_id: wanted.group.unique_id.clone(),
                members,
            }),
            Some(mut record) => {
                let before: HashSet<UserId> = tx.group_member_ids(record.id)?.into_iter().collect();
                let after: HashSet<UserId> = members.iter().copied().collect();
                let mut add: Vec<UserId> = after.difference(&before).copied().collect();
                let mut remove: Vec<UserId> = before.difference(&after).copied().collect();
                add.sort();
                remove.sort();
                let renamed = record.name != wanted.name || record.friendly_name != friendly_name;
                if renamed || !add.is_empty() || !remove.is_empty() {
                    record.name.clone_from(&wanted.name);
                    record.friendly_name = friendly_name;
                    group_ops.push(GroupOp::Update {
                        record,
                        renamed,
                        add,
                        remove,
                        dn: wanted.group.dn.clone(),
                    });
                }
            }
        }
    }
    let mut gone: Vec<(&String, &GroupId)> = group_ids
        .iter()
        .filter(|(ldap_id, _)| !present_groups.contains(ldap_id.as_str()))
        .collect();
    gone.sort();
    // Deletions first, so a name freed by one can be taken by another.
    let mut ordered: Vec<GroupOp> = gone
        .into_iter()
        .map(|(ldap_id, id)| GroupOp::Delete {
            id: *id,
            ldap_id: ldap_id.clone(),
        })
        .collect();
    ordered.extend(group_ops);
    Ok(Plan {
        users: ops,
        groups: ordered,
        report,
    })
}

impl Idm {
    /// Applies a directory snapshot (see the module documentation) and
    /// returns what it did. `progress(done, total)` is called after each
    /// write transaction. Ends with an `ldap_sync` audit event holding the
    /// counts.
    pub fn apply_ldap_snapshot(
        &self,
        snapshot: &DirectorySnapshot,
        options: &ApplyOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<LdapSyncReport, IdmError> {
        let now = self.now();
        let actor = Actor::system();
        let plan = plan(&self.store.read()?, snapshot, options, now)?;
        let empty = plan.is_empty();
        let mut report = plan.report;
        let total = (plan.users.len() + plan.groups.len()) as u64;
        let mut done = 0u64;
        progress(done, total);
        if !empty {
            let mut users = plan.users.into_iter().peekable();
            while users.peek().is_some() {
                let chunk: Vec<UserOp> = users.by_ref().take(USERS_PER_TRANSACTION).collect();
                let count = chunk.len() as u64;
                report = self.store.write(|tx| {
                    let mut report = report.clone();
                    for op in chunk {
                        apply_user(tx, now, &actor, op, options.on_removed, &mut report)?;
                    }
                    Ok::<_, IdmError>(report)
                })?;
                done += count;
                progress(done, total);
            }
        }
        let groups = plan.groups;
        let count = groups.len() as u64;
        let report = self.store.write(|tx| {
            let mut report = report.clone();
            for op in groups {
                apply_group(tx, now, &actor, op, &mut report)?;
            }
            let details = vec![
                detail("trigger", options.trigger.as_str()),
                detail("created", report.created.to_string()),
                detail("updated", report.updated.to_string()),
                detail("enabled", report.enabled.to_string()),
                detail("disabled", report.disabled.to_string()),
                detail("deleted", report.deleted.to_string()),
                detail("groups_created", report.groups_created.to_string()),
                detail("groups_updated", report.groups_updated.to_string()),
                detail("groups_deleted", report.groups_deleted.to_string()),
                detail("skipped", report.skipped.len().to_string()),
            ];
            audit::append(tx, now, &actor, "ldap_sync", None, details)?;
            Ok::<_, IdmError>(report)
        })?;
        progress(done + count, total);
        Ok(report)
    }

    /// Records a sync that failed before it could change anything (the
    /// directory was unreachable, the bind failed).
    pub fn record_ldap_sync_failure(&self, trigger: &str, error: &str) -> Result<u64, IdmError> {
        let details = vec![detail("trigger", trigger), detail("error", error)];
        self.record_audit(&Actor::system(), "ldap_sync_failed", None, details)
    }
}

fn apply_user(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    op: UserOp,
    on_removed: OnRemoved,
    report: &mut LdapSyncReport,
) -> Result<(), IdmError> {
    let source = || detail("source", "ldap");
    match op {
        UserOp::Create {
            record,
            ldap_id,
            dn,
        } => {
            // Checked again here: the store may have changed since the plan.
            if let Some(reason) = clash(tx, None, &record.username, record.email.as_deref())? {
                skip(report, &dn, reason);
                return Ok(());
            }
            if tx.user_id_by_ldap_id(&ldap_id)?.is_some() {
                skip(report, &dn, "another sync created this entry meanwhile");
                return Ok(());
            }
            tx.put_user(&record)?;
            tx.set_ldap_user_id(&ldap_id, record.id)?;
            let details = vec![
                detail("is_admin", record.is_admin.to_string()),
                detail("email_verified", record.email_verified.to_string()),
                source(),
                detail("dn", dn),
            ];
            let subject = Subject::linked(&record.username, record.id);
            audit::append(tx, now, actor, "user_created", Some(subject), details)?;
            report.created += 1;
        }
        UserOp::Update {
            record,
            changed,
            enabled,
            dn,
        } => {
            let Some(current) = tx.user(record.id)? else {
                skip(report, &dn, "its account was deleted during the sync");
                return Ok(());
            };
            if let Some(reason) = clash(
                tx,
                Some(record.id),
                &record.username,
                record.email.as_deref(),
            )? {
                skip(report, &dn, reason);
                return Ok(());
            }
            tx.put_user(&record)?;
            let subject = Subject::linked(&record.username, record.id);
            if !changed.is_empty() {
                let mut details = vec![detail("changed", changed.join(",")), source()];
                if changed.contains(&"email") {
                    details.push(detail("email_verified", record.email_verified.to_string()));
                }
                if current.username != record.username {
                    details.push(detail("previous_username", current.username.as_str()));
                }
                audit::append(tx, now, actor, "user_updated", Some(subject), details)?;
                report.updated += 1;
            }
            if enabled {
                audit::append(
                    tx,
                    now,
                    actor,
                    "user_enabled",
                    Some(subject),
                    vec![source()],
                )?;
                report.enabled += 1;
            }
        }
        UserOp::Remove { id, ldap_id } => {
            let Some(mut record) = tx.user(id)? else {
                tx.remove_ldap_user_id(&ldap_id)?;
                return Ok(());
            };
            match on_removed {
                OnRemoved::Delete => {
                    let owner = (record.id, record.username.as_str());
                    super::oidc::end_user_families(tx, now, actor, owner, "user_deleted")?;
                    let record = tx.delete_user(id)?;
                    tx.remove_ldap_user_id(&ldap_id)?;
                    let subject = Subject::linked(&record.username, record.id);
                    let details = vec![detail("id", record.id.to_string()), source()];
                    audit::append(tx, now, actor, "user_deleted", Some(subject), details)?;
                    report.deleted += 1;
                }
                OnRemoved::Disable => {
                    if record.disabled {
                        return Ok(());
                    }
                    record.disabled = true;
                    record.updated_at = now;
                    tx.put_user(&record)?;
                    // Signed out everywhere, codes gone, in the same commit.
                    tx.remove_user_sessions(id)?;
                    tx.remove_user_login_codes(id)?;
                    let owner = (record.id, record.username.as_str());
                    super::oidc::end_user_families(tx, now, actor, owner, "user_disabled")?;
                    let subject = Subject::linked(&record.username, record.id);
                    let details = vec![detail("reason", "left the directory"), source()];
                    audit::append(tx, now, actor, "user_disabled", Some(subject), details)?;
                    report.disabled += 1;
                }
            }
        }
        UserOp::Forget { ldap_id } => tx.remove_ldap_user_id(&ldap_id)?,
    }
    Ok(())
}

fn apply_group(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    op: GroupOp,
    report: &mut LdapSyncReport,
) -> Result<(), IdmError> {
    match op {
        GroupOp::Create {
            record,
            ldap_id,
            members,
        } => {
            if tx.group_id_by_name(&record.name)?.is_some() {
                let reason = format!(
                    "group name {:?} was taken during the sync; groups are never merged",
                    record.name
                );
                skip(report, &record.friendly_name, reason);
                return Ok(());
            }
            tx.put_group(&record)?;
            tx.set_ldap_group_id(&ldap_id, record.id)?;
            let details = vec![
                detail("friendly_name", record.friendly_name.as_str()),
                detail("source", "ldap"),
            ];
            let subject = Subject::other(&record.name);
            audit::append(tx, now, actor, "group_created", Some(subject), details)?;
            for user in members {
                add_member(tx, now, actor, &record, user)?;
            }
            report.groups_created += 1;
        }
        GroupOp::Update {
            record,
            renamed,
            add,
            remove,
            dn,
        } => {
            if renamed {
                match tx.put_group(&record) {
                    Ok(()) => {}
                    Err(StoreError::Conflict { .. }) => {
                        let reason = format!(
                            "group name {:?} belongs to another group; groups are never merged",
                            record.name
                        );
                        skip(report, &dn, reason);
                        return Ok(());
                    }
                    Err(other) => return Err(other.into()),
                }
                let details = vec![
                    detail("name", record.name.as_str()),
                    detail("friendly_name", record.friendly_name.as_str()),
                    detail("source", "ldap"),
                ];
                let subject = Subject::other(&record.name);
                audit::append(tx, now, actor, "group_updated", Some(subject), details)?;
            }
            for user in add {
                add_member(tx, now, actor, &record, user)?;
            }
            for user in remove {
                if tx.remove_group_member(record.id, user)? {
                    membership_event(tx, now, actor, "group_member_removed", &record, user)?;
                }
            }
            report.groups_updated += 1;
        }
        GroupOp::Delete { id, ldap_id } => {
            tx.remove_ldap_group_id(&ldap_id)?;
            if tx.group(id)?.is_some() {
                let record = tx.delete_group(id)?;
                let subject = Subject::other(&record.name);
                let details = vec![detail("source", "ldap")];
                audit::append(tx, now, actor, "group_deleted", Some(subject), details)?;
                report.groups_deleted += 1;
            }
        }
    }
    Ok(())
}

/// Adds a member; a user skipped at apply time (so missing) is left out.
fn add_member(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    group: &GroupRecord,
    user: UserId,
) -> Result<(), IdmError> {
    match tx.add_group_member(group.id, user) {
        Ok(true) => membership_event(tx, now, actor, "group_member_added", group, user),
        Ok(false) | Err(StoreError::NotFound) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

/// Same shape as the membership events admins cause (`groups.rs`).
fn membership_event(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    event: &str,
    group: &GroupRecord,
    user: UserId,
) -> Result<(), IdmError> {
    let username = tx.user(user)?.map(|u| u.username).unwrap_or_default();
    let details = vec![detail("user", username), detail("source", "ldap")];
    let subject = Subject::linked(&group.name, user);
    audit::append(tx, now, actor, event, Some(subject), details)?;
    Ok(())
}

#[cfg(test)]
mod tests;
