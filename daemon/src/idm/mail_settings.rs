//! Which mail the daemon may send, and how: the `email.*` switches and the
//! `smtp.*` settings (keys in `setting_registry`), read into typed views; the
//! SMTP ones into the mail adapter's [`SmtpSettings`].

use super::sealed;
use super::setting_registry::{
    EMAIL_ADMIN_LOGIN_CODES, EMAIL_NEW_DEVICE_NOTICE, EMAIL_ONE_TIME_ACCESS, SMTP_FROM, SMTP_HOST,
    SMTP_PASSWORD, SMTP_PORT, SMTP_SKIP_CERT_VERIFY, SMTP_TLS, SMTP_USERNAME,
};
use super::setting_values::{flag, integer, text};
use super::{Idm, IdmError};
use crate::mail::{SmtpSettings, SmtpTls};
use crate::sealing::Sealer;
use crate::store::{Access, Tables};

/// The `email.*` switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EmailSettings {
    pub one_time_access: bool,
    pub admin_login_codes: bool,
    pub new_device_notice: bool,
}

pub(crate) fn read_email_settings<A: Access>(tx: &Tables<A>) -> Result<EmailSettings, IdmError> {
    Ok(EmailSettings {
        one_time_access: flag(tx, EMAIL_ONE_TIME_ACCESS)?,
        admin_login_codes: flag(tx, EMAIL_ADMIN_LOGIN_CODES)?,
        new_device_notice: flag(tx, EMAIL_NEW_DEVICE_NOTICE)?,
    })
}

/// Whether mail can be sent at all: a host and a sender are set. Cheaper than [`read_smtp`],
/// which also opens the sealed password.
pub(crate) fn smtp_configured<A: Access>(tx: &Tables<A>) -> Result<bool, IdmError> {
    Ok(text(tx, SMTP_HOST)?.is_some() && text(tx, SMTP_FROM)?.is_some())
}

/// The SMTP settings, or `None` until a host and a sender are set. `sealer` opens the
/// password.
pub(crate) fn read_smtp<A: Access>(
    tx: &Tables<A>,
    sealer: &Sealer,
) -> Result<Option<SmtpSettings>, IdmError> {
    let (Some(host), Some(from)) = (text(tx, SMTP_HOST)?, text(tx, SMTP_FROM)?) else {
        return Ok(None);
    };
    let port = match integer(tx, SMTP_PORT)? {
        Some(n) => u16::try_from(n).unwrap_or(587),
        None => 587,
    };
    let tls = match text(tx, SMTP_TLS)?.as_deref() {
        Some("none") => SmtpTls::None,
        Some("tls") => SmtpTls::Tls,
        _ => SmtpTls::StartTls,
    };
    let password = sealed::secret_setting(tx, sealer, SMTP_PASSWORD)?;
    Ok(Some(SmtpSettings {
        host,
        port,
        username: text(tx, SMTP_USERNAME)?,
        password,
        from,
        tls,
        skip_cert_verify: flag(tx, SMTP_SKIP_CERT_VERIFY)?,
    }))
}

impl Idm {
    pub fn email_settings(&self) -> Result<EmailSettings, IdmError> {
        read_email_settings(&self.store.read()?)
    }

    /// The SMTP settings, or `None` while no host or sender is set.
    pub fn smtp_settings(&self) -> Result<Option<SmtpSettings>, IdmError> {
        read_smtp(&self.store.read()?, self.sealer())
    }
}
