//! posix_spawn(3), for callers that must not fork: a multi-threaded process (another
//! thread may hold the allocator's lock in the copy) or a large one (the kernel copies
//! its page tables and every later write takes a copy-on-write fault). glibc runs the
//! child on the caller's memory until it executes (`CLONE_VM | CLONE_VFORK`), and
//! nothing runs in between but libc's own file actions and attributes.
//!
//! The runtime re-executes its helper this way, and berth's CLI starts detached
//! supervisors with it.

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

/// A posix_spawn result (an error number, not -1 and errno) as an `io::Result`.
fn check(r: libc::c_int) -> io::Result<()> {
    match r {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// A close-on-exec copy of `fd` numbered 10 or above: the source of a file action
/// that moves it onto 0..=3 is then out of the way of every other action's
/// target, so no dup2 overwrites a descriptor that a later one reads.
pub fn above_stdio(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) only reads `fd` and returns a new descriptor or
    // -1; it touches no memory of ours.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fcntl just made this descriptor, for us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// What the child does to its descriptors before it executes, in order.
pub struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    /// No action yet.
    pub fn new() -> io::Result<FileActions> {
        // SAFETY: zeroed storage that posix_spawn_file_actions_init initialises.
        let mut a = FileActions(unsafe { std::mem::zeroed() });
        // SAFETY: as above.
        check(unsafe { libc::posix_spawn_file_actions_init(&mut a.0) })?;
        Ok(a)
    }

    /// Opens `path` with `flags` as descriptor `fd`.
    pub fn open(&mut self, fd: RawFd, path: &CStr, flags: libc::c_int) -> io::Result<()> {
        // SAFETY: initialised actions; glibc copies the NUL-terminated path.
        check(unsafe {
            libc::posix_spawn_file_actions_addopen(&mut self.0, fd, path.as_ptr(), flags, 0)
        })
    }

    /// Copies `from` onto `to`; the copy is not close-on-exec.
    pub fn dup2(&mut self, from: RawFd, to: RawFd) -> io::Result<()> {
        // SAFETY: initialised actions.
        check(unsafe { libc::posix_spawn_file_actions_adddup2(&mut self.0, from, to) })
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in FileActions::new, destroyed exactly once, here.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// The child's session and signal dispositions.
pub struct Attr(libc::posix_spawnattr_t);

impl Attr {
    /// The child of a Rust program as `std::process::Command` makes it: no signal
    /// blocked (the calling thread's mask would carry over) and SIGPIPE back to its
    /// default (Rust programs ignore it); in a session of its own with `setsid`.
    pub fn new(setsid: bool) -> io::Result<Attr> {
        // SAFETY: zeroed storage that posix_spawnattr_init initialises.
        let mut a = Attr(unsafe { std::mem::zeroed() });
        // SAFETY: as above.
        check(unsafe { libc::posix_spawnattr_init(&mut a.0) })?;
        // SAFETY: attr is initialised; the sets are ours, initialised by sigemptyset.
        unsafe {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            check(libc::posix_spawnattr_setsigmask(&mut a.0, &none))?;
            let mut pipe: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut pipe);
            libc::sigaddset(&mut pipe, libc::SIGPIPE);
            check(libc::posix_spawnattr_setsigdefault(&mut a.0, &pipe))?;
        }
        let mut flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
        if setsid {
            flags |= i32::from(libc::POSIX_SPAWN_SETSID);
        }
        // SAFETY: initialised attr.
        check(unsafe { libc::posix_spawnattr_setflags(&mut a.0, flags as libc::c_short) })?;
        Ok(a)
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised in Attr::new, destroyed exactly once, here.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// `arg` as a C string; one holding a NUL cannot be passed.
pub fn c_string(arg: &[u8]) -> io::Result<CString> {
    CString::new(arg).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// This process's environment with `set` added, each replacing the value it had.
pub fn environment_with(set: &[(&str, &OsStr)]) -> io::Result<Vec<CString>> {
    let entry = |k: &OsStr, v: &OsStr| c_string(&[k.as_bytes(), b"=", v.as_bytes()].concat());
    let mut env = vec![];
    for (k, v) in std::env::vars_os() {
        if !set.iter().any(|(name, _)| OsStr::new(name) == k) {
            env.push(entry(&k, &v)?);
        }
    }
    for (k, v) in set {
        env.push(entry(OsStr::new(k), v)?);
    }
    Ok(env)
}

/// Starts `program` with `argv` (its first the program's name) and `env`; returns
/// the child's pid. Without `attr` the child keeps this thread's signal mask and
/// this process's ignored signals, as across an execve.
pub fn spawn(
    program: &CStr,
    argv: &[CString],
    env: &[CString],
    actions: &FileActions,
    attr: Option<&Attr>,
) -> io::Result<libc::pid_t> {
    let argv = null_terminated(argv);
    let envp = null_terminated(env);
    let mut pid = 0;
    // SAFETY: every pointer is valid for the call: NUL-terminated strings, arrays
    // ending in a null pointer (kept alive above), initialised actions and attributes.
    check(unsafe {
        libc::posix_spawn(
            &mut pid,
            program.as_ptr(),
            &actions.0,
            attr.map_or(std::ptr::null(), |a| &a.0),
            argv.as_ptr(),
            envp.as_ptr(),
        )
    })?;
    Ok(pid)
}

/// The array of pointers execve wants: the strings', then a null pointer.
fn null_terminated(v: &[CString]) -> Vec<*mut libc::c_char> {
    v.iter()
        .map(|c| c.as_ptr() as *mut libc::c_char)
        .chain(std::iter::once(std::ptr::null_mut()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsRawFd;

    #[test]
    fn the_child_gets_the_descriptors_and_environment_asked_for() {
        let mut fds = [0; 2];
        // SAFETY: room for two descriptors.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: pipe2 just made them, for us alone.
        let (r, w) = unsafe {
            (
                std::fs::File::from_raw_fd(fds[0]),
                OwnedFd::from_raw_fd(fds[1]),
            )
        };
        let high = above_stdio(w.as_raw_fd()).unwrap();
        drop(w);
        assert!(high.as_raw_fd() >= 10);
        let mut actions = FileActions::new().unwrap();
        actions.open(0, c"/dev/null", libc::O_RDONLY).unwrap();
        actions.dup2(high.as_raw_fd(), 1).unwrap();
        let argv = ["sh", "-c", "echo $SPAWN_TEST_X; read x || echo eof"]
            .map(|a| c_string(a.as_bytes()).unwrap());
        let env = environment_with(&[("SPAWN_TEST_X", OsStr::new("forty-two"))]).unwrap();
        let pid = spawn(
            c"/bin/sh",
            &argv,
            &env,
            &actions,
            Some(&Attr::new(false).unwrap()),
        )
        .unwrap();
        drop(high);
        let mut said = String::new();
        let mut r = r;
        r.read_to_string(&mut said).unwrap();
        assert_eq!(said, "forty-two\neof\n");
        let mut status = 0;
        // SAFETY: waiting for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    }

    #[test]
    fn a_set_variable_replaces_the_inherited_one() {
        let env = environment_with(&[("PATH", OsStr::new("/nowhere"))]).unwrap();
        let paths: Vec<_> = env
            .iter()
            .filter(|e| e.as_bytes().starts_with(b"PATH="))
            .collect();
        assert_eq!(paths, [&c_string(b"PATH=/nowhere").unwrap()]);
    }
}
