//! Reading the audit log back (newest first, by user), following it live,
//! recording one-off events that name a user, and deleting events past
//! `audit.retention_days`. Writing an event with a change is `audit`.

use latchkey_protocol::AuditQuery;
use time::OffsetDateTime;

use super::audit::{Subject, append};
use super::setting_registry::AUDIT_RETENTION_DAYS;
use super::setting_values::integer;
use super::users::resolve_user;
use super::{Actor, Idm, IdmError, UserId, to_time};
use crate::store::AuditRecord;

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
        let days = integer(&self.store.read()?, AUDIT_RETENTION_DAYS)?.unwrap_or(0);
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
    /// `watched` says whether anyone follows the events now: on PostgreSQL,
    /// the events other replicas commit are read for the observer only then.
    pub fn on_audit(
        &self,
        watched: impl Fn() -> bool + Send + Sync + 'static,
        observer: impl Fn(AuditEvent) + Send + Sync + 'static,
    ) {
        let tell = std::sync::Arc::new(move |id, record: &AuditRecord| {
            if let Ok(event) = event_from_record(id, record.clone()) {
                observer(event);
            }
        });
        self.store
            .set_audit_observer(tell, std::sync::Arc::new(watched));
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
