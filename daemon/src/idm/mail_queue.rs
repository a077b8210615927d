//! The durable outbox. Mail is never sent from idm: it is composed
//! (`mail_compose`) and queued in the `OUTBOX` table in the same write
//! transaction as what caused it, and `jobs::mail_delivery` sends it. So a
//! web request never waits for SMTP, and queued mail survives a restart.
//! This file holds the queue's side of delivery: what is due, what was sent,
//! what failed (retried after 30 s, doubling to an hour, given up after a
//! day), and the status the console shows.

use time::OffsetDateTime;

use super::audit::{self, Subject, detail};
use super::leases::ReplicaId;
use super::mail_claims::claimed_elsewhere;
use super::mail_compose::clip;
use super::mail_settings::read_smtp;
use super::{Actor, Idm, IdmError, UserId, to_time};
use crate::mail::templates::RenderedMail;
use crate::store::{Access, OutboxRecord, Tables, WriteTx};

/// The first retry after a failed delivery; each later one waits twice as long…
pub const RETRY_FIRST_SECS: i64 = 30;
/// …up to this…
pub const RETRY_MAX_SECS: i64 = 3600;
/// …and a message still undelivered this long after it was queued is given up on.
pub const GIVE_UP_AFTER_SECS: i64 = 24 * 3600;
/// Given-up messages stay listed (status screen) this long, then go.
const KEEP_FAILED_SECS: i64 = 7 * 24 * 3600;
/// Longest SMTP error kept (they can be long; the status screen shows them).
pub(crate) const ERROR_MAX: usize = 500;

/// A message the worker should try now. `Debug` hides the body.
#[derive(Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: u64,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attempts: u32,
}

impl QueuedMail {
    /// Message `id` of the outbox, as the delivery job sends it.
    pub(crate) fn from_record(id: u64, message: OutboxRecord) -> QueuedMail {
        QueuedMail {
            id,
            kind: message.kind,
            to: message.to,
            subject: message.subject,
            text: message.text,
            html: message.html,
            attempts: message.attempts,
        }
    }
}

impl std::fmt::Debug for QueuedMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedMail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// The outbox as the status screen shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailStatus {
    pub configured: bool,
    pub queued: u64,
    pub retrying: u64,
    pub failed: u64,
    pub last_error: Option<String>,
    pub last_sent_at: Option<OffsetDateTime>,
}

/// Queues `mail` inside the caller's transaction.
pub(crate) fn queue(
    tx: &mut WriteTx<'_>,
    now: i64,
    kind: &str,
    to: &str,
    user: Option<UserId>,
    mail: RenderedMail,
) -> Result<u64, IdmError> {
    Ok(tx.queue_mail(&OutboxRecord {
        kind: kind.to_owned(),
        to: to.to_owned(),
        user_id: user,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        created_at: now,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        gave_up: false,
        claim: None,
    })?)
}

/// Seconds until the next try after `attempts` failures: 30 s doubling to an hour.
pub fn retry_delay(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(20);
    RETRY_FIRST_SECS
        .saturating_mul(1_i64 << doublings)
        .min(RETRY_MAX_SECS)
}

impl Idm {
    /// Messages due for a delivery attempt at `now`, oldest first, leaving
    /// out those another replica is sending (`mail_claims`). Gives up (in
    /// the same transaction) on messages queued more than a day ago, with a
    /// `mail_failed` event, and forgets given-up ones after a week.
    pub fn mail_due(&self, replica: &ReplicaId) -> Result<Vec<QueuedMail>, IdmError> {
        let now = self.now();
        let single_node = self.single_node();
        self.store.write(|tx| {
            let mut due = Vec::new();
            for (id, mut message) in tx.outbox()? {
                if message.gave_up {
                    if now - message.created_at >= KEEP_FAILED_SECS {
                        tx.remove_outbox_message(id)?;
                    }
                    continue;
                }
                if now - message.created_at >= GIVE_UP_AFTER_SECS {
                    message.gave_up = true;
                    tx.put_outbox_message(id, &message)?;
                    let reason = message
                        .last_error
                        .clone()
                        .unwrap_or_else(|| "not sent: SMTP was not configured".to_owned());
                    let gave_up = detail("gave_up", "true");
                    audit_failure(tx, now, id, &message, reason, gave_up)?;
                    continue;
                }
                let claimed = claimed_elsewhere(&message, replica, now, single_node);
                if message.next_attempt_at <= now && !claimed {
                    due.push(QueuedMail::from_record(id, message));
                }
            }
            Ok(due)
        })
    }

    /// When the next queued message is due (`None`: nothing is waiting). A
    /// message another replica is sending is due again when its claim ends.
    pub fn mail_next_attempt_at(
        &self,
        replica: &ReplicaId,
    ) -> Result<Option<OffsetDateTime>, IdmError> {
        let now = self.now();
        let single_node = self.single_node();
        let tx = self.store.read()?;
        let next = tx
            .outbox()?
            .into_iter()
            .filter(|(_, m)| !m.gave_up)
            .map(|(_, m)| {
                let due = m.next_attempt_at.min(m.created_at + GIVE_UP_AFTER_SECS);
                match &m.claim {
                    Some(claim) if claimed_elsewhere(&m, replica, now, single_node) => {
                        due.max(claim.until)
                    }
                    _ => due,
                }
            })
            .min();
        next.map(to_time).transpose()
    }

    /// The message went out: removed from the outbox, `mail_sent` audited.
    pub fn mail_delivered(&self, id: u64) -> Result<(), IdmError> {
        let now = self.now();
        self.store.write(|tx| {
            let Some(message) = tx.outbox_message(id)? else {
                return Ok(());
            };
            tx.remove_outbox_message(id)?;
            let mut state = tx.mail_state()?;
            state.last_sent_at = Some(now);
            tx.put_mail_state(&state)?;
            let attempts = message.attempts.saturating_add(1).to_string();
            audit_mail(
                tx,
                now,
                "mail_sent",
                id,
                &message,
                vec![detail("attempts", attempts)],
            )
        })
    }

    /// A delivery attempt failed with `error`: the message waits for its
    /// next try (30 s, doubling to an hour). The first failure of each
    /// message is audited as `mail_failed` (later ones only update the
    /// status screen, so a long outage does not flood the log; giving up is
    /// audited again).
    pub fn mail_attempt_failed(&self, id: u64, error: &str) -> Result<(), IdmError> {
        let now = self.now();
        let error = clip(error, ERROR_MAX);
        self.store.write(|tx| {
            let Some(mut message) = tx.outbox_message(id)? else {
                return Ok(());
            };
            message.attempts = message.attempts.saturating_add(1);
            message.next_attempt_at = now.saturating_add(retry_delay(message.attempts));
            message.last_error = Some(error.clone());
            message.claim = None;
            tx.put_outbox_message(id, &message)?;
            let mut state = tx.mail_state()?;
            state.last_error = Some(error.clone());
            state.last_error_at = Some(now);
            tx.put_mail_state(&state)?;
            if message.attempts == 1 {
                let next = to_time(message.next_attempt_at)?.to_string();
                let next = detail("next_attempt_at", next);
                audit_failure(tx, now, id, &message, error.clone(), next)?;
            }
            Ok(())
        })
    }

    pub fn mail_status(&self) -> Result<MailStatus, IdmError> {
        let tx = self.store.read()?;
        let configured = read_smtp(&tx, self.sealer())?.is_some();
        let OutboxCounts {
            queued,
            retrying,
            failed,
        } = outbox_counts(&tx)?;
        let state = tx.mail_state()?;
        // An error older than the last success is history, not status.
        let last_error = match (state.last_error_at, state.last_sent_at) {
            (Some(failed_at), Some(sent_at)) if sent_at > failed_at => None,
            _ => state.last_error,
        };
        Ok(MailStatus {
            configured,
            queued,
            retrying,
            failed,
            last_error,
            last_sent_at: state.last_sent_at.map(to_time).transpose()?,
        })
    }
}

/// The outbox by state: waiting for a first attempt, waiting to be retried, given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxCounts {
    pub queued: u64,
    pub retrying: u64,
    pub failed: u64,
}

impl Idm {
    /// [`OutboxCounts`] alone: no SMTP settings read, so no password decrypted (for the
    /// metrics scrape).
    pub fn outbox_counts(&self) -> Result<OutboxCounts, IdmError> {
        outbox_counts(&self.store.read()?)
    }
}

fn outbox_counts<A: Access>(tx: &Tables<A>) -> Result<OutboxCounts, IdmError> {
    let mut counts = OutboxCounts::default();
    for (_, message) in tx.outbox()? {
        if message.gave_up {
            counts.failed += 1;
        } else if message.attempts > 0 {
            counts.retrying += 1;
        } else {
            counts.queued += 1;
        }
    }
    Ok(counts)
}

/// `mail_sent` / `mail_failed`: the message's number and kind, the
/// recipient's account as subject, never an address.
/// `mail_failed`: the error, and what happens next (given up, or when the next try is).
fn audit_failure(
    tx: &mut WriteTx<'_>,
    now: i64,
    id: u64,
    message: &OutboxRecord,
    error: String,
    then: (String, String),
) -> Result<(), IdmError> {
    let details = vec![detail("error", error), then];
    audit_mail(tx, now, "mail_failed", id, message, details)
}

fn audit_mail(
    tx: &mut WriteTx<'_>,
    now: i64,
    event: &str,
    id: u64,
    message: &OutboxRecord,
    mut details: Vec<(String, String)>,
) -> Result<(), IdmError> {
    let username = match message.user_id {
        Some(user_id) => tx.user(user_id)?.map(|u| (u.username, u.id)),
        None => None,
    };
    let subject = username
        .as_ref()
        .map(|(name, id)| Subject::linked(name, *id));
    details.insert(0, detail("kind", message.kind.clone()));
    details.insert(0, detail("mail", id.to_string()));
    audit::append(tx, now, &Actor::system(), event, subject, details)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_thirty_seconds_to_an_hour() {
        assert_eq!(retry_delay(1), 30);
        assert_eq!(retry_delay(2), 60);
        assert_eq!(retry_delay(3), 120);
        assert_eq!(retry_delay(7), 1920);
        assert_eq!(retry_delay(8), 3600);
        assert_eq!(retry_delay(500), 3600);
    }
}
