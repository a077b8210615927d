//! Iterating a key range, in either direction, on either backend. On PostgreSQL the
//! rows come in batches, from the bottom for `next` and from the top for `next_back`;
//! each batch narrows the bounds, so the two ends never hand out a row twice.

use std::borrow::Borrow;
use std::collections::VecDeque;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex};

use redb::Value;

use super::lookup::Lookup;
use super::pg_txn::{self, PgTxn, Row};
use super::{Entry, KvError, OrderedKey, checked, key_guard};

/// Rows fetched per round trip.
const BATCH: i64 = 256;

/// The entries of a range, in key order.
pub enum Range<'a, K: OrderedKey, V: Value + 'static> {
    Redb(redb::Range<'a, K, V>),
    Pg(PgRange<K, V>),
}

pub struct PgRange<K, V> {
    txn: Arc<Mutex<PgTxn>>,
    table: &'static str,
    /// What is not fetched yet lies between these (ordered encoding).
    low: Bound<Vec<u8>>,
    high: Bound<Vec<u8>>,
    /// Fetched from the bottom, ascending.
    front: VecDeque<Row>,
    /// Fetched from the top, descending.
    back: VecDeque<Row>,
    /// Nothing is left between `low` and `high`.
    drained: bool,
    failed: bool,
    types: std::marker::PhantomData<(K, V)>,
}

impl<K: OrderedKey, V: Value + 'static> std::fmt::Debug for Range<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Range").finish_non_exhaustive()
    }
}

impl<K, V> std::fmt::Debug for PgRange<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgRange")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl<K: OrderedKey, V: Value + 'static> Range<'_, K, V> {
    pub(super) fn postgres<'a, KR>(
        txn: Arc<Mutex<PgTxn>>,
        table: &'static str,
        range: &impl RangeBounds<KR>,
    ) -> Self
    where
        KR: Borrow<K::SelfType<'a>> + 'a,
    {
        let (low, high) = encode_bounds::<K, KR>(range);
        Range::Pg(PgRange {
            txn,
            table,
            low,
            high,
            front: VecDeque::new(),
            back: VecDeque::new(),
            drained: false,
            failed: false,
            types: std::marker::PhantomData,
        })
    }
}

/// The bounds of `range` in the ordered key encoding.
fn encode_bounds<'a, K: OrderedKey, KR>(
    range: &impl RangeBounds<KR>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>)
where
    KR: Borrow<K::SelfType<'a>> + 'a,
{
    let encode = |bound: Bound<&KR>| match bound {
        Bound::Included(key) => Bound::Included(K::encode(key.borrow())),
        Bound::Excluded(key) => Bound::Excluded(K::encode(key.borrow())),
        Bound::Unbounded => Bound::Unbounded,
    };
    (encode(range.start_bound()), encode(range.end_bound()))
}

/// What iterating `range` from the bottom asks first (for `ReadAhead`): the same lookup as
/// its first `fetch`, so that the answer asked ahead is the one the iteration finds.
pub(super) fn first_batch<'a, K: OrderedKey, KR>(
    table: &'static str,
    range: &impl RangeBounds<KR>,
) -> Lookup
where
    KR: Borrow<K::SelfType<'a>> + 'a,
{
    let (low, high) = encode_bounds::<K, KR>(range);
    batch(table, low, high, false)
}

/// One batch of the entries between the bounds, from the bottom or (`descending`) the top.
fn batch(
    table: &'static str,
    low: Bound<Vec<u8>>,
    high: Bound<Vec<u8>>,
    descending: bool,
) -> Lookup {
    Lookup::Range {
        table,
        low,
        high,
        descending,
        limit: BATCH,
    }
}

/// The first (or, `descending`, the last) entry of a whole table: one row asked for, not a
/// batch (the audit log's last event is read by every audit commit, under the write lock).
pub(super) fn pg_edge<K: OrderedKey, V: Value + 'static>(
    txn: &Arc<Mutex<PgTxn>>,
    table: &'static str,
    descending: bool,
) -> Result<Option<Entry<'static, K, V>>, KvError> {
    let lookup = Lookup::Range {
        table,
        low: Bound::Unbounded,
        high: Bound::Unbounded,
        descending,
        limit: 1,
    };
    let rows = pg_txn::lock(txn)?.rows(lookup)?;
    rows.into_iter()
        .next()
        .map(|(key, value)| Ok((key_guard::<K>(&key, table)?, checked::<V>(value, table)?)))
        .transpose()
}

impl<K: OrderedKey, V: Value + 'static> PgRange<K, V> {
    /// Fetches the next batch from one end; `false` once nothing is left to fetch.
    fn fetch(&mut self, descending: bool) -> Result<bool, KvError> {
        if self.drained {
            return Ok(false);
        }
        let lookup = batch(self.table, self.low.clone(), self.high.clone(), descending);
        let rows = pg_txn::lock(&self.txn)?.rows(lookup)?;
        let Some((edge, _)) = rows.last() else {
            self.drained = true;
            return Ok(false);
        };
        // A short batch is everything left between the bounds: asking again would answer
        // nothing, at the price of a round trip.
        if i64::try_from(rows.len()).is_ok_and(|n| n < BATCH) {
            self.drained = true;
        }
        if descending {
            self.high = Bound::Excluded(edge.clone());
            self.back.extend(rows);
        } else {
            self.low = Bound::Excluded(edge.clone());
            self.front.extend(rows);
        }
        Ok(true)
    }

    fn entry(&self, (key, value): Row) -> Result<Entry<'static, K, V>, KvError> {
        Ok((
            key_guard::<K>(&key, self.table)?,
            checked::<V>(value, self.table)?,
        ))
    }

    fn step(&mut self, descending: bool) -> Option<Result<Entry<'static, K, V>, KvError>> {
        if self.failed {
            return None;
        }
        loop {
            let near = if descending {
                &mut self.back
            } else {
                &mut self.front
            };
            if let Some(row) = near.pop_front() {
                return Some(self.entry(row));
            }
            match self.fetch(descending) {
                Ok(true) => continue,
                Ok(false) => {
                    // Everything left was fetched by the other end: its far side.
                    let far = if descending {
                        &mut self.front
                    } else {
                        &mut self.back
                    };
                    let row = far.pop_back()?;
                    return Some(self.entry(row));
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl<'a, K: OrderedKey, V: Value + 'static> Iterator for Range<'a, K, V> {
    type Item = Result<Entry<'a, K, V>, KvError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Range::Redb(range) => Some(
                range
                    .next()?
                    .map(|(k, v)| (super::Guard::Redb(k), super::Guard::Redb(v)))
                    .map_err(KvError::from),
            ),
            Range::Pg(range) => range.step(false),
        }
    }
}

impl<K: OrderedKey, V: Value + 'static> DoubleEndedIterator for Range<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Range::Redb(range) => Some(
                range
                    .next_back()?
                    .map(|(k, v)| (super::Guard::Redb(k), super::Guard::Redb(v)))
                    .map_err(KvError::from),
            ),
            Range::Pg(range) => range.step(true),
        }
    }
}
