//! berth-runtime: turns an OCI runtime spec and a root filesystem into a running,
//! isolated container, and back. No runc, crun or youki: namespaces, cgroups, mounts,
//! capabilities and seccomp are set up here, through system calls.
//!
//! Every binary linking this crate must call [`maybe_run_init`] first thing in `main`,
//! before any thread exists (before building a tokio runtime): containers are started by
//! re-executing the current binary, and that call is where the re-executed copy runs.

#![warn(missing_docs)]
// mount flags are `c_ulong`: u64 here, u32 on 32-bit targets; the casts keep it portable.
#![allow(clippy::unnecessary_cast)]

pub mod capabilities;
pub mod cgroups;
pub mod container;
pub mod error;
pub mod hooks;
pub mod lsm;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod syscall;
pub mod tty;
pub mod user;

pub use container::{
    Container, ContainerConfig, CreateTimings, ExecConfig, ExecProcess, ExitStatus, State, Status,
};
pub use error::{Error, Result};
pub use process::spawn::Stdio;
pub use rootfs::Rootfs;

/// If this process is the runtime's re-executed helper, run it and never return;
/// otherwise return at once. Call it first in `main` of every binary using the crate.
pub fn maybe_run_init() {
    if let Some(v) = std::env::var_os(process::stage0::ENV) {
        let fd: i32 = v.to_str().and_then(|s| s.parse().ok()).unwrap_or(-1);
        if fd < 0 {
            eprintln!("berth-runtime: bad {} value", process::stage0::ENV);
            std::process::exit(1);
        }
        std::env::remove_var(process::stage0::ENV);
        process::stage0::main(fd);
    }
}
