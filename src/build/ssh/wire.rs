//! The SSH wire encoding the agent protocol is made of (RFC 4251 §5): `uint32`,
//! `string` (length-prefixed bytes) and `mpint`.

/// Appends a `uint32`.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a `string`.
pub fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s);
}

/// Appends a non-negative `mpint` given as big-endian bytes: no leading zeros,
/// one zero byte before a set high bit (else it would read as negative).
pub fn put_mpint(out: &mut Vec<u8>, be: &[u8]) {
    let be = &be[be.iter().take_while(|b| **b == 0).count()..];
    if be.first().is_some_and(|b| b & 0x80 != 0) {
        put_u32(out, be.len() as u32 + 1);
        out.push(0);
        out.extend_from_slice(be);
    } else {
        put_string(out, be);
    }
}

/// Reads wire values from a message, front to back.
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    /// A `uint32`.
    pub fn u32(&mut self) -> Option<u32> {
        let (b, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_be_bytes(*b))
    }

    /// A `string`.
    pub fn string(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        if n > self.0.len() {
            return None;
        }
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpint_is_minimal_and_positive() {
        let mut out = vec![];
        put_mpint(&mut out, &[0, 0, 0x01, 0x00, 0x01]);
        assert_eq!(out, [0, 0, 0, 3, 1, 0, 1]);
        out.clear();
        put_mpint(&mut out, &[0x80, 1]);
        assert_eq!(out, [0, 0, 0, 3, 0, 0x80, 1]);
        let mut r = Reader(&out);
        assert_eq!(r.string(), Some(&[0, 0x80, 1][..]));
        assert_eq!(r.u8(), None);
        assert_eq!(Reader(&[0, 0, 0, 9, 1]).string(), None);
    }
}
