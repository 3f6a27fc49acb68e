//! fuse-overlayfs, where the kernel's overlay cannot be mounted with
//! `userxattr` in the user namespace (kernels before 5.11, or a filesystem
//! under the state root that refuses user xattrs): the supervisor mounts the
//! container's layers with Debian's fuse-overlayfs at `<container>/merged` in
//! the user's mount namespace, the runtime binds that as the container's `/`,
//! and the supervisor unmounts it when the container is deleted (the
//! fuse-overlayfs process exits with its mount). As rootless docker and podman
//! fall back.
//!
//! A keep-id container (its own user namespace) is mounted with it too, with
//! fuse-overlayfs's id mapping, so that its image files keep their owners.
//!
//! `BERTH_ROOTLESS_OVERLAY=fuse-overlayfs` forces it (to compare, or where the
//! kernel overlay misbehaves), `=kernel` forbids the fallback.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The environment variable that picks the overlay.
pub const ENV: &str = "BERTH_ROOTLESS_OVERLAY";

/// The program, as Debian installs it.
pub const PROGRAM: &str = "fuse-overlayfs";

/// Where a container's fuse-overlayfs is mounted.
pub fn merged(container_dir: &Path) -> PathBuf {
    container_dir.join("merged")
}

/// Whether containers under `state_dir` (a directory on the state root's
/// filesystem) need fuse-overlayfs: rootless, and the knob says so or the
/// kernel overlay with `userxattr` fails there. Probed once per boot and
/// filesystem (see [`probe_cache`]): every supervisor of an `up` asks.
pub fn needed(state_dir: &Path) -> bool {
    if !super::in_user_namespace() {
        return false;
    }
    match std::env::var(ENV).as_deref() {
        Ok(PROGRAM) => return true,
        Ok("kernel") => return false,
        _ => {}
    }
    static KERNEL_OK: OnceLock<bool> = OnceLock::new();
    !*KERNEL_OK.get_or_init(|| kernel_overlay_works_cached(state_dir))
}

/// `<run>/rootless/kernel-overlay`: the last probe's answer, as
/// `<boot id> <device> yes|no`. The run dir of the state root `state_dir` is
/// under (a container directory's run side names it); a run dir on disk
/// (`--root`'s) outlives the boot, hence the boot id.
fn probe_cache(state_dir: &Path) -> Option<PathBuf> {
    let run = crate::state::ContainerDir::new(state_dir)
        .run_path()
        .parent()?
        .parent()?
        .to_path_buf();
    Some(super::holder::dir(&run).join("kernel-overlay"))
}

/// The key a probe answer holds for: this boot and the filesystem of `dir`.
fn probe_key(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let dev = std::fs::metadata(dir).ok()?.dev();
    Some(format!("{} {dev}", boot.trim()))
}

fn kernel_overlay_works_cached(state_dir: &Path) -> bool {
    let (Some(cache), Some(key)) = (probe_cache(state_dir), probe_key(state_dir)) else {
        return kernel_overlay_works(state_dir);
    };
    if let Ok(text) = std::fs::read_to_string(&cache) {
        if let Some(answer) = text.trim().strip_prefix(&key) {
            match answer.trim() {
                "yes" => return true,
                "no" => return false,
                _ => {}
            }
        }
    }
    let ok = kernel_overlay_works(state_dir);
    // Only a hint: a lost answer costs one more probe.
    let answer = format!("{key} {}\n", if ok { "yes" } else { "no" });
    let _ = crate::state::atomic::write_atomic(&cache, answer.as_bytes());
    ok
}

fn c(p: &Path) -> Option<CString> {
    CString::new(p.as_os_str().as_encoded_bytes()).ok()
}

/// Mounts a throwaway overlay with `userxattr` under `dir` and unmounts it.
fn kernel_overlay_works(dir: &Path) -> bool {
    let probe = dir.join(format!(".overlay-probe-{}", std::process::id()));
    let d = |n: &str| probe.join(n);
    let made = ["lower", "upper", "work", "merged"]
        .iter()
        .all(|n| std::fs::create_dir_all(d(n)).is_ok());
    let data = format!(
        "lowerdir={},upperdir={},workdir={},userxattr",
        d("lower").display(),
        d("upper").display(),
        d("work").display()
    );
    let ok = made
        && match (c(&d("merged")), CString::new(data)) {
            (Some(target), Ok(data)) => {
                // SAFETY: NUL-terminated strings that outlive the call.
                let rc = unsafe {
                    libc::mount(
                        c"overlay".as_ptr(),
                        target.as_ptr(),
                        c"overlay".as_ptr(),
                        0,
                        data.as_ptr().cast(),
                    )
                };
                if rc == 0 {
                    // SAFETY: as above.
                    unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
                }
                rc == 0
            }
            _ => false,
        };
    let _ = std::fs::remove_dir_all(&probe);
    ok
}

/// Whether fuse-overlayfs can be used: installed, and /dev/fuse open to this
/// process.
pub fn usable() -> bool {
    let installed = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/bin")])
        .any(|d| d.join(PROGRAM).is_file());
    // SAFETY: access takes a NUL-terminated path literal.
    installed && unsafe { libc::access(c"/dev/fuse".as_ptr(), libc::R_OK | libc::W_OK) } == 0
}

/// The id options of a container with a user namespace of its own (keep-id):
/// the layers hold the ids a container in the holder's namespace writes (image
/// root is the holder's 0), and fuse-overlayfs shows each as the holder id the
/// container's map gives it, so that image files keep their owners inside (root
/// stays root, as podman's keep-id shows them). `None` without id maps.
pub fn id_options(spec: &oci_spec::runtime::Spec) -> Option<String> {
    let linux = spec.linux().as_ref()?;
    let fmt = |m: &[oci_spec::runtime::LinuxIdMapping]| {
        m.iter()
            .map(|l| format!("{}:{}:{}", l.container_id(), l.host_id(), l.size()))
            .collect::<Vec<_>>()
            .join(":")
    };
    let uids = linux.uid_mappings().as_deref().filter(|m| !m.is_empty())?;
    let gids = linux.gid_mappings().as_deref().filter(|m| !m.is_empty())?;
    Some(format!("uidmapping={},gidmapping={}", fmt(uids), fmt(gids)))
}

/// The fuse-overlayfs options a container's layers need, rootless, or `None`
/// for the kernel overlay: the container has its own id maps (keep-id) and
/// fuse-overlayfs is usable (else its image files show as the user, the
/// kernel overlay's view), or the kernel overlay is not usable at all.
pub fn wanted(spec: &oci_spec::runtime::Spec, state_dir: &Path) -> Option<String> {
    if !super::in_user_namespace() {
        return None;
    }
    if let Some(ids) = id_options(spec).filter(|_| usable()) {
        return Some(ids);
    }
    needed(state_dir).then(String::new)
}

/// The root a container in `container_dir` is given: `rootfs` itself, or
/// (rootless, where [`wanted`] says so) its overlay's layers mounted by
/// fuse-overlayfs at [`merged`], as a directory. The supervisor starts the
/// container on it; `cp` into or out of a stopped container reads the same
/// layers the same way (their whiteouts and opaque directories are
/// fuse-overlayfs's, which the kernel overlay does not read alike).
pub fn container_root(
    rootfs: berth_runtime::Rootfs,
    spec: &oci_spec::runtime::Spec,
    container_dir: &Path,
) -> Result<berth_runtime::Rootfs, String> {
    use berth_runtime::Rootfs;
    match rootfs {
        Rootfs::Overlay {
            lowers,
            upper,
            work,
        } => match wanted(spec, container_dir) {
            Some(extra) => {
                let target = merged(container_dir);
                mount(&lowers, &upper, &work, &target, &extra)?;
                Ok(Rootfs::Dir(target))
            }
            None => Ok(Rootfs::Overlay {
                lowers,
                upper,
                work,
            }),
        },
        r => Ok(r),
    }
}

/// The fuse-overlayfs options for the layers.
pub fn options(lowers: &[PathBuf], upper: &Path, work: &Path) -> Result<String, String> {
    let check = |p: &Path| -> Result<String, String> {
        let s = p
            .to_str()
            .ok_or_else(|| format!("non-utf8 layer path {}", p.display()))?;
        // The option list splits on ',' and lowerdir on ':'.
        if s.contains([',', ':']) {
            return Err(format!("layer path {s} contains ',' or ':'"));
        }
        Ok(s.to_string())
    };
    if lowers.is_empty() {
        return Err("fuse-overlayfs needs at least one lower dir".into());
    }
    let l: Vec<String> = lowers.iter().map(|p| check(p)).collect::<Result<_, _>>()?;
    Ok(format!(
        "lowerdir={},upperdir={},workdir={}",
        l.join(":"),
        check(upper)?,
        check(work)?
    ))
}

/// Mounts the layers at `target` with fuse-overlayfs, which runs on in the
/// background until it is unmounted.
/// `extra` (from [`wanted`]) is added to the options.
pub fn mount(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
    extra: &str,
) -> Result<(), String> {
    unmount(target);
    std::fs::create_dir_all(target).map_err(|e| format!("{}: {e}", target.display()))?;
    let mut opts = options(lowers, upper, work)?;
    if !extra.is_empty() {
        opts = format!("{opts},{extra}");
    }
    // It forks into the background once mounted: its exit status says whether
    // that worked.
    let out = Command::new(PROGRAM)
        .arg("-o")
        .arg(opts)
        .arg(target)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!("{PROGRAM}: {e} (the kernel overlay cannot be used here; install Debian's fuse-overlayfs: `apt-get install fuse-overlayfs`)")
        })?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let hint = if msg.contains("/dev/fuse") {
            " (fuse-overlayfs needs /dev/fuse readable and writable by the user: as root, `chmod 0666 /dev/fuse`; see `berth doctor`)"
        } else {
            ""
        };
        return Err(format!("{PROGRAM} {}: {msg}{hint}", target.display()));
    }
    Ok(())
}

/// Unmounts `target` if something is mounted there (its fuse-overlayfs then
/// exits).
pub fn unmount(target: &Path) {
    if let Some(t) = c(target) {
        // SAFETY: a NUL-terminated path that outlives the call; EINVAL when
        // nothing is mounted there is fine.
        unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Unmounts every fuse-overlayfs mount under `root` in this mount namespace
/// (what a killed supervisor left), so that no fuse-overlayfs process outlives
/// the namespace holder.
pub fn unmount_all_under(root: &Path) {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for m in mounts_under(&text, root) {
        unmount(&m);
    }
}

/// The fuse-overlayfs mount points under `root` in mountinfo `text`.
fn mounts_under(text: &str, root: &Path) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let point = pre.split(' ').nth(4)?;
            let source = post.split(' ').nth(1)?;
            (post.starts_with("fuse") && source == PROGRAM).then(|| PathBuf::from(point))
        })
        .filter(|p| p.starts_with(root))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_name_the_layers_and_refuse_separators() {
        let o = options(
            &["/s/l1".into(), "/s/l2".into()],
            Path::new("/s/c/upper"),
            Path::new("/s/c/work"),
        )
        .unwrap();
        assert_eq!(
            o,
            "lowerdir=/s/l1:/s/l2,upperdir=/s/c/upper,workdir=/s/c/work"
        );
        assert!(options(&["/a,b".into()], Path::new("/u"), Path::new("/w")).is_err());
        assert!(options(&[], Path::new("/u"), Path::new("/w")).is_err());
    }

    #[test]
    fn keep_id_maps_become_fuse_overlayfs_id_mappings() {
        let mut spec = oci_spec::runtime::Spec::default();
        assert_eq!(id_options(&spec), None);
        let m = |c: u32, h: u32, n: u32| {
            oci_spec::runtime::LinuxIdMappingBuilder::default()
                .container_id(c)
                .host_id(h)
                .size(n)
                .build()
                .unwrap()
        };
        let mut linux = spec.linux().clone().unwrap_or_default();
        let map = vec![m(1001, 0, 1), m(0, 1, 1001), m(1002, 1002, 64535)];
        linux.set_uid_mappings(Some(map.clone()));
        linux.set_gid_mappings(Some(map));
        spec.set_linux(Some(linux));
        assert_eq!(
            id_options(&spec).unwrap(),
            "uidmapping=1001:0:1:0:1:1001:1002:1002:64535,gidmapping=1001:0:1:0:1:1001:1002:1002:64535"
        );
    }

    #[test]
    fn only_fuse_overlayfs_mounts_under_the_root_are_found() {
        let text = "\
36 35 0:32 / /home/u/.local/share/berth/containers/a/merged rw,nosuid,nodev - fuse.fuse-overlayfs fuse-overlayfs rw,user_id=0
37 35 0:33 / /home/u/.local/share/berth/containers/b/merged rw - overlay overlay rw,lowerdir=x
38 35 0:34 / /elsewhere/merged rw - fuse.fuse-overlayfs fuse-overlayfs rw";
        assert_eq!(
            mounts_under(text, Path::new("/home/u/.local/share/berth")),
            [PathBuf::from(
                "/home/u/.local/share/berth/containers/a/merged"
            )]
        );
    }
}
