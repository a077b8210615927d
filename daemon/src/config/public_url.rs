//! `PublicUrl`: the validated, normalised URL browsers and relying apps use to reach Latchkey.
//!
//! The rules here are narrower than a general URL parser's (the `url` crate accepts userinfo,
//! queries, fragments and many schemes, none of which an issuer may have): an `http`/`https`
//! scheme, a host, an optional port and path, nothing else.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// The public URL of this Latchkey instance: the OIDC issuer, the WebAuthn origin, the base of
/// every link in pages and mail.
///
/// Normalised on parse: scheme and host lower-cased, trailing slashes removed. `as_str()` is that
/// normalised form and is what the issuer is compared against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    url: String,
    https: bool,
    host: String,
    port: Option<u16>,
    path: String,
}

impl PublicUrl {
    /// `http://localhost:{port}`, the default and what tests use.
    pub fn localhost(port: u16) -> PublicUrl {
        PublicUrl {
            url: format!("http://localhost:{port}"),
            https: false,
            host: "localhost".to_owned(),
            port: Some(port),
            path: String::new(),
        }
    }

    /// The normalised URL, without a trailing slash, e.g. `https://id.example.com/auth`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Whether the scheme is `https` (session cookies then get `Secure` and `__Host-`).
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host as written in the URL, lower-cased; an IPv6 address keeps its brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port if one was written, e.g. `Some(1411)` for `http://localhost:1411`.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// `scheme://host[:port]`: the origin browsers report in WebAuthn client data.
    pub fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        match self.port {
            Some(port) => format!("{scheme}://{}:{port}", self.host),
            None => format!("{scheme}://{}", self.host),
        }
    }

    /// The path below the origin without a trailing slash: `""` or e.g. `"/auth"`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the host is an IP address literal (browsers refuse passkeys there).
    pub fn host_is_ip(&self) -> bool {
        self.host.starts_with('[') || self.host.parse::<std::net::Ipv4Addr>().is_ok()
    }

    /// Whether the host is `localhost` or below `.localhost` (a secure context even over http).
    pub fn host_is_localhost(&self) -> bool {
        self.host == "localhost" || self.host.ends_with(".localhost")
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl FromStr for PublicUrl {
    type Err = String;

    /// Parses and validates; the error is a sentence naming the offending value.
    fn from_str(input: &str) -> Result<Self, String> {
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{input:?} contains whitespace or control characters"
            ));
        }
        let (scheme, rest) = input
            .split_once("://")
            .ok_or_else(|| format!("{input:?} is not an http or https URL"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            _ => return Err(format!("{input:?} is not an http or https URL")),
        };
        if rest.contains(['?', '#']) {
            return Err(format!(
                "{input:?} must not have a query or fragment (expected e.g. https://id.example.com)"
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(format!(
                "{input:?} must not contain a user name or password"
            ));
        }
        let (host, port) = split_host_port(authority)
            .map_err(|why| format!("{input:?} has {why} (expected e.g. https://id.example.com)"))?;
        let host = host.to_ascii_lowercase();
        let path = path.trim_end_matches('/').to_owned();
        let mut url = format!("{}://{host}", if https { "https" } else { "http" });
        if let Some(port) = port {
            url.push_str(&format!(":{port}"));
        }
        url.push_str(&path);
        Ok(PublicUrl {
            url,
            https,
            host,
            port,
            path,
        })
    }
}

/// Splits `host[:port]` and checks both halves; the error completes "… has {why}".
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (inner, after) = bracketed
            .split_once(']')
            .ok_or_else(|| "an unclosed [ in its host".to_owned())?;
        if inner.parse::<Ipv6Addr>().is_err() {
            return Err(format!("an invalid IPv6 address [{inner}]"));
        }
        let host = authority
            .get(..inner.len() + 2)
            .ok_or_else(|| "an invalid host".to_owned())?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("unexpected text {after:?} after its host")),
            },
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host".to_owned());
    }
    let valid_name = |label: &str| {
        !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !host.starts_with('[') && !host.split('.').all(valid_name) {
        return Err(format!("an invalid host {host:?}"));
    }
    let port = match port {
        None => None,
        Some(port) => match port.parse::<u16>() {
            // `u16::from_str` also takes "+80"; only plain digits are a port.
            Ok(number) if number != 0 && port.bytes().all(|b| b.is_ascii_digit()) => Some(number),
            _ => return Err(format!("an invalid port {port:?} (expected 1-65535)")),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<PublicUrl, String> {
        s.parse()
    }

    #[test]
    fn accepts_and_normalises() {
        let url = parse("HTTPS://ID.Example.com:8443/auth/").unwrap();
        assert_eq!(url.as_str(), "https://id.example.com:8443/auth");
        assert!(url.is_https());
        assert_eq!(url.host(), "id.example.com");
        assert_eq!(url.port(), Some(8443));
        assert_eq!(url.path(), "/auth");
        assert_eq!(url.origin(), "https://id.example.com:8443");
        assert_eq!(url.to_string(), url.as_str());

        let url = parse("http://localhost:1411").unwrap();
        assert_eq!(url.as_str(), "http://localhost:1411");
        assert!(!url.is_https());
        assert!(url.host_is_localhost());
        assert!(!url.host_is_ip());
        assert_eq!(url, PublicUrl::localhost(1411));

        let url = parse("http://[::1]:1411/").unwrap();
        assert_eq!(url.host(), "[::1]");
        assert_eq!(url.as_str(), "http://[::1]:1411");
        assert!(url.host_is_ip());
        assert!(parse("http://127.0.0.1").unwrap().host_is_ip());
        assert_eq!(parse("https://x///").unwrap().as_str(), "https://x");
    }

    #[test]
    fn rejects_with_a_reason() {
        let cases = [
            ("ftp://x", "\"ftp://x\" is not an http or https URL"),
            ("localhost:1411", "is not an http or https URL"),
            ("https://", "has no host"),
            ("https://:443", "has no host"),
            ("https://x/?a=1", "must not have a query or fragment"),
            ("https://x#top", "must not have a query or fragment"),
            ("https://u:p@x", "must not contain a user name or password"),
            ("https://x:0", "invalid port \"0\""),
            ("https://x:99999", "invalid port \"99999\""),
            ("https://x:", "invalid port \"\""),
            ("https://x:+80", "invalid port \"+80\""),
            ("https://a..b", "invalid host \"a..b\""),
            ("https://a%20b", "invalid host"),
            ("https://[::g]", "invalid IPv6 address"),
            ("https://[::1", "unclosed ["),
            ("https://[::1]x", "unexpected text"),
            ("https://a b", "whitespace"),
        ];
        for (input, expected) in cases {
            let err = parse(input).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }
}
