//! Root-only: the DNS responder on the test's bridges answers names, aliases and
//! scaled services per network, follows removals, and forwards outside names only
//! to a small DNS server this test runs on loopback.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_netns::dns::wire::{self, Rdata};
use berth_netns::dns::{self, DnsConfig};
use common::*;

/// A fake upstream on 127.0.0.1: `outside.test` → 10.213.99.99, anything else NXDOMAIN.
fn fake_upstream(stop: Arc<AtomicBool>) -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let addr = s.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut b = [0u8; 512];
        while !stop.load(Ordering::Relaxed) {
            let Ok((n, from)) = s.recv_from(&mut b) else {
                continue;
            };
            let Some(q) = wire::parse_query(&b[..n]) else {
                continue;
            };
            let r = if q.name == "outside.test" {
                wire::build_response(
                    &b[..n],
                    &q,
                    wire::NOERROR,
                    &[Rdata::Addr("10.213.99.99".parse().unwrap())],
                )
            } else {
                wire::build_response(&b[..n], &q, wire::NXDOMAIN, &[])
            };
            let _ = s.send_to(&r, from);
        }
    });
    addr
}

fn ask(ns: &Path, server: IpAddr, name: &str, qtype: u16) -> Option<(u8, Vec<Rdata>)> {
    let name = name.to_string();
    in_ns(ns, move || {
        let s = UdpSocket::bind("0.0.0.0:0").ok()?;
        s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
        s.send_to(&wire::build_query(0x4242, &name, qtype), (server, 53))
            .ok()?;
        let mut b = [0u8; 1500];
        let n = s.recv(&mut b).ok()?;
        wire::parse_response(&b[..n])
    })
    .join()
    .unwrap()
}

fn ask_tcp(ns: &Path, server: IpAddr, name: &str) -> Option<(u8, Vec<Rdata>)> {
    let name = name.to_string();
    in_ns(ns, move || {
        let mut s =
            TcpStream::connect_timeout(&SocketAddr::new(server, 53), Duration::from_secs(1))
                .ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let q = wire::build_query(7, &name, wire::TYPE_A);
        let mut m = (q.len() as u16).to_be_bytes().to_vec();
        m.extend_from_slice(&q);
        s.write_all(&m).ok()?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).ok()?;
        let mut r = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut r).ok()?;
        wire::parse_response(&r)
    })
    .join()
    .unwrap()
}

fn addrs(r: Option<(u8, Vec<Rdata>)>) -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = r
        .map(|(_, a)| a)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|a| match a {
            Rdata::Addr(ip) => Some(ip),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

/// Stops the responder and the fake upstream even if the test fails.
struct StopGuard(
    Arc<AtomicBool>,
    Option<std::thread::JoinHandle<berth_netns::Result<()>>>,
);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        if let Some(h) = self.1.take() {
            let _ = h.join();
        }
    }
}

#[test]
fn dns_names_aliases_scaled_removal_and_forwarding() {
    if !is_root() {
        return;
    }
    let mut env = Env::new("dns");
    let net = env.network("dns_a", "10.213.12.0/24", false);
    env.network("dns_b", "10.213.13.0/24", false);
    let internal = env.network("dns_i", "10.213.14.0/24", true);
    let web = env.container("dns-web", &["dns_a"], &["web", "p-web-1", "WebAlias"]);
    let api1 = env.container("dns-api1", &["dns_a"], &["api", "p-api-1"]);
    let api2 = env.container("dns-api2", &["dns_a"], &["api", "p-api-2"]);
    env.container("dns-hidden", &["dns_b"], &["hidden"]);
    let lonely = env.container("dns-int", &["dns_i"], &["lonely"]);

    let stop = Arc::new(AtomicBool::new(false));
    let upstream = fake_upstream(stop.clone());
    let mut cfg = DnsConfig::new(env.state.records_dir());
    cfg.upstream = Some(vec![upstream]);
    cfg.stop = Some(stop.clone());
    cfg.poll_interval = Duration::from_millis(50);
    let h = std::thread::spawn(move || dns::serve(cfg));
    let _guard = StopGuard(stop, Some(h));

    let ns = env.ns_path(web);
    let gw = net.v4.gateway;
    let deadline = Instant::now() + Duration::from_secs(5);
    while ask(&ns, gw, "web", wire::TYPE_A).is_none() {
        assert!(Instant::now() < deadline, "responder never answered");
    }
    assert_eq!(
        addrs(ask(&ns, gw, "webalias", wire::TYPE_A)),
        vec![env.ip(web)]
    );
    let mut both = vec![env.ip(api1), env.ip(api2)];
    both.sort();
    assert_eq!(addrs(ask(&ns, gw, "api", wire::TYPE_A)), both);
    assert_eq!(addrs(ask_tcp(&ns, gw, "api")), both);
    // Reach a peer by the name the responder gave.
    let p_api1 = addrs(ask(&ns, gw, "p-api-1", wire::TYPE_A));
    assert_eq!(p_api1, vec![env.ip(api1)]);
    let to = tcp_server(
        &env.ns_path(api1),
        SocketAddr::new(p_api1[0], 7012),
        "api-1",
        1,
    );
    assert_eq!(tcp_ask_from(&ns, to).unwrap(), "api-1");
    // Ours, but no IPv6: empty NOERROR, not forwarded.
    assert_eq!(
        ask(&ns, gw, "api", wire::TYPE_AAAA),
        Some((wire::NOERROR, vec![]))
    );
    // PTR.
    let ip1 = env.ip(api1).to_string();
    let rev: Vec<&str> = ip1.split('.').rev().collect();
    let ptr = format!("{}.in-addr.arpa", rev.join("."));
    assert_eq!(
        ask(&ns, gw, &ptr, wire::TYPE_PTR).unwrap().1,
        vec![Rdata::Name("api".into())]
    );
    // Another network's names are not visible (forwarded: the fake says NXDOMAIN).
    assert_eq!(
        ask(&ns, gw, "hidden", wire::TYPE_A).unwrap().0,
        wire::NXDOMAIN
    );
    // Outside names go to the loopback upstream.
    assert_eq!(
        addrs(ask(&ns, gw, "outside.test", wire::TYPE_A)),
        vec!["10.213.99.99".parse::<IpAddr>().unwrap()]
    );
    // An internal-only container gets nothing from outside.
    let lns = env.ns_path(lonely);
    let igw = internal.v4.gateway;
    let deadline = Instant::now() + Duration::from_secs(5);
    while ask(&lns, igw, "lonely", wire::TYPE_A).is_none() {
        assert!(
            Instant::now() < deadline,
            "responder never answered on the internal network"
        );
    }
    assert_eq!(
        ask(&lns, igw, "outside.test", wire::TYPE_A),
        Some((wire::NXDOMAIN, vec![]))
    );

    // Scale down: the removed replica disappears without a restart.
    let api1_ip = env.ip(api1);
    env.remove_container(api2);
    let deadline = Instant::now() + Duration::from_secs(5);
    while addrs(ask(&ns, gw, "api", wire::TYPE_A)) != vec![api1_ip] {
        assert!(Instant::now() < deadline, "removed replica still answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        ask(&ns, gw, "p-api-2", wire::TYPE_A).unwrap().0,
        wire::NXDOMAIN
    );

    // resolv.conf points the container at the responder.
    let rc = dns::container_resolv_conf(&env.containers[web].1, &[], &["ndots:0".into()]);
    assert_eq!(rc, format!("nameserver {gw}\noptions ndots:0\n"));
    drop(_guard);
    env.teardown();
}

#[test]
fn dns_on_another_port_is_reached_through_port_53() {
    if !is_root() {
        return;
    }
    let mut env = Env::new("dnsport");
    let mut spec = berth_netns::NetworkSpec::new("dnsport_a");
    spec.pools_v4 = vec![berth_netns::Pool {
        base: "10.213.20.0/24".parse().unwrap(),
        size: 24,
    }];
    spec.dns_port = 10053;
    let net = env.network_spec(&spec);
    let c1 = env.container("dnsport-c1", &["dnsport_a"], &["solo"]);
    let stop = Arc::new(AtomicBool::new(false));
    let mut cfg = DnsConfig::new(env.state.records_dir());
    cfg.upstream = Some(vec![]);
    cfg.port = 10053;
    cfg.stop = Some(stop.clone());
    cfg.poll_interval = Duration::from_millis(50);
    let h = std::thread::spawn(move || dns::serve(cfg));
    let _guard = StopGuard(stop, Some(h));
    let ns = env.ns_path(c1);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(r) = ask(&ns, net.v4.gateway, "solo", wire::TYPE_A) {
            assert_eq!(addrs(Some(r)), vec![env.ip(c1)]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no answer through the port-53 redirect"
        );
    }
    // No upstream at all: outside names fail fast with SERVFAIL.
    assert_eq!(
        ask(&ns, net.v4.gateway, "outside.test", wire::TYPE_A)
            .unwrap()
            .0,
        wire::SERVFAIL
    );
    drop(_guard);
    env.teardown();
}
