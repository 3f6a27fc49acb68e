//! Warnings: every compose key the conversion does not map, and every mapping
//! that needed a choice, reported once per (service, key).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::Ctx;

/// One warning.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    /// The service (or `networks.x`, `volumes.x` for top-level objects).
    pub scope: String,
    /// The compose key path (`ulimits`, `deploy.placement`, `volumes[0]`).
    pub key: String,
    /// What happened and what to do.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.scope, self.key, self.message)
    }
}

/// The warnings of one conversion, each (scope, key) once.
#[derive(Debug, Default)]
pub struct Warnings {
    seen: BTreeSet<(String, String)>,
    list: Vec<Warning>,
}

impl Warnings {
    /// Adds a warning about `key` of `scope`, unless one was already given.
    pub fn add(&mut self, scope: &str, key: &str, message: impl Into<String>) {
        if self.seen.insert((scope.to_string(), key.to_string())) {
            self.list.push(Warning {
                scope: scope.to_string(),
                key: key.to_string(),
                message: message.into(),
            });
        }
    }

    /// Whether `key` of `scope` was already reported.
    pub fn has(&self, scope: &str, key: &str) -> bool {
        self.seen.contains(&(scope.to_string(), key.to_string()))
    }

    /// The warnings, sorted by scope and key.
    pub fn list(&self) -> Vec<Warning> {
        let mut l = self.list.clone();
        l.sort();
        l
    }
}

/// Service keys (compose-go's names) that the conversion maps; `deploy` is
/// looked into key by key.
const MAPPED: &[&str] = &[
    "name",
    "image",
    "build",
    "command",
    "entrypoint",
    "working_dir",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "tmpfs",
    "secrets",
    "configs",
    "healthcheck",
    "depends_on",
    "deploy",
    "scale",
    "restart",
    "labels",
    "annotations",
    "user",
    "group_add",
    "read_only",
    "cap_add",
    "cap_drop",
    "privileged",
    "sysctls",
    "stop_grace_period",
    "networks",
    "network_mode",
    "hostname",
    "tty",
    "stdin_open",
    "pull_policy",
    "extra_hosts",
    "dns",
    "dns_search",
    "dns_opt",
    "shm_size",
    "pid",
    "ipc",
    "platform",
    "mem_limit",
    "mem_reservation",
    "cpus",
    "profiles",
    "init",
];

const DEPLOY_MAPPED: &[&str] = &["mode", "replicas", "resources", "restart_policy", "labels"];

/// Reports every service key and top-level option the conversion leaves out.
pub fn unmapped(ctx: &Ctx, w: &mut Warnings) {
    for (name, svc) in ctx.services() {
        let Ok(serde_json::Value::Object(tree)) = serde_json::to_value(svc) else {
            continue;
        };
        for (key, value) in &tree {
            if key.starts_with("x-") || is_empty(value) {
                continue;
            }
            if key == "deploy" {
                if let serde_json::Value::Object(d) = value {
                    for (k, v) in d {
                        if !DEPLOY_MAPPED.contains(&k.as_str())
                            && !k.starts_with("x-")
                            && !is_empty(v)
                        {
                            w.add(
                                name,
                                &format!("deploy.{k}"),
                                "has no Kubernetes mapping here; left out",
                            );
                        }
                    }
                }
                continue;
            }
            if !MAPPED.contains(&key.as_str()) && !w.has(name, key) {
                w.add(name, key, "has no Kubernetes mapping here; left out");
            }
        }
    }
    let top: [(&str, BTreeMap<&String, serde_json::Value>); 2] = [
        (
            "networks",
            ctx.project
                .networks
                .iter()
                .filter_map(|(k, v)| Some((k, serde_json::to_value(v).ok()?)))
                .collect(),
        ),
        (
            "volumes",
            ctx.project
                .volumes
                .iter()
                .filter_map(|(k, v)| Some((k, serde_json::to_value(v).ok()?)))
                .collect(),
        ),
    ];
    for (kind, objs) in top {
        for (name, tree) in objs {
            let serde_json::Value::Object(tree) = tree else {
                continue;
            };
            for (key, value) in &tree {
                let ok = matches!(key.as_str(), "name")
                    || key.starts_with("x-")
                    || (kind == "volumes" && matches!(key.as_str(), "labels" | "external"))
                    || is_empty(value);
                if !ok {
                    w.add(
                        &format!("{kind}.{name}"),
                        key,
                        "has no Kubernetes mapping here; left out",
                    );
                }
            }
        }
    }
    if !ctx.project.models.is_empty() {
        w.add(
            "project",
            "models",
            "AI models have no Kubernetes mapping here; left out",
        );
    }
}

fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Bool(b) => !b,
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        serde_json::Value::Number(_) => false,
    }
}
