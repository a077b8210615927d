//! Encryption of secrets at rest: the private parts of the signing keys and the write-only
//! settings (`smtp.password`, `ldap.bind_password`) are stored sealed with a key kept outside
//! the database (`key_source`), so a copied database or a backup of it alone does not give
//! them away. `idm` decides what is secret and seals it before the store sees it.
//!
//! The cipher is AES-256-GCM from OpenSSL, already the daemon's crypto library (it signs every
//! token), so nothing new is trusted or audited. Nonces are 12 random bytes: a key seals one
//! value per secret written (a setting changed, a signing key made), nowhere near the 2^32
//! random nonces NIST allows one key.
//!
//! A sealed value is a versioned envelope:
//!
//! ```text
//! 0x01 | key id (8 bytes) | nonce (12 bytes) | ciphertext | GCM tag (16 bytes)
//! ```
//!
//! The key id (the first 8 bytes of a SHA-256 over the key) says which key sealed it, so keys
//! can be rotated later by trying the right one. The associated data is the 9-byte header
//! followed by a label naming what the value is (`setting smtp.password`, `signing key <kid>`):
//! a ciphertext moved to another field, or with its header changed, does not open.

mod key_source;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use rand::TryRngCore;
use sha2::{Digest, Sha256};

pub use key_source::{
    ENV_VAR as ENCRYPTION_KEY_VAR, KeyError, KeyOrigin, KeySource, load_or_create,
};

/// An encryption key is 32 bytes (AES-256).
pub const KEY_BYTES: usize = 32;

/// The envelope format this build writes and reads.
const VERSION: u8 = 1;
const KEY_ID_BYTES: usize = 8;
const HEADER_BYTES: usize = 1 + KEY_ID_BYTES;
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;

/// Which key sealed a value: the first 8 bytes of SHA-256 over a domain label and the key.
/// Not secret; shown in hex in messages so an admin can tell keys apart.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; KEY_ID_BYTES]);

impl KeyId {
    pub fn from_bytes(bytes: [u8; KEY_ID_BYTES]) -> KeyId {
        KeyId(bytes)
    }

    pub fn to_bytes(self) -> [u8; KEY_ID_BYTES] {
        self.0
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// 32 secret bytes; `Debug` never shows them.
#[derive(Clone)]
pub struct EncryptionKey([u8; KEY_BYTES]);

impl EncryptionKey {
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> EncryptionKey {
        EncryptionKey(bytes)
    }

    /// A new key from the operating system's CSPRNG.
    pub fn generate() -> Result<EncryptionKey, SealError> {
        let mut bytes = [0; KEY_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| SealError::Random(e.to_string()))?;
        Ok(EncryptionKey(bytes))
    }

    pub(crate) fn to_bytes(&self) -> [u8; KEY_BYTES] {
        self.0
    }

    /// The key as text: standard base64, what `LATCHKEY_ENCRYPTION_KEY` and a key file take.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Parses the base64 (standard or URL-safe, padded or not) of exactly 32 bytes; surrounding
    /// whitespace is ignored. `None` otherwise. Never echo a rejected input: it may be a key.
    pub fn from_base64(text: &str) -> Option<EncryptionKey> {
        let text: String = text
            .trim()
            .trim_end_matches('=')
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        let bytes = STANDARD_NO_PAD.decode(text).ok()?;
        Some(EncryptionKey(bytes.try_into().ok()?))
    }

    pub fn id(&self) -> KeyId {
        let mut digest = Sha256::new();
        digest.update(b"latchkey encryption key id\0");
        digest.update(self.0);
        let digest: [u8; 32] = digest.finalize().into();
        KeyId(
            digest
                .split_first_chunk::<KEY_ID_BYTES>()
                .map_or([0; KEY_ID_BYTES], |(id, _)| *id),
        )
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptionKey({}, <redacted>)", self.id())
    }
}

/// Why a value could not be sealed or opened. Each names the value (its label).
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("encrypting {label} failed: {reason}")]
    Cipher { label: String, reason: String },
    #[error(
        "the encrypted {label} is damaged: it is too short or of a format this latchkeyd does not know"
    )]
    Malformed { label: String },
    #[error(
        "{label} was encrypted with another key (key id {found}; the key given has id {ours}) — \
         start latchkeyd with the key the database was encrypted with"
    )]
    OtherKey {
        label: String,
        found: KeyId,
        ours: KeyId,
    },
    #[error(
        "the encrypted {label} does not open with this key: it was altered, or copied from \
         another field"
    )]
    DoesNotOpen { label: String },
}

/// Seals and opens values with one key.
#[derive(Clone)]
pub struct Sealer {
    key: EncryptionKey,
    id: KeyId,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("key_id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    pub fn new(key: EncryptionKey) -> Sealer {
        Sealer { id: key.id(), key }
    }

    /// A sealer whose key lives only in this process (tests, in-memory stores). It draws from
    /// the thread's CSPRNG, which cannot fail once seeded.
    pub fn ephemeral() -> Sealer {
        let mut bytes = [0; KEY_BYTES];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        Sealer::new(EncryptionKey(bytes))
    }

    pub fn key_id(&self) -> KeyId {
        self.id
    }

    fn header(id: KeyId) -> Vec<u8> {
        [&[VERSION][..], &id.0].concat()
    }

    fn aad(header: &[u8], label: &str) -> Vec<u8> {
        [header, b"latchkey\0", label.as_bytes()].concat()
    }

    /// `plaintext` sealed as what `label` names.
    pub fn seal(&self, label: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0; NONCE_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| SealError::Random(e.to_string()))?;
        let header = Sealer::header(self.id);
        let mut tag = [0; TAG_BYTES];
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key.0,
            Some(&nonce),
            &Sealer::aad(&header, label),
            plaintext,
            &mut tag,
        )
        .map_err(|e| SealError::Cipher {
            label: label.to_owned(),
            reason: e.to_string(),
        })?;
        Ok([&header[..], &nonce, &ciphertext, &tag].concat())
    }

    /// Opens what [`Sealer::seal`] made for the same `label` with this key.
    pub fn open(&self, label: &str, envelope: &[u8]) -> Result<Vec<u8>, SealError> {
        let malformed = || SealError::Malformed {
            label: label.to_owned(),
        };
        let (header, rest) = envelope
            .split_at_checked(HEADER_BYTES)
            .ok_or_else(malformed)?;
        let (version, key_id) = header.split_first().ok_or_else(malformed)?;
        if *version != VERSION {
            return Err(malformed());
        }
        let found = KeyId(key_id.try_into().map_err(|_| malformed())?);
        if found != self.id {
            return Err(SealError::OtherKey {
                label: label.to_owned(),
                found,
                ours: self.id,
            });
        }
        let (nonce, rest) = rest.split_at_checked(NONCE_BYTES).ok_or_else(malformed)?;
        let tag_at = rest.len().checked_sub(TAG_BYTES).ok_or_else(malformed)?;
        let (ciphertext, tag) = rest.split_at(tag_at);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key.0,
            Some(nonce),
            &Sealer::aad(header, label),
            ciphertext,
            tag,
        )
        .map_err(|_| SealError::DoesNotOpen {
            label: label.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_label() {
        let sealer = Sealer::ephemeral();
        let sealed = sealer.seal("setting smtp.password", b"hunter2").unwrap();
        assert_eq!(sealed.len(), HEADER_BYTES + NONCE_BYTES + 7 + TAG_BYTES);
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(
            sealer.open("setting smtp.password", &sealed).unwrap(),
            b"hunter2"
        );
        // Random nonces: sealing twice gives two different envelopes.
        assert_ne!(
            sealer.seal("setting smtp.password", b"hunter2").unwrap(),
            sealed
        );

        // Moved to another field.
        assert!(matches!(
            sealer.open("setting ldap.bind_password", &sealed),
            Err(SealError::DoesNotOpen { .. })
        ));
        // Another key.
        let other = Sealer::ephemeral();
        let err = other.open("setting smtp.password", &sealed).unwrap_err();
        assert!(matches!(err, SealError::OtherKey { .. }), "{err}");
        // A key id forged to match, or a flipped ciphertext bit.
        let mut forged = sealed.clone();
        forged[1..9].copy_from_slice(&other.key_id().to_bytes());
        assert!(matches!(
            other.open("setting smtp.password", &forged),
            Err(SealError::DoesNotOpen { .. })
        ));
        let mut flipped = sealed.clone();
        flipped[HEADER_BYTES + NONCE_BYTES] ^= 1;
        assert!(matches!(
            sealer.open("setting smtp.password", &flipped),
            Err(SealError::DoesNotOpen { .. })
        ));
        // Truncated, empty, unknown version: damaged, never a panic.
        for bad in [&sealed[..20], &[][..], &[2u8; 40][..]] {
            assert!(matches!(
                sealer.open("setting smtp.password", bad),
                Err(SealError::Malformed { .. })
            ));
        }
    }

    #[test]
    fn keys_parse_from_base64_and_hide_in_debug() {
        let key = EncryptionKey::generate().unwrap();
        let text = key.to_base64();
        assert_eq!(text.len(), 44);
        let parsed = EncryptionKey::from_base64(&format!(" {text}\n")).unwrap();
        assert_eq!(parsed.id(), key.id());
        let url_safe = text.replace('+', "-").replace('/', "_");
        assert_eq!(
            EncryptionKey::from_base64(url_safe.trim_end_matches('='))
                .unwrap()
                .id(),
            key.id()
        );
        assert!(EncryptionKey::from_base64("c2hvcnQ=").is_none());
        assert!(EncryptionKey::from_base64("not base64 at all!").is_none());
        let shown = format!("{key:?} {:?}", Sealer::new(key.clone()));
        assert!(!shown.contains(&text) && !shown.contains(&hex::encode(key.0)));
        assert!(shown.contains(&key.id().to_string()));
    }
}
