//! pause/resume through the freezer.

use super::state::Status;
use super::Container;
use crate::error::{Error, Result};

impl Container {
    /// Freeze every process of the container.
    pub fn pause(&self) -> Result<()> {
        let s = self.status();
        if s != Status::Running {
            return Err(Error::State {
                id: self.state.id.clone(),
                status: s.to_string(),
                op: "pause",
            });
        }
        self.state.cgroups.freeze(true)
    }

    /// Thaw a paused container.
    pub fn resume(&self) -> Result<()> {
        let s = self.status();
        if s != Status::Paused {
            return Err(Error::State {
                id: self.state.id.clone(),
                status: s.to_string(),
                op: "resume",
            });
        }
        self.state.cgroups.freeze(false)
    }
}
