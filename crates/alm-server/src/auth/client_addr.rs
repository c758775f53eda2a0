//! The client's address, for the login throttle and the audit log: the TCP peer, unless the
//! peer is one of `auth.trusted_proxies`; then `X-Forwarded-For` is read from the right (each
//! proxy appends the address it saw) and the first address that is not a trusted proxy is the
//! client. Entries to its left were written by the client itself and prove nothing. From any
//! other peer the header is ignored, so nobody can choose the address they are counted under.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

/// One entry of `auth.trusted_proxies`: an address (`10.0.0.5`) or a network (`10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ProxyNet(IpNet);

impl TryFrom<String> for ProxyNet {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let t = text.trim();
        t.parse::<IpNet>()
            .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
            .map(|n| ProxyNet(n.trunc()))
            .map_err(|_| {
                format!("expected an IP address or a network such as 10.0.0.0/8, found {text:?}")
            })
    }
}

impl ProxyNet {
    fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip)
    }
}

/// The client address of a request, set by the `resolve_client` middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// An entry of `X-Forwarded-For`: an address, maybe with a port (`[::1]:443`, `1.2.3.4:80`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    e.parse::<IpAddr>()
        .ok()
        .or_else(|| e.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// The client's address for a request from `peer` carrying `headers`.
pub fn client_ip(trusted: &[ProxyNet], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut client = peer.to_canonical();
    if !is_trusted(client) {
        return client;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for entry in entries.iter().rev() {
        // Garbage where an address should be: the proxy that wrote it is the last one known.
        let Some(ip) = parse_entry(entry) else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = crate::api::error::ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        client_of(parts).ok_or_else(|| {
            crate::api::error::ApiError::Internal(anyhow::anyhow!(
                "the request carries no client address"
            ))
        })
    }
}

/// The client address the middleware resolved (the peer when it did not run, as in unit tests
/// of single handlers).
pub fn client_of(parts: &Parts) -> Option<ClientIp> {
    parts.extensions.get::<ClientIp>().copied().or_else(|| {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| ClientIp(c.0.ip().to_canonical()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn nets(list: &[&str]) -> Vec<ProxyNet> {
        list.iter()
            .map(|s| ProxyNet::try_from(s.to_string()).unwrap())
            .collect()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let trusted = nets(&["10.0.0.0/8", "192.0.2.1"]);
        let h = xff(&["198.51.100.9"]);
        assert_eq!(
            client_ip(&trusted, ip("203.0.113.7"), &h),
            ip("203.0.113.7")
        );
        assert_eq!(client_ip(&[], ip("10.1.1.1"), &h), ip("10.1.1.1"));
        assert_eq!(client_ip(&trusted, ip("10.1.1.1"), &h), ip("198.51.100.9"));
        assert_eq!(
            client_ip(&trusted, ip("192.0.2.1"), &HeaderMap::new()),
            ip("192.0.2.1"),
            "a trusted peer without the header is the client"
        );
    }

    #[test]
    fn the_right_most_untrusted_entry_wins_over_what_the_client_wrote() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client forged 1.2.3.4; the outer proxy 10.9.9.9 saw 203.0.113.7.
        let h = xff(&["1.2.3.4, 203.0.113.7", "10.9.9.9"]);
        assert_eq!(client_ip(&trusted, ip("10.0.0.2"), &h), ip("203.0.113.7"));
        // Only trusted hops: the left-most is as far as anyone knows.
        let h = xff(&["10.3.3.3, 10.2.2.2"]);
        assert_eq!(client_ip(&trusted, ip("10.0.0.2"), &h), ip("10.3.3.3"));
        // Ports, IPv6 and IPv4-mapped peers.
        let h = xff(&["[2001:db8::7]:4711"]);
        assert_eq!(
            client_ip(&trusted, ip("::ffff:10.0.0.2"), &h),
            ip("2001:db8::7")
        );
        let h = xff(&["203.0.113.7:80"]);
        assert_eq!(client_ip(&trusted, ip("10.0.0.2"), &h), ip("203.0.113.7"));
        // Garbage stops the walk at the proxy that wrote it.
        let h = xff(&["203.0.113.7, unknown, 10.4.4.4"]);
        assert_eq!(client_ip(&trusted, ip("10.0.0.2"), &h), ip("10.4.4.4"));
    }

    #[test]
    fn entries_are_addresses_or_networks() {
        assert!(ProxyNet::try_from("10.0.0.0/8".to_string()).is_ok());
        assert!(ProxyNet::try_from("::1".to_string()).is_ok());
        assert!(ProxyNet::try_from("fd00::/8".to_string()).is_ok());
        let e = ProxyNet::try_from("proxy.example".to_string()).unwrap_err();
        assert!(e.contains("proxy.example"), "{e}");
        assert!(ProxyNet::try_from("10.0.0.0/33".to_string()).is_err());
    }
}
