//! Reading and writing the metadata of objects held as JSON.
//!
//! Objects stay `serde_json::Value` end to end so that every kind, built-in or custom, and
//! every field we do not model, round-trips unchanged. These helpers never panic on odd
//! shapes: a field of the wrong type reads as absent.

use closet_store::KeyValue;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// `obj.metadata`, if it is an object.
pub fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata")?.as_object()
}

/// `obj.metadata` as a mutable object, created if missing or of the wrong type (and `obj`
/// turned into an object if it was not one).
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let Value::Object(map) = obj else {
        unreachable!("made an object above")
    };
    let entry = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    let Value::Object(meta) = entry else {
        unreachable!("made an object above")
    };
    meta
}

/// A string field of `metadata`.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj)?.get(field)?.as_str()
}

/// `metadata.name`, or empty.
pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or("")
}

/// `metadata.labels` (empty when absent).
pub fn labels(obj: &Value) -> Map<String, Value> {
    meta(obj)
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// `metadata.finalizers` as strings.
pub fn finalizers(obj: &Value) -> Vec<String> {
    meta(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn is_deleting(obj: &Value) -> bool {
    meta(obj).is_some_and(|m| m.get("deletionTimestamp").is_some_and(|v| !v.is_null()))
}

/// Decodes a stored value and stamps it with its revision as `resourceVersion`.
pub fn from_kv(kv: &KeyValue) -> ApiResult<Value> {
    let mut obj: Value = serde_json::from_slice(&kv.value).map_err(|e| {
        ApiError::internal(&format!("stored object {} is not valid JSON: {e}", kv.key))
    })?;
    set_resource_version(&mut obj, kv.mod_revision);
    Ok(obj)
}

/// Sets `metadata.resourceVersion`.
pub fn set_resource_version(obj: &mut Value, revision: i64) {
    meta_mut(obj).insert(
        "resourceVersion".into(),
        Value::String(revision.to_string()),
    );
}

/// Encodes an object for the store: without `resourceVersion`, which the store's revision
/// supplies on every read.
pub fn to_stored(obj: &Value) -> bytes::Bytes {
    let mut copy = obj.clone();
    meta_mut(&mut copy).remove("resourceVersion");
    bytes::Bytes::from(serde_json::to_vec(&copy).unwrap_or_default())
}

/// Parses a `resourceVersion` string into a revision, as a client-facing 400 on garbage.
pub fn parse_revision(rv: &str) -> ApiResult<i64> {
    rv.parse::<i64>()
        .ok()
        .filter(|r| *r >= 0)
        .ok_or_else(|| ApiError::bad_request(format!("invalid resource version: {rv:?}")))
}

/// RFC 3339 timestamp with second precision, as Kubernetes writes `metav1.Time`.
pub fn timestamp(t: jiff::Timestamp) -> String {
    t.round(jiff::Unit::Second)
        .unwrap_or(t)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Deepest nesting an object may have. Upstream's decoders stop near here too, and every
/// recursive step after decoding (encoding, schema walks, dropping) stays far from the
/// stack's end.
pub const MAX_DEPTH: usize = 100;

/// How deeply `value` nests and roughly how many bytes its JSON takes, measured without
/// recursion, giving up (returning what it saw so far) once either passes its limit.
pub fn depth_and_size(value: &Value, max_depth: usize, max_size: usize) -> (usize, usize) {
    let mut stack = vec![(value, 1usize)];
    let (mut deepest, mut size) = (0, 0);
    while let Some((v, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        if deepest > max_depth || size > max_size {
            break;
        }
        match v {
            Value::Object(map) => {
                size += 2;
                for (k, child) in map {
                    size += k.len() + 4;
                    stack.push((child, depth + 1));
                }
            }
            Value::Array(items) => {
                size += 2;
                stack.extend(items.iter().map(|child| (child, depth + 1)));
            }
            Value::String(s) => size += s.len() + 2,
            _ => size += 8,
        }
    }
    (deepest, size)
}

/// Looks up a dotted field path (`spec.nodeName`) and renders it as a field selector sees
/// it: strings as-is, booleans and numbers as text, absent as empty.
pub fn field_value(obj: &Value, path: &str) -> String {
    let mut cur = obj;
    for part in path.split('.') {
        cur = match cur.get(part) {
            Some(v) => v,
            None => return String::new(),
        };
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn odd_shapes_do_not_panic() {
        let mut v = json!("scalar");
        assert_eq!(name(&v), "");
        meta_mut(&mut v).insert("name".into(), json!("x"));
        assert_eq!(name(&v), "x");
        let mut w = json!({"metadata": 5});
        assert!(labels(&w).is_empty());
        set_resource_version(&mut w, 7);
        assert_eq!(w["metadata"]["resourceVersion"], "7");
    }

    #[test]
    fn stored_form_has_no_resource_version() {
        let v = json!({"metadata": {"name": "a", "resourceVersion": "5"}});
        let stored: Value = serde_json::from_slice(&to_stored(&v)).unwrap();
        assert!(stored["metadata"].get("resourceVersion").is_none());
    }

    #[test]
    fn depth_is_measured_without_recursion() {
        let mut deep = json!(1);
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        assert_eq!(
            depth_and_size(&deep, MAX_DEPTH, usize::MAX).0,
            MAX_DEPTH + 1
        );
        assert_eq!(
            depth_and_size(&json!({"a": {"b": [1]}}), MAX_DEPTH, usize::MAX).0,
            4
        );
        // Dropping a value this deep would itself recurse: take it apart iteratively.
        let mut stack = vec![deep];
        while let Some(mut v) = stack.pop() {
            if let Value::Array(items) = &mut v {
                stack.append(items);
            }
        }
    }

    #[test]
    fn field_values() {
        let pod = json!({"spec": {"nodeName": "n1", "hostNetwork": true}, "status": {}});
        assert_eq!(field_value(&pod, "spec.nodeName"), "n1");
        assert_eq!(field_value(&pod, "spec.hostNetwork"), "true");
        assert_eq!(field_value(&pod, "status.phase"), "");
    }
}
