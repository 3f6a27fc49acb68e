//! `stats`: CPU, memory, pids and block I/O from each container's cgroups, network
//! I/O from the interface counters of its network namespace.

use std::time::{Duration, Instant};

use berth_runtime::Container;
use serde::Serialize;

use crate::container::list::Found;
use crate::supervise::runtime_launcher::runtime_dir;

/// One sample of one container.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// When it was taken.
    pub at: Option<Instant>,
    /// The cgroups' numbers.
    pub cg: berth_runtime::cgroups::Stats,
    /// Bytes received and sent on the container's interfaces (loopback excluded).
    pub net: (u64, u64),
}

/// A row of `stats`, with docker's JSON keys.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Row {
    /// `BlockIO`: `read / written`.
    #[serde(rename = "BlockIO")]
    pub block_io: String,
    /// `CPUPerc`: `0.05%`.
    #[serde(rename = "CPUPerc")]
    pub cpu_perc: String,
    /// The container's short id.
    pub container: String,
    /// Its full id.
    #[serde(rename = "ID")]
    pub id: String,
    /// `MemPerc`: `0.01%`.
    pub mem_perc: String,
    /// `MemUsage`: `1.2MiB / 7.7GiB`.
    pub mem_usage: String,
    /// Its name.
    pub name: String,
    /// `NetIO`: `received / sent`.
    #[serde(rename = "NetIO")]
    pub net_io: String,
    /// `PIDs`: processes.
    #[serde(rename = "PIDs")]
    pub pids: String,
}

/// Samples a running container (None when it is not running).
pub fn sample(found: &Found) -> Option<Sample> {
    let c = Container::load(&runtime_dir(&found.dir)).ok()?;
    let cg = c.stats().ok()?;
    Some(Sample {
        at: Some(Instant::now()),
        cg,
        net: found.status.pid.map(net_dev).unwrap_or_default(),
    })
}

/// Received and sent bytes of the non-loopback interfaces in `pid`'s network namespace.
pub fn net_dev(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    parse_net_dev(&text)
}

fn parse_net_dev(text: &str) -> (u64, u64) {
    let mut rx = 0;
    let mut tx = 0;
    for l in text.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        rx += f.first().copied().unwrap_or(0);
        tx += f.get(8).copied().unwrap_or(0);
    }
    (rx, tx)
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// A row from two samples of the same container (the CPU % is over the time between).
pub fn row(found: &Found, before: &Sample, after: &Sample) -> Row {
    let elapsed = match (before.at, after.at) {
        (Some(a), Some(b)) => b.duration_since(a),
        _ => Duration::ZERO,
    };
    let cpu = if elapsed.is_zero() {
        0.0
    } else {
        after.cg.cpu_usage_ns.saturating_sub(before.cg.cpu_usage_ns) as f64
            / elapsed.as_nanos() as f64
            * 100.0
    };
    let limit = after
        .cg
        .memory_limit
        .filter(|l| *l < 1 << 62)
        .unwrap_or_else(host_memory);
    let mem_perc = if limit == 0 {
        0.0
    } else {
        after.cg.memory_usage as f64 / limit as f64 * 100.0
    };
    Row {
        block_io: format!(
            "{} / {}",
            decimal(after.cg.io_read_bytes),
            decimal(after.cg.io_write_bytes)
        ),
        cpu_perc: format!("{cpu:.2}%"),
        container: found.record.id[..12].to_string(),
        id: found.record.id.clone(),
        mem_perc: format!("{mem_perc:.2}%"),
        mem_usage: format!("{} / {}", binary(after.cg.memory_usage), binary(limit)),
        name: found.record.name.clone(),
        net_io: format!("{} / {}", decimal(after.net.0), decimal(after.net.1)),
        pids: after.cg.pids_current.to_string(),
    }
}

/// `n` with `sig` significant digits, trailing zeros dropped (Go's `%.Ng`).
fn sig_digits(v: f64, sig: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = v.abs().log10().floor() as i32 + 1;
    let decimals = (sig - digits).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn scaled(n: u64, base: f64, units: &[&str], sig: i32) -> String {
    let mut v = n as f64;
    let mut i = 0;
    while v >= base && i + 1 < units.len() {
        v /= base;
        i += 1;
    }
    format!("{}{}", sig_digits(v, sig), units[i])
}

/// Binary sizes as docker prints memory: `1.234MiB`.
pub fn binary(n: u64) -> String {
    scaled(n, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"], 4)
}

/// Decimal sizes as docker prints I/O: `1.23kB`.
pub fn decimal(n: u64) -> String {
    scaled(n, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"], 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_docker_prints_them() {
        assert_eq!(binary(0), "0B");
        assert_eq!(binary(1536), "1.5KiB");
        assert_eq!(
            binary(7 * 1024 * 1024 * 1024 + 700 * 1024 * 1024),
            "7.684GiB"
        );
        assert_eq!(decimal(1234), "1.23kB");
        assert_eq!(decimal(999), "999B");
    }

    #[test]
    fn net_dev_skips_loopback() {
        let text = "Inter-|   Receive |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  eth0:    2000      10    0    0    0     0          0         0      3000      12    0    0    0     0       0          0\n";
        assert_eq!(parse_net_dev(text), (2000, 3000));
    }
}
