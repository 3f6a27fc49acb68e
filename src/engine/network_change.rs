//! A project network whose definition changed (driver options, ipam, labels,
//! internal, enable_ipv6, …) is replaced as docker compose's reconciler
//! replaces it: the containers on it are stopped and disconnected, the network
//! is removed and made anew, and the same containers are connected to the new
//! one (not recreated) and started again. Also `--all-resources`' networks no
//! service uses, and docker compose's warning for a network of the same name
//! that the project did not make.

use std::fs;

use anyhow::{anyhow, Context as _, Result};
use berth_netns::{AttachRequest, Attachment, Netns, PortSpec, Protocol};

use super::network::{self, NetworkOwner};
use super::stop::{stop, stop_params};
use crate::compose::hash::network_hash;
use crate::compose::model::NetworkConfig;
use crate::compose::Project;
use crate::container::list::{find, Found};
use crate::container::ContainerState;
use crate::progress::Progress;
use crate::state::{ContainerDir, Layout};

/// docker compose's label holding a resource's definition hash (the same
/// key as a container's).
pub use crate::container::record::labels::CONFIG_HASH;

/// The full name of network `key`.
pub fn network_name(project: &Project, key: &str, cfg: &NetworkConfig) -> String {
    if cfg.name.is_empty() {
        format!("{}_{key}", project.name)
    } else {
        cfg.name.clone()
    }
}

/// The claim berth wrote when it made network `name`, if it made it.
fn owner(layout: &Layout, name: &str) -> Option<NetworkOwner> {
    let bytes = fs::read(layout.networks().join(format!("{name}.json"))).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether network `name` is set up: its record in the network state exists. Only
/// the file is looked at: parsing the record (every member's addresses and names,
/// 25 KiB for 50 containers) was 3 % of a no-op `up`.
fn exists(layout: &Layout, name: &str) -> bool {
    network::net_state(layout)
        .ok()
        .is_some_and(|s| s.records_dir().join(format!("{name}.json")).is_file())
}

/// The network keys `selected` services are on (every network of the file with
/// `all`: the global `--all-resources`).
fn wanted_keys(project: &Project, selected: &[String], all: bool) -> Vec<String> {
    project
        .networks
        .keys()
        .filter(|key| {
            all || selected.iter().any(|s| {
                project.services.get(s).is_some_and(|svc| {
                    svc.network_mode.is_empty() && svc.networks.contains_key(*key)
                })
            })
        })
        .cloned()
        .collect()
}

/// Before `up` plans its containers: warns about networks of the project's
/// names that another project (or nobody) made, replaces the networks whose
/// definition changed, and with `all` makes the networks no service uses.
pub fn reconcile_networks(
    layout: &Layout,
    project: &Project,
    selected: &[String],
    all: bool,
    progress: &Progress,
) -> Result<()> {
    for key in wanted_keys(project, selected, all) {
        let cfg = &project.networks[&key];
        if cfg.external {
            continue;
        }
        let name = network_name(project, &key, cfg);
        if !exists(layout, &name) {
            if all {
                let task = progress.task(&format!("Network {name}"), "Creating");
                match network::ensure_network(layout, &project.name, &key, cfg) {
                    Ok(_) => task.done("Created"),
                    Err(e) => {
                        task.fail("Error", &crate::report::text(&e));
                        return Err(e);
                    }
                }
            }
            continue;
        }
        let Some(claim) = owner(layout, &name) else {
            progress.println(&format!(
                "WARN[0000] a network with name {name} exists but was not created by compose.\nSet `external: true` to use an existing network"
            ));
            continue;
        };
        if claim.project != project.name {
            progress.println(&format!(
                "WARN[0000] a network with name {name} exists but was not created for project {:?}.\nSet `external: true` to use an existing network",
                project.name
            ));
            continue;
        }
        // A network made before berth recorded hashes is left as it is, as
        // docker compose leaves one without its label.
        let Some(have) = claim.labels.get(CONFIG_HASH) else {
            continue;
        };
        if *have != network_hash(cfg) {
            recreate(layout, project, &key, &name, cfg, progress)?;
        }
    }
    Ok(())
}

/// A container on the network being replaced, and how it was on it.
struct Member {
    found: Found,
    attachment: Attachment,
    /// Its DNS names there.
    names: Vec<String>,
    was_running: bool,
}

/// stop → disconnect → remove network → create network → connect → start.
fn recreate(
    layout: &Layout,
    project: &Project,
    key: &str,
    name: &str,
    cfg: &NetworkConfig,
    progress: &Progress,
) -> Result<()> {
    let state = network::net_state(layout)?;
    let record = state.networks()?.into_iter().find(|r| r.info.name == name);
    let members: Vec<Member> = find(&layout.root, Some(&project.name))
        .into_iter()
        .filter_map(|found| {
            let files = ContainerDir::new(&found.dir);
            let atts: Vec<Attachment> = files.read_json(&files.net())?;
            let attachment = atts.into_iter().find(|a| a.network == name)?;
            let names = record
                .as_ref()
                .and_then(|r| r.members.get(&found.record.id))
                .map(|m| m.names.clone())
                .unwrap_or_default();
            let was_running = matches!(
                found.status.state,
                ContainerState::Running | ContainerState::Restarting
            );
            Some(Member {
                found,
                attachment,
                names,
                was_running,
            })
        })
        .collect();
    for m in members.iter().filter(|m| m.was_running) {
        let task = progress.task(&format!("Container {}", m.found.record.name), "Stopping");
        let (signal, grace) = stop_params(Some(project), &m.found, None);
        stop(layout, &m.found, signal, grace)?;
        task.done("Stopped");
    }
    for m in &members {
        berth_netns::disconnect(&state, &m.attachment)
            .with_context(|| format!("disconnecting {} from {name}", m.found.record.name))?;
    }
    let task = progress.task(&format!("Network {name}"), "Removing");
    if !network::remove_network(layout, name)? {
        let e = anyhow!("network {name} has active endpoints");
        task.fail("Error", &crate::report::text(&e));
        return Err(e);
    }
    task.done("Removed");
    let task = progress.task(&format!("Network {name}"), "Creating");
    if let Err(e) = network::ensure_network(layout, &project.name, key, cfg) {
        task.fail("Error", &crate::report::text(&e));
        return Err(e);
    }
    task.done("Created");
    for m in &members {
        reconnect(layout, project, m)
            .with_context(|| format!("connecting {} to {name}", m.found.record.name))?;
    }
    for m in members.iter().filter(|m| m.was_running) {
        let task = progress.task(&format!("Container {}", m.found.record.name), "Starting");
        match project.services.get(&m.found.record.service) {
            Some(svc) => super::start::start_service(layout, &m.found.record.id, svc)?,
            None => super::start::start(layout, &m.found.record.id)?,
        }
        task.done("Started");
    }
    Ok(())
}

/// Connects a member's namespace to the new network under its old interface
/// name, and writes down where it now is: its attachments, its record's
/// addresses, its /etc/hosts, and its published ports when this is the network
/// they are published on.
fn reconnect(layout: &Layout, project: &Project, m: &Member) -> Result<()> {
    let id = &m.found.record.id;
    let old = &m.attachment;
    let svc = project.services.get(&m.found.record.service);
    let hostname = fs::read_to_string(ContainerDir::new(&m.found.dir).hostname())
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    // What the service asks of this network (a fixed address, a MAC), else
    // what the container had.
    let mut req = svc
        .and_then(|svc| {
            network::attach_requests(project, svc, &m.found.record.name, &hostname, id, true)
                .ok()?
                .into_iter()
                .find(|r| r.network == old.network)
        })
        .unwrap_or_else(|| AttachRequest {
            network: old.network.clone(),
            ..Default::default()
        });
    if !m.names.is_empty() {
        req.names = m.names.clone();
    }
    req.ifname = Some(old.ifname.clone());
    let netns =
        Netns::open(&old.netns).with_context(|| format!("opening {}", old.netns.display()))?;
    let state = network::net_state(layout)?;
    let new = berth_netns::attach(&state, &netns, id, std::slice::from_ref(&req))?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no attachment made"))?;

    let files = ContainerDir::new(&m.found.dir);
    let mut atts: Vec<Attachment> = files.read_json(&files.net()).unwrap_or_default();
    let first = atts.first().is_some_and(|a| a.network == old.network);
    for a in atts.iter_mut().filter(|a| a.network == old.network) {
        *a = new.clone();
    }
    files.write_json(&files.net(), &atts)?;
    // Its resolver is the DNS responder on a gateway that moved with the subnet.
    let (search, opts) = svc
        .map(|s| (s.dns_search.clone(), s.dns_opt.clone()))
        .unwrap_or_default();
    crate::state::perms::write_shared(
        &files.resolv_conf(),
        berth_netns::dns::container_resolv_conf(&atts, &search, &opts).as_bytes(),
        0o644,
    )?;
    let cidr4 = format!("{}/{}", new.ipv4, new.prefix4);
    let cidr6 = new.ipv6.map(|(ip, p)| format!("{ip}/{p}"));
    files.update_record(|rec| {
        if let Some(nets) = rec.get_mut("networks").and_then(|n| n.as_array_mut()) {
            for n in nets
                .iter_mut()
                .filter(|n| n["network"].as_str() == Some(old.network.as_str()))
            {
                n["ipv4"] = serde_json::Value::String(cidr4.clone());
                n["ipv6"] = cidr6.clone().map_or(serde_json::Value::Null, Into::into);
            }
        }
    })?;
    // The container's own line in /etc/hosts names its old address.
    if let Ok(hosts) = fs::read_to_string(files.hosts()) {
        let fixed: String = hosts
            .lines()
            .map(|l| {
                let old_ip = old.ipv4.to_string();
                match l.strip_prefix(&old_ip) {
                    Some(rest) if rest.starts_with(char::is_whitespace) => {
                        format!("{}{rest}\n", new.ipv4)
                    }
                    _ => format!("{l}\n"),
                }
            })
            .collect();
        crate::state::perms::write_shared(&files.hosts(), fixed.as_bytes(), 0o644)?;
    }
    if first {
        let specs: Vec<PortSpec> = m
            .found
            .record
            .ports
            .iter()
            .filter(|p| p.host_port != 0)
            .map(|p| PortSpec {
                host_ip: p
                    .host_ip
                    .parse()
                    .ok()
                    .filter(|ip: &std::net::IpAddr| !ip.is_unspecified()),
                host_ports: Some((p.host_port, p.host_port)),
                container_ports: (p.container_port, p.container_port),
                protocol: if p.protocol == "udp" {
                    Protocol::Udp
                } else {
                    Protocol::Tcp
                },
            })
            .collect();
        if !specs.is_empty() {
            berth_netns::publish(&state, &new, &specs)?;
        }
    }
    Ok(())
}
