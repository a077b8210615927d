//! Forgetting rate-limit keys whose budget has refilled, so the limiter's
//! memory stays bounded by recent traffic (`web::rate_limit`).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often refilled keys are dropped.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// Calls `retain_recent` every [`INTERVAL`] until `shutdown`. The limiter is
/// the web layer's; it is passed in as the one call this job makes.
pub async fn run(retain_recent: impl Fn() + Send + 'static, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticks.tick() => retain_recent(),
        }
    }
}
