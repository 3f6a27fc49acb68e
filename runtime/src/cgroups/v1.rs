//! cgroup v1 files.

use std::path::Path;
use std::time::Duration;

use oci_spec::runtime::{LinuxBlockIo, LinuxResources};

use super::{number, write_if, write_need, Applied, CgroupDir, Stats};
use crate::error::{Result, WrapIo};
use crate::syscall::raw::write_file;

/// mkdir `<mount>/<rel>` and its parents; a new cpuset cgroup starts with empty
/// cpus/mems and refuses tasks (ENOSPC) until they are copied from its parent.
pub fn mkdir(mount: &Path, rel: &Path, cpuset: bool) -> Result<()> {
    // Fast path: the `berth` parent exists (and was set up when it was made).
    let leaf = mount.join(rel);
    match std::fs::create_dir(&leaf) {
        Ok(()) if !cpuset => return Ok(()),
        Ok(()) => return copy_cpuset(leaf.parent().unwrap_or(mount), &leaf),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).at("mkdir", &leaf),
    }
    let mut cur = mount.to_path_buf();
    for c in rel.components() {
        let parent = cur.clone();
        cur.push(c);
        match std::fs::create_dir(&cur) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).at("mkdir", &cur),
        }
        if cpuset {
            copy_cpuset(&parent, &cur)?;
        }
    }
    Ok(())
}

fn copy_cpuset(parent: &Path, dir: &Path) -> Result<()> {
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let mine = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        if mine.trim().is_empty() {
            let theirs = std::fs::read_to_string(parent.join(f)).at("read", parent.join(f))?;
            write_file(&dir.join(f), theirs.trim())?;
        }
    }
    Ok(())
}

/// Write the limits whose controller lives in this hierarchy, marking each in `applied`.
pub fn apply(d: &CgroupDir, res: &LinuxResources, applied: &mut Applied) -> Result<()> {
    let has = |c: &str| d.controllers.iter().any(|x| x == c);
    let p = &d.path;
    if has("memory") {
        if let Some(m) = res.memory() {
            if let Some(l) = m.limit() {
                write_file(&p.join("memory.limit_in_bytes"), &l.to_string())?;
            }
            if let Some(r) = m.reservation() {
                write_file(&p.join("memory.soft_limit_in_bytes"), &r.to_string())?;
            }
            // OCI v1 semantics: swap is memory+swap, like memory.memsw.limit_in_bytes.
            if let Some(s) = m.swap() {
                write_if(p, "memory.memsw.limit_in_bytes", &s.to_string())?;
            }
            if let Some(s) = m.swappiness() {
                write_if(p, "memory.swappiness", &s.to_string())?;
            }
            if m.disable_oom_killer() == Some(true) {
                write_file(&p.join("memory.oom_control"), "1")?;
            }
            if let Some(k) = m.kernel() {
                write_need(
                    p,
                    "memory.kmem.limit_in_bytes",
                    &k.to_string(),
                    "memory.kernel",
                )?;
                applied.mark("memory.kernel");
            }
            if let Some(k) = m.kernel_tcp() {
                write_need(
                    p,
                    "memory.kmem.tcp.limit_in_bytes",
                    &k.to_string(),
                    "memory.kernelTCP",
                )?;
                applied.mark("memory.kernelTCP");
            }
            applied.mark("memory");
        }
    }
    if has("cpu") {
        if let Some(c) = res.cpu() {
            if let Some(s) = c.shares() {
                write_file(&p.join("cpu.shares"), &s.to_string())?;
            }
            if let Some(per) = c.period() {
                write_file(&p.join("cpu.cfs_period_us"), &per.to_string())?;
            }
            if let Some(q) = c.quota() {
                write_file(&p.join("cpu.cfs_quota_us"), &q.to_string())?;
            }
            // Period before runtime: the runtime may not exceed the period.
            if let Some(per) = c.realtime_period() {
                write_need(
                    p,
                    "cpu.rt_period_us",
                    &per.to_string(),
                    "cpu.realtimePeriod",
                )?;
            }
            if let Some(rt) = c.realtime_runtime() {
                write_need(
                    p,
                    "cpu.rt_runtime_us",
                    &rt.to_string(),
                    "cpu.realtimeRuntime",
                )?;
            }
            applied.mark("cpu");
            applied.mark("cpu.realtimeRuntime");
        }
    }
    if has("cpuset") {
        if let Some(c) = res.cpu() {
            if let Some(cpus) = c.cpus() {
                write_file(&p.join("cpuset.cpus"), cpus)?;
            }
            if let Some(mems) = c.mems() {
                write_file(&p.join("cpuset.mems"), mems)?;
            }
            applied.mark("cpu.cpus");
        }
    }
    if has("pids") {
        if let Some(pids) = res.pids() {
            let v = if pids.limit() > 0 {
                pids.limit().to_string()
            } else {
                "max".into()
            };
            write_file(&p.join("pids.max"), &v)?;
            applied.mark("pids");
        }
    }
    if has("devices") {
        // In order: typically "deny all" first, then the allowed devices. The kernel
        // takes one rule per write; each file is opened once for all of its rules
        // (docker's default list is some 20 rules: 40 opens and closes saved).
        let mut files = RuleFiles::new(p);
        for d in res.devices().iter().flatten() {
            let typ = match d.typ() {
                Some(oci_spec::runtime::LinuxDeviceType::C) => "c",
                Some(oci_spec::runtime::LinuxDeviceType::B) => "b",
                _ => "a",
            };
            let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
            let rule = if typ == "a" {
                "a".to_string()
            } else {
                format!(
                    "{typ} {}:{} {}",
                    num(d.major()),
                    num(d.minor()),
                    d.access().as_deref().unwrap_or("rwm")
                )
            };
            files.write(d.allow(), &rule)?;
        }
    }
    if has("blkio") {
        if let Some(b) = res.block_io() {
            blkio(p, b, applied)?;
        }
    }
    if has("hugetlb") {
        for l in res.hugepage_limits().iter().flatten() {
            let file = format!("hugetlb.{}.limit_in_bytes", l.page_size());
            write_need(p, &file, &l.limit().to_string(), "hugepageLimits")?;
            applied.mark("hugepageLimits");
        }
    }
    if let Some(n) = res.network() {
        if has("net_cls") {
            if let Some(id) = n.class_id() {
                write_file(&p.join("net_cls.classid"), &id.to_string())?;
                applied.mark("network.classID");
            }
        }
        if has("net_prio") {
            for prio in n.priorities().iter().flatten() {
                let v = format!("{} {}", prio.name(), prio.priority());
                write_file(&p.join("net_prio.ifpriomap"), &v)?;
                applied.mark("network.priorities");
            }
        }
    }
    Ok(())
}

/// blkio: weights (CFQ's files, or BFQ's where CFQ is gone) and throttles.
fn blkio(p: &Path, b: &LinuxBlockIo, applied: &mut Applied) -> Result<()> {
    // Kernels without CFQ (5.0+) only have BFQ's weight files.
    let prefix = if p.join("blkio.weight").exists() {
        "blkio."
    } else {
        "blkio.bfq."
    };
    if let Some(w) = b.weight() {
        write_need(
            p,
            &format!("{prefix}weight"),
            &w.to_string(),
            "blockIO.weight",
        )?;
        applied.mark("blockIO.weight");
    }
    if let Some(w) = b.leaf_weight() {
        write_need(p, "blkio.leaf_weight", &w.to_string(), "blockIO.leafWeight")?;
        applied.mark("blockIO.leafWeight");
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            let v = format!("{}:{} {w}", d.major(), d.minor());
            write_need(
                p,
                &format!("{prefix}weight_device"),
                &v,
                "blockIO.weightDevice",
            )?;
            applied.mark("blockIO.weightDevice");
        }
        if let Some(w) = d.leaf_weight() {
            let v = format!("{}:{} {w}", d.major(), d.minor());
            write_need(
                p,
                "blkio.leaf_weight_device",
                &v,
                "blockIO.weightDevice.leafWeight",
            )?;
            applied.mark("blockIO.weightDevice.leafWeight");
        }
    }
    let throttles = [
        (
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ];
    for (file, list) in throttles {
        for t in list.iter().flatten() {
            let v = format!("{}:{} {}", t.major(), t.minor(), t.rate());
            write_need(p, file, &v, "blockIO.throttle")?;
            applied.mark("blockIO.throttle");
        }
    }
    Ok(())
}

/// Freeze or thaw and wait until the kernel agrees.
pub fn freeze(dir: &Path, frozen: bool) -> Result<()> {
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let file = dir.join("freezer.state");
    for i in 0..1000u32 {
        // Re-write periodically: a task forking while freezing can leave it FREEZING.
        if i % 50 == 0 {
            write_file(&file, want)?;
        }
        let now = std::fs::read_to_string(&file).at("read", &file)?;
        if now.trim() == want {
            return Ok(());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Err(crate::error::Error::Spec(format!(
        "freezer stuck before {want} in {}",
        dir.display()
    )))
}

/// Fill in what this hierarchy knows.
pub fn stats(d: &CgroupDir, s: &mut Stats) {
    let p = &d.path;
    for c in &d.controllers {
        match c.as_str() {
            "cpuacct" => s.cpu_usage_ns = number(&p.join("cpuacct.usage")).unwrap_or(0),
            "memory" => {
                s.memory_usage = number(&p.join("memory.usage_in_bytes")).unwrap_or(0);
                // v1 reports "unlimited" as a huge page-aligned number.
                s.memory_limit =
                    number(&p.join("memory.limit_in_bytes")).filter(|l| *l < (1 << 62));
            }
            "pids" => {
                s.pids_current = number(&p.join("pids.current")).unwrap_or(0);
                s.pids_limit = number(&p.join("pids.max"));
            }
            "blkio" => {
                let f = p.join("blkio.throttle.io_service_bytes_recursive");
                let text = std::fs::read_to_string(f).unwrap_or_default();
                for l in text.lines() {
                    let parts: Vec<&str> = l.split_whitespace().collect();
                    if let [_, op, v] = parts[..] {
                        let v: u64 = v.parse().unwrap_or(0);
                        match op {
                            "Read" => s.io_read_bytes += v,
                            "Write" => s.io_write_bytes += v,
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// `devices.allow` and `devices.deny` of one cgroup, each opened on its first rule
/// and kept open for the next ones.
struct RuleFiles<'a> {
    dir: &'a Path,
    allow: Option<std::fs::File>,
    deny: Option<std::fs::File>,
}

impl<'a> RuleFiles<'a> {
    fn new(dir: &'a Path) -> RuleFiles<'a> {
        RuleFiles {
            dir,
            allow: None,
            deny: None,
        }
    }

    /// Writes one rule (one write: the kernel parses one rule per write).
    fn write(&mut self, allow: bool, rule: &str) -> Result<()> {
        use std::io::Write;
        let (name, slot) = match allow {
            true => ("devices.allow", &mut self.allow),
            false => ("devices.deny", &mut self.deny),
        };
        let path = self.dir.join(name);
        let f = match slot {
            Some(f) => f,
            None => slot.insert(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .at("open", &path)?,
            ),
        };
        f.write_all(rule.as_bytes()).at("write", &path)
    }
}
