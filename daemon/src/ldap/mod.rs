//! Reading an LDAP directory: the adapter below `idm` and the only code that
//! imports ldap3 (`directory`). It takes typed [`LdapSettings`] and returns a
//! [`DirectorySnapshot`]; what a sync changes is decided in `idm::ldap_sync`,
//! and when syncs run in `jobs::ldap_sync`.
//!
//! [`DirectorySource`] is the boundary between the daemon and the network:
//! the composition root passes [`LdapDirectory`]. Tests run the real one
//! against a real slapd.

mod directory;
mod settings;
mod snapshot;

use std::future::Future;
use std::pin::Pin;

use latchkey_protocol::LdapSyncProgress;

pub use directory::LdapDirectory;
pub use settings::{AttributeMap, LdapSettings, OnRemoved};
pub use snapshot::{DirectoryGroup, DirectorySnapshot, DirectoryUser};

/// Told how far reading has got.
pub type Progress<'a> = &'a (dyn Fn(LdapSyncProgress) + Send + Sync);

/// What [`DirectorySource::read`] returns.
pub type SourceFuture<'a> =
    Pin<Box<dyn Future<Output = Result<DirectorySnapshot, DirectoryError>> + Send + 'a>>;

/// Where users and groups come from: connects, binds and reads every user
/// and group the settings select.
pub trait DirectorySource: Send + Sync + std::fmt::Debug {
    fn read<'a>(&'a self, settings: &'a LdapSettings, progress: Progress<'a>) -> SourceFuture<'a>;
}

/// Why the directory could not be read. Messages are exact: the admin sees
/// them as the sync's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// A setting is missing or malformed.
    #[error("{0}")]
    Config(String),
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("bind as {dn} failed: {message}")]
    Bind { dn: String, message: String },
    #[error("search under {base} with {filter} failed: {message}")]
    Search {
        base: String,
        filter: String,
        message: String,
    },
}
