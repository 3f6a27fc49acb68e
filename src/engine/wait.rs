//! Waiting on containers' status: `wait` (until they exit) and `up --wait`
//! (until they run, healthy, or a job exited 0).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::container::list::{find, observed_status};
use crate::container::watch::StatusWatch;
use crate::container::{ContainerState, Health, Status};
use crate::progress::Progress;
use crate::state::Layout;

/// Waits for the containers of `services` in `project`; calls `exited(name, code)` as
/// each one exits, in order of exit, and stops after the first when `first_only`.
/// Returns the first exit code.
pub fn wait(
    layout: &Layout,
    project: &str,
    services: &[String],
    first_only: bool,
    exited: &mut dyn FnMut(&str, i32),
) -> Result<i32> {
    let mut pending: Vec<_> = find(&layout.root, Some(project))
        .into_iter()
        .filter(|f| !f.record.oneoff && services.contains(&f.record.service))
        .collect();
    for s in services {
        if !pending.iter().any(|f| &f.record.service == s) {
            bail!("service {s:?} has no container in project {project:?}");
        }
    }
    let watch = StatusWatch::new(&layout.containers())?;
    for f in &pending {
        watch.add(&f.dir);
    }
    let mut first = None;
    while !pending.is_empty() {
        let mut i = 0;
        while i < pending.len() {
            let st = observed_status(&pending[i].dir);
            if matches!(st.state, ContainerState::Exited | ContainerState::Dead)
                || !pending[i].dir.exists()
            {
                let f = pending.remove(i);
                let code = st.exit_code.unwrap_or(0);
                exited(&f.record.name, code);
                first.get_or_insert(code);
                if first_only {
                    return Ok(code);
                }
            } else {
                i += 1;
            }
        }
        if !pending.is_empty() {
            // Woken by status writes; the bound catches a supervisor that died silently.
            watch.wait(Duration::from_millis(500));
        }
    }
    Ok(first.unwrap_or(0))
}

/// How long a waiter trusts the status watch before it looks again anyway.
pub const STATUS_RECHECK: Duration = Duration::from_millis(500);

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

/// What a `depends_on` condition waits for in the dependency's containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `service_healthy`.
    Healthy,
    /// `service_completed_successfully`.
    Completed,
}

/// Waits until every container of service `dep` meets `cond`, showing
/// `Container … Waiting` then `Healthy` (or `Exited`) for each, as docker
/// compose does. The inner `Err` is the message of a dependency that never
/// will (the caller decides whether it is fatal: `required: false`).
pub fn await_condition(
    layout: &Layout,
    project: &str,
    dep: &str,
    cond: Condition,
    progress: &Progress,
    interrupt: Option<&super::interrupt::Interrupt>,
) -> Result<std::result::Result<(), String>> {
    let watch = StatusWatch::new(&layout.containers())?;
    let mut tasks: BTreeMap<String, crate::progress::Task> = BTreeMap::new();
    let mut done: std::collections::BTreeSet<String> = Default::default();
    loop {
        let containers: Vec<_> = find(&layout.root, Some(project))
            .into_iter()
            .filter(|f| f.record.service == dep && !f.record.oneoff)
            .collect();
        let mut all = !containers.is_empty();
        for f in &containers {
            watch.add(&f.dir);
            let name = &f.record.name;
            if done.contains(name) {
                continue;
            }
            tasks
                .entry(name.clone())
                .or_insert_with(|| progress.task(&format!("Container {name}"), "Waiting"));
            let st: &Status = &f.status;
            let exited = matches!(st.state, ContainerState::Exited | ContainerState::Dead);
            let verdict = match cond {
                Condition::Healthy if st.health == Some(Health::Unhealthy) => Err(format!(
                    "dependency failed to start: container {name} is unhealthy"
                )),
                Condition::Healthy if exited => Err(format!(
                    "dependency failed to start: container {name} exited ({})",
                    st.exit_code.unwrap_or(0)
                )),
                Condition::Healthy if st.health == Some(Health::Healthy) => Ok(Some("Healthy")),
                Condition::Completed if exited => match st.exit_code.unwrap_or(0) {
                    0 => Ok(Some("Exited")),
                    code => Err(format!(
                        "service {dep:?} didn't complete successfully: exit {code}"
                    )),
                },
                _ => Ok(None),
            };
            match verdict {
                Ok(Some(word)) => {
                    if let Some(t) = tasks.remove(name) {
                        t.done(word);
                    }
                    done.insert(name.clone());
                }
                Ok(None) => all = false,
                Err(msg) => {
                    if let Some(t) = tasks.remove(name) {
                        t.fail("Error", &msg);
                    }
                    return Ok(Err(msg));
                }
            }
        }
        if all {
            return Ok(Ok(()));
        }
        // Ctrl-C while `up` waits for a dependency ends the wait (exit 130).
        if let Some(i) = interrupt {
            i.check()?;
        }
        // Woken by the supervisors' status writes; the bound catches a supervisor
        // that died without writing (docker compose polls every 500 ms).
        watch.wait(STATUS_RECHECK);
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
