//! `up`, `create`, `plan`: bring a project to what its files say.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Result};
use clap::Args;

use super::context::Ctx;
use super::scale::parse_replicas;
use super::Exit;
use crate::compose::Project;
use crate::container::list::find;
use crate::container::ContainerState;
use crate::engine::down::stop_all;
use crate::engine::images::PullOverride;
use crate::engine::layout::Layout;
use crate::engine::logs::{Follower, LogOptions};
use crate::engine::monitor::Monitor;
use crate::engine::up::{service_graph, up, UpOptions};
use crate::progress::{Mode, Progress};

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
    /// Services to start (default: all)
    pub services: Vec<String>,
}

/// What attached `up` does when a container exits (docker compose's `OnExit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cascade {
    /// Keep going until every watched container has exited.
    Ignore,
    /// `--abort-on-container-exit`: stop everything on the first exit.
    Stop,
    /// `--abort-on-container-failure`: stop everything on the first non-zero exit.
    Fail,
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
pub fn attach_set(project: &Project, a: &UpArgs) -> Result<Vec<String>> {
    let graph = service_graph(project);
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
    })
}

/// Runs `up`.
pub fn run_up(ctx: &Ctx, a: &UpArgs) -> Result<()> {
    let (cascade, detach) = validate_flags(a)?;
    let opts = options(a)?;
    let loaded = ctx.load(&a.services)?;
    let project = loaded.project.clone();
    if let Some(s) = &a.exit_code_from {
        super::context::check_services(&project, std::slice::from_ref(s))?;
    }
    let attach = attach_set(&project, a)?;
    let progress = ctx.progress("Running");
    let since = SystemTime::now();
    up(&ctx.layout, loaded, &opts, &progress)?;
    if detach || a.dry_run || a.no_start {
        return Ok(());
    }
    Session {
        layout: ctx.layout.clone(),
        project: Arc::new(project),
        services: a.services.clone(),
        timeout: a.timeout.map(Duration::from_secs),
        in_flight: Arc::new(AtomicUsize::new(0)),
        stops_done: Arc::new(AtomicUsize::new(0)),
    }
    .attach(a, cascade, &attach, since)
}

/// Attached `up` after the containers started: their logs, their exits, and
/// stopping them on Ctrl-C or on the exit `--abort-on-container-*` watches for.
/// Cloned into the threads that stop containers in the background.
#[derive(Clone)]
struct Session {
    layout: Layout,
    project: Arc<Project>,
    /// The services named on the command line: what Ctrl-C and aborts stop.
    services: Vec<String>,
    timeout: Option<Duration>,
    /// Stops running in the background.
    in_flight: Arc<AtomicUsize>,
    /// Stops finished.
    stops_done: Arc<AtomicUsize>,
}

impl Session {
    /// Follows logs and exits until every watched container has exited or a
    /// stop has finished; returns docker compose's exit status.
    fn attach(
        &self,
        a: &UpArgs,
        cascade: Cascade,
        attach: &[String],
        since: SystemTime,
    ) -> Result<()> {
        let presses = Arc::new(AtomicU32::new(0));
        {
            let session = self.clone();
            let presses = presses.clone();
            ctrlc_handler(move || {
                if presses.fetch_add(1, Ordering::SeqCst) == 0 {
                    eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                    session.stop(false);
                } else {
                    session.stop(true);
                }
            })?;
        }
        let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
        let log_opts = LogOptions {
            services: attach.to_vec(),
            follow: true,
            // What this `up` ran, not what earlier runs of the containers printed.
            since: Some(since),
            no_color: a.no_color || !out.is_terminal(),
            no_prefix: a.no_log_prefix,
            timestamps: a.timestamps,
            ..LogOptions::default()
        };
        let mut follower = (!attach.is_empty())
            .then(|| Follower::new(&self.layout.root, &self.project.name, &log_opts));
        if let Some(f) = follower.as_mut() {
            let names = f.names();
            if !names.is_empty() {
                println!("Attaching to {}", names.join(", "));
            }
            f.backlog(&mut out, &mut err);
        }
        // docker compose watches the services named, or else the attached ones.
        let watched = if self.services.is_empty() {
            attach.to_vec()
        } else {
            self.services.clone()
        };
        let mut monitor = Monitor::new(&self.layout.root, &self.project.name, &watched, since);
        let (mut aborting, mut exit_code, mut captured) = (false, 0, false);
        loop {
            let stopped_before = self.stops_done.load(Ordering::SeqCst) > 0;
            let events = monitor.poll();
            if let Some(f) = follower.as_mut() {
                f.rescan_due();
                f.pump(&mut out, &mut err);
            }
            for ev in &events {
                let msg = format!("exited with code {}", ev.exit_code);
                match &follower {
                    Some(f) => f.status(&mut out, &ev.id, &ev.name, &msg),
                    None => println!("{} {msg}", ev.name),
                }
                let aborts = match cascade {
                    Cascade::Ignore => false,
                    Cascade::Stop => true,
                    Cascade::Fail => ev.exit_code != 0,
                };
                if aborts && !aborting {
                    aborting = true;
                    exit_code = ev.exit_code;
                    println!("Aborting on container exit...");
                    self.clone().stop(false);
                }
                if !captured && a.exit_code_from.as_ref() == Some(&ev.service) {
                    captured = true;
                    exit_code = ev.exit_code;
                }
            }
            let busy = self.in_flight.load(Ordering::SeqCst) > 0;
            if !busy && (monitor.finished() || stopped_before) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(f) = follower.as_mut() {
            f.pump(&mut out, &mut err);
        }
        // Interrupted, docker compose (v5) exits 130 as a shell reports SIGINT.
        if presses.load(Ordering::SeqCst) > 0 {
            return Err(Exit(130).into());
        }
        match exit_code {
            0 => Ok(()),
            c => Err(Exit(c).into()),
        }
    }
}

impl Session {
    /// Stops (or, `force`, kills) the services `up` was asked for (all when
    /// none were named) from a thread of its own.
    fn stop(&self, force: bool) {
        let me = self.clone();
        me.in_flight.fetch_add(1, Ordering::SeqCst);
        std::thread::spawn(move || {
            let services = &me.services;
            let containers: Vec<_> = find(&me.layout.root, Some(&me.project.name))
                .into_iter()
                .filter(|f| {
                    !f.record.oneoff
                        && if services.is_empty() {
                            me.project.services.contains_key(&f.record.service)
                        } else {
                            services.contains(&f.record.service)
                        }
                })
                .collect();
            let progress = Progress::new(Mode::Plain, "Stopping");
            let (word, timeout) = if force {
                (("Killing", "Killed"), Some(Duration::ZERO))
            } else {
                (("Stopping", "Stopped"), me.timeout)
            };
            let (running, ended): (Vec<_>, Vec<_>) = containers.into_iter().partition(|f| {
                matches!(
                    f.status.state,
                    ContainerState::Running | ContainerState::Restarting | ContainerState::Paused
                )
            });
            // docker compose reports the containers that had already exited as
            // stopped too: the project is stopped, whatever each one was doing.
            if !force {
                for f in &ended {
                    progress
                        .task(&format!("Container {}", f.record.name), word.0)
                        .done(word.1);
                }
            }
            let _ = stop_all(
                &me.layout,
                Some(&me.project),
                running,
                timeout,
                &progress,
                word,
            );
            me.stops_done.fetch_add(1, Ordering::SeqCst);
            me.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Runs `f` on SIGINT and SIGTERM, from a thread of its own. The handlers are
/// in place when this returns: a Ctrl-C right after never kills berth outright.
fn ctrlc_handler(f: impl Fn() + Send + 'static) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut int, mut term) = {
        let _in_runtime = rt.enter();
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        )
    };
    std::thread::spawn(move || {
        rt.block_on(async move {
            loop {
                tokio::select! {
                    r = int.recv() => if r.is_none() { return },
                    r = term.recv() => if r.is_none() { return },
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
        scale: parse_replicas(&a.scale)?,
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
