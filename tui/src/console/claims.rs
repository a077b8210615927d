//! Custom claims in the console: drawn as lines under a heading (the user
//! detail and group members views), written as one line of the edit form,
//! and read back from it.

use ratatui::text::Line;

use super::loaded::Loaded;
use super::theme;

/// Custom claims as the daemon keeps them: names and JSON values.
pub type Claims = Vec<(String, serde_json::Value)>;

/// A heading and one `key = json` line per claim.
pub fn claim_lines(title: &str, claims: &Loaded<Claims>) -> Vec<Line<'static>> {
    let heading = match claims {
        Loaded::Ready(list) => format!("{title} ({})", list.len()),
        Loaded::Failed(_) => title.to_owned(),
        Loaded::Loading => format!("{title} …"),
    };
    let mut lines = vec![Line::styled(heading, theme::header())];
    match claims {
        Loaded::Failed(error) => lines.push(Line::styled(format!("  {error}"), theme::dim())),
        Loaded::Ready(list) if list.is_empty() => {
            lines.push(Line::styled("  none (c adds)", theme::dim()));
        }
        Loaded::Ready(list) => lines.extend(
            list.iter()
                .map(|(key, value)| Line::raw(format!("  {key} = {value}"))),
        ),
        Loaded::Loading => {}
    }
    lines
}

/// Claims as one line of the edit form: `key=json; key2=json`.
pub fn claims_text(claims: &[(String, serde_json::Value)]) -> String {
    claims
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads `key=value; key2=value2` (also one pair per line). A value that is
/// not valid JSON is taken as a string; `;` inside JSON strings, arrays and
/// objects does not split. `Err` names what is wrong.
pub fn parse_claims(text: &str) -> Result<Claims, String> {
    let mut claims: Claims = Vec::new();
    for pair in split_pairs(text) {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("\"{pair}\" is not key=value"));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("\"{pair}\" has no claim name"));
        }
        if claims.iter().any(|(k, _)| k == key) {
            return Err(format!("claim {key} is given twice"));
        }
        let value = value.trim();
        let value = serde_json::from_str(value)
            .unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
        claims.push((key.to_owned(), value));
    }
    Ok(claims)
}

/// Splits on `;` and newlines outside JSON strings and brackets.
fn split_pairs(text: &str) -> Vec<&str> {
    let mut pairs = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0usize, false, false, 0);
    for (at, c) in text.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => depth += 1,
            ']' | '}' => depth = depth.saturating_sub(1),
            ';' | '\n' if depth == 0 => {
                pairs.push(text.get(start..at).unwrap_or(""));
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    pairs.push(text.get(start..).unwrap_or(""));
    pairs
}
