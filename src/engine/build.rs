//! The images of services with a `build:` section, as docker compose decides
//! them for `up`, `create` and `run`: `--build` (or `pull_policy: build`)
//! rebuilds, `--no-build` never builds, otherwise a missing image is built; a
//! service with both `image:` and `build:` is pulled first and built only when
//! the pull fails. Each image is built once, independent ones in parallel,
//! `service:` contexts before the services that use them.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context as _, Result};

use super::images::{ensure_image, PullOverride};
use crate::build::cancel::Cancel;
use crate::build::compose::{self, set, Flags};
use crate::build::progress::Mode;
use crate::compose::model::ServiceConfig;
use crate::compose::Project;
use crate::image::pull::{NoProgress, PullPolicy};
use crate::image::store::now_unix;
use crate::image::{Client, PullOptions, Reference, RegistryOptions, RuntimeImage, Store};
use crate::progress::Progress;

/// `--build` / `--no-build`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildMode {
    /// Build what is missing (and what `pull_policy: build` names).
    #[default]
    Missing,
    /// `--build`: build every service with a `build:` section.
    Always,
    /// `--no-build`: never build; a missing image is an error.
    Never,
}

impl BuildMode {
    /// From `--build` and `--no-build`.
    pub fn from_flags(build: bool, no_build: bool) -> Result<BuildMode> {
        match (build, no_build) {
            (true, true) => bail!("--build and --no-build are incompatible"),
            (true, false) => Ok(BuildMode::Always),
            (false, true) => Ok(BuildMode::Never),
            (false, false) => Ok(BuildMode::Missing),
        }
    }
}

fn policy_of(svc: &ServiceConfig, over: PullOverride) -> Result<PullPolicy> {
    Ok(match over {
        PullOverride::Always => PullPolicy::Always,
        PullOverride::Missing => PullPolicy::Missing,
        PullOverride::Never => PullPolicy::Never,
        PullOverride::Policy if svc.pull_policy.is_empty() => PullPolicy::Missing,
        PullOverride::Policy => PullPolicy::parse(&svc.pull_policy)
            .map_err(|e| anyhow!("services.{}.pull_policy: {e}", svc.name))?,
    })
}

fn present(store: &Store, project: &Project, svc: &ServiceConfig) -> Option<u64> {
    let r = Reference::parse(&project.image_name(svc)).ok()?;
    store.record(&r).ok().flatten().map(|rec| rec.updated_at)
}

/// Builds (or pulls first, as the rules above say) the images of `names` that
/// have a `build:` section; returns the services whose image was built. Every
/// step is reported on `progress` (`Image NAME Building` / `Built`).
pub fn build_needed(
    store: &Store,
    project: &Project,
    names: &[String],
    over: PullOverride,
    mode: BuildMode,
    progress: &Progress,
) -> Result<Vec<String>> {
    let mut to_build: Vec<String> = vec![];
    for n in names {
        let svc = project
            .services
            .get(n)
            .ok_or_else(|| anyhow!("no such service: {n}"))?;
        if svc.build.is_none() {
            continue;
        }
        let local = present(store, project, svc);
        let policy = policy_of(svc, over)?;
        match mode {
            BuildMode::Always => to_build.push(n.clone()),
            BuildMode::Never => {}
            BuildMode::Missing if policy == PullPolicy::Build => to_build.push(n.clone()),
            BuildMode::Missing => {
                // image: + build: pulls first (docker compose's rule) as its policy says.
                let pulled = !svc.image.is_empty()
                    && policy.should_pull(local, now_unix())
                    && pull_quietly(store, project, svc, progress);
                if !pulled && local.is_none() {
                    to_build.push(n.clone());
                }
            }
        }
    }
    if to_build.is_empty() {
        return Ok(vec![]);
    }
    for n in &to_build {
        for w in compose::warnings(&project.services[n]) {
            progress.println(&format!("WARN[0000] {w}"));
        }
    }
    // service: contexts are built when missing, or always under --build.
    let include = |dep: &str| {
        mode == BuildMode::Always
            || project
                .services
                .get(dep)
                .is_some_and(|s| present(store, project, s).is_none())
    };
    let jobs = set::plan(project, &to_build, &Flags::default(), &include)?;
    let tasks: std::sync::Mutex<BTreeMap<String, crate::progress::Task>> = Default::default();
    for j in &jobs {
        let t = progress.task(&format!("Image {}", j.image), "Building");
        tasks.lock().expect("tasks").insert(j.service.clone(), t);
    }
    let cancel = Cancel::new()?;
    let res = set::run(store, &jobs, Mode::Plain, &cancel, &|j, _| {
        if let Some(t) = tasks.lock().expect("tasks").remove(&j.service) {
            t.done("Built");
        }
    });
    for (_, t) in std::mem::take(&mut *tasks.lock().expect("tasks")) {
        t.fail("Error", "");
    }
    let built = res?;
    Ok(built
        .into_iter()
        .flat_map(|o| {
            jobs.iter()
                .find(|j| j.service == o.service)
                .map(|j| j.services.clone())
                .unwrap_or_default()
        })
        .collect())
}

/// Pulls `svc`'s `image:`; a failure is a warning (the image is then built).
fn pull_quietly(
    store: &Store,
    project: &Project,
    svc: &ServiceConfig,
    progress: &Progress,
) -> bool {
    let name = project.image_name(svc);
    let Ok(r) = Reference::parse(&name) else {
        return false;
    };
    let task = progress.task(&format!("Image {name}"), "Pulling");
    let client = Client::new(RegistryOptions::default());
    match crate::image::pull(store, &client, &r, &PullOptions::default(), &NoProgress) {
        Ok(_) => {
            task.done("Pulled");
            true
        }
        Err(e) => {
            task.warn(
                "Warning",
                &format!(
                    "pull failed ({e}); service {:?} must be built from source",
                    svc.name
                ),
            );
            false
        }
    }
}

/// The images of `names`: built as [`build_needed`] decides, then found or
/// pulled as their `pull_policy` says. Returns them and the services built.
pub fn ensure_images(
    store: &Store,
    project: &Project,
    names: &[String],
    over: PullOverride,
    mode: BuildMode,
    progress: &Progress,
) -> Result<(BTreeMap<String, RuntimeImage>, Vec<String>)> {
    let built = build_needed(store, project, names, over, mode, progress)?;
    let mut images = BTreeMap::new();
    // Services sharing an image (and its pull policy) resolve it once: one
    // look at the image index per image, not per service.
    let mut resolved: BTreeMap<(String, String), RuntimeImage> = BTreeMap::new();
    for name in names {
        let svc = &project.services[name];
        let key = (project.image_name(svc), svc.pull_policy.clone());
        if let Some(img) = resolved.get(&key).filter(|_| svc.build.is_none()) {
            images.insert(name.clone(), img.clone());
            continue;
        }
        let img = if svc.build.is_some() {
            let image = project.image_name(svc);
            store.runtime_image(&image).with_context(|| {
                if mode == BuildMode::Never {
                    format!("image {image} for service {name:?} is not present and --no-build was given")
                } else {
                    format!("image {image} for service {name:?}")
                }
            })?
        } else {
            ensure_image(store, project, svc, over, &|image| {
                Some(progress.task(&format!("Image {image}"), "Pulling"))
            })?
        };
        if svc.build.is_none() {
            resolved.insert(key, img.clone());
        }
        images.insert(name.clone(), img);
    }
    Ok((images, built))
}
