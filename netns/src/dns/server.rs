//! The serve loop: one UDP and one TCP listener per gateway address, each on its
//! own thread; a poll loop reloads records (swapping the backend whole) and starts or
//! retires listeners as networks come and go.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use super::backend::{Backend, Lookup};
use super::wire::{self, Rdata};
use super::DnsConfig;
use crate::error::{IoContext, Result};
use crate::network::{read_infos, read_records};

static ROTATE: AtomicUsize = AtomicUsize::new(0);

/// What every listener thread shares.
struct Shared {
    backend: RwLock<Arc<Backend>>,
    upstream: RwLock<Vec<SocketAddr>>,
    timeout: Duration,
    records_dir: PathBuf,
    /// The records' signature the backend was built from.
    loaded: Mutex<Option<Signature>>,
    /// How many networks the backend holds.
    networks: AtomicUsize,
}

impl Shared {
    /// Rebuilds the backend when the records changed since it was built; true if it did.
    fn refresh(&self) -> Result<bool> {
        let sig = signature(&self.records_dir);
        let mut loaded = self.loaded.lock().expect("lock");
        if loaded.as_ref() == Some(&sig) {
            return Ok(false);
        }
        let records = read_records(&self.records_dir)?;
        tracing::debug!(networks = records.len(), "dns records reloaded");
        self.networks.store(records.len(), Ordering::Relaxed);
        *self.backend.write().expect("lock") = Arc::new(Backend::new(&records));
        *loaded = Some(sig);
        Ok(true)
    }
}

/// Nameservers of a resolv.conf.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some("nameserver"))
                .then(|| it.next())
                .flatten()
        })
        .filter_map(|a| a.split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// Name, inode, mtime and length of each record file: records are replaced by rename,
/// so a new inode tells a change even within one mtime tick.
type Signature = Vec<(String, u64, SystemTime, u64)>;

fn signature(dir: &Path) -> Signature {
    let mut sig: Signature = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .filter_map(|e| {
                    let m = e.metadata().ok()?;
                    Some((
                        e.file_name().to_string_lossy().into_owned(),
                        m.ino(),
                        m.modified().ok()?,
                        m.len(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    sig.sort();
    sig
}

fn file_sig(p: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// What a running responder serves, written to [`DnsConfig::status_file`] whenever
/// it changes: its pid and, per listener, the gateway, the bridge and the bridge's
/// interface index (a bridge deleted and made again under the same name is a new
/// interface, and a socket bound to the old one never sees its packets).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Serving {
    /// The responder's pid.
    pub pid: u32,
    /// `(gateway, bridge, ifindex)` of every listener.
    pub bound: Vec<(IpAddr, String, u32)>,
}

/// The interface index of `name` now (0: no such interface).
fn if_index(name: &str) -> u32 {
    let Ok(c) = std::ffi::CString::new(name) else {
        return 0;
    };
    // SAFETY: a valid NUL-terminated name; the call reads it only.
    unsafe { libc::if_nametoindex(c.as_ptr()) }
}

fn pid_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X")
    })
}

/// Whether the responder that wrote `status_file` is alive and listens on every
/// bridge of the records in `records_dir` that exists now, on its current
/// interface.
pub fn serves_every_bridge(status_file: &Path, records_dir: &Path) -> bool {
    let Ok(Some(serving)) = crate::store::read_json::<Serving>(status_file) else {
        return false;
    };
    if !pid_alive(serving.pid) {
        return false;
    }
    let Ok(infos) = read_infos(records_dir) else {
        return false;
    };
    infos.iter().all(|info| {
        let idx = if_index(&info.bridge);
        idx == 0
            || std::iter::once(info.v4.gateway)
                .chain(info.v6.map(|v| v.gateway))
                .all(|gw| {
                    serving
                        .bound
                        .iter()
                        .any(|(ip, br, i)| *ip == gw && *br == info.bridge && *i == idx)
                })
    })
}

/// The shortest time between two reloads of the records.
const RELOAD_GAP: Duration = Duration::from_millis(10);

/// How soon a listener whose bind failed (its bridge not up yet) is tried again.
const RETRY_BIND: Duration = Duration::from_millis(10);

/// How long a responder started with no network at all waits for one before it exits.
const EMPTY_GRACE: Duration = Duration::from_secs(3);

/// Run the responder until `config.stop` is set or (with `exit_when_empty`) the last
/// network record is gone. Blocking.
pub fn serve(config: DnsConfig) -> Result<()> {
    let shared = Arc::new(Shared {
        backend: RwLock::new(Arc::new(Backend::default())),
        upstream: RwLock::new(Vec::new()),
        timeout: config.upstream_timeout,
        records_dir: config.records_dir.clone(),
        loaded: Mutex::new(None),
        networks: AtomicUsize::new(0),
    });
    // Keyed by gateway, bridge and the bridge's interface index.
    let mut listeners: BTreeMap<(IpAddr, String, u32), Arc<AtomicBool>> = BTreeMap::new();
    let mut last_resolv = None;
    let mut seen_any = false;
    let started = std::time::Instant::now();
    let mut told: Option<Serving> = None;
    let wake = super::wake::Wake::on_changes_in(&config.records_dir);
    loop {
        if config
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
        {
            break;
        }
        // Upstreams: fixed, or the host's resolv.conf when it changed.
        match &config.upstream {
            Some(u) => *shared.upstream.write().expect("lock") = u.clone(),
            None => {
                let s = file_sig(&config.resolv_conf);
                if s != last_resolv {
                    last_resolv = s;
                    let text = std::fs::read_to_string(&config.resolv_conf).unwrap_or_default();
                    *shared.upstream.write().expect("lock") = upstreams_from_resolv_conf(&text);
                }
            }
        }
        shared.refresh()?;
        let networks = shared.networks.load(Ordering::Relaxed);
        seen_any |= networks > 0;
        if networks == 0 && (seen_any || started.elapsed() > EMPTY_GRACE) && config.exit_when_empty
        {
            break;
        }
        // Listeners follow the gateways and their bridges' current interfaces; a
        // bind that fails (bridge not up yet) is retried on the next round.
        let gateways: Vec<(IpAddr, String, u32)> = shared
            .backend
            .read()
            .expect("lock")
            .gateways()
            .iter()
            .map(|(ip, br)| (*ip, br.clone(), if_index(br)))
            .filter(|(_, _, idx)| *idx != 0)
            .collect();
        listeners.retain(|key, alive| {
            let keep = gateways.contains(key);
            if !keep {
                alive.store(false, Ordering::Relaxed);
            }
            keep
        });
        let mut unbound = false;
        for (ip, bridge, idx) in gateways {
            let key = (ip, bridge, idx);
            if listeners.contains_key(&key) {
                continue;
            }
            match start_listeners(SocketAddr::new(ip, config.port), &key.1, shared.clone()) {
                Ok(alive) => {
                    listeners.insert(key, alive);
                }
                Err(e) => {
                    unbound = true;
                    tracing::debug!(%ip, error = %e, "dns listener not ready");
                }
            }
        }
        if let Some(file) = &config.status_file {
            let now = Serving {
                pid: std::process::id(),
                bound: listeners.keys().cloned().collect(),
            };
            if told.as_ref() != Some(&now) && crate::store::write_json(file, &now).is_ok() {
                told = Some(now);
            }
        }
        let round = std::time::Instant::now();
        match &wake {
            // A bind that failed is retried soon: its `up` waits for it.
            Some(w) if unbound => w.wait(RETRY_BIND.min(config.poll_interval)),
            Some(w) => w.wait(config.poll_interval),
            None => std::thread::sleep(config.poll_interval),
        }
        // An `up` of many containers rewrites a record per container: reloading
        // at most every RELOAD_GAP keeps that from costing a reload each, while
        // the first change after a quiet spell (a new network) is seen at once.
        if let Some(rest) = RELOAD_GAP.checked_sub(round.elapsed()) {
            std::thread::sleep(rest.min(config.poll_interval));
        }
    }
    for alive in listeners.values() {
        alive.store(false, Ordering::Relaxed);
    }
    if let Some(file) = &config.status_file {
        let _ = std::fs::remove_file(file);
    }
    Ok(())
}

/// A socket of `kind` bound to `addr` on the device `bridge` only. Bound to its device,
/// a listener never answers for another state root's network that reuses the same
/// gateway address after this one's bridge is gone (its listener is retired on the
/// next round, and until then both may hold the address, each on its own bridge).
fn bound_socket(kind: libc::c_int, addr: SocketAddr, bridge: &str) -> std::io::Result<OwnedFd> {
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: socket(2) takes no pointers; the descriptor is owned at once.
    let raw = unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let set = |level, name, val: &[u8]| {
        // SAFETY: `val` is valid for its length during the call.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                level,
                name,
                val.as_ptr().cast(),
                val.len() as libc::socklen_t,
            )
        };
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    set(libc::SOL_SOCKET, libc::SO_BINDTODEVICE, bridge.as_bytes())?;
    if kind == libc::SOCK_STREAM {
        set(libc::SOL_SOCKET, libc::SO_REUSEADDR, &1i32.to_ne_bytes())?;
    }
    let (storage, len) = sockaddr(addr);
    // SAFETY: `storage` holds a sockaddr of `len` bytes for `addr`'s family.
    if unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
        )
    } < 0
    {
        return Err(std::io::Error::last_os_error());
    }
    if kind == libc::SOCK_STREAM {
        // SAFETY: listen(2) on our own bound socket.
        if unsafe { libc::listen(fd.as_raw_fd(), 128) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(fd)
}

/// `addr` as a C socket address.
fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is large enough for any sockaddr.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn start_listeners(addr: SocketAddr, bridge: &str, shared: Arc<Shared>) -> Result<Arc<AtomicBool>> {
    let what = format!("dns listener {addr} on {bridge}");
    let udp = UdpSocket::from(bound_socket(libc::SOCK_DGRAM, addr, bridge).at("bind udp", &what)?);
    let tcp =
        TcpListener::from(bound_socket(libc::SOCK_STREAM, addr, bridge).at("bind tcp", &what)?);
    // Threads wake up regularly to notice when their network is gone.
    udp.set_read_timeout(Some(Duration::from_millis(200)))
        .at("set timeout", &what)?;
    tcp.set_nonblocking(true).at("set nonblocking", &what)?;
    let alive = Arc::new(AtomicBool::new(true));
    {
        let alive = alive.clone();
        let shared = shared.clone();
        std::thread::spawn(move || udp_loop(udp, alive, shared));
    }
    {
        let alive = alive.clone();
        std::thread::spawn(move || tcp_loop(tcp, alive, shared));
    }
    Ok(alive)
}

fn udp_loop(sock: UdpSocket, alive: Arc<AtomicBool>, shared: Arc<Shared>) {
    let sock = Arc::new(sock);
    let mut buf = [0u8; 4096];
    while alive.load(Ordering::Relaxed) {
        let Ok((n, src)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let pkt = buf[..n].to_vec();
        match answer_locally(&pkt, src.ip(), &shared) {
            Answer::Reply(r) => {
                let _ = sock.send_to(&r, src);
            }
            Answer::Forward(servers) => {
                // Forwarding waits on the network: do it off the listener thread.
                let sock = sock.clone();
                let shared = shared.clone();
                std::thread::spawn(move || {
                    if let Some(r) = forward(&pkt, &servers, shared.timeout) {
                        let _ = sock.send_to(&r, src);
                    }
                });
            }
            Answer::Drop => {}
        }
    }
}

fn tcp_loop(l: TcpListener, alive: Arc<AtomicBool>, shared: Arc<Shared>) {
    while alive.load(Ordering::Relaxed) {
        match l.accept() {
            Ok((s, src)) => {
                let shared = shared.clone();
                std::thread::spawn(move || tcp_conn(s, src.ip(), shared));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn tcp_conn(mut s: TcpStream, src: IpAddr, shared: Arc<Shared>) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    loop {
        let mut len = [0u8; 2];
        if s.read_exact(&mut len).is_err() {
            return;
        }
        let mut pkt = vec![0u8; u16::from_be_bytes(len) as usize];
        if s.read_exact(&mut pkt).is_err() {
            return;
        }
        let reply = match answer_locally(&pkt, src, &shared) {
            Answer::Reply(r) => Some(r),
            Answer::Forward(servers) => forward(&pkt, &servers, shared.timeout),
            Answer::Drop => None,
        };
        let Some(r) = reply else { return };
        let mut out = (r.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&r);
        if s.write_all(&out).is_err() {
            return;
        }
    }
}

enum Answer {
    Reply(Vec<u8>),
    Forward(Vec<SocketAddr>),
    Drop,
}

/// Whether `backend` has an answer of its own for `q` (address or reverse name).
fn known(backend: &Backend, src: IpAddr, q: &wire::Query) -> bool {
    if q.qtype == wire::TYPE_PTR {
        wire::ptr_to_ip(&q.name).is_some_and(|ip| backend.reverse(src, ip).is_some())
    } else {
        matches!(backend.lookup(src, &q.name), Lookup::Found(_))
    }
}

fn answer_locally(pkt: &[u8], src: IpAddr, shared: &Shared) -> Answer {
    let Some(q) = wire::parse_query(pkt) else {
        return Answer::Drop;
    };
    let mut backend = shared.backend.read().expect("lock").clone();
    // A name unknown to this snapshot may belong to a container attached since the
    // last reload (`run -d` then an immediate lookup): look at the records again
    // before answering NXDOMAIN or forwarding, as docker's DNS knows at once.
    if !known(&backend, src, &q) && shared.refresh().unwrap_or(false) {
        backend = shared.backend.read().expect("lock").clone();
    }
    let lookup = if q.qtype == wire::TYPE_PTR {
        match wire::ptr_to_ip(&q.name).and_then(|ip| backend.reverse(src, ip)) {
            Some(names) => {
                let ans: Vec<Rdata> = names.into_iter().take(1).map(Rdata::Name).collect();
                return Answer::Reply(wire::build_response(pkt, &q, wire::NOERROR, &ans));
            }
            None => backend.lookup(src, ""),
        }
    } else {
        backend.lookup(src, &q.name)
    };
    match lookup {
        Lookup::Found(mut ips) => {
            // Rotate a scaled service's addresses so clients that take the first
            // one spread over the replicas (Docker shuffles for the same reason).
            if ips.len() > 1 {
                let n = ROTATE.fetch_add(1, Ordering::Relaxed) % ips.len();
                ips.rotate_left(n);
            }
            let ans: Vec<Rdata> = ips
                .into_iter()
                .filter(|ip| match q.qtype {
                    wire::TYPE_A => ip.is_ipv4(),
                    wire::TYPE_AAAA => ip.is_ipv6(),
                    _ => false,
                })
                .map(Rdata::Addr)
                .collect();
            // A name we own but without records of this type: NOERROR, no data —
            // never forwarded, or an AAAA query would leak service names upstream.
            Answer::Reply(wire::build_response(pkt, &q, wire::NOERROR, &ans))
        }
        Lookup::NotFound {
            internal_only: true,
            ..
        } => Answer::Reply(wire::build_response(pkt, &q, wire::NXDOMAIN, &[])),
        Lookup::NotFound { upstream, .. } => {
            let servers: Vec<SocketAddr> = if upstream.is_empty() {
                shared.upstream.read().expect("lock").clone()
            } else {
                upstream
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 53))
                    .collect()
            };
            if servers.is_empty() {
                Answer::Reply(wire::build_response(pkt, &q, wire::SERVFAIL, &[]))
            } else {
                Answer::Forward(servers)
            }
        }
    }
}

/// Relay `pkt` to the first upstream that answers with a matching id.
fn forward(pkt: &[u8], servers: &[SocketAddr], timeout: Duration) -> Option<Vec<u8>> {
    let per = timeout / servers.len().max(1) as u32;
    for srv in servers {
        let bind: SocketAddr = if srv.is_ipv4() {
            "0.0.0.0:0".parse().ok()?
        } else {
            "[::]:0".parse().ok()?
        };
        let Ok(s) = UdpSocket::bind(bind) else {
            continue;
        };
        if s.connect(srv).is_err() || s.set_read_timeout(Some(per)).is_err() || s.send(pkt).is_err()
        {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = s.recv(&mut buf) {
            if n >= 2 && buf[..2] == pkt[..2] {
                buf.truncate(n);
                return Some(buf);
            }
        }
    }
    let q = wire::parse_query(pkt)?;
    Some(wire::build_response(pkt, &q, wire::SERVFAIL, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_responder_is_trusted_only_alive_and_said_so() {
        let dir = std::env::temp_dir().join(format!("berth-dns-serving-{}", std::process::id()));
        let records = dir.join("networks");
        std::fs::create_dir_all(&records).unwrap();
        let status = dir.join("dns.json");
        // Nothing written: no responder to trust.
        assert!(!serves_every_bridge(&status, &records));
        let me = Serving {
            pid: std::process::id(),
            bound: vec![],
        };
        crate::store::write_json(&status, &me).unwrap();
        // Alive, and no network to serve.
        assert!(serves_every_bridge(&status, &records));
        // A pid that is gone is not trusted, whatever it said.
        let gone = Serving {
            pid: u32::MAX - 1,
            ..me
        };
        crate::store::write_json(&status, &gone).unwrap();
        assert!(!serves_every_bridge(&status, &records));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resolv_conf_upstreams() {
        let u = upstreams_from_resolv_conf(
            "# x\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\nsearch a\n",
        );
        assert_eq!(
            u,
            vec![
                "10.0.0.1:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap()
            ]
        );
    }
}
