//! Which cgroup hierarchies exist, read once from /proc/self/mountinfo. Detection is per
//! controller: a host can be pure v2, pure v1 or hybrid (v1 controllers plus a cgroup2
//! mount with whatever controllers v1 did not claim).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hierarchy {
    /// 1 or 2.
    pub version: u8,
    /// Where it is mounted on the host.
    pub mount: PathBuf,
    /// Controllers it holds ("name=systemd" for named v1 hierarchies).
    pub controllers: Vec<String>,
}

impl Hierarchy {
    /// Whether it holds `controller`.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

const V1_OPTS_IGNORED: [&str; 6] = [
    "rw",
    "ro",
    "clone_children",
    "noprefix",
    "xattr",
    "cpuset_v2_mode",
];

/// Parse mountinfo text into hierarchies (one per distinct cgroup mount under /sys/fs/cgroup).
pub fn parse_mountinfo(text: &str) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let (root, mount) = (pre[3], pre[4]);
        if root != "/" || !mount.starts_with("/sys/fs/cgroup") {
            continue;
        }
        let h = match post[0] {
            "cgroup2" => {
                let file = Path::new(mount).join("cgroup.controllers");
                let controllers = std::fs::read_to_string(file).unwrap_or_default();
                Hierarchy {
                    version: 2,
                    mount: mount.into(),
                    controllers: controllers.split_whitespace().map(str::to_owned).collect(),
                }
            }
            "cgroup" => {
                let controllers = post[2]
                    .split(',')
                    .filter(|o| !V1_OPTS_IGNORED.contains(o) && !o.starts_with("release_agent="))
                    .map(str::to_owned)
                    .collect();
                Hierarchy {
                    version: 1,
                    mount: mount.into(),
                    controllers,
                }
            }
            _ => continue,
        };
        if !out.iter().any(|o| {
            o.mount == h.mount
                || (o.version == 1 && h.version == 1 && o.controllers == h.controllers)
        }) {
            out.push(h);
        }
    }
    out
}

/// The environment variable through which a process hands the hierarchies it
/// detected to the processes it starts (berth's CLI to each container's
/// supervisor). /proc/self/mountinfo lists every mount of the host, a bind mount of
/// a network namespace per running container among them, and the kernel makes its
/// text anew on each read: read once per `up`, not once per container.
pub const HIERARCHIES_ENV: &str = "_BERTH_RUNTIME_CGROUP_HIERARCHIES";

/// This process's hierarchies, as the value of [`HIERARCHIES_ENV`].
pub fn handed_down() -> String {
    serde_json::to_string(hierarchies()).unwrap_or_default()
}

/// The hierarchies [`HIERARCHIES_ENV`] hands down, when it holds a valid list.
fn from_env() -> Option<Vec<Hierarchy>> {
    parse_handed_down(std::env::var_os(HIERARCHIES_ENV)?.as_encoded_bytes())
}

fn parse_handed_down(v: &[u8]) -> Option<Vec<Hierarchy>> {
    let h: Vec<Hierarchy> = serde_json::from_slice(v).ok()?;
    h.iter()
        .all(|h| h.mount.is_absolute() && matches!(h.version, 1 | 2))
        .then_some(h)
}

/// The host's hierarchies, detected once per process (or handed down by the
/// process that started this one, see [`HIERARCHIES_ENV`]).
pub fn hierarchies() -> &'static [Hierarchy] {
    static H: OnceLock<Vec<Hierarchy>> = OnceLock::new();
    H.get_or_init(|| {
        if let Some(h) = from_env() {
            return h;
        }
        let all =
            parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
        // Rootless (in a user namespace): the host's hierarchies are not ours to
        // write, and cgroup v1 cannot be delegated; only a cgroup v2 subtree the
        // user owns is used (berth warns once per project about the limits
        // it cannot apply).
        if crate::namespaces::in_user_namespace() {
            return delegated(&all).into_iter().collect();
        }
        all
    })
}

/// The parent of a rootless berth's container cgroups, `berth` in the
/// delegation root.
pub const DELEGATED_PARENT: &str = "berth";

/// The cgroup v2 subtree delegated to this process's user, as a hierarchy
/// rooted at the delegation root: the highest ancestor of the process's own
/// cgroup (itself included) that the user owns, as systemd's `Delegate=` or an
/// admin's chown leave it. Containers go in `<root>/berth/<id>`: a process may
/// be moved only below a common ancestor whose `cgroup.procs` it may write, so
/// the subtree must hold the process itself. The controllers are those
/// `<root>/berth` gets (created here, enabling what the root offers): when the
/// root itself holds processes, the kernel enables none below it.
pub fn delegated(all: &[Hierarchy]) -> Option<Hierarchy> {
    let root = delegation_root(all)?;
    super::v2::mkdir(&root, Path::new(DELEGATED_PARENT)).ok()?;
    let controllers =
        std::fs::read_to_string(root.join(DELEGATED_PARENT).join("cgroup.controllers"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
    Some(Hierarchy {
        version: 2,
        mount: root,
        controllers,
    })
}

/// The root of the cgroup v2 subtree delegated to this process's user (see
/// [`delegated`]), without creating anything.
pub fn delegation_root(all: &[Hierarchy]) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let v2 = all.iter().find(|h| h.version == 2)?;
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let owned = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.uid() == me)
            && std::fs::metadata(p.join("cgroup.procs")).is_ok_and(|m| m.uid() == me)
    };
    let mut root = None;
    let mut cur = v2.mount.join(rel.trim_start_matches('/'));
    while cur.starts_with(&v2.mount) && cur != v2.mount && owned(&cur) {
        root = Some(cur.clone());
        if !cur.pop() {
            break;
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handed_down_hierarchies_round_trip_and_bad_ones_are_ignored() {
        let h = vec![
            Hierarchy {
                version: 1,
                mount: "/sys/fs/cgroup/memory".into(),
                controllers: vec!["memory".into()],
            },
            Hierarchy {
                version: 2,
                mount: "/sys/fs/cgroup/unified".into(),
                controllers: vec![],
            },
        ];
        let text = serde_json::to_string(&h).unwrap();
        assert_eq!(parse_handed_down(text.as_bytes()), Some(h));
        assert_eq!(parse_handed_down(b"not json"), None);
        let relative = r#"[{"version":1,"mount":"sys/fs/cgroup/memory","controllers":[]}]"#;
        assert_eq!(parse_handed_down(relative.as_bytes()), None);
        let v3 = r#"[{"version":3,"mount":"/sys/fs/cgroup","controllers":[]}]"#;
        assert_eq!(parse_handed_down(v3.as_bytes()), None);
    }

    #[test]
    fn hybrid_host() {
        let text = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
99 31 0:32 /sub /mnt/x rw,relatime - cgroup cgroup rw,memory";
        let h = parse_mountinfo(text);
        assert_eq!(h.len(), 5);
        assert_eq!(h[1].controllers, vec!["memory"]);
        assert_eq!(h[2].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(h[3].controllers, vec!["name=systemd"]);
        assert_eq!(h[4].version, 2);
    }
}
