//! `PodTopologySpread`: `DoNotSchedule` constraints filter nodes whose domain would exceed
//! `maxSkew` over the least-loaded domain; `ScheduleAnyway` constraints score emptier
//! domains higher. Domains are the values of `topologyKey` among nodes that pass the pod's
//! node selector and required node affinity (the default `nodeAffinityPolicy: Honor`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, TopologySpreadConstraint};

use crate::framework::{Filter, MAX_SCORE, NodeInfo, Score, Snapshot, Status, is_terminal};
use crate::plugins::{namespace, node_affinity};
use crate::selectors::label_selector_matches;

/// Reason: the domain would be too full.
pub const REASON: &str = "node(s) didn't match pod topology spread constraints";
/// Reason: the node lacks the topology label.
pub const MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

fn constraints(pod: &Pod, when: &str) -> Vec<TopologySpreadConstraint> {
    crate::plugins::spec(pod)
        .topology_spread_constraints
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.when_unsatisfiable == when)
        .collect()
}

fn selects(c: &TopologySpreadConstraint, ns: &str, pod: &Pod) -> bool {
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    namespace(pod) == ns
        && pod.metadata.deletion_timestamp.is_none()
        && !is_terminal(pod)
        && c.label_selector
            .as_ref()
            .is_some_and(|s| label_selector_matches(s, &labels))
}

/// Matching pods per domain of `c`, over the nodes eligible for `pod`.
pub fn domain_counts(
    c: &TopologySpreadConstraint,
    pod: &Pod,
    snapshot: &Snapshot,
) -> BTreeMap<String, i64> {
    let ns = namespace(pod);
    let mut counts = BTreeMap::new();
    for node in &snapshot.nodes {
        let Some(domain) = node.labels().get(&c.topology_key).cloned() else {
            continue;
        };
        if !node_affinity::fits(pod, &node.node) {
            continue;
        }
        let n = node.pods.iter().filter(|p| selects(c, ns, p)).count();
        *counts.entry(domain).or_insert(0) += i64::try_from(n).unwrap_or(i64::MAX);
    }
    counts
}

/// Whether placing `pod` on `node` keeps every DoNotSchedule constraint within its skew.
pub fn fits(pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> Result<(), &'static str> {
    for c in constraints(pod, "DoNotSchedule") {
        let Some(domain) = node.labels().get(&c.topology_key).cloned() else {
            return Err(MISSING_LABEL);
        };
        let counts = domain_counts(&c, pod, snapshot);
        let min = counts.values().copied().min().unwrap_or(0);
        let own = i64::from(selects(&c, namespace(pod), pod));
        if counts.get(&domain).copied().unwrap_or(0) + own - min > i64::from(c.max_skew) {
            return Err(REASON);
        }
    }
    Ok(())
}

/// The plugin: a filter and a score.
pub struct TopologySpread;

impl Filter for TopologySpread {
    fn name(&self) -> &'static str {
        "PodTopologySpread"
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> Result<(), Status> {
        fits(pod, node, snapshot).map_err(Status::unschedulable)
    }
}

impl Score for TopologySpread {
    fn name(&self) -> &'static str {
        "PodTopologySpread"
    }

    fn score(
        &self,
        pod: &Pod,
        nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Result<Vec<i64>, Status> {
        let soft = constraints(pod, "ScheduleAnyway");
        if soft.is_empty() {
            return Ok(vec![0; nodes.len()]);
        }
        // Raw: matching pods in the node's domains (more is worse); nodes without the
        // label score lowest.
        let mut raw = vec![0i64; nodes.len()];
        for c in &soft {
            let counts = domain_counts(c, pod, snapshot);
            let worst = counts.values().copied().max().unwrap_or(0) + 1;
            for (i, n) in nodes.iter().enumerate() {
                raw[i] += n
                    .labels()
                    .get(&c.topology_key)
                    .map_or(worst, |d| counts.get(d).copied().unwrap_or(0));
            }
        }
        let (min, max) = (
            raw.iter().copied().min().unwrap_or(0),
            raw.iter().copied().max().unwrap_or(0),
        );
        if max == min {
            return Ok(vec![MAX_SCORE; nodes.len()]);
        }
        Ok(raw
            .iter()
            .map(|r| (max - r) * MAX_SCORE / (max - min))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::test_util::{node, pod};
    use serde_json::json;

    fn web(name: &str) -> Pod {
        pod(
            json!({"metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}}, "spec": {"containers": []}}),
        )
    }

    fn spread(when: &str) -> Pod {
        pod(
            json!({"metadata": {"name": "new", "namespace": "default", "labels": {"app": "web"}}, "spec": {"containers": [],
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": when,
                "labelSelector": {"matchLabels": {"app": "web"}}}]}}),
        )
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            nodes: vec![
                node(
                    json!({"metadata": {"name": "a", "labels": {"zone": "z1"}}}),
                    vec![web("w1")],
                ),
                node(
                    json!({"metadata": {"name": "b", "labels": {"zone": "z2"}}}),
                    vec![],
                ),
                node(json!({"metadata": {"name": "c"}}), vec![]),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn do_not_schedule_keeps_skew() {
        let s = snapshot();
        let p = spread("DoNotSchedule");
        assert_eq!(fits(&p, &s.nodes[0], &s), Err(REASON));
        assert!(fits(&p, &s.nodes[1], &s).is_ok());
        assert_eq!(fits(&p, &s.nodes[2], &s), Err(MISSING_LABEL));
    }

    #[test]
    fn schedule_anyway_prefers_emptier_domains() {
        let s = snapshot();
        let nodes: Vec<&NodeInfo> = s.nodes.iter().collect();
        let scores = TopologySpread
            .score(&spread("ScheduleAnyway"), &nodes, &s)
            .unwrap();
        assert!(scores[1] > scores[0] && scores[0] > scores[2], "{scores:?}");
    }
}
