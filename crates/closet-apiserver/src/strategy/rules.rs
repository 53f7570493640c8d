//! Value rules of the kinds people write by hand, worded as upstream's validation words
//! them: keys of ConfigMaps and Secrets, sizes, finalizer names, owner references,
//! replica counts and port numbers.

use closet_types::{BadValue, FieldError};
use serde_json::Value;

use crate::registry::ResourceInfo;

/// Largest total of a ConfigMap's or Secret's data, as upstream.
const MAX_CONFIG_BYTES: usize = 1024 * 1024;

const CONFIG_KEY: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

fn config_key_errors(key: &str) -> Option<&'static str> {
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        return Some(CONFIG_KEY);
    }
    if key.len() > 253 {
        return Some("must be no more than 253 characters");
    }
    if key == "." || key == ".." {
        return Some("must not be '.' or '..'");
    }
    if key.starts_with("..") {
        return Some("must not start with '..'");
    }
    None
}

fn config_data(obj: &Value, errors: &mut Vec<FieldError>) {
    let mut total = 0;
    for field in ["data", "binaryData", "stringData"] {
        for (key, value) in obj
            .get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(why) = config_key_errors(key) {
                errors.push(FieldError::invalid(
                    format!("{field}[{key}]"),
                    key.as_str(),
                    why,
                ));
            }
            total += key.len() + value.as_str().map_or(0, str::len);
        }
    }
    if total > MAX_CONFIG_BYTES {
        errors.push(FieldError::too_long("", MAX_CONFIG_BYTES));
    }
}

fn int_in(obj: &Value, path: &[&str], min: i64, max: i64, why: &str, errors: &mut Vec<FieldError>) {
    let Some(v) = path.iter().try_fold(obj, |v, p| v.get(p)) else {
        return;
    };
    if let Some(n) = v.as_i64()
        && (n < min || n > max)
    {
        errors.push(FieldError::invalid(path.join("."), BadValue::Int(n), why));
    }
}

const PORT: &str = "must be between 1 and 65535, inclusive";

fn container_ports(spec: &Value, path: &str, errors: &mut Vec<FieldError>) {
    for (at, c) in super::containers(spec, path) {
        for (j, p) in c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let port = |field: &str, min: i64| {
                p.get(field)
                    .and_then(Value::as_i64)
                    .filter(|n| !(min..=65535).contains(n))
            };
            if let Some(n) = port("containerPort", 1) {
                let field = format!("{at}.ports[{j}].containerPort");
                errors.push(FieldError::invalid(field, BadValue::Int(n), PORT));
            }
            if let Some(n) = port("hostPort", 0) {
                let field = format!("{at}.ports[{j}].hostPort");
                errors.push(FieldError::invalid(field, BadValue::Int(n), PORT));
            }
        }
    }
    if let Some(n) = spec
        .get("activeDeadlineSeconds")
        .and_then(Value::as_i64)
        .filter(|n| *n < 1)
    {
        let why = "must be between 1 and 2147483647, inclusive";
        errors.push(FieldError::invalid(
            format!("{path}.activeDeadlineSeconds"),
            BadValue::Int(n),
            why,
        ));
    }
}

fn metadata(info: &ResourceInfo, obj: &Value, errors: &mut Vec<FieldError>) {
    let Some(meta) = obj.get("metadata") else {
        return;
    };
    for (i, f) in meta
        .get("finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(f) = f.as_str() else { continue };
        for why in closet_types::names::is_qualified_name(f) {
            errors.push(FieldError::invalid(
                format!("metadata.finalizers[{i}]"),
                f,
                why,
            ));
        }
    }
    for (i, r) in meta
        .get("ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        for field in ["apiVersion", "kind", "name", "uid"] {
            if r.get(field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                errors.push(FieldError::required(
                    format!("metadata.ownerReferences[{i}].{field}"),
                    "",
                ));
            }
        }
    }
    if let Some(generate) = meta
        .get("generateName")
        .and_then(Value::as_str)
        .filter(|g| !g.is_empty())
    {
        let rule = match info.name_rule {
            crate::registry::NameRule::Label => closet_types::NameRule::Dns1123Label,
            crate::registry::NameRule::PathSegment => closet_types::NameRule::PathSegment,
            crate::registry::NameRule::Subdomain => closet_types::NameRule::Dns1123Subdomain,
        };
        for why in rule.validate_prefix(generate) {
            errors.push(FieldError::invalid("metadata.generateName", generate, why));
        }
    }
}

/// Every rule that applies to `obj`'s kind.
pub(super) fn check(info: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    metadata(info, obj, &mut errors);
    if info.custom.is_some() {
        return errors;
    }
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    match (info.group.as_str(), info.kind.as_str()) {
        ("", "ConfigMap" | "Secret") => config_data(obj, &mut errors),
        ("", "Pod") => container_ports(spec, "spec", &mut errors),
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet") => {
            int_in(
                obj,
                &["spec", "replicas"],
                0,
                i64::from(i32::MAX),
                "must be greater than or equal to 0",
                &mut errors,
            );
            if let Some(pod) = spec.get("template").and_then(|t| t.get("spec")) {
                container_ports(pod, "spec.template.spec", &mut errors);
            }
        }
        ("", "Service") => {
            for (i, p) in spec
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                for (field, min) in [("port", 1), ("nodePort", 0), ("targetPort", 1)] {
                    if let Some(n) = p
                        .get(field)
                        .and_then(Value::as_i64)
                        .filter(|n| !(min..=65535).contains(n))
                    {
                        errors.push(FieldError::invalid(
                            format!("spec.ports[{i}].{field}"),
                            BadValue::Int(n),
                            PORT,
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    errors
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::registry::Registry;

    fn info(group: &str, plural: &str) -> std::sync::Arc<ResourceInfo> {
        Registry::builtin().get(group, "v1", plural).unwrap()
    }

    #[test]
    fn rules() {
        let cm = info("", "configmaps");
        assert!(check(&cm, &json!({"data": {"ok.key": "v"}})).is_empty());
        for bad in ["a/b", "..", "..x", "", "a b"] {
            assert_eq!(check(&cm, &json!({"data": {bad: "v"}})).len(), 1, "{bad}");
        }
        let big = "x".repeat(MAX_CONFIG_BYTES + 1);
        assert_eq!(check(&cm, &json!({"data": {"k": big}})).len(), 1);
        assert_eq!(
            check(&cm, &json!({"metadata": {"finalizers": ["a b"]}})).len(),
            1
        );
        assert_eq!(check(&cm, &json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "n"}]}})).len(), 1);
        let deploy = info("apps", "deployments");
        assert_eq!(
            check(&deploy, &json!({"spec": {"replicas": -1}}))[0].field,
            "spec.replicas"
        );
        let svc = info("", "services");
        assert_eq!(
            check(&svc, &json!({"spec": {"ports": [{"port": 70000}]}}))[0].field,
            "spec.ports[0].port"
        );
        assert!(
            check(
                &svc,
                &json!({"spec": {"ports": [{"port": 80, "targetPort": "http"}]}})
            )
            .is_empty()
        );
        let pods = info("", "pods");
        assert_eq!(
            check(&pods, &json!({"spec": {"activeDeadlineSeconds": 0}})).len(),
            1
        );
    }
}
