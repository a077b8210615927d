//! An online backup as it travels over the socket: the daemon writes a snapshot of the
//! database into a file of its own, and the client fetches it in chunks of at most
//! [`BACKUP_CHUNK_BYTES`] (each one frame), then says it is done so the daemon removes it.

use serde::{Deserialize, Serialize};

/// The most bytes one `BackupChunk` answer carries (base64 in the frame: 4/3 of this, well
/// below the frame limit).
pub const BACKUP_CHUNK_BYTES: u64 = 1024 * 1024;

/// A snapshot ready to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupInfo {
    /// Names the snapshot in `BackupChunk` and `BackupEnd` (on this connection only).
    pub id: String,
    pub bytes: u64,
    /// SHA-256 of the whole file, hex.
    pub sha256: String,
    pub schema_version: u64,
    /// The id of the encryption key the secrets in it are sealed with: the backup does not
    /// hold the key, which must be kept apart.
    pub encryption_key_id: Option<String>,
}
