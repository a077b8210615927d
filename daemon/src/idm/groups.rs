//! Groups and their members.

use latchkey_protocol::{NewGroup, Source};
use time::OffsetDateTime;

use super::audit::{self, Subject, detail};
use super::users::resolve_user;
use super::{Actor, GroupId, Idm, IdmError, UserId, source_of, to_time, validate};
use crate::store::{Access, GroupRecord, RecordSource, StoreError, Tables, WriteTx};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    /// Lowercase, unique.
    pub name: String,
    pub friendly_name: String,
    pub source: Source,
    pub created_at: OffsetDateTime,
}

impl Group {
    fn from_record(record: GroupRecord) -> Result<Group, IdmError> {
        Ok(Group {
            id: record.id,
            name: record.name,
            friendly_name: record.friendly_name,
            source: source_of(record.source),
            created_at: to_time(record.created_at)?,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEntry {
    pub group: Group,
    /// Sorted by username (case-insensitively).
    pub members: Vec<(UserId, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSummaryEntry {
    pub group: Group,
    pub member_count: u64,
}

/// By name; names are lowercase, so `Staff` finds `staff`.
fn resolve_group<A: Access>(tx: &Tables<A>, name: &str) -> Result<GroupRecord, IdmError> {
    let key = name.trim().to_ascii_lowercase();
    tx.group_id_by_name(&key)?
        .map(|id| tx.group(id))
        .transpose()?
        .flatten()
        .ok_or_else(|| IdmError::group_not_found(name.trim()))
}

fn group_entry<A: Access>(tx: &Tables<A>, record: GroupRecord) -> Result<GroupEntry, IdmError> {
    let mut members = Vec::new();
    for user_id in tx.group_member_ids(record.id)? {
        if let Some(user) = tx.user(user_id)? {
            members.push((user_id, user.username));
        }
    }
    members.sort_by_cached_key(|(_, username)| username.to_lowercase());
    Ok(GroupEntry {
        group: Group::from_record(record)?,
        members,
    })
}

fn require_local(record: &GroupRecord) -> Result<(), IdmError> {
    match record.source {
        RecordSource::Local => Ok(()),
        RecordSource::Ldap => Err(IdmError::ReadOnly {
            what: "group",
            key: record.name.clone(),
        }),
    }
}

/// The ids of groups named (case-insensitively), each of which must exist;
/// `field` names the input in the error.
pub(crate) fn group_ids<A: Access>(
    tx: &Tables<A>,
    field: &'static str,
    names: &[String],
) -> Result<Vec<(GroupId, String)>, IdmError> {
    let mut out: Vec<(GroupId, String)> = Vec::new();
    for name in names {
        let key = name.trim().to_ascii_lowercase();
        if key.is_empty() {
            continue;
        }
        let Some(id) = tx.group_id_by_name(&key)? else {
            return Err(IdmError::invalid(
                field,
                format!("there is no group {:?}; create it first", name.trim()),
            ));
        };
        if !out.iter().any(|(existing, _)| *existing == id) {
            out.push((id, key));
        }
    }
    Ok(out)
}

/// `signups.default_groups` as it will be stored: existing group names,
/// lowercase, without repeats.
pub(crate) fn existing_groups<A: Access>(
    tx: &Tables<A>,
    field: &'static str,
    names: &[String],
) -> Result<Vec<String>, IdmError> {
    Ok(group_ids(tx, field, names)?
        .into_iter()
        .map(|(_, name)| name)
        .collect())
}

impl Idm {
    pub fn create_group(&self, actor: &Actor, input: NewGroup) -> Result<GroupEntry, IdmError> {
        let now = self.now();
        let name = validate::group_name(&input.name)?;
        let record = GroupRecord {
            id: GroupId::random(),
            friendly_name: validate::friendly_name(input.friendly_name.as_deref(), &name)?,
            name,
            source: RecordSource::Local,
            created_at: now,
        };
        self.store.write(|tx| {
            if tx.group(record.id)?.is_some() {
                return Err(IdmError::Conflict {
                    field: "id",
                    value: record.id.to_string(),
                });
            }
            tx.put_group(&record).map_err(|e| match e {
                StoreError::Conflict { .. } => IdmError::Conflict {
                    field: "name",
                    value: record.name.clone(),
                },
                other => IdmError::Store(other),
            })?;
            let details = vec![detail("friendly_name", record.friendly_name.as_str())];
            let subject = Subject::other(&record.name);
            audit::append(tx, now, actor, "group_created", Some(subject), details)?;
            group_entry(tx, record)
        })
    }

    /// Deletes the group and its memberships (the users stay).
    pub fn delete_group(&self, actor: &Actor, name: &str) -> Result<Group, IdmError> {
        let now = self.now();
        self.store.write(|tx| {
            let record = resolve_group(tx, name)?;
            require_local(&record)?;
            let record = tx.delete_group(record.id)?;
            let subject = Subject::other(&record.name);
            audit::append(tx, now, actor, "group_deleted", Some(subject), Vec::new())?;
            Group::from_record(record)
        })
    }

    pub fn get_group(&self, name: &str) -> Result<GroupEntry, IdmError> {
        let tx = self.store.read()?;
        let record = resolve_group(&tx, name)?;
        group_entry(&tx, record)
    }

    /// Every group by name, with member counts.
    pub fn list_groups(&self) -> Result<Vec<GroupSummaryEntry>, IdmError> {
        let tx = self.store.read()?;
        tx.groups_by_name()?
            .into_iter()
            .map(|record| {
                let member_count = tx.group_member_count(record.id)?;
                Ok(GroupSummaryEntry {
                    group: Group::from_record(record)?,
                    member_count,
                })
            })
            .collect()
    }

    /// Adds the user to the group; already being a member is not an error.
    pub fn add_group_member(
        &self,
        actor: &Actor,
        group: &str,
        user_ref: &str,
    ) -> Result<GroupEntry, IdmError> {
        self.change_membership(actor, group, user_ref, Membership::Add)
    }

    /// Removes the user from the group; not being a member is not an error.
    pub fn remove_group_member(
        &self,
        actor: &Actor,
        group: &str,
        user_ref: &str,
    ) -> Result<GroupEntry, IdmError> {
        self.change_membership(actor, group, user_ref, Membership::Remove)
    }

    fn change_membership(
        &self,
        actor: &Actor,
        group: &str,
        user_ref: &str,
        change: Membership,
    ) -> Result<GroupEntry, IdmError> {
        let now = self.now();
        self.store.write(|tx| {
            let record = resolve_group(tx, group)?;
            require_local(&record)?;
            let user = resolve_user(tx, user_ref)?;
            let (changed, event) = match change {
                Membership::Add => (
                    tx.add_group_member(record.id, user.id)?,
                    "group_member_added",
                ),
                Membership::Remove => (
                    tx.remove_group_member(record.id, user.id)?,
                    "group_member_removed",
                ),
            };
            if changed {
                record_membership(tx, now, actor, event, &record, &user.username, user.id)?;
            }
            group_entry(tx, record)
        })
    }
}

#[derive(Clone, Copy, Debug)]
enum Membership {
    Add,
    Remove,
}

/// Membership events name the group as subject and the user in the details;
/// the user's id is linked too, so the event shows in their history.
fn record_membership(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    event: &str,
    group: &GroupRecord,
    username: &str,
    user: UserId,
) -> Result<u64, IdmError> {
    let details = vec![detail("user", username)];
    let subject = Subject::linked(&group.name, user);
    audit::append(tx, now, actor, event, Some(subject), details)
}
