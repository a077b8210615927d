//! The periodic sweep: removes what has expired, so the database does not
//! grow with dead records. Lookups ignore expired records anyway; this only
//! reclaims their space. It runs on the one replica that holds the
//! `expiry_sweep` lease (`jobs::lease`); the others only wait to take it over.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::lease::{LOOK_EVERY, LeaseKeeper};
use crate::idm::{Idm, IdmError, Job, Oidc, ReplicaId};

/// How often the sweep runs.
pub const INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Removes expired sessions and login codes, retired signing keys, audit
/// events past their retention and expired OIDC token entries, every
/// [`INTERVAL`] while this replica holds the lease (at once when it gets
/// it), until `shutdown`. The store blocks, so each sweep runs on the
/// blocking pool.
pub async fn run(idm: Idm, oidc: Oidc, replica: ReplicaId, shutdown: CancellationToken) {
    let mut lease = LeaseKeeper::new(idm.clone(), Job::ExpirySweep, replica);
    let mut last_sweep: Option<Instant> = None;
    loop {
        let due = last_sweep.is_none_or(|at| at.elapsed() >= INTERVAL);
        if !lease.hold().await {
            // Whoever holds it sweeps; when it comes back here, sweep at once.
            last_sweep = None;
        } else if due {
            last_sweep = Some(Instant::now());
            sweep_all(&idm, &oidc).await;
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(LOOK_EVERY) => {}
        }
    }
    lease.release().await;
}

/// One sweep of everything that expires.
async fn sweep_all(idm: &Idm, oidc: &Oidc) {
    let sessions = idm.clone();
    match sweep(move || sessions.sweep_expired()).await {
        Ok(0) => {}
        Ok(removed) => debug!("removed {removed} expired sessions and login codes"),
        Err(e) => warn!("sweeping expired sessions and login codes failed: {e}"),
    }
    let keys = oidc.clone();
    match sweep(move || keys.sweep_signing_keys()).await {
        Ok(0) => {}
        Ok(removed) => info!("retired {removed} previous signing keys"),
        Err(e) => warn!("retiring previous signing keys failed: {e}"),
    }
    let audit = idm.clone();
    match sweep(move || audit.sweep_audit_log()).await {
        Ok(0) => {}
        Ok(removed) => info!("deleted {removed} audit events past audit.retention_days"),
        Err(e) => warn!("deleting old audit events failed: {e}"),
    }
    let tokens = oidc.clone();
    match sweep(move || tokens.sweep_tokens()).await {
        Ok(0) => {}
        Ok(removed) => debug!("pruned {removed} expired OIDC token entries"),
        Err(e) => warn!("pruning expired OIDC tokens failed: {e}"),
    }
}

/// Why one sweep did not finish.
#[derive(Debug, thiserror::Error)]
enum SweepError {
    #[error(transparent)]
    Idm(#[from] IdmError),
    #[error("the sweep stopped unexpectedly: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Runs one sweep on the blocking pool; returns how many records went.
async fn sweep(
    f: impl FnOnce() -> Result<u64, IdmError> + Send + 'static,
) -> Result<u64, SweepError> {
    Ok(tokio::task::spawn_blocking(f).await??)
}
