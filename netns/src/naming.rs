//! Names of the kernel objects berth creates: all start with `bth` so a leak can be
//! found, fit IFNAMSIZ (15 characters), and are derived from hashes so two state
//! roots (or two instances of one container) never collide.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// Prefix of every link and nft table berth creates.
pub const PREFIX: &str = "bth";

fn hex12(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let d = h.finalize();
    d.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Bridge name of `network` under the state root `state_id` (15 characters).
pub fn bridge_name(state_id: &str, network: &str) -> String {
    format!(
        "{PREFIX}{}",
        hex12(&[b"bridge", state_id.as_bytes(), network.as_bytes()])
    )
}

/// A locally administered, unicast MAC derived from `seed` (pinned bridge MAC).
pub fn mac_from(seed: &str) -> [u8; 6] {
    let mut h = Sha256::new();
    h.update(b"mac");
    h.update(seed.as_bytes());
    let d = h.finalize();
    [0x02, d[0], d[1], d[2], d[3], d[4]]
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Host-side veth name, unique per container instance: after the netns is dropped
/// the kernel reaps the old veth asynchronously, so reusing a name could collide
/// ("File exists") on a fast re-create.
pub fn veth_name(netns: &str, network: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let pid = std::process::id();
    format!(
        "{PREFIX}{}",
        hex12(&[
            netns.as_bytes(),
            network.as_bytes(),
            &n.to_le_bytes(),
            &t.to_le_bytes(),
            &pid.to_le_bytes()
        ])
    )
}

/// Name of the nft table holding a network's NAT and isolation rules.
pub fn network_table(bridge: &str) -> String {
    bridge.to_string()
}

/// Name of the nft table holding one attachment's published ports.
pub fn ports_table(host_veth: &str) -> String {
    format!("{host_veth}_ports")
}

/// Format a MAC as `aa:bb:cc:dd:ee:ff`.
pub fn mac_to_string(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parse `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut it = s.split(':');
    for b in out.iter_mut() {
        *b = u8::from_str_radix(it.next()?, 16).ok()?;
    }
    it.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_and_differ() {
        let a = bridge_name("/var/lib/berth", "proj_default");
        let b = bridge_name("/tmp/other", "proj_default");
        assert_eq!(a.len(), 15);
        assert!(a.starts_with("bth"));
        assert_ne!(a, b);
        assert_eq!(a, bridge_name("/var/lib/berth", "proj_default"));
        let v1 = veth_name("c1", "n");
        let v2 = veth_name("c1", "n");
        assert_eq!(v1.len(), 15);
        assert_ne!(v1, v2);
        let m = mac_from("x");
        assert_eq!(m[0] & 0x03, 0x02);
        assert_eq!(parse_mac(&mac_to_string(&m)), Some(m));
        assert_eq!(parse_mac("02:00:00:00:00"), None);
    }
}
