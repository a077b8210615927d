//! The schema version and the named steps that bring an older file up to it.
//! Each step is idempotent and runs in its own write transaction together
//! with the version bump, so a crash between steps resumes cleanly.

use super::error::db;
use super::kv::ReadableTable;
use super::tx::{Access, Tables, WriteTx};
use super::{Store, StoreError};

/// The newest schema this binary understands.
pub const SCHEMA_VERSION: u64 = 7;

/// The key of the schema version in `META`.
pub(super) const VERSION_KEY: &str = "schema_version";

struct Migration {
    /// The schema version the database has after this step.
    version: u64,
    name: &'static str,
    apply: fn(&mut WriteTx<'_>) -> Result<(), StoreError>,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "create_tables",
        apply: create_tables,
    },
    // Creating every table creates the ones an older file lacks; existing
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
    // Clients gain a third record version (`require_par`); as for version 5, nothing is
    // rewritten, and an older latchkeyd refuses the file with advice instead of failing to
    // decode a client.
    Migration {
        version: 7,
        name: "client_record_version_3",
        apply: create_tables,
    },
];

/// Creates the tables a database lacks (tables added since it was made need no version
/// step), refuses a newer database, then applies every step it has not had yet. Each step
/// reads the version inside its own write transaction, so replicas of one PostgreSQL
/// database starting together apply each step once.
///
/// Returns the version the database had before (0: new), for `Store::opened_at_version`.
pub(super) fn run(store: &Store) -> Result<u64, StoreError> {
    store.write(|tx| tx.t.create_all())?;
    let before = store.read()?.schema_version()?;
    for step in MIGRATIONS {
        let applied = store.write(|tx| {
            let found = stored_version(tx)?;
            if found > SCHEMA_VERSION {
                return Err(StoreError::NewerSchema {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            if found >= step.version {
                return Ok(false);
            }
            (step.apply)(tx)?;
            set_version(tx, step.version)?;
            Ok(true)
        })?;
        if applied {
            tracing::info!(
                step = step.name,
                version = step.version,
                "migrated the database"
            );
        }
    }
    Ok(before)
}

/// 0 for a brand-new database.
fn stored_version(tx: &WriteTx<'_>) -> Result<u64, StoreError> {
    tx.schema_version()
}

impl<A: Access> Tables<A> {
    /// The schema version recorded in `META` (0 for a brand-new database). A store that is
    /// open has been brought to [`SCHEMA_VERSION`].
    pub fn schema_version(&self) -> Result<u64, StoreError> {
        let Some(bytes) = self
            .t
            .meta()?
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
}

pub(super) fn set_version(tx: &mut WriteTx<'_>, version: u64) -> Result<(), StoreError> {
    tx.t.meta_mut()?
        .insert(VERSION_KEY, version.to_le_bytes().as_slice())
        .map_err(db("writing the schema version"))?;
    Ok(())
}

/// Version 1: every table of the first schema. Versions 2 (OpenID Connect) and 3 (LDAP id
/// indexes) and later reuse it: creating every table leaves existing tables alone.
fn create_tables(tx: &mut WriteTx<'_>) -> Result<(), StoreError> {
    tx.t.create_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(store: &Store) -> u64 {
        store.write(|tx| stored_version(tx)).unwrap()
    }

    #[test]
    fn a_new_database_is_brought_to_the_current_version() {
        let store = Store::memory().unwrap();
        assert_eq!(version(&store), SCHEMA_VERSION);
    }

    #[test]
    fn running_twice_and_reapplying_steps_changes_nothing() {
        let store = Store::memory().unwrap();
        run(&store).unwrap();
        for step in MIGRATIONS {
            store.write(|tx| (step.apply)(tx)).unwrap();
        }
        assert_eq!(version(&store), SCHEMA_VERSION);
    }

    #[test]
    fn a_newer_database_is_refused_with_advice() {
        let store = Store::memory().unwrap();
        store
            .write(|tx| set_version(tx, SCHEMA_VERSION + 1))
            .unwrap();
        let err = run(&store).unwrap_err();
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
