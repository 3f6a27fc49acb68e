//! The container's init: runs in the new namespaces right after clone3, builds the root
//! filesystem, reports `Ready`, waits for `start` on the fifo, then execs the process (or,
//! with `init`, stays pid 1 and forks it).

use std::convert::Infallible;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use super::channel::Channel;
use super::message::{CreateRequest, FromInit, ToInit};
use super::{pid1, setup};
use crate::error::{Error, Result};
use crate::hooks::{self, Kind};
use crate::rootfs::{self, Plan};
use crate::syscall::linux::LinuxSyscall;
use crate::syscall::raw;
use crate::tty;

/// Body of the container's first process; never returns. With `join` it enters the
/// spec's namespaces to join itself (`NsPlan::init_may_join`: no helper entered them
/// before cloning it).
pub fn container_main(req: CreateRequest, chan: Channel, new_flags: i32, join: bool) -> ! {
    match run(req, &chan, new_flags, join) {
        Ok(never) => match never {},
        Err(e) => {
            let _ = chan.send(&FromInit::Error(e.to_string()));
            unsafe { libc::_exit(127) }
        }
    }
}

fn run(req: CreateRequest, chan: &Channel, new_flags: i32, join: bool) -> Result<Infallible> {
    unsafe { libc::setsid() };
    if req.die_with_parent {
        // First thing: the init (pid 1 with `init`, the process itself until its
        // identity changes) dies with its creator from here on.
        setup::set_parent_death_signal()?;
    }
    // Until execve this is the runtime's binary: processes of a joined pid namespace must
    // not open its /proc/<pid>/exe (CVE-2019-5736). execve makes it dumpable again.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let spec = &req.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Spec("no process".into()))?;
    // Opened before pivot_root: afterwards the host path is gone. O_PATH, so it does not
    // count as a writer yet; the real open happens through /proc/self/fd at start.
    let fifo = match &req.fifo {
        Some(f) => Some(raw::open(f, libc::O_PATH, 0)?),
        None => None,
    };
    let ns = crate::namespaces::plan(spec)?;
    if join {
        // Before anything that depends on them: the mounts below (sysfs, mqueue) take
        // the mounter's namespaces.
        crate::namespaces::join(&ns.join)?;
    }
    if ns.new_userns() {
        // Nothing can be done as the namespace's root before the caller maps it.
        expect(chan, "Mapped", |m| matches!(m, ToInit::Mapped))?;
    }
    let t0 = std::time::Instant::now();
    let mut sys = LinuxSyscall::new();
    let plan = Plan {
        spec,
        rootfs: &req.rootfs,
        mountpoint: &req.mountpoint,
        cgroups: &req.cgroup_mounts,
        own_mount_ns: ns.own_mount_ns(),
        userns: ns.new_userns(),
    };
    rootfs::prepare(&mut sys, &plan)?;
    let mut state = String::new();
    expect(chan, "Attached", |m| match m {
        ToInit::Attached(s) => {
            state = s;
            true
        }
        _ => false,
    })?;
    for f in &req.cgroup_tasks {
        raw::write_file(f, "0")?;
    }
    if hooks::any(spec, &[Kind::Prestart, Kind::CreateRuntime]) {
        // Run by the caller, in the runtime's namespaces, while our mounts exist.
        chan.send(&FromInit::Hooks)?;
        expect(chan, "Resume", |m| matches!(m, ToInit::Resume))?;
    }
    let state: serde_json::Value = serde_json::from_str(&state).unwrap_or_default();
    // In the container's namespaces, before pivot_root: the path resolves as the
    // runtime sees it.
    hooks::run(spec, Kind::CreateContainer, &state)?;
    rootfs::enter(&mut sys, &plan)?;
    if req.attach_by_caller && new_flags & libc::CLONE_NEWCGROUP != 0 {
        raw::check(
            unsafe { libc::unshare(libc::CLONE_NEWCGROUP) },
            "unshare cgroup namespace",
        )?;
    }
    rootfs::mount_cgroup_fs(&mut sys, spec, &req.cgroup_mounts)?;
    if new_flags & libc::CLONE_NEWUTS != 0 {
        if let Some(h) = spec.hostname() {
            raw::check(
                unsafe { libc::sethostname(h.as_ptr() as *const libc::c_char, h.len()) },
                "sethostname",
            )?;
        }
        if let Some(d) = spec.domainname() {
            raw::check(
                unsafe { libc::setdomainname(d.as_ptr() as *const libc::c_char, d.len()) },
                "setdomainname",
            )?;
        }
    }
    // Before readonly_paths make /proc/sys read-only.
    if let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        for (k, v) in sysctl {
            if k.contains("..") || k.contains('/') && k.contains('.') {
                return Err(Error::Spec(format!("sysctl {k}")));
            }
            raw::write_file(&Path::new("/proc/sys").join(k.replace('.', "/")), v)?;
        }
    }
    let terminal = process.terminal().unwrap_or(false);
    let mut pty_slave: Option<OwnedFd> = None;
    if terminal {
        let (master, slave) = tty::open_pty()?;
        if let Some(b) = process.console_size() {
            tty::resize(master.as_raw_fd(), b.height() as u16, b.width() as u16)?;
        }
        tty::bind_console(&mut sys, &slave)?;
        chan.send_fd(&FromInit::Pty, Some(master.as_raw_fd()))?;
        pty_slave = Some(slave);
    }
    rootfs::finish(&mut sys, spec)?;
    drop(sys);
    let mounts_us = t0.elapsed().as_micros() as u64;
    if let Some(adj) = process.oom_score_adj() {
        raw::write_file(Path::new("/proc/self/oom_score_adj"), &adj.to_string())?;
    }
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let mut prepared = setup::prepare(process, req.user.as_deref(), seccomp)?;
    prepared.die_with_parent = req.die_with_parent;
    if let Some(slave) = &pty_slave {
        let (uid, gid) = prepared.ids();
        tty::chown(slave.as_raw_fd(), uid, gid)?;
        tty::dup_stdio(slave.as_raw_fd())?;
        if !req.init {
            tty::set_controlling()?;
        }
    }
    drop(pty_slave);
    let mut state = state;
    state["status"] = "created".into();
    match fifo {
        Some(fifo) => {
            chan.send(&FromInit::Ready(mounts_us))?;
            wait_for_start(&fifo, || hooks::run(spec, Kind::StartContainer, &state))?;
        }
        None => {
            // Started at once (`run`): the hooks' failure reaches the caller as this
            // init's error, before it reports ready.
            hooks::run(spec, Kind::StartContainer, &state)?;
            chan.send(&FromInit::Ready(mounts_us))?;
        }
    }
    let r = if req.init {
        pid1::run(&prepared, chan, terminal)
    } else {
        setup::finalize_and_exec(&prepared)
    };
    // Nobody waits on the channel after start: tell the container's stderr.
    let Err(e) = r;
    let msg = format!("berth-runtime: {e}\n");
    unsafe { libc::write(2, msg.as_ptr() as *const libc::c_void, msg.len()) };
    unsafe { libc::_exit(127) }
}

/// Wait for the next message, which must be `name`.
fn expect(chan: &Channel, name: &str, mut want: impl FnMut(ToInit) -> bool) -> Result<()> {
    match chan.recv::<ToInit>()? {
        Some((m, _)) => {
            let shown = format!("{m:?}");
            if want(m) {
                Ok(())
            } else {
                Err(Error::Channel(format!("expected {name}, got {shown}")))
            }
        }
        None => Err(Error::Init(format!(
            "runtime went away while the init waited for {name}"
        ))),
    }
}

/// Block until `start` opens the fifo for reading, run the startContainer hooks, then
/// tell `start` how it went: `0`, or `1` and the error (so `start` fails with it).
fn wait_for_start(fifo: &OwnedFd, start_hooks: impl FnOnce() -> Result<()>) -> Result<()> {
    let path = raw::fd_path(fifo.as_raw_fd());
    let w = raw::open(Path::new(&path), libc::O_WRONLY, 0)?;
    let (msg, r) = match start_hooks() {
        Ok(()) => (b"0".to_vec(), Ok(())),
        Err(e) => {
            let mut m = b"1".to_vec();
            m.extend_from_slice(e.to_string().as_bytes());
            (m, Err(e))
        }
    };
    // SAFETY: writes an initialised buffer (at most a pipe's atomic size in practice).
    if unsafe {
        libc::write(
            w.as_raw_fd(),
            msg.as_ptr() as *const libc::c_void,
            msg.len(),
        )
    } != msg.len() as isize
    {
        return Err(Error::sys("write exec fifo"));
    }
    r
}
