//! Serialization helpers: Go's `omitempty` rules differ between compose-go's
//! YAML and JSON tags, so serializers consult the output mode of the thread.

use std::cell::Cell;

thread_local! {
    static JSON_MODE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the JSON output rules active (Go's `json:` tags).
pub fn with_json_mode<T>(f: impl FnOnce() -> T) -> T {
    let old = JSON_MODE.with(|m| m.replace(true));
    let out = f();
    JSON_MODE.with(|m| m.set(old));
    out
}

/// True while serializing with the JSON rules.
pub fn json_mode() -> bool {
    JSON_MODE.with(|m| m.get())
}

/// `omitempty` for bools.
pub fn is_false(b: &bool) -> bool {
    !*b
}

/// `omitempty` for signed integers.
pub fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// `omitempty` for `u32` values.
pub fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// `omitempty` for `u64` values.
pub fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// `omitempty` for `i32` values.
pub fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

/// `omitempty` for floats.
pub fn is_zero_f32(v: &f32) -> bool {
    *v == 0.0
}

/// Extensions (`x-*`) are `json:"-"` in compose-go, kept in YAML.
pub fn skip_extensions<K, V>(m: &std::collections::BTreeMap<K, V>) -> bool {
    m.is_empty() || json_mode()
}

/// Struct values with `omitempty`: YAML omits them when all fields are zero,
/// Go's JSON encoder never omits a non-pointer struct.
pub fn skip_empty_struct<T: IsEmpty>(v: &T) -> bool {
    !json_mode() && v.is_empty()
}

/// `ShellCommand`: YAML omits nil, JSON prints `null` (no `omitempty`).
pub fn skip_command(v: &Option<Vec<String>>) -> bool {
    v.is_none() && !json_mode()
}

/// A struct whose zero value Go's YAML encoder treats as empty.
pub trait IsEmpty {
    /// True when every field has its zero value.
    fn is_empty(&self) -> bool;
}

/// Serializes an `f32` as Go prints it: integral values without a fraction.
pub fn ser_f32<S: serde::Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else {
        // Shortest decimal that round-trips as f32, like Go's 'g' with -1 precision.
        let text = format!("{v}");
        s.serialize_f64(text.parse::<f64>().unwrap_or(f64::from(*v)))
    }
}
