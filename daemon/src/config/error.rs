//! `ConfigError` and `Origin`: every configuration failure names where the value came from, the
//! key, what is wrong and what was expected.

use std::fmt;
use std::path::PathBuf;

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// A line of a TOML file.
    File {
        /// The file as it was named.
        path: PathBuf,
        /// 1-based line of the value.
        line: usize,
    },
    /// An environment variable, e.g. `LATCHKEY_LISTEN`.
    Env(&'static str),
    /// A command-line flag, e.g. `--listen`.
    Cli(&'static str),
}

/// How the configuration file was chosen; named when it cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileChoice {
    /// `--config FILE`.
    Flag,
    /// `LATCHKEY_CONFIG=FILE`.
    Env,
    /// `./latchkey.toml`, read only if it exists.
    Implicit,
}

impl fmt::Display for FileChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileChoice::Flag => "given by --config",
            FileChoice::Env => "given by LATCHKEY_CONFIG",
            FileChoice::Implicit => "found in the working directory",
        })
    }
}

/// Why the configuration could not be loaded. `Display` is the whole message for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read (an explicitly named file must exist).
    #[error("{}: cannot read the configuration file {choice}: {}", path.display(), io_reason(source))]
    Read {
        /// The file.
        path: PathBuf,
        /// How it was chosen.
        choice: FileChoice,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML (the message is the `toml` crate's).
    #[error("{} line {line}, column {column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// A key in the file that is not a setting.
    #[error(
        "{} line {line}: unknown key {key:?}{} (known keys: {})",
        path.display(),
        did_you_mean(*suggestion),
        super::Key::ALL.map(super::Key::name).join(", ")
    )]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// 1-based line of the key.
        line: usize,
        /// The key as written.
        key: String,
        /// A known key it is probably a misspelling of.
        suggestion: Option<&'static str>,
    },
    /// A value that is present but wrong.
    #[error("{}", invalid_message(origin, key, message))]
    Invalid {
        /// Where the value came from.
        origin: Origin,
        /// The setting's TOML key, e.g. `listen`.
        key: &'static str,
        /// What is wrong and what was expected, naming the value.
        message: String,
    },
}

fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::InvalidData => "it is not valid UTF-8".to_owned(),
        _ => error.to_string(),
    }
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |known| format!(", did you mean {known:?}?"))
}

fn invalid_message(origin: &Origin, key: &str, message: &str) -> String {
    match origin {
        Origin::Default => format!("{key} (default): {message}"),
        Origin::File { path, line } => format!("{} line {line}: {key}: {message}", path.display()),
        // The variable or flag already names the key.
        Origin::Env(name) | Origin::Cli(name) => format!("{name}: {message}"),
    }
}

/// The candidate within edit distance 2 of `name` (ignoring case), if there is exactly a closest
/// one; for "did you mean" hints.
pub(super) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|candidate| {
            (
                edit_distance(&name, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute =
                previous.get(j).copied().unwrap_or(usize::MAX) + usize::from(ca != *cb);
            let delete = previous
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let insert = current
                .last()
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            current.push(substitute.min(delete).min(insert));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("lisen", "listen"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(closest("lisen", ["listen", "log"]), Some("listen"));
        assert_eq!(
            closest("LATCHKEY_LISTN", ["LATCHKEY_LISTEN"]),
            Some("LATCHKEY_LISTEN")
        );
        assert_eq!(closest("colour", ["listen", "log"]), None);
    }

    #[test]
    fn invalid_names_its_origin() {
        let message = "expected x".to_owned();
        let file = ConfigError::Invalid {
            origin: Origin::File {
                path: "/etc/l.toml".into(),
                line: 3,
            },
            key: "listen",
            message: message.clone(),
        };
        assert_eq!(file.to_string(), "/etc/l.toml line 3: listen: expected x");
        let env = ConfigError::Invalid {
            origin: Origin::Env("LATCHKEY_LISTEN"),
            key: "listen",
            message: message.clone(),
        };
        assert_eq!(env.to_string(), "LATCHKEY_LISTEN: expected x");
        let cli = ConfigError::Invalid {
            origin: Origin::Cli("--listen"),
            key: "listen",
            message: message.clone(),
        };
        assert_eq!(cli.to_string(), "--listen: expected x");
        let default = ConfigError::Invalid {
            origin: Origin::Default,
            key: "socket",
            message,
        };
        assert_eq!(default.to_string(), "socket (default): expected x");
    }
}
