//! `Digest`: what a database holds, table by table: how many rows, and a SHA-256 of its
//! entries in key order. It is how a copy is checked (`latchkeyd migrate` compares the
//! source's digest with the target's after the copy) and how an operator or a test tells two
//! databases apart without reading records.
//!
//! Cheap: one pass over every table on one read snapshot, nothing decoded. The same on both
//! backends: each key and value is hashed in redb's encoding (`Value::as_bytes`), which the
//! PostgreSQL backend keeps for values and restores for keys, and both walk a table in the
//! same order (`kv/ordered.rs`).

use redb::Value;
use sha2::{Digest as _, Sha256};

use super::kv::{OrderedKey, ReadableTable};
use super::tx::{Access, TableVisitor, Tables};
use super::{Store, StoreError};

/// One table's part of a [`Digest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDigest {
    /// The table's name in redb (`users_v1`; on PostgreSQL the table `kv_users_v1`).
    pub name: &'static str,
    pub rows: u64,
    /// SHA-256 over every entry in key order, each as the length of its key (8 bytes, little
    /// endian), the key, the length of its value, the value.
    pub sha256: [u8; 32],
}

/// Every table's [`TableDigest`], in the order the store declares its tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest {
    pub tables: Vec<TableDigest>,
}

impl Digest {
    /// Rows in all tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|table| table.rows).sum()
    }

    /// One SHA-256 for the whole database (over each table's name, rows and digest), in hex:
    /// two databases with the same contents have the same.
    pub fn sha256_hex(&self) -> String {
        let mut all = Sha256::new();
        for table in &self.tables {
            all.update((table.name.len() as u64).to_le_bytes());
            all.update(table.name.as_bytes());
            all.update(table.rows.to_le_bytes());
            all.update(table.sha256);
        }
        hex::encode(all.finalize())
    }

    /// The tables whose contents differ from `other`'s (a table only one of them has counts).
    pub fn differing_tables(&self, other: &Digest) -> Vec<&'static str> {
        let mut differ: Vec<&'static str> = self
            .tables
            .iter()
            .filter(|ours| !other.tables.contains(ours))
            .map(|ours| ours.name)
            .collect();
        differ.extend(
            other
                .tables
                .iter()
                .filter(|theirs| !self.tables.iter().any(|ours| ours.name == theirs.name))
                .map(|theirs| theirs.name),
        );
        differ
    }
}

/// Hashes one table's entries as they go by.
pub(super) struct TableHasher {
    sha256: Sha256,
    rows: u64,
}

impl TableHasher {
    pub(super) fn new() -> TableHasher {
        TableHasher {
            sha256: Sha256::new(),
            rows: 0,
        }
    }

    /// One entry, key and value in redb's encoding.
    pub(super) fn entry(&mut self, key: &[u8], value: &[u8]) {
        self.sha256.update((key.len() as u64).to_le_bytes());
        self.sha256.update(key);
        self.sha256.update((value.len() as u64).to_le_bytes());
        self.sha256.update(value);
        self.rows += 1;
    }

    pub(super) fn finish(self, name: &'static str) -> TableDigest {
        TableDigest {
            name,
            rows: self.rows,
            sha256: self.sha256.finalize().into(),
        }
    }
}

/// Reads every table into a [`Digest`].
struct Digester(Vec<TableDigest>);

impl TableVisitor for Digester {
    fn visit<K: OrderedKey, V: Value + 'static>(
        &mut self,
        name: &'static str,
        table: &impl ReadableTable<K, V>,
    ) -> Result<(), StoreError> {
        let mut hasher = TableHasher::new();
        for entry in table.iter().map_err(super::error::db("reading a table"))? {
            let (key, value) = entry.map_err(super::error::db("reading a table"))?;
            hasher.entry(
                K::as_bytes(&key.value()).as_ref(),
                V::as_bytes(&value.value()).as_ref(),
            );
        }
        self.0.push(hasher.finish(name));
        Ok(())
    }
}

impl<A: Access> Tables<A> {
    /// The [`Digest`] of everything this transaction sees.
    pub fn digest(&self) -> Result<Digest, StoreError> {
        let mut digester = Digester(Vec::new());
        self.t.each_table(&mut digester)?;
        Ok(Digest { tables: digester.0 })
    }
}

impl Store {
    /// The [`Digest`] of the database as it is now (one read snapshot).
    pub fn digest(&self) -> Result<Digest, StoreError> {
        self.read()?.digest()
    }
}
