//! The command line: global options, subcommands, and the error edge.

use clap::{Parser, Subcommand};

pub mod config;

/// Run and manage Compose projects without a daemon.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, long_about = None)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
    /// STAND-IN global options until `loader-raw`'s `GlobalArgs` is merged.
    #[command(flatten)]
    pub global: crate::compose::raw_standin::GlobalStandin,
}

/// Every subcommand berth has; each one works.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the berth version information
    Version,
    /// Parse, resolve and render compose file in canonical format
    #[command(alias = "convert")]
    Config(config::ConfigArgs),
}

/// Parses the command line, runs it, and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("berth version {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Command::Config(args) => match config::run(&args, cli.global.to_project_options()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{e:#}");
                1
            }
        },
    }
}
