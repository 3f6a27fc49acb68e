//! `export`: a service container's filesystem as a tar archive, as `docker
//! export` writes it: the image layers with the container's changes on top, no
//! volumes, bind mounts, `/proc` or `/sys`.
//!
//! The container's root is mounted inside its own mount namespace, so the host
//! has no path to the merged view. A thread with a private mount namespace
//! mounts a read-only overlay whose lowers are the container's upper dir over its
//! image layers (overlayfs honours whiteouts and opaque dirs in any lower), and
//! the tree is walked by descriptor from that mount, as `cp` walks a container.

use std::ffi::CString;
use std::fs;
use std::io::{self, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};

use crate::container::list::Found;
use crate::engine::cp::tree::write_tree;
use crate::state::{ContainerDir, Layout};
use crate::supervise::launch::LaunchConfig;

/// Where the archive goes.
pub enum Output<'a> {
    /// `-o FILE`: written beside it, then renamed into place (0600).
    File(&'a Path),
    /// Standard output.
    Stdout,
}

/// Checks `-o FILE` as docker's `ValidateOutputPath` does: its directory exists
/// and it is not itself a directory.
pub fn validate_output(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "failed to export container: invalid output path: directory {:?} does not exist",
            dir.display().to_string()
        );
    }
    if path.is_dir() {
        bail!(
            "failed to export container: invalid output path: {:?} must be a file",
            path.display().to_string()
        );
    }
    Ok(())
}

/// Writes the filesystem of `found` to `out`.
pub fn export(layout: &Layout, found: &Found, out: Output<'_>) -> Result<()> {
    match out {
        Output::Stdout => {
            let w = io::BufWriter::new(io::stdout());
            write_rootfs(layout, found, w)?.flush()?;
            Ok(())
        }
        Output::File(path) => {
            let name = path
                .file_name()
                .ok_or_else(|| anyhow!("invalid output path {}", path.display()))?;
            let tmp = path.with_file_name(format!(
                ".{}.{}.tmp",
                name.to_string_lossy(),
                std::process::id()
            ));
            let written = (|| -> Result<()> {
                use std::os::unix::fs::OpenOptionsExt;
                let f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)
                    .with_context(|| format!("creating {}", tmp.display()))?;
                let f = write_rootfs(layout, found, io::BufWriter::new(f))?
                    .into_inner()
                    .map_err(|e| e.into_error())?;
                f.sync_all()
                    .with_context(|| format!("writing {}", tmp.display()))?;
                fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
            })();
            if written.is_err() {
                let _ = fs::remove_file(&tmp);
            }
            written
        }
    }
}

/// The layers of the container's root, topmost first (its upper dir first), or
/// the plain directory it runs from.
fn layers(found: &Found) -> Result<Vec<PathBuf>> {
    let launch = LaunchConfig::load(&found.dir)?;
    if launch.lowers.is_empty() {
        return match launch.rootfs_dir {
            Some(d) => Ok(vec![d]),
            None => bail!("container {} has no root filesystem", found.record.name),
        };
    }
    let mut l = vec![ContainerDir::new(&found.dir).upper()];
    l.extend(launch.lowers);
    Ok(l)
}

fn cpath(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| anyhow!("path {} has a NUL", p.display()))
}

/// Streams the container's merged root as tar into `w`, returning `w`.
fn write_rootfs<W: Write + Send>(layout: &Layout, found: &Found, w: W) -> Result<W> {
    let layers = layers(found)?;
    let names: Vec<String> = layers.iter().map(|p| p.display().to_string()).collect();
    if names.iter().any(|n| n.contains([',', ':'])) {
        bail!("layer path contains ',' or ':'");
    }
    // A private, empty mount point per export; removed whatever happens.
    let mnt = layout
        .run
        .join("export")
        .join(format!("{}-{}", found.record.id, std::process::id()));
    fs::create_dir_all(&mnt).with_context(|| format!("creating {}", mnt.display()))?;
    let res = walk_merged(&layers, &mnt, w);
    let _ = fs::remove_dir(&mnt);
    res.with_context(|| format!("exporting container {}", found.record.name))
}

fn walk_merged<W: Write + Send>(layers: &[PathBuf], mnt: &Path, w: W) -> Result<W> {
    let target = cpath(mnt)?;
    let single = layers.len() == 1;
    // Without an upper, overlayfs wants two lowers at least; a plain directory
    // root (no layers) is read in place.
    let data = format!(
        "lowerdir={}{}",
        layers
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":"),
        if berth_runtime::namespaces::in_user_namespace() {
            ",userxattr"
        } else {
            ""
        }
    );
    std::thread::scope(|s| {
        s.spawn(move || -> Result<W> {
            let root_path = if single {
                cpath(&layers[0])?
            } else {
                // SAFETY: unshare only changes this thread's namespaces (CLONE_NEWNS
                // implies CLONE_FS, so the thread gets its own fs context first).
                if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
                    return Err(io::Error::last_os_error()).context("unshare(CLONE_NEWNS)");
                }
                // SAFETY: every mount of the private namespace becomes a slave, so
                // the overlay below never propagates to the host.
                if unsafe {
                    libc::mount(
                        std::ptr::null(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_SLAVE,
                        std::ptr::null(),
                    )
                } != 0
                {
                    return Err(io::Error::last_os_error()).context("making mounts private");
                }
                berth_runtime::syscall::linux::mount_overlay(&data, mnt, true)
                    .map_err(|e| anyhow!("mounting the container's layers: {e}"))?;
                target.clone()
            };
            // SAFETY: open of a C string path; the result is checked.
            let fd = unsafe {
                libc::open(
                    root_path.as_ptr(),
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error()).context("opening the container's root");
            }
            // SAFETY: open just returned this descriptor; nothing else owns it.
            let root = unsafe { OwnedFd::from_raw_fd(fd) };
            let out = write_tree(w, &root, c".", ".").map_err(anyhow::Error::from);
            drop(root);
            if !single {
                // SAFETY: detaches our own mount; the namespace dies with the thread.
                unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
            }
            out
        })
        .join()
        .unwrap_or_else(|_| Err(anyhow!("the export thread panicked")))
    })
}
