//! Keeping a job's lease (`idm::leases`) from a job loop: ask when it is not
//! ours, renew it once a third of it has passed, give it up at a clean stop.
//! Between asks the keeper remembers until when the lease is ours, so a loop
//! may ask before every piece of work without a write each time.

use std::time::Duration;

use time::OffsetDateTime;
use tracing::{info, warn};

use crate::idm::leases::LEASE_SECS;
use crate::idm::{Idm, Job, Lease, ReplicaId};

/// How often a job loop that keeps a lease looks at least: to renew it
/// (well before its [`LEASE_SECS`] end), to take it over once its holder
/// has gone, and, for mail, to notice messages other replicas queued.
pub const LOOK_EVERY: Duration = Duration::from_secs(5);

/// A lease with less than this left is renewed at the next ask.
const RENEW_BELOW: time::Duration = time::Duration::seconds(LEASE_SECS * 2 / 3);

/// One job's lease, as this replica's loop for that job keeps it.
#[derive(Debug)]
pub struct LeaseKeeper {
    idm: Idm,
    job: Job,
    replica: ReplicaId,
    /// Until when the lease is ours, as of the last ask.
    ours_until: Option<OffsetDateTime>,
}

impl LeaseKeeper {
    pub fn new(idm: Idm, job: Job, replica: ReplicaId) -> LeaseKeeper {
        LeaseKeeper {
            idm,
            job,
            replica,
            ours_until: None,
        }
    }

    pub fn replica(&self) -> &ReplicaId {
        &self.replica
    }

    /// Whether the lease is ours now: asks the database (acquiring or
    /// renewing) unless it is ours for more than two thirds of its length
    /// yet. An error reading or writing the lease counts as not ours once
    /// the lease we had has ended by the clock.
    pub async fn hold(&mut self) -> bool {
        let now = self.idm.clock().now();
        if self
            .ours_until
            .is_some_and(|until| until - now > RENEW_BELOW)
        {
            return true;
        }
        let (idm, job, replica) = (self.idm.clone(), self.job, self.replica.clone());
        let asked = tokio::task::spawn_blocking(move || idm.acquire_lease(job, &replica)).await;
        let had = self.ours_until.is_some_and(|until| until > now);
        match asked {
            Ok(Ok(Lease::Ours { until })) => {
                if !had && self.idm.store().is_shared() {
                    info!("this replica runs {} now", self.job.name());
                }
                self.ours_until = Some(until);
            }
            Ok(Ok(Lease::Theirs { holder, .. })) => {
                if had {
                    warn!(
                        "replica {holder} took {} over; this one stops it",
                        self.job.name()
                    );
                }
                self.ours_until = None;
            }
            Ok(Err(e)) => warn!("cannot renew the {} lease: {e}", self.job.name()),
            Err(e) => warn!("cannot renew the {} lease: {e}", self.job.name()),
        }
        self.ours_until.is_some_and(|until| until > now)
    }

    /// Forgets that the lease is ours (the database said otherwise).
    pub fn lost(&mut self) {
        self.ours_until = None;
    }

    /// Gives the lease up if it is ours, so another replica takes the job
    /// over without waiting for it to end (a clean stop).
    pub async fn release(&mut self) {
        if self.ours_until.take().is_none() {
            return;
        }
        let (idm, job, replica) = (self.idm.clone(), self.job, self.replica.clone());
        match tokio::task::spawn_blocking(move || idm.release_lease(job, &replica)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!("cannot give up the {} lease: {e}", self.job.name()),
            Err(e) => warn!("cannot give up the {} lease: {e}", self.job.name()),
        }
    }
}
