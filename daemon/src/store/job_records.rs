//! Records of the background jobs that replicas share: who runs a job now
//! (its lease) and how the last LDAP sync went.

use serde::{Deserialize, Serialize};

use super::records::versioned;

/// A job's lease, current version: the replica that runs the job until
/// `expires_at` (UTC seconds, by the holder's clock) unless it renews.
pub type LeaseRecord = LeaseV1;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LeaseV1 {
    /// The holder's replica id (random per process start).
    pub holder: String,
    pub expires_at: i64,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredLease {
    V1(LeaseV1),
}

versioned!(LeaseV1, StoredLease, "job lease");

/// The last LDAP sync, whichever replica ran it, current version.
pub type LdapSyncStateRecord = LdapSyncStateV1;

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct LdapSyncStateV1 {
    /// When the last sync ended (UTC seconds), successful or not.
    pub finished_at: Option<i64>,
    /// The replica that ran it.
    pub replica: String,
    /// The counts of the last successful sync (kept when a later one fails).
    pub report: Option<LdapSyncCountsV1>,
    /// The exact error of the last sync, when it failed.
    pub error: Option<String>,
}

/// What a successful sync did (the socket's `LdapSyncReport`, stored in its own shape).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct LdapSyncCountsV1 {
    pub created: u64,
    pub updated: u64,
    pub enabled: u64,
    pub disabled: u64,
    pub deleted: u64,
    pub groups_created: u64,
    pub groups_updated: u64,
    pub groups_deleted: u64,
    pub skipped: Vec<SkippedEntryRecord>,
}

/// An entry a sync left alone: its DN and why.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SkippedEntryRecord {
    pub entry: String,
    pub reason: String,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredLdapSyncState {
    V1(LdapSyncStateV1),
}

versioned!(LdapSyncStateV1, StoredLdapSyncState, "LDAP sync state");
