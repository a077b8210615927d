//! Refused sign-ins: the `sign_in_failed` audit event with its precise
//! reason, written in the caller's transaction (when the refusal changes
//! something, such as spending a code) or in its own.

use super::audit::{self, Subject, detail};
use super::{Actor, Idm, IdmError, SignInFailure};
use crate::store::{UserRecord, WriteTx};

impl Idm {
    /// Records `sign_in_failed` (its own transaction) and returns the error
    /// to give the caller. A failure to record is logged, not returned: the
    /// caller must still see a refused sign-in.
    pub(crate) fn sign_in_failed(
        &self,
        actor: &Actor,
        subject: Option<&str>,
        reason: SignInFailure,
    ) -> IdmError {
        if let Err(e) = self.record_audit(
            actor,
            "sign_in_failed",
            subject,
            vec![detail("reason", reason.as_str())],
        ) {
            tracing::error!("could not record a failed sign-in ({reason}): {e}");
        }
        IdmError::SignInFailed { reason }
    }
}

/// Records `sign_in_failed` inside the caller's transaction, with `user` as
/// subject when known; `more` follows the reason (the method, for some).
pub(crate) fn audit_sign_in_failure(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    user: Option<&UserRecord>,
    reason: SignInFailure,
    more: Vec<(String, String)>,
) -> Result<(), IdmError> {
    let subject = user.map(|u| Subject::linked(&u.username, u.id));
    let mut details = vec![detail("reason", reason.as_str())];
    details.extend(more);
    audit::append(tx, now, actor, "sign_in_failed", subject, details)?;
    Ok(())
}
