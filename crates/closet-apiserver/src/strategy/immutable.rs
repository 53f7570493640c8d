//! Fields an update may not change, worded as upstream's validation words them.

use closet_types::{BadValue, FieldError};
use serde_json::Value;

use crate::registry::ResourceInfo;

const IMMUTABLE: &str = "field is immutable";

/// What upstream tells a client that changes a pod's spec.
const POD_SPEC_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, p| v.get(p))
}

fn unchanged(old: &Value, new: &Value, path: &[&str], errors: &mut Vec<FieldError>) {
    let (before, after) = (at(old, path), at(new, path));
    if before != after {
        let shown = after.cloned().map_or(BadValue::Omitted, BadValue::Json);
        errors.push(FieldError::invalid(path.join("."), shown, IMMUTABLE));
    }
}

/// A pod spec with the fields an update may change blanked out.
fn pod_spec_frozen_part(spec: Option<&Value>) -> Value {
    let mut spec = spec.cloned().unwrap_or(Value::Null);
    if let Some(map) = spec.as_object_mut() {
        for field in [
            "activeDeadlineSeconds",
            "tolerations",
            "terminationGracePeriodSeconds",
        ] {
            map.remove(field);
        }
        for list in ["containers", "initContainers"] {
            for c in map
                .get_mut(list)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(c) = c.as_object_mut() {
                    c.remove("image");
                }
            }
        }
    }
    spec
}

/// A write may not change an object's uid or creation time (omitting them is fine: the
/// server keeps the stored ones).
pub(crate) fn identity(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for field in ["uid", "creationTimestamp"] {
        let after = at(new, &["metadata", field]);
        if after.is_some_and(|a| !a.is_null() && Some(a) != at(old, &["metadata", field])) {
            let shown = after.cloned().map_or(BadValue::Omitted, BadValue::Json);
            errors.push(FieldError::invalid(
                format!("metadata.{field}"),
                shown,
                IMMUTABLE,
            ));
        }
    }
    errors
}

/// Changes `new` makes to fields of `old` that may not change.
pub(super) fn check(info: &ResourceInfo, old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    errors.extend(identity(old, new));
    if info.custom.is_some() {
        return errors;
    }
    match (info.group.as_str(), info.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            unchanged(old, new, &["spec", "selector"], &mut errors);
        }
        ("batch", "Job") => {
            unchanged(old, new, &["spec", "selector"], &mut errors);
            unchanged(old, new, &["spec", "completions"], &mut errors);
        }
        ("", "Pod")
            if pod_spec_frozen_part(old.get("spec")) != pod_spec_frozen_part(new.get("spec")) =>
        {
            errors.push(FieldError::forbidden("spec", POD_SPEC_FORBIDDEN));
        }
        ("", "Service") => {
            let before = at(old, &["spec", "clusterIP"])
                .and_then(Value::as_str)
                .unwrap_or("");
            let after = at(new, &["spec", "clusterIP"])
                .and_then(Value::as_str)
                .unwrap_or("");
            let external =
                at(new, &["spec", "type"]).and_then(Value::as_str) == Some("ExternalName");
            if !before.is_empty() && before != after && !external {
                errors.push(FieldError::invalid("spec.clusterIP", after, IMMUTABLE));
            }
        }
        ("", "PersistentVolumeClaim") => {
            let bound = at(old, &["status", "phase"]).and_then(Value::as_str) == Some("Bound");
            let without_resources = |v: &Value| {
                let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
                if let Some(map) = spec.as_object_mut() {
                    map.remove("resources");
                    map.remove("volumeAttributesClassName");
                }
                spec
            };
            if bound && without_resources(old) != without_resources(new) {
                errors.push(FieldError::forbidden(
                    "spec",
                    "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
                ));
            }
        }
        ("", "ConfigMap" | "Secret")
            if old.get("immutable").and_then(Value::as_bool) == Some(true) =>
        {
            unchanged(old, new, &["immutable"], &mut errors);
            unchanged(old, new, &["data"], &mut errors);
            unchanged(old, new, &["binaryData"], &mut errors);
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
    fn selectors_pod_specs_and_immutable_config() {
        let deploy = info("apps", "deployments");
        let old = json!({"spec": {"selector": {"matchLabels": {"a": "b"}}}});
        let new = json!({"spec": {"selector": {"matchLabels": {"a": "c"}}}});
        assert_eq!(check(&deploy, &old, &new)[0].field, "spec.selector");
        assert!(check(&deploy, &old, &old).is_empty());

        let pods = info("", "pods");
        let pod = json!({"spec": {"containers": [{"name": "c", "image": "a"}], "restartPolicy": "Always"}});
        let image = json!({"spec": {"containers": [{"name": "c", "image": "b"}], "restartPolicy": "Always"}});
        assert!(check(&pods, &pod, &image).is_empty());
        let policy = json!({"spec": {"containers": [{"name": "c", "image": "a"}], "restartPolicy": "Never"}});
        assert_eq!(check(&pods, &pod, &policy)[0].field, "spec");

        let cms = info("", "configmaps");
        let frozen = json!({"immutable": true, "data": {"a": "1"}});
        assert!(
            !check(
                &cms,
                &frozen,
                &json!({"immutable": true, "data": {"a": "2"}})
            )
            .is_empty()
        );
        assert!(
            check(
                &cms,
                &json!({"data": {"a": "1"}}),
                &json!({"data": {"a": "2"}})
            )
            .is_empty()
        );
    }
}
