//! `cargo bench -p berth-netns --bench netns` (root): per-container attach/detach,
//! 50 in a row, berth vs `ip` commands in the same run; TCP throughput through a
//! published port vs direct to the container address. Traffic stays on this host:
//! loopback, the bench's bridge, and the bench's namespaces.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_netns::{
    attach, detach, publish, AttachRequest, Netns, Network, NetworkSpec, Pool, PortSpec, Protocol,
    StateDir,
};

/// Containers per series: 50 under `cargo bench`; a 3-container smoke run under
/// `cargo test --all-targets` (which runs this binary without `--bench`).
fn n() -> usize {
    if full() {
        50
    } else {
        3
    }
}

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn report(what: &str, v: &mut [f64]) -> f64 {
    let p50 = pct(v, 0.5);
    println!(
        "{what:<44} p50 {p50:7.3} ms  p90 {:7.3} ms  max {:7.3} ms",
        pct(v, 0.9),
        pct(v, 1.0)
    );
    p50
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("run ip");
    assert!(st.success(), "ip {args:?}");
}

/// Attach/detach with berth, state dir at `state_dir`; returns (attach p50, detach p50).
fn berth_attach(label: &str, state_dir: &Path, run: &Path, net: &str) -> (f64, f64) {
    let state = StateDir::new(state_dir).unwrap();
    let mut at = Vec::new();
    let mut de = Vec::new();
    for i in 0..n() {
        let id = format!("bench-{}-{i}", label.split_whitespace().next().unwrap());
        let t = Instant::now();
        let ns = Netns::create(run, &id).unwrap();
        let a = attach(
            &state,
            &ns,
            &id,
            &[AttachRequest {
                network: net.into(),
                ..Default::default()
            }],
        )
        .unwrap();
        at.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        detach(&state, &a).unwrap();
        ns.remove().unwrap();
        de.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let a = report(&format!("berth attach (state on {label})"), &mut at);
    let d = report(&format!("berth detach (state on {label})"), &mut de);
    (a, d)
}

fn ip_attach(bridge: &str, gw: IpAddr, mtu: u32) -> (f64, f64) {
    let mut at = Vec::new();
    let mut de = Vec::new();
    let mtu = mtu.to_string();
    let gw = gw.to_string();
    for i in 0..n() {
        let ns = format!("bthbench{i}");
        let veth = format!("bthbip{i}");
        let addr = format!("{}.{}/24", gw.rsplit_once('.').unwrap().0, 100 + i);
        let t = Instant::now();
        ip(&["netns", "add", &ns]);
        ip(&[
            "link", "add", &veth, "mtu", &mtu, "master", bridge, "up", "type", "veth", "peer",
            "name", "eth0", "netns", &ns,
        ]);
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"]);
        ip(&["-n", &ns, "route", "add", "default", "via", &gw]);
        at.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        ip(&["netns", "del", &ns]);
        de.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let a = report("ip commands attach", &mut at);
    let d = report("ip commands detach (ip netns del)", &mut de);
    (a, d)
}

/// Receive and discard in the namespace at `ns`, on `addr`.
fn sink(ns: &Path, addr: SocketAddr, conns: usize) {
    let f = std::fs::File::open(ns).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: setns affects only this thread.
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
        let l = TcpListener::bind(addr).unwrap();
        tx.send(()).unwrap();
        let mut buf = vec![0u8; 256 * 1024];
        for _ in 0..conns {
            let (mut s, _) = l.accept().unwrap();
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        }
    });
    rx.recv().unwrap();
}

fn send(to: SocketAddr, bytes: usize) -> f64 {
    let buf = vec![0x5au8; 256 * 1024];
    let t = Instant::now();
    let mut s = TcpStream::connect(to).unwrap();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(buf.len());
        s.write_all(&buf[..n]).unwrap();
        left -= n;
    }
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut b = [0u8; 1];
    let _ = s.read(&mut b); // wait for the receiver to close: everything arrived
    bytes as f64 * 8.0 / t.elapsed().as_secs_f64() / 1e9
}

struct Cleanup {
    state: PathBuf,
    base: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for i in 0..n() {
            let _ = Command::new("ip")
                .args(["netns", "del", &format!("bthbench{i}")])
                .stderr(std::process::Stdio::null())
                .status();
        }
        if let Ok(state) = StateDir::new(&self.state) {
            for rec in state.networks().unwrap_or_default() {
                let _ = berth_netns::network::Network::remove(&state, &rec.info.name);
            }
        }
        let tmpfs = self.base.join("tmpfs");
        if let Ok(c) = std::ffi::CString::new(tmpfs.to_string_lossy().as_bytes()) {
            // SAFETY: valid path; failure (not mounted) is fine.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("netns bench needs root; skipped");
        return;
    }
    let base = PathBuf::from(format!("/tmp/berth-netns-bench-{}", std::process::id()));
    let state_disk = base.join("state");
    // /run is a tmpfs on most hosts (not on this VM): give the bench one, so the
    // numbers show both a tmpfs state dir and the ext4 one.
    let tmpfs = base.join("tmpfs");
    std::fs::create_dir_all(&tmpfs).unwrap();
    let _c = Cleanup {
        state: state_disk.clone(),
        base: base.clone(),
    };
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m", "berth-bench"])
        .arg(&tmpfs)
        .status()
        .unwrap();
    assert!(st.success(), "mount tmpfs");
    let state_tmpfs = tmpfs.join("state");
    let run = tmpfs.join("run");
    let state = StateDir::new(&state_disk).unwrap();
    let mut spec = NetworkSpec::new("bench");
    spec.pools_v4 = vec![Pool {
        base: "10.213.200.0/24".parse().unwrap(),
        size: 24,
    }];
    let info = Network::ensure(&spec, &state).unwrap();
    // The tmpfs state dir shares the same network: copy the record once.
    std::fs::create_dir_all(state_tmpfs.join("networks")).unwrap();
    std::fs::copy(
        state_disk.join("networks/bench.json"),
        state_tmpfs.join("networks/bench.json"),
    )
    .unwrap();

    println!(
        "== attach/detach, {} containers in a row (namespace + veth + address + route) ==",
        n()
    );
    // Warm up page cache and code paths.
    let _ = berth_attach("warmup", &state_tmpfs, &run, "bench");
    println!("--");
    let (ba_disk, bd_disk) = berth_attach("ext4 (fsync)", &state_disk, &run, "bench");
    let (ba_tmp, bd_tmp) = berth_attach("tmpfs", &state_tmpfs, &run, "bench");
    let (ia, id) = ip_attach(&info.bridge, info.v4.gateway, info.mtu);
    std::fs::remove_file(state_tmpfs.join("networks/bench.json")).unwrap();
    println!(
        "ratio ip/berth attach: {:.1}x (disk state) {:.1}x (tmpfs state); detach: {:.1}x / {:.1}x",
        ia / ba_disk,
        ia / ba_tmp,
        id / bd_disk,
        id / bd_tmp
    );
    println!("targets: attach <= 2 ms p50, detach <= 0.5 ms");

    println!("== TCP throughput, published port vs direct ==");
    let ns = Netns::create(&run, "bench-tput").unwrap();
    let a = attach(
        &state,
        &ns,
        "bench-tput",
        &[AttachRequest {
            network: "bench".into(),
            ..Default::default()
        }],
    )
    .unwrap();
    let p = publish(
        &state,
        &a[0],
        &[PortSpec {
            host_ip: None,
            host_ports: None,
            container_ports: (5001, 5001),
            protocol: Protocol::Tcp,
        }],
    )
    .unwrap();
    let hp = p[0].host_port;
    let (bytes, rounds) = if full() {
        (1usize << 30, 5)
    } else {
        (8 << 20, 1)
    };
    sink(ns.path(), SocketAddr::new(a[0].ipv4, 5001), rounds * 3);
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let (mut direct, mut via_lo, mut via_gw) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        direct.push(send(SocketAddr::new(a[0].ipv4, 5001), bytes));
        via_lo.push(send(SocketAddr::new(lo, hp), bytes));
        via_gw.push(send(SocketAddr::new(info.v4.gateway, hp), bytes));
    }
    let med = |v: &mut Vec<f64>| pct(v, 0.5);
    let (d, l, g) = (med(&mut direct), med(&mut via_lo), med(&mut via_gw));
    println!(
        "direct to {}:5001           {d:6.2} Gbit/s (median of {rounds} x {} MiB)",
        a[0].ipv4,
        bytes >> 20
    );
    println!(
        "published 127.0.0.1:{hp}     {l:6.2} Gbit/s  ratio {:.2}",
        l / d
    );
    println!(
        "published {}:{hp}  {g:6.2} Gbit/s  ratio {:.2}",
        info.v4.gateway,
        g / d
    );
    println!("target: published >= 0.90 of direct");
    detach(&state, &a).unwrap();
    ns.remove().unwrap();
    std::thread::sleep(Duration::from_millis(100));
}
