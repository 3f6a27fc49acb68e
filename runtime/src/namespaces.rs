//! Namespace types: clone flags, /proc names, and which to create or join.

use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

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

/// Split the spec's namespaces into new ones and joined ones.
pub fn plan(spec: &Spec) -> Result<NsPlan> {
    let mut p = NsPlan {
        new_flags: 0,
        join: Vec::new(),
    };
    let list = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for t in JOIN_ORDER.iter().chain([LinuxNamespaceType::Time].iter()) {
        let Some(ns) = list.iter().find(|n| n.typ() == *t) else {
            continue;
        };
        match ns.path() {
            Some(path) => p.join.push((flag(*t), path.clone())),
            None if *t == LinuxNamespaceType::User || *t == LinuxNamespaceType::Time => {
                return Err(Error::Spec(format!("{t:?} namespaces are not supported")));
            }
            None => p.new_flags |= flag(*t),
        }
    }
    if p.new_flags & libc::CLONE_NEWNS == 0 && !p.join.iter().any(|(f, _)| *f == libc::CLONE_NEWNS)
    {
        return Err(Error::Spec("a container needs a mount namespace".into()));
    }
    Ok(p)
}

/// Namespace names under /proc/<pid>/ns with their flags (for exec).
pub const PROC_NAMES: [(&str, i32); 6] = [
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
