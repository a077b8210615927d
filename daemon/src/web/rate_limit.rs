//! An in-memory, fixed-window rate limiter keyed by (action, client IP).
//!
//! Time comes from the daemon's `Clock`, so tests move a manual clock instead of sleeping. The
//! map is bounded: when it is full, windows that have ended are dropped, and if that frees
//! nothing the oldest window goes. IPv6 clients are keyed by their /64, the block one
//! subscriber usually gets, so rotating addresses inside it buys nothing.
//!
//! Counters are in memory: a restart resets them. That is acceptable for a single daemon; it
//! cannot be shared between replicas.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

/// What is being limited. Each has its own budget per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `POST /lc`: failed and successful attempts both count.
    LoginCode,
    /// `POST /api/passkey/login/finish`.
    PasskeySignIn,
    /// `POST /setup/{token}`.
    Setup,
    /// `POST /signup` and `POST /st/{token}`: every attempt counts.
    Signup,
    /// Email (issue 6): `POST /login/email`, per client IP.
    EmailLinkRequest,
    /// Email (issue 6): `POST /login/email`, per address asked for (see
    /// [`RateLimiter::check_name`]).
    EmailLinkAddress,
    /// Email (issue 6): `POST /login/email/verify`, per client IP.
    EmailLinkUse,
}

impl Action {
    /// (attempts allowed, window length)
    fn limit(self) -> (u32, Duration) {
        match self {
            Action::LoginCode => (10, Duration::minutes(15)),
            Action::PasskeySignIn => (30, Duration::minutes(1)),
            Action::Setup => (10, Duration::minutes(15)),
            Action::Signup => (10, Duration::hours(1)),
            Action::EmailLinkRequest => (5, Duration::minutes(15)),
            Action::EmailLinkAddress => (3, Duration::hours(1)),
            Action::EmailLinkUse => (10, Duration::minutes(15)),
        }
    }
}

/// The caller is over the limit and may try again after this long (whole seconds, at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

/// What a budget is counted against: a client network, or a name (an email
/// address, kept only as a hash prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Bucket {
    Ip(IpAddr),
    Name([u8; 16]),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: OffsetDateTime,
    count: u32,
}

/// Shared by all handlers; cheap to clone.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    inner: Arc<Mutex<HashMap<(Action, Bucket), Window>>>,
    max_entries: usize,
}

/// The default bound on the number of tracked (action, IP) pairs.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(DEFAULT_MAX_ENTRIES)
    }
}

impl RateLimiter {
    pub fn new(max_entries: usize) -> RateLimiter {
        RateLimiter {
            inner: Arc::new(Mutex::new(HashMap::new())),
            max_entries: max_entries.max(1),
        }
    }

    /// Counts one attempt of `action` from `ip` at `now`, or refuses it when the budget for the
    /// current window is spent.
    pub fn check(&self, action: Action, ip: IpAddr, now: OffsetDateTime) -> Result<(), RetryAfter> {
        self.check_bucket(action, Bucket::Ip(bucket(ip)), now)
    }

    /// [`RateLimiter::check`] for a budget per name (an email address, folded
    /// by the caller) rather than per client.
    pub fn check_name(
        &self,
        action: Action,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<(), RetryAfter> {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(name.as_bytes());
        let mut key = [0u8; 16];
        key.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
        self.check_bucket(action, Bucket::Name(key), now)
    }

    fn check_bucket(
        &self,
        action: Action,
        bucket: Bucket,
        now: OffsetDateTime,
    ) -> Result<(), RetryAfter> {
        let (allowed, window) = action.limit();
        let key = (action, bucket);
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if !map.contains_key(&key) && map.len() >= self.max_entries {
            map.retain(|(a, _), w| w.started + a.limit().1 > now);
            if map.len() >= self.max_entries {
                let oldest = map.iter().min_by_key(|(_, w)| w.started).map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    map.remove(&oldest);
                }
            }
        }
        let entry = map.entry(key).or_insert(Window {
            started: now,
            count: 0,
        });
        if entry.started + window <= now || entry.started > now {
            *entry = Window {
                started: now,
                count: 0,
            };
        }
        if entry.count >= allowed {
            let left = (entry.started + window - now).whole_seconds();
            return Err(RetryAfter(u64::try_from(left).unwrap_or(1).max(1)));
        }
        entry.count += 1;
        Ok(())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// IPv4 addresses as they are (IPv4-mapped IPv6 too); IPv6 by /64.
fn bucket(ip: IpAddr) -> IpAddr {
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-23 08:00 UTC);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn login_codes_allow_ten_per_fifteen_minutes() {
        let limiter = RateLimiter::default();
        for _ in 0..10 {
            assert!(
                limiter
                    .check(Action::LoginCode, ip("192.0.2.1"), T0)
                    .is_ok()
            );
        }
        let later = T0 + Duration::minutes(5);
        assert_eq!(
            limiter.check(Action::LoginCode, ip("192.0.2.1"), later),
            Err(RetryAfter(600))
        );
        // Another IP and another action have their own budgets.
        assert!(
            limiter
                .check(Action::LoginCode, ip("192.0.2.2"), later)
                .is_ok()
        );
        assert!(
            limiter
                .check(Action::PasskeySignIn, ip("192.0.2.1"), later)
                .is_ok()
        );
        // The window ends.
        let next = T0 + Duration::minutes(15);
        assert!(
            limiter
                .check(Action::LoginCode, ip("192.0.2.1"), next)
                .is_ok()
        );
    }

    #[test]
    fn passkey_sign_in_allows_thirty_per_minute() {
        let limiter = RateLimiter::default();
        for _ in 0..30 {
            assert!(limiter.check(Action::PasskeySignIn, ip("::1"), T0).is_ok());
        }
        assert_eq!(
            limiter.check(Action::PasskeySignIn, ip("::1"), T0 + Duration::seconds(59)),
            Err(RetryAfter(1))
        );
        assert!(
            limiter
                .check(Action::PasskeySignIn, ip("::1"), T0 + Duration::seconds(60))
                .is_ok()
        );
    }

    #[test]
    fn ipv6_addresses_share_their_slash_64() {
        let limiter = RateLimiter::default();
        for i in 0..10 {
            let addr = ip(&format!("2001:db8:1:2::{i:x}"));
            assert!(limiter.check(Action::LoginCode, addr, T0).is_ok());
        }
        assert!(
            limiter
                .check(Action::LoginCode, ip("2001:db8:1:2:ffff::1"), T0)
                .is_err()
        );
        assert!(
            limiter
                .check(Action::LoginCode, ip("2001:db8:1:3::1"), T0)
                .is_ok()
        );
        // An IPv4-mapped address counts as the IPv4 address.
        for _ in 0..10 {
            assert!(limiter.check(Action::Setup, ip("192.0.2.9"), T0).is_ok());
        }
        assert!(
            limiter
                .check(Action::Setup, ip("::ffff:192.0.2.9"), T0)
                .is_err()
        );
    }

    #[test]
    fn the_map_stays_bounded() {
        let limiter = RateLimiter::new(3);
        for i in 0..10u8 {
            let t = T0 + Duration::seconds(i64::from(i));
            assert!(
                limiter
                    .check(Action::LoginCode, IpAddr::from([10, 0, 0, i]), t)
                    .is_ok()
            );
            assert!(limiter.len() <= 3);
        }
        // Expired windows are dropped first.
        let much_later = T0 + Duration::hours(1);
        assert!(
            limiter
                .check(Action::LoginCode, ip("10.0.1.1"), much_later)
                .is_ok()
        );
        assert_eq!(limiter.len(), 1);
    }
}
