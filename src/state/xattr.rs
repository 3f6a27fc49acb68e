//! Extended attributes of state files (a container directory's owner).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
}

/// Sets attribute `name` of `path` (not following a symlink) to `value`.
pub fn set(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let p = c_path(path)?;
    let n = CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: both strings are NUL-terminated and outlive the call; `value`
    // is a valid slice of the length passed.
    let rc = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Attribute `name` of `path`, `None` when it has none (or cannot have any).
pub fn get(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = c_path(path).ok()?;
    let n = CString::new(name).ok()?;
    // A project name is short; one read of up to 256 bytes is enough.
    let mut buf = vec![0u8; 256];
    // SAFETY: both strings are NUL-terminated; `buf` is writable for its length.
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if len < 0 {
        return None;
    }
    buf.truncate(len as usize);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_then_get() {
        let t = tempfile::tempdir().unwrap();
        if set(t.path(), "user.berth.test", b"proj").is_err() {
            // A filesystem without user attributes: callers fall back.
            return;
        }
        assert_eq!(
            get(t.path(), "user.berth.test").as_deref(),
            Some(&b"proj"[..])
        );
        assert_eq!(get(t.path(), "user.berth.none"), None);
    }
}
