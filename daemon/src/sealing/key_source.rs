//! Where the encryption key comes from: `LATCHKEY_ENCRYPTION_KEY` (base64 of 32 bytes), or a
//! key file (`encryption_key_file`, default `<data_dir>/secret.key`) holding 32 raw bytes or
//! their base64. The file is made on first start (32 random bytes, 0600, written atomically).
//!
//! The database records which key sealed its secrets (its [`KeyId`], in `META`). A key that is
//! not that one, or a key file gone missing, stops the start with a message saying what to
//! restore: a new key is never made over encrypted data, since it could not open any of it.

use std::path::{Path, PathBuf};

use super::{EncryptionKey, KEY_BYTES, KeyId, SealError, Sealer};
use crate::private_files::{self, PrivateFileError};

/// The variable that holds the key itself.
pub const ENV_VAR: &str = "LATCHKEY_ENCRYPTION_KEY";

/// Where to look for the key.
#[derive(Debug, Clone, Copy)]
pub enum KeySource<'a> {
    /// The key given in `LATCHKEY_ENCRYPTION_KEY` (parsed by `config`).
    Env(&'a [u8; KEY_BYTES]),
    /// A key file, made if it is missing and the database has no secrets sealed yet.
    File(&'a Path),
}

/// Where the key in use came from, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    Env,
    File { path: PathBuf, created: bool },
}

impl std::fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyOrigin::Env => f.write_str(ENV_VAR),
            KeyOrigin::File { path, .. } => write!(f, "the key file {}", path.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the encryption key from {origin} (key id {found}) is not the key this database's secrets \
         were encrypted with (key id {expected}). Start latchkeyd with that key: restore the key \
         file from your backup of it (every replica of a deployment needs the same key), or set \
         {ENV_VAR} to it. Without it the signing keys, \
         smtp.password and ldap.bind_password in the database cannot be read"
    )]
    WrongKey {
        origin: KeyOrigin,
        found: KeyId,
        expected: KeyId,
    },
    #[error(
        "the encryption key file {} does not exist, but the secrets in the database were \
         encrypted with a key (key id {expected}). Restore that file from your backup of it (for \
         a new replica of a deployment: copy it from another replica), or set {ENV_VAR} to the \
         key. latchkeyd does not make a new key over encrypted data: a new \
         key could not open the signing keys, smtp.password and ldap.bind_password",
        path.display()
    )]
    Missing { path: PathBuf, expected: KeyId },
    #[error("cannot read the encryption key file {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is not an encryption key: expected 32 random bytes, or their base64 on one line \
         (make one with `openssl rand -base64 32`)",
        path.display()
    )]
    Malformed { path: PathBuf },
    #[error(transparent)]
    Private(#[from] PrivateFileError),
    #[error("cannot make an encryption key: {0}")]
    Generate(#[from] SealError),
}

/// The key to seal with: from `source`, checked against `sealed_with` (the key id the
/// database recorded, `None` while it has none). A missing key file is made only when the
/// database has recorded no key.
pub fn load_or_create(
    source: KeySource<'_>,
    sealed_with: Option<KeyId>,
) -> Result<(Sealer, KeyOrigin), KeyError> {
    let (key, origin) = match source {
        KeySource::Env(bytes) => (EncryptionKey::from_bytes(*bytes), KeyOrigin::Env),
        KeySource::File(path) => match read_key_file(path)? {
            Some(key) => (
                key,
                KeyOrigin::File {
                    path: path.to_path_buf(),
                    created: false,
                },
            ),
            None => {
                if let Some(expected) = sealed_with {
                    return Err(KeyError::Missing {
                        path: path.to_path_buf(),
                        expected,
                    });
                }
                create_key_file(path)?
            }
        },
    };
    match sealed_with {
        Some(expected) if expected != key.id() => Err(KeyError::WrongKey {
            origin,
            found: key.id(),
            expected,
        }),
        _ => Ok((Sealer::new(key), origin)),
    }
}

/// The key in `path`, made private first; `None` if there is no such file.
fn read_key_file(path: &Path) -> Result<Option<EncryptionKey>, KeyError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(KeyError::Unreadable {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    private_files::tighten_path(path)?;
    parse_key(&bytes)
        .map(Some)
        .ok_or_else(|| KeyError::Malformed {
            path: path.to_path_buf(),
        })
}

/// 32 raw bytes, or the base64 of 32 bytes (one line, whitespace ignored).
fn parse_key(bytes: &[u8]) -> Option<EncryptionKey> {
    if let Ok(raw) = <[u8; KEY_BYTES]>::try_from(bytes) {
        return Some(EncryptionKey::from_bytes(raw));
    }
    EncryptionKey::from_base64(std::str::from_utf8(bytes).ok()?)
}

/// Makes a new key file (32 raw random bytes). If another process made one meanwhile, that
/// one is used.
fn create_key_file(path: &Path) -> Result<(EncryptionKey, KeyOrigin), KeyError> {
    let key = EncryptionKey::generate()?;
    match private_files::write_new(path, &key.0) {
        Ok(()) => Ok((
            key,
            KeyOrigin::File {
                path: path.to_path_buf(),
                created: true,
            },
        )),
        Err(PrivateFileError::Exists { .. }) => {
            let key = read_key_file(path)?.ok_or_else(|| KeyError::Malformed {
                path: path.to_path_buf(),
            })?;
            Ok((
                key,
                KeyOrigin::File {
                    path: path.to_path_buf(),
                    created: false,
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    #[test]
    fn a_fresh_install_makes_a_private_key_file_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let (sealer, origin) = load_or_create(KeySource::File(&path), None).unwrap();
        assert_eq!(
            origin,
            KeyOrigin::File {
                path: path.clone(),
                created: true
            }
        );
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap().len(), 32);

        let (again, origin) =
            load_or_create(KeySource::File(&path), Some(sealer.key_id())).unwrap();
        assert_eq!(again.key_id(), sealer.key_id());
        assert!(matches!(origin, KeyOrigin::File { created: false, .. }));
    }

    #[test]
    fn a_missing_or_wrong_key_is_refused_when_the_database_has_sealed_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let recorded = Sealer::ephemeral().key_id();

        let err = load_or_create(KeySource::File(&path), Some(recorded)).unwrap_err();
        assert!(matches!(err, KeyError::Missing { .. }), "{err}");
        assert!(!path.exists(), "no new key over encrypted data");
        let message = err.to_string();
        assert!(
            message.contains(path.to_str().unwrap()) && message.contains(ENV_VAR),
            "{message}"
        );

        let other = EncryptionKey::generate().unwrap();
        std::fs::write(&path, format!("{}\n", other.to_base64())).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(KeySource::File(&path), Some(recorded)).unwrap_err();
        assert!(matches!(err, KeyError::WrongKey { .. }), "{err}");
        assert!(err.to_string().contains(&recorded.to_string()), "{err}");
        // Read, so made private, even though it was the wrong key.
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);

        let err = load_or_create(KeySource::Env(&other.0), Some(recorded)).unwrap_err();
        assert!(err.to_string().contains(ENV_VAR), "{err}");
        assert_eq!(
            load_or_create(KeySource::Env(&other.0), Some(other.id()))
                .unwrap()
                .1,
            KeyOrigin::Env
        );
    }

    #[test]
    fn a_key_file_of_the_wrong_shape_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        std::fs::write(&path, b"too short").unwrap();
        let err = load_or_create(KeySource::File(&path), None).unwrap_err();
        assert!(matches!(err, KeyError::Malformed { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"too short", "left alone");
    }
}
