//! Views and inputs for getting people in: signup tokens, LDAP sync and mail.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Input for a signup token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSignupToken {
    /// Seconds until it expires; at most 31 days.
    pub expires_in_secs: u64,
    /// How many accounts it may create, 1–100.
    pub usage_limit: u32,
    /// Groups the new accounts join.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// A freshly created signup token: the only time its link is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupTokenCreated {
    pub id: String,
    /// `<public_url>/st/<token>`
    pub url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub usage_limit: u32,
    pub groups: Vec<String>,
}

/// An active signup token, without the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupTokenView {
    pub id: String,
    /// The first characters of the token, to recognise a link.
    pub prefix: String,
    pub uses: u32,
    pub usage_limit: u32,
    pub groups: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// An entry a sync left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedEntry {
    /// The entry's DN.
    pub entry: String,
    pub reason: String,
}

/// What one LDAP sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LdapSyncReport {
    pub created: u64,
    pub updated: u64,
    /// Users who came back and were enabled again.
    #[serde(default)]
    pub enabled: u64,
    pub disabled: u64,
    pub deleted: u64,
    #[serde(default)]
    pub groups_created: u64,
    #[serde(default)]
    pub groups_updated: u64,
    #[serde(default)]
    pub groups_deleted: u64,
    pub skipped: Vec<SkippedEntry>,
}

/// The LDAP sync as the console's status screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LdapStatusView {
    pub enabled: bool,
    pub running: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_sync_at: Option<OffsetDateTime>,
    pub last_report: Option<LdapSyncReport>,
    /// The exact error of the last sync, when it failed.
    pub last_error: Option<String>,
}

/// How far a running sync has got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LdapSyncProgress {
    /// `connecting`, `users`, `groups`, `applying`, `done`
    pub phase: String,
    pub done: u64,
    /// Unknown while entries are still being read.
    pub total: Option<u64>,
}

/// The outgoing mail queue, as the console's status screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailStatusView {
    pub configured: bool,
    pub queued: u64,
    /// Messages that failed and are waiting for their next attempt.
    pub retrying: u64,
    /// Messages given up on after the last attempt.
    pub failed: u64,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_sent_at: Option<OffsetDateTime>,
}
