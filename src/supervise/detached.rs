//! Starts a program in its own session from the CLI without copying the CLI.
//!
//! `std::process::Command` with a `pre_exec` closure (the only stable way to call
//! `setsid` or keep a descriptor across exec) forks: the kernel copies the page
//! tables of the whole multi-threaded CLI, shoots down every CPU's TLB, and each
//! page the CLI writes afterwards takes a copy-on-write fault, for every container.
//! `posix_spawn` with `POSIX_SPAWN_SETSID` runs the child on the caller's memory
//! until it executes (glibc's `CLONE_VM | CLONE_VFORK`): none of that.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use berth_runtime::syscall::spawn::{above_stdio, c_string, environment_with, Attr, FileActions};

/// What the started program gets besides its arguments.
pub struct Detached<'a> {
    /// Its stdout and stderr (stdin is /dev/null).
    pub output: &'a File,
    /// A descriptor it keeps as descriptor 3.
    pub fd3: RawFd,
    /// Set in its environment (replacing the caller's value).
    pub env: Vec<(&'a str, OsString)>,
}

/// Starts `program` with `args` (after the program name, which is `program`) in
/// a session of its own; returns its pid.
pub fn spawn(program: &Path, args: &[OsString], how: Detached<'_>) -> std::io::Result<libc::pid_t> {
    let prog = c_string(program.as_os_str().as_bytes())?;
    let mut argv = vec![prog.clone()];
    for a in args {
        argv.push(c_string(a.as_bytes())?);
    }
    let set: Vec<_> = how.env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let env = environment_with(&set)?;
    let output = above_stdio(how.output.as_raw_fd())?;
    let fd3 = above_stdio(how.fd3)?;
    let mut actions = FileActions::new()?;
    actions.open(0, c"/dev/null", libc::O_RDONLY)?;
    actions.dup2(output.as_raw_fd(), 1)?;
    actions.dup2(output.as_raw_fd(), 2)?;
    actions.dup2(fd3.as_raw_fd(), 3)?;
    let attr = Attr::new(true)?;
    berth_runtime::syscall::spawn::spawn(&prog, &argv, &env, &actions, Some(&attr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};

    #[test]
    fn the_child_has_its_own_session_descriptor_3_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = File::create(dir.path().join("out")).unwrap();
        let mut fds = [0; 2];
        // SAFETY: room for two descriptors.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: pipe2 just made them.
        let (r, w) = unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let pid = spawn(
            Path::new("/bin/sh"),
            &[
                "-c".into(),
                "echo $BERTH_TEST_X >&3; cat /proc/$$/stat; echo err >&2".into(),
            ],
            Detached {
                output: &out,
                fd3: w.as_raw_fd(),
                env: vec![("BERTH_TEST_X", "forty-two".into())],
            },
        )
        .unwrap();
        drop(w);
        let mut said = String::new();
        let mut r = r;
        r.read_to_string(&mut said).unwrap();
        assert_eq!(said, "forty-two\n");
        let mut status = 0;
        // SAFETY: waiting for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        let log = std::fs::read_to_string(dir.path().join("out")).unwrap();
        assert!(log.ends_with("err\n"), "{log}");
        // Its own session: the session id (after the name: state, ppid, pgrp,
        // session) is its pid.
        let after_name = log.rsplit_once(") ").unwrap().1;
        let sid = after_name.split_whitespace().nth(3).unwrap();
        assert_eq!(sid, pid.to_string(), "{log}");
    }
}
