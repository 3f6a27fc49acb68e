//! create: cgroups, helper, init; returns once the container waits for `start`.

use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::state::{State, CONFIG, FIFO, ROOTFS, STATE};
use super::{Container, ContainerConfig};
use crate::cgroups::{self, Cgroups};
use crate::error::{Error, Result, WrapIo};
use crate::process::message::{CreateRequest, FromInit, ToInit};
use crate::process::spawn;
use crate::syscall::raw;

/// Everything created so far, undone on drop unless disarmed.
struct Undo<'a> {
    cfg_dir: &'a std::path::Path,
    cgroups: Option<Cgroups>,
    pidfd: Option<std::os::fd::OwnedFd>,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(fd) = &self.pidfd {
            let _ = raw::pidfd_send_signal(fd, libc::SIGKILL);
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            unsafe {
                libc::waitid(
                    libc::P_PIDFD,
                    fd.as_raw_fd() as libc::id_t,
                    &mut info,
                    libc::WEXITED,
                )
            };
        }
        if let Some(cg) = &self.cgroups {
            let _ = cg.remove();
        }
        for f in [STATE, CONFIG, FIFO] {
            let _ = std::fs::remove_file(self.cfg_dir.join(f));
        }
        let _ = std::fs::remove_dir(self.cfg_dir.join(ROOTFS));
        let _ = std::fs::remove_dir(self.cfg_dir);
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !id.starts_with('.')
}

impl Container {
    /// Create the container: its init runs in new namespaces inside its cgroups, with the
    /// root filesystem mounted, and waits for `start`. The calling process becomes the
    /// init's parent (so it can `wait`).
    pub fn create(cfg: ContainerConfig) -> Result<Container> {
        if !valid_id(&cfg.id) {
            return Err(Error::Spec(format!("invalid container id {:?}", cfg.id)));
        }
        let dir = cfg.state_dir.clone();
        std::fs::create_dir_all(&dir).at("mkdir", &dir)?;
        if dir.join(STATE).exists() {
            return Err(Error::Spec(format!("container {} already exists", cfg.id)));
        }
        let mut undo = Undo {
            cfg_dir: &dir,
            cgroups: None,
            pidfd: None,
            armed: true,
        };
        let mountpoint = dir.join(ROOTFS);
        match std::fs::create_dir(&mountpoint) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(e).at("mkdir", &mountpoint)
            }
            _ => {}
        }
        let fifo = dir.join(FIFO);
        let c = raw::cstr(&fifo).map_err(|e| Error::Path {
            op: "mkfifo",
            path: fifo.clone(),
            source: e,
        })?;
        if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } < 0 {
            return Err(Error::last("mkfifo", &fifo));
        }
        let config = dir.join(CONFIG);
        let spec_json = serde_json::to_vec(&cfg.spec).map_err(|e| Error::Json {
            path: config.clone(),
            source: e,
        })?;
        std::fs::write(&config, spec_json).at("write", &config)?;

        let linux = cfg.spec.linux().as_ref();
        let h = cgroups::hierarchies();
        let rel = cgroups::relative_path(linux.and_then(|l| l.cgroups_path().as_deref()), &cfg.id);
        let cg = Cgroups::create(h, &rel, linux.and_then(|l| l.resources().as_ref()))?;
        let v2 = cg.v2_dir().map(|p| p.to_path_buf());
        let procs = cg
            .dirs
            .iter()
            .filter(|d| d.version == 1)
            .map(|d| d.path.join("cgroup.procs"))
            .collect();
        undo.cgroups = Some(cg.clone());

        let req = CreateRequest {
            id: cfg.id.clone(),
            spec: cfg.spec.clone(),
            rootfs: cfg.rootfs.clone(),
            mountpoint,
            fifo,
            cgroup_procs: procs,
            cgroup_v2: v2,
            cgroup_mounts: cgroups::container_mounts(h),
            init: cfg.init,
            user: cfg.user.clone(),
        };
        let (chan, mut helper) = spawn::spawn(cfg.stdio)?;
        chan.send(&ToInit::Create(Box::new(req)))?;
        let first = chan.recv::<FromInit>();
        // The helper exits right after reporting the pid: reap it.
        let _ = helper.wait();
        let pid = match first? {
            Some((FromInit::Pid(pid), _)) => pid,
            Some((FromInit::Error(e), _)) => return Err(Error::Init(e)),
            Some((m, _)) => return Err(Error::Channel(format!("unexpected {m:?}"))),
            None => return Err(Error::Init("runtime helper exited without a pid".into())),
        };
        // Our child (CLONE_PARENT) and not yet reaped: the pid cannot have been reused.
        let pidfd = raw::pidfd_open(pid).map_err(|e| Error::Sys {
            op: "pidfd_open",
            source: e,
        })?;
        undo.pidfd = Some(pidfd);
        let mut pty = None;
        loop {
            match chan.recv::<FromInit>()? {
                Some((FromInit::Ready, _)) => break,
                Some((FromInit::Pty, fd)) => pty = fd,
                Some((FromInit::Error(e), _)) => return Err(Error::Init(e)),
                Some((m, _)) => return Err(Error::Channel(format!("unexpected {m:?}"))),
                None => return Err(Error::Init("container init exited during setup".into())),
            }
        }
        let state = State {
            oci_version: cfg.spec.version().clone(),
            id: cfg.id.clone(),
            pid,
            start_time: raw::start_time(pid).unwrap_or(0),
            bundle: cfg.bundle.clone(),
            cgroups: cg,
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            init: cfg.init,
        };
        state.save(&dir)?;
        undo.armed = false;
        let pidfd = undo.pidfd.take();
        drop(undo);
        Ok(Container {
            state,
            state_dir: dir,
            pidfd,
            chan: Mutex::new(Some(chan)),
            pty: Mutex::new(pty),
            exit: Mutex::new(None),
        })
    }
}
