//! Sign-in links a user asks for by email (`email.one_time_access`).
//!
//! An emailed sign-in link is bound to the browser that asked for it: the
//! request sets a random cookie, and the link record is keyed by that
//! cookie's SHA-256. The link token and the short code are stored hashed
//! too. Using either needs the cookie, so a link read by someone else (or a
//! mail scanner) is useless, and guessing the short code is bounded by
//! [`EMAIL_LINK_MAX_FAILURES`] per request.

use latchkey_protocol::SignInMethod;
use subtle::ConstantTimeEq;

use super::audit::{self, Subject, detail};
use super::codes;
use super::device_notice::DeviceToken;
use super::email_verification::prove_address;
use super::mail_compose::{app_name, rendered};
use super::mail_queue::queue;
use super::mail_settings::read_email_settings;
use super::sessions::{Session, SessionToken, open_session};
use super::sign_in_failures::audit_sign_in_failure;
use super::users::User;
use super::{Actor, Idm, IdmError, SignInFailure, secrets};
use crate::mail::templates;
use crate::store::EmailLinkRecord;

/// How long an emailed sign-in link and its code work.
pub const EMAIL_LINK_MINUTES: i64 = 15;
/// Wrong codes one request may take before its link is dropped.
pub const EMAIL_LINK_MAX_FAILURES: u32 = 5;
/// Characters of the short code in a sign-in mail (Crockford base32: 40 bits).
pub const EMAIL_CODE_LEN: usize = 8;

secrets::cookie_secret!(
    /// The random value of the cookie that binds an emailed sign-in link to the
    /// browser that asked for it. `Debug` hides it.
    EmailBinding
);

/// What the user brought back from the mail.
#[derive(Clone, PartialEq, Eq)]
pub enum EmailProof {
    /// The token from the link's path.
    Link(String),
    /// The short code, as typed.
    Code(String),
}

impl std::fmt::Debug for EmailProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmailProof::Link(_) => f.write_str("Link(<redacted>)"),
            EmailProof::Code(_) => f.write_str("Code(<redacted>)"),
        }
    }
}

/// A syntactically plausible address, folded for lookup and rate limits.
pub fn normalize_address(input: &str) -> Option<String> {
    let address = input.trim();
    let (local, domain) = address.rsplit_once('@')?;
    let ok = !local.is_empty()
        && !domain.is_empty()
        && address.chars().count() <= 254
        && !address.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then(|| address.to_lowercase())
}

impl Idm {
    /// Someone asked for a sign-in link for `address` from the browser
    /// holding `binding`. If an enabled account has that address, a link and
    /// a code are stored (hashed, bound to the browser) and the mail is
    /// queued; if none does, nothing is sent. Either way the caller learns
    /// nothing: it should not even wait for this (it runs off the request
    /// path). Refused while `email.one_time_access` is off.
    pub fn request_email_link(
        &self,
        actor: &Actor,
        address: &str,
        binding: &EmailBinding,
        public_url: &str,
    ) -> Result<(), IdmError> {
        let Some(address) = normalize_address(address) else {
            return Err(IdmError::invalid("email", "is not an email address"));
        };
        let token = secrets::random_token::<32>()?;
        let code = codes::generate::<EMAIL_CODE_LEN>()?;
        let now = self.now();
        self.store.write(|tx| {
            if !read_email_settings(tx)?.one_time_access {
                return Err(IdmError::invalid(
                    "email",
                    "sign-in links by email are turned off",
                ));
            }
            let user = match tx.user_id_by_email(&address)? {
                Some(id) => tx.user(id)?,
                None => None,
            };
            let Some(user) = user.filter(|u| !u.disabled) else {
                // Recorded without the address: it may be anyone's.
                audit::append(
                    tx,
                    now,
                    actor,
                    "email_link_requested",
                    None,
                    vec![detail("account", "none")],
                )?;
                return Ok(());
            };
            let Some(to) = user.email.clone() else {
                return Ok(());
            };
            let record = EmailLinkRecord {
                user_id: user.id,
                token_hash: secrets::sha256(token.as_bytes()),
                code_hash: secrets::sha256(code.as_bytes()),
                created_at: now,
                expires_at: now.saturating_add(EMAIL_LINK_MINUTES * 60),
                failures: 0,
                address: Some(to.clone()),
            };
            tx.put_email_link(&binding.hash(), &record)?;
            let app = app_name(tx)?;
            let link = format!("{public_url}/login/email/{token}");
            let mail = rendered(templates::sign_in_link(
                &app,
                &link,
                &codes::grouped(&code),
                EMAIL_LINK_MINUTES,
            ))?;
            let id = queue(tx, now, "email_link", &to, Some(user.id), mail)?;
            let subject = Subject::linked(&user.username, user.id);
            audit::append(
                tx,
                now,
                actor,
                "email_link_requested",
                Some(subject),
                vec![detail("account", "found"), detail("mail", id.to_string())],
            )?;
            Ok(())
        })
    }

    /// Signs in with an emailed link or code, from the browser holding
    /// `binding` (the one that asked). Single use: the link goes in the
    /// transaction that opens the session (method `email_link`). A wrong
    /// code counts against the link; after [`EMAIL_LINK_MAX_FAILURES`] it
    /// is dropped. Every failure is audited as `sign_in_failed`.
    pub fn sign_in_with_email_link(
        &self,
        actor: &Actor,
        binding: Option<&EmailBinding>,
        proof: &EmailProof,
        device: Option<&DeviceToken>,
    ) -> Result<(User, SessionToken, Session), IdmError> {
        let now = self.now();
        let Some(binding) = binding else {
            return Err(self.sign_in_failed(actor, None, SignInFailure::UnknownCode));
        };
        let presented = match proof {
            EmailProof::Link(token) => Some(secrets::sha256(token.trim().as_bytes())),
            EmailProof::Code(code) => {
                codes::normalize(code, EMAIL_CODE_LEN).map(|c| secrets::sha256(c.as_bytes()))
            }
        };
        let key = binding.hash();
        let outcome = self.store.write(|tx| {
            let Some(mut record) = tx.email_link(&key)? else {
                let reason = SignInFailure::UnknownCode;
                let method = vec![detail("method", "email_link")];
                audit_sign_in_failure(tx, now, actor, None, reason, method)?;
                return Ok(Err(reason));
            };
            let user = tx.user(record.user_id)?;
            let expected = match proof {
                EmailProof::Link(_) => &record.token_hash,
                EmailProof::Code(_) => &record.code_hash,
            };
            let matches = presented
                .as_ref()
                .is_some_and(|p| bool::from(p.ct_eq(expected)));
            let refused = if record.expires_at <= now {
                tx.remove_email_link(&key)?;
                Some(SignInFailure::ExpiredCode)
            } else if !matches {
                record.failures = record.failures.saturating_add(1);
                if record.failures >= EMAIL_LINK_MAX_FAILURES {
                    tx.remove_email_link(&key)?;
                } else {
                    tx.put_email_link(&key, &record)?;
                }
                Some(SignInFailure::UnknownCode)
            } else if user.as_ref().is_none_or(|u| u.disabled) {
                tx.remove_email_link(&key)?;
                Some(SignInFailure::UserDisabled)
            } else {
                None
            };
            let (Some(user), None) = (user.clone(), refused) else {
                let reason = refused.unwrap_or(SignInFailure::UserDisabled);
                let method = vec![detail("method", "email_link")];
                audit_sign_in_failure(tx, now, actor, user.as_ref(), reason, method)?;
                return Ok(Err(reason));
            };
            tx.remove_email_link(&key)?;
            let mut user = user;
            let sent_to = record.address.as_deref();
            prove_address(tx, now, actor, &mut user, sent_to, "email_link")?;
            let user = User::from_record(user)?;
            let via = match proof {
                EmailProof::Link(_) => "link",
                EmailProof::Code(_) => "code",
            };
            let (token, session) = open_session(
                tx,
                now,
                actor,
                &user,
                SignInMethod::EmailLink,
                device,
                vec![detail("via", via)],
            )?;
            Ok::<_, IdmError>(Ok((user, token, session)))
        })?;
        outcome.map_err(|reason| IdmError::SignInFailed { reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_folded_and_checked() {
        assert_eq!(
            normalize_address(" Alice@Example.COM "),
            Some("alice@example.com".into())
        );
        assert_eq!(normalize_address("nope"), None);
        assert_eq!(normalize_address("a b@example.com"), None);
        assert_eq!(normalize_address("@example.com"), None);
    }

    #[test]
    fn debug_hides_secrets() {
        let binding = EmailBinding::generate().unwrap();
        assert!(!format!("{binding:?}").contains(binding.as_str()));
        assert!(!format!("{:?}", EmailProof::Code("ABCD".into())).contains("ABCD"));
    }
}
