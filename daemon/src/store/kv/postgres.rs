//! The PostgreSQL backend: one `k bytea PRIMARY KEY, v bytea` table per store table
//! (named `kv_<redb name>`), reached through a pool of tokio-postgres connections.
//!
//! The store's API is synchronous (its callers run on the blocking pool, where redb blocks
//! on its file), so every query is a future sent to a small runtime of the store's own and
//! waited for on a channel. That works from any thread, an async worker included, which a
//! client that runs futures on the calling thread (the `postgres` crate) does not.
//!
//! - A write transaction begins by taking a transaction-scoped advisory lock, so that
//!   writers on every replica run one at a time, as redb's do in one process; the store's
//!   read-check-write code keeps its meaning and never sees a serialization failure. It
//!   runs at READ COMMITTED: each statement sees everything committed before it, which,
//!   with the lock held, is everything committed by earlier writers.
//! - A read transaction is REPEATABLE READ, READ ONLY: one consistent snapshot.
//! - A transaction begins on a pooled connection that may have died since its last use
//!   (PostgreSQL restarted, the backend was terminated): beginning fails at once, nothing
//!   has run, so it is tried again on a new connection, a few times, before it fails.
//! - Replicas tell each other what changed through LISTEN/NOTIFY (`listen.rs`).

use std::future::Future;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use redb::{TableDefinition, TableHandle, Value};
use tokio_postgres::types::ToSql;

use super::KvError;
use super::listen::{self, Deliver, NOTIFY_ALL, Notifier};

/// The advisory lock every write transaction holds ("LatchKey" in ASCII).
const WRITE_LOCK: i64 = 0x4c61_7463_684b_6579;

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
    fn run<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, PgError> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        self.shared.handle.spawn(async move {
            let _ = sender.send(future.await);
        });
        receiver.recv().map_err(|_| PgError::Stopped)
    }

    fn begin(&self, statements: String) -> Result<PgTxn, PgError> {
        let pool = self.shared.pool.clone();
        let conn = self.run(async move {
            let mut retries = 0;
            loop {
                let conn = pool.get().await?;
                match conn.batch_execute(&statements).await {
                    Ok(()) => return Ok::<_, PgError>(conn),
                    Err(e) if retries < BEGIN_RETRIES && (conn.is_closed() || gone(&e)) => {
                        retries += 1;
                        // Out of the pool for good, so that the next try gets another.
                        drop(Object::take(conn));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        })??;
        Ok(PgTxn {
            db: self.clone(),
            conn: Some(conn),
        })
    }

    /// A transaction that writes, once every other writer has finished.
    pub fn begin_write(&self) -> Result<PgTxn, PgError> {
        self.begin(format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
        ))
    }

    /// A consistent read-only snapshot.
    pub fn begin_read(&self) -> Result<PgTxn, PgError> {
        self.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY".to_owned())
    }

    /// Listens for notices from every replica (this one included) on a connection of its
    /// own, reconnecting whenever it is lost, until the store is dropped (`listen.rs`).
    pub fn listen(&self, deliver: Deliver) {
        listen::spawn_listener(&self.shared.handle, self.shared.config.clone(), deliver);
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

/// One transaction on one pooled connection. Ended by `commit` or `rollback`; one dropped
/// unfinished is rolled back without waiting.
pub struct PgTxn {
    db: PgDatabase,
    conn: Option<Object>,
}

impl std::fmt::Debug for PgTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTxn")
            .field("open", &self.conn.is_some())
            .finish()
    }
}

impl std::fmt::Debug for PgDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDatabase").finish_non_exhaustive()
    }
}

impl Drop for PgTxn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A connection whose ROLLBACK fails is closed and leaves the pool with it.
            self.db.shared.handle.spawn(async move {
                let _ = conn.batch_execute("ROLLBACK").await;
            });
        }
    }
}

/// The transaction behind a table, even if a panic poisoned its lock (the connection then
/// fails or rolls back; it never half-commits).
pub(super) fn lock(txn: &Arc<Mutex<PgTxn>>) -> Result<MutexGuard<'_, PgTxn>, KvError> {
    Ok(txn.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
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

impl PgTxn {
    /// Runs one statement on this transaction's connection.
    fn call<T, F, Fut>(&mut self, op: F) -> Result<T, PgError>
    where
        T: Send + 'static,
        F: FnOnce(Object) -> Fut,
        Fut: Future<Output = (Object, Result<T, tokio_postgres::Error>)> + Send + 'static,
    {
        let conn = self.conn.take().ok_or(PgError::Ended)?;
        let (conn, result) = self.db.run(op(conn))?;
        self.conn = Some(conn);
        Ok(result?)
    }

    fn end(&mut self, statement: &'static str) -> Result<(), KvError> {
        let conn = self.conn.take().ok_or(PgError::Ended)?;
        self.db
            .run(async move { conn.batch_execute(statement).await })?
            .map_err(PgError::from)?;
        Ok(())
    }

    pub(super) fn commit(&mut self) -> Result<(), KvError> {
        self.end("COMMIT")
    }

    pub(super) fn rollback(&mut self) -> Result<(), KvError> {
        self.end("ROLLBACK")
    }

    /// Notifies every replica of each payload when, and only if, this transaction commits.
    pub(super) fn notify(&mut self, payloads: Vec<String>) -> Result<(), KvError> {
        self.call(|c| async move {
            let r = execute(&c, NOTIFY_ALL, &[&listen::CHANNEL, &payloads]).await;
            (c, r)
        })?;
        Ok(())
    }

    pub(super) fn create_table(&mut self, table: &'static str) -> Result<(), KvError> {
        let sql =
            format!("CREATE TABLE IF NOT EXISTS {table} (k bytea PRIMARY KEY, v bytea NOT NULL)");
        self.call(|c| async move {
            let r = c.batch_execute(&sql).await;
            (c, r)
        })?;
        Ok(())
    }

    pub(super) fn get(&mut self, table: &str, key: Vec<u8>) -> Result<Option<Vec<u8>>, KvError> {
        let sql = format!("SELECT v FROM {table} WHERE k = $1");
        Ok(self.call(|c| async move {
            let r = query_value(&c, &sql, &[&key]).await;
            (c, r)
        })?)
    }

    pub(super) fn insert(
        &mut self,
        table: &str,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<Option<Vec<u8>>, KvError> {
        // The CTE reads the row as it was before the statement: the replaced value.
        let sql = format!(
            "WITH old AS (SELECT v FROM {table} WHERE k = $1) \
             INSERT INTO {table} (k, v) VALUES ($1, $2) \
             ON CONFLICT (k) DO UPDATE SET v = excluded.v \
             RETURNING (SELECT v FROM old)"
        );
        Ok(self.call(|c| async move {
            let r = query_value(&c, &sql, &[&key, &value]).await;
            (c, r)
        })?)
    }

    pub(super) fn remove(&mut self, table: &str, key: Vec<u8>) -> Result<Option<Vec<u8>>, KvError> {
        let sql = format!("DELETE FROM {table} WHERE k = $1 RETURNING v");
        Ok(self.call(|c| async move {
            let r = query_value(&c, &sql, &[&key]).await;
            (c, r)
        })?)
    }

    /// Writes every `keys[i] → values[i]` in one statement.
    pub(super) fn insert_all(
        &mut self,
        table: &str,
        keys: Vec<Vec<u8>>,
        values: Vec<Vec<u8>>,
    ) -> Result<(), KvError> {
        if keys.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO {table} (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
             ON CONFLICT (k) DO UPDATE SET v = excluded.v"
        );
        self.call(|c| async move {
            let r = execute(&c, &sql, &[&keys, &values]).await;
            (c, r)
        })?;
        Ok(())
    }

    pub(super) fn remove_all(&mut self, table: &str, keys: Vec<Vec<u8>>) -> Result<(), KvError> {
        if keys.is_empty() {
            return Ok(());
        }
        let sql = format!("DELETE FROM {table} WHERE k = ANY($1)");
        self.call(|c| async move {
            let r = execute(&c, &sql, &[&keys]).await;
            (c, r)
        })?;
        Ok(())
    }

    pub(super) fn count(&mut self, table: &str) -> Result<u64, KvError> {
        let sql = format!("SELECT count(*) FROM {table}");
        let count: i64 = self.call(|c| async move {
            let r = async {
                let statement = c.prepare_cached(&sql).await?;
                c.query_one(&statement, &[]).await?.try_get(0)
            }
            .await;
            (c, r)
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// At most `limit` entries between the bounds (ordered key encoding), from the bottom
    /// or, when `descending`, from the top.
    pub(super) fn range(
        &mut self,
        table: &str,
        low: &Bound<Vec<u8>>,
        high: &Bound<Vec<u8>>,
        descending: bool,
        limit: i64,
    ) -> Result<Vec<Row>, KvError> {
        let mut conditions = Vec::new();
        let mut bounds: Vec<Vec<u8>> = Vec::new();
        for (bound, included, excluded) in [(low, ">=", ">"), (high, "<=", "<")] {
            let (op, key) = match bound {
                Bound::Included(key) => (included, key),
                Bound::Excluded(key) => (excluded, key),
                Bound::Unbounded => continue,
            };
            bounds.push(key.clone());
            conditions.push(format!("k {op} ${}", bounds.len()));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let order = if descending { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT k, v FROM {table} {filter} ORDER BY k {order} LIMIT ${}",
            bounds.len() + 1
        );
        Ok(self.call(|c| async move {
            let r = async {
                let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
                for key in &bounds {
                    params.push(key);
                }
                params.push(&limit);
                let statement = c.prepare_cached(&sql).await?;
                let rows = c.query(&statement, &params).await?;
                rows.iter()
                    .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                    .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            }
            .await;
            (c, r)
        })?)
    }
}

/// A key (ordered encoding) and its value.
pub(super) type Row = (Vec<u8>, Vec<u8>);

/// The first column of the one row a statement returns, if it returns one (NULL is none).
async fn query_value(
    c: &Object,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Vec<u8>>, tokio_postgres::Error> {
    let statement = c.prepare_cached(sql).await?;
    match c.query_opt(&statement, params).await? {
        Some(row) => row.try_get(0),
        None => Ok(None),
    }
}

async fn execute(
    c: &Object,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    let statement = c.prepare_cached(sql).await?;
    c.execute(&statement, params).await
}
