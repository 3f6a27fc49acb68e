//! `build [SERVICE...]` and `builder prune`: thin over [`crate::build`].

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};

use super::context::Ctx;
use crate::build::cancel::Cancel;
use crate::build::compose::{set, Flags};
use crate::build::progress::Mode;
use crate::image::Store;

/// `build`'s flags, as docker compose has them.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Set build-time variables for services (K=V, or K to take it from the environment)
    #[arg(long = "build-arg", value_name = "K=V")]
    pub build_arg: Vec<String>,
    /// Secret to expose to the build (id=X,src=PATH or id=X,env=VAR)
    #[arg(long = "secret", value_name = "id=X,src=PATH")]
    pub secret: Vec<String>,
    /// SSH agent socket or keys for RUN --mount=type=ssh (`default` for $SSH_AUTH_SOCK, or ID=PATH[,PATH])
    #[arg(long = "ssh", value_name = "default|ID=PATH")]
    pub ssh: Vec<String>,
    /// Target platform (only the host's is supported)
    #[arg(long)]
    pub platform: Option<String>,
    /// Don't print anything to STDOUT
    #[arg(short, long)]
    pub quiet: bool,
    /// Push service images after building them
    #[arg(long)]
    pub push: bool,
    /// Also build dependencies (transitively)
    #[arg(long)]
    pub with_dependencies: bool,
    /// Print equivalent bake file
    #[arg(long)]
    pub print: bool,
    /// Services to build (default: every service with a build section)
    pub services: Vec<String>,
}

/// `builder` subcommands.
#[derive(Debug, Subcommand)]
pub enum BuilderCommand {
    /// Remove build cache
    Prune(PruneArgs),
}

/// `builder prune`'s flags.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all build cache, not just what no image uses
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

/// A cancel handle that Ctrl-C (SIGINT, SIGTERM) triggers, from a thread of its own.
pub fn cancel_on_signals() -> Result<Cancel> {
    use tokio::signal::unix::{signal, SignalKind};
    let cancel = Cancel::new()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut int, mut term) = {
        let _in = rt.enter();
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        )
    };
    let c = cancel.clone();
    std::thread::spawn(move || {
        rt.block_on(async move {
            tokio::select! {
                _ = int.recv() => {},
                _ = term.recv() => {},
            }
            c.trigger();
        })
    });
    Ok(cancel)
}

fn mode(ctx: &Ctx, a: &BuildArgs) -> Mode {
    if a.quiet {
        return Mode::Quiet;
    }
    match ctx.progress_mode {
        crate::progress::Mode::Json => Mode::Json,
        crate::progress::Mode::Quiet => Mode::Quiet,
        crate::progress::Mode::Tty => Mode::Tty,
        crate::progress::Mode::Plain => Mode::Plain,
    }
}

/// Runs `build`.
pub fn run_build(ctx: &Ctx, a: &BuildArgs) -> Result<()> {
    let loaded = ctx.load(&a.services)?;
    let project = &loaded.project;
    super::context::check_services(project, &a.services)?;
    let names: Vec<String> = if a.services.is_empty() {
        project.service_names()
    } else if a.with_dependencies {
        crate::engine::graph::service_graph(project).with_dependencies(&a.services)
    } else {
        a.services.clone()
    };
    // As docker compose: an empty --ssh is `default`; its keys are read and its
    // socket found before anything is built (not for --print, which builds nothing).
    let ssh = a
        .ssh
        .iter()
        .map(|s| crate::build::ssh::SshSpec::parse_flag(s))
        .collect::<Result<Vec<_>, _>>()?;
    if !a.print {
        for s in &ssh {
            s.resolve()?;
        }
    }
    let flags = Flags {
        no_cache: a.no_cache,
        pull: a.pull,
        build_args: a.build_arg.clone(),
        ssh,
    };
    let secrets = a
        .secret
        .iter()
        .map(|s| crate::build::secrets::Secret::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    // Services without a build section are skipped, as docker compose does; the
    // services their service: contexts name are built first.
    let mut jobs = set::plan(project, &names, &flags, &|_| true)?;
    if a.print {
        println!(
            "{}",
            serde_json::to_string_pretty(&crate::build::compose::bake_json(project, &jobs))?
        );
        return Ok(());
    }
    for j in &mut jobs {
        // --secret wins over compose's secret of the same id (looked up first).
        j.request.secrets.splice(0..0, secrets.iter().cloned());
        if a.platform.is_some() {
            j.request.platform = a.platform.clone();
        }
    }
    let mode = mode(ctx, a);
    for j in &jobs {
        for w in crate::build::compose::warnings(&project.services[&j.service]) {
            eprintln!("WARN[0000] {w}");
        }
    }
    let store = Store::open(&ctx.layout.root)
        .with_context(|| format!("opening the image store in {}", ctx.layout.root.display()))?;
    let cancel = cancel_on_signals()?;
    let built = match set::run(&store, &jobs, mode, &cancel, &|j, b| {
        // docker compose v5's build event: `Image <image> Built` (ticked on a terminal).
        match mode {
            Mode::Quiet | Mode::Json => {}
            Mode::Tty => eprintln!(" ✔ Image {} Built", j.image),
            Mode::Plain => eprintln!("Image {} Built", j.image),
        }
        tracing::debug!("built {}: {}", j.image, b.id);
    }) {
        Ok(built) => built,
        // Ctrl-C: the progress shows the step CANCELED; exit 130 as docker compose.
        Err(_) if cancel.is_cancelled() => return Err(super::Exit(130).into()),
        Err(e) => return Err(e.into()),
    };
    if a.push {
        // docker compose pushes only the images a service names with `image:`.
        let services: Vec<String> = built
            .iter()
            .filter(|o| !project.services[&o.service].image.is_empty())
            .map(|o| o.service.clone())
            .collect();
        super::push::push_services(ctx, project, &services, false, a.quiet)?;
    }
    Ok(())
}

/// Runs `builder …`.
pub fn run_builder(ctx: &Ctx, cmd: &BuilderCommand) -> Result<()> {
    match cmd {
        BuilderCommand::Prune(a) => {
            if !a.force && !confirm(a.all)? {
                bail!("aborted");
            }
            let store = Store::open(&ctx.layout.root)?;
            let cache = crate::build::cache::Cache::new(&ctx.layout.root);
            let (entries, bytes) = cache.prune(&store, a.all)?;
            if a.all {
                let _ = std::fs::remove_dir_all(ctx.layout.root.join("build/mounts"));
                let _ = std::fs::remove_dir_all(ctx.layout.root.join("build/context"));
            }
            println!("Deleted build cache objects: {entries}");
            println!("Total reclaimed space: {}", human(bytes));
            Ok(())
        }
    }
}

fn confirm(all: bool) -> Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        bail!("builder prune needs --force when stdin is not a terminal");
    }
    let what = if all {
        "all build cache"
    } else {
        "all dangling build cache"
    };
    eprint!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

fn human(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.2}GB", b as f64 / (1u64 << 30) as f64)
    } else if b >= 1 << 20 {
        format!("{:.2}MB", b as f64 / (1u64 << 20) as f64)
    } else if b >= 1 << 10 {
        format!("{:.2}kB", b as f64 / 1024.0)
    } else {
        format!("{b}B")
    }
}
