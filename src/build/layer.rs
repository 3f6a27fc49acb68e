//! From a step's overlay upper directory to an OCI layer in the image store.
//!
//! The upper dir is the layer: overlayfs wrote every change there, deletions as
//! 0/0 character devices and replaced directories marked `trusted.overlay.opaque=y`.
//! The tar for the blob turns those into the OCI forms (`.wh.NAME`,
//! `.wh..wh..opq`), and the directory itself becomes the unpacked layer
//! (`<root>/layers/<chain-id>/diff`, the form the store unpacks pulled layers
//! into), renamed into place: nothing just made is unpacked again.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::image::digest::Digest;
use crate::image::store::{chain_ids, Store, StoreError};

/// Why a layer could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// Reading the upper dir failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Where.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The store refused the blob or the layer.
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T> = std::result::Result<T, LayerError>;

fn at<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LayerError + 'a {
    move |source| LayerError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// A layer in the store: the blob (an uncompressed tar, so blob digest = diff id).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerRef {
    /// The blob digest, also the diff id (uncompressed).
    pub digest: Digest,
    /// The blob size.
    pub size: u64,
}

/// Whether an upper dir holds no change at all.
pub fn is_empty(upper: &Path) -> Result<bool> {
    Ok(fs::read_dir(upper)
        .map_err(at("read", upper))?
        .next()
        .is_none())
}

fn file_caps(path: &Path) -> Option<Vec<u8>> {
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut buf = [0u8; 64];
    // SAFETY: lgetxattr with a NUL-terminated path and name, into a buffer of the length passed.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            c"security.capability".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n > 0).then(|| buf[..n as usize].to_vec())
}

struct TarWriter<'a, W: Write> {
    b: tar::Builder<W>,
    links: HashMap<(u64, u64), String>,
    root: &'a Path,
}

impl<W: Write> TarWriter<'_, W> {
    fn header(m: &fs::Metadata, kind: tar::EntryType) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(m.mode() & 0o7777);
        h.set_uid(m.uid() as u64);
        h.set_gid(m.gid() as u64);
        h.set_mtime(m.mtime().max(0) as u64);
        h.set_size(0);
        h
    }

    fn walk(&mut self, rel: &str) -> Result<()> {
        let dir = if rel.is_empty() {
            self.root.to_path_buf()
        } else {
            self.root.join(rel)
        };
        let mut names: Vec<_> = fs::read_dir(&dir)
            .map_err(at("read", &dir))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for n in names {
            let name = n.to_string_lossy().into_owned();
            let rel_n = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let path = dir.join(&n);
            let m = fs::symlink_metadata(&path).map_err(at("stat", &path))?;
            let ft = m.file_type();
            let err = |e: io::Error| LayerError::Io {
                op: "write layer entry",
                path: path.clone(),
                source: e,
            };
            if ft.is_char_device() && m.rdev() == 0 {
                // An overlay whiteout: the OCI form is an empty `.wh.NAME` file.
                let wh = if rel.is_empty() {
                    format!(".wh.{name}")
                } else {
                    format!("{rel}/.wh.{name}")
                };
                let mut h = Self::header(&m, tar::EntryType::Regular);
                h.set_mode(0o644);
                self.b.append_data(&mut h, &wh, io::empty()).map_err(err)?;
                continue;
            }
            if ft.is_dir() {
                let mut h = Self::header(&m, tar::EntryType::Directory);
                self.b
                    .append_data(&mut h, format!("{rel_n}/"), io::empty())
                    .map_err(err)?;
                if crate::image::unpack::is_opaque(&path) {
                    let mut h = Self::header(&m, tar::EntryType::Regular);
                    h.set_mode(0o644);
                    self.b
                        .append_data(&mut h, format!("{rel_n}/.wh..wh..opq"), io::empty())
                        .map_err(err)?;
                }
                self.walk(&rel_n)?;
                continue;
            }
            if m.nlink() > 1 && !ft.is_dir() {
                let key = (m.dev(), m.ino());
                if let Some(first) = self.links.get(&key) {
                    let mut h = Self::header(&m, tar::EntryType::Link);
                    self.b.append_link(&mut h, &rel_n, first).map_err(err)?;
                    continue;
                }
                self.links.insert(key, rel_n.clone());
            }
            if ft.is_symlink() {
                let target = fs::read_link(&path).map_err(at("readlink", &path))?;
                let mut h = Self::header(&m, tar::EntryType::Symlink);
                self.b.append_link(&mut h, &rel_n, &target).map_err(err)?;
            } else if ft.is_file() {
                if let Some(caps) = file_caps(&path) {
                    self.b
                        .append_pax_extensions([("SCHILY.xattr.security.capability", &caps[..])])
                        .map_err(err)?;
                }
                let f = open_nofollow(&path).map_err(at("open", &path))?;
                let mut h = Self::header(&m, tar::EntryType::Regular);
                h.set_size(m.len());
                self.b.append_data(&mut h, &rel_n, f).map_err(err)?;
            } else {
                let kind = if ft.is_fifo() {
                    tar::EntryType::Fifo
                } else if ft.is_char_device() {
                    tar::EntryType::Char
                } else if ft.is_block_device() {
                    tar::EntryType::Block
                } else {
                    continue; // sockets are not archived
                };
                let mut h = Self::header(&m, kind);
                let rdev = m.rdev();
                h.set_device_major(libc::major(rdev)).map_err(err)?;
                h.set_device_minor(libc::minor(rdev)).map_err(err)?;
                self.b
                    .append_data(&mut h, &rel_n, io::empty())
                    .map_err(err)?;
            }
        }
        Ok(())
    }
}

fn open_nofollow(p: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(p)
}

/// Writes the OCI tar of `upper` into any writer.
pub fn write_tar(upper: &Path, w: impl Write) -> Result<()> {
    let mut t = TarWriter {
        b: tar::Builder::new(w),
        links: HashMap::new(),
        root: upper,
    };
    t.b.mode(tar::HeaderMode::Complete);
    t.walk("")?;
    t.b.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(at("finish layer tar", upper))?;
    Ok(())
}

/// Stores `upper` as the layer on top of `parent_diff_ids`: the tar as a blob, the
/// directory itself as the unpacked layer. `upper` is consumed (renamed away).
pub fn commit(store: &Store, upper: &Path, parent_diff_ids: &[Digest]) -> Result<LayerRef> {
    let mut ing = store.begin_ingest()?;
    write_tar(upper, &mut ing)?;
    let (digest, size) = ing.commit(None, None)?;
    let mut diff_ids = parent_diff_ids.to_vec();
    diff_ids.push(digest.clone());
    let chain = chain_ids(&diff_ids).pop().expect("one layer at least");
    let final_diff = store.layer_dir(&chain);
    let final_dir = final_diff
        .parent()
        .expect("layer dir has a parent")
        .to_path_buf();
    if final_diff.is_dir() {
        // The same change on the same parents was stored before: keep that one.
        let _ = fs::remove_dir_all(upper);
        return Ok(LayerRef { digest, size });
    }
    let layers = final_dir.parent().expect("layers dir");
    // Unique per step (two stages may make the same layer at the same time).
    let scratch_name = upper
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = layers.join(format!(".tmp-build-{}-{scratch_name}", chain.short()));
    fs::create_dir(&tmp).map_err(at("create", &tmp))?;
    let res = (|| {
        fs::rename(upper, tmp.join("diff")).map_err(at("rename", upper))?;
        fs::write(tmp.join("diff-id"), digest.to_string()).map_err(at("write", &tmp))?;
        sync_fs(&tmp)?;
        match fs::rename(&tmp, &final_dir) {
            Ok(()) => Ok(()),
            Err(_) if final_diff.is_dir() => {
                let _ = fs::remove_dir_all(&tmp);
                Ok(())
            }
            Err(e) => Err(at("rename", &final_dir)(e)),
        }
    })();
    if res.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    res.map(|()| LayerRef { digest, size })
}

fn sync_fs(dir: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let f = fs::File::open(dir).map_err(at("open", dir))?;
    // SAFETY: syncfs on a descriptor we own; it flushes the layer's files before the
    // rename publishes the layer.
    if unsafe { libc::syncfs(f.as_raw_fd()) } < 0 {
        return Err(at("syncfs", dir)(io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn names(tar_bytes: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(tar_bytes);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let mut s = String::new();
                let _ = e.read_to_string(&mut s);
                e.path().unwrap().to_string_lossy().into_owned()
            })
            .collect()
    }

    #[test]
    fn whiteouts_become_wh_files() {
        let dir = tempfile::tempdir().unwrap();
        let up = dir.path();
        fs::create_dir(up.join("etc")).unwrap();
        fs::write(up.join("etc/new"), "x").unwrap();
        std::os::unix::fs::symlink("new", up.join("etc/link")).unwrap();
        fs::hard_link(up.join("etc/new"), up.join("hard")).unwrap();
        let gone = CString::new(up.join("etc/gone").as_os_str().as_bytes()).unwrap();
        // SAFETY: mknod of a 0/0 character device (an overlay whiteout); root in tests.
        let r = unsafe { libc::mknod(gone.as_ptr(), libc::S_IFCHR, 0) };
        let mut out = vec![];
        write_tar(up, &mut out).unwrap();
        let n = names(&out);
        assert!(n.contains(&"etc/".to_string()) || n.contains(&"etc".to_string()));
        assert!(n.contains(&"etc/new".to_string()));
        assert!(n.contains(&"etc/link".to_string()));
        assert!(n.contains(&"hard".to_string()));
        if r == 0 {
            assert!(n.contains(&"etc/.wh.gone".to_string()), "{n:?}");
        }
    }
}
