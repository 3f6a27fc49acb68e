//! `volumes`: the project's named volumes, as `docker compose volumes` lists them.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use clap::Args;

use super::context::Ctx;
use crate::container::list::{container_volumes, find};
use crate::volume::VolumeInfo;

/// `volumes`'s flags, as docker compose has them.
#[derive(Debug, Args)]
pub struct VolumesArgs {
    /// Format the output. Values: [table | json]
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Only display volume names
    #[arg(short, long)]
    pub quiet: bool,
    /// Only the volumes these services' containers use (default: all of the project's)
    pub services: Vec<String>,
}

const PROJECT_LABEL: &str = "com.docker.compose.project";

/// Runs `volumes`.
pub fn run_volumes(ctx: &Ctx, a: &VolumesArgs) -> Result<()> {
    if !matches!(a.format.as_str(), "table" | "json") {
        bail!("invalid --format {:?}: expected table or json", a.format);
    }
    let (project, loaded) = ctx.project_maybe()?;
    if let Some(p) = &loaded {
        super::context::check_services(p, &a.services)?;
    }
    // With services named, docker compose keeps the volumes their containers mount.
    let used: Option<BTreeSet<String>> = (!a.services.is_empty()).then(|| {
        find(&ctx.layout.root, Some(&project))
            .iter()
            .filter(|f| a.services.contains(&f.record.service))
            .flat_map(|f| container_volumes(&f.dir))
            .collect()
    });
    let store = ctx.layout.volumes();
    let volumes: Vec<VolumeInfo> = store
        .list()?
        .into_iter()
        .filter(|v| v.labels.get(PROJECT_LABEL) == Some(&project))
        .filter(|v| used.as_ref().is_none_or(|u| u.contains(&v.name)))
        .collect();
    if a.quiet {
        for v in &volumes {
            println!("{}", v.name);
        }
        return Ok(());
    }
    match a.format.as_str() {
        "json" => {
            for v in &volumes {
                let mountpoint = store.data_dir(&v.name);
                println!("{}", serde_json::to_string(&volume_json(v, &mountpoint))?);
            }
        }
        _ => {
            let width = volumes.iter().map(|v| v.name.len()).max().unwrap_or(0);
            println!("{:<9} {:<width$}", "DRIVER", "VOLUME NAME");
            for v in &volumes {
                println!("{:<9} {:<width$}", "local", v.name);
            }
        }
    }
    Ok(())
}

/// One volume in docker's `--format json` shape (`docker volume ls --format json`).
fn volume_json(v: &VolumeInfo, mountpoint: &std::path::Path) -> serde_json::Value {
    let labels: Vec<String> = v.labels.iter().map(|(k, x)| format!("{k}={x}")).collect();
    serde_json::json!({
        "Availability": "N/A",
        "Driver": "local",
        "Group": "N/A",
        "Labels": labels.join(","),
        "Links": "N/A",
        "Mountpoint": mountpoint.display().to_string(),
        "Name": v.name,
        "Scope": "local",
        "Size": "N/A",
        "Status": "N/A",
    })
}
