//! `pause`/`unpause`: the runtime's freezer, asked through each container's
//! supervisor so that its recorded state stays its own.

use std::time::Duration;

use anyhow::{bail, Result};

use crate::container::list::Found;
use crate::events::Action;
use crate::state::Layout;
use crate::supervise::control::{self, Request, Response};

/// Freezes (`frozen`) or thaws one container.
pub fn set_paused(layout: &Layout, found: &Found, frozen: bool) -> Result<()> {
    let sock = control::socket_path(&layout.container(&found.record.id));
    let req = if frozen {
        Request::Pause
    } else {
        Request::Unpause
    };
    let verb = if frozen { "pausing" } else { "unpausing" };
    match control::call(&sock, &req, Duration::from_secs(10)) {
        Ok(Response::Ok) => {
            let action = if frozen {
                Action::Pause
            } else {
                Action::Unpause
            };
            crate::events::emit(layout, &found.record, action);
            Ok(())
        }
        Ok(Response::Error(e)) => bail!("{verb} {}: {e}", found.record.name),
        Err(_) => bail!("{verb} {}: the container is not running", found.record.name),
    }
}
