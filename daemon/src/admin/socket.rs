//! Creating the socket file safely: a 0700 parent directory, mode 0600, and
//! a stale file from a crashed daemon replaced, a live one never.
//!
//! With `admin_group`, the socket is 0660 and owned by that group, and a parent directory
//! made here is 0750 with that group, so that the group's members can reach it; the server
//! then also admits the group's members (`server.rs`).

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
    #[error(
        "admin_group {group:?} does not exist on this system (create it with `groupadd {group}`)"
    )]
    NoGroup { group: String },
    #[error("cannot look up admin_group {group:?}: {source}")]
    GroupLookup {
        group: String,
        #[source]
        source: nix::Error,
    },
    #[error("cannot give the admin socket {path} to group {group:?}: {source}")]
    Chown {
        path: PathBuf,
        group: String,
        #[source]
        source: nix::Error,
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
    /// The gid of `admin_group`, whose members may connect too.
    pub admin_gid: Option<u32>,
}

/// Binds the admin socket at `path`, for the daemon's user and root, and the members of
/// `admin_group` when one is named.
pub async fn bind_admin_socket(
    path: &Path,
    admin_group: Option<&str>,
) -> Result<BoundSocket, SocketError> {
    let group = admin_group.map(group_id).transpose()?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        let create_err = |source| SocketError::CreateDir {
            path: parent.to_path_buf(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(if group.is_some() { 0o750 } else { 0o700 })
            .create(parent)
            .map_err(create_err)?;
        if let Some((name, gid)) = &group {
            give_to_group(parent, name, *gid)?;
        }
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
    let mode = match &group {
        Some((name, gid)) => {
            give_to_group(path, name, *gid)?;
            0o660
        }
        None => 0o600,
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(bind_err)?;
    let owner_uid = std::fs::metadata(path).map_err(bind_err)?.uid();
    Ok(BoundSocket {
        listener,
        path: path.to_path_buf(),
        owner_uid,
        admin_gid: group.map(|(_, gid)| gid),
    })
}

/// The gid of the group `name`.
fn group_id(name: &str) -> Result<(String, u32), SocketError> {
    match nix::unistd::Group::from_name(name) {
        Ok(Some(group)) => Ok((name.to_owned(), group.gid.as_raw())),
        Ok(None) => Err(SocketError::NoGroup {
            group: name.to_owned(),
        }),
        Err(source) => Err(SocketError::GroupLookup {
            group: name.to_owned(),
            source,
        }),
    }
}

fn give_to_group(path: &Path, name: &str, gid: u32) -> Result<(), SocketError> {
    nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid))).map_err(|source| {
        SocketError::Chown {
            path: path.to_path_buf(),
            group: name.to_owned(),
            source,
        }
    })
}

/// Whether the user `uid` is a member of the group `gid` (as its primary group or another).
/// Blocks on the system's user database.
pub fn is_member(uid: u32, gid: u32) -> bool {
    let Ok(Some(user)) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) else {
        return false;
    };
    if user.gid.as_raw() == gid {
        return true;
    }
    let Ok(name) = std::ffi::CString::new(user.name) else {
        return false;
    };
    nix::unistd::getgrouplist(&name, user.gid)
        .is_ok_and(|groups| groups.iter().any(|g| g.as_raw() == gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn socket_is_private_and_stale_files_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/latchkey.sock");
        let bound = bind_admin_socket(&path, None).await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);

        // While it is served, a second bind refuses.
        let err = bind_admin_socket(&path, None).await.unwrap_err();
        assert!(matches!(err, SocketError::InUse { .. }), "{err}");

        // Once nobody listens, the leftover file is replaced.
        drop(bound);
        assert!(path.exists());
        bind_admin_socket(&path, None).await.unwrap();
    }

    #[tokio::test]
    async fn an_admin_group_owns_the_socket_and_its_new_directory() {
        // This process's own group: any user may give its files to that.
        let gid = nix::unistd::getegid();
        let group = nix::unistd::Group::from_gid(gid).unwrap().unwrap().name;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/latchkey.sock");
        let bound = bind_admin_socket(&path, Some(&group)).await.unwrap();
        assert_eq!(bound.admin_gid, Some(gid.as_raw()));
        let socket = std::fs::metadata(&path).unwrap();
        assert_eq!(socket.permissions().mode() & 0o777, 0o660);
        assert_eq!(socket.gid(), gid.as_raw());
        let parent = std::fs::metadata(path.parent().unwrap()).unwrap();
        assert_eq!(parent.permissions().mode() & 0o777, 0o750);
        assert_eq!(parent.gid(), gid.as_raw());

        let err = bind_admin_socket(&dir.path().join("x.sock"), Some("no-such-group-lk"))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "admin_group \"no-such-group-lk\" does not exist on this system (create it with \
             `groupadd no-such-group-lk`)"
        );
    }

    #[test]
    fn membership_counts_primary_and_other_groups() {
        let uid = nix::unistd::geteuid().as_raw();
        let primary = nix::unistd::getegid().as_raw();
        assert!(is_member(uid, primary));
        // A uid nobody has is a member of nothing.
        assert!(!is_member(4_000_000_000, primary));
        if let Ok(Some(root_group)) = nix::unistd::Group::from_name("root") {
            // root is in group root; nobody (65534) is not.
            assert!(is_member(0, root_group.gid.as_raw()));
            assert!(!is_member(65534, root_group.gid.as_raw()));
        }
    }
}
