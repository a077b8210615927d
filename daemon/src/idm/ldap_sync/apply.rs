//! Carrying out a sync's plan: each user and group operation with its audit
//! event, inside the caller's write transaction. Every operation checks the
//! store again first (it may have changed since the plan was made), and
//! skips an entry with the reason rather than merging accounts or groups.

use latchkey_protocol::LdapSyncReport;

use super::super::audit::{self, Subject, detail};
use super::super::oidc;
use super::super::{Actor, IdmError, UserId};
use super::entries::{clash, skip};
use super::plan::{GroupOp, UserOp};
use crate::ldap::OnRemoved;
use crate::store::{GroupRecord, StoreError, WriteTx};

pub(super) fn apply_user(
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
                    oidc::end_user_families(tx, now, actor, owner, "user_deleted")?;
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
                    oidc::end_user_families(tx, now, actor, owner, "user_disabled")?;
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

pub(super) fn apply_group(
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
