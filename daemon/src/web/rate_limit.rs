//! Rate limits: one GCRA budget per [`Action`] (the `governor` crate), keyed per client network,
//! per account or per name, on the daemon's [`Clock`] so tests move a manual clock.
//!
//! What counts, decided per endpoint:
//! - **Failures** for every proof a person types or presents: login codes (`POST /lc`), the
//!   passkey sign-in (`login/finish`, per client and per account), the setup token, signup
//!   tokens, email-link codes. A success costs nothing: the eleventh colleague behind one office
//!   address redeems a valid code like the first. An attempt reserves one cell *before* it runs
//!   ([`RateLimiter::begin`]) and gets it back only when it succeeds ([`Attempt::succeeded`]), so
//!   an address whose budget is spent cannot try at all, not even with a correct code, and
//!   concurrent attempts cannot overshoot the budget. governor has no non-consuming check
//!   (`check_key_n` takes a non-zero count; a passing check always consumes), so the refund is
//!   the one operation added here: one cell off the key's theoretical arrival time, in the same
//!   state store governor reads.
//! - **Attempts** where each attempt is itself the cost: open signup (every success creates an
//!   account, and a refused form tells whether a username is taken), asking for an email link
//!   (each may send mail; per client and per address), and starting a passkey ceremony (each
//!   holds server memory for five minutes).
//!
//! Per target, not only per address: a client network (IPv4 address, IPv6 /64 — the block one
//! subscriber usually gets, so rotating inside it buys nothing), an account (failed passkey
//! assertions of a credential that names it), an email address (link requests). A wrong login
//! code, setup token or signup token names no target: its hash matches nothing, so there is no
//! code or account to charge, only the address it came from (see [`LOGIN_CODE_WATCH`] for many
//! addresses at once). The email-link code is charged per link as well (five tries end the
//! link, in `idm`).
//!
//! GCRA, not fixed windows: a budget of N per period refills one cell every period/N, so a
//! locked-out address may try again after one cell's interval, not after the whole window, and
//! its long-run rate is the same. Memory is bounded: each budget tracks at most [`MAX_KEYS`]
//! keys, [`RateLimiter::retain_recent`] (every minute, from the daemon) drops keys whose budget
//! has refilled, and a budget still full after that does not track new keys (they are let
//! through, and a warning is logged once) rather than refuse everyone new. Counters are in
//! memory: a restart resets them, and they are not shared between replicas.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::{HashMapStateStore, ShrinkableKeyedStateStore};
use governor::state::{InMemoryState, NotKeyed, StateStore};
use governor::{NotUntil, Quota};
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::idm::UserId;

/// What is being limited. Each has its own budget per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `POST /lc`: failed codes per client network.
    LoginCode,
    /// `POST /api/passkey/login/start`: every start per client network.
    PasskeyStart,
    /// `POST /api/passkey/login/finish`: failed sign-ins per client network.
    PasskeySignIn,
    /// `POST /api/passkey/login/finish`: failed assertions per account. Assertions cannot be
    /// guessed; this bounds the verifications and audit entries one account can be made the
    /// target of from many addresses, and it is high enough that the owner never meets it.
    PasskeyAccount,
    /// `POST /setup/{token}`: wrong tokens per client network.
    Setup,
    /// `POST /signup` (open signup): every attempt per client network.
    SignupOpen,
    /// `POST /st/{token}`: refused tokens per client network.
    SignupToken,
    /// `POST /login/email`, per client network: every request.
    EmailLinkRequest,
    /// `POST /login/email`, per address asked for: every request.
    EmailLinkAddress,
    /// `POST /login/email/verify`: failed codes and links per client network.
    EmailLinkUse,
}

impl Action {
    const ALL: [Action; 10] = [
        Action::LoginCode,
        Action::PasskeyStart,
        Action::PasskeySignIn,
        Action::PasskeyAccount,
        Action::Setup,
        Action::SignupOpen,
        Action::SignupToken,
        Action::EmailLinkRequest,
        Action::EmailLinkAddress,
        Action::EmailLinkUse,
    ];

    /// (burst, one cell refills every …): the budget is `burst` at once, then one per interval.
    fn budget(self) -> (u32, Duration) {
        const MINUTE: u64 = 60;
        match self {
            // 10 per 15 minutes.
            Action::LoginCode | Action::Setup | Action::SignupToken | Action::EmailLinkUse => {
                (10, Duration::from_secs(90))
            }
            // 100 per minute: a login page starts one on load and every four minutes; an office
            // behind one address loads many.
            Action::PasskeyStart => (100, Duration::from_millis(600)),
            // 30 per minute.
            Action::PasskeySignIn => (30, Duration::from_secs(2)),
            // 20 per 15 minutes.
            Action::PasskeyAccount => (20, Duration::from_secs(45)),
            // 10 per hour.
            Action::SignupOpen => (10, Duration::from_secs(6 * MINUTE)),
            // 5 per 15 minutes.
            Action::EmailLinkRequest => (5, Duration::from_secs(3 * MINUTE)),
            // 3 per hour.
            Action::EmailLinkAddress => (3, Duration::from_secs(20 * MINUTE)),
        }
    }

    fn index(self) -> usize {
        Action::ALL.iter().position(|a| *a == self).unwrap_or(0)
    }
}

/// The most keys one budget tracks.
pub const MAX_KEYS: usize = 65_536;

/// Login-code failures across all addresses in an hour above which a warning is logged.
///
/// Why a warning and not a global lockout: a login code is 16 Crockford base32 characters,
/// 80 bits, so one guess hits one of `L` live codes with probability `L / 2^80`
/// (`2^80 ≈ 1.2e24`). Even a botnet that is never refused, guessing 10,000 times a second for
/// a year (3.2e11 guesses) against 10,000 live codes, succeeds with probability
/// 3.2e11 × 1e4 / 1.2e24 ≈ 3e-9. Guessing is hopeless with or without a global bound, while a
/// global budget an attacker can spend would refuse every user's valid code: the lockout this
/// module exists to prevent. So the per-address budget bounds each address and this watch
/// tells the admin when many addresses are guessing at once.
pub const LOGIN_CODE_WATCH: u32 = 1_000;

/// The caller is over the limit and may try again after this long (whole seconds, at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

/// What a budget is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// A client network: see [`Key::client`].
    Network(IpAddr),
    /// An account.
    Account(UserId),
    /// A name (an email address), kept only as a hash prefix.
    Name([u8; 16]),
}

impl Key {
    /// The client network of `ip`: IPv4 as it is (IPv4-mapped IPv6 too), IPv6 by /64.
    pub fn client(ip: IpAddr) -> Key {
        Key::Network(network(ip))
    }

    /// A name, folded by the caller (an email address lowercased).
    pub fn name(name: &str) -> Key {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(name.as_bytes());
        let mut key = [0u8; 16];
        key.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
        Key::Name(key)
    }
}

/// IPv4 addresses as they are (IPv4-mapped IPv6 too); IPv6 by /64.
pub fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

/// The daemon's clock as governor's: time since the Unix epoch (a clock set before 1970 reads
/// as the epoch).
#[derive(Debug, Clone)]
struct DaemonClock(Arc<dyn Clock>);

impl GovernorClock for DaemonClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::try_from(self.0.now() - OffsetDateTime::UNIX_EPOCH).unwrap_or_default()
    }
}

/// governor's keyed store, shared between the limiter (which decides) and [`Budget::refund`].
#[derive(Debug, Clone, Default)]
struct SharedStore(Arc<HashMapStateStore<Key>>);

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

type Keyed = governor::RateLimiter<Key, SharedStore, DaemonClock, NoOpMiddleware<Duration>>;
type Direct = governor::RateLimiter<NotKeyed, InMemoryState, DaemonClock, NoOpMiddleware<Duration>>;

fn quota(burst: u32, every: Duration) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(every)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

#[derive(Debug)]
struct Budget {
    limiter: Keyed,
    store: SharedStore,
    /// One cell, in nanoseconds: what a refund takes off.
    cell: u64,
}

impl Budget {
    fn new(action: Action, clock: &DaemonClock) -> Budget {
        let (burst, every) = action.budget();
        let store = SharedStore::default();
        Budget {
            limiter: governor::RateLimiter::new(quota(burst, every), store.clone(), clock.clone()),
            store,
            cell: u64::try_from(every.as_nanos()).unwrap_or(u64::MAX),
        }
    }

    fn tracks(&self, key: &Key) -> bool {
        self.store.0.lock().contains_key(key)
    }

    /// Gives back one cell: the state governor would have had without it.
    fn refund(&self, key: &Key) {
        let cell = self.cell;
        let _: Result<(), ()> = self.store.measure_and_replace(key, |tat| match tat {
            Some(tat) => Ok(((), Nanos::from(tat.as_u64().saturating_sub(cell)))),
            None => Err(()),
        });
    }
}

#[derive(Debug)]
struct Inner {
    clock: DaemonClock,
    budgets: Vec<Budget>,
    max_keys: usize,
    /// Login-code failures from all addresses; over [`LOGIN_CODE_WATCH`] an hour it warns.
    login_code_watch: Direct,
    /// At most one such warning an hour.
    login_code_warned: Direct,
    /// Whether "a budget is full" was logged.
    full_warned: AtomicBool,
}

/// Shared by all handlers; cheap to clone.
#[derive(Debug, Clone)]
pub struct RateLimiter(Arc<Inner>);

impl RateLimiter {
    pub fn new(clock: Arc<dyn Clock>) -> RateLimiter {
        RateLimiter::with_max_keys(clock, MAX_KEYS)
    }

    fn with_max_keys(clock: Arc<dyn Clock>, max_keys: usize) -> RateLimiter {
        let clock = DaemonClock(clock);
        let hour = Duration::from_secs(3600);
        let per = |n: u32| hour / n.max(1);
        RateLimiter(Arc::new(Inner {
            budgets: Action::ALL.map(|a| Budget::new(a, &clock)).into(),
            login_code_watch: governor::RateLimiter::direct_with_clock(
                quota(LOGIN_CODE_WATCH, per(LOGIN_CODE_WATCH)),
                clock.clone(),
            ),
            login_code_warned: governor::RateLimiter::direct_with_clock(
                quota(1, hour),
                clock.clone(),
            ),
            clock,
            max_keys: max_keys.max(1),
            full_warned: AtomicBool::new(false),
        }))
    }

    fn budget(&self, action: Action) -> Option<&Budget> {
        self.0.budgets.get(action.index())
    }

    /// Counts one attempt of `action` against `key`, or refuses it when the budget is spent.
    /// For the actions where every attempt counts.
    pub fn check(&self, action: Action, key: Key) -> Result<(), RetryAfter> {
        let attempt = self.begin(action, key)?;
        attempt.failed();
        Ok(())
    }

    /// Reserves one cell of `action`'s budget for `key` before an attempt, or refuses the attempt
    /// when the budget is spent. The cell stays spent unless [`Attempt::succeeded`] is called.
    pub fn begin(&self, action: Action, key: Key) -> Result<Attempt, RetryAfter> {
        let attempt = |key| Attempt {
            limiter: self.clone(),
            action,
            key,
        };
        let Some(budget) = self.budget(action) else {
            return Ok(attempt(None));
        };
        if budget.store.len() >= self.0.max_keys && !budget.tracks(&key) {
            budget.limiter.retain_recent();
            if budget.store.len() >= self.0.max_keys {
                if !self.0.full_warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "the {action:?} rate limit tracks {} clients, its most: clients beyond \
                         that are not limited until some of them have waited out their limit",
                        self.0.max_keys
                    );
                }
                return Ok(attempt(None));
            }
        }
        match budget.limiter.check_key(&key) {
            Ok(()) => Ok(attempt(Some(key))),
            Err(not_until) => Err(self.retry_after(&not_until)),
        }
    }

    fn retry_after(&self, not_until: &NotUntil<Duration>) -> RetryAfter {
        let wait = not_until.wait_time_from(self.0.clock.now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        RetryAfter(secs.max(1))
    }

    /// A failure was kept: login codes feed the watch over all addresses.
    fn failed(&self, action: Action) {
        if action == Action::LoginCode
            && self.0.login_code_watch.check().is_err()
            && self.0.login_code_warned.check().is_ok()
        {
            tracing::warn!(
                "more than {LOGIN_CODE_WATCH} wrong login codes in the last hour, from many \
                 addresses: someone may be guessing codes (each address is limited; 80-bit codes \
                 make guessing hopeless, but look at the audit log's sign_in_failed events)"
            );
        }
    }

    /// Drops keys whose budget has refilled (their state is the same as a fresh key's).
    pub fn retain_recent(&self) {
        for budget in &self.0.budgets {
            budget.limiter.retain_recent();
            budget.limiter.shrink_to_fit();
        }
    }

    /// Keys tracked over all budgets.
    pub fn len(&self) -> usize {
        self.0.budgets.iter().map(|b| b.store.len()).sum()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One reserved cell. Dropping it (or [`Attempt::failed`]) keeps the cell spent: an attempt
/// that ends any other way than [`Attempt::succeeded`] counts, so an early return or an error
/// never gives free tries.
#[derive(Debug)]
#[must_use = "an attempt counts as failed unless told it succeeded"]
pub struct Attempt {
    limiter: RateLimiter,
    action: Action,
    /// `None` when the budget did not track this key (see [`MAX_KEYS`]).
    key: Option<Key>,
}

impl Attempt {
    /// The attempt succeeded: its cell is given back.
    pub fn succeeded(mut self) {
        self.release();
    }

    /// The attempt failed for a reason that is not this budget's concern (a form error after a
    /// valid token, a passkey failure that names no account): its cell is given back.
    pub fn not_counted(mut self) {
        self.release();
    }

    /// The attempt failed: its cell stays spent.
    pub fn failed(self) {}

    fn release(&mut self) {
        if let Some(key) = self.key.take()
            && let Some(budget) = self.limiter.budget(self.action)
        {
            budget.refund(&key);
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if self.key.is_some() {
            self.limiter.failed(self.action);
        }
    }
}

#[cfg(test)]
mod tests;
