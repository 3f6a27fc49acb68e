//! `logs`: containers' output, followed across restarts and recreates.

use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

use anyhow::{anyhow, bail, Result};
use clap::Args;

use super::context::Ctx;
use crate::engine::logs::{show, time_flag, LogOptions};

/// `logs`' flags.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs for each container
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub until: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// Don't print prefix in logs
    #[arg(long)]
    pub no_log_prefix: bool,
    /// index of the container if service has multiple replicas
    #[arg(long)]
    pub index: Option<u32>,
    /// Services (default: all)
    pub services: Vec<String>,
}

/// Runs `logs`.
pub fn run_logs(ctx: &Ctx, a: &LogsArgs) -> Result<()> {
    let (name, _) = ctx.project_maybe()?;
    if a.index.is_some() && a.services.len() != 1 {
        bail!("--index requires exactly one service");
    }
    let now = SystemTime::now();
    let time = |s: &Option<String>, what: &str| time_flag(s.as_deref(), what, now);
    let opts = LogOptions {
        services: a.services.clone(),
        follow: a.follow,
        tail: match a.tail.as_str() {
            "all" | "-1" => None,
            n => Some(n.parse().map_err(|_| anyhow!("invalid --tail {n:?}"))?),
        },
        since: time(&a.since, "since")?,
        until: time(&a.until, "until")?,
        timestamps: a.timestamps,
        no_color: a.no_color || !std::io::IsTerminal::is_terminal(&std::io::stdout()),
        no_prefix: a.no_log_prefix,
        oneoff: false,
        index: a.index,
    };
    show(
        &ctx.layout.root,
        &name,
        &opts,
        &AtomicBool::new(false),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    Ok(())
}
