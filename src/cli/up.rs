//! `up`, `create`, `plan`: bring a project to what its files say.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use clap::Args;

use super::context::Ctx;
use crate::engine::down::stop_all;
use crate::engine::images::PullOverride;
use crate::engine::logs::{show, LogOptions};
use crate::engine::up::{up, UpOptions};

/// `up`'s flags, as docker compose has them.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Detached mode: run containers in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Recreate containers even if their configuration and image haven't changed
    #[arg(long, conflicts_with = "no_recreate")]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long)]
    pub no_recreate: bool,
    /// Recreate dependent containers
    #[arg(long)]
    pub always_recreate_deps: bool,
    /// Recreate anonymous volumes instead of retrieving data from the previous containers
    #[arg(short = 'V', long)]
    pub renew_anon_volumes: bool,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Don't start the services after creating them
    #[arg(long)]
    pub no_start: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Scale SERVICE to NUM instances (overrides `scale` in the Compose file)
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
    /// Use this timeout in seconds for container shutdown when containers are already running
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Pull image before running ("always"|"missing"|"never"|"policy")
    #[arg(long, default_value = "policy")]
    pub pull: String,
    /// Wait for services to be running|healthy; implies detached mode
    #[arg(long)]
    pub wait: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy
    #[arg(long)]
    pub wait_timeout: Option<u64>,
    /// Show what would be done, and why, without doing it
    #[arg(long)]
    pub dry_run: bool,
    /// Services to start (default: all)
    pub services: Vec<String>,
}

/// Parses `--scale svc=N` values.
pub fn parse_scale(values: &[String]) -> Result<BTreeMap<String, u32>> {
    values
        .iter()
        .map(|v| {
            let (s, n) = v
                .split_once('=')
                .ok_or_else(|| anyhow!("invalid --scale {v:?}: expected SERVICE=NUM"))?;
            let n: u32 = n
                .parse()
                .map_err(|_| anyhow!("invalid --scale {v:?}: {n:?} is not a number"))?;
            Ok((s.to_string(), n))
        })
        .collect()
}

fn options(a: &UpArgs) -> Result<UpOptions> {
    Ok(UpOptions {
        services: a.services.clone(),
        no_deps: a.no_deps,
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        always_recreate_deps: a.always_recreate_deps,
        renew_anon_volumes: a.renew_anon_volumes,
        no_start: a.no_start,
        remove_orphans: a.remove_orphans,
        scale: parse_scale(&a.scale)?,
        timeout: a.timeout.map(Duration::from_secs),
        pull: PullOverride::parse(&a.pull)?,
        dry_run: a.dry_run,
        wait: a.wait,
        wait_timeout: a.wait_timeout.map(Duration::from_secs),
    })
}

/// Runs `up`.
pub fn run_up(ctx: &Ctx, a: &UpArgs) -> Result<()> {
    let opts = options(a)?;
    let loaded = ctx.load(&a.services)?;
    let project = loaded.project.clone();
    let progress = ctx.progress("Running");
    let since = std::time::SystemTime::now();
    up(&ctx.layout, loaded, &opts, &progress)?;
    if a.detach || a.wait || a.dry_run || a.no_start {
        return Ok(());
    }
    attach(ctx, &project, &a.services, since)
}

/// Attached `up`: follow the logs until every container has stopped; Ctrl-C
/// stops them gracefully, a second Ctrl-C kills them.
fn attach(
    ctx: &Ctx,
    project: &crate::compose::Project,
    services: &[String],
    since: std::time::SystemTime,
) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let presses = Arc::new(AtomicU32::new(0));
    {
        let (stop, presses) = (stop.clone(), presses.clone());
        let layout = ctx.layout.clone();
        let project = project.clone();
        let name = project.name.clone();
        ctrlc_handler(move || {
            let n = presses.fetch_add(1, Ordering::SeqCst);
            let layout = layout.clone();
            let project = project.clone();
            let name = name.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let containers = crate::container::list::find(&layout.root, Some(&name));
                let progress =
                    crate::progress::Progress::new(crate::progress::Mode::Plain, "Stopping");
                if n == 0 {
                    eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                    let _ = stop_all(
                        &layout,
                        Some(&project),
                        containers,
                        None,
                        &progress,
                        ("Stopping", "Stopped"),
                    );
                } else {
                    let _ = stop_all(
                        &layout,
                        Some(&project),
                        containers,
                        Some(Duration::ZERO),
                        &progress,
                        ("Killing", "Killed"),
                    );
                }
                stop.store(true, Ordering::SeqCst);
            });
        })?;
    }
    let opts = LogOptions {
        services: services.to_vec(),
        follow: true,
        // What this `up` ran, not what earlier runs of the containers printed.
        since: Some(since),
        no_color: !std::io::IsTerminal::is_terminal(&std::io::stdout()),
        ..LogOptions::default()
    };
    show(
        &ctx.layout.root,
        &project.name,
        &opts,
        &stop,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    Ok(())
}

/// Runs `f` on SIGINT and SIGTERM, from a thread of its own.
fn ctrlc_handler(f: impl Fn() + Send + 'static) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        rt.block_on(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            loop {
                tokio::select! {
                    r = tokio::signal::ctrl_c() => if r.is_err() { return },
                    _ = term.recv() => {},
                }
                f();
            }
        })
    });
    Ok(())
}

/// `create`: `up --no-start`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Recreate containers even if their configuration and image haven't changed
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long)]
    pub no_recreate: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Scale SERVICE to NUM instances
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
    /// Pull image before running ("always"|"missing"|"never"|"policy")
    #[arg(long, default_value = "policy")]
    pub pull: String,
    /// Services to create (default: all)
    pub services: Vec<String>,
}

/// Runs `create`.
pub fn run_create(ctx: &Ctx, a: &CreateArgs) -> Result<()> {
    let loaded = ctx.load(&a.services)?;
    let opts = UpOptions {
        services: a.services.clone(),
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        remove_orphans: a.remove_orphans,
        scale: parse_scale(&a.scale)?,
        pull: PullOverride::parse(&a.pull)?,
        no_start: true,
        ..UpOptions::default()
    };
    up(&ctx.layout, loaded, &opts, &ctx.progress("Creating"))
}

/// `plan`: what `up` would do, per container, and why.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Plan as for `up --force-recreate`
    #[arg(long)]
    pub force_recreate: bool,
    /// Plan as for `up --no-recreate`
    #[arg(long)]
    pub no_recreate: bool,
    /// Plan as for `up --remove-orphans`
    #[arg(long)]
    pub remove_orphans: bool,
    /// Scale SERVICE to NUM instances
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
    /// Services (default: all)
    pub services: Vec<String>,
}

/// Runs `plan`.
pub fn run_plan(ctx: &Ctx, a: &PlanArgs) -> Result<()> {
    let loaded = ctx.load(&a.services)?;
    let opts = UpOptions {
        services: a.services.clone(),
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        remove_orphans: a.remove_orphans,
        scale: parse_scale(&a.scale)?,
        pull: PullOverride::Never,
        dry_run: true,
        ..UpOptions::default()
    };
    up(&ctx.layout, loaded, &opts, &ctx.progress("Planning"))
}
