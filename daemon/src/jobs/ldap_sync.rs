//! Running LDAP syncs: one at a time (a second request waits for the first
//! and then runs), progress broadcast as `Event::LdapSyncProgress` (to the consoles of the
//! other replicas too, see `replica_notices`), the last
//! result kept for `LdapStatus`, and the schedule: at start-up when enabled,
//! then whenever the last sync is `ldap.sync_interval_minutes` old by the
//! daemon's `Clock`. The directory is read through `ldap::DirectorySource`;
//! what a snapshot changes is `idm::ldap_sync`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use latchkey_protocol::{Event, LdapStatusView, LdapSyncProgress, LdapSyncReport};
use time::OffsetDateTime;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::idm::ldap_sync::ApplyOptions;
use crate::idm::{Idm, IdmError};
use crate::ldap::{DirectoryError, DirectorySource, LdapSettings};

/// Why a sync did not happen or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("LDAP sync is disabled; turn it on with `latchkey config set ldap.enabled true`")]
    Disabled,
    /// Nothing was changed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Idm(#[from] IdmError),
    #[error("the sync stopped unexpectedly: {0}")]
    Internal(String),
}

#[derive(Debug, Default)]
struct State {
    running: bool,
    last_sync_at: Option<OffsetDateTime>,
    last_report: Option<LdapSyncReport>,
    last_error: Option<String>,
    /// When the last sync (of any trigger) ended, by the daemon's clock, for
    /// the schedule.
    last_finished: Option<OffsetDateTime>,
}

#[derive(Debug)]
struct Inner {
    idm: Idm,
    source: Arc<dyn DirectorySource>,
    events: broadcast::Sender<Event>,
    /// Held for a whole sync: syncs never overlap.
    gate: tokio::sync::Mutex<()>,
    state: Mutex<State>,
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
    ) -> LdapSync {
        LdapSync {
            inner: Arc::new(Inner {
                idm,
                source,
                events,
                gate: tokio::sync::Mutex::new(()),
                state: Mutex::new(State::default()),
                wake: Notify::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn announce(&self, phase: &str, done: u64, total: Option<u64>) {
        let progress = LdapSyncProgress {
            phase: phase.to_owned(),
            done,
            total,
        };
        publish_progress(&self.inner.idm, &self.inner.events, progress);
    }

    /// The status screen's view. Reads the settings: call from blocking code.
    pub fn status(&self) -> Result<LdapStatusView, IdmError> {
        let enabled = self.inner.idm.ldap_settings()?.enabled;
        let state = self.state();
        Ok(LdapStatusView {
            enabled,
            running: state.running,
            last_sync_at: state.last_sync_at,
            last_report: state.last_report.clone(),
            last_error: state.last_error.clone(),
        })
    }

    /// Runs one sync now (after any running one) and returns its report.
    /// `trigger` says who asked ("start-up", "schedule", an admin), for the
    /// audit log. A directory that cannot be read changes nothing.
    pub async fn run(&self, trigger: &str) -> Result<LdapSyncReport, SyncError> {
        let _turn = self.inner.gate.lock().await;
        let idm = self.inner.idm.clone();
        let settings = blocking(move || idm.ldap_settings()).await??;
        if !settings.enabled {
            return Err(SyncError::Disabled);
        }
        self.state().running = true;
        let result = self.run_locked(&settings, trigger).await;
        let now = self.inner.idm.clock().now();
        {
            let mut state = self.state();
            state.running = false;
            state.last_sync_at = Some(now);
            state.last_finished = Some(now);
            match &result {
                Ok(report) => {
                    state.last_report = Some(report.clone());
                    state.last_error = None;
                }
                Err(e) => state.last_error = Some(e.to_string()),
            }
        }
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
                    let last = self.state().last_finished;
                    let interval = settings.sync_interval_minutes;
                    if let Some(trigger) = due(first, last.unwrap_or(started), now, interval) {
                        // Errors are logged and kept for the status screen.
                        // Shutdown does not wait for a slow directory; a
                        // write transaction in flight still commits whole.
                        tokio::select! {
                            () = shutdown.cancelled() => break,
                            _ = self.run(trigger) => {}
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
