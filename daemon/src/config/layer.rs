//! `Key` (the settings, by name in each layer) and `Layer` (the settings one source provides).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::error::{ConfigError, Origin};
use super::{DatabaseUrl, PublicUrl, value};

/// One process-level setting. The TOML key, environment variable and flag are derived from it,
/// so the three layers cannot drift apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// `listen`
    Listen,
    /// `public_url`
    PublicUrl,
    /// `data_dir`
    DataDir,
    /// `database_url`
    DatabaseUrl,
    /// `encryption_key_file`
    EncryptionKeyFile,
    /// `socket`
    Socket,
    /// `log`
    Log,
    /// `trusted_proxies`
    TrustedProxies,
    /// `header_timeout_secs`
    HeaderTimeout,
    /// `idle_timeout_secs`
    IdleTimeout,
    /// `body_timeout_secs`
    BodyTimeout,
    /// `max_connections`
    MaxConnections,
    /// `tls_cert`
    TlsCert,
    /// `tls_key`
    TlsKey,
    /// `metrics_listen`
    MetricsListen,
    /// `log_format`
    LogFormat,
    /// `admin_group`
    AdminGroup,
}

impl Key {
    /// Every setting, in the order they are documented and printed.
    pub const ALL: [Key; 17] = [
        Key::Listen,
        Key::PublicUrl,
        Key::DataDir,
        Key::DatabaseUrl,
        Key::EncryptionKeyFile,
        Key::Socket,
        Key::Log,
        Key::TrustedProxies,
        Key::HeaderTimeout,
        Key::IdleTimeout,
        Key::BodyTimeout,
        Key::MaxConnections,
        Key::TlsCert,
        Key::TlsKey,
        Key::MetricsListen,
        Key::LogFormat,
        Key::AdminGroup,
    ];

    /// Whether the TOML value is a whole number rather than a string.
    pub const fn is_number(self) -> bool {
        matches!(
            self,
            Key::HeaderTimeout | Key::IdleTimeout | Key::BodyTimeout | Key::MaxConnections
        )
    }

    /// Whether a value may hold a secret (a password), so that no message repeats it.
    pub const fn is_secret(self) -> bool {
        matches!(self, Key::DatabaseUrl)
    }

    /// The TOML key.
    pub const fn name(self) -> &'static str {
        match self {
            Key::Listen => "listen",
            Key::PublicUrl => "public_url",
            Key::DataDir => "data_dir",
            Key::DatabaseUrl => "database_url",
            Key::EncryptionKeyFile => "encryption_key_file",
            Key::Socket => "socket",
            Key::Log => "log",
            Key::TrustedProxies => "trusted_proxies",
            Key::HeaderTimeout => "header_timeout_secs",
            Key::IdleTimeout => "idle_timeout_secs",
            Key::BodyTimeout => "body_timeout_secs",
            Key::MaxConnections => "max_connections",
            Key::TlsCert => "tls_cert",
            Key::TlsKey => "tls_key",
            Key::MetricsListen => "metrics_listen",
            Key::LogFormat => "log_format",
            Key::AdminGroup => "admin_group",
        }
    }

    /// The environment variable.
    pub const fn env(self) -> &'static str {
        match self {
            Key::Listen => "LATCHKEY_LISTEN",
            Key::PublicUrl => "LATCHKEY_PUBLIC_URL",
            Key::DataDir => "LATCHKEY_DATA_DIR",
            Key::DatabaseUrl => "LATCHKEY_DATABASE_URL",
            Key::EncryptionKeyFile => "LATCHKEY_ENCRYPTION_KEY_FILE",
            Key::Socket => "LATCHKEY_SOCKET",
            Key::Log => "LATCHKEY_LOG",
            Key::TrustedProxies => "LATCHKEY_TRUSTED_PROXIES",
            Key::HeaderTimeout => "LATCHKEY_HEADER_TIMEOUT_SECS",
            Key::IdleTimeout => "LATCHKEY_IDLE_TIMEOUT_SECS",
            Key::BodyTimeout => "LATCHKEY_BODY_TIMEOUT_SECS",
            Key::MaxConnections => "LATCHKEY_MAX_CONNECTIONS",
            Key::TlsCert => "LATCHKEY_TLS_CERT",
            Key::TlsKey => "LATCHKEY_TLS_KEY",
            Key::MetricsListen => "LATCHKEY_METRICS_LISTEN",
            Key::LogFormat => "LATCHKEY_LOG_FORMAT",
            Key::AdminGroup => "LATCHKEY_ADMIN_GROUP",
        }
    }

    /// The command-line flag.
    pub const fn flag(self) -> &'static str {
        match self {
            Key::Listen => "--listen",
            Key::PublicUrl => "--public-url",
            Key::DataDir => "--data-dir",
            Key::DatabaseUrl => "--database-url",
            Key::EncryptionKeyFile => "--encryption-key-file",
            Key::Socket => "--socket",
            Key::Log => "--log",
            Key::TrustedProxies => "--trusted-proxies",
            Key::HeaderTimeout => "--header-timeout-secs",
            Key::IdleTimeout => "--idle-timeout-secs",
            Key::BodyTimeout => "--body-timeout-secs",
            Key::MaxConnections => "--max-connections",
            Key::TlsCert => "--tls-cert",
            Key::TlsKey => "--tls-key",
            Key::MetricsListen => "--metrics-listen",
            Key::LogFormat => "--log-format",
            Key::AdminGroup => "--admin-group",
        }
    }

    /// A TOML value of the right shape, quoted, for "expected …" messages.
    pub const fn example(self) -> &'static str {
        match self {
            Key::Listen => "a string like \"127.0.0.1:1411\"",
            Key::PublicUrl => "a string like \"https://id.example.com\"",
            Key::DataDir => "a string like \"/var/lib/latchkey\"",
            Key::DatabaseUrl => {
                "a string like \"postgres://latchkey:PASSWORD@db.example.com:5432/latchkey\""
            }
            Key::EncryptionKeyFile => "a string like \"/etc/latchkey/secret.key\"",
            Key::Socket => "a string like \"/run/latchkey/latchkey.sock\"",
            Key::Log => "a string like \"info\"",
            Key::TrustedProxies => {
                "an array of IP addresses or networks like [\"10.0.0.1\", \"172.16.0.0/12\"]"
            }
            Key::HeaderTimeout | Key::IdleTimeout | Key::BodyTimeout => {
                "a whole number of seconds like 10"
            }
            Key::MaxConnections => "a whole number like 1000",
            Key::TlsCert => "a string like \"/etc/latchkey/fullchain.pem\"",
            Key::TlsKey => "a string like \"/etc/latchkey/privkey.pem\"",
            Key::MetricsListen => "a string like \"127.0.0.1:9411\"",
            Key::LogFormat => "\"text\" or \"json\"",
            Key::AdminGroup => "a string like \"latchkey-admins\"",
        }
    }

    /// The key with this TOML name.
    pub fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|key| key.name() == name)
    }

    /// The key read from this environment variable.
    pub fn from_env(var: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|key| key.env() == var)
    }
}

/// The settings one source (file, environment, command line) provides; `None` = not set there.
#[derive(Clone, Debug, Default)]
pub struct Layer {
    pub listen: Option<SocketAddr>,
    pub public_url: Option<PublicUrl>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<DatabaseUrl>,
    /// With its origin, because it conflicts with `LATCHKEY_ENCRYPTION_KEY` (checked after
    /// merging).
    pub encryption_key_file: Option<(PathBuf, Origin)>,
    /// With its origin, because its length is only checked after merging.
    pub socket: Option<(PathBuf, Origin)>,
    pub log: Option<String>,
    pub trusted_proxies: Option<Vec<IpNet>>,
    pub header_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub body_timeout: Option<Duration>,
    pub max_connections: Option<usize>,
    /// With their origins, because each needs the other (checked after merging).
    pub tls_cert: Option<(PathBuf, Origin)>,
    pub tls_key: Option<(PathBuf, Origin)>,
    /// With its origin, because it must differ from `listen` (checked after merging).
    pub metrics_listen: Option<(SocketAddr, Origin)>,
    pub log_format: Option<super::LogFormat>,
    /// With its origin, because it needs the socket outside the data directory (checked after
    /// merging).
    pub admin_group: Option<(String, Origin)>,
}

impl Layer {
    /// Parses `raw` as `key`'s value (a list is comma-separated) and sets it.
    pub fn set_str(&mut self, key: Key, raw: &str, origin: Origin) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.clone(),
            key: key.name(),
            message,
        };
        match key {
            Key::Listen => self.listen = Some(value::listen(raw).map_err(invalid)?),
            Key::PublicUrl => self.public_url = Some(value::public_url(raw).map_err(invalid)?),
            Key::DataDir => self.data_dir = Some(value::data_dir(raw).map_err(invalid)?),
            Key::DatabaseUrl => {
                self.database_url = Some(value::database_url(raw).map_err(invalid)?);
            }
            Key::EncryptionKeyFile => {
                let path = value::key_file(raw).map_err(invalid)?;
                self.encryption_key_file = Some((path, origin));
            }
            Key::Socket => {
                let path = value::socket(raw).map_err(invalid)?;
                self.socket = Some((path, origin));
            }
            Key::Log => self.log = Some(value::log(raw).map_err(invalid)?),
            Key::TrustedProxies => {
                self.trusted_proxies = Some(value::proxy_list(raw).map_err(invalid)?);
            }
            Key::HeaderTimeout => self.header_timeout = Some(value::seconds(raw).map_err(invalid)?),
            Key::IdleTimeout => self.idle_timeout = Some(value::seconds(raw).map_err(invalid)?),
            Key::BodyTimeout => self.body_timeout = Some(value::seconds(raw).map_err(invalid)?),
            Key::MaxConnections => {
                self.max_connections = Some(value::connections(raw).map_err(invalid)?);
            }
            Key::TlsCert => self.tls_cert = Some((value::pem_file(raw).map_err(invalid)?, origin)),
            Key::TlsKey => self.tls_key = Some((value::pem_file(raw).map_err(invalid)?, origin)),
            Key::MetricsListen => {
                self.metrics_listen = Some((value::listen(raw).map_err(invalid)?, origin));
            }
            Key::LogFormat => self.log_format = Some(value::log_format(raw).map_err(invalid)?),
            Key::AdminGroup => {
                self.admin_group = Some((value::group_name(raw).map_err(invalid)?, origin));
            }
        }
        Ok(())
    }

    /// `self` with every setting `later` provides replaced by `later`'s.
    pub fn overridden_by(self, later: Layer) -> Layer {
        Layer {
            listen: later.listen.or(self.listen),
            public_url: later.public_url.or(self.public_url),
            data_dir: later.data_dir.or(self.data_dir),
            database_url: later.database_url.or(self.database_url),
            encryption_key_file: later.encryption_key_file.or(self.encryption_key_file),
            socket: later.socket.or(self.socket),
            log: later.log.or(self.log),
            trusted_proxies: later.trusted_proxies.or(self.trusted_proxies),
            header_timeout: later.header_timeout.or(self.header_timeout),
            idle_timeout: later.idle_timeout.or(self.idle_timeout),
            body_timeout: later.body_timeout.or(self.body_timeout),
            max_connections: later.max_connections.or(self.max_connections),
            tls_cert: later.tls_cert.or(self.tls_cert),
            tls_key: later.tls_key.or(self.tls_key),
            metrics_listen: later.metrics_listen.or(self.metrics_listen),
            log_format: later.log_format.or(self.log_format),
            admin_group: later.admin_group.or(self.admin_group),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for key in Key::ALL {
            assert_eq!(Key::from_name(key.name()), Some(key));
            assert_eq!(Key::from_env(key.env()), Some(key));
            assert_eq!(
                key.env(),
                format!("LATCHKEY_{}", key.name().to_ascii_uppercase())
            );
            assert_eq!(key.flag(), format!("--{}", key.name().replace('_', "-")));
        }
        assert_eq!(Key::from_name("lisen"), None);
    }

    #[test]
    fn later_layer_wins_only_where_set() {
        let mut early = Layer::default();
        early
            .set_str(Key::Listen, "127.0.0.1:1", Origin::Default)
            .unwrap();
        early.set_str(Key::Log, "debug", Origin::Default).unwrap();
        let mut late = Layer::default();
        late.set_str(Key::Listen, "127.0.0.1:2", Origin::Default)
            .unwrap();
        let merged = early.overridden_by(late);
        assert_eq!(merged.listen, Some("127.0.0.1:2".parse().unwrap()));
        assert_eq!(merged.log.as_deref(), Some("debug"));
        assert_eq!(merged.data_dir, None);
    }
}
