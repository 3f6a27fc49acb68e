//! The command line: global options, subcommands, and the error edge.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub mod attach;
pub mod bridge;
pub mod build;
pub mod commit;
pub mod config;
pub mod context;
pub mod cp;
pub mod events;
pub mod exec;
pub mod export;
pub mod global;
pub mod gotemplate;
pub mod hidden;
pub mod image;
pub mod inspect;
pub mod logs;
pub mod manage;
pub mod ps;
pub mod publish;
pub mod pull;
pub mod push;
pub mod rootless;
pub mod run;
pub mod scale;
pub mod up;
pub mod version;
pub mod viz;
pub mod volumes;
pub mod watch;

pub use global::GlobalArgs;

/// Run and manage Compose projects without a daemon.
///
/// berth reads compose.yaml (and compose.override.yaml, .env, -f files) exactly as
/// docker compose does, and runs the project on its own container runtime: no
/// Docker daemon, no runc, no containerd.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, long_about)]
pub struct Cli {
    /// Options every subcommand accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// State root: images, layers, containers, volumes (default: /var/lib/berth;
    /// rootless: ~/.local/share/berth)
    #[arg(
        long,
        global = true,
        env = "BERTH_ROOT",
        default_value_os_t = crate::rootless::paths::default_root(&crate::rootless::paths::Env::current()),
        hide_default_value = true
    )]
    pub root: PathBuf,
    /// Run directory: network namespaces and network state (default: /run/berth,
    /// rootless $XDG_RUNTIME_DIR/berth; <root>/run for another root)
    #[arg(long, global = true, env = "BERTH_RUN_DIR")]
    pub run_dir: Option<PathBuf>,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand berth has; each one works.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Attach local standard input, output, and error streams to a service's running container
    Attach(attach::AttachArgs),
    /// Build or rebuild services
    Build(build::BuildArgs),
    /// Manage the build cache
    #[command(subcommand)]
    Builder(build::BuilderCommand),
    /// Convert the project to Kubernetes manifests
    #[command(subcommand)]
    Bridge(bridge::BridgeCommand),
    /// Parse, resolve and render compose file in canonical format
    #[command(alias = "convert")]
    Config(config::ConfigArgs),
    /// Copy files/folders between a service container and the local filesystem
    Cp(cp::CpArgs),
    /// Creates containers for a service
    Create(up::CreateArgs),
    /// Stop and remove containers, networks
    Down(manage::DownArgs),
    /// Receive real time events from containers
    Events(events::EventsArgs),
    /// Execute a command in a running container
    Exec(exec::ExecArgs),
    /// Manage images
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// List images used by the created containers
    Images(pull::ImagesArgs),
    /// Force stop service containers
    Kill(manage::KillArgs),
    /// View output from containers
    Logs(logs::LogsArgs),
    /// List running compose projects
    Ls(ps::LsArgs),
    /// Show, per container, what `up` would do and why
    Plan(up::PlanArgs),
    /// Pause services
    Pause(inspect::ServicesArgs),
    /// Print the public port for a port binding
    Port(ps::PortArgs),
    /// List containers
    Ps(ps::PsArgs),
    /// Pull service images
    Pull(pull::PullArgs),
    /// Publish compose application
    Publish(publish::PublishArgs),
    /// Push service images
    Push(push::PushArgs),
    /// Restart service containers
    Restart(manage::RestartArgs),
    /// Removes stopped service containers
    Rm(manage::RmArgs),
    /// Run a one-off command on a service
    Run(Box<run::RunArgs>),
    /// Scale services
    Scale(scale::ScaleArgs),
    /// Start services
    Start(manage::StartArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(inspect::StatsArgs),
    /// Stop services
    Stop(manage::StopArgs),
    /// Display the running processes
    Top(inspect::ServicesArgs),
    /// Show what rootless berth needs on this host, what is missing, and the fixes
    Doctor,
    /// Run a command inside berth's rootless user namespace (as `podman unshare`)
    Unshare(rootless::UnshareArgs),
    /// Unpause services
    Unpause(inspect::ServicesArgs),
    /// Create and start containers
    Up(up::UpArgs),
    /// Show the berth version information
    Version(version::VersionArgs),
    /// List volumes
    Volumes(volumes::VolumesArgs),
    /// Block until containers of all (or specified) services stop
    Wait(inspect::WaitArgs),
    /// Watch build context for service and rebuild/refresh containers when files are updated
    Watch(watch::WatchArgs),
    /// Export a service container's filesystem as a tar archive
    Export(export::ExportArgs),
    /// Create a new image from a service container's changes
    Commit(commit::CommitArgs),
    /// Experimental commands
    #[command(subcommand)]
    Alpha(viz::AlphaCommand),
    /// Supervise one container (berth runs this itself)
    #[command(hide = true)]
    Supervise(hidden::SuperviseArgs),
    /// Serve DNS for berth's networks (berth runs this itself)
    #[command(hide = true, name = "dns-serve")]
    DnsServe,
    /// Hold the rootless user namespace (berth runs this itself)
    #[command(hide = true, name = "rootless-holder")]
    RootlessHolder,
}

impl Command {
    /// The services named on the command line, for the commands that take them
    /// (patterns there select services as docker compose's do).
    fn services_mut(&mut self) -> Option<&mut Vec<String>> {
        Some(match self {
            Command::Build(a) => &mut a.services,
            Command::Down(a) => &mut a.services,
            Command::Events(a) => &mut a.services,
            Command::Images(a) => &mut a.services,
            Command::Kill(a) => &mut a.services,
            Command::Logs(a) => &mut a.services,
            Command::Pause(a) | Command::Top(a) | Command::Unpause(a) => &mut a.services,
            Command::Ps(a) => &mut a.names,
            Command::Pull(a) => &mut a.services,
            Command::Push(a) => &mut a.services,
            Command::Restart(a) => &mut a.services,
            Command::Rm(a) => &mut a.services,
            Command::Start(a) => &mut a.services,
            Command::Stats(a) => &mut a.services,
            Command::Stop(a) => &mut a.services,
            Command::Volumes(a) => &mut a.services,
            Command::Wait(a) => &mut a.services,
            Command::Watch(a) => &mut a.services,
            _ => return None,
        })
    }

    /// Whether the command touches berth's state, so that a rootless berth must
    /// run it inside its user namespace.
    fn uses_state(&self) -> bool {
        !matches!(
            self,
            Command::Version(_)
                | Command::Config(_)
                | Command::Alpha(_)
                | Command::Bridge(_)
                | Command::Doctor
                | Command::RootlessHolder
        )
    }

    /// Whether a rootless command that starts the namespace holder may leave
    /// its network helper to `rootless::need_way_out`: `up` and `create` call
    /// it with the ports they are about to publish, before any pull or
    /// container; the others here only stop, remove or list.
    fn defers_way_out(&self) -> bool {
        matches!(
            self,
            Command::Up(_)
                | Command::Create(_)
                | Command::Down(_)
                | Command::Stop(_)
                | Command::Kill(_)
                | Command::Rm(_)
                | Command::Ps(_)
                | Command::Ls(_)
        )
    }
}

/// A command that ran to its end but exits non-zero, with nothing more to say
/// (`exec`, `run`, `wait` pass on their process's exit code).
#[derive(Debug, thiserror::Error)]
#[error("exit status {0}")]
pub struct Exit(pub i32);

/// Parses the command line, runs it, and returns the process exit code.
pub fn main() -> i32 {
    // Before anything is created: berth's files are berth's alone, whatever the
    // caller's umask (see state::perms).
    crate::state::perms::set_umask();
    // A supervisor (one per container, living as long as it) starts without
    // the parser and the log subscriber, the bulk of a CLI's heap; the CLI that
    // spawned it has checked the state roots already. Only when the small
    // `berth-supervisor` is not installed beside berth does this run.
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if let Some(code) = crate::supervise::main::from_command_line(&args, hidden::dns_tick) {
        return code;
    }
    drop(args);
    // clap builds its whole command tree (every subcommand, with a copy of
    // each global option in each: ~600 KiB of heap) to parse one line, and
    // frees it here. Leaking it instead saves ~0.6 M instructions, but then
    // what the command loads faults in new pages rather than reusing that
    // memory, which costs more: a no-op `up` of 50 took 750 page faults
    // leaking it, 565 freeing it, and ~10 % more CPU time.
    let mut cli = Cli::parse();
    if let Command::RootlessHolder = cli.command {
        // Before anything else: it must unshare while single-threaded.
        return match crate::rootless::holder::run_holder() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("Error: {e}");
                1
            }
        };
    }
    // docker compose's hidden `--verbose` turns on its debug log; BERTH_LOG, when set, wins.
    let filter = match std::env::var("BERTH_LOG") {
        Err(_) if cli.global.verbose => tracing_subscriber::EnvFilter::new("berth=debug"),
        _ => tracing_subscriber::EnvFilter::from_env("BERTH_LOG"),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if cli.global.compatibility || env_true("COMPOSE_COMPATIBILITY") {
        crate::container::record::use_v1_separator();
    }
    // `-f oci://…`: the published project, pulled, is what every command reads.
    if let Err(e) = publish::resolve_remote_files(&mut cli.global) {
        eprintln!("Error: {}", crate::report::text(&e));
        return 1;
    }
    let ctx = context::Ctx::new(&cli.global, &cli.root, cli.run_dir.as_ref());
    if let Err(e) = crate::state::perms::secure_roots(&ctx.layout.root, &ctx.layout.run) {
        eprintln!("Error: closing berth's state to other users: {e}");
        return 1;
    }
    // A rootless berth joins its user namespace here, still single-threaded.
    let joined = if cli.command.uses_state() {
        match crate::rootless::enter(&ctx.layout, cli.command.defers_way_out()) {
            Ok(j) => j,
            Err(e) => {
                eprintln!("Error: {e}");
                return 1;
            }
        }
    } else {
        None
    };
    // docker compose's global `--dry-run`, for the command berth can run dry.
    if cli.global.dry_run {
        match &mut cli.command {
            Command::Up(a) => a.dry_run = true,
            Command::Publish(a) => a.dry_run = true,
            Command::Plan(_) => {}
            _ => {
                eprintln!("Error: --dry-run: berth runs only `up`, `publish` (and `plan`) dry");
                return 1;
            }
        }
    }
    // `stop 'web*'`: patterns become the services they match (up and create
    // select their own, with the project they load anyway).
    if let Some(services) = cli.command.services_mut() {
        match ctx.select(services) {
            Ok(s) => *services = s,
            Err(e) => {
                eprintln!("Error: {e:#}");
                return 1;
            }
        }
    }
    let res = match cli.command {
        Command::Attach(a) => attach::run_attach(&ctx, &a),
        Command::Build(a) => build::run_build(&ctx, &a),
        Command::Builder(c) => build::run_builder(&ctx, &c),
        Command::Bridge(cmd) => bridge::run(&cli.root, cli.global.project_options(), &cmd),
        Command::Config(mut args) => {
            args.store_root = Some(cli.root.clone());
            config::run(&args, cli.global.project_options())
        }
        Command::Cp(a) => cp::run_cp(&ctx, &a),
        Command::Create(a) => up::run_create(&ctx, &a),
        Command::Down(a) => manage::run_down(&ctx, &a),
        Command::Events(a) => events::run_events(&ctx, &a),
        Command::Exec(a) => exec::run_exec(&ctx, &a),
        Command::Image(cmd) => image::run(&cli.root, cmd),
        Command::Images(a) => pull::run_images(&ctx, &a),
        Command::Kill(a) => manage::run_kill(&ctx, &a),
        Command::Logs(a) => logs::run_logs(&ctx, &a),
        Command::Ls(a) => ps::run_ls(&ctx, &a),
        Command::Plan(a) => up::run_plan(&ctx, &a),
        Command::Pause(a) => inspect::run_pause(&ctx, &a),
        Command::Port(a) => ps::run_port(&ctx, &a),
        Command::Ps(a) => ps::run_ps(&ctx, &a),
        Command::Pull(a) => pull::run_pull(&ctx, &a),
        Command::Publish(a) => publish::run_publish(&ctx, &a),
        Command::Push(a) => push::run_push(&ctx, &a),
        Command::Restart(a) => manage::run_restart(&ctx, &a),
        Command::Rm(a) => manage::run_rm(&ctx, &a),
        Command::Run(a) => run::run_run(&ctx, &a),
        Command::Scale(a) => scale::run_scale(&ctx, &a),
        Command::Start(a) => manage::run_start(&ctx, &a),
        Command::Stats(a) => inspect::run_stats(&ctx, &a),
        Command::Stop(a) => manage::run_stop(&ctx, &a),
        Command::Top(a) => inspect::run_top(&ctx, &a),
        Command::Unpause(a) => inspect::run_unpause(&ctx, &a),
        Command::Up(a) => up::run_up(&ctx, &a),
        Command::Version(a) => version::run_version(&a),
        Command::Volumes(a) => volumes::run_volumes(&ctx, &a),
        Command::Wait(a) => inspect::run_wait(&ctx, &a),
        Command::Watch(a) => watch::run_watch(&ctx, &a),
        Command::Export(a) => export::run_export(&ctx, &a),
        Command::Commit(a) => commit::run_commit(&ctx, &a),
        Command::Alpha(c) => viz::run_alpha(&ctx, &c),
        Command::Supervise(a) => hidden::run_supervise(&ctx.layout, &a),
        Command::DnsServe => hidden::run_dns(&ctx.layout),
        Command::Doctor => rootless::run_doctor(&ctx.layout),
        Command::Unshare(a) => rootless::run_unshare(&a),
        Command::RootlessHolder => Ok(()),
    };
    // Published ports reach the host (pasta) only here, after the state says
    // which: a failure to bind them fails the command.
    let res = match (res, joined.map(|j| j.release(&ctx.layout))) {
        (Ok(()), Some(Err(e))) => Err(anyhow::anyhow!(e)),
        (Err(r), Some(Err(e))) => {
            eprintln!("Error: {e}");
            Err(r)
        }
        (r, _) => r,
    };
    match res {
        Ok(()) => 0,
        Err(e) if e.downcast_ref::<Exit>().is_some() => e.downcast_ref::<Exit>().map_or(1, |x| x.0),
        Err(e) if e.is::<crate::engine::interrupt::Interrupted>() => {
            eprintln!("{e}");
            130
        }
        Err(e) => {
            eprintln!("Error: {}", crate::report::text(&e));
            1
        }
    }
}

/// A boolean environment variable as Go's `strconv.ParseBool` reads it.
fn env_true(name: &str) -> bool {
    std::env::var(name)
        .is_ok_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"))
}
