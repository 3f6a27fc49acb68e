//! The image a service runs: found in the store, or pulled as `pull_policy`
//! (and `up --pull`) say.

use anyhow::{anyhow, bail, Context as _, Result};

use crate::compose::model::ServiceConfig;
use crate::compose::Project;
use crate::image::pull::{NoProgress, PullPolicy};
use crate::image::store::now_unix;
use crate::image::{
    Client, Platform, PullOptions, Reference, RegistryOptions, RuntimeImage, Store,
};
use crate::progress::Task;

/// What `up --pull` asks for, over each service's `pull_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullOverride {
    /// Use each service's policy.
    #[default]
    Policy,
    /// `--pull always`.
    Always,
    /// `--pull missing`.
    Missing,
    /// `--pull never`.
    Never,
}

impl PullOverride {
    /// Parses `--pull`.
    pub fn parse(s: &str) -> Result<PullOverride> {
        Ok(match s {
            "policy" => PullOverride::Policy,
            "always" => PullOverride::Always,
            "missing" => PullOverride::Missing,
            "never" => PullOverride::Never,
            other => bail!("invalid --pull {other:?}: expected always, missing, never or policy"),
        })
    }
}

/// Finds or pulls the image of `svc`. `pulling` is told when a pull starts; the
/// progress line it may return ends `Pulled` (or in the error), as docker
/// compose's `Image nginx Pulling … Pulled`.
pub fn ensure_image(
    store: &Store,
    project: &Project,
    svc: &ServiceConfig,
    over: PullOverride,
    pulling: &dyn Fn(&str) -> Option<Task>,
) -> Result<RuntimeImage> {
    let name = project.image_name(svc);
    // An image id (`sha256:…`, or its short hex form) names a local image only.
    let hex = name.strip_prefix("sha256:").unwrap_or(&name);
    if hex.len() >= 12 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return store
            .runtime_image(&name)
            .with_context(|| format!("image {name} for service {:?} is not present", svc.name));
    }
    let reference =
        Reference::parse(&name).map_err(|e| anyhow!("services.{}.image: {e}", svc.name))?;
    let policy = match over {
        PullOverride::Always => PullPolicy::Always,
        PullOverride::Missing => PullPolicy::Missing,
        PullOverride::Never => PullPolicy::Never,
        PullOverride::Policy if svc.pull_policy.is_empty() => PullPolicy::Missing,
        PullOverride::Policy => PullPolicy::parse(&svc.pull_policy)
            .map_err(|e| anyhow!("services.{}.pull_policy: {e}", svc.name))?,
    };
    let local = store.record(&reference).ok().flatten();
    let wants_build = svc.build.is_some() && (local.is_none() || policy == PullPolicy::Build);
    if wants_build {
        if local.is_some() {
            return store
                .runtime_image(&reference.to_string())
                .map_err(Into::into);
        }
        // No image yet: build it with berth's builder, as `up` does with docker compose.
        build_service(store, project, svc)?;
        return store
            .runtime_image(&reference.to_string())
            .with_context(|| format!("image {name} for service {:?}", svc.name));
    }
    let must_pull = match policy {
        PullPolicy::Never => false,
        PullPolicy::Build => false,
        _ => policy.should_pull(local.as_ref().map(|r| r.updated_at), now_unix()),
    };
    if must_pull {
        let opts = PullOptions {
            platform: pull_platform(project, svc)?,
            ..PullOptions::default()
        };
        let task = pulling(&name);
        let client = Client::new(RegistryOptions::default());
        let res = crate::image::pull(store, &client, &reference, &opts, &NoProgress);
        if let Some(t) = task {
            match &res {
                Ok(_) => t.done("Pulled"),
                Err(e) => t.fail("Error", &e.to_string()),
            }
        }
        res.with_context(|| format!("pulling {name} for service {:?}", svc.name))?;
    } else if local.is_none() {
        bail!(
            "image {name} for service {:?} is not present and pull_policy is never",
            svc.name
        );
    }
    store
        .runtime_image(&reference.to_string())
        .with_context(|| format!("image {name} for service {:?}", svc.name))
}

/// The platform to pull `svc`'s image for: its `platform:`, else the project's
/// `DOCKER_DEFAULT_PLATFORM` (shell or .env), else this machine's.
fn pull_platform(project: &Project, svc: &ServiceConfig) -> Result<Platform> {
    let (key, value) = if !svc.platform.is_empty() {
        (
            format!("services.{}.platform", svc.name),
            svc.platform.as_str(),
        )
    } else {
        match project.environment.get("DOCKER_DEFAULT_PLATFORM") {
            Some(p) if !p.is_empty() => ("DOCKER_DEFAULT_PLATFORM".to_string(), p.as_str()),
            _ => return Ok(Platform::host()),
        }
    };
    Platform::parse(value)
        .ok_or_else(|| anyhow!("{key}: {value:?} is not a platform (os/arch[/variant])"))
}

/// Builds `svc`'s image (its `build:` section) into the store, progress on stderr.
fn build_service(store: &Store, project: &Project, svc: &ServiceConfig) -> Result<()> {
    use crate::build::{cancel::Cancel, compose, front, progress};
    let req = compose::request(project, svc, &compose::Flags::default())?;
    let p = progress::Progress::new(progress::Mode::Plain, &svc.name);
    front::build(store, store.root(), &req, &p, &Cancel::new()?)
        .map_err(|e| anyhow!("failed to build service {:?}: {e}", svc.name))?;
    Ok(())
}
