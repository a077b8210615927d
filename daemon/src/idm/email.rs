//! Email (issue 6): the settings it reads, the durable outbox, sign-in links
//! a user asks for by email, login codes an admin emails, and the notice of
//! a sign-in from a new browser.
//!
//! Mail is never sent here: it is rendered (`crate::mail::templates`) and
//! queued in the `OUTBOX` table in the same transaction as what caused it,
//! and the delivery worker (`crate::mail::worker`) sends it. So a web
//! request never waits for SMTP, and queued mail survives a restart.
//!
//! An emailed sign-in link is bound to the browser that asked for it: the
//! request sets a random cookie, and the link record is keyed by that
//! cookie's SHA-256. The link token and the short code are stored hashed
//! too. Using either needs the cookie, so a link read by someone else (or a
//! mail scanner) is useless, and guessing the short code is bounded by
//! [`EMAIL_LINK_MAX_FAILURES`] per request.

use std::time::Duration;

use latchkey_protocol::SignInMethod;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::macros::format_description;

use super::audit::{self, Subject, detail};
use super::email_verification::prove_address;
use super::login_codes::{ALPHABET, LoginCodeIssued};
use super::sealed;
use super::sessions::{Session, SessionToken, method_name, open_session};
use super::settings::{self, value_of};
use super::users::User;
use super::{Actor, Idm, IdmError, SignInFailure, UserId, secrets, to_time};
use crate::mail::templates::{self, RenderedMail};
use crate::mail::{SmtpSettings, SmtpTls};
use crate::sealing::Sealer;
use crate::store::{Access, EmailLinkRecord, OutboxRecord, SettingValue, Tables, WriteTx};

/// How long an emailed sign-in link and its code work.
pub const EMAIL_LINK_MINUTES: i64 = 15;
/// Wrong codes one request may take before its link is dropped.
pub const EMAIL_LINK_MAX_FAILURES: u32 = 5;
/// Characters of the short code in a sign-in mail (Crockford base32: 40 bits).
pub const EMAIL_CODE_LEN: usize = 8;
/// The first retry after a failed delivery; each later one waits twice as long…
pub const RETRY_FIRST_SECS: i64 = 30;
/// …up to this…
pub const RETRY_MAX_SECS: i64 = 3600;
/// …and a message still undelivered this long after it was queued is given up on.
pub const GIVE_UP_AFTER_SECS: i64 = 24 * 3600;
/// Given-up messages stay listed (status screen) this long, then go.
const KEEP_FAILED_SECS: i64 = 7 * 24 * 3600;
/// Longest SMTP error kept (they can be long; the status screen shows them).
const ERROR_MAX: usize = 500;

/// The `email.*` switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EmailSettings {
    pub one_time_access: bool,
    pub admin_login_codes: bool,
    pub new_device_notice: bool,
}

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

secrets::cookie_secret!(
    /// The random value of the cookie that binds an emailed sign-in link to the
    /// browser that asked for it. `Debug` hides it.
    EmailBinding
);

secrets::cookie_secret!(
    /// The long-lived random cookie that identifies a browser for new-device
    /// notices. `Debug` hides it.
    DeviceToken
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

pub(crate) fn flag<A: Access>(tx: &Tables<A>, key: &str) -> Result<bool, IdmError> {
    Ok(matches!(value_of(tx, key)?, Some(SettingValue::Bool(true))))
}

fn text<A: Access>(tx: &Tables<A>, key: &str) -> Result<Option<String>, IdmError> {
    Ok(match value_of(tx, key)? {
        Some(SettingValue::Text(text)) if !text.trim().is_empty() => Some(text),
        _ => None,
    })
}

pub(crate) fn read_email_settings<A: Access>(tx: &Tables<A>) -> Result<EmailSettings, IdmError> {
    Ok(EmailSettings {
        one_time_access: flag(tx, settings::EMAIL_ONE_TIME_ACCESS)?,
        admin_login_codes: flag(tx, settings::EMAIL_ADMIN_LOGIN_CODES)?,
        new_device_notice: flag(tx, settings::EMAIL_NEW_DEVICE_NOTICE)?,
    })
}

/// Whether mail can be sent at all: a host and a sender are set. Cheaper than [`read_smtp`],
/// which also opens the sealed password.
pub(crate) fn smtp_configured<A: Access>(tx: &Tables<A>) -> Result<bool, IdmError> {
    Ok(text(tx, settings::SMTP_HOST)?.is_some() && text(tx, settings::SMTP_FROM)?.is_some())
}

/// The SMTP settings, or `None` until a host and a sender are set. `sealer` opens the
/// password.
pub(crate) fn read_smtp<A: Access>(
    tx: &Tables<A>,
    sealer: &Sealer,
) -> Result<Option<SmtpSettings>, IdmError> {
    let (Some(host), Some(from)) = (
        text(tx, settings::SMTP_HOST)?,
        text(tx, settings::SMTP_FROM)?,
    ) else {
        return Ok(None);
    };
    let port = match value_of(tx, settings::SMTP_PORT)? {
        Some(SettingValue::Integer(n)) => u16::try_from(n).unwrap_or(587),
        _ => 587,
    };
    let tls = match text(tx, settings::SMTP_TLS)?.as_deref() {
        Some("none") => SmtpTls::None,
        Some("tls") => SmtpTls::Tls,
        _ => SmtpTls::StartTls,
    };
    let password = sealed::secret_setting(tx, sealer, settings::SMTP_PASSWORD)?;
    Ok(Some(SmtpSettings {
        host,
        port,
        username: text(tx, settings::SMTP_USERNAME)?,
        password,
        from,
        tls,
        skip_cert_verify: flag(tx, settings::SMTP_SKIP_CERT_VERIFY)?,
    }))
}

pub(crate) fn app_name<A: Access>(tx: &Tables<A>) -> Result<String, IdmError> {
    Ok(settings::read_settings(tx)?.app_name)
}

pub(crate) fn rendered(
    result: Result<RenderedMail, templates::RenderError>,
) -> Result<RenderedMail, IdmError> {
    result.map_err(|e| {
        tracing::error!("{e}");
        IdmError::invalid("mail", e.to_string())
    })
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
    })?)
}

/// Seconds until the next try after `attempts` failures: 30 s doubling to an hour.
pub fn retry_delay(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(20);
    RETRY_FIRST_SECS
        .saturating_mul(1_i64 << doublings)
        .min(RETRY_MAX_SECS)
}

pub(crate) fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

pub(crate) fn format_when(seconds: i64) -> String {
    to_time(seconds)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// A fresh short code (Crockford base32, unbiased: 256 is a multiple of 32).
fn generate_email_code() -> Result<String, IdmError> {
    let bytes = secrets::random_bytes::<EMAIL_CODE_LEN>()?;
    Ok(bytes
        .iter()
        .map(|b| {
            ALPHABET
                .get(usize::from(b % 32))
                .map_or('0', |&c| char::from(c))
        })
        .collect())
}

/// The canonical short code, forgiving like login codes (case, spaces,
/// hyphens, O→0, I/L→1, U→V); `None` when it cannot be one.
fn normalize_email_code(input: &str) -> Option<String> {
    let mut out = String::with_capacity(EMAIL_CODE_LEN);
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' | '\t' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            'U' => 'V',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || out.len() >= EMAIL_CODE_LEN {
            return None;
        }
        out.push(c);
    }
    (out.len() == EMAIL_CODE_LEN).then_some(out)
}

fn grouped_email_code(code: &str) -> String {
    let (a, b) = code.split_at(code.len() / 2);
    format!("{a}-{b}")
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
    pub fn email_settings(&self) -> Result<EmailSettings, IdmError> {
        read_email_settings(&self.store.read()?)
    }

    /// The SMTP settings, or `None` while no host or sender is set.
    pub fn smtp_settings(&self) -> Result<Option<SmtpSettings>, IdmError> {
        read_smtp(&self.store.read()?, self.sealer())
    }

    /// Messages due for a delivery attempt at `now`, oldest first. Gives up
    /// (in the same transaction) on messages queued more than a day ago,
    /// with a `mail_failed` event, and forgets given-up ones after a week.
    pub fn mail_due(&self) -> Result<Vec<QueuedMail>, IdmError> {
        let now = self.now();
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
                    audit_mail(
                        tx,
                        now,
                        "mail_failed",
                        id,
                        &message,
                        vec![detail("error", reason), detail("gave_up", "true")],
                    )?;
                    continue;
                }
                if message.next_attempt_at <= now {
                    due.push(QueuedMail {
                        id,
                        kind: message.kind,
                        to: message.to,
                        subject: message.subject,
                        text: message.text,
                        html: message.html,
                        attempts: message.attempts,
                    });
                }
            }
            Ok(due)
        })
    }

    /// When the next queued message is due (`None`: nothing is waiting).
    pub fn mail_next_attempt_at(&self) -> Result<Option<OffsetDateTime>, IdmError> {
        let tx = self.store.read()?;
        let next = tx
            .outbox()?
            .into_iter()
            .filter(|(_, m)| !m.gave_up)
            .map(|(_, m)| m.next_attempt_at.min(m.created_at + GIVE_UP_AFTER_SECS))
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
            tx.put_outbox_message(id, &message)?;
            let mut state = tx.mail_state()?;
            state.last_error = Some(error.clone());
            state.last_error_at = Some(now);
            tx.put_mail_state(&state)?;
            if message.attempts == 1 {
                let next = to_time(message.next_attempt_at)?.to_string();
                audit_mail(
                    tx,
                    now,
                    "mail_failed",
                    id,
                    &message,
                    vec![
                        detail("error", error.clone()),
                        detail("next_attempt_at", next),
                    ],
                )?;
            }
            Ok(())
        })
    }

    pub fn mail_status(&self) -> Result<MailStatus, IdmError> {
        let tx = self.store.read()?;
        let configured = read_smtp(&tx, self.sealer())?.is_some();
        let (mut queued, mut retrying, mut failed) = (0, 0, 0);
        for (_, message) in tx.outbox()? {
            if message.gave_up {
                failed += 1;
            } else if message.attempts > 0 {
                retrying += 1;
            } else {
                queued += 1;
            }
        }
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
        let code = generate_email_code()?;
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
                &grouped_email_code(&code),
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
    ) -> Result<(User, SessionToken, Session), IdmError> {
        let now = self.now();
        let Some(binding) = binding else {
            return Err(self.sign_in_failed(actor, None, SignInFailure::UnknownCode));
        };
        let presented = match proof {
            EmailProof::Link(token) => Some(secrets::sha256(token.trim().as_bytes())),
            EmailProof::Code(code) => {
                normalize_email_code(code).map(|c| secrets::sha256(c.as_bytes()))
            }
        };
        let key = binding.hash();
        let outcome = self.store.write(|tx| {
            let Some(mut record) = tx.email_link(&key)? else {
                let reason = SignInFailure::UnknownCode;
                audit::append(
                    tx,
                    now,
                    actor,
                    "sign_in_failed",
                    None,
                    vec![
                        detail("reason", reason.as_str()),
                        detail("method", "email_link"),
                    ],
                )?;
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
                let subject = user.as_ref().map(|u| Subject::linked(&u.username, u.id));
                audit::append(
                    tx,
                    now,
                    actor,
                    "sign_in_failed",
                    subject,
                    vec![
                        detail("reason", reason.as_str()),
                        detail("method", "email_link"),
                    ],
                )?;
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
                vec![detail("via", via)],
            )?;
            Ok::<_, IdmError>(Ok((user, token, session)))
        })?;
        outcome.map_err(|reason| IdmError::SignInFailed { reason })
    }

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

    /// Remembers that `user` signed in from the browser holding `device`.
    /// When that browser is new for them, they had signed in from another
    /// one before, and `email.new_device_notice` is on, a notice is queued.
    /// (The very first browser is the baseline: no notice.) Returns whether
    /// a notice was queued.
    pub fn note_sign_in_device(
        &self,
        actor: &Actor,
        user: &User,
        method: SignInMethod,
        device: &DeviceToken,
    ) -> Result<bool, IdmError> {
        let now = self.now();
        let hash = device.hash();
        self.store.write(|tx| {
            if tx.known_device(user.id, &hash)? {
                return Ok(false);
            }
            let had_devices = tx.has_known_devices(user.id)?;
            tx.put_known_device(user.id, &hash, now)?;
            let Some(to) = user.email.clone() else {
                return Ok(false);
            };
            if !had_devices || !read_email_settings(tx)?.new_device_notice {
                return Ok(false);
            }
            let app = app_name(tx)?;
            let when = format_when(now);
            let ip = actor.ip.clone().unwrap_or_else(|| "unknown".to_owned());
            let browser = actor
                .user_agent
                .as_deref()
                .map_or_else(|| "unknown".to_owned(), |ua| clip(ua, 200));
            let mail = rendered(templates::new_device(templates::NewDeviceMail {
                app_name: &app,
                name: &user.display_name,
                username: &user.username,
                when: &when,
                method: method_name(method),
                ip: &ip,
                browser: &browser,
            }))?;
            queue(tx, now, "new_device", &to, Some(user.id), mail)?;
            Ok(true)
        })
    }
}

/// `mail_sent` / `mail_failed`: the message's number and kind, the
/// recipient's account as subject, never an address.
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

    #[test]
    fn email_codes_are_short_forgiving_and_grouped() {
        let code = generate_email_code().unwrap();
        assert_eq!(code.len(), EMAIL_CODE_LEN);
        let shown = grouped_email_code(&code);
        assert_eq!(shown.len(), 9);
        assert_eq!(normalize_email_code(&shown.to_lowercase()), Some(code));
        assert_eq!(normalize_email_code("ABCD-EFGO"), Some("ABCDEFG0".into()));
        assert_eq!(normalize_email_code("ABCD-EFG"), None);
    }

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
