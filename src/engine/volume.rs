//! A project's named volumes as docker compose manages them on `up`: made
//! before the containers that mount them (`Volume <name> Created`), stamped
//! with their definition's hash, and recreated when that definition changed,
//! once the user approves (data is lost), as docker compose's reconciler does.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context as _, Result};
use indexmap::IndexMap;

use crate::compose::hash::volume_hash;
use crate::compose::model::VolumeConfig;
use crate::compose::Project;
use crate::container::list::{find, Found};
use crate::progress::Progress;
use crate::state::Layout;

/// docker compose's label holding a resource's definition hash (the same
/// key as a container's).
pub use crate::container::record::labels::CONFIG_HASH;

/// How `up` answers docker compose's "Recreate (data will be lost)?" question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Approval {
    /// Ask on the terminal, or read the answer from a piped stdin (none: no).
    #[default]
    Ask,
    /// `-y`/`--yes`: every prompt is answered yes.
    Yes,
}

/// The full name of volume `key`.
pub fn volume_name(project: &Project, key: &str, cfg: &VolumeConfig) -> String {
    if cfg.name.is_empty() {
        format!("{}_{key}", project.name)
    } else {
        cfg.name.clone()
    }
}

/// The labels berth gives volume `key` of `project`: the file's, docker
/// compose's own, and the definition's hash.
pub fn volume_labels(project: &Project, key: &str, cfg: &VolumeConfig) -> IndexMap<String, String> {
    let mut l: IndexMap<String, String> = IndexMap::new();
    l.insert("com.docker.compose.project".into(), project.name.clone());
    l.insert("com.docker.compose.volume".into(), key.into());
    l.extend(cfg.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    l.insert(CONFIG_HASH.into(), volume_hash(cfg));
    l
}

/// The volume keys `selected` services mount (every volume of the file with
/// `all`: the global `--all-resources`), in file order.
fn wanted_keys(project: &Project, selected: &[String], all: bool) -> Vec<String> {
    project
        .volumes
        .keys()
        .filter(|key| {
            all || selected.iter().any(|s| {
                project.services.get(s).is_some_and(|svc| {
                    svc.volumes
                        .iter()
                        .any(|v| v.kind == "volume" && &v.source == *key)
                })
            })
        })
        .cloned()
        .collect()
}

/// Makes the project's volumes that `selected` services mount (all of them with
/// `all`) and recreates, once approved, those whose definition changed; the
/// containers mounting a recreated volume are removed first, so that `up` makes
/// them again on the new volume.
pub fn ensure_volumes(
    layout: &Layout,
    project: &Project,
    selected: &[String],
    all: bool,
    approval: Approval,
    progress: &Progress,
) -> Result<()> {
    let store = layout.volumes();
    for key in wanted_keys(project, selected, all) {
        let cfg = &project.volumes[&key];
        // External volumes must exist, and other drivers are refused, when a
        // container mounts them (engine/mounts.rs).
        if cfg.external || !(cfg.driver.is_empty() || cfg.driver == "local") {
            continue;
        }
        let name = volume_name(project, &key, cfg);
        let labels = volume_labels(project, &key, cfg);
        match store.get(&name)? {
            None => {
                let task = progress.task(&format!("Volume {name}"), "Creating");
                store
                    .ensure(&name, labels)
                    .with_context(|| format!("creating volume {name}"))?;
                task.done("Created");
            }
            Some(info) => {
                match info.labels.get("com.docker.compose.project") {
                    None => {
                        progress.println(&format!(
                            "WARN[0000] volume {name:?} already exists but was not created by Docker Compose. Use `external: true` to use an existing volume"
                        ));
                        continue;
                    }
                    Some(p) if *p != project.name => {
                        progress.println(&format!(
                            "WARN[0000] volume {name:?} already exists but was created for project {p:?} (expected {:?}). Use `external: true` to use an existing volume",
                            project.name
                        ));
                        continue;
                    }
                    Some(_) => {}
                }
                // A volume with no hash (made by a `run`, or by an older berth) is
                // left as it is, as docker compose leaves one.
                let Some(have) = info.labels.get(CONFIG_HASH) else {
                    continue;
                };
                if have == &labels[CONFIG_HASH] {
                    continue;
                }
                let question = format!(
                    "Volume {name:?} exists but doesn't match configuration in compose file. Recreate (data will be lost)?"
                );
                if !confirm(&question, approval) {
                    continue;
                }
                recreate(layout, project, &key, &name, labels, progress)?;
            }
        }
    }
    Ok(())
}

/// docker compose's prompt: on a terminal a yes/no question (default no); from
/// a pipe the question, then one line read as a boolean (nothing read: no).
fn confirm(question: &str, approval: Approval) -> bool {
    if approval == Approval::Yes {
        return true;
    }
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    let mut out = std::io::stdout();
    let _ = if tty {
        write!(out, "? {question} (y/N) ")
    } else {
        write!(out, "{question}")
    };
    let _ = out.flush();
    let mut line = String::new();
    let _ = stdin.lock().read_line(&mut line);
    string_to_bool(&line)
}

/// Go's `strconv.ParseBool`, plus `y`, as docker compose reads an answer.
fn string_to_bool(s: &str) -> bool {
    matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "y" | "1" | "t" | "true"
    )
}

/// Stops and removes the containers mounting volume `key`, then makes the
/// volume anew.
fn recreate(
    layout: &Layout,
    project: &Project,
    key: &str,
    name: &str,
    labels: IndexMap<String, String>,
    progress: &Progress,
) -> Result<()> {
    let users: Vec<Found> = find(&layout.root, Some(&project.name))
        .into_iter()
        .filter(|f| {
            project.services.get(&f.record.service).is_some_and(|svc| {
                svc.volumes
                    .iter()
                    .any(|v| v.kind == "volume" && v.source == key)
            })
        })
        .collect();
    for f in &users {
        let task = progress.task(&format!("Container {}", f.record.name), "Removing");
        super::remove::stop_and_remove(layout, Some(project), f, None, false)?;
        task.done("Removed");
    }
    let store = layout.volumes();
    let task = progress.task(&format!("Volume {name}"), "Removing");
    store
        .remove(name)
        .with_context(|| format!("removing volume {name}"))?;
    task.done("Removed");
    let task = progress.task(&format!("Volume {name}"), "Creating");
    store
        .ensure(name, labels)
        .with_context(|| format!("creating volume {name}"))?;
    task.done("Created");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_docker_compose_reads_them() {
        for yes in ["y", "Y\n", "true", "TRUE", "1", " t "] {
            assert!(string_to_bool(yes), "{yes:?}");
        }
        for no in ["", "\n", "n", "no", "yes", "false", "0", "maybe"] {
            assert!(!string_to_bool(no), "{no:?}");
        }
    }
}
