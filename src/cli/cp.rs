//! `cp`: copy files/folders between a service container and the local filesystem.

use anyhow::Result;
use clap::Args;

use super::context::Ctx;
use crate::engine::cp::{copy, CopyOptions};

/// `cp`'s flags.
#[derive(Debug, Args)]
#[command(
    override_usage = "berth cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n       berth cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH"
)]
pub struct CpArgs {
    /// Include containers created by the run command (when copying to a service)
    #[arg(long)]
    pub all: bool,
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Index of the container if service has multiple replicas
    #[arg(long)]
    pub index: Option<u32>,
    /// SERVICE:SRC_PATH, a local path, or - (a tar stream on stdin)
    #[arg(value_name = "SRC", allow_hyphen_values = true)]
    pub source: String,
    /// SERVICE:DEST_PATH, a local path, or - (a tar stream on stdout)
    #[arg(value_name = "DEST", allow_hyphen_values = true)]
    pub destination: String,
}

/// Runs `cp`.
pub fn run_cp(ctx: &Ctx, a: &CpArgs) -> Result<()> {
    if a.source.is_empty() {
        anyhow::bail!("source can not be empty");
    }
    if a.destination.is_empty() {
        anyhow::bail!("destination can not be empty");
    }
    let (project, loaded) = ctx.project_maybe()?;
    let services: Option<Vec<String>> = loaded.map(|p| p.services.keys().cloned().collect());
    let opts = CopyOptions {
        source: a.source.clone(),
        destination: a.destination.clone(),
        index: a.index.filter(|i| *i > 0),
        all: a.all,
        follow_link: a.follow_link,
        archive: a.archive,
    };
    copy(&ctx.layout, &project, services.as_deref(), &opts, || {
        ctx.progress("Copying")
    })
}
