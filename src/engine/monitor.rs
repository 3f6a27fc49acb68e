//! Attached `up`'s watch over its containers: which ones exited since `up`
//! started them, with what code, read from the supervisors' status files (berth
//! has no event stream; docker compose's monitor reacts to the daemon's `die`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::container::list::{find, Found};
use crate::container::ContainerState;

use super::logs::prefix_name;

/// One container run that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exited {
    /// The container's id.
    pub id: String,
    /// Its name as log lines carry it (`web-1`).
    pub name: String,
    /// Its service.
    pub service: String,
    /// The run's exit code.
    pub exit_code: i32,
    /// Whether its restart policy runs it again.
    pub restarting: bool,
}

/// Watches the (non one-off) containers of some services of a project.
pub struct Monitor {
    root: PathBuf,
    project: String,
    services: Vec<String>,
    since: f64,
    /// Per container: the end of its last run already reported (or older than `since`).
    reported: BTreeMap<String, Option<f64>>,
    /// Containers not yet exited for good.
    live: BTreeSet<String>,
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Monitor {
    /// Watches `services` (empty: all) of `project`; runs that ended before
    /// `since` are history, not events.
    pub fn new(root: &Path, project: &str, services: &[String], since: SystemTime) -> Monitor {
        Monitor {
            root: root.to_path_buf(),
            project: project.to_string(),
            services: services.to_vec(),
            since: secs(since),
            reported: BTreeMap::new(),
            live: BTreeSet::new(),
        }
    }

    /// Looks at the containers now and returns the runs that ended since the last look.
    pub fn poll(&mut self) -> Vec<Exited> {
        let found = find(&self.root, Some(&self.project));
        self.observe(&found)
    }

    /// Whether every watched container has exited for good (or was removed).
    pub fn finished(&self) -> bool {
        self.live.is_empty()
    }

    /// The state-machine half of `poll`, over containers already read.
    pub fn observe(&mut self, found: &[Found]) -> Vec<Exited> {
        let mut events: Vec<(f64, Exited)> = vec![];
        let watched: Vec<&Found> = found
            .iter()
            .filter(|f| {
                !f.record.oneoff
                    && (self.services.is_empty() || self.services.contains(&f.record.service))
            })
            .collect();
        let present: BTreeSet<&str> = watched.iter().map(|f| f.record.id.as_str()).collect();
        self.live.retain(|id| present.contains(id.as_str()));
        for f in watched {
            let id = &f.record.id;
            let st = &f.status;
            let ended = st.finished_at.filter(|t| *t >= self.since);
            let stopped = matches!(st.state, ContainerState::Exited | ContainerState::Dead);
            if !self.reported.contains_key(id) {
                // First sight. A container that stopped before `up` and was not
                // started again will not exit again: nothing to wait for.
                self.reported.insert(id.clone(), None);
                if !stopped || ended.is_some() || st.state == ContainerState::Dead {
                    self.live.insert(id.clone());
                }
            }
            let last = self.reported[id];
            let new_end = ended.is_some() && ended != last;
            // Running again after an end we have not reported: the restart
            // policy restarted it between two looks.
            let restarted = !stopped
                && new_end
                && st
                    .started_at
                    .zip(ended)
                    .is_some_and(|(start, end)| start >= end);
            let final_exit = stopped && self.live.contains(id) && (new_end || ended.is_none());
            if final_exit || restarted {
                let at = ended.unwrap_or(f64::MAX);
                events.push((
                    at,
                    Exited {
                        id: id.clone(),
                        name: prefix_name(f),
                        service: f.record.service.clone(),
                        exit_code: st.exit_code.unwrap_or(-1),
                        restarting: !stopped,
                    },
                ));
                self.reported.insert(id.clone(), ended);
                if stopped {
                    self.live.remove(id);
                }
            }
        }
        // In the order they happened: the first exit is the one that aborts.
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        events.into_iter().map(|(_, e)| e).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::record::ContainerRecord;
    use crate::container::Status;
    use std::time::Duration;

    fn found(
        id: &str,
        service: &str,
        state: ContainerState,
        started: f64,
        ended: Option<f64>,
        code: i32,
    ) -> Found {
        let record = ContainerRecord {
            id: id.to_string(),
            name: format!("p-{service}-1"),
            project: "p".to_string(),
            service: service.to_string(),
            number: 1,
            oneoff: false,
            image: String::new(),
            image_id: String::new(),
            command: vec![],
            created: String::new(),
            labels: Default::default(),
            networks: vec![],
            ports: vec![],
        };
        Found {
            dir: PathBuf::from("/nonexistent"),
            record,
            status: Status {
                state,
                started_at: Some(started),
                finished_at: ended,
                exit_code: ended.map(|_| code),
                ..Status::default()
            },
        }
    }

    fn monitor(services: &[&str]) -> Monitor {
        let svcs: Vec<String> = services.iter().map(|s| s.to_string()).collect();
        Monitor::new(
            Path::new("/nonexistent"),
            "p",
            &svcs,
            SystemTime::UNIX_EPOCH + Duration::from_secs(100),
        )
    }

    #[test]
    fn an_exit_is_reported_once_and_ends_the_watch() {
        let mut m = monitor(&[]);
        let running = found("a", "web", ContainerState::Running, 101.0, None, 0);
        assert!(m.observe(std::slice::from_ref(&running)).is_empty());
        assert!(!m.finished());
        let exited = found("a", "web", ContainerState::Exited, 101.0, Some(102.0), 3);
        let ev = m.observe(std::slice::from_ref(&exited));
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].name.as_str(), ev[0].exit_code), ("web-1", 3));
        assert!(!ev[0].restarting);
        assert!(m.finished());
        assert!(m.observe(&[exited]).is_empty());
    }

    #[test]
    fn a_job_that_ended_before_the_first_look_is_reported() {
        let mut m = monitor(&[]);
        let ev = m.observe(&[found(
            "a",
            "job",
            ContainerState::Exited,
            101.0,
            Some(101.5),
            0,
        )]);
        assert_eq!(ev.len(), 1);
        assert!(m.finished());
    }

    #[test]
    fn history_from_before_up_is_not_an_event() {
        let mut m = monitor(&[]);
        let ev = m.observe(&[found(
            "a",
            "old",
            ContainerState::Exited,
            10.0,
            Some(20.0),
            1,
        )]);
        assert!(ev.is_empty());
        assert!(m.finished());
    }

    #[test]
    fn a_restart_between_two_looks_is_an_exit_that_restarts() {
        let mut m = monitor(&[]);
        m.observe(&[found("a", "web", ContainerState::Running, 101.0, None, 0)]);
        let ev = m.observe(&[found(
            "a",
            "web",
            ContainerState::Running,
            103.0,
            Some(102.0),
            1,
        )]);
        assert_eq!(ev.len(), 1);
        assert!(ev[0].restarting);
        assert!(!m.finished());
        assert!(m
            .observe(&[found(
                "a",
                "web",
                ContainerState::Running,
                103.0,
                Some(102.0),
                1
            )])
            .is_empty());
    }

    #[test]
    fn only_watched_services_count_and_removed_containers_leave() {
        let mut m = monitor(&["web"]);
        let ev = m.observe(&[
            found("a", "web", ContainerState::Running, 101.0, None, 0),
            found("b", "db", ContainerState::Exited, 101.0, Some(102.0), 0),
        ]);
        assert!(ev.is_empty());
        assert!(!m.finished());
        assert!(m.observe(&[]).is_empty());
        assert!(m.finished());
    }
}
