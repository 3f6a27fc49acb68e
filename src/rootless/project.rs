//! What a project asks that rootless berth cannot give on this host: host ports
//! below `net.ipv4.ip_unprivileged_port_start` (refused, naming the sysctl) and
//! cgroup limits whose controller is not delegated (skipped, with one warning
//! per project; see `cgroups`).

use crate::compose::model::ServiceConfig;
use crate::compose::Project;

/// The limit keys of `svc` that need cgroups, as their key paths, each with
/// the cgroup v2 controller that applies it.
pub fn limit_keys(svc: &ServiceConfig) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    let mut check = |set: bool, key: &'static str, controller: &'static str| {
        if set {
            out.push((key, controller));
        }
    };
    check(!svc.mem_limit.is_zero(), "mem_limit", "memory");
    check(!svc.mem_reservation.is_zero(), "mem_reservation", "memory");
    check(!svc.memswap_limit.is_zero(), "memswap_limit", "memory");
    check(svc.cpus != 0.0, "cpus", "cpu");
    check(svc.cpu_shares != 0, "cpu_shares", "cpu");
    check(svc.cpu_quota != 0, "cpu_quota", "cpu");
    check(!svc.cpuset.is_empty(), "cpuset", "cpuset");
    check(svc.pids_limit > 0, "pids_limit", "pids");
    if let Some(d) = &svc.deploy {
        let limits = d.resources.limits.as_ref();
        check(
            limits.is_some_and(|r| r.cpus != 0.0),
            "deploy.resources.limits.cpus",
            "cpu",
        );
        check(
            limits.is_some_and(|r| !r.memory.is_zero()),
            "deploy.resources.limits.memory",
            "memory",
        );
        check(
            limits.is_some_and(|r| r.pids != 0),
            "deploy.resources.limits.pids",
            "pids",
        );
        check(
            d.resources
                .reservations
                .as_ref()
                .is_some_and(|r| !r.memory.is_zero()),
            "deploy.resources.reservations.memory",
            "memory",
        );
    }
    out
}

/// For a rootless berth: fails when a selected service publishes a port the
/// user may not bind on the host, and
/// returns the one warning naming every limit that will be ignored (None when
/// nothing is, or when berth is not rootless).
pub fn check(project: &Project, selected: &[String]) -> anyhow::Result<Option<String>> {
    if !super::is_rootless() {
        if let Some(name) = selected.iter().find(|n| {
            project
                .services
                .get(*n)
                .is_some_and(|s| s.userns_mode == super::keep_id::MODE)
        }) {
            anyhow::bail!(
                "services.{name}.userns_mode: keep-id is for rootless berth (a normal user's ids kept inside); as root, leave it out"
            );
        }
        return Ok(None);
    }
    let mut ignored = Vec::new();
    for name in selected {
        let Some(svc) = project.services.get(name) else {
            continue;
        };
        for (i, p) in svc.ports.iter().enumerate() {
            let low = p
                .published
                .split('-')
                .next()
                .and_then(|x| x.trim().parse::<u16>().ok())
                .unwrap_or(0);
            let start = super::host_port_start();
            if low != 0 && low < start {
                anyhow::bail!(
                    "services.{name}.ports[{i}] ({}:{}): rootless berth cannot bind host port {low}: ports below net.ipv4.ip_unprivileged_port_start ({start}) need root; publish a port >= {start}, or as root: sysctl -w net.ipv4.ip_unprivileged_port_start={low}",
                    p.published,
                    p.target
                );
            }
            if p.protocol == "sctp" {
                anyhow::bail!(
                    "services.{name}.ports[{i}]: rootless berth publishes tcp and udp ports only (pasta carries no sctp)"
                );
            }
        }
        ignored.extend(
            limit_keys(svc)
                .into_iter()
                .map(|(k, c)| (format!("services.{name}.{k}"), c)),
        );
    }
    // The network helper starts now, before pulls and containers, with the
    // ports this command is about to publish (see `need_way_out`).
    super::need_way_out(&ahead(project, selected));
    Ok(super::cgroups::warning(&ignored))
}

/// The host ports `selected` services publish that are known before their
/// containers exist: a fixed port (not a range berth picks from, nor an
/// ephemeral one; a miss only costs the helper a restart at the end).
fn ahead(project: &Project, selected: &[String]) -> Vec<super::pasta::Forward> {
    let mut out = Vec::new();
    for svc in selected.iter().filter_map(|n| project.services.get(n)) {
        for p in &svc.ports {
            let Ok(port) = p.published.trim().parse::<u16>() else {
                continue;
            };
            let host_ip = p
                .host_ip
                .parse::<std::net::IpAddr>()
                .ok()
                .filter(|ip| !ip.is_unspecified());
            let proto = if p.protocol.is_empty() {
                "tcp".to_string()
            } else {
                p.protocol.clone()
            };
            out.push(super::pasta::Forward {
                proto,
                host_ip,
                port,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cgroup_limit_is_named() {
        let mut svc = ServiceConfig::default();
        assert!(limit_keys(&svc).is_empty());
        svc.mem_limit = crate::compose::model::UnitBytes(1 << 20);
        svc.cpus = 0.5;
        svc.pids_limit = 10;
        assert_eq!(
            limit_keys(&svc),
            [
                ("mem_limit", "memory"),
                ("cpus", "cpu"),
                ("pids_limit", "pids")
            ]
        );
    }
}
