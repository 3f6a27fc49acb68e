//! `top`: the processes of a container, found through its cgroups, in the columns
//! of `ps -ef` as docker prints them.

use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Result};
use berth_runtime::Container;

use crate::container::list::Found;
use crate::supervise::runtime_launcher::runtime_dir;

/// The column titles.
pub const TITLES: [&str; 8] = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];

/// The processes of a running container, one row of [`TITLES`] each, by pid.
pub fn processes(found: &Found) -> Result<Vec<[String; 8]>> {
    let c = Container::load(&runtime_dir(&found.dir))
        .map_err(|e| anyhow!("container {} is not running: {e}", found.record.name))?;
    let mut pids = c.cgroups().pids();
    pids.sort_unstable();
    pids.dedup();
    let users = passwd();
    let now = SystemTime::now();
    Ok(pids
        .into_iter()
        .filter_map(|pid| row(pid, &users, now))
        .collect())
}

fn ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

fn boot_time() -> Option<SystemTime> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let secs: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

fn passwd() -> Vec<(u32, String)> {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let uid = f.nth(1)?.parse().ok()?;
            Some((uid, name.to_string()))
        })
        .collect()
}

fn row(pid: i32, users: &[(u32, String)], now: SystemTime) -> Option<[String; 8]> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let comm = head.split_once('(').map(|(_, c)| c).unwrap_or("");
    // Fields after the command, numbered as in proc(5) from field 3 (state).
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| {
        f.get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ppid = field(4);
    let tty_nr = field(7);
    let cpu_ticks = field(14) + field(15);
    let start_ticks = field(22);
    let hz = ticks();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let uid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let user = users
        .iter()
        .find(|(u, _)| *u == uid)
        .map(|(_, n)| n.clone())
        .unwrap_or_else(|| uid.to_string());
    let started = boot_time().map(|b| b + Duration::from_secs(start_ticks / hz));
    let stime = started
        .map(|t| humantime::format_rfc3339_seconds(t).to_string()[11..16].to_string())
        .unwrap_or_else(|| "?".into());
    let alive = started
        .and_then(|t| now.duration_since(t).ok())
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let c = if alive > 0.0 {
        ((cpu_ticks as f64 / hz as f64) / alive * 100.0) as u64
    } else {
        0
    };
    let tty = if tty_nr == 0 {
        "?".to_string()
    } else {
        let major = (tty_nr >> 8) & 0xfff;
        let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
        if major == 136 {
            format!("pts/{minor}")
        } else {
            format!("tty{minor}")
        }
    };
    let secs = cpu_ticks / hz;
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = if cmdline.is_empty() {
        format!("[{comm}]")
    } else {
        cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    Some([
        user,
        pid.to_string(),
        ppid.to_string(),
        c.to_string(),
        stime,
        tty,
        time,
        cmd,
    ])
}

/// Lays rows out under their titles, columns separated by at least three spaces.
pub fn render(titles: &[&str], rows: &[Vec<String>]) -> String {
    let n = titles.len();
    let mut width: Vec<usize> = titles.iter().map(|t| t.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}   ", w = width[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(titles.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let out = render(
            &["A", "BB"],
            &[
                vec!["xyz".into(), "1".into()],
                vec!["q".into(), "22".into()],
            ],
        );
        assert_eq!(out, "A     BB\nxyz   1\nq     22\n");
    }
}
