//! The stored forms of secrets: signing keys, and `StoredSecret`, a secret that `idm` has
//! sealed (or, in a file from before encryption at rest, has not sealed yet).

use serde::{Deserialize, Serialize};

use super::records::Versioned;

/// A signing key's algorithm, as stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum KeyAlg {
    Rs256,
    Es256,
    EdDsa,
}

/// Whether a signing key signs new tokens or is only still published.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum KeyState {
    Active,
    Previous,
}

/// A secret as stored. `idm` seals secrets with the key kept outside the database
/// (`crate::sealing`); `Plain` is what a release before encryption at rest wrote, read only so
/// that the first start with a key can seal it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredSecret {
    Plain(Vec<u8>),
    Sealed(Vec<u8>),
}

/// Shows which form, never the bytes.
impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoredSecret::Plain(_) => "Plain(<redacted>)",
            StoredSecret::Sealed(_) => "Sealed(<redacted>)",
        })
    }
}

/// A signing key, current version. Keyed by `kid`.
pub type SigningKeyRecord = SigningKeyV2;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SigningKeyV2 {
    pub kid: String,
    pub alg: KeyAlg,
    /// The private key, PKCS#8 DER, sealed (as `signing key <kid>`).
    pub private_key: StoredSecret,
    pub state: KeyState,
    pub created_at: i64,
    /// For a previous key: when it leaves the JWKS and is deleted.
    pub retire_at: Option<i64>,
}

/// The first version: the private key in the clear.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyV1 {
    pub kid: String,
    pub alg: KeyAlg,
    /// The private key, PKCS#8 DER.
    pub private_der: Vec<u8>,
    pub state: KeyState,
    pub created_at: i64,
    /// For a previous key: when it leaves the JWKS and is deleted.
    pub retire_at: Option<i64>,
}

/// Hides the private key.
impl std::fmt::Debug for SigningKeyV1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyV1")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_der", &"<redacted>")
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("retire_at", &self.retire_at)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredSigningKey {
    V1(SigningKeyV1),
    V2(SigningKeyV2),
}

impl Versioned for SigningKeyV2 {
    type Stored = StoredSigningKey;
    const WHAT: &'static str = "signing key";
    const ENVELOPE: &'static str = "StoredSigningKey";
    const CURRENT_INDEX: u32 = 1;
    const CURRENT_NAME: &'static str = "V2";
    fn upgrade(stored: StoredSigningKey) -> SigningKeyV2 {
        match stored {
            StoredSigningKey::V1(old) => SigningKeyV2 {
                kid: old.kid,
                alg: old.alg,
                private_key: StoredSecret::Plain(old.private_der),
                state: old.state,
                created_at: old.created_at,
                retire_at: old.retire_at,
            },
            StoredSigningKey::V2(record) => record,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{decode, encode};

    #[test]
    fn a_first_version_key_reads_as_a_plain_secret_and_is_written_as_v2() {
        let old = SigningKeyV1 {
            kid: "k1".into(),
            alg: KeyAlg::EdDsa,
            private_der: vec![0x30, 1, 2, 3],
            state: KeyState::Active,
            created_at: 1_700_000_000,
            retire_at: None,
        };
        let bytes = postcard::to_stdvec(&StoredSigningKey::V1(old)).unwrap();
        let read: SigningKeyRecord = decode(&bytes).unwrap();
        assert_eq!(read.private_key, StoredSecret::Plain(vec![0x30, 1, 2, 3]));
        assert_eq!((read.kid.as_str(), read.alg), ("k1", KeyAlg::EdDsa));

        let sealed = SigningKeyV2 {
            private_key: StoredSecret::Sealed(vec![1; 40]),
            ..read
        };
        let bytes = encode(&sealed).unwrap();
        assert_eq!(bytes[0], 1, "V2 is variant 1");
        assert_eq!(
            bytes,
            postcard::to_stdvec(&StoredSigningKey::V2(sealed.clone())).unwrap()
        );
        assert_eq!(decode::<SigningKeyRecord>(&bytes).unwrap(), sealed);
        assert!(!format!("{sealed:?}").contains("1, 1, 1"));
    }
}
