//! Leases, priority classes, budgets, autoscalers, CRDs and webhook configurations.

use serde_json::{Value, json};

use super::super::{cells, columns, test_now};

/// Samples for the module-wide robustness tests.
pub(in super::super) fn samples() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("coordination.k8s.io", "leases", lease()),
        ("scheduling.k8s.io", "priorityclasses", priority_class()),
        ("policy", "poddisruptionbudgets", pdb()),
        ("autoscaling", "horizontalpodautoscalers", hpa()),
        ("apiextensions.k8s.io", "customresourcedefinitions", crd()),
        (
            "admissionregistration.k8s.io",
            "mutatingwebhookconfigurations",
            webhooks(2),
        ),
        (
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations",
            webhooks(0),
        ),
    ]
}

fn lease() -> Value {
    json!({
        "metadata": {"name": "pi-1", "creationTimestamp": "2024-05-01T11:59:50Z"},
        "spec": {"holderIdentity": "pi-1", "leaseDurationSeconds": 40}
    })
}

fn priority_class() -> Value {
    json!({
        "metadata": {"name": "system-node-critical"},
        "value": 2000001000,
        "globalDefault": false,
        "preemptionPolicy": "PreemptLowerPriority"
    })
}

fn pdb() -> Value {
    json!({
        "metadata": {"name": "web"},
        "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}},
        "status": {"disruptionsAllowed": 1}
    })
}

fn crd() -> Value {
    json!({
        "metadata": {"name": "widgets.example.com", "creationTimestamp": "2024-05-01T08:30:00Z"}
    })
}

fn webhooks(n: usize) -> Value {
    let hooks: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("h{i}.example.com")}))
        .collect();
    json!({"metadata": {"name": "hooks"}, "webhooks": hooks})
}

fn hpa() -> Value {
    json!({
        "metadata": {"name": "web", "creationTimestamp": "2024-05-01T06:00:00Z"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80}}},
                {"type": "Resource", "resource": {"name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "200Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "rps"},
                    "target": {"type": "AverageValue", "averageValue": "10"}}}
            ]
        },
        "status": {
            "currentReplicas": 3,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": 41, "averageValue": "205m"}}}
            ]
        }
    })
}

/// The TARGETS cell of an autoscaler with these metrics and current values.
fn targets(metrics: Value, current: Value) -> Value {
    let h = json!({"spec": {"maxReplicas": 1, "metrics": metrics},
                   "status": {"currentMetrics": current}});
    cells("autoscaling", "horizontalpodautoscalers", &h, test_now())[2].clone()
}

#[test]
fn small_kinds() {
    let r = cells("coordination.k8s.io", "leases", &lease(), test_now());
    assert_eq!(r, ["pi-1", "pi-1", "10s"].map(Value::from));
    let r = cells(
        "scheduling.k8s.io",
        "priorityclasses",
        &priority_class(),
        test_now(),
    );
    let want = [
        json!("system-node-critical"),
        json!(2000001000),
        json!(false),
        json!("<unknown>"),
        json!("PreemptLowerPriority"),
    ];
    assert_eq!(r, want);
    let cols = columns("scheduling.k8s.io", "priorityclasses");
    assert_eq!((cols[4].name, cols[4].priority), ("PreemptionPolicy", 0));
    let r = cells("policy", "poddisruptionbudgets", &pdb(), test_now());
    assert_eq!(r[1..4], [json!("50%"), json!("N/A"), json!(1)]);
    let r = cells(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        &crd(),
        test_now(),
    );
    assert_eq!(
        r,
        ["widgets.example.com", "2024-05-01T08:30:00Z"].map(Value::from)
    );
    let admission = "admissionregistration.k8s.io";
    let r = cells(
        admission,
        "mutatingwebhookconfigurations",
        &webhooks(2),
        test_now(),
    );
    assert_eq!(r[1], json!(2));
    let r = cells(
        admission,
        "validatingwebhookconfigurations",
        &webhooks(0),
        test_now(),
    );
    assert_eq!(r[1], json!(0));
}

#[test]
fn autoscaler_row() {
    let want = [
        json!("web"),
        json!("Deployment/web"),
        json!("cpu: 41%/80%, memory: <unknown>/200Mi + 1 more..."),
        json!("2"),
        json!(10),
        json!(3),
        json!("6h"),
    ];
    assert_eq!(
        cells(
            "autoscaling",
            "horizontalpodautoscalers",
            &hpa(),
            test_now()
        ),
        want
    );
}

#[test]
fn autoscaler_metric_kinds() {
    assert_eq!(targets(json!([]), json!([])), json!("<none>"));
    let external = json!([{"type": "External", "external": {"metric": {"name": "queue"},
                           "target": {"type": "AverageValue", "averageValue": "30"}}}]);
    let current = json!([{"type": "External", "external": {"current": {"averageValue": "12"}}}]);
    assert_eq!(targets(external, current), json!("12/30 (avg)"));
    let object = json!([{"type": "Object", "object": {"target": {"type": "Value", "value": "5"}}}]);
    assert_eq!(targets(object, json!([])), json!("<unknown>/5"));
    let pods = json!([{"type": "Pods", "pods": {"target": {"averageValue": "10"}}}]);
    let current = json!([{"type": "Pods", "pods": {"current": {"averageValue": "7"}}}]);
    assert_eq!(targets(pods, current), json!("7/10"));
    let container = json!([{"type": "ContainerResource", "containerResource": {"name": "cpu",
                            "container": "app", "target": {"type": "Utilization"}}}]);
    let current = json!([{"type": "ContainerResource",
                          "containerResource": {"current": {"averageUtilization": 7}}}]);
    assert_eq!(targets(container, current), json!("cpu: 7%/<auto>"));
    assert_eq!(
        targets(json!([{"type": "Weird"}]), json!([])),
        json!("<unknown type>")
    );
}
