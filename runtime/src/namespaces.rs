//! Namespace types: clone flags, /proc names, and which to create or join.

use std::path::PathBuf;

use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::error::{Error, Result};

/// Order in which joined namespaces are entered: mount last, since entering it changes
/// how every later path resolves (youki ORDERED_NAMESPACES).
const JOIN_ORDER: [LinuxNamespaceType; 7] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Mount,
];

/// CLONE_NEW* flag of a namespace type.
pub fn flag(t: LinuxNamespaceType) -> i32 {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => 0x80,
    }
}

/// What the spec asks: flags of namespaces to create, and paths to join, in join order.
pub struct NsPlan {
    /// CLONE_NEW* flags to clone with.
    pub new_flags: i32,
    /// (flag, path) to setns into before cloning.
    pub join: Vec<(i32, PathBuf)>,
}

impl NsPlan {
    /// A mount namespace of the container's own (new or joined). A type the spec leaves
    /// out is inherited from the runtime (runtime-spec config-linux.md), mount included.
    pub fn own_mount_ns(&self) -> bool {
        self.new_flags & libc::CLONE_NEWNS != 0
            || self.join.iter().any(|(f, _)| *f == libc::CLONE_NEWNS)
    }

    /// A new user namespace, whose id maps the caller writes.
    pub fn new_userns(&self) -> bool {
        self.new_flags & libc::CLONE_NEWUSER != 0
    }

    /// Every namespace to join is one the init may enter itself, right after it is
    /// cloned (see [`JOINED_BY_INIT`]), and it has the capability to: no new user
    /// namespace (whose root holds none over the host's namespaces).
    pub fn init_may_join(&self) -> bool {
        !self.new_userns() && self.join.iter().all(|(f, _)| f & !JOINED_BY_INIT == 0)
    }
}

/// The namespaces a process may enter after it was cloned into new ones, with the
/// same result as entering them first: network, IPC and UTS apply to the process
/// itself at once, and nothing of the init depends on them before its mounts (sysfs
/// and mqueue take the namespaces of their mounter). Not a user namespace (entered
/// first, it decides the owner of the new ones), nor pid and time (they apply only to
/// children), nor mount and cgroup (they change how paths resolve).
const JOINED_BY_INIT: i32 = libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;

/// Enter the namespaces `join` names, in its order. Every path is opened before any
/// is entered: joining a mount namespace changes how the remaining paths resolve.
pub fn join(join: &[(i32, PathBuf)]) -> Result<()> {
    use std::os::fd::AsRawFd;
    let fds = join
        .iter()
        .map(|(f, p)| {
            Ok((
                *f,
                crate::syscall::raw::open(p, libc::O_RDONLY | libc::O_CLOEXEC, 0)?,
                p,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    for (flag, fd, p) in &fds {
        // SAFETY: setns on a descriptor this function owns; it changes only this
        // process's namespaces.
        if unsafe { libc::setns(fd.as_raw_fd(), *flag) } < 0 {
            return Err(Error::last("setns", p));
        }
    }
    Ok(())
}

/// Split the spec's namespaces into new ones and joined ones.
pub fn plan(spec: &Spec) -> Result<NsPlan> {
    let mut p = NsPlan {
        new_flags: 0,
        join: Vec::new(),
    };
    let linux = spec.linux().as_ref();
    let list = linux
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for t in JOIN_ORDER.iter().chain([LinuxNamespaceType::Time].iter()) {
        let Some(ns) = list.iter().find(|n| n.typ() == *t) else {
            continue;
        };
        match ns.path() {
            Some(path) => p.join.push((flag(*t), path.clone())),
            None if *t == LinuxNamespaceType::Time => {
                return Err(Error::Spec(
                    "linux.namespaces: a new time namespace is not supported".into(),
                ));
            }
            None => p.new_flags |= flag(*t),
        }
    }
    if p.new_userns() {
        let uids = linux
            .and_then(|l| l.uid_mappings().as_ref())
            .map_or(0, |m| m.len());
        let gids = linux
            .and_then(|l| l.gid_mappings().as_ref())
            .map_or(0, |m| m.len());
        if uids == 0 || gids == 0 {
            return Err(Error::Spec(
                "linux.namespaces: a new user namespace needs linux.uidMappings and linux.gidMappings".into(),
            ));
        }
    }
    Ok(p)
}

/// The text of a uid_map/gid_map file: `inside outside count` per line.
pub fn map_text(m: &[LinuxIdMapping]) -> String {
    m.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// The host id that `id` inside the namespace maps to, if any.
pub fn host_id(m: &[LinuxIdMapping], id: u32) -> Option<u32> {
    m.iter().find_map(|m| {
        let off = id.checked_sub(m.container_id())?;
        (off < m.size()).then(|| m.host_id() + off)
    })
}

/// Write the spec's uid and gid maps for the init `pid` (the caller, root on the host,
/// may map any host ids; gid_map first needs no `setgroups` deny that way).
pub fn write_id_maps(pid: i32, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uids = linux
        .and_then(|l| l.uid_mappings().clone())
        .unwrap_or_default();
    let gids = linux
        .and_then(|l| l.gid_mappings().clone())
        .unwrap_or_default();
    crate::syscall::raw::write_file(
        std::path::Path::new(&format!("/proc/{pid}/uid_map")),
        &map_text(&uids),
    )?;
    crate::syscall::raw::write_file(
        std::path::Path::new(&format!("/proc/{pid}/gid_map")),
        &map_text(&gids),
    )
}

/// Namespace names under /proc/<pid>/ns with their flags (for exec).
pub const PROC_NAMES: [(&str, i32); 7] = [
    ("user", libc::CLONE_NEWUSER),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("pid", libc::CLONE_NEWPID),
    ("mnt", libc::CLONE_NEWNS),
];

/// Flags of the namespaces in which `pid` differs from the caller.
pub fn differing(pid: i32) -> i32 {
    use std::os::unix::fs::MetadataExt;
    let mut flags = 0;
    for (name, f) in PROC_NAMES {
        let theirs = std::fs::metadata(format!("/proc/{pid}/ns/{name}")).map(|m| m.ino());
        let ours = std::fs::metadata(format!("/proc/self/ns/{name}")).map(|m| m.ino());
        if let (Ok(a), Ok(b)) = (theirs, ours) {
            if a != b {
                flags |= f;
            }
        }
    }
    flags
}

/// Whether this process runs in a user namespace other than the host's (rootless
/// berth, inside its per-user namespace): the initial namespace's uid_map is the
/// identity over every id.
pub fn in_user_namespace() -> bool {
    static IN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IN.get_or_init(|| {
        std::fs::read_to_string("/proc/self/uid_map")
            .map(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: serde_json::Value) -> Spec {
        let mut s = crate::spec::default_spec(&["true"]);
        s.set_linux(Some(serde_json::from_value(v).unwrap()));
        s
    }

    #[test]
    fn no_mount_namespace_inherits_the_runtimes() {
        let p = plan(&spec(serde_json::json!({"namespaces": [{"type": "pid"}]}))).unwrap();
        assert!(!p.own_mount_ns());
        assert_eq!(p.new_flags, libc::CLONE_NEWPID);
        let p = plan(&spec(
            serde_json::json!({"namespaces": [{"type": "mount", "path": "/proc/1/ns/mnt"}]}),
        ))
        .unwrap();
        assert!(p.own_mount_ns());
    }

    #[test]
    fn the_init_joins_network_ipc_and_uts_itself_but_not_the_others() {
        let ns =
            |v: serde_json::Value| plan(&spec(serde_json::json!({ "namespaces": v }))).unwrap();
        let net = serde_json::json!({"type": "network", "path": "/run/netns/x"});
        let ipc = serde_json::json!({"type": "ipc", "path": "/proc/1/ns/ipc"});
        assert!(ns(serde_json::json!([{"type": "mount"}, {"type": "pid"}])).init_may_join());
        assert!(ns(serde_json::json!([{"type": "mount"}, net.clone(), ipc])).init_may_join());
        for other in ["pid", "mount", "cgroup", "user"] {
            let joined = serde_json::json!({"type": other, "path": format!("/proc/1/ns/{other}")});
            assert!(
                !ns(serde_json::json!([net.clone(), joined])).init_may_join(),
                "{other}"
            );
        }
        let s = spec(serde_json::json!({"namespaces": [{"type": "user"}, net],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}));
        assert!(!plan(&s).unwrap().init_may_join());
    }

    #[test]
    fn user_namespace_needs_both_maps() {
        let e = plan(&spec(serde_json::json!({"namespaces": [{"type": "user"}],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}]})))
        .err()
        .unwrap();
        assert!(e.to_string().contains("linux.gidMappings"), "{e}");
        let s = spec(
            serde_json::json!({"namespaces": [{"type": "user"}, {"type": "mount"}],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}, {"containerID": 10, "hostID": 5000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}]}),
        );
        let p = plan(&s).unwrap();
        assert!(p.new_userns() && p.own_mount_ns());
        let uids = s.linux().as_ref().unwrap().uid_mappings().clone().unwrap();
        assert_eq!(map_text(&uids), "0 1000 10\n10 5000 1\n");
        assert_eq!(host_id(&uids, 0), Some(1000));
        assert_eq!(host_id(&uids, 10), Some(5000));
        assert_eq!(host_id(&uids, 11), None);
    }
}
