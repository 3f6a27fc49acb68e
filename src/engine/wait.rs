//! `wait`: blocks until services' containers have exited, reporting their exit codes.

use std::time::Duration;

use anyhow::{bail, Result};

use super::layout::Layout;
use crate::container::list::{find, observed_status};
use crate::container::watch::StatusWatch;
use crate::container::ContainerState;

/// Waits for the containers of `services` in `project`; calls `exited(name, code)` as
/// each one exits, in order of exit, and stops after the first when `first_only`.
/// Returns the first exit code.
pub fn wait(
    layout: &Layout,
    project: &str,
    services: &[String],
    first_only: bool,
    exited: &mut dyn FnMut(&str, i32),
) -> Result<i32> {
    let mut pending: Vec<_> = find(&layout.root, Some(project))
        .into_iter()
        .filter(|f| !f.record.oneoff && services.contains(&f.record.service))
        .collect();
    for s in services {
        if !pending.iter().any(|f| &f.record.service == s) {
            bail!("service {s:?} has no container in project {project:?}");
        }
    }
    let watch = StatusWatch::new(&layout.containers())?;
    for f in &pending {
        watch.add(&f.dir);
    }
    let mut first = None;
    while !pending.is_empty() {
        let mut i = 0;
        while i < pending.len() {
            let st = observed_status(&pending[i].dir);
            if matches!(st.state, ContainerState::Exited | ContainerState::Dead)
                || !pending[i].dir.exists()
            {
                let f = pending.remove(i);
                let code = st.exit_code.unwrap_or(0);
                exited(&f.record.name, code);
                first.get_or_insert(code);
                if first_only {
                    return Ok(code);
                }
            } else {
                i += 1;
            }
        }
        if !pending.is_empty() {
            // Woken by status writes; the bound catches a supervisor that died silently.
            watch.wait(Duration::from_millis(500));
        }
    }
    Ok(first.unwrap_or(0))
}
