//! `attach`: the local stdin, stdout and stderr on a service's running container.

use std::io::IsTerminal;

use anyhow::Result;
use clap::{ArgAction, Args};

use super::context::Ctx;
use super::Exit;
use crate::engine::attach::{attach, parse_detach_keys, SessionOptions, DEFAULT_DETACH_KEYS};
use crate::engine::exec::running_container;
use crate::engine::load::project_name;

/// `attach`'s flags.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching from a container
    #[arg(long, value_name = "KEYS", default_value = DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// index of the container if service has multiple replicas.
    #[arg(long)]
    pub index: Option<u32>,
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long, action = ArgAction::Set, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// The service
    pub service: String,
}

/// Runs `attach`; fails with the container's exit code when it exits non-zero.
pub fn run_attach(ctx: &Ctx, a: &AttachArgs) -> Result<()> {
    let detach_keys = parse_detach_keys(&a.detach_keys)?;
    let project = match project_name(&ctx.opts) {
        Ok(n) => n,
        Err(_) => ctx.project_maybe()?.0,
    };
    let found = running_container(&ctx.layout, &project, &a.service, a.index)?;
    let tty = crate::supervise::launch::LaunchConfig::load(&found.dir)?
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let opts = SessionOptions {
        stdin: !a.no_stdin,
        tty: tty && std::io::stdin().is_terminal(),
        close_stdin_at_eof: false,
        detach_keys,
        sig_proxy: a.sig_proxy,
    };
    match attach(&found, &opts)? {
        0 => Ok(()),
        code => Err(Exit(code).into()),
    }
}
