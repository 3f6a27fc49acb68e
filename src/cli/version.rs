//! `berth version`: the version, as docker compose prints its own.

use anyhow::{bail, Result};
use clap::Args;

/// `version` flags.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format the output. Values: [pretty | json]. (Default: pretty)
    #[arg(short = 'f', long, default_value = "")]
    pub format: String,
    /// Shows only berth's version number
    #[arg(long)]
    pub short: bool,
}

/// What `version` prints for `args`: docker compose's shapes (`{"version":"v…"}`
/// for JSON, the bare number for `--short`).
pub fn version_text(args: &VersionArgs) -> Result<String> {
    let v = env!("CARGO_PKG_VERSION");
    if args.short {
        return Ok(format!("{v}\n"));
    }
    match args.format.as_str() {
        "" | "pretty" => Ok(format!("berth version v{v}\n")),
        "json" => Ok(format!(
            "{}\n",
            serde_json::json!({ "version": format!("v{v}") })
        )),
        other => bail!("unsupported format {other:?}: use pretty or json"),
    }
}

/// Runs `version`.
pub fn run_version(args: &VersionArgs) -> Result<()> {
    print!("{}", version_text(args)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(format: &str, short: bool) -> Result<String> {
        version_text(&VersionArgs {
            format: format.into(),
            short,
        })
    }

    #[test]
    fn shapes_match_docker_compose() {
        let v = env!("CARGO_PKG_VERSION");
        assert_eq!(text("", false).unwrap(), format!("berth version v{v}\n"));
        assert_eq!(
            text("json", false).unwrap(),
            format!("{{\"version\":\"v{v}\"}}\n")
        );
        assert_eq!(text("json", true).unwrap(), format!("{v}\n"));
        assert!(text("yaml", false).is_err());
    }
}
