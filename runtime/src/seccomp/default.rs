//! docker's default seccomp profile, rule by rule: moby/profiles `seccomp/default.json`
//! (v0.2.3, as vendored by moby/moby b985e23), transcribed as data and resolved as
//! moby's `setupSeccomp` does — a rule is kept when the process's bounding set holds
//! every capability it `includes`, none it `excludes`, the host architecture (amd64)
//! matches its `arches`, and the kernel is at least its `minKernel`. Unknown calls get
//! EPERM. The architectures are docker's for amd64: x86_64 with the i386 and x32 ABIs;
//! the filter matches each ABI against its own numbers (`super::compile`).
//!
//! Where berth is stricter than docker, and stays so:
//! - the x32 ABI is refused whatever the profile says (`super::compile`);
//! - AF_VSOCK (40) and AF_ALG (38) are refused to socket(2) by docker's own rules; on
//!   i386 `socketcall` hides the family in memory a filter cannot read, as docker notes,
//!   so there the direct socket(2) (359) is filtered and `socketcall` is allowed, or no
//!   32-bit program could open any socket.

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};

use crate::capabilities::{number, Sets};

/// A rule's action.
#[derive(Debug, Clone, Copy)]
enum Act {
    Allow,
    Errno(u32),
}

/// An argument comparison (OCI's `SCMP_CMP_*`).
#[derive(Debug, Clone, Copy)]
enum Op {
    Eq,
    Lt,
    Gt,
    MaskedEq,
}

/// One argument condition.
#[derive(Debug)]
struct Arg {
    index: u32,
    value: u64,
    op: Op,
}

/// docker's `includes` / `excludes`.
#[derive(Debug)]
struct Filter {
    caps: &'static [&'static str],
    arches: &'static [&'static str],
    min_kernel: Option<(u32, u32)>,
}

const NONE: Filter = Filter {
    caps: &[],
    arches: &[],
    min_kernel: None,
};

/// One rule of docker's profile.
#[derive(Debug)]
struct Rule {
    names: &'static [&'static str],
    action: Act,
    args: &'static [Arg],
    includes: Filter,
    excludes: Filter,
}

/// The host architecture, as docker's filters name it.
const NATIVE: &str = "amd64";

/// docker's rules, in docker's order.
const RULES: &[Rule] = &[
    Rule {
        names: &[
            "accept",
            "accept4",
            "access",
            "adjtimex",
            "alarm",
            "bind",
            "brk",
            "cachestat",
            "capget",
            "capset",
            "chdir",
            "chmod",
            "chown",
            "chown32",
            "clock_adjtime",
            "clock_adjtime64",
            "clock_getres",
            "clock_getres_time64",
            "clock_gettime",
            "clock_gettime64",
            "clock_nanosleep",
            "clock_nanosleep_time64",
            "close",
            "close_range",
            "connect",
            "copy_file_range",
            "creat",
            "dup",
            "dup2",
            "dup3",
            "epoll_create",
            "epoll_create1",
            "epoll_ctl",
            "epoll_ctl_old",
            "epoll_pwait",
            "epoll_pwait2",
            "epoll_wait",
            "epoll_wait_old",
            "eventfd",
            "eventfd2",
            "execve",
            "execveat",
            "exit",
            "exit_group",
            "faccessat",
            "faccessat2",
            "fadvise64",
            "fadvise64_64",
            "fallocate",
            "fanotify_mark",
            "fchdir",
            "fchmod",
            "fchmodat",
            "fchmodat2",
            "fchown",
            "fchown32",
            "fchownat",
            "fcntl",
            "fcntl64",
            "fdatasync",
            "fgetxattr",
            "flistxattr",
            "flock",
            "fork",
            "fremovexattr",
            "fsetxattr",
            "fstat",
            "fstat64",
            "fstatat64",
            "fstatfs",
            "fstatfs64",
            "fsync",
            "ftruncate",
            "ftruncate64",
            "futex",
            "futex_requeue",
            "futex_time64",
            "futex_wait",
            "futex_waitv",
            "futex_wake",
            "futimesat",
            "getcpu",
            "getcwd",
            "getdents",
            "getdents64",
            "getegid",
            "getegid32",
            "geteuid",
            "geteuid32",
            "getgid",
            "getgid32",
            "getgroups",
            "getgroups32",
            "getitimer",
            "getpeername",
            "getpgid",
            "getpgrp",
            "getpid",
            "getppid",
            "getpriority",
            "getrandom",
            "getresgid",
            "getresgid32",
            "getresuid",
            "getresuid32",
            "getrlimit",
            "get_robust_list",
            "getrusage",
            "getsid",
            "getsockname",
            "getsockopt",
            "get_thread_area",
            "gettid",
            "gettimeofday",
            "getuid",
            "getuid32",
            "getxattr",
            "getxattrat",
            "inotify_add_watch",
            "inotify_init",
            "inotify_init1",
            "inotify_rm_watch",
            "io_cancel",
            "ioctl",
            "io_destroy",
            "io_getevents",
            "io_pgetevents",
            "io_pgetevents_time64",
            "ioprio_get",
            "ioprio_set",
            "io_setup",
            "io_submit",
            "ipc",
            "kill",
            "landlock_add_rule",
            "landlock_create_ruleset",
            "landlock_restrict_self",
            "lchown",
            "lchown32",
            "lgetxattr",
            "link",
            "linkat",
            "listen",
            "listmount",
            "listxattr",
            "listxattrat",
            "llistxattr",
            "_llseek",
            "lremovexattr",
            "lseek",
            "lsetxattr",
            "lstat",
            "lstat64",
            "madvise",
            "map_shadow_stack",
            "membarrier",
            "memfd_create",
            "memfd_secret",
            "mincore",
            "mkdir",
            "mkdirat",
            "mknod",
            "mknodat",
            "mlock",
            "mlock2",
            "mlockall",
            "mmap",
            "mmap2",
            "mprotect",
            "mq_getsetattr",
            "mq_notify",
            "mq_open",
            "mq_timedreceive",
            "mq_timedreceive_time64",
            "mq_timedsend",
            "mq_timedsend_time64",
            "mq_unlink",
            "mremap",
            "mseal",
            "msgctl",
            "msgget",
            "msgrcv",
            "msgsnd",
            "msync",
            "munlock",
            "munlockall",
            "munmap",
            "name_to_handle_at",
            "nanosleep",
            "newfstatat",
            "_newselect",
            "open",
            "openat",
            "openat2",
            "pause",
            "pidfd_open",
            "pidfd_send_signal",
            "pipe",
            "pipe2",
            "pkey_alloc",
            "pkey_free",
            "pkey_mprotect",
            "poll",
            "ppoll",
            "ppoll_time64",
            "prctl",
            "pread64",
            "preadv",
            "preadv2",
            "prlimit64",
            "process_mrelease",
            "pselect6",
            "pselect6_time64",
            "pwrite64",
            "pwritev",
            "pwritev2",
            "read",
            "readahead",
            "readlink",
            "readlinkat",
            "readv",
            "recv",
            "recvfrom",
            "recvmmsg",
            "recvmmsg_time64",
            "recvmsg",
            "remap_file_pages",
            "removexattr",
            "removexattrat",
            "rename",
            "renameat",
            "renameat2",
            "restart_syscall",
            "riscv_hwprobe",
            "rmdir",
            "rseq",
            "rt_sigaction",
            "rt_sigpending",
            "rt_sigprocmask",
            "rt_sigqueueinfo",
            "rt_sigreturn",
            "rt_sigsuspend",
            "rt_sigtimedwait",
            "rt_sigtimedwait_time64",
            "rt_tgsigqueueinfo",
            "sched_getaffinity",
            "sched_getattr",
            "sched_getparam",
            "sched_get_priority_max",
            "sched_get_priority_min",
            "sched_getscheduler",
            "sched_rr_get_interval",
            "sched_rr_get_interval_time64",
            "sched_setaffinity",
            "sched_setattr",
            "sched_setparam",
            "sched_setscheduler",
            "sched_yield",
            "seccomp",
            "select",
            "semctl",
            "semget",
            "semop",
            "semtimedop",
            "semtimedop_time64",
            "send",
            "sendfile",
            "sendfile64",
            "sendmmsg",
            "sendmsg",
            "sendto",
            "setfsgid",
            "setfsgid32",
            "setfsuid",
            "setfsuid32",
            "setgid",
            "setgid32",
            "setgroups",
            "setgroups32",
            "setitimer",
            "setpgid",
            "setpriority",
            "setregid",
            "setregid32",
            "setresgid",
            "setresgid32",
            "setresuid",
            "setresuid32",
            "setreuid",
            "setreuid32",
            "setrlimit",
            "set_robust_list",
            "setsid",
            "setsockopt",
            "set_thread_area",
            "set_tid_address",
            "setuid",
            "setuid32",
            "setxattr",
            "setxattrat",
            "shmat",
            "shmctl",
            "shmdt",
            "shmget",
            "shutdown",
            "sigaltstack",
            "signalfd",
            "signalfd4",
            "sigprocmask",
            "sigreturn",
            "socketcall",
            "socketpair",
            "splice",
            "stat",
            "stat64",
            "statfs",
            "statfs64",
            "statmount",
            "statx",
            "symlink",
            "symlinkat",
            "sync",
            "sync_file_range",
            "syncfs",
            "sysinfo",
            "tee",
            "tgkill",
            "time",
            "timer_create",
            "timer_delete",
            "timer_getoverrun",
            "timer_gettime",
            "timer_gettime64",
            "timer_settime",
            "timer_settime64",
            "timerfd_create",
            "timerfd_gettime",
            "timerfd_gettime64",
            "timerfd_settime",
            "timerfd_settime64",
            "times",
            "tkill",
            "truncate",
            "truncate64",
            "ugetrlimit",
            "umask",
            "uname",
            "unlink",
            "unlinkat",
            "uretprobe",
            "utime",
            "utimensat",
            "utimensat_time64",
            "utimes",
            "vfork",
            "vmsplice",
            "wait4",
            "waitid",
            "waitpid",
            "write",
            "writev",
        ],
        action: Act::Allow,
        args: &[],
        includes: NONE,
        excludes: NONE,
    },
    Rule {
        names: &["process_vm_readv", "process_vm_writev", "ptrace"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &[],
            arches: &[],
            min_kernel: Some((4, 8)),
        },
        excludes: NONE,
    },
    Rule {
        names: &["socket"],
        action: Act::Allow,
        args: &[Arg {
            index: 0,
            value: 38,
            op: Op::Lt,
        }],
        includes: NONE,
        excludes: NONE,
    },
    Rule {
        names: &["socket"],
        action: Act::Allow,
        args: &[Arg {
            index: 0,
            value: 39,
            op: Op::Eq,
        }],
        includes: NONE,
        excludes: NONE,
    },
    Rule {
        names: &["socket"],
        action: Act::Allow,
        args: &[Arg {
            index: 0,
            value: 40,
            op: Op::Gt,
        }],
        includes: NONE,
        excludes: NONE,
    },
    Rule {
        names: &["personality"],
        action: Act::Allow,
        args: &[Arg {
            index: 0,
            value: 0,
            op: Op::Eq,
        }],
        includes: NONE,
        excludes: NONE,
    },
    Rule {
        names: &["personality"],
        action: Act::Allow,
        args: &[Arg {
            index: 0,
            value: 8,
            op: Op::Eq,
        }],
        includes: NONE,
        excludes: NONE,
    },
    Rule {
        names: &["personality"],
        action: Act::Allow,
        args: &[Arg {
            index: 0,
            value: 131072,
            op: Op::Eq,
        }],
        includes: NONE,
        excludes: NONE,
    },
    Rule {
        names: &["personality"],
        action: Act::Allow,
        args: &[Arg {
            index: 0,
            value: 131080,
            op: Op::Eq,
        }],
        includes: NONE,
        excludes: NONE,
    },
    Rule {
        names: &["personality"],
        action: Act::Allow,
        args: &[Arg {
            index: 0,
            value: 4294967295,
            op: Op::Eq,
        }],
        includes: NONE,
        excludes: NONE,
    },
    Rule {
        names: &["sync_file_range2", "swapcontext"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &[],
            arches: &["ppc64le"],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &[],
            arches: &["arm", "arm64"],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &["arch_prctl"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &[],
            arches: &["amd64", "x32"],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &["modify_ldt"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &[],
            arches: &["amd64", "x32", "x86"],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &[],
            arches: &["s390", "s390x"],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &["riscv_flush_icache"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &[],
            arches: &["riscv64"],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &["open_by_handle_at"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &["CAP_DAC_READ_SEARCH"],
            arches: &[],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "lsm_get_self_attr",
            "lsm_list_modules",
            "lsm_set_self_attr",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &["CAP_SYS_ADMIN"],
            arches: &[],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &["clone"],
        action: Act::Allow,
        args: &[Arg {
            index: 0,
            value: 2114060288,
            op: Op::MaskedEq,
        }],
        includes: NONE,
        excludes: Filter {
            caps: &["CAP_SYS_ADMIN"],
            arches: &["s390", "s390x"],
            min_kernel: None,
        },
    },
    // s390 parameter ordering for clone is different
    Rule {
        names: &["clone"],
        action: Act::Allow,
        args: &[Arg {
            index: 1,
            value: 2114060288,
            op: Op::MaskedEq,
        }],
        includes: Filter {
            caps: &[],
            arches: &["s390", "s390x"],
            min_kernel: None,
        },
        excludes: Filter {
            caps: &["CAP_SYS_ADMIN"],
            arches: &[],
            min_kernel: None,
        },
    },
    Rule {
        names: &["clone3"],
        action: Act::Errno(38),
        args: &[],
        includes: NONE,
        excludes: Filter {
            caps: &["CAP_SYS_ADMIN"],
            arches: &[],
            min_kernel: None,
        },
    },
    Rule {
        names: &["reboot"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &["CAP_SYS_BOOT"],
            arches: &[],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &["chroot"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &["CAP_SYS_CHROOT"],
            arches: &[],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &["delete_module", "init_module", "finit_module"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &["CAP_SYS_MODULE"],
            arches: &[],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &["acct"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &["CAP_SYS_PACCT"],
            arches: &[],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &["CAP_SYS_PTRACE"],
            arches: &[],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &["iopl", "ioperm"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &["CAP_SYS_RAWIO"],
            arches: &[],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &["settimeofday", "stime", "clock_settime", "clock_settime64"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &["CAP_SYS_TIME"],
            arches: &[],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &["vhangup"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &["CAP_SYS_TTY_CONFIG"],
            arches: &[],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &["CAP_SYS_NICE"],
            arches: &[],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &["syslog"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &["CAP_SYSLOG"],
            arches: &[],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &["bpf"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &["CAP_BPF"],
            arches: &[],
            min_kernel: None,
        },
        excludes: NONE,
    },
    Rule {
        names: &["perf_event_open"],
        action: Act::Allow,
        args: &[],
        includes: Filter {
            caps: &["CAP_PERFMON"],
            arches: &[],
            min_kernel: None,
        },
        excludes: NONE,
    },
];

/// The running kernel's (major, minor), for `minKernel`.
fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// The profile for a process holding `caps` (its bounding set decides, as in docker).
pub fn profile(caps: &Sets) -> LinuxSeccomp {
    profile_for(caps, kernel_version())
}

fn profile_for(caps: &Sets, kernel: (u32, u32)) -> LinuxSeccomp {
    let has = |c: &str| number(c).is_some_and(|n| caps.bounding & (1 << n) != 0);
    let keep = |r: &Rule| {
        let (inc, exc) = (&r.includes, &r.excludes);
        if exc.arches.contains(&NATIVE)
            || exc.caps.iter().any(|c| has(c))
            || exc.min_kernel.is_some_and(|k| kernel >= k)
        {
            return false;
        }
        (inc.arches.is_empty() || inc.arches.contains(&NATIVE))
            && inc.caps.iter().all(|c| has(c))
            && inc.min_kernel.is_none_or(|k| kernel >= k)
    };
    let rules: Vec<Value> = RULES
        .iter()
        .filter(|r| keep(r))
        .map(|r| {
            let mut v = json!({ "names": r.names });
            match r.action {
                Act::Allow => v["action"] = json!("SCMP_ACT_ALLOW"),
                Act::Errno(e) => {
                    v["action"] = json!("SCMP_ACT_ERRNO");
                    v["errnoRet"] = json!(e);
                }
            }
            if !r.args.is_empty() {
                let args: Vec<Value> = r
                    .args
                    .iter()
                    .map(|a| {
                        let op = match a.op {
                            Op::Eq => "SCMP_CMP_EQ",
                            Op::Lt => "SCMP_CMP_LT",
                            Op::Gt => "SCMP_CMP_GT",
                            Op::MaskedEq => "SCMP_CMP_MASKED_EQ",
                        };
                        json!({ "index": a.index, "value": a.value, "op": op })
                    })
                    .collect();
                v["args"] = json!(args);
            }
            v
        })
        .collect();
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
    fn default_caps_get_dockers_verdicts() {
        let p = profile_for(&docker_caps(), (6, 1));
        for n in [
            "read",
            "openat",
            "execve",
            "chroot",
            "setuid",
            "wait4",
            "adjtimex",
            "clock_adjtime",
            "pkey_alloc",
            "pkey_mprotect",
            "pkey_free",
            "mmap2",
            "socketcall",
            "getuid32",
            "modify_ldt",
            "arch_prctl",
            "ptrace",
        ] {
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
            "move_pages",
            "migrate_pages",
            "sethostname",
            "setdomainname",
            "get_mempolicy",
            "io_uring_setup",
            "s390_runtime_instr",
            "riscv_flush_icache",
            "set_tls",
        ] {
            assert!(!allowed(&p, n), "{n}");
        }
        // ptrace needs 4.8 (seccomp re-checked after a tracer's changes).
        assert!(!allowed(&profile_for(&docker_caps(), (4, 4)), "ptrace"));
        let prog = super::super::compile(&p).unwrap();
        assert!(prog.len() < 1200, "{} instructions", prog.len());
    }

    #[test]
    fn capabilities_bring_their_calls_back() {
        let mut caps = docker_caps();
        caps.bounding |= 1 << number("SYS_ADMIN").unwrap();
        let p = profile_for(&caps, (6, 1));
        for n in ["mount", "sethostname", "setdomainname", "clone", "clone3"] {
            assert!(allowed(&p, n), "{n}");
        }
        let mut caps = docker_caps();
        caps.bounding |= 1 << number("SYS_NICE").unwrap();
        let p = profile_for(&caps, (6, 1));
        assert!(allowed(&p, "mbind") && allowed(&p, "set_mempolicy"));
        // docker allows move_pages and migrate_pages to no one any more.
        assert!(!allowed(&p, "move_pages") && !allowed(&p, "migrate_pages"));
    }
}
