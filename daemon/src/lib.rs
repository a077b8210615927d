//! latchkeyd as a library: the one composition root, [`start`], used by
//! `main` and by the end-to-end tests alike.

pub mod admin;
pub mod clock;
pub mod config;
pub mod idm;
pub mod import;
pub mod info;
pub mod jobs;
pub mod ldap;
pub mod mail;
pub mod metrics;
pub mod migrate;
pub mod private_files;
pub mod restore;
pub mod sealing;
pub mod store;
pub mod web;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::admin::{AdminServer, ConnectionContext, SocketError, bind_admin_socket};
use crate::clock::Clock;
use crate::config::Config;
use crate::idm::{Idm, IdmError, Oidc, Passkeys, SetupGate};
use crate::info::DaemonInfo;
use crate::private_files::PrivateFileError;
use crate::sealing::{KeyError, KeyId, KeyOrigin, KeySource};
use crate::store::{Store, StoreError};
use crate::web::WebState;

/// The daemon's version, as shown in the console and on `/healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why the daemon could not start. Each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    DataDir(#[from] PrivateFileError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    EncryptionKey(#[from] KeyError),
    #[error(transparent)]
    Idm(#[from] IdmError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error(transparent)]
    Tls(#[from] web::tls::TlsError),
    #[error(transparent)]
    Metrics(#[from] metrics::MetricsError),
}

/// A daemon that is serving. Stop it with [`RunningDaemon::stop`].
#[derive(Debug)]
pub struct RunningDaemon {
    http_addr: SocketAddr,
    socket_path: PathBuf,
    idm: Idm,
    oidc: Oidc,
    setup_link: Option<String>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    http: JoinHandle<std::io::Result<()>>,
    mail: mail::MailService,
    ldap: jobs::LdapSync,
    replica: idm::ReplicaId,
}

impl RunningDaemon {
    /// The address the web server actually bound (useful with port 0).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    pub fn idm(&self) -> &Idm {
        &self.idm
    }

    /// The OpenID Connect provider (clients, signing keys, …).
    pub fn oidc(&self) -> &Oidc {
        &self.oidc
    }

    /// The one-time first-admin link logged at start, when no admin existed then.
    pub fn setup_link(&self) -> Option<&str> {
        self.setup_link.as_deref()
    }

    /// This process's id among replicas, as job leases name their holder.
    pub fn replica_id(&self) -> &idm::ReplicaId {
        &self.replica
    }

    /// Makes the mail delivery worker look at the outbox now (tests call
    /// this after moving the clock past a retry time).
    pub fn wake_mail(&self) {
        self.mail.wake();
    }

    /// Makes the LDAP sync schedule look at the clock now (tests call this
    /// after moving the clock past `ldap.sync_interval_minutes`).
    pub fn wake_ldap_sync(&self) {
        self.ldap.wake();
    }

    /// Stops accepting work, lets in-flight requests finish, removes the
    /// socket file and closes the database.
    pub async fn stop(self) -> std::io::Result<()> {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        match self.http.await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// Opens the store, binds the web listener and the admin socket, and starts
/// serving both. Returns once both are accepting connections.
pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> Result<RunningDaemon, StartError> {
    // The store first: a second daemon on the same data directory should
    // hear about the data directory, not about the port.
    let idm = open_store(config, &clock)?;
    let listener =
        std::net::TcpListener::bind(config.listen).map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    serve(config, clock, idm, listener).await
}

/// [`start`] on a listener the caller bound: tests bind port 0 first so
/// that the public URL can name the real port.
pub async fn start_on(
    config: &Config,
    clock: Arc<dyn Clock>,
    listener: std::net::TcpListener,
) -> Result<RunningDaemon, StartError> {
    let idm = open_store(config, &clock)?;
    serve(config, clock, idm, listener).await
}

/// Makes the data directory private, opens the database (0600), loads the encryption key (or
/// makes it on first start) and seals any secret an earlier release stored in the clear.
fn open_store(config: &Config, clock: &Arc<dyn Clock>) -> Result<Idm, StartError> {
    private_files::ensure_dir(&config.data_dir)?;
    let mut store = match &config.database_url {
        Some(url) => Store::open_postgres(url.expose())?,
        None => Store::open(&config.db_path())?,
    };
    // The data directory is this daemon's now (the database file's lock says so; with
    // PostgreSQL each replica has its own): leftovers of a snapshot cut short are dead.
    remove_leftover_copies(&config.data_dir);
    let source = match &config.encryption_key {
        Some(key) => KeySource::Env(key.expose()),
        None => KeySource::File(&config.encryption_key_file),
    };
    let recorded = store.encryption_key_id()?.map(KeyId::from_bytes);
    let (sealer, origin) = sealing::load_or_create(source, recorded)?;
    match &origin {
        KeyOrigin::File { created: true, .. } => warn!(
            "made a new encryption key in {origin} (key id {}): back it up, apart from the \
             database's backups; without it the secrets in the database cannot be read",
            sealer.key_id()
        ),
        _ => info!(
            "secrets in the database are encrypted with the key from {origin} (key id {})",
            sealer.key_id()
        ),
    }
    let report = Idm::with_sealer(store.clone(), Arc::clone(clock), sealer.clone())
        .seal_secrets_at_rest()?;
    if report.sealed > 0 {
        // The plaintext is still in the pages the sealing freed; compacting overwrites them.
        // That `Idm` is gone, so this handle is the only one.
        if !store.compact()? {
            warn!("could not compact the database; old pages may still hold secrets in the clear");
        }
        warn!(
            "encrypted {} secrets an earlier release stored in the clear; backups made before \
             this start still hold them in the clear (see docs/ARCHITECTURE.md)",
            report.sealed
        );
    }
    Ok(Idm::with_sealer(store, Arc::clone(clock), sealer))
}

/// Removes the snapshots (`.backup-*`, from `latchkey backup`; `.export-*`, from `latchkey
/// export`) and staged restores (`.restore-*`) that a process stopped midway left in the data
/// directory.
fn remove_leftover_copies(data_dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let snapshot = (name.starts_with(".backup-") || name.starts_with(".restore-"))
            && name.ends_with(".redb");
        if snapshot || (name.starts_with(".export-") && name.ends_with(".jsonl")) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    info!("removed {name}, left by a backup, export or restore that stopped midway")
                }
                Err(e) => warn!("could not remove {name}: {e}"),
            }
        }
    }
}

async fn serve(
    config: &Config,
    clock: Arc<dyn Clock>,
    idm: Idm,
    listener: std::net::TcpListener,
) -> Result<RunningDaemon, StartError> {
    let listen_err = |source| StartError::Listen {
        addr: config.listen,
        source,
    };
    listener.set_nonblocking(true).map_err(listen_err)?;
    let listener = TcpListener::from_std(listener).map_err(listen_err)?;
    let http_addr = listener.local_addr().map_err(listen_err)?;
    // Before the socket: a certificate that does not load stops the start with nothing bound
    // but the port.
    let tls = config.tls.as_ref().map(web::tls::Tls::load).transpose()?;
    let socket = bind_admin_socket(&config.socket, config.admin_group.as_deref()).await?;

    let info = Arc::new(DaemonInfo {
        version: VERSION,
        public_url: config.public_url.as_str().to_owned(),
        data_dir: config.data_dir.clone(),
        database: config.data_location(),
        started_at: clock.now(),
    });
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let (events, _) = broadcast::channel(256);
    // Consoles that subscribed follow the audit log live.
    let watching = events.clone();
    idm.on_audit(move || watching.receiver_count() > 0, {
        let events = events.clone();
        move |event| {
            let audit = admin::audit_event_view(event);
            // No subscriber is fine.
            let _ = events.send(latchkey_protocol::Event::AuditAppended { audit });
        }
    });

    // WebAuthn refuses some public URLs (an IP address); the daemon still serves the rest.
    let passkeys = match Passkeys::new(idm.clone(), &config.public_url.origin()) {
        Ok(passkeys) => Some(passkeys),
        Err(e) => {
            warn!("passkey sign-in is unavailable: {e}");
            None
        }
    };
    // Loads the signing keys (making the first one on a fresh install).
    let oidc = Oidc::new(idm.clone(), config.public_url.as_str())?;
    let (setup_gate, setup_token) = SetupGate::issue(&idm)?;
    let web_state = WebState::new(
        idm.clone(),
        Arc::clone(&info),
        passkeys,
        setup_gate,
        &config.public_url,
        &config.trusted_proxies,
    )
    .with_oidc(oidc.clone())
    .with_tasks(tracker.clone())
    .with_body_timeout(config.http.body_timeout);
    let limiter = web_state.limiter.clone();
    // Who this process is among replicas sharing a database: the holder
    // named in the leases of the jobs that run once (`jobs/mod.rs`).
    let replica = idm::ReplicaId::random();
    let http = tokio::spawn(web::serve::serve(
        listener,
        web::router(web_state),
        config.http,
        tls.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(web::tls::reload_on_hangup(tls, shutdown.clone()));
    if let Some(addr) = config.metrics_listen {
        let db_file = config.database_url.is_none().then(|| config.db_path());
        let metrics = metrics::serve(addr, idm.clone(), db_file, shutdown.clone()).await?;
        tracker.spawn(metrics);
        info!("metrics at http://{addr}/metrics");
    }

    // The jobs (`jobs/mod.rs` says what runs when).
    tracker.spawn(jobs::rate_limit_sweep::run(
        move || limiter.retain_recent(),
        shutdown.clone(),
    ));
    let ldap = jobs::LdapSync::new(
        idm.clone(),
        Arc::new(ldap::LdapDirectory),
        events.clone(),
        replica.clone(),
    );
    tracker.spawn(ldap.clone().schedule(shutdown.clone()));
    let mail = mail::MailService::new(Arc::new(mail::SmtpMailer));
    idm.store().set_mail_observer({
        let mail = mail.clone();
        Arc::new(move || mail.wake())
    });
    tracker.spawn(jobs::mail_delivery::run(
        idm.clone(),
        mail.clone(),
        replica.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(jobs::expiry_sweep::run(
        idm.clone(),
        oidc.clone(),
        replica.clone(),
        shutdown.clone(),
    ));
    // Replicas sharing a PostgreSQL database hear what the others changed.
    if let Some(notices) = idm.replica_notices() {
        tracker.spawn(jobs::replica_notices::run(
            idm.clone(),
            oidc.clone(),
            events.clone(),
            notices,
            shutdown.clone(),
        ));
    }

    let admin = AdminServer::new(
        socket,
        ConnectionContext {
            idm: idm.clone(),
            oidc: oidc.clone(),
            info,
            events,
            ldap: ldap.clone(),
            mail: mail.clone(),
        },
    );
    tracker.spawn(admin.run(shutdown.clone(), tracker.clone()));

    info!(
        "latchkeyd {VERSION} listening on {}://{http_addr} (public URL {}), data in {}, admin socket {}",
        if config.tls.is_some() {
            "https"
        } else {
            "http"
        },
        config.public_url.as_str(),
        config.data_location(),
        config.socket.display(),
    );
    let setup_link =
        setup_token.map(|token| format!("{}/setup/{token}", config.public_url.as_str()));
    if let Some(link) = &setup_link {
        warn!(
            "no admin account exists yet.\n    open {link} to create the first admin account\n    \
             (this link works once, until an admin exists; a restart prints a new one)\n    \
             or from this machine:\n    \
             latchkey --socket {socket} user create --username admin --email you@example.com --admin\n    \
             latchkey --socket {socket} login-code create admin",
            socket = config.socket.display(),
        );
    }
    Ok(RunningDaemon {
        http_addr,
        socket_path: config.socket.clone(),
        idm,
        oidc,
        setup_link,
        shutdown,
        tracker,
        http,
        mail,
        ldap,
        replica,
    })
}
