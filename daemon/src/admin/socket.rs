//! Creating the socket file safely: a 0700 parent directory, mode 0600, and
//! a stale file from a crashed daemon replaced, a live one never.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("cannot create the socket directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another process is already serving the admin socket {path} — is another latchkeyd running?"
    )]
    InUse { path: PathBuf },
    #[error("cannot remove the stale socket file {path}: {source}")]
    RemoveStale {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on the admin socket {path}: {source}")]
    Bind {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A bound admin socket plus the uid that owns it (the daemon's own uid),
/// which the server compares with each peer's.
#[derive(Debug)]
pub struct BoundSocket {
    pub listener: UnixListener,
    pub path: PathBuf,
    pub owner_uid: u32,
}

/// Binds the admin socket at `path`.
pub async fn bind_admin_socket(path: &Path) -> Result<BoundSocket, SocketError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|source| SocketError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
    }
    if path.exists() {
        // A socket that still answers belongs to a live daemon; anything
        // else is left over from one that did not shut down cleanly.
        if UnixStream::connect(path).await.is_ok() {
            return Err(SocketError::InUse {
                path: path.to_path_buf(),
            });
        }
        std::fs::remove_file(path).map_err(|source| SocketError::RemoveStale {
            path: path.to_path_buf(),
            source,
        })?;
    }
    let bind_err = |source| SocketError::Bind {
        path: path.to_path_buf(),
        source,
    };
    let listener = UnixListener::bind(path).map_err(bind_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(bind_err)?;
    let owner_uid = std::fs::metadata(path).map_err(bind_err)?.uid();
    Ok(BoundSocket {
        listener,
        path: path.to_path_buf(),
        owner_uid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn socket_is_private_and_stale_files_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/latchkey.sock");
        let bound = bind_admin_socket(&path).await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);

        // While it is served, a second bind refuses.
        let err = bind_admin_socket(&path).await.unwrap_err();
        assert!(matches!(err, SocketError::InUse { .. }), "{err}");

        // Once nobody listens, the leftover file is replaced.
        drop(bound);
        assert!(path.exists());
        bind_admin_socket(&path).await.unwrap();
    }
}
