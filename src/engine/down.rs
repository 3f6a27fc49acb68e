//! `down`: a project's containers stopped in reverse dependency order (in
//! parallel where the graph allows) and removed, its networks as soon as they
//! have left them, then, when asked, volumes and images.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};

use super::network;
use super::remove::{remove_all, remove_shown};
use super::repair::repair;
use super::stop::{stop_all_then, AfterStop};
use crate::compose::Project;
use crate::container::list::{container_volumes, find, Found};
use crate::container::status::ContainerState;
use crate::progress::Progress;
use crate::state::{Layout, ProjectLock};

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
    /// `down SERVICE…`: only these services' containers (and their
    /// dependents'); empty for the whole project.
    pub services: Vec<String>,
}

/// Whether `f` runs (or would run again): a container `down` did not stop.
fn still_running(f: &Found) -> bool {
    matches!(
        f.status.state,
        ContainerState::Running | ContainerState::Restarting | ContainerState::Paused
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A count of a `down`'s containers that are off their networks (or will not
/// be: kept running), each counted once; [`Countdown::wait`] returns once all
/// are, or once the walk is over ([`Countdown::close`]). The project's networks
/// then go while the last containers' files are still being deleted: the
/// bridge's deletion waits tens of milliseconds for the kernel's network lock
/// (held while it reaps the veths of the namespaces just dropped) and for RCU
/// barriers, which then overlap that deletion instead of following it.
struct Countdown {
    state: Mutex<(HashSet<String>, bool)>,
    changed: Condvar,
    total: usize,
}

impl Countdown {
    fn new(total: usize) -> Countdown {
        Countdown {
            state: Mutex::default(),
            changed: Condvar::new(),
            total,
        }
    }

    /// The container `id` has reached the point.
    fn pass(&self, id: &str) {
        let mut s = lock(&self.state);
        if s.0.insert(id.to_string()) && s.0.len() >= self.total {
            self.changed.notify_all();
        }
    }

    /// No container will pass any more (the walk and the removals are over).
    fn close(&self) {
        lock(&self.state).1 = true;
        self.changed.notify_all();
    }

    fn wait(&self) {
        let mut s = lock(&self.state);
        while !s.1 && s.0.len() < self.total {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Closes a countdown however the walk ends, so its waiter never waits forever.
struct CloseOnDrop<'a>(&'a Countdown);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Removes the project's networks, each shown on `progress`.
fn remove_networks(layout: &Layout, name: &str, progress: &Progress) -> Result<()> {
    let mut result = Ok(());
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
    result
}

/// `down`: everything of `name` goes but its named volumes (unless `-v`) and images.
pub fn down(
    layout: &Layout,
    name: &str,
    project: Option<&Project>,
    opts: &DownOptions,
    progress: &Progress,
) -> Result<()> {
    if let Some(p) = project {
        if let Some(s) = opts.services.iter().find(|s| !p.services.contains_key(*s)) {
            bail!("no such service: {s}");
        }
    }
    let _lock = ProjectLock::acquire(&layout.root, name)?;
    repair(layout, name);
    let all = find(&layout.root, Some(name));
    let (mine, orphans): (Vec<Found>, Vec<Found>) = all.into_iter().partition(|f| match project {
        Some(p) => f.record.oneoff || p.all_services().any(|s| s.name == f.record.service),
        None => true,
    });
    let mut targets = mine;
    if !opts.services.is_empty() {
        let chosen = match project {
            Some(p) => super::graph::service_graph(p).with_dependents(&opts.services),
            None => opts.services.clone(),
        };
        targets.retain(|f| !f.record.oneoff && chosen.contains(&f.record.service));
    }
    if opts.remove_orphans {
        targets.extend(orphans);
    } else if !orphans.is_empty() {
        progress.println(&format!(
            "WARN[0000] Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            orphans.iter().map(|f| f.record.name.as_str()).collect::<Vec<_>>().join(" ")
        ));
    }
    berth_netns::fault::point("down:before-stop");
    // Each container is removed as soon as its own stop is over (as docker
    // compose does), while the rest of its wave still stops.
    let handled: Arc<Mutex<HashSet<String>>> = Arc::default();
    let removal_errors: Arc<Mutex<Vec<anyhow::Error>>> = Arc::default();
    let detached = Arc::new(Countdown::new(targets.len()));
    // A container kept running keeps its networks (as docker compose does).
    let keep_networks = Arc::new(AtomicBool::new(false));
    let after: AfterStop = {
        let (layout, progress, volumes) = (layout.clone(), progress.clone(), opts.volumes);
        let (handled, removal_errors) = (handled.clone(), removal_errors.clone());
        let (detached, keep_networks) = (detached.clone(), keep_networks.clone());
        Arc::new(move |f: Found, stopped: Result<()>| {
            let f = Found {
                status: crate::container::list::observed_status(&f.dir),
                ..f
            };
            lock(&handled).insert(f.record.id.clone());
            if stopped.is_err() && still_running(&f) {
                // Its pre_stop hook failed: docker compose keeps it running.
                keep_networks.store(true, Ordering::SeqCst);
                detached.pass(&f.record.id);
                return stopped;
            }
            // A failed removal does not stop the walk: the other containers
            // (and the services this one depends on) still go.
            let off_networks = || detached.pass(&f.record.id);
            if let Err(e) = remove_shown(&layout, &f, volumes, &progress, &off_networks) {
                lock(&removal_errors).push(e);
            }
            off_networks();
            stopped
        })
    };
    // The whole project's networks go as soon as every container has left
    // them ([`Countdown`]); scoped to services, once all is removed and only
    // if nothing of the project is left.
    let early = opts.services.is_empty();
    let (mut result, networks) = std::thread::scope(|s| {
        let _close = CloseOnDrop(&detached);
        let networks = early.then(|| {
            s.spawn(|| {
                detached.wait();
                if keep_networks.load(Ordering::SeqCst) {
                    return Ok(());
                }
                remove_networks(layout, name, progress)
            })
        });
        let mut result = stop_all_then(
            layout,
            project,
            targets.clone(),
            opts.timeout,
            progress,
            ("Stopping", "Stopped"),
            Some(after),
        );
        // What a failed stop kept the walk from reaching: removed when it is not
        // running, as if its turn had come; a container still running failed to stop
        // (its pre_stop hook failed): docker compose keeps it, and its networks and
        // volumes with it.
        let handled = std::mem::take(&mut *lock(&handled));
        let unvisited: Vec<Found> = targets
            .into_iter()
            .filter(|f| !handled.contains(&f.record.id))
            .map(|f| Found {
                status: crate::container::list::observed_status(&f.dir),
                ..f
            })
            .collect();
        let (kept_unvisited, rest): (Vec<Found>, Vec<Found>) =
            unvisited.into_iter().partition(still_running);
        if !kept_unvisited.is_empty() {
            keep_networks.store(true, Ordering::SeqCst);
        }
        result = result.and(remove_all(layout, rest, opts.volumes, progress));
        detached.close();
        let networks = networks.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(anyhow!("removing the networks panicked")))
        });
        (result, networks)
    });
    if let Some(e) = lock(&removal_errors).drain(..).next() {
        result = result.and(Err(e));
    }
    if keep_networks.load(Ordering::SeqCst) {
        return result;
    }
    match networks {
        Some(r) => result = result.and(r),
        None => {
            // Scoped to services, the rest of the project keeps its networks.
            if find(&layout.root, Some(name)).is_empty() {
                result = result.and(remove_networks(layout, name, progress));
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
                let in_use = find(&layout.root, None)
                    .iter()
                    .any(|f| container_volumes(&f.dir).contains(&v.name));
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
