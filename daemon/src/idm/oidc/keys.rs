//! The signing-key primitives, with OpenSSL: RS256 (RSA-2048, PKCS#1 v1.5 with SHA-256), ES256
//! (P-256, JWS `r||s` signatures) and EdDSA (Ed25519): making a key, parsing a stored one,
//! signing, verifying, and a key's public JWK and `kid`. The published set of keys is
//! `key_set`; making, rotating and retiring them is `key_store`.
//!
//! Why OpenSSL (the `openssl` crate): an RSA-2048 signature costs ≈ 0.28 ms
//! with it against ≈ 0.6 ms with ring, and the token endpoint must sign
//! thousands of RS256 tokens a second on two cores.

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

use crate::idm::{IdmError, secrets};
use crate::store::KeyAlg;

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
pub(super) fn load(alg: Alg, der: &[u8]) -> Result<PKey<Private>, IdmError> {
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

/// The public JWK of `pkey`, published as `kid`.
pub(super) fn public_jwk(alg: Alg, pkey: &PKey<Private>, kid: &str) -> Result<Value, IdmError> {
    let mut jwk = serde_json::Map::new();
    for (name, value) in public_members(alg, pkey)? {
        jwk.insert(name.to_owned(), Value::String(value));
    }
    jwk.insert("kid".to_owned(), Value::String(kid.to_owned()));
    jwk.insert("alg".to_owned(), Value::String(alg.as_str().to_owned()));
    jwk.insert("use".to_owned(), Value::String("sig".to_owned()));
    Ok(Value::Object(jwk))
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
pub(super) enum SigningKey {
    Rsa(Rsa<Private>),
    Ec(EcKey<Private>),
    Ed(PKey<Private>),
}

impl SigningKey {
    pub(super) fn new(alg: Alg, pkey: &PKey<Private>) -> Result<SigningKey, IdmError> {
        let err = crypto("preparing a signing key");
        Ok(match alg {
            Alg::RS256 => SigningKey::Rsa(pkey.rsa().map_err(err)?),
            Alg::ES256 => SigningKey::Ec(pkey.ec_key().map_err(err)?),
            Alg::EdDSA => SigningKey::Ed(pkey.clone()),
        })
    }

    /// A signature over `input` as JWS wants it.
    pub(super) fn sign(&self, input: &[u8]) -> Result<Vec<u8>, IdmError> {
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
pub(super) fn verify(alg: Alg, pkey: &PKey<Private>, input: &[u8], signature: &[u8]) -> bool {
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
