//! The schema version and the named steps that bring an older file up to it.
//! Each step is idempotent and runs in its own write transaction together
//! with the version bump, so a crash between steps resumes cleanly.

use redb::{Database, ReadableDatabase, TableError, WriteTransaction};

use super::StoreError;
use super::error::db;
use super::schema::META;
use super::tx::WriteTx;

/// The newest schema this binary understands.
pub const SCHEMA_VERSION: u64 = 6;

const VERSION_KEY: &str = "schema_version";

struct Migration {
    /// The schema version the file has after this step.
    version: u64,
    name: &'static str,
    apply: fn(&WriteTransaction) -> Result<(), StoreError>,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "create_tables",
        apply: create_tables,
    },
    // Opening every table creates the ones an older file lacks; existing
    // tables are untouched.
    Migration {
        version: 2,
        name: "create_oidc_tables",
        apply: create_tables,
    },
    Migration {
        version: 3,
        name: "ldap_id_indexes",
        apply: create_tables,
    },
    Migration {
        version: 4,
        name: "email_verified",
        apply: super::email_verified_step::apply,
    },
    // Sessions, clients, consents and refresh tokens gain a second record version (read
    // upgrades the old bytes, so nothing is rewritten here). The step exists so that an
    // older latchkeyd refuses the file with advice instead of failing to decode V2 records.
    Migration {
        version: 5,
        name: "oidc_record_versions_2",
        apply: create_tables,
    },
    // Secrets sealed at rest: signing keys become `SigningKeyV2` and write-only settings
    // `SettingValue::Sealed`, which older binaries cannot read; the version makes them refuse
    // the file with advice instead. The sealing itself needs the key, which the store never
    // sees: `idm` does it at start (`Idm::seal_secrets_at_rest`), idempotently.
    Migration {
        version: 6,
        name: "sealed_secrets",
        apply: create_tables,
    },
];

/// Refuses a newer file, then applies every step the file has not had yet.
pub(super) fn run(database: &Database) -> Result<(), StoreError> {
    let found = stored_version(database)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for step in MIGRATIONS.iter().filter(|m| m.version > found) {
        let txn = database.begin_write().map_err(db("starting a migration"))?;
        (step.apply)(&txn)?;
        set_version(&txn, step.version)?;
        txn.commit().map_err(db("committing a migration"))?;
        tracing::info!(
            step = step.name,
            version = step.version,
            "migrated the database"
        );
    }
    ensure_tables(database)
}

/// Creates tables added since a file was made (opening creates them), so a
/// feature that only adds tables needs no version step.
fn ensure_tables(database: &Database) -> Result<(), StoreError> {
    let txn = database.begin_write().map_err(db("creating new tables"))?;
    WriteTx::new(&txn).t.open_all()?;
    txn.commit().map_err(db("creating new tables"))?;
    Ok(())
}

/// 0 for a brand-new file.
fn stored_version(database: &Database) -> Result<u64, StoreError> {
    let txn = database
        .begin_read()
        .map_err(db("reading the schema version"))?;
    let meta = match txn.open_table(META) {
        Ok(meta) => meta,
        Err(TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(db("reading the schema version")(e)),
    };
    let Some(bytes) = meta
        .get(VERSION_KEY)
        .map_err(db("reading the schema version"))?
    else {
        return Ok(0);
    };
    let bytes: [u8; 8] = bytes.value().try_into().map_err(|_| {
        StoreError::Corrupt("the schema version is not an 8-byte number".to_owned())
    })?;
    Ok(u64::from_le_bytes(bytes))
}

pub(super) fn set_version(txn: &WriteTransaction, version: u64) -> Result<(), StoreError> {
    let mut meta = txn
        .open_table(META)
        .map_err(db("writing the schema version"))?;
    meta.insert(VERSION_KEY, version.to_le_bytes().as_slice())
        .map_err(db("writing the schema version"))?;
    Ok(())
}

/// Version 1: every table of the first schema (opening creates them).
/// Versions 2 (OpenID Connect) and 3 (LDAP id indexes) reuse it: opening
/// every table creates the new ones and leaves existing tables alone.
fn create_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(META).map_err(db("creating tables"))?;
    WriteTx::new(txn).t.open_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory_db() -> Database {
        redb::Builder::new()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .unwrap()
    }

    #[test]
    fn a_new_file_is_brought_to_the_current_version() {
        let db = memory_db();
        assert_eq!(stored_version(&db).unwrap(), 0);
        run(&db).unwrap();
        assert_eq!(stored_version(&db).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn running_twice_and_reapplying_steps_changes_nothing() {
        let db = memory_db();
        run(&db).unwrap();
        run(&db).unwrap();
        for step in MIGRATIONS {
            let txn = db.begin_write().unwrap();
            (step.apply)(&txn).unwrap();
            txn.commit().unwrap();
        }
        assert_eq!(stored_version(&db).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_newer_file_is_refused_with_advice() {
        let db = memory_db();
        run(&db).unwrap();
        let txn = db.begin_write().unwrap();
        set_version(&txn, SCHEMA_VERSION + 1).unwrap();
        txn.commit().unwrap();
        let err = run(&db).unwrap_err();
        assert!(matches!(err, StoreError::NewerSchema { found, supported }
            if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION));
        assert!(err.to_string().contains("upgrade latchkeyd"));
    }

    #[test]
    fn steps_are_in_order_and_end_at_the_current_version() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
        assert_eq!(MIGRATIONS.last().unwrap().version, SCHEMA_VERSION);
    }
}
