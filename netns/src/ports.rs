//! Published ports: DNAT from the host's addresses (and 127.0.0.1) to a container,
//! in a per-attachment nft table so unpublishing is one atomic `delete table`.

use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};

use crate::attach::Attachment;
use crate::error::{Error, Result};
use crate::naming;
use crate::network::StateDir;
use crate::nft::{self, Dnat};

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One `ports:` entry: `[host_ip:][host_port[-end]:]container_port[-end][/proto]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// Only on this host address (all when `None`).
    pub host_ip: Option<IpAddr>,
    /// Host port range; `None` = a random free port per container port.
    pub host_ports: Option<(u16, u16)>,
    /// Container port range.
    pub container_ports: (u16, u16),
    /// Protocol.
    pub protocol: Protocol,
}

/// A port as published, for `berth port` and `ps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    /// Host address it is bound to (`None` = every address).
    pub host_ip: Option<IpAddr>,
    /// Chosen host port.
    pub host_port: u16,
    /// Container port.
    pub container_port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

/// A port nobody listens on now, chosen by the kernel's ephemeral allocator.
fn free_port(proto: Protocol, host_ip: Option<IpAddr>) -> Result<u16> {
    let ip = host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let port = match proto {
        Protocol::Tcp => TcpListener::bind((ip, 0)).and_then(|l| l.local_addr()),
        Protocol::Udp => UdpSocket::bind((ip, 0)).and_then(|s| s.local_addr()),
    }
    .map_err(|source| Error::Sys {
        op: "choose a free port".into(),
        source,
    })?
    .port();
    Ok(port)
}

fn is_free(proto: Protocol, host_ip: Option<IpAddr>, port: u16) -> bool {
    let ip = host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    match proto {
        Protocol::Tcp => TcpListener::bind((ip, port)).is_ok(),
        Protocol::Udp => UdpSocket::bind((ip, port)).is_ok(),
    }
}

/// Resolve host ports of the specs (pure apart from the free-port probe `pick`).
pub fn resolve(
    specs: &[PortSpec],
    mut pick: impl FnMut(Protocol, Option<IpAddr>, Option<(u16, u16)>) -> Result<u16>,
) -> Result<Vec<PublishedPort>> {
    let mut out = Vec::new();
    for s in specs {
        let (c0, c1) = s.container_ports;
        if c0 == 0 || c1 < c0 {
            return Err(Error::Invalid(format!(
                "bad container port range {c0}-{c1}"
            )));
        }
        let n = c1 - c0 + 1;
        match s.host_ports {
            Some((h0, h1)) if h1 < h0 || h0 == 0 => {
                return Err(Error::Invalid(format!("bad host port range {h0}-{h1}")));
            }
            Some((h0, h1)) if h1 - h0 + 1 == n => {
                for i in 0..n {
                    out.push(PublishedPort {
                        host_ip: s.host_ip,
                        host_port: h0 + i,
                        container_port: c0 + i,
                        protocol: s.protocol,
                    });
                }
            }
            // `8000-8010:80`: one host port out of the range.
            Some((h0, h1)) if n == 1 => {
                let p = pick(s.protocol, s.host_ip, Some((h0, h1)))?;
                out.push(PublishedPort {
                    host_ip: s.host_ip,
                    host_port: p,
                    container_port: c0,
                    protocol: s.protocol,
                });
            }
            Some((h0, h1)) => {
                return Err(Error::Invalid(format!(
                    "host ports {h0}-{h1} do not match container ports {c0}-{c1}"
                )));
            }
            None => {
                for i in 0..n {
                    let p = pick(s.protocol, s.host_ip, None)?;
                    out.push(PublishedPort {
                        host_ip: s.host_ip,
                        host_port: p,
                        container_port: c0 + i,
                        protocol: s.protocol,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Publish `specs` for the container behind `attachment`; returns the chosen host
/// ports. Replaces whatever this attachment published before.
pub fn publish(
    state: &StateDir,
    attachment: &Attachment,
    specs: &[PortSpec],
) -> Result<Vec<PublishedPort>> {
    let mut taken: Vec<(Protocol, u16)> = Vec::new();
    let ports = resolve(specs, |proto, ip, range| {
        let p = match range {
            None => loop {
                let p = free_port(proto, ip)?;
                if !taken.contains(&(proto, p)) {
                    break p;
                }
            },
            Some((a, b)) => (a..=b)
                .find(|p| !taken.contains(&(proto, *p)) && is_free(proto, ip, *p))
                .ok_or_else(|| Error::Exhausted(format!("no free host port in {a}-{b}")))?,
        };
        taken.push((proto, p));
        Ok(p)
    })?;
    // Rootless (a user namespace): the host address is bound by pasta or
    // slirp4netns outside; inside, a port arrives on whichever local address
    // the helper delivers it to (pasta: 127.0.0.1 or the copied host address;
    // slirp4netns: 10.0.2.100), so the rule matches any local address.
    let in_userns = std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
        .unwrap_or(false);
    let mut rules = Vec::new();
    for p in &ports {
        let mut targets = vec![attachment.ipv4];
        targets.extend(attachment.ipv6.map(|v| v.0));
        for ip in targets {
            rules.push(Dnat {
                host_ip: if in_userns { None } else { p.host_ip },
                host_port: p.host_port,
                container_ip: ip,
                container_port: p.container_port,
                proto: p.protocol.as_str(),
            });
        }
    }
    let table = naming::ports_table(&attachment.host_veth);
    let _lock = state.lock()?;
    let mut rec = state.read(&attachment.network)?;
    let m = rec.members.get_mut(&attachment.owner).ok_or_else(|| {
        Error::Invalid(format!(
            "{} is not on network {}",
            attachment.owner, attachment.network
        ))
    })?;
    // Record first so a crash between the two still gets the table cleaned.
    if !m.has_ports {
        m.has_ports = true;
        state.write(&rec)?;
    }
    nft::apply(&nft::ports_ruleset(&table, &rules))?;
    Ok(ports)
}

/// Remove every port published for `attachment`.
pub fn unpublish(state: &StateDir, attachment: &Attachment) -> Result<()> {
    let _lock = state.lock()?;
    let mut rec = state.read(&attachment.network)?;
    // Only a member with ports has a table: `nft` is a process start (~10 ms)
    // under the lock every container of the host waits on.
    let has = rec
        .members
        .get(&attachment.owner)
        .is_none_or(|m| m.has_ports);
    if !has {
        return Ok(());
    }
    nft::apply(&nft::delete_table_ruleset(&naming::ports_table(
        &attachment.host_veth,
    )))?;
    if let Some(m) = rec.members.get_mut(&attachment.owner) {
        m.has_ports = false;
        state.write(&rec)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(h: Option<(u16, u16)>, c: (u16, u16)) -> PortSpec {
        PortSpec {
            host_ip: None,
            host_ports: h,
            container_ports: c,
            protocol: Protocol::Tcp,
        }
    }

    #[test]
    fn resolve_forms() {
        let mut next = 40000;
        let mut pick = |_, _, r: Option<(u16, u16)>| {
            next += 1;
            Ok(r.map(|r| r.0).unwrap_or(next))
        };
        let p = resolve(&[spec(Some((8080, 8080)), (80, 80))], &mut pick).unwrap();
        assert_eq!((p[0].host_port, p[0].container_port), (8080, 80));
        let p = resolve(&[spec(Some((9000, 9002)), (90, 92))], &mut pick).unwrap();
        assert_eq!(
            p.iter()
                .map(|p| (p.host_port, p.container_port))
                .collect::<Vec<_>>(),
            vec![(9000, 90), (9001, 91), (9002, 92)]
        );
        let p = resolve(&[spec(None, (80, 81))], &mut pick).unwrap();
        assert_eq!(p.len(), 2);
        assert_ne!(p[0].host_port, p[1].host_port);
        let p = resolve(&[spec(Some((7000, 7010)), (80, 80))], &mut pick).unwrap();
        assert_eq!(p[0].host_port, 7000);
        assert!(resolve(&[spec(Some((1, 3)), (80, 81))], &mut pick).is_err());
        assert!(resolve(&[spec(None, (0, 0))], &mut pick).is_err());
    }
}
