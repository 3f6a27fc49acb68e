//! `up` (and `create`): images, networks, volumes, then containers in dependency
//! order, recreating exactly what changed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};

use super::create::{create, rename, CreateRequest};
use super::graph::{shares_with, Direction, Graph};
use super::images::PullOverride;
use super::load::Loaded;
use super::network;
use super::pre_start::PreStart;
use super::remove::stop_and_remove;
use super::repair::{network_lost, repair};
use super::settings::unsupported_keys;
use super::start::start_service;
use super::stop::{stop, stop_params};
use super::wait::{await_condition, wait_ready, Condition};
use crate::compose::model::ServiceConfig;
use crate::compose::Project;
use crate::container::list::{find, Found};
use crate::container::observe::is_stopping;
use crate::image::{RuntimeImage, Store};
use crate::plan::{plan, Action, ContainerPlan, Desired, PlanOptions};
use crate::progress::Progress;
use crate::state::{ContainerDir, Layout, ProjectLock};

/// `up`'s flags.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Services named on the command line (empty: all).
    pub services: Vec<String>,
    /// `--no-deps`.
    pub no_deps: bool,
    /// `--force-recreate`.
    pub force_recreate: bool,
    /// `--no-recreate`.
    pub no_recreate: bool,
    /// `--always-recreate-deps`.
    pub always_recreate_deps: bool,
    /// `-V`: fresh anonymous volumes for recreated containers.
    pub renew_anon_volumes: bool,
    /// `--no-start` (and `create`).
    pub no_start: bool,
    /// `--remove-orphans`.
    pub remove_orphans: bool,
    /// `--scale svc=N`.
    pub scale: BTreeMap<String, u32>,
    /// `-t`: stop timeout for replaced containers.
    pub timeout: Option<Duration>,
    /// `--pull`.
    pub pull: PullOverride,
    /// `--dry-run` / `plan`: say what would happen, do nothing.
    pub dry_run: bool,
    /// `--wait`: return when services are running or healthy.
    pub wait: bool,
    /// `--wait-timeout`.
    pub wait_timeout: Option<Duration>,
    /// `--build` / `--no-build`.
    pub build: super::build::BuildMode,
    /// The global `--all-resources`: make networks and volumes no service uses.
    pub all_resources: bool,
    /// `-y`: recreate a volume whose definition changed without asking.
    pub approval: super::volume::Approval,
}

fn replicas(svc: &ServiceConfig, opts: &UpOptions) -> u32 {
    if let Some(n) = opts.scale.get(&svc.name) {
        return *n;
    }
    if let Some(n) = svc.scale {
        return n.max(0) as u32;
    }
    svc.deploy
        .as_ref()
        .and_then(|d| d.replicas)
        .map(|n| n.max(0) as u32)
        .unwrap_or(1)
}

/// Runs `up` for a loaded project.
pub fn up(layout: &Layout, loaded: Loaded, opts: &UpOptions, progress: &Progress) -> Result<()> {
    let graph = loaded.graph;
    let project = Arc::new(loaded.project);
    let selected: Vec<String> = if opts.services.is_empty() {
        project.service_names()
    } else {
        for s in &opts.services {
            if !project.services.contains_key(s) {
                bail!("no such service: {s}");
            }
        }
        if opts.no_deps {
            opts.services.clone()
        } else {
            graph.with_dependencies(&opts.services)
        }
    };
    super::models::check_models(&project, &selected)?;
    // COMPOSE_REMOVE_ORPHANS (environment or .env) turns --remove-orphans on.
    let mut opts = opts.clone();
    if project
        .environment
        .get("COMPOSE_REMOVE_ORPHANS")
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
    {
        opts.remove_orphans = true;
    }
    let opts = &opts;
    let _lock = ProjectLock::acquire(&layout.root, &project.name)?;
    repair(layout, &project.name);

    for name in &selected {
        for key in unsupported_keys(&project.services[name]) {
            progress.println(&format!(
                "WARN[0000] services.{name}.{key} is not supported by berth yet and is ignored"
            ));
        }
    }

    if let Some(w) = crate::rootless::project::check(&project, &selected)? {
        progress.println(&w);
    }
    for name in &selected {
        check_healthcheck(&project.services[name])?;
    }

    // Images: a dry run pulls and builds nothing, it plans with what is here.
    let store = Store::open(&layout.root)?;
    let (images, image_ids): (BTreeMap<String, RuntimeImage>, BTreeMap<String, String>) =
        if opts.dry_run {
            (
                BTreeMap::new(),
                local_image_ids(&store, &project, &selected, progress),
            )
        } else {
            let (images, _built) = super::build::ensure_images(
                &store, &project, &selected, opts.pull, opts.build, progress,
            )?;
            let ids = images
                .iter()
                .map(|(name, i)| (name.clone(), i.id.to_string()))
                .collect();
            (images, ids)
        };
    // The images `type: image` volumes mount: pulled when missing; their ids
    // count in the config hash (a rebuilt source recreates its consumers).
    let hashes = if opts.dry_run {
        loaded.hashes.clone()
    } else {
        super::image_volume::ensure_sources(&store, &project, &selected, &loaded.hashes, progress)?
    };

    // Volumes and networks before the containers on them: made, or replaced
    // when their definition changed (which stops or removes their containers).
    if !opts.dry_run {
        super::volume::ensure_volumes(
            layout,
            &project,
            &selected,
            opts.all_resources,
            opts.approval,
            progress,
        )?;
        super::network_change::reconcile_networks(
            layout,
            &project,
            &selected,
            opts.all_resources,
            progress,
        )?;
    }

    // Plan against what exists.
    let existing: Vec<Found> = find(&layout.root, Some(&project.name));
    let desired: Vec<Desired> = selected
        .iter()
        .map(|name| {
            let svc = &project.services[name];
            Desired::of_service(
                &project,
                svc,
                replicas(svc, opts),
                hashes.get(name).cloned().unwrap_or_default(),
                image_ids.get(name).cloned().unwrap_or_default(),
                shares_with(svc),
            )
        })
        .collect();
    let stored =
        |f: &Found| -> Option<serde_json::Value> { ContainerDir::new(&f.dir).read_service() };
    let known_services: Vec<String> = project.all_services().map(|s| s.name.clone()).collect();
    // Containers of services still in the file but not selected are not orphans.
    let considered = existing.iter().filter(|f| {
        selected.contains(&f.record.service) || !known_services.contains(&f.record.service)
    });
    let the_plan = plan(
        &desired,
        considered,
        &stored,
        &PlanOptions {
            force_recreate: opts.force_recreate,
            no_recreate: opts.no_recreate,
            always_recreate_deps: opts.always_recreate_deps,
            remove_orphans: opts.remove_orphans,
            selected: opts.services.clone(),
        },
    );
    if !the_plan.orphans.is_empty() && !opts.remove_orphans {
        progress.println(&format!(
            "WARN[0000] Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            the_plan.orphans.join(" ")
        ));
    }
    if opts.dry_run {
        print!("{the_plan}");
        return Ok(());
    }

    // A no-op `up`: nothing waits on anything, so no runtime and no thread per
    // service; each service only reports its containers.
    let all_kept = the_plan.containers.iter().all(|p| p.action == Action::Keep);
    // From here on state is written: Ctrl-C waits for the container in flight.
    // Not for a no-op `up`, which makes no container (a network it repairs is
    // as safe against Ctrl-C as against a kill): no signal thread to start.
    let interrupt = if all_kept {
        super::interrupt::Interrupt::none()
    } else {
        super::interrupt::Interrupt::on_signals()?
    };
    let dns_needed = network::make_networks(layout, &project, &selected, progress)?;
    let dns = network::DnsReady::start(layout, dns_needed)?;

    // Containers, along the graph.
    let mut per_service: BTreeMap<String, Vec<ContainerPlan>> = BTreeMap::new();
    for c in the_plan.containers {
        per_service.entry(c.service.clone()).or_default().push(c);
    }
    let orphans: Vec<ContainerPlan> = per_service
        .iter()
        .filter(|(s, _)| !project.services.contains_key(*s))
        .flat_map(|(_, v)| v.clone())
        .collect();
    let sub_graph = graph.restricted_to(&selected);
    let ctx = Arc::new(Ctx {
        layout: layout.clone(),
        project: project.clone(),
        hashes,
        images,
        per_service,
        existing,
        opts: opts.clone(),
        progress: progress.clone(),
        nft_tables: Default::default(),
        interrupt,
        dns,
    });
    if all_kept {
        for svc in sub_graph.order() {
            converge_service(&ctx, &svc)?;
        }
    } else {
        walk_services(&ctx, &sub_graph)?;
    }
    // Also when no container started: `up` returns with names served.
    ctx.dns.wait()?;
    for o in orphans {
        if let (Some(id), Some(name)) = (&o.id, &o.name) {
            let task = progress.task(&format!("Container {name}"), "Removing");
            let found = ctx.existing.iter().find(|f| &f.record.id == id).cloned();
            if let Some(f) = found {
                ctx.remove(&f, false)?;
            }
            task.done("Removed");
        }
    }
    if opts.wait && !opts.no_start {
        let jobs = jobs_among(&project, &selected);
        wait_ready(
            layout,
            &project.name,
            &selected,
            &jobs,
            opts.wait_timeout,
            progress,
        )?;
    }
    Ok(())
}

/// Converges the services along the graph, each in a thread of its own once
/// what it depends on is done.
fn walk_services(ctx: &Arc<Ctx>, graph: &Graph) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .enable_all()
        .build()?;
    rt.block_on(graph.walk(Direction::Forward, |svc| {
        let ctx = ctx.clone();
        async move {
            tokio::task::spawn_blocking(move || converge_service(&ctx, &svc))
                .await
                .map_err(|e| anyhow!("{e}"))?
        }
    }))
    .map_err(|e| {
        if ctx.interrupt.hit() {
            anyhow!(super::interrupt::Interrupted)
        } else {
            e
        }
    })?;
    Ok(())
}

/// Rejects what docker compose rejects when it creates a service's container:
/// a `start_interval` means nothing without the `start_period` it applies in.
fn check_healthcheck(svc: &ServiceConfig) -> Result<()> {
    if let Some(hc) = &svc.healthcheck {
        if hc.start_interval.is_some() && hc.start_period.is_none() {
            bail!(
                "services.{}.healthcheck.start_interval requires healthcheck.start_period to be set",
                svc.name
            );
        }
    }
    Ok(())
}

/// The services among `selected` that another selected service waits for with
/// `condition: service_completed_successfully`: one-shot jobs, which `--wait`
/// waits to see exit 0 rather than run (docker compose's `getDependencyCondition`).
pub fn jobs_among(project: &crate::compose::Project, selected: &[String]) -> Vec<String> {
    let mut jobs: Vec<String> = selected
        .iter()
        .filter_map(|n| project.services.get(n))
        .flat_map(|svc| {
            svc.depends_on
                .iter()
                .filter(|(_, d)| d.condition == "service_completed_successfully")
                .map(|(dep, _)| dep.clone())
        })
        .filter(|dep| selected.contains(dep))
        .collect();
    jobs.sort();
    jobs.dedup();
    jobs
}

/// What a service shares with another (`volumes_from`, `network_mode: service:x`,
/// …) needs a container of that service, as docker compose resolves it; with
/// `--no-deps` the other service may have none.
fn check_donors(ctx: &Ctx, svc: &ServiceConfig) -> Result<()> {
    let present = |donor: &str| {
        find(&ctx.layout.root, Some(&ctx.project.name))
            .iter()
            .any(|f| f.record.service == donor && !f.record.oneoff)
    };
    for v in &svc.volumes_from {
        let spec = v
            .rsplit_once(':')
            .filter(|(_, m)| *m == "ro" || *m == "rw")
            .map(|(w, _)| w)
            .unwrap_or(v);
        if spec.starts_with("container:") {
            continue;
        }
        let donor = spec.trim_start_matches("service:");
        if !present(donor) {
            bail!("cannot share volume with service {donor}: container missing");
        }
    }
    for (mode, what) in [
        (&svc.network_mode, "network"),
        (&svc.ipc, "IPC"),
        (&svc.pid, "PID"),
        (&svc.uts, "UTS"),
    ] {
        if let Some(donor) = mode.strip_prefix("service:") {
            if !present(donor) {
                bail!("cannot share {what} namespace with service {donor}: container missing");
            }
        }
    }
    Ok(())
}

struct Ctx {
    layout: Layout,
    project: Arc<crate::compose::Project>,
    hashes: BTreeMap<String, String>,
    images: BTreeMap<String, RuntimeImage>,
    per_service: BTreeMap<String, Vec<ContainerPlan>>,
    existing: Vec<Found>,
    opts: UpOptions,
    progress: Progress,
    /// The nft tables that exist, listed once when first needed.
    nft_tables: std::sync::OnceLock<Vec<String>>,
    /// Ctrl-C: checked between containers and while waiting for dependencies.
    interrupt: super::interrupt::Interrupt,
    /// The DNS responder, awaited before the first container starts.
    dns: network::DnsReady,
}

impl Ctx {
    /// Whether `f` lost part of its networking to a killed `down` or `rm`.
    fn network_lost(&self, f: &Found) -> bool {
        let tables = self
            .nft_tables
            .get_or_init(|| berth_netns::nft::tables().unwrap_or_default());
        network_lost(&self.layout, f, tables)
    }

    /// Stops (with its service's signal and grace) and removes a container;
    /// with `volumes`, its anonymous volumes too.
    fn remove(&self, f: &Found, volumes: bool) -> Result<()> {
        stop_and_remove(
            &self.layout,
            Some(&self.project),
            f,
            self.opts.timeout,
            volumes,
        )
    }
}

/// Waits for what `svc`'s `depends_on` conditions ask of its dependencies.
fn wait_dependencies(ctx: &Ctx, svc: &ServiceConfig) -> Result<()> {
    for (dep, d) in &svc.depends_on {
        if !ctx.project.services.contains_key(dep) {
            continue;
        }
        match d.condition.as_str() {
            "service_healthy" => wait_condition(ctx, dep, d.required, Condition::Healthy)?,
            "service_completed_successfully" => {
                wait_condition(ctx, dep, d.required, Condition::Completed)?
            }
            _ => {}
        }
    }
    Ok(())
}

fn wait_condition(ctx: &Ctx, dep: &str, required: bool, cond: Condition) -> Result<()> {
    let dep_svc = &ctx.project.services[dep];
    if cond == Condition::Healthy
        && dep_svc
            .healthcheck
            .as_ref()
            .is_none_or(|h| h.disable || h.test.is_empty())
    {
        let img_has = ctx
            .images
            .get(dep)
            .and_then(|i| i.config.healthcheck.as_ref())
            .is_some();
        if !img_has {
            let msg = format!("dependency failed to start: container for service {dep:?} has no healthcheck configured");
            if required {
                bail!(msg);
            }
            ctx.progress.println(&format!("WARN[0000] {msg}"));
            return Ok(());
        }
    }
    match await_condition(
        &ctx.layout,
        &ctx.project.name,
        dep,
        cond,
        &ctx.progress,
        Some(&ctx.interrupt),
    )? {
        Ok(()) => Ok(()),
        Err(msg) => fail_or_warn(ctx, required, msg),
    }
}

fn fail_or_warn(ctx: &Ctx, required: bool, msg: String) -> Result<()> {
    if required {
        bail!(msg)
    }
    ctx.progress.println(&format!("WARN[0000] {msg}"));
    Ok(())
}

/// Stops the containers that declare `depends_on.<name>.restart: true` before
/// `name` is recreated, as docker compose does; each starts again in its own
/// turn (its `Action::Restart`), once `name` is back.
fn stop_restart_dependents(ctx: &Ctx, name: &str) -> Result<()> {
    for p in ctx.per_service.values().flatten() {
        if !matches!(&p.action, Action::Restart { because } if because == name) {
            continue;
        }
        let Some(old) =
            p.id.as_ref()
                .and_then(|id| ctx.existing.iter().find(|f| &f.record.id == id))
        else {
            continue;
        };
        let task = ctx
            .progress
            .task(&format!("Container {}", old.record.name), "Stopping");
        let (signal, grace) = stop_params(Some(&ctx.project), old, ctx.opts.timeout);
        stop(&ctx.layout, old, signal, grace)?;
        task.done("Stopped");
    }
    Ok(())
}

fn converge_service(ctx: &Ctx, name: &str) -> Result<()> {
    let svc = &ctx.project.services[name];
    let plans = ctx.per_service.get(name).cloned().unwrap_or_default();
    let start_wanted = !ctx.opts.no_start;
    let needs_start = plans.iter().any(|p| {
        !matches!(
            p.action,
            Action::Keep | Action::ScaleDown | Action::RemoveOrphan
        )
    });
    if start_wanted && needs_start {
        wait_dependencies(ctx, svc)?;
    }
    if !plans.is_empty() && plans.iter().all(|p| p.action != Action::RemoveOrphan) {
        check_donors(ctx, svc).inspect_err(|e| {
            ctx.progress.println(&format!(
                "service {name:?} cannot be started: {}",
                crate::report::text(e)
            ));
        })?;
    }
    if plans
        .iter()
        .any(|p| matches!(p.action, Action::Recreate { .. }))
    {
        stop_restart_dependents(ctx, name)?;
    }
    let img = &ctx.images[name];
    let hash = ctx.hashes.get(name).cloned().unwrap_or_default();
    let make = |number: u32, temp_name: Option<String>| -> Result<String> {
        let rec = create(&CreateRequest {
            layout: &ctx.layout,
            project: &ctx.project,
            svc,
            number,
            image: img,
            config_hash: &hash,
            oneoff: false,
            name: temp_name,
            service_aliases: true,
        })?;
        Ok(rec.id)
    };
    // Replicas made for the first time do not wait on each other (docker
    // compose makes them concurrently too). Not with pre_start hooks to run:
    // those go before the first replica starts. Not with published ports: each
    // replica's host port (from a range, or ephemeral) is chosen from what the
    // replicas before it took, so concurrent ones would all take the same.
    if plans.len() > 1
        && plans.iter().all(|p| p.action == Action::Create)
        && (svc.pre_start.is_empty() || !start_wanted)
        && svc.ports.is_empty()
    {
        return make_new_replicas(ctx, svc, &plans, &make);
    }
    // pre_start hooks run before the first start, unless a replica stays running.
    let keeps_running = plans
        .iter()
        .any(|p| matches!(p.action, Action::Keep | Action::Restart { .. }));
    let pre_start = PreStart::new(
        &ctx.layout,
        &ctx.project,
        svc,
        img,
        &ctx.progress,
        !keeps_running,
    );
    // No container starts before its names resolve, but making it need not
    // wait: the responder's start overlaps the making of every service's
    // containers instead of holding all of them back.
    let start_made = |id: &str| -> Result<()> {
        ctx.dns.wait()?;
        pre_start.start(id)
    };
    for p in plans {
        ctx.interrupt.check()?;
        let label = container_label(ctx, svc, &p);
        let task = ctx.progress.task(&format!("Container {label}"), "Waiting");
        let old: Option<&Found> =
            p.id.as_ref()
                .and_then(|id| ctx.existing.iter().find(|f| &f.record.id == id));
        let result: Result<&str> = (|| match &p.action {
            Action::Keep => Ok("Running"),
            Action::Start if old.is_some_and(|o| ctx.network_lost(o)) => {
                // Half taken apart by a killed `down`: its namespace, veths and
                // ports are gone. Made anew under the same number and name.
                task.working("Recreate");
                if let Some(o) = old {
                    ctx.remove(o, false)?;
                }
                let id = make(p.number, None)?;
                if start_wanted {
                    // docker compose reports the recreation, then the start.
                    task.working("Recreated");
                    task.working("Starting");
                    start_made(&id)?;
                    Ok("Started")
                } else {
                    Ok("Recreated")
                }
            }
            Action::Start => {
                task.working("Starting");
                if let Some(old) = old.filter(|o| is_stopping(&o.status)) {
                    // A stop is under way (its `down` may have been killed): let it
                    // finish, or the start would be answered by a supervisor that
                    // is about to exit, and the container would stay down.
                    let (signal, grace) = stop_params(Some(&ctx.project), old, ctx.opts.timeout);
                    stop(&ctx.layout, old, signal, grace)?;
                }
                if start_wanted {
                    start_made(p.id.as_deref().unwrap_or_default())?;
                    Ok("Started")
                } else {
                    Ok("Created")
                }
            }
            Action::Create => {
                task.working("Creating");
                let id = make(p.number, None)?;
                if start_wanted {
                    task.working("Starting");
                    start_made(&id)?;
                    Ok("Started")
                } else {
                    Ok("Created")
                }
            }
            Action::Recreate { .. } => {
                task.working("Recreate");
                let old = old.ok_or_else(|| anyhow!("container {label} vanished"))?;
                let id = if ctx.opts.renew_anon_volumes {
                    ctx.remove(old, true)?;
                    make(p.number, None)?
                } else {
                    let temp = format!("{}_{}", &old.record.id[..12], label);
                    let id = make(p.number, Some(temp))?;
                    ctx.remove(old, false)?;
                    rename(&ctx.layout, &id, &label)?;
                    id
                };
                if start_wanted {
                    // docker compose reports the recreation, then the start.
                    task.working("Recreated");
                    task.working("Starting");
                    start_made(&id)?;
                    Ok("Started")
                } else {
                    Ok("Recreated")
                }
            }
            Action::Restart { .. } => {
                task.working("Restarting");
                let old = old.ok_or_else(|| anyhow!("container {label} vanished"))?;
                let (signal, grace) = stop_params(Some(&ctx.project), old, ctx.opts.timeout);
                stop(&ctx.layout, old, signal, grace)?;
                if start_wanted {
                    ctx.dns.wait()?;
                    start_service(&ctx.layout, &old.record.id, svc)?;
                    Ok("Started")
                } else {
                    Ok("Stopped")
                }
            }
            Action::ScaleDown | Action::RemoveOrphan => {
                task.working("Removing");
                let old = old.ok_or_else(|| anyhow!("container {label} vanished"))?;
                ctx.remove(old, false)?;
                Ok("Removed")
            }
        })();
        match result {
            Ok(word) => task.done(word),
            Err(e) => {
                task.fail("Error", &crate::report::text(&e));
                return Err(e.context(format!("container {label}")));
            }
        }
    }
    Ok(())
}

/// Makes (and starts, unless `--no-start`) new replicas of `svc`, each in a
/// thread of its own; they are reported in order, the first failure is the
/// command's.
/// The name a container's progress line shows: its own, else the service's
/// `container_name`, else the default `<project>-<service>-<number>`.
fn container_label(ctx: &Ctx, svc: &ServiceConfig, p: &ContainerPlan) -> String {
    p.name.clone().unwrap_or_else(|| {
        if svc.container_name.is_empty() {
            crate::container::record::default_name(&ctx.project.name, &svc.name, p.number)
        } else {
            svc.container_name.clone()
        }
    })
}

fn make_new_replicas(
    ctx: &Ctx,
    svc: &ServiceConfig,
    plans: &[ContainerPlan],
    make: &(dyn Fn(u32, Option<String>) -> Result<String> + Sync),
) -> Result<()> {
    let start_wanted = !ctx.opts.no_start;
    let outcomes: Vec<(String, Result<()>)> = std::thread::scope(|s| {
        let running: Vec<_> = plans
            .iter()
            .map(|p| {
                let label = container_label(ctx, svc, p);
                let task = ctx.progress.task(&format!("Container {label}"), "Waiting");
                let number = p.number;
                let worker = s.spawn(move || {
                    let result = (|| -> Result<&str> {
                        ctx.interrupt.check()?;
                        task.working("Creating");
                        let id = make(number, None)?;
                        if !start_wanted {
                            return Ok("Created");
                        }
                        task.working("Starting");
                        ctx.dns.wait()?;
                        start_service(&ctx.layout, &id, svc)?;
                        Ok("Started")
                    })();
                    match result {
                        Ok(word) => {
                            task.done(word);
                            Ok(())
                        }
                        Err(e) => {
                            task.fail("Error", &crate::report::text(&e));
                            Err(e)
                        }
                    }
                });
                (label, worker)
            })
            .collect();
        running
            .into_iter()
            .map(|(label, w)| {
                let r = w
                    .join()
                    .unwrap_or_else(|_| Err(anyhow!("making the container panicked")));
                (label, r)
            })
            .collect()
    });
    for (label, r) in outcomes {
        r.map_err(|e| e.context(format!("container {label}")))?;
    }
    Ok(())
}

/// The ids of the images `selected` would run, for a dry run: those in the store;
/// one that is not is reported as what `up` would pull or build.
fn local_image_ids(
    store: &Store,
    project: &Project,
    selected: &[String],
    progress: &Progress,
) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for name in selected {
        let image = project.image_name(&project.services[name]);
        match store.runtime_image(&image) {
            Ok(i) => {
                ids.insert(name.clone(), i.id.to_string());
            }
            Err(_) => progress.println(&format!(
                "DRY-RUN MODE - Image {image} is not here: up would pull or build it"
            )),
        }
    }
    ids
}
