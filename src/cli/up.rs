//! `up`, `create`, `plan`: bring a project to what its files say.

use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Result};
use clap::Args;

use super::context::Ctx;
use super::scale::parse_replicas;
use super::Exit;
use crate::compose::Project;
pub use crate::engine::attached::Cascade;
use crate::engine::attached::{self, AttachOptions};
use crate::engine::build::BuildMode;
use crate::engine::graph::Graph;
use crate::engine::images::PullOverride;
use crate::engine::up::{up, UpOptions};

/// `up`'s flags, as docker compose has them.
#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Detached mode: run containers in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Assume "yes" as answer to all prompts and run non-interactively
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
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
    /// Use this timeout in seconds for container shutdown when attached or when containers are already running
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
    /// Stops all containers if any container was stopped. Incompatible with -d
    #[arg(long)]
    pub abort_on_container_exit: bool,
    /// Stops all containers if any container exited with failure. Incompatible with -d
    #[arg(long)]
    pub abort_on_container_failure: bool,
    /// Return the exit code of the selected service container. Implies --abort-on-container-exit
    #[arg(long, value_name = "SERVICE")]
    pub exit_code_from: Option<String>,
    /// Restrict attaching to the specified services. Incompatible with --attach-dependencies
    #[arg(long, value_name = "SERVICE")]
    pub attach: Vec<String>,
    /// Do not attach (stream logs) to the specified services
    #[arg(long, value_name = "SERVICE")]
    pub no_attach: Vec<String>,
    /// Automatically attach to log output of dependent services
    #[arg(long)]
    pub attach_dependencies: bool,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// Don't print prefix in logs
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Show timestamps
    #[arg(long)]
    pub timestamps: bool,
    /// Show what would be done, and why, without doing it
    #[arg(long)]
    pub dry_run: bool,
    /// Build images before starting containers
    #[arg(long, conflicts_with = "no_build")]
    pub build: bool,
    /// Don't build an image, even if it's policy
    #[arg(long)]
    pub no_build: bool,
    /// Watch source code and rebuild/refresh containers when files are updated (with -d: in the background)
    #[arg(short, long)]
    pub watch: bool,
    /// Services to start (default: all)
    pub services: Vec<String>,
}

/// Checks flag combinations as docker compose does (same messages); returns the
/// exit policy and whether `up` runs detached.
pub fn validate_flags(a: &UpArgs) -> Result<(Cascade, bool)> {
    // --exit-code-from implies --abort-on-container-exit, unless failures abort.
    let stop =
        a.abort_on_container_exit || (a.exit_code_from.is_some() && !a.abort_on_container_failure);
    let fail = a.abort_on_container_failure;
    if stop && fail {
        bail!("--abort-on-container-failure cannot be combined with --abort-on-container-exit");
    }
    let mut detach = a.detach;
    if a.wait {
        if a.attach_dependencies || stop || !a.attach.is_empty() {
            bail!("--wait cannot be combined with --abort-on-container-exit, --attach or --attach-dependencies");
        }
        detach = true;
    }
    if detach && (a.attach_dependencies || stop || fail || !a.attach.is_empty()) {
        bail!("--detach cannot be combined with --abort-on-container-exit, --abort-on-container-failure, --attach, --attach-dependencies or --watch");
    }
    if a.renew_anon_volumes && a.no_recreate {
        bail!("--no-recreate and --renew-anon-volumes are incompatible");
    }
    if a.always_recreate_deps && a.no_recreate {
        bail!("--always-recreate-deps and --no-recreate are incompatible");
    }
    if !a.attach.is_empty() && a.attach_dependencies {
        bail!("cannot combine --attach and --attach-dependencies");
    }
    let cascade = match (stop, fail) {
        (true, _) => Cascade::Stop,
        (_, true) => Cascade::Fail,
        _ => Cascade::Ignore,
    };
    Ok((cascade, detach))
}

/// The services whose output attached `up` shows: `--attach`, or the services
/// named (all when none; with their dependencies under `--attach-dependencies`)
/// that do not say `attach: false`, less `--no-attach`.
pub fn attach_set(project: &Project, graph: &Graph, a: &UpArgs) -> Result<Vec<String>> {
    let included: Vec<String> = if a.services.is_empty() {
        project.service_names()
    } else if a.no_deps {
        a.services.clone()
    } else {
        graph.with_dependencies(&a.services)
    };
    let mut set: Vec<String> = if !a.attach.is_empty() {
        let unknown: Vec<&str> = a
            .attach
            .iter()
            .filter(|s| !included.contains(s))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            bail!(
                "cannot attach to services not included in up: {}",
                unknown.join(", ")
            );
        }
        a.attach.clone()
    } else {
        let candidates = if a.services.is_empty() || a.attach_dependencies {
            included
        } else {
            a.services.clone()
        };
        candidates
            .into_iter()
            .filter(|s| {
                project
                    .services
                    .get(s)
                    .is_some_and(|svc| svc.attach != Some(false))
            })
            .collect()
    };
    set.retain(|s| !a.no_attach.contains(s));
    set.dedup();
    Ok(set)
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
        scale: parse_replicas(&a.scale)?,
        timeout: a.timeout.map(Duration::from_secs),
        pull: PullOverride::parse(&a.pull)?,
        dry_run: a.dry_run,
        wait: a.wait,
        wait_timeout: a.wait_timeout.map(Duration::from_secs),
        build: BuildMode::from_flags(a.build, a.no_build)?,
        all_resources: false,
        approval: approval(a.yes),
    })
}

/// Runs `up`.
pub fn run_up(ctx: &Ctx, a: &UpArgs) -> Result<()> {
    let a = &UpArgs {
        services: ctx.select(&a.services)?,
        ..a.clone()
    };
    let (cascade, detach) = validate_flags(a)?;
    let mut opts = options(a)?;
    opts.all_resources = ctx.all_resources;
    let loaded = ctx.load(&a.services)?;
    super::publish::check_remote_stack(ctx, &loaded.project, a.yes)?;
    if let Some(s) = &a.exit_code_from {
        super::context::check_services(&loaded.project, std::slice::from_ref(s))?;
    }
    let attach = attach_set(&loaded.project, &loaded.graph, a)?;
    let watch_detached = a.watch && !a.dry_run && !a.no_start && detach;
    let attached = !(detach || a.dry_run || a.no_start);
    // `up` takes the project; a copy only for what runs after it (a watch, the
    // attached logs), not for a detached `up`, which would copy it for nothing.
    let project = (watch_detached || attached).then(|| loaded.project.clone());
    let progress = ctx.progress("Running");
    let since = SystemTime::now();
    up(&ctx.layout, loaded, &opts, &progress)?;
    let Some(project) = project else {
        return Ok(());
    };
    if watch_detached {
        return super::watch::start_detached(ctx, &project, &watch_args(a));
    }
    let watcher = a
        .watch
        .then(|| super::watch::background(ctx, &project, &watch_args(a)))
        .transpose()?;
    let code = attached::run(
        &ctx.layout,
        project,
        &AttachOptions {
            services: a.services.clone(),
            timeout: a.timeout.map(Duration::from_secs),
            cascade,
            attach,
            since,
            no_color: a.no_color || !std::io::stdout().is_terminal(),
            no_prefix: a.no_log_prefix,
            timestamps: a.timestamps,
            exit_code_from: a.exit_code_from.clone(),
        },
    );
    if let Some(w) = watcher {
        w.stop();
    }
    match code? {
        0 => Ok(()),
        c => Err(Exit(c).into()),
    }
}

fn watch_args(a: &UpArgs) -> super::watch::WatchArgs {
    super::watch::WatchArgs {
        no_up: true,
        prune: true,
        quiet: false,
        detach: false,
        stop: false,
        status: false,
        logs: false,
        follow: false,
        supervise: false,
        worker: false,
        apply: false,
        services: a.services.clone(),
    }
}

/// How `-y` answers docker compose's prompts.
fn approval(yes: bool) -> crate::engine::volume::Approval {
    if yes {
        crate::engine::volume::Approval::Yes
    } else {
        crate::engine::volume::Approval::Ask
    }
}

/// `create`: `up --no-start`.
#[derive(Debug, Clone, Args)]
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
    /// Build images before starting containers
    #[arg(long, conflicts_with = "no_build")]
    pub build: bool,
    /// Don't build an image, even if it's policy
    #[arg(long)]
    pub no_build: bool,
    /// Assume "yes" as answer to all prompts and run non-interactively
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
    /// Services to create (default: all)
    pub services: Vec<String>,
}

/// Runs `create`.
pub fn run_create(ctx: &Ctx, a: &CreateArgs) -> Result<()> {
    let a = &CreateArgs {
        services: ctx.select(&a.services)?,
        ..a.clone()
    };
    let loaded = ctx.load(&a.services)?;
    let opts = UpOptions {
        services: a.services.clone(),
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        remove_orphans: a.remove_orphans,
        scale: parse_replicas(&a.scale)?,
        pull: PullOverride::parse(&a.pull)?,
        build: BuildMode::from_flags(a.build, a.no_build)?,
        no_start: true,
        all_resources: ctx.all_resources,
        approval: approval(a.yes),
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
        scale: parse_replicas(&a.scale)?,
        pull: PullOverride::Never,
        dry_run: true,
        ..UpOptions::default()
    };
    up(&ctx.layout, loaded, &opts, &ctx.progress("Planning"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        up: UpArgs,
    }

    fn check(args: &[&str]) -> Result<(Cascade, bool)> {
        let w = Wrap::try_parse_from(std::iter::once("up").chain(args.iter().copied()))?;
        validate_flags(&w.up)
    }

    #[test]
    fn exit_code_from_implies_abort_unless_failures_abort() {
        assert_eq!(check(&[]).unwrap(), (Cascade::Ignore, false));
        assert_eq!(check(&["--exit-code-from", "a"]).unwrap().0, Cascade::Stop);
        assert_eq!(
            check(&["--exit-code-from", "a", "--abort-on-container-failure"])
                .unwrap()
                .0,
            Cascade::Fail
        );
        assert_eq!(check(&["--wait"]).unwrap(), (Cascade::Ignore, true));
    }

    #[test]
    fn conflicts_are_docker_compose_errors() {
        for (args, msg) in [
            (
                &["-d", "--abort-on-container-failure"][..],
                "--detach cannot be combined",
            ),
            (
                &["--wait", "--attach", "a"][..],
                "--wait cannot be combined",
            ),
            (
                &["--abort-on-container-exit", "--abort-on-container-failure"][..],
                "--abort-on-container-failure cannot be combined with --abort-on-container-exit",
            ),
            (
                &["--no-recreate", "-V"][..],
                "--no-recreate and --renew-anon-volumes are incompatible",
            ),
        ] {
            let e = check(args).unwrap_err().to_string();
            assert!(e.starts_with(msg), "{args:?}: {e}");
        }
    }
}
