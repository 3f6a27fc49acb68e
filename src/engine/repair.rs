//! Repair after a killed berth: half-made and half-removed containers, and
//! containers that lost part of their networking.

use std::collections::HashSet;
use std::fs;
use std::time::Duration;

use berth_netns::Attachment;

use super::network;
use super::remove::discard;
use crate::container::list::Found;
use crate::state::{ContainerDir, Layout};

/// Finds and removes what a killed berth left half-made for `project`:
/// container directories that never got their record.
pub fn repair(layout: &Layout, project: &str) {
    let entries: Vec<fs::DirEntry> = match fs::read_dir(layout.containers()) {
        Ok(entries) => entries.flatten().collect(),
        Err(_) => vec![],
    };
    // What the root holds, from this one listing: a stat per run dir otherwise.
    let in_root: HashSet<std::ffi::OsString> = entries.iter().map(|e| e.file_name()).collect();
    remove_stale_run_dirs(layout, &in_root);
    for e in entries {
        let dir = e.path();
        let file_name = e.file_name().to_string_lossy().into_owned();
        if file_name.starts_with(".del-") {
            // Kernel objects went before the rename; only files are left.
            let _ = fs::remove_dir_all(&dir);
            continue;
        }
        if file_name.starts_with(".new-") {
            // `.new-<project>-<64 hex id>`: the project is what precedes the id.
            let mine = file_name
                .strip_prefix(".new-")
                .and_then(|rest| rest.len().checked_sub(65).map(|n| &rest[..n]))
                .is_some_and(|p| p == project);
            // Staging dirs hold nothing but the claim; another project's may be
            // in the middle of its rename, so only old ones go.
            if mine || older_than(&e, STAGING_MAX_AGE) {
                let _ = fs::remove_dir_all(&dir);
            }
            continue;
        }
        let files = ContainerDir::new(&dir);
        if files.record().exists() {
            // An older berth's container moves to this layout on first touch
            // (under its project's lock, which only the owner's command holds;
            // another project's waits for its own command).
            if files.is_old_layout() && owns(&dir, project) {
                if let Err(e) = files.migrate() {
                    tracing::warn!("moving {} to the current layout: {e}", dir.display());
                }
            }
            continue;
        }
        // A directory nobody claimed is one a power loss left: its claim (an
        // attribute of the directory, or a file) was never made durable, as
        // nothing of a container is before its record. Every create claims
        // before the final name appears, so an old one is nobody's work in
        // progress.
        let orphan = || files.claimed_by().is_none() && older_than(&e, STAGING_MAX_AGE);
        if owns(&dir, project) || orphan() {
            let id = e.file_name().to_string_lossy().into_owned();
            tracing::info!("removing half-made container {id}");
            let _ = discard(layout, &id);
        }
    }
}

/// How long another command may take to rename a directory it made into place.
const STAGING_MAX_AGE: Duration = Duration::from_secs(60);

/// Whether the entry was last changed longer than `age` ago.
fn older_than(e: &fs::DirEntry, age: Duration) -> bool {
    e.metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|a| a > age)
}

/// Whether `project` claimed the container directory `dir`.
fn owns(dir: &std::path::Path, project: &str) -> bool {
    ContainerDir::new(dir)
        .claimed_by()
        .is_some_and(|o| o == project)
}

/// Run-side directories whose container is gone (a `rm` killed after the
/// rename): nothing holds them, nothing reads them. One look per command.
/// `in_root`: the names in the root's containers directory, listed before the
/// run side, so a container made meanwhile is in it or not yet on the run side.
fn remove_stale_run_dirs(layout: &Layout, in_root: &HashSet<std::ffi::OsString>) {
    let Ok(entries) = fs::read_dir(layout.run_containers()) else {
        return;
    };
    for e in entries.flatten() {
        let id = e.file_name();
        if in_root.contains(&id) || layout.containers().join(&id).exists() {
            continue;
        }
        // A supervisor still holding its lock is being stopped by someone.
        let lock = e.path().join("supervisor.lock");
        if lock.exists() && !matches!(crate::state::try_lock(&lock), Ok(Some(_))) {
            continue;
        }
        let _ = fs::remove_dir_all(e.path());
    }
}

/// Whether a container lost part of the networking it was made with (a `down`
/// or `rm` killed while taking it apart): its namespace, a network membership,
/// its published-ports table. It cannot be started again, only made anew.
/// `tables`: the nft tables that exist ([`berth_netns::nft::tables`]).
pub fn network_lost(layout: &Layout, found: &Found, tables: &[String]) -> bool {
    let files = ContainerDir::new(&found.dir);
    let atts: Vec<Attachment> = files.read_json(&files.net()).unwrap_or_default();
    if atts.is_empty() && found.record.networks.is_empty() {
        return false;
    }
    // A reboot takes the namespace (and a power loss may take `net.json`,
    // which is not synced: the record names the networks too). A run dir that
    // is no tmpfs keeps the pin's file, but no namespace is mounted on it.
    if atts.is_empty()
        || !berth_netns::namespace::is_nsfs(&network::netns_path(layout, &found.record.id))
    {
        return true;
    }
    let Ok(state) = network::net_state(layout) else {
        return false;
    };
    !atts.iter().all(|a| {
        berth_netns::Network::member_intact(&state, &a.network, &a.owner, &a.host_veth, tables)
    })
}

/// Whether a supervisor holds the container in `dir` (its lock is taken).
pub fn supervisor_running(dir: &std::path::Path) -> bool {
    ContainerDir::new(dir).supervisor_running()
}
