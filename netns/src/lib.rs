//! berth-netns: everything a compose network needs on one host — network
//! namespaces, bridges, veth pairs, IPAM, NAT, published ports and DNS — through
//! netlink and berth's own nftables tables. No `ip`, `brctl` or `iptables`.

#![warn(missing_docs)]

pub mod attach;
mod commit;
pub mod dns;
pub mod error;
pub mod fault;
pub mod ipam;
pub mod namespace;
pub mod naming;
pub mod netlink;
pub mod network;
pub mod nft;
pub mod ports;
pub mod store;
pub mod sysctl;

pub use attach::{attach, detach, disconnect, AttachRequest, Attachment};
pub use error::{Error, ErrorList, Result};
pub use ipam::{Pool, Subnet};
pub use namespace::Netns;
pub use network::{IpamConfig, Network, NetworkDriver, NetworkInfo, NetworkSpec, StateDir};
pub use ports::{publish, unpublish, PortSpec, Protocol, PublishedPort};
