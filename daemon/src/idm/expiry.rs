//! Removing records past their expiry: sessions, login codes, signup tokens
//! long spent, emailed sign-in links and verification links, the record of spent sealed
//! tokens (codes, ceremonies) once they expired. Lookups ignore
//! expired records anyway; this only reclaims their space.
//! `jobs::expiry_sweep` calls it every few minutes.

use super::signup::sweep_signup_tokens;
use super::{Idm, IdmError};

impl Idm {
    /// Removes sessions and login codes past their expiry; returns how many.
    /// The daemon calls this every few minutes; lookups ignore expired
    /// records anyway, so this only reclaims space.
    pub fn sweep_expired(&self) -> Result<u64, IdmError> {
        let now = self.now();
        self.store.write(|tx| {
            let sessions = tx.remove_expired_sessions(now)?;
            let codes = tx.remove_expired_login_codes(now)?;
            let signup_tokens = sweep_signup_tokens(tx, now)?;
            let links = tx.remove_expired_email_links(now)?;
            let verifications = tx.remove_expired_email_verifications(now)?;
            tx.prune_spent_tokens(now)?;
            Ok(sessions + codes + signup_tokens + links + verifications)
        })
    }
}
