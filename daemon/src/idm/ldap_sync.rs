//! Applying a directory snapshot: the pure-ish half of an LDAP sync. The
//! `ldap` adapter reads the directory into a [`DirectorySnapshot`]; `plan`
//! diffs it against the store and `apply` writes the difference, with audit
//! events, in a few write transactions (`jobs::ldap_sync` decides when):
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

mod apply;
mod entries;
mod plan;

use latchkey_protocol::LdapSyncReport;

use super::audit::{self, detail};
use super::leases::{Job, ensure_lease};
use super::{Actor, Idm, IdmError};
use crate::ldap::DirectorySnapshot;
use apply::{apply_group, apply_user};
use plan::{UserOp, plan};

pub use plan::ApplyOptions;

/// How many user changes one write transaction carries: big enough that a
/// first sync of 100,000 entries is a few dozen commits, small enough that
/// one transaction stays modest in memory.
const USERS_PER_TRANSACTION: usize = 2_000;

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
        let single_node = self.single_node();
        let still_ours = |tx: &crate::store::WriteTx<'_>| match &options.holder {
            Some(replica) => ensure_lease(tx, Job::LdapSync, replica, self.now(), single_node),
            None => Ok(()),
        };
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
                    still_ours(tx)?;
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
            still_ours(tx)?;
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

#[cfg(test)]
mod tests;
