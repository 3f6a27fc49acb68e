//! Root-only: bridges, veths, addresses, isolation and teardown, in namespaces the
//! test makes. Traffic goes only to addresses of those namespaces.

mod common;

use std::net::SocketAddr;

use common::*;

#[test]
fn same_network_reaches_other_network_does_not() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let mut env = Env::new("reach");
    let a = env.network("reach_a", "10.213.1.0/24", false);
    env.network("reach_b", "10.213.2.0/24", false);
    assert_eq!(a.v4.subnet.to_string(), "10.213.1.0/24");
    assert!(a.bridge.starts_with("bth") && a.bridge.len() <= 15);
    let c1 = env.container("reach-c1", &["reach_a"], &["one"]);
    let c2 = env.container("reach-c2", &["reach_a"], &["two"]);
    let c3 = env.container("reach-c3", &["reach_b"], &["three"]);
    assert_eq!(env.containers[c1].1[0].ifname, "eth0");
    let to2 = tcp_server(
        &env.ns_path(c2),
        SocketAddr::new(env.ip(c2), 7001),
        "from-c2",
        2,
    );
    assert_eq!(tcp_ask_from(&env.ns_path(c1), to2).unwrap(), "from-c2");
    assert!(
        tcp_ask_from(&env.ns_path(c3), to2).is_err(),
        "other network must not reach"
    );
    // Outbound: masquerade for the subnet in the network's own table.
    let t = std::process::Command::new("nft")
        .args(["list", "table", "inet", &a.bridge])
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&t.stdout);
    assert!(
        t.contains("ip saddr 10.213.1.0/24 oifname != ") && t.contains("masquerade"),
        "{t}"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .unwrap()
            .trim(),
        "1"
    );
    // The host reaches a container directly through the bridge.
    assert_eq!(tcp_ask(to2).unwrap(), "from-c2");
    // Connecting c1 to the second network later adds eth1, and c3 is reachable.
    let ns1 = env.containers[c1].0.take().unwrap();
    let more = berth_netns::attach(
        &env.state,
        &ns1,
        "reach-c1",
        &[berth_netns::AttachRequest {
            network: "reach_b".into(),
            ..Default::default()
        }],
    );
    env.containers[c1].0 = Some(ns1);
    let more = more.unwrap();
    assert_eq!(more[0].ifname, "eth1");
    env.containers[c1].1.extend(more);
    let to3 = tcp_server(
        &env.ns_path(c3),
        SocketAddr::new(env.ip(c3), 7004),
        "from-c3",
        1,
    );
    assert_eq!(tcp_ask_from(&env.ns_path(c1), to3).unwrap(), "from-c3");
    env.teardown();
}

#[test]
fn internal_network_has_no_way_out() {
    if !is_root() {
        return;
    }
    let mut env = Env::new("internal");
    env.network("int_in", "10.213.3.0/24", true);
    env.network("int_out", "10.213.4.0/24", false);
    let c1 = env.container("int-c1", &["int_in"], &[]);
    let c2 = env.container("int-c2", &["int_out"], &[]);
    let c3 = env.container("int-c3", &["int_in"], &[]);
    // Inside the internal network: fine.
    let to3 = tcp_server(&env.ns_path(c3), SocketAddr::new(env.ip(c3), 7002), "c3", 1);
    assert_eq!(tcp_ask_from(&env.ns_path(c1), to3).unwrap(), "c3");
    // No default route, and the host does not forward off the bridge.
    let to2 = tcp_server(&env.ns_path(c2), SocketAddr::new(env.ip(c2), 7003), "c2", 1);
    assert!(
        tcp_ask_from(&env.ns_path(c1), to2).is_err(),
        "internal network reached out"
    );
    assert!(!env.containers[c1].1[0].default_route);
    env.teardown();
}

#[test]
fn two_interfaces_static_ip_and_ip_range() {
    if !is_root() {
        return;
    }
    let mut env = Env::new("multi");
    let mut spec = berth_netns::NetworkSpec::new("multi_a");
    spec.ipam.push(berth_netns::IpamConfig {
        subnet: Some("10.213.5.0/24".parse().unwrap()),
        gateway: Some("10.213.5.254".parse().unwrap()),
        ip_range: Some("10.213.5.128/25".parse().unwrap()),
    });
    let a = env.network_spec(&spec);
    assert_eq!(a.v4.gateway.to_string(), "10.213.5.254");
    env.network("multi_b", "10.213.6.0/24", false);
    let ns = berth_netns::Netns::create(&env.run, "multi-c1").unwrap();
    let reqs = vec![
        berth_netns::AttachRequest {
            network: "multi_a".into(),
            ..Default::default()
        },
        berth_netns::AttachRequest {
            network: "multi_b".into(),
            ipv4: Some("10.213.6.77".parse().unwrap()),
            mac: Some([0x02, 0x42, 0, 0, 0, 0x77]),
            ..Default::default()
        },
    ];
    let atts = berth_netns::attach(&env.state, &ns, "multi-c1", &reqs).unwrap();
    assert_eq!(atts[0].ifname, "eth0");
    assert_eq!(atts[0].ipv4.to_string(), "10.213.5.128");
    assert_eq!(atts[1].ifname, "eth1");
    assert_eq!(atts[1].ipv4.to_string(), "10.213.6.77");
    let p = ns.path().to_path_buf();
    env.containers.push((Some(ns), atts));
    // sysfs shows the mounter's namespace, so ask iproute2 from inside instead.
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net={}", p.display()))
        .args(["ip", "-br", "link", "show", "eth1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("02:42:00:00:00:77"));
    // The static address is taken: a second container cannot have it.
    let ns2 = berth_netns::Netns::create(&env.run, "multi-c2").unwrap();
    let err = berth_netns::attach(&env.state, &ns2, "multi-c2", &reqs[1..]).unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
    env.containers.push((Some(ns2), Vec::new()));
    // Overlapping an existing network's subnet is refused.
    let mut clash = berth_netns::NetworkSpec::new("multi_clash");
    clash.ipam.push(berth_netns::IpamConfig {
        subnet: Some("10.213.6.0/25".parse().unwrap()),
        ..Default::default()
    });
    assert!(berth_netns::Network::ensure(&clash, &env.state).is_err());
    env.teardown();
}

#[test]
fn two_state_roots_never_share_a_subnet() {
    if !is_root() {
        return;
    }
    let mut one = Env::new("rootone");
    let mut two = Env::new("roottwo");
    // Same network name, same pool, different state roots.
    let mut spec = berth_netns::NetworkSpec::new("shared_name");
    spec.pools_v4 = vec![berth_netns::Pool {
        base: "10.213.16.0/23".parse().unwrap(),
        size: 24,
    }];
    let a = one.network_spec(&spec);
    let b = two.network_spec(&spec);
    assert_ne!(a.bridge, b.bridge);
    assert!(
        !a.v4.subnet.overlaps(&b.v4.subnet),
        "{} vs {}",
        a.v4.subnet,
        b.v4.subnet
    );
    // ensure is idempotent: the same record comes back.
    let again = one.network_spec(&spec);
    assert_eq!(again, a);
    one.teardown();
    two.teardown();
}

#[test]
fn ipv6_when_asked() {
    if !is_root() {
        return;
    }
    let mut env = Env::new("six");
    let mut spec = berth_netns::NetworkSpec::new("six_a");
    spec.enable_ipv6 = true;
    spec.pools_v4 = vec![berth_netns::Pool {
        base: "10.213.17.0/24".parse().unwrap(),
        size: 24,
    }];
    spec.pools_v6 = vec![berth_netns::Pool {
        base: "fd42:b0e7:213:17::/64".parse().unwrap(),
        size: 64,
    }];
    let info = env.network_spec(&spec);
    let v6 = info.v6.expect("v6 subnet");
    assert_eq!(v6.subnet.to_string(), "fd42:b0e7:213:17::/64");
    let c1 = env.container("six-c1", &["six_a"], &[]);
    let c2 = env.container("six-c2", &["six_a"], &[]);
    let (ip2, _) = env.containers[c2].1[0].ipv6.expect("v6 address");
    let to = tcp_server(&env.ns_path(c2), SocketAddr::new(ip2, 7006), "six", 2);
    assert_eq!(tcp_ask_from(&env.ns_path(c1), to).unwrap(), "six");
    // A published port reaches the container's IPv6 address from the host's
    // (bridge) IPv6 address.
    let att = env.containers[c2].1[0].clone();
    let spec = berth_netns::PortSpec {
        host_ip: None,
        host_ports: None,
        container_ports: (7006, 7006),
        protocol: berth_netns::Protocol::Tcp,
    };
    let p = berth_netns::publish(&env.state, &att, &[spec]).unwrap();
    assert_eq!(
        tcp_ask(SocketAddr::new(v6.gateway, p[0].host_port)).unwrap(),
        "six"
    );
    env.teardown();
}

#[test]
fn concurrent_attaches_get_distinct_addresses() {
    if !is_root() {
        return;
    }
    let mut env = Env::new("conc");
    env.network("conc_a", "10.213.18.0/24", false);
    let state = env.state.clone();
    let run = env.run.clone();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let state = state.clone();
            let run = run.clone();
            std::thread::spawn(move || {
                let id = format!("conc-c{i}");
                let ns = berth_netns::Netns::create(&run, &id).unwrap();
                let req = berth_netns::AttachRequest {
                    network: "conc_a".into(),
                    ..Default::default()
                };
                let a = berth_netns::attach(&state, &ns, &id, &[req]);
                (ns, a)
            })
        })
        .collect();
    let mut ips = Vec::new();
    for h in handles {
        let (ns, a) = h.join().unwrap();
        let a = a.expect("attach");
        ips.push(a[0].ipv4);
        env.containers.push((Some(ns), a));
    }
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 8);
    env.teardown();
}

#[test]
fn crashed_process_leftovers_converge() {
    if !is_root() {
        return;
    }
    let mut env = Env::new("crash");
    env.network("crash_a", "10.213.19.0/24", false);
    let c1 = env.container("crash-c1", &["crash_a"], &["x"]);
    let pin = env.ns_path(c1);
    // A process killed after attach: the namespace goes, detach never ran.
    let (ns, _atts) = std::mem::take(&mut env.containers[c1]);
    ns.unwrap().remove().unwrap();
    // A stale, unmounted pin file with the same name is taken over.
    std::fs::write(&pin, b"").unwrap();
    let ns = berth_netns::Netns::create(&env.run, "crash-c1").unwrap();
    ns.remove().unwrap();
    // The network still goes away: the member whose veth is gone is pruned.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match berth_netns::Network::remove(&env.state, "crash_a") {
            Ok(()) => break,
            // The kernel reaps the veth asynchronously.
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("{e}"),
        }
    }
    env.teardown();
}
