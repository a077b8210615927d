//! Claims on queued mail: before sending a message the delivery job marks
//! it "being sent by replica X until T" in a write transaction, which also
//! checks that X still holds the mail-delivery lease. So two replicas never
//! send one message at once, even when the lease changes hands mid-send:
//! the new holder skips the message until the claim ends.
//!
//! A claim ends when the attempt's outcome is written (sent: the message is
//! gone; failed: it waits for its retry), when a stopping daemon gives it
//! back, or after [`CLAIM_SECS`]: a replica that died mid-send leaves the
//! message due again then, so a message whose SMTP conversation had already
//! finished may be sent a second time (delivery is at least once).

use super::leases::{Job, ReplicaId, ensure_lease};
use super::{Idm, IdmError, QueuedMail};
use crate::store::{MailClaim, OutboxRecord};

/// How long a claim lasts: longer than any attempt, which the delivery job
/// cuts off well before (`jobs::mail_delivery::ATTEMPT_LIMIT`).
pub const CLAIM_SECS: i64 = 5 * 60;

/// What claiming a message gave.
#[derive(Debug, PartialEq, Eq)]
pub enum MailClaimed {
    /// Ours to send now, as it is stored now.
    Claimed(QueuedMail),
    /// Sent, given up on, not yet due, or being sent by another replica.
    NotDue,
}

/// Whether a live claim of another replica covers `message`. On a single
/// node every claim left behind is an earlier run's, which is gone.
pub(crate) fn claimed_elsewhere(
    message: &OutboxRecord,
    replica: &ReplicaId,
    now: i64,
    single_node: bool,
) -> bool {
    !single_node
        && message
            .claim
            .as_ref()
            .is_some_and(|claim| claim.holder != replica.as_str() && claim.until > now)
}

impl Idm {
    /// Claims message `id` for `replica` (see the module documentation).
    /// Refused with [`IdmError::LeaseLost`] when `replica` no longer holds
    /// the mail-delivery lease.
    pub fn mail_claim(&self, id: u64, replica: &ReplicaId) -> Result<MailClaimed, IdmError> {
        let now = self.now();
        let single_node = self.single_node();
        self.store.write(|tx| {
            ensure_lease(tx, Job::MailDelivery, replica, now, single_node)?;
            let Some(mut message) = tx.outbox_message(id)? else {
                return Ok(MailClaimed::NotDue);
            };
            if message.gave_up
                || message.next_attempt_at > now
                || claimed_elsewhere(&message, replica, now, single_node)
            {
                return Ok(MailClaimed::NotDue);
            }
            message.claim = Some(MailClaim {
                holder: replica.as_str().to_owned(),
                until: now.saturating_add(CLAIM_SECS),
            });
            tx.put_outbox_message(id, &message)?;
            Ok(MailClaimed::Claimed(QueuedMail::from_record(id, message)))
        })
    }

    /// Gives back `replica`'s claim on message `id` without an outcome (the
    /// daemon stopped mid-send), so it is due again at once.
    pub fn mail_release_claim(&self, id: u64, replica: &ReplicaId) -> Result<(), IdmError> {
        self.store.write(|tx| {
            let Some(mut message) = tx.outbox_message(id)? else {
                return Ok(());
            };
            if message
                .claim
                .as_ref()
                .is_some_and(|claim| claim.holder == replica.as_str())
            {
                message.claim = None;
                tx.put_outbox_message(id, &message)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::macros::datetime;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::store::Store;

    fn message(holder: Option<(&str, i64)>) -> OutboxRecord {
        OutboxRecord {
            kind: "login_code".into(),
            to: "a@example.com".into(),
            user_id: None,
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            created_at: 0,
            attempts: 0,
            next_attempt_at: 0,
            last_error: None,
            gave_up: false,
            claim: holder.map(|(holder, until)| MailClaim {
                holder: holder.into(),
                until,
            }),
        }
    }

    #[test]
    fn only_a_live_claim_of_another_replica_on_a_shared_database_holds_a_message_back() {
        let me = ReplicaId::random();
        let other = Some(("someone-else", 100));
        assert!(claimed_elsewhere(&message(other), &me, 99, false));
        assert!(
            !claimed_elsewhere(&message(other), &me, 100, false),
            "ended"
        );
        assert!(
            !claimed_elsewhere(&message(other), &me, 99, true),
            "single node"
        );
        assert!(!claimed_elsewhere(
            &message(Some((me.as_str(), 100))),
            &me,
            99,
            false
        ));
        assert!(!claimed_elsewhere(&message(None), &me, 99, false));
    }

    #[test]
    fn a_claimed_message_is_not_claimed_again_until_its_outcome_is_written() {
        let clock = ManualClock::new(datetime!(2026-03-01 12:00 UTC));
        let idm = Idm::new(Store::memory().unwrap(), Arc::new(clock.clone()));
        let me = ReplicaId::random();
        let id = idm
            .store()
            .write(|tx| tx.queue_mail(&message(None)))
            .unwrap();
        let MailClaimed::Claimed(mail) = idm.mail_claim(id, &me).unwrap() else {
            panic!("a due message is claimed");
        };
        assert_eq!((mail.id, mail.to.as_str()), (id, "a@example.com"));
        let stored = idm
            .store()
            .read()
            .unwrap()
            .outbox_message(id)
            .unwrap()
            .unwrap();
        let claim = stored.claim.unwrap();
        assert_eq!(claim.holder, me.as_str());
        assert_eq!(claim.until, clock.now().unix_timestamp() + CLAIM_SECS);
        idm.mail_attempt_failed(id, "421 try later").unwrap();
        let stored = idm
            .store()
            .read()
            .unwrap()
            .outbox_message(id)
            .unwrap()
            .unwrap();
        assert_eq!(stored.claim, None, "a failed attempt ends the claim");
        assert_eq!(
            idm.mail_claim(id, &me).unwrap(),
            MailClaimed::NotDue,
            "retry not due"
        );
        clock.advance(time::Duration::seconds(30));
        assert!(matches!(
            idm.mail_claim(id, &me).unwrap(),
            MailClaimed::Claimed(_)
        ));
        idm.mail_release_claim(id, &me).unwrap();
        let stored = idm
            .store()
            .read()
            .unwrap()
            .outbox_message(id)
            .unwrap()
            .unwrap();
        assert_eq!(stored.claim, None);
        idm.mail_delivered(id).unwrap();
        assert_eq!(
            idm.mail_claim(id, &me).unwrap(),
            MailClaimed::NotDue,
            "sent"
        );
    }
}
