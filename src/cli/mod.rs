//! The command line: global options, subcommands, and the error edge.

pub mod global;
pub mod image;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub use global::GlobalArgs;

/// Run and manage Compose projects without a daemon.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, long_about = None)]
pub struct Cli {
    /// Options every subcommand accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// State root: images, layers, containers, volumes
    #[arg(
        long,
        global = true,
        env = "BERTH_ROOT",
        default_value = "/var/lib/berth"
    )]
    pub root: PathBuf,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand berth has; each one works.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the berth version information
    Version,
    /// Manage images
    #[command(subcommand)]
    Image(image::ImageCommand),
}

/// Parses the command line, runs it, and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("BERTH_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let res = match cli.command {
        Command::Version => {
            println!("berth version {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Image(cmd) => image::run(&cli.root, cmd),
    };
    match res {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e:#}");
            1
        }
    }
}
