//! Lenient scalar decoding: typed fields accept the strings interpolation
//! produces, as compose-go casts them after interpolation.

use std::cell::RefCell;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_yaml_ng::Value;

thread_local! {
    static WARNINGS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Takes the warnings the casts emitted on this thread.
pub fn take_warnings() -> Vec<String> {
    WARNINGS.with(|w| std::mem::take(&mut *w.borrow_mut()))
}

/// Records a warning for the current `build_project` call.
pub fn warn(msg: String) {
    WARNINGS.with(|w| w.borrow_mut().push(msg));
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(t) => scalar_text(&t.value),
        _ => None,
    }
}

/// Casts a YAML value to a bool; YAML 1.1 words are accepted with a warning.
pub fn value_to_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Tagged(t) => value_to_bool(&t.value),
        _ => {
            let s =
                scalar_text(v).ok_or_else(|| format!("expected a boolean, found {}", kind(v)))?;
            match s.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                "yes" | "y" | "on" => {
                    warn(format!(
                        "{s:?} for boolean is not supported by YAML 1.2, please use `true`"
                    ));
                    Ok(true)
                }
                "no" | "n" | "off" => {
                    warn(format!(
                        "{s:?} for boolean is not supported by YAML 1.2, please use `false`"
                    ));
                    Ok(false)
                }
                _ => Err(format!("expected a boolean, found {s:?}")),
            }
        }
    }
}

/// Casts a YAML value to an `i64`.
pub fn value_to_i64(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(i),
            // `as` would saturate: 1e300 would silently become i64::MAX.
            (None, Some(f)) if f.fract() == 0.0 || f.is_infinite() => float_to_i64(f, n),
            _ => Err(format!("expected an integer, found {n}")),
        },
        Value::Tagged(t) => value_to_i64(&t.value),
        _ => {
            let s =
                scalar_text(v).ok_or_else(|| format!("expected an integer, found {}", kind(v)))?;
            let t = s.trim();
            t.parse::<i64>().map_err(|e| match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    format!("{t} is out of range")
                }
                _ => format!("expected an integer, found {s:?}"),
            })
        }
    }
}

/// A whole float as an `i64`, or why not.
fn float_to_i64(f: f64, written: &dyn std::fmt::Display) -> Result<i64, String> {
    // i64::MAX as f64 rounds up to 2^63, itself out of range.
    if f.is_finite() && f >= i64::MIN as f64 && f < i64::MAX as f64 {
        Ok(f as i64)
    } else {
        Err(format!("{written} is out of range"))
    }
}

/// Casts a YAML value to an `f64`; infinities and NaN (`.inf`, `1e400`, `.nan`)
/// are no setting anyone means.
pub fn value_to_f64(v: &Value) -> Result<f64, String> {
    let (f, written) = match v {
        Value::Number(n) => (
            n.as_f64()
                .ok_or_else(|| format!("expected a number, found {n}"))?,
            n.to_string(),
        ),
        Value::Tagged(t) => return value_to_f64(&t.value),
        _ => {
            let s =
                scalar_text(v).ok_or_else(|| format!("expected a number, found {}", kind(v)))?;
            let f = s
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("expected a number, found {s:?}"))?;
            (f, s.trim().to_string())
        }
    };
    if f.is_finite() {
        Ok(f)
    } else {
        Err(format!("{written} is out of range"))
    }
}

/// Casts a YAML scalar to its string form (numbers and bools as written).
pub fn value_to_string(v: &Value) -> Result<String, String> {
    scalar_text(v).ok_or_else(|| format!("expected a string, found {}", kind(v)))
}

/// Names the YAML type of a value for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a sequence",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Deserializes a bool leniently.
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(false);
    }
    value_to_bool(&v).map_err(D::Error::custom)
}

/// Deserializes an optional bool leniently.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    value_to_bool(&v).map(Some).map_err(D::Error::custom)
}

/// Deserializes an `i64` leniently.
pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(0);
    }
    value_to_i64(&v).map_err(D::Error::custom)
}

/// Deserializes an optional `i64` leniently.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    value_to_i64(&v).map(Some).map_err(D::Error::custom)
}

/// Deserializes an `i32` leniently.
pub fn i32<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    let n = i64(d)?;
    i32::try_from(n).map_err(|_| D::Error::custom(format!("{n} is out of range")))
}

/// Deserializes a `u32` leniently.
pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = i64(d)?;
    u32::try_from(n).map_err(|_| D::Error::custom(format!("{n} is out of range")))
}

/// Deserializes a `u64` leniently.
pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = i64(d)?;
    u64::try_from(n).map_err(|_| D::Error::custom(format!("{n} is out of range")))
}

/// Deserializes an optional `u64` leniently.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match opt_i64(d)? {
        None => Ok(None),
        Some(n) => u64::try_from(n)
            .map(Some)
            .map_err(|_| D::Error::custom(format!("{n} is out of range"))),
    }
}

/// Deserializes an optional `i32` leniently.
pub fn opt_i32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    match opt_i64(d)? {
        None => Ok(None),
        Some(n) => i32::try_from(n)
            .map(Some)
            .map_err(|_| D::Error::custom(format!("{n} is out of range"))),
    }
}

/// Deserializes an `f32` leniently.
pub fn f32<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(0.0);
    }
    let f = value_to_f64(&v).map_err(D::Error::custom)?;
    // `as f32` would make 1e308 an infinity, which prints as null: dropped.
    if f.abs() > f32::MAX as f64 {
        let written = scalar_text(&v).unwrap_or_else(|| f.to_string());
        return Err(D::Error::custom(format!("{written} is out of range")));
    }
    Ok(f as f32)
}

/// Deserializes a string leniently (numbers and bools become their text).
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(String::new());
    }
    value_to_string(&v).map_err(D::Error::custom)
}

/// Deserializes a list of strings leniently.
pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(items) => items
            .iter()
            .map(|i| value_to_string(i).map_err(D::Error::custom))
            .collect(),
        other => value_to_string(&other)
            .map(|s| vec![s])
            .map_err(D::Error::custom),
    }
}

/// Deserializes a string map leniently (null values become empty strings).
pub fn string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    let v = Value::deserialize(d)?;
    let mut out = std::collections::BTreeMap::new();
    match v {
        Value::Null => {}
        Value::Mapping(m) => {
            for (k, v) in m {
                let k = value_to_string(&k).map_err(D::Error::custom)?;
                let v = if v.is_null() {
                    String::new()
                } else {
                    value_to_string(&v).map_err(D::Error::custom)?
                };
                out.insert(k, v);
            }
        }
        other => {
            return Err(D::Error::custom(format!(
                "expected a mapping, found {}",
                kind(&other)
            )))
        }
    }
    Ok(out)
}

/// Deserializes a `KEY: value|null` map (environment, build args).
pub fn opt_string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, Option<String>>, D::Error> {
    let v = Value::deserialize(d)?;
    let mut out = std::collections::BTreeMap::new();
    match v {
        Value::Null => {}
        Value::Mapping(m) => {
            for (k, v) in m {
                let k = value_to_string(&k).map_err(D::Error::custom)?;
                let v = if v.is_null() {
                    None
                } else {
                    Some(value_to_string(&v).map_err(D::Error::custom)?)
                };
                out.insert(k, v);
            }
        }
        other => {
            return Err(D::Error::custom(format!(
                "expected a mapping, found {}",
                kind(&other)
            )))
        }
    }
    Ok(out)
}

/// Deserializes an optional list of strings leniently (`None` when absent or null).
pub fn opt_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    match v {
        Value::Sequence(items) => items
            .iter()
            .map(|i| value_to_string(i).map_err(D::Error::custom))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        other => Err(D::Error::custom(format!(
            "expected a sequence, found {}",
            kind(&other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn numbers_out_of_range_are_errors_not_saturated() {
        assert_eq!(value_to_i64(&yaml("1e3")), Ok(1000));
        assert_eq!(value_to_i64(&yaml("'42'")), Ok(42));
        for s in [
            "1e300",
            "-1e300",
            "9223372036854775808",
            "18446744073709551615",
            ".inf",
        ] {
            let e = value_to_i64(&yaml(s)).unwrap_err();
            assert!(e.ends_with("out of range"), "{s}: {e}");
        }
        let e = value_to_i64(&yaml("'99999999999999999999'")).unwrap_err();
        assert_eq!(e, "99999999999999999999 is out of range");
        assert!(value_to_i64(&yaml("1.5"))
            .unwrap_err()
            .starts_with("expected"));
        for s in [".inf", "-.inf", ".nan", "'1e400'", "'NaN'"] {
            let e = value_to_f64(&yaml(s)).unwrap_err();
            assert!(e.ends_with("out of range"), "{s}: {e}");
        }
        let f32 = |s: &str| super::f32(serde_yaml_ng::Deserializer::from_str(s));
        assert_eq!(f32("0.5").unwrap(), 0.5);
        assert!(f32("1e308")
            .unwrap_err()
            .to_string()
            .contains("out of range"));
    }
}
