//! The first use of an empty named volume copies what the image has at the mount
//! point, as docker does (unless `nocopy`). The image is read as overlay would
//! show it: layer directories top first, whiteouts hide, opaque directories stop
//! the lookup in lower layers.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::fs::{lchown, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

const MAX_SYMLINKS: usize = 40;

/// Whether `meta` is an overlay whiteout (a 0/0 character device).
fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    for attr in ["trusted.overlay.opaque", "user.overlay.opaque"] {
        if let Ok(Some(v)) = xattr_get(dir, attr) {
            if v == b"y" {
                return true;
            }
        }
    }
    dir.join(".wh..wh..opq").symlink_metadata().is_ok()
}

fn xattr_get(path: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let n = std::ffi::CString::new(name)?;
    let mut buf = [0u8; 16];
    // SAFETY: valid C strings and a buffer of the length we pass.
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if len < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) | Some(libc::ERANGE) => Ok(None),
            _ => Err(e),
        };
    }
    Ok(Some(buf[..len as usize].to_vec()))
}

/// The image's file system as overlay presents it, read from its layer directories.
pub struct MergedView<'a> {
    layers: &'a [PathBuf],
}

impl<'a> MergedView<'a> {
    /// A view over `layers`, top-most first.
    pub fn new(layers: &'a [PathBuf]) -> MergedView<'a> {
        MergedView { layers }
    }

    /// The layer path of `rel` (a clean relative path, no symlinks in it) in the
    /// top-most layer that has it, honouring whiteouts and opaque directories.
    fn find(&self, rel: &Path) -> Option<PathBuf> {
        'layers: for layer in self.layers {
            // A whiteout or an opaque directory on the way down hides lower layers.
            let mut at = layer.clone();
            for comp in rel.components() {
                at.push(comp);
                match at.symlink_metadata() {
                    Ok(m) if is_whiteout(&m) => return None,
                    Ok(_) => {}
                    Err(_) => {
                        if wh_marker(&at).symlink_metadata().is_ok() {
                            return None;
                        }
                        let parent = at.parent().unwrap_or(layer);
                        if parent != layer && is_opaque(parent) {
                            return None;
                        }
                        continue 'layers;
                    }
                }
            }
            return Some(at);
        }
        None
    }

    /// Resolves `path` (absolute, inside the image) following symlinks inside the
    /// image only; `None` if it does not exist.
    pub fn resolve(&self, path: &Path) -> Option<PathBuf> {
        let mut todo: Vec<OsString> = components(path).into_iter().rev().collect();
        let mut done = PathBuf::new();
        let mut links = 0;
        while let Some(c) = todo.pop() {
            if c == ".." {
                done.pop();
                continue;
            }
            let candidate = done.join(&c);
            let at = self.find(&candidate)?;
            let meta = at.symlink_metadata().ok()?;
            if meta.file_type().is_symlink() {
                links += 1;
                if links > MAX_SYMLINKS {
                    return None;
                }
                let target = fs::read_link(&at).ok()?;
                if target.is_absolute() {
                    done = PathBuf::new();
                }
                todo.extend(components(&target).into_iter().rev());
            } else {
                done = candidate;
            }
        }
        Some(done)
    }

    /// The names in directory `rel` across layers, each with the layer path that wins.
    fn list(&self, rel: &Path) -> Vec<(OsString, PathBuf)> {
        let mut seen: HashSet<OsString> = HashSet::new();
        let mut out = vec![];
        for layer in self.layers {
            let dir = layer.join(rel);
            let Ok(meta) = dir.symlink_metadata() else {
                continue;
            };
            if is_whiteout(&meta) {
                break;
            }
            if !meta.is_dir() {
                break;
            }
            if let Ok(entries) = fs::read_dir(&dir) {
                for e in entries.flatten() {
                    let name = e.file_name();
                    let s = name.to_string_lossy();
                    if s == ".wh..wh..opq" {
                        continue;
                    }
                    if let Some(hidden) = s.strip_prefix(".wh.") {
                        seen.insert(OsString::from(hidden));
                        continue;
                    }
                    if !seen.insert(name.clone()) {
                        continue;
                    }
                    match e.path().symlink_metadata() {
                        Ok(m) if is_whiteout(&m) => {}
                        Ok(_) => out.push((name, e.path())),
                        Err(_) => {}
                    }
                }
            }
            if is_opaque(&dir) {
                break;
            }
        }
        out.sort();
        out
    }
}

fn wh_marker(at: &Path) -> PathBuf {
    let name = at.file_name().unwrap_or(OsStr::new(""));
    let mut marker = OsString::from(".wh.");
    marker.push(name);
    at.with_file_name(marker)
}

fn components(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// Copies what the image has at `target` into `dest` (an empty volume directory),
/// keeping modes, owners and symlinks. Returns false when the image has nothing there.
pub fn copy_up(layers: &[PathBuf], target: &Path, dest: &Path) -> io::Result<bool> {
    let view = MergedView::new(layers);
    let Some(rel) = view.resolve(target) else {
        return Ok(false);
    };
    let Some(top) = view.find(&rel) else {
        return Ok(false);
    };
    let meta = top.symlink_metadata()?;
    if !meta.is_dir() {
        return Ok(false);
    }
    // The volume takes the mount point's owner and mode, as docker does.
    fs::set_permissions(dest, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    lchown(dest, Some(meta.uid()), Some(meta.gid()))?;
    copy_dir(&view, &rel, dest)?;
    Ok(true)
}

fn copy_dir(view: &MergedView<'_>, rel: &Path, dest: &Path) -> io::Result<()> {
    for (name, src) in view.list(rel) {
        let to = dest.join(&name);
        let meta = src.symlink_metadata()?;
        let ft = meta.file_type();
        if ft.is_dir() {
            fs::create_dir(&to)?;
            copy_dir(view, &rel.join(&name), &to)?;
            fs::set_permissions(&to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &to)?;
        } else if ft.is_file() {
            fs::copy(&src, &to)?;
            fs::set_permissions(&to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        } else {
            // Devices, fifos and sockets in a volume's seed are rare and not worth
            // the privileges; docker copies them, berth leaves them out for now.
            tracing::debug!("copy-up skips special file {}", src.display());
            continue;
        }
        lchown(&to, Some(meta.uid()), Some(meta.gid()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, s: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    }

    #[test]
    fn merges_layers_top_first_with_whiteouts() {
        let t = tempfile::tempdir().unwrap();
        let lower = t.path().join("lower");
        let upper = t.path().join("upper");
        write(&lower.join("data/a"), "lower a");
        write(&lower.join("data/b"), "lower b");
        write(&lower.join("data/sub/c"), "lower c");
        write(&upper.join("data/a"), "upper a");
        write(&upper.join("data/.wh.b"), "");
        std::os::unix::fs::symlink("/data", lower.join("link")).unwrap();
        let dest = t.path().join("vol");
        fs::create_dir(&dest).unwrap();
        let layers = vec![upper, lower];
        assert!(copy_up(&layers, Path::new("/link"), &dest).unwrap());
        assert_eq!(fs::read_to_string(dest.join("a")).unwrap(), "upper a");
        assert!(!dest.join("b").exists());
        assert_eq!(fs::read_to_string(dest.join("sub/c")).unwrap(), "lower c");
    }

    #[test]
    fn opaque_directory_hides_lower_content() {
        let t = tempfile::tempdir().unwrap();
        let lower = t.path().join("lower");
        let upper = t.path().join("upper");
        write(&lower.join("data/old"), "old");
        write(&upper.join("data/new"), "new");
        write(&upper.join("data/.wh..wh..opq"), "");
        let dest = t.path().join("vol");
        fs::create_dir(&dest).unwrap();
        assert!(copy_up(&[upper, lower], Path::new("/data"), &dest).unwrap());
        assert!(dest.join("new").exists());
        assert!(!dest.join("old").exists());
        assert!(!dest.join(".wh..wh..opq").exists());
    }

    #[test]
    fn missing_target_copies_nothing_and_symlinks_stay_inside() {
        let t = tempfile::tempdir().unwrap();
        let layer = t.path().join("l");
        fs::create_dir_all(&layer).unwrap();
        // An absolute link that would leave the image if followed on the host.
        std::os::unix::fs::symlink("/etc", layer.join("escape")).unwrap();
        let dest = t.path().join("vol");
        fs::create_dir(&dest).unwrap();
        assert!(!copy_up(std::slice::from_ref(&layer), Path::new("/nothing"), &dest).unwrap());
        assert!(!copy_up(&[layer], Path::new("/escape"), &dest).unwrap());
        assert_eq!(fs::read_dir(&dest).unwrap().count(), 0);
    }
}
