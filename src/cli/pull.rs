//! `pull` and `images` for a compose project: its services' images.

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;

use super::context::Ctx;
use super::image::{print_images, LsArgs, PullDisplay};
use crate::engine::graph::service_graph;
use crate::image::pull::{pull_all, PullOutcome, PullPolicy};
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
        // docker compose's pull refreshes a `latest` tag even when the policy
        // is `missing`: present or not, it may have moved.
        let policy = match policy {
            PullPolicy::Missing if r.digest.is_none() && r.tag.as_deref() == Some("latest") => {
                PullPolicy::Always
            }
            p => p,
        };
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

/// Runs `images`: the images the project's services use that are present.
pub fn run_images(ctx: &Ctx, a: &ImagesArgs) -> Result<()> {
    let loaded = ctx.load(&a.services)?;
    let project = &loaded.project;
    let mut refs = vec![];
    for svc in project.services.values() {
        if !a.services.is_empty() && !a.services.contains(&svc.name) {
            continue;
        }
        if let Ok(r) = Reference::parse(&project.image_name(svc)) {
            if !refs.contains(&r) {
                refs.push(r);
            }
        }
    }
    let store = Store::open(&ctx.layout.root)?;
    print_images(
        &store,
        Some(&refs),
        &LsArgs {
            quiet: a.quiet,
            digests: false,
            format: a.format.clone(),
            no_trunc: false,
            all: false,
        },
    )
}
