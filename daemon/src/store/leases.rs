//! Job leases: which replica runs a job that must run on one replica at a
//! time (`LEASES`: job name → holder and expiry). Acquiring is a read and a
//! write in one write transaction, and write transactions run one at a time
//! across replicas (redb's single writer; PostgreSQL's advisory lock), so two
//! replicas never both get a lease.

use super::kv::ReadableTable;

use super::StoreError;
use super::error::db;
use super::records::{LeaseRecord, decode, encode};
use super::tx::{Access, Tables, WriteTx};

/// What asking for a lease gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseGrant {
    /// Ours until `expires_at` (UTC seconds).
    Granted { expires_at: i64 },
    /// Another replica holds it until `expires_at`.
    HeldBy { holder: String, expires_at: i64 },
}

impl<A: Access> Tables<A> {
    /// The lease on `job`, whether or not it has expired.
    pub fn lease(&self, job: &str) -> Result<Option<LeaseRecord>, StoreError> {
        self.t
            .leases()?
            .get(job)
            .map_err(db("reading a job lease"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()
    }

    /// Every lease someone holds at `now`, as (job, lease): a running replica keeps at least
    /// the expiry sweep's, and a clean stop gives its leases up, so none means no replica is
    /// running on this database (or one was killed longer ago than a lease lasts).
    pub fn leases_in_force(&self, now: i64) -> Result<Vec<(String, LeaseRecord)>, StoreError> {
        let mut held = Vec::new();
        for entry in self.t.leases()?.iter().map_err(db("reading job leases"))? {
            let (job, lease) = entry.map_err(db("reading job leases"))?;
            let lease: LeaseRecord = decode(lease.value())?;
            if lease.expires_at > now {
                held.push((job.value().to_owned(), lease));
            }
        }
        Ok(held)
    }

    /// Whether `holder` holds the lease on `job` at `now`. A write whose work
    /// belongs to the lease holder checks this in its own transaction, so a
    /// replica that lost the lease cannot do that work any more.
    pub fn holds_lease(&self, job: &str, holder: &str, now: i64) -> Result<bool, StoreError> {
        Ok(self
            .lease(job)?
            .is_some_and(|lease| lease.holder == holder && lease.expires_at > now))
    }
}

impl WriteTx<'_> {
    /// Acquires or renews the lease on `job` for `holder` until `expires_at`.
    /// Granted when nobody holds it, when it expired at or before `now`, when
    /// `holder` already has it, or when `exclusive`: a database only one
    /// process can open (redb), where any other holder was an earlier run of
    /// this daemon that did not stop cleanly.
    pub fn acquire_lease(
        &mut self,
        job: &str,
        holder: &str,
        now: i64,
        expires_at: i64,
        exclusive: bool,
    ) -> Result<LeaseGrant, StoreError> {
        if let Some(current) = self.lease(job)?
            && current.holder != holder
            && current.expires_at > now
            && !exclusive
        {
            return Ok(LeaseGrant::HeldBy {
                holder: current.holder,
                expires_at: current.expires_at,
            });
        }
        let lease = LeaseRecord {
            holder: holder.to_owned(),
            expires_at,
        };
        self.t
            .leases_mut()?
            .insert(job, encode(&lease)?.as_slice())
            .map_err(db("writing a job lease"))?;
        Ok(LeaseGrant::Granted { expires_at })
    }

    /// Gives up the lease on `job` if `holder` has it (a clean stop hands
    /// the job over at once); returns whether it did.
    pub fn release_lease(&mut self, job: &str, holder: &str) -> Result<bool, StoreError> {
        if self.lease(job)?.is_none_or(|lease| lease.holder != holder) {
            return Ok(false);
        }
        self.t
            .leases_mut()?
            .remove(job)
            .map_err(db("removing a job lease"))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;

    fn acquire(store: &Store, holder: &str, now: i64) -> LeaseGrant {
        store
            .write(|tx| tx.acquire_lease("mail_delivery", holder, now, now + 30, false))
            .unwrap()
    }

    #[test]
    fn a_free_lease_is_granted_and_renewed_by_its_holder() {
        let store = Store::memory().unwrap();
        assert_eq!(
            acquire(&store, "a", 100),
            LeaseGrant::Granted { expires_at: 130 }
        );
        assert_eq!(
            acquire(&store, "a", 120),
            LeaseGrant::Granted { expires_at: 150 }
        );
        let tx = store.read().unwrap();
        assert!(tx.holds_lease("mail_delivery", "a", 149).unwrap());
        assert!(!tx.holds_lease("mail_delivery", "a", 150).unwrap());
        assert!(!tx.holds_lease("mail_delivery", "b", 140).unwrap());
        assert!(!tx.holds_lease("ldap_sync", "a", 140).unwrap());
    }

    #[test]
    fn another_replica_waits_until_the_lease_expires_then_takes_it_over() {
        let store = Store::memory().unwrap();
        acquire(&store, "a", 100);
        let held = LeaseGrant::HeldBy {
            holder: "a".into(),
            expires_at: 130,
        };
        assert_eq!(acquire(&store, "b", 129), held);
        assert_eq!(
            acquire(&store, "b", 130),
            LeaseGrant::Granted { expires_at: 160 }
        );
        // The old holder, back from a pause, finds it gone.
        let held_by_b = LeaseGrant::HeldBy {
            holder: "b".into(),
            expires_at: 160,
        };
        assert_eq!(acquire(&store, "a", 131), held_by_b);
        assert!(
            !store
                .read()
                .unwrap()
                .holds_lease("mail_delivery", "a", 131)
                .unwrap()
        );
    }

    #[test]
    fn only_the_holder_releases_and_a_released_lease_is_free_at_once() {
        let store = Store::memory().unwrap();
        acquire(&store, "a", 100);
        assert!(
            !store
                .write(|tx| tx.release_lease("mail_delivery", "b"))
                .unwrap()
        );
        assert!(matches!(
            acquire(&store, "b", 101),
            LeaseGrant::HeldBy { .. }
        ));
        assert!(
            store
                .write(|tx| tx.release_lease("mail_delivery", "a"))
                .unwrap()
        );
        assert_eq!(
            acquire(&store, "b", 101),
            LeaseGrant::Granted { expires_at: 131 }
        );
    }

    #[test]
    fn an_exclusive_database_grants_over_a_stale_holder() {
        let store = Store::memory().unwrap();
        acquire(&store, "before-a-crash", 100);
        let grant = store
            .write(|tx| tx.acquire_lease("mail_delivery", "now", 101, 131, true))
            .unwrap();
        assert_eq!(grant, LeaseGrant::Granted { expires_at: 131 });
    }
}
