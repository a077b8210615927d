//! What ending a browser session does to the OIDC grants made in it. Each refresh-token
//! family records the session it was issued in (`sid`); when that session ends by sign-out
//! or an admin's revocation, its families end too, and the access tokens of its grants fail
//! their check (`s:<sid>` in `REVOKED_GRANTS`). When every session of a user ends (sign out
//! everywhere, disabling or deleting the user), every grant of the user ends: each client's
//! (user, client) epoch moves on, which ends stored and unstored grants alike, and every
//! refresh token goes. A session that merely expires ends nothing: `offline_access` is meant
//! to outlive it.
//!
//! These run inside the caller's write transaction, so the session change and the grants
//! it ends commit together, with an `oidc_refresh_tokens_revoked` audit event when any
//! family ended.

use super::grants::session_selector;
use super::lifetimes::ACCESS_TOKEN_SECS_RANGE;
use crate::idm::audit::{self, Subject, detail};
use crate::idm::{Actor, IdmError, UserId};
use crate::store::WriteTx;

/// The longest any access token lives: a revocation entry must outlast them all.
fn access_horizon(now: i64) -> i64 {
    now.saturating_add(i64::try_from(ACCESS_TOKEN_SECS_RANGE.1).unwrap_or(i64::MAX))
}

fn record(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    (user_id, username): (UserId, &str),
    reason: &str,
    session: Option<&str>,
    families: u32,
) -> Result<(), IdmError> {
    if families == 0 {
        return Ok(());
    }
    let mut details = vec![detail("reason", reason)];
    if let Some(sid) = session {
        details.push(detail("session", sid));
    }
    details.push(detail("families", families.to_string()));
    let subject = Subject::linked(username, user_id);
    audit::append(
        tx,
        now,
        actor,
        "oidc_refresh_tokens_revoked",
        Some(subject),
        details,
    )?;
    Ok(())
}

/// Ends the grants made in browser session `sid` of the user; returns how many refresh-token
/// families ended. `reason` (`signed_out`, `session_revoked`) goes in the audit event.
pub(crate) fn end_session_families(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    user: (UserId, &str),
    sid: &str,
    reason: &str,
) -> Result<u32, IdmError> {
    tx.revoke_grant(&session_selector(sid), access_horizon(now))?;
    let families =
        tx.remove_user_refresh_tokens_where(user.0, |t| t.sid.as_deref() == Some(sid))?;
    record(tx, now, actor, user, reason, Some(sid), families)?;
    Ok(families)
}

/// Ends every grant of the user, whichever session it was made in; returns how many
/// refresh-token families ended. `reason` (`signed_out_everywhere`, `user_disabled`,
/// `user_deleted`) goes in the audit event.
pub(crate) fn end_user_families(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    user: (UserId, &str),
    reason: &str,
) -> Result<u32, IdmError> {
    // Every client the user holds a grant with has a consent (implied ones included) or a
    // refresh token.
    let mut clients: Vec<String> = tx
        .user_consents(user.0)?
        .into_iter()
        .map(|(client_id, _)| client_id)
        .collect();
    for (_, token) in tx.user_refresh_tokens(user.0)? {
        if !clients.contains(&token.client_id) {
            clients.push(token.client_id);
        }
    }
    for client_id in &clients {
        tx.bump_grant_epoch(user.0, client_id)?;
    }
    let families = tx.remove_user_refresh_tokens_where(user.0, |_| true)?;
    record(tx, now, actor, user, reason, None, families)?;
    Ok(families)
}
