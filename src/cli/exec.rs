//! `exec`: a command in a service's running container.

use std::io::IsTerminal;

use anyhow::Result;
use clap::Args;

use super::context::Ctx;
use super::Exit;
use crate::engine::exec::{exec, running_container, ExecOptions};
use crate::engine::load::project_name;

/// `exec`'s flags.
#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Detached mode: Run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "KEY=VAL")]
    pub env: Vec<String>,
    /// Run the command as this user
    #[arg(short, long)]
    pub user: Option<String>,
    /// Path to workdir directory for this command
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Disable pseudo-TTY allocation. By default `exec` allocates a TTY when stdin is one
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Accepted for compatibility: stdin is always attached
    #[arg(short, long, hide = true)]
    pub interactive: bool,
    /// Accepted for compatibility: a TTY is allocated when stdin is a terminal
    #[arg(short = 't', long = "tty", hide = true)]
    pub tty: bool,
    /// Give extended privileges to the process
    #[arg(long)]
    pub privileged: bool,
    /// Index of the container if service has multiple replicas (default: the
    /// first replica, else a one-off container of the service)
    #[arg(long)]
    pub index: Option<u32>,
    /// The service
    pub service: String,
    /// The command and its arguments
    #[arg(required = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Runs `exec`; fails with the process's exit code when it is not 0.
pub fn run_exec(ctx: &Ctx, a: &ExecArgs) -> Result<()> {
    // Only the name: loading the whole project would cost more than the exec.
    let project = match project_name(&ctx.opts) {
        Ok(n) => n,
        Err(_) => ctx.project_maybe()?.0,
    };
    let found = running_container(&ctx.layout, &project, &a.service, a.index)?;
    let opts = ExecOptions {
        command: a.command.clone(),
        env: a.env.clone(),
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        tty: !a.no_tty && !a.detach && std::io::stdin().is_terminal(),
        detach: a.detach,
        privileged: a.privileged,
        discard_output: false,
    };
    match exec(&found, &opts)? {
        0 => Ok(()),
        code => Err(Exit(code).into()),
    }
}
