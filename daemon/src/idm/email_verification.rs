//! Whether a user's email address is verified, and how it becomes so. The
//! `email_verified` claim in ID tokens and userinfo reports exactly this.
//!
//! - An address an admin sets (socket, CLI, console, and the first admin's
//!   own address typed at `/setup`, which is an admin setting it) or the
//!   directory syncs counts as verified while `email.trust_admin_addresses`
//!   is on (the default); with it off it is stored unverified. The setting
//!   applies when an address is set: changing it later does not rewrite
//!   addresses already stored.
//! - An address a person types at signup is unverified until proven.
//! - Changing an address unverifies it, unless the change itself counts as
//!   verified (an admin or LDAP change with the setting on).
//! - Proof is using something that was mailed to that exact address while
//!   it is still the account's: a verification link (signup sends one when
//!   SMTP is configured; the account page sends another), an emailed
//!   sign-in link, or a login code an admin emailed (`login-code create
//!   --email`). The admin who emails a login code also sees it; the code
//!   still went only to that mailbox, and an admin can set a verified
//!   address outright anyway while the setting is on.
//!
//! A verification link carries 256 random bits; only their SHA-256 is
//! stored, with the user and the exact address it went to. It works for
//! [`EMAIL_VERIFICATION_HOURS`], once: the record is removed in the
//! transaction that marks the address verified. Opening it (GET) only shows
//! a button, since mail scanners fetch links.

use super::audit::{self, Subject, detail};
use super::mail_compose::{app_name, format_when, rendered};
use super::mail_queue::queue;
use super::mail_settings::smtp_configured;
use super::setting_registry::EMAIL_TRUST_ADMIN_ADDRESSES;
use super::setting_values::flag;
use super::{Actor, Idm, IdmError, UserId, secrets};
use crate::mail::templates::{self, VerifyEmailMail};
use crate::store::{Access, EmailVerificationRecord, Tables, UserRecord, WriteTx};

/// How long a verification link works.
pub const EMAIL_VERIFICATION_HOURS: i64 = 24;
/// Verification mails one user may be sent per hour (signup's included).
pub const VERIFICATION_MAILS_PER_HOUR: usize = 3;
const HOUR: i64 = 3600;

/// Who is setting an address, which decides whether it counts as verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddressFrom {
    /// An admin (socket, CLI, console, first-admin setup) or the directory.
    Admin,
    /// The person themselves (signup).
    User,
}

/// `email.trust_admin_addresses` (default true).
pub(crate) fn trust_admin_addresses<A: Access>(tx: &Tables<A>) -> Result<bool, IdmError> {
    flag(tx, EMAIL_TRUST_ADMIN_ADDRESSES)
}

/// Whether an address being set by `from` is stored verified.
pub(crate) fn verified_when_set<A: Access>(
    tx: &Tables<A>,
    from: AddressFrom,
    email: Option<&str>,
) -> Result<bool, IdmError> {
    Ok(email.is_some()
        && match from {
            AddressFrom::Admin => trust_admin_addresses(tx)?,
            AddressFrom::User => false,
        })
}

/// What asking for a verification mail came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerificationMail {
    /// Queued in the outbox.
    Queued,
    AlreadyVerified,
    NoAddress,
    /// SMTP is not configured, so nothing can be sent.
    NotConfigured,
    /// [`VERIFICATION_MAILS_PER_HOUR`] already went out: try again after this many seconds.
    TooMany {
        retry_after_secs: u64,
    },
}

/// What following a verification link came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmailVerification {
    /// The address is verified now (or already was).
    Verified {
        username: String,
        address: String,
    },
    /// No such link: mistyped, used already, or long expired.
    Unknown,
    Expired,
    /// The account's address is no longer the one the link was sent to.
    AddressChanged,
}

/// Queues a verification mail for the user's address inside the caller's
/// transaction (`email_verification_sent`), unless there is nothing to
/// verify, no SMTP, or too many went out in the last hour.
pub(crate) fn queue_verification(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    user: &UserRecord,
    public_url: &str,
) -> Result<VerificationMail, IdmError> {
    let Some(address) = user.email.clone() else {
        return Ok(VerificationMail::NoAddress);
    };
    if user.email_verified {
        return Ok(VerificationMail::AlreadyVerified);
    }
    if !smtp_configured(tx)? {
        return Ok(VerificationMail::NotConfigured);
    }
    let recent: Vec<i64> = tx
        .user_email_verifications(user.id)?
        .into_iter()
        .map(|(_, link)| link.created_at)
        .filter(|created| now - created < HOUR)
        .collect();
    if recent.len() >= VERIFICATION_MAILS_PER_HOUR {
        let oldest = recent.iter().copied().min().unwrap_or(now);
        let wait = (oldest + HOUR - now).max(1);
        return Ok(VerificationMail::TooMany {
            retry_after_secs: u64::try_from(wait).unwrap_or(1),
        });
    }
    let token = secrets::random_token::<32>()?;
    let record = EmailVerificationRecord {
        user_id: user.id,
        address: address.clone(),
        created_at: now,
        expires_at: now.saturating_add(EMAIL_VERIFICATION_HOURS * HOUR),
    };
    tx.put_email_verification(&secrets::sha256(token.as_bytes()), &record)?;
    let app = app_name(tx)?;
    let link = format!("{}/email/verify/{token}", public_url.trim_end_matches('/'));
    let expires = format_when(record.expires_at);
    let mail = rendered(templates::verify_email(VerifyEmailMail {
        app_name: &app,
        name: &user.display_name,
        username: &user.username,
        address: &address,
        link: &link,
        expires: &expires,
    }))?;
    let id = queue(tx, now, "email_verification", &address, Some(user.id), mail)?;
    let subject = Subject::linked(&user.username, user.id);
    let details = vec![detail("mail", id.to_string()), detail("expires", expires)];
    audit::append(
        tx,
        now,
        actor,
        "email_verification_sent",
        Some(subject),
        details,
    )?;
    Ok(VerificationMail::Queued)
}

/// Something mailed to `sent_to` was just used by `user`'s owner: if that is
/// still exactly their address and it is not verified yet, it is now
/// (written, with `email_verified` and `via`). Returns whether it changed.
pub(crate) fn prove_address(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    user: &mut UserRecord,
    sent_to: Option<&str>,
    via: &'static str,
) -> Result<bool, IdmError> {
    if user.email_verified || sent_to.is_none() || user.email.as_deref() != sent_to {
        return Ok(false);
    }
    user.email_verified = true;
    user.updated_at = now;
    tx.put_user(user)?;
    let subject = Subject::linked(&user.username, user.id);
    let as_user = actor.as_user(user.id, user.username.clone());
    let details = vec![detail("via", via)];
    audit::append(tx, now, &as_user, "email_verified", Some(subject), details)?;
    Ok(true)
}

/// The token's hash, if the text can be one of ours at all.
fn token_hash(token: &str) -> Option<crate::store::TokenHash> {
    let token = token.trim();
    let bytes = secrets::from_b64url(token)?;
    (bytes.len() == 32 && token.len() == 43).then(|| secrets::sha256(token.as_bytes()))
}

impl Idm {
    /// Mails the user a new verification link (the account page's "send
    /// again"): see [`VerificationMail`] for what can come of it.
    pub fn send_email_verification(
        &self,
        actor: &Actor,
        user_id: UserId,
        public_url: &str,
    ) -> Result<VerificationMail, IdmError> {
        let now = self.now();
        {
            // Nothing to send is found by a read, without a commit.
            let tx = self.store.read()?;
            let user = tx
                .user(user_id)?
                .ok_or_else(|| IdmError::user_not_found(&user_id.to_string()))?;
            if user.email.is_none() {
                return Ok(VerificationMail::NoAddress);
            }
            if user.email_verified {
                return Ok(VerificationMail::AlreadyVerified);
            }
            if !smtp_configured(&tx)? {
                return Ok(VerificationMail::NotConfigured);
            }
        }
        self.store.write(|tx| {
            let user = tx
                .user(user_id)?
                .ok_or_else(|| IdmError::user_not_found(&user_id.to_string()))?;
            queue_verification(tx, now, actor, &user, public_url)
        })
    }

    /// Uses a verification link: if it is live and the account still has the
    /// address it was sent to, the address is verified and the link is gone,
    /// in one transaction. A refused link is left as it was (the sweeper
    /// removes it once expired), so it keeps giving the same answer.
    pub fn verify_email(&self, actor: &Actor, token: &str) -> Result<EmailVerification, IdmError> {
        let Some(hash) = token_hash(token) else {
            return Ok(EmailVerification::Unknown);
        };
        // Most refusals are found by a read, so posting junk costs no commit.
        if self.store.read()?.email_verification(&hash)?.is_none() {
            return Ok(EmailVerification::Unknown);
        }
        let now = self.now();
        self.store.write(|tx| {
            let Some(link) = tx.email_verification(&hash)? else {
                return Ok(EmailVerification::Unknown);
            };
            if link.expires_at <= now {
                return Ok(EmailVerification::Expired);
            }
            let Some(mut user) = tx.user(link.user_id)? else {
                return Ok(EmailVerification::Unknown);
            };
            if user.email.as_deref() != Some(link.address.as_str()) {
                return Ok(EmailVerification::AddressChanged);
            }
            tx.remove_email_verification(&hash)?;
            prove_address(tx, now, actor, &mut user, Some(&link.address), "link")?;
            Ok(EmailVerification::Verified {
                username: user.username,
                address: link.address,
            })
        })
    }
}

#[cfg(test)]
mod tests;
