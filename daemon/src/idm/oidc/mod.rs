//! OpenID Connect: the [`Oidc`] service over [`Idm`]. The administration side:
//! clients (`clients`, `lifetimes`, `redirect_uris`), signing keys and JWTs
//! (`keys`, `key_set`, `key_store`, `jwt`), custom claims (`claims`) and
//! consent (`consent`); and the protocol flows: the authorization endpoint
//! (`authorize`), codes (`grants`), the token endpoint (`token`, `issue`,
//! `refresh`), userinfo, introspection, revocation and RP-initiated logout
//! (`end_session`), with the checks a grant passes at every use (`liveness`).
//!
//! Like `Idm`, every mutation writes its audit event in the same store
//! transaction, and the store blocks: call from blocking code.

mod amr;
mod claims;
mod clients;
mod code_keeper;
mod consent;
pub mod jwt;
mod key_set;
mod key_store;
mod keys;
mod lifetimes;
pub mod par;
pub mod redirect_uris;

pub mod authorize;
pub mod discovery;
pub mod end_session;
pub mod error;
pub mod grants;
pub mod introspect;
mod issue;
mod liveness;
mod refresh;
pub mod revoke;
mod session_end;
pub mod token;
pub mod userinfo;

use std::sync::Arc;

pub use claims::{MAX_CLAIMS, RESERVED_CLAIMS};
pub use clients::Client;
pub use consent::{Authorization, ConsentGiven};
pub use jwt::JwtError;
pub use key_set::KeySet;
pub use key_store::{KEY_RETIRE_MARGIN_SECS, SigningKeyInfo};
pub use keys::Alg;
pub use lifetimes::{
    ACCESS_TOKEN_SECS_RANGE, CODE_SECS_RANGE, DEFAULT_ACCESS_TOKEN_SECS, DEFAULT_CODE_SECS,
    DEFAULT_REFRESH_MAX_SECS, DEFAULT_REFRESH_TOKEN_SECS, REFRESH_MAX_SECS_RANGE,
    REFRESH_TOKEN_SECS_RANGE, describe_secs,
};
pub use liveness::Refusal;
pub(crate) use session_end::{end_session_families, end_user_families};

use super::{Idm, IdmError};

/// The OpenID Connect provider's domain: cheap to clone, shareable across
/// tasks. Holds the signing keys in memory (see `keys`).
#[derive(Clone, Debug)]
pub struct Oidc {
    idm: Idm,
    /// The public URL without a trailing slash.
    issuer: Arc<str>,
    keys: Arc<KeySet>,
    /// The protocol flows' in-memory state (see `grants`, `discovery`).
    flows: Arc<FlowState>,
}

/// What the flows keep in memory: authorization codes, and the pre-rendered discovery
/// document.
#[derive(Debug)]
struct FlowState {
    codes: code_keeper::CodeKeeper,
    discovery: Arc<[u8]>,
}

impl Oidc {
    /// Loads the signing keys, generating an RS256 key on first start, and
    /// drops previous keys that have retired.
    pub fn new(idm: Idm, issuer: &str) -> Result<Oidc, IdmError> {
        let keys = key_store::load_or_create(&idm)?;
        let issuer = issuer.trim_end_matches('/');
        let flows = FlowState {
            codes: code_keeper::CodeKeeper::for_store(idm.store().is_shared()),
            discovery: Arc::from(discovery::document(issuer, keys.active_alg())),
        };
        let oidc = Oidc {
            idm,
            issuer: Arc::from(issuer),
            keys: Arc::new(keys),
            flows: Arc::new(flows),
        };
        oidc.sweep_signing_keys()?;
        Ok(oidc)
    }

    pub fn idm(&self) -> &Idm {
        &self.idm
    }

    /// The issuer identifier: the public URL, no trailing slash.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// The discovery document, rendered at start.
    pub fn discovery_json(&self) -> Arc<[u8]> {
        Arc::clone(&self.flows.discovery)
    }

    /// The authorization codes in flight.
    fn codes(&self) -> &code_keeper::CodeKeeper {
        &self.flows.codes
    }
}

#[cfg(test)]
mod tests;
