//! `build [SERVICE...]` and `builder prune`: thin over [`crate::build`].

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Args, Subcommand};

use super::context::Ctx;
use crate::build::cancel::Cancel;
use crate::build::compose::{request, Flags};
use crate::build::progress::{Mode, Progress};
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
    /// Target platform (only the host's is supported)
    #[arg(long)]
    pub platform: Option<String>,
    /// Don't print anything to STDOUT
    #[arg(short, long)]
    pub quiet: bool,
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
        project
            .services
            .values()
            .filter(|s| s.build.is_some())
            .map(|s| s.name.clone())
            .collect()
    } else {
        a.services.clone()
    };
    let store = Store::open(&ctx.layout.root)
        .with_context(|| format!("opening the image store in {}", ctx.layout.root.display()))?;
    let cancel = cancel_on_signals()?;
    let flags = Flags {
        no_cache: a.no_cache,
        pull: a.pull,
        build_args: a.build_arg.clone(),
    };
    let secrets = a
        .secret
        .iter()
        .map(|s| crate::build::secrets::Secret::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mode = mode(ctx, a);
    for name in names {
        let svc = project
            .services
            .get(&name)
            .ok_or_else(|| anyhow!("no such service: {name}"))?;
        if svc.build.is_none() {
            // docker compose skips services without a build section silently.
            continue;
        }
        let mut req = request(project, svc, &flags)?;
        // --secret wins over compose's secret of the same id (looked up first).
        req.secrets.splice(0..0, secrets.iter().cloned());
        if a.platform.is_some() {
            req.platform = a.platform.clone();
        }
        let progress = Progress::new(mode, &name);
        let built = crate::build::front::build(&store, &ctx.layout.root, &req, &progress, &cancel)
            .map_err(|e| anyhow!("failed to build service {name:?}: {e}"))?;
        progress.finish();
        if mode != Mode::Quiet {
            eprintln!(" ✔ Service {name}  Built");
        }
        tracing::debug!("built {name}: {}", built.id);
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
