//! Where the daemon's admin socket is, and connecting to it.
//!
//! Resolution order: `--socket`, then `LATCHKEY_SOCKET`, then
//! `$LATCHKEY_DATA_DIR/latchkey.sock`, then `./data/latchkey.sock` — the same defaults `latchkeyd` uses, so both find
//! each other when started from the same directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use latchkey_protocol::{Client, ClientError};

/// How this client names itself in the handshake (the daemon logs it).
pub const CLIENT_NAME: &str = concat!("latchkey ", env!("CARGO_PKG_VERSION"));

/// The socket path from the flag or the process environment.
pub fn resolve(flag: Option<&Path>) -> PathBuf {
    resolve_with(flag, |key| std::env::var_os(key))
}

/// [`resolve`] with the environment passed in, so tests need not touch the
/// process environment.
pub fn resolve_with(flag: Option<&Path>, env: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    let set = |key: &str| env(key).filter(|value| !value.is_empty());
    if let Some(path) = flag {
        path.to_path_buf()
    } else if let Some(path) = set("LATCHKEY_SOCKET") {
        PathBuf::from(path)
    } else if let Some(dir) = set("LATCHKEY_DATA_DIR") {
        PathBuf::from(dir).join("latchkey.sock")
    } else {
        PathBuf::from("./data/latchkey.sock")
    }
}

/// Connects and performs the version handshake.
pub async fn connect(path: &Path) -> Result<Client, ClientError> {
    Client::connect(path, CLIENT_NAME).await
}

/// Whether an error means the daemon is not there (rather than that it
/// answered with something we did not like).
pub fn is_unreachable(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Connect { .. } | ClientError::Closed | ClientError::Frame(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |key| {
            vars.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn flag_wins_over_everything() {
        let vars = [
            ("LATCHKEY_SOCKET", "/env.sock"),
            ("LATCHKEY_DATA_DIR", "/d"),
        ];
        let path = resolve_with(Some(Path::new("/flag.sock")), env(&vars));
        assert_eq!(path, PathBuf::from("/flag.sock"));
    }

    #[test]
    fn socket_env_wins_over_data_dir() {
        let vars = [
            ("LATCHKEY_SOCKET", "/env.sock"),
            ("LATCHKEY_DATA_DIR", "/d"),
        ];
        assert_eq!(resolve_with(None, env(&vars)), PathBuf::from("/env.sock"));
    }

    #[test]
    fn data_dir_then_default() {
        let vars = [("LATCHKEY_SOCKET", ""), ("LATCHKEY_DATA_DIR", "/d")];
        assert_eq!(
            resolve_with(None, env(&vars)),
            PathBuf::from("/d/latchkey.sock")
        );
        assert_eq!(
            resolve_with(None, env(&[])),
            PathBuf::from("./data/latchkey.sock")
        );
    }
}
