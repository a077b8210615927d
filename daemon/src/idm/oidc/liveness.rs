//! Whether a grant may still be used: the one check behind the code exchange, every refresh,
//! userinfo and introspection. A grant issued once is not good for ever: the user must still
//! exist and be enabled, the client must still exist and still admit the user (its group
//! restriction is read now, not at sign-in, so leaving the group by the console, the CLI or an
//! LDAP sync, or a change of the client's groups, takes effect at the next use), and the grant
//! must not have been revoked (by id, by browser session, or by a newer (user, client) epoch).

use super::grants::selectors_of;
use crate::idm::{IdmError, UserId};
use crate::store::{Access, ClientRecord, ReadTx, Tables};

/// Why a grant can no longer be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    UserGone,
    UserDisabled,
    ClientGone,
    /// The client is restricted to groups the user is no longer in.
    NotInGroup,
    /// Revoked: reuse, replay, revocation, sign-out, or withdrawn consent.
    Revoked,
    /// The refresh-token chain reached the client's absolute limit.
    ChainLimit,
}

impl Refusal {
    /// As the audit log names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UserGone => "user_deleted",
            Refusal::UserDisabled => "user_disabled",
            Refusal::ClientGone => "client_deleted",
            Refusal::NotInGroup => "not_in_allowed_group",
            Refusal::Revoked => "revoked",
            Refusal::ChainLimit => "refresh_chain_limit",
        }
    }
}

/// The parts of a grant the check reads, wherever the grant came from (a code, a refresh
/// token, the claims of an access token).
#[derive(Clone, Copy, Debug)]
pub struct GrantRef<'a> {
    pub user_id: UserId,
    pub client_id: &'a str,
    /// The grant id as text (`gid`).
    pub gid: &'a str,
    pub sid: Option<&'a str>,
    pub epoch: u64,
}

/// Whether `client` admits `user`: always, unless it is restricted to groups, and then only a
/// member of one of them. Groups deleted since are skipped, as the client's view shows them.
pub(crate) fn client_admits<A: Access>(
    tx: &Tables<A>,
    client: &ClientRecord,
    user: UserId,
) -> Result<bool, IdmError> {
    let mut restricted = false;
    let mut member_of: Option<Vec<crate::idm::GroupId>> = None;
    for group in &client.allowed_groups {
        if tx.group(*group)?.is_none() {
            continue;
        }
        restricted = true;
        if member_of.is_none() {
            member_of = Some(tx.user_group_ids(user)?);
        }
        if member_of
            .as_ref()
            .is_some_and(|groups| groups.contains(group))
        {
            return Ok(true);
        }
    }
    Ok(!restricted)
}

/// `None` when the grant is live; else why not.
pub(crate) fn grant_refusal<A: Access>(
    tx: &Tables<A>,
    grant: GrantRef<'_>,
) -> Result<Option<Refusal>, IdmError> {
    match tx.user(grant.user_id)? {
        None => return Ok(Some(Refusal::UserGone)),
        Some(user) if user.disabled => return Ok(Some(Refusal::UserDisabled)),
        Some(_) => {}
    }
    let Some(client) = tx.client(grant.client_id)? else {
        return Ok(Some(Refusal::ClientGone));
    };
    let selectors = selectors_of(grant.gid, grant.sid, grant.client_id);
    let refs: Vec<&str> = selectors.iter().map(String::as_str).collect();
    if tx.any_grant_revoked(&refs)?
        || tx.grant_epoch(grant.user_id, grant.client_id)? != grant.epoch
    {
        return Ok(Some(Refusal::Revoked));
    }
    if !client_admits(tx, &client, grant.user_id)? {
        return Ok(Some(Refusal::NotInGroup));
    }
    Ok(None)
}

/// [`grant_refusal`] in a read snapshot, with every row it reads (and the user's groups,
/// which an ID token lists) asked in one round trip on PostgreSQL.
pub(crate) fn read_grant_refusal(
    tx: &ReadTx,
    grant: GrantRef<'_>,
) -> Result<Option<Refusal>, IdmError> {
    let selectors = selectors_of(grant.gid, grant.sid, grant.client_id);
    let refs: Vec<&str> = selectors.iter().map(String::as_str).collect();
    tx.read_ahead_grant(grant.user_id, grant.client_id, &refs)?;
    grant_refusal(tx, grant)
}
