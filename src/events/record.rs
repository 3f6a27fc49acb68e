//! One journal line: a container event as berth records it, before `events`
//! filters and formats it the way docker compose does.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::container::record::labels;
use crate::container::{ContainerRecord, Health};

/// What happened to a container, with docker's action names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The container was made.
    Create,
    /// Its process started (first start, `start`, or a restart by policy).
    Start,
    /// A signal was sent to it.
    Kill {
        /// The signal number.
        signal: i32,
    },
    /// Its process exited.
    Die {
        /// Exit code, or 128 + signal.
        exit_code: i32,
        /// How long the process ran.
        ran_for: Duration,
    },
    /// The kernel's OOM killer ended it (reported before its `die`).
    Oom,
    /// A `stop` (or `down`) finished stopping it.
    Stop,
    /// `restart` started it again.
    Restart,
    /// Its processes were frozen.
    Pause,
    /// Its processes were thawed.
    Unpause,
    /// The container was removed.
    Destroy,
    /// Its healthcheck's verdict changed.
    HealthStatus(Health),
    /// A client attached to its output (`attach`, attached `up`/`start`).
    Attach,
    /// An attached client went away while the container ran on.
    Detach,
}

impl Action {
    /// Docker's action string (`die`, `health_status: healthy`, …).
    pub fn name(&self) -> String {
        match self {
            Action::Create => "create".into(),
            Action::Start => "start".into(),
            Action::Kill { .. } => "kill".into(),
            Action::Die { .. } => "die".into(),
            Action::Oom => "oom".into(),
            Action::Stop => "stop".into(),
            Action::Restart => "restart".into(),
            Action::Pause => "pause".into(),
            Action::Unpause => "unpause".into(),
            Action::Destroy => "destroy".into(),
            Action::Attach => "attach".into(),
            Action::Detach => "detach".into(),
            Action::HealthStatus(h) => format!(
                "health_status: {}",
                match h {
                    Health::Starting => "starting",
                    Health::Healthy => "healthy",
                    Health::Unhealthy => "unhealthy",
                }
            ),
        }
    }

    /// The attributes docker adds for this action on top of labels, image and name.
    fn attributes(&self) -> Vec<(&'static str, String)> {
        match self {
            Action::Kill { signal } => vec![("signal", signal.to_string())],
            Action::Die { exit_code, ran_for } => vec![
                ("exitCode", exit_code.to_string()),
                ("execDuration", ran_for.as_secs().to_string()),
            ],
            _ => vec![],
        }
    }
}

/// One event as the journal stores it: docker's event message, flattened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// When it happened, nanoseconds since the Unix epoch.
    #[serde(rename = "timeNano")]
    pub time_nano: u64,
    /// The object type; always `container` for now.
    #[serde(rename = "type")]
    pub kind: String,
    /// Docker's action string.
    pub action: String,
    /// The container id.
    pub id: String,
    /// The container's labels, `image`, `name` and the action's own attributes.
    pub attributes: BTreeMap<String, String>,
}

/// A step of an `exec` in a container, as docker reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecStep {
    /// The exec was set up (`exec_create: CMD`).
    Create,
    /// Its process started (`exec_start: CMD`).
    Start,
    /// Its process ended (`exec_die`, with `exitCode`).
    Die {
        /// Exit code, or 128 + signal.
        exit_code: i32,
    },
}

impl EventRecord {
    /// The event `action` of the container `record`, at `now`.
    pub fn container(record: &ContainerRecord, action: Action, now: SystemTime) -> EventRecord {
        EventRecord::of(record, action.name(), action.attributes(), now)
    }

    /// docker's event for `step` of the exec `exec_id` running `command` in `record`.
    pub fn exec(
        record: &ContainerRecord,
        step: ExecStep,
        exec_id: &str,
        command: &[String],
        now: SystemTime,
    ) -> EventRecord {
        let mut attrs = vec![("execID", exec_id.to_string())];
        let action = match step {
            ExecStep::Create => format!("exec_create: {}", command.join(" ")),
            ExecStep::Start => format!("exec_start: {}", command.join(" ")),
            ExecStep::Die { exit_code } => {
                attrs.push(("exitCode", exit_code.to_string()));
                "exec_die".to_string()
            }
        };
        EventRecord::of(record, action, attrs, now)
    }

    fn of(
        record: &ContainerRecord,
        action: String,
        extra: Vec<(&'static str, String)>,
        now: SystemTime,
    ) -> EventRecord {
        // Of compose's own labels only those `events` filters on are kept: the
        // rest (file paths, hashes) would triple every line for nothing.
        let kept = [labels::PROJECT, labels::SERVICE, labels::ONEOFF];
        let mut attributes: BTreeMap<String, String> = record
            .labels
            .iter()
            .filter(|(k, _)| !k.starts_with("com.docker.compose.") || kept.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        attributes.insert("image".into(), record.image.clone());
        attributes.insert("name".into(), record.name.clone());
        for (k, v) in extra {
            attributes.insert(k.into(), v);
        }
        EventRecord {
            time_nano: now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
            kind: "container".into(),
            action,
            id: record.id.clone(),
            attributes,
        }
    }

    /// When it happened.
    pub fn time(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(self.time_nano)
    }

    /// The journal line, newline included: written with one `write`.
    pub fn to_line(&self) -> Vec<u8> {
        // Serializing a struct of strings and maps cannot fail.
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }

    /// Reads one journal line (without its newline).
    pub fn parse(line: &[u8]) -> Result<EventRecord, serde_json::Error> {
        serde_json::from_slice(line)
    }

    /// The attribute `key`, if set.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn record(service: &str) -> ContainerRecord {
        ContainerRecord {
            id: "abc123".into(),
            name: format!("p-{service}-1"),
            project: "p".into(),
            service: service.into(),
            number: 1,
            oneoff: false,
            image: "busybox:latest".into(),
            image_id: "sha256:00".into(),
            command: vec![],
            created: String::new(),
            labels: [
                (labels::PROJECT.to_string(), "p".to_string()),
                (labels::SERVICE.to_string(), service.to_string()),
                (labels::ONEOFF.to_string(), "False".to_string()),
                ("org.example.team".to_string(), "core".to_string()),
                (labels::CONFIG_HASH.to_string(), "f00".to_string()),
            ]
            .into_iter()
            .collect(),
            networks: vec![],
            ports: vec![],
        }
    }

    #[test]
    fn actions_carry_docker_names_and_attributes() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        let die = EventRecord::container(
            &record("web"),
            Action::Die {
                exit_code: 3,
                ran_for: Duration::from_millis(2500),
            },
            t,
        );
        assert_eq!(die.action, "die");
        assert_eq!(die.attribute("exitCode"), Some("3"));
        assert_eq!(die.attribute("execDuration"), Some("2"));
        assert_eq!(die.attribute("image"), Some("busybox:latest"));
        assert_eq!(die.attribute("name"), Some("p-web-1"));
        assert_eq!(die.attribute("org.example.team"), Some("core"));
        assert_eq!(die.attribute(labels::SERVICE), Some("web"));
        assert_eq!(die.attribute(labels::CONFIG_HASH), None);
        assert_eq!(die.time(), t);
        let kill = EventRecord::container(&record("web"), Action::Kill { signal: 15 }, t);
        assert_eq!(kill.attribute("signal"), Some("15"));
        assert_eq!(
            Action::HealthStatus(Health::Healthy).name(),
            "health_status: healthy"
        );
        assert_eq!(
            Action::HealthStatus(Health::Unhealthy).name(),
            "health_status: unhealthy"
        );
    }

    #[test]
    fn exec_steps_name_the_command_and_carry_the_exec_id() {
        let cmd = vec!["sh".to_string(), "-c".to_string(), "true".to_string()];
        let at = SystemTime::UNIX_EPOCH;
        let ev = EventRecord::exec(&record("web"), ExecStep::Create, "e1", &cmd, at);
        assert_eq!(ev.action, "exec_create: sh -c true");
        assert_eq!(ev.attributes["execID"], "e1");
        let ev = EventRecord::exec(&record("web"), ExecStep::Start, "e1", &cmd, at);
        assert_eq!(ev.action, "exec_start: sh -c true");
        let ev = EventRecord::exec(
            &record("web"),
            ExecStep::Die { exit_code: 3 },
            "e1",
            &cmd,
            at,
        );
        assert_eq!(ev.action, "exec_die");
        assert_eq!(ev.attributes["exitCode"], "3");
        assert_eq!(ev.attributes["name"], "p-web-1");
    }

    #[test]
    fn a_line_is_one_json_object_that_reads_back() {
        let ev = EventRecord::container(&record("web"), Action::Start, SystemTime::now());
        let line = ev.to_line();
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        assert!(line.ends_with(b"\n"));
        assert_eq!(EventRecord::parse(&line[..line.len() - 1]).unwrap(), ev);
        assert!(EventRecord::parse(b"{\"timeNano\":1").is_err());
    }
}
