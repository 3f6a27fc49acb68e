//! What a project asks that rootless berth cannot give on this host: published
//! ports (not carried to the host yet: refused, never silently unreachable) and
//! cgroup limits (skipped, with one warning per project).

use crate::compose::model::ServiceConfig;
use crate::compose::Project;

/// The limit keys of `svc` that need cgroups, as their key paths.
pub fn limit_keys(svc: &ServiceConfig) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |set: bool, key: &'static str| {
        if set {
            out.push(key);
        }
    };
    check(!svc.mem_limit.is_zero(), "mem_limit");
    check(!svc.mem_reservation.is_zero(), "mem_reservation");
    check(!svc.memswap_limit.is_zero(), "memswap_limit");
    check(svc.cpus != 0.0, "cpus");
    check(svc.cpu_shares != 0, "cpu_shares");
    check(svc.cpu_quota != 0, "cpu_quota");
    check(!svc.cpuset.is_empty(), "cpuset");
    check(svc.pids_limit > 0, "pids_limit");
    if let Some(d) = &svc.deploy {
        for (r, key) in [
            (&d.resources.limits, "deploy.resources.limits"),
            (&d.resources.reservations, "deploy.resources.reservations"),
        ] {
            check(
                r.as_ref()
                    .is_some_and(|r| r.cpus != 0.0 || !r.memory.is_zero() || r.pids != 0),
                key,
            );
        }
    }
    out
}

/// For a rootless berth: fails when a selected service publishes ports, and
/// returns the one warning naming every limit that will be ignored (None when
/// nothing is, or when berth is not rootless).
pub fn check(project: &Project, selected: &[String]) -> anyhow::Result<Option<String>> {
    if !super::is_rootless() {
        return Ok(None);
    }
    let mut ignored = Vec::new();
    for name in selected {
        let Some(svc) = project.services.get(name) else {
            continue;
        };
        if let Some(p) = svc.ports.first() {
            anyhow::bail!(
                "services.{name}.ports ({}): rootless berth does not publish ports to the host yet; run this project as root, or reach the service from another container",
                if p.published.is_empty() {
                    p.target.to_string()
                } else {
                    format!("{}:{}", p.published, p.target)
                }
            );
        }
        ignored.extend(
            limit_keys(svc)
                .into_iter()
                .map(|k| format!("services.{name}.{k}")),
        );
    }
    if ignored.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "WARN[0000] rootless berth applies no cgroup limits (cgroup v1 cannot be delegated, delegated v2 is not used yet; see `berth doctor`): {} ignored",
        ignored.join(", ")
    )))
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
        assert_eq!(limit_keys(&svc), ["mem_limit", "cpus", "pids_limit"]);
    }
}
