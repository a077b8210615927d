//! A transaction on the PostgreSQL backend (`postgres.rs` has the pool it runs on).
//!
//! - A write transaction takes a transaction-scoped advisory lock before its first statement
//!   that needs it (all but `insert_if_absent`), so that writers on every replica run one at
//!   a time, as redb's do in one process; the store's read-check-write code keeps its meaning
//!   and never sees a serialization failure. It runs at READ COMMITTED: each statement sees
//!   everything committed before it, which, with the lock held, is everything committed by
//!   earlier writers.
//! - A read transaction is REPEATABLE READ, READ ONLY: one consistent snapshot, except for
//!   the rows of cached tables, which may come from memory (`cache.rs`).
//! - Nothing is sent before the first statement, which travels with the BEGIN; puts and
//!   notices wait for the next statement or the COMMIT (`pipeline.rs`).

use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use deadpool_postgres::Object;

use super::KvError;
use super::cache::{Changed, Table};
use super::listen::{self, NOTIFY_ALL};
use super::lookup::{Answer, Lookup, Memo};
use super::pipeline::{self, Puts, Rows, Statement};
use super::postgres::{PgDatabase, PgError, on_pooled};

/// The advisory lock every write transaction holds ("LatchKey" in ASCII).
const WRITE_LOCK: i64 = 0x4c61_7463_684b_6579;

/// What begins a write transaction: each statement sees everything committed before it,
/// which, once the write lock is held, is everything earlier writers committed.
const WRITE_BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";
/// Taking the write lock, until the transaction ends.
static WRITE_LOCK_SQL: LazyLock<String> =
    LazyLock::new(|| format!("SELECT pg_advisory_xact_lock({WRITE_LOCK})"));
/// What begins a read transaction: one snapshot for all its statements.
const READ_BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/// What kind of transaction a [`PgTxn`] is.
#[derive(Debug)]
enum Kind {
    /// Reads only; `generation` is the cache's when it began (`cache.rs`). `memo` holds what
    /// it has asked: one snapshot answers a question the same way every time, so asking again
    /// (the store's code reads a user several times on its way) costs no round trip. Ranges
    /// are remembered only when read ahead, and only until used: a scan must not pile up.
    Read { generation: u64, memo: Memo },
    /// Writes, under the write lock; what it changed in cached tables.
    Write(Changed),
}

/// One transaction on one pooled connection, taken at its first statement. Ended by
/// `commit` or `rollback`; one dropped unfinished is rolled back without waiting.
pub struct PgTxn {
    db: PgDatabase,
    /// `None` until the first statement, and once ended.
    conn: Option<Object>,
    /// Sent with the first statement, in the same round trip.
    begin: &'static str,
    kind: Kind,
    /// Sent to every replica on commit (`notify`).
    notices: Vec<String>,
    /// Whether the write lock is held: a write transaction takes it with its first
    /// statement that needs it (all but `insert_if_absent`).
    locked: bool,
    /// Writes nobody waits for, sent with the next statement or the COMMIT.
    puts: Puts,
    ended: bool,
}

impl std::fmt::Debug for PgTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTxn")
            .field("open", &self.conn.is_some())
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Drop for PgTxn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A connection whose ROLLBACK fails is closed and leaves the pool with it.
            self.db.spawn(async move {
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

/// Inserts `$1 → $2` into `table` unless the key is there; answers a row if it inserted.
pub(super) fn insert_if_absent(table: &str) -> Statement {
    Statement::new(format!(
        "INSERT INTO {table} (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING RETURNING 1"
    ))
}

/// Notifies every replica of each payload (on commit, inside a transaction).
fn notify_all(payloads: Vec<String>) -> Statement {
    Statement::new(NOTIFY_ALL)
        .bind(listen::CHANNEL)
        .bind(payloads)
}

/// The first column of the first row, if there is one (NULL is none).
fn first_value(rows: &[tokio_postgres::Row]) -> Result<Option<Vec<u8>>, PgError> {
    match rows.first() {
        Some(row) => Ok(row.try_get(0)?),
        None => Ok(None),
    }
}

impl PgTxn {
    pub(super) fn write(db: PgDatabase) -> PgTxn {
        PgTxn::new(db, WRITE_BEGIN, Kind::Write(Changed::default()))
    }

    /// A read transaction, noting the cache's `generation` when it began.
    pub(super) fn read(db: PgDatabase, generation: u64) -> PgTxn {
        PgTxn::new(
            db,
            READ_BEGIN,
            Kind::Read {
                generation,
                memo: Memo::new(),
            },
        )
    }

    fn new(db: PgDatabase, begin: &'static str, kind: Kind) -> PgTxn {
        PgTxn {
            db,
            conn: None,
            begin,
            kind,
            notices: Vec::new(),
            locked: false,
            puts: Puts::default(),
            ended: false,
        }
    }

    /// Runs one statement in this transaction (see `send`); what it answered.
    fn query(&mut self, statement: Statement) -> Result<Rows, PgError> {
        Ok(self.send(vec![statement], true)?.pop().unwrap_or_default())
    }

    /// Runs `statements` in one round trip, behind what must come before them: the BEGIN if
    /// they are the transaction's first, the write lock if `locks` (or puts are waiting) and
    /// it is not held yet, and the puts waiting. What each of `statements` answered.
    fn send(&mut self, statements: Vec<Statement>, locks: bool) -> Result<Vec<Rows>, PgError> {
        if self.ended {
            return Err(PgError::Ended);
        }
        let mut batch = Vec::new();
        if self.conn.is_none() {
            batch.push(Statement::simple(self.begin));
        }
        // A write waits for every other writer, unless all it does is `insert_if_absent`.
        let locks = locks || !self.puts.is_empty();
        if locks && matches!(self.kind, Kind::Write(_)) && !self.locked {
            batch.push(Statement::simple(WRITE_LOCK_SQL.as_str()));
            self.locked = true;
        }
        batch.extend(self.puts.take());
        let before = batch.len();
        batch.extend(statements);
        let conn = self.conn.take();
        let pool = self.db.pool();
        let (conn, answers) = self.db.run(async move {
            match conn {
                Some(conn) => {
                    let answers = pipeline::run(&conn, &batch).await;
                    Ok((conn, answers))
                }
                None => on_pooled(pool, &batch).await,
            }
        })??;
        self.conn = Some(conn);
        Ok(answers?.split_off(before))
    }

    /// The cached table `table` is, when this transaction may read it from memory.
    fn reads_cached(&self, table: &str) -> Option<(Table, u64)> {
        match self.kind {
            Kind::Read { generation, .. } => Table::of(table).map(|table| (table, generation)),
            Kind::Write(_) => None,
        }
    }

    /// Notes that this (write) transaction changed rows of `table`: `None`, any of them.
    fn changes(&mut self, table: &str, keys: Option<&[Vec<u8>]>) {
        if let (Kind::Write(changed), Some(table)) = (&mut self.kind, Table::of(table)) {
            match keys {
                Some(keys) => keys.iter().for_each(|key| changed.row(table, key)),
                None => changed.table(table),
            }
        }
    }

    pub(super) fn commit(&mut self) -> Result<(), KvError> {
        let changed = match &mut self.kind {
            Kind::Write(changed) => std::mem::take(changed),
            Kind::Read { .. } => Changed::default(),
        };
        let mut notices = std::mem::take(&mut self.notices);
        notices.extend(changed.notices());
        let committed = self.end_with(notices);
        // Whatever the outcome (a commit whose answer was lost may have happened), the rows
        // it touched are read anew.
        if !changed.is_empty() {
            self.db.cache().forget(&changed);
        }
        committed
    }

    /// Sends the puts waiting, the notices (if any) and COMMIT in one round trip; the
    /// transaction then ends.
    fn end_with(&mut self, notices: Vec<String>) -> Result<(), KvError> {
        if self.conn.is_none() && self.puts.is_empty() && notices.is_empty() {
            // Nothing was ever sent: there is nothing to commit.
            self.ended = true;
            return Ok(());
        }
        let mut statements = Vec::new();
        if !notices.is_empty() {
            statements.push(notify_all(notices));
        }
        statements.push(Statement::simple("COMMIT"));
        let sent = self.send(statements, false);
        self.ended = true;
        // COMMIT is only reached if nothing before it failed (an error aborts the transaction
        // and PostgreSQL answers a COMMIT after it with a rollback, not an error): the first
        // error is the outcome.
        sent?;
        // Back to the pool, out of any transaction.
        self.conn = None;
        Ok(())
    }

    pub(super) fn rollback(&mut self) -> Result<(), KvError> {
        self.ended = true;
        self.puts = Puts::default();
        if let Some(conn) = self.conn.take() {
            self.db
                .run(async move { conn.batch_execute("ROLLBACK").await })?
                .map_err(PgError::from)?;
        }
        Ok(())
    }

    /// Notifies every replica of each payload when, and only if, this transaction commits.
    pub(super) fn notify(&mut self, payloads: Vec<String>) -> Result<(), KvError> {
        self.notices.extend(payloads);
        Ok(())
    }

    pub(super) fn create_table(&mut self, table: &'static str) -> Result<(), KvError> {
        self.query(Statement::new(format!(
            "CREATE TABLE IF NOT EXISTS {table} (k bytea PRIMARY KEY, v bytea NOT NULL)"
        )))?;
        Ok(())
    }

    pub(super) fn get(
        &mut self,
        table: &'static str,
        key: Vec<u8>,
    ) -> Result<Option<Vec<u8>>, KvError> {
        self.look_up(Lookup::Get { table, key })?.into_value()
    }

    pub(super) fn contains_any(
        &mut self,
        table: &'static str,
        keys: Vec<Vec<u8>>,
    ) -> Result<bool, KvError> {
        if keys.is_empty() {
            return Ok(false);
        }
        self.look_up(Lookup::Any { table, keys })?.into_any()
    }

    /// Answers `lookup`: from memory when the row cache or this transaction knows the
    /// answer, else from PostgreSQL.
    fn look_up(&mut self, lookup: Lookup) -> Result<Answer, KvError> {
        if let Some(answer) = self.known(&lookup) {
            return Ok(answer);
        }
        let answer = lookup.answer(&self.query(lookup.statement())?)?;
        self.learn(lookup, answer.clone(), false);
        Ok(answer)
    }

    /// Asks every one of `lookups` not known yet in one round trip, for a read transaction
    /// to answer from memory when the caller asks them one by one. (A write transaction
    /// reads as it goes: nothing is asked ahead.)
    ///
    /// The snapshot ends in the same round trip (a ROLLBACK behind the lookups): its
    /// connection goes back to the pool at once instead of costing a round trip of its own
    /// when the transaction is dropped. What the transaction asks afterwards, if it was not
    /// asked ahead, is read in a new snapshot.
    pub(super) fn read_ahead(&mut self, lookups: Vec<Lookup>) -> Result<(), KvError> {
        if !matches!(self.kind, Kind::Read { .. }) {
            return Ok(());
        }
        let wanted = self.unknown(lookups);
        if wanted.is_empty() {
            return Ok(());
        }
        let mut statements: Vec<Statement> = wanted.iter().map(Lookup::statement).collect();
        statements.push(Statement::simple("ROLLBACK"));
        let answers = self.send(statements, false)?;
        // Out of any transaction: back to the pool; a later statement begins anew.
        self.conn = None;
        self.learn_ahead(wanted, answers)
    }

    /// Writes `key → value` into `table` unless the key is there, in a transaction of its
    /// own (as `PgDatabase::insert_once`), then begins this read transaction and asks
    /// `lookups` (as `read_ahead`), all in one round trip; whether it wrote. The snapshot is
    /// taken after the write committed. Only a transaction that has sent nothing yet can put
    /// the write before its BEGIN; any other does the two one after the other.
    pub(super) fn insert_once_then_read_ahead(
        &mut self,
        table: &str,
        key: Vec<u8>,
        value: Vec<u8>,
        lookups: Vec<Lookup>,
    ) -> Result<bool, KvError> {
        if self.conn.is_some() || self.ended || !matches!(self.kind, Kind::Read { .. }) {
            let inserted = self.db.insert_once(table, key, value)?;
            self.read_ahead(lookups)?;
            return Ok(inserted);
        }
        let wanted = self.unknown(lookups);
        let mut batch = vec![insert_if_absent(table).bind(key).bind(value)];
        if !wanted.is_empty() {
            batch.push(Statement::simple(self.begin));
            batch.extend(wanted.iter().map(Lookup::statement));
            batch.push(Statement::simple("ROLLBACK"));
        }
        let pool = self.db.pool();
        // The connection goes back to the pool out of any transaction.
        let (_conn, answers) = self
            .db
            .run(async move { on_pooled(pool, &batch).await })??;
        let mut answers = answers.map_err(PgError::from)?.into_iter();
        let inserted = answers.next().is_some_and(|rows| !rows.is_empty());
        // Past the BEGIN's answer, one per lookup.
        self.learn_ahead(wanted, answers.skip(1))?;
        Ok(inserted)
    }

    /// Keeps the answers to lookups asked ahead, in order.
    fn learn_ahead(
        &mut self,
        lookups: Vec<Lookup>,
        answers: impl IntoIterator<Item = Rows>,
    ) -> Result<(), KvError> {
        for (lookup, rows) in lookups.into_iter().zip(answers) {
            let answer = lookup.answer(&rows)?;
            self.learn(lookup, answer, true);
        }
        Ok(())
    }

    /// `lookups` not known yet, each once.
    fn unknown(&self, lookups: Vec<Lookup>) -> Vec<Lookup> {
        let mut wanted: Vec<Lookup> = Vec::new();
        for lookup in lookups {
            if !wanted.contains(&lookup) && !self.knows(&lookup) {
                wanted.push(lookup);
            }
        }
        wanted
    }

    /// The row cache's answer, for a `Get` of a cached table in a read transaction.
    fn cached(&self, lookup: &Lookup) -> Option<Answer> {
        let Lookup::Get { table, key } = lookup else {
            return None;
        };
        let (table, _) = self.reads_cached(table)?;
        self.db.cache().get(table, key).map(Answer::Value)
    }

    fn knows(&self, lookup: &Lookup) -> bool {
        self.cached(lookup).is_some()
            || matches!(&self.kind, Kind::Read { memo, .. } if memo.contains_key(lookup))
    }

    /// What the row cache or this transaction's memo answers (a range read ahead is
    /// answered once).
    fn known(&mut self, lookup: &Lookup) -> Option<Answer> {
        if let Some(answer) = self.cached(lookup) {
            return Some(answer);
        }
        let Kind::Read { memo, .. } = &mut self.kind else {
            return None;
        };
        match lookup {
            Lookup::Range { .. } => memo.remove(lookup),
            Lookup::Get { .. } | Lookup::Any { .. } => memo.get(lookup).cloned(),
        }
    }

    /// Keeps what PostgreSQL answered: a row of a cached table for every transaction, and the
    /// answer for this one (a range only when read `ahead`).
    fn learn(&mut self, lookup: Lookup, answer: Answer, ahead: bool) {
        if let (Lookup::Get { table, key }, Answer::Value(value)) = (&lookup, &answer)
            && let Some((table, generation)) = self.reads_cached(table)
        {
            self.db
                .cache()
                .offer(table, key.clone(), value.clone(), generation);
        }
        if let Kind::Read { memo, .. } = &mut self.kind
            && (ahead || !matches!(lookup, Lookup::Range { .. }))
        {
            memo.insert(lookup, answer);
        }
    }

    pub(super) fn insert(
        &mut self,
        table: &str,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<Option<Vec<u8>>, KvError> {
        self.changes(table, Some(std::slice::from_ref(&key)));
        // The CTE reads the row as it was before the statement: the replaced value.
        let sql = format!(
            "WITH old AS (SELECT v FROM {table} WHERE k = $1) \
             INSERT INTO {table} (k, v) VALUES ($1, $2) \
             ON CONFLICT (k) DO UPDATE SET v = excluded.v \
             RETURNING (SELECT v FROM old)"
        );
        Ok(first_value(
            &self.query(Statement::new(sql).bind(key).bind(value))?,
        )?)
    }

    /// Writes `key → value` without asking what it replaced: sent with this transaction's
    /// next statement or its COMMIT, whichever comes first.
    pub(super) fn put(&mut self, table: &'static str, key: Vec<u8>, value: Vec<u8>) {
        self.changes(table, Some(std::slice::from_ref(&key)));
        self.puts.add(table, key, value);
    }

    /// Writes `key → value` unless `key` is there already; whether it wrote. One statement
    /// that needs no write lock: the primary key decides, so concurrent callers on every
    /// replica insert it once between them.
    pub(super) fn insert_if_absent(
        &mut self,
        table: &str,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<bool, KvError> {
        self.changes(table, Some(std::slice::from_ref(&key)));
        let answer = self.send(vec![insert_if_absent(table).bind(key).bind(value)], false)?;
        Ok(answer.first().is_some_and(|rows| !rows.is_empty()))
    }

    pub(super) fn remove(&mut self, table: &str, key: Vec<u8>) -> Result<Option<Vec<u8>>, KvError> {
        self.changes(table, Some(std::slice::from_ref(&key)));
        let sql = format!("DELETE FROM {table} WHERE k = $1 RETURNING v");
        Ok(first_value(&self.query(Statement::new(sql).bind(key))?)?)
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
        self.changes(table, Some(&keys));
        self.query(pipeline::upsert_all(table).bind(keys).bind(values))?;
        Ok(())
    }

    pub(super) fn remove_all(&mut self, table: &str, keys: Vec<Vec<u8>>) -> Result<(), KvError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.changes(table, Some(&keys));
        let sql = format!("DELETE FROM {table} WHERE k = ANY($1)");
        self.query(Statement::new(sql).bind(keys))?;
        Ok(())
    }

    pub(super) fn count(&mut self, table: &str) -> Result<u64, KvError> {
        let rows = self.query(Statement::new(format!("SELECT count(*) FROM {table}")))?;
        let count: i64 = match rows.first() {
            Some(row) => row.try_get(0).map_err(PgError::from)?,
            None => 0,
        };
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The entries a `Lookup::Range` asks for.
    pub(super) fn rows(&mut self, lookup: Lookup) -> Result<Vec<Row>, KvError> {
        self.look_up(lookup)?.into_rows()
    }
}

/// A key (ordered encoding) and its value.
pub(super) type Row = (Vec<u8>, Vec<u8>);
