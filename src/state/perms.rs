//! Who may reach berth's state: root only.
//!
//! The state root holds image layers and containers' upper directories (setuid
//! binaries and device nodes a container or an image put there) and records with
//! the containers' environment (passwords). If another host user could walk into it,
//! a setuid-root file in any layer would run as euid 0 for them and a device node
//! shipped in an image would open from the host. So berth creates everything under
//! an explicit umask of 077, whatever the caller's shell had, closes the root and
//! the run directory to everyone but their owner, and repairs both (and what a
//! berth before this fix left open inside them) on the next command.
//!
//! Files a container reads through a bind mount (`/etc/hosts`, volumes' `_data`,
//! secrets) are the exception: their own inode must be readable inside the
//! container, whose user need not be root, so they are written with the mode
//! docker gives them ([`write_shared`], [`SHARED_DIR_MODE`]). They are still out of
//! reach from the host, behind the 0700 root.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{IoContext, StateError};

/// The umask berth itself works under: nothing it creates is open to others.
pub const UMASK: u32 = 0o077;
/// The mode of the state root and the run directory.
pub const ROOT_MODE: u32 = 0o700;
/// Directories a container sees from the inside (a volume's `_data`, a bind
/// source berth created, an overlay upper directory): docker's 0755.
pub const SHARED_DIR_MODE: u32 = 0o755;

/// The umask berth was started with, for what it writes on the caller's behalf
/// outside its state (`berth cp` out of a container).
static CALLER_UMASK: AtomicU32 = AtomicU32::new(0o022);

/// Sets berth's umask; call it first thing, before any thread or file exists.
pub fn set_umask() {
    // SAFETY: umask only changes this process's file creation mask; it cannot fail.
    let old = unsafe { libc::umask(UMASK as libc::mode_t) };
    CALLER_UMASK.store(old as u32, Ordering::Relaxed);
}

/// Runs `f` under the caller's umask: files berth makes for the user in the user's
/// own directories are masked as the user's shell would mask them.
pub fn with_caller_umask<T>(f: impl FnOnce() -> T) -> T {
    with_umask(CALLER_UMASK.load(Ordering::Relaxed), f)
}

/// Runs `f` under `mask`, then puts berth's own back (the umask is the process's).
pub fn with_umask<T>(mask: u32, f: impl FnOnce() -> T) -> T {
    // SAFETY: as in set_umask.
    let ours = unsafe { libc::umask(mask as libc::mode_t) };
    let r = f();
    // SAFETY: as in set_umask.
    unsafe { libc::umask(ours) };
    r
}

/// Closes `root` and `run` to other users if they exist and are open (a root made
/// by an older berth, or by hand); a root found open is repaired inside too.
/// Directories that do not exist are left alone: whoever creates them does so
/// under [`UMASK`].
pub fn secure_roots(root: &Path, run: &Path) -> Result<(), StateError> {
    if needs_repair(root)? {
        repair_root(root)?;
    }
    if needs_repair(run)? {
        repair_run(run)?;
    }
    Ok(())
}

/// Creates `dir` (and its parents) as a directory a container reads from the
/// inside: mode [`SHARED_DIR_MODE`], whatever the umask.
pub fn create_shared_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(SHARED_DIR_MODE))
}

/// Writes `bytes` to `path` with exactly `mode` (not masked by the umask): for
/// files bind-mounted into a container, which its non-root user must read.
pub fn write_shared(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    f.write_all(bytes)?;
    // An existing file keeps its old mode through open, and a new one was masked.
    f.set_permissions(fs::Permissions::from_mode(mode))
}

fn needs_repair(dir: &Path) -> Result<bool, StateError> {
    match fs::symlink_metadata(dir) {
        Ok(m) => Ok(m.is_dir() && m.mode() & 0o077 != 0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).at("stat", dir),
    }
}

/// Closes the root itself (which alone is enough to keep others out), then the
/// directories and records inside it as a fresh root has them, so that a root
/// later opened by hand does not expose them either. Image content (layer trees,
/// upper directories, volume data) keeps its modes: they are the image's.
fn repair_root(root: &Path) -> Result<(), StateError> {
    chmod(root, ROOT_MODE)?;
    for entry in read_dir(root)? {
        let path = entry.path();
        let name = entry.file_name();
        match name.to_str() {
            Some("containers") => {
                chmod(&path, 0o700)?;
                for c in read_dir(&path)? {
                    close_container_dir(&c.path())?;
                }
            }
            Some("layers" | "volumes") => {
                chmod(&path, 0o700)?;
                // `<id>/diff` and `<name>/_data` are what containers see.
                for e in read_dir(&path)? {
                    close_records(&e.path())?;
                }
            }
            Some("run") => repair_run(&path)?,
            // Only berth's own records live in these.
            Some("content" | "images" | "networks" | "events" | "projects") => close_tree(&path)?,
            // Anything else may hold a filesystem tree: close its top only.
            _ => close_records(&path)?,
        }
    }
    Ok(())
}

/// The run directory holds only berth's own records, sockets and pinned
/// namespaces: all of it is closed.
fn repair_run(run: &Path) -> Result<(), StateError> {
    close_tree(run)
}

/// A container's directory: its records and logs closed, the files a container
/// reads through a bind (`hosts`, `hostname`, `resolv.conf`, secrets, configs)
/// and its filesystem trees (upper, work, rootfs) left as they are.
fn close_container_dir(dir: &Path) -> Result<(), StateError> {
    chmod(dir, 0o700)?;
    for e in read_dir(dir)? {
        let path = e.path();
        let Some(name) = e.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let ft = e.file_type().at("stat", &path)?;
        if ft.is_dir() {
            match name.as_str() {
                "upper" | "work" | "rootfs" | "cp-rootfs" | "secrets" | "configs" => {}
                _ => close_tree(&path)?,
            }
        } else if ft.is_file() && !matches!(name.as_str(), "hosts" | "hostname" | "resolv.conf") {
            chmod(&path, 0o600)?;
        }
    }
    Ok(())
}

/// One level: the directory closed, its regular files closed, subdirectories
/// (content a container sees) untouched.
fn close_records(dir: &Path) -> Result<(), StateError> {
    if !dir.is_dir() {
        return chmod_file(dir);
    }
    chmod(dir, 0o700)?;
    for e in read_dir(dir)? {
        if e.file_type().at("stat", &e.path())?.is_file() {
            chmod(&e.path(), 0o600)?;
        }
    }
    Ok(())
}

/// Every directory 0700 and every regular file 0600 below `path` (symlinks,
/// sockets and namespace pins are left alone: their mode does not guard them).
fn close_tree(path: &Path) -> Result<(), StateError> {
    let m = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).at("stat", path),
    };
    if m.is_dir() {
        chmod(path, 0o700)?;
        // Pinned network namespaces are nsfs mounts, whose mode cannot change.
        if path.file_name().is_some_and(|n| n == "netns") {
            return Ok(());
        }
        for e in read_dir(path)? {
            close_tree(&e.path())?;
        }
        Ok(())
    } else {
        chmod_file(path)
    }
}

fn chmod_file(path: &Path) -> Result<(), StateError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => chmod(path, 0o600),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).at("stat", path),
    }
}

fn chmod(path: &Path, mode: u32) -> Result<(), StateError> {
    match fs::set_permissions(path, fs::Permissions::from_mode(mode)) {
        // A file a concurrent command removed is no longer anyone's to reach.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r.at("chmod", path),
    }
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>, StateError> {
    match fs::read_dir(dir) {
        Ok(it) => Ok(it.filter_map(|e| e.ok()).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).at("read directory", dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    fn open_root() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for d in [
            "containers/c1/upper/bin",
            "containers/c1/secrets",
            "layers/l1/diff/bin",
            "volumes/v1/_data",
            "content/blobs/sha256",
            "run/net",
        ] {
            fs::create_dir_all(r.join(d)).unwrap();
        }
        for f in [
            "containers/c1/launch.json",
            "containers/c1/log",
            "containers/c1/hosts",
            "containers/c1/secrets/pw",
            "containers/c1/upper/bin/suid",
            "layers/l1/diff-id",
            "layers/l1/diff/bin/suid",
            "volumes/v1/volume.json",
            "content/blobs/sha256/ab",
            "run/net/state.json",
        ] {
            fs::write(r.join(f), "x").unwrap();
        }
        for (p, m) in [
            ("", 0o755),
            ("containers", 0o755),
            ("containers/c1", 0o755),
            ("containers/c1/launch.json", 0o644),
            ("containers/c1/log", 0o644),
            ("containers/c1/hosts", 0o644),
            ("containers/c1/secrets/pw", 0o444),
            ("containers/c1/upper", 0o755),
            ("containers/c1/upper/bin/suid", 0o4755),
            ("layers", 0o755),
            ("layers/l1", 0o755),
            ("layers/l1/diff-id", 0o644),
            ("layers/l1/diff", 0o755),
            ("layers/l1/diff/bin/suid", 0o4755),
            ("volumes/v1/_data", 0o755),
            ("content/blobs/sha256/ab", 0o644),
            ("run", 0o755),
            ("run/net/state.json", 0o644),
        ] {
            fs::set_permissions(r.join(p), fs::Permissions::from_mode(m)).unwrap();
        }
        t
    }

    #[test]
    fn an_open_root_is_closed_and_its_records_too() {
        let t = open_root();
        let r = t.path();
        secure_roots(r, &r.join("run")).unwrap();
        assert_eq!(mode(r), 0o700);
        for d in [
            "containers",
            "containers/c1",
            "layers",
            "layers/l1",
            "run",
            "content",
        ] {
            assert_eq!(mode(&r.join(d)), 0o700, "{d}");
        }
        for f in [
            "containers/c1/launch.json",
            "containers/c1/log",
            "layers/l1/diff-id",
            "content/blobs/sha256/ab",
            "run/net/state.json",
        ] {
            assert_eq!(mode(&r.join(f)), 0o600, "{f}");
        }
    }

    #[test]
    fn what_containers_see_keeps_its_modes() {
        let t = open_root();
        let r = t.path();
        secure_roots(r, &r.join("run")).unwrap();
        for (p, m) in [
            ("containers/c1/hosts", 0o644),
            ("containers/c1/secrets/pw", 0o444),
            ("containers/c1/upper", 0o755),
            ("containers/c1/upper/bin/suid", 0o4755),
            ("layers/l1/diff", 0o755),
            ("layers/l1/diff/bin/suid", 0o4755),
            ("volumes/v1/_data", 0o755),
        ] {
            assert_eq!(mode(&r.join(p)), m, "{p}");
        }
    }

    #[test]
    fn a_closed_root_is_not_walked_and_a_missing_one_not_made() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path().join("root");
        secure_roots(&r, &r.join("run")).unwrap();
        assert!(!r.exists());
        fs::create_dir_all(r.join("containers")).unwrap();
        fs::set_permissions(&r, fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(r.join("containers"), fs::Permissions::from_mode(0o755)).unwrap();
        secure_roots(&r, &r.join("run")).unwrap();
        assert_eq!(mode(&r.join("containers")), 0o755);
    }

    #[test]
    fn shared_files_and_dirs_ignore_the_umask() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("hosts");
        write_shared(&f, b"a", 0o644).unwrap();
        assert_eq!(mode(&f), 0o644);
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
        write_shared(&f, b"b", 0o644).unwrap();
        assert_eq!(mode(&f), 0o644);
        assert_eq!(fs::read(&f).unwrap(), b"b");
        let d = t.path().join("a/_data");
        create_shared_dir(&d).unwrap();
        assert_eq!(mode(&d), SHARED_DIR_MODE);
    }
}
