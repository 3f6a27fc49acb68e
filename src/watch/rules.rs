//! `develop.watch` rules as docker compose reads them (`pkg/compose/watch.go`):
//! which host paths a rule covers, what it ignores, and where a path lands in
//! the container.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::build::ignore::{self, Matcher};
use crate::compose::model::service::{DevelopConfig, ServiceConfig, ServiceHook};
use crate::compose::Project;

/// A rule that cannot be used, naming the service and the rule.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// docker compose's message for `rebuild` without `build:`.
    #[error("can't watch service {service:?} with action rebuild without a build context")]
    RebuildWithoutBuild {
        /// The service.
        service: String,
    },
    /// A rule without `path`.
    #[error("services.{service}.develop.watch[{index}]: watch rules MUST define a path")]
    NoPath {
        /// The service.
        service: String,
        /// The rule's index.
        index: usize,
    },
    /// A path outside the project directory.
    #[error("services.{service}.develop.watch[{index}].path: {path} is outside the project directory {project}")]
    Outside {
        /// The service.
        service: String,
        /// The rule's index.
        index: usize,
        /// The path.
        path: String,
        /// The project directory.
        project: String,
    },
    /// An action docker compose does not know.
    #[error("services.{service}.develop.watch[{index}].action: unknown action {action:?} (must be one of rebuild, restart, sync, sync+restart, sync+exec)")]
    UnknownAction {
        /// The service.
        service: String,
        /// The rule's index.
        index: usize,
        /// The action given.
        action: String,
    },
    /// `sync+exec` without a command.
    #[error("can't watch with action \"sync+exec\" on service {service} without a command (services.{service}.develop.watch[{index}].exec.command)")]
    NoCommand {
        /// The service.
        service: String,
        /// The rule's index.
        index: usize,
    },
    /// A sync rule without a target.
    #[error(
        "services.{service}.develop.watch[{index}]: target is required for non-rebuild actions"
    )]
    NoTarget {
        /// The service.
        service: String,
        /// The rule's index.
        index: usize,
    },
    /// A pattern that does not compile.
    #[error("services.{service}.develop.watch[{index}]: {source}")]
    Pattern {
        /// The service.
        service: String,
        /// The rule's index.
        index: usize,
        /// Why.
        source: ignore::IgnoreError,
    },
    /// `x-develop` that is not a `develop` section.
    #[error("services.{service}.x-develop: {source}")]
    Legacy {
        /// The service.
        service: String,
        /// Why.
        source: serde_yaml_ng::Error,
    },
    /// No selected service has `develop.watch`.
    #[error("none of the selected services is configured for watch, consider setting a 'develop' section")]
    NothingToWatch,
}

/// What a rule does when its files change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Copy the changed files into the containers.
    Sync,
    /// Build the image and recreate the containers.
    Rebuild,
    /// Restart the containers.
    Restart,
    /// Sync, then restart.
    SyncRestart,
    /// Sync, then run `exec.command` in each container.
    SyncExec,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "sync" => Action::Sync,
            "rebuild" => Action::Rebuild,
            "restart" => Action::Restart,
            "sync+restart" => Action::SyncRestart,
            "sync+exec" => Action::SyncExec,
            _ => return None,
        })
    }

    /// Whether the action copies files.
    pub fn syncs(self) -> bool {
        matches!(self, Action::Sync | Action::SyncRestart | Action::SyncExec)
    }
}

/// Editor and tool temp files (docker compose's `pkg/watch/ephemeral.go`).
const EPHEMERAL: &[&str] = &[
    "**/*___jb_old___",
    "**/*___jb_tmp___",
    "**/.#*",
    "**/#*#",
    "**/4913",
    "**/*~",
    "**/.*.swp",
    "**/.*.swx",
    "**/.*.swo",
    "**/.*.swn",
    "**/.*.kate-swp",
    "**/.goutputstream-*",
    "**/.berth-watch-*",
];

/// One usable rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The service.
    pub service: String,
    /// Its index in `develop.watch`.
    pub index: usize,
    /// The watched host path, absolute, symlinks resolved.
    pub path: PathBuf,
    /// The action.
    pub action: Action,
    /// Where `path` lands in the container.
    pub target: String,
    /// `exec` for `sync+exec`.
    pub exec: ServiceHook,
    /// `initial_sync` (sync and sync+restart only, as docker compose).
    pub initial_sync: bool,
    /// Skipped: a bind mount already shows the path to the container.
    pub bind_mounted: bool,
    /// Read from the deprecated `x-develop` (docker compose still reads it, with a warning).
    pub legacy: bool,
    /// Asks for an initial sync through the deprecated `x-initialSync` (read, with a warning).
    pub legacy_initial_sync: bool,
    include: Option<Matcher>,
    own_ignore: Matcher,
    /// The build context and its `.dockerignore`.
    docker_ignore: Option<(PathBuf, Matcher)>,
    ephemeral: Matcher,
}

/// `p` with the symlinks of its longest existing prefix resolved and the rest
/// appended as written: a rule may watch a path that does not exist yet, which
/// docker compose watches from its nearest existing ancestor until it appears.
fn resolve_existing_prefix(p: &Path) -> PathBuf {
    let mut rest = vec![];
    let mut cur = p;
    loop {
        if let Ok(real) = std::fs::canonicalize(cur) {
            let mut out = real;
            for c in rest.iter().rev() {
                out.push(c);
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            // `..` or the root itself: nothing better than the path as given.
            _ => return p.to_path_buf(),
        }
    }
}

fn rel_str(base: &Path, p: &Path) -> Option<String> {
    p.strip_prefix(base)
        .ok()
        .map(|r| r.to_string_lossy().into_owned())
}

impl Rule {
    /// The path relative to the rule's path, when the rule covers `p` at all.
    pub fn relative(&self, p: &Path) -> Option<String> {
        rel_str(&self.path, p)
    }

    /// Whether an ignore list (not `include`) rules `p` out; `p` is under `path`.
    pub fn ignored(&self, p: &Path) -> bool {
        let rel = self.relative(p).unwrap_or_default();
        if rel.is_empty() && p == self.path {
            return false;
        }
        if p.components().any(|c| c.as_os_str() == ".git") {
            return true;
        }
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if self.ephemeral.matches(&name) {
            return true;
        }
        if let Some((ctx, m)) = &self.docker_ignore {
            if let Some(r) = rel_str(ctx, p) {
                if !r.is_empty() && m.matches_or_parent(&r) {
                    return true;
                }
            }
        }
        !rel.is_empty() && self.own_ignore.matches_or_parent(&rel)
    }

    /// Whether a directory can go unwatched: ignored, and no `!` exception
    /// could bring anything under it back.
    pub fn prunes_dir(&self, p: &Path) -> bool {
        if !self.ignored(p) {
            return false;
        }
        let exceptions = self.own_ignore.exclusions()
            || self
                .docker_ignore
                .as_ref()
                .is_some_and(|(_, m)| m.exclusions());
        !exceptions || p.components().any(|c| c.as_os_str() == ".git")
    }

    /// Whether a change of `p` triggers this rule.
    pub fn matches(&self, p: &Path) -> bool {
        let Some(rel) = self.relative(p) else {
            return false;
        };
        if let Some(inc) = &self.include {
            if !rel.is_empty() && !inc.matches_or_parent(&rel) {
                return false;
            }
        }
        !self.ignored(p)
    }

    /// Where host path `p` (under `path`) is in the container.
    pub fn container_path(&self, p: &Path) -> String {
        let rel = self.relative(p).unwrap_or_default();
        if rel.is_empty() {
            self.target.clone()
        } else {
            format!("{}/{}", self.target.trim_end_matches('/'), rel)
        }
    }
}

fn build_paths(project: &Project, svc: &ServiceConfig) -> Option<(PathBuf, PathBuf)> {
    let b = svc.build.as_ref()?;
    let ctx = if b.context.is_empty() {
        project.working_dir.clone()
    } else {
        project.working_dir.join(&b.context)
    };
    let df = if b.dockerfile.is_empty() {
        "Dockerfile"
    } else {
        &b.dockerfile
    };
    let df = ctx.join(df);
    Some((ctx, df))
}

/// docker compose's warning for a service watched through `x-develop`.
pub const LEGACY_WARNING: &str =
    "x-develop is DEPRECATED, please use the official `develop` attribute";

/// docker compose's warning for a rule asking for an initial sync through `x-initialSync`.
pub const LEGACY_INITIAL_SYNC_WARNING: &str =
    "x-initialSync is DEPRECATED, please use the official `initial_sync` attribute";

/// A service's `develop`, or else its deprecated `x-develop` (as docker
/// compose's `loadDevelopmentConfig` still reads it); whether it is the latter.
fn develop_of<'s>(
    name: &str,
    svc: &'s ServiceConfig,
) -> Result<Option<(Cow<'s, DevelopConfig>, bool)>, RuleError> {
    if let Some(d) = &svc.develop {
        return Ok(Some((Cow::Borrowed(d), false)));
    }
    let Some(v) = svc.extensions.get("x-develop") else {
        return Ok(None);
    };
    let d: DevelopConfig =
        serde_yaml_ng::from_value(v.clone()).map_err(|source| RuleError::Legacy {
            service: name.to_string(),
            source,
        })?;
    Ok(Some((Cow::Owned(d), true)))
}

/// The rules of `services` (all when empty) with `develop.watch`.
pub fn rules_of(project: &Project, services: &[String]) -> Result<Vec<Rule>, RuleError> {
    let root =
        std::fs::canonicalize(&project.working_dir).unwrap_or_else(|_| project.working_dir.clone());
    let ephemeral = Matcher::new(EPHEMERAL).expect("built-in patterns compile");
    let mut out = vec![];
    for (name, svc) in &project.services {
        if !services.is_empty() && !services.contains(name) {
            continue;
        }
        let (dev, legacy) = match develop_of(name, svc)? {
            Some(d) => d,
            None => continue,
        };
        let dev = &*dev;
        let docker_ignore = match build_paths(project, svc) {
            Some((ctx, df)) => {
                let m = ignore::load(&ctx, &df).map_err(|source| RuleError::Pattern {
                    service: name.clone(),
                    index: 0,
                    source,
                })?;
                let ctx = std::fs::canonicalize(&ctx).unwrap_or(ctx);
                Some((ctx, m))
            }
            None => None,
        };
        for (index, t) in dev.watch.iter().enumerate() {
            let err_svc = || name.clone();
            let action = Action::parse(&t.action).ok_or_else(|| RuleError::UnknownAction {
                service: err_svc(),
                index,
                action: t.action.clone(),
            })?;
            if action == Action::Rebuild && svc.build.is_none() {
                return Err(RuleError::RebuildWithoutBuild { service: err_svc() });
            }
            if t.path.is_empty() {
                return Err(RuleError::NoPath {
                    service: err_svc(),
                    index,
                });
            }
            if action.syncs() && t.target.is_empty() {
                return Err(RuleError::NoTarget {
                    service: err_svc(),
                    index,
                });
            }
            if action == Action::SyncExec && t.exec.command.as_ref().is_none_or(|c| c.is_empty()) {
                return Err(RuleError::NoCommand {
                    service: err_svc(),
                    index,
                });
            }
            let given = project.working_dir.join(&t.path);
            let path = resolve_existing_prefix(&given);
            if !path.starts_with(&root) {
                return Err(RuleError::Outside {
                    service: err_svc(),
                    index,
                    path: t.path.clone(),
                    project: root.display().to_string(),
                });
            }
            let pattern = |source| RuleError::Pattern {
                service: name.clone(),
                index,
                source,
            };
            let include = if t.include.is_empty() {
                None
            } else {
                Some(Matcher::new(&t.include).map_err(pattern)?)
            };
            let own_ignore = Matcher::new(&t.ignore).map_err(pattern)?;
            let legacy_initial_sync =
                t.extensions.get("x-initialSync").and_then(|v| v.as_bool()) == Some(true);
            let bind_mounted = action.syncs()
                && svc.volumes.iter().any(|v| {
                    v.kind == "bind" && {
                        let src = std::fs::canonicalize(&v.source)
                            .unwrap_or_else(|_| PathBuf::from(&v.source));
                        path.starts_with(src)
                    }
                });
            out.push(Rule {
                service: name.clone(),
                index,
                path,
                action,
                target: t.target.clone(),
                exec: t.exec.clone(),
                initial_sync: (t.initial_sync || legacy_initial_sync)
                    && matches!(action, Action::Sync | Action::SyncRestart),
                legacy_initial_sync,
                bind_mounted,
                legacy,
                include,
                own_ignore,
                docker_ignore: docker_ignore.clone(),
                ephemeral: ephemeral.clone(),
            });
        }
    }
    if out.is_empty() {
        return Err(RuleError::NothingToWatch);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(ignore: &[&str], docker: &[&str]) -> Rule {
        Rule {
            service: "web".into(),
            index: 0,
            path: "/p/src".into(),
            action: Action::Sync,
            target: "/app".into(),
            exec: ServiceHook::default(),
            initial_sync: false,
            bind_mounted: false,
            legacy: false,
            legacy_initial_sync: false,
            include: None,
            own_ignore: Matcher::new(ignore).unwrap(),
            docker_ignore: Some(("/p".into(), Matcher::new(docker).unwrap())),
            ephemeral: Matcher::new(EPHEMERAL).unwrap(),
        }
    }

    #[test]
    fn ignores_combine_like_docker_compose() {
        let r = rule(&["node_modules/", "*.log", "!keep.log"], &["src/secret"]);
        let m = |p: &str| r.matches(Path::new(p));
        assert!(m("/p/src/a.js"));
        assert!(!m("/p/src/node_modules/x/y.js"));
        assert!(!m("/p/src/b.log"));
        assert!(m("/p/src/keep.log"));
        assert!(!m("/p/src/secret"));
        assert!(!m("/p/src/.git/HEAD"));
        assert!(!m("/p/src/.a.js.swp"));
        assert!(!m("/p/src/a.js~"));
        assert!(!m("/p/other"));
        assert_eq!(r.container_path(Path::new("/p/src/d/a.js")), "/app/d/a.js");
        assert_eq!(r.container_path(Path::new("/p/src")), "/app");
    }

    #[test]
    fn ignored_dirs_are_pruned_unless_an_exception_could_apply() {
        let r = rule(&["node_modules"], &[]);
        assert!(r.prunes_dir(Path::new("/p/src/node_modules")));
        assert!(!r.prunes_dir(Path::new("/p/src/lib")));
        let r = rule(&["build", "!build/keep"], &[]);
        assert!(!r.prunes_dir(Path::new("/p/src/build")));
        assert!(r.prunes_dir(Path::new("/p/src/.git")));
    }

    fn project(yaml: &str) -> (Project, tempfile::TempDir) {
        crate::compose::test_project(yaml, &["src"])
    }

    #[test]
    fn x_develop_is_read_as_docker_compose_still_does() {
        let (p, d) = project(
            "services:\n  web:\n    image: busybox\n    x-develop:\n      watch:\n        - path: ./src\n          action: sync\n          target: /app\n",
        );
        let rules = rules_of(&p, &[]).unwrap();
        assert_eq!(rules.len(), 1);
        assert!(rules[0].legacy);
        assert_eq!(rules[0].path, d.path().canonicalize().unwrap().join("src"));
        assert_eq!(rules[0].target, "/app");
        // `develop` wins when both are there.
        let (p, _d) = project(
            "services:\n  web:\n    image: busybox\n    develop:\n      watch:\n        - {path: ./src, action: sync, target: /new}\n    x-develop:\n      watch:\n        - {path: ./src, action: sync, target: /old}\n",
        );
        let rules = rules_of(&p, &[]).unwrap();
        assert_eq!((rules[0].target.as_str(), rules[0].legacy), ("/new", false));
        // A malformed one names the service.
        let (p, _d) =
            project("services:\n  web:\n    image: busybox\n    x-develop:\n      watch: 3\n");
        let e = rules_of(&p, &[]).unwrap_err().to_string();
        assert!(e.starts_with("services.web.x-develop: "), "{e}");
    }
}
