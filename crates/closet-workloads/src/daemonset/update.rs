//! What a DaemonSet's pods need on each node: placement, removal and the update strategy.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::DaemonSetSpec;
use k8s_openapi::api::core::v1::Pod;

use super::NodeState;
use crate::deployment::util::resolve;
use crate::shared::pod;

/// Pods to create (by node name) and to delete.
#[derive(Debug, Default)]
pub struct Plan {
    /// Nodes that get a new pod.
    pub create: Vec<String>,
    /// Pods to delete.
    pub delete: Vec<Arc<Pod>>,
}

/// maxSurge and maxUnavailable of a rolling update over `desired` nodes, percentages
/// rounded up as upstream's DaemonSet does; both zero means one may be unavailable.
pub fn bounds(spec: &DaemonSetSpec, desired: i32) -> (i32, i32) {
    let ru = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.rolling_update.clone())
        .unwrap_or_default();
    let surge = resolve(ru.max_surge.as_ref(), desired, true);
    let unavailable = resolve(ru.max_unavailable.as_ref(), desired, true);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// The plan for every node (`nodes` as the cache shows them, current revision `hash`).
pub fn plan(
    spec: &DaemonSetSpec,
    nodes: &mut [NodeState],
    hash: &str,
    min_ready: i32,
    now: jiff::Timestamp,
) -> Plan {
    let mut out = Plan::default();
    let is_new = |p: &Pod| {
        p.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(super::history::HASH_LABEL))
            .map(String::as_str)
            == Some(hash)
    };
    let available = |p: &Pod| pod::is_available(p, min_ready, now);
    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        != Some("OnDelete");
    let desired = i32::try_from(
        nodes
            .iter()
            .filter(|n| n.fit.should_run || (n.fit.should_continue && !n.pods.is_empty()))
            .count(),
    )
    .unwrap_or(0);
    let (max_surge, max_unavailable) = bounds(spec, desired);
    let mut unavailable = i32::try_from(
        nodes
            .iter()
            .filter(|n| n.fit.should_run && !n.pods.iter().any(|p| available(p)))
            .count(),
    )
    .unwrap_or(0);
    let mut surging = i32::try_from(
        nodes
            .iter()
            .filter(|n| n.pods.iter().any(|p| is_new(p)) && n.pods.iter().any(|p| !is_new(p)))
            .count(),
    )
    .unwrap_or(0);
    for node in nodes.iter() {
        if !node.fit.should_continue || (!node.fit.should_run && node.pods.is_empty()) {
            out.delete.extend(node.pods.iter().cloned());
            continue;
        }
        if node.pods.is_empty() {
            out.create.push(node.name.clone());
            continue;
        }
        let (new, old): (Vec<_>, Vec<_>) = node.pods.iter().cloned().partition(|p| is_new(p));
        // Duplicates: keep the oldest of each revision.
        out.delete.extend(new.iter().skip(1).cloned());
        if !rolling {
            out.delete.extend(old.iter().skip(1).cloned());
            continue;
        }
        let Some(old_pod) = old.first() else { continue };
        out.delete.extend(old.iter().skip(1).cloned());
        match new.first() {
            // Surged: the old pod goes once the new one serves.
            Some(new_pod) => {
                if available(new_pod) || max_surge == 0 {
                    out.delete.push(old_pod.clone());
                }
            }
            None if !available(old_pod) => out.delete.push(old_pod.clone()),
            None if max_surge > 0 => {
                if surging < max_surge {
                    out.create.push(node.name.clone());
                    surging += 1;
                }
            }
            None => {
                if unavailable < max_unavailable {
                    out.delete.push(old_pod.clone());
                    unavailable += 1;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemonset::placement::Fit;
    use serde_json::json;

    fn pod(name: &str, hash: &str, ready: bool) -> Arc<Pod> {
        let status = if ready { "True" } else { "False" };
        Arc::new(serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"controller-revision-hash": hash}},
            "status": {"conditions": [{"type": "Ready", "status": status, "lastTransitionTime": "2025-01-01T00:00:00Z"}]}
        })).unwrap())
    }

    fn node(name: &str, pods: Vec<Arc<Pod>>) -> NodeState {
        NodeState {
            name: name.into(),
            fit: Fit {
                should_run: true,
                should_continue: true,
            },
            pods,
        }
    }

    fn spec(v: serde_json::Value) -> DaemonSetSpec {
        serde_json::from_value(json!({"selector": {}, "template": {}, "updateStrategy": v}))
            .unwrap()
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<String> {
        pods.iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn rolling_update_within_max_unavailable_and_with_surge() {
        let now: jiff::Timestamp = "2025-01-02T00:00:00Z".parse().unwrap();
        let mut nodes = vec![
            node("a", vec![pod("a-old", "h1", true)]),
            node("b", vec![pod("b-old", "h1", true)]),
            node("c", vec![pod("c-old", "h1", false)]),
            node("d", vec![]),
        ];
        let s = spec(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}));
        let p = plan(&s, &mut nodes, "h2", 0, now);
        // d is empty and c already unavailable (so deleting it costs nothing): no budget left.
        assert_eq!(p.create, vec!["d"]);
        assert_eq!(names(&p.delete), vec!["c-old"]);
        let s = spec(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 3}}));
        let p = plan(&s, &mut nodes, "h2", 0, now);
        assert_eq!(names(&p.delete), vec!["a-old", "c-old"]);
        // Surge: a new pod beside the old, the old deleted once the new is available.
        let s = spec(
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}),
        );
        let mut nodes = vec![
            node(
                "a",
                vec![pod("a-old", "h1", true), pod("a-new", "h2", true)],
            ),
            node("b", vec![pod("b-old", "h1", true)]),
            node("c", vec![pod("c-old", "h1", true)]),
        ];
        let p = plan(&s, &mut nodes, "h2", 0, now);
        assert_eq!(names(&p.delete), vec!["a-old"]);
        assert!(p.create.is_empty(), "surge budget is taken by node a");
        nodes[0].pods.remove(0);
        let p = plan(&s, &mut nodes, "h2", 0, now);
        assert_eq!(p.create, vec!["b"]);
        // OnDelete: nothing is replaced.
        let p = plan(&spec(json!({"type": "OnDelete"})), &mut nodes, "h2", 0, now);
        assert!(p.create.is_empty() && p.delete.is_empty());
        assert_eq!(
            bounds(
                &spec(json!({"rollingUpdate": {"maxUnavailable": "10%"}})),
                3
            ),
            (0, 1)
        );
    }
}
