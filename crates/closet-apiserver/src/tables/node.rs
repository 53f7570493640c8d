//! Nodes: readiness, roles from labels, and what the node agent reports about itself.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::Value;

use super::format::{age, arr_at, at, name, obj, str_at};
use super::{AGE, Column, NAME, Printer, col, wide};

/// The node printer.
pub(super) static PRINTERS: &[Printer] = &[Printer::new("", "nodes", NODE, node_cells)];

#[rustfmt::skip]
static NODE: &[Column] = &[
    NAME,
    col("Status", "string", "Readiness of the node, and whether scheduling is disabled."),
    col("Roles", "string", "Roles from node-role.kubernetes.io labels."),
    AGE,
    col("Version", "string", "Kubelet version the node reports."),
    wide("Internal-IP", "string", "The node's first internal address."),
    wide("External-IP", "string", "The node's first external address."),
    wide("OS-Image", "string", "Operating system image the node reports."),
    wide("Kernel-Version", "string", "Kernel version the node reports."),
    wide("Container-Runtime", "string", "Container runtime and version the node reports."),
];

fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    // Only the Ready condition counts; upstream keeps the last one when several are listed.
    let ready = arr_at(node, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| str_at(c, &["type"]) == "Ready");
    let mut status = match ready {
        Some(c) if str_at(c, &["status"]) == "True" => vec!["Ready"],
        Some(_) => vec!["NotReady"],
        None => vec!["Unknown"],
    };
    if at(node, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let info = |key: &str| match str_at(node, &["status", "nodeInfo", key]) {
        "" => "<unknown>".to_string(),
        v => v.to_string(),
    };
    vec![
        name(node),
        Value::from(status.join(",")),
        Value::from(roles(node)),
        age(node, now),
        Value::from(str_at(node, &["status", "nodeInfo", "kubeletVersion"])),
        Value::from(address(node, "InternalIP")),
        Value::from(address(node, "ExternalIP")),
        Value::from(info("osImage")),
        Value::from(info("kernelVersion")),
        Value::from(info("containerRuntimeVersion")),
    ]
}

/// Roles from `node-role.kubernetes.io/<role>` label keys and the older `kubernetes.io/role`
/// label value, sorted; `<none>` without any.
fn roles(node: &Value) -> String {
    let mut roles = BTreeSet::new();
    if let Some(labels) = obj(node, &["metadata", "labels"]) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role);
                }
            } else if k == "kubernetes.io/role"
                && let Some(v) = v.as_str().filter(|v| !v.is_empty())
            {
                roles.insert(v);
            }
        }
    }
    if roles.is_empty() {
        return "<none>".to_string();
    }
    roles.into_iter().collect::<Vec<_>>().join(",")
}

/// The first node address of `kind`, or `<none>`.
fn address(node: &Value, kind: &str) -> String {
    arr_at(node, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == kind)
        .map_or_else(
            || "<none>".to_string(),
            |a| str_at(a, &["address"]).to_string(),
        )
}

#[cfg(test)]
pub(super) use tests::samples;
#[cfg(test)]
mod tests {
    use super::super::{cells, test_now};
    use serde_json::{Value, json};

    fn row(o: &Value) -> Vec<Value> {
        cells("", "nodes", o, test_now())
    }

    /// Samples for the module-wide robustness tests.
    pub(in super::super) fn samples() -> Vec<(&'static str, &'static str, Value)> {
        vec![("", "nodes", node())]
    }

    fn node() -> Value {
        json!({
            "metadata": {"name": "pi-1", "creationTimestamp": "2024-04-29T07:00:00Z",
                         "labels": {"node-role.kubernetes.io/control-plane": "",
                                    "node-role.kubernetes.io/etcd": "true",
                                    "kubernetes.io/arch": "arm64"}},
            "spec": {},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"},
                               {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "Hostname", "address": "pi-1"},
                              {"type": "InternalIP", "address": "192.168.1.10"}],
                "nodeInfo": {"kubeletVersion": "v1.35.0-closet",
                             "osImage": "Debian GNU/Linux 12",
                             "kernelVersion": "6.6.20-v8+",
                             "containerRuntimeVersion": "containerd://1.7.24"}
            }
        })
    }

    #[test]
    fn ready_node_with_roles() {
        let want = [
            "pi-1",
            "Ready",
            "control-plane,etcd",
            "2d5h",
            "v1.35.0-closet",
            "192.168.1.10",
            "<none>",
            "Debian GNU/Linux 12",
            "6.6.20-v8+",
            "containerd://1.7.24",
        ];
        assert_eq!(row(&node()), want.map(Value::from));
    }

    #[test]
    fn node_states() {
        let mut n = node();
        n["spec"]["unschedulable"] = json!(true);
        assert_eq!(row(&n)[1], json!("Ready,SchedulingDisabled"));
        n["status"]["conditions"] = json!([{"type": "Ready", "status": "Unknown"}]);
        assert_eq!(row(&n)[1], json!("NotReady,SchedulingDisabled"));
        n["spec"] = json!({});
        n["status"]["conditions"] = json!([{"type": "Ready", "status": "False"}]);
        assert_eq!(row(&n)[1], json!("NotReady"));
    }

    #[test]
    fn a_node_that_never_reported() {
        let bare = json!({"metadata": {"name": "new", "labels": {"kubernetes.io/role": "worker"}}});
        let r = row(&bare);
        assert_eq!(r[1..3], [json!("Unknown"), json!("worker")]);
        assert_eq!(r[4], json!(""));
        assert_eq!(
            r[5..],
            ["<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"].map(Value::from)
        );
        assert_eq!(row(&json!({}))[2], json!("<none>"));
    }
}
