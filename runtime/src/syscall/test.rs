//! A `Syscall` that records every call instead of making it.
#![allow(missing_docs)]

use std::path::{Path, PathBuf};

use super::{Syscall, Target};
use crate::error::Result;

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// mount(2).
    Mount {
        source: Option<String>,
        target: Target,
        fstype: Option<String>,
        flags: u64,
        data: Option<String>,
    },
    /// set_root.
    SetRoot(PathBuf),
    /// mknod.
    Mknod(PathBuf, u32, u64),
    /// symlink.
    Symlink(String, PathBuf),
    /// pivot_root.
    PivotRoot,
    /// chroot.
    Chroot,
    /// become_root.
    BecomeRoot,
    /// mask.
    Mask(PathBuf),
    /// readonly.
    Readonly(PathBuf),
    /// mkdir_all.
    MkdirAll(PathBuf),
}

/// Records calls; every host path ending in a file extension counts as a file.
#[derive(Default)]
pub struct RecordingSyscall {
    /// The calls in order.
    pub calls: Vec<Call>,
}

impl RecordingSyscall {
    /// In-root mount targets in order, with their fstype.
    pub fn mount_targets(&self) -> Vec<(String, Option<String>)> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                Call::Mount {
                    target: Target::InRoot(p, _),
                    fstype,
                    ..
                } => Some((p.display().to_string(), fstype.clone())),
                _ => None,
            })
            .collect()
    }
}

impl Syscall for RecordingSyscall {
    fn mount(
        &mut self,
        source: Option<&str>,
        target: &Target,
        fstype: Option<&str>,
        flags: u64,
        data: Option<&str>,
    ) -> Result<()> {
        self.calls.push(Call::Mount {
            source: source.map(str::to_owned),
            target: target.clone(),
            fstype: fstype.map(str::to_owned),
            flags,
            data: data.map(str::to_owned),
        });
        Ok(())
    }
    fn set_root(&mut self, path: &Path) -> Result<()> {
        self.calls.push(Call::SetRoot(path.into()));
        Ok(())
    }
    fn source_is_dir(&self, source: &Path) -> bool {
        source.extension().is_none()
    }
    fn mknod(&mut self, path: &Path, mode: u32, dev: u64, _uid: u32, _gid: u32) -> Result<()> {
        self.calls.push(Call::Mknod(path.into(), mode, dev));
        Ok(())
    }
    fn symlink(&mut self, target: &str, link: &Path) -> Result<()> {
        self.calls.push(Call::Symlink(target.into(), link.into()));
        Ok(())
    }
    fn pivot_root(&mut self) -> Result<()> {
        self.calls.push(Call::PivotRoot);
        Ok(())
    }
    fn chroot(&mut self) -> Result<()> {
        self.calls.push(Call::Chroot);
        Ok(())
    }
    fn become_root(&mut self) -> Result<()> {
        self.calls.push(Call::BecomeRoot);
        Ok(())
    }
    fn mask(&mut self, path: &Path) -> Result<()> {
        self.calls.push(Call::Mask(path.into()));
        Ok(())
    }
    fn readonly(&mut self, path: &Path) -> Result<()> {
        self.calls.push(Call::Readonly(path.into()));
        Ok(())
    }
    fn mkdir_all(&mut self, path: &Path) -> Result<()> {
        self.calls.push(Call::MkdirAll(path.into()));
        Ok(())
    }
}
