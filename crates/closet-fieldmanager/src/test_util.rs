//! Shared fixtures: a table schema with the list and map semantics of the kinds the tests
//! use (kubectl-wire.md §3.5), and small builders.

use serde_json::{Value, json};

use crate::{ListType, ManagedFields, Request, TableSchema};

/// Times used as `now`, in order.
pub(crate) const T1: &str = "2024-05-01T10:00:00Z";
pub(crate) const T2: &str = "2024-05-01T11:00:00Z";
pub(crate) const T3: &str = "2024-05-01T12:00:00Z";

/// Deployments, pods' templates, config maps: the markers upstream's OpenAPI carries.
pub(crate) fn schema() -> TableSchema {
    let map = |keys: &[&str]| ListType::Map(keys.iter().map(|k| k.to_string()).collect());
    let pod = "spec.template.spec";
    TableSchema::new()
        .with_free_map("metadata.labels")
        .with_free_map("metadata.annotations")
        .with_list("metadata.finalizers", ListType::Set)
        .with_list("metadata.ownerReferences", map(&["uid"]))
        .with_atomic_map("spec.selector")
        .with_free_map("spec.template.metadata.labels")
        .with_free_map("spec.template.metadata.annotations")
        .with_list(&format!("{pod}.containers"), map(&["name"]))
        .with_list(&format!("{pod}.containers.env"), map(&["name"]))
        .with_list(
            &format!("{pod}.containers.ports"),
            map(&["containerPort", "protocol"]),
        )
        .with_default(&format!("{pod}.containers.ports.protocol"), json!("TCP"))
        .with_list(&format!("{pod}.volumes"), map(&["name"]))
        .with_free_map(&format!("{pod}.nodeSelector"))
        .with_atomic_map(&format!("{pod}.nodeSelector"))
        .with_free_map("data")
}

/// A request by `manager` at apps/v1.
pub(crate) fn apps<'a>(manager: &'a str, now: &'a str) -> Request<'a> {
    Request::new(manager, "apps/v1", now)
}

/// The deployment `web` with these replicas and containers.
pub(crate) fn deployment(replicas: i64, containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers},
            },
        },
    })
}

/// The fieldsV1 JSON text of `manager`'s entry with `operation` ("Apply" or "Update").
pub(crate) fn fields_of(
    managed: &ManagedFields,
    manager: &str,
    operation: crate::Operation,
) -> String {
    managed
        .get(manager, operation)
        .map(|e| e.fields.to_json())
        .unwrap_or_else(|| format!("<no {operation} entry for {manager}>"))
}
