//! Device nodes in the container's /dev.

use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use crate::error::Result;
use crate::syscall::{Kind, Syscall, Target};

/// The devices every container gets (runc's and docker's list).
pub const DEFAULT_DEVICES: [(&str, u32, u32); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/tty", 5, 0),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
];

/// Create the default devices, then the spec's (which win on the same path). In a
/// user namespace mknod is refused: the host's node at the same path is bound instead
/// (as runc does), so it keeps the host's type, numbers and mode.
pub fn create(sys: &mut dyn Syscall, extra: &[LinuxDevice], userns: bool) -> Result<()> {
    let bind = |sys: &mut dyn Syscall, path: &Path| -> Result<()> {
        let src = path.to_str().ok_or_else(|| {
            crate::Error::Spec(format!("non-utf8 device path {}", path.display()))
        })?;
        sys.mount(
            Some(src),
            &Target::InRoot(path.to_path_buf(), Kind::File),
            None,
            libc::MS_BIND as u64,
            None,
        )
    };
    for (path, major, minor) in DEFAULT_DEVICES {
        if extra.iter().any(|d| d.path() == Path::new(path)) {
            continue;
        }
        if userns {
            bind(sys, Path::new(path))?;
            continue;
        }
        sys.mknod(
            Path::new(path),
            libc::S_IFCHR | 0o666,
            libc::makedev(major, minor),
            0,
            0,
        )?;
    }
    for d in extra {
        if userns {
            bind(sys, d.path())?;
            continue;
        }
        let kind = match d.typ() {
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            _ => libc::S_IFCHR,
        };
        let mode = kind | d.file_mode().unwrap_or(0o666) & 0o7777;
        let dev = libc::makedev(d.major() as u32, d.minor() as u32);
        sys.mknod(
            d.path(),
            mode,
            dev,
            d.uid().unwrap_or(0),
            d.gid().unwrap_or(0),
        )?;
    }
    Ok(())
}
