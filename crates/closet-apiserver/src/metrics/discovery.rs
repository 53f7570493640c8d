//! `metrics.k8s.io/v1beta1` in discovery, in the aggregated and legacy forms, as
//! metrics-server's APIService adds it upstream. kubectl top looks for it there first and
//! says "Metrics API not available" without it.

use serde_json::{Value, json};

use super::{GROUP, VERSION};

/// The resources: (plural, singular, kind, namespaced).
const RESOURCES: [(&str, &str, &str, bool); 2] = [
    ("nodes", "", "NodeMetrics", false),
    ("pods", "", "PodMetrics", true),
];
const VERBS: [&str; 2] = ["get", "list"];

/// The `APIGroupDiscovery` item of `/apis` (aggregated form).
pub(crate) fn aggregated_group() -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .map(|(plural, singular, kind, namespaced)| {
            json!({
                "resource": plural,
                "singularResource": singular,
                "scope": if *namespaced { "Namespaced" } else { "Cluster" },
                "responseKind": {"group": GROUP, "version": VERSION, "kind": kind},
                "verbs": VERBS,
            })
        })
        .collect();
    json!({
        "metadata": {"name": GROUP},
        "versions": [{"version": VERSION, "resources": resources, "freshness": "Current"}],
    })
}

/// The group's entry in `/apis` (legacy `APIGroupList`), also `/apis/metrics.k8s.io` with
/// kind and apiVersion added.
pub(crate) fn legacy_group() -> Value {
    let version = json!({"groupVersion": format!("{GROUP}/{VERSION}"), "version": VERSION});
    json!({"name": GROUP, "versions": [version.clone()], "preferredVersion": version})
}

/// `/apis/metrics.k8s.io/v1beta1`.
pub(crate) fn resource_list() -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .map(|(plural, singular, kind, namespaced)| {
            json!({"name": plural, "singularName": singular, "namespaced": namespaced,
                   "kind": kind, "verbs": VERBS})
        })
        .collect();
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{GROUP}/{VERSION}"),
        "resources": resources,
    })
}
