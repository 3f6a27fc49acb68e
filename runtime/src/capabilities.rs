//! Capability sets: names → numbers, bounding-set drop, capset(2), ambient raise.

use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use crate::error::{Error, Result};

/// Capability names in kernel order (index = number).
pub const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// docker's default set.
pub const DOCKER_DEFAULT: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// Number of a capability name, with or without the `CAP_` prefix.
pub fn number(name: &str) -> Option<u32> {
    let n = name.strip_prefix("CAP_").unwrap_or(name);
    NAMES
        .iter()
        .position(|x| x.eq_ignore_ascii_case(n))
        .map(|i| i as u32)
}

fn mask(set: &Option<Capabilities>) -> u64 {
    set.iter()
        .flatten()
        .filter_map(|c| number(&c.to_string()))
        .fold(0u64, |m, n| m | (1u64 << n))
}

/// The five sets as bit masks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sets {
    /// Bounding.
    pub bounding: u64,
    /// Effective.
    pub effective: u64,
    /// Permitted.
    pub permitted: u64,
    /// Inheritable.
    pub inheritable: u64,
    /// Ambient.
    pub ambient: u64,
}

impl Sets {
    /// From the spec (absent spec = no capabilities at all).
    pub fn from_spec(c: Option<&LinuxCapabilities>) -> Sets {
        let Some(c) = c else { return Sets::default() };
        Sets {
            bounding: mask(c.bounding()),
            effective: mask(c.effective()),
            permitted: mask(c.permitted()),
            inheritable: mask(c.inheritable()),
            ambient: mask(c.ambient()),
        }
    }
}

impl Sets {
    /// The sets cut down to `held` (a bounding set): a process can never gain a
    /// capability outside its bounding set, and capset(2) fails with EPERM when
    /// asked to. A runtime that itself lacks some (in a container, or under a
    /// restricted service manager) still runs `privileged` containers and
    /// `exec --privileged` with everything it has, as crun does.
    pub fn limited_to(&self, held: u64) -> Sets {
        Sets {
            bounding: self.bounding & held,
            effective: self.effective & held,
            permitted: self.permitted & held,
            inheritable: self.inheritable & held,
            ambient: self.ambient & held,
        }
    }
}

impl Sets {
    /// The ambient capabilities the kernel lets us raise: only those both permitted and
    /// inheritable. runc drops the others (`runc spec` asks for ambient caps with no
    /// inheritable set, and its bundle must start).
    pub fn raisable_ambient(&self) -> u64 {
        self.ambient & self.permitted & self.inheritable
    }
}

/// Names of the capabilities in `mask`, for messages.
pub fn names(mask: u64) -> Vec<String> {
    (0..64u32)
        .filter(|c| mask & (1u64 << c) != 0)
        .map(|c| {
            NAMES
                .get(c as usize)
                .map_or_else(|| format!("CAP_{c}"), |n| format!("CAP_{n}"))
        })
        .collect()
}

/// The calling thread's bounding set (PR_CAPBSET_READ for each known capability).
pub fn bounding_now() -> u64 {
    (0..=last_cap().min(63))
        .filter(|&cap| {
            // SAFETY: PR_CAPBSET_READ only reads the calling thread's bounding set.
            unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) == 1 }
        })
        .fold(0u64, |m, cap| m | (1u64 << cap))
}

/// The kernel's highest capability number, read once per process: the init reads
/// the bounding set when it prepares the process and drops from it just before the
/// exec, and an open of a /proc/sys file is a lookup through its sysctl tables.
fn last_cap() -> u32 {
    static LAST: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40)
    })
}

/// Drop from the bounding set everything not in `bounding`; needs CAP_SETPCAP, so it
/// runs before the uid change.
pub fn drop_bounding(bounding: u64) -> Result<()> {
    for cap in 0..=last_cap() {
        if cap < 64 && bounding & (1 << cap) == 0 {
            let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
                return Err(Error::sys("drop bounding capability"));
            }
        }
    }
    Ok(())
}

#[repr(C)]
struct Header {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// capset(2) effective/permitted/inheritable, then raise the ambient set.
pub fn set(s: &Sets) -> Result<()> {
    let hdr = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let lo = |m: u64| m as u32;
    let hi = |m: u64| (m >> 32) as u32;
    let data = [
        Data {
            effective: lo(s.effective),
            permitted: lo(s.permitted),
            inheritable: lo(s.inheritable),
        },
        Data {
            effective: hi(s.effective),
            permitted: hi(s.permitted),
            inheritable: hi(s.inheritable),
        },
    ];
    if unsafe { libc::syscall(libc::SYS_capset, &hdr, data.as_ptr()) } < 0 {
        return Err(Error::sys("capset"));
    }
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    let ambient = s.raisable_ambient();
    for cap in 0..64u32 {
        if ambient & (1 << cap) != 0 {
            let r = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                    cap as libc::c_ulong,
                    0,
                    0,
                )
            };
            if r < 0 {
                return Err(Error::sys("raise ambient capability"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_kernel_numbers() {
        assert_eq!(number("CAP_CHOWN"), Some(0));
        assert_eq!(number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(number("NET_RAW"), Some(13));
        assert_eq!(number("CAP_BPF"), Some(39));
        assert_eq!(number("CAP_NOPE"), None);
        let caps: Capabilities = ["CAP_KILL", "CAP_CHOWN"]
            .iter()
            .map(|s| serde_json::from_str(&format!("\"{s}\"")).unwrap())
            .collect();
        assert_eq!(mask(&Some(caps)), (1 << 5) | 1);
    }

    #[test]
    fn sets_are_limited_to_what_is_held() {
        let all = Sets {
            bounding: u64::MAX,
            effective: u64::MAX,
            permitted: u64::MAX,
            inheritable: 1 << 24,
            ambient: 0,
        };
        let held = (1u64 << 41) - 1 - (1 << 24);
        let got = all.limited_to(held);
        assert_eq!(got.bounding, held);
        assert_eq!(got.effective, held);
        assert_eq!(got.permitted, held);
        assert_eq!(got.inheritable, 0);
    }

    #[test]
    fn bounding_now_reads_this_process() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let hex = status
            .lines()
            .find_map(|l| l.strip_prefix("CapBnd:"))
            .unwrap()
            .trim();
        assert_eq!(bounding_now(), u64::from_str_radix(hex, 16).unwrap());
    }
}
