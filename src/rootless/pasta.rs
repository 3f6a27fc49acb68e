//! pasta (Debian's passt) joins the user's network namespace to the host: the
//! namespace gets a tap interface with the host's address and routes (containers
//! reach the host's resolvers through it), and the published ports are bound on
//! the host and carried into the namespace, where berth's own DNAT rules take
//! them to the container as they do for root.
//!
//! Its port list is fixed at start, so a change of the published ports restarts
//! it (the state says which ports are published; `reconcile` compares and
//! restarts only on a difference). It runs in the host's namespaces: only a
//! process outside the holder can start it (see `forward`, `net_helper`).

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::net_helper::{kill, running, Kind};

/// One host port carried into the namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Forward {
    /// `tcp` or `udp`.
    pub proto: String,
    /// Bound only on this host address (every address when `None`).
    pub host_ip: Option<IpAddr>,
    /// The host port (the same port inside the namespace, where berth's DNAT
    /// table for the container matches it).
    pub port: u16,
}

fn args_file(run: &Path) -> PathBuf {
    super::holder::dir(run).join("pasta.args")
}

/// Forgets what the last pasta carried (it is gone).
pub(super) fn forget(run: &Path) {
    let _ = fs::remove_file(args_file(run));
}

/// pasta's `-t`/`-u` options for `ports` of one protocol: `none`, or one
/// option per host address (a spec takes one address for its whole port list).
pub fn specs(ports: &[Forward], proto: &str) -> Vec<String> {
    let mut by_addr: Vec<(Option<IpAddr>, Vec<String>)> = Vec::new();
    for f in ports.iter().filter(|f| f.proto == proto) {
        match by_addr.iter_mut().find(|(a, _)| *a == f.host_ip) {
            Some((_, l)) => l.push(f.port.to_string()),
            None => by_addr.push((f.host_ip, vec![f.port.to_string()])),
        }
    }
    if by_addr.is_empty() {
        return vec!["none".into()];
    }
    by_addr
        .into_iter()
        .map(|(a, l)| match a {
            Some(ip) => format!("{ip}/{}", l.join(",")),
            None => l.join(","),
        })
        .collect()
}

/// The options of a pasta for `ports` (without the target pid).
pub fn args(ports: &[Forward]) -> Vec<String> {
    // Address and routes copied from the host, interface up: the way out.
    let mut a: Vec<String> = vec!["--config-net".into(), "--quiet".into()];
    // Explicit `-u`, or pasta would forward the TCP ports' numbers for UDP too.
    for (opt, proto) in [("-t", "tcp"), ("-u", "udp")] {
        for s in specs(ports, proto) {
            a.push(opt.into());
            a.push(s);
        }
    }
    // Nothing bound in the namespace reaches the host's loopback ports.
    a.extend(["-T", "none", "-U", "none"].map(String::from));
    a
}

/// Makes the pasta of `run` carry exactly `ports` (sorted, deduplicated) into
/// the namespace of the holder `holder_pid`, restarting it when its ports
/// differ. Runs in the host's namespaces, under `net_helper`'s lock.
pub(super) fn reconcile(
    run: &Path,
    bin: &Path,
    holder_pid: i32,
    ports: &[Forward],
) -> Result<(), String> {
    let want = args(ports);
    let recorded = fs::read_to_string(args_file(run)).unwrap_or_default();
    if running(run, Kind::Pasta).is_some() && recorded == want.join(" ") {
        return Ok(());
    }
    kill(run, Kind::Pasta);
    let pf = Kind::Pasta.pid_file(run);
    // pasta forks into the background once its ports are bound and the
    // namespace is configured: its exit status says whether that worked.
    let out = Command::new(bin)
        .args(&want)
        .arg("--pid")
        .arg(&pf)
        .arg(holder_pid.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    if !out.status.success() {
        let _ = fs::remove_file(&pf);
        let msg = String::from_utf8_lossy(&out.stderr);
        let msg = msg.trim();
        let hint = if msg.contains("/dev/net/tun") {
            " (pasta needs /dev/net/tun readable and writable by the user: as root, `chmod 0666 /dev/net/tun`; see `berth doctor`)"
        } else if msg.contains("bind") {
            " (a host port is taken, or below net.ipv4.ip_unprivileged_port_start)"
        } else {
            ""
        };
        return Err(format!(
            "pasta {} failed: {}{hint}",
            want.join(" "),
            if msg.is_empty() { "no message" } else { msg }
        ));
    }
    crate::state::atomic::write_atomic(&args_file(run), want.join(" ").as_bytes())
        .map_err(|e| e.to_string())?;
    if running(run, Kind::Pasta).is_none() {
        return Err("pasta exited right after starting".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(proto: &str, ip: Option<&str>, port: u16) -> Forward {
        Forward {
            proto: proto.into(),
            host_ip: ip.map(|i| i.parse().unwrap()),
            port,
        }
    }

    #[test]
    fn specs_name_address_and_port_per_protocol() {
        let p = [
            f("tcp", Some("127.0.0.1"), 8080),
            f("tcp", None, 9000),
            f("udp", Some("::1"), 5353),
        ];
        let q = [f("tcp", Some("127.0.0.1"), 8081), f("tcp", None, 9001)];
        let all: Vec<Forward> = p.iter().chain(&q).cloned().collect();
        assert_eq!(specs(&all, "tcp"), ["127.0.0.1/8080,8081", "9000,9001"]);
        assert_eq!(specs(&p, "udp"), ["::1/5353"]);
        assert_eq!(specs(&[], "tcp"), ["none"]);
        let a = args(&[]);
        assert!(a.windows(2).any(|w| w == ["-u", "none"]), "{a:?}");
        assert!(a.windows(2).any(|w| w == ["-T", "none"]), "{a:?}");
    }
}
