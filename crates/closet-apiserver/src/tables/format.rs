//! Shared cell helpers: panic-free reads from arbitrary JSON and ages in the `HumanDuration`
//! style kubectl users know.
//!
//! Every reader takes a path of object keys and answers a neutral value ("", 0, false, an
//! empty slice) when a step is missing or of the wrong type, so printers never branch on
//! malformed input themselves.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value};

/// The value at `path`, if every step is an object holding the next key.
pub(super) fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |cur, key| cur.as_object()?.get(*key))
}

/// The object at `path`; upstream's "pointer is set" checks map to this.
pub(super) fn obj<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    at(v, path)?.as_object()
}

/// The string at `path`, if it is one.
pub(super) fn opt_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path)?.as_str()
}

/// The string at `path`, or "" (Go's zero value) when missing or not a string.
pub(super) fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    opt_str(v, path).unwrap_or("")
}

/// The integer at `path`, if it is one that fits an i64.
pub(super) fn opt_int(v: &Value, path: &[&str]) -> Option<i64> {
    at(v, path)?.as_i64()
}

/// The integer at `path`, or 0.
pub(super) fn int_at(v: &Value, path: &[&str]) -> i64 {
    opt_int(v, path).unwrap_or(0)
}

/// The boolean at `path`, if it is one.
pub(super) fn opt_bool(v: &Value, path: &[&str]) -> Option<bool> {
    at(v, path)?.as_bool()
}

/// The boolean at `path`, or false.
pub(super) fn bool_at(v: &Value, path: &[&str]) -> bool {
    opt_bool(v, path).unwrap_or(false)
}

/// The array at `path`, or an empty slice.
pub(super) fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// How many entries the array or map at `path` holds (upstream's `len()` on either).
pub(super) fn len_at(v: &Value, path: &[&str]) -> i64 {
    let n = match at(v, path) {
        Some(Value::Array(a)) => a.len(),
        Some(Value::Object(m)) => m.len(),
        _ => 0,
    };
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Whether `metadata.deletionTimestamp` is set; any non-null value counts, as upstream only
/// asks whether the pointer is present.
pub(super) fn deleting(v: &Value) -> bool {
    at(v, &["metadata", "deletionTimestamp"]).is_some_and(|t| !t.is_null())
}

/// The timestamp at `path`; unparseable or missing values are Go's zero time.
pub(super) fn time_at(v: &Value, path: &[&str]) -> Option<Timestamp> {
    opt_str(v, path)?.parse().ok()
}

/// `metadata.name` as a cell.
pub(super) fn name(v: &Value) -> Value {
    Value::from(str_at(v, &["metadata", "name"]))
}

/// The Age cell: time since `metadata.creationTimestamp`.
pub(super) fn age(v: &Value, now: Timestamp) -> Value {
    Value::from(since(time_at(v, &["metadata", "creationTimestamp"]), now))
}

/// Time elapsed since `t` the way upstream's `translateTimestampSince` prints it.
pub(super) fn since(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        Some(t) => human_duration(now.duration_since(t)),
        None => "<unknown>".to_string(),
    }
}

/// Upstream's `HumanDuration`: about two significant figures, `<invalid>` for anything more
/// than a second in the future (clock skew of a second reads as "0s").
pub(super) fn human_duration(d: SignedDuration) -> String {
    // Truncation toward zero matches Go's int(d.Seconds()).
    let secs = d.as_secs();
    if secs < -1 {
        return "<invalid>".to_string();
    }
    if secs < 0 {
        return "0s".to_string();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        return with_rest(minutes, "m", secs % 60, "s");
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        return with_rest(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return with_rest(hours / 24, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return with_rest(hours / 24 / 365, "y", (hours / 24) % 365, "d");
    }
    format!("{}y", hours / 24 / 365)
}

/// "3m20s", or "3m" when the smaller unit is zero.
fn with_rest(big: i64, big_unit: &str, small: i64, small_unit: &str) -> String {
    if small == 0 {
        format!("{big}{big_unit}")
    } else {
        format!("{big}{big_unit}{small}{small_unit}")
    }
}

/// A JSON scalar as plain text; strings without their quotes.
pub(super) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A resource quantity as stored (upstream prints its canonical form; stored quantities are
/// usually already canonical). Missing quantities print as Go's zero quantity, "0".
pub(super) fn quantity(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(n @ Value::Number(_)) => n.to_string(),
        _ => "0".to_string(),
    }
}

/// Joins up to `max` entries and notes how many were left out, like upstream's
/// `listWithMoreString`; an empty list is `<unset>`.
pub(super) fn list_with_more(list: &[String], more: bool, count: usize, max: usize) -> String {
    let joined = list.join(",");
    if more {
        return format!("{joined} + {} more...", count.saturating_sub(max));
    }
    if joined.is_empty() {
        "<unset>".to_string()
    } else {
        joined
    }
}

/// Container names and images of a pod template, each comma-joined.
pub(super) fn container_cells(containers: &[Value]) -> (Value, Value) {
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (Value::from(names.join(",")), Value::from(images.join(",")))
}

/// Whether the condition of `kind` in `conditions` has status "True"; upstream looks only at
/// the first condition of that type.
pub(super) fn condition_true(conditions: &[Value], kind: &str) -> bool {
    conditions
        .iter()
        .find(|c| str_at(c, &["type"]) == kind)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secs(s: i64) -> String {
        human_duration(SignedDuration::from_secs(s))
    }

    #[test]
    fn human_duration_matches_upstream_steps() {
        let cases = [
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (200, "3m20s"),
            (599, "9m59s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 25 * 60, "3h25m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (2 * 86400, "2d"),
            (2 * 86400 + 5 * 3600, "2d5h"),
            (45 * 86400, "45d"),
            (729 * 86400, "729d"),
            ((3 * 365 + 120) * 86400, "3y120d"),
            (4 * 365 * 86400, "4y"),
            (9 * 365 * 86400 + 100 * 86400, "9y"),
        ];
        for (s, want) in cases {
            assert_eq!(secs(s), want, "{s}s");
        }
        // Sub-second skew into the future still reads as now.
        assert_eq!(human_duration(SignedDuration::from_millis(-1500)), "0s");
    }

    #[test]
    fn since_handles_missing_and_future() {
        let now = super::super::test_now();
        assert_eq!(since(None, now), "<unknown>");
        assert_eq!(since("2024-05-01T12:00:10Z".parse().ok(), now), "<invalid>");
        assert_eq!(since("2024-05-01T11:55:00Z".parse().ok(), now), "5m");
    }

    #[test]
    fn readers_tolerate_wrong_types() {
        let v = json!({"a": {"b": 5, "s": "x", "l": [1, 2]}, "n": "nope"});
        assert_eq!(int_at(&v, &["a", "b"]), 5);
        assert_eq!(int_at(&v, &["a", "s"]), 0);
        assert_eq!(str_at(&v, &["n", "deeper"]), "");
        assert_eq!(arr_at(&v, &["a", "b"]).len(), 0);
        assert_eq!(len_at(&v, &["a", "l"]), 2);
        assert_eq!(len_at(&v, &["a"]), 3);
        assert!(time_at(&v, &["n"]).is_none());
        assert_eq!(quantity(at(&v, &["a", "b"])), "5");
        assert_eq!(quantity(None), "0");
    }

    #[test]
    fn list_with_more_counts_the_rest() {
        let l = ["a".to_string(), "b".to_string(), "c".to_string()];
        assert_eq!(list_with_more(&l, true, 5, 3), "a,b,c + 2 more...");
        assert_eq!(list_with_more(&l[..1], false, 1, 3), "a");
        assert_eq!(list_with_more(&[], false, 0, 3), "<unset>");
    }
}
