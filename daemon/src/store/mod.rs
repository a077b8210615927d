//! The store: opening the database (the embedded redb file, or PostgreSQL for
//! replicas that share one), transactions, and the typed operations on users,
//! groups, the audit log, sessions, login codes, passkeys and settings. The only
//! module that imports redb or the PostgreSQL client; the typed operations are
//! written once, over the ordered key-value tables of `kv`.
//!
//! Callers work inside [`Store::write`] (one write transaction, committed only if
//! the closure returns `Ok`) or on a [`Store::read`] snapshot.

mod access;
mod address_records;
mod audit;
mod audit_feed;
mod backup;
mod bundle;
mod copy;
mod digest;
mod email_verifications;
mod email_verified_step;
mod error;
mod groups;
mod index;
mod job_records;
mod kv;
mod ldap;
mod leases;
mod mail;
mod mail_records;
mod meta;
mod migrations;
mod notices;
mod oidc_admin;
mod oidc_records;
mod oidc_tokens;
mod read_ahead;
mod records;
mod schema;
mod secret_records;
mod signup;
mod spent;
mod tx;
mod user_records;
mod users;

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use redb::{DatabaseError, StorageError};

pub use audit_feed::AUDIT_POLL;
pub use backup::BackupError;
pub use bundle::{BundleError, ExportSummary, ImportSummary};
pub use copy::{CopyError, copy_all};
pub use digest::{Digest, TableDigest};
pub use error::StoreError;
pub use kv::PgError;
pub use leases::LeaseGrant;
pub use migrations::SCHEMA_VERSION;
pub use notices::{Notice, ReplicaNotices};
pub use oidc_admin::ClaimsOwner;
pub use records::RefreshTokenRecord;
pub use records::{
    AuditRecord, ClaimsRecord, ClientRecord, ConsentRecord, GroupId, GroupRecord, KeyAlg, KeyState,
    LoginCodeRecord, PasskeyRecord, PasskeyUse, RecordSource, SessionMethod, SessionRecord,
    SettingRecord, SettingValue, SigningKeyRecord, SignupTokenRecord, UserId, UserRecord,
    WebauthnHandle,
};
pub use records::{
    EmailLinkRecord, EmailVerificationRecord, LdapSyncCountsRecord, LdapSyncStateRecord,
    LeaseRecord, MailClaim, MailStateRecord, OutboxRecord, SkippedEntryRecord,
};
pub use schema::TokenHash;
pub use secret_records::StoredSecret;
pub use tx::{Access, Read, ReadTx, Tables, Write, WriteTx};
pub use users::UserListing;

use crate::private_files;
use error::db;
use kv::{PgDatabase, ReadTxn, WriteTxn};
use notices::Replicas;

/// Told about every audit event once its transaction has committed (live
/// audit views in the console).
pub type AuditObserver = Arc<dyn Fn(u64, &AuditRecord) + Send + Sync>;

/// Whether the audit observer has anyone to tell now (see `audit_feed.rs`).
pub type AuditWatched = Arc<dyn Fn() -> bool + Send + Sync>;

/// Told after a transaction that queued mail has committed (wakes the
/// delivery worker).
pub type MailObserver = Arc<dyn Fn() + Send + Sync>;

/// The most memory redb keeps for pages read from and waiting to be written to the file.
/// redb's default is 1 GiB, a ceiling its cache fills as the append-only audit log grows: the
/// daemon's resident memory followed the database's size (70 MB after a few minutes of
/// sign-ins). Beyond 4 MiB, pages come from the operating system's page cache, one `pread`
/// away: filtering 100,000 users took the same time as with 16 MiB (docs/ARCHITECTURE.md).
const CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Connections each replica keeps to PostgreSQL at most. Writes run one at a time across
/// the deployment and reads are short, so a few serve many requests; what waits longer
/// than ten seconds for one fails with a clear error instead of queueing for ever.
pub const PG_CONNECTIONS: usize = 16;

/// Where the data lives.
enum Backend {
    Redb(redb::Database),
    Postgres(PgDatabase),
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    audit_observer: Arc<RwLock<Option<(AuditObserver, AuditWatched)>>>,
    /// The last audit event the observer was told about (PostgreSQL; see `audit_feed`).
    audit_announced: Arc<audit_feed::Announced>,
    mail_observer: Arc<RwLock<Option<MailObserver>>>,
    /// Telling and hearing the other replicas (see `notices`).
    replicas: Arc<Replicas>,
    /// The schema version the database had when this handle opened it, before migrating.
    opened_at_version: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the database file and brings its schema up to date. The file is
    /// created 0600, and an existing one that others may read is made so (or refused with the
    /// fix, see `crate::private_files`): it holds every account and audit event.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let file = private_files::open_options()
            .open(path)
            .map_err(|e| open_error(path, DatabaseError::Storage(StorageError::Io(e))))?;
        private_files::tighten_file(&file, path)?;
        let backend = redb::backends::FileBackend::new(file).map_err(|e| open_error(path, e))?;
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create_with_backend(backend)
            .map_err(|e| open_error(path, e))?;
        Store::init(Backend::Redb(db))
    }

    /// Connects to the PostgreSQL database at `url` and brings its schema up to date
    /// (replicas starting together take turns: each step runs under the write lock).
    pub fn open_postgres(url: &str) -> Result<Store, StoreError> {
        let database = PgDatabase::connect(url, PG_CONNECTIONS).map_err(db("connecting"))?;
        Store::init(Backend::Postgres(database))
    }

    /// Whether this store lives in PostgreSQL (shared by replicas) rather than a file.
    pub fn is_shared(&self) -> bool {
        matches!(*self.backend, Backend::Postgres(_))
    }

    /// The PostgreSQL database's size on disk; `None` on redb, whose file the caller knows.
    pub fn shared_size_bytes(&self) -> Result<Option<u64>, StoreError> {
        match &*self.backend {
            Backend::Redb(_) => Ok(None),
            Backend::Postgres(database) => database
                .size_bytes()
                .map(Some)
                .map_err(db("measuring the database")),
        }
    }

    /// Rewrites the file so that no page an earlier transaction freed still holds old bytes:
    /// redb never zeroes a freed page, so after secrets stored in the clear are sealed their
    /// plaintext stays in the file until each page happens to be reused. Compaction moves the
    /// live pages down over the free ones and cuts the file after them. Needs the only handle
    /// on the database: `false` (nothing done) while any clone of this `Store` exists.
    /// PostgreSQL needs none of it (a rewritten row's old version is vacuumed away).
    pub fn compact(&mut self) -> Result<bool, StoreError> {
        let Some(backend) = Arc::get_mut(&mut self.backend) else {
            return Ok(false);
        };
        if let Backend::Redb(database) = backend {
            while database.compact().map_err(db("compacting the database"))? {}
        }
        Ok(true)
    }

    /// The id of the key this database's secrets are sealed with (see `meta.rs`).
    pub fn encryption_key_id(&self) -> Result<Option<[u8; 8]>, StoreError> {
        self.read()?.encryption_key_id()
    }

    /// A fresh database that lives only in memory, for tests.
    pub fn memory() -> Result<Store, StoreError> {
        let db = redb::Builder::new()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(db("creating an in-memory database"))?;
        Store::init(Backend::Redb(db))
    }

    fn init(backend: Backend) -> Result<Store, StoreError> {
        let mut store = Store {
            backend: Arc::new(backend),
            audit_observer: Arc::default(),
            audit_announced: Arc::default(),
            mail_observer: Arc::default(),
            replicas: Arc::new(Replicas::new()),
            opened_at_version: 0,
        };
        store.opened_at_version = migrations::run(&store)?;
        store.start_audit_feed()?;
        store.listen_to_replicas();
        Ok(store)
    }

    /// The schema version the database had when it was opened, before opening brought it
    /// to [`SCHEMA_VERSION`] (0: it was new). For saying what opening did.
    pub fn opened_at_version(&self) -> u64 {
        self.opened_at_version
    }

    fn begin_write(&self) -> Result<WriteTxn, StoreError> {
        Ok(match &*self.backend {
            Backend::Redb(database) => WriteTxn::Redb(
                database
                    .begin_write()
                    .map_err(db("starting a write transaction"))?,
            ),
            Backend::Postgres(database) => {
                WriteTxn::Pg(Arc::new(Mutex::new(database.begin_write())))
            }
        })
    }

    /// Installs the one observer of committed audit events (replacing any
    /// earlier one), and what says whether it has anyone to tell.
    pub fn set_audit_observer(&self, observer: AuditObserver, watched: AuditWatched) {
        let mut slot = self
            .audit_observer
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some((observer, watched));
    }

    /// Runs `f` in one write transaction: committed if it returns `Ok`,
    /// rolled back (nothing written) if it returns `Err`. Blocks while another
    /// write is in progress, so call it from blocking code, not an async task.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let started = crate::metrics::on().then(std::time::Instant::now);
        let txn = self.begin_write()?;
        let (result, appended, mail_queued, keys_changed) = {
            let mut tables = WriteTx::new(&txn);
            let result = f(&mut tables);
            (
                result,
                std::mem::take(&mut tables.appended_audit),
                tables.mail_queued,
                tables.keys_changed,
            )
        };
        match result {
            Ok(value) => {
                // Sent with the commit, so that a replica that hears it reads the change.
                let notices = self.write_notices(keys_changed);
                if !notices.is_empty() {
                    txn.notify(notices)
                        .map_err(db("telling the other replicas"))?;
                }
                txn.commit().map_err(db("committing a write transaction"))?;
                if let Some(started) = started {
                    ::metrics::histogram!("latchkey_database_write_seconds")
                        .record(started.elapsed().as_secs_f64());
                    for (_, record) in &appended {
                        crate::metrics::audit_committed(&record.event, &record.details);
                    }
                }
                self.announce(&appended);
                if mail_queued {
                    self.announce_mail();
                }
                Ok(value)
            }
            Err(e) => {
                // The caller's error is the one worth reporting; a failed
                // abort leaves nothing committed either way.
                let _ = txn.abort();
                Err(e)
            }
        }
    }

    /// Installs the one observer of committed mail (replacing any earlier one).
    pub fn set_mail_observer(&self, observer: MailObserver) {
        let mut slot = self
            .mail_observer
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some(observer);
    }

    fn announce_mail(&self) {
        let observer = self
            .mail_observer
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        if let Some(observer) = observer {
            observer();
        }
    }

    /// A consistent snapshot for reading.
    pub fn read(&self) -> Result<ReadTx, StoreError> {
        use redb::ReadableDatabase;
        let txn = match &*self.backend {
            Backend::Redb(database) => ReadTxn::Redb(
                database
                    .begin_read()
                    .map_err(db("starting a read transaction"))?,
            ),
            Backend::Postgres(database) => ReadTxn::Pg(Arc::new(Mutex::new(database.begin_read()))),
        };
        Ok(ReadTx::new(txn))
    }
}

/// Turns redb's open errors into messages that say what to do.
fn open_error(path: &Path, e: DatabaseError) -> StoreError {
    let path = path.to_path_buf();
    match e {
        DatabaseError::DatabaseAlreadyOpen => StoreError::AlreadyOpen { path },
        DatabaseError::Storage(StorageError::Io(source))
            if matches!(
                source.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            StoreError::NotWritable { path, source }
        }
        DatabaseError::Storage(StorageError::Io(source)) => StoreError::Io { path, source },
        other => db("opening the database")(other),
    }
}

#[cfg(test)]
mod tests;
