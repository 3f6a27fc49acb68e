//! `down`, `start`, `stop`, `restart`, `kill`, `rm`: acting on a project's containers.

use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::context::Ctx;
use crate::container::list::Found;
use crate::engine::down::{down, DownOptions};
use crate::engine::project::{self, RmOptions};
use crate::engine::settings::signal_number;

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
    /// Services (default: the whole project)
    pub services: Vec<String>,
}

/// Runs `down`.
pub fn run_down(ctx: &Ctx, a: &DownArgs) -> Result<()> {
    let (name, project) = ctx.project_maybe()?;
    // A detached watch would sync into, or rebuild, what down removes.
    if a.services.is_empty() {
        crate::watch::detach::stop(&ctx.layout, &name)?;
        crate::watch::detach::forget(&ctx.layout, &name);
    }
    down(
        &ctx.layout,
        &name,
        project.as_ref(),
        &DownOptions {
            remove_orphans: a.remove_orphans,
            volumes: a.volumes,
            rmi: a.rmi.clone(),
            timeout: a.timeout.map(Duration::from_secs),
            services: a.services.clone(),
        },
        &ctx.progress("Running"),
    )
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
    project::stop(
        &ctx.layout,
        &name,
        project.as_ref(),
        &a.services,
        a.timeout.map(Duration::from_secs),
        &|word| ctx.progress(word),
    )
}

/// `start`'s flags.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Services (default: all)
    pub services: Vec<String>,
}

/// Runs `start`.
pub fn run_start(ctx: &Ctx, a: &StartArgs) -> Result<()> {
    let (name, project) = ctx.project_maybe()?;
    project::start(&ctx.layout, &name, project.as_ref(), &a.services, &|word| {
        ctx.progress(word)
    })
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
    project::restart(
        &ctx.layout,
        &name,
        project.as_ref(),
        &a.services,
        a.no_deps,
        a.timeout.map(Duration::from_secs),
        &|word| ctx.progress(word),
    )
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
    project::kill(&ctx.layout, &name, &a.services, sig, &|word| {
        ctx.progress(word)
    })
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
    let announce = |targets: &[Found]| {
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
    };
    let removed = project::rm(
        &ctx.layout,
        &name,
        project.as_ref(),
        &a.services,
        &RmOptions {
            stop: a.stop,
            volumes: a.volumes,
        },
        &|word| ctx.progress(word),
        &announce,
    )?;
    if !removed {
        println!("No stopped containers");
    }
    Ok(())
}
