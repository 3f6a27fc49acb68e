//! Starts a program in its own session from the CLI without copying the CLI.
//!
//! `std::process::Command` with a `pre_exec` closure (the only stable way to call
//! `setsid` or keep a descriptor across exec) forks: the kernel copies the page
//! tables of the whole multi-threaded CLI, shoots down every CPU's TLB, and each
//! page the CLI writes afterwards takes a copy-on-write fault, for every container.
//! `posix_spawn` with `POSIX_SPAWN_SETSID` runs the child on the caller's memory
//! until it executes (glibc's `CLONE_VM | CLONE_VFORK`): none of that.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

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
    let cstr = |b: &[u8]| {
        CString::new(b).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let prog = cstr(program.as_os_str().as_bytes())?;
    let mut argv_c = vec![prog.clone()];
    for a in args {
        argv_c.push(cstr(a.as_bytes())?);
    }
    let mut env_c = vec![];
    for (k, v) in std::env::vars_os() {
        if how.env.iter().any(|(name, _)| OsStr::new(name) == k) {
            continue;
        }
        env_c.push(cstr(&[k.as_bytes(), b"=", v.as_bytes()].concat())?);
    }
    for (k, v) in &how.env {
        env_c.push(cstr(&[k.as_bytes(), b"=", v.as_bytes()].concat())?);
    }
    let argv = null_terminated(&argv_c);
    let envp = null_terminated(&env_c);
    // Sources above the descriptors the actions write, so that no dup2 overwrites
    // one that a later action reads.
    let output = above_stdio(how.output.as_raw_fd())?;
    let fd3 = above_stdio(how.fd3)?;
    let mut actions = Actions::new()?;
    actions.open_null(0)?;
    actions.dup2(output.as_raw_fd(), 1)?;
    actions.dup2(output.as_raw_fd(), 2)?;
    actions.dup2(fd3.as_raw_fd(), 3)?;
    let mut attr = Attr::new()?;
    // As `Command` does: no signal blocked (the calling thread's mask would
    // carry over) and SIGPIPE back to its default (Rust programs ignore it).
    // SAFETY: attr was initialised by Attr::new; the sets are ours.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        check(libc::posix_spawnattr_setsigmask(&mut attr.0, &none))?;
        let mut pipe: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe);
        libc::sigaddset(&mut pipe, libc::SIGPIPE);
        check(libc::posix_spawnattr_setsigdefault(&mut attr.0, &pipe))?;
        let flags = i32::from(libc::POSIX_SPAWN_SETSID)
            | libc::POSIX_SPAWN_SETSIGMASK
            | libc::POSIX_SPAWN_SETSIGDEF;
        check(libc::posix_spawnattr_setflags(
            &mut attr.0,
            flags as libc::c_short,
        ))?;
    }
    let mut pid = 0;
    // SAFETY: every pointer is valid for the call: NUL-terminated strings, arrays
    // ending in a null pointer, initialised actions and attributes.
    check(unsafe {
        libc::posix_spawn(
            &mut pid,
            prog.as_ptr(),
            &actions.0,
            &attr.0,
            argv.as_ptr(),
            envp.as_ptr(),
        )
    })?;
    Ok(pid)
}

fn null_terminated(v: &[CString]) -> Vec<*mut libc::c_char> {
    v.iter()
        .map(|c| c.as_ptr() as *mut libc::c_char)
        .chain(std::iter::once(std::ptr::null_mut()))
        .collect()
}

fn check(r: libc::c_int) -> std::io::Result<()> {
    match r {
        0 => Ok(()),
        e => Err(std::io::Error::from_raw_os_error(e)),
    }
}

/// A close-on-exec copy of `fd` numbered 10 or above.
fn above_stdio(fd: RawFd) -> std::io::Result<OwnedFd> {
    // SAFETY: fcntl on a descriptor the caller holds open.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fcntl just made this descriptor, for us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

struct Actions(libc::posix_spawn_file_actions_t);

impl Actions {
    fn new() -> std::io::Result<Actions> {
        // SAFETY: zeroed storage that posix_spawn_file_actions_init initialises.
        let mut a = Actions(unsafe { std::mem::zeroed() });
        // SAFETY: as above.
        check(unsafe { libc::posix_spawn_file_actions_init(&mut a.0) })?;
        Ok(a)
    }

    fn open_null(&mut self, fd: RawFd) -> std::io::Result<()> {
        // SAFETY: initialised actions, a static NUL-terminated path.
        check(unsafe {
            libc::posix_spawn_file_actions_addopen(
                &mut self.0,
                fd,
                c"/dev/null".as_ptr(),
                libc::O_RDONLY,
                0,
            )
        })
    }

    /// dup2 clears close-on-exec on the copy.
    fn dup2(&mut self, from: RawFd, to: RawFd) -> std::io::Result<()> {
        // SAFETY: initialised actions.
        check(unsafe { libc::posix_spawn_file_actions_adddup2(&mut self.0, from, to) })
    }
}

impl Drop for Actions {
    fn drop(&mut self) {
        // SAFETY: initialised in Actions::new.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

struct Attr(libc::posix_spawnattr_t);

impl Attr {
    fn new() -> std::io::Result<Attr> {
        // SAFETY: zeroed storage that posix_spawnattr_init initialises.
        let mut a = Attr(unsafe { std::mem::zeroed() });
        // SAFETY: as above.
        check(unsafe { libc::posix_spawnattr_init(&mut a.0) })?;
        Ok(a)
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised in Attr::new.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

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
