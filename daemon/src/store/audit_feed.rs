//! Telling the audit observer (the live audit views) about committed events.
//!
//! On redb every event is written here and announced by the write that committed it. On
//! PostgreSQL other replicas write events too, and the observer must see theirs as well:
//! - The store remembers the highest event id it has announced. It starts at the last event
//!   when the store opens (what was there before is history, not news).
//! - Writers on every replica take turns under one lock, so event ids follow commit order
//!   across the deployment: "not yet announced" is exactly "an id above the last announced".
//! - Events are announced in id order, once each, under one lock: after a local commit, the
//!   events other replicas committed in between are read and announced first; on each poll
//!   (`follow_audit`, every [`AUDIT_POLL`] from the replica-notices job, and after the
//!   listener reconnects), everything above the last announced is read and announced. An
//!   event announced one way is skipped by the other.
//! - Other replicas' events are read only while someone follows them (a console subscribed to
//!   the live audit view). Otherwise a poll only moves the last announced id to the newest
//!   event (one indexed read of one key), so that a console that starts following gets news,
//!   not history. Replicas do not notify each other of audit events (see `notices.rs`): a
//!   notice per commit cost every sign-in more than the views it served, and a poll costs
//!   nothing per request and at most [`AUDIT_POLL`] of delay in a view.

use std::sync::{Mutex, MutexGuard};

use super::kv::ReadableTable;

use super::error::db;
use super::records::{AuditRecord, decode};
use super::tx::{Access, Tables};
use super::{Store, StoreError};

/// Events read per transaction while catching up.
const CATCH_UP_PAGE: usize = 500;

/// How often a replica on PostgreSQL looks for the other replicas' audit events.
pub const AUDIT_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// The highest audit event id announced.
#[derive(Debug, Default)]
pub(super) struct Announced(Mutex<u64>);

impl Announced {
    fn lock(&self) -> MutexGuard<'_, u64> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<A: Access> Tables<A> {
    /// Up to `limit` events with an id above `after`, oldest first.
    pub fn audit_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditRecord)>, StoreError> {
        let Some(first) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in self
            .t
            .audit_log()?
            .range(first..)
            .map_err(db("reading the audit log"))?
            .take(limit)
        {
            let (seq, bytes) = entry.map_err(db("reading the audit log"))?;
            out.push((seq.value(), decode(bytes.value())?));
        }
        Ok(out)
    }

    /// The id of the newest event, 0 for an empty log.
    pub(super) fn last_audit_id(&self) -> Result<u64, StoreError> {
        Ok(self
            .t
            .audit_log()?
            .last()
            .map_err(db("reading the audit log"))?
            .map_or(0, |(seq, _)| seq.value()))
    }
}

impl Store {
    /// Counts the events already in the log as announced (PostgreSQL only).
    pub(super) fn start_audit_feed(&self) -> Result<(), StoreError> {
        if self.is_shared() {
            *self.audit_announced.lock() = self.read()?.last_audit_id()?;
        }
        Ok(())
    }

    /// Tells the observer about events this store just committed.
    pub(super) fn announce(&self, appended: &[(u64, AuditRecord)]) {
        let Some(&(first, _)) = appended.first() else {
            return;
        };
        if !self.is_shared() {
            for (seq, record) in appended {
                self.tell_observer(*seq, record);
            }
            return;
        }
        let mut announced = self.audit_announced.lock();
        if first > announced.saturating_add(1)
            && self.audit_watched()
            && let Err(e) = self.announce_stored(&mut announced, first.saturating_sub(1))
        {
            tracing::warn!("could not read the audit events of the other replicas: {e}");
        }
        for (seq, record) in appended {
            if *seq > *announced {
                self.tell_observer(*seq, record);
                *announced = *seq;
            }
        }
    }

    /// Announces the committed events not announced yet, read from the database (other
    /// replicas wrote them), while someone follows the audit log; otherwise moves the last
    /// announced id to the newest event. Nothing to do on redb, where every event was
    /// announced by its own write.
    pub fn follow_audit(&self) -> Result<(), StoreError> {
        if !self.is_shared() {
            return Ok(());
        }
        if !self.audit_watched() {
            // Read before the lock: a local commit announcing meanwhile must not wait on it.
            let last = self.read()?.last_audit_id()?;
            let mut announced = self.audit_announced.lock();
            *announced = (*announced).max(last);
            return Ok(());
        }
        let mut announced = self.audit_announced.lock();
        self.announce_stored(&mut announced, u64::MAX)
    }

    /// Whether the observer has anyone to tell (no observer: nobody).
    fn audit_watched(&self) -> bool {
        self.audit_observer
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .is_some_and(|(_, watched)| watched())
    }

    /// Reads and announces the events above `announced` up to `through`.
    fn announce_stored(&self, announced: &mut u64, through: u64) -> Result<(), StoreError> {
        loop {
            let page = self.read()?.audit_after(*announced, CATCH_UP_PAGE)?;
            let full = page.len() == CATCH_UP_PAGE;
            for (seq, record) in page {
                if seq > through {
                    return Ok(());
                }
                self.tell_observer(seq, &record);
                *announced = seq;
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn tell_observer(&self, seq: u64, record: &AuditRecord) {
        let observer = self
            .audit_observer
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        if let Some((observer, _)) = observer {
            observer(seq, record);
        }
    }
}
