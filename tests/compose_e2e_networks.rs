//! docker compose's `pkg/e2e/networks_test.go` scenarios, run against berth.
//!
//! Each `test_*` is the Go test of the same name (see
//! `../shared/conformance/docker+compose/SCENARIOS.md` and tests/E2E-SCENARIOS.md),
//! its fixture adapted to the busybox test image: `alpine`/`nginx` become
//! `IMAGE`, and what the Go test checked with `docker exec`/`inspect` a container
//! checks from the inside and prints to its log. Tests not named `test_*` are
//! berth's own, on the same commands.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;

use common::scenario::{map, wait_states};
use common::{http_get, states, World};
use std::collections::BTreeMap;

// SCENARIOS.md § TestNetworkModes (networks_test.go): a service whose
// network_mode points at another service shares its namespace. berth has no
// `run` yet: `up -d mydb` starts the provider the same way.
#[test]
fn test_network_modes() {
    let w = World::new();
    let p = w.project(
        "netmodes",
        r#"
services:
  mydb:
    image: IMAGE
    network_mode: "service:db"
    command: ["sh", "-c", "echo mydb $(readlink /proc/self/ns/net); sleep infinity"]
    init: true
  db:
    image: IMAGE
    init: true
    command: ["sh", "-c", "echo db $(readlink /proc/self/ns/net); sleep infinity"]
"#,
    );
    // starts the network provider and shares its namespace
    w.ok(&p, &["up", "-d", "mydb"]);
    wait_states(
        &w,
        &p,
        10,
        &[("netmodes-db-1", "running"), ("netmodes-mydb-1", "running")],
    );
    let mut ns = BTreeMap::new();
    w.wait_until(10, "both namespaces printed", || {
        let logs = w.ok(&p, &["logs", "--no-log-prefix"]);
        ns = logs
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        ns.len() == 2
    });
    assert!(ns["db"].starts_with("net:["), "{ns:?}");
    assert_eq!(ns["db"], ns["mydb"]);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestIPAMConfig (networks_test.go): a fixed ipv4_address must be
// assigned to the service's container. The container prints its own addresses.
#[test]
fn test_ipam_config() {
    let w = World::new();
    let p = w.project(
        "ipam",
        r#"
services:
  foo:
    image: IMAGE
    init: true
    entrypoint: ["sh", "-c", "ip -4 addr; sleep 600"]
    networks:
      default:
        ipv4_address: 10.1.0.100  # <-- Fixed IP address
networks:
  default:
    ipam:
      config:
        - subnet: 10.1.0.0/16
"#,
    );
    // up starts the service
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p), map(&[("ipam-foo-1", "running")]));
    // the container got the fixed IP
    w.wait_until(10, "the address to be printed", || {
        w.ok(&p, &["logs"]).contains("inet 10.1.0.100/16")
    });
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestMacAddress (networks_test.go): a declared mac_address must be
// applied to the container's network endpoint. The container prints its links.
#[test]
fn test_mac_address() {
    let w = World::new();
    let p = w.project(
        "mac",
        r#"
services:
  test:
    image: IMAGE
    init: true
    command: ["sh", "-c", "ip link; sleep infinity"]
    mac_address: 00:e0:84:35:d0:e8
"#,
    );
    // up starts the service
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p), map(&[("mac-test-1", "running")]));
    // the endpoint carries the declared mac address
    w.wait_until(10, "the links to be printed", || {
        w.ok(&p, &["logs"]).contains("link/ether 00:e0:84:35:d0:e8")
    });
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestNetworkAliases (networks_test.go): a network alias and a
// link alias both reach the linked container.
#[test]
fn test_network_aliases() {
    let w = World::new();
    let p = w.project(
        "aliases",
        r#"
services:
  container1:
    image: IMAGE
    init: true
    stop_signal: SIGTERM
    links:
      - container2:container
    command:
      - sh
      - -c
      - |
        until wget -q -O - http://alias-of-container2:8080/ 2>/dev/null; do sleep 0.1; done
        until wget -q -O - http://container:8080/ 2>/dev/null; do sleep 0.1; done
        sleep infinity

  container2:
    image: IMAGE
    init: true
    stop_signal: SIGTERM
    command: ["sh", "-c", "mkdir -p /www && echo served-by-container2 > /www/index.html && exec httpd -f -p 8080 -h /www"]
    networks:
      default:
        aliases:
          - alias-of-container2
"#,
    );
    // up starts both services
    w.ok(&p, &["up", "-d"]);
    // the network alias resolves; the link name resolves
    w.wait_until(30, "both names to answer", || {
        w.ok(&p, &["logs", "--no-log-prefix", "container1"])
            .matches("served-by-container2")
            .count()
            == 2
    });
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestNetworks (networks_test.go): services on several networks,
// some renamed with `name:`, reach each other, publish their ports, and `down`
// takes every network away. The sentences images become busybox: `words`
// serves a word, `web` answers through a CGI script that asks `words` for it.
#[test]
fn test_networks() {
    let w = World::new();
    let p = w.project(
        "network-e2e",
        r#"
services:
  mydb:
    image: IMAGE
    init: true
    command: sleep infinity
    network_mode: "service:db"
  db:
    image: IMAGE
    init: true
    command: sleep infinity
    networks:
      - dbnet
      - closesnetworkname1
      - closesnetworkname2
  words:
    image: IMAGE
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo '{\"word\":\"berth\"}' > /www/noun && exec httpd -f -p 8080 -h /www"]
    ports:
      - "8080"
    networks:
      - dbnet
      - servicenet
  web:
    image: IMAGE
    init: true
    command:
      - sh
      - -c
      - |
        mkdir -p /www/cgi-bin
        printf '#!/bin/sh\necho "Content-Type: application/json"\necho\nwget -q -O - http://words:8080/noun\n' > /www/cgi-bin/noun
        chmod +x /www/cgi-bin/noun
        exec httpd -f -p 80 -h /www
    ports:
      - "80"
    labels:
      - "my-label=test"
    networks:
      - servicenet

networks:
  dbnet:
  servicenet:
    name: microservices
  closesnetworkname1:
    name: closenamenet
  closesnetworkname2:
    name: closenamenet-2
"#,
    );
    w.ok(&p, &["down", "-t0", "-v"]);
    w.ok(&p, &["up", "-d"]);
    assert!(w.ok(&p, &["ps"]).contains("web"));
    let port = w.ok(&p, &["port", "web", "80"]);
    let port: u16 = port.trim().rsplit(':').next().unwrap().parse().unwrap();
    let mut body = String::new();
    w.wait_until(20, "web to answer with a word", || {
        body = http_get(port, "/cgi-bin/noun").unwrap_or_default();
        body.contains(r#""word":"#)
    });
    assert!(
        body.lines().next().unwrap_or("").contains(" 200 "),
        "{body}"
    );
    let networks = || {
        std::fs::read_dir(w.root().join("networks"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let nets = networks();
    for want in [
        "network-e2e_dbnet",
        "microservices",
        "closenamenet",
        "closenamenet-2",
    ] {
        assert!(nets.iter().any(|n| n.starts_with(want)), "{want}: {nets:?}");
    }
    let port = w.ok(&p, &["port", "words", "8080"]);
    assert!(port.contains("0.0.0.0:"), "{port}");
    w.ok(&p, &["down", "-t0", "-v"]);
    let nets = networks();
    assert!(
        !nets
            .iter()
            .any(|n| n.contains("network-e2e") || n.contains("microservices")),
        "{nets:?}"
    );
    w.assert_clean();
}

// SCENARIOS.md § TestInterfaceName (networks_test.go): a declared interface_name
// must name the network interface inside the container.
#[test]
fn test_interface_name() {
    let w = World::new();
    let p = w.project(
        "ifname",
        r#"
services:
  test:
    image: IMAGE
    command: ip link show
    networks:
      default:
        interface_name: foobar
"#,
    );
    // the container sees its interface under the declared name
    let out = w.ok(&p, &["run", "--rm", "test"]);
    assert!(out.contains("foobar@"), "{out}");
    assert!(!out.contains("eth0"), "{out}");
    w.ok(&p, &["down"]);
    w.assert_clean();
}

// SCENARIOS.md § TestNetworkLinks (networks_test.go): links must resolve between
// services on docker's default bridge network (`network_mode: bridge`), which
// has no DNS by name: the link is a line of /etc/hosts. nginx becomes busybox
// httpd serving a page of its own.
#[test]
fn test_network_links() {
    let w = World::new();
    let p = w.project(
        "netlinks",
        r#"
services:
  container1:
    image: IMAGE
    init: true
    stop_signal: SIGTERM
    network_mode: bridge
    command: ["sh", "-c", "mkdir -p /www && echo 'Welcome to busybox httpd!' > /www/index.html && httpd -f -p 80 -h /www"]
  container2:
    image: IMAGE
    init: true
    stop_signal: SIGTERM
    network_mode: bridge
    command: sleep infinity
    links:
      - container1
"#,
    );
    // up starts both services
    w.ok(&p, &["up", "-d"]);
    wait_states(
        &w,
        &p,
        10,
        &[
            ("netlinks-container1-1", "running"),
            ("netlinks-container2-1", "running"),
        ],
    );
    // the linked name resolves over the bridge network
    let mut last = String::new();
    w.wait_until(10, "container1's page through the link", || {
        let out = w.berth_in(
            &p,
            &[
                "exec",
                "-T",
                "container2",
                "wget",
                "-q",
                "-O",
                "-",
                "http://container1/",
            ],
        );
        last = common::scenario::combined(&out);
        last.contains("Welcome to busybox httpd!")
    });
    // both are on the one `bridge` network, which `down` leaves to the last
    // container on it: removing them takes it away
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

/// The IPv4 address of `service`'s eth0, as the container sees it.
fn eth0_address(w: &World, p: &std::path::Path, service: &str) -> String {
    let out = w.ok(
        p,
        &[
            "exec", "-T", service, "ip", "-4", "-o", "addr", "show", "eth0",
        ],
    );
    out.split_whitespace()
        .skip_while(|f| *f != "inet")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

// SCENARIOS.md § TestNetworkConfigChanged (networks_test.go): a network subnet
// change must recreate the network and re-address the attached containers,
// which are reconnected, not recreated. The subnets are uncommon ones, so that
// tests running beside this one do not hold them.
#[test]
fn test_network_config_changed() {
    let w = World::new();
    let p = w.project(
        "netchanged",
        r#"
services:
  test:
    image: IMAGE
    init: true
    command: sleep infinity
    networks:
      - test

networks:
  test:
    ipam:
      config:
        - subnet: ${SUBNET-10.213.0.0/16}
"#,
    );
    // up addresses the service in the default subnet
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p), map(&[("netchanged-test-1", "running")]));
    let before = common::scenario::ids(&w, &p);
    // the container's IP belongs to the default subnet
    assert!(eth0_address(&w, &p, "test").starts_with("10.213."));
    // up with a changed subnet replaces the network, reconnecting the same container
    let out = w.berth_env(&p, &["up", "-d"], &[("SUBNET", "10.214.0.0/16")]);
    let all = common::scenario::combined(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("Network netchanged_test Removed"), "{all}");
    assert!(all.contains("Network netchanged_test Created"), "{all}");
    assert_eq!(states(&w, &p), map(&[("netchanged-test-1", "running")]));
    assert_eq!(common::scenario::ids(&w, &p), before, "recreated:\n{all}");
    // the container's IP moved to the new subnet
    let addr = eth0_address(&w, &p, "test");
    assert!(addr.starts_with("10.214."), "{addr}");
    // and its resolver, the new gateway, and its own line in /etc/hosts followed
    let resolv = w.ok(&p, &["exec", "-T", "test", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 10.214."), "{resolv}");
    let hosts = w.ok(&p, &["exec", "-T", "test", "cat", "/etc/hosts"]);
    let ip = addr.split('/').next().unwrap();
    assert!(hosts.contains(ip), "{hosts}");
    assert!(!hosts.contains("10.213."), "{hosts}");
    // and an unchanged up leaves network and container alone
    let out = w.berth_env(&p, &["up", "-d"], &[("SUBNET", "10.214.0.0/16")]);
    let all = common::scenario::combined(&out);
    assert!(!all.contains("Network netchanged_test"), "{all}");
    assert!(all.contains("Container netchanged-test-1 Running"), "{all}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestNetworkRecreate (networks_test.go): a changed network label
// must stop the containers on it and bring them back on the new network.
#[test]
fn test_network_recreate() {
    let w = World::new();
    let p = w.project(
        "network_recreate",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: sleep infinity
    networks:
      - test

networks:
  test:
    labels:
      - foo=${FOO:-foo}
"#,
    );
    w.ok(&p, &["up", "-d"]);
    let out = w.berth_env(&p, &["--progress=plain", "up", "-d"], &[("FOO", "bar")]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Stopped"), "missing expected events: {err}");
    assert!(
        err.contains("Started") || err.contains("Recreated"),
        "missing expected events: {err}"
    );
    assert_eq!(
        states(&w, &p),
        map(&[("network_recreate-web-1", "running")])
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// berth's own: the default `bridge` network belongs to no project: two
// projects share it, `down` of one leaves it to the other (whose container
// keeps its address there), and it goes with the last container on it.
#[test]
fn default_bridge_is_shared_and_outlives_a_projects_down() {
    let w = World::new();
    let yaml = r#"
services:
  app:
    image: IMAGE
    init: true
    network_mode: bridge
    command: sleep infinity
"#;
    let a = w.project("bridgea", yaml);
    let b = w.project("bridgeb", yaml);
    w.ok(&a, &["up", "-d"]);
    w.ok(&b, &["up", "-d"]);
    let addr_a = eth0_address(&w, &a, "app");
    let addr_b = eth0_address(&w, &b, "app");
    assert_ne!(addr_a, addr_b);
    // the same subnet: one network
    let net = |a: &str| {
        a.rsplit_once('.')
            .map(|x| x.0)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(net(&addr_a), net(&addr_b), "{addr_a} {addr_b}");
    let out = w.berth_in(&a, &["down", "-t", "0"]);
    let all = common::scenario::combined(&out);
    assert!(out.status.success(), "{all}");
    assert!(!all.contains("Network bridge"), "{all}");
    assert!(w.root().join("run/net/networks/bridge.json").exists());
    assert_eq!(eth0_address(&w, &b, "app"), addr_b);
    w.ok(&b, &["down", "-t", "0"]);
    assert!(!w.root().join("run/net/networks/bridge.json").exists());
    w.assert_clean();
}

/// `/sys/class/net/lo/flags` inside `service`: 0x9 is up (IFF_UP | IFF_LOOPBACK).
fn lo_flags(w: &World, p: &std::path::Path, service: &str) -> String {
    let out = w.ok(
        p,
        &["exec", "-T", service, "cat", "/sys/class/net/lo/flags"],
    );
    out.trim().to_string()
}

/// A reboot, as the state root sees one: every process and network namespace
/// gone and the run dir (tmpfs on most hosts) empty. Only this root's pins are
/// touched, and the project's containers are stopped first.
fn reboot(w: &World) {
    let run = w.root().join("run");
    for pin in std::fs::read_dir(run.join("netns")).unwrap().flatten() {
        let c = std::ffi::CString::new(pin.path().as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(
            unsafe { libc::umount2(c.as_ptr(), 0) },
            0,
            "{:?}",
            pin.path()
        );
    }
    std::fs::remove_dir_all(&run).unwrap();
}

#[test]
fn network_mode_none_has_loopback_up_and_starts_again_after_a_reboot() {
    let w = World::new();
    let p = w.project(
        "netnone",
        r#"
services:
  solo:
    image: IMAGE
    network_mode: none
    command: ["sleep", "3600"]
"#,
    );
    w.ok(&p, &["up", "-d"]);
    // docker's `none`: alone with a loopback that is up.
    assert_eq!(lo_flags(&w, &p, "solo"), "0x9");
    w.ok(&p, &["stop", "-t", "0"]);
    reboot(&w);
    // The next `up` starts it again (its namespace made anew), as docker does.
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p), map(&[("netnone-solo-1", "running")]));
    assert_eq!(lo_flags(&w, &p, "solo"), "0x9");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
