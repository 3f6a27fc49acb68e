//! `down`, `stop`, `rm`: containers stopped in reverse dependency order (in
//! parallel where the graph allows), removed, then networks and, when asked,
//! volumes and images.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};

use super::graph::{Direction, Graph};
use super::hooks;
use super::layout::Layout;
use super::lifecycle;
use super::network;
use super::settings::signal_number;
use crate::compose::Project;
use crate::container::list::{find, Found};
use crate::container::record::labels;
use crate::container::ContainerState;
use crate::progress::Progress;
use crate::state::ProjectLock;

/// `down`'s flags.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    /// `--remove-orphans`.
    pub remove_orphans: bool,
    /// `-v`.
    pub volumes: bool,
    /// `--rmi local|all`.
    pub rmi: Option<String>,
    /// `-t`.
    pub timeout: Option<Duration>,
}

/// The stop signal and grace period of a container's service.
pub fn stop_params(
    project: Option<&Project>,
    f: &Found,
    timeout: Option<Duration>,
) -> (i32, Duration) {
    let svc = project.and_then(|p| p.services.get(&f.record.service));
    let signal = svc
        .and_then(|s| signal_number(&s.stop_signal))
        .unwrap_or(libc::SIGTERM);
    let grace = timeout
        .or_else(|| svc.and_then(|s| s.stop_grace_period.map(|d| d.as_std())))
        .unwrap_or(Duration::from_secs(10));
    (signal, grace)
}

/// The graph of the containers' services, from the file or, without one, from
/// the `depends_on` label each container carries.
fn graph_of(project: Option<&Project>, containers: &[Found]) -> Graph {
    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in containers {
        let entry = deps.entry(f.record.service.clone()).or_default();
        let from_file = project.and_then(|p| p.services.get(&f.record.service));
        match from_file {
            Some(s) => entry.extend(super::up::graph_deps_of(s)),
            None => {
                if let Some(l) = f.record.labels.get(labels::DEPENDS_ON) {
                    entry.extend(
                        l.split(',')
                            .filter_map(|d| d.split(':').next())
                            .filter(|d| !d.is_empty())
                            .map(String::from),
                    );
                }
            }
        }
    }
    Graph::new(deps.into_iter().collect())
}

/// Runs a running container's `pre_stop` hooks (its service from the file, else
/// as it was created).
fn run_pre_stop(project: Option<&Project>, f: &Found) -> Result<()> {
    if f.status.state != ContainerState::Running {
        return Ok(());
    }
    let svc = project
        .and_then(|p| p.services.get(&f.record.service).cloned())
        .or_else(|| hooks::stored_service(f));
    match svc {
        Some(svc) if !svc.pre_stop.is_empty() => hooks::pre_stop(&svc, f),
        _ => Ok(()),
    }
}

/// Stops containers in reverse dependency order, each service's in parallel.
pub fn stop_all(
    layout: &Layout,
    project: Option<&Project>,
    containers: Vec<Found>,
    timeout: Option<Duration>,
    progress: &Progress,
    word: (&'static str, &'static str),
) -> Result<()> {
    let graph = graph_of(project, &containers);
    let by_service: Arc<BTreeMap<String, Vec<Found>>> =
        Arc::new(containers.into_iter().fold(BTreeMap::new(), |mut m, f| {
            m.entry(f.record.service.clone())
                .or_insert_with(Vec::new)
                .push(f);
            m
        }));
    let layout = Arc::new(layout.clone());
    let project = Arc::new(project.cloned());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        .enable_all()
        .build()?;
    rt.block_on(graph.walk(Direction::Reverse, |svc| {
        let (layout, project, by_service, progress) = (
            layout.clone(),
            project.clone(),
            by_service.clone(),
            progress.clone(),
        );
        async move {
            let mut handles = vec![];
            for f in by_service.get(&svc).cloned().unwrap_or_default() {
                if !matches!(
                    f.status.state,
                    ContainerState::Running | ContainerState::Restarting | ContainerState::Paused
                ) {
                    continue;
                }
                let (layout, project, progress) =
                    (layout.clone(), project.clone(), progress.clone());
                handles.push(tokio::task::spawn_blocking(move || {
                    let task = progress.task(&format!("Container {}", f.record.name), word.0);
                    let (signal, grace) = stop_params(project.as_ref().as_ref(), &f, timeout);
                    // A failing pre_stop hook fails the command and keeps the
                    // container running, as docker compose does (its stopContainer
                    // returns the hook's error before stopping); `kill` then
                    // `down` still takes it down.
                    let stopped = run_pre_stop(project.as_ref().as_ref(), &f)
                        .and_then(|()| lifecycle::stop(&layout, &f, signal, grace));
                    match stopped {
                        Ok(()) => {
                            task.done(word.1);
                            Ok(())
                        }
                        Err(e) => {
                            task.fail("Error", &crate::report::text(&e));
                            Err(e)
                        }
                    }
                }));
            }
            let mut first = None;
            for h in handles {
                if let Err(e) = h.await.map_err(|e| anyhow!("{e}")).and_then(|r| r) {
                    first.get_or_insert(e);
                }
            }
            first.map_or(Ok(()), Err)
        }
    }))
}

/// Removes stopped containers in parallel.
pub fn remove_all(
    layout: &Layout,
    containers: Vec<Found>,
    volumes: bool,
    progress: &Progress,
) -> Result<()> {
    let errors: Vec<anyhow::Error> = std::thread::scope(|s| {
        let handles: Vec<_> = containers
            .into_iter()
            .map(|f| {
                s.spawn(move || {
                    let task = progress.task(&format!("Container {}", f.record.name), "Removing");
                    match lifecycle::remove(layout, &f, volumes) {
                        Ok(()) => {
                            task.done("Removed");
                            None
                        }
                        Err(e) => {
                            task.fail("Error", &crate::report::text(&e));
                            Some(e)
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect()
    });
    errors.into_iter().next().map_or(Ok(()), Err)
}

/// `down`: everything of `name` goes but its named volumes (unless `-v`) and images.
pub fn down(
    layout: &Layout,
    name: &str,
    project: Option<&Project>,
    opts: &DownOptions,
    progress: &Progress,
) -> Result<()> {
    let _lock = ProjectLock::acquire(&layout.root, name)?;
    lifecycle::repair(layout, name);
    let all = find(&layout.root, Some(name));
    let (mine, orphans): (Vec<Found>, Vec<Found>) = all.into_iter().partition(|f| match project {
        Some(p) => f.record.oneoff || p.all_services().any(|s| s.name == f.record.service),
        None => true,
    });
    let mut targets = mine;
    if opts.remove_orphans {
        targets.extend(orphans);
    } else if !orphans.is_empty() {
        progress.println(&format!(
            "WARN[0000] Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            orphans.iter().map(|f| f.record.name.as_str()).collect::<Vec<_>>().join(" ")
        ));
    }
    berth_netns::fault::point("down:before-stop");
    let mut result = stop_all(
        layout,
        project,
        targets.clone(),
        opts.timeout,
        progress,
        ("Stopping", "Stopped"),
    );
    let targets: Vec<Found> = targets
        .into_iter()
        .map(|f| Found {
            status: crate::container::list::observed_status(&f.dir),
            ..f
        })
        .collect();
    // A container still running failed to stop (its pre_stop hook failed):
    // docker compose keeps it, and its networks and volumes with it.
    let (kept, targets): (Vec<Found>, Vec<Found>) = targets.into_iter().partition(|f| {
        result.is_err()
            && matches!(
                f.status.state,
                ContainerState::Running | ContainerState::Restarting | ContainerState::Paused
            )
    });
    result = result.and(remove_all(layout, targets, opts.volumes, progress));
    if !kept.is_empty() {
        return result;
    }

    for net in network::project_networks(layout, name) {
        let task = progress.task(&format!("Network {}", net.name), "Removing");
        match network::remove_network(layout, &net.name) {
            Ok(true) => task.done("Removed"),
            Ok(false) => task.warn("Resource is still in use", ""),
            Err(e) => {
                task.fail("Error", &crate::report::text(&e));
                result = result.and(Err(e));
            }
        }
    }
    if opts.volumes {
        let store = layout.volumes();
        for v in store.list()? {
            if v.labels
                .get("com.docker.compose.project")
                .map(String::as_str)
                == Some(name)
            {
                let in_use = find(&layout.root, None).iter().any(|f| {
                    std::fs::read_to_string(f.dir.join("volumes.json"))
                        .is_ok_and(|s| s.contains(&format!("\"{}\"", v.name)))
                });
                let task = progress.task(&format!("Volume {}", v.name), "Removing");
                if in_use {
                    task.warn("Resource is still in use", "");
                    continue;
                }
                match store.remove(&v.name) {
                    Ok(()) => task.done("Removed"),
                    Err(e) => {
                        task.fail("Error", &e.to_string());
                        result = result.and(Err(e.into()));
                    }
                }
            }
        }
    }
    if let (Some(mode), Some(p)) = (opts.rmi.as_deref(), project) {
        let store = crate::image::Store::open(&layout.root)?;
        for svc in p.services.values() {
            let local = svc.image.is_empty();
            if mode == "all" || local {
                let image = p.image_name(svc);
                if let Ok(r) = crate::image::Reference::parse(&image) {
                    let task = progress.task(&format!("Image {image}"), "Removing");
                    match store.remove_records(&[r.to_string()]) {
                        Ok(_) => task.done("Removed"),
                        Err(e) => task.warn("Error", &e.to_string()),
                    }
                }
            }
        }
    }
    result
}
