//! Where WebAuthn ceremonies live between their start and their finish.
//!
//! - One daemon on its own file: in memory ([`Ceremonies`]), bounded per client network.
//! - Replicas sharing a database: the finish may reach another replica than the start, so
//!   the ceremony id carries the ceremony's state sealed with the deployment's key
//!   (`idm::sealed_tokens`). Starting one writes nothing and keeps nothing, so a flood of
//!   starts costs no replica memory or database writes (the per-network limit on starts
//!   still applies); finishing one records its use in the database, so it is single use
//!   on every replica.

use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::ceremony_store::{CEREMONY_TTL_SECS, Ceremonies, CeremonyOwner};
use super::{Idm, IdmError};

/// The sealing label of passkey ceremonies.
const LABEL: &str = "passkey ceremony";

pub(super) enum CeremonyKeeper<T> {
    Memory(Mutex<Ceremonies<T>>),
    Sealed,
}

impl<T> std::fmt::Debug for CeremonyKeeper<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CeremonyKeeper::Memory(_) => "CeremonyKeeper::Memory",
            CeremonyKeeper::Sealed => "CeremonyKeeper::Sealed",
        })
    }
}

/// A ceremony as sealed into its id. JSON, because webauthn-rs' states are written for it.
#[derive(Serialize, Deserialize)]
struct Sealed<T> {
    expires_at: i64,
    state: T,
}

impl<T: Serialize + DeserializeOwned> CeremonyKeeper<T> {
    /// Memory for a store of its own, sealed ceremonies for a shared one.
    pub(super) fn for_store(shared: bool) -> CeremonyKeeper<T> {
        if shared {
            CeremonyKeeper::Sealed
        } else {
            CeremonyKeeper::Memory(Mutex::new(Ceremonies::default()))
        }
    }

    fn memory(ceremonies: &Mutex<Ceremonies<T>>) -> MutexGuard<'_, Ceremonies<T>> {
        ceremonies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `state` and returns the ceremony's id.
    pub(super) fn insert(
        &self,
        idm: &Idm,
        now: i64,
        owner: CeremonyOwner,
        state: T,
    ) -> Result<String, IdmError> {
        match self {
            CeremonyKeeper::Memory(ceremonies) => {
                Self::memory(ceremonies).insert(now, owner, state)
            }
            CeremonyKeeper::Sealed => {
                let sealed = Sealed {
                    expires_at: now.saturating_add(CEREMONY_TTL_SECS),
                    state,
                };
                let json = serde_json::to_vec(&sealed)
                    .map_err(|e| IdmError::Encode(format!("a passkey ceremony: {e}")))?;
                idm.seal_token(LABEL, &json)
            }
        }
    }

    /// The ceremony's state, once: `None` if it is unknown, expired or was finished before.
    pub(super) fn take(&self, idm: &Idm, now: i64, id: &str) -> Result<Option<T>, IdmError> {
        match self {
            CeremonyKeeper::Memory(ceremonies) => Ok(Self::memory(ceremonies).take(now, id)),
            CeremonyKeeper::Sealed => {
                let id = id.trim();
                let Some(json) = idm.open_token(LABEL, id) else {
                    return Ok(None);
                };
                let Ok(sealed) = serde_json::from_slice::<Sealed<T>>(&json) else {
                    return Ok(None);
                };
                if sealed.expires_at <= now || !idm.spend_token(id, sealed.expires_at)? {
                    return Ok(None);
                }
                Ok(Some(sealed.state))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;

    use super::*;
    use crate::clock::SystemClock;
    use crate::store::Store;

    #[test]
    fn a_sealed_ceremony_is_taken_once_before_it_expires() {
        let idm = Idm::new(Store::memory().unwrap(), Arc::new(SystemClock));
        let keeper = CeremonyKeeper::<String>::Sealed;
        let owner = CeremonyOwner::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let id = keeper.insert(&idm, 100, owner, "state".to_owned()).unwrap();
        assert_eq!(
            keeper.take(&idm, 101, &id).unwrap().as_deref(),
            Some("state")
        );
        assert_eq!(keeper.take(&idm, 102, &id).unwrap(), None, "single use");
        let late = keeper.insert(&idm, 100, owner, "late".to_owned()).unwrap();
        assert_eq!(
            keeper.take(&idm, 100 + CEREMONY_TTL_SECS, &late).unwrap(),
            None
        );
        assert_eq!(keeper.take(&idm, 101, "forged").unwrap(), None);
    }
}
