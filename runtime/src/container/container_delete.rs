//! delete: kill what is left, remove cgroups and the runtime's files.

use super::state::{state_doc, CONFIG, FIFO, ROOTFS, STATE};
use super::Container;
use crate::error::Result;
use crate::hooks;

impl Container {
    /// Kill every remaining process, reap the init, remove the cgroups and the runtime's
    /// files from the state dir (and the dir itself when nothing else is left in it).
    /// Cleanup goes on after an error; the first error is returned.
    pub fn delete(self) -> Result<()> {
        if !self.exited() {
            let _ = self.state.cgroups.kill_all(libc::SIGKILL);
            if let Some(fd) = &self.pidfd {
                let _ = crate::syscall::raw::pidfd_send_signal(fd, libc::SIGKILL);
            }
        }
        // Reap (if we are the parent) so the cgroup empties and the pid is released.
        let _ = self.wait();
        let spec = self.saved_spec_with_hooks("poststop");
        let mut first = self.state.cgroups.remove().err();
        for f in [STATE, CONFIG, FIFO] {
            if let Err(e) = std::fs::remove_file(self.state_dir.join(f)) {
                if e.kind() != std::io::ErrorKind::NotFound && first.is_none() {
                    first = Some(crate::Error::Path {
                        op: "remove",
                        path: self.state_dir.join(f),
                        source: e,
                    });
                }
            }
        }
        super::detach_rootfs(&self.state_dir.join(ROOTFS));
        let _ = std::fs::remove_dir(self.state_dir.join(ROOTFS));
        let _ = std::fs::remove_dir(&self.state_dir);
        if let Some(spec) = spec {
            let doc = state_doc(
                Some(&spec),
                &self.state.id,
                self.state.bundle.as_deref(),
                "stopped",
                0,
            );
            hooks::run_warn(&spec, hooks::Kind::Poststop, &doc);
        }
        first.map_or(Ok(()), Err)
    }
}
