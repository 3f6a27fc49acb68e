//! Validation: unknown keys (the schema part), then consistency of the
//! decoded project (loader/validate.go) and dependency cycles (graph/cycle.go).

use std::collections::{BTreeSet, HashMap};

use serde_yaml_ng::Value;

use crate::compose::model::Project;
use crate::compose::transform::PathError;
use crate::compose::yaml::attr;
use crate::compose::ModelError;

const TOP_KEYS: &[&str] = &[
    "version", "name", "include", "services", "networks", "volumes", "secrets", "configs", "models",
];

/// Every service attribute compose-go knows.
pub const SERVICE_KEYS: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "build",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpus",
    "cpuset",
    "cpu_shares",
    "credential_spec",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "dockerfile",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "label_file",
    "labels",
    "links",
    "log_driver",
    "log_opt",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "net",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_start",
    "pre_stop",
    "privileged",
    "profiles",
    "provider",
    "pull_policy",
    "pull_refresh_after",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volume_driver",
    "volumes",
    "volumes_from",
    "working_dir",
];

const NETWORK_KEYS: &[&str] = &[
    "name",
    "driver",
    "driver_opts",
    "ipam",
    "external",
    "internal",
    "attachable",
    "labels",
    "enable_ipv4",
    "enable_ipv6",
];
const VOLUME_KEYS: &[&str] = &["name", "driver", "driver_opts", "external", "labels"];
const SECRET_KEYS: &[&str] = &[
    "name",
    "file",
    "environment",
    "external",
    "labels",
    "driver",
    "driver_opts",
    "template_driver",
];
const CONFIG_KEYS: &[&str] = &[
    "name",
    "file",
    "environment",
    "content",
    "external",
    "labels",
    "template_driver",
];
const MODEL_KEYS: &[&str] = &["name", "model", "context_size", "runtime_flags"];
const BUILD_KEYS: &[&str] = &[
    "context",
    "dockerfile",
    "dockerfile_inline",
    "entitlements",
    "args",
    "provenance",
    "sbom",
    "ssh",
    "labels",
    "cache_from",
    "cache_to",
    "no_cache",
    "no_cache_filter",
    "additional_contexts",
    "pull",
    "extra_hosts",
    "isolation",
    "network",
    "target",
    "secrets",
    "shm_size",
    "tags",
    "ulimits",
    "platforms",
    "privileged",
];
const HEALTHCHECK_KEYS: &[&str] = &[
    "test",
    "timeout",
    "interval",
    "retries",
    "start_period",
    "start_interval",
    "disable",
];
const DEPLOY_KEYS: &[&str] = &[
    "mode",
    "replicas",
    "labels",
    "update_config",
    "rollback_config",
    "resources",
    "restart_policy",
    "placement",
    "endpoint_mode",
];
const PORT_KEYS: &[&str] = &[
    "name",
    "mode",
    "host_ip",
    "target",
    "published",
    "protocol",
    "app_protocol",
];
const MOUNT_KEYS: &[&str] = &[
    "type",
    "source",
    "target",
    "read_only",
    "consistency",
    "bind",
    "volume",
    "tmpfs",
    "image",
];

const SERVICE_NETWORK_KEYS: &[&str] = &[
    "aliases",
    "driver_opts",
    "gw_priority",
    "interface_name",
    "ipv4_address",
    "ipv6_address",
    "link_local_ips",
    "mac_address",
    "priority",
];
const DEPENDS_ON_KEYS: &[&str] = &["condition", "restart", "required"];
const LOGGING_KEYS: &[&str] = &["driver", "options"];
const RESOURCES_KEYS: &[&str] = &["limits", "reservations"];
const RESOURCE_KEYS: &[&str] = &["cpus", "memory", "pids", "devices", "generic_resources"];
const RESTART_POLICY_KEYS: &[&str] = &["condition", "delay", "max_attempts", "window"];
const FILE_REF_KEYS: &[&str] = &["source", "target", "uid", "gid", "mode"];
const ENV_FILE_KEYS: &[&str] = &["path", "required", "format"];
const IPAM_KEYS: &[&str] = &["driver", "config", "options"];
const IPAM_POOL_KEYS: &[&str] = &["subnet", "gateway", "ip_range", "aux_addresses"];

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known key a typo most likely meant.
fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (edit_distance(&key.to_lowercase(), a), *a))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, a)| a)
}

fn check_map(v: &Value, allowed: &[&str], path: &str) -> Result<(), PathError> {
    let Value::Mapping(m) = v else { return Ok(()) };
    for k in m.keys() {
        let k = k.as_str().unwrap_or_default();
        if !k.starts_with("x-") && !allowed.contains(&k) {
            let at = if path.is_empty() {
                "(root)".to_string()
            } else {
                path.to_string()
            };
            let hint = match closest(k, allowed) {
                Some(c) => format!("did you mean {c:?}?"),
                None => "custom attributes need an \"x-\" prefix".to_string(),
            };
            return Err(PathError {
                path: at,
                message: format!("additional property {k:?} is not allowed; {hint}"),
            });
        }
    }
    Ok(())
}

fn each(v: Option<&Value>) -> impl Iterator<Item = (String, &Value)> {
    let items: Vec<(String, &Value)> = match v {
        Some(Value::Mapping(m)) => m
            .iter()
            .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    items.into_iter()
}

fn check_enum(v: Option<&Value>, allowed: &[&str], path: &str) -> Result<(), PathError> {
    let Some(v) = v else { return Ok(()) };
    let Some(text) = v.as_str() else {
        return Ok(());
    };
    if allowed.contains(&text) {
        return Ok(());
    }
    let list = allowed
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(PathError {
        path: path.to_string(),
        message: format!("must be one of the following: {list}, found {text:?}"),
    })
}

fn pull_policy_ok(p: &str) -> bool {
    matches!(
        p,
        "always"
            | "never"
            | "missing"
            | "if_not_present"
            | "build"
            | "refresh"
            | "daily"
            | "weekly"
    ) || p
        .strip_prefix("every_")
        .is_some_and(|d| crate::compose::model::duration::parse_duration(d).is_ok())
}

/// Rejects attributes the compose specification does not define (`x-*` aside).
pub fn check_keys(tree: &Value) -> Result<(), PathError> {
    check_map(tree, TOP_KEYS, "")?;
    for section in ["services", "networks", "volumes", "secrets", "configs"] {
        for (name, _) in each(tree.get(section)) {
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                return Err(PathError {
                    path: section.to_string(),
                    message: format!(
                        "invalid name {name:?}: only letters, digits, '.', '_' and '-' are allowed"
                    ),
                });
            }
        }
    }
    for (name, svc) in each(tree.get("services")) {
        let p = format!("services.{name}");
        check_map(svc, SERVICE_KEYS, &p)?;
        check_enum(
            attr(svc, "cgroup"),
            &["host", "private"],
            &format!("{p}.cgroup"),
        )?;
        if let Some(pp) = attr(svc, "pull_policy").and_then(Value::as_str) {
            if !pull_policy_ok(pp) {
                return Err(PathError {
                    path: format!("{p}.pull_policy"),
                    message: format!(
                        "invalid pull policy {pp:?}: expected always, never, missing, build, refresh, daily, weekly or every_<duration>"
                    ),
                });
            }
        }
        for (dep, cfg) in each(attr(svc, "depends_on")) {
            check_enum(
                cfg.get("condition"),
                &[
                    "service_started",
                    "service_healthy",
                    "service_completed_successfully",
                ],
                &format!("{p}.depends_on.{dep}.condition"),
            )?;
        }
        if let Some(Value::Sequence(mounts)) = attr(svc, "volumes") {
            for (i, m) in mounts.iter().enumerate() {
                check_enum(
                    m.get("type"),
                    &["bind", "volume", "tmpfs", "cluster", "npipe", "image"],
                    &format!("{p}.volumes[{i}].type"),
                )?;
            }
        }
        if let Some(Value::Sequence(rules)) = attr(svc, "develop").and_then(|d| d.get("watch")) {
            for (i, r) in rules.iter().enumerate() {
                check_enum(
                    r.get("action"),
                    &["rebuild", "restart", "sync", "sync+restart", "sync+exec"],
                    &format!("{p}.develop.watch[{i}].action"),
                )?;
            }
        }
        if let Some(b) = attr(svc, "build") {
            check_map(b, BUILD_KEYS, &format!("{p}.build"))?;
        }
        if let Some(h) = attr(svc, "healthcheck") {
            check_map(h, HEALTHCHECK_KEYS, &format!("{p}.healthcheck"))?;
        }
        if let Some(d) = attr(svc, "deploy") {
            let dp = format!("{p}.deploy");
            check_map(d, DEPLOY_KEYS, &dp)?;
            if let Some(r) = d.get("resources") {
                check_map(r, RESOURCES_KEYS, &format!("{dp}.resources"))?;
                for k in ["limits", "reservations"] {
                    if let Some(l) = r.get(k) {
                        check_map(l, RESOURCE_KEYS, &format!("{dp}.resources.{k}"))?;
                    }
                }
            }
            if let Some(r) = d.get("restart_policy") {
                check_map(r, RESTART_POLICY_KEYS, &format!("{dp}.restart_policy"))?;
            }
        }
        for (net, cfg) in each(attr(svc, "networks")) {
            check_map(cfg, SERVICE_NETWORK_KEYS, &format!("{p}.networks.{net}"))?;
        }
        for (dep, cfg) in each(attr(svc, "depends_on")) {
            check_map(cfg, DEPENDS_ON_KEYS, &format!("{p}.depends_on.{dep}"))?;
        }
        if let Some(l) = attr(svc, "logging") {
            check_map(l, LOGGING_KEYS, &format!("{p}.logging"))?;
        }
        for k in ["secrets", "configs", "env_file"] {
            if let Some(Value::Sequence(items)) = attr(svc, k) {
                let keys = if k == "env_file" {
                    ENV_FILE_KEYS
                } else {
                    FILE_REF_KEYS
                };
                for (i, item) in items.iter().enumerate() {
                    check_map(item, keys, &format!("{p}.{k}[{i}]"))?;
                }
            }
        }
        if let Some(Value::Sequence(ports)) = attr(svc, "ports") {
            for (i, port) in ports.iter().enumerate() {
                check_map(port, PORT_KEYS, &format!("{p}.ports[{i}]"))?;
            }
        }
        if let Some(Value::Sequence(mounts)) = attr(svc, "volumes") {
            for (i, m) in mounts.iter().enumerate() {
                check_map(m, MOUNT_KEYS, &format!("{p}.volumes[{i}]"))?;
            }
        }
    }
    for (section, keys) in [
        ("networks", NETWORK_KEYS),
        ("volumes", VOLUME_KEYS),
        ("secrets", SECRET_KEYS),
        ("configs", CONFIG_KEYS),
        ("models", MODEL_KEYS),
    ] {
        for (name, r) in each(tree.get(section)) {
            check_map(r, keys, &format!("{section}.{name}"))?;
            if let Some(ipam) = r.get("ipam") {
                let ip = format!("{section}.{name}.ipam");
                check_map(ipam, IPAM_KEYS, &ip)?;
                if let Some(Value::Sequence(pools)) = ipam.get("config") {
                    for (i, pool) in pools.iter().enumerate() {
                        check_map(pool, IPAM_POOL_KEYS, &format!("{ip}.config[{i}]"))?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn invalid(msg: String) -> ModelError {
    ModelError::Consistency(format!("{msg}: invalid compose project"))
}

/// Finds a `depends_on` cycle, searching in name order for a stable message
/// (compose-go `graph/cycle.go`); services already proven acyclic are not
/// searched again, and where a name sits on the path is looked up, so large
/// projects stay linear. The search keeps its own stack: a chain of 20 000
/// services overflowed the thread's stack when it recursed.
pub fn check_cycles(project: &Project) -> Result<(), ModelError> {
    let deps_of = |name: &str| project.services.get(name).map(|s| s.depends_on.keys());
    let mut clean: BTreeSet<&str> = BTreeSet::new();
    for root in project.services.keys() {
        if clean.contains(root.as_str()) {
            continue;
        }
        // The path searched, each with the dependencies it has left to try.
        let mut path = vec![(root.as_str(), deps_of(root))];
        let mut on_path: HashMap<&str, usize> = HashMap::from([(root.as_str(), 0)]);
        while let Some((name, deps)) = path.last_mut() {
            let Some(dep) = deps.as_mut().and_then(|d| d.next()) else {
                let name = *name;
                clean.insert(name);
                on_path.remove(name);
                path.pop();
                continue;
            };
            if let Some(&i) = on_path.get(dep.as_str()) {
                let mut cycle: Vec<&str> = path[i..].iter().map(|(n, _)| *n).collect();
                cycle.push(dep);
                return Err(ModelError::Cycle(cycle.join(" -> ")));
            }
            if clean.contains(dep.as_str()) || !project.services.contains_key(dep) {
                continue;
            }
            on_path.insert(dep, path.len());
            path.push((dep, deps_of(dep)));
        }
    }
    Ok(())
}

/// compose-go's `checkConsistency`: references resolve, exclusive keys are
/// not combined, counts make sense.
pub fn check_consistency(project: &mut Project) -> Result<(), ModelError> {
    let names: BTreeSet<String> = project.services.keys().cloned().collect();
    let networks: BTreeSet<String> = project.networks.keys().cloned().collect();
    let volumes: BTreeSet<String> = project.volumes.keys().cloned().collect();
    let secrets: BTreeSet<String> = project.secrets.keys().cloned().collect();
    let configs: BTreeSet<String> = project.configs.keys().cloned().collect();
    let models: BTreeSet<String> = project.models.keys().cloned().collect();
    for (name, s) in project.services.iter_mut() {
        if s.build.is_none() && s.image.is_empty() && s.provider.is_none() {
            return Err(invalid(format!(
                "service {name:?} has neither an image nor a build context specified"
            )));
        }
        if let Some(b) = &s.build {
            if !b.dockerfile_inline.is_empty() && !b.dockerfile.is_empty() {
                return Err(invalid(format!(
                    "service {name:?} declares mutualy exclusive dockerfile and dockerfile_inline"
                )));
            }
            for (add, c) in &b.additional_contexts {
                if let Some(target) = c.strip_prefix("service:") {
                    if !names.contains(target) {
                        return Err(ModelError::Consistency(format!(
                            "service {name:?} declares unknown service {target:?} as additional contexts {add}"
                        )));
                    }
                }
            }
            for secret in &b.secrets {
                if !secrets.contains(&secret.source) {
                    return Err(invalid(format!(
                        "service {name:?} refers to undefined build secret {}",
                        secret.source
                    )));
                }
            }
        }
        if !s.network_mode.is_empty() && !s.networks.is_empty() {
            return Err(invalid(format!(
                "service {name} declares mutually exclusive `network_mode` and `networks`"
            )));
        }
        for net in s.networks.keys() {
            if !networks.contains(net) {
                return Err(invalid(format!(
                    "service {name:?} refers to undefined network {net}"
                )));
            }
        }
        if let Some(hc) = &s.healthcheck {
            if let Some(first) = hc.test.first() {
                if !matches!(first.as_str(), "CMD" | "CMD-SHELL" | "NONE") {
                    return Err(ModelError::Consistency(format!(
                        "services.{name}.healthcheck.test must start either by \"CMD\", \"CMD-SHELL\" or \"NONE\", found {first:?}"
                    )));
                }
            }
        }
        for (dep, cfg) in &s.depends_on {
            if !names.contains(dep) && cfg.required {
                return Err(invalid(format!(
                    "service {name:?} depends on undefined service {dep:?}"
                )));
            }
        }
        if let Some(target) = s.network_mode.strip_prefix("service:") {
            if !names.contains(target) {
                return Err(ModelError::Consistency(format!(
                    "service {target:?} not found for network_mode 'service:{target}'"
                )));
            }
        }
        for v in &s.volumes {
            if v.kind == "volume" && !v.source.is_empty() && !volumes.contains(&v.source) {
                return Err(invalid(format!(
                    "service {name:?} refers to undefined volume {}",
                    v.source
                )));
            }
        }
        for c in &s.configs {
            if !configs.contains(&c.source) {
                return Err(invalid(format!(
                    "service {name:?} refers to undefined config {}",
                    c.source
                )));
            }
        }
        for m in s.models.keys() {
            if !models.contains(m) {
                return Err(invalid(format!(
                    "service {name:?} refers to undefined model {m}"
                )));
            }
        }
        for c in &s.secrets {
            if !secrets.contains(&c.source) {
                return Err(invalid(format!(
                    "service {name:?} refers to undefined secret {}",
                    c.source
                )));
            }
        }
        if let (Some(scale), Some(deploy)) = (s.scale, s.deploy.as_mut()) {
            if deploy.replicas.is_some_and(|r| r != scale) {
                return Err(invalid(format!(
                    "services.{name}: can't set distinct values on 'scale' and 'deploy.replicas'"
                )));
            }
            deploy.replicas = Some(scale);
        }
        if s.scale.is_some_and(|n| n < 0) {
            return Err(ModelError::Consistency(format!(
                "services.{name}.scale: must be greater than or equal to 0"
            )));
        }
        if s.deploy
            .as_ref()
            .and_then(|d| d.replicas)
            .is_some_and(|n| n < 0)
        {
            return Err(ModelError::Consistency(format!(
                "services.{name}.deploy.replicas: must be greater than or equal to 0"
            )));
        }
        if s.get_scale() > 1 && !s.container_name.is_empty() {
            let attr = if s.scale.is_some() {
                "scale"
            } else {
                "deploy.replicas"
            };
            return Err(invalid(format!(
                "services.{name}: can't set container_name and {attr} as container name must be unique"
            )));
        }
        if let Some(dev) = &s.develop {
            for w in &dev.watch {
                if w.target.is_empty() && w.action != "rebuild" && w.action != "restart" {
                    return Err(invalid(format!(
                        "services.{name}.develop.watch: target is required for non-rebuild actions"
                    )));
                }
            }
        }
        let mut mounts: Vec<(String, String)> = Vec::new();
        let tmpfs = s
            .tmpfs
            .iter()
            .map(|t| t.split(':').next().unwrap_or_default().to_string());
        let targets = tmpfs
            .enumerate()
            .map(|(i, t)| (t, format!("services.{name}.tmpfs[{i}]")))
            .chain(
                s.volumes
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v.target.clone(), format!("services.{name}.volumes[{i}]"))),
            );
        for (target, loc) in targets {
            if let Some((_, prev)) = mounts.iter().find(|(t, _)| *t == target) {
                return Err(ModelError::Consistency(format!(
                    "{loc}: target {target} already mounted as {prev}"
                )));
            }
            mounts.push((target, loc));
        }
    }
    for (name, secret) in &project.secrets {
        if !secret.external && secret.file.is_empty() && secret.environment.is_empty() {
            return Err(invalid(format!(
                "secret {name:?} must declare either `file` or `environment`"
            )));
        }
    }
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for s in project.services.values() {
        if !s.container_name.is_empty() && !seen.insert(&s.container_name) {
            return Err(ModelError::Consistency(format!(
                "services.{}: container name {:?} is already in use by another service",
                s.name, s.container_name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod cycle_tests {
    use super::*;
    use crate::compose::model::{ServiceConfig, ServiceDependency};

    fn chain(n: usize, back_to: Option<usize>) -> Project {
        let mut p = Project::default();
        for i in 0..n {
            let mut s = ServiceConfig::default();
            let next = if i + 1 < n { Some(i + 1) } else { back_to };
            if let Some(next) = next {
                s.depends_on.insert(
                    format!("s{next:06}"),
                    ServiceDependency {
                        condition: "service_started".into(),
                        restart: false,
                        extensions: Default::default(),
                        required: true,
                    },
                );
            }
            p.services.insert(format!("s{i:06}"), s);
        }
        p
    }

    #[test]
    fn long_chains_and_cycles_need_no_deep_stack() {
        assert!(check_cycles(&chain(20_000, None)).is_ok());
        let Err(ModelError::Cycle(c)) = check_cycles(&chain(20_000, Some(5))) else {
            panic!("no cycle found");
        };
        assert!(c.starts_with("s000005 -> s000006 -> "), "{}", &c[..40]);
        assert!(c.ends_with("s019999 -> s000005"));
        let Err(ModelError::Cycle(c)) = check_cycles(&chain(1, Some(0))) else {
            panic!("no cycle found");
        };
        assert_eq!(c, "s000000 -> s000000");
    }
}
