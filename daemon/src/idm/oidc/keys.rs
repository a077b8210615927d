//! Signing keys: RS256 (RSA-2048, PKCS#1 v1.5 with SHA-256), ES256 (P-256,
//! JWS `r||s` signatures) and EdDSA (Ed25519), with OpenSSL.
//!
//! Why OpenSSL (the `openssl` crate): an RSA-2048 signature costs ≈ 0.28 ms
//! with it against ≈ 0.6 ms with ring, and the token endpoint must sign
//! thousands of RS256 tokens a second on two cores.
//!
//! Keys live in redb (`SIGNING_KEYS`, PKCS#8 DER sealed with the key kept
//! outside the database, `idm::sealed`) and are opened and parsed once, at
//! start and after each rotation, into a [`KeySet`] snapshot that requests
//! share through an `Arc` (a read lock held only long enough to clone it):
//! no key is ever parsed on the request path. The JWKS document is rendered
//! into bytes at the same time. Making, rotating and retiring keys is
//! `key_store`.

use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{Signer, Verifier};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::jwt::{self, HeaderOut, JwtError};
use crate::idm::{IdmError, sealed, secrets, to_time};
use crate::sealing::Sealer;
use crate::store::{KeyAlg, KeyState, SigningKeyRecord};

/// How long after the longest token lifetime a previous key stays published.
pub const KEY_RETIRE_MARGIN_SECS: i64 = 10 * 60;

/// A JWS signing algorithm Latchkey supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    RS256,
    ES256,
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    pub(super) fn from_stored(alg: KeyAlg) -> Alg {
        match alg {
            KeyAlg::Rs256 => Alg::RS256,
            KeyAlg::Es256 => Alg::ES256,
            KeyAlg::EdDsa => Alg::EdDSA,
        }
    }

    pub(super) fn to_stored(self) -> KeyAlg {
        match self {
            Alg::RS256 => KeyAlg::Rs256,
            Alg::ES256 => KeyAlg::Es256,
            Alg::EdDSA => KeyAlg::EdDsa,
        }
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Case-insensitive: `rs256`, `ES256`, `eddsa`.
impl std::str::FromStr for Alg {
    type Err = IdmError;

    fn from_str(s: &str) -> Result<Alg, IdmError> {
        Alg::ALL
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| IdmError::invalid("alg", "must be RS256, ES256 or EdDSA"))
    }
}

pub(super) fn crypto(context: &str) -> impl FnOnce(openssl::error::ErrorStack) -> IdmError + '_ {
    move |e| IdmError::Crypto(format!("{context}: {e}"))
}

/// A fresh private key for `alg`.
pub(crate) fn generate(alg: Alg) -> Result<PKey<Private>, IdmError> {
    let err = crypto("generating a signing key");
    match alg {
        Alg::RS256 => Rsa::generate(2048).and_then(PKey::from_rsa).map_err(err),
        Alg::ES256 => EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)
            .and_then(|group| EcKey::generate(&group))
            .and_then(PKey::from_ec_key)
            .map_err(err),
        Alg::EdDSA => PKey::generate_ed25519().map_err(err),
    }
}

/// Parses a stored PKCS#8 key and checks it is a key for `alg`.
fn load(alg: Alg, der: &[u8]) -> Result<PKey<Private>, IdmError> {
    let pkey = PKey::private_key_from_pkcs8(der).map_err(crypto("loading a signing key"))?;
    let fits = match alg {
        Alg::RS256 => pkey.id() == Id::RSA && pkey.bits() >= 2048,
        Alg::ES256 => pkey
            .ec_key()
            .ok()
            .and_then(|ec| ec.group().curve_name())
            .is_some_and(|nid| nid == Nid::X9_62_PRIME256V1),
        Alg::EdDSA => pkey.id() == Id::ED25519,
    };
    if fits {
        Ok(pkey)
    } else {
        Err(IdmError::Crypto(format!(
            "a stored signing key is not a valid {alg} key"
        )))
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The public JWK members for `pkey`, as (name, base64url or fixed value)
/// pairs in lexicographic order: the RFC 7638 thumbprint input.
fn public_members(alg: Alg, pkey: &PKey<Private>) -> Result<Vec<(&'static str, String)>, IdmError> {
    let err = crypto("reading a public key");
    Ok(match alg {
        Alg::RS256 => {
            let rsa = pkey.rsa().map_err(err)?;
            vec![
                ("e", b64(&rsa.e().to_vec())),
                ("kty", "RSA".to_owned()),
                ("n", b64(&rsa.n().to_vec())),
            ]
        }
        Alg::ES256 => {
            let ec = pkey.ec_key().map_err(crypto("reading a public key"))?;
            let mut ctx = BigNumContext::new().map_err(crypto("reading a public key"))?;
            let mut x = BigNum::new().map_err(crypto("reading a public key"))?;
            let mut y = BigNum::new().map_err(crypto("reading a public key"))?;
            ec.public_key()
                .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
                .map_err(crypto("reading a public key"))?;
            let pad = |n: &BigNum| n.to_vec_padded(32).map_err(crypto("reading a public key"));
            vec![
                ("crv", "P-256".to_owned()),
                ("kty", "EC".to_owned()),
                ("x", b64(&pad(&x)?)),
                ("y", b64(&pad(&y)?)),
            ]
        }
        Alg::EdDSA => {
            let raw = pkey.raw_public_key().map_err(err)?;
            vec![
                ("crv", "Ed25519".to_owned()),
                ("kty", "OKP".to_owned()),
                ("x", b64(&raw)),
            ]
        }
    })
}

/// The RFC 7638 JWK thumbprint (SHA-256, base64url): the key's `kid`.
fn thumbprint(members: &[(&'static str, String)]) -> String {
    let body: Vec<String> = members
        .iter()
        .map(|(name, value)| format!("\"{name}\":\"{value}\""))
        .collect();
    b64(&secrets::sha256(
        format!("{{{}}}", body.join(",")).as_bytes(),
    ))
}

/// The key id a freshly generated key gets.
pub(crate) fn kid_of(alg: Alg, pkey: &PKey<Private>) -> Result<String, IdmError> {
    Ok(thumbprint(&public_members(alg, pkey)?))
}

/// The DER `DigestInfo` prefix of a SHA-256 hash (RFC 8017 §9.2, note 1): what PKCS#1 v1.5
/// signs, followed by the 32-byte digest.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// A private key in the form its algorithm signs with fastest. OpenSSL 3's `EVP_DigestSign*`
/// looks its algorithms up in the provider tables on every call: under load that took 17%
/// of the time spent signing (profiled with `perf` at the token endpoint), so RSA and ECDSA
/// sign a SHA-256 digest with the key's own operations. Ed25519 has only the EVP path.
enum SigningKey {
    Rsa(Rsa<Private>),
    Ec(EcKey<Private>),
    Ed(PKey<Private>),
}

impl SigningKey {
    fn new(alg: Alg, pkey: &PKey<Private>) -> Result<SigningKey, IdmError> {
        let err = crypto("preparing a signing key");
        Ok(match alg {
            Alg::RS256 => SigningKey::Rsa(pkey.rsa().map_err(err)?),
            Alg::ES256 => SigningKey::Ec(pkey.ec_key().map_err(err)?),
            Alg::EdDSA => SigningKey::Ed(pkey.clone()),
        })
    }

    /// A signature over `input` as JWS wants it.
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, IdmError> {
        let err = crypto("signing a token");
        match self {
            SigningKey::Rsa(rsa) => {
                let mut digest_info = [0; SHA256_DIGEST_INFO.len() + 32];
                let (prefix, digest) = digest_info.split_at_mut(SHA256_DIGEST_INFO.len());
                prefix.copy_from_slice(&SHA256_DIGEST_INFO);
                digest.copy_from_slice(&Sha256::digest(input));
                let mut signature = vec![0; usize::try_from(rsa.size()).unwrap_or(0)];
                let len = rsa
                    .private_encrypt(&digest_info, &mut signature, Padding::PKCS1)
                    .map_err(err)?;
                signature.truncate(len);
                Ok(signature)
            }
            SigningKey::Ec(ec) => {
                let sig = EcdsaSig::sign(&Sha256::digest(input), ec).map_err(err)?;
                let mut out = sig
                    .r()
                    .to_vec_padded(32)
                    .map_err(crypto("signing a token"))?;
                out.extend(
                    sig.s()
                        .to_vec_padded(32)
                        .map_err(crypto("signing a token"))?,
                );
                Ok(out)
            }
            SigningKey::Ed(pkey) => Signer::new_without_digest(pkey)
                .and_then(|mut s| s.sign_oneshot_to_vec(input))
                .map_err(err),
        }
    }
}

/// Whether `signature` is a valid JWS signature over `input`.
fn verify(alg: Alg, pkey: &PKey<Private>, input: &[u8], signature: &[u8]) -> bool {
    let result = match alg {
        Alg::RS256 => Verifier::new(MessageDigest::sha256(), pkey)
            .and_then(|mut v| v.verify_oneshot(signature, input)),
        Alg::ES256 => {
            let Some((r, s)) = signature.split_at_checked(32) else {
                return false;
            };
            if s.len() != 32 {
                return false;
            }
            BigNum::from_slice(r)
                .and_then(|r| BigNum::from_slice(s).map(|s| (r, s)))
                .and_then(|(r, s)| EcdsaSig::from_private_components(r, s))
                .and_then(|sig| sig.to_der())
                .and_then(|der| {
                    Verifier::new(MessageDigest::sha256(), pkey)
                        .and_then(|mut v| v.verify_oneshot(&der, input))
                })
        }
        Alg::EdDSA => {
            Verifier::new_without_digest(pkey).and_then(|mut v| v.verify_oneshot(signature, input))
        }
    };
    result.unwrap_or(false)
}

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
        let mut jwk = serde_json::Map::new();
        for (name, value) in public_members(alg, &pkey)? {
            jwk.insert(name.to_owned(), Value::String(value));
        }
        jwk.insert("kid".to_owned(), Value::String(record.kid.clone()));
        jwk.insert("alg".to_owned(), Value::String(alg.as_str().to_owned()));
        jwk.insert("use".to_owned(), Value::String("sig".to_owned()));
        jwks.push(Value::Object(jwk));
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

/// A signing key as the console lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyInfo {
    pub kid: String,
    pub alg: Alg,
    /// `true` for the key that signs new tokens.
    pub active: bool,
    pub created_at: OffsetDateTime,
    pub retire_at: Option<OffsetDateTime>,
}

pub(super) fn key_info(record: &SigningKeyRecord) -> Result<SigningKeyInfo, IdmError> {
    Ok(SigningKeyInfo {
        kid: record.kid.clone(),
        alg: Alg::from_stored(record.alg),
        active: record.state == KeyState::Active,
        created_at: to_time(record.created_at)?,
        retire_at: record.retire_at.map(to_time).transpose()?,
    })
}
