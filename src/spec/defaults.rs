//! What docker gives every container unless told otherwise (moby `oci/defaults.go`,
//! containerd `pkg/oci/spec.go`).

/// The capabilities docker leaves a non-privileged container.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability the kernel knows, for `privileged` and `cap_add: [ALL]`.
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Paths hidden from a non-privileged container.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths a non-privileged container sees read-only.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

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
        return ALL_CAPS.iter().map(|s| s.to_string()).collect();
    }
    let add: Vec<String> = add.iter().map(|c| cap_name(c)).collect();
    let drop: Vec<String> = drop.iter().map(|c| cap_name(c)).collect();
    let mut caps: Vec<String> = if drop.iter().any(|c| c == "ALL") {
        vec![]
    } else {
        DEFAULT_CAPS.iter().map(|s| s.to_string()).collect()
    };
    if add.iter().any(|c| c == "ALL") {
        caps = ALL_CAPS.iter().map(|s| s.to_string()).collect();
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
        assert_eq!(effective_caps(true, &[], &[]).len(), ALL_CAPS.len());
        assert_eq!(
            effective_caps(false, &s(&["ALL"]), &[]).len(),
            ALL_CAPS.len()
        );
    }
}
