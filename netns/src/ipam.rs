//! IP address management: subnets, pools, and per-network address allocation.
//! Pure data: callers hand in what is already in use (host routes and addresses,
//! other networks), so everything here is unit-tested without root.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An IP prefix such as `10.213.1.0/24` or `fd00::/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subnet {
    addr: IpAddr,
    prefix: u8,
}

fn bits(a: IpAddr) -> (u128, u8) {
    match a {
        IpAddr::V4(v) => (u32::from(v) as u128, 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    }
}

fn from_bits(v: u128, width: u8) -> IpAddr {
    if width == 32 {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    }
}

fn mask(prefix: u8, width: u8) -> u128 {
    let all: u128 = if width == 32 {
        u32::MAX as u128
    } else {
        u128::MAX
    };
    if prefix == 0 {
        0
    } else if prefix >= width {
        all
    } else {
        all & !(all >> prefix)
    }
}

impl Subnet {
    /// A subnet from an address (host bits are cleared) and a prefix length.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Subnet> {
        let (v, w) = bits(addr);
        if prefix > w {
            return Err(Error::Invalid(format!(
                "prefix /{prefix} too long for {addr}"
            )));
        }
        Ok(Subnet {
            addr: from_bits(v & mask(prefix, w), w),
            prefix,
        })
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// True for IPv6.
    pub fn is_v6(&self) -> bool {
        self.addr.is_ipv6()
    }

    fn width(&self) -> u8 {
        bits(self.addr).1
    }

    /// Whether `ip` lies inside this subnet.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (v, w) = bits(ip);
        w == self.width() && v & mask(self.prefix, w) == bits(self.addr).0
    }

    /// Whether the two prefixes share any address.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        if self.width() != other.width() {
            return false;
        }
        let p = self.prefix.min(other.prefix);
        let m = mask(p, self.width());
        bits(self.addr).0 & m == bits(other.addr).0 & m
    }

    /// Whether `other` lies entirely inside this subnet.
    pub fn covers(&self, other: &Subnet) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }

    /// The `n`-th address of the subnet (0 = network address), if inside.
    pub fn nth(&self, n: u128) -> Option<IpAddr> {
        let host_bits = self.width() - self.prefix;
        if host_bits < 128 && n >> host_bits != 0 {
            return None;
        }
        Some(from_bits(bits(self.addr).0 + n, self.width()))
    }

    /// Offset of `ip` inside the subnet.
    fn offset(&self, ip: IpAddr) -> u128 {
        bits(ip).0 - bits(self.addr).0
    }

    /// Number of addresses (saturating for huge IPv6 prefixes).
    pub fn size(&self) -> u128 {
        let host_bits = self.width() - self.prefix;
        if host_bits >= 128 {
            u128::MAX
        } else {
            1u128 << host_bits
        }
    }

    /// The last address (IPv4 broadcast).
    pub fn last(&self) -> IpAddr {
        from_bits(bits(self.addr).0 + (self.size() - 1), self.width())
    }

    /// Split into consecutive subnets of `prefix` length, lazily.
    pub fn split(&self, prefix: u8) -> impl Iterator<Item = Subnet> + '_ {
        let step_bits = self.width() - prefix;
        let count_bits = prefix.saturating_sub(self.prefix);
        let count: u128 = if prefix < self.prefix {
            0
        } else if count_bits >= 64 {
            u64::MAX as u128
        } else {
            1 << count_bits
        };
        let base = bits(self.addr).0;
        let w = self.width();
        (0..count).map(move |i| Subnet {
            addr: from_bits(base + (i << step_bits), w),
            prefix,
        })
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = Error;
    fn from_str(s: &str) -> Result<Subnet> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| Error::Invalid(format!("subnet {s:?} has no /prefix")))?;
        let addr: IpAddr = a
            .parse()
            .map_err(|_| Error::Invalid(format!("bad address in subnet {s:?}")))?;
        let prefix: u8 = p
            .parse()
            .map_err(|_| Error::Invalid(format!("bad prefix in subnet {s:?}")))?;
        Subnet::new(addr, prefix)
    }
}

impl Serialize for Subnet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subnet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Subnet, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A pool to carve network subnets from: `base` split into `/size` pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// The range the pool covers.
    pub base: Subnet,
    /// Prefix length of each network taken from it.
    pub size: u8,
}

impl Pool {
    /// Docker's default IPv4 address pools (172.17.0.0/12 in /16s, 192.168.0.0/16 in /20s).
    pub fn defaults_v4() -> Vec<Pool> {
        vec![
            Pool {
                base: "172.17.0.0/12".parse().expect("literal"),
                size: 16,
            },
            Pool {
                base: "192.168.0.0/16".parse().expect("literal"),
                size: 20,
            },
        ]
    }

    /// Default IPv6 pool: ULA fd42:b0e7::/32 in /64s (the prefix spells nothing
    /// meaningful; it is merely unlikely to be in use).
    pub fn defaults_v6() -> Vec<Pool> {
        vec![Pool {
            base: "fd42:b0e7::/32".parse().expect("literal"),
            size: 64,
        }]
    }
}

/// First subnet from `pools` that overlaps nothing in `used`.
pub fn pick_subnet(pools: &[Pool], used: &[Subnet]) -> Result<Subnet> {
    for pool in pools {
        // Bound the walk: an IPv6 pool may have 2^32 candidates.
        for cand in pool.base.split(pool.size).take(1 << 16) {
            if !used.iter().any(|u| u.overlaps(&cand)) {
                return Ok(cand);
            }
        }
    }
    Err(Error::Exhausted(
        "no free subnet left in the address pools".into(),
    ))
}

/// The gateway: the first host address of the subnet.
pub fn default_gateway(subnet: &Subnet) -> Result<IpAddr> {
    if subnet.size() < 4 {
        return Err(Error::Invalid(format!(
            "subnet {subnet} is too small for a gateway and a container"
        )));
    }
    Ok(subnet.nth(1).expect("size >= 4"))
}

/// Address allocations of one subnet: address → owner, plus a cursor so released
/// addresses are not handed out again at once (a restarted peer may still cache them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocations {
    /// Address → owner id (container id).
    pub used: BTreeMap<IpAddr, String>,
    /// Last address handed out.
    pub last: Option<IpAddr>,
}

impl Allocations {
    /// Reserve `ip` for `owner`; it must be inside `subnet`, not the network,
    /// gateway or (IPv4) broadcast address, and free (or already `owner`'s).
    pub fn reserve(
        &mut self,
        subnet: &Subnet,
        gateway: IpAddr,
        ip: IpAddr,
        owner: &str,
    ) -> Result<()> {
        if !subnet.contains(ip)
            || ip == subnet.addr()
            || ip == gateway
            || (!subnet.is_v6() && ip == subnet.last())
        {
            return Err(Error::Invalid(format!(
                "address {ip} is not usable in {subnet}"
            )));
        }
        match self.used.get(&ip) {
            Some(o) if o != owner => Err(Error::Invalid(format!(
                "address {ip} is already in use by {o}"
            ))),
            _ => {
                self.used.insert(ip, owner.to_string());
                Ok(())
            }
        }
    }

    /// Hand out the next free address of `range` (inside `subnet`) for `owner`.
    pub fn allocate(
        &mut self,
        subnet: &Subnet,
        range: &Subnet,
        gateway: IpAddr,
        owner: &str,
    ) -> Result<IpAddr> {
        let size = range.size().min(1 << 24);
        let start = match self.last {
            Some(l) if range.contains(l) => range.offset(l) + 1,
            _ => 0,
        };
        for i in 0..size {
            let off = (start + i) % size;
            let ip = range.nth(off).expect("offset inside range");
            if !subnet.contains(ip)
                || ip == subnet.addr()
                || ip == gateway
                || (!subnet.is_v6() && ip == subnet.last())
                || self.used.contains_key(&ip)
            {
                continue;
            }
            self.used.insert(ip, owner.to_string());
            self.last = Some(ip);
            return Ok(ip);
        }
        Err(Error::Exhausted(format!("no free address left in {range}")))
    }

    /// Release every address held by `owner`.
    pub fn release(&mut self, owner: &str) {
        self.used.retain(|_, o| o != owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Subnet {
        x.parse().unwrap()
    }

    #[test]
    fn subnet_math() {
        let n = s("10.213.1.7/24");
        assert_eq!(n.to_string(), "10.213.1.0/24");
        assert!(n.contains("10.213.1.255".parse().unwrap()));
        assert!(!n.contains("10.213.2.0".parse().unwrap()));
        assert!(n.overlaps(&s("10.213.0.0/16")));
        assert!(!n.overlaps(&s("10.213.2.0/24")));
        assert_eq!(n.last().to_string(), "10.213.1.255");
        assert_eq!(s("0.0.0.0/0").size(), 1 << 32);
        assert!(s("fd00::/64").contains("fd00::1".parse().unwrap()));
        assert!(!s("fd00::/64").overlaps(&n));
        assert_eq!(s("10.0.0.0/8").split(16).nth(3).unwrap(), s("10.3.0.0/16"));
    }

    #[test]
    fn pick_skips_used() {
        let pools = [Pool {
            base: s("10.213.0.0/22"),
            size: 24,
        }];
        let used = [s("10.213.0.0/24"), s("10.213.1.5/32"), s("192.0.2.0/24")];
        assert_eq!(pick_subnet(&pools, &used).unwrap(), s("10.213.2.0/24"));
        let all = [s("10.213.0.0/22")];
        assert!(pick_subnet(&pools, &all).is_err());
        // A host default route must not count (callers drop /0), a wide route does.
        assert!(pick_subnet(&pools, &[s("10.0.0.0/8")]).is_err());
    }

    #[test]
    fn allocate_and_release() {
        let sub = s("10.213.9.0/29");
        let gw = default_gateway(&sub).unwrap();
        let mut a = Allocations::default();
        let ips: Vec<_> = (0..5)
            .map(|i| a.allocate(&sub, &sub, gw, &format!("c{i}")).unwrap())
            .collect();
        let want: Vec<IpAddr> = (2..7)
            .map(|i| format!("10.213.9.{i}").parse().unwrap())
            .collect();
        assert_eq!(ips, want);
        assert!(a.allocate(&sub, &sub, gw, "c5").is_err());
        a.release("c1");
        // The cursor wraps to the released address only when nothing else is free.
        assert_eq!(
            a.allocate(&sub, &sub, gw, "c6").unwrap().to_string(),
            "10.213.9.3"
        );
        assert!(a.reserve(&sub, gw, gw, "x").is_err());
        assert!(a
            .reserve(&sub, gw, "10.213.9.7".parse().unwrap(), "x")
            .is_err());
        assert!(a
            .reserve(&sub, gw, "10.213.9.2".parse().unwrap(), "x")
            .is_err());
    }

    #[test]
    fn ip_range_is_honoured() {
        let sub = s("10.213.8.0/24");
        let range = s("10.213.8.128/25");
        let gw = default_gateway(&sub).unwrap();
        let mut a = Allocations::default();
        assert_eq!(
            a.allocate(&sub, &range, gw, "c").unwrap().to_string(),
            "10.213.8.128"
        );
    }
}
