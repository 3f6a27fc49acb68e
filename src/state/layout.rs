//! Where one berth state root keeps things (see DESIGN.md "State on disk").

use std::path::{Path, PathBuf};

use super::container_dir::ContainerDir;
use crate::volume::VolumeStore;

/// The default state root.
pub const DEFAULT_ROOT: &str = "/var/lib/berth";
/// The default run directory (namespaces, network state: gone with a reboot).
pub const DEFAULT_RUN: &str = "/run/berth";

/// The directories of one state root.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Images, layers, containers, volumes.
    pub root: PathBuf,
    /// Network namespaces and network state.
    pub run: PathBuf,
}

impl Layout {
    /// The layout for `root`; the run directory defaults to `/run/berth` for the
    /// default root and to `<root>/run` for any other, so that a test's root owns
    /// everything it makes.
    pub fn new(root: &Path, run: Option<&Path>) -> Layout {
        // The user's default root (root's, or a rootless user's) has the
        // default run dir; see rootless::paths.
        let env = crate::rootless::paths::Env::current();
        let run = match run {
            Some(r) => r.to_path_buf(),
            None if root == crate::rootless::paths::default_root(&env) => {
                crate::rootless::paths::default_run(&env)
            }
            None => root.join("run"),
        };
        Layout {
            root: root.to_path_buf(),
            run,
        }
    }

    /// The layout a container directory (`<root>/containers/<id>`) belongs to, for
    /// code that is handed only that directory (a supervisor, an exec).
    pub fn of_container_dir(dir: &Path) -> Layout {
        let root = dir
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("/"));
        Layout::new(root, None)
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
}
