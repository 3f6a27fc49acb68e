//! `publish [OPTIONS] REPOSITORY[:TAG]`: the project's compose files as an OCI
//! artifact, as docker compose publishes it; and `-f oci://…`, which reads one
//! back. Thin over [`crate::publish`].

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{anyhow, Context as _, Result};
use clap::Args;

use super::context::Ctx;
use super::{Exit, GlobalArgs};
use crate::compose::{self, ModelOptions, Project};
use crate::image::{Client, Reference, RegistryOptions, Store};
use crate::publish::artifact::{self, OciVersion};
use crate::publish::digests::{lock_yaml, Resolver};
use crate::publish::{self as publishing, PublishError, PublishOptions};

/// `publish`'s flags, as docker compose has them.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Include environment variables in the published OCI artifact
    #[arg(long = "with-env")]
    pub with_env: bool,
    /// Assume "yes" as answer to all prompts
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
    /// Pin image tags to digests
    #[arg(long)]
    pub resolve_image_digests: bool,
    /// OCI image/artifact specification version (automatically determined by default)
    #[arg(long, value_name = "1.0|1.1")]
    pub oci_version: Option<String>,
    /// Published compose application (includes referenced images)
    #[arg(long)]
    pub app: bool,
    /// Use insecure registry (plain HTTP; for tests)
    #[arg(long, hide = true)]
    pub insecure_registry: bool,
    /// Check and report, push nothing (also the global `--dry-run`)
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Where to publish: REPOSITORY[:TAG]
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub repository: String,
}

/// docker compose's `utils.StringToBool`.
fn yes(answer: &str) -> bool {
    let a = answer.trim().to_lowercase();
    matches!(a.as_str(), "y" | "yes" | "1" | "t" | "true")
}

/// docker compose's prompt: the message on stdout, one answer line from stdin.
fn ask(message: &str) -> std::io::Result<bool> {
    let mut out = std::io::stdout().lock();
    if std::io::stdin().is_terminal() && !message.ends_with(": ") {
        write!(out, "{message} [y/N] ")?;
    } else {
        write!(out, "{message}")?;
    }
    out.flush()?;
    drop(out);
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(yes(&line))
}

/// The project as publish sees it: every profile enabled, env files kept as
/// declarations (not folded into `environment`).
fn load(ctx: &Ctx) -> Result<Project> {
    let mut opts = ctx.opts.clone();
    opts.profiles = vec!["*".into()];
    let raw = compose::load_raw(&opts)?;
    for w in &raw.warnings {
        eprintln!("WARN[0000] {w}");
    }
    let (project, warnings) = compose::build_project(
        raw,
        &ModelOptions {
            normalize: true,
            consistency: true,
            resolve_paths: true,
            resolve_environment: false,
            services: vec![],
        },
    )
    .context("invalid compose project")?;
    for w in warnings {
        eprintln!("WARN[0000] {w}");
    }
    Ok(project)
}

fn client(insecure: &[String]) -> Client {
    Client::new(RegistryOptions {
        insecure: insecure.to_vec(),
        ..Default::default()
    })
}

/// Runs `publish`.
pub fn run_publish(ctx: &Ctx, a: &PublishArgs) -> Result<()> {
    let target = Reference::parse(&a.repository).map_err(|e| anyhow!("{}: {e}", a.repository))?;
    let version = a
        .oci_version
        .as_deref()
        .filter(|v| !v.is_empty())
        .map(OciVersion::parse)
        .transpose()
        .map_err(|e| anyhow!(e))?;
    let project = load(ctx)?;
    let opts = PublishOptions {
        with_env: a.with_env,
    };
    let insecure = if a.insecure_registry {
        vec![target.registry.clone()]
    } else {
        vec![]
    };
    let client = client(&insecure);
    let canceled = |e: PublishError| -> anyhow::Error {
        match e {
            PublishError::Canceled => Exit(130).into(),
            e => e.into(),
        }
    };
    publishing::check_no_local_includes(&project.compose_files).map_err(canceled)?;
    let mut prompt = |m: &str| if a.yes { Ok(true) } else { ask(m) };
    publishing::pre_checks(&project, &opts, &mut prompt).map_err(canceled)?;
    if !a.dry_run {
        // Built images go first, so the artifact never names an image nobody can pull.
        let names = project.service_names();
        super::push::push_services(ctx, &project, &names, true, false)?;
    }
    let digests = if a.resolve_image_digests || a.app {
        let store = Store::open(&ctx.layout.root).ok();
        let mut resolved = project.clone();
        Resolver::new(store.as_ref(), &client).resolve_project(&mut resolved)?;
        Some(lock_yaml(&resolved, false))
    } else {
        None
    };
    let layers = publishing::layers(&project, &opts, digests).map_err(canceled)?;
    let progress = ctx.progress("Publishing");
    let task = progress.task(&a.repository, "publishing");
    if !a.dry_run {
        let created = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let pushed = artifact::push(&client, &target, &layers, version, &created);
        let pushed = match pushed {
            Ok(d) => d,
            Err(e) => {
                task.fail("publishing", "");
                return Err(e.into());
            }
        };
        if a.app {
            push_application(ctx, &client, &project, &target, &pushed)?;
        }
    }
    task.done("published");
    Ok(())
}

/// `--app`: each service image copied into the target repository, and an
/// image index naming them whose subject is the compose artifact.
fn push_application(
    ctx: &Ctx,
    client: &Client,
    project: &Project,
    target: &Reference,
    artifact_digest: &crate::image::Digest,
) -> Result<()> {
    let store = Store::open(&ctx.layout.root)?;
    let mut manifests = Vec::new();
    for (name, svc) in &project.services {
        let r = Reference::parse(&svc.image).map_err(|e| anyhow!("services.{name}.image: {e}"))?;
        let img = store.find(&r.to_string()).map_err(|_| {
            anyhow!(
                "image {} of service {name} is not in berth's store; pull it first",
                svc.image
            )
        })?;
        let mut dest = target.clone();
        dest.tag = None;
        dest.digest = Some(img.digest.clone());
        crate::image::push::push(&store, client, &img, &dest, &|_, _| {})?;
        let media_type = img
            .manifest
            .media_type
            .clone()
            .unwrap_or_else(|| crate::image::oci::OCI_MANIFEST.to_string());
        manifests.push(serde_json::json!({
            "mediaType": media_type,
            "digest": img.digest.to_string(),
            "size": store.blob_size(&img.digest)?,
        }));
    }
    let manifest = client.get_manifest(target, &artifact_digest.to_string())?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": artifact::OCI_INDEX,
        "manifests": manifests,
        "subject": {
            "mediaType": artifact::OCI_MANIFEST,
            "digest": artifact_digest.to_string(),
            "size": manifest.bytes.len(),
            "annotations": { "com.docker.compose.version": artifact::COMPOSE_VERSION },
            "artifactType": artifact::PROJECT_ARTIFACT_TYPE,
        },
        "annotations": { "com.docker.compose.version": artifact::COMPOSE_VERSION },
    });
    let bytes = serde_json::to_vec(&index)?;
    let digest = crate::image::Digest::of(&bytes);
    client.put_manifest(target, &digest.to_string(), &bytes, artifact::OCI_INDEX)?;
    Ok(())
}

/// Where pulled compose artifacts are kept (`$XDG_CACHE_HOME/berth/oci`).
fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("berth").join("oci")
}

fn oci_remote_disabled() -> bool {
    std::env::var("COMPOSE_EXPERIMENTAL_OCI_REMOTE")
        .is_ok_and(|v| matches!(v.as_str(), "0" | "f" | "F" | "false" | "FALSE" | "False"))
}

/// Pulls `oci://REPO[:TAG]` into the cache; returns its compose file.
fn fetch_oci(client: &Client, path: &str) -> Result<PathBuf> {
    if oci_remote_disabled() {
        anyhow::bail!("OCI remote resource is disabled by \"COMPOSE_EXPERIMENTAL_OCI_REMOTE\"");
    }
    let rest = path.strip_prefix("oci://").unwrap_or(path);
    let r = Reference::parse(rest).map_err(|e| anyhow!("{path}: {e}"))?;
    let cache = cache_dir();
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let dir = artifact::pull(client, &r, &cache)
        .map_err(|e| anyhow!("failed to pull OCI resource {:?}: {e}", r.to_string()))?;
    Ok(dir.join("compose.yaml"))
}

/// The `-f oci://…` arguments this process replaced with their pulled files.
static REMOTE_FILES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Go's `tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)`: every cell but the last of
/// a row padded to its column's widest cell plus 3.
fn tabwrite(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(cell.chars().count() + 3);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                out.push_str(&" ".repeat(widths[i] - cell.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

/// docker compose's checks before `up` of a project read from a registry: where
/// it is stored, then the variables it interpolates, confirmed unless `-y`.
pub fn check_remote_stack(ctx: &Ctx, project: &Project, assume_yes: bool) -> Result<()> {
    let Some(remote) = REMOTE_FILES.get().and_then(|f| f.first()) else {
        return Ok(());
    };
    if !matches!(
        ctx.progress_mode,
        crate::progress::Mode::Quiet | crate::progress::Mode::Json
    ) {
        println!(
            "Your compose stack {remote:?} is stored in {:?}",
            project.working_dir.display().to_string()
        );
    }
    if assume_yes {
        return Ok(());
    }
    let mut opts = ctx.opts.clone();
    opts.interpolate = false;
    let raw = compose::load_raw(&opts)?;
    if raw.variables.is_empty() {
        return Ok(());
    }
    let mut vars: Vec<_> = raw.variables.iter().collect();
    vars.sort_by(|a, b| a.0.cmp(b.0));
    let mut rows = vec![["VARIABLE", "VALUE", "SOURCE", "REQUIRED", "DEFAULT"]
        .map(String::from)
        .to_vec()];
    for (name, v) in vars {
        let default = v.default_value.clone().unwrap_or_default();
        let (value, source) = match ctx.opts.os_env.get(name) {
            Some(val) => (val.clone(), "environment"),
            None if !default.is_empty() => (default.clone(), "compose file"),
            None => ("<unset>".to_string(), "none"),
        };
        let required = if v.required { "yes" } else { "no" };
        rows.push(vec![
            name.clone(),
            value,
            source.to_string(),
            required.to_string(),
            default,
        ]);
    }
    println!("\nFound the following variables in configuration:");
    print!("{}", tabwrite(&rows));
    if !ask("\nDo you want to proceed with these variables? [Y/n]: ")? {
        anyhow::bail!("operation cancelled by user");
    }
    Ok(())
}

/// Replaces each `-f oci://REPO[:TAG]` with the compose file of the artifact,
/// pulled into the cache, as docker compose's OCI remote loader does, and lets
/// `include` name `oci://` artifacts too.
pub fn resolve_remote_files(global: &mut GlobalArgs) -> Result<()> {
    let insecure = global.insecure_registry.clone();
    compose::set_remote_loader(Box::new(move |path: &str| {
        fetch_oci(&client(&insecure), path).map_err(|e| format!("{e:#}"))
    }));
    if !global.file.iter().any(|f| f.starts_with("oci://")) {
        return Ok(());
    }
    let client = client(&global.insecure_registry);
    let mut remote = Vec::new();
    for f in &mut global.file {
        if f.starts_with("oci://") {
            remote.push(f.clone());
            *f = fetch_oci(&client, f)?.to_string_lossy().into_owned();
        }
    }
    let _ = REMOTE_FILES.set(remote);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_as_docker_compose_reads_them() {
        for a in ["y\n", "Y", "yes", "true", "1"] {
            assert!(yes(a), "{a}");
        }
        for a in ["n\n", "", "no", "nope"] {
            assert!(!yes(a), "{a}");
        }
    }
}
