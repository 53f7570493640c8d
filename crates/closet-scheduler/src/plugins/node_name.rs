//! `NodeName`: a pod that names a node (`spec.nodeName` set before scheduling is rare, but a
//! pod may also pin one through the affinity field) fits only that node.

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{Filter, NodeInfo, Snapshot, Status};

/// The reason upstream gives.
pub const REASON: &str = "node(s) didn't match the requested node name";

/// Whether `pod` may run on the node called `node`.
pub fn fits(pod: &Pod, node: &str) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_none_or(|wanted| wanted.is_empty() || wanted == node)
}

/// The plugin.
pub struct NodeName;

impl Filter for NodeName {
    fn name(&self) -> &'static str {
        "NodeName"
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> Result<(), Status> {
        if fits(pod, node.name()) {
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
    fn only_the_named_node_fits() {
        let named =
            pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [], "nodeName": "a"}}));
        assert!(fits(&named, "a"));
        assert!(!fits(&named, "b"));
        let free = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": []}}));
        assert!(fits(&free, "b"));
    }
}
