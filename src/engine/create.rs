//! Making a container: everything but its process (namespace, networks, mounts,
//! spec, records), undone entirely on failure.

use std::fs;
use std::time::SystemTime;

use anyhow::{anyhow, bail, Context as _, Result};
use berth_netns::{Attachment, PublishedPort};
use indexmap::IndexMap;

use super::remove::discard;
use super::{mounts, network, settings};
use crate::compose::model::ServiceConfig;
use crate::compose::Project;
use crate::container::list::{find, Found};
use crate::container::record::{default_name, labels, new_id};
use crate::container::{ContainerRecord, ContainerState, NetworkRecord, PortRecord};
use crate::image::RuntimeImage;
use crate::spec::{build_spec, NamespaceMode};
use crate::state::{ContainerDir, Layout};
use crate::supervise::launch::LaunchConfig;

/// What `create` needs to know.
pub struct CreateRequest<'a> {
    /// Where state lives.
    pub layout: &'a Layout,
    /// The project.
    pub project: &'a Project,
    /// The service.
    pub svc: &'a ServiceConfig,
    /// Replica number.
    pub number: u32,
    /// The image, unpacked.
    pub image: &'a RuntimeImage,
    /// The service's config hash.
    pub config_hash: &'a str,
    /// Made by `run`.
    pub oneoff: bool,
    /// A name other than the default (`run --name`, a recreate's temporary name).
    pub name: Option<String>,
    /// Whether the container answers to its service's name and network aliases
    /// in DNS (always for `up`; for `run` only with `--use-aliases`).
    pub service_aliases: bool,
}

fn ns_mode(
    layout: &Layout,
    project: &Project,
    svc: &ServiceConfig,
    key: &str,
    value: &str,
    kind: &str,
) -> Result<NamespaceMode> {
    let pid_of = |found: &Found| -> Result<u32> {
        found
            .status
            .pid
            .filter(|_| found.status.state == ContainerState::Running)
            .ok_or_else(|| {
                anyhow!(
                    "services.{}.{key}: {} is not running",
                    svc.name,
                    found.record.name
                )
            })
    };
    let join = |found: &Found| -> Result<NamespaceMode> {
        if kind == "net" {
            return Ok(NamespaceMode::Join(network::netns_path(
                layout,
                &found.record.id,
            )));
        }
        Ok(NamespaceMode::Join(
            format!("/proc/{}/ns/{kind}", pid_of(found)?).into(),
        ))
    };
    match value {
        "" | "private" | "shareable" | "bridge" | "default" => Ok(NamespaceMode::Private),
        "host" => Ok(NamespaceMode::Host),
        v if v.starts_with("service:") => {
            let other = &v["service:".len()..];
            let found = find(&layout.root, Some(&project.name))
                .into_iter()
                .filter(|f| f.record.service == other && !f.record.oneoff)
                .min_by_key(|f| f.record.number)
                .ok_or_else(|| {
                    anyhow!(
                        "services.{}.{key}: service {other:?} has no container",
                        svc.name
                    )
                })?;
            join(&found)
        }
        v if v.starts_with("container:") => {
            let other = &v["container:".len()..];
            let found = find(&layout.root, None)
                .into_iter()
                .find(|f| f.record.name == other || f.record.id.starts_with(other))
                .ok_or_else(|| anyhow!("services.{}.{key}: no container {other:?}", svc.name))?;
            join(&found)
        }
        other => bail!("services.{}.{key}: {other:?} is not supported", svc.name),
    }
}

/// Makes a container: everything but its process. Undone entirely on failure.
pub fn create(req: &CreateRequest<'_>) -> Result<ContainerRecord> {
    let id = new_id();
    let dir = req.layout.container(&id);
    // The directory appears already claimed by its project (made aside, then
    // renamed into place), so `repair` always knows whose half-made container it is.
    // The staging name carries the project too: a berth killed before the claim
    // is written still leaves a directory `repair` knows to be this project's.
    let staging = req
        .layout
        .containers()
        .join(format!(".new-{}-{id}", req.project.name));
    // Each container's directory in a block group of its own (ext4): the
    // parent is marked before the first one goes into it.
    let all = req.layout.containers();
    crate::state::topdir::make_spread(&all, fs::DirBuilder::new().recursive(true))
        .with_context(|| format!("creating {}", all.display()))?;
    fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    ContainerDir::new(&staging).claim(&req.project.name)?;
    fs::rename(&staging, &dir).with_context(|| format!("creating {}", dir.display()))?;
    match create_in(req, &id, &dir) {
        Ok(r) => {
            crate::events::emit(req.layout, &r, crate::events::Action::Create);
            Ok(r)
        }
        Err(e) => {
            let _ = discard(req.layout, &id);
            Err(e)
        }
    }
}

fn create_in(req: &CreateRequest<'_>, id: &str, dir: &std::path::Path) -> Result<ContainerRecord> {
    let files = ContainerDir::new(dir);
    let (layout, project, svc) = (req.layout, req.project, req.svc);
    let name = req.name.clone().unwrap_or_else(|| {
        if svc.container_name.is_empty() || req.oneoff {
            default_name(&project.name, &svc.name, req.number)
        } else {
            svc.container_name.clone()
        }
    });
    let hostname = if svc.hostname.is_empty() {
        id[..12].to_string()
    } else {
        svc.hostname.clone()
    };
    let mut rc = settings::run_config(svc, &req.image.config, &hostname)?;
    // The image's layers stay while a container uses them, whatever `image rm` does.
    crate::image::Store::at(&layout.root).pin(id, &req.image.manifest_digest)?;

    // Networks first: the namespace must be ready before the process starts.
    let mode = if svc.network_mode.is_empty() {
        ""
    } else {
        svc.network_mode.as_str()
    };
    let mut atts: Vec<Attachment> = vec![];
    let mut published: Vec<PublishedPort> = vec![];
    let host_net = mode == "host";
    match mode {
        "" | "bridge" | "default" => {
            let reqs =
                network::attach_requests(project, svc, &name, &hostname, id, req.service_aliases)?;
            let wired = network::wire(layout, id, &reqs)?;
            berth_netns::fault::point("create:after-wire");
            atts = wired.attachments;
            files.write_new(&files.net(), &atts)?;
            rc.net = NamespaceMode::Join(wired.netns.path().to_path_buf());
            // Ports other containers took matter only to a service with a host
            // port range; reading every container's record is skipped otherwise.
            let specs = network::port_specs(svc)?;
            let ranged = specs
                .iter()
                .any(|s| s.host_ports.is_some_and(|(lo, hi)| hi > lo));
            let taken = if ranged { taken_ports(layout) } else { vec![] };
            let specs = network::spread_port_ranges(specs, &taken);
            if !specs.is_empty() {
                let first = atts.first().ok_or_else(|| {
                    anyhow!("services.{}.ports: the service is on no network", svc.name)
                })?;
                let state = network::net_state(layout)?;
                published = berth_netns::publish(&state, first, &specs)
                    .with_context(|| format!("publishing ports of {name}"))?;
            }
            settings::own_netns_sysctls(&mut rc);
        }
        "none" => {
            let wired = network::wire(layout, id, &[])?;
            rc.net = NamespaceMode::Join(wired.netns.path().to_path_buf());
            settings::own_netns_sysctls(&mut rc);
        }
        other => rc.net = ns_mode(layout, project, svc, "network_mode", other, "net")?,
    }
    rc.ipc = ns_mode(layout, project, svc, "ipc", &svc.ipc, "ipc")?;
    rc.pid = ns_mode(layout, project, svc, "pid", &svc.pid, "pid")?;
    rc.uts = ns_mode(layout, project, svc, "uts", &svc.uts, "uts")?;
    if !matches!(rc.net, NamespaceMode::Host) || host_net {
        let links = link_hosts(layout, project, svc, &atts);
        rc.etc_files = network::write_etc_files(dir, svc, &hostname, &atts, host_net, &links)?;
    }

    let image_volumes: Vec<String> = req
        .image
        .config
        .volumes
        .as_ref()
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default();
    let lowers = crate::image::mount_points::with_mount_points(req.image.lower_dirs_top_first());
    let m = mounts::service_mounts(
        layout,
        project,
        svc,
        req.number,
        &lowers,
        &image_volumes,
        dir,
    )?;
    rc.mounts = m.specs;
    for from in &svc.volumes_from {
        rc.mounts.extend(volumes_from(layout, project, from)?);
    }
    // The runtime puts relative cgroup paths under its `berth` parent.
    rc.cgroup_path = id.to_string();
    let mut spec = build_spec(&rc)?;
    // Rootless `userns_mode: keep-id`: a user namespace of the container's own
    // where the user is itself, and its process runs as the user by default.
    let keep_id_user = if svc.userns_mode == crate::rootless::keep_id::MODE {
        Some(
            crate::rootless::keep_id::apply(&mut spec)
                .map_err(|e| anyhow!("services.{}.userns_mode: {e}", svc.name))?,
        )
    } else {
        None
    };
    let user = if svc.user.is_empty() {
        keep_id_user.or_else(|| req.image.config.user.clone().filter(|u| !u.is_empty()))
    } else {
        Some(svc.user.clone())
    };
    let launch = LaunchConfig {
        id: id.to_string(),
        spec,
        lowers,
        rootfs_dir: None,
        init: svc.init.unwrap_or(false),
        user,
        policy: settings::restart_policy(svc)?,
        rotation: Some(settings::log_rotation(svc)?),
        healthcheck: settings::healthcheck(svc, &req.image.config),
        stdin_open: svc.stdin_open,
        await_attach: false,
        auto_remove: false,
    };
    files.write_new(&files.launch(), &launch)?;

    let mut l: IndexMap<String, String> = IndexMap::new();
    for (k, v) in &svc.labels {
        l.insert(k.clone(), v.clone());
    }
    l.insert(labels::CONFIG_HASH.into(), req.config_hash.into());
    l.insert(labels::NUMBER.into(), req.number.to_string());
    l.insert(
        labels::DEPENDS_ON.into(),
        svc.depends_on
            .iter()
            .map(|(k, d)| format!("{k}:{}:{}", d.condition, d.restart))
            .collect::<Vec<_>>()
            .join(","),
    );
    l.insert(labels::IMAGE.into(), req.image.id.to_string());
    l.insert(
        labels::ONEOFF.into(),
        if req.oneoff { "True" } else { "False" }.into(),
    );
    l.insert(labels::PROJECT.into(), project.name.clone());
    l.insert(
        labels::CONFIG_FILES.into(),
        project
            .compose_files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    l.insert(
        labels::WORKING_DIR.into(),
        project.working_dir.display().to_string(),
    );
    l.insert(labels::SERVICE.into(), svc.name.clone());
    l.insert(labels::VERSION.into(), env!("CARGO_PKG_VERSION").into());

    let record = ContainerRecord {
        id: id.to_string(),
        name,
        project: project.name.clone(),
        service: svc.name.clone(),
        number: req.number,
        oneoff: req.oneoff,
        image: project.image_name(svc),
        image_id: req.image.id.to_string(),
        command: rc.args.clone(),
        created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        labels: l,
        networks: atts
            .iter()
            .map(|a| NetworkRecord {
                network: a.network.clone(),
                ifname: a.ifname.clone(),
                ipv4: Some(format!("{}/{}", a.ipv4, a.prefix4)),
                ipv6: a.ipv6.map(|(ip, p)| format!("{ip}/{p}")),
                mac: None,
                aliases: vec![],
            })
            .collect(),
        ports: published
            .iter()
            .map(|p| PortRecord {
                host_ip: p
                    .host_ip
                    .map(|ip| ip.to_string())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                host_port: p.host_port,
                container_port: p.container_port,
                protocol: match p.protocol {
                    berth_netns::Protocol::Tcp => "tcp".into(),
                    berth_netns::Protocol::Udp => "udp".into(),
                },
            })
            .chain(exposed_only(svc, &req.image.config, &published))
            .collect(),
    };
    // The record comes last: a container exists once its record does. What a
    // start after a power loss would read is made durable first (nothing, for
    // a container on a berth network: it is made anew then). The service and
    // its named volumes ride in the record's file: one inode, one write.
    files.sync_made(!atts.is_empty())?;
    files.write_made(&record, svc, &m.volumes)?;
    berth_netns::fault::point("create:after-record");
    Ok(record)
}

/// `links:` entries as hosts lines: the linked service's (or container's) first
/// container's address on a network this one shares, under the link's alias and
/// its own name.
fn link_hosts(
    layout: &Layout,
    project: &Project,
    svc: &ServiceConfig,
    atts: &[Attachment],
) -> Vec<(String, std::net::IpAddr)> {
    if svc.links.is_empty() && svc.external_links.is_empty() {
        // No scan of every container's record for a service without links.
        return vec![];
    }
    let mine: Vec<&str> = atts.iter().map(|a| a.network.as_str()).collect();
    let all = find(&layout.root, None);
    let mut out = vec![];
    for link in svc.links.iter().chain(&svc.external_links) {
        let (target, alias) = link.split_once(':').unwrap_or((link, link));
        let found = all
            .iter()
            .filter(|f| {
                (f.record.project == project.name && f.record.service == target && !f.record.oneoff)
                    || f.record.name == target
            })
            .min_by_key(|f| f.record.number);
        let Some(f) = found else { continue };
        let ip = f
            .record
            .networks
            .iter()
            .filter(|n| mine.contains(&n.network.as_str()))
            .find_map(|n| n.ipv4.as_deref()?.split('/').next()?.parse().ok());
        if let Some(ip) = ip {
            out.push((alias.to_string(), ip));
            if alias != target {
                out.push((target.to_string(), ip));
            }
        }
    }
    out
}

/// The ports the service (`expose`) and its image (`ExposedPorts`) declare but
/// do not publish, as records with no host side: `ps` shows them as `80/tcp`,
/// as docker does. Sorted by port; a range is every port in it.
fn exposed_only(
    svc: &ServiceConfig,
    image: &crate::image::oci::RuntimeConfig,
    published: &[PublishedPort],
) -> Vec<PortRecord> {
    let image_ports = image.exposed_ports.iter().flat_map(|m| m.keys().cloned());
    let mut out: Vec<(u16, String)> = vec![];
    for spec in svc.expose.iter().cloned().chain(image_ports) {
        let (range, proto) = spec.split_once('/').unwrap_or((&spec, "tcp"));
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        let (Ok(lo), Ok(hi)) = (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()) else {
            continue;
        };
        for port in lo..=hi {
            out.push((port, proto.to_string()));
        }
    }
    out.sort();
    out.dedup();
    out.into_iter()
        .filter(|(port, proto)| {
            !published.iter().any(|p| {
                p.container_port == *port
                    && matches!(
                        (&p.protocol, proto.as_str()),
                        (berth_netns::Protocol::Tcp, "tcp") | (berth_netns::Protocol::Udp, "udp")
                    )
            })
        })
        .map(|(port, proto)| PortRecord {
            host_ip: String::new(),
            host_port: 0,
            container_port: port,
            protocol: proto,
        })
        .collect()
}

/// Host ports that containers of this root have published, by protocol.
fn taken_ports(layout: &Layout) -> Vec<(u16, String)> {
    find(&layout.root, None)
        .into_iter()
        .flat_map(|f| {
            f.record
                .ports
                .into_iter()
                .map(|p| (p.host_port, p.protocol))
        })
        .collect()
}

fn volumes_from(
    layout: &Layout,
    project: &Project,
    from: &str,
) -> Result<Vec<crate::spec::MountSpec>> {
    let (what, mode) = match from.rsplit_once(':') {
        Some((w, m)) if m == "ro" || m == "rw" => (w, m),
        _ => (from, "rw"),
    };
    let (service, container) = match what.split_once(':') {
        Some(("container", c)) => (None, Some(c)),
        Some(("service", s)) => (Some(s), None),
        _ => (Some(what), None),
    };
    let found = find(&layout.root, None)
        .into_iter()
        .find(|f| match (service, container) {
            (Some(s), _) => {
                f.record.project == project.name && f.record.service == s && !f.record.oneoff
            }
            (_, Some(c)) => f.record.name == c,
            _ => false,
        });
    let found = found.ok_or_else(|| anyhow!("volumes_from: {from:?} has no container"))?;
    let launch = LaunchConfig::load(&found.dir)?;
    let mut out = vec![];
    for m in launch.spec.mounts().iter().flatten() {
        let dest = m.destination().display().to_string();
        if m.typ().as_deref() != Some("bind") || dest.starts_with("/etc/") {
            continue;
        }
        if let Some(src) = m.source() {
            out.push(crate::spec::MountSpec::Bind {
                source: src.clone(),
                target: dest,
                read_only: mode == "ro",
                propagation: None,
            });
        }
    }
    Ok(out)
}

/// Gives an existing container another name (a recreate's last step).
pub fn rename(layout: &Layout, id: &str, name: &str) -> Result<()> {
    // In place, keeping the service and volumes the record's file also holds.
    layout.container_dir(id).update_record(|r| {
        r.insert("name".into(), name.into());
    })?;
    Ok(())
}
