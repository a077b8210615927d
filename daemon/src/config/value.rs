//! Parsers for each setting's value, shared by the file, environment and command-line layers so
//! that a value is judged, and explained, the same way wherever it came from.
//!
//! Each returns `Err(sentence)` naming the offending value and what was expected; the caller adds
//! where the value came from.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::database_url::DatabaseUrlError;
use super::{DatabaseUrl, PublicUrl, Secret};

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

/// `database_url`: see [`DatabaseUrl`]. The message never repeats the value's password.
pub fn database_url(input: &str) -> Result<DatabaseUrl, String> {
    input
        .parse()
        .map_err(|error: DatabaseUrlError| error.to_string())
}

/// A flag's value that may hold a secret, kept as given until [`super::Config::load`] parses it
/// like the other layers' values: clap's own message for a refused value would repeat it.
pub fn secret_string(input: &str) -> Result<Secret<String>, Infallible> {
    Ok(Secret::new(input.to_owned()))
}

/// `data_dir`: any non-empty path.
pub fn data_dir(input: &str) -> Result<PathBuf, String> {
    non_empty_path(input)
}

/// `encryption_key_file`: any non-empty path.
pub fn key_file(input: &str) -> Result<PathBuf, String> {
    non_empty_path(input)
}

/// `tls_cert`, `tls_key`: a PEM file (read when the daemon starts, and again on SIGHUP).
pub fn pem_file(input: &str) -> Result<PathBuf, String> {
    non_empty_path(input)
}

/// `log_format`: `text` (for people) or `json` (one object per line, for log collectors).
pub fn log_format(input: &str) -> Result<super::LogFormat, String> {
    match input {
        "text" => Ok(super::LogFormat::Text),
        "json" => Ok(super::LogFormat::Json),
        other => Err(format!("expected \"text\" or \"json\", got {other:?}")),
    }
}

/// `admin_group`: a Unix group name (looked up when the socket is made).
pub fn group_name(input: &str) -> Result<String, String> {
    let valid = !input.is_empty()
        && input.len() <= 32
        && !input.starts_with('-')
        && input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(input.to_owned())
    } else {
        Err(format!(
            "expected a Unix group name like \"latchkey-admins\" (letters, digits, _ - .), \
             got {input:?}"
        ))
    }
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

/// One `trusted_proxies` entry: an IP address (`10.0.0.1`) or a network in CIDR notation
/// (`10.0.0.0/8`, `fd00::/8`). Host bits after the prefix are cleared (`10.1.2.3/8` is
/// `10.0.0.0/8`); an IPv4-mapped IPv6 address or network counts as the IPv4 one, as client
/// addresses do.
pub fn proxy(input: &str) -> Result<IpNet, String> {
    let net = match input.parse::<IpAddr>() {
        Ok(ip) => IpNet::from(ip),
        Err(_) => input.parse::<IpNet>().map_err(|_| {
            if input.contains('/') {
                format!(
                    "{input:?} is not a network: expected an address, a slash and a prefix \
                     length, like 10.0.0.0/8 or fd00::/8"
                )
            } else {
                format!("{input:?} is not an IP address or a network like 10.0.0.0/8")
            }
        })?,
    };
    Ok(canonical_net(net.trunc()))
}

/// A `trusted_proxies` entry as the operator would write it: a single address without `/32`.
pub fn show_proxy(net: IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// `::ffff:10.0.0.0/104` as `10.0.0.0/8`.
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4),
            None => net,
        },
        other => other,
    }
}

/// `trusted_proxies` as one string: comma-separated addresses and networks; blanks between
/// commas are skipped, so an empty string is an empty list.
pub fn proxy_list(input: &str) -> Result<Vec<IpNet>, String> {
    input
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(proxy)
        .collect()
}

/// The longest timeout accepted: a day. Longer is surely a mistake, and it keeps the
/// arithmetic on deadlines far from overflowing.
const MAX_TIMEOUT_SECS: u64 = 24 * 60 * 60;

/// A timeout in whole seconds, 1 to a day.
pub fn seconds(input: &str) -> Result<Duration, String> {
    match input.trim().parse::<u64>() {
        Ok(secs @ 1..=MAX_TIMEOUT_SECS) => Ok(Duration::from_secs(secs)),
        _ => Err(format!(
            "expected a whole number of seconds from 1 to {MAX_TIMEOUT_SECS}, got {input:?}"
        )),
    }
}

/// The most connections accepted: beyond this the process would run out of file
/// descriptors long before.
const MAX_CONNECTIONS: usize = 1_000_000;

/// `max_connections`: how many HTTP connections are served at once, 1 to a million.
pub fn connections(input: &str) -> Result<usize, String> {
    match input.trim().parse::<usize>() {
        Ok(n @ 1..=MAX_CONNECTIONS) => Ok(n),
        _ => Err(format!(
            "expected a whole number of connections from 1 to {MAX_CONNECTIONS}, got {input:?}"
        )),
    }
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
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        assert_eq!(
            proxy_list(" 10.0.0.1, ::1 ,").unwrap(),
            vec![net("10.0.0.1/32"), net("::1/128")]
        );
        assert!(proxy_list("").unwrap().is_empty());
        // Networks, with host bits cleared; mapped IPv6 as IPv4.
        assert_eq!(
            proxy_list("10.0.0.0/8, 172.16.5.4/12, fd00::/8").unwrap(),
            vec![net("10.0.0.0/8"), net("172.16.0.0/12"), net("fd00::/8")]
        );
        assert_eq!(proxy("::ffff:10.0.0.0/104").unwrap(), net("10.0.0.0/8"));
        assert_eq!(proxy("::ffff:10.0.0.7").unwrap(), net("10.0.0.7/32"));
        assert_eq!(
            proxy("x").unwrap_err(),
            "\"x\" is not an IP address or a network like 10.0.0.0/8"
        );
        for bad in ["10.0.0.0/33", "10.0.0.0/", "/8", "10.0.0/8"] {
            assert!(
                proxy(bad).unwrap_err().contains("is not a network"),
                "{bad}"
            );
        }
    }

    #[test]
    fn timeouts_and_connections() {
        assert_eq!(seconds("10").unwrap(), Duration::from_secs(10));
        for bad in ["0", "-1", "1.5", "10s", "", "86401"] {
            assert!(
                seconds(bad)
                    .unwrap_err()
                    .starts_with("expected a whole number of seconds"),
                "{bad}"
            );
        }
        assert_eq!(connections("1000").unwrap(), 1000);
        assert!(connections("0").unwrap_err().contains("connections"));
    }

    #[test]
    fn socket_length_limit() {
        assert!(socket_length(std::path::Path::new("./data/latchkey.sock")).is_ok());
        let long = PathBuf::from(format!("/{}", "d".repeat(MAX_SOCKET_PATH_BYTES)));
        assert!(socket_length(&long).unwrap_err().contains("at most"));
    }
}
