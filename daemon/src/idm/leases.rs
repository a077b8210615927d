//! Leases on the jobs that must run on one replica at a time (mail
//! delivery, LDAP sync, the expiry sweep) when several replicas share one
//! PostgreSQL database. A lease names its holder (this process's
//! [`ReplicaId`]) and ends [`LEASE_SECS`] after it was last renewed, by the
//! daemon's `Clock`; another replica takes the job over once it has ended.
//! `jobs/` decides when to ask (`jobs/lease.rs`); this is the asking.
//!
//! On the embedded file only one process can open the database, so the
//! lease is always this process's: a holder recorded there is an earlier
//! run that did not stop cleanly. The same code runs on both backends, so
//! the single-node path is the one the replicas use, minus the waiting.

use rand::RngCore as _;
use time::OffsetDateTime;

use super::{Idm, IdmError, to_time};
use crate::store::LeaseGrant;

/// How long a lease lasts after each renewal. Holders renew well before
/// (`jobs::lease`), so only a replica that died or stalled lets one end.
pub const LEASE_SECS: i64 = 30;

/// This daemon process among the replicas: 16 random bytes as hex, made at
/// each start (a restarted replica is a new holder; its old leases end).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ReplicaId(String);

impl ReplicaId {
    pub fn random() -> ReplicaId {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        ReplicaId(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The jobs that run on one replica at a time.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Job {
    MailDelivery,
    LdapSync,
    ExpirySweep,
}

impl Job {
    /// The lease's key in `LEASES`.
    pub fn name(self) -> &'static str {
        match self {
            Job::MailDelivery => "mail_delivery",
            Job::LdapSync => "ldap_sync",
            Job::ExpirySweep => "expiry_sweep",
        }
    }
}

/// Who holds a job's lease after asking for it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Lease {
    /// This replica, until then.
    Ours { until: OffsetDateTime },
    /// Another replica, until then (unless it renews).
    Theirs {
        holder: String,
        until: OffsetDateTime,
    },
}

impl Idm {
    /// Whether only this process can open the database (the embedded file),
    /// so every lease is this process's.
    pub(crate) fn single_node(&self) -> bool {
        !self.store.is_shared()
    }

    /// Acquires or renews the lease on `job` for `replica`: granted when it
    /// is free, has ended, or is already ours, for [`LEASE_SECS`] from now.
    /// While another replica visibly holds it the answer comes from a read,
    /// so replicas that wait do not queue for the write lock.
    pub fn acquire_lease(&self, job: Job, replica: &ReplicaId) -> Result<Lease, IdmError> {
        let now = self.now();
        let exclusive = self.single_node();
        if !exclusive
            && let Some(current) = self.store.read()?.lease(job.name())?
            && current.holder != replica.as_str()
            && current.expires_at > now
        {
            return Ok(Lease::Theirs {
                holder: current.holder,
                until: to_time(current.expires_at)?,
            });
        }
        let expires_at = now.saturating_add(LEASE_SECS);
        let grant = self.store.write(|tx| {
            tx.acquire_lease(job.name(), replica.as_str(), now, expires_at, exclusive)
        })?;
        Ok(match grant {
            LeaseGrant::Granted { expires_at } => Lease::Ours {
                until: to_time(expires_at)?,
            },
            LeaseGrant::HeldBy { holder, expires_at } => Lease::Theirs {
                holder,
                until: to_time(expires_at)?,
            },
        })
    }

    /// Gives the lease on `job` up, if `replica` holds it (a clean stop, or
    /// the end of an LDAP sync), so another replica need not wait for it to end.
    pub fn release_lease(&self, job: Job, replica: &ReplicaId) -> Result<bool, IdmError> {
        Ok(self
            .store
            .write(|tx| tx.release_lease(job.name(), replica.as_str()))?)
    }

    /// The replica holding `job`'s lease now, if any (an ended lease is no one's).
    pub fn lease_holder(&self, job: Job) -> Result<Option<String>, IdmError> {
        let now = self.now();
        Ok(self
            .store
            .read()?
            .lease(job.name())?
            .filter(|lease| lease.expires_at > now)
            .map(|lease| lease.holder))
    }
}

/// Inside a write whose work belongs to `job`'s lease holder: refuses when
/// `replica` no longer holds it, so that work stops on a replica that lost
/// the lease (on a single node the lease is always ours).
pub(crate) fn ensure_lease(
    tx: &crate::store::WriteTx<'_>,
    job: Job,
    replica: &ReplicaId,
    now: i64,
    single_node: bool,
) -> Result<(), IdmError> {
    if single_node || tx.holds_lease(job.name(), replica.as_str(), now)? {
        Ok(())
    } else {
        Err(IdmError::LeaseLost { job: job.name() })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::macros::datetime;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::store::Store;

    fn idm() -> (Idm, ManualClock) {
        let clock = ManualClock::new(datetime!(2026-03-01 12:00 UTC));
        (
            Idm::new(Store::memory().unwrap(), Arc::new(clock.clone())),
            clock,
        )
    }

    #[test]
    fn a_lease_lasts_thirty_seconds_from_each_renewal() {
        let (idm, clock) = idm();
        let me = ReplicaId::random();
        let start = clock.now();
        let lease = idm.acquire_lease(Job::MailDelivery, &me).unwrap();
        assert_eq!(
            lease,
            Lease::Ours {
                until: start + time::Duration::seconds(30)
            }
        );
        assert_eq!(
            idm.lease_holder(Job::MailDelivery).unwrap().as_deref(),
            Some(me.as_str())
        );
        assert_eq!(idm.lease_holder(Job::LdapSync).unwrap(), None);
        clock.advance(time::Duration::seconds(20));
        let renewed = idm.acquire_lease(Job::MailDelivery, &me).unwrap();
        assert_eq!(
            renewed,
            Lease::Ours {
                until: start + time::Duration::seconds(50)
            }
        );
        clock.advance(time::Duration::seconds(30));
        assert_eq!(
            idm.lease_holder(Job::MailDelivery).unwrap(),
            None,
            "it ended"
        );
    }

    #[test]
    fn on_the_embedded_file_a_holder_left_by_an_earlier_run_is_taken_over_at_once() {
        let (idm, _clock) = idm();
        let crashed = ReplicaId::random();
        idm.acquire_lease(Job::ExpirySweep, &crashed).unwrap();
        let me = ReplicaId::random();
        assert_ne!(me, crashed);
        assert!(matches!(
            idm.acquire_lease(Job::ExpirySweep, &me).unwrap(),
            Lease::Ours { .. }
        ));
        assert_eq!(
            idm.lease_holder(Job::ExpirySweep).unwrap().as_deref(),
            Some(me.as_str())
        );
        // A release by the old holder changes nothing; ours frees the job.
        assert!(!idm.release_lease(Job::ExpirySweep, &crashed).unwrap());
        assert!(idm.release_lease(Job::ExpirySweep, &me).unwrap());
        assert_eq!(idm.lease_holder(Job::ExpirySweep).unwrap(), None);
    }

    #[test]
    fn replica_ids_are_random_hex() {
        let a = ReplicaId::random();
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, ReplicaId::random());
    }
}
