//! The merge metadata closet-schema derives from the OpenAPI schemas, seen through
//! closet-patch's [`PatchMeta`] trait, so strategic merge patch follows the same patch
//! strategies and merge keys the served OpenAPI documents advertise.

use closet_patch::{ListStrategy, PatchMeta};
use closet_schema::Node;

/// One level of a kind's schema.
pub(crate) struct SchemaMeta<'a>(pub(crate) Node<'a>);

impl PatchMeta for SchemaMeta<'_> {
    fn list_strategy(&self, field: &str) -> ListStrategy {
        match self.0.field(field).list_strategy() {
            closet_schema::ListStrategy::Replace => ListStrategy::Replace,
            closet_schema::ListStrategy::MergeByKey(key) => ListStrategy::MergeByKey(key),
            closet_schema::ListStrategy::MergePrimitives => ListStrategy::MergePrimitives,
        }
    }

    fn retain_keys(&self, field: &str) -> bool {
        self.0.field(field).retain_keys()
    }

    fn child(&self, field: &str) -> Box<dyn PatchMeta + '_> {
        Box::new(SchemaMeta(self.0.child(field)))
    }
}

/// Applies a strategic merge patch to an object of the given built-in kind.
pub(crate) fn apply(
    (group, version, kind): (&str, &str, &str),
    target: &serde_json::Value,
    patch: &serde_json::Value,
) -> Result<serde_json::Value, closet_patch::PatchError> {
    match closet_schema::patch_meta(group, version, kind) {
        Some(meta) => closet_patch::apply_strategic(target, patch, &SchemaMeta(meta.root())),
        None => closet_patch::apply_strategic(target, patch, &closet_patch::NoMeta),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn kubectl_apply_patch_merges_containers_and_env() {
        let live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "nginx", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                {"name": "sidecar", "image": "busybox"},
            ]}}},
        });
        let patch = json!({"spec": {"replicas": 2, "template": {"spec": {
            "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
            "containers": [{"$setElementOrder/env": [{"name": "A"}, {"name": "C"}],
                            "env": [{"name": "C", "value": "3"}, {"$patch": "delete", "name": "B"}],
                            "image": "nginx:1.28", "name": "nginx"}]}}}});
        let out = super::apply(("apps", "v1", "Deployment"), &live, &patch).unwrap();
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["image"], "nginx:1.28");
        assert_eq!(
            containers[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "C", "value": "3"}])
        );
        assert_eq!(containers[1]["name"], "sidecar");
        assert_eq!(out["spec"]["replicas"], 2);
    }
}

/// The same schema facts seen through closet-fieldmanager's [`closet_fieldmanager::Schema`],
/// for server-side apply.
pub(crate) struct ApplySchema<'a>(pub(crate) Node<'a>);

impl closet_fieldmanager::Schema for ApplySchema<'_> {
    fn list_type(&self, field: &str) -> closet_fieldmanager::ListType {
        match self.0.field(field).list_type() {
            Some(closet_schema::ListType::Set) => closet_fieldmanager::ListType::Set,
            Some(closet_schema::ListType::Map(keys)) => closet_fieldmanager::ListType::Map(keys),
            Some(closet_schema::ListType::Atomic) | None => closet_fieldmanager::ListType::Atomic,
        }
    }

    fn map_is_atomic(&self, field: &str) -> bool {
        self.0.field(field).atomic_map()
    }

    fn is_named_field(&self, field: &str) -> bool {
        self.0.kind() == closet_schema::NodeKind::Object
            && self.0.field(field).kind() != closet_schema::NodeKind::Unknown
    }

    fn key_default(&self, field: &str) -> Option<serde_json::Value> {
        // The one list-map key with a schema default: ports default to TCP, so a port
        // without `protocol` is the TCP port.
        (field == "protocol").then(|| serde_json::json!("TCP"))
    }

    fn child(&self, field: &str) -> Box<dyn closet_fieldmanager::Schema + '_> {
        Box::new(ApplySchema(self.0.child(field)))
    }
}

/// Runs `f` with the server-side-apply schema of a kind: the built-in schema, or
/// upstream's deduced one (lists atomic, maps granular) for custom and unknown kinds.
pub(crate) fn with_apply_schema<T>(
    (group, version, kind): (&str, &str, &str),
    f: impl FnOnce(&dyn closet_fieldmanager::Schema) -> T,
) -> T {
    match closet_schema::patch_meta(group, version, kind) {
        Some(meta) => f(&ApplySchema(meta.root())),
        None => f(&closet_fieldmanager::Deduced),
    }
}

/// Fields of a built-in object its schema does not declare, as dotted paths
/// (`spec.replicaz`, `spec.template.spec.containers[0].imagePullPolicyy`): what upstream's
/// strict decoding reports as unknown fields. Free-form values (maps, raw JSON) are not
/// looked into.
pub(crate) fn unknown_fields(
    (group, version, kind): (&str, &str, &str),
    obj: &serde_json::Value,
) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(meta) = closet_schema::patch_meta(group, version, kind) {
        walk_unknown(meta.root(), obj, "", 0, &mut found);
    }
    found
}

fn walk_unknown(
    node: Node<'_>,
    value: &serde_json::Value,
    path: &str,
    depth: usize,
    found: &mut Vec<String>,
) {
    use closet_schema::NodeKind;
    if depth > 64 {
        return;
    }
    match (node.kind(), value) {
        (NodeKind::Object, serde_json::Value::Object(map)) => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                // apiVersion and kind of the object itself are type information.
                if path.is_empty() && (key == "apiVersion" || key == "kind") {
                    continue;
                }
                if node.declares(key) {
                    walk_unknown(node.field(key), child, &child_path, depth + 1, found);
                } else {
                    found.push(child_path);
                }
            }
        }
        (NodeKind::List, serde_json::Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                walk_unknown(
                    node.items(),
                    item,
                    &format!("{path}[{i}]"),
                    depth + 1,
                    found,
                );
            }
        }
        (NodeKind::Map, serde_json::Value::Object(map)) => {
            for (key, child) in map {
                walk_unknown(
                    node.field(key),
                    child,
                    &format!("{path}.{key}"),
                    depth + 1,
                    found,
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod strict_tests {
    use serde_json::json;

    #[test]
    fn undeclared_fields_are_found_at_any_depth() {
        let deploy = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"free": "keys are fine"}, "bogus": 1},
            "spec": {"replicaz": 2, "template": {"spec": {"containers": [{"name": "c", "imagee": "x"}]}}},
        });
        let found = super::unknown_fields(("apps", "v1", "Deployment"), &deploy);
        assert_eq!(
            found,
            [
                "metadata.bogus",
                "spec.replicaz",
                "spec.template.spec.containers[0].imagee"
            ]
        );
        let clean = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"any": "key"}});
        assert!(super::unknown_fields(("", "v1", "ConfigMap"), &clean).is_empty());
    }
}
