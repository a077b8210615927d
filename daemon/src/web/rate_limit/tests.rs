use time::macros::datetime;

use super::*;
use crate::clock::ManualClock;

fn setup() -> (RateLimiter, ManualClock) {
    let clock = ManualClock::new(datetime!(2026-11-23 08:00 UTC));
    (RateLimiter::new(Arc::new(clock.clone())), clock)
}

fn ip(s: &str) -> Key {
    Key::client(s.parse().unwrap())
}

fn fail(limiter: &RateLimiter, action: Action, key: Key) -> Result<(), RetryAfter> {
    limiter.begin(action, key).map(Attempt::failed)
}

#[test]
fn successes_cost_nothing() {
    let (limiter, _) = setup();
    let office = ip("192.0.2.1");
    for _ in 0..50 {
        limiter
            .begin(Action::LoginCode, office)
            .unwrap()
            .succeeded();
    }
    // The whole failure budget is still there.
    for _ in 0..10 {
        fail(&limiter, Action::LoginCode, office).unwrap();
    }
    assert!(limiter.begin(Action::LoginCode, office).is_err());
}

#[test]
fn ten_failures_lock_the_address_until_a_cell_refills() {
    let (limiter, clock) = setup();
    let a = ip("192.0.2.1");
    for _ in 0..10 {
        fail(&limiter, Action::LoginCode, a).unwrap();
    }
    // Refused before the attempt: not even a correct code gets through.
    assert_eq!(
        limiter.begin(Action::LoginCode, a).unwrap_err(),
        RetryAfter(90)
    );
    clock.advance(time::Duration::seconds(30));
    assert_eq!(
        limiter.begin(Action::LoginCode, a).unwrap_err(),
        RetryAfter(60)
    );
    // Another address, another action: their own budgets.
    assert!(limiter.begin(Action::LoginCode, ip("192.0.2.2")).is_ok());
    assert!(limiter.begin(Action::Setup, a).is_ok());
    // One cell refills every 90 s: one more try, then locked again.
    clock.advance(time::Duration::seconds(60));
    fail(&limiter, Action::LoginCode, a).unwrap();
    assert!(limiter.begin(Action::LoginCode, a).is_err());
    // After 15 minutes the whole budget is back.
    clock.advance(time::Duration::minutes(15));
    for _ in 0..10 {
        fail(&limiter, Action::LoginCode, a).unwrap();
    }
    assert!(limiter.begin(Action::LoginCode, a).is_err());
}

#[test]
fn attempts_in_flight_hold_their_cells() {
    let (limiter, _) = setup();
    let a = ip("198.51.100.7");
    // Ten concurrent guesses, none finished: the eleventh waits for their outcome.
    let in_flight: Vec<Attempt> = (0..10)
        .map(|_| limiter.begin(Action::LoginCode, a).unwrap())
        .collect();
    assert!(limiter.begin(Action::LoginCode, a).is_err());
    let mut in_flight = in_flight.into_iter();
    // One succeeds: its cell comes back.
    in_flight.next().unwrap().succeeded();
    let extra = limiter.begin(Action::LoginCode, a).unwrap();
    assert!(limiter.begin(Action::LoginCode, a).is_err());
    // Dropped without an outcome: counted as failed.
    drop(extra);
    drop(in_flight);
    assert!(limiter.begin(Action::LoginCode, a).is_err());
}

#[test]
fn attempts_count_where_every_attempt_is_the_cost() {
    let (limiter, clock) = setup();
    let a = ip("192.0.2.1");
    for _ in 0..10 {
        limiter.check(Action::SignupOpen, a).unwrap();
    }
    let RetryAfter(secs) = limiter.check(Action::SignupOpen, a).unwrap_err();
    assert_eq!(secs, 6 * 60);
    clock.advance(time::Duration::hours(1));
    assert!(limiter.check(Action::SignupOpen, a).is_ok());
    // Per name, independent of the client.
    for _ in 0..3 {
        limiter
            .check(Action::EmailLinkAddress, Key::name("alice@example.com"))
            .unwrap();
    }
    assert!(
        limiter
            .check(Action::EmailLinkAddress, Key::name("alice@example.com"))
            .is_err()
    );
    assert!(
        limiter
            .check(Action::EmailLinkAddress, Key::name("bob@example.com"))
            .is_ok()
    );
}

#[test]
fn ipv6_addresses_share_their_slash_64() {
    let (limiter, _) = setup();
    for i in 0..10 {
        fail(
            &limiter,
            Action::LoginCode,
            ip(&format!("2001:db8:1:2::{i:x}")),
        )
        .unwrap();
    }
    assert!(
        limiter
            .begin(Action::LoginCode, ip("2001:db8:1:2:ffff::1"))
            .is_err()
    );
    assert!(
        limiter
            .begin(Action::LoginCode, ip("2001:db8:1:3::1"))
            .is_ok()
    );
    // An IPv4-mapped address counts as the IPv4 address.
    for _ in 0..10 {
        fail(&limiter, Action::Setup, ip("192.0.2.9")).unwrap();
    }
    assert!(
        limiter
            .begin(Action::Setup, ip("::ffff:192.0.2.9"))
            .is_err()
    );
}

#[test]
fn memory_stays_bounded() {
    let clock = ManualClock::new(datetime!(2026-11-23 08:00 UTC));
    let limiter = RateLimiter::with_max_keys(Arc::new(clock.clone()), 3);
    for i in 0..3u8 {
        fail(
            &limiter,
            Action::LoginCode,
            Key::client([10, 0, 0, i].into()),
        )
        .unwrap();
    }
    // Full of live keys: a new one is let through without being tracked.
    let new = Key::client([10, 0, 1, 1].into());
    for _ in 0..20 {
        fail(&limiter, Action::LoginCode, new).unwrap();
    }
    assert_eq!(limiter.len(), 3);
    // Once the others have refilled, they are dropped and the new key is tracked.
    clock.advance(time::Duration::minutes(4));
    for _ in 0..10 {
        fail(&limiter, Action::LoginCode, new).unwrap();
    }
    assert!(limiter.begin(Action::LoginCode, new).is_err());
    assert_eq!(limiter.len(), 1);
    // The periodic sweep drops refilled keys too.
    clock.advance(time::Duration::minutes(17));
    limiter.retain_recent();
    assert!(limiter.is_empty());
}
