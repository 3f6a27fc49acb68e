//! Kernel sysctls written through /proc/sys (no `sysctl` program).

use std::path::PathBuf;

use crate::error::{IoContext, Result};

/// Set `key` (dotted, e.g. `net.ipv4.ip_forward`) to `value` if it differs.
pub fn set(key: &str, value: &str) -> Result<()> {
    let path: PathBuf = format!("/proc/sys/{}", key.replace('.', "/")).into();
    if let Ok(cur) = std::fs::read_to_string(&path) {
        if cur.trim() == value {
            return Ok(());
        }
    }
    std::fs::write(&path, value).at("write sysctl", path)
}
