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
