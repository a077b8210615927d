//! The append-only audit log and its per-user index.

use super::kv::ReadableTable;

use super::error::db;
use super::records::{AuditRecord, UserId, decode, encode};
use super::tx::{Access, Tables, WriteTx};
use super::{Store, StoreError};

impl<A: Access> Tables<A> {
    /// Newest first: up to `limit` events with an id below `before` (all if
    /// `None`), only those whose actor or subject is `user` when given.
    pub fn audit_page(
        &self,
        before: Option<u64>,
        limit: usize,
        user: Option<UserId>,
    ) -> Result<Vec<(u64, AuditRecord)>, StoreError> {
        let before = before.unwrap_or(u64::MAX);
        let mut out = Vec::with_capacity(limit.min(1024));
        match user {
            None => {
                for entry in self
                    .t
                    .audit_log()?
                    .range(..before)
                    .map_err(db("reading the audit log"))?
                    .rev()
                    .take(limit)
                {
                    let (seq, bytes) = entry.map_err(db("reading the audit log"))?;
                    out.push((seq.value(), decode(bytes.value())?));
                }
            }
            Some(user) => {
                let user = user.to_bytes();
                for entry in self
                    .t
                    .user_audit_events()?
                    .range((user, 0)..(user, before))
                    .map_err(db("reading the audit log"))?
                    .rev()
                    .take(limit)
                {
                    let (key, _) = entry.map_err(db("reading the audit log"))?;
                    let seq = key.value().1;
                    let record = self
                        .t
                        .audit_log()?
                        .get(seq)
                        .map_err(db("reading the audit log"))?
                        .ok_or_else(|| {
                            StoreError::Corrupt(format!("audit event {seq} is indexed but missing"))
                        })?;
                    out.push((seq, decode(record.value())?));
                }
            }
        }
        Ok(out)
    }
}

impl WriteTx<'_> {
    /// Appends an event and returns its id (1, 2, 3, …).
    pub fn append_audit(&mut self, event: &AuditRecord) -> Result<u64, StoreError> {
        // Writers take turns, so the last event this transaction appended is the last one.
        let last = match self.appended_audit.last() {
            Some((seq, _)) => *seq,
            None => self
                .t
                .audit_log()?
                .last()
                .map_err(db("reading the audit log"))?
                .map_or(0, |(seq, _)| seq.value()),
        };
        let seq = last.checked_add(1).ok_or_else(|| {
            StoreError::Corrupt("the audit log has run out of event ids".to_owned())
        })?;
        self.t
            .audit_log_mut()?
            .put(seq, encode(event)?.as_slice())
            .map_err(db("writing the audit log"))?;
        for user in [event.actor_user, event.subject_user].into_iter().flatten() {
            self.t
                .user_audit_events_mut()?
                .put((user.to_bytes(), seq), ())
                .map_err(db("writing the audit log"))?;
        }
        self.appended_audit.push((seq, event.clone()));
        Ok(seq)
    }
}

impl WriteTx<'_> {
    /// Deletes up to `max` of the oldest events recorded before `cutoff` (unix seconds), with
    /// their per-user index entries; returns how many went. The newest event always stays,
    /// so that event ids, which follow the last one, are never handed out twice.
    pub fn prune_audit(&mut self, cutoff: i64, max: usize) -> Result<u64, StoreError> {
        let newest = self
            .t
            .audit_log()?
            .last()
            .map_err(db("reading the audit log"))?
            .map(|(seq, _)| seq.value());
        let Some(newest) = newest else {
            return Ok(0);
        };
        let mut doomed: Vec<(u64, AuditRecord)> = Vec::new();
        for entry in self
            .t
            .audit_log()?
            .range(..newest)
            .map_err(db("reading the audit log"))?
            .take(max)
        {
            let (seq, bytes) = entry.map_err(db("reading the audit log"))?;
            let record: AuditRecord = decode(bytes.value())?;
            // The log is in time order: the first event young enough ends the run.
            if record.at >= cutoff {
                break;
            }
            doomed.push((seq.value(), record));
        }
        for (seq, record) in &doomed {
            self.t
                .audit_log_mut()?
                .remove(*seq)
                .map_err(db("pruning the audit log"))?;
            for user in [record.actor_user, record.subject_user]
                .into_iter()
                .flatten()
            {
                self.t
                    .user_audit_events_mut()?
                    .remove((user.to_bytes(), *seq))
                    .map_err(db("pruning the audit log"))?;
            }
        }
        Ok(doomed.len() as u64)
    }
}

impl Store {
    /// Appends `events` in one durable commit and returns their ids, in order. For events
    /// that are the whole of their write, gathered from concurrent requests
    /// (`idm::audit_batch`).
    pub fn append_audit_batch(&self, events: &[AuditRecord]) -> Result<Vec<u64>, StoreError> {
        self.write(|tx| events.iter().map(|event| tx.append_audit(event)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_at(at: i64, user: Option<UserId>) -> AuditRecord {
        AuditRecord {
            at,
            subject_user: user,
            ..AuditRecord::named("e")
        }
    }

    #[test]
    fn pruning_takes_the_oldest_in_bounded_runs_and_keeps_the_newest() {
        let store = Store::memory().unwrap();
        let alice = UserId::random();
        store
            .write(|tx| {
                for at in [10, 20, 30, 40] {
                    tx.append_audit(&event_at(at, Some(alice)))?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        // At most `max` per call, oldest first, stopping at the first event young enough.
        assert_eq!(store.write(|tx| tx.prune_audit(35, 2)).unwrap(), 2);
        assert_eq!(store.write(|tx| tx.prune_audit(35, 2)).unwrap(), 1);
        assert_eq!(store.write(|tx| tx.prune_audit(35, 2)).unwrap(), 0);
        let tx = store.read().unwrap();
        let left: Vec<u64> = tx
            .audit_page(None, 10, None)
            .unwrap()
            .iter()
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(left, [4]);
        // The per-user index went with the events.
        assert_eq!(tx.audit_page(None, 10, Some(alice)).unwrap().len(), 1);
        drop(tx);
        // Even past the cutoff the newest stays, so the next id is never reused.
        assert_eq!(store.write(|tx| tx.prune_audit(1_000, 10)).unwrap(), 0);
        let next = store
            .write(|tx| tx.append_audit(&event_at(50, None)))
            .unwrap();
        assert_eq!(next, 5);
    }
}
