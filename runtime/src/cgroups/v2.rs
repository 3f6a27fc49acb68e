//! cgroup v2 files.

use std::path::Path;
use std::time::Duration;

use oci_spec::runtime::{LinuxBlockIo, LinuxResources};

use super::{keyed, number, write_if, write_need, Applied, CgroupDir, Stats};
use crate::error::{Result, WrapIo};
use crate::syscall::raw::write_file;

/// Controllers every v2 cgroup has without enabling (cpu.stat, cgroup.freeze, ...).
pub fn implicit(controller: &str) -> bool {
    matches!(controller, "cpuacct" | "freezer")
}

/// mkdir `<mount>/<rel>` and parents, enabling in each ancestor's subtree_control the
/// controllers the hierarchy offers (a v2 limit file only exists once enabled).
pub fn mkdir(mount: &Path, rel: &Path) -> Result<()> {
    let mut cur = mount.to_path_buf();
    for c in rel.components() {
        enable_controllers(&cur);
        cur.push(c);
        match std::fs::create_dir(&cur) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).at("mkdir", &cur),
        }
    }
    Ok(())
}

fn enable_controllers(dir: &Path) {
    let have = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let on = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let want: Vec<String> = have
        .split_whitespace()
        .filter(|c| !on.split_whitespace().any(|o| o == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if !want.is_empty() {
        // Best effort: a controller can be refused (e.g. threaded subtrees); limits for
        // it then fail loudly in apply().
        let _ = write_file(&dir.join("cgroup.subtree_control"), &want.join(" "));
    }
}

/// cpu.shares (2..262144) → cpu.weight (1..10000), the formula runc and crun use.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262142
}

/// Write the limits this hierarchy has files for, marking each in `applied`.
pub fn apply(d: &CgroupDir, res: &LinuxResources, applied: &mut Applied) -> Result<()> {
    let has = |c: &str| d.controllers.iter().any(|x| x == c);
    let p = &d.path;
    let max = |v: i64| {
        if v < 0 {
            "max".to_string()
        } else {
            v.to_string()
        }
    };
    if has("memory") {
        if let Some(m) = res.memory() {
            if let Some(l) = m.limit() {
                write_file(&p.join("memory.max"), &max(l))?;
            }
            if let Some(r) = m.reservation() {
                write_file(&p.join("memory.low"), &max(r))?;
            }
            // OCI swap is memory+swap; v2 swap.max counts swap alone.
            if let (Some(s), Some(l)) = (m.swap(), m.limit()) {
                let v = if s < 0 {
                    "max".into()
                } else {
                    (s - l).max(0).to_string()
                };
                write_if(p, "memory.swap.max", &v)?;
            }
            applied.mark("memory");
        }
    }
    if has("cpu") {
        if let Some(c) = res.cpu() {
            if let Some(s) = c.shares() {
                write_file(&p.join("cpu.weight"), &shares_to_weight(s).to_string())?;
            }
            if c.quota().is_some() || c.period().is_some() {
                let q = c
                    .quota()
                    .filter(|q| *q > 0)
                    .map_or("max".to_string(), |q| q.to_string());
                write_file(
                    &p.join("cpu.max"),
                    &format!("{q} {}", c.period().unwrap_or(100_000)),
                )?;
            }
            applied.mark("cpu");
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
    if has("io") {
        if let Some(b) = res.block_io() {
            io(p, b, applied)?;
        }
    }
    if has("hugetlb") {
        for l in res.hugepage_limits().iter().flatten() {
            let file = format!("hugetlb.{}.max", l.page_size());
            write_need(p, &file, &max(l.limit()), "hugepageLimits")?;
            applied.mark("hugepageLimits");
        }
    }
    // Per controller: on a hybrid host the v1 devices hierarchy enforces the list, so the
    // eBPF program (~0.3 ms to verify and attach) is only needed where v1 has no devices.
    // Rootless (a delegated subtree) cannot attach one (it needs CAP_SYS_ADMIN in the
    // host's user namespace); the user namespace already allows no device but those
    // bound in, as rootless runc and crun rely on.
    let v1_devices = super::hierarchies()
        .iter()
        .any(|h| h.version == 1 && h.has("devices"))
        || crate::namespaces::in_user_namespace();
    if let Some(rules) = res
        .devices()
        .as_ref()
        .filter(|r| !r.is_empty() && !v1_devices)
    {
        super::devices::attach(p, rules)?;
    }
    if let Some(u) = res.unified() {
        for (k, v) in u {
            if k.contains('/') {
                return Err(crate::error::Error::Spec(format!("unified key {k}")));
            }
            write_file(&p.join(k), v)?;
        }
    }
    Ok(())
}

/// io: weights (BFQ's file where it exists, else io.weight) and io.max throttles.
fn io(p: &Path, b: &LinuxBlockIo, applied: &mut Applied) -> Result<()> {
    // blkio weight 10..1000 → io.weight 1..10000.
    let scaled = |w: u16| 1 + (u64::from(w).saturating_sub(10) * 9999) / 990;
    let bfq = p.join("io.bfq.weight").exists();
    if let Some(w) = b.weight() {
        if bfq {
            write_file(&p.join("io.bfq.weight"), &w.to_string())?;
        } else {
            write_need(p, "io.weight", &scaled(w).to_string(), "blockIO.weight")?;
        }
        applied.mark("blockIO.weight");
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            let (file, w) = if bfq {
                ("io.bfq.weight", u64::from(w))
            } else {
                ("io.weight", scaled(w))
            };
            let v = format!("{}:{} {w}", d.major(), d.minor());
            write_need(p, file, &v, "blockIO.weightDevice")?;
            applied.mark("blockIO.weightDevice");
        }
    }
    let throttles = [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ];
    for (key, list) in throttles {
        for t in list.iter().flatten() {
            let v = format!("{}:{} {key}={}", t.major(), t.minor(), t.rate());
            write_need(p, "io.max", &v, "blockIO.throttle")?;
            applied.mark("blockIO.throttle");
        }
    }
    Ok(())
}

/// Freeze or thaw and wait for `cgroup.events` to agree.
pub fn freeze(dir: &Path, frozen: bool) -> Result<()> {
    write_file(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
    let want = if frozen { 1 } else { 0 };
    for _ in 0..1000 {
        if keyed(&dir.join("cgroup.events"), "frozen") == Some(want) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Err(crate::error::Error::Spec(format!(
        "cgroup {} did not reach frozen={want}",
        dir.display()
    )))
}

/// Fill in what this hierarchy knows.
pub fn stats(d: &CgroupDir, s: &mut Stats) {
    let p = &d.path;
    if let Some(u) = keyed(&p.join("cpu.stat"), "usage_usec") {
        s.cpu_usage_ns = u * 1000;
    }
    let has = |c: &str| d.controllers.iter().any(|x| x == c);
    if has("memory") {
        s.memory_usage = number(&p.join("memory.current")).unwrap_or(0);
        s.memory_limit = number(&p.join("memory.max"));
    }
    if has("pids") {
        s.pids_current = number(&p.join("pids.current")).unwrap_or(0);
        s.pids_limit = number(&p.join("pids.max"));
    }
    if has("io") {
        for l in std::fs::read_to_string(p.join("io.stat"))
            .unwrap_or_default()
            .lines()
        {
            for kv in l.split_whitespace().skip(1) {
                if let Some(v) = kv.strip_prefix("rbytes=") {
                    s.io_read_bytes += v.parse::<u64>().unwrap_or(0);
                } else if let Some(v) = kv.strip_prefix("wbytes=") {
                    s.io_write_bytes += v.parse::<u64>().unwrap_or(0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares_map_to_weight() {
        assert_eq!(super::shares_to_weight(1024), 39);
        assert_eq!(super::shares_to_weight(2), 1);
        assert_eq!(super::shares_to_weight(262144), 10000);
    }
}
