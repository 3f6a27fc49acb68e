//! `berth doctor`: what rootless berth needs on this host, what is missing, and
//! how to fix each item. Every check reads the host through [`Probe`], so the
//! verdicts are unit-tested without touching the machine.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::subid::{self, WANTED};

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Ready.
    Ok,
    /// Rootless berth works without it, with less (a warning).
    Limited,
    /// Rootless berth cannot work until this is fixed.
    Missing,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// The verdict.
    pub verdict: Verdict,
    /// What was found.
    pub found: String,
    /// What to do about it (empty when nothing).
    pub fix: String,
}

/// What the checks read from the host.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The user's name and ids.
    pub user: String,
    /// The user's uid.
    pub uid: u32,
    /// `/etc/subuid` ranges of the user.
    pub subuids: Vec<subid::Range>,
    /// `/etc/subgid` ranges of the user.
    pub subgids: Vec<subid::Range>,
    /// `newuidmap` / `newgidmap`: path and whether it is setuid root (or has file
    /// capabilities).
    pub idmap_tools: Vec<(&'static str, Option<(PathBuf, bool)>)>,
    /// `/proc/sys/user/max_user_namespaces`.
    pub max_user_namespaces: Option<u64>,
    /// `/proc/sys/kernel/unprivileged_userns_clone` (Debian's knob), when present.
    pub userns_clone: Option<u64>,
    /// Whether the user may open /dev/net/tun, and its mode.
    pub tun: Option<(u32, bool)>,
    /// The network helpers found in PATH, in berth's order of preference.
    pub net_helpers: Vec<(&'static str, PathBuf)>,
    /// `BERTH_ROOTLESS_NETWORK_CMD`, when set.
    pub net_helper_choice: Option<String>,
    /// `$XDG_RUNTIME_DIR` and whether it is usable (owned, 0700).
    pub xdg_runtime_dir: Option<(PathBuf, bool)>,
    /// `net.ipv4.ip_unprivileged_port_start`.
    pub unprivileged_port_start: Option<u32>,
    /// `net.ipv4.ping_group_range`.
    pub ping_group_range: Option<(u64, u64)>,
    /// The cgroup v2 subtree delegated to the user and the controllers it
    /// offers; else whether cgroup v2 is mounted at all.
    pub cgroup: Result<(PathBuf, Vec<String>), bool>,
    /// The kernel release (`6.1.0`).
    pub kernel: (u32, u32),
    /// fuse-overlayfs, when installed (the overlay fallback).
    pub fuse_overlayfs: Option<PathBuf>,
    /// Whether the user may open /dev/fuse, and its mode.
    pub fuse_dev: Option<(u32, bool)>,
}

/// Reads the real host.
pub fn probe() -> Probe {
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let user = super::user_name(uid);
    let num = |p: &str| -> Option<u64> { std::fs::read_to_string(p).ok()?.trim().parse().ok() };
    let idmap_tools = ["newuidmap", "newgidmap"]
        .into_iter()
        .map(|t| {
            (
                t,
                which(t).map(|p| {
                    let privileged = std::fs::metadata(&p)
                        .map(|m| m.uid() == 0 && m.permissions().mode() & 0o4000 != 0)
                        .unwrap_or(false)
                        || has_file_caps(&p);
                    (p, privileged)
                }),
            )
        })
        .collect();
    let device = |p: &std::ffi::CStr| {
        use std::os::unix::ffi::OsStrExt;
        let path = Path::new(std::ffi::OsStr::from_bytes(p.to_bytes()));
        std::fs::metadata(path).ok().map(|m| {
            // SAFETY: access takes a NUL-terminated path.
            let ok = unsafe { libc::access(p.as_ptr(), libc::R_OK | libc::W_OK) } == 0;
            (m.permissions().mode() & 0o7777, ok)
        })
    };
    let tun = device(c"/dev/net/tun");
    let fuse_dev = device(c"/dev/fuse");
    let net_helpers = super::net_helper::Kind::ALL
        .into_iter()
        .filter_map(|k| k.binary().map(|p| (k.name(), p)))
        .collect();
    let net_helper_choice = std::env::var(super::net_helper::ENV)
        .ok()
        .filter(|v| !v.is_empty());
    let xdg_runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .map(|p| {
            let ok = super::paths::private_dir(&p);
            (p, ok)
        });
    let ping_group_range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
        .ok()
        .and_then(|t| {
            let mut f = t.split_whitespace();
            Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        });
    let mut kernel = (0, 0);
    if let Ok(r) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        let mut f = r.trim().split(['.', '-']);
        kernel = (
            f.next().and_then(|x| x.parse().ok()).unwrap_or(0),
            f.next().and_then(|x| x.parse().ok()).unwrap_or(0),
        );
    }
    Probe {
        subuids: subid::read(Path::new("/etc/subuid"), &user, uid).unwrap_or_default(),
        subgids: subid::read(Path::new("/etc/subgid"), &user, gid).unwrap_or_default(),
        user,
        uid,
        idmap_tools,
        max_user_namespaces: num("/proc/sys/user/max_user_namespaces"),
        userns_clone: num("/proc/sys/kernel/unprivileged_userns_clone"),
        tun,
        net_helpers,
        net_helper_choice,
        xdg_runtime_dir,
        unprivileged_port_start: num("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .map(|v| v as u32),
        ping_group_range,
        cgroup: own_cgroup(),
        kernel,
        fuse_overlayfs: which(super::fuse_overlay::PROGRAM),
        fuse_dev,
    }
}

/// `name` in `$PATH` (and the sbin directories, where Debian puts nothing of
/// these but an admin might).
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/bin", "/usr/sbin", "/bin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

fn has_file_caps(p: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: getxattr with a NUL-terminated path and name, no buffer (size 0):
    // it only reports the attribute's size.
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    n > 0
}

/// The cgroup v2 subtree delegated to the user (see
/// `berth_runtime::cgroups::detect::delegated`), with the controllers it
/// offers; `Err(true)` when cgroup v2 is mounted but nothing of it is the
/// user's, `Err(false)` when there is no cgroup v2 at all.
fn own_cgroup() -> Result<(PathBuf, Vec<String>), bool> {
    use berth_runtime::cgroups::detect;
    let all = detect::parse_mountinfo(
        &std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default(),
    );
    let root = detect::delegation_root(&all).ok_or(all.iter().any(|h| h.version == 2))?;
    let ctrls = std::fs::read_to_string(root.join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    Ok((root, ctrls))
}

/// The checks, in the order they are printed.
pub fn checks(p: &Probe) -> Vec<Check> {
    let mut out = Vec::new();
    let mut add = |name, verdict, found: String, fix: String| {
        out.push(Check {
            name,
            verdict,
            found,
            fix,
        })
    };
    let userns_ok = p.max_user_namespaces.unwrap_or(0) > 0 && p.userns_clone.unwrap_or(1) == 1;
    add(
        "user namespaces",
        if userns_ok {
            Verdict::Ok
        } else {
            Verdict::Missing
        },
        format!(
            "max_user_namespaces={}{}",
            p.max_user_namespaces.map_or("?".into(), |v| v.to_string()),
            p.userns_clone.map_or(String::new(), |v| format!(
                ", unprivileged_userns_clone={v}"
            ))
        ),
        if userns_ok {
            String::new()
        } else {
            "as root: sysctl -w user.max_user_namespaces=28633 kernel.unprivileged_userns_clone=1"
                .into()
        },
    );
    for (file, ranges) in [("/etc/subuid", &p.subuids), ("/etc/subgid", &p.subgids)] {
        let total: u64 = ranges.iter().map(|r| r.count as u64).sum();
        let verdict = match total {
            0 => Verdict::Missing,
            t if t < WANTED as u64 => Verdict::Limited,
            _ => Verdict::Ok,
        };
        let found = if ranges.is_empty() {
            format!("no entry for {}", p.user)
        } else {
            ranges
                .iter()
                .map(|r| format!("{}:{}:{}", p.user, r.start, r.count))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let fix = if verdict == Verdict::Ok {
            String::new()
        } else {
            format!(
                "as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {} (images need {WANTED} ids)",
                p.user
            )
        };
        add(
            if file.ends_with("uid") {
                "subordinate uids"
            } else {
                "subordinate gids"
            },
            verdict,
            format!("{file}: {found}"),
            fix,
        );
    }
    for (tool, found) in &p.idmap_tools {
        let (verdict, text, fix) = match found {
            Some((path, true)) => (Verdict::Ok, path.display().to_string(), String::new()),
            Some((path, false)) => (
                Verdict::Missing,
                format!(
                    "{} is neither setuid root nor has file capabilities",
                    path.display()
                ),
                "as root: apt-get install --reinstall uidmap".into(),
            ),
            None => (
                Verdict::Missing,
                "not installed".into(),
                "as root: apt-get install uidmap".into(),
            ),
        };
        add(tool, verdict, text, fix);
    }
    // pasta first, slirp4netns when it is the only one (as podman chooses);
    // BERTH_ROOTLESS_NETWORK_CMD picks one.
    let helper = p
        .net_helper_choice
        .as_deref()
        .and_then(|want| p.net_helpers.iter().find(|(n, _)| *n == want))
        .or_else(|| p.net_helpers.first());
    let forced_missing = p
        .net_helper_choice
        .as_deref()
        .filter(|want| !p.net_helpers.iter().any(|(n, _)| n == want));
    let (verdict, found, fix) = match (forced_missing, helper) {
        (Some(want), _) => (
            Verdict::Missing,
            format!("{}={want}, which is not installed", super::net_helper::ENV),
            format!(
                "as root: apt-get install {}",
                if want == "pasta" { "passt" } else { want }
            ),
        ),
        (None, Some((n, path))) => (
            Verdict::Ok,
            format!(
                "{n} ({}): berth starts it per user for published ports and the way out",
                path.display()
            ),
            String::new(),
        ),
        (None, None) => (
            Verdict::Missing,
            "neither pasta nor slirp4netns".into(),
            "as root: apt-get install passt (pasta; or slirp4netns)".into(),
        ),
    };
    add("network helper", verdict, found, fix);
    let (verdict, found, fix) = match p.tun {
        Some((_, true)) => (
            Verdict::Ok,
            "readable and writable".to_string(),
            String::new(),
        ),
        Some((mode, false)) => (
            Verdict::Missing,
            format!("mode {mode:04o}: the user cannot open it"),
            "as root: chmod 0666 /dev/net/tun (what udev's default rules set)".to_string(),
        ),
        None => (
            Verdict::Missing,
            "absent".into(),
            "as root: modprobe tun".into(),
        ),
    };
    add("/dev/net/tun", verdict, found, fix);
    let (verdict, found, fix) = match &p.xdg_runtime_dir {
        Some((d, true)) => (Verdict::Ok, d.display().to_string(), String::new()),
        Some((d, false)) => (
            Verdict::Limited,
            format!("{} is not a 0700 directory of the user's: ignored", d.display()),
            "log in through logind (ssh, a desktop) or point XDG_RUNTIME_DIR at a private 0700 directory; the run dir stays in ~/.local/share/berth/run meanwhile".into(),
        ),
        None => (
            Verdict::Limited,
            "unset: the run dir is ~/.local/share/berth/run".into(),
            "log in through logind (ssh, a desktop; not sudo/runuser) or `loginctl enable-linger USER`".into(),
        ),
    };
    add("XDG_RUNTIME_DIR", verdict, found, fix);
    let start = p.unprivileged_port_start.unwrap_or(1024);
    add(
        "published ports",
        if start <= 80 {
            Verdict::Ok
        } else {
            Verdict::Limited
        },
        format!("host ports from {start} up (net.ipv4.ip_unprivileged_port_start={start})"),
        if start <= 80 {
            String::new()
        } else {
            "to publish lower ports, as root: sysctl -w net.ipv4.ip_unprivileged_port_start=80"
                .into()
        },
    );
    let ping_ok = p
        .ping_group_range
        .is_some_and(|(lo, hi)| lo <= hi && hi >= 1);
    add(
        "ping",
        if ping_ok {
            Verdict::Ok
        } else {
            Verdict::Limited
        },
        match p.ping_group_range {
            Some((lo, hi)) => format!("net.ipv4.ping_group_range={lo} {hi}"),
            None => "unknown".into(),
        },
        if ping_ok {
            String::new()
        } else {
            "for ping inside containers, as root: sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"".into()
        },
    );
    let (verdict, found, fix) = match &p.cgroup {
        Ok((d, ctrls)) => {
            let missing: Vec<&str> = ["cpu", "memory", "pids"]
                .into_iter()
                .filter(|c| !ctrls.iter().any(|x| x == c))
                .collect();
            let found = format!(
                "{} is the user's (controllers: {}): containers are tracked and killed by cgroup",
                d.display(),
                if ctrls.is_empty() { "none".to_string() } else { ctrls.join(" ") }
            );
            if missing.is_empty() {
                (Verdict::Ok, found, String::new())
            } else {
                (
                    Verdict::Limited,
                    format!("{found}; {} limits are ignored", missing.join(", ")),
                    format!(
                        "delegate the controllers, e.g. `Delegate=cpu cpuset io memory pids` in a user@.service.d drop-in (cgroup v2 only: boot with systemd.unified_cgroup_hierarchy=1 where v1 holds {})",
                        missing.join(" ")
                    ),
                )
            }
        }
        Err(true) => (
            Verdict::Limited,
            format!("no cgroup v2 subtree holding this session is {}'s: limits are ignored", p.user),
            "log in through systemd-logind (user@UID.service delegates memory pids; add `Delegate=cpu cpuset io memory pids` in a user@.service.d drop-in), or as root chown a cgroup v2 directory (and its cgroup.procs, cgroup.subtree_control, cgroup.threads) to the user and start the session in it".into(),
        ),
        Err(false) => (
            Verdict::Limited,
            "not cgroup v2: cpu, memory and pids limits are ignored".into(),
            "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v1 cannot be delegated safely)".into(),
        ),
    };
    add("cgroup delegation", verdict, found, fix);
    let kernel_ok = p.kernel >= (5, 11);
    let fuse_ok = p.fuse_overlayfs.is_some() && p.fuse_dev.is_some_and(|(_, ok)| ok);
    let fallback = match (&p.fuse_overlayfs, p.fuse_dev) {
        (None, _) => "fuse-overlayfs fallback not installed".to_string(),
        (Some(_), Some((_, true))) => "fuse-overlayfs fallback ready".to_string(),
        (Some(_), Some((mode, false))) => {
            format!(
                "fuse-overlayfs installed, but /dev/fuse is {mode:04o}: the user cannot open it"
            )
        }
        (Some(_), None) => "fuse-overlayfs installed, but there is no /dev/fuse".to_string(),
    };
    add(
        "overlay (userxattr)",
        if kernel_ok || fuse_ok {
            Verdict::Ok
        } else {
            Verdict::Missing
        },
        format!("kernel {}.{}; {fallback}", p.kernel.0, p.kernel.1),
        if kernel_ok || fuse_ok {
            String::new()
        } else {
            "rootless overlay needs Linux 5.11 or later, or fuse-overlayfs: as root, `apt-get install fuse-overlayfs` and `chmod 0666 /dev/fuse`".into()
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Probe {
        Probe {
            user: "ann".into(),
            uid: 1001,
            subuids: vec![subid::Range {
                start: 100000,
                count: 65536,
            }],
            subgids: vec![subid::Range {
                start: 100000,
                count: 65536,
            }],
            idmap_tools: vec![
                ("newuidmap", Some(("/usr/bin/newuidmap".into(), true))),
                ("newgidmap", Some(("/usr/bin/newgidmap".into(), true))),
            ],
            max_user_namespaces: Some(1000),
            userns_clone: None,
            tun: Some((0o666, true)),
            net_helpers: vec![("pasta", "/usr/bin/pasta".into())],
            net_helper_choice: None,
            xdg_runtime_dir: Some(("/run/user/1001".into(), true)),
            unprivileged_port_start: Some(80),
            ping_group_range: Some((0, 2147483647)),
            cgroup: Ok((
                "/sys/fs/cgroup/user.slice/user-1001.slice/user@1001.service".into(),
                ["cpu", "memory", "pids"].map(String::from).to_vec(),
            )),
            kernel: (6, 1),
            fuse_overlayfs: None,
            fuse_dev: None,
        }
    }

    #[test]
    fn a_ready_host_passes_every_check() {
        let c = checks(&good());
        assert!(
            c.iter()
                .all(|c| c.verdict == Verdict::Ok && c.fix.is_empty()),
            "{c:?}"
        );
    }

    #[test]
    fn this_hosts_gaps_are_named_with_their_fix() {
        let p = Probe {
            subuids: vec![],
            idmap_tools: vec![("newuidmap", None), ("newgidmap", None)],
            tun: Some((0o600, false)),
            net_helpers: vec![],
            xdg_runtime_dir: None,
            unprivileged_port_start: Some(1024),
            cgroup: Err(true),
            ..good()
        };
        let c = checks(&p);
        let get = |n: &str| c.iter().find(|c| c.name == n).unwrap();
        assert_eq!(get("subordinate uids").verdict, Verdict::Missing);
        assert!(get("subordinate uids")
            .fix
            .contains("usermod --add-subuids"));
        assert!(get("newuidmap").fix.contains("apt-get install uidmap"));
        assert!(get("/dev/net/tun").fix.contains("chmod 0666"));
        assert!(get("network helper").fix.contains("passt"));
        assert_eq!(get("XDG_RUNTIME_DIR").verdict, Verdict::Limited);
        assert!(get("published ports")
            .fix
            .contains("ip_unprivileged_port_start"));
        assert!(get("cgroup delegation").found.contains("ignored"));
    }

    #[test]
    fn slirp4netns_alone_will_do_and_a_delegation_without_controllers_is_named() {
        let p = Probe {
            net_helpers: vec![("slirp4netns", "/usr/bin/slirp4netns".into())],
            cgroup: Ok(("/sys/fs/cgroup/unified/ann".into(), vec!["hugetlb".into()])),
            ..good()
        };
        let c = checks(&p);
        let get = |n: &str| c.iter().find(|c| c.name == n).unwrap();
        assert_eq!(get("network helper").verdict, Verdict::Ok);
        assert!(get("network helper").found.starts_with("slirp4netns"));
        let cg = get("cgroup delegation");
        assert_eq!(cg.verdict, Verdict::Limited);
        assert!(
            cg.found
                .contains("/sys/fs/cgroup/unified/ann is the user's"),
            "{cg:?}"
        );
        assert!(
            cg.found.contains("cpu, memory, pids limits are ignored"),
            "{cg:?}"
        );
        // Asking for a helper that is not installed is an error naming the package.
        let p = Probe {
            net_helper_choice: Some("pasta".into()),
            ..p
        };
        let c = checks(&p);
        let h = c.iter().find(|c| c.name == "network helper").unwrap();
        assert_eq!(h.verdict, Verdict::Missing);
        assert!(h.fix.contains("apt-get install passt"), "{h:?}");
    }
}
