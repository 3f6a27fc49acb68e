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
    /// Compose configuration files (before the subcommand: `berth -f a.yaml up`;
    /// after it, `-f` is the subcommand's own, e.g. `logs -f` follows)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Vec<String>,

    /// Run compose in backward compatibility mode (container names joined with `_`)
    #[arg(long, global = true)]
    pub compatibility: bool,

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
    #[arg(
        long = "progress",
        value_enum,
        value_name = "MODE",
        env = "COMPOSE_PROGRESS",
        global = true
    )]
    pub progress: Option<Progress>,

    /// Control when to print ANSI control characters ("never"|"always"|"auto")
    #[arg(
        long = "ansi",
        env = "COMPOSE_ANSI",
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        global = true
    )]
    pub ansi: Ansi,

    /// Include all resources, even those not used by services
    #[arg(long = "all-resources", global = true)]
    pub all_resources: bool,

    /// Registries reached over plain HTTP (for `-f oci://…`; loopback always is)
    #[arg(long = "insecure-registry", value_name = "HOST", hide = true)]
    pub insecure_registry: Vec<String>,

    /// Execute command in dry run mode (berth: `up`, which then shows what it
    /// would do and why)
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Show more output (berth's debug log on stderr, unless BERTH_LOG says otherwise)
    #[arg(long, global = true, hide = true)]
    pub verbose: bool,
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::Cli;

    #[test]
    fn global_options_parse_before_and_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "berth",
            "-f",
            "a.yaml",
            "--file",
            "b.yaml",
            "-p",
            "proj",
            "--env-file",
            "x.env",
            "version",
            "--profile",
            "dev",
            "--profile",
            "db",
            "--project-directory",
            "/tmp",
            "--progress",
            "plain",
            "--ansi",
            "never",
        ])
        .unwrap();
        let g = &cli.global;
        assert_eq!(g.file, vec!["a.yaml", "b.yaml"]);
        assert_eq!(g.project_name.as_deref(), Some("proj"));
        assert_eq!(g.profile, vec!["dev", "db"]);
        assert_eq!(g.progress, Some(super::Progress::Plain));
        assert_eq!(g.ansi, super::Ansi::Never);
        let o = g.project_options();
        assert_eq!(o.files, vec!["a.yaml", "b.yaml"]);
        assert_eq!(o.env_files, vec![std::path::PathBuf::from("x.env")]);
        assert!(o.interpolate && o.resolve_paths);
        assert!(Cli::try_parse_from(["berth", "--progress", "fancy", "version"]).is_err());
    }
}
