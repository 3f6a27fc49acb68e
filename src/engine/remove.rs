//! Removing containers: their kernel objects, records and (on request)
//! anonymous volumes; `discard` also undoes a half-made one.

use std::fs;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};

use super::network;
use super::stop::{stop, stop_params};
use crate::compose::Project;
use crate::container::list::Found;
use crate::progress::Progress;
use crate::state::{ContainerDir, Layout};
use crate::supervise::runtime_launcher::clear_stale;

/// Removes a stopped container and everything it holds in the kernel and on
/// disk; with `volumes`, its anonymous volumes too.
pub fn remove(layout: &Layout, found: &Found, volumes: bool) -> Result<()> {
    remove_then(layout, found, volumes, &|| {})
}

/// [`remove`], calling `detached` as soon as the container is off its networks
/// (before its files are deleted): `down` takes a network down the moment its
/// last member has left it.
pub fn remove_then(
    layout: &Layout,
    found: &Found,
    volumes: bool,
    detached: &dyn Fn(),
) -> Result<()> {
    // Taking the supervisor's lock keeps any supervisor away while the container
    // is taken apart; one still running (or starting: its `up` was killed, or the
    // state said `created`) is stopped first.
    let files = ContainerDir::new(&found.dir);
    // A container never started (or not since a reboot) has no run side yet.
    files
        .ensure_run_dir()
        .with_context(|| format!("creating {}", files.run_path().display()))?;
    let lock_path = files.supervisor_lock();
    let t0 = std::time::Instant::now();
    // A container seen stopped (`down` looks again once its stop is over) has a
    // supervisor on its way out, if any: its exit is awaited before it is asked
    // again, which would only cost a connection to a closing socket.
    let exiting = matches!(
        found.status.state,
        crate::container::ContainerState::Exited | crate::container::ContainerState::Dead
    );
    // Nothing of a stopped container runs on its networks any more: it leaves
    // them while its supervisor finishes (its cgroups, the runtime's files),
    // and `down` takes a network down that much sooner. A remove killed after
    // this leaves a container off its networks, which the next one finishes.
    let unwired = exiting.then(|| {
        let r = leave_networks(layout, &found.record.id);
        detached();
        r
    });
    let mut asked = false;
    let lock = loop {
        if let Some(lock) = crate::state::try_lock(&lock_path)
            .with_context(|| format!("locking {}", lock_path.display()))?
        {
            break lock;
        }
        if !asked && (!exiting || t0.elapsed() > Duration::from_millis(200)) {
            stop(layout, found, libc::SIGKILL, Duration::ZERO)?;
            asked = true;
        }
        if t0.elapsed() > Duration::from_secs(10) {
            bail!("the supervisor of {} does not exit", found.record.name);
        }
        // Its lock goes with its process: waiting for that exit, not a fixed
        // pause, lets a `down` remove each container the moment it can.
        wait_for_supervisor(&found.dir, Duration::from_millis(100));
    };
    if volumes {
        let used = ContainerDir::new(&found.dir).read_volumes();
        let store = layout.volumes();
        for v in used {
            if let Ok(Some(info)) = store.get(&v) {
                if info.labels.contains_key("com.docker.volume.anonymous") {
                    store.remove(&v)?;
                }
            }
        }
    }
    let result = discard_then(layout, &found.record.id, detached, unwired);
    if result.is_ok() {
        crate::events::emit(layout, &found.record, crate::events::Action::Destroy);
    }
    drop(lock);
    result
}

/// Waits up to `max` for the supervisor named in the container's status to exit;
/// without one to wait on (none recorded, or not started far enough to say),
/// a short pause before the lock is tried again.
fn wait_for_supervisor(dir: &std::path::Path, max: Duration) {
    const PAUSE: Duration = Duration::from_millis(10);
    let pid = crate::container::Status::load(dir)
        .ok()
        .and_then(|s| s.supervisor_pid);
    let Some(fd) = pid.and_then(|p| crate::supervise::sys::pidfd_open(p).ok()) else {
        std::thread::sleep(PAUSE);
        return;
    };
    let mut p = crate::supervise::sys::pollfd(std::os::fd::AsRawFd::as_raw_fd(&fd));
    // Readable once the process has exited; a timeout or an interruption only
    // means the lock is tried again.
    let _ = crate::supervise::sys::poll(std::slice::from_mut(&mut p), max.as_millis() as i32);
}

/// Takes away a container's runtime state, network and directory, whatever
/// state it is in; used for removal and to undo a half-made container.
pub fn discard(layout: &Layout, id: &str) -> Result<()> {
    discard_then(layout, id, &|| {}, None)
}

/// Takes container `id` off its networks (and drops its network namespace).
fn leave_networks(layout: &Layout, id: &str) -> Result<()> {
    let atts = attachments(&ContainerDir::new(layout.container(id)), id);
    let r = network::unwire(layout, id, &atts);
    berth_netns::fault::point("remove:after-unwire");
    r
}

/// [`discard`], calling `detached` once the container is off its networks;
/// `unwired`: how that went when the caller already took it off them.
fn discard_then(
    layout: &Layout,
    id: &str,
    detached: &dyn Fn(),
    unwired: Option<Result<()>>,
) -> Result<()> {
    let dir = layout.container(id);
    clear_stale(&dir);
    let store = crate::image::Store::at(&layout.root);
    let _ = store.unpin(id);
    let _ = store.unpin(&super::image_volume::pin_owner(id));
    // A caller that took it off its networks already said so.
    let net = unwired.unwrap_or_else(|| {
        let r = leave_networks(layout, id);
        detached();
        r
    });
    // Out of sight in one step, then deleted: a berth killed while deleting leaves
    // a `.del-` directory `repair` finishes, never half a container.
    let doomed = layout.containers().join(format!(".del-{id}"));
    let files = match fs::rename(&dir, &doomed) {
        Ok(()) => crate::state::remove_tree(&doomed)
            .map_err(|e| anyhow!(e).context(format!("removing {}", doomed.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow!(e).context(format!("removing {}", dir.display()))),
    };
    // The run side last: its lock kept supervisors away until now.
    let run = ContainerDir::new(&dir)
        .remove_run_dir()
        .map_err(anyhow::Error::from);
    net.and(files).and(run)
}

/// Its network attachments from `net.json`, or, where a power loss took that
/// file (it is not synced), the networks its record names: all that taking
/// it off them needs is the owner and the network (`berth_netns::detach`).
fn attachments(files: &ContainerDir, id: &str) -> Vec<berth_netns::Attachment> {
    if let Some(atts) = files.read_json::<Vec<berth_netns::Attachment>>(&files.net()) {
        return atts;
    }
    let Some(record) = files.read_json::<crate::container::ContainerRecord>(&files.record()) else {
        return vec![];
    };
    record
        .networks
        .into_iter()
        .map(|n| berth_netns::Attachment::for_detach(id, &n.network, &n.ifname))
        .collect()
}

/// Removes a stopped container as [`remove_then`] does, saying so on `progress`.
pub fn remove_shown(
    layout: &Layout,
    f: &Found,
    volumes: bool,
    progress: &Progress,
    detached: &dyn Fn(),
) -> Result<()> {
    let task = progress.task(&format!("Container {}", f.record.name), "Removing");
    match remove_then(layout, f, volumes, detached) {
        Ok(()) => {
            task.done("Removed");
            Ok(())
        }
        Err(e) => {
            task.fail("Error", &crate::report::text(&e));
            Err(e)
        }
    }
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
            .map(|f| s.spawn(move || remove_shown(layout, &f, volumes, progress, &|| {}).err()))
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect()
    });
    errors.into_iter().next().map_or(Ok(()), Err)
}

/// Stops a container with its service's stop signal and grace period (from
/// `project`, else the defaults), then removes it; with `volumes`, its
/// anonymous volumes too.
pub fn stop_and_remove(
    layout: &Layout,
    project: Option<&Project>,
    found: &Found,
    timeout: Option<Duration>,
    volumes: bool,
) -> Result<()> {
    let (signal, grace) = stop_params(project, found, timeout);
    stop(layout, found, signal, grace)?;
    remove(layout, found, volumes)
}
