//! How the last LDAP sync went, kept in the database (`LDAP_SYNC_STATE`) so
//! that a console on any replica shows the last sync whichever replica ran
//! it, and so that every replica's schedule counts from it.

use latchkey_protocol::{LdapSyncReport, SkippedEntry};
use time::OffsetDateTime;

use super::leases::ReplicaId;
use super::{Idm, IdmError, to_time};
use crate::store::{LdapSyncCountsRecord, LdapSyncStateRecord, SkippedEntryRecord};

/// The last sync as the status screen and the schedule read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LdapSyncState {
    /// When the last sync ended, successful or not (`None`: none ran yet).
    pub finished_at: Option<OffsetDateTime>,
    /// The report of the last successful sync.
    pub report: Option<LdapSyncReport>,
    /// The exact error of the last sync, when it failed.
    pub error: Option<String>,
}

impl Idm {
    pub fn ldap_sync_state(&self) -> Result<LdapSyncState, IdmError> {
        let stored = self.store.read()?.ldap_sync_state()?;
        Ok(LdapSyncState {
            finished_at: stored.finished_at.map(to_time).transpose()?,
            report: stored.report.map(report_view),
            error: stored.error,
        })
    }

    /// Records the end of a sync `replica` ran now: its report, or its
    /// error (the previous report stays, as the last one that worked).
    pub fn record_ldap_sync_outcome(
        &self,
        replica: &ReplicaId,
        outcome: Result<&LdapSyncReport, &str>,
    ) -> Result<(), IdmError> {
        let now = self.now();
        self.store.write(|tx| {
            let previous = tx.ldap_sync_state()?;
            let (report, error) = match outcome {
                Ok(report) => (Some(report_record(report)), None),
                Err(error) => (previous.report, Some(error.to_owned())),
            };
            tx.put_ldap_sync_state(&LdapSyncStateRecord {
                finished_at: Some(now),
                replica: replica.as_str().to_owned(),
                report,
                error,
            })?;
            Ok(())
        })
    }
}

fn report_record(report: &LdapSyncReport) -> LdapSyncCountsRecord {
    LdapSyncCountsRecord {
        created: report.created,
        updated: report.updated,
        enabled: report.enabled,
        disabled: report.disabled,
        deleted: report.deleted,
        groups_created: report.groups_created,
        groups_updated: report.groups_updated,
        groups_deleted: report.groups_deleted,
        skipped: report
            .skipped
            .iter()
            .map(|s| SkippedEntryRecord {
                entry: s.entry.clone(),
                reason: s.reason.clone(),
            })
            .collect(),
    }
}

fn report_view(record: LdapSyncCountsRecord) -> LdapSyncReport {
    LdapSyncReport {
        created: record.created,
        updated: record.updated,
        enabled: record.enabled,
        disabled: record.disabled,
        deleted: record.deleted,
        groups_created: record.groups_created,
        groups_updated: record.groups_updated,
        groups_deleted: record.groups_deleted,
        skipped: record
            .skipped
            .into_iter()
            .map(|s| SkippedEntry {
                entry: s.entry,
                reason: s.reason,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::macros::datetime;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::store::Store;

    #[test]
    fn the_last_outcome_is_kept_and_a_failure_keeps_the_last_report() {
        let clock = ManualClock::new(datetime!(2026-03-01 12:00 UTC));
        let idm = Idm::new(Store::memory().unwrap(), Arc::new(clock.clone()));
        let me = ReplicaId::random();
        assert_eq!(idm.ldap_sync_state().unwrap(), LdapSyncState::default());
        let report = LdapSyncReport {
            created: 3,
            groups_created: 2,
            skipped: vec![SkippedEntry {
                entry: "uid=x".into(),
                reason: "taken".into(),
            }],
            ..LdapSyncReport::default()
        };
        idm.record_ldap_sync_outcome(&me, Ok(&report)).unwrap();
        let state = idm.ldap_sync_state().unwrap();
        assert_eq!(state.finished_at, Some(clock.now()));
        assert_eq!(state.report.as_ref(), Some(&report));
        assert_eq!(state.error, None);
        clock.advance(time::Duration::minutes(5));
        idm.record_ldap_sync_outcome(&me, Err("bind failed"))
            .unwrap();
        let state = idm.ldap_sync_state().unwrap();
        assert_eq!(state.finished_at, Some(clock.now()));
        assert_eq!(state.report, Some(report));
        assert_eq!(state.error.as_deref(), Some("bind failed"));
    }
}
