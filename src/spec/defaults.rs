//! What docker gives every container unless told otherwise (moby `oci/defaults.go`,
//! containerd `pkg/oci/spec.go`).

// docker's lists live in the runtime, which applies them; berth builds specs from them.
/// The capabilities docker leaves a non-privileged container.
pub use berth_runtime::capabilities::DOCKER_DEFAULT as DEFAULT_CAPS;
/// Paths hidden from a non-privileged container.
pub use berth_runtime::spec::MASKED_PATHS;
/// Paths a non-privileged container sees read-only.
pub use berth_runtime::spec::READONLY_PATHS;

/// Every capability the kernel knows, `CAP_` names, for `privileged` and `cap_add: [ALL]`.
pub fn all_caps() -> impl Iterator<Item = String> {
    berth_runtime::capabilities::NAMES.iter().map(|n| {
        if n.starts_with("CAP_") {
            n.to_string()
        } else {
            format!("CAP_{}", n.to_ascii_uppercase())
        }
    })
}

/// The `PATH` a container gets when its image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The size of `/dev/shm` unless `shm_size` says otherwise (64 MiB).
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

/// Normalises a capability name as docker accepts it (`net_admin`, `NET_ADMIN`,
/// `CAP_NET_ADMIN` are one).
pub fn cap_name(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    if upper.starts_with("CAP_") || upper == "ALL" {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

/// The capability set after `cap_add` and `cap_drop`, docker's way: `ALL` in
/// `cap_add` grants everything, `ALL` in `cap_drop` starts from nothing, and a
/// name in both is dropped.
pub fn effective_caps(privileged: bool, add: &[String], drop: &[String]) -> Vec<String> {
    if privileged {
        return all_caps().collect();
    }
    let add: Vec<String> = add.iter().map(|c| cap_name(c)).collect();
    let drop: Vec<String> = drop.iter().map(|c| cap_name(c)).collect();
    let mut caps: Vec<String> = if drop.iter().any(|c| c == "ALL") {
        vec![]
    } else {
        DEFAULT_CAPS.iter().map(|s| cap_name(s)).collect()
    };
    if add.iter().any(|c| c == "ALL") {
        caps = all_caps().collect();
    } else {
        for c in add {
            if !caps.contains(&c) {
                caps.push(c);
            }
        }
    }
    caps.retain(|c| !drop.contains(c));
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_add_and_drop_like_docker() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let caps = effective_caps(false, &s(&["net_admin"]), &s(&["CAP_MKNOD"]));
        assert!(caps.contains(&"CAP_NET_ADMIN".into()));
        assert!(!caps.contains(&"CAP_MKNOD".into()));
        assert_eq!(caps.len(), DEFAULT_CAPS.len());
        assert_eq!(
            effective_caps(false, &s(&["CHOWN"]), &s(&["ALL"])),
            s(&["CAP_CHOWN"])
        );
        assert_eq!(effective_caps(true, &[], &[]).len(), all_caps().count());
        assert_eq!(
            effective_caps(false, &s(&["ALL"]), &[]).len(),
            all_caps().count()
        );
    }
}
