//! The real `Syscall`: every in-root path is resolved with openat2(RESOLVE_IN_ROOT) and
//! mounted through `/proc/self/fd/N`, so no `..` or symlink in an image can redirect a
//! mount outside the root (the runc CVE-2021-30465 / CVE-2025-31133 class).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use super::raw::{self, fd_path, open_in_root};
use super::{Kind, Syscall, Target};
use crate::error::{Error, Result};

/// Makes the calls for real.
#[derive(Default)]
pub struct LinuxSyscall {
    root: Option<OwnedFd>,
    /// The root's `/dev/null`, once checked to be the null device: every masked
    /// file is bound from it, one open and one check for all of them.
    null: Option<OwnedFd>,
}

impl LinuxSyscall {
    /// A fresh instance with no root yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The root's `/dev/null` (see [`LinuxSyscall::null`]).
    fn verified_null(&mut self) -> Result<i32> {
        if let Some(n) = &self.null {
            return Ok(n.as_raw_fd());
        }
        // Bind the container's /dev/null by fd only after checking it is really the
        // null device: a symlink or another file there would let an image bind any
        // host file over the masked path (CVE-2025-31133).
        let null = open_in_root(
            self.root()?,
            Path::new("/dev/null"),
            libc::O_PATH | libc::O_NOFOLLOW,
            0,
        )
        .map_err(|e| Error::Path {
            op: "open",
            path: "/dev/null".into(),
            source: e,
        })?;
        let nst = fstat(&null).map_err(|e| Error::Path {
            op: "stat",
            path: "/dev/null".into(),
            source: e,
        })?;
        if nst.st_mode & libc::S_IFMT != libc::S_IFCHR || nst.st_rdev != libc::makedev(1, 3) {
            return Err(Error::Spec(
                "/dev/null in the container is not the null device".into(),
            ));
        }
        Ok(self.null.insert(null).as_raw_fd())
    }

    fn root(&self) -> Result<i32> {
        self.root
            .as_ref()
            .map(|f| f.as_raw_fd())
            .ok_or_else(|| Error::Spec("in-root operation before the root was set".into()))
    }

    /// Open `path` inside the root (O_PATH), creating it as `kind` when missing.
    pub fn resolve(&self, path: &Path, kind: Kind) -> Result<OwnedFd> {
        self.resolve_hops(path, kind, 40)
    }

    /// `resolve`, following dangling symlinks met on the way *inside* the root (an image's
    /// `/var/run -> /run` whose target does not exist yet), at most `hops` times.
    fn resolve_hops(&self, path: &Path, kind: Kind, hops: u32) -> Result<OwnedFd> {
        let root = self.root()?;
        match open_in_root(root, path, libc::O_PATH, 0) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(wrap("resolve", path)(e)),
        }
        let comps = clean(path);
        // Mostly only the last name is missing (a mount point the image lacks): its
        // parent, opened in one call, saves walking every component from the root.
        // Only for paths without `..`, where the lexical parent is the real one.
        let shortcut = if !comps.is_empty() && !path.components().any(|c| c == Component::ParentDir)
        {
            let p: PathBuf = std::iter::once(std::ffi::OsStr::new("/"))
                .chain(comps[..comps.len() - 1].iter().map(|c| c.as_os_str()))
                .collect();
            open_in_root(root, &p, libc::O_PATH | libc::O_DIRECTORY, 0)
                .ok()
                .map(|fd| (fd, p))
        } else {
            None
        };
        // Through the shortcut the whole path was just found missing: no second look.
        let known_missing = shortcut.is_some();
        let (mut parent, mut prefix, start) = match shortcut {
            Some((fd, p)) => (fd, p, comps.len() - 1),
            None => (
                open_in_root(root, Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0)
                    .map_err(wrap("resolve", path))?,
                PathBuf::from("/"),
                0,
            ),
        };
        for (i, c) in comps.iter().enumerate().skip(start) {
            let last = i + 1 == comps.len();
            let here = prefix.join(c);
            let dir = if last { 0 } else { libc::O_DIRECTORY };
            if !known_missing {
                match open_in_root(root, &here, libc::O_PATH | dir, 0) {
                    Ok(fd) => {
                        parent = fd;
                        prefix = here;
                        continue;
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                    Err(e) => return Err(wrap("resolve", &here)(e)),
                }
            }
            let cname = raw::cstr(Path::new(c)).map_err(wrap("create", &here))?;
            if let Some(target) = readlinkat(&parent, &cname) {
                if hops == 0 {
                    return Err(Error::Path {
                        op: "resolve",
                        path: path.into(),
                        source: io::Error::from_raw_os_error(libc::ELOOP),
                    });
                }
                // Re-resolve from the root: the target is interpreted inside the root, like
                // RESOLVE_IN_ROOT does for the symlinks it follows.
                let mut next = if target.is_absolute() {
                    target
                } else {
                    prefix.join(target)
                };
                for rest in &comps[i + 1..] {
                    next.push(rest);
                }
                return self.resolve_hops(&next, kind, hops - 1);
            }
            // Single-component *at calls on a resolved parent: mkdirat/openat(O_EXCL)
            // never follow a symlink in the name they create.
            let r = if last && kind == Kind::File {
                let fd = unsafe {
                    libc::openat(
                        parent.as_raw_fd(),
                        cname.as_ptr(),
                        libc::O_CREAT
                            | libc::O_EXCL
                            | libc::O_WRONLY
                            | libc::O_CLOEXEC
                            | libc::O_NOFOLLOW,
                        0o644,
                    )
                };
                if fd >= 0 {
                    unsafe { libc::close(fd) };
                }
                fd
            } else {
                unsafe { libc::mkdirat(parent.as_raw_fd(), cname.as_ptr(), 0o755) }
            };
            if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
                return Err(Error::last("create", &here));
            }
            parent =
                open_in_root(root, &here, libc::O_PATH | dir, 0).map_err(wrap("resolve", &here))?;
            prefix = here;
        }
        Ok(parent)
    }

    /// Create every missing directory above `path`; return the parent and the last name.
    fn mkdir_parents(&self, path: &Path) -> Result<(OwnedFd, std::ffi::OsString)> {
        let comps = clean(path);
        let Some((last, dirs)) = comps.split_last() else {
            return Err(Error::Spec(format!("empty path {}", path.display())));
        };
        let parent: PathBuf = std::iter::once(std::ffi::OsString::from("/"))
            .chain(dirs.iter().cloned())
            .collect();
        Ok((self.resolve(&parent, Kind::Dir)?, last.clone()))
    }
}

/// mount(2) data is limited to one page; longer overlay option strings (many layers)
/// go through the new mount API instead.
const OVERLAY_DATA_MAX: usize = 3800;

/// Mounts an overlay (`data`: `lowerdir=a:b[,upperdir=u,workdir=w]`) at the host path
/// `target`: with mount(2) when the options fit its one page, else with the new mount
/// API, one `lowerdir+` per layer (Linux 6.8), so images of many layers mount too. The
/// one overlay mount of container roots (the runtime) and build steps (the builder).
pub fn mount_overlay(data: &str, target: &Path, read_only: bool) -> Result<()> {
    if data.len() > OVERLAY_DATA_MAX {
        return mount_overlay_fsconfig(data, target, read_only);
    }
    let t = target
        .to_str()
        .ok_or_else(|| Error::Spec(format!("non-utf8 path {}", target.display())))?;
    let flags = if read_only { libc::MS_RDONLY as u64 } else { 0 };
    raw::mount(Some("overlay"), t, Some("overlay"), flags, Some(data)).map_err(|e| Error::Path {
        op: "mount overlay",
        path: target.to_path_buf(),
        source: e,
    })
}

/// Why an overlay of many layers cannot be mounted on a kernel without `lowerdir+`.
fn too_many_layers(data: &str, e: io::Error) -> Error {
    let layers = data
        .split(',')
        .find_map(|o| o.strip_prefix("lowerdir="))
        .map(|l| l.split(':').count())
        .unwrap_or(0);
    Error::Spec(format!(
        "an overlay of {layers} layers: its options ({} bytes) exceed mount(2)'s one page, \
         and this kernel cannot add layers one by one (overlayfs `lowerdir+` needs Linux 6.8 \
         or newer; {e}); use an image with fewer layers or a newer kernel",
        data.len()
    ))
}

/// Mount an overlay with fsopen/fsconfig, one `lowerdir+` per layer (Linux 6.8), so the
/// number of layers is not limited by the page-sized mount(2) data.
fn mount_overlay_fsconfig(data: &str, target: &Path, read_only: bool) -> Result<()> {
    use std::ffi::CString;
    const FSCONFIG_SET_STRING: u32 = 1;
    const FSCONFIG_CMD_CREATE: u32 = 6;
    const MOVE_MOUNT_F_EMPTY_PATH: u32 = 4;
    let sys = |op: &'static str| Error::Sys {
        op,
        source: io::Error::last_os_error(),
    };
    let fs = unsafe {
        libc::syscall(
            libc::SYS_fsopen,
            c"overlay".as_ptr(),
            1u32, /* FSOPEN_CLOEXEC */
        )
    };
    if fs < 0 {
        return Err(too_many_layers(data, io::Error::last_os_error()));
    }
    let fs = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fs as i32) };
    let set = |key: &str, val: &str| -> Result<()> {
        let (k, v) = (
            CString::new(key).unwrap_or_default(),
            CString::new(val).unwrap_or_default(),
        );
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_SET_STRING,
                k.as_ptr(),
                v.as_ptr(),
                0,
            )
        };
        if r < 0 {
            return Err(Error::Path {
                op: "fsconfig overlay",
                path: val.into(),
                source: io::Error::last_os_error(),
            });
        }
        Ok(())
    };
    for opt in data.split(',') {
        let Some((k, v)) = opt.split_once('=') else {
            // A flag (`userxattr`): FSCONFIG_SET_FLAG, which takes no value.
            let k = CString::new(opt).unwrap_or_default();
            // SAFETY: fsconfig on our fs context with a NUL-terminated key.
            let r = unsafe {
                libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), 0u32, k.as_ptr(), 0, 0)
            };
            if r < 0 {
                return Err(sys("fsconfig overlay flag"));
            }
            continue;
        };
        if k == "lowerdir" {
            for l in v.split(':') {
                set("lowerdir+", l).map_err(|e| match e {
                    // EINVAL on the key itself: a kernel before 6.8.
                    Error::Path { source, .. } if source.raw_os_error() == Some(libc::EINVAL) => {
                        too_many_layers(data, source)
                    }
                    other => other,
                })?;
            }
        } else {
            set(k, v)?;
        }
    }
    if unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            0,
            0,
            0,
        )
    } < 0
    {
        return Err(sys("create overlay"));
    }
    let m = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            1u32, /* FSMOUNT_CLOEXEC */
            if read_only {
                1u32 /* MOUNT_ATTR_RDONLY */
            } else {
                0u32
            },
        )
    };
    if m < 0 {
        return Err(sys("fsmount overlay"));
    }
    let m = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(m as i32) };
    let t = raw::cstr(target).map_err(wrap("move_mount", target))?;
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            m.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if r < 0 {
        return Err(Error::last("move_mount overlay", target));
    }
    Ok(())
}

/// An io error → `Error::Path` mapper.
fn wrap(op: &'static str, p: &Path) -> impl FnOnce(io::Error) -> Error {
    let path = p.to_path_buf();
    move |e| Error::Path {
        op,
        path,
        source: e,
    }
}

/// Lexically cleaned components: `.` dropped, `..` pops but never above the root (the
/// root is its own parent inside a container, as with RESOLVE_IN_ROOT).
fn clean(path: &Path) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n.to_owned()),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// readlinkat(2); `None` when `name` is not a symlink.
fn readlinkat(dir: &OwnedFd, name: &std::ffi::CStr) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
        )
    };
    if n < 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(PathBuf::from(std::ffi::OsString::from_vec(buf)))
}

fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

impl Syscall for LinuxSyscall {
    fn mount(
        &mut self,
        source: Option<&str>,
        target: &Target,
        fstype: Option<&str>,
        flags: u64,
        data: Option<&str>,
    ) -> Result<()> {
        match target {
            Target::Host(p) if fstype == Some("overlay") && data.is_some() => mount_overlay(
                data.unwrap_or_default(),
                p,
                flags & libc::MS_RDONLY as u64 != 0,
            ),
            Target::Host(p) => {
                let t = p
                    .to_str()
                    .ok_or_else(|| Error::Spec(format!("non-utf8 path {}", p.display())))?;
                raw::mount(source, t, fstype, flags, data).map_err(|e| Error::Path {
                    op: "mount",
                    path: p.clone(),
                    source: e,
                })
            }
            Target::InRoot(p, kind) => {
                let fd = self.resolve(p, *kind)?;
                raw::mount(source, &fd_path(fd.as_raw_fd()), fstype, flags, data).map_err(|e| {
                    Error::Path {
                        op: "mount",
                        path: p.clone(),
                        source: e,
                    }
                })
            }
        }
    }

    fn set_root(&mut self, path: &Path) -> Result<()> {
        self.null = None;
        self.root = Some(raw::open(path, libc::O_PATH | libc::O_DIRECTORY, 0)?);
        Ok(())
    }

    fn source_is_dir(&self, source: &Path) -> bool {
        source.is_dir()
    }

    fn mknod(&mut self, path: &Path, mode: u32, dev: u64, uid: u32, gid: u32) -> Result<()> {
        let (parent, name) = self.mkdir_parents(path)?;
        let c = raw::cstr(Path::new(&name)).map_err(|e| Error::Path {
            op: "mknod",
            path: path.into(),
            source: e,
        })?;
        // SAFETY: parent is a descriptor we own, c a NUL-terminated name we just made.
        if unsafe { libc::mknodat(parent.as_raw_fd(), c.as_ptr(), mode, dev) } < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EEXIST) {
                return Ok(());
            }
            return Err(Error::last("mknod", path));
        }
        // SAFETY: a valid dir fd and NUL-terminated name.
        if unsafe {
            libc::fchownat(
                parent.as_raw_fd(),
                c.as_ptr(),
                uid,
                gid,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        } < 0
        {
            return Err(Error::last("chown", path));
        }
        // mknod masks the mode with the umask, and chown may clear setuid bits: the
        // node gets exactly the mode asked for (0666 for /dev/null, whoever ran us).
        // SAFETY: parent is a descriptor we own, c a NUL-terminated name we just made.
        if unsafe { libc::fchmodat(parent.as_raw_fd(), c.as_ptr(), mode & 0o7777, 0) } < 0 {
            return Err(Error::last("chmod", path));
        }
        Ok(())
    }

    fn symlink(&mut self, target: &str, link: &Path) -> Result<()> {
        let (parent, name) = self.mkdir_parents(link)?;
        let c = raw::cstr(Path::new(&name)).map_err(|e| Error::Path {
            op: "symlink",
            path: link.into(),
            source: e,
        })?;
        let t = raw::cstr(Path::new(target)).map_err(|e| Error::Path {
            op: "symlink",
            path: link.into(),
            source: e,
        })?;
        if unsafe { libc::symlinkat(t.as_ptr(), parent.as_raw_fd(), c.as_ptr()) } < 0
            && io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST)
        {
            return Err(Error::last("symlink", link));
        }
        Ok(())
    }

    fn pivot_root(&mut self) -> Result<()> {
        let root = self.root()?;
        raw::check(unsafe { libc::fchdir(root) }, "fchdir to new root")?;
        // pivot_root(".", ".") stacks the old root under the new one: no put_old
        // directory inside the image is needed (runc, crun and youki do the same).
        raw::pivot_root(".", ".").map_err(|e| Error::Sys {
            op: "pivot_root",
            source: e,
        })?;
        // Slave, not private, before detaching: a private unmount would propagate
        // nothing but a shared old root would propagate the umount to the host (runc#1500).
        raw::mount(
            None,
            ".",
            None,
            (libc::MS_SLAVE | libc::MS_REC) as u64,
            None,
        )
        .map_err(|e| Error::Sys {
            op: "make old root slave",
            source: e,
        })?;
        let dot = c".";
        raw::check(
            unsafe { libc::umount2(dot.as_ptr(), libc::MNT_DETACH) },
            "detach old root",
        )?;
        raw::check(unsafe { libc::chdir(c"/".as_ptr()) }, "chdir /")?;
        self.null = None;
        self.root = Some(raw::open(
            Path::new("/"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )?);
        Ok(())
    }

    fn chroot(&mut self) -> Result<()> {
        let root = self.root()?;
        raw::check(unsafe { libc::fchdir(root) }, "fchdir to new root")?;
        raw::check(unsafe { libc::chroot(c".".as_ptr()) }, "chroot")?;
        raw::check(unsafe { libc::chdir(c"/".as_ptr()) }, "chdir /")?;
        self.null = None;
        self.root = Some(raw::open(
            Path::new("/"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )?);
        Ok(())
    }

    fn become_root(&mut self) -> Result<()> {
        // Raw calls, as in process/setup.rs: glibc's wrappers signal other threads.
        // SAFETY: plain system calls with integer arguments / an empty list.
        unsafe {
            if libc::syscall(libc::SYS_setresgid, 0, 0, 0) < 0 {
                return Err(Error::sys("setresgid 0 in the user namespace"));
            }
            if libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>()) < 0 {
                return Err(Error::sys("setgroups in the user namespace"));
            }
            if libc::syscall(libc::SYS_setresuid, 0, 0, 0) < 0 {
                return Err(Error::sys("setresuid 0 in the user namespace"));
            }
        }
        Ok(())
    }

    fn mask(&mut self, path: &Path) -> Result<()> {
        let root = self.root()?;
        let fd = match open_in_root(root, path, libc::O_PATH | libc::O_NOFOLLOW, 0) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Err(e) => {
                return Err(Error::Path {
                    op: "resolve",
                    path: path.into(),
                    source: e,
                })
            }
        };
        let st = fstat(&fd).map_err(|e| Error::Path {
            op: "stat",
            path: path.into(),
            source: e,
        })?;
        let target = fd_path(fd.as_raw_fd());
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            return raw::mount(
                Some("tmpfs"),
                &target,
                Some("tmpfs"),
                libc::MS_RDONLY as u64,
                Some("size=0"),
            )
            .map_err(|e| Error::Path {
                op: "mask",
                path: path.into(),
                source: e,
            });
        }
        let null = self.verified_null()?;
        raw::mount(
            Some(&fd_path(null)),
            &target,
            None,
            libc::MS_BIND as u64,
            None,
        )
        .map_err(|e| Error::Path {
            op: "mask",
            path: path.into(),
            source: e,
        })
    }

    fn mkdir_all(&mut self, path: &Path) -> Result<()> {
        // Resolved component by component inside the root: a symlink in the image
        // (`/work -> /etc`) leads to a directory in the container, never on the host.
        self.resolve(path, Kind::Dir).map(drop)
    }

    fn readonly(&mut self, path: &Path) -> Result<()> {
        let root = self.root()?;
        let fd = match open_in_root(root, path, libc::O_PATH, 0) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Err(e) => {
                return Err(Error::Path {
                    op: "resolve",
                    path: path.into(),
                    source: e,
                })
            }
        };
        let t = fd_path(fd.as_raw_fd());
        raw::mount(
            Some(&t),
            &t,
            None,
            (libc::MS_BIND | libc::MS_REC) as u64,
            None,
        )
        .map_err(|e| Error::Path {
            op: "bind",
            path: path.into(),
            source: e,
        })?;
        // Re-open: the old fd still names the covered object, not the new bind mount.
        let fd = open_in_root(root, path, libc::O_PATH, 0).map_err(|e| Error::Path {
            op: "resolve",
            path: path.into(),
            source: e,
        })?;
        let flags = libc::MS_BIND
            | libc::MS_REMOUNT
            | libc::MS_RDONLY
            | libc::MS_NOSUID
            | libc::MS_NODEV
            | libc::MS_NOEXEC;
        raw::mount(None, &fd_path(fd.as_raw_fd()), None, flags as u64, None).map_err(|e| {
            Error::Path {
                op: "remount ro",
                path: path.into(),
                source: e,
            }
        })
    }
}
