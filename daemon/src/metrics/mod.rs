//! Prometheus metrics, served at `http://<metrics_listen>/metrics` when that is set.
//!
//! - Recording goes through the `metrics` facade: counters and histograms are bumped where
//!   things happen (HTTP requests in `web::request_metrics`, tokens in the token endpoint,
//!   rate-limit refusals, mail attempts, LDAP syncs, write transactions), sign-ins from the
//!   audit events a write of this replica committed ([`audit_committed`], called by the
//!   store), so a rolled-back sign-in is not counted and every method is, wherever it opens
//!   its session. Nothing is recorded, and no label is built, until [`install`] ran: [`on`]
//!   guards every call site. This module depends on nothing of the daemon's; the scrape
//!   endpoint (`scrape.rs`) reads through `idm`.
//! - Gauges of state that lives in the database (the mail queue, the last LDAP sync, the
//!   database's size) and the process's memory are read when Prometheus scrapes, so every
//!   replica reports the deployment's queue and sync as they are, not as it last saw them.
//! - Counters are per process (per replica); sum them across replicas in the dashboard
//!   (`dist/grafana-dashboard.json`).
//! - The recorder is process-wide (the facade has one slot): daemons in one process (tests)
//!   share it.

mod scrape;

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use metrics::{counter, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

pub use scrape::serve;

/// Histogram buckets for every `*_seconds` metric: from a cached read (0.5 ms) to a slow
/// directory or SMTP server (30 s).
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

static ON: AtomicBool = AtomicBool::new(false);
static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Whether metrics are recorded: call sites skip building labels otherwise.
pub fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Why metrics could not be served.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot set up the metrics recorder: {0}")]
    Recorder(#[from] BuildError),
    #[error("cannot listen for metrics on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Installs the process's recorder (once; later calls return the same handle).
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    let mut slot = HANDLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(handle) = &*slot {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    // Fails only if another recorder was installed, which nothing in latchkeyd does.
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!("another metrics recorder is installed; /metrics may stay empty");
    }
    describe();
    ON.store(true, Ordering::Relaxed);
    *slot = Some(handle.clone());
    Ok(handle)
}

/// Every family latchkeyd records: name, kind, help.
pub const FAMILIES: [(&str, Kind, &str); 18] = [
    (
        "latchkey_http_requests_total",
        Kind::Counter,
        "HTTP requests answered, by route template, method and status",
    ),
    (
        "latchkey_http_request_duration_seconds",
        Kind::Histogram,
        "Time to answer an HTTP request, by route template",
    ),
    (
        "latchkey_sign_ins_total",
        Kind::Counter,
        "Sign-ins committed on this replica, by method and outcome (success, failure)",
    ),
    (
        "latchkey_sign_in_failures_total",
        Kind::Counter,
        "Refused sign-ins, by reason",
    ),
    (
        "latchkey_tokens_issued_total",
        Kind::Counter,
        "Token endpoint answers with tokens, by grant type",
    ),
    (
        "latchkey_token_errors_total",
        Kind::Counter,
        "Token endpoint refusals, by grant type and OAuth error",
    ),
    (
        "latchkey_rate_limit_refusals_total",
        Kind::Counter,
        "Requests refused by a rate limit, by limit",
    ),
    (
        "latchkey_mail_queue",
        Kind::Gauge,
        "Messages in the outbox, by state (queued, retrying, failed)",
    ),
    (
        "latchkey_mail_attempts_total",
        Kind::Counter,
        "SMTP delivery attempts by this replica, by outcome (sent, failed)",
    ),
    (
        "latchkey_ldap_sync_duration_seconds",
        Kind::Histogram,
        "Duration of LDAP syncs this replica ran",
    ),
    (
        "latchkey_ldap_syncs_total",
        Kind::Counter,
        "LDAP syncs this replica ran, by outcome (success, failure)",
    ),
    (
        "latchkey_ldap_last_sync_timestamp_seconds",
        Kind::Gauge,
        "When the deployment's last LDAP sync ended (Unix time)",
    ),
    (
        "latchkey_ldap_last_sync_success",
        Kind::Gauge,
        "1 when the deployment's last LDAP sync succeeded, 0 when it failed",
    ),
    (
        "latchkey_ldap_last_success_timestamp_seconds",
        Kind::Gauge,
        "When an LDAP sync last succeeded, as far as this replica has seen (Unix time)",
    ),
    (
        "latchkey_database_write_seconds",
        Kind::Histogram,
        "Write transactions, from begin to commit",
    ),
    (
        "latchkey_database_size_bytes",
        Kind::Gauge,
        "The database on disk: the redb file, or pg_database_size",
    ),
    (
        "latchkey_database_up",
        Kind::Gauge,
        "1 when the last scrape could read the database, else 0",
    ),
    (
        "process_resident_memory_bytes",
        Kind::Gauge,
        "Resident memory of this process (VmRSS)",
    ),
];

/// How a family is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

fn describe() {
    for (name, kind, help) in FAMILIES {
        match kind {
            Kind::Counter => describe_counter!(name, help),
            Kind::Gauge => describe_gauge!(name, help),
            Kind::Histogram => describe_histogram!(name, help),
        }
    }
}

/// Counts the sign-ins among audit events a write of this process committed.
pub fn audit_committed(event: &str, details: &[(String, String)]) {
    if !on() {
        return;
    }
    let detail = |key: &str| {
        details
            .iter()
            .find(|(k, _)| k == key)
            .map_or_else(|| "unknown".to_owned(), |(_, v)| v.clone())
    };
    if let Some(method) = event.strip_suffix("_sign_in") {
        counter!("latchkey_sign_ins_total", "method" => method.to_owned(), "outcome" => "success")
            .increment(1);
    } else if event == "sign_in_failed" {
        counter!("latchkey_sign_ins_total", "method" => detail("method"), "outcome" => "failure")
            .increment(1);
        counter!("latchkey_sign_in_failures_total", "reason" => detail("reason")).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::FAMILIES;

    /// Every metric the Grafana dashboard in dist/ queries is one latchkeyd records.
    #[test]
    fn the_dashboard_queries_only_recorded_families() {
        let dashboard = include_str!("../../../dist/grafana-dashboard.json");
        let mut queried = 0;
        for (start, _) in dashboard.match_indices("latchkey_") {
            let name: String = dashboard[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(&name);
            assert!(
                FAMILIES.iter().any(|(known, _, _)| *known == family),
                "the dashboard queries {name}, which latchkeyd does not record"
            );
            queried += 1;
        }
        assert!(queried >= 14, "{queried}");
    }
}
