//! Attaching a container's namespace to networks: one veth pair per network, the
//! peer created directly inside the namespace as `eth<i>`, addresses, default route.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::commit::{self, Records};
use crate::error::{Error, ErrorList, Result};
use crate::namespace::Netns;
use crate::naming;
use crate::netlink::{Netlink, Request};
use crate::network::{Member, NetworkRecord, StateDir};

/// Connect a container to one network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachRequest {
    /// Network name (must exist: see `Network::ensure`).
    pub network: String,
    /// Static IPv4 address (`ipv4_address`), else allocated.
    pub ipv4: Option<Ipv4Addr>,
    /// Static IPv6 address (`ipv6_address`), else allocated when the network has IPv6.
    pub ipv6: Option<Ipv6Addr>,
    /// MAC of the container interface (`mac_address`).
    pub mac: Option<[u8; 6]>,
    /// DNS names on this network: service, container name, hostname, aliases.
    pub names: Vec<String>,
    /// Upstream DNS servers for this container's outside names (compose `dns:`).
    pub dns: Vec<IpAddr>,
    /// Interface name inside the container (compose `interface_name`), else `ethN`.
    pub ifname: Option<String>,
}

/// One network interface of a container, as set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Owner (container) id.
    pub owner: String,
    /// Network name.
    pub network: String,
    /// Bridge the host end is on.
    pub bridge: String,
    /// Host end of the veth pair (`bth…`, unique per container instance).
    pub host_veth: String,
    /// Interface name inside the container (`eth0`, `eth1`, …).
    pub ifname: String,
    /// Pinned namespace path.
    pub netns: PathBuf,
    /// IPv4 address.
    pub ipv4: IpAddr,
    /// IPv4 prefix length.
    pub prefix4: u8,
    /// IPv4 gateway.
    pub gateway4: IpAddr,
    /// IPv6 address and prefix length, if any.
    pub ipv6: Option<(IpAddr, u8)>,
    /// IPv6 gateway.
    pub gateway6: Option<IpAddr>,
    /// Whether the default route points here.
    pub default_route: bool,
}

impl Attachment {
    /// An attachment known only by its owner and network (and the interface
    /// name it had), for an owner whose record of it is lost (a power loss took
    /// the file): all that [`detach`] needs. The kernel side (bridge, veth,
    /// namespace, addresses) is left empty; nothing reads it.
    pub fn for_detach(owner: &str, network: &str, ifname: &str) -> Attachment {
        let none = IpAddr::from([0, 0, 0, 0]);
        Attachment {
            owner: owner.to_string(),
            network: network.to_string(),
            bridge: String::new(),
            host_veth: String::new(),
            ifname: ifname.to_string(),
            netns: PathBuf::new(),
            ipv4: none,
            prefix4: 0,
            gateway4: none,
            ipv6: None,
            gateway6: None,
            default_route: false,
        }
    }
}

/// A name the kernel takes for an interface and that cannot pass for another
/// one: at most 15 bytes (IFNAMSIZ), no `/`, `:` or whitespace, not `.`/`..`,
/// and not `lo`, which every namespace already has.
fn check_ifname(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name == "lo"
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if bad {
        return Err(Error::Invalid(format!(
            "interface name {name:?} is not valid: 1 to 15 characters, no '/', ':' or spaces, not \"lo\""
        )));
    }
    Ok(())
}

fn reserve(rec: &mut NetworkRecord, owner: &str, req: &AttachRequest) -> Result<Member> {
    let info = &rec.info;
    let ipv4 = match req.ipv4 {
        Some(a) => {
            rec.alloc4
                .reserve(&info.v4.subnet, info.v4.gateway, a.into(), owner)?;
            a.into()
        }
        None => rec
            .alloc4
            .allocate(&info.v4.subnet, &info.v4.ip_range, info.v4.gateway, owner)?,
    };
    let ipv6 = match (&info.v6, req.ipv6) {
        (Some(v6), Some(a)) => {
            rec.alloc6
                .reserve(&v6.subnet, v6.gateway, a.into(), owner)?;
            Some(a.into())
        }
        (Some(v6), None) => {
            Some(
                rec.alloc6
                    .allocate(&v6.subnet, &v6.ip_range, v6.gateway, owner)?,
            )
        }
        (None, Some(_)) => {
            return Err(Error::Invalid(format!("network {} has no IPv6", info.name)));
        }
        (None, None) => None,
    };
    Ok(Member {
        names: req.names.clone(),
        ipv4: Some(ipv4),
        ipv6,
        host_veth: String::new(),
        netns: PathBuf::new(),
        dns: req.dns.clone(),
        has_ports: false,
    })
}

/// What step 1 of [`attach`] gives step 2: per network, its info, the member
/// as recorded, the MAC and the interface name asked for.
type Planned = Vec<(
    crate::network::NetworkInfo,
    Member,
    Option<[u8; 6]>,
    Option<String>,
)>;

/// Reserves `owner`'s addresses on each requested network and records it as a
/// member; on failure takes back what it reserved, leaving the records as they were.
fn reserve_all(
    records: &mut Records<'_>,
    owner: &str,
    ns_name: &str,
    ns_path: &std::path::Path,
    reqs: &[AttachRequest],
) -> Result<Planned> {
    let mut planned: Planned = Vec::with_capacity(reqs.len());
    let res = (|| -> Result<()> {
        for req in reqs {
            if let Some(name) = &req.ifname {
                check_ifname(name)?;
            }
            if planned.iter().any(|p| p.0.name == req.network) {
                return Err(Error::Invalid(format!(
                    "network {} requested twice",
                    req.network
                )));
            }
            let rec = records.get_mut(&req.network)?;
            if rec.members.contains_key(owner) {
                return Err(Error::Invalid(format!(
                    "{owner} is already on network {}",
                    req.network
                )));
            }
            let mut m = match reserve(rec, owner, req) {
                Ok(m) => m,
                Err(e) => {
                    // Not a member (checked above): whatever it got here goes back.
                    rec.alloc4.release(owner);
                    rec.alloc6.release(owner);
                    return Err(e);
                }
            };
            m.host_veth = naming::veth_name(ns_name, &req.network);
            m.netns = ns_path.to_path_buf();
            rec.members.insert(owner.to_string(), m.clone());
            planned.push((rec.info.clone(), m, req.mac, req.ifname.clone()));
        }
        Ok(())
    })();
    if let Err(e) = res {
        for (info, _, _, _) in &planned {
            if let Ok(rec) = records.get_mut(&info.name) {
                rec.alloc4.release(owner);
                rec.alloc6.release(owner);
                rec.members.remove(owner);
            }
        }
        return Err(e);
    }
    Ok(planned)
}

/// Connect the namespace `ns` of container `owner` to each requested network, in
/// order (`eth0` for the first unnamed one). On failure nothing stays allocated.
pub fn attach(
    state: &StateDir,
    ns: &Netns,
    owner: &str,
    reqs: &[AttachRequest],
) -> Result<Vec<Attachment>> {
    let ns_name = ns.path().to_string_lossy().into_owned();
    // 1. Addresses, under the state lock, persisted before the kernel sees them
    //    (in one commit with the other threads' attaches: see `commit`).
    let planned = {
        let (owner, ns_path, reqs) = (owner.to_string(), ns.path().to_path_buf(), reqs.to_vec());
        commit::change(state, move |records| {
            reserve_all(records, &owner, &ns_name, &ns_path, &reqs)
        })?
    };
    // 2. Kernel objects.
    let mut out = Vec::with_capacity(planned.len());
    let res = (|| -> Result<()> {
        let mut host = Netlink::new()?;
        let mut inner = Netlink::in_netns(ns.as_fd())?;
        // lo is always ifindex 1 (LOOPBACK_IFINDEX); it goes up with the first
        // interface's settings, in one round trip.
        let mut pending = vec![Request::set_up(1)];
        // A namespace attached before (a later `network connect`) keeps its ethN
        // (continue after the highest one) and its default route. One this
        // command just made has neither: no need to ask.
        let fresh = ns.take_fresh();
        let (first, mut route_done) = if fresh {
            (0, false)
        } else {
            let first = inner
                .link_names()?
                .iter()
                .filter_map(|n| n.strip_prefix("eth")?.parse::<usize>().ok())
                .map(|n| n + 1)
                .max()
                .unwrap_or(0);
            (
                first,
                first > 0 && inner.routes(false)?.iter().any(|r| r.prefix == 0),
            )
        };
        // Named interfaces take no `ethN` number: the others stay contiguous.
        let mut next_eth = first;
        for (info, m, mac, wanted) in planned.iter() {
            let ifname = match wanted {
                Some(name) => {
                    // A fresh namespace has only `lo`, which no name may be.
                    if !fresh && inner.link_index(name)?.is_some() {
                        return Err(Error::Invalid(format!(
                            "interface {name} already exists in the container"
                        )));
                    }
                    name.clone()
                }
                None => {
                    next_eth += 1;
                    format!("eth{}", next_eth - 1)
                }
            };
            let br = host.link_index(&info.bridge)?.ok_or_else(|| {
                Error::Invalid(format!(
                    "bridge {} of network {} is missing",
                    info.bridge, info.name
                ))
            })?;
            let peer = host.create_veth(&m.host_veth, br, info.mtu, &ifname, ns.as_fd(), *mac)?;
            let idx = match peer {
                Some(i) => i,
                None => inner
                    .link_index(&ifname)?
                    .ok_or_else(|| Error::Invalid(format!("{ifname} missing after creation")))?,
            };
            pending.push(Request::set_up(idx));
            let ipv4 = m.ipv4.expect("reserved");
            pending.push(Request::add_addr(idx, ipv4, info.v4.subnet.prefix()));
            if let (Some(a), Some(v6)) = (m.ipv6, &info.v6) {
                pending.push(Request::add_addr(idx, a, v6.subnet.prefix()));
            }
            // Internal networks have no way out, so no default route through them.
            let default_route = !route_done && !info.internal;
            if default_route {
                pending.push(Request::add_default_route(info.v4.gateway, idx));
                if let Some(v6) = &info.v6 {
                    pending.push(Request::add_default_route(v6.gateway, idx));
                }
                route_done = true;
            }
            inner.batch(std::mem::take(&mut pending))?;
            out.push(Attachment {
                owner: owner.to_string(),
                network: info.name.clone(),
                bridge: info.bridge.clone(),
                host_veth: m.host_veth.clone(),
                ifname,
                netns: ns.path().to_path_buf(),
                ipv4,
                prefix4: info.v4.subnet.prefix(),
                gateway4: info.v4.gateway,
                ipv6: m.ipv6.zip(info.v6.map(|v| v.subnet.prefix())),
                gateway6: info.v6.map(|v| v.gateway),
                default_route,
            });
        }
        // No network at all (`network_mode: none`): `lo` still goes up, as
        // docker's does.
        if !pending.is_empty() {
            inner.batch(pending)?;
        }
        Ok(())
    })();
    if let Err(e) = res {
        let nets: Vec<String> = planned.iter().map(|p| p.0.name.clone()).collect();
        let mut errs = ErrorList::default();
        errs.0.push(e);
        // Veths already made die with the namespace; host ends of a surviving
        // namespace are deleted so a retry does not find them.
        if let Ok(mut host) = Netlink::new() {
            for a in &out {
                if let Ok(Some(i)) = host.link_index(&a.host_veth) {
                    errs.push(host.del_link(i));
                }
            }
        }
        errs.push(release(state, owner, &nets));
        return Err(errs.into_result().expect_err("has an error"));
    }
    Ok(out)
}

/// Forget `owner` on `networks`: free its addresses and drop its DNS records and
/// published-ports tables.
fn release(state: &StateDir, owner: &str, networks: &[String]) -> Result<()> {
    let pairs = networks
        .iter()
        .map(|n| (owner.to_string(), n.clone()))
        .collect();
    release_all(state, pairs)
}

/// Forget each (owner, network) pair, in one commit.
fn release_all(state: &StateDir, pairs: Vec<(String, String)>) -> Result<()> {
    commit::change(state, move |records| {
        let mut errs = ErrorList::default();
        for (owner, net) in &pairs {
            let Some(rec) = errs.push(records.get_mut(net)) else {
                continue;
            };
            let dropped = rec.members.remove(owner);
            rec.alloc4.release(owner);
            rec.alloc6.release(owner);
            if let Some(m) = dropped.filter(|m| m.has_ports) {
                records.drop_table(naming::ports_table(&m.host_veth));
            }
        }
        errs.into_result()
    })
}

/// Undo `attach` for these attachments: unpublish ports, free addresses, drop DNS
/// records. The veths go away with the namespace (`Netns::remove`); deleting them
/// one by one would cost ~20 ms each. Keeps going on error and reports every failure.
pub fn detach(state: &StateDir, attachments: &[Attachment]) -> Result<()> {
    if attachments.is_empty() {
        return Ok(());
    }
    let pairs = attachments
        .iter()
        .map(|a| (a.owner.clone(), a.network.clone()))
        .collect();
    release_all(state, pairs)
}

/// Disconnect one attachment from a namespace that lives on (`docker network
/// disconnect`): `detach` plus an explicit delete of the veth.
pub fn disconnect(state: &StateDir, attachment: &Attachment) -> Result<()> {
    let mut errs = ErrorList::default();
    errs.push(detach(state, std::slice::from_ref(attachment)));
    match Netlink::new().and_then(|mut nl| Ok((nl.link_index(&attachment.host_veth)?, nl))) {
        Ok((Some(i), mut nl)) => {
            errs.push(nl.del_link(i));
        }
        Ok((None, _)) => {}
        Err(e) => errs.0.push(e),
    }
    errs.into_result()
}
