//! The options every subcommand accepts, as docker compose spells them.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::compose::ProjectOptions;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    /// A TTY display when stdout is a terminal, plain otherwise.
    Auto,
    /// The live TTY display.
    Tty,
    /// One line per event.
    Plain,
    /// One JSON object per event.
    Json,
    /// Nothing.
    Quiet,
}

/// When to print ANSI control characters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Ansi {
    /// Never.
    Never,
    /// Always.
    Always,
    /// When stdout is a terminal.
    #[default]
    Auto,
}

/// Global options: which compose files, which project, which environment.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Compose configuration files
    #[arg(short = 'f', long = "file", value_name = "FILE", global = true)]
    pub file: Vec<String>,

    /// Project name
    #[arg(short = 'p', long = "project-name", value_name = "NAME", global = true)]
    pub project_name: Option<String>,

    /// Specify an alternate working directory (default: the path of the, first specified, Compose file)
    #[arg(long = "project-directory", value_name = "DIR", global = true)]
    pub project_directory: Option<PathBuf>,

    /// Specify an alternate environment file
    #[arg(long = "env-file", value_name = "FILE", global = true)]
    pub env_file: Vec<PathBuf>,

    /// Specify a profile to enable
    #[arg(long = "profile", value_name = "PROFILE", global = true)]
    pub profile: Vec<String>,

    /// Set type of progress output (auto, tty, plain, json, quiet)
    #[arg(long = "progress", value_enum, value_name = "MODE", global = true)]
    pub progress: Option<Progress>,

    /// Control when to print ANSI control characters ("never"|"always"|"auto")
    #[arg(
        long = "ansi",
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        global = true
    )]
    pub ansi: Ansi,
}

impl GlobalArgs {
    /// The loader options for these arguments, with the real process
    /// environment and working directory.
    pub fn project_options(&self) -> ProjectOptions {
        ProjectOptions {
            files: self.file.clone(),
            project_name: self.project_name.clone(),
            project_directory: self.project_directory.clone(),
            env_files: self.env_file.clone(),
            profiles: self.profile.clone(),
            interpolate: true,
            resolve_paths: true,
            working_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            os_env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }
}
