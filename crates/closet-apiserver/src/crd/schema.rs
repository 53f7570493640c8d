//! Custom objects against their version's `openAPIV3Schema`: defaults are applied, unknown
//! fields pruned (unless `x-kubernetes-preserve-unknown-fields`), and types, required
//! fields, enums and bounds checked, as upstream does for structural schemas.

use closet_types::{BadValue, FieldError};
use serde_json::{Map, Value};

/// Deeper schemas are refused rather than walked.
const MAX_DEPTH: usize = 64;

/// Applies defaults and prunes unknown fields in place.
pub(crate) fn prune_and_default(schema: &Value, obj: &mut Value) {
    walk_mut(schema, obj, 0, true);
}

fn preserves_unknown(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
}

fn walk_mut(schema: &Value, value: &mut Value, depth: usize, root: bool) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            if let Some(props) = props {
                for (name, prop) in props {
                    if !map.contains_key(name)
                        && let Some(default) = prop.get("default")
                    {
                        map.insert(name.clone(), default.clone());
                    }
                }
            }
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let keep_all = preserves_unknown(schema)
                || additional.is_some()
                || schema
                    .get("x-kubernetes-embedded-resource")
                    .and_then(Value::as_bool)
                    == Some(true);
            map.retain(|k, _| {
                keep_all
                    || props.is_some_and(|p| p.contains_key(k))
                    // apiVersion, kind and metadata of the object itself are never pruned.
                    || (root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
            });
            // A null where the schema does not allow one is dropped, as upstream prunes it.
            map.retain(|k, v| {
                !v.is_null()
                    || props
                        .and_then(|p| p.get(k))
                        .is_none_or(|p| p.get("nullable").and_then(Value::as_bool) == Some(true))
            });
            for (k, v) in map.iter_mut() {
                if root && k == "metadata" {
                    continue;
                }
                if let Some(child) = props.and_then(|p| p.get(k)).or(additional) {
                    walk_mut(child, v, depth + 1, false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    walk_mut(item_schema, item, depth + 1, false);
                }
            }
        }
        _ => {}
    }
}

/// Fields of `obj` the schema does not know (what pruning would drop), as dotted paths.
pub(crate) fn unknown_fields(schema: &Value, obj: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_unknown(schema, obj, "", 0, &mut found);
    found
}

fn collect_unknown(
    schema: &Value,
    value: &Value,
    path: &str,
    depth: usize,
    found: &mut Vec<String>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let open = preserves_unknown(schema)
                || schema
                    .get("x-kubernetes-embedded-resource")
                    .and_then(Value::as_bool)
                    == Some(true);
            for (k, v) in map {
                if path.is_empty() && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                match props.and_then(|p| p.get(k)).or(additional) {
                    Some(child) => collect_unknown(child, v, &join(path, k), depth + 1, found),
                    None if !open => found.push(join(path, k)),
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    collect_unknown(item_schema, item, &format!("{path}[{i}]"), depth + 1, found);
                }
            }
        }
        _ => {}
    }
}

/// Checks `obj` against the schema; returns upstream-style field errors.
pub(crate) fn validate(schema: &Value, obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check(schema, obj, "", 0, &mut errors);
    errors
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn type_ok(kind: &str, value: &Value, int_or_string: bool) -> bool {
    if int_or_string {
        return value.is_string() || value.is_i64() || value.is_u64();
    }
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    }
}

fn check(schema: &Value, value: &Value, path: &str, depth: usize, errors: &mut Vec<FieldError>) {
    if depth > MAX_DEPTH {
        errors.push(FieldError::invalid(path, "", "nesting is too deep"));
        return;
    }
    let shown = || BadValue::Json(value.clone());
    let kind = schema.get("type").and_then(Value::as_str).unwrap_or("");
    let int_or_string = schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true);
    if value.is_null() {
        return;
    }
    if !type_ok(kind, value, int_or_string) {
        errors.push(FieldError::invalid(
            path,
            shown(),
            format!("must be of type {kind}"),
        ));
        return;
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        let allowed: Vec<String> = options.iter().map(Value::to_string).collect();
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        errors.push(FieldError::not_supported(path, shown(), &allowed));
    }
    bounds(schema, value, path, errors);
    match value {
        Value::Object(map) => check_object(schema, map, path, depth, errors),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(
                        item_schema,
                        item,
                        &format!("{path}[{i}]"),
                        depth + 1,
                        errors,
                    );
                }
            }
        }
        _ => {}
    }
}

fn check_object(
    schema: &Value,
    map: &Map<String, Value>,
    path: &str,
    depth: usize,
    errors: &mut Vec<FieldError>,
) {
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(field) = required.as_str()
            && !map.contains_key(field)
        {
            errors.push(FieldError::required(join(path, field), ""));
        }
    }
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (k, v) in map {
        if path.is_empty() && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(child) = props.and_then(|p| p.get(k)).or(additional) {
            check(child, v, &join(path, k), depth + 1, errors);
        }
    }
}

fn bounds(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let num = |f: &str| schema.get(f).and_then(Value::as_f64);
    if let Some(n) = value.as_f64() {
        if let Some(min) = num("minimum")
            && n < min
        {
            errors.push(FieldError::invalid(
                path,
                BadValue::Json(value.clone()),
                format!("should be greater than or equal to {min}"),
            ));
        }
        if let Some(max) = num("maximum")
            && n > max
        {
            errors.push(FieldError::invalid(
                path,
                BadValue::Json(value.clone()),
                format!("should be less than or equal to {max}"),
            ));
        }
    }
    let len = match value {
        Value::String(s) => Some((s.chars().count() as f64, "minLength", "maxLength")),
        Value::Array(a) => Some((a.len() as f64, "minItems", "maxItems")),
        _ => None,
    };
    if let Some((len, min_key, max_key)) = len {
        if num(min_key).is_some_and(|min| len < min) {
            errors.push(FieldError::invalid(
                path,
                BadValue::Json(value.clone()),
                format!(
                    "should have at least {} {}",
                    num(min_key).unwrap_or(0.0),
                    if value.is_string() { "chars" } else { "items" }
                ),
            ));
        }
        if num(max_key).is_some_and(|max| len > max) {
            errors.push(FieldError::invalid(
                path,
                BadValue::Json(value.clone()),
                format!(
                    "should have at most {} {}",
                    num(max_key).unwrap_or(0.0),
                    if value.is_string() { "chars" } else { "items" }
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {
                        "size": {"type": "integer", "minimum": 1, "maximum": 10},
                        "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
                        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
            },
        })
    }

    #[test]
    fn defaults_and_pruning() {
        let mut obj = json!({
            "apiVersion": "x.io/v1", "kind": "W", "metadata": {"name": "w", "unknown": 1},
            "spec": {"size": 2, "junk": true, "extra": {"anything": 1}, "labels": {"a": "b"}},
            "status": {"dropped": 1},
        });
        prune_and_default(&schema(), &mut obj);
        assert_eq!(obj["spec"]["mode"], "fast");
        assert!(obj["spec"].get("junk").is_none());
        assert_eq!(obj["spec"]["extra"]["anything"], 1);
        assert_eq!(obj["spec"]["labels"]["a"], "b");
        assert!(obj.get("status").is_none());
        let fresh = json!({"spec": {"size": 2, "junk": true, "extra": {"x": 1}}, "status": {}});
        assert_eq!(unknown_fields(&schema(), &fresh), ["spec.junk", "status"]);
        assert_eq!(obj["metadata"]["unknown"], 1);
        assert!(validate(&schema(), &obj).is_empty());
    }

    #[test]
    fn violations_are_reported_with_paths() {
        let obj = json!({"spec": {"size": 20, "mode": "medium", "tags": ["a", "b", "c"]}});
        let errors = validate(&schema(), &obj);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"spec.size"), "{errors:?}");
        assert!(fields.contains(&"spec.mode"));
        assert!(fields.contains(&"spec.tags"));
        let missing = validate(&schema(), &json!({"spec": {}}));
        assert_eq!(missing[0].field, "spec.size");
        let wrong = validate(&schema(), &json!({"spec": "text"}));
        assert_eq!(wrong[0].field, "spec");
    }
}
