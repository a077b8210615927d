//! Group commit for events that are the whole of their write.
//!
//! Some audit events change nothing else: a code issued at `/authorize`, a refused sign-in.
//! Each used to pay a durable commit (an fsync) of its own, and redb runs one write at a time,
//! so under load they queued behind each other: 16 concurrent authorizations waited for 16
//! fsyncs. Here callers queue their event, and whoever next holds the writer lock appends
//! every queued event in one transaction and commits once. A caller returns only after the
//! commit holding its event is durable, so nothing that was answered can be lost; N
//! concurrent events cost one fsync instead of N, and a lone event costs what it did.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::records::AuditRecord;
use super::{Store, StoreError};

/// What a queued event's commit came to: its audit id, or the commit's error as text (one
/// error is shared by the whole batch).
type Outcome = Option<Result<u64, String>>;

pub(super) struct Queued {
    record: AuditRecord,
    outcome: Arc<Mutex<Outcome>>,
}

/// The queue of events waiting for a commit, and the lock its committer holds.
#[derive(Default)]
pub(super) struct GroupCommit {
    pub(super) queue: Mutex<Vec<Queued>>,
    /// Held while a batch is taken, written and its outcomes filled in. Only its holder
    /// drains the queue, so an event queued before a caller takes the lock is either in the
    /// batch that caller commits or already has its outcome.
    writer: Mutex<()>,
    /// Commits made, for the tests that check events share them.
    #[cfg(test)]
    pub(super) commits: std::sync::atomic::AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    /// Appends `record` to the audit log, sharing a durable commit with events other
    /// threads are appending at the same moment; returns its id once that commit is done.
    /// For events that are the only change of their operation: an event that must commit
    /// together with other writes belongs in that write's transaction instead.
    pub fn append_audit_grouped(&self, record: AuditRecord) -> Result<u64, StoreError> {
        let outcome = Arc::new(Mutex::new(None));
        lock(&self.grouped.queue).push(Queued {
            record,
            outcome: Arc::clone(&outcome),
        });
        let _writer = lock(&self.grouped.writer);
        if let Some(done) = lock(&outcome).take() {
            return done.map_err(StoreError::GroupCommit);
        }
        // The batch is taken once the write transaction is ours: everything queued while
        // we waited for it (behind any other write) rides along.
        let mut batch = Vec::new();
        let committed = self.write(|tx| {
            batch = std::mem::take(&mut *lock(&self.grouped.queue));
            batch
                .iter()
                .map(|queued| tx.append_audit(&queued.record))
                .collect::<Result<Vec<u64>, StoreError>>()
        });
        #[cfg(test)]
        self.grouped
            .commits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let shared: Result<Vec<u64>, String> =
            committed.as_ref().map_err(ToString::to_string).cloned();
        let mut own = None;
        for (i, queued) in batch.iter().enumerate() {
            let result = match &shared {
                Ok(ids) => ids
                    .get(i)
                    .copied()
                    .ok_or_else(|| "an event lost its id".to_owned()),
                Err(message) => Err(message.clone()),
            };
            if Arc::ptr_eq(&queued.outcome, &outcome) {
                own = Some(result);
            } else {
                *lock(&queued.outcome) = Some(result);
            }
        }
        match (committed, own) {
            (Err(error), _) => Err(error),
            (Ok(_), Some(result)) => result.map_err(StoreError::GroupCommit),
            (Ok(_), None) => Err(StoreError::GroupCommit(
                "the event was not in the batch its caller committed".to_owned(),
            )),
        }
    }
}
