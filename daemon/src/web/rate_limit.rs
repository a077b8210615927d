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

mod budgets;
mod governor_store;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use governor::NotUntil;
use governor::clock::Clock as GovernorClock;
use governor::state::keyed::ShrinkableKeyedStateStore;

use crate::clock::Clock;
use governor_store::{Budget, DaemonClock, Direct, quota};

pub use budgets::{Action, Key, LOGIN_CODE_WATCH, MAX_KEYS, RetryAfter, network};

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
            Err(not_until) => {
                if crate::metrics::on() {
                    let limit = format!("{action:?}");
                    ::metrics::counter!("latchkey_rate_limit_refusals_total", "limit" => limit)
                        .increment(1);
                }
                Err(self.retry_after(&not_until))
            }
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
