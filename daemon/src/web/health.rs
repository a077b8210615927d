//! `GET /healthz` and `GET /readyz`, for load balancers and service managers.
//!
//! - `/healthz` (liveness): the process answers and reads the store, so a broken database
//!   file or an unreachable PostgreSQL shows as unhealthy.
//! - `/readyz` (readiness): the database answers and its schema is the one this binary
//!   speaks (`idm::readiness`). A replica left behind by a rolling upgrade is alive but not
//!   ready. Both answer JSON, 200 or 503.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::WebState;
use crate::idm::readiness::NotReady;

pub(super) async fn healthz_get(State(state): State<WebState>) -> (StatusCode, Json<Value>) {
    match state.idm.counts() {
        Ok(_) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "version": state.info.version})),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "error", "error": e.to_string()})),
        ),
    }
}

pub(super) async fn readyz_get(State(state): State<WebState>) -> (StatusCode, Json<Value>) {
    let idm = state.idm.clone();
    let readiness = tokio::task::spawn_blocking(move || idm.readiness()).await;
    match readiness {
        Ok(Ok(schema)) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "version": state.info.version, "schema": schema})),
        ),
        Ok(Err(not_ready)) => {
            let reason = match &not_ready {
                NotReady::Database(_) => "database",
                NotReady::Schema { .. } => "schema",
            };
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    json!({"status": "not_ready", "reason": reason, "error": not_ready.to_string()}),
                ),
            )
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "reason": "internal", "error": e.to_string()})),
        ),
    }
}
