//! The environment layer: `LATCHKEY_*` variables. Unknown ones are warned about, not refused,
//! because other tools (and other Latchkey programs) may set variables with the same prefix.

use std::path::PathBuf;

use super::error::{ConfigError, Origin, closest};
use super::layer::{Key, Layer};
use super::{Secret, value};

/// The prefix every Latchkey variable has.
pub const PREFIX: &str = "LATCHKEY_";

/// Names the configuration file when `--config` is not given.
pub const CONFIG_VAR: &str = "LATCHKEY_CONFIG";

/// The key that encrypts secrets in the database, as base64 (instead of a key file). Only an
/// environment variable: a key in a configuration file or on a command line (which `ps` shows)
/// would be easier to leak.
pub const ENCRYPTION_KEY_VAR: &str = crate::sealing::ENCRYPTION_KEY_VAR;

/// Variables that are not settings but that Latchkey programs read; never warned about. Add the
/// console's own variables here if it grows any beyond the settings (it shares `LATCHKEY_SOCKET`
/// and `LATCHKEY_DATA_DIR` with the daemon).
const OTHER_KNOWN_VARS: [&str; 2] = [CONFIG_VAR, ENCRYPTION_KEY_VAR];

/// What the environment provides.
#[derive(Debug, Default)]
pub struct EnvLayer {
    /// The settings.
    pub layer: Layer,
    /// `LATCHKEY_CONFIG`, if set.
    pub config_file: Option<PathBuf>,
    /// `LATCHKEY_ENCRYPTION_KEY`, if set.
    pub encryption_key: Option<Secret<[u8; 32]>>,
}

/// Reads the `LATCHKEY_*` pairs out of `env`, ignoring everything else. Variables are handled in
/// name order so errors and warnings are deterministic.
pub fn read(
    env: impl IntoIterator<Item = (String, String)>,
    warnings: &mut Vec<String>,
) -> Result<EnvLayer, ConfigError> {
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with(PREFIX))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));

    let mut result = EnvLayer::default();
    for (name, raw) in vars {
        if let Some(key) = Key::from_env(&name) {
            if raw.contains(char::REPLACEMENT_CHARACTER) {
                // `process_env` converts non-UTF-8 values lossily; never act on a mangled path.
                let message = if key.is_secret() {
                    "the value is not valid UTF-8".to_owned()
                } else {
                    format!("{raw:?} is not valid UTF-8")
                };
                return Err(ConfigError::Invalid {
                    origin: Origin::Env(key.env()),
                    key: key.name(),
                    message,
                });
            }
            result.layer.set_str(key, &raw, Origin::Env(key.env()))?;
        } else if name == CONFIG_VAR {
            let path = value::data_dir(&raw).map_err(|message| ConfigError::Invalid {
                origin: Origin::Env(CONFIG_VAR),
                key: "config",
                message,
            })?;
            result.config_file = Some(path);
        } else if name == ENCRYPTION_KEY_VAR {
            let key = value::encryption_key(&raw).map_err(|message| ConfigError::Invalid {
                origin: Origin::Env(ENCRYPTION_KEY_VAR),
                key: "encryption_key",
                message,
            })?;
            result.encryption_key = Some(Secret::new(key));
        } else {
            let known = Key::ALL.map(Key::env).into_iter().chain(OTHER_KNOWN_VARS);
            let hint = closest(&name, known)
                .map_or_else(String::new, |known| format!(" (did you mean {known}?)"));
            warnings.push(format!(
                "ignoring unknown environment variable {name}{hint}"
            ));
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_every_variable() {
        let mut warnings = Vec::new();
        let read = read(
            env(&[
                ("LATCHKEY_LISTEN", "[::]:80"),
                ("LATCHKEY_PUBLIC_URL", "https://id.example.com"),
                ("LATCHKEY_DATA_DIR", "/srv/latchkey"),
                ("LATCHKEY_SOCKET", "/run/l.sock"),
                ("LATCHKEY_LOG", "warn"),
                ("LATCHKEY_TRUSTED_PROXIES", "10.0.0.1, 10.0.0.0/8"),
                ("LATCHKEY_HEADER_TIMEOUT_SECS", "4"),
                ("LATCHKEY_IDLE_TIMEOUT_SECS", "40"),
                ("LATCHKEY_BODY_TIMEOUT_SECS", "9"),
                ("LATCHKEY_MAX_CONNECTIONS", "100"),
                ("LATCHKEY_CONFIG", "/etc/latchkey.toml"),
                ("PATH", "/usr/bin"),
            ]),
            &mut warnings,
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let layer = read.layer;
        assert_eq!(layer.listen, Some("[::]:80".parse().unwrap()));
        assert_eq!(layer.public_url.unwrap().host(), "id.example.com");
        assert_eq!(layer.data_dir.unwrap(), PathBuf::from("/srv/latchkey"));
        assert_eq!(
            layer.socket.unwrap(),
            (PathBuf::from("/run/l.sock"), Origin::Env("LATCHKEY_SOCKET"))
        );
        assert_eq!(layer.log.as_deref(), Some("warn"));
        assert_eq!(layer.trusted_proxies.unwrap().len(), 2);
        assert_eq!(layer.header_timeout.unwrap().as_secs(), 4);
        assert_eq!(layer.idle_timeout.unwrap().as_secs(), 40);
        assert_eq!(layer.body_timeout.unwrap().as_secs(), 9);
        assert_eq!(layer.max_connections, Some(100));
        assert_eq!(read.config_file, Some(PathBuf::from("/etc/latchkey.toml")));
    }

    #[test]
    fn unknown_variables_warn() {
        let mut warnings = Vec::new();
        let read = read(
            env(&[("LATCHKEY_LISTN", "x"), ("LATCHKEY_COLOUR", "blue")]),
            &mut warnings,
        )
        .unwrap();
        assert!(read.layer.listen.is_none());
        assert_eq!(
            warnings,
            [
                "ignoring unknown environment variable LATCHKEY_COLOUR",
                "ignoring unknown environment variable LATCHKEY_LISTN (did you mean LATCHKEY_LISTEN?)",
            ]
        );
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let err = |name: &str, value: &str| {
            read(env(&[(name, value)]), &mut Vec::new())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("LATCHKEY_PUBLIC_URL", "ftp://x"),
            "LATCHKEY_PUBLIC_URL: \"ftp://x\" is not an http or https URL"
        );
        assert_eq!(
            err("LATCHKEY_LISTEN", "localhost"),
            "LATCHKEY_LISTEN: expected an address like 127.0.0.1:1411, got \"localhost\""
        );
        assert_eq!(
            err("LATCHKEY_TRUSTED_PROXIES", "10.0.0.1,proxy"),
            "LATCHKEY_TRUSTED_PROXIES: \"proxy\" is not an IP address or a network like \
             10.0.0.0/8"
        );
        assert!(
            err("LATCHKEY_LOG", "info,x=loud").starts_with("LATCHKEY_LOG: \"info,x=loud\" is not")
        );
        assert_eq!(
            err("LATCHKEY_CONFIG", ""),
            "LATCHKEY_CONFIG: expected a path, got an empty string"
        );
    }

    #[test]
    fn lossy_values_are_refused() {
        let err = read(
            env(&[("LATCHKEY_DATA_DIR", "/srv/\u{fffd}")]),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "LATCHKEY_DATA_DIR: \"/srv/\u{fffd}\" is not valid UTF-8"
        );
    }

    #[test]
    fn the_encryption_key_is_read_and_never_echoed() {
        let key = crate::sealing::EncryptionKey::generate().unwrap();
        let mut warnings = Vec::new();
        let read = read(
            env(&[
                ("LATCHKEY_ENCRYPTION_KEY", &key.to_base64()),
                ("LATCHKEY_ENCRYPTION_KEY_FILE", "/etc/latchkey/secret.key"),
            ]),
            &mut warnings,
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(read.encryption_key.unwrap().expose(), &key.to_bytes());
        assert!(read.layer.encryption_key_file.is_some());

        let err = read_err("LATCHKEY_ENCRYPTION_KEY", "hunter2-is-not-a-key");
        assert!(
            err.starts_with("LATCHKEY_ENCRYPTION_KEY: expected the base64"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }

    fn read_err(name: &str, value: &str) -> String {
        read(env(&[(name, value)]), &mut Vec::new())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn empty_proxy_list_clears() {
        let read = read(env(&[("LATCHKEY_TRUSTED_PROXIES", "")]), &mut Vec::new()).unwrap();
        assert_eq!(read.layer.trusted_proxies, Some(Vec::new()));
    }
}
