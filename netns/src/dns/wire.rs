//! Just enough of the DNS wire format (RFC 1035) for the responder: one question
//! in, A/AAAA/PTR answers out. Forwarded queries are relayed as raw bytes.

use std::net::IpAddr;

/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type PTR.
pub const TYPE_PTR: u16 = 12;
/// Record type AAAA.
pub const TYPE_AAAA: u16 = 28;
/// Response code: no error.
pub const NOERROR: u8 = 0;
/// Response code: server failure.
pub const SERVFAIL: u8 = 2;
/// Response code: no such name.
pub const NXDOMAIN: u8 = 3;

/// The single question of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Transaction id.
    pub id: u16,
    /// Header flags as received.
    pub flags: u16,
    /// Queried name, lower-cased, without the trailing dot.
    pub name: String,
    /// Query type.
    pub qtype: u16,
    /// Query class.
    pub qclass: u16,
    /// End offset of the question section in the packet.
    pub question_end: usize,
}

/// An answer record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rdata {
    /// An address (A or AAAA by family).
    Addr(IpAddr),
    /// A name (PTR).
    Name(String),
}

/// Parse a query; `None` for anything that is not a standard one-question query.
pub fn parse_query(pkt: &[u8]) -> Option<Query> {
    if pkt.len() < 12 {
        return None;
    }
    let id = u16::from_be_bytes([pkt[0], pkt[1]]);
    let flags = u16::from_be_bytes([pkt[2], pkt[3]]);
    let qd = u16::from_be_bytes([pkt[4], pkt[5]]);
    if flags & 0x8000 != 0 || qd != 1 {
        return None;
    }
    let (name, mut off) = read_name(pkt, 12)?;
    if off + 4 > pkt.len() {
        return None;
    }
    let qtype = u16::from_be_bytes([pkt[off], pkt[off + 1]]);
    let qclass = u16::from_be_bytes([pkt[off + 2], pkt[off + 3]]);
    off += 4;
    Some(Query {
        id,
        flags,
        name,
        qtype,
        qclass,
        question_end: off,
    })
}

/// Read an uncompressed name at `off` (queries never compress their question).
fn read_name(pkt: &[u8], mut off: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    loop {
        let len = *pkt.get(off)? as usize;
        off += 1;
        if len == 0 {
            break;
        }
        if len > 63 || name.len() + len > 253 {
            return None;
        }
        let label = pkt.get(off..off + len)?;
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(&String::from_utf8_lossy(label).to_ascii_lowercase());
        off += len;
    }
    Some((name, off))
}

fn write_name(out: &mut Vec<u8>, name: &str) {
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let b = &label.as_bytes()[..label.len().min(63)];
        out.push(b.len() as u8);
        out.extend_from_slice(b);
    }
    out.push(0);
}

/// Build a response to `q` (echoing its question) with `answers`, TTL 0 (a
/// container may come back with another address).
pub fn build_response(pkt: &[u8], q: &Query, rcode: u8, answers: &[Rdata]) -> Vec<u8> {
    let mut out = Vec::with_capacity(q.question_end + answers.len() * 28);
    out.extend_from_slice(&q.id.to_be_bytes());
    // QR, opcode and RD from the query, AA, RA.
    let flags = 0x8000 | (q.flags & 0x7900) | 0x0400 | 0x0080 | u16::from(rcode & 0x0f);
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&pkt[12..q.question_end]);
    for a in answers {
        out.extend_from_slice(&[0xc0, 0x0c]); // pointer to the question's name
        let (ty, data) = match a {
            Rdata::Addr(IpAddr::V4(v)) => (TYPE_A, v.octets().to_vec()),
            Rdata::Addr(IpAddr::V6(v)) => (TYPE_AAAA, v.octets().to_vec()),
            Rdata::Name(n) => {
                let mut d = Vec::new();
                write_name(&mut d, n);
                (TYPE_PTR, d)
            }
        };
        out.extend_from_slice(&ty.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(&data);
    }
    out
}

/// Build a query for `name` (used by tests and health checks).
pub fn build_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    write_name(&mut out, name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out
}

/// Decode a response: rcode and the A/AAAA/PTR answers (for tests and clients).
pub fn parse_response(pkt: &[u8]) -> Option<(u8, Vec<Rdata>)> {
    if pkt.len() < 12 {
        return None;
    }
    let rcode = pkt[3] & 0x0f;
    let qd = u16::from_be_bytes([pkt[4], pkt[5]]);
    let an = u16::from_be_bytes([pkt[6], pkt[7]]);
    let mut off = 12;
    for _ in 0..qd {
        off = skip_name(pkt, off)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        off = skip_name(pkt, off)?;
        let ty = u16::from_be_bytes([*pkt.get(off)?, *pkt.get(off + 1)?]);
        let len = u16::from_be_bytes([*pkt.get(off + 8)?, *pkt.get(off + 9)?]) as usize;
        off += 10;
        let data = pkt.get(off..off + len)?;
        match ty {
            TYPE_A if len == 4 => {
                out.push(Rdata::Addr(IpAddr::from(<[u8; 4]>::try_from(data).ok()?)))
            }
            TYPE_AAAA if len == 16 => {
                out.push(Rdata::Addr(IpAddr::from(<[u8; 16]>::try_from(data).ok()?)))
            }
            TYPE_PTR => out.push(Rdata::Name(
                read_name(pkt, off).map(|n| n.0).unwrap_or_default(),
            )),
            _ => {}
        }
        off += len;
    }
    Some((rcode, out))
}

fn skip_name(pkt: &[u8], mut off: usize) -> Option<usize> {
    loop {
        let len = *pkt.get(off)?;
        if len & 0xc0 == 0xc0 {
            return Some(off + 2);
        }
        off += 1 + len as usize;
        if len == 0 {
            return Some(off);
        }
    }
}

/// The address a reverse name (`4.3.2.1.in-addr.arpa`, nibbles `.ip6.arpa`) stands for.
pub fn ptr_to_ip(name: &str) -> Option<IpAddr> {
    if let Some(v4) = name.strip_suffix(".in-addr.arpa") {
        let mut o: Vec<u8> = v4
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        if o.len() != 4 {
            return None;
        }
        o.reverse();
        return Some(IpAddr::from([o[0], o[1], o[2], o[3]]));
    }
    let v6 = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = v6
        .split('.')
        .map(|p| u8::from_str_radix(p, 16).ok())
        .collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut b = [0u8; 16];
    for (i, n) in nibbles.iter().rev().enumerate() {
        b[i / 2] |= if i % 2 == 0 { n << 4 } else { *n };
    }
    Some(IpAddr::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let q = build_query(7, "Web.", TYPE_A);
        let p = parse_query(&q).unwrap();
        assert_eq!((p.id, p.name.as_str(), p.qtype), (7, "web", TYPE_A));
        let ans = [
            Rdata::Addr("10.213.1.2".parse().unwrap()),
            Rdata::Addr("fd00::2".parse().unwrap()),
        ];
        let r = build_response(&q, &p, NOERROR, &ans);
        assert_eq!(parse_response(&r).unwrap(), (NOERROR, ans.to_vec()));
        let ptr = [Rdata::Name("web".into())];
        let r = build_response(&q, &p, NOERROR, &ptr);
        assert_eq!(parse_response(&r).unwrap().1, ptr.to_vec());
        assert!(parse_query(&r).is_none(), "a response is not a query");
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            ptr_to_ip("2.1.213.10.in-addr.arpa"),
            Some("10.213.1.2".parse().unwrap())
        );
        let six = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa";
        assert_eq!(ptr_to_ip(six), Some("fd00::1".parse().unwrap()));
        assert_eq!(ptr_to_ip("example.com"), None);
    }
}
