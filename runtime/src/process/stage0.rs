//! The re-executed helper (`maybe_run_init`): a fresh single-threaded process, so it
//! may clone. It joins the container's cgroups and any namespaces given by path, then
//! clone3s the container's init with CLONE_PARENT, so the caller (not this short-lived
//! helper) becomes the init's parent and can wait for it.

use std::os::fd::{AsRawFd, IntoRawFd};
use std::path::Path;

use super::channel::Channel;
use super::message::{CreateRequest, ExecRequest, FromInit, ToInit};
use super::{init, setup};
use crate::error::{Error, Result};
use crate::namespaces;
use crate::syscall::raw::{self, clone3, CloneArgs, CLONE_INTO_CGROUP};
use crate::tty;

/// Environment variable naming the inherited channel descriptor.
pub const ENV: &str = "_BERTH_RUNTIME_INIT";

/// Entry point of a re-executed helper: reads what to do from the channel `fd`;
/// never returns.
pub fn main(fd: i32) -> ! {
    // SAFETY: `fd` is the inherited channel, owned by nobody else in this process.
    let chan = unsafe { Channel::from_raw(fd) };
    match chan.recv::<ToInit>() {
        Ok(Some((m, _))) => serve(m, chan.into_fd().into_raw_fd()),
        Ok(None) => unsafe { libc::_exit(1) },
        Err(e) => {
            let _ = chan.send(&FromInit::Error(e.to_string()));
            unsafe { libc::_exit(1) }
        }
    }
}

/// The helper's work on `first` (a create or an exec), talking to the caller on the
/// channel `fd`; never returns.
pub fn serve(first: ToInit, fd: i32) -> ! {
    like_a_fresh_runtime_process(fd);
    // SAFETY: `fd` is the channel, owned by nobody else in this process.
    let chan = unsafe { Channel::from_raw(fd) };
    let r = match first {
        ToInit::Create(req) => create(*req, chan),
        ToInit::Exec(req) => exec(*req, chan),
        m => Err((Error::Channel(format!("unexpected {m:?}")), chan)),
    };
    match r {
        Ok(()) => unsafe { libc::_exit(0) },
        Err((e, chan)) => {
            let _ = chan.send(&FromInit::Error(e.to_string()));
            unsafe { libc::_exit(1) }
        }
    }
}

/// The init of a container cloned by the caller itself (`spawn::clone_init`), on the
/// channel `fd`, which enters the spec's namespaces to join itself when `join`;
/// never returns.
pub fn become_init(req: CreateRequest, fd: i32, new_flags: i32, join: bool) -> ! {
    like_a_fresh_runtime_process(fd);
    // SAFETY: `fd` is the channel, owned by nobody else in this process.
    let chan = unsafe { Channel::from_raw(fd) };
    init::container_main(req, chan, new_flags, join)
}

/// What the helper and an init cloned by the caller set first, whoever their
/// caller was.
fn like_a_fresh_runtime_process(fd: i32) {
    // Whatever the caller's umask (berth's own is 077), what the init creates in the
    // rootfs (mount points, /dev) gets runc's and docker's 022, and the container's
    // process its spec's umask (set again before exec).
    // SAFETY: umask cannot fail and touches only this process.
    unsafe { libc::umask(0o022) };
    // Ctrl-C at a terminal signals the whole foreground process group: this helper
    // and the init it clones too. Killed half-way, they would leave their caller
    // waiting on the channel; the caller decides what Ctrl-C does (a build kills
    // the step it started). The container's process gets every signal back to its
    // default before it execs (setup::reset_signals).
    // SAFETY: sets this single-threaded process's dispositions; no handler runs.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
    }
    // Set close-on-exec again: the container's process must not inherit it.
    // SAFETY: fcntl on a descriptor number.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

fn join_cgroups(files: &[std::path::PathBuf]) -> Result<()> {
    let me = std::process::id().to_string();
    for f in files {
        raw::write_file(f, &me)?;
    }
    Ok(())
}

fn create(req: CreateRequest, chan: Channel) -> Result<(), (Error, Channel)> {
    let join_us = std::cell::Cell::new(0);
    let step = || -> Result<(i32, Option<std::os::fd::OwnedFd>)> {
        let plan = namespaces::plan(&req.spec)?;
        let t = std::time::Instant::now();
        join_cgroups(&req.cgroup_procs)?;
        join_us.set(t.elapsed().as_micros() as u64);
        namespaces::join(&plan.join)?;
        let cg = match &req.cgroup_v2 {
            Some(p) => Some(raw::open(p, libc::O_PATH | libc::O_DIRECTORY, 0)?),
            None => None,
        };
        Ok((plan.new_flags, cg))
    };
    let (flags, cg) = match step() {
        Ok(v) => v,
        Err(e) => return Err((e, chan)),
    };
    // exit_signal must be 0 with CLONE_PARENT: the child inherits ours (SIGCHLD), which
    // is what the caller, its new parent, needs for waitid.
    // With a deferred attach the cgroup namespace is unshared by the init once it is in
    // its cgroups, so that they become the namespace's root.
    let clone_flags = if req.attach_by_caller {
        flags & !libc::CLONE_NEWCGROUP
    } else {
        flags
    };
    let mut args = CloneArgs {
        flags: (clone_flags | libc::CLONE_PARENT) as u64,
        ..CloneArgs::default()
    };
    if let Some(cg) = &cg {
        // Born in its cgroup2 directory: no window in the parent's cgroup.
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cg.as_raw_fd() as u64;
    }
    let t = std::time::Instant::now();
    // SAFETY: this helper is a freshly exec'd, single-threaded process.
    let mut pid = unsafe { clone3(&mut args) };
    let clone_us = t.elapsed().as_micros() as u64;
    if pid.is_err() && cg.is_some() {
        // Older kernels or a refused CLONE_INTO_CGROUP: join by writing, then plain clone.
        if let Some(p) = &req.cgroup_v2 {
            if let Err(e) = join_cgroups(&[p.join("cgroup.procs")]) {
                return Err((e, chan));
            }
        }
        args.flags &= !CLONE_INTO_CGROUP;
        args.cgroup = 0;
        pid = unsafe { clone3(&mut args) };
    }
    match pid {
        Ok(0) => {
            drop(cg);
            init::container_main(req, chan, flags, false)
        }
        Ok(pid) => {
            let _ = chan.send(&FromInit::Pid(pid, [join_us.get(), clone_us]));
            Ok(())
        }
        Err(e) => Err((
            Error::Sys {
                op: "clone3",
                source: e,
            },
            chan,
        )),
    }
}

fn exec(req: ExecRequest, chan: Channel) -> Result<(), (Error, Channel)> {
    let step = || -> Result<std::os::fd::OwnedFd> {
        let pidfd = raw::pidfd_open(req.pid).map_err(|e| Error::Sys {
            op: "pidfd_open",
            source: e,
        })?;
        // The pidfd pins whatever process has this pid now; make sure it is the init we
        // recorded, not a later process that reused the number.
        if raw::start_time(req.pid) != Some(req.start_time) {
            return Err(Error::Init(format!("process {} is gone", req.pid)));
        }
        join_cgroups(&req.cgroup_procs)?;
        let flags = namespaces::differing(req.pid);
        // One setns(pidfd) enters all namespaces atomically (Linux 5.8, crun does this).
        if unsafe { libc::setns(pidfd.as_raw_fd(), flags) } < 0 {
            return Err(Error::sys("setns into container"));
        }
        // Until execve this process runs the runtime's binary inside the container:
        // non-dumpable so the container cannot open its /proc/<pid>/exe (CVE-2019-5736).
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
        Ok(pidfd)
    };
    let pidfd = match step() {
        Ok(p) => p,
        Err(e) => return Err((e, chan)),
    };
    drop(pidfd);
    let mut args = CloneArgs {
        flags: libc::CLONE_PARENT as u64,
        ..CloneArgs::default()
    };
    // SAFETY: single-threaded helper.
    match unsafe { clone3(&mut args) } {
        Ok(0) => {
            let r = (|| {
                unsafe { libc::setsid() };
                let terminal = req.process.terminal().unwrap_or(false);
                if terminal {
                    let (master, slave) = tty::open_pty()?;
                    if let Some(b) = req.process.console_size() {
                        tty::resize(master.as_raw_fd(), b.height() as u16, b.width() as u16)?;
                    }
                    chan.send_fd(&FromInit::Pty, Some(master.as_raw_fd()))?;
                    tty::dup_stdio(slave.as_raw_fd())?;
                    tty::set_controlling()?;
                }
                let cwd = req.process.cwd();
                let _ = std::env::set_current_dir(if cwd.as_os_str().is_empty() {
                    Path::new("/")
                } else {
                    cwd
                });
                if let Some(adj) = req.process.oom_score_adj() {
                    raw::write_file(Path::new("/proc/self/oom_score_adj"), &adj.to_string())?;
                }
                let p = setup::prepare(&req.process, req.user.as_deref(), req.seccomp.as_ref())?;
                if terminal {
                    let (uid, gid) = p.ids();
                    tty::chown(0, uid, gid)?;
                }
                chan.send(&FromInit::Ready(0))?;
                setup::finalize_and_exec(&p)
            })();
            let Err(e) = r;
            let _ = chan.send(&FromInit::Error(e.to_string()));
            unsafe { libc::_exit(127) }
        }
        Ok(pid) => {
            let _ = chan.send(&FromInit::Pid(pid, [0, 0]));
            Ok(())
        }
        Err(e) => Err((
            Error::Sys {
                op: "clone3",
                source: e,
            },
            chan,
        )),
    }
}
