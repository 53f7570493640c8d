//! `InterPodAffinity`: required pod affinity and anti-affinity filter nodes by the pods
//! already in the same topology domain (the nodes sharing the term's `topologyKey` value),
//! existing pods' required anti-affinity keeps matching pods away from them, and preferred
//! terms score nodes by their summed weights (affinity adds, anti-affinity subtracts).
//!
//! A non-empty `namespaceSelector` is not evaluated (the scheduler keeps no namespace
//! cache): such a term looks at the listed namespaces and the pod's own.

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm};

use crate::framework::{Filter, NodeInfo, Score, Snapshot, Status, normalize};
use crate::plugins::namespace;
use crate::selectors::label_selector_matches;

/// Reason: the pod's own required affinity is not met.
pub const AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// Reason: the pod's own required anti-affinity is violated.
pub const ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// Reason: an existing pod's anti-affinity rejects the pod.
pub const EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

/// Whether `candidate` is a pod `term` (declared by a pod in `owner_ns`) selects.
pub fn term_matches(term: &PodAffinityTerm, owner_ns: &str, candidate: &Pod) -> bool {
    let ns = namespace(candidate);
    let listed = term.namespaces.as_deref().unwrap_or_default();
    let all_namespaces = term.namespace_selector.as_ref().is_some_and(|s| {
        s.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
    });
    let in_scope = all_namespaces
        || listed.iter().any(|n| n == ns)
        || ((listed.is_empty() || term.namespace_selector.is_some()) && ns == owner_ns);
    let labels = candidate.metadata.labels.clone().unwrap_or_default();
    in_scope
        && term
            .label_selector
            .as_ref()
            .is_some_and(|s| label_selector_matches(s, &labels))
}

fn same_domain(key: &str, a: &NodeInfo, b: &NodeInfo) -> bool {
    let value = a.labels().get(key).cloned();
    value.is_some() && value == b.labels().get(key).cloned()
}

/// Whether some pod in `node`'s domain for `term` matches it.
fn domain_has_match(
    term: &PodAffinityTerm,
    owner_ns: &str,
    node: &NodeInfo,
    snapshot: &Snapshot,
) -> bool {
    snapshot
        .all_pods()
        .any(|(n, p)| same_domain(&term.topology_key, n, node) && term_matches(term, owner_ns, p))
}

/// The first reason `pod` cannot run on `node`, if any.
pub fn fits(pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> Result<(), &'static str> {
    let ns = namespace(pod);
    let affinity = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.clone())
        .unwrap_or_default();
    let required = affinity
        .pod_affinity
        .and_then(|a| a.required_during_scheduling_ignored_during_execution)
        .unwrap_or_default();
    for term in &required {
        if !domain_has_match(term, ns, node, snapshot) {
            // The first pod of a group that selects itself may start anywhere.
            let anyone = snapshot.all_pods().any(|(_, p)| term_matches(term, ns, p));
            if anyone
                || !term_matches(term, ns, pod)
                || !node.labels().contains_key(&term.topology_key)
            {
                return Err(AFFINITY);
            }
        }
    }
    let anti = affinity
        .pod_anti_affinity
        .and_then(|a| a.required_during_scheduling_ignored_during_execution)
        .unwrap_or_default();
    if anti.iter().any(|t| domain_has_match(t, ns, node, snapshot)) {
        return Err(ANTI_AFFINITY);
    }
    for (other_node, other) in snapshot.all_pods() {
        let terms = other
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            });
        for term in terms.into_iter().flatten() {
            if same_domain(&term.topology_key, other_node, node)
                && term_matches(term, namespace(other), pod)
            {
                return Err(EXISTING_ANTI_AFFINITY);
            }
        }
    }
    Ok(())
}

/// Preferred weights: matched affinity terms add, matched anti-affinity terms subtract.
pub fn preference(pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> i64 {
    let ns = namespace(pod);
    let affinity = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.clone())
        .unwrap_or_default();
    let mut total = 0;
    for t in affinity
        .pod_affinity
        .and_then(|a| a.preferred_during_scheduling_ignored_during_execution)
        .unwrap_or_default()
    {
        if domain_has_match(&t.pod_affinity_term, ns, node, snapshot) {
            total += i64::from(t.weight);
        }
    }
    for t in affinity
        .pod_anti_affinity
        .and_then(|a| a.preferred_during_scheduling_ignored_during_execution)
        .unwrap_or_default()
    {
        if domain_has_match(&t.pod_affinity_term, ns, node, snapshot) {
            total -= i64::from(t.weight);
        }
    }
    total
}

/// The plugin: a filter and a score.
pub struct InterPodAffinity;

impl Filter for InterPodAffinity {
    fn name(&self) -> &'static str {
        "InterPodAffinity"
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> Result<(), Status> {
        fits(pod, node, snapshot).map_err(Status::unschedulable)
    }
}

impl Score for InterPodAffinity {
    fn name(&self) -> &'static str {
        "InterPodAffinity"
    }

    fn score(
        &self,
        pod: &Pod,
        nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Result<Vec<i64>, Status> {
        let raw: Vec<i64> = nodes.iter().map(|n| preference(pod, n, snapshot)).collect();
        let min = raw.iter().copied().min().unwrap_or(0);
        Ok(normalize(&raw.iter().map(|r| r - min).collect::<Vec<_>>()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::test_util::{node, pod};
    use serde_json::json;

    fn app(name: &str, app: &str) -> Pod {
        pod(
            json!({"metadata": {"name": name, "namespace": "default", "labels": {"app": app}}, "spec": {"containers": []}}),
        )
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            nodes: vec![
                node(
                    json!({"metadata": {"name": "a", "labels": {"kubernetes.io/hostname": "a", "zone": "z1"}}}),
                    vec![app("db-0", "db")],
                ),
                node(
                    json!({"metadata": {"name": "b", "labels": {"kubernetes.io/hostname": "b", "zone": "z1"}}}),
                    vec![],
                ),
                node(
                    json!({"metadata": {"name": "c", "labels": {"kubernetes.io/hostname": "c", "zone": "z2"}}}),
                    vec![],
                ),
            ],
            ..Default::default()
        }
    }

    fn with(kind: &str, app: &str, key: &str) -> Pod {
        pod(
            json!({"metadata": {"name": "new", "namespace": "default", "labels": {"app": "web"}}, "spec": {"containers": [],
            "affinity": {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}]}}}}),
        )
    }

    #[test]
    fn required_affinity_needs_a_matching_pod_in_the_domain() {
        let s = snapshot();
        let p = with("podAffinity", "db", "zone");
        assert!(fits(&p, &s.nodes[0], &s).is_ok());
        assert!(fits(&p, &s.nodes[1], &s).is_ok());
        assert_eq!(fits(&p, &s.nodes[2], &s), Err(AFFINITY));
        // The first pod of a self-selecting group goes anywhere.
        assert!(fits(&with("podAffinity", "web", "zone"), &s.nodes[2], &s).is_ok());
    }

    #[test]
    fn anti_affinity_both_ways() {
        let s = snapshot();
        let p = with("podAntiAffinity", "db", "kubernetes.io/hostname");
        assert_eq!(fits(&p, &s.nodes[0], &s), Err(ANTI_AFFINITY));
        assert!(fits(&p, &s.nodes[1], &s).is_ok());
        let mut s2 = snapshot();
        s2.nodes[2]
            .pods
            .push(std::sync::Arc::new(with("podAntiAffinity", "web", "zone")));
        assert_eq!(
            fits(&app("x", "web"), &s2.nodes[2], &s2),
            Err(EXISTING_ANTI_AFFINITY)
        );
        assert!(fits(&app("x", "web"), &s2.nodes[0], &s2).is_ok());
    }

    #[test]
    fn preferred_terms_score() {
        let s = snapshot();
        let p = pod(
            json!({"metadata": {"name": "new", "namespace": "default"}, "spec": {"containers": [],
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 50, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}}]}}}}),
        );
        assert_eq!(preference(&p, &s.nodes[0], &s), -50);
        assert_eq!(preference(&p, &s.nodes[2], &s), 0);
        let nodes: Vec<&NodeInfo> = s.nodes.iter().collect();
        assert_eq!(
            InterPodAffinity.score(&p, &nodes, &s).unwrap(),
            vec![0, 0, 100]
        );
    }
}
