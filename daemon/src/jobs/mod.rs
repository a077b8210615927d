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
//!   something: reloads signing keys, passes on LDAP progress and directory changes to this
//!   replica's consoles; and every half second, while a console follows the audit log, the
//!   audit events the other replicas wrote.
//!
//! The sweeps only reclaim space: every lookup already ignores what is
//! expired by the `Clock`, so how often they run is not a security matter.
//!
//! Replicas sharing one PostgreSQL database each run all of these loops, but
//! mail delivery, LDAP sync and the expiry sweep (audit retention included)
//! do their work on one replica at a time, under a lease (`idm::leases`: a
//! row in `LEASES` naming the holder, the process's random `ReplicaId`, and
//! an end 30 s out by the `Clock`). [`lease::LeaseKeeper`] takes it when it
//! is free or ended and renews it well before its end (the loops look at
//! least every [`lease::LOOK_EVERY`]); a clean stop gives it back, a replica
//! that dies leaves it to end, and another takes the job over then. Mail and
//! the expiry sweep keep their lease while they run; an LDAP sync holds it
//! only while it syncs, so a sync asked for on any replica runs there, or is
//! refused with "another replica is syncing". The work's own writes check the
//! lease (a mail claim, each sync commit), so a replica that lost it stops
//! at once. Each message is claimed before it is sent (`idm::mail_claims`),
//! so no message is sent by two replicas at once; after a crash mid-send it
//! is due again when its claim ends (at least once). The last LDAP sync's
//! result lives in the database, so every console shows it.
//! [`rate_limit_sweep`] stays per replica: the counters it trims are each
//! process's own memory. On the embedded file the same code runs, and the
//! lease is always this process's (only one process can open the file).

pub mod expiry_sweep;
pub mod ldap_sync;
pub mod lease;
pub mod mail_delivery;
pub mod rate_limit_sweep;
pub mod replica_notices;

pub use ldap_sync::{LdapSync, SyncError};
