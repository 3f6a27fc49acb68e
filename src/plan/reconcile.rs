//! docker compose's convergence (`pkg/compose/convergence.go`, `reconcile.go`):
//! keep what matches, recreate what changed, create what is missing, remove
//! surplus replicas and, when asked, orphans.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use super::diff::changed_keys;
use crate::container::list::Found;
use crate::container::ContainerState;

/// One service as the compose file wants it.
#[derive(Debug, Clone)]
pub struct Desired {
    /// The service name.
    pub name: String,
    /// How many containers (`scale`, `deploy.replicas`, `--scale`).
    pub replicas: u32,
    /// The config hash (`config --hash`).
    pub config_hash: String,
    /// The canonical service config, to name what changed.
    pub config: Value,
    /// The image digest the service resolves to now, if known.
    pub image_id: Option<String>,
    /// Services whose namespaces or volumes this one uses (`service:x`,
    /// `volumes_from`): recreating one of them recreates this one.
    pub shares_with: Vec<String>,
    /// Services this one depends on.
    pub depends_on: Vec<String>,
    /// Services it depends on with `restart: true`: recreating one of them restarts
    /// this one's running containers (docker compose stops them before and starts
    /// them after).
    pub restart_with: Vec<String>,
    /// The named volumes it mounts, by full name: a container lacking one of them
    /// is recreated (docker compose does the same; the hash only has the keys).
    pub volumes: Vec<String>,
}

/// `up`'s flags that change the plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// `--force-recreate`.
    pub force_recreate: bool,
    /// `--no-recreate`.
    pub no_recreate: bool,
    /// `--always-recreate-deps`.
    pub always_recreate_deps: bool,
    /// `--remove-orphans`.
    pub remove_orphans: bool,
    /// The services named on the command line (empty: all).
    pub selected: Vec<String>,
}

/// Why a container is recreated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum Reason {
    /// `--force-recreate`.
    Forced,
    /// The config hash differs; these keys changed.
    ConfigChanged {
        /// Key paths that differ (empty if the old config was not kept).
        keys: Vec<String>,
    },
    /// The image now resolves to another digest.
    ImageChanged {
        /// The digest the container runs.
        from: String,
        /// The digest the tag points to now.
        to: String,
        /// The service builds its image (`build:`): a build made the new one.
        rebuilt: bool,
    },
    /// A service whose namespaces or volumes it shares is recreated.
    DependencyRecreated {
        /// That service.
        service: String,
    },
    /// `--always-recreate-deps` and a dependant is recreated.
    DependantRecreated,
    /// The container does not mount a named volume the service now uses.
    VolumeChanged {
        /// The volume it lacks.
        volume: String,
    },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Forced => f.write_str("--force-recreate"),
            Reason::ConfigChanged { keys } if keys.is_empty() => f.write_str("config changed"),
            Reason::ConfigChanged { keys } => write!(f, "changed: {}", keys.join(", ")),
            Reason::ImageChanged { from, to, rebuilt } => {
                let what = if *rebuilt { "rebuilt" } else { "changed" };
                write!(f, "image {what}: {} -> {}", short(from), short(to))
            }
            Reason::DependencyRecreated { service } => write!(f, "{service} is recreated"),
            Reason::DependantRecreated => f.write_str("--always-recreate-deps"),
            Reason::VolumeChanged { volume } => write!(f, "volume {volume} is not mounted"),
        }
    }
}

fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

/// What happens to one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// Nothing: it matches and runs.
    Keep,
    /// It matches but is not running: start it.
    Start,
    /// Make it.
    Create,
    /// Replace it, keeping its number.
    Recreate {
        /// Why.
        reasons: Vec<Reason>,
    },
    /// Stop it and start it again: a dependency it declares `restart: true` on is
    /// recreated.
    Restart {
        /// That dependency.
        because: String,
    },
    /// Remove it: a surplus replica.
    ScaleDown,
    /// Remove it: its service is no longer in the file (`--remove-orphans`).
    RemoveOrphan,
}

/// The plan for one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerPlan {
    /// The service.
    pub service: String,
    /// The replica number.
    pub number: u32,
    /// The existing container's id, if there is one.
    pub id: Option<String>,
    /// The existing container's name, if there is one.
    pub name: Option<String>,
    /// What happens.
    #[serde(flatten)]
    pub action: Action,
}

/// What `up` will do.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// Per container, services in the given order, numbers ascending.
    pub containers: Vec<ContainerPlan>,
    /// Containers of services the file no longer has (warned about unless removed).
    pub orphans: Vec<String>,
}

/// Compares `desired` (in dependency order) with `existing` (the project's
/// non-one-off containers) and decides per container.
pub fn plan<'a>(
    desired: &[Desired],
    existing: impl IntoIterator<Item = &'a Found>,
    stored_configs: &dyn Fn(&Found) -> Option<Value>,
    opts: &PlanOptions,
) -> Plan {
    let mut by_service: BTreeMap<&str, Vec<&Found>> = BTreeMap::new();
    for f in existing.into_iter().filter(|f| !f.record.oneoff) {
        by_service
            .entry(f.record.service.as_str())
            .or_default()
            .push(f);
    }
    let known: HashSet<&str> = desired.iter().map(|d| d.name.as_str()).collect();
    let selected: HashSet<&str> = opts.selected.iter().map(String::as_str).collect();
    let mut recreated: HashSet<String> = HashSet::new();
    let mut out = Plan::default();

    for d in desired {
        let mut have: Vec<&Found> = by_service.get(d.name.as_str()).cloned().unwrap_or_default();
        // Replicas that match the file are kept before stale ones when scaling
        // down, then lower numbers first, as docker compose chooses.
        let stale = |f: &Found| {
            f.record.config_hash() != Some(d.config_hash.as_str())
                || d.image_id.as_ref().is_some_and(|i| *i != f.record.image_id)
        };
        have.sort_by_key(|f| (stale(f), f.record.number));
        let is_dep = !selected.is_empty() && !selected.contains(d.name.as_str());
        let mut kept = 0u32;
        for f in &have {
            if kept >= d.replicas {
                out.containers.push(existing_plan(f, Action::ScaleDown));
                continue;
            }
            kept += 1;
            let mut reasons = vec![];
            if opts.force_recreate && !is_dep {
                reasons.push(Reason::Forced);
            }
            if f.record.config_hash() != Some(d.config_hash.as_str()) {
                let keys = stored_configs(f)
                    .map(|old| changed_keys(&old, &d.config))
                    .unwrap_or_default();
                reasons.push(Reason::ConfigChanged { keys });
            }
            if let Some(now) = &d.image_id {
                if *now != f.record.image_id {
                    reasons.push(Reason::ImageChanged {
                        from: f.record.image_id.clone(),
                        to: now.clone(),
                        rebuilt: d.config.get("build").is_some(),
                    });
                }
            }
            // Read only when the service mounts named volumes at all.
            let mounted = if d.volumes.is_empty() {
                vec![]
            } else {
                crate::container::list::container_volumes(&f.dir)
            };
            if let Some(missing) = d.volumes.iter().find(|v| !mounted.contains(v)) {
                reasons.push(Reason::VolumeChanged {
                    volume: missing.clone(),
                });
            }
            for s in &d.shares_with {
                if recreated.contains(s) {
                    reasons.push(Reason::DependencyRecreated { service: s.clone() });
                }
            }
            if opts.always_recreate_deps && is_dep && recreated_dependants(d, desired, &selected) {
                reasons.push(Reason::DependantRecreated);
            }
            let action = if !reasons.is_empty() && !opts.no_recreate {
                recreated.insert(d.name.clone());
                Action::Recreate { reasons }
            } else if f.status.state == ContainerState::Running
                && !crate::container::observe::is_stopping(&f.status)
            {
                // Running and staying so; one told to stop (a `down` killed
                // inside the grace period) will exit, so it is started again.
                Action::Keep
            } else {
                Action::Start
            };
            out.containers.push(existing_plan(f, action));
        }
        let numbers: HashSet<u32> = have.iter().map(|f| f.record.number).collect();
        let mut next = 1;
        while kept < d.replicas {
            while numbers.contains(&next) {
                next += 1;
            }
            out.containers.push(ContainerPlan {
                service: d.name.clone(),
                number: next,
                id: None,
                name: None,
                action: Action::Create,
            });
            next += 1;
            kept += 1;
        }
    }

    // After every service is decided: a running container that is kept while a
    // dependency it declares `restart: true` on is recreated gets restarted.
    for c in out.containers.iter_mut() {
        if c.action != Action::Keep {
            continue;
        }
        let because = desired
            .iter()
            .find(|d| d.name == c.service)
            .and_then(|d| d.restart_with.iter().find(|s| recreated.contains(*s)));
        if let Some(dep) = because {
            c.action = Action::Restart {
                because: dep.clone(),
            };
        }
    }

    for (service, founds) in by_service {
        if known.contains(service) {
            continue;
        }
        for f in founds {
            out.orphans.push(f.record.name.clone());
            if opts.remove_orphans {
                out.containers.push(existing_plan(f, Action::RemoveOrphan));
            }
        }
    }
    out
}

/// With `--always-recreate-deps`, a dependency is recreated when a selected
/// service depends on it; docker compose does this whenever the dependant is
/// being converged.
fn recreated_dependants(d: &Desired, desired: &[Desired], selected: &HashSet<&str>) -> bool {
    desired
        .iter()
        .any(|o| selected.contains(o.name.as_str()) && o.depends_on.contains(&d.name))
}

fn existing_plan(f: &Found, action: Action) -> ContainerPlan {
    ContainerPlan {
        service: f.record.service.clone(),
        number: f.record.number,
        id: Some(f.record.id.clone()),
        name: Some(f.record.name.clone()),
        action,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::record::labels;
    use crate::container::{ContainerRecord, Status};
    use serde_json::json;
    use std::path::PathBuf;

    fn found(service: &str, number: u32, hash: &str, state: ContainerState) -> Found {
        Found {
            dir: PathBuf::from(format!("/x/{service}{number}")),
            record: ContainerRecord {
                id: format!("{service}{number}"),
                name: format!("p-{service}-{number}"),
                project: "p".into(),
                service: service.into(),
                number,
                oneoff: false,
                image: "img".into(),
                image_id: "sha256:aaa".into(),
                command: vec![],
                created: String::new(),
                labels: [(labels::CONFIG_HASH.to_string(), hash.to_string())]
                    .into_iter()
                    .collect(),
                networks: vec![],
                ports: vec![],
            },
            status: Status {
                state,
                ..Status::default()
            },
        }
    }

    fn desired(name: &str, replicas: u32, hash: &str) -> Desired {
        Desired {
            name: name.into(),
            replicas,
            config_hash: hash.into(),
            config: json!({"image": "img", "environment": {"A": hash}}),
            image_id: Some("sha256:aaa".into()),
            shares_with: vec![],
            depends_on: vec![],
            restart_with: vec![],
            volumes: vec![],
        }
    }

    fn actions(p: &Plan) -> Vec<(String, u32, String)> {
        p.containers
            .iter()
            .map(|c| {
                let a = serde_json::to_value(&c.action).unwrap()["action"]
                    .as_str()
                    .unwrap()
                    .to_string();
                (c.service.clone(), c.number, a)
            })
            .collect()
    }

    fn none(_: &Found) -> Option<Value> {
        None
    }

    #[test]
    fn a_noop_up_keeps_everything() {
        let ex = vec![found("web", 1, "h1", ContainerState::Running)];
        let p = plan(
            &[desired("web", 1, "h1")],
            &ex,
            &none,
            &PlanOptions::default(),
        );
        assert_eq!(actions(&p), vec![("web".into(), 1, "keep".into())]);
    }

    #[test]
    fn a_changed_hash_recreates_and_names_the_keys() {
        let ex = vec![found("web", 1, "h1", ContainerState::Running)];
        let old = |_: &Found| Some(json!({"image": "img", "environment": {"A": "h1"}}));
        let p = plan(
            &[desired("web", 1, "h2")],
            &ex,
            &old,
            &PlanOptions::default(),
        );
        match &p.containers[0].action {
            Action::Recreate { reasons } => {
                assert_eq!(reasons[0].to_string(), "changed: environment.A")
            }
            a => panic!("{a:?}"),
        }
    }

    #[test]
    fn shared_namespaces_cascade_and_no_recreate_wins() {
        let ex = vec![
            found("db", 1, "old", ContainerState::Running),
            found("side", 1, "s", ContainerState::Running),
        ];
        let mut side = desired("side", 1, "s");
        side.shares_with = vec!["db".into()];
        let p = plan(
            &[desired("db", 1, "new"), side.clone()],
            &ex,
            &none,
            &PlanOptions::default(),
        );
        assert_eq!(actions(&p)[1].2, "recreate");
        let opts = PlanOptions {
            no_recreate: true,
            ..PlanOptions::default()
        };
        let p = plan(&[desired("db", 1, "new"), side], &ex, &none, &opts);
        assert_eq!(actions(&p)[0].2, "keep");
    }

    #[test]
    fn scale_creates_missing_numbers_and_removes_the_highest() {
        let ex = vec![
            found("web", 1, "h", ContainerState::Running),
            found("web", 3, "h", ContainerState::Exited),
        ];
        let p = plan(
            &[desired("web", 3, "h")],
            &ex,
            &none,
            &PlanOptions::default(),
        );
        assert_eq!(
            actions(&p),
            vec![
                ("web".into(), 1, "keep".into()),
                ("web".into(), 3, "start".into()),
                ("web".into(), 2, "create".into()),
            ]
        );
        let p = plan(
            &[desired("web", 1, "h")],
            &ex,
            &none,
            &PlanOptions::default(),
        );
        assert_eq!(actions(&p)[1], ("web".into(), 3, "scale_down".into()));
    }

    #[test]
    fn orphans_are_reported_and_removed_on_request() {
        let ex = vec![found("gone", 1, "h", ContainerState::Running)];
        let p = plan(&[], &ex, &none, &PlanOptions::default());
        assert_eq!(p.orphans, vec!["p-gone-1"]);
        assert!(p.containers.is_empty());
        let opts = PlanOptions {
            remove_orphans: true,
            ..PlanOptions::default()
        };
        assert_eq!(actions(&plan(&[], &ex, &none, &opts))[0].2, "remove_orphan");
    }

    #[test]
    fn force_recreate_spares_dependencies_not_selected() {
        let ex = vec![
            found("db", 1, "h", ContainerState::Running),
            found("web", 1, "h", ContainerState::Running),
        ];
        let opts = PlanOptions {
            force_recreate: true,
            selected: vec!["web".into()],
            ..PlanOptions::default()
        };
        let p = plan(
            &[desired("db", 1, "h"), desired("web", 1, "h")],
            &ex,
            &none,
            &opts,
        );
        assert_eq!(actions(&p)[0].2, "keep");
        assert_eq!(actions(&p)[1].2, "recreate");
    }
}
