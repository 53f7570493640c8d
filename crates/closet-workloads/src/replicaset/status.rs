//! A ReplicaSet's status, computed from the pods it controls.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::shared::pod;

/// The condition type reported when pods cannot be created or deleted.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// The status for `rs` given its active controlled `pods` and the error of the last attempt
/// to create or delete pods (`failure`: reason and message), at `now`.
pub fn compute(
    rs: &ReplicaSet,
    pods: &[Arc<Pod>],
    failure: Option<(&str, String)>,
    now: jiff::Timestamp,
) -> ReplicaSetStatus {
    let spec = rs.spec.clone().unwrap_or_default();
    let template_labels = spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let count = |f: &dyn Fn(&Pod) -> bool| {
        i32::try_from(pods.iter().filter(|p| f(p)).count()).unwrap_or(i32::MAX)
    };
    let fully_labeled = count(&|p| {
        let labels = p.metadata.labels.clone().unwrap_or_default();
        template_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
    });
    let old = rs.status.clone().unwrap_or_default();
    let mut conditions: Vec<ReplicaSetCondition> = old
        .conditions
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != REPLICA_FAILURE)
        .collect();
    if let Some((reason, message)) = failure {
        conditions.push(ReplicaSetCondition {
            type_: REPLICA_FAILURE.to_owned(),
            status: "True".to_owned(),
            reason: Some(reason.to_owned()),
            message: Some(message),
            last_transition_time: Some(Time(now)),
        });
    }
    ReplicaSetStatus {
        replicas: count(&|_| true),
        fully_labeled_replicas: Some(fully_labeled),
        ready_replicas: Some(count(&pod::is_ready)),
        available_replicas: Some(count(&|p| pod::is_available(p, min_ready, now))),
        terminating_replicas: old.terminating_replicas,
        observed_generation: rs.metadata.generation,
        conditions: (!conditions.is_empty()).then_some(conditions),
    }
}

/// Whether two statuses differ in anything but condition timestamps.
pub fn differs(a: &ReplicaSetStatus, b: &ReplicaSetStatus) -> bool {
    let strip = |s: &ReplicaSetStatus| {
        let mut s = s.clone();
        for c in s.conditions.iter_mut().flatten() {
            c.last_transition_time = None;
        }
        s.conditions = s.conditions.filter(|c| !c.is_empty());
        s.fully_labeled_replicas = s.fully_labeled_replicas.filter(|n| *n != 0);
        s.ready_replicas = s.ready_replicas.filter(|n| *n != 0);
        s.available_replicas = s.available_replicas.filter(|n| *n != 0);
        s
    };
    strip(a) != strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_labels_readiness_availability_and_failure() {
        let rs: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": "rs", "generation": 3},
            "spec": {"replicas": 3, "minReadySeconds": 10, "selector": {"matchLabels": {"a": "1"}},
                "template": {"metadata": {"labels": {"a": "1", "b": "2"}}}}
        }))
        .unwrap();
        let pod = |labels: serde_json::Value, ready_at: Option<&str>| {
            let conditions = ready_at
                .map(|t| json!([{"type": "Ready", "status": "True", "lastTransitionTime": t}]));
            Arc::new(
                serde_json::from_value::<Pod>(json!({
                    "metadata": {"name": "p", "labels": labels},
                    "status": {"conditions": conditions}
                }))
                .unwrap(),
            )
        };
        let pods = [
            pod(json!({"a": "1", "b": "2"}), Some("2025-01-01T00:00:00Z")),
            pod(json!({"a": "1"}), Some("2025-01-01T00:00:55Z")),
            pod(json!({"a": "1", "b": "2"}), None),
        ];
        let now: jiff::Timestamp = "2025-01-01T00:01:00Z".parse().unwrap();
        let s = compute(&rs, &pods, None, now);
        assert_eq!(s.replicas, 3);
        assert_eq!(s.fully_labeled_replicas, Some(2));
        assert_eq!(s.ready_replicas, Some(2));
        assert_eq!(s.available_replicas, Some(1));
        assert_eq!(s.observed_generation, Some(3));
        assert!(s.conditions.is_none());
        let failed = compute(&rs, &pods, Some(("FailedCreate", "quota".into())), now);
        let c = &failed.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (c.type_.as_str(), c.reason.as_deref()),
            (REPLICA_FAILURE, Some("FailedCreate"))
        );
        assert!(differs(&s, &failed));
        assert!(!differs(&s, &compute(&rs, &pods, None, now)));
    }
}
