//! The DNS responder for all berth networks (aardvark-dns's shape): bound on every
//! bridge's gateway address, answering service/container names and aliases scoped
//! to the asking container's networks, TTL 0, forwarding other names upstream, and
//! reloading its records when the network records change (inotify, with an mtime
//! poll as the fallback).

pub mod backend;
pub mod files;
pub mod server;
pub mod wake;
pub mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

pub use backend::{Backend, Lookup};
pub use files::{container_resolv_conf, hosts, resolv_conf};
pub use server::{serve, serves_every_bridge, Serving};

/// How to run the responder.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// Directory of network records (`StateDir::records_dir`).
    pub records_dir: PathBuf,
    /// Upstream servers for outside names; `None` = the nameservers of `resolv_conf`.
    pub upstream: Option<Vec<SocketAddr>>,
    /// The host's resolv.conf (re-read when it changes).
    pub resolv_conf: PathBuf,
    /// Port to listen on at each gateway (53).
    pub port: u16,
    /// How often to look for changed records when nothing wakes the loop earlier
    /// (a change in the records directory does).
    pub poll_interval: Duration,
    /// Stop when this becomes true (tests, embedding).
    pub stop: Option<Arc<AtomicBool>>,
    /// Exit once the last network record is gone.
    pub exit_when_empty: bool,
    /// Give up on an upstream server after this long.
    pub upstream_timeout: Duration,
    /// Where the responder says which bridges it serves ([`server::Serving`]),
    /// so that a command can tell it serves every live bridge before it relies on it.
    pub status_file: Option<PathBuf>,
}

impl DnsConfig {
    /// Defaults: host resolv.conf upstreams, port 53, 200 ms poll, exit when empty.
    pub fn new(records_dir: PathBuf) -> DnsConfig {
        DnsConfig {
            records_dir,
            upstream: None,
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
            port: 53,
            poll_interval: Duration::from_millis(200),
            stop: None,
            exit_when_empty: true,
            upstream_timeout: Duration::from_secs(2),
            status_file: None,
        }
    }
}
