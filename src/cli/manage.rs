//! `down`, `start`, `stop`, `restart`, `kill`, `rm`: acting on a project's containers.

use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

use super::context::Ctx;
use crate::container::list::{find, Found};
use crate::container::ContainerState;
use crate::engine::down::{down, remove_all, stop_all, DownOptions};
use crate::engine::lifecycle;
use crate::engine::settings::signal_number;
use crate::engine::up::service_graph;
use crate::state::ProjectLock;

/// `down`'s flags.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers
    #[arg(short, long)]
    pub volumes: bool,
    /// Remove images used by services. "local" remove only images that don't have a custom tag ("local"|"all")
    #[arg(long, value_parser = ["local", "all"])]
    pub rmi: Option<String>,
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
}

/// Runs `down`.
pub fn run_down(ctx: &Ctx, a: &DownArgs) -> Result<()> {
    let (name, project) = ctx.project_maybe()?;
    // A detached watch would sync into, or rebuild, what down removes.
    crate::watch::detach::stop(&ctx.layout, &name)?;
    crate::watch::detach::forget(&ctx.layout, &name);
    down(
        &ctx.layout,
        &name,
        project.as_ref(),
        &DownOptions {
            remove_orphans: a.remove_orphans,
            volumes: a.volumes,
            rmi: a.rmi.clone(),
            timeout: a.timeout.map(Duration::from_secs),
        },
        &ctx.progress("Running"),
    )
}

fn selected(ctx: &Ctx, name: &str, services: &[String], oneoff: bool) -> Vec<Found> {
    find(&ctx.layout.root, Some(name))
        .into_iter()
        .filter(|f| {
            (oneoff || !f.record.oneoff)
                && (services.is_empty() || services.contains(&f.record.service))
        })
        .collect()
}

/// `stop`'s and `restart`'s flags.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Services (default: all)
    pub services: Vec<String>,
}

/// Runs `stop`.
pub fn run_stop(ctx: &Ctx, a: &StopArgs) -> Result<()> {
    let (name, project) = ctx.project_maybe()?;
    if a.services.is_empty() {
        crate::watch::detach::stop(&ctx.layout, &name)?;
    }
    let _lock = ProjectLock::acquire(&ctx.layout.root, &name)?;
    let targets = selected(ctx, &name, &a.services, false);
    stop_all(
        &ctx.layout,
        project.as_ref(),
        targets,
        a.timeout.map(Duration::from_secs),
        &ctx.progress("Stopping"),
        ("Stopping", "Stopped"),
    )
}

/// `start`'s flags.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Services (default: all)
    pub services: Vec<String>,
}

/// Starts stopped containers of `services`, dependencies first.
fn start_services(
    ctx: &Ctx,
    name: &str,
    project: Option<&crate::compose::Project>,
    services: &[String],
    word: &str,
) -> Result<()> {
    let progress = ctx.progress(word);
    // Starting a service starts what it depends on, as docker compose does.
    let services: Vec<String> = match project {
        Some(p) if !services.is_empty() => service_graph(p).with_dependencies(services),
        _ => services.to_vec(),
    };
    let targets = selected(ctx, name, &services, false);
    if targets.is_empty() {
        bail!("no containers to start");
    }
    let mut order: Vec<String> = match project {
        Some(p) => {
            let g = service_graph(p);
            let mut order: Vec<String> = vec![];
            // Dependencies before dependants: repeatedly take services whose deps are placed.
            let all: Vec<String> = g.nodes().map(String::from).collect();
            let deps = |s: &str| {
                p.services
                    .get(s)
                    .map(crate::engine::up::graph_deps_of)
                    .unwrap_or_default()
            };
            while order.len() < all.len() {
                let before = order.len();
                for s in &all {
                    if !order.contains(s)
                        && deps(s)
                            .iter()
                            .all(|d| order.contains(d) || !all.contains(d))
                    {
                        order.push(s.clone());
                    }
                }
                if order.len() == before {
                    break;
                }
            }
            order
        }
        None => vec![],
    };
    // Services the file does not enable (a profile not given now) still have
    // containers: they start after the rest, in name order.
    for f in &targets {
        if !order.contains(&f.record.service) {
            order.push(f.record.service.clone());
        }
    }
    for svc in order {
        for f in targets.iter().filter(|f| f.record.service == svc) {
            // One still stopping (its `stop` or `down` was killed) is started
            // again: its new supervisor takes over once the old one is gone.
            if f.status.state == ContainerState::Running
                && !crate::container::observe::is_stopping(&f.status)
            {
                continue;
            }
            let task = progress.task(&format!("Container {}", f.record.name), "Starting");
            match lifecycle::start(&ctx.layout, &f.record.id) {
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

/// Runs `start`.
pub fn run_start(ctx: &Ctx, a: &StartArgs) -> Result<()> {
    let (name, project) = ctx.project_maybe()?;
    let _lock = ProjectLock::acquire(&ctx.layout.root, &name)?;
    start_services(ctx, &name, project.as_ref(), &a.services, "Starting")
}

/// Runs `restart`.
/// `restart`'s flags, as docker compose has them.
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Don't restart dependent services
    #[arg(long)]
    pub no_deps: bool,
    /// Services (default: all)
    pub services: Vec<String>,
}

/// Runs `restart`: the services named, and (unless `--no-deps`) the services that
/// depend on them with `depends_on.<svc>.restart: true`.
pub fn run_restart(ctx: &Ctx, a: &RestartArgs) -> Result<()> {
    let (name, project) = ctx.project_maybe()?;
    let _lock = ProjectLock::acquire(&ctx.layout.root, &name)?;
    let services = match &project {
        Some(p) if !a.no_deps && !a.services.is_empty() => {
            crate::engine::graph::with_restart_dependents(p, &a.services)
        }
        _ => a.services.clone(),
    };
    let a = &RestartArgs {
        timeout: a.timeout,
        no_deps: a.no_deps,
        services,
    };
    let targets = selected(ctx, &name, &a.services, false);
    let restarted: Vec<_> = targets.iter().map(|f| f.record.clone()).collect();
    stop_all(
        &ctx.layout,
        project.as_ref(),
        targets,
        a.timeout.map(Duration::from_secs),
        &ctx.progress("Restarting"),
        ("Restarting", "Stopped"),
    )?;
    start_services(ctx, &name, project.as_ref(), &a.services, "Restarting")?;
    for r in &restarted {
        crate::events::emit(&ctx.layout, r, crate::events::Action::Restart);
    }
    Ok(())
}

/// `kill`'s flags.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// SIGNAL to send to the container
    #[arg(short, long, default_value = "SIGKILL")]
    pub signal: String,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Services (default: all)
    pub services: Vec<String>,
}

/// Runs `kill`.
pub fn run_kill(ctx: &Ctx, a: &KillArgs) -> Result<()> {
    let (name, _) = ctx.project_maybe()?;
    let sig =
        signal_number(&a.signal).ok_or_else(|| anyhow::anyhow!("invalid signal {:?}", a.signal))?;
    let progress = ctx.progress("Killing");
    let targets: Vec<Found> = selected(ctx, &name, &a.services, false)
        .into_iter()
        .filter(|f| f.status.state == ContainerState::Running)
        .collect();
    if targets.is_empty() {
        bail!("no container to kill");
    }
    for f in targets {
        let task = progress.task(&format!("Container {}", f.record.name), "Killing");
        match lifecycle::kill(&ctx.layout, &f, sig) {
            Ok(()) => task.done("Killed"),
            Err(e) => {
                task.fail("Error", &crate::report::text(&e));
                return Err(e);
            }
        }
    }
    Ok(())
}

/// `rm`'s flags.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Don't ask to confirm removal
    #[arg(short, long)]
    pub force: bool,
    /// Stop the containers, if required, before removing
    #[arg(short, long)]
    pub stop: bool,
    /// Remove any anonymous volumes attached to containers
    #[arg(short, long)]
    pub volumes: bool,
    /// Services (default: all)
    pub services: Vec<String>,
}

/// Runs `rm`.
pub fn run_rm(ctx: &Ctx, a: &RmArgs) -> Result<()> {
    let (name, project) = ctx.project_maybe()?;
    let _lock = ProjectLock::acquire(&ctx.layout.root, &name)?;
    let mut targets = selected(ctx, &name, &a.services, true);
    let running: Vec<Found> = targets
        .iter()
        .filter(|f| {
            f.status.state != ContainerState::Exited
                && f.status.state != ContainerState::Created
                && f.status.state != ContainerState::Dead
        })
        .cloned()
        .collect();
    if !running.is_empty() {
        if a.stop {
            stop_all(
                &ctx.layout,
                project.as_ref(),
                running,
                None,
                &ctx.progress("Stopping"),
                ("Stopping", "Stopped"),
            )?;
            targets = selected(ctx, &name, &a.services, true);
        } else {
            targets.retain(|f| !running.iter().any(|r| r.record.id == f.record.id));
        }
    }
    if targets.is_empty() {
        println!("No stopped containers");
        return Ok(());
    }
    if !a.force {
        eprintln!(
            "Going to remove {}",
            targets
                .iter()
                .map(|f| f.record.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    remove_all(&ctx.layout, targets, a.volumes, &ctx.progress("Removing"))
}
