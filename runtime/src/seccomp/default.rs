//! docker's default seccomp policy, expressed as our own rules: allow every system call
//! of the table except those that reach outside the container or the kernel's
//! namespacing (module loading, kexec, clock setting, keyrings, mount and namespace
//! changes, BPF, perf, ...); allow those back when the process holds the capability
//! that would let it use them anyway, as docker does. Unknown calls get EPERM.

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};

use super::table::SYSCALLS;
use crate::capabilities::{number, Sets};

/// Denied unless the process holds the capability named first.
const GATED: &[(&str, &[&str])] = &[
    (
        "SYS_ADMIN",
        &[
            "bpf",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "name_to_handle_at",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setns",
            "syslog",
            "umount2",
            "unshare",
        ],
    ),
    ("SYS_BOOT", &["reboot"]),
    ("SYS_CHROOT", &["chroot"]),
    (
        "SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("SYS_PACCT", &["acct"]),
    // ptrace itself is allowed: since Linux 4.8 seccomp is re-checked after a tracer acts.
    (
        "SYS_PTRACE",
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
        ],
    ),
    ("SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "SYS_TIME",
        &[
            "settimeofday",
            "stime",
            "clock_settime",
            "clock_adjtime",
            "adjtimex",
        ],
    ),
    ("SYS_TTY_CONFIG", &["vhangup"]),
    (
        "SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("SYSLOG", &["syslog"]),
    ("BPF", &["bpf"]),
    ("PERFMON", &["perf_event_open"]),
    ("DAC_READ_SEARCH", &["open_by_handle_at"]),
];

/// Never allowed: obsolete or host-wide calls no container needs.
const DENIED: &[&str] = &[
    "add_key",
    "create_module",
    "get_kernel_syms",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "nfsservctl",
    "query_module",
    "request_key",
    "swapoff",
    "swapon",
    "_sysctl",
    "sysfs",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
    "pivot_root",
    "afs_syscall",
    "tuxcall",
    "security",
    "putpmsg",
    "getpmsg",
    "vserver",
    "open_by_handle_at",
    "personality",
    "clone",
    "socket",
    "clock_adjtime",
    "adjtimex",
];

/// Namespace flags of clone(2): CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET.
const CLONE_NS_MASK: u64 = 0x7E02_0000;

/// The profile for a process holding `caps` (its bounding set decides, as in docker).
pub fn profile(caps: &Sets) -> LinuxSeccomp {
    let has = |c: &str| number(c).is_some_and(|n| caps.bounding & (1 << n) != 0);
    let gated = |name: &str| GATED.iter().any(|(_, calls)| calls.contains(&name));
    let allowed_by_cap = |name: &str| {
        GATED
            .iter()
            .any(|(cap, calls)| calls.contains(&name) && has(cap))
    };
    let mut allow: Vec<&str> = SYSCALLS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| (!DENIED.contains(n) && !gated(n)) || allowed_by_cap(n))
        .collect();
    allow.sort_unstable();
    allow.dedup();
    let mut rules: Vec<Value> = vec![json!({"names": allow, "action": "SCMP_ACT_ALLOW"})];
    // personality: only the harmless domains (linux, linux32, and those with UNAME26).
    for v in [0u64, 8, 0x20000, 0x20008, 0xffff_ffff] {
        rules.push(json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]}));
    }
    if has("SYS_ADMIN") {
        rules.push(json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW"}));
    } else {
        // clone without namespace flags; clone3 hides its flags in memory BPF cannot
        // read, so it fails with ENOSYS and libc falls back to clone.
        rules.push(json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": CLONE_NS_MASK, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}));
        rules.push(
            json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS}),
        );
    }
    // socket: every family but AF_VSOCK (40), which reaches the hypervisor.
    rules.push(json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]}));
    if has("SYS_TIME") {
        rules.push(json!({"names": ["clock_adjtime", "adjtimex"], "action": "SCMP_ACT_ALLOW"}));
    } else {
        // Reading the clock through adjtimex(mode 0) is harmless.
        rules.push(
            json!({"names": ["adjtimex", "clock_adjtime"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}),
        );
    }
    if has("DAC_READ_SEARCH") {
        rules.push(json!({"names": ["open_by_handle_at"], "action": "SCMP_ACT_ALLOW"}));
    }
    serde_json::from_value(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": libc::EPERM,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    }))
    .expect("the default profile is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::DOCKER_DEFAULT;

    fn docker_caps() -> Sets {
        let m = DOCKER_DEFAULT
            .iter()
            .filter_map(|c| number(c))
            .fold(0, |m, n| m | 1u64 << n);
        Sets {
            bounding: m,
            effective: m,
            permitted: m,
            ..Sets::default()
        }
    }

    fn allowed(p: &LinuxSeccomp, name: &str) -> bool {
        use oci_spec::runtime::LinuxSeccompAction;
        p.syscalls().iter().flatten().any(|r| {
            r.action() == LinuxSeccompAction::ScmpActAllow
                && r.args().is_none()
                && r.names().iter().any(|n| n == name)
        })
    }

    #[test]
    fn default_caps_deny_host_calls() {
        let p = profile(&docker_caps());
        for n in ["read", "openat", "execve", "chroot", "setuid", "wait4"] {
            assert!(allowed(&p, n), "{n}");
        }
        for n in [
            "mount",
            "unshare",
            "setns",
            "kexec_load",
            "init_module",
            "bpf",
            "keyctl",
            "reboot",
            "clock_settime",
        ] {
            assert!(!allowed(&p, n), "{n}");
        }
        let prog = super::super::compile(&p).unwrap();
        assert!(prog.len() < 1200, "{} instructions", prog.len());
    }

    #[test]
    fn sys_admin_brings_mount_back() {
        let mut caps = docker_caps();
        caps.bounding |= 1 << 21;
        assert!(allowed(&profile(&caps), "mount"));
    }
}
