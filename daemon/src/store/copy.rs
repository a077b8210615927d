//! Copying a whole database into an empty one, table by table, entry by entry, in redb's
//! encoding: how a deployment moves between the embedded file and PostgreSQL (`latchkeyd
//! migrate`, `crate::migrate`).
//!
//! Decisions:
//! - Verbatim: every table of the `tables!` list (META included: the schema version and the
//!   id of the key that sealed the secrets), no record decoded or rewritten, so the copy is
//!   the same database and the same encryption key opens it.
//! - Into an empty target only, checked inside the copy's own write transaction, so nothing
//!   is ever merged into or written over. "Empty" is what opening a new database leaves: no
//!   row anywhere except the schema version in META.
//! - One write transaction on the target: a failure (or a refusal) leaves it as empty as it was.
//! - The source is one read snapshot, so the copy is consistent even if something wrote
//!   meanwhile (it would miss those writes: stop the daemons first).
//! - Both sides at the same schema version (opening each brings it up to this binary's).

use redb::{TableHandle as _, Value};

use super::StoreError;
use super::digest::{Digest, TableDigest, TableHasher};
use super::error::db;
use super::kv::{KvTable, OrderedKey, ReadableTable};
use super::migrations::VERSION_KEY;
use super::schema;
use super::tx::{Access, ReadTx, TableCopier, TableVisitor, Tables, WriteTx};

/// Entries written per statement on PostgreSQL.
const BATCH: usize = 512;

/// Why a copy did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the target database is not empty (table {table} holds {rows} {}): latchkeyd migrate \
         copies into an empty database only, so that nothing is merged or overwritten. Give it a \
         new data directory or a freshly created PostgreSQL database",
        if *rows == 1 { "row" } else { "rows" }
    )]
    TargetNotEmpty { table: &'static str, rows: u64 },
    #[error(
        "the source is at schema version {from} and the target at {to}: both must be at the \
         same version"
    )]
    SchemaMismatch { from: u64, to: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Copies every table of `from` into `to`, which must be empty. Returns the digest of what
/// was copied (of the source snapshot), to compare with the target's once committed.
pub fn copy_all(from: &ReadTx, to: &mut WriteTx<'_>) -> Result<Digest, CopyError> {
    let (source, target) = (from.schema_version()?, to.schema_version()?);
    if source != target {
        return Err(CopyError::SchemaMismatch {
            from: source,
            to: target,
        });
    }
    if let Some((table, rows)) = to.first_non_empty_table()? {
        return Err(CopyError::TargetNotEmpty { table, rows });
    }
    let mut copier = Copier(Vec::new());
    to.t.each_table_from(&from.t, &mut copier)?;
    Ok(Digest { tables: copier.0 })
}

impl<A: Access> Tables<A> {
    /// The first table holding a row (and how many), or `None` for an empty database: one
    /// as a new database is after opening, with nothing but its schema version in META.
    pub fn first_non_empty_table(&self) -> Result<Option<(&'static str, u64)>, StoreError> {
        let mut finder = NonEmpty(None);
        self.t.each_table(&mut finder)?;
        Ok(finder.0)
    }

    /// Whether the database holds nothing but its schema version (see
    /// [`first_non_empty_table`](Self::first_non_empty_table)).
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.first_non_empty_table()?.is_none())
    }
}

struct NonEmpty(Option<(&'static str, u64)>);

impl TableVisitor for NonEmpty {
    fn visit<K: OrderedKey, V: Value + 'static>(
        &mut self,
        name: &'static str,
        table: &impl ReadableTable<K, V>,
    ) -> Result<(), StoreError> {
        if self.0.is_some() {
            return Ok(());
        }
        let rows = if name == schema::META.name() {
            let mut rows = 0;
            for entry in table.iter().map_err(db("reading the metadata"))? {
                let (key, _) = entry.map_err(db("reading the metadata"))?;
                if K::as_bytes(&key.value()).as_ref() != VERSION_KEY.as_bytes() {
                    rows += 1;
                }
            }
            rows
        } else {
            table.len().map_err(db("counting a table's rows"))?
        };
        if rows > 0 {
            self.0 = Some((name, rows));
        }
        Ok(())
    }
}

/// Copies each table, hashing what it copies.
struct Copier(Vec<TableDigest>);

impl TableCopier for Copier {
    fn copy<K: OrderedKey, V: Value + 'static>(
        &mut self,
        name: &'static str,
        from: &KvTable<'static, K, V>,
        to: &mut KvTable<'_, K, V>,
    ) -> Result<(), StoreError> {
        let mut hasher = TableHasher::new();
        let mut batch = Vec::with_capacity(BATCH);
        for entry in from.iter().map_err(db("reading a table to copy"))? {
            let (key, value) = entry.map_err(db("reading a table to copy"))?;
            let key = K::as_bytes(&key.value()).as_ref().to_vec();
            let value = V::as_bytes(&value.value()).as_ref().to_vec();
            hasher.entry(&key, &value);
            batch.push((key, value));
            if batch.len() == BATCH {
                to.insert_encoded(&batch)
                    .map_err(db("writing a copied table"))?;
                batch.clear();
            }
        }
        to.insert_encoded(&batch)
            .map_err(db("writing a copied table"))?;
        self.0.push(hasher.finish(name));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::records::{AuditRecord, RecordSource, UserId, UserRecord, WebauthnHandle};
    use super::super::{SCHEMA_VERSION, Store};
    use super::*;

    fn alice() -> UserRecord {
        UserRecord {
            id: UserId::random(),
            username: "alice".to_owned(),
            email: Some("alice@example.com".to_owned()),
            first_name: String::new(),
            last_name: String::new(),
            display_name: "Alice".to_owned(),
            is_admin: true,
            disabled: false,
            source: RecordSource::Local,
            webauthn_handle: WebauthnHandle(rand::random()),
            created_at: 0,
            updated_at: 0,
            email_verified: true,
        }
    }

    /// A store with a user (and so its indexes), audit events and a key id in META.
    fn with_data() -> (Store, UserRecord) {
        let store = Store::memory().unwrap();
        let alice = alice();
        store
            .write(|tx| {
                tx.put_user(&alice)?;
                tx.set_encryption_key_id(*b"key id 8")?;
                for _ in 0..3 {
                    tx.append_audit(&AuditRecord {
                        subject_user: Some(alice.id),
                        ..AuditRecord::named("user_created")
                    })?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        (store, alice)
    }

    fn copy(from: &Store, to: &Store) -> Result<Digest, CopyError> {
        let snapshot = from.read().unwrap();
        to.write(|tx| copy_all(&snapshot, tx))
    }

    #[test]
    fn a_copy_holds_exactly_what_the_source_held() {
        let (source, alice) = with_data();
        let target = Store::memory().unwrap();
        assert!(target.read().unwrap().is_empty().unwrap());
        assert!(!source.read().unwrap().is_empty().unwrap());

        let copied = copy(&source, &target).unwrap();

        assert_eq!(copied, source.digest().unwrap());
        assert_eq!(target.digest().unwrap(), copied);
        assert_eq!(
            copied.differing_tables(&target.digest().unwrap()),
            Vec::<&str>::new()
        );
        let rows = |name: &str| {
            copied
                .tables
                .iter()
                .find(|table| table.name == name)
                .map(|table| table.rows)
        };
        assert_eq!(rows("users_v1"), Some(1));
        assert_eq!(rows("audit_log_v1"), Some(3));
        assert_eq!(rows("meta"), Some(2), "the schema version and the key id");
        let tx = target.read().unwrap();
        assert_eq!(tx.user_id_by_username("ALICE").unwrap(), Some(alice.id));
        assert_eq!(tx.user(alice.id).unwrap(), Some(alice));
        assert_eq!(tx.encryption_key_id().unwrap(), Some(*b"key id 8"));
        assert_eq!(tx.schema_version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_target_with_any_row_is_refused_and_left_as_it_was() {
        let (source, _) = with_data();
        let (target, _) = with_data();
        let before = target.digest().unwrap();
        let err = copy(&source, &target).unwrap_err();
        assert!(
            matches!(
                err,
                CopyError::TargetNotEmpty {
                    table: "meta",
                    rows: 1
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("copies into an empty database only")
        );
        assert_eq!(target.digest().unwrap(), before);

        // A row in any table counts, not only in META.
        let target = Store::memory().unwrap();
        target.write(|tx| tx.put_user(&alice())).unwrap();
        let err = copy(&source, &target).unwrap_err();
        assert!(
            matches!(
                err,
                CopyError::TargetNotEmpty {
                    table: "users_v1",
                    rows: 1
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn different_schema_versions_are_refused() {
        let (source, _) = with_data();
        let target = Store::memory().unwrap();
        target
            .write(|tx| super::super::migrations::set_version(tx, SCHEMA_VERSION - 1))
            .unwrap();
        let err = copy(&source, &target).unwrap_err();
        assert!(matches!(err, CopyError::SchemaMismatch { .. }), "{err:?}");
        assert!(target.read().unwrap().is_empty().unwrap());
    }

    #[test]
    fn the_digest_tells_databases_apart() {
        let (one, _) = with_data();
        let (two, _) = with_data();
        let (a, b) = (one.digest().unwrap(), two.digest().unwrap());
        assert_eq!(a.rows(), b.rows());
        assert_ne!(a.sha256_hex(), b.sha256_hex());
        let differ = a.differing_tables(&b);
        assert!(
            differ.contains(&"users_v1") && differ.contains(&"audit_log_v1"),
            "{differ:?}"
        );
        assert!(!differ.contains(&"groups_v1"), "{differ:?}");
    }
}
