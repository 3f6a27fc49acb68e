//! Where one berth state root keeps things (see DESIGN.md "State on disk").

use std::path::{Path, PathBuf};

use super::container_dir::ContainerDir;
use crate::volume::VolumeStore;

/// The default state root.
pub const DEFAULT_ROOT: &str = "/var/lib/berth";
/// The default run directory (namespaces, network state, what containers keep
/// while they run: gone with a reboot).
pub const DEFAULT_RUN: &str = "/run/berth";

/// The directories of one state root.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Images, layers, containers, volumes.
    pub root: PathBuf,
    /// Network namespaces, network state, and containers' run state.
    pub run: PathBuf,
}

impl Layout {
    /// The layout for `root`; the run directory defaults to `/run/berth` for the
    /// default root and to `<root>/run` for any other, so that a test's root owns
    /// everything it makes.
    pub fn new(root: &Path, run: Option<&Path>) -> Layout {
        let run = match run {
            Some(r) => {
                remember(root, r);
                r.to_path_buf()
            }
            None => run_dir_of(root),
        };
        Layout {
            root: root.to_path_buf(),
            run,
        }
    }

    /// The layout a container directory (`<root>/containers/<id>`) belongs to, for
    /// code that is handed only that directory (a supervisor, an exec): the run
    /// dir this process was given for that root, else the default one.
    pub fn of_container_dir(dir: &Path) -> Layout {
        let root = dir
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("/"));
        Layout {
            root: root.to_path_buf(),
            run: run_dir_of(root),
        }
    }

    /// `<root>/containers`.
    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }

    /// `<root>/containers/<id>`.
    pub fn container(&self, id: &str) -> PathBuf {
        self.containers().join(id)
    }

    /// The files of container `id`: the one owner of their names.
    pub fn container_dir(&self, id: &str) -> ContainerDir {
        ContainerDir::new(self.container(id))
    }

    /// `<run>/containers`: what containers keep only while they run (tmpfs).
    pub fn run_containers(&self) -> PathBuf {
        self.run.join("containers")
    }

    /// The named volumes.
    pub fn volumes(&self) -> VolumeStore {
        VolumeStore::new(&self.root)
    }

    /// berth-netns's state: networks, IPAM, DNS records.
    pub fn net_state_dir(&self) -> PathBuf {
        self.run.join("net")
    }

    /// `<root>/networks`: which project made which network.
    pub fn networks(&self) -> PathBuf {
        self.root.join("networks")
    }

    /// `<root>/events`: one event journal per project.
    pub fn events(&self) -> PathBuf {
        self.root.join("events")
    }

    /// `<root>/events/<project>.jsonl`: the project's container events.
    pub fn events_journal(&self, project: &str) -> PathBuf {
        self.events().join(format!("{project}.jsonl"))
    }
}

/// The run dirs this process was given, by root. Code handed only a container's
/// directory (`ContainerDir::new`, a supervisor, an event) finds the run side
/// here, so a custom `--run-dir` is never silently dropped.
static RUN_DIRS: std::sync::Mutex<Vec<(PathBuf, PathBuf)>> = std::sync::Mutex::new(Vec::new());

fn remember(root: &Path, run: &Path) {
    let mut known = RUN_DIRS.lock().unwrap_or_else(|e| e.into_inner());
    match known.iter_mut().find(|(r, _)| r == root) {
        Some(entry) if entry.1 != run => entry.1 = run.to_path_buf(),
        Some(_) => {}
        None => known.push((root.to_path_buf(), run.to_path_buf())),
    }
}

/// The run dir of `root`: the one a [`Layout`] of this process gave it, else
/// the default rule of [`Layout::new`].
pub fn run_dir_of(root: &Path) -> PathBuf {
    let known = RUN_DIRS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, run)) = known.iter().find(|(r, _)| r == root) {
        return run.clone();
    }
    drop(known);
    // The user's default root (root's, or a rootless user's) has the default
    // run dir; see rootless::paths.
    let env = crate::rootless::paths::Env::current();
    let run = if root == crate::rootless::paths::default_root(&env) {
        crate::rootless::paths::default_run(&env)
    } else {
        root.join("run")
    };
    // Worked out once per root: every container directory of a command asks
    // (a scan of N containers asked N times, each reading /proc/self/uid_map).
    remember(root, &run);
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dir_follows_the_root() {
        assert_eq!(
            Layout::new(Path::new(DEFAULT_ROOT), None).run,
            PathBuf::from(DEFAULT_RUN)
        );
        assert_eq!(
            Layout::new(Path::new("/tmp/t"), None).run,
            PathBuf::from("/tmp/t/run")
        );
        assert_eq!(
            Layout::new(Path::new("/tmp/t"), Some(Path::new("/r"))).run,
            PathBuf::from("/r")
        );
    }

    #[test]
    fn a_container_dir_finds_the_run_dir_its_root_was_given() {
        let l = Layout::new(
            Path::new("/tmp/berth-layout-t"),
            Some(Path::new("/elsewhere")),
        );
        let of = Layout::of_container_dir(&l.container("abc"));
        assert_eq!(of.run, PathBuf::from("/elsewhere"));
        assert_eq!(
            run_dir_of(Path::new("/tmp/berth-layout-other")),
            PathBuf::from("/tmp/berth-layout-other/run")
        );
    }
}
