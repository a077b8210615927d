//! Running LDAP syncs: one at a time (a second request on this replica waits
//! for the first and then runs), progress broadcast as
//! `Event::LdapSyncProgress` (to the consoles of the other replicas too, see
//! `replica_notices`), the last result kept in the database for
//! `LdapStatus` (`idm::ldap_sync_state`, so every replica shows it), and the
//! schedule: at start-up when enabled, then whenever the last sync (by any
//! replica) is `ldap.sync_interval_minutes` old by the daemon's `Clock`. The
//! directory is read through `ldap::DirectorySource`; what a snapshot changes
//! is `idm::ldap_sync`.
//!
//! Across replicas a sync holds the `ldap_sync` lease for as long as it runs
//! (renewed meanwhile, given up at the end), and each of its write
//! transactions checks it, so two replicas never sync at once. A sync asked
//! for on a replica while another one syncs is refused with
//! [`SyncError::Elsewhere`]; a scheduled one is skipped, as is one whose turn
//! another replica took since it was found due.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use latchkey_protocol::{Event, LdapStatusView, LdapSyncProgress, LdapSyncReport};
use time::OffsetDateTime;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::lease::{LOOK_EVERY, LeaseKeeper};
use crate::idm::ldap_sync::ApplyOptions;
use crate::idm::{Idm, IdmError, Job, ReplicaId};
use crate::ldap::{DirectoryError, DirectorySource, LdapSettings};

/// Why a sync did not happen or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("LDAP sync is disabled; turn it on with `latchkey config set ldap.enabled true`")]
    Disabled,
    /// Another replica is syncing (or just synced): this one did nothing.
    #[error(
        "another replica ({holder}) is running an LDAP sync now; `latchkey ldap status` shows \
         its result when it ends"
    )]
    Elsewhere { holder: String },
    /// Nothing was changed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Idm(#[from] IdmError),
    #[error("the sync stopped unexpectedly: {0}")]
    Internal(String),
}

#[derive(Debug)]
struct Inner {
    idm: Idm,
    source: Arc<dyn DirectorySource>,
    events: broadcast::Sender<Event>,
    /// This process, the holder of the `ldap_sync` lease while it syncs.
    replica: ReplicaId,
    /// Held for a whole sync: syncs on this replica never overlap (the lease
    /// keeps other replicas out).
    gate: tokio::sync::Mutex<()>,
    /// Whether this replica is syncing now.
    running: AtomicBool,
    /// Makes the schedule look at the clock and the settings now.
    wake: Notify,
}

/// The sync runner; cheap to clone.
#[derive(Debug, Clone)]
pub struct LdapSync {
    inner: Arc<Inner>,
}

/// How often the schedule looks at the settings and the clock (so enabling
/// LDAP or changing the interval takes effect without a restart, and a clock
/// that jumps is noticed).
const SCHEDULE_CHECK: Duration = Duration::from_secs(30);

impl LdapSync {
    pub fn new(
        idm: Idm,
        source: Arc<dyn DirectorySource>,
        events: broadcast::Sender<Event>,
        replica: ReplicaId,
    ) -> LdapSync {
        LdapSync {
            inner: Arc::new(Inner {
                idm,
                source,
                events,
                replica,
                gate: tokio::sync::Mutex::new(()),
                running: AtomicBool::new(false),
                wake: Notify::new(),
            }),
        }
    }

    fn announce(&self, phase: &str, done: u64, total: Option<u64>) {
        let progress = LdapSyncProgress {
            phase: phase.to_owned(),
            done,
            total,
        };
        publish_progress(&self.inner.idm, &self.inner.events, progress);
    }

    /// The status screen's view: the last sync whichever replica ran it, and
    /// whether any replica is syncing now. Reads the store: call from
    /// blocking code.
    pub fn status(&self) -> Result<LdapStatusView, IdmError> {
        let idm = &self.inner.idm;
        let enabled = idm.ldap_settings()?.enabled;
        let last = idm.ldap_sync_state()?;
        let running =
            self.inner.running.load(Ordering::SeqCst) || idm.lease_holder(Job::LdapSync)?.is_some();
        Ok(LdapStatusView {
            enabled,
            running,
            last_sync_at: last.finished_at,
            last_report: last.report,
            last_error: last.error,
        })
    }

    /// Runs one sync now (after any running one on this replica) and returns
    /// its report. `trigger` says who asked ("start-up", "schedule", an
    /// admin), for the audit log. A directory that cannot be read changes
    /// nothing. Refused with [`SyncError::Elsewhere`] while another replica
    /// syncs.
    pub async fn run(&self, trigger: &str) -> Result<LdapSyncReport, SyncError> {
        self.run_unless_done(trigger, None).await
    }

    /// [`LdapSync::run`]; with `seen_last`, only if the last sync is still
    /// the one that was seen when this one was found due (else another
    /// replica has just synced, and this one is skipped as `Elsewhere`).
    async fn run_unless_done(
        &self,
        trigger: &str,
        seen_last: Option<Option<OffsetDateTime>>,
    ) -> Result<LdapSyncReport, SyncError> {
        let _turn = self.inner.gate.lock().await;
        let idm = self.inner.idm.clone();
        let settings = blocking(move || idm.ldap_settings()).await??;
        if !settings.enabled {
            return Err(SyncError::Disabled);
        }
        let mut lease = LeaseKeeper::new(
            self.inner.idm.clone(),
            Job::LdapSync,
            self.inner.replica.clone(),
        );
        if !lease.hold().await {
            let idm = self.inner.idm.clone();
            let holder = blocking(move || idm.lease_holder(Job::LdapSync)).await??;
            let holder = holder.unwrap_or_else(|| "unknown".to_owned());
            return Err(SyncError::Elsewhere { holder });
        }
        if let Some(seen) = seen_last {
            let idm = self.inner.idm.clone();
            let last = blocking(move || idm.ldap_sync_state()).await?;
            if last.map(|state| state.finished_at).ok() != Some(seen) {
                lease.release().await;
                let holder = "it synced just now".to_owned();
                return Err(SyncError::Elsewhere { holder });
            }
        }
        self.inner.running.store(true, Ordering::SeqCst);
        let started = std::time::Instant::now();
        // The lease is renewed while the sync runs; a renewal that finds it
        // taken over leaves the sync's next commit refused (`LeaseLost`).
        let renew = async {
            loop {
                tokio::time::sleep(LOOK_EVERY).await;
                lease.hold().await;
            }
        };
        let result = tokio::select! {
            result = self.run_locked(&settings, trigger) => result,
            () = renew => Err(SyncError::Internal("the lease renewal stopped".to_owned())),
        };
        self.inner.running.store(false, Ordering::SeqCst);
        if crate::metrics::on() {
            let outcome = if result.is_ok() { "success" } else { "failure" };
            ::metrics::histogram!("latchkey_ldap_sync_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            ::metrics::counter!("latchkey_ldap_syncs_total", "outcome" => outcome).increment(1);
        }
        let (idm, replica) = (self.inner.idm.clone(), self.inner.replica.clone());
        let message = result.as_ref().err().map(ToString::to_string);
        let report = result.as_ref().ok().cloned();
        let recorded = blocking(move || {
            let outcome = match (&report, &message) {
                (Some(report), _) => Ok(report),
                (None, message) => Err(message.as_deref().unwrap_or_default()),
            };
            idm.record_ldap_sync_outcome(&replica, outcome)
        })
        .await;
        match recorded {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!("could not record the LDAP sync's outcome: {e}"),
            Err(e) => warn!("could not record the LDAP sync's outcome: {e}"),
        }
        lease.release().await;
        match &result {
            Ok(report) => info!(
                "LDAP sync ({trigger}): {} created, {} updated, {} enabled, {} disabled, {} deleted, {} skipped",
                report.created,
                report.updated,
                report.enabled,
                report.disabled,
                report.deleted,
                report.skipped.len()
            ),
            Err(e) => warn!("LDAP sync ({trigger}) failed: {e}"),
        }
        result
    }

    async fn run_locked(
        &self,
        settings: &LdapSettings,
        trigger: &str,
    ) -> Result<LdapSyncReport, SyncError> {
        let (idm, events) = (self.inner.idm.clone(), self.inner.events.clone());
        let progress = move |progress: LdapSyncProgress| {
            publish_progress(&idm, &events, progress);
        };
        let snapshot = match self.inner.source.read(settings, &progress).await {
            Ok(snapshot) => snapshot,
            Err(e) => {
                let idm = self.inner.idm.clone();
                let (trigger, message) = (trigger.to_owned(), e.to_string());
                // The failure is worth an audit line; failing to write it
                // must not hide the directory's error.
                match blocking(move || idm.record_ldap_sync_failure(&trigger, &message)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(write)) => warn!("could not record the failed LDAP sync: {write}"),
                    Err(join) => warn!("could not record the failed LDAP sync: {join}"),
                }
                self.announce("failed", 0, None);
                return Err(e.into());
            }
        };
        let options = ApplyOptions {
            on_removed: settings.on_removed,
            admin_group: settings.admin_group.clone(),
            trigger: trigger.to_owned(),
            holder: Some(self.inner.replica.clone()),
        };
        let idm = self.inner.idm.clone();
        let events = self.inner.events.clone();
        let report = blocking(move || {
            let mut progress = |done: u64, total: u64| {
                let progress = LdapSyncProgress {
                    phase: "applying".to_owned(),
                    done,
                    total: Some(total),
                };
                publish_progress(&idm, &events, progress);
            };
            idm.apply_ldap_snapshot(&snapshot, &options, &mut progress)
        })
        .await??;
        let changes = report.created
            + report.updated
            + report.enabled
            + report.disabled
            + report.deleted
            + report.groups_created
            + report.groups_updated
            + report.groups_deleted;
        self.announce("done", changes, Some(changes));
        if changes > 0 {
            let _ = self.inner.events.send(Event::DirectoryChanged);
            self.inner.idm.tell_replicas_directory_changed();
        }
        Ok(report)
    }

    /// Makes the schedule look now (tests call this after moving the clock).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Syncs at start-up when enabled, then whenever the last sync is
    /// `ldap.sync_interval_minutes` old, until `shutdown`. It looks every
    /// [`SCHEDULE_CHECK`] and whenever [`LdapSync::wake`] is called; time is
    /// the daemon's `Clock`.
    pub async fn schedule(self, shutdown: CancellationToken) {
        let started = self.inner.idm.clock().now();
        let mut first = true;
        loop {
            let idm = self.inner.idm.clone();
            match blocking(move || idm.ldap_settings()).await {
                Ok(Ok(settings)) if settings.enabled => {
                    let now = self.inner.idm.clock().now();
                    let idm = self.inner.idm.clone();
                    let last = match blocking(move || idm.ldap_sync_state()).await {
                        Ok(Ok(state)) => state.finished_at,
                        Ok(Err(e)) => {
                            warn!("cannot read the last LDAP sync: {e}");
                            Some(now)
                        }
                        Err(e) => {
                            warn!("cannot read the last LDAP sync: {e}");
                            Some(now)
                        }
                    };
                    let interval = settings.sync_interval_minutes;
                    if let Some(trigger) = due(first, last.unwrap_or(started), now, interval) {
                        // Errors are logged and kept for the status screen.
                        // Shutdown does not wait for a slow directory; a
                        // write transaction in flight still commits whole.
                        tokio::select! {
                            () = shutdown.cancelled() => break,
                            result = self.run_unless_done(trigger, Some(last)) => {
                                if let Err(SyncError::Elsewhere { holder }) = result {
                                    debug!("LDAP sync ({trigger}) left to another replica ({holder})");
                                }
                            }
                        }
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => warn!("cannot read the LDAP settings: {e}"),
                Err(e) => warn!("cannot read the LDAP settings: {e}"),
            }
            first = false;
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(SCHEDULE_CHECK) => {}
            }
        }
    }
}

/// Whether the schedule syncs now, and as what: at its first look
/// (`start-up`), or once `interval_minutes` have passed since `last` (the end
/// of the last sync, or the start of the schedule when none ran).
fn due(
    first: bool,
    last: OffsetDateTime,
    now: OffsetDateTime,
    interval_minutes: u32,
) -> Option<&'static str> {
    if first {
        Some("start-up")
    } else if now - last >= time::Duration::minutes(i64::from(interval_minutes)) {
        Some("schedule")
    } else {
        None
    }
}

/// Shows `progress` on this replica's consoles and the other replicas'.
fn publish_progress(idm: &Idm, events: &broadcast::Sender<Event>, progress: LdapSyncProgress) {
    idm.tell_replicas_ldap_progress(&progress);
    // Nobody listening is fine.
    let _ = events.send(Event::LdapSyncProgress { progress });
}

/// The store blocks (fsync), so idm calls run on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SyncError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SyncError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_schedule_syncs_at_start_up_then_once_the_interval_has_passed() {
        let last = datetime!(2026-01-01 10:00 UTC);
        assert_eq!(due(true, last, last, 60), Some("start-up"));
        assert_eq!(due(false, last, last, 60), None);
        let early = last + time::Duration::minutes(59);
        assert_eq!(due(false, last, early, 60), None);
        let on_time = last + time::Duration::minutes(60);
        assert_eq!(due(false, last, on_time, 60), Some("schedule"));
        // A clock set back does not sync over and over.
        let earlier = last - time::Duration::hours(5);
        assert_eq!(due(false, last, earlier, 60), None);
    }
}
