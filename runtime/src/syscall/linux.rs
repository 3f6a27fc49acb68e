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
}

impl LinuxSyscall {
    /// A fresh instance with no root yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn root(&self) -> Result<i32> {
        self.root
            .as_ref()
            .map(|f| f.as_raw_fd())
            .ok_or_else(|| Error::Spec("in-root operation before the root was set".into()))
    }

    /// Open `path` inside the root (O_PATH), creating it as `kind` when missing.
    pub fn resolve(&self, path: &Path, kind: Kind) -> Result<OwnedFd> {
        let root = self.root()?;
        match open_in_root(root, path, libc::O_PATH, 0) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => {
                return Err(Error::Path {
                    op: "resolve",
                    path: path.into(),
                    source: e,
                })
            }
        }
        let (parent, name) = self.mkdir_parents(path)?;
        let cname = raw::cstr(Path::new(&name)).map_err(|e| Error::Path {
            op: "create",
            path: path.into(),
            source: e,
        })?;
        // Single-component *at calls on a resolved parent: mkdirat/openat never follow a
        // symlink in the last component when creating (O_EXCL / EEXIST).
        let r = match kind {
            Kind::Dir => unsafe { libc::mkdirat(parent.as_raw_fd(), cname.as_ptr(), 0o755) },
            Kind::File => {
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
            }
        };
        if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
            return Err(Error::last("create", path));
        }
        open_in_root(root, path, libc::O_PATH, 0).map_err(|e| Error::Path {
            op: "resolve",
            path: path.into(),
            source: e,
        })
    }

    /// Create every missing directory above `path`; return the parent and the last name.
    fn mkdir_parents(&self, path: &Path) -> Result<(OwnedFd, std::ffi::OsString)> {
        let root = self.root()?;
        let mut prefix = PathBuf::from("/");
        let comps: Vec<_> = path
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        let Some((last, dirs)) = comps.split_last() else {
            return Err(Error::Spec(format!(
                "empty mount target {}",
                path.display()
            )));
        };
        let mut parent =
            open_in_root(root, &prefix, libc::O_PATH | libc::O_DIRECTORY, 0).map_err(|e| {
                Error::Path {
                    op: "resolve",
                    path: prefix.clone(),
                    source: e,
                }
            })?;
        for c in dirs {
            prefix.push(c);
            match open_in_root(root, &prefix, libc::O_PATH | libc::O_DIRECTORY, 0) {
                Ok(fd) => parent = fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    let name = raw::cstr(Path::new(c.as_os_str())).map_err(|e| Error::Path {
                        op: "mkdir",
                        path: prefix.clone(),
                        source: e,
                    })?;
                    let r = unsafe { libc::mkdirat(parent.as_raw_fd(), name.as_ptr(), 0o755) };
                    if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
                        return Err(Error::last("mkdir", &prefix));
                    }
                    parent = open_in_root(root, &prefix, libc::O_PATH | libc::O_DIRECTORY, 0)
                        .map_err(|e| Error::Path {
                            op: "resolve",
                            path: prefix.clone(),
                            source: e,
                        })?;
                }
                Err(e) => {
                    return Err(Error::Path {
                        op: "resolve",
                        path: prefix,
                        source: e,
                    })
                }
            }
        }
        Ok((parent, last.as_os_str().to_owned()))
    }
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
        if unsafe { libc::mknodat(parent.as_raw_fd(), c.as_ptr(), mode, dev) } < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EEXIST) {
                return Ok(());
            }
            return Err(Error::last("mknod", path));
        }
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
        self.root = Some(raw::open(
            Path::new("/"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )?);
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
        // Bind the container's /dev/null by fd only after checking it is really the
        // null device: a symlink or another file there would let an image bind any
        // host file over the masked path (CVE-2025-31133).
        let null = open_in_root(
            root,
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
        raw::mount(
            Some(&fd_path(null.as_raw_fd())),
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
