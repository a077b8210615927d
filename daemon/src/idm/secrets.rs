//! Randomness and hashing for secrets (session ids, login codes, ceremony
//! ids, setup tokens): drawn from the OS CSPRNG, stored only as SHA-256.
//! They are high-entropy, so a slow hash would buy nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use sha2::{Digest, Sha256};

use super::IdmError;
use crate::store::TokenHash;

/// `N` bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], IdmError> {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| IdmError::Random(e.to_string()))?;
    Ok(bytes)
}

/// `N` random bytes as base64url without padding.
pub(crate) fn random_token<const N: usize>() -> Result<String, IdmError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<N>()?))
}

/// A short random public id (8 bytes, 16 hex digits) for things listed in
/// the console: not a secret, just a handle to revoke by.
pub(crate) fn public_id() -> Result<String, IdmError> {
    Ok(hex::encode(random_bytes::<8>()?))
}

pub(crate) fn sha256(secret: &[u8]) -> TokenHash {
    Sha256::digest(secret).into()
}

pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url with or without padding; `None` if it is not that.
pub(crate) fn from_b64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .ok()
}

/// Declares a cookie-borne secret: 32 random bytes as 43 base64url
/// characters, stored only as its SHA-256, hidden from `Debug`.
macro_rules! cookie_secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub(crate) fn generate() -> Result<$name, $crate::idm::IdmError> {
                Ok($name($crate::idm::secrets::random_token::<32>()?))
            }

            /// What a browser sent; `None` when it cannot be one of ours (so
            /// it is never even looked up).
            pub fn from_cookie(value: &str) -> Option<$name> {
                let value = value.trim();
                let bytes = $crate::idm::secrets::from_b64url(value)?;
                (bytes.len() == 32 && value.len() == 43).then(|| $name(value.to_owned()))
            }

            /// The cookie value.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub(crate) fn hash(&self) -> $crate::store::TokenHash {
                $crate::idm::secrets::sha256(self.0.as_bytes())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}
pub(crate) use cookie_secret;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_round_trip() {
        let a = random_token::<32>().unwrap();
        let b = random_token::<32>().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(from_b64url(&a).unwrap().len(), 32);
        assert_eq!(from_b64url("not base64!"), None);
        assert_eq!(public_id().unwrap().len(), 16);
    }
}
