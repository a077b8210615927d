//! Mail delivery: drains the outbox (`idm::mail_queue`), one message at a
//! time, through the `mail::Mailer`.
//!
//! It wakes when mail is queued (the store tells it after the commit), when
//! [`MailService::wake`] is called, and on a timer: until the next
//! message is due by the daemon's `Clock`, at least every
//! [`MAX_IDLE`] (so a clock that jumps is noticed). A failed attempt is
//! retried after 30 s, doubling to an hour; a message still undelivered a
//! day after it was queued is given up on (`idm::mail_queue`). While SMTP is not
//! configured nothing is attempted. On shutdown the worker stops between
//! messages, or abandons a conversation in flight: that message stays
//! queued and is sent after the restart (at least once, never lost).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::idm::{Idm, IdmError};
use crate::mail::{MailService, OutgoingMail};

/// The longest the worker sleeps without looking at the outbox.
pub const MAX_IDLE: Duration = Duration::from_secs(60);

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

/// Runs until `shutdown`.
pub async fn run(idm: Idm, mail: MailService, shutdown: CancellationToken) {
    loop {
        deliver_due(&idm, &mail, &shutdown).await;
        if shutdown.is_cancelled() {
            break;
        }
        let pause = {
            let reader = idm.clone();
            let next = blocking(move || reader.mail_next_attempt_at())
                .await
                .flatten();
            match next {
                Some(at) => {
                    let wait = at - idm.clock().now();
                    Duration::try_from(wait)
                        .unwrap_or(Duration::ZERO)
                        .clamp(Duration::from_millis(50), MAX_IDLE)
                }
                None => MAX_IDLE,
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = mail.wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// One pass over the messages that are due.
async fn deliver_due(idm: &Idm, mail: &MailService, shutdown: &CancellationToken) {
    let smtp = {
        let idm = idm.clone();
        blocking(move || idm.smtp_settings()).await.flatten()
    };
    let due = {
        let idm = idm.clone();
        blocking(move || idm.mail_due()).await.unwrap_or_default()
    };
    let Some(smtp) = smtp else {
        if !due.is_empty() {
            debug!("{} messages wait for SMTP settings", due.len());
        }
        return;
    };
    let smtp = Arc::new(smtp);
    for queued in due {
        if shutdown.is_cancelled() {
            return;
        }
        let outgoing = OutgoingMail {
            to: queued.to,
            subject: queued.subject,
            text: queued.text,
            html: queued.html,
        };
        let result = tokio::select! {
            () = shutdown.cancelled() => return,
            result = mail.mailer.send(&smtp, &outgoing) => result,
        };
        let idm = idm.clone();
        let id = queued.id;
        match result {
            Ok(()) => {
                debug!("mail {id} ({}) sent", queued.kind);
                blocking(move || idm.mail_delivered(id)).await;
            }
            Err(error) => {
                warn!(
                    "mail {id} ({}) not sent (attempt {}): {error}",
                    queued.kind,
                    queued.attempts.saturating_add(1)
                );
                blocking(move || idm.mail_attempt_failed(id, &error.0)).await;
            }
        }
    }
}
