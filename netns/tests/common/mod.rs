//! Shared helpers for the root-only integration tests: a guard owning every kernel
//! object a test makes, removed in Drop even when the test fails.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_netns::{
    attach, detach, AttachRequest, Attachment, Netns, Network, NetworkInfo, NetworkSpec, Pool,
    StateDir,
};

/// Skip (return early) unless root: these tests create namespaces and bridges.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Everything one test owns.
pub struct Env {
    pub name: String,
    pub run: PathBuf,
    pub state: StateDir,
    pub nets: Vec<String>,
    pub containers: Vec<(Option<Netns>, Vec<Attachment>)>,
}

impl Env {
    pub fn new(name: &str) -> Env {
        let base = PathBuf::from(format!(
            "/tmp/berth-netns-test-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&base);
        let run = base.join("run");
        let state = StateDir::new(&base.join("state")).expect("state dir");
        Env {
            name: name.to_string(),
            run,
            state,
            nets: Vec::new(),
            containers: Vec::new(),
        }
    }

    /// A network whose subnets come only from `pool` (e.g. "10.213.1.0/24").
    pub fn network(&mut self, net: &str, pool: &str, internal: bool) -> NetworkInfo {
        let mut spec = NetworkSpec::new(net);
        spec.pools_v4 = vec![Pool {
            base: pool.parse().unwrap(),
            size: pool.split('/').nth(1).unwrap().parse().unwrap(),
        }];
        spec.internal = internal;
        self.network_spec(&spec)
    }

    pub fn network_spec(&mut self, spec: &NetworkSpec) -> NetworkInfo {
        self.nets.push(spec.name.clone());
        Network::ensure(spec, &self.state).expect("network ensure")
    }

    /// A container namespace attached to `nets` with DNS `names` on each.
    pub fn container(&mut self, id: &str, nets: &[&str], names: &[&str]) -> usize {
        let ns = Netns::create(&self.run, id).expect("netns create");
        let reqs: Vec<AttachRequest> = nets
            .iter()
            .map(|n| AttachRequest {
                network: n.to_string(),
                names: names.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            })
            .collect();
        let r = attach(&self.state, &ns, id, &reqs);
        self.containers.push((Some(ns), Vec::new()));
        let i = self.containers.len() - 1;
        self.containers[i].1 = r.expect("attach");
        i
    }

    pub fn ns_path(&self, c: usize) -> PathBuf {
        self.containers[c].0.as_ref().unwrap().path().to_path_buf()
    }

    pub fn ip(&self, c: usize) -> std::net::IpAddr {
        self.containers[c].1[0].ipv4
    }

    /// Detach and drop container `c`.
    pub fn remove_container(&mut self, c: usize) {
        let (ns, atts) = std::mem::take(&mut self.containers[c]);
        detach(&self.state, &atts).expect("detach");
        if let Some(ns) = ns {
            ns.remove().expect("netns remove");
        }
    }

    /// Tear everything down now and assert nothing is left.
    pub fn teardown(mut self) {
        let bridges: Vec<String> = self
            .nets
            .iter()
            .filter_map(|n| Network::get(&self.state, n).ok())
            .map(|i| i.bridge)
            .collect();
        let veths: Vec<String> = self
            .containers
            .iter()
            .flat_map(|c| c.1.iter().map(|a| a.host_veth.clone()))
            .collect();
        let run = self.run.clone();
        self.cleanup();
        std::mem::forget(self);
        let tables = std::process::Command::new("nft")
            .args(["list", "tables"])
            .output()
            .unwrap();
        let tables = String::from_utf8_lossy(&tables.stdout);
        for b in &bridges {
            assert!(!tables.contains(b.as_str()), "nft table {b} left: {tables}");
            assert!(
                !Path::new(&format!("/sys/class/net/{b}")).exists(),
                "bridge {b} left"
            );
        }
        for v in &veths {
            assert!(!tables.contains(v.as_str()), "nft table of {v} left");
        }
        // Host veth ends go when the kernel reaps the dropped namespaces (async),
        // and once test server threads parked in a namespace (≤ 5 s) are done.
        let deadline = std::time::Instant::now() + Duration::from_secs(8);
        for v in &veths {
            while Path::new(&format!("/sys/class/net/{v}")).exists() {
                assert!(std::time::Instant::now() < deadline, "veth {v} left");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let left: Vec<_> = std::fs::read_dir(run.join("netns"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "netns files left: {left:?}");
    }

    fn cleanup(&mut self) {
        for c in 0..self.containers.len() {
            let (ns, atts) = std::mem::take(&mut self.containers[c]);
            let _ = detach(&self.state, &atts);
            if let Some(ns) = ns {
                let _ = ns.remove();
            }
        }
        for n in self.nets.drain(..).rev() {
            if let Err(e) = Network::remove(&self.state, &n) {
                if !e.to_string().contains("does not exist") {
                    eprintln!("cleanup of network {n}: {e}");
                }
            }
        }
        let _ = std::fs::remove_dir_all(self.run.parent().unwrap());
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Run `f` on a thread inside the namespace at `path`.
pub fn in_ns<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let f_ns = std::fs::File::open(path).expect("open netns");
    std::thread::spawn(move || {
        // SAFETY: setns affects only this thread.
        assert_eq!(
            unsafe { libc::setns(f_ns.as_raw_fd(), libc::CLONE_NEWNET) },
            0,
            "setns"
        );
        f()
    })
}

/// Bind a TCP listener inside a namespace, answer one connection with `reply`
/// after reading a line; returns the bound address once listening.
pub fn tcp_server(ns: &Path, addr: SocketAddr, reply: &'static str, conns: usize) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    in_ns(ns, move || {
        let l = TcpListener::bind(addr).expect("bind in ns");
        // Never block forever: a thread parked in the namespace keeps it (and its
        // veth) alive after the test.
        l.set_nonblocking(true).unwrap();
        tx.send(l.local_addr().unwrap()).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut served = 0;
        while served < conns && std::time::Instant::now() < deadline {
            let Ok((mut s, _)) = l.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            served += 1;
            let _ = s.set_nonblocking(false);
            let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
            let mut b = [0u8; 64];
            let _ = s.read(&mut b);
            let _ = s.write_all(reply.as_bytes());
        }
    });
    rx.recv_timeout(Duration::from_secs(5)).expect("server up")
}

/// UDP echo of one datagram with `reply`.
pub fn udp_server(ns: &Path, addr: SocketAddr, reply: &'static str) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    in_ns(ns, move || {
        let s = UdpSocket::bind(addr).expect("bind udp in ns");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        tx.send(s.local_addr().unwrap()).unwrap();
        let mut b = [0u8; 64];
        if let Ok((_, from)) = s.recv_from(&mut b) {
            let _ = s.send_to(reply.as_bytes(), from);
        }
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("udp server up")
}

/// Connect to `to` (from the current namespace), send a line, return the reply.
pub fn tcp_ask(to: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&to, Duration::from_millis(1500))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.write_all(b"hi\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// `tcp_ask` from inside a namespace.
pub fn tcp_ask_from(ns: &Path, to: SocketAddr) -> std::io::Result<String> {
    in_ns(ns, move || tcp_ask(to)).join().unwrap()
}

pub fn udp_ask(to: SocketAddr) -> std::io::Result<String> {
    let s = UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.send_to(b"hi", to)?;
    let mut b = [0u8; 64];
    let n = s.recv(&mut b)?;
    Ok(String::from_utf8_lossy(&b[..n]).into_owned())
}
