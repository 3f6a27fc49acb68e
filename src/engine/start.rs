//! Starting a container: its supervisor, then its service's `post_start` hooks.

use anyhow::Result;

use super::{hooks, network};
use crate::compose::model::ServiceConfig;
use crate::state::Layout;
use crate::supervise::ready;

/// Starts a container's supervisor, waits until its process has started (or
/// failed), then runs its service's `post_start` hooks; a failing hook fails the
/// start and leaves the container running, as in docker compose.
pub fn start(layout: &Layout, id: &str) -> Result<()> {
    // The container and its service as created, read once: the network mode
    // before the start, the hooks after (`exec` needs its record, not status).
    let found = hooks::found(&layout.container(id))?;
    let stored = hooks::stored_service(&found);
    if let Some(svc) = &stored {
        network::ensure_own_netns(layout, id, &svc.network_mode)?;
    }
    ready::spawn(layout, id)?;
    match stored {
        Some(svc) if !svc.post_start.is_empty() => hooks::post_start(&svc, &found),
        _ => Ok(()),
    }
}

/// [`start`] for a container of `svc` (as it was created): its `post_start`
/// hooks come from `svc`, so nothing is read back when it has none.
pub fn start_service(layout: &Layout, id: &str, svc: &ServiceConfig) -> Result<()> {
    network::ensure_own_netns(layout, id, &svc.network_mode)?;
    ready::spawn(layout, id)?;
    if svc.post_start.is_empty() {
        return Ok(());
    }
    let found = hooks::found(&layout.container(id))?;
    hooks::post_start(svc, &found)
}
