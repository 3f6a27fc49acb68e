//! `push [SERVICE...]`: the images berth built, to their registries, with the
//! credentials `pull` uses. Thin over [`crate::image::push`].

use anyhow::{anyhow, bail, Result};
use clap::Args;

use super::context::Ctx;
use crate::compose::Project;
use crate::engine::graph::service_graph;
use crate::image::{Client, Reference, RegistryOptions, Store};

/// `push`'s flags, as docker compose has them.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push what it can and ignores images with push failures
    #[arg(long)]
    pub ignore_push_failures: bool,
    /// Also push images of services declared as dependencies
    #[arg(long)]
    pub include_deps: bool,
    /// Push without printing progress information
    #[arg(short, long)]
    pub quiet: bool,
    /// Services (default: all)
    pub services: Vec<String>,
}

/// Runs `push`.
pub fn run_push(ctx: &Ctx, a: &PushArgs) -> Result<()> {
    let loaded = ctx.load(&a.services)?;
    let project = &loaded.project;
    super::context::check_services(project, &a.services)?;
    let names = if a.services.is_empty() {
        project.service_names()
    } else if a.include_deps {
        service_graph(project).with_dependencies(&a.services)
    } else {
        a.services.clone()
    };
    push_services(ctx, project, &names, a.ignore_push_failures, a.quiet)
}

/// Pushes the image (and `build.tags`) of each of `names` that is built and
/// named with `image:`, as docker compose does; others are skipped.
pub fn push_services(
    ctx: &Ctx,
    project: &Project,
    names: &[String],
    ignore_failures: bool,
    quiet: bool,
) -> Result<()> {
    let store = Store::open(&ctx.layout.root)?;
    let client = Client::new(RegistryOptions::default());
    let mut failed = vec![];
    let mut seen = vec![];
    for n in names {
        let svc = project
            .services
            .get(n)
            .ok_or_else(|| anyhow!("no such service: {n}"))?;
        let Some(b) = &svc.build else {
            continue;
        };
        if svc.image.is_empty() {
            continue;
        }
        for t in std::iter::once(&svc.image).chain(b.tags.iter()) {
            if seen.contains(t) {
                continue;
            }
            seen.push(t.clone());
            let res = (|| -> Result<String> {
                let r = Reference::parse(t).map_err(|e| anyhow!("services.{n}.image: {e}"))?;
                let img = store.find(&r.to_string()).map_err(|_| {
                    anyhow!("image {t} is not in berth's store; build it first (berth build {n})")
                })?;
                let rep = crate::image::push::push(&store, &client, &img, &r, &|_, _| {})?;
                Ok(rep.digest.to_string())
            })();
            match res {
                Ok(d) if !quiet => eprintln!(" ✔ Image {t} Pushed {d}"),
                Ok(_) => {}
                Err(e) => {
                    if !quiet {
                        eprintln!(" ✘ Image {t} Error {e:#}");
                    }
                    failed.push(format!("{t}: {e:#}"));
                }
            }
        }
    }
    if !failed.is_empty() && !ignore_failures {
        bail!("pushing failed:\n{}", failed.join("\n"));
    }
    Ok(())
}
