//! nftables rules, generated as text and fed to `nft -f -` (one atomic transaction).
//!
//! Layout: one `inet` table per network (named like its bridge) and one per attachment
//! with published ports (`<host veth>_ports`). Every object is then added and removed
//! whole (`delete table`), atomically, without tracking rule handles, and two berth
//! processes (or state roots) never edit the same table. All names start with `bth`.

use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::ipam::Subnet;

/// What the network table needs to know.
#[derive(Debug, Clone)]
pub struct NetworkRules<'a> {
    /// Table name.
    pub table: &'a str,
    /// Bridge interface.
    pub bridge: &'a str,
    /// IPv4 subnet.
    pub subnet4: Subnet,
    /// IPv6 subnet, if enabled.
    pub subnet6: Option<Subnet>,
    /// No way out: no masquerade, nothing forwarded off the bridge.
    pub internal: bool,
    /// Gateway addresses, where containers send DNS queries.
    pub gateways: Vec<IpAddr>,
    /// Port the DNS responder really listens on; when not 53, queries to the
    /// gateway's port 53 are redirected there (a host resolver may own port 53).
    pub dns_port: u16,
}

/// The ruleset creating a network's table (idempotent: replaces an old copy).
pub fn network_ruleset(r: &NetworkRules<'_>) -> String {
    let br = r.bridge;
    let mut s = String::new();
    s += &delete_table_ruleset(r.table);
    s += &format!("table inet {} {{\n", r.table);
    s += "  chain forward {\n    type filter hook forward priority filter; policy accept;\n";
    if r.internal {
        s += &format!("    iifname \"{br}\" oifname != \"{br}\" drop\n");
        s += &format!("    oifname \"{br}\" iifname != \"{br}\" drop\n");
    } else {
        // Isolation between berth networks, except connections a published port
        // DNATed (a container reaching another network's port via the host address).
        s += &format!("    iifname \"{br}\" oifname \"bth*\" oifname != \"{br}\" ct status & dnat == 0 drop\n");
    }
    s += "  }\n";
    s += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n";
    if !r.internal {
        s += &format!(
            "    ip saddr {} oifname != \"{br}\" masquerade\n",
            r.subnet4
        );
        if let Some(s6) = r.subnet6 {
            s += &format!("    ip6 saddr {s6} oifname != \"{br}\" masquerade\n");
        }
    }
    // Published ports reached from 127.0.0.1 (route_localnet) or from the same
    // bridge (hairpin): without SNAT the reply would bypass the host's conntrack.
    s += &format!("    oifname \"{br}\" ct status dnat ip saddr 127.0.0.0/8 masquerade\n");
    s += &format!(
        "    oifname \"{br}\" ct status dnat ip saddr {} masquerade\n",
        r.subnet4
    );
    if let Some(s6) = r.subnet6 {
        s += &format!("    oifname \"{br}\" ct status dnat ip6 saddr {{ ::1, {s6} }} masquerade\n");
    }
    s += "  }\n";
    if r.dns_port != 53 {
        s += "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n";
        for gw in &r.gateways {
            let (fam, to) = match gw {
                IpAddr::V4(a) => ("ip", format!("{a}:{}", r.dns_port)),
                IpAddr::V6(a) => ("ip6", format!("[{a}]:{}", r.dns_port)),
            };
            s += &format!("    iifname \"{br}\" {fam} daddr {gw} meta l4proto {{ tcp, udp }} th dport 53 dnat {fam} to {to}\n");
        }
        s += "  }\n";
    }
    s += "}\n";
    s
}

/// One DNAT rule: host side → container side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dnat {
    /// Only traffic to this host address (any local address when `None`).
    pub host_ip: Option<IpAddr>,
    /// Host port.
    pub host_port: u16,
    /// Container address.
    pub container_ip: IpAddr,
    /// Container port.
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub proto: &'static str,
}

/// The ruleset creating an attachment's published-ports table.
pub fn ports_ruleset(table: &str, rules: &[Dnat]) -> String {
    let mut body = String::new();
    for d in rules {
        let (fam, to) = match d.container_ip {
            IpAddr::V4(a) => ("ip", format!("{a}:{}", d.container_port)),
            IpAddr::V6(a) => ("ip6", format!("[{a}]:{}", d.container_port)),
        };
        let daddr = match d.host_ip {
            Some(h) if h.is_ipv4() != d.container_ip.is_ipv4() => continue,
            Some(IpAddr::V4(h)) => format!("ip daddr {h} "),
            Some(IpAddr::V6(h)) => format!("ip6 daddr {h} "),
            None => format!(
                "meta nfproto {} ",
                if fam == "ip" { "ipv4" } else { "ipv6" }
            ),
        };
        body += &format!(
            "    fib daddr type local {daddr}{} dport {} dnat {fam} to {to}\n",
            d.proto, d.host_port
        );
    }
    let mut s = delete_table_ruleset(table);
    s += &format!("table inet {table} {{\n");
    s += "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n";
    s += &body;
    s += "  }\n  chain output {\n    type nat hook output priority -100; policy accept;\n";
    s += &body;
    s += "  }\n}\n";
    s
}

/// Remove `table` if it exists (`add` first so `delete` never fails on a missing one).
pub fn delete_table_ruleset(table: &str) -> String {
    format!("add table inet {table}\ndelete table inet {table}\n")
}

/// The names of the `inet` tables that exist now.
pub fn tables() -> Result<Vec<String>> {
    let out = Command::new(nft_path())
        .args(["list", "tables", "inet"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Nft(format!("cannot run nft: {e}")))?;
    if !out.status.success() {
        return Err(Error::Nft(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(parse_tables(&String::from_utf8_lossy(&out.stdout)))
}

/// `table inet NAME` lines of `nft list tables`.
fn parse_tables(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("table inet "))
        .map(|n| n.trim().to_string())
        .collect()
}

/// Feed `ruleset` to `nft -f -` as one transaction.
pub fn apply(ruleset: &str) -> Result<()> {
    let mut child = Command::new(nft_path())
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Nft(format!("cannot run nft: {e}")))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(ruleset.as_bytes())
        .map_err(|e| Error::Nft(format!("writing to nft: {e}")))?;
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Nft(format!("waiting for nft: {e}")))?;
    if !out.status.success() {
        return Err(Error::Nft(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(())
}

/// The nft binary: from PATH, else Debian's /usr/sbin/nft (a normal user's PATH
/// has no sbin directory, and rootless berth runs as one).
fn nft_path() -> std::path::PathBuf {
    let in_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("nft"))
            .find(|f| f.is_file())
    });
    in_path.unwrap_or_else(|| std::path::PathBuf::from("/usr/sbin/nft"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_inet_table_names() {
        assert_eq!(
            parse_tables("table inet bthabc\ntable inet bthdef_ports\n"),
            vec!["bthabc", "bthdef_ports"]
        );
        assert!(parse_tables("").is_empty());
    }

    #[test]
    fn network_rules() {
        let r = NetworkRules {
            table: "bthabc",
            bridge: "bthabc",
            subnet4: "10.213.3.0/24".parse().unwrap(),
            subnet6: None,
            internal: false,
            gateways: vec!["10.213.3.1".parse().unwrap()],
            dns_port: 53,
        };
        let s = network_ruleset(&r);
        assert!(s.starts_with("add table inet bthabc\ndelete table inet bthabc\n"));
        assert!(s.contains("ip saddr 10.213.3.0/24 oifname != \"bthabc\" masquerade"));
        assert!(s.contains("ct status & dnat == 0 drop"));
        let s = network_ruleset(&NetworkRules {
            internal: true,
            ..r
        });
        assert!(!s.contains("oifname != \"bthabc\" masquerade"));
        assert!(s.contains("iifname \"bthabc\" oifname != \"bthabc\" drop"));
    }

    #[test]
    fn port_rules() {
        let d = Dnat {
            host_ip: None,
            host_port: 8080,
            container_ip: "10.213.3.2".parse().unwrap(),
            container_port: 80,
            proto: "tcp",
        };
        let s = ports_ruleset("bthx_ports", std::slice::from_ref(&d));
        assert_eq!(
            s.matches(
                "fib daddr type local meta nfproto ipv4 tcp dport 8080 dnat ip to 10.213.3.2:80"
            )
            .count(),
            2
        );
        let s = ports_ruleset(
            "t",
            &[Dnat {
                host_ip: Some("127.0.0.1".parse().unwrap()),
                proto: "udp",
                ..d.clone()
            }],
        );
        assert!(s.contains("ip daddr 127.0.0.1 udp dport 8080 dnat ip to 10.213.3.2:80"));
        // A v6 host ip never maps onto a v4 container address.
        let s = ports_ruleset(
            "t",
            &[Dnat {
                host_ip: Some("::1".parse().unwrap()),
                ..d
            }],
        );
        assert!(!s.contains("dnat"));
    }
}
