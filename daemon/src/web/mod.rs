//! The HTTP side: axum routers for pages, WebAuthn JSON and OIDC. Handlers
//! are thin adapters over `idm`.

mod health;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::idm::Idm;
use crate::info::DaemonInfo;

/// Shared by every handler; cheap to clone.
#[derive(Debug, Clone)]
pub struct WebState {
    pub idm: Idm,
    pub info: Arc<DaemonInfo>,
}

pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz_get))
        .with_state(state)
}
