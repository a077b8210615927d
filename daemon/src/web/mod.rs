//! The HTTP side: axum routers for pages, WebAuthn JSON and OIDC. Handlers
//! are thin adapters over `idm`.
//!
//! Module map:
//! - `pages` — askama templates (files in `daemon/templates/`) and the shared frame;
//!   `assets` — the embedded CSS and JS under `/static/`;
//! - `login` — `/`, `/login`, `/login/alternative`, `/lc`; `email_login` — sign-in links by
//!   email (`/login/email`); `account` — `/account`, passkey rename/delete, sign-out; `setup` —
//!   `/setup/{token}`; `passkey_api` — `/api/passkey/*`; `signup` — `/signup`, `/st/{token}`,
//!   `/signup/passkey`; `email_verify` — confirming an address (`/email/verify`, the account
//!   page's "send a confirmation link"); `health` — `/healthz`, `/readyz`; `oidc` — the OpenID Connect
//!   endpoints;
//! - cross-cutting: `csrf` (double-submit cookie + Origin, a middleware in front of every
//!   route), `cookies`, `auth` (the signed-in user), `device` (the known-browser cookie),
//!   `rate_limit`, `client_ip`, `redirect` (the `next` parameter), `headers` (CSP and friends),
//!   `body` (bodies read whole, in time), `error` (one error type) and `error_page` (every
//!   error rendered as a page or JSON), `audit_batch` (audit events committed together),
//!   `serve` (the accept loop and its timeouts).
//!
//! An idm call that writes blocks (redb commits fsync), so handlers run it through
//! [`blocking`]. The hot paths' pure reads (the session lookup, `/authorize`, a token request
//! that writes nothing) take microseconds and run inline: the trip cost more than the read.

mod account;
mod assets;
pub mod audit_batch;
mod auth;
mod body;
pub mod client_ip;
pub mod cookies;
pub mod csrf;
mod device;
mod email_login;
mod email_verify;
pub mod error;
mod error_page;
mod headers;
mod health;
mod login;
pub mod oidc;
mod pages;
mod passkey_api;
mod person_form;
pub mod rate_limit;
pub mod redirect;
mod request_metrics;
pub mod serve;
mod setup;
mod signup;
pub mod tls;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::config::{IpNet, PublicUrl};
use crate::idm::{Idm, IdmError, Oidc, Passkeys, SetupGate};
use crate::info::DaemonInfo;

pub use error::WebError;
pub use rate_limit::RateLimiter;

/// Shared by every handler. One `Arc`: the middleware layers and the handler each take a
/// copy per request, and cloning the fields themselves (a dozen reference counts and two
/// strings) showed up at 8% of the daemon's CPU under discovery load.
#[derive(Debug, Clone)]
pub struct WebState(Arc<WebShared>);

impl std::ops::Deref for WebState {
    type Target = WebShared;

    fn deref(&self) -> &WebShared {
        &self.0
    }
}

/// What [`WebState`] shares.
#[derive(Debug, Clone)]
pub struct WebShared {
    pub idm: Idm,
    pub info: Arc<DaemonInfo>,
    /// WebAuthn ceremonies (in memory); `None` when the public URL cannot carry passkeys
    /// (an IP address), and then the passkey endpoints say so.
    pub passkeys: Option<Passkeys>,
    /// The first-admin setup token, while no admin exists.
    pub setup: SetupGate,
    pub limiter: RateLimiter,
    /// The normalised public URL, e.g. `https://id.example.com`.
    pub public_url: String,
    /// `scheme://host[:port]` of the public URL: what `Origin` must equal.
    pub public_origin: String,
    pub trusted_proxies: Arc<[IpNet]>,
    /// Whether the "X-Forwarded-For from an untrusted peer" warning was logged.
    pub forwarding_warning: Arc<client_ip::ForwardingWarning>,
    pub cookies: cookies::CookieNames,
    /// The OpenID Connect provider; `None` only in tests that build a bare state.
    pub oidc: Option<Oidc>,
    /// Work a request starts but does not wait for; the daemon waits for it on shutdown.
    pub tasks: tokio_util::task::TaskTracker,
    /// Admits token requests that may write to the blocking pool a few at a time, in arrival
    /// order (see `oidc::token`): on redb one more than there are cores (the work is signing,
    /// and one may wait on an fsync); on PostgreSQL as many as the store has connections (the
    /// work is mostly waiting for the database).
    pub token_writes: Arc<tokio::sync::Semaphore>,
    /// Audit events that are the whole of their request's write, committed together.
    pub audit: audit_batch::AuditBatch,
    /// How long a request body may take to arrive (`body.rs`).
    pub body_timeout: std::time::Duration,
}

impl WebState {
    pub fn new(
        idm: Idm,
        info: Arc<DaemonInfo>,
        passkeys: Option<Passkeys>,
        setup: SetupGate,
        public_url: &PublicUrl,
        trusted_proxies: &[IpNet],
    ) -> WebState {
        let limiter = RateLimiter::new(Arc::clone(idm.clock()));
        let token_writes = if idm.store().is_shared() {
            crate::store::PG_CONNECTIONS
        } else {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get) + 1
        };
        WebState(Arc::new(WebShared {
            audit: audit_batch::AuditBatch::new(idm.clone()),
            idm,
            info,
            passkeys,
            setup,
            limiter,
            public_url: public_url.as_str().to_owned(),
            public_origin: public_url.origin(),
            trusted_proxies: trusted_proxies.into(),
            forwarding_warning: Arc::default(),
            cookies: cookies::CookieNames::new(public_url.is_https()),
            oidc: None,
            tasks: tokio_util::task::TaskTracker::new(),
            body_timeout: crate::config::HttpLimits::default().body_timeout,
            token_writes: Arc::new(tokio::sync::Semaphore::new(token_writes)),
        }))
    }

    /// The state whose background work the daemon's shutdown waits for.
    pub fn with_tasks(mut self, tasks: tokio_util::task::TaskTracker) -> WebState {
        Arc::make_mut(&mut self.0).tasks = tasks;
        self
    }

    /// The state with this body timeout.
    pub fn with_body_timeout(mut self, timeout: std::time::Duration) -> WebState {
        Arc::make_mut(&mut self.0).body_timeout = timeout;
        self
    }

    /// The state with the OpenID Connect provider.
    pub fn with_oidc(mut self, oidc: Oidc) -> WebState {
        Arc::make_mut(&mut self.0).oidc = Some(oidc);
        self
    }

    /// The WebAuthn service, or the error the passkey endpoints answer with.
    pub fn passkeys(&self) -> Result<Passkeys, WebError> {
        self.passkeys.clone().ok_or_else(|| {
            WebError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "passkeys_unavailable",
                "Passkeys cannot work at this server's address (browsers refuse passkeys for IP \
                 addresses). Ask the administrator to set a host name as the public URL.",
            )
        })
    }

    /// The setting `app.name`, or "Latchkey" when the settings cannot be read (an error page
    /// must still render).
    pub async fn app_name(&self) -> String {
        let idm = self.idm.clone();
        match blocking(move || idm.settings()).await {
            Ok(settings) => settings.app_name,
            Err(_) => "Latchkey".to_owned(),
        }
    }
}

/// Runs an idm call that reads and takes microseconds on redb: inline there (a trip to the
/// blocking pool costs more than the read, measured with `scripts/bench-oidc`), and on the
/// blocking pool on PostgreSQL, where each read may be a round trip that an async worker must
/// not sit waiting for.
pub async fn quick_read<T, F>(state: &WebState, f: F) -> Result<T, WebError>
where
    F: FnOnce() -> Result<T, IdmError> + Send + 'static,
    T: Send + 'static,
{
    if state.idm.store().is_shared() {
        blocking(f).await
    } else {
        f().map_err(WebError::from)
    }
}

/// Runs a blocking idm call on the blocking pool and maps its error for the web.
pub async fn blocking<T, F>(f: F) -> Result<T, WebError>
where
    F: FnOnce() -> Result<T, IdmError> + Send + 'static,
    T: Send + 'static,
{
    blocking_raw(f).await?.map_err(WebError::from)
}

/// [`blocking`], keeping the `IdmError` for handlers that treat some errors specially. The
/// outer error is the task failing (a panic in idm), which is a 500.
pub async fn blocking_raw<T, F>(f: F) -> Result<Result<T, IdmError>, WebError>
where
    F: FnOnce() -> Result<T, IdmError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!("a blocking web task failed: {e}");
        WebError::internal()
    })
}

pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz_get))
        .route("/readyz", get(health::readyz_get))
        .route("/static/{file}", get(assets::static_get))
        .route("/", get(login::root_get))
        .route("/login", get(login::login_get))
        .route("/login/alternative", get(login::alternative_get))
        .route("/lc", get(login::lc_get).post(login::lc_post))
        .route("/lc/{code}", get(login::lc_code_get))
        // Signing in by email, and confirming addresses.
        .route("/login/email", post(email_login::request_post))
        .route("/login/email/verify", post(email_login::verify_post))
        .route("/login/email/{token}", get(email_login::link_get))
        .route("/email/verify", post(email_verify::verify_post))
        .route("/email/verify/{token}", get(email_verify::link_get))
        .route("/account/email/verify", post(email_verify::resend_post))
        .route("/account", get(account::account_get))
        .route(
            "/account/passkeys/{id}/rename",
            post(account::passkey_rename_post),
        )
        .route(
            "/account/passkeys/{id}/delete",
            get(account::passkey_delete_get).post(account::passkey_delete_post),
        )
        .route("/logout", post(account::logout_post))
        .route("/logout/all", post(account::logout_all_post))
        .route(
            "/account/apps/{client_id}/revoke",
            post(account::app_revoke_post),
        )
        .route(
            "/.well-known/openid-configuration",
            get(oidc::discovery::configuration_get),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(oidc::discovery::configuration_get),
        )
        .route("/.well-known/jwks.json", get(oidc::discovery::jwks_get))
        .route(
            "/authorize",
            get(oidc::authorize::authorize_get).post(oidc::authorize::authorize_post),
        )
        .route("/authorize/consent", post(oidc::authorize::consent_post))
        .route("/token", post(oidc::token::token_post))
        .route("/par", post(oidc::par::par_post))
        .route(
            "/userinfo",
            get(oidc::userinfo::userinfo_get).post(oidc::userinfo::userinfo_post),
        )
        .route("/introspect", post(oidc::token::introspect_post))
        .route("/revoke", post(oidc::token::revoke_post))
        .route(
            "/end-session",
            get(oidc::end_session::end_session_get).post(oidc::end_session::end_session_post),
        )
        .route(
            "/end-session/confirm",
            post(oidc::end_session::confirm_post),
        )
        .route(
            "/setup/{token}",
            get(setup::setup_get).post(setup::setup_post),
        )
        // Self-service signup.
        .route("/signup", get(signup::open_get).post(signup::open_post))
        .route("/signup/passkey", get(signup::passkey_get))
        .route(
            "/st/{token}",
            get(signup::token_get).post(signup::token_post),
        )
        .route("/api/passkey/login/start", post(passkey_api::login_start))
        .route("/api/passkey/login/finish", post(passkey_api::login_finish))
        .route(
            "/api/passkey/register/start",
            post(passkey_api::register_start),
        )
        .route(
            "/api/passkey/register/finish",
            post(passkey_api::register_finish),
        )
        // Innermost first: the CSRF check runs before any handler, on a body already read whole
        // within its time and size limits; errors from them and from handlers are rendered;
        // every response gets the security headers.
        .layer(from_fn_with_state(state.clone(), csrf::verify))
        .layer(from_fn_with_state(state.clone(), body::read_whole))
        .layer(from_fn_with_state(state.clone(), error_page::render_errors))
        .layer(from_fn_with_state(state.clone(), headers::security_headers))
        // Outermost: the time and status the client sees.
        .layer(axum::middleware::from_fn(request_metrics::record))
        .with_state(state)
}
