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

/// Most `X-Forwarded-For` entries read (the right-most ones count; a longer header is cut).
pub const MAX_FORWARDED_HOPS: usize = 32;

/// A client network: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `a.b.c.d/n`, `x::y/n` or a single address.
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = s.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Self { addr, prefix })
    }

    /// Whether `ip` lies in the network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

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
