//! The supervisor's [`Launcher`] on berth's own runtime: one runtime container per
//! run, on the same overlay upper directory, so a restart keeps the container's files.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use berth_runtime::{Container, ContainerConfig, Rootfs, Stdio};

use super::launch::LaunchConfig;
use super::launcher::{ExitInfo, Launched, Launcher};
use super::sys::pidfd_open;
use crate::state::perms::create_shared_dir;

/// Starts and signals a container through `berth-runtime`.
pub struct RuntimeLauncher {
    cfg: LaunchConfig,
    dir: PathBuf,
    container: Option<Container>,
    probes: Vec<berth_runtime::ExecProcess>,
}

/// The runtime's own state directory inside a container directory.
pub fn runtime_dir(container_dir: &Path) -> PathBuf {
    crate::state::ContainerDir::new(container_dir).runtime()
}

fn to_io(e: berth_runtime::Error) -> io::Error {
    io::Error::other(e.to_string())
}

impl RuntimeLauncher {
    /// A launcher for the container in `dir`.
    pub fn new(cfg: LaunchConfig, dir: &Path) -> RuntimeLauncher {
        RuntimeLauncher {
            cfg,
            dir: dir.to_path_buf(),
            container: None,
            probes: vec![],
        }
    }

    /// The container's root: its overlay, or (rootless, where the kernel
    /// overlay cannot be used, or for keep-id) the same layers mounted by
    /// fuse-overlayfs.
    fn rootfs(&self) -> io::Result<Rootfs> {
        crate::rootless::fuse_overlay::container_root(
            rootfs_of(&self.cfg, &self.dir),
            &self.cfg.spec,
            &self.dir,
        )
        .map_err(io::Error::other)
    }
}

/// Unmounts the container's fuse-overlayfs, if it has one.
fn unmount_fuse(dir: &Path) {
    crate::rootless::fuse_overlay::unmount(&crate::rootless::fuse_overlay::merged(dir));
}

/// The root filesystem of the container in `dir`: its layers under its upper dir
/// (`cp` mounts the same for a stopped container).
pub fn rootfs_of(cfg: &LaunchConfig, dir: &Path) -> Rootfs {
    match &cfg.rootfs_dir {
        Some(d) if cfg.lowers.is_empty() => Rootfs::Dir(d.clone()),
        _ => Rootfs::Overlay {
            lowers: cfg.lowers.clone(),
            upper: crate::state::ContainerDir::new(dir).upper(),
            work: crate::state::ContainerDir::new(dir).work(),
        },
    }
}

/// Removes what a killed supervisor's run left in the runtime (its cgroups, its
/// init if somehow alive), so that the next create starts clean.
pub fn clear_stale(container_dir: &Path) {
    let rdir = runtime_dir(container_dir);
    if rdir.join("state.json").exists() {
        if let Ok(c) = Container::load(&rdir) {
            let _ = c.delete();
        }
    }
    unmount_fuse(container_dir);
}

impl Launcher for RuntimeLauncher {
    fn launch(
        &mut self,
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: OwnedFd,
    ) -> io::Result<Launched> {
        clear_stale(&self.dir);
        // The upper dir's mode is the container's `/`: docker's 0755, not our umask.
        create_shared_dir(&crate::state::ContainerDir::new(&self.dir).upper())?;
        std::fs::create_dir_all(crate::state::ContainerDir::new(&self.dir).work())?;
        let stdin: OwnedFd = match stdin {
            Some(fd) => fd,
            None => File::open("/dev/null")?.into(),
        };
        let c = Container::create(ContainerConfig {
            id: self.cfg.id.clone(),
            state_dir: runtime_dir(&self.dir),
            spec: self.cfg.spec.clone(),
            rootfs: self.rootfs()?,
            stdio: Stdio::Fds {
                stdin,
                stdout,
                stderr,
            },
            init: self.cfg.init,
            user: self.cfg.user.clone(),
            bundle: Some(self.dir.clone()),
            // A killed supervisor takes its container along (docker: exit 137),
            // never leaving one that runs unseen, unreaped and unrestarted.
            die_with_parent: true,
        })
        .map_err(|e| {
            unmount_fuse(&self.dir);
            to_io(e)
        })?;
        let tty = c.take_pty();
        if let Err(e) = c.start() {
            let _ = c.delete();
            unmount_fuse(&self.dir);
            return Err(to_io(e));
        }
        let pid = c.pid() as u32;
        let pidfd = pidfd_open(pid)?;
        self.container = Some(c);
        Ok(Launched { pid, pidfd, tty })
    }

    fn signal(&mut self, signal: i32, all: bool) -> io::Result<()> {
        match &self.container {
            Some(c) => c.kill(signal, all).map_err(to_io),
            None => Ok(()),
        }
    }

    fn reap(&mut self, _: &Launched) -> io::Result<ExitInfo> {
        let c = self
            .container
            .as_ref()
            .ok_or_else(|| io::Error::other("no container to reap"))?;
        let st = c.wait().map_err(to_io)?;
        Ok(ExitInfo {
            code: st.as_shell_code(),
            oom_killed: st.oom_killed,
        })
    }

    fn freeze(&mut self, frozen: bool) -> io::Result<()> {
        let c = self
            .container
            .as_ref()
            .ok_or_else(|| io::Error::other("container is not running"))?;
        if frozen {
            c.pause().map_err(to_io)
        } else {
            c.resume().map_err(to_io)
        }
    }

    fn start_probe(&mut self, command: &[String], output: OwnedFd) -> io::Result<Launched> {
        let c = self
            .container
            .as_ref()
            .ok_or_else(|| io::Error::other("container is not running"))?;
        let mut process = self.cfg.spec.process().clone().unwrap_or_default();
        process.set_args(Some(command.to_vec()));
        process.set_terminal(Some(false));
        process.set_console_size(None);
        let stdin: OwnedFd = File::open("/dev/null")?.into();
        let stderr = output.try_clone()?;
        let p = c
            .exec(berth_runtime::ExecConfig {
                process,
                user: self.cfg.user.clone(),
                stdio: Stdio::Fds {
                    stdin,
                    stdout: output,
                    stderr,
                },
            })
            .map_err(to_io)?;
        let pid = p.pid as u32;
        let pidfd = pidfd_open(pid)?;
        self.probes.push(p);
        Ok(Launched {
            pid,
            pidfd,
            tty: None,
        })
    }

    fn reap_probe(&mut self, probe: &Launched) -> io::Result<i32> {
        let Some(i) = self.probes.iter().position(|p| p.pid as u32 == probe.pid) else {
            return Ok(-1);
        };
        let p = self.probes.swap_remove(i);
        Ok(p.wait().map_err(to_io)?.as_shell_code())
    }

    fn cleanup(&mut self) -> io::Result<()> {
        let r = match self.container.take() {
            Some(c) => c.delete().map_err(to_io),
            None => Ok(()),
        };
        unmount_fuse(&self.dir);
        r
    }
}
