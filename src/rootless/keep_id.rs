//! `userns_mode: keep-id` (as podman's `--userns=keep-id`): the container gets a
//! user namespace of its own, nested in the holder's, where the user's uid and
//! gid are themselves, and its process runs as them unless `user:` says
//! otherwise. What it writes in a bind mount is then the user's, and files the
//! user owns show the user's own uid inside.
//!
//! In the holder's namespace the user is 0 and the subordinate ids follow from
//! 1; the container's map puts them back in place: container `0..U` is holder
//! `1..=U`, container `U` is holder 0 (the user), the rest maps to itself.
//! Image layers hold holder ids (image root is holder 0, the user), so the
//! container's root is mounted by fuse-overlayfs with the same map as its id
//! mapping (`fuse_overlay::id_options`): root-owned image files stay root's
//! inside. Without a usable fuse-overlayfs they show as the user.

use oci_spec::runtime::{
    LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Spec,
};

/// The value of `userns_mode` that asks for it.
pub const MODE: &str = "keep-id";

/// One `/proc/<pid>/uid_map` line.
type Line = (u32, u32, u32);

fn parse(map: &str) -> Vec<Line> {
    map.lines()
        .filter_map(|l| {
            let f: Vec<u32> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (f.len() == 3).then(|| (f[0], f[1], f[2]))
        })
        .collect()
}

/// The container's map (`container holder count`) for the holder's map text:
/// the user's host id (the outside of inside 0) is kept, the other ids the
/// holder maps fill the rest.
pub fn container_map(holder_map: &str) -> Result<Vec<Line>, String> {
    let lines = parse(holder_map);
    let own = lines
        .iter()
        .find(|l| l.0 == 0)
        .map(|l| l.1)
        .ok_or("the rootless namespace maps no id 0")?;
    let total = lines
        .iter()
        .map(|l| u64::from(l.0) + u64::from(l.2))
        .max()
        .unwrap_or(0);
    if u64::from(own) + 1 >= total {
        return Err(format!(
            "keep-id needs more subordinate ids than the user's own id ({own}); the namespace maps {total}: give the user a larger range in /etc/subuid and /etc/subgid"
        ));
    }
    let total = total.min(u64::from(u32::MAX)) as u32;
    let mut out = vec![(own, 0, 1)];
    if own > 0 {
        out.push((0, 1, own));
    }
    out.push((own + 1, own + 1, total - own - 1));
    Ok(out)
}

fn mappings(lines: &[Line]) -> Result<Vec<LinuxIdMapping>, String> {
    lines
        .iter()
        .map(|&(c, h, n)| {
            LinuxIdMappingBuilder::default()
                .container_id(c)
                .host_id(h)
                .size(n)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Gives `spec` its own user namespace with the keep-id maps, read from this
/// process's (the holder's) maps. Returns the user's `uid:gid`, for the process
/// when the service names no user.
pub fn apply(spec: &mut Spec) -> Result<String, String> {
    let read = |f: &str| std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"));
    let uids = container_map(&read("/proc/self/uid_map")?)?;
    let gids = container_map(&read("/proc/self/gid_map")?)?;
    let user = format!("{}:{}", uids[0].0, gids[0].0);
    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut ns = linux.namespaces().clone().unwrap_or_default();
    ns.retain(|n| n.typ() != LinuxNamespaceType::User);
    ns.push(
        LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::User)
            .build()
            .map_err(|e| e.to_string())?,
    );
    // Only the owner of the network namespace (the holder's user namespace,
    // not this nested one) may write its sysctls: written here, from the
    // holder's namespace, rather than by the container's init.
    let mut sysctls = linux.sysctl().clone().unwrap_or_default();
    let net: Vec<(String, String)> = sysctls
        .iter()
        .filter(|(k, _)| k.starts_with("net."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !net.is_empty() {
        let path = ns
            .iter()
            .find(|n| n.typ() == LinuxNamespaceType::Network)
            .and_then(|n| n.path().clone())
            .ok_or("keep-id with net.* sysctls needs the container's own network namespace")?;
        write_net_sysctls(&path, &net)?;
        sysctls.retain(|k, _| !k.starts_with("net."));
    }
    linux.set_sysctl(Some(sysctls));
    linux.set_namespaces(Some(ns));
    linux.set_uid_mappings(Some(mappings(&uids)?));
    linux.set_gid_mappings(Some(mappings(&gids)?));
    spec.set_linux(Some(linux));
    // The same rule for sysfs: the holder's /sys is bound instead, read-only,
    // as rootless runc and podman do.
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for m in mounts.iter_mut() {
        if m.destination() == std::path::Path::new("/sys") && m.typ().as_deref() == Some("sysfs") {
            m.set_typ(Some("bind".into()));
            m.set_source(Some("/sys".into()));
            m.set_options(Some(
                ["rbind", "nosuid", "noexec", "nodev", "ro"]
                    .map(String::from)
                    .to_vec(),
            ));
        }
    }
    spec.set_mounts(Some(mounts));
    Ok(user)
}

/// Writes `sysctls` in the network namespace at `netns`, from a thread of its
/// own: a network namespace is per thread, so the caller's stays as it was.
fn write_net_sysctls(netns: &std::path::Path, sysctls: &[(String, String)]) -> Result<(), String> {
    let netns = netns.to_path_buf();
    let sysctls = sysctls.to_vec();
    std::thread::spawn(move || -> Result<(), String> {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(&netns).map_err(|e| format!("{}: {e}", netns.display()))?;
        // SAFETY: setns on a descriptor we own; it changes this thread's
        // network namespace only, and the thread ends right after.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!(
                "joining {}: {}",
                netns.display(),
                std::io::Error::last_os_error()
            ));
        }
        for (k, v) in &sysctls {
            if k.contains("..") || k.contains('/') {
                return Err(format!("sysctl {k}"));
            }
            let p = format!("/proc/sys/{}", k.replace('.', "/"));
            std::fs::write(&p, v).map_err(|e| format!("{p}: {e}"))?;
        }
        Ok(())
    })
    .join()
    .map_err(|_| "writing the container's sysctls panicked".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_id_is_kept_and_the_rest_shifts_around_it() {
        let holder = "         0       1001          1\n         1     100000      65536\n";
        assert_eq!(
            container_map(holder).unwrap(),
            [(1001, 0, 1), (0, 1, 1001), (1002, 1002, 64535)]
        );
        // Not enough subordinate ids above the user's own id.
        assert!(container_map("0 70000 1\n1 100000 65536\n")
            .unwrap_err()
            .contains("/etc/subuid"));
    }
}
