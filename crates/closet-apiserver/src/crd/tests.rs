use serde_json::json;

use super::*;

fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [
                {"name": "v1", "served": true, "storage": true,
                 "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"}},
                 "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
                 "schema": {"openAPIV3Schema": {"type": "object"}}},
                {"name": "v1beta1", "served": false, "storage": false},
            ],
        },
    })
}

#[test]
fn served_versions_become_resources() {
    let found = resources(&widget_crd());
    assert_eq!(found.len(), 1);
    let r = &found[0];
    assert_eq!(
        (r.group.as_str(), r.version.as_str(), r.plural.as_str()),
        ("example.com", "v1", "widgets")
    );
    assert_eq!(r.short_names, ["wd"]);
    assert!(r.namespaced);
    assert_eq!(r.subresources, ["status", "scale"]);
    let custom = r.custom.as_ref().unwrap();
    assert_eq!(custom.printer_columns[0].name, "Size");
    assert_eq!(custom.scale.as_ref().unwrap().spec_replicas, ".spec.size");
}

#[test]
fn validation_and_status() {
    assert!(validate(&widget_crd()).is_empty());
    let mut wrong = widget_crd();
    wrong["metadata"]["name"] = json!("widgets");
    wrong["spec"]["versions"][0]["storage"] = json!(false);
    let errors = validate(&wrong);
    assert!(errors.iter().any(|e| e.field == "metadata.name"));
    assert!(errors.iter().any(|e| e.field == "spec.versions"));
    let status = accepted_status(&widget_crd(), "2026-01-01T00:00:00Z");
    assert_eq!(status["storedVersions"], json!(["v1"]));
    assert_eq!(status["conditions"][1]["type"], "Established");
}
