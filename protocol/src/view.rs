//! View models: what the daemon shows the console and scripts. These are not
//! the daemon's stored records; fields may be added, never renamed.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where an account comes from; LDAP accounts are read-only here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Local,
    Ldap,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Local => "local",
            Source::Ldap => "ldap",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    /// Whether the address is verified: what `email_verified` claims say.
    #[serde(default)]
    pub email_verified: bool,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub source: Source,
    pub passkey_count: u32,
    /// Names of the groups the user belongs to.
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Input for creating a local user. Empty names are allowed; the display name
/// defaults to "first last", or the username when both are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub is_admin: bool,
}

/// A partial update: `None` leaves a field alone. For `email`,
/// `Some(None)` removes the address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_or_null"
    )]
    pub email: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_admin: Option<bool>,
}

impl UserPatch {
    pub fn is_empty(&self) -> bool {
        *self == UserPatch::default()
    }
}

/// Keeps `"email": null` (remove the address) apart from a missing key
/// (leave it alone), which serde would otherwise fold together.
fn present_or_null<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A page of the user list, ordered by username (case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserQuery {
    /// Case-insensitive substring of username, email or name; empty for all.
    #[serde(default)]
    pub filter: String,
    #[serde(default)]
    pub offset: u64,
    /// At most [`UserQuery::MAX_LIMIT`]; larger values are clamped.
    #[serde(default = "UserQuery::default_limit")]
    pub limit: u32,
}

impl UserQuery {
    pub const MAX_LIMIT: u32 = 1000;

    fn default_limit() -> u32 {
        100
    }
}

impl Default for UserQuery {
    fn default() -> Self {
        UserQuery {
            filter: String::new(),
            offset: 0,
            limit: Self::default_limit(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPage {
    pub users: Vec<UserView>,
    /// How many users match the filter in all.
    pub total: u64,
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewGroup {
    pub name: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    pub id: String,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    pub id: String,
    pub name: String,
    pub friendly_name: String,
    pub source: Source,
    pub members: Vec<GroupMember>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub id: String,
    pub name: String,
    pub friendly_name: String,
    pub source: Source,
    pub member_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupList {
    pub groups: Vec<GroupSummary>,
}

/// Newest first. `before` pages backwards by event id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Only events whose actor or subject is this user (username, email or id).
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default = "AuditQuery::default_limit")]
    pub limit: u32,
    #[serde(default)]
    pub before: Option<u64>,
}

impl AuditQuery {
    pub const MAX_LIMIT: u32 = 1000;

    fn default_limit() -> u32 {
        50
    }
}

impl Default for AuditQuery {
    fn default() -> Self {
        AuditQuery {
            user: None,
            limit: Self::default_limit(),
            before: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEventView {
    pub id: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// A stable snake_case name such as `user_created`.
    pub event: String,
    /// Who did it: `admin-socket (uid 1000)`, a username, or `system`.
    pub actor: String,
    /// The user or object it was done to.
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Extra facts as key/value pairs, in insertion order.
    pub details: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEventView>,
}

/// What the console's status bar shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub daemon_version: String,
    pub public_url: String,
    pub data_dir: String,
    /// Where the data is: the embedded file's path, or `PostgreSQL <url>` with the password
    /// masked (replicas then share it). Empty from a daemon older than this field.
    #[serde(default)]
    pub database: String,
    pub user_count: u64,
    pub admin_count: u64,
    pub group_count: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
}
