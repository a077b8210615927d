//! The admin's test message: the one mail sent directly rather than through
//! the outbox (`admin` sends it, so the admin sees the SMTP server's own
//! answer); idm renders it and audits the outcome.

use super::audit::detail;
use super::mail_compose::{app_name, clip, rendered};
use super::mail_queue::ERROR_MAX;
use super::{Actor, Idm, IdmError};
use crate::mail::templates::{self, RenderedMail};

impl Idm {
    /// The test message, rendered with the current app name.
    pub fn render_test_mail(&self, public_url: &str) -> Result<RenderedMail, IdmError> {
        let app = app_name(&self.store.read()?)?;
        rendered(templates::test_message(&app, public_url))
    }

    /// Records `mail_test` with its outcome (never the address).
    pub fn audit_test_mail(&self, actor: &Actor, error: Option<&str>) -> Result<(), IdmError> {
        let details = match error {
            None => vec![detail("result", "sent")],
            Some(error) => vec![
                detail("result", "failed"),
                detail("error", clip(error, ERROR_MAX)),
            ],
        };
        self.record_audit(actor, "mail_test", None, details)
            .map(|_| ())
    }
}
