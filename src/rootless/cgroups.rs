//! cgroups for rootless berth: containers go in the cgroup v2 subtree
//! delegated to the user (systemd's `Delegate=`, or a directory an admin
//! chowned to the user, holding the user's session), where berth tracks and
//! kills them by cgroup and applies the limits whose controllers the subtree
//! has. Without a delegated subtree (cgroup v1, or v2 not delegated) limits are
//! skipped, as rootless docker and podman do; either way `up` warns once per
//! project naming what it ignores.
//!
//! The subtree is found by the runtime (`berth_runtime::cgroups::detect`);
//! this module says which compose keys need which controller.

use berth_runtime::cgroups::Hierarchy;
use serde_json::Value;

/// The subtree delegated to this (joined) rootless berth, if any.
pub fn delegated() -> Option<&'static Hierarchy> {
    if !super::in_user_namespace() {
        return None;
    }
    berth_runtime::cgroups::hierarchies()
        .iter()
        .find(|h| h.version == 2)
}

/// Whether `controller` is delegated.
fn has(controller: &str) -> bool {
    delegated().is_some_and(|h| h.has(controller))
}

/// Drops from a spec's `linux.resources` every setting whose controller the
/// delegated subtree lacks (all of them without one): the runtime would
/// otherwise refuse them, and `up` has already warned.
pub fn keep_delegated(resources: &mut Value) {
    let Some(r) = resources.as_object_mut() else {
        return;
    };
    for (key, controller) in [("memory", "memory"), ("pids", "pids")] {
        if !has(controller) {
            r.remove(key);
        }
    }
    if let Some(cpu) = r.get_mut("cpu").and_then(Value::as_object_mut) {
        if !has("cpu") {
            for k in ["shares", "quota", "period"] {
                cpu.remove(k);
            }
        }
        if !has("cpuset") {
            cpu.remove("cpus");
            cpu.remove("mems");
        }
        if cpu.is_empty() {
            r.remove("cpu");
        }
    }
}

/// The warning for limits `ignored` (`(key path, controller)`), naming where
/// cgroups stand; None when nothing is ignored.
pub fn warning(ignored: &[(String, &str)]) -> Option<String> {
    let ignored: Vec<&(String, &str)> = ignored.iter().filter(|(_, c)| !has(c)).collect();
    if ignored.is_empty() {
        return None;
    }
    let keys = ignored
        .iter()
        .map(|(k, c)| format!("{k} ({c})"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(match delegated() {
        Some(h) => format!(
            "WARN[0000] rootless berth applies only the limits whose controllers are delegated to it ({} delegates {}): {keys} ignored",
            h.mount.display(),
            if h.controllers.is_empty() {
                "none".to_string()
            } else {
                h.controllers.join(" ")
            }
        ),
        None => format!(
            "WARN[0000] rootless berth applies no cgroup limits (no cgroup v2 subtree is delegated to the user, and cgroup v1 cannot be; see `berth doctor`): {keys} ignored"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_delegation_every_limit_is_dropped_and_devices_stay() {
        // Not in a user namespace here: nothing is delegated.
        let mut r = serde_json::json!({
            "devices": [{"allow": false, "access": "rwm"}],
            "memory": {"limit": 1},
            "cpu": {"shares": 2, "cpus": "0"},
            "pids": {"limit": 3}
        });
        keep_delegated(&mut r);
        assert_eq!(
            r,
            serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]})
        );
        let w = warning(&[("services.a.mem_limit".into(), "memory")]).unwrap();
        assert!(w.contains("services.a.mem_limit (memory) ignored"), "{w}");
        assert!(w.contains("no cgroup v2 subtree is delegated"), "{w}");
        assert!(warning(&[]).is_none());
    }
}
