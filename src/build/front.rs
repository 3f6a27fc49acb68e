//! One build request from start to image: read the Dockerfile (file or inline),
//! parse it, open the context with its `.dockerignore`, run the executor.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::cancel::Cancel;
use super::context::{Context, ContextError, Exclude, NothingExcluded};
use super::dockerfile::ParseError;
pub use super::exec::NamedContext;
use super::exec::{self, BuildError, Built};
use super::progress::Progress;
pub use super::run::RunDefaults;
pub use super::secrets::{Secret, SecretSource};
use crate::image::{Reference, Store};

/// Why a build request failed.
#[derive(Debug, thiserror::Error)]
pub enum FrontError {
    /// The Dockerfile could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// Which file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The Dockerfile is malformed.
    #[error(transparent)]
    Parse(Box<ParseError>),
    /// The context could not be opened.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// The build failed.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// An ssh id's keys or socket could not be had.
    #[error(transparent)]
    Ssh(#[from] super::ssh::SshError),
    /// The `.dockerignore` could not be read.
    #[error(".dockerignore: {0}")]
    Ignore(String),
}

/// A build as compose's `build:` (or `berth build`'s flags) describes it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The context directory.
    pub context: PathBuf,
    /// The Dockerfile, relative to the context (default `Dockerfile`).
    pub dockerfile: Option<String>,
    /// The Dockerfile's text, given inline (`dockerfile_inline`).
    pub dockerfile_inline: Option<String>,
    /// Build arguments.
    pub args: IndexMap<String, String>,
    /// The stage to build.
    pub target: Option<String>,
    /// Labels on the image.
    pub labels: BTreeMap<String, String>,
    /// Names to tag it with.
    pub tags: Vec<Reference>,
    /// Rebuild every step.
    pub no_cache: bool,
    /// Re-resolve base images.
    pub pull: bool,
    /// Named contexts (`additional_contexts`).
    pub named_contexts: BTreeMap<String, NamedContext>,
    /// What every RUN gets (compose's network, extra_hosts, shm_size, ulimits, privileged).
    pub run_defaults: RunDefaults,
    /// Secrets `RUN --mount=type=secret` may mount (compose `build.secrets`,
    /// `--secret`). Never stored in a layer or a cache key.
    pub secrets: Vec<Secret>,
    /// SSH ids `RUN --mount=type=ssh` may mount (compose `build.ssh`, `--ssh`);
    /// their keys are read and sockets found when the build starts.
    pub ssh: Vec<super::ssh::SshSpec>,
    /// The platform to build for (`--platform`, compose `build.platforms`):
    /// only the host's is supported; `None` is the host's.
    pub platform: Option<String>,
}

/// Runs `req` against the store under `root`.
pub fn build(
    store: &Store,
    root: &Path,
    req: &Request,
    progress: &Progress,
    cancel: &Cancel,
) -> Result<Built, FrontError> {
    // What a build writes is an image's content (the step rootfs, WORKDIR, COPY's
    // parents): docker's 022, not berth's 077. Its records stay behind the 0700 root.
    crate::state::perms::with_umask(0o022, || build_image(store, root, req, progress, cancel))
}

fn build_image(
    store: &Store,
    root: &Path,
    req: &Request,
    progress: &Progress,
    cancel: &Cancel,
) -> Result<Built, FrontError> {
    let (text, name, df_path) = match &req.dockerfile_inline {
        Some(t) => (t.clone(), "Dockerfile".to_string(), None),
        None => {
            let rel = req
                .dockerfile
                .clone()
                .unwrap_or_else(|| "Dockerfile".into());
            let path = if Path::new(&rel).is_absolute() {
                PathBuf::from(&rel)
            } else {
                req.context.join(&rel)
            };
            let text = fs::read_to_string(&path).map_err(|source| FrontError::Read {
                path: path.clone(),
                source,
            })?;
            (text, rel, Some(path))
        }
    };
    // As BuildKit's sshprovider: every id's keys are read before any step runs.
    let ssh = req
        .ssh
        .iter()
        .map(|s| s.resolve())
        .collect::<Result<Vec<_>, _>>()?;
    let ast = parse(&text, &name).map_err(|e| FrontError::Parse(Box::new(e)))?;
    let dockerfile = super::lower::lower(&ast, &text);
    let exclude = ignore_rules(&req.context, df_path.as_deref())?;
    let memo = root
        .join("build/context")
        .join(crate::image::Digest::of(req.context.to_string_lossy().as_bytes()).hex());
    if let Some(p) = memo.parent() {
        let _ = fs::create_dir_all(p);
    }
    let ctx = Context::new(&req.context, exclude, Some(memo))?;
    let opts = exec::Options {
        dockerfile,
        dockerfile_name: name,
        build_args: req.args.clone(),
        target: req.target.clone(),
        no_cache: req.no_cache,
        pull: req.pull,
        labels: req.labels.clone(),
        tags: req.tags.clone(),
        named_contexts: req.named_contexts.clone(),
        run_defaults: req.run_defaults.clone(),
        secrets: req.secrets.clone(),
        ssh,
        platform: req.platform.clone(),
    };
    Ok(exec::build(store, root, &ctx, &opts, progress, cancel)?)
}

#[allow(clippy::result_large_err)] // the parser's error type, returned once
fn parse(text: &str, name: &str) -> Result<super::dockerfile::Dockerfile, ParseError> {
    super::dockerfile::parse_str(text, name)
}

/// `<Dockerfile>.dockerignore` beside the Dockerfile wins over the context's
/// (moby/patternmatcher's semantics, in [`super::ignore`]).
fn ignore_rules(context: &Path, dockerfile: Option<&Path>) -> Result<Box<dyn Exclude>, FrontError> {
    let df = dockerfile
        .map(Path::to_path_buf)
        .unwrap_or_else(|| context.join("Dockerfile"));
    let m = super::ignore::load(context, &df).map_err(|e| FrontError::Ignore(e.to_string()))?;
    if m.is_empty() {
        return Ok(Box::new(NothingExcluded));
    }
    Ok(Box::new(Ignore(m)))
}

struct Ignore(super::ignore::Matcher);

impl Exclude for Ignore {
    fn excluded(&self, rel: &str) -> bool {
        self.0.matches_or_parent(rel)
    }
    fn may_reinclude_under(&self, _: &str) -> bool {
        self.0.exclusions()
    }
}
