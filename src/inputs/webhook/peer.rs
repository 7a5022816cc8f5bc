//! The address of the client behind a request, for the webhook's logs.
//!
//! Without trusted proxies it is the TCP peer. When the peer is one of
//! `webhook.trusted_proxies`, the `X-Forwarded-For` hops are read from the
//! right (the hop the trusted proxy added) and the first one that is not a
//! trusted proxy is the client: hops left of it were written by the client
//! itself and prove nothing. The address is used for logging only, never for
//! a decision.

use std::net::IpAddr;

use hyper::header::HeaderMap;
use ipnet::IpNet;

/// The header the proxies append to.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// Reverse proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// The given networks (single addresses are /32 or /128 networks).
    pub fn new(networks: Vec<IpNet>) -> Self {
        TrustedProxies(networks)
    }

    /// Whether `address` is one of the proxies.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|network| network.contains(&address))
    }
}

/// The client's address: the peer, or the right-most untrusted
/// `X-Forwarded-For` hop when the peer is a trusted proxy (the left-most hop
/// when every hop is trusted; the last trusted hop when a hop is not an
/// address).
pub fn address(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let mut client = peer.to_canonical();
    if !trusted.contains(client) {
        return client;
    }
    let values: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    for hop in values.iter().rev().flat_map(|value| value.rsplit(',')) {
        let Some(hop) = parse_hop(hop) else {
            return client;
        };
        client = hop;
        if !trusted.contains(hop) {
            return hop;
        }
    }
    client
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:4711` or `203.0.113.7:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|socket| socket.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|text| text.parse().unwrap()).collect())
    }

    fn client(peer: &str, forwarded: &[&str], proxies: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append(FORWARDED_FOR, value.parse().unwrap());
        }
        address(peer.parse().unwrap(), &headers, &trusted(proxies)).to_string()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies: &[&str] = &["127.0.0.1/32", "10.0.0.0/8"];
        // (peer, X-Forwarded-For headers, trusted proxies, the client named)
        let cases: &[(&str, &[&str], &[&str], &str)] = &[
            // Untrusted peer: its header is ignored.
            ("198.51.100.2", &["203.0.113.9"], proxies, "198.51.100.2"),
            ("127.0.0.1", &["203.0.113.9"], &[], "127.0.0.1"),
            // Trusted peer: the right-most untrusted hop; a spoofed left part is skipped.
            ("127.0.0.1", &["203.0.113.9"], proxies, "203.0.113.9"),
            (
                "127.0.0.1",
                &["1.2.3.4, 203.0.113.9, 10.1.1.1"],
                proxies,
                "203.0.113.9",
            ),
            (
                "127.0.0.1",
                &["1.2.3.4", "203.0.113.9"],
                proxies,
                "203.0.113.9",
            ),
            // Every hop trusted: the left-most; no header: the peer.
            ("127.0.0.1", &["10.0.0.5, 10.0.0.6"], proxies, "10.0.0.5"),
            ("127.0.0.1", &[], proxies, "127.0.0.1"),
            // A garbage hop stops the walk at the last trusted address.
            ("127.0.0.1", &["203.0.113.9, unknown"], proxies, "127.0.0.1"),
            // Ports and IPv6, and IPv4-mapped peers.
            ("127.0.0.1", &["[2001:db8::1]:4711"], proxies, "2001:db8::1"),
            (
                "::ffff:127.0.0.1",
                &["203.0.113.9:80"],
                proxies,
                "203.0.113.9",
            ),
        ];
        for &(peer, forwarded, trusted_by, expected) in cases {
            assert_eq!(
                client(peer, forwarded, trusted_by),
                expected,
                "peer {peer}, X-Forwarded-For {forwarded:?}, trusted {trusted_by:?}"
            );
        }
    }
}
