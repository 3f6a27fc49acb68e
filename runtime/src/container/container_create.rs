//! create: cgroups, helper, init; returns once the container waits for `start`.

use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::state::{state_doc, State, CONFIG, FIFO, ROOTFS, STATE};
use super::{Container, ContainerConfig, CreateTimings};
use crate::cgroups::{self, Cgroups};
use crate::error::{Error, Result, WrapIo};
use crate::hooks;
use crate::process::message::{CreateRequest, FromInit, ToInit};
use crate::process::spawn;
use crate::rootfs::Rootfs;
use crate::syscall::raw;

/// Everything created so far, undone on drop unless disarmed.
struct Undo<'a> {
    cfg_dir: &'a std::path::Path,
    cgroups: Option<Cgroups>,
    pidfd: Option<std::os::fd::OwnedFd>,
    /// Once the init exists: the spec and state whose poststop hooks run on failure
    /// (the lifecycle goes on at "delete" when a create hook fails).
    poststop: Option<(&'a oci_spec::runtime::Spec, serde_json::Value)>,
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
            // An init cloned before the failure (its pid never reached us) is still in the
            // cgroup: kill everything there before removing it.
            let _ = cg.kill_all(libc::SIGKILL);
            let _ = cg.remove();
        }
        for f in [STATE, CONFIG, FIFO] {
            let _ = std::fs::remove_file(self.cfg_dir.join(f));
        }
        super::detach_rootfs(&self.cfg_dir.join(ROOTFS));
        let _ = std::fs::remove_dir(self.cfg_dir.join(ROOTFS));
        let _ = std::fs::remove_dir(self.cfg_dir);
        if let Some((spec, state)) = &mut self.poststop {
            state["status"] = "stopped".into();
            hooks::run_warn(spec, hooks::Kind::Poststop, state);
        }
    }
}

/// Send to the init; if it is gone, its own last words (queued before it exited) say
/// more than EPIPE does.
fn send_or_init_error(chan: &crate::process::channel::Channel, m: &ToInit) -> Result<()> {
    let Err(e) = chan.send(m) else {
        return Ok(());
    };
    for _ in 0..8 {
        match chan.recv::<FromInit>() {
            Ok(Some((FromInit::Error(msg), _))) => return Err(Error::Init(msg)),
            Ok(Some(_)) => continue,
            _ => break,
        }
    }
    Err(e)
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
        Self::create_inner(cfg, false)
    }

    /// `create` then `start`, without the round trip in between: the init has no exec
    /// fifo to wait on, it runs the startContainer hooks and goes straight on to exec
    /// once its root filesystem is ready (a hook's failure fails `run`).
    pub fn run(cfg: ContainerConfig) -> Result<Container> {
        let c = Self::create_inner(cfg, true)?;
        c.poststart();
        Ok(c)
    }

    fn create_inner(cfg: ContainerConfig, start: bool) -> Result<Container> {
        if !valid_id(&cfg.id) {
            return Err(Error::Spec(format!("invalid container id {:?}", cfg.id)));
        }
        let dir = cfg.state_dir.clone();
        std::fs::create_dir_all(&dir).at("mkdir", &dir)?;
        if dir.join(STATE).exists() {
            return Err(Error::Spec(format!("container {} already exists", cfg.id)));
        }
        if let Rootfs::Overlay { upper, .. } = &cfg.rootfs {
            // overlayfs refuses an upper dir on overlayfs ("not supported as upperdir",
            // containerd#2071): say so before anything is set up.
            let c = raw::cstr(upper).map_err(|e| Error::Path {
                op: "statfs",
                path: upper.clone(),
                source: e,
            })?;
            let mut st: libc::statfs = unsafe { std::mem::zeroed() };
            if unsafe { libc::statfs(c.as_ptr(), &mut st) } < 0 {
                return Err(Error::last("statfs", upper));
            }
            if st.f_type == 0x794c_7630 {
                return Err(Error::Spec(format!(
                    "overlay upper dir {} is itself on overlayfs",
                    upper.display()
                )));
            }
        }
        let ns = crate::namespaces::plan(&cfg.spec)?;
        let mut undo = Undo {
            cfg_dir: &dir,
            cgroups: None,
            pidfd: None,
            poststop: None,
            armed: true,
        };
        // A new mount namespace of its own (and no user namespace, whose root may not
        // reach a host directory) mounts its root over the state dir itself: hidden
        // only in that namespace, and one directory (an inode, with its allocation and
        // removal on the state filesystem) fewer per container. Elsewhere the root is
        // mounted where other namespaces see it: on a `rootfs` directory of its own.
        let mountpoint = if ns.new_flags & libc::CLONE_NEWNS != 0 && !ns.new_userns() {
            dir.clone()
        } else {
            let m = dir.join(ROOTFS);
            match std::fs::create_dir(&m) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    return Err(e).at("mkdir", &m)
                }
                _ => {}
            }
            m
        };
        // `run` starts at once: nothing opens the fifo from outside, so it needs none
        // (one inode fewer); its init goes on to exec as soon as it is ready.
        let fifo = (!start).then(|| dir.join(FIFO));
        if let Some(fifo) = &fifo {
            let c = raw::cstr(fifo).map_err(|e| Error::Path {
                op: "mkfifo",
                path: fifo.clone(),
                source: e,
            })?;
            // SAFETY: `c` is a NUL-terminated path that outlives the call.
            if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } < 0 {
                return Err(Error::last("mkfifo", fifo));
            }
        }
        if ns.new_userns() {
            // The init opens the fifo for writing once it is the namespace's root, whose
            // host ids are the maps' image of 0 (runc chowns it the same way).
            let linux = cfg.spec.linux().as_ref();
            let id = |m: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
                crate::namespaces::host_id(m.map_or(&[][..], |v| v.as_slice()), 0)
            };
            let uid = id(linux.and_then(|l| l.uid_mappings().as_ref()));
            let gid = id(linux.and_then(|l| l.gid_mappings().as_ref()));
            let (Some(uid), Some(gid)) = (uid, gid) else {
                return Err(Error::Spec(
                    "linux.uidMappings/gidMappings: container id 0 is not mapped".into(),
                ));
            };
            if let Some(fifo) = &fifo {
                let c = raw::cstr(fifo).map_err(|e| Error::Path {
                    op: "chown",
                    path: fifo.clone(),
                    source: e,
                })?;
                // SAFETY: a valid NUL-terminated path.
                if unsafe { libc::chown(c.as_ptr(), uid, gid) } < 0 {
                    return Err(Error::last("chown", fifo));
                }
            }
        }
        // Saved with the state at the end (`State::save`): nothing reads it before.
        let spec_json = serde_json::to_vec(&cfg.spec).map_err(|e| Error::Json {
            path: dir.join(STATE),
            source: e,
        })?;

        let mut timings = CreateTimings::default();
        let t = std::time::Instant::now();
        let linux = cfg.spec.linux().as_ref();
        let h = cgroups::hierarchies();
        let rel = cgroups::relative_path(linux.and_then(|l| l.cgroups_path().as_deref()), &cfg.id);
        let res = cgroups::with_device_rules(linux.and_then(|l| l.resources().as_ref()));
        // The v1 directories (ten on a hybrid host, with their limits and device
        // rules) are made once the init is cloned, while it builds its root
        // filesystem: it needs them only at `Attached`. Unless it binds them into
        // its root before that (a `cgroup` mount in the host's cgroup namespace).
        let v1_later = !crate::rootfs::binds_cgroup_dirs(&cfg.spec);
        let mut applied = cgroups::Applied::default();
        let mut cg = Cgroups::default();
        cg.create_in(
            h,
            &rel,
            &res,
            |hier| !(v1_later && hier.version == 1),
            &mut applied,
        )?;
        undo.cgroups = Some(cg.clone());
        if !v1_later {
            applied.check(&res)?;
        }
        let v2 = cg.v2_dir().map(|p| p.to_path_buf());
        let v1_dirs: Vec<std::path::PathBuf> = h
            .iter()
            .filter(|hier| hier.version == 1)
            .map(|hier| hier.mount.join(&rel))
            .collect();
        // Who moves the init into its v1 cgroups: itself (cheaper, see
        // `CreateRequest::cgroup_tasks`) where it sees the host's files as their
        // owner, else this process.
        let self_attach = !ns.new_userns() && !ns.join.iter().any(|(f, _)| *f == libc::CLONE_NEWNS);
        let (cgroup_tasks, procs): (Vec<_>, Vec<_>) = if self_attach {
            (
                v1_dirs.iter().map(|d| d.join("tasks")).collect(),
                Vec::new(),
            )
        } else {
            (
                Vec::new(),
                v1_dirs.iter().map(|d| d.join("cgroup.procs")).collect(),
            )
        };
        timings.cgroups_us = t.elapsed().as_micros() as u64;
        let t = std::time::Instant::now();

        let req = CreateRequest {
            id: cfg.id.clone(),
            spec: cfg.spec.clone(),
            rootfs: cfg.rootfs.clone(),
            mountpoint,
            fifo,
            cgroup_procs: Vec::new(),
            attach_by_caller: !v1_dirs.is_empty(),
            cgroup_tasks,
            cgroup_v2: v2,
            cgroup_mounts: cgroups::container_mounts(h, &rel),
            init: cfg.init,
            user: cfg.user.clone(),
            die_with_parent: cfg.die_with_parent,
        };
        // The init cloned right here when nothing needs the helper; its pid is then
        // known at once, as if the helper had reported it.
        let direct = spawn::clone_init(cfg.stdio, Box::new(req), &ns)?;
        let (chan, mut helper, mut known) = match direct {
            Ok(d) => (d.chan, None, Some(FromInit::Pid(d.pid, [0, d.clone_us]))),
            Err((stdio, req)) => {
                let (chan, helper) = spawn::spawn(stdio, Some(ToInit::Create(req)))?;
                (chan, Some(helper), None)
            }
        };
        // The helper reports the pid and the init reports its progress on the same
        // channel from two processes: under load the init's messages can overtake the
        // helper's, so accept them in any order.
        let mut pid = None;
        let mut ready = false;
        let mut pty = None;
        while pid.is_none() || !ready {
            let next = match known.take() {
                Some(m) => Ok(Some((m, None))),
                None => chan.recv::<FromInit>(),
            };
            match next {
                Ok(Some((FromInit::Pid(p, [_, clone]), _))) => {
                    timings.clone_us = clone;
                    timings.helper_us = t.elapsed().as_micros() as u64;
                    // Our child (CLONE_PARENT) and not yet reaped: the pid cannot have
                    // been reused.
                    match raw::pidfd_open(p) {
                        Ok(fd) => undo.pidfd = Some(fd),
                        Err(e) => {
                            return Err(Error::Sys {
                                op: "pidfd_open",
                                source: e,
                            })
                        }
                    }
                    pid = Some(p);
                    let doc = |status: &str| {
                        state_doc(Some(&cfg.spec), &cfg.id, cfg.bundle.as_deref(), status, p)
                    };
                    if hooks::any(&cfg.spec, &[hooks::Kind::Poststop]) {
                        undo.poststop = Some((&cfg.spec, doc("stopped")));
                    }
                    if ns.new_userns() {
                        crate::namespaces::write_id_maps(p, &cfg.spec)?;
                        send_or_init_error(&chan, &ToInit::Mapped)?;
                    }
                    // cgroup v1 has no CLONE_INTO_CGROUP: the v1 directories are made
                    // now, while the init builds its root filesystem, and `Attached`
                    // tells it they exist. It then moves itself (`cgroup_tasks`), or was
                    // moved here (a cgroup.procs write, whose first one waits for an RCU
                    // grace period, overlapping its mounts). Either way it is in its
                    // cgroups before it enters its cgroup namespace, and so long before
                    // it execs anything.
                    let tj = std::time::Instant::now();
                    if v1_later {
                        let r = cg.create_in(h, &rel, &res, |hier| hier.version == 1, &mut applied);
                        undo.cgroups = Some(cg.clone());
                        r?;
                        applied.check(&res)?;
                        timings.cgroups_us += tj.elapsed().as_micros() as u64;
                    }
                    if !procs.is_empty() {
                        let me = p.to_string();
                        for f in &procs {
                            raw::write_file(f, &me)?;
                        }
                    }
                    let state = serde_json::to_string(&doc("creating")).unwrap_or_default();
                    send_or_init_error(&chan, &ToInit::Attached(state))?;
                    timings.cgroup_join_us = tj.elapsed().as_micros() as u64;
                }
                Ok(Some((FromInit::Hooks, _))) => {
                    // The init's mounts exist, it has not entered its root yet; it is
                    // in its cgroups (`Attached` came first), so `pid` is known.
                    let p = pid.unwrap_or_default();
                    let doc = state_doc(
                        Some(&cfg.spec),
                        &cfg.id,
                        cfg.bundle.as_deref(),
                        "creating",
                        p,
                    );
                    hooks::run(&cfg.spec, hooks::Kind::Prestart, &doc)?;
                    hooks::run(&cfg.spec, hooks::Kind::CreateRuntime, &doc)?;
                    send_or_init_error(&chan, &ToInit::Resume)?;
                }
                Ok(Some((FromInit::Ready(us), _))) => {
                    timings.mounts_us = us;
                    timings.init_us =
                        (t.elapsed().as_micros() as u64).saturating_sub(timings.helper_us);
                    ready = true;
                }
                Ok(Some((FromInit::Pty, fd))) => pty = fd,
                Ok(Some((FromInit::Error(e), _))) => return Err(Error::Init(e)),
                Ok(None) => return Err(Error::Init("container init exited during setup".into())),
                Err(e) => return Err(e),
            }
        }
        // The helper exits right after reporting the pid: reap it.
        if let Some(h) = &mut helper {
            let _ = h.wait();
        }
        let pid = pid.unwrap_or_default();
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
        state.save(&dir, Some(&spec_json))?;
        undo.armed = false;
        undo.poststop = None;
        let pidfd = undo.pidfd.take();
        drop(undo);
        Ok(Container {
            state,
            state_dir: dir,
            pidfd,
            pty: Mutex::new(pty),
            exit: Mutex::new(None),
            timings,
            after_start_hooks: Some(hooks::any(
                &cfg.spec,
                &[hooks::Kind::Poststart, hooks::Kind::Poststop],
            )),
        })
    }
}
