//! The audit log: what every mutation records, and reading it back.

use latchkey_protocol::AuditQuery;
use time::OffsetDateTime;

use super::{Actor, Idm, IdmError, UserId, settings, to_time, users::resolve_user};
use crate::store::{AuditRecord, SettingValue, WriteTx};

/// One recorded event, as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: u64,
    pub at: OffsetDateTime,
    /// A stable snake_case name such as `user_created`.
    pub event: String,
    /// "admin-socket (uid 1000)", a username, or "system".
    pub actor: String,
    /// The user or group it was done to, by name at the time.
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// What changed, as field names and non-secret values, in order.
    pub details: Vec<(String, String)>,
}

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

/// Events deleted per write transaction by the retention sweep: small enough that a sweep
/// never holds the writer long, so sign-ins keep flowing between batches.
pub(crate) const AUDIT_PRUNE_BATCH: usize = 1_000;
/// Batches per sweep, so a first sweep over years of history spreads over several runs.
const AUDIT_PRUNE_BATCHES: usize = 50;

impl Idm {
    /// Deletes audit events older than `audit.retention_days` (0 keeps everything), oldest
    /// first, in batches of [`AUDIT_PRUNE_BATCH`] per transaction; returns how many went.
    /// The daemon calls it with its other periodic sweeps.
    pub fn sweep_audit_log(&self) -> Result<u64, IdmError> {
        let days = match settings::value_of(&self.store.read()?, settings::AUDIT_RETENTION_DAYS)? {
            Some(SettingValue::Integer(days)) => days,
            _ => 0,
        };
        if days <= 0 {
            return Ok(0);
        }
        let cutoff = self.now().saturating_sub(days.saturating_mul(86_400));
        let mut removed = 0u64;
        for _ in 0..AUDIT_PRUNE_BATCHES {
            let batch = self
                .store
                .write(|tx| tx.prune_audit(cutoff, AUDIT_PRUNE_BATCH))?;
            removed = removed.saturating_add(batch);
            if batch < AUDIT_PRUNE_BATCH as u64 {
                break;
            }
        }
        Ok(removed)
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

fn event_from_record(id: u64, record: AuditRecord) -> Result<AuditEvent, IdmError> {
    Ok(AuditEvent {
        id,
        at: to_time(record.at)?,
        event: record.event,
        actor: record.actor,
        subject: record.subject,
        ip: record.ip,
        user_agent: record.user_agent,
        details: record.details,
    })
}

/// `("key", "value")` pairs without the `.to_owned()` noise.
pub(crate) fn detail(key: &str, value: impl Into<String>) -> (String, String) {
    (key.to_owned(), value.into())
}

impl Idm {
    /// Newest first. `query.user` (username, email or id) keeps only events
    /// whose actor or subject is that user, found by id so renames keep
    /// history; an id also works for a user who has since been deleted.
    pub fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, IdmError> {
        let limit = match query.limit {
            0 => AuditQuery::default().limit,
            n => n.min(AuditQuery::MAX_LIMIT),
        };
        let tx = self.store.read()?;
        let user = match query.user.as_deref() {
            None => None,
            Some(user_ref) => match resolve_user(&tx, user_ref) {
                Ok(user) => Some(user.id),
                Err(IdmError::NotFound { .. }) => Some(
                    user_ref
                        .trim()
                        .parse::<UserId>()
                        .map_err(|_| IdmError::user_not_found(user_ref))?,
                ),
                Err(other) => return Err(other),
            },
        };
        tx.audit_page(query.before, limit as usize, user)?
            .into_iter()
            .map(|(id, record)| event_from_record(id, record))
            .collect()
    }

    /// Calls `observer` with every audit event after it is committed, from
    /// the thread that committed it: keep it quick (send on a channel).
    pub fn on_audit(&self, observer: impl Fn(AuditEvent) + Send + Sync + 'static) {
        self.store
            .set_audit_observer(std::sync::Arc::new(move |id, record: &AuditRecord| {
                if let Ok(event) = event_from_record(id, record.clone()) {
                    observer(event);
                }
            }));
    }

    /// Appends one event in its own transaction, for events that change
    /// nothing else (sign-ins, failed attempts). A `subject` that names a
    /// user (id, username or email) is linked to that user's history.
    pub fn record_audit(
        &self,
        actor: &Actor,
        event: &str,
        subject: Option<&str>,
        details: Vec<(String, String)>,
    ) -> Result<u64, IdmError> {
        let now = self.now();
        self.store.write(|tx| {
            let user = match subject {
                Some(subject) => match resolve_user(tx, subject) {
                    Ok(user) => Some(user.id),
                    Err(IdmError::NotFound { .. }) => None,
                    Err(other) => return Err(other),
                },
                None => None,
            };
            let subject = subject.map(|name| Subject { name, user });
            append(tx, now, actor, event, subject, details)
        })
    }
}
