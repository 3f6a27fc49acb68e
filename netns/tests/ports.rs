//! Root-only: published ports reach a listener inside a namespace from 127.0.0.1,
//! from a host address (the bridge gateway, which the test created) and from other
//! containers via that address; TCP and UDP; gone after unpublish.

mod common;

use std::net::{IpAddr, SocketAddr};

use berth_netns::{publish, unpublish, PortSpec, Protocol};
use common::*;

#[test]
fn published_ports_tcp_udp_loopback_host_and_containers() {
    if !is_root() {
        return;
    }
    let mut env = Env::new("ports");
    let net = env.network("ports_a", "10.213.10.0/24", false);
    let other = env.network("ports_b", "10.213.11.0/24", false);
    let c1 = env.container("ports-c1", &["ports_a"], &[]);
    let c2 = env.container("ports-c2", &["ports_a"], &[]);
    let c3 = env.container("ports-c3", &["ports_b"], &[]);
    let att = env.containers[c1].1[0].clone();
    let specs = [
        PortSpec {
            host_ip: None,
            host_ports: None,
            container_ports: (80, 80),
            protocol: Protocol::Tcp,
        },
        PortSpec {
            host_ip: None,
            host_ports: None,
            container_ports: (53, 53),
            protocol: Protocol::Udp,
        },
        PortSpec {
            host_ip: Some("127.0.0.1".parse().unwrap()),
            host_ports: Some((18790, 18799)),
            container_ports: (81, 81),
            protocol: Protocol::Tcp,
        },
    ];
    let published = publish(&env.state, &att, &specs).unwrap();
    assert_eq!(published.len(), 3);
    assert!((18790..=18799).contains(&published[2].host_port));
    let tcp_port = published[0].host_port;
    let udp_port = published[1].host_port;
    let ns1 = env.ns_path(c1);
    let ip1 = env.ip(c1);
    tcp_server(&ns1, SocketAddr::new(ip1, 80), "tcp-80", 4);
    tcp_server(&ns1, SocketAddr::new(ip1, 81), "tcp-81", 1);
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!(tcp_ask(SocketAddr::new(lo, tcp_port)).unwrap(), "tcp-80");
    assert_eq!(
        tcp_ask(SocketAddr::new(net.v4.gateway, tcp_port)).unwrap(),
        "tcp-80"
    );
    assert_eq!(
        tcp_ask(SocketAddr::new(lo, published[2].host_port)).unwrap(),
        "tcp-81"
    );
    // From another container on the same network (hairpin) and from another network,
    // each through its own gateway address.
    assert_eq!(
        tcp_ask_from(&env.ns_path(c2), SocketAddr::new(net.v4.gateway, tcp_port)).unwrap(),
        "tcp-80"
    );
    assert_eq!(
        tcp_ask_from(
            &env.ns_path(c3),
            SocketAddr::new(other.v4.gateway, tcp_port)
        )
        .unwrap(),
        "tcp-80"
    );
    // UDP.
    udp_server(&ns1, SocketAddr::new(ip1, 53), "udp-53");
    assert_eq!(udp_ask(SocketAddr::new(lo, udp_port)).unwrap(), "udp-53");
    // Gone after unpublish.
    unpublish(&env.state, &att).unwrap();
    assert!(tcp_ask(SocketAddr::new(lo, tcp_port)).is_err());
    // Published again, then removed by detach alone.
    let again = publish(&env.state, &att, &specs[..1]).unwrap();
    assert_eq!(again.len(), 1);
    env.remove_container(c1);
    env.teardown();
}
