//! `alpha`: docker compose's experimental commands; `alpha viz` prints the
//! project as a graphviz graph.

use anyhow::Result;
use clap::{Args, Subcommand};

use super::context::Ctx;
use crate::compose::viz::{viz, VizOptions};

/// `alpha`'s subcommands.
#[derive(Debug, Subcommand)]
pub enum AlphaCommand {
    /// EXPERIMENTAL - Generate a graphviz graph from your compose file
    Viz(VizArgs),
}

/// `alpha viz`'s flags.
#[derive(Debug, Args)]
pub struct VizArgs {
    /// Include service's exposed ports in output graph
    #[arg(long)]
    pub ports: bool,
    /// Include service's attached networks in output graph
    #[arg(long)]
    pub networks: bool,
    /// Include service's image name in output graph
    #[arg(long)]
    pub image: bool,
    /// Number of tabs or spaces to use for indentation
    #[arg(long, default_value_t = 1)]
    pub indentation_size: usize,
    /// If given, space character ' ' will be used to indent,
    /// otherwise tab character '\t' will be used
    #[arg(long)]
    pub spaces: bool,
}

/// Runs an `alpha` subcommand.
pub fn run_alpha(ctx: &Ctx, cmd: &AlphaCommand) -> Result<()> {
    match cmd {
        AlphaCommand::Viz(a) => {
            let loaded = ctx.load(&[])?;
            let unit = if a.spaces { " " } else { "\t" };
            let opts = VizOptions {
                networks: a.networks,
                ports: a.ports,
                image: a.image,
                indentation: unit.repeat(a.indentation_size),
            };
            print!("{}", viz(&loaded.project, &opts));
            Ok(())
        }
    }
}
