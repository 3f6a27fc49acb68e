//! Byte sizes: `1g`, `512m`, `1.5kb` (docker/go-units `RAMInBytes`, 1024-based),
//! printed as a quoted decimal like compose-go's `UnitBytes`.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::compose::model::cast;

/// A size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct UnitBytes(pub i64);

impl UnitBytes {
    /// `omitempty`: zero is left out.
    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }
}

/// Parses a byte size with an optional unit (`b`, `k`, `kb`, `m`, `mib`, `g`, …).
pub fn parse_bytes(input: &str) -> Result<i64, String> {
    let bad = || format!("invalid size: {input:?}");
    let s = input.trim();
    let num_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    if num_len == 0 {
        return Err(bad());
    }
    let value: f64 = s[..num_len].parse().map_err(|_| bad())?;
    let mut rest = s[num_len..].strip_prefix(' ').unwrap_or(&s[num_len..]);
    let mut mult: f64 = 1.0;
    if let Some(c) = rest.chars().next() {
        let m = match c.to_ascii_lowercase() {
            'k' => Some(1024f64),
            'm' => Some(1024f64.powi(2)),
            'g' => Some(1024f64.powi(3)),
            't' => Some(1024f64.powi(4)),
            'p' => Some(1024f64.powi(5)),
            _ => None,
        };
        if let Some(m) = m {
            mult = m;
            rest = &rest[1..];
        }
    }
    let rest = rest.strip_prefix(['i', 'I']).unwrap_or(rest);
    let rest = rest.strip_prefix(['b', 'B']).unwrap_or(rest);
    if !rest.is_empty() {
        return Err(bad());
    }
    let bytes = value * mult;
    // `as` would saturate: 99999999999999999999999g would mean "no limit".
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(format!("invalid size: {input:?}: out of range"));
    }
    Ok(bytes as i64)
}

impl Serialize for UnitBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for UnitBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_yaml_ng::Value::deserialize(d)?;
        if let serde_yaml_ng::Value::Number(n) = &v {
            if let Some(i) = n.as_i64() {
                return Ok(UnitBytes(i));
            }
        }
        let text = cast::value_to_string(&v).map_err(D::Error::custom)?;
        parse_bytes(&text).map(UnitBytes).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("64MB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1.5k").unwrap(), 1536);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert_eq!(parse_bytes("2gib").unwrap(), 2 << 30);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("1x").is_err());
        let huge = parse_bytes("99999999999999999999999g").unwrap_err();
        assert!(huge.ends_with("out of range"), "{huge}");
        assert!(parse_bytes("8e").is_err());
        assert_eq!(parse_bytes("8191p").unwrap(), 8191 << 50);
        assert!(parse_bytes("8192p").is_err());
    }
}
