//! The command line of `latchkeyd`: one flag per setting, overriding file and environment.
//!
//! Flag values are checked by the same parsers as the other layers, so clap reports a bad value
//! with the same explanation (and the usual usage hint and exit status 2). The `env` feature of
//! clap is deliberately not used: `Config::load` takes the environment as a parameter so tests
//! never touch the process environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::error::{ConfigError, Origin};
use super::layer::{Key, Layer};
use super::{PublicUrl, Secret, value};

/// `latchkeyd`: the Latchkey identity provider daemon.
///
/// Settings are layered: built-in defaults, then the TOML file, then `LATCHKEY_*` environment
/// variables, then these flags.
#[derive(Clone, Debug, Default, PartialEq, clap::Parser)]
#[command(
    name = "latchkeyd",
    version,
    about = "Latchkey: a passkey-only OpenID Connect identity provider",
    long_about = None,
    // The daemon's settings mean nothing to a subcommand: `latchkeyd --data-dir x migrate …`
    // is refused rather than silently ignoring `--data-dir`.
    args_conflicts_with_subcommands = true,
)]
pub struct Cli {
    /// Without one, latchkeyd runs the daemon.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Configuration file [env: LATCHKEY_CONFIG] [default: ./latchkey.toml if it exists]
    #[arg(long, value_name = "FILE", value_parser = value::data_dir)]
    pub config: Option<PathBuf>,

    /// Print the effective configuration (secrets redacted) and exit
    #[arg(long)]
    pub check_config: bool,

    /// Address to listen on for HTTP [env: LATCHKEY_LISTEN] [default: 127.0.0.1:1411]
    #[arg(long, value_name = "ADDR", value_parser = value::listen)]
    pub listen: Option<SocketAddr>,

    /// URL browsers and apps use to reach Latchkey; the OIDC issuer [env: LATCHKEY_PUBLIC_URL]
    /// [default: http://localhost:1411]
    #[arg(long, value_name = "URL", value_parser = value::public_url)]
    pub public_url: Option<PublicUrl>,

    /// Directory for the database and the admin socket [env: LATCHKEY_DATA_DIR] [default: ./data]
    #[arg(long, value_name = "DIR", value_parser = value::data_dir)]
    pub data_dir: Option<PathBuf>,

    /// PostgreSQL database to keep the data in, shared by several replicas, e.g.
    /// postgres://latchkey:PASSWORD@db.example.com/latchkey; `ps` shows flags, so prefer the
    /// environment for the password [env: LATCHKEY_DATABASE_URL] [default: the embedded database
    /// file in data_dir]
    // Checked by `Config::load`, not by clap: clap's message for a refused value repeats it,
    // password and all.
    #[arg(long, value_name = "URL", value_parser = value::secret_string)]
    pub database_url: Option<Secret<String>>,

    /// File holding the key that encrypts secrets in the database; made on first start
    /// [env: LATCHKEY_ENCRYPTION_KEY_FILE] [default: <data_dir>/secret.key]
    #[arg(long, value_name = "FILE", value_parser = value::key_file)]
    pub encryption_key_file: Option<PathBuf>,

    /// Admin socket the `latchkey` console connects to [env: LATCHKEY_SOCKET]
    /// [default: <data_dir>/latchkey.sock]
    #[arg(long, value_name = "PATH", value_parser = value::socket)]
    pub socket: Option<PathBuf>,

    /// Log filter, e.g. "info,latchkey_daemon=debug" [env: LATCHKEY_LOG] [default: info]
    #[arg(long, visible_alias = "log-level", value_name = "FILTER", value_parser = value::log)]
    pub log: Option<String>,

    /// Comma-separated IP addresses or networks (10.0.0.0/8) of reverse proxies whose
    /// X-Forwarded-For is believed [env: LATCHKEY_TRUSTED_PROXIES] [default: none]
    // `::std::vec::Vec` keeps clap from treating this as a multi-value flag: the whole list is one
    // value, parsed like the environment variable ("" clears it).
    #[arg(long, value_name = "IP|NET,...", value_parser = value::proxy_list)]
    pub trusted_proxies: Option<::std::vec::Vec<IpNet>>,

    /// Seconds a request head may take from its first byte, and a new connection to send one
    /// [env: LATCHKEY_HEADER_TIMEOUT_SECS] [default: 10]
    #[arg(long, value_name = "SECONDS", value_parser = value::seconds)]
    pub header_timeout_secs: Option<Duration>,

    /// Seconds an idle keep-alive connection is kept open [env: LATCHKEY_IDLE_TIMEOUT_SECS]
    /// [default: 75]
    #[arg(long, value_name = "SECONDS", value_parser = value::seconds)]
    pub idle_timeout_secs: Option<Duration>,

    /// Seconds a request body may take to arrive [env: LATCHKEY_BODY_TIMEOUT_SECS] [default: 30]
    #[arg(long, value_name = "SECONDS", value_parser = value::seconds)]
    pub body_timeout_secs: Option<Duration>,

    /// HTTP connections served at once; more wait until one closes
    /// [env: LATCHKEY_MAX_CONNECTIONS] [default: 1000]
    #[arg(long, value_name = "N", value_parser = value::connections)]
    pub max_connections: Option<usize>,

    /// Serve HTTPS with this certificate chain (PEM), reloaded on SIGHUP; needs --tls-key
    /// [env: LATCHKEY_TLS_CERT] [default: plain HTTP]
    #[arg(long, value_name = "FILE", value_parser = value::pem_file)]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert [env: LATCHKEY_TLS_KEY]
    #[arg(long, value_name = "FILE", value_parser = value::pem_file)]
    pub tls_key: Option<PathBuf>,

    /// Serve Prometheus metrics at http://ADDR/metrics [env: LATCHKEY_METRICS_LISTEN]
    /// [default: off]
    #[arg(long, value_name = "ADDR", value_parser = value::listen)]
    pub metrics_listen: Option<SocketAddr>,

    /// Log lines as "text" or "json" [env: LATCHKEY_LOG_FORMAT] [default: text]
    #[arg(long, value_name = "FORMAT", value_parser = value::log_format)]
    pub log_format: Option<super::LogFormat>,

    /// Unix group whose members may use the admin socket (made 0660)
    /// [env: LATCHKEY_ADMIN_GROUP] [default: none; the socket is 0600]
    #[arg(long, value_name = "GROUP", value_parser = value::group_name)]
    pub admin_group: Option<String>,
}

/// What latchkeyd does instead of running the daemon.
#[derive(Clone, Debug, PartialEq, clap::Subcommand)]
pub enum Command {
    /// Copy a stopped deployment's data between the embedded database file and PostgreSQL,
    /// into an empty target (see `latchkeyd migrate --help`)
    #[command(long_about = MIGRATE_ABOUT)]
    Migrate(MigrateArgs),
    /// Put a backup made by `latchkey backup` in place as a stopped daemon's database (see
    /// `latchkeyd restore --help`)
    #[command(long_about = RESTORE_ABOUT)]
    Restore(RestoreArgs),
    /// Load an export bundle made by `latchkey export` into an empty database, embedded or
    /// PostgreSQL (see `latchkeyd import --help`)
    #[command(long_about = IMPORT_ABOUT)]
    Import(ImportArgs),
}

const IMPORT_ABOUT: &str = "Load an export bundle made by `latchkey export` into an empty \
database: the embedded one of a data directory (<DIR>/latchkey.redb), or a PostgreSQL one. The \
bundle is checked line by line and against its closing checksum, and loaded in one transaction, \
so a damaged or cut-short bundle leaves the target as empty as it was. A database that holds \
anything is refused. After the load, the target is exported again in memory and compared with \
the bundle. The encryption key is not in the bundle: start the daemon with the key it names.

The target is --database-url, else --data-dir, else LATCHKEY_DATABASE_URL, else \
LATCHKEY_DATA_DIR, else ./data:
  latchkeyd import --from latchkey-export.jsonl --data-dir /var/lib/latchkey
  LATCHKEY_DATABASE_URL=postgres://… latchkeyd import --from latchkey-export.jsonl";

/// `latchkeyd import`: which bundle, into which database.
#[derive(Clone, Debug, Default, PartialEq, clap::Args)]
pub struct ImportArgs {
    /// The bundle file `latchkey export --out` wrote
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,

    /// Load into a new database file in this data directory (made 0700 if missing)
    #[arg(long, value_name = "DIR", value_parser = value::data_dir, conflicts_with = "database_url")]
    pub data_dir: Option<PathBuf>,

    /// Load into this PostgreSQL database, which must be empty [env: LATCHKEY_DATABASE_URL]
    // A string until `import` parses it: clap's message for a refused value repeats it.
    #[arg(long, value_name = "URL", value_parser = value::secret_string)]
    pub database_url: Option<Secret<String>>,
}

const RESTORE_ABOUT: &str = "Put a backup made by `latchkey backup` in place as the database \
of a data directory (<DIR>/latchkey.redb), with no daemon running on it. The backup is checked \
(it opens as a latchkeyd database, brought to this release's schema) before anything is \
replaced, and it goes in with one rename, so a failure leaves the data directory as it was. An \
existing database is replaced only with --force. The encryption key is not in the backup: \
start the daemon with the key the output names (the data directory's secret.key, \
encryption_key_file or LATCHKEY_ENCRYPTION_KEY).";

/// `latchkeyd restore`: which backup, into which data directory.
#[derive(Clone, Debug, Default, PartialEq, clap::Args)]
pub struct RestoreArgs {
    /// The backup file `latchkey backup --out` wrote
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,

    /// The data directory to restore into (made 0700 if missing) [env: LATCHKEY_DATA_DIR]
    /// [default: ./data]
    #[arg(long, value_name = "DIR", value_parser = value::data_dir)]
    pub data_dir: Option<PathBuf>,

    /// Replace the database the data directory holds
    #[arg(long)]
    pub force: bool,
}

const MIGRATE_ABOUT: &str = "Copy a stopped deployment's data between the embedded database file \
(<DIR>/latchkey.redb) and PostgreSQL, into an empty target: every table as it is, in one \
transaction, so a failure leaves the target empty. Stop latchkeyd first. The source is brought \
up to this latchkeyd's schema version before the copy. The encryption key is not copied: start \
the daemon on the target with the same key file or LATCHKEY_ENCRYPTION_KEY.

The PostgreSQL side may be left out, and is then taken from LATCHKEY_DATABASE_URL (better than \
a flag, which `ps` shows with its password):
  latchkeyd migrate --from-data-dir /var/lib/latchkey --to-database-url postgres://…
  LATCHKEY_DATABASE_URL=postgres://… latchkeyd migrate --to-data-dir /var/lib/latchkey-new";

/// The two sides of `latchkeyd migrate`: one source, one target.
#[derive(Clone, Debug, Default, PartialEq, clap::Args)]
pub struct MigrateArgs {
    /// Copy from the database file in this data directory (latchkey.redb)
    #[arg(long, value_name = "DIR", value_parser = value::data_dir, conflicts_with = "from_database_url")]
    pub from_data_dir: Option<PathBuf>,

    /// Copy from this PostgreSQL database [default with --to-data-dir: LATCHKEY_DATABASE_URL]
    // A string until `migrate` parses it: clap's message for a refused value repeats it.
    #[arg(long, value_name = "URL", value_parser = value::secret_string)]
    pub from_database_url: Option<Secret<String>>,

    /// Copy into a new database file in this data directory (made 0700 if missing)
    #[arg(long, value_name = "DIR", value_parser = value::data_dir, conflicts_with = "to_database_url")]
    pub to_data_dir: Option<PathBuf>,

    /// Copy into this PostgreSQL database, which must be empty
    /// [default with --from-data-dir: LATCHKEY_DATABASE_URL]
    #[arg(long, value_name = "URL", value_parser = value::secret_string)]
    pub to_database_url: Option<Secret<String>>,
}

impl Cli {
    /// The settings given on the command line; errs on a value clap does not check itself.
    pub(super) fn layer(&self) -> Result<Layer, ConfigError> {
        let database_url = self
            .database_url
            .as_ref()
            .map(|raw| {
                value::database_url(raw.expose()).map_err(|message| ConfigError::Invalid {
                    origin: Origin::Cli(Key::DatabaseUrl.flag()),
                    key: Key::DatabaseUrl.name(),
                    message,
                })
            })
            .transpose()?;
        Ok(Layer {
            listen: self.listen,
            public_url: self.public_url.clone(),
            data_dir: self.data_dir.clone(),
            database_url,
            encryption_key_file: self
                .encryption_key_file
                .clone()
                .map(|path| (path, Origin::Cli(Key::EncryptionKeyFile.flag()))),
            socket: self
                .socket
                .clone()
                .map(|path| (path, Origin::Cli(Key::Socket.flag()))),
            log: self.log.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            header_timeout: self.header_timeout_secs,
            idle_timeout: self.idle_timeout_secs,
            body_timeout: self.body_timeout_secs,
            max_connections: self.max_connections,
            tls_cert: self
                .tls_cert
                .clone()
                .map(|path| (path, Origin::Cli(Key::TlsCert.flag()))),
            tls_key: self
                .tls_key
                .clone()
                .map(|path| (path, Origin::Cli(Key::TlsKey.flag()))),
            metrics_listen: self
                .metrics_listen
                .map(|addr| (addr, Origin::Cli(Key::MetricsListen.flag()))),
            log_format: self.log_format,
            admin_group: self
                .admin_group
                .clone()
                .map(|group| (group, Origin::Cli(Key::AdminGroup.flag()))),
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_flags_sets_nothing() {
        assert_eq!(Cli::try_parse_from(["latchkeyd"]).unwrap(), Cli::default());
    }

    #[test]
    fn every_flag_parses() {
        let cli = Cli::try_parse_from([
            "latchkeyd",
            "--config",
            "/etc/latchkey.toml",
            "--check-config",
            "--listen",
            "0.0.0.0:80",
            "--public-url",
            "https://id.example.com/",
            "--data-dir",
            "/srv",
            "--database-url",
            "postgres://latchkey:hunter2@db/latchkey",
            "--socket",
            "/run/l.sock",
            "--log-level",
            "debug",
            "--trusted-proxies",
            "10.0.0.1,::1",
            "--header-timeout-secs",
            "3",
            "--idle-timeout-secs",
            "30",
            "--body-timeout-secs",
            "7",
            "--max-connections",
            "9",
        ])
        .unwrap();
        assert!(!format!("{cli:?}").contains("hunter2"));
        assert_eq!(cli.header_timeout_secs, Some(Duration::from_secs(3)));
        assert_eq!(cli.idle_timeout_secs, Some(Duration::from_secs(30)));
        assert_eq!(cli.body_timeout_secs, Some(Duration::from_secs(7)));
        assert_eq!(cli.max_connections, Some(9));
        assert_eq!(cli.config, Some(PathBuf::from("/etc/latchkey.toml")));
        assert!(cli.check_config);
        assert_eq!(cli.listen, Some("0.0.0.0:80".parse().unwrap()));
        assert_eq!(cli.public_url.unwrap().as_str(), "https://id.example.com");
        assert_eq!(cli.data_dir, Some(PathBuf::from("/srv")));
        assert_eq!(
            cli.database_url
                .as_ref()
                .map(Secret::expose)
                .map(String::as_str),
            Some("postgres://latchkey:hunter2@db/latchkey")
        );
        assert_eq!(cli.socket, Some(PathBuf::from("/run/l.sock")));
        assert_eq!(cli.log.as_deref(), Some("debug"));
        assert_eq!(cli.trusted_proxies.unwrap().len(), 2);

        let cli =
            Cli::try_parse_from(["latchkeyd", "--log", "warn", "--trusted-proxies", ""]).unwrap();
        assert_eq!(cli.log.as_deref(), Some("warn"));
        assert_eq!(cli.trusted_proxies, Some(Vec::new()));
    }

    #[test]
    fn migrate_is_a_subcommand_and_the_daemon_the_default() {
        assert_eq!(Cli::try_parse_from(["latchkeyd"]).unwrap().command, None);
        let cli = Cli::try_parse_from([
            "latchkeyd",
            "migrate",
            "--from-data-dir",
            "/srv/a",
            "--to-database-url",
            "postgres://latchkey:hunter2@db/latchkey",
        ])
        .unwrap();
        let Some(Command::Migrate(args)) = &cli.command else {
            panic!("{cli:?}");
        };
        assert_eq!(args.from_data_dir, Some(PathBuf::from("/srv/a")));
        assert_eq!(
            args.to_database_url
                .as_ref()
                .map(|url| url.expose().as_str()),
            Some("postgres://latchkey:hunter2@db/latchkey")
        );
        assert!(!format!("{cli:?}").contains("hunter2"));

        let err = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("latchkeyd").chain(args.iter().copied()))
                .unwrap_err()
                .to_string()
        };
        // The daemon's flags mean nothing to migrate: refused, not ignored.
        let message = err(&["--data-dir", "/srv", "migrate", "--to-data-dir", "/x"]);
        assert!(message.contains("cannot be used with"), "{message}");
        // One source and one target; a refused URL is not repeated.
        let message = err(&[
            "migrate",
            "--from-data-dir",
            "/a",
            "--from-database-url",
            "postgres://u:hunter2@db/x",
        ]);
        assert!(message.contains("cannot be used with"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        let message = err(&[
            "migrate",
            "--to-data-dir",
            "/a",
            "--to-database-url",
            "postgres://db/x",
        ]);
        assert!(message.contains("cannot be used with"), "{message}");
    }

    #[test]
    fn bad_values_are_explained() {
        let err = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("latchkeyd").chain(args.iter().copied()))
                .unwrap_err()
                .to_string()
        };
        let message = err(&["--listen", "localhost"]);
        assert!(
            message.contains(
                "'--listen <ADDR>': expected an address like 127.0.0.1:1411, got \"localhost\""
            ),
            "{message}"
        );
        let message = err(&["--public-url", "ftp://x"]);
        assert!(
            message.contains("\"ftp://x\" is not an http or https URL"),
            "{message}"
        );
        let message = err(&["--data-dir", ""]);
        assert!(
            message.contains("expected a path, got an empty string"),
            "{message}"
        );
        let message = err(&["--config", ""]);
        assert!(
            message.contains("expected a path, got an empty string"),
            "{message}"
        );
        let message = err(&["--trusted-proxies", "10.0.0.0/99"]);
        assert!(message.contains("is not a network"), "{message}");
        let message = err(&["--header-timeout-secs", "0"]);
        assert!(message.contains("whole number of seconds"), "{message}");
        let message = err(&["--lisen", "x"]);
        assert!(message.contains("--listen"), "{message}");
    }
}
