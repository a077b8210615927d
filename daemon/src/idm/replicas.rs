//! What this replica hears from, and tells, the other replicas on a shared database
//! (`store::notices` is the mechanism; nothing happens on redb). idm does the rereading a
//! notice calls for; the jobs that serve the consoles pass the rest on
//! (`jobs::replica_notices`).

use latchkey_protocol::LdapSyncProgress;

use super::{Idm, IdmError};
pub use crate::store::{AUDIT_POLL, Notice, ReplicaNotices};

impl Idm {
    /// Notices from the other replicas; `None` on a single node.
    pub fn replica_notices(&self) -> Option<ReplicaNotices> {
        self.store.replica_notices()
    }

    /// Tells the other replicas that users or groups changed (their consoles refresh).
    /// Never waits; nothing on a single node.
    pub fn tell_replicas_directory_changed(&self) {
        self.store.notify_replicas(&Notice::DirectoryChanged);
    }

    /// Tells the other replicas how a running LDAP sync is doing (their consoles show it).
    /// Never waits; nothing on a single node.
    pub fn tell_replicas_ldap_progress(&self, progress: &LdapSyncProgress) {
        if let Ok(payload) = serde_json::to_string(progress) {
            self.store.notify_replicas(&Notice::LdapProgress(payload));
        }
    }

    /// Announces, to the audit observer, the events other replicas committed that it has not
    /// been told about, in order, once each, while anyone follows the audit log. Call it
    /// every [`AUDIT_POLL`]; nothing on a single node.
    pub fn follow_audit(&self) -> Result<(), IdmError> {
        Ok(self.store.follow_audit()?)
    }
}

/// The progress another replica's LDAP sync reported; `None` for a payload this release
/// cannot read.
pub fn ldap_progress_of(payload: &str) -> Option<LdapSyncProgress> {
    serde_json::from_str(payload).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldap_progress_survives_the_trip() {
        let progress = LdapSyncProgress {
            phase: "applying".to_owned(),
            done: 2_000,
            total: Some(5_000),
        };
        let payload = serde_json::to_string(&progress).unwrap();
        assert_eq!(ldap_progress_of(&payload), Some(progress));
        assert_eq!(ldap_progress_of("not json"), None);
    }
}
