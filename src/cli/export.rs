//! `export`: a service container's filesystem as a tar archive.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use super::context::Ctx;
use crate::engine::export::{export, validate_output, Output};
use crate::engine::specified::specified_container;

/// `export`'s flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The service whose container is exported
    #[arg(value_name = "SERVICE")]
    pub service: String,
}

/// Runs `export`.
pub fn run_export(ctx: &Ctx, a: &ExportArgs) -> Result<()> {
    let (project, _) = ctx.project_maybe()?;
    let found = specified_container(
        &ctx.layout,
        &project,
        &a.service,
        Some(a.index).filter(|i| *i > 0),
    )?;
    let out = match &a.output {
        None if std::io::stdout().is_terminal() => {
            bail!("output option is required when exporting to terminal")
        }
        None => Output::Stdout,
        Some(p) => {
            validate_output(p)?;
            Output::File(p)
        }
    };
    let progress = ctx.progress("Exporting");
    let task = progress.task(&format!("Container {}", found.record.name), "Exporting");
    match export(&ctx.layout, &found, out) {
        Ok(()) => {
            task.done("Exported");
            Ok(())
        }
        Err(e) => {
            task.fail("Error", &crate::report::text(&e));
            Err(e)
        }
    }
}
