//! `pull` and `images` for a compose project: its services' images.

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;

use super::context::Ctx;
use super::image::{human_size, since, PullDisplay};
use crate::container::list::find;
use crate::container::record::ContainerRecord;
use crate::engine::graph::service_graph;
use crate::image::pull::{pull_all, PullOutcome, PullPolicy};
use crate::image::store::StoredImage;
use crate::image::{Client, PullOptions, Reference, RegistryOptions, Store};

/// `pull`'s flags, as docker compose has them.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Pull without printing progress information
    #[arg(short, long)]
    pub quiet: bool,
    /// Pull what it can and ignores images with pull failures
    #[arg(long)]
    pub ignore_pull_failures: bool,
    /// Also pull services declared as dependencies
    #[arg(long)]
    pub include_deps: bool,
    /// Ignore images that can be built
    #[arg(long)]
    pub ignore_buildable: bool,
    /// Apply pull policy ("missing"|"always")
    #[arg(long, value_parser = ["missing", "always"])]
    pub policy: Option<String>,
    /// Services (default: all)
    pub services: Vec<String>,
}

/// Runs `pull`.
pub fn run_pull(ctx: &Ctx, a: &PullArgs) -> Result<()> {
    let loaded = ctx.load(&a.services)?;
    let project = &loaded.project;
    let names: Vec<String> = if a.services.is_empty() {
        project.service_names()
    } else if a.include_deps {
        service_graph(project).with_dependencies(&a.services)
    } else {
        a.services.clone()
    };
    let mut items: Vec<(Reference, PullPolicy)> = vec![];
    for name in &names {
        let svc = project
            .services
            .get(name)
            .ok_or_else(|| anyhow!("no such service: {name}"))?;
        // A service that is built has no image to pull unless it names one.
        if svc.image.is_empty() || (a.ignore_buildable && svc.build.is_some()) {
            if svc.build.is_some() && !a.quiet {
                // Every step of the refresh loop says what it did.
                eprintln!(" - Service {name} Skipped No image to be pulled");
            }
            continue;
        }
        let policy = match a.policy.as_deref() {
            Some(p) => PullPolicy::parse(p)?,
            None if svc.pull_policy.is_empty() => PullPolicy::Always,
            None => PullPolicy::parse(&svc.pull_policy)
                .map_err(|e| anyhow!("services.{name}.pull_policy: {e}"))?,
        };
        if matches!(policy, PullPolicy::Build | PullPolicy::Never) {
            continue;
        }
        let r = Reference::parse(&svc.image).map_err(|e| anyhow!("services.{name}.image: {e}"))?;
        let policy = explicit_pull_policy(policy, &r);
        if !items.iter().any(|(x, _)| *x == r) {
            items.push((r, policy));
        }
    }
    let store = Store::open(&ctx.layout.root)
        .with_context(|| format!("opening the image store in {}", ctx.layout.root.display()))?;
    let client = Client::new(RegistryOptions::default());
    let display = PullDisplay::new(a.quiet);
    let results = pull_all(&store, &client, &items, &PullOptions::default(), &display);
    display.finish();
    let mut failed = vec![];
    let mut must_build: Vec<String> = vec![];
    // An image that a service can build is a warning, not a failure (docker compose).
    let buildable = |r: &Reference| {
        project
            .services
            .values()
            .any(|s| s.build.is_some() && Reference::parse(&s.image).is_ok_and(|x| x == *r))
    };
    for (r, out) in results {
        match out {
            PullOutcome::Failed(e) if buildable(&r) => {
                must_build.extend(
                    project
                        .services
                        .values()
                        .filter(|s| {
                            s.build.is_some() && Reference::parse(&s.image).is_ok_and(|x| x == r)
                        })
                        .map(|s| s.name.clone()),
                );
                if !a.quiet {
                    eprintln!(
                        " ! Image {} Warning pull failed ({e}); it must be built from source",
                        r.familiar()
                    );
                }
            }
            // "Pulled" whether or not anything new came, as docker compose says.
            PullOutcome::Pulled(_) if !a.quiet => {
                eprintln!(" ✔ Image {} Pulled", r.familiar());
            }
            PullOutcome::Skipped if !a.quiet => {
                eprintln!(
                    " - Image {} Skipped Image is already present locally",
                    r.familiar()
                );
            }
            PullOutcome::Pulled(_) | PullOutcome::Skipped => {}
            PullOutcome::Failed(e) => {
                eprintln!(" ✘ Image {} Error {e}", r.familiar());
                failed.push(format!("{}: {e}", r.familiar()));
            }
        }
    }
    if !must_build.is_empty() && !a.quiet {
        eprintln!(
            "WARNING: Some service image(s) must be built from source by running:\n    berth build {}",
            must_build.join(" ")
        );
    }
    if !failed.is_empty() && !a.ignore_pull_failures {
        bail!("pulling failed:\n{}", failed.join("\n"));
    }
    Ok(())
}

/// The policy of an explicit `pull`, as docker compose decides it: a refresh
/// window (`daily`, `every_12h`) gates `up` only, the user asking for a pull is
/// due now; `missing` still pulls a `latest` tag.
fn explicit_pull_policy(policy: PullPolicy, r: &Reference) -> PullPolicy {
    match policy {
        PullPolicy::Every(_) => PullPolicy::Always,
        PullPolicy::Missing if r.tag.as_deref() == Some("latest") && r.digest.is_none() => {
            PullPolicy::Always
        }
        p => p,
    }
}

/// `images`' flags.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Format the output. Values: [table | json]
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Services (default: all)
    pub services: Vec<String>,
}

/// Runs `images`: as docker compose, one row per container of the project (all
/// of them, one-offs too), with the image it was made from. A container whose
/// image is no longer in the store still shows, with what its record knows.
pub fn run_images(ctx: &Ctx, a: &ImagesArgs) -> Result<()> {
    let (name, _) = ctx.project_maybe()?;
    let store = Store::open(&ctx.layout.root)?;
    let images = store.images()?;
    let mut rows: Vec<ContainerImage> = find(&ctx.layout.root, Some(&name))
        .into_iter()
        .filter(|f| a.services.is_empty() || a.services.contains(&f.record.service))
        .map(|f| container_image(&f.record, &images))
        .collect();
    rows.sort_by(|x, y| x.container.cmp(&y.container));
    let short = |id: &str| {
        let hex = id.strip_prefix("sha256:").unwrap_or(id);
        hex[..hex.len().min(12)].to_string()
    };
    if a.quiet {
        let mut seen = vec![];
        for r in &rows {
            let id = short(&r.id);
            if !seen.contains(&id) {
                println!("{id}");
                seen.push(id);
            }
        }
        return Ok(());
    }
    match a.format.as_str() {
        "json" => {
            let list: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let mut v = serde_json::json!({
                        "ID": r.id,
                        "ContainerName": r.container,
                        "Repository": r.repository,
                        "Tag": r.tag,
                        "Platform": r.platform,
                        "Size": r.size.unwrap_or(0),
                    });
                    if let Some(c) = &r.created {
                        v["Created"] = c.clone().into();
                    }
                    v
                })
                .collect();
            println!("{}", serde_json::to_string(&list)?);
        }
        "table" => {
            let mut table = vec![[
                "CONTAINER",
                "REPOSITORY",
                "TAG",
                "PLATFORM",
                "IMAGE ID",
                "SIZE",
                "CREATED",
            ]
            .map(String::from)];
            for r in &rows {
                let or_none = |s: &str| {
                    if s.is_empty() {
                        "<none>".to_string()
                    } else {
                        s.to_string()
                    }
                };
                table.push([
                    r.container.clone(),
                    or_none(&r.repository),
                    or_none(&r.tag),
                    r.platform.clone(),
                    short(&r.id),
                    r.size.map(human_size).unwrap_or_else(|| "N/A".into()),
                    since(r.created.as_deref()),
                ]);
            }
            let widths: Vec<usize> = (0..7)
                .map(|c| {
                    table
                        .iter()
                        .map(|r| r[c].chars().count())
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            for row in table {
                let cells: Vec<String> = row
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                println!("{}", cells.join("   ").trim_end());
            }
        }
        other => bail!("unsupported format {other:?}: table or json"),
    }
    Ok(())
}

/// One row of `images`.
struct ContainerImage {
    container: String,
    id: String,
    repository: String,
    tag: String,
    platform: String,
    size: Option<u64>,
    created: Option<String>,
}

/// What `images` shows of `rec`'s image: the reference the container was made
/// from, and the stored image that reference still names, if it does.
fn container_image(rec: &ContainerRecord, images: &[StoredImage]) -> ContainerImage {
    let r = Reference::parse(&rec.image).ok();
    let stored = r.as_ref().and_then(|r| {
        let name = r.to_string();
        images
            .iter()
            .find(|i| i.records.iter().any(|x| x.name == name))
    });
    ContainerImage {
        container: rec.name.clone(),
        id: stored
            .map(|i| i.config_digest.to_string())
            .unwrap_or_else(|| rec.image_id.clone()),
        repository: r.as_ref().map(|r| r.familiar_name()).unwrap_or_default(),
        tag: r.and_then(|r| r.tag).unwrap_or_default(),
        platform: stored
            .map(|i| {
                let c = &i.config;
                match &c.variant {
                    Some(v) => format!("{}/{}/{v}", c.os, c.architecture),
                    None => format!("{}/{}", c.os, c.architecture),
                }
            })
            .unwrap_or_default(),
        size: stored.map(StoredImage::size),
        created: stored.and_then(|i| i.config.created.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_explicit_pull_ignores_the_refresh_window() {
        let r = Reference::parse("alpine:3.18").unwrap();
        let daily = PullPolicy::Every(Duration::from_secs(86400));
        assert_eq!(explicit_pull_policy(daily, &r), PullPolicy::Always);
        assert_eq!(
            explicit_pull_policy(PullPolicy::Missing, &r),
            PullPolicy::Missing
        );
        let latest = Reference::parse("alpine").unwrap();
        assert_eq!(
            explicit_pull_policy(PullPolicy::Missing, &latest),
            PullPolicy::Always
        );
    }
}
