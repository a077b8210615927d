//! The signing keys in memory: the active one signs, every published one verifies, and the
//! JWKS document is rendered from them.
//!
//! Keys live in redb (`SIGNING_KEYS`, PKCS#8 DER sealed with the key kept outside the
//! database, `idm::sealed`) and are opened and parsed once, at start and after each rotation
//! (`key_store`), into a snapshot that requests share through an `Arc` (a read lock held only
//! long enough to clone it): no key is ever parsed on the request path. The JWKS document is
//! rendered into bytes at the same time.

use std::sync::{Arc, RwLock};

use openssl::pkey::{PKey, Private};
use serde_json::Value;

use super::jwt::{self, HeaderOut, JwtError};
use super::keys::{Alg, SigningKey, load, public_jwk, verify};
use crate::idm::{IdmError, sealed};
use crate::sealing::Sealer;
use crate::store::{KeyState, SigningKeyRecord};

/// One parsed key.
struct LoadedKey {
    kid: String,
    alg: Alg,
    pkey: PKey<Private>,
    signer: SigningKey,
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("pkey", &"<redacted>")
            .finish()
    }
}

/// The published keys at one moment; replaced whole on rotation.
#[derive(Debug)]
struct Snapshot {
    /// Index 0 is the active key; the rest are previous keys, newest first.
    keys: Vec<LoadedKey>,
    jwks: Arc<[u8]>,
}

impl Snapshot {
    fn active(&self) -> Result<&LoadedKey, IdmError> {
        self.keys
            .first()
            .ok_or_else(|| IdmError::Crypto("there is no active signing key".to_owned()))
    }
}

/// The signing keys in memory: sign with the active one, verify with any
/// published one, and the pre-rendered JWKS.
pub struct KeySet {
    current: RwLock<Arc<Snapshot>>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let snapshot = self.snapshot();
        f.debug_struct("KeySet")
            .field(
                "keys",
                &snapshot
                    .keys
                    .iter()
                    .map(|k| (k.kid.as_str(), k.alg))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeySet {
    /// Opens and parses the stored keys (any state) that are still published at `now`.
    pub(crate) fn from_records(
        records: &[SigningKeyRecord],
        now: i64,
        sealer: &Sealer,
    ) -> Result<KeySet, IdmError> {
        Ok(KeySet {
            current: RwLock::new(Arc::new(build_snapshot(records, now, sealer)?)),
        })
    }

    /// Replaces the keys (after a rotation or sweep).
    pub(crate) fn reload(
        &self,
        records: &[SigningKeyRecord],
        now: i64,
        sealer: &Sealer,
    ) -> Result<(), IdmError> {
        let snapshot = Arc::new(build_snapshot(records, now, sealer)?);
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = snapshot;
        Ok(())
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Signs `claims` with the active key: header `alg`, `kid` and, when
    /// given, `typ` (`"at+jwt"` for RFC 9068 access tokens, `"JWT"` …).
    pub fn sign_jwt(&self, header_typ: Option<&str>, claims: &Value) -> Result<String, IdmError> {
        let snapshot = self.snapshot();
        let key = snapshot.active()?;
        let header = HeaderOut {
            alg: key.alg.as_str(),
            kid: &key.kid,
            typ: header_typ,
        };
        let input = jwt::signing_input(&header, claims)
            .map_err(|e| IdmError::Crypto(format!("encoding a token: {e}")))?;
        let signature = key.signer.sign(input.as_bytes())?;
        Ok(jwt::finish(input, &signature))
    }

    /// Verifies a token signed by any published key and returns its claims.
    /// The header's `alg` must be the algorithm of the key its `kid` names
    /// (without a `kid`, every published key of that alg is tried). Does not
    /// check `exp`, `aud` or any other claim: the caller does.
    pub fn verify_jwt(&self, token: &str) -> Result<Value, JwtError> {
        let parts = jwt::split(token)?;
        let snapshot = self.snapshot();
        let input = parts.signing_input.as_bytes();
        let verified = match parts.header.kid.as_deref() {
            Some(kid) => {
                let key = snapshot
                    .keys
                    .iter()
                    .find(|k| k.kid == kid)
                    .ok_or(JwtError::UnknownKey)?;
                if key.alg.as_str() != parts.header.alg {
                    return Err(JwtError::AlgMismatch);
                }
                verify(key.alg, &key.pkey, input, &parts.signature)
            }
            None => {
                let mut candidates = snapshot
                    .keys
                    .iter()
                    .filter(|k| k.alg.as_str() == parts.header.alg)
                    .peekable();
                if candidates.peek().is_none() {
                    return Err(JwtError::UnknownKey);
                }
                candidates.any(|k| verify(k.alg, &k.pkey, input, &parts.signature))
            }
        };
        if !verified {
            return Err(JwtError::BadSignature);
        }
        parts.claims()
    }

    /// `{"keys":[…]}`, rendered when the keys were loaded.
    pub fn jwks_json(&self) -> Arc<[u8]> {
        Arc::clone(&self.snapshot().jwks)
    }

    /// The algorithm new tokens are signed with.
    pub fn active_alg(&self) -> Alg {
        self.snapshot()
            .keys
            .first()
            .map_or(Alg::RS256, |key| key.alg)
    }

    /// The algorithms of every published key, the active one first, without
    /// repeats.
    pub fn published_algs(&self) -> Vec<Alg> {
        let mut out: Vec<Alg> = Vec::with_capacity(3);
        for key in &self.snapshot().keys {
            if !out.contains(&key.alg) {
                out.push(key.alg);
            }
        }
        out
    }

    /// The active key's id.
    pub fn active_kid(&self) -> Option<String> {
        self.snapshot().keys.first().map(|k| k.kid.clone())
    }
}

fn build_snapshot(
    records: &[SigningKeyRecord],
    now: i64,
    sealer: &Sealer,
) -> Result<Snapshot, IdmError> {
    let mut live: Vec<&SigningKeyRecord> = records
        .iter()
        .filter(|r| r.state == KeyState::Active || r.retire_at.is_none_or(|at| at > now))
        .collect();
    // Active first, then newest first.
    live.sort_by(|a, b| {
        (b.state == KeyState::Active)
            .cmp(&(a.state == KeyState::Active))
            .then(b.created_at.cmp(&a.created_at))
            .then(a.kid.cmp(&b.kid))
    });
    if live.first().is_none_or(|k| k.state != KeyState::Active) {
        return Err(IdmError::Crypto(
            "there is no active signing key".to_owned(),
        ));
    }
    let mut keys = Vec::with_capacity(live.len());
    let mut jwks = Vec::with_capacity(live.len());
    for record in live {
        let alg = Alg::from_stored(record.alg);
        let der = sealed::open_private_key(sealer, &record.kid, &record.private_key)?;
        let pkey = load(alg, &der)?;
        jwks.push(public_jwk(alg, &pkey, &record.kid)?);
        keys.push(LoadedKey {
            kid: record.kid.clone(),
            alg,
            signer: SigningKey::new(alg, &pkey)?,
            pkey,
        });
    }
    let jwks = serde_json::to_vec(&serde_json::json!({ "keys": jwks }))
        .map_err(|e| IdmError::Crypto(format!("rendering the JWKS: {e}")))?;
    Ok(Snapshot {
        keys,
        jwks: Arc::from(jwks),
    })
}
