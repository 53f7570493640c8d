//! Which pods a ReplicaSet deletes first when it scales down, in upstream's order: pods
//! that cost least to lose go first.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::shared::pod;

fn phase_rank(p: &Pod) -> u8 {
    match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => 0,
        Some("Running") => 2,
        _ => 1,
    }
}

fn restarts(p: &Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

fn node(p: &Pod) -> &str {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or_default()
}

/// Orders `a` before `b` when `a` should be deleted first: unscheduled before scheduled,
/// Pending before Unknown before Running, not Ready before Ready, pods sharing a node with
/// more of their siblings (`rank`) first, Ready for less time first, more restarts first,
/// newer first.
pub fn delete_first(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize) -> Ordering {
    let scheduled = pod::is_scheduled(a).cmp(&pod::is_scheduled(b));
    scheduled
        .then(phase_rank(a).cmp(&phase_rank(b)))
        .then(pod::is_ready(a).cmp(&pod::is_ready(b)))
        .then(rank_b.cmp(&rank_a))
        .then_with(|| match (pod::ready_since(a), pod::ready_since(b)) {
            // Ready more recently is deleted first.
            (Some(x), Some(y)) => y.cmp(&x),
            _ => Ordering::Equal,
        })
        .then(restarts(b).cmp(&restarts(a)))
        .then_with(|| {
            let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            created(b).cmp(&created(a))
        })
}

/// Sorts `pods` in deletion order; a pod's rank is the number of `related` active pods (the
/// owner's and its siblings') on the same node.
pub fn sort_for_deletion(pods: &mut [Arc<Pod>], related: &[Arc<Pod>]) {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for p in related.iter().filter(|p| pod::is_scheduled(p)) {
        *per_node.entry(node(p)).or_default() += 1;
    }
    let rank = |p: &Pod| {
        if pod::is_scheduled(p) {
            per_node.get(node(p)).copied().unwrap_or(0)
        } else {
            0
        }
    };
    pods.sort_by(|a, b| delete_first(a, rank(a), b, rank(b)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(
        name: &str,
        node: Option<&str>,
        phase: &str,
        ready_at: Option<&str>,
        created: &str,
    ) -> Arc<Pod> {
        let conditions = match ready_at {
            Some(t) => json!([{"type": "Ready", "status": "True", "lastTransitionTime": t}]),
            None => json!([{"type": "Ready", "status": "False"}]),
        };
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "creationTimestamp": created},
                "spec": {"containers": [], "nodeName": node},
                "status": {"phase": phase, "conditions": conditions}
            }))
            .unwrap(),
        )
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<String> {
        pods.iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn cheapest_pods_go_first() {
        let t = "2025-01-01T00:00:00Z";
        let later = "2025-01-01T00:05:00Z";
        let mut pods = vec![
            p("ready-old", Some("n1"), "Running", Some(t), t),
            p("unscheduled", None, "Pending", None, t),
            p("pending", Some("n1"), "Pending", None, t),
            p("running-not-ready", Some("n1"), "Running", None, t),
            p("ready-recent", Some("n1"), "Running", Some(later), t),
        ];
        let related = pods.clone();
        sort_for_deletion(&mut pods, &related);
        assert_eq!(
            names(&pods),
            [
                "unscheduled",
                "pending",
                "running-not-ready",
                "ready-recent",
                "ready-old"
            ]
        );
        // Doubled-up nodes lose pods first; then newer pods before older.
        let mut pods = vec![
            p("alone", Some("n2"), "Running", Some(t), t),
            p("crowded-old", Some("n1"), "Running", Some(t), t),
            p("crowded-new", Some("n1"), "Running", Some(t), later),
        ];
        let related = pods.clone();
        sort_for_deletion(&mut pods, &related);
        assert_eq!(names(&pods), ["crowded-new", "crowded-old", "alone"]);
    }
}
