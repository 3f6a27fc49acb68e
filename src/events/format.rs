//! `events`' output as docker compose prints it: `--json` is Go's
//! `json.Marshal` of a map (keys sorted, `<>&` escaped), the text line is
//! compose's `Event.String()` followed by `Fprintln`'s newline.

use std::time::{Duration, SystemTime};

use super::record::EventRecord;
use crate::container::record::labels;

/// Attributes under this prefix are compose's own; docker compose leaves them out.
const COMPOSE_LABEL_PREFIX: &str = "com.docker.compose.";

/// The service an event belongs to.
pub fn service(ev: &EventRecord) -> &str {
    ev.attribute(labels::SERVICE).unwrap_or_default()
}

/// Whether the event is about a `run` container (docker compose skips those).
pub fn is_oneoff(ev: &EventRecord) -> bool {
    ev.attribute(labels::ONEOFF) == Some("True")
}

/// The attributes docker compose shows, sorted by key.
fn shown_attributes(ev: &EventRecord) -> impl Iterator<Item = (&String, &String)> {
    ev.attributes
        .iter()
        .filter(|(k, _)| !k.starts_with(COMPOSE_LABEL_PREFIX))
}

/// `2006-01-02T15:04:05.123456789` (no zone) of `t` shifted by `offset` seconds.
fn civil(t: SystemTime, offset: i32) -> String {
    let shifted = if offset >= 0 {
        t.checked_add(Duration::from_secs(offset as u64))
    } else {
        t.checked_sub(Duration::from_secs(offset.unsigned_abs() as u64))
    }
    .unwrap_or(t);
    let s = humantime::format_rfc3339_nanos(shifted).to_string();
    s.trim_end_matches('Z').to_string()
}

/// Go's `time.RFC3339Nano` in the zone `offset` seconds east of UTC.
pub fn rfc3339_nano(t: SystemTime, offset: i32) -> String {
    let civil = civil(t, offset);
    let (secs, frac) = civil.split_once('.').unwrap_or((&civil, ""));
    let frac = frac.trim_end_matches('0');
    let mut out = secs.to_string();
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if offset == 0 {
        out.push('Z');
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let m = offset.unsigned_abs() / 60;
        out.push_str(&format!("{sign}{:02}:{:02}", m / 60, m % 60));
    }
    out
}

/// `2006-01-02 15:04:05.000000`: compose's text time, local, microseconds.
pub fn text_time(t: SystemTime, offset: i32) -> String {
    let civil = civil(t, offset);
    let micros = &civil[..civil.len().min(26)];
    micros.replacen('T', " ", 1)
}

/// One `--json` line (without its newline).
pub fn compose_json(ev: &EventRecord, offset: i32) -> String {
    let attributes: serde_json::Map<String, serde_json::Value> = shown_attributes(ev)
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    // Go marshals a map with its keys sorted: this insertion order is that order.
    let mut obj = serde_json::Map::new();
    obj.insert("action".into(), ev.action.clone().into());
    obj.insert("attributes".into(), attributes.into());
    obj.insert("id".into(), ev.id.clone().into());
    obj.insert("service".into(), service(ev).into());
    obj.insert("time".into(), rfc3339_nano(ev.time(), offset).into());
    obj.insert("type".into(), ev.kind.clone().into());
    crate::compose::output::go_json_escape(&serde_json::Value::Object(obj).to_string())
}

/// One text event as compose's `Event.String()` renders it, its own trailing
/// newline included (compose prints it with `Fprintln`, hence a blank line after).
pub fn compose_text(ev: &EventRecord, offset: i32) -> String {
    let attrs: Vec<String> = shown_attributes(ev)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{} {} {} {} ({})\n",
        text_time(ev.time(), offset),
        ev.kind,
        ev.action,
        ev.id,
        attrs.join(", ")
    )
}

/// The local zone's offset from UTC at `t`, in seconds (as Go's `time.Local`).
pub fn local_offset(t: SystemTime) -> i32 {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as libc::time_t)
        .unwrap_or(0);
    // SAFETY: an all-zero tm is a valid value to be overwritten.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is thread-safe.
    if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
        return 0;
    }
    tm.tm_gmtoff as i32
}

#[cfg(test)]
mod tests {
    use super::super::record::tests::record;
    use super::super::record::{Action, EventRecord};
    use super::*;

    fn die_at(nanos: u64) -> EventRecord {
        let t = SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos);
        let mut r = record("web");
        r.labels.insert("org.example.url".into(), "a<b>&c".into());
        EventRecord::container(
            &r,
            Action::Die {
                exit_code: 3,
                ran_for: Duration::from_secs(1),
            },
            t,
        )
    }

    #[test]
    fn json_is_gos_map_marshal_without_compose_labels() {
        let ev = die_at(1_700_000_000_123_450_000);
        assert_eq!(
            compose_json(&ev, 0),
            r#"{"action":"die","attributes":{"execDuration":"1","exitCode":"3","image":"busybox:latest","name":"p-web-1","org.example.team":"core","org.example.url":"a\u003cb\u003e\u0026c"},"id":"abc123","service":"web","time":"2023-11-14T22:13:20.12345Z","type":"container"}"#
        );
    }

    #[test]
    fn rfc3339_nano_trims_zeros_and_names_the_zone() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339_nano(t, 0), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_nano(t, 3600), "2023-11-14T23:13:20+01:00");
        assert_eq!(
            rfc3339_nano(t + Duration::from_nanos(5), -(5 * 3600 + 1800)),
            "2023-11-14T16:43:20.000000005-05:30"
        );
    }

    #[test]
    fn text_is_composes_event_string() {
        let ev = die_at(1_700_000_000_123_456_789);
        assert_eq!(
            compose_text(&ev, 0),
            "2023-11-14 22:13:20.123456 container die abc123 (execDuration=1, exitCode=3, \
             image=busybox:latest, name=p-web-1, org.example.team=core, org.example.url=a<b>&c)\n"
        );
        assert_eq!(service(&ev), "web");
        assert!(!is_oneoff(&ev));
    }
}
