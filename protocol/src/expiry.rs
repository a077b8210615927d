//! Expiry durations as admins type them: `1h`, `12h`, `1d`, `1w`, `1m`
//! (a month of 30 days), or any `<n><unit>` with units `min`, `h`, `d`, `w`,
//! `m` — shared by the CLI and the console so both accept the same words.

use std::time::Duration;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// The longest a login code or signup token may live.
pub const MAX_EXPIRY: Duration = Duration::from_secs(31 * DAY);

/// The presets offered in pickers, with their labels.
pub const EXPIRY_PRESETS: [(&str, &str); 5] = [
    ("1h", "1 hour"),
    ("12h", "12 hours"),
    ("1d", "1 day"),
    ("1w", "1 week"),
    ("1m", "1 month"),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryError {
    #[error("{0:?} is not a duration; use a number and a unit: 90min, 12h, 3d, 2w or 1m (a month)")]
    Syntax(String),
    #[error("{0:?} is longer than the maximum of 31 days")]
    TooLong(String),
    #[error("{0:?} is zero; an expiry must be in the future")]
    Zero(String),
}

/// Parses an expiry such as `1h` or `3d` (at most 31 days).
pub fn parse_expiry(text: &str) -> Result<Duration, ExpiryError> {
    let trimmed = text.trim().to_ascii_lowercase();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| ExpiryError::Syntax(text.to_owned()))?;
    let (number, unit) = trimmed.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| ExpiryError::Syntax(text.to_owned()))?;
    let unit_secs = match unit {
        "min" | "mins" | "minute" | "minutes" => MINUTE,
        "h" | "hour" | "hours" => HOUR,
        "d" | "day" | "days" => DAY,
        "w" | "week" | "weeks" => 7 * DAY,
        "m" | "mo" | "month" | "months" => 30 * DAY,
        _ => return Err(ExpiryError::Syntax(text.to_owned())),
    };
    let secs = number
        .checked_mul(unit_secs)
        .ok_or_else(|| ExpiryError::TooLong(text.to_owned()))?;
    if secs == 0 {
        return Err(ExpiryError::Zero(text.to_owned()));
    }
    let duration = Duration::from_secs(secs);
    if duration > MAX_EXPIRY {
        return Err(ExpiryError::TooLong(text.to_owned()));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse() {
        let want = [HOUR, 12 * HOUR, DAY, 7 * DAY, 30 * DAY];
        for ((text, _), secs) in EXPIRY_PRESETS.iter().zip(want) {
            assert_eq!(parse_expiry(text), Ok(Duration::from_secs(secs)), "{text}");
        }
    }

    #[test]
    fn other_durations_parse() {
        assert_eq!(parse_expiry("90min"), Ok(Duration::from_secs(90 * MINUTE)));
        assert_eq!(parse_expiry(" 3D "), Ok(Duration::from_secs(3 * DAY)));
        assert_eq!(parse_expiry("31d"), Ok(MAX_EXPIRY));
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(matches!(parse_expiry("32d"), Err(ExpiryError::TooLong(_))));
        assert!(matches!(parse_expiry("2m"), Err(ExpiryError::TooLong(_))));
        assert!(matches!(parse_expiry("0h"), Err(ExpiryError::Zero(_))));
        assert!(matches!(parse_expiry("h"), Err(ExpiryError::Syntax(_))));
        assert!(matches!(parse_expiry("12"), Err(ExpiryError::Syntax(_))));
        assert!(matches!(parse_expiry("1y"), Err(ExpiryError::Syntax(_))));
        assert!(matches!(
            parse_expiry("99999999999999999999w"),
            Err(ExpiryError::Syntax(_))
        ));
    }
}
