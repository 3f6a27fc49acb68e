//! Caller side: start the helper, a single-threaded process that may clone.
//!
//! A single-threaded caller (the supervisor, `berth-runtime`) forks it: the child is
//! already a complete copy of a process that links the runtime, so it runs the helper
//! at once, without the exec, dynamic loading and relocation of a fresh binary (a
//! millisecond or more of every create and exec). A multi-threaded caller (tokio) may
//! not fork (another thread may hold the allocator's lock), so it re-executes the
//! current binary (`/proc/self/exe`) with a hidden marker, with posix_spawn (vfork
//! semantics: no copy of a large address space, and nothing runs between fork and
//! exec but libc's own file actions). Both start the helper with the same descriptors
//! (stdio, the channel as 3, nothing else) and the default signal handlers.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::channel::Channel;
use super::message::{CreateRequest, ToInit};
use super::stage0::ENV;
use crate::error::{Error, Result};
use crate::namespaces::NsPlan;
use crate::syscall::raw::{clone3, CloneArgs, CLONE_INTO_CGROUP};
use crate::syscall::spawn::{above_stdio, environment_with, spawn as posix_spawn, FileActions};

/// The container's standard input, output and error.
#[derive(Debug, Default)]
pub enum Stdio {
    /// The caller's own.
    #[default]
    Inherit,
    /// /dev/null for all three.
    Null,
    /// These descriptors.
    Fds {
        /// stdin.
        stdin: OwnedFd,
        /// stdout.
        stdout: OwnedFd,
        /// stderr.
        stderr: OwnedFd,
    },
}

/// The spawned helper; `wait` reaps it.
pub struct Helper {
    pid: libc::pid_t,
}

impl Helper {
    /// Its pid.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Move it into cgroups (write its pid to each `cgroup.procs`). Done by the caller
    /// while the helper is still exec'ing: on cgroup v1 the first such write waits for an
    /// RCU grace period (the threadgroup rwsem), milliseconds on a busy host, which then
    /// overlaps the helper's own start-up instead of adding to it.
    pub fn attach(&self, procs: &[std::path::PathBuf]) -> Result<()> {
        let pid = self.pid.to_string();
        for f in procs {
            crate::syscall::raw::write_file(f, &pid)?;
        }
        Ok(())
    }

    /// Reap the helper (it exits right after cloning).
    pub fn wait(&mut self) -> Result<i32> {
        let mut status = 0;
        loop {
            let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if r == self.pid {
                return Ok(status);
            }
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return Err(Error::sys("waitpid runtime helper"));
            }
        }
    }
}

/// A descriptor number ≥ 10, so the moves onto 0..=3 never collide.
fn high(fd: RawFd) -> Result<OwnedFd> {
    above_stdio(fd).map_err(|source| Error::Sys { op: "dup", source })
}

/// Set (to anything) to re-execute the helper even from a single-threaded caller: the
/// benchmark's before/after, and a way around the fork path should it ever misbehave.
pub const REEXEC_ENV: &str = "BERTH_RUNTIME_REEXEC";

/// Spawn the helper with the child end of a fresh channel as fd 3, and give it
/// `first`, what it is to do. A forked helper has it in its copy of our memory (no
/// JSON of the whole spec, with its seccomp profile, made here and parsed there); a
/// re-executed one reads it from the channel. With `None` the helper waits for the
/// caller to send it (an exec, whose helper the caller moves into the container's
/// cgroups first).
pub fn spawn(stdio: Stdio, first: Option<ToInit>) -> Result<(Channel, Helper)> {
    if single_threaded() && may_fork() && std::env::var_os(REEXEC_ENV).is_none() {
        fork_helper(stdio, first)
    } else {
        let (chan, helper) = exec_helper(stdio)?;
        if let Some(m) = first {
            chan.send(&m)?;
        }
        Ok((chan, helper))
    }
}

/// Set once this process has joined a user namespace after its execve (rootless
/// berth's CLI): its mm still belongs to the host's user namespace, so once
/// non-dumpable its /proc/self files belong to the host's root, which the
/// container's init (root only in the namespace) cannot open. Such a process
/// re-executes the helper, whose mm is then the namespace's own; a process exec'd
/// inside the namespace (a rootless supervisor) forks it as any other.
static JOINED_USER_NAMESPACE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Records that this process joined a user namespace after its execve (see
/// [`JOINED_USER_NAMESPACE`]); call right after the setns.
pub fn joined_user_namespace() {
    JOINED_USER_NAMESPACE.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn may_fork() -> bool {
    !JOINED_USER_NAMESPACE.load(std::sync::atomic::Ordering::Relaxed)
}

/// This process has one thread: the kernel's count in /proc/self/stat. No other thread
/// can start meanwhile: only this one could start it.
fn single_threaded() -> bool {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return false;
    };
    // Fields after the command name (which may hold spaces and parentheses): state is
    // the first, num_threads (field 20 of proc(5)) the eighteenth.
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_ascii_whitespace().nth(17))
        .and_then(|n| n.parse::<u32>().ok())
        == Some(1)
}

/// Fork the helper. Everything the child needs is made before the fork; between fork
/// and the helper's code the child only moves descriptors and resets signal handlers.
fn fork_helper(stdio: Stdio, first: Option<ToInit>) -> Result<(Channel, Helper)> {
    let (ours, theirs) = Channel::pair()?;
    let theirs = high(theirs.into_fd().as_raw_fd())?;
    let stdio = child_stdio(&stdio)?;
    // SAFETY: this process is single-threaded (checked by the caller), so the child is
    // a complete copy with no lock held by a thread that does not exist there. It never
    // returns into the caller's code: the helper ends in _exit, and a panic is caught
    // below and ends it too.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::sys("fork runtime helper"));
    }
    if pid == 0 {
        let fds: Vec<RawFd> = match &stdio {
            Some(f) => f.iter().map(|f| f.as_raw_fd()).collect(),
            None => vec![0, 1, 2],
        };
        child_start(&fds, theirs.as_raw_fd(), first);
    }
    Ok((ours, Helper { pid }))
}

/// The child's stdio, as descriptors at 10 or above (out of the way of 0..=3 while
/// they are moved into place); `None` to keep this process's own.
fn child_stdio(stdio: &Stdio) -> Result<Option<[OwnedFd; 3]>> {
    Ok(match stdio {
        Stdio::Inherit => None,
        Stdio::Null => {
            let null = std::path::Path::new("/dev/null");
            let r = crate::syscall::raw::open(null, libc::O_RDONLY | libc::O_CLOEXEC, 0)?;
            let w = crate::syscall::raw::open(null, libc::O_WRONLY | libc::O_CLOEXEC, 0)?;
            Some([
                high(r.as_raw_fd())?,
                high(w.as_raw_fd())?,
                high(w.as_raw_fd())?,
            ])
        }
        Stdio::Fds {
            stdin,
            stdout,
            stderr,
        } => Some([
            high(stdin.as_raw_fd())?,
            high(stdout.as_raw_fd())?,
            high(stderr.as_raw_fd())?,
        ]),
    })
}

/// In the forked child: stdio on 0..=2 (`fds`, all >= 10 or already in place), the
/// channel on 3, every other descriptor closed (the caller's end of the channel among
/// them, or the caller would never read EOF), default signal handlers as after an exec,
/// then the helper, on `first`.
fn child_start(fds: &[RawFd], chan: RawFd, first: Option<ToInit>) -> ! {
    child_descriptors_and_signals(fds, chan);
    name_helper();
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match first {
        Some(m) => super::stage0::serve(m, 3),
        None => super::stage0::main(3),
    }));
    // SAFETY: _exit ends the child without running the caller's exit handlers.
    unsafe { libc::_exit(127) }
}

/// The part of [`child_start`] that makes a copy of the caller look freshly exec'd:
/// stdio on 0..=2, the channel on 3, nothing else open, default signal handlers.
fn child_descriptors_and_signals(fds: &[RawFd], chan: RawFd) {
    for (n, &fd) in fds.iter().enumerate() {
        // SAFETY: dup2 on descriptors this process owns; clears close-on-exec on the copy.
        if fd != n as RawFd && unsafe { libc::dup2(fd, n as RawFd) } < 0 {
            unsafe { libc::_exit(127) };
        }
    }
    // SAFETY: as above; then close_range with integer arguments.
    unsafe {
        if libc::dup2(chan, 3) < 0 {
            libc::_exit(127);
        }
        libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
    }
    for sig in 1..libc::SIGRTMAX() {
        // SAFETY: sigaction with a zeroed struct to read, then SIG_DFL for a handled one.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction != libc::SIG_DFL
                && old.sa_sigaction != libc::SIG_IGN
            {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
}

/// A container init this process cloned itself (see [`clone_init`]).
pub struct DirectInit {
    /// The caller's end of the channel to the init.
    pub chan: Channel,
    /// The init's pid.
    pub pid: libc::pid_t,
    /// Microseconds in clone3.
    pub clone_us: u64,
}

/// What [`clone_init`] hands back when the helper must do it.
pub type ForHelper = (Stdio, Box<CreateRequest>);

/// Clones the container's init straight from this process, with all its new
/// namespaces and into its cgroup2 directory, when nothing needs the helper in
/// between: this process is single-threaded (see [`spawn`]), every namespace
/// joined by path is one the init may enter itself after the clone
/// (`NsPlan::init_may_join`: a setns here would change the caller's own; an
/// engine's container joins its network namespace this way) and no cgroup is
/// joined by writing. One process and one copy of the address space fewer than
/// fork + clone (crun, too, clones once when it joins nothing). The caller is the
/// init's parent, as with the helper's CLONE_PARENT. `Ok(Err(..))` gives back the
/// stdio and the request for [`spawn`]: not possible here, or CLONE_INTO_CGROUP
/// refused (the helper then joins the cgroup by writing).
pub fn clone_init(
    stdio: Stdio,
    req: Box<CreateRequest>,
    ns: &NsPlan,
) -> Result<std::result::Result<DirectInit, ForHelper>> {
    let new_flags = ns.new_flags;
    let join = !ns.join.is_empty();
    let possible = (!join || ns.init_may_join())
        && req.cgroup_procs.is_empty()
        && single_threaded()
        && may_fork()
        && std::env::var_os(REEXEC_ENV).is_none();
    if !possible {
        return Ok(Err((stdio, req)));
    }
    let (ours, theirs) = Channel::pair()?;
    let theirs = high(theirs.into_fd().as_raw_fd())?;
    let child_stdio = child_stdio(&stdio)?;
    let cg = match &req.cgroup_v2 {
        Some(p) => Some(crate::syscall::raw::open(
            p,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        )?),
        None => None,
    };
    // The cgroup namespace is unshared by the init once the caller has moved it
    // into its v1 cgroups (see stage0::create).
    let flags = if req.attach_by_caller {
        new_flags & !libc::CLONE_NEWCGROUP
    } else {
        new_flags
    };
    let mut args = CloneArgs {
        flags: flags as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(cg) = &cg {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cg.as_raw_fd() as u64;
    }
    let t = std::time::Instant::now();
    // SAFETY: this process is single-threaded (checked above): the child is a
    // complete copy with no lock held by a thread that does not exist there. It
    // never returns into the caller's code: the init ends in execve or _exit.
    let pid = unsafe { clone3(&mut args) };
    let clone_us = t.elapsed().as_micros() as u64;
    match pid {
        Ok(0) => {
            let fds: Vec<RawFd> = match &child_stdio {
                Some(f) => f.iter().map(|f| f.as_raw_fd()).collect(),
                None => vec![0, 1, 2],
            };
            child_descriptors_and_signals(&fds, theirs.as_raw_fd());
            name_helper();
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                super::stage0::become_init(*req, 3, new_flags, join)
            }));
            // SAFETY: _exit ends the child without running the caller's exit handlers.
            unsafe { libc::_exit(127) }
        }
        Ok(pid) => Ok(Ok(DirectInit {
            chan: ours,
            pid,
            clone_us,
        })),
        Err(_) if cg.is_some() => Ok(Err((stdio, req))),
        Err(e) => Err(Error::Sys {
            op: "clone3",
            source: e,
        }),
    }
}

/// The name the helper (and an init that stays pid 1) shows in `ps` and `top`.
const HELPER_NAME: &[u8] = b"berth-runtime-init";

/// Gives the forked helper the re-executed one's command line: it would show its
/// caller's otherwise (the supervisor's, with the state root's paths), and with
/// `init` pid 1 keeps it for the container's life. Best effort: a name only.
fn name_helper() {
    // arg_start and arg_end: fields 48 and 49 of /proc/self/stat.
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    let mut fields = stat
        .rfind(')')
        .map(|i| stat[i + 1..].split_ascii_whitespace().skip(45))
        .into_iter()
        .flatten()
        .map(|f| f.parse::<usize>().unwrap_or(0));
    let (Some(start), Some(end)) = (fields.next(), fields.next()) else {
        return;
    };
    if start == 0 || end <= start + 1 {
        return;
    }
    let n = HELPER_NAME.len().min(end - start - 1);
    // SAFETY: [arg_start, arg_end) is this process's argument area, mapped and
    // writable (the top of the main stack); nothing in the helper reads the arguments.
    unsafe {
        std::ptr::copy_nonoverlapping(HELPER_NAME.as_ptr(), start as *mut u8, n);
        *((start + n) as *mut u8) = 0;
        // The rest is not NUL, so the area's last byte is not either: the kernel then
        // reads the command line as one string up to the first NUL (setproctitle's
        // convention) rather than the whole area as separate arguments. Shortening the
        // area (PR_SET_MM_ARG_END) would need CAP_SYS_RESOURCE.
        std::ptr::write_bytes((start + n + 1) as *mut u8, b' ', end - start - n - 1);
        libc::prctl(
            libc::PR_SET_NAME,
            c"berth-runtime-i".as_ptr() as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        );
    }
}

/// Re-execute the current binary as the helper.
fn exec_helper(stdio: Stdio) -> Result<(Channel, Helper)> {
    let sys = |op| move |source| Error::Sys { op, source };
    let (ours, theirs) = Channel::pair()?;
    let theirs = high(theirs.as_raw_fd())?;
    let mut keep = Vec::new();
    let mut fa = FileActions::new().map_err(sys("posix_spawn_file_actions_init"))?;
    match stdio {
        Stdio::Inherit => {}
        Stdio::Null => {
            for (fd, flags) in [
                (0, libc::O_RDONLY),
                (1, libc::O_WRONLY),
                (2, libc::O_WRONLY),
            ] {
                fa.open(fd, c"/dev/null", flags).map_err(sys("addopen"))?;
            }
        }
        Stdio::Fds {
            stdin,
            stdout,
            stderr,
        } => {
            for (n, fd) in [(0, stdin), (1, stdout), (2, stderr)] {
                let h = high(fd.as_raw_fd())?;
                fa.dup2(h.as_raw_fd(), n).map_err(sys("adddup2"))?;
                keep.push(h);
            }
        }
    }
    fa.dup2(theirs.as_raw_fd(), 3).map_err(sys("adddup2"))?;
    let env = environment_with(&[(ENV, OsStr::new("3"))]).map_err(sys("helper environment"))?;
    let argv = [CString::from(c"berth-runtime-init")];
    // No attributes: the helper keeps our signal mask and ignored signals, as the
    // forked one does.
    let pid = posix_spawn(c"/proc/self/exe", &argv, &env, &fa, None)
        .map_err(sys("spawn runtime helper"))?;
    drop(theirs);
    drop(keep);
    Ok((ours, Helper { pid }))
}
