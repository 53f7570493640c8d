//! `NodeUnschedulable`: a cordoned node (`spec.unschedulable`) takes only pods that tolerate
//! the `node.kubernetes.io/unschedulable:NoSchedule` taint.

use k8s_openapi::api::core::v1::{Node, Pod, Taint};

use crate::framework::{Filter, NodeInfo, Snapshot, Status};
use crate::plugins::taints::tolerates;

/// The reason upstream gives.
pub const REASON: &str = "node(s) were unschedulable";

/// The taint a cordon stands for.
pub const TAINT: &str = "node.kubernetes.io/unschedulable";

/// Whether `pod` may run on `node` as far as cordoning goes.
pub fn fits(pod: &Pod, node: &Node) -> bool {
    let cordoned = node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
    let taint = Taint {
        key: TAINT.to_owned(),
        effect: "NoSchedule".to_owned(),
        ..Default::default()
    };
    !cordoned || tolerates(pod, &taint)
}

/// The plugin.
pub struct NodeUnschedulable;

impl Filter for NodeUnschedulable {
    fn name(&self) -> &'static str {
        "NodeUnschedulable"
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> Result<(), Status> {
        if fits(pod, &node.node) {
            Ok(())
        } else {
            Err(Status::unschedulable(REASON))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::test_util::pod;
    use serde_json::json;

    #[test]
    fn cordoned_nodes_take_only_tolerating_pods() {
        let node: Node = serde_json::from_value(
            json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}}),
        )
        .unwrap();
        let plain = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": []}}));
        let tolerant = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [],
            "tolerations": [{"key": TAINT, "operator": "Exists", "effect": "NoSchedule"}]}}));
        assert!(!fits(&plain, &node));
        assert!(fits(&tolerant, &node));
        let open: Node = serde_json::from_value(json!({"metadata": {"name": "n"}})).unwrap();
        assert!(fits(&plain, &open));
    }
}
