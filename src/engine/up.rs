//! `up` (and `create`): images, networks, volumes, then containers in dependency
//! order, recreating exactly what changed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use indexmap::IndexMap;

use super::down::stop_params;
use super::graph::{Direction, Graph};
use super::images::{ensure_image, PullOverride};
use super::layout::Layout;
use super::lifecycle::{self, CreateRequest};
use super::load::Loaded;
use super::network;
use super::settings::{signal_number, unsupported_keys};
use crate::compose::model::ServiceConfig;
use crate::container::list::{find, Found};
use crate::container::observe::is_stopping;
use crate::container::watch::StatusWatch;
use crate::container::{ContainerState, Health, Status};
use crate::image::{RuntimeImage, Store};
use crate::plan::{plan, Action, ContainerPlan, Desired, Plan, PlanOptions};
use crate::progress::Progress;
use crate::state::ProjectLock;

/// How long a waiter trusts the status watch before it looks again anyway.
const STATUS_RECHECK: Duration = Duration::from_millis(500);

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
}

/// Services that `svc` shares namespaces or volumes with (`service:x`, `volumes_from`).
pub fn shares_with(svc: &ServiceConfig) -> Vec<String> {
    let mut out = vec![];
    for v in [&svc.network_mode, &svc.ipc, &svc.pid, &svc.uts] {
        if let Some(s) = v.strip_prefix("service:") {
            out.push(s.to_string());
        }
    }
    for v in &svc.volumes_from {
        let w = v
            .rsplit_once(':')
            .filter(|(_, m)| *m == "ro" || *m == "rw")
            .map(|(w, _)| w)
            .unwrap_or(v);
        if !w.starts_with("container:") {
            out.push(w.trim_start_matches("service:").to_string());
        }
    }
    out
}

/// The dependency graph of a project's services (depends_on and shared namespaces).
pub fn service_graph(project: &crate::compose::Project) -> Graph {
    Graph::new(
        project
            .services
            .iter()
            .map(|(n, s)| (n.clone(), graph_deps_of(s)))
            .collect(),
    )
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
    let project = Arc::new(loaded.project);
    let graph = service_graph(&project);
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
    lifecycle::repair(layout, &project.name);

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

    // Images.
    let store = Store::open(&layout.root)?;
    let mut images: BTreeMap<String, RuntimeImage> = BTreeMap::new();
    for name in &selected {
        let svc = &project.services[name];
        let img = ensure_image(&store, &project, svc, opts.pull, &|image| {
            progress.println(&format!(" {name} Pulling {image}"));
        })?;
        images.insert(name.clone(), img);
    }

    // Plan against what exists.
    let existing: Vec<Found> = find(&layout.root, Some(&project.name));
    let desired: Vec<Desired> = selected
        .iter()
        .map(|name| {
            let svc = &project.services[name];
            Desired {
                name: name.clone(),
                replicas: replicas(svc, opts),
                config_hash: loaded.hashes.get(name).cloned().unwrap_or_default(),
                config: serde_json::to_value(svc).unwrap_or_default(),
                image_id: Some(images[name].id.to_string()),
                shares_with: shares_with(svc),
                depends_on: svc.depends_on.keys().cloned().collect(),
                restart_with: svc
                    .depends_on
                    .iter()
                    .filter(|(_, d)| d.restart)
                    .map(|(k, _)| k.clone())
                    .collect(),
                volumes: svc
                    .volumes
                    .iter()
                    .filter(|v| v.kind == "volume" && !v.source.is_empty())
                    .filter_map(|v| {
                        let cfg = project.volumes.get(&v.source)?;
                        Some(if cfg.name.is_empty() {
                            format!("{}_{}", project.name, v.source)
                        } else {
                            cfg.name.clone()
                        })
                    })
                    .collect(),
            }
        })
        .collect();
    let stored = |f: &Found| -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(f.dir.join("service.json")).ok()?).ok()
    };
    let known_services: Vec<String> = project.all_services().map(|s| s.name.clone()).collect();
    // Containers of services still in the file but not selected are not orphans.
    let considered: Vec<Found> = existing
        .iter()
        .filter(|f| {
            selected.contains(&f.record.service) || !known_services.contains(&f.record.service)
        })
        .cloned()
        .collect();
    let the_plan = plan(
        &desired,
        &considered,
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
        print_plan(&the_plan);
        return Ok(());
    }

    ensure_networks(layout, &project, &selected, progress)?;

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
    let sub_graph = Graph::new(
        selected
            .iter()
            .map(|n| {
                let deps = graph_deps(&project, n);
                (
                    n.clone(),
                    deps.into_iter().filter(|d| selected.contains(d)).collect(),
                )
            })
            .collect(),
    );
    let ctx = Arc::new(Ctx {
        layout: layout.clone(),
        project: project.clone(),
        hashes: loaded.hashes.clone(),
        images,
        per_service,
        existing,
        opts: opts.clone(),
        progress: progress.clone(),
        nft_tables: Default::default(),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .enable_all()
        .build()?;
    rt.block_on(sub_graph.walk(Direction::Forward, |svc| {
        let ctx = ctx.clone();
        async move {
            tokio::task::spawn_blocking(move || converge_service(&ctx, &svc))
                .await
                .map_err(|e| anyhow!("{e}"))?
        }
    }))?;
    for o in orphans {
        if let (Some(id), Some(name)) = (&o.id, &o.name) {
            let task = progress.task(&format!("Container {name}"), "Removing");
            let found = ctx.existing.iter().find(|f| &f.record.id == id).cloned();
            if let Some(f) = found {
                remove_container(&ctx, &f)?;
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

/// Creates the networks `selected` services are on (when missing) and starts the
/// DNS responder; `up` and `run` share it.
pub fn ensure_networks(
    layout: &Layout,
    project: &crate::compose::Project,
    selected: &[String],
    progress: &Progress,
) -> Result<()> {
    let mut made_net = false;
    let mut tables: Option<Vec<String>> = None;
    let mut needed: Vec<&String> = vec![];
    for name in selected {
        let svc = &project.services[name];
        if svc.network_mode.is_empty() {
            for key in svc.networks.keys() {
                if !needed.contains(&key) {
                    needed.push(key);
                }
            }
        }
    }
    for key in needed {
        let cfg = project
            .networks
            .get(key)
            .ok_or_else(|| anyhow!("service refers to undefined network {key}"))?;
        let full = if cfg.name.is_empty() {
            format!("{}_{key}", project.name)
        } else {
            cfg.name.clone()
        };
        if cfg.external {
            network::ensure_network(layout, &project.name, key, cfg)?;
            continue;
        }
        let existed = network::net_state(layout)
            .ok()
            .and_then(|s| berth_netns::Network::get(&s, &full).ok())
            .is_some();
        if existed {
            // Its record says it exists; the kernel may not agree (a killed `down`
            // took its nft table or its bridge, a killed `up` never finished it).
            let drift = network::repair_network(layout, &full, &mut tables)?;
            if !drift.is_empty() {
                let task = progress.task(&format!("Network {full}"), "Repairing");
                task.done(&format!("Repaired ({})", drift.join(", ")));
                made_net = true;
            }
            continue;
        }
        let task = progress.task(&format!("Network {full}"), "Creating");
        match network::ensure_network(layout, &project.name, key, cfg) {
            Ok(_) => {
                made_net = true;
                task.done("Created");
            }
            Err(e) => {
                task.fail("Error", &crate::report::text(&e));
                return Err(e);
            }
        }
    }
    if made_net || !selected.is_empty() {
        network::ensure_dns(layout)?;
    }
    Ok(())
}

fn graph_deps(project: &crate::compose::Project, name: &str) -> Vec<String> {
    graph_deps_of(&project.services[name])
}

/// What a service waits for: its `depends_on` and the services it shares with.
pub fn graph_deps_of(svc: &ServiceConfig) -> Vec<String> {
    let mut deps: Vec<String> = svc.depends_on.keys().cloned().collect();
    deps.extend(shares_with(svc));
    deps
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
}

impl Ctx {
    /// Whether `f` lost part of its networking to a killed `down` or `rm`.
    fn network_lost(&self, f: &Found) -> bool {
        let tables = self
            .nft_tables
            .get_or_init(|| berth_netns::nft::tables().unwrap_or_default());
        lifecycle::network_lost(&self.layout, f, tables)
    }
}

fn stop_timeout(svc: &ServiceConfig, opts: &UpOptions) -> Duration {
    opts.timeout
        .or(svc.stop_grace_period.map(|d| d.as_std()))
        .unwrap_or(Duration::from_secs(10))
}

fn remove_container(ctx: &Ctx, f: &Found) -> Result<()> {
    let (signal, timeout) = match ctx.project.services.get(&f.record.service) {
        Some(svc) => (
            signal_number(&svc.stop_signal).unwrap_or(libc::SIGTERM),
            stop_timeout(svc, &ctx.opts),
        ),
        None => (
            libc::SIGTERM,
            ctx.opts.timeout.unwrap_or(Duration::from_secs(10)),
        ),
    };
    lifecycle::stop(&ctx.layout, f, signal, timeout)?;
    lifecycle::remove(&ctx.layout, f, false)
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

#[derive(Clone, Copy, PartialEq)]
enum Condition {
    Healthy,
    Completed,
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
    let watch = StatusWatch::new(&ctx.layout.containers())?;
    loop {
        let containers: Vec<Found> = find(&ctx.layout.root, Some(&ctx.project.name))
            .into_iter()
            .filter(|f| f.record.service == dep && !f.record.oneoff)
            .collect();
        for f in &containers {
            watch.add(&f.dir);
        }
        let mut all = !containers.is_empty();
        for f in &containers {
            let st: &Status = &f.status;
            let ok = match cond {
                Condition::Healthy => {
                    if st.health == Some(Health::Unhealthy) {
                        let msg = format!(
                            "dependency failed to start: container {} is unhealthy",
                            f.record.name
                        );
                        return fail_or_warn(ctx, required, msg);
                    }
                    if st.state == ContainerState::Exited || st.state == ContainerState::Dead {
                        let msg = format!(
                            "dependency failed to start: container {} exited ({})",
                            f.record.name,
                            st.exit_code.unwrap_or(0)
                        );
                        return fail_or_warn(ctx, required, msg);
                    }
                    st.health == Some(Health::Healthy)
                }
                Condition::Completed => match st.state {
                    ContainerState::Exited | ContainerState::Dead => {
                        let code = st.exit_code.unwrap_or(0);
                        if code != 0 {
                            let msg = format!(
                                "service {dep:?} didn't complete successfully: exit {code}"
                            );
                            return fail_or_warn(ctx, required, msg);
                        }
                        true
                    }
                    _ => false,
                },
            };
            all &= ok;
        }
        if all {
            return Ok(());
        }
        // Woken by the supervisors' status writes; the bound catches a supervisor
        // that died without writing (docker compose polls every 500 ms).
        watch.wait(STATUS_RECHECK);
    }
}

fn fail_or_warn(ctx: &Ctx, required: bool, msg: String) -> Result<()> {
    if required {
        bail!(msg)
    }
    ctx.progress.println(&format!("WARN[0000] {msg}"));
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
    let img = &ctx.images[name];
    let hash = ctx.hashes.get(name).cloned().unwrap_or_default();
    let make = |number: u32, temp_name: Option<String>| -> Result<String> {
        let rec = lifecycle::create(&CreateRequest {
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
    for p in plans {
        let label = p.name.clone().unwrap_or_else(|| {
            if svc.container_name.is_empty() {
                crate::container::record::default_name(&ctx.project.name, name, p.number)
            } else {
                svc.container_name.clone()
            }
        });
        let task = ctx.progress.task(&format!("Container {label}"), "Waiting");
        let old =
            p.id.as_ref()
                .and_then(|id| ctx.existing.iter().find(|f| &f.record.id == id).cloned());
        let result: Result<&str> = (|| match &p.action {
            Action::Keep => Ok("Running"),
            Action::Start if old.as_ref().is_some_and(|o| ctx.network_lost(o)) => {
                // Half taken apart by a killed `down`: its namespace, veths and
                // ports are gone. Made anew under the same number and name.
                task.working("Recreate");
                if let Some(o) = &old {
                    remove_container(ctx, o)?;
                }
                let id = make(p.number, None)?;
                if start_wanted {
                    task.working("Starting");
                    lifecycle::start(&ctx.layout, &id)?;
                    Ok("Started")
                } else {
                    Ok("Recreated")
                }
            }
            Action::Start => {
                task.working("Starting");
                if let Some(old) = old.as_ref().filter(|o| is_stopping(&o.status)) {
                    // A stop is under way (its `down` may have been killed): let it
                    // finish, or the start would be answered by a supervisor that
                    // is about to exit, and the container would stay down.
                    let (signal, grace) = stop_params(Some(&ctx.project), old, ctx.opts.timeout);
                    lifecycle::stop(&ctx.layout, old, signal, grace)?;
                }
                if start_wanted {
                    lifecycle::start(&ctx.layout, p.id.as_deref().unwrap_or_default())?;
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
                    lifecycle::start(&ctx.layout, &id)?;
                    Ok("Started")
                } else {
                    Ok("Created")
                }
            }
            Action::Recreate { .. } => {
                task.working("Recreate");
                let old = old
                    .as_ref()
                    .ok_or_else(|| anyhow!("container {label} vanished"))?;
                let id = if ctx.opts.renew_anon_volumes {
                    remove_container_with_volumes(ctx, old)?;
                    make(p.number, None)?
                } else {
                    let temp = format!("{}_{}", &old.record.id[..12], label);
                    let id = make(p.number, Some(temp))?;
                    remove_container(ctx, old)?;
                    lifecycle::rename(&ctx.layout, &id, &label)?;
                    id
                };
                if start_wanted {
                    task.working("Starting");
                    lifecycle::start(&ctx.layout, &id)?;
                    Ok("Started")
                } else {
                    Ok("Recreated")
                }
            }
            Action::Restart { .. } => {
                task.working("Restarting");
                let old = old
                    .as_ref()
                    .ok_or_else(|| anyhow!("container {label} vanished"))?;
                let (signal, grace) = stop_params(Some(&ctx.project), old, ctx.opts.timeout);
                lifecycle::stop(&ctx.layout, old, signal, grace)?;
                if start_wanted {
                    lifecycle::start(&ctx.layout, &old.record.id)?;
                    Ok("Started")
                } else {
                    Ok("Stopped")
                }
            }
            Action::ScaleDown | Action::RemoveOrphan => {
                task.working("Removing");
                let old = old
                    .as_ref()
                    .ok_or_else(|| anyhow!("container {label} vanished"))?;
                remove_container(ctx, old)?;
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

fn remove_container_with_volumes(ctx: &Ctx, f: &Found) -> Result<()> {
    let svc = &ctx.project.services[&f.record.service];
    lifecycle::stop(
        &ctx.layout,
        f,
        signal_number(&svc.stop_signal).unwrap_or(libc::SIGTERM),
        stop_timeout(svc, &ctx.opts),
    )?;
    lifecycle::remove(&ctx.layout, f, true)
}

/// What `--wait` waits for in one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Not there yet.
    Pending,
    /// Running (and healthy, when it has a healthcheck), or a job that exited 0.
    Ready(&'static str),
    /// Never will be.
    Failed,
}

/// Judges one container for `--wait`: a job (some service waits for it to
/// complete successfully) must exit 0; any other service must run, healthy if
/// it has a healthcheck. A service that exits 0 while nobody waits for it to
/// complete fails `--wait` (`container … exited (0)`): that is what docker
/// compose does today (docker/compose#10596 is open; a fix, PR #13661, was
/// closed unmerged), and scripts rely on `up --wait` meaning "it is all running".
/// Declaring the job as a `service_completed_successfully` dependency of the
/// service that needs it is the documented way to say it is a job.
pub fn readiness(st: &Status, job: bool) -> Readiness {
    let exited = matches!(st.state, ContainerState::Exited | ContainerState::Dead);
    match (job, exited) {
        (true, true) if st.exit_code == Some(0) => Readiness::Ready("Exited"),
        (_, true) => Readiness::Failed,
        (_, false) if st.health == Some(Health::Unhealthy) => Readiness::Failed,
        (false, false)
            if st.state == ContainerState::Running
                && matches!(st.health, None | Some(Health::Healthy)) =>
        {
            Readiness::Ready("Healthy")
        }
        _ => Readiness::Pending,
    }
}

/// `up --wait`: every selected service running, and healthy where it has a
/// healthcheck; each of `jobs` exited 0.
pub fn wait_ready(
    layout: &Layout,
    project: &str,
    services: &[String],
    jobs: &[String],
    timeout: Option<Duration>,
    progress: &Progress,
) -> Result<()> {
    let started = Instant::now();
    // One `Waiting` line per container, ended once it is ready, as docker compose shows.
    let mut tasks: BTreeMap<String, crate::progress::Task> = BTreeMap::new();
    let mut ready: std::collections::BTreeSet<String> = Default::default();
    let watch = StatusWatch::new(&layout.containers())?;
    loop {
        let mut pending = vec![];
        for f in find(&layout.root, Some(project)) {
            watch.add(&f.dir);
            if f.record.oneoff
                || !services.contains(&f.record.service)
                || ready.contains(&f.record.name)
            {
                continue;
            }
            let name = f.record.name.clone();
            let job = jobs.contains(&f.record.service);
            let st = &f.status;
            if !tasks.contains_key(&name) {
                let task = progress.task(&format!("Container {name}"), "Waiting");
                tasks.insert(name.clone(), task);
            }
            match readiness(st, job) {
                Readiness::Ready(word) => {
                    if let Some(t) = tasks.remove(&name) {
                        t.done(word);
                    }
                    ready.insert(name);
                }
                Readiness::Pending => pending.push(name),
                Readiness::Failed => {
                    let msg = if job {
                        format!(
                            "service {:?} didn't complete successfully: exit {}",
                            f.record.service,
                            st.exit_code.unwrap_or(-1)
                        )
                    } else if st.state == ContainerState::Running {
                        format!("container {name} is unhealthy")
                    } else {
                        format!("container {name} exited ({})", st.exit_code.unwrap_or(-1))
                    };
                    if let Some(t) = tasks.remove(&name) {
                        t.fail("Error", &msg);
                    }
                    bail!(msg);
                }
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        if timeout.is_some_and(|t| started.elapsed() > t) {
            progress.println(&format!("timeout waiting for: {}", pending.join(", ")));
            bail!(
                "application not healthy after {:?}",
                timeout.unwrap_or_default()
            );
        }
        let left = timeout.map_or(STATUS_RECHECK, |t| t.saturating_sub(started.elapsed()));
        watch.wait(left.min(STATUS_RECHECK));
    }
}

fn print_plan(p: &Plan) {
    let mut by: IndexMap<String, Vec<String>> = IndexMap::new();
    for c in &p.containers {
        let what = match &c.action {
            Action::Keep => "keep (unchanged, running)".to_string(),
            Action::Start => "start (unchanged, not running)".to_string(),
            Action::Restart { because } => {
                format!("restart ({because} is recreated, restart: true)")
            }
            Action::Create => "create".to_string(),
            Action::Recreate { reasons } => format!(
                "recreate ({})",
                reasons
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Action::ScaleDown => "remove (scale down)".to_string(),
            Action::RemoveOrphan => "remove (orphan)".to_string(),
        };
        let name = c
            .name
            .clone()
            .unwrap_or_else(|| format!("{}#{}", c.service, c.number));
        by.entry(c.service.clone())
            .or_default()
            .push(format!("  {name}: {what}"));
    }
    for (svc, lines) in by {
        println!("{svc}");
        for l in lines {
            println!("{l}");
        }
    }
    for o in &p.orphans {
        println!("orphan {o} (kept; --remove-orphans removes it)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: ContainerState, code: Option<i32>, health: Option<Health>) -> Status {
        Status {
            state,
            exit_code: code,
            health,
            ..Status::default()
        }
    }

    #[test]
    fn a_job_is_ready_once_it_exited_0_and_fails_otherwise() {
        let job = |st| readiness(&st, true);
        assert_eq!(
            job(status(ContainerState::Running, None, None)),
            Readiness::Pending
        );
        assert_eq!(
            job(status(ContainerState::Exited, Some(0), None)),
            Readiness::Ready("Exited")
        );
        assert_eq!(
            job(status(ContainerState::Exited, Some(1), None)),
            Readiness::Failed
        );
    }

    #[test]
    fn a_service_is_ready_running_and_healthy_and_fails_on_any_exit() {
        let svc = |st| readiness(&st, false);
        assert_eq!(
            svc(status(ContainerState::Running, None, None)),
            Readiness::Ready("Healthy")
        );
        assert_eq!(
            svc(status(
                ContainerState::Running,
                None,
                Some(Health::Starting)
            )),
            Readiness::Pending
        );
        assert_eq!(
            svc(status(
                ContainerState::Running,
                None,
                Some(Health::Unhealthy)
            )),
            Readiness::Failed
        );
        // docker compose today: exiting 0 is a failure for a service that is no job.
        assert_eq!(
            svc(status(ContainerState::Exited, Some(0), None)),
            Readiness::Failed
        );
    }
}
