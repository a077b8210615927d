//! Acting on what the other replicas changed, when several share one PostgreSQL database
//! (`store::notices`; on redb this job is not started).
//!
//! - Signing keys changed: reload them from the database (`Oidc::reload_signing_keys`), so
//!   this replica's JWKS publishes the new key and its tokens are signed with it.
//! - Audit events: every `AUDIT_POLL`, read the ones not yet announced and announce them to
//!   this replica's consoles, in order, once each, while a console follows the audit log
//!   (`Idm::follow_audit`; replicas do not notify audit events, see `store::notices`).
//! - LDAP sync progress and "users or groups changed": passed on to this replica's consoles
//!   as the socket events they were on the sender's.
//! - Catch up (the listener reconnected, or this job fell behind): all of the above that
//!   rereads, and one "changed" so that consoles reload their views. The job starts with the
//!   rereading, for whatever happened before it listened (no console had a view then).
//!
//! Notices that arrive together are handled together: a burst of rotations elsewhere costs
//! one reload of the keys.

use latchkey_protocol::Event;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::idm::replicas::{AUDIT_POLL, Notice, ReplicaNotices, ldap_progress_of};
use crate::idm::{Idm, IdmError, Oidc};

/// Notices taken in one go, at most (as many as wait at most, see `store::notices`).
const BURST: usize = 256;

/// What the notices taken so far ask for, beyond the events passed on at once.
#[derive(Debug, Default)]
struct Due {
    keys: bool,
    /// Look for the other replicas' audit events.
    audit: bool,
    /// Reread everything.
    catch_up: bool,
    /// Tell the consoles to reload their views.
    refresh: bool,
}

/// Acts on `notices` until `shutdown`.
pub async fn run(
    idm: Idm,
    oidc: Oidc,
    events: broadcast::Sender<Event>,
    mut notices: ReplicaNotices,
    shutdown: CancellationToken,
) {
    let mut due = Due {
        catch_up: true,
        ..Due::default()
    };
    let mut poll = tokio::time::interval(AUDIT_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        act(&idm, &oidc, &events, due).await;
        due = Due::default();
        let first = tokio::select! {
            () = shutdown.cancelled() => break,
            _ = poll.tick() => {
                due.audit = true;
                continue;
            }
            notice = notices.recv() => match notice {
                Some(notice) => notice,
                None => break,
            },
        };
        let waiting = std::iter::from_fn(|| notices.try_recv()).take(BURST);
        for notice in std::iter::once(first).chain(waiting) {
            match notice {
                Notice::KeysChanged => due.keys = true,
                Notice::CatchUp => {
                    due.catch_up = true;
                    due.refresh = true;
                }
                // Nobody listening is fine.
                Notice::DirectoryChanged => {
                    let _ = events.send(Event::DirectoryChanged);
                }
                Notice::LdapProgress(payload) => {
                    if let Some(progress) = ldap_progress_of(&payload) {
                        let _ = events.send(Event::LdapSyncProgress { progress });
                    }
                }
            }
        }
    }
}

/// Rereads what `due` asks for, on the blocking pool (the store blocks).
async fn act(idm: &Idm, oidc: &Oidc, events: &broadcast::Sender<Event>, due: Due) {
    if due.keys || due.catch_up {
        let oidc = oidc.clone();
        if let Err(e) = blocking(move || oidc.reload_signing_keys()).await {
            warn!("could not reload the signing keys another replica changed: {e}");
        }
    }
    if due.audit || due.catch_up {
        let idm = idm.clone();
        match blocking(move || idm.follow_audit()).await {
            Ok(()) => {}
            Err(e) if due.catch_up => {
                warn!("could not read the audit events of the other replicas: {e}");
            }
            // Twice a second while the database is away: the outage is reported elsewhere.
            Err(e) => debug!("could not read the audit events of the other replicas: {e}"),
        }
    }
    if due.refresh {
        let _ = events.send(Event::DirectoryChanged);
    }
}

/// Why rereading failed.
#[derive(Debug, thiserror::Error)]
enum ActError {
    #[error(transparent)]
    Idm(#[from] IdmError),
    #[error("the task stopped unexpectedly: {0}")]
    Task(#[from] tokio::task::JoinError),
}

async fn blocking(
    f: impl FnOnce() -> Result<(), IdmError> + Send + 'static,
) -> Result<(), ActError> {
    Ok(tokio::task::spawn_blocking(f).await??)
}
