//! `run`: a one-off container of a service (`<project>-<service>-run-<hex>`, labelled
//! `com.docker.compose.oneoff=True`), its dependencies started first by `up`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use indexmap::IndexMap;

use super::attach::{session, SessionEnd, SessionOptions};
use super::create::{create, CreateRequest};
use super::images::{ensure_image, PullOverride};
use super::load::Loaded;
use super::network::ensure_networks;
use super::remove::{self, discard};
use super::start::start;
use super::stop::stop;
use super::terminal::window_size;
use super::up::{up, UpOptions};
use crate::compose::dotenv::read_env_file;
use crate::compose::model::command::split_shell_words;
use crate::compose::model::port::parse_port_spec;
use crate::compose::model::volume_mount::parse_volume_spec;
use crate::compose::model::ServiceConfig;
use crate::compose::Project;
use crate::container::list::{find, observed_status, Found};
use crate::container::record::new_id;
use crate::container::ContainerState;
use crate::image::Store;
use crate::progress::Progress;
use crate::state::Layout;
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
    /// `--env-from-file`: dotenv files read after `-e` (which wins on a clash).
    pub env_files: Vec<PathBuf>,
    /// `-l KEY=VAL`: labels added to (or overriding) the service's.
    pub labels: Vec<String>,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--pull`.
    pub pull: PullOverride,
    /// `--build`: build the service's image (and its dependencies') first, once each.
    pub build: bool,
    /// `--quiet-pull`: no line per pulled image.
    pub quiet_pull: bool,
    /// `--remove-orphans`.
    pub remove_orphans: bool,
    /// `--use-aliases`: the one-off answers to the service's name and network
    /// aliases, as the service's own containers do.
    pub use_aliases: bool,
    /// A terminal for the container (docker compose: unless `-T`, when berth's
    /// output is a terminal), whatever the service's `tty:` says.
    pub tty: bool,
    /// `-i` (the default): the container's stdin stays open.
    pub interactive: bool,
    /// The caller attaches right after the start: the supervisor holds the
    /// container's output and exit for it, so that none is missed.
    pub attach: bool,
    /// `--rm -d`: the container's supervisor removes it once it has exited
    /// (docker's AutoRemove); attached, the caller removes it.
    pub auto_remove: bool,
}

/// The label holding a one-off's random slug, as docker compose sets it.
const SLUG_LABEL: &str = "com.docker.compose.slug";

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
    super::models::check_models(project, std::slice::from_ref(&opts.service))?;
    if opts.build {
        let names = if opts.no_deps {
            vec![opts.service.clone()]
        } else {
            super::graph::service_graph(project)
                .with_dependencies(std::slice::from_ref(&opts.service))
        };
        let store = Store::open(&layout.root)?;
        super::build::build_needed(
            &store,
            project,
            &names,
            opts.pull,
            super::build::BuildMode::Always,
            progress,
        )?;
    } else if base.build.is_some() {
        // A missing image is built with what its build needs first (`service:`
        // contexts), as docker compose's `run` does (TestComposeRunBuild).
        let store = Store::open(&layout.root)?;
        super::build::build_needed(
            &store,
            project,
            std::slice::from_ref(&opts.service),
            opts.pull,
            super::build::BuildMode::Missing,
            progress,
        )?;
    }
    let mut deps_ran = false;
    if !opts.no_deps {
        let deps: Vec<String> = loaded
            .graph
            .with_dependencies(std::slice::from_ref(&opts.service))
            .into_iter()
            .filter(|d| d != &opts.service)
            .collect();
        if !deps.is_empty() {
            let up_opts = UpOptions {
                services: deps,
                pull: opts.pull,
                remove_orphans: opts.remove_orphans,
                // `--build` built them above: each image once.
                build: if opts.build {
                    super::build::BuildMode::Never
                } else {
                    super::build::BuildMode::Missing
                },
                ..Default::default()
            };
            let again = Loaded {
                project: loaded.project.clone(),
                hashes: loaded.hashes.clone(),
                graph: loaded.graph.clone(),
            };
            up(layout, again, &up_opts, progress)?;
            deps_ran = true;
        }
    }
    let OneOff { svc, name } = oneoff_service(base, project, opts)?;
    let _lock = ProjectLock::acquire(&layout.root, &project.name)?;
    // `up` for the dependencies has already dealt with containers of unknown
    // services; finished one-offs are orphans only `run` looks for.
    handle_orphans(layout, project, opts.remove_orphans, !deps_ran, progress)?;
    let store = Store::open(&layout.root)?;
    // `--quiet-pull` drops the layer progress, which berth does not show; the
    // pull itself is still reported, as docker compose does.
    let image = ensure_image(&store, project, &svc, opts.pull, &|image| {
        Some(progress.task(&format!("Image {image}"), "Pulling"))
    })?;
    // The images its `type: image` volumes mount, pulled when missing.
    super::image_volume::ensure_sources(
        &store,
        project,
        std::slice::from_ref(&opts.service),
        &loaded.hashes,
        progress,
    )?;
    ensure_networks(
        layout,
        project,
        std::slice::from_ref(&opts.service),
        progress,
    )?;
    if find(&layout.root, None)
        .iter()
        .any(|f| f.record.name == name)
    {
        bail!("a container named {name:?} already exists");
    }
    let hash = loaded.hashes.get(&svc.name).cloned().unwrap_or_default();
    let record = create(&CreateRequest {
        layout,
        project,
        svc: &svc,
        number: 1,
        image: &image,
        config_hash: &hash,
        oneoff: true,
        name: Some(name),
        service_aliases: opts.use_aliases,
    })?;
    if opts.attach {
        prepare_for_attach(&layout.container(&record.id), opts.tty)?;
    }
    if opts.auto_remove {
        let dir = layout.container(&record.id);
        let mut launch = LaunchConfig::load(&dir)?;
        launch.auto_remove = true;
        launch.save(&dir)?;
    }
    if let Err(e) = start(layout, &record.id) {
        let _ = discard(layout, &record.id);
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

/// The one-off's configuration and its container name.
struct OneOff {
    svc: ServiceConfig,
    name: String,
}

/// The service as the one-off runs it: the command line's overrides, no restart
/// policy (docker compose ignores it for `run`), no TTY, and no published ports
/// unless asked for.
fn oneoff_service(base: &ServiceConfig, project: &Project, opts: &RunOptions) -> Result<OneOff> {
    if opts.service_ports && !opts.publish.is_empty() {
        bail!("--service-ports and --publish are incompatible");
    }
    let mut svc = base.clone();
    if !opts.command.is_empty() {
        svc.command = Some(opts.command.clone());
    }
    if let Some(e) = &opts.entrypoint {
        // docker compose splits it as a shell would (quotes, escapes), not on spaces.
        let words = split_shell_words(e).map_err(|m| anyhow!("invalid --entrypoint {e:?}: {m}"))?;
        svc.entrypoint = Some(words);
    }
    for (k, v) in run_environment(&opts.env, &opts.env_files, &project.environment)? {
        svc.environment.insert(k, Some(v));
    }
    for l in &opts.labels {
        let (k, v) = l
            .split_once('=')
            .ok_or_else(|| anyhow!("--label {l:?}: a label must be set as KEY=VALUE"))?;
        svc.labels.insert(k.to_string(), v.to_string());
    }
    // docker compose: an added capability leaves the dropped list and vice versa.
    svc.cap_drop.retain(|c| !opts.cap_add.contains(c));
    svc.cap_add.extend(opts.cap_add.iter().cloned());
    svc.cap_add.retain(|c| !opts.cap_drop.contains(c));
    svc.cap_drop.extend(opts.cap_drop.iter().cloned());
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
            .extend(parse_port_spec(p).map_err(|e| anyhow!("--publish {p:?}: {e}"))?);
    }
    for v in &opts.volumes {
        let mut m = parse_volume_spec(v).map_err(|e| anyhow!("-v {v:?}: {e}"))?;
        if m.kind == "bind" && !m.source.starts_with('/') {
            m.source = project.working_dir.join(&m.source).display().to_string();
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
    let slug = new_id();
    let name = opts.name.clone().unwrap_or_else(|| {
        let s = crate::container::record::separator();
        format!("{}{s}{}{s}run{s}{}", project.name, svc.name, &slug[..12])
    });
    svc.labels.insert(SLUG_LABEL.into(), slug);
    Ok(OneOff { svc, name })
}

/// `-e` entries (`K=V`, or `K` taken from berth's environment), then the
/// `--env-from-file` files for keys `-e` did not set, as docker compose reads them.
fn run_environment(
    env: &[String],
    files: &[PathBuf],
    project_env: &BTreeMap<String, String>,
) -> Result<IndexMap<String, String>> {
    let mut out: IndexMap<String, String> = IndexMap::new();
    for e in env {
        match e.split_once('=') {
            Some((k, v)) => {
                out.insert(k.to_string(), v.to_string());
            }
            // A bare `-e KEY` takes the project's value (the shell's, else the
            // .env's or --env-file's), as docker compose resolves it; unset
            // there, it is dropped and the image's value stays.
            None => {
                if let Some(v) = project_env.get(e) {
                    out.insert(e.clone(), v.clone());
                }
            }
        }
    }
    for file in files {
        let mut warnings = vec![];
        let vars = {
            let lookup = |k: &str| out.get(k).cloned();
            read_env_file(file, &lookup, &mut warnings)
                .map_err(|e| anyhow!("--env-from-file {}: {e}", file.display()))?
        };
        for (k, v) in vars {
            out.entry(k).or_insert(v);
        }
    }
    Ok(out)
}

/// Orphans as docker compose's `run` sees them: finished one-offs of the project
/// and, when `unknown_services`, containers of services no longer in the file.
/// They are removed with `--remove-orphans`, otherwise warned about (unless
/// `COMPOSE_IGNORE_ORPHANS` is set).
fn handle_orphans(
    layout: &Layout,
    project: &Project,
    remove: bool,
    unknown_services: bool,
    progress: &Progress,
) -> Result<()> {
    let known: Vec<&str> = project.all_services().map(|s| s.name.as_str()).collect();
    let orphans: Vec<Found> = find(&layout.root, Some(&project.name))
        .into_iter()
        .filter(|f| {
            if f.record.oneoff {
                matches!(
                    f.status.state,
                    ContainerState::Exited | ContainerState::Dead
                )
            } else {
                unknown_services && !known.contains(&f.record.service.as_str())
            }
        })
        .collect();
    if orphans.is_empty() {
        return Ok(());
    }
    if remove {
        for f in &orphans {
            let task = progress.task(&format!("Container {}", f.record.name), "Removing");
            stop(layout, f, libc::SIGKILL, Duration::ZERO)?;
            remove::remove(layout, f, false)?;
            task.done("Removed");
        }
        return Ok(());
    }
    let ignore = std::env::var("COMPOSE_IGNORE_ORPHANS")
        .ok()
        .or_else(|| project.environment.get("COMPOSE_IGNORE_ORPHANS").cloned())
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"));
    if !ignore {
        progress.println(&format!(
            "WARN[0000] Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            orphans.iter().map(|f| f.record.name.as_str()).collect::<Vec<_>>().join(" ")
        ));
    }
    Ok(())
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
    let path = crate::state::ContainerDir::new(&found.dir).log();
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

/// What a supervisor does once the container it ran with `auto_remove` has
/// exited for good (`run --rm -d`): removes it and its anonymous volumes, as
/// `run --rm` does when attached. Gone already (a `down` got there first):
/// nothing to do.
pub fn remove_after_exit(layout: &Layout, id: &str) -> Result<()> {
    let dir = layout.container(id);
    let Ok(record) = crate::container::ContainerRecord::load(&dir) else {
        return Ok(());
    };
    let found = Found {
        status: observed_status(&dir),
        dir,
        record,
    };
    remove::remove(layout, &found, true)
}

/// Removes a one-off container and its anonymous volumes (`run --rm`).
pub fn remove_oneoff(layout: &Layout, found: &Found) -> Result<()> {
    let f = Found {
        status: observed_status(&found.dir),
        ..found.clone()
    };
    stop(layout, &f, libc::SIGKILL, Duration::ZERO)?;
    remove::remove(layout, &f, true)
}
