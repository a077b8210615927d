//! Process-level configuration of `latchkeyd`: built-in defaults ← TOML file ← `LATCHKEY_*`
//! environment ← command-line flags, every value validated and every unknown key refused.
//!
//! Only what the process needs before it can open the database lives here (where to listen,
//! where the data is, how to log). Application settings that admins change at run time (app
//! name, SMTP, LDAP, …) live in the database.
//!
//! `config.example.toml` at the repository root documents every setting; a test loads it.

mod cli;
mod database_url;
mod env;
mod error;
mod file;
mod layer;
mod public_url;
mod secret;
mod value;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use ipnet::IpNet;

pub use cli::{Cli, Command, ImportArgs, MigrateArgs, RestoreArgs};
pub use database_url::{DatabaseUrl, DatabaseUrlError, PASSWORD_MASK};
pub use error::{ConfigError, FileChoice, Origin};
pub use layer::Key;
pub use public_url::PublicUrl;
pub use secret::{REDACTED, Secret};
/// Parses one `trusted_proxies` entry (an address or a CIDR network), as the file does.
pub use value::proxy as parse_trusted_proxy;

/// The file read when neither `--config` nor `LATCHKEY_CONFIG` names one, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "./latchkey.toml";

/// The database file's name inside `data_dir`.
pub const DB_FILE: &str = "latchkey.redb";

/// The admin socket's name inside `data_dir` when `socket` is not set.
const SOCKET_FILE: &str = "latchkey.sock";

/// The encryption key file's name inside `data_dir` when `encryption_key_file` is not set.
pub const KEY_FILE: &str = "secret.key";

/// The effective process configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// HTTP listen address. Default `127.0.0.1:1411`; `LATCHKEY_LISTEN`; TOML `listen`.
    pub listen: SocketAddr,
    /// The URL users reach Latchkey at; the OIDC issuer and WebAuthn origin. Default
    /// `http://localhost:1411`; `LATCHKEY_PUBLIC_URL`; TOML `public_url`.
    pub public_url: PublicUrl,
    /// Holds the database and, by default, the admin socket. Default `./data`;
    /// `LATCHKEY_DATA_DIR`; TOML `data_dir`.
    pub data_dir: PathBuf,
    /// The PostgreSQL database to keep the data in, which several replicas can share. `None`
    /// (the default): the embedded database file in `data_dir` ([`Config::db_path`]).
    /// `LATCHKEY_DATABASE_URL`; TOML `database_url`; `--database-url`. Shows itself with the
    /// password masked.
    pub database_url: Option<DatabaseUrl>,
    /// The file holding the key that encrypts the secrets in the database (made on first start).
    /// Default `<data_dir>/secret.key` (after `data_dir` is layered);
    /// `LATCHKEY_ENCRYPTION_KEY_FILE`; TOML `encryption_key_file`. Unused when `encryption_key`
    /// is set.
    pub encryption_key_file: PathBuf,
    /// The key itself, from `LATCHKEY_ENCRYPTION_KEY` (base64 of 32 bytes; environment only).
    pub encryption_key: Option<Secret<[u8; 32]>>,
    /// The admin socket. Default `<data_dir>/latchkey.sock` (after `data_dir` is layered);
    /// `LATCHKEY_SOCKET`; TOML `socket`.
    pub socket: PathBuf,
    /// A `tracing_subscriber::EnvFilter` directive, already checked to parse. Default `info`;
    /// `LATCHKEY_LOG`; TOML `log`.
    pub log: String,
    /// Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For` is believed for audit
    /// IPs and rate limits. Default none; `LATCHKEY_TRUSTED_PROXIES` (comma-separated); TOML
    /// `trusted_proxies` (array).
    pub trusted_proxies: Vec<IpNet>,
    /// Timeouts and the connection cap of the HTTP server.
    pub http: HttpLimits,
    /// Serve HTTPS with these PEM files (reloaded on SIGHUP). Default none (plain HTTP, for
    /// a reverse proxy or localhost); `LATCHKEY_TLS_CERT` and `LATCHKEY_TLS_KEY`; TOML
    /// `tls_cert` and `tls_key`. Both or neither; the public URL must then be https.
    pub tls: Option<TlsFiles>,
    /// Where Prometheus scrapes `/metrics`. Default none (off); `LATCHKEY_METRICS_LISTEN`;
    /// TOML `metrics_listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// How log lines are written. Default text; `LATCHKEY_LOG_FORMAT`; TOML `log_format`.
    pub log_format: LogFormat,
    /// A Unix group whose members may use the admin socket (then mode 0660 and that
    /// group). Default none (0600, the daemon's user only); `LATCHKEY_ADMIN_GROUP`; TOML
    /// `admin_group`.
    pub admin_group: Option<String>,
    /// Things the operator should hear about that do not stop the daemon (unknown `LATCHKEY_*`
    /// variables, a public URL browsers will refuse passkeys on). Log them once logging is up.
    pub warnings: Vec<String>,
}

impl Default for Config {
    /// The built-in defaults (the bottom layer).
    fn default() -> Self {
        let data_dir = PathBuf::from("./data");
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 1411)),
            public_url: PublicUrl::localhost(1411),
            socket: data_dir.join(SOCKET_FILE),
            encryption_key_file: data_dir.join(KEY_FILE),
            encryption_key: None,
            data_dir,
            database_url: None,
            log: "info".to_owned(),
            trusted_proxies: Vec::new(),
            http: HttpLimits::default(),
            tls: None,
            metrics_listen: None,
            log_format: LogFormat::Text,
            admin_group: None,
            warnings: Vec::new(),
        }
    }
}

/// The certificate chain and private key HTTPS is served with (`web/tls.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// For people reading a terminal or the journal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// What the HTTP server allows a connection (`web/serve.rs`). Each is a process setting
/// because it depends on what is in front of the daemon, not on the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request head (request line and headers) must arrive whole within this long of its first
    /// byte, and a new connection must send its first request head within it. Default 10 s;
    /// `LATCHKEY_HEADER_TIMEOUT_SECS`; TOML `header_timeout_secs`.
    pub header_timeout: Duration,
    /// A keep-alive connection waiting for its next request is closed after this long. Default
    /// 75 s, above the 60 s for which nginx keeps upstream connections by default, so the proxy
    /// closes first; `LATCHKEY_IDLE_TIMEOUT_SECS`; TOML `idle_timeout_secs`.
    pub idle_timeout: Duration,
    /// A request body must arrive whole within this long of its head. Default 30 s;
    /// `LATCHKEY_BODY_TIMEOUT_SECS`; TOML `body_timeout_secs`.
    pub body_timeout: Duration,
    /// Connections served at once; more wait in the listen queue until one closes. Default
    /// 1000 (below the usual 1024 open files a service gets); `LATCHKEY_MAX_CONNECTIONS`; TOML
    /// `max_connections`.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            body_timeout: Duration::from_secs(30),
            max_connections: 1000,
        }
    }
}

impl Config {
    /// Loads and validates all layers. `env` is passed in (an iterator of (key, value), usually
    /// [`process_env`]) so tests never touch the process environment. The file is `--config`,
    /// else `LATCHKEY_CONFIG`, else `./latchkey.toml` if it exists.
    pub fn load(
        cli: &Cli,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        Self::load_with_default_file(cli, env, Path::new(DEFAULT_CONFIG_FILE))
    }

    /// [`Config::load`] with the implicit file elsewhere than the working directory.
    fn load_with_default_file(
        cli: &Cli,
        env: impl IntoIterator<Item = (String, String)>,
        default_file: &Path,
    ) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();
        let env = env::read(env, &mut warnings)?;
        let (path, choice) = match (&cli.config, &env.config_file) {
            (Some(path), _) => (path.as_path(), FileChoice::Flag),
            (None, Some(path)) => (path.as_path(), FileChoice::Env),
            (None, None) => (default_file, FileChoice::Implicit),
        };
        let file = file::read(path, choice)?.unwrap_or_default();
        let layers = file.overridden_by(env.layer).overridden_by(cli.layer()?);
        Self::resolve(layers, env.encryption_key, warnings)
    }

    /// Fills what no layer set from the defaults and checks what depends on several settings.
    fn resolve(
        layers: layer::Layer,
        encryption_key: Option<Secret<[u8; 32]>>,
        mut warnings: Vec<String>,
    ) -> Result<Config, ConfigError> {
        let defaults = Config::default();
        let data_dir = layers.data_dir.unwrap_or(defaults.data_dir);
        let (socket, socket_origin) = layers
            .socket
            .unwrap_or_else(|| (data_dir.join(SOCKET_FILE), Origin::Default));
        value::socket_length(&socket).map_err(|message| ConfigError::Invalid {
            origin: socket_origin,
            key: Key::Socket.name(),
            message,
        })?;
        let encryption_key_file = match (layers.encryption_key_file, &encryption_key) {
            (Some((_, origin)), Some(_)) => {
                return Err(ConfigError::Invalid {
                    origin,
                    key: Key::EncryptionKeyFile.name(),
                    message: format!(
                        "cannot be used together with {}: set one of them",
                        env::ENCRYPTION_KEY_VAR
                    ),
                });
            }
            (Some((path, _)), None) => path,
            (None, _) => data_dir.join(KEY_FILE),
        };
        let public_url = layers.public_url.unwrap_or(defaults.public_url);
        warnings.extend(passkey_warnings(&public_url));
        let tls = tls_files(layers.tls_cert, layers.tls_key, &public_url)?;
        let admin_group = match layers.admin_group {
            Some((_, origin)) if socket.parent() == Some(data_dir.as_path()) => {
                return Err(ConfigError::Invalid {
                    origin,
                    key: Key::AdminGroup.name(),
                    message: format!(
                        "the admin socket {} is in the data directory, which only the daemon's \
                         user may enter: set socket outside it, for example \
                         /run/latchkey/latchkey.sock",
                        socket.display()
                    ),
                });
            }
            other => other.map(|(group, _)| group),
        };
        let listen = layers.listen.unwrap_or(defaults.listen);
        let metrics_listen = match layers.metrics_listen {
            Some((addr, origin)) if addr == listen => {
                return Err(ConfigError::Invalid {
                    origin,
                    key: Key::MetricsListen.name(),
                    message: format!(
                        "{addr} is also the listen address: metrics need a port of their own \
                         (for example 127.0.0.1:9411)"
                    ),
                });
            }
            other => other.map(|(addr, _)| addr),
        };
        Ok(Config {
            listen,
            public_url,
            data_dir,
            database_url: layers.database_url,
            encryption_key_file,
            encryption_key,
            socket,
            log: layers.log.unwrap_or(defaults.log),
            trusted_proxies: layers.trusted_proxies.unwrap_or(defaults.trusted_proxies),
            http: HttpLimits {
                header_timeout: layers
                    .header_timeout
                    .unwrap_or(defaults.http.header_timeout),
                idle_timeout: layers.idle_timeout.unwrap_or(defaults.http.idle_timeout),
                body_timeout: layers.body_timeout.unwrap_or(defaults.http.body_timeout),
                max_connections: layers
                    .max_connections
                    .unwrap_or(defaults.http.max_connections),
            },
            tls,
            metrics_listen,
            log_format: layers.log_format.unwrap_or(defaults.log_format),
            admin_group,
            warnings,
        })
    }

    /// The database file, `<data_dir>/latchkey.redb`.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join(DB_FILE)
    }

    /// Where the data is, for the start-up log: the PostgreSQL URL (password masked) when
    /// `database_url` is set, else the embedded database file.
    pub fn data_location(&self) -> String {
        match &self.database_url {
            Some(url) => format!("PostgreSQL {url}"),
            None => self.db_path().display().to_string(),
        }
    }

    /// For `--check-config`: the effective configuration as TOML that `load` accepts back, with
    /// any [`Secret`] printed as `"<redacted>"` and the password of `database_url` as `***`.
    /// Warnings are not included.
    pub fn to_toml_redacted(&self) -> String {
        /// Borrowed view in documented key order; a future `Secret<String>` field goes here as
        /// `&Secret<String>`, whose `Serialize` writes `"<redacted>"`.
        #[derive(serde::Serialize)]
        struct Effective<'a> {
            listen: String,
            public_url: &'a str,
            data_dir: String,
            database_url: Option<String>,
            encryption_key_file: Option<String>,
            socket: String,
            log: &'a str,
            trusted_proxies: Vec<String>,
            header_timeout_secs: u64,
            idle_timeout_secs: u64,
            body_timeout_secs: u64,
            max_connections: usize,
            tls_cert: Option<String>,
            tls_key: Option<String>,
            metrics_listen: Option<String>,
            log_format: &'static str,
            admin_group: Option<&'a str>,
        }
        let effective = Effective {
            listen: self.listen.to_string(),
            public_url: self.public_url.as_str(),
            data_dir: self.data_dir.display().to_string(),
            // `Display` masks the password.
            database_url: self.database_url.as_ref().map(DatabaseUrl::to_string),
            // With the key in the environment the file is not used, and naming both is refused.
            encryption_key_file: self
                .encryption_key
                .is_none()
                .then(|| self.encryption_key_file.display().to_string()),
            socket: self.socket.display().to_string(),
            log: &self.log,
            trusted_proxies: self
                .trusted_proxies
                .iter()
                .map(|net| value::show_proxy(*net))
                .collect(),
            header_timeout_secs: self.http.header_timeout.as_secs(),
            idle_timeout_secs: self.http.idle_timeout.as_secs(),
            body_timeout_secs: self.http.body_timeout.as_secs(),
            max_connections: self.http.max_connections,
            tls_cert: self.tls.as_ref().map(|tls| tls.cert.display().to_string()),
            tls_key: self.tls.as_ref().map(|tls| tls.key.display().to_string()),
            metrics_listen: self.metrics_listen.map(|addr| addr.to_string()),
            log_format: self.log_format.as_str(),
            admin_group: self.admin_group.as_deref(),
        };
        let body = toml::to_string(&effective)
            .unwrap_or_else(|error| format!("# cannot render the configuration: {error}\n"));
        let key = if self.encryption_key.is_some() {
            format!(
                "# The encryption key comes from {}.\n",
                env::ENCRYPTION_KEY_VAR
            )
        } else {
            String::new()
        };
        let password = if self
            .database_url
            .as_ref()
            .is_some_and(DatabaseUrl::has_password)
        {
            format!("# The password in database_url is shown as {PASSWORD_MASK}.\n")
        } else {
            String::new()
        };
        format!("# Effective latchkeyd configuration (secrets redacted).\n{key}{password}{body}")
    }
}

/// `tls_cert` and `tls_key`: both or neither, and with them an https public URL (the issuer
/// and the cookies' `Secure` flag follow the public URL; serving TLS under an http one would
/// give every app the wrong issuer).
fn tls_files(
    cert: Option<(PathBuf, Origin)>,
    key: Option<(PathBuf, Origin)>,
    public_url: &PublicUrl,
) -> Result<Option<TlsFiles>, ConfigError> {
    let (cert, key) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some((cert, _)), Some((key, origin))) => {
            if !public_url.is_https() {
                return Err(ConfigError::Invalid {
                    origin,
                    key: Key::TlsKey.name(),
                    message: format!(
                        "HTTPS is served, but public_url is {public_url}: set public_url to \
                         the https:// address users reach Latchkey at"
                    ),
                });
            }
            (cert, key)
        }
        (Some((_, origin)), None) => {
            return Err(ConfigError::Invalid {
                origin,
                key: Key::TlsCert.name(),
                message: "needs tls_key too (the certificate's private key)".to_owned(),
            });
        }
        (None, Some((_, origin))) => {
            return Err(ConfigError::Invalid {
                origin,
                key: Key::TlsKey.name(),
                message: "needs tls_cert too (the certificate chain)".to_owned(),
            });
        }
    };
    Ok(Some(TlsFiles { cert, key }))
}

/// Warnings for a public URL at which browsers will not offer passkeys.
fn passkey_warnings(url: &PublicUrl) -> Option<String> {
    if url.host_is_ip() {
        Some(format!(
            "public_url {url} uses an IP address, and browsers refuse passkeys for IP addresses; \
             use a host name (http://localhost:{} works for local testing)",
            url.port().unwrap_or(if url.is_https() { 443 } else { 80 })
        ))
    } else if !url.is_https() && !url.host_is_localhost() {
        Some(format!(
            "public_url {url} is plain http on a host other than localhost, and browsers offer \
             passkeys only over https (or on localhost)"
        ))
    } else {
        None
    }
}

/// The process environment for [`Config::load`]. Names and values that are not UTF-8 are
/// converted lossily; a `LATCHKEY_*` value so converted is then refused by `load` as not UTF-8.
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
