//! The storage contract below the typed store: ordered key-value tables inside
//! transactions, on one of two backends.
//!
//! - **redb** (the default): the embedded file. Tables are redb's own, unchanged.
//! - **PostgreSQL**: one `bytea` key → `bytea` value table per redb table, so that
//!   several replicas share one database (`postgres.rs`).
//!
//! The store's code is written once against [`KvTable`], whose methods mirror the part
//! of redb's table API the store uses (get, insert, remove, ranges both ways, retain),
//! with redb's key and value types. Values keep redb's encoding on both backends; keys
//! on PostgreSQL use an order-preserving encoding (`ordered.rs`) so that ranges and
//! the order of listings are the same on both.
//!
//! Transactions keep redb's semantics on both: one writer at a time (on PostgreSQL a
//! transaction-scoped advisory lock taken first, so writers on every replica queue as
//! redb's do in one process), reads on a consistent snapshot.

mod cache;
mod listen;
mod lookup;
mod ordered;
mod pg_txn;
mod pipeline;
mod postgres;
mod range;

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex};

use redb::{ReadableTable as _, ReadableTableMetadata as _, TableDefinition, Value};

pub use listen::{Heard, MAX_PAYLOAD};
pub use lookup::ReadAhead;
pub use ordered::OrderedKey;
pub use postgres::{PgDatabase, PgError};
pub use range::Range;

use lookup::Lookup;
use pg_txn::PgTxn;

/// Why a table operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error(transparent)]
    Redb(#[from] redb::Error),
    #[error(transparent)]
    Postgres(#[from] PgError),
    #[error("a record key or value in table {table} cannot be read")]
    Corrupt { table: &'static str },
    #[error(
        "an entry to write is not in its table's encoding (key of {key_len} bytes, value of \
         {value_len} bytes)"
    )]
    Undecodable { key_len: usize, value_len: usize },
    #[error("a read transaction cannot write")]
    ReadOnly,
}

impl KvError {
    /// Whether the database could not be reached (see `PgError::is_unavailable`).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, KvError::Postgres(e) if e.is_unavailable())
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for KvError {
            fn from(e: $t) -> Self {
                KvError::Redb(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::TableError,
    redb::StorageError,
    redb::TransactionError,
    redb::CommitError,
    redb::DatabaseError,
    redb::CompactionError
);

/// A value or key read from a table.
pub enum Guard<'a, T: Value + 'static> {
    Redb(redb::AccessGuard<'a, T>),
    /// In redb's encoding, checked when read (`checked`).
    Owned(Vec<u8>, PhantomData<T>),
}

impl<T: Value + 'static> Guard<'_, T> {
    pub fn value(&self) -> T::SelfType<'_> {
        match self {
            Guard::Redb(guard) => guard.value(),
            Guard::Owned(bytes, _) => T::from_bytes(bytes),
        }
    }
}

/// Bytes from outside redb become a guard only once `T::from_bytes` cannot fail on them
/// (it panics on a wrong width or, for text, on invalid UTF-8).
fn checked<'a, T: Value + 'static>(
    bytes: Vec<u8>,
    table: &'static str,
) -> Result<Guard<'a, T>, KvError> {
    if decodes::<T>(&bytes) {
        Ok(Guard::Owned(bytes, PhantomData))
    } else {
        Err(KvError::Corrupt { table })
    }
}

/// Whether `T::from_bytes` can take `bytes` without panicking.
fn decodes<T: Value + 'static>(bytes: &[u8]) -> bool {
    let width_ok = T::fixed_width().is_none_or(|width| width == bytes.len());
    let text_ok =
        T::type_name() != <&str as Value>::type_name() || std::str::from_utf8(bytes).is_ok();
    width_ok && text_ok
}

/// A key from PostgreSQL (ordered encoding) as a guard in redb's encoding.
fn key_guard<'a, K: OrderedKey>(
    ordered: &[u8],
    table: &'static str,
) -> Result<Guard<'a, K>, KvError> {
    let key = K::take(ordered).ok_or(KvError::Corrupt { table })?;
    Ok(Guard::Owned(
        K::as_bytes(&key).as_ref().to_vec(),
        PhantomData,
    ))
}

impl std::fmt::Debug for ReadTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadTxn").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for WriteTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTxn").finish_non_exhaustive()
    }
}

impl<T: Value + 'static> std::fmt::Debug for Guard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").finish_non_exhaustive()
    }
}

impl<K: OrderedKey, V: Value + 'static> std::fmt::Debug for KvTable<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvTable").finish_non_exhaustive()
    }
}

/// One entry of a range.
pub type Entry<'a, K, V> = (Guard<'a, K>, Guard<'a, V>);

/// The table-reading half of redb's API, on both backends.
pub trait ReadableTable<K: OrderedKey, V: Value + 'static> {
    fn get<'a>(&self, key: impl Borrow<K::SelfType<'a>>) -> Result<Option<Guard<'_, V>>, KvError>;

    /// Entries in key order (double-ended: `.rev()` walks down from the top).
    fn range<'a, KR>(&self, range: impl RangeBounds<KR> + 'a) -> Result<Range<'_, K, V>, KvError>
    where
        KR: Borrow<K::SelfType<'a>> + 'a;

    fn iter(&self) -> Result<Range<'_, K, V>, KvError> {
        self.range::<K::SelfType<'_>>(..)
    }

    fn first(&self) -> Result<Option<Entry<'_, K, V>>, KvError> {
        self.iter()?.next().transpose()
    }

    fn last(&self) -> Result<Option<Entry<'_, K, V>>, KvError> {
        self.iter()?.next_back().transpose()
    }

    fn len(&self) -> Result<u64, KvError>;

    /// Whether any of `keys` is in the table: one statement on PostgreSQL, however many keys.
    fn contains_any<'a>(&self, keys: &[K::SelfType<'a>]) -> Result<bool, KvError>;

    fn is_empty(&self) -> Result<bool, KvError> {
        Ok(self.first()?.is_none())
    }
}

/// A table opened in a transaction.
pub struct KvTable<'t, K: OrderedKey, V: Value + 'static> {
    inner: Inner<'t, K, V>,
}

enum Inner<'t, K: OrderedKey, V: Value + 'static> {
    RedbRead(redb::ReadOnlyTable<K, V>),
    RedbWrite(redb::Table<'t, K, V>),
    Pg {
        txn: Arc<Mutex<PgTxn>>,
        table: &'static str,
    },
}

impl<K: OrderedKey, V: Value + 'static> ReadableTable<K, V> for KvTable<'_, K, V> {
    fn get<'a>(&self, key: impl Borrow<K::SelfType<'a>>) -> Result<Option<Guard<'_, V>>, KvError> {
        Ok(match &self.inner {
            Inner::RedbRead(t) => t.get(key)?.map(Guard::Redb),
            Inner::RedbWrite(t) => t.get(key)?.map(Guard::Redb),
            Inner::Pg { txn, table } => pg_txn::lock(txn)?
                .get(table, K::encode(key.borrow()))?
                .map(|bytes| checked(bytes, table))
                .transpose()?,
        })
    }

    fn range<'a, KR>(&self, range: impl RangeBounds<KR> + 'a) -> Result<Range<'_, K, V>, KvError>
    where
        KR: Borrow<K::SelfType<'a>> + 'a,
    {
        Ok(match &self.inner {
            Inner::RedbRead(t) => Range::Redb(t.range(range)?),
            Inner::RedbWrite(t) => Range::Redb(t.range(range)?),
            Inner::Pg { txn, table } => Range::postgres(Arc::clone(txn), table, &range),
        })
    }

    fn first(&self) -> Result<Option<Entry<'_, K, V>>, KvError> {
        match &self.inner {
            Inner::Pg { txn, table } => range::pg_edge(txn, table, false),
            _ => self.iter()?.next().transpose(),
        }
    }

    fn last(&self) -> Result<Option<Entry<'_, K, V>>, KvError> {
        match &self.inner {
            Inner::Pg { txn, table } => range::pg_edge(txn, table, true),
            _ => self.iter()?.next_back().transpose(),
        }
    }

    fn len(&self) -> Result<u64, KvError> {
        Ok(match &self.inner {
            Inner::RedbRead(t) => t.len()?,
            Inner::RedbWrite(t) => t.len()?,
            Inner::Pg { txn, table } => pg_txn::lock(txn)?.count(table)?,
        })
    }

    fn contains_any<'a>(&self, keys: &[K::SelfType<'a>]) -> Result<bool, KvError> {
        match &self.inner {
            Inner::RedbRead(t) => redb_contains_any(t, keys),
            Inner::RedbWrite(t) => redb_contains_any(t, keys),
            Inner::Pg { txn, table } => {
                let keys = keys.iter().map(|key| K::encode(key)).collect();
                pg_txn::lock(txn)?.contains_any(table, keys)
            }
        }
    }
}

fn redb_contains_any<'a, K: OrderedKey, V: Value + 'static>(
    table: &impl redb::ReadableTable<K, V>,
    keys: &[K::SelfType<'a>],
) -> Result<bool, KvError> {
    for key in keys {
        if table.get(key)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

impl<K: OrderedKey, V: Value + 'static> KvTable<'_, K, V> {
    /// Notes for `ahead` that the caller is about to `get(key)`.
    pub fn ahead_get<'a>(&self, ahead: &mut ReadAhead, key: impl Borrow<K::SelfType<'a>>) {
        if let Inner::Pg { txn, table } = &self.inner {
            let key = K::encode(key.borrow());
            ahead.note(txn, Lookup::Get { table, key });
        }
    }

    /// Notes for `ahead` that the caller is about to ask `contains_any(keys)`.
    pub fn ahead_contains_any(&self, ahead: &mut ReadAhead, keys: &[K::SelfType<'_>]) {
        if let Inner::Pg { txn, table } = &self.inner
            && !keys.is_empty()
        {
            let keys = keys.iter().map(|key| K::encode(key)).collect();
            ahead.note(txn, Lookup::Any { table, keys });
        }
    }

    /// Notes for `ahead` that the caller is about to iterate `range` from the bottom (its
    /// first batch is asked ahead).
    pub fn ahead_range<'a, KR>(&self, ahead: &mut ReadAhead, range: &(impl RangeBounds<KR> + 'a))
    where
        KR: Borrow<K::SelfType<'a>> + 'a,
    {
        if let Inner::Pg { txn, table } = &self.inner {
            ahead.note(txn, range::first_batch::<K, KR>(table, range));
        }
    }
}

impl<'t, K: OrderedKey, V: Value + 'static> KvTable<'t, K, V> {
    /// Writes `key → value`; the value it replaced, if any.
    pub fn insert<'k, 'v>(
        &mut self,
        key: impl Borrow<K::SelfType<'k>>,
        value: impl Borrow<V::SelfType<'v>>,
    ) -> Result<Option<Guard<'_, V>>, KvError> {
        Ok(match &mut self.inner {
            Inner::RedbRead(_) => return Err(KvError::ReadOnly),
            Inner::RedbWrite(t) => t.insert(key, value)?.map(Guard::Redb),
            Inner::Pg { txn, table } => {
                let value = V::as_bytes(value.borrow()).as_ref().to_vec();
                pg_txn::lock(txn)?
                    .insert(table, K::encode(key.borrow()), value)?
                    .map(|bytes| checked(bytes, table))
                    .transpose()?
            }
        })
    }

    /// Writes `key → value`, like `insert` without the value it replaced: PostgreSQL gets it
    /// with the transaction's next statement (or its commit) rather than a round trip of its
    /// own.
    pub fn put<'k, 'v>(
        &mut self,
        key: impl Borrow<K::SelfType<'k>>,
        value: impl Borrow<V::SelfType<'v>>,
    ) -> Result<(), KvError> {
        match &mut self.inner {
            Inner::RedbRead(_) => Err(KvError::ReadOnly),
            Inner::RedbWrite(t) => {
                t.insert(key, value)?;
                Ok(())
            }
            Inner::Pg { txn, table } => {
                let value = V::as_bytes(value.borrow()).as_ref().to_vec();
                pg_txn::lock(txn)?.put(table, K::encode(key.borrow()), value);
                Ok(())
            }
        }
    }

    /// Writes `key → value` unless `key` is there already; whether it wrote. On PostgreSQL
    /// this needs no write lock (the primary key decides between concurrent writers), so a
    /// transaction that does nothing else waits for no other writer: the table must be one
    /// that every writer changes only this way, or by removing entries.
    pub fn insert_if_absent<'k, 'v>(
        &mut self,
        key: impl Borrow<K::SelfType<'k>>,
        value: impl Borrow<V::SelfType<'v>>,
    ) -> Result<bool, KvError> {
        match &mut self.inner {
            Inner::RedbRead(_) => Err(KvError::ReadOnly),
            Inner::RedbWrite(t) => {
                if t.get(key.borrow())?.is_some() {
                    return Ok(false);
                }
                t.insert(key, value)?;
                Ok(true)
            }
            Inner::Pg { txn, table } => {
                let value = V::as_bytes(value.borrow()).as_ref().to_vec();
                pg_txn::lock(txn)?.insert_if_absent(table, K::encode(key.borrow()), value)
            }
        }
    }

    /// Removes `key`; the value it had, if any.
    pub fn remove<'a>(
        &mut self,
        key: impl Borrow<K::SelfType<'a>>,
    ) -> Result<Option<Guard<'_, V>>, KvError> {
        Ok(match &mut self.inner {
            Inner::RedbRead(_) => return Err(KvError::ReadOnly),
            Inner::RedbWrite(t) => t.remove(key)?.map(Guard::Redb),
            Inner::Pg { txn, table } => pg_txn::lock(txn)?
                .remove(table, K::encode(key.borrow()))?
                .map(|bytes| checked(bytes, table))
                .transpose()?,
        })
    }

    /// Writes many entries at once, each given as redb's encoding of its key and value
    /// (`Value::as_bytes`, as a range of this table's type reads them). PostgreSQL gets them
    /// in one statement instead of one round trip each: copying a whole database
    /// (`store::copy`) would otherwise take a round trip per row. Bytes that are not a `K`
    /// or a `V` are refused (`checked`), since redb's decoding would panic on them.
    pub fn insert_encoded(&mut self, rows: &[(Vec<u8>, Vec<u8>)]) -> Result<(), KvError> {
        if let Some((key, value)) = rows
            .iter()
            .find(|(key, value)| !decodes::<K>(key) || !decodes::<V>(value))
        {
            return Err(KvError::Undecodable {
                key_len: key.len(),
                value_len: value.len(),
            });
        }
        match &mut self.inner {
            Inner::RedbRead(_) => Err(KvError::ReadOnly),
            Inner::RedbWrite(t) => {
                for (key, value) in rows {
                    t.insert(K::from_bytes(key), V::from_bytes(value))?;
                }
                Ok(())
            }
            Inner::Pg { txn, table } => {
                let keys = rows
                    .iter()
                    .map(|(key, _)| K::encode(&K::from_bytes(key)))
                    .collect();
                let values = rows.iter().map(|(_, value)| value.clone()).collect();
                pg_txn::lock(txn)?.insert_all(table, keys, values)
            }
        }
    }

    /// Keeps the entries for which `keep` is true and removes the rest.
    pub fn retain<F>(&mut self, keep: F) -> Result<(), KvError>
    where
        F: for<'f> FnMut(K::SelfType<'f>, V::SelfType<'f>) -> bool,
    {
        self.retain_in::<K::SelfType<'_>, F>(.., keep)
    }

    /// [`retain`](Self::retain) within `range`.
    pub fn retain_in<'a, KR, F>(
        &mut self,
        range: impl RangeBounds<KR> + 'a,
        mut keep: F,
    ) -> Result<(), KvError>
    where
        KR: Borrow<K::SelfType<'a>> + 'a,
        F: for<'f> FnMut(K::SelfType<'f>, V::SelfType<'f>) -> bool,
    {
        match &mut self.inner {
            Inner::RedbRead(_) => Err(KvError::ReadOnly),
            Inner::RedbWrite(t) => Ok(t.retain_in(range, keep)?),
            Inner::Pg { txn, table } => {
                let mut doomed = Vec::new();
                for entry in Range::<K, V>::postgres(Arc::clone(txn), table, &range) {
                    let (key, value) = entry?;
                    if !keep(key.value(), value.value()) {
                        doomed.push(K::encode(&key.value()));
                    }
                }
                pg_txn::lock(txn)?.remove_all(table, doomed)
            }
        }
    }
}

/// [`KvTable::insert_if_absent`] in a transaction of its own: on PostgreSQL a single
/// statement, one round trip, outside the write lock.
pub fn insert_once<K: OrderedKey, V: Value + 'static>(
    database: &PgDatabase,
    def: TableDefinition<'static, K, V>,
    key: &K::SelfType<'_>,
    value: &V::SelfType<'_>,
) -> Result<bool, KvError> {
    let value = V::as_bytes(value).as_ref().to_vec();
    database.insert_once(postgres::table_name(def), K::encode(key), value)
}

/// [`insert_once`], then the reads noted in `ahead` (a snapshot that begins after the write
/// committed), in one round trip on PostgreSQL; whether it wrote.
pub fn insert_once_then<K: OrderedKey, V: Value + 'static>(
    database: &PgDatabase,
    def: TableDefinition<'static, K, V>,
    key: &K::SelfType<'_>,
    value: &V::SelfType<'_>,
    ahead: ReadAhead,
) -> Result<bool, KvError> {
    let value = V::as_bytes(value).as_ref().to_vec();
    ahead.run_after_insert_once(database, postgres::table_name(def), K::encode(key), value)
}

/// A transaction to read from.
pub enum ReadTxn {
    Redb(redb::ReadTransaction),
    Pg(Arc<Mutex<PgTxn>>),
}

/// A transaction to write in. One exists at a time (per deployment), so the size of redb's
/// variant costs nothing worth a box.
#[allow(
    clippy::large_enum_variant,
    reason = "one write transaction exists at a time"
)]
pub enum WriteTxn {
    Redb(redb::WriteTransaction),
    Pg(Arc<Mutex<PgTxn>>),
}

impl ReadTxn {
    pub fn open<K: OrderedKey, V: Value + 'static>(
        &self,
        def: TableDefinition<'static, K, V>,
    ) -> Result<KvTable<'static, K, V>, KvError> {
        let inner = match self {
            ReadTxn::Redb(txn) => Inner::RedbRead(txn.open_table(def)?),
            ReadTxn::Pg(txn) => Inner::Pg {
                txn: Arc::clone(txn),
                table: postgres::table_name(def),
            },
        };
        Ok(KvTable { inner })
    }
}

impl WriteTxn {
    pub fn open<K: OrderedKey, V: Value + 'static>(
        &self,
        def: TableDefinition<'static, K, V>,
    ) -> Result<KvTable<'_, K, V>, KvError> {
        let inner = match self {
            WriteTxn::Redb(txn) => Inner::RedbWrite(txn.open_table(def)?),
            WriteTxn::Pg(txn) => Inner::Pg {
                txn: Arc::clone(txn),
                table: postgres::table_name(def),
            },
        };
        Ok(KvTable { inner })
    }

    /// Whether opening a table for writing creates it (redb); otherwise `create` does.
    pub fn creates_on_open(&self) -> bool {
        matches!(self, WriteTxn::Redb(_))
    }

    /// Creates the table if the database lacks it.
    pub fn create<K: OrderedKey, V: Value + 'static>(
        &self,
        def: TableDefinition<'static, K, V>,
    ) -> Result<(), KvError> {
        match self {
            WriteTxn::Redb(txn) => {
                txn.open_table(def)?;
                Ok(())
            }
            WriteTxn::Pg(txn) => pg_txn::lock(txn)?.create_table(postgres::table_name(def)),
        }
    }

    /// Tells the other replicas each payload once this transaction commits (nothing on
    /// redb: one process, nobody else to tell).
    pub fn notify(&self, payloads: Vec<String>) -> Result<(), KvError> {
        match self {
            WriteTxn::Redb(_) => Ok(()),
            WriteTxn::Pg(txn) => pg_txn::lock(txn)?.notify(payloads),
        }
    }

    /// Makes everything written durable and visible.
    pub fn commit(self) -> Result<(), KvError> {
        match self {
            WriteTxn::Redb(txn) => Ok(txn.commit()?),
            WriteTxn::Pg(txn) => pg_txn::lock(&txn)?.commit(),
        }
    }

    /// Drops everything written.
    pub fn abort(self) -> Result<(), KvError> {
        match self {
            WriteTxn::Redb(txn) => Ok(txn.abort()?),
            WriteTxn::Pg(txn) => pg_txn::lock(&txn)?.rollback(),
        }
    }
}
