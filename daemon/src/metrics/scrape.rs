//! `GET /metrics` on its own listener: the recorder's text, after reading the gauges whose
//! state lives in the database or the kernel.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::gauge;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{MetricsError, install};
use crate::idm::Idm;

/// How often histograms are compacted between scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

/// What the scrape reads beside the recorder.
#[derive(Clone)]
struct Scrape {
    handle: PrometheusHandle,
    idm: Idm,
    /// The redb file; `None` on PostgreSQL (the database measures itself).
    db_file: Option<PathBuf>,
}

/// Binds `addr` now (so a taken port fails the start) and returns the task serving
/// `/metrics` on it until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    idm: Idm,
    db_file: Option<PathBuf>,
    shutdown: CancellationToken,
) -> Result<impl Future<Output = ()>, MetricsError> {
    let handle = install()?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsError::Listen { addr, source })?;
    let scrape = Scrape {
        handle: handle.clone(),
        idm,
        db_file,
    };
    let app = Router::new()
        .route("/metrics", get(metrics_get))
        .with_state(scrape);
    Ok(async move {
        let upkeep = {
            let shutdown = shutdown.clone();
            async move {
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(UPKEEP) => handle.run_upkeep(),
                    }
                }
            }
        };
        let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned());
        let (served, ()) = tokio::join!(server, upkeep);
        if let Err(e) = served {
            tracing::error!("the metrics server stopped: {e}");
        }
    })
}

async fn metrics_get(State(scrape): State<Scrape>) -> Response {
    let idm = scrape.idm.clone();
    let db_file = scrape.db_file.clone();
    let read = tokio::task::spawn_blocking(move || read_gauges(&idm, db_file)).await;
    if read.is_err() {
        gauge!("latchkey_database_up").set(0.0);
    }
    if let Some(rss) = resident_bytes() {
        gauge!("process_resident_memory_bytes").set(rss as f64);
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        scrape.handle.render(),
    )
        .into_response()
}

/// Sets the gauges read from the database; `latchkey_database_up` says whether it answered.
fn read_gauges(idm: &Idm, db_file: Option<PathBuf>) {
    let mut up = true;
    let size = match db_file {
        Some(path) => std::fs::metadata(path).ok().map(|m| m.len()),
        None => match idm.database_size_bytes() {
            Ok(size) => size,
            Err(_) => {
                up = false;
                None
            }
        },
    };
    if let Some(size) = size {
        gauge!("latchkey_database_size_bytes").set(size as f64);
    }
    match idm.outbox_counts() {
        Ok(mail) => {
            for (state, count) in [
                ("queued", mail.queued),
                ("retrying", mail.retrying),
                ("failed", mail.failed),
            ] {
                gauge!("latchkey_mail_queue", "state" => state).set(count as f64);
            }
        }
        Err(_) => up = false,
    }
    match idm.ldap_sync_state() {
        Ok(state) => {
            if let Some(finished) = state.finished_at {
                let at = finished.unix_timestamp() as f64;
                let ok = state.error.is_none();
                gauge!("latchkey_ldap_last_sync_timestamp_seconds").set(at);
                gauge!("latchkey_ldap_last_sync_success").set(if ok { 1.0 } else { 0.0 });
                if ok {
                    gauge!("latchkey_ldap_last_success_timestamp_seconds").set(at);
                }
            }
        }
        Err(_) => up = false,
    }
    gauge!("latchkey_database_up").set(if up { 1.0 } else { 0.0 });
}

/// VmRSS from `/proc/self/status`, in bytes.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}
