//! `run`: a one-off container of a service (`<project>-<service>-run-<hex>`, labelled
//! `com.docker.compose.oneoff=True`), its dependencies started first by `up`.

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};

use super::attach::{session, SessionEnd, SessionOptions};
use super::images::{ensure_image, PullOverride};
use super::layout::Layout;
use super::lifecycle::{self, CreateRequest};
use super::load::Loaded;
use super::terminal::window_size;
use super::up::{ensure_networks, service_graph, up, UpOptions};
use crate::compose::model::port::parse_port_spec;
use crate::compose::model::volume_mount::parse_volume_spec;
use crate::container::list::{find, observed_status, Found};
use crate::container::record::new_id;
use crate::container::ContainerState;
use crate::image::Store;
use crate::progress::Progress;
use crate::state::ProjectLock;
use crate::supervise::control::ControlError;
use crate::supervise::launch::LaunchConfig;
use crate::supervise::logfile::{Entry, Stream};

/// `run`'s options.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The service.
    pub service: String,
    /// The command (empty: the service's).
    pub command: Vec<String>,
    /// `--entrypoint`.
    pub entrypoint: Option<String>,
    /// `--name`.
    pub name: Option<String>,
    /// `-e K=V` (or `-e K`: from berth's environment).
    pub env: Vec<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-v` in the short syntax.
    pub volumes: Vec<String>,
    /// `-p` in the short syntax.
    pub publish: Vec<String>,
    /// `--service-ports`: publish the service's own `ports:`.
    pub service_ports: bool,
    /// `--no-deps`.
    pub no_deps: bool,
    /// A terminal for the container (docker compose: unless `-T`, when berth's
    /// output is a terminal), whatever the service's `tty:` says.
    pub tty: bool,
    /// `-i` (the default): the container's stdin stays open.
    pub interactive: bool,
    /// The caller attaches right after the start: the supervisor holds the
    /// container's output and exit for it, so that none is missed.
    pub attach: bool,
}

/// Creates and starts the one-off container (dependencies first); returns it.
pub fn start_oneoff(
    layout: &Layout,
    loaded: Loaded,
    opts: &RunOptions,
    progress: &Progress,
) -> Result<Found> {
    let project = &loaded.project;
    let base = project
        .services
        .get(&opts.service)
        .ok_or_else(|| anyhow!("no such service: {}", opts.service))?;
    if !opts.no_deps {
        let deps: Vec<String> = service_graph(project)
            .with_dependencies(std::slice::from_ref(&opts.service))
            .into_iter()
            .filter(|d| d != &opts.service)
            .collect();
        if !deps.is_empty() {
            let up_opts = UpOptions {
                services: deps,
                ..Default::default()
            };
            let again = Loaded {
                project: loaded.project.clone(),
                hashes: loaded.hashes.clone(),
            };
            up(layout, again, &up_opts, progress)?;
        }
    }
    let svc = oneoff_service(base, &project.working_dir, opts)?;
    let _lock = ProjectLock::acquire(&layout.root, &project.name)?;
    let store = Store::open(&layout.root)?;
    let image = ensure_image(&store, project, &svc, PullOverride::Policy, &|image| {
        progress.println(&format!(" {} Pulling {image}", svc.name))
    })?;
    ensure_networks(
        layout,
        project,
        std::slice::from_ref(&opts.service),
        progress,
    )?;
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-run-{}", project.name, svc.name, &new_id()[..12]));
    if find(&layout.root, None)
        .iter()
        .any(|f| f.record.name == name)
    {
        bail!("a container named {name:?} already exists");
    }
    let hash = loaded.hashes.get(&svc.name).cloned().unwrap_or_default();
    let record = lifecycle::create(&CreateRequest {
        layout,
        project,
        svc: &svc,
        number: 1,
        image: &image,
        config_hash: &hash,
        oneoff: true,
        name: Some(name),
    })?;
    if opts.attach {
        prepare_for_attach(&layout.container(&record.id), opts.tty)?;
    }
    if let Err(e) = lifecycle::start(layout, &record.id) {
        let _ = lifecycle::discard(layout, &record.id);
        return Err(e);
    }
    let dir = layout.container(&record.id);
    if opts.attach {
        // The supervisor has read it: a later `start` of this container must not
        // wait for a client that will not come.
        let mut launch = LaunchConfig::load(&dir)?;
        launch.await_attach = false;
        launch.save(&dir)?;
    }
    Ok(Found {
        status: observed_status(&dir),
        dir,
        record,
    })
}

/// The service as the one-off runs it: the command line's overrides, no restart,
/// no TTY, and no published ports unless asked for.
fn oneoff_service(
    base: &crate::compose::model::ServiceConfig,
    working_dir: &Path,
    opts: &RunOptions,
) -> Result<crate::compose::model::ServiceConfig> {
    let mut svc = base.clone();
    if !opts.command.is_empty() {
        svc.command = Some(opts.command.clone());
    }
    if let Some(e) = &opts.entrypoint {
        svc.entrypoint = Some(e.split_whitespace().map(String::from).collect());
    }
    for e in &opts.env {
        match e.split_once('=') {
            Some((k, v)) => {
                svc.environment.insert(k.to_string(), Some(v.to_string()));
            }
            None => {
                if let Ok(v) = std::env::var(e) {
                    svc.environment.insert(e.clone(), Some(v));
                }
            }
        }
    }
    if let Some(u) = &opts.user {
        svc.user = u.clone();
    }
    if let Some(w) = &opts.workdir {
        svc.working_dir = w.clone();
    }
    if !opts.service_ports {
        svc.ports.clear();
    }
    for p in &opts.publish {
        svc.ports
            .extend(parse_port_spec(p).map_err(|e| anyhow!("-p {p:?}: {e}"))?);
    }
    for v in &opts.volumes {
        let mut m = parse_volume_spec(v).map_err(|e| anyhow!("-v {v:?}: {e}"))?;
        if m.kind == "bind" && !m.source.starts_with('/') {
            m.source = working_dir.join(&m.source).display().to_string();
        }
        svc.volumes.push(m);
    }
    svc.restart = "no".into();
    if let Some(d) = svc.deploy.as_mut() {
        d.restart_policy = None;
    }
    svc.tty = opts.tty;
    svc.stdin_open = opts.interactive;
    svc.container_name = String::new();
    Ok(svc)
}

/// Tells the supervisor of a created one-off to await its client, and gives the
/// terminal the local one's size from the first moment (a `stty size` run as the
/// command must not see 0 0).
fn prepare_for_attach(dir: &Path, tty: bool) -> Result<()> {
    let mut launch = LaunchConfig::load(dir)?;
    launch.await_attach = true;
    if let (true, Some((rows, cols))) = (tty, window_size(0)) {
        let mut process = launch.spec.process().clone().unwrap_or_default();
        process.set_console_size(Some(
            oci_spec::runtime::BoxBuilder::default()
                .height(rows as u64)
                .width(cols as u64)
                .build()?,
        ));
        launch.spec.set_process(Some(process));
    }
    launch.save(dir)?;
    Ok(())
}

/// Joins the local terminal (or stdin/stdout/stderr) to a started one-off until it
/// exits; returns its exit code. Falls back to following its log when the
/// supervisor cannot be attached to.
pub fn attach_until_exit(found: &Found, opts: &SessionOptions) -> Result<i32> {
    match session(&found.dir, opts) {
        Ok(SessionEnd::Exited(code)) => Ok(code),
        Ok(SessionEnd::Detached) => Ok(0),
        // What was printed stays printed: only the exit is still to come.
        Ok(SessionEnd::Lost) => loop {
            let st = observed_status(&found.dir);
            if matches!(st.state, ContainerState::Exited | ContainerState::Dead) {
                return Ok(st.exit_code.unwrap_or(0));
            }
            std::thread::sleep(Duration::from_millis(20));
        },
        // Nothing was printed: the log has it all.
        Err(e) if e.downcast_ref::<ControlError>().is_some() => {
            tracing::debug!("attach: {e:#}; following the log instead");
            follow_until_exit(found)
        }
        Err(e) => Err(e),
    }
}

/// Prints the container's output (stdout to stdout, stderr to stderr) until it has
/// exited; returns its exit code.
pub fn follow_until_exit(found: &Found) -> Result<i32> {
    let path = found.dir.join("log");
    let mut offset = 0u64;
    loop {
        // The state first: output logged before the exit is read after it.
        let st = observed_status(&found.dir);
        let done = matches!(st.state, ContainerState::Exited | ContainerState::Dead);
        if let Ok(mut f) = std::fs::File::open(&path) {
            f.seek(SeekFrom::Start(offset))?;
            let mut r = BufReader::new(f);
            loop {
                let mut line = String::new();
                let n = r.read_line(&mut line)?;
                if n == 0 {
                    break;
                }
                if !line.ends_with('\n') {
                    // A record still being written: read it whole next time.
                    break;
                }
                offset += n as u64;
                if let Ok(e) = serde_json::from_str::<Entry>(&line) {
                    match e.stream {
                        Stream::Stdout => {
                            let mut o = std::io::stdout().lock();
                            o.write_all(e.log.as_bytes())?;
                            o.flush()?;
                        }
                        Stream::Stderr => {
                            std::io::stderr().write_all(e.log.as_bytes())?;
                        }
                    }
                }
            }
        }
        if done {
            if st.state == ContainerState::Dead {
                bail!(
                    "container {} failed: {}",
                    found.record.name,
                    st.error.unwrap_or_default()
                );
            }
            return Ok(st.exit_code.unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Removes a one-off container and its anonymous volumes (`run --rm`).
pub fn remove_oneoff(layout: &Layout, found: &Found) -> Result<()> {
    let f = Found {
        status: observed_status(&found.dir),
        ..found.clone()
    };
    lifecycle::stop(layout, &f, libc::SIGKILL, Duration::ZERO)?;
    lifecycle::remove(layout, &f, true)
}
