//! Parsers for each setting's value, shared by the file, environment and command-line layers so
//! that a value is judged, and explained, the same way wherever it came from.
//!
//! Each returns `Err(sentence)` naming the offending value and what was expected; the caller adds
//! where the value came from.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::PublicUrl;

/// `listen`: an IP address and port. Host names are refused rather than resolved.
pub fn listen(input: &str) -> Result<SocketAddr, String> {
    input.parse().map_err(|_| {
        let looks_like_host_port = input
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
        if looks_like_host_port {
            format!(
                "expected an IP address and port like 127.0.0.1:1411 (host names are not \
                 resolved; use [::]:1411 or 0.0.0.0:1411 for all interfaces), got {input:?}"
            )
        } else {
            format!("expected an address like 127.0.0.1:1411, got {input:?}")
        }
    })
}

/// `public_url`: see [`PublicUrl`].
pub fn public_url(input: &str) -> Result<PublicUrl, String> {
    input.parse()
}

/// `data_dir`: any non-empty path.
pub fn data_dir(input: &str) -> Result<PathBuf, String> {
    non_empty_path(input)
}

/// `encryption_key_file`: any non-empty path.
pub fn key_file(input: &str) -> Result<PathBuf, String> {
    non_empty_path(input)
}

/// `LATCHKEY_ENCRYPTION_KEY`: the base64 of 32 bytes. The message never repeats the value.
pub fn encryption_key(input: &str) -> Result<[u8; 32], String> {
    crate::sealing::EncryptionKey::from_base64(input)
        .map(|key| key.to_bytes())
        .ok_or_else(|| {
            "expected the base64 of 32 random bytes (make one with `openssl rand -base64 32`); \
             the value given is not that"
                .to_owned()
        })
}

/// `socket`: any non-empty path (its length is checked once the layers are merged).
pub fn socket(input: &str) -> Result<PathBuf, String> {
    non_empty_path(input)
}

fn non_empty_path(input: &str) -> Result<PathBuf, String> {
    if input.is_empty() {
        Err("expected a path, got an empty string".to_owned())
    } else {
        Ok(PathBuf::from(input))
    }
}

/// `log`: a `tracing_subscriber::EnvFilter` directive such as `info,latchkey_daemon=debug`.
pub fn log(input: &str) -> Result<String, String> {
    if input.trim().is_empty() {
        return Err(
            "expected a log filter like \"info\" or \"info,latchkey_daemon=debug\", got an empty \
             string"
                .to_owned(),
        );
    }
    match tracing_subscriber::EnvFilter::try_new(input) {
        Ok(_) => Ok(input.to_owned()),
        Err(error) => Err(format!(
            "{input:?} is not a valid log filter ({error}); expected e.g. \"info\" or \
             \"info,latchkey_daemon=debug\""
        )),
    }
}

/// One `trusted_proxies` entry: a single IP address.
pub fn proxy(input: &str) -> Result<IpAddr, String> {
    input.parse().map_err(|_| {
        if input.contains('/') {
            format!(
                "{input:?} is not an IP address (networks are not supported; list each proxy's \
                 address)"
            )
        } else {
            format!("{input:?} is not an IP address")
        }
    })
}

/// `trusted_proxies` as one string: comma-separated addresses; blanks between commas are skipped,
/// so an empty string is an empty list.
pub fn proxy_list(input: &str) -> Result<Vec<IpAddr>, String> {
    input
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(proxy)
        .collect()
}

/// The longest path `bind` takes for a Unix socket (`sun_path` less its terminating NUL).
pub const MAX_SOCKET_PATH_BYTES: usize = if cfg!(target_os = "linux") { 107 } else { 103 };

/// Checks the merged socket path fits in `sun_path`, which would otherwise fail at `bind` with an
/// unhelpful message.
pub fn socket_length(path: &std::path::Path) -> Result<(), String> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH_BYTES {
        Err(format!(
            "{:?} is {len} bytes long, but a Unix socket path can be at most \
             {MAX_SOCKET_PATH_BYTES}; choose a shorter socket path or data directory",
            path.display().to_string()
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_accepts_ip_and_port() {
        assert_eq!(listen("0.0.0.0:80").unwrap().port(), 80);
        assert!(listen("[::]:1411").unwrap().is_ipv6());
    }

    #[test]
    fn listen_explains_what_is_wrong() {
        assert_eq!(
            listen("localhost").unwrap_err(),
            "expected an address like 127.0.0.1:1411, got \"localhost\""
        );
        assert!(
            listen("localhost:1411")
                .unwrap_err()
                .contains("host names are not resolved")
        );
        assert!(
            listen("127.0.0.1")
                .unwrap_err()
                .contains("got \"127.0.0.1\"")
        );
    }

    #[test]
    fn paths_must_not_be_empty() {
        assert_eq!(
            data_dir("/var/lib/latchkey").unwrap(),
            PathBuf::from("/var/lib/latchkey")
        );
        assert!(data_dir("").unwrap_err().contains("empty"));
        assert!(socket("").unwrap_err().contains("empty"));
    }

    #[test]
    fn log_uses_env_filter_syntax() {
        assert_eq!(
            log("info,latchkey_daemon=debug").unwrap(),
            "info,latchkey_daemon=debug"
        );
        let err = log("info,foo=notalevel").unwrap_err();
        assert!(
            err.starts_with("\"info,foo=notalevel\" is not a valid log filter"),
            "{err}"
        );
        assert!(log(" ").unwrap_err().contains("empty"));
    }

    #[test]
    fn proxies() {
        assert_eq!(
            proxy_list(" 10.0.0.1, ::1 ,").unwrap(),
            vec![
                "10.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse::<IpAddr>().unwrap()
            ]
        );
        assert!(proxy_list("").unwrap().is_empty());
        assert!(
            proxy_list("10.0.0.0/8")
                .unwrap_err()
                .contains("networks are not supported")
        );
        assert_eq!(proxy("x").unwrap_err(), "\"x\" is not an IP address");
    }

    #[test]
    fn socket_length_limit() {
        assert!(socket_length(std::path::Path::new("./data/latchkey.sock")).is_ok());
        let long = PathBuf::from(format!("/{}", "d".repeat(MAX_SOCKET_PATH_BYTES)));
        assert!(socket_length(&long).unwrap_err().contains("at most"));
    }
}
