//! Test fixtures shared by the end-to-end tests: a real daemon, started
//! in-process on a loopback port in a temp dir, with a manual clock.

// Fixtures and helpers fail loudly, like the tests they serve: a broken fixture is a failed
// test, not an error to handle.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

/// The audit log as the tests read it.
pub mod audit;
pub mod authenticator;
/// A self-signed certificate for the test servers' TLS.
pub mod certificate;
/// A small browser for the OpenID Connect tests: forms, redirects, consent.
pub mod html;
/// Acting as a browser over HTTP: cookies, CSRF tokens, login codes.
pub mod http;
/// The daemon's mail: SMTP settings, links in received mail, the outbox.
pub mod mail;
/// The OpenID Connect endpoints reached by hand, over raw HTTP.
pub mod oidc;
/// Passkey ceremonies over HTTP with the software authenticator.
pub mod passkeys;
/// A real PostgreSQL server for the PostgreSQL storage backend's tests.
pub mod postgres;
/// The real `latchkeyd` as a separate process.
pub mod process;
pub mod redact;
/// A stock relying party (`openidconnect`) for the OpenID Connect tests.
pub mod rp;
/// A real OpenLDAP server for the LDAP sync tests.
pub mod slapd;
/// A real SMTP server (aiosmtpd) for the email tests.
pub mod smtp;
/// Writers of acknowledged users, for the tests that kill a daemon mid-write.
pub mod writers;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use latchkey_daemon::RunningDaemon;
use latchkey_daemon::clock::ManualClock;
use latchkey_daemon::config::{Cli, Config};
use latchkey_protocol::Client;
use tempfile::TempDir;

/// A daemon serving from a temp dir. Stop it with [`TestDaemon::stop`] to
/// check a clean shutdown; dropping it just abandons the tasks.
#[derive(Debug)]
pub struct TestDaemon {
    pub dir: TempDir,
    pub config: Config,
    pub clock: ManualClock,
    pub base_url: String,
    pub daemon: RunningDaemon,
}

/// What one `latchkey …` command printed and returned.
#[derive(Debug)]
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// The stdout as JSON; panics with both streams when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}); exit {}\nstdout: {}\nstderr: {}",
                self.code, self.stdout, self.stderr
            )
        })
    }
}

/// Runs `latchkey --socket <socket> <args…>` in-process (the real CLI code, `run_cli`).
pub async fn cli_at(socket: &Path, args: &[&str]) -> CliOutput {
    let mut argv = vec![
        "latchkey".to_owned(),
        "--socket".to_owned(),
        socket.display().to_string(),
    ];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let argv = argv.into_iter().map(std::ffi::OsString::from);
    let code = latchkey_tui::run_cli(argv, &mut stdout, &mut stderr).await;
    CliOutput {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// The environment variable that runs every test daemon on PostgreSQL instead of the
/// embedded file: `LATCHKEY_TEST_DATABASE=postgres` (scripts/test runs the suite both ways).
pub const BACKEND_VAR: &str = "LATCHKEY_TEST_DATABASE";

/// Whether this run keeps test daemons' data in PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var(BACKEND_VAR).is_ok_and(|v| v == "postgres")
}

/// The database of the daemon whose temp dir is `dir`: made on its first start (on the
/// shared test server) and remembered in the dir, so that a restart finds its data.
fn postgres_database_for(dir: &Path) -> String {
    let remembered = dir.join("database_url");
    if let Ok(url) = std::fs::read_to_string(&remembered) {
        return url;
    }
    let url = postgres::TestPostgres::shared().fresh_database();
    std::fs::write(&remembered, &url).expect("remember the test database");
    url
}

/// The configuration a test daemon runs with in `data_dir`.
pub fn test_config(data_dir: &Path, port: u16) -> Config {
    let cli = <Cli as clap::Parser>::parse_from([
        "latchkeyd".to_owned(),
        "--listen".to_owned(),
        format!("127.0.0.1:{port}"),
        "--public-url".to_owned(),
        format!("http://localhost:{port}"),
        "--data-dir".to_owned(),
        data_dir.display().to_string(),
    ]);
    Config::load(&cli, Vec::<(String, String)>::new()).expect("test config is valid")
}

impl TestDaemon {
    pub async fn start() -> TestDaemon {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir).await
    }

    /// Starts a daemon on an existing data directory (for restart tests).
    pub async fn start_in(dir: TempDir) -> TestDaemon {
        Self::start_configured(dir, |_| {}).await
    }

    /// Starts a daemon whose configuration `configure` adjusts first (for
    /// example trusted proxies, so tests can act as many client IPs).
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> TestDaemon {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_configured(dir, configure).await
    }

    /// Starts a daemon on a fresh PostgreSQL database, whatever [`BACKEND_VAR`] says, with an
    /// encryption key given in the configuration (not a file in its data dir), so that
    /// [`TestDaemon::start_replica_of`] can start more replicas of it.
    pub async fn start_on_postgres() -> TestDaemon {
        let url = postgres::TestPostgres::shared().fresh_database();
        let key: [u8; 32] = rand::random();
        Self::start_with(|config| {
            config.database_url = Some(url.parse().expect("a test database URL"));
            config.encryption_key = Some(latchkey_daemon::config::Secret::new(key));
        })
        .await
    }

    /// Another replica of `first` (which runs on PostgreSQL): its own temp dir, port, socket
    /// and clock; the same database, encryption key (from `first`'s configuration, or else its
    /// key file) and public URL, as every replica of a deployment must have (the issuer and
    /// the WebAuthn origin are the load balancer's). Tests address it by its `base_url`.
    pub async fn start_replica_of(first: &TestDaemon) -> TestDaemon {
        let url = first
            .config
            .database_url
            .clone()
            .expect("replicas share a PostgreSQL database");
        let key = first.config.encryption_key.clone();
        let key_file = first.config.encryption_key_file.clone();
        let public_url = first.config.public_url.clone();
        Self::start_with(move |config| {
            config.database_url = Some(url);
            config.public_url = public_url;
            match key {
                Some(key) => config.encryption_key = Some(key),
                None => config.encryption_key_file = key_file,
            }
        })
        .await
    }

    /// Starts a daemon on the embedded database file in `dir`, even when this run keeps test
    /// daemons' data in PostgreSQL (tests that move data between the two).
    pub async fn start_on_file_in(dir: TempDir) -> TestDaemon {
        Self::start_on(dir, false, |_| {}).await
    }

    async fn start_configured(dir: TempDir, configure: impl FnOnce(&mut Config)) -> TestDaemon {
        Self::start_on(dir, on_postgres(), configure).await
    }

    async fn start_on(
        dir: TempDir,
        postgres: bool,
        configure: impl FnOnce(&mut Config),
    ) -> TestDaemon {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local addr").port();
        let mut config = test_config(&dir.path().join("data"), port);
        configure(&mut config);
        // A caller that chose the database (a replica) needs no fresh one.
        if postgres && config.database_url.is_none() {
            let url = postgres_database_for(dir.path());
            config.database_url = Some(url.parse().expect("a test database URL"));
        }
        let clock = ManualClock::new(time::macros::datetime!(2026-11-23 08:00:00 UTC));
        let daemon = latchkey_daemon::start_on(&config, Arc::new(clock.clone()), listener)
            .await
            .expect("daemon starts");
        TestDaemon {
            base_url: format!("http://localhost:{port}"),
            dir,
            config,
            clock,
            daemon,
        }
    }

    /// `count` replicas of one deployment (see [`TestDaemon::start_replica_of`]), the first on
    /// a fresh PostgreSQL database.
    pub async fn start_replicas(count: usize) -> Vec<TestDaemon> {
        let first = Self::start_on_postgres().await;
        let mut replicas = Vec::with_capacity(count);
        for _ in 1..count {
            replicas.push(Self::start_replica_of(&first).await);
        }
        replicas.insert(0, first);
        replicas
    }

    pub fn socket(&self) -> PathBuf {
        self.daemon.socket_path().to_path_buf()
    }

    /// A fresh, handshaken admin-socket client.
    pub async fn client(&self) -> Client {
        Client::connect(&self.socket(), "latchkey-tests")
            .await
            .expect("connect to the admin socket")
    }

    /// Runs `latchkey --socket <this daemon's socket> <args…>` in-process.
    pub async fn cli(&self, args: &[&str]) -> CliOutput {
        cli_at(&self.socket(), args).await
    }

    /// `latchkey config set KEY VALUE`, which must succeed.
    pub async fn config_set(&self, key: &str, value: &str) {
        let out = self.cli(&["config", "set", key, value]).await;
        assert_eq!(out.code, 0, "config set {key} {value}: {out:?}");
    }

    /// Stops the daemon cleanly and hands back its data directory.
    pub async fn stop(self) -> TempDir {
        self.daemon.stop().await.expect("clean shutdown");
        self.dir
    }
}
