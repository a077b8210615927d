//! The TOML file layer: reads the file and turns each top-level key into a setting, reporting
//! unknown keys, wrong types and invalid values with the line they are on.
//!
//! The document is walked as `toml`'s spanned `DeTable` rather than deserialized into a
//! `#[serde(deny_unknown_fields)]` struct: serde's own messages ("unknown field `x`, expected one
//! of …", "invalid type: integer, expected a string") cannot name the key or carry the advice
//! this module gives, and the spans give every error a line number.

use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::error::{ConfigError, FileChoice, Origin, closest};
use super::layer::{Key, Layer};
use super::value;

/// Reads and parses `path`. `Ok(None)` only when an implicitly chosen file does not exist.
pub fn read(path: &Path, choice: FileChoice) -> Result<Option<Layer>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text).map(Some),
        Err(error)
            if choice == FileChoice::Implicit && error.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        Err(source) => Err(ConfigError::Read {
            path: path.to_owned(),
            choice,
            source,
        }),
    }
}

/// Parses the text of the file named `path` (the name is only used in messages).
pub fn parse(path: &Path, text: &str) -> Result<Layer, ConfigError> {
    let document = DeTable::parse(text).map_err(|error| {
        let (line, column) = error
            .span()
            .map_or((1, 1), |span| line_and_column(text, span.start));
        ConfigError::Syntax {
            path: path.to_owned(),
            line,
            column,
            message: error.message().to_owned(),
        }
    })?;
    let origin = |span: Range<usize>| Origin::File {
        path: path.to_owned(),
        line: line_and_column(text, span.start).0,
    };

    // Report problems in file order, not in the table's key order.
    let mut entries: Vec<_> = document.get_ref().iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);

    let mut layer = Layer::default();
    for (name, entry) in entries {
        let Some(key) = Key::from_name(name.get_ref()) else {
            return Err(ConfigError::UnknownKey {
                path: path.to_owned(),
                line: line_and_column(text, name.span().start).0,
                key: name.get_ref().to_string(),
                suggestion: closest(name.get_ref(), Key::ALL.map(Key::name)),
            });
        };
        let wrong_type = |value: &DeValue<'_>, span: Range<usize>| ConfigError::Invalid {
            origin: origin(span.clone()),
            key: key.name(),
            message: format!(
                "expected {}, got {}",
                key.example(),
                if key.is_secret() {
                    // The text may hold the password: its type is enough.
                    value.type_str().to_owned()
                } else {
                    describe(value, text, span)
                }
            ),
        };
        match (key, entry.get_ref()) {
            (Key::TrustedProxies, DeValue::Array(items)) => {
                let mut proxies = Vec::with_capacity(items.len());
                for item in items.iter() {
                    let DeValue::String(raw) = item.get_ref() else {
                        return Err(wrong_type(item.get_ref(), item.span()));
                    };
                    let proxy = value::proxy(raw).map_err(|message| ConfigError::Invalid {
                        origin: origin(item.span()),
                        key: key.name(),
                        message,
                    })?;
                    proxies.push(proxy);
                }
                layer.trusted_proxies = Some(proxies);
            }
            (Key::TrustedProxies, other) => return Err(wrong_type(other, entry.span())),
            (key, DeValue::Integer(number)) if key.is_number() && number.radix() == 10 => {
                layer.set_str(key, number.as_str(), origin(entry.span()))?;
            }
            (key, other) if key.is_number() => return Err(wrong_type(other, entry.span())),
            (_, DeValue::String(raw)) => layer.set_str(key, raw, origin(entry.span()))?,
            (_, other) => return Err(wrong_type(other, entry.span())),
        }
    }
    Ok(layer)
}

/// "integer 1411", "array [1, 2]", "a table": the wrong value as the operator wrote it.
fn describe(value: &DeValue<'_>, text: &str, span: Range<usize>) -> String {
    if let DeValue::Table(_) = value {
        return "a table".to_owned();
    }
    let raw = text.get(span).unwrap_or_default();
    let shown: String = raw.chars().take(40).collect();
    let ellipsis = if shown.len() < raw.len() { "…" } else { "" };
    format!("{} {shown}{ellipsis}", value.type_str())
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> String {
        parse(Path::new("/etc/latchkey.toml"), text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn reads_every_key() {
        let text = r#"
listen = "0.0.0.0:8080"
public_url = "https://id.example.com/"
data_dir = "/var/lib/latchkey"
socket = "/run/latchkey.sock"
log = "debug"
trusted_proxies = ["10.0.0.1", "::1", "10.8.0.0/16"]
header_timeout_secs = 5
idle_timeout_secs = 120
body_timeout_secs = 20
max_connections = 64
"#;
        let layer = parse(Path::new("x.toml"), text).unwrap();
        assert_eq!(layer.listen, Some("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(layer.public_url.unwrap().as_str(), "https://id.example.com");
        assert_eq!(layer.data_dir.unwrap(), Path::new("/var/lib/latchkey"));
        let (socket, origin) = layer.socket.unwrap();
        assert_eq!(socket, Path::new("/run/latchkey.sock"));
        assert_eq!(
            origin,
            Origin::File {
                path: "x.toml".into(),
                line: 5
            }
        );
        assert_eq!(layer.log.as_deref(), Some("debug"));
        assert_eq!(layer.trusted_proxies.unwrap().len(), 3);
        assert_eq!(
            layer.header_timeout,
            Some(std::time::Duration::from_secs(5))
        );
        assert_eq!(
            layer.idle_timeout,
            Some(std::time::Duration::from_secs(120))
        );
        assert_eq!(layer.body_timeout, Some(std::time::Duration::from_secs(20)));
        assert_eq!(layer.max_connections, Some(64));
    }

    #[test]
    fn empty_file_sets_nothing() {
        let layer = parse(Path::new("x.toml"), "# nothing\n").unwrap();
        assert!(
            layer.listen.is_none() && layer.socket.is_none() && layer.trusted_proxies.is_none()
        );
    }

    #[test]
    fn unknown_key() {
        assert_eq!(
            parse_err("listen = \"127.0.0.1:1\"\nlisen = \"x\"\n"),
            "/etc/latchkey.toml line 2: unknown key \"lisen\", did you mean \"listen\"? (known keys: \
             listen, public_url, data_dir, database_url, encryption_key_file, socket, log, \
             trusted_proxies, header_timeout_secs, idle_timeout_secs, body_timeout_secs, \
             max_connections, tls_cert, tls_key, metrics_listen, log_format, admin_group)"
        );
        assert_eq!(
            parse_err("[server]\nport = 1\n"),
            "/etc/latchkey.toml line 1: unknown key \"server\" (known keys: listen, public_url, \
             data_dir, database_url, encryption_key_file, socket, log, trusted_proxies, \
             header_timeout_secs, idle_timeout_secs, body_timeout_secs, max_connections, tls_cert, tls_key, metrics_listen, log_format, admin_group)"
        );
    }

    #[test]
    fn first_problem_in_file_order() {
        // "zzz" sorts after "aaa" but comes first in the file.
        let err = parse_err("zzz = 1\naaa = 2\n");
        assert!(err.contains("line 1: unknown key \"zzz\""), "{err}");
    }

    #[test]
    fn wrong_type_has_line_and_key() {
        assert_eq!(
            parse_err("\n\nlisten = 1411\n"),
            "/etc/latchkey.toml line 3: listen: expected a string like \"127.0.0.1:1411\", got \
             integer 1411"
        );
        assert_eq!(
            parse_err("trusted_proxies = \"10.0.0.1\""),
            "/etc/latchkey.toml line 1: trusted_proxies: expected an array of IP addresses or \
             networks like [\"10.0.0.1\", \"172.16.0.0/12\"], got string \"10.0.0.1\""
        );
        assert_eq!(
            parse_err("trusted_proxies = [\n  \"10.0.0.1\",\n  10,\n]"),
            "/etc/latchkey.toml line 3: trusted_proxies: expected an array of IP addresses or \
             networks like [\"10.0.0.1\", \"172.16.0.0/12\"], got integer 10"
        );
        assert_eq!(
            parse_err("header_timeout_secs = \"10\""),
            "/etc/latchkey.toml line 1: header_timeout_secs: expected a whole number of seconds \
             like 10, got string \"10\""
        );
        let err = parse_err("[listen]\nport = 1\n");
        assert!(
            err.ends_with("listen: expected a string like \"127.0.0.1:1411\", got a table"),
            "{err}"
        );
        let err = parse_err(&format!("log = [{}]", "\"x\", ".repeat(20)));
        assert!(err.contains("got array [\"x\", "), "{err}");
        assert!(err.ends_with('…'), "{err}");
    }

    #[test]
    fn invalid_value_has_line_and_key() {
        assert_eq!(
            parse_err("# comment\n\nlisten = \"localhost\"\n"),
            "/etc/latchkey.toml line 3: listen: expected an address like 127.0.0.1:1411, got \
             \"localhost\""
        );
        assert_eq!(
            parse_err("public_url = \"ftp://x\""),
            "/etc/latchkey.toml line 1: public_url: \"ftp://x\" is not an http or https URL"
        );
        assert_eq!(
            parse_err("trusted_proxies = [\"10.0.0.1\",\n\"10.0.0.0/33\"]"),
            "/etc/latchkey.toml line 2: trusted_proxies: \"10.0.0.0/33\" is not a network: \
             expected an address, a slash and a prefix length, like 10.0.0.0/8 or fd00::/8"
        );
        assert_eq!(
            parse_err("\nmax_connections = 0"),
            "/etc/latchkey.toml line 2: max_connections: expected a whole number of connections \
             from 1 to 1000000, got \"0\""
        );
        assert_eq!(
            parse_err("data_dir = \"\""),
            "/etc/latchkey.toml line 1: data_dir: expected a path, got an empty string"
        );
    }

    #[test]
    fn syntax_errors_keep_line_and_column() {
        let err = parse_err("listen = \"127.0.0.1:1411\"\npublic_url = \n");
        assert!(
            err.starts_with("/etc/latchkey.toml line 2, column "),
            "{err}"
        );
        let err = parse_err("log = \"a\"\nlog = \"b\"\n");
        assert!(
            err.starts_with("/etc/latchkey.toml line 2, column 1: duplicate key"),
            "{err}"
        );
    }

    #[test]
    fn line_and_column_counts_chars() {
        assert_eq!(line_and_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_and_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_and_column("é\nx", 3), (2, 1));
        assert_eq!(line_and_column("éx", 2), (1, 2));
    }

    #[test]
    fn missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("latchkey.toml");
        assert!(read(&missing, FileChoice::Implicit).unwrap().is_none());
        let err = read(&missing, FileChoice::Flag).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{}: cannot read the configuration file given by --config: ",
                missing.display()
            )),
            "{err}"
        );
        // Present but unreadable is an error even when implicit.
        let err = read(dir.path(), FileChoice::Implicit)
            .unwrap_err()
            .to_string();
        assert!(err.contains("found in the working directory"), "{err}");
        std::fs::write(&missing, b"log = \"\xff\"").unwrap();
        let err = read(&missing, FileChoice::Env).unwrap_err().to_string();
        assert!(
            err.ends_with("given by LATCHKEY_CONFIG: it is not valid UTF-8"),
            "{err}"
        );
    }
}
