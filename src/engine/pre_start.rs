//! `pre_start` hooks: commands run, before a service starts, each in a
//! container of its own that shares the service container's volumes and
//! networks, as docker compose (pkg/compose/pre_start.go) runs them.
//!
//! The hooks run in declaration order; the first that fails stops the sequence
//! and the service, which stays created. They run once per service, not per
//! replica, and only when none of its replicas is running: on the first `up`,
//! on a recreate (config change, `--force-recreate`), and on an `up` after a
//! `stop`, but not on an unchanged `up` nor when scaling up a running service.

use std::cell::Cell;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::time::Duration;

use anyhow::{bail, Result};

use super::create::{create, CreateRequest};
use super::images::{ensure_image, PullOverride};
use super::remove::discard;
use super::run::remove_oneoff;
use super::start::{start, start_service};
use crate::compose::model::service::ServiceHook;
use crate::compose::model::ServiceConfig;
use crate::compose::Project;
use crate::container::list::{find, observed_status, Found};
use crate::container::record::new_id;
use crate::container::ContainerState;
use crate::image::{RuntimeImage, Store};
use crate::progress::Progress;
use crate::state::Layout;
use crate::supervise::logfile::Entry;

/// The label docker compose puts on hook containers, and its value here.
const HOOK_LABEL: &str = "com.docker.compose.hook";
const HOOK_TYPE: &str = "pre_start";
/// How much of a failed hook's output its error quotes.
const TAIL_LINES: usize = 10;

/// A hook that did not succeed, worded as docker compose words it.
#[derive(Debug, thiserror::Error)]
pub enum PreStartError {
    /// `per_replica: true`, which docker compose does not support yet either.
    #[error("service {service:?} pre_start[{index}]: per_replica is not yet supported; remove per_replica or set it to false")]
    PerReplica {
        /// The service.
        service: String,
        /// The hook's index.
        index: usize,
    },
    /// The hook's command exited non-zero.
    #[error("service {service:?} pre_start[{index}] exited with code {code}{tail} (hook container {id} retained for inspection)")]
    Exited {
        /// The service.
        service: String,
        /// The hook's index.
        index: usize,
        /// Its exit code.
        code: i32,
        /// `: ` and the end of its output (stderr preferred), or nothing.
        tail: String,
        /// The hook container's short id.
        id: String,
    },
}

/// Runs a service's `pre_start` hooks before the first of its containers that
/// `up` starts, when they are due.
pub struct PreStart<'a> {
    /// Still to run before the next start.
    pending: Cell<bool>,
    layout: &'a Layout,
    project: &'a Project,
    svc: &'a ServiceConfig,
    image: &'a RuntimeImage,
    progress: &'a Progress,
}

impl<'a> PreStart<'a> {
    /// The hooks of `svc`, due when `due` (no replica of the service will be
    /// left running when its containers start).
    pub fn new(
        layout: &'a Layout,
        project: &'a Project,
        svc: &'a ServiceConfig,
        image: &'a RuntimeImage,
        progress: &'a Progress,
        due: bool,
    ) -> Self {
        PreStart {
            pending: Cell::new(due && !svc.pre_start.is_empty()),
            layout,
            project,
            svc,
            image,
            progress,
        }
    }

    /// Starts container `id`, running the hooks first if they are still due.
    pub fn start(&self, id: &str) -> Result<()> {
        if self.pending.replace(false) {
            self.run(id)?;
        }
        start_service(self.layout, id, self.svc)
    }

    /// Runs every hook against the created container `id`, in order.
    fn run(&self, id: &str) -> Result<()> {
        let svc = self.svc;
        // Checked up front, so that an unsupported hook runs nothing at all.
        if let Some(index) = svc.pre_start.iter().position(|h| h.per_replica) {
            bail!(PreStartError::PerReplica {
                service: svc.name.clone(),
                index
            });
        }
        // Containers kept by an earlier failure would pile up otherwise.
        for old in hook_containers(self.layout, &self.project.name, &svc.name) {
            if let Err(e) = remove_oneoff(self.layout, &old) {
                tracing::warn!(
                    "removing stale pre_start container {}: {e:#}",
                    old.record.name
                );
            }
        }
        let target = crate::container::ContainerRecord::load(&self.layout.container(id))?;
        for (index, hook) in svc.pre_start.iter().enumerate() {
            self.run_one(&target.name, index, hook)?;
        }
        Ok(())
    }

    fn run_one(&self, target: &str, index: usize, hook: &ServiceHook) -> Result<()> {
        let hsvc = hook_service(self.svc, target, hook);
        let pulled;
        let image = if hook.image.is_empty() {
            // No image of its own: the service's, built or pulled.
            self.image
        } else {
            let store = Store::open(&self.layout.root)?;
            pulled = ensure_image(&store, self.project, &hsvc, PullOverride::Missing, &|i| {
                self.progress
                    .println(&format!(" {} Pulling {i}", self.svc.name));
                None
            })?;
            &pulled
        };
        let name = format!(
            "{}-{}-{HOOK_TYPE}-{}",
            self.project.name,
            self.svc.name,
            &new_id()[..12]
        );
        let rec = create(&CreateRequest {
            layout: self.layout,
            project: self.project,
            svc: &hsvc,
            number: 1,
            image,
            config_hash: "",
            oneoff: true,
            name: Some(name),
            service_aliases: false,
        })?;
        let dir = self.layout.container(&rec.id);
        if let Err(e) = start(self.layout, &rec.id) {
            let _ = discard(self.layout, &rec.id);
            return Err(e);
        }
        let found = Found {
            status: observed_status(&dir),
            dir,
            record: rec,
        };
        let (code, tail) = wait_exit(&found)?;
        if code != 0 {
            // Kept, as docker compose keeps it: its log and state say why.
            return Err(PreStartError::Exited {
                service: self.svc.name.clone(),
                index,
                code,
                tail: if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {tail}")
                },
                id: found.record.id[..12].to_string(),
            }
            .into());
        }
        remove_oneoff(self.layout, &found)
    }
}

/// The hook's container: the hook's image (or the service's), command, user,
/// directory and privileges; the service's environment under the hook's; the
/// service container's volumes and networks; nothing else of the service.
fn hook_service(svc: &ServiceConfig, target: &str, hook: &ServiceHook) -> ServiceConfig {
    let mut environment = svc.environment.clone();
    environment.extend(hook.environment.clone());
    let mut labels = std::collections::BTreeMap::new();
    labels.insert(HOOK_LABEL.to_string(), HOOK_TYPE.to_string());
    ServiceConfig {
        name: svc.name.clone(),
        image: if hook.image.is_empty() {
            svc.image.clone()
        } else {
            hook.image.clone()
        },
        command: hook.command.clone(),
        user: hook.user.clone(),
        working_dir: hook.working_dir.clone(),
        privileged: hook.privileged,
        environment,
        labels,
        volumes_from: vec![format!("container:{target}")],
        network_mode: svc.network_mode.clone(),
        // Attached to the same networks, without the service's fixed addresses
        // or aliases: those belong to its containers.
        networks: svc.networks.keys().map(|k| (k.clone(), None)).collect(),
        ..Default::default()
    }
}

/// The hook containers of `service` in `project`.
fn hook_containers(layout: &Layout, project: &str, service: &str) -> Vec<Found> {
    let prefix = format!("{project}-{service}-{HOOK_TYPE}-");
    find(&layout.root, None)
        .into_iter()
        .filter(|f| {
            f.record.project == project && f.record.oneoff && f.record.name.starts_with(&prefix)
        })
        .collect()
}

/// Waits for the hook container to exit; returns its code and the end of its
/// output (stderr when it wrote any, else stdout).
fn wait_exit(found: &Found) -> Result<(i32, String)> {
    let path = crate::state::ContainerDir::new(&found.dir).log();
    let mut offset = 0u64;
    let mut out: VecDeque<String> = VecDeque::new();
    let mut err: VecDeque<String> = VecDeque::new();
    loop {
        // The state first: output logged before the exit is read after it.
        let st = observed_status(&found.dir);
        let done = matches!(st.state, ContainerState::Exited | ContainerState::Dead);
        if let Ok(mut f) = std::fs::File::open(&path) {
            f.seek(SeekFrom::Start(offset))?;
            let mut r = BufReader::new(f);
            loop {
                let mut line = String::new();
                let n = r.read_line(&mut line)?;
                if n == 0 || !line.ends_with('\n') {
                    break;
                }
                offset += n as u64;
                if let Ok(e) = serde_json::from_str::<Entry>(&line) {
                    let tail = match e.stream {
                        crate::supervise::logfile::Stream::Stdout => &mut out,
                        crate::supervise::logfile::Stream::Stderr => &mut err,
                    };
                    tail.push_back(e.log.trim_end().to_string());
                    if tail.len() > TAIL_LINES {
                        tail.pop_front();
                    }
                }
            }
        }
        if done {
            if st.state == ContainerState::Dead {
                bail!(
                    "pre_start container {} failed: {}",
                    found.record.name,
                    st.error.unwrap_or_default()
                );
            }
            let tail = if err.is_empty() { out } else { err };
            let tail: Vec<String> = tail.into_iter().collect();
            return Ok((st.exit_code.unwrap_or(0), tail.join("\n")));
        }
        // The supervisor records the exit in the container's state; the same
        // short poll `run` uses to follow a one-off.
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(yaml: &str) -> ServiceHook {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn hook_container_takes_the_hook_over_the_service() {
        let mut svc = ServiceConfig {
            name: "sample".into(),
            image: "app:1".into(),
            user: "root".into(),
            command: Some(vec!["serve".into()]),
            ..Default::default()
        };
        svc.environment.insert("A".into(), Some("svc".into()));
        svc.environment.insert("B".into(), Some("svc".into()));
        svc.networks.insert("front".into(), None);
        let h = hook("command: [sh, -c, 'exit 0']\nenvironment: {B: hook}\nworking_dir: /w");
        let c = hook_service(&svc, "p-sample-1", &h);
        assert_eq!(c.image, "app:1");
        assert_eq!(c.command.unwrap(), ["sh", "-c", "exit 0"]);
        assert_eq!(c.user, "");
        assert_eq!(c.working_dir, "/w");
        assert_eq!(c.environment["A"].as_deref(), Some("svc"));
        assert_eq!(c.environment["B"].as_deref(), Some("hook"));
        assert_eq!(c.volumes_from, ["container:p-sample-1"]);
        assert!(c.networks.contains_key("front"));
        assert_eq!(c.labels[HOOK_LABEL], "pre_start");
        let h = hook("image: tools:2\ncommand: [true]");
        assert_eq!(hook_service(&svc, "x", &h).image, "tools:2");
    }

    #[test]
    fn failures_read_as_docker_compose_words_them() {
        let e = PreStartError::Exited {
            service: "sample".into(),
            index: 1,
            code: 17,
            tail: String::new(),
            id: "0123456789ab".into(),
        };
        assert_eq!(
            e.to_string(),
            "service \"sample\" pre_start[1] exited with code 17 (hook container 0123456789ab retained for inspection)"
        );
        let e = PreStartError::PerReplica {
            service: "sample".into(),
            index: 0,
        };
        assert!(e
            .to_string()
            .starts_with("service \"sample\" pre_start[0]: per_replica"));
    }
}
