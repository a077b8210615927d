//! The reads of a PostgreSQL transaction as data: what a read transaction remembers it read
//! (one snapshot answers a question the same way every time), and what it may ask ahead,
//! several questions in one round trip, when the caller knows what it is about to read.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use super::KvError;
use super::pg_txn::{self, PgTxn, Row};
use super::pipeline::{Rows, Statement};
use super::postgres::{PgDatabase, PgError};

/// One question to a table (keys in their ordered encoding).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Lookup {
    /// The value under a key.
    Get { table: &'static str, key: Vec<u8> },
    /// Whether any of the keys is there.
    Any {
        table: &'static str,
        keys: Vec<Vec<u8>>,
    },
    /// At most `limit` entries between the bounds, from the bottom or (`descending`) the top.
    Range {
        table: &'static str,
        low: Bound<Vec<u8>>,
        high: Bound<Vec<u8>>,
        descending: bool,
        limit: i64,
    },
}

/// What a [`Lookup`] answered.
#[derive(Clone, Debug)]
pub enum Answer {
    Value(Option<Vec<u8>>),
    Any(bool),
    Rows(Vec<Row>),
}

/// What a read transaction has asked, and the answers.
pub type Memo = HashMap<Lookup, Answer>;

/// Reads a caller is about to make one by one, asked together: noted with the tables'
/// `ahead_*` methods, then [`ReadAhead::run`]. On redb, where a read is a lookup in memory,
/// nothing is noted and `run` does nothing.
///
/// On PostgreSQL the snapshot ends with the answers (see `PgTxn::read_ahead`): read ahead
/// everything that must come from one snapshot.
#[derive(Debug, Default)]
pub struct ReadAhead {
    txn: Option<Arc<Mutex<PgTxn>>>,
    lookups: Vec<Lookup>,
}

impl ReadAhead {
    pub(super) fn note(&mut self, txn: &Arc<Mutex<PgTxn>>, lookup: Lookup) {
        if self.txn.is_none() {
            self.txn = Some(Arc::clone(txn));
        }
        self.lookups.push(lookup);
    }

    /// Asks every read noted, in one round trip (see `PgTxn::read_ahead`).
    pub fn run(self) -> Result<(), KvError> {
        match self.txn {
            Some(txn) => pg_txn::lock(&txn)?.read_ahead(self.lookups),
            None => Ok(()),
        }
    }

    /// Writes `key → value` into `table` of `database` unless the key is there, in a
    /// transaction of its own, then asks every read noted, all in one round trip (see
    /// `PgTxn::insert_once_then_read_ahead`); whether it wrote.
    pub(super) fn run_after_insert_once(
        self,
        database: &PgDatabase,
        table: &str,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<bool, KvError> {
        match self.txn {
            Some(txn) => {
                pg_txn::lock(&txn)?.insert_once_then_read_ahead(table, key, value, self.lookups)
            }
            None => database.insert_once(table, key, value),
        }
    }
}

impl Lookup {
    /// The statement that answers it.
    pub(super) fn statement(&self) -> Statement {
        match self {
            Lookup::Get { table, key } => {
                Statement::new(format!("SELECT v FROM {table} WHERE k = $1")).bind(key.clone())
            }
            Lookup::Any { table, keys } => {
                Statement::new(format!("SELECT 1 FROM {table} WHERE k = ANY($1) LIMIT 1"))
                    .bind(keys.clone())
            }
            Lookup::Range {
                table,
                low,
                high,
                descending,
                limit,
            } => range_statement(table, low, high, *descending, *limit),
        }
    }

    /// Its answer, from the rows its statement returned.
    pub(super) fn answer(&self, rows: &Rows) -> Result<Answer, PgError> {
        Ok(match self {
            Lookup::Get { .. } => Answer::Value(match rows.first() {
                Some(row) => row.try_get(0)?,
                None => None,
            }),
            Lookup::Any { .. } => Answer::Any(!rows.is_empty()),
            Lookup::Range { .. } => Answer::Rows(
                rows.iter()
                    .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                    .collect::<Result<_, tokio_postgres::Error>>()?,
            ),
        })
    }
}

/// A lookup answered as another kind: the memo or the code that built the answer is wrong.
/// Refused rather than read as "absent", which for a revocation check would let a token
/// through.
fn mismatched(answer: &Answer) -> KvError {
    // The kind only: values may be sealed secrets or token records.
    let kind = match answer {
        Answer::Value(_) => "a value",
        Answer::Any(_) => "a presence",
        Answer::Rows(_) => "rows",
    };
    tracing::error!("a PostgreSQL lookup was answered with {kind}, of another kind");
    KvError::Corrupt {
        table: "(a lookup's answer)",
    }
}

impl Answer {
    pub(super) fn into_value(self) -> Result<Option<Vec<u8>>, KvError> {
        match self {
            Answer::Value(value) => Ok(value),
            other => Err(mismatched(&other)),
        }
    }

    pub(super) fn into_any(self) -> Result<bool, KvError> {
        match self {
            Answer::Any(any) => Ok(any),
            other => Err(mismatched(&other)),
        }
    }

    pub(super) fn into_rows(self) -> Result<Vec<Row>, KvError> {
        match self {
            Answer::Rows(rows) => Ok(rows),
            other => Err(mismatched(&other)),
        }
    }
}

fn range_statement(
    table: &str,
    low: &Bound<Vec<u8>>,
    high: &Bound<Vec<u8>>,
    descending: bool,
    limit: i64,
) -> Statement {
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
    bounds
        .into_iter()
        .fold(Statement::new(sql), Statement::bind)
        .bind(limit)
}
