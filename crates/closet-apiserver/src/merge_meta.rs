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
