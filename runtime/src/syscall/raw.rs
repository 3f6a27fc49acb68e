//! Thin wrappers over the raw system calls libc does not wrap (clone3, openat2, pidfd,
//! pivot_root, capset) and small helpers around the ones it does.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};

/// `struct clone_args` of clone3(2).
#[repr(C)]
#[derive(Default)]
pub struct CloneArgs {
    /// CLONE_* flags.
    pub flags: u64,
    /// Where the kernel stores a pidfd (CLONE_PIDFD).
    pub pidfd: u64,
    /// CLONE_CHILD_SETTID target.
    pub child_tid: u64,
    /// CLONE_PARENT_SETTID target.
    pub parent_tid: u64,
    /// Signal sent to the parent at exit.
    pub exit_signal: u64,
    /// Stack (0: share the copy-on-write stack, fork semantics).
    pub stack: u64,
    /// Stack size.
    pub stack_size: u64,
    /// TLS.
    pub tls: u64,
    /// set_tid array.
    pub set_tid: u64,
    /// set_tid array size.
    pub set_tid_size: u64,
    /// cgroup2 directory fd (CLONE_INTO_CGROUP).
    pub cgroup: u64,
}

/// CLONE_INTO_CGROUP (not in every libc).
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Fork-like clone3: returns 0 in the child, the child's pid in the parent.
///
/// # Safety
/// The calling process must be single-threaded: the child gets a copy of the address
/// space with whatever locks other threads held.
pub unsafe fn clone3(args: &mut CloneArgs) -> io::Result<libc::pid_t> {
    let r = libc::syscall(
        libc::SYS_clone3,
        args as *mut CloneArgs,
        std::mem::size_of::<CloneArgs>(),
    );
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as libc::pid_t)
    }
}

/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Resolve like chroot(2) to the dirfd: `..` and absolute symlinks stay inside it.
pub const RESOLVE_IN_ROOT: u64 = 0x10;
/// Refuse magic links such as /proc/self/fd/N.
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;

/// openat2(2) with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: `path` can never escape `root`.
pub fn open_in_root(root: RawFd, path: &Path, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let c = cstr(rel)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    loop {
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root,
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if r >= 0 {
            return Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) });
        }
        let e = io::Error::last_os_error();
        // openat2 returns EAGAIN when a concurrent rename raced the resolution.
        if e.raw_os_error() != Some(libc::EAGAIN) {
            return Err(e);
        }
    }
}

/// Path as a C string.
pub fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `/proc/self/fd/N`: the path through which mount(2) reaches exactly the object `fd` is.
pub fn fd_path(fd: RawFd) -> String {
    format!("/proc/self/fd/{fd}")
}

/// open(2) with O_CLOEXEC.
pub fn open(path: &Path, flags: i32, mode: u32) -> Result<OwnedFd> {
    let c = cstr(path).map_err(|e| Error::Path {
        op: "open",
        path: path.into(),
        source: e,
    })?;
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, mode) };
    if fd < 0 {
        return Err(Error::last("open", path));
    }
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// mount(2) with optional arguments, paths given as strings.
pub fn mount(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: u64,
    data: Option<&str>,
) -> io::Result<()> {
    let s = source.map(|s| CString::new(s).unwrap_or_default());
    let t = CString::new(target).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let f = fstype.map(|s| CString::new(s).unwrap_or_default());
    let d = data.map(|s| CString::new(s).unwrap_or_default());
    let r = unsafe {
        libc::mount(
            s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            t.as_ptr(),
            f.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            flags as libc::c_ulong,
            d.as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr() as *const libc::c_void),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// pidfd_open(2).
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
    }
}

/// pidfd_send_signal(2): signals the process the pidfd refers to, never a recycled pid.
pub fn pidfd_send_signal(pidfd: &OwnedFd, sig: i32) -> io::Result<()> {
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// pivot_root(2).
pub fn pivot_root(new: &str, old: &str) -> io::Result<()> {
    let n = CString::new(new).unwrap_or_default();
    let o = CString::new(old).unwrap_or_default();
    let r = unsafe { libc::syscall(libc::SYS_pivot_root, n.as_ptr(), o.as_ptr()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Check a libc return value.
pub fn check(r: libc::c_int, op: &'static str) -> Result<libc::c_int> {
    if r < 0 {
        Err(Error::sys(op))
    } else {
        Ok(r)
    }
}

/// Write all of `data` to `path` (cgroup and proc files: one write(2), no truncation games).
pub fn write_file(path: &Path, data: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::Path {
            op: "open",
            path: path.into(),
            source: e,
        })?;
    f.write_all(data.as_bytes()).map_err(|e| Error::Path {
        op: "write",
        path: path.into(),
        source: e,
    })
}

/// Start time of `pid` in clock ticks since boot (field 22 of /proc/pid/stat), to tell a
/// process from a later one that reused its pid.
pub fn start_time(pid: libc::pid_t) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// Process state letter (field 3 of /proc/pid/stat).
pub fn proc_state(pid: libc::pid_t) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 2..].chars().next()
}
