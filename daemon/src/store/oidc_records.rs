//! The stored OIDC records that have more than one version: clients, consents and refresh
//! tokens. Each `Stored*` envelope keeps every version it ever had, and reading upgrades old
//! bytes to the newest (see `records`); the rest of the daemon sees only `*Record`.

use serde::{Deserialize, Serialize};

use super::records::{GroupId, UserId, Versioned};

/// Implements [`Versioned`] for an envelope whose newest variant is `V2`.
macro_rules! versioned_v2 {
    ($record:ty, $stored:ident, $what:literal) => {
        impl Versioned for $record {
            type Stored = $stored;
            const WHAT: &'static str = $what;
            const ENVELOPE: &'static str = stringify!($stored);
            const CURRENT_INDEX: u32 = 1;
            const CURRENT_NAME: &'static str = "V2";
            fn upgrade(stored: $stored) -> $record {
                match stored {
                    $stored::V1(old) => old.into(),
                    $stored::V2(record) => record,
                }
            }
        }
    };
}

// --- Clients ---

/// An OIDC client (relying party), current version. Keyed by `client_id`.
pub type ClientRecord = ClientV3;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientV1 {
    pub client_id: String,
    pub name: String,
    /// Exactly as registered; matched byte for byte (wildcards aside).
    pub redirect_uris: Vec<String>,
    pub logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub require_pkce: bool,
    pub skip_consent: bool,
    pub allow_wildcard_redirects: bool,
    /// Ids, so that a renamed group keeps its access.
    pub allowed_groups: Vec<GroupId>,
    pub code_secs: Option<u64>,
    pub access_token_secs: Option<u64>,
    pub refresh_token_secs: Option<u64>,
    /// SHA-256 of the client secret; `None` for public clients.
    pub secret_hash: Option<[u8; 32]>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Hides the secret's hash.
impl std::fmt::Debug for ClientV1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientV1")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Version 2 adds the absolute limit on a refresh-token chain.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientV2 {
    pub client_id: String,
    pub name: String,
    /// Exactly as registered; matched byte for byte (wildcards aside).
    pub redirect_uris: Vec<String>,
    pub logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub require_pkce: bool,
    pub skip_consent: bool,
    pub allow_wildcard_redirects: bool,
    /// Ids, so that a renamed group keeps its access. A restriction whose groups were all
    /// deleted since admits nobody (it is not lifted).
    pub allowed_groups: Vec<GroupId>,
    pub code_secs: Option<u64>,
    pub access_token_secs: Option<u64>,
    pub refresh_token_secs: Option<u64>,
    /// How long a chain of refresh tokens may go on from its first token, whatever the
    /// rotations; `None` is the default (90 days).
    pub refresh_max_secs: Option<u64>,
    /// SHA-256 of the client secret; `None` for public clients.
    pub secret_hash: Option<[u8; 32]>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<ClientV1> for ClientV2 {
    fn from(old: ClientV1) -> ClientV2 {
        ClientV2 {
            client_id: old.client_id,
            name: old.name,
            redirect_uris: old.redirect_uris,
            logout_redirect_uris: old.logout_redirect_uris,
            public: old.public,
            require_pkce: old.require_pkce,
            skip_consent: old.skip_consent,
            allow_wildcard_redirects: old.allow_wildcard_redirects,
            allowed_groups: old.allowed_groups,
            code_secs: old.code_secs,
            access_token_secs: old.access_token_secs,
            refresh_token_secs: old.refresh_token_secs,
            refresh_max_secs: None,
            secret_hash: old.secret_hash,
            created_at: old.created_at,
            updated_at: old.updated_at,
        }
    }
}

/// Hides the secret's hash.
impl std::fmt::Debug for ClientV2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientV2")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Version 3 adds the pushed-authorization-request requirement.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientV3 {
    pub client_id: String,
    pub name: String,
    /// Exactly as registered; matched byte for byte (wildcards aside).
    pub redirect_uris: Vec<String>,
    pub logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub require_pkce: bool,
    /// Authorization requests must be pushed first (RFC 9126): `/authorize` takes only a
    /// `request_uri` from `/par` for this client.
    pub require_par: bool,
    pub skip_consent: bool,
    pub allow_wildcard_redirects: bool,
    /// Ids, so that a renamed group keeps its access. A restriction whose groups were all
    /// deleted since admits nobody (it is not lifted).
    pub allowed_groups: Vec<GroupId>,
    pub code_secs: Option<u64>,
    pub access_token_secs: Option<u64>,
    pub refresh_token_secs: Option<u64>,
    /// How long a chain of refresh tokens may go on from its first token, whatever the
    /// rotations; `None` is the default (90 days).
    pub refresh_max_secs: Option<u64>,
    /// SHA-256 of the client secret; `None` for public clients.
    pub secret_hash: Option<[u8; 32]>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<ClientV2> for ClientV3 {
    fn from(old: ClientV2) -> ClientV3 {
        ClientV3 {
            client_id: old.client_id,
            name: old.name,
            redirect_uris: old.redirect_uris,
            logout_redirect_uris: old.logout_redirect_uris,
            public: old.public,
            require_pkce: old.require_pkce,
            require_par: false,
            skip_consent: old.skip_consent,
            allow_wildcard_redirects: old.allow_wildcard_redirects,
            allowed_groups: old.allowed_groups,
            code_secs: old.code_secs,
            access_token_secs: old.access_token_secs,
            refresh_token_secs: old.refresh_token_secs,
            refresh_max_secs: old.refresh_max_secs,
            secret_hash: old.secret_hash,
            created_at: old.created_at,
            updated_at: old.updated_at,
        }
    }
}

/// Hides the secret's hash.
impl std::fmt::Debug for ClientV3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientV3")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("redirect_uris", &self.redirect_uris)
            .field("public", &self.public)
            .field("secret_hash", &self.secret_hash.map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredClient {
    V1(ClientV1),
    V2(ClientV2),
    V3(ClientV3),
}

impl Versioned for ClientV3 {
    type Stored = StoredClient;
    const WHAT: &'static str = "OIDC client";
    const ENVELOPE: &'static str = "StoredClient";
    const CURRENT_INDEX: u32 = 2;
    const CURRENT_NAME: &'static str = "V3";
    fn upgrade(stored: StoredClient) -> ClientV3 {
        match stored {
            StoredClient::V1(old) => ClientV2::from(old).into(),
            StoredClient::V2(old) => old.into(),
            StoredClient::V3(record) => record,
        }
    }
}

// --- Consents ---

/// A user's consent to a client, current version. Keyed by (user, client).
pub type ConsentRecord = ConsentV2;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ConsentV1 {
    /// Sorted, without duplicates.
    pub scopes: Vec<String>,
    pub granted_at: i64,
}

/// Version 2 records grants the user was never asked about.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ConsentV2 {
    /// Sorted, without duplicates.
    pub scopes: Vec<String>,
    pub granted_at: i64,
    /// Recorded without asking, because the client skips consent: listed and revocable like
    /// any other, but it never stands in for the user's answer if the client starts asking.
    pub implied: bool,
}

impl From<ConsentV1> for ConsentV2 {
    fn from(old: ConsentV1) -> ConsentV2 {
        ConsentV2 {
            scopes: old.scopes,
            granted_at: old.granted_at,
            implied: false,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredConsent {
    V1(ConsentV1),
    V2(ConsentV2),
}

versioned_v2!(ConsentV2, StoredConsent, "consent");

// --- Refresh tokens ---

/// A refresh token, current version. Keyed by the SHA-256 of the token, which is never
/// stored. Every token of one grant (one code exchange) is one rotation family: `used` marks
/// a token that was rotated, so seeing it again is reuse and ends the family.
pub type RefreshTokenRecord = RefreshTokenV2;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RefreshTokenV1 {
    pub grant_id: [u8; 16],
    pub user_id: UserId,
    pub client_id: String,
    pub sid: Option<String>,
    pub scopes: Vec<String>,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub nonce: Option<String>,
    pub epoch: u64,
    pub issued_at: i64,
    pub expires_at: i64,
    pub used: bool,
}

/// Version 2 adds when the family started, for the client's absolute chain limit.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RefreshTokenV2 {
    /// The grant (authorization) the family belongs to: 16 random bytes.
    pub grant_id: [u8; 16],
    pub user_id: UserId,
    pub client_id: String,
    /// The public id of the browser session the grant was made in: ending that session
    /// (sign-out, an admin's revocation) ends the family.
    pub sid: Option<String>,
    pub scopes: Vec<String>,
    /// When the user signed in (the session's start), for `auth_time`.
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub nonce: Option<String>,
    /// The (user, client) revocation epoch the grant was made under.
    pub epoch: u64,
    /// When the family's first token was issued (the code exchange); rotation keeps it.
    pub family_started_at: i64,
    pub issued_at: i64,
    pub expires_at: i64,
    /// Rotated already: presenting it again is reuse.
    pub used: bool,
}

/// A family from before version 2 did not record its start: the sign-in that began it
/// (`auth_time`) came first, so counting from there can only end the chain early, never
/// let it run past the limit.
impl From<RefreshTokenV1> for RefreshTokenV2 {
    fn from(old: RefreshTokenV1) -> RefreshTokenV2 {
        RefreshTokenV2 {
            grant_id: old.grant_id,
            user_id: old.user_id,
            client_id: old.client_id,
            sid: old.sid,
            scopes: old.scopes,
            auth_time: old.auth_time,
            amr: old.amr,
            nonce: old.nonce,
            epoch: old.epoch,
            family_started_at: old.auth_time,
            issued_at: old.issued_at,
            expires_at: old.expires_at,
            used: old.used,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredRefreshToken {
    V1(RefreshTokenV1),
    V2(RefreshTokenV2),
}

versioned_v2!(RefreshTokenV2, StoredRefreshToken, "refresh token");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{decode, encode};

    fn v1_token() -> RefreshTokenV1 {
        RefreshTokenV1 {
            grant_id: [3; 16],
            user_id: UserId::random(),
            client_id: "c".into(),
            sid: Some("s".into()),
            scopes: vec!["openid".into()],
            auth_time: 100,
            amr: vec!["otp".into()],
            nonce: None,
            epoch: 2,
            issued_at: 150,
            expires_at: 900,
            used: false,
        }
    }

    #[test]
    fn version_1_bytes_upgrade_on_read() {
        let old = v1_token();
        let bytes = postcard::to_stdvec(&StoredRefreshToken::V1(old.clone())).unwrap();
        let read: RefreshTokenRecord = decode(&bytes).unwrap();
        assert_eq!(read.family_started_at, old.auth_time);
        assert_eq!((read.issued_at, read.epoch), (150, 2));

        let consent = ConsentV1 {
            scopes: vec!["openid".into()],
            granted_at: 5,
        };
        let bytes = postcard::to_stdvec(&StoredConsent::V1(consent)).unwrap();
        let read: ConsentRecord = decode(&bytes).unwrap();
        assert!(!read.implied);
    }

    #[test]
    fn the_current_version_round_trips_as_variant_2() {
        let record = RefreshTokenV2::from(v1_token());
        let bytes = encode(&record).unwrap();
        assert_eq!(bytes[0], 1, "V2 is variant 1");
        assert_eq!(decode::<RefreshTokenRecord>(&bytes).unwrap(), record);
        let via_enum = postcard::to_stdvec(&StoredRefreshToken::V2(record)).unwrap();
        assert_eq!(bytes, via_enum);
    }
}
