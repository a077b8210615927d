//! The `governor` side: its clock on the daemon's [`Clock`], its keyed state store shared
//! with the refund (governor has no operation to give a cell back), and one budget's limiter.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::Quota;
use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::{HashMapStateStore, ShrinkableKeyedStateStore};
use governor::state::{InMemoryState, NotKeyed, StateStore};
use time::OffsetDateTime;

use super::budgets::{Action, Key};
use crate::clock::Clock;

/// The daemon's clock as governor's: time since the Unix epoch (a clock set before 1970 reads
/// as the epoch).
#[derive(Debug, Clone)]
pub(super) struct DaemonClock(pub(super) Arc<dyn Clock>);

impl GovernorClock for DaemonClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::try_from(self.0.now() - OffsetDateTime::UNIX_EPOCH).unwrap_or_default()
    }
}

/// governor's keyed store, shared between the limiter (which decides) and [`Budget::refund`].
#[derive(Debug, Clone, Default)]
pub(super) struct SharedStore(Arc<HashMapStateStore<Key>>);

impl StateStore for SharedStore {
    type Key = Key;

    fn measure_and_replace<T, F, E>(&self, key: &Key, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<Key> for SharedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        self.0.retain_recent(drop_below);
    }

    fn shrink_to_fit(&self) {
        self.0.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub(super) type Keyed =
    governor::RateLimiter<Key, SharedStore, DaemonClock, NoOpMiddleware<Duration>>;
pub(super) type Direct =
    governor::RateLimiter<NotKeyed, InMemoryState, DaemonClock, NoOpMiddleware<Duration>>;

pub(super) fn quota(burst: u32, every: Duration) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(every)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

#[derive(Debug)]
pub(super) struct Budget {
    pub(super) limiter: Keyed,
    pub(super) store: SharedStore,
    /// One cell, in nanoseconds: what a refund takes off.
    cell: u64,
}

impl Budget {
    pub(super) fn new(action: Action, clock: &DaemonClock) -> Budget {
        let (burst, every) = action.budget();
        let store = SharedStore::default();
        Budget {
            limiter: governor::RateLimiter::new(quota(burst, every), store.clone(), clock.clone()),
            store,
            cell: u64::try_from(every.as_nanos()).unwrap_or(u64::MAX),
        }
    }

    pub(super) fn tracks(&self, key: &Key) -> bool {
        self.store.0.lock().contains_key(key)
    }

    /// Gives back one cell: the state governor would have had without it.
    pub(super) fn refund(&self, key: &Key) {
        let cell = self.cell;
        let _: Result<(), ()> = self.store.measure_and_replace(key, |tat| match tat {
            Some(tat) => Ok(((), Nanos::from(tat.as_u64().saturating_sub(cell)))),
            None => Err(()),
        });
    }
}
