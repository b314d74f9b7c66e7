//! The client address of a request, the same way in every facade: the TCP peer, unless the
//! peer is one of the configured reverse proxies (`[http] trusted_proxies`), in which case the
//! right-most address of `X-Forwarded-For` that is not itself a trusted proxy. A client cannot
//! choose its address by sending the header: from an untrusted peer it is ignored.
//!
//! What depends on the address (the keyless eXpand reports' `client_networks`, the throttle of
//! failed logins per address) asks here and nowhere else.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::HeaderMap;

pub use crate::net::Network;

/// Most `X-Forwarded-For` entries read (the right-most ones count; a longer header is cut).
pub const MAX_FORWARDED_HOPS: usize = 32;

/// The TCP peer of a request (`None` in in-process tests that have no connection).
pub fn peer_of(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The client's address: `peer`, or when `peer` is a trusted proxy, the right-most address of
/// `X-Forwarded-For` that is not one (a malformed entry ends the walk at the last good hop).
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[Network]) -> Option<IpAddr> {
    let peer = peer?;
    let trusted_ip = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !trusted_ip(peer) {
        return Some(peer);
    }
    let mut hops: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(v) = value.to_str() else {
            return Some(peer);
        };
        hops.extend(v.split(','));
    }
    let mut client = peer;
    for hop in hops.iter().rev().take(MAX_FORWARDED_HOPS) {
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip;
        if !trusted_ip(ip) {
            break;
        }
    }
    Some(unmap(client))
}

/// One `X-Forwarded-For` entry: an address, optionally `[v6]:port` or `v4:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    hop.parse::<SocketAddr>().ok().map(|s| s.ip())
}

fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// [`client_ip`] of a request's parts.
pub fn client_of(parts: &Parts, trusted: &[Network]) -> Option<IpAddr> {
    client_ip(&parts.headers, peer_of(parts), trusted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let proxies = [
            Network::parse("127.0.0.1").unwrap(),
            Network::parse("10.0.0.0/8").unwrap(),
        ];
        let cases: &[(&str, &[&str], &str)] = &[
            // Not from a proxy: the header is the client's own claim, ignored.
            ("203.0.113.9", &["127.0.0.1"], "203.0.113.9"),
            // From the proxy: the address it saw.
            ("127.0.0.1", &["198.51.100.7"], "198.51.100.7"),
            // A client that sends its own header through the proxy: the right-most untrusted.
            ("127.0.0.1", &["127.0.0.1, 198.51.100.7"], "198.51.100.7"),
            (
                "127.0.0.1",
                &["8.8.8.8", "198.51.100.7, 10.1.2.3"],
                "198.51.100.7",
            ),
            // Proxy without a header: the proxy itself.
            ("127.0.0.1", &[], "127.0.0.1"),
            // Garbage right of the proxy: the proxy is the client.
            ("127.0.0.1", &["198.51.100.7, nonsense"], "127.0.0.1"),
            ("127.0.0.1", &["[2001:db8::1]:4711"], "2001:db8::1"),
            ("127.0.0.1", &["198.51.100.7:80"], "198.51.100.7"),
            ("127.0.0.1", &["::ffff:198.51.100.7"], "198.51.100.7"),
        ];
        for (peer, xff, want) in cases {
            assert_eq!(
                client_ip(&headers(xff), Some(ip(peer)), &proxies),
                Some(ip(want)),
                "{peer} {xff:?}"
            );
        }
        // No trusted proxies (the default): always the peer.
        assert_eq!(
            client_ip(&headers(&["198.51.100.7"]), Some(ip("127.0.0.1")), &[]),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(client_ip(&headers(&["198.51.100.7"]), None, &proxies), None);
    }
}
