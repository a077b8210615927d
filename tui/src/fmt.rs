//! Small text formatting shared by the command line and the console.

use latchkey_protocol::SettingView;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

/// `2026-11-05 14:03:07 UTC`: unambiguous and sortable, without the noise of RFC 3339.
pub fn timestamp(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
    ))
    // Formatting a UTC date with these components cannot fail; fall back
    // rather than panic all the same.
    .unwrap_or_else(|_| at.to_string())
}

/// `2026-11-05 14:03`: for tight columns, in UTC like [`timestamp`].
pub fn short_time(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!("[year]-[month]-[day] [hour]:[minute]"))
        .unwrap_or_else(|_| at.to_string())
}

/// A code for reading aloud in groups of four: the daemon's grouping when
/// it has one, else `ABCD-EFGH-…`.
pub fn grouped_code(code: &str) -> String {
    if code.contains(['-', ' ']) {
        return code.to_owned();
    }
    let chars: Vec<char> = code.chars().collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// `100000` → `100,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `90 seconds`, `10 minutes`, `1 hour`, `30 days`: the largest whole unit.
pub fn duration(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s > 0 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s > 0 && s % 3600 == 0 => (s / 3600, "hour"),
        s if s > 0 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

pub fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// "first last", without stray spaces when one is empty.
pub fn full_name(first: &str, last: &str) -> String {
    match (first.is_empty(), last.is_empty()) {
        (false, false) => format!("{first} {last}"),
        (false, true) => first.to_owned(),
        _ => last.to_owned(),
    }
}

/// A setting's value as people read it: text bare, lists comma-separated,
/// write-only secrets as `set` or `unset`.
pub fn setting_value(setting: &SettingView) -> String {
    match (&setting.value, setting.write_only) {
        (Value::Null, true) => "unset".to_owned(),
        (_, true) => "set".to_owned(),
        (Value::Null, false) => "-".to_owned(),
        (Value::String(text), false) => text.clone(),
        (Value::Array(items), false) => {
            let items: Vec<String> = items
                .iter()
                .map(|item| match item {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect();
            if items.is_empty() {
                "-".to_owned()
            } else {
                items.join(", ")
            }
        }
        (other, false) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_counts_and_times() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(
            timestamp(datetime!(2026-11-05 15:03:07 +01:00)),
            "2026-11-05 14:03:07 UTC"
        );
        assert_eq!(full_name("Ada", ""), "Ada");
        assert_eq!(
            short_time(datetime!(2026-11-05 15:03:07 +01:00)),
            "2026-11-05 14:03"
        );
        assert_eq!(grouped_code("K7QDM2XH9PRTWC4A"), "K7QD-M2XH-9PRT-WC4A");
        assert_eq!(grouped_code("K7QD-M2XH"), "K7QD-M2XH");
        assert_eq!(grouped_code("K7QDM2"), "K7QD-M2");
        assert_eq!(full_name("", "Lovelace"), "Lovelace");
        assert_eq!(duration(90), "90 seconds");
        assert_eq!(duration(600), "10 minutes");
        assert_eq!(duration(3600), "1 hour");
        assert_eq!(duration(30 * 86_400), "30 days");
    }
}
