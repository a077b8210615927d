//! The client's IP address (for rate limits and the audit log) and user agent.
//!
//! The IP is the TCP peer's, unless the peer is one of `config.trusted_proxies`: then
//! `X-Forwarded-For` is read from the right (the entry the nearest proxy appended), skipping
//! further trusted proxies, and the first address that is not one is the client. A header that
//! does not parse leaves the peer address. An untrusted peer's header is ignored entirely, so a
//! client cannot pick its own rate-limit bucket.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;

use super::WebState;

/// Longest user agent kept for the audit log, in bytes.
const USER_AGENT_MAX: usize = 512;

/// Where a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

/// The client address for a request that arrived from `peer`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted_proxies.iter().any(|p| canonical(*p) == peer) {
        return peer;
    }
    let mut forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    forwarded.reverse();
    for entry in forwarded {
        let Some(ip) = parse_forwarded(entry) else {
            return peer;
        };
        if !trusted_proxies.iter().any(|p| canonical(*p) == ip) {
            return ip;
        }
    }
    peer
}

/// An `X-Forwarded-For` entry: a bare address, or (as some proxies write) `[v6]:port` / `v4:port`.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    entry.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    let ua = headers.get(USER_AGENT)?.to_str().ok()?.trim();
    if ua.is_empty() {
        return None;
    }
    let mut end = ua.len().min(USER_AGENT_MAX);
    while !ua.is_char_boundary(end) {
        end -= 1;
    }
    ua.get(..end).map(str::to_owned)
}

impl FromRequestParts<WebState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        // Always present when served with `into_make_service_with_connect_info`; router unit
        // tests without it count as "unspecified".
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        Ok(Client {
            ip: client_ip(peer, &parts.headers, &state.trusted_proxies),
            user_agent: user_agent(&parts.headers),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let h = xff(&["203.0.113.7"]);
        assert_eq!(client_ip(ip("198.51.100.1"), &h, &[]), ip("198.51.100.1"));
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &[ip("10.0.0.1")]),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn a_trusted_proxy_is_believed_from_the_right() {
        let proxy = ip("10.0.0.1");
        // The client prepended a fake entry; the proxy appended the real peer.
        let h = xff(&["1.2.3.4, 203.0.113.7"]);
        assert_eq!(client_ip(proxy, &h, &[proxy]), ip("203.0.113.7"));
        // Two proxies in a chain, across two headers.
        let inner = ip("10.0.0.2");
        let h = xff(&["203.0.113.7", "10.0.0.2"]);
        assert_eq!(client_ip(proxy, &h, &[proxy, inner]), ip("203.0.113.7"));
        // With a port, and IPv6 in brackets.
        let h = xff(&["[2001:db8::1]:4711"]);
        assert_eq!(client_ip(proxy, &h, &[proxy]), ip("2001:db8::1"));
        // No header, or garbage: the peer.
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[proxy]), proxy);
        assert_eq!(client_ip(proxy, &xff(&["nonsense"]), &[proxy]), proxy);
    }

    #[test]
    fn mapped_addresses_compare_as_ipv4() {
        let h = xff(&["203.0.113.7"]);
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &h, &[ip("10.0.0.1")]),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn user_agents_are_trimmed_and_bounded() {
        let mut h = HeaderMap::new();
        assert_eq!(user_agent(&h), None);
        h.insert(USER_AGENT, HeaderValue::from_static("  Firefox  "));
        assert_eq!(user_agent(&h).as_deref(), Some("Firefox"));
        h.insert(
            USER_AGENT,
            HeaderValue::from_str(&"x".repeat(2000)).unwrap(),
        );
        assert_eq!(user_agent(&h).map(|s| s.len()), Some(USER_AGENT_MAX));
    }
}
