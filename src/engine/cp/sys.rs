//! The system calls `cp` makes, on directory descriptors: every name is one path
//! component opened relative to a directory already held, never followed when it
//! is a symlink. [`Root`] resolves a whole user-given path, on the host as usual
//! and inside a container with openat2(RESOLVE_IN_ROOT), so a symlink or `..` in
//! the container can never lead out of it.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use berth_runtime::syscall::raw::open_in_root;

use super::rules::{Kind, Lookup};

fn cstr(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Where whole paths are resolved: the host's root, or a container's.
pub enum Root {
    /// Paths as this process sees them.
    Host,
    /// A container's root directory; nothing resolves outside it.
    InRoot(OwnedFd),
}

impl Root {
    /// Opens `path` (`O_CLOEXEC` added).
    pub fn open(&self, path: &str, flags: i32) -> io::Result<OwnedFd> {
        match self {
            Root::Host => {
                let c = cstr(path.as_bytes())?;
                // SAFETY: a plain open with a valid C string.
                let fd = check(unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) })?;
                // SAFETY: open just returned it.
                Ok(unsafe { OwnedFd::from_raw_fd(fd) })
            }
            Root::InRoot(root) => open_in_root(root.as_raw_fd(), Path::new(path), flags, 0),
        }
    }

    fn kind(&self, path: &str, follow: bool) -> io::Result<Kind> {
        let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
        let fd = self.open(path, libc::O_PATH | nofollow)?;
        Ok(kind_of(&fstat(&fd)?))
    }
}

impl Lookup for Root {
    fn lstat(&self, path: &str) -> io::Result<Kind> {
        self.kind(path, false)
    }

    fn stat(&self, path: &str) -> io::Result<Kind> {
        self.kind(path, true)
    }

    fn readlink(&self, path: &str) -> io::Result<String> {
        let fd = self.open(path, libc::O_PATH | libc::O_NOFOLLOW)?;
        let target = readlink_at(fd.as_raw_fd(), c"")?;
        Ok(String::from_utf8_lossy(target.as_bytes()).into_owned())
    }
}

/// The kind of an inode.
pub fn kind_of(st: &libc::stat) -> Kind {
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => Kind::Dir,
        libc::S_IFREG => Kind::File,
        libc::S_IFLNK => Kind::Symlink,
        _ => Kind::Special,
    }
}

/// fstat(2).
pub fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    // SAFETY: a zeroed stat is valid; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; st is ours.
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

/// fstatat(2) without following a symlink; `None` when the name does not exist.
pub fn lstat_at(dir: RawFd, name: &CStr) -> io::Result<Option<libc::stat>> {
    // SAFETY: as in fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: dir is open, name a valid C string.
    let r = unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    match check(r) {
        Ok(_) => Ok(Some(st)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// openat(2) of one name; never follows a symlink there.
pub fn open_at(dir: RawFd, name: &CStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let flags = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: dir is open, name a valid C string.
    let fd = check(unsafe { libc::openat(dir, name.as_ptr(), flags, mode) })?;
    // SAFETY: openat just returned it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// readlinkat(2); an empty name reads the link an `O_PATH` descriptor holds.
pub fn readlink_at(dir: RawFd, name: &CStr) -> io::Result<OsString> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: buf is ours and as long as we say.
    let n = unsafe { libc::readlinkat(dir, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(OsString::from_vec(buf))
}

/// The names in a directory (without `.` and `..`), sorted.
pub fn list_dir(dir: &OwnedFd) -> io::Result<Vec<CString>> {
    // fdopendir takes the descriptor over: hand it a duplicate.
    // SAFETY: dup of an open descriptor.
    let dup = check(unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) })?;
    // SAFETY: dup is ours; on success the DIR owns it.
    let d = unsafe { libc::fdopendir(dup) };
    if d.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: fdopendir failed, dup is still ours.
        unsafe { libc::close(dup) };
        return Err(e);
    }
    // The position is shared with `dir`; start from the beginning.
    // SAFETY: d is a valid DIR.
    unsafe { libc::rewinddir(d) };
    let mut out = vec![];
    loop {
        // SAFETY: d is valid; errno tells an error from the end.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: as above.
        let e = unsafe { libc::readdir64(d) };
        if e.is_null() {
            let err = io::Error::last_os_error();
            // SAFETY: closes the DIR and the duplicate.
            unsafe { libc::closedir(d) };
            if err.raw_os_error().unwrap_or(0) != 0 {
                return Err(err);
            }
            break;
        }
        // SAFETY: d_name is a NUL-terminated name inside the entry.
        let name = unsafe { CStr::from_ptr((*e).d_name.as_ptr()) };
        if name != c"." && name != c".." {
            out.push(name.to_owned());
        }
    }
    out.sort();
    Ok(out)
}

/// mkdirat(2).
pub fn mkdir_at(dir: RawFd, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: dir is open, name a valid C string.
    check(unsafe { libc::mkdirat(dir, name.as_ptr(), mode) }).map(drop)
}

/// unlinkat(2) of a non-directory.
pub fn unlink_at(dir: RawFd, name: &CStr) -> io::Result<()> {
    // SAFETY: as in mkdir_at.
    check(unsafe { libc::unlinkat(dir, name.as_ptr(), 0) }).map(drop)
}

/// symlinkat(2).
pub fn symlink_at(target: &OsStr, dir: RawFd, name: &CStr) -> io::Result<()> {
    let t = cstr(target.as_bytes())?;
    // SAFETY: both C strings are valid, dir is open.
    check(unsafe { libc::symlinkat(t.as_ptr(), dir, name.as_ptr()) }).map(drop)
}

/// linkat(2), never following a symlink.
pub fn link_at(from_dir: RawFd, from: &CStr, dir: RawFd, name: &CStr) -> io::Result<()> {
    // SAFETY: both names valid, both dirs open.
    check(unsafe { libc::linkat(from_dir, from.as_ptr(), dir, name.as_ptr(), 0) }).map(drop)
}

/// mknodat(2).
pub fn mknod_at(dir: RawFd, name: &CStr, mode: u32, dev: u64) -> io::Result<()> {
    // SAFETY: name valid, dir open.
    check(unsafe { libc::mknodat(dir, name.as_ptr(), mode, dev) }).map(drop)
}

/// Sets owner (if given), mode (unless a symlink) and mtime of `name` in `dir`,
/// never following a symlink. The mode comes after the owner: chown clears setuid.
pub fn set_meta(
    dir: RawFd,
    name: &CStr,
    owner: Option<(u32, u32)>,
    mode: Option<u32>,
    mtime: i64,
) -> io::Result<()> {
    if let Some((uid, gid)) = owner {
        // SAFETY: name valid, dir open.
        check(unsafe { libc::fchownat(dir, name.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) })?;
    }
    if let Some(mode) = mode {
        // fchmodat follows a symlink: look first. A swap in between could only lead
        // within the root this process sees (the container's, on that side).
        let is_link = lstat_at(dir, name)?.is_some_and(|st| kind_of(&st) == Kind::Symlink);
        if !is_link {
            // SAFETY: name valid, dir open.
            check(unsafe { libc::fchmodat(dir, name.as_ptr(), mode, 0) })?;
        }
    }
    let ts = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: mtime,
            tv_nsec: 0,
        },
    ];
    // SAFETY: ts holds two timespecs; name valid, dir open.
    check(unsafe { libc::utimensat(dir, name.as_ptr(), ts.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) })
        .map(drop)
}
