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

/// "unlimited" for an rlimit.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// The rlimits every container starts from, `(name as in ulimits:, soft, hard)`: those of
/// a dockerd and containerd started by systemd with docker's units (`LimitNOFILE=
/// infinity`, which systemd caps at fs.nr_open, `LimitNPROC=infinity`,
/// `LimitCORE=infinity`; the rest systemd's and the kernel's defaults). Never the limits
/// of whoever ran `berth`: a shell under `ulimit -n 512` must not shrink its
/// containers. A service's `ulimits:` replace them one by one.
pub fn rlimits() -> Vec<(&'static str, u64, u64)> {
    let read = |p: &str| -> Option<u64> { std::fs::read_to_string(p).ok()?.trim().parse().ok() };
    let nofile = read("/proc/sys/fs/nr_open").unwrap_or(1 << 20).min(1 << 20);
    // The kernel gives init max_threads/2 pending signals; systemd leaves it so.
    let sigpending = read("/proc/sys/kernel/threads-max").map_or(63_429, |t| t / 2);
    let mut out = vec![
        ("nofile", nofile, nofile),
        ("nproc", RLIM_INFINITY, RLIM_INFINITY),
        ("core", RLIM_INFINITY, RLIM_INFINITY),
        ("stack", 8 << 20, RLIM_INFINITY),
        ("memlock", 8 << 20, 8 << 20),
        ("sigpending", sigpending, sigpending),
        ("msgqueue", 819_200, 819_200),
        ("nice", 0, 0),
        ("rtprio", 0, 0),
        ("rttime", RLIM_INFINITY, RLIM_INFINITY),
        ("cpu", RLIM_INFINITY, RLIM_INFINITY),
        ("fsize", RLIM_INFINITY, RLIM_INFINITY),
        ("data", RLIM_INFINITY, RLIM_INFINITY),
        ("as", RLIM_INFINITY, RLIM_INFINITY),
        ("rss", RLIM_INFINITY, RLIM_INFINITY),
        ("locks", RLIM_INFINITY, RLIM_INFINITY),
    ];
    // No hard limit can be raised without CAP_SYS_RESOURCE (rootless, or a host that
    // withholds it even from root): stay within the caller's hard limits, which is
    // also what a daemon started there would get.
    // CAP_SYS_RESOURCE of a user namespace (rootless) raises nothing either.
    if !has_sys_resource() || crate::rootless::in_user_namespace() {
        for (name, soft, hard) in &mut out {
            if let Some(cur) = current_hard(name) {
                *hard = (*hard).min(cur);
                *soft = (*soft).min(*hard);
            }
        }
    }
    out
}

/// Whether this process may raise hard rlimits (CAP_SYS_RESOURCE, bit 24, effective).
fn has_sys_resource() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 24) != 0)
}

fn current_hard(name: &str) -> Option<u64> {
    let res = match name {
        "nofile" => libc::RLIMIT_NOFILE,
        "nproc" => libc::RLIMIT_NPROC,
        "core" => libc::RLIMIT_CORE,
        "stack" => libc::RLIMIT_STACK,
        "memlock" => libc::RLIMIT_MEMLOCK,
        "sigpending" => libc::RLIMIT_SIGPENDING,
        "msgqueue" => libc::RLIMIT_MSGQUEUE,
        "nice" => libc::RLIMIT_NICE,
        "rtprio" => libc::RLIMIT_RTPRIO,
        "rttime" => libc::RLIMIT_RTTIME,
        "cpu" => libc::RLIMIT_CPU,
        "fsize" => libc::RLIMIT_FSIZE,
        "data" => libc::RLIMIT_DATA,
        "as" => libc::RLIMIT_AS,
        "rss" => libc::RLIMIT_RSS,
        "locks" => libc::RLIMIT_LOCKS,
        _ => return None,
    };
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit we own.
    (unsafe { libc::getrlimit(res, &mut l) } == 0).then_some(l.rlim_max)
}

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
