//! Starting a container: its supervisor, then its service's `post_start` hooks.

use anyhow::Result;

use super::hooks;
use crate::state::Layout;
use crate::supervise::ready;

/// Starts a container's supervisor, waits until its process has started (or
/// failed), then runs its service's `post_start` hooks; a failing hook fails the
/// start and leaves the container running, as in docker compose.
pub fn start(layout: &Layout, id: &str) -> Result<()> {
    ready::spawn(layout, id)?;
    let found = hooks::found(&layout.container(id))?;
    match hooks::stored_service(&found) {
        Some(svc) if !svc.post_start.is_empty() => hooks::post_start(&svc, &found),
        _ => Ok(()),
    }
}
