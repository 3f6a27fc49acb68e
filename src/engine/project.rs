//! A project's containers as a whole: `start`, `stop`, `restart`, `kill`, `rm`.
//! Each takes the project lock itself (but `kill`, which must reach a project
//! whose `up` hangs), so no command can forget it. `progress` makes the display
//! for one phase ("Stopping", "Removing", …).

use std::time::Duration;

use anyhow::{bail, Result};

use super::graph::{service_graph, with_restart_dependents};
use super::remove::remove_all;
use super::start::start as start_one;
use super::stop::{kill as kill_one, stop_all};
use super::wait::{await_condition, Condition};
use crate::compose::Project;
use crate::container::list::{find, Found};
use crate::container::observe::is_stopping;
use crate::container::ContainerState;
use crate::progress::Progress;
use crate::state::{Layout, ProjectLock};

/// The containers of project `name` that belong to `services` (all when empty);
/// one-off containers only with `oneoff`.
pub fn selected(layout: &Layout, name: &str, services: &[String], oneoff: bool) -> Vec<Found> {
    find(&layout.root, Some(name))
        .into_iter()
        .filter(|f| {
            (oneoff || !f.record.oneoff)
                && (services.is_empty() || services.contains(&f.record.service))
        })
        .collect()
}

/// `stop`: the containers of `services`, dependants first.
pub fn stop(
    layout: &Layout,
    name: &str,
    project: Option<&Project>,
    services: &[String],
    timeout: Option<Duration>,
    progress: &dyn Fn(&str) -> Progress,
) -> Result<()> {
    let _lock = ProjectLock::acquire(&layout.root, name)?;
    // Without services named, the loaded model's services: another compose file
    // of the same project keeps its containers running, as in docker compose.
    let services = match project {
        Some(p) if services.is_empty() => p.services.keys().cloned().collect(),
        _ => services.to_vec(),
    };
    let targets = selected(layout, name, &services, false);
    let progress = progress("Stopping");
    // docker compose reports a container that is already stopped as Stopped too
    // (the engine's stop of it is a no-op).
    for f in targets.iter().filter(|f| {
        !matches!(
            f.status.state,
            ContainerState::Running | ContainerState::Restarting | ContainerState::Paused
        )
    }) {
        progress
            .task(&format!("Container {}", f.record.name), "Stopping")
            .done("Stopped");
    }
    stop_all(
        layout,
        project,
        targets,
        timeout,
        &progress,
        ("Stopping", "Stopped"),
    )
}

/// `start`: the stopped containers of `services` and what they depend on,
/// dependencies first.
pub fn start(
    layout: &Layout,
    name: &str,
    project: Option<&Project>,
    services: &[String],
    progress: &dyn Fn(&str) -> Progress,
) -> Result<()> {
    let _lock = ProjectLock::acquire(&layout.root, name)?;
    start_services(
        layout,
        name,
        project,
        services,
        DepWait::All,
        &progress("Starting"),
    )
}

/// Which `depends_on` conditions `start_services` honours before starting a
/// service: `start` all of them, `restart` only those marked `restart: true`
/// (docker compose drops the others from the restart's project).
#[derive(Clone, Copy, PartialEq)]
enum DepWait {
    All,
    RestartOnly,
}

/// Starts stopped containers of `services`, dependencies first.
fn start_services(
    layout: &Layout,
    name: &str,
    project: Option<&Project>,
    services: &[String],
    dep_wait: DepWait,
    progress: &Progress,
) -> Result<()> {
    let graph = project.map(service_graph);
    // Starting a service starts what it depends on, as docker compose does.
    let services: Vec<String> = match &graph {
        Some(g) if !services.is_empty() => {
            let mut all = g.with_dependencies(services);
            // A service the loaded model leaves out (its profile not given now)
            // is still the one asked for: dropping it would select everything.
            for s in services {
                if !all.contains(s) {
                    all.push(s.clone());
                }
            }
            all
        }
        _ => services.to_vec(),
    };
    let targets = selected(layout, name, &services, false);
    if targets.is_empty() {
        bail!("no containers to start");
    }
    let mut order: Vec<String> = graph.map(|g| g.order()).unwrap_or_default();
    // Services the file does not enable (a profile not given now) still have
    // containers: they start after the rest, in name order.
    for f in &targets {
        if !order.contains(&f.record.service) {
            order.push(f.record.service.clone());
        }
    }
    for svc in order {
        if let Some(p) = project {
            if targets.iter().any(|f| f.record.service == svc) {
                wait_dependencies(layout, p, &svc, dep_wait, progress)?;
            }
        }
        for f in targets.iter().filter(|f| f.record.service == svc) {
            // One still stopping (its `stop` or `down` was killed) is started
            // again: its new supervisor takes over once the old one is gone.
            if f.status.state == ContainerState::Running && !is_stopping(&f.status) {
                continue;
            }
            let task = progress.task(&format!("Container {}", f.record.name), "Starting");
            match start_one(layout, &f.record.id) {
                Ok(()) => task.done("Started"),
                Err(e) => {
                    task.fail("Error", &crate::report::text(&e));
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Waits for the `depends_on` conditions of `svc` that can be judged from the
/// containers alone: `service_healthy` of a dependency whose service declares a
/// healthcheck, and `service_completed_successfully`.
fn wait_dependencies(
    layout: &Layout,
    project: &Project,
    svc: &str,
    dep_wait: DepWait,
    progress: &Progress,
) -> Result<()> {
    let Some(config) = project.services.get(svc) else {
        return Ok(());
    };
    for (dep, d) in &config.depends_on {
        if dep_wait == DepWait::RestartOnly && !d.restart {
            continue;
        }
        let Some(dep_svc) = project.services.get(dep) else {
            continue;
        };
        let cond = match d.condition.as_str() {
            "service_healthy"
                if dep_svc
                    .healthcheck
                    .as_ref()
                    .is_some_and(|h| !h.disable && !h.test.is_empty()) =>
            {
                Condition::Healthy
            }
            "service_completed_successfully" => Condition::Completed,
            _ => continue,
        };
        if selected(layout, &project.name, std::slice::from_ref(dep), false).is_empty() {
            continue;
        }
        if let Err(msg) = await_condition(layout, &project.name, dep, cond, progress, None)? {
            if d.required {
                bail!(msg);
            }
            progress.println(&format!("WARN[0000] {msg}"));
        }
    }
    Ok(())
}

/// `restart`: the services named and (unless `no_deps`) those that depend on
/// them with `depends_on.<svc>.restart: true`.
pub fn restart(
    layout: &Layout,
    name: &str,
    project: Option<&Project>,
    services: &[String],
    no_deps: bool,
    timeout: Option<Duration>,
    progress: &dyn Fn(&str) -> Progress,
) -> Result<()> {
    let _lock = ProjectLock::acquire(&layout.root, name)?;
    let services = match project {
        Some(p) if !no_deps && !services.is_empty() => with_restart_dependents(p, services),
        _ => services.to_vec(),
    };
    let targets = selected(layout, name, &services, false);
    let restarted: Vec<_> = targets.iter().map(|f| f.record.clone()).collect();
    stop_all(
        layout,
        project,
        targets,
        timeout,
        &progress("Restarting"),
        ("Restarting", "Stopped"),
    )?;
    start_services(
        layout,
        name,
        project,
        &services,
        DepWait::RestartOnly,
        &progress("Restarting"),
    )?;
    for r in &restarted {
        crate::events::emit(layout, r, crate::events::Action::Restart);
    }
    Ok(())
}

/// `kill`: `signal` to the running containers of `services`. No project lock:
/// killing must reach a project whose `up` or `down` hangs.
pub fn kill(
    layout: &Layout,
    name: &str,
    services: &[String],
    signal: i32,
    progress: &dyn Fn(&str) -> Progress,
) -> Result<()> {
    let targets: Vec<Found> = selected(layout, name, services, false)
        .into_iter()
        .filter(|f| f.status.state == ContainerState::Running)
        .collect();
    if targets.is_empty() {
        bail!("no container to kill");
    }
    let progress = progress("Killing");
    for f in targets {
        let task = progress.task(&format!("Container {}", f.record.name), "Killing");
        match kill_one(layout, &f, signal) {
            Ok(()) => task.done("Killed"),
            Err(e) => {
                task.fail("Error", &crate::report::text(&e));
                return Err(e);
            }
        }
    }
    Ok(())
}

/// `rm`'s choices.
#[derive(Debug, Clone, Default)]
pub struct RmOptions {
    /// `-s`: stop running containers first (else they are left alone).
    pub stop: bool,
    /// `-v`: their anonymous volumes too.
    pub volumes: bool,
}

/// `rm`: the stopped containers of `services` (one-offs included). `announce`
/// sees them before they go; returns whether there was anything to remove.
pub fn rm(
    layout: &Layout,
    name: &str,
    project: Option<&Project>,
    services: &[String],
    opts: &RmOptions,
    progress: &dyn Fn(&str) -> Progress,
    announce: &dyn Fn(&[Found]),
) -> Result<bool> {
    let _lock = ProjectLock::acquire(&layout.root, name)?;
    let mut targets = selected(layout, name, services, true);
    let running: Vec<Found> = targets
        .iter()
        .filter(|f| {
            !matches!(
                f.status.state,
                ContainerState::Exited | ContainerState::Created | ContainerState::Dead
            )
        })
        .cloned()
        .collect();
    if !running.is_empty() {
        if opts.stop {
            stop_all(
                layout,
                project,
                running,
                None,
                &progress("Stopping"),
                ("Stopping", "Stopped"),
            )?;
            targets = selected(layout, name, services, true);
        } else {
            targets.retain(|f| !running.iter().any(|r| r.record.id == f.record.id));
        }
    }
    if targets.is_empty() {
        return Ok(false);
    }
    announce(&targets);
    remove_all(layout, targets, opts.volumes, &progress("Removing"))?;
    Ok(true)
}
