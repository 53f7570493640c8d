//! `OwnerSpread`: pods of one owner (a ReplicaSet, a StatefulSet, ...) prefer nodes that run
//! fewer of their siblings, so a replica set survives the loss of one node.

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{MAX_SCORE, NodeInfo, Score, Snapshot, Status};

/// The uid of the pod's controlling owner.
pub fn owner(pod: &Pod) -> Option<&str> {
    pod.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.as_str())
}

/// Scores from sibling counts per node: none scores 100, the most-loaded node 0.
pub fn scores(siblings: &[i64]) -> Vec<i64> {
    let max = siblings.iter().copied().max().unwrap_or(0);
    if max == 0 {
        return vec![MAX_SCORE; siblings.len()];
    }
    siblings
        .iter()
        .map(|s| (max - s) * MAX_SCORE / max)
        .collect()
}

/// The plugin.
pub struct OwnerSpread;

impl Score for OwnerSpread {
    fn name(&self) -> &'static str {
        "OwnerSpread"
    }

    fn score(&self, pod: &Pod, nodes: &[&NodeInfo], _: &Snapshot) -> Result<Vec<i64>, Status> {
        let Some(uid) = owner(pod) else {
            return Ok(vec![MAX_SCORE; nodes.len()]);
        };
        let counts: Vec<i64> = nodes
            .iter()
            .map(|n| {
                i64::try_from(n.pods.iter().filter(|p| owner(p) == Some(uid)).count())
                    .unwrap_or(i64::MAX)
            })
            .collect();
        Ok(scores(&counts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::test_util::{node, pod};
    use serde_json::json;

    #[test]
    fn fewer_siblings_score_higher() {
        assert_eq!(scores(&[0, 1, 2]), vec![100, 50, 0]);
        assert_eq!(scores(&[0, 0]), vec![100, 100]);
        let child = |name: &str| {
            pod(json!({"metadata": {"name": name, "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1", "controller": true}]},
            "spec": {"containers": []}}))
        };
        let s = Snapshot::default();
        let a = node(
            json!({"metadata": {"name": "a"}}),
            vec![child("x"), child("y")],
        );
        let b = node(json!({"metadata": {"name": "b"}}), vec![child("z")]);
        let c = node(json!({"metadata": {"name": "c"}}), vec![]);
        assert_eq!(
            OwnerSpread.score(&child("new"), &[&a, &b, &c], &s).unwrap(),
            vec![0, 50, 100]
        );
    }
}
