//! Networks: a bridge, its gateway addresses, its nft table, and its record on disk
//! (subnets, address allocations and members, which the DNS responder also reads).

use std::collections::BTreeMap;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorList, IoContext, Result};
use crate::ipam::{self, Allocations, Pool, Subnet};
use crate::netlink::Netlink;
use crate::{fault, naming, nft, store, sysctl};

/// Host-wide lock taken while choosing a subnet and creating its bridge, so two
/// berth state roots choosing at once cannot both take the same free subnet.
const HOST_LOCK: &str = "/run/lock/berth-netns-subnets.lock";

/// The subnet lock for `state`: the host-wide one, except inside a user
/// namespace (rootless berth), whose network namespace is the user's own: no
/// other berth chooses subnets there, and /run/lock is not the user's to write.
fn host_lock(state: &StateDir) -> PathBuf {
    let in_userns = std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
        .unwrap_or(false);
    if in_userns {
        state.dir.join("subnets.lock")
    } else {
        PathBuf::from(HOST_LOCK)
    }
}

/// The state dir the caller gives: network records, allocations, lock.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
    id: String,
}

impl StateDir {
    /// Use (and create) `dir`; its canonical path makes the names of kernel objects
    /// unique per state root.
    pub fn new(dir: &Path) -> Result<StateDir> {
        fs::create_dir_all(dir.join("networks")).at("create dir", dir)?;
        let canon = fs::canonicalize(dir).at("canonicalize", dir)?;
        Ok(StateDir {
            id: canon.to_string_lossy().into_owned(),
            dir: canon,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Directory of the network records (the DNS responder's records dir).
    pub fn records_dir(&self) -> PathBuf {
        self.dir.join("networks")
    }

    pub(crate) fn record_path(&self, network: &str) -> PathBuf {
        self.records_dir().join(format!("{network}.json"))
    }

    pub(crate) fn lock(&self) -> Result<store::Lock> {
        store::Lock::acquire(&self.dir.join("netns.lock"))
    }

    pub(crate) fn read(&self, network: &str) -> Result<NetworkRecord> {
        self.read_as(network)
    }

    /// [`StateDir::read`] for the network's info alone (see [`InfoOnly`]).
    fn read_info(&self, network: &str) -> Result<NetworkInfo> {
        Ok(self.read_as::<InfoOnly>(network)?.info)
    }

    fn read_as<T: serde::de::DeserializeOwned>(&self, network: &str) -> Result<T> {
        store::read_json(&self.record_path(network))?
            .ok_or_else(|| Error::Invalid(format!("network {network} does not exist")))
    }

    pub(crate) fn write(&self, rec: &NetworkRecord) -> Result<()> {
        store::write_json(&self.record_path(&rec.info.name), rec)
    }

    /// Every network record in this state dir.
    pub fn networks(&self) -> Result<Vec<NetworkRecord>> {
        read_records(&self.records_dir())
    }
}

/// Read every `*.json` record of `dir` (unreadable files are skipped: a record being
/// replaced is renamed atomically, so this only skips foreign files).
pub(crate) fn read_records(dir: &Path) -> Result<Vec<NetworkRecord>> {
    read_all(dir, |r: &NetworkRecord| &r.info)
}

/// [`read_records`] for the networks' infos alone (see [`InfoOnly`]).
pub(crate) fn read_infos(dir: &Path) -> Result<Vec<NetworkInfo>> {
    Ok(read_all(dir, |r: &InfoOnly| &r.info)?
        .into_iter()
        .map(|r| r.info)
        .collect())
}

/// Every `*.json` record of `dir` read as a `T`, ordered by network name.
fn read_all<T: serde::de::DeserializeOwned>(
    dir: &Path,
    info: impl Fn(&T) -> &NetworkInfo,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    store::remove_stale_temps(dir);
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).at("read dir", dir),
    };
    for ent in rd.flatten() {
        let p = ent.path();
        if p.extension().and_then(|e| e.to_str()) == Some("json") {
            if let Ok(Some(r)) = store::read_json::<T>(&p) {
                out.push(r);
            }
        }
    }
    out.sort_by(|a, b| info(a).name.cmp(&info(b).name));
    Ok(out)
}

/// One `ipam.config` entry of a compose network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamConfig {
    /// Fixed subnet.
    pub subnet: Option<Subnet>,
    /// Fixed gateway (default: first host address).
    pub gateway: Option<IpAddr>,
    /// Allocate container addresses only from this range.
    pub ip_range: Option<Subnet>,
}

/// What the caller wants a network to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    /// Network name (e.g. `project_default`); unique within the state dir.
    pub name: String,
    /// No way out of the bridge.
    pub internal: bool,
    /// Give the network an IPv6 subnet too.
    pub enable_ipv6: bool,
    /// Explicit subnets (IPv4 and/or IPv6), as in compose `ipam.config`.
    pub ipam: Vec<IpamConfig>,
    /// Pools to carve IPv4 subnets from.
    pub pools_v4: Vec<Pool>,
    /// Pools to carve IPv6 subnets from.
    pub pools_v6: Vec<Pool>,
    /// MTU (default: the MTU of the host's default-route interface).
    pub mtu: Option<u32>,
    /// Port the DNS responder listens on at the gateway (`DnsConfig::port`); when
    /// not 53, the network's table redirects the gateway's port 53 to it.
    pub dns_port: u16,
}

impl NetworkSpec {
    /// A network with default pools and nothing explicit.
    pub fn new(name: &str) -> NetworkSpec {
        NetworkSpec {
            name: name.to_string(),
            internal: false,
            enable_ipv6: false,
            ipam: Vec::new(),
            pools_v4: Pool::defaults_v4(),
            pools_v6: Pool::defaults_v6(),
            mtu: None,
            dns_port: 53,
        }
    }
}

/// One family's addressing of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetInfo {
    /// The subnet.
    pub subnet: Subnet,
    /// The bridge's address in it.
    pub gateway: IpAddr,
    /// Where container addresses come from (the whole subnet by default).
    pub ip_range: Subnet,
}

/// A network as it was set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    /// Network name.
    pub name: String,
    /// Bridge interface name (`bth…`).
    pub bridge: String,
    /// The bridge's pinned MAC.
    pub mac: String,
    /// MTU of the bridge and every veth on it.
    pub mtu: u32,
    /// No way out.
    pub internal: bool,
    /// IPv4 addressing.
    pub v4: SubnetInfo,
    /// IPv6 addressing, when enabled.
    pub v6: Option<SubnetInfo>,
    /// Port the DNS responder listens on at the gateway.
    #[serde(default = "default_dns_port")]
    pub dns_port: u16,
}

fn default_dns_port() -> u16 {
    53
}

/// A container on a network, as recorded for IPAM, DNS and cleanup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// DNS names (service, container name, hostname, aliases).
    pub names: Vec<String>,
    /// IPv4 address.
    pub ipv4: Option<IpAddr>,
    /// IPv6 address.
    pub ipv6: Option<IpAddr>,
    /// Host end of the veth pair.
    pub host_veth: String,
    /// The container's pinned namespace.
    #[serde(default)]
    pub netns: PathBuf,
    /// The container's own upstream DNS servers (compose `dns:`).
    #[serde(default)]
    pub dns: Vec<IpAddr>,
    /// Whether a published-ports table exists for this member.
    #[serde(default)]
    pub has_ports: bool,
}

/// A network's record read for its [`NetworkInfo`] alone: its allocations and
/// members, most of its bytes and growing with every container on it, are
/// skipped rather than built (a no-op `up` reads only what it checks).
#[derive(Deserialize)]
struct InfoOnly {
    info: NetworkInfo,
}

/// The record of a network on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// The network.
    pub info: NetworkInfo,
    /// IPv4 allocations.
    pub alloc4: Allocations,
    /// IPv6 allocations.
    pub alloc6: Allocations,
    /// Members by owner (container) id.
    pub members: BTreeMap<String, Member>,
}

/// A network driver: validate a spec, set it up, tear it down (netavark's shape;
/// the bridge is the only driver today).
pub trait NetworkDriver {
    /// Check a spec without touching the kernel.
    fn validate(&self, spec: &NetworkSpec) -> Result<()>;
    /// Create (or converge) the network.
    fn setup(&self, state: &StateDir, spec: &NetworkSpec) -> Result<NetworkInfo>;
    /// Remove the network, continuing past failures.
    fn teardown(&self, state: &StateDir, name: &str) -> Result<()>;
}

/// Bridge networks, the default driver.
#[derive(Debug, Default, Clone, Copy)]
pub struct Network;

impl Network {
    /// Create the network if needed and make the kernel match its record.
    pub fn ensure(spec: &NetworkSpec, state: &StateDir) -> Result<NetworkInfo> {
        Network.validate(spec)?;
        Network.setup(state, spec)
    }

    /// Remove a network that has no members left.
    pub fn remove(state: &StateDir, name: &str) -> Result<()> {
        Network.teardown(state, name)
    }

    /// Read a network's info from the state dir.
    pub fn get(state: &StateDir, name: &str) -> Result<NetworkInfo> {
        state.read_info(name)
    }

    /// What of a recorded network's kernel objects is not as its record says: the
    /// bridge, its gateway addresses, its nft table (`tables`: the `inet` tables
    /// that exist, from [`nft::tables`]). Empty when all is in place.
    pub fn drift(state: &StateDir, name: &str, tables: &[String]) -> Result<Vec<String>> {
        let info = state.read_info(name)?;
        let mut nl = Netlink::new()?;
        let mut out = vec![];
        if nl.link_index(&info.bridge)?.is_none() {
            out.push(format!("bridge {} is missing", info.bridge));
        } else {
            let have = nl.addresses()?;
            for gw in std::iter::once(info.v4.gateway).chain(info.v6.map(|v| v.gateway)) {
                if !have.iter().any(|(ip, _)| *ip == gw) {
                    out.push(format!("gateway {gw} is missing on {}", info.bridge));
                }
            }
        }
        let table = naming::network_table(&info.bridge);
        if !tables.contains(&table) {
            out.push(format!("nft table {table} is missing"));
        }
        Ok(out)
    }

    /// Whether `owner`'s attachment to network `name` is whole: it is a member
    /// with this host veth, and its published-ports table exists when it has one
    /// (`tables`: from [`nft::tables`]). A `detach` killed half-way leaves it not.
    pub fn member_intact(
        state: &StateDir,
        name: &str,
        owner: &str,
        host_veth: &str,
        tables: &[String],
    ) -> bool {
        let Ok(rec) = state.read(name) else {
            return false;
        };
        match rec.members.get(owner) {
            Some(m) if m.host_veth == host_veth => {
                !m.has_ports || tables.contains(&naming::ports_table(&m.host_veth))
            }
            _ => false,
        }
    }

    /// Make the kernel match an existing record again (after [`Network::drift`]
    /// found a difference: a killed `up` or `down` left it half-made).
    pub fn repair(state: &StateDir, name: &str) -> Result<NetworkInfo> {
        let _lock = state.lock()?;
        let info = state.read_info(name)?;
        converge(&mut Netlink::new()?, &info)?;
        Ok(info)
    }
}

fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\0']) {
        return Err(Error::Invalid(format!("invalid network name {name:?}")));
    }
    Ok(())
}

/// Prefixes in use on the host: every non-default route and every address.
fn host_used(nl: &mut Netlink) -> Result<Vec<Subnet>> {
    let mut used = Vec::new();
    for v6 in [false, true] {
        for r in nl.routes(v6)? {
            if r.prefix > 0 {
                if let Ok(s) = Subnet::new(r.dst, r.prefix) {
                    used.push(s);
                }
            }
        }
    }
    for (ip, p) in nl.addresses()? {
        if let Ok(s) = Subnet::new(ip, p) {
            if s.prefix() > 0 {
                used.push(s);
            }
        }
    }
    Ok(used)
}

/// Choose one family's addressing from the explicit config or the pools.
fn choose(cfg: Option<&IpamConfig>, pools: &[Pool], used: &[Subnet]) -> Result<SubnetInfo> {
    let subnet = match cfg.and_then(|c| c.subnet) {
        Some(s) => {
            if let Some(u) = used.iter().find(|u| u.overlaps(&s)) {
                return Err(Error::Invalid(format!(
                    "subnet {s} overlaps {u}, already in use on this host"
                )));
            }
            s
        }
        None => ipam::pick_subnet(pools, used)?,
    };
    let gateway = match cfg.and_then(|c| c.gateway) {
        Some(g) if subnet.contains(g) => g,
        Some(g) => return Err(Error::Invalid(format!("gateway {g} is outside {subnet}"))),
        None => ipam::default_gateway(&subnet)?,
    };
    let ip_range = match cfg.and_then(|c| c.ip_range) {
        Some(r) if subnet.covers(&r) => r,
        Some(r) => return Err(Error::Invalid(format!("ip_range {r} is outside {subnet}"))),
        None => subnet,
    };
    Ok(SubnetInfo {
        subnet,
        gateway,
        ip_range,
    })
}

fn sysctls(info: &NetworkInfo) -> Result<()> {
    let br = &info.bridge;
    if info.internal {
        sysctl::set(&format!("net.ipv4.conf.{br}.forwarding"), "0")?;
    } else {
        sysctl::set("net.ipv4.ip_forward", "1")?;
    }
    // DNAT of 127.0.0.1 to a container needs loopback-sourced packets to leave here.
    sysctl::set(&format!("net.ipv4.conf.{br}.route_localnet"), "1")?;
    if info.v6.is_some() {
        if !info.internal {
            sysctl::set("net.ipv6.conf.all.forwarding", "1")?;
        }
        sysctl::set(&format!("net.ipv6.conf.{br}.accept_ra"), "0")?;
    }
    Ok(())
}

/// Make the kernel match the record: bridge, addresses, sysctls, nft table.
fn converge(nl: &mut Netlink, info: &NetworkInfo) -> Result<()> {
    let idx = match nl.link_index(&info.bridge)? {
        Some(i) => i,
        None => {
            let mac =
                naming::parse_mac(&info.mac).unwrap_or_else(|| naming::mac_from(&info.bridge));
            match nl.create_bridge(&info.bridge, mac, info.mtu) {
                Ok(i) => i,
                // Another process created it between our lookup and create.
                Err(e) if e.errno() == Some(libc::EEXIST) => nl
                    .link_index(&info.bridge)?
                    .ok_or_else(|| Error::Invalid(format!("bridge {} flapping", info.bridge)))?,
                Err(e) => return Err(e),
            }
        }
    };
    if let Some(v6) = &info.v6 {
        // Before the address: no DAD/RA on the bridge.
        let _ = sysctl::set(&format!("net.ipv6.conf.{}.accept_dad", info.bridge), "0");
        nl.add_addr(idx, v6.gateway, v6.subnet.prefix())?;
    }
    nl.add_addr(idx, info.v4.gateway, info.v4.subnet.prefix())?;
    nl.set_up(idx)?;
    fault::point("net:after-bridge");
    sysctls(info)?;
    let table = naming::network_table(&info.bridge);
    nft::apply(&nft::network_ruleset(&nft::NetworkRules {
        table: &table,
        bridge: &info.bridge,
        subnet4: info.v4.subnet,
        subnet6: info.v6.map(|v| v.subnet),
        internal: info.internal,
        gateways: std::iter::once(info.v4.gateway)
            .chain(info.v6.map(|v| v.gateway))
            .collect(),
        dns_port: info.dns_port,
    }))
}

impl NetworkDriver for Network {
    fn validate(&self, spec: &NetworkSpec) -> Result<()> {
        validate_name(&spec.name)?;
        let v4 = spec
            .ipam
            .iter()
            .filter(|c| c.subnet.is_some_and(|s| !s.is_v6()))
            .count();
        let v6 = spec
            .ipam
            .iter()
            .filter(|c| c.subnet.is_some_and(|s| s.is_v6()))
            .count();
        if v4 > 1 || v6 > 1 {
            return Err(Error::Invalid(
                "at most one IPv4 and one IPv6 subnet per network".into(),
            ));
        }
        if v6 == 1 && !spec.enable_ipv6 {
            return Err(Error::Invalid("an IPv6 subnet needs enable_ipv6".into()));
        }
        Ok(())
    }

    fn setup(&self, state: &StateDir, spec: &NetworkSpec) -> Result<NetworkInfo> {
        let _lock = state.lock()?;
        let mut nl = Netlink::new()?;
        if let Some(rec) = store::read_json::<NetworkRecord>(&state.record_path(&spec.name))? {
            converge(&mut nl, &rec.info)?;
            return Ok(rec.info);
        }
        let _host = store::Lock::acquire(&host_lock(state))?;
        let mut used = host_used(&mut nl)?;
        for r in state.networks()? {
            used.push(r.info.v4.subnet);
            used.extend(r.info.v6.map(|v| v.subnet));
        }
        let cfg4 = spec
            .ipam
            .iter()
            .find(|c| c.subnet.is_some_and(|s| !s.is_v6()));
        let cfg6 = spec
            .ipam
            .iter()
            .find(|c| c.subnet.is_some_and(|s| s.is_v6()));
        let v4 = choose(cfg4, &spec.pools_v4, &used)?;
        let v6 = if spec.enable_ipv6 {
            Some(choose(cfg6, &spec.pools_v6, &used)?)
        } else {
            None
        };
        let bridge = naming::bridge_name(&state.id, &spec.name);
        let mtu = match spec.mtu {
            Some(m) => m,
            None => nl.default_route_mtu()?,
        };
        let info = NetworkInfo {
            name: spec.name.clone(),
            mac: naming::mac_to_string(&naming::mac_from(&bridge)),
            bridge,
            mtu,
            internal: spec.internal,
            v4,
            v6,
            dns_port: spec.dns_port,
        };
        // Record first: a crash after this converges on the next ensure.
        let rec = NetworkRecord {
            info: info.clone(),
            alloc4: Allocations::default(),
            alloc6: Allocations::default(),
            members: BTreeMap::new(),
        };
        state.write(&rec)?;
        if let Err(e) = converge(&mut nl, &info) {
            let mut errs = ErrorList::default();
            errs.0.push(e);
            teardown_kernel(&mut nl, &info, &mut errs);
            errs.push(store::remove(&state.record_path(&info.name)));
            return Err(errs.into_result().expect_err("has an error"));
        }
        Ok(info)
    }

    fn teardown(&self, state: &StateDir, name: &str) -> Result<()> {
        let _lock = state.lock()?;
        let mut rec = state.read(name)?;
        let mut nl = Netlink::new()?;
        let mut errs = ErrorList::default();
        // Members whose namespace and veth are gone were left by a process killed
        // before detach (an attach in flight has its namespace already):
        // forget them (and their ports table) instead of blocking the removal.
        let stale: Vec<String> = rec
            .members
            .iter()
            .filter(|(_, m)| {
                !crate::namespace::is_nsfs(&m.netns)
                    && matches!(nl.link_index(&m.host_veth), Ok(None))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for owner in &stale {
            if let Some(m) = rec.members.remove(owner) {
                if m.has_ports {
                    errs.push(nft::apply(&nft::delete_table_ruleset(
                        &naming::ports_table(&m.host_veth),
                    )));
                }
            }
        }
        if !rec.members.is_empty() {
            let who: Vec<_> = rec.members.keys().cloned().collect();
            return Err(Error::Invalid(format!(
                "network {name} still has members: {}",
                who.join(", ")
            )));
        }
        teardown_kernel(&mut nl, &rec.info, &mut errs);
        errs.push(store::remove(&state.record_path(name)));
        errs.into_result()
    }
}

fn teardown_kernel(nl: &mut Netlink, info: &NetworkInfo, errs: &mut ErrorList) {
    // The table and the bridge are independent kernel objects (the table names
    // the bridge, it does not hold it), so the two deletions overlap: the
    // table's is an `nft` process (~20 ms), the bridge's waits for RTNL, which
    // after a `down` the kernel holds while it reaps the members' veths with
    // their namespaces (tens of ms). Either order is one a killed `down` may
    // leave, and `up` repairs both (`Network::drift`).
    let table = naming::network_table(&info.bridge);
    let nft = std::thread::scope(|s| {
        let nft = s.spawn(|| {
            let r = nft::apply(&nft::delete_table_ruleset(&table));
            fault::point("net:after-nft-delete");
            r
        });
        if let Err(e) = nl.del_link_named(&info.bridge) {
            errs.0.push(e);
        }
        nft.join()
    });
    errs.push(nft.unwrap_or_else(|_| Err(Error::Nft("deleting the table panicked".into()))));
    fault::point("net:after-bridge-delete");
}
