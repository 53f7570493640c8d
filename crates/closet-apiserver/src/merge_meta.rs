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
