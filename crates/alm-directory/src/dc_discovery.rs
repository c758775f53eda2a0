//! Finding a domain's controllers in DNS, the way Windows clients do: the SRV records of
//! `_ldap._tcp.dc._msdcs.<domain's DNS name>` that every Active Directory DC registers, put in
//! RFC 2782 order (lower priority first; within one priority a random order weighted by the
//! records' weights, so engines spread over the DCs the way the directory's owner asked), each
//! target's addresses looked up in the same DNS.
//!
//! The records name LDAP's port (389); alm speaks LDAPS only, so a found DC is reached on the
//! LDAPS port of the domain's configured URL (636 unless the domain says otherwise) under its
//! DNS name, and its certificate is verified for that name as for any configured DC.

use crate::error::DirectoryError;
use alm_core::dn::Dn;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::Resolver;
use rand::Rng;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Where to look for a domain's controllers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcDiscovery {
    /// The domain's DNS name (`corp.example.com`), from its naming context.
    pub dns_name: String,
    /// The DNS servers to ask, in order; empty: the machine's own (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
}

/// One controller found in DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundDc {
    /// Its DNS name, without the final dot: what its certificate must name.
    pub host: String,
    /// Its addresses, as the same DNS gave them.
    pub addrs: Vec<IpAddr>,
}

/// One SRV record, as far as ordering goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub target: String,
}

/// The DNS name of the domain `base_dn` lies in: the `DC=` components it ends with, joined
/// (`OU=Service,DC=corp,DC=example,DC=com` → `corp.example.com`; in Active Directory they are
/// the domain's naming context). A base DN that does not end in `DC=` components names no
/// domain, and is refused rather than guessed at.
pub fn dns_name_of(base_dn: &str) -> Result<String, DirectoryError> {
    let refused = |why: &str| {
        DirectoryError::Config(format!(
            "base_dn: {base_dn:?} {why}; finding domain controllers in DNS takes the domain's DNS name from the DC= components the base DN ends with (DC=corp,DC=example,DC=com)"
        ))
    };
    let dn = Dn::parse(base_dn).map_err(|e| refused(&e.to_string()))?;
    let mut labels: Vec<String> = dn
        .rdns()
        .iter()
        .rev()
        .map_while(|rdn| match rdn.avas() {
            [ava] if ava.attr().eq_ignore_ascii_case("dc") && !ava.value().is_empty() => {
                Some(ava.value().to_ascii_lowercase())
            }
            _ => None,
        })
        .collect();
    if labels.is_empty() {
        return Err(refused("does not end with DC= components"));
    }
    labels.reverse();
    Ok(labels.join("."))
}

/// A DNS server as an administrator writes it: an address (`10.0.0.53`, `fd00::53`), with a
/// port when it is not 53 (`10.0.0.53:5353`, `[fd00::53]:5353`).
pub fn parse_nameserver(text: &str) -> Result<SocketAddr, String> {
    let t = text.trim();
    t.parse::<SocketAddr>()
        .or_else(|_| t.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| {
            format!("expected a DNS server's IP address, with :port when not 53 (10.0.0.53 or 10.0.0.53:5353), found {text:?}")
        })
}

/// The SRV name Active Directory registers for its domain controllers.
pub fn srv_name(dns_name: &str) -> String {
    format!("_ldap._tcp.dc._msdcs.{dns_name}.")
}

/// RFC 2782's order: by priority; within a priority, repeatedly pick a record at random with
/// a chance proportional to its weight (records of weight 0 come last in their priority, in
/// random order among themselves). `random(n)` returns a number in `0..n`.
pub fn rfc2782_order(
    mut records: Vec<SrvRecord>,
    mut random: impl FnMut(u32) -> u32,
) -> Vec<SrvRecord> {
    records.sort_by_key(|r| r.priority);
    let mut ordered = Vec::with_capacity(records.len());
    let mut rest = records.as_slice();
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|r| r.priority == first.priority)
            .count();
        let mut group: Vec<SrvRecord> = rest[..same].to_vec();
        rest = &rest[same..];
        while !group.is_empty() {
            let total: u32 = group.iter().map(|r| u32::from(r.weight)).sum();
            let pick = if total == 0 {
                random(group.len() as u32) as usize
            } else {
                let mut point = random(total);
                group
                    .iter()
                    .position(|r| {
                        let w = u32::from(r.weight);
                        if point < w {
                            true
                        } else {
                            point -= w;
                            false
                        }
                    })
                    .expect("a point below the total falls in one record")
            };
            ordered.push(group.remove(pick));
        }
    }
    ordered
}

/// Asks DNS for the domain's controllers, in RFC 2782 order, with their addresses. A target
/// whose addresses cannot be found is left out (and logged); no record at all is an error
/// that names the SRV name and the DNS servers asked.
pub async fn find_dcs(
    discovery: &DcDiscovery,
    timeout: Duration,
) -> Result<Vec<FoundDc>, DirectoryError> {
    let resolver = resolver(&discovery.nameservers, timeout)?;
    let name = srv_name(&discovery.dns_name);
    let asked = if discovery.nameservers.is_empty() {
        "the machine's DNS servers".to_owned()
    } else {
        discovery
            .nameservers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let answer =
        resolver
            .srv_lookup(name.as_str())
            .await
            .map_err(|e| DirectoryError::Unreachable {
                url: format!("DNS SRV {name}"),
                detail: format!("asked {asked}: {e}"),
            })?;
    let records: Vec<SrvRecord> = answer
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            hickory_resolver::proto::rr::RData::SRV(srv) => Some(SrvRecord {
                priority: srv.priority,
                weight: srv.weight,
                target: srv.target.to_utf8().trim_end_matches('.').to_owned(),
            }),
            _ => None,
        })
        // "." as the target: the service is decidedly not available (RFC 2782).
        .filter(|r| !r.target.is_empty())
        .collect();
    let ordered = {
        let mut rng = rand::thread_rng();
        rfc2782_order(records, |n| rng.gen_range(0..n))
    };
    let mut found = Vec::new();
    for record in ordered {
        match resolver.lookup_ip(format!("{}.", record.target)).await {
            Ok(ips) => {
                let addrs: Vec<IpAddr> = ips.iter().collect();
                if !addrs.is_empty() {
                    found.push(FoundDc {
                        host: record.target,
                        addrs,
                    });
                }
            }
            Err(e) => {
                tracing::warn!(dc = %record.target, error = %e, "a domain controller found in DNS has no address");
            }
        }
    }
    if found.is_empty() {
        return Err(DirectoryError::Unreachable {
            url: format!("DNS SRV {name}"),
            detail: format!("asked {asked}: no domain controller with an address"),
        });
    }
    Ok(found)
}

/// A resolver of the given servers (UDP, then TCP for long answers), or of the machine's.
fn resolver(
    nameservers: &[SocketAddr],
    timeout: Duration,
) -> Result<Resolver<TokioRuntimeProvider>, DirectoryError> {
    let mut builder = if nameservers.is_empty() {
        Resolver::builder_tokio().map_err(|e| {
            DirectoryError::Config(format!(
                "cannot read the machine's DNS configuration (/etc/resolv.conf): {e}"
            ))
        })?
    } else {
        let servers = nameservers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        Resolver::builder_with_config(
            ResolverConfig::from_name_servers(servers),
            TokioRuntimeProvider::default(),
        )
    };
    builder.options_mut().timeout = timeout;
    builder
        .build()
        .map_err(|e| DirectoryError::Config(format!("cannot set up DNS lookups: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            target: target.into(),
        }
    }

    #[test]
    fn the_dns_name_is_the_dc_components_the_base_dn_ends_with() {
        assert_eq!(
            dns_name_of("DC=Corp,dc=example,DC=com").unwrap(),
            "corp.example.com"
        );
        assert_eq!(
            dns_name_of("OU=Service,OU=IT,DC=corp,DC=example,DC=com").unwrap(),
            "corp.example.com"
        );
        assert_eq!(dns_name_of("DC=x,OU=y,DC=corp").unwrap(), "corp");
        for bad in ["OU=x,O=corp", "CN=a", "", "DC=a,DC=b+CN=c"] {
            let e = dns_name_of(bad).unwrap_err().to_string();
            assert!(e.contains("base_dn"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_nameserver_is_an_address_with_port_53_unless_given() {
        assert_eq!(
            parse_nameserver(" 10.0.0.53 ").unwrap(),
            "10.0.0.53:53".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("[fd00::53]:5353").unwrap(),
            "[fd00::53]:5353".parse().unwrap()
        );
        for bad in ["dns.corp.example.com", "", "10.0.0.53:99999", "10.0.0.0/8"] {
            let e = parse_nameserver(bad).unwrap_err();
            assert!(
                e.contains("DNS server") && e.contains(&format!("{bad:?}")),
                "{e}"
            );
        }
    }

    #[test]
    fn lower_priority_comes_first_whatever_the_weights() {
        let ordered = rfc2782_order(
            vec![
                record(10, 100, "b"),
                record(0, 0, "a"),
                record(20, 65535, "c"),
            ],
            |n| n - 1,
        );
        let targets: Vec<&str> = ordered.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["a", "b", "c"]);
    }

    #[test]
    fn within_a_priority_the_random_point_picks_by_weight() {
        let records = vec![record(0, 10, "a"), record(0, 30, "b"), record(0, 60, "c")];
        // A point of 0 falls in the first record's share, 10 in the second's (10..40), 40 in
        // the third's (40..100); then the same over what is left.
        let mut points = vec![40, 10, 0].into_iter();
        let ordered = rfc2782_order(records.clone(), |_| points.next().unwrap());
        let targets: Vec<&str> = ordered.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["c", "b", "a"]);
        let mut points = vec![9, 0, 0].into_iter();
        let ordered = rfc2782_order(records, |_| points.next().unwrap());
        let targets: Vec<&str> = ordered.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["a", "b", "c"]);
    }

    #[test]
    fn records_of_weight_zero_are_still_tried() {
        let ordered = rfc2782_order(vec![record(0, 0, "a"), record(0, 0, "b")], |n| n - 1);
        let targets: Vec<&str> = ordered.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["b", "a"]);
    }
}
