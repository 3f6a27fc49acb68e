//! A small synchronous rtnetlink client: one blocking socket per network namespace.
//!
//! Why not `rtnetlink`: it is async (needs a tokio runtime in a library that otherwise
//! has none) and builds every request through a connection task and channels. netavark
//! measured the switch to blocking `netlink-sys` + `netlink-packet-route` as faster and
//! over 1 MB smaller (netavark commit 96993f4f); the attach path here is a handful of
//! requests whose cost we want to be the kernel's, not a runtime's.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_ECHO,
    NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    BridgeStpState, InfoBridge, InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::error::{Error, Result};

/// A route as read from the kernel: destination prefix and output interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    /// Destination address (unspecified for a default route).
    pub dst: IpAddr,
    /// Destination prefix length.
    pub prefix: u8,
    /// Output interface index.
    pub oif: Option<u32>,
}

/// A blocking rtnetlink socket bound to the namespace it was opened in.
pub struct Netlink {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

fn sys(op: impl Into<String>, source: std::io::Error) -> Error {
    Error::Sys {
        op: op.into(),
        source,
    }
}

impl Netlink {
    /// Open a socket in the calling thread's current network namespace.
    pub fn new() -> Result<Self> {
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| sys("netlink socket", e))?;
        sock.bind_auto().map_err(|e| sys("netlink bind", e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| sys("netlink connect", e))?;
        // Kernel filters dumps by the request's fields (e.g. one link's addresses).
        let _ = sock.set_netlink_get_strict_chk(true);
        Ok(Netlink {
            sock,
            seq: 1,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Open a socket inside the namespace `ns`: a netlink socket stays bound to the
    /// namespace it was created in, so we enter it, open, and come back.
    pub fn in_netns(ns: BorrowedFd<'_>) -> Result<Self> {
        crate::namespace::with_netns(ns, Netlink::new)?
    }

    /// Appends `msg` to `out` as the next request (its own sequence number),
    /// 4-aligned (NLMSG_ALIGN) so that several can go in one datagram.
    fn append(&mut self, out: &mut Vec<u8>, msg: RouteNetlinkMessage, flags: u16) {
        let mut hdr = NetlinkHeader::default();
        hdr.flags = NLM_F_REQUEST | flags;
        self.seq = self.seq.wrapping_add(1);
        hdr.sequence_number = self.seq;
        let mut nl = NetlinkMessage::new(hdr, NetlinkPayload::InnerMessage(msg));
        nl.finalize();
        let at = out.len();
        out.resize(at + nl.buffer_len(), 0);
        nl.serialize(&mut out[at..]);
        out.resize((out.len() + 3) & !3, 0);
    }

    /// Receives one datagram and splits it into the messages it carries.
    fn recv(&mut self) -> Result<Vec<NetlinkMessage<RouteNetlinkMessage>>> {
        self.buf.clear();
        self.sock
            .recv(&mut self.buf, 0)
            .map_err(|e| sys("netlink recv", e))?;
        let mut msgs = Vec::new();
        let mut off = 0;
        while off < self.buf.len() {
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[off..])
                .map_err(|e| Error::Decode(e.to_string()))?;
            let len = reply.header.length as usize;
            if len == 0 {
                return Err(Error::Decode("zero-length netlink message".into()));
            }
            off += (len + 3) & !3;
            msgs.push(reply);
        }
        Ok(msgs)
    }

    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let op = kind_name(&msg).to_string();
        let mut out = Vec::new();
        self.append(&mut out, msg, flags);
        self.sock
            .send(&out, 0)
            .map_err(|e| sys("netlink send", e))?;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        // An acknowledged request may be answered before its ack (NLM_F_ECHO).
        let until_ack = flags & NLM_F_ACK == NLM_F_ACK;
        let mut replies = Vec::new();
        loop {
            for reply in self.recv()? {
                if reply.header.sequence_number != self.seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(replies),
                            Some(code) => Err(Error::Netlink {
                                op,
                                source: std::io::Error::from_raw_os_error(-code.get()),
                            }),
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(m) => {
                        replies.push(m);
                        if !dump && !until_ack {
                            return Ok(replies);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Index of the link called `name`, if it exists.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::GetLink(m), 0) {
            Ok(r) => Ok(r.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// MTU of the link with index `index`.
    pub fn link_mtu(&mut self, index: u32) -> Result<Option<u32>> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        let r = self.request(RouteNetlinkMessage::GetLink(m), 0)?;
        Ok(r.into_iter().find_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => l.attributes.into_iter().find_map(|a| match a {
                LinkAttribute::Mtu(v) => Some(v),
                _ => None,
            }),
            _ => None,
        }))
    }

    /// Names of every link in this namespace.
    pub fn link_names(&mut self) -> Result<Vec<String>> {
        let r = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(r.into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => l.attributes.into_iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n),
                    _ => None,
                }),
                _ => None,
            })
            .collect())
    }

    /// Create a bridge with a fixed MAC (so the kernel never re-picks it from the
    /// lowest port MAC, which makes neighbours' ARP caches stale) and `mtu`.
    pub fn create_bridge(&mut self, name: &str, mac: [u8; 6], mtu: u32) -> Result<u32> {
        let mut m = LinkMessage::default();
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        m.attributes.push(LinkAttribute::Mtu(mtu));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Bridge),
            // No STP forwarding delay: ports forward as soon as they are up.
            LinkInfo::Data(InfoData::Bridge(vec![InfoBridge::StpState(
                BridgeStpState::Disabled,
            )])),
        ]));
        self.request(
            RouteNetlinkMessage::NewLink(m),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
        .map_err(|e| e.netlink_op(|| format!("create bridge {name}")))?;
        self.link_index(name)?
            .ok_or_else(|| Error::Invalid(format!("bridge {name} vanished after creation")))
    }

    /// Create a veth pair in one request: the host end `host` enslaved to `master`
    /// and up, the peer `peer` created directly inside the namespace `peer_ns` (moving
    /// it afterwards costs ~17 ms of synchronize_net), with an optional MAC. Returns
    /// the peer's index in its namespace when the kernel says it (its echo of the new
    /// host end names the peer: Linux 6.1 and later), which saves asking for it.
    pub fn create_veth(
        &mut self,
        host: &str,
        master: u32,
        mtu: u32,
        peer: &str,
        peer_ns: BorrowedFd<'_>,
        peer_mac: Option<[u8; 6]>,
    ) -> Result<Option<u32>> {
        // The peer cannot be brought up in this request: veth_open() of the peer
        // runs before the pair is linked and fails with ENOTCONN. The caller sets
        // it up from inside the namespace.
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.to_string()));
        p.attributes.push(LinkAttribute::Mtu(mtu));
        p.attributes
            .push(LinkAttribute::NetNsFd(peer_ns.as_raw_fd()));
        if let Some(mac) = peer_mac {
            p.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        let mut m = LinkMessage::default();
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        m.attributes.push(LinkAttribute::IfName(host.to_string()));
        m.attributes.push(LinkAttribute::Mtu(mtu));
        m.attributes.push(LinkAttribute::Controller(master));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        let replies = self
            .request(
                RouteNetlinkMessage::NewLink(m),
                NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO,
            )
            .map_err(|e| e.netlink_op(|| format!("create veth {host} with peer {peer}")))?;
        Ok(echoed_peer(replies, host))
    }

    /// Bring link `index` up.
    pub fn set_up(&mut self, index: u32) -> Result<()> {
        self.batch(vec![Request::set_up(index)])
    }

    /// Sends `reqs` in one message to the kernel, which carries them out in order
    /// (each one even when one before it failed), and waits for every answer: one
    /// round trip instead of one each. The first failure is the error.
    pub fn batch(&mut self, reqs: Vec<Request>) -> Result<()> {
        let first_seq = self.seq.wrapping_add(1);
        let mut out = Vec::with_capacity(256 * reqs.len());
        for r in &reqs {
            self.append(&mut out, r.msg.clone(), NLM_F_ACK | r.flags);
        }
        self.sock
            .send(&out, 0)
            .map_err(|e| sys("netlink send", e))?;
        let mut answers: Vec<Option<Result<()>>> = reqs.iter().map(|_| None).collect();
        let mut pending = reqs.len();
        while pending > 0 {
            for reply in self.recv()? {
                let i = reply.header.sequence_number.wrapping_sub(first_seq) as usize;
                let (Some(req), NetlinkPayload::Error(e)) = (reqs.get(i), reply.payload) else {
                    continue;
                };
                if answers[i].is_some() {
                    continue;
                }
                answers[i] = Some(match e.code {
                    None => Ok(()),
                    Some(code) if req.exists_ok && -code.get() == libc::EEXIST => Ok(()),
                    Some(code) => Err(Error::Netlink {
                        op: req.what.clone(),
                        source: std::io::Error::from_raw_os_error(-code.get()),
                    }),
                });
                pending -= 1;
            }
        }
        answers.into_iter().flatten().collect()
    }

    /// Delete link `index`.
    pub fn del_link(&mut self, index: u32) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        self.request(RouteNetlinkMessage::DelLink(m), NLM_F_ACK)
            .map_err(|e| e.netlink_op(|| format!("delete link {index}")))?;
        Ok(())
    }

    /// Delete the link named `name` in one request (the kernel looks the name
    /// up); false when there is none. One round trip instead of a lookup and a
    /// delete: after a `down` each one waits for RTNL, which the kernel holds
    /// while it reaps the veths of the namespaces just dropped.
    pub fn del_link_named(&mut self, name: &str) -> Result<bool> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::DelLink(m), NLM_F_ACK) {
            Ok(_) => Ok(true),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e.netlink_op(|| format!("delete link {name}"))),
        }
    }

    /// Add `addr/prefix` to link `index` (EEXIST is not an error: converging).
    pub fn add_addr(&mut self, index: u32, addr: IpAddr, prefix: u8) -> Result<()> {
        self.batch(vec![Request::add_addr(index, addr, prefix)])
    }

    /// Add a default route via `gw` out of link `oif`.
    pub fn add_default_route(&mut self, gw: IpAddr, oif: u32) -> Result<()> {
        self.batch(vec![Request::add_default_route(gw, oif)])
    }

    /// Every route of `v6`'s family in every table.
    pub fn routes(&mut self, v6: bool) -> Result<Vec<RouteEntry>> {
        let mut m = RouteMessage::default();
        m.header.address_family = if v6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        let r = self.request(RouteNetlinkMessage::GetRoute(m), NLM_F_DUMP)?;
        let unspec = if v6 {
            IpAddr::from([0u16; 8])
        } else {
            IpAddr::from([0u8; 4])
        };
        Ok(r.into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => {
                    let mut e = RouteEntry {
                        dst: unspec,
                        prefix: r.header.destination_prefix_length,
                        oif: None,
                    };
                    for a in r.attributes {
                        match a {
                            RouteAttribute::Destination(RouteAddress::Inet(a)) => e.dst = a.into(),
                            RouteAttribute::Destination(RouteAddress::Inet6(a)) => e.dst = a.into(),
                            RouteAttribute::Oif(i) => e.oif = Some(i),
                            _ => {}
                        }
                    }
                    Some(e)
                }
                _ => None,
            })
            .collect())
    }

    /// Every address (with prefix) configured on any link of this namespace.
    pub fn addresses(&mut self) -> Result<Vec<(IpAddr, u8)>> {
        let r = self.request(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(r.into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => {
                    let p = a.header.prefix_len;
                    a.attributes.into_iter().find_map(|x| match x {
                        AddressAttribute::Local(ip) => Some((ip, p)),
                        AddressAttribute::Address(ip) => Some((ip, p)),
                        _ => None,
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// MTU of the interface holding the IPv4 default route (1500 when there is none).
    pub fn default_route_mtu(&mut self) -> Result<u32> {
        let oif = self
            .routes(false)?
            .into_iter()
            .find(|r| r.prefix == 0 && r.oif.is_some())
            .and_then(|r| r.oif);
        match oif {
            Some(i) => Ok(self.link_mtu(i)?.unwrap_or(1500)),
            None => Ok(1500),
        }
    }
}

/// One acknowledged change for [`Netlink::batch`].
#[derive(Debug, Clone)]
pub struct Request {
    msg: RouteNetlinkMessage,
    /// Flags besides NLM_F_REQUEST and NLM_F_ACK.
    flags: u16,
    /// What it does, for its error.
    what: String,
    /// Whether EEXIST means done (converging on what is already there).
    exists_ok: bool,
}

impl Request {
    /// Bring link `index` up.
    pub fn set_up(index: u32) -> Request {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        Request {
            msg: RouteNetlinkMessage::SetLink(m),
            flags: 0,
            what: format!("set link {index} up"),
            exists_ok: false,
        }
    }

    /// Add `addr/prefix` to link `index`.
    pub fn add_addr(index: u32, addr: IpAddr, prefix: u8) -> Request {
        let mut m = AddressMessage::default();
        m.header.index = index;
        m.header.prefix_len = prefix;
        m.header.family = family(addr);
        if addr.is_ipv6() {
            // No duplicate address detection: the address is ours by IPAM, and DAD
            // would leave it tentative (unusable) for a second or more.
            m.header.flags = netlink_packet_route::address::AddressHeaderFlags::Nodad;
        }
        m.attributes.push(AddressAttribute::Local(addr));
        m.attributes.push(AddressAttribute::Address(addr));
        if let IpAddr::V4(v4) = addr {
            let host_bits = 32 - u32::from(prefix);
            let bcast = if host_bits >= 32 {
                u32::MAX
            } else {
                u32::from(v4) | ((1u32 << host_bits) - 1)
            };
            if prefix < 31 {
                m.attributes.push(AddressAttribute::Broadcast(bcast.into()));
            }
        }
        Request {
            msg: RouteNetlinkMessage::NewAddress(m),
            flags: NLM_F_CREATE | NLM_F_EXCL,
            what: format!("add address {addr}/{prefix} to link {index}"),
            exists_ok: true,
        }
    }

    /// Add a default route via `gw` out of link `oif`.
    pub fn add_default_route(gw: IpAddr, oif: u32) -> Request {
        let mut m = RouteMessage::default();
        m.header.address_family = family(gw);
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Static;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        m.attributes.push(RouteAttribute::Gateway(route_addr(gw)));
        m.attributes.push(RouteAttribute::Oif(oif));
        Request {
            msg: RouteNetlinkMessage::NewRoute(m),
            flags: NLM_F_CREATE | NLM_F_EXCL,
            what: format!("add default route via {gw}"),
            exists_ok: true,
        }
    }
}

/// The index of the peer of the veth `host` from the kernel's echo of its creation
/// (the host end's IFLA_LINK), if the kernel echoed it.
fn echoed_peer(replies: Vec<RouteNetlinkMessage>, host: &str) -> Option<u32> {
    replies.into_iter().find_map(|m| {
        let RouteNetlinkMessage::NewLink(l) = m else {
            return None;
        };
        let named = l
            .attributes
            .iter()
            .any(|a| matches!(a, LinkAttribute::IfName(n) if n == host));
        let peer = l.attributes.iter().find_map(|a| match a {
            LinkAttribute::Link(i) if *i != 0 => Some(*i),
            _ => None,
        });
        peer.filter(|_| named)
    })
}

fn family(a: IpAddr) -> AddressFamily {
    match a {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn route_addr(a: IpAddr) -> RouteAddress {
    match a {
        IpAddr::V4(a) => RouteAddress::Inet(a),
        IpAddr::V6(a) => RouteAddress::Inet6(a),
    }
}

fn kind_name(m: &RouteNetlinkMessage) -> &'static str {
    match m {
        RouteNetlinkMessage::NewLink(_) => "new link",
        RouteNetlinkMessage::SetLink(_) => "set link",
        RouteNetlinkMessage::DelLink(_) => "delete link",
        RouteNetlinkMessage::GetLink(_) => "get link",
        RouteNetlinkMessage::NewAddress(_) => "new address",
        RouteNetlinkMessage::GetAddress(_) => "get address",
        RouteNetlinkMessage::NewRoute(_) => "new route",
        RouteNetlinkMessage::GetRoute(_) => "get route",
        _ => "request",
    }
}
