//! The settings every part of the daemon acts on (`app.name`,
//! `session.minutes`, `passkeys.user_verification`), typed, with defaults
//! applied. Each feature types its own keys beside it (`signup`,
//! `mail_settings`, `ldap_settings`); the registry of keys is
//! `setting_registry`, and changing them `setting_entries`.

use super::setting_registry::{APP_NAME, SESSION_MINUTES, USER_VERIFICATION};
use super::setting_values::value_of;
use super::{Idm, IdmError};
use crate::store::{Access, SettingValue, Tables};

/// The settings the daemon acts on, typed, with defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub app_name: String,
    pub session_minutes: u32,
    pub user_verification: UserVerification,
}

/// `passkeys.user_verification`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserVerification {
    Required,
    Preferred,
}

fn text_of(value: Option<SettingValue>, fallback: &str) -> String {
    match value {
        Some(SettingValue::Text(text)) => text,
        _ => fallback.to_owned(),
    }
}

/// The typed settings from one snapshot. A stored value of the wrong shape
/// (which `set_setting` never writes) falls back to the default.
pub(crate) fn read_settings<A: Access>(tx: &Tables<A>) -> Result<Settings, IdmError> {
    let app_name = text_of(value_of(tx, APP_NAME)?, "Latchkey");
    let session_minutes = match value_of(tx, SESSION_MINUTES)? {
        Some(SettingValue::Integer(n)) => u32::try_from(n).unwrap_or(60),
        _ => 60,
    };
    let user_verification = match text_of(value_of(tx, USER_VERIFICATION)?, "required").as_str() {
        "preferred" => UserVerification::Preferred,
        _ => UserVerification::Required,
    };
    Ok(Settings {
        app_name,
        session_minutes,
        user_verification,
    })
}

impl Idm {
    /// The settings with defaults applied.
    pub fn settings(&self) -> Result<Settings, IdmError> {
        read_settings(&self.store.read()?)
    }
}
