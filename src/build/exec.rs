//! The executor: stages the target needs, their steps in order (independent
//! stages at the same time), each step a cache hit or run for real, then the image
//! (config, history, manifest) stored and tagged only once everything succeeded.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use indexmap::IndexMap;
use serde_json::{json, Value};

use super::cache::{descriptor, Cache, Entry, KeyBuilder};
use super::cancel::Cancel;
use super::context::{self, Context, Entry as CtxEntry, NothingExcluded};
use super::copy;
use super::layer;
use super::progress::{Progress, Vertex};
use super::run::{self, Network, RunError, RunSpec};
use super::runmount;
use super::sandbox::{self, Scratch};
use super::steps::{Command, CopyOp, Dockerfile, Op, Stage, Step};
use super::vars::Scope;
use crate::image::digest::Digest;
use crate::image::oci::{
    self, Descriptor, ImageConfigFile, Manifest, Platform, RootFs, RuntimeConfig,
};
use crate::image::pull::NoProgress;
use crate::image::store::{now_unix, ImageRecord, Store};
use crate::image::{Client, PullOptions, Reference, RegistryOptions};

/// The PATH a stage gets when its base has none (BuildKit's default).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const ARGS_PROXY: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "ftp_proxy",
    "no_proxy",
    "all_proxy",
];

/// Why a build failed. Each names the Dockerfile line when there is one.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A step could not be done.
    #[error("{file}:{line}: {instruction}: {message}")]
    Step {
        /// The Dockerfile's name.
        file: String,
        /// Its line.
        line: usize,
        /// The instruction as written.
        instruction: String,
        /// What went wrong.
        message: String,
    },
    /// A RUN exited non-zero.
    #[error("{file}:{line}: {step}: process \"{command}\" did not complete successfully: exit code: {code}{}", show_tail(step, tail))]
    RunFailed {
        /// The Dockerfile's name.
        file: String,
        /// Its line.
        line: usize,
        /// The step as progress named it (`[build 3/5] RUN make`).
        step: String,
        /// The command, as BuildKit shows it (`/bin/sh -c make`).
        command: String,
        /// Its last 20 output lines.
        tail: String,
        /// The exit code.
        code: i32,
    },
    /// The target stage does not exist.
    #[error("target stage {0:?} could not be found")]
    NoTarget(String),
    /// A base image could not be had.
    #[error("{file}:{line}: FROM {image}: {message}")]
    Base {
        /// The Dockerfile's name.
        file: String,
        /// The FROM line.
        line: usize,
        /// The image.
        image: String,
        /// Why.
        message: String,
    },
    /// Storing the image failed.
    #[error("storing the image: {0}")]
    Store(#[from] crate::image::StoreError),
    /// `--platform` names another platform than the host's.
    #[error("--platform: {0}")]
    Platform(String),
    /// Ctrl-C.
    #[error("build cancelled")]
    Cancelled,
}

/// What to build.
pub struct Options {
    /// The parsed Dockerfile.
    pub dockerfile: Dockerfile,
    /// Its name as shown in errors (`Dockerfile`).
    pub dockerfile_name: String,
    /// `--build-arg` values (a `None` value: not given).
    pub build_args: IndexMap<String, String>,
    /// `--target`.
    pub target: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`.
    pub pull: bool,
    /// Labels added to the image.
    pub labels: BTreeMap<String, String>,
    /// Names to tag.
    pub tags: Vec<Reference>,
    /// Secrets RUN may mount.
    pub secrets: Vec<super::secrets::Secret>,
    /// SSH ids RUN may mount (`--ssh`, compose `build.ssh`), keys already loaded.
    pub ssh: Vec<super::ssh::Source>,
    /// `--platform` of the build (the host's when `None`).
    pub platform: Option<String>,
    /// Named contexts (compose's `additional_contexts`, buildx's `--build-context`):
    /// `FROM NAME` and `COPY --from=NAME` use them before any image of that name.
    pub named_contexts: BTreeMap<String, NamedContext>,
    /// What every RUN gets (network, extra hosts, /dev/shm, ulimits, privileged).
    pub run_defaults: super::run::RunDefaults,
}

/// What a named context stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// A local directory (`COPY --from=NAME` reads it).
    Dir(PathBuf),
    /// An image (`docker-image://REF`, or another service's image).
    Image(String),
}

/// The image a build made.
#[derive(Debug, Clone)]
pub struct Built {
    /// Image id (config digest).
    pub id: Digest,
    /// Manifest digest.
    pub manifest: Digest,
}

/// A stage's state after some of its steps.
#[derive(Debug, Clone)]
struct State {
    /// Chained over every step: keys metadata steps (their first-run time).
    key: Digest,
    /// Chained over the steps that change files only: keys RUN, COPY, WORKDIR, so
    /// an ENV or LABEL never invalidates a COPY after it (as in BuildKit).
    fs_key: Digest,
    layers: Vec<Descriptor>,
    diff_ids: Vec<Digest>,
    dirs: Vec<PathBuf>,
    config: RuntimeConfig,
    history: Vec<Value>,
    created: Option<String>,
    platform: Platform,
    author: Option<String>,
    args: IndexMap<String, String>,
}

impl State {
    fn env(&self) -> Vec<String> {
        self.config.env.clone().unwrap_or_default()
    }

    fn scope(&self) -> (Vec<String>, IndexMap<String, String>) {
        (self.env(), self.args.clone())
    }

    fn lowers_top_first(&self) -> Vec<PathBuf> {
        self.dirs.iter().rev().cloned().collect()
    }

    fn shell(&self) -> Vec<String> {
        self.config
            .other
            .get("Shell")
            .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    fn workdir(&self) -> String {
        self.config
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into())
    }

    fn set_env(&mut self, k: &str, v: &str) {
        let mut env = self.env();
        let kv = format!("{k}={v}");
        match env
            .iter()
            .position(|e| e.split_once('=').map(|x| x.0) == Some(k))
        {
            Some(i) => env[i] = kv,
            None => env.push(kv),
        }
        self.config.env = Some(env);
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(SystemTime::now()).to_string()
}

struct Builder<'a> {
    store: &'a Store,
    root: PathBuf,
    ctx: &'a Context,
    opts: &'a Options,
    progress: &'a Progress,
    cancel: &'a Cancel,
    cache: Cache,
    done: Mutex<HashMap<usize, State>>,
    client: Client,
}

/// Builds `opts` with `ctx` as the context, into `store` under `root`.
pub fn build(
    store: &Store,
    root: &std::path::Path,
    ctx: &Context,
    opts: &Options,
    progress: &Progress,
    cancel: &Cancel,
) -> Result<Built, BuildError> {
    if let Some(p) = &opts.platform {
        super::platform::check_list(p).map_err(BuildError::Platform)?;
    }
    sandbox::clear_stale(root);
    // Held for the whole build: garbage collection waits instead of deleting a layer
    // between its commit and the cache entry (or tag) that keeps it.
    let _using = store.use_lock()?;
    let b = Builder {
        store,
        root: root.to_path_buf(),
        ctx,
        opts,
        progress,
        cancel,
        cache: Cache::new(root),
        done: Mutex::new(HashMap::new()),
        client: Client::new(RegistryOptions::default()),
    };
    let df = &opts.dockerfile;
    let target = match &opts.target {
        Some(t) => df
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(&t.to_lowercase()))
            .ok_or_else(|| BuildError::NoTarget(t.clone()))?,
        None => df
            .stages
            .len()
            .checked_sub(1)
            .ok_or_else(|| BuildError::NoTarget("(no FROM)".into()))?,
    };
    let needed = b.needed(target);
    // Waves: every stage whose dependencies are built runs now, in parallel.
    let mut remaining: BTreeSet<usize> = needed.clone();
    while !remaining.is_empty() {
        let ready: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|i| {
                b.deps(*i)
                    .iter()
                    .all(|d| b.done.lock().expect("done").contains_key(d))
            })
            .collect();
        if ready.is_empty() {
            return Err(b.step_err(
                &df.stages[*remaining.iter().next().expect("nonempty")].steps[0],
                "stages depend on each other in a cycle",
            ));
        }
        let results: Vec<Result<(), BuildError>> = std::thread::scope(|s| {
            let hs: Vec<_> = ready
                .iter()
                .map(|&i| {
                    let b = &b;
                    s.spawn(move || b.build_stage(i, i == target))
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap_or(Err(BuildError::Cancelled)))
                .collect()
        });
        for r in results {
            r?;
        }
        for i in ready {
            remaining.remove(&i);
        }
    }
    ctx.save();
    let st = b
        .done
        .lock()
        .expect("done")
        .remove(&target)
        .expect("target built");
    b.export(st)
}

impl Builder<'_> {
    fn file(&self) -> String {
        self.opts.dockerfile_name.clone()
    }

    fn step_err(&self, step: &Step, msg: impl std::fmt::Display) -> BuildError {
        BuildError::Step {
            file: self.file(),
            line: step.line,
            instruction: step.text.clone(),
            message: msg.to_string(),
        }
    }

    fn stage_index(&self, name: &str, before: usize) -> Option<usize> {
        let df = &self.opts.dockerfile;
        let lname = name.to_lowercase();
        if let Some(i) = df.stages[..before]
            .iter()
            .position(|s| s.name.as_deref() == Some(&lname))
        {
            return Some(i);
        }
        name.parse::<usize>().ok().filter(|i| *i < before)
    }

    fn global_value(&self, name: &str) -> Option<String> {
        let df = &self.opts.dockerfile;
        // BUILDPLATFORM, TARGETARCH…: automatic globals (a stage still needs a bare ARG).
        let Some(decl) = df.global_args.iter().find(|(k, _)| k == name) else {
            return super::platform::predefined(name);
        };
        self.opts
            .build_args
            .get(name)
            .cloned()
            .or_else(|| decl.1.as_ref().map(|d| self.expand_global(d)))
            .or_else(|| super::platform::predefined(name))
    }

    fn expand_global(&self, w: &str) -> String {
        super::vars::expand(w, self.opts.dockerfile.escape, &|n| self.global_value(n))
            .unwrap_or_else(|_| w.to_string())
    }

    fn deps(&self, i: usize) -> Vec<usize> {
        let st = &self.opts.dockerfile.stages[i];
        let mut out = vec![];
        let base = self.expand_global(&st.base);
        if let Some(d) = self.stage_index(&base, i) {
            out.push(d);
        }
        for step in &st.steps {
            if let Op::Copy(c) = &step.op {
                if let Some(f) = &c.from {
                    if let Some(d) = self.stage_index(f, i) {
                        out.push(d);
                    }
                }
            }
        }
        out
    }

    fn needed(&self, target: usize) -> BTreeSet<usize> {
        let mut set = BTreeSet::new();
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if set.insert(i) {
                todo.extend(self.deps(i));
            }
        }
        set
    }

    fn stage_label(&self, i: usize, is_target: bool) -> String {
        let st = &self.opts.dockerfile.stages[i];
        match &st.name {
            Some(n) => n.clone(),
            None if is_target => String::new(),
            None => format!("stage-{i}"),
        }
    }

    fn vertex(&self, label: &str, n: usize, total: usize, text: &str) -> Vertex {
        let w = total.to_string().len();
        let pos = format!("{n:>w$}/{total}");
        let name = if label.is_empty() {
            format!("[{pos}] {text}")
        } else {
            format!("[{label} {pos}] {text}")
        };
        self.progress.start(&name)
    }

    fn cached_entry(&self, key: &Digest) -> Option<Entry> {
        if self.opts.no_cache {
            None
        } else {
            self.cache.get(self.store, key)
        }
    }

    fn base_state(&self, i: usize, stage: &Stage, v: Vertex) -> Result<State, BuildError> {
        let base = self.expand_global(&stage.base);
        if let Some(p) = &stage.platform {
            let p = self.expand_global(p);
            super::platform::check(&p).map_err(|m| BuildError::Step {
                file: self.file(),
                line: stage.line,
                instruction: format!("FROM --platform={p} {base}"),
                message: m,
            })?;
        }
        if base.eq_ignore_ascii_case("scratch") {
            let mut config = RuntimeConfig {
                env: Some(vec![DEFAULT_PATH.into()]),
                ..Default::default()
            };
            config.working_dir = None;
            return Ok(State {
                key: Digest::of(b"scratch"),
                fs_key: Digest::of(b"scratch"),
                layers: vec![],
                diff_ids: vec![],
                dirs: vec![],
                config,
                history: vec![],
                created: None,
                platform: Platform::host(),
                author: None,
                args: IndexMap::new(),
            });
        }
        if let Some(d) = self.stage_index(&base, i) {
            let st = self.done.lock().expect("done").get(&d).cloned();
            return st.ok_or_else(|| BuildError::Base {
                file: self.file(),
                line: stage.line,
                image: base.clone(),
                message: "stage not built".into(),
            });
        }
        let berr = |m: String| BuildError::Base {
            file: self.file(),
            line: stage.line,
            image: base.clone(),
            message: m,
        };
        let img = match self.opts.named_contexts.get(&base) {
            Some(NamedContext::Image(r)) => self.image(r, v).map_err(berr)?,
            Some(NamedContext::Dir(d)) => {
                return Err(berr(format!(
                    "the named context {base} is a directory ({}): a directory context can be read with COPY --from={base}, not used as a base image",
                    d.display()
                )))
            }
            None => self.image(&base, v).map_err(berr)?,
        };
        let stored = self
            .store
            .find(&img.manifest_digest.to_string())
            .map_err(|e| berr(e.to_string()))?;
        let mut config = img.config.clone();
        let mut env = config.env.clone().unwrap_or_default();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(0, DEFAULT_PATH.into());
        }
        config.env = Some(env);
        Ok(State {
            key: Digest::of(format!("image {}", img.id).as_bytes()),
            fs_key: Digest::of(format!("image {}", img.id).as_bytes()),
            layers: stored.manifest.layers.clone(),
            diff_ids: stored.config.rootfs.diff_ids.clone(),
            dirs: img.layer_dirs.clone(),
            config,
            history: stored.config.history.clone().unwrap_or_default(),
            created: stored.config.created.clone(),
            platform: img.platform.clone(),
            author: stored.config.author.clone(),
            args: IndexMap::new(),
        })
    }

    /// An image from the store, pulled when missing (or always with `--pull`).
    fn image(&self, name: &str, v: Vertex) -> Result<crate::image::RuntimeImage, String> {
        let r = Reference::parse(name).map_err(|e| e.to_string())?;
        let local = self.store.record(&r).ok().flatten();
        if local.is_none()
            || (self.opts.pull && !self.opts.no_cache)
            || (self.opts.pull && local.is_none())
        {
            self.progress
                .status(v, &format!("resolve {}", r.familiar()));
            if let Err(e) = crate::image::pull(
                self.store,
                &self.client,
                &r,
                &PullOptions::default(),
                &NoProgress,
            ) {
                if local.is_none() {
                    return Err(format!("pulling: {e}"));
                }
            }
        }
        self.store
            .runtime_image(&r.to_string())
            .map_err(|e| e.to_string())
    }

    fn build_stage(&self, i: usize, is_target: bool) -> Result<(), BuildError> {
        let stage = &self.opts.dockerfile.stages[i];
        let label = self.stage_label(i, is_target);
        let total = stage.steps.len() + 1;
        let v = self.vertex(
            &label,
            1,
            total,
            &format!("FROM {}", self.expand_global(&stage.base)),
        );
        let mut st = self.base_state(i, stage, v).inspect_err(|e| {
            self.progress.error(v, &e.to_string());
        })?;
        self.progress.done(v);
        self.run_triggers(i, &mut st, stage, &label, total)?;
        for (n, step) in stage.steps.iter().enumerate() {
            if self.cancel.is_cancelled() {
                return Err(BuildError::Cancelled);
            }
            let (env, args) = st.scope();
            let scope = Scope {
                env: &env,
                args: &args,
                escape: self.opts.dockerfile.escape,
            };
            let shown = display_text(step, &scope);
            let v = self.vertex(&label, n + 2, total, &shown);
            match self.step(i, &mut st, step, v) {
                Ok(true) => self.progress.cached(v),
                Ok(false) => self.progress.done(v),
                Err(BuildError::Cancelled) => {
                    self.progress.canceled(v);
                    return Err(BuildError::Cancelled);
                }
                Err(e) => {
                    self.progress.error(v, &e.to_string());
                    return Err(e);
                }
            }
        }
        self.done.lock().expect("done").insert(i, st);
        Ok(())
    }

    /// Runs the base's ONBUILD triggers right after FROM, in order, as docker
    /// does; they are consumed (a child of this image does not run them again).
    fn run_triggers(
        &self,
        i: usize,
        st: &mut State,
        stage: &Stage,
        label: &str,
        total: usize,
    ) -> Result<(), BuildError> {
        let triggers: Vec<String> = match st.config.other.shift_remove("OnBuild") {
            Some(v) => serde_json::from_value(v).unwrap_or_default(),
            None => return Ok(()),
        };
        let base = self.expand_global(&stage.base);
        for t in triggers {
            if self.cancel.is_cancelled() {
                return Err(BuildError::Cancelled);
            }
            let text = format!("ONBUILD {}", t.lines().next().unwrap_or(""));
            let instr =
                super::dockerfile::parse_trigger(&t, &base).map_err(|e| BuildError::Step {
                    file: self.file(),
                    line: stage.line,
                    instruction: text.clone(),
                    message: format!("ONBUILD trigger of {base}: {e}"),
                })?;
            let step = super::lower::trigger_step(&instr, stage.line, text.clone());
            let v = self.vertex(label, 1, total, &text);
            match self.step(i, st, &step, v) {
                Ok(true) => self.progress.cached(v),
                Ok(false) => self.progress.done(v),
                Err(BuildError::Cancelled) => {
                    self.progress.canceled(v);
                    return Err(BuildError::Cancelled);
                }
                Err(e) => {
                    self.progress.error(v, &e.to_string());
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Runs one step; returns whether it was a cache hit.
    fn step(
        &self,
        stage: usize,
        st: &mut State,
        step: &Step,
        v: Vertex,
    ) -> Result<bool, BuildError> {
        let (env, args) = st.scope();
        let scope = Scope {
            env: &env,
            args: &args,
            escape: self.opts.dockerfile.escape,
        };
        let ex = |w: &str| scope.expand(w).map_err(|e| self.step_err(step, e));
        match &step.op {
            Op::Run {
                cmd,
                mounts,
                network,
            } => self.run_step(st, step, cmd, mounts, network.as_deref(), v),
            Op::Copy(c) => self.copy_step(stage, st, step, c, v),
            Op::Workdir(w) => {
                let w = ex(w)?;
                let path = if w.starts_with('/') {
                    w.clone()
                } else {
                    format!("{}/{}", st.workdir().trim_end_matches('/'), w)
                };
                let path = format!("/{}", context::clean_rel(&path));
                st.config.working_dir = Some(path.clone());
                let mut k = KeyBuilder::child_of(&st.fs_key);
                k.field("op", "workdir")
                    .field("path", &path)
                    .field("user", st.config.user.as_deref().unwrap_or(""));
                let key = k.finish();
                let text = format!("WORKDIR {path}");
                let user = st_user(&st.config);
                self.layer_step(st, step, key, &text, move |root| {
                    let owner = match user {
                        Some(u) => {
                            let passwd = copy::read_in_root(root, "/etc/passwd");
                            let group = copy::read_in_root(root, "/etc/group");
                            let id = berth_runtime::user::resolve(&u, &passwd, &group)
                                .map_err(|e| anyhow::anyhow!("{e}"))?;
                            (id.uid, id.gid)
                        }
                        None => (0, 0),
                    };
                    copy::mkdir_p(root, &path, owner)?;
                    Ok(())
                })
            }
            _ => {
                let text = self.apply_meta(st, step, &scope)?;
                let mut k = KeyBuilder::child_of(&st.key);
                k.field("op", "meta").field("text", &text);
                let key = k.finish();
                let hit = self.cached_entry(&key);
                let created = hit
                    .as_ref()
                    .map(|e| e.created.clone())
                    .unwrap_or_else(now_rfc3339);
                if hit.is_none() {
                    self.cache.put(
                        self.store,
                        &key,
                        &Entry {
                            created: created.clone(),
                            layer: None,
                        },
                        &[],
                        &[],
                    )?;
                }
                push_history(st, &created, &text, true);
                st.key = key;
                Ok(hit.is_some())
            }
        }
    }

    /// Applies a metadata instruction; returns its history text.
    fn apply_meta(&self, st: &mut State, step: &Step, scope: &Scope) -> Result<String, BuildError> {
        let ex = |w: &str| scope.expand(w).map_err(|e| self.step_err(step, e));
        Ok(match &step.op {
            Op::Env(pairs) => {
                // One instruction sees the values from before it.
                let vals: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), ex(v)?)))
                    .collect::<Result<_, BuildError>>()?;
                for (k, v) in &vals {
                    st.set_env(k, v);
                }
                format!(
                    "ENV {}",
                    vals.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }
            Op::Arg(decls) => {
                let mut shown = vec![];
                for (k, default) in decls {
                    let val = self
                        .opts
                        .build_args
                        .get(k)
                        .cloned()
                        .or_else(|| match default {
                            Some(d) => ex(d).ok(),
                            None => self.global_value(k),
                        });
                    match &val {
                        Some(v) => {
                            st.args.insert(k.clone(), v.clone());
                            shown.push(format!("{k}={v}"));
                        }
                        None => {
                            st.args.shift_remove(k);
                            shown.push(k.clone());
                        }
                    }
                }
                format!("ARG {}", shown.join(" "))
            }
            Op::User(u) => {
                let u = ex(u)?;
                st.config.user = Some(u.clone());
                format!("USER {u}")
            }
            Op::Shell(s) => {
                st.config.other.insert("Shell".into(), json!(s));
                format!("SHELL {}", json!(s))
            }
            Op::Cmd(c) => {
                let argv = self.argv(st, c);
                st.config.cmd = Some(argv.clone());
                st.config.other.insert("ArgsEscaped".into(), json!(true));
                format!("CMD {}", json!(argv))
            }
            Op::Entrypoint(c) => {
                let argv = self.argv(st, c);
                st.config.entrypoint = Some(argv.clone());
                // ENTRYPOINT clears an inherited CMD (not one set in this stage after it).
                st.config.cmd = None;
                format!("ENTRYPOINT {}", json!(argv))
            }
            Op::Expose(ports) => {
                let mut shown = vec![];
                let map = st.config.exposed_ports.get_or_insert_with(BTreeMap::new);
                let words: Vec<String> = ports
                    .iter()
                    .map(|p| scope.expand_words(p).map_err(|e| self.step_err(step, e)))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .flatten()
                    .collect();
                for p in words {
                    let (ports, proto) = match p.split_once('/') {
                        Some((a, b)) => (a.to_string(), b.to_lowercase()),
                        None => (p.clone(), "tcp".into()),
                    };
                    let range: Vec<String> = match ports.split_once('-') {
                        Some((a, b)) => match (a.parse::<u16>(), b.parse::<u16>()) {
                            (Ok(a), Ok(b)) if a <= b => (a..=b).map(|x| x.to_string()).collect(),
                            _ => return Err(self.step_err(step, format!("invalid port range {p}"))),
                        },
                        None => {
                            if ports.parse::<u16>().is_err() {
                                return Err(self.step_err(step, format!("invalid port {p}")));
                            }
                            vec![ports]
                        }
                    };
                    for x in range {
                        let k = format!("{x}/{proto}");
                        map.insert(k.clone(), json!({}));
                        shown.push(k);
                    }
                }
                format!("EXPOSE [{}]", shown.join(" "))
            }
            Op::Volume(vols) => {
                let mut shown = vec![];
                let map = st.config.volumes.get_or_insert_with(BTreeMap::new);
                for vol in vols {
                    let vol = ex(vol)?;
                    map.insert(vol.clone(), json!({}));
                    shown.push(vol);
                }
                format!("VOLUME [{}]", shown.join(" "))
            }
            Op::Label(pairs) => {
                let mut shown = vec![];
                let map = st.config.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in pairs {
                    let (k, v) = (ex(k)?, ex(v)?);
                    shown.push(format!("{k}={v}"));
                    map.insert(k, v);
                }
                format!("LABEL {}", shown.join(" "))
            }
            Op::StopSignal(s) => {
                let s = ex(s)?;
                st.config.stop_signal = Some(s.clone());
                format!("STOPSIGNAL {s}")
            }
            Op::Healthcheck(h) => {
                st.config.healthcheck = Some(crate::image::Healthcheck {
                    test: Some(h.test.clone()),
                    interval: (h.interval != 0).then_some(h.interval),
                    timeout: (h.timeout != 0).then_some(h.timeout),
                    start_period: (h.start_period != 0).then_some(h.start_period),
                    start_interval: (h.start_interval != 0).then_some(h.start_interval),
                    retries: (h.retries != 0).then_some(h.retries),
                });
                format!("HEALTHCHECK {}", json!(h.test))
            }
            Op::OnBuild(t) => {
                let mut list: Vec<String> = st
                    .config
                    .other
                    .get("OnBuild")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
                list.push(t.clone());
                st.config.other.insert("OnBuild".into(), json!(list));
                format!("ONBUILD {t}")
            }
            Op::Maintainer(m) => {
                st.author = Some(m.clone());
                format!("MAINTAINER {m}")
            }
            Op::Run { .. } | Op::Copy(_) | Op::Workdir(_) => unreachable!("not metadata"),
        })
    }

    fn argv(&self, st: &State, c: &Command) -> Vec<String> {
        match c {
            Command::Exec(v) => v.clone(),
            Command::Shell(s) => {
                let mut a = st.shell();
                a.push(s.clone());
                a
            }
        }
    }

    /// A step that may add a layer: from the cache, or by running `work` over a
    /// fresh upper dir, then committing that dir when it changed anything.
    fn layer_step(
        &self,
        st: &mut State,
        step: &Step,
        key: Digest,
        history_text: &str,
        work: impl FnOnce(&std::os::fd::OwnedFd) -> anyhow::Result<()> + Send,
    ) -> Result<bool, BuildError> {
        if let Some(hit) = self.cached_entry(&key) {
            self.apply_entry(st, &hit, history_text)?;
            advance(st, key);
            return Ok(true);
        }
        let scratch = Scratch::new(&self.root).map_err(|e| self.step_err(step, e))?;
        sandbox::with_root(&scratch, &st.lowers_top_first(), work)
            .map_err(|e| self.step_err(step, format!("{e:#}")))?;
        self.commit(st, step, key, &scratch, history_text)?;
        Ok(false)
    }

    fn apply_entry(&self, st: &mut State, e: &Entry, text: &str) -> Result<(), BuildError> {
        match &e.layer {
            Some(l) => {
                st.diff_ids.push(l.digest.clone());
                st.layers
                    .push(descriptor(oci::OCI_LAYER_TAR, l.digest.clone(), l.size));
                let chain = crate::image::store::chain_ids(&st.diff_ids)
                    .pop()
                    .expect("one layer");
                let dir = self.store.layer_dir(&chain);
                if !dir.is_dir() {
                    // The blob is here but not its directory (a pruned layer): unpack it.
                    self.store.unpack_layer(&l.digest, &l.digest, &chain)?;
                }
                st.dirs.push(dir);
                push_history(st, &e.created, text, false);
            }
            None => push_history(st, &e.created, text, true),
        }
        Ok(())
    }

    fn commit(
        &self,
        st: &mut State,
        step: &Step,
        key: Digest,
        scratch: &Scratch,
        text: &str,
    ) -> Result<(), BuildError> {
        self.commit_as(st, step, key.clone(), key, scratch, text)
    }

    /// [`Self::commit`] cached under `key`, later steps chained on `next`.
    fn commit_as(
        &self,
        st: &mut State,
        step: &Step,
        key: Digest,
        next: Digest,
        scratch: &Scratch,
        text: &str,
    ) -> Result<(), BuildError> {
        let created = now_rfc3339();
        let layer = if layer::is_empty(&scratch.upper()).map_err(|e| self.step_err(step, e))? {
            None
        } else {
            Some(
                layer::commit(self.store, &scratch.upper(), &st.diff_ids)
                    .map_err(|e| self.step_err(step, e))?,
            )
        };
        let entry = Entry { created, layer };
        self.apply_entry(st, &entry, text)?;
        self.cache
            .put(self.store, &key, &entry, &st.layers, &st.diff_ids)?;
        advance(st, next);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn run_step(
        &self,
        st: &mut State,
        step: &Step,
        cmd: &Command,
        mounts: &[String],
        network: Option<&str>,
        v: Vertex,
    ) -> Result<bool, BuildError> {
        let (env, args) = st.scope();
        let scope = Scope {
            env: &env,
            args: &args,
            escape: self.opts.dockerfile.escape,
        };
        let argv = self.argv(st, cmd);
        let network = match network {
            None => self.opts.run_defaults.network,
            Some(n) => Network::parse(&scope.expand(n).map_err(|e| self.step_err(step, e))?)
                .ok_or_else(|| {
                    self.step_err(
                        step,
                        format!("unknown --network={n}: expected default, none or host"),
                    )
                })?,
        };
        let cwd = st.workdir();
        let mounts = runmount::prepare(
            mounts,
            &scope,
            &runmount::Sources {
                ctx: self.ctx,
                root: &self.root,
                secrets: &self.opts.secrets,
                ssh: &self.opts.ssh,
                cwd: &cwd,
            },
        )
        .map_err(|e| self.step_err(step, e))?;
        let mount_keys = mounts.key.clone();
        // ARGs in scope reach the command as environment, ENV winning.
        let mut run_env = env.clone();
        let mut arg_pairs = vec![];
        for (k, val) in &args {
            arg_pairs.push(format!("{k}={val}"));
            if !run_env
                .iter()
                .any(|e| e.split_once('=').map(|x| x.0) == Some(k.as_str()))
            {
                run_env.push(format!("{k}={val}"));
            }
        }
        // BuildKit points SSH_AUTH_SOCK at the first ssh mount unless ENV or ARG set it.
        if let Some(sock) = &mounts.ssh_auth_sock {
            if !run_env.iter().any(|e| e.starts_with("SSH_AUTH_SOCK=")) {
                run_env.push(format!("SSH_AUTH_SOCK={sock}"));
            }
        }
        let mut keyed_env = run_env.clone();
        for p in ARGS_PROXY {
            if !args.contains_key(*p) {
                if let Some(val) = self.opts.build_args.get(*p) {
                    run_env.push(format!("{p}={val}"));
                }
            }
        }
        keyed_env.sort();
        // Secrets as variables reach the command, never the key.
        run_env.extend(mounts.env.iter().cloned());
        let user = st_user(&st.config);
        let mut k = KeyBuilder::child_of(&st.fs_key);
        k.field("op", "run")
            .field("argv", &json!(argv).to_string())
            .field("env", &json!(keyed_env).to_string())
            .field("cwd", &cwd)
            .field("user", user.as_deref().unwrap_or(""))
            .field("network", &format!("{network:?}"))
            .field("mounts", &json!(mount_keys).to_string());
        let d = &self.opts.run_defaults;
        if !d.extra_hosts.is_empty()
            || d.privileged
            || d.shm_size.is_some()
            || !d.ulimits.is_empty()
        {
            // Only when set, so builds without them keep their cache keys.
            k.field(
                "defaults",
                &format!(
                    "{:?} {} {:?} {:?}",
                    d.extra_hosts, d.privileged, d.shm_size, d.ulimits
                ),
            );
        }
        let key = k.finish();
        let cmd_shown = match cmd {
            Command::Shell(_) => argv.join(" "),
            Command::Exec(a) => a.join(" "),
        };
        let text = if arg_pairs.is_empty() {
            format!("RUN {cmd_shown} # buildkit")
        } else {
            format!(
                "RUN |{} {} {cmd_shown} # buildkit",
                arg_pairs.len(),
                arg_pairs.join(" ")
            )
        };
        if let Some(hit) = self.cached_entry(&key) {
            self.apply_entry(st, &hit, &text)?;
            advance(st, key);
            return Ok(true);
        }
        let scratch = Scratch::new(&self.root).map_err(|e| self.step_err(step, e))?;
        // Served until this function returns (dropped before the scratch dir).
        let (agent_specs, _agents) = mounts
            .serve_ssh(&scratch.dir)
            .map_err(|e| self.step_err(step, format!("serving the ssh agent socket: {e}")))?;
        let mut mount_specs = mounts
            .materialize(&scratch.dir)
            .map_err(|e| self.step_err(step, format!("writing the step's secrets: {e}")))?;
        mount_specs.extend(agent_specs);
        let spec = RunSpec {
            args: argv.clone(),
            env: run_env,
            cwd: cwd.clone(),
            user,
            network,
            mounts: mount_specs,
            defaults: self.opts.run_defaults.clone(),
        };
        // WORKDIR exists before the command runs, as BuildKit makes sure.
        if cwd != "/" {
            sandbox::with_root(&scratch, &st.lowers_top_first(), |root| {
                copy::mkdir_p(root, &cwd, (0, 0)).map(drop)
            })
            .map_err(|e| self.step_err(step, format!("{e:#}")))?;
        }
        let mut tail: std::collections::VecDeque<String> = Default::default();
        let code = run::run(
            &scratch,
            &st.lowers_top_first(),
            &spec,
            self.cancel,
            &mut |l| {
                self.progress.line(v, l);
                if tail.len() == 20 {
                    tail.pop_front();
                }
                tail.push_back(l.to_string());
            },
        )
        .map_err(|e| match e {
            RunError::Cancelled => BuildError::Cancelled,
            other => self.step_err(step, other),
        })?;
        if code != 0 {
            return Err(BuildError::RunFailed {
                file: self.file(),
                line: step.line,
                step: self.progress.name(v),
                command: argv.join(" "),
                tail: tail.into_iter().collect::<Vec<_>>().join("\n"),
                code,
            });
        }
        self.commit(st, step, key, &scratch, &text)?;
        Ok(false)
    }

    fn copy_step(
        &self,
        stage: usize,
        st: &mut State,
        step: &Step,
        c: &CopyOp,
        v: Vertex,
    ) -> Result<bool, BuildError> {
        let _ = v;
        let (env, args) = st.scope();
        let scope = Scope {
            env: &env,
            args: &args,
            escape: self.opts.dockerfile.escape,
        };
        let ex = |w: &str| scope.expand(w).map_err(|e| self.step_err(step, e));
        let sources: Vec<String> = c.sources.iter().map(|s| ex(s)).collect::<Result<_, _>>()?;
        let dest_raw = ex(&c.dest)?;
        let dest = if dest_raw.starts_with('/') {
            dest_raw.clone()
        } else {
            let wd = st.workdir();
            let joined = format!("{}/{}", wd.trim_end_matches('/'), dest_raw);
            if dest_raw.ends_with('/') || dest_raw == "." {
                format!("{}/", joined.trim_end_matches('/'))
            } else {
                joined
            }
        };
        let dest = if dest_raw == "." || dest_raw.ends_with("/.") {
            format!("{}/", dest.trim_end_matches('.').trim_end_matches('/'))
        } else {
            dest
        };
        let chown = c.chown.as_deref().map(&ex).transpose()?;
        let chmod = match c.chmod.as_deref() {
            Some(m) => Some(copy::parse_chmod(&ex(m)?).map_err(|e| self.step_err(step, e))?),
            None => None,
        };
        let from = c.from.as_deref().map(&ex).transpose()?;
        let multi =
            sources.len() + c.inline.len() > 1 || sources.iter().any(|s| context::has_glob(s));
        let kw = if c.add { "ADD" } else { "COPY" };
        let mut shown = vec![];
        if let Some(f) = &from {
            shown.push(format!("--from={f}"));
        }
        if let Some(o) = &chown {
            shown.push(format!("--chown={o}"));
        }
        if let Some(m) = &c.chmod {
            shown.push(format!("--chmod={m}"));
        }
        if c.link {
            shown.push("--link".into());
        }
        shown.extend(sources.iter().cloned());
        shown.extend(c.inline.iter().map(|f| f.name.clone()));
        shown.push(dest_raw.clone());
        let text = format!("{kw} {} # buildkit", shown.join(" "));

        // Where the sources come from, and the part of the key that stands for them.
        enum Src {
            Context,
            Root(Vec<PathBuf>),
        }
        // --link: the copy is a layer of its own, not rebased on what is below, so
        // its key leaves the parent out (a changed parent still hits, as BuildKit).
        let chown = match (&chown, c.link) {
            (Some(spec), true) if !is_numeric_owner(spec) => {
                Some(self.numeric_owner(st, step, spec)?)
            }
            _ => chown,
        };
        let link_root = Digest::of(b"copy --link");
        let mut k = KeyBuilder::child_of(if c.link { &link_root } else { &st.fs_key });
        k.field("op", kw)
            .field("link", &c.link.to_string())
            .field("dest", &dest)
            .field("chown", chown.as_deref().unwrap_or(""))
            .field("chmod", &format!("{chmod:?}"))
            .field("multi", &multi.to_string())
            .field("parents", &c.parents.to_string())
            .field("exclude", &json!(c.exclude).to_string());
        let src = match &from {
            None => {
                let mut sels = vec![];
                for s in &sources {
                    let sel = self.ctx.select(s).map_err(|e| self.step_err(step, e))?;
                    let sel = filter_excluded(sel, &c.exclude);
                    k.field("source", s);
                    k.field(
                        "content",
                        self.ctx
                            .selection_digest(&sel)
                            .map_err(|e| self.step_err(step, e))?
                            .hex(),
                    );
                    sels.push(sel);
                }
                let _ = sels;
                Src::Context
            }
            Some(f) => {
                let dirs = match self.stage_index(f, stage) {
                    Some(d) => {
                        let other = self
                            .done
                            .lock()
                            .expect("done")
                            .get(&d)
                            .cloned()
                            .ok_or_else(|| {
                                self.step_err(step, format!("stage {f} is not built"))
                            })?;
                        k.field("from", other.fs_key.hex());
                        other.lowers_top_first()
                    }
                    None => match self.opts.named_contexts.get(f) {
                        Some(NamedContext::Dir(d)) => {
                            // The directory's content is the key, as the context's is.
                            let dctx = Context::new(d, Box::new(NothingExcluded), None)
                                .map_err(|e| self.step_err(step, e))?;
                            k.field("from", &format!("context {f}"));
                            for s in &sources {
                                let sel = dctx.select(s).map_err(|e| self.step_err(step, e))?;
                                let sel = filter_excluded(sel, &c.exclude);
                                k.field(
                                    "content",
                                    dctx.selection_digest(&sel)
                                        .map_err(|e| self.step_err(step, e))?
                                        .hex(),
                                );
                            }
                            vec![d.clone()]
                        }
                        named => {
                            let name = match named {
                                Some(NamedContext::Image(r)) => r.as_str(),
                                _ => f.as_str(),
                            };
                            let img = self.image(name, v).map_err(|e| self.step_err(step, e))?;
                            k.field("from", img.id.hex());
                            img.lower_dirs_top_first()
                        }
                    },
                };
                for s in &sources {
                    k.field("source", s);
                }
                Src::Root(dirs)
            }
        };
        for f in &c.inline {
            k.field("inline", &f.name).field("body", &f.body);
        }
        let key = k.finish();
        // What later steps chain on: this key, or for --link the parent's and this one.
        let next = if c.link {
            let mut n = KeyBuilder::child_of(&st.fs_key);
            n.field("linked", key.hex());
            n.finish()
        } else {
            key.clone()
        };
        if let Some(hit) = self.cached_entry(&key) {
            self.apply_entry(st, &hit, &text)?;
            advance(st, next);
            return Ok(true);
        }
        let scratch = Scratch::new(&self.root).map_err(|e| self.step_err(step, e))?;
        // Heredoc files are written to the scratch dir and copied like context files.
        let inline_dir = scratch.dir.join("inline");
        let mut inline_entries = vec![];
        if !c.inline.is_empty() {
            std::fs::create_dir_all(&inline_dir).map_err(|e| self.step_err(step, e))?;
            for f in &c.inline {
                let body = if f.expand {
                    ex(&f.body)?
                } else {
                    f.body.clone()
                };
                let p = inline_dir.join(&f.name);
                std::fs::write(&p, body).map_err(|e| self.step_err(step, e))?;
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644));
            }
        }
        let ctx = self.ctx;
        // --link copies into an empty root: nothing of the parent is read or followed.
        let lowers = if c.link {
            vec![]
        } else {
            st.lowers_top_first()
        };
        let src_lowers = match &src {
            Src::Root(d) => Some(d.clone()),
            Src::Context => None,
        };
        let dir_owner_spec = chown.clone();
        let add = c.add;
        let parents = c.parents;
        let exclude = c.exclude.clone();
        let inline_names: Vec<String> = c.inline.iter().map(|f| f.name.clone()).collect();
        sandbox::with_roots(&scratch, &lowers, src_lowers.as_deref(), |root, src_dir| {
            let owner = match &dir_owner_spec {
                Some(spec) => copy::resolve_chown(root, spec)?,
                None => (0, 0),
            };
            let from_ctx;
            let source_ctx: &Context = match src_dir {
                Some(d) => {
                    from_ctx = Context::new(d, Box::new(NothingExcluded), None)?;
                    &from_ctx
                }
                None => ctx,
            };
            let mut all: Vec<(CtxEntry, Vec<CtxEntry>)> = vec![];
            for s in &sources {
                let sel = filter_excluded(source_ctx.select(s)?, &exclude);
                all.extend(sel);
            }
            if !inline_names.is_empty() {
                let ictx = Context::new(&inline_dir, Box::new(NothingExcluded), None)?;
                for n in &inline_names {
                    inline_entries.extend(ictx.select(n)?);
                }
                all.append(&mut inline_entries);
            }
            if parents {
                for (top, below) in &all {
                    let parent = top.rel.rsplit_once('/').map(|x| x.0).unwrap_or("");
                    let d = if parent.is_empty() {
                        format!("{}/", dest.trim_end_matches('/'))
                    } else {
                        format!("{}/{parent}/", dest.trim_end_matches('/'))
                    };
                    let one = [(top.clone(), below.clone())];
                    let d = if top.kind == context::Kind::Dir {
                        format!("{}{}/", d, top.rel.rsplit('/').next().unwrap_or(""))
                    } else {
                        d
                    };
                    copy::copy(
                        root,
                        &copy::Plan {
                            matches: &one,
                            dest: &d,
                            dest_is_dir: true,
                            add,
                            meta: copy::Meta { owner, chmod },
                            dir_owner: owner,
                        },
                    )?;
                }
                return Ok(());
            }
            copy::copy(
                root,
                &copy::Plan {
                    matches: &all,
                    dest: &dest,
                    dest_is_dir: multi,
                    add,
                    meta: copy::Meta { owner, chmod },
                    dir_owner: owner,
                },
            )
        })
        .map_err(|e| self.step_err(step, format!("{e:#}")))?;
        self.commit_as(st, step, key, next, &scratch, &text)?;
        Ok(false)
    }

    /// `--chown=name[:group]` as `uid:gid`, looked up in the parent's root (a
    /// `--link` copy does not see it otherwise).
    fn numeric_owner(&self, st: &State, step: &Step, spec: &str) -> Result<String, BuildError> {
        let scratch = Scratch::new(&self.root).map_err(|e| self.step_err(step, e))?;
        let (uid, gid) = sandbox::with_root(&scratch, &st.lowers_top_first(), |root| {
            copy::resolve_chown(root, spec)
        })
        .map_err(|e| self.step_err(step, format!("{e:#}")))?;
        Ok(format!("{uid}:{gid}"))
    }

    /// Writes the image config and manifest of the final state, and tags it.
    fn export(&self, st: State) -> Result<Built, BuildError> {
        let mut config = st.config.clone();
        if !self.opts.labels.is_empty() {
            let l = config.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in &self.opts.labels {
                l.insert(k.clone(), v.clone());
            }
        }
        let created = st
            .history
            .iter()
            .rev()
            .find_map(|h| h.get("created").and_then(|c| c.as_str()).map(String::from))
            .or(st.created.clone());
        let file = ImageConfigFile {
            created,
            author: st.author.clone(),
            architecture: st.platform.architecture.clone(),
            os: st.platform.os.clone(),
            variant: st.platform.variant.clone(),
            config: Some(config),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: st.diff_ids.clone(),
            },
            history: Some(st.history.clone()),
            other: Default::default(),
        };
        let cfg_bytes = serde_json::to_vec(&file).expect("config serializes");
        let id = self.store.write_blob(&cfg_bytes)?;
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(oci::OCI_MANIFEST.into()),
            config: descriptor(oci::OCI_CONFIG, id.clone(), cfg_bytes.len() as u64),
            layers: st.layers.clone(),
            annotations: None,
        };
        let mbytes = serde_json::to_vec(&manifest).expect("manifest serializes");
        let mdigest = self.store.write_blob(&mbytes)?;
        for t in &self.opts.tags {
            self.store.put_record(ImageRecord {
                name: t.to_string(),
                digest: mdigest.clone(),
                index_digest: None,
                repo_digest: None,
                updated_at: now_unix(),
            })?;
        }
        Ok(Built {
            id,
            manifest: mdigest,
        })
    }
}

/// After a step that may change files: both chains move on.
fn advance(st: &mut State, fs_key: Digest) {
    let mut k = KeyBuilder::child_of(&st.key);
    k.field("fs", fs_key.hex());
    st.key = k.finish();
    st.fs_key = fs_key;
}

fn show_tail(step: &str, tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("\n------\n > {step}:\n{tail}\n------")
    }
}

/// `uid[:gid]` in numbers (no lookup needed).
fn is_numeric_owner(spec: &str) -> bool {
    spec.split(':')
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn st_user(c: &RuntimeConfig) -> Option<String> {
    c.user.clone().filter(|u| !u.is_empty())
}

fn push_history(st: &mut State, created: &str, text: &str, empty: bool) {
    let mut h = json!({
        "created": created,
        "created_by": text,
        "comment": "buildkit.dockerfile.v0",
    });
    if empty {
        h["empty_layer"] = json!(true);
    }
    st.history.push(h);
}

fn filter_excluded(
    sel: Vec<(CtxEntry, Vec<CtxEntry>)>,
    exclude: &[String],
) -> Vec<(CtxEntry, Vec<CtxEntry>)> {
    if exclude.is_empty() {
        return sel;
    }
    let hit = |rel: &str| {
        exclude.iter().any(|p| {
            let p = context::clean_rel(p);
            context::glob_match(&p, rel)
                || rel
                    .rsplit('/')
                    .next()
                    .is_some_and(|b| context::glob_match(&p, b))
                || rel.starts_with(&format!("{p}/"))
        })
    };
    sel.into_iter()
        .filter(|(t, _)| !hit(&t.rel))
        .map(|(t, below)| (t, below.into_iter().filter(|e| !hit(&e.rel)).collect()))
        .collect()
}

/// The step as progress shows it: the keyword upper-cased, words expanded where
/// the instruction expands them.
fn display_text(step: &Step, scope: &Scope) -> String {
    match &step.op {
        Op::Run { .. } | Op::Cmd(_) | Op::Entrypoint(_) | Op::Shell(_) | Op::OnBuild(_) => {
            step.text.clone()
        }
        _ => scope
            .expand(&step.text)
            .unwrap_or_else(|_| step.text.clone()),
    }
}
