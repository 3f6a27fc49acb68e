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

/// How the container's cgroup hierarchies appear inside it; `rel` is its cgroup path
/// under each hierarchy's root.
pub fn container_mounts(h: &[Hierarchy], rel: &Path) -> Vec<CgroupMount> {
    if let [only] = h {
        if only.version == 2 {
            return vec![CgroupMount {
                subdir: String::new(),
                fstype: "cgroup2".into(),
                options: String::new(),
                source: Some(only.mount.join(rel)),
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
            source: Some(h.mount.join(rel)),
        })
        .collect()
}

/// The settings of `linux.resources` some hierarchy wrote, by their config.json key.
#[derive(Debug, Default)]
pub struct Applied(Vec<&'static str>);

impl Applied {
    /// `key` was written.
    pub fn mark(&mut self, key: &'static str) {
        self.0.push(key);
    }

    /// Every requested setting was written somewhere, or an error naming the first
    /// that was not and the controller it needs.
    pub fn check(&self, res: &LinuxResources) -> Result<()> {
        for (key, controller) in requested(res) {
            if !self.0.contains(&key) {
                return Err(Error::Spec(format!(
                    "linux.resources.{key}: this host has no cgroup {controller} controller that supports it"
                )));
            }
        }
        Ok(())
    }
}

/// The settings `res` asks for, each with the (v1) controller that applies it.
pub fn requested(res: &LinuxResources) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if let Some(m) = res.memory() {
        if m.limit().is_some() || m.reservation().is_some() {
            out.push(("memory", "memory"));
        }
        if m.kernel().is_some() {
            out.push(("memory.kernel", "memory (kmem)"));
        }
        if m.kernel_tcp().is_some() {
            out.push(("memory.kernelTCP", "memory (kmem.tcp)"));
        }
    }
    if let Some(c) = res.cpu() {
        if c.shares().is_some() || c.quota().is_some() || c.period().is_some() {
            out.push(("cpu", "cpu"));
        }
        if c.cpus().is_some() || c.mems().is_some() {
            out.push(("cpu.cpus", "cpuset"));
        }
        if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
            out.push(("cpu.realtimeRuntime", "cpu (rt)"));
        }
    }
    if res.pids().is_some() {
        out.push(("pids", "pids"));
    }
    if let Some(b) = res.block_io() {
        if b.weight().is_some() {
            out.push(("blockIO.weight", "blkio/io"));
        }
        if b.leaf_weight().is_some() {
            out.push(("blockIO.leafWeight", "blkio (leaf_weight)"));
        }
        let wd = b.weight_device().as_deref().unwrap_or_default();
        if wd.iter().any(|d| d.weight().is_some()) {
            out.push(("blockIO.weightDevice", "blkio/io"));
        }
        if wd.iter().any(|d| d.leaf_weight().is_some()) {
            out.push((
                "blockIO.weightDevice.leafWeight",
                "blkio (leaf_weight_device)",
            ));
        }
        let throttles = [
            b.throttle_read_bps_device(),
            b.throttle_write_bps_device(),
            b.throttle_read_iops_device(),
            b.throttle_write_iops_device(),
        ];
        if throttles
            .iter()
            .any(|t| t.as_ref().is_some_and(|v| !v.is_empty()))
        {
            out.push(("blockIO.throttle", "blkio/io"));
        }
    }
    if res
        .hugepage_limits()
        .as_ref()
        .is_some_and(|h| !h.is_empty())
    {
        out.push(("hugepageLimits", "hugetlb"));
    }
    if let Some(n) = res.network() {
        if n.class_id().is_some() {
            out.push(("network.classID", "net_cls"));
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            out.push(("network.priorities", "net_prio"));
        }
    }
    out
}

/// Write `value` to `dir/file`, which must exist: a missing file means the kernel
/// cannot apply the setting `key`.
pub(crate) fn write_need(dir: &Path, file: &str, value: &str, key: &str) -> Result<()> {
    let p = dir.join(file);
    if !p.exists() {
        return Err(Error::Spec(format!(
            "linux.resources.{key}: {} does not exist (not supported by this kernel)",
            p.display()
        )));
    }
    write_file(&p, value)
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
        let mut applied = Applied::default();
        let res = with_device_rules(res);
        cg.create_in(h, rel, &res, |_| true, &mut applied)?;
        if let Err(e) = applied.check(&res) {
            let _ = cg.remove();
            return Err(e);
        }
        Ok(cg)
    }

    /// Create the directories (and write the limits) of the hierarchies `pick`
    /// chooses, adding them to `self` and what they applied to `applied`: a create
    /// in two steps (cgroup2 before the init is cloned into it, v1 while it builds
    /// its root filesystem) ends with one `applied.check`. On an error the
    /// directories made here are removed again, the earlier ones kept.
    pub fn create_in(
        &mut self,
        h: &[Hierarchy],
        rel: &Path,
        res: &LinuxResources,
        pick: impl Fn(&Hierarchy) -> bool,
        applied: &mut Applied,
    ) -> Result<()> {
        let mut made = Cgroups::default();
        let r = (|| {
            for hier in h.iter().filter(|h| pick(h)) {
                match hier.version {
                    1 => v1::mkdir(&hier.mount, rel, hier.has("cpuset"))?,
                    _ => v2::mkdir(&hier.mount, rel)?,
                }
                made.dirs.push(CgroupDir {
                    version: hier.version,
                    path: hier.mount.join(rel),
                    controllers: hier.controllers.clone(),
                });
            }
            for d in &made.dirs {
                match d.version {
                    1 => v1::apply(d, res, applied)?,
                    _ => v2::apply(d, res, applied)?,
                }
            }
            Ok(())
        })();
        if let Err(e) = r {
            let _ = made.remove();
            return Err(e);
        }
        self.dirs.extend(made.dirs);
        Ok(())
    }

    /// Write the limits of `res`, each to the hierarchy holding its controller. A
    /// setting no hierarchy could take is an error naming its config.json key, never
    /// silently dropped.
    pub fn apply(&self, res: &LinuxResources) -> Result<()> {
        let mut applied = Applied::default();
        for d in &self.dirs {
            match d.version {
                1 => v1::apply(d, res, &mut applied)?,
                _ => v2::apply(d, res, &mut applied)?,
            }
        }
        applied.check(res)
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

/// `res` with the device list always set, even when the spec has none: the spec's
/// rules sit between "deny all" and runc's default allow list.
pub fn with_device_rules(res: Option<&LinuxResources>) -> LinuxResources {
    let mut res = res.cloned().unwrap_or_default();
    let spec_rules = res.devices().clone().unwrap_or_default();
    res.set_devices(Some(devices::effective_rules(&spec_rules)));
    res
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
        v1::apply(&d, &res(), &mut Applied::default()).unwrap();
        assert_eq!(read(&p, "memory.limit_in_bytes"), "67108864");
        assert_eq!(read(&p, "memory.soft_limit_in_bytes"), "33554432");
        assert_eq!(read(&p, "memory.memsw.limit_in_bytes"), "134217728");
        let (p, d) = fake(
            1,
            &["cpu", "cpuacct"],
            &["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"],
        );
        v1::apply(&d, &res(), &mut Applied::default()).unwrap();
        assert_eq!(read(&p, "cpu.cfs_quota_us"), "50000");
        assert_eq!(read(&p, "cpu.shares"), "512");
        let (p, d) = fake(1, &["pids"], &["pids.max"]);
        v1::apply(&d, &res(), &mut Applied::default()).unwrap();
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
        v2::apply(&d, &res(), &mut Applied::default()).unwrap();
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
    fn v1_blkio_throttle_weight_device_hugetlb_net() {
        let res: LinuxResources = serde_json::from_value(serde_json::json!({
            "blockIO": {
                "weightDevice": [{"major": 8, "minor": 0, "weight": 300}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 102400}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 300}]
            },
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]}
        }))
        .unwrap();
        let (b, bd) = fake(
            1,
            &["blkio"],
            &[
                "blkio.bfq.weight_device",
                "blkio.throttle.read_bps_device",
                "blkio.throttle.write_iops_device",
            ],
        );
        let (h, hd) = fake(1, &["hugetlb"], &["hugetlb.2MB.limit_in_bytes"]);
        let (n, nd) = fake(
            1,
            &["net_cls", "net_prio"],
            &["net_cls.classid", "net_prio.ifpriomap"],
        );
        let mut applied = Applied::default();
        for d in [&bd, &hd, &nd] {
            v1::apply(d, &res, &mut applied).unwrap();
        }
        applied.check(&res).unwrap();
        assert_eq!(read(&b, "blkio.bfq.weight_device"), "8:0 300");
        assert_eq!(read(&b, "blkio.throttle.read_bps_device"), "8:0 102400");
        assert_eq!(read(&b, "blkio.throttle.write_iops_device"), "8:0 300");
        assert_eq!(read(&h, "hugetlb.2MB.limit_in_bytes"), "4194304");
        assert_eq!(read(&n, "net_cls.classid"), "1048577");
        assert_eq!(read(&n, "net_prio.ifpriomap"), "eth0 5");
    }

    #[test]
    fn a_setting_no_hierarchy_takes_is_an_error() {
        let res: LinuxResources = serde_json::from_value(serde_json::json!({
            "network": {"classID": 1},
            "pids": {"limit": 10}
        }))
        .unwrap();
        let (_p, d) = fake(1, &["pids"], &["pids.max"]);
        let mut applied = Applied::default();
        v1::apply(&d, &res, &mut applied).unwrap();
        let e = applied.check(&res).unwrap_err().to_string();
        assert!(e.contains("linux.resources.network.classID"), "{e}");
        assert!(e.contains("net_cls"), "{e}");
        // A controller without the kernel file: the key and the file are named.
        let res: LinuxResources =
            serde_json::from_value(serde_json::json!({"blockIO": {"leafWeight": 10}})).unwrap();
        let (_b, bd) = fake(1, &["blkio", "leaf"], &[]);
        let e = v1::apply(&bd, &res, &mut Applied::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("linux.resources.blockIO.leafWeight"), "{e}");
        assert!(e.contains("blkio.leaf_weight"), "{e}");
    }

    #[test]
    fn v2_io_max_and_hugetlb() {
        let res: LinuxResources = serde_json::from_value(serde_json::json!({
            "blockIO": {"throttleWriteBpsDevice": [{"major": 254, "minor": 0, "rate": 1000}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": -1}]
        }))
        .unwrap();
        let (p, d) = fake(2, &["io", "hugetlb"], &["io.max", "hugetlb.2MB.max"]);
        let mut applied = Applied::default();
        v2::apply(&d, &res, &mut applied).unwrap();
        applied.check(&res).unwrap();
        assert_eq!(read(&p, "io.max"), "254:0 wbps=1000");
        assert_eq!(read(&p, "hugetlb.2MB.max"), "max");
    }

    #[test]
    fn device_rules_end_with_runcs_defaults() {
        let spec: Vec<oci_spec::runtime::LinuxDeviceCgroup> =
            serde_json::from_value(serde_json::json!([{"allow": true, "type": "c", "major": 4, "minor": 1, "access": "rw"}]))
                .unwrap();
        let r = devices::effective_rules(&spec);
        assert!(!r[0].allow() && r[0].access().as_deref() == Some("rwm"));
        assert_eq!(r[1], spec[0]);
        let tail: Vec<String> = r[2..]
            .iter()
            .map(|d| {
                format!(
                    "{:?} {:?}:{:?} {}",
                    d.typ().unwrap(),
                    d.major(),
                    d.minor(),
                    d.access().as_deref().unwrap()
                )
            })
            .collect();
        assert!(tail.contains(&"C None:None m".to_string()), "{tail:?}");
        assert!(tail.contains(&"B None:None m".to_string()), "{tail:?}");
        assert!(
            tail.contains(&"C Some(10):Some(200) rwm".to_string()),
            "{tail:?}"
        );
        assert!(
            tail.contains(&"C Some(136):None rwm".to_string()),
            "{tail:?}"
        );
        assert_eq!(tail.len(), 11);
    }

    #[test]
    fn device_rules_drop_repeats_but_not_across_a_deny() {
        let rules = |v: serde_json::Value| -> Vec<oci_spec::runtime::LinuxDeviceCgroup> {
            serde_json::from_value(v).unwrap()
        };
        let dev_null = serde_json::json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"});
        // berth's own list: deny everything, then the standard devices.
        let spec = rules(serde_json::json!([{"allow": false, "access": "rwm"}, dev_null]));
        let r = devices::effective_rules(&spec);
        assert_eq!(r.iter().filter(|d| !d.allow()).count(), 1, "{r:?}");
        assert_eq!(r.iter().filter(|d| **d == spec[1]).count(), 1, "{r:?}");
        assert_eq!(r.len(), 1 + 11);
        // Denied again after its allow: the default allow that follows counts.
        let deny_null = serde_json::json!({"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"});
        let spec = rules(serde_json::json!([dev_null, deny_null]));
        let r = devices::effective_rules(&spec);
        assert_eq!(r.iter().filter(|d| **d == spec[0]).count(), 2, "{r:?}");
        assert_eq!(r.len(), 1 + 2 + 11);
    }

    #[test]
    fn pure_v2_mounts_cgroup2_alone() {
        let h = vec![Hierarchy {
            version: 2,
            mount: "/sys/fs/cgroup".into(),
            controllers: vec!["memory".into()],
        }];
        let m = container_mounts(&h, Path::new("berth/abc"));
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m[0].subdir.as_str(), m[0].fstype.as_str()),
            ("", "cgroup2")
        );
        assert_eq!(
            m[0].source.as_deref(),
            Some(Path::new("/sys/fs/cgroup/berth/abc"))
        );
        assert_eq!(relative_path(None, "abc"), Path::new("berth/abc"));
        assert_eq!(
            relative_path(Some(Path::new("/custom/x")), "abc"),
            Path::new("custom/x")
        );
    }
}
