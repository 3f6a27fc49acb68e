//! Detached watch: one small process per project keeps watching after the
//! command returns. A supervisor (`watch --supervise`, holding the project's
//! watch lock) runs the watcher (`watch --worker`) and starts it again if it
//! dies; the new one reconciles, so a crash loses nothing. `down`, `stop` and
//! `watch --stop` end it; `watch --status` and `watch --logs` show it.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};

use super::state::{dir, lock_path, log_path, pid_path};
use crate::state::Layout;

/// The descriptor number the ready pipe has in the watcher.
const READY_FD: i32 = 3;
/// Set (to the descriptor) when a watcher must report readiness.
pub const READY_ENV: &str = "BERTH_WATCH_READY_FD";

/// Set by SIGTERM/SIGINT in a watcher.
pub static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Makes SIGTERM and SIGINT end the watch loop instead of the process.
pub fn stop_on_signals() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // Without SA_RESTART: a supervisor blocked in waitid must wake up.
        // SAFETY: a zeroed sigaction is valid; the handler only stores to an
        // atomic (async-signal-safe).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// The pid of the project's detached watch, if one runs.
pub fn running(layout: &Layout, project: &str) -> Option<u32> {
    let lock = lock_path(layout, project);
    if !lock.exists() {
        return None;
    }
    match crate::state::try_lock(&lock) {
        Ok(Some(_free)) => None,
        _ => std::fs::read_to_string(pid_path(layout, project))
            .ok()
            .and_then(|s| s.trim().parse().ok()),
    }
}

/// Starts the detached watch of a project: returns once it watches (or says
/// why it could not).
pub fn start(layout: &Layout, project: &str, args: &[OsString]) -> Result<u32> {
    if let Some(pid) = running(layout, project) {
        return Ok(pid);
    }
    let d = dir(layout, project);
    std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(layout, project))
        .context("opening the watch log")?;
    let (mut r, w) = super::sync::pipe().context("pipe")?;
    let wfd = w.as_raw_fd();
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(args)
        .env(READY_ENV, READY_FD.to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Its own session: the terminal's Ctrl-C and hangup do not reach it.
            libc::setsid();
            hand_over(wfd)
        });
    }
    let mut child = cmd.spawn().context("starting the watcher")?;
    drop(w);
    let mut said = String::new();
    let _ = r.read_to_string(&mut said);
    let said = said.trim();
    if said == "ok" {
        // The supervisor lives on; reap nothing (it is in its own session and
        // its parent, this CLI, exits next).
        return Ok(child.id());
    }
    let _ = child.wait();
    if said.is_empty() {
        bail!(
            "the watcher ended before it watched; see {}",
            log_path(layout, project).display()
        );
    }
    Err(anyhow!("{said}"))
}

/// Puts `fd` at [`READY_FD`] for the program about to be executed (between
/// fork and exec: async-signal-safe calls only).
fn hand_over(fd: i32) -> std::io::Result<()> {
    // SAFETY: plain descriptor calls; dup2 onto itself would keep close-on-exec.
    let r = unsafe {
        if fd == READY_FD {
            libc::fcntl(fd, libc::F_SETFD, 0)
        } else {
            libc::dup2(fd, READY_FD)
        }
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The ready pipe this process was handed, if any.
pub fn ready_pipe() -> Option<File> {
    let fd: i32 = std::env::var(READY_ENV).ok()?.parse().ok()?;
    std::env::remove_var(READY_ENV);
    // SAFETY: our parent dup'd this descriptor for us and nothing else owns it;
    // it must not leak into what we start.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    // SAFETY: as above.
    Some(unsafe { File::from_raw_fd(fd) })
}

/// `watch --supervise`: holds the project's watch lock, runs the watcher and
/// restarts it when it dies; ends when told to (SIGTERM) or when the watcher
/// ends on its own.
pub fn supervise(layout: &Layout, project: &str, worker_args: &[OsString]) -> Result<()> {
    let mut ready = ready_pipe();
    let lock = match crate::state::try_lock(&lock_path(layout, project))? {
        Some(l) => l,
        None => {
            if let Some(mut r) = ready.take() {
                let _ = r.write_all(b"ok\n");
            }
            return Ok(());
        }
    };
    crate::state::write_atomic(
        &pid_path(layout, project),
        format!("{}\n", std::process::id()).as_bytes(),
    )?;
    stop_on_signals();
    let mut first = true;
    let mut backoff = Duration::from_millis(100);
    loop {
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(worker_args).stdin(Stdio::null());
        let ready_fd = ready.as_ref().map(|f| f.as_raw_fd());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // The watcher ends with its supervisor.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                match ready_fd {
                    Some(fd) => hand_over(fd),
                    None => Ok(()),
                }
            });
        }
        if ready_fd.is_some() {
            cmd.env(READY_ENV, READY_FD.to_string());
        } else {
            cmd.env_remove(READY_ENV);
        }
        let mut child = cmd.spawn().context("starting the watcher")?;
        // Only the first watcher reports to the CLI that started us.
        drop(ready.take());
        let status = loop {
            if STOP.load(Ordering::SeqCst) {
                // SAFETY: signals our own child.
                unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
                break child.wait()?;
            }
            match child.try_wait()? {
                Some(s) => break s,
                None => wait_child_or_signal(child.id()),
            }
        };
        if STOP.load(Ordering::SeqCst) || status.success() {
            break;
        }
        if first && status.code() == Some(1) {
            // It failed before it watched (bad rules): starting again would fail again.
            break;
        }
        first = false;
        eprintln!("watcher ended ({status}); restarting it");
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
    let _ = std::fs::remove_file(pid_path(layout, project));
    drop(lock);
    Ok(())
}

/// Blocks until child `pid` changes state or a signal arrives.
fn wait_child_or_signal(pid: u32) {
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child without reaping it (WNOWAIT); a signal
    // interrupts it (EINTR), which is what we want.
    unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) };
}

/// Ends the project's detached watch, if one runs; waits until it has.
pub fn stop(layout: &Layout, project: &str) -> Result<bool> {
    let Some(pid) = running(layout, project) else {
        return Ok(false);
    };
    // The supervisor leads its own session and process group (setsid): the
    // group is it and its watcher, and both hear it (no window in which the
    // supervisor misses the signal while it waits for the watcher).
    // SAFETY: signals the group of the pid the running watcher wrote (it holds
    // the lock, so the pid is still its).
    unsafe { libc::kill(-(pid as i32), libc::SIGTERM) };
    // Its lock is released when it has ended: wait for it.
    let f = OpenOptions::new()
        .write(true)
        .open(lock_path(layout, project))
        .context("opening the watch lock")?;
    // SAFETY: a blocking flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error()).context("waiting for the watcher");
    }
    Ok(true)
}

/// Prints the detached watch's log; with `follow`, keeps printing what it
/// adds until that watch has ended (as `logs -f` ends with the containers) or
/// `stop` is set.
pub fn print_log(
    layout: &Layout,
    project: &str,
    follow: bool,
    stop: &AtomicBool,
    out: &mut dyn Write,
) -> Result<()> {
    let p = log_path(layout, project);
    // Woken by appends to the log (and by its directory going away with `down`).
    let wake = if follow {
        let ino = crate::state::inotify::Inotify::new().context("inotify")?;
        let _ = ino.watch(
            &dir(layout, project),
            libc::IN_MODIFY | libc::IN_CREATE | libc::IN_DELETE_SELF,
        );
        Some(ino)
    } else {
        None
    };
    let mut shown = LogCursor::default();
    loop {
        // Whether it still runs is looked at before the last read, so nothing
        // it wrote before it ended is left out.
        let live = follow && running(layout, project).is_some();
        shown.copy_new(&p, out)?;
        out.flush()?;
        let Some(wake) = wake
            .as_ref()
            .filter(|_| live && !stop.load(Ordering::SeqCst))
        else {
            return Ok(());
        };
        // A bounded wait: it also notices the watcher ending without a write.
        wake.wait(Duration::from_millis(500));
    }
}

/// How far into the watch log [`print_log`] has printed.
#[derive(Default)]
struct LogCursor {
    file: Option<(u64, u64)>,
    pos: u64,
}

impl LogCursor {
    /// Prints what the log holds past what was printed (all of it when it is
    /// a new file).
    fn copy_new(&mut self, p: &Path, out: &mut dyn Write) -> Result<()> {
        use std::io::{Seek, SeekFrom};
        use std::os::unix::fs::MetadataExt;
        let mut f = match File::open(p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        };
        let m = f.metadata()?;
        let id = (m.dev(), m.ino());
        if self.file != Some(id) || m.len() < self.pos {
            self.file = Some(id);
            self.pos = 0;
        }
        f.seek(SeekFrom::Start(self.pos))?;
        self.pos += std::io::copy(&mut f, out)?;
        Ok(())
    }
}

/// Whether the path names a project directory with a watch log.
pub fn has_log(layout: &Layout, project: &str) -> bool {
    Path::new(&log_path(layout, project)).exists()
}

/// Drops what a project's watch remembered (its containers are going away).
pub fn forget(layout: &Layout, project: &str) {
    let _ = std::fs::remove_dir_all(dir(layout, project));
}
