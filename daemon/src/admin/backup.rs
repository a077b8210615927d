//! `latchkey backup` and `latchkey export` over the socket. A snapshot (a database file, or
//! an export bundle) belongs to the connection that asked for it: it lives in the data
//! directory (the one place the daemon may write, under systemd's `ProtectSystem=strict`) as
//! `.backup-<id>.redb` or `.export-<id>.jsonl` while that client fetches it in chunks, and
//! is removed when the client says it is done or the connection ends, however it ends.
//! The client, not the daemon, writes the backup where the admin asked: the daemon never
//! writes a file at a path a client names.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use latchkey_protocol::{ApiError, BACKUP_CHUNK_BYTES, BackupInfo, ErrorCode, Response};
use sha2::{Digest as _, Sha256};

use super::context::ConnectionContext;
use crate::idm::Actor;
use crate::store::{BackupError, BundleError};

/// What a connection asked for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Snapshot {
    /// A copy of the embedded database file (`latchkey backup`).
    Backup,
    /// An export bundle, from either backend (`latchkey export`).
    Export,
}

/// The snapshots one connection has taken and not yet finished with.
#[derive(Debug, Default)]
pub(super) struct Backups(HashMap<String, PathBuf>);

impl Drop for Backups {
    fn drop(&mut self) {
        for path in self.0.values() {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(
                    "could not remove the backup snapshot {}: {e}",
                    path.display()
                );
            }
        }
    }
}

impl Backups {
    /// Takes a snapshot into the data directory.
    pub(super) async fn begin(
        &mut self,
        ctx: &ConnectionContext,
        actor: &Actor,
        kind: Snapshot,
    ) -> Result<Response, ApiError> {
        let id = hex::encode(rand::random::<[u8; 16]>());
        let name = match kind {
            Snapshot::Backup => format!(".backup-{id}.redb"),
            Snapshot::Export => format!(".export-{id}.jsonl"),
        };
        let path = ctx.info.data_dir.join(name);
        let (idm, actor, at) = (ctx.idm.clone(), actor.clone(), path.clone());
        let made = tokio::task::spawn_blocking(move || {
            let (schema_version, key_id) = match kind {
                Snapshot::Backup => {
                    let (version, key_id) = idm.back_up_to(&actor, &at)?;
                    (version, Some(key_id))
                }
                Snapshot::Export => {
                    let summary = idm.export_to(&actor, &at)?;
                    (summary.schema_version, summary.encryption_key_id)
                }
            };
            let (bytes, sha256) = measure(&at).map_err(|e| internal(&e))?;
            Ok::<_, ApiError>((schema_version, key_id, bytes, sha256))
        })
        .await
        .map_err(|e| internal(&e))?;
        let (schema_version, key_id, bytes, sha256) = match made {
            Ok(made) => made,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        };
        self.0.insert(id.clone(), path);
        Ok(Response::BackupReady {
            backup: BackupInfo {
                id,
                bytes,
                sha256,
                schema_version,
                encryption_key_id: key_id,
            },
        })
    }

    /// Up to [`BACKUP_CHUNK_BYTES`] from `offset`.
    pub(super) async fn chunk(&self, id: &str, offset: u64) -> Result<Response, ApiError> {
        let path = self.path(id)?;
        let data = tokio::task::spawn_blocking(move || {
            let mut file = std::fs::File::open(&path)?;
            file.seek(SeekFrom::Start(offset))?;
            let mut data = Vec::new();
            file.take(BACKUP_CHUNK_BYTES).read_to_end(&mut data)?;
            Ok::<_, std::io::Error>(data)
        })
        .await
        .map_err(|e| internal(&e))?
        .map_err(|e| internal(&e))?;
        Ok(Response::BackupChunk {
            data: STANDARD.encode(data),
        })
    }

    /// The client has it all: the snapshot goes.
    pub(super) fn end(&mut self, id: &str) -> Result<Response, ApiError> {
        let path = self.path(id)?;
        self.0.remove(id);
        std::fs::remove_file(&path).map_err(|e| internal(&e))?;
        Ok(Response::Done)
    }

    fn path(&self, id: &str) -> Result<PathBuf, ApiError> {
        self.0.get(id).cloned().ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("no backup {id:?} on this connection"),
            )
        })
    }
}

/// The file's size and SHA-256 (hex).
fn measure(path: &std::path::Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok((bytes, hex::encode(hasher.finalize())))
}

fn internal(e: &dyn std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::Internal, format!("the snapshot failed: {e}"))
}

impl From<BundleError> for ApiError {
    fn from(e: BundleError) -> ApiError {
        ApiError::new(ErrorCode::Internal, format!("the export failed: {e}"))
    }
}

impl From<BackupError> for ApiError {
    fn from(e: BackupError) -> ApiError {
        let code = match e {
            BackupError::Shared => ErrorCode::InvalidInput,
            BackupError::Exists(_) => ErrorCode::Conflict,
            BackupError::Copy(_) | BackupError::Store(_) => ErrorCode::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}
