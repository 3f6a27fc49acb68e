//! A project's networks on berth-netns: made on `up`, attached per container,
//! removed on `down`; and the DNS responder that serves them.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use berth_netns::{
    AttachRequest, Attachment, IpamConfig, Netns, Network, NetworkSpec, PortSpec, Protocol,
    StateDir,
};
use serde::{Deserialize, Serialize};

use crate::compose::model::{NetworkConfig, ServiceConfig, ServicePortConfig};
use crate::progress::Progress;
use crate::state::atomic::remove_stale_temps;
use crate::state::perms::write_shared;
use crate::state::write_json_atomic;
use crate::state::Layout;

/// Which project made a network (`<root>/networks/<name>.json`), for `down`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkOwner {
    /// The network's full name.
    pub name: String,
    /// The project that made it.
    pub project: String,
    /// Its key in the compose file.
    pub key: String,
    /// docker compose's labels.
    pub labels: BTreeMap<String, String>,
}

/// Opens berth-netns's state for this root.
pub fn net_state(layout: &Layout) -> Result<StateDir> {
    let dir = layout.net_state_dir();
    StateDir::new(&dir).with_context(|| format!("network state in {}", dir.display()))
}

fn ipam(cfg: &NetworkConfig) -> Result<Vec<IpamConfig>> {
    cfg.ipam
        .config
        .iter()
        .map(|p| {
            Ok(IpamConfig {
                subnet: (!p.subnet.is_empty())
                    .then(|| p.subnet.parse())
                    .transpose()
                    .map_err(|e| anyhow!("networks.{}.ipam.config.subnet: {e}", cfg.name))?,
                gateway: (!p.gateway.is_empty())
                    .then(|| p.gateway.parse())
                    .transpose()
                    .map_err(|e| anyhow!("networks.{}.ipam.config.gateway: {e}", cfg.name))?,
                ip_range: (!p.ip_range.is_empty())
                    .then(|| p.ip_range.parse())
                    .transpose()
                    .map_err(|e| anyhow!("networks.{}.ipam.config.ip_range: {e}", cfg.name))?,
            })
        })
        .collect()
}

/// Makes (or finds) the network `key` of `project`; returns whether it was made now.
pub fn ensure_network(
    layout: &Layout,
    project: &str,
    key: &str,
    cfg: &NetworkConfig,
) -> Result<bool> {
    let state = net_state(layout)?;
    let name = if cfg.name.is_empty() {
        format!("{project}_{key}")
    } else {
        cfg.name.clone()
    };
    if cfg.external {
        Network::get(&state, &name)
            .map_err(|_| anyhow!("network {name} declared as external, but could not be found"))?;
        return Ok(false);
    }
    if Network::get(&state, &name).is_ok() {
        return Ok(false);
    }
    if !cfg.driver.is_empty() && cfg.driver != "bridge" {
        bail!(
            "networks.{key}.driver: {:?} is not supported; berth makes bridge networks",
            cfg.driver
        );
    }
    let mut spec = NetworkSpec::new(&name);
    spec.internal = cfg.internal;
    spec.enable_ipv6 = cfg.enable_ipv6.unwrap_or(false);
    spec.ipam = ipam(cfg)?;
    let mut labels = cfg.labels.clone();
    labels.insert("com.docker.compose.project".into(), project.into());
    labels.insert("com.docker.compose.network".into(), key.into());
    // What `up` compares to tell a changed definition (engine/network_change.rs).
    labels.insert(
        super::network_change::CONFIG_HASH.into(),
        crate::compose::hash::network_hash(cfg),
    );
    // Claimed before it is made: a berth killed in between leaves a claim that
    // `down` follows, never a network nobody knows about.
    write_json_atomic(
        &layout.networks().join(format!("{name}.json")),
        &NetworkOwner {
            name: name.clone(),
            project: project.into(),
            key: key.into(),
            labels,
        },
    )?;
    Network::ensure(&spec, &state).with_context(|| format!("creating network {name}"))?;
    Ok(true)
}

/// Compares an existing network's kernel objects with its record and rebuilds
/// what differs (a killed `up` or `down` left it half-made or half-removed);
/// returns what was found missing. `tables` is filled on first use: one look at
/// the nft tables serves every network of a command.
pub fn repair_network(
    layout: &Layout,
    name: &str,
    tables: &mut Option<Vec<String>>,
) -> Result<Vec<String>> {
    let state = net_state(layout)?;
    if tables.is_none() {
        *tables = Some(berth_netns::nft::tables().context("listing nft tables")?);
    }
    let known = tables.as_deref().unwrap_or_default();
    let drift =
        Network::drift(&state, name, known).with_context(|| format!("checking network {name}"))?;
    if !drift.is_empty() {
        Network::repair(&state, name).with_context(|| format!("repairing network {name}"))?;
    }
    Ok(drift)
}

/// The networks `project` made, by full name.
pub fn project_networks(layout: &Layout, project: &str) -> Vec<NetworkOwner> {
    let dir = layout.networks();
    remove_stale_temps(&dir);
    let Ok(entries) = fs::read_dir(&dir) else {
        return vec![];
    };
    let mut out: Vec<NetworkOwner> = entries
        .flatten()
        // Only `<name>.json` is a claim: a temp file of a write in progress (or
        // of a killed one) holds a claim that was never made.
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && name.ends_with(".json")
        })
        .filter_map(|e| serde_json::from_slice::<NetworkOwner>(&fs::read(e.path()).ok()?).ok())
        .filter(|o| o.project == project)
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Removes a network unless containers still use it; returns false when in use.
pub fn remove_network(layout: &Layout, name: &str) -> Result<bool> {
    let state = net_state(layout)?;
    // Unverified before anything is taken away: a `down` killed from here on
    // leaves a network the next `up` checks (and repairs).
    forget_verified(layout, name);
    let started = std::time::Instant::now();
    loop {
        let rec = state.networks()?.into_iter().find(|r| r.info.name == name);
        let Some(rec) = rec else {
            // Never made (a claim left by a killed `up`), or already gone.
            let _ = fs::remove_file(layout.networks().join(format!("{name}.json")));
            return Ok(true);
        };
        match Network::remove(&state, name) {
            Ok(()) => {
                let _ = fs::remove_file(layout.networks().join(format!("{name}.json")));
                remove_record_temps(&state.records_dir(), name);
                return Ok(true);
            }
            Err(e) => {
                // Members whose namespaces are gone are only waiting for the kernel
                // to reap their veths; members with a namespace are real users.
                let live = rec.members.values().any(|m| m.netns.exists());
                if live {
                    return Ok(false);
                }
                if started.elapsed() > std::time::Duration::from_secs(5) {
                    return Err(e).with_context(|| format!("removing network {name}"));
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }
}

/// Temp files of a network's record that a killed berth left mid-write
/// (`.<name>.json.<pid>.tmp`).
fn remove_record_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}.json.");
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// The DNS names a container answers to on a network: the service, the container
/// name, its hostname, the network's aliases, and its short id.
pub fn dns_names(
    svc: &ServiceConfig,
    container_name: &str,
    hostname: &str,
    id: &str,
    aliases: &[String],
    service_aliases: bool,
) -> Vec<String> {
    let mut names = vec![];
    if service_aliases {
        names.push(svc.name.clone());
    }
    names.push(container_name.to_string());
    for n in [hostname, &id[..12.min(id.len())]] {
        names.push(n.to_string());
    }
    if service_aliases {
        names.extend(aliases.iter().cloned());
    }
    names.dedup();
    names
}

/// docker's default bridge network (`network_mode: bridge`): one per state
/// root, owned by no project (no claim: `down` never takes it), with no DNS
/// by name (`links:` resolve through /etc/hosts, as on docker's). Like
/// netavark's bridges, its kernel objects go with its last container
/// ([`unwire`]) and come back with the next one.
pub const DEFAULT_BRIDGE: &str = "bridge";

/// Makes the default bridge network if it does not exist.
pub fn ensure_default_bridge(layout: &Layout) -> Result<()> {
    let state = net_state(layout)?;
    if Network::get(&state, DEFAULT_BRIDGE).is_ok() {
        return Ok(());
    }
    Network::ensure(&NetworkSpec::new(DEFAULT_BRIDGE), &state)
        .with_context(|| format!("creating network {DEFAULT_BRIDGE}"))?;
    Ok(())
}

/// Removes the default bridge network once no container is on it.
fn release_default_bridge(layout: &Layout) {
    let Ok(state) = net_state(layout) else {
        return;
    };
    let unused = state
        .networks()
        .ok()
        .and_then(|n| n.into_iter().find(|r| r.info.name == DEFAULT_BRIDGE))
        .is_some_and(|r| r.members.is_empty());
    if unused {
        // Raced by a container joining it: the removal refuses, which is right.
        let _ = remove_network(layout, DEFAULT_BRIDGE);
    }
}

/// The attach requests for a service's networks, in the order docker compose
/// uses: by priority (highest first), then by name.
pub fn attach_requests(
    project: &crate::compose::Project,
    svc: &ServiceConfig,
    container_name: &str,
    hostname: &str,
    id: &str,
    service_aliases: bool,
) -> Result<Vec<AttachRequest>> {
    let mut nets: Vec<(
        &String,
        Option<&crate::compose::model::ServiceNetworkConfig>,
    )> = svc
        .networks
        .iter()
        .map(|(k, v)| (k, v.as_deref()))
        .collect();
    nets.sort_by_key(|(k, v)| (-(v.map(|c| c.priority).unwrap_or(0)), (*k).clone()));
    let dns: Vec<IpAddr> = svc.dns.iter().filter_map(|d| d.parse().ok()).collect();
    if svc.network_mode == DEFAULT_BRIDGE {
        return Ok(vec![AttachRequest {
            network: DEFAULT_BRIDGE.into(),
            mac: parse_mac(&svc.mac_address),
            dns,
            ..Default::default()
        }]);
    }
    nets.into_iter()
        .map(|(key, cfg)| {
            let full = project
                .networks
                .get(key)
                .map(|n| {
                    if n.name.is_empty() {
                        format!("{}_{key}", project.name)
                    } else {
                        n.name.clone()
                    }
                })
                .unwrap_or_else(|| format!("{}_{key}", project.name));
            let aliases = cfg.map(|c| c.aliases.clone()).unwrap_or_default();
            let parse_v4 = |s: &str| -> Result<Option<std::net::Ipv4Addr>> {
                if s.is_empty() {
                    return Ok(None);
                }
                s.parse().map(Some).map_err(|_| {
                    anyhow!(
                        "services.{}.networks.{key}.ipv4_address: {s:?} is not an IPv4 address",
                        svc.name
                    )
                })
            };
            let parse_v6 = |s: &str| -> Result<Option<std::net::Ipv6Addr>> {
                if s.is_empty() {
                    return Ok(None);
                }
                s.parse().map(Some).map_err(|_| {
                    anyhow!(
                        "services.{}.networks.{key}.ipv6_address: {s:?} is not an IPv6 address",
                        svc.name
                    )
                })
            };
            let mac_text = cfg
                .map(|c| c.mac_address.clone())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| svc.mac_address.clone());
            Ok(AttachRequest {
                network: full,
                ipv4: parse_v4(cfg.map(|c| c.ipv4_address.as_str()).unwrap_or(""))?,
                ipv6: parse_v6(cfg.map(|c| c.ipv6_address.as_str()).unwrap_or(""))?,
                mac: parse_mac(&mac_text),
                names: dns_names(svc, container_name, hostname, id, &aliases, service_aliases),
                dns: dns.clone(),
                ifname: cfg
                    .map(|c| c.interface_name.clone())
                    .filter(|n| !n.is_empty()),
            })
        })
        .collect()
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    parts.try_into().ok()
}

/// `ports:` entries as berth-netns takes them.
pub fn port_specs(svc: &ServiceConfig) -> Result<Vec<PortSpec>> {
    svc.ports
        .iter()
        .enumerate()
        .map(|(i, p)| port_spec(svc, i, p))
        .collect()
}

fn port_spec(svc: &ServiceConfig, i: usize, p: &ServicePortConfig) -> Result<PortSpec> {
    let at = || format!("services.{}.ports[{i}]", svc.name);
    let protocol = match p.protocol.as_str() {
        "" | "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        other => bail!("{}: protocol {other:?} is not supported (tcp or udp)", at()),
    };
    let host_ip = match p.host_ip.as_str() {
        "" => None,
        ip => Some(
            ip.trim_matches(|c| c == '[' || c == ']')
                .parse()
                .map_err(|_| anyhow!("{}: host_ip {ip:?} is not an address", at()))?,
        ),
    };
    let host_ports = match p.published.as_str() {
        "" => None,
        s => {
            let (a, b) = s.split_once('-').unwrap_or((s, s));
            let a: u16 = a
                .parse()
                .map_err(|_| anyhow!("{}: published {s:?} is not a port", at()))?;
            let b: u16 = b
                .parse()
                .map_err(|_| anyhow!("{}: published {s:?} is not a port", at()))?;
            Some((a, b))
        }
    };
    let target = u16::try_from(p.target)
        .map_err(|_| anyhow!("{}: target {} is not a port", at(), p.target))?;
    Ok(PortSpec {
        host_ip,
        host_ports,
        container_ports: (target, target),
        protocol,
    })
}

/// A host port range for one container port (`"6005-6015:80"`) gives each
/// replica its own port from the range: the first one no other container has.
pub fn spread_port_ranges(specs: Vec<PortSpec>, taken: &[(u16, String)]) -> Vec<PortSpec> {
    specs
        .into_iter()
        .map(|mut s| {
            let proto = match s.protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
            };
            if let Some((lo, hi)) = s.host_ports {
                let single = s.container_ports.0 == s.container_ports.1;
                if single && hi > lo {
                    if let Some(p) =
                        (lo..=hi).find(|p| !taken.iter().any(|(t, pr)| t == p && pr == proto))
                    {
                        s.host_ports = Some((p, p));
                    }
                }
            }
            s
        })
        .collect()
}

/// The container's namespace and interfaces, made before its process starts.
pub struct Wired {
    /// The pinned namespace.
    pub netns: Netns,
    /// One per network, `eth0` first.
    pub attachments: Vec<Attachment>,
}

/// Makes a namespace for container `id` and attaches it to its networks.
pub fn wire(layout: &Layout, id: &str, reqs: &[AttachRequest]) -> Result<Wired> {
    if reqs.iter().any(|r| r.network == DEFAULT_BRIDGE) {
        // Its last container may have taken it away since `up` made it (a
        // recreate that removes the old container first).
        ensure_default_bridge(layout)?;
    }
    let state = net_state(layout)?;
    let netns = Netns::create(&layout.run, id).context("creating network namespace")?;
    match berth_netns::attach(&state, &netns, id, reqs) {
        Ok(attachments) => Ok(Wired { netns, attachments }),
        Err(e) => {
            let _ = netns.remove();
            Err(e).context("attaching to networks")
        }
    }
}

/// Takes a container off its networks and drops its namespace (idempotent).
pub fn unwire(layout: &Layout, id: &str, attachments: &[Attachment]) -> Result<()> {
    let state = net_state(layout)?;
    let mut first = None;
    // `detach` also drops the ports table of a member that has one; a separate
    // `unpublish` would run `nft` for every container, ports or not.
    if let Err(e) = berth_netns::detach(&state, attachments) {
        first.get_or_insert(anyhow!(e));
    }
    if attachments.iter().any(|a| a.network == DEFAULT_BRIDGE) {
        release_default_bridge(layout);
    }
    let path = layout.run.join("netns").join(id);
    if path.exists() {
        match Netns::open(&path) {
            Ok(ns) => {
                if let Err(e) = ns.remove() {
                    first.get_or_insert(anyhow!(e));
                }
            }
            Err(e) => {
                first.get_or_insert(anyhow!(e));
            }
        }
    }
    first.map_or(Ok(()), Err)
}

/// How long a command waits for the responder to serve every live bridge.
const DNS_READY: Duration = Duration::from_secs(5);

/// Makes sure this root's DNS responder runs and listens on every live bridge:
/// starts one when none runs (or the running one is on its way out), then waits
/// until the one that runs says it serves every bridge on its current interface.
/// A responder that still listens on a bridge `down` deleted (and `up` made
/// again under the same name), or one that is exiting because `down` removed
/// the last network, is never trusted as is.
pub fn ensure_dns(layout: &Layout) -> Result<()> {
    ensure_dns_since(layout, None)
}

/// [`ensure_dns`] after [`start_dns`] spawned a responder at `spawned`: it is
/// given its time to take its lock before another is tried.
fn ensure_dns_since(layout: &Layout, spawned: Option<Instant>) -> Result<()> {
    fs::create_dir_all(&layout.run)?;
    let state = net_state(layout)?;
    if state.networks()?.is_empty() {
        // Nothing to serve; a responder started now would only wait and exit.
        return Ok(());
    }
    let records = state.records_dir();
    let status = dns_status_path(layout);
    // The responder says what it serves by renaming a new status file into the
    // run dir, and a bridge comes or goes with its record: either wakes us.
    let wake = crate::state::inotify::Inotify::new().ok();
    if let Some(w) = &wake {
        let mask = libc::IN_MOVED_TO | libc::IN_CREATE | libc::IN_CLOSE_WRITE | libc::IN_DELETE;
        let _ = w.watch(&layout.run, mask);
        let _ = w.watch(&records, mask);
    }
    let t0 = Instant::now();
    let mut spawned = spawned;
    loop {
        if berth_netns::dns::serves_every_bridge(&status, &records) {
            return Ok(());
        }
        // A responder holds this lock while it runs; a free lock means none does.
        let free = crate::state::lock_free(&dns_lock_path(layout))?;
        if free && spawned.is_none_or(|at| at.elapsed() > Duration::from_secs(1)) {
            spawn_dns(layout)?;
            spawned = Some(Instant::now());
        }
        if t0.elapsed() > DNS_READY {
            // Containers run without names rather than not at all; the supervisors
            // keep trying to get a responder going.
            eprintln!(
                "WARN[0000] the DNS responder does not serve every network after {DNS_READY:?}: service names may not resolve (see {})",
                layout.run.join("dns.log").display()
            );
            return Ok(());
        }
        // Also bounded: a responder that dies or frees its lock says nothing.
        match &wake {
            Some(w) => w.wait(DNS_RECHECK),
            None => std::thread::sleep(DNS_RECHECK),
        }
    }
}

/// Starts this root's DNS responder when a network needs one and none runs,
/// without waiting for it; returns when it was spawned.
/// What [`start_dns`] found.
enum DnsStart {
    /// A responder serves every bridge there is (or there is none): nothing to await.
    Serving,
    /// One runs but does not serve every bridge yet: awaited later.
    Running,
    /// This command started one at this moment.
    Spawned(Instant),
}

fn start_dns(layout: &Layout) -> Result<DnsStart> {
    fs::create_dir_all(&layout.run)?;
    let state = net_state(layout)?;
    // The common case first (a responder already serves every bridge): one read
    // of the network records instead of two.
    if berth_netns::dns::serves_every_bridge(&dns_status_path(layout), &state.records_dir())
        || state.networks()?.is_empty()
    {
        return Ok(DnsStart::Serving);
    }
    if !crate::state::lock_free(&dns_lock_path(layout))? {
        // One runs: it is awaited (and replaced if it is on its way out) later.
        return Ok(DnsStart::Running);
    }
    spawn_dns(layout)?;
    Ok(DnsStart::Spawned(Instant::now()))
}

/// The DNS responder an `up` needs, started before its containers are made and
/// awaited before the first of them starts (and before `up` returns): the
/// responder's start overlaps the making of namespaces, veths and files instead
/// of delaying it, and no container runs before its names resolve.
pub struct DnsReady {
    layout: Layout,
    needed: bool,
    spawned: Option<Instant>,
    /// The outcome of the one wait, for every thread that asks after it.
    outcome: std::sync::Mutex<Option<Result<(), String>>>,
}

impl DnsReady {
    /// Starts the responder if `needed` (see [`make_networks`]) and none runs.
    pub fn start(layout: &Layout, needed: bool) -> Result<DnsReady> {
        let found = if needed {
            start_dns(layout)?
        } else {
            DnsStart::Serving
        };
        // The networks this `up` needs are made before this start: a responder
        // serving every bridge now serves them, and there is nothing to await.
        let needed = needed && !matches!(found, DnsStart::Serving);
        let spawned = match found {
            DnsStart::Spawned(at) => Some(at),
            _ => None,
        };
        Ok(DnsReady {
            layout: layout.clone(),
            needed,
            spawned,
            outcome: Default::default(),
        })
    }

    /// Waits until the responder serves every bridge ([`ensure_dns`]), once;
    /// later callers get the same outcome at once.
    pub fn wait(&self) -> Result<()> {
        let mut outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        let result = outcome.get_or_insert_with(|| {
            if self.needed {
                ensure_dns_since(&self.layout, self.spawned).map_err(|e| format!("{e:#}"))
            } else {
                Ok(())
            }
        });
        result.clone().map_err(|e| anyhow!(e))
    }
}

/// How long [`ensure_dns`] waits at most between two looks at the responder.
const DNS_RECHECK: Duration = Duration::from_millis(20);

/// Starts `berth dns-serve` for this root, detached; a second one started while
/// one runs exits at once (the lock).
pub fn spawn_dns(layout: &Layout) -> Result<std::process::Child> {
    // In a supervisor (its own small binary) this is the `berth` that started it.
    let exe = crate::supervise::ready::berth_program()?;
    let log = File::create(layout.run.join("dns.log"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("--root")
        .arg(&layout.root)
        .arg("--run-dir")
        .arg(&layout.run)
        .arg("dns-serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; it detaches the responder from our session.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn().context("starting the DNS responder")
}

/// Restarts the DNS responder when it is found dead: a supervisor of a container
/// on a bridge network calls [`DnsKeeper::check`] once, then again whenever the
/// descriptor it returned (the responder's pidfd) becomes readable, so that a
/// killed responder is back at once, whoever killed it, and an idle supervisor
/// never wakes for it.
#[derive(Debug)]
pub struct DnsKeeper {
    layout: Layout,
    child: Option<std::process::Child>,
}

impl DnsKeeper {
    /// A keeper for this root's responder.
    pub fn new(layout: &Layout) -> DnsKeeper {
        DnsKeeper {
            layout: layout.clone(),
            child: None,
        }
    }

    /// Starts a responder when none runs and a network exists. Returns a pidfd of
    /// the responder that runs now (readable once it exits), or `None` when there
    /// is none to watch yet (no network, or one just starting that has not said
    /// its pid): the caller then checks again a little later.
    pub fn check(&mut self) -> Option<std::os::fd::OwnedFd> {
        // Reap the one we started once it exits (it outlives us otherwise).
        if let Some(c) = &mut self.child {
            if !matches!(c.try_wait(), Ok(None)) {
                self.child = None;
            }
        }
        let free = matches!(
            crate::state::lock_free(&dns_lock_path(&self.layout)),
            Ok(true)
        );
        if !free {
            return running_dns(&self.layout);
        }
        let any_network = net_state(&self.layout)
            .and_then(|s| Ok(s.networks()?))
            .is_ok_and(|n| !n.is_empty());
        if any_network && self.child.is_none() {
            match spawn_dns(&self.layout) {
                Ok(c) => self.child = Some(c),
                Err(e) => tracing::warn!("restarting the DNS responder: {e:#}"),
            }
        }
        // Ours, unreaped: its pidfd fires when it exits, whether it then serves
        // or loses the lock to one another supervisor started at the same time.
        let pid = self.child.as_ref()?.id();
        crate::supervise::sys::pidfd_open(pid).ok()
    }
}

/// A pidfd of the responder that holds the lock now, from the pid it wrote to
/// [`dns_status_path`]; `None` when that file names no live responder (a new
/// one has the lock but has not written it yet).
fn running_dns(layout: &Layout) -> Option<std::os::fd::OwnedFd> {
    let serving: berth_netns::dns::Serving =
        serde_json::from_slice(&fs::read(dns_status_path(layout)).ok()?).ok()?;
    let pidfd = crate::supervise::sys::pidfd_open(serving.pid).ok()?;
    // Read after the pidfd pins the pid: it cannot name a later process now. A
    // zombie's pidfd is readable at once, and a stale file may name an unrelated
    // process that reused the pid: neither is worth waiting on.
    let stat = fs::read_to_string(format!("/proc/{}/stat", serving.pid)).ok()?;
    let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
    let cmdline = fs::read(format!("/proc/{}/cmdline", serving.pid)).ok()?;
    let serves = cmdline.split(|b| *b == 0).any(|a| a == b"dns-serve");
    (serves && state != "Z" && state != "X").then_some(pidfd)
}

/// The lock a running DNS responder holds.
pub fn dns_lock_path(layout: &Layout) -> std::path::PathBuf {
    layout.run.join("dns.lock")
}

/// Where the running responder says what it serves.
pub fn dns_status_path(layout: &Layout) -> std::path::PathBuf {
    layout.run.join("dns.json")
}

/// Runs the DNS responder in this process until no network is left.
pub fn serve_dns(layout: &Layout) -> Result<()> {
    fs::create_dir_all(&layout.run)?;
    // Commands and supervisors take the lock for an instant to see whether a
    // responder runs: only a holder for longer than that is another responder.
    let t0 = Instant::now();
    let lock = loop {
        if let Some(lock) = crate::state::try_lock(&dns_lock_path(layout))? {
            break lock;
        }
        if t0.elapsed() > Duration::from_millis(300) {
            // Another responder runs: it serves the same records.
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let state = net_state(layout)?;
    let mut cfg = berth_netns::dns::DnsConfig::new(state.records_dir());
    cfg.status_file = Some(dns_status_path(layout));
    berth_netns::dns::serve(cfg).context("DNS responder")?;
    drop(lock);
    Ok(())
}

/// True when `path` names a pinned namespace of this root.
pub fn netns_path(layout: &Layout, id: &str) -> std::path::PathBuf {
    layout.run.join("netns").join(id)
}

/// Checks, before a container starts, that the network namespace it was made
/// with is still there: a reboot takes every namespace with the run dir. The
/// empty one of `network_mode: none` is made anew, so the container starts
/// again as docker starts it, alone with its `lo`. One on networks cannot be
/// started alone (its networks went too): `up` makes it anew
/// ([`super::repair::network_lost`]), and this says so instead of a missing
/// file. One joining another's namespace or the host's has no pin of its own.
/// Costs one `statfs` when the pin is there.
pub fn ensure_own_netns(layout: &Layout, id: &str, network_mode: &str) -> Result<()> {
    let own = matches!(network_mode, "" | "bridge" | "default" | "none");
    if !own || berth_netns::namespace::is_nsfs(&netns_path(layout, id)) {
        return Ok(());
    }
    if network_mode != "none" {
        bail!(
            "its network namespace is gone (the host restarted?); `berth up` makes the container anew"
        );
    }
    wire(layout, id, &[])?;
    Ok(())
}

/// Writes what a container's /etc/resolv.conf and /etc/hosts say.
pub fn write_etc_files(
    dir: &Path,
    svc: &ServiceConfig,
    hostname: &str,
    attachments: &[Attachment],
    host_network: bool,
    links: &[(String, IpAddr)],
) -> Result<Vec<(std::path::PathBuf, String)>> {
    let files = crate::state::ContainerDir::new(dir);
    let resolv = files.resolv_conf();
    let hosts = files.hosts();
    let hostname_file = files.hostname();
    if host_network {
        let host_file = |p: &str| fs::read(p).with_context(|| format!("reading the host's {p}"));
        write_shared(&resolv, &host_file("/etc/resolv.conf")?, 0o644)?;
        write_shared(&hosts, &host_file("/etc/hosts")?, 0o644)?;
    } else {
        write_shared(
            &resolv,
            berth_netns::dns::container_resolv_conf(attachments, &svc.dns_search, &svc.dns_opt)
                .as_bytes(),
            0o644,
        )?;
        let own: Vec<IpAddr> = attachments.iter().map(|a| a.ipv4).collect();
        // Links (`links: [db:database]`) are names only this container sees.
        let mut extra: Vec<(String, IpAddr)> = links.to_vec();
        for (host, ips) in &svc.extra_hosts {
            for ip in ips {
                let ip = if ip == "host-gateway" {
                    attachments.first().map(|a| a.gateway4)
                } else {
                    ip.trim_matches(|c| c == '[' || c == ']').parse().ok()
                };
                match ip {
                    Some(ip) => extra.push((host.clone(), ip)),
                    None => bail!("services.{}.extra_hosts: {host}: invalid address", svc.name),
                }
            }
        }
        write_shared(
            &hosts,
            berth_netns::dns::hosts(&[hostname.to_string()], &own, &extra).as_bytes(),
            0o644,
        )?;
    }
    // Read by the container's user, whoever that is: docker's 0644.
    write_shared(&hostname_file, format!("{hostname}\n").as_bytes(), 0o644)?;
    Ok(vec![
        (hostname_file, "/etc/hostname".into()),
        (hosts, "/etc/hosts".into()),
        (resolv, "/etc/resolv.conf".into()),
    ])
}

/// `<run>/verified/<network>`: the network was found whole (bridge, gateway,
/// nft table) during this boot. Checking costs an `nft` process and netlink
/// dumps on every `up`; berth itself is the only one to take a network apart,
/// and it drops the mark first ([`remove_network`]), so a `down` killed half-way
/// leaves no mark and the next `up` checks. The mark holds the boot id: a run
/// dir that is no tmpfs (a `--root` run dir) does not outlive the kernel state.
fn verified_mark(layout: &Layout, name: &str) -> std::path::PathBuf {
    layout.run.join("verified").join(name)
}

fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

fn verified(layout: &Layout, name: &str) -> bool {
    let mark = fs::read_to_string(verified_mark(layout, name)).ok();
    mark.is_some() && mark == boot_id()
}

fn mark_verified(layout: &Layout, name: &str) {
    if let Some(id) = boot_id() {
        // Only a hint: a lost mark costs one more check.
        let _ = crate::state::write_atomic_volatile(&verified_mark(layout, name), id.as_bytes());
    }
}

fn forget_verified(layout: &Layout, name: &str) {
    let _ = fs::remove_file(verified_mark(layout, name));
}

/// Creates the networks `selected` services are on (when missing) and starts the
/// DNS responder; `up` and `run` share it.
pub fn ensure_networks(
    layout: &Layout,
    project: &crate::compose::Project,
    selected: &[String],
    progress: &Progress,
) -> Result<()> {
    if make_networks(layout, project, selected, progress)? {
        ensure_dns(layout)?;
    }
    Ok(())
}

/// [`ensure_networks`] but for the DNS responder: returns whether one is
/// needed ([`DnsReady::start`] takes it from there).
pub fn make_networks(
    layout: &Layout,
    project: &crate::compose::Project,
    selected: &[String],
    progress: &Progress,
) -> Result<bool> {
    let mut made_net = false;
    let mut tables: Option<Vec<String>> = None;
    let mut needed: Vec<&String> = vec![];
    for name in selected {
        let svc = &project.services[name];
        if svc.network_mode == DEFAULT_BRIDGE {
            ensure_default_bridge(layout)?;
            made_net = true;
        }
        if svc.network_mode.is_empty() {
            for key in svc.networks.keys() {
                if !needed.contains(&key) {
                    needed.push(key);
                }
            }
        }
    }
    for key in needed {
        let cfg = project
            .networks
            .get(key)
            .ok_or_else(|| anyhow!("service refers to undefined network {key}"))?;
        let full = if cfg.name.is_empty() {
            format!("{}_{key}", project.name)
        } else {
            cfg.name.clone()
        };
        if cfg.external {
            ensure_network(layout, &project.name, key, cfg)?;
            continue;
        }
        let existed = net_state(layout)
            .ok()
            .and_then(|s| berth_netns::Network::get(&s, &full).ok())
            .is_some();
        if existed {
            if verified(layout, &full) {
                continue;
            }
            // Its record says it exists; the kernel may not agree (a killed `down`
            // took its nft table or its bridge, a killed `up` never finished it).
            let drift = repair_network(layout, &full, &mut tables)?;
            if !drift.is_empty() {
                let task = progress.task(&format!("Network {full}"), "Repairing");
                task.done(&format!("Repaired ({})", drift.join(", ")));
                made_net = true;
            }
            mark_verified(layout, &full);
            continue;
        }
        let task = progress.task(&format!("Network {full}"), "Creating");
        match ensure_network(layout, &project.name, key, cfg) {
            Ok(_) => {
                made_net = true;
                mark_verified(layout, &full);
                task.done("Created");
            }
            Err(e) => {
                task.fail("Error", &crate::report::text(&e));
                return Err(e);
            }
        }
    }
    Ok(made_net || !selected.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(project: &str, name: &str) -> Vec<u8> {
        serde_json::to_vec(&NetworkOwner {
            name: name.into(),
            project: project.into(),
            key: "back".into(),
            labels: BTreeMap::new(),
        })
        .unwrap()
    }

    #[test]
    fn temp_files_of_a_killed_writer_are_no_claims_and_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let layout = Layout::new(root.path(), None);
        fs::create_dir_all(layout.networks()).unwrap();
        fs::write(
            layout.networks().join("p_default.json"),
            claim("p", "p_default"),
        )
        .unwrap();
        // What a berth killed between write and rename leaves; its pid is gone
        // (above the kernel's pid_max).
        let stale = layout.networks().join(".p_back.json.tmp.4194305.0");
        fs::write(&stale, claim("p", "p_back")).unwrap();
        let names: Vec<String> = project_networks(&layout, "p")
            .into_iter()
            .map(|o| o.name)
            .collect();
        assert_eq!(names, ["p_default"]);
        assert!(!stale.exists(), "the stale temp file is still there");
    }
}
