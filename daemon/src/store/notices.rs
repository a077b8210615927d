//! What one replica changed, told to the others: [`Notice`]s over PostgreSQL's
//! LISTEN/NOTIFY (`kv/listen.rs` is the mechanism). On redb there is one process and nobody
//! to tell: sending does nothing and there is nothing to hear.
//!
//! Decisions:
//! - A notice says *that* something changed, never the change itself: receivers read the
//!   database (the keys), so a payload stays far below PostgreSQL's 8000 bytes and
//!   a lost notice costs only latency (the catch-up after a reconnect re-reads).
//! - Each store has a random id, sent with every notice, and drops notices carrying its own:
//!   a replica has already announced its own changes. It is per store, not per process, so
//!   that two daemons in one test process are two replicas.
//! - The write that changes signing keys notifies in its own transaction (`Store::write`),
//!   so the notice arrives only once the change is visible and never for a rolled-back one.
//!   Other writes send nothing.
//! - Audit events are not notified: nearly every request appends one, and a NOTIFY on each
//!   commit serialises commits on PostgreSQL's notify lock and wakes every replica's
//!   listener, all for live views that are closed nearly always. A replica whose console
//!   follows the audit log polls for the others' events instead (`audit_feed.rs`).
//! - Notices reach this process on a broadcast channel ([`ReplicaNotices`]); a receiver that
//!   falls behind gets [`Notice::CatchUp`] instead of what it missed.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::kv::{Heard, MAX_PAYLOAD};
use super::{Backend, Store};

/// Something another replica changed (or may have: [`Notice::CatchUp`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Signing keys were made, rotated or retired: reload them.
    KeysChanged,
    /// A running LDAP sync moved on; the payload is whatever the sender made of its progress.
    LdapProgress(String),
    /// Users or groups changed; views should refresh.
    DirectoryChanged,
    /// Notices may have been missed (the listener (re)connected, or this receiver fell
    /// behind): re-read everything notices point at.
    CatchUp,
}

/// The notice on the wire: JSON with the sender's id.
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    from: String,
    #[serde(flatten)]
    what: What,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
enum What {
    KeysChanged,
    LdapProgress { progress: String },
    DirectoryChanged,
}

/// Notices heard from other replicas, in the order heard.
#[derive(Debug)]
pub struct ReplicaNotices(broadcast::Receiver<Notice>);

impl ReplicaNotices {
    /// The next notice; `None` once the store is gone.
    pub async fn recv(&mut self) -> Option<Notice> {
        match self.0.recv().await {
            Ok(notice) => Some(notice),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Notice::CatchUp),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// A notice already waiting, if any.
    pub fn try_recv(&mut self) -> Option<Notice> {
        match self.0.try_recv() {
            Ok(notice) => Some(notice),
            Err(broadcast::error::TryRecvError::Lagged(_)) => Some(Notice::CatchUp),
            Err(_) => None,
        }
    }
}

/// Notices waiting for a receiver, at most; beyond, the receiver gets one `CatchUp`.
const HEARD_CAPACITY: usize = 256;

/// This store's side of the conversation.
#[derive(Debug)]
pub(super) struct Replicas {
    id: String,
    heard: broadcast::Sender<Notice>,
}

impl Replicas {
    pub(super) fn new() -> Replicas {
        Replicas {
            id: format!("{:016x}", rand::random::<u64>()),
            heard: broadcast::channel(HEARD_CAPACITY).0,
        }
    }

    /// The payload telling the others `notice`; `None` for what is never sent.
    fn encode(&self, notice: &Notice) -> Option<String> {
        let what = match notice {
            Notice::KeysChanged => What::KeysChanged,
            Notice::LdapProgress(progress) => What::LdapProgress {
                progress: progress.clone(),
            },
            Notice::DirectoryChanged => What::DirectoryChanged,
            Notice::CatchUp => return None,
        };
        let payload = serde_json::to_string(&Wire {
            from: self.id.clone(),
            what,
        })
        .ok()?;
        if payload.len() > MAX_PAYLOAD {
            tracing::warn!(
                "a notice for the other replicas is too long for PostgreSQL ({} bytes); not sent",
                payload.len()
            );
            return None;
        }
        Some(payload)
    }

    /// What a payload tells this replica: nothing for its own notices or ones it cannot read
    /// (from a newer release, say).
    fn decode(&self, payload: &str) -> Option<Notice> {
        let wire: Wire = serde_json::from_str(payload).ok()?;
        if wire.from == self.id {
            return None;
        }
        Some(match wire.what {
            What::KeysChanged => Notice::KeysChanged,
            What::LdapProgress { progress } => Notice::LdapProgress(progress),
            What::DirectoryChanged => Notice::DirectoryChanged,
        })
    }

    fn hear(&self, heard: Heard) {
        let notice = match heard {
            Heard::Connected => Some(Notice::CatchUp),
            Heard::Payload(payload) => self.decode(&payload),
            // What was missed is caught up on at the next `Connected`.
            Heard::Lost => None,
        };
        if let Some(notice) = notice {
            // Nobody listening (yet) is fine: a receiver catches up when it starts.
            let _ = self.heard.send(notice);
        }
    }
}

impl Store {
    /// Notices from the other replicas; `None` on redb (a single node). Call it before
    /// reading what notices point at, so that nothing falls between the read and the first
    /// notice.
    pub fn replica_notices(&self) -> Option<ReplicaNotices> {
        self.is_shared()
            .then(|| ReplicaNotices(self.replicas.heard.subscribe()))
    }

    /// Tells the other replicas `notice`, outside any transaction, without waiting (nothing
    /// on redb). Best effort: a notice that cannot be sent now is dropped.
    pub fn notify_replicas(&self, notice: &Notice) {
        if let Backend::Postgres(database) = &*self.backend
            && let Some(payload) = self.replicas.encode(notice)
            && !database.notify(payload)
        {
            tracing::debug!("dropped a notice for the other replicas: {notice:?}");
        }
    }

    /// Starts hearing the other replicas (PostgreSQL only).
    pub(super) fn listen_to_replicas(&self) {
        if let Backend::Postgres(database) = &*self.backend {
            let replicas = std::sync::Arc::clone(&self.replicas);
            database.listen(std::sync::Arc::new(move |heard| replicas.hear(heard)));
        }
    }

    /// The payloads a write transaction sends on commit: one when signing keys changed.
    /// Empty on redb.
    pub(super) fn write_notices(&self, keys_changed: bool) -> Vec<String> {
        if !self.is_shared() || !keys_changed {
            return Vec::new();
        }
        self.replicas
            .encode(&Notice::KeysChanged)
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_hears_the_others_and_not_itself() {
        let (a, b) = (Replicas::new(), Replicas::new());
        let notices = [
            Notice::KeysChanged,
            Notice::LdapProgress("{\"phase\":\"users\"}".to_owned()),
            Notice::DirectoryChanged,
        ];
        for notice in notices {
            let payload = a.encode(&notice).unwrap();
            assert!(payload.len() < 200, "{payload}");
            assert_eq!(b.decode(&payload), Some(notice));
            assert_eq!(a.decode(&payload), None);
        }
        assert_eq!(a.encode(&Notice::CatchUp), None);
        assert_eq!(
            b.decode("{\"from\":\"x\",\"notice\":\"from_the_future\"}"),
            None
        );
    }

    #[test]
    fn a_payload_too_long_for_postgresql_is_not_sent() {
        let a = Replicas::new();
        assert!(a.encode(&Notice::LdapProgress("x".repeat(7_990))).is_none());
        assert!(a.encode(&Notice::LdapProgress("x".repeat(7_000))).is_some());
    }

    #[test]
    fn on_redb_there_is_nobody_to_tell_or_hear() {
        let store = Store::memory().unwrap();
        assert!(store.replica_notices().is_none());
        assert!(store.write_notices(true).is_empty());
        store.notify_replicas(&Notice::DirectoryChanged);
    }
}
