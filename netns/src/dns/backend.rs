//! The DNS data: built from the network records, answering per asking container.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::network::NetworkRecord;

/// One network's view.
#[derive(Debug, Default, Clone)]
struct Net {
    internal: bool,
    subnets: Vec<crate::ipam::Subnet>,
    /// name → addresses (a scaled service has several).
    names: BTreeMap<String, Vec<IpAddr>>,
    /// address → names (first one is the canonical PTR answer).
    reverse: BTreeMap<IpAddr, Vec<String>>,
}

/// What the backend says about a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The name is ours: these addresses (maybe none of the asked family).
    Found(Vec<IpAddr>),
    /// Not ours; forward unless `internal_only`.
    NotFound {
        /// The client is only on internal networks: answer NXDOMAIN, never leak out.
        internal_only: bool,
        /// The client's own upstream servers (`dns:`), if any.
        upstream: Vec<IpAddr>,
    },
}

/// Immutable snapshot of every berth network's records; swapped whole on reload.
#[derive(Debug, Default, Clone)]
pub struct Backend {
    nets: Vec<Net>,
    /// container address → indexes of its networks.
    by_ip: BTreeMap<IpAddr, BTreeSet<usize>>,
    /// container address → its own upstream servers.
    upstream: BTreeMap<IpAddr, Vec<IpAddr>>,
    /// Gateway addresses to listen on, with the bridge each belongs to.
    gateways: BTreeSet<(IpAddr, String)>,
}

fn norm(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Backend {
    /// Build from network records.
    pub fn new(records: &[NetworkRecord]) -> Backend {
        let mut b = Backend::default();
        for rec in records {
            let i = b.nets.len();
            let mut net = Net {
                internal: rec.info.internal,
                ..Default::default()
            };
            net.subnets.push(rec.info.v4.subnet);
            b.gateways
                .insert((rec.info.v4.gateway, rec.info.bridge.clone()));
            if let Some(v6) = rec.info.v6 {
                net.subnets.push(v6.subnet);
                b.gateways.insert((v6.gateway, rec.info.bridge.clone()));
            }
            for m in rec.members.values() {
                let ips: Vec<IpAddr> = m.ipv4.iter().chain(m.ipv6.iter()).copied().collect();
                for ip in &ips {
                    b.by_ip.entry(*ip).or_default().insert(i);
                    if !m.dns.is_empty() {
                        b.upstream.insert(*ip, m.dns.clone());
                    }
                    let rev = net.reverse.entry(*ip).or_default();
                    for n in &m.names {
                        let n = norm(n);
                        if !n.is_empty() && !rev.contains(&n) {
                            rev.push(n);
                        }
                    }
                }
                for n in &m.names {
                    let n = norm(n);
                    if n.is_empty() {
                        continue;
                    }
                    let e = net.names.entry(n).or_default();
                    for ip in &ips {
                        if !e.contains(ip) {
                            e.push(*ip);
                        }
                    }
                }
            }
            b.nets.push(net);
        }
        b
    }

    /// Addresses the responder should listen on (the gateways), with their bridges.
    pub fn gateways(&self) -> &BTreeSet<(IpAddr, String)> {
        &self.gateways
    }

    /// Networks the client at `src` may see: those it is a member of, else those
    /// whose subnet holds it.
    fn scope(&self, src: IpAddr) -> Vec<usize> {
        if let Some(s) = self.by_ip.get(&src) {
            return s.iter().copied().collect();
        }
        (0..self.nets.len())
            .filter(|i| self.nets[*i].subnets.iter().any(|s| s.contains(src)))
            .collect()
    }

    /// Look `name` up for the client at `src`.
    pub fn lookup(&self, src: IpAddr, name: &str) -> Lookup {
        let name = norm(name);
        let scope = self.scope(src);
        let mut found: Option<Vec<IpAddr>> = None;
        for i in &scope {
            if let Some(ips) = self.nets[*i].names.get(&name) {
                let f = found.get_or_insert_with(Vec::new);
                for ip in ips {
                    if !f.contains(ip) {
                        f.push(*ip);
                    }
                }
            }
        }
        match found {
            Some(ips) => Lookup::Found(ips),
            None => Lookup::NotFound {
                internal_only: !scope.is_empty() && scope.iter().all(|i| self.nets[*i].internal),
                upstream: self.upstream.get(&src).cloned().unwrap_or_default(),
            },
        }
    }

    /// Names of `ip` visible to the client at `src` (PTR).
    pub fn reverse(&self, src: IpAddr, ip: IpAddr) -> Option<Vec<String>> {
        self.scope(src)
            .into_iter()
            .find_map(|i| self.nets[i].reverse.get(&ip).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::Allocations;
    use crate::network::{Member, NetworkInfo, SubnetInfo};

    fn rec(
        name: &str,
        subnet: &str,
        internal: bool,
        members: &[(&str, &str, &[&str])],
    ) -> NetworkRecord {
        let subnet: crate::ipam::Subnet = subnet.parse().unwrap();
        NetworkRecord {
            info: NetworkInfo {
                name: name.into(),
                bridge: format!("bth{name}"),
                mac: "02:00:00:00:00:01".into(),
                mtu: 1500,
                internal,
                v4: SubnetInfo {
                    subnet,
                    gateway: subnet.nth(1).unwrap(),
                    ip_range: subnet,
                },
                v6: None,
                dns_port: 53,
            },
            alloc4: Allocations::default(),
            alloc6: Allocations::default(),
            members: members
                .iter()
                .map(|(id, ip, names)| {
                    (
                        id.to_string(),
                        Member {
                            names: names.iter().map(|s| s.to_string()).collect(),
                            ipv4: Some(ip.parse().unwrap()),
                            ..Default::default()
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn scoped_scaled_and_internal() {
        let b = Backend::new(&[
            rec(
                "a",
                "10.213.1.0/24",
                false,
                &[
                    ("c1", "10.213.1.2", &["web", "p-web-1", "Alias"]),
                    ("c2", "10.213.1.3", &["api", "p-api-1"]),
                    ("c3", "10.213.1.4", &["api", "p-api-2"]),
                ],
            ),
            rec("b", "10.213.2.0/24", true, &[("c4", "10.213.2.2", &["db"])]),
        ]);
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let web = ip("10.213.1.2");
        assert_eq!(b.lookup(web, "alias."), Lookup::Found(vec![web]));
        assert_eq!(
            b.lookup(web, "API"),
            Lookup::Found(vec![ip("10.213.1.3"), ip("10.213.1.4")])
        );
        // db is on another network: not visible, forwarded.
        assert!(matches!(
            b.lookup(web, "db"),
            Lookup::NotFound {
                internal_only: false,
                ..
            }
        ));
        // A client only on an internal network never gets forwarded.
        assert!(matches!(
            b.lookup(ip("10.213.2.2"), "web"),
            Lookup::NotFound {
                internal_only: true,
                ..
            }
        ));
        assert_eq!(
            b.reverse(web, ip("10.213.1.3")),
            Some(vec!["api".to_string(), "p-api-1".to_string()])
        );
        assert_eq!(b.gateways().len(), 2);
    }

    #[test]
    fn per_container_upstreams() {
        let mut r = rec(
            "a",
            "10.213.1.0/24",
            false,
            &[("c1", "10.213.1.2", &["web"])],
        );
        r.members.get_mut("c1").unwrap().dns = vec!["10.213.1.53".parse().unwrap()];
        let b = Backend::new(&[r]);
        let want = vec!["10.213.1.53".parse::<IpAddr>().unwrap()];
        assert_eq!(
            b.lookup("10.213.1.2".parse().unwrap(), "example.org"),
            Lookup::NotFound {
                internal_only: false,
                upstream: want
            }
        );
        // A client we do not know gets the host's upstreams.
        assert!(matches!(
            b.lookup("10.213.1.9".parse().unwrap(), "example.org"),
            Lookup::NotFound { upstream, .. } if upstream.is_empty()
        ));
    }
}
