//! `watch`: sync, rebuild or restart services as their files change
//! (`develop.watch`), in the foreground or detached.

use std::ffi::OsString;
use std::io::Write;

use anyhow::{bail, Result};
use clap::Args;

use super::context::Ctx;
use crate::compose::Project;
use crate::engine::up::{up, UpOptions};
use crate::watch::detach;
use crate::watch::run::{Session, WatchOptions};

/// `watch`'s flags.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Do not build & start services before watching
    #[arg(long)]
    pub no_up: bool,
    /// Prune dangling images on rebuild
    #[arg(long)]
    pub prune: bool,
    /// Hide build output
    #[arg(long)]
    pub quiet: bool,
    /// Keep watching in the background after this command returns
    #[arg(short, long)]
    pub detach: bool,
    /// Stop the project's detached watch
    #[arg(long, conflicts_with_all = ["detach", "status", "logs"])]
    pub stop: bool,
    /// Show whether the project's detached watch runs
    #[arg(long, conflicts_with_all = ["detach", "logs"])]
    pub status: bool,
    /// Print the detached watch's log
    #[arg(long, conflicts_with = "detach")]
    pub logs: bool,
    /// With --logs: keep printing the log until that watch ends
    #[arg(short, long, requires = "logs")]
    pub follow: bool,
    /// The detached watch's supervisor (berth runs this itself)
    #[arg(long, hide = true)]
    pub supervise: bool,
    /// The detached watcher (berth runs this itself)
    #[arg(long, hide = true)]
    pub worker: bool,
    /// Changes for a stopped container on stdin (berth runs this itself)
    #[arg(long, hide = true)]
    pub apply: bool,
    /// Services to watch (default: every service with develop.watch)
    pub services: Vec<String>,
}

/// berth's global arguments for the berth commands a watch runs, so they act
/// on the same state root and project whatever their working directory.
pub fn berth_args(ctx: &Ctx, project: &Project) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![
        "--root".into(),
        ctx.layout.root.clone().into(),
        "--run-dir".into(),
        ctx.layout.run.clone().into(),
        "-p".into(),
        project.name.clone().into(),
        "--project-directory".into(),
        project.working_dir.clone().into(),
    ];
    for f in &project.compose_files {
        a.push("-f".into());
        a.push(f.clone().into());
    }
    for e in &ctx.opts.env_files {
        a.push("--env-file".into());
        a.push(ctx.opts.working_dir.join(e).into());
    }
    for p in &ctx.opts.profiles {
        a.push("--profile".into());
        a.push(p.into());
    }
    a
}

fn options(ctx: &Ctx, project: &Project, a: &WatchArgs) -> WatchOptions {
    WatchOptions {
        services: a.services.clone(),
        prune: a.prune,
        quiet: a.quiet,
        berth_args: berth_args(ctx, project),
    }
}

/// Starts the detached watch of `project` (`watch -d`, `up -d --watch`).
pub fn start_detached(ctx: &Ctx, project: &Project, a: &WatchArgs) -> Result<()> {
    // Bad rules are this command's error, not a line in a log.
    crate::watch::rules::rules_of(project, &a.services)?;
    let mut args = berth_args(ctx, project);
    args.push("watch".into());
    args.push("--supervise".into());
    if a.prune {
        args.push("--prune".into());
    }
    if a.quiet {
        args.push("--quiet".into());
    }
    args.extend(a.services.iter().map(OsString::from));
    let pid = detach::start(&ctx.layout, &project.name, &args)?;
    println!(
        "Watch enabled in the background (pid {pid}); `berth watch --logs -f` follows its log, `berth watch --stop` ends it"
    );
    Ok(())
}

/// A watch in a thread of its own beside attached `up --watch`.
pub struct Background(Option<std::thread::JoinHandle<()>>);

impl Background {
    /// Ends the watch and waits for it.
    pub fn stop(mut self) {
        detach::STOP.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(h) = self.0.take() {
            let _ = h.join();
        }
    }
}

/// Starts watching beside attached `up --watch`; bad rules fail here.
pub fn background(ctx: &Ctx, project: &Project, a: &WatchArgs) -> Result<Background> {
    crate::watch::rules::rules_of(project, &a.services)?;
    let layout = ctx.layout.clone();
    let project = project.clone();
    let opts = options(ctx, &project, a);
    let h = std::thread::spawn(move || {
        let mut out = std::io::stdout();
        let r = Session::new(&layout, &project, opts, &mut out)
            .and_then(|mut s| s.run(&detach::STOP, || {}));
        if let Err(e) = r {
            eprintln!("watch: {}", crate::report::text(&e));
        }
    });
    Ok(Background(Some(h)))
}

/// Watches in the foreground until Ctrl-C.
pub fn foreground(ctx: &Ctx, project: &Project, opts: WatchOptions) -> Result<()> {
    detach::stop_on_signals();
    let mut out = std::io::stdout();
    let mut ready = detach::ready_pipe();
    let session = Session::new(&ctx.layout, project, opts, &mut out);
    let mut session = match session {
        Ok(s) => s,
        Err(e) => {
            if let Some(r) = ready.as_mut() {
                let _ = writeln!(r, "{}", crate::report::text(&e));
            }
            return Err(e);
        }
    };
    let result = session.run(&detach::STOP, || {
        if let Some(mut r) = ready.take() {
            let _ = r.write_all(b"ok\n");
        }
    });
    if let (Err(e), Some(r)) = (&result, ready.as_mut()) {
        let _ = writeln!(r, "{}", crate::report::text(e));
    }
    result
}

/// Runs `watch`.
pub fn run_watch(ctx: &Ctx, a: &WatchArgs) -> Result<()> {
    if a.apply {
        return crate::watch::apply::run(&ctx.layout);
    }
    if a.stop || a.status || a.logs {
        let (name, _) = ctx.project_maybe()?;
        if a.logs {
            if a.follow {
                detach::stop_on_signals();
            }
            return detach::print_log(
                &ctx.layout,
                &name,
                a.follow,
                &detach::STOP,
                &mut std::io::stdout(),
            );
        }
        if a.status {
            match detach::running(&ctx.layout, &name) {
                Some(pid) => println!("{name}: watching (pid {pid})"),
                None => println!("{name}: not watching"),
            }
            return Ok(());
        }
        if detach::stop(&ctx.layout, &name)? {
            println!("Watch stopped");
        }
        return Ok(());
    }
    let loaded = ctx.load(&a.services)?;
    let project = loaded.project.clone();
    super::context::check_services(&project, &a.services)?;
    if a.supervise {
        let args: Vec<OsString> = std::env::args_os()
            .skip(1)
            .map(|x| {
                if x == "--supervise" {
                    "--worker".into()
                } else {
                    x
                }
            })
            .collect();
        return detach::supervise(&ctx.layout, &project.name, &args);
    }
    if a.worker {
        return foreground(ctx, &project, options(ctx, &project, a));
    }
    // Check the rules before anything starts.
    crate::watch::rules::rules_of(&project, &a.services)?;
    if !a.no_up {
        let opts = UpOptions {
            services: a.services.clone(),
            ..UpOptions::default()
        };
        up(&ctx.layout, loaded, &opts, &ctx.progress("Running"))?;
    }
    if a.detach {
        return start_detached(ctx, &project, a);
    }
    if detach::running(&ctx.layout, &project.name).is_some() {
        bail!(
            "project {} is already watched in the background; `berth watch --stop` ends that watch",
            project.name
        );
    }
    foreground(ctx, &project, options(ctx, &project, a))
}
