//! The waiting half of the group commit for audit events that are the whole of their
//! request's write (`idm::audit_batch` holds the committing half).
//!
//! An authorization at `/authorize` writes one thing, its `oidc_authorized` event, and must
//! not hand out the code before that event is durable. redb runs one write at a time and each
//! durable commit costs an fsync, so under load authorizations queued behind each other's
//! fsyncs (16 concurrent requests waited for 16 commits: the full code flow's p99 was 21 ms).
//! Here a request queues its event and waits, without holding a thread, for the writer turn;
//! whoever holds the turn commits every queued event in one transaction on the blocking pool.
//! A request returns only after the commit holding its event, so nothing that was answered
//! is lost; N concurrent events cost one fsync, and a lone event costs what it did.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use super::error::WebError;
use crate::idm::{Idm, PendingAuditEvent};

/// The queue of events waiting for a commit. Cheap to clone.
#[derive(Clone)]
pub struct AuditBatch {
    shared: Arc<Shared>,
}

struct Shared {
    idm: Idm,
    queue: Mutex<Vec<Waiting>>,
    /// The writer turn (tokio's mutex is fair: turns go in arrival order).
    turn: tokio::sync::Mutex<()>,
    /// Commits made, for the test that checks events share them.
    #[cfg(test)]
    commits: std::sync::atomic::AtomicU64,
}

struct Waiting {
    event: PendingAuditEvent,
    /// The event's id, or the commit's error as text (one error serves the whole batch).
    done: oneshot::Sender<Result<u64, String>>,
}

impl std::fmt::Debug for AuditBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditBatch").finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AuditBatch {
    pub fn new(idm: Idm) -> AuditBatch {
        AuditBatch {
            shared: Arc::new(Shared {
                idm,
                queue: Mutex::default(),
                turn: tokio::sync::Mutex::new(()),
                #[cfg(test)]
                commits: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// Appends `event` to the audit log, sharing a durable commit with events recorded at
    /// the same moment; returns its id once that commit is done.
    pub async fn record(&self, event: PendingAuditEvent) -> Result<u64, WebError> {
        let (done, outcome) = oneshot::channel();
        lock(&self.shared.queue).push(Waiting { event, done });
        {
            let _turn = self.shared.turn.lock().await;
            // The commit before our turn may have carried our event.
            if outcome.is_empty() {
                let shared = Arc::clone(&self.shared);
                tokio::task::spawn_blocking(move || commit(&shared.idm, &shared.queue))
                    .await
                    .map_err(|e| {
                        tracing::error!("an audit commit task failed: {e}");
                        WebError::internal()
                    })?;
                #[cfg(test)]
                self.shared
                    .commits
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        // Ours was in this commit or, if a cancelled request's commit took it, in that one.
        match outcome.await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(message)) => {
                tracing::error!("recording an audit event failed: {message}");
                Err(WebError::internal())
            }
            Err(_) => Err(WebError::internal()),
        }
    }
}

/// Commits every queued event in one transaction and tells each waiter.
fn commit(idm: &Idm, queue: &Mutex<Vec<Waiting>>) {
    let batch = std::mem::take(&mut *lock(queue));
    if batch.is_empty() {
        return;
    }
    let (events, waiting): (Vec<PendingAuditEvent>, Vec<_>) =
        batch.into_iter().map(|w| (w.event, w.done)).unzip();
    match idm.commit_audit_events(events) {
        Ok(ids) => {
            for (done, id) in waiting.into_iter().zip(ids) {
                // A waiter that went away (its client disconnected) needs no answer.
                let _ = done.send(Ok(id));
            }
        }
        Err(error) => {
            let message = error.to_string();
            for done in waiting {
                let _ = done.send(Err(message.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    use latchkey_protocol::AuditQuery;
    use time::macros::datetime;

    use crate::clock::ManualClock;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_events_share_commits_and_each_gets_its_own_id() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(datetime!(2026-03-01 09:30:00 UTC));
        let idm = Idm::on_file(&dir.path().join("db.redb"), Arc::new(clock)).unwrap();
        let batch = AuditBatch::new(idm.clone());
        // While one commit has the turn, 32 events arrive: they must share the next one.
        let turn = batch.shared.turn.lock().await;
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let batch = batch.clone();
                tokio::spawn(async move {
                    batch
                        .record(PendingAuditEvent::named(&format!("e{i}")))
                        .await
                })
            })
            .collect();
        while lock(&batch.shared.queue).len() < 32 {
            tokio::task::yield_now().await;
        }
        drop(turn);
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap().unwrap());
        }
        ids.sort_unstable();
        assert_eq!(ids, (1..=32).collect::<Vec<u64>>());
        assert_eq!(batch.shared.commits.load(Ordering::Relaxed), 1);
        // Each event is stored under the id its request was given.
        let query = AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        };
        let stored = idm.list_audit(&query).unwrap();
        assert_eq!(stored.len(), 32);
        // Alone, an event is committed at once.
        assert_eq!(
            batch
                .record(PendingAuditEvent::named("alone"))
                .await
                .unwrap(),
            33
        );
        assert_eq!(batch.shared.commits.load(Ordering::Relaxed), 2);
    }
}
