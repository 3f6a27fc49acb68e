//! Container events without a daemon: whoever acts on a container (the CLI for
//! create, pause, remove; the supervisor for start, kill, die, health) appends an
//! event to its project's journal, and `berth events` follows that journal.

pub mod follow;
pub mod format;
pub mod journal;
pub mod record;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use record::{Action, EventRecord, ExecStep};

use crate::container::ContainerRecord;
use crate::state::Layout;

/// A journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl EventsError {
    fn io(op: &'static str, path: &Path, source: std::io::Error) -> EventsError {
        EventsError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Records that `action` happened to the container `record`. Never fails the
/// action it reports: a journal that cannot be written is only a warning.
pub fn emit(layout: &Layout, record: &ContainerRecord, action: Action) {
    append(
        layout,
        record,
        &EventRecord::container(record, action, SystemTime::now()),
    );
}

/// Records `step` of the exec `exec_id` (running `command`) in the container `record`.
pub fn emit_exec(
    layout: &Layout,
    record: &ContainerRecord,
    step: ExecStep,
    exec_id: &str,
    command: &[String],
) {
    let ev = EventRecord::exec(record, step, exec_id, command, SystemTime::now());
    append(layout, record, &ev);
}

fn append(layout: &Layout, record: &ContainerRecord, ev: &EventRecord) {
    let journal = journal::Journal::new(layout.events_journal(&record.project));
    if let Err(e) = journal.append(ev) {
        tracing::warn!("recording the {} event of {}: {e}", ev.action, record.name);
    }
}

/// [`emit`] for a supervisor, which knows only its container's directory
/// (`<root>/containers/<id>`); the record is read now, so that a container
/// renamed since it started reports its current name.
pub fn emit_for_dir(container_dir: &Path, action: Action) {
    match ContainerRecord::load(container_dir) {
        Ok(record) => emit(&Layout::of_container_dir(container_dir), &record, action),
        Err(e) => tracing::warn!("recording the {} event: {e}", action.name()),
    }
}

/// [`emit_exec`] for a supervisor: its healthcheck probes are execs, and docker
/// reports each one (`exec_create`, `exec_start`, `exec_die`) as it does any exec.
pub fn emit_exec_for_dir(container_dir: &Path, step: ExecStep, exec_id: &str, command: &[String]) {
    match ContainerRecord::load(container_dir) {
        Ok(record) => emit_exec(
            &Layout::of_container_dir(container_dir),
            &record,
            step,
            exec_id,
            command,
        ),
        Err(e) => tracing::warn!("recording a healthcheck exec event: {e}"),
    }
}
