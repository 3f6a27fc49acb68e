//! The command line: global options, subcommands, and the error edge.

use clap::{Parser, Subcommand};

pub mod global;

pub use global::GlobalArgs;

/// Run and manage Compose projects without a daemon.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, long_about = None)]
pub struct Cli {
    /// Options every subcommand accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand berth has; each one works.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the berth version information
    Version,
}

/// Parses the command line, runs it, and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("berth version {}", env!("CARGO_PKG_VERSION"));
            0
        }
    }
}
