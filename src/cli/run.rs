//! `run`: a one-off command on a service.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use super::context::Ctx;
use super::Exit;
use crate::engine::attach::SessionOptions;
use crate::engine::images::PullOverride;
use crate::engine::run::{attach_until_exit, remove_oneoff, start_oneoff, RunOptions};

/// `run`'s flags.
#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct RunArgs {
    /// Run container in background and print container name
    #[arg(short, long)]
    pub detach: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "KEY=VAL")]
    pub env: Vec<String>,
    /// Set environment variables from file
    #[arg(long = "env-from-file", value_name = "FILE")]
    pub env_from_file: Vec<PathBuf>,
    /// Add or override a label
    #[arg(short, long = "label", value_name = "KEY=VAL")]
    pub label: Vec<String>,
    /// Add Linux capabilities
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Pull image before running ("always"|"missing"|"never"|"policy")
    #[arg(long, default_value = "policy")]
    pub pull: String,
    /// Pull without printing progress information
    #[arg(long)]
    pub quiet_pull: bool,
    /// Build image before starting container
    #[arg(long)]
    pub build: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Use the service's network aliases in the network(s) the container connects to
    #[arg(long)]
    pub use_aliases: bool,
    /// Run as specified username or uid
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Override the entrypoint of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Bind mount a volume
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Publish a container's port(s) to the host (`-p` after `run` is the global
    /// project name in berth, so only the long form)
    #[arg(long = "publish")]
    pub publish: Vec<String>,
    /// Run command with all service's ports enabled and mapped to the host
    #[arg(short = 'P', long)]
    pub service_ports: bool,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Disable pseudo-TTY allocation (default: auto-detected)
    #[arg(short = 'T', long = "no-tty", visible_alias = "no-TTY", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub no_tty: Option<bool>,
    /// Allocate a pseudo-TTY (the default when berth runs on a terminal)
    #[arg(short = 't', long = "tty", hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tty: Option<bool>,
    /// Keep STDIN open even if not attached [default: true]
    #[arg(short, long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub interactive: Option<bool>,
    /// The service
    pub service: String,
    /// The command and its arguments (default: the service's)
    #[arg(allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// docker compose's rule: `-t`/`-t=false` decides; else a TTY unless `-T` when
/// stdout is a terminal, but not when stdin is none and neither `-T` nor `-i` was
/// given (a script piping into `run`).
fn tty_wanted(a: &RunArgs) -> Result<bool> {
    let asked = match (a.tty, a.no_tty) {
        (Some(_), Some(_)) => bail!("--tty and --no-tty can't be used together"),
        (Some(t), None) => Some(t),
        (None, no_tty) => no_tty.map(|n| !n),
    };
    if let Some(t) = asked {
        // Asked for a TTY with stdin attached, stdin must be one (docker's check).
        if t && !a.detach && a.interactive.unwrap_or(true) && !std::io::stdin().is_terminal() {
            bail!("cannot attach stdin to a TTY-enabled container because stdin is not a terminal");
        }
        return Ok(t);
    }
    if a.interactive.is_none() && !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    Ok(std::io::stdout().is_terminal())
}

/// Runs `run`; fails with the container's exit code when it is not 0.
pub fn run_run(ctx: &Ctx, a: &RunArgs) -> Result<()> {
    let tty = tty_wanted(a)?;
    let interactive = a.interactive.unwrap_or(true);
    // Naming the service activates its profiles, as docker compose does for `run`.
    let loaded = ctx.load(std::slice::from_ref(&a.service))?;
    let opts = RunOptions {
        service: a.service.clone(),
        command: a.command.clone(),
        entrypoint: a.entrypoint.clone(),
        name: a.name.clone(),
        env: a.env.clone(),
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        volumes: a.volume.clone(),
        publish: a.publish.clone(),
        service_ports: a.service_ports,
        no_deps: a.no_deps,
        env_files: a.env_from_file.clone(),
        labels: a.label.clone(),
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        pull: PullOverride::parse(&a.pull)?,
        quiet_pull: a.quiet_pull,
        build: a.build,
        remove_orphans: a.remove_orphans,
        use_aliases: a.use_aliases,
        tty,
        interactive,
        attach: !a.detach,
        auto_remove: a.rm && a.detach,
    };
    let found = start_oneoff(&ctx.layout, loaded, &opts, &ctx.progress("Running"))?;
    if a.detach {
        println!("{}", found.record.name);
        return Ok(());
    }
    let session = SessionOptions {
        stdin: interactive,
        tty,
        close_stdin_at_eof: true,
        detach_keys: vec![],
        // Without a terminal, Ctrl-C reaches berth, not the container: pass it on.
        sig_proxy: !tty,
    };
    let code = attach_until_exit(&found, &session);
    if a.rm {
        remove_oneoff(&ctx.layout, &found)?;
    }
    match code? {
        0 => Ok(()),
        c => Err(Exit(c).into()),
    }
}
