//! Asking ahead, in one round trip on PostgreSQL, the rows a caller is about to read one by
//! one in a read snapshot, where it knows them in advance. The hot paths of the code flow
//! use it: what would be a round trip per row becomes one for all (on redb, where a read
//! is a lookup in memory, nothing is done).

use super::StoreError;
use super::error::db;
use super::index::pair_range;
use super::kv::ReadAhead;
use super::tx::ReadTx;
use crate::idm::UserId;

impl ReadTx {
    /// What checking a grant of `user` at `client_id` reads (`idm::oidc::liveness`), and what
    /// an ID token says of the user: the user, the client, whether any of `selectors` is
    /// revoked, the (user, client) revocation epoch, the user's groups.
    pub fn read_ahead_grant(
        &self,
        user: UserId,
        client_id: &str,
        selectors: &[&str],
    ) -> Result<(), StoreError> {
        self.grant_ahead(user, client_id, selectors)?
            .run()
            .map_err(db("reading ahead"))
    }

    /// The reads of [`ReadTx::read_ahead_grant`], noted but not asked yet.
    pub(super) fn grant_ahead(
        &self,
        user: UserId,
        client_id: &str,
        selectors: &[&str],
    ) -> Result<ReadAhead, StoreError> {
        let mut ahead = ReadAhead::default();
        self.t.users()?.ahead_get(&mut ahead, user.to_bytes());
        self.t.clients()?.ahead_get(&mut ahead, client_id);
        self.t
            .revoked_grants()?
            .ahead_contains_any(&mut ahead, selectors);
        self.t
            .grant_epochs()?
            .ahead_get(&mut ahead, (user.to_bytes(), client_id));
        self.t
            .user_groups()?
            .ahead_range(&mut ahead, &pair_range(user.to_bytes()));
        Ok(ahead)
    }

    /// What the authorization endpoint reads of a signed-in `user` and `client_id`: the
    /// user, their consent and the (user, client) revocation epoch.
    pub fn read_ahead_standing(&self, user: UserId, client_id: &str) -> Result<(), StoreError> {
        let mut ahead = ReadAhead::default();
        self.t.users()?.ahead_get(&mut ahead, user.to_bytes());
        self.t
            .consents()?
            .ahead_get(&mut ahead, (user.to_bytes(), client_id));
        self.t
            .grant_epochs()?
            .ahead_get(&mut ahead, (user.to_bytes(), client_id));
        ahead.run().map_err(db("reading ahead"))
    }
}
