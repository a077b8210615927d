//! Views and inputs for OpenID Connect administration: clients, signing
//! keys, custom claims and the apps a user has authorized.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Input for a new OIDC client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewClient {
    pub name: String,
    /// Exact redirect URIs. A `*` is allowed only in a label of the host of a
    /// URI when `allow_wildcard_redirects` is set, and then matches exactly
    /// one DNS label.
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub logout_redirect_uris: Vec<String>,
    /// A public client (SPA, native app) has no secret and must use PKCE.
    #[serde(default)]
    pub public: bool,
    /// Require PKCE from a confidential client too.
    #[serde(default)]
    pub require_pkce: bool,
    /// Take authorization requests only as pushed first to `/par` (RFC 9126).
    #[serde(default)]
    pub require_par: bool,
    #[serde(default)]
    pub skip_consent: bool,
    #[serde(default)]
    pub allow_wildcard_redirects: bool,
    /// Only members of these groups may sign in to this client; empty = everyone.
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    #[serde(default)]
    pub lifetimes: TokenLifetimes,
}

/// Per-client overrides, in seconds; `None` uses the default
/// (code 600, access token 3600, refresh token 30 days, refresh chain 90 days).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenLifetimes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_secs: Option<u64>,
    /// The absolute limit on a chain of refresh tokens, from the code exchange: past it,
    /// refresh fails and the user signs in again, however often the chain was rotated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_max_secs: Option<u64>,
}

/// A partial update of a client; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logout_redirect_uris: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pkce: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_par: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_consent: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_wildcard_redirects: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetimes: Option<TokenLifetimes>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub require_pkce: bool,
    #[serde(default)]
    pub require_par: bool,
    pub skip_consent: bool,
    pub allow_wildcard_redirects: bool,
    pub allowed_groups: Vec<String>,
    pub lifetimes: TokenLifetimes,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A client with its secret: shown exactly once, at creation and on rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientWithSecret {
    #[serde(flatten)]
    pub client: ClientView,
    /// `None` for public clients.
    pub client_secret: Option<String>,
}

/// A signing key as the JWKS publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyView {
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// `active` (signs new tokens), or `previous` (still published until
    /// every token it signed has expired).
    pub state: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When a previous key leaves the JWKS.
    #[serde(with = "time::serde::rfc3339::option")]
    pub retire_at: Option<OffsetDateTime>,
}

/// Whose custom claims: a user (username, email or id) or a group (name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum ClaimOwner {
    User(String),
    Group(String),
}

/// A user's consent to a client, as the account page and console list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationView {
    pub client_id: String,
    pub client_name: String,
    pub scopes: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: OffsetDateTime,
    /// Granted without asking the user, because the client skips consent.
    #[serde(default)]
    pub implied: bool,
}
