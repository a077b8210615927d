//! The PostgreSQL backend: one `k bytea PRIMARY KEY, v bytea` table per store table
//! (named `kv_<redb name>`), reached through a pool of tokio-postgres connections.
//!
//! The store's API is synchronous (its callers run on the blocking pool, where redb blocks
//! on its file), so every query is a future sent to a small runtime of the store's own and
//! waited for on a channel. That works from any thread, an async worker included, which a
//! client that runs futures on the calling thread (the `postgres` crate) does not.
//!
//! - Transactions (`pg_txn.rs`): writers take turns under an advisory lock, readers read a
//!   snapshot, and statements travel several to a round trip (`pipeline.rs`).
//! - A transaction begins on a pooled connection that may have died since its last use
//!   (PostgreSQL restarted, the backend was terminated): beginning fails at once, nothing
//!   has run, so it is tried again on a new connection, a few times, before it fails.
//! - Replicas tell each other what changed through LISTEN/NOTIFY (`listen.rs`).

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use redb::{TableDefinition, TableHandle, Value};

use super::KvError;
use super::cache::RowCache;
use super::listen::{self, Deliver, Heard, Notifier};
use super::pg_txn::{PgTxn, insert_if_absent};
use super::pipeline::{self, Rows, Statement};

/// How long a request waits for a free connection before it fails with a clear error.
const POOL_WAIT: Duration = Duration::from_secs(10);
/// How long connecting may take before PostgreSQL counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How many times a transaction is begun again after finding its connection dead.
const BEGIN_RETRIES: usize = 3;

/// Why a PostgreSQL operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("database_url is not a PostgreSQL connection URL: {0}")]
    Url(#[source] tokio_postgres::Error),
    #[error("cannot reach PostgreSQL: {0}")]
    Unreachable(#[from] deadpool_postgres::PoolError),
    #[error("PostgreSQL: {}", detail(.0))]
    Query(#[from] tokio_postgres::Error),
    #[error("cannot start the PostgreSQL client: {0}")]
    Start(String),
    #[error("the PostgreSQL client stopped")]
    Stopped,
    #[error("the transaction has already ended")]
    Ended,
}

impl PgError {
    /// Whether PostgreSQL could not be reached or dropped the connection (it is down,
    /// restarting, or the network is), as opposed to refusing a statement: a request that
    /// failed so may succeed once it is back, with a connection the pool makes anew.
    pub fn is_unavailable(&self) -> bool {
        match self {
            PgError::Unreachable(_) | PgError::Stopped => true,
            PgError::Query(e) => {
                e.is_closed()
                    || e.as_db_error().is_none_or(|db| {
                        // Class 08: connection exception; 57P0x: the server is shutting down
                        // or starting up.
                        let code = db.code().code();
                        code.starts_with("08") || code.starts_with("57P")
                    })
            }
            PgError::Url(_) | PgError::Start(_) | PgError::Ended => false,
        }
    }
}

/// tokio-postgres says only "db error" unless asked for the server's message.
fn detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// A pool of connections to one database; cheap to clone.
#[derive(Clone)]
pub struct PgDatabase {
    shared: Arc<Shared>,
}

struct Shared {
    /// Dropped without waiting (see `Drop`), so that a `Store` may be dropped anywhere.
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: Pool,
    /// For the listening connection, which is not the pool's.
    config: tokio_postgres::Config,
    notifier: Notifier,
    /// Rows of hot tables (`cache.rs`).
    cache: Arc<RowCache>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl PgDatabase {
    /// A pool of at most `connections` connections to `url`; fails unless one connection
    /// can be made now.
    pub fn connect(url: &str, connections: usize) -> Result<PgDatabase, PgError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(PgError::Url)?;
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(PgError::Start(
                "database_url asks for sslmode=require, but latchkeyd does not speak TLS to \
                 PostgreSQL yet: keep the server on the same host or a private network and \
                 leave sslmode out (or set it to disable or prefer)"
                    .to_owned(),
            ));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("latchkeyd");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("latchkey-postgres")
            .enable_all()
            .build()
            .map_err(|e| PgError::Start(e.to_string()))?;
        let manager = Manager::from_config(
            config.clone(),
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| PgError::Start(e.to_string()))?;
        let database = PgDatabase {
            shared: Arc::new(Shared {
                handle: runtime.handle().clone(),
                notifier: Notifier::start(runtime.handle(), pool.clone()),
                runtime: Some(runtime),
                pool,
                config,
                cache: Arc::new(RowCache::new()),
            }),
        };
        let pool = database.shared.pool.clone();
        let synchronous_commit = database.run(async move {
            let conn = pool.get().await?;
            let row = conn.query_one("SHOW synchronous_commit", &[]).await?;
            Ok::<String, PgError>(row.try_get(0)?)
        })??;
        if synchronous_commit == "off" {
            tracing::warn!(
                "PostgreSQL runs with synchronous_commit = off: a write latchkeyd has \
                 acknowledged can be lost if the server crashes; set it to on (the default)"
            );
        }
        Ok(database)
    }

    /// Runs `future` on the client's runtime and waits for it, from any thread.
    pub(super) fn run<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, PgError> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        self.shared.handle.spawn(async move {
            let _ = sender.send(future.await);
        });
        receiver.recv().map_err(|_| PgError::Stopped)
    }

    /// The database's size on disk (`pg_database_size`).
    pub fn size_bytes(&self) -> Result<u64, PgError> {
        let pool = self.shared.pool.clone();
        let bytes = self.run(async move {
            let conn = pool.get().await?;
            let row = conn
                .query_one("SELECT pg_database_size(current_database())", &[])
                .await?;
            Ok::<i64, PgError>(row.try_get(0)?)
        })??;
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    /// A transaction that writes, once every other writer has finished. Nothing is asked
    /// of PostgreSQL until its first statement, which is sent behind the BEGIN.
    pub fn begin_write(&self) -> PgTxn {
        PgTxn::write(self.clone())
    }

    /// A consistent read-only snapshot (taken by its first statement; rows of cached
    /// tables may come from memory instead, see `cache.rs`).
    pub fn begin_read(&self) -> PgTxn {
        PgTxn::read(self.clone(), self.shared.cache.generation())
    }

    /// The pool transactions take their connection from.
    pub(super) fn pool(&self) -> Pool {
        self.shared.pool.clone()
    }

    /// The rows kept in memory (`cache.rs`).
    pub(super) fn cache(&self) -> &RowCache {
        &self.shared.cache
    }

    /// Runs `future` on the client's runtime without waiting for it.
    pub(super) fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        self.shared.handle.spawn(future);
    }

    /// Writes `key → value` into `table` unless `key` is there already, in a transaction of
    /// its own (one statement, no write lock: the primary key decides); whether it wrote.
    /// Sent again on another connection if the pooled one was dead: should the first have
    /// written before its answer was lost, the second finds the row and answers `false`.
    pub fn insert_once(&self, table: &str, key: Vec<u8>, value: Vec<u8>) -> Result<bool, KvError> {
        let pool = self.shared.pool.clone();
        let statement = [insert_if_absent(table).bind(key).bind(value)];
        let (_conn, answers) = self.run(async move { on_pooled(pool, &statement).await })??;
        let answers = answers.map_err(PgError::from)?;
        Ok(answers.first().is_some_and(|rows| !rows.is_empty()))
    }

    /// Listens for notices from every replica (this one included) on a connection of its
    /// own, reconnecting whenever it is lost, until the store is dropped (`listen.rs`).
    pub fn listen(&self, deliver: Deliver) {
        // The cache alone: the listener runs on the runtime `Shared` owns, so holding `Shared`
        // here would keep it (and every connection) alive for ever.
        let cache = Arc::clone(&self.shared.cache);
        let hear: Deliver = Arc::new(move |heard| match heard {
            Heard::Payload(payload) if cache.hear(&payload) => {}
            Heard::Connected => {
                cache.set_listening(true);
                deliver(Heard::Connected);
            }
            Heard::Lost => {
                cache.set_listening(false);
                deliver(Heard::Lost);
            }
            heard => deliver(heard),
        });
        listen::spawn_listener(&self.shared.handle, self.shared.config.clone(), hear);
    }

    /// Notifies every replica (this one included) outside any transaction, without waiting;
    /// `false` when the notice was dropped (see `listen.rs`).
    pub fn notify(&self, payload: String) -> bool {
        self.shared.notifier.notify(payload)
    }
}

/// Whether an error says the connection is gone (so a fresh one may succeed): closed, or
/// the server ending the session (class 57P: terminated, shutting down, restarting).
fn gone(e: &tokio_postgres::Error) -> bool {
    e.is_closed() || e.code().is_some_and(|code| code.code().starts_with("57P"))
}

/// `kv_<name>`: the PostgreSQL table of a redb table definition. Names are the store's
/// own constants; anything but `[a-z0-9_]` is replaced all the same, so that a name can
/// never break out of its quotes.
pub(super) fn table_name<K: redb::Key + 'static, V: Value + 'static>(
    def: TableDefinition<'static, K, V>,
) -> &'static str {
    // Interned: one allocation per table for the life of the process.
    static NAMES: OnceLock<Mutex<Vec<(String, &'static str)>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let name = def.name();
    if let Some((_, table)) = names.iter().find(|(known, _)| known == name) {
        return table;
    }
    let safe: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' => c,
            _ => '_',
        })
        .collect();
    let table: &'static str = Box::leak(format!("\"kv_{safe}\"").into_boxed_str());
    names.push((name.to_owned(), table));
    table
}

/// Takes a pooled connection and sends `statements` (a BEGIN first) on it. A connection
/// found dead (PostgreSQL restarted, the backend was terminated since its last use) fails at
/// once with nothing run, so it is dropped and everything sent again on another, a few times.
pub(super) async fn on_pooled(
    pool: Pool,
    statements: &[Statement],
) -> Result<(Object, Result<Vec<Rows>, tokio_postgres::Error>), PgError> {
    let mut retries = 0;
    loop {
        let conn = pool.get().await?;
        match pipeline::run(&conn, statements).await {
            Err(e) if retries < BEGIN_RETRIES && (conn.is_closed() || gone(&e)) => {
                retries += 1;
                // Out of the pool for good, so that the next try gets another.
                drop(Object::take(conn));
            }
            answers => return Ok((conn, answers)),
        }
    }
}

impl std::fmt::Debug for PgDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDatabase").finish_non_exhaustive()
    }
}
