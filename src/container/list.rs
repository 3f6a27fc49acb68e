//! Finding containers in the state root: by project, by service, for `ps` and `ls`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::record::labels;
use super::{ContainerRecord, Status};
use crate::state::ContainerDir;

/// A container found on disk: where it lives, what it is, how it is.
#[derive(Debug, Clone)]
pub struct Found {
    /// `<root>/containers/<id>`.
    pub dir: PathBuf,
    /// Its record.
    pub record: ContainerRecord,
    /// Its status, corrected for a supervisor that is gone.
    pub status: Status,
}

/// The containers directory of a state root.
pub fn containers_dir(root: &Path) -> PathBuf {
    root.join("containers")
}

/// Every container under `root` (of `project` if given), ordered by service and
/// number; directories without a record (a half-made container) are skipped.
pub fn find(root: &Path, project: Option<&str>) -> Vec<Found> {
    let Ok(entries) = std::fs::read_dir(containers_dir(root)) else {
        return vec![];
    };
    let mut out: Vec<Found> = entries
        .flatten()
        .filter_map(|e| {
            // `.new-…` and `.del-…` are containers being made or taken away.
            if e.file_name().to_string_lossy().starts_with('.') {
                return None;
            }
            let dir = e.path();
            // Located once: each lookup of a container's files costs a stat.
            let files = ContainerDir::new(&dir);
            let record = ContainerRecord::read(files.record()).ok()?;
            if project.is_some_and(|p| p != record.project) {
                return None;
            }
            let status = super::observe::observe_files(&files).status;
            Some(Found {
                dir,
                record,
                status,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.record.service, a.record.number, &a.record.name).cmp(&(
            &b.record.service,
            b.record.number,
            &b.record.name,
        ))
    });
    out
}

/// A container's status as [`super::observe`] finds it: one whose supervisor
/// died while it claimed to run is reported as it really is.
pub fn observed_status(dir: &Path) -> Status {
    super::observe::observe(dir).status
}

/// The named volumes a container mounts (`volumes.json`, written at create).
pub fn container_volumes(dir: &Path) -> Vec<String> {
    ContainerDir::new(dir).read_volumes()
}

/// One line of `ls`: a project and how its containers are.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectSummary {
    /// The project name.
    pub name: String,
    /// `running(2), exited(1)`.
    pub status: String,
    /// The compose files, comma separated.
    pub config_files: String,
}

/// Summarises every project under `root`, as `ls` shows them; with `all`
/// false only projects with a running container.
pub fn projects(root: &Path, all: bool) -> Vec<ProjectSummary> {
    let mut by_project: BTreeMap<String, (BTreeMap<&'static str, usize>, String)> = BTreeMap::new();
    for f in find(root, None) {
        let entry = by_project.entry(f.record.project.clone()).or_default();
        *entry.0.entry(f.status.state.as_str()).or_default() += 1;
        if entry.1.is_empty() {
            if let Some(files) = f.record.labels.get(labels::CONFIG_FILES) {
                entry.1 = files.clone();
            }
        }
    }
    by_project
        .into_iter()
        .filter(|(_, (states, _))| all || states.contains_key("running"))
        .map(|(name, (states, files))| ProjectSummary {
            name,
            status: states
                .iter()
                .map(|(s, n)| format!("{s}({n})"))
                .collect::<Vec<_>>()
                .join(", "),
            config_files: files,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::record::{default_name, new_id};
    use super::super::ContainerState;
    use super::*;
    use indexmap::IndexMap;

    /// A stand-in supervisor: a live process carrying the container id in its
    /// command line, as a real one does.
    struct FakeSupervisor(std::process::Child);

    impl Drop for FakeSupervisor {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn make(
        root: &Path,
        project: &str,
        service: &str,
        n: u32,
        state: ContainerState,
    ) -> FakeSupervisor {
        let id = new_id();
        let sup = std::process::Command::new("sh")
            .args(["-c", "sleep 60", &id])
            .spawn()
            .unwrap();
        let dir = containers_dir(root).join(&id);
        let mut labels = IndexMap::new();
        labels.insert(
            labels::CONFIG_FILES.to_string(),
            "/p/compose.yaml".to_string(),
        );
        ContainerRecord {
            id,
            name: default_name(project, service, n),
            project: project.into(),
            service: service.into(),
            number: n,
            oneoff: false,
            image: "i".into(),
            image_id: "sha256:0".into(),
            command: vec![],
            created: "2026-01-01T00:00:00Z".into(),
            labels,
            networks: vec![],
            ports: vec![],
        }
        .save(&dir)
        .unwrap();
        Status {
            state,
            supervisor_pid: Some(sup.id()),
            ..Status::default()
        }
        .save(&dir)
        .unwrap();
        FakeSupervisor(sup)
    }

    #[test]
    fn finds_by_project_in_service_order_and_summarises() {
        let root = tempfile::tempdir().unwrap();
        let _sups = [
            make(root.path(), "a", "web", 2, ContainerState::Running),
            make(root.path(), "a", "web", 1, ContainerState::Running),
            make(root.path(), "a", "db", 1, ContainerState::Exited),
            make(root.path(), "b", "job", 1, ContainerState::Exited),
        ];
        std::fs::create_dir_all(containers_dir(root.path()).join("half-made")).unwrap();
        let names: Vec<_> = find(root.path(), Some("a"))
            .into_iter()
            .map(|f| f.record.name)
            .collect();
        assert_eq!(names, vec!["a-db-1", "a-web-1", "a-web-2"]);
        let ls = projects(root.path(), false);
        assert_eq!(ls.len(), 1);
        assert_eq!(ls[0].status, "exited(1), running(2)");
        assert_eq!(ls[0].config_files, "/p/compose.yaml");
        assert_eq!(projects(root.path(), true).len(), 2);
    }

    #[test]
    fn a_dead_supervisor_means_exited() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("c");
        Status {
            state: ContainerState::Running,
            supervisor_pid: Some(u32::MAX - 1),
            ..Status::default()
        }
        .save(&dir)
        .unwrap();
        assert_eq!(observed_status(&dir).state, ContainerState::Exited);
    }
}
