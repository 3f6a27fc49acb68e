//! Where a step's changes are made: a scratch directory per step (upper, work,
//! mount point) under `<root>/build/tmp`, on the layer store's filesystem so the
//! upper dir can be renamed into a layer.
//!
//! COPY/ADD see the step's root through an overlay mounted in a private mount
//! namespace of one thread (`unshare(CLONE_NEWNS)` implies a private fs context,
//! allowed in a threaded process): the host never sees the mount, and it goes
//! away with the thread, even if berth is killed.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// One step's scratch space; removed on drop unless its upper was taken.
pub struct Scratch {
    /// The directory holding upper/, work/, and mnt/.
    pub dir: PathBuf,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Scratch {
    /// A fresh, empty scratch directory under `<root>/build/tmp`.
    pub fn new(root: &Path) -> io::Result<Scratch> {
        let base = root.join("build/tmp");
        fs::create_dir_all(&base)?;
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir)?;
        for d in ["upper", "work", "mnt", "empty"] {
            fs::create_dir(dir.join(d))?;
        }
        Ok(Scratch { dir })
    }

    /// The overlay upper dir: the step's layer.
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// The overlay work dir.
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }

    /// An empty directory, the lower of a root with no layer yet (FROM scratch).
    pub fn empty(&self) -> PathBuf {
        self.dir.join("empty")
    }

    /// `lowers` (top first), or the empty dir when there is none.
    pub fn lowers(&self, lowers: &[PathBuf]) -> Vec<PathBuf> {
        if lowers.is_empty() {
            vec![self.empty()]
        } else {
            lowers.to_vec()
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // overlayfs leaves work/work with mode 000: remove_dir_all handles it as root.
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Removes what a killed build left in `<root>/build/tmp` (scratch dirs of
/// processes that no longer exist).
pub fn clear_stale(root: &Path) {
    let base = root.join("build/tmp");
    let Ok(rd) = fs::read_dir(&base) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid: Option<i32> = name.split('-').next().and_then(|p| p.parse().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Runs `f` with a descriptor of the merged root (`lowers` top first, then the
/// scratch's upper), on a thread whose mount namespace nobody else sees.
pub fn with_root<T: Send>(
    scratch: &Scratch,
    lowers: &[PathBuf],
    f: impl FnOnce(&OwnedFd) -> anyhow::Result<T> + Send,
) -> anyhow::Result<T> {
    with_roots(scratch, lowers, None, |root, _| f(root))
}

/// Like [`with_root`], with a second, read-only root (`src_lowers`, top first: the
/// stage or image `COPY --from` reads) mounted at a path `f` is given.
pub fn with_roots<T: Send>(
    scratch: &Scratch,
    lowers: &[PathBuf],
    src_lowers: Option<&[PathBuf]>,
    f: impl FnOnce(&OwnedFd, Option<&Path>) -> anyhow::Result<T> + Send,
) -> anyhow::Result<T> {
    let lowers = scratch.lowers(lowers);
    let src = match src_lowers {
        Some(l) => {
            // Without an upper, overlayfs wants two lowers at least: the empty dir
            // at the bottom makes any stage (even one layer) mountable read-only.
            let mut l = l.to_vec();
            l.push(scratch.empty());
            let dir = scratch.dir.join("src");
            fs::create_dir_all(&dir)?;
            let names: Vec<String> = l.iter().map(|p| p.display().to_string()).collect();
            if names.iter().any(|n| n.contains([',', ':'])) {
                anyhow::bail!("layer path contains ',' or ':'");
            }
            Some((dir, format!("lowerdir={}", names.join(":"))))
        }
        None => None,
    };
    let data = berth_runtime::rootfs::overlay_data(&lowers, &scratch.upper(), &scratch.work())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mnt = scratch.dir.join("mnt");
    std::thread::scope(|s| {
        s.spawn(move || -> anyhow::Result<T> {
            // SAFETY: unshare only changes this thread's namespaces (CLONE_NEWNS
            // implies CLONE_FS, so the thread gets its own fs context first).
            check(unsafe { libc::unshare(libc::CLONE_NEWNS) })
                .map_err(|e| anyhow::anyhow!("unshare(CLONE_NEWNS): {e}"))?;
            // SAFETY: marks every mount of the private namespace as a slave, so the
            // overlay below never propagates to the host.
            check(unsafe {
                libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_SLAVE,
                    std::ptr::null(),
                )
            })
            .map_err(|e| anyhow::anyhow!("making mounts private: {e}"))?;
            let target = cpath(&mnt)?;
            // The runtime's overlay mount: mount(2), or one `lowerdir+` per layer when
            // the options outgrow a page (images of many layers).
            berth_runtime::syscall::linux::mount_overlay(&data, &mnt, false)
                .map_err(|e| anyhow::anyhow!("mounting the build root: {e}"))?;
            if let Some((dir, data)) = &src {
                berth_runtime::syscall::linux::mount_overlay(data, dir, true)
                    .map_err(|e| anyhow::anyhow!("mounting the COPY --from root: {e}"))?;
            }
            // SAFETY: open of a C string path; the result is checked.
            let fd = unsafe {
                libc::open(
                    target.as_ptr(),
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(anyhow::anyhow!(
                    "opening the build root: {}",
                    io::Error::last_os_error()
                ));
            }
            // SAFETY: open just returned this descriptor; nothing else owns it.
            let root = unsafe { OwnedFd::from_raw_fd(fd) };
            let out = f(&root, src.as_ref().map(|(d, _)| d.as_path()));
            drop(root);
            // SAFETY: unmount our own mount (lazily: a descriptor may linger); the
            // namespace dies with the thread anyway.
            unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
            out
        })
        .join()
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the build root thread panicked")))
    })
}

/// A pipe (read end, write end), both close-on-exec.
pub fn pipe() -> io::Result<(fs::File, fs::File)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two-element array on success.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 just returned both descriptors; each is owned once.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((fs::File::from(r), fs::File::from(w)))
}
