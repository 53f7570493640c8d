//! `NodeAffinity`: `nodeSelector` and required node affinity filter nodes; preferred node
//! affinity scores them by the summed weights of the terms they match.

use k8s_openapi::api::core::v1::{Node, NodeAffinity as Affinity, Pod};

use crate::framework::{Filter, NodeInfo, Score, Snapshot, Status, normalize};
use crate::selectors::node_term_matches;

/// The reason upstream gives.
pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

fn affinity(pod: &Pod) -> Option<Affinity> {
    pod.spec.as_ref()?.affinity.as_ref()?.node_affinity.clone()
}

/// Whether `node` satisfies the pod's `nodeSelector` and required node affinity (any of the
/// required terms).
pub fn fits(pod: &Pod, node: &Node) -> bool {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let selector_ok = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_selector.as_ref())
        .is_none_or(|sel| sel.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let required =
        affinity(pod).and_then(|a| a.required_during_scheduling_ignored_during_execution);
    selector_ok
        && required.is_none_or(|r| {
            r.node_selector_terms
                .iter()
                .any(|t| node_term_matches(t, node))
        })
}

/// The summed weights of the pod's preferred terms `node` matches.
pub fn preferred_weight(pod: &Pod, node: &Node) -> i64 {
    affinity(pod)
        .and_then(|a| a.preferred_during_scheduling_ignored_during_execution)
        .unwrap_or_default()
        .iter()
        .filter(|p| node_term_matches(&p.preference, node))
        .map(|p| i64::from(p.weight))
        .sum()
}

/// The plugin: a filter and a score.
pub struct NodeAffinity;

impl Filter for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> Result<(), Status> {
        if fits(pod, &node.node) {
            Ok(())
        } else {
            Err(Status::unschedulable(REASON))
        }
    }
}

impl Score for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }

    fn score(&self, pod: &Pod, nodes: &[&NodeInfo], _: &Snapshot) -> Result<Vec<i64>, Status> {
        let raw: Vec<i64> = nodes
            .iter()
            .map(|n| preferred_weight(pod, &n.node))
            .collect();
        Ok(normalize(&raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::test_util::pod;
    use serde_json::json;

    fn node(labels: serde_json::Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": "n", "labels": labels}})).unwrap()
    }

    #[test]
    fn selectors_and_required_terms_filter() {
        let p = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [],
        "nodeSelector": {"disk": "ssd"},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]},
            {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}
        ]}}}}}));
        assert!(fits(&p, &node(json!({"disk": "ssd", "zone": "b"}))));
        assert!(fits(&p, &node(json!({"disk": "ssd", "gpu": "yes"}))));
        assert!(!fits(&p, &node(json!({"disk": "ssd", "zone": "c"}))));
        assert!(!fits(&p, &node(json!({"zone": "a"}))));
    }

    #[test]
    fn preferred_terms_add_their_weights() {
        let p = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [],
        "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
            {"weight": 5, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}
        ]}}}}));
        assert_eq!(
            preferred_weight(&p, &node(json!({"zone": "a", "disk": "ssd"}))),
            15
        );
        assert_eq!(preferred_weight(&p, &node(json!({"disk": "ssd"}))), 5);
        assert_eq!(preferred_weight(&p, &node(json!({}))), 0);
    }
}
