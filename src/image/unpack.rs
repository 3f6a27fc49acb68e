//! Streaming layer unpacking that can never write outside the layer directory.
//!
//! Every path is resolved one component at a time from a directory file descriptor
//! with `O_NOFOLLOW`, so neither `..`, nor absolute paths, nor a symlink or hardlink
//! planted by an earlier entry can lead a later write out of the tree, whatever order
//! the entries come in. `Path::join` is never trusted with archive names.
//!
//! Whiteouts are converted to overlayfs's own format, as containerd's overlay
//! snapshotter does: `.wh.NAME` becomes a 0/0 character device `NAME`, and
//! `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its directory.

use super::digest::{Digest, HashingReader};
use super::oci::Compression;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Why a layer could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The archive tried to leave the layer directory or was otherwise unsafe.
    #[error("refusing archive entry {path:?}: {reason}")]
    Unsafe {
        /// The entry name as in the archive.
        path: String,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A filesystem operation on an entry failed.
    #[error("{op} {path:?}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The entry name.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// The tar (or compressed) stream was malformed.
    #[error("reading layer archive: {0}")]
    Stream(#[source] io::Error),
}

type Result<T> = std::result::Result<T, UnpackError>;

const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const WHITEOUT_PREFIX: &[u8] = b".wh.";

/// Detects gzip/zstd by magic bytes and returns a reader of the plain tar stream.
pub fn decompress<'a>(r: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut br = BufReader::with_capacity(256 * 1024, r);
    let head = br.fill_buf()?;
    Ok(match Compression::sniff(head) {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(br)?),
        Compression::None => Box::new(br),
    })
}

/// Unpacks a tar stream that may be gzip or zstd compressed into `dest`, and returns
/// the digest of the uncompressed tar (the layer's diff id).
pub fn unpack_compressed(r: impl Read, dest: &Path) -> Result<Digest> {
    let plain = decompress(r).map_err(UnpackError::Stream)?;
    let mut hashing = HashingReader::new(plain);
    unpack(&mut hashing, dest)?;
    // Read past the end-of-archive blocks so the digest covers the whole tar.
    let (digest, _) = hashing.drain_and_finish().map_err(UnpackError::Stream)?;
    Ok(digest)
}

fn cstr(b: &[u8], path: &str) -> Result<CString> {
    CString::new(b).map_err(|_| UnpackError::Unsafe {
        path: path.into(),
        reason: "name contains a NUL byte",
    })
}

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Splits an archive name into components, refusing absolute paths and `..`.
fn components<'a>(name: &'a [u8], shown: &str) -> Result<Vec<&'a [u8]>> {
    if name.first() == Some(&b'/') {
        return Err(UnpackError::Unsafe {
            path: shown.into(),
            reason: "absolute path",
        });
    }
    let mut out = Vec::new();
    for c in name.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                return Err(UnpackError::Unsafe {
                    path: shown.into(),
                    reason: "path contains ..",
                })
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

fn openat_dir(dir: RawFd, name: &CString) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall on a valid fd and NUL-terminated name.
    let fd = unsafe {
        libc::openat(
            dir,
            name.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        Err(last_err())
    } else {
        // SAFETY: the fd was just returned by openat and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// The layer directory, with path resolution that stays inside it.
struct Root {
    fd: OwnedFd,
}

impl Root {
    /// Opens the directory holding the last component of `comps`, creating missing
    /// directories on the way when `create`. A symlink on the way is an error:
    /// `O_NOFOLLOW` refuses it instead of following it out of the tree.
    fn parent(&self, comps: &[&[u8]], shown: &str, create: bool) -> Result<OwnedFd> {
        let mut cur = self.fd.try_clone().map_err(|e| UnpackError::Io {
            op: "dup",
            path: shown.into(),
            source: e,
        })?;
        for c in &comps[..comps.len().saturating_sub(1)] {
            let name = cstr(c, shown)?;
            let next = match openat_dir(cur.as_raw_fd(), &name) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) && create => {
                    // SAFETY: plain syscall on a valid fd and NUL-terminated name.
                    if unsafe { libc::mkdirat(cur.as_raw_fd(), name.as_ptr(), 0o755) } < 0 {
                        let e = last_err();
                        if e.raw_os_error() != Some(libc::EEXIST) {
                            return Err(UnpackError::Io {
                                op: "mkdir",
                                path: shown.into(),
                                source: e,
                            });
                        }
                    }
                    let fd = openat_dir(cur.as_raw_fd(), &name).map_err(|e| classify(e, shown))?;
                    // Implicit parents are 0755 as docker makes them, whatever our umask.
                    // SAFETY: fchmod on a descriptor we own.
                    unsafe { libc::fchmod(fd.as_raw_fd(), 0o755) };
                    fd
                }
                Err(e) => return Err(classify(e, shown)),
            };
            cur = next;
        }
        Ok(cur)
    }
}

fn classify(e: io::Error, shown: &str) -> UnpackError {
    match e.raw_os_error() {
        Some(libc::ELOOP) => UnpackError::Unsafe {
            path: shown.into(),
            reason: "path goes through a symlink",
        },
        Some(libc::ENOTDIR) => UnpackError::Unsafe {
            path: shown.into(),
            reason: "path goes through a non-directory",
        },
        _ => UnpackError::Io {
            op: "open",
            path: shown.into(),
            source: e,
        },
    }
}

/// What is at `name` in `dir`, without following symlinks.
fn lstat_at(dir: RawFd, name: &CString) -> Option<libc::stat> {
    // SAFETY: stat is plain data; fstatat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd, NUL-terminated name, valid out pointer.
    let r = unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    (r == 0).then_some(st)
}

/// Removes whatever is at `name` in `dir` (a whole tree for a directory).
fn remove_at(dir: RawFd, name: &CString, shown: &str) -> Result<()> {
    let Some(st) = lstat_at(dir, name) else {
        return Ok(());
    };
    let io = |source| UnpackError::Io {
        op: "remove",
        path: shown.into(),
        source,
    };
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        // std's remove_dir_all opens each level with O_NOFOLLOW (CVE-2022-21658 fix);
        // the /proc magic link pins the parent we resolved by descriptor.
        let p = format!("/proc/self/fd/{dir}/");
        let mut path = std::path::PathBuf::from(p);
        path.push(std::ffi::OsStr::from_bytes(name.as_bytes()));
        std::fs::remove_dir_all(&path).map_err(io)
    } else {
        // SAFETY: valid fd and name.
        if unsafe { libc::unlinkat(dir, name.as_ptr(), 0) } < 0 {
            return Err(io(last_err()));
        }
        Ok(())
    }
}

struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    xattrs: Vec<(CString, Vec<u8>)>,
}

fn times(mtime: i64) -> [libc::timespec; 2] {
    [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: mtime as libc::time_t,
            tv_nsec: 0,
        },
    ]
}

/// Tolerates missing privileges when not root (ownership, trusted xattrs, devices).
fn check(r: libc::c_int, op: &'static str, shown: &str) -> Result<()> {
    if r < 0 {
        let e = last_err();
        if e.raw_os_error() == Some(libc::EPERM) && !is_root() {
            return Ok(());
        }
        return Err(UnpackError::Io {
            op,
            path: shown.into(),
            source: e,
        });
    }
    Ok(())
}

/// Applies ownership, mode, xattrs and mtime to an open file or directory.
fn apply_fd(fd: RawFd, m: &Meta, shown: &str, set_mtime: bool) -> Result<()> {
    // SAFETY: plain syscalls on a valid fd.
    unsafe {
        check(libc::fchown(fd, m.uid, m.gid), "chown", shown)?;
        // After chown, which clears setuid/setgid bits.
        check(libc::fchmod(fd, m.mode & 0o7777), "chmod", shown)?;
        for (k, v) in &m.xattrs {
            check(
                libc::fsetxattr(fd, k.as_ptr(), v.as_ptr().cast(), v.len(), 0),
                "setxattr",
                shown,
            )?;
        }
        if set_mtime {
            let t = times(m.mtime);
            check(libc::futimens(fd, t.as_ptr()), "utimes", shown)?;
        }
    }
    Ok(())
}

/// Applies ownership and mtime to a symlink or special file by name, never following it.
fn apply_at(dir: RawFd, name: &CString, m: &Meta, chmod: bool, shown: &str) -> Result<()> {
    // SAFETY: plain syscalls on a valid fd and NUL-terminated name.
    unsafe {
        check(
            libc::fchownat(dir, name.as_ptr(), m.uid, m.gid, libc::AT_SYMLINK_NOFOLLOW),
            "chown",
            shown,
        )?;
        if chmod {
            // The node was just created by us in a directory only we write; it is not a symlink.
            check(
                libc::fchmodat(dir, name.as_ptr(), m.mode & 0o7777, 0),
                "chmod",
                shown,
            )?;
        }
        let t = times(m.mtime);
        check(
            libc::utimensat(dir, name.as_ptr(), t.as_ptr(), libc::AT_SYMLINK_NOFOLLOW),
            "utimes",
            shown,
        )?;
    }
    Ok(())
}

/// Bytes written between writeback kicks.
pub(crate) const WRITEBACK_CHUNK: u64 = 8 << 20;

/// Starts (does not wait for) writeback of a file's dirty pages, so that the final
/// sync before a layer or blob is published finds little left to write.
pub(crate) fn start_writeback(fd: RawFd) {
    // SAFETY: sync_file_range on a valid descriptor; failure only loses the hint.
    unsafe { libc::sync_file_range(fd, 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
}

fn copy_with_writeback(r: &mut impl Read, f: &mut File) -> io::Result<u64> {
    let mut buf = vec![0u8; 128 * 1024];
    let (mut total, mut kicked) = (0u64, 0u64);
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        io::Write::write_all(f, &buf[..n])?;
        total += n as u64;
        if total - kicked >= WRITEBACK_CHUNK {
            start_writeback(f.as_raw_fd());
            kicked = total;
        }
    }
}

fn pax_u32(ext: &[(String, Vec<u8>)], key: &str) -> Option<u32> {
    ext.iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.trim().parse().ok())
}

/// Unpacks a plain tar stream into `dest` (an existing, empty directory).
pub fn unpack(r: impl Read, dest: &Path) -> Result<()> {
    let dest_file = File::open(dest).map_err(|e| UnpackError::Io {
        op: "open",
        path: dest.display().to_string(),
        source: e,
    })?;
    let root = Root {
        fd: OwnedFd::from(dest_file),
    };
    let mut archive = tar::Archive::new(r);
    let mut dir_times: Vec<(Vec<Vec<u8>>, i64)> = Vec::new();
    for entry in archive.entries().map_err(UnpackError::Stream)? {
        let mut entry = entry.map_err(UnpackError::Stream)?;
        let raw_name = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_name).into_owned();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let comps = components(&raw_name, &shown)?;
        let Some(&base) = comps.last() else {
            // The layer root itself ("./"): nothing to create.
            continue;
        };
        let parent = root.parent(&comps, &shown, true)?;
        let pfd = parent.as_raw_fd();

        if base == OPAQUE_MARKER {
            let v = b"y";
            let k = c"trusted.overlay.opaque";
            // SAFETY: valid fd, NUL-terminated name, value buffer of the given length.
            check(
                unsafe { libc::fsetxattr(pfd, k.as_ptr(), v.as_ptr().cast(), v.len(), 0) },
                "setxattr",
                &shown,
            )?;
            continue;
        }
        if let Some(target) = base.strip_prefix(WHITEOUT_PREFIX) {
            if target.starts_with(WHITEOUT_PREFIX) {
                // Other aufs metadata (.wh..wh.plnk and friends) has no meaning for overlay.
                continue;
            }
            if target.is_empty() || target == b"." || target == b".." {
                return Err(UnpackError::Unsafe {
                    path: shown,
                    reason: "whiteout of an invalid name",
                });
            }
            let name = cstr(target, &shown)?;
            remove_at(pfd, &name, &shown)?;
            // SAFETY: valid fd and NUL-terminated name.
            let r =
                unsafe { libc::mknodat(pfd, name.as_ptr(), libc::S_IFCHR, libc::makedev(0, 0)) };
            check(r, "mknod", &shown)?;
            continue;
        }

        let name = cstr(base, &shown)?;
        let ext: Vec<(String, Vec<u8>)> =
            match entry.pax_extensions().map_err(UnpackError::Stream)? {
                Some(exts) => exts
                    .filter_map(|e| e.ok())
                    .filter_map(|e| Some((e.key().ok()?.to_string(), e.value_bytes().to_vec())))
                    .collect(),
                None => Vec::new(),
            };
        let h = entry.header().clone();
        let mut xattrs = Vec::new();
        for (k, v) in &ext {
            if let Some(x) = k.strip_prefix("SCHILY.xattr.") {
                // An image must not forge overlay metadata (opaque dirs, redirects).
                if x.starts_with("trusted.overlay.") {
                    continue;
                }
                xattrs.push((cstr(x.as_bytes(), &shown)?, v.clone()));
            }
        }
        let meta = Meta {
            mode: h.mode().unwrap_or(0o644),
            uid: pax_u32(&ext, "uid")
                .or_else(|| h.uid().ok().map(|u| u as u32))
                .unwrap_or(0),
            gid: pax_u32(&ext, "gid")
                .or_else(|| h.gid().ok().map(|g| g as u32))
                .unwrap_or(0),
            mtime: h.mtime().unwrap_or(0) as i64,
            xattrs,
        };
        let io = |op: &'static str, shown: &str| {
            let source = last_err();
            UnpackError::Io {
                op,
                path: shown.to_string(),
                source,
            }
        };

        match kind {
            tar::EntryType::Directory => {
                let existing = lstat_at(pfd, &name);
                let mut replaces_whiteout = false;
                if let Some(st) = existing {
                    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                        replaces_whiteout =
                            st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == 0;
                        remove_at(pfd, &name, &shown)?;
                    }
                }
                // SAFETY: valid fd and NUL-terminated name.
                if unsafe { libc::mkdirat(pfd, name.as_ptr(), 0o755) } < 0
                    && last_err().raw_os_error() != Some(libc::EEXIST)
                {
                    return Err(io("mkdir", &shown));
                }
                let dfd = openat_dir(pfd, &name).map_err(|e| classify(e, &shown))?;
                apply_fd(dfd.as_raw_fd(), &meta, &shown, false)?;
                if replaces_whiteout {
                    // Deleted then recreated in this layer: the lower directory's content
                    // must stay hidden, which overlay expresses with an opaque directory.
                    let (k, v) = (c"trusted.overlay.opaque", b"y");
                    // SAFETY: valid fd, NUL-terminated name, value buffer of the given length.
                    let r = unsafe {
                        libc::fsetxattr(dfd.as_raw_fd(), k.as_ptr(), v.as_ptr().cast(), v.len(), 0)
                    };
                    check(r, "setxattr", &shown)?;
                }
                // Directory mtimes are set at the end: later entries would change them.
                dir_times.push((comps.iter().map(|c| c.to_vec()).collect(), meta.mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                remove_at(pfd, &name, &shown)?;
                // O_EXCL|O_NOFOLLOW: we write only into a file we just created, never
                // through a symlink or an existing hardlink.
                // SAFETY: valid fd and NUL-terminated name.
                let fd = unsafe {
                    libc::openat(
                        pfd,
                        name.as_ptr(),
                        libc::O_WRONLY
                            | libc::O_CREAT
                            | libc::O_EXCL
                            | libc::O_NOFOLLOW
                            | libc::O_CLOEXEC,
                        0o600,
                    )
                };
                if fd < 0 {
                    return Err(io("create", &shown));
                }
                // SAFETY: fd was just returned by openat and is ours.
                let mut f = unsafe { File::from_raw_fd(fd) };
                copy_with_writeback(&mut entry, &mut f).map_err(UnpackError::Stream)?;
                apply_fd(f.as_raw_fd(), &meta, &shown, true)?;
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().ok_or(UnpackError::Unsafe {
                    path: shown.clone(),
                    reason: "symlink without target",
                })?;
                let target = cstr(&target, &shown)?;
                remove_at(pfd, &name, &shown)?;
                // The target is stored, never followed by the unpacker, so it may point anywhere.
                // SAFETY: valid fd and NUL-terminated strings.
                if unsafe { libc::symlinkat(target.as_ptr(), pfd, name.as_ptr()) } < 0 {
                    return Err(io("symlink", &shown));
                }
                apply_at(pfd, &name, &meta, false, &shown)?;
            }
            tar::EntryType::Link => {
                let target = entry.link_name_bytes().ok_or(UnpackError::Unsafe {
                    path: shown.clone(),
                    reason: "hardlink without target",
                })?;
                let tshown = String::from_utf8_lossy(&target).into_owned();
                let tcomps = components(&target, &shown).map_err(|_| UnpackError::Unsafe {
                    path: shown.clone(),
                    reason: "hardlink target outside the layer",
                })?;
                let Some(&tbase) = tcomps.last() else {
                    return Err(UnpackError::Unsafe {
                        path: shown,
                        reason: "hardlink to the layer root",
                    });
                };
                let tparent = root.parent(&tcomps, &tshown, false).map_err(|e| match e {
                    UnpackError::Unsafe { .. } => UnpackError::Unsafe {
                        path: shown.clone(),
                        reason: "hardlink target through a symlink",
                    },
                    other => other,
                })?;
                let tname = cstr(tbase, &shown)?;
                if tcomps == comps {
                    continue;
                }
                remove_at(pfd, &name, &shown)?;
                // flags 0: link the entry itself (a symlink stays a symlink), never what it points to.
                // SAFETY: valid fds and NUL-terminated names.
                if unsafe {
                    libc::linkat(tparent.as_raw_fd(), tname.as_ptr(), pfd, name.as_ptr(), 0)
                } < 0
                {
                    return Err(io("link", &shown));
                }
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let (fmt, dev) = match kind {
                    tar::EntryType::Char => (libc::S_IFCHR, true),
                    tar::EntryType::Block => (libc::S_IFBLK, true),
                    _ => (libc::S_IFIFO, false),
                };
                let (maj, min) = if dev {
                    (
                        h.device_major().ok().flatten().unwrap_or(0),
                        h.device_minor().ok().flatten().unwrap_or(0),
                    )
                } else {
                    (0, 0)
                };
                remove_at(pfd, &name, &shown)?;
                // SAFETY: valid fd and NUL-terminated name.
                let r = unsafe {
                    libc::mknodat(
                        pfd,
                        name.as_ptr(),
                        fmt | (meta.mode & 0o7777),
                        libc::makedev(maj, min),
                    )
                };
                if r < 0 {
                    let e = last_err();
                    if dev && e.raw_os_error() == Some(libc::EPERM) && !is_root() {
                        continue;
                    }
                    return Err(UnpackError::Io {
                        op: "mknod",
                        path: shown,
                        source: e,
                    });
                }
                apply_at(pfd, &name, &meta, true, &shown)?;
            }
            // Unknown types (GNU volume headers and the like) carry nothing to create.
            _ => {}
        }
    }
    for (comps, mtime) in dir_times.iter().rev() {
        let refs: Vec<&[u8]> = comps.iter().map(|c| c.as_slice()).collect();
        let shown = String::from_utf8_lossy(&comps.join(&b'/')).into_owned();
        let Ok(parent) = root.parent(&refs, &shown, false) else {
            continue;
        };
        let name = cstr(refs[refs.len() - 1], &shown)?;
        let t = times(*mtime);
        // SAFETY: valid fd, NUL-terminated name, two timespecs.
        unsafe {
            libc::utimensat(
                parent.as_raw_fd(),
                name.as_ptr(),
                t.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
    }
    drop(archive);
    Ok(())
}

/// Whether `dir` carries the opaque mark this unpacking gives a directory a
/// layer replaced (`trusted.overlay.opaque=y`, from `.wh..wh..opq`); read where
/// the layers are walked without the kernel's overlay (image volumes, build diffs).
pub fn is_opaque(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut buf = [0u8; 1];
    // SAFETY: lgetxattr with a NUL-terminated path and name, into a buffer of the given size.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    n == 1 && buf[0] == b'y'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_xattrs_but_never_overlay_ones() {
        let mut b = tar::Builder::new(Vec::new());
        b.append_pax_extensions([
            ("SCHILY.xattr.user.berth", &b"yes"[..]),
            ("SCHILY.xattr.trusted.overlay.opaque", &b"y"[..]),
        ])
        .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o750);
        h.set_size(0);
        h.set_mtime(1_000_000_000);
        b.append_data(&mut h, "d/", &[][..]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        unpack(&b.into_inner().unwrap()[..], dir.path()).unwrap();
        let get = |name: &str| {
            let p = CString::new(dir.path().join("d").as_os_str().as_bytes()).unwrap();
            let n = CString::new(name).unwrap();
            let mut buf = [0u8; 16];
            // SAFETY: valid strings and buffer.
            let r = unsafe {
                libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            };
            (r >= 0).then(|| buf[..r as usize].to_vec())
        };
        assert_eq!(get("user.berth").as_deref(), Some(&b"yes"[..]));
        assert_eq!(get("trusted.overlay.opaque"), None);
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let m = std::fs::metadata(dir.path().join("d")).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o750);
        assert_eq!(m.mtime(), 1_000_000_000);
    }

    #[test]
    fn a_directory_recreated_after_its_whiteout_is_opaque() {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind) in [
            (".wh.d", tar::EntryType::Regular),
            ("d/", tar::EntryType::Directory),
        ] {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(kind);
            h.set_mode(0o755);
            h.set_size(0);
            b.append_data(&mut h, name, &[][..]).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        unpack(&b.into_inner().unwrap()[..], dir.path()).unwrap();
        let p = CString::new(dir.path().join("d").as_os_str().as_bytes()).unwrap();
        let mut buf = [0u8; 4];
        // SAFETY: valid strings and buffer.
        let r = unsafe {
            libc::lgetxattr(
                p.as_ptr(),
                c"trusted.overlay.opaque".as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        assert_eq!(r, 1);
        assert!(dir.path().join("d").is_dir());
    }

    #[test]
    fn components_refuse_escapes() {
        assert!(components(b"/etc/passwd", "").is_err());
        assert!(components(b"a/../../b", "").is_err());
        assert_eq!(
            components(b"./a//b/.", "").unwrap(),
            vec![&b"a"[..], &b"b"[..]]
        );
    }
}
