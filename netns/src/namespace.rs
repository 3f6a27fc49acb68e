//! Network namespaces as handles: created by `unshare` in a helper thread and kept
//! alive by a bind mount at `<run>/netns/<name>`, like `ip netns add` does.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, IoContext, Result};

/// A network namespace pinned by a bind mount under the caller's run dir.
#[derive(Debug)]
pub struct Netns {
    path: PathBuf,
    file: File,
    /// Made by this handle's [`Netns::create`] and not yet attached: nothing in it
    /// but `lo` (down), so the first attach need not ask the kernel what is there.
    fresh: AtomicBool,
}

fn last_os(op: impl Into<String>) -> Error {
    Error::Sys {
        op: op.into(),
        source: std::io::Error::last_os_error(),
    }
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
}

impl Netns {
    /// Create a new, empty network namespace and pin it at `<run_dir>/netns/<name>`.
    pub fn create(run_dir: &Path, name: &str) -> Result<Netns> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(Error::Invalid(format!("invalid netns name {name:?}")));
        }
        let dir = run_dir.join("netns");
        fs::create_dir_all(&dir).at("create dir", &dir)?;
        let path = dir.join(name);
        if let Err(e) = OpenOptions::new().write(true).create_new(true).open(&path) {
            // A pin left by a process killed half-way (an empty file, no namespace
            // mounted on it) is taken over; a live namespace is not.
            if e.kind() != std::io::ErrorKind::AlreadyExists || is_nsfs(&path) {
                return Err(e).at("create netns file", &path);
            }
        }
        let target = cpath(&path);
        // unshare() moves the calling thread, so note where it is and come back
        // (cheaper than a helper thread). The bind mount keeps the namespace alive.
        // No shared-propagation dance as `ip netns` does: the containers' mount
        // namespaces need not see these mounts.
        let r = with_new_netns(|| {
            let src = c"/proc/thread-self/ns/net";
            // SAFETY: valid NUL-terminated paths.
            if unsafe {
                libc::mount(
                    src.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                )
            } != 0
            {
                return Err(last_os("bind mount netns"));
            }
            Ok(())
        })
        .and_then(|r| r);
        if let Err(e) = r {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        let file = File::open(&path).at("open netns", &path)?;
        Ok(Netns {
            path,
            file,
            fresh: AtomicBool::new(true),
        })
    }

    /// Open an existing pinned namespace (or any `/proc/<pid>/ns/net`).
    pub fn open(path: &Path) -> Result<Netns> {
        let file = File::open(path).at("open netns", path)?;
        Ok(Netns {
            path: path.to_path_buf(),
            file,
            fresh: AtomicBool::new(false),
        })
    }

    /// Whether this handle made the namespace and nothing has been attached to it
    /// since (it holds only `lo`, down); the caller is about to attach, so the
    /// next call answers false.
    pub(crate) fn take_fresh(&self) -> bool {
        self.fresh.swap(false, Ordering::SeqCst)
    }

    /// Where the namespace is pinned.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Unmount and unlink the pin; the kernel destroys the namespace (and reaps its
    /// veth ends, asynchronously) once the last reference is gone.
    pub fn remove(self) -> Result<()> {
        let Netns { path, file, .. } = self;
        drop(file);
        remove_pin(&path)
    }
}

/// Unmounts a pin. A plain unmount first: a lazy one (MNT_DETACH) makes the
/// caller wait out an RCU grace period in the kernel, ~1 ms on an idle host and
/// 10-30 ms on a busy one, for each pin. Only a pin still open somewhere
/// (EBUSY) is detached lazily; the kernel drops it with its last user.
fn unmount_pin(c: &CString) -> std::io::Result<()> {
    // SAFETY: valid NUL-terminated path.
    if unsafe { libc::umount2(c.as_ptr(), 0) } == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EBUSY) {
        return Err(e);
    }
    // SAFETY: valid NUL-terminated path.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } == 0 {
        return Ok(());
    }
    Err(std::io::Error::last_os_error())
}

/// Unmount and unlink a netns pin at `path` (missing pieces are not an error).
pub fn remove_pin(path: &Path) -> Result<()> {
    if let Err(e) = unmount_pin(&cpath(path)) {
        // EINVAL: not a mount point (half-created); ENOENT: already gone.
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) {
            return Err(Error::Io {
                op: "unmount netns",
                path: path.into(),
                source: e,
            });
        }
    }
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).at("remove netns file", path),
        _ => Ok(()),
    }
}

impl AsFd for Netns {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Whether `path` is a namespace file (nsfs), i.e. a live pin.
pub fn is_nsfs(path: &Path) -> bool {
    const NSFS_MAGIC: libc::c_long = 0x6e73_6673;
    let c = cpath(path);
    // SAFETY: statfs writes into a zeroed struct we own.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as libc::c_long == NSFS_MAGIC
    }
}

/// Run `f` with the calling thread in a brand-new network namespace, then return it
/// to the namespace it was in.
fn with_new_netns<T>(f: impl FnOnce() -> T) -> Result<T> {
    let orig = File::open("/proc/thread-self/ns/net").at("open", "/proc/thread-self/ns/net")?;
    // SAFETY: unshare affects only this thread's network namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(last_os("unshare(CLONE_NEWNET)"));
    }
    let out = f();
    restore(&orig);
    Ok(out)
}

fn restore(orig: &File) {
    // SAFETY: setns on a namespace fd we opened; failing to go back would leave
    // the caller's thread in a container's namespace, which nothing after this
    // could notice, so abort loudly instead.
    if unsafe { libc::setns(orig.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        let e = std::io::Error::last_os_error();
        panic!("cannot return to the original network namespace: {e}");
    }
}

/// Run `f` with the calling thread inside the network namespace `ns`, then return
/// the thread to the namespace it was in.
pub fn with_netns<T>(ns: BorrowedFd<'_>, f: impl FnOnce() -> T) -> Result<T> {
    let orig = File::open("/proc/thread-self/ns/net").at("open", "/proc/thread-self/ns/net")?;
    // SAFETY: setns on valid namespace fds affects only this thread.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(last_os("setns into netns"));
    }
    let out = f();
    restore(&orig);
    Ok(out)
}
