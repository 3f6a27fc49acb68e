//! The container's cgroups: one directory per hierarchy under a `berth` parent
//! (`<mount>/berth/<id>`), limits written per controller wherever that controller lives.

pub mod detect;
pub mod devices;
pub mod v1;
pub mod v2;

use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub use detect::{hierarchies, Hierarchy};

use crate::error::{Error, Result, WrapIo};
use crate::rootfs::CgroupMount;
use crate::syscall::raw::write_file;

/// One of the container's cgroup directories.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CgroupDir {
    /// 1 or 2.
    pub version: u8,
    /// The directory on the host.
    pub path: PathBuf,
    /// Controllers of its hierarchy.
    pub controllers: Vec<String>,
}

/// All of a container's cgroup directories.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cgroups {
    /// One per hierarchy.
    pub dirs: Vec<CgroupDir>,
}

/// Resource usage read from the cgroups.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stats {
    /// CPU time used, nanoseconds.
    pub cpu_usage_ns: u64,
    /// Memory in use, bytes.
    pub memory_usage: u64,
    /// Memory limit, bytes (None = unlimited).
    pub memory_limit: Option<u64>,
    /// Processes in the container.
    pub pids_current: u64,
    /// pids limit (None = unlimited).
    pub pids_limit: Option<u64>,
    /// Bytes read from block devices.
    pub io_read_bytes: u64,
    /// Bytes written to block devices.
    pub io_write_bytes: u64,
    /// OOM kills so far.
    pub oom_kills: u64,
}

/// How the container's cgroup hierarchies appear inside it.
pub fn container_mounts(h: &[Hierarchy]) -> Vec<CgroupMount> {
    if let [only] = h {
        if only.version == 2 {
            return vec![CgroupMount {
                subdir: String::new(),
                fstype: "cgroup2".into(),
                options: String::new(),
            }];
        }
    }
    h.iter()
        .map(|h| CgroupMount {
            subdir: h
                .mount
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            fstype: if h.version == 2 {
                "cgroup2".into()
            } else {
                "cgroup".into()
            },
            options: if h.version == 2 {
                String::new()
            } else {
                h.controllers.join(",")
            },
        })
        .collect()
}

/// The cgroup path (relative to each hierarchy root) for a container.
pub fn relative_path(spec_path: Option<&Path>, id: &str) -> PathBuf {
    match spec_path {
        Some(p) if p.is_absolute() => p.strip_prefix("/").unwrap_or(p).to_path_buf(),
        // Relative paths live under the `berth` parent (given with or without it).
        Some(p) if p.starts_with("berth") => p.to_path_buf(),
        Some(p) if !p.as_os_str().is_empty() => Path::new("berth").join(p),
        _ => Path::new("berth").join(id),
    }
}

impl Cgroups {
    /// Create the directories in every hierarchy and write the limits.
    pub fn create(h: &[Hierarchy], rel: &Path, res: Option<&LinuxResources>) -> Result<Cgroups> {
        let mut cg = Cgroups::default();
        for hier in h {
            let path = hier.mount.join(rel);
            let created = match hier.version {
                1 => v1::mkdir(&hier.mount, rel, hier.has("cpuset")),
                _ => v2::mkdir(&hier.mount, rel),
            };
            if let Err(e) = created {
                let _ = cg.remove();
                return Err(e);
            }
            cg.dirs.push(CgroupDir {
                version: hier.version,
                path,
                controllers: hier.controllers.clone(),
            });
        }
        // The device list is always written, even when the spec has none: the spec's
        // rules sit between "deny all" and runc's default allow list.
        let mut res = res.cloned().unwrap_or_default();
        let spec_rules = res.devices().clone().unwrap_or_default();
        res.set_devices(Some(devices::effective_rules(&spec_rules)));
        if let Err(e) = cg.apply(&res) {
            let _ = cg.remove();
            return Err(e);
        }
        Ok(cg)
    }

    /// Write the limits of `res`, each to the hierarchy holding its controller.
    pub fn apply(&self, res: &LinuxResources) -> Result<()> {
        for d in &self.dirs {
            match d.version {
                1 => v1::apply(d, res)?,
                _ => v2::apply(d, res)?,
            }
        }
        Ok(())
    }

    /// `cgroup.procs` of every directory (the init process writes its pid there).
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|d| d.path.join("cgroup.procs"))
            .collect()
    }

    /// The cgroup2 directory, for CLONE_INTO_CGROUP.
    pub fn v2_dir(&self) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| d.version == 2)
            .map(|d| d.path.as_path())
    }

    /// The directory whose hierarchy holds `controller` (v1 name or v2 name).
    pub fn dir_for(&self, controller: &str) -> Option<&CgroupDir> {
        self.dirs
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == controller))
            .or_else(|| {
                self.dirs
                    .iter()
                    .find(|d| d.version == 2 && v2::implicit(controller))
            })
    }

    /// Freeze (pause) or thaw every process.
    pub fn freeze(&self, frozen: bool) -> Result<()> {
        if let Some(d) = self
            .dirs
            .iter()
            .find(|d| d.version == 1 && d.controllers.iter().any(|c| c == "freezer"))
        {
            return v1::freeze(&d.path, frozen);
        }
        if let Some(d) = self
            .dirs
            .iter()
            .find(|d| d.version == 2 && d.path.join("cgroup.freeze").exists())
        {
            return v2::freeze(&d.path, frozen);
        }
        Err(Error::Spec("no freezer cgroup on this host".into()))
    }

    /// Whether the freezer says frozen.
    pub fn is_frozen(&self) -> bool {
        for d in &self.dirs {
            if d.version == 1 && d.controllers.iter().any(|c| c == "freezer") {
                return std::fs::read_to_string(d.path.join("freezer.state"))
                    .map(|s| s.trim() == "FROZEN")
                    .unwrap_or(false);
            }
        }
        self.dirs
            .iter()
            .find(|d| d.version == 2)
            .and_then(|d| std::fs::read_to_string(d.path.join("cgroup.freeze")).ok())
            .is_some_and(|s| s.trim() == "1")
    }

    /// Every pid in the container's cgroup.
    pub fn pids(&self) -> Vec<i32> {
        let Some(d) = self.dirs.first() else {
            return Vec::new();
        };
        std::fs::read_to_string(d.path.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Send `sig` to every process of the container. SIGKILL on v2 uses `cgroup.kill`
    /// (atomic, no fork race); elsewhere the cgroup is frozen first so nothing forks
    /// between reading the pid list and signalling it, and a paused container is
    /// thawed after so the signal is delivered (youki container_kill.rs).
    pub fn kill_all(&self, sig: i32) -> Result<()> {
        if sig == libc::SIGKILL {
            if let Some(d) = self
                .dirs
                .iter()
                .find(|d| d.version == 2 && d.path.join("cgroup.kill").exists())
            {
                write_file(&d.path.join("cgroup.kill"), "1")?;
                // A frozen task dies only once thawed (on a hybrid host the freezer may
                // be a v1 hierarchy, which cgroup.kill does not touch).
                if self.is_frozen() {
                    self.freeze(false)?;
                }
                return Ok(());
            }
        }
        let was_frozen = self.is_frozen();
        let froze = self.freeze(true).is_ok();
        for pid in self.pids() {
            unsafe { libc::kill(pid, sig) };
        }
        if froze && !(was_frozen && sig != libc::SIGKILL) {
            self.freeze(false)?;
        }
        Ok(())
    }

    /// Whether the kernel OOM-killed a process in the memory cgroup.
    pub fn oom_kills(&self) -> u64 {
        let Some(d) = self.dir_for("memory") else {
            return 0;
        };
        let (file, key) = if d.version == 1 {
            ("memory.oom_control", "oom_kill")
        } else {
            ("memory.events", "oom_kill")
        };
        keyed(&d.path.join(file), key).unwrap_or(0)
    }

    /// Current resource usage.
    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            oom_kills: self.oom_kills(),
            ..Stats::default()
        };
        for d in &self.dirs {
            match d.version {
                1 => v1::stats(d, &mut s),
                _ => v2::stats(d, &mut s),
            }
        }
        s
    }

    /// Remove every directory (retrying while the last processes finish leaving).
    pub fn remove(&self) -> Result<()> {
        let mut first = None;
        for d in &self.dirs {
            if let Err(e) = rmdir_retry(&d.path) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

fn rmdir_retry(p: &Path) -> Result<()> {
    let mut delay = Duration::from_micros(500);
    for _ in 0..12 {
        match std::fs::remove_dir(p) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(e) => return Err(e).at("rmdir", p),
        }
    }
    std::fs::remove_dir(p).at("rmdir", p)
}

/// Read `key value` lines.
pub(crate) fn keyed(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Read a single number (or "max" → None).
pub(crate) fn number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Write `value` to `dir/file` only if the file exists (controller files vary by kernel).
pub(crate) fn write_if(dir: &Path, file: &str, value: &str) -> Result<bool> {
    let p = dir.join(file);
    if !p.exists() {
        return Ok(false);
    }
    write_file(&p, value)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake cgroup directory under the temp dir, removed when dropped.
    struct FakeDir(PathBuf);

    impl std::ops::Deref for FakeDir {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl AsRef<Path> for FakeDir {
        fn as_ref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for FakeDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn fake(version: u8, controllers: &[&str], files: &[&str]) -> (FakeDir, CgroupDir) {
        let base = std::env::temp_dir().join(format!(
            "berth-cg-test-{}-{version}-{}",
            std::process::id(),
            controllers.join("-")
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        for f in files {
            std::fs::write(base.join(f), "").unwrap();
        }
        let d = CgroupDir {
            version,
            path: base.clone(),
            controllers: controllers.iter().map(|s| s.to_string()).collect(),
        };
        (FakeDir(base), d)
    }

    fn res() -> LinuxResources {
        serde_json::from_value(serde_json::json!({
            "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
            "pids": {"limit": 100},
            "blockIO": {"weight": 500}
        }))
        .unwrap()
    }

    fn read(p: &Path, f: &str) -> String {
        std::fs::read_to_string(p.join(f)).unwrap()
    }

    #[test]
    fn v1_files_per_controller() {
        let (p, d) = fake(
            1,
            &["memory"],
            &[
                "memory.limit_in_bytes",
                "memory.soft_limit_in_bytes",
                "memory.memsw.limit_in_bytes",
            ],
        );
        v1::apply(&d, &res()).unwrap();
        assert_eq!(read(&p, "memory.limit_in_bytes"), "67108864");
        assert_eq!(read(&p, "memory.soft_limit_in_bytes"), "33554432");
        assert_eq!(read(&p, "memory.memsw.limit_in_bytes"), "134217728");
        let (p, d) = fake(
            1,
            &["cpu", "cpuacct"],
            &["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"],
        );
        v1::apply(&d, &res()).unwrap();
        assert_eq!(read(&p, "cpu.cfs_quota_us"), "50000");
        assert_eq!(read(&p, "cpu.shares"), "512");
        let (p, d) = fake(1, &["pids"], &["pids.max"]);
        v1::apply(&d, &res()).unwrap();
        assert_eq!(read(&p, "pids.max"), "100");
    }

    #[test]
    fn v2_files_in_one_dir() {
        let files = [
            "memory.max",
            "memory.low",
            "memory.swap.max",
            "cpu.weight",
            "cpu.max",
            "cpuset.cpus",
            "pids.max",
            "io.weight",
        ];
        let (p, d) = fake(2, &["memory", "cpu", "cpuset", "pids", "io"], &files);
        v2::apply(&d, &res()).unwrap();
        assert_eq!(read(&p, "memory.max"), "67108864");
        assert_eq!(read(&p, "memory.low"), "33554432");
        assert_eq!(read(&p, "memory.swap.max"), "67108864");
        assert_eq!(read(&p, "cpu.weight"), "20");
        assert_eq!(read(&p, "cpu.max"), "50000 100000");
        assert_eq!(read(&p, "cpuset.cpus"), "0");
        assert_eq!(read(&p, "pids.max"), "100");
        assert_eq!(read(&p, "io.weight"), "4950");
        let _ = std::fs::remove_dir_all(p);
    }

    #[test]
    fn pure_v2_mounts_cgroup2_alone() {
        let h = vec![Hierarchy {
            version: 2,
            mount: "/sys/fs/cgroup".into(),
            controllers: vec!["memory".into()],
        }];
        let m = container_mounts(&h);
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m[0].subdir.as_str(), m[0].fstype.as_str()),
            ("", "cgroup2")
        );
        assert_eq!(relative_path(None, "abc"), Path::new("berth/abc"));
        assert_eq!(
            relative_path(Some(Path::new("/custom/x")), "abc"),
            Path::new("custom/x")
        );
    }
}
