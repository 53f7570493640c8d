//! The arithmetic and bookkeeping a Deployment rollout rests on: the template hash, surge
//! and unavailability bounds, revisions and the annotations that carry them.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The label that ties a ReplicaSet and its pods to one pod template.
pub const HASH_LABEL: &str = "pod-template-hash";
/// The revision of a Deployment and of each of its ReplicaSets.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions a reused ReplicaSet has had, comma separated.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's replicas when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// The Deployment's replicas plus surge when the ReplicaSet was last scaled.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// Annotations of the Deployment that are not copied to its ReplicaSets.
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// FNV-1a, 32 bits: the hash upstream names pod templates by.
pub fn fnv32a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// Upstream's `SafeEncodeString`: each byte becomes a character no word can be spelt with.
fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

/// The `pod-template-hash` of `template` (its canonical JSON, without the hash label) and
/// the Deployment's collision count: stable across restarts and releases of closet.
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut template = template.clone();
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(HASH_LABEL);
    }
    let json = serde_json::to_vec(&template).unwrap_or_default();
    let mut bytes = json;
    if let Some(c) = collision_count {
        bytes.extend_from_slice(&c.to_le_bytes());
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

/// Whether two templates are the same apart from the hash label.
pub fn equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let strip = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        if let Some(m) = t.metadata.as_mut()
            && let Some(labels) = m.labels.as_mut()
        {
            labels.remove(HASH_LABEL);
            if labels.is_empty() {
                m.labels = None;
            }
        }
        serde_json::to_value(&t).unwrap_or_default()
    };
    strip(a) == strip(b)
}

/// Resolves an int-or-percent against `total`, rounding percentages up or down.
pub fn resolve(value: Option<&IntOrString>, total: i32, round_up: bool) -> i32 {
    match value {
        None => 0,
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(s)) => {
            let Some(pct) = s
                .strip_suffix('%')
                .and_then(|p| p.trim().parse::<i64>().ok())
            else {
                return 0;
            };
            let scaled = i64::from(total) * pct;
            let value = if round_up {
                (scaled + 99).div_euclid(100)
            } else {
                scaled.div_euclid(100)
            };
            i32::try_from(value).unwrap_or(0)
        }
    }
}

/// maxSurge and maxUnavailable for `replicas` pods, as upstream's `ResolveFenceposts`:
/// surge rounds up, unavailability rounds down, and both zero means one may be unavailable.
pub fn fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    replicas: i32,
) -> (i32, i32) {
    let surge = resolve(max_surge, replicas, true);
    let unavailable = resolve(max_unavailable, replicas, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

fn rolling(d: &Deployment) -> Option<(Option<IntOrString>, Option<IntOrString>)> {
    let strategy = d.spec.as_ref()?.strategy.as_ref()?;
    if strategy.type_.as_deref() == Some("Recreate") {
        return None;
    }
    let ru = strategy.rolling_update.clone().unwrap_or_default();
    Some((ru.max_surge, ru.max_unavailable))
}

/// The Deployment's replicas (default 1).
pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// How many pods above `replicas` a rolling update may run (0 for Recreate).
pub fn max_surge(d: &Deployment) -> i32 {
    rolling(d).map_or(0, |(s, u)| {
        fenceposts(s.as_ref(), u.as_ref(), replicas(d)).0
    })
}

/// How many pods may be unavailable during a rolling update (0 for Recreate), at most
/// `replicas`.
pub fn max_unavailable(d: &Deployment) -> i32 {
    let n = replicas(d);
    match rolling(d) {
        Some((s, u)) if n > 0 => fenceposts(s.as_ref(), u.as_ref(), n).1.min(n),
        _ => 0,
    }
}

/// A ReplicaSet's `spec.replicas`.
pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

/// A ReplicaSet's `status.availableReplicas`.
pub fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

/// A ReplicaSet's annotation parsed as an integer.
pub fn int_annotation(rs: &ReplicaSet, key: &str) -> Option<i64> {
    rs.metadata.annotations.as_ref()?.get(key)?.parse().ok()
}

/// A ReplicaSet's revision (0 if it has none).
pub fn revision(rs: &ReplicaSet) -> i64 {
    int_annotation(rs, REVISION).unwrap_or(0)
}

/// The Deployment's annotations to copy onto its ReplicaSets (upstream copies all but its own
/// bookkeeping, which is how `kubernetes.io/change-cause` reaches `rollout history`).
pub fn copied_annotations(d: &Deployment) -> BTreeMap<String, String> {
    d.metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ios(v: serde_json::Value) -> IntOrString {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn percentages_round_like_upstream() {
        assert_eq!(resolve(Some(&ios(json!("25%"))), 10, true), 3);
        assert_eq!(resolve(Some(&ios(json!("25%"))), 10, false), 2);
        assert_eq!(resolve(Some(&ios(json!("25%"))), 1, true), 1);
        assert_eq!(resolve(Some(&ios(json!("25%"))), 1, false), 0);
        assert_eq!(resolve(Some(&ios(json!(2))), 10, false), 2);
        assert_eq!(resolve(Some(&ios(json!("bad"))), 10, false), 0);
        // Both zero after rounding: one may be unavailable so the rollout can move.
        assert_eq!(
            fenceposts(Some(&ios(json!(0))), Some(&ios(json!("25%"))), 3),
            (0, 1)
        );
        assert_eq!(
            fenceposts(Some(&ios(json!("25%"))), Some(&ios(json!("25%"))), 30),
            (8, 7)
        );
    }

    #[test]
    fn hash_is_stable_ignores_the_hash_label_and_changes_with_collisions() {
        let t: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}
        }))
        .unwrap();
        let h = template_hash(&t, None);
        assert_eq!(h, template_hash(&t, None));
        assert!(h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        assert!(h.len() >= 8 && h.len() <= 10, "{h}");
        let mut labelled = t.clone();
        labelled
            .metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert(HASH_LABEL.into(), h.clone());
        assert_eq!(template_hash(&labelled, None), h);
        assert!(equal_ignoring_hash(&t, &labelled));
        assert_ne!(template_hash(&t, Some(1)), h);
        let mut other = t.clone();
        other.spec.as_mut().unwrap().containers[0].image = Some("nginx:2".into());
        assert_ne!(template_hash(&other, None), h);
        assert!(!equal_ignoring_hash(&t, &other));
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
    }
}
