//! Building the container's root filesystem inside its own mount namespace: the rootfs
//! mount (overlay or bind), the spec's mounts in order, device nodes, pivot_root, and
//! afterwards the read-only and masked paths. The order is decided here; the kernel
//! calls go through `Syscall` so unit tests can check the order without root.

pub mod device;
pub mod mount;
pub mod symlink;

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, Spec};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::syscall::{Kind, Syscall, Target};

/// The container's root filesystem.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Rootfs {
    /// An overlay: read-only `lowers` (top first) with `upper`/`work` (never on overlayfs).
    Overlay {
        /// Read-only layers, topmost first.
        lowers: Vec<PathBuf>,
        /// Writable layer.
        upper: PathBuf,
        /// overlayfs work dir, on the same filesystem as `upper`.
        work: PathBuf,
    },
    /// A plain directory, bind-mounted.
    Dir(PathBuf),
}

/// One cgroup hierarchy to mount under the container's cgroup mount point.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CgroupMount {
    /// Sub-directory under the mount point ("" = the mount point itself, pure v2).
    pub subdir: String,
    /// "cgroup" or "cgroup2".
    pub fstype: String,
    /// Mount data ("memory", "cpu,cpuacct", "none,name=systemd").
    pub options: String,
    /// The container's own cgroup directory in this hierarchy, on the host: bound
    /// read-only at the mount point when the container shares the host's cgroup
    /// namespace (docker's way on v1), so it sees its own cgroup, not the host's root.
    #[serde(default)]
    pub source: Option<PathBuf>,
}

/// What `prepare` needs.
pub struct Plan<'a> {
    /// The spec (mounts, devices, propagation).
    pub spec: &'a Spec,
    /// The root filesystem source.
    pub rootfs: &'a Rootfs,
    /// Host directory where the rootfs gets mounted (inside the new mount namespace).
    pub mountpoint: &'a Path,
    /// Hierarchies to show at a `cgroup` mount.
    pub cgroups: &'a [CgroupMount],
    /// The container has a mount namespace of its own (new or joined). Without one
    /// (the spec lists none) everything is mounted under the mount point in the
    /// runtime's namespace, nothing touches the host's `/`, and the root is entered
    /// with chroot; `delete` detaches the mount point.
    pub own_mount_ns: bool,
    /// The container has a new user namespace: device nodes cannot be made there and
    /// are bound from the host, and the init becomes the namespace's root once the
    /// rootfs is mounted.
    pub userns: bool,
}

/// The overlay mount data: `lowerdir=a:b,upperdir=u,workdir=w`.
pub fn overlay_data(lowers: &[PathBuf], upper: &Path, work: &Path) -> Result<String> {
    let check = |p: &Path| -> Result<String> {
        let s = p
            .to_str()
            .ok_or_else(|| Error::Spec(format!("non-utf8 layer path {}", p.display())))?;
        // overlayfs splits its options on ',' and lowerdir on ':'; escaping is fragile, refuse.
        if s.contains([',', ':']) {
            return Err(Error::Spec(format!("layer path {s} contains ',' or ':'")));
        }
        Ok(s.to_owned())
    };
    if lowers.is_empty() {
        return Err(Error::Spec(
            "overlay rootfs needs at least one lower dir".into(),
        ));
    }
    let l: Vec<String> = lowers.iter().map(|p| check(p)).collect::<Result<_>>()?;
    // In a user namespace (rootless berth) overlay cannot set its trusted.*
    // xattrs: without `userxattr` it falls back silently and removing a lower
    // directory then fails with EIO (measured, research/ROOTLESS.md C.4).
    let userxattr = if crate::namespaces::in_user_namespace() {
        ",userxattr"
    } else {
        ""
    };
    Ok(format!(
        "lowerdir={},upperdir={},workdir={}{userxattr}",
        l.join(":"),
        check(upper)?,
        check(work)?
    ))
}

/// The propagation the spec asks for the container's `/`, if any.
fn root_propagation(spec: &Spec) -> Result<Option<u64>> {
    match spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
    {
        Some(p) => mount::propagation(p)
            .map(Some)
            .ok_or_else(|| Error::Spec(format!("linux.rootfsPropagation: unknown value {p:?}"))),
        None => Ok(None),
    }
}

/// Mount the rootfs and every spec mount and create devices: everything before the
/// root is entered (hooks run between this and [`enter`]).
pub fn prepare(sys: &mut dyn Syscall, plan: &Plan) -> Result<()> {
    let linux = plan.spec.linux().as_ref();
    root_propagation(plan.spec)?;
    let label = crate::lsm::mount_label(plan.spec)?;
    if plan.own_mount_ns {
        // Nothing we mount from here on may propagate back to the host. Always slave
        // here, whatever the spec asks: a shared parent would make pivot_root fail
        // (EINVAL), and would leak our mounts; the spec's propagation is applied to the
        // new `/` once we are in it (as runc does).
        sys.mount(
            None,
            &Target::Host("/".into()),
            None,
            (libc::MS_SLAVE | libc::MS_REC) as u64,
            None,
        )?;
    }
    let mp = Target::Host(plan.mountpoint.to_path_buf());
    match plan.rootfs {
        Rootfs::Overlay {
            lowers,
            upper,
            work,
        } => {
            let data = overlay_data(lowers, upper, work)?;
            sys.mount(Some("overlay"), &mp, Some("overlay"), 0, Some(&data))?;
        }
        Rootfs::Dir(dir) => {
            let src = dir
                .to_str()
                .ok_or_else(|| Error::Spec("non-utf8 rootfs path".into()))?;
            sys.mount(
                Some(src),
                &mp,
                None,
                (libc::MS_BIND | libc::MS_REC) as u64,
                None,
            )?;
        }
    }
    if !plan.own_mount_ns {
        // In the runtime's own namespace: what we mount under the rootfs must not
        // show up in other namespaces sharing the host's mounts.
        sys.mount(
            None,
            &mp,
            None,
            (libc::MS_PRIVATE | libc::MS_REC) as u64,
            None,
        )?;
    }
    sys.set_root(plan.mountpoint)?;
    if plan.userns {
        // Host paths (the bundle, the state dir) were reached as the host's root;
        // what is created from here on (tmpfs, mount points) must belong to the
        // namespace's root.
        sys.become_root()?;
    }
    let mut has_dev = false;
    for m in plan.spec.mounts().iter().flatten() {
        if m.destination() == Path::new("/dev") {
            has_dev = true;
        }
        // In the host's cgroup namespace the container's own cgroup directories are
        // bound now, in order, while the host's hierarchies are still reachable; in a
        // cgroup namespace of its own the hierarchies are mounted afresh once the init
        // is inside its cgroups (`mount_cgroup_fs`).
        if !is_cgroup(m) || !new_cgroupns(plan.spec) {
            mount_one(sys, m, plan.cgroups, label.as_deref())?;
        }
    }
    if has_dev {
        device::create(
            sys,
            linux
                .and_then(|l| l.devices().as_ref())
                .map(|v| v.as_slice())
                .unwrap_or(&[]),
            // A new user namespace, or rootless berth's own: mknod is refused in both.
            plan.userns || crate::namespaces::in_user_namespace(),
        )?;
        symlink::dev_links(sys)?;
    }
    Ok(())
}

/// Enter the root: pivot_root in a mount namespace of our own, chroot without one;
/// then the spec's `rootfsPropagation` on the new `/`.
pub fn enter(sys: &mut dyn Syscall, plan: &Plan) -> Result<()> {
    if plan.own_mount_ns {
        sys.pivot_root()?;
    } else {
        sys.chroot()?;
    }
    if let Some(p) = root_propagation(plan.spec)? {
        // `/` by path, now the new root: resolving it through /proc/self/fd would need
        // a /proc, which a spec (or `berth cp`'s view of a stopped container) may lack.
        sys.mount(None, &Target::Host("/".into()), None, p, None)?;
    }
    Ok(())
}

/// Whether [`prepare`] binds the container's own cgroup directories into its root
/// (a `cgroup` mount without a cgroup namespace): they must exist before it runs.
pub fn binds_cgroup_dirs(spec: &Spec) -> bool {
    !new_cgroupns(spec) && spec.mounts().iter().flatten().any(is_cgroup)
}

fn is_cgroup(m: &Mount) -> bool {
    matches!(m.typ().as_deref(), Some("cgroup") | Some("cgroup2"))
}

/// Whether the container gets a cgroup namespace (a new one or another's).
fn new_cgroupns(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter()
                .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Cgroup)
        })
}

/// The spec's `cgroup` mounts in a cgroup namespace, after pivot_root: they need the
/// namespace, which the init may only enter once the caller has moved it into its
/// cgroups. (A spec mount placed *under* the cgroup mount point would be hidden by it.)
pub fn mount_cgroup_fs(sys: &mut dyn Syscall, spec: &Spec, cgroups: &[CgroupMount]) -> Result<()> {
    if !new_cgroupns(spec) {
        return Ok(());
    }
    let fresh: Vec<CgroupMount> = cgroups
        .iter()
        .map(|c| CgroupMount {
            source: None,
            ..c.clone()
        })
        .collect();
    for m in spec.mounts().iter().flatten().filter(|m| is_cgroup(m)) {
        mount_one(sys, m, &fresh, None)?;
    }
    Ok(())
}

/// After pivot_root (and after sysctls, which write /proc/sys): the working directory,
/// read-only root, read-only paths, masked paths.
pub fn finish(sys: &mut dyn Syscall, spec: &Spec) -> Result<()> {
    // A missing working directory is made, owned by root, 0755, as runc does
    // (prepareRootfs): images routinely name one they never created. Before the root
    // may turn read-only.
    if let Some(cwd) = spec.process().as_ref().map(|p| p.cwd()) {
        if cwd.is_absolute() && cwd != Path::new("/") {
            sys.mkdir_all(cwd)?;
        }
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
        sys.mount(
            None,
            &Target::InRoot("/".into(), Kind::Dir),
            None,
            flags as u64,
            None,
        )?;
    }
    if let Some(l) = spec.linux() {
        for p in l.readonly_paths().iter().flatten() {
            sys.readonly(Path::new(p))?;
        }
        for p in l.masked_paths().iter().flatten() {
            sys.mask(Path::new(p))?;
        }
    }
    Ok(())
}

/// Filesystems that take an SELinux `context=` (runc labels the same ones).
const LABELLED: [&str; 4] = ["tmpfs", "devpts", "mqueue", "shm"];

fn mount_one(
    sys: &mut dyn Syscall,
    m: &Mount,
    cgroups: &[CgroupMount],
    label: Option<&str>,
) -> Result<()> {
    let dest = m.destination();
    if !dest.is_absolute() {
        return Err(Error::Spec(format!(
            "mount destination {} is not absolute",
            dest.display()
        )));
    }
    let opts = mount::parse(m.options().as_deref().unwrap_or(&[]));
    let typ = m
        .typ()
        .as_deref()
        .unwrap_or(if opts.bind { "bind" } else { "" });
    let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
    if typ == "bind" || opts.bind {
        let src = m
            .source()
            .as_ref()
            .ok_or_else(|| Error::Spec(format!("bind mount {} without source", dest.display())))?;
        let kind = if sys.source_is_dir(src) {
            Kind::Dir
        } else {
            Kind::File
        };
        let t = Target::InRoot(dest.clone(), kind);
        let s = src
            .to_str()
            .ok_or_else(|| Error::Spec("non-utf8 bind source".into()))?;
        let rec = if opts.recursive { libc::MS_REC } else { 0 };
        sys.mount(Some(s), &t, None, (libc::MS_BIND | rec) as u64, None)?;
        // A bind mount ignores every flag but MS_REC: read-only and friends need a remount.
        let extra = opts.flags & !(libc::MS_REMOUNT as u64);
        if extra != 0 {
            sys.mount(
                None,
                &t,
                None,
                (libc::MS_BIND | libc::MS_REMOUNT) as u64 | extra,
                None,
            )?;
        }
        if opts.propagation != 0 {
            sys.mount(None, &t, None, opts.propagation, None)?;
        }
        return Ok(());
    }
    let t = Target::InRoot(dest.clone(), Kind::Dir);
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroups(sys, dest, opts.flags, cgroups);
    }
    let src = m.source().as_ref().and_then(|s| s.to_str()).unwrap_or(typ);
    let labelled = label
        .filter(|_| LABELLED.contains(&typ))
        .map(|l| crate::lsm::with_context(data.unwrap_or_default(), l));
    sys.mount(
        Some(src),
        &t,
        Some(typ),
        opts.flags,
        labelled.as_deref().or(data),
    )?;
    if opts.propagation != 0 {
        sys.mount(None, &t, None, opts.propagation, None)?;
    }
    Ok(())
}

/// `/sys/fs/cgroup`: cgroup2 alone on a unified host; on v1 and hybrid hosts a tmpfs with
/// one mount per hierarchy. Each shows the container's own cgroup as its root: bound
/// from the container's directory (host cgroup namespace, as docker does on v1), or
/// mounted afresh inside the container's cgroup namespace (`source` is `None`).
fn mount_cgroups(
    sys: &mut dyn Syscall,
    dest: &Path,
    flags: u64,
    cgroups: &[CgroupMount],
) -> Result<()> {
    let base = flags | (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as u64;
    if let [only] = cgroups {
        if only.subdir.is_empty() {
            return mount_hierarchy(sys, only, dest, base);
        }
    }
    let t = Target::InRoot(dest.into(), Kind::Dir);
    sys.mount(
        Some("tmpfs"),
        &t,
        Some("tmpfs"),
        base & !(libc::MS_RDONLY as u64),
        Some("mode=755"),
    )?;
    for c in cgroups {
        mount_hierarchy(sys, c, &dest.join(&c.subdir), base)?;
        if c.subdir.contains(',') {
            for part in c.subdir.split(',') {
                sys.symlink(&c.subdir, &dest.join(part))?;
            }
        }
    }
    if flags & libc::MS_RDONLY as u64 != 0 {
        sys.mount(
            None,
            &t,
            None,
            (libc::MS_BIND | libc::MS_REMOUNT) as u64 | base,
            None,
        )?;
    }
    Ok(())
}

/// One hierarchy at `at`: a bind of the container's own directory (then remounted with
/// `flags`, a bind ignores them), or a fresh cgroup filesystem.
fn mount_hierarchy(sys: &mut dyn Syscall, c: &CgroupMount, at: &Path, flags: u64) -> Result<()> {
    let t = Target::InRoot(at.into(), Kind::Dir);
    match &c.source {
        Some(src) => {
            let s = src
                .to_str()
                .ok_or_else(|| Error::Spec(format!("non-utf8 cgroup path {}", src.display())))?;
            sys.mount(Some(s), &t, None, libc::MS_BIND as u64, None)?;
            sys.mount(
                None,
                &t,
                None,
                (libc::MS_BIND | libc::MS_REMOUNT) as u64 | flags,
                None,
            )
        }
        None => {
            let data = (!c.options.is_empty()).then_some(c.options.as_str());
            sys.mount(Some(&c.fstype), &t, Some(&c.fstype), flags, data)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::default_spec;
    use crate::syscall::test::{Call, RecordingSyscall};

    fn plan_calls(rootfs: Rootfs) -> RecordingSyscall {
        let spec = default_spec(&["/bin/true"]);
        let mut sys = RecordingSyscall::default();
        let cg = vec![CgroupMount {
            subdir: "memory".into(),
            fstype: "cgroup".into(),
            options: "memory".into(),
            source: Some("/sys/fs/cgroup/memory/berth/c1".into()),
        }];
        let plan = Plan {
            spec: &spec,
            rootfs: &rootfs,
            mountpoint: Path::new("/state/rootfs"),
            cgroups: &cg,
            own_mount_ns: true,
            userns: false,
        };
        prepare(&mut sys, &plan).unwrap();
        enter(&mut sys, &plan).unwrap();
        mount_cgroup_fs(&mut sys, &spec, &cg).unwrap();
        finish(&mut sys, &spec).unwrap();
        sys
    }

    #[test]
    fn overlay_is_mounted_first_then_root_set_then_pivot() {
        let sys = plan_calls(Rootfs::Overlay {
            lowers: vec!["/l/2".into(), "/l/1".into()],
            upper: "/c/upper".into(),
            work: "/c/work".into(),
        });
        match &sys.calls[1] {
            Call::Mount {
                fstype,
                data,
                target,
                ..
            } => {
                assert_eq!(fstype.as_deref(), Some("overlay"));
                assert_eq!(
                    data.as_deref(),
                    Some("lowerdir=/l/2:/l/1,upperdir=/c/upper,workdir=/c/work")
                );
                assert_eq!(target, &Target::Host("/state/rootfs".into()));
            }
            c => panic!("unexpected {c:?}"),
        }
        assert_eq!(sys.calls[2], Call::SetRoot("/state/rootfs".into()));
        let pivot = sys
            .calls
            .iter()
            .position(|c| *c == Call::PivotRoot)
            .unwrap();
        let first_mask = sys
            .calls
            .iter()
            .position(|c| matches!(c, Call::Mask(_)))
            .unwrap();
        assert!(
            pivot < first_mask,
            "masks must be applied inside the new root"
        );
    }

    #[test]
    fn standard_mounts_in_order() {
        let sys = plan_calls(Rootfs::Dir("/img".into()));
        let t: Vec<String> = sys.mount_targets().into_iter().map(|(p, _)| p).collect();
        let pos = |p: &str| {
            t.iter()
                .position(|x| x == p)
                .unwrap_or_else(|| panic!("{p} not mounted: {t:?}"))
        };
        assert!(pos("/proc") < pos("/dev"));
        assert!(pos("/dev") < pos("/dev/pts"));
        assert!(pos("/dev") < pos("/dev/shm"));
        assert!(t.contains(&"/sys/fs/cgroup/memory".to_string()));
        assert!(sys.calls.contains(&Call::Mknod(
            "/dev/null".into(),
            libc::S_IFCHR | 0o666,
            libc::makedev(1, 3)
        )));
        assert!(sys
            .calls
            .contains(&Call::Symlink("pts/ptmx".into(), "/dev/ptmx".into())));
        assert!(sys.calls.contains(&Call::Mask("/proc/kcore".into())));
        assert!(sys.calls.contains(&Call::Readonly("/proc/sys".into())));
    }

    fn cgroup_calls(spec: &Spec, cg: &[CgroupMount]) -> (Vec<Call>, Vec<Call>) {
        let mut sys = RecordingSyscall::default();
        let rootfs = Rootfs::Dir("/img".into());
        let plan = Plan {
            spec,
            rootfs: &rootfs,
            mountpoint: Path::new("/m"),
            cgroups: cg,
            own_mount_ns: true,
            userns: false,
        };
        prepare(&mut sys, &plan).unwrap();
        let before = sys.calls.clone();
        sys.calls.clear();
        mount_cgroup_fs(&mut sys, spec, cg).unwrap();
        let pick = |calls: &[Call]| -> Vec<Call> {
            calls
                .iter()
                .filter(|c| matches!(c, Call::Mount { target: Target::InRoot(p, _), .. } if p.starts_with("/sys/fs/cgroup")))
                .cloned()
                .collect()
        };
        (pick(&before), pick(&sys.calls))
    }

    fn without_cgroupns(mut spec: Spec) -> Spec {
        let mut linux = spec.linux().clone().unwrap();
        let ns: Vec<_> = linux
            .namespaces()
            .clone()
            .unwrap()
            .into_iter()
            .filter(|n| n.typ() != oci_spec::runtime::LinuxNamespaceType::Cgroup)
            .collect();
        linux.set_namespaces(Some(ns));
        spec.set_linux(Some(linux));
        spec
    }

    #[test]
    fn v1_in_the_host_cgroup_namespace_binds_the_containers_own_cgroups_read_only() {
        let spec = without_cgroupns(default_spec(&["/bin/true"]));
        let cg = vec![
            CgroupMount {
                subdir: "memory".into(),
                fstype: "cgroup".into(),
                options: "memory".into(),
                source: Some("/sys/fs/cgroup/memory/berth/c1".into()),
            },
            CgroupMount {
                subdir: "unified".into(),
                fstype: "cgroup2".into(),
                options: String::new(),
                source: Some("/sys/fs/cgroup/unified/berth/c1".into()),
            },
        ];
        let (before, after) = cgroup_calls(&spec, &cg);
        assert!(after.is_empty(), "{after:?}");
        let srcs: Vec<_> = before
            .iter()
            .map(|c| match c {
                Call::Mount {
                    source,
                    flags,
                    target: Target::InRoot(p, _),
                    ..
                } => (source.clone(), *flags, p.display().to_string()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(srcs[0].0.as_deref(), Some("tmpfs"));
        assert_eq!(
            (srcs[1].0.as_deref(), srcs[1].2.as_str()),
            (
                Some("/sys/fs/cgroup/memory/berth/c1"),
                "/sys/fs/cgroup/memory"
            )
        );
        assert_ne!(srcs[2].1 & libc::MS_RDONLY as u64, 0, "remounted read-only");
        assert_eq!(
            srcs[3].0.as_deref(),
            Some("/sys/fs/cgroup/unified/berth/c1")
        );
        // Nothing mounts the host's hierarchy roots.
        assert!(!before
            .iter()
            .any(|c| matches!(c, Call::Mount { fstype: Some(f), .. } if f.starts_with("cgroup"))));
    }

    #[test]
    fn v2_in_a_cgroup_namespace_mounts_cgroup2_after_pivot() {
        let spec = default_spec(&["/bin/true"]);
        let cg = vec![CgroupMount {
            subdir: String::new(),
            fstype: "cgroup2".into(),
            options: String::new(),
            source: Some("/sys/fs/cgroup/berth/c1".into()),
        }];
        let (before, after) = cgroup_calls(&spec, &cg);
        assert!(before.is_empty(), "{before:?}");
        match &after[..] {
            [Call::Mount {
                source,
                fstype,
                target: Target::InRoot(p, _),
                flags,
                ..
            }] => {
                assert_eq!(
                    (source.as_deref(), fstype.as_deref()),
                    (Some("cgroup2"), Some("cgroup2"))
                );
                assert_eq!(p, Path::new("/sys/fs/cgroup"));
                assert_ne!(flags & libc::MS_RDONLY as u64, 0);
            }
            other => panic!("{other:?}"),
        }
        // Without a cgroup namespace, pure v2 binds the container's own directory.
        let (before, _) = cgroup_calls(&without_cgroupns(spec), &cg);
        assert!(
            matches!(&before[0], Call::Mount { source: Some(s), .. } if s == "/sys/fs/cgroup/berth/c1")
        );
    }

    #[test]
    fn working_dir_is_made_before_the_root_turns_read_only() {
        let mut spec = default_spec(&["/bin/true"]);
        let mut p = spec.process().clone().unwrap();
        p.set_cwd("/work/sub".into());
        spec.set_process(Some(p));
        let mut root = spec.root().clone().unwrap();
        root.set_readonly(Some(true));
        spec.set_root(Some(root));
        let mut sys = RecordingSyscall::default();
        finish(&mut sys, &spec).unwrap();
        assert_eq!(sys.calls[0], Call::MkdirAll("/work/sub".into()));
        assert!(
            matches!(&sys.calls[1], Call::Mount { flags, .. } if flags & libc::MS_RDONLY as u64 != 0)
        );
    }

    #[test]
    fn readonly_bind_is_remounted() {
        let mut spec = default_spec(&["/bin/true"]);
        let mut mounts = spec.mounts().clone().unwrap();
        mounts.push(
            oci_spec::runtime::MountBuilder::default()
                .destination("/data")
                .source("/host/data")
                .typ("bind")
                .options(vec![
                    "rbind".to_string(),
                    "ro".to_string(),
                    "rprivate".to_string(),
                ])
                .build()
                .unwrap(),
        );
        spec.set_mounts(Some(mounts));
        let mut sys = RecordingSyscall::default();
        let rootfs = Rootfs::Dir("/img".into());
        let plan = Plan {
            spec: &spec,
            rootfs: &rootfs,
            mountpoint: Path::new("/m"),
            cgroups: &[],
            own_mount_ns: true,
            userns: false,
        };
        prepare(&mut sys, &plan).unwrap();
        let data: Vec<&Call> = sys
            .calls
            .iter()
            .filter(|c| matches!(c, Call::Mount { target: Target::InRoot(p, _), .. } if p == Path::new("/data")))
            .collect();
        assert_eq!(data.len(), 3);
        let flags: Vec<u64> = data
            .iter()
            .map(|c| match c {
                Call::Mount { flags, .. } => *flags,
                _ => 0,
            })
            .collect();
        assert_eq!(flags[0], (libc::MS_BIND | libc::MS_REC) as u64);
        assert_ne!(flags[1] & libc::MS_RDONLY as u64, 0);
        assert_eq!(flags[2], (libc::MS_PRIVATE | libc::MS_REC) as u64);
    }

    fn calls_for(spec: &Spec, own_mount_ns: bool, userns: bool) -> Vec<Call> {
        let mut sys = RecordingSyscall::default();
        let rootfs = Rootfs::Dir("/img".into());
        let plan = Plan {
            spec,
            rootfs: &rootfs,
            mountpoint: Path::new("/m"),
            cgroups: &[],
            own_mount_ns,
            userns,
        };
        prepare(&mut sys, &plan).unwrap();
        enter(&mut sys, &plan).unwrap();
        sys.calls
    }

    fn host_root(flags: u64) -> Call {
        Call::Mount {
            source: None,
            target: Target::Host("/".into()),
            fstype: None,
            flags,
            data: None,
        }
    }

    #[test]
    fn shared_root_propagation_is_applied_after_pivot_root() {
        let mut spec = default_spec(&["/bin/true"]);
        let mut linux = spec.linux().clone().unwrap();
        linux.set_rootfs_propagation(Some("shared".into()));
        spec.set_linux(Some(linux));
        let calls = calls_for(&spec, true, false);
        // Slave first (pivot_root refuses a shared parent; nothing leaks to the host)...
        assert_eq!(calls[0], host_root((libc::MS_SLAVE | libc::MS_REC) as u64));
        let pivot = calls.iter().position(|c| *c == Call::PivotRoot).unwrap();
        // ...the spec's propagation once `/` is the container's.
        assert_eq!(calls[pivot + 1], host_root(libc::MS_SHARED as u64));
        assert_eq!(calls.len(), pivot + 2);
        linux = spec.linux().clone().unwrap();
        linux.set_rootfs_propagation(Some("sideways".into()));
        spec.set_linux(Some(linux));
        let mut sys = RecordingSyscall::default();
        let rootfs = Rootfs::Dir("/img".into());
        let plan = Plan {
            spec: &spec,
            rootfs: &rootfs,
            mountpoint: Path::new("/m"),
            cgroups: &[],
            own_mount_ns: true,
            userns: false,
        };
        let e = prepare(&mut sys, &plan).unwrap_err().to_string();
        assert!(e.contains("linux.rootfsPropagation"), "{e}");
        assert!(sys.calls.is_empty(), "refused before any mount");
    }

    #[test]
    fn without_a_mount_namespace_the_hosts_root_is_untouched_and_chroot_is_used() {
        let spec = default_spec(&["/bin/true"]);
        let calls = calls_for(&spec, false, false);
        assert!(!calls.iter().any(
            |c| matches!(c, Call::Mount { target: Target::Host(p), .. } if p == Path::new("/"))
        ));
        assert!(calls.contains(&Call::Mount {
            source: None,
            target: Target::Host("/m".into()),
            fstype: None,
            flags: (libc::MS_PRIVATE | libc::MS_REC) as u64,
            data: None,
        }));
        assert!(calls.contains(&Call::Chroot));
        assert!(!calls.contains(&Call::PivotRoot));
    }

    #[test]
    fn in_a_user_namespace_devices_are_bound_from_the_host() {
        let spec = default_spec(&["/bin/true"]);
        let calls = calls_for(&spec, true, true);
        let set_root = calls
            .iter()
            .position(|c| matches!(c, Call::SetRoot(_)))
            .unwrap();
        assert_eq!(calls[set_root + 1], Call::BecomeRoot);
        assert!(!calls.iter().any(|c| matches!(c, Call::Mknod(..))));
        assert!(calls.contains(&Call::Mount {
            source: Some("/dev/null".into()),
            target: Target::InRoot("/dev/null".into(), Kind::File),
            fstype: None,
            flags: libc::MS_BIND as u64,
            data: None,
        }));
    }

    #[test]
    fn overlay_refuses_separators() {
        assert!(overlay_data(&["/a,b".into()], Path::new("/u"), Path::new("/w")).is_err());
        assert!(overlay_data(&[], Path::new("/u"), Path::new("/w")).is_err());
    }
}
