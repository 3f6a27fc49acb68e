//! Walking services in dependency order, concurrently where the graph allows:
//! `up` starts a service once everything it depends on is done; `down` stops a
//! service once everything that depends on it is done.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;

use indexmap::IndexMap;

use crate::compose::model::ServiceConfig;
use crate::compose::Project;
use crate::container::list::Found;
use crate::container::record::labels;
use tokio::task::JoinSet;

/// `names` plus every service that depends on one of them with `restart: true`,
/// transitively: what `restart` takes down and up again, as docker compose does.
pub fn with_restart_dependents(project: &crate::compose::Project, names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = names.to_vec();
    loop {
        let more: Vec<String> = project
            .services
            .values()
            .filter(|s| !out.contains(&s.name))
            .filter(|s| {
                s.depends_on
                    .iter()
                    .any(|(dep, cfg)| cfg.restart && out.contains(dep))
            })
            .map(|s| s.name.clone())
            .collect();
        if more.is_empty() {
            return out;
        }
        out.extend(more);
    }
}

/// Which way to walk the edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Dependencies first (`up`, `start`).
    Forward,
    /// Dependants first (`down`, `stop`).
    Reverse,
}

/// Services that `svc` shares namespaces or volumes with (`service:x`, `volumes_from`).
pub fn shares_with(svc: &ServiceConfig) -> Vec<String> {
    let mut out = vec![];
    for v in [&svc.network_mode, &svc.ipc, &svc.pid, &svc.uts] {
        if let Some(s) = v.strip_prefix("service:") {
            out.push(s.to_string());
        }
    }
    for v in &svc.volumes_from {
        let w = v
            .rsplit_once(':')
            .filter(|(_, m)| *m == "ro" || *m == "rw")
            .map(|(w, _)| w)
            .unwrap_or(v);
        if !w.starts_with("container:") {
            out.push(w.trim_start_matches("service:").to_string());
        }
    }
    out
}

/// What a service waits for: its `depends_on` and the services it shares with.
pub fn graph_deps_of(svc: &ServiceConfig) -> Vec<String> {
    let mut deps: Vec<String> = svc.depends_on.keys().cloned().collect();
    deps.extend(shares_with(svc));
    deps
}

/// The dependency graph of a project's services (depends_on and shared namespaces).
pub fn service_graph(project: &crate::compose::Project) -> Graph {
    Graph::new(
        project
            .services
            .iter()
            .map(|(n, s)| (n.clone(), graph_deps_of(s)))
            .collect(),
    )
}

/// The graph of the containers' services, from the file or, without one, from
/// the `depends_on` label each container carries.
pub fn containers_graph(project: Option<&Project>, containers: &[Found]) -> Graph {
    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in containers {
        let entry = deps.entry(f.record.service.clone()).or_default();
        let from_file = project.and_then(|p| p.services.get(&f.record.service));
        match from_file {
            Some(s) => entry.extend(graph_deps_of(s)),
            None => {
                if let Some(l) = f.record.labels.get(labels::DEPENDS_ON) {
                    entry.extend(
                        l.split(',')
                            .filter_map(|d| d.split(':').next())
                            .filter(|d| !d.is_empty())
                            .map(String::from),
                    );
                }
            }
        }
    }
    Graph::new(deps.into_iter().collect())
}

/// Services and, for each, the services it depends on (unknown names are ignored:
/// they belong to services outside the selection).
#[derive(Debug, Clone, Default)]
pub struct Graph {
    deps: IndexMap<String, Vec<String>>,
}

impl Graph {
    /// Builds a graph from `service -> depends on` pairs, keeping the given order.
    pub fn new(deps: IndexMap<String, Vec<String>>) -> Graph {
        let known: HashSet<String> = deps.keys().cloned().collect();
        let deps = deps
            .into_iter()
            .map(|(k, v)| {
                let v = v
                    .into_iter()
                    .filter(|d| known.contains(d) && *d != k)
                    .collect();
                (k, v)
            })
            .collect();
        Graph { deps }
    }

    /// The services in the graph, in the given order.
    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.deps.keys().map(String::as_str)
    }

    /// The graph of `names` alone (in the graph's order), keeping the edges among them.
    pub fn restricted_to(&self, names: &[String]) -> Graph {
        Graph {
            deps: self
                .deps
                .iter()
                .filter(|(k, _)| names.contains(k))
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.iter().filter(|d| names.contains(d)).cloned().collect(),
                    )
                })
                .collect(),
        }
    }

    /// The services each one waits for, in the graph's order.
    pub fn deps(&self, name: &str) -> &[String] {
        self.deps.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    /// The services in an order where each comes after what it waits for (ties
    /// in the graph's order); services on a cycle are left out.
    pub fn order(&self) -> Vec<String> {
        let mut order: Vec<String> = vec![];
        loop {
            let before = order.len();
            for (s, ds) in &self.deps {
                if !order.contains(s) && ds.iter().all(|d| order.contains(d)) {
                    order.push(s.clone());
                }
            }
            if order.len() == before {
                return order;
            }
        }
    }

    /// Every service `names` depend on, transitively, plus `names` themselves.
    pub fn with_dependencies(&self, names: &[String]) -> Vec<String> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut stack: Vec<&str> = names.iter().map(String::as_str).collect();
        while let Some(n) = stack.pop() {
            if seen.insert(n) {
                if let Some(ds) = self.deps.get(n) {
                    stack.extend(ds.iter().map(String::as_str));
                }
            }
        }
        self.deps
            .keys()
            .filter(|k| seen.contains(k.as_str()))
            .cloned()
            .collect()
    }

    /// Every service that depends on `names`, transitively, plus `names`
    /// themselves: what must go when they go (`down SERVICE`).
    pub fn with_dependents(&self, names: &[String]) -> Vec<String> {
        let mut seen: HashSet<&str> = names.iter().map(String::as_str).collect();
        loop {
            let before = seen.len();
            for (s, ds) in &self.deps {
                if ds.iter().any(|d| seen.contains(d.as_str())) {
                    seen.insert(s);
                }
            }
            if seen.len() == before {
                break;
            }
        }
        self.deps
            .keys()
            .filter(|k| seen.contains(k.as_str()))
            .cloned()
            .collect()
    }

    /// Runs `action` once per service, each as soon as the services it waits for
    /// (by `direction`) are done, all others concurrently. Stops scheduling new
    /// work at the first error and returns it after the running ones finish.
    pub async fn walk<F, Fut, E>(&self, direction: Direction, action: F) -> Result<(), E>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Send + 'static,
    {
        // waits_for[n]: what must finish before n; unblocks[n]: who waits on n.
        let mut waits_for: HashMap<&str, usize> = HashMap::new();
        let mut unblocks: HashMap<&str, Vec<&str>> = HashMap::new();
        for (n, ds) in &self.deps {
            waits_for.entry(n).or_insert(0);
            for d in ds {
                let (before, after) = match direction {
                    Direction::Forward => (d.as_str(), n.as_str()),
                    Direction::Reverse => (n.as_str(), d.as_str()),
                };
                *waits_for.entry(after).or_insert(0) += 1;
                unblocks.entry(before).or_default().push(after);
            }
        }
        let mut running = JoinSet::new();
        let mut failed: Option<E> = None;
        for n in self.deps.keys() {
            if waits_for[n.as_str()] == 0 {
                let fut = action(n.clone());
                let name = n.clone();
                running.spawn(async move { (name, fut.await) });
            }
        }
        while let Some(joined) = running.join_next().await {
            let (name, result) = match joined {
                Ok(x) => x,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            if let Err(e) = result {
                failed.get_or_insert(e);
            }
            if failed.is_some() {
                continue;
            }
            let name = self
                .deps
                .get_key_value(&name)
                .map(|(k, _)| k.as_str())
                .unwrap_or("");
            for next in unblocks.get(name).cloned().unwrap_or_default() {
                let left = waits_for.get_mut(next).expect("every node counted");
                *left -= 1;
                if *left == 0 {
                    let fut = action(next.to_string());
                    let next = next.to_string();
                    running.spawn(async move { (next, fut.await) });
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn graph(edges: &[(&str, &[&str])]) -> Graph {
        Graph::new(
            edges
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
        )
    }

    async fn order(g: &Graph, dir: Direction) -> Vec<String> {
        let seen = Arc::new(Mutex::new(vec![]));
        g.walk(dir, |n| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(n);
                Ok::<(), ()>(())
            }
        })
        .await
        .unwrap();
        let v = seen.lock().unwrap().clone();
        v
    }

    fn pos(v: &[String], n: &str) -> usize {
        v.iter().position(|x| x == n).unwrap()
    }

    #[tokio::test]
    async fn forward_starts_dependencies_first_and_reverse_stops_them_last() {
        let g = graph(&[
            ("web", &["api"]),
            ("api", &["db", "cache"]),
            ("db", &[]),
            ("cache", &[]),
        ]);
        let up = order(&g, Direction::Forward).await;
        assert_eq!(up.len(), 4);
        assert!(pos(&up, "db") < pos(&up, "api") && pos(&up, "cache") < pos(&up, "api"));
        assert!(pos(&up, "api") < pos(&up, "web"));
        let down = order(&g, Direction::Reverse).await;
        assert!(pos(&down, "web") < pos(&down, "api"));
        assert!(pos(&down, "api") < pos(&down, "db"));
    }

    #[tokio::test]
    async fn independent_services_run_concurrently() {
        let g = graph(&[("a", &[]), ("b", &[])]);
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        // Each action waits for the other: this only finishes if both run at once.
        g.walk(Direction::Forward, |_| {
            let b = barrier.clone();
            async move {
                b.wait().await;
                Ok::<(), ()>(())
            }
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn an_error_stops_dependants() {
        let g = graph(&[("web", &["db"]), ("db", &[])]);
        let ran = Arc::new(Mutex::new(vec![]));
        let r = g
            .walk(Direction::Forward, |n| {
                let ran = ran.clone();
                async move {
                    ran.lock().unwrap().push(n.clone());
                    if n == "db" {
                        Err(format!("{n} failed"))
                    } else {
                        Ok(())
                    }
                }
            })
            .await;
        assert_eq!(r, Err("db failed".to_string()));
        assert_eq!(*ran.lock().unwrap(), vec!["db".to_string()]);
    }

    #[test]
    fn selection_pulls_in_dependencies() {
        let g = graph(&[
            ("web", &["api"]),
            ("api", &["db"]),
            ("db", &[]),
            ("other", &[]),
        ]);
        assert_eq!(
            g.with_dependencies(&["web".into()]),
            vec!["web", "api", "db"]
        );
    }
}
