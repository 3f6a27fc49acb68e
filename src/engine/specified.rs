//! The one container a per-container command (`export`, `commit`) acts on, picked
//! as docker compose's `getSpecifiedContainer` does: the service's running (or
//! paused) containers, `--index` narrowing to one replica, the lowest number
//! first and one-off containers last.

use anyhow::{bail, Result};

use crate::container::list::{find, Found};
use crate::container::ContainerState;
use crate::state::Layout;

/// The container of `service` in `project` that a command acts on; `index` (from
/// 1) picks a replica.
pub fn specified_container(
    layout: &Layout,
    project: &str,
    service: &str,
    index: Option<u32>,
) -> Result<Found> {
    let mut mine: Vec<Found> = find(&layout.root, Some(project))
        .into_iter()
        .filter(|f| f.record.service == service)
        .filter(|f| {
            matches!(
                f.status.state,
                ContainerState::Running | ContainerState::Paused | ContainerState::Restarting
            )
        })
        .filter(|f| index.is_none_or(|i| f.record.number == i))
        .collect();
    mine.sort_by_key(|f| (f.record.oneoff, f.record.number));
    if mine.is_empty() {
        match index {
            Some(i) => bail!("service {service:?} is not running container #{i}"),
            None => bail!("service {service:?} is not running"),
        }
    }
    Ok(mine.swap_remove(0))
}
