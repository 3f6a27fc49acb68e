//! Writing host files into a container's file system, through a descriptor of
//! the container's root: every path is resolved with openat2(RESOLVE_IN_ROOT),
//! so neither a symlink nor `..` in the container leads out of it. Files are
//! written to a temp name and renamed over the old one (a reader sees the old
//! or the new content, never half a file), and owned by the container's user,
//! as docker's copy with `CopyUIDGID` does.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use berth_runtime::syscall::raw::open_in_root;
use serde::{Deserialize, Serialize};

use crate::engine::cp::rules::Kind;
use crate::engine::cp::sys::{fstat, kind_of, list_dir, lstat_at, mkdir_at, open_at, unlink_at};

/// What a host path is now, and so what its container path must become.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Entry {
    /// A regular file.
    File {
        /// Permission bits.
        mode: u32,
        /// Its content.
        content: Content,
    },
    /// A symlink with this target.
    Symlink(PathBuf),
    /// A directory.
    Dir {
        /// Permission bits.
        mode: u32,
    },
    /// Nothing: delete it.
    Gone,
}

/// Where a file's bytes come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Content {
    /// Read from the host path when written.
    Path(PathBuf),
    /// Read already (for a process that cannot see the host's files).
    Bytes(Vec<u8>),
}

/// One change for one container path.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Op {
    /// The path in the container (absolute).
    pub path: String,
    /// What it must become.
    pub entry: Entry,
}

/// What the host has at `p` now (a symlink is copied as a symlink).
pub fn host_entry(p: &Path) -> Entry {
    match std::fs::symlink_metadata(p) {
        Err(_) => Entry::Gone,
        Ok(m) if m.file_type().is_symlink() => match std::fs::read_link(p) {
            Ok(t) => Entry::Symlink(t),
            Err(_) => Entry::Gone,
        },
        Ok(m) if m.is_dir() => Entry::Dir {
            mode: m.mode() & 0o7777,
        },
        Ok(m) if m.is_file() => Entry::File {
            mode: m.mode() & 0o7777,
            content: Content::Path(p.to_path_buf()),
        },
        // Sockets, fifos, devices are not synced (docker compose's tar skips them too).
        Ok(_) => Entry::Gone,
    }
}

impl Entry {
    /// The same entry with a file's bytes read in.
    pub fn loaded(self) -> io::Result<Entry> {
        match self {
            Entry::File {
                mode,
                content: Content::Path(p),
            } => Ok(Entry::File {
                mode,
                content: Content::Bytes(std::fs::read(&p)?),
            }),
            e => Ok(e),
        }
    }
}

fn cstr(s: &[u8]) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The uid and gid `user` (`name`, `uid`, `name:group`) has in the container
/// whose root is `root`, from its own /etc/passwd and /etc/group; root when
/// there is no user.
pub fn owner_in(root: RawFd, user: Option<&str>) -> (u32, u32) {
    let Some(user) = user.filter(|u| !u.is_empty()) else {
        return (0, 0);
    };
    let read = |p: &str| -> String {
        open_in_root(root, Path::new(p), libc::O_RDONLY, 0)
            .ok()
            .and_then(|fd| {
                let mut s = String::new();
                File::from(fd).read_to_string(&mut s).ok().map(|_| s)
            })
            .unwrap_or_default()
    };
    match berth_runtime::user::resolve(user, &read("/etc/passwd"), &read("/etc/group")) {
        Ok(id) => (id.uid, id.gid),
        Err(_) => (0, 0),
    }
}

/// Applies changes to the container whose root directory is `root`.
///
/// The directories it writes into stay open for its life: a burst of files
/// in one directory resolves that directory once, not once per file. Only a
/// writer's own changes can make an open directory stale (a removal or a
/// directory replaced by a file), and those drop what they affect; a process
/// in the container that moves a directory meanwhile gets the file in the
/// directory's new place, still inside the container.
pub struct Writer<'a> {
    root: &'a OwnedFd,
    owner: (u32, u32),
    dirs: Mutex<HashMap<String, Arc<OwnedFd>>>,
}

/// Whether container path `p` is `top` or under it.
fn within(p: &str, top: &str) -> bool {
    let top = top.trim_end_matches('/');
    p == top || p.strip_prefix(top).is_some_and(|r| r.starts_with('/'))
}

fn split(path: &str) -> (String, String) {
    let p = path.trim_end_matches('/');
    match p.rsplit_once('/') {
        Some((d, n)) => (if d.is_empty() { "/".into() } else { d.into() }, n.into()),
        None => ("/".into(), p.into()),
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_name() -> String {
    format!(
        ".berth-watch-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl<'a> Writer<'a> {
    /// A writer into `root`, creating files as `owner`.
    pub fn new(root: &'a OwnedFd, owner: (u32, u32)) -> Writer<'a> {
        Writer {
            root,
            owner,
            dirs: Mutex::new(HashMap::new()),
        }
    }

    fn dirs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<OwnedFd>>> {
        self.dirs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets the open directories at or under `path` (about to be removed
    /// or replaced).
    fn forget(&self, path: &str) {
        self.dirs().retain(|d, _| !within(d, path));
    }

    /// Directory `path` in the container, opened (and made) once per writer.
    fn dir(&self, path: &str) -> io::Result<Arc<OwnedFd>> {
        if let Some(fd) = self.dirs().get(path) {
            return Ok(fd.clone());
        }
        let fd = Arc::new(self.ensure_dir(path)?);
        self.dirs().insert(path.to_string(), fd.clone());
        Ok(fd)
    }

    /// Applies one change.
    pub fn apply(&self, op: &Op) -> io::Result<()> {
        let (dir, name) = split(&op.path);
        if name.is_empty() || name == "." || name == ".." {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot sync to {}", op.path),
            ));
        }
        let cname = cstr(name.as_bytes())?;
        if let Entry::Gone = op.entry {
            self.forget(&op.path);
            let parent = match open_in_root(
                self.root.as_raw_fd(),
                Path::new(&dir),
                libc::O_RDONLY | libc::O_DIRECTORY,
                0,
            ) {
                Ok(p) => p,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                    return Ok(())
                }
                Err(e) => return Err(e),
            };
            return remove_entry(parent.as_raw_fd(), &cname);
        }
        let parent = self.dir(&dir)?;
        let pfd = parent.as_raw_fd();
        let existing = lstat_at(pfd, &cname)?.map(|st| kind_of(&st));
        if existing == Some(Kind::Dir) && !matches!(op.entry, Entry::Dir { .. }) {
            // Replaced by a file or a symlink below.
            self.forget(&op.path);
        }
        match &op.entry {
            Entry::Dir { mode } => {
                match existing {
                    Some(Kind::Dir) => return Ok(()),
                    // A symlink the container has to a directory (in its root) is
                    // synced through, as `docker cp` copies a directory onto one
                    // (docker/compose#13795): the link stays.
                    Some(Kind::Symlink)
                        if open_in_root(
                            self.root.as_raw_fd(),
                            Path::new(&op.path),
                            libc::O_RDONLY | libc::O_DIRECTORY,
                            0,
                        )
                        .is_ok() =>
                    {
                        return Ok(())
                    }
                    Some(_) => unlink_at(pfd, &cname)?,
                    None => {}
                }
                match mkdir_at(pfd, &cname, *mode) {
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => return Ok(()),
                    r => r?,
                }
                self.chown(pfd, &cname)?;
                // SAFETY: a valid name in an open directory.
                check(unsafe { libc::fchmodat(pfd, cname.as_ptr(), *mode, 0) })
            }
            Entry::File { mode, content } => {
                let tmp = cstr(temp_name().as_bytes())?;
                let written = (|| -> io::Result<()> {
                    let fd = open_at(
                        pfd,
                        &tmp,
                        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
                        0o600,
                    )?;
                    let mut out = File::from(fd);
                    match content {
                        Content::Path(p) => {
                            let mut src = File::open(p)?;
                            io::copy(&mut src, &mut out)?;
                        }
                        Content::Bytes(b) => io::Write::write_all(&mut out, b)?,
                    }
                    // SAFETY: fchown/fchmod on a descriptor we own; the mode after
                    // the owner, as chown clears setuid.
                    check(unsafe { libc::fchown(out.as_raw_fd(), self.owner.0, self.owner.1) })?;
                    // SAFETY: as above.
                    check(unsafe { libc::fchmod(out.as_raw_fd(), *mode) })?;
                    self.replace(pfd, &tmp, &cname, existing)
                })();
                if written.is_err() {
                    let _ = unlink_at(pfd, &tmp);
                }
                written
            }
            Entry::Symlink(target) => {
                let tmp = cstr(temp_name().as_bytes())?;
                let t = cstr(target.as_os_str().as_bytes())?;
                // SAFETY: valid C strings, an open directory.
                check(unsafe { libc::symlinkat(t.as_ptr(), pfd, tmp.as_ptr()) })?;
                let done = (|| {
                    // SAFETY: as above; never follows the new link.
                    check(unsafe {
                        libc::fchownat(
                            pfd,
                            tmp.as_ptr(),
                            self.owner.0,
                            self.owner.1,
                            libc::AT_SYMLINK_NOFOLLOW,
                        )
                    })?;
                    self.replace(pfd, &tmp, &cname, existing)
                })();
                if done.is_err() {
                    let _ = unlink_at(pfd, &tmp);
                }
                done
            }
            Entry::Gone => unreachable!("handled above"),
        }
    }

    /// Renames `tmp` over `name`; a directory in the way goes first.
    fn replace(
        &self,
        dir: RawFd,
        tmp: &CString,
        name: &CString,
        existing: Option<Kind>,
    ) -> io::Result<()> {
        if existing == Some(Kind::Dir) {
            remove_entry(dir, name)?;
        }
        // SAFETY: valid names in an open directory.
        check(unsafe { libc::renameat(dir, tmp.as_ptr(), dir, name.as_ptr()) })
    }

    fn chown(&self, dir: RawFd, name: &CString) -> io::Result<()> {
        // SAFETY: a valid name in an open directory; never follows a symlink.
        check(unsafe {
            libc::fchownat(
                dir,
                name.as_ptr(),
                self.owner.0,
                self.owner.1,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })
    }

    /// Opens directory `path` in the container, creating what is missing
    /// (owned by the container's user, as docker's copy creates them).
    fn ensure_dir(&self, path: &str) -> io::Result<OwnedFd> {
        let root = self.root.as_raw_fd();
        match open_in_root(root, Path::new(path), libc::O_RDONLY | libc::O_DIRECTORY, 0) {
            Ok(fd) => Ok(fd),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                let (parent, name) = split(path);
                if name.is_empty() {
                    return Err(e);
                }
                let pfd = self.dir(&parent)?;
                let cname = cstr(name.as_bytes())?;
                if let Some(st) = lstat_at(pfd.as_raw_fd(), &cname)? {
                    if kind_of(&st) != Kind::Dir {
                        // A file where the host now has a directory.
                        unlink_at(pfd.as_raw_fd(), &cname)?;
                    }
                }
                match mkdir_at(pfd.as_raw_fd(), &cname, 0o755) {
                    Ok(()) => self.chown(pfd.as_raw_fd(), &cname)?,
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                    Err(e) => return Err(e),
                }
                open_at(
                    pfd.as_raw_fd(),
                    &cname,
                    libc::O_RDONLY | libc::O_DIRECTORY,
                    0,
                )
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the container already has exactly what `entry` describes at
    /// `path` (content, not just names), so a reconcile can leave it alone.
    pub fn same(&self, path: &str, entry: &Entry) -> bool {
        let root = self.root.as_raw_fd();
        let fd = match open_in_root(root, Path::new(path), libc::O_PATH | libc::O_NOFOLLOW, 0) {
            Ok(fd) => fd,
            Err(_) => return matches!(entry, Entry::Gone),
        };
        let Ok(st) = fstat(&fd) else { return false };
        match (entry, kind_of(&st)) {
            (Entry::Gone, _) => false,
            (Entry::Dir { .. }, Kind::Dir) => true,
            (Entry::Symlink(t), Kind::Symlink) => {
                crate::engine::cp::sys::readlink_at(fd.as_raw_fd(), c"")
                    .is_ok_and(|have| Path::new(&have) == t)
            }
            (Entry::File { mode, content }, Kind::File) => {
                if st.st_mode & 0o7777 != *mode || (st.st_uid, st.st_gid) != self.owner {
                    return false;
                }
                let Ok(file) = open_in_root(root, Path::new(path), libc::O_RDONLY, 0) else {
                    return false;
                };
                same_content(File::from(file), st.st_size as u64, content)
            }
            _ => false,
        }
    }
}

fn same_content(mut have: File, size: u64, want: &Content) -> bool {
    match want {
        Content::Bytes(b) => {
            if b.len() as u64 != size {
                return false;
            }
            let mut buf = Vec::with_capacity(b.len());
            have.read_to_end(&mut buf).is_ok() && &buf == b
        }
        Content::Path(p) => {
            let Ok(mut src) = File::open(p) else {
                return false;
            };
            if src.metadata().map(|m| m.len()).ok() != Some(size) {
                return false;
            }
            let (mut a, mut b) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
            loop {
                let n = match src.read(&mut a) {
                    Ok(n) => n,
                    Err(_) => return false,
                };
                if n == 0 {
                    return have.read(&mut b[..1]).is_ok_and(|m| m == 0);
                }
                if have.read_exact(&mut b[..n]).is_err() || a[..n] != b[..n] {
                    return false;
                }
            }
        }
    }
}

/// Removes `name` from `dir`, a whole tree if it is a directory.
fn remove_entry(dir: RawFd, name: &CString) -> io::Result<()> {
    let Some(st) = lstat_at(dir, name)? else {
        return Ok(());
    };
    if kind_of(&st) == Kind::Dir {
        let sub = open_at(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        for child in list_dir(&sub)? {
            remove_entry(sub.as_raw_fd(), &child)?;
        }
        // SAFETY: a valid name in an open directory.
        match check(unsafe { libc::unlinkat(dir, name.as_ptr(), libc::AT_REMOVEDIR) }) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            r => r,
        }
    } else {
        match unlink_at(dir, name) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            r => r,
        }
    }
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> io::Result<(File, File)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 just gave us these; nothing else owns them.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// Opens `/proc/<pid>/root`: the root directory the container's init sees,
/// with the container's mounts (volumes, bind mounts) under it.
pub fn proc_root(pid: u32) -> io::Result<OwnedFd> {
    let p = cstr(format!("/proc/{pid}/root").as_bytes())?;
    // SAFETY: a plain open of a valid C string.
    let fd = unsafe {
        libc::open(
            p.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: open just returned it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_of(dir: &Path) -> OwnedFd {
        File::open(dir).unwrap().into()
    }

    #[test]
    fn writes_replace_delete_and_never_leave_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let (host, ctr) = (tmp.path().join("host"), tmp.path().join("ctr"));
        std::fs::create_dir_all(&host).unwrap();
        std::fs::create_dir_all(ctr.join("app")).unwrap();
        std::fs::write(host.join("a"), "one").unwrap();
        let root = root_of(&ctr);
        let w = Writer::new(&root, (0, 0));
        let op = |p: &str, e: Entry| Op {
            path: p.into(),
            entry: e,
        };
        w.apply(&op("/app/deep/a", host_entry(&host.join("a"))))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(ctr.join("app/deep/a")).unwrap(),
            "one"
        );
        assert!(w.same("/app/deep/a", &host_entry(&host.join("a"))));
        std::fs::write(host.join("a"), "two!").unwrap();
        assert!(!w.same("/app/deep/a", &host_entry(&host.join("a"))));
        w.apply(&op("/app/deep/a", host_entry(&host.join("a"))))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(ctr.join("app/deep/a")).unwrap(),
            "two!"
        );
        // A symlink in the container pointing out of it stays inside.
        std::os::unix::fs::symlink("/", ctr.join("app/escape")).unwrap();
        let outside = tmp.path().join("outside-file");
        w.apply(&op("/app/escape/outside-file", host_entry(&host.join("a"))))
            .unwrap();
        assert!(!outside.exists());
        assert!(ctr.join("outside-file").exists());
        w.apply(&op("/app/deep", Entry::Gone)).unwrap();
        assert!(!ctr.join("app/deep").exists());
        let leftovers: Vec<_> = std::fs::read_dir(ctr.join("app"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".berth-watch"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
