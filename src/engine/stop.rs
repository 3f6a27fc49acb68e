//! Stopping containers: one (its stop signal, then SIGKILL), a signal to one,
//! or many in reverse dependency order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};

use super::graph::{containers_graph, Direction};
use super::hooks;
use super::settings::signal_number;
use crate::compose::Project;
use crate::container::list::Found;
use crate::container::{ContainerState, Status};
use crate::progress::Progress;
use crate::state::Layout;
use crate::supervise::control::{self, Request, Response};
use crate::supervise::runtime_launcher::clear_stale;

/// Stops a container: its stop signal, then SIGKILL after `timeout`; no restart follows.
pub fn stop(layout: &Layout, found: &Found, signal: i32, timeout: Duration) -> Result<()> {
    let dir = layout.container(&found.record.id);
    let sock = control::socket_path(&dir);
    let req = Request::Stop {
        signal,
        timeout_ms: timeout.as_millis() as u64,
    };
    match control::call(&sock, &req, timeout + Duration::from_secs(10)) {
        Ok(Response::Ok) => Ok(()),
        Ok(Response::Error(e)) => bail!("stopping {}: {e}", found.record.name),
        Err(_) => {
            // No supervisor: whatever the runtime still holds is killed outright.
            clear_stale(&dir);
            let mut st = Status::load(&dir).unwrap_or_default();
            if matches!(
                st.state,
                ContainerState::Running | ContainerState::Restarting | ContainerState::Paused
            ) {
                st.state = ContainerState::Exited;
                st.pid = None;
                st.stopped_by_user = true;
                st.save(&dir)?;
            }
            Ok(())
        }
    }
}

/// Sends a signal to a running container's processes.
pub fn kill(layout: &Layout, found: &Found, signal: i32) -> Result<()> {
    let sock = control::socket_path(&layout.container(&found.record.id));
    match control::call(&sock, &Request::Kill { signal }, Duration::from_secs(10)) {
        Ok(Response::Ok) => Ok(()),
        Ok(Response::Error(e)) => bail!("killing {}: {e}", found.record.name),
        Err(_) => bail!("container {} is not running", found.record.name),
    }
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
        Some(svc) if !svc.pre_stop.is_empty() => match hooks::pre_stop(&svc, f) {
            // Stopped on its own (killed) since its status was read: no hook to run.
            Err(e) if e.chain().any(|c| c.is::<super::exec::NotRunning>()) => Ok(()),
            r => r,
        },
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
    stop_all_then(layout, project, containers, timeout, progress, word, None)
}

/// What [`stop_all_then`] does with each container once its stop is over: it
/// gets the container and how its stop went (`Ok` for one that was not running),
/// and its result is the container's.
pub type AfterStop = Arc<dyn Fn(Found, Result<()>) -> Result<()> + Send + Sync>;

/// [`stop_all`], then `after` for each container (running or not) as soon as its
/// own stop is over, in the same task: `down` removes each container the moment
/// it stopped, while the others of its wave are still stopping, instead of
/// waiting for the slowest stop of the project before the first removal.
pub fn stop_all_then(
    layout: &Layout,
    project: Option<&Project>,
    containers: Vec<Found>,
    timeout: Option<Duration>,
    progress: &Progress,
    word: (&'static str, &'static str),
    after: Option<AfterStop>,
) -> Result<()> {
    let graph = containers_graph(project, &containers);
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
    let walked = rt.block_on(graph.walk(Direction::Reverse, |svc| {
        let (layout, project, by_service, progress, after) = (
            layout.clone(),
            project.clone(),
            by_service.clone(),
            progress.clone(),
            after.clone(),
        );
        async move {
            let mut handles = vec![];
            for f in by_service.get(&svc).cloned().unwrap_or_default() {
                let running = matches!(
                    f.status.state,
                    ContainerState::Running | ContainerState::Restarting | ContainerState::Paused
                );
                if !running {
                    if let Some(after) = after.clone() {
                        handles.push(tokio::task::spawn_blocking(move || after(f, Ok(()))));
                    }
                    continue;
                }
                let (layout, project, progress, after) = (
                    layout.clone(),
                    project.clone(),
                    progress.clone(),
                    after.clone(),
                );
                handles.push(tokio::task::spawn_blocking(move || {
                    let task = progress.task(&format!("Container {}", f.record.name), word.0);
                    let (signal, grace) = stop_params(project.as_ref().as_ref(), &f, timeout);
                    // A failing pre_stop hook fails the command and keeps the
                    // container running, as docker compose does (its stopContainer
                    // returns the hook's error before stopping); `kill` then
                    // `down` still takes it down.
                    let stopped = run_pre_stop(project.as_ref().as_ref(), &f)
                        .and_then(|()| stop(&layout, &f, signal, grace));
                    let stopped = match stopped {
                        Ok(()) => {
                            task.done(word.1);
                            Ok(())
                        }
                        Err(e) => {
                            task.fail("Error", &crate::report::text(&e));
                            Err(e)
                        }
                    };
                    match after {
                        Some(after) => after(f, stopped),
                        None => stopped,
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
    }));
    // Every task has ended: the pool's idle threads need not be waited for.
    rt.shutdown_background();
    walked
}
