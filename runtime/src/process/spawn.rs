//! Caller side: start the helper by re-executing the current binary with a hidden
//! marker. The caller may be multi-threaded (tokio): it only ever fork+execs, never
//! clones a container itself.

use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

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

/// Fork+exec the helper with the child end of a fresh channel as fd 3.
pub fn spawn(stdio: Stdio) -> Result<(Channel, Child)> {
    let (ours, theirs) = Channel::pair()?;
    let exe = std::env::current_exe().map_err(|e| Error::Sys {
        op: "current_exe",
        source: e,
    })?;
    let mut cmd = Command::new(exe);
    cmd.arg0("berth-runtime-init").env(ENV, "3");
    match stdio {
        Stdio::Inherit => {}
        Stdio::Null => {
            cmd.stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
        }
        Stdio::Fds {
            stdin,
            stdout,
            stderr,
        } => {
            cmd.stdin(stdin).stdout(stdout).stderr(stderr);
        }
    }
    let fd = theirs.as_raw_fd();
    // SAFETY: dup2 and fcntl are async-signal-safe, the only calls allowed between fork
    // and exec of a multi-threaded process.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| Error::Sys {
        op: "spawn runtime helper",
        source: e,
    })?;
    drop(theirs);
    Ok((ours, child))
}
