//! Audit events that are the whole of their request's write, committed several at a time.
//!
//! An authorization at `/authorize` writes one thing, its `oidc_authorized` event, and must not
//! hand out its code before that event is durable. Each durable commit costs an fsync, so the
//! web layer gathers the events of concurrent requests and commits them together
//! ([`Idm::commit_audit_events`]): N events cost one fsync. The waiting is the web layer's
//! (it is async); what is committed, and how, is decided here.

use super::audit::{self, Subject};
use super::{Actor, Idm, IdmError};
use crate::store::AuditRecord;

/// An audit event made now and written later, by [`Idm::commit_audit_events`].
#[derive(Debug)]
pub struct PendingAuditEvent(AuditRecord);

impl PendingAuditEvent {
    pub(crate) fn new(
        now: i64,
        actor: &Actor,
        event: &str,
        subject: Option<Subject<'_>>,
        details: Vec<(String, String)>,
    ) -> PendingAuditEvent {
        PendingAuditEvent(audit::event(now, actor, event, subject, details))
    }

    /// A bare system event named `event`, for tests.
    #[cfg(test)]
    pub(crate) fn named(event: &str) -> PendingAuditEvent {
        PendingAuditEvent::new(0, &Actor::system(), event, None, Vec::new())
    }
}

impl Idm {
    /// Appends `events` in one durable commit and returns their ids, in order. A failure
    /// writes none of them.
    pub fn commit_audit_events(
        &self,
        events: Vec<PendingAuditEvent>,
    ) -> Result<Vec<u64>, IdmError> {
        let records: Vec<AuditRecord> = events.into_iter().map(|event| event.0).collect();
        Ok(self.store.append_audit_batch(&records)?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use latchkey_protocol::AuditQuery;
    use time::macros::datetime;

    use super::*;
    use crate::clock::ManualClock;
    use crate::store::Store;

    #[test]
    fn a_batch_is_stored_in_order_under_the_ids_it_returns() {
        let clock = ManualClock::new(datetime!(2026-03-01 09:30:00 UTC));
        let idm = Idm::new(Store::memory().unwrap(), Arc::new(clock));
        let events = ["a", "b", "c"].map(PendingAuditEvent::named).into();
        assert_eq!(idm.commit_audit_events(events).unwrap(), vec![1, 2, 3]);
        let stored = idm.list_audit(&AuditQuery::default()).unwrap();
        let named: Vec<(u64, &str)> = stored.iter().map(|e| (e.id, e.event.as_str())).collect();
        assert_eq!(named, vec![(3, "c"), (2, "b"), (1, "a")]);
    }
}
