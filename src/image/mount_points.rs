//! The files a container's `/etc` is bind-mounted over, made once per image.
//!
//! Every container gets `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`
//! bind-mounted from its own directory. Where the image lacks one (busybox,
//! scratch images; alpine has no resolv.conf), the runtime had to create the
//! mount point in the container's writable layer: a copy-up of `/etc` and up
//! to four new inodes on the state filesystem per container. Docker keeps such
//! files in an "init" layer; here it is one read-only layer per image, beside
//! its top layer (`layers/<chain>/mountpoints`, removed with it), put above
//! the image's layers and holding only what the image lacks.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Mutex;

/// The files the runtime bind-mounts over, under `etc/`.
const ETC_FILES: [&str; 3] = ["hostname", "hosts", "resolv.conf"];

/// The directory, beside a layer's `diff`, of its mount-point layer.
const DIR_NAME: &str = "mountpoints";

/// What was decided per top layer in this process: one look per image and
/// command, not one per container.
static DECIDED: Mutex<Option<HashMap<PathBuf, Option<PathBuf>>>> = Mutex::new(None);

/// `lowers` (top first) with the image's mount-point layer on top when the
/// image lacks one of the files; unchanged when it has them all, when the
/// layers are not a store's, or when the layer cannot be made (the runtime
/// then creates the mount points as before).
pub fn with_mount_points(mut lowers: Vec<PathBuf>) -> Vec<PathBuf> {
    let Some(top) = lowers.first().cloned() else {
        return lowers;
    };
    let mut decided = DECIDED.lock().unwrap_or_else(|e| e.into_inner());
    let decided = decided.get_or_insert_with(HashMap::new);
    let layer = match decided.get(&top) {
        Some(l) => l.clone(),
        None => {
            let l = match mount_point_layer(&lowers) {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!("making the mount points of {}: {e}", top.display());
                    None
                }
            };
            decided.insert(top, l.clone());
            l
        }
    };
    if let Some(l) = layer {
        lowers.insert(0, l);
    }
    lowers
}

/// The mount-point layer of the image whose layers are `lowers` (top first),
/// made durably if it is not there yet; `None` when none is needed.
fn mount_point_layer(lowers: &[PathBuf]) -> io::Result<Option<PathBuf>> {
    let top = &lowers[0];
    let Some(chain_dir) = top
        .parent()
        .filter(|_| top.file_name().is_some_and(|n| n == "diff"))
    else {
        return Ok(None);
    };
    let dir = chain_dir.join(DIR_NAME);
    if dir.is_dir() {
        return Ok(Some(dir));
    }
    let Some(etc) = image_etc(lowers) else {
        return Ok(None);
    };
    let missing: Vec<&str> = ETC_FILES
        .into_iter()
        .filter(|f| !in_image(lowers, f))
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    // Made aside and renamed into place, durably before any container's
    // launch record names it: a half-made layer is never used.
    let tmp = chain_dir.join(format!(".{DIR_NAME}.tmp.{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    let made = (|| -> io::Result<()> {
        fs::DirBuilder::new().mode(0o755).create(&tmp)?;
        let tmp_etc = tmp.join("etc");
        fs::DirBuilder::new().create(&tmp_etc)?;
        // The merged /etc takes this directory's attributes: the image's own.
        if let Some(m) = &etc {
            fs::set_permissions(&tmp_etc, fs::Permissions::from_mode(m.mode() & 0o7777))?;
            std::os::unix::fs::lchown(&tmp_etc, Some(m.uid()), Some(m.gid()))?;
        } else {
            fs::set_permissions(&tmp_etc, fs::Permissions::from_mode(0o755))?;
        }
        for name in &missing {
            let f = File::create(tmp_etc.join(name))?;
            f.set_permissions(fs::Permissions::from_mode(0o644))?;
            f.sync_all()?;
        }
        File::open(&tmp_etc)?.sync_all()?;
        File::open(&tmp)?.sync_all()?;
        Ok(())
    })();
    if let Err(e) = made {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if let Err(e) = fs::rename(&tmp, &dir) {
        let _ = fs::remove_dir_all(&tmp);
        // Another berth made it meanwhile.
        if !dir.is_dir() {
            return Err(e);
        }
    }
    File::open(chain_dir)?.sync_all()?;
    Ok(Some(dir))
}

/// The image's `/etc` as the top-most layer that has it shows it: `Some(None)`
/// when no layer has it, `None` when it is no directory (nothing is added).
fn image_etc(lowers: &[PathBuf]) -> Option<Option<fs::Metadata>> {
    for layer in lowers {
        match fs::symlink_metadata(layer.join("etc")) {
            Ok(m) if m.is_dir() => return Some(Some(m)),
            Ok(_) => return None,
            Err(_) => {}
        }
    }
    Some(None)
}

/// Whether `etc/<name>` is in the merged image: the top-most layer that says
/// anything about it has it (and not as a whiteout), and no opaque `etc`
/// above hides the layer that has it.
fn in_image(lowers: &[PathBuf], name: &str) -> bool {
    for layer in lowers {
        // Layers are image content: `etc` is looked into only where it is a real
        // directory, so no stat follows a link out of the layer. A layer whose
        // `etc` is anything else hides every lower `etc`.
        match fs::symlink_metadata(layer.join("etc")) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return false,
            Err(_) => continue,
        }
        match fs::symlink_metadata(layer.join("etc").join(name)) {
            Ok(m) => return !is_whiteout(&m),
            Err(_) if super::unpack::is_opaque(&layer.join("etc")) => return false,
            Err(_) => {}
        }
    }
    false
}

/// An overlay whiteout: a character device 0:0.
fn is_whiteout(m: &fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    m.file_type().is_char_device() && m.rdev() == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn layer(root: &Path, chain: &str) -> PathBuf {
        let d = root.join(chain).join("diff");
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn adds_only_what_the_image_lacks_once_per_image() {
        let t = tempfile::tempdir().unwrap();
        let base = layer(t.path(), "a");
        let top = layer(t.path(), "b");
        fs::create_dir_all(base.join("etc")).unwrap();
        fs::set_permissions(base.join("etc"), fs::Permissions::from_mode(0o750)).unwrap();
        fs::write(base.join("etc/hosts"), "x").unwrap();
        let lowers = vec![top.clone(), base.clone()];
        let got = with_mount_points(lowers.clone());
        let mp = t.path().join("b").join(DIR_NAME);
        assert_eq!(got, vec![mp.clone(), top.clone(), base.clone()]);
        let mut names: Vec<String> = fs::read_dir(mp.join("etc"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["hostname", "resolv.conf"]);
        let mode = fs::metadata(mp.join("etc")).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o750);
        // Asked again: the same answer, nothing made twice.
        assert_eq!(with_mount_points(lowers), got);
    }

    #[test]
    fn an_image_with_every_file_gets_nothing() {
        let t = tempfile::tempdir().unwrap();
        let top = layer(t.path(), "c");
        fs::create_dir_all(top.join("etc")).unwrap();
        for f in ETC_FILES {
            fs::write(top.join("etc").join(f), "").unwrap();
        }
        assert_eq!(with_mount_points(vec![top.clone()]), vec![top]);
        assert!(!t.path().join("c").join(DIR_NAME).exists());
    }

    #[test]
    fn a_lower_etc_that_is_a_link_is_not_followed() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        for f in ETC_FILES {
            fs::write(outside.join(f), "").unwrap();
        }
        let base = layer(t.path(), "e");
        std::os::unix::fs::symlink(&outside, base.join("etc")).unwrap();
        let top = layer(t.path(), "f");
        fs::create_dir_all(top.join("etc")).unwrap();
        let got = with_mount_points(vec![top.clone(), base.clone()]);
        let mp = t.path().join("f").join(DIR_NAME);
        assert_eq!(got, vec![mp.clone(), top, base]);
        for f in ETC_FILES {
            assert!(mp.join("etc").join(f).exists(), "{f}");
        }
    }

    #[test]
    fn an_etc_that_is_no_directory_is_left_alone() {
        let t = tempfile::tempdir().unwrap();
        let top = layer(t.path(), "d");
        std::os::unix::fs::symlink("/elsewhere", top.join("etc")).unwrap();
        assert_eq!(with_mount_points(vec![top.clone()]), vec![top]);
    }
}
