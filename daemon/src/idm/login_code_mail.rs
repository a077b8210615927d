//! Login codes an admin emails (`email.admin_login_codes`): the code is made
//! and its mail queued in one write transaction, and using the code later
//! proves the address it went to (`email_verification`).

use std::time::Duration;

use super::audit::{self, Subject, detail};
use super::login_codes::LoginCodeIssued;
use super::mail_compose::{app_name, format_when, rendered};
use super::mail_queue::queue;
use super::mail_settings::{read_email_settings, read_smtp};
use super::users::User;
use super::{Actor, Idm, IdmError};
use crate::mail::templates;

impl Idm {
    /// A login code, emailed to the user in the same transaction (needs
    /// `email.admin_login_codes` and an address on the account).
    pub fn create_login_code_emailed(
        &self,
        actor: &Actor,
        user_ref: &str,
        expires_in: Duration,
        public_url: &str,
    ) -> Result<(User, LoginCodeIssued), IdmError> {
        let now = self.now();
        self.create_login_code_then(actor, user_ref, expires_in, |tx, user, issued| {
            if !read_email_settings(tx)?.admin_login_codes {
                return Err(IdmError::invalid(
                    "send_email",
                    "emailing login codes is turned off; set email.admin_login_codes to true",
                ));
            }
            let Some(to) = user.email.clone() else {
                return Err(IdmError::invalid(
                    "send_email",
                    format!("{} has no email address", user.username),
                ));
            };
            if read_smtp(tx, self.sealer())?.is_none() {
                return Err(IdmError::invalid(
                    "send_email",
                    "SMTP is not configured: set smtp.host and smtp.from first",
                ));
            }
            let app = app_name(tx)?;
            let link = format!("{public_url}/lc/{}", issued.code);
            let entry_url = format!("{public_url}/lc");
            let expires = format_when(issued.expires_at.unix_timestamp());
            let mail = rendered(templates::login_code(templates::LoginCodeMail {
                app_name: &app,
                name: &user.display_name,
                username: &user.username,
                link: &link,
                entry_url: &entry_url,
                code: &issued.code,
                expires: &expires,
            }))?;
            let id = queue(tx, now, "login_code", &to, Some(user.id), mail)?;
            let subject = Subject::linked(&user.username, user.id);
            audit::append(
                tx,
                now,
                actor,
                "login_code_emailed",
                Some(subject),
                vec![
                    detail("id", issued.id.clone()),
                    detail("mail", id.to_string()),
                ],
            )?;
            Ok(Some(to))
        })
    }
}
