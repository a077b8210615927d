//! Writing the audit log: the event every mutation records inside its own
//! write transaction, so either both are written or neither is. Reading the
//! log back, and pruning it, is `audit_log`.

use super::{Actor, IdmError, UserId};
use crate::store::{AuditRecord, WriteTx};

/// What an event was done to: its name at the time, and the user's id when
/// it is a user (so their history survives a rename or deletion).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Subject<'a> {
    pub name: &'a str,
    pub user: Option<UserId>,
}

impl<'a> Subject<'a> {
    /// A subject linked to a user's history (the user, or a group they joined or left).
    pub fn linked(name: &'a str, id: UserId) -> Subject<'a> {
        Subject {
            name,
            user: Some(id),
        }
    }

    pub fn other(name: &'a str) -> Subject<'a> {
        Subject { name, user: None }
    }
}

/// Appends one event inside the caller's write transaction.
pub(crate) fn append(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    event: &str,
    subject: Option<Subject<'_>>,
    details: Vec<(String, String)>,
) -> Result<u64, IdmError> {
    Ok(tx.append_audit(&self::event(now, actor, event, subject, details))?)
}

/// An event as stored, for a caller that records it itself (`audit_batch`: events that are
/// the whole of their request's write).
pub(crate) fn event(
    now: i64,
    actor: &Actor,
    event: &str,
    subject: Option<Subject<'_>>,
    details: Vec<(String, String)>,
) -> AuditRecord {
    AuditRecord {
        at: now,
        event: event.to_owned(),
        actor: actor.to_string(),
        actor_user: actor.user_id(),
        subject: subject.map(|s| s.name.to_owned()),
        subject_user: subject.and_then(|s| s.user),
        ip: actor.ip.clone(),
        user_agent: actor.user_agent.clone(),
        details,
    }
}

/// `("key", "value")` pairs without the `.to_owned()` noise.
pub(crate) fn detail(key: &str, value: impl Into<String>) -> (String, String) {
    (key.to_owned(), value.into())
}
