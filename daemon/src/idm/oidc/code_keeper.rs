//! Where authorization codes live between `/authorize` and `/token`.
//!
//! - One daemon on its own file: in memory ([`CodeStore`]), as the flow module describes:
//!   no write to hand a code out or to redeem it.
//! - Replicas sharing a database: the `/token` request may reach another replica than the
//!   `/authorize` that issued the code, so the code carries its pending grant sealed with
//!   the deployment's key (`idm::sealed_tokens`), and redeeming it records its use in the
//!   database: a second use, on any replica, is a replay and revokes the grant as before.

use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use super::grants::{
    ChallengeMethod, CodeChallenge, CodeStore, Grant, PendingCode, Redeemed, selectors_of,
};
use crate::idm::{Idm, IdmError, Snapshot, UserId};

/// The sealing label of authorization codes.
const LABEL: &str = "authorization code";

#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per daemon, made once at start"
)]
pub(super) enum CodeKeeper {
    Memory(Mutex<CodeStore>),
    Sealed,
}

impl CodeKeeper {
    /// Memory for a store of its own, sealed codes for a shared one.
    pub(super) fn for_store(shared: bool) -> CodeKeeper {
        if shared {
            CodeKeeper::Sealed
        } else {
            CodeKeeper::Memory(Mutex::default())
        }
    }

    fn memory(codes: &Mutex<CodeStore>) -> MutexGuard<'_, CodeStore> {
        codes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new code for `pending`.
    pub(super) fn insert(
        &self,
        idm: &Idm,
        now: i64,
        pending: PendingCode,
    ) -> Result<String, IdmError> {
        match self {
            CodeKeeper::Memory(codes) => Self::memory(codes).insert(now, pending),
            CodeKeeper::Sealed => {
                let state = postcard::to_stdvec(&SealedCode::from(pending))
                    .map_err(|e| IdmError::Encode(format!("an authorization code: {e}")))?;
                idm.seal_token(LABEL, &state)
            }
        }
    }

    /// Takes the code (single use); see [`Redeemed`].
    ///
    /// A sealed code's use is recorded together with the reads that check its grant (see
    /// [`Idm::spend_token_reading_grant`]): the snapshot they were read in comes back with a
    /// fresh code, for the grant check to use.
    pub(super) fn redeem(
        &self,
        idm: &Idm,
        now: i64,
        code: &str,
    ) -> Result<(Redeemed, Option<Snapshot>), IdmError> {
        match self {
            CodeKeeper::Memory(codes) => Ok((Self::memory(codes).redeem(now, code), None)),
            CodeKeeper::Sealed => {
                let Some(pending) = open(idm, code) else {
                    return Ok((Redeemed::Unknown, None));
                };
                if pending.expires_at <= now {
                    return Ok((Redeemed::Unknown, None));
                }
                let grant = &pending.grant;
                let gid = grant.id_text();
                let selectors = selectors_of(&gid, grant.sid.as_deref(), &grant.client_id);
                let selectors: Vec<&str> = selectors.iter().map(String::as_str).collect();
                let (spent, snapshot) = idm.spend_token_reading_grant(
                    code,
                    pending.expires_at,
                    grant.user_id,
                    &grant.client_id,
                    &selectors,
                )?;
                if spent {
                    Ok((Redeemed::Fresh(Box::new(pending)), Some(snapshot)))
                } else {
                    let replayed = Redeemed::Replayed {
                        grant_id: pending.grant.id,
                        client_id: pending.grant.client_id,
                        user_id: pending.grant.user_id,
                    };
                    Ok((replayed, None))
                }
            }
        }
    }

    /// Whether redeeming `code` may write (see `CodeStore::redeem_may_write`); a sealed
    /// code always does: its use is recorded.
    pub(super) fn redeem_may_write(&self, code: &str) -> bool {
        match self {
            CodeKeeper::Memory(codes) => Self::memory(codes).redeem_may_write(code),
            CodeKeeper::Sealed => true,
        }
    }
}

fn open(idm: &Idm, code: &str) -> Option<PendingCode> {
    let state = idm.open_token(LABEL, code)?;
    postcard::from_bytes::<SealedCode>(&state)
        .ok()
        .map(PendingCode::from)
}

/// A pending code as sealed into the code itself. Versioned by its label: a new shape gets
/// a new label, and codes live minutes.
#[derive(Serialize, Deserialize)]
struct SealedCode {
    grant_id: [u8; 16],
    user_id: [u8; 16],
    client_id: String,
    sid: Option<String>,
    scopes: Vec<String>,
    auth_time: i64,
    amr: Vec<String>,
    nonce: Option<String>,
    epoch: u64,
    redirect_uri: String,
    /// The S256 challenge (the only method).
    challenge: Option<String>,
    expires_at: i64,
}

impl From<PendingCode> for SealedCode {
    fn from(pending: PendingCode) -> SealedCode {
        let PendingCode {
            grant,
            redirect_uri,
            challenge,
            expires_at,
        } = pending;
        SealedCode {
            grant_id: grant.id,
            user_id: grant.user_id.to_bytes(),
            client_id: grant.client_id,
            sid: grant.sid,
            scopes: grant.scopes,
            auth_time: grant.auth_time,
            amr: grant.amr,
            nonce: grant.nonce,
            epoch: grant.epoch,
            redirect_uri,
            challenge: challenge.map(|c| match c.method {
                ChallengeMethod::S256 => c.challenge,
            }),
            expires_at,
        }
    }
}

impl From<SealedCode> for PendingCode {
    fn from(code: SealedCode) -> PendingCode {
        PendingCode {
            grant: Grant {
                id: code.grant_id,
                user_id: UserId::from_bytes(code.user_id),
                client_id: code.client_id,
                sid: code.sid,
                scopes: code.scopes,
                auth_time: code.auth_time,
                amr: code.amr,
                nonce: code.nonce,
                epoch: code.epoch,
            },
            redirect_uri: code.redirect_uri,
            challenge: code.challenge.map(|challenge| CodeChallenge {
                method: ChallengeMethod::S256,
                challenge,
            }),
            expires_at: code.expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::SystemClock;
    use crate::store::Store;

    fn pending(expires_at: i64) -> PendingCode {
        PendingCode {
            grant: Grant {
                id: [7; 16],
                user_id: UserId::random(),
                client_id: "client".into(),
                sid: Some("sid".into()),
                scopes: vec!["openid".into(), "offline_access".into()],
                auth_time: 100,
                amr: vec!["hwk".into()],
                nonce: Some("n".into()),
                epoch: 3,
            },
            redirect_uri: "https://rp.example/cb".into(),
            challenge: Some(CodeChallenge {
                method: ChallengeMethod::S256,
                challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            }),
            expires_at,
        }
    }

    #[test]
    fn a_sealed_code_carries_its_grant_is_single_use_and_expires() {
        let idm = Idm::new(Store::memory().unwrap(), Arc::new(SystemClock));
        let keeper = CodeKeeper::Sealed;
        let issued = pending(700);
        let code = keeper.insert(&idm, 100, issued.clone()).unwrap();
        assert!(keeper.redeem_may_write(&code));
        let (Redeemed::Fresh(redeemed), _) = keeper.redeem(&idm, 101, &code).unwrap() else {
            panic!("a fresh code redeems");
        };
        assert_eq!(redeemed.grant, issued.grant);
        assert_eq!(redeemed.redirect_uri, issued.redirect_uri);
        assert_eq!(redeemed.challenge, issued.challenge);
        assert!(matches!(
            keeper.redeem(&idm, 102, &code).unwrap().0,
            Redeemed::Replayed { grant_id, .. } if grant_id == [7; 16]
        ));
        let late = keeper.insert(&idm, 100, pending(160)).unwrap();
        assert!(matches!(
            keeper.redeem(&idm, 160, &late).unwrap().0,
            Redeemed::Unknown
        ));
        assert!(matches!(
            keeper.redeem(&idm, 101, "forged").unwrap().0,
            Redeemed::Unknown
        ));
    }
}
