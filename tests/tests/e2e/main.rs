//! End-to-end tests: the real daemon in-process, the real admin socket, the
//! real console code, real HTTP on loopback.

// Helpers in a test binary fail loudly, like the tests they serve.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod account_notices;
mod admin_socket;
mod backend_migration;
mod backup;
mod browser_sessions;
mod cli_output;
mod cli_users;
mod console;
mod console_runner;
mod crash;
mod daemon_process;
mod email_links;
mod email_verified;
mod export;
mod first_admin_setup;
mod http_limits;
mod https;
mod known_devices;
mod ldap;
mod lifecycle;
mod limits;
mod login_codes;
mod mail_delivery;
mod metrics;
mod oidc_admin;
mod oidc_authorize;
mod oidc_code_flow;
mod oidc_conformance;
mod oidc_grant_end;
mod oidc_keys_and_claims;
mod oidc_logout;
mod oidc_par;
mod oidc_parameters;
mod oidc_tokens;
mod passkey_refusals;
mod passkeys;
mod postgres_harness;
mod postgres_outage;
mod postgres_read_ahead;
mod postgres_schema;
mod replica_crash;
mod replica_jobs;
mod replica_notices;
mod replicas;
mod secrets_at_rest;
mod security_headers;
mod session_end;
mod settings;
mod signup;
mod upgrade;
mod web_pages;
