//! Business rules for users, groups, the audit log, settings, sessions,
//! login codes, passkeys, mail, LDAP sync and OpenID Connect, on top of
//! `store`, with the `mail` and `ldap` adapters below it for their types.
//! Handlers (web, admin socket, jobs) call these functions and map the
//! results; nothing here knows about HTTP, sockets or redb.
//!
//! Every mutation runs in one store write transaction together with its
//! audit event, so either both are written or neither is. The store blocks
//! while another write is in progress: call these from blocking code
//! (`tokio::task::spawn_blocking`), not directly on an async task.

mod actor;
mod audit;
mod audit_batch;
mod audit_log;
mod backup;
mod ceremony;
mod ceremony_keeper;
mod ceremony_store;
mod codes;
mod device_notice;
mod email_links;
mod email_verification;
mod error;
mod expiry;
mod export;
mod groups;
mod ldap_settings;
pub mod ldap_sync;
pub mod ldap_sync_state;
pub mod leases;
mod login_code_mail;
mod login_codes;
mod mail_claims;
mod mail_compose;
mod mail_queue;
mod mail_settings;
pub mod oidc;
mod passkey_names;
mod passkey_notice;
mod passkeys;
pub mod readiness;
pub mod replicas;
mod sealed;
mod sealed_tokens;
mod secrets;
mod sessions;
mod setting_entries;
mod setting_registry;
mod setting_values;
mod settings;
mod setup;
mod sign_in_failures;
mod signup;
mod snapshot;
mod test_mail;
mod users;
mod validate;

use std::sync::Arc;

use latchkey_protocol::Source;
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::sealing::Sealer;
use crate::store::{RecordSource, Store, StoreError};

pub use crate::store::{GroupId, UserId, WebauthnHandle};
pub use actor::{Actor, ActorKind};
pub use audit_batch::PendingAuditEvent;
pub use audit_log::AuditEvent;
pub use ceremony::Passkeys;
pub use ceremony_store::{
    CEREMONY_TTL_SECS, CeremonyOwner, MAX_CEREMONIES, MAX_CEREMONIES_PER_OWNER,
};
pub use device_notice::DeviceToken;
pub use email_links::{EMAIL_LINK_MINUTES, EmailBinding, EmailProof, normalize_address};
pub use email_verification::{
    EMAIL_VERIFICATION_HOURS, EmailVerification, VERIFICATION_MAILS_PER_HOUR, VerificationMail,
};
pub use error::{IdmError, SignInFailure};
pub use groups::{Group, GroupEntry, GroupSummaryEntry};
pub use ldap_sync_state::LdapSyncState;
pub use leases::{Job, Lease, ReplicaId};
pub use login_codes::{LoginCodeInfo, LoginCodeIssued, normalize_login_code};
pub use mail_claims::{CLAIM_SECS, MailClaimed};
pub use mail_queue::{MailStatus, QueuedMail, retry_delay};
pub use mail_settings::EmailSettings;
pub use oidc::Oidc;
pub use passkeys::{PASSKEY_NAME_MAX, PasskeyInfo};
pub use sessions::{PasskeyProof, Session, SessionPeek, SessionToken};
pub use setting_entries::SettingEntry;
pub use settings::{Settings, UserVerification};
pub use setup::SetupGate;
pub use signup::{
    FieldError, MAX_USAGE_LIMIT, SignupForm, SignupMode, SignupOutcome, SignupRefusal,
    SignupSettings, SignupTokenInfo, SignupTokenIssued, SignupVia,
};
pub use snapshot::Snapshot;
pub use users::{Counts, User, UserEntry, UserPageResult};

/// The identity-management service: cheap to clone, shareable across tasks.
#[derive(Clone, Debug)]
pub struct Idm {
    store: Store,
    clock: Arc<dyn Clock>,
    /// Seals the secrets this layer stores (`sealed`).
    sealer: Arc<Sealer>,
}

impl Idm {
    /// An `Idm` whose secrets are sealed with a key that lives only as long as this process:
    /// for tests and in-memory stores. The daemon uses [`Idm::with_sealer`] with the key kept
    /// outside the database.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Idm {
        Idm::with_sealer(store, clock, Sealer::ephemeral())
    }

    pub fn with_sealer(store: Store, clock: Arc<dyn Clock>, sealer: Sealer) -> Idm {
        Idm {
            store,
            clock,
            sealer: Arc::new(sealer),
        }
    }

    fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Now, in whole UTC seconds: the precision times are stored with, so a
    /// value returned by a mutation equals the one read back later.
    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }
}

#[cfg(test)]
impl Idm {
    /// An `Idm` on a database file at `path`, for tests outside `idm` that need real commits
    /// (fsync included) without reaching into the store.
    pub(crate) fn on_file(path: &std::path::Path, clock: Arc<dyn Clock>) -> Result<Idm, IdmError> {
        Ok(Idm::new(Store::open(path)?, clock))
    }
}

/// A stored timestamp as a date; out-of-range values mean a damaged record.
fn to_time(seconds: i64) -> Result<OffsetDateTime, IdmError> {
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| {
        IdmError::Store(StoreError::Corrupt(format!(
            "timestamp {seconds} is out of range"
        )))
    })
}

fn source_of(source: RecordSource) -> Source {
    match source {
        RecordSource::Local => Source::Local,
        RecordSource::Ldap => Source::Ldap,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod access_tests;
