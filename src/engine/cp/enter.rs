//! Getting a process that sees what a container sees.
//!
//! berth mounts a container's overlay rootfs inside the container's own mount
//! namespace, so the host has no path to its files. `cp` therefore does the
//! container side in a forked child: for a running (or paused) container the
//! child joins the mount namespace of the container's init (`setns` on
//! `/proc/<pid>/ns/mnt`, opened while a pidfd proves the pid is still that
//! process); for a created or exited one, the child unshares a private mount
//! namespace and mounts what the container would get, with the runtime's own
//! `rootfs::prepare` (overlay of the image layers and the container's upper
//! dir, then its volumes and bind mounts), then pivots into it. Either way the
//! child's root is the container's root, writes land in the upper dir or the
//! volume the container uses, and every path is resolved with
//! openat2(RESOLVE_IN_ROOT). The child streams tar to or from the parent over
//! a pipe; the parent never touches the container's files.
//!
//! The fork happens while berth is single-threaded (checked); the child uses
//! only its own pipes and ends with `_exit`.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use berth_runtime::rootfs::{self, Plan, Rootfs};
use berth_runtime::syscall::linux::LinuxSyscall;

use super::sys::Root;
use crate::container::list::Found;
use crate::container::ContainerState;
use crate::supervise::launch::LaunchConfig;
use crate::supervise::runtime_launcher::rootfs_of;
use crate::supervise::sys::pidfd_open;

/// How to see a container's files.
pub enum Access {
    /// Join the running container's mount namespace.
    Running {
        /// `/proc/<pid>/ns/mnt` of its init.
        mnt_ns: OwnedFd,
    },
    /// Mount its rootfs and volumes in a private namespace.
    Stopped {
        /// The supervisor's lock, held so the container does not start meanwhile.
        _lock: File,
        /// The container's launch config (spec, layers).
        launch: Box<LaunchConfig>,
        /// The container's directory.
        dir: PathBuf,
    },
}

impl Access {
    /// The way into `found`, as it is now.
    pub fn of(found: &Found) -> Result<Access> {
        let name = &found.record.name;
        let files = crate::state::ContainerDir::new(&found.dir);
        // A container never started (or not since a reboot) has no run side yet.
        files
            .ensure_run_dir()
            .with_context(|| format!("locking {name}"))?;
        if let Some(lock) = crate::state::try_lock(&files.supervisor_lock())
            .with_context(|| format!("locking {name}"))?
        {
            let launch = LaunchConfig::load(&found.dir)?;
            return Ok(Access::Stopped {
                _lock: lock,
                launch: Box::new(launch),
                dir: found.dir.clone(),
            });
        }
        let live = matches!(
            found.status.state,
            ContainerState::Running | ContainerState::Paused
        );
        let pid = found.status.pid.filter(|_| live).ok_or_else(|| {
            anyhow!("container {name} is busy (starting, restarting or being copied to); try again")
        })?;
        let pidfd = pidfd_open(pid).with_context(|| format!("container {name} stopped"))?;
        let path = format!("/proc/{pid}/ns/mnt");
        let mnt_ns: OwnedFd = File::open(&path)
            .with_context(|| format!("opening {path} of {name}"))?
            .into();
        // The namespace is the container's only if the pid still is.
        // SAFETY: signal 0 through a pidfd we own only checks that it lives.
        let alive = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd.as_raw_fd(),
                0,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        } == 0;
        if !alive {
            bail!("container {name} stopped");
        }
        Ok(Access::Running { mnt_ns })
    }
}

/// A child at work inside a container.
pub struct Child {
    pid: libc::pid_t,
    errors: File,
    mountpoint: Option<PathBuf>,
    _fuse: Option<FuseRoot>,
}

/// A stopped container's layers mounted by fuse-overlayfs for the copy
/// (rootless, where its supervisor would mount them so too); unmounted when
/// dropped, after the child is done, and its fuse-overlayfs then exits.
struct FuseRoot(PathBuf);

impl Drop for FuseRoot {
    fn drop(&mut self) {
        crate::rootless::fuse_overlay::unmount(&self.0);
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: pipe2 just gave us these.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:").map(|n| n.trim().parse().ok()))
                .flatten()
        })
        .unwrap_or(0)
}

/// Closes every descriptor above stderr except `keep`.
fn close_all_except(keep: &[RawFd]) {
    let mut keep: Vec<u32> = keep.iter().map(|f| *f as u32).collect();
    keep.sort_unstable();
    let mut from = 3u32;
    for k in keep.into_iter().filter(|k| *k >= 3) {
        if k > from {
            // SAFETY: closing descriptors this child does not use.
            unsafe { libc::syscall(libc::SYS_close_range, from, k - 1, 0) };
        }
        from = k + 1;
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, 0) };
}

/// Mounts the stopped container's rootfs and volumes at `mountpoint` and pivots
/// into it, in a private mount namespace.
fn mount_stopped(launch: &LaunchConfig, rootfs: &Rootfs, mountpoint: &Path) -> Result<()> {
    // SAFETY: a single-threaded child gets its own mount namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(std::io::Error::last_os_error()).context("unshare(CLONE_NEWNS)");
    }
    let mut spec = launch.spec.clone();
    // Only what holds files: the volumes and bind mounts, not /proc, /dev or /sys.
    let binds: Vec<_> = spec
        .mounts()
        .iter()
        .flatten()
        .filter(|m| {
            m.typ().as_deref() == Some("bind")
                || m.options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind")
        })
        .cloned()
        .collect();
    spec.set_mounts(Some(binds));
    if let Some(l) = spec.linux_mut() {
        l.set_rootfs_propagation(Some("rprivate".into()));
        l.set_masked_paths(None);
        l.set_readonly_paths(None);
        l.set_devices(None);
    }
    let mut sys = LinuxSyscall::new();
    let plan = Plan {
        spec: &spec,
        rootfs,
        mountpoint,
        cgroups: &[],
        own_mount_ns: true,
        userns: false,
    };
    rootfs::prepare(&mut sys, &plan).context("mounting the container's files")?;
    rootfs::enter(&mut sys, &plan).context("mounting the container's files")?;
    // `read_only: true` keeps the root read-only here too.
    rootfs::finish(&mut sys, &spec).context("mounting the container's files")?;
    Ok(())
}

impl Child {
    /// Forks a child that enters the container and runs `body` with its root;
    /// `keep` are the descriptors the body uses.
    pub fn spawn(
        access: &Access,
        keep: &[RawFd],
        body: impl FnOnce(&Root) -> Result<()>,
    ) -> Result<Child> {
        if threads() > 1 {
            bail!("internal error: cp must fork while berth is single-threaded");
        }
        let (mountpoint, rootfs, fuse) = match access {
            Access::Stopped { dir, launch, .. } => {
                let files = crate::state::ContainerDir::new(dir);
                for d in [files.upper(), files.work(), files.cp_rootfs()] {
                    // The upper dir is the container's `/` (0755, as the supervisor makes it).
                    if d == files.upper() {
                        crate::state::perms::create_shared_dir(&d)
                    } else {
                        std::fs::create_dir_all(&d)
                    }
                    .with_context(|| format!("creating {}", d.display()))?;
                }
                // Mounted here, before the fork: fuse-overlayfs must live in
                // this mount namespace, not in the child's, which ends with it.
                let layers = rootfs_of(launch, dir);
                let overlay = matches!(layers, Rootfs::Overlay { .. });
                let rootfs =
                    crate::rootless::fuse_overlay::container_root(layers, &launch.spec, dir)
                        .map_err(|e| anyhow!("mounting the container's files: {e}"))?;
                let fuse = match &rootfs {
                    Rootfs::Dir(d) if overlay => Some(FuseRoot(d.clone())),
                    _ => None,
                };
                (Some(files.cp_rootfs()), Some(rootfs), fuse)
            }
            Access::Running { .. } => (None, None, None),
        };
        let (err_r, err_w) = pipe()?;
        // SAFETY: berth is single-threaded here (checked above).
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(std::io::Error::last_os_error()).context("fork");
        }
        if pid == 0 {
            // What the child creates is the container's: docker's umask, not berth's.
            // SAFETY: umask cannot fail and touches only this process.
            unsafe { libc::umask(0o022) };
            let mut all = keep.to_vec();
            all.push(err_w.as_raw_fd());
            if let Access::Running { mnt_ns } = access {
                all.push(mnt_ns.as_raw_fd());
            }
            close_all_except(&all);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Self::enter(access, mountpoint.as_deref(), rootfs.as_ref())
                    .and_then(|root| body(&root))
            }));
            let msg = match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(crate::report::text(&e)),
                Err(_) => Some("internal error: the copy panicked".to_string()),
            };
            let code = match msg {
                None => 0,
                Some(m) => {
                    // SAFETY: writes our own buffer to our own pipe.
                    unsafe { libc::write(err_w.as_raw_fd(), m.as_ptr().cast(), m.len()) };
                    1
                }
            };
            // SAFETY: ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) };
        }
        drop(err_w);
        Ok(Child {
            pid,
            errors: File::from(err_r),
            mountpoint,
            _fuse: fuse,
        })
    }

    fn enter(access: &Access, mountpoint: Option<&Path>, rootfs: Option<&Rootfs>) -> Result<Root> {
        match (access, mountpoint, rootfs) {
            (Access::Running { mnt_ns }, _, _) => {
                // SAFETY: joins a namespace through a descriptor we hold.
                if unsafe { libc::setns(mnt_ns.as_raw_fd(), libc::CLONE_NEWNS) } != 0 {
                    return Err(std::io::Error::last_os_error())
                        .context("joining the container's mount namespace");
                }
            }
            (Access::Stopped { launch, .. }, Some(mp), Some(rootfs)) => {
                mount_stopped(launch, rootfs, mp)?
            }
            (Access::Stopped { .. }, _, _) => bail!("no mount point"),
        }
        // SAFETY: "/" is a valid C string.
        if unsafe { libc::chdir(c"/".as_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error()).context("chdir /");
        }
        let root = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open("/")
            .context("opening the container's root")?;
        Ok(Root::InRoot(root.into()))
    }

    /// Waits for the child; its error, if it failed.
    pub fn wait(mut self) -> Result<()> {
        let mut msg = String::new();
        let _ = self.errors.read_to_string(&mut msg);
        let mut status = 0;
        loop {
            // SAFETY: waits for our own child.
            let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
        if let Some(mp) = self.mountpoint.take() {
            let _ = std::fs::remove_dir(mp);
        }
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 && msg.is_empty() {
            return Ok(());
        }
        if msg.is_empty() {
            bail!("the copy ended abnormally (status {status})");
        }
        Err(anyhow!(msg))
    }
}

use std::os::unix::fs::OpenOptionsExt;
