//! Views of how users get in: passkeys, browser sessions and login codes.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A passkey as the console lists it. Admins may list and revoke passkeys,
/// never add one: users enrol their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyView {
    /// The credential id, base64url without padding.
    pub id: String,
    pub name: String,
    /// The authenticator's AAGUID, when it told us (hyphenated UUID).
    pub aaguid: Option<String>,
    /// Whether the credential may be synced between devices (backup eligible).
    pub synced: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// How a browser session was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    Passkey,
    LoginCode,
    EmailLink,
    Signup,
    Setup,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// A public id for the session (not the cookie value).
    pub id: String,
    pub method: SignInMethod,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Input for a login code: for whom and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLoginCode {
    /// Username, email or id.
    pub user: String,
    /// Seconds until it expires; at most 31 days.
    pub expires_in_secs: u64,
    /// Also email it to the user (needs the setting `email.admin_login_codes`).
    #[serde(default)]
    pub send_email: bool,
}

/// A freshly created login code: the only time the code itself is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginCodeCreated {
    pub id: String,
    /// `<public_url>/lc/<code>`
    pub url: String,
    /// Grouped for reading aloud, e.g. `K7QD-M2XH-9PRT-WC4A`.
    pub code: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Whether it was also emailed.
    #[serde(default)]
    pub emailed: bool,
}

/// An outstanding login code, without the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginCodeView {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub created_by: String,
}
