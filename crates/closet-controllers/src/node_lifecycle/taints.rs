//! Which taints a node should carry, and how long a pod tolerates them: pure functions,
//! no I/O (upstream's TaintNodesByCondition and the NoExecute taint manager's arithmetic).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, NodeCondition, Taint, Toleration};

/// The node is not ready (Ready=False).
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The node controller cannot reach the node (Ready=Unknown).
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The node is cordoned.
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// The node reports memory pressure.
pub const MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
/// The node reports disk pressure.
pub const DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
/// The node reports PID pressure.
pub const PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
/// The node's network is not configured.
pub const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

/// `NoExecute`: running pods that do not tolerate the taint are evicted.
pub const NO_EXECUTE: &str = "NoExecute";
/// `NoSchedule`: new pods that do not tolerate the taint are not placed.
pub const NO_SCHEDULE: &str = "NoSchedule";

/// Every (key, effect) pair this controller owns; taints outside this list are the user's.
const MANAGED: &[(&str, &str)] = &[
    (NOT_READY, NO_EXECUTE),
    (UNREACHABLE, NO_EXECUTE),
    (NOT_READY, NO_SCHEDULE),
    (UNREACHABLE, NO_SCHEDULE),
    (UNSCHEDULABLE, NO_SCHEDULE),
    (MEMORY_PRESSURE, NO_SCHEDULE),
    (DISK_PRESSURE, NO_SCHEDULE),
    (PID_PRESSURE, NO_SCHEDULE),
    (NETWORK_UNAVAILABLE, NO_SCHEDULE),
];

/// The status of condition `kind` on `node`, if reported.
pub fn condition_status<'a>(node: &'a Node, kind: &str) -> Option<&'a str> {
    conditions(node)
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| c.status.as_str())
}

fn conditions(node: &Node) -> &[NodeCondition] {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
}

/// The managed (key, effect) pairs `node` should carry given its conditions and spec.
pub fn wanted(node: &Node) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    match condition_status(node, "Ready") {
        Some("False") => out.extend([(NOT_READY, NO_EXECUTE), (NOT_READY, NO_SCHEDULE)]),
        Some("Unknown") => out.extend([(UNREACHABLE, NO_EXECUTE), (UNREACHABLE, NO_SCHEDULE)]),
        // Not reported yet: the grace period decides, by setting Unknown.
        _ => {}
    }
    let by_condition = [
        ("MemoryPressure", MEMORY_PRESSURE),
        ("DiskPressure", DISK_PRESSURE),
        ("PIDPressure", PID_PRESSURE),
        ("NetworkUnavailable", NETWORK_UNAVAILABLE),
    ];
    for (kind, key) in by_condition {
        if condition_status(node, kind) == Some("True") {
            out.push((key, NO_SCHEDULE));
        }
    }
    if node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
    {
        out.push((UNSCHEDULABLE, NO_SCHEDULE));
    }
    out
}

/// The taint list `node` should have: its unmanaged taints unchanged, managed taints it
/// already has kept (with their `timeAdded`), missing ones added at `now`, stale ones dropped.
/// `None` when nothing changes.
pub fn reconcile_taints(node: &Node, now: jiff::Timestamp) -> Option<Vec<Taint>> {
    let current = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let wanted = wanted(node);
    let managed = |t: &Taint| MANAGED.iter().any(|(k, e)| t.key == *k && t.effect == *e);
    let mut next: Vec<Taint> = current
        .iter()
        .filter(|t| !managed(t) || wanted.iter().any(|(k, e)| t.key == *k && t.effect == *e))
        .cloned()
        .collect();
    for (key, effect) in &wanted {
        if !next.iter().any(|t| t.key == *key && t.effect == *effect) {
            next.push(Taint {
                key: (*key).to_owned(),
                effect: (*effect).to_owned(),
                // Only NoExecute taints carry a time: tolerations count from it.
                time_added: (*effect == NO_EXECUTE)
                    .then_some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now)),
                value: None,
            });
        }
    }
    (next != current).then_some(next)
}

/// Whether `toleration` tolerates `taint` (upstream's `ToleratesTaint`).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    let operator = toleration.operator.as_deref().unwrap_or("Equal");
    if key.is_empty() {
        // An empty key with Exists tolerates everything.
        return operator == "Exists";
    }
    if key != taint.key {
        return false;
    }
    match operator {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

/// How long after the taint was added a pod with `tolerations` must go, for one NoExecute
/// taint: `Some(ZERO)` if not tolerated at all, `None` if tolerated for ever, else the
/// shortest `tolerationSeconds` among the matching tolerations (negative counts as zero).
pub fn toleration_window(tolerations: &[Toleration], taint: &Taint) -> Option<Duration> {
    let matching: Vec<&Toleration> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
    if matching.is_empty() {
        return Some(Duration::ZERO);
    }
    matching
        .iter()
        .filter_map(|t| t.toleration_seconds)
        .min()
        .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0)))
}

/// The NoExecute taints of `node`.
pub fn no_execute(node: &Node) -> Vec<Taint> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.effect == NO_EXECUTE)
        .collect()
}

#[cfg(test)]
#[path = "taints_tests.rs"]
mod tests;
