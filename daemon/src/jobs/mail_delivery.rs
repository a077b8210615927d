//! Mail delivery: drains the outbox (`idm::mail_queue`), one message at a
//! time, through the `mail::Mailer`, on the one replica that holds the
//! `mail_delivery` lease (`jobs::lease`).
//!
//! It wakes when mail is queued on this replica (the store tells it after
//! the commit), when [`MailService::wake`] is called, and on a timer: until
//! the next message is due by the daemon's `Clock`, at least every
//! [`LOOK_EVERY`] (to keep the lease, to notice mail other replicas queued,
//! and so a clock that jumps is noticed). Each message is claimed before it
//! is sent (`idm::mail_claims`): the claim's write checks the lease, so a
//! replica that lost the lease sends nothing more, and no other replica
//! sends a claimed message until its claim ends. A failed attempt is retried
//! after 30 s, doubling to an hour; a message still undelivered a day after
//! it was queued is given up on (`idm::mail_queue`). While SMTP is not
//! configured nothing is attempted. On shutdown the worker stops between
//! messages, or abandons a conversation in flight and gives its claim back:
//! that message stays queued and is sent after the restart, or by another
//! replica (at least once, never lost).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::lease::{LOOK_EVERY, LeaseKeeper};
use crate::idm::{Idm, IdmError, Job, MailClaimed, ReplicaId};
use crate::mail::{MailService, OutgoingMail};

/// The longest one attempt may take before the worker abandons it: well
/// inside a claim (`idm::CLAIM_SECS`), so no other replica starts on a
/// message while this one may still be sending it.
pub const ATTEMPT_LIMIT: Duration = Duration::from_secs(2 * 60);

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IdmError> + Send + 'static,
) -> Option<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => {
            warn!("mail delivery: {e}");
            None
        }
        Err(e) => {
            warn!("mail delivery: a task failed: {e}");
            None
        }
    }
}

/// How one pass ended.
#[derive(Debug, PartialEq, Eq)]
enum Pass {
    /// Everything due was tried (or there was nothing to do).
    Done,
    /// The lease was found taken over mid-pass.
    LeaseLost,
    Stopped,
}

/// Runs until `shutdown`, then gives the lease up.
pub async fn run(idm: Idm, mail: MailService, replica: ReplicaId, shutdown: CancellationToken) {
    let mut lease = LeaseKeeper::new(idm.clone(), Job::MailDelivery, replica);
    loop {
        let mut ours = lease.hold().await;
        if ours {
            match deliver_due(&idm, &mail, &mut lease, &shutdown).await {
                Pass::Done => {}
                Pass::Stopped => break,
                // Ask again at once: a clock that jumped past the lease's
                // end looks like this too, and the lease may still be free.
                Pass::LeaseLost => {
                    lease.lost();
                    ours = lease.hold().await;
                    if ours {
                        continue;
                    }
                }
            }
        }
        if shutdown.is_cancelled() {
            break;
        }
        let pause = if ours {
            let reader = idm.clone();
            let replica = lease.replica().clone();
            let next = blocking(move || reader.mail_next_attempt_at(&replica))
                .await
                .flatten();
            match next {
                Some(at) => {
                    let wait = at - idm.clock().now();
                    Duration::try_from(wait)
                        .unwrap_or(Duration::ZERO)
                        .clamp(Duration::from_millis(50), LOOK_EVERY)
                }
                None => LOOK_EVERY,
            }
        } else {
            LOOK_EVERY
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = mail.wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
    lease.release().await;
}

/// One pass over the messages that are due.
async fn deliver_due(
    idm: &Idm,
    mail: &MailService,
    lease: &mut LeaseKeeper,
    shutdown: &CancellationToken,
) -> Pass {
    // The messages first, then the settings: every message listed was queued before the
    // settings are read, so they are at least as new as what the admin had set by then (read
    // the other way round, a pass that began just before `smtp.tls` changed could try a
    // message queued just after with the old value, and wait 30 s to retry it).
    let due = {
        let idm = idm.clone();
        let replica = lease.replica().clone();
        blocking(move || idm.mail_due(&replica))
            .await
            .unwrap_or_default()
    };
    let smtp = {
        let idm = idm.clone();
        blocking(move || idm.smtp_settings()).await.flatten()
    };
    let Some(smtp) = smtp else {
        if !due.is_empty() {
            debug!("{} messages wait for SMTP settings", due.len());
        }
        return Pass::Done;
    };
    let smtp = Arc::new(smtp);
    for listed in due {
        if shutdown.is_cancelled() {
            return Pass::Stopped;
        }
        if !lease.hold().await {
            return Pass::LeaseLost;
        }
        let claimed = {
            let idm = idm.clone();
            let replica = lease.replica().clone();
            tokio::task::spawn_blocking(move || idm.mail_claim(listed.id, &replica)).await
        };
        let queued = match claimed {
            Ok(Ok(MailClaimed::Claimed(queued))) => queued,
            Ok(Ok(MailClaimed::NotDue)) => continue,
            Ok(Err(IdmError::LeaseLost { .. })) => return Pass::LeaseLost,
            Ok(Err(e)) => {
                warn!("mail delivery: cannot claim mail {}: {e}", listed.id);
                return Pass::Done;
            }
            Err(e) => {
                warn!("mail delivery: a task failed: {e}");
                return Pass::Done;
            }
        };
        let id = queued.id;
        let outgoing = OutgoingMail {
            to: queued.to,
            subject: queued.subject,
            text: queued.text,
            html: queued.html,
        };
        let result = tokio::select! {
            () = shutdown.cancelled() => {
                let idm = idm.clone();
                let replica = lease.replica().clone();
                blocking(move || idm.mail_release_claim(id, &replica)).await;
                return Pass::Stopped;
            }
            result = tokio::time::timeout(ATTEMPT_LIMIT, mail.mailer.send(&smtp, &outgoing)) => result,
        };
        let idm = idm.clone();
        match result {
            Ok(Ok(())) => {
                debug!("mail {id} ({}) sent", queued.kind);
                count_attempt("sent");
                blocking(move || idm.mail_delivered(id)).await;
            }
            Ok(Err(error)) => {
                warn!(
                    "mail {id} ({}) not sent (attempt {}): {error}",
                    queued.kind,
                    queued.attempts.saturating_add(1)
                );
                count_attempt("failed");
                blocking(move || idm.mail_attempt_failed(id, &error.0)).await;
            }
            Err(_elapsed) => {
                let error = format!(
                    "the SMTP conversation took longer than {} seconds",
                    ATTEMPT_LIMIT.as_secs()
                );
                warn!("mail {id} ({}) not sent: {error}", queued.kind);
                count_attempt("failed");
                blocking(move || idm.mail_attempt_failed(id, &error)).await;
            }
        }
    }
    Pass::Done
}

fn count_attempt(outcome: &'static str) {
    if crate::metrics::on() {
        ::metrics::counter!("latchkey_mail_attempts_total", "outcome" => outcome).increment(1);
    }
}
