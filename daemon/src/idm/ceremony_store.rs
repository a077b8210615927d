//! The WebAuthn ceremonies in flight: in memory, single use, five minutes, bounded in all and per
//! owner, with fair eviction.
//!
//! A ceremony belongs to the [`CeremonyOwner`] that started it: the client's network, as the web
//! layer counts it for rate limits (idm knows nothing of HTTP). Starting a sign-in needs no
//! account, so anyone can start many; the bounds make sure a flood only costs the flooder:
//! - at most [`MAX_CEREMONIES_PER_OWNER`] per owner: another start from that owner replaces its
//!   own oldest ceremony, never someone else's;
//! - at most [`MAX_CEREMONIES`] in all: when full, the victim is the oldest ceremony of the owner
//!   holding the most, so networks that each hold a few keep theirs while any network holds more.
//!
//! Expired ceremonies go first. With one lifetime for all, insertion order is expiry order, so
//! the queues are kept in insertion order and never sorted; finished ceremonies leave stale keys
//! in the queues, skipped when met and compacted when they outnumber the live ones.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;

use super::{IdmError, secrets};
use crate::store::TokenHash;

/// How long a started ceremony may be finished, in seconds.
pub const CEREMONY_TTL_SECS: i64 = 5 * 60;
/// The most ceremonies kept at once.
pub const MAX_CEREMONIES: usize = 10_000;
/// The most ceremonies one owner keeps. A login page starts one when it loads and another every
/// four minutes, so this is an office of a few hundred open login pages behind one address; the
/// per-network limit on starts (100 a minute) fills it in under three minutes, so a flood at that
/// rate replaces its own ceremonies before anyone else's.
pub const MAX_CEREMONIES_PER_OWNER: usize = 256;

/// Who started a ceremony: a client network (an IPv4 address, an IPv6 /64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CeremonyOwner(IpAddr);

impl CeremonyOwner {
    /// The owner for a client network, as the caller groups addresses.
    pub fn new(network: IpAddr) -> CeremonyOwner {
        CeremonyOwner(network)
    }
}

struct Entry<T> {
    expires_at: i64,
    owner: CeremonyOwner,
    state: T,
}

/// One owner's ceremonies: how many are live, and their keys oldest first (with stale ones).
#[derive(Default)]
struct Owned {
    live: usize,
    order: VecDeque<TokenHash>,
}

/// Ceremony states of type `T` by the SHA-256 of their random id.
pub(super) struct Ceremonies<T> {
    map: HashMap<TokenHash, Entry<T>>,
    /// Every key with its expiry, oldest first (with stale ones).
    order: VecDeque<(i64, TokenHash)>,
    owners: HashMap<CeremonyOwner, Owned>,
    /// (live ceremonies, owner): the last is the owner holding the most.
    by_size: BTreeSet<(usize, CeremonyOwner)>,
    max_total: usize,
    max_per_owner: usize,
}

impl<T> Default for Ceremonies<T> {
    fn default() -> Self {
        Ceremonies::with_bounds(MAX_CEREMONIES, MAX_CEREMONIES_PER_OWNER)
    }
}

impl<T> Ceremonies<T> {
    pub(super) fn with_bounds(max_total: usize, max_per_owner: usize) -> Ceremonies<T> {
        Ceremonies {
            map: HashMap::new(),
            order: VecDeque::new(),
            owners: HashMap::new(),
            by_size: BTreeSet::new(),
            max_total: max_total.max(1),
            max_per_owner: max_per_owner.max(1),
        }
    }

    /// Keeps `state` for `owner` and returns the new ceremony's id, after making room.
    pub(super) fn insert(
        &mut self,
        now: i64,
        owner: CeremonyOwner,
        state: T,
    ) -> Result<String, IdmError> {
        self.drop_expired(now);
        while self
            .owners
            .get(&owner)
            .is_some_and(|o| o.live >= self.max_per_owner)
        {
            self.evict_oldest_of(owner);
        }
        while self.map.len() >= self.max_total {
            let Some(&(_, largest)) = self.by_size.last() else {
                break;
            };
            self.evict_oldest_of(largest);
        }
        let id = secrets::random_token::<16>()?;
        let key = secrets::sha256(id.as_bytes());
        let expires_at = now.saturating_add(CEREMONY_TTL_SECS);
        self.map.insert(
            key,
            Entry {
                expires_at,
                owner,
                state,
            },
        );
        self.order.push_back((expires_at, key));
        let owned = self.owners.entry(owner).or_default();
        self.by_size.remove(&(owned.live, owner));
        owned.live += 1;
        owned.order.push_back(key);
        self.by_size.insert((owned.live, owner));
        Ok(id)
    }

    /// Removes and returns the ceremony if it exists and has not expired.
    pub(super) fn take(&mut self, now: i64, id: &str) -> Option<T> {
        let entry = self.remove(&secrets::sha256(id.trim().as_bytes()))?;
        (entry.expires_at > now).then_some(entry.state)
    }

    /// Live ceremonies.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    fn drop_expired(&mut self, now: i64) {
        while let Some(&(expires_at, key)) = self.order.front() {
            let live = self.map.contains_key(&key);
            if live && expires_at > now {
                break;
            }
            self.order.pop_front();
            if live {
                self.remove(&key);
            }
        }
        if self.order.len() > 2 * self.map.len() + 64 {
            let map = &self.map;
            self.order.retain(|(_, key)| map.contains_key(key));
        }
    }

    fn evict_oldest_of(&mut self, owner: CeremonyOwner) {
        loop {
            let Some(key) = self
                .owners
                .get_mut(&owner)
                .and_then(|o| o.order.pop_front())
            else {
                return;
            };
            if self.remove(&key).is_some() {
                return;
            }
        }
    }

    /// Removes one ceremony and updates its owner's count.
    fn remove(&mut self, key: &TokenHash) -> Option<Entry<T>> {
        let entry = self.map.remove(key)?;
        let owner = entry.owner;
        if let Some(owned) = self.owners.get_mut(&owner) {
            self.by_size.remove(&(owned.live, owner));
            owned.live = owned.live.saturating_sub(1);
            if owned.live == 0 {
                self.owners.remove(&owner);
            } else {
                self.by_size.insert((owned.live, owner));
                if owned.order.len() > 2 * owned.live + 16 {
                    let map = &self.map;
                    owned.order.retain(|key| map.contains_key(key));
                }
            }
        }
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(last: u8) -> CeremonyOwner {
        CeremonyOwner::new(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn a_flooding_owner_replaces_only_its_own_ceremonies() {
        let mut ceremonies = Ceremonies::with_bounds(100, 10);
        let alice = ceremonies.insert(0, owner(1), "alice").unwrap();
        for i in 0..1_000 {
            ceremonies.insert(1, owner(66), "flood").unwrap();
            assert!(ceremonies.len() <= 11, "{i}");
        }
        assert_eq!(ceremonies.take(2, &alice), Some("alice"));
    }

    #[test]
    fn when_full_the_largest_owner_loses_its_oldest() {
        let mut ceremonies = Ceremonies::with_bounds(20, 10);
        let alice = ceremonies.insert(0, owner(1), "alice").unwrap();
        // Two flooding networks fill the rest: 10 + 9.
        let first_flood = ceremonies.insert(1, owner(66), "flood").unwrap();
        for _ in 0..9 {
            ceremonies.insert(1, owner(66), "flood").unwrap();
        }
        for _ in 0..9 {
            ceremonies.insert(1, owner(77), "flood").unwrap();
        }
        assert_eq!(ceremonies.len(), 20);
        // Full: bob's start evicts the oldest of the largest owner (66), not alice's.
        let bob = ceremonies.insert(2, owner(2), "bob").unwrap();
        assert_eq!(ceremonies.len(), 20);
        assert_eq!(ceremonies.take(3, &first_flood), None);
        assert_eq!(ceremonies.take(3, &alice), Some("alice"));
        assert_eq!(ceremonies.take(3, &bob), Some("bob"));
    }

    #[test]
    fn ceremonies_expire_and_are_single_use() {
        let mut ceremonies = Ceremonies::default();
        let id = ceremonies.insert(0, owner(1), 7).unwrap();
        assert_eq!(id.len(), 22, "128 bits of base64url");
        assert_eq!(ceremonies.take(CEREMONY_TTL_SECS - 1, &id), Some(7));
        assert_eq!(ceremonies.take(0, &id), None);
        let late = ceremonies.insert(0, owner(1), 8).unwrap();
        assert_eq!(ceremonies.take(CEREMONY_TTL_SECS, &late), None);
        // Expired ones are dropped on the next insert, whoever started them.
        for _ in 0..5 {
            ceremonies.insert(0, owner(3), 9).unwrap();
        }
        ceremonies.insert(CEREMONY_TTL_SECS, owner(4), 10).unwrap();
        assert_eq!(ceremonies.len(), 1);
        assert_eq!(ceremonies.owners.len(), 1);
        assert_eq!(ceremonies.by_size.len(), 1);
    }

    #[test]
    fn bookkeeping_stays_bounded_under_churn() {
        let mut ceremonies = Ceremonies::with_bounds(50, 5);
        for round in 0..2_000u32 {
            let who = owner(u8::try_from(round % 7).unwrap());
            let id = ceremonies.insert(0, who, round).unwrap();
            if round % 3 == 0 {
                assert_eq!(ceremonies.take(0, &id), Some(round));
            }
        }
        assert!(ceremonies.len() <= 35);
        assert!(ceremonies.order.len() <= 2 * ceremonies.len() + 64);
        for owned in ceremonies.owners.values() {
            assert!(owned.live <= 5);
            assert!(owned.order.len() <= 2 * owned.live + 16);
        }
        let live: usize = ceremonies.owners.values().map(|o| o.live).sum();
        assert_eq!(live, ceremonies.len());
    }
}
