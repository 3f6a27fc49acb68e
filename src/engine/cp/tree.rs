//! Writing a file tree as a tar stream, walking it by directory descriptor:
//! symlinks are stored as links, hard links once, devices and fifos as nodes,
//! sockets left out; modes, owners and mtimes kept.

use std::collections::HashMap;
use std::ffi::{CStr, OsStr};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::sys::{fstat, list_dir, lstat_at, open_at, readlink_at};

/// Walks one tree into a tar builder.
struct Walker<W: Write> {
    tar: tar::Builder<W>,
    /// (dev, ino) of files with more than one link → their first name in the archive.
    links: HashMap<(u64, u64), PathBuf>,
}

/// Writes `name` (in the directory `parent`) and everything under it to `out`,
/// named `top` in the archive (`.` for a directory's contents).
pub fn write_tree<W: Write>(out: W, parent: &OwnedFd, name: &CStr, top: &str) -> io::Result<W> {
    let mut w = Walker {
        tar: tar::Builder::new(out),
        links: HashMap::new(),
    };
    w.add(parent, name, Path::new(top))?;
    w.tar.into_inner()
}

fn header(st: &libc::stat, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

impl<W: Write> Walker<W> {
    fn add(&mut self, dir: &OwnedFd, name: &CStr, path: &Path) -> io::Result<()> {
        let Some(st) = lstat_at(dir.as_raw_fd(), name)? else {
            // Gone since the directory was listed.
            return Ok(());
        };
        let at = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                let mut h = header(&st, tar::EntryType::Directory);
                self.tar
                    .append_data(&mut h, path, io::empty())
                    .map_err(at)?;
                let sub = open_at(dir.as_raw_fd(), name, libc::O_RDONLY | libc::O_DIRECTORY, 0)
                    .map_err(at)?;
                for child in list_dir(&sub).map_err(at)? {
                    let p = path.join(OsStr::from_bytes(child.as_bytes()));
                    self.add(&sub, &child, &p)?;
                }
            }
            libc::S_IFREG => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key) {
                        let mut h = header(&st, tar::EntryType::Link);
                        let first = first.clone();
                        return self.tar.append_link(&mut h, path, first).map_err(at);
                    }
                    self.links.insert(key, path.to_path_buf());
                }
                // O_NONBLOCK: were it swapped for a fifo, opening must not hang.
                let fd = open_at(dir.as_raw_fd(), name, libc::O_RDONLY | libc::O_NONBLOCK, 0)
                    .map_err(at)?;
                let now = fstat(&fd).map_err(at)?;
                if now.st_mode & libc::S_IFMT != libc::S_IFREG {
                    return Ok(());
                }
                let mut h = header(&now, tar::EntryType::Regular);
                h.set_size(now.st_size as u64);
                let file = std::fs::File::from(fd);
                // A file that shrinks while read is padded: the header already said its size.
                let body = file.take(now.st_size as u64).chain(io::repeat(0));
                self.tar
                    .append_data(&mut h, path, body.take(now.st_size as u64))
                    .map_err(at)?;
            }
            libc::S_IFLNK => {
                let target = readlink_at(dir.as_raw_fd(), name).map_err(at)?;
                let mut h = header(&st, tar::EntryType::Symlink);
                self.tar.append_link(&mut h, path, &target).map_err(at)?;
            }
            t @ (libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO) => {
                let kind = match t {
                    libc::S_IFCHR => tar::EntryType::Char,
                    libc::S_IFBLK => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                };
                let mut h = header(&st, kind);
                h.set_device_major(libc::major(st.st_rdev))?;
                h.set_device_minor(libc::minor(st.st_rdev))?;
                self.tar
                    .append_data(&mut h, path, io::empty())
                    .map_err(at)?;
            }
            // Sockets have no place in an archive (docker leaves them out too).
            _ => {}
        }
        Ok(())
    }
}
