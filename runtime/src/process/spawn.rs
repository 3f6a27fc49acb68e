//! Caller side: start the helper by re-executing the current binary (`/proc/self/exe`)
//! with a hidden marker. The caller may be multi-threaded (tokio): it never clones a
//! container itself, and starts the helper with posix_spawn (vfork semantics: no copy
//! of a large address space, and nothing runs between fork and exec but libc's own
//! file actions).

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use super::channel::Channel;
use super::stage0::ENV;
use crate::error::{Error, Result};

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

/// A descriptor number ≥ 10, so the file actions below never collide with 0..=3.
fn high(fd: RawFd) -> Result<OwnedFd> {
    let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if r < 0 {
        return Err(Error::sys("dup"));
    }
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

struct Actions(libc::posix_spawn_file_actions_t);

impl Drop for Actions {
    fn drop(&mut self) {
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// Spawn the helper with the child end of a fresh channel as fd 3.
pub fn spawn(stdio: Stdio) -> Result<(Channel, Helper)> {
    let (ours, theirs) = Channel::pair()?;
    let theirs = high(theirs.as_raw_fd())?;
    let mut keep = Vec::new();
    let mut fa = Actions(unsafe { std::mem::zeroed() });
    let check = |r: libc::c_int, op| {
        if r != 0 {
            Err(Error::Sys {
                op,
                source: std::io::Error::from_raw_os_error(r),
            })
        } else {
            Ok(())
        }
    };
    check(
        unsafe { libc::posix_spawn_file_actions_init(&mut fa.0) },
        "posix_spawn_file_actions_init",
    )?;
    match stdio {
        Stdio::Inherit => {}
        Stdio::Null => {
            let null = c"/dev/null";
            for (fd, flags) in [
                (0, libc::O_RDONLY),
                (1, libc::O_WRONLY),
                (2, libc::O_WRONLY),
            ] {
                check(
                    unsafe {
                        libc::posix_spawn_file_actions_addopen(
                            &mut fa.0,
                            fd,
                            null.as_ptr(),
                            flags,
                            0,
                        )
                    },
                    "addopen",
                )?;
            }
        }
        Stdio::Fds {
            stdin,
            stdout,
            stderr,
        } => {
            for (n, fd) in [(0, stdin), (1, stdout), (2, stderr)] {
                let h = high(fd.as_raw_fd())?;
                // dup2 clears close-on-exec on the copy.
                check(
                    unsafe { libc::posix_spawn_file_actions_adddup2(&mut fa.0, h.as_raw_fd(), n) },
                    "adddup2",
                )?;
                keep.push(h);
            }
        }
    }
    check(
        unsafe { libc::posix_spawn_file_actions_adddup2(&mut fa.0, theirs.as_raw_fd(), 3) },
        "adddup2",
    )?;
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != ENV)
        .filter_map(|(k, v)| {
            let mut b = k.as_bytes().to_vec();
            b.push(b'=');
            b.extend_from_slice(v.as_bytes());
            CString::new(b).ok()
        })
        .collect();
    env.push(CString::new(format!("{ENV}=3")).expect("no NUL"));
    let mut envp: Vec<*mut libc::c_char> = env.iter().map(|c| c.as_ptr() as *mut _).collect();
    envp.push(std::ptr::null_mut());
    let arg0 = c"berth-runtime-init";
    let argv = [arg0.as_ptr() as *mut libc::c_char, std::ptr::null_mut()];
    let mut pid = 0;
    let r = unsafe {
        libc::posix_spawn(
            &mut pid,
            c"/proc/self/exe".as_ptr(),
            &fa.0,
            std::ptr::null(),
            argv.as_ptr(),
            envp.as_ptr(),
        )
    };
    check(r, "spawn runtime helper")?;
    drop(theirs);
    drop(keep);
    Ok((ours, Helper { pid }))
}
