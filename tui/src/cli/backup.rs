//! `latchkey backup --out FILE` and `latchkey export --out FILE`: asks the daemon for a
//! snapshot (a copy of its database, or an export bundle), fetches it in chunks and writes it
//! next to FILE under a temporary name, checks it against the daemon's SHA-256, then renames
//! it into place (so FILE is whole or untouched). The daemon never writes at a path the
//! client names; this process writes with the admin's own rights.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use latchkey_protocol::{BackupInfo, Request, Response};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::error::CliError;
use super::output::Rendered;

/// Which snapshot to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Snapshot {
    Backup,
    Export,
}

impl Snapshot {
    fn what(self) -> &'static str {
        match self {
            Snapshot::Backup => "backup",
            Snapshot::Export => "export bundle",
        }
    }
}

pub async fn run(socket: &Path, out: &Path, kind: Snapshot) -> Result<Rendered, CliError> {
    if out.file_name().is_none() {
        // The temporary file is made beside it and renamed to it: that needs a file name.
        return Err(CliError::Local(format!(
            "--out {} names no file: give the {} file's path, for example \
             /var/backups/latchkey/{}",
            out.display(),
            kind.what(),
            match kind {
                Snapshot::Backup => "latest.backup",
                Snapshot::Export => "latchkey-export.jsonl",
            }
        )));
    }
    let client = crate::socket::connect(socket)
        .await
        .map_err(|e| CliError::from_client(socket, e))?;
    let call = |request| async {
        client
            .call(request)
            .await
            .map_err(|e| CliError::from_client(socket, e))
    };
    let begin = match kind {
        Snapshot::Backup => Request::BackupBegin,
        Snapshot::Export => Request::ExportBegin,
    };
    let info = match call(begin).await? {
        Response::BackupReady { backup } => backup,
        other => return Err(unexpected(&other)),
    };
    let partial = partial_path(out);
    let written = fetch(&call, &info, &partial, kind).await;
    // The daemon's copy goes either way (it also goes when this connection ends).
    let ended = call(Request::BackupEnd {
        backup: info.id.clone(),
    })
    .await;
    if let Err(e) = written.and_then(|()| {
        std::fs::rename(&partial, out).map_err(|e| local(out, &e))?;
        sync_parent(out)
    }) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    ended?;
    let key = info
        .encryption_key_id
        .as_deref()
        .map_or(String::new(), |id| format!(" (key id {id})"));
    let human = match kind {
        Snapshot::Backup => format!(
            "Backup written to {}: {} bytes, SHA-256 {}, schema version {}.\n\
             It does not hold the encryption key{key}: keep that key, apart from the backups.\n\
             Restore with: latchkeyd restore --from {} --data-dir DIR\n",
            out.display(),
            info.bytes,
            info.sha256,
            info.schema_version,
            out.display(),
        ),
        Snapshot::Export => format!(
            "Export bundle written to {}: {} bytes, SHA-256 {}, schema version {}.\n\
             Its secrets are encrypted and it does not hold the encryption key{key}: keep that \
             key, apart from the bundle.\n\
             Load it into an empty database with: latchkeyd import --from {} \
             [--data-dir DIR | --database-url URL]\n",
            out.display(),
            info.bytes,
            info.sha256,
            info.schema_version,
            out.display(),
        ),
    };
    Ok(Rendered {
        json: json!({
            "path": out.display().to_string(),
            "bytes": info.bytes,
            "sha256": info.sha256,
            "schema_version": info.schema_version,
            "encryption_key_id": info.encryption_key_id,
        }),
        human,
    })
}

/// Fetches the snapshot into `partial` (0600), checking its size and SHA-256.
async fn fetch<F, Fut>(
    call: &F,
    info: &BackupInfo,
    partial: &Path,
    kind: Snapshot,
) -> Result<(), CliError>
where
    F: Fn(Request) -> Fut,
    Fut: std::future::Future<Output = Result<Response, CliError>>,
{
    let mut file = create_private(partial)?;
    let mut hasher = Sha256::new();
    let mut offset = 0u64;
    while offset < info.bytes {
        let request = Request::BackupChunk {
            backup: info.id.clone(),
            offset,
        };
        let data = match call(request).await? {
            Response::BackupChunk { data } => STANDARD.decode(data).map_err(|e| {
                CliError::Daemon(format!("a {} chunk is not base64: {e}", kind.what()))
            })?,
            other => return Err(unexpected(&other)),
        };
        if data.is_empty() {
            break;
        }
        hasher.update(&data);
        file.write_all(&data).map_err(|e| local(partial, &e))?;
        offset = offset.saturating_add(data.len() as u64);
    }
    file.sync_all().map_err(|e| local(partial, &e))?;
    let sha256 = hex::encode(hasher.finalize());
    if offset != info.bytes || sha256 != info.sha256 {
        return Err(CliError::Daemon(format!(
            "the {} arrived damaged ({offset} of {} bytes, SHA-256 {sha256} instead of {}); \
             nothing was written",
            kind.what(),
            info.bytes,
            info.sha256
        )));
    }
    Ok(())
}

/// `FILE.partial-<pid>` beside `FILE`, so the rename stays on one filesystem.
fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".partial-{}", std::process::id()));
    out.with_file_name(name)
}

fn create_private(path: &Path) -> Result<std::fs::File, CliError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| local(path, &e))
}

fn sync_parent(path: &Path) -> Result<(), CliError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| local(parent, &e))
}

fn local(path: &Path, e: &std::io::Error) -> CliError {
    CliError::Local(format!("cannot write {}: {e}", path.display()))
}

fn unexpected(response: &Response) -> CliError {
    CliError::Daemon(format!(
        "unexpected answer to a backup request: {response:?}"
    ))
}
