//! Durations: parsed like compose-go (str2duration units incl. `d`, `w`),
//! printed like Go's `time.Duration.String()` (`1m30s`, `500ms`).

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::compose::model::cast;

/// A duration in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub i64);

impl Duration {
    /// The duration as a `std::time::Duration` (negative values become zero).
    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(u64::try_from(self.0).unwrap_or(0))
    }
}

const UNITS: &[(&str, f64)] = &[
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("μs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("m", 60e9),
    ("h", 3600e9),
    ("d", 86400e9),
    ("w", 604800e9),
];

/// Parses `1h30m`, `1.5s`, `500ms`, `2d`, `0`.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {input:?}");
    let mut s = input.trim();
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration(0));
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !s.is_empty() {
        let num_len = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("invalid duration {input:?}: missing unit"))?;
        if num_len == 0 {
            return Err(bad());
        }
        let value: f64 = s[..num_len].parse().map_err(|_| bad())?;
        s = &s[num_len..];
        let unit_len = s
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(s.len());
        let unit = &s[..unit_len];
        let mult = UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, m)| *m)
            .ok_or_else(|| format!("invalid duration {input:?}: unknown unit {unit:?}"))?;
        total += value * mult;
        s = &s[unit_len..];
    }
    // i64::MAX as f64 is 2^63, already one past the range.
    if !total.is_finite() || total >= i64::MAX as f64 {
        return Err(format!("invalid duration {input:?}: overflow"));
    }
    let n = total.round() as i64;
    Ok(Duration(if neg { -n } else { n }))
}

fn frac(v: u64, prec: u32) -> (String, u64) {
    let p = 10u64.pow(prec);
    let f = v % p;
    if f == 0 {
        return (String::new(), v / p);
    }
    let digits = format!("{f:0width$}", width = prec as usize);
    (format!(".{}", digits.trim_end_matches('0')), v / p)
}

impl fmt::Display for Duration {
    /// Go's `time.Duration.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let u = self.0.unsigned_abs();
        let sign = if neg { "-" } else { "" };
        if u == 0 {
            return f.write_str("0s");
        }
        if u < 1_000_000_000 {
            let (prec, unit) = if u < 1_000 {
                (0, "ns")
            } else if u < 1_000_000 {
                (3, "µs")
            } else {
                (6, "ms")
            };
            let (fr, int) = frac(u, prec);
            return write!(f, "{sign}{int}{fr}{unit}");
        }
        let (fr, secs) = frac(u, 9);
        let s = secs % 60;
        let mins = secs / 60;
        if mins == 0 {
            return write!(f, "{sign}{s}{fr}s");
        }
        let m = mins % 60;
        let h = mins / 60;
        if h == 0 {
            return write!(f, "{sign}{m}m{s}{fr}s");
        }
        write!(f, "{sign}{h}h{m}m{s}{fr}s")
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_yaml_ng::Value::deserialize(d)?;
        let text = cast::value_to_string(&v).map_err(D::Error::custom)?;
        parse_duration(&text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(s: &str) -> String {
        parse_duration(s).unwrap().to_string()
    }

    #[test]
    fn prints_like_go() {
        assert_eq!(show("1m30s"), "1m30s");
        assert_eq!(show("90s"), "1m30s");
        assert_eq!(show("500ms"), "500ms");
        assert_eq!(show("1h"), "1h0m0s");
        assert_eq!(show("1.5s"), "1.5s");
        assert_eq!(show("0"), "0s");
        assert_eq!(show("10us"), "10µs");
        assert_eq!(show("1d"), "24h0m0s");
        assert_eq!(show("1500ns"), "1.5µs");
        assert_eq!(show("2h45m10.5s"), "2h45m10.5s");
    }

    #[test]
    fn rejects_missing_unit() {
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").is_err());
    }
}
