//! `run`: a one-off command on a service.

use std::io::IsTerminal;

use anyhow::{bail, Result};
use clap::{ArgAction, Args};

use super::context::Ctx;
use super::Exit;
use crate::engine::attach::SessionOptions;
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
    #[arg(short = 'T', long = "no-TTY", conflicts_with = "tty")]
    pub no_tty: bool,
    /// Allocate a pseudo-TTY (the default when berth runs on a terminal)
    #[arg(short = 't', long = "tty", hide = true)]
    pub tty: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long, action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub interactive: bool,
    /// The service
    pub service: String,
    /// The command and its arguments (default: the service's)
    #[arg(allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Runs `run`; fails with the container's exit code when it is not 0.
pub fn run_run(ctx: &Ctx, a: &RunArgs) -> Result<()> {
    let on_terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    // docker compose: a TTY unless -T, when its output is a terminal; berth also
    // wants its input on one, since a TTY session reads keystrokes from it.
    let tty = a.tty || (!a.no_tty && on_terminal);
    if tty && !a.detach && a.interactive && !std::io::stdin().is_terminal() {
        bail!("the input device is not a TTY: leave out -t, or use -T");
    }
    let loaded = ctx.load(&[])?;
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
        tty,
        interactive: a.interactive,
        attach: !a.detach,
    };
    let found = start_oneoff(&ctx.layout, loaded, &opts, &ctx.progress("Running"))?;
    if a.detach {
        println!("{}", found.record.name);
        return Ok(());
    }
    let session = SessionOptions {
        stdin: a.interactive,
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
