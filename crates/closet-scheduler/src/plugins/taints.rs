//! `TaintToleration`: a node's NoSchedule and NoExecute taints keep off pods that do not
//! tolerate them. A node whose Ready condition is False or Unknown counts as carrying the
//! `not-ready` or `unreachable` taint even before anything writes it, so pods wait for a
//! working node; a node that never reported a Ready condition carries only its own taints.

use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};

use crate::framework::{Filter, NodeInfo, Snapshot, Status};

/// Taint for a node whose Ready condition is False.
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint for a node whose Ready condition is Unknown.
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// Whether `toleration` tolerates `taint`.
pub fn toleration_matches(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => key.is_empty() || key == taint.key,
        _ => {
            key == taint.key
                && toleration.value.as_deref().unwrap_or_default()
                    == taint.value.as_deref().unwrap_or_default()
        }
    }
}

/// Whether any of the pod's tolerations tolerates `taint`.
pub fn tolerates(pod: &Pod, taint: &Taint) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.tolerations.as_ref())
        .is_some_and(|ts| ts.iter().any(|t| toleration_matches(t, taint)))
}

/// The node's taints plus those its Ready condition implies.
pub fn effective_taints(node: &Node) -> Vec<Taint> {
    let mut taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.as_str());
    let implied = match ready {
        Some("False") => Some(NOT_READY),
        Some("Unknown") => Some(UNREACHABLE),
        _ => None,
    };
    if let Some(key) = implied
        && !taints.iter().any(|t| t.key == key)
    {
        taints.push(Taint {
            key: key.to_owned(),
            effect: "NoSchedule".to_owned(),
            ..Default::default()
        });
    }
    taints
}

/// The first NoSchedule or NoExecute taint of `node` that `pod` does not tolerate.
pub fn untolerated(pod: &Pod, node: &Node) -> Option<Taint> {
    effective_taints(node)
        .into_iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|t| !tolerates(pod, t))
}

/// The plugin.
pub struct TaintToleration;

impl Filter for TaintToleration {
    fn name(&self) -> &'static str {
        "TaintToleration"
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> Result<(), Status> {
        match untolerated(pod, &node.node) {
            None => Ok(()),
            Some(taint) => Err(Status::unschedulable(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                taint.key,
                taint.value.unwrap_or_default()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::test_util::pod;
    use serde_json::json;

    fn node(spec: serde_json::Value, ready: Option<&str>) -> Node {
        let conditions = ready.map(|s| json!([{"type": "Ready", "status": s}]));
        serde_json::from_value(json!({"metadata": {"name": "n"}, "spec": spec,
            "status": {"conditions": conditions}}))
        .unwrap()
    }

    #[test]
    fn untolerated_taints_keep_pods_off() {
        let tainted = node(
            json!({"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"},
            {"key": "soft", "effect": "PreferNoSchedule"}]}),
            Some("True"),
        );
        let plain = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": []}}));
        assert_eq!(untolerated(&plain, &tainted).unwrap().key, "k");
        let equal = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [],
            "tolerations": [{"key": "k", "operator": "Equal", "value": "v"}]}}));
        assert!(untolerated(&equal, &tainted).is_none());
        let wrong = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [],
            "tolerations": [{"key": "k", "value": "x", "effect": "NoSchedule"}]}}));
        assert!(untolerated(&wrong, &tainted).is_some());
        let everything = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [],
            "tolerations": [{"operator": "Exists"}]}}));
        assert!(untolerated(&everything, &tainted).is_none());
    }

    #[test]
    fn not_ready_and_unreachable_nodes_count_as_tainted() {
        let plain = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": []}}));
        assert_eq!(
            untolerated(&plain, &node(json!({}), Some("False")))
                .unwrap()
                .key,
            NOT_READY
        );
        assert_eq!(
            untolerated(&plain, &node(json!({}), Some("Unknown")))
                .unwrap()
                .key,
            UNREACHABLE
        );
        assert!(untolerated(&plain, &node(json!({}), Some("True"))).is_none());
        assert!(untolerated(&plain, &node(json!({}), None)).is_none());
        let tolerant = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [],
            "tolerations": [{"key": NOT_READY, "operator": "Exists"}]}}));
        assert!(untolerated(&tolerant, &node(json!({}), Some("False"))).is_none());
    }
}
