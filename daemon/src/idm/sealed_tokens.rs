//! Single-use tokens that carry their own state, for what must work on every replica of a
//! deployment without a write when it is handed out: the state is sealed with the
//! deployment's encryption key (which every replica holds) under a label naming its use,
//! and the token is the sealed bytes in base64url. Whoever holds the token can present it,
//! no replica needs to have seen it before, and one that is forged or altered does not open.
//! Spending it records the SHA-256 of the token until it expires, in one write transaction:
//! a second use finds the record and is a replay.
//!
//! Used when the store is shared (PostgreSQL): authorization codes and passkey ceremonies.
//! A single node keeps them in memory instead (no write to spend them, and today's bounds).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Idm, IdmError, Snapshot, UserId, secrets};

/// The longest token accepted for opening: well above any sealed state handed out here, so a
/// huge string costs no decoding.
const MAX_TOKEN_CHARS: usize = 16 * 1024;

impl Idm {
    /// `state` sealed under `label`, as a token.
    pub(crate) fn seal_token(&self, label: &str, state: &[u8]) -> Result<String, IdmError> {
        Ok(URL_SAFE_NO_PAD.encode(self.sealer().seal(label, state)?))
    }

    /// The state in `token` if it was sealed under `label` by this deployment; `None` for
    /// anything else (forged, altered, another use's token, or not a token at all).
    pub(crate) fn open_token(&self, label: &str, token: &str) -> Option<Vec<u8>> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let sealed = URL_SAFE_NO_PAD.decode(token).ok()?;
        self.sealer().open(label, &sealed).ok()
    }

    /// Records the one use of `token` (good until `until`); `false` if it was used before.
    pub(crate) fn spend_token(&self, token: &str, until: i64) -> Result<bool, IdmError> {
        let hash = secrets::sha256(token.as_bytes());
        Ok(self.store.spend_token(hash, until)?)
    }

    /// [`Idm::spend_token`], and a snapshot taken after it in which the rows of checking a
    /// grant of `user` at `client_id` (with these revocation `selectors`) were read ahead, in
    /// one round trip on PostgreSQL.
    pub(crate) fn spend_token_reading_grant(
        &self,
        token: &str,
        until: i64,
        user: UserId,
        client_id: &str,
        selectors: &[&str],
    ) -> Result<(bool, Snapshot), IdmError> {
        let hash = secrets::sha256(token.as_bytes());
        let (spent, tx) = self
            .store
            .spend_token_reading_grant(hash, until, user, client_id, selectors)?;
        Ok((spent, Snapshot::new(tx)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::clock::SystemClock;
    use crate::idm::Idm;
    use crate::store::Store;

    #[test]
    fn a_token_opens_only_under_its_label_and_unaltered_and_spends_once() {
        let idm = Idm::new(Store::memory().unwrap(), Arc::new(SystemClock));
        let token = idm.seal_token("code", b"state").unwrap();
        assert_eq!(
            idm.open_token("code", &token).as_deref(),
            Some(&b"state"[..])
        );
        assert_eq!(idm.open_token("ceremony", &token), None);
        let mut altered = token.clone().into_bytes();
        altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            idm.open_token("code", &String::from_utf8(altered).unwrap()),
            None
        );
        assert_eq!(idm.open_token("code", "not a token"), None);
        assert!(idm.spend_token(&token, 100).unwrap());
        assert!(!idm.spend_token(&token, 100).unwrap());
    }
}
