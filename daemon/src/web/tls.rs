//! Built-in HTTPS: the certificate chain and key from PEM files (`tls_cert`, `tls_key`),
//! served with rustls, and read again on SIGHUP.
//!
//! - rustls with the ring provider, the stack lettre and ldap3 already bring: one TLS library
//!   in the daemon, no C build. TLS 1.2 and 1.3 with rustls's safe defaults; ALPN offers
//!   HTTP/1.1 only, which is what `serve.rs` speaks.
//! - A reload builds a whole new configuration and swaps it in; a handshake takes the
//!   configuration current when it starts, so connections already open keep theirs and none
//!   is dropped. A file that does not load (missing, half-written by a renewal, a key that
//!   does not match) is reported and the configuration in use is kept.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::config::TlsFiles;

/// Why the certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate chain {}: {message}", path.display())]
    Cert { path: PathBuf, message: String },
    #[error("{} holds no certificate (expected PEM \"BEGIN CERTIFICATE\" blocks)", path.display())]
    NoCert { path: PathBuf },
    #[error("cannot read the TLS private key {}: {message}", path.display())]
    Key { path: PathBuf, message: String },
    #[error("the TLS certificate {} and key {} cannot be used together: {message}", cert.display(), key.display())]
    Config {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
}

/// The acceptor for new connections, replaced whole by [`Tls::reload`].
pub struct Tls {
    files: TlsFiles,
    acceptor: RwLock<TlsAcceptor>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads `files`; fails with what is wrong with them.
    pub fn load(files: &TlsFiles) -> Result<Arc<Tls>, TlsError> {
        let acceptor = acceptor(files)?;
        Ok(Arc::new(Tls {
            files: files.clone(),
            acceptor: RwLock::new(acceptor),
        }))
    }

    /// Reads the files again; on success new handshakes use them, on failure nothing changes.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = acceptor(&self.files)?;
        *self
            .acceptor
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    /// The acceptor for a connection starting now.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// Reloads `tls` on every SIGHUP until `shutdown`. Installed without TLS too: SIGHUP's
/// default action ends a process, and `systemctl reload` must never stop the service.
pub async fn reload_on_hangup(tls: Option<Arc<Tls>>, shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(e) => {
            tracing::warn!("cannot listen for SIGHUP, so the certificate is never reloaded: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            hangup = hangups.recv() => if hangup.is_none() { return },
        }
        let Some(tls) = &tls else {
            tracing::info!("SIGHUP: nothing to reload (no tls_cert is set)");
            continue;
        };
        let reloading = Arc::clone(tls);
        match tokio::task::spawn_blocking(move || reloading.reload()).await {
            Ok(Ok(())) => tracing::info!(
                "SIGHUP: reloaded the TLS certificate {} and key {}",
                tls.files.cert.display(),
                tls.files.key.display()
            ),
            Ok(Err(e)) => {
                tracing::error!("SIGHUP: {e}; still serving the certificate loaded before");
            }
            Err(e) => tracing::error!("SIGHUP: reloading the certificate stopped: {e}"),
        }
    }
}

fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let certs = certificates(&files.cert)?;
    let key = private_key(&files.key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config_error = |e: rustls::Error| TlsError::Config {
        cert: files.cert.clone(),
        key: files.key.clone(),
        message: e.to_string(),
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(config_error)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let error = |message: String| TlsError::Cert {
        path: path.to_owned(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCert {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Key {
        path: path.to_owned(),
        message: e.to_string(),
    })
}
