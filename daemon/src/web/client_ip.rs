//! The client's IP address (for rate limits and the audit log) and user agent.
//!
//! The IP is the TCP peer's, unless the peer is inside one of `config.trusted_proxies`
//! (addresses or networks): then `X-Forwarded-For` is read from the right (the entry the
//! nearest proxy appended), skipping further trusted proxies, and the first address that is not
//! one is the client. A header that does not parse leaves the peer address. An untrusted peer's
//! header is ignored entirely, so a client cannot pick its own rate-limit bucket.
//!
//! An untrusted peer that sends `X-Forwarded-For` is most likely the admin's reverse proxy,
//! not yet listed: then every user shares the proxy's address, its rate limits and its audit
//! entries. The first such request whose client is read (sign-in, signup, anything audited) logs
//! one warning naming the setting to change; later ones stay quiet (once per process: a warning per request would flood the log, and one is enough
//! for the admin to act on).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use ipnet::IpNet;

use super::WebState;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// Longest user agent kept for the audit log, in bytes.
const USER_AGENT_MAX: usize = 512;

/// Where a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

fn trusted(ip: IpAddr, trusted_proxies: &[IpNet]) -> bool {
    trusted_proxies.iter().any(|net| net.contains(&ip))
}

/// The client address for a request that arrived from `peer`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted(peer, trusted_proxies) {
        return peer;
    }
    let mut forwarded: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
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
        if !trusted(ip, trusted_proxies) {
            return ip;
        }
    }
    peer
}

/// The warning to log when `peer` sent `X-Forwarded-For` but is not a trusted proxy; `None`
/// when the header is absent or believed.
pub fn untrusted_forwarding(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted_proxies: &[IpNet],
) -> Option<String> {
    let peer = canonical(peer);
    if !headers.contains_key(FORWARDED_FOR) || trusted(peer, trusted_proxies) {
        return None;
    }
    Some(format!(
        "a request from {peer} carries an X-Forwarded-For header, but {peer} is not a trusted \
         proxy, so the header is ignored: every client behind it shares the address {peer} for \
         rate limits and the audit log. If {peer} is your reverse proxy, add it to the \
         configuration: trusted_proxies = [\"{peer}\"] (or its network, in CIDR notation), \
         LATCHKEY_TRUSTED_PROXIES={peer} or --trusted-proxies {peer}. (Logged once.)"
    ))
}

/// Remembers whether the untrusted-`X-Forwarded-For` warning was logged.
#[derive(Debug, Default)]
pub struct ForwardingWarning(AtomicBool);

impl ForwardingWarning {
    /// The warning for this request, the first time one is due in this process.
    pub fn first(
        &self,
        peer: IpAddr,
        headers: &HeaderMap,
        trusted_proxies: &[IpNet],
    ) -> Option<String> {
        if self.0.load(Ordering::Relaxed) {
            return None;
        }
        let warning = untrusted_forwarding(peer, headers, trusted_proxies)?;
        (!self.0.swap(true, Ordering::Relaxed)).then_some(warning)
    }
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
        if let Some(warning) =
            state
                .forwarding_warning
                .first(peer, &parts.headers, &state.trusted_proxies)
        {
            tracing::warn!("{warning}");
        }
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

    fn net(s: &str) -> IpNet {
        crate::config::parse_trusted_proxy(s).unwrap()
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
            client_ip(ip("198.51.100.1"), &h, &[net("10.0.0.1")]),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn trusted_networks_cover_every_address_inside() {
        let proxies = [net("10.0.0.0/8"), net("fd00::/8")];
        let h = xff(&["203.0.113.7, 10.9.9.9"]);
        // The peer and the inner hop are both inside 10.0.0.0/8.
        assert_eq!(client_ip(ip("10.1.2.3"), &h, &proxies), ip("203.0.113.7"));
        assert_eq!(client_ip(ip("fd12::1"), &h, &proxies), ip("203.0.113.7"));
        assert_eq!(
            client_ip(ip("::ffff:10.200.0.1"), &h, &proxies),
            ip("203.0.113.7")
        );
        // Just outside: not believed.
        assert_eq!(client_ip(ip("11.0.0.1"), &h, &proxies), ip("11.0.0.1"));
        assert_eq!(client_ip(ip("fe00::1"), &h, &proxies), ip("fe00::1"));
    }

    #[test]
    fn forwarding_from_an_untrusted_peer_warns_once() {
        let h = xff(&["203.0.113.7"]);
        let proxies = [net("10.0.0.0/8")];
        // No header, or a trusted peer: nothing to say.
        assert_eq!(
            untrusted_forwarding(ip("192.0.2.1"), &HeaderMap::new(), &proxies),
            None
        );
        assert_eq!(untrusted_forwarding(ip("10.0.0.5"), &h, &proxies), None);
        let warning = untrusted_forwarding(ip("::ffff:192.0.2.1"), &h, &proxies).unwrap();
        assert!(
            warning.contains("trusted_proxies = [\"192.0.2.1\"]"),
            "{warning}"
        );
        assert!(
            warning.contains("LATCHKEY_TRUSTED_PROXIES=192.0.2.1"),
            "{warning}"
        );

        let once = ForwardingWarning::default();
        assert_eq!(once.first(ip("10.0.0.5"), &h, &proxies), None);
        assert!(once.first(ip("192.0.2.1"), &h, &proxies).is_some());
        assert_eq!(once.first(ip("192.0.2.1"), &h, &proxies), None);
        assert_eq!(once.first(ip("192.0.2.2"), &h, &proxies), None);
    }

    #[test]
    fn a_trusted_proxy_is_believed_from_the_right() {
        let proxy = ip("10.0.0.1");
        // The client prepended a fake entry; the proxy appended the real peer.
        let h = xff(&["1.2.3.4, 203.0.113.7"]);
        let trusted = [net("10.0.0.1")];
        assert_eq!(client_ip(proxy, &h, &trusted), ip("203.0.113.7"));
        // Two proxies in a chain, across two headers.
        let h = xff(&["203.0.113.7", "10.0.0.2"]);
        let both = [net("10.0.0.1"), net("10.0.0.2")];
        assert_eq!(client_ip(proxy, &h, &both), ip("203.0.113.7"));
        // With a port, and IPv6 in brackets.
        let h = xff(&["[2001:db8::1]:4711"]);
        assert_eq!(client_ip(proxy, &h, &trusted), ip("2001:db8::1"));
        // No header, or garbage: the peer.
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_ip(proxy, &xff(&["nonsense"]), &trusted), proxy);
    }

    #[test]
    fn mapped_addresses_compare_as_ipv4() {
        let h = xff(&["203.0.113.7"]);
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &h, &[net("10.0.0.1")]),
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
