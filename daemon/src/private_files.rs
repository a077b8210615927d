//! Files and directories only the daemon's user may open: the data directory (0700), the
//! database and the encryption key file (0600).
//!
//! A directory or file that already exists with any group or world permission (a systemd
//! `StateDirectory` is 0755 by default, a Docker volume is whatever the image made it) is
//! tightened when the daemon may change its mode (it owns it, or runs as root), with a warning
//! in the log. When it may not, the daemon refuses to start and says which command fixes it:
//! serving from a directory other users can read would publish the database and its key.

use std::fs::{File, Metadata, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode of the data directory.
pub const DIR_MODE: u32 = 0o700;

/// The mode of every file the daemon creates in it.
pub const FILE_MODE: u32 = 0o600;

/// Permission bits for the group and for others.
const SHARED_BITS: u32 = 0o077;

#[derive(Debug, thiserror::Error)]
pub enum PrivateFileError {
    #[error("cannot create the data directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the owner and mode of {}: {source}", path.display())]
    Stat {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{shown} can be opened by other users (mode {mode:04o}, owner uid {owner}) and latchkeyd \
         cannot make it private: {reason}. It holds the database and its encryption key, so \
         latchkeyd will not start. Fix it as root: `chown {user} {shown} && chmod {want:o} {shown}` \
         (or run latchkeyd as the user who owns it)",
        shown = .path.display(),
        user = own_uid().map_or_else(|| "<the user latchkeyd runs as>".to_owned(), |uid| uid.to_string()),
    )]
    NotPrivate {
        path: PathBuf,
        mode: u32,
        owner: u32,
        want: u32,
        /// In the message, not a `source`: the advice should end the message.
        reason: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// [`write_new`] found the file already there (another process made it first).
    #[error("{} already exists", path.display())]
    Exists { path: PathBuf },
}

/// The daemon's effective uid, for the fix in a message: `/proc/self` belongs to it (Linux),
/// which spares an `unsafe` call to `geteuid`. `None` elsewhere.
fn own_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Creates `path` (and missing parents) 0700, or makes an existing directory private.
pub fn ensure_dir(path: &Path) -> Result<(), PrivateFileError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => tighten(path, &meta, DIR_MODE, |mode| {
            std::fs::set_permissions(path, Permissions::from_mode(mode))
        }),
        Ok(_) => Err(PrivateFileError::CreateDir {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "it exists and is not a directory",
            ),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(path)
            .map_err(|source| PrivateFileError::CreateDir {
                path: path.to_path_buf(),
                source,
            }),
        Err(source) => Err(PrivateFileError::Stat {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Options that open a file for reading and writing, creating it 0600 if it is missing (an
/// existing file keeps its mode: pass it to [`tighten_file`]).
pub fn open_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE);
    options
}

/// Makes the open `file` (named `path` in messages) private.
pub fn tighten_file(file: &File, path: &Path) -> Result<(), PrivateFileError> {
    let meta = file.metadata().map_err(|source| PrivateFileError::Stat {
        path: path.to_path_buf(),
        source,
    })?;
    tighten(path, &meta, FILE_MODE, |mode| {
        file.set_permissions(Permissions::from_mode(mode))
    })
}

/// Makes the existing file at `path` private (no-op if it is already).
pub fn tighten_path(path: &Path) -> Result<(), PrivateFileError> {
    let meta = std::fs::metadata(path).map_err(|source| PrivateFileError::Stat {
        path: path.to_path_buf(),
        source,
    })?;
    tighten(path, &meta, FILE_MODE, |mode| {
        std::fs::set_permissions(path, Permissions::from_mode(mode))
    })
}

fn tighten(
    path: &Path,
    meta: &Metadata,
    want: u32,
    chmod: impl FnOnce(u32) -> std::io::Result<()>,
) -> Result<(), PrivateFileError> {
    let mode = meta.mode() & 0o7777;
    if mode & SHARED_BITS == 0 {
        return Ok(());
    }
    chmod(want).map_err(|reason| PrivateFileError::NotPrivate {
        path: path.to_path_buf(),
        mode,
        owner: meta.uid(),
        want,
        reason,
    })?;
    tracing::warn!(
        "{} could be opened by other users (mode {mode:04o}); latchkeyd changed it to {want:04o}",
        path.display()
    );
    Ok(())
}

/// Writes `bytes` to a new file at `path`, mode 0600, atomically: a crash leaves either no file
/// or the whole one, never a part. Never replaces an existing file ([`PrivateFileError::Exists`]).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), PrivateFileError> {
    let write_err = |source| PrivateFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |name| name.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
    // A hard link, unlike a rename, fails rather than replace a file that appeared meanwhile.
    let linked = written.and_then(|()| std::fs::hard_link(&temp, path));
    // The temporary name goes either way; failing to remove it loses nothing.
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(PrivateFileError::Exists {
                path: path.to_path_buf(),
            });
        }
        Err(source) => return Err(write_err(source)),
    }
    // The new directory entry must survive a crash too.
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_new_directory_is_private_and_an_open_one_is_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        ensure_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);

        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        ensure_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);

        let file = root.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let err = ensure_dir(&file).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
    }

    #[test]
    fn files_are_created_private_and_open_ones_tightened() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("db");
        let file = open_options().open(&path).unwrap();
        tighten_file(&file, &path).unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        tighten_file(&file, &path).unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        tighten_path(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn write_new_is_private_and_never_replaces() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("secret.key");
        write_new(&path, b"first").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert!(matches!(
            write_new(&path, b"second"),
            Err(PrivateFileError::Exists { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_refusal_says_how_to_fix_it() {
        let err = PrivateFileError::NotPrivate {
            path: PathBuf::from("/var/lib/latchkey"),
            mode: 0o755,
            owner: 0,
            want: 0o700,
            reason: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        let message = err.to_string();
        assert!(message.contains("mode 0755, owner uid 0"), "{message}");
        assert!(
            message.contains("&& chmod 700 /var/lib/latchkey`"),
            "{message}"
        );
    }
}
