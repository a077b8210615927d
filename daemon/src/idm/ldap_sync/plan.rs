//! Planning a sync: what applying a directory snapshot would change,
//! computed on a read snapshot of the store, as user and group operations
//! plus the entries skipped and why. Nothing is written here; `apply`
//! carries the operations out.

use std::collections::{HashMap, HashSet};

use latchkey_protocol::LdapSyncReport;

use super::super::email_verification::trust_admin_addresses;
use super::super::{GroupId, IdmError, UserId, WebauthnHandle, secrets, validate};
use super::entries::{
    Wanted, clash, fold, fold_dn, group_name_from_directory, message, skip, update_fields, wanted,
};
use crate::ldap::{DirectoryGroup, DirectorySnapshot, OnRemoved};
use crate::store::{GroupRecord, ReadTx, RecordSource, UserRecord};

/// How a snapshot is applied.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub on_removed: OnRemoved,
    /// The (stored, lowercase) name of the group whose members are admins.
    pub admin_group: Option<String>,
    /// What started the sync, for the `ldap_sync` audit event.
    pub trigger: String,
    /// The replica running the sync: each write transaction checks that it
    /// still holds the `ldap_sync` lease, so a sync whose lease was taken
    /// over stops at its next commit. `None` checks nothing (tests).
    pub holder: Option<crate::idm::ReplicaId>,
}

#[derive(Debug)]
pub(super) enum UserOp {
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
pub(super) enum GroupOp {
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

/// The plan for one snapshot, computed on a read snapshot of the store.
#[derive(Debug, Default)]
pub(super) struct Plan {
    pub users: Vec<UserOp>,
    pub groups: Vec<GroupOp>,
    pub report: LdapSyncReport,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }
}

/// The directory's users that can become accounts, and what happened to the
/// rest: matched to existing accounts by directory id, and checked against
/// every other account's username and email.
struct Accounts {
    /// Valid, unique and clash-free entries, in directory order.
    kept: Vec<Wanted>,
    /// The current record of each kept entry that already has an account.
    existing: HashMap<String, UserRecord>,
    /// The directory ids of every valid entry, clashing or not: a user whose
    /// entry is still there is not removed, even when it is skipped.
    present: HashSet<String>,
}

/// A directory group that can be applied: its stored name and its members
/// (as directory ids of kept users).
struct WantedGroup<'a> {
    group: &'a DirectoryGroup,
    name: String,
    members: Vec<&'a str>,
}

/// Computes what applying `snapshot` would change, on a read snapshot of the
/// store: users first (validated, matched, checked for clashes), then
/// groups (whose members and the admin group decide `is_admin`), then the
/// operations for both.
pub(super) fn plan(
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

    let wanted = valid_users(snapshot, &mut report);
    let accounts = match_accounts(tx, &user_ids, wanted, &mut report)?;
    let groups = valid_groups(tx, snapshot, &group_ids, &accounts.kept, &mut report)?;
    let admins = admins(&groups, options);

    // Removals first, so a username freed by a deletion can be taken by a
    // new entry in the same sync.
    let mut users = removals(tx, &user_ids, &accounts.present, options.on_removed)?;
    let (upserts, resolved) = upserts(&accounts, &admins, trusted, now)?;
    users.extend(upserts);
    let groups = group_ops(tx, &groups, &group_ids, &resolved, now)?;
    Ok(Plan {
        users,
        groups,
        report,
    })
}

/// Validates the directory's users and refuses duplicates inside the
/// directory itself (a unique id, username or email seen before).
fn valid_users(snapshot: &DirectorySnapshot, report: &mut LdapSyncReport) -> Vec<Wanted> {
    let mut wanted_users: Vec<Wanted> = Vec::with_capacity(snapshot.users.len());
    let mut seen_ids: HashMap<&str, &str> = HashMap::new();
    let mut seen_names: HashMap<String, &str> = HashMap::new();
    let mut seen_emails: HashMap<String, &str> = HashMap::new();
    for user in &snapshot.users {
        if let Some(first) = seen_ids.insert(user.unique_id.as_str(), user.dn.as_str()) {
            skip(
                report,
                &user.dn,
                format!("unique id {:?} is also the id of {first}", user.unique_id),
            );
            continue;
        }
        let want = match wanted(user) {
            Ok(want) => want,
            Err(reason) => {
                skip(report, &user.dn, reason);
                continue;
            }
        };
        if let Some(first) = seen_names.insert(fold(&want.username), user.dn.as_str()) {
            let reason = format!(
                "username {:?} is also the username of {first}",
                want.username
            );
            skip(report, &user.dn, reason);
            continue;
        }
        if let Some(email) = &want.email
            && let Some(first) = seen_emails.insert(fold(email), user.dn.as_str())
        {
            skip(
                report,
                &user.dn,
                format!("email {email:?} is also the email of {first}"),
            );
            continue;
        }
        wanted_users.push(want);
    }
    wanted_users
}

/// Finds each entry's account by directory id; an entry whose username or
/// email another account holds is skipped.
fn match_accounts(
    tx: &ReadTx,
    user_ids: &HashMap<String, UserId>,
    wanted_users: Vec<Wanted>,
    report: &mut LdapSyncReport,
) -> Result<Accounts, IdmError> {
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
            skip(report, &want.dn, reason);
            continue;
        }
        if let Some(record) = record {
            existing.insert(want.ldap_id.clone(), record);
        }
        kept.push(want);
    }
    Ok(Accounts {
        kept,
        existing,
        present,
    })
}

/// Validates group names, refuses clashes with local groups and duplicates,
/// and resolves members given as DNs or as usernames to kept users.
fn valid_groups<'a>(
    tx: &ReadTx,
    snapshot: &'a DirectorySnapshot,
    group_ids: &HashMap<String, GroupId>,
    kept: &'a [Wanted],
    report: &mut LdapSyncReport,
) -> Result<Vec<WantedGroup<'a>>, IdmError> {
    // Who is who, for group members given as DNs or as usernames.
    let mut by_dn: HashMap<String, &str> = HashMap::new();
    let mut by_name: HashMap<String, &str> = HashMap::new();
    for want in kept {
        by_dn.insert(fold_dn(&want.dn), want.ldap_id.as_str());
        by_name.insert(fold(&want.username), want.ldap_id.as_str());
    }
    let mut wanted_groups: Vec<WantedGroup<'_>> = Vec::new();
    let mut seen_group_ids: HashSet<&str> = HashSet::new();
    let mut seen_group_names: HashMap<String, &str> = HashMap::new();
    for group in &snapshot.groups {
        if !seen_group_ids.insert(group.unique_id.as_str()) {
            let reason = format!("unique id {:?} appears twice", group.unique_id);
            skip(report, &group.dn, reason);
            continue;
        }
        let name = match validate::group_name(&group_name_from_directory(&group.name)) {
            Ok(name) => name,
            Err(e) => {
                let reason = format!("group name {:?}: {}", group.name, message(e));
                skip(report, &group.dn, reason);
                continue;
            }
        };
        if let Some(first) = seen_group_names.insert(name.clone(), group.dn.as_str()) {
            let reason = format!("group name {name:?} is also the name of {first}");
            skip(report, &group.dn, reason);
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
            skip(report, &group.dn, reason);
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
    Ok(wanted_groups)
}

/// The directory ids of the admin group's members.
fn admins<'a>(groups: &[WantedGroup<'a>], options: &ApplyOptions) -> HashSet<&'a str> {
    match &options.admin_group {
        Some(admin_group) => groups
            .iter()
            .filter(|g| &g.name == admin_group)
            .flat_map(|g| g.members.iter().copied())
            .collect(),
        None => HashSet::new(),
    }
}

/// Users who left the directory: disabled (once), or deleted with
/// `ldap.on_removed = delete`; an index entry whose user is gone is
/// forgotten.
fn removals(
    tx: &ReadTx,
    user_ids: &HashMap<String, UserId>,
    present: &HashSet<String>,
    on_removed: OnRemoved,
) -> Result<Vec<UserOp>, IdmError> {
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
                let act = match on_removed {
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
    Ok(ops)
}

/// New accounts for new entries and updates for changed (or returning)
/// ones; also every kept entry's account id, for group members.
fn upserts<'a>(
    accounts: &'a Accounts,
    admins: &HashSet<&str>,
    trusted: bool,
    now: i64,
) -> Result<(Vec<UserOp>, HashMap<&'a str, UserId>), IdmError> {
    let mut ops: Vec<UserOp> = Vec::new();
    let mut resolved: HashMap<&str, UserId> = HashMap::new();
    for want in &accounts.kept {
        let is_admin = admins.contains(want.ldap_id.as_str());
        match accounts.existing.get(&want.ldap_id) {
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
    Ok((ops, resolved))
}

/// Groups to create, update (renamed, members added or removed) and delete;
/// deletions first, so a name freed by one can be taken by another.
fn group_ops(
    tx: &ReadTx,
    wanted_groups: &[WantedGroup<'_>],
    group_ids: &HashMap<String, GroupId>,
    resolved: &HashMap<&str, UserId>,
    now: i64,
) -> Result<Vec<GroupOp>, IdmError> {
    let mut group_ops: Vec<GroupOp> = Vec::new();
    let mut present_groups: HashSet<&str> = HashSet::new();
    for wanted in wanted_groups {
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
    let mut ordered: Vec<GroupOp> = gone
        .into_iter()
        .map(|(ldap_id, id)| GroupOp::Delete {
            id: *id,
            ldap_id: ldap_id.clone(),
        })
        .collect();
    ordered.extend(group_ops);
    Ok(ordered)
}
