//! The token lifetimes a client may override: the defaults, the allowed ranges, checking and
//! merging an admin's overrides, and saying a lifetime in words.

use latchkey_protocol::TokenLifetimes;

use crate::idm::IdmError;
use crate::idm::audit::detail;

/// Authorization code lifetime unless a client overrides it: 10 minutes.
pub const DEFAULT_CODE_SECS: u64 = 10 * 60;
/// Access (and ID) token lifetime unless a client overrides it: 60 minutes.
pub const DEFAULT_ACCESS_TOKEN_SECS: u64 = 60 * 60;
/// Refresh token lifetime unless a client overrides it: 30 days.
pub const DEFAULT_REFRESH_TOKEN_SECS: u64 = 30 * 24 * 60 * 60;
/// How long a chain of refresh tokens may go on unless a client overrides it: 90 days from
/// the code exchange, however often it is rotated (without it, a client that refreshes
/// within the lifetime keeps a sign-in alive for ever).
pub const DEFAULT_REFRESH_MAX_SECS: u64 = 90 * 24 * 60 * 60;

/// Allowed overrides, in seconds: code 1–60 minutes, access token 1 minute
/// to 1 day, refresh token 1 hour to 365 days, refresh chain 1 hour to 10 years.
pub const CODE_SECS_RANGE: (u64, u64) = (60, 60 * 60);
pub const ACCESS_TOKEN_SECS_RANGE: (u64, u64) = (60, 24 * 60 * 60);
pub const REFRESH_TOKEN_SECS_RANGE: (u64, u64) = (60 * 60, 365 * 24 * 60 * 60);
pub const REFRESH_MAX_SECS_RANGE: (u64, u64) = (60 * 60, 3650 * 24 * 60 * 60);

/// "1 minute", "10 minutes", "2 hours", "30 days", "90 seconds".
pub fn describe_secs(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s % 86_400 == 0 && s > 0 => (s / 86_400, "day"),
        s if s % 3600 == 0 && s > 0 => (s / 3600, "hour"),
        s if s % 60 == 0 && s > 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn check_lifetime(
    field: &'static str,
    value: Option<u64>,
    (min, max): (u64, u64),
) -> Result<(), IdmError> {
    match value {
        Some(secs) if secs < min || secs > max => Err(IdmError::invalid(
            field,
            format!(
                "must be between {} and {} (got {})",
                describe_secs(min),
                describe_secs(max),
                describe_secs(secs)
            ),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn validate_lifetimes(lifetimes: &TokenLifetimes) -> Result<(), IdmError> {
    check_lifetime("code_lifetime", lifetimes.code_secs, CODE_SECS_RANGE)?;
    check_lifetime(
        "access_token_lifetime",
        lifetimes.access_token_secs,
        ACCESS_TOKEN_SECS_RANGE,
    )?;
    check_lifetime(
        "refresh_token_lifetime",
        lifetimes.refresh_token_secs,
        REFRESH_TOKEN_SECS_RANGE,
    )?;
    check_lifetime(
        "refresh_max_lifetime",
        lifetimes.refresh_max_secs,
        REFRESH_MAX_SECS_RANGE,
    )
}

/// A patch's lifetimes, field by field: `None` leaves one alone, `Some(0)`
/// puts the default back, anything else sets it.
pub(crate) fn merge_lifetimes(old: TokenLifetimes, given: TokenLifetimes) -> TokenLifetimes {
    let merge = |old: Option<u64>, given: Option<u64>| match given {
        None => old,
        Some(0) => None,
        Some(secs) => Some(secs),
    };
    TokenLifetimes {
        code_secs: merge(old.code_secs, given.code_secs),
        access_token_secs: merge(old.access_token_secs, given.access_token_secs),
        refresh_token_secs: merge(old.refresh_token_secs, given.refresh_token_secs),
        refresh_max_secs: merge(old.refresh_max_secs, given.refresh_max_secs),
    }
}

pub(super) fn lifetime_details(lifetimes: &TokenLifetimes) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, value) in [
        ("code_secs", lifetimes.code_secs),
        ("access_token_secs", lifetimes.access_token_secs),
        ("refresh_token_secs", lifetimes.refresh_token_secs),
        ("refresh_max_secs", lifetimes.refresh_max_secs),
    ] {
        if let Some(value) = value {
            out.push(detail(key, value.to_string()));
        }
    }
    out
}
