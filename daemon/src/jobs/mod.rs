//! Work the daemon does on its own, beside answering requests. Each job is a
//! task on the daemon's `TaskTracker`, started by the composition root
//! (`lib.rs`), and each stops at shutdown. Jobs call `idm` (on the blocking
//! pool, since the store blocks) and the adapters below it; they decide
//! *when*, idm decides *what*.
//!
//! What runs when:
//!
//! - [`mail_delivery`] — when mail is queued (the store tells it after the
//!   commit), when SMTP settings change, and otherwise when the next queued
//!   message is due by the daemon's `Clock` (it looks at least every minute).
//! - [`ldap_sync`] — at start-up when `ldap.enabled`, then whenever the last
//!   sync is `ldap.sync_interval_minutes` old by the `Clock` (it looks every
//!   30 seconds, or when woken); also on demand over the admin socket.
//! - [`expiry_sweep`] — every five minutes: expired sessions, login codes,
//!   signup tokens, email links and verifications; retired signing keys;
//!   expired OIDC token entries; audit events past `audit.retention_days`.
//! - [`rate_limit_sweep`] — every minute: rate-limit keys whose budget has
//!   refilled.
//! - [`replica_notices`] — on PostgreSQL only, whenever another replica says it changed
//!   something: reloads signing keys, announces its audit events, passes on LDAP progress
//!   and directory changes to this replica's consoles.
//!
//! The sweeps only reclaim space: every lookup already ignores what is
//! expired by the `Clock`, so how often they run is not a security matter.

pub mod expiry_sweep;
pub mod ldap_sync;
pub mod mail_delivery;
pub mod rate_limit_sweep;
pub mod replica_notices;

pub use ldap_sync::{LdapSync, SyncError};
