//! `GET /healthz`: for load balancers and service managers. It reads the
//! store, so a broken database file shows as unhealthy.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::WebState;

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
