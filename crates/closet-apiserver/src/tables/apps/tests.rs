//! Workload rows, including a deployment caught mid-rollout.

use serde_json::{Value, json};

use super::super::{cells, columns, test_now};

fn row(resource: &str, o: &Value) -> Vec<Value> {
    cells("apps", resource, o, test_now())
}

/// Samples for the module-wide robustness tests.
pub(in super::super) fn samples() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("apps", "deployments", rolling_deployment()),
        ("apps", "replicasets", replicaset()),
        ("apps", "statefulsets", statefulset()),
        ("apps", "daemonsets", daemonset()),
        ("apps", "controllerrevisions", revision()),
    ]
}

fn template() -> Value {
    json!({
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"},
                                {"name": "exporter", "image": "nginx-exporter:1.1"}]}
    })
}

fn rolling_deployment() -> Value {
    json!({
        "metadata": {"name": "web", "namespace": "default",
                     "creationTimestamp": "2024-04-28T12:00:00Z"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": template()},
        "status": {"replicas": 4, "updatedReplicas": 2, "readyReplicas": 3,
                   "availableReplicas": 3, "unavailableReplicas": 1}
    })
}

fn replicaset() -> Value {
    json!({
        "metadata": {"name": "web-5d4f8", "creationTimestamp": "2024-05-01T11:58:00Z"},
        "spec": {"replicas": 2,
                 "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f8"}},
                 "template": template()},
        "status": {"replicas": 2, "readyReplicas": 1}
    })
}

fn statefulset() -> Value {
    json!({
        "metadata": {"name": "db", "creationTimestamp": "2024-05-01T09:00:00Z"},
        "spec": {"replicas": 3, "template": template()},
        "status": {"replicas": 3, "readyReplicas": 2}
    })
}

fn daemonset() -> Value {
    json!({
        "metadata": {"name": "node-exporter", "creationTimestamp": "2024-05-01T11:00:00Z"},
        "spec": {"selector": {"matchLabels": {"app": "node-exporter"}},
                 "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                       "containers": [{"name": "exp", "image": "ne:1"}]}}},
        "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                   "updatedNumberScheduled": 3, "numberAvailable": 2}
    })
}

fn revision() -> Value {
    json!({
        "metadata": {"name": "db-7c9", "creationTimestamp": "2024-05-01T11:00:00Z",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                          "name": "db", "controller": true}]},
        "revision": 2
    })
}

#[test]
fn deployment_mid_rollout() {
    let want = [
        json!("web"),
        json!("3/3"),
        json!(2),
        json!(3),
        json!("3d"),
        json!("web,exporter"),
        json!("nginx:1.27,nginx-exporter:1.1"),
        json!("app=web"),
    ];
    assert_eq!(row("deployments", &rolling_deployment()), want);
    let names: Vec<_> = columns("apps", "deployments")
        .iter()
        .map(|c| c.name)
        .collect();
    let want = [
        "Name",
        "Ready",
        "Up-to-date",
        "Available",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ];
    assert_eq!(names, want);
}

#[test]
fn deployment_selector_edge_cases() {
    let mut d = rolling_deployment();
    d["spec"]["selector"] = json!({});
    assert_eq!(row("deployments", &d)[7], json!(""));
    d["spec"]["selector"] = json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]});
    assert_eq!(row("deployments", &d)[7], json!("<invalid>"));
    // No replicas field reads as the API default of one.
    d["spec"]["replicas"] = Value::Null;
    assert_eq!(row("deployments", &d)[1], json!("3/1"));
}

#[test]
fn replicaset_and_statefulset_rows() {
    let r = row("replicasets", &replicaset());
    assert_eq!(r[1..5], [json!(2), json!(2), json!(1), json!("2m")]);
    assert_eq!(r[7], json!("app=web,pod-template-hash=5d4f8"));
    let want = [
        "db",
        "2/3",
        "3h",
        "web,exporter",
        "nginx:1.27,nginx-exporter:1.1",
    ];
    assert_eq!(row("statefulsets", &statefulset()), want.map(Value::from));
}

#[test]
fn daemonset_row() {
    let want = [
        json!("node-exporter"),
        json!(3),
        json!(3),
        json!(2),
        json!(3),
        json!(2),
        json!("kubernetes.io/os=linux"),
        json!("60m"),
        json!("exp"),
        json!("ne:1"),
        json!("app=node-exporter"),
    ];
    assert_eq!(row("daemonsets", &daemonset()), want);
}

#[test]
fn controller_revision_names_its_owner() {
    let want = [
        json!("db-7c9"),
        json!("statefulset.apps/db"),
        json!(2),
        json!("60m"),
    ];
    assert_eq!(row("controllerrevisions", &revision()), want);
    let orphan = json!({"metadata": {"name": "x"}, "revision": 1});
    assert_eq!(row("controllerrevisions", &orphan)[1], json!("<none>"));
}
