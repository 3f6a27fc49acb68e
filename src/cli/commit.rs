//! `commit`: a new image from a service container's changes.

use anyhow::Result;
use clap::{ArgAction, Args};

use super::context::Ctx;
use crate::engine::commit::{commit, CommitOptions};
use crate::engine::specified::specified_container;

/// `commit`'s flags.
#[derive(Debug, Args)]
#[command(override_usage = "berth commit [OPTIONS] SERVICE [REPOSITORY[:TAG]]")]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long)]
    pub change: Vec<String>,
    /// index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// Commit message
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause container during commit (no -p: that is the global project name option)
    #[arg(long, default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub pause: bool,
    /// The service whose container is committed
    #[arg(value_name = "SERVICE")]
    pub service: String,
    /// The new image's name
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// Runs `commit`.
pub fn run_commit(ctx: &Ctx, a: &CommitArgs) -> Result<()> {
    let (project, _) = ctx.project_maybe()?;
    let found = specified_container(
        &ctx.layout,
        &project,
        &a.service,
        Some(a.index).filter(|i| *i > 0),
    )?;
    let opts = CommitOptions {
        reference: a.reference.clone(),
        comment: a.message.clone(),
        author: a.author.clone(),
        changes: a.change.clone(),
        pause: a.pause,
    };
    let progress = ctx.progress("Committing");
    let task = progress.task(&format!("Container {}", found.record.name), "Committing");
    match commit(&ctx.layout, &found, &opts) {
        Ok(c) => {
            task.done(&format!("Committed as {}", c.id));
            Ok(())
        }
        Err(e) => {
            task.fail("Error", &crate::report::text(&e));
            Err(e)
        }
    }
}
