//! Sending several statements of a transaction in one round trip.
//!
//! tokio-postgres pipelines on its own: a request goes out when its future is first polled,
//! and answers come back in order. What a transaction sends together (its BEGIN and the
//! write lock with its first statement; writes nobody waits for with the next read or the
//! COMMIT) is therefore polled in order here, so that it reaches PostgreSQL in that order.
//! An error aborts the transaction on the server, and every later statement in the pipeline
//! fails with it: nothing runs out of its transaction, and a COMMIT after a failure is
//! answered with a rollback (which the caller, seeing the earlier error, reports as one).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use deadpool_postgres::Object;
use futures_util::future::{MaybeDone, maybe_done};
use tokio_postgres::types::ToSql;

/// What a statement answered.
pub(super) type Rows = Vec<tokio_postgres::Row>;

/// One statement and its parameters, as data: so that it can travel with others, and be
/// sent again on a new connection when the pooled one turns out to be dead.
pub(super) struct Statement {
    sql: Cow<'static, str>,
    params: Vec<Box<dyn ToSql + Send + Sync>>,
    /// Sent as a simple query (no parameters, no answer rows): BEGIN, the lock, COMMIT.
    simple: bool,
}

impl Statement {
    pub(super) fn new(sql: impl Into<Cow<'static, str>>) -> Statement {
        Statement {
            sql: sql.into(),
            params: Vec::new(),
            simple: false,
        }
    }

    pub(super) fn simple(sql: &'static str) -> Statement {
        Statement {
            simple: true,
            ..Statement::new(sql)
        }
    }

    pub(super) fn bind(mut self, param: impl ToSql + Send + Sync + 'static) -> Statement {
        self.params.push(Box::new(param));
        self
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|param| &**param as &(dyn ToSql + Sync))
            .collect()
    }
}

/// Runs `statements` on `conn` in order, in one round trip (two when one of them is new to
/// this connection and must be prepared first): what each answered, or the first error.
pub(super) async fn run(
    conn: &Object,
    statements: &[Statement],
) -> Result<Vec<Rows>, tokio_postgres::Error> {
    // Prepared before anything is executed, so that preparing never sends a request between
    // two executions; one that cannot be prepared (a missing table, a dead connection) stops
    // them all before any runs.
    let mut prepared = Vec::with_capacity(statements.len());
    for statement in statements {
        prepared.push(if statement.simple {
            None
        } else {
            Some(conn.prepare_cached(&statement.sql).await?)
        });
    }
    type Answer<'a> =
        Pin<Box<dyn Future<Output = Result<Rows, tokio_postgres::Error>> + Send + 'a>>;
    let mut answers: Vec<MaybeDone<Answer<'_>>> = statements
        .iter()
        .zip(&prepared)
        .map(|(statement, prepared)| {
            let answer: Answer<'_> = match prepared {
                None => Box::pin(async move {
                    conn.batch_execute(&statement.sql)
                        .await
                        .map(|()| Vec::new())
                }),
                Some(prepared) => {
                    Box::pin(async move { conn.query(prepared, &statement.params()).await })
                }
            };
            maybe_done(answer)
        })
        .collect();
    // Polled in order every time, so that the first poll sends the requests in order.
    std::future::poll_fn(|cx| {
        let mut done = true;
        for answer in &mut answers {
            done &= Pin::new(answer).poll(cx).is_ready();
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    answers
        .iter_mut()
        .filter_map(|answer| Pin::new(answer).take_output())
        .collect()
}

/// Writes nobody waits for (`KvTable::put`): kept until the transaction's next statement or
/// its COMMIT, then sent as one upsert per table. A later put of the same key replaces an
/// earlier one.
#[derive(Debug, Default)]
pub(super) struct Puts {
    tables: Vec<(&'static str, KeyValues)>,
}

/// Encoded keys and their values, in key order.
type KeyValues = BTreeMap<Vec<u8>, Vec<u8>>;

impl Puts {
    pub(super) fn add(&mut self, table: &'static str, key: Vec<u8>, value: Vec<u8>) {
        match self.tables.iter_mut().find(|(name, _)| *name == table) {
            Some((_, rows)) => {
                rows.insert(key, value);
            }
            None => self.tables.push((table, BTreeMap::from([(key, value)]))),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The statements that write them all, in the order the tables were first written.
    pub(super) fn take(&mut self) -> Vec<Statement> {
        std::mem::take(&mut self.tables)
            .into_iter()
            .map(|(table, rows)| {
                let (keys, values): (Vec<Vec<u8>>, Vec<Vec<u8>>) = rows.into_iter().unzip();
                upsert_all(table).bind(keys).bind(values)
            })
            .collect()
    }
}

/// Writes every `$1[i] → $2[i]` into `table` in one statement.
pub(super) fn upsert_all(table: &str) -> Statement {
    Statement::new(format!(
        "INSERT INTO {table} (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
         ON CONFLICT (k) DO UPDATE SET v = excluded.v"
    ))
}
