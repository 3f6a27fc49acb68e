//! The per-user namespace holder: started once, joined by every command, stopped
//! when nothing needs it any more.
//!
//! Start-up handshake over two pipes (the holder's stdin and stdout):
//! the holder unshares its user namespace and says `u`; the starting berth runs
//! newuidmap/newgidmap on its pid and answers `m`; the holder, now root of a
//! mapped namespace, unshares mount and network namespaces, makes its mounts
//! private, brings `lo` up, detaches (setsid) and says `r`. The starting berth
//! then records its pid in `<run>/rootless/holder.pid`.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::subid::{self, Range};
use super::RootlessError;

/// The hidden subcommand the holder runs as (also how a stale pid is told apart
/// from a reused one).
pub const SUBCOMMAND: &str = "rootless-holder";

fn sys(op: &str) -> RootlessError {
    RootlessError::Sys {
        op: op.to_string(),
        source: std::io::Error::last_os_error(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RootlessError + '_ {
    move |source| RootlessError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `<run>/rootless`: the holder's pid file and lock.
pub fn dir(run: &Path) -> PathBuf {
    run.join("rootless")
}

fn pid_file(run: &Path) -> PathBuf {
    dir(run).join("holder.pid")
}

/// The body of the holder process (`berth rootless-holder`). Must run before
/// any thread exists: unshare(CLONE_NEWUSER) refuses multi-threaded callers.
pub fn run_holder() -> Result<(), RootlessError> {
    // SAFETY: unshare only changes this (single-threaded) process's namespaces.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return Err(sys("unshare(CLONE_NEWUSER)"));
    }
    say(b'u')?;
    if hear()? != b'm' {
        return Err(RootlessError::Holder("no id maps".into()));
    }
    // Root of the mapped namespace now: the same uid reads as 0.
    // SAFETY: as above; mount and network namespaces owned by the new userns.
    if unsafe { libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWNET) } != 0 {
        return Err(sys("unshare(CLONE_NEWNS|CLONE_NEWNET)"));
    }
    // Nothing berth mounts in here may propagate back to the host.
    // SAFETY: the strings are NUL-terminated literals; flags only.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(sys("making / private"));
    }
    let mut nl = berth_netns::netlink::Netlink::new()
        .map_err(|e| RootlessError::Holder(format!("netlink: {e}")))?;
    if let Ok(Some(lo)) = nl.link_index("lo") {
        nl.set_up(lo)
            .map_err(|e| RootlessError::Holder(format!("lo up: {e}")))?;
    }
    drop(nl);
    // SAFETY: setsid detaches from the caller's session; no memory involved.
    unsafe { libc::setsid() };
    say(b'r')?;
    // Nothing to say from now on; keep no terminal or pipe open.
    if let Ok(null) = OpenOptions::new().read(true).write(true).open("/dev/null") {
        for fd in 0..=2 {
            // SAFETY: dup2 onto the standard descriptors this process owns.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    let _ = std::env::set_current_dir("/");
    loop {
        // SAFETY: pause blocks until a signal; SIGTERM/SIGKILL end the holder.
        unsafe { libc::pause() };
    }
}

fn say(b: u8) -> Result<(), RootlessError> {
    std::io::stdout()
        .write_all(&[b])
        .and_then(|()| std::io::stdout().flush())
        .map_err(|source| RootlessError::Sys {
            op: "holder handshake".into(),
            source,
        })
}

fn hear() -> Result<u8, RootlessError> {
    let mut b = [0u8];
    std::io::stdin()
        .read_exact(&mut b)
        .map_err(|source| RootlessError::Sys {
            op: "holder handshake".into(),
            source,
        })?;
    Ok(b[0])
}

/// A running holder.
#[derive(Debug)]
pub struct Holder {
    /// Its pid (as seen from where the caller stands).
    pub pid: i32,
    pidfd: OwnedFd,
}

/// The process whose pid `pid_file` records, if it is alive: its pid, a pidfd
/// and its command line (NUL-separated), read after the pidfd was opened so
/// that, while the pidfd is held, the pid cannot be reused and the command line
/// names the process the caller will signal.
pub(super) fn recorded_process(pid_file: &Path) -> Option<(i32, OwnedFd, Vec<u8>)> {
    let pid: i32 = fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
    // SAFETY: pidfd_open takes a pid and flags; it returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a fresh descriptor we own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let cmd = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some((pid, pidfd, cmd))
}

impl Holder {
    /// The holder recorded for `run`, when it is still alive and still ours.
    pub fn find(run: &Path) -> Option<Holder> {
        let (pid, pidfd, cmd) = recorded_process(&pid_file(run))?;
        let ours = cmd.split(|b| *b == 0).any(|a| a == SUBCOMMAND.as_bytes());
        let owner_ok = std::fs::metadata(format!("/proc/{pid}"))
            .map(|m| {
                use std::os::unix::fs::MetadataExt;
                // SAFETY: geteuid cannot fail.
                m.uid() == unsafe { libc::geteuid() }
            })
            .unwrap_or(false);
        (ours && owner_ok).then_some(Holder { pid, pidfd })
    }

    /// Joins the holder's user, mount and network namespaces. The caller must be
    /// single-threaded (setns into a user namespace refuses otherwise). The
    /// working directory is kept (by path: the mount namespace is a copy of the
    /// host's).
    pub fn join(&self) -> Result<(), RootlessError> {
        let cwd = std::env::current_dir().ok();
        let mut fds = Vec::new();
        for (ns, flag) in [
            ("user", libc::CLONE_NEWUSER),
            ("mnt", libc::CLONE_NEWNS),
            ("net", libc::CLONE_NEWNET),
        ] {
            let p = PathBuf::from(format!("/proc/{}/ns/{ns}", self.pid));
            fds.push((File::open(&p).map_err(io(&p))?, flag, ns));
        }
        for (f, flag, ns) in &fds {
            // SAFETY: setns on a namespace descriptor we opened; it only changes
            // this (single-threaded) process's namespaces.
            if unsafe { libc::setns(f.as_raw_fd(), *flag) } != 0 {
                return Err(sys(&format!("joining the rootless {ns} namespace")));
            }
        }
        // The runtime helper must then be re-executed, not forked (its mm would stay
        // the host's user namespace's).
        berth_runtime::process::spawn::joined_user_namespace();
        if let Some(cwd) = cwd {
            let _ = std::env::set_current_dir(cwd);
        }
        Ok(())
    }

    /// Stops the holder and waits until it is gone.
    pub fn stop(self, run: &Path) {
        // SAFETY: pidfd_send_signal on our pidfd; no memory is passed.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        let mut pfd = libc::pollfd {
            fd: self.pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own; a pidfd turns readable when the process exits.
        unsafe { libc::poll(&mut pfd, 1, 5000) };
        let _ = fs::remove_file(pid_file(run));
    }
}

/// The holder for `run`, started when none is running (then `true`: nothing
/// runs in its namespaces yet). Serialized by a lock in `<run>/rootless`, so
/// two commands started together share one holder.
pub fn ensure(run: &Path) -> Result<(Holder, bool), RootlessError> {
    let d = dir(run);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&d)
        .map_err(io(&d))?;
    let lock_path = d.join("lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    // SAFETY: flock on a descriptor we own, released when `lock` is dropped.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(sys("locking the rootless holder"));
    }
    if let Some(h) = Holder::find(run) {
        return Ok((h, false));
    }
    let pid = start()?;
    let pf = pid_file(run);
    crate::state::atomic::write_atomic(&pf, format!("{pid}\n").as_bytes())
        .map_err(|e| RootlessError::Holder(e.to_string()))?;
    Holder::find(run)
        .map(|h| (h, true))
        .ok_or_else(|| RootlessError::Holder("it exited right after starting".into()))
}

/// The user's id ranges, or the error that tells how to get them.
pub fn ranges(uid: u32, gid: u32) -> Result<(Vec<Range>, Vec<Range>), RootlessError> {
    let user = super::user_name(uid);
    let mut out = Vec::new();
    for (file, id) in [("/etc/subuid", uid), ("/etc/subgid", gid)] {
        let r = subid::read(Path::new(file), &user, id)?;
        if r.is_empty() {
            return Err(RootlessError::NoSubids {
                user,
                file: file.into(),
            });
        }
        out.push(r);
    }
    let g = out.pop().unwrap_or_default();
    let u = out.pop().unwrap_or_default();
    Ok((u, g))
}

fn start() -> Result<i32, RootlessError> {
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let (uranges, granges) = ranges(uid, gid)?;
    // The real path, not /proc/self/exe: the holder shows up as `berth` in ps.
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    let mut child = Command::new(&exe)
        .arg(SUBCOMMAND)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io(&exe))?;
    let pid = child.id() as i32;
    let fail = |child: &mut std::process::Child, e: RootlessError| {
        let _ = child.kill();
        let _ = child.wait();
        e
    };
    let (mut to, mut from) = match (child.stdin.take(), child.stdout.take()) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err(fail(&mut child, RootlessError::Holder("no pipes".into()))),
    };
    let mut b = [0u8];
    if from.read_exact(&mut b).is_err() || b[0] != b'u' {
        let mut msg = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut msg);
        }
        let msg = if msg.trim().is_empty() {
            "it exited during start-up".to_string()
        } else {
            msg.trim().to_string()
        };
        return Err(fail(&mut child, RootlessError::Holder(msg)));
    }
    for (tool, own, r) in [("newuidmap", uid, &uranges), ("newgidmap", gid, &granges)] {
        if let Err(e) = map(tool, pid, own, r) {
            return Err(fail(&mut child, e));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    if to.write_all(b"m").is_err()
        || from.read_exact(&mut b).is_err()
        || b[0] != b'r'
        || Instant::now() > deadline
    {
        let mut msg = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut msg);
        }
        return Err(fail(
            &mut child,
            RootlessError::Holder(msg.trim().to_string()),
        ));
    }
    // The holder lives on (setsid); it is reparented when this berth exits.
    drop(child);
    Ok(pid)
}

fn map(tool: &str, pid: i32, own: u32, ranges: &[Range]) -> Result<(), RootlessError> {
    let mut cmd = Command::new(tool);
    cmd.arg(pid.to_string());
    for (inside, outside, count) in subid::map_args(own, ranges, false) {
        cmd.args([inside.to_string(), outside.to_string(), count.to_string()]);
    }
    let out = cmd.output().map_err(|e| RootlessError::IdMap {
        tool: tool.into(),
        msg: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(RootlessError::IdMap {
            tool: tool.into(),
            msg: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}
